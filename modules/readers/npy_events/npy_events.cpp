#include "readers/npy_events/npy_events.hpp"

#include "nusky/error.hpp"
#include "nusky/mpi.hpp"
#include "nusky/registry.hpp"
#include "nusky/stages.hpp"

#include <cmath>
#include <initializer_list>
#include <numbers>

namespace nusky {

namespace {

constexpr double kDeg = std::numbers::pi / 180.0;

// The first of `aliases` that the array has, or "" (required: throws naming the file).
std::string find_field(const NpyArray& array, std::initializer_list<const char*> aliases, bool required)
{
    for (const char* a : aliases) {
        for (const auto& n : array.names) {
            if (n == a) return n;
        }
    }
    if (!required) return "";
    for (const char* a : aliases) {
        for (const auto& skipped : array.skipped_fields) {
            if (skipped.rfind(std::string(a) + " (", 0) == 0) (void)array.column(a);  // throws "field F ('T') is not numeric"
        }
    }
    std::string wanted, known;
    for (const char* a : aliases) wanted += (wanted.empty() ? "'" : " or '") + std::string(a) + "'";
    for (const auto& n : array.names) known += (known.empty() ? "" : ", ") + n;
    throw file_error(array.path, 0, "no field " + wanted + " (fields: " + known + ")");
}

// Rows [first, first + count) of a field (first is the row index in the file; the array may
// hold only a block of rows, starting at array.first_row), scaled and validated.
template <class Ok>
Eigen::ArrayXd take(const NpyArray& array, const std::string& field, std::int64_t first, std::int64_t count,
                    double scale, const char* requirement, Ok ok)
{
    const std::int64_t local = first - static_cast<std::int64_t>(array.first_row);
    const Eigen::ArrayXd& column = array.column(field);
    Eigen::ArrayXd out = column.segment(local, count) * scale;
    for (Eigen::Index i = 0; i < out.size(); ++i) {
        double v = out[i];
        if (!std::isfinite(v) || !ok(v)) {
            throw file_error(array.path, 0,
                             "field " + field + " index " + std::to_string(first + i) + ": value " +
                                 std::to_string(column[local + i]) + " is not " + requirement);
        }
    }
    return out;
}

}  // namespace

Events npy_to_events(const NpyArray& array, bool with_truth, std::int64_t first, std::int64_t count,
                     const NpyEventOptions& options)
{
    if (!array.structured()) {
        throw file_error(array.path, 0, "expected a structured array with fields ra, dec, sigma/angErr, logE");
    }
    if (array.shape.size() != 1) throw file_error(array.path, 0, "expected a 1-D structured array");
    const auto held_begin = static_cast<std::int64_t>(array.first_row);
    const auto held_end = held_begin + static_cast<std::int64_t>(array.count());
    if (first < held_begin || count < 0 || first + count > held_end) {
        throw file_error(array.path, 0, "rows [" + std::to_string(first) + ", " + std::to_string(first + count) +
                                            ") outside the rows [" + std::to_string(held_begin) + ", " +
                                            std::to_string(held_end) + ") read");
    }
    const double angle = options.degrees ? kDeg : 1.0;
    const std::string ra = find_field(array, {"ra"}, true);
    const std::string dec = find_field(array, {"dec"}, true);
    const std::string sigma = find_field(array, {"sigma", "angErr"}, true);
    const std::string loge = find_field(array, {"logE", "log10_energy"}, true);
    const std::string time = find_field(array, {"time", "mjd"}, false);
    auto any = [](double) { return true; };
    auto in = [](const ColumnRange& range) { return [&range](double v) { return range.contains(v); }; };
    auto positive = [](double v) { return v > 0; };
    // Angles are checked after the degrees option has converted them.
    Events e;
    e.ra = take(array, ra, first, count, angle, kRaRange.what, in(kRaRange));
    e.dec = take(array, dec, first, count, angle, kDecRange.what, in(kDecRange));
    e.sigma = take(array, sigma, first, count, angle, kSigmaRange.what, in(kSigmaRange));
    e.log10_energy = take(array, loge, first, count, 1.0, kLog10EnergyRange.what, in(kLog10EnergyRange));
    if (!time.empty()) e.mjd = take(array, time, first, count, 1.0, "finite", any);
    if (with_truth) {
        const std::string tra = find_field(array, {"trueRa", "true_ra"}, true);
        const std::string tdec = find_field(array, {"trueDec", "true_dec"}, true);
        const std::string te = find_field(array, {"trueE", "true_energy"}, true);
        const std::string ow = find_field(array, {"ow", "oneweight"}, true);
        e.true_ra = take(array, tra, first, count, angle, kRaRange.what, in(kRaRange));
        e.true_dec = take(array, tdec, first, count, angle, kDecRange.what, in(kDecRange));
        e.true_energy = take(array, te, first, count, 1.0, "a positive energy", positive);
        e.oneweight = take(array, ow, first, count, 1.0, "non-negative", [](double v) { return v >= 0; });
    }
    for (const auto& name : options.extra_columns) {
        e.extra[name] = array.column(name).segment(first - held_begin, count);  // column() names a missing field
    }
    e.compute_unit_vectors();
    return e;
}

namespace {

class NpyEventsReader : public Reader {
public:
    PathParameter<std::string> path{this, "path", "", PathKind::input_file, "a .npy file",
                                "NumPy .npy event file (1-D structured: ra, dec, sigma|angErr, logE, "
                                "optional time|mjd)"};
    PathParameter<std::string> mc_path{this, "mc_path", "", PathKind::input_file, "a .npy file",
                                   "optional MC .npy file (adds trueRa, trueDec, trueE [GeV], ow "
                                   "[GeV cm^2 sr])"};
    Parameter<std::string> angle_unit{this, "angle_unit", "rad",
                                      "unit of the angle fields in the files: rad (IceCube) or deg"};
    Parameter<double> livetime_s{this, "livetime_s", 0.0,
                                 "livetime of the data [s] (.npy files carry none; 0 = unknown)"};
    Parameter<std::vector<std::string>> extra_columns{
        this, "extra_columns", {},
        "other fields to keep as extra columns (e.g. a classifier score for the reco adapter)"};

    void validate() override
    {
        if (path().empty()) throw path.error("required: the .npy event file");
        if (angle_unit() != "rad" && angle_unit() != "deg") throw angle_unit.error("must be rad or deg");
        if (!(std::isfinite(livetime_s()) && livetime_s() >= 0.0)) throw livetime_s.error("must be >= 0 s");
    }

    // The headers, and the columns the events need (no rows are read).
    SampleHeader inspect(RunContext&) override
    {
        NpyEventOptions options;
        options.degrees = angle_unit() == "deg";
        options.extra_columns = extra_columns();
        auto check = [&](const std::string& file, bool truth) {
            NpyFile npy(file);
            npy_to_events(npy.read(0, 0), truth, 0, 0, options);  // names a missing field
        };
        check(path(), false);
        if (!mc_path().empty()) check(mc_path(), true);
        return {!mc_path().empty()};
    }

    // Every rank reads the header, then only the bytes of its own block of rows.
    EventSample read(RunContext& context) override
    {
        NpyEventOptions options;
        options.degrees = angle_unit() == "deg";
        options.extra_columns = extra_columns();
        const int rank = context.comm.rank(), size = context.comm.size();
        EventSample sample;
        auto load = [&](const std::string& file, bool truth) {
            NpyFile npy(file);  // checks the header and the file size
            const auto rows = static_cast<std::int64_t>(npy.header().count);
            Range mine = block_range(rows, rank, size);
            NpyArray block = npy.read(static_cast<std::size_t>(mine.begin), static_cast<std::size_t>(mine.size()));
            return std::pair{npy_to_events(block, truth, mine.begin, mine.size(), options), rows};
        };
        auto [data, n_data] = load(path(), false);
        sample.data = std::move(data);
        sample.description = path() + " (" + std::to_string(n_data) + " events)";
        if (!mc_path().empty()) {
            auto [mc, n_mc] = load(mc_path(), true);
            sample.mc = std::move(mc);
            sample.description += "; MC " + mc_path() + " (" + std::to_string(n_mc) + " events)";
        }
        sample.livetime_s = livetime_s();
        return sample;
    }
};

}  // namespace

NUSKY_REGISTER_MODULE(reader, NpyEventsReader, "npy_events",
                      "IceCube-style NumPy event files (csky/SkyLLH field names), optional MC file")

}  // namespace nusky

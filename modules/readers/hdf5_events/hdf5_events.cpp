#include "readers/hdf5_events/hdf5_events.hpp"

#include "nusky/error.hpp"
#include "nusky/input_file.hpp"
#include "nusky/mpi.hpp"
#include "nusky/registry.hpp"
#include "nusky/stages.hpp"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <numbers>

namespace nusky {

namespace {

Eigen::ArrayXd to_array(const std::vector<double>& v)
{
    return Eigen::Map<const Eigen::ArrayXd>(v.data(), static_cast<Eigen::Index>(v.size()));
}

// The first row that breaks `ok`, reported with the global index.
template <class Ok>
void check_values(const Eigen::ArrayXd& column, std::int64_t first_row, const std::string& file_name,
                  const std::string& dataset, const char* requirement, Ok ok)
{
    for (Eigen::Index i = 0; i < column.size(); ++i) {
        if (!std::isfinite(column[i]) || !ok(column[i])) {
            throw Error(file_name + ": dataset " + dataset + " index " + std::to_string(first_row + i) +
                        ": value " + std::to_string(column[i]) + " is not " + requirement);
        }
    }
}

}  // namespace

namespace {

// Reads this rank's block of one group without checking the values. Every HDF5 call here is
// the same on every rank (metadata operations are collective), so a rank-local problem must not
// throw in between: the values are checked by check_event_group once the file is closed.
// The rows of a group, after checking that it has every column and all of the same length
// (metadata only: the same calls on every rank).
std::int64_t event_group_rows(hid_t file, const std::string& file_name, const std::string& group, bool with_truth)
{
    const std::string ra_path = group + "/ra";
    std::int64_t n = h5_dataset_length(file, file_name, ra_path);
    std::vector<std::string> columns{"ra", "dec", "sigma", "log10_energy"};
    if (with_truth) columns.insert(columns.end(), {"true_ra", "true_dec", "true_energy", "oneweight"});
    if (h5_exists(file, group + "/mjd")) columns.push_back("mjd");
    for (const auto& c : columns) {
        std::int64_t length = h5_dataset_length(file, file_name, group + "/" + c);
        if (length != n) {
            throw Error(file_name + ": dataset " + group + "/" + c + " has " + std::to_string(length) +
                        " rows but " + ra_path + " has " + std::to_string(n));
        }
    }
    return n;
}

Events read_event_group_unchecked(hid_t file, const std::string& file_name, const std::string& group,
                                  bool with_truth, int rank, int size, std::int64_t* first_row)
{
    const std::int64_t n = event_group_rows(file, file_name, group, with_truth);
    const bool with_mjd = h5_exists(file, group + "/mjd");
    Range mine = block_range(n, rank, size);
    *first_row = mine.begin;
    // A failed read (the data part of it may be rank-local: independent I/O) is remembered and
    // thrown after the last read, so that every rank makes the same sequence of HDF5 calls.
    std::string failure;
    auto read = [&](const std::string& c) {
        try {
            return to_array(h5_read_doubles(file, file_name, group + "/" + c, mine.begin, mine.size()));
        } catch (const Error& error) {
            if (failure.empty()) failure = error.what();
            return Eigen::ArrayXd(Eigen::ArrayXd::Zero(mine.size()));
        }
    };
    Events e;
    e.ra = read("ra");
    e.dec = read("dec");
    e.sigma = read("sigma");
    e.log10_energy = read("log10_energy");
    if (with_mjd) e.mjd = read("mjd");
    if (with_truth) {
        e.true_ra = read("true_ra");
        e.true_dec = read("true_dec");
        e.true_energy = read("true_energy");
        e.oneweight = read("oneweight");
    }
    if (!failure.empty()) throw Error(failure);
    e.x.resize(e.ra.size());
    e.y.resize(e.ra.size());
    e.z.resize(e.ra.size());
    return e;
}

// Checks the values of rows [first_row, first_row + e.size()) of a group; local to the rank.
void check_event_group(const Events& e, std::int64_t first_row, const std::string& file_name,
                       const std::string& group)
{
    auto any = [](double) { return true; };
    auto in = [](const ColumnRange& range) { return [&range](double v) { return range.contains(v); }; };
    check_values(e.ra, first_row, file_name, group + "/ra", kRaRange.what, in(kRaRange));
    check_values(e.dec, first_row, file_name, group + "/dec", kDecRange.what, in(kDecRange));
    check_values(e.sigma, first_row, file_name, group + "/sigma", kSigmaRange.what, in(kSigmaRange));
    check_values(e.log10_energy, first_row, file_name, group + "/log10_energy", kLog10EnergyRange.what,
                 in(kLog10EnergyRange));
    if (e.has_mjd()) check_values(e.mjd, first_row, file_name, group + "/mjd", "finite", any);
    if (e.has_truth()) {
        check_values(e.true_ra, first_row, file_name, group + "/true_ra", kRaRange.what, in(kRaRange));
        check_values(e.true_dec, first_row, file_name, group + "/true_dec", kDecRange.what, in(kDecRange));
        check_values(e.true_energy, first_row, file_name, group + "/true_energy", "a positive energy",
                     [](double v) { return v > 0; });
        check_values(e.oneweight, first_row, file_name, group + "/oneweight", "non-negative",
                     [](double v) { return v >= 0; });
    }
}

}  // namespace

Events read_event_group(hid_t file, const std::string& file_name, const std::string& group,
                        bool with_truth, int rank, int size)
{
    std::int64_t first_row = 0;
    Events e = read_event_group_unchecked(file, file_name, group, with_truth, rank, size, &first_row);
    check_event_group(e, first_row, file_name, group);
    return e;
}

namespace {

void write_column(hid_t file, const std::string& path, const Eigen::ArrayXd& column)
{
    hsize_t dims[1] = {static_cast<hsize_t>(column.size())};
    H5Handle space(H5Screate_simple(1, dims, nullptr));
    H5Handle d(h5_check(H5Dcreate2(file, path.c_str(), H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT,
                                   H5P_DEFAULT),
                        path, "cannot create dataset"));
    h5_check(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, column.data()), path, "write");
}

void write_group(hid_t file, const std::string& group, const Events& e)
{
    H5Handle g(h5_check(H5Gcreate2(file, group.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), group, "create"));
    write_column(file, group + "/ra", e.ra);
    write_column(file, group + "/dec", e.dec);
    write_column(file, group + "/sigma", e.sigma);
    write_column(file, group + "/log10_energy", e.log10_energy);
    if (e.has_mjd()) write_column(file, group + "/mjd", e.mjd);
    if (e.has_truth()) {
        write_column(file, group + "/true_ra", e.true_ra);
        write_column(file, group + "/true_dec", e.true_dec);
        write_column(file, group + "/true_energy", e.true_energy);
        write_column(file, group + "/oneweight", e.oneweight);
    }
}

}  // namespace

void write_event_file(const std::string& path, const Events& data, const Events* mc, double livetime_s)
{
    h5_silence_errors();
    std::string tmp = path + ".tmp";
    {
        H5Handle file(h5_check(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), path,
                               "cannot create the file"));
        write_group(file, "/events", data);
        if (mc) write_group(file, "/mc", *mc);
        H5Handle root(H5Gopen2(file, "/", H5P_DEFAULT));
        h5_write_attribute(root, "livetime_s", livetime_s);
    }
    std::filesystem::rename(tmp, path);
}

namespace {

class Hdf5EventsReader : public Reader {
public:
    PathParameter<std::string> path{this, "path", "", PathKind::input_file, "an HDF5 file", "HDF5 event file in the nusky schema (/events, optional /mc)"};
    Parameter<bool> read_mc{this, "read_mc", true, "also read the /mc group when the file has one"};

    void validate() override
    {
        if (path().empty()) throw path.error("required: the HDF5 event file");
    }

    void check_file() const
    {
        namespace fs = std::filesystem;
        std::error_code ec;
        if (!fs::exists(path(), ec) && !ec) throw Error(path() + ": no such file");
        if (fs::is_directory(path(), ec)) throw Error(path() + ": is a directory, expected an HDF5 file");
        require_input_file(path(), "an HDF5 file");  // before any open: a named pipe would block it
        if (!is_hdf5_file(path())) throw Error(path() + ": not an HDF5 file");
    }

    // The file's layout: /events (and /mc) with every column, without reading the rows.
    SampleHeader inspect(RunContext&) override
    {
        check_file();
        auto file = h5_open_serial(path());
        event_group_rows(file, path(), "/events", false);
        const bool has_mc = read_mc() && h5_exists(file, "/mc");
        if (has_mc) event_group_rows(file, path(), "/mc", true);
        return {has_mc};
    }

    EventSample read(RunContext& context) override
    {
        const auto& file_name = path();
        check_file();
        EventSample sample;
        int rank = context.comm.rank(), size = context.comm.size();
        std::int64_t first_data = 0, first_mc = 0;
        {
            // Collective: every rank makes the same HDF5 calls and fails (if at all) at the same one.
            auto file = h5_open_parallel(file_name, context.comm);
            sample.data = read_event_group_unchecked(file, file_name, "/events", false, rank, size, &first_data);
            if (read_mc() && h5_exists(file, "/mc")) {
                sample.mc = read_event_group_unchecked(file, file_name, "/mc", true, rank, size, &first_mc);
            }
            H5Handle root(H5Gopen2(file, "/", H5P_DEFAULT));
            if (H5Aexists(root, "livetime_s") > 0) {
                sample.livetime_s = h5_read_double_attribute(file, file_name, "/", "livetime_s");
            }
        }  // closed on every rank before any rank-local check can throw
        // Local: a bad value in one rank's block fails that rank only (collective_step agrees).
        check_event_group(sample.data, first_data, file_name, "/events");
        if (sample.mc.size() > 0) check_event_group(sample.mc, first_mc, file_name, "/mc");
        if (!std::isfinite(sample.livetime_s) || sample.livetime_s < 0) {
            throw Error(file_name + ": attribute livetime_s = " + std::to_string(sample.livetime_s) +
                        " is not a non-negative number of seconds");
        }
        sample.description = file_name;
        return sample;
    }
};

}  // namespace

NUSKY_REGISTER_MODULE(reader, Hdf5EventsReader, "hdf5_events",
                      "events (and MC) from an HDF5 file in the nusky schema; each rank reads its block")

}  // namespace nusky

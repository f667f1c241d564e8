#include "selections/cuts/cuts.hpp"

#include "readers/icecube_public/icecube_text.hpp"

#include "nusky/error.hpp"
#include "nusky/registry.hpp"
#include "nusky/stages.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <optional>

namespace nusky {

std::vector<std::int64_t> apply_cut_ranges(Events& events, const std::vector<CutRange>& ranges)
{
    std::vector<std::int64_t> passed;
    for (const auto& range : ranges) {
        const Eigen::ArrayXd* column = nullptr;
        if (range.name == "dec") column = &events.dec;
        else if (range.name == "log10_energy") column = &events.log10_energy;
        else if (range.name == "sigma") column = &events.sigma;
        else if (range.name == "mjd") column = events.has_mjd() ? &events.mjd : nullptr;
        else throw Error("cuts: unknown quantity '" + range.name + "'");
        if (column) {
            std::vector<char> mask(static_cast<std::size_t>(events.size()));
            for (Eigen::Index i = 0; i < events.size(); ++i) {
                double v = (*column)[i];
                mask[static_cast<std::size_t>(i)] = v >= range.min && v <= range.max;
            }
            events.keep(mask);
        }
        passed.push_back(events.size());
    }
    return passed;
}

GoodRuns merge_good_runs(std::vector<std::pair<double, double>> intervals)
{
    for (const auto& [start, stop] : intervals) {
        if (!std::isfinite(start) || !std::isfinite(stop) || start > stop) {
            throw Error("good runs: bad interval [" + std::to_string(start) + ", " + std::to_string(stop) + "]");
        }
    }
    std::sort(intervals.begin(), intervals.end());
    GoodRuns runs;
    for (const auto& [start, stop] : intervals) {
        // Sorted by start, so an interval overlaps (or touches) at most the last merged one.
        if (runs.size() > 0 && start <= runs.stop.back()) {
            runs.stop.back() = std::max(runs.stop.back(), stop);
        } else {
            runs.start.push_back(start);
            runs.stop.push_back(stop);
        }
    }
    return runs;
}

GoodRuns read_good_runs(const std::vector<std::string>& uptime_files)
{
    std::vector<std::pair<double, double>> intervals;
    for (const auto& path : uptime_files) {
        const Uptime uptime = read_uptime(path);  // validates: finite, start <= stop, not empty
        for (std::size_t i = 0; i < uptime.size(); ++i) {
            auto k = static_cast<Eigen::Index>(i);
            intervals.emplace_back(uptime.mjd_start[k], uptime.mjd_stop[k]);
        }
    }
    return merge_good_runs(std::move(intervals));
}

bool in_good_run(const GoodRuns& runs, double mjd)
{
    // The last run starting at or before mjd is the only one that can hold it (runs are disjoint).
    auto after = std::upper_bound(runs.start.begin(), runs.start.end(), mjd);
    if (after == runs.start.begin()) return false;
    return mjd <= runs.stop[static_cast<std::size_t>(after - runs.start.begin()) - 1];
}

std::int64_t apply_good_runs(Events& events, const GoodRuns& runs)
{
    if (events.size() == 0) return 0;
    if (!events.has_mjd()) throw Error("good runs: the events have no times (MJD)");
    std::vector<char> mask(static_cast<std::size_t>(events.size()));
    for (Eigen::Index i = 0; i < events.size(); ++i) {
        mask[static_cast<std::size_t>(i)] = in_good_run(runs, events.mjd[i]);
    }
    events.keep(mask);
    return events.size();
}

namespace {

constexpr double deg = std::numbers::pi / 180.0;

class Cuts : public Selection {
public:
    Parameter<double> dec_min_deg{this, "dec_min_deg", -90.0, "lowest declination kept [deg]"};
    Parameter<double> dec_max_deg{this, "dec_max_deg", 90.0, "highest declination kept [deg]"};
    Parameter<double> log10e_min{this, "log10e_min", -10.0, "lowest log10(E/GeV) kept"};
    Parameter<double> log10e_max{this, "log10e_max", 20.0, "highest log10(E/GeV) kept"};
    Parameter<double> sigma_min_deg{this, "sigma_min_deg", 0.0, "smallest angular uncertainty kept [deg]"};
    Parameter<double> sigma_max_deg{this, "sigma_max_deg", 180.0, "largest angular uncertainty kept [deg]"};
    Parameter<double> mjd_min{this, "mjd_min", 0.0, "earliest event time kept [MJD]"};
    Parameter<double> mjd_max{this, "mjd_max", 1e6, "latest event time kept [MJD]"};
    PathParameter<std::vector<std::string>> good_runs{
        this, "good_runs", {}, PathKind::input_file, "a good-run list",
        "good-run lists: IceCube uptime files (MJD_start MJD_stop per line, e.g. "
        "data/ic40/uptime/IC40_exp.csv), comma separated; keeps the events whose MJD lies in a "
        "run of any of them (empty: no cut)"};

    void validate() override
    {
        if (dec_min_deg() > dec_max_deg()) throw dec_min_deg.error("is above dec_max_deg");
        if (log10e_min() > log10e_max()) throw log10e_min.error("is above log10e_max");
        if (sigma_min_deg() > sigma_max_deg()) throw sigma_min_deg.error("is above sigma_max_deg");
        if (mjd_min() > mjd_max()) throw mjd_min.error("is above mjd_max");
    }

    void inspect(RunContext&) override
    {
        if (!good_runs().empty() && !runs_) runs_ = read_good_runs(good_runs());
    }

    CutCounts apply(Events& events, RunContext&) override
    {
        const bool good_run_cut = !good_runs().empty();
        // Checked before the ranges, so that the error does not depend on what they leave on this
        // rank. MC without times is left alone: simulated events belong to no detector run.
        const bool has_times = events.has_mjd() || events.size() == 0;
        if (good_run_cut && !has_times && !events.has_truth()) {
            throw good_runs.error("the events have no times (MJD), so no good-run list can be applied");
        }
        std::vector<CutRange> ranges{{"dec", dec_min_deg() * deg, dec_max_deg() * deg},
                                     {"log10_energy", log10e_min(), log10e_max()},
                                     {"sigma", sigma_min_deg() * deg, sigma_max_deg() * deg},
                                     {"mjd", mjd_min(), mjd_max()}};
        CutCounts counts;
        for (const auto& r : ranges) counts.names.push_back(r.name);
        counts.passed = apply_cut_ranges(events, ranges);
        if (good_run_cut) {
            if (!runs_) runs_ = read_good_runs(good_runs());  // once, for data and MC
            counts.names.push_back("good_runs");
            counts.passed.push_back(has_times ? apply_good_runs(events, *runs_) : events.size());
        }
        return counts;
    }

private:
    std::optional<GoodRuns> runs_;
};

class NoSelection : public Selection {
public:
    CutCounts apply(Events& events, RunContext&) override { return {{"all"}, {events.size()}}; }
};

}  // namespace

NUSKY_REGISTER_MODULE(selection, Cuts, "cuts", "ranges on declination, log10 E, sigma and MJD; good-run lists")
NUSKY_REGISTER_MODULE(selection, NoSelection, "none", "keeps every event")

}  // namespace nusky

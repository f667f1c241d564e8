#pragma once
// Selection `cuts`: ranges on declination, log10 E, sigma and MJD, applied in that order, then
// an optional good-run list (IceCube uptime files).
#include "nusky/event.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nusky {

struct CutRange {
    std::string name;
    double min, max;
};

// Applies each range in turn; returns how many events remain after each cut.
// A range on MJD is skipped (counted as passing) when the events have no times.
std::vector<std::int64_t> apply_cut_ranges(Events& events, const std::vector<CutRange>& ranges);

// A good-run list: sorted, disjoint MJD intervals [start[i], stop[i]], edges included.
struct GoodRuns {
    std::vector<double> start, stop;
    std::size_t size() const { return start.size(); }
};

// Sorts the intervals (start, stop) and merges those that overlap or touch. Throws nusky::Error
// for an interval that is not finite or has start > stop.
GoodRuns merge_good_runs(std::vector<std::pair<double, double>> intervals);

// The union of the runs of IceCube uptime files ("MJD_start MJD_stop" per line, read_uptime);
// a bad file gives nusky::Error naming the file and line.
GoodRuns read_good_runs(const std::vector<std::string>& uptime_files);

// Whether mjd lies in a good run (binary search over the starts; NaN never does).
bool in_good_run(const GoodRuns& runs, double mjd);

// Keeps the events whose MJD lies in a good run; returns how many remain. Events without times
// are an error (unless there are none).
std::int64_t apply_good_runs(Events& events, const GoodRuns& runs);

}  // namespace nusky

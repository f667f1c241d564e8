#pragma once
// Selection `cuts`: ranges on declination, log10 E, sigma and MJD, applied in that order.
#include "nusky/event.hpp"

#include <string>
#include <vector>

namespace nusky {

struct CutRange {
    std::string name;
    double min, max;
};

// Applies each range in turn; returns how many events remain after each cut.
// A range on MJD is skipped (counted as passing) when the events have no times.
std::vector<std::int64_t> apply_cut_ranges(Events& events, const std::vector<CutRange>& ranges);

}  // namespace nusky

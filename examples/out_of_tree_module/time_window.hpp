#pragma once
// Selection `time_window`: keeps the events whose time (MJD) falls in one of a list of windows,
// for instance a flare seen by another instrument, or drops them (exclude = true), for instance a
// period of bad detector data. Events without times are refused.
#include "nusky/event.hpp"

#include <utility>
#include <vector>

namespace time_window {

// [start, stop] in MJD, inclusive.
using Window = std::pair<double, double>;

// Windows from a flat list start1, stop1, start2, stop2, ...; throws nusky::Error unless the
// list has an even length and each window has start <= stop.
std::vector<Window> windows_from_list(const std::vector<double>& mjd);

// Marks the events inside any window (1) or outside all (0).
std::vector<char> inside(const Eigen::ArrayXd& mjd, const std::vector<Window>& windows);

}  // namespace time_window

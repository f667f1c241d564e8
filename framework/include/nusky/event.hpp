#pragma once
// The canonical event, stored as a structure of arrays (one Eigen column per quantity).
// Angles in radians, energies as log10(E/GeV); MC truth only where the sample is simulated.
#include <Eigen/Core>

#include <cstdint>
#include <map>
#include <numbers>
#include <string>
#include <vector>

namespace nusky {

class Comm;

// The physical range of a canonical column, checked by the readers where the values are read,
// so that a file in the wrong unit (right ascensions in degrees read as radians, an angular
// error of hundreds of degrees) fails there, naming the column and row, instead of being fitted.
struct ColumnRange {
    double lo, hi;
    bool lo_open;      // (lo, hi] instead of [lo, hi]
    const char* what;  // for messages: "... is not <what>"
    bool contains(double v) const { return (lo_open ? v > lo : v >= lo) && v <= hi; }
};
inline constexpr ColumnRange kRaRange{0.0, 2.0 * std::numbers::pi, false, "a right ascension in [0, 2 pi] (radians)"};
inline constexpr ColumnRange kDecRange{-std::numbers::pi / 2, std::numbers::pi / 2, false,
                                       "a declination in [-pi/2, pi/2] (radians)"};
inline constexpr ColumnRange kSigmaRange{0.0, std::numbers::pi, true, "an angular error in (0, pi] (radians)"};
// 0.01 GeV to 10^13 GeV: far beyond any neutrino energy, but not a value in another unit.
inline constexpr ColumnRange kLog10EnergyRange{-2.0, 13.0, false, "a log10(E/GeV) in [-2, 13]"};

struct Events {
    Eigen::ArrayXd ra, dec, sigma, log10_energy;
    Eigen::ArrayXd x, y, z;  // unit vectors, filled by compute_unit_vectors()
    Eigen::ArrayXd mjd;      // empty when the sample has no times
    // MC truth: empty for data.
    Eigen::ArrayXd true_ra, true_dec, true_energy, oneweight;
    // Reconstruction-specific extra columns (a classifier score, ...), by name.
    std::map<std::string, Eigen::ArrayXd> extra;

    Eigen::Index size() const { return ra.size(); }
    bool has_mjd() const { return mjd.size() > 0; }
    bool has_truth() const { return oneweight.size() > 0; }

    // Allocates every column of the kinds given (truth, mjd) for n events.
    void resize(Eigen::Index n, bool with_mjd = false, bool with_truth = false);
    void compute_unit_vectors();
    // Keeps the events whose mask entry is non-zero, in order.
    void keep(const std::vector<char>& mask);
    // Appends other's events (same columns present).
    void append(const Events& other);
    // Every rank's events, concatenated in rank order, on every rank.
    Events allgather(const Comm& comm) const;
};

// A detector effective area on a grid of true log10(E/GeV) x true declination, with the
// livetime it applies to: what a reader knows of the detector where it has no MC (the public
// release's irfs/<season>_effectiveArea.csv). Replicated on every rank.
struct EffectiveAreaGrid {
    std::string name;                   // e.g. the season
    Eigen::ArrayXd log10_energy_edges;  // n_e + 1, increasing
    Eigen::ArrayXd dec_edges;           // n_dec + 1, radians, increasing
    Eigen::ArrayXXd area_cm2;           // n_e x n_dec (neutrino + antineutrino of one flavour)
    double livetime_s = 0.0;
};

// What a reader hands on: this rank's share of the data and (optionally) of the MC.
struct EventSample {
    Events data;
    Events mc;                   // empty when the analysis has no simulation
    std::vector<EffectiveAreaGrid> effective_areas;  // per season, where the reader has them
    double livetime_s = 0.0;     // the same on every rank
    std::string description;     // for logs and the results file ("IC40 from ...")
    // Effective-area tables or other reader-provided inputs travel as named files.
    std::map<std::string, std::string> attributes;
};

}  // namespace nusky

#pragma once
// The canonical event, stored as a structure of arrays (one Eigen column per quantity).
// Angles in radians, energies as log10(E/GeV); MC truth only where the sample is simulated.
#include <Eigen/Core>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace nusky {

class Comm;

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

// What a reader hands on: this rank's share of the data and (optionally) of the MC.
struct EventSample {
    Events data;
    Events mc;                   // empty when the analysis has no simulation
    double livetime_s = 0.0;     // the same on every rank
    std::string description;     // for logs and the results file ("IC40 from ...")
    // Effective-area tables or other reader-provided inputs travel as named files.
    std::map<std::string, std::string> attributes;
};

}  // namespace nusky

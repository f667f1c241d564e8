#pragma once
// The joint fit of several samples (PHYSICS.md section 10): one hypothesis (n_s, gamma), with
//   ln L(n_s, gamma) = sum_k ln L_k(n_s,k, gamma),  n_s,k = n_s Y_k(gamma) / sum_j Y_j(gamma),
// each sample with its own events, PDFs and N_k. The scaled excess of event i of sample k is
// a_i = w_k(gamma) (S_i R_i(gamma) / B_i - 1) / N_k, so TS = 2 sum_i ln(1 + n_s a_i) over all
// samples' events, fitted by PointSourceFitter::fit_scaled_excess. n_s is bounded by sum_k N_k,
// which is never below the domain's own bound min_k N_k / w_k (the w_k sum to 1).
// A joint fit of sample A with an exact copy of A gives n_s = 2 n_s,A and TS = 2 TS_A.
#include "likelihood/common/ps_fit.hpp"
#include "nusky/results.hpp"
#include "nusky/stages.hpp"

#include <functional>
#include <string>
#include <vector>

namespace nusky {

// One sample's term of a joint fit (point-like hypotheses, stacking, templates).
struct JointSampleTerm {
    std::string name;
    std::size_t n_local = 0;  // this rank's events
    double n_total = 0.0;     // N_k: the sample's events on all ranks
    // Writes S_i R_i(gamma) / B_i of this rank's events into sob[0 .. n_local).
    std::function<void(double gamma, double* sob)> sob_at_gamma;
    // Or, when set instead, the excess d_i itself (the fit uses d_i where it would use
    // S R / B - 1): a signal-subtracted template's (S_i - S~_i) R_i / B_i.
    std::function<void(double gamma, double* excess)> excess_at_gamma;
    // The sample's signal yield Y_k(gamma) (the same on every rank).
    std::function<double(double gamma)> yield;
};

struct JointFitResult {
    FitResult fit;                  // the joint TS, n_s, gamma
    std::vector<double> fraction;   // w_k = Y_k / sum Y at the fitted gamma
    std::vector<double> ts;         // each sample's part of the TS at the best fit (they sum to TS)
};

// The signal fractions w_k at gamma. Throws when no sample has a positive yield.
std::vector<double> yield_fractions(const std::vector<JointSampleTerm>& terms, double gamma);

// Collective: every sum over events goes through `reduce`. With settings.gamma_min ==
// settings.gamma_max, gamma is fixed there (samples without an energy term).
JointFitResult fit_joint(const std::vector<JointSampleTerm>& terms, const FitSettings& settings,
                         const ReduceSum& reduce);

// What every joint hypothesis reports per sample: /fit/samples/<name> with its ns, n_events,
// yield_fraction, its part of the TS, energy_term ("mc" or "none") and yield_source; returns the
// log line's per-sample part ("; a: n_s 12.3 (45.6 % of the yield)...").
std::string record_joint_samples(Results& results, const std::vector<Sample>& samples, const JointFitResult& joint,
                                 const std::vector<bool>& has_energy, const std::vector<std::string>& yield_source);

// Each sample's events, whole, on this rank (what background and signal trials scramble).
std::vector<Events> gather_samples(const std::vector<Sample>& samples, const Comm& comm);

}  // namespace nusky

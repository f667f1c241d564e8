#pragma once
// The point-source fit (docs/PHYSICS.md section 5):
//   TS(n_s, gamma) = 2 sum_i ln(1 + (n_s/N) (S_i R_i(gamma) / B_i - 1)),
// maximised over 0 <= n_s < N (safeguarded Newton on dTS/dn_s) and gamma in [gamma_min,
// gamma_max]. The gamma search (search_gamma in ps_fit.cpp) uses that S R / B is linear in gamma
// between the energy grid's points: on each segment the TS profiled over n_s is smooth, and its
// slope and curvature come from the same passes over the events as the n_s Newton steps, so a
// bracketed Newton search on the profile's slope finds the maximum in a few steps; grid points,
// where the slope jumps, are evaluated from both sides. S R / B of other shapes (a callback)
// are searched with Brent instead.
//
// Built for distributed events: each rank passes only its own events, and every sum over
// events goes through a `reduce` callback that sums a few doubles in place across ranks
// (MPI_Allreduce with MPI_SUM; reduce_nothing on one process). All branching depends only on
// reduced values, so every rank takes the same steps and returns the same result. This needs
// the reduction to give bitwise-identical sums on every rank (MPI_Allreduce normally does, but
// the standard only recommends it; MPI_Reduce + MPI_Bcast guarantees it): otherwise ranks
// could step differently and make different numbers of reduce calls.
//
// Dropped events: events with S R / B negligible (below ~1e-12 of the largest) may be left out;
// the caller gives the global N and the global number kept N', and the exact term
// (N - N') ln(1 - n_s/N) (the limit S R / B -> 0) is added once, after the reduction.
#include "likelihood/common/energy_pdf.hpp"

#include <Eigen/Core>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace nusky {

// Sums `n` doubles in place across ranks.
using ReduceSum = std::function<void(double* values, int n)>;
// The single-process reduction: leaves the values as they are.
void reduce_nothing(double* values, int n);

struct FitResult {
    double ts = 0.0;
    double ns = 0.0;
    double gamma = 0.0;
    int n_evaluations = 0;  // passes over the (local) events
};

// Global event counts: N (all events of the sample) and N' (events passed to the fit,
// summed over ranks). N - N' events are treated as S R / B = 0.
struct EventTotals {
    double n_total = 0.0;
    double n_kept = 0.0;
};

struct FitSettings {
    double ts_tolerance = 1e-8;  // Newton stops when a further step would gain less TS,
    double ns_tolerance = 1e-7;  // ... or would move n_s by less than this * max(1, n_s)
    int max_newton_steps = 100;
    double gamma_min = 1.0;
    double gamma_max = 4.0;
    double gamma_tolerance = 1e-5;  // the gamma search stops within this of the maximum
    int gamma_bits = 16;  // Brent (callback S R / B only): relative tolerance ~ 2^(1 - bits)
    int max_gamma_steps = 60;
};

// Local sums of ln L(n_s) - ln L(0) = sum_i ln(1 + n_s a_i), a_i = d_i / N, with d_i the
// per-event excess (S R / B - 1 for a point source), and its first two n_s derivatives.
// `invalid` is 1 when some argument 1 + n_s a_i is <= 0 (outside the domain), else 0;
// summed over ranks it stays > 0 when any rank has such a term.
struct LlhSums {
    double value = 0.0;
    double first = 0.0;
    double second = 0.0;
    double invalid = 0.0;
    // With a per-event gamma slope s_i = da_i/dgamma (local_slope_sums): the sums that give
    // the gamma derivatives of ln L at (n_s, gamma):
    //   d/dgamma = n_s slope_1, d2/dn_s dgamma = slope_mixed, d2/dgamma2 = -n_s^2 slope_2, with
    //   slope_1 = sum s_i / arg_i, slope_mixed = sum s_i / arg_i^2, slope_2 = sum s_i^2 / arg_i^2.
    double slope_1 = 0.0;
    double slope_mixed = 0.0;
    double slope_2 = 0.0;
    // The same for a second slope (the left side of a grid point), when given.
    double left_1 = 0.0;
    double left_mixed = 0.0;
    double left_2 = 0.0;
};
// The value (a running product, one log per call) only when with_value; derivatives always.
LlhSums local_llh_sums(const double* scaled_excess, std::size_t n, double ns, bool with_value);
// Only the gamma sums (slope_*) for the per-event slopes `slope`, and (left_*) for
// `slope_left` unless it is nullptr, at n_s.
LlhSums local_slope_sums(const double* scaled_excess, const double* slope, const double* slope_left,
                         std::size_t n, double ns);

// Events whose S R / B is factor[j] * R_{events[j]}(gamma) (events == nullptr: event j itself):
// a gamma-independent spatial S / B times the event's energy ratio. A fit may take several
// blocks (e.g. the scrambled sample plus injected signal events), all on one gamma grid.
struct FactorisedSob {
    const double* factor = nullptr;
    const Eigen::Index* events = nullptr;
    std::size_t n = 0;
    const EventEnergyRatios* ratios = nullptr;
};

// Owns the per-event workspace, so repeated fits (trials, scan pixels) do not allocate once it
// has grown to the largest local event count. Not thread-safe: one fitter per thread.
class PointSourceFitter {
public:
    // Fills sob_out[0 .. n_local) with S_i R_i(gamma) / B_i of the local events.
    using SobAtGamma = std::function<void(double gamma, double* sob_out)>;

    explicit PointSourceFitter(FitSettings settings = {});
    const FitSettings& settings() const { return settings_; }

    // n_s only, for fixed S R / B (energy at a fixed gamma, or R = 1). gamma is reported as
    // the given `gamma` (e.g. the template's spectral index).
    FitResult fit_ns(const double* sob, std::size_t n_local, const EventTotals& totals,
                     const ReduceSum& reduce, double gamma = 0.0);
    // n_s only, for TS = 2 sum_i ln(1 + (n_s/N) d_i) with a given excess d_i
    // (template fit: d_i = (S_i - S~_i) R_i / B_i). Dropped events count as d = -1.
    FitResult fit_ns_excess(const double* excess, std::size_t n_local, const EventTotals& totals,
                            const ReduceSum& reduce, double gamma = 0.0);
    // For callers that compute the scaled excess a_i = d_i / N in their own per-event pass (no
    // extra copy): fill scaled_excess_buffer(n_local)[0 .. n_local), then fit_ns_prepared with
    // the same n_local. The buffer is the fitter's workspace: valid until the next call.
    double* scaled_excess_buffer(std::size_t n_local) { return workspace(n_local); }
    FitResult fit_ns_prepared(std::size_t n_local, const EventTotals& totals, const ReduceSum& reduce,
                              double gamma = 0.0);
    // n_s and gamma in [gamma_min, gamma_max].
    FitResult fit(const SobAtGamma& sob_at_gamma, std::size_t n_local, const EventTotals& totals,
                  const ReduceSum& reduce);
    // n_s and gamma with S_i R_i(gamma) / B_i = spatial_sob_i * R_i(gamma) from a per-event table.
    FitResult fit(const Eigen::ArrayXd& spatial_sob, const EventEnergyRatios& ratios,
                  const EventTotals& totals, const ReduceSum& reduce);
    // The same on a subset of the events (see select_events_above): kept_sob holds their
    // spatial S / B, kept_events their indices into `ratios`; totals.n_kept counts them
    // (summed over ranks), the rest enter through the dropped-event term.
    FitResult fit(const Eigen::ArrayXd& kept_sob, const std::vector<Eigen::Index>& kept_events,
                  const EventEnergyRatios& ratios, const EventTotals& totals,
                  const ReduceSum& reduce);
    // The same from raw storage (no allocation: for trial and pixel loops).
    FitResult fit(const double* kept_sob, const Eigen::Index* kept_events, std::size_t n_kept,
                  const EventEnergyRatios& ratios, const EventTotals& totals,
                  const ReduceSum& reduce);
    // n_s and gamma for events in one or more blocks (local events: the blocks' n summed).
    FitResult fit(std::span<const FactorisedSob> blocks, const EventTotals& totals,
                  const ReduceSum& reduce);

    // Writes the scaled excess a_i of the local events at gamma: TS = 2 sum_i ln(1 + n_s a_i)
    // (one sample: a_i = (S_i R_i(gamma) / B_i - 1) / N).
    using ScaledExcessAtGamma = std::function<void(double gamma, double* a_out)>;
    // n_s and gamma (Brent over gamma of the TS profiled over n_s) for a caller that writes the
    // scaled excess itself, such as a joint fit of several samples (PHYSICS.md section 10) with
    // a_i = w_k(gamma) (S_i R_i / B_i - 1) / N_k. totals.n_total bounds n_s from above (the
    // domain 1 + n_s a_i > 0 bounds it too); no events are dropped (n_kept = n_total).
    FitResult fit_scaled_excess(const ScaledExcessAtGamma& scaled_excess_at_gamma, std::size_t n_local,
                                const EventTotals& totals, const ReduceSum& reduce);

private:
    // The (n_s, gamma) fit: Brent over gamma of the TS profiled over n_s.
    // check_edges: also evaluate gamma_min and gamma_max when Brent ends near one (Brent never
    // evaluates the interval's ends, where a profile rising towards an edge peaks).
    FitResult fit_profile(const ScaledExcessAtGamma& scaled_excess_at_gamma, std::size_t n_local,
                          const EventTotals& totals, const ReduceSum& reduce, bool check_edges = false);
    // Maximises over n_s with the scaled excess a_i already in work_; ns_start warm-starts.
    // `sums_at_result` (if given) receives the reduced sums at the returned n_s (dropped-event
    // terms included), with the gamma sums for `slope` (and `slope_left`) when given and
    // n_s > 0 (one more pass).
    FitResult maximise_ns(std::size_t n_local, const EventTotals& totals, const ReduceSum& reduce,
                          double ns_start, const double* slope = nullptr,
                          const double* slope_left = nullptr, LlhSums* sums_at_result = nullptr);
    double* workspace(std::size_t n_local);
    // The TS profiled over n_s at one gamma, with its one-sided slopes and curvatures (ps_fit.cpp).
    struct ProfilePoint;
    ProfilePoint profile_at(std::span<const FactorisedSob> blocks, std::size_t n_local, double gamma,
                            int node, const EventTotals& totals, const ReduceSum& reduce,
                            double ns_start, int& evaluations);
    // The bracketed Newton search over gamma, started at the grid point with the largest
    // grid_sums_ (left there by no_excess_at_any_gamma).
    FitResult search_gamma(std::span<const FactorisedSob> blocks, std::size_t n_local,
                           const EventTotals& totals, const ReduceSum& reduce);
    // True when n_s_hat = 0 at every gamma (see ps_fit.cpp); then `result` is the fit's outcome.
    // Leaves the reduced grid sums in grid_sums_.
    bool no_excess_at_any_gamma(std::span<const FactorisedSob> blocks, const EventTotals& totals,
                                const ReduceSum& reduce, FitResult& result);

    FitSettings settings_;
    std::vector<double> work_;
    std::vector<double> slope_, slope_left_;  // per-event da_i/dgamma (gamma search)
    std::vector<std::int32_t> levels_;         // per-event energy-PDF cell (gamma search)
    std::vector<double> level_sums_, grid_sums_, block_sums_;  // no_excess_at_any_gamma's workspace
};

// Dropping negligible events (PHYSICS.md section 5): collects the indices of the events with
// values[i] >= threshold into `kept_events` and their values into `kept_values` (both resized;
// reuse them across calls to avoid allocation). Returns the number kept. The threshold is the
// caller's (e.g. 1e-12 of the largest S / B over all ranks, a max-reduction); the fit then gets
// EventTotals{N, N'} with N' the global number kept.
std::size_t select_events_above(const Eigen::ArrayXd& values, double threshold,
                                std::vector<Eigen::Index>& kept_events,
                                Eigen::ArrayXd& kept_values);

// One-shot conveniences (allocate a fitter each call; use PointSourceFitter in loops).
FitResult fit_ns_only(const Eigen::ArrayXd& sob, const EventTotals& totals,
                      const ReduceSum& reduce = reduce_nothing, const FitSettings& settings = {});
FitResult fit_ns_gamma(const Eigen::ArrayXd& spatial_sob, const EventEnergyRatios& ratios,
                       const EventTotals& totals, const ReduceSum& reduce = reduce_nothing,
                       const FitSettings& settings = {});

// TS = 2 [ln L(ns) - ln L(0)] at a given n_s for fixed S R / B (with the dropped-event term).
// For tests and profile scans; the fit does not use it.
double ts_at(const Eigen::ArrayXd& sob, double ns, const EventTotals& totals,
             const ReduceSum& reduce = reduce_nothing);

}  // namespace nusky

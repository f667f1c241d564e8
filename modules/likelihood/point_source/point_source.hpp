#pragma once
// The point-source analysis on distributed events:
//  - PointSourcePdfs: background sin(dec) PDF and energy-ratio table, built once from global
//    histograms (reductions over ranks), identical on every rank;
//  - PointSourceEvents: one event set (a rank's share, or the whole replicated sample for
//    trials and scans) with its per-event constants, fitted at any source direction; the sums
//    over events go through a ReduceSum (MPI_Allreduce for shares, nothing for replicas).
#include "likelihood/common/energy_pdf.hpp"
#include "likelihood/common/ps_fit.hpp"
#include "likelihood/common/spatial_pdf.hpp"
#include "nusky/event.hpp"
#include "nusky/module.hpp"
#include "nusky/mpi.hpp"

#include <optional>
#include <vector>

namespace nusky {

struct PointSourceSettings {
    int sin_dec_bins = SinDecBackgroundPdf::default_bins;
    EnergyBinning energy_binning;
    GammaGrid gamma_grid = GammaGrid::uniform(1.0, 4.0, 0.1);
    bool use_energy = true;  // needs MC; R = 1 without it
};

// The PDF keys of every module that fits point sources (point_source, stacking): the background
// sin(dec) histogram and the energy PDFs. Declared once so that both read and check them alike.
struct PointSourcePdfParameters {
    explicit PointSourcePdfParameters(Module* owner);
    Parameter<std::int64_t> sin_dec_bins;
    Parameter<bool> use_energy;
    Parameter<std::int64_t> energy_bins;
    Parameter<std::int64_t> energy_sin_dec_bins;
    Parameter<double> log10e_min;
    Parameter<double> log10e_max;

    void validate() const;  // throws the key's error
    PointSourceSettings settings() const;
};

struct PointSourcePdfs {
    // Collective: every rank passes its own share of the data and MC.
    PointSourcePdfs(const Events& local_data, const Events& local_mc, const Comm& comm,
                    const PointSourceSettings& settings);
    SinDecBackgroundPdf background;
    std::optional<EnergyRatioTable> energy;
};

class PointSourceEvents {
public:
    // `events` must outlive this object; unit vectors computed.
    PointSourceEvents(const Events& events, const PointSourcePdfs& pdfs, double n_total);

    // Fit of (n_s, gamma) (or n_s alone without an energy term) at a source. Events whose
    // S R / B cannot reach kDropSob at any gamma are dropped (PHYSICS.md section 5), with the
    // exact (N - N') ln(1 - n_s/N) term; valid because the largest S R / B is checked to be
    // >= 1 at every gamma (a reduced flag: one extra 2-value reduction), else nothing is dropped.
    // The kept set depends only on each event, so the fit is the same on any rank count.
    FitResult fit(const UnitVector& source, const ReduceSum& reduce);
    // One background trial at a source on a replicated sample: bit-identical to
    // scramble(seed, trial) followed by fit(source, reduce_nothing), but draws right ascensions
    // only for the events that can matter at the source's declination (the candidates), so it
    // costs O(candidates). x() and y() are unspecified afterwards (scramble() sets them).
    FitResult trial(std::uint64_t seed, std::int64_t trial, const UnitVector& source);
    static constexpr double kDropSob = 1e-12;
    // Redraws every event's right ascension for background trial `trial` (RA scrambling),
    // keyed by (seed, trial, event index, sample) so results do not depend on ranks; `sample`
    // is the sample's stream in a job of several samples (0: the single-sample stream).
    void scramble(std::uint64_t seed, std::int64_t trial, std::uint64_t sample = 0);
    // S_i / B_i at a source.
    void spatial_sob(const UnitVector& source, Eigen::ArrayXd& out) const;
    bool has_energy() const { return has_energy_; }
    // Each event's energy ratio R_i(gamma) (all 1 without an energy term).
    const EventEnergyRatios& ratios() const { return ratios_; }
    // Current unit-vector components (after scramble(), the scrambled ones).
    const Eigen::ArrayXd& x() const { return x_; }
    const Eigen::ArrayXd& y() const { return y_; }

private:
    const Events& events_;
    Eigen::ArrayXd x_, y_, z_, cos_dec_;  // own copies: scrambling changes x and y
    VmfEventConstants vmf_;
    Eigen::ArrayXd background_density_;
    EventEnergyRatios ratios_;
    bool has_energy_;
    double n_total_;
    PointSourceFitter fitter_;
    Eigen::ArrayXd sob_;

    // Events that can reach kDropSob at the source's declination (cached per declination).
    void select_candidates(const UnitVector& source);
    // S / B of the candidates from positions (px, py) indexed like the candidates, then the
    // kept subset and the fit (or the no-dropping fallback).
    // Returns false (nothing fitted) when dropping is not valid: the caller fits all events.
    bool fit_candidates(const double* px, const double* py, const UnitVector& source,
                        const ReduceSum& reduce, FitResult& result);
    FitResult fit_all(const UnitVector& source, const ReduceSum& reduce);
    Eigen::ArrayXd kappa_, norm_over_b_, r_min_, r_max_, log_reach_;
    double candidates_z_ = 2.0;  // sin(dec) the candidates were selected for (2: none yet)
    std::vector<Eigen::Index> candidates_;
    // Per candidate (same order): kappa, sin dec, cos dec, vMF normalisation, B, min and max R.
    Eigen::ArrayXd cand_kappa_, cand_z_, cand_cos_dec_, cand_norm_, cand_background_, cand_r_min_, cand_r_max_;
    Eigen::ArrayXd cand_x_, cand_y_;        // trial(): candidates' scrambled positions
    std::vector<double> draws_;             // a trial's uniform draws (scramble, dense trial())
    Eigen::ArrayXd exponent_;               // per candidate: vMF exponent, then its exp
    std::vector<Eigen::Index> kept_;
    Eigen::ArrayXd kept_sob_;
};

}  // namespace nusky

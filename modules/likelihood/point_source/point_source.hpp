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
#include "nusky/mpi.hpp"

#include <optional>

namespace nusky {

struct PointSourceSettings {
    int sin_dec_bins = SinDecBackgroundPdf::default_bins;
    EnergyBinning energy_binning;
    GammaGrid gamma_grid = GammaGrid::uniform(1.0, 4.0, 0.1);
    bool use_energy = true;  // needs MC; R = 1 without it
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

    // Fit of (n_s, gamma) (or n_s alone without an energy term) at a source.
    FitResult fit(const UnitVector& source, const ReduceSum& reduce);
    // Redraws every event's right ascension for background trial `trial` (RA scrambling),
    // keyed by (seed, trial, event index + first_index) so results do not depend on ranks.
    void scramble(std::uint64_t seed, std::int64_t trial);
    // S_i / B_i at a source.
    void spatial_sob(const UnitVector& source, Eigen::ArrayXd& out) const;
    bool has_energy() const { return has_energy_; }

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
};

}  // namespace nusky

#pragma once
// The point-source model on distributed events: background PDF and energy-ratio table built
// from global histograms (reductions), then fits of (n_s, gamma) at any source direction with
// the sums over events sharded across ranks.
#include "likelihood/common/energy_pdf.hpp"
#include "likelihood/common/ps_fit.hpp"
#include "likelihood/common/spatial_pdf.hpp"
#include "nusky/event.hpp"
#include "nusky/mpi.hpp"

#include <memory>
#include <optional>

namespace nusky {

struct PointSourceSettings {
    int sin_dec_bins = SinDecBackgroundPdf::default_bins;
    EnergyBinning energy_binning;
    GammaGrid gamma_grid = GammaGrid::uniform(1.0, 4.0, 0.1);
    bool use_energy = true;  // needs MC; R = 1 without it
};

class PointSourceModel {
public:
    // Collective: every rank passes its own events (unit vectors computed) and MC.
    PointSourceModel(const Events& local_data, const Events& local_mc, const Comm& comm,
                     const PointSourceSettings& settings);

    bool has_energy() const { return energy_table_.has_value(); }
    const SinDecBackgroundPdf& background() const { return background_; }
    std::int64_t n_total() const { return n_total_; }

    // Collective fit of (n_s, gamma) at a source over the local events (every rank calls).
    FitResult fit(const UnitVector& source, const Comm& comm);
    // S_i / B_i of the local events for a source.
    void spatial_sob(const UnitVector& source, Eigen::ArrayXd& out) const;

private:
    const Events& data_;
    SinDecBackgroundPdf background_;
    std::optional<EnergyRatioTable> energy_table_;
    EventEnergyRatios event_ratios_;
    VmfEventConstants vmf_;
    Eigen::ArrayXd background_density_;
    std::int64_t n_total_ = 0;
    PointSourceFitter fitter_;
    Eigen::ArrayXd sob_;
};

}  // namespace nusky

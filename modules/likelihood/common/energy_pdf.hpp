#pragma once
// Energy term of the point-source likelihood (docs/PHYSICS.md section 4):
// R(sin dec, log10 E; gamma) = f_S / f_B from 2-D histograms in (sin dec, log10 E), each
// sin-dec column normalised to a density in log10 E; f_B from data, f_S from MC weighted by
// OW * E_nu^-gamma on a grid of gamma, interpolated linearly in gamma.
// Histogram filling is local (per rank); the caller sums the counts across ranks and builds
// the table from the global counts, so every rank holds the identical table.
#include <Eigen/Core>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nusky {

// Equal bins: sin dec on [-1, 1], log10(E/GeV) on [log_energy_min, log_energy_max].
struct EnergyBinning {
    int n_sin_dec = 20;
    int n_log_energy = 30;
    double log_energy_min = 2.0;
    double log_energy_max = 7.0;

    int n_cells() const { return n_sin_dec * n_log_energy; }
    // Throws nusky::Error on non-positive bin counts or an empty log-energy range.
    void validate() const;
    // Flat index sin_dec_bin * n_log_energy + log_energy_bin (a column is contiguous).
    // sin dec outside [-1, 1] or NaN is an error; log10 E beyond the range is put in the
    // edge bin, so every event gets a finite R.
    int cell(double sin_dec, double log10_energy) const;
};

// Equally spaced spectral indices first, first + step, ..., (size points).
struct GammaGrid {
    double first = 1.0;
    double step = 0.1;
    int size = 31;

    // Grid from min to max inclusive (max - min must be a multiple of step to 1e-9).
    static GammaGrid uniform(double min, double max, double step);
    // One point, for templates with a fixed spectrum.
    static GammaGrid single(double gamma) { return {gamma, 1.0, 1}; }

    double value(int k) const { return first + step * k; }
    double last() const { return value(size - 1); }
    // Segment k and weight t so that value = (1 - t) grid[k] + t grid[k + 1]; gamma is clamped
    // to the grid. For a one-point grid k = 0, t = 0.
    void locate(double gamma, int& k, double& t) const;
};

// Adds data events to per-cell counts (counts.size() == binning.n_cells()).
void fill_energy_data_counts(const EnergyBinning& binning, const Eigen::ArrayXd& sin_dec,
                             const Eigen::ArrayXd& log10_energy, std::vector<double>& counts);

// Adds MC events, weighted by oneweight * true_energy^-gamma for each grid gamma, to
// counts laid out as counts[k * n_cells + cell] (counts.size() == grid.size * n_cells).
// sin_dec and log10_energy are the reconstructed values; true_energy is E_nu in GeV.
void fill_energy_mc_counts(const EnergyBinning& binning, const GammaGrid& grid,
                           const Eigen::ArrayXd& sin_dec, const Eigen::ArrayXd& log10_energy,
                           const Eigen::ArrayXd& true_energy, const Eigen::ArrayXd& oneweight,
                           std::vector<double>& counts);

// R_i at every grid gamma for a fixed event set, so a fit only interpolates.
// Stored as a small table of distinct rows ("levels": the energy-PDF cells, 600 x 31 doubles,
// cache-resident) plus one level index per event, instead of an events x grid table (15 MB for
// 60k events, 273 MB for 1.1 M): the fit's per-gamma passes then stream 4 bytes per event and
// gather R from L1. Values are the same doubles either way.
class EventEnergyRatios {
public:
    EventEnergyRatios() = default;
    // table(i, k) = R_i(grid[k]): every event its own level.
    EventEnergyRatios(GammaGrid grid, Eigen::ArrayXXd table);
    // levels(l, k) = R of level l at grid[k]; event i has level level_of_event[i].
    EventEnergyRatios(GammaGrid grid, Eigen::ArrayXXd levels, std::vector<std::int32_t> level_of_event);
    // R = 1 for every event (spatial-only analyses).
    static EventEnergyRatios unity(Eigen::Index n_events);

    Eigen::Index n_events() const { return static_cast<Eigen::Index>(level_.size()); }
    const GammaGrid& grid() const { return grid_; }
    // R_i(grid[k]).
    double ratio(Eigen::Index i, int k) const { return levels_(level_[static_cast<std::size_t>(i)], k); }
    // The events x grid table, materialised (allocates n_events x grid size: tests, setup).
    Eigen::ArrayXXd table() const;
    // R_i(grid[k]) for every event.
    Eigen::ArrayXd column(int k) const;
    // Smallest and largest R_i over the grid, per event.
    Eigen::ArrayXd row_min() const;
    Eigen::ArrayXd row_max() const;

    // R_i(gamma) by linear interpolation in gamma (clamped to the grid).
    void ratios(double gamma, Eigen::ArrayXd& out) const;
    // dR_i/dgamma of the piecewise-linear interpolant (0 outside the grid or on a 1-point grid;
    // at a grid point, the slope of the segment to its right, except at the last point).
    void ratio_derivatives(double gamma, Eigen::ArrayXd& out) const;
    // out[i] = factor[i] * R_i(gamma) for i < n_events(): the per-event S R / B of a fit,
    // written to raw storage so the fit's workspace is reused without allocation.
    void multiply(double gamma, const double* factor, double* out) const;
    // out[j] = factor[j] * R_{events[j]}(gamma) for j < n: the same for a subset of the events
    // (those kept after dropping negligible S / B), factor already compacted to the subset.
    void multiply(double gamma, const double* factor, const Eigen::Index* events, std::size_t n,
                  double* out) const;

    // The fit's per-event scaled excess in one pass: out[i] = (factor[i] R_i(gamma) - 1) * inv_n,
    // bit-identical to multiply() followed by (x - 1) * inv_n (the fit's a_i = (S R / B - 1) / N).
    void scaled_excess(double gamma, const double* factor, double inv_n, double* out) const;
    // The same for a subset (events[j], factor compacted to the subset).
    void scaled_excess(double gamma, const double* factor, const Eigen::Index* events,
                       std::size_t n, double inv_n, double* out) const;

    // The level of each listed event: out[j] = level of events[j] (events == nullptr: of j).
    // Throws when an index is outside the table.
    void levels_of(const Eigen::Index* events, std::size_t n, std::int32_t* out) const;
    // The gamma search's per-event pass (ps_fit), for events given by their levels: on grid
    // segment k (grid[k] .. grid[k + 1]) at weight t, a_out[j] = (factor[j] R_j - 1) * inv_n
    // exactly as scaled_excess() computes it at that gamma, and its gamma derivatives on
    // segments slope_segment (slope_out) and left_segment (slope_left_out, if not nullptr):
    // factor[j] (R_j(grid[s + 1]) - R_j(grid[s])) / step * inv_n, 0 for a segment < 0 (gamma
    // clamped beyond the grid, or a one-point grid).
    void excess_on_segment(int k, double t, int slope_segment, int left_segment, const double* factor,
                           const std::int32_t* levels, std::size_t n, double inv_n, double* a_out,
                           double* slope_out, double* slope_left_out) const;

    // sums[k] = sum_j factor[j] R_{events[j]}(grid[k]) for every grid point k (events == nullptr:
    // j itself, n == n_events()), summed per level first: one pass over the events plus a
    // levels x grid product. `scratch` is resized to the level count (reuse it: no allocation).
    // The order of addition differs from a per-event sum: callers compare with a margin.
    void grid_sums(const double* factor, const Eigen::Index* events, std::size_t n,
                   std::vector<double>& scratch, double* sums) const;

private:
    GammaGrid grid_{GammaGrid::single(2.0)};
    Eigen::ArrayXXd levels_;            // (level, grid point); a column is one gamma
    std::vector<std::int32_t> level_;   // per event
};

class EnergyRatioTable {
public:
    // data_counts: global per-cell data counts; mc_counts: global weighted MC, layout as in
    // fill_energy_mc_counts. Empty-bin rules, per column and grid gamma:
    //   f_S > 0, f_B > 0: R = f_S / f_B
    //   f_S > 0, f_B = 0: R = f_S / (smallest non-zero f_B of the column)
    //   f_S = 0, f_B = 0: R = 1
    //   f_S = 0, f_B > 0: R = 0 (no signal expected there)
    //   a column with no data or no MC at all: R = 1 (no energy information in that band).
    EnergyRatioTable(EnergyBinning binning, GammaGrid grid, const std::vector<double>& data_counts,
                     const std::vector<double>& mc_counts);

    const EnergyBinning& binning() const { return binning_; }
    const GammaGrid& grid() const { return grid_; }

    // R at grid point k for a cell.
    double ratio_at_grid(int k, int cell) const { return ratio_[k * binning_.n_cells() + cell]; }
    // R(sin dec, log10 E, gamma), linear in gamma between grid points (clamped to the grid).
    double ratio(double sin_dec, double log10_energy, double gamma) const;
    // dR/dgamma of that piecewise-linear interpolant (conventions as in EventEnergyRatios).
    double ratio_derivative(double sin_dec, double log10_energy, double gamma) const;

    // Per-event table of R at every grid gamma, for a fixed event set.
    EventEnergyRatios event_ratios(const Eigen::ArrayXd& sin_dec,
                                   const Eigen::ArrayXd& log10_energy) const;

private:
    EnergyBinning binning_;
    GammaGrid grid_;
    std::vector<double> ratio_;  // [k * n_cells + cell]
};

}  // namespace nusky

#include "likelihood/common/energy_pdf.hpp"

#include "nusky/error.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace nusky {

void EnergyBinning::validate() const
{
    if (n_sin_dec < 1 || n_log_energy < 1)
        throw Error("energy PDF: bin counts must be positive (sin dec " +
                    std::to_string(n_sin_dec) + ", log10 E " + std::to_string(n_log_energy) + ")");
    if (!(log_energy_max > log_energy_min) || !std::isfinite(log_energy_min) ||
        !std::isfinite(log_energy_max))
        throw Error("energy PDF: log10 E range must be finite with max > min");
}

int EnergyBinning::cell(double sin_dec, double log10_energy) const
{
    if (!(sin_dec >= -1.0 && sin_dec <= 1.0))
        throw Error("energy PDF: sin(dec) outside [-1, 1]: " + std::to_string(sin_dec));
    if (std::isnan(log10_energy)) throw Error("energy PDF: log10 E is NaN");
    int s = static_cast<int>((sin_dec + 1.0) * 0.5 * n_sin_dec);
    s = std::min(s, n_sin_dec - 1);
    const double u =
        (log10_energy - log_energy_min) / (log_energy_max - log_energy_min) * n_log_energy;
    // Clamp in double before converting: out-of-range energies go to the edge bins.
    const int e = static_cast<int>(std::clamp(u, 0.0, static_cast<double>(n_log_energy - 1)));
    return s * n_log_energy + e;
}

GammaGrid GammaGrid::uniform(double min, double max, double step)
{
    if (!(step > 0.0) || !(max >= min) || !std::isfinite(min) || !std::isfinite(max))
        throw Error("gamma grid: need finite min <= max and step > 0");
    const double n = (max - min) / step;
    const double rounded = std::round(n);
    if (std::abs(n - rounded) > 1e-9 * std::max(1.0, n))
        throw Error("gamma grid: (max - min) is not a multiple of the step");
    return {min, step, static_cast<int>(rounded) + 1};
}

void GammaGrid::locate(double gamma, int& k, double& t) const
{
    if (size <= 1) {
        k = 0;
        t = 0.0;
        return;
    }
    const double u = std::clamp((gamma - first) / step, 0.0, static_cast<double>(size - 1));
    k = std::min(static_cast<int>(u), size - 2);
    t = u - k;
}

namespace {

void require_same_length(Eigen::Index n, Eigen::Index m, const char* what)
{
    if (n != m) throw Error(std::string("energy PDF: ") + what + " arrays have different lengths");
}

// Slope of the interpolant in segment k, zero where gamma is clamped.
bool on_slope(const GammaGrid& grid, double gamma)
{
    return grid.size > 1 && gamma >= grid.first && gamma <= grid.last();
}

}  // namespace

void fill_energy_data_counts(const EnergyBinning& binning, const Eigen::ArrayXd& sin_dec,
                             const Eigen::ArrayXd& log10_energy, std::vector<double>& counts)
{
    binning.validate();
    require_same_length(sin_dec.size(), log10_energy.size(), "data");
    if (counts.size() != static_cast<std::size_t>(binning.n_cells()))
        throw Error("energy PDF: data counts have the wrong size");
    for (Eigen::Index i = 0; i < sin_dec.size(); ++i)
        counts[binning.cell(sin_dec[i], log10_energy[i])] += 1.0;
}

void fill_energy_mc_counts(const EnergyBinning& binning, const GammaGrid& grid,
                           const Eigen::ArrayXd& sin_dec, const Eigen::ArrayXd& log10_energy,
                           const Eigen::ArrayXd& true_energy, const Eigen::ArrayXd& oneweight,
                           std::vector<double>& counts)
{
    binning.validate();
    const Eigen::Index n = sin_dec.size();
    require_same_length(n, log10_energy.size(), "MC");
    require_same_length(n, true_energy.size(), "MC");
    require_same_length(n, oneweight.size(), "MC");
    const int n_cells = binning.n_cells();
    if (counts.size() != static_cast<std::size_t>(grid.size) * n_cells)
        throw Error("energy PDF: MC counts have the wrong size");
    for (Eigen::Index i = 0; i < n; ++i) {
        if (!(true_energy[i] > 0.0) || !(oneweight[i] >= 0.0))
            throw Error("energy PDF: MC event " + std::to_string(i) +
                        " has non-positive true energy or negative oneweight");
        const int c = binning.cell(sin_dec[i], log10_energy[i]);
        const double log_e = std::log(true_energy[i]);
        // E^-gamma on the grid as exp(-gamma ln E): one log per event, one exp per grid point.
        for (int k = 0; k < grid.size; ++k)
            counts[static_cast<std::size_t>(k) * n_cells + c] +=
                oneweight[i] * std::exp(-grid.value(k) * log_e);
    }
}

EventEnergyRatios::EventEnergyRatios(GammaGrid grid, Eigen::ArrayXXd table)
    : grid_(grid), levels_(std::move(table)), level_(static_cast<std::size_t>(levels_.rows()))
{
    if (levels_.cols() != grid_.size)
        throw Error("energy ratios: table has " + std::to_string(levels_.cols()) +
                    " columns for a gamma grid of " + std::to_string(grid_.size));
    if (levels_.rows() > std::numeric_limits<std::int32_t>::max())
        throw Error("energy ratios: too many events");
    for (std::size_t i = 0; i < level_.size(); ++i) level_[i] = static_cast<std::int32_t>(i);
}

EventEnergyRatios::EventEnergyRatios(GammaGrid grid, Eigen::ArrayXXd levels,
                                     std::vector<std::int32_t> level_of_event)
    : grid_(grid), levels_(std::move(levels)), level_(std::move(level_of_event))
{
    if (levels_.cols() != grid_.size)
        throw Error("energy ratios: table has " + std::to_string(levels_.cols()) +
                    " columns for a gamma grid of " + std::to_string(grid_.size));
    for (std::int32_t l : level_)
        if (l < 0 || l >= levels_.rows()) throw Error("energy ratios: level index out of range");
}

EventEnergyRatios EventEnergyRatios::unity(Eigen::Index n_events)
{
    return EventEnergyRatios(GammaGrid::single(2.0), Eigen::ArrayXXd::Ones(1, 1),
                             std::vector<std::int32_t>(static_cast<std::size_t>(n_events), 0));
}

Eigen::ArrayXXd EventEnergyRatios::table() const
{
    Eigen::ArrayXXd out(n_events(), grid_.size);
    for (int k = 0; k < grid_.size; ++k) out.col(k) = column(k);
    return out;
}

Eigen::ArrayXd EventEnergyRatios::column(int k) const
{
    Eigen::ArrayXd out(n_events());
    for (Eigen::Index i = 0; i < n_events(); ++i) out[i] = ratio(i, k);
    return out;
}

Eigen::ArrayXd EventEnergyRatios::row_min() const
{
    const Eigen::ArrayXd per_level = levels_.rowwise().minCoeff();
    Eigen::ArrayXd out(n_events());
    for (Eigen::Index i = 0; i < n_events(); ++i) out[i] = per_level[level_[static_cast<std::size_t>(i)]];
    return out;
}

Eigen::ArrayXd EventEnergyRatios::row_max() const
{
    const Eigen::ArrayXd per_level = levels_.rowwise().maxCoeff();
    Eigen::ArrayXd out(n_events());
    for (Eigen::Index i = 0; i < n_events(); ++i) out[i] = per_level[level_[static_cast<std::size_t>(i)]];
    return out;
}

void EventEnergyRatios::ratios(double gamma, Eigen::ArrayXd& out) const
{
    out.resize(n_events());
    multiply(gamma, nullptr, out.data());
}

void EventEnergyRatios::multiply(double gamma, const double* factor, double* out) const
{
    int k;
    double t;
    grid_.locate(gamma, k, t);
    const Eigen::Index n = n_events();
    const std::int32_t* level = level_.data();
    const double* r0 = levels_.col(k).data();
    if (grid_.size == 1 || t == 0.0) {
        // Exactly on a grid point (always for fixed-gamma tables): no interpolation.
        for (Eigen::Index i = 0; i < n; ++i) out[i] = factor ? factor[i] * r0[level[i]] : r0[level[i]];
        return;
    }
    const double* r1 = levels_.col(k + 1).data();
    const double w0 = 1.0 - t;
    if (factor)
        for (Eigen::Index i = 0; i < n; ++i) out[i] = factor[i] * (w0 * r0[level[i]] + t * r1[level[i]]);
    else
        for (Eigen::Index i = 0; i < n; ++i) out[i] = w0 * r0[level[i]] + t * r1[level[i]];
}

void EventEnergyRatios::multiply(double gamma, const double* factor, const Eigen::Index* events,
                                 std::size_t n, double* out) const
{
    int k;
    double t;
    grid_.locate(gamma, k, t);
    const std::int32_t* level = level_.data();
    const double* r0 = levels_.col(k).data();
    if (grid_.size == 1 || t == 0.0) {
        for (std::size_t j = 0; j < n; ++j) out[j] = factor[j] * r0[level[events[j]]];
        return;
    }
    const double* r1 = levels_.col(k + 1).data();
    const double w0 = 1.0 - t;
    for (std::size_t j = 0; j < n; ++j) {
        const std::int32_t l = level[events[j]];
        out[j] = factor[j] * (w0 * r0[l] + t * r1[l]);
    }
}

void EventEnergyRatios::scaled_excess(double gamma, const double* factor, double inv_n,
                                      double* out) const
{
    int k;
    double t;
    grid_.locate(gamma, k, t);
    const Eigen::Index n = n_events();
    const std::int32_t* level = level_.data();
    const double* r0 = levels_.col(k).data();
    if (grid_.size == 1 || t == 0.0) {
        for (Eigen::Index i = 0; i < n; ++i) out[i] = (factor[i] * r0[level[i]] - 1.0) * inv_n;
        return;
    }
    const double* r1 = levels_.col(k + 1).data();
    const double w0 = 1.0 - t;
    for (Eigen::Index i = 0; i < n; ++i) {
        const std::int32_t l = level[i];
        out[i] = (factor[i] * (w0 * r0[l] + t * r1[l]) - 1.0) * inv_n;
    }
}

void EventEnergyRatios::scaled_excess(double gamma, const double* factor, const Eigen::Index* events,
                                      std::size_t n, double inv_n, double* out) const
{
    int k;
    double t;
    grid_.locate(gamma, k, t);
    const std::int32_t* level = level_.data();
    const double* r0 = levels_.col(k).data();
    if (grid_.size == 1 || t == 0.0) {
        for (std::size_t j = 0; j < n; ++j) out[j] = (factor[j] * r0[level[events[j]]] - 1.0) * inv_n;
        return;
    }
    const double* r1 = levels_.col(k + 1).data();
    const double w0 = 1.0 - t;
    for (std::size_t j = 0; j < n; ++j) {
        const std::int32_t l = level[events[j]];
        out[j] = (factor[j] * (w0 * r0[l] + t * r1[l]) - 1.0) * inv_n;
    }
}

void EventEnergyRatios::levels_of(const Eigen::Index* events, std::size_t n, std::int32_t* out) const
{
    if (!events) {
        if (static_cast<Eigen::Index>(n) != n_events())
            throw Error("energy ratios: " + std::to_string(n) + " events but a table of " +
                        std::to_string(n_events()));
        std::copy(level_.begin(), level_.end(), out);
        return;
    }
    for (std::size_t j = 0; j < n; ++j) {
        if (events[j] < 0 || events[j] >= n_events())
            throw Error("energy ratios: event index " + std::to_string(events[j]) + " outside the table");
        out[j] = level_[static_cast<std::size_t>(events[j])];
    }
}

void EventEnergyRatios::excess_on_segment(int k, double t, int slope_segment, int left_segment,
                                          const double* factor, const std::int32_t* levels, std::size_t n,
                                          double inv_n, double* a_out, double* slope_out,
                                          double* slope_left_out) const
{
    const double* r0 = levels_.col(k).data();
    const double* r1 = levels_.col(std::min(k + 1, grid_.size - 1)).data();
    const bool on_point = grid_.size == 1 || t == 0.0;
    const double w0 = 1.0 - t;
    const double scale = inv_n / grid_.step;
    // A slope segment as its two columns (or none: slope 0).
    auto columns = [&](int segment, const double*& lo, const double*& hi) {
        const bool valid = segment >= 0 && grid_.size >= 2;
        lo = valid ? levels_.col(segment).data() : nullptr;
        hi = valid ? levels_.col(segment + 1).data() : nullptr;
    };
    const double *s0, *s1, *l0, *l1;
    columns(slope_segment, s0, s1);
    columns(left_segment, l0, l1);
    for (std::size_t j = 0; j < n; ++j) {
        const std::int32_t l = levels[j];
        a_out[j] = on_point ? (factor[j] * r0[l] - 1.0) * inv_n : (factor[j] * (w0 * r0[l] + t * r1[l]) - 1.0) * inv_n;
        slope_out[j] = s0 ? factor[j] * (s1[l] - s0[l]) * scale : 0.0;
        if (slope_left_out) slope_left_out[j] = l0 ? factor[j] * (l1[l] - l0[l]) * scale : 0.0;
    }
}

void EventEnergyRatios::grid_sums(const double* factor, const Eigen::Index* events, std::size_t n,
                                  std::vector<double>& scratch, double* sums) const
{
    scratch.assign(static_cast<std::size_t>(levels_.rows()), 0.0);
    if (events)
        for (std::size_t j = 0; j < n; ++j) scratch[static_cast<std::size_t>(level_[static_cast<std::size_t>(events[j])])] += factor[j];
    else
        for (std::size_t j = 0; j < n; ++j) scratch[static_cast<std::size_t>(level_[j])] += factor[j];
    for (int k = 0; k < grid_.size; ++k) {
        const double* r = levels_.col(k).data();
        double s = 0.0;
        for (std::size_t l = 0; l < scratch.size(); ++l) s += scratch[l] * r[l];
        sums[k] = s;
    }
}

void EventEnergyRatios::ratio_derivatives(double gamma, Eigen::ArrayXd& out) const
{
    out.resize(n_events());
    if (!on_slope(grid_, gamma)) {
        out.setZero();
        return;
    }
    int k;
    double t;
    grid_.locate(gamma, k, t);
    const double* r0 = levels_.col(k).data();
    const double* r1 = levels_.col(k + 1).data();
    for (Eigen::Index i = 0; i < n_events(); ++i) {
        const std::int32_t l = level_[static_cast<std::size_t>(i)];
        out[i] = (r1[l] - r0[l]) / grid_.step;
    }
}

EnergyRatioTable::EnergyRatioTable(EnergyBinning binning, GammaGrid grid,
                                   const std::vector<double>& data_counts,
                                   const std::vector<double>& mc_counts)
    : binning_(binning), grid_(grid)
{
    binning_.validate();
    if (grid_.size < 1 || !(grid_.step > 0.0)) throw Error("energy PDF: empty gamma grid");
    const int n_cells = binning_.n_cells();
    const int n_e = binning_.n_log_energy;
    if (data_counts.size() != static_cast<std::size_t>(n_cells))
        throw Error("energy PDF: data counts have the wrong size");
    if (mc_counts.size() != static_cast<std::size_t>(grid_.size) * n_cells)
        throw Error("energy PDF: MC counts have the wrong size");
    for (double c : data_counts)
        if (!(c >= 0.0) || !std::isfinite(c)) throw Error("energy PDF: bad data count");
    for (double c : mc_counts)
        if (!(c >= 0.0) || !std::isfinite(c)) throw Error("energy PDF: bad MC weight sum");

    // Equal log-energy bins: the bin width cancels in f_S / f_B and in "smallest non-zero f_B",
    // so column-normalised fractions are enough.
    ratio_.assign(static_cast<std::size_t>(grid_.size) * n_cells, 1.0);
    for (int s = 0; s < binning_.n_sin_dec; ++s) {
        const double* data = data_counts.data() + s * n_e;
        double data_sum = 0.0;
        double smallest_data = std::numeric_limits<double>::infinity();
        for (int e = 0; e < n_e; ++e) {
            data_sum += data[e];
            if (data[e] > 0.0) smallest_data = std::min(smallest_data, data[e]);
        }
        if (data_sum <= 0.0) continue;  // no data in this band: R = 1
        for (int k = 0; k < grid_.size; ++k) {
            const double* mc = mc_counts.data() + static_cast<std::size_t>(k) * n_cells + s * n_e;
            double mc_sum = 0.0;
            for (int e = 0; e < n_e; ++e) mc_sum += mc[e];
            if (mc_sum <= 0.0) continue;  // no MC in this band: R = 1
            double* r = ratio_.data() + static_cast<std::size_t>(k) * n_cells + s * n_e;
            for (int e = 0; e < n_e; ++e) {
                const double f_s = mc[e] / mc_sum;
                const double f_b = data[e] / data_sum;
                if (f_s > 0.0)
                    r[e] = f_s / (f_b > 0.0 ? f_b : smallest_data / data_sum);
                else
                    r[e] = f_b > 0.0 ? 0.0 : 1.0;
            }
        }
    }
}

double EnergyRatioTable::ratio(double sin_dec, double log10_energy, double gamma) const
{
    const int c = binning_.cell(sin_dec, log10_energy);
    int k;
    double t;
    grid_.locate(gamma, k, t);
    if (t == 0.0) return ratio_at_grid(k, c);
    return (1.0 - t) * ratio_at_grid(k, c) + t * ratio_at_grid(k + 1, c);
}

double EnergyRatioTable::ratio_derivative(double sin_dec, double log10_energy, double gamma) const
{
    const int c = binning_.cell(sin_dec, log10_energy);
    if (!on_slope(grid_, gamma)) return 0.0;
    int k;
    double t;
    grid_.locate(gamma, k, t);
    return (ratio_at_grid(k + 1, c) - ratio_at_grid(k, c)) / grid_.step;
}

EventEnergyRatios EnergyRatioTable::event_ratios(const Eigen::ArrayXd& sin_dec,
                                                 const Eigen::ArrayXd& log10_energy) const
{
    require_same_length(sin_dec.size(), log10_energy.size(), "event");
    const Eigen::Index n = sin_dec.size();
    if (n > std::numeric_limits<std::int32_t>::max()) throw Error("energy ratios: too many events");
    // One level per cell: each event keeps only its cell index.
    const int n_cells = binning_.n_cells();
    Eigen::ArrayXXd levels(n_cells, grid_.size);
    for (int c = 0; c < n_cells; ++c)
        for (int k = 0; k < grid_.size; ++k) levels(c, k) = ratio_at_grid(k, c);
    std::vector<std::int32_t> cell(static_cast<std::size_t>(n));
    for (Eigen::Index i = 0; i < n; ++i) cell[static_cast<std::size_t>(i)] = binning_.cell(sin_dec[i], log10_energy[i]);
    return EventEnergyRatios(grid_, std::move(levels), std::move(cell));
}

}  // namespace nusky

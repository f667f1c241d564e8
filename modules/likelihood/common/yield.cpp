#include "likelihood/common/yield.hpp"

#include "likelihood/common/flux.hpp"
#include "nusky/error.hpp"

#include <cmath>
#include <numbers>

namespace nusky {

PointSourceYield PointSourceYield::from_mc(const Events& local_mc, double dec, double band, double livetime_s,
                                           double e0_gev, const Comm& comm)
{
    const auto n = local_mc.size();
    if (n > 0 && (local_mc.true_dec.size() != n || local_mc.true_energy.size() != n || local_mc.oneweight.size() != n))
        throw Error("signal yield: the MC events lack truth columns (true_dec, true_energy, oneweight)");
    // The band [dec - band, dec + band], clipped at the poles, and its solid angle.
    const double lo = std::max(dec - band, -std::numbers::pi / 2), hi = std::min(dec + band, std::numbers::pi / 2);
    const double solid_angle = 2.0 * std::numbers::pi * (std::sin(hi) - std::sin(lo));
    std::vector<double> weight, log_ratio;
    for (Eigen::Index i = 0; i < n; ++i) {
        if (local_mc.true_dec[i] < lo || local_mc.true_dec[i] > hi || !(local_mc.oneweight[i] > 0.0)) continue;
        weight.push_back(livetime_s * local_mc.oneweight[i] / solid_angle);
        log_ratio.push_back(std::log(local_mc.true_energy[i] / e0_gev));
    }
    PointSourceYield y;
    y.source_ = "mc";
    y.e0_gev_ = e0_gev;
    y.weight_ = comm.allgather(weight);
    y.log_ratio_ = comm.allgather(log_ratio);
    return y;
}

PointSourceYield PointSourceYield::from_effective_areas(const std::vector<EffectiveAreaGrid>& areas, double dec,
                                                        double e0_gev)
{
    PointSourceYield y;
    y.source_ = "effective_area";
    y.e0_gev_ = e0_gev;
    for (const auto& a : areas) {
        const auto& d = a.dec_edges;
        if (d.size() < 2 || !(dec >= d[0] && dec <= d[d.size() - 1])) continue;
        Eigen::Index column = 0;
        while (column + 2 < d.size() && dec >= d[column + 1]) ++column;
        for (Eigen::Index j = 0; j + 1 < a.log10_energy_edges.size(); ++j) {
            const double area = a.area_cm2(j, column);
            if (!(area > 0.0)) continue;
            y.weight_.push_back(a.livetime_s * area);
            y.lo_gev_.push_back(std::pow(10.0, a.log10_energy_edges[j]));
            y.hi_gev_.push_back(std::pow(10.0, a.log10_energy_edges[j + 1]));
        }
    }
    return y;
}

double PointSourceYield::operator()(double gamma) const
{
    double sum = 0.0;
    if (!lo_gev_.empty()) {
        for (std::size_t j = 0; j < weight_.size(); ++j)
            sum += weight_[j] * power_law_bin_integral(lo_gev_[j], hi_gev_[j], gamma, e0_gev_, EnergyIntegration::exact);
        return sum;
    }
    for (std::size_t j = 0; j < weight_.size(); ++j) sum += weight_[j] * std::exp(-gamma * log_ratio_[j]);
    return sum;
}

}  // namespace nusky

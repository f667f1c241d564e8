#include "likelihood/common/inject.hpp"

#include "likelihood/common/flux.hpp"

#include "nusky/error.hpp"
#include "nusky/rng.hpp"

#include <healpix_base.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>
#include <utility>

namespace nusky {

namespace {

constexpr double kPi = std::numbers::pi;

// Selected local MC events (columns as the pool holds them), gathered in rank order.
struct Columns {
    std::vector<double> ra, dec, sigma, log10_energy, true_energy, weight;
    void push(double a, double d, double s, double e, double te, double w)
    {
        ra.push_back(a);
        dec.push_back(d);
        sigma.push_back(s);
        log10_energy.push_back(e);
        true_energy.push_back(te);
        weight.push_back(w);
    }
};

Eigen::ArrayXd to_array(const std::vector<double>& v)
{
    return Eigen::Map<const Eigen::ArrayXd>(v.data(), static_cast<Eigen::Index>(v.size()));
}

void check_mc(const Events& mc, const char* what)
{
    const auto n = mc.size();
    if (mc.true_ra.size() != n || mc.true_dec.size() != n || mc.true_energy.size() != n ||
        mc.oneweight.size() != n)
        throw Error(std::string(what) + ": the MC events lack truth columns (true_ra, true_dec, true_energy, oneweight)");
}

// Gathers the columns from every rank (rank order) and builds the pool. The weights are
// OW E^-gamma f (f = T or 1 / Omega_band), so livetime * sum * E0^gamma is mu per unit flux.
InjectionPool gather_pool(const Columns& local, double gamma, double e0_gev, double livetime_s,
                          const Comm& comm, const char* what)
{
    InjectionPool pool;
    pool.gamma = gamma;
    pool.e0_gev = e0_gev;
    pool.ra = to_array(comm.allgather(local.ra));
    pool.dec = to_array(comm.allgather(local.dec));
    pool.sigma = to_array(comm.allgather(local.sigma));
    pool.log10_energy = to_array(comm.allgather(local.log10_energy));
    pool.true_energy = to_array(comm.allgather(local.true_energy));
    pool.weight = to_array(comm.allgather(local.weight));
    if (pool.size() == 0) throw Error(std::string(what) + ": no MC event can be injected (no positive weight)");
    pool.cumulative.resize(static_cast<std::size_t>(pool.size()));
    double sum = 0.0;
    for (Eigen::Index i = 0; i < pool.size(); ++i) {
        sum += pool.weight[i];
        pool.cumulative[static_cast<std::size_t>(i)] = sum;
    }
    // weight = OW E^-gamma f, and the flux is (E/E0)^-gamma = E^-gamma E0^gamma.
    pool.events_per_unit_flux = livetime_s * sum * std::pow(e0_gev, gamma);
    return pool;
}

}  // namespace

void rotate_onto_source(double true_ra, double true_dec, double src_ra, double src_dec, double ra,
                        double dec, double& ra_out, double& dec_out)
{
    const double ax = std::cos(true_dec) * std::cos(true_ra), ay = std::cos(true_dec) * std::sin(true_ra),
                 az = std::sin(true_dec);
    const double bx = std::cos(src_dec) * std::cos(src_ra), by = std::cos(src_dec) * std::sin(src_ra),
                 bz = std::sin(src_dec);
    const double vx = std::cos(dec) * std::cos(ra), vy = std::cos(dec) * std::sin(ra), vz = std::sin(dec);
    // Axis k = a x b / |a x b|, cos = a.b, sin = |a x b| (Rodrigues' rotation formula).
    double kx = ay * bz - az * by, ky = az * bx - ax * bz, kz = ax * by - ay * bx;
    const double s = std::sqrt(kx * kx + ky * ky + kz * kz);
    const double c = ax * bx + ay * by + az * bz;
    double rx = vx, ry = vy, rz = vz;
    if (s > 1e-15) {
        kx /= s;
        ky /= s;
        kz /= s;
        const double kv = kx * vx + ky * vy + kz * vz;
        const double cx = ky * vz - kz * vy, cy = kz * vx - kx * vz, cz = kx * vy - ky * vx;
        rx = vx * c + cx * s + kx * kv * (1.0 - c);
        ry = vy * c + cy * s + ky * kv * (1.0 - c);
        rz = vz * c + cz * s + kz * kv * (1.0 - c);
    } else if (c < 0.0) {
        throw Error("rotate_onto_source: the true direction is antipodal to the source");
    }
    dec_out = std::asin(std::clamp(rz, -1.0, 1.0));
    double r = std::atan2(ry, rx);
    if (r < 0.0) r += 2.0 * kPi;
    if (r >= 2.0 * kPi) r = 0.0;
    ra_out = r;
}

InjectionPool point_source_injection_pool(const Events& mc, double src_ra, double src_dec,
                                          double gamma, double band, double e0_gev,
                                          double livetime_s, const Comm& comm)
{
    check_mc(mc, "point-source injection");
    if (!(band > 0.0)) throw Error("point-source injection: the declination band must be > 0");
    const double lo = std::max(src_dec - band, -0.5 * kPi), hi = std::min(src_dec + band, 0.5 * kPi);
    const double omega = 2.0 * kPi * (std::sin(hi) - std::sin(lo));
    Columns local;
    for (Eigen::Index i = 0; i < mc.size(); ++i) {
        const double td = mc.true_dec[i];
        if (!(td >= lo && td <= hi)) continue;
        const double w = mc.oneweight[i] * std::pow(mc.true_energy[i], -gamma) / omega;
        if (!(w > 0.0) || !std::isfinite(w)) continue;
        double ra, dec;
        rotate_onto_source(mc.true_ra[i], td, src_ra, src_dec, mc.ra[i], mc.dec[i], ra, dec);
        local.push(ra, dec, mc.sigma[i], mc.log10_energy[i], mc.true_energy[i], w);
    }
    InjectionPool pool = gather_pool(local, gamma, e0_gev, livetime_s, comm, "point-source injection");
    pool.band_solid_angle = omega;
    return pool;
}

InjectionPool stacking_injection_pool(const Events& mc, const std::vector<Source>& sources, double gamma,
                                      double band, double e0_gev, double livetime_s, const Comm& comm)
{
    check_mc(mc, "stacking injection");
    if (!(band > 0.0)) throw Error("stacking injection: the declination band must be > 0");
    if (sources.empty()) throw Error("stacking injection: no sources");
    // Source k's share of the total flux, and its band.
    double weight_sum = 0.0;
    for (const auto& s : sources) weight_sum += s.weight;
    std::vector<double> lo, hi, share;
    for (const auto& s : sources) {
        lo.push_back(std::max(s.dec - band, -0.5 * kPi));
        hi.push_back(std::min(s.dec + band, 0.5 * kPi));
        const double omega = 2.0 * kPi * (std::sin(hi.back()) - std::sin(lo.back()));
        share.push_back(s.weight / weight_sum / omega);
    }
    // Events outer, sources inner: the gathered pool is in (global MC event, source) order on any
    // number of ranks.
    Columns local;
    for (Eigen::Index i = 0; i < mc.size(); ++i) {
        const double td = mc.true_dec[i];
        const double spectrum = mc.oneweight[i] * std::pow(mc.true_energy[i], -gamma);
        for (std::size_t k = 0; k < sources.size(); ++k) {
            if (!(td >= lo[k] && td <= hi[k])) continue;
            const double w = spectrum * share[k];
            if (!(w > 0.0) || !std::isfinite(w)) continue;
            double ra, dec;
            rotate_onto_source(mc.true_ra[i], td, sources[k].ra, sources[k].dec, mc.ra[i], mc.dec[i], ra, dec);
            local.push(ra, dec, mc.sigma[i], mc.log10_energy[i], mc.true_energy[i], w);
        }
    }
    return gather_pool(local, gamma, e0_gev, livetime_s, comm, "stacking injection");
}

InjectionPool template_injection_pool(const Events& mc, const Eigen::ArrayXd& map, double gamma,
                                      double e0_gev, double livetime_s, const Comm& comm)
{
    check_mc(mc, "template injection");
    const long nside = std::lround(std::sqrt(static_cast<double>(map.size()) / 12.0));
    if (nside < 1 || 12 * nside * nside != map.size())
        throw Error("template injection: the template has " + std::to_string(map.size()) +
                    " pixels, not 12 nside^2");
    const double integral = map.sum() * 4.0 * kPi / static_cast<double>(map.size());
    if (!(integral > 0.0) || !std::isfinite(integral))
        throw Error("template injection: the template's integral is not positive");
    Healpix_Base base(static_cast<int>(nside), RING, SET_NSIDE);
    Columns local;
    for (Eigen::Index i = 0; i < mc.size(); ++i) {
        const int pix = base.ang2pix(pointing(0.5 * kPi - mc.true_dec[i], mc.true_ra[i]));
        const double t = map[pix] / integral;  // sr^-1, integral 1
        const double w = mc.oneweight[i] * std::pow(mc.true_energy[i], -gamma) * t;
        if (!(w > 0.0) || !std::isfinite(w)) continue;
        local.push(mc.ra[i], mc.dec[i], mc.sigma[i], mc.log10_energy[i], mc.true_energy[i], w);
    }
    return gather_pool(local, gamma, e0_gev, livetime_s, comm, "template injection");
}

std::uint64_t injected_count(std::uint64_t seed, std::int64_t trial, double mu, std::uint64_t sample)
{
    if (!(mu >= 0.0) || !std::isfinite(mu)) throw Error("injection: the mean number must be finite and >= 0");
    CounterRng rng(seed, kInjectionStreamBit | static_cast<std::uint64_t>(trial), 0, sample);
    return rng.poisson(mu);
}

Events draw_injection(const InjectionPool& pool, std::uint64_t seed, std::int64_t trial, double mu,
                      std::uint64_t sample)
{
    const std::uint64_t n = injected_count(seed, trial, mu, sample);
    const auto N = static_cast<Eigen::Index>(n);
    Events ev;
    ev.ra.resize(N);
    ev.dec.resize(N);
    ev.sigma.resize(N);
    ev.log10_energy.resize(N);
    ev.true_energy.resize(N);
    if (n > 0 && pool.size() == 0) throw Error("injection: empty pool");
    const std::uint64_t stream = kInjectionStreamBit | static_cast<std::uint64_t>(trial);
    const double total = pool.total_weight();
    for (std::uint64_t k = 0; k < n; ++k) {
        CounterRng rng(seed, stream, k + 1, sample);
        const double u = rng.uniform() * total;
        auto it = std::upper_bound(pool.cumulative.begin(), pool.cumulative.end(), u);
        auto j = static_cast<Eigen::Index>(std::min<std::ptrdiff_t>(it - pool.cumulative.begin(),
                                                                    static_cast<std::ptrdiff_t>(pool.size() - 1)));
        const auto i = static_cast<Eigen::Index>(k);
        ev.ra[i] = pool.ra[j];
        ev.dec[i] = pool.dec[j];
        ev.sigma[i] = pool.sigma[j];
        ev.log10_energy[i] = pool.log10_energy[j];
        ev.true_energy[i] = pool.true_energy[j];
    }
    ev.compute_unit_vectors();
    return ev;
}

PoolInjector::PoolInjector(InjectionPool pool, double per_flux_unit, std::string unit) : pool_(std::move(pool))
{
    events_per_flux_unit = per_flux_unit;
    flux_unit = std::move(unit);
    attributes["inject_gamma"] = pool_.gamma;
    attributes["mc_events_per_unit_flux"] = pool_.events_per_unit_flux;
    attributes["flux_e0_gev"] = pool_.e0_gev;
}

std::vector<Events> PoolInjector::draw(std::uint64_t seed, std::int64_t trial, double mu) const
{
    std::vector<Events> out;
    out.push_back(draw_injection(pool_, seed, trial, mu));
    return out;
}

std::int64_t PoolInjector::count(std::uint64_t seed, std::int64_t trial, double mu) const
{
    return static_cast<std::int64_t>(injected_count(seed, trial, mu));
}

JointPoolInjector::JointPoolInjector(std::vector<InjectionPool> pools, std::vector<std::uint64_t> streams,
                                     double e0_gev, std::string unit)
    : pools_(std::move(pools)), streams_(std::move(streams))
{
    double total = 0.0;
    for (const auto& pool : pools_) total += pool.events_per_unit_flux;
    if (!(total > 0.0)) throw Error("joint injection: no sample expects any signal events");
    for (const auto& pool : pools_) fractions_.push_back(pool.events_per_unit_flux / total);
    events_per_flux_unit = 1.0 / e2_flux_tev(1.0, total, 1.0, e0_gev);
    flux_unit = std::move(unit);
    attributes["inject_gamma"] = pools_.front().gamma;
    attributes["mc_events_per_unit_flux"] = total;
    attributes["flux_e0_gev"] = e0_gev;
}

std::unique_ptr<JointPoolInjector> joint_injector(const std::vector<Sample>& samples,
                                                  const std::function<InjectionPool(const Sample&)>& pool_of,
                                                  double e0_gev, std::string flux_unit, const std::string& who,
                                                  const Comm& comm)
{
    std::vector<InjectionPool> pools;
    std::vector<std::uint64_t> streams;
    for (const Sample& s : samples) {
        if (comm.sum(static_cast<std::int64_t>(s.events.mc.size())) == 0)
            throw Error(who + ": sample " + s.name + " has no MC events to inject (joint tasks inject and "
                              "sensitivity need MC in every sample)");
        pools.push_back(pool_of(s));
        streams.push_back(s.stream);
    }
    auto injector = std::make_unique<JointPoolInjector>(std::move(pools), std::move(streams), e0_gev, std::move(flux_unit));
    for (std::size_t k = 0; k < samples.size(); ++k)
        injector->attributes["yield_fraction_" + samples[k].name] = injector->fractions()[k];
    return injector;
}

std::vector<Events> JointPoolInjector::draw(std::uint64_t seed, std::int64_t trial, double mu) const
{
    std::vector<Events> out;
    for (std::size_t k = 0; k < pools_.size(); ++k)
        out.push_back(draw_injection(pools_[k], seed, trial, mu * fractions_[k], streams_[k]));
    return out;
}

std::int64_t JointPoolInjector::count(std::uint64_t seed, std::int64_t trial, double mu) const
{
    std::int64_t n = 0;
    for (std::size_t k = 0; k < pools_.size(); ++k)
        n += static_cast<std::int64_t>(injected_count(seed, trial, mu * fractions_[k], streams_[k]));
    return n;
}

std::int64_t JointPoolInjector::pool_size() const
{
    std::int64_t n = 0;
    for (const auto& pool : pools_) n += static_cast<std::int64_t>(pool.size());
    return n;
}

}  // namespace nusky

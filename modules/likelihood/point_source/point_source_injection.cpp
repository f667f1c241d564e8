#include "likelihood/point_source/point_source_injection.hpp"

#include "likelihood/common/flux.hpp"
#include "nusky/error.hpp"
#include "nusky/rng.hpp"

#include <cstdio>
#include <limits>
#include <memory>
#include <numbers>

namespace nusky {

PointSourceSignalTrials::PointSourceSignalTrials(const Events& all, const PointSourcePdfs& pdfs,
                                                 const UnitVector& source)
    : pdfs_(pdfs), source_(source), cos_dec_(all.dec.cos()), x_(all.x), y_(all.y), z_(all.z),
      vmf_(vmf_event_constants(all.sigma))
{
    pdfs.background.background_density(all.z, background_density_);
    ratios_ = pdfs.energy ? pdfs.energy->event_ratios(all.z, all.log10_energy) : EventEnergyRatios::unity(all.size());
}

TrialResult PointSourceSignalTrials::operator()(std::uint64_t seed, std::int64_t trial, const Events& injected)
{
    // The scramble of PointSourceEvents::scramble: event i takes draw i of stream (seed, trial).
    CounterRng rng(seed, static_cast<std::uint64_t>(trial), 0);
    const double two_pi = 2.0 * std::numbers::pi;
    for (Eigen::Index i = 0; i < x_.size(); ++i) {
        const double ra = two_pi * rng.uniform();
        x_[i] = cos_dec_[i] * std::cos(ra);
        y_[i] = cos_dec_[i] * std::sin(ra);
    }
    const Eigen::Index nb = x_.size(), ni = injected.size();
    vmf_density(x_, y_, z_, vmf_, source_, sob_);
    sob_ /= background_density_;
    EventEnergyRatios injected_ratios;
    if (ni > 0) {
        vmf_density(injected.x, injected.y, injected.z, injected.sigma, source_, injected_sob_);
        pdfs_.background.background_density(injected.z, injected_density_);
        injected_sob_ /= injected_density_;
        injected_ratios = pdfs_.energy ? pdfs_.energy->event_ratios(injected.z, injected.log10_energy)
                                       : EventEnergyRatios::unity(ni);
    }
    const double n_total = static_cast<double>(nb + ni);
    const EventTotals totals{n_total, n_total};
    const auto n = static_cast<std::size_t>(nb + ni);
    FitResult r;
    if (!pdfs_.energy) {
        Eigen::ArrayXd all(nb + ni);
        all << sob_, injected_sob_.head(ni);
        r = fitter_.fit_ns(all.data(), n, totals, reduce_nothing);
        r.gamma = std::numeric_limits<double>::quiet_NaN();
    } else {
        // The scrambled sample and the injected events as two blocks of one event set, fitted
        // by the same gamma search as the background trials.
        const FactorisedSob blocks[2] = {{sob_.data(), nullptr, static_cast<std::size_t>(nb), &ratios_},
                                         {injected_sob_.data(), nullptr, static_cast<std::size_t>(ni), &injected_ratios}};
        r = fitter_.fit(std::span<const FactorisedSob>(blocks, ni > 0 ? 2 : 1), totals, reduce_nothing);
    }
    return TrialResult{r.ts, r.ns, r.gamma};
}

std::unique_ptr<Injector> point_source_injector(const EventSample& sample, const PointSourceInjectionSettings& s,
                                                const Comm& comm)
{
    const bool any_mc = comm.sum(static_cast<std::int64_t>(sample.mc.size())) > 0;
    if (!any_mc) throw Error("point_source: tasks inject and sensitivity need MC events to inject");
    InjectionPool pool = point_source_injection_pool(sample.mc, s.ra, s.dec, s.gamma, s.band, s.e0_gev,
                                                     sample.livetime_s, comm);
    // Flux unit: E^2 dN/dE at E0 in TeV cm^-2 s^-1 of a point flux Phi0 (E/E0)^-gamma; one
    // unit is e2_flux_tev(1 event) events^-1, so events per unit = 1 / e2_flux_tev(1, mu(1), 1, E0).
    double events_per_flux_unit = 0.0;
    if (sample.livetime_s > 0 && pool.events_per_unit_flux > 0) {
        events_per_flux_unit = 1.0 / e2_flux_tev(1.0, pool.events_per_unit_flux, 1.0, s.e0_gev);
    }
    char name[120];
    std::snprintf(name, sizeof name, "E^2 dN/dE at %g GeV [TeV cm^-2 s^-1], point flux E^-%g", s.e0_gev, s.gamma);
    auto injector = std::make_unique<PoolInjector>(std::move(pool), events_per_flux_unit, name);
    injector->attributes["source_ra_deg"] = s.ra * 180.0 / std::numbers::pi;
    injector->attributes["source_dec_deg"] = s.dec * 180.0 / std::numbers::pi;
    injector->attributes["band_deg"] = s.band * 180.0 / std::numbers::pi;
    return injector;
}

}  // namespace nusky

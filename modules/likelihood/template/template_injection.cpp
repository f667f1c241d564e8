#include "likelihood/template/template_injection.hpp"

#include "likelihood/common/flux.hpp"
#include "nusky/error.hpp"
#include "nusky/rng.hpp"

#include <numbers>

#include <cstdio>
#include <limits>
#include <memory>
#include <span>

namespace nusky {

void template_excess(const TemplatePdfs& pdfs, const Events& events, Eigen::ArrayXd& out)
{
    const auto n = events.size();
    out.resize(n);
    if (n == 0) return;
    auto span = [](const Eigen::ArrayXd& a) { return std::span<const double>(a.data(), a.size()); };
    const auto index = index_template_events(pdfs.smoothed, span(events.ra), span(events.dec), span(events.sigma));
    Eigen::ArrayXd signal(n), subtraction(n), density;
    signal_densities(pdfs.smoothed, index, index.pixel, std::span<double>(signal.data(), n));
    signal_subtraction_densities(pdfs.smoothed, index, std::span<double>(subtraction.data(), n));
    const Eigen::ArrayXd sin_dec = events.dec.sin();
    pdfs.background.background_density(sin_dec, density);
    out = (signal - subtraction) / density;
    if (pdfs.energy) out *= pdfs.energy->event_ratios(sin_dec, events.log10_energy).column(0);
}

TemplateSignalTrials::TemplateSignalTrials(const Events& all, const TemplatePdfs& pdfs, const TemplateSettings& settings,
                                           const std::vector<double>& mc_energy_counts, bool rebuild_pdfs)
    : pdfs_(pdfs), settings_(settings), rebuild_(rebuild_pdfs), sin_dec_(all.dec.sin()),
      log10_energy_(all.log10_energy), energy_mc_counts_(mc_energy_counts)
{
    auto span = [](const Eigen::ArrayXd& a) { return std::span<const double>(a.data(), a.size()); };
    index_ = index_template_events(pdfs.smoothed, span(all.ra), span(all.dec), span(all.sigma));
    pixel_ = index_.pixel;
    const auto n = all.size();
    subtraction_.resize(n);
    signal_subtraction_densities(pdfs.smoothed, index_, std::span<double>(subtraction_.data(), n));
    Eigen::ArrayXd density;
    pdfs.background.background_density(sin_dec_, density);
    fixed_ratio_over_b_ = 1.0 / density;
    if (pdfs.energy) fixed_ratio_over_b_ *= pdfs.energy->event_ratios(sin_dec_, log10_energy_).column(0);
    // The sample's histograms (the replicated sample, so the same sums on every rank).
    sin_dec_counts_.assign(static_cast<std::size_t>(settings.sin_dec_bins), 0.0);
    fill_sin_dec_counts(sin_dec_, sin_dec_counts_);
    if (pdfs.energy) {
        energy_data_counts_.assign(static_cast<std::size_t>(settings.energy_binning.n_cells()), 0.0);
        fill_energy_data_counts(settings.energy_binning, sin_dec_, log10_energy_, energy_data_counts_);
    }
}

TrialResult TemplateSignalTrials::operator()(std::uint64_t seed, std::int64_t trial, const Events& injected)
{
    const Eigen::ArrayXd& combined = excess(seed, trial, injected);
    const auto n = static_cast<std::size_t>(combined.size());
    const double n_total = static_cast<double>(n);
    const auto r = fitter_.fit_ns_excess(combined.data(), n, EventTotals{n_total, n_total}, reduce_nothing, settings_.gamma);
    return TrialResult{r.ts, r.ns, settings_.gamma};
}

const Eigen::ArrayXd& TemplateSignalTrials::excess(std::uint64_t seed, std::int64_t trial, const Events& injected,
                                                   std::uint64_t sample)
{
    // The scramble of TemplateEvents::scramble.
    CounterRng rng(seed, static_cast<std::uint64_t>(trial), 0, sample);
    const double two_pi = 2.0 * std::numbers::pi;
    for (std::size_t i = 0; i < pixel_.size(); ++i)
        pixel_[i] = pixel_in_ring_for_ra(pdfs_.smoothed, index_.ring[i], two_pi * rng.uniform());
    const Eigen::Index nb = sin_dec_.size(), ni = injected.size();
    signal_.resize(nb);
    signal_densities(pdfs_.smoothed, index_, pixel_, std::span<double>(signal_.data(), nb));
    combined_.resize(nb + ni);
    if (!rebuild_ || ni == 0) {
        combined_.head(nb) = (signal_ - subtraction_) * fixed_ratio_over_b_;
        template_excess(pdfs_, injected, injected_);
        combined_.tail(ni) = injected_;
    } else {
        // The trial's own B and f_B: the sample's histograms plus the injected events.
        const Eigen::ArrayXd inj_sin_dec = injected.dec.sin();
        std::vector<double> counts = sin_dec_counts_;
        fill_sin_dec_counts(inj_sin_dec, counts);
        const SinDecBackgroundPdf background(std::move(counts));
        Eigen::ArrayXd b_events, b_injected;
        background.background_density(sin_dec_, b_events);
        background.background_density(inj_sin_dec, b_injected);
        Eigen::ArrayXd r_events = Eigen::ArrayXd::Ones(nb), r_injected = Eigen::ArrayXd::Ones(ni);
        if (pdfs_.energy) {
            std::vector<double> data_counts = energy_data_counts_;
            fill_energy_data_counts(settings_.energy_binning, inj_sin_dec, injected.log10_energy, data_counts);
            const EnergyRatioTable table(settings_.energy_binning, GammaGrid::single(settings_.gamma), data_counts,
                                         energy_mc_counts_);
            r_events = table.event_ratios(sin_dec_, log10_energy_).column(0);
            r_injected = table.event_ratios(inj_sin_dec, injected.log10_energy).column(0);
        }
        combined_.head(nb) = (signal_ - subtraction_) * r_events / b_events;
        auto span = [](const Eigen::ArrayXd& a) { return std::span<const double>(a.data(), a.size()); };
        const auto idx = index_template_events(pdfs_.smoothed, span(injected.ra), span(injected.dec), span(injected.sigma));
        Eigen::ArrayXd s(ni), sub(ni);
        signal_densities(pdfs_.smoothed, idx, idx.pixel, std::span<double>(s.data(), ni));
        signal_subtraction_densities(pdfs_.smoothed, idx, std::span<double>(sub.data(), ni));
        combined_.tail(ni) = (s - sub) * r_injected / b_injected;
    }
    return combined_;
}

std::unique_ptr<Injector> template_injector(const EventSample& sample, const Eigen::ArrayXd& map,
                                            const TemplateInjectionSettings& s, const Comm& comm)
{
    const bool any_mc = comm.sum(static_cast<std::int64_t>(sample.mc.size())) > 0;
    if (!any_mc) throw Error("template: tasks inject and sensitivity need MC events to inject");
    InjectionPool pool = template_injection_pool(sample.mc, map, s.gamma, s.e0_gev, sample.livetime_s, comm);
    // One flux unit (E^2 dN/dE at E0, TeV cm^-2 s^-1) is 1 / e2_flux_tev(1 event) events.
    const double events_per_flux_unit =
        s.mu_reference > 0 ? 1.0 / e2_flux_tev(1.0, s.mu_reference, s.phi0, s.e0_gev) : 0.0;
    char name[120];
    std::snprintf(name, sizeof name, "E^2 dN/dE at %g GeV [TeV cm^-2 s^-1] of the whole template, E^-%g", s.e0_gev,
                  s.gamma);
    // The MC's own expected events for the reference flux (check against the effective area's).
    const double mc_mu_reference = pool.events_per_unit_flux * s.phi0;
    auto injector = std::make_unique<PoolInjector>(std::move(pool), events_per_flux_unit, name);
    injector->attributes["mc_mu_reference"] = mc_mu_reference;
    injector->attributes["mu_reference"] = s.mu_reference;
    injector->attributes["trial_pdfs"] = std::string(s.rebuild_pdfs ? "rebuilt per signal trial" : "fixed (the sample's)");
    return injector;
}

std::vector<double> template_mc_energy_counts(const EventSample& sample, const TemplatePdfs& pdfs,
                                              const TemplateInjectionSettings& s, const Comm& comm)
{
    // The MC part of the energy ratio, as TemplatePdfs sums it (for per-trial ratio tables): from
    // the whole MC in global event order, so that the sums, and the signal trials, are the same
    // for any rank count (per-rank partial sums added up would round differently).
    std::vector<double> mc_counts;
    if (pdfs.energy) {
        const auto& binning = s.pdf_settings.energy_binning;
        mc_counts.assign(static_cast<std::size_t>(binning.n_cells()), 0.0);
        const Events mc = sample.mc.allgather(comm);
        fill_energy_mc_counts(binning, GammaGrid::single(s.gamma), mc.z, mc.log10_energy, mc.true_energy,
                              mc.oneweight, mc_counts);
    }
    return mc_counts;
}

}  // namespace nusky

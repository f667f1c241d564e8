#pragma once
// Signal trials of the template likelihood (docs/PHYSICS.md section 9): the RA-scrambled sample
// plus MC events drawn with weight OW E^-gamma T(true dir), fitted for n_s at the template's
// gamma; the task engines (nusky/tasks.hpp) run them. Mean numbers convert to fluxes with the effective-area
// conversion of the fit (E^2 dN/dE at the pivot, TeV cm^-2 s^-1).
#include "likelihood/common/inject.hpp"
#include "likelihood/template/template_likelihood.hpp"
#include "nusky/stages.hpp"
#include "nusky/trials.hpp"

#include <memory>
#include <vector>

namespace nusky {

// Per-event (S_i - S~_i) R_i / B_i of arbitrary events (e.g. injected ones), as TemplateEvents
// computes it for the sample.
void template_excess(const TemplatePdfs& pdfs, const Events& events, Eigen::ArrayXd& out);

// Signal trials of the template fit. The background events are RA-scrambled per trial exactly
// as TemplateEvents::scramble does (same stream, same ring lookups).
// With rebuild_pdfs = false the data-driven PDFs (B from the sin-dec histogram, f_B of the
// energy ratio) stay those of the sample, as in background trials. With rebuild_pdfs = true a
// signal trial is analysed as pseudo-data: its sin-dec and energy histograms include the
// injected events, so that B contains the injected signal's RA average, which is what the
// signal subtraction S - S~ assumes (PHYSICS.md section 6.3). Background trials are the same
// either way (an RA scramble leaves both histograms unchanged).
class TemplateSignalTrials {
public:
    TemplateSignalTrials(const Events& all_data, const TemplatePdfs& pdfs, const TemplateSettings& settings,
                         const std::vector<double>& mc_energy_counts, bool rebuild_pdfs);
    TrialResult operator()(std::uint64_t seed, std::int64_t trial, const Events& injected);
    // The trial's per-event excess (S - S~) R / B, the scrambled sample's events then the
    // injected ones, without the fit: one sample's term of a joint signal trial. `sample`
    // keys the scramble's stream, as TemplateEvents::scramble's.
    const Eigen::ArrayXd& excess(std::uint64_t seed, std::int64_t trial, const Events& injected,
                                 std::uint64_t sample = 0);

private:
    const TemplatePdfs& pdfs_;
    TemplateSettings settings_;
    bool rebuild_;
    TemplateEventIndex index_;
    std::vector<std::int32_t> pixel_;
    Eigen::ArrayXd sin_dec_, log10_energy_, subtraction_, fixed_ratio_over_b_;
    std::vector<double> sin_dec_counts_, energy_data_counts_, energy_mc_counts_;
    Eigen::ArrayXd signal_, combined_, injected_;
    PointSourceFitter fitter_;
};

struct TemplateInjectionSettings {
    double gamma = 2.7;
    double e0_gev = 1e5;
    // Expected events of the reference flux phi0 (effective-area conversion); 0: none.
    double mu_reference = 0.0;
    double phi0 = 1e-18;
    bool rebuild_pdfs = true;  // see TemplateSignalTrials
    TemplateSettings pdf_settings;
};

// The injector of MC events weighted by the template (collective). Throws when no rank has MC.
std::unique_ptr<Injector> template_injector(const EventSample& sample, const Eigen::ArrayXd& template_map,
                                            const TemplateInjectionSettings& settings, const Comm& comm);

// The MC part of the energy ratio, summed over ranks, for TemplateSignalTrials (collective;
// empty without an energy term).
std::vector<double> template_mc_energy_counts(const EventSample& sample, const TemplatePdfs& pdfs,
                                              const TemplateInjectionSettings& settings, const Comm& comm);

}  // namespace nusky

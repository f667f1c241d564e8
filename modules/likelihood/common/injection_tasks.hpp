#pragma once
// The tasks `inject` and `sensitivity` (docs/PHYSICS.md section 9), shared by the likelihoods.
// A likelihood supplies one function, its signal trial: scramble the background for trial t
// (stream t, as background trials), add the injected events, fit. Everything else is here:
//
// task = inject: for each mean number in job.inject_ns (or each flux in job.inject_flux,
//   converted with the likelihood's events per unit flux), job.signal_trials trials. One trial
//   campaign (checkpointed, resumable), rows in order: mean 0's trials, mean 1's, ...
//   /injection: n_inj_mean, trial, n_injected, ts, ns, gamma (one row per trial) and the n_s bias
//   curve bias_n_inj / bias_median_ns / bias_median_gamma / bias_median_ts (one row per mean).
// task = sensitivity: job.trials background trials (no injection), then job.signal_trials signal
//   trials at each mean of the grid (job.inject_ns, job.inject_flux, or a default grid), in one
//   campaign. /trials holds the background trials, /injection the signal trials as above, and
//   /sensitivity the background median and 3/5-sigma thresholds, the passing fractions per mean,
//   and the sensitivity (90 % above the median) and discovery potentials (50 % above the 3 and
//   5 sigma thresholds) as mean numbers and fluxes.
// Trials are dealt to ranks by run_trial_campaign; a row depends only on (seed, trial).
#include "likelihood/common/inject.hpp"
#include "nusky/stages.hpp"
#include "nusky/trials.hpp"

#include <functional>
#include <string>
#include <vector>

namespace nusky {

// Scramble the background for `trial`, add `injected` (possibly no events), fit.
using SignalTrialFn = std::function<TrialResult(std::int64_t trial, const Events& injected)>;

struct InjectionSetup {
    const InjectionPool* pool = nullptr;
    // Expected events per unit of the flux the likelihood reports (0: no flux conversion), so
    // flux = mean / events_per_flux_unit.
    double events_per_flux_unit = 0.0;
    std::string flux_name;  // e.g. "E^2 dN/dE at 100 TeV [TeV cm^-2 s^-1]"
    std::string label;      // progress lines
};

// The default mean-number grid of task sensitivity.
const std::vector<double>& default_sensitivity_grid();

// Mean numbers from job.inject_ns and job.inject_flux (fluxes converted; sorted, both lists
// concatenated); `fallback` when both are empty. Throws for negative values or a flux list
// without a flux conversion.
std::vector<double> injection_means(const JobSpec& job, const InjectionSetup& setup,
                                    const std::vector<double>& fallback);

// Checks the [job] keys of tasks inject and sensitivity (nothing for other tasks); for a
// likelihood's prepare(), so that a bad config stops every rank cleanly before any work.
void check_injection_job(const JobSpec& job);

void run_inject_task(RunContext& context, const InjectionSetup& setup, const SignalTrialFn& trial);
void run_sensitivity_task(RunContext& context, const InjectionSetup& setup, const SignalTrialFn& trial);

}  // namespace nusky

#pragma once
// The task engines: fit, trials, inject and sensitivity written once for every likelihood
// (docs/PHYSICS.md section 9). Each runs on the Hypothesis a likelihood builds on the job's
// samples (nusky/hypothesis.hpp); task scan is the likelihood's own (Likelihood::scan).
//
// task = fit: the observed fit (/fit).
// task = trials: the fit, then job.trials background trials dealt to ranks by
//   run_trial_campaign (checkpointed, resumable): /trials ts, ns, gamma and /fit's p-value.
// task = inject: the fit, then for each mean number in job.inject_ns (or each flux in
//   job.inject_flux, converted with the injector's events per unit flux) job.signal_trials signal
//   trials, in one campaign, rows in order: mean 0's trials, mean 1's, ...
//   /injection: n_inj_mean, trial, n_injected, ts, ns, gamma (one row per trial) and the n_s bias
//   curve bias_n_inj / bias_median_ns / bias_median_gamma / bias_median_ts (one row per mean).
// task = sensitivity: the fit, job.trials background trials (the signal-trial path with nothing
//   injected), then job.signal_trials signal trials at each mean of the grid (job.inject_ns,
//   job.inject_flux, or a default grid), in one campaign. /trials holds the background trials,
//   /injection the signal trials as above, and /sensitivity the background median and 3/5-sigma
//   thresholds, the passing fractions per mean, and the sensitivity (90 % above the median) and
//   discovery potentials (50 % above the 3 and 5 sigma thresholds) as mean numbers and fluxes.
#include "nusky/hypothesis.hpp"
#include "nusky/stages.hpp"
#include "nusky/trials.hpp"

#include <map>
#include <string>
#include <vector>

namespace nusky {

// Runs job.task() on the likelihood and the job's samples (collective).
void run_task(Likelihood& likelihood, std::vector<Sample>& samples, RunContext& context);

// The engines, for run_task and for tests.
void run_fit_task(Hypothesis& hypothesis, RunContext& context);
void run_trials_task(Hypothesis& hypothesis, RunContext& context);
void run_inject_task(Hypothesis& hypothesis, RunContext& context);
void run_sensitivity_task(Hypothesis& hypothesis, RunContext& context);

// seed, first_trial, trials, checkpoint_every, output and resume from the run's context.
TrialCampaign make_campaign(const RunContext& context, const std::string& label);

// Writes p_value, sigma and n_trials of the observed TS into /fit (collective: gathers TS).
void record_pvalue(double observed_ts, const TrialBlock& block, RunContext& context);

// /fit's p_value, p_value_is_upper_limit, sigma and n_trials of the observed TS against all trials
// (record_pvalue's, and `nusky merge`'s for a merged campaign).
std::map<std::string, AttributeValue> pvalue_attributes(double observed_ts, const std::vector<double>& trial_ts);

// The default mean-number grid of task sensitivity.
const std::vector<double>& default_sensitivity_grid();

// Mean numbers from job.inject_ns and job.inject_flux (fluxes converted with
// events_per_flux_unit; sorted, both lists concatenated); `fallback` when both are empty. Throws
// for negative values or a flux list without a flux conversion.
std::vector<double> injection_means(const JobSpec& job, double events_per_flux_unit,
                                    const std::vector<double>& fallback);

// Checks the [job] keys of tasks inject and sensitivity (nothing for other tasks), so that a bad
// config stops every rank cleanly before any work.
void check_injection_job(const JobSpec& job);

}  // namespace nusky

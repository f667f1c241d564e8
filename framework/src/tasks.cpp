#include "nusky/tasks.hpp"

#include "nusky/config.hpp"
#include "nusky/error.hpp"
#include "nusky/log.hpp"
#include "nusky/mpi.hpp"
#include "nusky/pvalue.hpp"
#include "nusky/sensitivity.hpp"

#include <algorithm>
#include <limits>

namespace nusky {

std::unique_ptr<Injector> Hypothesis::injector(RunContext&)
{
    throw Error(label() + ": this likelihood cannot inject signal (tasks inject, sensitivity)");
}

TrialResult Hypothesis::signal_trial(std::uint64_t, std::int64_t, const std::vector<Events>&)
{
    throw Error(label() + ": this likelihood has no signal trials (tasks inject, sensitivity)");
}

void Likelihood::scan(std::vector<Sample>&, RunContext&)
{
    throw Error("likelihood '" + module_name() + "' has no all-sky scan");
}

TrialCampaign make_campaign(const RunContext& context, const std::string& label)
{
    TrialCampaign c;
    c.seed = static_cast<std::uint64_t>(context.job.seed());
    c.first_trial = context.job.first_trial();
    c.n_trials = context.job.trials();
    c.checkpoint_every = context.job.checkpoint_every();
    c.output_path = context.output_path;
    c.config_text = context.config.text();
    c.code_version = NUSKY_VERSION;
    c.resume = context.resume;
    c.label = label;
    return c;
}

std::map<std::string, AttributeValue> pvalue_attributes(double observed_ts, const std::vector<double>& trial_ts)
{
    double p = pvalue_from_trials(trial_ts, observed_ts);
    // Beyond every trial the p-value is only bounded: report p < 1/n and sigma > that.
    const bool bound = p == 0.0;
    if (bound) p = 1.0 / static_cast<double>(trial_ts.size());
    // The background's eta * chi2(ndof) tail, drawn by `nusky plot` over the trials.
    const Chi2Tail tail = fit_chi2_tail(trial_ts);
    const double nan = std::numeric_limits<double>::quiet_NaN();
    return {{"p_value", p},
            {"p_value_is_upper_limit", static_cast<std::int64_t>(bound)},
            {"sigma", significance_from_pvalue(p)},
            {"n_trials", static_cast<std::int64_t>(trial_ts.size())},
            {"chi2_eta", tail.eta},
            {"chi2_ndof", tail.valid ? tail.ndof : nan}};
}

void record_pvalue(double observed_ts, const TrialBlock& block, RunContext& context)
{
    std::vector<double> local;
    local.reserve(block.results.size());
    for (const auto& r : block.results) local.push_back(r.ts);
    auto all = context.comm.allgather(local);
    if (all.empty()) return;
    const auto attributes = pvalue_attributes(observed_ts, all);
    auto& fit = context.results.group("/fit");
    for (const auto& [name, value] : attributes) fit.attributes[name] = value;
    const double p = std::get<double>(attributes.at("p_value"));
    const bool bound = std::get<std::int64_t>(attributes.at("p_value_is_upper_limit")) != 0;
    log::info("p-value of TS " + std::to_string(observed_ts) + " from " + std::to_string(all.size()) +
              " trials: " + (bound ? "< " : "") + std::to_string(p));
}

void run_fit_task(Hypothesis& hypothesis, RunContext& context)
{
    hypothesis.fit(context);
}

void run_trials_task(Hypothesis& hypothesis, RunContext& context)
{
    const Comm& comm = context.comm;
    const TrialResult observed = hypothesis.fit(context);
    // Background trials: every rank holds the whole samples and runs its own trials.
    hypothesis.replicate(comm);
    const auto campaign = make_campaign(context, hypothesis.label() + " trials");
    // Trials are computed trial_batch() at a time, up to the end of this rank's block of the
    // campaign (as run_trial_campaign deals them; a batch reaching further would only waste
    // work). A trial's result does not depend on its batch.
    const std::int64_t batch_size = std::max(1, hypothesis.trial_batch());
    const std::int64_t my_end = campaign.first_trial + block_range(campaign.n_trials, comm.rank(), comm.size()).end;
    std::vector<TrialResult> batch(static_cast<std::size_t>(batch_size));
    std::int64_t batch_first = 0, batch_count = 0;
    const auto block = run_trial_campaign(campaign, comm, [&](std::int64_t trial) {
        if (trial < batch_first || trial >= batch_first + batch_count) {
            batch_first = trial;
            batch_count = std::clamp<std::int64_t>(my_end - trial, 1, batch_size);
            hypothesis.background_trials(campaign.seed, trial, static_cast<int>(batch_count), batch.data());
        }
        return batch[static_cast<std::size_t>(trial - batch_first)];
    });
    store_trials(campaign, block, context.results, comm);
    record_pvalue(observed.ts, block, context);
}

void run_task(Likelihood& likelihood, std::vector<Sample>& samples, RunContext& context)
{
    const std::string& task = context.job.task();
    if (task == "scan") {
        likelihood.scan(samples, context);
        return;
    }
    const auto hypothesis = likelihood.hypothesis(samples, context);
    if (task == "fit") run_fit_task(*hypothesis, context);
    else if (task == "trials") run_trials_task(*hypothesis, context);
    else if (task == "inject") run_inject_task(*hypothesis, context);
    else if (task == "sensitivity") run_sensitivity_task(*hypothesis, context);
    else throw Error("unknown task '" + task + "'");
}

}  // namespace nusky

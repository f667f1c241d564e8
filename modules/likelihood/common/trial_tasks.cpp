#include "likelihood/common/trial_tasks.hpp"

#include "likelihood/common/pvalue.hpp"
#include "nusky/config.hpp"
#include "nusky/log.hpp"
#include "nusky/mpi.hpp"

namespace nusky {

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

void record_pvalue(double observed_ts, const TrialBlock& block, RunContext& context)
{
    std::vector<double> local;
    local.reserve(block.results.size());
    for (const auto& r : block.results) local.push_back(r.ts);
    auto all = context.comm.allgather(local);
    if (all.empty()) return;
    double p = pvalue_from_trials(all, observed_ts);
    auto& fit = context.results.group("/fit");
    // Beyond every trial the p-value is only bounded: report p < 1/n and sigma > that.
    bool bound = p == 0.0;
    if (bound) p = 1.0 / static_cast<double>(all.size());
    fit.attributes["p_value"] = p;
    fit.attributes["p_value_is_upper_limit"] = static_cast<std::int64_t>(bound);
    fit.attributes["sigma"] = significance_from_pvalue(p);
    fit.attributes["n_trials"] = static_cast<std::int64_t>(all.size());
    log::info("p-value of TS " + std::to_string(observed_ts) + " from " + std::to_string(all.size()) +
              " trials: " + (bound ? "< " : "") + std::to_string(p));
}

}  // namespace nusky

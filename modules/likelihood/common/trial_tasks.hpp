#pragma once
// Pieces shared by the likelihood modules' trial tasks: a campaign from the [job] section and
// the observed fit's p-value from the campaign's background TS values.
#include "nusky/stages.hpp"
#include "nusky/trials.hpp"

#include <string>

namespace nusky {

// seed, first_trial, trials, checkpoint_every, output and resume from the run's context.
TrialCampaign make_campaign(const RunContext& context, const std::string& label);

// Writes p_value, sigma and n_trials of the observed TS into /fit (collective: gathers TS).
void record_pvalue(double observed_ts, const TrialBlock& block, RunContext& context);

}  // namespace nusky

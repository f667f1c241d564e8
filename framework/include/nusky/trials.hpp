#pragma once
// Background-trial campaigns spread over ranks: trials [first, first + n) are dealt to ranks in
// contiguous blocks; each rank runs its trials on the full (replicated) sample without talking
// to the others, and every `checkpoint_every` trials all ranks write what they finished into
// PATH.tmp (collective parallel HDF5), so that a killed job resumes where it stopped.
// A trial's result depends only on (seed, trial): the same seed gives the same rows on any
// number of ranks.
#include "nusky/mpi.hpp"
#include "nusky/results.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace nusky {

struct TrialResult {
    double ts = 0, ns = 0, gamma = 0;
};

struct TrialCampaign {
    std::uint64_t seed = 1;
    std::int64_t first_trial = 0;
    std::int64_t n_trials = 0;
    std::int64_t checkpoint_every = 1000;
    std::string output_path;       // checkpoints go to output_path + ".tmp"
    std::string config_text;       // a resumed checkpoint must have been made with the same
    std::string code_version;      // config and code version
    bool resume = false;
    std::string label = "trials";  // for progress lines
};

// This rank's trials, in order, with their results (the rows [offset, offset + size)).
struct TrialBlock {
    std::int64_t offset = 0;  // index into the campaign (trial = first_trial + offset + i)
    std::vector<TrialResult> results;
};

// Runs `trial(t)` for this rank's trials; collective. Returns this rank's block.
TrialBlock run_trial_campaign(const TrialCampaign& campaign, const Comm& comm,
                              const std::function<TrialResult(std::int64_t trial)>& trial);

// Puts a campaign's rows into results["/trials"] (ts, ns, gamma; attributes seed, first_trial).
void store_trials(const TrialCampaign& campaign, const TrialBlock& block, Results& results,
                  const Comm& comm);

// Rank 0's progress line: to a terminal it redraws one line, otherwise prints every ~10 s.
class Progress {
public:
    Progress(std::string label, std::int64_t total, bool enabled);
    // done: items finished so far (estimated globally by the caller).
    void update(std::int64_t done);
    void finish();

private:
    std::string label_;
    std::int64_t total_;
    bool enabled_, tty_;
    double start_, last_print_ = -1e9;
};

}  // namespace nusky

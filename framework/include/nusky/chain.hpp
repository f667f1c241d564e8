#pragma once
// The chain runner: builds the five modules from the config, runs them SPMD on every rank,
// and agrees on errors collectively so that bad input ends all ranks with one message.
#include "nusky/config.hpp"
#include "nusky/mpi.hpp"
#include "nusky/results.hpp"

#include <functional>
#include <string>
#include <vector>

namespace nusky {

// Thrown on every rank after a collective step failed; the message was printed already.
struct StepFailed {};

// Runs `step` on every rank. If it throws nusky::Error on any rank, the lowest failing rank
// prints its message and every rank throws StepFailed. `step` must not enter a collective
// that a failing rank would skip.
void collective_step(const Comm& comm, const std::function<void()>& step);

struct RunOptions {
    std::string output_override;  // --output
    bool resume = false;          // --resume
    std::vector<std::string> plugins;  // --plugin (loaded before [job] plugins)
};

struct RunSummary {
    std::string task, output_path;
    std::int64_t events = 0;
    int ranks = 1;
    double wall_s = 0;
    Results results;
};

// Builds and configures every module of the chain and checks the config (every key used,
// the task supported, the output directory writable). Throws StepFailed (already reported).
// Returns the output path.
std::string validate_chain(Config& config, const Comm& comm, const RunOptions& options);

// Runs the whole chain. Throws StepFailed (already reported) on bad input.
RunSummary run_chain(Config& config, const Comm& comm, const RunOptions& options);

// A plain-text table of the run for rank 0 to print.
std::string format_summary(const RunSummary& summary);

}  // namespace nusky

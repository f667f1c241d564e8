#pragma once
// What a likelihood gives the task engines (nusky/tasks.hpp): a Hypothesis, its terms on the
// job's samples (PDFs, yields, likelihood sums), and for signal trials an Injector. The engines
// run fit, trials, inject and sensitivity on any hypothesis; the likelihood never looks at the
// task.
//
//   samples --Likelihood::hypothesis()--> Hypothesis --engine of [job] task--> Results
//                                            |  fit()               observed samples, sharded
//                                            |  background_trials() whole samples, scrambled
//                                            |  signal_trial()      scrambled + injected
//                                            `- injector()          injected events per sample
//
// Random numbers: trial t scrambles sample k with stream (seed, t, event, k) and injects with
// the injector's own streams, so every row is a pure function of (seed, trial) on any rank.
#include "nusky/event.hpp"
#include "nusky/results.hpp"
#include "nusky/trials.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace nusky {

class Comm;
struct RunContext;

// Signal events for trials (tasks inject and sensitivity).
class Injector {
public:
    virtual ~Injector() = default;
    // The events injected into each sample in `trial` for a mean of `mu` events in all: a pure
    // function of (seed, trial, mu), one Events per sample, on any rank.
    virtual std::vector<Events> draw(std::uint64_t seed, std::int64_t trial, double mu) const = 0;
    // How many draw() gives in all, without drawing them.
    virtual std::int64_t count(std::uint64_t seed, std::int64_t trial, double mu) const = 0;
    // Candidate events the draws come from (for /injection).
    virtual std::int64_t pool_size() const = 0;

    // Expected events per unit of the reported flux (0: no flux conversion), so that
    // flux = mean / events_per_flux_unit.
    double events_per_flux_unit = 0.0;
    std::string flux_unit;  // e.g. "E^2 dN/dE at 100000 GeV [TeV cm^-2 s^-1], point flux E^-2"
    std::map<std::string, AttributeValue> attributes;  // written to /injection
};

class Hypothesis {
public:
    virtual ~Hypothesis() = default;

    // Names the analysis in progress lines ("point-source" -> "point-source trials").
    virtual std::string label() const = 0;

    // The fit of the observed samples (this rank's shares, sums reduced over ranks): collective.
    // Writes /fit (and the likelihood's own groups) and returns TS, n_s and gamma.
    virtual TrialResult fit(RunContext& context) = 0;

    // Gives this rank whole copies of the samples for trials (collective; once, before trials).
    virtual void replicate(const Comm& comm) = 0;

    // Background trials trial, trial + 1, ..., trial + count - 1 (count <= trial_batch()), each
    // with the samples scrambled: rank-local, after replicate().
    virtual int trial_batch() const { return 1; }
    virtual void background_trials(std::uint64_t seed, std::int64_t trial, int count, TrialResult* out) = 0;

    // The injector of signal trials (collective). The default: this hypothesis cannot inject.
    virtual std::unique_ptr<Injector> injector(RunContext& context);
    // A signal trial: the samples scrambled for `trial` plus the injected events (one Events per
    // sample): rank-local, after replicate() and injector(). With nothing injected it is a
    // background trial of the signal-trial code path.
    virtual TrialResult signal_trial(std::uint64_t seed, std::int64_t trial, const std::vector<Events>& injected);
};

}  // namespace nusky

#pragma once
// The five stage interfaces of a nusky chain and the context every stage sees.
//   reader -> selection -> reco adapter -> likelihood -> aggregation
#include "nusky/event.hpp"
#include "nusky/hypothesis.hpp"
#include "nusky/module.hpp"
#include "nusky/results.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nusky {

class Comm;
class Config;

// [job]: what to run and where to write it. A module like the others, so that
// `nusky describe job` lists its keys.
class JobSpec : public Module {
public:
    Parameter<std::string> task{this, "task", "fit", "fit | trials | scan | inject | sensitivity"};
    PathParameter<std::string> output{this, "output", "nusky_results.h5", PathKind::output, "",
                                  "results file (HDF5); written as PATH.tmp and renamed when complete"};
    Parameter<std::int64_t> seed{this, "seed", 1, "random seed of trials and simulations"};
    Parameter<std::int64_t> trials{this, "trials", 0, "number of background trials"};
    Parameter<std::int64_t> first_trial{this, "first_trial", 0,
                                        "index of the first trial (job arrays split a campaign)"};
    Parameter<std::int64_t> checkpoint_every{this, "checkpoint_every", 1000,
                                             "trials per checkpoint block"};
    Parameter<std::int64_t> nside{this, "nside", 128, "HEALPix nside of the all-sky scan (64 to 512)"};
    Parameter<std::vector<double>> inject_ns{this, "inject_ns", {},
                                             "mean numbers of injected signal events, comma separated "
                                             "(tasks inject, sensitivity)"};
    Parameter<std::vector<double>> inject_flux{this, "inject_flux", {},
                                               "injected fluxes instead of mean numbers, in the likelihood's "
                                               "flux unit (E^2 dN/dE at its pivot, TeV cm^-2 s^-1)"};
    Parameter<std::int64_t> signal_trials{this, "signal_trials", 100,
                                          "signal trials per injected mean (tasks inject, sensitivity)"};
    PathParameter<std::vector<std::string>> plugins{this, "plugins", {}, PathKind::library, "",
                                                "shared libraries with extra modules, comma separated"};
    Parameter<std::vector<std::string>> samples{
        this, "samples", {},
        "names of the samples fitted jointly, comma separated; each has its own [reader.NAME] "
        "(and optional [selection.NAME], [reco.NAME]) sections. Empty: one sample from [reader]"};
    void validate() override;
};

// The most trials (background or signal trials per mean) one job runs.
inline constexpr std::int64_t kMaxTrialsPerJob = 1000000000;

struct RunContext {
    const Comm& comm;
    const JobSpec& job;
    const Config& config;
    Results& results;
    std::string output_path;  // the final path; writers use output_path + ".tmp"
    bool resume = false;
};

// What a reader's inputs hold, from their headers (the events are not read).
struct SampleHeader {
    std::optional<bool> has_mc;  // MC events come with the data; unknown when not set
};

class Reader : public Module {
public:
    // Opens the inputs' headers and checks what can be checked without reading the events
    // (files, seasons, columns). Run by `nusky validate` and by a run before it reads; no
    // collectives. The default knows nothing.
    virtual SampleHeader inspect(RunContext& context) { return {}; }
    // This rank's share of the events (and MC). Must not call collectives after a
    // possible error on one rank only; collectives up front (file open) are fine.
    virtual EventSample read(RunContext& context) = 0;
};

struct CutCounts {
    std::vector<std::string> names;
    std::vector<std::int64_t> passed;  // events passing each cut in turn (local counts)
};

class Selection : public Module {
public:
    // Loads and checks the selection's own inputs (good-run lists); no collectives. Run by
    // `nusky validate` and by a run before it reads.
    virtual void inspect(RunContext& context) {}
    // Removes the events that fail; returns the local pass counts per cut.
    virtual CutCounts apply(Events& events, RunContext& context) = 0;
};

class RecoAdapter : public Module {
public:
    // Maps a reconstruction's columns onto the canonical event (floors, pull corrections).
    virtual void adapt(Events& events, RunContext& context) = 0;
};

// One sample of a job: the events of one [reader.NAME] -> [selection.NAME] -> [reco.NAME]
// chain, with its own PDFs in the likelihood (PHYSICS.md section 10).
struct Sample {
    std::string name;          // from [job] samples; empty for a job of one unnamed sample
    std::uint64_t stream = 0;  // the sample's position in [job] samples: its key in random streams
    EventSample events;        // this rank's share
    std::int64_t n_events = 0;  // selected events on all ranks
};

// A likelihood builds the Hypothesis the task engines run (nusky/tasks.hpp): it holds the
// physics, the engines hold the tasks.
class Likelihood : public Module {
public:
    // Tasks this likelihood can run ("fit", "trials", ...).
    virtual std::vector<std::string> tasks() const = 0;
    // Whether it fits several samples jointly, and which tasks it runs on them.
    virtual bool joint() const { return false; }
    virtual std::vector<std::string> joint_tasks() const { return joint() ? tasks() : std::vector<std::string>{}; }
    // Loads inputs (templates, catalogs) and checks them; no collectives. `nusky validate`
    // runs it too.
    virtual void prepare(RunContext& context) {}
    // Whether tasks inject and sensitivity draw the injected events from the samples' MC.
    virtual bool injects_from_mc() const { return false; }
    // The hypothesis on the job's samples (one unless joint()): builds the PDFs from the
    // samples' global histograms (collective).
    virtual std::unique_ptr<Hypothesis> hypothesis(std::vector<Sample>& samples, RunContext& context) = 0;
    // Task scan: the likelihood's all-sky scan (collective). The default: none.
    virtual void scan(std::vector<Sample>& samples, RunContext& context);
};

class Aggregation : public Module {
public:
    // Writes context.results collectively; PATH.tmp first, renamed when complete.
    virtual void write(RunContext& context) = 0;
};

}  // namespace nusky

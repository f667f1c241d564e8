// Jobs of several samples ([job] samples = a, b): each sample read, selected and adapted by its
// own modules, handed to the likelihood with its name and stream, and counted in /selection.
// A test-only likelihood records what it was given.
#include "../unit/test_paths.hpp"
#include "nusky/chain.hpp"
#include "nusky/config.hpp"
#include "nusky/h5.hpp"
#include "nusky/mpi.hpp"
#include "nusky/registry.hpp"
#include "nusky/stages.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

namespace nusky {
namespace {

// Writes, per sample k, its name, stream, global event count, sum of sin(dec) and whether it
// has MC, as /census attributes (its "fit").
class Census : public Hypothesis {
public:
    explicit Census(std::vector<Sample>& samples) : samples_(samples) {}
    std::string label() const override { return "sample census"; }
    TrialResult fit(RunContext& context) override
    {
        auto& census = context.results.group("/census");
        census.attributes["n_samples"] = static_cast<std::int64_t>(samples_.size());
        for (const auto& s : samples_) {
            const std::string k = std::to_string(s.stream);
            census.attributes["name_" + k] = s.name;
            census.attributes["n_events_" + k] = s.n_events;
            census.attributes["sum_sin_dec_" + k] = context.comm.sum(s.events.data.z.sum());
            census.attributes["mc_" + k] = context.comm.sum(static_cast<std::int64_t>(s.events.mc.size()));
        }
        return {};
    }
    void replicate(const Comm&) override {}
    void background_trials(std::uint64_t, std::int64_t, int, TrialResult*) override {}

private:
    std::vector<Sample>& samples_;
};

class SampleCensus : public Likelihood {
public:
    std::vector<std::string> tasks() const override { return {"fit"}; }
    bool joint() const override { return true; }
    std::unique_ptr<Hypothesis> hypothesis(std::vector<Sample>& samples, RunContext&) override
    {
        return std::make_unique<Census>(samples);
    }
};

NUSKY_REGISTER_MODULE(likelihood, SampleCensus, "sample_census", "test: records the samples it is given")

// The same for one sample only: a job of several samples is refused before anything is read.
class OneSampleCensus : public SampleCensus {
public:
    bool joint() const override { return false; }
};

NUSKY_REGISTER_MODULE(likelihood, OneSampleCensus, "one_sample_census", "test: fits one sample only")

std::string scratch_output(const Comm& comm, const std::string& name)
{
    // One directory for all ranks: rank 0 makes it, everyone uses its name.
    std::string dir = (std::filesystem::temp_directory_path() / "nusky_samples_mpi").string();
    if (comm.is_root()) std::filesystem::create_directories(dir);
    comm.barrier();
    return dir + "/" + name + "_np" + std::to_string(comm.size()) + ".h5";
}

const std::string kSamplesConfig = R"([job]
samples = south, all
[reader.south]
type = simulation
seed = 3
signal = false
n_background = 3000
mc_events = 200
[selection.south]
type = cuts
dec_max_deg = 0
[reader.all]
type = simulation
seed = 4
signal = false
n_background = 1000
mc_events = 0
[likelihood]
type = sample_census
)";

}  // namespace

TEST(test_samples_mpi, EachSampleHasItsOwnChain)
{
    Comm comm;
    const std::string output = scratch_output(comm, "census");
    const std::string gp = test::repo_data("gp2023");
    auto config = Config::from_string(kSamplesConfig, "samples.ini",
                                      {"job.output=" + output, "reader.south.data_dir=" + gp,
                                       "reader.all.data_dir=" + gp});
    RunSummary summary = run_chain(config, comm, {});
    const auto& census = summary.results.groups.at("/census").attributes;
    EXPECT_EQ(std::get<std::int64_t>(census.at("n_samples")), 2);
    EXPECT_EQ(std::get<std::string>(census.at("name_0")), "south");
    EXPECT_EQ(std::get<std::string>(census.at("name_1")), "all");
    const auto south = std::get<std::int64_t>(census.at("n_events_0"));
    EXPECT_GT(south, 1000);  // the cut on dec < 0 keeps the southern part of 3000 events
    EXPECT_LT(south, 3000);
    EXPECT_EQ(std::get<std::int64_t>(census.at("n_events_1")), 1000);  // [selection] absent: none
    EXPECT_LT(std::get<double>(census.at("sum_sin_dec_0")), 0.0);
    EXPECT_EQ(std::get<std::int64_t>(census.at("mc_1")), 0);
    EXPECT_GT(std::get<std::int64_t>(census.at("mc_0")), 0);
    EXPECT_EQ(summary.events, south + 1000);

    comm.barrier();
    if (comm.is_root()) {
        auto file = h5_open_serial(output);
        EXPECT_EQ(h5_read_int64_attribute(file, output, "/selection", "n_read"), 4000);
        EXPECT_EQ(h5_read_int64_attribute(file, output, "/selection", "n_selected"), south + 1000);
        EXPECT_EQ(h5_read_int64_attribute(file, output, "/selection/south", "n_read"), 3000);
        EXPECT_EQ(h5_read_int64_attribute(file, output, "/selection/south", "n_selected"), south);
        EXPECT_EQ(h5_read_int64_attribute(file, output, "/selection/all", "n_selected"), 1000);
        const auto cuts = h5_read_strings(file, output, "/selection/south/names");
        EXPECT_FALSE(cuts.empty());
        EXPECT_EQ(h5_read_int64_attribute(file, output, "/census", "n_events_0"), south);
    }
    comm.barrier();

    // The same sample read alone (no [job] samples) gives the same events.
    const std::string alone_output = scratch_output(comm, "alone");
    auto alone = Config::from_string(
        "[job]\noutput = " + alone_output + "\n[reader]\ntype = simulation\nseed = 3\nsignal = false\n"
        "n_background = 3000\nmc_events = 200\ndata_dir = " + gp +
            "\n[selection]\ntype = cuts\ndec_max_deg = 0\n[likelihood]\ntype = sample_census\n",
        "alone.ini");
    RunSummary one = run_chain(alone, comm, {});
    const auto& one_census = one.results.groups.at("/census").attributes;
    EXPECT_EQ(std::get<std::string>(one_census.at("name_0")), "");
    EXPECT_EQ(std::get<std::int64_t>(one_census.at("n_events_0")), south);
    EXPECT_EQ(std::get<double>(one_census.at("sum_sin_dec_0")), std::get<double>(census.at("sum_sin_dec_0")));
}

TEST(test_samples_mpi, SampleSectionsAreChecked)
{
    Comm comm;
    const std::string gp = test::repo_data("gp2023");
    auto fails = [&](const std::string& text, const std::vector<std::string>& overrides = {}) {
        auto config = Config::from_string(text, "bad.ini", overrides);
        try {
            validate_chain(config, comm, {});
        } catch (const StepFailed&) {
            return true;
        }
        return false;
    };
    auto ok = kSamplesConfig;
    auto config = Config::from_string(ok, "good.ini", {"reader.south.data_dir=" + gp, "reader.all.data_dir=" + gp});
    EXPECT_NO_THROW(validate_chain(config, comm, {}));
    // A plain [reader] beside named samples; a sample's section for a sample not named; a sample
    // without a reader; a name used twice; a likelihood that fits one sample.
    EXPECT_TRUE(fails(ok + "[reader]\ntype = simulation\n"));
    EXPECT_TRUE(fails(ok + "[reco.other]\ntype = passthrough\n"));
    EXPECT_TRUE(fails(ok, {"job.samples=south, all, third"}));
    EXPECT_TRUE(fails(ok, {"job.samples=south, south"}));
    EXPECT_TRUE(fails(ok, {"likelihood.type=one_sample_census"}));
    // Per-sample sections without [job] samples.
    EXPECT_TRUE(fails("[reader]\ntype = simulation\n[reader.a]\ntype = simulation\n[likelihood]\ntype = sample_census\n"));
}

}  // namespace nusky

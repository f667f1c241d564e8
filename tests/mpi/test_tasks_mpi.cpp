// The task engines (nusky/tasks.hpp) on a toy hypothesis whose every number is known: rows in
// trial order on any rank count, batches that give what single trials give, p-values from the
// rows, and the inject and sensitivity bookkeeping (counts, bias curve, thresholds).
#include "nusky/config.hpp"
#include "nusky/mpi.hpp"
#include "nusky/results.hpp"
#include "nusky/rng.hpp"
#include "nusky/stages.hpp"
#include "nusky/tasks.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace nusky {
namespace {

// A trial's TS is a uniform number of its own stream; the observed TS is fixed.
double toy_ts(std::uint64_t seed, std::int64_t trial)
{
    CounterRng rng(seed, static_cast<std::uint64_t>(trial), 0);
    return 10.0 * rng.uniform();
}

// Injects Poisson(mu) events (stream of the trial) into its only sample; a signal trial's TS is
// the background TS plus 100 per injected event, its n_s the number injected.
class ToyInjector : public Injector {
public:
    ToyInjector() { events_per_flux_unit = 4.0; flux_unit = "toy unit"; attributes["toy"] = 1.0; }
    std::vector<Events> draw(std::uint64_t seed, std::int64_t trial, double mu) const override
    {
        Events e;
        e.resize(count(seed, trial, mu));
        return {e};
    }
    std::int64_t count(std::uint64_t seed, std::int64_t trial, double mu) const override
    {
        CounterRng rng(seed, (1ULL << 62) | static_cast<std::uint64_t>(trial), 0);
        return static_cast<std::int64_t>(rng.poisson(mu));
    }
    std::int64_t pool_size() const override { return 7; }
};

class ToyHypothesis : public Hypothesis {
public:
    explicit ToyHypothesis(int batch) : batch_(batch) {}
    std::string label() const override { return "toy"; }
    TrialResult fit(RunContext& context) override
    {
        context.results.group("/fit").attributes["ts"] = 7.5;
        return {7.5, 1.0, 2.0};
    }
    void replicate(const Comm&) override { replicated_ = true; }
    int trial_batch() const override { return batch_; }
    void background_trials(std::uint64_t seed, std::int64_t trial, int count, TrialResult* out) override
    {
        EXPECT_TRUE(replicated_);
        EXPECT_LE(count, batch_);
        for (int i = 0; i < count; ++i) out[i] = {toy_ts(seed, trial + i), static_cast<double>(trial + i), 2.0};
    }
    std::unique_ptr<Injector> injector(RunContext&) override { return std::make_unique<ToyInjector>(); }
    TrialResult signal_trial(std::uint64_t seed, std::int64_t trial, const std::vector<Events>& injected) override
    {
        EXPECT_TRUE(replicated_);
        const auto n = static_cast<double>(injected.at(0).size());
        return {toy_ts(seed, trial) + 100.0 * n, n, 2.0};
    }

private:
    int batch_;
    bool replicated_ = false;
};

std::string scratch_output(const Comm& comm, const std::string& name)
{
    std::string dir = (std::filesystem::temp_directory_path() / "nusky_tasks_mpi").string();
    if (comm.is_root()) std::filesystem::create_directories(dir);
    comm.barrier();
    return dir + "/" + name + "_np" + std::to_string(comm.size()) + ".h5";
}

// Runs `task` of a toy hypothesis and returns the results (no file is written but checkpoints).
Results run_toy(const std::string& job_text, int batch, const std::string& name)
{
    Comm comm;
    const std::string output = scratch_output(comm, name);
    auto config = Config::from_string(job_text + "output = " + output + "\n", "toy.ini");
    JobSpec job;
    job.configure(config, "job");
    Results results;
    RunContext context{comm, job, config, results, output};
    ToyHypothesis toy(batch);
    if (job.task() == "trials") run_trials_task(toy, context);
    else if (job.task() == "inject") run_inject_task(toy, context);
    else run_sensitivity_task(toy, context);
    comm.barrier();
    if (comm.is_root()) {
        std::filesystem::remove(output + ".tmp");
        std::filesystem::remove(output + ".ckpt");
    }
    return results;
}

std::vector<double> gathered(const Results& results, const std::string& group, const std::string& name)
{
    const auto& d = results.groups.at(group).datasets.at(name);
    Comm comm;
    return comm.allgather(std::get<std::vector<double>>(d.local));
}

}  // namespace

TEST(test_tasks_mpi, TrialsInOrderWhateverTheBatch)
{
    const std::string job = "[job]\ntask = trials\ntrials = 53\nfirst_trial = 4\ncheckpoint_every = 7\nseed = 9\n";
    for (int batch : {1, 3, 8}) {
        Results r = run_toy(job, batch, "trials" + std::to_string(batch));
        const auto ts = gathered(r, "/trials", "ts"), ns = gathered(r, "/trials", "ns");
        ASSERT_EQ(ts.size(), 53u);
        double above = 0;
        for (std::size_t i = 0; i < ts.size(); ++i) {
            EXPECT_EQ(ts[i], toy_ts(9, static_cast<std::int64_t>(4 + i))) << "batch " << batch << " row " << i;
            EXPECT_EQ(ns[i], static_cast<double>(4 + i));
            above += ts[i] >= 7.5;
        }
        const auto& fit = r.groups.at("/fit").attributes;
        EXPECT_DOUBLE_EQ(std::get<double>(fit.at("p_value")), above / 53.0);
        EXPECT_EQ(std::get<std::int64_t>(fit.at("n_trials")), 53);
    }
}

TEST(test_tasks_mpi, InjectCountsAndBiasCurve)
{
    const std::string job = "[job]\ntask = inject\ninject_ns = 3\ninject_flux = 0.25\nsignal_trials = 11\nseed = 2\n";
    Results r = run_toy(job, 1, "inject");
    const auto n_injected = gathered(r, "/injection", "n_injected"), ns = gathered(r, "/injection", "ns");
    const auto mean = gathered(r, "/injection", "n_inj_mean");
    ASSERT_EQ(ns.size(), 22u);
    ToyInjector injector;
    for (std::size_t i = 0; i < ns.size(); ++i) {
        EXPECT_EQ(n_injected[i], ns[i]);  // the engine's count is the injector's draw
        EXPECT_EQ(mean[i], i < 11 ? 1.0 : 3.0);  // flux 0.25 x 4 events per unit = mean 1, sorted first
        EXPECT_EQ(n_injected[i], static_cast<double>(injector.count(2, static_cast<std::int64_t>(i), mean[i])));
    }
    const auto& attrs = r.groups.at("/injection").attributes;
    EXPECT_EQ(std::get<double>(attrs.at("toy")), 1.0);
    EXPECT_EQ(std::get<std::int64_t>(attrs.at("pool_events")), 7);
    // Replicated datasets are held (and written) by rank 0.
    const auto flux = std::get<std::vector<double>>(r.groups.at("/injection").datasets.at("bias_flux").local);
    if (Comm().is_root()) {
        EXPECT_EQ(flux, (std::vector<double>{0.25, 0.75}));
    }
}

TEST(test_tasks_mpi, SensitivityFromBackgroundAndSignalRows)
{
    const std::string job =
        "[job]\ntask = sensitivity\ntrials = 40\ninject_ns = 0.01, 5\nsignal_trials = 10\nseed = 3\n";
    Results r = run_toy(job, 1, "sensitivity");
    const auto background = gathered(r, "/trials", "ts");
    ASSERT_EQ(background.size(), 40u);
    for (std::size_t i = 0; i < background.size(); ++i)
        EXPECT_EQ(background[i], toy_ts(3, static_cast<std::int64_t>(i)));  // nothing injected
    const auto& s = r.groups.at("/sensitivity").attributes;
    // Background TS < 10 always; a trial with >= 1 event has TS >= 100. The passing fractions
    // follow from the rows: signal trial 40 + 10 g + i at mean g.
    const double median = std::get<double>(s.at("background_median_ts"));
    const auto above = std::get<std::vector<double>>(r.groups.at("/sensitivity").datasets.at("fraction_above_median").local);
    if (!Comm().is_root()) return;  // replicated datasets are held by rank 0
    ASSERT_EQ(above.size(), 2u);
    ToyInjector injector;
    const double means[2] = {0.01, 5.0};
    for (int g = 0; g < 2; ++g) {
        double expected = 0;
        for (int i = 0; i < 10; ++i) {
            const std::int64_t t = 40 + 10 * g + i;
            expected += toy_ts(3, t) + 100.0 * static_cast<double>(injector.count(3, t, means[g])) > median;
        }
        EXPECT_DOUBLE_EQ(above[static_cast<std::size_t>(g)], expected / 10.0) << "mean " << means[g];
    }
    EXPECT_GE(above[1], 0.9);
    const double sens = std::get<double>(s.at("sensitivity_ns"));
    EXPECT_GT(sens, 0.01);
    EXPECT_LE(sens, 5.0);
    EXPECT_DOUBLE_EQ(std::get<double>(s.at("sensitivity_flux")), sens / 4.0);
}

}  // namespace nusky

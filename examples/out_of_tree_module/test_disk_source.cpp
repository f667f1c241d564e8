// Unit test of the disk_source plugin likelihood, loaded as nusky loads it. Its hypothesis is
// run as the task engines run it: the fit finds a disk of injected events, background trials
// are signal trials with nothing injected, and injected events fall on the disk.
#include "nusky/config.hpp"
#include "nusky/hypothesis.hpp"
#include "nusky/mpi.hpp"
#include "nusky/plugins.hpp"
#include "nusky/registry.hpp"
#include "nusky/rng.hpp"
#include "nusky/stages.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <sstream>

namespace {

using namespace nusky;

constexpr double kDeg = std::numbers::pi / 180.0;

std::vector<std::string> plugin_files()
{
    std::vector<std::string> out;
    std::stringstream list(NUSKY_TEST_PLUGINS);
    for (std::string item; std::getline(list, item, ',');) out.push_back(item);
    return out;
}

// 3000 events uniform on the sphere plus 80 within 2 deg of (150, 20) deg, all with sigma 0.7 deg.
Events sky()
{
    CounterRng rng(4, 0, 0);
    const Eigen::Index background = 3000, signal = 80;
    Events e;
    e.resize(background + signal);
    for (Eigen::Index i = 0; i < background; ++i) {
        e.ra[i] = 2.0 * std::numbers::pi * rng.uniform();
        e.dec[i] = std::asin(2.0 * rng.uniform() - 1.0);
    }
    for (Eigen::Index i = background; i < background + signal; ++i) {
        const double r = 2.0 * kDeg * std::sqrt(rng.uniform()), phi = 2.0 * std::numbers::pi * rng.uniform();
        e.dec[i] = 20.0 * kDeg + r * std::sin(phi);
        e.ra[i] = 150.0 * kDeg + r * std::cos(phi) / std::cos(20.0 * kDeg);
    }
    e.sigma.setConstant(0.7 * kDeg);
    e.log10_energy.setZero();
    e.compute_unit_vectors();
    return e;
}

struct Job {
    Comm comm{MPI_COMM_SELF};
    JobSpec job;
    Config config;
    Results results;
    RunContext context{comm, job, config, results, "unused.h5"};
};

std::unique_ptr<Likelihood> disk_at(const std::string& keys)
{
    load_plugins(plugin_files());
    auto config = Config::from_string("[likelihood]\n" + keys, "test.ini");
    auto module = create_module<Likelihood>(Stage::likelihood, "disk_source");
    module->configure(config, "likelihood");
    return module;
}

TEST(DiskSource, FindsTheDiskAndRunsTrials)
{
    Job job;
    auto module = disk_at("ra_deg = 150\ndec_deg = 20\nradius_deg = 2\n");
    std::vector<Sample> samples(1);
    samples[0].events.data = sky();
    auto hypothesis = module->hypothesis(samples, job.context);
    const TrialResult fit = hypothesis->fit(job.context);
    EXPECT_GT(fit.ns, 50.0);  // 80 events in the disk, a few background events too
    EXPECT_LT(fit.ns, 110.0);
    EXPECT_GT(fit.ts, 100.0);

    // Elsewhere on the sky there is no disk.
    auto empty = disk_at("ra_deg = 300\ndec_deg = -30\nradius_deg = 2\n")->hypothesis(samples, job.context);
    EXPECT_LT(empty->fit(job.context).ts, 10.0);

    hypothesis->replicate(job.comm);
    auto injector = hypothesis->injector(job.context);
    TrialResult batch[3];
    hypothesis->background_trials(7, 10, 3, batch);
    for (int k = 0; k < 3; ++k) {
        const TrialResult alone = hypothesis->signal_trial(7, 10 + k, injector->draw(7, 10 + k, 0.0));
        EXPECT_EQ(batch[k].ts, alone.ts);  // a background trial is a signal trial with nothing injected
        EXPECT_EQ(batch[k].ns, alone.ns);
        EXPECT_LT(batch[k].ts, 80.0);      // the scramble spreads the disk's events over the band
    }

    const auto injected = injector->draw(7, 3, 40.0);
    ASSERT_EQ(injected.size(), 1u);
    EXPECT_EQ(injected[0].size(), injector->count(7, 3, 40.0));
    EXPECT_GT(injected[0].size(), 20);
    for (Eigen::Index i = 0; i < injected[0].size(); ++i) {
        const double cos_d = std::sin(20 * kDeg) * std::sin(injected[0].dec[i]) +
                             std::cos(20 * kDeg) * std::cos(injected[0].dec[i]) * std::cos(injected[0].ra[i] - 150 * kDeg);
        EXPECT_LT(std::acos(std::min(1.0, cos_d)), (2.0 + 6 * 0.7) * kDeg);
    }
    // A signal trial with the injected events finds more than the background trial of the same number.
    EXPECT_GT(hypothesis->signal_trial(7, 3, injected).ns, hypothesis->signal_trial(7, 3, injector->draw(7, 3, 0.0)).ns);
}

TEST(DiskSource, RefusesAHugeDisk)
{
    load_plugins(plugin_files());
    auto config = Config::from_string("[likelihood]\nradius_deg = 45\n", "test.ini");
    auto module = create_module<Likelihood>(Stage::likelihood, "disk_source");
    try {
        module->configure(config, "likelihood");
        FAIL() << "accepted radius 45 deg";
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("radius_deg: must be in (0, 20]"), std::string::npos) << e.what();
    }
}

}  // namespace

// Selection `cuts`: the good-run list (merging, lookup, the module, bad uptime files) and the
// whole IC40 season against its own uptime file.
#include "selections/cuts/cuts.hpp"

#include "readers/icecube_public/icecube_text.hpp"

#include "../module_harness.hpp"
#include "../test_paths.hpp"
#include "nusky/config.hpp"
#include "nusky/error.hpp"
#include "nusky/mpi.hpp"
#include "nusky/registry.hpp"
#include "nusky/stages.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <memory>

namespace {

using namespace nusky;

using Context = test::ModuleContext;
using test::error_of;

std::unique_ptr<Selection> make_cuts(const std::string& body)
{
    return test::make_module<Selection>(Stage::selection, "selection", "type = cuts\n" + body);
}

std::string write_file(const std::string& name, const std::string& text)
{
    const std::string path = (test::scratch_dir() / name).string();
    std::ofstream(path) << text;
    return path;
}

// n events that pass every default range; with times when `with_mjd`, MC columns when `mc`.
Events plain_events(Eigen::Index n, bool with_mjd, bool mc = false)
{
    Events e;
    e.resize(n, with_mjd, mc);
    e.ra = Eigen::ArrayXd::LinSpaced(n, 0.0, 0.01 * static_cast<double>(n - 1));
    e.dec.setZero();
    e.sigma.setConstant(0.01);
    e.log10_energy.setConstant(3.0);
    if (mc) {
        e.true_ra = e.ra;
        e.true_dec.setZero();
        e.true_energy.setConstant(1e3);
        e.oneweight.setOnes();
    }
    return e;
}

// Events at the given times.
Events events_at(const std::vector<double>& mjd)
{
    Events e = plain_events(static_cast<Eigen::Index>(mjd.size()), true);
    for (std::size_t i = 0; i < mjd.size(); ++i) e.mjd[static_cast<Eigen::Index>(i)] = mjd[i];
    return e;
}

}  // namespace

TEST(GoodRuns, MergeSortsAndJoinsOverlappingAndTouchingRuns)
{
    GoodRuns runs = merge_good_runs({{5, 6}, {1, 2}, {10, 10}, {1.5, 3}, {3, 4}, {5.2, 5.8}});
    EXPECT_EQ(runs.start, (std::vector<double>{1, 5, 10}));
    EXPECT_EQ(runs.stop, (std::vector<double>{4, 6, 10}));
    EXPECT_EQ(merge_good_runs({}).size(), 0u);
    EXPECT_THROW(merge_good_runs({{2, 1}}), Error);
    EXPECT_THROW(merge_good_runs({{std::numeric_limits<double>::quiet_NaN(), 1}}), Error);
    EXPECT_THROW(merge_good_runs({{0, std::numeric_limits<double>::infinity()}}), Error);
}

TEST(GoodRuns, EdgesAreInsideGapsAndOutsideAreNot)
{
    const GoodRuns runs = merge_good_runs({{1, 2}, {3, 4}, {10, 10}});
    for (double t : {1.0, 1.5, 2.0, 3.0, 4.0, 10.0}) EXPECT_TRUE(in_good_run(runs, t)) << t;
    for (double t : {0.0, std::nextafter(1.0, 0.0), std::nextafter(2.0, 3.0), 2.5, 4.5, 9.999, 10.001, 1e6, -1e6,
                     std::numeric_limits<double>::quiet_NaN()}) {
        EXPECT_FALSE(in_good_run(runs, t)) << t;
    }
    EXPECT_FALSE(in_good_run(GoodRuns{}, 1.0));
}

TEST(GoodRuns, ApplyKeepsTheEventsInRunsInOrder)
{
    const GoodRuns runs = merge_good_runs({{1, 2}, {3, 4}});
    Events e = events_at({0.5, 1.0, 2.5, 3.5, 4.0, 7.0, 1.7});
    EXPECT_EQ(apply_good_runs(e, runs), 4);
    EXPECT_EQ(e.mjd.size(), 4);
    EXPECT_TRUE((e.mjd == (Eigen::ArrayXd(4) << 1.0, 3.5, 4.0, 1.7).finished()).all());
    EXPECT_DOUBLE_EQ(e.ra[1], 0.03);  // the other columns follow
    Events none;
    EXPECT_EQ(apply_good_runs(none, runs), 0);
    Events timeless = plain_events(2, false);
    EXPECT_THROW(apply_good_runs(timeless, runs), Error);
}

TEST(CutsModule, GoodRunsFromSeveralFilesIsItsOwnCut)
{
    const std::string a = write_file("runs_a.csv", "MJD_start[days] MJD_stop[days]\n1.0 2.0\n5.0 6.0\n");
    const std::string b = write_file("runs_b.csv", "# MJD_start MJD_stop\n1.5 3.0\n");
    auto cuts = make_cuts("good_runs = " + a + ", " + b + "\nmjd_max = 5.5\n");
    Context c(MPI_COMM_SELF);
    Events e = events_at({0.0, 1.2, 2.9, 3.1, 5.2, 5.9, 6.0});
    CutCounts counts = cuts->apply(e, c.context);
    EXPECT_EQ(counts.names, (std::vector<std::string>{"dec", "log10_energy", "sigma", "mjd", "good_runs"}));
    EXPECT_EQ(counts.passed, (std::vector<std::int64_t>{7, 7, 7, 5, 3}));
    EXPECT_TRUE((e.mjd == (Eigen::ArrayXd(3) << 1.2, 2.9, 5.2).finished()).all());

    // Without good_runs the cut is absent (the four ranges only).
    Events all = events_at({0.0, 1.2});
    EXPECT_EQ(make_cuts("")->apply(all, c.context).names.size(), 4u);
    EXPECT_EQ(all.size(), 2);
}

TEST(CutsModule, GoodRunsNeedTimesExceptOnMc)
{
    const std::string runs = write_file("runs_c.csv", "1.0 2.0\n");
    auto cuts = make_cuts("good_runs = " + runs + "\n");
    Context c(MPI_COMM_SELF);
    Events data = plain_events(3, false);
    EXPECT_EQ(error_of([&] { cuts->apply(data, c.context); }),
              "test.ini: [selection] good_runs: the events have no times (MJD), so no good-run list can be applied");
    // Simulated MC events belong to no run: left alone.
    Events mc = plain_events(3, false, true);
    CutCounts counts = cuts->apply(mc, c.context);
    EXPECT_EQ(counts.passed.back(), 3);
    EXPECT_EQ(mc.size(), 3);
    // A rank with no events has nothing to check.
    Events empty;
    EXPECT_EQ(cuts->apply(empty, c.context).passed.back(), 0);
}

TEST(CutsModule, BadUptimeFilesNameFileAndLine)
{
    Context c(MPI_COMM_SELF);
    auto error = [&](const std::string& name, const std::string& text) {
        const std::string path = write_file(name, text);
        auto cuts = make_cuts("good_runs = " + path + "\n");
        Events e = events_at({1.5});
        return std::pair{path, error_of([&] { cuts->apply(e, c.context); })};
    };
    const std::string header = "MJD_start[days] MJD_stop[days]\n";
    auto [p1, e1] = error("up_truncated.csv", header + "1.0 2.0\n3.0");
    EXPECT_EQ(e1, p1 + ":3: expected 2 columns, found 1");
    auto [p2, e2] = error("up_text.csv", header + "1.0 2.0\n3.0 four\n");
    EXPECT_EQ(e2, p2 + ":3: column 2 (MJD_stop): 'four' is not a finite number");
    auto [p3, e3] = error("up_reversed.csv", header + "1.0 2.0\n3.5 3.0\n");
    EXPECT_EQ(e3, p3 + ":3: MJD_stop 3 before MJD_start 3.5");
    auto [p4, e4] = error("up_nan.csv", header + "nan 2.0\n");
    EXPECT_EQ(e4, p4 + ":2: column 1 (MJD_start): 'nan' is not a finite number");
    auto [p5, e5] = error("up_empty.csv", "");
    EXPECT_EQ(e5, p5 + ": no data rows (empty file?)");
    auto [p6, e6] = error("up_header_only.csv", header);
    EXPECT_EQ(e6, p6 + ": no data rows (empty file?)");
    const std::string missing = (test::scratch_dir() / "no_such_uptime.csv").string();
    auto cuts = make_cuts("good_runs = " + missing + "\n");
    Events e = events_at({1.5});
    EXPECT_EQ(error_of([&] { cuts->apply(e, c.context); }),
              missing + ": cannot open for reading: No such file or directory");
}

// The whole IC40 season, read by the icecube_public reader, against its own good-run list: every
// one of the 36,900 events lies inside a good run (the release's events were taken in them).
TEST(CutsModule, EveryIC40EventIsInAnIC40GoodRun)
{
    Context c(MPI_COMM_SELF);
    auto config = Config::from_string("[reader]\ntype = icecube_public\npath = " +
                                          test::repo_data("ic40/events/IC40_exp.csv") + "\n",
                                      "test.ini");
    config.take("reader", "type");
    auto reader = create_module<Reader>(Stage::reader, "icecube_public");
    reader->configure(config, "reader");
    EventSample sample = reader->read(c.context);
    ASSERT_EQ(sample.data.size(), 36900);

    const std::string uptime = test::repo_data("ic40/uptime/IC40_exp.csv");
    Events events = sample.data;
    CutCounts counts = make_cuts("good_runs = " + uptime + "\n")->apply(events, c.context);
    ASSERT_EQ(counts.names.back(), "good_runs");
    EXPECT_EQ(counts.passed.back(), 36900);

    // Real discrimination, checked against a plain linear scan: keep every other run only.
    const Uptime all = read_uptime(uptime);
    ASSERT_EQ(all.size(), 1420u);
    std::vector<std::pair<double, double>> half;
    for (Eigen::Index r = 0; r < all.mjd_start.size(); r += 2) half.emplace_back(all.mjd_start[r], all.mjd_stop[r]);
    std::int64_t expected = 0;
    for (Eigen::Index i = 0; i < sample.data.size(); ++i) {
        const double t = sample.data.mjd[i];
        for (const auto& [start, stop] : half) {
            if (t >= start && t <= stop) {
                ++expected;
                break;
            }
        }
    }
    Events events_half = sample.data;
    EXPECT_EQ(apply_good_runs(events_half, merge_good_runs(half)), expected);
    EXPECT_GT(expected, 10000);
    EXPECT_LT(expected, 26900);
    std::printf("IC40: 36900 of 36900 events in the 1420 good runs; %lld in every other run\n",
                static_cast<long long>(expected));
}

// 1.1 M events (IC40 times repeated 30 times), the size of the whole 10-year release.
TEST(CutsModule, GoodRunCutOnAMillionEvents)
{
    const Uptime uptime = read_uptime(test::repo_data("ic40/uptime/IC40_exp.csv"));
    std::vector<std::pair<double, double>> intervals;
    for (Eigen::Index r = 0; r < uptime.mjd_start.size(); ++r) intervals.emplace_back(uptime.mjd_start[r], uptime.mjd_stop[r]);
    const GoodRuns runs = merge_good_runs(intervals);
    const IceCubeEvents ic40 = read_events(test::repo_data("ic40/events/IC40_exp.csv"));
    std::vector<double> mjd;
    for (int copy = 0; copy < 30; ++copy) mjd.insert(mjd.end(), ic40.mjd.data(), ic40.mjd.data() + ic40.mjd.size());
    Events e = events_at(mjd);
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(apply_good_runs(e, runs), 30 * 36900);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("good-run cut on %zu events: %.1f ms\n", mjd.size(), ms);
}

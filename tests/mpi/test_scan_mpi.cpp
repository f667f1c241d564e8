// The all-sky scan at any rank count: ring groups cover every pixel once and are balanced, the
// per-pixel results do not depend on how the rings are split (bit for bit), the scan's kernel
// agrees with the point-source fit, and the dropped-event cut changes TS by little.
#include "likelihood/point_source/scan.hpp"
#include "readers/simulation/simulate.hpp"
#include "nusky/data_dir.hpp"

#include "nusky/error.hpp"
#include "nusky/mpi.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numbers>
#include <numeric>
#include <optional>

using namespace nusky;

namespace {

constexpr double kDeg = std::numbers::pi / 180.0;

// A small sky (background + an injected source) and MC, each rank generating its block and
// gathering, as the reader and the scan task do.
PointSourceSettings pdf_settings()
{
    PointSourceSettings s;
    s.energy_binning.log_energy_min = 1.0;
    s.energy_binning.log_energy_max = 8.0;
    return s;
}

// The test sky (replicated on every rank) and its PDFs, built from the whole sample on each rank.
struct SmallSky {
    Events data, mc;
    std::optional<PointSourcePdfs> pdfs;
    explicit SmallSky(const Comm& comm)
    {
        SimulationConfig cfg;
        cfg.seed = 5;
        cfg.background_mean = 3000;
        cfg.signal_mean = 0;
        cfg.poisson_signal = false;
        cfg.mc_count = 20000;
        cfg.ps_count = 40;
        cfg.ps_ra = 100 * kDeg;
        cfg.ps_dec = -30 * kDeg;
        const auto inputs = load_simulation_inputs(find_gp2023_dir());
        Range sky = block_range(static_cast<std::int64_t>(sky_count(cfg)), comm.rank(), comm.size());
        Events local = simulate_sky(cfg, inputs, {}, static_cast<std::size_t>(sky.begin),
                                    static_cast<std::size_t>(sky.size()));
        local.extra.clear();
        local.compute_unit_vectors();
        Range m = block_range(static_cast<std::int64_t>(cfg.mc_count), comm.rank(), comm.size());
        Events local_mc = simulate_mc(cfg, inputs, static_cast<std::size_t>(m.begin), static_cast<std::size_t>(m.size()));
        local_mc.compute_unit_vectors();
        data = local.allgather(comm);
        mc = local_mc.allgather(comm);
        pdfs.emplace(data, mc, Comm(MPI_COMM_SELF), pdf_settings());
    }
};


}  // namespace

TEST(test_scan_mpi, RingGroupsCoverEveryPixelOnceAndBalance)
{
    Comm comm;
    SmallSky sky(comm);
    const PointSourcePdfs& pdfs = *sky.pdfs;
    ScanSky scan(sky.data, pdfs, 1e-3);
    const RingPlan plan = plan_rings(scan, 64);
    ASSERT_EQ(plan.n_rings(), 4 * 64 - 1);
    for (int groups : {1, 2, 3, 4, 7, 16}) {
        const auto bounds = split_rings(plan.cost, groups);
        ASSERT_EQ(bounds.size(), static_cast<std::size_t>(groups) + 1);
        EXPECT_EQ(bounds.front(), 0);
        EXPECT_EQ(bounds.back(), plan.n_rings());
        std::int64_t next_pixel = 0;
        double total = std::accumulate(plan.cost.begin(), plan.cost.end(), 0.0), largest_group = 0.0, largest_ring = 0.0;
        for (int g = 0; g < groups; ++g) {
            ASSERT_LT(bounds[g], bounds[g + 1]) << "empty group " << g << " of " << groups;
            double cost = 0.0;
            for (int r = bounds[g]; r < bounds[g + 1]; ++r) {
                // Rings in order: each group is one contiguous range of RING pixel indices.
                EXPECT_EQ(plan.first_pixel[r], next_pixel);
                next_pixel += plan.n_pixels[r];
                cost += plan.cost[r];
                largest_ring = std::max(largest_ring, plan.cost[r]);
            }
            largest_group = std::max(largest_group, cost);
        }
        EXPECT_EQ(next_pixel, plan.npix) << "every pixel exactly once";
        // Equal shares up to one ring's cost.
        EXPECT_LE(largest_group, total / groups + largest_ring) << groups << " groups";
        if (groups <= 4) {
            EXPECT_LT(largest_group / (total / groups), 1.05) << groups << " groups";
        }
    }
}

TEST(test_scan_mpi, PixelsBitIdenticalWhateverTheRankSplit)
{
    Comm comm;
    SmallSky sky(comm);
    const PointSourcePdfs& pdfs = *sky.pdfs;
    ASSERT_TRUE(pdfs.energy.has_value());
    ScanSky scan(sky.data, pdfs, 1e-3);
    const RingPlan plan = plan_rings(scan, 16);
    // This run's split over the ranks, gathered in rank order ...
    const auto bounds = split_rings(plan.cost, comm.size());
    const ScanBlock mine = scan_rings(scan, plan, bounds[comm.rank()], bounds[comm.rank() + 1]);
    EXPECT_EQ(comm.exclusive_prefix(static_cast<std::int64_t>(mine.ts.size())),
              plan.first_pixel[bounds[comm.rank()]]);
    const auto ts = comm.allgather(mine.ts);
    const auto ns = comm.allgather(mine.ns);
    ASSERT_EQ(static_cast<std::int64_t>(ts.size()), plan.npix);
    // ... equals one process scanning every ring, and a 3-way split done serially.
    const ScanBlock whole = scan_rings(scan, plan, 0, plan.n_rings());
    ASSERT_EQ(whole.ts.size(), ts.size());
    EXPECT_EQ(std::memcmp(whole.ts.data(), ts.data(), ts.size() * sizeof(double)), 0) << "ts differs from 1 rank";
    EXPECT_EQ(std::memcmp(whole.ns.data(), ns.data(), ns.size() * sizeof(double)), 0) << "ns differs from 1 rank";
    const auto three = split_rings(plan.cost, 3);
    std::vector<double> joined;
    for (int g = 0; g < 3; ++g) {
        const auto b = scan_rings(scan, plan, three[g], three[g + 1]);
        joined.insert(joined.end(), b.ts.begin(), b.ts.end());
    }
    EXPECT_EQ(std::memcmp(whole.ts.data(), joined.data(), joined.size() * sizeof(double)), 0);
    // The injected source is seen.
    EXPECT_GT(*std::max_element(ts.begin(), ts.end()), 10.0);
}

TEST(test_scan_mpi, KernelMatchesThePointSourceFitAndTheCutIsSmall)
{
    Comm comm;
    SmallSky sky(comm);
    const PointSourcePdfs& pdfs = *sky.pdfs;
    ScanSky exact(sky.data, pdfs, 0.0);
    ScanSky cut(sky.data, pdfs, 1e-3);
    PointSourceEvents reference(sky.data, pdfs, static_cast<double>(sky.data.size()));
    std::vector<std::int32_t> all, near;
    double worst_kernel = 0.0, worst_cut = 0.0;
    int fitted = 0;
    // Pixels on a coarse grid, including the source.
    for (int k = 0; k < 60; ++k) {
        const double ra = k == 0 ? 100 * kDeg : 2.0 * std::numbers::pi * std::fmod(0.618034 * k, 1.0);
        const double dec = k == 0 ? -30 * kDeg : std::asin(-1.0 + 2.0 * std::fmod(0.7548777 * k, 1.0));
        const UnitVector source = unit_vector(ra, dec);
        exact.candidates(dec, all);
        cut.candidates(dec, near);
        const PixelFit a = exact.fit(source, all);
        const PixelFit b = cut.fit(source, near);
        const FitResult r = reference.fit(source, reduce_nothing);
        EXPECT_EQ(a.n_kept, sky.data.size());
        worst_kernel = std::max(worst_kernel, std::abs(a.ts - r.ts) / std::max(1.0, r.ts));
        worst_cut = std::max(worst_cut, std::abs(a.ts - b.ts));
        fitted += a.ts > 0;
        if (k == 0) {
            EXPECT_GT(a.ts, 10.0);
        }
    }
    if (comm.is_root()) {
        std::printf("scan kernel vs point-source fit: max relative TS difference %.3g; "
                    "S R / B cut 1e-3 vs none: max |dTS| %.3g (%d of 60 pixels fitted)\n",
                    worst_kernel, worst_cut, fitted);
    }
    // Same statistic and the same gamma search, different summation order: measured 1.4e-13.
    EXPECT_LT(worst_kernel, 1e-9);
    EXPECT_LT(worst_cut, 1e-2);
}

TEST(test_scan_mpi, GatheredCandidatesFollowTheScrambles)
{
    Comm comm;
    SmallSky sky(comm);
    const PointSourcePdfs& pdfs = *sky.pdfs;
    ScanSky scan(sky.data, pdfs, 1e-3);
    const double dec = -30 * kDeg;
    const UnitVector source = unit_vector(100 * kDeg, dec);
    std::vector<std::int32_t> candidates;
    scan.candidates(dec, candidates);
    ScanCandidates gathered;
    scan.gather(candidates, gathered);
    const PixelFit observed = scan.fit(source, gathered);
    EXPECT_GT(observed.ts, 10.0);
    EXPECT_EQ(observed.ts, scan.fit(source, candidates).ts);
    // A scramble moves the events: the old gather is refused, a new one matches the indices.
    scan.scramble(7, 3);
    EXPECT_THROW(scan.fit(source, gathered), Error);
    scan.gather(candidates, gathered);
    const PixelFit scrambled = scan.fit(source, gathered);
    EXPECT_EQ(scrambled.ts, scan.fit(source, candidates).ts);
    EXPECT_EQ(scrambled.n_kept, scan.fit(source, candidates).n_kept);
    EXPECT_NE(scrambled.ts, observed.ts);
    scan.restore();
    EXPECT_THROW(scan.fit(source, gathered), Error);
    scan.gather(candidates, gathered);
    EXPECT_EQ(scan.fit(source, gathered).ts, observed.ts);
}

TEST(test_scan_mpi, LocalPvaluesFromBackgroundTrials)
{
    // Exponential-like TS at two declinations; p follows the empirical fraction, then the tail.
    std::vector<double> ts;
    const int n = 1000;
    for (int t = 0; t < n; ++t) {
        const double u = (t + 0.5) / n;
        ts.push_back(u < 0.5 ? 0.0 : -2.0 * std::log(2.0 * (1.0 - u)));  // eta = 0.5, chi2(2)
        ts.push_back(u < 0.5 ? 0.0 : -2.0 * std::log(2.0 * (1.0 - u)));
    }
    BackgroundTs bg({-0.5, 0.5}, ts);
    EXPECT_EQ(bg.n_trials(), static_cast<std::size_t>(n));
    EXPECT_NEAR(bg.ndf(0), 2.0, 0.2);
    EXPECT_NEAR(bg.eta(0), 0.5, 0.1);
    EXPECT_DOUBLE_EQ(bg.mlog10p(0.0, 0.0), 0.0);
    EXPECT_NEAR(bg.mlog10p(0.0, -2.0 * std::log(0.2)), 1.0, 0.05);  // p = 0.1
    // Beyond every trial: eta * chi2_2 survival = 0.5 exp(-ts / 2).
    EXPECT_NEAR(bg.mlog10p(0.0, 40.0), -std::log10(0.5 * std::exp(-20.0)), 0.5);
    EXPECT_GT(bg.mlog10p(0.0, 40.0), bg.mlog10p(0.0, 20.0));
}

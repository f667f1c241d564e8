#include "likelihood/common/ps_fit.hpp"

#include "likelihood/common/spatial_pdf.hpp"
#include "nusky/error.hpp"

#include <gtest/gtest.h>

#include <barrier>
#include <iomanip>
#include <limits>
#include <cmath>
#include <numbers>
#include <numeric>
#include <cstdio>
#include <random>
#include <thread>

namespace {

constexpr double pi = std::numbers::pi;

// A toy sky: n_background events uniform on the sphere (B = 1 / 4 pi) and n_signal events
// drawn from the vMF density around the north pole, all with the same sigma.
// Returns S_i / B_i for a source at the pole.
Eigen::ArrayXd toy_sob(int n_background, int n_signal, double sigma, std::uint64_t seed)
{
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const int n = n_background + n_signal;
    Eigen::ArrayXd x(n), y(n), z(n), sig = Eigen::ArrayXd::Constant(n, sigma);
    const double kappa = 1 / (sigma * sigma);
    for (int i = 0; i < n; ++i) {
        // cos psi of a vMF draw by inverting its CDF; uniform for background.
        const double w = i < n_signal ? 1.0 + std::log1p(u(rng) * std::expm1(-2 * kappa)) / kappa
                                      : 2 * u(rng) - 1;
        const double phi = 2 * pi * u(rng);
        const double r = std::sqrt(std::max(0.0, 1 - w * w));
        x[i] = r * std::cos(phi), y[i] = r * std::sin(phi), z[i] = w;
    }
    Eigen::ArrayXd s;
    nusky::vmf_density(x, y, z, sig, nusky::UnitVector{0, 0, 1}, s);
    return s * (4 * pi);
}

nusky::EventTotals all_kept(Eigen::Index n)
{
    return {double(n), double(n)};
}

}  // namespace

TEST(PointSourceLlh, DerivativesMatchFiniteDifferences)
{
    std::mt19937_64 rng(11);
    std::uniform_real_distribution<double> u(-1.0, 5.0);
    std::vector<double> a(1003);  // not a multiple of the 4-event blocks
    for (double& v : a) v = u(rng) / 1000.0;
    for (double ns : {1e-7, 0.5, 5.0, 40.0}) {
        // The value (one log per block of four) against per-event log1p, also near n_s = 0
        // where TS is tiny and cancellation would show.
        double reference = 0.0;
        for (double v : a) reference += std::log1p(ns * v);
        EXPECT_NEAR(nusky::local_llh_sums(a.data(), a.size(), ns, true).value, reference,
                    1e-13 * std::max(1.0, std::abs(reference)));
    }
    {
        // Sample-sized: the running product's rounding stays far below any relevant TS.
        std::vector<double> big(60001);
        for (double& v : big) v = u(rng) / 60001.0;
        long double reference = 0.0L;
        for (double v : big) reference += std::log1p(static_cast<long double>(300.0 * v));
        EXPECT_NEAR(nusky::local_llh_sums(big.data(), big.size(), 300.0, true).value,
                    static_cast<double>(reference),
                    1e-11 * std::abs(static_cast<double>(reference)));
    }
    for (double ns : {0.5, 5.0, 40.0}) {
        const double h = 1e-4;
        const auto at = [&](double s) {
            return nusky::local_llh_sums(a.data(), a.size(), s, true);
        };
        const auto c = at(ns);
        EXPECT_EQ(c.invalid, 0.0);
        EXPECT_NEAR(c.first, (at(ns + h).value - at(ns - h).value) / (2 * h),
                    1e-6 * std::abs(c.first) + 1e-9);
        EXPECT_NEAR(c.second, (at(ns + h).first - at(ns - h).first) / (2 * h),
                    1e-6 * std::abs(c.second) + 1e-9);
        // The value-free pass gives the same derivatives.
        const auto d = nusky::local_llh_sums(a.data(), a.size(), ns, false);
        EXPECT_EQ(d.first, c.first);
        EXPECT_EQ(d.second, c.second);
    }
    // Outside the domain: arguments 1 + ns a_i <= 0 are counted.
    const double neg[2] = {-0.5, 0.1};
    EXPECT_EQ(nusky::local_llh_sums(neg, 2, 3.0, false).invalid, 1.0);
}

TEST(PointSourceFit, RecoversInjectedSignalOnAToySky)
{
    const double sigma = 3.0 * pi / 180;
    const auto sob = toy_sob(10000, 60, sigma, 1);
    const auto r = nusky::fit_ns_only(sob, all_kept(sob.size()));
    EXPECT_NEAR(r.ns, 60.0, 20.0);
    EXPECT_GT(r.ts, 50.0);
    EXPECT_GT(r.n_evaluations, 1);
    EXPECT_LT(r.n_evaluations, 20);
    // It is the maximum: TS at the fitted n_s, and lower on either side.
    const auto totals = all_kept(sob.size());
    EXPECT_NEAR(nusky::ts_at(sob, r.ns, totals), r.ts, 1e-9);
    EXPECT_LT(nusky::ts_at(sob, r.ns * 0.99, totals), r.ts);
    EXPECT_LT(nusky::ts_at(sob, r.ns * 1.01, totals), r.ts);
    // ... and agrees with a brute-force scan (step 0.1: within ~1e-3 of the true maximum).
    double best = 0;
    for (double ns = 0; ns < 200; ns += 0.1) best = std::max(best, nusky::ts_at(sob, ns, totals));
    EXPECT_NEAR(r.ts, best, 1e-3);
    EXPECT_GE(r.ts, best - 1e-12);
}

TEST(PointSourceFit, UnderFluctuationGivesZero)
{
    Eigen::ArrayXd sob = Eigen::ArrayXd::Constant(100, 0.5);
    sob[3] = 1.2;  // sum of (x - 1) still negative
    const auto r = nusky::fit_ns_only(sob, all_kept(sob.size()));
    EXPECT_EQ(r.ns, 0.0);
    EXPECT_EQ(r.ts, 0.0);
    EXPECT_EQ(r.n_evaluations, 1);
}

TEST(PointSourceFit, SignalEverywhereStopsBelowN)
{
    // All events favour signal: the maximum is at the boundary n_s -> N, which is excluded.
    Eigen::ArrayXd sob = Eigen::ArrayXd::Constant(50, 3.0);
    const auto r = nusky::fit_ns_only(sob, all_kept(sob.size()));
    EXPECT_LT(r.ns, 50.0);
    EXPECT_GT(r.ns, 50.0 - 1e-4);
    EXPECT_NEAR(r.ts, 2 * 50 * std::log(3.0), 1e-3);
}

TEST(PointSourceFit, DroppedEventsGiveTheSameFit)
{
    // Events with S/B = 0 contribute ln(1 - ns/N) exactly, whether passed or added back.
    auto sob = toy_sob(3000, 25, 5.0 * pi / 180, 2);
    Eigen::ArrayXd kept_values(sob.size());
    int kept = 0;
    for (Eigen::Index i = 0; i < sob.size(); ++i) {
        if (i % 3 == 0)
            sob[i] = 0.0;  // a third of the events carry no signal density at all
        else
            kept_values[kept++] = sob[i];
    }
    const Eigen::ArrayXd kept_sob = kept_values.head(kept);
    const auto all = nusky::fit_ns_only(sob, all_kept(sob.size()));
    const auto dropped = nusky::fit_ns_only(kept_sob, {double(sob.size()), double(kept)});
    ASSERT_GT(all.ts, 1.0);
    EXPECT_NEAR(dropped.ts, all.ts, 1e-9 * all.ts);
    EXPECT_NEAR(dropped.ns, all.ns, 1e-6);
    EXPECT_NEAR(nusky::ts_at(kept_sob, 10.0, {double(sob.size()), double(kept)}),
                nusky::ts_at(sob, 10.0, all_kept(sob.size())), 1e-9);
}

TEST(PointSourceFit, ExcessFormIsTheSameLikelihood)
{
    const auto sob = toy_sob(2000, 20, 4.0 * pi / 180, 3);
    const Eigen::ArrayXd excess = sob - 1.0;
    nusky::PointSourceFitter fitter;
    const auto a =
        fitter.fit_ns(sob.data(), sob.size(), all_kept(sob.size()), nusky::reduce_nothing, 2.7);
    const auto b = fitter.fit_ns_excess(excess.data(), excess.size(), all_kept(sob.size()),
                                        nusky::reduce_nothing, 2.7);
    EXPECT_NEAR(a.ts, b.ts, 1e-10);
    EXPECT_NEAR(a.ns, b.ns, 1e-8);
    EXPECT_EQ(a.gamma, 2.7);
}

TEST(PointSourceFit, NegativeExcessRespectsTheDomain)
{
    // Template-like excess: some events have d_i < -1, which bounds n_s below N.
    Eigen::ArrayXd d(6);
    d << 40.0, 30.0, -5.0, -2.0, 0.5, -0.1;
    nusky::PointSourceFitter fitter;
    const auto r =
        fitter.fit_ns_excess(d.data(), d.size(), all_kept(d.size()), nusky::reduce_nothing);
    EXPECT_GT(r.ns, 0.0);
    EXPECT_LT(r.ns, 6.0 / 5.0);  // 1 + ns (-5) / 6 > 0
    EXPECT_TRUE(std::isfinite(r.ts));
    // The maximum: the missing TS of a further Newton step is below the tolerance, and the
    // TS is lower on either side.
    const Eigen::ArrayXd a = d / 6.0;
    const auto at = nusky::local_llh_sums(a.data(), a.size(), r.ns, true);
    EXPECT_LT(at.first * at.first / -at.second, 1e-8);
    EXPECT_NEAR(2 * at.value, r.ts, 1e-12);
    const Eigen::ArrayXd sob = d + 1.0;
    EXPECT_LT(nusky::ts_at(sob, r.ns - 1e-3, all_kept(6)), r.ts);
    EXPECT_LT(nusky::ts_at(sob, r.ns + 1e-3, all_kept(6)), r.ts);
}

TEST(PointSourceFit, DistributedSumsGiveTheSameResult)
{
    // Two "ranks" as threads, each with half of the events, summing through a barrier:
    // the fit must take the same steps on both and match the single-process fit.
    const auto sob = toy_sob(4000, 30, 3.0 * pi / 180, 4);
    const auto totals = all_kept(sob.size());
    const auto single = nusky::fit_ns_only(sob, totals);

    const Eigen::Index half = sob.size() / 2;
    const Eigen::ArrayXd part[2] = {sob.head(half), sob.tail(sob.size() - half)};
    double shared[2][8];
    std::barrier sync(2);
    nusky::FitResult results[2];
    auto rank = [&](int r) {
        nusky::ReduceSum reduce = [&](double* v, int n) {
            std::copy(v, v + n, shared[r]);
            sync.arrive_and_wait();
            for (int i = 0; i < n; ++i) v[i] = shared[0][i] + shared[1][i];
            sync.arrive_and_wait();
        };
        results[r] = nusky::fit_ns_only(part[r], totals, reduce);
    };
    std::thread t0(rank, 0), t1(rank, 1);
    t0.join();
    t1.join();
    for (const auto& r : results) {
        EXPECT_NEAR(r.ts, single.ts, 1e-9 * single.ts);
        EXPECT_NEAR(r.ns, single.ns, 1e-6);
        EXPECT_EQ(r.n_evaluations, results[0].n_evaluations);
    }
}

namespace {

// Energy ratios on the default grid: signal events prefer gamma = 2.5, background is neutral.
nusky::EventEnergyRatios toy_ratios(Eigen::Index n, int n_signal)
{
    const auto grid = nusky::GammaGrid::uniform(1.0, 4.0, 0.1);
    Eigen::ArrayXXd table = Eigen::ArrayXXd::Ones(n, grid.size);
    for (int k = 0; k < grid.size; ++k) {
        const double g = grid.value(k);
        for (int i = 0; i < n_signal; ++i)
            table(i, k) = 0.2 + 3.0 * std::exp(-std::pow((g - 2.5) / 0.6, 2));
    }
    return nusky::EventEnergyRatios(grid, table);
}

}  // namespace

// Without an excess at any gamma the fit skips the gamma search (one pass over the events):
// the same result as the search, which starts at gamma_max and never leaves n_s = 0.
TEST(PointSourceFit, NoExcessShortcutMatchesSearch)
{
    const auto ratios = toy_ratios(3000, 40);
    nusky::PointSourceFitter fitter;
    for (double level : {0.3, 0.9, 0.97}) {
        const Eigen::ArrayXd sob = Eigen::ArrayXd::Constant(3000, level);
        const auto totals = all_kept(sob.size());
        const auto fast = fitter.fit(sob, ratios, totals, nusky::reduce_nothing);
        const auto search = fitter.fit(
            [&](double g, double* out) { ratios.multiply(g, sob.data(), out); }, 3000, totals,
            nusky::reduce_nothing);
        EXPECT_EQ(fast.ts, 0.0) << level;
        EXPECT_EQ(fast.ts, search.ts) << level;
        EXPECT_EQ(fast.ns, search.ns) << level;
        EXPECT_EQ(fast.gamma, search.gamma) << level;
        EXPECT_EQ(fast.n_evaluations, 0) << level;
    }
}

TEST(PointSourceFit, FitsSpectralIndex)
{
    const int n_signal = 40;
    const auto sob = toy_sob(8000, n_signal, 3.0 * pi / 180, 5);
    const auto ratios = toy_ratios(sob.size(), n_signal);
    const auto totals = all_kept(sob.size());
    const auto r = nusky::fit_ns_gamma(sob, ratios, totals);
    EXPECT_NEAR(r.gamma, 2.5, 0.01);
    EXPECT_NEAR(r.ns, n_signal, 15.0);

    // Brute force over gamma: no grid point beats the fit.
    nusky::PointSourceFitter fitter;
    Eigen::ArrayXd x(sob.size());
    double best = 0;
    for (double g = 1.0; g <= 4.0001; g += 0.05) {
        ratios.multiply(g, sob.data(), x.data());
        best = std::max(best, fitter.fit_ns(x.data(), x.size(), totals, nusky::reduce_nothing).ts);
    }
    EXPECT_GE(r.ts, best - 1e-9) << std::setprecision(12) << r.ts << " vs " << best;

    // Gamma pinned: the fitter with gamma_min == gamma_max evaluates once there.
    nusky::FitSettings fixed;
    fixed.gamma_min = fixed.gamma_max = 3.0;
    const auto pinned = nusky::fit_ns_gamma(sob, ratios, totals, nusky::reduce_nothing, fixed);
    EXPECT_EQ(pinned.gamma, 3.0);
    ratios.multiply(3.0, sob.data(), x.data());
    EXPECT_NEAR(pinned.ts, fitter.fit_ns(x.data(), x.size(), totals, nusky::reduce_nothing).ts,
                1e-9);
}

TEST(PointSourceFit, RejectsInconsistentTotalsAndNonFiniteInput)
{
    Eigen::ArrayXd sob = Eigen::ArrayXd::Constant(10, 2.0);
    EXPECT_THROW(nusky::fit_ns_only(sob, {0.0, 0.0}), nusky::Error);
    EXPECT_THROW(nusky::fit_ns_only(sob, {10.0, 11.0}), nusky::Error);
    EXPECT_THROW(nusky::fit_ns_gamma(sob, nusky::EventEnergyRatios::unity(9), {10, 10}),
                 nusky::Error);
    sob[4] = std::numeric_limits<double>::infinity();  // an event with B = 0
    EXPECT_THROW(nusky::fit_ns_only(sob, {10.0, 10.0}), nusky::Error);
    sob[4] = std::nan("");
    EXPECT_THROW(nusky::fit_ns_only(sob, {10.0, 10.0}), nusky::Error);
}

TEST(PointSourceFit, DroppingNegligibleEventsWithEnergyKeepsTheFit)
{
    // Events with spatial S/B below 1e-12 of the largest (a third of them forced there):
    // dropping them, with the exact ln(1 - n_s/N) term, leaves the (n_s, gamma) fit unchanged
    // to the size of what was dropped.
    const int n_signal = 30;
    auto sob = toy_sob(6000, n_signal, 3.0 * pi / 180, 6);
    for (Eigen::Index i = n_signal; i < sob.size(); i += 3) sob[i] = 1e-14 * sob.maxCoeff();
    const auto ratios = toy_ratios(sob.size(), n_signal);
    const auto all = nusky::fit_ns_gamma(sob, ratios, all_kept(sob.size()));

    std::vector<Eigen::Index> kept;
    Eigen::ArrayXd kept_sob;
    const std::size_t n_kept =
        nusky::select_events_above(sob, 1e-12 * sob.maxCoeff(), kept, kept_sob);
    // 3-degree events far from the source are negligible too: most of the sky is dropped.
    EXPECT_EQ(n_kept, static_cast<std::size_t>((sob >= 1e-12 * sob.maxCoeff()).count()));
    EXPECT_LT(n_kept, static_cast<std::size_t>(sob.size() / 2));
    EXPECT_EQ(kept_sob.size(), static_cast<Eigen::Index>(n_kept));
    for (std::size_t j = 0; j < n_kept; ++j) EXPECT_EQ(kept_sob[j], sob[kept[j]]);

    nusky::PointSourceFitter fitter;
    const auto dropped = fitter.fit(kept_sob, kept, ratios, {double(sob.size()), double(n_kept)},
                                    nusky::reduce_nothing);
    ASSERT_GT(all.ts, 10.0);
    EXPECT_NEAR(dropped.ts, all.ts, 1e-6);
    EXPECT_NEAR(dropped.ns, all.ns, 1e-4);
    EXPECT_NEAR(dropped.gamma, all.gamma, 1e-4);
}

namespace {

// A harder gamma problem: n_signal events near the source whose energy ratio peaks at
// gamma_signal, and background events with random smooth ratio curves (rising, falling or
// humped in gamma), so the TS profile over gamma has kinks, plateaus and at times two maxima.
struct GammaProblem {
    Eigen::ArrayXd sob;
    nusky::EventEnergyRatios ratios;
};

GammaProblem random_gamma_problem(std::uint64_t seed, int n_signal, double gamma_signal)
{
    const int n = 3000;
    const auto grid = nusky::GammaGrid::uniform(1.0, 4.0, 0.1);
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    Eigen::ArrayXd sob = toy_sob(n - n_signal, n_signal, 4.0 * pi / 180, seed);
    Eigen::ArrayXXd table(n, grid.size);
    for (int i = 0; i < n; ++i) {
        const bool signal = i < n_signal;
        const double centre = signal ? gamma_signal + 0.3 * (u(rng) - 0.5) : 1.0 + 3.0 * u(rng);
        const double width = signal ? 0.5 : 0.3 + 2.0 * u(rng);
        const double height = signal ? 4.0 : 3.0 * u(rng);
        const double tilt = signal ? 0.0 : 0.6 * (u(rng) - 0.5);
        for (int k = 0; k < grid.size; ++k) {
            const double g = grid.value(k);
            table(i, k) = std::max(0.05, 0.3 + tilt * (g - 2.5) + height * std::exp(-std::pow((g - centre) / width, 2)));
        }
    }
    return {sob, nusky::EventEnergyRatios(grid, table)};
}

// The best TS over a 0.002-step gamma scan (n_s fitted at each gamma).
double best_ts_on_fine_grid(const GammaProblem& p, const nusky::EventTotals& totals)
{
    nusky::PointSourceFitter fitter;
    Eigen::ArrayXd x(p.sob.size());
    double best = 0.0;
    for (int q = 0; q <= 1500; ++q) {
        p.ratios.multiply(1.0 + 0.002 * q, p.sob.data(), x.data());
        best = std::max(best, fitter.fit_ns(x.data(), x.size(), totals, nusky::reduce_nothing).ts);
    }
    return best;
}

}  // namespace

// The gamma search against a fine scan and against Brent on the same problems: it reaches the
// scan's best TS (it may exceed it: the scan's steps miss the exact maximum), where Brent, a
// local search from the middle of the range, at times stops on a lesser maximum; and it needs
// far fewer passes over the events.
TEST(PointSourceFit, GammaSearchFindsTheProfileMaximum)
{
    int search_passes = 0, brent_passes = 0, brent_misses = 0, problems = 0;
    for (std::uint64_t seed = 1; seed <= 8; ++seed) {
        for (int n_signal : {0, 8, 25}) {
            for (double gamma_signal : {1.6, 2.4, 3.4}) {
                const auto p = random_gamma_problem(seed * 100 + n_signal, n_signal, gamma_signal);
                const auto totals = all_kept(p.sob.size());
                nusky::PointSourceFitter fitter;
                const auto r = fitter.fit(p.sob, p.ratios, totals, nusky::reduce_nothing);
                const double scan = best_ts_on_fine_grid(p, totals);
                EXPECT_GE(r.ts, scan - 1e-6) << "seed " << seed << " n_signal " << n_signal << " gamma "
                                             << gamma_signal << ": fitted gamma " << r.gamma;
                const auto brent = fitter.fit(
                    [&](double g, double* out) { p.ratios.multiply(g, p.sob.data(), out); },
                    static_cast<std::size_t>(p.sob.size()), totals, nusky::reduce_nothing);
                if (r.ts > 0.0) {
                    ++problems;
                    search_passes += r.n_evaluations;
                    brent_passes += brent.n_evaluations;
                    brent_misses += brent.ts < scan - 1e-6;
                }
            }
        }
    }
    ASSERT_GT(problems, 40);
    EXPECT_LT(2 * search_passes, brent_passes) << search_passes << " vs " << brent_passes;
    std::printf("gamma search: %d problems, %d passes (Brent: %d passes, %d below the scan's best)\n",
                problems, search_passes, brent_passes, brent_misses);
}

// Where the signal's energy ratio peaks exactly on a grid point, the profile has a kink there:
// the search stops on the grid point itself (rising on its left, falling on its right).
TEST(PointSourceFit, GammaSearchStopsOnAKinkAtAGridPoint)
{
    const int n = 4000, n_signal = 30;
    const auto grid = nusky::GammaGrid::uniform(1.0, 4.0, 0.1);
    const Eigen::ArrayXd sob = toy_sob(n - n_signal, n_signal, 3.0 * pi / 180, 21);
    Eigen::ArrayXXd table = Eigen::ArrayXXd::Ones(n, grid.size);
    for (int i = 0; i < n_signal; ++i)
        for (int k = 0; k < grid.size; ++k) table(i, k) = 0.5 + 3.0 * std::max(0.0, 1.0 - std::abs(grid.value(k) - 2.7) / 0.5);
    const auto r = nusky::fit_ns_gamma(sob, nusky::EventEnergyRatios(grid, table), all_kept(n));
    EXPECT_GT(r.ts, 10.0);
    EXPECT_EQ(r.gamma, grid.value(17));  // 2.7, the grid point itself
}

// A signal that prefers ever softer (or harder) spectra ends on the range's end.
TEST(PointSourceFit, GammaSearchReachesTheRangeEnds)
{
    const int n = 4000, n_signal = 30;
    const auto grid = nusky::GammaGrid::uniform(1.0, 4.0, 0.1);
    const Eigen::ArrayXd sob = toy_sob(n - n_signal, n_signal, 3.0 * pi / 180, 22);
    for (double direction : {1.0, -1.0}) {
        Eigen::ArrayXXd table = Eigen::ArrayXXd::Ones(n, grid.size);
        for (int i = 0; i < n_signal; ++i)
            for (int k = 0; k < grid.size; ++k) table(i, k) = std::exp(direction * (grid.value(k) - 2.5));
        const auto r = nusky::fit_ns_gamma(sob, nusky::EventEnergyRatios(grid, table), all_kept(n));
        EXPECT_GT(r.ts, 10.0);
        EXPECT_EQ(r.gamma, direction > 0 ? 4.0 : 1.0);
    }
}

// Events in several blocks (a scrambled sample plus injected events) are one event set.
TEST(PointSourceFit, GammaSearchOverBlocksIsOneEventSet)
{
    const auto p = random_gamma_problem(7, 25, 2.4);
    const auto totals = all_kept(p.sob.size());
    nusky::PointSourceFitter fitter;
    const auto whole = fitter.fit(p.sob, p.ratios, totals, nusky::reduce_nothing);
    // Events 0 .. 1233 and 1234 .. n - 1 as two blocks (index lists into the same table).
    const Eigen::Index half = 1234;
    std::vector<Eigen::Index> first(static_cast<std::size_t>(half)), second(static_cast<std::size_t>(p.sob.size() - half));
    std::iota(first.begin(), first.end(), Eigen::Index{0});
    std::iota(second.begin(), second.end(), half);
    const std::vector<nusky::FactorisedSob> split{{p.sob.data(), first.data(), first.size(), &p.ratios},
                                                  {p.sob.data() + half, second.data(), second.size(), &p.ratios}};
    const auto parts = fitter.fit(split, totals, nusky::reduce_nothing);
    ASSERT_GT(whole.ts, 1.0);
    EXPECT_NEAR(parts.ts, whole.ts, 1e-9 * whole.ts);
    EXPECT_NEAR(parts.ns, whole.ns, 1e-7 * whole.ns);
    EXPECT_NEAR(parts.gamma, whole.gamma, 1e-7);
}

// Two "ranks" (threads) with half of the events each: both take the same gamma steps and
// match the single-process fit.
TEST(PointSourceFit, GammaSearchIsTheSameOnEveryRank)
{
    const auto p = random_gamma_problem(9, 25, 2.4);
    const auto totals = all_kept(p.sob.size());
    const auto single = nusky::fit_ns_gamma(p.sob, p.ratios, totals);
    ASSERT_GT(single.ts, 1.0);
    const Eigen::Index half = p.sob.size() / 2;
    std::vector<Eigen::Index> events[2];
    for (Eigen::Index i = 0; i < p.sob.size(); ++i) events[i < half ? 0 : 1].push_back(i);
    std::vector<double> shared[2];
    std::barrier sync(2);
    nusky::FitResult results[2];
    auto rank = [&](int r) {
        nusky::ReduceSum reduce = [&](double* v, int n) {
            shared[r].assign(v, v + n);
            sync.arrive_and_wait();
            for (int i = 0; i < n; ++i) v[i] = shared[0][static_cast<std::size_t>(i)] + shared[1][static_cast<std::size_t>(i)];
            sync.arrive_and_wait();
        };
        const double* factor = p.sob.data() + (r == 0 ? 0 : half);
        nusky::PointSourceFitter fitter;
        results[r] = fitter.fit(factor, events[r].data(), events[r].size(), p.ratios, totals, reduce);
    };
    std::thread t0(rank, 0), t1(rank, 1);
    t0.join();
    t1.join();
    EXPECT_EQ(results[0].ts, results[1].ts);
    EXPECT_EQ(results[0].gamma, results[1].gamma);
    EXPECT_EQ(results[0].n_evaluations, results[1].n_evaluations);
    EXPECT_NEAR(results[0].ts, single.ts, 1e-6 * single.ts);
    EXPECT_NEAR(results[0].gamma, single.gamma, 1e-4);
}

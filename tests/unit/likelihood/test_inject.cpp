// Signal injection and the sensitivity arithmetic (likelihood/common/inject.hpp, sensitivity.hpp).
#include "likelihood/common/inject.hpp"
#include "nusky/sensitivity.hpp"

#include "nusky/error.hpp"
#include "nusky/mpi.hpp"
#include "nusky/rng.hpp"

#include <boost/math/distributions/chi_squared.hpp>
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace {
constexpr double kDeg = std::numbers::pi / 180.0;

double angle(double ra1, double dec1, double ra2, double dec2)
{
    double c = std::sin(dec1) * std::sin(dec2) + std::cos(dec1) * std::cos(dec2) * std::cos(ra1 - ra2);
    return std::acos(std::clamp(c, -1.0, 1.0));
}

// A small MC set: true directions near the equator, reco 2 deg away, OW 1, E = 1e3..1e5.
nusky::Events toy_mc(int n)
{
    nusky::Events mc;
    mc.resize(n, false, true);
    for (int i = 0; i < n; ++i) {
        nusky::CounterRng rng(1, 0, i);
        mc.true_ra[i] = rng.uniform(0, 2 * std::numbers::pi);
        mc.true_dec[i] = rng.uniform(-10, 10) * kDeg;
        mc.ra[i] = mc.true_ra[i];
        mc.dec[i] = mc.true_dec[i] + 2 * kDeg;
        mc.sigma[i] = 3 * kDeg;
        mc.log10_energy[i] = 3 + 2 * rng.uniform();
        mc.true_energy[i] = std::pow(10.0, mc.log10_energy[i]);
        mc.oneweight[i] = 1.0;
    }
    mc.compute_unit_vectors();
    return mc;
}
}  // namespace

TEST(Inject, RotationTakesTheTrueDirectionOntoTheSourceAndKeepsAngles)
{
    const double tra = 1.0, tdec = -0.3, sra = 4.0, sdec = 0.5;
    double ra, dec;
    nusky::rotate_onto_source(tra, tdec, sra, sdec, tra, tdec, ra, dec);
    EXPECT_NEAR(angle(ra, dec, sra, sdec), 0.0, 1e-9);
    const double rra = 1.1, rdec = -0.2;  // a reco direction near the true one
    nusky::rotate_onto_source(tra, tdec, sra, sdec, rra, rdec, ra, dec);
    EXPECT_NEAR(angle(ra, dec, sra, sdec), angle(rra, rdec, tra, tdec), 1e-12);
    EXPECT_GE(ra, 0.0);
    EXPECT_LT(ra, 2 * std::numbers::pi);
}

TEST(Inject, PointSourcePoolSelectsTheBandAndRotates)
{
    nusky::Comm self(MPI_COMM_SELF);
    const auto mc = toy_mc(2000);
    const double src_ra = 2.0, src_dec = 0.0, band = 3 * kDeg;
    const auto pool = nusky::point_source_injection_pool(mc, src_ra, src_dec, 2.0, band, 1e5, 1.0, self);
    int in_band = 0;
    double expected = 0.0;
    const double omega = 2 * std::numbers::pi * 2 * std::sin(band);
    for (int i = 0; i < mc.size(); ++i) {
        if (std::abs(mc.true_dec[i]) <= band) {
            ++in_band;
            expected += std::pow(mc.true_energy[i] / 1e5, -2.0) / omega;
        }
    }
    EXPECT_EQ(pool.size(), in_band);
    EXPECT_NEAR(pool.events_per_unit_flux / expected, 1.0, 1e-12);
    for (Eigen::Index j = 0; j < pool.size(); ++j)  // every reco direction 2 deg from the source
        EXPECT_NEAR(angle(pool.ra[j], pool.dec[j], src_ra, src_dec), 2 * kDeg, 1e-9);
    EXPECT_THROW(nusky::point_source_injection_pool(mc, 0, 60 * kDeg, 2.0, band, 1e5, 1.0, self), nusky::Error);
}

TEST(Inject, DrawsArePureFunctionsOfSeedTrialAndMean)
{
    nusky::Comm self(MPI_COMM_SELF);
    const auto mc = toy_mc(500);
    const auto pool = nusky::point_source_injection_pool(mc, 1.0, 0.0, 2.0, 5 * kDeg, 1e5, 1.0, self);
    const auto a = nusky::draw_injection(pool, 3, 17, 20.0);
    const auto b = nusky::draw_injection(pool, 3, 17, 20.0);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(static_cast<std::uint64_t>(a.size()), nusky::injected_count(3, 17, 20.0));
    EXPECT_TRUE((a.ra == b.ra).all() && (a.sigma == b.sigma).all());
    EXPECT_EQ(nusky::draw_injection(pool, 3, 17, 0.0).size(), 0);
    double total = 0;
    for (int t = 0; t < 400; ++t) total += static_cast<double>(nusky::injected_count(3, t, 20.0));
    EXPECT_NEAR(total / 400, 20.0, 4 * std::sqrt(20.0 / 400));
    // Weighted draws: E^-2 weights on E in 1e3..1e5 favour low energies.
    double low = 0, n = 0;
    for (int t = 0; t < 200; ++t) {
        auto e = nusky::draw_injection(pool, 5, t, 10.0);
        for (Eigen::Index i = 0; i < e.size(); ++i, ++n) low += e.log10_energy[i] < 4.0;
    }
    EXPECT_GT(low / n, 0.85);  // P(log E < 4) = 0.909 for E^-2 weights on log-uniform E
}

TEST(Sensitivity, FractionsAndCrossings)
{
    EXPECT_DOUBLE_EQ(nusky::fraction_above({0, 0, 1, 2}, 0.0), 0.5);
    EXPECT_DOUBLE_EQ(nusky::mean_at_fraction({10, 20, 30}, {0.5, 0.8, 1.0}, 0.9), 25.0);
    EXPECT_DOUBLE_EQ(nusky::mean_at_fraction({10, 20, 30}, {0.95, 0.8, 1.0}, 0.9), 10.0);
    EXPECT_DOUBLE_EQ(nusky::mean_at_fraction({30, 10, 20}, {1.0, 0.5, 0.8}, 0.9), 25.0);  // unsorted input
    EXPECT_TRUE(std::isnan(nusky::mean_at_fraction({10, 20}, {0.1, 0.2}, 0.9)));
    // Non-monotonic wiggle: the running maximum is used.
    EXPECT_DOUBLE_EQ(nusky::mean_at_fraction({10, 20, 30}, {0.6, 0.5, 1.0}, 0.8), 25.0);
}

TEST(Sensitivity, BackgroundThresholdsFromTrialsOrTheChi2Tail)
{
    // Half zeros, half chi2(1): the textbook one-parameter TS distribution.
    boost::math::chi_squared chi2(1.0);
    std::vector<double> ts;
    const int n = 20000;
    for (int i = 0; i < n; ++i) {
        nusky::CounterRng rng(9, 0, i);
        ts.push_back(i % 2 ? 0.0 : boost::math::quantile(chi2, rng.uniform_open()));
    }
    const auto s = nusky::summarise_background(ts);
    EXPECT_EQ(s.n_trials, n);
    EXPECT_NEAR(s.tail.eta, 0.5, 1e-12);
    EXPECT_NEAR(s.tail.ndof, 1.0, 0.05);
    ASSERT_EQ(s.thresholds.size(), 2u);
    // 3 sigma: p = 1.35e-3, n p = 27 trials beyond: from the trials; 0.5 chi2_sf(t) = p at t = 9.
    EXPECT_FALSE(s.thresholds[0].extrapolated);
    EXPECT_NEAR(s.thresholds[0].ts, 9.0, 1.5);
    // 5 sigma: p = 2.87e-7: extrapolated, 0.5 chi2_sf(t; 1) = 2.87e-7 at t = 25.0.
    EXPECT_TRUE(s.thresholds[1].extrapolated);
    EXPECT_NEAR(s.thresholds[1].ts, 25.0, 1.5);
    EXPECT_THROW(nusky::summarise_background({}), nusky::Error);
}

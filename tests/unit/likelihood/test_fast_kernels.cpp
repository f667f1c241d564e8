// The performance kernels of issue 7 against the straightforward computations they replace:
// bit-identical where the arithmetic is the same, 1e-10 relative where events are dropped.
#include "likelihood/common/energy_pdf.hpp"
#include "likelihood/common/ps_fit.hpp"
#include "likelihood/common/spatial_pdf.hpp"
#include "likelihood/point_source/point_source.hpp"
#include "likelihood/template/template_likelihood.hpp"
#include "nusky/mpi.hpp"
#include "nusky/rng.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numbers>
#include <random>

namespace {

constexpr double kPi = std::numbers::pi;

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Events uniform on the sphere with sigma in [0.3, 3] deg (tracks) or [3, 40] deg (cascades),
// log10 E in [2, 6]; MC with true energy E^-2 and oneweight 1.
nusky::Events toy_events(int n, bool cascades, std::uint64_t seed, bool truth = false)
{
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    nusky::Events e;
    e.resize(n, false, truth);
    for (int i = 0; i < n; ++i) {
        e.ra[i] = 2 * kPi * u(rng);
        e.dec[i] = std::asin(2 * u(rng) - 1);
        const double deg = cascades ? 3 + 37 * u(rng) : 0.3 + 2.7 * u(rng);
        e.sigma[i] = deg * kPi / 180;
        e.log10_energy[i] = 2 + 4 * u(rng);
        if (truth) {
            e.true_ra[i] = e.ra[i];
            e.true_dec[i] = e.dec[i];
            e.true_energy[i] = std::pow(10.0, e.log10_energy[i] + 0.3 * (u(rng) - 0.5));
            e.oneweight[i] = 1.0;
        }
    }
    e.compute_unit_vectors();
    return e;
}

}  // namespace

TEST(FastKernels, LlhSumsAtZeroMatchTheGeneralLoop)
{
    std::mt19937_64 rng(3);
    std::normal_distribution<double> g(0.0, 1e-3);
    for (std::size_t n : {0u, 5u, 8u, 1001u}) {
        std::vector<double> a(n);
        for (auto& v : a) v = g(rng);
        // 1 + 1e-300 a is exactly 1, so the general loop sees the same arguments as n_s = 0.
        const auto zero = nusky::local_llh_sums(a.data(), n, 0.0, false);
        const auto general = nusky::local_llh_sums(a.data(), n, 1e-300, false);
        EXPECT_TRUE(same_bits(zero.first, general.first)) << n;
        EXPECT_TRUE(same_bits(zero.second, general.second)) << n;
        EXPECT_EQ(zero.invalid, 0.0);
        if (n > 3) {
            a[3] = std::numeric_limits<double>::infinity();
            EXPECT_EQ(nusky::local_llh_sums(a.data(), n, 0.0, false).invalid, 1.0);
            a[3] = std::numeric_limits<double>::quiet_NaN();
            EXPECT_EQ(nusky::local_llh_sums(a.data(), n, 0.0, false).invalid, 1.0);
        }
    }
}

TEST(FastKernels, ScaledExcessIsMultiplyThenScale)
{
    const int n = 777;
    std::mt19937_64 rng(5);
    std::uniform_real_distribution<double> u(0.0, 3.0);
    Eigen::ArrayXXd table(n, 31);
    for (Eigen::Index i = 0; i < table.size(); ++i) table.data()[i] = u(rng);
    const nusky::EventEnergyRatios ratios(nusky::GammaGrid::uniform(1.0, 4.0, 0.1), table);
    Eigen::ArrayXd factor(n);
    for (auto& v : factor) v = u(rng);
    std::vector<Eigen::Index> subset;
    for (Eigen::Index i = 0; i < n; i += 3) subset.push_back(i);
    Eigen::ArrayXd sub_factor(static_cast<Eigen::Index>(subset.size()));
    for (std::size_t j = 0; j < subset.size(); ++j) sub_factor[j] = factor[subset[j]];
    const double inv_n = 1.0 / 12345.0;
    for (double gamma : {1.0, 2.0, 2.37, 3.99, 4.0, 5.0}) {
        Eigen::ArrayXd sob(n), fused(n);
        ratios.multiply(gamma, factor.data(), sob.data());
        ratios.scaled_excess(gamma, factor.data(), inv_n, fused.data());
        for (int i = 0; i < n; ++i) ASSERT_TRUE(same_bits(fused[i], (sob[i] - 1.0) * inv_n)) << gamma << " " << i;
        const std::size_t m = subset.size();
        std::vector<double> sub_sob(m), sub_fused(m);
        ratios.multiply(gamma, sub_factor.data(), subset.data(), m, sub_sob.data());
        ratios.scaled_excess(gamma, sub_factor.data(), subset.data(), m, inv_n, sub_fused.data());
        for (std::size_t j = 0; j < m; ++j) ASSERT_TRUE(same_bits(sub_fused[j], (sub_sob[j] - 1.0) * inv_n));
    }
}

TEST(FastKernels, DiscardToMatchesSequentialDraws)
{
    nusky::CounterRng sequential(42, 7, 0);
    std::vector<std::uint64_t> draws(41);
    for (auto& d : draws) d = sequential.bits();
    for (std::uint64_t start : {0u, 1u, 3u, 4u, 5u, 17u, 40u}) {
        nusky::CounterRng rng(42, 7, 0);
        rng.discard_to(start);
        for (std::uint64_t k = start; k < draws.size(); ++k) ASSERT_EQ(rng.bits(), draws[k]) << start << " " << k;
    }
}

TEST(FastKernels, FillUniformMatchesSequentialDraws)
{
    nusky::CounterRng sequential(42, 7, 0);
    std::vector<double> draws(41);
    for (auto& d : draws) d = sequential.uniform();
    for (std::size_t skip : {0u, 1u, 3u, 4u, 6u}) {
        for (std::size_t n : {0u, 1u, 2u, 5u, 8u, 30u}) {
            nusky::CounterRng rng(42, 7, 0);
            for (std::size_t k = 0; k < skip; ++k) rng.uniform();
            std::vector<double> batch(n);
            rng.fill_uniform(batch.data(), n);
            for (std::size_t k = 0; k < n; ++k) ASSERT_EQ(batch[k], draws[skip + k]) << skip << " " << n;
            ASSERT_EQ(rng.uniform(), draws[skip + n]) << skip << " " << n;  // the stream goes on
        }
    }
}

TEST(FastKernels, GridSumsMatchPerEventSums)
{
    const int n = 500;
    std::mt19937_64 rng(8);
    std::uniform_real_distribution<double> u(0.0, 3.0);
    Eigen::ArrayXXd levels(7, 31);
    for (Eigen::Index i = 0; i < levels.size(); ++i) levels.data()[i] = u(rng);
    std::vector<std::int32_t> level(n);
    for (auto& l : level) l = static_cast<std::int32_t>(rng() % 7);
    const nusky::EventEnergyRatios ratios(nusky::GammaGrid::uniform(1.0, 4.0, 0.1), levels, level);
    Eigen::ArrayXd factor(n);
    for (auto& v : factor) v = u(rng);
    std::vector<Eigen::Index> subset;
    for (Eigen::Index i = 1; i < n; i += 4) subset.push_back(i);
    Eigen::ArrayXd sub_factor(static_cast<Eigen::Index>(subset.size()));
    for (std::size_t j = 0; j < subset.size(); ++j) sub_factor[j] = factor[subset[j]];
    std::vector<double> scratch, all(31), some(31);
    ratios.grid_sums(factor.data(), nullptr, n, scratch, all.data());
    ratios.grid_sums(sub_factor.data(), subset.data(), subset.size(), scratch, some.data());
    for (int k = 0; k < 31; ++k) {
        double want_all = 0.0, want_some = 0.0;
        for (Eigen::Index i = 0; i < n; ++i) want_all += factor[i] * ratios.ratio(i, k);
        for (std::size_t j = 0; j < subset.size(); ++j) want_some += sub_factor[j] * ratios.ratio(subset[j], k);
        EXPECT_NEAR(all[k], want_all, 1e-12 * want_all) << k;
        EXPECT_NEAR(some[k], want_some, 1e-12 * want_some) << k;
        EXPECT_EQ(ratios.table()(3, k), levels(level[3], k));
    }
}

// PointSourceEvents::trial must be scramble + fit, bit for bit; the fit with dropped events
// must agree with the straightforward fit over every event.
void check_point_source(bool cascades, bool with_energy)
{
    const nusky::Comm comm(MPI_COMM_SELF);
    const nusky::Events data = toy_events(cascades ? 3000 : 5000, cascades, 11);
    const nusky::Events mc = with_energy ? toy_events(20000, cascades, 12, true) : nusky::Events{};
    nusky::PointSourceSettings settings;
    settings.use_energy = with_energy;
    const nusky::PointSourcePdfs pdfs(data, mc, comm, settings);
    const double n = static_cast<double>(data.size());
    nusky::PointSourceEvents trials(data, pdfs, n), scrambled(data, pdfs, n);
    const nusky::UnitVector source = nusky::unit_vector(1.0, 0.3);
    int positive = 0;
    for (std::int64_t t = 0; t < 12; ++t) {
        const auto fast = trials.trial(9, t, source);
        scrambled.scramble(9, t);
        const auto reference = scrambled.fit(source, nusky::reduce_nothing);
        ASSERT_TRUE(same_bits(fast.ts, reference.ts)) << t;
        ASSERT_TRUE(same_bits(fast.ns, reference.ns)) << t;
        ASSERT_TRUE(same_bits(fast.gamma, reference.gamma) || (std::isnan(fast.gamma) && std::isnan(reference.gamma)));
        // Straightforward: every event, no dropping.
        Eigen::ArrayXd sob;
        scrambled.spatial_sob(source, sob);
        const nusky::EventTotals all{n, n};
        nusky::FitResult full;
        if (with_energy) {
            const auto ratios = pdfs.energy->event_ratios(data.z, data.log10_energy);
            full = nusky::fit_ns_gamma(sob, ratios, all);
        } else {
            full = nusky::fit_ns_only(sob, all);
        }
        EXPECT_NEAR(reference.ts, full.ts, 1e-10 * std::max(1.0, full.ts)) << t;
        EXPECT_NEAR(reference.ns, full.ns, 1e-6 * std::max(1.0, full.ns)) << t;
        positive += reference.ts > 0;
    }
    EXPECT_GT(positive, 0);
}

TEST(FastKernels, PointSourceTrialIsScrambleThenFitTracks) { check_point_source(false, false); }
TEST(FastKernels, PointSourceTrialIsScrambleThenFitTracksWithEnergy) { check_point_source(false, true); }
TEST(FastKernels, PointSourceTrialIsScrambleThenFitCascadesWithEnergy) { check_point_source(true, true); }

// TemplateEvents (events sorted by ring, one-pass scramble, fused excess, lookups in its compact
// copy of the reachable map values) against the straightforward per-event lookups of
// template_pdf.hpp in input order.
void check_template_trials(int n_sigma)
{
    const nusky::Comm comm(MPI_COMM_SELF);
    const nusky::Events data = toy_events(4000, true, 21);
    const nusky::Events mc = toy_events(20000, true, 22, true);
    const int nside = 16;
    Eigen::ArrayXd map(12 * nside * nside);
    for (Eigen::Index p = 0; p < map.size(); ++p) map[p] = 1.0 + 0.5 * std::sin(0.37 * double(p)) + (p % 97 == 0 ? 30.0 : 0.0);
    nusky::TemplateSettings settings;
    settings.nside = nside;
    settings.smoothing.n_sigma = n_sigma;
    settings.smoothing.sigma_min = 2.0 * kPi / 180;
    settings.smoothing.sigma_max = 40.0 * kPi / 180;
    const nusky::TemplatePdfs pdfs(map, data, mc, std::nullopt, comm, settings);
    const double n = static_cast<double>(data.size());
    nusky::TemplateEvents events(data, pdfs, n);

    const auto& st = pdfs.smoothed;
    auto span = [](const Eigen::ArrayXd& a) { return std::span<const double>(a.data(), a.size()); };
    const auto idx = nusky::index_template_events(st, span(data.ra), span(data.dec), span(data.sigma));
    const auto count = static_cast<std::size_t>(data.size());
    std::vector<double> subtraction(count), signal(count);
    nusky::signal_subtraction_densities(st, idx, subtraction);
    Eigen::ArrayXd background;
    pdfs.background.background_density(data.z, background);
    const auto ratios = pdfs.energy->event_ratios(data.z, data.log10_energy);
    auto reference_excess = [&](const std::vector<std::int32_t>& pixel) {
        nusky::signal_densities(st, idx, pixel, signal);
        Eigen::ArrayXd d(data.size());
        for (Eigen::Index i = 0; i < data.size(); ++i)
            d[i] = (signal[std::size_t(i)] - subtraction[std::size_t(i)]) * (1.0 / background[i] * ratios.ratio(i, 0));
        return d;
    };
    nusky::PointSourceFitter fitter;
    const nusky::EventTotals all{n, n};
    auto check = [&](const std::vector<std::int32_t>& pixel, const std::string& what) {
        const Eigen::ArrayXd want = reference_excess(pixel);
        const Eigen::ArrayXd& got = events.excess();
        for (Eigen::Index i = 0; i < data.size(); ++i) ASSERT_TRUE(same_bits(got[i], want[i])) << what << " " << i;
        const auto fast = events.fit(nusky::reduce_nothing);
        const auto slow = fitter.fit_ns_excess(want.data(), count, all, nusky::reduce_nothing);
        EXPECT_NEAR(fast.ts, slow.ts, 1e-12 * std::max(1.0, slow.ts)) << what;
        EXPECT_NEAR(fast.ns, slow.ns, 1e-8 * std::max(1.0, slow.ns)) << what;
    };
    check(idx.pixel, "unscrambled");
    for (std::int64_t t = 0; t < 5; ++t) {
        events.scramble(3, t);
        nusky::CounterRng rng(3, static_cast<std::uint64_t>(t), 0);
        std::vector<std::int32_t> pixel(count);
        for (std::size_t i = 0; i < count; ++i)
            pixel[i] = nusky::pixel_in_ring_for_ra(st, idx.ring[i], 2 * kPi * rng.uniform());
        check(pixel, "trial " + std::to_string(t));
    }
    // Batches of trials (full and partial) give scramble + fit of each trial, bit for bit.
    for (const int count : {nusky::TemplateEvents::kBatch, 3}) {
        std::vector<nusky::FitResult> batch(static_cast<std::size_t>(count));
        events.trials(3, 100, count, batch.data());
        for (int b = 0; b < count; ++b) {
            events.scramble(3, 100 + b);
            const auto single = events.fit(nusky::reduce_nothing);
            EXPECT_TRUE(same_bits(batch[std::size_t(b)].ts, single.ts)) << count << " " << b;
            EXPECT_TRUE(same_bits(batch[std::size_t(b)].ns, single.ns)) << count << " " << b;
        }
    }
}

TEST(FastKernels, TemplateTrialMatchesStraightforwardLookups) { check_template_trials(6); }
TEST(FastKernels, TemplateTrialMatchesStraightforwardLookupsOneSigma) { check_template_trials(1); }

#include "likelihood/common/flux.hpp"
#include "likelihood/template/template_pdf.hpp"
#include "nusky/npy.hpp"

#include "nusky/error.hpp"
#include "../test_paths.hpp"

#include <gtest/gtest.h>

#include <healpix_base.h>
#include <pointing.h>

#include <cmath>
#include <numbers>
#include <random>
#include <vector>

using nusky::Error;

namespace {

constexpr double kPi = std::numbers::pi;
constexpr double kDeg = kPi / 180.0;

std::string gp(const std::string& f) { return nusky::test::repo_data("gp2023/" + f); }

const Eigen::ArrayXd& pi0_map()
{
    static const Eigen::ArrayXd m = nusky::read_healpix_map_npy(gp("Fermi-LAT_pi0_map.npy"));
    return m;
}

nusky::EffectiveArea gp2023_effa()
{
    return nusky::read_effective_area(gp("effa_values.csv"), gp("effa_bins_sindec.csv"),
                                      gp("effa_bins_energy.csv"));
}

// The pi0 template smoothed on the default grid (computed once: about a second).
const nusky::SmoothedTemplate& pi0_smoothed()
{
    static const nusky::SmoothedTemplate st = [] {
        const auto acc = nusky::acceptance_from_effective_area(gp2023_effa(), 2.7);
        return nusky::smooth_template(nusky::acceptance_weighted_template(pi0_map(), acc));
    }();
    return st;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
TEST(TemplateFlux, ReproducesReleaseMu)
{
    const auto ea = gp2023_effa();
    ASSERT_EQ(ea.n_bands(), 5);
    ASSERT_EQ(ea.n_energy(), 120);
    const Eigen::ArrayXd frac = nusky::template_band_fractions(pi0_map(), ea.sindec_edges);
    EXPECT_NEAR(frac.sum(), 1.0, 1e-12);
    // most of the pi0 emission is in the south (sin dec < -0.6)
    EXPECT_GT(frac[0], frac[2]);
    const double mu = nusky::expected_events(ea, frac, 2.7, 1e-18, 1e5, 304047105.07);
    EXPECT_NEAR(mu, 309.57, 309.57 * 1e-3);
    // The exact bin integral gives a different (0.17 % lower) number: the check is sensitive
    // to the rule.
    const double mu_exact = nusky::expected_events(ea, frac, 2.7, 1e-18, 1e5, 304047105.07,
                                                   nusky::EnergyIntegration::exact);
    EXPECT_NEAR(mu_exact, 309.03, 0.05);
    // mu scales linearly with Phi0 and livetime
    EXPECT_NEAR(nusky::expected_events(ea, frac, 2.7, 2e-18, 1e5, 0.5 * 304047105.07), mu, 1e-9 * mu);

    const double e2 = nusky::e2_flux_tev(671.1, mu, 1e-18, 1e5);
    EXPECT_NEAR(e2, 2.17e-11, 0.005e-11);
}

TEST(TemplateFlux, PowerLawIntegrals)
{
    // exact integral of (E/E0)^-2 over [1, 2] with E0 = 1: 1/2
    EXPECT_NEAR(nusky::power_law_bin_integral(1, 2, 2.0, 1.0, nusky::EnergyIntegration::exact), 0.5, 1e-14);
    // gamma = 1: log
    EXPECT_NEAR(nusky::power_law_bin_integral(1, 2, 1.0, 1.0, nusky::EnergyIntegration::exact), std::log(2.0), 1e-14);
    // power-law average energy for gamma = 2 on [1, 2]: ln 2 / (1/2)
    EXPECT_NEAR(nusky::power_law_average_energy(1, 2, 2.0), 2 * std::log(2.0), 1e-14);
    // for gamma = 0 the arithmetic mean
    EXPECT_NEAR(nusky::power_law_average_energy(1, 3, 0.0), 2.0, 1e-14);
    // narrow bins: both rules agree
    const double a = nusky::power_law_bin_integral(100, 101, 2.7, 1e5, nusky::EnergyIntegration::exact);
    const double b = nusky::power_law_bin_integral(100, 101, 2.7, 1e5);
    EXPECT_NEAR(a / b, 1.0, 1e-4);
}

TEST(TemplateFlux, BandFractionsAndBadInput)
{
    // uniform sky: the fraction in a band is its width / 2 (to pixelisation accuracy)
    const Eigen::ArrayXd flat = Eigen::ArrayXd::Ones(12 * 64 * 64);
    Eigen::ArrayXd edges(3);
    edges << -1, 0.3, 1;
    const Eigen::ArrayXd f = nusky::template_band_fractions(flat, edges);
    EXPECT_NEAR(f[0], 0.65, 0.01);
    EXPECT_NEAR(f[1], 0.35, 0.01);
    EXPECT_THROW(nusky::template_band_fractions(Eigen::ArrayXd::Ones(100), edges), Error);
    EXPECT_THROW(nusky::template_band_fractions(Eigen::ArrayXd::Zero(12), edges), Error);

    auto ea = gp2023_effa();
    EXPECT_THROW(nusky::expected_events(ea, Eigen::ArrayXd::Ones(4), 2.7, 1, 1, 1), Error);
    ea.area_cm2(0, 0) = -1;
    EXPECT_THROW(nusky::validate_effective_area(ea), Error);
}

TEST(TemplateFlux, EffectiveAreaShapeErrorsNameTheFile)
{
    try {
        nusky::read_effective_area(gp("effa_values.csv"), gp("effa_bins_energy.csv"), gp("effa_bins_sindec.csv"));
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()).rfind(gp("effa_values.csv") + ": ", 0), 0u) << e.what();
    }
}

// ---------------------------------------------------------------------------------------------
TEST(TemplateMaps, RegradePreservesIntegral)
{
    const Eigen::ArrayXd& m = pi0_map();
    const double I = nusky::map_integral(m);
    EXPECT_NEAR(I, 1.0, 1e-9);
    for (int nside : {16, 64, 128, 256, 100}) {
        const Eigen::ArrayXd r = nusky::regrade_map(m, nside);
        ASSERT_EQ(r.size(), 12 * nside * nside);
        EXPECT_NEAR(nusky::map_integral(r), I, 1e-10) << nside;
    }
    // degrade then upgrade keeps the coarse structure: the maximum stays near the Galactic centre
    const Eigen::ArrayXd r = nusky::regrade_map(nusky::regrade_map(m, 32), 128);
    Eigen::Index imax = 0;
    r.maxCoeff(&imax);
    Healpix_Base base(128, RING, SET_NSIDE);
    const pointing ptg = base.pix2ang(int(imax));
    EXPECT_NEAR(90.0 - ptg.theta / kDeg, -29, 4);
    EXPECT_NEAR(ptg.phi / kDeg, 266, 5);
    // an upgrade copies parent values
    const Eigen::ArrayXd up = nusky::regrade_map(m, 256);
    EXPECT_NEAR(up.maxCoeff(), m.maxCoeff(), 1e-12);
}

TEST(TemplateMaps, SizeNotHealpixIsAnError)
{
    EXPECT_THROW(nusky::regrade_map(Eigen::ArrayXd::Ones(1000), 8), Error);
    EXPECT_THROW(nusky::healpix_nside(13), Error);
    EXPECT_EQ(nusky::healpix_nside(12 * 128 * 128), 128);
    EXPECT_THROW(nusky::smooth_template(Eigen::ArrayXd::Ones(500)), Error);
    try {
        nusky::acceptance_weighted_template(Eigen::ArrayXd::Ones(47), nusky::Acceptance{});
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("47"), std::string::npos) << e.what();
    }
}

TEST(TemplateMaps, AcceptanceFromEffectiveArea)
{
    const auto ea = gp2023_effa();
    const auto acc = nusky::acceptance_from_effective_area(ea, 2.7);
    ASSERT_EQ(acc.values.size(), 5);
    EXPECT_TRUE((acc.values > 0).all());
    // linear interpolation between band centres, constant beyond the outer centres
    EXPECT_DOUBLE_EQ(acc(-0.95), acc.values[0]);
    EXPECT_DOUBLE_EQ(acc(0.95), acc.values[4]);
    EXPECT_DOUBLE_EQ(acc(0.0), acc.values[2]);
    EXPECT_NEAR(acc(0.2), 0.5 * (acc.values[2] + acc.values[3]), 1e-12 * acc.values.maxCoeff());
    auto step = acc;
    step.interpolate = false;
    EXPECT_DOUBLE_EQ(step(0.19), acc.values[2]);
    EXPECT_DOUBLE_EQ(step(0.21), acc.values[3]);

    const Eigen::ArrayXd tacc = nusky::acceptance_weighted_template(pi0_map(), acc);
    EXPECT_NEAR(nusky::map_integral(tacc), 1.0, 1e-12);
    // T_acc / T follows A(dec)
    Healpix_Base base(128, RING, SET_NSIDE);
    const int p1 = base.ang2pix(pointing(kPi / 2 - std::asin(-0.8), 1.0));
    const int p2 = base.ang2pix(pointing(kPi / 2 - std::asin(0.8), 1.0));
    const double r1 = tacc[p1] / pi0_map()[p1], r2 = tacc[p2] / pi0_map()[p2];
    double z1, z2, phi;
    base.pix2zphi(p1, z1, phi);
    base.pix2zphi(p2, z2, phi);
    EXPECT_NEAR(r1 / r2, acc(z1) / acc(z2), 1e-9);

    // negative template values are rejected
    Eigen::ArrayXd bad = pi0_map();
    bad[5] = -1;
    EXPECT_THROW(nusky::acceptance_weighted_template(bad, acc), Error);
}

TEST(TemplateMaps, AcceptanceFromMc)
{
    // MC uniform in sin(dec), E = 100 GeV, OW = 1 except a factor 3 in the north
    std::mt19937_64 rng(3);
    std::uniform_real_distribution<double> u(-1, 1);
    const int n = 200000;
    std::vector<double> dec(n), e(n, 100.0), ow(n);
    for (int i = 0; i < n; ++i) {
        dec[i] = std::asin(u(rng));
        ow[i] = dec[i] > 0 ? 3.0 : 1.0;
    }
    const auto acc = nusky::acceptance_from_mc(dec, e, ow, 2.0, 10, false);
    ASSERT_EQ(acc.values.size(), 10);
    // expected per bin: (n/10) * OW * 100^-2 / (2 pi * 0.2)
    const double south = (n / 10.0) * 1e-4 / (2 * kPi * 0.2);
    for (int b = 0; b < 5; ++b) EXPECT_NEAR(acc.values[b] / south, 1.0, 0.05) << b;
    for (int b = 5; b < 10; ++b) EXPECT_NEAR(acc.values[b] / south, 3.0, 0.15) << b;
    // flat template -> T_acc proportional to A, integral 1
    const Eigen::ArrayXd flat = Eigen::ArrayXd::Ones(12 * 32 * 32);
    const Eigen::ArrayXd tacc = nusky::acceptance_weighted_template(flat, acc);
    EXPECT_NEAR(nusky::map_integral(tacc), 1.0, 1e-12);
    EXPECT_NEAR(tacc[tacc.size() - 1] / tacc[0], acc.values[0] / acc.values[9], 1e-12);
    EXPECT_NEAR(tacc[0], 1.5 / (4 * kPi), 0.1 / (4 * kPi));  // north pole: A_N / mean(A) = 3 / 2
    std::vector<double> short_e(3, 1.0);
    EXPECT_THROW(nusky::acceptance_from_mc(dec, short_e, ow, 2.0), Error);
}

// ---------------------------------------------------------------------------------------------
TEST(TemplateSmoothing, IntegralPreservedOnEveryMap)
{
    const auto& st = pi0_smoothed();
    ASSERT_EQ(st.n_sigma, 24);
    EXPECT_NEAR(st.sigma.front(), 0.5 * kDeg, 1e-15);
    EXPECT_NEAR(st.sigma.back(), 60 * kDeg, 1e-15);
    EXPECT_NEAR(st.sigma[1] / st.sigma[0], st.sigma[23] / st.sigma[22], 1e-12);  // log spaced
    for (int k = 0; k < st.n_sigma; ++k) {
        EXPECT_NEAR(nusky::map_integral(st.map(k)), 1.0, 1e-5) << k;
        // ring means integrate to the same
        double I = 0;
        for (int r = 0; r < st.n_rings(); ++r) I += st.ring_means[std::size_t(r) * st.n_sigma + k] * st.ring_npix[r];
        EXPECT_NEAR(I * 4 * kPi / double(st.npix()), nusky::map_integral(st.map(k)), 1e-6) << k;
    }
    // smoothing lowers the peak and fills the poles
    EXPECT_GT(st.map(0).maxCoeff(), 3 * st.map(23).maxCoeff());
}

TEST(TemplateSmoothing, DeltaMapHasGaussianWidth)
{
    const int nside = 64;
    Healpix_Base base(nside, RING, SET_NSIDE);
    const double theta0 = kPi / 2 - 20 * kDeg, phi0 = 1.0;
    const int p0 = base.ang2pix(pointing(theta0, phi0));
    const pointing c = base.pix2ang(p0);
    Eigen::ArrayXd delta = Eigen::ArrayXd::Zero(12 * nside * nside);
    delta[p0] = 1;
    delta = nusky::normalise_map(delta);

    nusky::SmoothingOptions opt;
    opt.n_sigma = 3;
    opt.sigma_min = 3 * kDeg;
    opt.sigma_max = 12 * kDeg;
    const auto st = nusky::smooth_template(delta, opt);
    EXPECT_NEAR(st.sigma[1], 6 * kDeg, 1e-12);
    const vec3 n0 = c.to_vec3();
    for (int k = 0; k < 3; ++k) {
        const Eigen::ArrayXd m = st.map(k);
        const double s = st.sigma[std::size_t(k)];
        double w = 0, wc = 0, wt2 = 0;
        for (int p = 0; p < m.size(); ++p) {
            const double cosang = std::clamp(dotprod(base.pix2vec(p), n0), -1.0, 1.0);
            w += m[p];
            wc += m[p] * cosang;
            wt2 += m[p] * std::pow(std::acos(cosang), 2);
        }
        // The Gaussian beam b_l = exp(-l(l+1) sigma^2 / 2) has <cos psi> = b_1 = exp(-sigma^2)
        // exactly, and <psi^2> ~ 2 sigma^2 for small sigma.
        EXPECT_NEAR((1 - wc / w) / (1 - std::exp(-s * s)), 1.0, 0.02) << k;
        if (k == 0) {
            EXPECT_NEAR(std::sqrt(wt2 / w / 2) / s, 1.0, 0.03);
        }
        // shape: the value at angle sigma from the centre is ~exp(-1/2) of the peak
        if (k == 0) {
            const int p1 = base.ang2pix(pointing(c.theta + s, c.phi));
            const double psi = std::acos(std::clamp(dotprod(base.pix2vec(p1), n0), -1.0, 1.0));
            EXPECT_NEAR(psi / s, 1.0, 0.2);
            EXPECT_NEAR(m[p1] / m[p0], std::exp(-0.5 * psi * psi / (s * s)), 0.03);
        }
        // peak density of a 2-D Gaussian: 1 / (2 pi sigma^2) sr^-1
        if (k == 0) {
            EXPECT_NEAR(m[p0] * 2 * kPi * s * s, 1.0, 0.05);
        }
    }
}

TEST(TemplateSmoothing, UniformTemplateGivesIsotropicDensity)
{
    // A flat template stays flat at 1/(4 pi) sr^-1 for every sigma: S_i = S~_i = 1/(4 pi),
    // directly comparable to B_i = P(sin dec)/(2 pi) (= 1/(4 pi) for isotropic data).
    nusky::SmoothingOptions opt;
    opt.n_sigma = 4;
    const auto st = nusky::smooth_template(nusky::normalise_map(Eigen::ArrayXd::Ones(12 * 16 * 16)), opt);
    for (int k = 0; k < 4; ++k) {
        const Eigen::ArrayXd m = st.map(k);
        EXPECT_NEAR(m.minCoeff() * 4 * kPi, 1.0, 1e-6);
        EXPECT_NEAR(m.maxCoeff() * 4 * kPi, 1.0, 1e-6);
    }
}

TEST(TemplateSmoothing, PixelInRingMatchesAng2pix)
{
    nusky::SmoothedTemplate st;
    for (int nside : {1, 4, 128}) {
        nusky::fill_ring_geometry(st, nside);
        Healpix_Base base(nside, RING, SET_NSIDE);
        std::mt19937_64 rng(nside);
        std::uniform_real_distribution<double> u(0, 2 * kPi);
        for (int r = 0; r < st.n_rings(); ++r) {
            const double theta = std::acos(st.ring_z[std::size_t(r)]);
            for (int t = 0; t < 20; ++t) {
                const double ra = u(rng);
                const int want = base.ang2pix(pointing(theta, ra));
                ASSERT_EQ(nusky::pixel_in_ring_for_ra(st, r, ra), want) << nside << " " << r << " " << ra;
                // any multiple of 2 pi, negative too
                ASSERT_EQ(nusky::pixel_in_ring_for_ra(st, r, ra - 4 * kPi), want);
                ASSERT_EQ(base.pix2ring(want), r + 1);
            }
            // pixel centres map to themselves
            for (int j = 0; j < st.ring_npix[std::size_t(r)]; ++j) {
                const int p = st.ring_start[std::size_t(r)] + j;
                ASSERT_EQ(nusky::pixel_in_ring_for_ra(st, r, base.pix2ang(p).phi), p);
            }
        }
    }
}

TEST(TemplateSmoothing, PerEventLookup)
{
    const auto& st = pi0_smoothed();
    Healpix_Base base(st.nside, RING, SET_NSIDE);
    std::mt19937_64 rng(11);
    std::uniform_real_distribution<double> u(0, 1);
    const int n = 500;
    std::vector<double> ra(n), dec(n), sigma(n);
    for (int i = 0; i < n; ++i) {
        ra[i] = 2 * kPi * u(rng);
        dec[i] = std::asin(2 * u(rng) - 1);
        sigma[i] = std::exp(std::log(0.2 * kDeg) + u(rng) * (std::log(80 * kDeg) - std::log(0.2 * kDeg)));
    }
    sigma[0] = 0.1 * kDeg;  // clamped low
    sigma[1] = 90 * kDeg;   // clamped high
    sigma[2] = st.sigma[5]; // on a grid point
    const auto idx = nusky::index_template_events(st, ra, dec, sigma);
    ASSERT_EQ(idx.size(), std::size_t(n));
    std::vector<double> S(n), St(n);
    nusky::signal_densities(st, idx, idx.pixel, S);
    nusky::signal_subtraction_densities(st, idx, St);

    EXPECT_DOUBLE_EQ(S[0], st.map(0)[idx.pixel[0]]);
    EXPECT_NEAR(S[1], st.map(23)[idx.pixel[1]], 1e-12);
    EXPECT_NEAR(S[2], st.map(5)[idx.pixel[2]], 1e-12);
    for (int i = 0; i < n; ++i) {
        const int pix = base.ang2pix(pointing(kPi / 2 - dec[i], ra[i]));
        ASSERT_EQ(idx.pixel[i], pix);
        ASSERT_EQ(idx.ring[i], base.pix2ring(pix) - 1);
        // linear in log(sigma) between the two nearest maps
        const double ls = std::clamp(std::log(sigma[i]), std::log(st.sigma.front()), std::log(st.sigma.back()));
        int k = 0;
        while (k + 2 < st.n_sigma && std::log(st.sigma[std::size_t(k + 1)]) <= ls) ++k;
        const double t = (ls - std::log(st.sigma[std::size_t(k)])) /
                         (std::log(st.sigma[std::size_t(k + 1)]) - std::log(st.sigma[std::size_t(k)]));
        const double a = st.map(k)[pix], b = st.map(k + 1)[pix];
        EXPECT_NEAR(S[i], a + t * (b - a), 1e-5 * std::max(std::abs(a), std::abs(b)) + 1e-12) << i;

        // S~ equals the direct average of the interpolated smeared map over the event's ring
        const int r = idx.ring[i];
        double direct = 0;
        for (int j = 0; j < st.ring_npix[std::size_t(r)]; ++j)
            direct += nusky::template_value(st, st.ring_start[std::size_t(r)] + j, idx.sigma_index[i],
                                            idx.sigma_weight[i]);
        direct /= st.ring_npix[std::size_t(r)];
        EXPECT_NEAR(St[i], direct, 1e-6 * std::abs(direct)) << i;
        EXPECT_GT(St[i], 0);
    }

    // Scrambling RA within the ring: the mean of S over uniform RA is S~.
    std::vector<std::int32_t> pix(n);
    std::vector<double> acc(n, 0.0), S2(n);
    const int trials = 2000;
    for (int t = 0; t < trials; ++t) {
        for (int i = 0; i < n; ++i) pix[std::size_t(i)] = nusky::pixel_in_ring_for_ra(st, idx.ring[i], 2 * kPi * u(rng));
        nusky::signal_densities(st, idx, pix, S2);
        for (int i = 0; i < n; ++i) acc[std::size_t(i)] += S2[std::size_t(i)];
    }
    int close = 0;
    for (int i = 0; i < n; ++i)
        if (std::abs(acc[std::size_t(i)] / trials - St[std::size_t(i)]) < 0.1 * St[std::size_t(i)] + 1e-4) ++close;
    EXPECT_GT(close, int(0.9 * n));

    // bad events
    std::vector<double> bad_dec = dec;
    bad_dec[3] = 2.0;
    EXPECT_THROW(nusky::index_template_events(st, ra, bad_dec, sigma), Error);
    std::vector<double> shorter(n - 1, 0.1);
    EXPECT_THROW(nusky::index_template_events(st, ra, dec, shorter), Error);
}

TEST(TemplateSmoothing, SingleSigmaAndBadOptions)
{
    nusky::SmoothingOptions opt;
    opt.n_sigma = 1;
    opt.sigma_min = opt.sigma_max = 5 * kDeg;
    const auto st = nusky::smooth_template(nusky::regrade_map(pi0_map(), 16), opt);
    std::vector<double> ra{1.0, 2.0}, dec{0.1, -0.5}, sigma{0.01, 1.0};
    const auto idx = nusky::index_template_events(st, ra, dec, sigma);
    std::vector<double> S(2);
    nusky::signal_densities(st, idx, idx.pixel, S);
    EXPECT_DOUBLE_EQ(S[0], st.map(0)[idx.pixel[0]]);
    EXPECT_DOUBLE_EQ(S[1], st.map(0)[idx.pixel[1]]);

    opt.n_sigma = 3;
    EXPECT_THROW(nusky::smooth_template(nusky::regrade_map(pi0_map(), 16), opt), Error);  // min == max
    opt.sigma_min = -1;
    EXPECT_THROW(nusky::smooth_template(nusky::regrade_map(pi0_map(), 16), opt), Error);
}

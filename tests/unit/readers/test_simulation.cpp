#include "readers/simulation/simulate.hpp"

#include "../test_paths.hpp"
#include "nusky/error.hpp"
#include "nusky/rng.hpp"
#include "nusky/npy.hpp"

#include <gtest/gtest.h>
#include <healpix_base.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numbers>
#include <vector>

namespace {

using nusky::test::repo_data;
constexpr double kPi = std::numbers::pi;
constexpr double kDeg = kPi / 180.0;

const nusky::SimulationInputs& inputs()
{
    static const nusky::SimulationInputs in = nusky::load_simulation_inputs(repo_data("gp2023"));
    return in;
}

const Eigen::ArrayXd& pi0_map()
{
    static const Eigen::ArrayXd map = nusky::read_healpix_map_npy(repo_data("gp2023/Fermi-LAT_pi0_map.npy"));
    return map;
}

// Events per bin of `edges` (values outside are dropped).
Eigen::ArrayXd histogram(const Eigen::ArrayXd& x, const Eigen::ArrayXd& edges)
{
    Eigen::ArrayXd h = Eigen::ArrayXd::Zero(edges.size() - 1);
    for (Eigen::Index i = 0; i < x.size(); ++i) {
        auto it = std::upper_bound(edges.data(), edges.data() + edges.size(), x[i]);
        Eigen::Index b = static_cast<Eigen::Index>(it - edges.data()) - 1;
        if (b >= 0 && b < h.size()) h[b] += 1.0;
        else if (x[i] == edges[edges.size() - 1]) h[h.size() - 1] += 1.0;
    }
    return h;
}

// chi^2 of simulated counts against expected counts (bins with expected > 0); ndf = bins used.
double chi2(const Eigen::ArrayXd& sim, const Eigen::ArrayXd& expected, int& ndf)
{
    double c = 0.0;
    ndf = 0;
    for (Eigen::Index i = 0; i < sim.size(); ++i) {
        if (expected[i] <= 0.0) continue;
        c += (sim[i] - expected[i]) * (sim[i] - expected[i]) / expected[i];
        ++ndf;
    }
    return c;
}

bool bit_equal(const Eigen::ArrayXd& a, const Eigen::ArrayXd& b)
{
    return a.size() == b.size() &&
           std::memcmp(a.data(), b.data(), sizeof(double) * static_cast<std::size_t>(a.size())) == 0;
}

Eigen::ArrayXd cat(const Eigen::ArrayXd& a, const Eigen::ArrayXd& b)
{
    Eigen::ArrayXd z(a.size() + b.size());
    z << a, b;
    return z;
}

// Galactic latitude (rad) of equatorial J2000 (ra, dec).
double galactic_latitude(double ra, double dec)
{
    const double ra_ngp = 192.85948 * kDeg, dec_ngp = 27.12825 * kDeg;
    return std::asin(std::sin(dec) * std::sin(dec_ngp) +
                     std::cos(dec) * std::cos(dec_ngp) * std::cos(ra - ra_ngp));
}

double opening_angle(double ra1, double dec1, double ra2, double dec2)
{
    double c = std::sin(dec1) * std::sin(dec2) + std::cos(dec1) * std::cos(dec2) * std::cos(ra1 - ra2);
    return std::acos(std::clamp(c, -1.0, 1.0));
}

}  // namespace

// ---- CounterRng ------------------------------------------------------------------------------

TEST(CounterRng, PureFunctionOfSeedStreamIndex)
{
    nusky::CounterRng a(42, 7, 1000), b(42, 7, 1000), c(42, 7, 1001), d(43, 7, 1000), e(42, 8, 1000);
    std::uint64_t x = a.bits();
    EXPECT_EQ(x, b.bits());
    EXPECT_NE(x, c.bits());
    EXPECT_NE(x, d.bits());
    EXPECT_NE(x, e.bits());
    // Many draws (several Philox blocks) repeat exactly.
    nusky::CounterRng f(1, 2, 3), g(1, 2, 3);
    for (int i = 0; i < 100; ++i) ASSERT_EQ(f.normal(), g.normal());
}

TEST(CounterRng, Distributions)
{
    const int n = 200000;
    double su = 0, suu = 0, sn = 0, snn = 0, se = 0, umin = 1, umax = 0;
    for (int i = 0; i < n; ++i) {
        nusky::CounterRng r(5, 0, static_cast<std::uint64_t>(i));
        double u = r.uniform();
        su += u;
        suu += u * u;
        umin = std::min(umin, u);
        umax = std::max(umax, u);
        double z = r.normal();
        sn += z;
        snn += z * z;
        se += r.exponential(2.0);
    }
    EXPECT_NEAR(su / n, 0.5, 0.003);
    EXPECT_NEAR(suu / n - 0.25, 1.0 / 12.0, 0.002);
    EXPECT_GE(umin, 0.0);
    EXPECT_LT(umax, 1.0);
    EXPECT_NEAR(sn / n, 0.0, 0.01);
    EXPECT_NEAR(snn / n, 1.0, 0.01);
    EXPECT_NEAR(se / n, 2.0, 0.02);
    for (double mu : {0.5, 3.0, 9.9, 10.0, 30.0, 675.0, 59592.0}) {
        const int m = 40000;
        double s = 0, ss = 0;
        for (int i = 0; i < m; ++i) {
            double k = static_cast<double>(nusky::CounterRng(9, 1, static_cast<std::uint64_t>(i)).poisson(mu));
            s += k;
            ss += k * k;
        }
        double mean = s / m, var = ss / m - mean * mean;
        EXPECT_NEAR(mean, mu, 5.0 * std::sqrt(mu / m)) << mu;
        EXPECT_NEAR(var / mu, 1.0, 0.05) << mu;
    }
}

// ---- helpers ---------------------------------------------------------------------------------

TEST(Simulation, VmfKappaAndOffsets)
{
    // Small angles: 2-D Gaussian, median = sigma sqrt(2 ln 2).
    double m = 1.0 * kDeg;
    double sigma = 1.0 / std::sqrt(nusky::vmf_kappa_for_median(m));
    EXPECT_NEAR(sigma, m / std::sqrt(2.0 * std::log(2.0)), 1e-4 * sigma);
    // Large angles: the median of the vMF opening angle is the requested one.
    for (double med_deg : {5.0, 17.7, 40.0}) {
        double kappa = nusky::vmf_kappa_for_median(med_deg * kDeg);
        double c = 1.0 - std::cos(med_deg * kDeg);
        EXPECT_NEAR(-std::expm1(-kappa * c) / -std::expm1(-2 * kappa), 0.5, 1e-9);
    }
    double ra, dec;
    nusky::offset_direction(1.0, 0.3, 0.2, 0.7, ra, dec);
    EXPECT_NEAR(opening_angle(1.0, 0.3, ra, dec), 0.2, 1e-12);
    nusky::offset_direction(1.0, 0.3, 0.2, 0.0, ra, dec);  // phi = 0: due north
    EXPECT_NEAR(dec, 0.5, 1e-12);
    EXPECT_NEAR(ra, 1.0, 1e-12);
}

TEST(Simulation, InputsLoad)
{
    const auto& in = inputs();
    EXPECT_EQ(in.data_sindec.counts.sum(), 59592.0);
    EXPECT_EQ(in.effa_cm2.rows(), 5);
    EXPECT_EQ(in.effa_cm2.cols(), 120);
    EXPECT_EQ(in.eres.rows(), 29);
    EXPECT_NEAR(in.median_psf(1e4) / kDeg, 11.0, 4.0);
    EXPECT_GT(in.effective_area(1e5, -0.9), 0.0);
    EXPECT_EQ(in.effective_area(50.0, 0.0), 0.0);
    EXPECT_THROW(nusky::load_simulation_inputs(repo_data("ic40")), nusky::Error);
}

TEST(Simulation, PsfLawFitsReleasedQuantiles)
{
    const auto& in = inputs();
    double worst = 0.0;
    for (Eigen::Index k = 0; k < in.angres_energy.size(); ++k) {
        nusky::PsfLaw law{in.psf_log_sigma[k], in.psf_scatter[k]};
        EXPECT_NEAR(nusky::psf_law_cdf(in.angres_median_deg[k] * kDeg, law), 0.5, 1e-6) << k;
        worst = std::max({worst, std::abs(nusky::psf_law_cdf(in.angres_q20_deg[k] * kDeg, law) - 0.2),
                          std::abs(nusky::psf_law_cdf(in.angres_q80_deg[k] * kDeg, law) - 0.8)});
        EXPECT_GT(law.scatter, 0.3) << k;  // the 80/20 spread is wider than one vMF's
    }
    std::printf("sigma law: largest CDF miss at the released 20 %% / 80 %% quantiles %.4f\n", worst);
    EXPECT_LT(worst, 0.05);  // two parameters for three quantiles: measured 0.045 at worst
    // A law without scatter is one vMF: its median is the requested one.
    nusky::PsfLaw single{std::log(0.1), 0.0};
    double m = 0.1 * std::sqrt(2.0 * std::log(2.0));  // small-angle median of a vMF
    EXPECT_NEAR(nusky::psf_law_cdf(m, single), 0.5, 2e-3);
    EXPECT_THROW(nusky::fit_psf_law(0.2, 0.1, 0.3), nusky::Error);
    // The tabulated CDF of the law's sigma over the background is a CDF.
    EXPECT_NEAR(in.law_sigma_cdf[0], 0.0, 1e-9);
    EXPECT_NEAR(in.law_sigma_cdf[in.law_sigma_cdf.size() - 1], 1.0, 1e-6);
    EXPECT_TRUE((in.law_sigma_cdf.tail(in.law_sigma_cdf.size() - 1) >=
                 in.law_sigma_cdf.head(in.law_sigma_cdf.size() - 1)).all());
}

// ---- background ------------------------------------------------------------------------------

TEST(Simulation, BackgroundMatchesDataHistograms)
{
    const auto& in = inputs();
    nusky::SimulationConfig cfg;
    cfg.seed = 2023;
    const std::size_t n = nusky::background_count(cfg);
    EXPECT_EQ(n, 59592u);
    auto t0 = std::chrono::steady_clock::now();
    auto bkg = nusky::simulate_background(cfg, in, 0, n);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_EQ(bkg.size(), static_cast<Eigen::Index>(n));

    int ndf = 0;
    Eigen::ArrayXd h_sd = histogram(bkg.dec.sin(), in.data_sindec.edges);
    Eigen::ArrayXd exp_sd = in.data_sindec.counts * (static_cast<double>(n) / in.data_sindec.counts.sum());
    double c_sd = chi2(h_sd, exp_sd, ndf);
    int ndf_sd = ndf;
    // sigma: the data histogram covers [0, 40) deg and 58,399 of 59,592 events; the rest is the tail.
    Eigen::ArrayXd h_sg = histogram(bkg.sigma / kDeg, in.data_sigma_deg.edges);
    Eigen::ArrayXd exp_sg = in.data_sigma_deg.counts * (static_cast<double>(n) / in.data_sindec.counts.sum());
    double c_sg = chi2(h_sg, exp_sg, ndf);
    int ndf_sg = ndf;
    std::printf("background %zu events in %.3f s; sin(dec) chi2/ndf = %.1f/%d = %.2f; "
                "sigma chi2/ndf = %.1f/%d = %.2f; sigma > 40 deg: %.0f (data %.0f)\n",
                n, secs, c_sd, ndf_sd, c_sd / ndf_sd, c_sg, ndf_sg, c_sg / ndf_sg,
                static_cast<double>(n) - h_sg.sum(), in.data_sindec.counts.sum() - in.data_sigma_deg.counts.sum());
    EXPECT_LT(c_sd / ndf_sd, 2.0);
    EXPECT_LT(c_sg / ndf_sg, 2.0);
    EXPECT_NEAR(static_cast<double>(n) - h_sg.sum(), 1193.0, 5.0 * std::sqrt(1193.0));
    EXPECT_GE(bkg.sigma.minCoeff(), 0.2 * kDeg);
    EXPECT_LE(bkg.sigma.maxCoeff(), 60.0 * kDeg);
    // RA isotropic: mean of cos and sin near 0.
    EXPECT_NEAR(bkg.ra.cos().mean(), 0.0, 0.02);
    EXPECT_NEAR(bkg.ra.sin().mean(), 0.0, 0.02);
    // Energies: mostly TeV-ish, finite.
    EXPECT_TRUE(bkg.log10_energy.allFinite());
    double med_e = [&] {
        std::vector<double> v(bkg.log10_energy.data(), bkg.log10_energy.data() + bkg.size());
        std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
        return v[v.size() / 2];
    }();
    std::printf("background median log10(E_reco/GeV) = %.2f\n", med_e);
    EXPECT_GT(med_e, 2.5);
    EXPECT_LT(med_e, 4.5);
    // sigma follows the reconstructed energy (the same law as the signal's): brighter is sharper.
    auto median_sigma_deg = [&](double lo, double hi) {
        std::vector<double> v;
        for (Eigen::Index i = 0; i < bkg.size(); ++i)
            if (bkg.log10_energy[i] >= lo && bkg.log10_energy[i] < hi) v.push_back(bkg.sigma[i] / kDeg);
        std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
        return v[v.size() / 2];
    };
    const double low = median_sigma_deg(0.0, 3.0), high = median_sigma_deg(4.0, 9.0);
    std::printf("background median sigma: %.1f deg below 1 TeV, %.1f deg above 10 TeV\n", low, high);
    EXPECT_LT(high, 0.8 * low);
}

TEST(Simulation, PoissonCounts)
{
    nusky::SimulationConfig cfg;
    cfg.poisson_background = true;
    double s = 0;
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
        cfg.seed = seed;
        double nb = static_cast<double>(nusky::background_count(cfg));
        EXPECT_NEAR(nb, 59592.0, 0.01 * 59592.0);
        s += static_cast<double>(nusky::signal_count(cfg));
    }
    EXPECT_NEAR(s / 20.0, 675.0, 5.0 * std::sqrt(675.0 / 20.0));
    cfg.poisson_signal = false;
    EXPECT_EQ(nusky::signal_count(cfg), 675u);
}

// ---- rank independence ------------------------------------------------------------------------

TEST(Simulation, SlicesAreBitIdentical)
{
    const auto& in = inputs();
    nusky::SimulationConfig cfg;
    cfg.seed = 77;
    cfg.background_mean = 3000;
    cfg.signal_mean = 400;
    cfg.mc_count = 5000;
    const std::size_t n = nusky::sky_count(cfg);
    const std::size_t nb = nusky::background_count(cfg);
    auto all = nusky::simulate_sky(cfg, in, pi0_map(), 0, n);
    ASSERT_EQ(all.size(), static_cast<Eigen::Index>(n));
    EXPECT_EQ(all.extra.at("signal").sum(), static_cast<double>(n - nb));
    // Cuts inside the background, at the boundary, and inside the signal part.
    for (std::size_t k : {std::size_t{1}, nb / 3, nb, nb + 17, n - 1}) {
        auto a = nusky::simulate_sky(cfg, in, pi0_map(), 0, k);
        auto b = nusky::simulate_sky(cfg, in, pi0_map(), k, n - k);
        EXPECT_TRUE(bit_equal(cat(a.ra, b.ra), all.ra)) << k;
        EXPECT_TRUE(bit_equal(cat(a.dec, b.dec), all.dec)) << k;
        EXPECT_TRUE(bit_equal(cat(a.sigma, b.sigma), all.sigma)) << k;
        EXPECT_TRUE(bit_equal(cat(a.log10_energy, b.log10_energy), all.log10_energy)) << k;
        EXPECT_TRUE(bit_equal(cat(a.extra.at("signal"), b.extra.at("signal")), all.extra.at("signal"))) << k;
    }
    // Four "ranks" with uneven shares.
    std::size_t cuts[] = {0, 1000, 1001, 3200, n};
    Eigen::ArrayXd ra;
    for (int r = 0; r < 4; ++r) ra = cat(ra, nusky::simulate_sky(cfg, in, pi0_map(), cuts[r], cuts[r + 1] - cuts[r]).ra);
    EXPECT_TRUE(bit_equal(ra, all.ra));

    auto mc = nusky::simulate_mc(cfg, in, 0, cfg.mc_count);
    auto m1 = nusky::simulate_mc(cfg, in, 0, 1234);
    auto m2 = nusky::simulate_mc(cfg, in, 1234, cfg.mc_count - 1234);
    EXPECT_TRUE(bit_equal(cat(m1.ra, m2.ra), mc.ra));
    EXPECT_TRUE(bit_equal(cat(m1.oneweight, m2.oneweight), mc.oneweight));
    EXPECT_TRUE(bit_equal(cat(m1.true_energy, m2.true_energy), mc.true_energy));
    EXPECT_TRUE(bit_equal(cat(m1.log10_energy, m2.log10_energy), mc.log10_energy));

    // A different seed gives a different sky; out-of-range slices are errors.
    cfg.seed = 78;
    EXPECT_FALSE(bit_equal(nusky::simulate_background(cfg, in, 0, 10).ra, all.ra.head(10)));
    EXPECT_THROW(nusky::simulate_mc(cfg, in, 4000, 1001), nusky::Error);
    EXPECT_THROW(nusky::simulate_sky(cfg, in, pi0_map(), nusky::sky_count(cfg), 1), nusky::Error);
}

// ---- signal ------------------------------------------------------------------------------------

TEST(Simulation, SignalFollowsGalacticPlane)
{
    const auto& in = inputs();
    nusky::SimulationConfig cfg;
    cfg.seed = 11;
    cfg.signal_mean = 20000;  // many events for a stable fraction
    cfg.poisson_signal = false;
    auto sig = nusky::simulate_signal(cfg, in, pi0_map(), 0, 20000);
    nusky::SimulationConfig bcfg;
    auto bkg = nusky::simulate_background(bcfg, in, 0, 20000);
    auto frac_within = [](const Eigen::ArrayXd& ra, const Eigen::ArrayXd& dec, double bmax) {
        double k = 0;
        for (Eigen::Index i = 0; i < ra.size(); ++i) k += std::abs(galactic_latitude(ra[i], dec[i])) < bmax;
        return k / static_cast<double>(ra.size());
    };
    double f_true = frac_within(sig.true_ra, sig.true_dec, 5 * kDeg);
    double f_reco = frac_within(sig.ra, sig.dec, 10 * kDeg);
    double f_bkg = frac_within(bkg.ra, bkg.dec, 10 * kDeg);
    // The plane's share of the sky: |b| < 5 deg is 8.7 %, |b| < 10 deg is 17.4 %.
    std::printf("signal: |b|<5 deg true %.3f; |b|<10 deg reco %.3f, background %.3f; "
                "true dir within 30 deg of the Galactic centre %.3f\n",
                f_true, f_reco, f_bkg,
                [&] {
                    double k = 0;
                    for (Eigen::Index i = 0; i < sig.size(); ++i)
                        k += opening_angle(sig.true_ra[i], sig.true_dec[i], 266.4 * kDeg, -28.9 * kDeg) < 30 * kDeg;
                    return k / static_cast<double>(sig.size());
                }());
    EXPECT_GT(f_true, 0.35);  // 4x the isotropic 8.7 %
    EXPECT_GT(f_reco, 0.3);   // smeared by 5-20 deg, still > 1.7x isotropic
    EXPECT_LT(f_bkg, 0.25);
    // Calibration: each direction is a vMF draw with kappa = 1 / sigma^2, so the vMF CDF of the
    // opening angle at the event's own sigma is uniform on [0, 1].
    std::vector<double> u;
    for (Eigen::Index i = 0; i < sig.size(); ++i) {
        double kappa = 1.0 / (sig.sigma[i] * sig.sigma[i]);
        double psi_i = opening_angle(sig.ra[i], sig.dec[i], sig.true_ra[i], sig.true_dec[i]);
        u.push_back(-std::expm1(-kappa * (1.0 - std::cos(psi_i))) / -std::expm1(-2.0 * kappa));
    }
    std::sort(u.begin(), u.end());
    double ks = 0.0;
    for (std::size_t k = 0; k < u.size(); ++k)
        ks = std::max(ks, std::abs(u[k] - (static_cast<double>(k) + 0.5) / static_cast<double>(u.size())));
    std::printf("signal sigma calibration: KS distance of the vMF CDF from uniform %.4f (%zu events)\n", ks, u.size());
    EXPECT_LT(ks * std::sqrt(static_cast<double>(u.size())), 1.63);  // KS test at 1 %
    // The opening angle against the release: the sigma law reproduces the released quantiles
    // (test PsfLawFitsReleasedQuantiles), but the map onto the data's sigma histogram and the
    // law's use of the reconstructed energy broaden it (docs/simulation.md): measured ~1.45x.
    std::vector<double> psi;
    for (Eigen::Index i = 0; i < sig.size(); ++i) {
        if (sig.true_energy[i] > 1e4 && sig.true_energy[i] < 1e5) {
            psi.push_back(opening_angle(sig.ra[i], sig.dec[i], sig.true_ra[i], sig.true_dec[i]));
        }
    }
    ASSERT_GT(psi.size(), 1000u);
    std::nth_element(psi.begin(), psi.begin() + psi.size() / 2, psi.end());
    double med = psi[psi.size() / 2];
    double ref = in.median_psf(std::sqrt(1e4 * 1e5));
    std::printf("signal 10-100 TeV: median opening angle %.2f deg (release 50%% quantile at 31.6 TeV %.2f deg)\n",
                med / kDeg, ref / kDeg);
    EXPECT_GT(med / ref, 1.0);
    EXPECT_LT(med / ref, 1.6);
    EXPECT_TRUE((sig.oneweight == 0.0).all());
    EXPECT_GE(sig.sigma.minCoeff(), 0.2 * kDeg);
}

// ---- MC oneweight ------------------------------------------------------------------------------

TEST(Simulation, McOneweightReproducesEffectiveArea)
{
    const auto& in = inputs();
    nusky::SimulationConfig cfg;
    cfg.seed = 5;
    auto t0 = std::chrono::steady_clock::now();
    auto mc = nusky::simulate_mc(cfg, in, 0, cfg.mc_count);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double T = cfg.livetime_s;
    for (double gamma : {2.0, 2.5, 2.7}) {
        const double phi0 = 1e-18, e0 = 1e5;  // GeV^-1 cm^-2 s^-1 sr^-1 at 100 TeV
        Eigen::ArrayXd w = mc.oneweight * phi0 * (mc.true_energy / e0).pow(-gamma) * T;
        double mu_mc = w.sum();
        double rel_err = std::sqrt(w.square().sum()) / mu_mc;  // MC statistical error
        double mu_ref = nusky::expected_events_isotropic(in, phi0, e0, gamma, T);
        std::printf("MC (%lld events, %.2f s): isotropic E^-%.1f, Phi0=1e-18 at 100 TeV: "
                    "sum OW*Phi*T = %.3f +- %.1f%%, effective-area integral = %.3f (ratio %.4f)\n",
                    static_cast<long long>(mc.size()), secs, gamma, mu_mc, 100 * rel_err, mu_ref,
                    mu_mc / mu_ref);
        EXPECT_NEAR(mu_mc / mu_ref, 1.0, std::max(0.03, 4.0 * rel_err)) << gamma;
    }
    // Template: mu = T * sum OW * Phi(E) * T_map(true direction); the release quotes 309.57
    // events for the pi0 template at Phi0 = 1e-18 (100 TeV, gamma 2.7), all flavours.
    const auto& map = pi0_map();
    Healpix_Base base(128, RING, SET_NSIDE);
    double mu_tpl = 0.0;
    for (Eigen::Index i = 0; i < mc.size(); ++i) {
        int p = base.ang2pix(pointing(0.5 * kPi - mc.true_dec[i], mc.true_ra[i]));
        mu_tpl += mc.oneweight[i] * 1e-18 * std::pow(mc.true_energy[i] / 1e5, -2.7) * map[p];
    }
    mu_tpl *= T;
    // Direct: sum over pixels of T_p * Omega_p * Int A_eff(E, band(p)) Phi dE.
    double mu_direct = 0.0;
    const double omega = 4 * kPi / static_cast<double>(map.size());
    for (Eigen::Index p = 0; p < map.size(); ++p) {
        double sd = std::sin(0.5 * kPi - base.pix2ang(static_cast<int>(p)).theta);
        auto it = std::upper_bound(in.effa_sindec_edges.data(), in.effa_sindec_edges.data() + 6, sd);
        Eigen::Index b = std::clamp<Eigen::Index>(it - in.effa_sindec_edges.data() - 1, 0, 4);
        double acc = 0.0;
        for (Eigen::Index k = 0; k < 120; ++k) {
            double a = in.effa_energy_edges[k], c = in.effa_energy_edges[k + 1];
            acc += in.effa_cm2(b, k) * 1e-18 * std::pow(1e5, 2.7) * (std::pow(c, -1.7) - std::pow(a, -1.7)) / -1.7;
        }
        mu_direct += map[p] * omega * acc;
    }
    mu_direct *= T;
    std::printf("pi0 template, Phi0=1e-18 at 100 TeV, E^-2.7: MC mu = %.2f, direct = %.2f "
                "(release: 309.57 all-flavour)\n", mu_tpl, mu_direct);
    EXPECT_NEAR(mu_tpl / mu_direct, 1.0, 0.05);
    EXPECT_TRUE((mc.oneweight >= 0.0).all());
    EXPECT_TRUE(mc.log10_energy.allFinite());
}

// Injection recovery on the simulated cascade sky (issue 4): MC events injected with the
// functions of likelihood/common/inject.hpp into RA-scrambled skies and fitted with the
// point-source and template likelihoods. One process (MPI_COMM_SELF); ~20 trials per case.
//
// Two kinds of sky:
//  - "consistent sigma": the simulated background with each event's sigma redrawn from the
//    same reconstruction model as the signal and the MC (the PSF at its energy times
//    exp(0.3 N(0,1))), so that the per-event sigma carries no information the likelihood does
//    not model. Here the fit must recover the injection: median n_s within 15 %, gamma within
//    0.2 (met at dec -30 and +30 and for the template; at dec 0 not: see the test).
//  - the simulated sky as it is (background sigma from the data histogram, independent of
//    energy; signal sigma from the PSF, median 8 deg at E^-2 against 18 deg). The likelihood of
//    PHYSICS.md has no sigma term, so n_s is biased upwards (the Punzi effect): measured and
//    printed, and only bounded loosely here; see docs/physics.md for the numbers.
#include "likelihood/common/inject.hpp"
#include "likelihood/point_source/point_source.hpp"
#include "likelihood/point_source/point_source_injection.hpp"
#include "likelihood/template/template_injection.hpp"
#include "likelihood/template/template_likelihood.hpp"
#include "readers/simulation/simulate.hpp"

#include "nusky/mpi.hpp"
#include "nusky/rng.hpp"

#include "../test_paths.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <vector>

namespace {

constexpr double kDeg = std::numbers::pi / 180.0;

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    const auto n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Sky {
    nusky::SimulationInputs inputs;
    nusky::SimulationConfig cfg;
    Eigen::ArrayXd pi0;
    nusky::Events mc;
    Sky()
    {
        const std::string dir = nusky::test::shared_data("gp2023");
        inputs = nusky::load_simulation_inputs(dir);
        pi0 = nusky::read_template_map(dir + "/Fermi-LAT_pi0_map.npy");
        cfg.seed = 4242;
        cfg.mc_count = 1000000;
        mc = nusky::simulate_mc(cfg, inputs, 0, cfg.mc_count);
        mc.compute_unit_vectors();
    }
    nusky::Events sky(double signal_mean, bool consistent_sigma) const
    {
        auto c = cfg;
        c.signal_mean = signal_mean;
        auto events = nusky::simulate_sky(c, inputs, pi0, 0, nusky::sky_count(c));
        if (consistent_sigma) {
            // sigma = vMF sigma of the PSF median at the (reconstructed) energy, log-normal scatter.
            for (Eigen::Index i = 0; i < events.size(); ++i) {
                nusky::CounterRng rng(c.seed, 99, static_cast<std::uint64_t>(i));
                const double median_psf = inputs.median_psf(std::pow(10.0, events.log10_energy[i]));
                const double s = std::exp(0.3 * rng.normal()) / std::sqrt(nusky::vmf_kappa_for_median(median_psf));
                events.sigma[i] = std::max(s, 0.2 * kDeg);
            }
        }
        events.compute_unit_vectors();
        return events;
    }
};

const Sky& shared_sky()
{
    static const Sky sky;
    return sky;
}

struct Recovery {
    double median_ns, median_gamma, median_injected;
};

Recovery point_source_recovery(const nusky::Events& data, double dec_deg, int trials)
{
    const auto& s = shared_sky();
    nusky::Comm self(MPI_COMM_SELF);
    nusky::PointSourceSettings settings;
    settings.energy_binning.log_energy_min = 1.0;  // as the point_source module
    settings.energy_binning.log_energy_max = 8.0;
    const nusky::PointSourcePdfs pdfs(data, s.mc, self, settings);
    const double ra = 100 * kDeg, dec = dec_deg * kDeg;
    const auto pool = nusky::point_source_injection_pool(s.mc, ra, dec, 2.0, 3 * kDeg, 1e5, s.cfg.livetime_s, self);
    nusky::PointSourceSignalTrials run(data, pdfs, nusky::unit_vector(ra, dec));
    std::vector<double> ns, gamma, injected;
    for (int t = 0; t < trials; ++t) {
        const auto events = nusky::draw_injection(pool, 7, t, 50.0);
        const auto r = run(7, t, events);
        ns.push_back(r.ns);
        gamma.push_back(r.gamma);
        injected.push_back(static_cast<double>(events.size()));
    }
    return {median(ns), median(gamma), median(injected)};
}

}  // namespace

TEST(InjectionRecovery, PointSourceOnConsistentSigmaSky)
{
    const auto data = shared_sky().sky(0.0, true);
    for (double dec : {-30.0, 0.0, 30.0}) {
        const auto r = point_source_recovery(data, dec, 20);
        std::printf("consistent-sigma sky, dec %+.0f: 50 injected (median drawn %.0f): median n_s %.1f, gamma %.3f\n",
                    dec, r.median_injected, r.median_ns, r.median_gamma);
        if (dec != 0.0) {
            EXPECT_NEAR(r.median_ns / 50.0, 1.0, 0.15) << "dec " << dec;
            EXPECT_NEAR(r.median_gamma, 2.0, 0.2) << "dec " << dec;
        } else {
            // At the equator the target is not met: measured +42 % in n_s and gamma 2.23
            // (docs/physics.md; a residual of the sigma model: at a given reconstructed energy
            // the atmospheric background has lower true energies, hence larger sigma, than
            // the E^-2 signal). Bounded here so that it does not get worse unnoticed.
            EXPECT_NEAR(r.median_ns / 50.0, 1.0, 0.6) << "dec " << dec;
            EXPECT_NEAR(r.median_gamma, 2.0, 0.4) << "dec " << dec;
        }
    }
}

TEST(InjectionRecovery, PointSourceOnSimulatedSkyIsBiasedBySigma)
{
    const auto data = shared_sky().sky(0.0, false);
    for (double dec : {-30.0, 0.0, 30.0}) {
        const auto r = point_source_recovery(data, dec, 20);
        std::printf("simulated sky, dec %+.0f: 50 injected: median n_s %.1f (%+.0f %%), gamma %.3f\n", dec,
                    r.median_ns, 100.0 * (r.median_ns / 50.0 - 1.0), r.median_gamma);
        // Known upward bias (Punzi effect, docs/physics.md): recovered, but not within 15 %.
        EXPECT_GT(r.median_ns, 0.85 * 50.0) << "dec " << dec;
        EXPECT_LT(r.median_ns, 3.0 * 50.0) << "dec " << dec;
        EXPECT_NEAR(r.median_gamma, 2.0, 0.5) << "dec " << dec;
    }
}

TEST(InjectionRecovery, GalacticPlaneTemplateAtThePapersFlux)
{
    // The paper's flux (21.8e-12 TeV cm^-2 s^-1 at 100 TeV, E^-2.7) is ~675 events; the sky
    // itself holds Poisson(675) signal events, scrambled away in the trials, so that the data-driven
    // B contains a signal's RA average as on real data; each trial's PDFs include its injection.
    const auto& s = shared_sky();
    nusky::Comm self(MPI_COMM_SELF);
    for (bool consistent : {true, false}) {
        const auto data = s.sky(675.0, consistent);
        nusky::TemplateSettings settings;
        settings.energy_binning.log_energy_min = 1.0;  // as the template module
        settings.energy_binning.log_energy_max = 8.0;
        settings.smoothing.n_sigma = 12;
        const std::optional<nusky::EffectiveArea> no_effective_area;
        const nusky::TemplatePdfs pdfs(s.pi0, data, s.mc, no_effective_area, self, settings);
        std::vector<double> mc_counts(static_cast<std::size_t>(settings.energy_binning.n_cells()), 0.0);
        nusky::fill_energy_mc_counts(settings.energy_binning, nusky::GammaGrid::single(2.7), s.mc.z,
                                     s.mc.log10_energy, s.mc.true_energy, s.mc.oneweight, mc_counts);
        const auto pool = nusky::template_injection_pool(s.mc, s.pi0, 2.7, 1e5, s.cfg.livetime_s, self);
        nusky::TemplateSignalTrials run(data, pdfs, settings, mc_counts, true);
        std::vector<double> ratio;
        for (int t = 0; t < 20; ++t) {
            const auto events = nusky::draw_injection(pool, 11, t, 675.0);
            ratio.push_back(run(11, t, events).ns / static_cast<double>(events.size()));
        }
        const double m = median(ratio);
        std::printf("%s sky: pi0 template, 675 injected: median n_s / n_injected = %.3f\n",
                    consistent ? "consistent-sigma" : "simulated", m);
        if (consistent)
            EXPECT_NEAR(m, 1.0, 0.15);
        else
            EXPECT_NEAR(m, 1.25, 0.35);  // the sigma (Punzi) bias, +17 to +41 % measured; docs/physics.md
    }
}

// The joint fit of several samples (PHYSICS.md section 10) and the signal yields that split n_s.
#include "likelihood/common/flux.hpp"
#include "likelihood/common/joint_fit.hpp"
#include "likelihood/common/yield.hpp"

#include "nusky/error.hpp"
#include "nusky/mpi.hpp"
#include "nusky/rng.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace {

using namespace nusky;

// A sample of n events whose S R / B at gamma is spatial_i * exp(slope_i (2.5 - gamma)): some
// events prefer hard spectra, some soft. Deterministic (CounterRng keyed by seed).
struct ToySample {
    Eigen::ArrayXd spatial, slope;
    // peaked: the signal events' energy ratios peak at gamma 2.2-2.6 (the TS peaks inside
    // [1, 4]); otherwise they rise towards hard spectra (the TS peaks at gamma 1).
    ToySample(std::uint64_t seed, int n, int n_signal, bool peaked = false) : n_signal(peaked ? n_signal : 0)
    {
        spatial.resize(n);
        slope.resize(n);
        CounterRng rng(seed, 0, 0);
        for (int i = 0; i < n; ++i) {
            const bool signal = i < n_signal;
            // Background: S / B spread around 1 (mostly below); signal: large S / B.
            spatial[i] = signal ? 5.0 + 40.0 * rng.uniform() : 2.0 * rng.uniform() * rng.uniform();
            slope[i] = signal ? (peaked ? 2.2 + 0.4 * rng.uniform() : 0.8 + 0.4 * rng.uniform())
                              : -0.6 + 0.8 * rng.uniform();
        }
    }
    int n_signal = 0;  // peaked signal events (their slope is the peak's gamma)
    double sob(int i, double gamma) const
    {
        if (i < n_signal) return spatial[i] * 3.0 * std::exp(-2.0 * (gamma - slope[i]) * (gamma - slope[i]));
        return spatial[i] * std::exp(slope[i] * (2.5 - gamma));
    }
    JointSampleTerm term(const std::string& name, std::function<double(double)> yield) const
    {
        JointSampleTerm t;
        t.name = name;
        t.n_local = static_cast<std::size_t>(spatial.size());
        t.n_total = static_cast<double>(spatial.size());
        t.sob_at_gamma = [this](double gamma, double* out) {
            for (Eigen::Index i = 0; i < spatial.size(); ++i) out[i] = sob(static_cast<int>(i), gamma);
        };
        t.yield = std::move(yield);
        return t;
    }
};

double yield_a(double gamma) { return 100.0 * std::pow(10.0, -0.4 * (gamma - 2.0)); }
double yield_b(double gamma) { return 40.0 * std::pow(10.0, -0.1 * (gamma - 2.0)); }

// An independent joint fit: TS(n_s, gamma) written out from the definition, maximised over n_s
// by bisection on its derivative and over gamma on a fine grid refined by golden sections.
double independent_joint_ts(const std::vector<const ToySample*>& samples,
                            const std::vector<std::function<double(double)>>& yields, double& ns_out,
                            double& gamma_out)
{
    auto profile = [&](double gamma, double& ns_best) {
        std::vector<double> w;
        double total = 0.0;
        for (const auto& y : yields) total += y(gamma), w.push_back(y(gamma));
        for (double& v : w) v /= total;
        auto derivative = [&](double ns) {
            double d = 0.0;
            for (std::size_t k = 0; k < samples.size(); ++k) {
                const double n = static_cast<double>(samples[k]->spatial.size());
                for (int i = 0; i < samples[k]->spatial.size(); ++i) {
                    const double x = w[k] * (samples[k]->sob(i, gamma) - 1.0) / n;
                    d += x / (1.0 + ns * x);
                }
            }
            return d;
        };
        auto ts = [&](double ns) {
            double sum = 0.0;
            for (std::size_t k = 0; k < samples.size(); ++k) {
                const double n = static_cast<double>(samples[k]->spatial.size());
                for (int i = 0; i < samples[k]->spatial.size(); ++i)
                    sum += std::log(1.0 + ns * w[k] * (samples[k]->sob(i, gamma) - 1.0) / n);
            }
            return 2.0 * sum;
        };
        double lo = 0.0, hi = 0.0;
        for (std::size_t k = 0; k < samples.size(); ++k) hi += static_cast<double>(samples[k]->spatial.size());
        if (derivative(0.0) <= 0.0) {
            ns_best = 0.0;
            return 0.0;
        }
        hi *= 0.999;
        for (int it = 0; it < 200; ++it) {
            const double mid = 0.5 * (lo + hi);
            (std::isfinite(ts(mid)) && derivative(mid) > 0.0 ? lo : hi) = mid;
        }
        ns_best = 0.5 * (lo + hi);
        return ts(ns_best);
    };
    double best = -1.0, best_gamma = 1.0, ns = 0.0;
    for (double g = 1.0; g <= 4.0 + 1e-9; g += 0.01) {
        double n;
        const double t = profile(g, n);
        if (t > best) best = t, best_gamma = g, ns = n;
    }
    double a = std::max(1.0, best_gamma - 0.01), b = std::min(4.0, best_gamma + 0.01);
    const double r = (std::sqrt(5.0) - 1.0) / 2.0;
    for (int it = 0; it < 60; ++it) {
        const double c = b - r * (b - a), d = a + r * (b - a);
        double n1, n2;
        (profile(c, n1) > profile(d, n2) ? b : a) = (profile(c, n1) > profile(d, n2) ? d : c);
    }
    gamma_out = 0.5 * (a + b);
    const double t = profile(gamma_out, ns);
    ns_out = ns;
    return std::max(t, best);
}

}  // namespace

TEST(JointFit, ACopyOfTheSampleDoublesTsAndNs)
{
    const ToySample a(7, 2000, 25);
    const auto alone = fit_joint({a.term("a", yield_a)}, {}, reduce_nothing);
    ASSERT_GT(alone.fit.ts, 10.0);
    ASSERT_GT(alone.fit.ns, 5.0);
    EXPECT_EQ(alone.fraction, std::vector<double>{1.0});
    const auto twice = fit_joint({a.term("a", yield_a), a.term("a2", yield_a)}, {}, reduce_nothing);
    EXPECT_NEAR(twice.fit.ts, 2.0 * alone.fit.ts, 1e-7 * alone.fit.ts);
    // n_s to the Newton search's tolerance (it stops when a step gains < 1e-8 in TS).
    EXPECT_NEAR(twice.fit.ns, 2.0 * alone.fit.ns, 1e-4 * alone.fit.ns);
    EXPECT_NEAR(twice.fit.gamma, alone.fit.gamma, 1e-6);
    EXPECT_DOUBLE_EQ(twice.fraction[0], 0.5);
    EXPECT_NEAR(twice.ts[0], alone.fit.ts, 1e-7 * alone.fit.ts);
    EXPECT_NEAR(twice.ts[0] + twice.ts[1], twice.fit.ts, 1e-9 * twice.fit.ts);
}

TEST(JointFit, AnEmptySecondSampleGivesTheFirstSamplesResult)
{
    const ToySample a(7, 2000, 25);
    const auto alone = fit_joint({a.term("a", yield_a)}, {}, reduce_nothing);
    JointSampleTerm empty;
    empty.name = "empty";
    empty.sob_at_gamma = [](double, double*) {};
    empty.yield = yield_b;  // it could see signal, but has no events
    const auto joint = fit_joint({a.term("a", yield_a), empty}, {}, reduce_nothing);
    EXPECT_NEAR(joint.fit.ts, alone.fit.ts, 1e-7 * alone.fit.ts);
    EXPECT_NEAR(joint.fit.gamma, alone.fit.gamma, 1e-4);
    // All of the first sample's n_s is n_s * w_a.
    EXPECT_NEAR(joint.fit.ns * joint.fraction[0], alone.fit.ns, 1e-4 * alone.fit.ns);
    EXPECT_NEAR(joint.fraction[0], yield_a(joint.fit.gamma) / (yield_a(joint.fit.gamma) + yield_b(joint.fit.gamma)),
                1e-12);
    EXPECT_EQ(joint.ts[1], 0.0);
}

TEST(JointFit, TwoDifferentSamplesAgreeWithAnIndependentJointFit)
{
    for (bool peaked : {true, false}) {
        const ToySample a(7, 2000, 25, peaked), b(8, 800, 6, peaked);
        const auto joint = fit_joint({a.term("a", yield_a), b.term("b", yield_b)}, {}, reduce_nothing);
        double ns = 0.0, gamma = 0.0;
        const double ts = independent_joint_ts({&a, &b}, {yield_a, yield_b}, ns, gamma);
        std::printf("joint fit: TS %.9f n_s %.6f gamma %.6f; independent: TS %.9f n_s %.6f gamma %.6f\n",
                    joint.fit.ts, joint.fit.ns, joint.fit.gamma, ts, ns, gamma);
        EXPECT_GT(ts, 5.0);
        EXPECT_NEAR(joint.fit.ts, ts, 1e-6 * ts) << peaked;
        EXPECT_NEAR(joint.fit.gamma, gamma, 2e-3) << peaked;
        EXPECT_NEAR(joint.fit.ns, ns, 2e-3 * ns) << peaked;
        if (peaked) {
            EXPECT_GT(gamma, 1.5);
            EXPECT_LT(gamma, 3.5);
        } else {
            EXPECT_EQ(joint.fit.gamma, 1.0);  // the edge, evaluated exactly
        }
    }
    const ToySample a(7, 2000, 25), b(8, 800, 6);
    const auto joint = fit_joint({a.term("a", yield_a), b.term("b", yield_b)}, {}, reduce_nothing);
    // The split is not the equal one: the yields differ and depend on gamma.
    EXPECT_GT(joint.fraction[0], 0.6);
    // Fixed gamma (settings.gamma_min == gamma_max) is honoured.
    FitSettings fixed;
    fixed.gamma_min = fixed.gamma_max = 2.0;
    const auto at_two = fit_joint({a.term("a", yield_a), b.term("b", yield_b)}, fixed, reduce_nothing);
    EXPECT_EQ(at_two.fit.gamma, 2.0);
    EXPECT_LE(at_two.fit.ts, joint.fit.ts + 1e-9);
}

TEST(JointFit, NoYieldAnywhereIsAnError)
{
    const ToySample a(7, 200, 5);
    auto none = [](double) { return 0.0; };
    EXPECT_THROW(fit_joint({a.term("a", none), a.term("b", none)}, {}, reduce_nothing), Error);
}

TEST(SignalYield, EffectiveAreaAndMcAgreeForTheSameDetector)
{
    // A flat 1000 cm^2 area from 10^2 to 10^8 GeV at every declination, 1 year.
    EffectiveAreaGrid grid;
    grid.log10_energy_edges = Eigen::ArrayXd::LinSpaced(13, 2.0, 8.0);
    grid.dec_edges = Eigen::ArrayXd::LinSpaced(7, -std::numbers::pi / 2, std::numbers::pi / 2);
    grid.area_cm2 = Eigen::ArrayXXd::Constant(12, 6, 1000.0);
    grid.livetime_s = 3.15e7;
    const auto from_area = PointSourceYield::from_effective_areas({grid}, 0.1, 1e5);
    // Exact: livetime * A * int (E/E0)^-2 dE = livetime * A * E0^2 (1/E_lo - 1/E_hi).
    EXPECT_NEAR(from_area(2.0), 3.15e7 * 1000.0 * 1e10 * (1e-2 - 1e-8), 1e-9 * from_area(2.0));
    EXPECT_EQ(from_area.source(), "effective_area");
    // MC of the same detector: E^-1 generated between 10^2 and 10^8 GeV over the whole sky,
    // OW = A * Omega * int E^-1 dE / (N E^-1) per event.
    Events mc;
    const int n = 400000;
    mc.resize(n, false, true);
    CounterRng rng(3, 0, 0);
    const double log_range = std::log(1e6), omega = 4.0 * std::numbers::pi;
    for (int i = 0; i < n; ++i) {
        const double e = 1e2 * std::exp(log_range * rng.uniform());
        mc.true_energy[i] = e;
        mc.true_dec[i] = std::asin(2.0 * rng.uniform() - 1.0);
        mc.oneweight[i] = 1000.0 * omega * log_range * e / n;
    }
    Comm self(MPI_COMM_SELF);
    const auto from_mc = PointSourceYield::from_mc(mc, 0.1, 5.0 * std::numbers::pi / 180.0, 3.15e7, 1e5, self);
    EXPECT_EQ(from_mc.source(), "mc");
    for (double gamma : {1.5, 2.0, 2.5, 3.0}) {
        EXPECT_NEAR(from_mc(gamma) / from_area(gamma), 1.0, 0.05) << gamma;
    }
    // A declination outside the grid sees nothing.
    grid.dec_edges = Eigen::ArrayXd::LinSpaced(7, -0.5, 0.5);
    EXPECT_EQ(PointSourceYield::from_effective_areas({grid}, 1.0, 1e5)(2.0), 0.0);
}

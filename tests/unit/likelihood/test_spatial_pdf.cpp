#include "likelihood/common/spatial_pdf.hpp"

#include "nusky/error.hpp"

#include <boost/math/quadrature/gauss_kronrod.hpp>
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

namespace {

constexpr double pi = std::numbers::pi;
constexpr double deg = pi / 180.0;

// 2 pi * integral of S(cos psi) sin psi over [a, b].
double sphere_integral(double sigma, double a, double b, double tolerance)
{
    auto f = [&](double psi) { return nusky::vmf_density(std::cos(psi), sigma) * std::sin(psi); };
    return 2.0 * pi *
           boost::math::quadrature::gauss_kronrod<double, 61>::integrate(f, a, b, 15, tolerance);
}

}  // namespace

TEST(VonMisesFisher, NormalisedOnTheSphereFromSubDegreeToCascadeSigmas)
{
    for (double sigma_deg : {0.2, 1.0, 5.0, 20.0, 60.0, 90.0}) {
        const double sigma = sigma_deg * deg;
        // Split where the density has fallen off so the quadrature resolves the peak.
        const double split = std::min(pi, 12.0 * sigma);
        double total = sphere_integral(sigma, 0.0, split, 1e-12);
        // The tail beyond 12 sigma is below exp(-72): a loose relative tolerance is plenty
        // (a tight one would subdivide a vanishing integral to the depth limit).
        if (split < pi) total += sphere_integral(sigma, split, pi, 1e-3);
        EXPECT_NEAR(total, 1.0, 1e-6) << "sigma = " << sigma_deg << " deg";
    }
}

TEST(VonMisesFisher, SmallSigmaIsTheTwoDimensionalGaussian)
{
    const double sigma = 0.2 * deg;
    for (double k : {0.0, 0.5, 1.0, 2.0, 3.0}) {
        const double psi = k * sigma;
        const double gauss = std::exp(-psi * psi / (2 * sigma * sigma)) / (2 * pi * sigma * sigma);
        EXPECT_NEAR(nusky::vmf_density(std::cos(psi), sigma) / gauss, 1.0, 1e-4) << k;
    }
}

TEST(VonMisesFisher, HugeSigmaIsIsotropic)
{
    // kappa -> 0: 1 - exp(-2 kappa) must not cancel to 0.
    for (double cos_psi : {-1.0, 0.0, 1.0})
        EXPECT_NEAR(nusky::vmf_density(cos_psi, 1e4) * 4 * pi, 1.0, 1e-6);
    EXPECT_NEAR(nusky::vmf_normalisation(1e-12) * 4 * pi, 1.0, 1e-9);
}

TEST(VonMisesFisher, NeverOverflowsOrGoesNegative)
{
    const double s = nusky::vmf_density(-1.0, 0.2 * deg);
    EXPECT_EQ(s, 0.0);  // underflows cleanly, no NaN
    EXPECT_TRUE(std::isfinite(nusky::vmf_density(1.0, 0.2 * deg)));
    EXPECT_THROW(nusky::vmf_density(1.0, 0.0), nusky::Error);
    EXPECT_THROW(nusky::vmf_density(1.0, -1.0), nusky::Error);
}

TEST(VonMisesFisher, VectorisedMatchesScalar)
{
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const int n = 500;
    Eigen::ArrayXd x(n), y(n), z(n), sigma(n);
    const nusky::UnitVector source = nusky::unit_vector(1.2, -0.4);
    for (int i = 0; i < n; ++i) {
        const nusky::UnitVector v = nusky::unit_vector(2 * pi * u(rng), std::asin(2 * u(rng) - 1));
        x[i] = v.x, y[i] = v.y, z[i] = v.z;
        sigma[i] = (0.5 + 59.5 * u(rng)) * deg;
    }
    Eigen::ArrayXd s;
    nusky::vmf_density(x, y, z, sigma, source, s);
    ASSERT_EQ(s.size(), n);
    for (int i = 0; i < n; ++i) {
        const double cos_psi = x[i] * source.x + y[i] * source.y + z[i] * source.z;
        const double expected = nusky::vmf_density(cos_psi, sigma[i]);
        EXPECT_NEAR(s[i], expected, 1e-9 * expected + 1e-300) << i;
    }
}

TEST(VonMisesFisher, VectorisedIsAccurateAtTinySeparations)
{
    // Reference with cos psi - 1 = -2 sin^2(psi / 2), free of cancellation.
    const double sigma = 0.2 * deg;
    const nusky::UnitVector source = nusky::unit_vector(0.3, 0.2);
    const double psi = 2e-3;  // about 0.57 sigma
    const nusky::UnitVector event = nusky::unit_vector(0.3, 0.2 + psi);
    Eigen::ArrayXd x(1), y(1), z(1), s(1), sig(1);
    x << event.x;
    y << event.y;
    z << event.z;
    sig << sigma;
    nusky::vmf_density(x, y, z, sig, source, s);
    const double kappa = 1 / (sigma * sigma);
    const double exact =
        nusky::vmf_normalisation(kappa) * std::exp(-2 * kappa * std::pow(std::sin(psi / 2), 2));
    EXPECT_NEAR(s[0] / exact, 1.0, 1e-9);
}

TEST(SinDecBackground, FillsEqualBinsIncludingTheEdges)
{
    std::vector<double> counts(4, 0.0);
    Eigen::ArrayXd sd(6);
    sd << -1.0, -0.6, -0.5, 0.0, 0.99, 1.0;
    nusky::fill_sin_dec_counts(sd, counts);
    EXPECT_EQ(counts, (std::vector<double>{2, 1, 1, 2}));
    Eigen::ArrayXd bad(1);
    bad << 1.5;
    EXPECT_THROW(nusky::fill_sin_dec_counts(bad, counts), nusky::Error);
}

TEST(SinDecBackground, InterpolatesBetweenCentresAndHoldsBeyond)
{
    // 4 bins of width 0.5, 8 events: densities 0.25, 0.75, 0, 1 at centres -0.75 .. 0.75.
    nusky::SinDecBackgroundPdf pdf({1, 3, 0, 4});
    EXPECT_DOUBLE_EQ(pdf.sin_dec_density(-1.0), 0.25);
    EXPECT_DOUBLE_EQ(pdf.sin_dec_density(-0.9), 0.25);
    EXPECT_DOUBLE_EQ(pdf.sin_dec_density(-0.75), 0.25);
    EXPECT_DOUBLE_EQ(pdf.sin_dec_density(-0.5), 0.5);
    EXPECT_DOUBLE_EQ(pdf.sin_dec_density(-0.375), 0.625);
    EXPECT_DOUBLE_EQ(pdf.sin_dec_density(0.0), 0.375);
    EXPECT_DOUBLE_EQ(pdf.sin_dec_density(0.5), 0.5);
    EXPECT_DOUBLE_EQ(pdf.sin_dec_density(0.9), 1.0);
    EXPECT_DOUBLE_EQ(pdf.sin_dec_density(1.0), 1.0);
    EXPECT_DOUBLE_EQ(pdf.background_density(0.0), 0.375 / (2 * pi));
    Eigen::ArrayXd sd(2), b;
    sd << -0.5, 0.5;
    pdf.background_density(sd, b);
    EXPECT_DOUBLE_EQ(b[0], 0.5 / (2 * pi));
    EXPECT_DOUBLE_EQ(b[1], 0.5 / (2 * pi));
}

TEST(SinDecBackground, IntegratesToOneOverTheSphere)
{
    std::mt19937_64 rng(3);
    std::uniform_real_distribution<double> u(0.0, 100.0);
    std::vector<double> counts(nusky::SinDecBackgroundPdf::default_bins);
    for (double& c : counts) c = std::floor(u(rng));
    nusky::SinDecBackgroundPdf pdf(counts);
    // Piecewise linear: Gauss-Kronrod per segment between knots is exact.
    const int n = pdf.n_bins();
    const double w = pdf.bin_width();
    auto b = [&](double s) { return pdf.background_density(s); };
    double integral = 0.0;
    double a = -1.0;
    for (int j = 0; j <= n; ++j) {
        const double next = j < n ? -1.0 + (j + 0.5) * w : 1.0;
        integral += boost::math::quadrature::gauss_kronrod<double, 15>::integrate(b, a, next);
        a = next;
    }
    EXPECT_NEAR(2 * pi * integral, 1.0, 1e-12);  // d(RA) gives the 2 pi
}

TEST(SinDecBackground, RejectsEmptyOrNegativeHistograms)
{
    EXPECT_THROW(nusky::SinDecBackgroundPdf(std::vector<double>(40, 0.0)), nusky::Error);
    EXPECT_THROW(nusky::SinDecBackgroundPdf({1.0, -1.0, 3.0}), nusky::Error);
    EXPECT_THROW(nusky::SinDecBackgroundPdf({1.0}), nusky::Error);
}

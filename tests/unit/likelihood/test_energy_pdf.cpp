#include "likelihood/common/energy_pdf.hpp"

#include "nusky/error.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace {

// One sin-dec column, 4 log-energy bins on [2, 6], one gamma.
nusky::EnergyBinning one_column()
{
    nusky::EnergyBinning b;
    b.n_sin_dec = 1;
    b.n_log_energy = 4;
    b.log_energy_min = 2.0;
    b.log_energy_max = 6.0;
    return b;
}

}  // namespace

TEST(EnergyBinning, CellsClampEnergyButNotDeclination)
{
    nusky::EnergyBinning b;  // 20 x 30 on [2, 7]
    EXPECT_EQ(b.cell(-1.0, 2.0), 0);
    EXPECT_EQ(b.cell(1.0, 7.0), 19 * 30 + 29);
    EXPECT_EQ(b.cell(0.0, 1.0), 10 * 30 + 0);    // below range: first energy bin
    EXPECT_EQ(b.cell(0.0, 99.0), 10 * 30 + 29);  // above range: last energy bin
    EXPECT_EQ(b.cell(-0.95, 2.2), 0 * 30 + 1);
    EXPECT_THROW(b.cell(1.01, 3.0), nusky::Error);
    EXPECT_THROW(b.cell(0.0, std::nan("")), nusky::Error);
}

TEST(GammaGrid, DefaultGridAndLocate)
{
    const auto g = nusky::GammaGrid::uniform(1.0, 4.0, 0.1);
    EXPECT_EQ(g.size, 31);
    EXPECT_DOUBLE_EQ(g.last(), 4.0);
    int k;
    double t;
    g.locate(2.55, k, t);
    EXPECT_EQ(k, 15);
    EXPECT_NEAR(t, 0.5, 1e-9);
    g.locate(4.0, k, t);
    EXPECT_EQ(k, 29);
    EXPECT_NEAR(t, 1.0, 1e-12);
    g.locate(0.0, k, t);  // clamped
    EXPECT_EQ(k, 0);
    EXPECT_EQ(t, 0.0);
    EXPECT_THROW(nusky::GammaGrid::uniform(1.0, 4.05, 0.1), nusky::Error);
}

TEST(EnergyRatio, EmptyBinRules)
{
    const auto b = one_column();
    // f_B = {1/4, 0, 0, 3/4}; f_S = {1/3, 2/3, 0, 0}.
    const std::vector<double> data{2, 0, 0, 6};
    const std::vector<double> mc{1, 2, 0, 0};
    nusky::EnergyRatioTable table(b, nusky::GammaGrid::single(2.0), data, mc);
    EXPECT_DOUBLE_EQ(table.ratio_at_grid(0, 0), (1.0 / 3) / 0.25);  // both filled
    EXPECT_DOUBLE_EQ(table.ratio_at_grid(0, 1), (2.0 / 3) / 0.25);  // f_B=0: smallest non-zero f_B
    EXPECT_DOUBLE_EQ(table.ratio_at_grid(0, 2), 1.0);               // both empty
    EXPECT_DOUBLE_EQ(table.ratio_at_grid(0, 3), 0.0);               // no signal there
    EXPECT_DOUBLE_EQ(table.ratio(0.3, 3.5, 2.0), (2.0 / 3) / 0.25);
    for (int c = 0; c < 4; ++c) EXPECT_TRUE(std::isfinite(table.ratio_at_grid(0, c)));
}

TEST(EnergyRatio, ColumnsWithoutDataOrMcCarryNoEnergyInformation)
{
    auto b = one_column();
    b.n_sin_dec = 2;  // column 0: data, no MC; column 1: MC, no data
    const std::vector<double> data{1, 2, 3, 4, 0, 0, 0, 0};
    const std::vector<double> mc{0, 0, 0, 0, 5, 0, 1, 0};
    nusky::EnergyRatioTable table(b, nusky::GammaGrid::single(2.0), data, mc);
    for (int c = 0; c < 8; ++c) EXPECT_EQ(table.ratio_at_grid(0, c), 1.0) << c;
}

TEST(EnergyRatio, ColumnsAreNormalisedIndependently)
{
    auto b = one_column();
    b.n_sin_dec = 2;
    // Column 1 has 10x the data and 100x the MC of column 0, same shapes: same ratios.
    const std::vector<double> data{1, 1, 2, 4, 10, 10, 20, 40};
    const std::vector<double> mc{4, 2, 1, 1, 400, 200, 100, 100};
    nusky::EnergyRatioTable table(b, nusky::GammaGrid::single(2.0), data, mc);
    for (int e = 0; e < 4; ++e)
        EXPECT_DOUBLE_EQ(table.ratio_at_grid(0, e), table.ratio_at_grid(0, 4 + e));
    EXPECT_DOUBLE_EQ(table.ratio_at_grid(0, 0), (4.0 / 8) / (1.0 / 8));
    // The data-weighted mean of R is 1 in each column (f_S integrates to 1 where f_B > 0).
    double mean = 0;
    for (int e = 0; e < 4; ++e) mean += data[e] / 8.0 * table.ratio_at_grid(0, e);
    EXPECT_NEAR(mean, 1.0, 1e-12);
}

TEST(EnergyRatio, McWeightsAreOneweightTimesPowerLaw)
{
    const auto b = one_column();
    const auto grid = nusky::GammaGrid::uniform(1.0, 2.0, 1.0);
    std::vector<double> counts(2 * 4, 0.0);
    Eigen::ArrayXd sd(2), le(2), e_true(2), ow(2);
    sd << 0.1, 0.1;
    le << 2.5, 5.5;
    e_true << 100.0, 1e4;
    ow << 2.0, 3.0;
    nusky::fill_energy_mc_counts(b, grid, sd, le, e_true, ow, counts);
    EXPECT_NEAR(counts[0], 2.0 / 100, 1e-15);
    EXPECT_NEAR(counts[3], 3.0 / 1e4, 1e-15);
    EXPECT_NEAR(counts[4 + 0], 2.0 / 1e4, 1e-15);
    EXPECT_NEAR(counts[4 + 3], 3.0 / 1e8, 1e-15);
    EXPECT_EQ(counts[1] + counts[2] + counts[5] + counts[6], 0.0);

    std::vector<double> data(4, 0.0);
    nusky::fill_energy_data_counts(b, sd, le, data);
    EXPECT_EQ(data, (std::vector<double>{1, 0, 0, 1}));
}

namespace {

// Two gammas with different spectra so R changes with gamma.
nusky::EnergyRatioTable two_gamma_table()
{
    const auto b = one_column();
    const std::vector<double> data{4, 2, 1, 1};
    const std::vector<double> mc{1, 1, 1, 1,   // gamma 2: R = {0.5, 1, 2, 2}
                                 4, 2, 1, 1};  // gamma 3: R = {1, 1, 1, 1}
    return nusky::EnergyRatioTable(b, nusky::GammaGrid::uniform(2.0, 3.0, 1.0), data, mc);
}

}  // namespace

TEST(EnergyRatio, LinearInGammaWithPiecewiseConstantDerivative)
{
    const auto table = two_gamma_table();
    EXPECT_DOUBLE_EQ(table.ratio(0.0, 2.5, 2.0), 0.5);
    EXPECT_DOUBLE_EQ(table.ratio(0.0, 2.5, 3.0), 1.0);
    EXPECT_DOUBLE_EQ(table.ratio(0.0, 2.5, 2.25), 0.625);
    EXPECT_DOUBLE_EQ(table.ratio(0.0, 5.5, 2.5), 1.5);
    EXPECT_DOUBLE_EQ(table.ratio(0.0, 5.5, 1.0), 2.0);  // clamped below the grid
    EXPECT_DOUBLE_EQ(table.ratio(0.0, 5.5, 9.0), 1.0);  // clamped above
    for (double gamma : {2.1, 2.5, 2.9}) {
        for (double le : {2.5, 5.5}) {
            const double h = 1e-5;
            const double fd =
                (table.ratio(0.0, le, gamma + h) - table.ratio(0.0, le, gamma - h)) / (2 * h);
            EXPECT_NEAR(table.ratio_derivative(0.0, le, gamma), fd, 1e-8);
        }
    }
    EXPECT_DOUBLE_EQ(table.ratio_derivative(0.0, 5.5, 2.5), -1.0);
    EXPECT_EQ(table.ratio_derivative(0.0, 5.5, 3.5), 0.0);
}

TEST(EnergyRatio, PerEventTableInterpolatesLikeTheHistogram)
{
    const auto table = two_gamma_table();
    Eigen::ArrayXd sd(3), le(3);
    sd << -0.5, 0.2, 0.9;
    le << 2.5, 4.5, 5.9;
    const auto events = table.event_ratios(sd, le);
    ASSERT_EQ(events.n_events(), 3);
    Eigen::ArrayXd r, dr;
    for (double gamma : {1.5, 2.0, 2.3, 2.75, 3.0}) {
        events.ratios(gamma, r);
        events.ratio_derivatives(gamma, dr);
        for (int i = 0; i < 3; ++i) {
            EXPECT_DOUBLE_EQ(r[i], table.ratio(sd[i], le[i], gamma));
            EXPECT_DOUBLE_EQ(dr[i], table.ratio_derivative(sd[i], le[i], gamma));
        }
    }
    const double factor[3] = {2.0, 3.0, 4.0};
    double out[3];
    events.multiply(2.5, factor, out);
    events.ratios(2.5, r);
    for (int i = 0; i < 3; ++i) EXPECT_DOUBLE_EQ(out[i], factor[i] * r[i]);
    // Subset form: factors compacted, indices into the table.
    const Eigen::Index subset[2] = {2, 0};
    const double subset_factor[2] = {5.0, 7.0};
    double subset_out[2];
    events.multiply(2.5, subset_factor, subset, 2, subset_out);
    EXPECT_DOUBLE_EQ(subset_out[0], 5.0 * r[2]);
    EXPECT_DOUBLE_EQ(subset_out[1], 7.0 * r[0]);

    const auto unity = nusky::EventEnergyRatios::unity(5);
    unity.ratios(3.3, r);
    EXPECT_TRUE((r == 1.0).all());
}

TEST(EnergyRatio, RejectsMismatchedCounts)
{
    const auto b = one_column();
    EXPECT_THROW(nusky::EnergyRatioTable(b, nusky::GammaGrid::single(2.0), {1, 2, 3}, {1, 2, 3, 4}),
                 nusky::Error);
    EXPECT_THROW(nusky::EnergyRatioTable(b, nusky::GammaGrid::single(2.0), {1, 2, 3, 4}, {1, 2, 3}),
                 nusky::Error);
    EXPECT_THROW(
        nusky::EnergyRatioTable(b, nusky::GammaGrid::single(2.0), {1, -2, 3, 4}, {1, 2, 3, 4}),
        nusky::Error);
}

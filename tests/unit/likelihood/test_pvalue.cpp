#include "nusky/pvalue.hpp"

#include "nusky/error.hpp"

#include "../test_paths.hpp"

#include <gtest/gtest.h>

#include <cmath>

TEST(PValue, FractionOfTrialsAtLeastAsLarge)
{
    const std::vector<double> trials{0.0, 1.0, 2.0, 3.0};
    EXPECT_DOUBLE_EQ(nusky::pvalue_from_trials(trials, 2.0), 0.5);  // ties count
    EXPECT_DOUBLE_EQ(nusky::pvalue_from_trials(trials, 2.5), 0.25);
    EXPECT_DOUBLE_EQ(nusky::pvalue_from_trials(trials, -1.0), 1.0);
    EXPECT_DOUBLE_EQ(nusky::pvalue_from_trials(trials, 10.0), 0.0);
    EXPECT_THROW(nusky::pvalue_from_trials({}, 1.0), nusky::Error);
}

TEST(PValue, HistogramFollowsSearchsortedLeft)
{
    nusky::TrialHistogram h{{0.0, 1.0, 2.0, 3.0}, {10.0, 20.0, 30.0}};
    h.validate();
    EXPECT_DOUBLE_EQ(h.pvalue(-5.0), 1.0);
    EXPECT_DOUBLE_EQ(h.pvalue(0.0), 1.0);
    EXPECT_DOUBLE_EQ(h.pvalue(0.5), 50.0 / 60.0);  // first edge >= 0.5 is 1.0: bins 1, 2
    EXPECT_DOUBLE_EQ(h.pvalue(1.0), 50.0 / 60.0);  // on an edge: that bin counts
    EXPECT_DOUBLE_EQ(h.pvalue(2.9), 0.0);          // first edge >= 2.9 is the last edge
    EXPECT_DOUBLE_EQ(h.pvalue(3.0), 0.0);
    EXPECT_DOUBLE_EQ(h.pvalue(99.0), 0.0);
}

TEST(PValue, HistogramValidation)
{
    EXPECT_THROW((nusky::TrialHistogram{{0.0, 1.0}, {1.0, 2.0}}.validate()), nusky::Error);
    EXPECT_THROW((nusky::TrialHistogram{{0.0, 2.0, 1.0}, {1.0, 2.0}}.validate()), nusky::Error);
    EXPECT_THROW((nusky::TrialHistogram{{0.0, 1.0, 2.0}, {1.0, -2.0}}.validate()), nusky::Error);
    EXPECT_THROW((nusky::TrialHistogram{{0.0, 1.0, 2.0}, {0.0, 0.0}}.validate()), nusky::Error);
}

TEST(PValue, SignificanceIsTheNormalInverseSurvivalFunction)
{
    EXPECT_NEAR(nusky::significance_from_pvalue(0.5), 0.0, 1e-12);
    EXPECT_NEAR(nusky::significance_from_pvalue(0.15865525393145705), 1.0, 1e-9);
    EXPECT_NEAR(nusky::significance_from_pvalue(2.866515718791939e-7), 5.0, 1e-7);
    EXPECT_NEAR(nusky::significance_from_pvalue(0.9772498680518208), -2.0, 1e-9);
    EXPECT_TRUE(std::isinf(nusky::significance_from_pvalue(0.0)));
    EXPECT_THROW(nusky::significance_from_pvalue(1.5), nusky::Error);
    EXPECT_THROW(nusky::significance_from_pvalue(std::nan("")), nusky::Error);
}

TEST(PValue, ReproducesTheGalacticPlaneReleaseSignificances)
{
    const auto binning = nusky::test::repo_data("gp2023/bkg_trials_binning.csv");
    const auto values = nusky::test::repo_data("gp2023/bkg_trials_values.csv");
    struct Case {
        const char* column;
        double ts, trials, p, sigma;
    };
    // Science 380, 1338 (2023): TS, trial count, pre-trial p and significance per template.
    for (const Case& c :
         {Case{"pi0", 22.19, 549.5e6, 1.26e-6, 4.71}, Case{"kra5", 19.06, 300e6, 6.13e-6, 4.37},
          Case{"kra50", 15.56, 300e6, 3.72e-5, 3.96}}) {
        const auto h = nusky::read_trial_histogram(binning, values, c.column);
        EXPECT_EQ(h.edges.size(), 1001u);
        EXPECT_NEAR(h.total(), c.trials, 1.0) << c.column;
        const double p = h.pvalue(c.ts);
        EXPECT_NEAR(p / c.p, 1.0, 0.005) << c.column;
        EXPECT_NEAR(nusky::significance_from_pvalue(p), c.sigma, 0.01) << c.column;
    }
    EXPECT_THROW(nusky::read_trial_histogram(binning, values, "nope"), nusky::Error);
}

#include "likelihood/common/catalog.hpp"

#include "nusky/error.hpp"

#include "../test_paths.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numbers>

namespace {

constexpr double deg = std::numbers::pi / 180.0;

std::string write_catalog(const std::string& name, const std::string& text)
{
    auto path = nusky::test::scratch_dir() / name;
    std::ofstream(path) << text;
    return path.string();
}

// The error message of reading `text` as a catalog (empty when it parses).
std::string catalog_error(const std::string& name, const std::string& text)
{
    try {
        nusky::read_source_catalog(write_catalog(name, text));
    } catch (const nusky::Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(SourceCatalog, ParsesTheDnnCascadeSourceList)
{
    const auto sources = nusky::read_source_catalog(
        nusky::test::repo_data("gp2023/catalogs/Source_List_DNNC.txt"));
    // The release calls it the 109-source list; the file has 110 lines because Cen A appears
    // twice (the extended 4FGL J1324.0-4330e on line 96, the core J1325.5-4300 on line 97).
    // The first is kept, as in the paper's Table S5 (Cen A at 201.0, -43.5).
    ASSERT_EQ(sources.size(), 109u);
    const auto cen_a = std::find_if(sources.begin(), sources.end(), [](const auto& s) { return s.alias == "Cen A"; });
    ASSERT_NE(cen_a, sources.end());
    EXPECT_EQ(cen_a->name, "4FGLJ1324.0-4330e");
    EXPECT_NEAR(cen_a->dec, -43.5 * deg, 1e-12);
    EXPECT_EQ(cen_a->line, 96);
    EXPECT_EQ(std::count_if(sources.begin(), sources.end(), [](const auto& s) { return s.name == "4FGLJ1325.5-4300"; }), 0);
    EXPECT_EQ(sources[1].alias, "HESS J0835-455");
    EXPECT_EQ(sources.front().name, "HESSJ1708-443");
    EXPECT_NEAR(sources.front().ra, 257.0 * deg, 1e-12);
    EXPECT_NEAR(sources.front().dec, -44.30 * deg, 1e-12);
    EXPECT_EQ(sources.front().weight, 1.0);  // 4th column "pwn" is a class, not a weight
    EXPECT_EQ(sources[1].name, "VelaX");
    EXPECT_NEAR(sources[1].ra, 128.2870 * deg, 1e-12);
    EXPECT_EQ(sources.back().name, "4FGLJ0618.1+7819");
    EXPECT_NEAR(sources.back().dec, 78.3317 * deg, 1e-12);
    for (const auto& s : sources) {
        EXPECT_GE(s.ra, 0.0);
        EXPECT_LT(s.ra, 2 * std::numbers::pi);
        EXPECT_LE(std::abs(s.dec), std::numbers::pi / 2);
    }
}

TEST(SourceCatalog, CommentsBlankLinesAndNumericWeights)
{
    const auto sources = nusky::read_source_catalog(write_catalog(
        "weights.txt",
        "# name ra dec weight\n\nA 10 20 2.5\r\n  \t\nB\t350.5\t-89.9\nC 0 0 1.5 snr extra\n"));
    ASSERT_EQ(sources.size(), 3u);
    EXPECT_EQ(sources[0].weight, 2.5);
    EXPECT_EQ(sources[1].name, "B");
    EXPECT_NEAR(sources[1].dec, -89.9 * deg, 1e-12);
    EXPECT_EQ(sources[1].weight, 1.0);  // no 4th column: weight 1
    EXPECT_EQ(sources[2].weight, 1.5);
    EXPECT_EQ(sources[2].alias, "snr extra");
}

TEST(SourceCatalog, ErrorsNameFileAndLine)
{
    std::string e = catalog_error("bad_dec.txt", "# header\nA 10 20\nB 10 95\n");
    EXPECT_NE(e.find("bad_dec.txt:3:"), std::string::npos) << e;
    EXPECT_NE(e.find("Dec"), std::string::npos) << e;

    e = catalog_error("bad_ra.txt", "A 360 0\n");
    EXPECT_NE(e.find("bad_ra.txt:1:"), std::string::npos) << e;
    EXPECT_NE(e.find("RA"), std::string::npos) << e;

    e = catalog_error("neg_ra.txt", "\nA -1 0\n");
    EXPECT_NE(e.find("neg_ra.txt:2:"), std::string::npos) << e;

    e = catalog_error("text_ra.txt", "A ten 0\n");
    EXPECT_NE(e.find("text_ra.txt:1:"), std::string::npos) << e;
    EXPECT_NE(e.find("not a number"), std::string::npos) << e;

    e = catalog_error("short.txt", "A 10\n");
    EXPECT_NE(e.find("short.txt:1:"), std::string::npos) << e;

    e = catalog_error("bad_weight.txt", "A 10 10 -2\n");
    EXPECT_NE(e.find("bad_weight.txt:1:"), std::string::npos) << e;

    // Column 4 holds weights (line 1 has one): a word there is refused, not taken for a class.
    e = catalog_error("word_weight.txt", "A 10 10 2.5\nB 20 10 bright\n");
    EXPECT_NE(e.find("word_weight.txt:2: weight 'bright' of B is not a number"), std::string::npos) << e;

    e = catalog_error("empty.txt", "# nothing\n");
    EXPECT_NE(e.find("empty.txt"), std::string::npos) << e;

    EXPECT_THROW(nusky::read_source_catalog("/nonexistent/catalog.txt"), nusky::Error);
}

TEST(Stacking, CoefficientsAndStackedSignal)
{
    std::vector<nusky::Source> sources(3);
    sources[0].weight = 1.0;
    sources[1].weight = 2.0;
    sources[2].weight = 1.0;
    const auto a = nusky::stacking_coefficients(sources, {1.0, 1.0, 2.0});
    ASSERT_EQ(a.size(), 3u);
    EXPECT_DOUBLE_EQ(a[0], 0.2);
    EXPECT_DOUBLE_EQ(a[1], 0.4);
    EXPECT_DOUBLE_EQ(a[2], 0.4);
    EXPECT_THROW(nusky::stacking_coefficients(sources, {1.0, 1.0}), nusky::Error);
    EXPECT_THROW(nusky::stacking_coefficients(sources, {0.0, 0.0, 0.0}), nusky::Error);

    std::vector<Eigen::ArrayXd> s;
    for (double v : {1.0, 2.0, 4.0}) s.push_back(Eigen::ArrayXd::Constant(2, v));
    s[1][1] = 10.0;
    s[0][1] = s[2][1] = 0.0;
    Eigen::ArrayXd out;
    nusky::stack_signal(s, {1.0, 2.0, 2.0}, out);  // unnormalised: divided by 5
    EXPECT_DOUBLE_EQ(out[0], (1.0 + 4.0 + 8.0) / 5.0);
    EXPECT_DOUBLE_EQ(out[1], 20.0 / 5.0);
}

TEST(Stacking, StackedVmfEqualsWeightedSumOfSingleSources)
{
    std::vector<nusky::Source> sources(2);
    sources[0].ra = 0.5, sources[0].dec = 0.1;
    sources[1].ra = 0.6, sources[1].dec = 0.15;
    Eigen::ArrayXd x(3), y(3), z(3), sigma = Eigen::ArrayXd::Constant(3, 5 * deg);
    for (int i = 0; i < 3; ++i) {
        const auto v = nusky::unit_vector(0.45 + 0.1 * i, 0.12);
        x[i] = v.x, y[i] = v.y, z[i] = v.z;
    }
    const auto constants = nusky::vmf_event_constants(sigma);
    Eigen::ArrayXd stacked, s0, s1;
    nusky::stacked_vmf_density(x, y, z, constants, sources, {3.0, 1.0}, stacked);
    nusky::vmf_density(x, y, z, constants, nusky::unit_vector(0.5, 0.1), s0);
    nusky::vmf_density(x, y, z, constants, nusky::unit_vector(0.6, 0.15), s1);
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(stacked[i], 0.75 * s0[i] + 0.25 * s1[i], 1e-12 * s0[i]);
}

TEST(SourceCatalog, ASourceListedTwiceIsKeptOnceWithAWarning)
{
    testing::internal::CaptureStderr();
    testing::internal::CaptureStdout();
    const auto path = write_catalog("twice.txt",
                                    "A 10 20 snr Alpha One\nB 30 40\nA2 10.5 20.5 snr Alpha One\nB 31 41\nC 50 60\n");
    const auto sources = nusky::read_source_catalog(path);
    const std::string said = testing::internal::GetCapturedStderr() + testing::internal::GetCapturedStdout();
    ASSERT_EQ(sources.size(), 3u);
    EXPECT_EQ(sources[0].name, "A");
    EXPECT_NEAR(sources[0].ra, 10 * deg, 1e-12);
    EXPECT_EQ(sources[1].name, "B");
    EXPECT_NEAR(sources[1].ra, 30 * deg, 1e-12);
    EXPECT_EQ(sources[2].name, "C");
    EXPECT_NE(said.find(path + ":3: source A2 (Alpha One) is already in the catalog as A (line 1); this line is skipped"),
              std::string::npos) << said;
    EXPECT_NE(said.find(path + ":4: source B is already in the catalog as B (line 2)"), std::string::npos) << said;
}

TEST(SourceCatalog, AByteOrderMarkIsNotPartOfTheFirstName)
{
    const auto sources = nusky::parse_source_catalog("\xEF\xBB\xBF" "A 10 20\nB 30 -5\n", "bom.txt");
    ASSERT_EQ(sources.size(), 2u);
    EXPECT_EQ(sources[0].name, "A");
}

// The end-of-run summary rank 0 prints (format_summary): aligned columns, units, a bounded
// p-value as "< x", the scan's hottest spots.
#include "nusky/chain.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace {

using namespace nusky;

std::vector<std::string> lines_of(const std::string& text)
{
    std::vector<std::string> out;
    std::stringstream s(text);
    for (std::string line; std::getline(s, line);) out.push_back(line);
    return out;
}

TEST(Summary, FitWithBoundedPValue)
{
    RunSummary summary;
    summary.task = "trials";
    summary.output_path = "gp.h5";
    summary.events = 60260;
    summary.ranks = 4;
    summary.wall_s = 27.5;
    auto& fit = summary.results.group("/fit").attributes;
    fit["ts"] = 50.6475;
    fit["ns"] = 1016.46;
    fit["gamma"] = 2.7;
    fit["p_value"] = 0.0005;
    fit["p_value_is_upper_limit"] = std::int64_t{1};
    fit["sigma"] = 3.29;
    fit["n_trials"] = std::int64_t{2000};
    fit["flux_e2dnde_100tev"] = 3.283e-11;
    auto text = format_summary(summary);
    EXPECT_NE(text.find("  p-value       < 0.0005 (2000 trials)\n"), std::string::npos) << text;
    EXPECT_NE(text.find("  significance  > 3.29 sigma\n"), std::string::npos) << text;
    EXPECT_NE(text.find("  flux          3.283e-11 TeV cm^-2 s^-1 (E^2 dN/dE at 100 TeV)\n"), std::string::npos) << text;
    EXPECT_NE(text.find("  wall time     27.50 s\n"), std::string::npos) << text;
    EXPECT_NE(text.find("  events        60260 selected\n"), std::string::npos) << text;
    // Every value starts in the same column.
    auto lines = lines_of(text);
    ASSERT_GT(lines.size(), 5u);
    for (std::size_t i = 1; i < lines.size(); ++i) {
        ASSERT_GT(lines[i].size(), 16u) << lines[i];
        EXPECT_EQ(lines[i][15], ' ') << lines[i];
        EXPECT_NE(lines[i][16], ' ') << lines[i];
    }
    fit["p_value_is_upper_limit"] = std::int64_t{0};
    fit["p_value"] = 0.0125;
    EXPECT_NE(format_summary(summary).find("p-value       0.0125 (2000 trials)"), std::string::npos);
}

TEST(Summary, ScanHotspots)
{
    RunSummary summary;
    summary.task = "scan";
    summary.output_path = "scan.h5";
    summary.wall_s = 752;
    auto& hot = summary.results.group("/scan/hotspots");
    hot.datasets["hemisphere"].local = std::vector<std::string>{"north", "south"};
    hot.datasets["ra_deg"].local = std::vector<double>{341.02, 140.09};
    hot.datasets["dec_deg"].local = std::vector<double>{3.58, -50.48};
    hot.datasets["ts"].local = std::vector<double>{11.517, 6.939};
    hot.datasets["mlog10p"].local = std::vector<double>{3.57, 2.123};
    auto text = format_summary(summary);
    EXPECT_NE(text.find("hottest north  RA 341.02 deg, Dec 3.58 deg: TS 11.517, -log10 p 3.570"), std::string::npos)
        << text;
    EXPECT_NE(text.find("wall time      12.5 min (752 s)"), std::string::npos) << text;
}

}  // namespace

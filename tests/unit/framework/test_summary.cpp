// The end-of-run summary rank 0 prints (format_summary): aligned columns, units, a bounded
// p-value as "< x", the scan's hottest spots.
#include "nusky/chain.hpp"

#include <gtest/gtest.h>

#include <cmath>
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

// The source position, the terms the fit used (per sample for joint fits) and the task's own
// result: sensitivity and discovery potential with their flux unit, or "not reachable".
TEST(Summary, PositionTermsAndSensitivity)
{
    RunSummary summary;
    summary.task = "sensitivity";
    summary.output_path = "s.h5";
    auto& fit = summary.results.group("/fit").attributes;
    fit["ts"] = 2.6;
    fit["ns"] = 44.7;
    fit["gamma"] = 3.86;
    fit["ra_deg"] = 77.36;
    fit["dec_deg"] = 5.69;
    summary.results.group("/fit/samples/cascades").attributes["energy_term"] = std::string("mc");
    summary.results.group("/fit/samples/ic40").attributes["energy_term"] = std::string("none");
    auto& s = summary.results.group("/sensitivity").attributes;
    s["n_background_trials"] = std::int64_t{300};
    s["flux_unit"] = std::string("E^2 dN/dE at 100 TeV [TeV cm^-2 s^-1]");
    s["sensitivity_ns"] = 11.67;
    s["sensitivity_flux"] = 1.67e-12;
    s["dp3sigma_ns"] = 16.79;
    s["dp3sigma_flux"] = 2.403e-12;
    s["dp5sigma_ns"] = std::nan("");
    s["dp5sigma_flux"] = std::nan("");
    s["dp5sigma_threshold_method"] = std::string("not reachable (too few background trials, no chi2 fit)");
    const auto text = format_summary(summary);
    for (const char* row : {"position            RA 77.36 deg, Dec 5.69 deg\n",
                            "terms cascades      spatial and energy (energy PDF from MC)\n",
                            "terms ic40          spatial only (no energy term)\n",
                            "background          300 trials\n",
                            "sensitivity         11.67 signal events, flux 1.67e-12 (E^2 dN/dE at 100 TeV [TeV cm^-2 s^-1])\n",
                            "disc. pot. 3 sigma  16.79 signal events, flux 2.403e-12 (E^2 dN/dE at 100 TeV [TeV cm^-2 s^-1])\n",
                            "disc. pot. 5 sigma  not reachable (too few background trials, no chi2 fit)\n"}) {
        EXPECT_NE(text.find(row), std::string::npos) << row << "\n" << text;
    }
    // A single sample: one row of terms.
    summary.results.groups.erase("/fit/samples/cascades");
    summary.results.groups.erase("/fit/samples/ic40");
    fit["energy_term"] = std::string("mc");
    EXPECT_NE(format_summary(summary).find("  terms               spatial and energy (energy PDF from MC)\n"),
              std::string::npos);
}

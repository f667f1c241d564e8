#include "readers/icecube_public/icecube_text.hpp"

#include "../test_paths.hpp"
#include "nusky/error.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <cmath>
#include <fstream>
#include <numbers>
#include <iterator>
#include <sstream>
#include <vector>

namespace {

using nusky::test::scratch_dir;
using nusky::test::repo_data;
constexpr double kDeg = std::numbers::pi / 180.0;

std::string write_file(const std::string& name, const std::string& text)
{
    auto path = (scratch_dir() / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
}

// Expects read_events(path) to throw an error that names "path:line:" and contains `what`.
void expect_event_error(const std::string& path, long line, const std::string& what)
{
    try {
        nusky::read_events(path);
        FAIL() << "no error for " << path;
    } catch (const nusky::Error& e) {
        std::string msg = e.what();
        std::string prefix = line > 0 ? path + ":" + std::to_string(line) + ":" : path + ":";
        EXPECT_EQ(msg.rfind(prefix, 0), 0u) << msg;
        EXPECT_NE(msg.find(what), std::string::npos) << msg;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
}

const std::string kHeader =
    "# MJD[days] log10(E/GeV) AngErr[deg] RA[deg] Dec[deg] Azimuth[deg] Zenith[deg]\n";
const std::string kRow1 = "   54562.37911273  3.31  0.48  203.024  16.760  218.374  106.712\n";
const std::string kRow2 = "   54562.38662244  5.17  0.10   75.024 -13.371  349.100   76.646\n";

}  // namespace

TEST(IceCubeText, ReadsIC40Events)
{
    auto path = repo_data("ic40/events/IC40_exp.csv");
    auto ev = nusky::read_events(path);
    EXPECT_EQ(ev.size(), 36900u);
    EXPECT_EQ(nusky::count_data_lines(path), 36900u);
    // First row: 54562.37911273 3.31 0.48 203.024 16.760 218.374 106.712
    EXPECT_DOUBLE_EQ(ev.mjd[0], 54562.37911273);
    EXPECT_DOUBLE_EQ(ev.log10_energy[0], 3.31);
    EXPECT_DOUBLE_EQ(ev.sigma[0], 0.48 * kDeg);
    EXPECT_DOUBLE_EQ(ev.ra[0], 203.024 * kDeg);
    EXPECT_DOUBLE_EQ(ev.dec[0], 16.760 * kDeg);
    EXPECT_GE(ev.sigma.minCoeff(), 0.2 * kDeg * (1 - 1e-12));
    EXPECT_GE(ev.ra.minCoeff(), 0.0);
    EXPECT_LE(ev.ra.maxCoeff(), 2 * std::numbers::pi);
    EXPECT_LE(ev.dec.abs().maxCoeff(), std::numbers::pi / 2);
    EXPECT_GT(ev.mjd.minCoeff(), 54500.0);
    EXPECT_LT(ev.mjd.maxCoeff(), 55000.0);
}

TEST(IceCubeText, IC40UptimeLivetime)
{
    auto up = nusky::read_uptime(repo_data("ic40/uptime/IC40_exp.csv"));
    EXPECT_EQ(up.size(), 1420u);
    double days = up.livetime_s / 86400.0;
    std::printf("IC40 livetime from uptime file: %.6f s = %.4f days (%zu good runs)\n",
                up.livetime_s, days, up.size());
    EXPECT_GT(days, 360.0);
    EXPECT_LT(days, 392.0);
    // Recompute independently.
    double sum = (up.mjd_stop - up.mjd_start).sum() * 86400.0;
    EXPECT_NEAR(up.livetime_s, sum, 1e-6 * sum);
}

TEST(IceCubeText, IC40EffectiveArea)
{
    auto t = nusky::read_effective_area(repo_data("ic40/irfs/IC40_effectiveArea.csv"));
    ASSERT_EQ(t.aeff.rows(), 40);
    ASSERT_EQ(t.aeff.cols(), 50);
    EXPECT_DOUBLE_EQ(t.log10_energy_edges[0], 2.0);
    EXPECT_DOUBLE_EQ(t.log10_energy_edges[40], 10.0);
    EXPECT_NEAR(t.dec_edges[0], -std::numbers::pi / 2, 1e-12);
    EXPECT_NEAR(t.dec_edges[50], std::numbers::pi / 2, 1e-12);
    EXPECT_GE(t.aeff.minCoeff(), 0.0);
    EXPECT_GT(t.aeff.maxCoeff(), 1e4);  // cm^2 at high energy
    EXPECT_EQ(t.lookup(2.1, -89.0 * kDeg), 0.0);
    EXPECT_GT(t.lookup(6.0, 10.0 * kDeg), 0.0);
    EXPECT_EQ(t.lookup(11.0, 0.0), 0.0);
}

TEST(IceCubeText, BothHeaderStylesAndNoHeader)
{
    auto official = write_file("official.csv", kHeader + kRow1 + kRow2);
    auto plain = write_file("plain.csv", "MJD[days] log10(E/GeV) AngErr[deg] RA[deg] Dec[deg] Azimuth[deg] Zenith[deg]\n" + kRow1 + kRow2);
    auto none = write_file("none.csv", kRow1 + kRow2);
    auto crlf = write_file("crlf.csv", "MJD a b c d e f\r\n54562.37911273 3.31 0.48 203.024 16.760 218.374 106.712\r\n\r\n");
    for (const auto& p : {official, plain, none}) {
        auto ev = nusky::read_events(p);
        ASSERT_EQ(ev.size(), 2u) << p;
        EXPECT_DOUBLE_EQ(ev.sigma[1], 0.2 * kDeg) << "floor";
        EXPECT_DOUBLE_EQ(ev.dec[1], -13.371 * kDeg);
    }
    EXPECT_EQ(nusky::read_events(crlf).size(), 1u);
    EXPECT_DOUBLE_EQ(nusky::read_events(none, 0.05).sigma[1], 0.10 * kDeg);
}

TEST(IceCubeText, AByteOrderMarkDropsNoRow)
{
    // A UTF-8 byte-order mark before the first row (no header) used to make that row a "header".
    const std::string bom = "\xEF\xBB\xBF";
    auto none = write_file("bom_none.csv", bom + kRow1 + kRow2);
    auto header = write_file("bom_header.csv", bom + kHeader + kRow1 + kRow2);
    for (const auto& p : {none, header}) {
        EXPECT_EQ(nusky::read_events(p).size(), 2u) << p;
        EXPECT_EQ(nusky::count_data_lines(p), 2u) << p;
    }
    EXPECT_DOUBLE_EQ(nusky::read_events(none).dec[0], nusky::read_events(header).dec[0]);
    // A first line with numbers in it is a row: a word in it is an error, not a header.
    expect_event_error(write_file("first_word.csv", "x54562.3 3.1 0.5 75.0 -9.5 349.1 76.6\n" + kRow1), 1,
                       "column 1 (MJD): 'x54562.3' is not a finite number");
}

TEST(IceCubeText, BrokenFilesNameFileAndLine)
{
    // truncated last line (missing columns)
    expect_event_error(write_file("trunc.csv", kHeader + kRow1 + "   54562.38662244  5.17  0.10   75.0"),
                       3, "expected 7 columns, found 4");
    // text in a number
    expect_event_error(write_file("text.csv", kHeader + kRow1 + kRow1 + "54562.3 5.17 0.1x 75.0 -13.3 349.1 76.6\n"),
                       4, "'0.1x' is not a finite number");
    // NaN and inf
    expect_event_error(write_file("nan.csv", kHeader + kRow1 + "54562.3 nan 0.1 75.0 -13.3 349.1 76.6\n"), 3,
                       "not a finite number");
    expect_event_error(write_file("inf.csv", kRow1 + "54562.3 3.1 0.1 inf -13.3 349.1 76.6\n"), 2,
                       "not a finite number");
    // missing column in the middle / extra column
    expect_event_error(write_file("missing.csv", kHeader + "54562.3 3.1 0.5 75.0 349.1 76.6\n" + kRow1), 2,
                       "expected 7 columns, found 6");
    expect_event_error(write_file("extra.csv", kHeader + kRow1 + "54562.3 3.1 0.5 75.0 1 2 3 4\n"), 3,
                       "found 8");
    // physical ranges
    expect_event_error(write_file("dec.csv", kRow1 + "54562.3 3.1 0.5 75.0 -90.5 349.1 76.6\n"), 2, "Dec -90.5");
    expect_event_error(write_file("ra.csv", kRow1 + "54562.3 3.1 0.5 360.5 -9.5 349.1 76.6\n"), 2, "RA 360.5");
    expect_event_error(write_file("angerr2.csv", kRow1 + "54562.3 3.1 -1 36.5 -9.5 349.1 76.6\n"), 2,
                       "AngErr -1 deg is negative");
    expect_event_error(write_file("angerr3.csv", kRow1 + "54562.3 3.1 -0.00 36.5 -9.5 349.1 76.6\n"), 2,
                       "AngErr -0 deg is negative");
    expect_event_error(write_file("angerr_nan.csv", kRow1 + "54562.3 3.1 NaN 36.5 -9.5 349.1 76.6\n"), 2,
                       "column 3 (AngErr[deg]): 'NaN' is not a finite number");
    // AngErr 0 is raised to the floor; only without a floor is it an error.
    try {
        nusky::read_events(write_file("angerr.csv", kRow1 + "54562.3 3.1 0 36.5 -9.5 349.1 76.6\n"), 0.0);
        ADD_FAILURE() << "AngErr 0 without a floor was accepted";
    } catch (const nusky::Error& e) {
        EXPECT_NE(std::string(e.what()).find(":2: AngErr 0 deg and no floor"), std::string::npos) << e.what();
    }
    // a bad first field on line 1 is a header; on line 2 it is an error
    expect_event_error(write_file("text2.csv", kRow1 + "abc 3.1 0.5 75.0 -9.5 349.1 76.6\n"), 2, "'abc'");
    // a line of separators only, first or later (found by fuzz/fuzz_text_events: the header test
    // read a field that a line without fields does not have)
    expect_event_error(write_file("commas.csv", ",,,\n" + kRow1), 1, "expected 7 columns, found 0");
    expect_event_error(write_file("commas2.csv", kHeader + kRow1 + " , \t,\n"), 3, "expected 7 columns, found 0");
    // empty, header only, blank only
    expect_event_error(write_file("empty.csv", ""), 0, "no data rows");
    expect_event_error(write_file("header_only.csv", kHeader), 0, "no data rows");
    // a directory and a missing file
    expect_event_error(scratch_dir().string(), 0, "is a directory");
    expect_event_error((scratch_dir() / "does_not_exist.csv").string(), 0, "cannot open");
    // other formats
    auto up = write_file("up.csv", "MJD_start MJD_stop\n1 2\n3 2.5\n");
    EXPECT_THROW(
        {
            try {
                nusky::read_uptime(up);
            } catch (const nusky::Error& e) {
                EXPECT_EQ(std::string(e.what()).rfind(up + ":3:", 0), 0u) << e.what();
                throw;
            }
        },
        nusky::Error);
    auto aeff = write_file("aeff.csv", "logEmin logEmax decmin decmax Aeff\n2 3 -90 0 1\n2 3 0 90 2\n3 4 -90 0 3\n");
    EXPECT_THROW(nusky::read_effective_area(aeff), nusky::Error);  // incomplete grid
    auto aeff_ok = write_file("aeff_ok.csv", "# h\n2 3 -90 0 1\n2 3 0 90 2\n3 4 -90 0 3\n3 4 0 90 4\n");
    auto t = nusky::read_effective_area(aeff_ok);
    EXPECT_EQ(t.aeff(1, 1), 4.0);
    EXPECT_EQ(t.lookup(3.5, -0.1), 3.0);
}

TEST(IceCubeText, SharesCoverFileAndKeepGlobalLineNumbers)
{
    auto path = repo_data("ic40/events/IC40_exp.csv");
    auto all = nusky::read_events(path);
    for (int size : {1, 2, 3, 7, 64}) {
        nusky::IceCubeEvents joined;
        std::size_t prev_end = 0;
        for (int r = 0; r < size; ++r) {
            auto range = nusky::byte_share(path, r, size);
            EXPECT_EQ(range.begin, prev_end);
            prev_end = range.end;
            joined.append(nusky::read_events(path, range));
        }
        ASSERT_EQ(joined.size(), all.size()) << size;
        EXPECT_TRUE((joined.ra == all.ra).all());
        EXPECT_TRUE((joined.mjd == all.mjd).all());
        EXPECT_TRUE((joined.sigma == all.sigma).all());
    }
    // More ranks than lines: empty shares are fine.
    auto tiny = write_file("tiny.csv", kHeader + kRow1 + kRow2);
    std::size_t n = 0;
    for (int r = 0; r < 16; ++r) n += nusky::read_events_share(tiny, r, 16).size();
    EXPECT_EQ(n, 2u);

    // An error in the last share reports the global line number.
    std::string text = kHeader;
    for (int i = 0; i < 1000; ++i) text += kRow1;
    text += "54562.3 3.1 0.5 75.0 bad 349.1 76.6\n";  // line 1002
    for (int i = 0; i < 10; ++i) text += kRow2;
    auto broken = write_file("broken_share.csv", text);
    int hits = 0, failing_rank = -1;
    for (int r = 0; r < 4; ++r) {
        try {
            nusky::read_events_share(broken, r, 4);
        } catch (const nusky::Error& e) {
            ++hits;
            failing_rank = r;
            EXPECT_EQ(std::string(e.what()).rfind(broken + ":1002:", 0), 0u) << e.what();
        }
    }
    EXPECT_EQ(hits, 1);
    // The bad line is not in rank 0's share, so the line number needed the newline count.
    ASSERT_GT(failing_rank, 0);
    std::size_t share_first_line =
        nusky::count_newlines(broken, nusky::byte_share(broken, failing_rank, 4).begin) + 1;
    EXPECT_GT(share_first_line, 1u);
    EXPECT_LE(share_first_line, 1002u);
}

TEST(IceCubeText, ParseSpeedTenSeasons)
{
    // IC40 x 30 = 1.107 M lines, about the whole 10-year release.
    std::ifstream in(repo_data("ic40/events/IC40_exp.csv"), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string one = ss.str();
    std::string body = one.substr(one.find('\n') + 1);
    std::string big = one;
    for (int i = 1; i < 30; ++i) big += body;
    auto path = write_file("ic40x30.csv", big);
    auto t0 = std::chrono::steady_clock::now();
    auto ev = nusky::read_events(path);
    double whole = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(ev.size(), 30u * 36900u);
    t0 = std::chrono::steady_clock::now();
    std::size_t n = 0;
    for (int r = 0; r < 4; ++r) n += nusky::read_events_share(path, r, 4).size();
    double shares = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(n, ev.size());
    std::printf("parse %zu event lines (%.1f MB): whole file %.3f s, 4 shares sequentially %.3f s\n",
                ev.size(), big.size() / 1e6, whole, shares);
#if !defined(__SANITIZE_ADDRESS__)  // sanitizer builds are several times slower
    EXPECT_LT(whole, 5.0);
#endif
    std::filesystem::remove(path);
}

TEST(IceCubeText, Seasons)
{
    auto dir = repo_data("ic40");
    auto seasons = nusky::read_seasons(dir, {"IC40"});
    ASSERT_EQ(seasons.size(), 1u);
    EXPECT_EQ(seasons[0].events.size(), 36900u);
    EXPECT_GT(seasons[0].uptime.livetime_s, 3.0e7);
    EXPECT_EQ(seasons[0].effective_area.aeff.rows(), 40);
    // A single file inside the layout brings its uptime along.
    auto single = nusky::read_seasons(repo_data("ic40/events/IC40_exp.csv"), {});
    ASSERT_EQ(single.size(), 1u);
    EXPECT_EQ(single[0].files.season, "IC40");
    EXPECT_DOUBLE_EQ(single[0].uptime.livetime_s, seasons[0].uptime.livetime_s);
    EXPECT_THROW(nusky::read_seasons(dir, {}), nusky::Error);
    EXPECT_THROW(nusky::read_seasons(dir, {"IC59"}), nusky::Error);
    auto files = nusky::season_files("/rel", "IC86_II");
    EXPECT_EQ(files.events, "/rel/events/IC86_II_exp.csv");
    EXPECT_EQ(files.uptime, "/rel/uptime/IC86_II_exp.csv");
    EXPECT_EQ(files.effective_area, "/rel/irfs/IC86_II_effectiveArea.csv");
}

namespace {

// The real IC40 events file's lines (header first), without line ends.
std::vector<std::string> ic40_lines()
{
    std::ifstream in(repo_data("ic40/events/IC40_exp.csv"), std::ios::binary);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

std::string join(const std::vector<std::string>& lines, const std::string& eol)
{
    std::string out;
    for (const auto& l : lines) out += l + eol;
    return out;
}

void expect_same_events(const nusky::IceCubeEvents& a, const nusky::IceCubeEvents& b, const std::string& what)
{
    ASSERT_EQ(a.size(), b.size()) << what;
    EXPECT_TRUE((a.mjd == b.mjd).all()) << what;
    EXPECT_TRUE((a.log10_energy == b.log10_energy).all()) << what;
    EXPECT_TRUE((a.sigma == b.sigma).all()) << what;
    EXPECT_TRUE((a.ra == b.ra).all()) << what;
    EXPECT_TRUE((a.dec == b.dec).all()) << what;
    EXPECT_TRUE((a.azimuth == b.azimuth).all()) << what;
    EXPECT_TRUE((a.zenith == b.zenith).all()) << what;
}

}  // namespace

// The layouts copies of the real release come in: header with or without '#', no header, tabs
// instead of spaces, CRLF line ends, trailing blank lines. Each reads the real IC40 season to the
// same numbers, also when split over ranks' byte shares.
TEST(IceCubeText, ReleaseFileVariantsReadAlike)
{
    const auto lines = ic40_lines();
    ASSERT_EQ(lines.size(), 36901u);
    const auto reference = nusky::read_events(repo_data("ic40/events/IC40_exp.csv"));
    std::vector<std::string> hash_header = lines, no_header(lines.begin() + 1, lines.end()), tabs = lines;
    hash_header[0] = "# " + hash_header[0];
    for (auto& l : tabs) {
        std::string t;
        bool in_space = false;
        for (char ch : l) {
            if (ch == ' ') {
                if (!in_space && !t.empty()) t += '\t';
                in_space = true;
            } else {
                t += ch;
                in_space = false;
            }
        }
        l = t;
    }
    const std::vector<std::pair<std::string, std::string>> variants = {
        {"hash_header.csv", join(hash_header, "\n")},
        {"no_header.csv", join(no_header, "\n")},
        {"tabs.csv", join(tabs, "\n")},
        {"crlf.csv", join(lines, "\r\n")},
        {"crlf_hash_header.csv", join(hash_header, "\r\n")},
        {"trailing_blank.csv", join(lines, "\n") + "\n\n  \n\t\n"},
        {"crlf_trailing_blank.csv", join(lines, "\r\n") + "\r\n\r\n"},
        {"no_final_newline.csv", join(lines, "\n").substr(0, join(lines, "\n").size() - 1)},
    };
    for (const auto& [name, text] : variants) {
        const auto path = write_file(name, text);
        expect_same_events(nusky::read_events(path), reference, name);
        EXPECT_EQ(nusky::count_data_lines(path), 36900u) << name;
        for (int size : {2, 3, 4}) {
            nusky::IceCubeEvents joined;
            for (int r = 0; r < size; ++r) joined.append(nusky::read_events_share(path, r, size));
            expect_same_events(joined, reference, name + " on " + std::to_string(size) + " shares");
        }
    }
}

// A release rounded to 0.1 deg has AngErr 0.00 rows: the real IC40 file with every 97th event's
// AngErr written as 0.00 (and some as 0.10) reads with those events at the floor, counted; all
// other values are unchanged.
TEST(IceCubeText, AngErrZeroRowsTakeTheFloor)
{
    auto lines = ic40_lines();
    std::size_t zeros = 0, tenths = 0;
    for (std::size_t i = 1; i < lines.size(); ++i) {
        if (i % 97 != 0 && i % 101 != 0) continue;
        std::istringstream in(lines[i]);
        std::vector<std::string> f{std::istream_iterator<std::string>(in), {}};
        ASSERT_EQ(f.size(), 7u);
        f[2] = i % 97 == 0 ? "0.00" : "0.10";
        (i % 97 == 0 ? zeros : tenths) += 1;
        lines[i] = "  " + f[0] + "  " + f[1] + "  " + f[2] + "  " + f[3] + "  " + f[4] + "  " + f[5] + "  " + f[6];
    }
    const auto path = write_file("rounded_angerr.csv", join(lines, "\r\n"));
    const auto reference = nusky::read_events(repo_data("ic40/events/IC40_exp.csv"));
    for (double floor_deg : {0.2, 0.5}) {
        const auto ev = nusky::read_events(path, floor_deg);
        ASSERT_EQ(ev.size(), 36900u);
        std::size_t expected_raised = 0;
        for (std::size_t k = 0; k < ev.size(); ++k) {
            const std::size_t line = k + 1;
            const bool changed = line % 97 == 0 || line % 101 == 0;
            const double original = reference.sigma[static_cast<Eigen::Index>(k)];
            const double expected = changed ? floor_deg * kDeg : std::max(original, floor_deg * kDeg);
            expected_raised += changed || original < floor_deg * kDeg;
            ASSERT_DOUBLE_EQ(ev.sigma[static_cast<Eigen::Index>(k)], expected) << "event " << k;
        }
        EXPECT_EQ(ev.raised_to_floor, expected_raised) << floor_deg;
        EXPECT_TRUE((ev.ra == reference.ra).all());
        EXPECT_TRUE((ev.dec == reference.dec).all());
        // The count adds up over the ranks' shares.
        std::size_t shared = 0;
        for (int r = 0; r < 3; ++r) shared += nusky::read_events_share(path, r, 3, floor_deg).raised_to_floor;
        EXPECT_EQ(shared, expected_raised);
    }
    EXPECT_EQ(nusky::read_events(path, 0.2).raised_to_floor, zeros + tenths);
}

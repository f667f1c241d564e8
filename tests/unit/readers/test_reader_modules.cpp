// The reader modules (icecube_public, simulation, npy_events) and the reco adapters (track,
// dnn_cascade) through the registry, and their plain physics functions.
#include "nusky/npy.hpp"
#include "readers/npy_events/npy_events.hpp"
#include "nusky/data_dir.hpp"
#include "reco/dnn_cascade/dnn_cascade.hpp"
#include "reco/track/track.hpp"

#include "../module_harness.hpp"
#include "../test_paths.hpp"
#include "nusky/config.hpp"
#include "nusky/error.hpp"
#include "nusky/mpi.hpp"
#include "nusky/registry.hpp"
#include "nusky/stages.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <memory>
#include <numbers>

namespace {

using namespace nusky;
constexpr double kDeg = std::numbers::pi / 180.0;

using Context = test::ModuleContext;
using test::error_of;

using test::make_module;

Events events_with_sigma(std::vector<double> sigma_deg)
{
    Events e;
    e.resize(static_cast<Eigen::Index>(sigma_deg.size()));
    for (std::size_t i = 0; i < sigma_deg.size(); ++i) {
        auto k = static_cast<Eigen::Index>(i);
        e.ra[k] = 0.1 * static_cast<double>(i);
        e.dec[k] = 0.0;
        e.log10_energy[k] = 3.0;
        e.sigma[k] = sigma_deg[i] * kDeg;
    }
    return e;
}

// ---- track ----------------------------------------------------------------------------------

TEST(TrackAdapter, PullThenFloor)
{
    Eigen::ArrayXd sigma(4);
    sigma << 0.1, 0.3, 1.0, 0.15;
    apply_angular_floor(sigma, 0.2, 1.0);
    EXPECT_EQ(sigma[0], 0.2);
    EXPECT_EQ(sigma[1], 0.3);
    EXPECT_EQ(sigma[2], 1.0);
    EXPECT_EQ(sigma[3], 0.2);
    sigma << 0.1, 0.3, 1.0, 0.15;
    apply_angular_floor(sigma, 0.2, 1.5);
    EXPECT_DOUBLE_EQ(sigma[0], 0.2);   // 0.15 < floor
    EXPECT_DOUBLE_EQ(sigma[1], 0.45);
    EXPECT_DOUBLE_EQ(sigma[2], 1.5);
    EXPECT_DOUBLE_EQ(sigma[3], 0.225);  // pull applied before the floor
}

TEST(TrackAdapter, ModuleUsesDegrees)
{
    auto reco = make_module<RecoAdapter>(Stage::reco, "reco", "type = track\nangerr_floor_deg = 0.5\npull_factor = 2\n");
    Events e = events_with_sigma({0.1, 0.3, 2.0});
    Context c(MPI_COMM_SELF);
    reco->adapt(e, c.context);
    EXPECT_NEAR(e.sigma[0] / kDeg, 0.5, 1e-12);
    EXPECT_NEAR(e.sigma[1] / kDeg, 0.6, 1e-12);
    EXPECT_NEAR(e.sigma[2] / kDeg, 4.0, 1e-12);
    EXPECT_EQ(e.size(), 3);
}

TEST(TrackAdapter, BadParametersNameTheKey)
{
    EXPECT_EQ(error_of([] { make_module<RecoAdapter>(Stage::reco, "reco", "type = track\npull_factor = 0\n"); }),
              "test.ini: [reco] pull_factor: must be a positive number");
    EXPECT_NE(error_of([] { make_module<RecoAdapter>(Stage::reco, "reco", "type = track\nangerr_floor_deg = -1\n"); })
                  .find("[reco] angerr_floor_deg"),
              std::string::npos);
}

// ---- dnn_cascade ----------------------------------------------------------------------------

TEST(DnnCascadeAdapter, ClampAndScoreMask)
{
    Eigen::ArrayXd sigma(4);
    sigma << 0.5, 2.0, 70.0, 180.0;
    clamp_sigma(sigma, 1.0, 60.0);
    EXPECT_EQ(sigma[0], 1.0);
    EXPECT_EQ(sigma[1], 2.0);
    EXPECT_EQ(sigma[2], 60.0);
    EXPECT_EQ(sigma[3], 60.0);
    Eigen::ArrayXd score(4);
    score << 0.1, 0.5, std::numeric_limits<double>::quiet_NaN(), 0.9;
    EXPECT_EQ(score_mask(score, 0.5), (std::vector<char>{0, 1, 0, 1}));
}

TEST(DnnCascadeAdapter, DefaultsLeaveCascadeSigmasAlone)
{
    auto reco = make_module<RecoAdapter>(Stage::reco, "reco", "type = dnn_cascade\n");
    Events e = events_with_sigma({1.2, 7.0, 59.0});
    Eigen::ArrayXd before = e.sigma;
    Context c(MPI_COMM_SELF);
    reco->adapt(e, c.context);
    EXPECT_TRUE((e.sigma == before).all());
}

TEST(DnnCascadeAdapter, FloorCapAndScoreCut)
{
    auto reco = make_module<RecoAdapter>(Stage::reco, "reco",
                                  "type = dnn_cascade\nsigma_floor_deg = 2\nsigma_cap_deg = 40\n"
                                  "score_column = dnn_score\nscore_min = 0.5\n");
    Events e = events_with_sigma({1.0, 10.0, 50.0, 30.0});
    e.extra["dnn_score"] = (Eigen::ArrayXd(4) << 0.9, 0.2, 0.7, 0.5).finished();
    Context c(MPI_COMM_SELF);
    reco->adapt(e, c.context);
    ASSERT_EQ(e.size(), 3);  // the 0.2-score event is removed
    EXPECT_NEAR(e.sigma[0] / kDeg, 2.0, 1e-12);
    EXPECT_NEAR(e.sigma[1] / kDeg, 40.0, 1e-12);
    EXPECT_NEAR(e.sigma[2] / kDeg, 30.0, 1e-12);
    EXPECT_EQ(e.extra["dnn_score"].size(), 3);
    EXPECT_DOUBLE_EQ(e.ra[1], 0.2);  // the third event moved up
}

TEST(DnnCascadeAdapter, Errors)
{
    EXPECT_EQ(error_of([] {
                  make_module<RecoAdapter>(Stage::reco, "reco", "type = dnn_cascade\nsigma_floor_deg = 10\nsigma_cap_deg = 5\n");
              }),
              "test.ini: [reco] sigma_floor_deg: is above sigma_cap_deg");
    EXPECT_EQ(error_of([] { make_module<RecoAdapter>(Stage::reco, "reco", "type = dnn_cascade\nscore_min = 0.3\n"); }),
              "test.ini: [reco] score_min: needs score_column (the classifier-score column to cut on)");
    auto reco = make_module<RecoAdapter>(Stage::reco, "reco", "type = dnn_cascade\nscore_column = score\n");
    Events e = events_with_sigma({5.0});
    Context c(MPI_COMM_SELF);
    std::string message = error_of([&] { reco->adapt(e, c.context); });
    EXPECT_NE(message.find("test.ini: [reco] score_column: the data have no column 'score'"), std::string::npos)
        << message;
}

// ---- npy_events -----------------------------------------------------------------------------

struct NpyFiles {
    std::string data, mc;
    Eigen::ArrayXd ra, dec, sigma, loge, time, score;
};

NpyFiles write_npy_files(const std::string& stem, std::size_t n = 101)
{
    NpyFiles f;
    f.data = (test::scratch_dir() / (stem + "_exp.npy")).string();
    f.mc = (test::scratch_dir() / (stem + "_mc.npy")).string();
    auto m = static_cast<Eigen::Index>(n);
    f.ra = Eigen::ArrayXd::LinSpaced(m, 0.0, 6.0);
    f.dec = Eigen::ArrayXd::LinSpaced(m, -1.5, 1.5);
    f.sigma = Eigen::ArrayXd::LinSpaced(m, 0.01, 0.5);
    f.loge = Eigen::ArrayXd::LinSpaced(m, 2.0, 6.0);
    f.time = Eigen::ArrayXd::LinSpaced(m, 55000.0, 56000.0);
    f.score = Eigen::ArrayXd::LinSpaced(m, 0.0, 1.0);
    write_npy_structured(f.data,
                         {{"run", "<i8"}, {"ra", "<f8"}, {"dec", "<f8"}, {"angErr", "<f8"}, {"logE", "<f4"},
                          {"time", "<f8"}, {"score", "<f8"}},
                         {Eigen::ArrayXd::Constant(m, 7.0), f.ra, f.dec, f.sigma, f.loge, f.time, f.score});
    write_npy_structured(f.mc,
                         {{"ra", "<f8"}, {"dec", "<f8"}, {"angErr", "<f8"}, {"logE", "<f8"}, {"trueRa", "<f8"},
                          {"trueDec", "<f8"}, {"trueE", "<f8"}, {"ow", "<f8"}, {"score", "<f8"}},
                         {f.ra, f.dec, f.sigma, f.loge, f.ra, f.dec, Eigen::ArrayXd::Constant(m, 1e4),
                          Eigen::ArrayXd::Constant(m, 2.5), f.score});
    return f;
}

TEST(NpyEventsReader, ReadsIceCubeFieldNamesWithMc)
{
    NpyFiles f = write_npy_files("ok");
    auto reader = make_module<Reader>(Stage::reader, "reader",
                               "type = npy_events\npath = " + f.data + "\nmc_path = " + f.mc +
                                   "\nlivetime_s = 1234.5\nextra_columns = score\n");
    Context c(MPI_COMM_SELF);
    EventSample s = reader->read(c.context);
    ASSERT_EQ(s.data.size(), f.ra.size());
    EXPECT_TRUE((s.data.ra == f.ra).all());
    EXPECT_TRUE((s.data.dec == f.dec).all());
    EXPECT_TRUE((s.data.sigma == f.sigma).all());
    EXPECT_TRUE((s.data.log10_energy == f.loge.cast<float>().cast<double>()).all());
    EXPECT_TRUE((s.data.mjd == f.time).all());
    EXPECT_TRUE((s.data.extra.at("score") == f.score).all());
    EXPECT_FALSE(s.data.has_truth());
    EXPECT_NEAR(s.data.z[0], std::sin(f.dec[0]), 1e-15);  // unit vectors filled
    ASSERT_EQ(s.mc.size(), f.ra.size());
    EXPECT_TRUE(s.mc.has_truth());
    EXPECT_EQ(s.mc.oneweight[3], 2.5);
    EXPECT_EQ(s.mc.true_energy[3], 1e4);
    EXPECT_EQ(s.livetime_s, 1234.5);
    EXPECT_NE(s.description.find("(101 events)"), std::string::npos) << s.description;
}

TEST(NpyEventsReader, RankBlocksConcatenateToTheWholeFile)
{
    NpyFiles f = write_npy_files("blocks", 10);
    NpyArray array = read_npy(f.data);
    for (int size : {1, 2, 3, 4}) {
        Events all;
        for (int rank = 0; rank < size; ++rank) {
            Range r = block_range(10, rank, size);
            Events part = npy_to_events(array, false, r.begin, r.size());
            if (rank == 0) all = part;
            else all.append(part);
        }
        EXPECT_TRUE((all.ra == f.ra).all());
        EXPECT_TRUE((all.mjd == f.time).all());
    }
}

TEST(NpyEventsReader, DegreesOption)
{
    const std::string p = (test::scratch_dir() / "deg.npy").string();
    Eigen::ArrayXd one = Eigen::ArrayXd::Constant(3, 1.0);
    write_npy_structured(p, {{"ra", "<f8"}, {"dec", "<f8"}, {"sigma", "<f8"}, {"log10_energy", "<f8"}},
                         {one * 180.0, one * 45.0, one * 0.2, one * 3.0});
    NpyEventOptions options;
    options.degrees = true;
    Events e = npy_to_events(read_npy(p), false, 0, 3, options);
    EXPECT_NEAR(e.ra[0], std::numbers::pi, 1e-15);
    EXPECT_NEAR(e.dec[1], std::numbers::pi / 4, 1e-15);
    EXPECT_NEAR(e.sigma[2], 0.2 * kDeg, 1e-15);
    EXPECT_FALSE(e.has_mjd());
}

TEST(NpyEventsReader, BadValuesNameFileFieldAndIndex)
{
    const std::string p = (test::scratch_dir() / "bad.npy").string();
    auto write = [&](Eigen::ArrayXd dec, Eigen::ArrayXd sigma) {
        Eigen::ArrayXd one = Eigen::ArrayXd::Constant(5, 1.0);
        write_npy_structured(p, {{"ra", "<f8"}, {"dec", "<f8"}, {"sigma", "<f8"}, {"logE", "<f8"}},
                             {one, dec, sigma, one});
    };
    Eigen::ArrayXd ok = Eigen::ArrayXd::Constant(5, 0.1);
    Eigen::ArrayXd bad = ok;
    bad[3] = 2.0;
    write(bad, ok);
    EXPECT_EQ(error_of([&] { npy_to_events(read_npy(p), false, 0, 5); }),
              p + ": field dec index 3: value 2.000000 is not a declination in [-pi/2, pi/2] (radians)");
    // Global indices when a rank reads a block.
    EXPECT_EQ(error_of([&] { npy_to_events(read_npy(p), false, 2, 3); }),
              p + ": field dec index 3: value 2.000000 is not a declination in [-pi/2, pi/2] (radians)");
    bad = ok;
    bad[1] = std::numeric_limits<double>::quiet_NaN();
    write(bad, ok);
    EXPECT_NE(error_of([&] { npy_to_events(read_npy(p), false, 0, 5); }).find("field dec index 1: value nan"),
              std::string::npos);
    bad = ok;
    bad[4] = 0.0;
    write(ok, bad);
    EXPECT_EQ(error_of([&] { npy_to_events(read_npy(p), false, 0, 5); }),
              p + ": field sigma index 4: value 0.000000 is not an angular error in (0, pi] (radians)");
    // MC fields missing.
    write(ok, ok);
    EXPECT_NE(error_of([&] { npy_to_events(read_npy(p), true, 0, 5); }).find("no field 'trueRa' or 'true_ra'"),
              std::string::npos);
    // A plain array is not an event file.
    const std::string plain = (test::scratch_dir() / "plain.npy").string();
    write_npy(plain, ok);
    EXPECT_NE(error_of([&] { npy_to_events(read_npy(plain), false, 0, 5); }).find("expected a structured array"),
              std::string::npos);
}

TEST(NpyEventsReader, ConfigErrors)
{
    EXPECT_EQ(error_of([] { make_module<Reader>(Stage::reader, "reader", "type = npy_events\n"); }),
              "parameter path (default): required: the .npy event file");
    EXPECT_EQ(error_of([] { make_module<Reader>(Stage::reader, "reader", "type = npy_events\npath = x.npy\nangle_unit = grad\n"); }),
              "test.ini: [reader] angle_unit: must be rad or deg");
    auto reader = make_module<Reader>(Stage::reader, "reader", "type = npy_events\npath = /nonexistent/x.npy\n");
    Context c(MPI_COMM_SELF);
    EXPECT_EQ(error_of([&] { reader->read(c.context); }),
              "/nonexistent/x.npy: cannot open for reading: No such file or directory");
}

// ---- icecube_public -------------------------------------------------------------------------

TEST(IceCubePublicReader, DirectoryNeedsSeasons)
{
    std::string dir = test::repo_data("ic40");
    EXPECT_EQ(error_of([&] { make_module<Reader>(Stage::reader, "reader", "type = icecube_public\npath = " + dir + "\n"); }),
              "test.ini: [reader] path: is a release directory: also give seasons (e.g. seasons = IC40, IC59)");
    auto reader = make_module<Reader>(Stage::reader, "reader", "type = icecube_public\npath = " + dir + "\nseasons = IC40, IC99\n");
    Context c(MPI_COMM_SELF);
    EXPECT_EQ(error_of([&] { reader->read(c.context); }),
              dir + "/events/IC99_exp.csv: season IC99: events file not found");
}

TEST(IceCubePublicReader, SingleFileBringsItsSeasonAlong)
{
    std::string file = test::repo_data("ic40/events/IC40_exp.csv");
    auto reader = make_module<Reader>(Stage::reader, "reader", "type = icecube_public\npath = " + file + "\n");
    Context c(MPI_COMM_SELF);
    EventSample s = reader->read(c.context);
    EXPECT_EQ(s.data.size(), 36900);
    EXPECT_TRUE(s.data.has_mjd());
    EXPECT_GE(s.data.sigma.minCoeff(), 0.2 * kDeg * (1 - 1e-12));
    EXPECT_NEAR(s.livetime_s / 86400.0, 376.4, 0.05);
    EXPECT_EQ(s.attributes.at("effective_area:IC40"), test::repo_data("ic40/irfs/IC40_effectiveArea.csv"));
    EXPECT_EQ(s.description, file + ": IC40 (36900 events, 376.4 d)");
}

TEST(IceCubePublicReader, AngErrBelowTheFloorIsRaisedAndCounted)
{
    const std::string path = (test::scratch_dir() / "IC40_rounded.csv").string();
    std::ofstream(path, std::ios::binary)
        << "MJD[days] log10(E/GeV) AngErr[deg] RA[deg] Dec[deg] Azimuth[deg] Zenith[deg]\r\n"
        << "54562.37911273\t3.31\t0.00\t203.024\t16.760\t218.374\t106.712\r\n"
        << "54562.38662244\t5.17\t0.10\t75.024\t-13.371\t349.100\t76.646\r\n"
        << "54562.38662244\t5.17\t0.60\t75.024\t-13.371\t349.100\t76.646\r\n\r\n";
    auto reader = make_module<Reader>(Stage::reader, "reader",
                                      "type = icecube_public\npath = " + path + "\nangerr_floor_deg = 0.3\n");
    Context c(MPI_COMM_SELF);
    EventSample s = reader->read(c.context);
    ASSERT_EQ(s.data.size(), 3);
    EXPECT_DOUBLE_EQ(s.data.sigma[0], 0.3 * kDeg);
    EXPECT_DOUBLE_EQ(s.data.sigma[1], 0.3 * kDeg);
    EXPECT_DOUBLE_EQ(s.data.sigma[2], 0.6 * kDeg);
    EXPECT_EQ(s.attributes.at("angerr_raised_to_floor:IC40_rounded"), "2");
    // The real IC40 file has nothing below the release's 0.2 deg floor: no attribute.
    auto real = make_module<Reader>(Stage::reader, "reader",
                                    "type = icecube_public\npath = " + test::repo_data("ic40/events/IC40_exp.csv") + "\n");
    EXPECT_EQ(real->read(c.context).attributes.count("angerr_raised_to_floor:IC40"), 0u);
}

// ---- simulation -----------------------------------------------------------------------------

TEST(SimulationReader, FindsTheReleaseTables)
{
    std::string dir = find_gp2023_dir("");
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(dir) / "Fermi-LAT_pi0_map.npy")) << dir;
    EXPECT_NE(error_of([] { find_gp2023_dir("/nonexistent"); }).find("/nonexistent: not a directory"),
              std::string::npos);
    EXPECT_NE(error_of([] { find_gp2023_dir(test::repo_data("ic40")); }).find("no effa_values.csv"),
              std::string::npos);
    ::setenv("NUSKY_DATA_DIR", test::repo_data("").c_str(), 1);
    EXPECT_EQ(find_gp2023_dir(""), std::filesystem::path(test::repo_data("gp2023")).lexically_normal().string());
    ::unsetenv("NUSKY_DATA_DIR");
}

TEST(SimulationReader, SmallSampleWithoutSignal)
{
    auto reader = make_module<Reader>(Stage::reader, "reader",
                               "type = simulation\nseed = 5\nsignal = false\nn_background = 1000\nmc_events = 500\n"
                               "data_dir = " + test::repo_data("gp2023") + "\n");
    Context c(MPI_COMM_SELF);
    EventSample s = reader->read(c.context);
    EXPECT_EQ(s.data.size(), 1000);
    EXPECT_EQ(s.mc.size(), 500);
    EXPECT_TRUE(s.mc.has_truth());
    EXPECT_EQ(s.data.extra.at("signal").sum(), 0.0);
    EXPECT_DOUBLE_EQ(s.livetime_s, 304047105.07);
    EXPECT_EQ(s.attributes.count("template"), 0u);
    EXPECT_NEAR((s.data.x.square() + s.data.y.square() + s.data.z.square()).maxCoeff(), 1.0, 1e-12);
}

TEST(SimulationReader, ConfigErrors)
{
    EXPECT_EQ(error_of([] { make_module<Reader>(Stage::reader, "reader", "type = simulation\nmc_events = -1\n"); }),
              "test.ini: [reader] mc_events: must be >= 0");
    EXPECT_EQ(error_of([] { make_module<Reader>(Stage::reader, "reader", "type = simulation\nsignal = no\nn_signal = 5\n"); }),
              "test.ini: [reader] signal: signal is off, but n_signal or template_path is set");
    EXPECT_EQ(error_of([] { make_module<Reader>(Stage::reader, "reader", "type = simulation\nmc_emax_gev = 10\n"); }),
              "test.ini: [reader] mc_emax_gev: must be above mc_emin_gev");
}

}  // namespace

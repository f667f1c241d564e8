// The reader modules at any rank count: the global sample is the same (bit for bit) whatever
// the number of ranks, and errors seen by one rank end every rank cleanly.
#include "readers/icecube_public/icecube_text.hpp"
#include "nusky/npy.hpp"
#include "readers/npy_events/npy_events.hpp"
#include "readers/simulation/simulate.hpp"

#include "nusky/chain.hpp"
#include "nusky/config.hpp"
#include "nusky/error.hpp"
#include "nusky/mpi.hpp"
#include "nusky/registry.hpp"
#include "nusky/stages.hpp"

#include "../unit/module_harness.hpp"
#include "../unit/test_paths.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <tuple>

using namespace nusky;

namespace {

using test::repo_data;
using Context = test::ModuleContext;

std::unique_ptr<Reader> make_reader(const std::string& body)
{
    return test::make_module<Reader>(Stage::reader, "reader", body);
}

// A scratch path that is the same on every rank (rank 0's pid) and unique to this run.
std::string shared_scratch(const Comm& comm, const std::string& name)
{
    std::string pid = std::to_string(::getpid());
    comm.broadcast(pid);
    return (std::filesystem::temp_directory_path() / ("nusky_readers_mpi_" + pid + "_" + name)).string();
}

void expect_same(const Eigen::ArrayXd& a, const Eigen::ArrayXd& b, const char* what)
{
    ASSERT_EQ(a.size(), b.size()) << what;
    EXPECT_TRUE((a == b).all()) << what << " differs";  // bit-identical
}

}  // namespace

TEST(test_readers_mpi, SimulationIsRankCountIndependent)
{
    Context c;
    const std::string dir = repo_data("gp2023");
    auto reader = make_reader("type = simulation\nseed = 7\nmc_events = 20000\ndata_dir = " + dir + "\n");
    EventSample sample;
    EXPECT_NO_THROW(collective_step(c.comm, [&] { sample = reader->read(c.context); }));

    // What a single process simulates for the whole range.
    SimulationConfig cfg;
    cfg.seed = 7;
    cfg.mc_count = 20000;
    const SimulationInputs inputs = load_simulation_inputs(dir);
    const Eigen::ArrayXd map = read_healpix_map_npy(dir + "/Fermi-LAT_pi0_map.npy");
    const std::size_t n = sky_count(cfg);
    Events whole = simulate_sky(cfg, inputs, map, 0, n);
    Events whole_mc = simulate_mc(cfg, inputs, 0, cfg.mc_count);

    EXPECT_EQ(c.comm.sum(static_cast<std::int64_t>(sample.data.size())), static_cast<std::int64_t>(n));
    EXPECT_EQ(c.comm.sum(static_cast<std::int64_t>(sample.mc.size())), 20000);
    EXPECT_GT(n, kGp2023EventCount);  // background plus Poisson(675) signal
    EXPECT_DOUBLE_EQ(sample.livetime_s, kGp2023LivetimeS);

    Events all = sample.data.allgather(c.comm);
    expect_same(all.ra, whole.ra, "ra");
    expect_same(all.dec, whole.dec, "dec");
    expect_same(all.sigma, whole.sigma, "sigma");
    expect_same(all.log10_energy, whole.log10_energy, "log10_energy");
    expect_same(all.extra.at("signal"), whole.extra.at("signal"), "signal flag");
    Events all_mc = sample.mc.allgather(c.comm);
    expect_same(all_mc.true_energy, whole_mc.true_energy, "mc true_energy");
    expect_same(all_mc.oneweight, whole_mc.oneweight, "mc oneweight");
    expect_same(all_mc.ra, whole_mc.ra, "mc ra");

    // An order-sensitive checksum, reduced over ranks with each rank's global offsets.
    std::int64_t offset = c.comm.exclusive_prefix(static_cast<std::int64_t>(sample.data.size()));
    double local = 0.0;
    for (Eigen::Index i = 0; i < sample.data.size(); ++i) {
        local += sample.data.ra[i] * static_cast<double>(offset + i + 1);
    }
    double expected = 0.0;
    for (Eigen::Index i = 0; i < whole.size(); ++i) expected += whole.ra[i] * static_cast<double>(i + 1);
    EXPECT_NEAR(c.comm.sum(local), expected, 1e-9 * expected);
}

TEST(test_readers_mpi, IceCubePublicSharesAddUp)
{
    Context c;
    const std::string dir = repo_data("ic40");
    auto reader = make_reader("type = icecube_public\npath = " + dir + "\nseasons = IC40\n");
    EventSample sample;
    EXPECT_NO_THROW(collective_step(c.comm, [&] { sample = reader->read(c.context); }));
    EXPECT_EQ(c.comm.sum(static_cast<std::int64_t>(sample.data.size())), 36900);
    const double livetime = read_uptime(dir + "/uptime/IC40_exp.csv").livetime_s;
    EXPECT_EQ(sample.livetime_s, livetime);
    EXPECT_EQ(c.comm.max(sample.livetime_s), c.comm.sum(sample.livetime_s) / c.comm.size());
    EXPECT_EQ(sample.attributes.at("effective_area:IC40"), dir + "/irfs/IC40_effectiveArea.csv");
    EXPECT_EQ(sample.description, dir + ": IC40 (36900 events, 376.4 d)");

    IceCubeEvents whole = read_events(dir + "/events/IC40_exp.csv");
    Events all = sample.data.allgather(c.comm);
    expect_same(all.ra, whole.ra, "ra");
    expect_same(all.sigma, whole.sigma, "sigma");
    expect_same(all.mjd, whole.mjd, "mjd");
}

TEST(test_readers_mpi, IceCubePublicErrorOnOneRankEndsAllRanks)
{
    Context c;
    const std::string path = shared_scratch(c.comm, "IC40_exp.csv");
    if (c.comm.is_root()) {
        std::ifstream in(repo_data("ic40/events/IC40_exp.csv"));
        std::ofstream out(path);
        std::string line;
        int n = 0;
        while (std::getline(in, line)) {
            if (++n == 36800) out << "55000.5 2.0 0.5 10.0 95.0 1.0 1.0\n";  // dec 95 deg, near the end
            out << line << "\n";
        }
    }
    c.comm.barrier();
    auto reader = make_reader("type = icecube_public\npath = " + path + "\n");
    EXPECT_THROW(collective_step(c.comm, [&] { reader->read(c.context); }), StepFailed);
    c.comm.barrier();
    if (c.comm.is_root()) std::filesystem::remove(path);
}

// Every rank reads the header and its own block of rows: at 1, 2 and 4 ranks the gathered
// sample is bit-identical to one process decoding the whole file, for data and MC, with mixed
// field types (odd record sizes, so blocks start at unaligned offsets) and an extra column.
TEST(test_readers_mpi, NpyEventsBlocksAreRankCountIndependent)
{
    Context c;
    const std::string path = shared_scratch(c.comm, "events.npy");
    const std::string mc_path = shared_scratch(c.comm, "mc.npy");
    const Eigen::Index n = 1001;  // not a multiple of 2 or 4
    Eigen::ArrayXd ra = Eigen::ArrayXd::LinSpaced(n, 0.0, 6.0);
    Eigen::ArrayXd dec = Eigen::ArrayXd::LinSpaced(n, -1.5, 1.5);
    Eigen::ArrayXd sigma = Eigen::ArrayXd::LinSpaced(n, 0.001, 0.2);
    Eigen::ArrayXd loge = Eigen::ArrayXd::LinSpaced(n, 2.0, 7.0);
    Eigen::ArrayXd time = Eigen::ArrayXd::LinSpaced(n, 54562.0, 55000.0);
    Eigen::ArrayXd score = Eigen::ArrayXd::LinSpaced(n, 0.0, 1000.0).round();
    if (c.comm.is_root()) {
        write_npy_structured(path, {{"run", "<i8"}, {"ra", "<f8"}, {"dec", "<f4"}, {"angErr", "<f8"},
                                    {"flag", "|u1"}, {"logE", "<f4"}, {"time", "<f8"}, {"score", "<u2"}},
                             {score, ra, dec, sigma, Eigen::ArrayXd::Ones(n), loge, time, score});
        write_npy_structured(mc_path, {{"ra", "<f8"}, {"dec", "<f8"}, {"sigma", "<f8"}, {"logE", "<f8"},
                                       {"trueRa", "<f8"}, {"trueDec", "<f4"}, {"trueE", "<f8"}, {"ow", "<f8"},
                                       {"score", "<i4"}},
                                {ra, dec, sigma, loge, ra.reverse(), dec, 10.0 * (1.0 + ra), sigma, score}, 2);
    }
    c.comm.barrier();
    auto reader = make_reader("type = npy_events\npath = " + path + "\nmc_path = " + mc_path +
                              "\nlivetime_s = 100\nextra_columns = score\n");
    EventSample sample;
    EXPECT_NO_THROW(collective_step(c.comm, [&] { sample = reader->read(c.context); }));
    EXPECT_EQ(c.comm.sum(static_cast<std::int64_t>(sample.data.size())), n);
    EXPECT_EQ(sample.livetime_s, 100.0);

    // One process, the whole file through parse_npy.
    NpyEventOptions options;
    options.extra_columns = {"score"};
    const Events whole = npy_to_events(read_npy(path), false, 0, n, options);
    const Events whole_mc = npy_to_events(read_npy(mc_path), true, 0, n, options);
    const Events all = sample.data.allgather(c.comm);
    const Events all_mc = sample.mc.allgather(c.comm);
    for (const auto& [mine, theirs, what] :
         {std::tuple{&all, &whole, "data"}, std::tuple{&all_mc, &whole_mc, "mc"}}) {
        SCOPED_TRACE(what);
        expect_same(mine->ra, theirs->ra, "ra");
        expect_same(mine->dec, theirs->dec, "dec");
        expect_same(mine->sigma, theirs->sigma, "sigma");
        expect_same(mine->log10_energy, theirs->log10_energy, "log10_energy");
        expect_same(mine->mjd, theirs->mjd, "mjd");
        expect_same(mine->x, theirs->x, "x");
        expect_same(mine->z, theirs->z, "z");
        expect_same(mine->true_ra, theirs->true_ra, "true_ra");
        expect_same(mine->true_dec, theirs->true_dec, "true_dec");
        expect_same(mine->true_energy, theirs->true_energy, "true_energy");
        expect_same(mine->oneweight, theirs->oneweight, "oneweight");
        expect_same(mine->extra.at("score"), theirs->extra.at("score"), "score");
    }
    expect_same(all.ra, ra, "ra as written");
    expect_same(all.mjd, time, "time as written");
    expect_same(all.dec, dec.cast<float>().cast<double>(), "dec as written (float32)");
    c.comm.barrier();
    if (c.comm.is_root()) {
        std::filesystem::remove(path);
        std::filesystem::remove(mc_path);
    }
}

// Fewer rows than ranks: the ranks without rows read none and the sample is still whole.
TEST(test_readers_mpi, NpyEventsFewerRowsThanRanks)
{
    Context c;
    const std::string path = shared_scratch(c.comm, "three.npy");
    Eigen::ArrayXd ra(3);
    ra << 0.5, 1.5, 2.5;
    if (c.comm.is_root()) {
        write_npy_structured(path, {{"ra", "<f8"}, {"dec", "<f8"}, {"sigma", "<f8"}, {"logE", "<f8"}},
                             {ra, Eigen::ArrayXd::Zero(3), Eigen::ArrayXd::Constant(3, 0.01), Eigen::ArrayXd::Constant(3, 3.0)});
    }
    c.comm.barrier();
    auto reader = make_reader("type = npy_events\npath = " + path + "\n");
    EventSample sample;
    EXPECT_NO_THROW(collective_step(c.comm, [&] { sample = reader->read(c.context); }));
    expect_same(sample.data.allgather(c.comm).ra, ra, "ra");
    c.comm.barrier();
    if (c.comm.is_root()) std::filesystem::remove(path);
}

// A bad value in the last rank's block, and a truncated file (seen by every rank from the file
// size, before any data are read): every rank ends cleanly.
TEST(test_readers_mpi, NpyEventsErrorOnOneRankEndsAllRanks)
{
    Context c;
    const std::string path = shared_scratch(c.comm, "bad.npy");
    const Eigen::Index n = 400;
    Eigen::ArrayXd sigma = Eigen::ArrayXd::Constant(n, 0.01);
    sigma[n - 1] = 0.0;
    if (c.comm.is_root()) {
        write_npy_structured(path, {{"ra", "<f8"}, {"dec", "<f8"}, {"sigma", "<f8"}, {"logE", "<f8"}},
                             {Eigen::ArrayXd::Ones(n), Eigen::ArrayXd::Zero(n), sigma, Eigen::ArrayXd::Constant(n, 3.0)});
    }
    c.comm.barrier();
    auto reader = make_reader("type = npy_events\npath = " + path + "\n");
    EXPECT_THROW(collective_step(c.comm, [&] { reader->read(c.context); }), StepFailed);
    c.comm.barrier();
    if (c.comm.is_root()) std::filesystem::resize_file(path, std::filesystem::file_size(path) - 20);
    c.comm.barrier();
    try {
        NpyFile file(path);
        ADD_FAILURE() << "a truncated file was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(path + ": truncated .npy data"), std::string::npos) << e.what();
    }
    EXPECT_THROW(collective_step(c.comm, [&] { reader->read(c.context); }), StepFailed);
    c.comm.barrier();
    if (c.comm.is_root()) std::filesystem::remove(path);
}

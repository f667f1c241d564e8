// Framework pieces that need several ranks: reductions, block ranges, collective HDF5 writes.
#include "nusky/chain.hpp"
#include "nusky/error.hpp"
#include "nusky/h5.hpp"
#include "nusky/mpi.hpp"
#include "nusky/results.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <numeric>

using namespace nusky;

TEST(test_framework_mpi, BlockRangesCoverEverythingOnce)
{
    for (int size : {1, 2, 3, 4, 7}) {
        std::int64_t next = 0;
        for (int r = 0; r < size; ++r) {
            auto range = block_range(10, r, size);
            EXPECT_EQ(range.begin, next);
            next = range.end;
        }
        EXPECT_EQ(next, 10);
    }
}

TEST(test_framework_mpi, SumsAndPrefixes)
{
    Comm comm;
    EXPECT_EQ(comm.sum(static_cast<std::int64_t>(comm.rank() + 1)),
              static_cast<std::int64_t>(comm.size() * (comm.size() + 1) / 2));
    EXPECT_EQ(comm.exclusive_prefix(2), 2 * comm.rank());
    std::vector<double> local(static_cast<std::size_t>(comm.rank()), comm.rank());
    auto all = comm.allgather(local);
    EXPECT_EQ(all.size(), static_cast<std::size_t>(comm.size() * (comm.size() - 1) / 2));
}

TEST(test_framework_mpi, CollectiveStepReportsOneFailureOnEveryRank)
{
    Comm comm;
    int last = comm.size() - 1;
    EXPECT_THROW(collective_step(comm, [&] {
                     if (comm.rank() == last) throw Error("only the last rank fails");
                 }),
                 StepFailed);
    EXPECT_NO_THROW(collective_step(comm, [] {}));
}

TEST(test_framework_mpi, DistributedDatasetRoundTrip)
{
    Comm comm;
    std::string path = (std::filesystem::temp_directory_path() / "nusky_mpi_roundtrip.h5").string();
    Results results;
    std::vector<double> block(static_cast<std::size_t>(comm.rank() + 1));
    std::int64_t offset = comm.exclusive_prefix(static_cast<std::int64_t>(block.size()));
    std::iota(block.begin(), block.end(), static_cast<double>(offset));
    results.set_distributed("/trials", "ts", block, comm);
    results.set_replicated("/selection", "names", std::vector<std::string>{"dec", "log10_energy"}, comm);
    results.group("/fit").attributes["ts"] = 1.5;
    results.root_attributes["n_ranks"] = static_cast<std::int64_t>(comm.size());
    {
        auto file = h5_create_parallel(path, comm);
        h5_write_results(file, results, comm);
    }
    comm.barrier();
    if (comm.is_root()) {
        auto file = h5_open_serial(path);
        std::int64_t n = h5_dataset_length(file, path, "/trials/ts");
        EXPECT_EQ(n, comm.size() * (comm.size() + 1) / 2);
        auto ts = h5_read_doubles(file, path, "/trials/ts", 0, n);
        for (std::int64_t i = 0; i < n; ++i) EXPECT_EQ(ts[static_cast<std::size_t>(i)], i);
        EXPECT_EQ(h5_read_strings(file, path, "/selection/names"),
                  (std::vector<std::string>{"dec", "log10_energy"}));
        EXPECT_EQ(h5_read_double_attribute(file, path, "/fit", "ts"), 1.5);
        EXPECT_EQ(h5_read_int64_attribute(file, path, "/", "n_ranks"), comm.size());
    }
    comm.barrier();
}

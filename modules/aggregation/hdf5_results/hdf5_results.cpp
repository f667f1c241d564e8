// Aggregation `hdf5_results`: every rank's results written collectively into one parallel
// HDF5 file, first as PATH.tmp, renamed to PATH by rank 0 once the file is closed.
#include "nusky/error.hpp"
#include "nusky/h5.hpp"
#include "nusky/log.hpp"
#include "nusky/mpi.hpp"
#include "nusky/registry.hpp"
#include "nusky/stages.hpp"

#include <cstdio>
#include <filesystem>

namespace nusky {
namespace {

class Hdf5Results : public Aggregation {
public:
    void write(RunContext& context) override
    {
        const std::string tmp = context.output_path + ".tmp";
        try {
            auto file = h5_create_parallel(tmp, context.comm);
            h5_write_results(file, context.results, context.comm);
            h5_close_parallel(file, context.comm, tmp);  // collectively, before the rename
            h5_verify_results(tmp, context.results, context.comm);
        } catch (const CollectiveError&) {
            // A results file that could not be written whole (a full disk) is removed once every
            // rank has closed it: nothing half-written stays behind. (A trial campaign's
            // checkpoint is PATH.ckpt by now, and stays.)
            context.comm.barrier();
            std::error_code ec;
            if (context.comm.is_root()) std::filesystem::remove(tmp, ec);
            throw;
        } catch (const Error&) {
            std::error_code ec;
            if (context.comm.is_root()) std::filesystem::remove(tmp, ec);
            throw;
        }
        context.comm.barrier();
        std::error_code ec;
        if (context.comm.is_root()) std::filesystem::rename(tmp, context.output_path, ec);
        // Every rank learns whether the rename worked, so all fail (or succeed) together.
        if (context.comm.max(ec ? 1 : 0) != 0) {
            throw Error(context.output_path + ": cannot rename from " + tmp +
                        (ec ? ": " + ec.message() : ""));
        }
        log::info("wrote " + context.output_path);
        const CollectiveWrites& writes = h5_collective_writes();
        const std::string counts = std::to_string(writes.collective) + " collective, " +
                                   std::to_string(writes.independent) + " independent";
        if (writes.independent > 0) log::warn("MPI-IO dataset writes: " + counts + "; first: " + writes.first_independent);
        else log::info("MPI-IO dataset writes: " + counts);
    }
};

}  // namespace

NUSKY_REGISTER_MODULE(aggregation, Hdf5Results, "hdf5_results",
                      "one parallel HDF5 results file, written collectively by all ranks")

}  // namespace nusky

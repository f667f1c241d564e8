// Aggregation `hdf5_results`: every rank's results written collectively into one parallel
// HDF5 file, first as PATH.tmp, renamed to PATH by rank 0 once the file is closed.
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
        {
            auto file = h5_create_parallel(tmp, context.comm);
            h5_write_results(file, context.results, context.comm);
        }  // closed (collectively) before the rename
        context.comm.barrier();
        std::error_code ec;
        if (context.comm.is_root()) std::filesystem::rename(tmp, context.output_path, ec);
        // Every rank learns whether the rename worked, so all fail (or succeed) together.
        if (context.comm.max(ec ? 1 : 0) != 0) {
            throw Error(context.output_path + ": cannot rename from " + tmp +
                        (ec ? ": " + ec.message() : ""));
        }
        log::info("wrote " + context.output_path);
    }
};

}  // namespace

NUSKY_REGISTER_MODULE(aggregation, Hdf5Results, "hdf5_results",
                      "one parallel HDF5 results file, written collectively by all ranks")

}  // namespace nusky

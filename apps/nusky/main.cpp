// nusky: the command-line entry point. Every command runs SPMD (under mpirun or srun);
// commands that only print do so on rank 0.
#include "commands.hpp"

#include "nusky/chain.hpp"
#include "nusky/error.hpp"
#include "nusky/h5.hpp"
#include "nusky/log.hpp"
#include "nusky/mpi.hpp"

#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

const char* usage_text =
    "usage: nusky <command> [options]\n"
    "\n"
    "commands:\n"
    "  run CONFIG [--set section.key=value]... [--output PATH] [--resume] [--plugin LIB]...\n"
    "                         run the analysis chain of an INI config (under mpirun/srun)\n"
    "  validate CONFIG [--set k=v]...\n"
    "                         build every module of the chain and check the config\n"
    "  simulate --seed S --out FILE [--events N] [--no-signal] [--mc-events M]\n"
    "                         write a simulated cascade sky in the HDF5 event schema\n"
    "  pvalue --ts T --trials FILE [--column NAME] [--binning FILE]\n"
    "                         p-value and significance of T from background trials (a results\n"
    "                         file's /trials/ts, a released TS histogram CSV, or a TS list)\n"
    "  modules [--plugin LIB]... list the registered modules by stage\n"
    "  describe MODULE|--all [--markdown] [--plugin LIB]...\n"
    "                         a module's parameters, defaults and descriptions\n"
    "  plot RESULTS.h5... --out DIR\n"
    "                         PNG pictures: scan map, trial TS distribution, n_s profile\n"
    "  export-fits RESULTS.h5 --out DIR\n"
    "                         the /scan maps as HEALPix FITS files (healpy, ds9, Aladin)\n"
    "  plugins: [job] plugins = LIB,... or --plugin LIB; bare names are searched in\n"
    "           $NUSKY_PLUGIN_PATH (colon separated), then <prefix>/lib/nusky\n"
    "  --help, --version\n";

}  // namespace

namespace {

// Ends the program with `code`. After a file could not be closed (a full disk) HDF5 would crash
// closing it again inside MPI_Finalize, so the process then exits without finalizing: every rank
// gets here alike (the failed close was agreed on collectively).
int finish(int code)
{
    if (nusky::h5_file_left_open()) {
        std::fflush(nullptr);
        std::_Exit(code);
    }
    return code;
}

}  // namespace

int main(int argc, char** argv)
{
    nusky::MpiSession session(argc, argv);
    // One thread per rank unless the user asks otherwise: ranks already fill the cores, and
    // HEALPix's OpenMP loops would oversubscribe them.
    if (!std::getenv("OMP_NUM_THREADS")) omp_set_num_threads(1);
    nusky::Comm comm;
    nusky::log::init(comm.rank(), comm.size());
    std::vector<std::string> args(argv + 1, argv + argc);
    try {
        if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
            if (comm.is_root()) std::fputs(usage_text, stdout);
            return args.empty() ? 1 : 0;
        }
        if (args[0] == "--version") {
            if (comm.is_root()) std::printf("nusky %s\n", NUSKY_VERSION);
            return 0;
        }
        const auto& command = nusky::find_command(args[0]);
        std::vector<std::string> rest(args.begin() + 1, args.end());
        return command.run(rest, comm);
    } catch (const nusky::StepFailed&) {
        return finish(1);  // reported by the failing rank
    } catch (const nusky::UsageError& e) {
        if (comm.is_root()) std::fprintf(stderr, "nusky: %s\n(see nusky --help)\n", e.what());
        return 1;
    } catch (const nusky::Error& e) {
        // The same on every rank (arguments, config text): rank 0 speaks for all.
        if (comm.is_root()) nusky::log::error(e.what());
        return finish(1);
    } catch (const std::exception& e) {
        nusky::log::error(std::string("internal error: ") + e.what());
        comm.abort(2);
    } catch (...) {  // e.g. a library's own exception type that is not a std::exception
        nusky::log::error("internal error: unknown exception");
        comm.abort(2);
    }
}

// `nusky simulate`: writes a simulated cascade sky (and MC set) as an HDF5 event file in the
// nusky schema, using the `simulation` reader. Rank 0 generates and writes; the result is the
// same as the reader's sample at any rank count (the simulation is counter-based).
#include "commands.hpp"

#include "readers/hdf5_events/hdf5_events.hpp"

#include "nusky/chain.hpp"
#include "nusky/config.hpp"
#include "nusky/mpi.hpp"
#include "nusky/registry.hpp"
#include "nusky/stages.hpp"

#include <boost/program_options.hpp>

#include <chrono>
#include <cstdio>
#include <map>

namespace po = boost::program_options;

namespace nusky {
namespace {

int simulate_command(const std::vector<std::string>& args, const Comm& comm)
{
    // Option -> reader parameter; values are parsed (and checked) by the reader's parameters.
    std::map<std::string, std::string> values;
    std::string out;
    bool no_signal = false;
    po::options_description named("options");
    named.add_options()("out", po::value<std::string>(&out), "output HDF5 file")(
        "seed", po::value<std::string>(), "simulation seed (default 1)")(
        "events", po::value<std::string>(), "mean number of background events (default 59592)")(
        "signal-events", po::value<std::string>(), "mean number of signal events (default 675)")(
        "no-signal", po::bool_switch(&no_signal), "no Galactic-plane signal")(
        "mc-events", po::value<std::string>(), "number of MC events (default 1000000; 0 = none)")(
        "data-dir", po::value<std::string>(), "gp2023 release tables")(
        "template", po::value<std::string>(), "signal template .npy");
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(args).options(named).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        throw UsageError(std::string("simulate: ") + e.what());
    }
    if (out.empty()) throw UsageError("simulate: missing --out FILE");
    const std::map<std::string, std::string> parameter_of{{"seed", "seed"},
                                                          {"events", "n_background"},
                                                          {"signal-events", "n_signal"},
                                                          {"mc-events", "mc_events"},
                                                          {"data-dir", "data_dir"},
                                                          {"template", "template_path"}};
    auto reader = create_module<Reader>(Stage::reader, "simulation");
    auto set = [&](const std::string& name, const std::string& text, const std::string& where) {
        for (auto* p : reader->parameters()) {
            if (p->name() == name) return p->parse(text, where);
        }
        throw Error("simulate: the simulation reader has no parameter " + name);
    };
    for (const auto& [option, parameter] : parameter_of) {
        if (vm.count(option)) set(parameter, vm[option].as<std::string>(), "--" + option);
    }
    if (no_signal) set("signal", "false", "--no-signal");
    reader->validate();  // the same on every rank: throws Error, reported by rank 0

    auto start = std::chrono::steady_clock::now();
    EventSample sample;
    collective_step(comm, [&] {
        if (!comm.is_root()) return;
        Comm self(MPI_COMM_SELF);
        JobSpec job;
        Config config;
        Results results;
        RunContext context{self, job, config, results, out};
        sample = reader->read(context);
        write_event_file(out, sample.data, sample.mc.size() > 0 ? &sample.mc : nullptr, sample.livetime_s);
    });
    if (comm.is_root()) {
        double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("simulate: wrote %s: %s (%.1f s)\n", out.c_str(), sample.description.c_str(), wall);
    }
    return 0;
}

const bool registered = register_command({"simulate", simulate_command});

}  // namespace
}  // namespace nusky

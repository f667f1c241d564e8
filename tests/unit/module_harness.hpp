#pragma once
// For tests that drive a module directly: a RunContext to pass it, the module configured from
// INI text, and the message of an expected error.
#include "nusky/config.hpp"
#include "nusky/error.hpp"
#include "nusky/mpi.hpp"
#include "nusky/registry.hpp"
#include "nusky/results.hpp"
#include "nusky/stages.hpp"

#include <memory>
#include <string>

namespace nusky::test {

struct ModuleContext {
    explicit ModuleContext(MPI_Comm communicator = MPI_COMM_WORLD) : comm(communicator) {}
    Comm comm;
    JobSpec job;
    Config config;
    Results results;
    RunContext context{comm, job, config, results, "unused.h5"};
};

// The module named by `type =` in `body`, configured from the section's other keys.
template <class Interface>
std::unique_ptr<Interface> make_module(Stage stage, const std::string& section, const std::string& body)
{
    auto config = Config::from_string("[" + section + "]\n" + body, "test.ini");
    const std::string type = config.take(section, "type")->value;
    auto module = create_module<Interface>(stage, type);
    module->configure(config, section);
    return module;
}

// The message of the nusky::Error `f` throws ("" if none).
template <class F>
std::string error_of(F&& f)
{
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace nusky::test

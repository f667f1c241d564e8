#pragma once
// The subcommands of `nusky`: each one is a name, a one-line help and a function.
#include "nusky/error.hpp"
#include "nusky/mpi.hpp"

#include <functional>
#include <string>
#include <vector>

namespace nusky {

struct UsageError : Error {
    using Error::Error;
};

struct Command {
    std::string name;
    std::function<int(const std::vector<std::string>& args, const Comm& comm)> run;
};

// Throws UsageError for an unknown command.
const Command& find_command(const std::string& name);
bool register_command(Command command);

}  // namespace nusky

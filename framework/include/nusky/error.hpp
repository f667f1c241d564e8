#pragma once
// One exception type for everything the user can get wrong: bad files, bad configs, bad values.
// The message is the whole one-line report ("FILE:LINE: what"), printed by main() as is.
#include <stdexcept>
#include <string>

namespace nusky {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// An error every rank of the communicator throws alike, at the same point (a failed collective
// write that the ranks agreed on): rank 0 alone reports it, and no rank needs to abort the others.
class CollectiveError : public Error {
public:
    using Error::Error;
};

// "path:line: message" (line omitted when 0), the form every file error takes.
inline Error file_error(const std::string& path, long line, const std::string& message)
{
    return Error(line > 0 ? path + ":" + std::to_string(line) + ": " + message
                          : path + ": " + message);
}

}  // namespace nusky

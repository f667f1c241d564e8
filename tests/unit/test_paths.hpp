#pragma once
// Where tests find the IceCube release files (the repository's data/) and write scratch files.
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>

namespace nusky::test {

// A file or directory under the source tree's data/ (docs/data.md lists what is there).
inline std::string repo_data(const std::string& relative)
{
    return std::string(NUSKY_TEST_SOURCE_DIR) + "/data/" + relative;
}

// A fresh per-process scratch directory for files a test writes.
inline std::filesystem::path scratch_dir()
{
    static std::filesystem::path dir = [] {
        auto d = std::filesystem::temp_directory_path() /
                 ("nusky_test_" + std::to_string(::getpid()));
        std::filesystem::create_directories(d);
        return d;
    }();
    return dir;
}

}  // namespace nusky::test

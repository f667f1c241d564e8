#pragma once
// Where tests find the shared IceCube release files and write scratch files.
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>

namespace nusky::test {

// ../shared relative to the source tree (ctest sets NUSKY_SHARED).
inline std::string shared_data(const std::string& relative)
{
    const char* env = std::getenv("NUSKY_SHARED");
    std::string root = env ? env : std::string(NUSKY_TEST_SOURCE_DIR) + "/../shared";
    return root + "/data/" + relative;
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

#include "nusky/data_dir.hpp"

#include "nusky/error.hpp"

#include <cstdlib>
#include <filesystem>

namespace nusky {

namespace fs = std::filesystem;

std::vector<std::string> gp2023_search_paths()
{
    std::vector<std::string> out;
    if (const char* env = std::getenv("NUSKY_DATA_DIR"); env && *env) {
        out.push_back((fs::path(env) / "gp2023").string());
        out.push_back(env);
    }
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) out.push_back((exe.parent_path().parent_path() / "share" / "nusky" / "data" / "gp2023").string());
#ifdef NUSKY_SOURCE_DIR
    out.push_back((fs::path(NUSKY_SOURCE_DIR) / "data" / "gp2023").string());
#endif
    return out;
}

std::string find_gp2023_dir(const std::string& configured)
{
    std::error_code ec;
    if (!configured.empty()) {
        if (!fs::is_directory(configured, ec)) {
            throw file_error(configured, 0, "not a directory (expected the gp2023 release tables)");
        }
        if (!fs::is_regular_file(fs::path(configured) / "effa_values.csv", ec)) {
            throw file_error(configured, 0, "not a gp2023 release directory (no effa_values.csv)");
        }
        return configured;
    }
    std::string looked;
    for (const auto& dir : gp2023_search_paths()) {
        if (fs::is_regular_file(fs::path(dir) / "effa_values.csv", ec)) return fs::path(dir).lexically_normal().string();
        looked += (looked.empty() ? "" : ", ") + dir;
    }
    throw Error("cannot find the gp2023 release tables (looked in: " + looked +
                "); set NUSKY_DATA_DIR or the module's directory parameter (e.g. [reader] data_dir)");
}

}  // namespace nusky

#include "nusky/plugins.hpp"

#include "nusky/error.hpp"
#include "nusky/log.hpp"
#include "nusky/plugin.hpp"
#include "nusky/registry.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace fs = std::filesystem;

namespace nusky {

namespace {

std::vector<LoadedPlugin>& loaded()
{
    static std::vector<LoadedPlugin> plugins;
    return plugins;
}

std::string join(const std::vector<std::string>& items, const char* separator = ", ")
{
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
    return out;
}

bool ends_with(const std::string& s, const std::string& suffix)
{
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// dlerror() text on one line.
std::string one_line(std::string text)
{
    std::replace(text.begin(), text.end(), '\n', ' ');
    return text;
}

// Where a name may be: one path for a path, the search directories for a bare name.
std::vector<std::string> candidates(const std::string& name)
{
    if (name.find('/') != std::string::npos) return {name};
    std::vector<std::string> out;
    for (const auto& dir : plugin_search_dirs()) {
        out.push_back((fs::path(dir) / name).string());
        if (!ends_with(name, ".so") && name.find(".so.") == std::string::npos) {
            out.push_back((fs::path(dir) / ("lib" + name + ".so")).string());
        }
    }
    return out;
}

void load_one(const std::string& name)
{
    std::string file = find_plugin(name);
    std::error_code ec;
    std::string path = fs::weakly_canonical(fs::absolute(file), ec).string();
    if (ec) path = file;
    for (const auto& p : loaded()) {
        if (p.path == path) return;  // loaded already
    }
    auto version = plugin_file_version(path);
    if (version.empty()) {
        throw Error("plugin " + path + " is not a nusky plugin: it has no NUSKY_PLUGIN() version stamp "
                    "(build it with nusky_add_module() of find_package(nusky))");
    }
    if (version != NUSKY_VERSION) {
        throw Error("plugin " + path + " was built against nusky " + version + " but this is nusky " +
                    NUSKY_VERSION + "; rebuild it against nusky " + NUSKY_VERSION);
    }
    auto& registry = Registry::instance();
    registry.begin_staging();
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        registry.discard_staged();
        const char* why = ::dlerror();
        std::vector<std::string> searched;
        for (const auto& c : candidates(name)) {
            searched.push_back(fs::absolute(c, ec).lexically_normal().string());
            if (c == file) break;
        }
        throw Error("plugin " + path + " cannot be loaded: " + one_line(why ? why : "unknown dlopen error") +
                    " (searched: " + join(searched) + ")");
    }
    // The stamp in the file said so; the exported function must agree (a stamp copied by hand
    // into a library built against other headers would not).
    using VersionFn = const char* (*)();
    auto fn = reinterpret_cast<VersionFn>(::dlsym(handle, "nusky_plugin_version"));
    std::string loaded_version = fn ? fn() : "";
    if (loaded_version != NUSKY_VERSION) {
        registry.discard_staged();
        ::dlclose(handle);
        throw Error("plugin " + path + " was built against nusky " +
                    (loaded_version.empty() ? std::string("(no nusky_plugin_version())") : loaded_version) +
                    " but this is nusky " + NUSKY_VERSION + "; rebuild it against nusky " + NUSKY_VERSION);
    }
    LoadedPlugin plugin{path, version, {}};
    try {
        plugin.modules = registry.commit_staged(path);
    } catch (const Error&) {
        ::dlclose(handle);  // nothing of it was published
        throw;
    }
    if (plugin.modules.empty()) log::warn("plugin " + path + " registers no modules");
    log::info("plugin " + path + ": " + (plugin.modules.empty() ? "no modules" : join(plugin.modules)));
    loaded().push_back(std::move(plugin));
}

}  // namespace

std::vector<std::string> plugin_search_dirs()
{
    std::vector<std::string> dirs;
    if (const char* env = std::getenv("NUSKY_PLUGIN_PATH"); env && *env) {
        std::string text = env;
        std::size_t start = 0;
        while (start <= text.size()) {
            auto end = text.find(':', start);
            if (end == std::string::npos) end = text.size();
            if (end > start) dirs.push_back(text.substr(start, end - start));
            start = end + 1;
        }
    }
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
#ifndef NUSKY_PLUGIN_LIBDIR
#define NUSKY_PLUGIN_LIBDIR "lib/nusky"
#endif
    if (!ec) dirs.push_back((exe.parent_path().parent_path() / NUSKY_PLUGIN_LIBDIR).lexically_normal().string());
    return dirs;
}

std::string find_plugin(const std::string& name)
{
    if (name.empty()) throw Error("empty plugin name");
    auto paths = candidates(name);
    std::error_code ec;
    for (const auto& p : paths) {
        if (fs::is_regular_file(p, ec)) return p;
    }
    std::vector<std::string> shown;
    for (const auto& p : paths) shown.push_back(fs::absolute(p, ec).lexically_normal().string());
    std::string hint = name.find('/') == std::string::npos
                           ? " (set NUSKY_PLUGIN_PATH or give a path)"
                           : "";
    throw Error("plugin '" + name + "' not found (searched: " + (shown.empty() ? "nothing" : join(shown)) + ")" +
                hint);
}

std::string plugin_file_version(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) return "";
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    static const std::string prefix = NUSKY_PLUGIN_STAMP_PREFIX;
    auto at = bytes.find(prefix);
    if (at == std::string::npos) return "";
    auto start = at + prefix.size();
    auto end = bytes.find('\0', start);
    if (end == std::string::npos || end - start > 64) return "";
    return bytes.substr(start, end - start);
}

void load_plugins(const std::vector<std::string>& names, const std::string& where)
{
    for (const auto& name : names) {
        try {
            load_one(name);
        } catch (const Error& e) {
            throw Error(where.empty() ? e.what() : where + ": " + e.what());
        }
    }
}

const std::vector<LoadedPlugin>& loaded_plugins()
{
    return loaded();
}

}  // namespace nusky

#pragma once
// Loading plugins: shared libraries with extra modules, opened with dlopen on every rank before
// the chain's modules are created. Named by `[job] plugins = a.so,b,...`, `--plugin` on the
// command line, or both.
//
// A name containing '/' is a path (relative to the working directory). A bare name N is looked
// up in each directory D of $NUSKY_PLUGIN_PATH (colon separated) and then of <prefix>/lib/nusky
// next to the nusky executable, as D/N and D/libN.so.
//
// Each file is checked before it is opened: it must carry the stamp of NUSKY_PLUGIN()
// (nusky/plugin.hpp) with exactly this nusky's version, else it is refused naming both
// versions. It is then opened with dlopen(RTLD_NOW | RTLD_LOCAL) while the registry stages
// registrations; they are published only if the plugin is accepted and none of its modules
// clashes with a registered one (else they are dropped and the library closed). Loading the
// same file again does nothing.
#include <string>
#include <vector>

namespace nusky {

struct LoadedPlugin {
    std::string path;                  // canonical path of the file
    std::string version;               // nusky version it was built against
    std::vector<std::string> modules;  // "stage name" of each module it registered
};

// The directories searched for bare names, in order.
std::vector<std::string> plugin_search_dirs();

// The file a plugin name refers to; throws Error "plugin 'N' not found (searched: ...)".
std::string find_plugin(const std::string& name);

// Loads each plugin (see above). Errors are one line, prefixed with `where` (for instance
// "job.ini: [job] plugins") when it is not empty. Throws Error.
void load_plugins(const std::vector<std::string>& names, const std::string& where = "");

// The nusky version recorded in a plugin file by NUSKY_PLUGIN(); empty when there is none.
std::string plugin_file_version(const std::string& path);

const std::vector<LoadedPlugin>& loaded_plugins();

}  // namespace nusky

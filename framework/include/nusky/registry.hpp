#pragma once
// The module registry: a module makes itself available by name with one line,
//     NUSKY_REGISTER_MODULE(reader, Hdf5EventsReader, "hdf5_events", "HDF5 event tables");
#include "nusky/module.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace nusky {

enum class Stage { job, reader, selection, reco, likelihood, aggregation };
const char* stage_name(Stage stage);
Stage stage_from_name(const std::string& name);  // throws on an unknown stage

struct ModuleInfo {
    Stage stage;
    std::string name;
    std::string description;
    std::function<std::unique_ptr<Module>()> create;
    std::string origin = {};  // the plugin file it came from; empty for built-in modules
};

class Registry {
public:
    static Registry& instance();
    bool add(ModuleInfo info);
    // Throws Error listing the modules of that stage when `name` is unknown.
    const ModuleInfo& find(Stage stage, const std::string& name) const;
    const ModuleInfo* find_any_stage(const std::string& name) const;
    std::vector<const ModuleInfo*> list(Stage stage) const;
    std::vector<const ModuleInfo*> all() const;

    // Plugin loading (nusky/plugins.hpp). While staging, add() puts registrations aside
    // instead of publishing them, and never throws (it runs in a plugin's static initialisers).
    // commit_staged() publishes them all, tagged with `origin`, or none: it throws Error naming
    // the plugin and the module if one clashes with a registered module. discard_staged()
    // drops them (a refused plugin; call it before dlclose, the entries hold its code).
    void begin_staging();
    std::vector<std::string> commit_staged(const std::string& origin);
    void discard_staged();

private:
    std::vector<ModuleInfo> modules_;
    std::vector<ModuleInfo> staged_;
    bool staging_ = false;
};

// Creates a module by name and checks it implements the stage interface.
template <class Interface>
std::unique_ptr<Interface> create_module(Stage stage, const std::string& name)
{
    auto module = Registry::instance().find(stage, name).create();
    auto* typed = dynamic_cast<Interface*>(module.get());
    if (!typed) throw Error("module '" + name + "' does not implement the " + stage_name(stage) + " interface");
    module.release();
    typed->set_module_name(name);
    return std::unique_ptr<Interface>(typed);
}

}  // namespace nusky

#define NUSKY_CONCAT_INNER(a, b) a##b
#define NUSKY_CONCAT(a, b) NUSKY_CONCAT_INNER(a, b)
#define NUSKY_REGISTER_MODULE(STAGE, TYPE, NAME, DESCRIPTION)                                   \
    namespace {                                                                                 \
    const bool NUSKY_CONCAT(nusky_registered_, __LINE__) = ::nusky::Registry::instance().add( \
        {::nusky::Stage::STAGE, NAME, DESCRIPTION,                                              \
         [] { return std::unique_ptr<::nusky::Module>(new TYPE()); }});                         \
    }

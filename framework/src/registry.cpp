#include "nusky/registry.hpp"

#include <algorithm>

namespace nusky {

const char* stage_name(Stage stage)
{
    switch (stage) {
    case Stage::job: return "job";
    case Stage::reader: return "reader";
    case Stage::selection: return "selection";
    case Stage::reco: return "reco";
    case Stage::likelihood: return "likelihood";
    case Stage::aggregation: return "aggregation";
    }
    return "?";
}

Stage stage_from_name(const std::string& name)
{
    for (Stage s : {Stage::job, Stage::reader, Stage::selection, Stage::reco, Stage::likelihood,
                    Stage::aggregation}) {
        if (name == stage_name(s)) return s;
    }
    throw Error("unknown stage '" + name + "' (reader, selection, reco, likelihood, aggregation)");
}

Registry& Registry::instance()
{
    static Registry registry;
    return registry;
}

bool Registry::add(ModuleInfo info)
{
    for (const auto& m : modules_) {
        if (m.stage == info.stage && m.name == info.name) {
            throw Error(std::string("module '") + info.name + "' is registered twice for stage " +
                        stage_name(info.stage));
        }
    }
    modules_.push_back(std::move(info));
    return true;
}

const ModuleInfo& Registry::find(Stage stage, const std::string& name) const
{
    std::string known;
    for (const auto& m : modules_) {
        if (m.stage != stage) continue;
        if (m.name == name) return m;
        known += (known.empty() ? "" : ", ") + m.name;
    }
    throw Error("unknown " + std::string(stage_name(stage)) + " module '" + name +
                "' (available: " + (known.empty() ? "none" : known) + ")");
}

const ModuleInfo* Registry::find_any_stage(const std::string& name) const
{
    for (const auto& m : modules_) {
        if (m.name == name) return &m;
    }
    return nullptr;
}

std::vector<const ModuleInfo*> Registry::list(Stage stage) const
{
    std::vector<const ModuleInfo*> out;
    for (const auto& m : modules_) {
        if (m.stage == stage) out.push_back(&m);
    }
    std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->name < b->name; });
    return out;
}

std::vector<const ModuleInfo*> Registry::all() const
{
    std::vector<const ModuleInfo*> out;
    for (Stage s : {Stage::job, Stage::reader, Stage::selection, Stage::reco, Stage::likelihood,
                    Stage::aggregation}) {
        auto part = list(s);
        out.insert(out.end(), part.begin(), part.end());
    }
    return out;
}

}  // namespace nusky

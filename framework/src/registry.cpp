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
    if (staging_) {
        staged_.push_back(std::move(info));
        return true;
    }
    for (const auto& m : modules_) {
        if (m.stage == info.stage && m.name == info.name) {
            throw Error(std::string("module '") + info.name + "' is registered twice for stage " +
                        stage_name(info.stage));
        }
    }
    modules_.push_back(std::move(info));
    return true;
}

void Registry::begin_staging()
{
    staged_.clear();
    staging_ = true;
}

std::vector<std::string> Registry::commit_staged(const std::string& origin)
{
    staging_ = false;
    std::vector<ModuleInfo> staged = std::move(staged_);
    staged_.clear();
    for (std::size_t i = 0; i < staged.size(); ++i) {
        const auto& info = staged[i];
        auto same = [&](const ModuleInfo& m) { return m.stage == info.stage && m.name == info.name; };
        const ModuleInfo* clash = nullptr;
        for (const auto& m : modules_) {
            if (same(m)) clash = &m;
        }
        bool twice = std::any_of(staged.begin(), staged.begin() + static_cast<std::ptrdiff_t>(i), same);
        if (clash || twice) {
            std::string previous = twice ? "the same plugin"
                                 : clash->origin.empty() ? "nusky itself" : clash->origin;
            throw Error(origin + ": " + stage_name(info.stage) + " module '" + info.name +
                        "' is already registered by " + previous);
        }
    }
    std::vector<std::string> names;
    for (auto& info : staged) {
        info.origin = origin;
        names.push_back(std::string(stage_name(info.stage)) + " " + info.name);
        modules_.push_back(std::move(info));
    }
    return names;
}

void Registry::discard_staged()
{
    staging_ = false;
    staged_.clear();
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

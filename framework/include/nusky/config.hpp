#pragma once
// The job configuration: an INI file with sections [job] [reader] [selection] [reco]
// [likelihood] [aggregation], parsed with Boost.Program_options, plus `--set section.key=value`
// overrides. Every key must be read by some module; the rest are reported as possible typos.
// A job of several samples ([job] samples = a, b) gives each its own [reader.a] [selection.a]
// [reco.a] sections (`--set reader.a.path=...`); NAME is letters, digits, '_' and '-'.
#include <map>
#include <set>
#include <string>
#include <vector>

namespace nusky {

struct ConfigEntry {
    std::string value;
    std::string origin;  // the file name, or "--set"
};

class Config {
public:
    // The stage sections, in chain order.
    static const std::vector<std::string>& sections();
    // The stages that have per-sample sections (STAGE.NAME): reader, selection, reco.
    static const std::vector<std::string>& sample_stages();
    // A sample name: letters, digits, '_' and '-', not empty.
    static bool is_sample_name(const std::string& name);

    // Reads the INI file and applies the overrides ("section.key=value").
    static Config load(const std::string& path, const std::vector<std::string>& overrides = {});
    static Config from_string(const std::string& text, const std::string& name,
                              const std::vector<std::string>& overrides = {});

    const std::string& path() const { return path_; }
    // The directory relative paths of KEY are taken against: the config file's directory for a
    // value from the file ("" when it lies in the working directory), "" for a --set value.
    std::string base_dir(const std::string& section, const std::string& key) const;
    bool has_section(const std::string& section) const;
    // Sections that have keys, in chain order, each stage's per-sample sections after it.
    std::vector<std::string> present_sections() const;
    // The NAMEs of the [stage.NAME] sections present, sorted.
    std::vector<std::string> sample_sections(const std::string& stage) const;
    bool has(const std::string& section, const std::string& key) const;
    // Returns the value and marks the key as used.
    const ConfigEntry* take(const std::string& section, const std::string& key) const;
    // Sets a value (as if given with --set).
    void set(const std::string& section, const std::string& key, const std::string& value);
    // "FILE: [section] key" for messages.
    std::string where(const std::string& section, const std::string& key) const;
    // Throws naming the first key that no module read.
    void check_all_used() const;
    // The final configuration as INI text (stored in results files, compared on resume).
    std::string text() const;

private:
    void apply_override(const std::string& assignment);
    std::string path_;
    bool from_file_ = false;  // loaded from a file (not from_string): its paths follow it
    std::map<std::string, std::map<std::string, ConfigEntry>> values_;
    mutable std::set<std::pair<std::string, std::string>> used_;
};

}  // namespace nusky

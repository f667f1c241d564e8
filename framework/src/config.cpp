#include "nusky/config.hpp"

#include "nusky/error.hpp"
#include "nusky/input_file.hpp"
#include "nusky/text_table.hpp"

#include <boost/program_options.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace po = boost::program_options;

namespace nusky {

const std::vector<std::string>& Config::sections()
{
    static const std::vector<std::string> names{"job",        "reader",     "selection",
                                                "reco",       "likelihood", "aggregation"};
    return names;
}

const std::vector<std::string>& Config::sample_stages()
{
    static const std::vector<std::string> names{"reader", "selection", "reco"};
    return names;
}

bool Config::is_sample_name(const std::string& name)
{
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    });
}

namespace {

std::string trim(const std::string& s)
{
    auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return "";
    auto e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}

// A line as an error message shows it: at most 40 characters, non-printable bytes as '?'.
std::string shown(const std::string& line)
{
    std::string out;
    for (char c : line.substr(0, 40)) out += (c >= 32 && c < 127) ? c : '?';
    return line.size() > 40 ? out + "..." : out;
}

bool is_name(const std::string& s)
{
    if (s.empty()) return false;
    for (char c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) return false;
    return true;
}

// Every line is blank, a comment (# or ;), a "[section]" header or "key = value"; the first
// that is not is reported with its number and what was expected. (Boost's parser would drop a
// value without a key and mangle "[[reader]]"; its own errors name no line.)
void check_ini_lines(const std::string& text, const std::string& name)
{
    std::istringstream in(text);
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
        const std::string t = trim(line);
        if (t.empty() || t[0] == '#' || t[0] == ';') continue;
        const std::string where = name + ": line " + std::to_string(number) + ": ";
        if (t[0] == '[') {
            // The name itself is checked against the known sections later.
            const std::string inner = t.size() >= 2 ? trim(t.substr(1, t.size() - 2)) : "";
            if (t.back() != ']' || inner.empty() || inner.find_first_of("[]") != std::string::npos)
                throw Error(where + "invalid section header '" + shown(t) +
                            "' (expected [section], e.g. [reader] or [reader.NAME])");
            continue;
        }
        const auto equals = t.find('=');
        if (equals == std::string::npos)
            throw Error(where + "'" + shown(t) + "' is not a setting (expected [section] or key = value)");
        const std::string key = trim(t.substr(0, equals));
        if (key.empty()) throw Error(where + "a value without a key (expected key = value)");
        if (!is_name(key))
            throw Error(where + "invalid key '" + shown(key) + "' (expected key = value; keys are letters, digits, _ . -)");
    }
}

bool known_section(const std::string& section)
{
    const auto& names = Config::sections();
    if (std::find(names.begin(), names.end(), section) != names.end()) return true;
    const auto dot = section.find('.');
    if (dot == std::string::npos) return false;
    const auto& staged = Config::sample_stages();
    return std::find(staged.begin(), staged.end(), section.substr(0, dot)) != staged.end() &&
           Config::is_sample_name(section.substr(dot + 1));
}

const char* kSectionList =
    "sections: job, reader, selection, reco, likelihood, aggregation; per sample: reader.NAME, "
    "selection.NAME, reco.NAME";

// "job.task" -> ("job", "task"); "reader.a.path" -> ("reader.a", "path") (keys have no dots, so
// a second dot always ends a section name; known_section decides whether it is one). Returns
// false when there is no section part.
bool split_key(const std::string& full_key, std::string& section, std::string& key)
{
    const auto dot = full_key.find('.');
    if (dot == std::string::npos) return false;
    const auto second = full_key.find('.', dot + 1);
    const auto end = second == std::string::npos ? dot : second;
    section = full_key.substr(0, end);
    key = full_key.substr(end + 1);
    return true;
}

}  // namespace

Config Config::from_string(const std::string& text, const std::string& name,
                           const std::vector<std::string>& overrides)
{
    Config config;
    config.path_ = name;
    // A UTF-8 byte-order mark (some editors write one) is not part of the first line.
    const std::string body(skip_utf8_bom(text.data(), text.data() + text.size()), text.data() + text.size());
    check_ini_lines(body, name);
    std::istringstream in(body);
    po::options_description none;
    po::parsed_options parsed(&none);
    try {
        parsed = po::parse_config_file(in, none, /*allow_unregistered=*/true);
    } catch (const po::error&) {
        // Not e.what(): Boost substitutes "%name%" placeholders in its messages and loops
        // forever when the offending line itself contains one (found by fuzz/fuzz_config).
        // check_ini_lines() has already caught every malformed line Boost is known to reject.
        throw Error(name + ": invalid INI syntax");
    }
    for (const auto& option : parsed.options) {
        const std::string& full_key = option.string_key;
        std::string section, key;
        if (!split_key(full_key, section, key)) {
            throw Error(name + ": key '" + full_key + "' is outside any section");
        }
        if (!known_section(section)) {
            throw Error(name + ": unknown section [" + section + "] (" + kSectionList + ")");
        }
        if (config.has(section, key)) {
            throw Error(name + ": [" + section + "] " + key + " is given twice");
        }
        std::string value = option.value.empty() ? "" : trim(option.value.front());
        config.values_[section][key] = ConfigEntry{value, name};
    }
    for (const auto& assignment : overrides) config.apply_override(assignment);
    return config;
}

Config Config::load(const std::string& path, const std::vector<std::string>& overrides)
{
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw Error(path + ": is a directory, expected a config file");
    if (std::filesystem::exists(path, ec)) require_input_file(path, "a config file");
    std::ifstream in(path);
    if (!in) throw Error(path + ": cannot open the config file");
    std::stringstream buffer;
    buffer << in.rdbuf();
    Config config = from_string(buffer.str(), path, overrides);
    config.from_file_ = true;
    return config;
}

void Config::apply_override(const std::string& assignment)
{
    auto eq = assignment.find('=');
    std::string section, key;
    if (eq == std::string::npos || !split_key(assignment.substr(0, eq), section, key)) {
        throw Error("--set " + assignment + ": expected section.key=value");
    }
    section = trim(section);
    key = trim(key);
    if (!known_section(section)) throw Error("--set " + assignment + ": unknown section [" + section + "]");
    values_[section][key] = ConfigEntry{trim(assignment.substr(eq + 1)), "--set"};
}

bool Config::has_section(const std::string& section) const { return values_.count(section) > 0; }

bool Config::has(const std::string& section, const std::string& key) const
{
    auto s = values_.find(section);
    return s != values_.end() && s->second.count(key) > 0;
}

const ConfigEntry* Config::take(const std::string& section, const std::string& key) const
{
    auto s = values_.find(section);
    if (s == values_.end()) return nullptr;
    auto k = s->second.find(key);
    if (k == s->second.end()) return nullptr;
    used_.insert({section, key});
    return &k->second;
}

void Config::set(const std::string& section, const std::string& key, const std::string& value)
{
    values_[section][key] = ConfigEntry{value, "--set"};
}

std::string Config::base_dir(const std::string& section, const std::string& key) const
{
    auto s = values_.find(section);
    if (s == values_.end()) return "";
    auto k = s->second.find(key);
    if (k == s->second.end() || k->second.origin == "--set" || !from_file_) return "";
    return std::filesystem::path(path_).parent_path().string();
}

std::string Config::where(const std::string& section, const std::string& key) const
{
    auto s = values_.find(section);
    if (s != values_.end()) {
        auto k = s->second.find(key);
        if (k != s->second.end() && k->second.origin == "--set") {
            return "--set " + section + "." + key;
        }
    }
    return path_ + ": [" + section + "] " + key;
}

void Config::check_all_used() const
{
    for (const auto& [section, keys] : values_) {
        for (const auto& [key, entry] : keys) {
            if (!used_.count({section, key})) {
                throw Error(where(section, key) + ": unused parameter (no module of this chain reads it; possible typo?)");
            }
        }
    }
}

std::vector<std::string> Config::present_sections() const
{
    // Each stage's own section, then its per-sample sections ([reader], [reader.a], [reader.b]).
    std::vector<std::string> out;
    for (const auto& section : sections()) {
        if (values_.count(section)) out.push_back(section);
        for (auto it = values_.lower_bound(section + "."); it != values_.end(); ++it) {
            if (it->first.rfind(section + ".", 0) != 0) break;
            out.push_back(it->first);
        }
    }
    return out;
}

std::vector<std::string> Config::sample_sections(const std::string& stage) const
{
    std::vector<std::string> out;
    for (auto it = values_.lower_bound(stage + "."); it != values_.end(); ++it) {
        if (it->first.rfind(stage + ".", 0) != 0) break;
        out.push_back(it->first.substr(stage.size() + 1));
    }
    return out;
}

std::string Config::text() const
{
    std::ostringstream out;
    for (const auto& section : present_sections()) {
        out << "[" << section << "]\n";
        for (const auto& [key, entry] : values_.at(section)) out << key << " = " << entry.value << "\n";
        out << "\n";
    }
    return out.str();
}

}  // namespace nusky

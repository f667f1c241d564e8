#include "nusky/module.hpp"

#include "nusky/config.hpp"
#include "nusky/text_table.hpp"

#include "nusky/input_file.hpp"

#include <charconv>
#include <filesystem>
#include <sstream>

namespace nusky {

ParameterBase::ParameterBase(Module* owner, std::string name, std::string description)
    : name_(std::move(name)), description_(std::move(description))
{
    owner->parameters_.push_back(this);
}

Error ParameterBase::error(const std::string& message) const
{
    return Error((where_.empty() ? "parameter " + name_ + " (default)" : where_) + ": " + message);
}

void Module::configure(const Config& config, const std::string& section)
{
    for (auto* parameter : parameters_) {
        if (const auto* entry = config.take(section, parameter->name())) {
            parameter->parse(entry->value, config.where(section, parameter->name()));
            parameter->resolve_against(config.base_dir(section, parameter->name()));
        }
    }
    validate();
}

namespace {

namespace fs = std::filesystem;

std::string resolved(const std::string& path, const std::string& base_dir, PathKind kind)
{
    if (path.empty() || base_dir.empty() || fs::path(path).is_absolute()) return path;
    if (kind == PathKind::library && path.find('/') == std::string::npos) return path;  // searched for
    return (fs::path(base_dir) / path).lexically_normal().string();
}

std::vector<std::string> as_list(const std::string& v) { return {v}; }
const std::vector<std::string>& as_list(const std::vector<std::string>& v) { return v; }

void check_input(const std::string& path, PathKind kind, const std::string& expected)
{
    if (path.empty()) return;  // an optional input left out
    std::error_code ec;
    switch (kind) {
    case PathKind::input_file:
        require_input_file(path, expected);
        break;
    case PathKind::input_directory:
        if (fs::is_directory(path, ec)) break;
        if (!fs::exists(path, ec)) throw Error(path + ": no such directory (expected " + expected + ")");
        throw Error(path + ": not a directory (expected " + expected + ")");
    case PathKind::input_file_or_directory:
        if (!fs::is_directory(path, ec)) require_input_file(path, expected);
        break;
    case PathKind::output:
    case PathKind::library:
        break;
    }
}

}  // namespace

template <class T>
void PathParameter<T>::resolve_against(const std::string& base_dir)
{
    if (base_dir.empty()) return;
    T value = (*this)();
    if constexpr (std::is_same_v<T, std::string>) {
        value = resolved(value, base_dir, kind_);
    } else {
        for (auto& v : value) v = resolved(v, base_dir, kind_);
    }
    if (value == (*this)()) return;
    this->set(std::move(value));
    this->where_ += " (relative to " + base_dir + "/)";
}

template <class T>
void PathParameter<T>::check_inputs() const
{
    for (const auto& path : as_list((*this)())) {
        try {
            check_input(path, kind_, expected_);
        } catch (const Error& e) {
            throw this->error(e.what());
        }
    }
}

template class PathParameter<std::string>;
template class PathParameter<std::vector<std::string>>;

namespace param_parse {

namespace {

std::vector<std::string> split_list(const std::string& text)
{
    std::vector<std::string> items;
    std::string item;
    std::istringstream in(text);
    while (std::getline(in, item, ',')) {
        auto b = item.find_first_not_of(" \t");
        auto e = item.find_last_not_of(" \t");
        if (b != std::string::npos) items.push_back(item.substr(b, e - b + 1));
    }
    return items;
}

}  // namespace

void parse(const std::string& text, const std::string& where, double& out)
{
    if (!parse_double(text.data(), text.data() + text.size(), out)) {
        throw Error(where + " = '" + text + "': expected a finite number");
    }
}

void parse(const std::string& text, const std::string& where, std::int64_t& out)
{
    const char* begin = text.data();
    const char* end = begin + text.size();
    if (begin != end && *begin == '+') ++begin;
    auto [ptr, ec] = std::from_chars(begin, end, out);
    if (text.empty() || ec != std::errc() || ptr != end) {
        throw Error(where + " = '" + text + "': expected an integer");
    }
}

void parse(const std::string& text, const std::string& where, bool& out)
{
    if (text == "true" || text == "yes" || text == "on" || text == "1") {
        out = true;
    } else if (text == "false" || text == "no" || text == "off" || text == "0") {
        out = false;
    } else {
        throw Error(where + " = '" + text + "': expected true or false");
    }
}

void parse(const std::string& text, const std::string& where, std::string& out) { out = text; }

void parse(const std::string& text, const std::string& where, std::vector<double>& out)
{
    out.clear();
    for (const auto& item : split_list(text)) {
        double v;
        parse(item, where, v);
        out.push_back(v);
    }
}

void parse(const std::string& text, const std::string& where, std::vector<std::string>& out)
{
    out = split_list(text);
}

std::string format(double v)
{
    std::ostringstream s;
    s << v;
    return s.str();
}
std::string format(std::int64_t v) { return std::to_string(v); }
std::string format(bool v) { return v ? "true" : "false"; }
std::string format(const std::string& v) { return v; }
std::string format(const std::vector<double>& v)
{
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + format(v[i]);
    return s;
}
std::string format(const std::vector<std::string>& v)
{
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + v[i];
    return s;
}

template <> std::string type_name<double>() { return "number"; }
template <> std::string type_name<std::int64_t>() { return "integer"; }
template <> std::string type_name<bool>() { return "bool"; }
template <> std::string type_name<std::string>() { return "string"; }
template <> std::string type_name<std::vector<double>>() { return "list of numbers"; }
template <> std::string type_name<std::vector<std::string>>() { return "list of strings"; }

}  // namespace param_parse
}  // namespace nusky

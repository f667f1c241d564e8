#pragma once
// Modules and their typed parameters. A module declares its parameters as members,
//     Parameter<double> ra_deg{this, "ra_deg", 0.0, "source right ascension [deg]"};
// and the framework fills them from the module's config section, checking types.
#include "nusky/error.hpp"

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace nusky {

class Config;
class Module;

class ParameterBase {
public:
    ParameterBase(Module* owner, std::string name, std::string description);
    virtual ~ParameterBase() = default;
    const std::string& name() const { return name_; }
    const std::string& description() const { return description_; }
    virtual std::string type_name() const = 0;
    virtual std::string default_text() const = 0;
    // Parses the config text; throws Error naming `where` on a bad value.
    virtual void parse(const std::string& text, const std::string& where) = 0;
    bool was_set() const { return !where_.empty(); }
    // The value as strings when the parameter is a string or a list of strings (else empty):
    // what may name a file, for checks across modules such as "the output is not an input".
    virtual std::vector<std::string> string_values() const { return {}; }
    // An error about this parameter's value, naming where it was set.
    Error error(const std::string& message) const;
    // Path parameters (PathParameter) take a relative path against BASE_DIR, and check that
    // what they name as input can be read; the others do nothing.
    virtual void resolve_against(const std::string& base_dir) {}
    virtual void check_inputs() const {}

protected:
    std::string name_, description_, where_;
    friend class Module;
};

// Value parsing shared by all parameter types; each throws Error("<where>: ...").
namespace param_parse {
void parse(const std::string& text, const std::string& where, double& out);
void parse(const std::string& text, const std::string& where, std::int64_t& out);
void parse(const std::string& text, const std::string& where, bool& out);
void parse(const std::string& text, const std::string& where, std::string& out);
void parse(const std::string& text, const std::string& where, std::vector<double>& out);
void parse(const std::string& text, const std::string& where, std::vector<std::string>& out);
std::string format(double v);
std::string format(std::int64_t v);
std::string format(bool v);
std::string format(const std::string& v);
std::string format(const std::vector<double>& v);
std::string format(const std::vector<std::string>& v);
template <class T> std::string type_name();
}  // namespace param_parse

template <class T>
class Parameter : public ParameterBase {
public:
    Parameter(Module* owner, std::string name, T default_value, std::string description)
        : ParameterBase(owner, std::move(name), std::move(description)),
          default_(default_value), value_(std::move(default_value))
    {
    }
    const T& operator()() const { return value_; }
    std::string type_name() const override { return param_parse::type_name<T>(); }
    std::string default_text() const override { return param_parse::format(default_); }
    void parse(const std::string& text, const std::string& where) override
    {
        param_parse::parse(text, where, value_);
        where_ = where;
    }
    void set(T value) { value_ = std::move(value); }
    std::vector<std::string> string_values() const override
    {
        if constexpr (std::is_same_v<T, std::string>) return {value_};
        else if constexpr (std::is_same_v<T, std::vector<std::string>>) return value_;
        else return {};
    }

private:
    T default_;
    T value_;
};

// What a path parameter names, which says how it is checked before anything runs.
enum class PathKind {
    input_file,               // a readable regular file
    input_directory,          // a directory
    input_file_or_directory,  // either
    output,                   // written by the run (its directory is checked when the run starts)
    library,                  // a shared library: a bare name is searched for, not resolved
};

// A parameter that names files: T is std::string or std::vector<std::string>. A relative path
// set in a config file is taken relative to that file's directory, so that a job runs the same
// from any directory; one given with --set stays relative to the working directory. Inputs are
// checked by `nusky validate` and before a run reads anything, naming the key and the path.
template <class T>
class PathParameter : public Parameter<T> {
public:
    PathParameter(Module* owner, std::string name, T default_value, PathKind kind, std::string expected,
                  std::string description)
        : Parameter<T>(owner, std::move(name), std::move(default_value), std::move(description)),
          kind_(kind), expected_(std::move(expected))
    {
    }
    std::string type_name() const override
    {
        return std::is_same_v<T, std::string> ? "path" : "list of paths";
    }
    void resolve_against(const std::string& base_dir) override;
    void check_inputs() const override;

private:
    PathKind kind_;
    std::string expected_;  // e.g. "a HEALPix map", for messages
};

extern template class PathParameter<std::string>;
extern template class PathParameter<std::vector<std::string>>;

class Module {
public:
    Module() = default;
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;
    virtual ~Module() = default;

    const std::vector<ParameterBase*>& parameters() const { return parameters_; }
    // Fills the parameters from [section] (keys other than `type`); then calls validate().
    void configure(const Config& config, const std::string& section);
    // Cross-parameter and range checks; throw param.error("...").
    virtual void validate() {}

    const std::string& module_name() const { return module_name_; }
    void set_module_name(std::string name) { module_name_ = std::move(name); }

private:
    friend class ParameterBase;
    std::vector<ParameterBase*> parameters_;
    std::string module_name_;
};

}  // namespace nusky

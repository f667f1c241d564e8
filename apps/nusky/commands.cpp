#include "commands.hpp"

#include "nusky/chain.hpp"
#include "nusky/config.hpp"
#include "nusky/plugins.hpp"
#include "nusky/registry.hpp"
#include "nusky/stages.hpp"

#include <boost/program_options.hpp>

#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>

namespace po = boost::program_options;

namespace nusky {

namespace {

std::map<std::string, Command>& commands()
{
    static std::map<std::string, Command> table;
    return table;
}

struct ChainArguments {
    std::string config_path;
    std::vector<std::string> overrides;
    RunOptions options;
};

ChainArguments parse_chain_arguments(const std::vector<std::string>& args, const char* command)
{
    ChainArguments out;
    po::options_description named("options");
    named.add_options()("set", po::value<std::vector<std::string>>(&out.overrides)->composing(),
                        "section.key=value")("output", po::value<std::string>(&out.options.output_override),
                                             "results path")("resume", po::bool_switch(&out.options.resume),
                                                             "continue from PATH.tmp")(
        "config", po::value<std::string>(&out.config_path), "config file")(
        "plugin", po::value<std::vector<std::string>>(&out.options.plugins)->composing(), "plugin library");
    po::positional_options_description positional;
    positional.add("config", 1);
    try {
        po::variables_map vm;
        po::store(po::command_line_parser(args).options(named).positional(positional).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        throw UsageError(std::string(command) + ": " + e.what());
    }
    if (out.config_path.empty()) throw UsageError(std::string(command) + ": missing CONFIG");
    return out;
}

int run_command(const std::vector<std::string>& args, const Comm& comm)
{
    auto parsed = parse_chain_arguments(args, "run");
    auto config = Config::load(parsed.config_path, parsed.overrides);
    auto summary = run_chain(config, comm, parsed.options);
    if (comm.is_root()) std::fputs(format_summary(summary).c_str(), stdout);
    return 0;
}

int validate_command(const std::vector<std::string>& args, const Comm& comm)
{
    auto parsed = parse_chain_arguments(args, "validate");
    auto config = Config::load(parsed.config_path, parsed.overrides);
    validate_chain(config, comm, parsed.options);
    if (comm.is_root()) std::printf("%s: config OK\n", parsed.config_path.c_str());
    return 0;
}

// Takes `--plugin X` / `--plugin=X` out of args and loads them (every rank, collectively).
std::vector<std::string> take_plugins(const std::vector<std::string>& args, const Comm& comm, const char* command)
{
    std::vector<std::string> rest, plugins;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--plugin") {
            if (i + 1 == args.size()) throw UsageError(std::string(command) + ": --plugin needs a file or name");
            plugins.push_back(args[++i]);
        } else if (args[i].rfind("--plugin=", 0) == 0) {
            plugins.push_back(args[i].substr(9));
        } else {
            rest.push_back(args[i]);
        }
    }
    collective_step(comm, [&] { load_plugins(plugins, "--plugin"); });
    return rest;
}

int modules_command(const std::vector<std::string>& all_args, const Comm& comm)
{
    auto args = take_plugins(all_args, comm, "modules");
    if (!args.empty()) throw UsageError("modules: unexpected argument '" + args[0] + "'");
    if (!comm.is_root()) return 0;
    for (Stage stage : {Stage::reader, Stage::selection, Stage::reco, Stage::likelihood, Stage::aggregation}) {
        std::printf("%s:\n", stage_name(stage));
        for (const auto* info : Registry::instance().list(stage)) {
            std::string from = info->origin.empty() ? "" : "  [plugin " + info->origin + "]";
            std::printf("  %-16s %s%s\n", info->name.c_str(), info->description.c_str(), from.c_str());
        }
    }
    return 0;
}

std::string describe(const ModuleInfo& info, bool markdown)
{
    auto module = info.create();
    std::ostringstream out;
    if (markdown) {
        out << "### " << stage_name(info.stage) << " `" << info.name << "`\n\n" << info.description << "\n\n";
        if (module->parameters().empty()) {
            out << "No parameters.\n\n";
            return out.str();
        }
        // '|' inside a cell would end it: escape it.
        auto cell = [](const std::string& text) {
            std::string out;
            for (char c : text) out += c == '|' ? std::string("\\|") : std::string(1, c);
            return out;
        };
        out << "| key | type | default | description |\n|---|---|---|---|\n";
        for (const auto* p : module->parameters()) {
            auto def = p->default_text();
            out << "| `" << p->name() << "` | " << p->type_name() << " | "
                << (def.empty() ? std::string("(empty)") : "`" + cell(def) + "`") << " | " << cell(p->description())
                << " |\n";
        }
        out << "\n";
    } else {
        out << info.name << " (" << stage_name(info.stage) << "): " << info.description << "\n";
        for (const auto* p : module->parameters()) {
            if (p->type_name() == "path" || p->type_name() == "list of paths") {
                out << "  (a relative path is taken from the config file's directory; from the working "
                       "directory with --set)\n";
                break;
            }
        }
        for (const auto* p : module->parameters()) {
            out << "  " << p->name() << " [" << p->type_name() << ", default '" << p->default_text()
                << "']\n      " << p->description() << "\n";
        }
    }
    return out.str();
}

int describe_command(const std::vector<std::string>& all_args, const Comm& comm)
{
    auto args = take_plugins(all_args, comm, "describe");
    bool markdown = false, all = false;
    std::string name;
    for (const auto& a : args) {
        if (a == "--markdown") markdown = true;
        else if (a == "--all") all = true;
        else if (name.empty()) name = a;
        else throw UsageError("describe: unexpected argument '" + a + "'");
    }
    if (!all && name.empty()) throw UsageError("describe: give a MODULE name or --all");
    std::string text;
    if (all) {
        if (markdown) {
            text = "# Configuration reference\n\nGenerated by `nusky describe --all --markdown`; "
                   "each config section `[stage]` takes `type = <module>` and the keys below. "
                   "A relative path (type path) in a config file is taken relative to the config "
                   "file's directory; one given with `--set` relative to the working directory.\n\n";
        }
        for (const auto* info : Registry::instance().all()) text += describe(*info, markdown);
    } else {
        const auto* info = Registry::instance().find_any_stage(name);
        if (!info) throw Error("describe: unknown module '" + name + "' (see nusky modules)");
        text = describe(*info, markdown);
    }
    if (comm.is_root()) std::fputs(text.c_str(), stdout);
    return 0;
}

const bool builtin_commands = [] {
    register_command({"run", run_command});
    register_command({"validate", validate_command});
    register_command({"modules", modules_command});
    register_command({"describe", describe_command});
    return true;
}();

}  // namespace

bool register_command(Command command)
{
    commands()[command.name] = std::move(command);
    return true;
}

const Command& find_command(const std::string& name)
{
    auto it = commands().find(name);
    if (it == commands().end()) throw UsageError("unknown command '" + name + "'");
    return it->second;
}

}  // namespace nusky

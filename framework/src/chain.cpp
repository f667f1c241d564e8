#include "nusky/chain.hpp"

#include "nusky/log.hpp"
#include "nusky/plugins.hpp"
#include "nusky/registry.hpp"
#include "nusky/stages.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <sstream>

namespace nusky {

NUSKY_REGISTER_MODULE(job, JobSpec, "job", "the [job] section: task, output, seeds, trials")

void JobSpec::validate()
{
    static const std::vector<std::string> known{"fit", "trials", "scan", "inject", "sensitivity"};
    if (std::find(known.begin(), known.end(), task()) == known.end()) {
        throw task.error("unknown task '" + task() + "' (fit, trials, scan, inject, sensitivity)");
    }
    if (trials() < 0) throw trials.error("must be >= 0");
    if (first_trial() < 0) throw first_trial.error("must be >= 0");
    if (checkpoint_every() < 1) throw checkpoint_every.error("must be >= 1");
    auto n = nside();
    if (n < 1 || (n & (n - 1)) != 0) throw nside.error("must be a power of two");
    if (output().empty()) throw output.error("must not be empty");
}

void collective_step(const Comm& comm, const std::function<void()>& step)
{
    std::string message;
    try {
        step();
    } catch (const Error& e) {
        message = e.what();
    } catch (const std::bad_alloc&) {
        message = "out of memory";
    }
    int failing = message.empty() ? comm.size() : comm.rank();
    int first_failing = -comm.max(-failing);  // the lowest failing rank
    if (first_failing == comm.size()) return;
    if (comm.rank() == first_failing) log::error(message);
    throw StepFailed{};
}

namespace {

std::string module_type(const Config& config, const std::string& section, const std::string& fallback)
{
    if (const auto* entry = config.take(section, "type")) return entry->value;
    if (fallback.empty()) {
        throw Error(config.path() + ": missing section [" + section + "] with a 'type = <module>' key");
    }
    return fallback;
}

template <class Interface>
std::unique_ptr<Interface> build(Stage stage, const Config& config, const std::string& fallback)
{
    std::string section = stage_name(stage);
    std::string type = module_type(config, section, fallback);
    std::unique_ptr<Interface> module;
    try {
        module = create_module<Interface>(stage, type);
    } catch (const Error& e) {
        throw Error(config.where(section, "type") + ": " + e.what());
    }
    module->configure(config, section);
    return module;
}

void check_output_writable(const std::string& path)
{
    namespace fs = std::filesystem;
    fs::path p(path);
    fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
    if (!fs::is_directory(dir)) throw Error(path + ": output directory " + dir.string() + " does not exist");
    if (::access(dir.c_str(), W_OK) != 0) throw Error(path + ": output directory " + dir.string() + " is not writable");
    if (fs::is_directory(p)) throw Error(path + ": output path is a directory");
}

std::string utc_now()
{
    std::time_t t = std::time(nullptr);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return buffer;
}

}  // namespace

struct Chain {
    JobSpec job;
    std::unique_ptr<Reader> reader;
    std::unique_ptr<Selection> selection;
    std::unique_ptr<RecoAdapter> reco;
    std::unique_ptr<Likelihood> likelihood;
    std::unique_ptr<Aggregation> aggregation;
    std::string output_path;
};

namespace {

void build_chain(Chain& chain, Config& config, const Comm& comm, const RunOptions& options)
{
    collective_step(comm, [&] {
        if (!options.output_override.empty()) config.set("job", "output", options.output_override);
        chain.job.configure(config, "job");
        // Plugins add modules: load them (on every rank) before any module is created.
        load_plugins(options.plugins, "--plugin");
        load_plugins(chain.job.plugins(), config.where("job", "plugins"));
        chain.reader = build<Reader>(Stage::reader, config, "");
        chain.selection = build<Selection>(Stage::selection, config, "none");
        chain.reco = build<RecoAdapter>(Stage::reco, config, "passthrough");
        chain.likelihood = build<Likelihood>(Stage::likelihood, config, "");
        chain.aggregation = build<Aggregation>(Stage::aggregation, config, "hdf5_results");
        config.check_all_used();
        auto tasks = chain.likelihood->tasks();
        if (std::find(tasks.begin(), tasks.end(), chain.job.task()) == tasks.end()) {
            std::string list;
            for (const auto& t : tasks) list += (list.empty() ? "" : ", ") + t;
            throw Error(config.where("job", "task") + ": likelihood '" + chain.likelihood->module_name() +
                        "' cannot run task '" + chain.job.task() + "' (it runs: " + list + ")");
        }
        chain.output_path = chain.job.output();
        check_output_writable(chain.output_path);
    });
}

}  // namespace

std::string validate_chain(Config& config, const Comm& comm, const RunOptions& options)
{
    Chain chain;
    build_chain(chain, config, comm, options);
    return chain.output_path;
}

RunSummary run_chain(Config& config, const Comm& comm, const RunOptions& options)
{
    auto start = std::chrono::steady_clock::now();
    Chain chain;
    build_chain(chain, config, comm, options);
    auto& job = chain.job;
    auto& reader = chain.reader;
    auto& selection = chain.selection;
    auto& reco = chain.reco;
    auto& likelihood = chain.likelihood;
    auto& aggregation = chain.aggregation;
    std::string output_path = chain.output_path;
    Results results;

    RunContext context{comm, job, config, results, output_path, options.resume};
    collective_step(comm, [&] { likelihood->prepare(context); });

    log::info("reading events with '" + reader->module_name() + "'");
    EventSample sample;
    collective_step(comm, [&] { sample = reader->read(context); });
    std::int64_t read_count = comm.sum(static_cast<std::int64_t>(sample.data.size()));
    log::info("read " + std::to_string(read_count) + " events" +
              (sample.description.empty() ? "" : " (" + sample.description + ")"));

    CutCounts counts;
    collective_step(comm, [&] {
        counts = selection->apply(sample.data, context);
        if (sample.mc.size() > 0) selection->apply(sample.mc, context);
        reco->adapt(sample.data, context);
        if (sample.mc.size() > 0) reco->adapt(sample.mc, context);
        sample.data.compute_unit_vectors();
        if (sample.mc.size() > 0) sample.mc.compute_unit_vectors();
    });
    comm.sum(counts.passed.data(), static_cast<int>(counts.passed.size()));
    std::int64_t n_events = comm.sum(static_cast<std::int64_t>(sample.data.size()));
    results.set_replicated("/selection", "names", counts.names, comm);
    results.set_replicated("/selection", "passed", counts.passed, comm);
    results.group("/selection").attributes["n_read"] = read_count;
    results.group("/selection").attributes["n_selected"] = n_events;
    log::info("selected " + std::to_string(n_events) + " of " + std::to_string(read_count) + " events");
    if (n_events == 0) {
        if (comm.is_root()) log::error("no events left after the selection; nothing to fit");
        throw StepFailed{};
    }

    log::info("running task '" + job.task() + "' with likelihood '" + likelihood->module_name() + "'");
    try {
        likelihood->run(sample, context);
    } catch (const Error& e) {
        // Inside the likelihood other ranks may be waiting in a collective: end them all.
        log::error(e.what());
        comm.abort(1);
    }

    results.root_attributes["nusky_version"] = std::string(NUSKY_VERSION);
    results.root_attributes["config"] = config.text();
    results.root_attributes["n_ranks"] = static_cast<std::int64_t>(comm.size());
    results.root_attributes["created_utc"] = utc_now();
    results.root_attributes["task"] = job.task();
    collective_step(comm, [&] { aggregation->write(context); });
    // A finished trial campaign's checkpoint (PATH.ckpt) is redundant once PATH is in place.
    if (comm.is_root()) std::filesystem::remove(output_path + ".ckpt");

    RunSummary summary;
    summary.task = job.task();
    summary.output_path = output_path;
    summary.events = n_events;
    summary.ranks = comm.size();
    summary.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    summary.results = std::move(results);
    return summary;
}

std::string format_summary(const RunSummary& summary)
{
    // Two aligned columns: what, and the value with its unit.
    std::vector<std::pair<std::string, std::string>> rows;
    auto number = [](double v, int precision = 4) {
        if (std::isnan(v)) return std::string("n/a");
        std::ostringstream s;
        s.precision(precision);
        s << v;
        return s.str();
    };
    auto duration = [](double s) {
        char buffer[64];
        if (s < 120) std::snprintf(buffer, sizeof buffer, "%.2f s", s);
        else if (s < 7200) std::snprintf(buffer, sizeof buffer, "%.1f min (%.0f s)", s / 60, s);
        else std::snprintf(buffer, sizeof buffer, "%.2f h (%.0f s)", s / 3600, s);
        return std::string(buffer);
    };
    rows.emplace_back("task", summary.task);
    rows.emplace_back("events", std::to_string(summary.events) + " selected");
    rows.emplace_back("ranks", std::to_string(summary.ranks));
    rows.emplace_back("wall time", duration(summary.wall_s));
    auto fit = summary.results.groups.find("/fit");
    if (fit != summary.results.groups.end()) {
        const auto& a = fit->second.attributes;
        auto real = [&](const char* key, double& out) {
            auto it = a.find(key);
            if (it == a.end()) return false;
            if (const auto* d = std::get_if<double>(&it->second)) out = *d;
            else if (const auto* i = std::get_if<std::int64_t>(&it->second)) out = static_cast<double>(*i);
            else return false;
            return true;
        };
        double v = 0, n_trials = 0, upper = 0;
        bool is_upper = real("p_value_is_upper_limit", upper) && upper != 0;
        if (real("ts", v)) rows.emplace_back("TS", number(v, 6));
        if (real("ns", v)) rows.emplace_back("n_s", number(v, 6) + " signal events");
        if (real("gamma", v)) rows.emplace_back("gamma", number(v) + " (spectral index, E^-gamma)");
        if (real("p_value", v)) {
            std::string text = (is_upper ? "< " : "") + number(v);
            if (real("n_trials", n_trials)) text += " (" + number(n_trials, 12) + " trials)";
            rows.emplace_back("p-value", text);
        }
        if (real("sigma", v)) rows.emplace_back("significance", (is_upper ? "> " : "") + number(v, 3) + " sigma");
        for (const auto& [key, value] : a) {
            if (key.rfind("flux", 0) != 0) continue;
            const auto* d = std::get_if<double>(&value);
            if (!d) continue;
            std::string unit = key.find("e2dnde") != std::string::npos ? " TeV cm^-2 s^-1" : "";
            // flux_e2dnde_100tev: E^2 dN/dE at 100 TeV.
            auto at = key.find("e2dnde_");
            std::string pivot = at != std::string::npos ? key.substr(at + 7) : "";
            if (pivot.size() > 3 && pivot.compare(pivot.size() - 3, 3, "tev") == 0) {
                pivot = pivot.substr(0, pivot.size() - 3) + " TeV";
            }
            std::string what = pivot.empty() ? "" : " (E^2 dN/dE at " + pivot + ")";
            rows.emplace_back("flux", number(*d) + unit + what);
        }
    }
    // A scan: the hottest spot of each hemisphere (/scan/hotspots, replicated datasets).
    auto hot = summary.results.groups.find("/scan/hotspots");
    if (hot != summary.results.groups.end()) {
        auto column = [&](const char* name) -> const std::vector<double>* {
            auto d = hot->second.datasets.find(name);
            return d == hot->second.datasets.end() ? nullptr : std::get_if<std::vector<double>>(&d->second.local);
        };
        auto names = hot->second.datasets.find("hemisphere");
        const auto* ra = column("ra_deg");
        const auto* dec = column("dec_deg");
        const auto* ts = column("ts");
        const auto* p = column("mlog10p");
        const auto* labels = names == hot->second.datasets.end()
                                 ? nullptr
                                 : std::get_if<std::vector<std::string>>(&names->second.local);
        if (ra && dec && ts && p && labels) {
            for (std::size_t i = 0; i < std::min({ra->size(), dec->size(), ts->size(), p->size(), labels->size()}); ++i) {
                char buffer[160];
                std::snprintf(buffer, sizeof buffer, "RA %.2f deg, Dec %.2f deg: TS %.3f, -log10 p %.3f", (*ra)[i],
                              (*dec)[i], (*ts)[i], (*p)[i]);
                rows.emplace_back("hottest " + (*labels)[i], buffer);
            }
        }
    }
    for (const auto& [path, group] : summary.results.groups) {
        auto s = group.attributes.find("summary");
        if (s != group.attributes.end()) {
            if (const auto* text = std::get_if<std::string>(&s->second)) rows.emplace_back(path, *text);
        }
    }
    rows.emplace_back("output", summary.output_path);
    std::size_t width = 0;
    for (const auto& row : rows) width = std::max(width, row.first.size());
    std::ostringstream out;
    out << "nusky " << NUSKY_VERSION << " summary\n";
    for (const auto& [key, value] : rows) out << "  " << key << std::string(width + 2 - key.size(), ' ') << value << "\n";
    return out.str();
}

}  // namespace nusky

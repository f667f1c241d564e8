#include "nusky/chain.hpp"

#include "nusky/log.hpp"
#include "nusky/plugins.hpp"
#include "nusky/registry.hpp"
#include "nusky/stages.hpp"
#include "nusky/tasks.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
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
    // A job's rows are held in memory (24 bytes a trial) and its checkpoint on disk (32 bytes):
    // larger campaigns are split over jobs with first_trial (docs/user-guide.md).
    if (trials() < 0) throw trials.error("must be >= 0");
    if (trials() > kMaxTrialsPerJob)
        throw trials.error("must be in [0, " + std::to_string(kMaxTrialsPerJob) +
                           "]; split larger campaigns over jobs with first_trial");
    if (signal_trials() < 0 || signal_trials() > kMaxTrialsPerJob)
        throw signal_trials.error("must be in [0, " + std::to_string(kMaxTrialsPerJob) + "]");
    // Trial numbers key random streams below bit 62 (inject.hpp keeps bit 63 for injections).
    if (first_trial() < 0 || first_trial() > (std::int64_t{1} << 62) - kMaxTrialsPerJob)
        throw first_trial.error("must be in [0, 2^62 - " + std::to_string(kMaxTrialsPerJob) + "]");
    if (checkpoint_every() < 1) throw checkpoint_every.error("must be >= 1");
    auto n = nside();
    if (n < 1 || (n & (n - 1)) != 0) throw nside.error("must be a power of two");
    if (task() == "scan" && (n < 64 || n > 512)) throw nside.error("task scan needs nside 64, 128, 256 or 512");
    check_injection_job(*this);
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
std::unique_ptr<Interface> build(Stage stage, const Config& config, const std::string& fallback,
                                 std::string section = "")
{
    if (section.empty()) section = stage_name(stage);
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

// Refuses an output that is one of the job's inputs: any file a module's string parameter names
// (an existing file, or a file up to three levels below a named directory such as a release
// folder), compared by device and inode with the output, PATH.tmp and PATH.ckpt where they
// exist, so that links and other spellings of the same file are caught too.
void check_output_is_not_an_input(const std::vector<const Module*>& modules, const std::string& output)
{
    namespace fs = std::filesystem;
    struct Existing {
        std::string path;
        struct stat st;
    };
    std::vector<Existing> outputs;
    for (const std::string& p : {output, output + ".tmp", output + ".ckpt"}) {
        Existing e{p, {}};
        if (::stat(p.c_str(), &e.st) == 0) outputs.push_back(e);
    }
    if (outputs.empty()) return;  // a file that does not exist yet is no input
    auto check = [&](const fs::path& input, const ParameterBase& parameter) {
        struct stat st {};
        if (::stat(input.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
        for (const auto& o : outputs) {
            if (st.st_dev == o.st.st_dev && st.st_ino == o.st.st_ino) {
                throw parameter.error("names " + input.string() + ", which is the output file " + o.path +
                                      ": the results would overwrite an input; give another output path");
            }
        }
    };
    for (const Module* module : modules) {
        for (const ParameterBase* parameter : module->parameters()) {
            if (dynamic_cast<const JobSpec*>(module) && parameter->name() == "output") continue;
            for (const std::string& value : parameter->string_values()) {
                std::error_code ec;
                if (value.empty()) continue;
                if (fs::is_regular_file(value, ec)) {
                    check(value, *parameter);
                } else if (fs::is_directory(value, ec)) {
                    int seen = 0;
                    for (fs::recursive_directory_iterator it(value, fs::directory_options::skip_permission_denied, ec), end;
                         !ec && it != end && seen < 100000; it.increment(ec), ++seen) {
                        if (it.depth() >= 3) it.disable_recursion_pending();
                        check(it->path(), *parameter);
                    }
                }
            }
        }
    }
}

// PATH.lock, held (flock) by rank 0 while a job writes PATH, PATH.tmp and PATH.ckpt: a second
// job on the same output is refused up front instead of the two overwriting each other's
// checkpoint. Removed when the job ends; a killed job leaves it unlocked, and the next job
// takes it over.
class OutputLock {
public:
    OutputLock() = default;
    OutputLock(const OutputLock&) = delete;
    OutputLock& operator=(const OutputLock&) = delete;
    ~OutputLock()
    {
        if (fd_ < 0) return;
        ::unlink(path_.c_str());
        ::close(fd_);
    }
    // Rank 0 only. Throws Error when another job holds the lock.
    void take(const std::string& output)
    {
        path_ = output + ".lock";
        fd_ = ::open(path_.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
        if (fd_ < 0) throw Error(path_ + ": cannot create the output's lock file: " + std::strerror(errno));
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            const int error = errno;
            ::close(fd_);
            fd_ = -1;
            if (error == EWOULDBLOCK) {
                throw Error(output + ": the output is being written by another job (it holds " + path_ +
                            "); wait for it to end or choose another output path");
            }
            // A filesystem without flock (some NFS mounts): go on without the lock.
            log::warn(path_ + ": cannot lock (" + std::strerror(error) + "); two jobs on this output would collide");
            return;
        }
        // Whoever held it before and ended (or was killed) may have left text; say who holds it now.
        const std::string who = "pid " + std::to_string(::getpid()) + "\n";
        if (::ftruncate(fd_, 0) == 0) (void)!::write(fd_, who.data(), who.size());
    }

private:
    std::string path_;
    int fd_ = -1;
};

std::string utc_now()
{
    std::time_t t = std::time(nullptr);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return buffer;
}

}  // namespace

// The first three stages of one sample.
struct SampleChain {
    std::string name;  // empty: the job's one unnamed sample
    std::unique_ptr<Reader> reader;
    std::unique_ptr<Selection> selection;
    std::unique_ptr<RecoAdapter> reco;
};

struct Chain {
    JobSpec job;
    std::vector<SampleChain> samples;
    std::unique_ptr<Likelihood> likelihood;
    std::unique_ptr<Aggregation> aggregation;
    std::string output_path;
};

namespace {

std::string join(const std::vector<std::string>& names)
{
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
}

// [reader] [selection] [reco] for a job of one sample; for [job] samples = a, b: [reader.a] and
// optional [selection.a] and [reco.a] per sample, with [selection] and [reco] (if given) as
// every sample's default. A [reader] beside named samples, or a [stage.NAME] of a sample that
// [job] samples does not name, is an error naming the section.
std::vector<SampleChain> build_samples(const Config& config, const JobSpec& job)
{
    std::vector<SampleChain> out;
    const auto& names = job.samples();
    if (names.empty()) {
        for (const auto& stage : Config::sample_stages()) {
            const auto extra = config.sample_sections(stage);
            if (!extra.empty()) {
                throw Error(config.path() + ": [" + stage + "." + extra.front() +
                            "] is a sample's section, but [job] samples names no samples");
            }
        }
        SampleChain one;
        one.reader = build<Reader>(Stage::reader, config, "");
        one.selection = build<Selection>(Stage::selection, config, "none");
        one.reco = build<RecoAdapter>(Stage::reco, config, "passthrough");
        out.push_back(std::move(one));
        return out;
    }
    for (std::size_t i = 0; i < names.size(); ++i) {
        const auto& name = names[i];
        if (!Config::is_sample_name(name)) throw job.samples.error("'" + name + "' is not a sample name (letters, digits, '_', '-')");
        if (std::find(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(i), name) !=
            names.begin() + static_cast<std::ptrdiff_t>(i))
            throw job.samples.error("sample '" + name + "' is named twice");
    }
    if (config.has_section("reader")) {
        throw Error(config.path() + ": [reader] is given, but [job] samples = " + join(names) +
                    " reads each sample from its own section: [reader." + names.front() + "], ...");
    }
    for (const auto& stage : Config::sample_stages()) {
        for (const auto& name : config.sample_sections(stage)) {
            if (std::find(names.begin(), names.end(), name) == names.end()) {
                throw Error(config.path() + ": [" + stage + "." + name + "]: no sample '" + name +
                            "' in [job] samples (" + join(names) + ")");
            }
        }
    }
    for (const auto& name : names) {
        SampleChain sample;
        sample.name = name;
        if (!config.has_section("reader." + name)) {
            throw Error(config.path() + ": sample '" + name + "' has no [reader." + name +
                        "] section with a 'type = <module>' key");
        }
        // A sample without its own [selection.NAME] or [reco.NAME] takes [selection] or [reco];
        // each sample configures its own module instance from it.
        auto section = [&](const std::string& stage) {
            return config.has_section(stage + "." + name) ? stage + "." + name : stage;
        };
        sample.reader = build<Reader>(Stage::reader, config, "", "reader." + name);
        sample.selection = build<Selection>(Stage::selection, config, "none", section("selection"));
        sample.reco = build<RecoAdapter>(Stage::reco, config, "passthrough", section("reco"));
        out.push_back(std::move(sample));
    }
    return out;
}

void build_chain(Chain& chain, Config& config, const Comm& comm, const RunOptions& options)
{
    collective_step(comm, [&] {
        if (!options.output_override.empty()) config.set("job", "output", options.output_override);
        chain.job.configure(config, "job");
        // Plugins add modules: load them (on every rank) before any module is created.
        load_plugins(options.plugins, "--plugin");
        load_plugins(chain.job.plugins(), config.where("job", "plugins"));
        chain.samples = build_samples(config, chain.job);
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
        if (chain.samples.size() > 1 && !chain.likelihood->joint()) {
            throw Error(config.where("job", "samples") + ": likelihood '" + chain.likelihood->module_name() +
                        "' fits one sample; it cannot fit " + std::to_string(chain.samples.size()) +
                        " samples jointly");
        }
        const auto joint_tasks = chain.likelihood->joint_tasks();
        if (chain.samples.size() > 1 &&
            std::find(joint_tasks.begin(), joint_tasks.end(), chain.job.task()) == joint_tasks.end()) {
            std::string list;
            for (const auto& t : joint_tasks) list += (list.empty() ? "" : ", ") + t;
            throw Error(config.where("job", "task") + ": likelihood '" + chain.likelihood->module_name() +
                        "' cannot run task '" + chain.job.task() + "' on joint samples yet (it runs: " + list + ")");
        }
        chain.output_path = chain.job.output();
        check_output_writable(chain.output_path);
        std::vector<const Module*> modules{&chain.job, chain.likelihood.get(), chain.aggregation.get()};
        for (const auto& sample : chain.samples) {
            modules.insert(modules.end(), {sample.reader.get(), sample.selection.get(), sample.reco.get()});
        }
        // Every input a key names exists and can be read, before anything is read.
        for (const Module* module : modules) {
            for (const ParameterBase* parameter : module->parameters()) parameter->check_inputs();
        }
        check_output_is_not_an_input(modules, chain.output_path);
    });
}

// Opens what the run will open, headers only, and checks what the task needs of it: what
// `nusky validate` can see, so that a long campaign does not fail on it after its first
// collective.
void inspect_chain(Chain& chain, RunContext& context)
{
    collective_step(context.comm, [&] {
        for (const auto& stages : chain.samples) {
            const SampleHeader header = stages.reader->inspect(context);
            stages.selection->inspect(context);
            const std::string& task = chain.job.task();
            if ((task == "inject" || task == "sensitivity") && header.has_mc == false &&
                chain.likelihood->injects_from_mc()) {
                throw Error(context.config.where("job", "task") + ": task " + task + " injects signal events from MC, but " +
                            (stages.name.empty() ? "the sample" : "sample " + stages.name) + " of reader '" +
                            stages.reader->module_name() + "' has none (MC comes from the simulation reader, "
                            "npy_events' mc_path or hdf5_events' /mc)");
            }
        }
        chain.likelihood->prepare(context);
    });
}

}  // namespace

std::string validate_chain(Config& config, const Comm& comm, const RunOptions& options)
{
    Chain chain;
    build_chain(chain, config, comm, options);
    Results results;
    RunContext context{comm, chain.job, config, results, chain.output_path, options.resume};
    inspect_chain(chain, context);
    return chain.output_path;
}

RunSummary run_chain(Config& config, const Comm& comm, const RunOptions& options)
{
    auto start = std::chrono::steady_clock::now();
    Chain chain;
    build_chain(chain, config, comm, options);
    auto& job = chain.job;
    auto& likelihood = chain.likelihood;
    auto& aggregation = chain.aggregation;
    std::string output_path = chain.output_path;
    Results results;

    OutputLock lock;
    collective_step(comm, [&] {
        if (comm.is_root()) lock.take(output_path);
    });
    RunContext context{comm, job, config, results, output_path, options.resume};
    inspect_chain(chain, context);

    std::vector<Sample> samples(chain.samples.size());
    std::int64_t read_total = 0, selected_total = 0;
    std::vector<std::string> emptied;  // why each sample ended with no events
    for (std::size_t k = 0; k < chain.samples.size(); ++k) {
        SampleChain& stages = chain.samples[k];
        Sample& sample = samples[k];
        sample.name = stages.name;
        sample.stream = k;
        const std::string label = stages.name.empty() ? "" : "sample " + stages.name + ": ";
        log::info(label + "reading events with '" + stages.reader->module_name() + "'");
        EventSample& events = sample.events;
        collective_step(comm, [&] { events = stages.reader->read(context); });
        std::int64_t read_count = comm.sum(static_cast<std::int64_t>(events.data.size()));
        log::info(label + "read " + std::to_string(read_count) + " events" +
                  (events.description.empty() ? "" : " (" + events.description + ")"));

        CutCounts counts;
        collective_step(comm, [&] {
            counts = stages.selection->apply(events.data, context);
            if (events.mc.size() > 0) stages.selection->apply(events.mc, context);
            stages.reco->adapt(events.data, context);
            if (events.mc.size() > 0) stages.reco->adapt(events.mc, context);
            events.data.compute_unit_vectors();
            if (events.mc.size() > 0) events.mc.compute_unit_vectors();
        });
        comm.sum(counts.passed.data(), static_cast<int>(counts.passed.size()));
        sample.n_events = comm.sum(static_cast<std::int64_t>(events.data.size()));
        // One sample: /selection as it always was; several: /selection/<name> per sample and
        // the totals on /selection.
        const std::string group = stages.name.empty() ? "/selection" : "/selection/" + stages.name;
        results.set_replicated(group, "names", counts.names, comm);
        results.set_replicated(group, "passed", counts.passed, comm);
        results.group(group).attributes["n_read"] = read_count;
        results.group(group).attributes["n_selected"] = sample.n_events;
        log::info(label + "selected " + std::to_string(sample.n_events) + " of " + std::to_string(read_count) +
                  " events");
        if (sample.n_events == 0) {
            // Name the input and the cut that removed the last events.
            std::string why = (stages.name.empty() ? "" : "sample " + stages.name + ": ") +
                              (events.description.empty() ? "reader '" + stages.reader->module_name() + "'"
                                                          : events.description) +
                              ": " + std::to_string(read_count) + " events read";
            if (read_count == 0) why += " (the input has no events)";
            for (std::size_t c = 0; c < counts.names.size() && read_count > 0; ++c) {
                why += ", cut '" + counts.names[c] + "' of selection '" + stages.selection->module_name() + "' kept " +
                       std::to_string(counts.passed[c]);
                if (counts.passed[c] == 0) break;
            }
            emptied.push_back(why);
            if (samples.size() > 1 && comm.is_root()) log::warn("no events left: " + why);
        }
        read_total += read_count;
        selected_total += sample.n_events;
    }
    if (samples.size() > 1) {
        results.group("/selection").attributes["n_read"] = read_total;
        results.group("/selection").attributes["n_selected"] = selected_total;
    }
    const std::int64_t n_events = selected_total;
    if (n_events == 0) {
        std::string why;
        for (const auto& w : emptied) why += (why.empty() ? "" : "; ") + w;
        if (comm.is_root()) log::error("no events left after the selection; nothing to fit (" + why + ")");
        throw StepFailed{};
    }

    log::info("running task '" + job.task() + "' with likelihood '" + likelihood->module_name() + "'");
    try {
        run_task(*likelihood, samples, context);
    } catch (const CollectiveError& e) {
        // Every rank threw it alike (a failed collective write): one report, a clean exit.
        if (comm.is_root()) log::error(e.what());
        throw StepFailed{};
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
    auto real_of = [](const ResultGroup& group, const std::string& key, double& out) {
        auto it = group.attributes.find(key);
        if (it == group.attributes.end()) return false;
        if (const auto* d = std::get_if<double>(&it->second)) out = *d;
        else if (const auto* i = std::get_if<std::int64_t>(&it->second)) out = static_cast<double>(*i);
        else return false;
        return true;
    };
    auto text_of = [](const ResultGroup& group, const std::string& key) {
        auto it = group.attributes.find(key);
        const auto* text = it == group.attributes.end() ? nullptr : std::get_if<std::string>(&it->second);
        return text ? *text : std::string();
    };
    auto terms = [](const std::string& energy_term) {
        return energy_term == "mc" ? std::string("spatial and energy (energy PDF from MC)")
                                   : std::string("spatial only (no energy term)");
    };
    auto fit = summary.results.groups.find("/fit");
    if (fit != summary.results.groups.end()) {
        const auto& a = fit->second.attributes;
        auto real = [&](const char* key, double& out) { return real_of(fit->second, key, out); };
        double v = 0, n_trials = 0, upper = 0, ra = 0, dec = 0;
        if (real("ra_deg", ra) && real("dec_deg", dec)) {
            rows.emplace_back("position", "RA " + number(ra, 6) + " deg, Dec " + number(dec, 6) + " deg");
        }
        if (const std::string e = text_of(fit->second, "energy_term"); !e.empty()) rows.emplace_back("terms", terms(e));
        // Joint fits: each sample's terms.
        for (const auto& [path, group] : summary.results.groups) {
            if (path.rfind("/fit/samples/", 0) != 0) continue;
            if (const std::string e = text_of(group, "energy_term"); !e.empty()) {
                rows.emplace_back("terms " + path.substr(13), terms(e));
            }
        }
        bool is_upper = real("p_value_is_upper_limit", upper) && upper != 0;
        if (real("ts", v)) rows.emplace_back("TS", number(v, 6));
        if (real("ns", v)) rows.emplace_back("n_s", number(v, 6) + " signal events");
        if (real("gamma", v)) rows.emplace_back("gamma", number(v) + " (spectral index, E^-gamma)");
        if (real("p_value", v)) {
            std::string text = (is_upper ? "< " : "") + number(v);
            if (real("n_trials", n_trials)) text += " (" + number(n_trials, 12) + " trials)";
            rows.emplace_back("p-value", text);
        }
        if (real("sigma", v)) {
            // p >= 0.5 is no excess at all: its one-sided significance is <= 0 (-inf at p = 1).
            rows.emplace_back("significance", v <= 0.0 ? std::string("none (p >= 0.5)")
                                                       : (is_upper ? "> " : "") + number(v, 3) + " sigma");
        }
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
    // Tasks inject and sensitivity: the fluxes, in the likelihood's flux unit.
    auto sens = summary.results.groups.find("/sensitivity");
    if (sens != summary.results.groups.end()) {
        const ResultGroup& g = sens->second;
        const std::string unit = text_of(g, "flux_unit");
        double n = 0, flux = 0, bkg = 0;
        auto flux_row = [&](const std::string& label, const std::string& prefix, const std::string& method) {
            if (!real_of(g, prefix + "_ns", n)) return;
            real_of(g, prefix + "_flux", flux);
            std::string text = std::isnan(n) ? (method.empty() ? std::string("not reachable") : method)
                                             : number(n) + " signal events";
            if (!std::isnan(n) && !std::isnan(flux)) text += ", flux " + number(flux) + " (" + unit + ")";
            rows.emplace_back(label, text);
        };
        if (real_of(g, "n_background_trials", bkg)) rows.emplace_back("background", number(bkg, 12) + " trials");
        flux_row("sensitivity", "sensitivity", "");
        flux_row("disc. pot. 3 sigma", "dp3sigma", text_of(g, "dp3sigma_threshold_method"));
        flux_row("disc. pot. 5 sigma", "dp5sigma", text_of(g, "dp5sigma_threshold_method"));
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

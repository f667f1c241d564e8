// `nusky merge OUT IN...`: joins the results files of a trials job array (the same config and
// seed, consecutive job.first_trial ranges) into one file whose /trials equals a single job's
// over the whole range. Refuses different seeds or configs, overlaps and gaps, with one line
// naming the files. Rank 0 does the work with serial HDF5; OUT.tmp is renamed when complete.
#include "commands.hpp"

#include "nusky/chain.hpp"
#include "nusky/error.hpp"
#include "nusky/h5.hpp"
#include "nusky/mpi.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>

namespace nusky {
namespace {

struct TrialFile {
    std::string path;
    std::string config;  // the root config without the keys a job array may vary
    std::int64_t seed = 0, first = 0, count = 0;
    std::vector<double> ts, ns, gamma;
};

// The config text without the [job] keys a job array may vary (first_trial, trials, output,
// checkpoint_every): everything else decides what a trial computes.
std::string comparable_config(const std::string& text)
{
    std::istringstream in(text);
    std::ostringstream out;
    std::string line, section;
    while (std::getline(in, line)) {
        std::string t = line;
        t.erase(0, t.find_first_not_of(" \t"));
        if (!t.empty() && t[0] == '[') section = t.substr(0, t.find(']') + 1);
        if (section == "[job]") {
            const std::string key = t.substr(0, t.find_first_of(" \t="));
            if (key == "first_trial" || key == "trials" || key == "output" || key == "checkpoint_every") continue;
        }
        out << line << '\n';
    }
    return out.str();
}

TrialFile read_trial_file(const std::string& path)
{
    if (!std::filesystem::is_regular_file(path)) throw Error(path + ": no such file");
    if (!is_hdf5_file(path)) throw Error(path + ": not an HDF5 results file");
    TrialFile f;
    f.path = path;
    auto file = h5_open_serial(path);
    if (!h5_exists(file, "/trials/ts")) throw Error(path + ": no /trials (not a trials results file)");
    f.config = comparable_config(h5_read_string_attribute(file, path, "/", "config"));
    f.seed = h5_read_int64_attribute(file, path, "/trials", "seed");
    f.first = h5_read_int64_attribute(file, path, "/trials", "first_trial");
    f.count = h5_read_int64_attribute(file, path, "/trials", "n_trials");
    for (auto [name, column] : {std::pair{"ts", &f.ts}, {"ns", &f.ns}, {"gamma", &f.gamma}}) {
        const std::string dataset = std::string("/trials/") + name;
        const auto n = h5_dataset_length(file, path, dataset);
        if (n != f.count)
            throw Error(path + ": " + dataset + " has " + std::to_string(n) + " rows, n_trials is " +
                        std::to_string(f.count));
        *column = h5_read_doubles(file, path, dataset, 0, n);
    }
    return f;
}

// Copies /fit (attributes and datasets) from one file to another.
void copy_fit(hid_t from, hid_t to, const std::string& from_path)
{
    if (!h5_exists(from, "/fit")) return;
    h5_check(H5Ocopy(from, "/fit", to, "/fit", H5P_DEFAULT, H5P_DEFAULT), from_path, "copy /fit");
}

int merge_command(const std::vector<std::string>& args, const Comm& comm)
{
    if (args.size() < 2 || args[0].starts_with("-"))
        throw UsageError("merge: usage: nusky merge OUT IN... (the results files of a trials job array)");
    const std::string out = args[0];
    const std::vector<std::string> inputs(args.begin() + 1, args.end());
    for (const auto& in : inputs)
        if (std::filesystem::exists(out) && std::filesystem::equivalent(out, in))
            throw UsageError("merge: the output " + out + " is also an input");
    // Rank 0 works; collective_step reports its error once and ends every rank.
    collective_step(comm, [&] {
        if (!comm.is_root()) return;
        h5_silence_errors();
        std::vector<TrialFile> files;
        for (const auto& path : inputs) files.push_back(read_trial_file(path));
        const TrialFile& ref = files.front();
        for (const auto& f : files) {
            if (f.seed != ref.seed)
                throw Error("merge: " + f.path + " has seed " + std::to_string(f.seed) + ", " + ref.path +
                            " seed " + std::to_string(ref.seed));
            if (f.config != ref.config)
                throw Error("merge: " + f.path + " and " + ref.path +
                            " were made with different configs (beyond job.first_trial, trials, output)");
        }
        std::vector<const TrialFile*> sorted;
        for (const auto& f : files) sorted.push_back(&f);
        std::stable_sort(sorted.begin(), sorted.end(),
                         [](const TrialFile* a, const TrialFile* b) { return a->first < b->first; });
        for (std::size_t i = 1; i < sorted.size(); ++i) {
            const TrialFile& a = *sorted[i - 1];
            const TrialFile& b = *sorted[i];
            const std::int64_t a_end = a.first + a.count;
            auto range = [](const TrialFile& f) {
                return "[" + std::to_string(f.first) + ", " + std::to_string(f.first + f.count) + ")";
            };
            if (b.first < a_end)
                throw Error("merge: trials of " + a.path + " " + range(a) + " and " + b.path + " " + range(b) +
                            " overlap");
            if (b.first > a_end)
                throw Error("merge: gap between " + a.path + " " + range(a) + " and " + b.path + " " + range(b) +
                            ": trials [" + std::to_string(a_end) + ", " + std::to_string(b.first) + ") missing");
        }
        std::vector<double> ts, ns, gamma;
        for (const auto* f : sorted) {
            ts.insert(ts.end(), f->ts.begin(), f->ts.end());
            ns.insert(ns.end(), f->ns.begin(), f->ns.end());
            gamma.insert(gamma.end(), f->gamma.begin(), f->gamma.end());
        }

        const std::string tmp = out + ".tmp";
        {
            Comm self(MPI_COMM_SELF);
            H5Handle file = h5_create_parallel(tmp, self);
            Results results;
            // The root attributes of the first job (config, version), and the merge's identity.
            auto first_file = h5_open_serial(sorted.front()->path);
            for (const char* name : {"nusky_version", "config", "task"}) {
                if (H5Aexists(first_file, name) > 0)
                    results.root_attributes[name] = h5_read_string_attribute(first_file, sorted.front()->path, "/", name);
            }
            std::string merged;
            for (const auto* f : sorted) merged += (merged.empty() ? "" : ",") + f->path;
            results.root_attributes["merged_from"] = merged;
            results.set_replicated("/trials", "ts", ts, self);
            results.set_replicated("/trials", "ns", ns, self);
            results.set_replicated("/trials", "gamma", gamma, self);
            auto& group = results.group("/trials");
            group.attributes["seed"] = ref.seed;
            group.attributes["first_trial"] = sorted.front()->first;
            group.attributes["n_trials"] = static_cast<std::int64_t>(ts.size());
            h5_write_results(file, results, self);
            copy_fit(first_file, file, sorted.front()->path);
        }
        std::filesystem::rename(tmp, out);
        std::printf("merge: wrote %s: trials [%lld, %lld) from %zu files\n", out.c_str(),
                    static_cast<long long>(sorted.front()->first),
                    static_cast<long long>(sorted.front()->first + static_cast<std::int64_t>(ts.size())),
                    files.size());
    });
    return 0;
}

const bool registered = register_command({"merge", merge_command});

}  // namespace
}  // namespace nusky

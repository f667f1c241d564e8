// `nusky merge OUT IN...`: joins the results files of a job array (the same config and seed,
// consecutive job.first_trial ranges) into one file equal to a single job's over the whole range:
// /trials of a trials task, or /scan_trials of a scan task with trials (then /scan and
// /scan_background come from the first file, the same in every job, and the hotspots'
// post-trial p-values are recomputed from all trials). Refuses different seeds or configs,
// overlaps and gaps, with one line naming the files. Rank 0 does the work with serial HDF5;
// OUT.tmp is renamed when complete.
#include "commands.hpp"

#include "likelihood/point_source/scan.hpp"
#include "nusky/chain.hpp"
#include "nusky/error.hpp"
#include "nusky/h5.hpp"
#include "nusky/tasks.hpp"
#include "nusky/mpi.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>

namespace nusky {
namespace {

// The per-trial columns of each kind of job.
struct TrialKind {
    std::string group;
    std::vector<std::string> columns;
};
const TrialKind kTrials{"/trials", {"ts", "ns", "gamma"}};
const TrialKind kScanTrials{"/scan_trials", {"north", "south"}};

struct TrialFile {
    std::string path;
    const TrialKind* kind = nullptr;
    std::string config;  // the root config without the keys a job array may vary
    std::int64_t seed = 0, first = 0, count = 0;
    std::vector<std::vector<double>> columns;  // kind->columns, in order
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
    if (h5_exists(file, "/trials/ts"))
        f.kind = &kTrials;
    else if (h5_exists(file, "/scan_trials/north"))
        f.kind = &kScanTrials;
    else
        throw Error(path + ": no /trials or /scan_trials (not the results of trials or of a scan with trials)");
    const std::string& group = f.kind->group;
    f.config = comparable_config(h5_read_string_attribute(file, path, "/", "config"));
    f.seed = h5_read_int64_attribute(file, path, group, "seed");
    f.first = h5_read_int64_attribute(file, path, group, "first_trial");
    f.count = h5_read_int64_attribute(file, path, group, "n_trials");
    for (const auto& name : f.kind->columns) {
        const std::string dataset = group + "/" + name;
        const auto n = h5_dataset_length(file, path, dataset);
        if (n != f.count)
            throw Error(path + ": " + dataset + " has " + std::to_string(n) + " rows, n_trials is " +
                        std::to_string(f.count));
        f.columns.push_back(h5_read_doubles(file, path, dataset, 0, n));
    }
    return f;
}

// Copies a group (attributes, datasets, subgroups) from one file to another, if it exists.
void copy_group(hid_t from, hid_t to, const std::string& group, const std::string& from_path)
{
    if (!h5_exists(from, group)) return;
    h5_check(H5Ocopy(from, group.c_str(), to, group.c_str(), H5P_DEFAULT, H5P_DEFAULT), from_path,
             "copy " + group);
}

// Post-trial p-values of the observed hotspots (rows north, south) from all the trials.
std::vector<double> post_trial_pvalues(hid_t file, const std::string& path, const std::vector<double>& north,
                                       const std::vector<double>& south)
{
    const std::string ranked_by = h5_read_string_attribute(file, path, "/scan/hotspots", "ranked_by");
    const auto observed = h5_read_doubles(file, path, "/scan/hotspots/" + ranked_by, 0,
                                          h5_dataset_length(file, path, "/scan/hotspots/" + ranked_by));
    if (observed.size() != 2) throw Error(path + ": /scan/hotspots should have 2 rows (north, south)");
    return {post_trial_pvalue(north, observed[0]), post_trial_pvalue(south, observed[1])};
}

int merge_command(const std::vector<std::string>& args, const Comm& comm)
{
    if (args.size() < 2 || args[0].starts_with("-"))
        throw UsageError("merge: usage: nusky merge OUT IN... (the results files of a job array: trials, or a scan with trials)");
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
            if (f.kind != ref.kind)
                throw Error("merge: " + f.path + " has " + f.kind->group + ", " + ref.path + " has " + ref.kind->group);
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
                std::string r = "[";  // appended piecewise: GCC 12 warns (-Wrestrict) on "[" + to_string
                r += std::to_string(f.first) + ", " + std::to_string(f.first + f.count) + ")";
                return r;
            };
            if (b.first < a_end)
                throw Error("merge: trials of " + a.path + " " + range(a) + " and " + b.path + " " + range(b) +
                            " overlap");
            if (b.first > a_end)
                throw Error("merge: gap between " + a.path + " " + range(a) + " and " + b.path + " " + range(b) +
                            ": trials [" + std::to_string(a_end) + ", " + std::to_string(b.first) + ") missing");
        }
        const TrialKind& kind = *ref.kind;
        std::vector<std::vector<double>> columns(kind.columns.size());
        for (const auto* f : sorted)
            for (std::size_t c = 0; c < columns.size(); ++c)
                columns[c].insert(columns[c].end(), f->columns[c].begin(), f->columns[c].end());
        const auto n_trials = static_cast<std::int64_t>(columns.front().size());

        const std::string tmp = out + ".tmp";
        {
            Comm self(MPI_COMM_SELF);
            H5Handle file = h5_create_parallel(tmp, self);
            auto first_file = h5_open_serial(sorted.front()->path);
            const std::string& first_path = sorted.front()->path;
            // What every job computed alike comes from the first job.
            for (const char* group : {"/fit", "/scan", "/scan_background"}) copy_group(first_file, file, group, first_path);
            Results results;
            for (const char* name : {"nusky_version", "config", "task"}) {
                if (H5Aexists(first_file, name) > 0)
                    results.root_attributes[name] = h5_read_string_attribute(first_file, first_path, "/", name);
            }
            std::string merged;
            for (const auto* f : sorted) merged += (merged.empty() ? "" : ",") + f->path;
            results.root_attributes["merged_from"] = merged;
            for (std::size_t c = 0; c < columns.size(); ++c)
                results.set_replicated(kind.group, kind.columns[c], columns[c], self);
            auto& group = results.group(kind.group);
            group.attributes["seed"] = ref.seed;
            group.attributes["first_trial"] = sorted.front()->first;
            group.attributes["n_trials"] = n_trials;
            // /fit's p-value is the merged campaign's, not the first piece's.
            if (&kind == &kTrials && H5Aexists_by_name(file, "/fit", "ts", H5P_DEFAULT) > 0) {
                const double observed = h5_read_double_attribute(file, tmp, "/fit", "ts");
                results.group("/fit").attributes = pvalue_attributes(observed, columns[0]);
            }
            if (&kind == &kScanTrials) {
                group.attributes["quantity"] = h5_read_string_attribute(first_file, first_path, "/scan_trials", "quantity");
                if (h5_exists(file, "/scan/hotspots/post_trial_p"))
                    h5_check(H5Ldelete(file, "/scan/hotspots/post_trial_p", H5P_DEFAULT), tmp, "replace post_trial_p");
                results.set_replicated("/scan/hotspots", "post_trial_p",
                                       post_trial_pvalues(first_file, first_path, columns[0], columns[1]), self);
            }
            h5_write_results(file, results, self);
        }
        std::filesystem::rename(tmp, out);
        std::printf("merge: wrote %s: %s [%lld, %lld) from %zu files\n", out.c_str(), kind.group.c_str(),
                    static_cast<long long>(sorted.front()->first),
                    static_cast<long long>(sorted.front()->first + n_trials), files.size());
    });
    return 0;
}

const bool registered = register_command({"merge", merge_command});

}  // namespace
}  // namespace nusky

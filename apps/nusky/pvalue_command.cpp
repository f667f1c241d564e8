// `nusky pvalue --ts T --trials FILE [--column NAME] [--binning FILE]`: the p-value and the
// one-sided Gaussian significance of an observed test statistic from background trials, given as
//  - a nusky results file (HDF5): the TS sample in /trials/ts (or --column DATASET);
//  - a histogram in the form of the IceCube Galactic-plane release: FILE = the counts
//    (bkg_trials_values.csv) with the bin edges next to it (bkg_trials_binning.csv: "values" in
//    the name replaced by "binning") or given with --binning; --column picks the template
//    (pi0, kra5, kra50);
//  - a text file with one TS value per line (or a column of a table, --column).
// Every rank computes (the files are small or read once); rank 0 prints.
#include "commands.hpp"

#include "nusky/pvalue.hpp"

#include "nusky/h5.hpp"
#include "nusky/text_table.hpp"

#include <boost/program_options.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace po = boost::program_options;

namespace nusky {
namespace {

struct TrialSource {
    std::string description;  // what the p-values come from, for the output
    std::vector<double> sample;
    TrialHistogram histogram;
    bool is_histogram = false;

    double pvalue(double ts) const
    {
        return is_histogram ? histogram.pvalue(ts) : pvalue_from_trials(sample, ts);
    }
    double n_trials() const
    {
        return is_histogram ? histogram.total() : static_cast<double>(sample.size());
    }
};

// The binning file of a release histogram: --binning, else FILE with "values" -> "binning".
std::string binning_path_for(const std::string& values_path)
{
    namespace fs = std::filesystem;
    fs::path p(values_path);
    std::string name = p.filename().string();
    auto at = name.rfind("values");
    if (at == std::string::npos) return "";
    name.replace(at, 6, "binning");
    fs::path candidate = p.parent_path() / name;
    std::error_code ec;
    return fs::is_regular_file(candidate, ec) ? candidate.string() : "";
}

TrialSource load_trials(const std::string& path, const std::string& column, const std::string& binning)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) throw Error(path + ": no such trials file");
    TrialSource source;
    if (is_hdf5_file(path)) {
        const std::string dataset = column.empty() ? "/trials/ts" : column;
        auto file = h5_open_serial(path);
        const auto n = h5_dataset_length(file, path, dataset);
        source.sample = h5_read_doubles(file, path, dataset, 0, n);
        if (source.sample.empty()) throw Error(path + ": " + dataset + " holds no trials");
        source.description = path + ":" + dataset;
        return source;
    }
    const std::string binning_path = binning.empty() ? binning_path_for(path) : binning;
    const TextTable table = read_text_table(path);
    std::string col = column;
    if (col.empty()) {
        if (table.n_columns() != 1) {
            std::string names;
            for (const auto& h : table.header) names += (names.empty() ? "" : ", ") + h;
            throw Error(path + ": has " + std::to_string(table.n_columns()) +
                        " columns; choose one with --column" + (names.empty() ? "" : " (" + names + ")"));
        }
    }
    if (!binning_path.empty()) {
        if (col.empty()) {
            source.histogram.counts = table.column(std::size_t{0});
            source.histogram.edges = read_text_table(binning_path).column(std::size_t{0});
            try {
                source.histogram.validate();
            } catch (const Error& e) {
                throw Error(binning_path + " + " + path + ": " + e.what());
            }
        } else {
            source.histogram = read_trial_histogram(binning_path, path, col);
        }
        source.is_histogram = true;
        source.description = path + (col.empty() ? "" : " [" + col + "]") + " (histogram, edges " +
                             binning_path + ")";
        return source;
    }
    source.sample = col.empty() ? table.column(std::size_t{0}) : table.column(col);
    source.description = path + (col.empty() ? "" : " [" + col + "]") + " (TS sample)";
    return source;
}

int pvalue_command(const std::vector<std::string>& args, const Comm& comm)
{
    std::vector<double> ts_values;
    std::string trials, column, binning;
    po::options_description named("options");
    named.add_options()("ts", po::value<std::vector<double>>(&ts_values)->composing(),
                        "observed test statistic (repeatable)")(
        "trials", po::value<std::string>(&trials),
        "background trials: nusky results file (/trials/ts), release histogram CSV, or TS list")(
        "column", po::value<std::string>(&column),
        "histogram/table column (pi0, kra5, kra50) or HDF5 dataset (default /trials/ts)")(
        "binning", po::value<std::string>(&binning), "bin edges of a histogram (default: next to --trials)");
    try {
        po::variables_map vm;
        po::store(po::command_line_parser(args).options(named).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        throw UsageError(std::string("pvalue: ") + e.what());
    }
    if (ts_values.empty()) throw UsageError("pvalue: missing --ts T");
    if (trials.empty()) throw UsageError("pvalue: missing --trials FILE");
    for (double t : ts_values)
        if (!std::isfinite(t)) throw UsageError("pvalue: --ts must be a finite number");

    const TrialSource source = load_trials(trials, column, binning);
    if (!comm.is_root()) return 0;
    std::printf("trials: %s, %.0f background trials\n", source.description.c_str(), source.n_trials());
    for (double ts : ts_values) {
        double p = source.pvalue(ts);
        if (p == 0.0) {
            // Beyond every trial: only a bound.
            double bound = 1.0 / source.n_trials();
            std::printf("TS %g: p < %.4g, significance > %.2f sigma (no trial at or above TS)\n", ts, bound,
                        significance_from_pvalue(bound));
        } else {
            std::printf("TS %g: p = %.4g, significance = %.2f sigma (%.0f of %.0f trials at or above)\n", ts, p,
                        significance_from_pvalue(p), p * source.n_trials(), source.n_trials());
        }
    }
    return 0;
}

const bool registered = register_command({"pvalue", pvalue_command});

}  // namespace
}  // namespace nusky

#pragma once
// p-values and significances of an observed test statistic (docs/PHYSICS.md section 9):
// from a sample of background-trial TS values, or from a histogram of them (the form of the
// IceCube Galactic-plane release: bkg_trials_binning.csv / bkg_trials_values.csv).
#include <string>
#include <vector>

namespace nusky {

// Fraction of background trials with TS >= observed. Empty trials are an error.
double pvalue_from_trials(const std::vector<double>& trial_ts, double observed_ts);

// Background TS histogram: edges.size() == counts.size() + 1, edges increasing.
struct TrialHistogram {
    std::vector<double> edges;
    std::vector<double> counts;

    // Throws nusky::Error when the sizes disagree, edges decrease or a count is negative.
    void validate() const;
    double total() const;
    // The release's rule: p = (trials in bins i >= searchsorted(edges, t)) / all trials, with
    // NumPy's side='left': i is the first edge >= t, so only whole bins at or above t count.
    double pvalue(double observed_ts) const;
};

// Reads column `column` (e.g. "pi0", "kra5", "kra50") of a binning CSV and a values CSV.
TrialHistogram read_trial_histogram(const std::string& binning_path, const std::string& values_path,
                                    const std::string& column);

// One-sided Gaussian significance: the standard normal's inverse survival function of p
// (p = 1.26e-6 -> 4.71 sigma). p = 0 (TS beyond every trial) gives +infinity and p = 1 gives
// -infinity, for the caller to report as bounds; p outside [0, 1] or NaN is an error.
double significance_from_pvalue(double p);

}  // namespace nusky

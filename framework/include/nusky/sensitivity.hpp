#pragma once
// Sensitivity and discovery potential from background and signal trials (docs/PHYSICS.md
// section 9). Plain functions on TS samples; no MPI.
//  - sensitivity: the mean injected number at which 90 % of signal trials have TS above the
//    background median;
//  - discovery potential at n sigma: the mean at which 50 % of signal trials have TS above the
//    background TS whose p-value is the one-sided n-sigma tail (3 sigma: 1.35e-3, 5 sigma:
//    2.87e-7).
// Thresholds come from the background trials themselves when enough trials (min_tail_trials)
// lie beyond them; otherwise from a fit of eta * chi2(ndof) to the background TS (eta = the
// fraction of trials with TS > 0, ndof by maximum likelihood on the positive TS values).
#include <string>
#include <vector>

namespace nusky {

struct Chi2Tail {
    double eta = 0.0;   // fraction of trials with TS > 0
    double ndof = 1.0;  // fitted degrees of freedom
    bool valid = false; // false when fewer than 2 positive TS values
    // p-value eta * chi2_sf(ts; ndof) (1 for ts <= 0).
    double pvalue(double ts) const;
    // TS with pvalue(TS) = p (0 when p >= eta).
    double threshold(double p) const;
};

// Maximum-likelihood fit of the positive TS values to chi2(ndof), ndof in [0.05, 50].
Chi2Tail fit_chi2_tail(const std::vector<double>& ts);

struct TsThreshold {
    double sigma = 0.0;          // the one-sided significance it stands for
    double pvalue = 0.0;
    double ts = 0.0;             // background TS threshold (signal trials must exceed it)
    bool extrapolated = false;   // true: from the chi2 tail, false: from the trials
    bool reachable = true;       // false: too few trials and no usable chi2 fit
};

struct BackgroundSummary {
    long long n_trials = 0;
    double median = 0.0;
    Chi2Tail tail;
    std::vector<TsThreshold> thresholds;  // one per requested significance
};

// median and the thresholds at the given significances (default 3 and 5 sigma).
BackgroundSummary summarise_background(std::vector<double> ts, const std::vector<double>& sigmas = {3.0, 5.0},
                                       double min_tail_trials = 10.0);

// Fraction of the values strictly above the threshold (0 for an empty sample).
double fraction_above(const std::vector<double>& ts, double threshold);

// The smallest mean at which `fraction` (against increasing `means`) reaches `target`, by
// linear interpolation between the bracketing grid points of the running maximum of the
// fractions (statistical wiggles do not make it non-monotonic). NaN when the largest mean does
// not reach the target; means[0] when the first already does.
double mean_at_fraction(const std::vector<double>& means, const std::vector<double>& fraction, double target);

// Median of a sample (NaN when empty).
double median_of(std::vector<double> values);

}  // namespace nusky

#include "nusky/sensitivity.hpp"

#include "nusky/error.hpp"

#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/tools/minima.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace nusky {

double Chi2Tail::pvalue(double ts) const
{
    if (!(ts > 0.0)) return 1.0;
    if (!valid) return std::numeric_limits<double>::quiet_NaN();
    boost::math::chi_squared chi2(ndof);
    return eta * boost::math::cdf(boost::math::complement(chi2, ts));
}

double Chi2Tail::threshold(double p) const
{
    if (!valid) return std::numeric_limits<double>::quiet_NaN();
    if (p >= eta) return 0.0;
    boost::math::chi_squared chi2(ndof);
    return boost::math::quantile(boost::math::complement(chi2, p / eta));
}

Chi2Tail fit_chi2_tail(const std::vector<double>& ts)
{
    Chi2Tail tail;
    if (ts.empty()) return tail;
    double sum_log = 0.0;
    long long n = 0;
    for (double t : ts) {
        if (t > 1e-10) {
            sum_log += std::log(t);
            ++n;
        }
    }
    tail.eta = static_cast<double>(n) / static_cast<double>(ts.size());
    if (n < 2) return tail;
    const double mean_log = sum_log / static_cast<double>(n);
    // -ln L per event of chi2(k): (k/2) ln 2 + lgamma(k/2) - (k/2 - 1) <ln t> + <t>/2.
    auto negative_llh = [&](double k) {
        return 0.5 * k * std::log(2.0) + std::lgamma(0.5 * k) - (0.5 * k - 1.0) * mean_log;
    };
    auto r = boost::math::tools::brent_find_minima(negative_llh, 0.05, 50.0, 30);
    tail.ndof = r.first;
    tail.valid = true;
    return tail;
}

double median_of(std::vector<double> v)
{
    if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
    const std::size_t n = v.size();
    std::sort(v.begin(), v.end());
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

BackgroundSummary summarise_background(std::vector<double> ts, const std::vector<double>& sigmas,
                                       double min_tail_trials)
{
    if (ts.empty()) throw Error("sensitivity: no background trials");
    BackgroundSummary s;
    s.n_trials = static_cast<long long>(ts.size());
    s.tail = fit_chi2_tail(ts);
    std::sort(ts.begin(), ts.end());
    s.median = median_of(ts);
    const double n = static_cast<double>(ts.size());
    const boost::math::normal standard_normal;
    for (double sigma : sigmas) {
        TsThreshold t;
        t.sigma = sigma;
        t.pvalue = boost::math::cdf(boost::math::complement(standard_normal, sigma));
        const double beyond = t.pvalue * n;  // expected trials beyond the threshold
        if (beyond >= min_tail_trials) {
            // The empirical (1 - p) quantile: the TS with k = floor(p n) trials at or above it.
            const auto k = static_cast<std::size_t>(std::floor(beyond));
            t.ts = ts[ts.size() - k];
            t.extrapolated = false;
        } else if (s.tail.valid) {
            t.ts = s.tail.threshold(t.pvalue);
            t.extrapolated = true;
        } else {
            t.ts = std::numeric_limits<double>::quiet_NaN();
            t.reachable = false;
        }
        s.thresholds.push_back(t);
    }
    return s;
}

double fraction_above(const std::vector<double>& ts, double threshold)
{
    if (ts.empty()) return 0.0;
    const auto k = std::count_if(ts.begin(), ts.end(), [&](double t) { return t > threshold; });
    return static_cast<double>(k) / static_cast<double>(ts.size());
}

double mean_at_fraction(const std::vector<double>& means, const std::vector<double>& fraction, double target)
{
    if (means.size() != fraction.size()) throw Error("sensitivity: means and fractions differ in length");
    std::vector<std::size_t> order(means.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return means[a] < means[b]; });
    double previous_mean = 0.0, previous_fraction = 0.0, running = 0.0;
    for (std::size_t j = 0; j < order.size(); ++j) {
        const double m = means[order[j]];
        running = std::max(running, fraction[order[j]]);
        if (running >= target) {
            if (j == 0) return m;
            const double t = (target - previous_fraction) / (running - previous_fraction);
            return previous_mean + t * (m - previous_mean);
        }
        previous_mean = m;
        previous_fraction = running;
    }
    return std::numeric_limits<double>::quiet_NaN();
}

}  // namespace nusky

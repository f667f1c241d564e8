#include "nusky/pvalue.hpp"

#include "nusky/error.hpp"
#include "nusky/text_table.hpp"

#include <boost/math/distributions/normal.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace nusky {

double pvalue_from_trials(const std::vector<double>& trial_ts, double observed_ts)
{
    if (trial_ts.empty()) throw Error("p-value: no background trials");
    const auto at_least =
        std::count_if(trial_ts.begin(), trial_ts.end(), [&](double t) { return t >= observed_ts; });
    return static_cast<double>(at_least) / static_cast<double>(trial_ts.size());
}

void TrialHistogram::validate() const
{
    if (counts.empty() || edges.size() != counts.size() + 1)
        throw Error("trial histogram: need one more bin edge than counts (" +
                    std::to_string(edges.size()) + " edges, " + std::to_string(counts.size()) +
                    " counts)");
    for (std::size_t i = 1; i < edges.size(); ++i)
        if (!(edges[i] > edges[i - 1]))
            throw Error("trial histogram: bin edges must increase (edge " + std::to_string(i) +
                        ")");
    for (double c : counts)
        if (!(c >= 0.0)) throw Error("trial histogram: negative or NaN count");
    if (!(total() > 0.0)) throw Error("trial histogram: no trials");
}

double TrialHistogram::total() const
{
    double sum = 0.0;
    for (double c : counts) sum += c;
    return sum;
}

double TrialHistogram::pvalue(double observed_ts) const
{
    // searchsorted(edges, t, side='left'): first i with edges[i] >= t.
    const auto first = static_cast<std::size_t>(
        std::lower_bound(edges.begin(), edges.end(), observed_ts) - edges.begin());
    double above = 0.0;
    for (std::size_t i = first; i < counts.size(); ++i) above += counts[i];
    return above / total();
}

TrialHistogram read_trial_histogram(const std::string& binning_path, const std::string& values_path,
                                    const std::string& column)
{
    TrialHistogram h;
    h.edges = read_text_table(binning_path).column(column);
    h.counts = read_text_table(values_path).column(column);
    try {
        h.validate();
    } catch (const Error& e) {
        throw Error(binning_path + " + " + values_path + " [" + column + "]: " + e.what());
    }
    return h;
}

double significance_from_pvalue(double p)
{
    if (!(p >= 0.0 && p <= 1.0)) throw Error("significance: p-value outside [0, 1]");
    if (p == 0.0) return std::numeric_limits<double>::infinity();
    if (p == 1.0) return -std::numeric_limits<double>::infinity();
    const boost::math::normal standard_normal;
    return boost::math::quantile(boost::math::complement(standard_normal, p));
}

}  // namespace nusky

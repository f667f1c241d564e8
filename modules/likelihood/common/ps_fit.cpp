#include "likelihood/common/ps_fit.hpp"

#include "nusky/error.hpp"

#include <boost/math/tools/minima.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

namespace nusky {

void reduce_nothing(double*, int) {}

LlhSums local_llh_sums(const double* a, std::size_t n, double ns, bool with_value)
{
    double first = 0.0, second = 0.0, invalid = 0.0, value = 0.0;
    if (with_value) {
        for (std::size_t i = 0; i < n; ++i) {
            const double x = ns * a[i];
            const double arg = 1.0 + x;
            invalid += arg <= 0.0 ? 1.0 : 0.0;
            const double q = a[i] / arg;
            first += q;
            second -= q * q;
            value += std::log1p(x);  // log1p: exact for the tiny per-event terms near n_s = 0
        }
    } else {
        // The Newton steps need no logarithms: this loop is the fit's hot path.
        for (std::size_t i = 0; i < n; ++i) {
            const double arg = 1.0 + ns * a[i];
            invalid += arg <= 0.0 ? 1.0 : 0.0;
            const double q = a[i] / arg;
            first += q;
            second -= q * q;
        }
    }
    return {value, first, second, invalid};
}

namespace {

void check_totals(const EventTotals& totals)
{
    if (!(totals.n_total > 0.0) || !std::isfinite(totals.n_total))
        throw Error("point-source fit: the total number of events must be positive");
    if (!(totals.n_kept >= 0.0) || totals.n_kept > totals.n_total)
        throw Error("point-source fit: kept events (" + std::to_string(totals.n_kept) +
                    ") must be between 0 and the total (" + std::to_string(totals.n_total) + ")");
}

// a_i = (x_i - 1) / N in place: the per-event coefficient of n_s inside the logarithm.
void sob_to_scaled_excess(double* w, std::size_t n, double n_total)
{
    const double inv_n = 1.0 / n_total;
    for (std::size_t i = 0; i < n; ++i) w[i] = (w[i] - 1.0) * inv_n;
}

}  // namespace

PointSourceFitter::PointSourceFitter(FitSettings settings) : settings_(settings)
{
    if (!(settings_.gamma_max >= settings_.gamma_min))
        throw Error("point-source fit: gamma_max must not be below gamma_min");
    if (!(settings_.ns_tolerance > 0.0) || settings_.max_newton_steps < 1 ||
        settings_.gamma_bits < 2 || settings_.max_gamma_steps < 1)
        throw Error("point-source fit: tolerances and step limits must be positive");
}

double* PointSourceFitter::workspace(std::size_t n_local)
{
    if (work_.size() < n_local) work_.resize(n_local);  // grows only; never shrinks
    return work_.data();
}

FitResult PointSourceFitter::maximise_ns(std::size_t n_local, const EventTotals& totals,
                                         const ReduceSum& reduce, double ns_start)
{
    const double n_total = totals.n_total;
    const double n_dropped = totals.n_total - totals.n_kept;
    const double* a = work_.data();
    FitResult result;

    // One pass over the local events, summed across ranks, plus the dropped events' exact
    // (N - N') ln(1 - n_s/N) added once after the reduction.
    auto evaluate = [&](double ns, bool with_value) {
        const LlhSums local = local_llh_sums(a, n_local, ns, with_value);
        double sums[4] = {local.value, local.first, local.second, local.invalid};
        reduce(sums, 4);
        ++result.n_evaluations;
        LlhSums s{sums[0], sums[1], sums[2], sums[3]};
        if (n_dropped > 0.0) {
            if (ns >= n_total) {
                s.invalid += 1.0;
            } else {
                const double rest = n_total - ns;
                s.value += n_dropped * std::log1p(-ns / n_total);
                s.first -= n_dropped / rest;
                s.second -= n_dropped / (rest * rest);
            }
        }
        return s;
    };

    // ln L(n_s) - ln L(0) is concave in n_s, so dTS/dn_s <= 0 at 0 means n_s_hat = 0, TS = 0.
    LlhSums current = evaluate(0.0, false);
    if (!(current.first > 0.0)) return result;

    // Safeguarded Newton on the decreasing derivative: [lo, hi] brackets the root (derivative
    // > 0 at lo; < 0 or outside the domain at hi); a step leaving the bracket bisects instead.
    double ns = 0.0, lo = 0.0, hi = n_total;
    current.value = 0.0;
    bool have_value = true;
    double candidate = ns_start > 0.0 && ns_start < hi ? ns_start : -current.first / current.second;
    for (int step = 0; step < settings_.max_newton_steps; ++step) {
        if (!(candidate > lo && candidate < hi)) candidate = 0.5 * (lo + hi);
        // Near convergence, take the log-likelihood in the same pass: it is then usually the
        // last one, which saves a separate value pass.
        const bool with_value = std::abs(candidate - ns) < 1e-3 * std::max(1.0, ns);
        const LlhSums s = evaluate(candidate, with_value);
        if (s.invalid > 0.0) {
            hi = candidate;
            candidate = ns - current.first / current.second;  // re-tried inside the new bracket
            continue;
        }
        if (s.first > 0.0)
            lo = candidate;
        else
            hi = candidate;
        ns = candidate;
        current = s;
        have_value = with_value;
        const double delta = -s.first / s.second;
        const double tolerance = settings_.ns_tolerance * std::max(1.0, ns);
        if (std::abs(delta) < tolerance || s.first == 0.0 || hi - lo < tolerance) break;
        candidate = ns + delta;
    }
    if (!have_value) current.value = evaluate(ns, true).value;
    result.ns = ns;
    result.ts = std::max(0.0, 2.0 * current.value);
    return result;
}

FitResult PointSourceFitter::fit_ns(const double* sob, std::size_t n_local,
                                    const EventTotals& totals, const ReduceSum& reduce,
                                    double gamma)
{
    check_totals(totals);
    double* w = workspace(n_local);
    std::copy(sob, sob + n_local, w);
    sob_to_scaled_excess(w, n_local, totals.n_total);
    FitResult r = maximise_ns(n_local, totals, reduce, 0.0);
    r.gamma = gamma;
    return r;
}

FitResult PointSourceFitter::fit_ns_excess(const double* excess, std::size_t n_local,
                                           const EventTotals& totals, const ReduceSum& reduce,
                                           double gamma)
{
    check_totals(totals);
    double* w = workspace(n_local);
    const double inv_n = 1.0 / totals.n_total;
    for (std::size_t i = 0; i < n_local; ++i) w[i] = excess[i] * inv_n;
    FitResult r = maximise_ns(n_local, totals, reduce, 0.0);
    r.gamma = gamma;
    return r;
}

FitResult PointSourceFitter::fit(const SobAtGamma& sob_at_gamma, std::size_t n_local,
                                 const EventTotals& totals, const ReduceSum& reduce)
{
    check_totals(totals);
    double* w = workspace(n_local);
    FitResult best;
    best.ts = -1.0;
    int evaluations = 0;
    double warm_start = 0.0;
    // -TS(gamma) profiled over n_s; Brent minimises it. Every rank sees the same reduced TS,
    // so Brent's sequence of gammas is identical on all ranks.
    auto negative_ts = [&](double gamma) {
        sob_at_gamma(gamma, w);
        sob_to_scaled_excess(w, n_local, totals.n_total);
        FitResult r = maximise_ns(n_local, totals, reduce, warm_start);
        evaluations += r.n_evaluations;
        warm_start = r.ns;  // n_s_hat moves slowly with gamma
        if (r.ts > best.ts) {
            best = r;
            best.gamma = gamma;
        }
        return -r.ts;
    };
    if (settings_.gamma_max == settings_.gamma_min) {
        negative_ts(settings_.gamma_min);
    } else {
        std::uintmax_t max_steps = static_cast<std::uintmax_t>(settings_.max_gamma_steps);
        boost::math::tools::brent_find_minima(negative_ts, settings_.gamma_min,
                                              settings_.gamma_max, settings_.gamma_bits,
                                              max_steps);
    }
    best.n_evaluations = evaluations;
    return best;
}

FitResult PointSourceFitter::fit(const Eigen::ArrayXd& spatial_sob, const EventEnergyRatios& ratios,
                                 const EventTotals& totals, const ReduceSum& reduce)
{
    if (ratios.n_events() != spatial_sob.size())
        throw Error("point-source fit: " + std::to_string(spatial_sob.size()) +
                    " spatial S/B values but energy ratios for " +
                    std::to_string(ratios.n_events()) + " events");
    const double* factor = spatial_sob.data();
    return fit([&](double gamma, double* out) { ratios.multiply(gamma, factor, out); },
               static_cast<std::size_t>(spatial_sob.size()), totals, reduce);
}

FitResult fit_ns_only(const Eigen::ArrayXd& sob, const EventTotals& totals,
                      const ReduceSum& reduce, const FitSettings& settings)
{
    PointSourceFitter fitter(settings);
    return fitter.fit_ns(sob.data(), static_cast<std::size_t>(sob.size()), totals, reduce);
}

FitResult fit_ns_gamma(const Eigen::ArrayXd& spatial_sob, const EventEnergyRatios& ratios,
                       const EventTotals& totals, const ReduceSum& reduce,
                       const FitSettings& settings)
{
    PointSourceFitter fitter(settings);
    return fitter.fit(spatial_sob, ratios, totals, reduce);
}

double ts_at(const Eigen::ArrayXd& sob, double ns, const EventTotals& totals,
             const ReduceSum& reduce)
{
    check_totals(totals);
    const Eigen::ArrayXd a = (sob - 1.0) / totals.n_total;
    const LlhSums local = local_llh_sums(a.data(), static_cast<std::size_t>(a.size()), ns, true);
    double sums[2] = {local.value, local.invalid};
    reduce(sums, 2);
    if (sums[1] > 0.0) throw Error("ts_at: n_s outside the likelihood's domain");
    double value = sums[0];
    const double n_dropped = totals.n_total - totals.n_kept;
    if (n_dropped > 0.0) value += n_dropped * std::log1p(-ns / totals.n_total);
    return 2.0 * value;
}

}  // namespace nusky

#include "likelihood/common/ps_fit.hpp"

#include "nusky/error.hpp"

#include <boost/math/tools/minima.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>

namespace nusky {

void reduce_nothing(double*, int) {}

namespace {

// n_s = 0 without the value (the first pass of every fit that starts at 0, and the only pass of
// the fits that end at n_s_hat = 0): every argument 1 + 0 a_i is exactly 1, so q_i = a_i and the
// sums need no division. Bit-identical to the general loop for finite a_i; a non-finite a_i
// (whose argument would be NaN) marks the point invalid, as there.
LlhSums llh_sums_at_zero(const double* a, std::size_t n)
{
    using Block = Eigen::Array<double, 8, 1>;
    constexpr std::size_t lanes = 8;
    Block first = Block::Zero(), second = Block::Zero(), nonfinite = Block::Zero();
    std::size_t i = 0;
    for (; i + lanes <= n; i += lanes) {
        const Block av = Block::Map(a + i);
        first += av;
        second -= av * av;
        nonfinite += av * 0.0;  // NaN when some a_i is infinite or NaN
    }
    LlhSums sums;
    double flag = nonfinite.sum();
    for (; i < n; ++i) {
        sums.first += a[i];
        sums.second -= a[i] * a[i];
        flag += a[i] * 0.0;
    }
    sums.first += first.sum();
    sums.second += second.sum();
    sums.invalid = std::isnan(flag) || std::isnan(sums.first) ? 1.0 : 0.0;
    return sums;
}

}  // namespace

LlhSums local_llh_sums(const double* a, std::size_t n, double ns, bool with_value)
{
    if (ns == 0.0 && !with_value) return llh_sums_at_zero(a, n);

    // This is the fit's hot loop (several passes per fit over every event). It works on blocks
    // of eight events as Eigen fixed-size arrays, which Eigen compiles to SIMD (the divisions
    // dominate), with independent per-lane accumulators. A domain violation is detected
    // through the smallest argument.
    //
    // The value needs no log per event: sum ln(arg) = ln(prod arg). Each block's product of
    // eight arguments (each in (0, max S R / B]) is multiplied into a running product kept in
    // [1, 2) by moving its binary exponent into an integer, so one log is taken per pass.
    // Rounding adds ~1e-16 per block to the value (~1e-12 for 60k events), far below any TS
    // that matters. A block whose product leaves (1e-300, 1e300) (never in practice, or an
    // invalid argument) falls back to per-event log1p.
    using Block = Eigen::Array<double, 8, 1>;
    constexpr std::size_t lanes = 8;
    Block first = Block::Zero(), second = Block::Zero();
    Block smallest_arg = Block::Constant(1.0);
    double value = 0.0;
    double mantissa = 1.0;
    std::int64_t binary_exponent = 0;
    std::size_t i = 0;
    for (; i + lanes <= n; i += lanes) {
        const Block av = Block::Map(a + i);
        const Block arg = 1.0 + ns * av;
        smallest_arg = smallest_arg.min(arg);
        const Block q = av / arg;
        first += q;
        second -= q * q;
        if (with_value) {
            const double product =
                ((arg[0] * arg[1]) * (arg[2] * arg[3])) * ((arg[4] * arg[5]) * (arg[6] * arg[7]));
            if (product > 1e-300 && product < 1e300) {
                // mantissa in [1, 2) times product stays a normal positive double.
                auto bits = std::bit_cast<std::uint64_t>(mantissa * product);
                binary_exponent += static_cast<std::int64_t>((bits >> 52) & 0x7ff) - 1023;
                bits = (bits & ~(std::uint64_t{0x7ff} << 52)) | (std::uint64_t{1023} << 52);
                mantissa = std::bit_cast<double>(bits);
            } else {
                for (std::size_t j = 0; j < lanes; ++j) value += std::log1p(ns * a[i + j]);
            }
        }
    }
    if (with_value)
        value += std::log(mantissa) + static_cast<double>(binary_exponent) * std::numbers::ln2;
    LlhSums sums;
    double smallest = smallest_arg.minCoeff();
    for (; i < n; ++i) {
        const double arg = 1.0 + ns * a[i];
        smallest = std::min(smallest, arg);
        const double q = a[i] / arg;
        sums.first += q;
        sums.second -= q * q;
        if (with_value) sums.value += std::log1p(ns * a[i]);
    }
    sums.first += first.sum();
    sums.second += second.sum();
    sums.value += value;
    // NaN (from a NaN or infinite S R / B) also marks the point invalid.
    sums.invalid = smallest <= 0.0 || std::isnan(smallest) || std::isnan(sums.first) ? 1.0 : 0.0;
    return sums;
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
    if (!(settings_.ns_tolerance > 0.0) || !(settings_.ts_tolerance > 0.0) ||
        settings_.max_newton_steps < 1 || settings_.gamma_bits < 2 || settings_.max_gamma_steps < 1)
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

    // Safeguarded Newton on the derivative, which is decreasing (ln L is concave in n_s):
    // [lo, hi] brackets the maximum (derivative > 0 at lo; < 0 or outside the domain at hi);
    // a step leaving the bracket bisects instead.
    double ns = 0.0, lo = 0.0, hi = n_total;
    LlhSums current;
    bool have_point = false;
    // Warm start (the previous gamma's n_s): a positive derivative there also proves the
    // derivative at 0 positive, which saves the pass at n_s = 0.
    if (ns_start > 0.0 && ns_start < n_total) {
        const LlhSums s = evaluate(ns_start, true);
        if (s.invalid == 0.0 && s.first > 0.0) {
            ns = lo = ns_start;
            current = s;
            have_point = true;
        } else {
            hi = ns_start;
        }
    }
    if (!have_point) {
        current = evaluate(0.0, false);
        // Every argument is 1 at n_s = 0: only non-finite input can be invalid there (the same
        // on all ranks, since the flag is reduced).
        if (current.invalid > 0.0)
            throw Error("point-source fit: non-finite S R / B (NaN, or B = 0) among the events");
        // Derivative <= 0 at 0: n_s_hat = 0, TS = 0.
        if (!(current.first > 0.0)) return result;
        current.value = 0.0;
    }
    // A Newton step gains about first^2 / (2 |second|) in ln L: that is the TS still missing.
    auto missing_ts = [](const LlhSums& s) { return s.first * s.first / -s.second; };
    double candidate = ns - current.first / current.second;
    for (int step = 0; step < settings_.max_newton_steps; ++step) {
        if (!(candidate > lo && candidate < hi)) candidate = 0.5 * (lo + hi);
        // The log-likelihood costs little more than the derivatives (one log per pass, see
        // local_llh_sums), so every pass takes it: the last point needs no extra pass.
        const LlhSums s = evaluate(candidate, true);
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
        const double delta = -s.first / s.second;
        const double tolerance = settings_.ns_tolerance * std::max(1.0, ns);
        if (missing_ts(s) < settings_.ts_tolerance || std::abs(delta) < tolerance ||
            s.first == 0.0 || hi - lo < tolerance)
            break;
        candidate = ns + delta;
    }
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

FitResult PointSourceFitter::fit_ns_prepared(std::size_t n_local, const EventTotals& totals,
                                             const ReduceSum& reduce, double gamma)
{
    check_totals(totals);
    if (work_.size() < n_local) throw Error("point-source fit: scaled excess buffer too small");
    FitResult r = maximise_ns(n_local, totals, reduce, 0.0);
    r.gamma = gamma;
    return r;
}

FitResult PointSourceFitter::fit(const SobAtGamma& sob_at_gamma, std::size_t n_local,
                                 const EventTotals& totals, const ReduceSum& reduce)
{
    const double n_total = totals.n_total;
    return fit_profile(
        [&](double gamma, double* w) {
            sob_at_gamma(gamma, w);
            sob_to_scaled_excess(w, n_local, n_total);
        },
        n_local, totals, reduce);
}

FitResult PointSourceFitter::fit_profile(const ScaledExcessAtGamma& scaled_excess_at_gamma,
                                         std::size_t n_local, const EventTotals& totals,
                                         const ReduceSum& reduce)
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
        scaled_excess_at_gamma(gamma, w);
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
        boost::math::tools::brent_find_minima(negative_ts, settings_.gamma_min, settings_.gamma_max,
                                              settings_.gamma_bits, max_steps);
    }
    best.n_evaluations = evaluations;
    return best;
}

// dTS/dn_s at n_s = 0 is 2 (sum_kept S R(gamma) / B - N) / N (the dropped events add -(N - N') / N).
// S R / B is linear in gamma between grid points (and constant beyond the grid), so when that
// sum is <= N at every grid gamma, n_s_hat = 0 at every gamma: each Brent step would stop after
// its n_s = 0 pass, and the fit ends with TS = 0, n_s = 0 at Brent's first point, gamma_max.
// That is about half of all background trials and scan pixels; the check costs one pass over
// the events (summed per energy cell) instead of ~11 Brent steps of two passes each. The sums
// here are added in another order than the fit's, so only a clear margin (1e-8 relative, far
// above the rounding of either sum) skips the search; near the edge the fit runs as before.
// The result is the same either way, so it does not depend on the rank count.
bool PointSourceFitter::no_excess_at_any_gamma(const double* factor, const Eigen::Index* events,
                                               std::size_t n, const EventEnergyRatios& ratios,
                                               const EventTotals& totals, const ReduceSum& reduce,
                                               FitResult& result)
{
    grid_sums_.resize(static_cast<std::size_t>(ratios.grid().size));
    ratios.grid_sums(factor, events, n, level_sums_, grid_sums_.data());
    reduce(grid_sums_.data(), static_cast<int>(grid_sums_.size()));
    const double limit = totals.n_total * (1.0 - 1e-8);
    for (double s : grid_sums_)
        if (!(s <= limit)) return false;  // also NaN: the fit reports non-finite input
    result = FitResult{};
    result.gamma = settings_.gamma_max;
    return true;
}

FitResult PointSourceFitter::fit(const Eigen::ArrayXd& spatial_sob, const EventEnergyRatios& ratios,
                                 const EventTotals& totals, const ReduceSum& reduce)
{
    if (ratios.n_events() != spatial_sob.size())
        throw Error("point-source fit: " + std::to_string(spatial_sob.size()) +
                    " spatial S/B values but energy ratios for " +
                    std::to_string(ratios.n_events()) + " events");
    const double* factor = spatial_sob.data();
    check_totals(totals);
    FitResult none;
    if (no_excess_at_any_gamma(factor, nullptr, static_cast<std::size_t>(spatial_sob.size()), ratios,
                               totals, reduce, none))
        return none;
    const double inv_n = 1.0 / totals.n_total;
    return fit_profile(
        [&](double gamma, double* out) { ratios.scaled_excess(gamma, factor, inv_n, out); },
        static_cast<std::size_t>(spatial_sob.size()), totals, reduce);
}

FitResult PointSourceFitter::fit(const Eigen::ArrayXd& kept_sob,
                                 const std::vector<Eigen::Index>& kept_events,
                                 const EventEnergyRatios& ratios, const EventTotals& totals,
                                 const ReduceSum& reduce)
{
    if (kept_events.size() != static_cast<std::size_t>(kept_sob.size()))
        throw Error("point-source fit: " + std::to_string(kept_sob.size()) +
                    " kept S/B values but " + std::to_string(kept_events.size()) + " indices");
    return fit(kept_sob.data(), kept_events.data(), kept_events.size(), ratios, totals, reduce);
}

FitResult PointSourceFitter::fit(const double* factor, const Eigen::Index* events, std::size_t n,
                                 const EventEnergyRatios& ratios, const EventTotals& totals,
                                 const ReduceSum& reduce)
{
    for (std::size_t j = 0; j < n; ++j)
        if (events[j] < 0 || events[j] >= ratios.n_events())
            throw Error("point-source fit: kept event index " + std::to_string(events[j]) +
                        " outside the energy-ratio table");
    check_totals(totals);
    FitResult none;
    if (no_excess_at_any_gamma(factor, events, n, ratios, totals, reduce, none)) return none;
    const double inv_n = 1.0 / totals.n_total;
    return fit_profile(
        [&](double gamma, double* out) { ratios.scaled_excess(gamma, factor, events, n, inv_n, out); },
        n, totals, reduce);
}

std::size_t select_events_above(const Eigen::ArrayXd& values, double threshold,
                                std::vector<Eigen::Index>& kept_events, Eigen::ArrayXd& kept_values)
{
    kept_events.clear();
    for (Eigen::Index i = 0; i < values.size(); ++i)
        if (values[i] >= threshold) kept_events.push_back(i);
    kept_values.resize(static_cast<Eigen::Index>(kept_events.size()));
    for (std::size_t j = 0; j < kept_events.size(); ++j) kept_values[j] = values[kept_events[j]];
    return kept_events.size();
}

FitResult fit_ns_only(const Eigen::ArrayXd& sob, const EventTotals& totals, const ReduceSum& reduce,
                      const FitSettings& settings)
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

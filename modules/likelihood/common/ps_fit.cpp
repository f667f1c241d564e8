#include "likelihood/common/ps_fit.hpp"

#include "nusky/error.hpp"

#include <boost/math/tools/minima.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
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

// The gamma sums for one slope (kSides = 1) or two (kSides = 2: both sides of a grid point).
// Blocks of four events: the six accumulators then stay in registers on SSE2.
template <int kSides>
LlhSums slope_sums(const double* a, const double* slope, const double* slope_left, std::size_t n,
                   double ns)
{
    using Block = Eigen::Array<double, 4, 1>;
    constexpr std::size_t lanes = 4;
    Block s1 = Block::Zero(), sm = Block::Zero(), s2 = Block::Zero();
    Block l1 = Block::Zero(), lm = Block::Zero(), l2 = Block::Zero();
    std::size_t i = 0;
    for (; i + lanes <= n; i += lanes) {
        const Block inv = (1.0 + ns * Block::Map(a + i)).inverse();
        const Block r = Block::Map(slope + i) * inv;
        s1 += r;
        sm += r * inv;
        s2 += r * r;
        if constexpr (kSides == 2) {
            const Block rl = Block::Map(slope_left + i) * inv;
            l1 += rl;
            lm += rl * inv;
            l2 += rl * rl;
        }
    }
    LlhSums sums;
    for (; i < n; ++i) {
        const double inv = 1.0 / (1.0 + ns * a[i]);
        const double r = slope[i] * inv;
        sums.slope_1 += r;
        sums.slope_mixed += r * inv;
        sums.slope_2 += r * r;
        if constexpr (kSides == 2) {
            const double rl = slope_left[i] * inv;
            sums.left_1 += rl;
            sums.left_mixed += rl * inv;
            sums.left_2 += rl * rl;
        }
    }
    sums.slope_1 += s1.sum();
    sums.slope_mixed += sm.sum();
    sums.slope_2 += s2.sum();
    sums.left_1 += l1.sum();
    sums.left_mixed += lm.sum();
    sums.left_2 += l2.sum();
    return sums;
}

}  // namespace

LlhSums local_slope_sums(const double* a, const double* slope, const double* slope_left,
                         std::size_t n, double ns)
{
    return slope_left ? slope_sums<2>(a, slope, slope_left, n, ns)
                      : slope_sums<1>(a, slope, nullptr, n, ns);
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
                                         const ReduceSum& reduce, double ns_start,
                                         const double* slope, const double* slope_left,
                                         LlhSums* sums_at_result)
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

    // The gamma sums at the result (one pass, after Newton has converged: a pass with them costs
    // ~2x a plain one, so the Newton passes leave them out).
    auto with_slopes = [&](LlhSums s, double ns) {
        if (!slope) return s;
        const LlhSums local = local_slope_sums(a, slope, slope_left, n_local, ns);
        double v[6] = {local.slope_1, local.slope_mixed, local.slope_2,
                       local.left_1,  local.left_mixed,  local.left_2};
        reduce(v, slope_left ? 6 : 3);
        ++result.n_evaluations;
        s.slope_1 = v[0], s.slope_mixed = v[1], s.slope_2 = v[2];
        s.left_1 = v[3], s.left_mixed = v[4], s.left_2 = v[5];
        return s;
    };

    // Safeguarded Newton on the derivative, which is decreasing (ln L is concave in n_s):
    // [lo, hi] brackets the maximum (derivative > 0 at lo; < 0 or outside the domain at hi);
    // a step leaving the bracket bisects instead.
    double ns = 0.0, lo = 0.0, hi = n_total;
    LlhSums current;
    bool have_point = false;
    // A Newton step gains about first^2 / (2 |second|) in ln L: that is the TS still missing.
    auto missing_ts = [](const LlhSums& s) { return s.first * s.first / -s.second; };
    // Warm start (the previous gamma's n_s): a positive derivative there also proves the
    // derivative at 0 positive, which saves the pass at n_s = 0.
    if (ns_start > 0.0 && ns_start < n_total) {
        const LlhSums s = evaluate(ns_start, true);
        // Already at the maximum (a good warm start): done in one pass.
        if (s.invalid == 0.0 && s.second < 0.0 && missing_ts(s) < settings_.ts_tolerance &&
            ns_start - s.first / s.second > 0.0) {
            result.ns = ns_start;
            result.ts = std::max(0.0, 2.0 * s.value);
            if (sums_at_result) *sums_at_result = with_slopes(s, ns_start);
            return result;
        }
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
        if (!(current.first > 0.0)) {
            if (sums_at_result) *sums_at_result = current;
            return result;
        }
        current.value = 0.0;
    }
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
    if (sums_at_result) *sums_at_result = with_slopes(current, ns);
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

FitResult PointSourceFitter::fit_scaled_excess(const ScaledExcessAtGamma& scaled_excess_at_gamma,
                                               std::size_t n_local, const EventTotals& totals,
                                               const ReduceSum& reduce)
{
    if (totals.n_kept != totals.n_total) throw Error("point-source fit: a scaled-excess fit drops no events");
    return fit_profile(scaled_excess_at_gamma, n_local, totals, reduce, /*check_edges=*/true);
}

FitResult PointSourceFitter::fit_profile(const ScaledExcessAtGamma& scaled_excess_at_gamma,
                                         std::size_t n_local, const EventTotals& totals,
                                         const ReduceSum& reduce, bool check_edges)
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
        const double near = 1e-2 * (settings_.gamma_max - settings_.gamma_min);
        if (check_edges && best.gamma - settings_.gamma_min < near) negative_ts(settings_.gamma_min);
        if (check_edges && settings_.gamma_max - best.gamma < near) negative_ts(settings_.gamma_max);
    }
    best.n_evaluations = evaluations;
    return best;
}

// dTS/dn_s at n_s = 0 is 2 (sum_kept S R(gamma) / B - N) / N (the dropped events add -(N - N') / N).
// S R / B is linear in gamma between grid points (and constant beyond the grid), so when that
// sum is <= N at every grid gamma, n_s_hat = 0 at every gamma and the fit ends with TS = 0,
// n_s = 0 (gamma reported as gamma_max). That is about half of all background trials and scan
// pixels; the check costs one pass over the events (summed per energy cell). The sums here are
// added in another order than the fit's, so only a clear margin (1e-8 relative, far above the
// rounding of either sum) skips the search; near the edge the search runs. The sums stay in
// grid_sums_: the search starts at their largest grid point.
bool PointSourceFitter::no_excess_at_any_gamma(std::span<const FactorisedSob> blocks,
                                               const EventTotals& totals, const ReduceSum& reduce,
                                               FitResult& result)
{
    const auto grid_size = static_cast<std::size_t>(blocks.front().ratios->grid().size);
    grid_sums_.assign(grid_size, 0.0);
    block_sums_.resize(grid_size);
    for (const FactorisedSob& b : blocks) {
        b.ratios->grid_sums(b.factor, b.events, b.n, level_sums_, block_sums_.data());
        for (std::size_t k = 0; k < grid_size; ++k) grid_sums_[k] += block_sums_[k];
    }
    reduce(grid_sums_.data(), static_cast<int>(grid_size));
    const double limit = totals.n_total * (1.0 - 1e-8);
    for (double s : grid_sums_)
        if (!(s <= limit)) return false;  // also NaN: the fit reports non-finite input
    result = FitResult{};
    result.gamma = settings_.gamma_max;
    return true;
}

// The TS profiled over n_s at one gamma. The profile's derivatives follow from the sums at
// (n_s_hat, gamma) (envelope theorem): slope = d lnL/dgamma, curvature = d2 lnL/dgamma2 -
// (d2 lnL/dn_s dgamma)^2 / (d2 lnL/dn_s2). On a grid point (node >= 0) the per-event slopes
// differ on either side, so both sides are given (written and summed in the same passes);
// beyond the grid, where R is clamped, the slope is 0.
struct PointSourceFitter::ProfilePoint {
    double gamma = 0.0;
    FitResult fit;
    double slope_right = 0.0, slope_left = 0.0;
    double curvature_right = 0.0, curvature_left = 0.0;
    // d n_s_hat / d gamma on either side: warm-starts n_s at the next gamma.
    double ns_rate_right = 0.0, ns_rate_left = 0.0;
};

PointSourceFitter::ProfilePoint PointSourceFitter::profile_at(
    std::span<const FactorisedSob> blocks, std::size_t n_local, double gamma, int node,
    const EventTotals& totals, const ReduceSum& reduce, double ns_start, int& evaluations)
{
    const GammaGrid& grid = blocks.front().ratios->grid();
    int k = 0, right_segment = -1, left_segment = -1;
    double t = 0.0;
    if (node >= 0) {
        k = std::min(node, grid.size - 2);
        t = node <= grid.size - 2 ? 0.0 : 1.0;
        right_segment = node <= grid.size - 2 ? node : -1;
        left_segment = node - 1;
    } else {
        grid.locate(gamma, k, t);
        if (gamma > grid.first && gamma < grid.last()) right_segment = left_segment = k;
    }
    // One slope between grid points; both sides at a grid point inside the grid (one pass
    // sums both); at the grid's ends the outer side is flat.
    const bool two_sides = node >= 0 && left_segment >= 0 && right_segment >= 0;
    const int main_segment = right_segment >= 0 ? right_segment : left_segment;
    const double inv_n = 1.0 / totals.n_total;
    double* a = workspace(n_local);
    if (slope_.size() < n_local) slope_.resize(n_local);
    if (two_sides && slope_left_.size() < n_local) slope_left_.resize(n_local);
    double* slope = slope_.data();
    double* slope_left = two_sides ? slope_left_.data() : nullptr;
    std::size_t offset = 0;
    for (const FactorisedSob& b : blocks) {
        b.ratios->excess_on_segment(k, t, main_segment, two_sides ? left_segment : -1, b.factor,
                                    levels_.data() + offset, b.n, inv_n, a + offset, slope + offset,
                                    two_sides ? slope_left + offset : nullptr);
        offset += b.n;
    }
    LlhSums sums;
    ProfilePoint p;
    p.gamma = gamma;
    p.fit = maximise_ns(n_local, totals, reduce, ns_start, slope, slope_left, &sums);
    p.fit.gamma = gamma;
    evaluations += p.fit.n_evaluations;
    const double ns = p.fit.ns;
    if (!(ns > 0.0)) return p;  // TS = 0: flat
    const double h = -sums.second;  // -d2 lnL / dn_s2 > 0
    auto derivatives = [&](double sum_1, double sum_mixed, double sum_2, double& slope_out,
                           double& curvature_out, double& ns_rate_out) {
        slope_out = ns * sum_1;
        curvature_out = -ns * ns * sum_2 + sum_mixed * sum_mixed / h;
        ns_rate_out = sum_mixed / h;  // keeps dlnL/dn_s = 0 along the profile
    };
    double main_slope, main_curvature, main_rate;
    derivatives(sums.slope_1, sums.slope_mixed, sums.slope_2, main_slope, main_curvature, main_rate);
    const bool right_flat = node >= 0 && right_segment < 0, left_flat = node >= 0 && left_segment < 0;
    if (!right_flat) {
        p.slope_right = main_slope;
        p.curvature_right = main_curvature;
        p.ns_rate_right = main_rate;
    }
    if (two_sides)
        derivatives(sums.left_1, sums.left_mixed, sums.left_2, p.slope_left, p.curvature_left, p.ns_rate_left);
    else if (!left_flat) {
        p.slope_left = main_slope;
        p.curvature_left = main_curvature;
        p.ns_rate_left = main_rate;
    }
    return p;
}

// Maximises the profile TS(gamma) on [gamma_min, gamma_max] (see climb below): a search inside
// a bracket [lo, hi] that holds the maximum (slope > 0 just right of lo, < 0 just left of hi),
// first between grid points, then Newton inside one segment; then the ends of the range. Stops
// when a step would gain less than ts_tolerance of TS or move gamma by less than
// gamma_tolerance. Like Brent's method it finds a local maximum; starting where the fit's linear
// term is largest and checking the ends makes it the global one far more often (docs/physics.md).
// Every decision uses reduced sums, so all ranks step alike.
FitResult PointSourceFitter::search_gamma(std::span<const FactorisedSob> blocks, std::size_t n_local,
                                          const EventTotals& totals, const ReduceSum& reduce)
{
    const GammaGrid& grid = blocks.front().ratios->grid();
    const double lower = settings_.gamma_min, upper = settings_.gamma_max;
    const double tolerance = settings_.gamma_tolerance;
    int evaluations = 0;
    // The grid point at gamma, or -1.
    auto node_at = [&](double gamma) {
        if (grid.size < 2) return gamma == grid.first ? 0 : -1;
        const long j = std::lround((gamma - grid.first) / grid.step);
        return j >= 0 && j < grid.size && grid.value(static_cast<int>(j)) == gamma ? static_cast<int>(j) : -1;
    };
    int start = -1;
    for (int j = 0; j < grid.size; ++j) {
        const double g = grid.value(j);
        if (g >= lower && g <= upper && (start < 0 || grid_sums_[static_cast<std::size_t>(j)] >
                                                          grid_sums_[static_cast<std::size_t>(start)]))
            start = j;
    }
    const double start_gamma = start >= 0 ? grid.value(start) : 0.5 * (lower + upper);
    ProfilePoint x = profile_at(blocks, n_local, start_gamma, start >= 0 ? start : node_at(start_gamma),
                                totals, reduce, 0.0, evaluations);
    bool lower_done = x.gamma == lower, upper_done = x.gamma == upper;
    // The profile at gamma (a grid point when node >= 0), n_s warm-started from `from` along
    // its n_s rate.
    auto evaluate_at = [&](const ProfilePoint& from, double gamma, int node) {
        double warm = from.fit.ns;
        if (from.fit.ns > 0.0) {
            const double rate = gamma > from.gamma ? from.ns_rate_right : from.ns_rate_left;
            const double predicted = from.fit.ns + rate * (gamma - from.gamma);
            if (predicted > 0.0) warm = predicted;
        }
        ProfilePoint p = profile_at(blocks, n_local, gamma, node, totals, reduce, warm, evaluations);
        lower_done = lower_done || gamma == lower;
        upper_done = upper_done || gamma == upper;
        return p;
    };
    // A local search from x within [lo, hi]; returns the best point it saw. While the bracket
    // spans several grid segments it steps between grid points (their one-sided slopes say on
    // which side the maximum lies, or that it is the grid point itself); once it is one segment,
    // where the profile is smooth, Newton with the exact curvature finishes.
    auto climb = [&](ProfilePoint x, double lo, double hi) {
        ProfilePoint top = x;
        ProfilePoint previous;  // the last point with n_s > 0 before x (fit.ns = 0: none)
        for (int step = 0; step < settings_.max_gamma_steps; ++step) {
            bool right = true;
            double slope = 0.0, curvature = 0.0;
            const bool flat = !(x.fit.ns > 0.0);
            if (!flat) {
                const bool up = x.gamma < upper && x.slope_right > 0.0;
                const bool down = x.gamma > lower && x.slope_left < 0.0;
                if (!up && !down) break;  // a maximum: smooth, a kink at a grid point, or an end
                right = up && (!down || x.slope_right >= -x.slope_left);  // a V: the steeper side
                (right ? lo : hi) = x.gamma;
                slope = right ? x.slope_right : x.slope_left;
                curvature = right ? x.curvature_right : x.curvature_left;
            } else {
                // n_s_hat = 0 (TS = 0) here: the maximum lies between this point and the best one.
                (x.gamma > top.gamma ? hi : lo) = x.gamma;
            }
            if (hi - lo <= tolerance) break;
            // Grid points strictly inside the bracket: j_first .. j_last.
            int j_first = std::max(0, static_cast<int>(std::floor((lo - grid.first) / grid.step)));
            while (j_first < grid.size && !(grid.value(j_first) > lo)) ++j_first;
            int j_last = std::min(grid.size - 1, static_cast<int>(std::ceil((hi - grid.first) / grid.step)));
            while (j_last >= 0 && !(grid.value(j_last) < hi)) --j_last;
            double candidate = std::numeric_limits<double>::quiet_NaN();
            int node = -1;
            if (j_first <= j_last) {
                // Between grid points R is linear, so the segment's curvature misses the slope's
                // jumps at grid points, which dominate over longer steps: use the secant of the
                // slopes from the previous point (or, at the first, the point's own jump spread
                // over one step) when that curves more.
                double target = 0.5 * (lo + hi);
                if (!flat) {
                    double effective = curvature;
                    if (previous.fit.ns > 0.0) {
                        const bool previous_left = previous.gamma < x.gamma;
                        const double g_previous = previous_left ? previous.slope_right : previous.slope_left;
                        const double g_x = previous_left ? x.slope_left : x.slope_right;
                        effective = std::min(effective, (g_x - g_previous) / (x.gamma - previous.gamma));
                    } else if (x.slope_right != x.slope_left) {
                        effective = std::min(effective, curvature + (x.slope_right - x.slope_left) / grid.step);
                    }
                    if (effective < 0.0) target = x.gamma - slope / effective;
                }
                node = static_cast<int>(std::lround((target - grid.first) / grid.step));
                node = std::clamp(node, j_first, j_last);
                candidate = grid.value(node);
            } else {
                if (!flat && curvature < 0.0) {
                    // A Newton step gains about slope^2 / (2 |curvature|) in ln L, twice that in TS.
                    if (slope * slope / -curvature < settings_.ts_tolerance) break;
                    candidate = x.gamma - slope / curvature;
                }
                if (!(candidate > lo && candidate < hi)) {
                    if (candidate >= hi && hi == upper && !upper_done)
                        candidate = upper;
                    else if (candidate <= lo && lo == lower && !lower_done)
                        candidate = lower;
                    else
                        candidate = 0.5 * (lo + hi);
                }
                if (std::abs(candidate - x.gamma) < 0.5 * tolerance) break;
                node = node_at(candidate);
            }
            if (!flat) previous = x;
            x = evaluate_at(flat ? top : x, candidate, node);
            if (x.fit.ts > top.fit.ts) top = x;
        }
        return top;
    };
    // Where the sum of S R / B is <= N at a grid point, n_s_hat = 0 there (TS = 0): the
    // maximum around the start lies between the nearest such points.
    const double limit = totals.n_total * (1.0 - 1e-8);
    auto zero_at = [&](int j) { return j >= 0 && j < grid.size && grid_sums_[static_cast<std::size_t>(j)] <= limit; };
    double lo = lower, hi = upper;
    if (start >= 0) {
        for (int j = start - 1; j >= 0 && grid.value(j) > lower; --j)
            if (zero_at(j)) {
                lo = grid.value(j);
                break;
            }
        for (int j = start + 1; j < grid.size && grid.value(j) < upper; ++j)
            if (zero_at(j)) {
                hi = grid.value(j);
                break;
            }
    }
    ProfilePoint best = climb(x, lo, hi);
    // The ends of the range, unless the search reached them: background often has a second
    // local maximum there (soft events at gamma_max, one high-energy event at gamma_min). An end
    // with a larger TS is the maximum, or starts a search toward the first one. On the simulated
    // cascade sky the search then misses the best TS of a 0.005-step gamma scan by more than
    // 1e-3 in 1 of 369 fitted pixels (Brent's method: 9).
    for (int e = 0; e < 2 && upper > lower && grid.size > 1; ++e) {
        const bool at_upper = e == 0;
        if (at_upper ? upper_done : lower_done) continue;
        const double g = at_upper ? upper : lower;
        if (zero_at(node_at(g))) continue;  // TS = 0 there
        const ProfilePoint end = evaluate_at(best, g, node_at(g));
        if (!(end.fit.ts > best.fit.ts)) continue;
        const ProfilePoint top = at_upper ? climb(end, best.gamma, upper) : climb(end, lower, best.gamma);
        best = top.fit.ts > end.fit.ts ? top : end;
    }
    FitResult result = best.fit;
    result.gamma = best.gamma;
    result.n_evaluations = evaluations;
    return result;
}

FitResult PointSourceFitter::fit(std::span<const FactorisedSob> blocks, const EventTotals& totals,
                                 const ReduceSum& reduce)
{
    if (blocks.empty()) throw Error("point-source fit: no event blocks");
    const GammaGrid& grid = blocks.front().ratios->grid();
    std::size_t n_local = 0;
    for (const FactorisedSob& b : blocks) {
        const GammaGrid& g = b.ratios->grid();
        if (g.first != grid.first || g.step != grid.step || g.size != grid.size)
            throw Error("point-source fit: event blocks on different gamma grids");
        n_local += b.n;
    }
    // Each event's energy-PDF cell, looked up once per fit (the search's passes reuse it).
    if (levels_.size() < n_local) levels_.resize(n_local);
    std::size_t offset = 0;
    for (const FactorisedSob& b : blocks) {
        try {
            b.ratios->levels_of(b.events, b.n, levels_.data() + offset);
        } catch (const Error& e) {
            throw Error(std::string("point-source fit: ") + e.what());
        }
        offset += b.n;
    }
    check_totals(totals);
    FitResult none;
    if (no_excess_at_any_gamma(blocks, totals, reduce, none)) return none;
    return search_gamma(blocks, n_local, totals, reduce);
}

FitResult PointSourceFitter::fit(const Eigen::ArrayXd& spatial_sob, const EventEnergyRatios& ratios,
                                 const EventTotals& totals, const ReduceSum& reduce)
{
    const FactorisedSob block{spatial_sob.data(), nullptr, static_cast<std::size_t>(spatial_sob.size()), &ratios};
    return fit(std::span<const FactorisedSob>(&block, 1), totals, reduce);
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
    const FactorisedSob block{factor, events, n, &ratios};
    return fit(std::span<const FactorisedSob>(&block, 1), totals, reduce);
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

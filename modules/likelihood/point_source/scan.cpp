#include "likelihood/point_source/scan.hpp"

#include "nusky/error.hpp"
#include "nusky/h5.hpp"
#include "nusky/log.hpp"
#include "nusky/tasks.hpp"
#include "nusky/trials.hpp"

#include <boost/math/distributions/chi_squared.hpp>
#include <healpix_base.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <numeric>

namespace nusky {

namespace {

constexpr double kPi = std::numbers::pi;

double now_s()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Angular margin on the declination pre-selection, so that rounding between angles and
// chords never drops an event the chord test would keep.
constexpr double kReachMargin = 1e-9;

// The kept candidates (d2[j] <= d2max[j]) in order: their exponents -kappa d2 / 2, N / B and
// sorted indices; returns how many. Separate, with restrict pointers, so the compiler keeps the
// count in a register (stores through Eigen::Index* could otherwise alias it).
Eigen::Index compact_kept(Eigen::Index m, const double* __restrict d2, const double* __restrict d2max,
                          const double* __restrict neg_half_kappa, const double* __restrict norm,
                          const Eigen::Index* __restrict index, double* __restrict exponent,
                          double* __restrict kept_norm, Eigen::Index* __restrict kept)
{
    Eigen::Index n = 0;
    for (Eigen::Index j = 0; j < m; ++j) {
        const double d = d2[j];
        exponent[n] = neg_half_kappa[j] * d;
        kept_norm[n] = norm[j];
        kept[n] = index[j];
        n += d <= d2max[j] ? 1 : 0;
    }
    return n;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ScanSky

ScanSky::ScanSky(const Events& events, const PointSourcePdfs& pdfs, double sob_threshold)
    : n_(events.size()), original_(events, pdfs, static_cast<double>(events.size())),
      has_energy_(pdfs.energy.has_value()), threshold_(sob_threshold)
{
    if (n_ == 0) throw Error("scan: no events");
    if (n_ > std::numeric_limits<std::int32_t>::max()) throw Error("scan: too many events");
    if (!(sob_threshold >= 0.0)) throw Error("scan: the S/B threshold must be >= 0");
    // Sorted by declination (ties by index: a total order, so every rank sorts alike) so that
    // the events near a declination are a contiguous range.
    order_.resize(static_cast<std::size_t>(n_));
    std::iota(order_.begin(), order_.end(), Eigen::Index{0});
    std::sort(order_.begin(), order_.end(), [&](Eigen::Index a, Eigen::Index b) {
        return events.dec[a] < events.dec[b] || (events.dec[a] == events.dec[b] && a < b);
    });
    auto permute = [&](const Eigen::ArrayXd& column) {
        Eigen::ArrayXd out(n_);
        for (Eigen::Index j = 0; j < n_; ++j) out[j] = column[order_[static_cast<std::size_t>(j)]];
        return out;
    };
    x_ = permute(events.x);
    y_ = permute(events.y);
    observed_x_ = x_;
    observed_y_ = y_;
    z_ = permute(events.z);
    dec_ = permute(events.dec);
    const Eigen::ArrayXd sigma = permute(events.sigma);
    const VmfEventConstants vmf = vmf_event_constants(sigma);
    kappa_ = vmf.kappa;
    Eigen::ArrayXd background;
    pdfs.background.background_density(z_, background);
    norm_over_b_ = vmf.normalisation / background;
    ratios_ = has_energy_ ? pdfs.energy->event_ratios(z_, permute(events.log10_energy))
                          : EventEnergyRatios::unity(n_);
    max_sob_ = norm_over_b_ * ratios_.row_max();

    // Keep event i where max_sob_i exp(-kappa_i d^2 / 2) >= threshold, d the chord to the
    // pixel: d^2 <= 2 ln(max_sob_i / threshold) / kappa_i. Chords never exceed 2, so 5 means
    // "everywhere"; -1 means "nowhere".
    d2max_.resize(n_);
    reach_.resize(n_);
    for (Eigen::Index i = 0; i < n_; ++i) {
        double d2 = 5.0;
        if (threshold_ > 0.0) {
            const double r = max_sob_[i] / threshold_;
            d2 = r > 1.0 ? 2.0 * std::log(r) / kappa_[i] : -1.0;
        }
        d2max_[i] = d2 >= 4.0 ? 5.0 : d2;
        reach_[i] = d2 < 0.0 ? -1.0 : d2 >= 4.0 ? kPi : 2.0 * std::asin(0.5 * std::sqrt(d2));
    }
    cos_reach_ = reach_.cos();
    cos_dec_ = dec_.cos();
}

void ScanSky::load_positions(const Eigen::ArrayXd& x, const Eigen::ArrayXd& y)
{
    for (Eigen::Index j = 0; j < n_; ++j) {
        const auto i = order_[static_cast<std::size_t>(j)];
        x_[j] = x[i];
        y_[j] = y[i];
    }
}

void ScanSky::scramble(std::uint64_t seed, std::int64_t trial)
{
    original_.scramble(seed, trial);
    load_positions(original_.x(), original_.y());
    ++positions_;
}

void ScanSky::restore()
{
    x_ = observed_x_;
    y_ = observed_y_;
    ++positions_;
}

void ScanSky::candidates(double dec, std::vector<std::int32_t>& out) const
{
    out.clear();
    const double max_reach = reach_.maxCoeff();
    if (max_reach < 0.0) return;
    // Only events with |dec_i - dec| <= max reach can be candidates: a contiguous range.
    const double* begin = dec_.data();
    const double* end = begin + n_;
    const double* lo = std::lower_bound(begin, end, dec - max_reach - kReachMargin);
    const double* hi = std::upper_bound(begin, end, dec + max_reach + kReachMargin);
    for (const double* p = lo; p < hi; ++p) {
        const auto i = static_cast<Eigen::Index>(p - begin);
        if (reach_[i] >= 0.0 && std::abs(dec_[i] - dec) <= reach_[i] + kReachMargin)
            out.push_back(static_cast<std::int32_t>(i));
    }
}

double ScanSky::expected_kept(double dec, const std::vector<std::int32_t>& candidates) const
{
    // A cost estimate only (it ranks rings; the pixels do not depend on it): on large samples a
    // regular subsample of at most kCostSample candidates, scaled up, is enough, and keeps the
    // plan (every ring times every candidate, an acos each) from dominating the setup: ~70 s at
    // 1.1 M events and nside 256 without it.
    constexpr std::size_t kCostSample = 16384;
    const std::size_t stride = candidates.size() / kCostSample + 1;
    const double sd = std::sin(dec), cd = std::cos(dec);
    double sum = 0.0;
    for (std::size_t j = 0; j < candidates.size(); j += stride) {
        const std::int32_t i = candidates[j];
        const double psi = reach_[i];
        if (psi >= kPi) {
            sum += 1.0;
            continue;
        }
        const double denom = cd * cos_dec_[i];
        const double c = cos_reach_[i] - sd * z_[i];
        if (denom < 1e-12) {
            sum += c <= 0.0 ? 1.0 : 0.0;  // at a pole: the whole ring or nothing
            continue;
        }
        sum += std::acos(std::clamp(c / denom, -1.0, 1.0)) / kPi;
    }
    return sum * static_cast<double>(stride);
}

void ScanSky::gather(const std::vector<std::int32_t>& candidates, ScanCandidates& out) const
{
    const auto m = static_cast<Eigen::Index>(candidates.size());
    for (Eigen::ArrayXd* a : {&out.x, &out.y, &out.z, &out.d2max, &out.neg_half_kappa, &out.norm_over_b})
        a->resize(m);
    out.index.resize(candidates.size());
    for (Eigen::Index j = 0; j < m; ++j) {
        const std::int32_t i = candidates[static_cast<std::size_t>(j)];
        out.x[j] = x_[i];
        out.y[j] = y_[i];
        out.z[j] = z_[i];
        out.d2max[j] = d2max_[i];
        out.neg_half_kappa[j] = -0.5 * kappa_[i];
        out.norm_over_b[j] = norm_over_b_[i];
        out.index[static_cast<std::size_t>(j)] = i;
    }
    out.positions = positions_;
}

PixelFit ScanSky::fit(const UnitVector& source, const std::vector<std::int32_t>& candidates)
{
    gather(candidates, gathered_);
    return fit(source, gathered_);
}

PixelFit ScanSky::fit(const UnitVector& source, const ScanCandidates& candidates)
{
    if (candidates.positions != positions_) throw Error("scan: candidates gathered before the last scramble");
    const Eigen::Index m = candidates.size();
    if (d2_.size() < m) {
        d2_.resize(m);
        kept_sob_.resize(m);
        kept_norm_.resize(m);
        kept_.resize(static_cast<std::size_t>(m));
    }
    // Chord lengths to the pixel: a contiguous, branch-free loop the compiler vectorises.
    {
        const double *x = candidates.x.data(), *y = candidates.y.data(), *z = candidates.z.data();
        double* d2 = d2_.data();
        for (Eigen::Index j = 0; j < m; ++j) {
            const double dx = x[j] - source.x, dy = y[j] - source.y, dz = z[j] - source.z;
            d2[j] = dx * dx + dy * dy + dz * dz;
        }
    }
    // Compaction of the kept events, in candidate (sorted) order, without branches (a few
    // percent of the candidates are dropped, scattered over the list: a branch would
    // mispredict): every candidate is written to the next free slot, which only advances when
    // the candidate is kept.
    const std::size_t n = static_cast<std::size_t>(
        compact_kept(m, d2_.data(), candidates.d2max.data(), candidates.neg_half_kappa.data(),
                     candidates.norm_over_b.data(), candidates.index.data(), kept_sob_.data(),
                     kept_norm_.data(), kept_.data()));
    // Eigen's vectorised exp over all kept exponents (as PointSourceEvents does; several times
    // faster than libm's scalar exp, within an ulp or two of it), times N_i / B_i.
    const auto n_kept = static_cast<Eigen::Index>(n);
    kept_sob_.head(n_kept) = kept_sob_.head(n_kept).exp() * kept_norm_.head(n_kept);
    PixelFit out;
    out.n_kept = static_cast<std::int64_t>(n);
    if (n == 0) return out;
    const double n_total = static_cast<double>(n_);
    const EventTotals totals{n_total, static_cast<double>(n)};
    // Pixels without an excess at any gamma (about half the sky) cost one pass: see
    // PointSourceFitter::no_excess_at_any_gamma.
    FitResult r;
    if (has_energy_) {
        // Raw storage: no per-pixel allocation.
        r = fitter_.fit(kept_sob_.data(), kept_.data(), n, ratios_, totals, reduce_nothing);
    } else {
        r = fitter_.fit_ns(kept_sob_.data(), n, totals, reduce_nothing);
        r.gamma = std::numeric_limits<double>::quiet_NaN();
    }
    out.ts = r.ts;
    out.ns = r.ns;
    // gamma is undefined without signal.
    out.gamma = r.ns > 0.0 ? r.gamma : std::numeric_limits<double>::quiet_NaN();
    return out;
}

// ---------------------------------------------------------------------------------------------
// Rings and their cost

namespace {

// Cost model constants, in units of one candidate test (a chord length and a compare): a kept
// event costs an exp, the 31-point gamma-grid check and, on the ~half of the pixels that are
// fitted, ~15 Brent steps of a few Newton passes each; a pixel has a fixed setup cost. The
// estimate is checked where it matters, by the ranks' measured wall times (/scan/rank_seconds,
// the logged "load balance max/mean": 1.01-1.03 on 2 ranks for the simulated skies, see
// docs/scan.md); the model only has to rank the rings' costs right, not predict seconds.
constexpr double kCandidateCost = 1.0;
constexpr double kKeptCost = 40.0;
constexpr double kPixelCost = 2000.0;

}  // namespace

RingPlan plan_rings(const ScanSky& sky, int nside)
{
    Healpix_Base base(nside, RING, SET_NSIDE);
    RingPlan plan;
    plan.nside = nside;
    plan.npix = base.Npix();
    const int n_rings = 4 * nside - 1;
    std::vector<std::int32_t> candidates;
    for (int ring = 1; ring <= n_rings; ++ring) {
        int start = 0, count = 0;
        double theta = 0.0;
        bool shifted = false;
        base.get_ring_info2(ring, start, count, theta, shifted);
        plan.first_pixel.push_back(start);
        plan.n_pixels.push_back(count);
        plan.theta.push_back(theta);
        const double dec = 0.5 * kPi - theta;
        sky.candidates(dec, candidates);
        const double kept = sky.expected_kept(dec, candidates);
        plan.n_candidates.push_back(static_cast<double>(candidates.size()));
        plan.n_expected_kept.push_back(kept);
        plan.cost.push_back(count * (kCandidateCost * candidates.size() + kKeptCost * kept + kPixelCost));
    }
    return plan;
}

std::vector<int> split_rings(const std::vector<double>& cost, int n_groups)
{
    if (n_groups < 1) throw Error("split_rings: need at least one group");
    const int n = static_cast<int>(cost.size());
    std::vector<double> prefix(static_cast<std::size_t>(n) + 1, 0.0);
    for (int r = 0; r < n; ++r) prefix[r + 1] = prefix[r] + cost[r];
    const double total = prefix.back();
    std::vector<int> bounds(static_cast<std::size_t>(n_groups) + 1, 0);
    bounds.back() = n;
    for (int g = 1; g < n_groups; ++g) {
        const double target = total * g / n_groups;
        int b = static_cast<int>(std::lower_bound(prefix.begin(), prefix.end(), target) - prefix.begin());
        // The boundary nearer to the target share.
        if (b > 0 && b <= n && target - prefix[b - 1] < prefix[b] - target) --b;
        // At least one ring per group while rings last.
        const int min_b = bounds[g - 1] + (n >= n_groups ? 1 : 0);
        const int max_b = n >= n_groups ? n - (n_groups - g) : n;
        bounds[g] = std::clamp(b, min_b, std::max(min_b, max_b));
    }
    return bounds;
}

ScanBlock scan_rings(ScanSky& sky, const RingPlan& plan, int ring_begin, int ring_end,
                     const std::function<void(std::int64_t)>& progress)
{
    Healpix_Base base(plan.nside, RING, SET_NSIDE);
    ScanBlock block;
    block.first_pixel = ring_begin < ring_end ? plan.first_pixel[ring_begin] : 0;
    std::vector<std::int32_t> candidates;
    ScanCandidates gathered;
    std::int64_t done = 0;
    for (int r = ring_begin; r < ring_end; ++r) {
        const double ring_dec = 0.5 * kPi - plan.theta[r];
        // One candidate list and one gather per ring, shared by the ring's pixels.
        sky.candidates(ring_dec, candidates);
        sky.gather(candidates, gathered);
        for (std::int64_t p = plan.first_pixel[r]; p < plan.first_pixel[r] + plan.n_pixels[r]; ++p) {
            const pointing ang = base.pix2ang(static_cast<int>(p));
            const double dec = 0.5 * kPi - ang.theta;
            const PixelFit f = sky.fit(unit_vector(ang.phi, dec), gathered);
            block.ts.push_back(f.ts);
            block.ns.push_back(f.ns);
            block.gamma.push_back(f.gamma);
            block.ra.push_back(ang.phi);
            block.dec.push_back(dec);
            block.n_kept.push_back(f.n_kept);
        }
        done += plan.n_pixels[r];
        if (progress) progress(done);
    }
    return block;
}

// ---------------------------------------------------------------------------------------------
// Background TS and local p-values

namespace {

double log_chi2_sf(double ndf, double ts)
{
    boost::math::chi_squared_distribution<double> dist(ndf);
    const double sf = boost::math::cdf(boost::math::complement(dist, ts));
    return std::log(std::max(sf, 1e-300));
}

}  // namespace

BackgroundTs::Tail BackgroundTs::fit_tail(const std::vector<double>& sorted, std::size_t n_trials)
{
    Tail tail;
    std::size_t positive = 0;
    while (positive < sorted.size() && sorted[positive] > 0.0) ++positive;
    // The largest 10% of the trials, at least 10 points; fewer than 5 positive: no fit.
    const std::size_t n_tail = std::min(positive, std::max<std::size_t>(10, n_trials / 10));
    if (n_tail < 5) return tail;
    auto sse = [&](double ndf, double& log_eta) {
        double mean = 0.0;
        std::vector<double> residual(n_tail);
        for (std::size_t j = 0; j < n_tail; ++j) {
            // Plotting position (j - 1/2) / n of the j-th largest: unbiased in the far tail,
            // where j / n would overstate p by up to a factor 2.
            const double log_p = std::log((static_cast<double>(j) + 0.5) / static_cast<double>(n_trials));
            residual[j] = log_p - log_chi2_sf(ndf, sorted[j]);
            mean += residual[j];
        }
        log_eta = std::min(0.0, mean / static_cast<double>(n_tail));  // eta <= 1
        double s = 0.0;
        for (double r : residual) s += (r - log_eta) * (r - log_eta);
        return s;
    };
    // ndf on a log grid over [0.1, 30], then golden-section refinement around the best point.
    double best_ndf = 1.0, best_sse = std::numeric_limits<double>::infinity(), log_eta = 0.0;
    const int n_grid = 120;
    const double lo = std::log(0.1), hi = std::log(30.0), step = (hi - lo) / (n_grid - 1);
    for (int g = 0; g < n_grid; ++g) {
        const double ndf = std::exp(lo + step * g);
        const double s = sse(ndf, log_eta);
        if (s < best_sse) best_sse = s, best_ndf = ndf;
    }
    double a = std::log(best_ndf) - step, b = std::log(best_ndf) + step;
    const double phi = 0.5 * (std::sqrt(5.0) - 1.0);
    for (int it = 0; it < 40; ++it) {
        const double c = b - phi * (b - a), d = a + phi * (b - a);
        if (sse(std::exp(c), log_eta) < sse(std::exp(d), log_eta)) b = d;
        else a = c;
    }
    tail.ndf = std::exp(0.5 * (a + b));
    sse(tail.ndf, log_eta);
    tail.eta = std::exp(log_eta);
    return tail;
}

BackgroundTs::BackgroundTs(std::vector<double> nodes, const std::vector<double>& ts)
    : nodes_(std::move(nodes))
{
    const std::size_t k = nodes_.size();
    if (k == 0) throw Error("background TS: no declinations");
    if (ts.empty() || ts.size() % k != 0)
        throw Error("background TS: " + std::to_string(ts.size()) + " values for " + std::to_string(k) +
                    " declinations");
    for (std::size_t i = 1; i < k; ++i)
        if (!(nodes_[i] > nodes_[i - 1])) throw Error("background TS: declinations must increase");
    n_trials_ = ts.size() / k;
    sorted_.assign(k, {});
    for (std::size_t node = 0; node < k; ++node) {
        auto& s = sorted_[node];
        s.reserve(n_trials_);
        for (std::size_t t = 0; t < n_trials_; ++t) {
            const double v = ts[t * k + node];
            if (!std::isfinite(v)) throw Error("background TS: non-finite value");
            s.push_back(v);
        }
        std::sort(s.begin(), s.end(), std::greater<double>());
        tails_.push_back(fit_tail(s, n_trials_));
    }
}

double BackgroundTs::mlog10p_at_node(std::size_t k, double ts) const
{
    if (!(ts > 0.0)) return 0.0;  // every trial has TS >= 0: p = 1
    const auto& s = sorted_[k];
    const double n = static_cast<double>(n_trials_);
    // Trials with TS >= ts: a prefix of the descending list.
    const auto count = static_cast<double>(
        std::partition_point(s.begin(), s.end(), [&](double v) { return v >= ts; }) - s.begin());
    double p;
    if (count > 0.0) {
        p = count / n;
    } else if (std::isfinite(tails_[k].ndf)) {
        // Beyond every trial: the fitted tail, never above the last empirical step 1/n.
        p = std::min(1.0 / n, tails_[k].eta * std::exp(log_chi2_sf(tails_[k].ndf, ts)));
    } else {
        p = 1.0 / n;  // no tail fit possible: only the bound
    }
    return -std::log10(std::max(p, 1e-300));
}

double BackgroundTs::mlog10p(double sin_dec, double ts) const
{
    if (nodes_.size() == 1 || sin_dec <= nodes_.front()) return mlog10p_at_node(0, ts);
    if (sin_dec >= nodes_.back()) return mlog10p_at_node(nodes_.size() - 1, ts);
    const std::size_t k = static_cast<std::size_t>(
        std::upper_bound(nodes_.begin(), nodes_.end(), sin_dec) - nodes_.begin() - 1);
    const double t = (sin_dec - nodes_[k]) / (nodes_[k + 1] - nodes_[k]);
    return (1.0 - t) * mlog10p_at_node(k, ts) + t * mlog10p_at_node(k + 1, ts);
}

std::vector<double> background_trials(ScanSky& sky, const std::vector<double>& nodes, TrialCampaign campaign,
                                      const Comm& comm)
{
    const auto K = static_cast<std::int64_t>(nodes.size());
    std::vector<std::vector<std::int32_t>> candidates(nodes.size());
    std::vector<ScanCandidates> gathered(nodes.size());
    std::vector<UnitVector> sources;
    for (std::size_t k = 0; k < nodes.size(); ++k) {
        const double dec = std::asin(nodes[k]);
        sky.candidates(dec, candidates[k]);
        sources.push_back(unit_vector(0.0, dec));
    }
    // One campaign row per (trial, declination), row t K + k: checkpointed and resumable like
    // any trials campaign, on any rank count. A rank's rows come in order, so each scrambled sky
    // is made once (twice where a rank's block starts inside a trial).
    campaign.first_trial = 0;
    campaign.n_trials *= K;
    std::int64_t scrambled = -1;
    const TrialBlock block = run_trial_campaign(campaign, comm, [&](std::int64_t row) {
        const std::int64_t t = row / K;
        const auto k = static_cast<std::size_t>(row % K);
        if (t != scrambled) {
            sky.scramble(campaign.seed, kBackgroundStream + t);
            scrambled = t;
        }
        sky.gather(candidates[k], gathered[k]);  // this trial's right ascensions
        const auto r = sky.fit(sources[k], gathered[k]);
        return TrialResult{r.ts, r.ns, r.gamma};
    });
    sky.restore();
    std::vector<double> local;
    local.reserve(block.results.size());
    for (const auto& r : block.results) local.push_back(r.ts);
    return comm.allgather(local);
}

BackgroundTs read_background_trials(const std::string& path)
{
    if (!is_hdf5_file(path)) throw Error(path + ": not an HDF5 results file (likelihood.background_trials)");
    auto file = h5_open_serial(path);
    if (h5_exists(file, "/scan_background/ts")) {
        auto nk = h5_dataset_length(file, path, "/scan_background/sin_dec");
        auto nodes = h5_read_doubles(file, path, "/scan_background/sin_dec", 0, nk);
        auto n = h5_dataset_length(file, path, "/scan_background/ts");
        auto ts = h5_read_doubles(file, path, "/scan_background/ts", 0, n);
        try {
            return BackgroundTs(nodes, ts);
        } catch (const Error& e) {
            throw Error(path + ": /scan_background: " + e.what());
        }
    }
    if (h5_exists(file, "/trials/ts")) {
        auto n = h5_dataset_length(file, path, "/trials/ts");
        auto ts = h5_read_doubles(file, path, "/trials/ts", 0, n);
        const double dec_deg = h5_read_double_attribute(file, path, "/fit", "dec_deg");
        try {
            return BackgroundTs({std::sin(dec_deg * kPi / 180.0)}, ts);
        } catch (const Error& e) {
            throw Error(path + ": /trials: " + e.what());
        }
    }
    throw Error(path + ": no /scan_background/ts or /trials/ts (likelihood.background_trials needs a "
                       "scan or point_source trials results file)");
}

// ---------------------------------------------------------------------------------------------
// The task

namespace {

struct Hotspot {
    double key = -std::numeric_limits<double>::infinity();
    double pixel = -1, ra = 0, dec = 0, ts = 0, ns = 0, gamma = 0, mlog10p = 0;
};

// The best pixel per hemisphere (0 north: dec >= 0, 1 south) of this rank's block by `key`
// (-log10 p, or TS without background), ties to the lower pixel; then the best over ranks.
std::array<Hotspot, 2> hottest(const ScanBlock& block, const std::vector<double>& mlog10p, bool by_p,
                               const Comm& comm)
{
    std::array<Hotspot, 2> local;
    for (std::size_t j = 0; j < block.ts.size(); ++j) {
        const int h = block.dec[j] >= 0.0 ? 0 : 1;
        const double key = by_p ? mlog10p[j] : block.ts[j];
        if (key > local[h].key) {
            local[h] = {key,          static_cast<double>(block.first_pixel + static_cast<std::int64_t>(j)),
                        block.ra[j],  block.dec[j],
                        block.ts[j],  block.ns[j],
                        block.gamma[j], mlog10p[j]};
        }
    }
    std::vector<double> packed;
    for (const auto& h : local)
        for (double v : {h.key, h.pixel, h.ra, h.dec, h.ts, h.ns, h.gamma, h.mlog10p}) packed.push_back(v);
    const auto all = comm.allgather(packed);
    std::array<Hotspot, 2> best;
    for (std::size_t r = 0; r * 16 < all.size(); ++r) {
        for (int h = 0; h < 2; ++h) {
            const double* v = all.data() + r * 16 + h * 8;
            Hotspot c{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
            if (c.pixel < 0) continue;
            if (c.key > best[h].key || (c.key == best[h].key && c.pixel < best[h].pixel)) best[h] = c;
        }
    }
    return best;
}

std::vector<double> local_pvalues(const ScanBlock& block, const BackgroundTs& background)
{
    std::vector<double> out(block.ts.size(), std::numeric_limits<double>::quiet_NaN());
    if (background.empty()) return out;
    for (std::size_t j = 0; j < block.ts.size(); ++j) out[j] = background.mlog10p(std::sin(block.dec[j]), block.ts[j]);
    return out;
}

}  // namespace

void run_scan_task(EventSample& sample, RunContext& context, const ScanTaskSettings& settings)
{
    const Comm& comm = context.comm;
    const double start = now_s();
    // Every rank holds the whole sample. The PDFs are built on each rank from the whole data
    // and MC in one fixed order (not from per-rank partial sums), so they, and every pixel, are
    // bit-identical whatever the rank count.
    const Events all = sample.data.allgather(comm);
    const Events mc = sample.mc.allgather(comm);
    const Comm self(MPI_COMM_SELF);
    const PointSourcePdfs pdfs(all, mc, self, settings.pdf_settings);
    ScanSky sky(all, pdfs, settings.sob_threshold);
    const RingPlan plan = plan_rings(sky, settings.nside);
    const std::vector<int> bounds = split_rings(plan.cost, comm.size());
    const int ring_begin = bounds[static_cast<std::size_t>(comm.rank())];
    const int ring_end = bounds[static_cast<std::size_t>(comm.rank()) + 1];
    double my_cost = 0.0, total_cost = 0.0;
    for (int r = 0; r < plan.n_rings(); ++r) {
        total_cost += plan.cost[r];
        if (r >= ring_begin && r < ring_end) my_cost += plan.cost[r];
    }
    double mean_kept = 0.0;
    for (int r = 0; r < plan.n_rings(); ++r) mean_kept += plan.n_pixels[r] * plan.n_expected_kept[r];
    mean_kept /= static_cast<double>(plan.npix);
    char line[300];
    std::snprintf(line, sizeof line,
                  "scan: nside %d, %lld pixels in %d rings, %lld events, ~%.0f fitted per pixel "
                  "(S R / B threshold %g), %s",
                  settings.nside, static_cast<long long>(plan.npix), plan.n_rings(),
                  static_cast<long long>(all.size()), mean_kept, settings.sob_threshold,
                  sky.has_energy() ? "energy term from MC" : "no energy term");
    log::info(line);

    // Background TS at a set of declinations, for the local p-values.
    BackgroundTs background = settings.loaded_background;
    const auto seed = static_cast<std::uint64_t>(context.job.seed());
    if (settings.background_file.empty() && settings.pvalue_trials > 0) {
        std::vector<double> nodes;
        const int k = settings.pvalue_declinations;
        for (int i = 0; i < k; ++i) nodes.push_back(-1.0 + (2.0 * i + 1.0) / k);  // bin centres in sin dec
        auto campaign = make_campaign(context, "scan background trials");
        campaign.n_trials = settings.pvalue_trials;
        auto ts = background_trials(sky, nodes, campaign, comm);
        background = BackgroundTs(nodes, ts);
        context.results.set_replicated("/scan_background", "sin_dec", nodes, comm);
        context.results.set_replicated("/scan_background", "ts", ts, comm);
        std::vector<double> eta, ndf;
        for (std::size_t i = 0; i < background.n_nodes(); ++i) {
            eta.push_back(background.eta(i));
            ndf.push_back(background.ndf(i));
        }
        context.results.set_replicated("/scan_background", "tail_eta", eta, comm);
        context.results.set_replicated("/scan_background", "tail_ndf", ndf, comm);
        auto& g = context.results.group("/scan_background");
        g.attributes["n_trials"] = settings.pvalue_trials;
        g.attributes["n_declinations"] = static_cast<std::int64_t>(k);
        g.attributes["seed"] = static_cast<std::int64_t>(seed);
        g.attributes["first_stream"] = kBackgroundStream;
        g.attributes["layout"] = std::string("ts[trial * n_declinations + declination]");
    }
    const bool by_p = !background.empty();

    // The observed scan.
    Progress progress("scan", plan.npix, comm.is_root());
    const double scan_start = now_s();
    ScanBlock block = scan_rings(sky, plan, ring_begin, ring_end, [&](std::int64_t done) {
        // Rank 0 extrapolates from its own share (equal cost shares by construction).
        if (comm.is_root() && done > 0) {
            std::int64_t mine = 0;
            for (int r = ring_begin; r < ring_end; ++r) mine += plan.n_pixels[r];
            progress.update(std::min(plan.npix, done * plan.npix / std::max<std::int64_t>(mine, 1)));
        }
    });
    const double my_seconds = now_s() - scan_start;
    progress.finish();
    const std::vector<double> seconds = comm.allgather(std::vector<double>{my_seconds});
    const std::vector<double> shares = comm.allgather(std::vector<double>{my_cost / total_cost});
    const double slowest = *std::max_element(seconds.begin(), seconds.end());
    const double mean = std::accumulate(seconds.begin(), seconds.end(), 0.0) / static_cast<double>(seconds.size());
    std::snprintf(line, sizeof line, "scan: %.2f s (slowest rank), load balance max/mean %.3f over %d ranks",
                  slowest, mean > 0 ? slowest / mean : 1.0, comm.size());
    log::info(line);

    const std::vector<double> mlog10p = local_pvalues(block, background);
    auto& results = context.results;
    results.set_distributed("/scan", "ts", block.ts, comm);
    results.set_distributed("/scan", "ns", block.ns, comm);
    results.set_distributed("/scan", "gamma", block.gamma, comm);
    results.set_distributed("/scan", "mlog10p", mlog10p, comm);
    results.set_distributed("/scan", "n_kept", block.n_kept, comm);
    results.set_replicated("/scan", "rank_seconds", seconds, comm);
    results.set_replicated("/scan", "rank_cost_share", shares, comm);
    std::vector<std::int64_t> first_rings(bounds.begin(), bounds.end());
    results.set_replicated("/scan", "rank_first_ring", first_rings, comm);
    auto& scan = results.group("/scan");
    scan.attributes["NSIDE"] = static_cast<std::int64_t>(settings.nside);
    scan.attributes["ORDERING"] = std::string("RING");
    scan.attributes["COORDSYS"] = std::string("C");
    scan.attributes["n_events"] = static_cast<std::int64_t>(all.size());
    scan.attributes["sob_threshold"] = settings.sob_threshold;
    scan.attributes["energy_term"] = std::string(sky.has_energy() ? "mc" : "none");
    scan.attributes["seconds"] = slowest;
    scan.attributes["load_balance"] = mean > 0 ? slowest / mean : 1.0;
    scan.attributes["local_pvalues"] = std::string(
        !by_p ? "none" : settings.background_file.empty() ? "scan_background" : settings.background_file);

    const auto spots = hottest(block, mlog10p, by_p, comm);
    const double to_deg = 180.0 / kPi;
    std::vector<std::string> names{"north", "south"};
    std::vector<std::int64_t> pixel;
    std::vector<double> ra, dec, ts, ns, gamma, p;
    for (const auto& h : spots) {
        pixel.push_back(static_cast<std::int64_t>(h.pixel));
        ra.push_back(h.ra * to_deg);
        dec.push_back(h.dec * to_deg);
        ts.push_back(h.ts);
        ns.push_back(h.ns);
        gamma.push_back(h.gamma);
        p.push_back(h.mlog10p);
    }
    results.set_replicated("/scan/hotspots", "hemisphere", names, comm);
    results.set_replicated("/scan/hotspots", "pixel", pixel, comm);
    results.set_replicated("/scan/hotspots", "ra_deg", ra, comm);
    results.set_replicated("/scan/hotspots", "dec_deg", dec, comm);
    results.set_replicated("/scan/hotspots", "ts", ts, comm);
    results.set_replicated("/scan/hotspots", "ns", ns, comm);
    results.set_replicated("/scan/hotspots", "gamma", gamma, comm);
    results.set_replicated("/scan/hotspots", "mlog10p", p, comm);
    results.group("/scan/hotspots").attributes["ranked_by"] = std::string(by_p ? "mlog10p" : "ts");
    for (int h = 0; h < 2; ++h) {
        std::snprintf(line, sizeof line, "scan: hottest %s spot: pixel %lld at (%.2f, %.2f) deg, TS %.3f, n_s %.2f, "
                      "gamma %.2f, -log10 p %.3f", names[h].c_str(), static_cast<long long>(pixel[h]), ra[h],
                      dec[h], ts[h], ns[h], gamma[h], p[h]);
        log::info(line);
    }

    // Post-trial: the whole scan on RA-scrambled skies, each hemisphere's best local -log10 p
    // (TS without background) per trial. Each trial's scan is split over the ranks by the
    // same ring groups; the per-trial maximum is an exact (order-free) reduction.
    const std::int64_t n_trials = context.job.trials();
    if (n_trials > 0) {
        const std::int64_t first = context.job.first_trial();
        std::vector<double> north, south;
        Progress trial_progress("scan trials", n_trials, comm.is_root());
        for (std::int64_t t = 0; t < n_trials; ++t) {
            sky.scramble(seed, first + t);
            const ScanBlock b = scan_rings(sky, plan, ring_begin, ring_end);
            const auto lp = local_pvalues(b, background);
            double best[2] = {-std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()};
            for (std::size_t j = 0; j < b.ts.size(); ++j) {
                const int h = b.dec[j] >= 0.0 ? 0 : 1;
                best[h] = std::max(best[h], by_p ? lp[j] : b.ts[j]);
            }
            north.push_back(comm.max(best[0]));
            south.push_back(comm.max(best[1]));
            trial_progress.update(t + 1);
        }
        trial_progress.finish();
        results.set_replicated("/scan_trials", "north", north, comm);
        results.set_replicated("/scan_trials", "south", south, comm);
        auto& g = results.group("/scan_trials");
        g.attributes["seed"] = static_cast<std::int64_t>(seed);
        g.attributes["first_trial"] = first;
        g.attributes["n_trials"] = n_trials;
        g.attributes["quantity"] = std::string(by_p ? "max mlog10p per hemisphere" : "max ts per hemisphere");
        std::vector<double> post;
        for (int h = 0; h < 2; ++h)
            post.push_back(post_trial_pvalue(h == 0 ? north : south, by_p ? spots[h].mlog10p : spots[h].ts));
        results.set_replicated("/scan/hotspots", "post_trial_p", post, comm);
        std::snprintf(line, sizeof line, "scan: post-trial p of the hottest spots from %lld trials: north %.4g, south %.4g",
                      static_cast<long long>(n_trials), post[0], post[1]);
        log::info(line);
    }
    std::snprintf(line, sizeof line, "scan task: %.1f s", now_s() - start);
    log::info(line);
}

double post_trial_pvalue(const std::vector<double>& best_per_trial, double observed)
{
    const auto at_least = std::count_if(best_per_trial.begin(), best_per_trial.end(),
                                        [&](double x) { return x >= observed; });
    return static_cast<double>(at_least) / static_cast<double>(best_per_trial.size());
}

}  // namespace nusky

#pragma once
// The all-sky scan (docs/PHYSICS.md section 8): the point-source fit at every pixel centre of a
// HEALPix RING grid, local p-values from declination-dependent background TS distributions,
// the hottest spot per hemisphere, and post-trial scans of RA-scrambled skies.
//
// Work split: every rank holds the whole sample, sorted by declination. Rings are dealt to ranks
// in contiguous groups of equal estimated cost (plan_rings / split_rings), so each rank's pixels
// are one contiguous range of RING indices and /scan is written collectively in order.
//
// Per pixel only events that can matter are fitted: event i is kept where its largest
// S_i R_i(gamma) / B_i over the gamma grid is >= sob_threshold; the others enter through the
// exact dropped-event term (N - N') ln(1 - n_s/N) of ps_fit. The test is a chord length
// |n_i - n_pixel|^2 <= d2max_i (no exp for far events), and a ring only looks at the events whose
// declination is within their reach of the ring. A pixel's result depends only on the sorted
// sample and the pixel, never on the rank count.
#include "likelihood/point_source/point_source.hpp"
#include "nusky/stages.hpp"
#include "nusky/trials.hpp"

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace nusky {

struct PixelFit {
    double ts = 0.0, ns = 0.0, gamma = std::numeric_limits<double>::quiet_NaN();
    std::int64_t n_kept = 0;
};

// A ring's candidate events (ScanSky::candidates) copied into contiguous arrays by
// ScanSky::gather, so that every pixel of the ring selects its kept events in one streaming,
// branch-free loop instead of an indexed gather per pixel. Holds the current right ascensions:
// gather again after ScanSky::scramble or restore (fit checks this).
struct ScanCandidates {
    Eigen::ArrayXd x, y, z, d2max, neg_half_kappa, norm_over_b;
    std::vector<Eigen::Index> index;  // sorted event index (the row of the energy-ratio table)
    std::uint64_t positions = 0;      // the sky's positions_ when gathered
    Eigen::Index size() const { return x.size(); }
};

// The replicated, declination-sorted event set a scan works on.
class ScanSky {
public:
    // `events`: the whole sample (same on every rank); must outlive this object.
    ScanSky(const Events& events, const PointSourcePdfs& pdfs, double sob_threshold);

    // RA scrambling of background trial `trial`, keyed by (seed, trial, original event index)
    // through PointSourceEvents::scramble, so the sky is the one a point-source trial sees.
    void scramble(std::uint64_t seed, std::int64_t trial);
    // Back to the observed right ascensions.
    void restore();

    // Sorted indices of the events whose reach covers declination `dec` (radians).
    void candidates(double dec, std::vector<std::int32_t>& out) const;
    // Expected kept events per pixel on a ring at `dec` (for the cost model): sum over the
    // candidates of the fraction of the ring within their reach.
    double expected_kept(double dec, const std::vector<std::int32_t>& candidates) const;

    // Copies `candidates` (from candidates(dec)) with the events' current positions into `out`.
    void gather(const std::vector<std::int32_t>& candidates, ScanCandidates& out) const;

    // The fit at `source` over candidates gathered (after the last scramble or restore) from
    // candidates(dec of source). Kept events stay in sorted order.
    PixelFit fit(const UnitVector& source, const ScanCandidates& candidates);
    // The same, gathering first (for single fits; a ring's pixels should share one gather).
    PixelFit fit(const UnitVector& source, const std::vector<std::int32_t>& candidates);

    double n_events() const { return static_cast<double>(n_); }
    bool has_energy() const { return has_energy_; }
    double sob_threshold() const { return threshold_; }
    // Largest S R / B each event can reach (at zero separation; for tests and docs).
    const Eigen::ArrayXd& max_sob() const { return max_sob_; }

private:
    void load_positions(const Eigen::ArrayXd& x, const Eigen::ArrayXd& y);

    Eigen::Index n_;
    std::vector<Eigen::Index> order_;  // sorted position -> original index
    PointSourceEvents original_;       // unsorted, for scrambling
    Eigen::ArrayXd observed_x_, observed_y_;
    Eigen::ArrayXd x_, y_, z_, dec_, kappa_, norm_over_b_, max_sob_, d2max_, reach_;
    Eigen::ArrayXd cos_reach_, cos_dec_;  // for the cost model (expected_kept)
    EventEnergyRatios ratios_;  // rows in sorted order
    bool has_energy_;
    double threshold_;
    PointSourceFitter fitter_;
    std::uint64_t positions_ = 1;  // bumped by scramble and restore: stale gathers are refused
    // Per-pixel workspace, grown to the largest candidate count seen (no per-pixel allocation).
    // Eigen arrays: aligned, so Eigen's exp runs the same packets wherever the heap puts them.
    Eigen::ArrayXd d2_, kept_sob_, kept_norm_;
    std::vector<Eigen::Index> kept_;
    ScanCandidates gathered_;  // for fit(source, candidate indices)

};

// The rings of a RING-ordered HEALPix grid, with their estimated cost.
struct RingPlan {
    int nside = 0;
    std::int64_t npix = 0;
    std::vector<std::int64_t> first_pixel, n_pixels;  // per ring (0-based ring index)
    std::vector<double> theta;                          // colatitude of the ring
    std::vector<double> n_candidates, n_expected_kept;  // events looked at / fitted per pixel
    std::vector<double> cost;                           // estimated seconds-like units per ring
    int n_rings() const { return static_cast<int>(first_pixel.size()); }
};

// Cost model per ring: n_pixels * (kCandidateCost * candidates + kKeptCost * expected kept +
// kPixelCost); see scan.cpp for the measurement behind the constants.
RingPlan plan_rings(const ScanSky& sky, int nside);

// Contiguous groups of rings with (nearly) equal summed cost: group g is rings
// [bounds[g], bounds[g + 1]); bounds.size() == n_groups + 1, bounds[0] = 0, bounds.back() =
// cost.size(). Every group gets at least one ring when there are enough rings.
std::vector<int> split_rings(const std::vector<double>& cost, int n_groups);

// One rank's part of a scan: pixels [first_pixel, first_pixel + ts.size()).
struct ScanBlock {
    std::int64_t first_pixel = 0;
    std::vector<double> ts, ns, gamma;
    std::vector<double> ra, dec;  // pixel centres (radians)
    std::vector<std::int64_t> n_kept;
};

// Scans rings [ring_begin, ring_end); `progress(pixels_done)` is called after each ring.
ScanBlock scan_rings(ScanSky& sky, const RingPlan& plan, int ring_begin, int ring_end,
                     const std::function<void(std::int64_t)>& progress = {});

// Background TS distributions at a set of declinations (nodes in sin dec) and the local
// p-value of a TS at any declination: the empirical survival fraction up to the largest trial
// TS, beyond it eta * chi2_ndf survival fitted to the upper tail; -log10 p interpolated
// linearly in sin dec between nodes (held constant beyond the outer nodes).
class BackgroundTs {
public:
    BackgroundTs() = default;
    // ts[t * n_nodes + k]: trial t at node k (trial-major).
    BackgroundTs(std::vector<double> sin_dec_nodes, const std::vector<double>& ts);
    bool empty() const { return nodes_.empty(); }
    std::size_t n_nodes() const { return nodes_.size(); }
    std::size_t n_trials() const { return n_trials_; }
    const std::vector<double>& sin_dec_nodes() const { return nodes_; }
    // -log10 p of `ts` at node k, and at declination sin_dec.
    double mlog10p_at_node(std::size_t k, double ts) const;
    double mlog10p(double sin_dec, double ts) const;
    // Fitted tail per node (eta, ndf; NaN where too few positive trials to fit).
    double eta(std::size_t k) const { return tails_[k].eta; }
    double ndf(std::size_t k) const { return tails_[k].ndf; }

    struct Tail {
        double eta = std::numeric_limits<double>::quiet_NaN();
        double ndf = std::numeric_limits<double>::quiet_NaN();
    };
    // Least-squares fit of log(eta * chi2_sf(ndf, ts_j)) to log((j - 1/2) / n) over the largest
    // values (the j-th largest, j >= 1): eta in closed form, ndf on a grid then refined.
    static Tail fit_tail(const std::vector<double>& sorted_descending, std::size_t n_trials);

private:
    std::vector<double> nodes_;
    std::vector<std::vector<double>> sorted_;  // per node, descending
    std::vector<Tail> tails_;
    std::size_t n_trials_ = 0;
};

// Background TS at `sin_dec_nodes` from RA-scrambled skies: campaign.n_trials skies, trial t
// scrambled with stream kBackgroundStream + t, one fit per node at RA 0; run as one trials
// campaign of n_trials x nodes rows (checkpoints in PATH.tmp, --resume on any rank count).
// Returns every trial's values on every rank (trial-major). Collective.
inline constexpr std::int64_t kBackgroundStream = std::int64_t{1} << 62;
std::vector<double> background_trials(ScanSky& sky, const std::vector<double>& sin_dec_nodes, TrialCampaign campaign,
                                      const Comm& comm);

// Reads background TS from a results file: /scan_background (a scan run's per-declination
// trials) or /trials/ts with /fit dec_deg (a point_source trials run: one declination).
// Throws nusky::Error naming the file on anything else.
BackgroundTs read_background_trials(const std::string& path);

struct ScanTaskSettings {
    int nside = 128;
    double sob_threshold = 1e-3;
    int pvalue_declinations = 12;
    std::int64_t pvalue_trials = 100;
    std::string background_file;  // when set, replaces the in-run background trials
    BackgroundTs loaded_background;
    PointSourceSettings pdf_settings;
};

// Post-trial p of an observed hotspot: the fraction of scrambled skies whose best value in that
// hemisphere is at least as extreme (used by the scan task and by `nusky merge`).
double post_trial_pvalue(const std::vector<double>& best_per_trial, double observed);

// The whole task: observed scan, local p-values, hotspots, post-trial scans; fills
// context.results (/scan, /scan/hotspots, /scan_background, /scan_trials). Collective.
void run_scan_task(EventSample& sample, RunContext& context, const ScanTaskSettings& settings);

}  // namespace nusky

#pragma once
// Galactic-plane template PDFs (PHYSICS.md section 6): plain functions, no MPI.
//
// Maps are HEALPix RING arrays of densities (per steradian), index = RING pixel number.
// Angles are radians. Declination delta, right ascension alpha (= HEALPix phi),
// theta = pi/2 - delta.
//
// Pipeline:
//   T (any nside) --regrade_map--> T (working nside, default 128)
//   A(delta; gamma) from an effective area or from MC  --acceptance_weighted_template--> T_acc
//   T_acc --smooth_template--> SmoothedTemplate (maps on a log sigma grid + per-ring means)
//   events --index_template_events--> TemplateEventIndex (once per data set)
//   per trial: pixel_in_ring_for_ra(ring, alpha) for the scrambled alpha, then
//              signal_densities(); S~ does not change under RA scrambles (signal_subtraction_densities once).
#include "likelihood/common/huge_pages.hpp"
#include "likelihood/common/flux.hpp"

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <numbers>
#include <span>
#include <string>
#include <vector>

namespace nusky {

// nside of a RING map of npix pixels; throws nusky::Error (naming `what`) when npix != 12 nside^2.
int healpix_nside(Eigen::Index npix, const std::string& what = "HEALPix map");

// Integral over the sphere of a density map: sum * 4 pi / npix.
double map_integral(const Eigen::ArrayXd& map);

// Regrades a RING density map to nside_out, preserving the integral over the sphere.
// When one nside is a multiple of the other, HEALPix's udgrade (Healpix_Map::Import) is used:
// degrading averages the sub-pixels, upgrading copies the parent value; both keep
// sum * pixel area exactly. Otherwise the map is interpolated bilinearly (Healpix get_interpol)
// at the new pixel centres and rescaled to the old integral. Same nside: a copy.
Eigen::ArrayXd regrade_map(const Eigen::ArrayXd& map, int nside_out = 128);

// ---------------------------------------------------------------------------------------------
// Acceptance in declination, tabulated in sin(dec) bins.
struct Acceptance {
    Eigen::ArrayXd sindec_edges;  // n + 1 increasing edges
    Eigen::ArrayXd values;        // n values >= 0 (any common scale)
    // true: linear interpolation in sin(dec) between bin centres, constant beyond the outer
    // centres (as the background P(sin dec) of section 3); false: constant within each bin.
    bool interpolate = true;

    double operator()(double sindec) const;
};

// From an effective-area table: A_b = sum_j A_eff[b, j] * int_bin_j E^-gamma dE (E in GeV, the
// flux taken as (E/1 GeV)^-gamma). Bins follow the table's sin(dec) bands.
Acceptance acceptance_from_effective_area(const EffectiveArea& ea, double gamma,
                                          bool interpolate = true,
                                          EnergyIntegration rule = EnergyIntegration::exact);

// From MC: per sin(true dec) bin, sum of OW * E_nu^-gamma over the bin's events, divided by the
// bin's solid angle 2 pi * delta(sin dec) (so A is a rate per unit flux per sr).
// true_dec in radians, true_energy in GeV. Events outside the edges are ignored.
Acceptance acceptance_from_mc(std::span<const double> true_dec, std::span<const double> true_energy,
                              std::span<const double> oneweight, double gamma,
                              const Eigen::ArrayXd& sindec_edges, bool interpolate = true);
// Same with n_bins equal bins in sin(dec) on [-1, 1].
Acceptance acceptance_from_mc(std::span<const double> true_dec, std::span<const double> true_energy,
                              std::span<const double> oneweight, double gamma, int n_bins = 40,
                              bool interpolate = true);

// T_acc(n) = T(n) A(delta(n)) with delta at each pixel centre, normalised to integral 1
// (sum * 4 pi / npix = 1; units sr^-1). T must be finite and >= 0 with a positive integral.
Eigen::ArrayXd acceptance_weighted_template(const Eigen::ArrayXd& map, const Acceptance& acc);

// Normalises a density map to integral 1 (throws when its integral is not positive).
Eigen::ArrayXd normalise_map(const Eigen::ArrayXd& map);

// ---------------------------------------------------------------------------------------------
struct SmoothingOptions {
    int n_sigma = 24;                        // grid size (>= 1)
    double sigma_min = 0.5 * std::numbers::pi / 180.0;   // radians
    double sigma_max = 60.0 * std::numbers::pi / 180.0;  // radians
    int lmax = -1;                           // < 0: 3 nside - 1
    int iterations = 3;                      // map2alm_iter iterations
};

// The smoothed maps, stored as float32 (4 bytes x n_sigma x npix: 18.9 MB at nside 128 with 24
// sigmas), pixel-major so the two maps an event interpolates between share a cache line:
// maps[pixel * n_sigma + k]. float32 keeps 7 significant digits, far below the template's own
// uncertainty; the per-ring means are computed from the float64 smoothing output and kept in
// float64: ring_means[ring * n_sigma + k] (ring 0-based, ring 0 at the north pole).
// Values are densities in sr^-1 (each map integrates to 1 over the sphere, within the
// spherical-harmonic accuracy), directly comparable to B_i = P(sin dec) / (2 pi).
// Smoothing: map2alm_iter (lmax 3 nside - 1 by default) of the map minus its mean, Gaussian
// beam (smoothWithGauss, FWHM = sqrt(8 ln 2) sigma), alm2map, plus the mean: each map's
// integral equals the input's (to float32 rounding), and a flat map stays flat.
// Small negative values (ringing of the band-limited smoothing near sharp features) are kept,
// so that each map's integral and the ring means stay exact.
struct SmoothedTemplate {
    int nside = 0;
    int n_sigma = 0;
    std::vector<double> sigma;       // radians, increasing (log spaced)
    double log_sigma0 = 0;           // log(sigma[0])
    double dlog_sigma = 0;           // log spacing (0 when n_sigma == 1)
    // [pixel * n_sigma + k]; huge pages where available (random reads, see huge_pages.hpp)
    std::vector<float, HugePageAllocator<float>> maps;
    std::vector<double> ring_means;  // [ring * n_sigma + k]
    // Ring geometry (0-based ring index): first RING pixel, pixel count, and the phase of the
    // first pixel centre (0.5 when the ring is shifted, else 0) in units of the pixel spacing.
    std::vector<std::int32_t> ring_start, ring_npix;
    std::vector<double> ring_phase;
    std::vector<double> ring_z;  // cos(theta) = sin(dec) of the ring centre

    std::int64_t npix() const { return 12LL * nside * nside; }
    int n_rings() const { return 4 * nside - 1; }
    // One map (k) as float64, for tests and output.
    Eigen::ArrayXd map(int k) const;
};

SmoothedTemplate smooth_template(const Eigen::ArrayXd& t_acc, const SmoothingOptions& opt = {});

// Ring geometry only (no maps), e.g. for tests: fills nside and ring_* of `st`.
void fill_ring_geometry(SmoothedTemplate& st, int nside);

// The RING pixel of ring `ring` (0-based) whose centre is nearest in phi to `ra` (radians, any
// value; wrapped to [0, 2 pi)). At the ring's own latitude this is exactly ang2pix.
// Arithmetic only: floor(ra * npix_ring / 2 pi - phase + 0.5) mod npix_ring.
inline std::int32_t pixel_in_ring_for_ra(const SmoothedTemplate& st, std::int32_t ring, double ra)
{
    const std::int32_t n = st.ring_npix[std::size_t(ring)];
    const double x = ra * (double(n) * (0.5 / std::numbers::pi)) - st.ring_phase[std::size_t(ring)] + 0.5;
    std::int64_t j = std::int64_t(std::floor(x));
    if (j >= n || j < 0) {  // only j == n for ra in [0, 2 pi); a full modulo otherwise
        j %= n;
        if (j < 0) j += n;
    }
    return st.ring_start[std::size_t(ring)] + std::int32_t(j);
}

// Per-event precomputed lookup data (flat arrays, one entry per event).
// ring: 0-based ring holding the event (ang2pix RING of its true position);
// pixel: its RING pixel (for the unscrambled position); sigma_index k and weight w:
// value = (1 - w) map_k + w map_{k+1}, k in [0, n_sigma - 2], w in [0, 1] (linear in log sigma;
// sigma below/above the grid uses the first/last map; with n_sigma == 1, k = 0 and w = 0).
// Approximation: a scrambled event is looked up in the ring of its true position (its true
// declination may lie up to half a pixel, ~0.23 deg at nside 128, off the ring's centre,
// where ang2pix could give a neighbouring ring); this is what makes the RA average of S_i
// over scrambles equal S~_i exactly, and it is far below the smallest sigma (0.5 deg).
//
// Cost (measured, 60k events, nside 128, 24 sigmas, one 2-core AMD EPYC VM, shared; see
// docs/benchmarks.md): the lookups are bound by memory (the maps are 18.9 MB, a trial's events
// hit random pixels): 1.3 ms per 60k lookups in event order on 4 KiB pages, 0.45 ms with the maps
// on huge pages and the events sorted by ring (TemplateEvents does both), i.e. ~one cache line
// from DRAM per event. Shrinking the working set (RA profiles sampled at ~sigma/4, coarser maps
// for large sigma) would change the values; not done.
// Under RA scrambles an event keeps its ring (the same ring whose mean is S~), so its S over
// uniform RA averages exactly to S~; its pixel is pixel_in_ring_for_ra(ring, new RA).
struct TemplateEventIndex {
    std::vector<std::int32_t> ring;
    std::vector<std::int32_t> pixel;
    std::vector<std::int32_t> sigma_index;
    std::vector<float> sigma_weight;

    std::size_t size() const { return ring.size(); }
};

// dec, ra, sigma in radians (sigma clamped to the grid). Throws on non-finite input or mismatched lengths.
TemplateEventIndex index_template_events(const SmoothedTemplate& st, std::span<const double> ra,
                                         std::span<const double> dec, std::span<const double> sigma);

// (k, w) for one sigma (radians), clamped to the grid.
inline void sigma_grid_position(const SmoothedTemplate& st, double sigma, std::int32_t& k, float& w)
{
    if (st.n_sigma <= 1 || !(sigma > st.sigma.front())) { k = 0; w = 0; return; }
    if (sigma >= st.sigma.back()) { k = st.n_sigma - 2; w = 1; return; }
    const double x = (std::log(sigma) - st.log_sigma0) / st.dlog_sigma;
    int kk = int(std::floor(x));
    if (kk < 0) kk = 0;
    if (kk > st.n_sigma - 2) kk = st.n_sigma - 2;
    k = kk;
    w = float(std::min(1.0, std::max(0.0, x - kk)));
}

// S at a pixel for grid position (k, w) from sigma_grid_position (k <= n_sigma - 2, or the
// single map when n_sigma == 1).
inline double template_value(const SmoothedTemplate& st, std::int32_t pixel, std::int32_t k, float w)
{
    const float* m = st.maps.data() + std::size_t(pixel) * std::size_t(st.n_sigma) + std::size_t(k);
    if (st.n_sigma == 1) return m[0];
    return double(m[0]) + double(w) * (double(m[1]) - double(m[0]));
}

inline double ring_mean_value(const SmoothedTemplate& st, std::int32_t ring, std::int32_t k, float w)
{
    const double* m = st.ring_means.data() + std::size_t(ring) * std::size_t(st.n_sigma) + std::size_t(k);
    if (st.n_sigma == 1) return m[0];
    return m[0] + double(w) * (m[1] - m[0]);
}

// S_i for all events at the given pixels (e.g. idx.pixel, or a trial's scrambled pixels).
void signal_densities(const SmoothedTemplate& st, const TemplateEventIndex& idx,
                      std::span<const std::int32_t> pixel, std::span<double> out);
// S~_i for all events (ring averages; unchanged by RA scrambles).
void signal_subtraction_densities(const SmoothedTemplate& st, const TemplateEventIndex& idx,
                                  std::span<double> out);

}  // namespace nusky

#include "likelihood/template/template_pdf.hpp"

#include "nusky/error.hpp"

#include <alm.h>
#include <alm_healpix_tools.h>
#include <alm_powspec_tools.h>
#include <arr.h>
#include <healpix_base.h>
#include <healpix_map.h>
#include <pointing.h>
#include <xcomplex.h>

#include <algorithm>
#include <cmath>
#include <numbers>

namespace nusky {

namespace {

constexpr double kPi = std::numbers::pi;

Healpix_Map<double> to_healpix(const Eigen::ArrayXd& map, int nside)
{
    Healpix_Map<double> m(nside, RING, SET_NSIDE);
    for (Eigen::Index i = 0; i < map.size(); ++i) m[int(i)] = map[i];
    return m;
}

Eigen::ArrayXd from_healpix(const Healpix_Map<double>& m)
{
    Eigen::ArrayXd out(m.Npix());
    for (int i = 0; i < m.Npix(); ++i) out[i] = m[i];
    return out;
}

void check_finite_nonnegative(const Eigen::ArrayXd& map, const std::string& what)
{
    for (Eigen::Index i = 0; i < map.size(); ++i)
        if (!std::isfinite(map[i]) || map[i] < 0)
            throw Error(what + ": pixel " + std::to_string(i) + " has value " +
                        std::to_string(map[i]) + " (must be finite and >= 0)");
}

}  // namespace

int healpix_nside(Eigen::Index npix, const std::string& what)
{
    if (npix >= 12 && npix % 12 == 0) {
        const long n2 = long(npix / 12);
        const long nside = std::lround(std::sqrt(double(n2)));
        // Healpix_Base with int indices: nside up to 8192.
        if (nside * nside == n2 && nside <= 8192) return int(nside);
    }
    throw Error(what + ": " + std::to_string(npix) +
                " pixels is not a HEALPix map (12 nside^2 with nside <= 8192)");
}

double map_integral(const Eigen::ArrayXd& map)
{
    return map.size() ? map.sum() * 4.0 * kPi / double(map.size()) : 0.0;
}

Eigen::ArrayXd normalise_map(const Eigen::ArrayXd& map)
{
    const double integral = map_integral(map);
    if (!(integral > 0) || !std::isfinite(integral))
        throw Error("template: integral over the sphere is " + std::to_string(integral) +
                    " (must be positive and finite)");
    return map / integral;
}

Eigen::ArrayXd regrade_map(const Eigen::ArrayXd& map, int nside_out)
{
    const int nside_in = healpix_nside(map.size(), "regrade_map: input");
    if (nside_out < 1 || nside_out > 8192)
        throw Error("regrade_map: nside " + std::to_string(nside_out) + " out of range 1..8192");
    if (nside_in == nside_out) return map;
    const Healpix_Map<double> in = to_healpix(map, nside_in);
    Healpix_Map<double> out(nside_out, RING, SET_NSIDE);
    if (nside_out % nside_in == 0 || nside_in % nside_out == 0) {
        out.Import(in, false);  // udgrade: averages when degrading, copies when upgrading
        return from_healpix(out);
    }
    // Not a multiple: bilinear interpolation at the new pixel centres, then restore the integral.
    for (int p = 0; p < out.Npix(); ++p) out[p] = in.interpolated_value(out.pix2ang(p));
    Eigen::ArrayXd result = from_healpix(out);
    const double before = map_integral(map), after = map_integral(result);
    if (after != 0 && std::isfinite(after)) result *= before / after;
    return result;
}

// ---------------------------------------------------------------------------------------------
double Acceptance::operator()(double z) const
{
    const Eigen::Index n = values.size();
    if (n == 0) return 0;
    if (!interpolate || n == 1) {
        Eigen::Index b = 0;
        while (b + 1 < n && z >= sindec_edges[b + 1]) ++b;
        return values[b];
    }
    auto centre = [&](Eigen::Index i) { return 0.5 * (sindec_edges[i] + sindec_edges[i + 1]); };
    if (z <= centre(0)) return values[0];
    if (z >= centre(n - 1)) return values[n - 1];
    Eigen::Index i = 0;
    while (i + 2 < n && z >= centre(i + 1)) ++i;
    const double t = (z - centre(i)) / (centre(i + 1) - centre(i));
    return values[i] + t * (values[i + 1] - values[i]);
}

Acceptance acceptance_from_effective_area(const EffectiveArea& ea, double gamma, bool interpolate,
                                          EnergyIntegration rule)
{
    validate_effective_area(ea);
    Acceptance acc;
    acc.sindec_edges = ea.sindec_edges;
    acc.interpolate = interpolate;
    acc.values = Eigen::ArrayXd::Zero(ea.n_bands());
    for (Eigen::Index j = 0; j < ea.n_energy(); ++j) {
        const double w = power_law_bin_integral(ea.energy_edges[j], ea.energy_edges[j + 1], gamma, 1.0, rule);
        acc.values += ea.area_cm2.col(j) * w;
    }
    return acc;
}

Acceptance acceptance_from_mc(std::span<const double> true_dec, std::span<const double> true_energy,
                              std::span<const double> oneweight, double gamma,
                              const Eigen::ArrayXd& edges, bool interpolate)
{
    if (true_dec.size() != true_energy.size() || true_dec.size() != oneweight.size())
        throw Error("acceptance_from_mc: true_dec, true_energy and oneweight differ in length");
    if (edges.size() < 2) throw Error("acceptance_from_mc: need at least 2 sin(dec) edges");
    for (Eigen::Index i = 1; i < edges.size(); ++i)
        if (!(edges[i] > edges[i - 1])) throw Error("acceptance_from_mc: sin(dec) edges must increase");
    const Eigen::Index nb = edges.size() - 1;
    Acceptance acc;
    acc.sindec_edges = edges;
    acc.interpolate = interpolate;
    acc.values = Eigen::ArrayXd::Zero(nb);
    for (std::size_t i = 0; i < true_dec.size(); ++i) {
        const double z = std::sin(true_dec[i]), e = true_energy[i], ow = oneweight[i];
        if (!std::isfinite(z) || !(e > 0) || !std::isfinite(e) || !std::isfinite(ow))
            throw Error("acceptance_from_mc: MC event " + std::to_string(i) +
                        " has a non-finite direction, weight or energy <= 0");
        if (z < edges[0] || z > edges[nb]) continue;
        const double* it = std::upper_bound(edges.data(), edges.data() + edges.size(), z);
        Eigen::Index b = Eigen::Index(it - edges.data()) - 1;
        b = std::clamp<Eigen::Index>(b, 0, nb - 1);
        acc.values[b] += ow * std::pow(e, -gamma);
    }
    for (Eigen::Index b = 0; b < nb; ++b) acc.values[b] /= 2.0 * kPi * (edges[b + 1] - edges[b]);
    if (!(acc.values.sum() > 0))
        throw Error("acceptance_from_mc: no MC weight inside the sin(dec) range");
    return acc;
}

Acceptance acceptance_from_mc(std::span<const double> true_dec, std::span<const double> true_energy,
                              std::span<const double> oneweight, double gamma, int n_bins,
                              bool interpolate)
{
    if (n_bins < 1) throw Error("acceptance_from_mc: need at least 1 sin(dec) bin");
    const Eigen::ArrayXd edges = Eigen::ArrayXd::LinSpaced(n_bins + 1, -1.0, 1.0);
    return acceptance_from_mc(true_dec, true_energy, oneweight, gamma, edges, interpolate);
}

Eigen::ArrayXd acceptance_weighted_template(const Eigen::ArrayXd& map, const Acceptance& acc)
{
    const int nside = healpix_nside(map.size(), "template");
    check_finite_nonnegative(map, "template");
    if (acc.values.size() < 1 || acc.sindec_edges.size() != acc.values.size() + 1)
        throw Error("acceptance: needs n values and n + 1 sin(dec) edges");
    if (!acc.values.isFinite().all() || (acc.values < 0).any())
        throw Error("acceptance: values must be finite and >= 0");
    Healpix_Base base(nside, RING, SET_NSIDE);
    Eigen::ArrayXd out(map.size());
    for (int ring = 1; ring <= 4 * nside - 1; ++ring) {
        int start = 0, npix = 0;
        double theta = 0;
        bool shifted = false;
        base.get_ring_info2(ring, start, npix, theta, shifted);
        const double a = acc(std::cos(theta));
        out.segment(start, npix) = map.segment(start, npix) * a;
    }
    return normalise_map(out);
}

// ---------------------------------------------------------------------------------------------
Eigen::ArrayXd SmoothedTemplate::map(int k) const
{
    Eigen::ArrayXd out(npix());
    for (std::int64_t p = 0; p < npix(); ++p) out[p] = maps[std::size_t(p) * std::size_t(n_sigma) + std::size_t(k)];
    return out;
}

void fill_ring_geometry(SmoothedTemplate& st, int nside)
{
    st.nside = nside;
    Healpix_Base base(nside, RING, SET_NSIDE);
    const int nrings = 4 * nside - 1;
    st.ring_start.resize(std::size_t(nrings));
    st.ring_npix.resize(std::size_t(nrings));
    st.ring_phase.resize(std::size_t(nrings));
    st.ring_z.resize(std::size_t(nrings));
    for (int r = 0; r < nrings; ++r) {
        int start = 0, npix = 0;
        double theta = 0;
        bool shifted = false;
        base.get_ring_info2(r + 1, start, npix, theta, shifted);
        st.ring_start[std::size_t(r)] = start;
        st.ring_npix[std::size_t(r)] = npix;
        st.ring_phase[std::size_t(r)] = shifted ? 0.5 : 0.0;
        st.ring_z[std::size_t(r)] = std::cos(theta);
    }
}

SmoothedTemplate smooth_template(const Eigen::ArrayXd& t_acc, const SmoothingOptions& opt)
{
    const int nside = healpix_nside(t_acc.size(), "smooth_template");
    if (!t_acc.isFinite().all()) throw Error("smooth_template: the map has non-finite values");
    if (opt.n_sigma < 1) throw Error("smooth_template: n_sigma must be >= 1");
    if (!(opt.sigma_min > 0) || !(opt.sigma_max >= opt.sigma_min) || !std::isfinite(opt.sigma_max) ||
        (opt.n_sigma > 1 && !(opt.sigma_max > opt.sigma_min)))
        throw Error("smooth_template: need 0 < sigma_min < sigma_max (radians)");
    if (opt.iterations < 0) throw Error("smooth_template: iterations must be >= 0");
    const int lmax = opt.lmax < 0 ? 3 * nside - 1 : opt.lmax;
    if (lmax < 0 || lmax > 4 * nside) throw Error("smooth_template: lmax out of range 0..4 nside");

    SmoothedTemplate st;
    fill_ring_geometry(st, nside);
    st.n_sigma = opt.n_sigma;
    st.sigma.resize(std::size_t(opt.n_sigma));
    st.log_sigma0 = std::log(opt.sigma_min);
    st.dlog_sigma = opt.n_sigma > 1 ? (std::log(opt.sigma_max) - st.log_sigma0) / (opt.n_sigma - 1) : 0.0;
    for (int k = 0; k < opt.n_sigma; ++k) st.sigma[std::size_t(k)] = std::exp(st.log_sigma0 + k * st.dlog_sigma);
    if (opt.n_sigma > 1) { st.sigma.front() = opt.sigma_min; st.sigma.back() = opt.sigma_max; }

    // The monopole is removed before the transform and added back after smoothing (a Gaussian
    // beam leaves it unchanged): the map's integral is then kept exactly and a flat map stays
    // exactly flat, instead of picking up the ring quadrature error of map2alm (up to ~3e-3
    // at sigma 0.5 deg for a constant map).
    const double mean = t_acc.mean();
    const Healpix_Map<double> in = to_healpix(t_acc - mean, nside);
    Alm<xcomplex<double>> alm(lmax, lmax);
    arr<double> ring_weights(std::size_t(2 * nside), 1.0);
    map2alm_iter(in, alm, opt.iterations, ring_weights);
    alm(0, 0) = 0;  // the residual's monopole is quadrature noise: the mean carries it exactly

    const std::size_t npix = std::size_t(st.npix()), ns = std::size_t(opt.n_sigma);
    const int nrings = st.n_rings();
    st.maps.assign(npix * ns, 0.0f);
    st.ring_means.assign(std::size_t(nrings) * ns, 0.0);
    const double fwhm_per_sigma = std::sqrt(8.0 * std::log(2.0));  // 2.3548
    Healpix_Map<double> out(nside, RING, SET_NSIDE);
    for (std::size_t k = 0; k < ns; ++k) {
        Alm<xcomplex<double>> a = alm;
        smoothWithGauss(a, st.sigma[k] * fwhm_per_sigma);
        alm2map(a, out);
        for (int p = 0; p < out.Npix(); ++p) out[p] += mean;
        for (std::size_t p = 0; p < npix; ++p) st.maps[p * ns + k] = float(out[int(p)]);
        for (int r = 0; r < nrings; ++r) {
            const int start = st.ring_start[std::size_t(r)], n = st.ring_npix[std::size_t(r)];
            double s = 0;
            for (int p = start; p < start + n; ++p) s += out[p];
            st.ring_means[std::size_t(r) * ns + k] = s / n;
        }
    }
    return st;
}

TemplateEventIndex index_template_events(const SmoothedTemplate& st, std::span<const double> ra,
                                         std::span<const double> dec, std::span<const double> sigma)
{
    if (ra.size() != dec.size() || ra.size() != sigma.size())
        throw Error("index_template_events: ra, dec and sigma differ in length");
    if (st.nside < 1 || st.n_sigma < 1 || st.maps.size() != std::size_t(st.npix()) * std::size_t(st.n_sigma))
        throw Error("index_template_events: the smoothed template is empty");
    Healpix_Base base(st.nside, RING, SET_NSIDE);
    TemplateEventIndex idx;
    const std::size_t n = ra.size();
    idx.ring.resize(n);
    idx.pixel.resize(n);
    idx.sigma_index.resize(n);
    idx.sigma_weight.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (!std::isfinite(ra[i]) || !(std::abs(dec[i]) <= 0.5 * kPi) || !(sigma[i] > 0) ||
            !std::isfinite(sigma[i]))
            throw Error("index_template_events: event " + std::to_string(i) +
                        " has an invalid ra, dec or sigma");
        double phi = std::fmod(ra[i], 2.0 * kPi);
        if (phi < 0) phi += 2.0 * kPi;
        const int pix = base.ang2pix(pointing(0.5 * kPi - dec[i], phi));
        idx.pixel[i] = pix;
        idx.ring[i] = base.pix2ring(pix) - 1;
        sigma_grid_position(st, sigma[i], idx.sigma_index[i], idx.sigma_weight[i]);
    }
    return idx;
}

void signal_densities(const SmoothedTemplate& st, const TemplateEventIndex& idx,
                      std::span<const std::int32_t> pixel, std::span<double> out)
{
    const std::size_t n = idx.size();
    if (pixel.size() != n || out.size() != n)
        throw Error("signal_densities: arrays differ in length");
    const std::int32_t* k = idx.sigma_index.data();
    const float* w = idx.sigma_weight.data();
    for (std::size_t i = 0; i < n; ++i) out[i] = template_value(st, pixel[i], k[i], w[i]);
}

void signal_subtraction_densities(const SmoothedTemplate& st, const TemplateEventIndex& idx,
                                  std::span<double> out)
{
    const std::size_t n = idx.size();
    if (out.size() != n) throw Error("signal_subtraction_densities: arrays differ in length");
    for (std::size_t i = 0; i < n; ++i)
        out[i] = ring_mean_value(st, idx.ring[i], idx.sigma_index[i], idx.sigma_weight[i]);
}

}  // namespace nusky

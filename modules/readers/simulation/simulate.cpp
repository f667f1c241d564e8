#include "readers/simulation/simulate.hpp"

#include "nusky/error.hpp"
#include "nusky/rng.hpp"
#include "nusky/text_table.hpp"

#include <healpix_base.h>

#include <boost/math/quadrature/gauss.hpp>
#include <boost/math/tools/minima.hpp>
#include <boost/math/tools/roots.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numbers>
#include <vector>

namespace nusky {

namespace {

constexpr double kPi = std::numbers::pi;
constexpr double kDeg = kPi / 180.0;

Eigen::ArrayXd to_array(const std::vector<double>& v)
{
    return Eigen::Map<const Eigen::ArrayXd>(v.data(), static_cast<Eigen::Index>(v.size()));
}

std::string join(const std::string& dir, const std::string& rel)
{
    return (std::filesystem::path(dir) / rel).string();
}

Eigen::ArrayXd read_flat(const std::string& path) { return to_array(read_text_table(path).flat()); }

void check_edges(const std::string& path, const Eigen::ArrayXd& edges, Eigen::Index n_bins)
{
    if (edges.size() != n_bins + 1) {
        throw file_error(path, 0,
                         "has " + std::to_string(edges.size()) + " edges for " +
                             std::to_string(n_bins) + " bins");
    }
    for (Eigen::Index i = 1; i < edges.size(); ++i) {
        if (!(edges[i] > edges[i - 1])) throw file_error(path, 0, "edges are not increasing");
    }
}

SimHistogram read_histogram(const std::string& dir, const std::string& stem)
{
    SimHistogram h;
    std::string bins = join(dir, stem + "_bins.csv");
    h.edges = read_flat(bins);
    h.counts = read_flat(join(dir, stem + "_values.csv"));
    check_edges(bins, h.edges, h.counts.size());
    if ((h.counts < 0.0).any() || !(h.counts.sum() > 0.0)) {
        throw file_error(join(dir, stem + "_values.csv"), 0, "counts must be >= 0 and not all 0");
    }
    return h;
}

// Cumulative distribution over bins with the given weights.
struct Cdf {
    std::vector<double> cum;  // cum[i] = sum of weights [0, i]
    explicit Cdf(const Eigen::ArrayXd& w = {})
    {
        cum.resize(static_cast<std::size_t>(w.size()));
        double s = 0.0;
        for (Eigen::Index i = 0; i < w.size(); ++i) cum[static_cast<std::size_t>(i)] = (s += w[i]);
    }
    double total() const { return cum.empty() ? 0.0 : cum.back(); }
    // Bin index with probability weight / total, u in [0, 1).
    std::size_t sample(double u) const
    {
        auto it = std::upper_bound(cum.begin(), cum.end(), u * cum.back());
        std::size_t i = static_cast<std::size_t>(it - cum.begin());
        // Skip zero-weight bins that upper_bound may land on only at the very end.
        return std::min(i, cum.size() - 1);
    }
};

// Integral of E^-g over [a, b].
double power_integral(double a, double b, double g)
{
    if (std::abs(g - 1.0) < 1e-12) return std::log(b / a);
    return (std::pow(b, 1.0 - g) - std::pow(a, 1.0 - g)) / (1.0 - g);
}

// E in [a, b] from E^-g.
double sample_power_law(double a, double b, double g, double u)
{
    if (std::abs(g - 1.0) < 1e-12) return a * std::pow(b / a, u);
    double pa = std::pow(a, 1.0 - g), pb = std::pow(b, 1.0 - g);
    return std::pow(pa + u * (pb - pa), 1.0 / (1.0 - g));
}

std::size_t find_bin(const Eigen::ArrayXd& edges, double x)
{
    auto it = std::upper_bound(edges.data(), edges.data() + edges.size(), x);
    Eigen::Index i = static_cast<Eigen::Index>(it - edges.data()) - 1;
    return static_cast<std::size_t>(std::clamp<Eigen::Index>(i, 0, edges.size() - 2));
}

// Tables derived from the inputs once per call (all small except the template CDF).
struct Prepared {
    const SimulationInputs& in;
    const SimulationConfig& cfg;
    Cdf sindec, sigma, bkg_energy;
    double sigma_overflow_fraction = 0.0;
    double sigma_tail_scale_deg = 1.0;
    std::vector<Cdf> eres_rows;

    Prepared(const SimulationConfig& c, const SimulationInputs& i) : in(i), cfg(c)
    {
        sindec = Cdf(in.data_sindec.counts);
        sigma = Cdf(in.data_sigma_deg.counts);
        bkg_energy = Cdf(in.background_energy.counts);
        double n_all = in.data_sindec.counts.sum(), n_hist = in.data_sigma_deg.counts.sum();
        const auto& e = in.data_sigma_deg.edges;
        if (n_all > n_hist && cfg.sigma_max_deg > e[e.size() - 1]) {
            sigma_overflow_fraction = (n_all - n_hist) / n_all;
            double last_density = in.data_sigma_deg.counts[in.data_sigma_deg.counts.size() - 1] /
                                  (e[e.size() - 1] - e[e.size() - 2]);
            sigma_tail_scale_deg = last_density > 0 ? (n_all - n_hist) / last_density : 1.0;
        }
        for (Eigen::Index r = 0; r < in.eres.rows(); ++r) eres_rows.emplace_back(in.eres.row(r).transpose());
    }

    double floor() const { return cfg.sigma_floor_deg * kDeg; }

    // Reconstructed log10 E: migration Delta = log10(E_reco / E_true-bin centre) drawn from the
    // true-energy row of the resolution matrix, applied to the actual true energy.
    double smear_energy(CounterRng& rng, double energy) const
    {
        const auto& te = in.eres_true_edges;
        const auto& re = in.eres_reco_edges;
        std::size_t i = find_bin(te, energy);
        const Cdf& row = eres_rows[i];
        std::size_t j = row.sample(rng.uniform());
        double reco = rng.uniform(std::log10(re[j]), std::log10(re[j + 1]));
        double centre = 0.5 * (std::log10(te[i]) + std::log10(te[i + 1]));
        return std::log10(energy) + (reco - centre);
    }

    // The data's sigma distribution inverted at u in [0, 1): the histogram (linear within a bin)
    // for the events it holds, then the exponential tail beyond its last edge.
    double data_sigma_quantile(double u) const
    {
        const auto& e = in.data_sigma_deg.edges;
        double deg;
        const double in_histogram = 1.0 - sigma_overflow_fraction;
        if (u >= in_histogram) {
            double v = (u - in_histogram) / sigma_overflow_fraction;
            double lo = e[e.size() - 1];
            double span = cfg.sigma_max_deg - lo;
            double lam = sigma_tail_scale_deg;
            deg = lo - lam * std::log1p(-v * (1.0 - std::exp(-span / lam)));
        } else {
            double target = u / in_histogram * sigma.total();
            std::size_t b = sigma.sample(u / in_histogram);
            double below = b == 0 ? 0.0 : sigma.cum[b - 1];
            double in_bin = sigma.cum[b] - below;
            double t = in_bin > 0.0 ? std::clamp((target - below) / in_bin, 0.0, 1.0) : 0.5;
            auto k = static_cast<Eigen::Index>(b);
            deg = e[k] + t * (e[k + 1] - e[k]);
        }
        return std::max(deg * kDeg, floor());
    }

    // Per-event sigma at reconstructed log10 E (one law for every component, see SimulationConfig).
    double sample_sigma(CounterRng& rng, double log10_energy) const
    {
        double log_sigma, scatter;
        in.psf_law(std::pow(10.0, log10_energy), log_sigma, scatter);
        double law_sigma = std::exp(log_sigma + scatter * rng.normal());
        return data_sigma_quantile(std::min(in.law_sigma_cdf_at(law_sigma), 1.0 - 1e-12));
    }

    // Per-event sigma and reconstructed direction for a true event (signal and MC) with
    // reconstructed energy log10_energy.
    void reconstruct(CounterRng& rng, double true_ra, double true_dec, double log10_energy, double& ra,
                     double& dec, double& sigma_out) const
    {
        double s = sample_sigma(rng, log10_energy);
        double kappa = 1.0 / (s * s);
        double u = rng.uniform_open();
        // cos(theta) of a vMF draw: 1 + log(u + (1 - u) e^{-2 kappa}) / kappa
        double w = 1.0 + std::log(u + (1.0 - u) * std::exp(-2.0 * kappa)) / kappa;
        double theta = std::acos(std::clamp(w, -1.0, 1.0));
        double phi = rng.uniform(0.0, 2.0 * kPi);
        offset_direction(true_ra, true_dec, theta, phi, ra, dec);
        sigma_out = s;
    }
};

void resize_events(Events& ev, std::size_t n, bool truth)
{
    auto N = static_cast<Eigen::Index>(n);
    ev.ra.resize(N);
    ev.dec.resize(N);
    ev.sigma.resize(N);
    ev.log10_energy.resize(N);
    if (truth) {
        ev.true_ra.resize(N);
        ev.true_dec.resize(N);
        ev.true_energy.resize(N);
        ev.oneweight.resize(N);
    }
}

void check_slice(const char* what, std::size_t first, std::size_t count, std::size_t total)
{
    if (first > total || count > total - first) {
        throw Error(std::string(what) + ": slice [" + std::to_string(first) + ", " +
                    std::to_string(first + count) + ") outside [0, " + std::to_string(total) + ")");
    }
}

// Pixel sampling weights and directions of a template map.
struct TemplateSampler {
    Cdf cdf;
    std::vector<double> pix_ra, pix_dec;
    std::vector<int> pix_band;
    double pixel_radius = 0.0;      // radius of a disc with the pixel's area
    std::vector<Cdf> band_energy;   // per sin-dec band: E bins weighted A_eff * Int E^-g
};

TemplateSampler make_template_sampler(const SimulationConfig& cfg, const SimulationInputs& in,
                                      const Eigen::ArrayXd& map)
{
    TemplateSampler ts;
    auto npix = map.size();
    long nside = std::lround(std::sqrt(static_cast<double>(npix) / 12.0));
    if (nside < 1 || 12 * nside * nside != npix) {
        throw Error("simulate_signal: template map has " + std::to_string(npix) +
                    " pixels, not 12 nside^2");
    }
    if (!map.allFinite() || (map < 0.0).any() || !(map.sum() > 0.0)) {
        throw Error("simulate_signal: template map must be finite, >= 0 and not all 0");
    }
    Healpix_Base base(static_cast<int>(nside), RING, SET_NSIDE);
    const Eigen::Index nb = in.effa_cm2.rows(), ne = in.effa_cm2.cols();
    Eigen::ArrayXd acceptance(nb);
    for (Eigen::Index b = 0; b < nb; ++b) {
        Eigen::ArrayXd w(ne);
        for (Eigen::Index k = 0; k < ne; ++k) {
            w[k] = in.effa_cm2(b, k) *
                   power_integral(in.effa_energy_edges[k], in.effa_energy_edges[k + 1], cfg.signal_gamma);
        }
        acceptance[b] = w.sum();
        ts.band_energy.emplace_back(w);
    }
    Eigen::ArrayXd weight(npix);
    ts.pix_ra.resize(static_cast<std::size_t>(npix));
    ts.pix_dec.resize(static_cast<std::size_t>(npix));
    ts.pix_band.resize(static_cast<std::size_t>(npix));
    for (Eigen::Index p = 0; p < npix; ++p) {
        pointing ang = base.pix2ang(static_cast<int>(p));
        double dec = 0.5 * kPi - ang.theta;
        auto b = find_bin(in.effa_sindec_edges, std::sin(dec));
        ts.pix_ra[static_cast<std::size_t>(p)] = ang.phi;
        ts.pix_dec[static_cast<std::size_t>(p)] = dec;
        ts.pix_band[static_cast<std::size_t>(p)] = static_cast<int>(b);
        weight[p] = map[p] * acceptance[static_cast<Eigen::Index>(b)];
    }
    if (!(weight.sum() > 0.0)) throw Error("simulate_signal: template has no acceptance-weighted weight");
    ts.cdf = Cdf(weight);
    ts.pixel_radius = std::sqrt(4.0 / static_cast<double>(npix));  // pi r^2 = 4 pi / npix
    return ts;
}

// A true energy from bin weights `cdf` over the effective-area energy bins, E^-g within the bin.
double sample_energy_in_bins(CounterRng& rng, const Cdf& cdf, const Eigen::ArrayXd& edges, double g)
{
    std::size_t k = cdf.sample(rng.uniform());
    return sample_power_law(edges[static_cast<Eigen::Index>(k)], edges[static_cast<Eigen::Index>(k) + 1], g,
                            rng.uniform());
}

Events concat(const Events& a, const Events& b)
{
    Events out;
    auto cat = [](const Eigen::ArrayXd& x, const Eigen::ArrayXd& y) {
        Eigen::ArrayXd z(x.size() + y.size());
        z << x, y;
        return z;
    };
    out.ra = cat(a.ra, b.ra);
    out.dec = cat(a.dec, b.dec);
    out.sigma = cat(a.sigma, b.sigma);
    out.log10_energy = cat(a.log10_energy, b.log10_energy);
    return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

double SimulationInputs::effective_area(double energy, double sin_dec) const
{
    const auto& e = effa_energy_edges;
    const auto& s = effa_sindec_edges;
    if (!(energy >= e[0] && energy < e[e.size() - 1])) return 0.0;
    if (!(sin_dec >= s[0] && sin_dec <= s[s.size() - 1])) return 0.0;
    return effa_cm2(static_cast<Eigen::Index>(find_bin(s, sin_dec)),
                    static_cast<Eigen::Index>(find_bin(e, energy)));
}

double SimulationInputs::median_psf(double energy) const
{
    const auto& x = angres_energy;
    if (energy <= x[0]) return angres_median_deg[0] * kDeg;
    if (energy >= x[x.size() - 1]) return angres_median_deg[angres_median_deg.size() - 1] * kDeg;
    std::size_t k = find_bin(x, energy);
    double t = std::log(energy / x[k]) / std::log(x[k + 1] / x[k]);
    return (angres_median_deg[k] + t * (angres_median_deg[k + 1] - angres_median_deg[k])) * kDeg;
}

void SimulationInputs::psf_law(double energy, double& log_sigma, double& scatter) const
{
    const auto& x = angres_energy;
    if (energy <= x[0] || energy >= x[x.size() - 1]) {
        Eigen::Index k = energy <= x[0] ? 0 : x.size() - 1;
        log_sigma = psf_log_sigma[k];
        scatter = psf_scatter[k];
        return;
    }
    auto k = static_cast<Eigen::Index>(find_bin(x, energy));
    double t = std::log(energy / x[k]) / std::log(x[k + 1] / x[k]);
    log_sigma = psf_log_sigma[k] + t * (psf_log_sigma[k + 1] - psf_log_sigma[k]);
    scatter = psf_scatter[k] + t * (psf_scatter[k + 1] - psf_scatter[k]);
}

double SimulationInputs::law_sigma_cdf_at(double sigma) const
{
    double pos = (std::log(sigma) - law_sigma_log_min) / law_sigma_log_step;
    if (!(pos > 0.0)) return 0.0;
    auto last = static_cast<double>(law_sigma_cdf.size() - 1);
    if (pos >= last) return law_sigma_cdf[law_sigma_cdf.size() - 1];
    auto k = static_cast<Eigen::Index>(pos);
    double t = pos - static_cast<double>(k);
    return law_sigma_cdf[k] + t * (law_sigma_cdf[k + 1] - law_sigma_cdf[k]);
}

double psf_law_cdf(double theta, const PsfLaw& law)
{
    const double one_minus_cos = 1.0 - std::cos(theta);
    // Average of the vMF opening-angle CDF over z ~ N(0, 1), sigma = exp(log_sigma + scatter z).
    auto integrand = [&](double z) {
        double sigma = std::exp(law.log_sigma + law.scatter * z);
        double kappa = 1.0 / (sigma * sigma);
        double vmf = -std::expm1(-kappa * one_minus_cos) / -std::expm1(-2.0 * kappa);
        return vmf * std::exp(-0.5 * z * z) / std::sqrt(2.0 * kPi);
    };
    if (law.scatter == 0.0) return integrand(0.0) * std::sqrt(2.0 * kPi);
    return boost::math::quadrature::gauss<double, 30>::integrate(integrand, -7.0, 7.0);
}

PsfLaw fit_psf_law(double q20, double q50, double q80)
{
    if (!(q20 > 0.0 && q20 < q50 && q50 < q80 && q80 < kPi)) {
        throw Error("fit_psf_law: need 0 < q20 < q50 < q80 < pi");
    }
    // For a scatter s, the log_sigma that puts the median at q50 (the CDF falls as sigma grows).
    auto log_sigma_for = [&](double s) {
        auto f = [&](double mu) { return psf_law_cdf(q50, {mu, s}) - 0.5; };
        boost::uintmax_t iterations = 100;
        auto [lo, hi] = boost::math::tools::toms748_solve(
            f, std::log(q50) - 12.0, std::log(q50) + 6.0, boost::math::tools::eps_tolerance<double>(40),
            iterations);
        return 0.5 * (lo + hi);
    };
    auto misfit = [&](double s) {
        PsfLaw law{log_sigma_for(s), s};
        double a = psf_law_cdf(q20, law) - 0.2, b = psf_law_cdf(q80, law) - 0.8;
        return a * a + b * b;
    };
    boost::uintmax_t iterations = 100;
    auto best = boost::math::tools::brent_find_minima(misfit, 0.0, 2.0, 30, iterations);
    return {log_sigma_for(best.first), best.first};
}

namespace {

// Distribution of the background's reconstructed log10 E on a fine grid (weights sum to 1): the
// true-energy spectrum (log-uniform within a bin, as sampled) through the resolution matrix
// (uniform within a reco bin, shifted with the true energy, as smear_energy does).
struct LogEnergyHistogram {
    double min = 0.0, step = 0.01;
    Eigen::ArrayXd weight;
};

LogEnergyHistogram background_reco_energy_histogram(const SimulationInputs& in)
{
    constexpr int kPerTrueBin = 16, kPerRecoBin = 4;
    LogEnergyHistogram h;
    h.weight = Eigen::ArrayXd::Zero(1000);  // log10 E in [0, 10)
    const auto& e = in.background_energy.edges;
    const auto& w = in.background_energy.counts;
    const auto& te = in.eres_true_edges;
    const auto& re = in.eres_reco_edges;
    for (Eigen::Index b = 0; b < w.size(); ++b) {
        for (int j = 0; j < kPerTrueBin; ++j) {
            double energy = e[b] * std::pow(e[b + 1] / e[b], (j + 0.5) / kPerTrueBin);
            auto i = static_cast<Eigen::Index>(find_bin(te, energy));
            double shift = std::log10(energy) - 0.5 * (std::log10(te[i]) + std::log10(te[i + 1]));
            for (Eigen::Index r = 0; r < in.eres.cols(); ++r) {
                double lo = std::log10(re[r]), hi = std::log10(re[r + 1]);
                for (int m = 0; m < kPerRecoBin; ++m) {
                    double l = lo + (m + 0.5) / kPerRecoBin * (hi - lo) + shift;
                    auto f = std::clamp<Eigen::Index>(static_cast<Eigen::Index>((l - h.min) / h.step), 0,
                                                      h.weight.size() - 1);
                    h.weight[f] += w[b] / kPerTrueBin * in.eres(i, r) / kPerRecoBin;
                }
            }
        }
    }
    h.weight /= h.weight.sum();
    return h;
}

// Fits the sigma law at every energy of the resolution table and tabulates the CDF of its sigma
// over the background's reconstructed-energy distribution.
void prepare_sigma_law(SimulationInputs& in)
{
    const Eigen::Index n = in.angres_energy.size();
    in.psf_log_sigma.resize(n);
    in.psf_scatter.resize(n);
    for (Eigen::Index k = 0; k < n; ++k) {
        PsfLaw law = fit_psf_law(in.angres_q20_deg[k] * kDeg, in.angres_median_deg[k] * kDeg,
                                 in.angres_q80_deg[k] * kDeg);
        in.psf_log_sigma[k] = law.log_sigma;
        in.psf_scatter[k] = law.scatter;
    }
    constexpr int kGrid = 2048;
    in.law_sigma_log_min = std::log(1e-4);  // rad
    in.law_sigma_log_step = (std::log(2.0 * kPi) - in.law_sigma_log_min) / (kGrid - 1);
    in.law_sigma_cdf = Eigen::ArrayXd::Zero(kGrid);
    const LogEnergyHistogram reco = background_reco_energy_histogram(in);
    for (Eigen::Index f = 0; f < reco.weight.size(); ++f) {
        if (reco.weight[f] == 0.0) continue;
        double mu, s;
        in.psf_law(std::pow(10.0, reco.min + (static_cast<double>(f) + 0.5) * reco.step), mu, s);
        for (int g = 0; g < kGrid; ++g) {
            double z = (in.law_sigma_log_min + g * in.law_sigma_log_step - mu) / s;
            in.law_sigma_cdf[g] += reco.weight[f] * 0.5 * std::erfc(-z / std::sqrt(2.0));
        }
    }
}

}  // namespace

SimulationInputs load_simulation_inputs(const std::string& dir)
{
    SimulationInputs in;
    in.data_sindec = read_histogram(join(dir, "distributions/sindec_plot"), "data");
    in.data_sigma_deg = read_histogram(join(dir, "distributions/angerr_plot"), "data");
    in.background_energy = read_histogram(join(dir, "spectra"), "atmo_tot");

    std::string effa = join(dir, "effa_values.csv");
    in.effa_sindec_edges = read_flat(join(dir, "effa_bins_sindec.csv"));
    in.effa_energy_edges = read_flat(join(dir, "effa_bins_energy.csv"));
    TextTable t = read_text_table(effa);
    in.effa_cm2.resize(static_cast<Eigen::Index>(t.rows.size()), static_cast<Eigen::Index>(t.n_columns()));
    for (std::size_t r = 0; r < t.rows.size(); ++r) {
        for (std::size_t c = 0; c < t.rows[r].size(); ++c) {
            in.effa_cm2(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)) = t.rows[r][c];
        }
    }
    check_edges(join(dir, "effa_bins_sindec.csv"), in.effa_sindec_edges, in.effa_cm2.rows());
    check_edges(join(dir, "effa_bins_energy.csv"), in.effa_energy_edges, in.effa_cm2.cols());
    if ((in.effa_cm2 < 0.0).any()) throw file_error(effa, 0, "negative effective area");

    std::string angres = join(dir, "resolution/angular_resolution.csv");
    TextTable a = read_text_table(angres);
    in.angres_energy = to_array(a.column("energy"));
    in.angres_q20_deg = to_array(a.column("this_work_20p"));
    in.angres_median_deg = to_array(a.column("this_work_50p"));
    in.angres_q80_deg = to_array(a.column("this_work_80p"));
    check_edges(angres, in.angres_energy, in.angres_energy.size() - 1);
    if (!(in.angres_q20_deg > 0.0).all() || !(in.angres_median_deg > in.angres_q20_deg).all() ||
        !(in.angres_q80_deg > in.angres_median_deg).all() || !(in.angres_q80_deg < 180.0).all()) {
        throw file_error(angres, 0, "quantiles must satisfy 0 < 20% < 50% < 80% < 180 deg");
    }

    std::string stem = join(dir, "resolution/EnergyResS6a");
    in.eres_true_edges = read_flat(stem + "_x_edges.csv");
    in.eres_reco_edges = read_flat(stem + "_y_edges.csv");
    TextTable h = read_text_table(stem + "_hist.csv");
    in.eres.resize(static_cast<Eigen::Index>(h.rows.size()), static_cast<Eigen::Index>(h.n_columns()));
    for (std::size_t r = 0; r < h.rows.size(); ++r) {
        for (std::size_t c = 0; c < h.rows[r].size(); ++c) {
            in.eres(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)) = h.rows[r][c];
        }
    }
    check_edges(stem + "_x_edges.csv", in.eres_true_edges, in.eres.rows());
    check_edges(stem + "_y_edges.csv", in.eres_reco_edges, in.eres.cols());
    for (Eigen::Index r = 0; r < in.eres.rows(); ++r) {
        double s = in.eres.row(r).sum();
        if ((in.eres.row(r) < 0.0).any() || !(s > 0.0)) {
            throw file_error(stem + "_hist.csv", static_cast<long>(r + 1), "row is not a distribution");
        }
        in.eres.row(r) /= s;
    }
    prepare_sigma_law(in);
    return in;
}

double vmf_kappa_for_median(double median)
{
    if (!(median > 0.0 && median < kPi)) throw Error("vmf_kappa_for_median: median out of (0, pi)");
    // P(theta <= m) = (1 - exp(-kappa (1 - cos m))) / (1 - exp(-2 kappa)) = 1/2, increasing in kappa.
    const double c = 1.0 - std::cos(median);
    auto f = [&](double k) { return -std::expm1(-k * c) / -std::expm1(-2.0 * k) - 0.5; };
    double lo = 1e-8, hi = 1e12;
    if (f(lo) > 0.0) return lo;  // median below the isotropic one: any tiny kappa
    for (int it = 0; it < 200; ++it) {
        double mid = std::sqrt(lo * hi);
        (f(mid) < 0.0 ? lo : hi) = mid;
        if (hi / lo < 1.0 + 1e-13) break;
    }
    return std::sqrt(lo * hi);
}

void offset_direction(double ra, double dec, double theta, double phi, double& ra_out, double& dec_out)
{
    double sd = std::sin(dec), cd = std::cos(dec), st = std::sin(theta), ct = std::cos(theta);
    double s = std::clamp(sd * ct + cd * st * std::cos(phi), -1.0, 1.0);
    dec_out = std::asin(s);
    double y = std::sin(phi) * st * cd;
    double x = ct - sd * s;
    double r = ra + std::atan2(y, x);
    r = std::fmod(r, 2.0 * kPi);
    if (r < 0.0) r += 2.0 * kPi;
    if (r >= 2.0 * kPi) r = 0.0;
    ra_out = r;
}

std::size_t background_count(const SimulationConfig& cfg)
{
    if (!(cfg.background_mean >= 0.0)) throw Error("simulation: background_mean must be >= 0");
    if (!cfg.poisson_background) return static_cast<std::size_t>(std::llround(cfg.background_mean));
    return CounterRng(cfg.seed, kStreamCounts, 0).poisson(cfg.background_mean);
}

std::size_t signal_count(const SimulationConfig& cfg)
{
    if (!(cfg.signal_mean >= 0.0)) throw Error("simulation: signal_mean must be >= 0");
    if (!cfg.poisson_signal) return static_cast<std::size_t>(std::llround(cfg.signal_mean));
    return CounterRng(cfg.seed, kStreamCounts, 1).poisson(cfg.signal_mean);
}

Events simulate_background(const SimulationConfig& cfg, const SimulationInputs& in, std::size_t first,
                           std::size_t count)
{
    check_slice("simulate_background", first, count, background_count(cfg));
    Prepared P(cfg, in);
    Events ev;
    resize_events(ev, count, false);
    const auto& se = in.data_sindec.edges;
    const auto& ee = in.background_energy.edges;
    for (std::size_t n = 0; n < count; ++n) {
        CounterRng rng(cfg.seed, kStreamBackground, first + n);
        auto i = static_cast<Eigen::Index>(n);
        auto b = static_cast<Eigen::Index>(P.sindec.sample(rng.uniform()));
        double sdec = std::clamp(se[b] + rng.uniform() * (se[b + 1] - se[b]), -1.0, 1.0);
        ev.dec[i] = std::asin(sdec);
        ev.ra[i] = rng.uniform(0.0, 2.0 * kPi);
        auto k = static_cast<Eigen::Index>(P.bkg_energy.sample(rng.uniform()));
        double energy = ee[k] * std::pow(ee[k + 1] / ee[k], rng.uniform());  // log-uniform in the bin
        ev.log10_energy[i] = P.smear_energy(rng, energy);
        ev.sigma[i] = P.sample_sigma(rng, ev.log10_energy[i]);
    }
    return ev;
}

Events simulate_signal(const SimulationConfig& cfg, const SimulationInputs& in,
                       const Eigen::ArrayXd& template_map, std::size_t first, std::size_t count)
{
    check_slice("simulate_signal", first, count, signal_count(cfg));
    Events ev;
    resize_events(ev, count, true);
    if (count == 0) return ev;
    Prepared P(cfg, in);
    TemplateSampler ts = make_template_sampler(cfg, in, template_map);
    for (std::size_t n = 0; n < count; ++n) {
        CounterRng rng(cfg.seed, kStreamSignal, first + n);
        auto i = static_cast<Eigen::Index>(n);
        std::size_t p = ts.cdf.sample(rng.uniform());
        // Uniform in a disc of the pixel's area around the pixel centre (removes the grid).
        double tra, tdec;
        offset_direction(ts.pix_ra[p], ts.pix_dec[p], ts.pixel_radius * std::sqrt(rng.uniform()),
                         rng.uniform(0.0, 2.0 * kPi), tra, tdec);
        double energy = sample_energy_in_bins(rng, ts.band_energy[static_cast<std::size_t>(ts.pix_band[p])],
                                              in.effa_energy_edges, cfg.signal_gamma);
        ev.true_ra[i] = tra;
        ev.true_dec[i] = tdec;
        ev.true_energy[i] = energy;
        ev.oneweight[i] = 0.0;
        ev.log10_energy[i] = P.smear_energy(rng, energy);
        P.reconstruct(rng, tra, tdec, ev.log10_energy[i], ev.ra[i], ev.dec[i], ev.sigma[i]);
    }
    return ev;
}

std::size_t point_source_count(const SimulationConfig& cfg)
{
    if (!(cfg.ps_count >= 0.0)) throw Error("simulation: ps_count must be >= 0");
    return static_cast<std::size_t>(std::llround(cfg.ps_count));
}

Events simulate_point_source(const SimulationConfig& cfg, const SimulationInputs& in, std::size_t first,
                             std::size_t count)
{
    check_slice("simulate_point_source", first, count, point_source_count(cfg));
    Events ev;
    resize_events(ev, count, true);
    if (count == 0) return ev;
    Prepared P(cfg, in);
    // Energy bins weighted by A_eff at the source declination times Int E^-gamma over the bin.
    const auto band = static_cast<Eigen::Index>(find_bin(in.effa_sindec_edges, std::sin(cfg.ps_dec)));
    Eigen::ArrayXd w(in.effa_cm2.cols());
    for (Eigen::Index k = 0; k < w.size(); ++k) {
        w[k] = in.effa_cm2(band, k) *
               power_integral(in.effa_energy_edges[k], in.effa_energy_edges[k + 1], cfg.ps_gamma);
    }
    if (!(w.sum() > 0.0)) throw Error("simulate_point_source: no effective area at the source declination");
    const Cdf energy_cdf(w);
    for (std::size_t n = 0; n < count; ++n) {
        CounterRng rng(cfg.seed, kStreamPointSource, first + n);
        auto i = static_cast<Eigen::Index>(n);
        const double energy = sample_energy_in_bins(rng, energy_cdf, in.effa_energy_edges, cfg.ps_gamma);
        ev.true_ra[i] = cfg.ps_ra;
        ev.true_dec[i] = cfg.ps_dec;
        ev.true_energy[i] = energy;
        ev.oneweight[i] = 0.0;
        ev.log10_energy[i] = P.smear_energy(rng, energy);
        P.reconstruct(rng, cfg.ps_ra, cfg.ps_dec, ev.log10_energy[i], ev.ra[i], ev.dec[i], ev.sigma[i]);
    }
    return ev;
}

Events simulate_sky(const SimulationConfig& cfg, const SimulationInputs& in,
                    const Eigen::ArrayXd& template_map, std::size_t first, std::size_t count)
{
    const std::size_t nb = background_count(cfg), ns = signal_count(cfg), np = point_source_count(cfg);
    check_slice("simulate_sky", first, count, nb + ns + np);
    const std::size_t last = first + count;
    // The part of [first, last) inside [lo, hi), relative to lo.
    auto part = [&](std::size_t lo, std::size_t hi) {
        std::size_t a = std::clamp(first, lo, hi), b = std::clamp(last, lo, hi);
        return std::pair{a - lo, b - a};
    };
    auto [b0, bn] = part(0, nb);
    auto [s0, sn] = part(nb, nb + ns);
    auto [p0, pn] = part(nb + ns, nb + ns + np);
    Events bkg = simulate_background(cfg, in, b0, bn);
    Events sig = simulate_signal(cfg, in, template_map, s0, sn);
    Events out = concat(bkg, sig);
    if (pn > 0) out = concat(out, simulate_point_source(cfg, in, p0, pn));
    Eigen::ArrayXd flag(static_cast<Eigen::Index>(count));
    flag.head(static_cast<Eigen::Index>(bn)).setZero();
    flag.segment(static_cast<Eigen::Index>(bn), static_cast<Eigen::Index>(sn)).setOnes();
    flag.tail(static_cast<Eigen::Index>(pn)).setConstant(2.0);
    out.extra["signal"] = flag;
    return out;
}

Events simulate_mc(const SimulationConfig& cfg, const SimulationInputs& in, std::size_t first,
                   std::size_t count)
{
    check_slice("simulate_mc", first, count, cfg.mc_count);
    if (!(cfg.mc_emin > 0.0 && cfg.mc_emax > cfg.mc_emin)) throw Error("simulate_mc: need 0 < mc_emin < mc_emax");
    Prepared P(cfg, in);
    Events ev;
    resize_events(ev, count, true);
    const double norm = 4.0 * kPi * power_integral(cfg.mc_emin, cfg.mc_emax, cfg.mc_gamma) /
                        static_cast<double>(cfg.mc_count);
    for (std::size_t n = 0; n < count; ++n) {
        CounterRng rng(cfg.seed, kStreamMc, first + n);
        auto i = static_cast<Eigen::Index>(n);
        double tdec, tra;
        rng.isotropic(tdec, tra);
        double energy = sample_power_law(cfg.mc_emin, cfg.mc_emax, cfg.mc_gamma, rng.uniform());
        ev.true_ra[i] = tra;
        ev.true_dec[i] = tdec;
        ev.true_energy[i] = energy;
        ev.oneweight[i] = in.effective_area(energy, std::sin(tdec)) * norm * std::pow(energy, cfg.mc_gamma);
        ev.log10_energy[i] = P.smear_energy(rng, energy);
        P.reconstruct(rng, tra, tdec, ev.log10_energy[i], ev.ra[i], ev.dec[i], ev.sigma[i]);
    }
    return ev;
}

double expected_events_isotropic(const SimulationInputs& in, double phi0, double e0, double gamma,
                                 double livetime_s)
{
    double sum = 0.0;
    for (Eigen::Index b = 0; b < in.effa_cm2.rows(); ++b) {
        double solid = 2.0 * kPi * (in.effa_sindec_edges[b + 1] - in.effa_sindec_edges[b]);
        for (Eigen::Index k = 0; k < in.effa_cm2.cols(); ++k) {
            sum += solid * in.effa_cm2(b, k) * phi0 * std::pow(e0, gamma) *
                   power_integral(in.effa_energy_edges[k], in.effa_energy_edges[k + 1], gamma);
        }
    }
    return sum * livetime_s;
}

}  // namespace nusky

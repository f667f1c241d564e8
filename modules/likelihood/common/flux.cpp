#include "likelihood/common/flux.hpp"

#include "nusky/error.hpp"
#include "nusky/text_table.hpp"

#include <healpix_base.h>

#include <cmath>

namespace nusky {

namespace {

Eigen::ArrayXd read_edges(const std::string& path)
{
    const std::vector<double> v = read_text_table(path).flat();
    Eigen::ArrayXd e(Eigen::Index(v.size()));
    for (std::size_t i = 0; i < v.size(); ++i) e[Eigen::Index(i)] = v[i];
    if (e.size() < 2) throw file_error(path, 0, "needs at least 2 bin edges");
    for (Eigen::Index i = 1; i < e.size(); ++i)
        if (!(e[i] > e[i - 1]))
            throw file_error(path, 0, "bin edges must increase (edge " + std::to_string(i + 1) + ")");
    return e;
}

}  // namespace

void validate_effective_area(const EffectiveArea& ea, const std::string& what)
{
    if (ea.sindec_edges.size() != ea.n_bands() + 1 || ea.energy_edges.size() != ea.n_energy() + 1 ||
        ea.n_bands() < 1 || ea.n_energy() < 1)
        throw Error(what + ": table is " + std::to_string(ea.n_bands()) + " x " +
                    std::to_string(ea.n_energy()) + " but there are " +
                    std::to_string(ea.sindec_edges.size()) + " sin(dec) and " +
                    std::to_string(ea.energy_edges.size()) + " energy edges (need rows+1, cols+1)");
    for (Eigen::Index i = 1; i < ea.sindec_edges.size(); ++i)
        if (!(ea.sindec_edges[i] > ea.sindec_edges[i - 1]))
            throw Error(what + ": sin(dec) edges must increase");
    if (ea.sindec_edges[0] < -1.0 - 1e-9 || ea.sindec_edges[ea.sindec_edges.size() - 1] > 1.0 + 1e-9)
        throw Error(what + ": sin(dec) edges must lie in [-1, 1]");
    for (Eigen::Index i = 1; i < ea.energy_edges.size(); ++i)
        if (!(ea.energy_edges[i] > ea.energy_edges[i - 1]))
            throw Error(what + ": energy edges must increase");
    if (!(ea.energy_edges[0] > 0)) throw Error(what + ": energy edges must be > 0 GeV");
    if (!ea.area_cm2.isFinite().all() || (ea.area_cm2 < 0).any())
        throw Error(what + ": areas must be finite and >= 0");
}

EffectiveArea read_effective_area(const std::string& values_path,
                                  const std::string& sindec_edges_path,
                                  const std::string& energy_edges_path)
{
    EffectiveArea ea;
    ea.sindec_edges = read_edges(sindec_edges_path);
    ea.energy_edges = read_edges(energy_edges_path);
    const TextTable t = read_text_table(values_path);
    const Eigen::Index rows = Eigen::Index(t.rows.size()), cols = Eigen::Index(t.n_columns());
    if (rows != ea.sindec_edges.size() - 1 || cols != ea.energy_edges.size() - 1)
        throw file_error(values_path, 0,
                         "effective area is " + std::to_string(rows) + " x " + std::to_string(cols) +
                             ", expected " + std::to_string(ea.sindec_edges.size() - 1) +
                             " sin(dec) bands (" + sindec_edges_path + ") x " +
                             std::to_string(ea.energy_edges.size() - 1) + " energy bins (" +
                             energy_edges_path + ")");
    ea.area_cm2.resize(rows, cols);
    for (Eigen::Index r = 0; r < rows; ++r)
        for (Eigen::Index c = 0; c < cols; ++c) {
            const double v = t.rows[std::size_t(r)][std::size_t(c)];
            if (v < 0)
                throw file_error(values_path, long(r + 1), "negative effective area in column " +
                                                               std::to_string(c + 1));
            ea.area_cm2(r, c) = v;
        }
    validate_effective_area(ea, values_path);
    return ea;
}

double power_law_average_energy(double lo, double hi, double gamma)
{
    // int E^(1-g) dE / int E^-g dE, with the logarithmic limits at g = 1 and g = 2.
    auto integral = [](double a, double b, double p) {  // int_a^b E^-p dE
        if (std::abs(p - 1.0) < 1e-12) return std::log(b / a);
        return (std::pow(b, 1.0 - p) - std::pow(a, 1.0 - p)) / (1.0 - p);
    };
    return integral(lo, hi, gamma - 1.0) / integral(lo, hi, gamma);
}

double power_law_bin_integral(double lo, double hi, double gamma, double e0, EnergyIntegration rule)
{
    if (rule == EnergyIntegration::power_law_average_energy)
        return std::pow(power_law_average_energy(lo, hi, gamma) / e0, -gamma) * (hi - lo);
    // exact: E0^g int E^-g dE, written with ratios to E0 to stay in range
    const double a = lo / e0, b = hi / e0;
    if (std::abs(gamma - 1.0) < 1e-12) return e0 * std::log(b / a);
    return e0 * (std::pow(b, 1.0 - gamma) - std::pow(a, 1.0 - gamma)) / (1.0 - gamma);
}

Eigen::ArrayXd template_band_fractions(const Eigen::ArrayXd& map, const Eigen::ArrayXd& edges)
{
    const auto npix = map.size();
    long nside = 0;
    {
        const long n2 = long(npix / 12);
        nside = std::lround(std::sqrt(double(n2)));
        if (npix < 12 || npix % 12 != 0 || nside * nside != n2)
            throw Error("template_band_fractions: " + std::to_string(npix) +
                        " values is not a HEALPix map (12 nside^2)");
    }
    if (edges.size() < 2) throw Error("template_band_fractions: need at least 2 sin(dec) edges");
    Healpix_Base base(int(nside), RING, SET_NSIDE);
    const Eigen::Index nb = edges.size() - 1;
    Eigen::ArrayXd sum = Eigen::ArrayXd::Zero(nb);
    double total = 0;
    const int nrings = 4 * int(nside) - 1;
    for (int ring = 1; ring <= nrings; ++ring) {
        int start = 0, ringpix = 0;
        double theta = 0;
        bool shifted = false;
        base.get_ring_info2(ring, start, ringpix, theta, shifted);
        const double z = std::cos(theta);
        const double ring_sum = map.segment(start, ringpix).sum();
        total += ring_sum;
        if (z < edges[0] || z > edges[nb]) continue;
        Eigen::Index b = 0;
        while (b + 1 < nb && z >= edges[b + 1]) ++b;
        sum[b] += ring_sum;
    }
    if (!(total > 0) || !std::isfinite(total))
        throw Error("template_band_fractions: the template's integral is not positive");
    return sum / total;
}

double expected_events(const EffectiveArea& ea, const Eigen::ArrayXd& band_fraction, double gamma,
                       double phi0, double e0_gev, double livetime_s, EnergyIntegration rule)
{
    validate_effective_area(ea);
    if (band_fraction.size() != ea.n_bands())
        throw Error("expected_events: " + std::to_string(band_fraction.size()) +
                    " band fractions for " + std::to_string(ea.n_bands()) + " sin(dec) bands");
    // How mu = 309.57 is reproduced: the released area is per flavour (nu + nubar), the
    // paper's Phi0 is per flavour, and the templates are normalised to integral 1 over the
    // sky, so no flavour or solid-angle factor enters. With the exact integral of E^-2.7 over
    // each bin the sum is 309.03; evaluating the flux at the bin's power-law average energy
    // <E> = int E^-1.7 / int E^-2.7 times the bin width gives 309.57 (the release's number),
    // so that is the default rule. (Bin log-centre: 308.81; arithmetic centre: 307.86.)
    double sum = 0;
    for (Eigen::Index j = 0; j < ea.n_energy(); ++j) {
        const double dphi =
            phi0 * power_law_bin_integral(ea.energy_edges[j], ea.energy_edges[j + 1], gamma, e0_gev, rule);
        double band_sum = 0;
        for (Eigen::Index b = 0; b < ea.n_bands(); ++b) band_sum += ea.area_cm2(b, j) * band_fraction[b];
        sum += band_sum * dphi;
    }
    return livetime_s * sum;
}

double e2_flux_tev(double ns, double mu, double phi0, double e0_gev)
{
    if (!(mu > 0)) throw Error("e2_flux_tev: mu must be > 0");
    return flux_normalisation(ns, mu, phi0) * e0_gev * e0_gev * 1e-3;
}

}  // namespace nusky

#include "likelihood/common/spatial_pdf.hpp"

#include "nusky/error.hpp"

#include <cmath>
#include <numbers>
#include <string>

namespace nusky {

UnitVector unit_vector(double ra, double dec)
{
    const double cos_dec = std::cos(dec);
    return {cos_dec * std::cos(ra), cos_dec * std::sin(ra), std::sin(dec)};
}

double vmf_kappa(double sigma)
{
    if (!(sigma > 0.0) || !std::isfinite(sigma))
        throw Error("angular uncertainty sigma must be positive and finite, got " +
                    std::to_string(sigma));
    return 1.0 / (sigma * sigma);
}

double vmf_normalisation(double kappa)
{
    // 1 - exp(-2 kappa) = -expm1(-2 kappa): no cancellation for small kappa (huge sigma),
    // and exp(-2 kappa) simply underflows to 0 for the large kappa of well-reconstructed events.
    return kappa / (2.0 * std::numbers::pi * -std::expm1(-2.0 * kappa));
}

double vmf_density(double cos_psi, double sigma)
{
    const double kappa = vmf_kappa(sigma);
    // Written around cos psi - 1 (<= 0) so the exponent never overflows, whatever kappa.
    return vmf_normalisation(kappa) * std::exp(kappa * (cos_psi - 1.0));
}

VmfEventConstants vmf_event_constants(const Eigen::ArrayXd& sigma)
{
    VmfEventConstants c;
    c.kappa.resize(sigma.size());
    c.normalisation.resize(sigma.size());
    for (Eigen::Index i = 0; i < sigma.size(); ++i) {
        c.kappa[i] = vmf_kappa(sigma[i]);
        c.normalisation[i] = vmf_normalisation(c.kappa[i]);
    }
    return c;
}

void vmf_density(const Eigen::ArrayXd& x, const Eigen::ArrayXd& y, const Eigen::ArrayXd& z,
                 const VmfEventConstants& constants, const UnitVector& source, Eigen::ArrayXd& out)
{
    const Eigen::Index n = x.size();
    if (y.size() != n || z.size() != n || constants.kappa.size() != n ||
        constants.normalisation.size() != n)
        throw Error("vmf_density: event arrays have different lengths");
    out.resize(n);
    // cos psi - 1 = -|n_i - n_s|^2 / 2 for unit vectors: the chord keeps full relative
    // precision at the sub-degree separations where kappa is ~1e5. A plain loop with the
    // library exp (as fast here as Eigen's SIMD exp, and underflows cleanly to 0).
    const double* px = x.data();
    const double* py = y.data();
    const double* pz = z.data();
    const double* kappa = constants.kappa.data();
    const double* norm = constants.normalisation.data();
    double* po = out.data();
    for (Eigen::Index i = 0; i < n; ++i) {
        const double dx = px[i] - source.x;
        const double dy = py[i] - source.y;
        const double dz = pz[i] - source.z;
        po[i] = norm[i] * std::exp(-0.5 * kappa[i] * (dx * dx + dy * dy + dz * dz));
    }
}

void vmf_density(const Eigen::ArrayXd& x, const Eigen::ArrayXd& y, const Eigen::ArrayXd& z,
                 const Eigen::ArrayXd& sigma, const UnitVector& source, Eigen::ArrayXd& out)
{
    vmf_density(x, y, z, vmf_event_constants(sigma), source, out);
}

namespace {

int sin_dec_bin(double sin_dec, int n_bins)
{
    if (!(sin_dec >= -1.0 && sin_dec <= 1.0))
        throw Error("sin(dec) outside [-1, 1]: " + std::to_string(sin_dec));
    const int bin = static_cast<int>((sin_dec + 1.0) * 0.5 * n_bins);
    return bin < n_bins ? bin : n_bins - 1;  // sin dec = 1 belongs to the last bin
}

}  // namespace

void fill_sin_dec_counts(const Eigen::ArrayXd& sin_dec, std::vector<double>& counts)
{
    if (counts.empty()) throw Error("fill_sin_dec_counts: zero bins");
    const int n_bins = static_cast<int>(counts.size());
    for (Eigen::Index i = 0; i < sin_dec.size(); ++i)
        counts[sin_dec_bin(sin_dec[i], n_bins)] += 1.0;
}

SinDecBackgroundPdf::SinDecBackgroundPdf(std::vector<double> counts) : density_(std::move(counts))
{
    if (density_.size() < 2) throw Error("background PDF needs at least 2 sin(dec) bins");
    double total = 0.0;
    for (double c : density_) {
        if (!(c >= 0.0) || !std::isfinite(c))
            throw Error("background PDF: negative or non-finite bin count");
        total += c;
    }
    if (total <= 0.0) throw Error("background PDF: no events in the sin(dec) histogram");
    const double scale = 1.0 / (total * bin_width());
    for (double& d : density_) d *= scale;
}

double SinDecBackgroundPdf::sin_dec_density(double sin_dec) const
{
    const int n = n_bins();
    // Position in units of bins, measured from the first bin centre.
    const double u = (sin_dec + 1.0) / bin_width() - 0.5;
    if (std::isnan(u)) return u;
    if (u <= 0.0) return density_.front();
    if (u >= n - 1) return density_.back();
    const int j = static_cast<int>(u);
    const double t = u - j;
    return (1.0 - t) * density_[j] + t * density_[j + 1];
}

double SinDecBackgroundPdf::background_density(double sin_dec) const
{
    return sin_dec_density(sin_dec) / (2.0 * std::numbers::pi);
}

void SinDecBackgroundPdf::background_density(const Eigen::ArrayXd& sin_dec,
                                             Eigen::ArrayXd& out) const
{
    out.resize(sin_dec.size());
    for (Eigen::Index i = 0; i < sin_dec.size(); ++i) out[i] = background_density(sin_dec[i]);
}

}  // namespace nusky

#pragma once
// Spatial PDFs of the point-source likelihood (docs/PHYSICS.md section 3): the von Mises-Fisher
// signal density and the data-driven background density in sin(declination).
// Plain functions on Eigen arrays; no MPI here (the caller reduces histogram counts).
#include <Eigen/Core>

#include <cstddef>
#include <vector>

namespace nusky {

struct UnitVector {
    double x = 0.0, y = 0.0, z = 1.0;
};

// (cos d cos a, cos d sin a, sin d) for right ascension a and declination d in radians.
UnitVector unit_vector(double ra, double dec);

// kappa = 1 / sigma^2 of the vMF density for an angular uncertainty sigma (radians).
double vmf_kappa(double sigma);

// kappa / (2 pi (1 - exp(-2 kappa))), the vMF normalisation, stable for all kappa > 0.
double vmf_normalisation(double kappa);

// Signal density S(cos psi) [sr^-1] for an event with uncertainty sigma (radians):
// kappa / (2 pi (1 - exp(-2 kappa))) * exp(kappa (cos psi - 1)).
// Note cos_psi - 1 loses relative precision for psi << 1e-4; prefer the vectorised form
// (which uses the chord length) when unit vectors are at hand.
double vmf_density(double cos_psi, double sigma);

// Per-event constants of the vMF density, computed once per event set (sigma does not change
// between trials) so that the per-source loop is one exp per event.
struct VmfEventConstants {
    Eigen::ArrayXd kappa;          // 1 / sigma^2
    Eigen::ArrayXd normalisation;  // vmf_normalisation(kappa)
};
VmfEventConstants vmf_event_constants(const Eigen::ArrayXd& sigma);

// S_i for events with unit vectors (x, y, z) and a source at `source`, written to `out`
// (resized if needed). Uses cos psi - 1 = -|n_i - n_s|^2 / 2, exact for small angles.
void vmf_density(const Eigen::ArrayXd& x, const Eigen::ArrayXd& y, const Eigen::ArrayXd& z,
                 const VmfEventConstants& constants, const UnitVector& source, Eigen::ArrayXd& out);
// Same, computing the per-event constants from sigma (radians) on the fly.
void vmf_density(const Eigen::ArrayXd& x, const Eigen::ArrayXd& y, const Eigen::ArrayXd& z,
                 const Eigen::ArrayXd& sigma, const UnitVector& source, Eigen::ArrayXd& out);

// Adds each sin(dec) to `counts` (equal bins on [-1, 1]; counts.size() is the bin count).
// Local counts only: the caller sums them across ranks before building the PDF.
// sin(dec) = 1 goes to the last bin; values outside [-1, 1] are an error.
void fill_sin_dec_counts(const Eigen::ArrayXd& sin_dec, std::vector<double>& counts);

// Background density B = P(sin dec) / (2 pi) [sr^-1], with P the normalised histogram density
// of the data in sin(dec), linearly interpolated between bin centres and held constant
// beyond the outer centres. With equal bins this interpolation keeps the integral at exactly 1.
class SinDecBackgroundPdf {
public:
    static constexpr int default_bins = 40;

    // counts: global (already reduced) per-bin counts over equal bins on [-1, 1].
    explicit SinDecBackgroundPdf(std::vector<double> counts);

    // P(sin dec), a density on [-1, 1].
    double sin_dec_density(double sin_dec) const;
    // B = P(sin dec) / (2 pi), a density on the sphere.
    double background_density(double sin_dec) const;
    void background_density(const Eigen::ArrayXd& sin_dec, Eigen::ArrayXd& out) const;

    int n_bins() const { return static_cast<int>(density_.size()); }
    double bin_width() const { return 2.0 / static_cast<double>(density_.size()); }
    const std::vector<double>& bin_densities() const { return density_; }

private:
    std::vector<double> density_;  // P at each bin centre
};

}  // namespace nusky

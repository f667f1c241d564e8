#pragma once
// Effective areas, power-law integrals and flux conversions, shared by the likelihoods
// (PHYSICS.md section 6.5: the template's flux; point_source and stacking convert with them too).
//
// Units: energies in GeV, areas in cm^2, times in s, fluxes dN/dE in GeV^-1 cm^-2 s^-1.
// A template's reference flux Phi0 (E/E0)^-gamma is the flux of the WHOLE template (summed
// over the sky, no sr^-1), spread over the sky as the template T.
//
// Flavour: the released gp2023 effective area is per flavour (nu + nubar of one flavour), and
// the paper quotes per-flavour fluxes; so mu = livetime * sum A_eff * Phi dE with no factor
// (an all-flavour flux would need a factor 1/3). See expected_events() for the check.
#include <Eigen/Core>

#include <string>

namespace nusky {

struct EffectiveArea {
    Eigen::ArrayXd sindec_edges;  // n_bands + 1, increasing, within [-1, 1]
    Eigen::ArrayXd energy_edges;  // n_energy + 1, GeV, increasing, > 0
    Eigen::ArrayXXd area_cm2;     // n_bands x n_energy

    Eigen::Index n_bands() const { return area_cm2.rows(); }
    Eigen::Index n_energy() const { return area_cm2.cols(); }
};

// Reads the gp2023-style tables: values (n_bands rows x n_energy columns, cm^2), sin(dec)
// edges (n_bands + 1 numbers) and energy edges (n_energy + 1 numbers, GeV). Checks shapes,
// monotonic edges, finite non-negative areas; errors name the offending file.
EffectiveArea read_effective_area(const std::string& values_path,
                                  const std::string& sindec_edges_path,
                                  const std::string& energy_edges_path);
// Checks an in-memory table (throws nusky::Error with `what` as the prefix).
void validate_effective_area(const EffectiveArea& ea, const std::string& what = "effective area");

// How the flux is integrated over an energy bin [lo, hi].
enum class EnergyIntegration {
    // Phi(<E>) * (hi - lo) with <E> the power-law average energy of the bin,
    // <E> = int E^(1-gamma) dE / int E^-gamma dE. This is what the gp2023 release uses
    // (it reproduces mu = 309.57; the exact integral gives 309.03, 0.17 % lower).
    power_law_average_energy,
    // The exact integral int_lo^hi (E/E0)^-gamma dE.
    exact,
};

// int over [lo, hi] of (E/E0)^-gamma dE (GeV), by the chosen rule.
double power_law_bin_integral(double lo, double hi, double gamma, double e0,
                              EnergyIntegration rule = EnergyIntegration::power_law_average_energy);

// The power-law average energy of a bin, int E^(1-gamma) dE / int E^-gamma dE (GeV).
double power_law_average_energy(double lo, double hi, double gamma);

// Fraction of the template's integral whose pixel centres fall in each sin(dec) band
// (template T itself, NOT acceptance-weighted; T a RING HEALPix map of densities; any
// normalisation). Pixels outside [edges.front(), edges.back()] count in the total only.
// Band b holds edges[b] <= sin(dec) < edges[b+1] (the last band includes its upper edge).
Eigen::ArrayXd template_band_fractions(const Eigen::ArrayXd& map, const Eigen::ArrayXd& sindec_edges);

// mu = livetime * sum_{b, j} A_eff[b, j] * int_bin_j Phi0 (E/E0)^-gamma dE * fraction[b].
// Check (gp2023 tables, pi0 template, gamma 2.7, livetime 304,047,105.07 s,
// Phi0 = 1e-18 GeV^-1 cm^-2 s^-1 at E0 = 1e5 GeV): 309.57 events with the default rule.
double expected_events(const EffectiveArea& ea, const Eigen::ArrayXd& band_fraction, double gamma,
                       double phi0, double e0_gev, double livetime_s,
                       EnergyIntegration rule = EnergyIntegration::power_law_average_energy);

// Flux normalisation for n_s fitted events: Phi0 * n_s / mu (GeV^-1 cm^-2 s^-1 at E0).
inline double flux_normalisation(double ns, double mu, double phi0) { return phi0 * ns / mu; }

// E^2 dN/dE at E0 in TeV cm^-2 s^-1 for n_s events:
// dN/dE(E0) = Phi0 n_s / mu [GeV^-1 cm^-2 s^-1]; times E0^2 [GeV^2] gives GeV cm^-2 s^-1;
// times 1e-3 TeV/GeV gives TeV cm^-2 s^-1. Check: n_s 671.1, mu 309.57, Phi0 1e-18,
// E0 1e5 GeV -> 2.17e-11 TeV cm^-2 s^-1.
double e2_flux_tev(double ns, double mu, double phi0, double e0_gev);

}  // namespace nusky

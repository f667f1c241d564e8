#pragma once
// A simulated 10-year cascade sky modelled on the IceCube Galactic-plane data release
// (Science 380, 1338 (2023); files in data/gp2023). See docs/simulation.md for the model
// and its approximations.
//
// Everything is a pure function of (config, release tables, event index): event i of a component
// uses CounterRng(seed, component stream, i) and nothing else, so any rank can generate any slice
// [first, first + count) and the concatenation of slices is bit-identical to one big call,
// whatever the number of ranks.
#include "nusky/event.hpp"

#include <Eigen/Core>

#include <cstddef>
#include <cstdint>
#include <string>

namespace nusky {

inline constexpr double kGp2023LivetimeS = 304047105.07;
inline constexpr std::size_t kGp2023EventCount = 59592;

// Random streams of the components (the "stream" of CounterRng).
enum SimulationStream : std::uint64_t {
    kStreamCounts = 0,      // index 0: background count, 1: signal count
    kStreamBackground = 1,
    kStreamSignal = 2,
    kStreamMc = 3,
    kStreamPointSource = 4,
};

// A 1-D histogram: n counts, n + 1 increasing edges.
struct SimHistogram {
    Eigen::ArrayXd edges;
    Eigen::ArrayXd counts;
};

// The release tables the simulation is built from (load_simulation_inputs).
struct SimulationInputs {
    SimHistogram data_sindec;        // distributions/sindec_plot/data_*: sin(dec) of the 59,592 events
    SimHistogram data_sigma_deg;     // distributions/angerr_plot/data_*: sigma in deg, [0, 40) only
    SimHistogram background_energy;  // spectra/atmo_tot_*: events per true-energy bin (edges GeV)
    // Effective area (per flavour, nu + nubar): effa_values.csv etc.
    Eigen::ArrayXd effa_sindec_edges;  // 6
    Eigen::ArrayXd effa_energy_edges;  // 121, GeV
    Eigen::ArrayXXd effa_cm2;          // 5 (sin dec bands) x 120 (energy bins)
    // Angular resolution: 20 %, 50 % and 80 % quantiles of the opening angle (deg) against true
    // energy (GeV), and the per-event sigma law fitted to them (fit_psf_law) at each energy.
    Eigen::ArrayXd angres_energy, angres_q20_deg, angres_median_deg, angres_q80_deg;
    Eigen::ArrayXd psf_log_sigma, psf_scatter;  // ln(sigma / rad) ~ N(psf_log_sigma, psf_scatter^2)
    // CDF of the law's sigma over the background's true-energy spectrum, on a grid of ln(sigma):
    // the first half of the map that gives the background the data's sigma histogram.
    Eigen::ArrayXd law_sigma_cdf;
    double law_sigma_log_min = 0.0, law_sigma_log_step = 1.0;
    // Energy resolution EnergyResS6a: P(reco bin | true bin), rows = true bins, rows sum to 1.
    Eigen::ArrayXd eres_true_edges, eres_reco_edges;  // GeV
    Eigen::ArrayXXd eres;

    // A_eff (cm^2) at true energy E (GeV) and sin(dec); 0 outside the table.
    double effective_area(double energy, double sin_dec) const;
    // Median PSF opening angle (rad) at true energy E, log-interpolated, clamped at the ends.
    double median_psf(double energy) const;
    // The fitted sigma law at true energy E (log-interpolated, clamped): mean of ln sigma and scatter.
    void psf_law(double energy, double& log_sigma, double& scatter) const;
    // P(sigma_law <= sigma) over the background spectrum (from law_sigma_cdf).
    double law_sigma_cdf_at(double sigma) const;
};

// Reads the tables from a gp2023 release directory; throws nusky::Error naming a bad file.
SimulationInputs load_simulation_inputs(const std::string& gp2023_dir);

struct SimulationConfig {
    std::uint64_t seed = 1;
    // Background: the data-like atmospheric sky.
    double background_mean = static_cast<double>(kGp2023EventCount);
    bool poisson_background = false;  // false: exactly round(background_mean) events
    // The data sigma histogram stops at 40 deg; the events it misses (59,592 - 58,399) get an
    // exponential tail beyond 40 deg that continues the last bin's density, cut at sigma_max.
    double sigma_max_deg = 60.0;
    // Galactic-plane signal from the pi0 template.
    double signal_mean = 675.0;
    bool poisson_signal = true;
    double signal_gamma = 2.7;
    // Every event's sigma (background, signal, MC, point source) follows one law of its true
    // energy: sigma_law = exp(psf_log_sigma(E) + psf_scatter(E) N(0,1)), mapped monotonically
    // so that the background's sigma histogram is the data's: sigma = F_data^-1(F_law(sigma_law)).
    // Signal and MC directions are then drawn from a von Mises-Fisher distribution with
    // kappa = 1 / sigma^2 around the true direction (sigma is a calibrated uncertainty).
    // MC set: E^-mc_gamma in [mc_emin, mc_emax] GeV, isotropic. E^-1 (equal events per decade)
    // because the effective area rises ~5000x from 1 TeV to 1 PeV: with E^-2 generation an E^-2
    // injection at one declination (+-3 deg) draws from an effective ~65-160 MC events only.
    std::size_t mc_count = 1000000;
    double mc_gamma = 1.0;
    double mc_emin = 1e2;
    double mc_emax = 1e7;
    double sigma_floor_deg = 0.2;
    double livetime_s = kGp2023LivetimeS;
    // An injected point source (PHYSICS.md section 9 test sky): exactly round(ps_count) events
    // at (ps_ra, ps_dec) [rad], true energy from E^-ps_gamma * A_eff at the source declination,
    // reconstructed with the signal's PSF and energy model (simulated directly rather than
    // drawn from the MC: the same PSF, and no dependence on the MC set's size).
    double ps_count = 0.0;
    double ps_ra = 0.0, ps_dec = 0.0, ps_gamma = 2.0;
};

// Number of background / signal events of the sky (pure functions of the config and seed).
std::size_t background_count(const SimulationConfig& cfg);
std::size_t signal_count(const SimulationConfig& cfg);
std::size_t point_source_count(const SimulationConfig& cfg);
inline std::size_t sky_count(const SimulationConfig& cfg)
{
    return background_count(cfg) + signal_count(cfg) + point_source_count(cfg);
}

// Point-source events [first, first + count) (stream kStreamPointSource), with MC truth.
Events simulate_point_source(const SimulationConfig& cfg, const SimulationInputs& in,
                             std::size_t first, std::size_t count);

// Background events [first, first + count): sin(dec) and sigma from the data histograms, RA
// uniform, energies from the conventional-atmospheric spectrum smeared by the energy resolution.
Events simulate_background(const SimulationConfig& cfg, const SimulationInputs& in,
                           std::size_t first, std::size_t count);

// Galactic-plane signal events [first, first + count): true direction from template * acceptance
// (template_map: HEALPix RING, any nside), true energy from E^-gamma * A_eff, then smeared.
// Carries MC truth (true_ra, true_dec, true_energy; oneweight = 0).
Events simulate_signal(const SimulationConfig& cfg, const SimulationInputs& in,
                       const Eigen::ArrayXd& template_map, std::size_t first, std::size_t count);

// All functions fill ra, dec, sigma, log10_energy (and truth where stated); the unit vectors
// (Events::compute_unit_vectors) and mjd are left to the caller.

// The sky: indices [0, Nb) are background, [Nb, Nb + Ns) signal, then the Np point-source
// events (Nb, Ns, Np from the counts above). No truth columns; extra["signal"] is 0 for
// background, 1 for Galactic-plane signal, 2 for point-source events.
Events simulate_sky(const SimulationConfig& cfg, const SimulationInputs& in,
                    const Eigen::ArrayXd& template_map, std::size_t first, std::size_t count);

// MC events [first, first + count) of cfg.mc_count, with truth and oneweight (GeV cm^2 sr):
//   OW = A_eff(E, sin dec) * 4 pi * Int_{Emin}^{Emax} E^-g dE / (E^-g * mc_count),
// so that sum_i OW_i * dN/dE(E_i) * livetime estimates the expected number of events
// livetime * Int dOmega Int dE A_eff dN/dE (dN/dE per sr; times a template T(dir) for a map).
Events simulate_mc(const SimulationConfig& cfg, const SimulationInputs& in, std::size_t first,
                   std::size_t count);

// Expected events for a diffuse isotropic flux Phi0 * (E / E0)^-gamma (GeV^-1 cm^-2 s^-1 sr^-1)
// computed directly from the effective-area table (exact bin integrals): the MC check.
double expected_events_isotropic(const SimulationInputs& in, double phi0, double e0, double gamma,
                                 double livetime_s);

// Helpers, exposed for tests.
// The per-event sigma law: ln sigma ~ N(log_sigma, scatter^2), direction vMF(sigma).
struct PsfLaw {
    double log_sigma = 0.0;  // ln(rad)
    double scatter = 0.0;
};
// P(opening angle <= theta) for that law (theta, rad).
double psf_law_cdf(double theta, const PsfLaw& law);
// The law whose opening-angle CDF passes through the released 50 % quantile exactly and
// closest (least squares) to the 20 % and 80 % ones (angles in rad).
PsfLaw fit_psf_law(double q20, double q50, double q80);
// vMF concentration whose opening-angle median is `median` (rad).
double vmf_kappa_for_median(double median);
// Rotates direction (ra, dec) by opening angle theta at position angle phi.
void offset_direction(double ra, double dec, double theta, double phi, double& ra_out,
                      double& dec_out);

}  // namespace nusky

#pragma once
// Signal injection (docs/PHYSICS.md section 9): signal trials add MC events, drawn with
// probability proportional to their weight for the hypothesis, to an RA-scrambled background.
//
//  - Point source at (ra_s, dec_s), spectrum E^-gamma: the MC events whose true declination is
//    within `band` of dec_s, weight OW * E_nu^-gamma; each drawn event is rotated so that its
//    true direction lands on the source (the reconstructed direction turns with it, so the
//    event keeps its true-to-reconstructed offset and its sigma and energy).
//  - Template T, spectrum E^-gamma: every MC event, weight OW * E_nu^-gamma * T(true direction),
//    reconstructed quantities unchanged.
//
// The pool of candidate events is replicated on every rank in the global MC order (the readers
// hand out MC in rank-ordered blocks, so the order does not depend on the rank count). Trial t
// draws from CounterRng(seed, kInjectionStreamBit | t, draw): draw 0 gives the Poisson count,
// draw k + 1 the k-th event. So a signal trial is a pure function of (seed, trial, mean) on any
// rank; its background scramble uses stream t, as background trials do.
#include "likelihood/common/catalog.hpp"
#include "nusky/event.hpp"
#include "nusky/hypothesis.hpp"
#include "nusky/mpi.hpp"
#include "nusky/stages.hpp"

#include <Eigen/Core>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace nusky {

inline constexpr std::uint64_t kInjectionStreamBit = 1ULL << 63;

struct InjectionPool {
    // Reconstructed quantities as they enter a trial (rotated onto the source for a point source).
    Eigen::ArrayXd ra, dec, sigma, log10_energy;
    Eigen::ArrayXd true_energy;
    Eigen::ArrayXd weight;            // relative draw weight, > 0
    std::vector<double> cumulative;   // cumulative[i] = weight[0] + ... + weight[i]
    // Expected number of events for the flux Phi0 (E/E0)^-gamma with Phi0 = 1 GeV^-1 cm^-2 s^-1
    // (the whole template's flux for a template; a point flux for a point source), from the MC:
    // mu = livetime * sum_i OW_i (E_i/E0)^-gamma * f_i with f_i = T(true dir_i) (template, T
    // normalised to integral 1) or 1 / Omega_band (point source).
    double events_per_unit_flux = 0.0;
    double e0_gev = 1e5;
    double gamma = 2.0;
    double band_solid_angle = 0.0;  // point source: the band's solid angle [sr]

    Eigen::Index size() const { return weight.size(); }
    double total_weight() const { return cumulative.empty() ? 0.0 : cumulative.back(); }
};

// Rotates the direction (ra, dec) by the rotation about the axis a x b that takes a =
// (true_ra, true_dec) onto b = (src_ra, src_dec). Angles in radians; ra_out in [0, 2 pi).
void rotate_onto_source(double true_ra, double true_dec, double src_ra, double src_dec, double ra,
                        double dec, double& ra_out, double& dec_out);

// Point-source pool from this rank's MC share (collective: gathers the selected events).
// band: half-width in declination [rad] of the true-declination band. Throws when no MC event
// with positive weight lies in the band (on every rank alike).
InjectionPool point_source_injection_pool(const Events& local_mc, double src_ra, double src_dec,
                                          double gamma, double band, double e0_gev,
                                          double livetime_s, const Comm& comm);

// Stacking pool (collective): the point-source pools of every source, each event's weight
// multiplied by the source's share w_k / sum w of the total flux (PHYSICS.md section 7), so that
// the injected events of source k are in proportion to w_k times its acceptance.
// events_per_unit_flux is for a total flux Phi0 (E/E0)^-gamma summed over the sources.
InjectionPool stacking_injection_pool(const Events& local_mc, const std::vector<Source>& sources, double gamma,
                                      double band, double e0_gev, double livetime_s, const Comm& comm);

// Template pool (collective). template_map: HEALPix RING densities, any nside, any normalisation.
InjectionPool template_injection_pool(const Events& local_mc, const Eigen::ArrayXd& template_map,
                                      double gamma, double e0_gev, double livetime_s,
                                      const Comm& comm);

// Poisson(mu) count of trial `trial` (draw 0 of its injection stream; `sample`: the sample's
// stream in a joint analysis, 0 for one sample).
std::uint64_t injected_count(std::uint64_t seed, std::int64_t trial, double mu, std::uint64_t sample = 0);

// The injected events of trial `trial` for mean mu: ra, dec, sigma, log10_energy, true_energy
// and unit vectors filled; the other columns empty.
Events draw_injection(const InjectionPool& pool, std::uint64_t seed, std::int64_t trial, double mu,
                      std::uint64_t sample = 0);

// The task engines' injector of one sample's pool (nusky/hypothesis.hpp). Its /injection
// attributes: inject_gamma, mc_events_per_unit_flux, flux_e0_gev.
class PoolInjector : public Injector {
public:
    PoolInjector(InjectionPool pool, double events_per_flux_unit, std::string flux_unit);
    std::vector<Events> draw(std::uint64_t seed, std::int64_t trial, double mu) const override;
    std::int64_t count(std::uint64_t seed, std::int64_t trial, double mu) const override;
    std::int64_t pool_size() const override { return static_cast<std::int64_t>(pool_.size()); }
    const InjectionPool& pool() const { return pool_; }

private:
    InjectionPool pool_;
};

// Joint samples (PHYSICS.md section 10): one point flux seen by every sample, each with its own
// pool. Sample k's injected count is Poisson(mu Y_k / sum Y), Y_k its pool's expected events
// per unit flux, drawn from the sample's own streams (seed, trial, sample).
class JointPoolInjector : public Injector {
public:
    JointPoolInjector(std::vector<InjectionPool> pools, std::vector<std::uint64_t> streams, double e0_gev,
                      std::string flux_unit);
    std::vector<Events> draw(std::uint64_t seed, std::int64_t trial, double mu) const override;
    std::int64_t count(std::uint64_t seed, std::int64_t trial, double mu) const override;
    std::int64_t pool_size() const override;
    const std::vector<double>& fractions() const { return fractions_; }

private:
    std::vector<InjectionPool> pools_;
    std::vector<std::uint64_t> streams_;
    std::vector<double> fractions_;  // Y_k / sum Y
};

// The injector of a joint hypothesis (collective): `pool_of` gives each sample's MC pool for the
// hypothesis; sample k's stream is its Sample::stream; /injection gets yield_fraction_<name>.
// Throws, naming `who` and the sample, when a sample has no MC.
std::unique_ptr<JointPoolInjector> joint_injector(const std::vector<Sample>& samples,
                                                  const std::function<InjectionPool(const Sample&)>& pool_of,
                                                  double e0_gev, std::string flux_unit, const std::string& who,
                                                  const Comm& comm);

}  // namespace nusky

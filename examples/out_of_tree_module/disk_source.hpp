#pragma once
// Likelihood `disk_source`, an out-of-tree plugin: a disk-shaped extended source (radius R,
// uniform surface brightness) at (ra, dec), fitted for its number of signal events n_s. It hands
// nusky's task engines a Hypothesis (fit, background and signal trials, an injector), so it runs
// tasks fit, trials, inject and sensitivity with no task code of its own.
//
// Signal PDF of event i, in the flat-sky approximation (R and the PSF well below a radian): the
// uniform disk convolved with the event's Gaussian PSF sigma_i,
//     S_i = P(|X| <= R) / (pi R^2),   X ~ N(d_i, sigma_i^2 I_2),
// with d_i the event's angular distance to the centre: |X|^2 / sigma_i^2 is non-central
// chi-square with 2 degrees of freedom and non-centrality d_i^2 / sigma_i^2 (Boost.Math).
// Background: B_i = h(sin dec_i) / (2 pi), h the normalised sin(dec) histogram of the data
// (counts summed over ranks). Fit: n_s in [0, N) maximising
//     ln L(n_s) = sum_i ln(1 + n_s / N (S_i / B_i - 1)),   TS = 2 ln L(n_s) (0 at n_s = 0).
// Spatial only: energies play no part.
#include "nusky/event.hpp"

#include <Eigen/Core>

#include <cstdint>
#include <functional>
#include <vector>

namespace nusky::disk {

// S for an event at angular distance `distance` from the centre, PSF `sigma`, disk `radius`
// (radians); per steradian.
double signal_density(double distance, double sigma, double radius);

// The data's sin(dec) histogram as a background density per steradian.
class SinDecBackground {
public:
    // counts: events per bin of sin(dec) over [-1, 1] (summed over ranks).
    explicit SinDecBackground(const std::vector<double>& counts);
    double density(double sin_dec) const;
    static int bin_of(double sin_dec, int bins);

private:
    std::vector<double> density_;
};

// Best n_s and TS from the events' S_i / B_i, sums reduced by `reduce` (a no-op on one rank's
// whole sample, an MPI sum over a sharded one).
struct DiskFit {
    double ts = 0.0, ns = 0.0;
};
using Reduce = std::function<void(double* values, int count)>;
DiskFit fit_ns(const Eigen::ArrayXd& ratio, double n_total, const Reduce& reduce);

}  // namespace nusky::disk

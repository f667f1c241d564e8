#pragma once
// Stacking of a source catalog (docs/PHYSICS.md section 7): one (n_s, gamma) for K sources,
//   S_i(gamma) = sum_k a_k(gamma) S_ik / sum_k a_k(gamma),  a_k = w_k * A(sin dec_k; gamma),
// with A the detector acceptance at the source's declination: a histogram in sin(true dec) of
// the MC weighted OW E^-gamma on the energy PDF's gamma grid (a reduction over ranks), linear
// between bin centres in sin dec and linear in gamma between grid points. Then the fit and the
// background trials are those of the point-source likelihood (section 5) with this S_i.
#include "likelihood/common/catalog.hpp"
#include "likelihood/common/energy_pdf.hpp"
#include "likelihood/common/ps_fit.hpp"
#include "likelihood/point_source/point_source.hpp"
#include "nusky/event.hpp"
#include "nusky/mpi.hpp"

#include <vector>

namespace nusky {

// Acceptance at each source's declination on a gamma grid: values[g * K + k].
class StackingAcceptance {
public:
    // Equal acceptance (no MC): every value 1.
    StackingAcceptance(const std::vector<Source>& sources, const GammaGrid& grid);
    // From this rank's MC (collective: gathers the MC true dec, energy and weight in global order).
    StackingAcceptance(const std::vector<Source>& sources, const GammaGrid& grid, const Events& local_mc,
                       int sin_dec_bins, const Comm& comm);
    // Normalised a_k(gamma) = w_k A_k(gamma) / sum (gamma clamped to the grid).
    std::vector<double> coefficients(const std::vector<Source>& sources, double gamma) const;
    // Unnormalised w_k A_k at grid point g, and the grid.
    std::vector<double> grid_weights(const std::vector<Source>& sources, int g) const;
    const GammaGrid& grid() const { return grid_; }
    bool from_mc() const { return from_mc_; }

private:
    GammaGrid grid_;
    std::size_t n_sources_ = 0;
    std::vector<double> values_;
    bool from_mc_ = false;
};

// One event set with the per-source S_ik / B_i matrix; fits (n_s, gamma) (or n_s alone).
class StackingEvents {
public:
    StackingEvents(const Events& events, const PointSourcePdfs& pdfs, const std::vector<Source>& sources,
                   const StackingAcceptance& acceptance, double n_total);
    FitResult fit(const ReduceSum& reduce);
    // S_i R_i(gamma) / B_i of the stacked sources for each event (R = 1 without an energy term):
    // one sample's term of a joint fit (joint_fit.hpp).
    void sob_at_gamma(double gamma, double* out);
    // RA scramble of background trial `trial` of sample `sample` (as PointSourceEvents::scramble).
    void scramble(std::uint64_t seed, std::int64_t trial, std::uint64_t sample = 0);
    bool has_energy() const { return has_energy_; }
    std::size_t size() const { return static_cast<std::size_t>(x_.size()); }

private:
    void compute_matrix();
    // stacked_ = S_i(gamma) / B_i, the sources' S_ik / B_i weighted by their coefficients at gamma.
    void stack_at(double gamma);
    const PointSourcePdfs& pdfs_;
    const std::vector<Source>& sources_;
    const StackingAcceptance& acceptance_;
    Eigen::ArrayXd x_, y_, z_, cos_dec_, background_density_;
    VmfEventConstants vmf_;
    EventEnergyRatios ratios_;
    Eigen::MatrixXd sob_;  // N x K: S_ik / B_i
    Eigen::VectorXd stacked_;
    // Per gamma grid point g (computed when first needed after each scramble):
    // U_g = sum_k w_k A_k(g) S_ik / B_i and its normalisation sum_k w_k A_k(g). Since A_k is
    // linear in gamma between grid points, S_i(gamma) = ((1-t) U_g + t U_g+1) / ((1-t) s_g + t s_g+1)
    // exactly, so a fit costs one N x K product per grid point visited, not per gamma step.
    std::vector<Eigen::VectorXd> grid_stacked_;
    std::vector<double> grid_norm_;
    std::vector<char> grid_ready_;
    const Eigen::VectorXd& grid_vector(int g);
    bool has_energy_;
    double n_total_;
    PointSourceFitter fitter_;
};

}  // namespace nusky

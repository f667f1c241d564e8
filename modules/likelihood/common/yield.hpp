#pragma once
// Signal yields Y_k(gamma) of a hypothesis in one sample (PHYSICS.md section 10): the expected
// number of signal events for the flux (E/E0)^-gamma GeV^-1 cm^-2 s^-1. A joint fit splits n_s
// over the samples in proportion to them; only ratios between samples matter there, so every
// sample must use the same E0 and flux convention (per flavour, nu + nubar), which these do.
//
// A point source at declination dec:
//  - from MC: the MC events with true declination within `band` of dec stand for the area at
//    dec: Y = livetime / Omega_band * sum_i OW_i (E_i/E0)^-gamma (as the injection pool's mu);
//  - from effective areas (a reader's EffectiveAreaGrid, no MC): Y = sum over seasons of
//    livetime * sum_j A(E bin j, dec) * int_bin_j (E/E0)^-gamma dE (exact integral).
#include "nusky/event.hpp"
#include "nusky/mpi.hpp"

#include <string>
#include <vector>

namespace nusky {

class PointSourceYield {
public:
    // Collective: gathers the band's MC events in global order, so Y is the same on every rank.
    static PointSourceYield from_mc(const Events& local_mc, double dec, double band, double livetime_s,
                                    double e0_gev, const Comm& comm);
    static PointSourceYield from_effective_areas(const std::vector<EffectiveAreaGrid>& areas, double dec,
                                                 double e0_gev);
    // Y at gamma; 0 for a sample that cannot see the source.
    double operator()(double gamma) const;
    // "mc" or "effective_area".
    const std::string& source() const { return source_; }

private:
    std::string source_;
    double e0_gev_ = 1e5;
    // MC: Y = sum_j weight_j exp(-gamma log_ratio_j), log_ratio_j = ln(E_j / E0).
    std::vector<double> weight_, log_ratio_;
    // Effective areas: Y = sum_j weight_j int_[lo_j, hi_j] (E/E0)^-gamma dE.
    std::vector<double> lo_gev_, hi_gev_;
};

}  // namespace nusky

#pragma once
// Reco adapter `track`: muon-track reconstructions (the IceCube point-source samples).
// The per-event angular uncertainty (AngErr, a paraboloid/bootstrap estimate) is corrected by a
// pull factor (sigma_true ~ pull * sigma_reco, from simulation) and floored, PHYSICS.md section 2:
//     sigma <- max(sigma * pull_factor, floor)
#include <Eigen/Core>

namespace nusky {

// Applies the pull correction and the floor in place. Angles in radians; floor_rad >= 0,
// pull_factor > 0 (checked by the module). NaN stays NaN (readers reject NaN before).
void apply_angular_floor(Eigen::ArrayXd& sigma, double floor_rad, double pull_factor = 1.0);

}  // namespace nusky

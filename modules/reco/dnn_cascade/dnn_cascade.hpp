#pragma once
// Reco adapter `dnn_cascade`: DNN-reconstructed cascades (the IceCube Galactic-plane sample,
// Science 380, 1338 (2023); per-event sigma about 2 to 60 deg, PHYSICS.md sections 1-2).
//   - sigma is clamped to [floor, cap]. The floor guards against over-confident events (the
//     default 0.2 deg is the PHYSICS.md default and never touches the real cascade sample, whose
//     smallest sigma is above 1.1 deg); the cap guards against meaningless angles above 180 deg
//     (a vMF with sigma >= 60 deg is already nearly flat, so capping lower only makes badly
//     reconstructed events over-confident).
//   - optionally, events whose classifier score (an Events::extra column) is below a threshold
//     are removed.
#include <Eigen/Core>

#include <vector>

namespace nusky {

// sigma <- min(max(sigma, floor_rad), cap_rad) in place (floor_rad <= cap_rad; radians).
void clamp_sigma(Eigen::ArrayXd& sigma, double floor_rad, double cap_rad);

// Keep-mask of the events with score >= score_min (a NaN score is removed).
std::vector<char> score_mask(const Eigen::ArrayXd& score, double score_min);

}  // namespace nusky

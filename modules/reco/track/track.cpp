#include "reco/track/track.hpp"

#include "nusky/registry.hpp"
#include "nusky/stages.hpp"

#include <cmath>
#include <numbers>

namespace nusky {

void apply_angular_floor(Eigen::ArrayXd& sigma, double floor_rad, double pull_factor)
{
    for (Eigen::Index i = 0; i < sigma.size(); ++i) {
        double s = sigma[i] * pull_factor;
        sigma[i] = s < floor_rad ? floor_rad : s;  // NaN < x is false: NaN passes through
    }
}

namespace {

constexpr double kDeg = std::numbers::pi / 180.0;

class TrackAdapter : public RecoAdapter {
public:
    Parameter<double> angerr_floor_deg{
        this, "angerr_floor_deg", 0.2,
        "smallest angular uncertainty after the pull correction [deg] (IceCube tracks: 0.2)"};
    Parameter<double> pull_factor{
        this, "pull_factor", 1.0,
        "multiplies the reconstructed sigma before the floor (pull correction; 1 = none)"};

    void validate() override
    {
        if (!(std::isfinite(angerr_floor_deg()) && angerr_floor_deg() >= 0.0 && angerr_floor_deg() < 180.0)) {
            throw angerr_floor_deg.error("must be in [0, 180) deg");
        }
        if (!(std::isfinite(pull_factor()) && pull_factor() > 0.0)) {
            throw pull_factor.error("must be a positive number");
        }
    }

    void adapt(Events& events, RunContext&) override
    {
        apply_angular_floor(events.sigma, angerr_floor_deg() * kDeg, pull_factor());
    }
};

}  // namespace

NUSKY_REGISTER_MODULE(reco, TrackAdapter, "track",
                      "muon tracks: sigma = max(sigma * pull_factor, angerr_floor_deg)")

}  // namespace nusky

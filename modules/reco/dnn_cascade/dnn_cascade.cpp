#include "reco/dnn_cascade/dnn_cascade.hpp"

#include "nusky/error.hpp"
#include "nusky/registry.hpp"
#include "nusky/stages.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace nusky {

void clamp_sigma(Eigen::ArrayXd& sigma, double floor_rad, double cap_rad)
{
    for (Eigen::Index i = 0; i < sigma.size(); ++i) {
        double s = sigma[i];
        if (s < floor_rad) s = floor_rad;
        if (s > cap_rad) s = cap_rad;
        sigma[i] = s;
    }
}

std::vector<char> score_mask(const Eigen::ArrayXd& score, double score_min)
{
    std::vector<char> mask(static_cast<std::size_t>(score.size()));
    for (Eigen::Index i = 0; i < score.size(); ++i) mask[static_cast<std::size_t>(i)] = score[i] >= score_min;
    return mask;
}

namespace {

constexpr double kDeg = std::numbers::pi / 180.0;

class DnnCascadeAdapter : public RecoAdapter {
public:
    Parameter<double> sigma_floor_deg{
        this, "sigma_floor_deg", 0.2,
        "smallest per-event angular uncertainty [deg] (PHYSICS.md default; the real cascade "
        "sample starts above 1.1 deg, so the default changes nothing there)"};
    Parameter<double> sigma_cap_deg{
        this, "sigma_cap_deg", 180.0,
        "largest per-event angular uncertainty [deg]; larger values are clamped (the cascade "
        "sample reaches about 60 deg; lower caps make poor events over-confident)"};
    Parameter<std::string> score_column{
        this, "score_column", "",
        "name of a classifier-score column the reader provides (Events::extra); empty: no score cut"};
    Parameter<double> score_min{this, "score_min", 0.0,
                                "events with score_column below this value are removed (only with score_column)"};

    void validate() override
    {
        if (!(std::isfinite(sigma_floor_deg()) && sigma_floor_deg() >= 0.0)) {
            throw sigma_floor_deg.error("must be >= 0 deg");
        }
        if (!(std::isfinite(sigma_cap_deg()) && sigma_cap_deg() > 0.0 && sigma_cap_deg() <= 180.0)) {
            throw sigma_cap_deg.error("must be in (0, 180] deg");
        }
        if (sigma_floor_deg() > sigma_cap_deg()) throw sigma_floor_deg.error("is above sigma_cap_deg");
        if (!std::isfinite(score_min())) throw score_min.error("must be a finite number");
        if (score_min.was_set() && score_column().empty()) {
            throw score_min.error("needs score_column (the classifier-score column to cut on)");
        }
    }

    void adapt(Events& events, RunContext&) override
    {
        if (!score_column().empty()) {
            auto it = events.extra.find(score_column());
            if (it == events.extra.end()) {
                std::string have;
                for (const auto& [name, column] : events.extra) have += (have.empty() ? "" : ", ") + name;
                throw score_column.error(std::string(events.has_truth() ? "the MC has" : "the data have") +
                                         " no column '" + score_column() + "' from the reader (extra columns: " +
                                         (have.empty() ? std::string("none") : have) + ")");
            }
            events.keep(score_mask(it->second, score_min()));
        }
        clamp_sigma(events.sigma, sigma_floor_deg() * kDeg, sigma_cap_deg() * kDeg);
    }
};

}  // namespace

NUSKY_REGISTER_MODULE(reco, DnnCascadeAdapter, "dnn_cascade",
                      "DNN cascades: sigma clamped to [sigma_floor_deg, sigma_cap_deg], optional score cut")

}  // namespace nusky

#pragma once
// Signal trials of the point-source likelihood (docs/PHYSICS.md section 9): the RA-scrambled
// sample plus MC events injected at the source, fitted for (n_s, gamma). The task engines
// (nusky/tasks.hpp) run them.
#include "likelihood/common/inject.hpp"
#include "likelihood/point_source/point_source.hpp"
#include "nusky/hypothesis.hpp"
#include "nusky/stages.hpp"
#include "nusky/trials.hpp"

#include <memory>

namespace nusky {

// A trial's fit on background events (scrambled per trial) plus injected events. The
// background part is the whole replicated sample; each trial is a pure function of (seed, trial,
// injected events). Background trials (nothing injected) give the same TS as PointSourceEvents.
class PointSourceSignalTrials {
public:
    PointSourceSignalTrials(const Events& all_data, const PointSourcePdfs& pdfs, const UnitVector& source);
    TrialResult operator()(std::uint64_t seed, std::int64_t trial, const Events& injected);

private:
    const PointSourcePdfs& pdfs_;
    UnitVector source_;
    Eigen::ArrayXd cos_dec_, x_, y_, z_;
    VmfEventConstants vmf_;
    Eigen::ArrayXd background_density_;
    EventEnergyRatios ratios_;
    Eigen::ArrayXd sob_, injected_sob_, injected_density_;
    PointSourceFitter fitter_;
};

struct PointSourceInjectionSettings {
    double ra = 0, dec = 0;   // source [rad]
    double gamma = 2.0;       // injected spectrum E^-gamma
    double band = 0.0;        // true-declination band half-width [rad]
    double e0_gev = 1e5;      // flux pivot
};

// The injector of MC events at the source from the sample's MC (collective). Throws when no
// rank has MC.
std::unique_ptr<Injector> point_source_injector(const EventSample& sample, const PointSourceInjectionSettings& settings,
                                                const Comm& comm);

}  // namespace nusky

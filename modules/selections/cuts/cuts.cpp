#include "selections/cuts/cuts.hpp"

#include "nusky/registry.hpp"
#include "nusky/stages.hpp"

#include <numbers>

namespace nusky {

std::vector<std::int64_t> apply_cut_ranges(Events& events, const std::vector<CutRange>& ranges)
{
    std::vector<std::int64_t> passed;
    for (const auto& range : ranges) {
        const Eigen::ArrayXd* column = nullptr;
        if (range.name == "dec") column = &events.dec;
        else if (range.name == "log10_energy") column = &events.log10_energy;
        else if (range.name == "sigma") column = &events.sigma;
        else if (range.name == "mjd") column = events.has_mjd() ? &events.mjd : nullptr;
        else throw Error("cuts: unknown quantity '" + range.name + "'");
        if (column) {
            std::vector<char> mask(static_cast<std::size_t>(events.size()));
            for (Eigen::Index i = 0; i < events.size(); ++i) {
                double v = (*column)[i];
                mask[static_cast<std::size_t>(i)] = v >= range.min && v <= range.max;
            }
            events.keep(mask);
        }
        passed.push_back(events.size());
    }
    return passed;
}

namespace {

constexpr double deg = std::numbers::pi / 180.0;

class Cuts : public Selection {
public:
    Parameter<double> dec_min_deg{this, "dec_min_deg", -90.0, "lowest declination kept [deg]"};
    Parameter<double> dec_max_deg{this, "dec_max_deg", 90.0, "highest declination kept [deg]"};
    Parameter<double> log10e_min{this, "log10e_min", -10.0, "lowest log10(E/GeV) kept"};
    Parameter<double> log10e_max{this, "log10e_max", 20.0, "highest log10(E/GeV) kept"};
    Parameter<double> sigma_min_deg{this, "sigma_min_deg", 0.0, "smallest angular uncertainty kept [deg]"};
    Parameter<double> sigma_max_deg{this, "sigma_max_deg", 180.0, "largest angular uncertainty kept [deg]"};
    Parameter<double> mjd_min{this, "mjd_min", 0.0, "earliest event time kept [MJD]"};
    Parameter<double> mjd_max{this, "mjd_max", 1e6, "latest event time kept [MJD]"};

    void validate() override
    {
        if (dec_min_deg() > dec_max_deg()) throw dec_min_deg.error("is above dec_max_deg");
        if (log10e_min() > log10e_max()) throw log10e_min.error("is above log10e_max");
        if (sigma_min_deg() > sigma_max_deg()) throw sigma_min_deg.error("is above sigma_max_deg");
        if (mjd_min() > mjd_max()) throw mjd_min.error("is above mjd_max");
    }

    CutCounts apply(Events& events, RunContext&) override
    {
        std::vector<CutRange> ranges{{"dec", dec_min_deg() * deg, dec_max_deg() * deg},
                                     {"log10_energy", log10e_min(), log10e_max()},
                                     {"sigma", sigma_min_deg() * deg, sigma_max_deg() * deg},
                                     {"mjd", mjd_min(), mjd_max()}};
        CutCounts counts;
        for (const auto& r : ranges) counts.names.push_back(r.name);
        counts.passed = apply_cut_ranges(events, ranges);
        return counts;
    }
};

class NoSelection : public Selection {
public:
    CutCounts apply(Events& events, RunContext&) override { return {{"all"}, {events.size()}}; }
};

}  // namespace

NUSKY_REGISTER_MODULE(selection, Cuts, "cuts", "ranges on declination, log10 E, sigma and MJD")
NUSKY_REGISTER_MODULE(selection, NoSelection, "none", "keeps every event")

}  // namespace nusky

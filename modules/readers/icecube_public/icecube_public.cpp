// Reader `icecube_public`: the IceCube public point-source release (2008-2018 text files, see
// icecube_text.hpp). Each rank parses only its line-aligned byte share of every season's events
// file; the livetime (sum of the seasons' good-run uptimes) is the same on every rank.
#include "readers/icecube_public/icecube_text.hpp"

#include "nusky/error.hpp"
#include "nusky/input_file.hpp"
#include "nusky/log.hpp"
#include "nusky/mpi.hpp"
#include "nusky/registry.hpp"
#include "nusky/stages.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>

namespace nusky {
namespace {

Events to_events(const IceCubeEvents& in, bool keep_local)
{
    Events e;
    e.ra = in.ra;
    e.dec = in.dec;
    e.sigma = in.sigma;
    e.log10_energy = in.log10_energy;
    e.mjd = in.mjd;
    if (keep_local) {
        e.extra["azimuth"] = in.azimuth;
        e.extra["zenith"] = in.zenith;
    }
    e.compute_unit_vectors();
    return e;
}

std::string format_days(double seconds)
{
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.1f d", seconds / 86400.0);
    return buffer;
}

class IceCubePublicReader : public Reader {
public:
    PathParameter<std::string> path{this, "path", "", PathKind::input_file_or_directory,
                                    "an events file or a release directory",
                                "a season events file (<dir>/events/IC40_exp.csv) or a release directory "
                                "with events/, uptime/ and irfs/"};
    Parameter<std::vector<std::string>> seasons{
        this, "seasons", {}, "seasons to read from a release directory, e.g. IC40, IC59, IC86_I (required then)"};
    Parameter<double> angerr_floor_deg{this, "angerr_floor_deg", kDefaultSigmaFloorDeg,
                                       "floor on the events' AngErr [deg] (the release's own floor is 0.2)"};
    Parameter<bool> local_coordinates{this, "local_coordinates", false,
                                      "also keep azimuth and zenith [rad] as extra columns"};

    void validate() override
    {
        if (path().empty()) throw path.error("required: a season events file or a release directory");
        if (!(std::isfinite(angerr_floor_deg()) && angerr_floor_deg() >= 0.0 && angerr_floor_deg() < 180.0)) {
            throw angerr_floor_deg.error("must be in [0, 180) deg");
        }
        std::error_code ec;
        if (seasons().empty() && std::filesystem::is_directory(path(), ec)) {
            throw path.error("is a release directory: also give seasons (e.g. seasons = IC40, IC59)");
        }
        for (std::size_t k = 0; k < seasons().size(); ++k) {
            const auto& s = seasons()[k];
            if (s.find('/') != std::string::npos) throw seasons.error("'" + s + "' is not a season name");
            // The same season twice would fit its events twice.
            for (std::size_t j = 0; j < k; ++j)
                if (seasons()[j] == s) throw seasons.error("season " + s + " is given twice");
        }
    }

    // The seasons' files: events, uptime (required in a release directory) and effective area;
    // the small tables are read, the events only checked to be readable.
    SampleHeader inspect(RunContext&) override
    {
        std::error_code ec;
        const bool release_dir = std::filesystem::is_directory(path(), ec);
        std::vector<SeasonFiles> files;
        try {
            files = resolve_seasons(path(), seasons());
        } catch (const Error& e) {
            if (release_dir) throw seasons.error(e.what());  // a season the release lacks
            throw;
        }
        for (const auto& f : files) {
            require_input_file(f.events, "an events file");
            if (!f.uptime.empty() && std::filesystem::is_regular_file(f.uptime, ec)) {
                read_uptime(f.uptime);
            } else if (release_dir) {
                throw file_error(f.uptime, 0, "season " + f.season + ": uptime file not found (the livetime)");
            }
            if (!f.effective_area.empty() && std::filesystem::is_regular_file(f.effective_area, ec)) {
                read_effective_area(f.effective_area);
            }
        }
        return {false};
    }

    EventSample read(RunContext& context) override
    {
        const int rank = context.comm.rank(), size = context.comm.size();
        EventSample sample;
        std::vector<std::int64_t> counts;  // local events per season
        std::vector<std::int64_t> raised;  // local events per season whose AngErr the floor raised
        std::vector<std::string> names;
        std::vector<double> livetimes;
        std::string failure;
        // Parse errors can happen on one rank only: catch them, agree on the counts with one
        // collective that every rank enters, then rethrow (collective_step reports the message).
        try {
            auto files = resolve_seasons(path(), seasons());
            bool first = true;
            for (const auto& f : files) {
                IceCubeEvents ev = read_events_share(f.events, rank, size, angerr_floor_deg());
                counts.push_back(static_cast<std::int64_t>(ev.size()));
                raised.push_back(static_cast<std::int64_t>(ev.raised_to_floor));
                names.push_back(f.season);
                Events part = to_events(ev, local_coordinates());
                if (first) sample.data = std::move(part);
                else sample.data.append(part);
                first = false;
                double livetime = 0.0;
                std::error_code ec;
                if (!f.uptime.empty() && std::filesystem::is_regular_file(f.uptime, ec)) {
                    livetime = read_uptime(f.uptime).livetime_s;
                } else if (std::filesystem::is_directory(path(), ec)) {
                    throw file_error(f.uptime, 0, "season " + f.season + ": uptime file not found (the livetime)");
                } else if (rank == 0) {
                    log::warn(f.events + ": no uptime/" + f.season + "_exp.csv next to it; livetime 0");
                }
                livetimes.push_back(livetime);
                sample.livetime_s += livetime;
                if (!f.effective_area.empty() && std::filesystem::is_regular_file(f.effective_area, ec)) {
                    sample.attributes["effective_area:" + f.season] = f.effective_area;
                    const EffectiveAreaTable table = read_effective_area(f.effective_area);
                    sample.effective_areas.push_back(
                        {f.season, table.log10_energy_edges, table.dec_edges, table.aeff, livetime});
                }
                if (!f.uptime.empty()) sample.attributes["uptime:" + f.season] = f.uptime;
                sample.attributes["events:" + f.season] = f.events;
            }
        } catch (const Error& e) {
            failure = e.what();
        }
        // Every rank resolves the same seasons, but a failing rank may have fewer entries: sum
        // a fixed-size vector (events and floor-raised events per configured season, at least
        // one) plus the flag.
        std::size_t n = std::max<std::size_t>(seasons().size(), 1);
        std::vector<std::int64_t> totals(2 * n + 1, 0);
        for (std::size_t i = 0; i < counts.size() && i < n; ++i) {
            totals[i] = counts[i];
            totals[n + i] = raised[i];
        }
        const std::size_t flag = 2 * n;
        totals[flag] = failure.empty() ? 0 : 1;
        context.comm.sum(totals.data(), static_cast<int>(totals.size()));
        if (!failure.empty()) throw Error(failure);
        if (totals[flag] > 0) return sample;  // another rank failed and reports it
        for (std::size_t i = 0; i < names.size(); ++i) {
            // Each rank parsed a share: only the sum tells that a file has no data rows at all.
            if (totals[i] == 0) throw file_error(sample.attributes["events:" + names[i]], 0, "no data rows");
            if (totals[n + i] > 0) {
                sample.attributes["angerr_raised_to_floor:" + names[i]] = std::to_string(totals[n + i]);
                char floor[32];
                std::snprintf(floor, sizeof floor, "%g", angerr_floor_deg());
                log::info(names[i] + ": AngErr of " + std::to_string(totals[n + i]) + " of " +
                          std::to_string(totals[i]) + " events below the " + floor +
                          " deg floor (angerr_floor_deg) raised to it");
            }
        }
        std::string description;
        std::int64_t all = 0;
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (!description.empty()) description += ", ";
            description += names[i] + " (" + std::to_string(totals[i]) + " events, " +
                           format_days(livetimes[i]) + ")";
            all += totals[i];
        }
        if (names.size() > 1) {
            description += "; total " + std::to_string(all) + " events, " + format_days(sample.livetime_s);
        }
        sample.description = path() + ": " + description;
        return sample;
    }
};

}  // namespace

NUSKY_REGISTER_MODULE(reader, IceCubePublicReader, "icecube_public",
                      "IceCube public point-source release text files (events, uptime, irfs); "
                      "each rank parses its share of every season")

}  // namespace nusky

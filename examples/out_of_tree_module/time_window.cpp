#include "time_window.hpp"

#include "nusky/registry.hpp"
#include "nusky/stages.hpp"

#include <cmath>
#include <string>

namespace time_window {

std::vector<Window> windows_from_list(const std::vector<double>& mjd)
{
    if (mjd.empty() || mjd.size() % 2 != 0) {
        throw nusky::Error("needs start,stop pairs of MJD (got " + std::to_string(mjd.size()) + " numbers)");
    }
    std::vector<Window> out;
    for (std::size_t i = 0; i < mjd.size(); i += 2) {
        if (!(std::isfinite(mjd[i]) && std::isfinite(mjd[i + 1]) && mjd[i] <= mjd[i + 1])) {
            throw nusky::Error("window " + std::to_string(i / 2 + 1) + " does not have start <= stop");
        }
        out.emplace_back(mjd[i], mjd[i + 1]);
    }
    return out;
}

std::vector<char> inside(const Eigen::ArrayXd& mjd, const std::vector<Window>& windows)
{
    std::vector<char> mask(static_cast<std::size_t>(mjd.size()), 0);
    for (Eigen::Index i = 0; i < mjd.size(); ++i) {
        for (const auto& [start, stop] : windows) {
            if (mjd[i] >= start && mjd[i] <= stop) {
                mask[static_cast<std::size_t>(i)] = 1;
                break;
            }
        }
    }
    return mask;
}

namespace {

class TimeWindow : public nusky::Selection {
public:
    nusky::Parameter<std::vector<double>> windows_mjd{
        this, "windows_mjd", {}, "time windows as start,stop pairs [MJD], comma separated"};
    nusky::Parameter<bool> exclude{this, "exclude", false,
                                   "drop the events in the windows instead of keeping them"};

    void validate() override
    {
        try {
            windows_ = windows_from_list(windows_mjd());
        } catch (const nusky::Error& e) {
            throw windows_mjd.error(e.what());
        }
    }

    nusky::CutCounts apply(nusky::Events& events, nusky::RunContext&) override
    {
        if (!events.has_mjd()) {
            // MC sets have no times: a time window does not apply to them.
            if (events.has_truth()) return {{"time_window"}, {events.size()}};
            throw nusky::Error("time_window: the events have no times (mjd); use a reader that provides them");
        }
        auto mask = inside(events.mjd, windows_);
        if (exclude()) {
            for (auto& m : mask) m = !m;
        }
        events.keep(mask);
        return {{"time_window"}, {events.size()}};
    }

private:
    std::vector<Window> windows_;
};

}  // namespace

}  // namespace time_window

NUSKY_REGISTER_MODULE(selection, time_window::TimeWindow, "time_window",
                      "keeps (or drops) the events inside time windows [MJD] (example plugin)")

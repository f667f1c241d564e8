// Unit test of the time_window plugin, loaded as nusky loads it: nusky::load_plugins on the
// built library, then the module through the registry, as in a chain. (The test cannot link
// the plugin's functions: a plugin is a MODULE library, only ever dlopen'ed.)
#include "nusky/config.hpp"
#include "nusky/error.hpp"
#include "nusky/mpi.hpp"
#include "nusky/plugins.hpp"
#include "nusky/registry.hpp"
#include "nusky/stages.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace {

using namespace nusky;

std::vector<std::string> plugin_files()
{
    std::vector<std::string> out;
    std::stringstream list(NUSKY_TEST_PLUGINS);
    for (std::string item; std::getline(list, item, ',');) out.push_back(item);
    return out;
}

Events events_at(std::vector<double> mjd)
{
    Events e;
    e.resize(static_cast<Eigen::Index>(mjd.size()), /*with_mjd=*/true);
    for (std::size_t i = 0; i < mjd.size(); ++i) e.mjd[static_cast<Eigen::Index>(i)] = mjd[i];
    return e;
}

TEST(TimeWindow, LoadsAsPluginAndSelects)
{
    load_plugins(plugin_files());
    const auto& info = Registry::instance().find(Stage::selection, "time_window");
    EXPECT_FALSE(info.origin.empty());
    auto config = Config::from_string("[selection]\nwindows_mjd = 1, 2, 10, 11\n", "test.ini");
    auto selection = create_module<Selection>(Stage::selection, "time_window");
    selection->configure(config, "selection");

    Comm comm{MPI_COMM_SELF};
    JobSpec job;
    Results results;
    RunContext context{comm, job, config, results, "unused.h5"};
    auto events = events_at({0.0, 1.5, 5.0, 10.0, 12.0});
    auto counts = selection->apply(events, context);
    ASSERT_EQ(events.size(), 2);
    EXPECT_EQ(events.mjd[0], 1.5);
    EXPECT_EQ(events.mjd[1], 10.0);
    EXPECT_EQ(counts.passed, (std::vector<std::int64_t>{2}));

    // Bounds are inclusive; exclude = true keeps the complement.
    auto config2 = Config::from_string("[selection]\nwindows_mjd = 1, 2\nexclude = true\n", "test2.ini");
    auto excluding = create_module<Selection>(Stage::selection, "time_window");
    excluding->configure(config2, "selection");
    auto more = events_at({0.5, 1.0, 1.5, 2.0, 3.0});
    excluding->apply(more, context);
    ASSERT_EQ(more.size(), 2);
    EXPECT_EQ(more.mjd[0], 0.5);
    EXPECT_EQ(more.mjd[1], 3.0);

    // A bad window is reported against the key.
    auto bad = Config::from_string("[selection]\nwindows_mjd = 3, 2\n", "bad.ini");
    auto other = create_module<Selection>(Stage::selection, "time_window");
    try {
        other->configure(bad, "selection");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("windows_mjd"), std::string::npos) << e.what();
    }
}

}  // namespace

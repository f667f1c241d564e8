// Plugin loading without a plugin: the search path and its error, the version stamp reader, and
// the registry's staging (what a plugin's registrations go through). Loading real plugins is
// tested end to end by tests/e2e/out_of_tree_plugin.sh.
#include "nusky/error.hpp"
#include "nusky/plugin.hpp"
#include "nusky/plugins.hpp"
#include "nusky/registry.hpp"
#include "nusky/stages.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace {

using namespace nusky;

class Dummy : public Selection {
public:
    CutCounts apply(Events& events, RunContext&) override { return {{"dummy"}, {events.size()}}; }
};

ModuleInfo dummy(const std::string& name)
{
    return {Stage::selection, name, "test", [] { return std::unique_ptr<Module>(new Dummy()); }};
}

std::string message_of(const std::function<void()>& f)
{
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(Plugins, NotFoundListsEverySearchedPath)
{
    ::setenv("NUSKY_PLUGIN_PATH", "/nonexistent/a::/nonexistent/b", 1);
    auto dirs = plugin_search_dirs();
    ASSERT_GE(dirs.size(), 3u);
    EXPECT_EQ(dirs[0], "/nonexistent/a");
    EXPECT_EQ(dirs[1], "/nonexistent/b");
    auto message = message_of([] { find_plugin("mine"); });
    for (const char* path : {"/nonexistent/a/mine", "/nonexistent/a/libmine.so", "/nonexistent/b/mine",
                             "/nonexistent/b/libmine.so"}) {
        EXPECT_NE(message.find(path), std::string::npos) << message;
    }
    EXPECT_NE(message.find("plugin 'mine' not found"), std::string::npos) << message;
    // A path is only that path; a .so name gets no lib prefix.
    auto path_message = message_of([] { find_plugin("/nonexistent/c/libx.so"); });
    EXPECT_NE(path_message.find("(searched: /nonexistent/c/libx.so)"), std::string::npos) << path_message;
    EXPECT_EQ(message_of([] { find_plugin("libx.so"); }).find("liblibx"), std::string::npos);
    auto prefixed = message_of([] { load_plugins({"mine"}, "job.ini: [job] plugins"); });
    EXPECT_EQ(prefixed.rfind("job.ini: [job] plugins: plugin 'mine' not found", 0), 0u) << prefixed;
    ::unsetenv("NUSKY_PLUGIN_PATH");
}

TEST(Plugins, VersionStampIsReadFromTheFile)
{
    auto path = std::filesystem::temp_directory_path() / "nusky_test_stamp.bin";
    {
        std::ofstream out(path, std::ios::binary);
        out << std::string("\x7f" "ELF junk\0", 10) << NUSKY_PLUGIN_STAMP_PREFIX << "9.8.7" << '\0' << "more";
    }
    EXPECT_EQ(plugin_file_version(path.string()), "9.8.7");
    {
        std::ofstream out(path, std::ios::binary);
        out << "no stamp here";
    }
    EXPECT_EQ(plugin_file_version(path.string()), "");
    std::filesystem::remove(path);
    EXPECT_EQ(plugin_file_version("/nonexistent/file.so"), "");
}

TEST(Plugins, StagedRegistrationsArePublishedAllOrNothing)
{
    auto& registry = Registry::instance();
    registry.begin_staging();
    registry.add(dummy("staged_a"));
    registry.add(dummy("staged_b"));
    EXPECT_EQ(registry.find_any_stage("staged_a"), nullptr);  // not visible while staged
    auto names = registry.commit_staged("/x/liba.so");
    EXPECT_EQ(names, (std::vector<std::string>{"selection staged_a", "selection staged_b"}));
    ASSERT_NE(registry.find_any_stage("staged_a"), nullptr);
    EXPECT_EQ(registry.find_any_stage("staged_a")->origin, "/x/liba.so");

    // A clash with a published module: nothing of the second plugin is published.
    registry.begin_staging();
    registry.add(dummy("staged_c"));
    registry.add(dummy("staged_a"));
    auto message = message_of([&] { registry.commit_staged("/x/libb.so"); });
    EXPECT_EQ(message, "/x/libb.so: selection module 'staged_a' is already registered by /x/liba.so");
    EXPECT_EQ(registry.find_any_stage("staged_c"), nullptr);
    // Clashing with a built-in module names nusky itself; staging is over after a commit.
    registry.begin_staging();
    registry.add(dummy("cuts"));
    EXPECT_NE(message_of([&] { registry.commit_staged("/x/libc.so"); }).find("already registered by nusky itself"),
              std::string::npos);
    // Discarded registrations are gone; add() throws again on duplicates outside staging.
    registry.begin_staging();
    registry.add(dummy("staged_d"));
    registry.discard_staged();
    EXPECT_EQ(registry.find_any_stage("staged_d"), nullptr);
    EXPECT_THROW(registry.add(dummy("staged_a")), Error);
}

}  // namespace

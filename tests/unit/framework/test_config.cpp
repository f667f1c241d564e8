#include "nusky/config.hpp"
#include "nusky/error.hpp"
#include "nusky/module.hpp"
#include "nusky/registry.hpp"

#include "../test_paths.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using namespace nusky;

namespace {

std::string error_of(const std::function<void()>& f)
{
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

class Example : public Module {
public:
    Parameter<double> energy{this, "energy", 1.5, "an energy"};
    Parameter<std::int64_t> count{this, "count", 3, "a count"};
    Parameter<bool> flag{this, "flag", false, "a flag"};
    Parameter<std::vector<std::string>> names{this, "names", {}, "names"};
    void validate() override
    {
        if (count() < 0) throw count.error("must be >= 0");
    }
};

}  // namespace

TEST(Config, ParsesSectionsAndOverrides)
{
    auto c = Config::from_string("[job]\ntask = fit\n[reader]\ntype = hdf5_events\npath = a.h5\n", "t.ini",
                                 {"reader.path=b.h5", "job.seed=7"});
    EXPECT_EQ(c.take("reader", "path")->value, "b.h5");
    EXPECT_EQ(c.take("job", "seed")->origin, "--set");
    EXPECT_EQ(c.where("job", "task"), "t.ini: [job] task");
}

TEST(Config, UnknownSectionAndKeyOutsideSectionAreErrors)
{
    EXPECT_NE(error_of([] { Config::from_string("[readr]\ntype = x\n", "t.ini"); }).find("unknown section [readr]"),
              std::string::npos);
    EXPECT_NE(error_of([] { Config::from_string("type = x\n", "t.ini"); }).find("outside any section"),
              std::string::npos);
    EXPECT_NE(error_of([] { Config::from_string("[job]\n", "t.ini", {"bogus"}); }).find("section.key=value"),
              std::string::npos);
}

TEST(Config, UnusedKeyIsReportedAsPossibleTypo)
{
    auto c = Config::from_string("[likelihood]\ntype = point_source\nra_degg = 3\n", "t.ini");
    c.take("likelihood", "type");
    auto message = error_of([&] { c.check_all_used(); });
    EXPECT_NE(message.find("t.ini: [likelihood] ra_degg: unused parameter"), std::string::npos) << message;
    EXPECT_NE(message.find("possible typo"), std::string::npos);
}

TEST(Config, TextRoundTrips)
{
    auto c = Config::from_string("[reader]\npath = a.h5\ntype = hdf5_events\n", "t.ini");
    auto again = Config::from_string(c.text(), "again.ini");
    EXPECT_EQ(again.text(), c.text());
}

TEST(Parameters, DefaultsAndTypedValues)
{
    Example m;
    auto c = Config::from_string("[reco]\nenergy = 2.5e3\ncount = 12\nflag = yes\nnames = a, b ,c\n", "t.ini");
    m.configure(c, "reco");
    EXPECT_EQ(m.energy(), 2500.0);
    EXPECT_EQ(m.count(), 12);
    EXPECT_TRUE(m.flag());
    EXPECT_EQ(m.names(), (std::vector<std::string>{"a", "b", "c"}));
    Example d;
    d.configure(Config::from_string("", "empty.ini"), "reco");
    EXPECT_EQ(d.energy(), 1.5);
    EXPECT_EQ(d.energy.default_text(), "1.5");
}

TEST(Parameters, WrongTypesNameTheKey)
{
    Example m;
    auto bad_number = Config::from_string("[reco]\nenergy = high\n", "t.ini");
    EXPECT_EQ(error_of([&] { m.configure(bad_number, "reco"); }),
              "t.ini: [reco] energy = 'high': expected a finite number");
    Example n;
    auto bad_int = Config::from_string("[reco]\ncount = 1.5\n", "t.ini");
    EXPECT_NE(error_of([&] { n.configure(bad_int, "reco"); }).find("[reco] count = '1.5': expected an integer"),
              std::string::npos);
    Example o;
    auto negative = Config::from_string("[reco]\ncount = -1\n", "t.ini");
    EXPECT_EQ(error_of([&] { o.configure(negative, "reco"); }), "t.ini: [reco] count: must be >= 0");
    Example p;
    auto nan = Config::from_string("[reco]\nenergy = nan\n", "t.ini");
    EXPECT_FALSE(error_of([&] { p.configure(nan, "reco"); }).empty());
}

TEST(Registry, UnknownModuleListsTheAvailableOnes)
{
    auto message = error_of([] { Registry::instance().find(Stage::reader, "no_such_reader"); });
    EXPECT_NE(message.find("unknown reader module 'no_such_reader'"), std::string::npos);
    EXPECT_NE(message.find("hdf5_events"), std::string::npos) << message;
}

TEST(Registry, EveryModuleCanBeCreatedAndDescribed)
{
    for (const auto* info : Registry::instance().all()) {
        auto module = info->create();
        ASSERT_TRUE(module) << info->name;
        for (const auto* p : module->parameters()) {
            EXPECT_FALSE(p->description().empty()) << info->name << "." << p->name();
        }
    }
}

TEST(Config, SyntaxErrorNamesTheLineWithoutHanging)
{
    // A line holding Boost's own placeholder text used to hang its error formatting (fuzzer find).
    auto message = error_of(
        [] { Config::from_string("[jo%invalid_line%point_source.ra_deg = 05\ndec_deg = 5\n", "t.ini"); });
    EXPECT_EQ(message.rfind("t.ini: ", 0), 0u) << message;
    auto second = error_of([] { Config::from_string("[job]\ntask = fit\nnot a key\n", "t.ini"); });
    EXPECT_EQ(second, "t.ini: line 3: 'not a key' is not a setting (expected [section] or key = value)");
}

TEST(Config, EveryMalformedLineIsNamed)
{
    auto message = [](const std::string& text) { return error_of([&] { Config::from_string(text, "t.ini"); }); };
    // Boost's parser dropped a value without a key and read "[[reader]]" as a section "[reader".
    EXPECT_EQ(message("[job]\n = 1\n"), "t.ini: line 2: a value without a key (expected key = value)");
    EXPECT_EQ(message("[job]\ntask = fit\n[[reader]]\n"),
              "t.ini: line 3: invalid section header '[[reader]]' (expected [section], e.g. [reader] or [reader.NAME])");
    EXPECT_EQ(message("[job]\n[]\n"),
              "t.ini: line 2: invalid section header '[]' (expected [section], e.g. [reader] or [reader.NAME])");
    EXPECT_NE(message("[likelihood]\ndec deg = 5\n").find("t.ini: line 2: invalid key 'dec deg'"), std::string::npos);
    // A UTF-8 byte-order mark before the first section is accepted.
    auto c = Config::from_string("\xEF\xBB\xBF[job]\ntask = trials\n", "t.ini");
    EXPECT_EQ(c.take("job", "task")->value, "trials");
}

TEST(Config, PerSampleSections)
{
    auto c = Config::from_string("[job]\nsamples = cascades, ic40\n[reader.cascades]\ntype = simulation\n"
                                 "[reader.ic40]\ntype = icecube_public\npath = a.csv\n[selection]\ntype = cuts\n"
                                 "[selection.ic40]\ntype = none\n[likelihood]\ntype = point_source\n",
                                 "t.ini", {"reader.ic40.path=b.csv", "reco.ic40.type=track"});
    EXPECT_EQ(c.take("reader.ic40", "path")->value, "b.csv");
    EXPECT_EQ(c.take("reader.cascades", "type")->value, "simulation");
    EXPECT_EQ(c.where("reader.ic40", "path"), "--set reader.ic40.path");
    EXPECT_EQ(c.where("reader.cascades", "type"), "t.ini: [reader.cascades] type");
    EXPECT_EQ(c.sample_sections("reader"), (std::vector<std::string>{"cascades", "ic40"}));
    EXPECT_EQ(c.sample_sections("selection"), std::vector<std::string>{"ic40"});
    EXPECT_EQ(c.sample_sections("reco"), std::vector<std::string>{"ic40"});
    EXPECT_TRUE(c.sample_sections("likelihood").empty());
    // Each stage's per-sample sections follow it, and the text parses to the same config.
    EXPECT_EQ(c.present_sections(), (std::vector<std::string>{"job", "reader.cascades", "reader.ic40", "selection",
                                                              "selection.ic40", "reco.ic40", "likelihood"}));
    auto again = Config::from_string(c.text(), "again.ini");
    EXPECT_EQ(again.text(), c.text());
    EXPECT_EQ(again.take("reader.ic40", "path")->value, "b.csv");
    // Only reader, selection and reco have per-sample sections; names are letters, digits, _ and -.
    for (const char* bad : {"[likelihood.a]\ntype = x\n", "[job.a]\nx = 1\n", "[reader.a b]\ntype = x\n",
                            "[reader.a/b]\ntype = x\n"}) {
        const auto message = error_of([&] { Config::from_string(bad, "t.ini"); });
        EXPECT_NE(message.find("unknown section ["), std::string::npos) << bad << ": " << message;
        EXPECT_NE(message.find("per sample: reader.NAME"), std::string::npos) << message;
    }
    EXPECT_NE(error_of([] { Config::from_string("[job]\n", "t.ini", {"likelihood.a.x=1"}); })
                  .find("unknown section [likelihood.a]"),
              std::string::npos);
    // A config without samples reads and prints as before.
    auto plain = Config::from_string("[reader]\ntype = x\n[job]\ntask = fit\n", "t.ini");
    EXPECT_EQ(plain.text(), "[job]\ntask = fit\n\n[reader]\ntype = x\n\n");
}

namespace {

class WithPaths : public Module {
public:
    PathParameter<std::string> input{this, "input", "", PathKind::input_file, "an input", "an input file"};
    PathParameter<std::string> dir{this, "dir", "", PathKind::input_directory, "a directory", "a directory"};
    PathParameter<std::vector<std::string>> lists{this, "lists", {}, PathKind::input_file, "a list", "lists"};
    PathParameter<std::vector<std::string>> libs{this, "libs", {}, PathKind::library, "", "libraries"};
};

}  // namespace

// Relative paths from a config file follow the file; --set, absolute paths and bare library
// names do not; an input that cannot be read is one error naming the key and the resolved path.
TEST(Config, PathsFollowTheConfigFile)
{
    namespace fs = std::filesystem;
    const fs::path dir = test::scratch_dir() / "paths" / "configs";
    fs::create_directories(dir);
    const std::string file = (dir / "job.ini").string();
    {
        std::ofstream out(file);
        out << "[likelihood]\ninput = ../data/events.csv\ndir = /abs/dir\nlists = a.csv, sub/b.csv\n"
               "libs = libx.so, plugins/liby.so\n";
    }
    auto config = Config::load(file);
    WithPaths m;
    m.configure(config, "likelihood");
    EXPECT_EQ(m.input(), (dir.parent_path() / "data" / "events.csv").string());
    EXPECT_EQ(m.dir(), "/abs/dir");
    EXPECT_EQ(m.lists(), (std::vector<std::string>{(dir / "a.csv").string(), (dir / "sub" / "b.csv").string()}));
    EXPECT_EQ(m.libs(), (std::vector<std::string>{"libx.so", (dir / "plugins" / "liby.so").string()}));
    EXPECT_EQ(m.input.type_name(), "path");
    EXPECT_EQ(m.lists.type_name(), "list of paths");
    const std::string message = error_of([&] { m.input.check_inputs(); });
    EXPECT_EQ(message, file + ": [likelihood] input (relative to " + dir.string() + "/): " +
                           (dir.parent_path() / "data" / "events.csv").string() +
                           ": cannot open for reading: No such file or directory");
    EXPECT_EQ(error_of([&] { m.dir.check_inputs(); }),
              file + ": [likelihood] dir: /abs/dir: no such directory (expected a directory)");

    // --set values stay relative to the working directory.
    auto overridden = Config::load(file, {"likelihood.input=rel.csv"});
    WithPaths o;
    o.configure(overridden, "likelihood");
    EXPECT_EQ(o.input(), "rel.csv");
    EXPECT_EQ(o.lists()[0], (dir / "a.csv").string());
    // A config without a file (from_string) has no directory of its own.
    auto text = Config::from_string("[likelihood]\ninput = x.csv\n", "text.ini");
    WithPaths t;
    t.configure(text, "likelihood");
    EXPECT_EQ(t.input(), "x.csv");
    // A config in the working directory: paths unchanged.
    const fs::path cwd = fs::current_path();
    fs::current_path(dir);
    auto local = Config::load("job.ini");
    fs::current_path(cwd);
    WithPaths l;
    l.configure(local, "likelihood");
    EXPECT_EQ(l.input(), "../data/events.csv");
}

#include "nusky/error.hpp"
#include "nusky/text_table.hpp"

#include "../test_paths.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace {

std::string write_temp(const std::string& name, const std::string& text)
{
    auto path = nusky::test::scratch_dir() / name;
    std::ofstream(path) << text;
    return path.string();
}

}  // namespace

TEST(TextTable, ReadsHeaderAndCommaRows)
{
    auto t = nusky::read_text_table(write_temp("a.csv", "index,pi0\n0,1.5\n1,2.5\n"));
    ASSERT_EQ(t.header.size(), 2u);
    EXPECT_EQ(t.column("pi0"), (std::vector<double>{1.5, 2.5}));
}

TEST(TextTable, AByteOrderMarkIsNotPartOfTheHeader)
{
    auto t = nusky::read_text_table(write_temp("bom.csv", "\xEF\xBB\xBFindex,pi0\n0,1.5\n"));
    EXPECT_EQ(t.header.front(), "index");
    EXPECT_EQ(t.column("pi0"), (std::vector<double>{1.5}));
    auto rows = nusky::read_text_table(write_temp("bom_rows.txt", "\xEF\xBB\xBF" "1 2\n3 4\n"));
    EXPECT_EQ(rows.column(0), (std::vector<double>{1, 3}));  // the first row kept
}

TEST(TextTable, ReadsWhitespaceWithHashHeader)
{
    auto t = nusky::read_text_table(write_temp("b.txt", "# a[deg] b\n  1 2\n 3\t4\n"));
    EXPECT_EQ(t.header, (std::vector<std::string>{"a[deg]", "b"}));
    EXPECT_EQ(t.column(1), (std::vector<double>{2, 4}));
}

TEST(TextTable, BadNumberNamesFileAndLine)
{
    auto path = write_temp("c.txt", "a b\n1 2\n3 x4\n");
    try {
        nusky::read_text_table(path);
        FAIL() << "no error";
    } catch (const nusky::Error& e) {
        EXPECT_NE(std::string(e.what()).find(path + ":3:"), std::string::npos) << e.what();
    }
}

TEST(TextTable, WrongColumnCountAndNanAreErrors)
{
    EXPECT_THROW(nusky::read_text_table(write_temp("d.txt", "1 2\n3\n")), nusky::Error);
    EXPECT_THROW(nusky::read_text_table(write_temp("e.txt", "1 2\n3 nan\n")), nusky::Error);
    EXPECT_THROW(nusky::read_text_table(write_temp("f.txt", "")), nusky::Error);
    EXPECT_THROW(nusky::read_text_table("/nonexistent/file.csv"), nusky::Error);
}

TEST(TextTable, ReadsReleasedBackgroundTrialHistogram)
{
    auto t = nusky::read_text_table(nusky::test::repo_data("gp2023/bkg_trials_values.csv"));
    EXPECT_EQ(t.rows.size(), 1000u);
    EXPECT_EQ(t.column("pi0").front(), 316973706.0);
    auto effa = nusky::read_text_table(nusky::test::repo_data("gp2023/effa_values.csv"));
    EXPECT_EQ(effa.rows.size(), 5u);
    EXPECT_EQ(effa.n_columns(), 120u);
}

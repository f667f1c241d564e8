#pragma once
// Numeric text tables (CSV or whitespace separated), as the IceCube data releases ship them.
// A first line that does not parse as numbers is taken as the header (column names);
// '#' starts a comment line (a header when it is the first line). Every row must have the
// header's column count; a bad number is an error naming file, line and column.
#include <string>
#include <vector>

namespace nusky {

struct TextTable {
    std::string path;
    std::vector<std::string> header;       // empty when the file has none
    std::vector<std::vector<double>> rows; // row-major; all rows have the same length

    std::size_t n_columns() const { return rows.empty() ? header.size() : rows.front().size(); }
    // Column by name; throws naming the file and the missing column.
    std::vector<double> column(const std::string& name) const;
    std::vector<double> column(std::size_t index) const;
    // All numbers in file order (for one-line vectors and 2-D grids).
    std::vector<double> flat() const;
};

// Reads the whole file; throws nusky::Error("path:line: ...") on any malformed line,
// and on an empty or missing file.
TextTable read_text_table(const std::string& path);

// Parses one number in full ("1.5e3", "nan" and "inf" are rejected unless allow_nonfinite).
// Returns false when the text is not entirely a number.
bool parse_double(const char* begin, const char* end, double& out, bool allow_nonfinite = false);

// The text after a leading UTF-8 byte-order mark (which some editors write), or `begin` itself:
// every text reader skips it, so that it never becomes part of a first header, name or row.
inline const char* skip_utf8_bom(const char* begin, const char* end)
{
    return end - begin >= 3 && begin[0] == '\xEF' && begin[1] == '\xBB' && begin[2] == '\xBF' ? begin + 3 : begin;
}

}  // namespace nusky

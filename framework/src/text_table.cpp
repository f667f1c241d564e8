#include "nusky/text_table.hpp"

#include "nusky/error.hpp"
#include "nusky/input_file.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

namespace nusky {

bool parse_double(const char* begin, const char* end, double& out, bool allow_nonfinite)
{
    if (begin == end) return false;
    if (*begin == '+') ++begin;  // from_chars rejects a leading '+', text files may have one
    auto [ptr, ec] = std::from_chars(begin, end, out);
    if (ec != std::errc() || ptr != end) return false;
    return allow_nonfinite || std::isfinite(out);
}

namespace {

std::vector<std::string> split_fields(const std::string& line)
{
    std::vector<std::string> fields;
    std::string current;
    bool comma_separated = line.find(',') != std::string::npos;
    for (char c : line) {
        bool separator = comma_separated ? c == ',' : (c == ' ' || c == '\t');
        if (separator) {
            if (comma_separated || !current.empty()) fields.push_back(current);
            current.clear();
        } else if (c != '\r' && !(comma_separated && (c == ' ' || c == '\t'))) {
            current.push_back(c);
        }
    }
    if (!current.empty() || (comma_separated && !line.empty() && line.back() != ',')) {
        fields.push_back(current);
    }
    return fields;
}

bool is_blank(const std::string& line)
{
    return line.find_first_not_of(" \t\r") == std::string::npos;
}

}  // namespace

TextTable read_text_table(const std::string& path)
{
    require_input_file(path, "a table");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw file_error(path, 0, "cannot open for reading");
    TextTable table;
    table.path = path;
    std::string line;
    long line_number = 0;
    bool first = true;
    while (std::getline(in, line)) {
        ++line_number;
        if (line_number == 1) line.erase(0, skip_utf8_bom(line.data(), line.data() + line.size()) - line.data());
        if (is_blank(line)) continue;
        bool comment = line.find_first_not_of(" \t") != std::string::npos &&
                       line[line.find_first_not_of(" \t")] == '#';
        std::string body = comment ? line.substr(line.find('#') + 1) : line;
        auto fields = split_fields(body);
        std::vector<double> values(fields.size());
        bool numeric = !comment && !fields.empty();
        for (std::size_t i = 0; numeric && i < fields.size(); ++i) {
            numeric = parse_double(fields[i].data(), fields[i].data() + fields[i].size(), values[i]);
        }
        if (first && !numeric) {
            table.header = fields;
            first = false;
            continue;
        }
        if (comment) continue;
        first = false;
        std::size_t expected = table.n_columns();
        if (expected != 0 && fields.size() != expected) {
            throw file_error(path, line_number,
                             "expected " + std::to_string(expected) + " columns, found " +
                                 std::to_string(fields.size()));
        }
        if (!numeric) {
            for (std::size_t i = 0; i < fields.size(); ++i) {
                double v;
                if (!parse_double(fields[i].data(), fields[i].data() + fields[i].size(), v)) {
                    throw file_error(path, line_number,
                                     "column " + std::to_string(i + 1) + ": '" + fields[i] +
                                         "' is not a finite number");
                }
            }
        }
        table.rows.push_back(std::move(values));
    }
    if (in.bad()) throw file_error(path, 0, "read error");
    if (table.rows.empty()) throw file_error(path, 0, "no data rows");
    return table;
}

std::vector<double> TextTable::column(std::size_t index) const
{
    if (index >= n_columns()) {
        throw file_error(path, 0, "has no column " + std::to_string(index + 1));
    }
    std::vector<double> out;
    out.reserve(rows.size());
    for (const auto& row : rows) out.push_back(row[index]);
    return out;
}

std::vector<double> TextTable::column(const std::string& name) const
{
    for (std::size_t i = 0; i < header.size(); ++i) {
        if (header[i] == name) return column(i);
    }
    throw file_error(path, 0, "has no column named '" + name + "'");
}

std::vector<double> TextTable::flat() const
{
    std::vector<double> out;
    for (const auto& row : rows) out.insert(out.end(), row.begin(), row.end());
    return out;
}

}  // namespace nusky

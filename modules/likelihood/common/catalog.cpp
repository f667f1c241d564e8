#include "likelihood/common/catalog.hpp"

#include "nusky/error.hpp"
#include "nusky/input_file.hpp"
#include "nusky/log.hpp"
#include "nusky/text_table.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <sstream>

namespace nusky {

namespace {

bool is_number(const std::string& token, double& value)
{
    return parse_double(token.data(), token.data() + token.size(), value);
}

double degrees_to_radians(double deg)
{
    return deg * std::numbers::pi / 180.0;
}

}  // namespace

std::vector<Source> read_source_catalog(const std::string& path)
{
    require_input_file(path, "a source catalog");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw file_error(path, 0, "cannot open source catalog");
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw file_error(path, 0, "read error");
    return parse_source_catalog(text.str(), path);
}

namespace {

// Whether column 4 holds weights: some line has a number there. (The release's lists have a
// word there, the source class, and no weights.)
bool has_weight_column(const std::string& text)
{
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        std::istringstream fields(line);
        std::vector<std::string> tokens;
        for (std::string t; fields >> t;) tokens.push_back(t);
        double weight;
        if (tokens.size() >= 4 && tokens.front().front() != '#' && is_number(tokens[3], weight)) return true;
    }
    return false;
}

}  // namespace

std::vector<Source> parse_source_catalog(const std::string& file_text, const std::string& path)
{
    // A UTF-8 byte-order mark (written by some editors) is not part of the first name.
    const std::string text(skip_utf8_bom(file_text.data(), file_text.data() + file_text.size()),
                           file_text.data() + file_text.size());
    const bool weighted = has_weight_column(text);
    std::istringstream in(text);
    std::vector<Source> sources;
    std::string line;
    long line_number = 0;
    while (std::getline(in, line)) {
        ++line_number;
        std::istringstream fields(line);
        std::vector<std::string> tokens;
        for (std::string t; fields >> t;) tokens.push_back(t);  // spaces, tabs, '\r'
        if (tokens.empty() || tokens.front().front() == '#') continue;
        if (tokens.size() < 3)
            throw file_error(path, line_number,
                             "expected 'name ra_deg dec_deg [weight]', got " +
                                 std::to_string(tokens.size()) + " column(s)");
        Source s;
        s.name = tokens[0];
        double ra_deg, dec_deg;
        if (!is_number(tokens[1], ra_deg))
            throw file_error(path, line_number, "RA '" + tokens[1] + "' is not a number");
        if (!is_number(tokens[2], dec_deg))
            throw file_error(path, line_number, "Dec '" + tokens[2] + "' is not a number");
        if (!(ra_deg >= 0.0 && ra_deg < 360.0))
            throw file_error(path, line_number,
                             "RA " + tokens[1] + " deg of " + s.name + " is outside [0, 360)");
        if (!(std::abs(dec_deg) <= 90.0))
            throw file_error(path, line_number,
                             "Dec " + tokens[2] + " deg of " + s.name + " is outside [-90, 90]");
        s.ra = degrees_to_radians(ra_deg);
        s.dec = degrees_to_radians(dec_deg);
        double weight;
        if (tokens.size() >= 4 && is_number(tokens[3], weight)) {
            if (!(weight > 0.0) || !std::isfinite(weight))
                throw file_error(path, line_number,
                                 "weight " + tokens[3] + " of " + s.name + " must be positive");
            s.weight = weight;
        } else if (tokens.size() >= 4 && weighted) {
            throw file_error(path, line_number,
                             "weight '" + tokens[3] + "' of " + s.name +
                                 " is not a number (other lines give numeric weights in column 4)");
        }
        if (tokens.size() >= 5) {
            for (std::size_t i = 4; i < tokens.size(); ++i) s.alias += (i > 4 ? " " : "") + tokens[i];
        }
        // A source listed twice (same name, or same other name: the 109-source list has Cen A
        // as both 4FGL J1324.0-4330e and J1325.5-4300) counts once: the first line is kept, as
        // in the paper's Table S5.
        const auto first = std::find_if(sources.begin(), sources.end(), [&](const Source& seen) {
            return seen.name == s.name || (!s.alias.empty() && seen.alias == s.alias);
        });
        if (first != sources.end()) {
            const std::string what = s.alias.empty() ? s.name : s.name + " (" + s.alias + ")";
            log::warn(path + ":" + std::to_string(line_number) + ": source " + what +
                      " is already in the catalog as " + first->name + " (line " +
                      std::to_string(first->line) + "); this line is skipped");
            continue;
        }
        s.line = line_number;
        sources.push_back(std::move(s));
    }
    if (sources.empty()) throw file_error(path, 0, "no sources in the catalog");
    return sources;
}

std::vector<double> stacking_coefficients(const std::vector<Source>& sources,
                                          const std::vector<double>& acceptance)
{
    if (acceptance.size() != sources.size())
        throw Error("stacking: " + std::to_string(acceptance.size()) + " acceptances for " +
                    std::to_string(sources.size()) + " sources");
    std::vector<double> a(sources.size());
    double total = 0.0;
    for (std::size_t k = 0; k < sources.size(); ++k) {
        if (!(acceptance[k] >= 0.0)) throw Error("stacking: negative or NaN acceptance");
        a[k] = sources[k].weight * acceptance[k];
        total += a[k];
    }
    if (!(total > 0.0) || !std::isfinite(total))
        throw Error("stacking: the weighted acceptance of all sources is zero");
    for (double& v : a) v /= total;
    return a;
}

void stack_signal(const std::vector<Eigen::ArrayXd>& per_source_signal,
                  const std::vector<double>& coefficients, Eigen::ArrayXd& out)
{
    if (per_source_signal.empty() || per_source_signal.size() != coefficients.size())
        throw Error("stacking: need one coefficient per source signal");
    double total = 0.0;
    for (double c : coefficients) total += c;
    if (!(total > 0.0)) throw Error("stacking: coefficients sum to zero");
    out = Eigen::ArrayXd::Zero(per_source_signal.front().size());
    for (std::size_t k = 0; k < per_source_signal.size(); ++k) {
        if (per_source_signal[k].size() != out.size())
            throw Error("stacking: per-source signal arrays have different lengths");
        out += (coefficients[k] / total) * per_source_signal[k];
    }
}

void stacked_vmf_density(const Eigen::ArrayXd& x, const Eigen::ArrayXd& y, const Eigen::ArrayXd& z,
                         const VmfEventConstants& constants, const std::vector<Source>& sources,
                         const std::vector<double>& coefficients, Eigen::ArrayXd& out)
{
    if (sources.empty() || sources.size() != coefficients.size())
        throw Error("stacking: need one coefficient per source");
    double total = 0.0;
    for (double c : coefficients) total += c;
    if (!(total > 0.0)) throw Error("stacking: coefficients sum to zero");
    out = Eigen::ArrayXd::Zero(x.size());
    Eigen::ArrayXd one_source;
    for (std::size_t k = 0; k < sources.size(); ++k) {
        if (coefficients[k] == 0.0) continue;
        vmf_density(x, y, z, constants, unit_vector(sources[k].ra, sources[k].dec), one_source);
        out += (coefficients[k] / total) * one_source;
    }
}

}  // namespace nusky

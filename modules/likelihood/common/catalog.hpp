#pragma once
// Source catalogs for stacking and source-list searches (docs/PHYSICS.md section 7).
// Text format, one source a line: "name ra_deg dec_deg [weight] [anything else...]", separated
// by spaces or tabs; '#' starts a comment line; blank lines are skipped. The 4th column holds
// weights when any line has a number there, and then a word there is an error naming its line
// (catalogs such as the 109-source list put a class name there on every line: no weights); a
// line with 3 columns has weight 1. The columns after the 4th are the source's other name. A source whose name or other name repeats an
// earlier line's is skipped with one warning naming both lines.
#include "likelihood/common/spatial_pdf.hpp"

#include <Eigen/Core>

#include <string>
#include <vector>

namespace nusky {

struct Source {
    std::string name;
    double ra = 0.0;      // radians, [0, 2 pi)
    double dec = 0.0;     // radians, [-pi/2, pi/2]
    double weight = 1.0;  // relative (theoretical) weight w_k, > 0
    std::string alias;    // the columns after the 4th (the 109-source list's other name), if any
    long line = 0;        // line in the catalog file
};

// Throws nusky::file_error (path:line: what) for a missing file, a line with fewer than three
// columns, a non-numeric or out-of-range RA (must be in [0, 360)) or Dec (|dec| <= 90), or a
// numeric weight that is not positive and finite; and for a catalog with no sources.
std::vector<Source> read_source_catalog(const std::string& path);
// The same for catalog text in memory; `name` stands for the file in messages (a fuzz target).
std::vector<Source> parse_source_catalog(const std::string& text, const std::string& name);

// Stacking coefficients a_k = w_k * acceptance_k, normalised to sum to 1, so that
// S_i = sum_k a_k S_ik. acceptance holds the detector acceptance at each source's declination
// for the current gamma (all 1 for equal acceptance). Non-positive total is an error.
std::vector<double> stacking_coefficients(const std::vector<Source>& sources,
                                          const std::vector<double>& acceptance);

// S_i = sum_k a_k S_ik / sum_k a_k from per-source signal densities (one array per source).
void stack_signal(const std::vector<Eigen::ArrayXd>& per_source_signal,
                  const std::vector<double>& coefficients, Eigen::ArrayXd& out);

// The same for vMF signals, with one temporary array instead of K: for each source, add
// a_k S_ik into `out` (one pass over the events per source). coefficients need not be
// normalised; the result is divided by their sum.
void stacked_vmf_density(const Eigen::ArrayXd& x, const Eigen::ArrayXd& y, const Eigen::ArrayXd& z,
                         const VmfEventConstants& constants, const std::vector<Source>& sources,
                         const std::vector<double>& coefficients, Eigen::ArrayXd& out);

}  // namespace nusky

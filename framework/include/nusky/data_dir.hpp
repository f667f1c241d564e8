#pragma once
// Where the data nusky ships are found: the gp2023 release tables (effective areas, the pi0
// template, the source catalogs) that the simulation reader and the template and stacking
// likelihoods read when no path is configured.
#include <string>
#include <vector>

namespace nusky {

// The places searched for the gp2023 release tables when no directory is configured, in order:
//   $NUSKY_DATA_DIR/gp2023, $NUSKY_DATA_DIR (when it is the gp2023 directory itself),
//   <executable dir>/../share/nusky/data/gp2023, <source tree>/data/gp2023.
std::vector<std::string> gp2023_search_paths();

// `configured` when non-empty (it must be a directory), else the first search path holding the
// release's effa_values.csv. Throws nusky::Error listing the places looked at.
std::string find_gp2023_dir(const std::string& configured = "");

}  // namespace nusky

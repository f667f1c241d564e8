#pragma once
// Reader `npy_events`: IceCube-style NumPy event files (1-D structured arrays, as used by csky
// and SkyLLH). Field names, with accepted aliases in order of preference:
//   ra, dec                    reconstructed direction (angle_unit, radians by default)
//   sigma | angErr             angular uncertainty (angle_unit)
//   logE | log10_energy        log10(E/GeV)
//   time | mjd                 event time [MJD], optional
// MC files add
//   trueRa | true_ra, trueDec | true_dec   (angle_unit)
//   trueE | true_energy        [GeV]
//   ow | oneweight             [GeV cm^2 sr], already divided by the number of generated events
#include "nusky/event.hpp"

#include "nusky/npy.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace nusky {

struct NpyEventOptions {
    bool degrees = false;                     // angles in the file are in degrees
    std::vector<std::string> extra_columns;   // other fields to carry as Events::extra
};

// Rows [first, first + count) of a parsed event array (the whole file, or a block of it read by
// NpyFile::read; first counts rows of the file), validated (NaN, |dec| > pi/2, sigma <= 0,
// true_energy <= 0, oneweight < 0): Error "FILE: field F index I (global): value V is not ...".
Events npy_to_events(const NpyArray& array, bool with_truth, std::int64_t first, std::int64_t count,
                     const NpyEventOptions& options = {});

}  // namespace nusky

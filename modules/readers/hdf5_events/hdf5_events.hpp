#pragma once
// Reader `hdf5_events`: the nusky HDF5 event schema. Group /events with float64 1-D datasets
// ra, dec, sigma (radians), log10_energy, optional mjd; optional group /mc with the same plus
// true_ra, true_dec (radians), true_energy (GeV), oneweight (GeV cm^2 sr); root attribute
// livetime_s. Each rank reads only its own block of rows (an HDF5 hyperslab).
#include "nusky/event.hpp"
#include "nusky/h5.hpp"

#include <string>

namespace nusky {

// Reads rows [begin, begin+count) of one group ("/events" or "/mc") and validates them.
// count < 0 means "this rank's block of the whole table".
Events read_event_group(hid_t file, const std::string& file_name, const std::string& group,
                        bool with_truth, int rank, int size);

// Writes a whole event table (plus optional MC) in the schema, serially (tests, `nusky simulate`).
void write_event_file(const std::string& path, const Events& data, const Events* mc, double livetime_s);

}  // namespace nusky

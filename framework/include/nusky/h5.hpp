#pragma once
// RAII HDF5 handles, one error checker that turns the HDF5 error stack into nusky::Error,
// and the parallel-HDF5 operations nusky needs (collective dataset writes, hyperslab reads).
#include <hdf5.h>

#include "nusky/results.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace nusky {

class Comm;

// Owns one HDF5 identifier and closes it with the matching H5*close.
class H5Handle {
public:
    H5Handle() = default;
    explicit H5Handle(hid_t id) : id_(id) {}
    H5Handle(H5Handle&& other) noexcept : id_(other.id_) { other.id_ = H5I_INVALID_HID; }
    H5Handle& operator=(H5Handle&& other) noexcept;
    H5Handle(const H5Handle&) = delete;
    H5Handle& operator=(const H5Handle&) = delete;
    ~H5Handle() { reset(); }
    hid_t get() const { return id_; }
    operator hid_t() const { return id_; }
    void reset();
    // Gives up ownership without closing.
    hid_t release()
    {
        const hid_t id = id_;
        id_ = H5I_INVALID_HID;
        return id;
    }

private:
    hid_t id_ = H5I_INVALID_HID;
};

// Throws Error("<context>: <what>: <innermost HDF5 message>") when the call failed (< 0).
hid_t h5_check(hid_t result, const std::string& context, const std::string& what);
// For collective writes, where an I/O error (a full disk) may hit some ranks only: every rank
// learns whether any rank's `status` is < 0 (one reduction) and then all throw the same
// CollectiveError("<path>: <what> failed: <reason>"), so that no rank is left waiting in the next
// collective. The reason is the lowest failing rank's HDF5 message.
void h5_agree(herr_t status, const Comm& comm, const std::string& path, const std::string& what);
// Closes a file opened through MPI-IO (the last metadata and data are flushed here) and checks
// that the close worked on every rank (h5_agree).
void h5_close_parallel(H5Handle& file, const Comm& comm, const std::string& path);
// Whether rows [begin, begin + count) of a 1-D dataset read back bitwise equal to `expected`
// (independent I/O; false also when the dataset cannot be opened or read).
bool h5_rows_read_back(hid_t file, const std::string& dataset, std::int64_t begin, const void* expected,
                       std::size_t count, hid_t memory_type);
// Reopens a closed results file (collective) and checks that every rank's blocks of the numeric
// datasets read back as written: Open MPI's collective writes can lose the data of a full disk
// without reporting it. Throws CollectiveError (h5_agree) when the file cannot be opened or
// anything differs.
void h5_verify_results(const std::string& path, const Results& results, const Comm& comm);
// Gives up a file that cannot be closed safely (a write failed on a full disk, and a close would
// flush into the same failure, on some ranks only): the handle is dropped unclosed, and the
// program then ends without MPI_Finalize (h5_file_left_open()).
void h5_abandon(H5Handle& file);
// Reserves the first `bytes` of a file on disk (rank 0, posix_fallocate), so that the writes
// into a file of fixed layout (a trial checkpoint) cannot run out of space later; collective.
// Throws CollectiveError when the space is not there. A no-op where the filesystem cannot.
void h5_reserve_space(const std::string& path, std::int64_t bytes, const Comm& comm);
// True once closing a file has failed (the last flush of a full disk): HDF5 then still holds the
// file and would crash closing it again at MPI_Finalize, so the program ends without finalizing.
bool h5_file_left_open();
// Every collective H5Dwrite (results, checkpoints) is checked afterwards: did HDF5 really do it
// collectively over MPI-IO, or fall back to independent I/O (H5Pget_mpio_no_collective_cause)?
// The counts are this process's, since it started.
struct CollectiveWrites {
    std::int64_t collective = 0;
    std::int64_t independent = 0;
    std::string first_independent;  // "DATASET (cause)" of the first fallback
};
void h5_record_collective_write(hid_t transfer, const std::string& dataset);
const CollectiveWrites& h5_collective_writes();

// The name of the file an HDF5 object belongs to ("results" when unknown).
std::string h5_file_name(hid_t object);
// Silences HDF5's own printing of error stacks (we report them through exceptions).
void h5_silence_errors();
bool is_hdf5_file(const std::string& path);

// Files opened through MPI-IO (collective: every rank must call).
H5Handle h5_create_parallel(const std::string& path, const Comm& comm);
H5Handle h5_open_parallel(const std::string& path, const Comm& comm, bool writable = false);
// A file opened by one process only (no MPI-IO).
H5Handle h5_open_serial(const std::string& path, bool writable = false);

bool h5_exists(hid_t location, const std::string& path);
// Length of a 1-D dataset; throws naming the file and dataset if missing or not 1-D.
std::int64_t h5_dataset_length(hid_t file, const std::string& file_name, const std::string& dataset);
// Reads [begin, begin+count) of a 1-D float64 dataset (independent I/O); checks the stored type.
std::vector<double> h5_read_doubles(hid_t file, const std::string& file_name,
                                    const std::string& dataset, std::int64_t begin, std::int64_t count);
std::vector<std::int64_t> h5_read_int64s(hid_t file, const std::string& file_name,
                                         const std::string& dataset, std::int64_t begin,
                                         std::int64_t count);
std::vector<std::string> h5_read_strings(hid_t file, const std::string& file_name,
                                         const std::string& dataset);
double h5_read_double_attribute(hid_t location, const std::string& file_name,
                                const std::string& object, const std::string& name);
std::string h5_read_string_attribute(hid_t location, const std::string& file_name,
                                     const std::string& object, const std::string& name);
std::int64_t h5_read_int64_attribute(hid_t location, const std::string& file_name,
                                     const std::string& object, const std::string& name);

// Writes an attribute on `location` (every rank calls it with the same value).
void h5_write_attribute(hid_t location, const std::string& name, const AttributeValue& value);
// Creates the groups along `path` that do not exist yet.
H5Handle h5_ensure_group(hid_t file, const std::string& path);
// Creates a 1-D dataset and writes every rank's block collectively.
void h5_write_dataset(hid_t file, const std::string& group_path, const std::string& name,
                      const Dataset& dataset, const Comm& comm);
// Writes a whole Results object: root attributes, groups, datasets (collective).
void h5_write_results(hid_t file, const Results& results, const Comm& comm);

}  // namespace nusky

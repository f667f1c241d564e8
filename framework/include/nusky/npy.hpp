#pragma once
// NumPy .npy files: header parser, reader and a small writer (for tests and tools).
//
// Supported: format versions 1.0, 2.0 and 3.0; little-endian data only; C order (Fortran order
// is accepted only where it means the same bytes, i.e. arrays with at most one dimension);
// element types '<f8', '<f4', '<i8', '<i4', '<i2', '<u8', '<u4', '<u2', '|i1', '|u1', '|b1';
// plain arrays of any shape, and 1-D structured arrays whose descr is a list of
// ('name', 'type') tuples of those types. Everything is converted to double columns.
// Record fields of fixed-size non-numeric types (bytes 'S', unicode 'U', void 'V' including
// numpy's alignment padding, complex 'c8'/'c16') are skipped (listed in skipped_fields; asking
// for one by name is an error saying so); any other type is an error naming the file.
//
// parse_npy_header(), parse_npy() and decode_npy() work on a byte buffer and never read outside
// it: any malformed input gives nusky::Error ("path: what"), never a crash (they are fuzz
// targets). NpyFile reads a file's header only, then any block of rows on request (each MPI rank
// reads just its own block, in chunks); it decodes with the same code as parse_npy().
#include <Eigen/Core>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nusky {

// One element type: kind 'f' (float), 'i' (signed), 'u' (unsigned) or 'b' (bool), size in bytes.
struct NpyType {
    char kind = 'f';
    int size = 8;
};

struct NpyField {
    std::string name;        // empty for a plain array's single column
    NpyType type;
    std::size_t offset = 0;  // byte offset within one element (record)
};

struct NpyHeader {
    int major = 1, minor = 0;
    std::size_t data_offset = 0;     // where the array data start (magic + length + dict)
    std::vector<std::size_t> shape;  // () for a 0-d array
    bool fortran_order = false;
    bool structured = false;         // descr was a list of fields
    std::vector<NpyField> fields;    // one unnamed field for a plain array
    std::vector<std::string> skipped_fields;  // "name ('type')" of non-numeric record fields
    std::size_t itemsize = 0;        // bytes per element (record)
    std::size_t count = 0;           // product of shape (1 for 0-d)
};

struct NpyArray {
    std::string path;
    std::vector<std::size_t> shape;       // of the whole array in the file
    std::vector<std::string> names;       // field names; one empty name for a plain array
    std::vector<Eigen::ArrayXd> columns;  // one per field, count() values each (C order)
    std::vector<std::string> skipped_fields;  // "name ('type')" of non-numeric record fields
    std::size_t first_row = 0;  // index in the file of the first value held (0: the whole array)

    // Values held per column: all of the array's elements, or one block of rows of it.
    std::size_t count() const { return columns.empty() ? 0 : std::size_t(columns.front().size()); }
    bool structured() const { return !(names.size() == 1 && names.front().empty()); }
    // Column by field name; throws naming the file and the missing field.
    const Eigen::ArrayXd& column(const std::string& name) const;
};

// Parses magic, version and header dict of the first `size` bytes of a file. Checks that the
// data (count * itemsize bytes after the header) fit in `size` when check_data_size is true.
NpyHeader parse_npy_header(const char* data, std::size_t size, const std::string& path_for_errors,
                           bool check_data_size = true);

// Decodes the elements [first, first + count) of an array with header h: `data` holds their
// bytes (at least count * h.itemsize, else an error naming the file). Every numeric field
// becomes a double column; the result's first_row is `first`.
NpyArray decode_npy(const NpyHeader& h, const char* data, std::size_t size, std::size_t first,
                    std::size_t count, const std::string& path_for_errors);

// Parses a whole .npy file image (header and data).
NpyArray parse_npy(const char* data, std::size_t size, const std::string& path_for_errors);

// A .npy file of which only the header has been read: its size is checked against the header
// (count * itemsize data bytes), and rows are read on request.
class NpyFile {
public:
    explicit NpyFile(const std::string& path);  // throws nusky::Error naming the file
    ~NpyFile();
    NpyFile(const NpyFile&) = delete;
    NpyFile& operator=(const NpyFile&) = delete;

    const NpyHeader& header() const { return header_; }
    // Elements [first, first + count) (the rows of a 1-D array), reading only their bytes.
    NpyArray read(std::size_t first, std::size_t count) const;

private:
    std::string path_;
    int fd_ = -1;
    NpyHeader header_;
    void read_bytes(std::size_t offset, std::size_t n, char* out) const;
};

// Reads a whole .npy file; throws nusky::Error naming the file on any problem.
NpyArray read_npy(const std::string& path);

// A HEALPix map stored as a plain 1-D .npy array: its size must be 12 nside^2.
// Returns the values; nside_out (if given) receives nside.
Eigen::ArrayXd read_healpix_map_npy(const std::string& path, int* nside_out = nullptr);

// nside for a map of npix pixels, or -1 when npix is not 12 nside^2 (nside >= 1).
long healpix_nside_of_npix(std::size_t npix);

// --- writing (tests, tools) ---------------------------------------------------------------
// dtype is one of the supported type strings ("<f8", "<f4", "<i8", "<i4", ...). Integer types
// round the values (they must be finite and in range). version: 1, 2 or 3.
void write_npy(const std::string& path, const Eigen::ArrayXd& values,
               const std::vector<std::size_t>& shape = {}, const std::string& dtype = "<f8",
               int version = 1);

// 1-D structured array: fields (name, dtype) with one column each (all the same length).
void write_npy_structured(const std::string& path,
                          const std::vector<std::pair<std::string, std::string>>& fields,
                          const std::vector<Eigen::ArrayXd>& columns, int version = 1);

// Writes raw bytes: magic, the given version, `dict` padded with spaces and '\n' to a multiple
// of 64 bytes, then `payload` (for tests that need malformed files).
void write_npy_raw(const std::string& path, const std::string& dict, const std::string& payload,
                   int version = 1);

}  // namespace nusky

#include "nusky/npy.hpp"

#include "nusky/error.hpp"
#include "nusky/input_file.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <limits>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace nusky {

static_assert(std::endian::native == std::endian::little,
              "the .npy reader converts little-endian data by memcpy");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicLen = 6;

// A bounds-checked cursor over the header dict text. Every read checks p < end.
class DictParser {
public:
    DictParser(const char* begin, const char* end, const std::string& path)
        : p_(begin), end_(end), path_(path) {}

    [[noreturn]] void fail(const std::string& what) const
    {
        throw file_error(path_, 0, "bad .npy header: " + what);
    }

    void skip_ws()
    {
        while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
    }
    bool at_end() { skip_ws(); return p_ >= end_; }
    bool peek(char c) { skip_ws(); return p_ < end_ && *p_ == c; }
    bool accept(char c)
    {
        if (!peek(c)) return false;
        ++p_;
        return true;
    }
    void expect(char c, const char* where)
    {
        if (!accept(c)) fail(std::string("expected '") + c + "' " + where);
    }

    std::string string_literal(const char* where)
    {
        skip_ws();
        if (p_ >= end_ || (*p_ != '\'' && *p_ != '"')) fail(std::string("expected a string ") + where);
        const char quote = *p_++;
        std::string out;
        while (p_ < end_ && *p_ != quote) {
            if (*p_ == '\\') fail("escape sequences in strings are not supported");
            out.push_back(*p_++);
        }
        if (p_ >= end_) fail("unterminated string");
        ++p_;  // closing quote
        return out;
    }

    bool boolean(const char* where)
    {
        skip_ws();
        const std::size_t left = std::size_t(end_ - p_);
        if (left >= 4 && std::memcmp(p_, "True", 4) == 0) { p_ += 4; return true; }
        if (left >= 5 && std::memcmp(p_, "False", 5) == 0) { p_ += 5; return false; }
        fail(std::string("expected True or False ") + where);
    }

    std::size_t integer(const char* where)
    {
        skip_ws();
        if (p_ >= end_ || *p_ < '0' || *p_ > '9') fail(std::string("expected an integer ") + where);
        std::size_t v = 0;
        while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
            const std::size_t digit = std::size_t(*p_ - '0');
            if (v > (std::numeric_limits<std::size_t>::max() - digit) / 10)
                fail(std::string("integer too large ") + where);
            v = v * 10 + digit;
            ++p_;
        }
        if (p_ < end_ && (*p_ == 'L' || *p_ == 'l')) ++p_;  // Python 2 long suffix
        return v;
    }

    // '(' [int (',' int)* [',']] ')'
    std::vector<std::size_t> shape_tuple(const char* where)
    {
        std::vector<std::size_t> shape;
        expect('(', where);
        if (accept(')')) return shape;
        while (true) {
            if (shape.size() >= 64) fail("too many dimensions");
            shape.push_back(integer(where));
            if (accept(')')) break;
            expect(',', where);
            if (accept(')')) break;
        }
        return shape;
    }

private:
    const char* p_;
    const char* end_;
    const std::string& path_;

public:
    const char* pos() const { return p_; }
};

// Parses a type string such as "<f8"; throws for big-endian and unsupported types.
// With `skip` (fields of structured arrays), fixed-size non-numeric types - bytes 'S<n>',
// unicode 'U<n>', void 'V<n>' (also numpy's alignment padding) and complex 'c8'/'c16' - are
// accepted as skipped fields: *skip is set and the type's byte size returned.
NpyType parse_type(const std::string& s, const std::string& path, bool* skip = nullptr)
{
    auto unsupported = [&]() -> Error {
        return file_error(path, 0, "unsupported dtype '" + s +
                                       "' (supported: little-endian f8, f4, i8, i4, i2, u8, "
                                       "u4, u2, and i1, u1, b1)");
    };
    if (skip) *skip = false;
    if (s.size() < 3 || s.size() > 12) throw unsupported();
    const char order = s[0];
    const char kind = s[1];
    int size = 0;
    for (std::size_t i = 2; i < s.size(); ++i) {
        if (s[i] < '0' || s[i] > '9') throw unsupported();
        size = size * 10 + (s[i] - '0');
        if (size > 1000000) throw unsupported();
    }
    if (order != '<' && order != '>' && order != '|' && order != '=') throw unsupported();
    if (skip && size >= 1 && (kind == 'S' || kind == 'V' || kind == 'U' ||
                              (kind == 'c' && (size == 8 || size == 16)))) {
        *skip = true;
        return NpyType{kind, kind == 'U' ? 4 * size : size};
    }
    bool ok = false;
    if (kind == 'f') ok = (size == 4 || size == 8);
    else if (kind == 'i' || kind == 'u') ok = (size == 1 || size == 2 || size == 4 || size == 8);
    else if (kind == 'b') ok = (size == 1);
    if (!ok) throw unsupported();
    if (order == '>' && size > 1)
        throw file_error(path, 0, "big-endian data ('" + s + "') is not supported; convert the "
                                  "array to little-endian (numpy: a.astype(a.dtype.newbyteorder('<')))");
    if (order == '|' && size > 1) throw unsupported();
    return NpyType{kind, size};
}

std::string shape_string(const std::vector<std::size_t>& shape)
{
    std::string s = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    if (shape.size() == 1) s += ",";
    return s + ")";
}

// One field of n records `stride` bytes apart, starting at p, converted to double.
template <class T>
void decode_field(const unsigned char* p, std::size_t stride, std::size_t n, double* out)
{
    for (std::size_t i = 0; i < n; ++i, p += stride) {
        T v;
        std::memcpy(&v, p, sizeof v);  // unaligned in records: memcpy, not a cast
        out[i] = static_cast<double>(v);
    }
}

void decode_column(const unsigned char* p, std::size_t stride, std::size_t n, NpyType t, double* out)
{
    switch (t.kind) {
    case 'f':
        if (t.size == 8) decode_field<double>(p, stride, n, out);
        else decode_field<float>(p, stride, n, out);
        return;
    case 'i':
        if (t.size == 8) decode_field<std::int64_t>(p, stride, n, out);
        else if (t.size == 4) decode_field<std::int32_t>(p, stride, n, out);
        else if (t.size == 2) decode_field<std::int16_t>(p, stride, n, out);
        else decode_field<std::int8_t>(p, stride, n, out);
        return;
    case 'u':
        if (t.size == 8) decode_field<std::uint64_t>(p, stride, n, out);
        else if (t.size == 4) decode_field<std::uint32_t>(p, stride, n, out);
        else if (t.size == 2) decode_field<std::uint16_t>(p, stride, n, out);
        else decode_field<std::uint8_t>(p, stride, n, out);
        return;
    default:  // 'b': any non-zero byte is True
        decode_field<std::uint8_t>(p, stride, n, out);
        for (std::size_t i = 0; i < n; ++i) out[i] = out[i] != 0.0 ? 1.0 : 0.0;
    }
}

// first + count <= h.count, tested so that a huge count cannot wrap around.
void check_rows(const NpyHeader& h, std::size_t first, std::size_t count, const std::string& path)
{
    if (first > h.count || count > h.count - first)
        throw file_error(path, 0, "rows [" + std::to_string(first) + ", " + std::to_string(first + count) +
                                      ") outside the " + std::to_string(h.count) + " rows");
}

// An array for `count` rows from row `first`: names and shape set, columns allocated.
NpyArray empty_array(const NpyHeader& h, std::size_t first, std::size_t count, const std::string& path)
{
    NpyArray a;
    a.path = path;
    a.shape = h.shape;
    a.skipped_fields = h.skipped_fields;
    a.first_row = first;
    for (const NpyField& f : h.fields) {
        a.names.push_back(f.name);
        a.columns.emplace_back(static_cast<Eigen::Index>(count));
    }
    return a;
}

// The one decoding path: n records at `data` (n * h.itemsize bytes) into the columns' values
// [at, at + n).
void decode_records(const NpyHeader& h, const char* data, std::size_t n, NpyArray& a, std::size_t at)
{
    if (n == 0) return;
    const auto* base = reinterpret_cast<const unsigned char*>(data);
    for (std::size_t k = 0; k < h.fields.size(); ++k) {
        const NpyField& f = h.fields[k];
        decode_column(base + f.offset, h.itemsize, n, f.type, a.columns[k].data() + at);
    }
}

// Magic, version and header length: fills h.major, h.minor and h.data_offset from the first
// bytes (10 for version 1, 12 for 2 and 3); returns the header (dict) length.
std::size_t parse_preamble(const char* data, std::size_t size, const std::string& path, NpyHeader& h)
{
    if (data == nullptr || size < kMagicLen || std::memcmp(data, kMagic, kMagicLen) != 0)
        throw file_error(path, 0, "not a NumPy .npy file (bad magic bytes)");
    if (size < 8) throw file_error(path, 0, "truncated .npy file (no version)");
    const auto* u = reinterpret_cast<const unsigned char*>(data);
    h.major = u[6];
    h.minor = u[7];
    std::size_t header_len = 0;
    if (h.major == 1) {
        if (size < 10) throw file_error(path, 0, "truncated .npy file (no header length)");
        header_len = std::size_t(u[8]) | (std::size_t(u[9]) << 8);
        h.data_offset = 10 + header_len;
    } else if (h.major == 2 || h.major == 3) {
        if (size < 12) throw file_error(path, 0, "truncated .npy file (no header length)");
        header_len = std::size_t(u[8]) | (std::size_t(u[9]) << 8) | (std::size_t(u[10]) << 16) |
                     (std::size_t(u[11]) << 24);
        h.data_offset = 12 + header_len;
    } else {
        throw file_error(path, 0, "unsupported .npy format version " + std::to_string(h.major) +
                                      "." + std::to_string(h.minor));
    }
    if (h.minor != 0)
        throw file_error(path, 0, "unsupported .npy format version " + std::to_string(h.major) +
                                      "." + std::to_string(h.minor));
    return header_len;
}

// The data after the header must be exactly count * itemsize bytes.
void check_data_bytes(const NpyHeader& h, std::size_t have, const std::string& path)
{
    const std::size_t need = h.count * h.itemsize;  // no overflow: checked by parse_npy_header
    if (have < need)
        throw file_error(path, 0, "truncated .npy data: shape " + shape_string(h.shape) +
                                      " needs " + std::to_string(need) + " bytes, file has " +
                                      std::to_string(have));
    if (have > need)
        throw file_error(path, 0, "shape mismatch: shape " + shape_string(h.shape) + " needs " +
                                      std::to_string(need) + " data bytes, file has " +
                                      std::to_string(have));
}

}  // namespace

NpyHeader parse_npy_header(const char* data, std::size_t size, const std::string& path,
                           bool check_data_size)
{
    NpyHeader h;
    const std::size_t header_len = parse_preamble(data, size, path, h);
    if (h.data_offset > size)
        throw file_error(path, 0, "truncated .npy file (header of " + std::to_string(header_len) +
                                      " bytes, file has " + std::to_string(size) + ")");

    DictParser dp(data + (h.data_offset - header_len), data + h.data_offset, path);
    bool have_descr = false, have_order = false, have_shape = false;
    std::vector<std::pair<std::string, std::string>> field_types;  // (name, type)
    std::string plain_type;
    dp.expect('{', "at the start of the header dict");
    while (!dp.accept('}')) {
        const std::string key = dp.string_literal("as a header key");
        dp.expect(':', "after a header key");
        if (key == "descr") {
            if (have_descr) dp.fail("duplicate key 'descr'");
            have_descr = true;
            if (dp.peek('[')) {
                h.structured = true;
                dp.expect('[', "");
                while (!dp.accept(']')) {
                    if (field_types.size() >= 4096) dp.fail("too many fields");
                    if (dp.peek('('))
                        dp.expect('(', "");
                    else
                        dp.fail("expected a ('name', 'type') tuple in descr");
                    if (dp.peek('('))
                        throw file_error(path, 0, "unsupported dtype: fields with titles");
                    std::string name = dp.string_literal("as a field name");
                    dp.expect(',', "after a field name");
                    if (dp.peek('[') || dp.peek('('))
                        throw file_error(path, 0, "unsupported dtype: nested structure in field '" +
                                                      name + "'");
                    std::string type = dp.string_literal("as a field type");
                    if (dp.accept(',')) {
                        if (!dp.accept(')'))
                            throw file_error(path, 0, "unsupported dtype: sub-array field '" +
                                                          name + "'");
                    } else {
                        dp.expect(')', "after a field");
                    }
                    field_types.emplace_back(std::move(name), std::move(type));
                    if (!dp.accept(',')) {
                        dp.expect(']', "after the field list");
                        break;
                    }
                }
                if (field_types.empty()) throw file_error(path, 0, "unsupported dtype: no fields");
            } else {
                plain_type = dp.string_literal("as descr");
            }
        } else if (key == "fortran_order") {
            if (have_order) dp.fail("duplicate key 'fortran_order'");
            have_order = true;
            h.fortran_order = dp.boolean("for fortran_order");
        } else if (key == "shape") {
            if (have_shape) dp.fail("duplicate key 'shape'");
            have_shape = true;
            h.shape = dp.shape_tuple("in shape");
        } else {
            dp.fail("unexpected key '" + key + "'");
        }
        if (!dp.accept(',')) {
            dp.expect('}', "at the end of the header dict");
            break;
        }
    }
    if (!dp.at_end()) dp.fail("text after the header dict");
    if (!have_descr || !have_order || !have_shape)
        dp.fail("the dict must have the keys 'descr', 'fortran_order' and 'shape'");

    // Element layout.
    if (h.structured) {
        std::set<std::string> seen;
        std::size_t offset = 0;
        for (const auto& [name, type] : field_types) {
            bool skipped = false;
            NpyType t = parse_type(type, path, &skipped);
            if (!name.empty() && !seen.insert(name).second)
                throw file_error(path, 0, "duplicate field name '" + name + "'");
            if (!skipped) {
                if (name.empty()) throw file_error(path, 0, "unsupported dtype: unnamed field");
                h.fields.push_back(NpyField{name, t, offset});
            } else if (!name.empty()) {
                h.skipped_fields.push_back(name + " ('" + type + "')");
            }
            offset += std::size_t(t.size);
        }
        if (h.fields.empty()) throw file_error(path, 0, "unsupported dtype: no numeric fields");
        h.itemsize = offset;
        if (h.shape.size() != 1)
            throw file_error(path, 0, "structured arrays must be 1-D, shape is " +
                                          shape_string(h.shape));
    } else {
        NpyType t = parse_type(plain_type, path);
        h.fields.push_back(NpyField{"", t, 0});
        h.itemsize = std::size_t(t.size);
    }

    // Fortran order only matters with two or more dimensions.
    if (h.fortran_order && h.shape.size() > 1)
        throw file_error(path, 0, "Fortran-ordered arrays are not supported (shape " +
                                      shape_string(h.shape) + "); save with C order");

    std::size_t count = 1;
    for (std::size_t n : h.shape) {
        if (n != 0 && count > std::numeric_limits<std::size_t>::max() / n / h.itemsize)
            throw file_error(path, 0, "shape " + shape_string(h.shape) + " is too large");
        count *= n;
    }
    h.count = count;

    if (check_data_size) check_data_bytes(h, size - h.data_offset, path);
    return h;
}

NpyArray decode_npy(const NpyHeader& h, const char* data, std::size_t size, std::size_t first,
                    std::size_t count, const std::string& path)
{
    check_rows(h, first, count, path);
    if (h.itemsize == 0 || size / h.itemsize < count)  // checked before any allocation
        throw file_error(path, 0, "truncated .npy data: " + std::to_string(count) + " rows need " +
                                      std::to_string(count * h.itemsize) + " bytes, have " +
                                      std::to_string(size));
    NpyArray a = empty_array(h, first, count, path);
    decode_records(h, data, count, a, 0);
    return a;
}

NpyArray parse_npy(const char* data, std::size_t size, const std::string& path)
{
    const NpyHeader h = parse_npy_header(data, size, path, true);
    return decode_npy(h, data + h.data_offset, size - h.data_offset, 0, h.count, path);
}

NpyFile::NpyFile(const std::string& path) : path_(path)
{
    require_input_file(path, "a .npy file");
    fd_ = ::open(path.c_str(), O_RDONLY);
    if (fd_ < 0) throw file_error(path, 0, std::string("cannot open for reading: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
        ::close(fd_);
        throw file_error(path, 0, "cannot stat");
    }
    try {
        if (S_ISDIR(st.st_mode)) throw file_error(path, 0, "is a directory, expected a .npy file");
        const auto file_size = static_cast<std::size_t>(st.st_size);
        // The preamble says how long the header is; then the header, and nothing of the data.
        std::string head(std::min<std::size_t>(file_size, 12), '\0');
        read_bytes(0, head.size(), head.data());
        NpyHeader preamble;
        parse_preamble(head.data(), head.size(), path, preamble);
        head.resize(std::min(preamble.data_offset, file_size));
        read_bytes(0, head.size(), head.data());
        header_ = parse_npy_header(head.data(), head.size(), path, false);
        check_data_bytes(header_, file_size - header_.data_offset, path);
    } catch (...) {
        ::close(fd_);
        throw;
    }
}

NpyFile::~NpyFile() { ::close(fd_); }

void NpyFile::read_bytes(std::size_t offset, std::size_t n, char* out) const
{
    std::size_t done = 0;
    while (done < n) {
        const ssize_t got = ::pread(fd_, out + done, n - done, static_cast<off_t>(offset + done));
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) throw file_error(path_, 0, std::string("read error: ") + std::strerror(errno));
        if (got == 0) throw file_error(path_, 0, "read error: file shorter than expected (changed while reading?)");
        done += static_cast<std::size_t>(got);
    }
}

NpyArray NpyFile::read(std::size_t first, std::size_t count) const
{
    const NpyHeader& h = header_;
    check_rows(h, first, count, path_);
    NpyArray a = empty_array(h, first, count, path_);
    // In chunks of about 4 MB, so that the raw bytes never sit in memory beside all the columns.
    const std::size_t chunk_rows = std::max<std::size_t>(1, (std::size_t{4} << 20) / h.itemsize);
    std::vector<char> bytes;
    for (std::size_t done = 0; done < count;) {
        const std::size_t n = std::min(chunk_rows, count - done);
        bytes.resize(n * h.itemsize);  // no overflow: n <= h.count
        read_bytes(h.data_offset + (first + done) * h.itemsize, bytes.size(), bytes.data());
        decode_records(h, bytes.data(), n, a, done);
        done += n;
    }
    return a;
}

NpyArray read_npy(const std::string& path)
{
    NpyFile file(path);
    return file.read(0, file.header().count);
}

const Eigen::ArrayXd& NpyArray::column(const std::string& name) const
{
    for (std::size_t i = 0; i < names.size(); ++i)
        if (names[i] == name) return columns[i];
    for (const auto& sk : skipped_fields)
        if (sk.rfind(name + " (", 0) == 0)
            throw file_error(path, 0, "field " + sk + " is not numeric (supported: little-endian "
                                      "f8, f4, i8, i4, i2, u8, u4, u2, i1, u1, b1)");
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    throw file_error(path, 0, "no field '" + name + "' (fields: " + known + ")");
}

long healpix_nside_of_npix(std::size_t npix)
{
    if (npix == 0 || npix % 12 != 0) return -1;
    const std::size_t n2 = npix / 12;
    auto nside = std::size_t(std::llround(std::sqrt(double(n2))));
    for (std::size_t c = (nside > 0 ? nside - 1 : 0); c <= nside + 1; ++c)
        if (c > 0 && c * c == n2) return long(c);
    return -1;
}

Eigen::ArrayXd read_healpix_map_npy(const std::string& path, int* nside_out)
{
    NpyArray a = read_npy(path);
    if (a.structured())
        throw file_error(path, 0, "a HEALPix map must be a plain array, not a structured one");
    if (a.shape.size() != 1)
        throw file_error(path, 0, "a HEALPix map must be 1-D, shape is " + shape_string(a.shape));
    const long nside = healpix_nside_of_npix(a.count());
    if (nside < 1 || nside > (1L << 29))
        throw file_error(path, 0, "not a HEALPix map: " + std::to_string(a.count()) +
                                      " values is not 12 nside^2");
    if (nside_out) *nside_out = int(nside);
    return std::move(a.columns.front());
}

// ---------------------------------------------------------------------------------------------
namespace {

void store_value(std::string& out, double v, NpyType t, const std::string& path)
{
    unsigned char buf[8];
    if (t.kind == 'f') {
        if (t.size == 8) std::memcpy(buf, &v, 8);
        else { float f = float(v); std::memcpy(buf, &f, 4); }
    } else {
        if (!std::isfinite(v)) throw file_error(path, 0, "cannot write a non-finite value as an integer");
        const double r = std::nearbyint(v);
        auto check = [&](double lo, double hi) {
            if (r < lo || r > hi) throw file_error(path, 0, "value out of range of the integer dtype");
        };
        if (t.kind == 'b') { buf[0] = r != 0 ? 1 : 0; }
        else if (t.kind == 'i') {
            switch (t.size) {
            case 8: { check(-9.2233720368547758e18, 9.2233720368547748e18); std::int64_t x = std::int64_t(r); std::memcpy(buf, &x, 8); break; }
            case 4: { check(-2147483648.0, 2147483647.0); std::int32_t x = std::int32_t(r); std::memcpy(buf, &x, 4); break; }
            case 2: { check(-32768.0, 32767.0); std::int16_t x = std::int16_t(r); std::memcpy(buf, &x, 2); break; }
            default: { check(-128.0, 127.0); std::int8_t x = std::int8_t(r); std::memcpy(buf, &x, 1); }
            }
        } else {
            switch (t.size) {
            case 8: { check(0, 1.8446744073709550e19); std::uint64_t x = std::uint64_t(r); std::memcpy(buf, &x, 8); break; }
            case 4: { check(0, 4294967295.0); std::uint32_t x = std::uint32_t(r); std::memcpy(buf, &x, 4); break; }
            case 2: { check(0, 65535.0); std::uint16_t x = std::uint16_t(r); std::memcpy(buf, &x, 2); break; }
            default: { check(0, 255.0); buf[0] = std::uint8_t(r); }
            }
        }
    }
    out.append(reinterpret_cast<const char*>(buf), std::size_t(t.size));
}

std::string header_bytes(const std::string& dict, int version, const std::string& path)
{
    if (version < 1 || version > 3) throw file_error(path, 0, "npy version must be 1, 2 or 3");
    const std::size_t prefix = kMagicLen + 2 + (version == 1 ? 2 : 4);
    std::string text = dict;
    const std::size_t total = prefix + text.size() + 1;
    text.append((64 - total % 64) % 64, ' ');
    text.push_back('\n');
    if (version == 1 && text.size() > 65535)
        throw file_error(path, 0, "header too long for npy version 1.0");
    std::string out(kMagic, kMagicLen);
    out.push_back(char(version));
    out.push_back(0);
    const std::size_t n = text.size();
    out.push_back(char(n & 0xff));
    out.push_back(char((n >> 8) & 0xff));
    if (version != 1) {
        out.push_back(char((n >> 16) & 0xff));
        out.push_back(char((n >> 24) & 0xff));
    }
    return out + text;
}

void write_file(const std::string& path, const std::string& bytes)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw file_error(path, 0, "cannot open file for writing");
    out.write(bytes.data(), std::streamsize(bytes.size()));
    if (!out) throw file_error(path, 0, "write error");
}

}  // namespace

void write_npy_raw(const std::string& path, const std::string& dict, const std::string& payload,
                   int version)
{
    write_file(path, header_bytes(dict, version, path) + payload);
}

void write_npy(const std::string& path, const Eigen::ArrayXd& values,
               const std::vector<std::size_t>& shape_in, const std::string& dtype, int version)
{
    const NpyType t = parse_type(dtype, path);
    std::vector<std::size_t> shape = shape_in;
    if (shape.empty()) shape = {std::size_t(values.size())};
    std::size_t count = 1;
    for (std::size_t n : shape) count *= n;
    if (count != std::size_t(values.size()))
        throw file_error(path, 0, "write_npy: shape " + shape_string(shape) + " does not match " +
                                      std::to_string(values.size()) + " values");
    const std::string dict = "{'descr': '" + dtype + "', 'fortran_order': False, 'shape': " +
                             shape_string(shape) + ", }";
    std::string payload;
    payload.reserve(count * std::size_t(t.size));
    for (Eigen::Index i = 0; i < values.size(); ++i) store_value(payload, values[i], t, path);
    write_npy_raw(path, dict, payload, version);
}

void write_npy_structured(const std::string& path,
                          const std::vector<std::pair<std::string, std::string>>& fields,
                          const std::vector<Eigen::ArrayXd>& columns, int version)
{
    if (fields.empty() || fields.size() != columns.size())
        throw file_error(path, 0, "write_npy_structured: need one column per field");
    std::vector<NpyType> types;
    std::string descr = "[";
    for (std::size_t k = 0; k < fields.size(); ++k) {
        types.push_back(parse_type(fields[k].second, path));
        if (columns[k].size() != columns[0].size())
            throw file_error(path, 0, "write_npy_structured: columns differ in length");
        descr += (k ? ", ('" : "('") + fields[k].first + "', '" + fields[k].second + "')";
    }
    descr += "]";
    const std::size_t n = std::size_t(columns[0].size());
    const std::string dict = "{'descr': " + descr + ", 'fortran_order': False, 'shape': (" +
                             std::to_string(n) + ",), }";
    std::string payload;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t k = 0; k < fields.size(); ++k)
            store_value(payload, columns[k][Eigen::Index(i)], types[k], path);
    write_npy_raw(path, dict, payload, version);
}

}  // namespace nusky

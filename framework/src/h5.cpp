#include "nusky/h5.hpp"

#include "nusky/error.hpp"
#include "nusky/input_file.hpp"
#include "nusky/mpi.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <unistd.h>
#include <cstring>
#include <fstream>

namespace nusky {

H5Handle& H5Handle::operator=(H5Handle&& other) noexcept
{
    if (this != &other) {
        reset();
        id_ = other.id_;
        other.id_ = H5I_INVALID_HID;
    }
    return *this;
}

namespace {
bool g_file_left_open = false;  // a file whose close failed (a full disk): see h5_file_left_open()
}  // namespace

bool h5_file_left_open() { return g_file_left_open; }

void H5Handle::reset()
{
    if (id_ < 0) return;
    switch (H5Iget_type(id_)) {
    case H5I_FILE:
        if (H5Fclose(id_) < 0) g_file_left_open = true;
        break;
    case H5I_GROUP: H5Gclose(id_); break;
    case H5I_DATASET: H5Dclose(id_); break;
    case H5I_DATASPACE: H5Sclose(id_); break;
    case H5I_DATATYPE: H5Tclose(id_); break;
    case H5I_ATTR: H5Aclose(id_); break;
    case H5I_GENPROP_LST: H5Pclose(id_); break;
    default: break;
    }
    id_ = H5I_INVALID_HID;
}

namespace {

herr_t innermost_message(unsigned n, const H5E_error2_t* e, void* out)
{
    if (n == 0 && e->desc) *static_cast<std::string*>(out) = e->desc;
    return 0;
}

}  // namespace

hid_t h5_check(hid_t result, const std::string& context, const std::string& what)
{
    if (result >= 0) return result;
    std::string detail;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, innermost_message, &detail);
    H5Eclear2(H5E_DEFAULT);
    throw Error(context + ": " + what + (detail.empty() ? "" : " (" + detail + ")"));
}

void h5_agree(herr_t status, const Comm& comm, const std::string& path, const std::string& what)
{
    std::string detail;
    if (status < 0) {
        H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, innermost_message, &detail);
        H5Eclear2(H5E_DEFAULT);
        if (detail.empty()) detail = "HDF5 error";
    }
    // The lowest failing rank (size when none) tells its reason to all.
    const int failing = -static_cast<int>(comm.max(-static_cast<double>(status < 0 ? comm.rank() : comm.size())));
    if (failing == comm.size()) return;
    comm.broadcast(detail, failing);
    throw CollectiveError(path + ": " + what + " failed (" + detail + "; is the disk full or the quota exceeded?)");
}

void h5_close_parallel(H5Handle& file, const Comm& comm, const std::string& path)
{
    if (file.get() < 0) return;
    // Ownership is given up first: a failed close is not retried by the destructor.
    const hid_t id = file.release();
    const herr_t status = H5Fclose(id);
    if (status < 0) g_file_left_open = true;
    h5_agree(status, comm, path, "closing the file");
}

void h5_abandon(H5Handle& file)
{
    if (file.get() < 0) return;
    file.release();
    g_file_left_open = true;
}

void h5_reserve_space(const std::string& path, std::int64_t bytes, const Comm& comm)
{
    int error = 0;
    if (comm.is_root()) {
        const int fd = ::open(path.c_str(), O_WRONLY);
        error = fd < 0 ? errno : ::posix_fallocate(fd, 0, static_cast<off_t>(bytes));
        if (fd >= 0) ::close(fd);
        // A filesystem without fallocate: nothing reserved, the writes' own checks remain.
        if (error == EOPNOTSUPP || error == ENOSYS || error == EINVAL) error = 0;
    }
    std::string reason = error ? std::strerror(error) : "";
    const int failing = -static_cast<int>(comm.max(-static_cast<double>(error ? comm.rank() : comm.size())));
    if (failing == comm.size()) return;
    comm.broadcast(reason, failing);
    throw CollectiveError(path + ": cannot reserve " + std::to_string(bytes >> 10) + " KiB for the file (" + reason +
                          "; is the disk full or the quota exceeded?)");
}

std::string h5_file_name(hid_t object)
{
    const ssize_t n = H5Fget_name(object, nullptr, 0);
    if (n <= 0) return "results";
    std::string name(static_cast<std::size_t>(n) + 1, '\0');
    H5Fget_name(object, name.data(), name.size());
    name.resize(static_cast<std::size_t>(n));
    return name;
}

void h5_silence_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

bool is_hdf5_file(const std::string& path)
{
    h5_silence_errors();
    return H5Fis_hdf5(path.c_str()) > 0;
}

namespace {

H5Handle mpio_access(const Comm& comm, const std::string& path)
{
    H5Handle fapl(h5_check(H5Pcreate(H5P_FILE_ACCESS), path, "H5Pcreate"));
    h5_check(H5Pset_fapl_mpio(fapl, comm.raw(), MPI_INFO_NULL), path, "H5Pset_fapl_mpio");
    // Every rank takes part in metadata operations, so they may be collective too.
    h5_check(H5Pset_all_coll_metadata_ops(fapl, true), path, "H5Pset_all_coll_metadata_ops");
    h5_check(H5Pset_coll_metadata_write(fapl, true), path, "H5Pset_coll_metadata_write");
    return fapl;
}

}  // namespace

H5Handle h5_create_parallel(const std::string& path, const Comm& comm)
{
    h5_silence_errors();
    auto fapl = mpio_access(comm, path);
    return H5Handle(h5_check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), path,
                             "cannot create the file"));
}

H5Handle h5_open_parallel(const std::string& path, const Comm& comm, bool writable)
{
    require_input_file(path, "an HDF5 file");
    h5_silence_errors();
    auto fapl = mpio_access(comm, path);
    return H5Handle(h5_check(H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl),
                             path, "cannot open as HDF5"));
}

H5Handle h5_open_serial(const std::string& path, bool writable)
{
    require_input_file(path, "an HDF5 file");
    h5_silence_errors();
    return H5Handle(h5_check(H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT),
                             path, "cannot open as HDF5"));
}

bool h5_exists(hid_t location, const std::string& path)
{
    // Check each component so that a missing parent group is not an error.
    std::string partial;
    std::size_t start = path.front() == '/' ? 1 : 0;
    while (start <= path.size()) {
        auto slash = path.find('/', start);
        std::string component = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
        partial += "/" + component;
        if (H5Lexists(location, partial.c_str(), H5P_DEFAULT) <= 0) return false;
        if (slash == std::string::npos) break;
        start = slash + 1;
    }
    return true;
}

namespace {

H5Handle open_1d_dataset(hid_t file, const std::string& file_name, const std::string& dataset,
                         std::int64_t* length)
{
    if (!h5_exists(file, dataset)) throw Error(file_name + ": missing dataset " + dataset);
    H5Handle d(h5_check(H5Dopen2(file, dataset.c_str(), H5P_DEFAULT), file_name, "cannot open " + dataset));
    H5Handle space(h5_check(H5Dget_space(d), file_name, dataset));
    int rank = H5Sget_simple_extent_ndims(space);
    if (rank != 1) {
        throw Error(file_name + ": dataset " + dataset + " has " + std::to_string(rank) +
                    " dimensions, expected 1");
    }
    hsize_t dims[1];
    H5Sget_simple_extent_dims(space, dims, nullptr);
    *length = static_cast<std::int64_t>(dims[0]);
    return d;
}

template <class T>
std::vector<T> read_slice(hid_t file, const std::string& file_name, const std::string& dataset,
                          std::int64_t begin, std::int64_t count, hid_t memory_type,
                          H5T_class_t expected_class, const char* expected_name)
{
    std::int64_t length = 0;
    auto d = open_1d_dataset(file, file_name, dataset, &length);
    H5Handle type(h5_check(H5Dget_type(d), file_name, dataset));
    if (H5Tget_class(type) != expected_class || (expected_class == H5T_FLOAT && H5Tget_size(type) != 8)) {
        throw Error(file_name + ": dataset " + dataset + " has the wrong type (expected " + expected_name + ")");
    }
    if (begin < 0 || count < 0 || begin + count > length) {
        throw Error(file_name + ": dataset " + dataset + " is shorter (" + std::to_string(length) +
                    ") than needed (" + std::to_string(begin + count) + ")");
    }
    std::vector<T> out(static_cast<std::size_t>(count));
    H5Handle file_space(h5_check(H5Dget_space(d), file_name, dataset));
    hsize_t start[1] = {static_cast<hsize_t>(begin)}, n[1] = {static_cast<hsize_t>(count)};
    h5_check(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, n, nullptr), file_name, dataset);
    H5Handle memory_space(h5_check(H5Screate_simple(1, n, nullptr), file_name, dataset));
    h5_check(H5Dread(d, memory_type, memory_space, file_space, H5P_DEFAULT, out.data()), file_name,
             "cannot read " + dataset);
    return out;
}

}  // namespace

std::int64_t h5_dataset_length(hid_t file, const std::string& file_name, const std::string& dataset)
{
    std::int64_t length = 0;
    open_1d_dataset(file, file_name, dataset, &length);
    return length;
}

std::vector<double> h5_read_doubles(hid_t file, const std::string& file_name, const std::string& dataset,
                                    std::int64_t begin, std::int64_t count)
{
    return read_slice<double>(file, file_name, dataset, begin, count, H5T_NATIVE_DOUBLE, H5T_FLOAT, "float64");
}

std::vector<std::int64_t> h5_read_int64s(hid_t file, const std::string& file_name,
                                         const std::string& dataset, std::int64_t begin, std::int64_t count)
{
    return read_slice<std::int64_t>(file, file_name, dataset, begin, count, H5T_NATIVE_INT64,
                                    H5T_INTEGER, "integer");
}

std::vector<std::string> h5_read_strings(hid_t file, const std::string& file_name, const std::string& dataset)
{
    std::int64_t length = 0;
    auto d = open_1d_dataset(file, file_name, dataset, &length);
    H5Handle type(h5_check(H5Dget_type(d), file_name, dataset));
    if (H5Tget_class(type) != H5T_STRING || H5Tis_variable_str(type) > 0) {
        throw Error(file_name + ": dataset " + dataset + " is not a fixed-length string dataset");
    }
    std::size_t width = H5Tget_size(type);
    std::vector<char> buffer(width * static_cast<std::size_t>(length) + 1, '\0');
    h5_check(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()), file_name, dataset);
    std::vector<std::string> out;
    for (std::int64_t i = 0; i < length; ++i) {
        const char* s = buffer.data() + i * width;
        out.emplace_back(s, strnlen(s, width));
    }
    return out;
}

namespace {

H5Handle open_attribute(hid_t location, const std::string& file_name, const std::string& object,
                        const std::string& name)
{
    if (H5Aexists_by_name(location, object.c_str(), name.c_str(), H5P_DEFAULT) <= 0) {
        throw Error(file_name + ": missing attribute " + name + " on " + object);
    }
    return H5Handle(h5_check(H5Aopen_by_name(location, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
                             file_name, "attribute " + name));
}

}  // namespace

double h5_read_double_attribute(hid_t location, const std::string& file_name, const std::string& object,
                                const std::string& name)
{
    auto a = open_attribute(location, file_name, object, name);
    double v = 0;
    h5_check(H5Aread(a, H5T_NATIVE_DOUBLE, &v), file_name, "attribute " + name + " is not a number");
    return v;
}

std::int64_t h5_read_int64_attribute(hid_t location, const std::string& file_name, const std::string& object,
                                     const std::string& name)
{
    auto a = open_attribute(location, file_name, object, name);
    std::int64_t v = 0;
    h5_check(H5Aread(a, H5T_NATIVE_INT64, &v), file_name, "attribute " + name + " is not an integer");
    return v;
}

std::string h5_read_string_attribute(hid_t location, const std::string& file_name, const std::string& object,
                                     const std::string& name)
{
    auto a = open_attribute(location, file_name, object, name);
    H5Handle type(h5_check(H5Aget_type(a), file_name, name));
    if (H5Tget_class(type) != H5T_STRING) throw Error(file_name + ": attribute " + name + " is not a string");
    if (H5Tis_variable_str(type) > 0) {
        char* value = nullptr;
        H5Handle memory(H5Tcopy(H5T_C_S1));
        H5Tset_size(memory, H5T_VARIABLE);
        H5Tset_cset(memory, H5Tget_cset(type));  // ASCII or UTF-8: no conversion between them
        h5_check(H5Aread(a, memory, &value), file_name, name);
        std::string out = value ? value : "";
        H5free_memory(value);
        return out;
    }
    std::size_t width = H5Tget_size(type);
    std::string out(width, '\0');
    h5_check(H5Aread(a, type, out.data()), file_name, name);
    out.resize(strnlen(out.c_str(), width));
    return out;
}

namespace {

H5Handle string_type(std::size_t width)
{
    H5Handle t(H5Tcopy(H5T_C_S1));
    H5Tset_size(t, std::max<std::size_t>(width, 1));
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    return t;
}

}  // namespace

void h5_write_attribute(hid_t location, const std::string& name, const AttributeValue& value)
{
    if (H5Aexists(location, name.c_str()) > 0) H5Adelete(location, name.c_str());
    H5Handle space(H5Screate(H5S_SCALAR));
    if (const auto* d = std::get_if<double>(&value)) {
        H5Handle a(h5_check(H5Acreate2(location, name.c_str(), H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT),
                            "results", "attribute " + name));
        h5_check(H5Awrite(a, H5T_NATIVE_DOUBLE, d), "results", "attribute " + name);
    } else if (const auto* i = std::get_if<std::int64_t>(&value)) {
        H5Handle a(h5_check(H5Acreate2(location, name.c_str(), H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT),
                            "results", "attribute " + name));
        h5_check(H5Awrite(a, H5T_NATIVE_INT64, i), "results", "attribute " + name);
    } else {
        // Variable-length UTF-8, which h5py reads as str (fixed-length strings come back as bytes).
        const auto& s = std::get<std::string>(value);
        H5Handle type(H5Tcopy(H5T_C_S1));
        H5Tset_size(type, H5T_VARIABLE);
        H5Tset_cset(type, H5T_CSET_UTF8);
        H5Handle a(h5_check(H5Acreate2(location, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                            "results", "attribute " + name));
        const char* text = s.c_str();
        h5_check(H5Awrite(a, type, &text), "results", "attribute " + name);
    }
}

H5Handle h5_ensure_group(hid_t file, const std::string& path)
{
    std::string partial;
    std::size_t start = 1;
    H5Handle group;
    while (start <= path.size()) {
        auto slash = path.find('/', start);
        partial = path.substr(0, slash);
        if (H5Lexists(file, partial.c_str(), H5P_DEFAULT) > 0) {
            group = H5Handle(h5_check(H5Gopen2(file, partial.c_str(), H5P_DEFAULT), "results", partial));
        } else {
            group = H5Handle(h5_check(H5Gcreate2(file, partial.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                      "results", "cannot create group " + partial));
        }
        if (slash == std::string::npos) break;
        start = slash + 1;
    }
    return group;
}

void h5_write_dataset(hid_t file, const std::string& group_path, const std::string& name,
                      const Dataset& dataset, const Comm& comm)
{
    auto group = h5_ensure_group(file, group_path);
    hsize_t global[1] = {static_cast<hsize_t>(dataset.global_size)};
    H5Handle file_space(H5Screate_simple(1, global, nullptr));

    H5Handle file_type, memory_type;
    const void* data = nullptr;
    std::size_t local_count = 0;
    std::vector<char> string_buffer;
    if (const auto* d = std::get_if<std::vector<double>>(&dataset.local)) {
        file_type = H5Handle(H5Tcopy(H5T_IEEE_F64LE));
        memory_type = H5Handle(H5Tcopy(H5T_NATIVE_DOUBLE));
        data = d->data();
        local_count = d->size();
    } else if (const auto* i = std::get_if<std::vector<std::int64_t>>(&dataset.local)) {
        file_type = H5Handle(H5Tcopy(H5T_STD_I64LE));
        memory_type = H5Handle(H5Tcopy(H5T_NATIVE_INT64));
        data = i->data();
        local_count = i->size();
    } else {
        // Fixed-length strings: parallel HDF5 cannot write variable-length data collectively.
        const auto& s = std::get<std::vector<std::string>>(dataset.local);
        double longest = 0;
        for (const auto& item : s) longest = std::max(longest, static_cast<double>(item.size()));
        auto width = static_cast<std::size_t>(comm.max(longest)) + 1;
        file_type = string_type(width);
        memory_type = string_type(width);
        string_buffer.assign(width * std::max<std::size_t>(s.size(), 1), '\0');
        for (std::size_t k = 0; k < s.size(); ++k) std::memcpy(&string_buffer[k * width], s[k].data(), s[k].size());
        data = string_buffer.data();
        local_count = s.size();
    }

    std::string full = group_path + "/" + name;
    H5Handle d(h5_check(H5Dcreate2(group, name.c_str(), file_type, file_space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                        "results", "cannot create dataset " + full));
    hsize_t start[1] = {static_cast<hsize_t>(dataset.offset)}, count[1] = {local_count};
    if (local_count > 0) {
        h5_check(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, count, nullptr), "results", full);
    } else {
        H5Sselect_none(file_space);  // still take part in the collective write
    }
    H5Handle memory_space(H5Screate_simple(1, count, nullptr));
    if (local_count == 0) H5Sselect_none(memory_space);
    H5Handle transfer(H5Pcreate(H5P_DATASET_XFER));
    H5Pset_dxpl_mpio(transfer, H5FD_MPIO_COLLECTIVE);
    h5_agree(H5Dwrite(d, memory_type, memory_space, file_space, transfer, data), comm, h5_file_name(d),
             "collective write of " + full);
    h5_record_collective_write(transfer, full);
    for (const auto& [attribute, value] : dataset.attributes) h5_write_attribute(d, attribute, value);
}

namespace {

CollectiveWrites& collective_writes()
{
    static CollectiveWrites counts;
    return counts;
}

std::string no_collective_causes(std::uint32_t cause)
{
    static const std::pair<std::uint32_t, const char*> kCauses[] = {
        {H5D_MPIO_SET_INDEPENDENT, "independent I/O was asked for"},
        {H5D_MPIO_DATATYPE_CONVERSION, "datatype conversion"},
        {H5D_MPIO_DATA_TRANSFORMS, "data transforms"},
        {H5D_MPIO_MPI_OPT_TYPES_ENV_VAR_DISABLED, "MPI derived types disabled"},
        {H5D_MPIO_NOT_SIMPLE_OR_SCALAR_DATASPACES, "not a simple or scalar dataspace"},
        {H5D_MPIO_NOT_CONTIGUOUS_OR_CHUNKED_DATASET, "neither contiguous nor chunked"},
    };
    std::string out;
    for (const auto& [bit, text] : kCauses)
        if (cause & bit) out += (out.empty() ? "" : ", ") + std::string(text);
    return out.empty() ? "cause " + std::to_string(cause) : out;
}

}  // namespace

void h5_record_collective_write(hid_t transfer, const std::string& dataset)
{
    std::uint32_t local_cause = 0, global_cause = 0;
    auto& counts = collective_writes();
    if (H5Pget_mpio_no_collective_cause(transfer, &local_cause, &global_cause) < 0) return;
    if (global_cause == H5D_MPIO_COLLECTIVE) {
        ++counts.collective;
    } else {
        if (counts.independent++ == 0) counts.first_independent = dataset + " (" + no_collective_causes(global_cause) + ")";
    }
}

const CollectiveWrites& h5_collective_writes() { return collective_writes(); }

bool h5_rows_read_back(hid_t file, const std::string& dataset, std::int64_t begin, const void* expected,
                       std::size_t count, hid_t memory_type)
{
    if (count == 0) return true;
    h5_silence_errors();
    const hid_t d = H5Dopen2(file, dataset.c_str(), H5P_DEFAULT);
    if (d < 0) {
        H5Eclear2(H5E_DEFAULT);
        return false;
    }
    H5Handle handle(d);
    H5Handle space(H5Dget_space(d));
    hsize_t start[1] = {static_cast<hsize_t>(begin)}, n[1] = {count};
    if (H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, n, nullptr) < 0) {
        H5Eclear2(H5E_DEFAULT);
        return false;
    }
    H5Handle memory(H5Screate_simple(1, n, nullptr));
    const std::size_t bytes = count * H5Tget_size(memory_type);
    std::vector<char> got(bytes);
    if (H5Dread(d, memory_type, memory, space, H5P_DEFAULT, got.data()) < 0) {
        H5Eclear2(H5E_DEFAULT);
        return false;
    }
    return std::memcmp(got.data(), expected, bytes) == 0;
}

void h5_verify_results(const std::string& path, const Results& results, const Comm& comm)
{
    // Reopened, so that what is compared comes from the file, not from HDF5's caches.
    h5_silence_errors();
    auto fapl = mpio_access(comm, path);
    const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
    H5Handle file(id);
    h5_agree(id < 0 ? -1 : 0, comm, path, "reading back the written file");
    bool ok = true;
    for (const auto& [group_path, group] : results.groups) {
        for (const auto& [name, dataset] : group.datasets) {
            const std::string full = group_path + "/" + name;
            if (const auto* d = std::get_if<std::vector<double>>(&dataset.local)) {
                ok = ok && h5_rows_read_back(file, full, dataset.offset, d->data(), d->size(), H5T_NATIVE_DOUBLE);
            } else if (const auto* i = std::get_if<std::vector<std::int64_t>>(&dataset.local)) {
                ok = ok && h5_rows_read_back(file, full, dataset.offset, i->data(), i->size(), H5T_NATIVE_INT64);
            }
        }
    }
    h5_agree(ok ? 0 : -1, comm, path, "reading back the written data (it differs from what was written)");
    h5_close_parallel(file, comm, path);
}

void h5_write_results(hid_t file, const Results& results, const Comm& comm)
{
    H5Handle root(h5_check(H5Gopen2(file, "/", H5P_DEFAULT), "results", "/"));
    for (const auto& [name, value] : results.root_attributes) h5_write_attribute(root, name, value);
    for (const auto& [path, group] : results.groups) {
        auto g = h5_ensure_group(file, path);
        for (const auto& [name, value] : group.attributes) h5_write_attribute(g, name, value);
        for (const auto& [name, dataset] : group.datasets) h5_write_dataset(file, path, name, dataset, comm);
    }
}

}  // namespace nusky

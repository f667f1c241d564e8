// libFuzzer target: the .npy header parser and array decoder (npy.hpp). Any byte string must
// parse or throw nusky::Error; the decoder must never read outside the buffer.
#include "nusky/npy.hpp"

#include "nusky/error.hpp"

#include <cstdint>
#include <cstdlib>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    // A copy of exactly `size` bytes, so that ASan sees any read past the end.
    std::vector<char> bytes(data, data + size);
    const char* p = bytes.empty() ? nullptr : bytes.data();
    try {
        auto h = nusky::parse_npy_header(p, size, "fuzz.npy", false);
        // The second half of the rows from whatever bytes follow the header, as an MPI rank
        // decodes its block (NpyFile::read): too few bytes must throw, never over-read.
        const std::size_t first = h.count / 2;
        auto block = nusky::decode_npy(h, p + h.data_offset, size - h.data_offset, first, h.count - first, "fuzz.npy");
        if (block.first_row != first || block.columns.size() != h.fields.size()) std::abort();
        for (const auto& column : block.columns) {
            if (static_cast<std::size_t>(column.size()) != h.count - first) std::abort();
        }
    } catch (const nusky::Error&) {
    }
    try {
        auto array = nusky::parse_npy(p, size, "fuzz.npy");
        if (array.columns.size() != array.names.size()) std::abort();
        for (const auto& column : array.columns) {
            if (static_cast<std::size_t>(column.size()) != array.count()) std::abort();
        }
    } catch (const nusky::Error&) {
    }
    return 0;
}

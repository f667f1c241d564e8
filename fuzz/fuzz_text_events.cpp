// libFuzzer target: the IceCube public-release text event parser (icecube_text.hpp), on a
// buffer that is a whole file (header allowed) and, with the first byte's low bit set, a
// mid-file MPI share (no header). Any input must parse or throw nusky::Error; never crash.
#include "readers/icecube_public/icecube_text.hpp"

#include "nusky/error.hpp"

#include <cmath>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const bool at_file_start = size == 0 || (data[0] & 1) == 0;
    try {
        auto ev = nusky::parse_events_buffer(reinterpret_cast<const char*>(data), size, "fuzz.csv",
                                             at_file_start ? 1 : 0, at_file_start);
        // What the parser promises about every accepted row.
        for (std::size_t i = 0; i < ev.size(); ++i) {
            const auto k = static_cast<Eigen::Index>(i);
            if (!(ev.sigma[k] > 0.0) || !std::isfinite(ev.mjd[k]) || !(std::abs(ev.dec[k]) <= 1.5708) ||
                !(ev.ra[k] >= 0.0 && ev.ra[k] <= 6.2832)) {
                std::abort();
            }
        }
    } catch (const nusky::Error&) {
    }
    return 0;
}

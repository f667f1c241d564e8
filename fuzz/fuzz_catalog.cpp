// libFuzzer target: the source-catalog parser (catalog.hpp parse_source_catalog).
#include "likelihood/common/catalog.hpp"

#include "nusky/error.hpp"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <numbers>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    std::string text(reinterpret_cast<const char*>(data), size);
    try {
        auto sources = nusky::parse_source_catalog(text, "fuzz.txt");
        if (sources.empty()) std::abort();
        for (const auto& s : sources) {
            if (!(s.ra >= 0.0 && s.ra < 2 * std::numbers::pi + 1e-12) ||
                !(std::abs(s.dec) <= std::numbers::pi / 2 + 1e-12) || !(s.weight > 0.0) ||
                !std::isfinite(s.weight) || s.name.empty()) {
                std::abort();
            }
        }
    } catch (const nusky::Error&) {
    }
    return 0;
}

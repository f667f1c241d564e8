// libFuzzer target: the INI config parser (Config::from_string) and what is done with a parsed
// config (text(), where(), check_all_used()). Input: INI text; after a NUL byte, the rest is
// one --set override.
#include "nusky/config.hpp"

#include "nusky/error.hpp"

#include <cstdint>
#include <cstring>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const char* text = reinterpret_cast<const char*>(data);
    const void* nul = std::memchr(text, '\0', size);
    std::size_t ini_size = nul ? static_cast<std::size_t>(static_cast<const char*>(nul) - text) : size;
    std::vector<std::string> overrides;
    if (nul) overrides.emplace_back(text + ini_size + 1, size - ini_size - 1);
    try {
        auto config = nusky::Config::from_string(std::string(text, ini_size), "fuzz.ini", overrides);
        std::string round_trip = config.text();
        for (const auto& section : nusky::Config::sections()) {
            (void)config.has_section(section);
            (void)config.take(section, "type");
            (void)config.where(section, "type");
        }
        config.check_all_used();
        // The text form must parse again (it is stored in results files and compared on resume).
        auto again = nusky::Config::from_string(round_trip, "round-trip.ini");
        (void)again;
    } catch (const nusky::Error&) {
    }
    return 0;
}

#pragma once
// A nusky plugin is a shared library with modules (NUSKY_REGISTER_MODULE, nusky/registry.hpp)
// and one version stamp, NUSKY_PLUGIN(), in exactly one of its sources. nusky_add_module() of
// the installed CMake package (find_package(nusky)) adds the stamp itself: write it yourself
// only when you build a plugin some other way.
//
// The stamp is both a string in the section .nusky_plugin ("nusky-plugin-version=X.Y.Z",
// `readelf -p .nusky_plugin libmine.so` shows it) and the function
//     extern "C" const char* nusky_plugin_version();   // returns NUSKY_VERSION
// The loader (nusky/plugins.hpp) reads the string from the file before it dlopens it, so a
// plugin built against another nusky version is refused before any of its code runs.
#include "nusky/registry.hpp"
#include "nusky/version.hpp"

#define NUSKY_PLUGIN_STAMP_PREFIX "nusky-plugin-version="

#define NUSKY_PLUGIN()                                                                      \
    extern "C" __attribute__((visibility("default"), used, section(".nusky_plugin")))      \
    const char nusky_plugin_stamp[] = NUSKY_PLUGIN_STAMP_PREFIX NUSKY_VERSION;              \
    extern "C" __attribute__((visibility("default"))) const char* nusky_plugin_version()  \
    {                                                                                       \
        return NUSKY_VERSION;                                                               \
    }

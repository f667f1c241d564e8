// `nusky plot`: PNG pictures of a results file, drawn by scripts/nusky-plot.py (matplotlib +
// healpy + h5py from Debian; see docs/user-guide.md). `nusky export-fits`: the /scan maps as
// HEALPix FITS files, written with libhealpix_cxx + cfitsio. Both work on rank 0 only.
#include "commands.hpp"

#include "nusky/chain.hpp"
#include "nusky/h5.hpp"
#include "nusky/mpi.hpp"

#include <fitshandle.h>
#include <healpix_map.h>
#include <healpix_map_fitsio.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

extern char** environ;

namespace fs = std::filesystem;

namespace nusky {
namespace {

// Splits "FILE... --out DIR [other options]" into files, the output directory and the rest.
struct PlotArguments {
    std::vector<std::string> files, rest;
    std::string out;
};

PlotArguments parse(const std::vector<std::string>& args, const char* command)
{
    PlotArguments p;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const auto& a = args[i];
        if (a == "--out") {
            if (i + 1 == args.size()) throw UsageError(std::string(command) + ": --out needs a directory");
            p.out = args[++i];
        } else if (a.rfind("--out=", 0) == 0) {
            p.out = a.substr(6);
        } else if (a.rfind("--", 0) == 0) {
            p.rest.push_back(a);
        } else {
            p.files.push_back(a);
        }
    }
    if (p.files.empty()) throw UsageError(std::string(command) + ": missing RESULTS.h5");
    if (p.out.empty()) throw UsageError(std::string(command) + ": missing --out DIR");
    return p;
}

// scripts/nusky-plot.py: $NUSKY_PLOT_SCRIPT, the installed copy, or the source tree's.
std::string plot_script()
{
    std::vector<std::string> places;
    if (const char* env = std::getenv("NUSKY_PLOT_SCRIPT"); env && *env) places.push_back(env);
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) places.push_back((exe.parent_path().parent_path() / "share" / "nusky" / "nusky-plot.py").string());
#ifdef NUSKY_SOURCE_DIR
    places.push_back((fs::path(NUSKY_SOURCE_DIR) / "scripts" / "nusky-plot.py").string());
#endif
    std::string looked;
    for (const auto& p : places) {
        if (fs::is_regular_file(p, ec)) return p;
        looked += (looked.empty() ? "" : ", ") + p;
    }
    throw Error("plot: scripts/nusky-plot.py not found (searched: " + looked + "; set NUSKY_PLOT_SCRIPT)");
}

int plot_command(const std::vector<std::string>& args, const Comm& comm)
{
    auto p = parse(args, "plot");
    int code = 0;
    collective_step(comm, [&] {
        if (!comm.is_root()) return;
        std::string python = "/usr/bin/python3";
        if (const char* env = std::getenv("NUSKY_PYTHON"); env && *env) python = env;
        std::vector<std::string> argv_text{python, plot_script()};
        argv_text.insert(argv_text.end(), p.files.begin(), p.files.end());
        argv_text.push_back("--out");
        argv_text.push_back(p.out);
        argv_text.insert(argv_text.end(), p.rest.begin(), p.rest.end());
        std::vector<char*> argv;
        for (auto& a : argv_text) argv.push_back(a.data());
        argv.push_back(nullptr);
        pid_t pid = 0;
        if (int rc = ::posix_spawn(&pid, python.c_str(), nullptr, nullptr, argv.data(), environ); rc != 0) {
            throw Error("plot: cannot run " + python + ": " + std::strerror(rc) +
                        " (Debian: scripts/install-deps --plots)");
        }
        int status = 0;
        ::waitpid(pid, &status, 0);
        code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    });
    return comm.max(code);
}

// The FITS column of each /scan map: its name and unit (TTYPE1, TUNIT1).
struct FitsColumn {
    const char* dataset;
    const char* column;
    const char* unit;
    const char* what;
};
constexpr FitsColumn kScanColumns[] = {
    {"mlog10p", "MLOG10P", "-log10(p)", "-log10 local p-value"},
    {"ts", "TS", "", "test statistic"},
    {"ns", "NS", "events", "fitted number of signal events"},
    {"gamma", "GAMMA", "", "fitted spectral index, E^-gamma"},
};

void write_fits_map(const std::string& path, int nside, const std::vector<double>& values, const FitsColumn& column)
{
    const std::string name = column.dataset;
    Healpix_Map<double> map(nside, RING, SET_NSIDE);
    if (static_cast<std::int64_t>(values.size()) != map.Npix()) {
        throw Error(path + ": " + name + " has " + std::to_string(values.size()) + " pixels, nside " +
                    std::to_string(nside) + " needs " + std::to_string(map.Npix()));
    }
    for (std::size_t i = 0; i < values.size(); ++i) {
        map[static_cast<int>(i)] = std::isfinite(values[i]) ? values[i] : Healpix_undef;
    }
    std::error_code ec;
    fs::remove(path, ec);
    fitshandle out;
    out.create(path);
    arr<std::string> names(1);
    names[0] = column.column;
    prepare_Healpix_fitsmap(out, map, PLANCK_FLOAT64, names);
    out.write_column(1, map.Map());
    out.set_key("TUNIT1", std::string(column.unit), column.what);
    out.set_key("COORDSYS", std::string("C"), "equatorial (celestial) coordinates");
    out.set_key("EXTNAME", std::string(name), "nusky /scan dataset");
    out.set_key("CREATOR", std::string("nusky " NUSKY_VERSION), "");
}

int export_fits_command(const std::vector<std::string>& args, const Comm& comm)
{
    auto p = parse(args, "export-fits");
    if (!p.rest.empty()) throw UsageError("export-fits: unknown option " + p.rest[0]);
    if (p.files.size() != 1) throw UsageError("export-fits: give one RESULTS.h5");
    collective_step(comm, [&] {
        if (!comm.is_root()) return;
        const auto& path = p.files[0];
        h5_silence_errors();
        if (!fs::is_regular_file(path)) throw Error(path + ": no such file");
        auto file = h5_open_serial(path);
        if (!h5_exists(file, "/scan")) throw Error(path + ": no /scan group (run a task = scan job)");
        int nside = static_cast<int>(h5_read_int64_attribute(file, path, "/scan", "NSIDE"));
        auto ordering = h5_read_string_attribute(file, path, "/scan", "ORDERING");
        if (ordering != "RING") throw Error(path + ": /scan ORDERING is " + ordering + ", expected RING");
        fs::create_directories(p.out);
        for (const FitsColumn& column : kScanColumns) {
            const std::string name = column.dataset;
            std::string dataset = "/scan/" + name;
            if (!h5_exists(file, dataset)) continue;
            auto n = h5_dataset_length(file, path, dataset);
            auto values = h5_read_doubles(file, path, dataset, 0, n);
            auto out = (fs::path(p.out) / (std::string("scan_") + name + ".fits")).string();
            try {
                write_fits_map(out, nside, values, column);
            } catch (const PlanckError& e) {
                throw Error(out + ": " + e.what());
            }
            std::printf("wrote %s (nside %d, %s)\n", out.c_str(), nside, name.c_str());
        }
    });
    return 0;
}

const bool registered = [] {
    register_command({"plot", plot_command});
    register_command({"export-fits", export_fits_command});
    return true;
}();

}  // namespace
}  // namespace nusky

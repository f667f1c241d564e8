#pragma once
// Fast readers of the IceCube public point-source release text formats (2008-2018 release):
//
//   events/<season>_exp.csv           MJD log10(E/GeV) AngErr[deg] RA[deg] Dec[deg] Azimuth[deg] Zenith[deg]
//   uptime/<season>_exp.csv           MJD_start MJD_stop
//   irfs/<season>_effectiveArea.csv   log10Emin log10Emax Dec_min[deg] Dec_max[deg] A_eff[cm^2]
//
// Whitespace, tab or comma separated, LF or CRLF line ends, one optional header line. A first line whose first field is
// not a number is the header (both "# MJD[days] ..." and the redistribution's "MJD[days] ..."
// styles); '#' lines elsewhere are comments, blank lines are skipped. Every other line must have
// exactly the format's column count of finite numbers, or nusky::Error "path:line: what" is thrown.
// AngErr below the floor (0.00 of releases rounded to 0.1 deg included) is raised to it and
// counted; a negative AngErr is an error.
//
// The parser works on a memory buffer (the file, or one MPI rank's share of it, read at once) with
// std::from_chars; no per-line streams. For MPI, byte_share(path, rank, size) splits a file into
// line-aligned byte ranges; a rank parses only its range, and error messages still carry the
// global line number (newlines before the range are counted only when an error is reported).
// A rank's first global row is the exclusive prefix sum of the row counts of the lower ranks.
#include <Eigen/Core>

#include <cstddef>
#include <string>
#include <vector>

namespace nusky {

// Reconstructed events, angles in radians.
struct IceCubeEvents {
    Eigen::ArrayXd mjd;           // days
    Eigen::ArrayXd log10_energy;  // log10(E/GeV)
    Eigen::ArrayXd sigma;         // angular uncertainty, floored at sigma_floor
    Eigen::ArrayXd ra;            // [0, 2 pi]
    Eigen::ArrayXd dec;           // [-pi/2, pi/2]
    Eigen::ArrayXd azimuth;
    Eigen::ArrayXd zenith;
    std::size_t raised_to_floor = 0;  // rows whose AngErr was below the floor (0.00 included)

    std::size_t size() const { return static_cast<std::size_t>(mjd.size()); }
    // Appends other's rows (season concatenation).
    void append(const IceCubeEvents& other);
};

// Good-run list of one season.
struct Uptime {
    Eigen::ArrayXd mjd_start, mjd_stop;  // days
    double livetime_s = 0.0;             // sum over runs of (stop - start) * 86400
    std::size_t size() const { return static_cast<std::size_t>(mjd_start.size()); }
};

// Effective area on a (true log10 E, true dec) grid.
struct EffectiveAreaTable {
    Eigen::ArrayXd log10_energy_edges;  // n_e + 1, increasing
    Eigen::ArrayXd dec_edges;           // n_dec + 1, radians, increasing
    Eigen::ArrayXXd aeff;               // n_e x n_dec, cm^2
    // A_eff at (log10 E, dec); 0 outside the grid.
    double lookup(double log10_energy, double dec) const;
};

// A byte range [begin, end) of a file, aligned to line starts.
struct ByteRange {
    std::size_t begin = 0;
    std::size_t end = 0;
};

inline constexpr double kDefaultSigmaFloorDeg = 0.2;

// Share `rank` of `size` of the file: the lines whose first byte lies in
// [file_size * rank / size, file_size * (rank + 1) / size). The shares of all ranks are
// disjoint, cover the file, and start at line starts. Reads only a few bytes around the cuts.
ByteRange byte_share(const std::string& path, int rank, int size);

// Number of '\n' in the file's bytes [0, offset) (the 0-based line index of the line that
// starts at offset when offset is a line start).
std::size_t count_newlines(const std::string& path, std::size_t offset);

// Number of data rows (non-blank, non-comment, non-header lines) in the whole file; no parsing.
std::size_t count_data_lines(const std::string& path);

// Events of a whole file, or of one byte range of it (from byte_share). Throws nusky::Error.
IceCubeEvents read_events(const std::string& path, double sigma_floor_deg = kDefaultSigmaFloorDeg);
IceCubeEvents read_events(const std::string& path, ByteRange range,
                          double sigma_floor_deg = kDefaultSigmaFloorDeg);
// Convenience: rank's share of the file.
IceCubeEvents read_events_share(const std::string& path, int rank, int size,
                                double sigma_floor_deg = kDefaultSigmaFloorDeg);

Uptime read_uptime(const std::string& path);
EffectiveAreaTable read_effective_area(const std::string& path);

// Parses events from a memory buffer. `path` is for messages; `first_line` is the 1-based line
// number of data[0]; `at_file_start` allows a header line. Exposed for tests and for callers
// that read the bytes themselves (e.g. MPI-IO).
IceCubeEvents parse_events_buffer(const char* data, std::size_t size, const std::string& path,
                                  std::size_t first_line, bool at_file_start,
                                  double sigma_floor_deg = kDefaultSigmaFloorDeg);

// ---- seasons of a release directory ----
struct SeasonFiles {
    std::string season;
    std::string events;          // <dir>/events/<season>_exp.csv
    std::string uptime;          // <dir>/uptime/<season>_exp.csv
    std::string effective_area;  // <dir>/irfs/<season>_effectiveArea.csv
};

SeasonFiles season_files(const std::string& release_dir, const std::string& season);

// `path` is either one events file (seasons must then be empty; the season is named after the
// file) or a release directory with a non-empty season list. Checks that the files exist.
std::vector<SeasonFiles> resolve_seasons(const std::string& path,
                                         const std::vector<std::string>& seasons);

struct Season {  // one season of a release
    SeasonFiles files;
    IceCubeEvents events;
    Uptime uptime;               // empty (livetime 0) when a single events file has no uptime
    EffectiveAreaTable effective_area;  // empty when not available
};

// Reads every season (events, and uptime and effective area when the release layout has them).
std::vector<Season> read_seasons(const std::string& path, const std::vector<std::string>& seasons,
                                 double sigma_floor_deg = kDefaultSigmaFloorDeg);

}  // namespace nusky

#include "readers/icecube_public/icecube_text.hpp"

#include "nusky/error.hpp"
#include "nusky/input_file.hpp"
#include "nusky/text_table.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fcntl.h>
#include <numbers>
#include <sys/stat.h>
#include <unistd.h>

namespace nusky {

namespace {

constexpr double kDeg = std::numbers::pi / 180.0;

// ---- raw file access (POSIX, whole buffers) ----

class File {
public:
    explicit File(const std::string& path) : path_(path)
    {
        require_input_file(path, "a file");
        fd_ = ::open(path.c_str(), O_RDONLY);
        if (fd_ < 0) {
            throw file_error(path, 0, std::string("cannot open for reading: ") + std::strerror(errno));
        }
        struct stat st {};
        if (::fstat(fd_, &st) != 0) {
            ::close(fd_);
            throw file_error(path, 0, "cannot stat");
        }
        size_ = static_cast<std::size_t>(st.st_size);
    }
    ~File() { ::close(fd_); }
    File(const File&) = delete;
    File& operator=(const File&) = delete;

    std::size_t size() const { return size_; }

    // Reads [begin, end) (clamped to the file) into out.
    void read(std::size_t begin, std::size_t end, std::string& out) const
    {
        end = std::min(end, size_);
        begin = std::min(begin, end);
        out.resize(end - begin);
        std::size_t done = 0;
        while (done < out.size()) {
            ssize_t n = ::pread(fd_, out.data() + done, out.size() - done,
                                static_cast<off_t>(begin + done));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) throw file_error(path_, 0, "read error");
            done += static_cast<std::size_t>(n);
        }
    }

    // Smallest line start >= b.
    std::size_t align(std::size_t b) const
    {
        if (b == 0) return 0;
        if (b >= size_) return size_;
        std::string chunk;
        std::size_t pos = b - 1;  // a '\n' at b-1 makes b itself a line start
        constexpr std::size_t kChunk = 1 << 16;
        while (pos < size_) {
            read(pos, pos + kChunk, chunk);
            const void* nl = std::memchr(chunk.data(), '\n', chunk.size());
            if (nl) return pos + static_cast<std::size_t>(static_cast<const char*>(nl) - chunk.data()) + 1;
            pos += chunk.size();
        }
        return size_;
    }

    std::size_t newlines_before(std::size_t offset) const
    {
        offset = std::min(offset, size_);
        std::size_t count = 0;
        std::string chunk;
        constexpr std::size_t kChunk = 1 << 22;
        for (std::size_t pos = 0; pos < offset; pos += kChunk) {
            read(pos, std::min(offset, pos + kChunk), chunk);
            count += static_cast<std::size_t>(std::count(chunk.begin(), chunk.end(), '\n'));
        }
        return count;
    }

private:
    std::string path_;
    int fd_ = -1;
    std::size_t size_ = 0;
};

std::string read_whole(const std::string& path)
{
    File f(path);
    std::string buf;
    f.read(0, f.size(), buf);
    return buf;
}

// ---- the line scanner ----

inline bool is_sep(char c) { return c == ' ' || c == '\t' || c == ',' || c == '\r'; }

struct Field {
    const char* begin;
    const char* end;
};

// Splits [p, line_end) into at most max_fields fields; returns the total field count
// (which may exceed max_fields; only the first max_fields are stored).
inline int split(const char* p, const char* line_end, Field* fields, int max_fields)
{
    int n = 0;
    while (true) {
        while (p < line_end && is_sep(*p)) ++p;
        if (p == line_end) return n;
        const char* b = p;
        while (p < line_end && !is_sep(*p)) ++p;
        if (n < max_fields) fields[n] = {b, p};
        ++n;
    }
}

inline bool is_blank(const char* p, const char* e)
{
    for (; p < e; ++p) {
        if (!(*p == ' ' || *p == '\t' || *p == '\r')) return false;
    }
    return true;
}


// A first line is a plain header when none of its (first 8) fields is a number; a first line
// with a number in it is a row, never dropped (a bad value in it is an error).
inline bool is_plain_header(const char* s, const char* line_end)
{
    Field fields[8];
    const int n = std::min(split(s, line_end, fields, 8), 8);
    double v;
    for (int i = 0; i < n; ++i)
        if (parse_double(fields[i].begin, fields[i].end, v, true)) return false;
    return n > 0;  // (a line of separators only, such as ",,,", has no field to look at)
}

inline const char* first_non_space(const char* p, const char* e)
{
    while (p < e && (*p == ' ' || *p == '\t')) ++p;
    return p;
}

struct ScanContext {
    const std::string& path;
    // Global 1-based line number of the buffer's first line; computed on first use (errors only).
    std::size_t first_line;
    const File* file = nullptr;      // for lazy line numbers of a byte range
    std::size_t range_begin = 0;

    std::size_t line(std::size_t local_index)
    {
        if (first_line == 0) first_line = (file ? file->newlines_before(range_begin) : 0) + 1;
        return first_line + local_index;
    }
};

// Calls on_row(values, error) for each data line; on_row returns false with error set to reject.
// Column names are used in messages.
template <int N, class OnRow>
void scan(const char* data, std::size_t size, ScanContext& ctx, bool at_file_start,
          const char* const (&names)[N], OnRow&& on_row)
{
    const char* p = data;
    const char* end = data + size;
    std::size_t local = 0;
    bool first = at_file_start;
    Field fields[N];
    double values[N];
    std::string error;
    for (; p < end; ++local) {
        const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
        const char* line_end = nl ? nl : end;
        const char* line = p;
        p = nl ? nl + 1 : end;
        if (first) line = skip_utf8_bom(line, line_end);
        if (is_blank(line, line_end)) continue;
        const char* s = first_non_space(line, line_end);
        if (*s == '#') {
            first = false;
            continue;  // header in the official style, or a comment
        }
        int n = split(s, line_end, fields, N);
        if (first) {
            first = false;
            if (is_plain_header(s, line_end)) continue;
        }
        if (n != N) {
            throw file_error(ctx.path, static_cast<long>(ctx.line(local)),
                             "expected " + std::to_string(N) + " columns, found " + std::to_string(n));
        }
        for (int i = 0; i < N; ++i) {
            if (!parse_double(fields[i].begin, fields[i].end, values[i])) {
                throw file_error(ctx.path, static_cast<long>(ctx.line(local)),
                                 "column " + std::to_string(i + 1) + " (" + names[i] + "): '" +
                                     std::string(fields[i].begin, fields[i].end) +
                                     "' is not a finite number");
            }
        }
        if (!on_row(values, error)) {
            throw file_error(ctx.path, static_cast<long>(ctx.line(local)), error);
        }
    }
}

std::size_t upper_bound_rows(const char* data, std::size_t size)
{
    return static_cast<std::size_t>(std::count(data, data + size, '\n')) + 1;
}

std::string fmt(double v)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

constexpr const char* kEventColumns[7] = {"MJD",     "log10(E/GeV)", "AngErr[deg]", "RA[deg]",
                                          "Dec[deg]", "Azimuth[deg]", "Zenith[deg]"};
constexpr const char* kUptimeColumns[2] = {"MJD_start", "MJD_stop"};
constexpr const char* kAeffColumns[5] = {"log10Emin", "log10Emax", "Dec_min[deg]", "Dec_max[deg]",
                                         "A_eff[cm^2]"};

IceCubeEvents parse_events_impl(const char* data, std::size_t size, ScanContext& ctx,
                                bool at_file_start, double sigma_floor_deg)
{
    std::size_t cap = size ? upper_bound_rows(data, size) : 0;
    IceCubeEvents ev;
    ev.mjd.resize(cap);
    ev.log10_energy.resize(cap);
    ev.sigma.resize(cap);
    ev.ra.resize(cap);
    ev.dec.resize(cap);
    ev.azimuth.resize(cap);
    ev.zenith.resize(cap);
    const double floor_rad = sigma_floor_deg * kDeg;
    Eigen::Index n = 0;
    scan(data, size, ctx, at_file_start, kEventColumns, [&](const double* v, std::string& err) {
        // Releases that round AngErr to 0.1 deg have rows of 0.00: the floor raises them (and
        // any value below it) and they are counted; a negative value is an error.
        if (std::signbit(v[2])) {  // -0.00 too: a negative value rounded
            err = "AngErr " + fmt(v[2]) + " deg is negative";
            return false;
        }
        if (!(v[2] > 0.0) && !(floor_rad > 0.0)) {
            err = "AngErr 0 deg and no floor to raise it to (set angerr_floor_deg > 0)";
            return false;
        }
        if (v[3] < 0.0 || v[3] > 360.0) {
            err = "RA " + fmt(v[3]) + " deg outside [0, 360]";
            return false;
        }
        if (v[4] < -90.0 || v[4] > 90.0) {
            err = "Dec " + fmt(v[4]) + " deg outside [-90, 90]";
            return false;
        }
        if (v[5] < 0.0 || v[5] > 360.0) {
            err = "Azimuth " + fmt(v[5]) + " deg outside [0, 360]";
            return false;
        }
        if (v[6] < 0.0 || v[6] > 180.0) {
            err = "Zenith " + fmt(v[6]) + " deg outside [0, 180]";
            return false;
        }
        ev.mjd[n] = v[0];
        ev.log10_energy[n] = v[1];
        const double sigma = v[2] * kDeg;
        if (sigma < floor_rad) ++ev.raised_to_floor;
        ev.sigma[n] = std::max(sigma, floor_rad);
        ev.ra[n] = v[3] * kDeg;
        ev.dec[n] = v[4] * kDeg;
        ev.azimuth[n] = v[5] * kDeg;
        ev.zenith[n] = v[6] * kDeg;
        ++n;
        return true;
    });
    ev.mjd.conservativeResize(n);
    ev.log10_energy.conservativeResize(n);
    ev.sigma.conservativeResize(n);
    ev.ra.conservativeResize(n);
    ev.dec.conservativeResize(n);
    ev.azimuth.conservativeResize(n);
    ev.zenith.conservativeResize(n);
    return ev;
}

void require_rows(const std::string& path, std::size_t rows)
{
    if (rows == 0) throw file_error(path, 0, "no data rows (empty file?)");
}

}  // namespace

void IceCubeEvents::append(const IceCubeEvents& o)
{
    auto cat = [](Eigen::ArrayXd& a, const Eigen::ArrayXd& b) {
        Eigen::Index n = a.size();
        a.conservativeResize(n + b.size());
        a.segment(n, b.size()) = b;
    };
    cat(mjd, o.mjd);
    cat(log10_energy, o.log10_energy);
    cat(sigma, o.sigma);
    cat(ra, o.ra);
    cat(dec, o.dec);
    cat(azimuth, o.azimuth);
    cat(zenith, o.zenith);
    raised_to_floor += o.raised_to_floor;
}

double EffectiveAreaTable::lookup(double log10_energy, double dec) const
{
    const auto& e = log10_energy_edges;
    const auto& d = dec_edges;
    if (e.size() < 2 || d.size() < 2) return 0.0;
    if (!(log10_energy >= e[0] && log10_energy <= e[e.size() - 1])) return 0.0;
    if (!(dec >= d[0] && dec <= d[d.size() - 1])) return 0.0;
    auto bin = [](const Eigen::ArrayXd& edges, double x) {
        auto it = std::upper_bound(edges.data(), edges.data() + edges.size(), x);
        Eigen::Index i = static_cast<Eigen::Index>(it - edges.data()) - 1;
        return std::clamp<Eigen::Index>(i, 0, edges.size() - 2);
    };
    return aeff(bin(e, log10_energy), bin(d, dec));
}

ByteRange byte_share(const std::string& path, int rank, int size)
{
    if (size < 1 || rank < 0 || rank >= size) {
        throw Error("byte_share: rank " + std::to_string(rank) + " of " + std::to_string(size));
    }
    File f(path);
    auto nominal = [&](int r) {
        return static_cast<std::size_t>(static_cast<unsigned __int128>(f.size()) *
                                        static_cast<unsigned>(r) / static_cast<unsigned>(size));
    };
    return {f.align(nominal(rank)), f.align(nominal(rank + 1))};
}

std::size_t count_newlines(const std::string& path, std::size_t offset)
{
    File f(path);
    return f.newlines_before(offset);
}

std::size_t count_data_lines(const std::string& path)
{
    std::string buf = read_whole(path);
    const char* p = buf.data();
    const char* end = p + buf.size();
    std::size_t rows = 0;
    bool first = true;
    while (p < end) {
        const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
        const char* line_end = nl ? nl : end;
        const char* s = first_non_space(first ? skip_utf8_bom(p, line_end) : p, line_end);
        p = nl ? nl + 1 : end;
        if (is_blank(s, line_end)) continue;
        if (*s == '#') {
            first = false;
            continue;
        }
        if (first) {
            first = false;
            if (is_plain_header(s, line_end)) continue;
        }
        ++rows;
    }
    return rows;
}

IceCubeEvents parse_events_buffer(const char* data, std::size_t size, const std::string& path,
                                  std::size_t first_line, bool at_file_start, double sigma_floor_deg)
{
    ScanContext ctx{path, first_line};
    return parse_events_impl(data, size, ctx, at_file_start, sigma_floor_deg);
}

IceCubeEvents read_events(const std::string& path, double sigma_floor_deg)
{
    std::string buf = read_whole(path);
    ScanContext ctx{path, 1};
    IceCubeEvents ev = parse_events_impl(buf.data(), buf.size(), ctx, true, sigma_floor_deg);
    require_rows(path, ev.size());
    return ev;
}

IceCubeEvents read_events(const std::string& path, ByteRange range, double sigma_floor_deg)
{
    File f(path);
    if (f.size() == 0) throw file_error(path, 0, "empty file");
    std::string buf;
    f.read(range.begin, range.end, buf);
    ScanContext ctx{path, range.begin == 0 ? std::size_t{1} : std::size_t{0}, &f, range.begin};
    return parse_events_impl(buf.data(), buf.size(), ctx, range.begin == 0, sigma_floor_deg);
}

IceCubeEvents read_events_share(const std::string& path, int rank, int size, double sigma_floor_deg)
{
    return read_events(path, byte_share(path, rank, size), sigma_floor_deg);
}

Uptime read_uptime(const std::string& path)
{
    std::string buf = read_whole(path);
    std::vector<double> start, stop;
    start.reserve(upper_bound_rows(buf.data(), buf.size()));
    stop.reserve(start.capacity());
    ScanContext ctx{path, 1};
    double livetime_days = 0.0;
    scan(buf.data(), buf.size(), ctx, true, kUptimeColumns, [&](const double* v, std::string& err) {
        if (v[1] < v[0]) {
            err = "MJD_stop " + fmt(v[1]) + " before MJD_start " + fmt(v[0]);
            return false;
        }
        start.push_back(v[0]);
        stop.push_back(v[1]);
        livetime_days += v[1] - v[0];
        return true;
    });
    require_rows(path, start.size());
    Uptime up;
    up.mjd_start = Eigen::Map<Eigen::ArrayXd>(start.data(), static_cast<Eigen::Index>(start.size()));
    up.mjd_stop = Eigen::Map<Eigen::ArrayXd>(stop.data(), static_cast<Eigen::Index>(stop.size()));
    up.livetime_s = livetime_days * 86400.0;
    return up;
}

EffectiveAreaTable read_effective_area(const std::string& path)
{
    std::string buf = read_whole(path);
    struct Row {
        double e0, e1, d0, d1, a;
        std::size_t line;
    };
    std::vector<Row> rows;
    ScanContext ctx{path, 1};
    scan(buf.data(), buf.size(), ctx, true, kAeffColumns, [&](const double* v, std::string& err) {
        if (!(v[1] > v[0])) {
            err = "energy bin [" + fmt(v[0]) + ", " + fmt(v[1]) + "] is empty or reversed";
            return false;
        }
        if (!(v[3] > v[2]) || v[2] < -90.0 || v[3] > 90.0) {
            err = "declination bin [" + fmt(v[2]) + ", " + fmt(v[3]) + "] deg is invalid";
            return false;
        }
        if (v[4] < 0.0) {
            err = "negative effective area " + fmt(v[4]);
            return false;
        }
        rows.push_back({v[0], v[1], v[2], v[3], v[4], 0});
        return true;
    });
    require_rows(path, rows.size());
    std::vector<double> e_edges, d_edges;
    for (const auto& r : rows) {
        e_edges.push_back(r.e0);
        e_edges.push_back(r.e1);
        d_edges.push_back(r.d0);
        d_edges.push_back(r.d1);
    }
    auto uniq = [](std::vector<double>& v) {
        std::sort(v.begin(), v.end());
        v.erase(std::unique(v.begin(), v.end()), v.end());
    };
    uniq(e_edges);
    uniq(d_edges);
    const std::size_t ne = e_edges.size() - 1, nd = d_edges.size() - 1;
    if (rows.size() != ne * nd) {
        throw file_error(path, 0,
                         "effective-area rows (" + std::to_string(rows.size()) +
                             ") do not form a complete grid of " + std::to_string(ne) +
                             " energy x " + std::to_string(nd) + " declination bins");
    }
    EffectiveAreaTable t;
    t.log10_energy_edges = Eigen::Map<Eigen::ArrayXd>(e_edges.data(), static_cast<Eigen::Index>(e_edges.size()));
    t.dec_edges.resize(static_cast<Eigen::Index>(d_edges.size()));
    for (std::size_t i = 0; i < d_edges.size(); ++i) t.dec_edges[static_cast<Eigen::Index>(i)] = d_edges[i] * kDeg;
    t.aeff = Eigen::ArrayXXd::Constant(static_cast<Eigen::Index>(ne), static_cast<Eigen::Index>(nd), -1.0);
    for (const auto& r : rows) {
        auto ie = std::lower_bound(e_edges.begin(), e_edges.end(), r.e0) - e_edges.begin();
        auto id = std::lower_bound(d_edges.begin(), d_edges.end(), r.d0) - d_edges.begin();
        if (e_edges[static_cast<std::size_t>(ie) + 1] != r.e1 || d_edges[static_cast<std::size_t>(id) + 1] != r.d1 ||
            t.aeff(ie, id) >= 0.0) {
            throw file_error(path, 0,
                             "effective-area bin log10E [" + fmt(r.e0) + ", " + fmt(r.e1) + "] dec [" +
                                 fmt(r.d0) + ", " + fmt(r.d1) +
                                 "] overlaps another bin or is listed twice");
        }
        t.aeff(ie, id) = r.a;
    }
    return t;
}

SeasonFiles season_files(const std::string& release_dir, const std::string& season)
{
    std::filesystem::path dir(release_dir);
    return {season, (dir / "events" / (season + "_exp.csv")).string(),
            (dir / "uptime" / (season + "_exp.csv")).string(),
            (dir / "irfs" / (season + "_effectiveArea.csv")).string()};
}

std::vector<SeasonFiles> resolve_seasons(const std::string& path, const std::vector<std::string>& seasons)
{
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
        if (ec) require_input_file(path, "an events file or a release directory");  // e.g. a link loop
        throw file_error(path, 0, "does not exist");
    }
    std::vector<SeasonFiles> out;
    if (std::filesystem::is_directory(path, ec)) {
        if (seasons.empty()) {
            throw file_error(path, 0, "is a release directory; give the seasons to read (IC40, IC59, ...)");
        }
        for (const auto& s : seasons) {
            SeasonFiles f = season_files(path, s);
            if (!std::filesystem::is_regular_file(f.events, ec)) {
                throw file_error(f.events, 0, "season " + s + ": events file not found");
            }
            out.push_back(std::move(f));
        }
        return out;
    }
    if (!seasons.empty()) {
        throw file_error(path, 0, "is a single events file; seasons are only for a release directory");
    }
    // A file inside a release layout (<dir>/events/<season>_exp.csv) brings its season's
    // uptime and effective area along when they exist.
    std::filesystem::path p(path);
    std::string stem = p.stem().string();
    SeasonFiles f;
    f.season = stem.size() > 4 && stem.ends_with("_exp") ? stem.substr(0, stem.size() - 4) : stem;
    f.events = path;
    if (p.parent_path().filename() == "events") {
        SeasonFiles sibling = season_files(p.parent_path().parent_path().string(), f.season);
        if (std::filesystem::is_regular_file(sibling.uptime, ec)) f.uptime = sibling.uptime;
        if (std::filesystem::is_regular_file(sibling.effective_area, ec)) f.effective_area = sibling.effective_area;
    }
    out.push_back(std::move(f));
    return out;
}

std::vector<Season> read_seasons(const std::string& path, const std::vector<std::string>& seasons,
                                 double sigma_floor_deg)
{
    std::vector<Season> out;
    for (auto& files : resolve_seasons(path, seasons)) {
        Season s;
        s.events = read_events(files.events, sigma_floor_deg);
        std::error_code ec;
        if (!files.uptime.empty() && std::filesystem::exists(files.uptime, ec)) {
            s.uptime = read_uptime(files.uptime);
        }
        if (!files.effective_area.empty() && std::filesystem::exists(files.effective_area, ec)) {
            s.effective_area = read_effective_area(files.effective_area);
        }
        s.files = std::move(files);
        out.push_back(std::move(s));
    }
    return out;
}

}  // namespace nusky

#include "likelihood/template/template_likelihood.hpp"

#include "likelihood/common/flux.hpp"
#include "likelihood/common/inject.hpp"
#include "likelihood/common/joint_fit.hpp"
#include "likelihood/template/template_injection.hpp"
#include "nusky/npy.hpp"
#include "nusky/data_dir.hpp"
#include "nusky/error.hpp"
#include "nusky/input_file.hpp"
#include "nusky/h5.hpp"
#include "nusky/log.hpp"
#include "nusky/registry.hpp"
#include "nusky/rng.hpp"
#include "nusky/stages.hpp"

#include <error_handling.h>
#include <healpix_map.h>
#include <healpix_map_fitsio.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <numbers>

namespace nusky {

namespace {

bool ends_with(const std::string& s, const std::string& suffix)
{
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Eigen::ArrayXd read_template_map(const std::string& path, const std::string& hdf5_dataset)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::exists(path, ec) && !ec) throw Error(path + ": no such template file");
    if (fs::is_directory(path, ec)) throw Error(path + ": is a directory, expected a HEALPix map");
    require_input_file(path, "a HEALPix map");
    Eigen::ArrayXd map;
    if (ends_with(path, ".npy")) {
        map = read_healpix_map_npy(path);
    } else if (ends_with(path, ".fits") || ends_with(path, ".fits.gz") || ends_with(path, ".fit")) {
        Healpix_Map<double> hp;
        try {
            read_Healpix_map_from_fits(path, hp, 1, 2);
        } catch (const std::exception& e) {
            throw Error(path + ": cannot read a HEALPix FITS map: " + e.what());
        } catch (const PlanckError& e) {  // HEALPix's own error type is not a std::exception
            throw Error(path + ": cannot read a HEALPix FITS map: " + e.what());
        }
        if (hp.Scheme() == NEST) hp.swap_scheme();
        map = Eigen::Map<const Eigen::ArrayXd>(&hp.Map()[0], hp.Npix());
    } else if (is_hdf5_file(path)) {
        auto file = h5_open_serial(path);
        auto n = h5_dataset_length(file, path, hdf5_dataset);
        auto v = h5_read_doubles(file, path, hdf5_dataset, 0, n);
        map = Eigen::Map<const Eigen::ArrayXd>(v.data(), n);
    } else {
        throw Error(path + ": unknown template format (expected .npy, .fits or HDF5)");
    }
    healpix_nside(map.size(), path);  // throws unless npix = 12 nside^2
    for (Eigen::Index i = 0; i < map.size(); ++i) {
        if (!std::isfinite(map[i]) || map[i] < 0) {
            throw Error(path + ": pixel " + std::to_string(i) + " is negative or not finite");
        }
    }
    const double integral = map_integral(map);
    if (!(integral > 0.0) || !std::isfinite(integral)) {
        throw Error(path + ": the template's integral over the sphere is " + std::to_string(integral) +
                    (integral == 0.0 ? " (every pixel is 0)" : "") + "; it must be positive and finite");
    }
    return map;
}

TemplatePdfs::TemplatePdfs(const Eigen::ArrayXd& template_map, const Events& local_data, const Events& local_mc,
                           const std::optional<EffectiveArea>& effective_area, const Comm& comm,
                           const TemplateSettings& settings)
    : background([&] {
          std::vector<double> counts(static_cast<std::size_t>(settings.sin_dec_bins), 0.0);
          fill_sin_dec_counts(local_data.z, counts);
          comm.sum(counts.data(), static_cast<int>(counts.size()));
          return SinDecBackgroundPdf(std::move(counts));
      }())
{
    const bool any_mc = comm.sum(static_cast<std::int64_t>(local_mc.size())) > 0;
    // Weighted sums depend on the order of addition: the acceptance and the energy PDF are
    // filled from the whole MC in global event order (gathered), so they are bit-identical for
    // any rank count.
    const Events mc = any_mc ? local_mc.allgather(comm) : Events{};
    // Acceptance: the MC histogram is a sum over events, so the ranks' parts add up.
    Acceptance acceptance;
    if (any_mc) {
        auto span = [](const Eigen::ArrayXd& a) { return std::span<const double>(a.data(), a.size()); };
        acceptance = acceptance_from_mc(span(mc.true_dec), span(mc.true_energy), span(mc.oneweight),
                                        settings.gamma, settings.acceptance_bins);
        acceptance_source = "mc";
    } else if (effective_area) {
        acceptance = acceptance_from_effective_area(*effective_area, settings.gamma);
        acceptance_source = "effective_area";
    } else {
        throw Error("template: no MC and no effective area: cannot weight the template by the acceptance");
    }
    Eigen::ArrayXd working = regrade_map(template_map, settings.nside);
    smoothed = smooth_template(acceptance_weighted_template(working, acceptance), settings.smoothing);

    if (settings.use_energy && !any_mc) {
        log::info("energy term off: use_energy is on, but the sample has no MC events (the fit is spatial only)");
    }
    if (!settings.use_energy || !any_mc) return;
    const auto& binning = settings.energy_binning;
    GammaGrid grid = GammaGrid::single(settings.gamma);
    std::vector<double> data_counts(static_cast<std::size_t>(binning.n_cells()), 0.0);
    fill_energy_data_counts(binning, local_data.z, local_data.log10_energy, data_counts);
    comm.sum(data_counts.data(), static_cast<int>(data_counts.size()));
    std::vector<double> mc_counts(static_cast<std::size_t>(binning.n_cells()), 0.0);
    fill_energy_mc_counts(binning, grid, mc.z, mc.log10_energy, mc.true_energy, mc.oneweight, mc_counts);
    energy.emplace(binning, grid, data_counts, mc_counts);
}

namespace {

// template_value() on a row of TemplateEvents::reach_: the same arithmetic on the same floats.
inline double reach_value(const float* m, bool single_map, float w)
{
    if (single_map) return m[0];
    return double(m[0]) + double(w) * (double(m[1]) - double(m[0]));
}

}  // namespace

TemplateEvents::TemplateEvents(const Events& events, const TemplatePdfs& pdfs, double n_total)
    : pdfs_(pdfs), has_energy_(pdfs.energy.has_value()), n_total_(n_total)
{
    auto span = [](const Eigen::ArrayXd& a) { return std::span<const double>(a.data(), a.size()); };
    const SmoothedTemplate& st = pdfs.smoothed;
    index_ = index_template_events(st, span(events.ra), span(events.dec), span(events.sigma));
    const auto n = events.size();
    order_.resize(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = static_cast<std::int32_t>(i);
    std::stable_sort(order_.begin(), order_.end(), [&](std::int32_t a, std::int32_t b) {
        return index_.ring[a] != index_.ring[b] ? index_.ring[a] < index_.ring[b]
                                                : index_.sigma_index[a] < index_.sigma_index[b];
    });
    Eigen::ArrayXd subtraction(n);
    signal_subtraction_densities(st, index_, std::span<double>(subtraction.data(), n));
    Eigen::ArrayXd background_density;
    pdfs.background.background_density(events.z, background_density);
    Eigen::ArrayXd ratio_over_b = 1.0 / background_density;
    if (has_energy_) {
        auto ratios = pdfs.energy->event_ratios(events.z, events.log10_energy);
        ratio_over_b *= ratios.column(0);
    }

    // reach_: the columns each ring keeps (k and k + 1 of each of its events), numbered in
    // increasing k, so that column(k + 1) = column(k) + 1 as template_value() needs.
    const std::size_t ns = static_cast<std::size_t>(st.n_sigma);
    const std::size_t n_rings = static_cast<std::size_t>(st.n_rings());
    std::vector<std::int64_t> column(n_rings * ns, -1);
    for (std::size_t i = 0; i < index_.size(); ++i) {
        const std::size_t row = static_cast<std::size_t>(index_.ring[i]) * ns;
        const std::size_t k = static_cast<std::size_t>(index_.sigma_index[i]);
        column[row + k] = 0;
        if (ns > 1) column[row + k + 1] = 0;
    }
    ring_width_.assign(n_rings, 0);
    std::vector<std::uint64_t> ring_offset(n_rings, 0);
    std::uint64_t total = 0;
    for (std::size_t r = 0; r < n_rings; ++r) {
        for (std::size_t k = 0; k < ns; ++k)
            if (column[r * ns + k] >= 0) column[r * ns + k] = ring_width_[r]++;
        ring_offset[r] = total;
        total += static_cast<std::uint64_t>(st.ring_npix[r]) * ring_width_[r];
    }
    if (total > std::numeric_limits<std::uint32_t>::max())
        throw Error("template: too many map values for 32-bit lookups (lower n_sigma or nside)");
    reach_.resize(static_cast<std::size_t>(total));
    for (std::size_t r = 0; r < n_rings; ++r) {
        if (ring_width_[r] == 0) continue;
        const std::size_t start = static_cast<std::size_t>(st.ring_start[r]);
        for (std::size_t j = 0; j < static_cast<std::size_t>(st.ring_npix[r]); ++j) {
            for (std::size_t k = 0; k < ns; ++k) {
                if (column[r * ns + k] < 0) continue;
                reach_[ring_offset[r] + j * ring_width_[r] + static_cast<std::size_t>(column[r * ns + k])] =
                    st.maps[(start + j) * ns + k];
            }
        }
    }

    sigma_weight_.resize(order_.size());
    scramble_.resize(order_.size());
    cell_.resize(order_.size());
    subtraction_.resize(n);
    ratio_over_b_.resize(n);
    for (std::size_t s = 0; s < order_.size(); ++s) {
        const auto i = static_cast<std::size_t>(order_[s]);
        const auto r = static_cast<std::size_t>(index_.ring[i]);
        sigma_weight_[s] = index_.sigma_weight[i];
        const auto column_k = static_cast<std::uint32_t>(
            ring_offset[r] + static_cast<std::uint64_t>(column[r * ns + static_cast<std::size_t>(index_.sigma_index[i])]));
        scramble_[i] = {index_.ring[i], static_cast<std::uint32_t>(s), column_k};
        cell_[s] = column_k + static_cast<std::uint32_t>(index_.pixel[i] - st.ring_start[r]) * ring_width_[r];
        subtraction_[static_cast<Eigen::Index>(s)] = subtraction[static_cast<Eigen::Index>(i)];
        ratio_over_b_[static_cast<Eigen::Index>(s)] = ratio_over_b[static_cast<Eigen::Index>(i)];
    }
    excess_.resize(n);
}

const Eigen::ArrayXd& TemplateEvents::excess()
{
    const bool single_map = pdfs_.smoothed.n_sigma == 1;
    for (std::size_t s = 0; s < order_.size(); ++s) {
        const auto e = static_cast<Eigen::Index>(s);
        const double signal = reach_value(reach_.data() + cell_[s], single_map, sigma_weight_[s]);
        excess_[order_[s]] = (signal - subtraction_[e]) * ratio_over_b_[e];
    }
    return excess_;
}

FitResult TemplateEvents::fit(const ReduceSum& reduce)
{
    // The per-event excess, scaled by 1/N, straight into the fitter's workspace (one pass; the
    // same arithmetic as fit_ns_excess(excess())).
    const std::size_t n = order_.size();
    double* a = fitter_.scaled_excess_buffer(n);
    const double inv_n = 1.0 / n_total_;
    const double* sub = subtraction_.data();
    const double* rob = ratio_over_b_.data();
    const bool single_map = pdfs_.smoothed.n_sigma == 1;
    // The lookups are random within each ring: prefetching the line of the event kPrefetch
    // places ahead keeps more misses in flight than out-of-order execution alone does.
    constexpr std::size_t kPrefetch = 64;
    const float* reach = reach_.data();
    for (std::size_t s = 0; s < n; ++s) {
        if (s + kPrefetch < n) __builtin_prefetch(reach + cell_[s + kPrefetch]);
        const double signal = reach_value(reach + cell_[s], single_map, sigma_weight_[s]);
        a[s] = ((signal - sub[s]) * rob[s]) * inv_n;
    }
    EventTotals totals{n_total_, n_total_};
    return fitter_.fit_ns_prepared(n, totals, reduce, std::numeric_limits<double>::quiet_NaN());
}

double TemplateEvents::ts_at(double ns, const ReduceSum& reduce)
{
    const auto& d = excess();
    double sum = (ns / n_total_ * d + 1.0).log().sum();
    reduce(&sum, 1);
    return 2.0 * sum;
}

void TemplateEvents::scramble_cells(std::uint64_t seed, std::int64_t trial, std::uint32_t* cell,
                                    std::uint64_t sample) const
{
    // Event i (input order) takes draw i of the trial's stream; its pixel is
    // pixel_in_ring_for_ra(ring, 2 pi u), written without floor() or modulo: for u in [0, 1)
    // the position in the ring is in [0, n] (n only by rounding, meaning pixel 0). One pass in
    // input order as the draws come (no buffer of draws), storing each event's reach_ index at
    // its sorted place.
    const SmoothedTemplate& st = pdfs_.smoothed;
    const double two_pi = 2.0 * std::numbers::pi;
    const ScrambleEntry* events = scramble_.data();
    CounterRng rng(seed, static_cast<std::uint64_t>(trial), 0, sample);
    rng.for_each_uniform(scramble_.size(), [&](std::size_t i, double u) {
        const double ra = two_pi * u;
        const auto ring = static_cast<std::size_t>(events[i].ring);
        const std::int32_t npix = st.ring_npix[ring];
        const double x = ra * (double(npix) * (0.5 / std::numbers::pi)) - st.ring_phase[ring] + 0.5;
        auto j = static_cast<std::int32_t>(x);  // x >= 0: truncation is floor
        if (j >= npix) j -= npix;
        cell[events[i].position] = events[i].column + static_cast<std::uint32_t>(j) * ring_width_[ring];
    });
}

void TemplateEvents::scramble(std::uint64_t seed, std::int64_t trial, std::uint64_t sample)
{
    scramble_cells(seed, trial, cell_.data(), sample);
}

void TemplateEvents::trials(std::uint64_t seed, std::int64_t first_trial, int count, FitResult* out)
{
    if (count < 1 || count > kBatch) throw Error("TemplateEvents::trials: batch of " + std::to_string(count));
    const std::size_t n = order_.size();
    const auto nb = static_cast<std::size_t>(count);
    batch_cell_.resize(n * static_cast<std::size_t>(kBatch));
    batch_fitters_.resize(static_cast<std::size_t>(kBatch));
    std::uint32_t* cells[kBatch];
    double* a[kBatch];
    for (std::size_t b = 0; b < nb; ++b) {
        cells[b] = batch_cell_.data() + b * n;
        scramble_cells(seed, first_trial + static_cast<std::int64_t>(b), cells[b]);
        a[b] = batch_fitters_[b].scaled_excess_buffer(n);
    }
    // fit()'s loop, with the batch's trials inner.
    const double inv_n = 1.0 / n_total_;
    const double* sub = subtraction_.data();
    const double* rob = ratio_over_b_.data();
    const bool single_map = pdfs_.smoothed.n_sigma == 1;
    constexpr std::size_t kPrefetch = 16;  // events ahead (kBatch lookups each)
    const float* reach = reach_.data();
    for (std::size_t s = 0; s < n; ++s) {
        const bool ahead = s + kPrefetch < n;
        for (std::size_t b = 0; b < nb; ++b) {
            if (ahead) __builtin_prefetch(reach + cells[b][s + kPrefetch]);
            const double signal = reach_value(reach + cells[b][s], single_map, sigma_weight_[s]);
            a[b][s] = ((signal - sub[s]) * rob[s]) * inv_n;
        }
    }
    const EventTotals totals{n_total_, n_total_};
    for (std::size_t b = 0; b < nb; ++b)
        out[b] = batch_fitters_[b].fit_ns_prepared(n, totals, reduce_nothing, std::numeric_limits<double>::quiet_NaN());
}

namespace {

constexpr double deg = std::numbers::pi / 180.0;

class TemplateLikelihood : public Likelihood {
public:
    PathParameter<std::string> template_path{this, "template_path", "", PathKind::input_file, "a HEALPix map",
                                         "HEALPix template (.npy, .fits or HDF5 /map; RING or NESTED, any nside); "
                                         "default: the Fermi-LAT pi0 map of the data release"};
    Parameter<double> gamma{this, "gamma", 2.7, "fixed spectral index of the template's flux"};
    Parameter<std::int64_t> nside{this, "nside", 128, "working HEALPix nside of the smoothed template"};
    Parameter<std::int64_t> n_sigma{this, "n_sigma", 24, "number of smoothing scales (log spaced)"};
    Parameter<double> sigma_min_deg{this, "sigma_min_deg", 0.5, "smallest smoothing sigma [deg]"};
    Parameter<double> sigma_max_deg{this, "sigma_max_deg", 60.0, "largest smoothing sigma [deg]"};
    Parameter<std::int64_t> sin_dec_bins{this, "sin_dec_bins", 40, "bins of the background sin(dec) histogram"};
    Parameter<bool> use_energy{this, "use_energy", true, "use the energy ratio at the fixed gamma (needs MC)"};
    Parameter<double> log10e_min{this, "log10e_min", 1.0, "lower edge of the energy PDFs [log10 GeV]"};
    Parameter<double> log10e_max{this, "log10e_max", 8.0, "upper edge of the energy PDFs [log10 GeV]"};
    PathParameter<std::string> effective_area_dir{this, "effective_area_dir", "", PathKind::input_directory,
                                                  "the effective-area tables",
                                              "directory with effa_values.csv, effa_bins_sindec.csv, "
                                              "effa_bins_energy.csv (flux conversion; default: the release's)"};
    Parameter<double> flux_e0_gev{this, "flux_e0_gev", 1e5, "pivot energy of the flux conversion [GeV]"};
    Parameter<std::int64_t> profile_points{this, "profile_points", 41, "points of the TS(n_s) profile in /fit"};
    Parameter<bool> inject_rebuild_pdfs{this, "inject_rebuild_pdfs", true,
                                        "tasks inject, sensitivity: build B and f_B of each signal trial from its own "
                                        "events (true) or keep the sample's (false); see docs/physics.md"};

    void validate() override
    {
        if (gamma() < 1 || gamma() > 4) throw gamma.error("must be in [1, 4]");
        auto n = nside();
        if (n < 1 || n > 1024 || (n & (n - 1)) != 0) throw nside.error("must be a power of two up to 1024");
        if (n_sigma() < 1 || n_sigma() > 1000) throw n_sigma.error("must be in [1, 1000]");
        if (sigma_min_deg() <= 0 || sigma_max_deg() < sigma_min_deg()) {
            throw sigma_min_deg.error("need 0 < sigma_min_deg <= sigma_max_deg");
        }
        if (sin_dec_bins() < 2 || sin_dec_bins() > 100000) throw sin_dec_bins.error("must be in [2, 100000]");
        if (log10e_min() >= log10e_max()) throw log10e_min.error("must be below log10e_max");
        if (profile_points() < 0 || profile_points() > 100000) throw profile_points.error("must be in [0, 100000]");
    }

    std::vector<std::string> tasks() const override { return {"fit", "trials", "inject", "sensitivity"}; }
    bool joint() const override { return true; }
    bool injects_from_mc() const override { return true; }

    void prepare(RunContext&) override
    {
        std::string path = template_path();
        if (path.empty()) path = find_gp2023_dir() + "/Fermi-LAT_pi0_map.npy";
        map_ = read_template_map(path);
        map_path_ = path;
        std::string dir = effective_area_dir().empty() ? find_gp2023_dir() : effective_area_dir();
        effective_area_ = read_effective_area(dir + "/effa_values.csv", dir + "/effa_bins_sindec.csv",
                                              dir + "/effa_bins_energy.csv");
    }

    TemplateSettings settings() const
    {
        TemplateSettings s;
        s.gamma = gamma();
        s.nside = static_cast<int>(nside());
        s.smoothing.n_sigma = static_cast<int>(n_sigma());
        s.smoothing.sigma_min = sigma_min_deg() * deg;
        s.smoothing.sigma_max = sigma_max_deg() * deg;
        s.sin_dec_bins = static_cast<int>(sin_dec_bins());
        s.use_energy = use_energy();
        s.energy_binning.log_energy_min = log10e_min();
        s.energy_binning.log_energy_max = log10e_max();
        return s;
    }

    std::unique_ptr<Hypothesis> hypothesis(std::vector<Sample>& samples, RunContext& context) override;

private:
    Eigen::ArrayXd map_;
    std::string map_path_;
    std::optional<EffectiveArea> effective_area_;
};

// The template fit at the fixed gamma, its background trials (kBatch at a time) and its signal
// trials (TemplateSignalTrials).
class TemplateHypothesis : public Hypothesis {
public:
    struct Spec {
        const Eigen::ArrayXd& map;
        std::string map_path;
        const EffectiveArea& effective_area;
        TemplateSettings settings;
        double e0_gev = 1e5;
        std::int64_t profile_points = 0;
        bool rebuild_pdfs = true;
    };

    TemplateHypothesis(EventSample& sample, Spec spec, const Comm& comm)
        : sample_(sample), spec_(std::move(spec)),
          pdfs_(spec_.map, sample.data, sample.mc, spec_.effective_area, comm, spec_.settings),
          n_total_(static_cast<double>(comm.sum(static_cast<std::int64_t>(sample.data.size()))))
    {
    }

    std::string label() const override { return "template"; }

    TrialResult fit(RunContext& context) override
    {
        const Comm& comm = context.comm;
        const double gamma = spec_.settings.gamma;
        auto reduce = [&comm](double* values, int n) { comm.sum(values, n); };
        TemplateEvents shard(sample_.data, pdfs_, n_total_);
        const FitResult observed = shard.fit(reduce);
        auto& fit = context.results.group("/fit");
        fit.attributes["ts"] = observed.ts;
        fit.attributes["ns"] = observed.ns;
        fit.attributes["gamma"] = gamma;
        fit.attributes["n_events"] = static_cast<std::int64_t>(n_total_);
        fit.attributes["n_evaluations"] = static_cast<std::int64_t>(observed.n_evaluations);
        fit.attributes["template"] = spec_.map_path;
        fit.attributes["acceptance"] = pdfs_.acceptance_source;
        fit.attributes["energy_term"] = std::string(shard.has_energy() ? "mc" : "none");

        // Flux: n_s over the events expected from a reference flux through the effective area.
        const double livetime = sample_.livetime_s;
        if (livetime > 0) {
            Eigen::ArrayXd fractions = template_band_fractions(spec_.map, spec_.effective_area.sindec_edges);
            mu_reference_ = expected_events(spec_.effective_area, fractions, gamma, kPhi0, spec_.e0_gev, livetime);
            fit.attributes["mu_per_1e-18"] = mu_reference_;
            fit.attributes["flux_e2dnde_100tev"] = e2_flux_tev(observed.ns, mu_reference_, kPhi0, spec_.e0_gev);
            fit.attributes["livetime_s"] = livetime;
        } else {
            log::warn("the sample has no livetime: no flux conversion");
        }
        store_profile(shard, observed, context, reduce);
        log::info("template fit: TS " + std::to_string(observed.ts) + ", n_s " + std::to_string(observed.ns));
        return TrialResult{observed.ts, observed.ns, gamma};
    }

    void replicate(const Comm& comm) override { all_ = sample_.data.allgather(comm); }

    int trial_batch() const override { return TemplateEvents::kBatch; }

    void background_trials(std::uint64_t seed, std::int64_t trial, int count, TrialResult* out) override
    {
        if (!replica_) {
            replica_ = std::make_unique<TemplateEvents>(all_, pdfs_, n_total_);
            log::info("template trials: the events reach " + std::to_string(replica_->reach_bytes() >> 10) +
                      " KiB of the smoothed maps");
        }
        std::array<FitResult, TemplateEvents::kBatch> batch;
        replica_->trials(seed, trial, count, batch.data());
        for (int i = 0; i < count; ++i) out[i] = TrialResult{batch[i].ts, batch[i].ns, spec_.settings.gamma};
    }

    std::unique_ptr<Injector> injector(RunContext& context) override
    {
        const TemplateInjectionSettings s = injection_settings();
        auto injector = template_injector(sample_, spec_.map, s, context.comm);
        mc_energy_counts_ = template_mc_energy_counts(sample_, pdfs_, s, context.comm);
        return injector;
    }

    TrialResult signal_trial(std::uint64_t seed, std::int64_t trial, const std::vector<Events>& injected) override
    {
        if (!signal_) {
            signal_ = std::make_unique<TemplateSignalTrials>(all_, pdfs_, spec_.settings, mc_energy_counts_,
                                                             spec_.rebuild_pdfs);
        }
        return (*signal_)(seed, trial, injected.front());
    }

private:
    static constexpr double kPhi0 = 1e-18;  // the reference flux of mu_per_1e-18

    TemplateInjectionSettings injection_settings() const
    {
        return {spec_.settings.gamma, spec_.e0_gev, mu_reference_, kPhi0, spec_.rebuild_pdfs, spec_.settings};
    }

    // TS against n_s around the best fit, for the profile plot.
    void store_profile(TemplateEvents& events, const FitResult& best, RunContext& context, const ReduceSum& reduce)
    {
        const auto points = spec_.profile_points;
        if (points < 2) return;
        double top = std::max(3.0 * best.ns, 100.0);
        std::vector<double> ns, ts;
        for (std::int64_t k = 0; k < points; ++k) {
            double x = top * static_cast<double>(k) / static_cast<double>(points - 1);
            if (x >= n_total_) break;
            double t = events.ts_at(x, reduce);
            if (!std::isfinite(t)) break;  // beyond the domain (an argument of ln <= 0)
            ns.push_back(x);
            ts.push_back(t);
        }
        context.results.set_replicated("/fit", "profile_ns", ns, context.comm);
        context.results.set_replicated("/fit", "profile_ts", ts, context.comm);
    }

    EventSample& sample_;
    Spec spec_;
    TemplatePdfs pdfs_;
    double n_total_;
    double mu_reference_ = 0.0;  // expected events of kPhi0 (0: no livetime, no flux conversion)
    Events all_;                 // the whole sample on this rank (after replicate())
    std::unique_ptr<TemplateEvents> replica_;
    std::vector<double> mc_energy_counts_;
    std::unique_ptr<TemplateSignalTrials> signal_;
};

// Several samples (PHYSICS.md section 10): one n_s of the template at its fixed gamma, split over
// the samples by their yields Y_k (the events sample k expects from the template's flux, from its
// MC), each sample with its own PDFs (smoothed with its own events' sigmas, its own acceptance,
// background and energy ratios) and scramble stream.
class JointTemplateHypothesis : public Hypothesis {
public:
    JointTemplateHypothesis(std::vector<Sample>& samples, TemplateHypothesis::Spec spec, const Comm& comm)
        : samples_(samples), spec_(std::move(spec))
    {
        fit_settings_.gamma_min = fit_settings_.gamma_max = spec_.settings.gamma;
        for (Sample& s : samples) {
            const EventSample& e = s.events;
            if (comm.sum(static_cast<std::int64_t>(e.mc.size())) == 0)
                throw Error("template: sample " + s.name + " has no MC events, so its signal yield (its share of n_s "
                            "in the joint fit) is unknown");
            pdfs_.push_back(
                std::make_unique<TemplatePdfs>(spec_.map, e.data, e.mc, spec_.effective_area, comm, spec_.settings));
            // Events per unit flux (E^2 dN/dE at E0 of the whole template): the injection pool's.
            yields_.push_back(template_injection_pool(e.mc, spec_.map, spec_.settings.gamma, spec_.e0_gev,
                                                      e.livetime_s, comm)
                                  .events_per_unit_flux);
        }
    }

    std::string label() const override { return "joint template"; }

    TrialResult fit(RunContext& context) override
    {
        const Comm& comm = context.comm;
        std::vector<std::unique_ptr<TemplateEvents>> shards;
        std::vector<double> n_totals;
        for (std::size_t k = 0; k < samples_.size(); ++k) {
            n_totals.push_back(static_cast<double>(samples_[k].n_events));
            shards.push_back(std::make_unique<TemplateEvents>(samples_[k].events.data, *pdfs_[k], n_totals.back()));
        }
        auto reduce = [&comm](double* values, int count) { comm.sum(values, count); };
        const JointFitResult joint = fit_joint(terms_of(shards, n_totals), fit_settings_, reduce);
        const double gamma = spec_.settings.gamma;
        std::int64_t n_total = 0;
        double yield_total = 0.0;
        for (std::size_t k = 0; k < samples_.size(); ++k) {
            n_total += samples_[k].n_events;
            yield_total += yields_[k];
        }
        auto& fit = context.results.group("/fit");
        fit.attributes["ts"] = joint.fit.ts;
        fit.attributes["ns"] = joint.fit.ns;
        fit.attributes["gamma"] = gamma;
        fit.attributes["n_events"] = n_total;
        fit.attributes["n_evaluations"] = static_cast<std::int64_t>(joint.fit.n_evaluations);
        fit.attributes["template"] = spec_.map_path;
        fit.attributes["n_samples"] = static_cast<std::int64_t>(samples_.size());
        if (yield_total > 0) {
            // E^2 dN/dE at E0 of the whole template: n_s over all samples' events per unit flux.
            fit.attributes["flux_e2dnde_" + std::to_string(static_cast<long long>(spec_.e0_gev / 1e3)) + "tev"] =
                e2_flux_tev(joint.fit.ns, yield_total, 1.0, spec_.e0_gev);
        }
        std::string line = "joint template fit of " + std::to_string(samples_.size()) + " samples: TS " +
                           std::to_string(joint.fit.ts) + ", n_s " + std::to_string(joint.fit.ns);
        std::vector<bool> has_energy;
        for (std::size_t k = 0; k < samples_.size(); ++k) {
            has_energy.push_back(shards[k]->has_energy());
            context.results.group("/fit/samples/" + samples_[k].name).attributes["acceptance"] =
                pdfs_[k]->acceptance_source;
        }
        const std::vector<std::string> from_mc(samples_.size(), "mc");
        log::info(line + record_joint_samples(context.results, samples_, joint, has_energy, from_mc));
        return TrialResult{joint.fit.ts, joint.fit.ns, gamma};
    }

    void replicate(const Comm& comm) override { whole_ = gather_samples(samples_, comm); }

    void background_trials(std::uint64_t seed, std::int64_t trial, int count, TrialResult* out) override
    {
        if (replicas_.empty()) {
            std::vector<double> n_totals;
            for (std::size_t k = 0; k < samples_.size(); ++k) {
                n_totals.push_back(static_cast<double>(whole_[k].size()));
                replicas_.push_back(std::make_unique<TemplateEvents>(whole_[k], *pdfs_[k], n_totals.back()));
            }
            replica_terms_ = terms_of(replicas_, n_totals);
        }
        for (int i = 0; i < count; ++i) {
            for (std::size_t k = 0; k < samples_.size(); ++k) replicas_[k]->scramble(seed, trial + i, samples_[k].stream);
            const auto r = fit_joint(replica_terms_, fit_settings_, reduce_nothing);
            out[i] = TrialResult{r.fit.ts, r.fit.ns, spec_.settings.gamma};
        }
    }

    // The template's flux seen by every sample: sample k gets Poisson(mu Y_k / sum Y) events from
    // its own MC (weighted by the template at their true directions) and streams.
    std::unique_ptr<Injector> injector(RunContext& context) override
    {
        const Comm& comm = context.comm;
        const double gamma = spec_.settings.gamma;
        const TemplateInjectionSettings settings{gamma, spec_.e0_gev, 0.0, 1e-18, spec_.rebuild_pdfs, spec_.settings};
        mc_energy_counts_.clear();
        for (std::size_t k = 0; k < samples_.size(); ++k)
            mc_energy_counts_.push_back(template_mc_energy_counts(samples_[k].events, *pdfs_[k], settings, comm));
        char name[200];
        std::snprintf(name, sizeof name,
                      "E^2 dN/dE at %g GeV [TeV cm^-2 s^-1] of the whole template, E^-%g, seen by all %zu samples",
                      spec_.e0_gev, gamma, samples_.size());
        auto pool_of = [&](const Sample& s) {
            return template_injection_pool(s.events.mc, spec_.map, gamma, spec_.e0_gev, s.events.livetime_s, comm);
        };
        auto injector = joint_injector(samples_, pool_of, spec_.e0_gev, name, "template", comm);
        injector->attributes["trial_pdfs"] =
            std::string(spec_.rebuild_pdfs ? "rebuilt per signal trial" : "fixed (the sample's)");
        return injector;
    }

    // Each sample's scrambled events plus its injected ones, as a single-sample signal trial
    // builds them (TemplateSignalTrials, its own stream), then one joint fit.
    TrialResult signal_trial(std::uint64_t seed, std::int64_t trial, const std::vector<Events>& injected) override
    {
        const std::size_t n = samples_.size();
        if (signal_.empty()) {
            for (std::size_t k = 0; k < n; ++k) {
                signal_.push_back(std::make_unique<TemplateSignalTrials>(whole_[k], *pdfs_[k], spec_.settings,
                                                                         mc_energy_counts_[k], spec_.rebuild_pdfs));
            }
        }
        std::vector<const Eigen::ArrayXd*> excess(n);
        std::vector<JointSampleTerm> terms(n);
        for (std::size_t k = 0; k < n; ++k) {
            excess[k] = &signal_[k]->excess(seed, trial, injected[k], samples_[k].stream);
            terms[k].name = samples_[k].name;
            terms[k].n_local = static_cast<std::size_t>(excess[k]->size());
            terms[k].n_total = static_cast<double>(excess[k]->size());
            const Eigen::ArrayXd* d = excess[k];
            terms[k].excess_at_gamma = [d](double, double* out) { std::copy(d->data(), d->data() + d->size(), out); };
            const double yield = yields_[k];
            terms[k].yield = [yield](double) { return yield; };
        }
        const auto r = fit_joint(terms, fit_settings_, reduce_nothing);
        return TrialResult{r.fit.ts, r.fit.ns, spec_.settings.gamma};
    }

private:
    // The samples' terms, reading the event sets (which must outlive them): the signal-subtracted
    // excess (S - S~) R / B of each event, at the fixed gamma.
    std::vector<JointSampleTerm> terms_of(const std::vector<std::unique_ptr<TemplateEvents>>& sets,
                                          const std::vector<double>& n_totals) const
    {
        std::vector<JointSampleTerm> terms(sets.size());
        for (std::size_t k = 0; k < sets.size(); ++k) {
            TemplateEvents* events = sets[k].get();
            terms[k].name = samples_[k].name;
            terms[k].n_local = events->size();
            terms[k].n_total = n_totals[k];
            terms[k].excess_at_gamma = [events](double, double* out) {
                const Eigen::ArrayXd& d = events->excess();
                std::copy(d.data(), d.data() + d.size(), out);
            };
            const double yield = yields_[k];
            terms[k].yield = [yield](double) { return yield; };
        }
        return terms;
    }

    std::vector<Sample>& samples_;
    TemplateHypothesis::Spec spec_;
    std::vector<std::unique_ptr<TemplatePdfs>> pdfs_;
    std::vector<double> yields_;  // events per unit flux, per sample
    FitSettings fit_settings_;
    std::vector<Events> whole_;
    std::vector<std::unique_ptr<TemplateEvents>> replicas_;
    std::vector<JointSampleTerm> replica_terms_;
    std::vector<std::vector<double>> mc_energy_counts_;  // per sample, for its signal trials
    std::vector<std::unique_ptr<TemplateSignalTrials>> signal_;
};

std::unique_ptr<Hypothesis> TemplateLikelihood::hypothesis(std::vector<Sample>& samples, RunContext& context)
{
    log::info("template " + map_path_ + ": smoothing at " + std::to_string(n_sigma()) + " scales, nside " +
              std::to_string(nside()));
    TemplateHypothesis::Spec spec{map_, map_path_, *effective_area_, settings(), flux_e0_gev(), profile_points(),
                                  inject_rebuild_pdfs()};
    if (samples.size() > 1) return std::make_unique<JointTemplateHypothesis>(samples, std::move(spec), context.comm);
    return std::make_unique<TemplateHypothesis>(samples.front().events, std::move(spec), context.comm);
}

}  // namespace

NUSKY_REGISTER_MODULE(likelihood, TemplateLikelihood, "template",
                      "Galactic-plane template likelihood: fit of n_s at a fixed spectrum, flux conversion")

}  // namespace nusky

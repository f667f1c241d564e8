#include "likelihood/point_source/point_source.hpp"
#include "likelihood/point_source/scan.hpp"
#include "likelihood/point_source/point_source_injection.hpp"
#include "likelihood/common/joint_fit.hpp"
#include "likelihood/common/yield.hpp"
#include "likelihood/common/inject.hpp"

#include "nusky/log.hpp"
#include "nusky/rng.hpp"
#include "nusky/trials.hpp"
#include "nusky/registry.hpp"
#include "nusky/stages.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <numbers>

namespace nusky {

PointSourcePdfs::PointSourcePdfs(const Events& local_data, const Events& local_mc, const Comm& comm,
                                 const PointSourceSettings& settings)
    : background([&] {
          std::vector<double> counts(static_cast<std::size_t>(settings.sin_dec_bins), 0.0);
          fill_sin_dec_counts(local_data.z, counts);  // z = sin(dec)
          comm.sum(counts.data(), static_cast<int>(counts.size()));
          return SinDecBackgroundPdf(std::move(counts));
      }())
{
    // Every rank must agree whether the energy term is used (the MC may sit on some ranks only).
    bool any_mc = comm.sum(static_cast<std::int64_t>(local_mc.size())) > 0;
    if (settings.use_energy && !any_mc) {
        log::info("energy term off: use_energy is on, but the sample has no MC events (the fit is spatial only)");
    }
    if (!settings.use_energy || !any_mc) return;
    const auto& binning = settings.energy_binning;
    std::vector<double> data_counts(static_cast<std::size_t>(binning.n_cells()), 0.0);
    fill_energy_data_counts(binning, local_data.z, local_data.log10_energy, data_counts);
    comm.sum(data_counts.data(), static_cast<int>(data_counts.size()));
    std::vector<double> mc_counts(static_cast<std::size_t>(binning.n_cells() * settings.gamma_grid.size), 0.0);
    // Weighted sums depend on the order of addition: fill from the whole MC in global event
    // order (gathered), so the table is bit-identical for any rank count.
    const Events mc = local_mc.allgather(comm);
    fill_energy_mc_counts(binning, settings.gamma_grid, mc.z, mc.log10_energy, mc.true_energy, mc.oneweight,
                          mc_counts);
    energy.emplace(binning, settings.gamma_grid, data_counts, mc_counts);
}

namespace {

// cos and sin of the scrambled right ascension 2 pi u, u in [0, 1): a 1024-entry table of the
// exact values at 2 pi k / 1024 and the angle-addition formula with short Taylor series for the
// remainder b < 2 pi / 1024 (truncation below 1e-19); a few ulp, several times faster than
// libm's sincos. scramble() and trial() both use it, so they agree bit for bit.
struct RaTable {
    static constexpr int kSize = 1024;
    double c[kSize + 1], s[kSize + 1];
    RaTable()
    {
        for (int k = 0; k <= kSize; ++k) {
            c[k] = std::cos(2.0 * std::numbers::pi * k / kSize);
            s[k] = std::sin(2.0 * std::numbers::pi * k / kSize);
        }
    }
};

inline void ra_cos_sin(const RaTable& table, double u, double& cos_ra, double& sin_ra)
{
    const double t = u * RaTable::kSize;
    const int k = static_cast<int>(t);
    const double b = (t - k) * (2.0 * std::numbers::pi / RaTable::kSize);
    const double b2 = b * b;
    const double sin_b = b * (1.0 - b2 * (1.0 / 6.0 - b2 * (1.0 / 120.0)));
    const double cos_b = 1.0 - b2 * (0.5 - b2 * (1.0 / 24.0 - b2 * (1.0 / 720.0)));
    cos_ra = table.c[k] * cos_b - table.s[k] * sin_b;
    sin_ra = table.s[k] * cos_b + table.c[k] * sin_b;
}

const RaTable& ra_table()
{
    static const RaTable table;
    return table;
}

}  // namespace

PointSourceEvents::PointSourceEvents(const Events& events, const PointSourcePdfs& pdfs, double n_total)
    : events_(events), x_(events.x), y_(events.y), z_(events.z), cos_dec_(events.dec.cos()),
      vmf_(vmf_event_constants(events.sigma)), has_energy_(pdfs.energy.has_value()), n_total_(n_total)
{
    pdfs.background.background_density(events.z, background_density_);
    ratios_ = has_energy_ ? pdfs.energy->event_ratios(events.z, events.log10_energy)
                          : EventEnergyRatios::unity(events.size());
    // Per-event constants of the dropping test: S / B <= norm / B at any separation, and
    // R_i(gamma) lies between the smallest and largest grid values (linear interpolation).
    kappa_ = vmf_.kappa;
    norm_over_b_ = vmf_.normalisation / background_density_;
    r_min_ = ratios_.row_min();
    r_max_ = ratios_.row_max();
    log_reach_ = (norm_over_b_ * r_max_).log();
    draws_.resize(static_cast<std::size_t>(events.size()));
}

void PointSourceEvents::spatial_sob(const UnitVector& source, Eigen::ArrayXd& out) const
{
    vmf_density(x_, y_, z_, vmf_, source, out);
    out /= background_density_;
}

void PointSourceEvents::select_candidates(const UnitVector& source)
{
    if (source.z == candidates_z_) return;
    candidates_z_ = source.z;
    // Event i at declination difference d from the source is at least d away, so
    // S_i R_i / B_i <= reach_i exp(-2 kappa_i sin^2(d / 2)). Candidates: this bound >= kDropSob.
    // sin^2(d/2) = (1 - cos d) / 2 with cos d = cos dec_i cos dec_s + sin dec_i sin dec_s,
    // lowered by 1e-15 so that rounding never excludes an event that should stay.
    const double sin_s = source.z;
    const double cos_s = std::sqrt(source.x * source.x + source.y * source.y);
    const double log_threshold = std::log(kDropSob);
    candidates_.clear();
    for (Eigen::Index i = 0; i < z_.size(); ++i) {
        const double cos_d = cos_dec_[i] * cos_s + z_[i] * sin_s;
        const double hav = std::max(0.0, 0.5 * (1.0 - cos_d) - 1e-15);
        if (log_reach_[i] - 2.0 * kappa_[i] * hav >= log_threshold) candidates_.push_back(i);
    }
    // The candidates' constants, contiguous: the per-trial loops then stream them (and vectorise)
    // instead of gathering from the whole sample.
    const auto m = static_cast<Eigen::Index>(candidates_.size());
    for (Eigen::ArrayXd* a : {&cand_kappa_, &cand_z_, &cand_cos_dec_, &cand_norm_, &cand_background_,
                              &cand_r_min_, &cand_r_max_})
        a->resize(m);
    for (Eigen::Index c = 0; c < m; ++c) {
        const Eigen::Index i = candidates_[static_cast<std::size_t>(c)];
        cand_kappa_[c] = kappa_[i];
        cand_z_[c] = z_[i];
        cand_cos_dec_[c] = cos_dec_[i];
        cand_norm_[c] = vmf_.normalisation[i];
        cand_background_[c] = background_density_[i];
        cand_r_min_[c] = r_min_[i];
        cand_r_max_[c] = r_max_[i];
    }
}

FitResult PointSourceEvents::fit_all(const UnitVector& source, const ReduceSum& reduce)
{
    spatial_sob(source, sob_);
    EventTotals totals{n_total_, n_total_};
    if (!has_energy_) {
        auto r = fitter_.fit_ns(sob_.data(), static_cast<std::size_t>(sob_.size()), totals, reduce);
        r.gamma = std::numeric_limits<double>::quiet_NaN();  // no energy term: gamma not fitted
        return r;
    }
    return fitter_.fit(sob_, ratios_, totals, reduce);
}

bool PointSourceEvents::fit_candidates(const double* px, const double* py, const UnitVector& source,
                                       const ReduceSum& reduce, FitResult& result)
{
    // S / B of the candidates as vmf_density() and spatial_sob() compute it (up to the exp).
    const std::size_t n_cand = candidates_.size();
    kept_.clear();
    if (kept_sob_.size() < static_cast<Eigen::Index>(n_cand)) kept_sob_.resize(static_cast<Eigen::Index>(n_cand));
    // The exponents first, then Eigen's vectorised exp over all of them (a few times faster than
    // libm's scalar exp; below -709.78 it returns ~1e-308 instead of 0, far under kDropSob).
    if (exponent_.size() < static_cast<Eigen::Index>(n_cand)) exponent_.resize(static_cast<Eigen::Index>(n_cand));
    double* e = exponent_.data();
    for (std::size_t c = 0; c < n_cand; ++c) {
        const double dx = px[c] - source.x;
        const double dy = py[c] - source.y;
        const double dz = cand_z_[c] - source.z;
        e[c] = -0.5 * cand_kappa_[c] * (dx * dx + dy * dy + dz * dz);
    }
    Eigen::Map<Eigen::ArrayXd> exponent(e, static_cast<Eigen::Index>(n_cand));
    exponent = exponent.exp();
    // S / B = (norm exp) / B, in that order (as spatial_sob computes it); vectorised.
    for (std::size_t c = 0; c < n_cand; ++c) e[c] = (cand_norm_[c] * e[c]) / cand_background_[c];
    double largest_low = 0.0;  // max over events of S / B * min_gamma R: <= the largest S R / B at any gamma
    std::size_t n_kept = 0;
    for (std::size_t c = 0; c < n_cand; ++c) {
        const double sob = e[c];
        largest_low = std::max(largest_low, sob * cand_r_min_[c]);
        if (sob * cand_r_max_[c] >= kDropSob) {
            kept_.push_back(candidates_[c]);
            kept_sob_[static_cast<Eigen::Index>(n_kept++)] = sob;
        }
    }
    // Dropping is valid when the largest S R / B is >= 1 at every gamma on some rank; every rank
    // learns the global kept count from the same reduction.
    double global[2] = {largest_low >= 1.0 ? 1.0 : 0.0, static_cast<double>(n_kept)};
    reduce(global, 2);
    if (!(global[0] > 0.0)) return false;
    EventTotals totals{n_total_, global[1]};
    if (!has_energy_) {
        result = fitter_.fit_ns(kept_sob_.data(), n_kept, totals, reduce);
        result.gamma = std::numeric_limits<double>::quiet_NaN();  // no energy term: gamma not fitted
    } else {
        result = fitter_.fit(kept_sob_.data(), kept_.data(), n_kept, ratios_, totals, reduce);
    }
    return true;
}

FitResult PointSourceEvents::fit(const UnitVector& source, const ReduceSum& reduce)
{
    select_candidates(source);
    const std::size_t n = candidates_.size();
    if (cand_x_.size() < static_cast<Eigen::Index>(n)) {
        cand_x_.resize(static_cast<Eigen::Index>(n));
        cand_y_.resize(static_cast<Eigen::Index>(n));
    }
    for (std::size_t c = 0; c < n; ++c) {
        cand_x_[static_cast<Eigen::Index>(c)] = x_[candidates_[c]];
        cand_y_[static_cast<Eigen::Index>(c)] = y_[candidates_[c]];
    }
    FitResult r;
    if (fit_candidates(cand_x_.data(), cand_y_.data(), source, reduce, r)) return r;
    return fit_all(source, reduce);
}

FitResult PointSourceEvents::trial(std::uint64_t seed, std::int64_t trial, const UnitVector& source)
{
    select_candidates(source);
    const std::size_t n = candidates_.size();
    if (cand_x_.size() < static_cast<Eigen::Index>(n)) {
        cand_x_.resize(static_cast<Eigen::Index>(n));
        cand_y_.resize(static_cast<Eigen::Index>(n));
    }
    // The draws scramble() would give the candidates: event i takes draw i of the trial's
    // stream (candidates are in increasing event order, so the generator only moves forward).
    CounterRng rng(seed, static_cast<std::uint64_t>(trial), 0);
    const RaTable& table = ra_table();
    const std::size_t first = n > 0 ? static_cast<std::size_t>(candidates_.front()) : 0;
    const std::size_t span = n > 0 ? static_cast<std::size_t>(candidates_.back()) - first + 1 : 0;
    if (2 * n >= span) {
        // Dense candidates (wide PSFs: nearly every event): every draw of their index range in
        // one batch (CounterRng::fill_uniform), cheaper per draw than jumping to each.
        rng.discard_to(first);
        rng.fill_uniform(draws_.data(), span);
        for (std::size_t c = 0; c < n; ++c) {
            double cos_ra, sin_ra;
            ra_cos_sin(table, draws_[static_cast<std::size_t>(candidates_[c]) - first], cos_ra, sin_ra);
            cand_x_[static_cast<Eigen::Index>(c)] = cand_cos_dec_[static_cast<Eigen::Index>(c)] * cos_ra;
            cand_y_[static_cast<Eigen::Index>(c)] = cand_cos_dec_[static_cast<Eigen::Index>(c)] * sin_ra;
        }
    } else {
        std::uint64_t next = 0;
        for (std::size_t c = 0; c < n; ++c) {
            const auto i = static_cast<std::uint64_t>(candidates_[c]);
            if (i != next) rng.discard_to(i);
            next = i + 1;
            double cos_ra, sin_ra;
            ra_cos_sin(table, rng.uniform(), cos_ra, sin_ra);
            cand_x_[static_cast<Eigen::Index>(c)] = cand_cos_dec_[static_cast<Eigen::Index>(c)] * cos_ra;
            cand_y_[static_cast<Eigen::Index>(c)] = cand_cos_dec_[static_cast<Eigen::Index>(c)] * sin_ra;
        }
    }
    FitResult r;
    if (fit_candidates(cand_x_.data(), cand_y_.data(), source, reduce_nothing, r)) return r;
    scramble(seed, trial);  // no dropping possible: every event's position is needed
    return fit_all(source, reduce_nothing);
}

void PointSourceEvents::scramble(std::uint64_t seed, std::int64_t trial, std::uint64_t sample)
{
    // One stream per trial (and sample); event i takes the i-th draw of that stream.
    // (RA = 2 pi u; cos and sin through ra_cos_sin.)
    CounterRng rng(seed, static_cast<std::uint64_t>(trial), 0, sample);
    const RaTable& table = ra_table();
    rng.fill_uniform(draws_.data(), draws_.size());
    for (Eigen::Index i = 0; i < x_.size(); ++i) {
        double cos_ra, sin_ra;
        ra_cos_sin(table, draws_[static_cast<std::size_t>(i)], cos_ra, sin_ra);
        x_[i] = cos_dec_[i] * cos_ra;
        y_[i] = cos_dec_[i] * sin_ra;
    }
}

PointSourcePdfParameters::PointSourcePdfParameters(Module* owner)
    : sin_dec_bins{owner, "sin_dec_bins", 40, "bins of the background sin(dec) histogram"},
      use_energy{owner, "use_energy", true, "use the energy ratio (needs MC; R = 1 without)"},
      energy_bins{owner, "energy_bins", 30, "log10 E bins of the energy PDFs"},
      energy_sin_dec_bins{owner, "energy_sin_dec_bins", 20, "sin(dec) bins of the energy PDFs"},
      log10e_min{owner, "log10e_min", 1.0, "lower edge of the energy PDFs [log10 GeV]"},
      log10e_max{owner, "log10e_max", 8.0, "upper edge of the energy PDFs [log10 GeV]"}
{
}

void PointSourcePdfParameters::validate() const
{
    // Upper bounds far beyond any useful binning, so that a typo cannot ask for terabytes.
    if (sin_dec_bins() < 2 || sin_dec_bins() > 100000) throw sin_dec_bins.error("must be in [2, 100000]");
    if (energy_bins() < 1 || energy_bins() > 10000) throw energy_bins.error("must be in [1, 10000]");
    if (energy_sin_dec_bins() < 1 || energy_sin_dec_bins() > 10000)
        throw energy_sin_dec_bins.error("must be in [1, 10000]");
    if (log10e_min() >= log10e_max()) throw log10e_min.error("must be below log10e_max");
}

PointSourceSettings PointSourcePdfParameters::settings() const
{
    PointSourceSettings s;
    s.sin_dec_bins = static_cast<int>(sin_dec_bins());
    s.use_energy = use_energy();
    s.energy_binning.n_log_energy = static_cast<int>(energy_bins());
    s.energy_binning.n_sin_dec = static_cast<int>(energy_sin_dec_bins());
    s.energy_binning.log_energy_min = log10e_min();
    s.energy_binning.log_energy_max = log10e_max();
    return s;
}

namespace {

constexpr double deg = std::numbers::pi / 180.0;

// What the point-source hypotheses need from the module's keys: the source (in radians, and the
// configured degrees for /fit), its band and flux pivot in `source`, the PDFs' settings.
struct PointSourceSpec {
    double ra_deg = 0, dec_deg = 0;
    PointSourceSettings pdf;
    PointSourceInjectionSettings source;  // ra, dec [rad], injected gamma, band [rad], e0
    double yield_gamma = 2.0;
};

// One sample: the fit at the source with the sample's PDFs; background trials by
// PointSourceEvents::trial (O(candidates)); signal trials by PointSourceSignalTrials.
class PointSourceHypothesis : public Hypothesis {
public:
    PointSourceHypothesis(EventSample& sample, const PointSourceSpec& spec, const Comm& comm)
        : sample_(sample), spec_(spec), pdfs_(sample.data, sample.mc, comm, spec.pdf),
          n_total_(static_cast<double>(comm.sum(static_cast<std::int64_t>(sample.data.size())))),
          source_(unit_vector(spec.source.ra, spec.source.dec))
    {
    }

    std::string label() const override { return "point-source"; }

    TrialResult fit(RunContext& context) override
    {
        // The observed fit: events stay sharded, sums are reduced.
        const Comm& comm = context.comm;
        PointSourceEvents shard(sample_.data, pdfs_, n_total_);
        auto reduce = [&comm](double* values, int n) { comm.sum(values, n); };
        const FitResult observed = shard.fit(source_, reduce);
        auto& fit = context.results.group("/fit");
        fit.attributes["ts"] = observed.ts;
        fit.attributes["ns"] = observed.ns;
        fit.attributes["gamma"] = observed.gamma;
        fit.attributes["n_events"] = static_cast<std::int64_t>(n_total_);
        fit.attributes["n_evaluations"] = static_cast<std::int64_t>(observed.n_evaluations);
        fit.attributes["ra_deg"] = spec_.ra_deg;
        fit.attributes["dec_deg"] = spec_.dec_deg;
        fit.attributes["energy_term"] = std::string(shard.has_energy() ? "mc" : "none");
        log::info("fit at (" + std::to_string(spec_.ra_deg) + ", " + std::to_string(spec_.dec_deg) + ") deg: TS " +
                  std::to_string(observed.ts) + ", n_s " + std::to_string(observed.ns) +
                  (shard.has_energy() ? ", gamma " + std::to_string(observed.gamma) : ""));
        return TrialResult{observed.ts, observed.ns, observed.gamma};
    }

    void replicate(const Comm& comm) override { all_ = sample_.data.allgather(comm); }

    void background_trials(std::uint64_t seed, std::int64_t trial, int count, TrialResult* out) override
    {
        if (!replica_) replica_ = std::make_unique<PointSourceEvents>(all_, pdfs_, n_total_);
        for (int i = 0; i < count; ++i) {
            const auto r = replica_->trial(seed, trial + i, source_);  // = scramble + fit, O(candidates)
            out[i] = TrialResult{r.ts, r.ns, r.gamma};
        }
    }

    std::unique_ptr<Injector> injector(RunContext& context) override
    {
        return point_source_injector(sample_, spec_.source, context.comm);
    }

    TrialResult signal_trial(std::uint64_t seed, std::int64_t trial, const std::vector<Events>& injected) override
    {
        if (!signal_) signal_ = std::make_unique<PointSourceSignalTrials>(all_, pdfs_, source_);
        return (*signal_)(seed, trial, injected.front());
    }

private:
    EventSample& sample_;
    PointSourceSpec spec_;
    PointSourcePdfs pdfs_;
    double n_total_;
    UnitVector source_;
    Events all_;  // the whole sample on this rank (after replicate())
    std::unique_ptr<PointSourceEvents> replica_;
    std::unique_ptr<PointSourceSignalTrials> signal_;
};

// One event set per sample (this rank's shares for the observed fit, or replicas of the whole
// samples for trials), with their spatial S / B at the source, as the joint fit's terms.
struct JointEventSets {
    std::vector<std::unique_ptr<PointSourceEvents>> events;
    std::vector<Eigen::ArrayXd> spatial;
    std::vector<JointSampleTerm> terms;

    JointEventSets(const std::vector<const Events*>& sets, const std::vector<Sample>& samples,
                   const std::vector<std::unique_ptr<PointSourcePdfs>>& pdfs, const std::vector<PointSourceYield>& yields)
        : events(sets.size()), spatial(sets.size()), terms(sets.size())
    {
        for (std::size_t k = 0; k < sets.size(); ++k) {
            events[k] =
                std::make_unique<PointSourceEvents>(*sets[k], *pdfs[k], static_cast<double>(samples[k].n_events));
            terms[k].name = samples[k].name;
            terms[k].n_local = static_cast<std::size_t>(sets[k]->size());
            terms[k].n_total = static_cast<double>(samples[k].n_events);
            terms[k].sob_at_gamma = [this, k](double gamma, double* out) {
                events[k]->ratios().multiply(gamma, spatial[k].data(), out);
            };
            terms[k].yield = [&yields, k](double gamma) { return yields[k](gamma); };
        }
    }
    JointEventSets(const JointEventSets&) = delete;  // the terms point into this object
    JointEventSets& operator=(const JointEventSets&) = delete;
    void spatial_at(const UnitVector& source)
    {
        for (std::size_t k = 0; k < events.size(); ++k) events[k]->spatial_sob(source, spatial[k]);
    }
};

// Several samples: the joint fit of PHYSICS.md section 10, each sample with its own PDFs and
// yield; background trials scramble sample k with its own stream (seed, t, event, k).
class JointPointSourceHypothesis : public Hypothesis {
public:
    JointPointSourceHypothesis(std::vector<Sample>& samples, const PointSourceSpec& spec, const Comm& comm)
        : samples_(samples), spec_(spec), source_(unit_vector(spec.source.ra, spec.source.dec))
    {
        for (Sample& s : samples) {
            pdfs_.push_back(std::make_unique<PointSourcePdfs>(s.events.data, s.events.mc, comm, spec.pdf));
            any_energy_ = any_energy_ || pdfs_.back()->energy.has_value();
            const bool any_mc = comm.sum(static_cast<std::int64_t>(s.events.mc.size())) > 0;
            if (any_mc) {
                yields_.push_back(PointSourceYield::from_mc(s.events.mc, spec.source.dec, spec.source.band,
                                                            s.events.livetime_s, spec.source.e0_gev, comm));
            } else if (!s.events.effective_areas.empty()) {
                yields_.push_back(PointSourceYield::from_effective_areas(s.events.effective_areas, spec.source.dec,
                                                                             spec.source.e0_gev));
            } else {
                throw Error("point_source: sample " + s.name +
                            " has neither MC nor an effective area, so its signal yield (its share of n_s in "
                            "the joint fit) is unknown");
            }
        }
        if (!any_energy_) fit_settings_.gamma_min = fit_settings_.gamma_max = spec.yield_gamma;
    }

    std::string label() const override { return "joint point-source"; }

    TrialResult fit(RunContext& context) override
    {
        const Comm& comm = context.comm;
        const std::size_t n = samples_.size();
        std::vector<const Events*> shards;
        for (const auto& s : samples_) shards.push_back(&s.events.data);
        // The observed fit: events stay sharded, sums are reduced.
        JointEventSets observed(shards, samples_, pdfs_, yields_);
        observed.spatial_at(source_);
        auto reduce = [&comm](double* values, int count) { comm.sum(values, count); };
        const JointFitResult joint = fit_joint(observed.terms, fit_settings_, reduce);
        const auto& events = observed.events;

        std::int64_t n_total = 0;
        for (const auto& s : samples_) n_total += s.n_events;
        const double gamma = any_energy_ ? joint.fit.gamma : std::numeric_limits<double>::quiet_NaN();
        auto& fit = context.results.group("/fit");
        fit.attributes["ts"] = joint.fit.ts;
        fit.attributes["ns"] = joint.fit.ns;
        fit.attributes["gamma"] = gamma;
        fit.attributes["n_events"] = n_total;
        fit.attributes["n_evaluations"] = static_cast<std::int64_t>(joint.fit.n_evaluations);
        fit.attributes["ra_deg"] = spec_.ra_deg;
        fit.attributes["dec_deg"] = spec_.dec_deg;
        fit.attributes["n_samples"] = static_cast<std::int64_t>(n);
        if (!any_energy_) fit.attributes["yield_gamma"] = spec_.yield_gamma;
        std::string line = "joint fit of " + std::to_string(n) + " samples at (" + std::to_string(spec_.ra_deg) +
                           ", " + std::to_string(spec_.dec_deg) + ") deg: TS " + std::to_string(joint.fit.ts) +
                           ", n_s " + std::to_string(joint.fit.ns) +
                           (any_energy_ ? ", gamma " + std::to_string(joint.fit.gamma) : "");
        std::vector<bool> has_energy;
        std::vector<std::string> yield_source;
        for (std::size_t k = 0; k < n; ++k) {
            has_energy.push_back(events[k]->has_energy());
            yield_source.push_back(yields_[k].source());
        }
        log::info(line + record_joint_samples(context.results, samples_, joint, has_energy, yield_source));
        return TrialResult{joint.fit.ts, joint.fit.ns, gamma};
    }

    void replicate(const Comm& comm) override { whole_ = gather_samples(samples_, comm); }

    void background_trials(std::uint64_t seed, std::int64_t trial, int count, TrialResult* out) override
    {
        build_replicas();
        const double no_gamma = std::numeric_limits<double>::quiet_NaN();
        for (int i = 0; i < count; ++i) {
            for (std::size_t k = 0; k < samples_.size(); ++k)
                replica_->events[k]->scramble(seed, trial + i, samples_[k].stream);
            replica_->spatial_at(source_);
            const auto r = fit_joint(replica_->terms, fit_settings_, reduce_nothing);
            out[i] = TrialResult{r.fit.ts, r.fit.ns, any_energy_ ? r.fit.gamma : no_gamma};
        }
    }

    std::unique_ptr<Injector> injector(RunContext& context) override
    {
        const Comm& comm = context.comm;
        const auto& in = spec_.source;
        char name[160];
        std::snprintf(name, sizeof name,
                      "E^2 dN/dE at %g GeV [TeV cm^-2 s^-1], point flux E^-%g seen by all %zu samples", in.e0_gev,
                      in.gamma, samples_.size());
        auto pool_of = [&](const Sample& s) {
            return point_source_injection_pool(s.events.mc, in.ra, in.dec, in.gamma, in.band, in.e0_gev,
                                               s.events.livetime_s, comm);
        };
        auto injector = joint_injector(samples_, pool_of, in.e0_gev, name, "point_source", comm);
        injector->attributes["source_ra_deg"] = spec_.ra_deg;
        injector->attributes["source_dec_deg"] = spec_.dec_deg;
        injector->attributes["band_deg"] = in.band * 180.0 / std::numbers::pi;
        return injector;
    }

    TrialResult signal_trial(std::uint64_t seed, std::int64_t trial, const std::vector<Events>& injected) override
    {
        // Each sample scrambled as in its background trials, its injected events appended as a
        // second block of its term (their own S / B and energy ratios; N_k counts them).
        build_replicas();
        const std::size_t n = samples_.size();
        std::vector<std::unique_ptr<PointSourceEvents>> extra(n);
        std::vector<Eigen::ArrayXd> extra_spatial(n);
        std::vector<JointSampleTerm> terms = replica_->terms;
        for (std::size_t k = 0; k < n; ++k) {
            PointSourceEvents& scrambled = *replica_->events[k];
            scrambled.scramble(seed, trial, samples_[k].stream);
            scrambled.spatial_sob(source_, replica_->spatial[k]);
            const auto n_data = static_cast<std::size_t>(whole_[k].size());
            const auto n_injected = static_cast<std::size_t>(injected[k].size());
            terms[k].n_local = n_data + n_injected;
            terms[k].n_total = static_cast<double>(n_data + n_injected);
            if (n_injected == 0) continue;
            extra[k] = std::make_unique<PointSourceEvents>(injected[k], *pdfs_[k], terms[k].n_total);
            extra[k]->spatial_sob(source_, extra_spatial[k]);
            terms[k].sob_at_gamma = [&, k, n_data](double gamma, double* out) {
                replica_->events[k]->ratios().multiply(gamma, replica_->spatial[k].data(), out);
                extra[k]->ratios().multiply(gamma, extra_spatial[k].data(), out + n_data);
            };
        }
        const auto r = fit_joint(terms, fit_settings_, reduce_nothing);
        return TrialResult{r.fit.ts, r.fit.ns, any_energy_ ? r.fit.gamma : std::numeric_limits<double>::quiet_NaN()};
    }

private:
    // The event sets of trials, on the whole samples (after replicate()), made once.
    void build_replicas()
    {
        if (replica_) return;
        std::vector<const Events*> replicas;
        for (const auto& w : whole_) replicas.push_back(&w);
        replica_ = std::make_unique<JointEventSets>(replicas, samples_, pdfs_, yields_);
    }

    std::vector<Sample>& samples_;
    PointSourceSpec spec_;
    UnitVector source_;
    std::vector<std::unique_ptr<PointSourcePdfs>> pdfs_;
    std::vector<PointSourceYield> yields_;
    bool any_energy_ = false;
    FitSettings fit_settings_;
    std::vector<Events> whole_;  // every sample whole on this rank (after replicate())
    std::unique_ptr<JointEventSets> replica_;
};

class PointSourceLikelihood : public Likelihood {
public:
    Parameter<double> ra_deg{this, "ra_deg", 0.0, "source right ascension [deg] (task fit)"};
    Parameter<double> dec_deg{this, "dec_deg", 0.0, "source declination [deg] (task fit)"};
    PointSourcePdfParameters pdf{this};
    Parameter<double> inject_gamma{this, "inject_gamma", 2.0, "tasks inject, sensitivity: injected spectrum E^-gamma"};
    Parameter<double> inject_band_deg{this, "inject_band_deg", 3.0,
                                      "MC events with true dec within this of the source are injected (tasks inject, "
                                      "sensitivity) and give a sample's signal yield (joint samples) [deg]"};
    Parameter<double> yield_gamma{this, "yield_gamma", 2.0,
                                  "joint samples, none with an energy term: the spectral index E^-gamma of the "
                                  "signal yields that split n_s over the samples"};
    Parameter<double> flux_e0_gev{this, "flux_e0_gev", 1e5, "pivot energy of the reported fluxes [GeV]"};
    Parameter<double> scan_sob_threshold{this, "scan_sob_threshold", 1e-3,
                                         "task scan: an event enters a pixel's fit only where its largest S R / B "
                                         "reaches this (0: every event everywhere); see docs/scan.md"};
    Parameter<std::int64_t> pvalue_declinations{this, "pvalue_declinations", 12,
                                                "task scan: declinations (bin centres in sin dec) of the background "
                                                "TS distributions for local p-values"};
    Parameter<std::int64_t> pvalue_trials{this, "pvalue_trials", 200,
                                          "task scan: scrambled-sky trials per declination for local p-values "
                                          "(0: none, mlog10p = NaN)"};
    PathParameter<std::string> background_trials{this, "background_trials", "", PathKind::input_file,
                                                 "a nusky results file",
                                             "task scan: results file with /scan_background (a scan run) or "
                                             "/trials (a point_source trials run) to take local p-values from"};

    void validate() override
    {
        if (ra_deg() < 0 || ra_deg() >= 360) throw ra_deg.error("must be in [0, 360)");
        if (dec_deg() < -90 || dec_deg() > 90) throw dec_deg.error("must be in [-90, 90]");
        pdf.validate();
        if (!(inject_gamma() >= 1.0 && inject_gamma() <= 4.0)) throw inject_gamma.error("must be in [1, 4]");
        if (!(inject_band_deg() > 0.0 && inject_band_deg() <= 90.0)) throw inject_band_deg.error("must be in (0, 90]");
        if (!(flux_e0_gev() > 0.0) || !std::isfinite(flux_e0_gev())) throw flux_e0_gev.error("must be > 0");
        if (!(scan_sob_threshold() >= 0.0) || !std::isfinite(scan_sob_threshold()))
            throw scan_sob_threshold.error("must be a finite number >= 0");
        if (pvalue_declinations() < 1 || pvalue_declinations() > 1000)
            throw pvalue_declinations.error("must be in [1, 1000]");
        if (pvalue_trials() < 0 || pvalue_trials() > 100000000) throw pvalue_trials.error("must be in [0, 100000000]");
        if (!(yield_gamma() >= 1.0 && yield_gamma() <= 4.0)) throw yield_gamma.error("must be in [1, 4]");
    }

    bool joint() const override { return true; }
    std::vector<std::string> tasks() const override { return {"fit", "trials", "scan", "inject", "sensitivity"}; }
    std::vector<std::string> joint_tasks() const override { return {"fit", "trials", "inject", "sensitivity"}; }
    bool injects_from_mc() const override { return true; }

    void prepare(RunContext& context) override
    {
        if (!background_trials().empty()) background_ = read_background_trials(background_trials());
        // A source left at (0, 0) is almost always a forgotten key.
        if (context.job.task() != "scan" && (!ra_deg.was_set() || !dec_deg.was_set())) {
            std::string unset = !ra_deg.was_set() && !dec_deg.was_set() ? "ra_deg and dec_deg are"
                                : !ra_deg.was_set()                     ? "ra_deg is"
                                                                        : "dec_deg is";
            log::warn("[likelihood] " + unset + " not set: the source is at the default position (" +
                      param_parse::format(ra_deg()) + ", " + param_parse::format(dec_deg()) + ") deg");
        }
    }

    std::unique_ptr<Hypothesis> hypothesis(std::vector<Sample>& samples, RunContext& context) override
    {
        if (samples.size() == 1) return std::make_unique<PointSourceHypothesis>(samples.front().events, spec(), context.comm);
        return std::make_unique<JointPointSourceHypothesis>(samples, spec(), context.comm);
    }

    void scan(std::vector<Sample>& samples, RunContext& context) override
    {
        ScanTaskSettings s;
        s.nside = static_cast<int>(context.job.nside());
        s.sob_threshold = scan_sob_threshold();
        s.pvalue_declinations = static_cast<int>(pvalue_declinations());
        s.pvalue_trials = pvalue_trials();
        s.background_file = background_trials();
        s.loaded_background = background_;
        s.pdf_settings = pdf.settings();
        run_scan_task(samples.front().events, context, s);
    }

private:
    BackgroundTs background_;  // task scan with background_trials

    PointSourceSpec spec() const
    {
        PointSourceSpec s;
        s.ra_deg = ra_deg();
        s.dec_deg = dec_deg();
        s.pdf = pdf.settings();
        s.source = {ra_deg() * deg, dec_deg() * deg, inject_gamma(), inject_band_deg() * deg, flux_e0_gev()};
        s.yield_gamma = yield_gamma();
        return s;
    }
};

}  // namespace

NUSKY_REGISTER_MODULE(likelihood, PointSourceLikelihood, "point_source",
                      "unbinned point-source likelihood: fit of (n_s, gamma) at a position")

}  // namespace nusky

#include "likelihood/stacking/stacking.hpp"

#include "likelihood/common/flux.hpp"
#include "likelihood/common/inject.hpp"
#include "likelihood/common/joint_fit.hpp"
#include "likelihood/common/yield.hpp"

#include "nusky/data_dir.hpp"
#include "nusky/error.hpp"
#include "nusky/log.hpp"
#include "nusky/registry.hpp"
#include "nusky/rng.hpp"
#include "nusky/stages.hpp"
#include "nusky/trials.hpp"

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <limits>
#include <memory>
#include <numbers>

namespace nusky {

namespace {
constexpr double kPi = std::numbers::pi;
constexpr double deg = kPi / 180.0;
}  // namespace

StackingAcceptance::StackingAcceptance(const std::vector<Source>& sources, const GammaGrid& grid)
    : grid_(grid), n_sources_(sources.size()),
      values_(static_cast<std::size_t>(grid.size) * sources.size(), 1.0)
{
}

StackingAcceptance::StackingAcceptance(const std::vector<Source>& sources, const GammaGrid& grid,
                                       const Events& mc, int bins, const Comm& comm)
    : grid_(grid), n_sources_(sources.size()), from_mc_(true)
{
    if (bins < 1) throw Error("stacking: need at least one acceptance bin");
    const auto G = static_cast<std::size_t>(grid.size), B = static_cast<std::size_t>(bins);
    const double width = 2.0 / static_cast<double>(bins);
    // The MC's (bin, log E, OW) gathered in the global MC order and summed in that order on
    // every rank: the same floating-point sums whatever the rank count (a reduction of
    // per-rank partial sums would round differently for different rank counts).
    std::vector<double> bin, log_e, ow;
    for (Eigen::Index i = 0; i < mc.size(); ++i) {
        const double z = std::sin(mc.true_dec[i]);
        if (!(mc.oneweight[i] > 0.0) || !(mc.true_energy[i] > 0.0) || !std::isfinite(z)) continue;
        bin.push_back(static_cast<double>(
            std::min<std::size_t>(B - 1, static_cast<std::size_t>(std::max(0.0, (z + 1.0) / width)))));
        log_e.push_back(std::log(mc.true_energy[i]));
        ow.push_back(mc.oneweight[i]);
    }
    bin = comm.allgather(bin);
    log_e = comm.allgather(log_e);
    ow = comm.allgather(ow);
    std::vector<double> hist(G * B, 0.0);
    for (std::size_t i = 0; i < ow.size(); ++i) {
        const auto b = static_cast<std::size_t>(bin[i]);
        for (std::size_t g = 0; g < G; ++g) hist[g * B + b] += ow[i] * std::exp(-grid.value(static_cast<int>(g)) * log_e[i]);
    }
    // Per gamma: the value at each source, linear between bin centres, constant beyond the outer ones.
    values_.assign(G * n_sources_, 0.0);
    for (std::size_t g = 0; g < G; ++g) {
        for (std::size_t k = 0; k < n_sources_; ++k) {
            const double x = (std::sin(sources[k].dec) + 1.0) / width - 0.5;  // in bin-centre units
            double v;
            if (x <= 0.0) v = hist[g * B];
            else if (x >= static_cast<double>(B - 1)) v = hist[g * B + B - 1];
            else {
                const auto j = static_cast<std::size_t>(std::floor(x));
                const double t = x - static_cast<double>(j);
                v = (1.0 - t) * hist[g * B + j] + t * hist[g * B + j + 1];
            }
            values_[g * n_sources_ + k] = v;
        }
    }
}

std::vector<double> StackingAcceptance::coefficients(const std::vector<Source>& sources, double gamma) const
{
    int k0;
    double t;
    grid_.locate(gamma, k0, t);
    std::vector<double> acc(n_sources_);
    for (std::size_t k = 0; k < n_sources_; ++k) {
        double v = values_[static_cast<std::size_t>(k0) * n_sources_ + k];
        if (t > 0.0) v = (1.0 - t) * v + t * values_[static_cast<std::size_t>(k0 + 1) * n_sources_ + k];
        acc[k] = v;
    }
    return stacking_coefficients(sources, acc);
}

std::vector<double> StackingAcceptance::grid_weights(const std::vector<Source>& sources, int g) const
{
    std::vector<double> w(n_sources_);
    for (std::size_t k = 0; k < n_sources_; ++k)
        w[k] = sources[k].weight * values_[static_cast<std::size_t>(g) * n_sources_ + k];
    return w;
}

StackingEvents::StackingEvents(const Events& events, const PointSourcePdfs& pdfs, const std::vector<Source>& sources,
                               const StackingAcceptance& acceptance, double n_total)
    : pdfs_(pdfs), sources_(sources), acceptance_(acceptance), x_(events.x), y_(events.y), z_(events.z),
      cos_dec_(events.dec.cos()), vmf_(vmf_event_constants(events.sigma)), has_energy_(pdfs.energy.has_value()),
      n_total_(n_total)
{
    pdfs.background.background_density(events.z, background_density_);
    ratios_ = has_energy_ ? pdfs.energy->event_ratios(events.z, events.log10_energy)
                          : EventEnergyRatios::unity(events.size());
    compute_matrix();
}

void StackingEvents::compute_matrix()
{
    const Eigen::Index n = x_.size(), K = static_cast<Eigen::Index>(sources_.size());
    sob_.resize(n, K);
    Eigen::ArrayXd column;
    for (Eigen::Index k = 0; k < K; ++k) {
        const auto& s = sources_[static_cast<std::size_t>(k)];
        vmf_density(x_, y_, z_, vmf_, unit_vector(s.ra, s.dec), column);
        sob_.col(k) = (column / background_density_).matrix();
    }
    const auto G = static_cast<std::size_t>(acceptance_.grid().size);
    grid_stacked_.resize(G);
    grid_norm_.assign(G, 0.0);
    grid_ready_.assign(G, 0);
}

const Eigen::VectorXd& StackingEvents::grid_vector(int g)
{
    const auto i = static_cast<std::size_t>(g);
    if (!grid_ready_[i]) {
        const auto w = acceptance_.grid_weights(sources_, g);
        double norm = 0.0;
        for (double v : w) norm += v;
        grid_norm_[i] = norm;
        grid_stacked_[i] = sob_ * Eigen::Map<const Eigen::VectorXd>(w.data(), static_cast<Eigen::Index>(w.size()));
        grid_ready_[i] = 1;
    }
    return grid_stacked_[i];
}

void StackingEvents::scramble(std::uint64_t seed, std::int64_t trial, std::uint64_t sample)
{
    CounterRng rng(seed, static_cast<std::uint64_t>(trial), 0, sample);
    const double two_pi = 2.0 * kPi;
    for (Eigen::Index i = 0; i < x_.size(); ++i) {
        const double ra = two_pi * rng.uniform();
        x_[i] = cos_dec_[i] * std::cos(ra);
        y_[i] = cos_dec_[i] * std::sin(ra);
    }
    compute_matrix();
}

void StackingEvents::stack_at(double gamma)
{
    int g;
    double t;
    acceptance_.grid().locate(gamma, g, t);
    const Eigen::VectorXd& lo = grid_vector(g);
    if (t > 0.0) {
        const Eigen::VectorXd& hi = grid_vector(g + 1);
        const double norm =
            (1.0 - t) * grid_norm_[static_cast<std::size_t>(g)] + t * grid_norm_[static_cast<std::size_t>(g) + 1];
        if (!(norm > 0.0)) throw Error("stacking: the weighted acceptance of all sources is zero");
        stacked_ = ((1.0 - t) * lo + t * hi) / norm;
    } else {
        if (!(grid_norm_[static_cast<std::size_t>(g)] > 0.0))
            throw Error("stacking: the weighted acceptance of all sources is zero");
        stacked_ = lo / grid_norm_[static_cast<std::size_t>(g)];
    }
}

void StackingEvents::sob_at_gamma(double gamma, double* out)
{
    stack_at(gamma);
    if (has_energy_) {
        ratios_.multiply(gamma, stacked_.data(), out);
    } else {
        std::copy(stacked_.data(), stacked_.data() + stacked_.size(), out);
    }
}

FitResult StackingEvents::fit(const ReduceSum& reduce)
{
    const auto n = static_cast<std::size_t>(x_.size());
    const EventTotals totals{n_total_, n_total_};
    auto stack = [&](double gamma) { stack_at(gamma); };
    if (!has_energy_) {
        stack(2.0);  // no energy term: the acceptance of an E^-2 spectrum
        auto r = fitter_.fit_ns(stacked_.data(), n, totals, reduce);
        r.gamma = std::numeric_limits<double>::quiet_NaN();
        return r;
    }
    return fitter_.fit(
        [&](double gamma, double* out) {
            stack(gamma);
            ratios_.multiply(gamma, stacked_.data(), out);
        },
        n, totals, reduce);
}

namespace {

class StackingLikelihood : public Likelihood {
public:
    PathParameter<std::string> catalog{this, "catalog", "", PathKind::input_file, "a source catalog",
                                   "source catalog (name ra_deg dec_deg [weight] per line); default: the "
                                   "109-source list catalogs/Source_List_DNNC.txt of the gp2023 release"};
    Parameter<std::int64_t> max_sources{this, "max_sources", 0, "use only the first N sources (0: all)"};
    Parameter<bool> acceptance_weighting{this, "acceptance_weighting", true,
                                         "multiply the weights by the MC acceptance at each source (needs MC)"};
    Parameter<std::int64_t> acceptance_bins{this, "acceptance_bins", 40, "sin(true dec) bins of the acceptance"};
    PointSourcePdfParameters pdf{this};
    Parameter<double> inject_gamma{this, "inject_gamma", 2.0, "tasks inject, sensitivity: injected spectrum E^-gamma"};
    Parameter<double> inject_band_deg{this, "inject_band_deg", 3.0,
                                      "tasks inject, sensitivity (and joint samples' yields): MC events with true "
                                      "dec within this of a source are injected at it [deg]"};
    Parameter<double> flux_e0_gev{this, "flux_e0_gev", 1e5, "pivot energy of the reported fluxes [GeV]"};

    void validate() override
    {
        if (max_sources() < 0) throw max_sources.error("must be >= 0");
        if (acceptance_bins() < 1 || acceptance_bins() > 100000) throw acceptance_bins.error("must be in [1, 100000]");
        pdf.validate();
        if (!(inject_gamma() >= 1.0 && inject_gamma() <= 4.0)) throw inject_gamma.error("must be in [1, 4]");
        if (!(inject_band_deg() > 0.0 && inject_band_deg() <= 90.0)) throw inject_band_deg.error("must be in (0, 90]");
        if (!(flux_e0_gev() > 0.0) || !std::isfinite(flux_e0_gev())) throw flux_e0_gev.error("must be > 0");
    }

    std::vector<std::string> tasks() const override { return {"fit", "trials", "inject", "sensitivity"}; }
    bool joint() const override { return true; }
    bool injects_from_mc() const override { return true; }

    void prepare(RunContext&) override
    {
        path_ = catalog().empty() ? find_gp2023_dir() + "/catalogs/Source_List_DNNC.txt" : catalog();
        sources_ = read_source_catalog(path_);
        if (max_sources() > 0 && static_cast<std::size_t>(max_sources()) < sources_.size())
            sources_.resize(static_cast<std::size_t>(max_sources()));
    }

    PointSourceSettings settings() const { return pdf.settings(); }

    std::unique_ptr<Hypothesis> hypothesis(std::vector<Sample>& samples, RunContext& context) override;

private:
    std::string path_;
    std::vector<Source> sources_;
};

// /stacking: the catalog's name, ra_deg, dec_deg and weight of each source.
void record_sources(Results& results, const std::vector<Source>& sources, const Comm& comm)
{
    std::vector<std::string> names;
    std::vector<double> ra, dec, weight;
    for (const auto& s : sources) {
        names.push_back(s.name);
        ra.push_back(s.ra / deg);
        dec.push_back(s.dec / deg);
        weight.push_back(s.weight);
    }
    results.set_replicated("/stacking", "name", names, comm);
    results.set_replicated("/stacking", "ra_deg", ra, comm);
    results.set_replicated("/stacking", "dec_deg", dec, comm);
    results.set_replicated("/stacking", "weight", weight, comm);
}

// The stacked fit of one (n_s, gamma) over the catalog, sources weighted by weight x acceptance.
class StackingHypothesis : public Hypothesis {
public:
    // What signal trials inject: E^-gamma at every source, flux in proportion to its weight.
    struct InjectionSpec {
        double gamma = 2.0;
        double band = 0.0;  // true-declination band half-width [rad]
        double e0_gev = 1e5;
    };

    StackingHypothesis(EventSample& sample, const std::vector<Source>& sources, std::string catalog_path,
                       const PointSourceSettings& pdf_settings, bool acceptance_weighting, int acceptance_bins,
                       const InjectionSpec& injection, const Comm& comm)
        : sample_(sample), sources_(sources), catalog_path_(std::move(catalog_path)), injection_(injection),
          pdfs_(sample.data, sample.mc, comm, pdf_settings),
          weighted_(acceptance_weighting && comm.sum(static_cast<std::int64_t>(sample.mc.size())) > 0),
          acceptance_(weighted_ ? StackingAcceptance(sources, pdf_settings.gamma_grid, sample.mc, acceptance_bins, comm)
                                : StackingAcceptance(sources, pdf_settings.gamma_grid)),
          n_total_(static_cast<double>(comm.sum(static_cast<std::int64_t>(sample.data.size()))))
    {
        if (acceptance_weighting && !weighted_) log::warn("stacking: no MC, sources weighted by their catalog weights only");
    }

    std::string label() const override { return "stacking"; }

    TrialResult fit(RunContext& context) override
    {
        const Comm& comm = context.comm;
        auto reduce = [&comm](double* values, int n) { comm.sum(values, n); };
        StackingEvents shard(sample_.data, pdfs_, sources_, acceptance_, n_total_);
        const FitResult observed = shard.fit(reduce);
        auto& fit = context.results.group("/fit");
        fit.attributes["ts"] = observed.ts;
        fit.attributes["ns"] = observed.ns;
        fit.attributes["gamma"] = observed.gamma;
        fit.attributes["n_events"] = static_cast<std::int64_t>(n_total_);
        fit.attributes["n_evaluations"] = static_cast<std::int64_t>(observed.n_evaluations);
        fit.attributes["n_sources"] = static_cast<std::int64_t>(sources_.size());
        fit.attributes["catalog"] = catalog_path_;
        fit.attributes["acceptance"] = std::string(weighted_ ? "mc" : "equal");
        fit.attributes["energy_term"] = std::string(shard.has_energy() ? "mc" : "none");
        const double gamma_for_coefficients = std::isfinite(observed.gamma) ? observed.gamma : 2.0;
        record_sources(context.results, sources_, comm);
        context.results.set_replicated("/stacking", "coefficient",
                                       acceptance_.coefficients(sources_, gamma_for_coefficients), comm);
        log::info("stacking of " + std::to_string(sources_.size()) + " sources (" + catalog_path_ + "): TS " +
                  std::to_string(observed.ts) + ", n_s " + std::to_string(observed.ns) +
                  (shard.has_energy() ? ", gamma " + std::to_string(observed.gamma) : ""));
        return TrialResult{observed.ts, observed.ns, observed.gamma};
    }

    void replicate(const Comm& comm) override { all_ = sample_.data.allgather(comm); }

    void background_trials(std::uint64_t seed, std::int64_t trial, int count, TrialResult* out) override
    {
        if (!replica_) replica_ = std::make_unique<StackingEvents>(all_, pdfs_, sources_, acceptance_, n_total_);
        for (int i = 0; i < count; ++i) {
            replica_->scramble(seed, trial + i);
            const auto r = replica_->fit(reduce_nothing);
            out[i] = TrialResult{r.ts, r.ns, r.gamma};
        }
    }

    std::unique_ptr<Injector> injector(RunContext& context) override
    {
        const Comm& comm = context.comm;
        if (comm.sum(static_cast<std::int64_t>(sample_.mc.size())) == 0)
            throw Error("stacking: tasks inject and sensitivity need MC events to inject");
        InjectionPool pool = stacking_injection_pool(sample_.mc, sources_, injection_.gamma, injection_.band,
                                                     injection_.e0_gev, sample_.livetime_s, comm);
        // One flux unit (E^2 dN/dE at E0 summed over the sources, TeV cm^-2 s^-1) is
        // 1 / e2_flux_tev(1 event) events.
        double per_flux_unit = 0.0;
        if (sample_.livetime_s > 0 && pool.events_per_unit_flux > 0)
            per_flux_unit = 1.0 / e2_flux_tev(1.0, pool.events_per_unit_flux, 1.0, injection_.e0_gev);
        char name[160];
        std::snprintf(name, sizeof name,
                      "E^2 dN/dE at %g GeV [TeV cm^-2 s^-1] summed over %zu sources (in proportion to their weights), "
                      "E^-%g",
                      injection_.e0_gev, sources_.size(), injection_.gamma);
        auto injector = std::make_unique<PoolInjector>(std::move(pool), per_flux_unit, name);
        injector->attributes["n_sources"] = static_cast<std::int64_t>(sources_.size());
        injector->attributes["band_deg"] = injection_.band / deg;
        return injector;
    }

    TrialResult signal_trial(std::uint64_t seed, std::int64_t trial, const std::vector<Events>& injected) override
    {
        // The background as StackingEvents::scramble leaves it (the same stream and arithmetic),
        // then the injected events appended; the fit counts them in N.
        if (all_cos_dec_.size() != all_.size()) all_cos_dec_ = all_.dec.cos();
        Events events = all_;
        CounterRng rng(seed, static_cast<std::uint64_t>(trial), 0);
        for (Eigen::Index i = 0; i < events.size(); ++i) {
            const double ra = 2.0 * kPi * rng.uniform();
            events.ra[i] = ra;
            events.x[i] = all_cos_dec_[i] * std::cos(ra);
            events.y[i] = all_cos_dec_[i] * std::sin(ra);
        }
        events.append(injected.front());
        StackingEvents trial_events(events, pdfs_, sources_, acceptance_, static_cast<double>(events.size()));
        const auto r = trial_events.fit(reduce_nothing);
        return TrialResult{r.ts, r.ns, r.gamma};
    }

private:
    EventSample& sample_;
    const std::vector<Source>& sources_;
    std::string catalog_path_;
    InjectionSpec injection_;
    PointSourcePdfs pdfs_;
    bool weighted_;
    StackingAcceptance acceptance_;
    double n_total_;
    Events all_;  // the whole sample on this rank (after replicate())
    Eigen::ArrayXd all_cos_dec_;
    std::unique_ptr<StackingEvents> replica_;
};

// Several samples (PHYSICS.md section 10): one stacked (n_s, gamma), split over the samples by
// their yields Y_k = sum over sources of weight x the sample's point-source yield there; each
// sample with its own PDFs, acceptance weights and scramble stream.
class JointStackingHypothesis : public Hypothesis {
public:
    JointStackingHypothesis(std::vector<Sample>& samples, const std::vector<Source>& sources, std::string catalog_path,
                            const PointSourceSettings& pdf_settings, bool acceptance_weighting, int acceptance_bins,
                            const StackingHypothesis::InjectionSpec& yield_spec, const Comm& comm)
        : samples_(samples), sources_(sources), catalog_path_(std::move(catalog_path)), injection_(yield_spec)
    {
        for (Sample& s : samples) {
            const EventSample& e = s.events;
            pdfs_.push_back(std::make_unique<PointSourcePdfs>(e.data, e.mc, comm, pdf_settings));
            any_energy_ = any_energy_ || pdfs_.back()->energy.has_value();
            const bool any_mc = comm.sum(static_cast<std::int64_t>(e.mc.size())) > 0;
            weighted_.push_back(acceptance_weighting && any_mc);
            acceptance_.push_back(weighted_.back() ? std::make_unique<StackingAcceptance>(
                                                         sources, pdf_settings.gamma_grid, e.mc, acceptance_bins, comm)
                                                   : std::make_unique<StackingAcceptance>(sources, pdf_settings.gamma_grid));
            std::vector<PointSourceYield> per_source;
            for (const Source& source : sources) {
                if (any_mc) {
                    per_source.push_back(PointSourceYield::from_mc(e.mc, source.dec, yield_spec.band, e.livetime_s,
                                                                   yield_spec.e0_gev, comm));
                } else if (!e.effective_areas.empty()) {
                    per_source.push_back(
                        PointSourceYield::from_effective_areas(e.effective_areas, source.dec, yield_spec.e0_gev));
                } else {
                    throw Error("stacking: sample " + s.name +
                                " has neither MC nor an effective area, so its signal yield (its share of n_s in the "
                                "joint fit) is unknown");
                }
            }
            yield_source_.push_back(per_source.empty() ? std::string("none") : per_source.front().source());
            yields_.push_back(std::move(per_source));
        }
        // Without any energy term, gamma stays at 2 (the acceptance of an E^-2 spectrum), as for one sample.
        if (!any_energy_) fit_settings_.gamma_min = fit_settings_.gamma_max = 2.0;
    }

    std::string label() const override { return "joint stacking"; }

    TrialResult fit(RunContext& context) override
    {
        const Comm& comm = context.comm;
        std::vector<std::unique_ptr<StackingEvents>> shards;
        for (std::size_t k = 0; k < samples_.size(); ++k) {
            shards.push_back(std::make_unique<StackingEvents>(samples_[k].events.data, *pdfs_[k], sources_,
                                                              *acceptance_[k], static_cast<double>(samples_[k].n_events)));
        }
        auto reduce = [&comm](double* values, int count) { comm.sum(values, count); };
        std::vector<double> n_totals;
        for (const auto& s : samples_) n_totals.push_back(static_cast<double>(s.n_events));
        const JointFitResult joint = fit_joint(terms_of(shards, n_totals), fit_settings_, reduce);
        const double gamma = any_energy_ ? joint.fit.gamma : std::numeric_limits<double>::quiet_NaN();
        std::int64_t n_total = 0;
        for (const auto& s : samples_) n_total += s.n_events;
        auto& fit = context.results.group("/fit");
        fit.attributes["ts"] = joint.fit.ts;
        fit.attributes["ns"] = joint.fit.ns;
        fit.attributes["gamma"] = gamma;
        fit.attributes["n_events"] = n_total;
        fit.attributes["n_evaluations"] = static_cast<std::int64_t>(joint.fit.n_evaluations);
        fit.attributes["n_sources"] = static_cast<std::int64_t>(sources_.size());
        fit.attributes["catalog"] = catalog_path_;
        fit.attributes["n_samples"] = static_cast<std::int64_t>(samples_.size());
        std::string line = "joint stacking of " + std::to_string(sources_.size()) + " sources over " +
                           std::to_string(samples_.size()) + " samples: TS " + std::to_string(joint.fit.ts) +
                           ", n_s " + std::to_string(joint.fit.ns) +
                           (any_energy_ ? ", gamma " + std::to_string(joint.fit.gamma) : "");
        std::vector<bool> has_energy;
        for (std::size_t k = 0; k < samples_.size(); ++k) {
            has_energy.push_back(shards[k]->has_energy());
            context.results.group("/fit/samples/" + samples_[k].name).attributes["acceptance"] =
                std::string(weighted_[k] ? "mc" : "equal");
        }
        line += record_joint_samples(context.results, samples_, joint, has_energy, yield_source_);
        record_sources(context.results, sources_, comm);
        log::info(line);
        return TrialResult{joint.fit.ts, joint.fit.ns, gamma};
    }

    void replicate(const Comm& comm) override { whole_ = gather_samples(samples_, comm); }

    void background_trials(std::uint64_t seed, std::int64_t trial, int count, TrialResult* out) override
    {
        if (replicas_.empty()) {
            std::vector<double> n_totals;
            for (std::size_t k = 0; k < samples_.size(); ++k) {
                replicas_.push_back(std::make_unique<StackingEvents>(whole_[k], *pdfs_[k], sources_, *acceptance_[k],
                                                                     static_cast<double>(whole_[k].size())));
                n_totals.push_back(static_cast<double>(whole_[k].size()));
            }
            replica_terms_ = terms_of(replicas_, n_totals);
        }
        const double no_gamma = std::numeric_limits<double>::quiet_NaN();
        for (int i = 0; i < count; ++i) {
            for (std::size_t k = 0; k < samples_.size(); ++k) replicas_[k]->scramble(seed, trial + i, samples_[k].stream);
            const auto r = fit_joint(replica_terms_, fit_settings_, reduce_nothing);
            out[i] = TrialResult{r.fit.ts, r.fit.ns, any_energy_ ? r.fit.gamma : no_gamma};
        }
    }

    // One flux at every source (in proportion to the weights) seen by every sample: sample k gets
    // Poisson(mu Y_k / sum Y) events from its own MC and streams (JointPoolInjector).
    std::unique_ptr<Injector> injector(RunContext& context) override
    {
        const Comm& comm = context.comm;
        char name[200];
        std::snprintf(name, sizeof name,
                      "E^2 dN/dE at %g GeV [TeV cm^-2 s^-1] summed over %zu sources (in proportion to their weights), "
                      "E^-%g, seen by all %zu samples",
                      injection_.e0_gev, sources_.size(), injection_.gamma, samples_.size());
        auto pool_of = [&](const Sample& s) {
            return stacking_injection_pool(s.events.mc, sources_, injection_.gamma, injection_.band, injection_.e0_gev,
                                           s.events.livetime_s, comm);
        };
        auto injector = joint_injector(samples_, pool_of, injection_.e0_gev, name, "stacking", comm);
        injector->attributes["n_sources"] = static_cast<std::int64_t>(sources_.size());
        injector->attributes["band_deg"] = injection_.band / deg;
        return injector;
    }

    // Each sample scrambled as in its background trial (the same stream and arithmetic as
    // StackingEvents::scramble), its injected events appended; one joint fit, N_k counting them.
    TrialResult signal_trial(std::uint64_t seed, std::int64_t trial, const std::vector<Events>& injected) override
    {
        const std::size_t n = samples_.size();
        if (whole_cos_dec_.size() != n) {
            for (const auto& w : whole_) whole_cos_dec_.push_back(w.dec.cos());
        }
        std::vector<Events> events(n);
        std::vector<std::unique_ptr<StackingEvents>> sets;
        std::vector<double> n_totals;
        for (std::size_t k = 0; k < n; ++k) {
            events[k] = whole_[k];
            CounterRng rng(seed, static_cast<std::uint64_t>(trial), 0, samples_[k].stream);
            for (Eigen::Index i = 0; i < events[k].size(); ++i) {
                const double ra = 2.0 * kPi * rng.uniform();
                events[k].ra[i] = ra;
                events[k].x[i] = whole_cos_dec_[k][i] * std::cos(ra);
                events[k].y[i] = whole_cos_dec_[k][i] * std::sin(ra);
            }
            events[k].append(injected[k]);
            sets.push_back(std::make_unique<StackingEvents>(events[k], *pdfs_[k], sources_, *acceptance_[k],
                                                            static_cast<double>(events[k].size())));
            n_totals.push_back(static_cast<double>(events[k].size()));
        }
        const auto r = fit_joint(terms_of(sets, n_totals), fit_settings_, reduce_nothing);
        return TrialResult{r.fit.ts, r.fit.ns, any_energy_ ? r.fit.gamma : std::numeric_limits<double>::quiet_NaN()};
    }

private:
    // The samples' terms of the joint fit, reading the event sets (which must outlive them);
    // n_totals: each sample's N_k.
    std::vector<JointSampleTerm> terms_of(const std::vector<std::unique_ptr<StackingEvents>>& sets,
                                          const std::vector<double>& n_totals) const
    {
        std::vector<JointSampleTerm> terms(sets.size());
        for (std::size_t k = 0; k < sets.size(); ++k) {
            StackingEvents* events = sets[k].get();
            terms[k].name = samples_[k].name;
            terms[k].n_local = events->size();
            terms[k].n_total = n_totals[k];
            terms[k].sob_at_gamma = [events](double gamma, double* out) { events->sob_at_gamma(gamma, out); };
            const auto* yields = &yields_[k];
            const auto* sources = &sources_;
            terms[k].yield = [yields, sources](double gamma) {
                double y = 0.0;
                for (std::size_t s = 0; s < sources->size(); ++s) y += (*sources)[s].weight * (*yields)[s](gamma);
                return y;
            };
        }
        return terms;
    }

    std::vector<Sample>& samples_;
    const std::vector<Source>& sources_;
    std::string catalog_path_;
    StackingHypothesis::InjectionSpec injection_;
    std::vector<std::unique_ptr<PointSourcePdfs>> pdfs_;
    std::vector<std::unique_ptr<StackingAcceptance>> acceptance_;
    std::vector<bool> weighted_;
    std::vector<std::vector<PointSourceYield>> yields_;  // [sample][source]
    std::vector<std::string> yield_source_;
    bool any_energy_ = false;
    FitSettings fit_settings_;
    std::vector<Events> whole_;  // each sample's events on this rank (after replicate())
    std::vector<Eigen::ArrayXd> whole_cos_dec_;
    std::vector<std::unique_ptr<StackingEvents>> replicas_;
    std::vector<JointSampleTerm> replica_terms_;
};

std::unique_ptr<Hypothesis> StackingLikelihood::hypothesis(std::vector<Sample>& samples, RunContext& context)
{
    if (samples.size() > 1) {
        return std::make_unique<JointStackingHypothesis>(
            samples, sources_, path_, settings(), acceptance_weighting(), static_cast<int>(acceptance_bins()),
            StackingHypothesis::InjectionSpec{inject_gamma(), inject_band_deg() * deg, flux_e0_gev()}, context.comm);
    }
    return std::make_unique<StackingHypothesis>(samples.front().events, sources_, path_, settings(),
                                                acceptance_weighting(), static_cast<int>(acceptance_bins()),
                                                StackingHypothesis::InjectionSpec{inject_gamma(), inject_band_deg() * deg,
                                                                                  flux_e0_gev()},
                                                context.comm);
}

}  // namespace

NUSKY_REGISTER_MODULE(likelihood, StackingLikelihood, "stacking",
                      "stacking of a source catalog: one (n_s, gamma), sources weighted by weight x acceptance")

}  // namespace nusky

#include "likelihood/point_source/point_source.hpp"

#include "nusky/log.hpp"
#include "nusky/rng.hpp"
#include "nusky/trials.hpp"
#include "likelihood/common/trial_tasks.hpp"
#include "nusky/registry.hpp"
#include "nusky/stages.hpp"

#include <limits>
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
    if (!settings.use_energy || !any_mc) return;
    const auto& binning = settings.energy_binning;
    std::vector<double> data_counts(static_cast<std::size_t>(binning.n_cells()), 0.0);
    fill_energy_data_counts(binning, local_data.z, local_data.log10_energy, data_counts);
    comm.sum(data_counts.data(), static_cast<int>(data_counts.size()));
    std::vector<double> mc_counts(static_cast<std::size_t>(binning.n_cells() * settings.gamma_grid.size), 0.0);
    fill_energy_mc_counts(binning, settings.gamma_grid, local_mc.z, local_mc.log10_energy,
                          local_mc.true_energy, local_mc.oneweight, mc_counts);
    comm.sum(mc_counts.data(), static_cast<int>(mc_counts.size()));
    energy.emplace(binning, settings.gamma_grid, data_counts, mc_counts);
}

PointSourceEvents::PointSourceEvents(const Events& events, const PointSourcePdfs& pdfs, double n_total)
    : events_(events), x_(events.x), y_(events.y), z_(events.z), cos_dec_(events.dec.cos()),
      vmf_(vmf_event_constants(events.sigma)), has_energy_(pdfs.energy.has_value()), n_total_(n_total)
{
    pdfs.background.background_density(events.z, background_density_);
    ratios_ = has_energy_ ? pdfs.energy->event_ratios(events.z, events.log10_energy)
                          : EventEnergyRatios::unity(events.size());
}

void PointSourceEvents::spatial_sob(const UnitVector& source, Eigen::ArrayXd& out) const
{
    vmf_density(x_, y_, z_, vmf_, source, out);
    out /= background_density_;
}

FitResult PointSourceEvents::fit(const UnitVector& source, const ReduceSum& reduce)
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

void PointSourceEvents::scramble(std::uint64_t seed, std::int64_t trial)
{
    // One stream per trial; event i takes the i-th draw of that stream.
    CounterRng rng(seed, static_cast<std::uint64_t>(trial), 0);
    const double two_pi = 2.0 * std::numbers::pi;
    for (Eigen::Index i = 0; i < x_.size(); ++i) {
        double ra = two_pi * rng.uniform();
        x_[i] = cos_dec_[i] * std::cos(ra);
        y_[i] = cos_dec_[i] * std::sin(ra);
    }
}

namespace {

constexpr double deg = std::numbers::pi / 180.0;

class PointSourceLikelihood : public Likelihood {
public:
    Parameter<double> ra_deg{this, "ra_deg", 0.0, "source right ascension [deg] (task fit)"};
    Parameter<double> dec_deg{this, "dec_deg", 0.0, "source declination [deg] (task fit)"};
    Parameter<std::int64_t> sin_dec_bins{this, "sin_dec_bins", 40, "bins of the background sin(dec) histogram"};
    Parameter<bool> use_energy{this, "use_energy", true, "use the energy ratio (needs MC; R = 1 without)"};
    Parameter<std::int64_t> energy_bins{this, "energy_bins", 30, "log10 E bins of the energy PDFs"};
    Parameter<std::int64_t> energy_sin_dec_bins{this, "energy_sin_dec_bins", 20, "sin(dec) bins of the energy PDFs"};
    Parameter<double> log10e_min{this, "log10e_min", 1.0, "lower edge of the energy PDFs [log10 GeV]"};
    Parameter<double> log10e_max{this, "log10e_max", 8.0, "upper edge of the energy PDFs [log10 GeV]"};

    void validate() override
    {
        if (ra_deg() < 0 || ra_deg() >= 360) throw ra_deg.error("must be in [0, 360)");
        if (dec_deg() < -90 || dec_deg() > 90) throw dec_deg.error("must be in [-90, 90]");
        if (sin_dec_bins() < 2) throw sin_dec_bins.error("must be >= 2");
        if (energy_bins() < 1) throw energy_bins.error("must be >= 1");
        if (energy_sin_dec_bins() < 1) throw energy_sin_dec_bins.error("must be >= 1");
        if (log10e_min() >= log10e_max()) throw log10e_min.error("must be below log10e_max");
    }

    std::vector<std::string> tasks() const override { return {"fit", "trials"}; }

    PointSourceSettings settings() const
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

    void run(EventSample& sample, RunContext& context) override
    {
        const Comm& comm = context.comm;
        PointSourcePdfs pdfs(sample.data, sample.mc, comm, settings());
        const double n_total = static_cast<double>(comm.sum(static_cast<std::int64_t>(sample.data.size())));
        const UnitVector source = unit_vector(ra_deg() * deg, dec_deg() * deg);

        // The observed fit: events stay sharded, sums are reduced.
        PointSourceEvents shard(sample.data, pdfs, n_total);
        auto reduce = [&comm](double* values, int n) { comm.sum(values, n); };
        FitResult observed = shard.fit(source, reduce);
        auto& fit = context.results.group("/fit");
        fit.attributes["ts"] = observed.ts;
        fit.attributes["ns"] = observed.ns;
        fit.attributes["gamma"] = observed.gamma;
        fit.attributes["n_events"] = static_cast<std::int64_t>(n_total);
        fit.attributes["n_evaluations"] = static_cast<std::int64_t>(observed.n_evaluations);
        fit.attributes["ra_deg"] = ra_deg();
        fit.attributes["dec_deg"] = dec_deg();
        fit.attributes["energy_term"] = std::string(shard.has_energy() ? "mc" : "none");
        log::info("fit at (" + std::to_string(ra_deg()) + ", " + std::to_string(dec_deg()) + ") deg: TS " +
                  std::to_string(observed.ts) + ", n_s " + std::to_string(observed.ns) +
                  (shard.has_energy() ? ", gamma " + std::to_string(observed.gamma) : ""));
        if (context.job.task() != "trials") return;

        // Background trials: every rank holds the whole sample and runs its own trials.
        Events all = sample.data.allgather(comm);
        PointSourceEvents replica(all, pdfs, n_total);
        auto campaign = make_campaign(context, "point-source trials");
        auto block = run_trial_campaign(campaign, comm, [&](std::int64_t trial) {
            replica.scramble(campaign.seed, trial);
            auto r = replica.fit(source, reduce_nothing);
            return TrialResult{r.ts, r.ns, r.gamma};
        });
        store_trials(campaign, block, context.results, comm);
        record_pvalue(observed.ts, block, context);
    }
};

}  // namespace

NUSKY_REGISTER_MODULE(likelihood, PointSourceLikelihood, "point_source",
                      "unbinned point-source likelihood: fit of (n_s, gamma) at a position")

}  // namespace nusky

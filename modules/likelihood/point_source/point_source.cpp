#include "likelihood/point_source/point_source.hpp"

#include "nusky/log.hpp"
#include "nusky/registry.hpp"
#include "nusky/stages.hpp"

#include <numbers>

namespace nusky {

PointSourceModel::PointSourceModel(const Events& local_data, const Events& local_mc, const Comm& comm,
                                   const PointSourceSettings& settings)
    : data_(local_data), background_([&] {
          std::vector<double> counts(static_cast<std::size_t>(settings.sin_dec_bins), 0.0);
          fill_sin_dec_counts(local_data.z, counts);  // z = sin(dec)
          comm.sum(counts.data(), static_cast<int>(counts.size()));
          return SinDecBackgroundPdf(std::move(counts));
      }())
{
    n_total_ = comm.sum(static_cast<std::int64_t>(local_data.size()));
    // Every rank must agree whether the energy term is used (the MC may sit on some ranks only).
    bool any_mc = comm.sum(static_cast<std::int64_t>(local_mc.size())) > 0;
    if (settings.use_energy && any_mc) {
        const auto& binning = settings.energy_binning;
        std::vector<double> data_counts(static_cast<std::size_t>(binning.n_cells()), 0.0);
        fill_energy_data_counts(binning, local_data.z, local_data.log10_energy, data_counts);
        comm.sum(data_counts.data(), static_cast<int>(data_counts.size()));
        std::vector<double> mc_counts(static_cast<std::size_t>(binning.n_cells() * settings.gamma_grid.size), 0.0);
        fill_energy_mc_counts(binning, settings.gamma_grid, local_mc.z, local_mc.log10_energy,
                              local_mc.true_energy, local_mc.oneweight, mc_counts);
        comm.sum(mc_counts.data(), static_cast<int>(mc_counts.size()));
        energy_table_.emplace(binning, settings.gamma_grid, data_counts, mc_counts);
        event_ratios_ = energy_table_->event_ratios(local_data.z, local_data.log10_energy);
    } else {
        event_ratios_ = EventEnergyRatios::unity(local_data.size());
    }
    vmf_ = vmf_event_constants(local_data.sigma);
    background_.background_density(local_data.z, background_density_);
}

void PointSourceModel::spatial_sob(const UnitVector& source, Eigen::ArrayXd& out) const
{
    vmf_density(data_.x, data_.y, data_.z, vmf_, source, out);
    out /= background_density_;
}

FitResult PointSourceModel::fit(const UnitVector& source, const Comm& comm)
{
    spatial_sob(source, sob_);
    EventTotals totals{static_cast<double>(n_total_), static_cast<double>(n_total_)};
    auto reduce = [&comm](double* values, int n) { comm.sum(values, n); };
    if (!has_energy()) {
        return fitter_.fit_ns(sob_.data(), static_cast<std::size_t>(sob_.size()), totals, reduce, 2.0);
    }
    return fitter_.fit(sob_, event_ratios_, totals, reduce);
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

    std::vector<std::string> tasks() const override { return {"fit"}; }

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
        PointSourceModel model(sample.data, sample.mc, context.comm, settings());
        auto result = model.fit(unit_vector(ra_deg() * deg, dec_deg() * deg), context.comm);
        auto& fit = context.results.group("/fit");
        fit.attributes["ts"] = result.ts;
        fit.attributes["ns"] = result.ns;
        fit.attributes["gamma"] = result.gamma;
        fit.attributes["n_events"] = model.n_total();
        fit.attributes["n_evaluations"] = static_cast<std::int64_t>(result.n_evaluations);
        fit.attributes["ra_deg"] = ra_deg();
        fit.attributes["dec_deg"] = dec_deg();
        fit.attributes["energy_term"] = std::string(model.has_energy() ? "mc" : "none");
        log::info("fit at (" + std::to_string(ra_deg()) + ", " + std::to_string(dec_deg()) +
                  ") deg: TS " + std::to_string(result.ts) + ", n_s " + std::to_string(result.ns) +
                  (model.has_energy() ? ", gamma " + std::to_string(result.gamma) : ""));
    }
};

}  // namespace

NUSKY_REGISTER_MODULE(likelihood, PointSourceLikelihood, "point_source",
                      "unbinned point-source likelihood: fit of (n_s, gamma) at a position")

}  // namespace nusky

#include "readers/simulation/simulate.hpp"

#include "nusky/data_dir.hpp"
#include "nusky/npy.hpp"
#include "nusky/error.hpp"
#include "nusky/mpi.hpp"
#include "nusky/registry.hpp"
#include "nusky/stages.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <numbers>

namespace nusky {

namespace fs = std::filesystem;

namespace {

class SimulationReader : public Reader {
public:
    Parameter<std::int64_t> seed{this, "seed", 1,
                                 "simulation seed, separate from [job] seed (the sample is a pure function of it, whatever the rank count)"};
    PathParameter<std::string> data_dir{this, "data_dir", "", PathKind::input_directory,
                                        "the gp2023 release tables",
                                    "gp2023 release tables; empty: $NUSKY_DATA_DIR/gp2023, "
                                    "<prefix>/share/nusky/data/gp2023, then the source tree's data/gp2023"};
    PathParameter<std::string> template_path{this, "template_path", "", PathKind::input_file, "a HEALPix map",
                                         "signal template, HEALPix RING .npy (empty: Fermi-LAT_pi0_map.npy "
                                         "in data_dir)"};
    Parameter<bool> signal{this, "signal", true, "include the Galactic-plane signal events"};
    Parameter<double> n_signal{this, "n_signal", 675.0, "mean number of signal events"};
    Parameter<bool> poisson_signal{this, "poisson_signal", true,
                                   "draw the signal count from Poisson(n_signal); false: round(n_signal)"};
    Parameter<double> signal_gamma{this, "signal_gamma", 2.7, "spectral index of the signal, dN/dE ~ E^-gamma"};
    Parameter<double> n_background{this, "n_background", static_cast<double>(kGp2023EventCount),
                                   "mean number of background events (59,592 = the real sample)"};
    Parameter<bool> poisson_background{this, "poisson_background", false,
                                       "draw the background count from Poisson(n_background); false: round"};
    Parameter<double> sigma_floor_deg{this, "sigma_floor_deg", 0.2, "floor of the simulated sigma [deg]"};
    Parameter<double> sigma_max_deg{this, "sigma_max_deg", 60.0,
                                    "end of the background sigma tail beyond 40 deg [deg]"};
    Parameter<std::int64_t> mc_events{this, "mc_events", 1000000, "number of MC events (0: no MC set)"};
    Parameter<double> mc_gamma{this, "mc_gamma", 1.0,
                               "MC generation spectrum E^-mc_gamma (1: equal events per decade)"};
    Parameter<double> mc_emin_gev{this, "mc_emin_gev", 1e2, "lowest MC true energy [GeV]"};
    Parameter<double> mc_emax_gev{this, "mc_emax_gev", 1e7, "highest MC true energy [GeV]"};
    Parameter<double> livetime_s{this, "livetime_s", kGp2023LivetimeS,
                                 "livetime of the simulated sample [s] (the real sample's by default)"};
    Parameter<double> ps_n_events{this, "ps_n_events", 0.0,
                                  "events of an injected point source (exactly round(n); 0: none)"};
    Parameter<double> ps_ra_deg{this, "ps_ra_deg", 0.0, "injected point source: right ascension [deg]"};
    Parameter<double> ps_dec_deg{this, "ps_dec_deg", 0.0, "injected point source: declination [deg]"};
    Parameter<double> ps_gamma{this, "ps_gamma", 2.0,
                               "injected point source: spectral index (E^-gamma times A_eff at its declination)"};

    void validate() override
    {
        if (seed() < 0) throw seed.error("must be >= 0");
        auto finite_nonneg = [](double v) { return std::isfinite(v) && v >= 0.0; };
        if (!finite_nonneg(n_signal())) throw n_signal.error("must be >= 0");
        if (!finite_nonneg(n_background())) throw n_background.error("must be >= 0");
        if (n_background() > 1e9) throw n_background.error("must be <= 1e9");
        if (n_signal() > 1e9) throw n_signal.error("must be <= 1e9");
        if (!std::isfinite(signal_gamma())) throw signal_gamma.error("must be a finite number");
        if (!(sigma_floor_deg() > 0.0 && sigma_floor_deg() < 180.0)) throw sigma_floor_deg.error("must be in (0, 180) deg");
        if (!(sigma_max_deg() > 40.0 && sigma_max_deg() <= 180.0)) {
            throw sigma_max_deg.error("must be in (40, 180] deg (the data histogram ends at 40 deg)");
        }
        if (mc_events() < 0) throw mc_events.error("must be >= 0");
        if (mc_events() > 2000000000) throw mc_events.error("must be <= 2e9");
        if (!std::isfinite(mc_gamma())) throw mc_gamma.error("must be a finite number");
        if (!(mc_emin_gev() > 0.0)) throw mc_emin_gev.error("must be > 0 GeV");
        if (!(mc_emax_gev() > mc_emin_gev())) throw mc_emax_gev.error("must be above mc_emin_gev");
        if (!(livetime_s() > 0.0)) throw livetime_s.error("must be > 0 s");
        if (!(ps_n_events() >= 0.0 && ps_n_events() <= 1e7)) throw ps_n_events.error("must be in [0, 1e7]");
        if (!(ps_ra_deg() >= 0.0 && ps_ra_deg() < 360.0)) throw ps_ra_deg.error("must be in [0, 360)");
        if (!(ps_dec_deg() >= -90.0 && ps_dec_deg() <= 90.0)) throw ps_dec_deg.error("must be in [-90, 90]");
        if (!std::isfinite(ps_gamma())) throw ps_gamma.error("must be a finite number");
        if (!signal() && (n_signal.was_set() || template_path.was_set())) {
            throw signal.error("signal is off, but n_signal or template_path is set");
        }
    }

    SimulationConfig config() const
    {
        SimulationConfig cfg;
        cfg.seed = static_cast<std::uint64_t>(seed());
        cfg.background_mean = n_background();
        cfg.poisson_background = poisson_background();
        cfg.sigma_max_deg = sigma_max_deg();
        cfg.signal_mean = signal() ? n_signal() : 0.0;
        cfg.poisson_signal = signal() && poisson_signal();
        cfg.signal_gamma = signal_gamma();
        cfg.mc_count = static_cast<std::size_t>(mc_events());
        cfg.mc_gamma = mc_gamma();
        cfg.mc_emin = mc_emin_gev();
        cfg.mc_emax = mc_emax_gev();
        cfg.sigma_floor_deg = sigma_floor_deg();
        cfg.livetime_s = livetime_s();
        cfg.ps_count = ps_n_events();
        cfg.ps_ra = ps_ra_deg() * std::numbers::pi / 180.0;
        cfg.ps_dec = ps_dec_deg() * std::numbers::pi / 180.0;
        cfg.ps_gamma = ps_gamma();
        return cfg;
    }

    // The release tables and the signal template (nothing is simulated).
    SampleHeader inspect(RunContext&) override
    {
        const std::string dir = find_gp2023_dir(data_dir());
        load_simulation_inputs(dir);
        if (signal()) {
            const std::string map_path =
                template_path().empty() ? (fs::path(dir) / "Fermi-LAT_pi0_map.npy").string() : template_path();
            read_healpix_map_npy(map_path);
        }
        return {mc_events() > 0};
    }

    EventSample read(RunContext& context) override
    {
        const std::string dir = find_gp2023_dir(data_dir());
        const SimulationConfig cfg = config();
        const SimulationInputs inputs = load_simulation_inputs(dir);
        const std::size_t nb = background_count(cfg), ns = signal_count(cfg), np = point_source_count(cfg);
        Eigen::ArrayXd map;
        std::string map_path;
        if (signal()) {
            map_path = template_path().empty() ? (fs::path(dir) / "Fermi-LAT_pi0_map.npy").string() : template_path();
            map = read_healpix_map_npy(map_path);
        }
        const int rank = context.comm.rank(), size = context.comm.size();
        EventSample sample;
        Range sky = block_range(static_cast<std::int64_t>(nb + ns + np), rank, size);
        sample.data = simulate_sky(cfg, inputs, map, static_cast<std::size_t>(sky.begin),
                                   static_cast<std::size_t>(sky.size()));
        sample.data.compute_unit_vectors();
        if (cfg.mc_count > 0) {
            Range mc = block_range(static_cast<std::int64_t>(cfg.mc_count), rank, size);
            sample.mc = simulate_mc(cfg, inputs, static_cast<std::size_t>(mc.begin),
                                    static_cast<std::size_t>(mc.size()));
            sample.mc.compute_unit_vectors();
        }
        sample.livetime_s = cfg.livetime_s;
        sample.attributes["data_dir"] = dir;
        sample.attributes["effective_area"] = (fs::path(dir) / "effa_values.csv").string();
        if (!map_path.empty()) sample.attributes["template"] = map_path;
        char text[256];
        std::snprintf(text, sizeof text,
                      "simulation seed %lld: %zu background + %zu signal + %zu point-source events, %zu MC, %.1f d",
                      static_cast<long long>(seed()), nb, ns, np, cfg.mc_count, cfg.livetime_s / 86400.0);
        sample.description = text;
        return sample;
    }
};

}  // namespace

NUSKY_REGISTER_MODULE(reader, SimulationReader, "simulation",
                      "simulated cascade sky from the gp2023 release tables (+ MC); each rank "
                      "generates its block, identical for any rank count")

}  // namespace nusky

#include "bench_data.hpp"

#include "readers/icecube_public/icecube_text.hpp"
#include "readers/simulation/simulate.hpp"
#include "nusky/data_dir.hpp"

#include <cstdlib>
#include <numbers>
#include <string>

namespace nusky::bench {

namespace {

constexpr double kDeg = std::numbers::pi / 180.0;

SimulationConfig sky_config()
{
    SimulationConfig cfg;
    cfg.seed = 2023;
    if (const char* mc = std::getenv("NUSKY_BENCH_MC")) cfg.mc_count = std::stoul(mc);
    return cfg;
}

const SimulationInputs& inputs()
{
    static const SimulationInputs in = load_simulation_inputs(find_gp2023_dir());
    return in;
}

const Eigen::ArrayXd& pi0_map()
{
    static const Eigen::ArrayXd map = read_template_map(find_gp2023_dir() + "/Fermi-LAT_pi0_map.npy");
    return map;
}

}  // namespace

const Comm& world()
{
    static const Comm comm(MPI_COMM_WORLD);
    return comm;
}

const Events& cascades()
{
    static const Events events = [] {
        const SimulationConfig cfg = sky_config();
        Events e = simulate_sky(cfg, inputs(), pi0_map(), 0, sky_count(cfg));
        e.compute_unit_vectors();
        return e;
    }();
    return events;
}

const Events& cascade_mc()
{
    static const Events events = [] {
        const SimulationConfig cfg = sky_config();
        Events e = simulate_mc(cfg, inputs(), 0, cfg.mc_count);
        e.compute_unit_vectors();
        return e;
    }();
    return events;
}

const Events& ic40()
{
    static const Events events = [] {
        const IceCubeEvents in =
            read_events(std::string(NUSKY_BENCH_SOURCE_DIR) + "/data/ic40/events/IC40_exp.csv");
        Events e;
        e.ra = in.ra;
        e.dec = in.dec;
        e.sigma = in.sigma;
        e.log10_energy = in.log10_energy;
        e.mjd = in.mjd;
        e.compute_unit_vectors();
        return e;
    }();
    return events;
}

const PointSourcePdfs& cascade_ps_pdfs()
{
    static const PointSourcePdfs pdfs(cascades(), cascade_mc(), world(), PointSourceSettings{});
    return pdfs;
}

const PointSourcePdfs& ic40_ps_pdfs()
{
    static const PointSourcePdfs pdfs(ic40(), Events{}, world(), PointSourceSettings{});
    return pdfs;
}

const TemplatePdfs& cascade_template_pdfs()
{
    static const TemplatePdfs pdfs = [] {
        const std::string dir = find_gp2023_dir();
        std::optional<EffectiveArea> ea = read_effective_area(
            dir + "/effa_values.csv", dir + "/effa_bins_sindec.csv", dir + "/effa_bins_energy.csv");
        return TemplatePdfs(pi0_map(), cascades(), cascade_mc(), ea, world(), TemplateSettings{});
    }();
    return pdfs;
}

UnitVector cascade_source() { return unit_vector(266.4 * kDeg, -28.9 * kDeg); }
UnitVector ic40_source() { return unit_vector(77.36 * kDeg, 5.69 * kDeg); }

}  // namespace nusky::bench

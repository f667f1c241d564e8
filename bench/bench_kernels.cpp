// Kernels of the hot loops. Each reports items/s = events processed per second (or trials/s,
// pixels/s), so the figures compare directly with the per-core targets of docs/benchmarks.md.
#include "bench_data.hpp"

#include "likelihood/common/energy_pdf.hpp"
#include "likelihood/common/ps_fit.hpp"
#include "likelihood/common/spatial_pdf.hpp"
#include "likelihood/template/template_pdf.hpp"
#include "nusky/rng.hpp"

#include <benchmark/benchmark.h>

#include <healpix_base.h>
#include <pointing.h>

#include <array>
#include <numbers>
#include <vector>

namespace nb = nusky::bench;
using namespace nusky;

namespace {

void set_items(benchmark::State& state, std::int64_t per_iteration)
{
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * per_iteration);
}

// Pixel centres of a coarse HEALPix grid: the positions the scan-pixel kernels cycle through.
std::vector<UnitVector> sky_positions(int nside)
{
    Healpix_Base base(nside, RING, SET_NSIDE);
    std::vector<UnitVector> out;
    for (int p = 0; p < base.Npix(); ++p) {
        const pointing ang = base.pix2ang(p);
        out.push_back(unit_vector(ang.phi, 0.5 * std::numbers::pi - ang.theta));
    }
    return out;
}

// ---- spatial PDF: S_i of every event at one source (one exp per event) ----
void spatial_pdf(benchmark::State& state, const Events& events, UnitVector source)
{
    const VmfEventConstants c = vmf_event_constants(events.sigma);
    Eigen::ArrayXd out(events.size());
    for (auto _ : state) {
        vmf_density(events.x, events.y, events.z, c, source, out);
        benchmark::DoNotOptimize(out.data());
    }
    set_items(state, events.size());
}
void BM_SpatialPdf_Cascades(benchmark::State& state) { spatial_pdf(state, nb::cascades(), nb::cascade_source()); }
void BM_SpatialPdf_IC40(benchmark::State& state) { spatial_pdf(state, nb::ic40(), nb::ic40_source()); }
BENCHMARK(BM_SpatialPdf_Cascades)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SpatialPdf_IC40)->Unit(benchmark::kMicrosecond);

// ---- energy-ratio lookup: S_i R_i(gamma) / B_i from the per-event table, off-grid gamma ----
void BM_EnergyRatioLookup(benchmark::State& state)
{
    const Events& events = nb::cascades();
    const EventEnergyRatios ratios = nb::cascade_ps_pdfs().energy->event_ratios(events.z, events.log10_energy);
    const Eigen::ArrayXd factor = Eigen::ArrayXd::Constant(events.size(), 1.5);
    Eigen::ArrayXd out(events.size());
    double gamma = 2.35;
    for (auto _ : state) {
        ratios.multiply(gamma, factor.data(), out.data());
        benchmark::DoNotOptimize(out.data());
    }
    set_items(state, events.size());
}
BENCHMARK(BM_EnergyRatioLookup)->Unit(benchmark::kMicrosecond);

// ---- n_s Newton step: one pass of ln L and its two n_s derivatives over every event ----
void BM_NewtonStep(benchmark::State& state)
{
    const Events& events = nb::cascades();
    PointSourceEvents ps(events, nb::cascade_ps_pdfs(), double(events.size()));
    Eigen::ArrayXd sob;
    ps.spatial_sob(nb::cascade_source(), sob);
    const Eigen::ArrayXd a = (sob - 1.0) / double(events.size());
    const bool with_value = state.range(0) != 0;
    for (auto _ : state) {
        LlhSums s = local_llh_sums(a.data(), std::size_t(a.size()), 25.0, with_value);
        benchmark::DoNotOptimize(s);
    }
    set_items(state, events.size());
}
BENCHMARK(BM_NewtonStep)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// ---- template: per-event S_i lookup at scrambled pixels; one whole background trial ----
void BM_TemplateLookup(benchmark::State& state)
{
    const auto& st = nb::cascade_template_pdfs().smoothed;
    const Events& events = nb::cascades();
    auto span = [](const Eigen::ArrayXd& a) { return std::span<const double>(a.data(), a.size()); };
    const TemplateEventIndex idx = index_template_events(st, span(events.ra), span(events.dec), span(events.sigma));
    std::vector<std::int32_t> pixel(idx.size());
    CounterRng rng(1, 7, 0);
    for (std::size_t i = 0; i < pixel.size(); ++i)
        pixel[i] = pixel_in_ring_for_ra(st, idx.ring[i], 2.0 * std::numbers::pi * rng.uniform());
    std::vector<double> out(idx.size());
    for (auto _ : state) {
        signal_densities(st, idx, pixel, out);
        benchmark::DoNotOptimize(out.data());
    }
    set_items(state, std::int64_t(idx.size()));
}
BENCHMARK(BM_TemplateLookup)->Unit(benchmark::kMicrosecond);

void BM_TemplateTrial(benchmark::State& state)
{
    const Events& events = nb::cascades();
    TemplateEvents te(events, nb::cascade_template_pdfs(), double(events.size()));
    std::int64_t trial = 0;
    for (auto _ : state) {
        te.scramble(1, trial++);
        FitResult r = te.fit(reduce_nothing);
        benchmark::DoNotOptimize(r);
    }
    set_items(state, 1);
    state.counters["trials_per_s"] = benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TemplateTrial)->Unit(benchmark::kMicrosecond);

// The same trials as the trials task runs them: kBatch at a time (TemplateEvents::trials);
// time per batch, trials_per_s per trial.
void BM_TemplateTrialBatch(benchmark::State& state)
{
    const Events& events = nb::cascades();
    TemplateEvents te(events, nb::cascade_template_pdfs(), double(events.size()));
    std::array<FitResult, TemplateEvents::kBatch> out;
    std::int64_t trial = 0;
    for (auto _ : state) {
        te.trials(1, trial, TemplateEvents::kBatch, out.data());
        trial += TemplateEvents::kBatch;
        benchmark::DoNotOptimize(out.data());
    }
    set_items(state, TemplateEvents::kBatch);
    state.counters["trials_per_s"] =
        benchmark::Counter(double(state.iterations()) * TemplateEvents::kBatch, benchmark::Counter::kIsRate);
    state.counters["lookup_MiB"] = double(te.reach_bytes()) / (1 << 20);
}
BENCHMARK(BM_TemplateTrialBatch)->Unit(benchmark::kMicrosecond);

// ---- point source: one background trial (RA scramble + (n_s, gamma) fit) at one position,
// as the trials task runs it (PointSourceEvents::trial) ----
void ps_trial(benchmark::State& state, const Events& events, const PointSourcePdfs& pdfs, UnitVector source)
{
    PointSourceEvents ps(events, pdfs, double(events.size()));
    std::int64_t trial = 0;
    for (auto _ : state) {
        FitResult r = ps.trial(1, trial++, source);  // = scramble + fit, O(candidates)
        benchmark::DoNotOptimize(r);
    }
    set_items(state, 1);
    state.counters["trials_per_s"] = benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
}
void BM_PointSourceTrial_Cascades(benchmark::State& state)
{
    ps_trial(state, nb::cascades(), nb::cascade_ps_pdfs(), nb::cascade_source());
}
void BM_PointSourceTrial_IC40(benchmark::State& state)
{
    ps_trial(state, nb::ic40(), nb::ic40_ps_pdfs(), nb::ic40_source());
}
BENCHMARK(BM_PointSourceTrial_Cascades)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_PointSourceTrial_IC40)->Unit(benchmark::kMicrosecond);

// ---- one scan pixel: the (n_s, gamma) fit at a pixel centre of the unscrambled sky ----
// (Through PointSourceEvents::fit; cycles over the 768 pixel centres of nside 8.)
void scan_pixel(benchmark::State& state, const Events& events, const PointSourcePdfs& pdfs)
{
    PointSourceEvents ps(events, pdfs, double(events.size()));
    const std::vector<UnitVector> positions = sky_positions(8);
    std::size_t p = 0;
    for (auto _ : state) {
        FitResult r = ps.fit(positions[p], reduce_nothing);
        p = (p + 1) % positions.size();
        benchmark::DoNotOptimize(r);
    }
    set_items(state, 1);
}
void BM_ScanPixel_Cascades(benchmark::State& state) { scan_pixel(state, nb::cascades(), nb::cascade_ps_pdfs()); }
void BM_ScanPixel_IC40(benchmark::State& state) { scan_pixel(state, nb::ic40(), nb::ic40_ps_pdfs()); }
BENCHMARK(BM_ScanPixel_Cascades)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ScanPixel_IC40)->Unit(benchmark::kMicrosecond);

}  // namespace

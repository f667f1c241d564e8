#pragma once
// The Galactic-plane template analysis (PHYSICS.md section 6) on distributed events:
//  - TemplatePdfs: acceptance-weighted template smoothed on a sigma grid, background sin(dec)
//    PDF and the energy ratio at the template's fixed gamma, built once (reductions);
//  - TemplateEvents: one event set (a rank's share, or the whole sample for trials) with its
//    per-event lookups, fitted for n_s; RA scrambles only move each event within its ring.
#include "likelihood/common/energy_pdf.hpp"
#include "likelihood/common/ps_fit.hpp"
#include "likelihood/common/spatial_pdf.hpp"
#include "likelihood/template/template_pdf.hpp"
#include "nusky/event.hpp"
#include "nusky/mpi.hpp"

#include <optional>
#include <string>

namespace nusky {

struct TemplateSettings {
    double gamma = 2.7;
    int nside = 128;
    SmoothingOptions smoothing;
    int sin_dec_bins = SinDecBackgroundPdf::default_bins;
    int acceptance_bins = 40;
    EnergyBinning energy_binning;
    bool use_energy = true;
};

// Reads a HEALPix map (RING or NESTED, any nside) from .npy, .fits or HDF5 (dataset
// `hdf5_dataset`), returned in RING ordering. Errors name the file.
Eigen::ArrayXd read_template_map(const std::string& path, const std::string& hdf5_dataset = "map");

struct TemplatePdfs {
    // Collective. `acceptance_fallback` is used when no rank has MC (e.g. an effective area).
    TemplatePdfs(const Eigen::ArrayXd& template_map, const Events& local_data, const Events& local_mc,
                 const std::optional<EffectiveArea>& effective_area, const Comm& comm,
                 const TemplateSettings& settings);
    SmoothedTemplate smoothed;
    SinDecBackgroundPdf background;
    std::optional<EnergyRatioTable> energy;
    std::string acceptance_source;  // "mc" or "effective_area"
};

class TemplateEvents {
public:
    TemplateEvents(const Events& events, const TemplatePdfs& pdfs, double n_total);
    // Fit of n_s at the template's fixed gamma.
    FitResult fit(const ReduceSum& reduce);
    // RA scrambling for background trial `trial`: event i's new RA is the i-th draw of the
    // (seed, trial, sample) stream; only the pixel within the event's ring changes.
    void scramble(std::uint64_t seed, std::int64_t trial, std::uint64_t sample = 0);
    // Background trials first_trial .. first_trial + count - 1 (count <= kBatch) into out[0 ..
    // count): for each, the result of scramble(seed, t) then fit(reduce_nothing), bit for bit.
    // The lookups of the batch's trials are interleaved event by event, so that the rows of a
    // ring, fetched from memory once, serve all of them (the trials' lookups are bound by memory
    // latency). Leaves the current pixels unspecified.
    static constexpr int kBatch = 8;
    void trials(std::uint64_t seed, std::int64_t first_trial, int count, FitResult* out);
    // Per-event (S_i - S~_i) R_i / B_i at the current pixels.
    const Eigen::ArrayXd& excess();
    // TS at a given n_s (for the n_s profile).
    double ts_at(double ns, const ReduceSum& reduce);
    bool has_energy() const { return has_energy_; }
    std::size_t size() const { return order_.size(); }
    // Bytes of map values the events can reach (the lookups' working set).
    std::size_t reach_bytes() const { return reach_.size() * sizeof(float); }

private:
    // Events are kept sorted by (ring, sigma index) so that a trial's random lookups walk the
    // maps ring by ring (a small, TLB-friendly region at a time) instead of all over the maps;
    // [s] below is the sorted position, order_[s] the event's index in the input.
    //
    // The lookups read a compact copy of only the map values events can reach (reach_): for each
    // ring, the columns k and k + 1 of every event of the ring, at all of the ring's pixels (a
    // scramble moves an event anywhere in its ring). Rows are pixel-major as in the maps
    // ([ring offset + pixel in ring * ring width + column]); the values are the same floats, so
    // results are bit for bit those of template_value(). For the pi0 cascade sample the copy is
    // 11 MiB instead of 18.9 MB.
    const TemplatePdfs& pdfs_;
    TemplateEventIndex index_;          // input order
    std::vector<std::int32_t> order_;   // sorted position -> input index
    std::vector<float> sigma_weight_;   // [s]
    // scramble(), per event in input order: its ring, sorted position and the reach_ index of
    // its map k at the ring's first pixel (one stream of 12 bytes per event).
    struct ScrambleEntry {
        std::int32_t ring;
        std::uint32_t position;
        std::uint32_t column;
    };
    std::vector<ScrambleEntry> scramble_;
    std::vector<std::uint32_t> cell_;    // [s] index in reach_ of map k at the current pixel
    std::vector<std::uint32_t> batch_cell_;  // trials(): [b * n + s], cell_ of the batch's trial b
    std::vector<PointSourceFitter> batch_fitters_;  // trials(): one per trial of a batch
    std::vector<std::uint32_t> ring_width_;  // per ring: columns kept (0: no events)
    std::vector<float, HugePageAllocator<float>> reach_;
    Eigen::ArrayXd subtraction_;        // [s] S~
    Eigen::ArrayXd ratio_over_b_;       // [s] R / B
    Eigen::ArrayXd excess_;             // input order (excess())
    bool has_energy_;
    double n_total_;
    PointSourceFitter fitter_;

    void scramble_cells(std::uint64_t seed, std::int64_t trial, std::uint32_t* cell, std::uint64_t sample = 0) const;
};

}  // namespace nusky

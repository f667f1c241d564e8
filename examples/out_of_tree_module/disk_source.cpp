#include "disk_source.hpp"

#include "nusky/error.hpp"
#include "nusky/hypothesis.hpp"
#include "nusky/mpi.hpp"
#include "nusky/registry.hpp"
#include "nusky/rng.hpp"
#include "nusky/stages.hpp"

#include <boost/math/distributions/non_central_chi_squared.hpp>
#include <boost/math/tools/minima.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

namespace nusky::disk {

constexpr double kPi = std::numbers::pi;
constexpr int kSinDecBins = 20;

double signal_density(double distance, double sigma, double radius)
{
    // Far outside the disk (beyond R + 10 sigma) the probability is below 1e-20: zero.
    if (distance > radius + 10.0 * sigma) return 0.0;
    const double lambda = distance * distance / (sigma * sigma);
    const boost::math::non_central_chi_squared chi2(2.0, lambda);
    const double inside = boost::math::cdf(chi2, radius * radius / (sigma * sigma));
    return inside / (kPi * radius * radius);
}

int SinDecBackground::bin_of(double sin_dec, int bins)
{
    return std::clamp(static_cast<int>((sin_dec + 1.0) * 0.5 * bins), 0, bins - 1);
}

SinDecBackground::SinDecBackground(const std::vector<double>& counts) : density_(counts.size())
{
    double total = 0.0;
    for (double c : counts) total += c;
    if (!(total > 0.0)) throw Error("disk_source: no events for the background density");
    const double width = 2.0 / static_cast<double>(counts.size());
    for (std::size_t b = 0; b < counts.size(); ++b) density_[b] = counts[b] / (total * width) / (2.0 * kPi);
}

double SinDecBackground::density(double sin_dec) const
{
    return density_[static_cast<std::size_t>(bin_of(sin_dec, static_cast<int>(density_.size())))];
}

DiskFit fit_ns(const Eigen::ArrayXd& ratio, double n_total, const Reduce& reduce)
{
    // ln L at n_s, summed over this rank's events and then over ranks: every rank sees the same
    // values and so takes the same steps.
    auto log_likelihood = [&](double ns) {
        double sum = (ns / n_total * (ratio - 1.0)).log1p().sum();
        reduce(&sum, 1);
        return sum;
    };
    double slope = (ratio - 1.0).sum() / n_total;  // d ln L / d n_s at 0
    reduce(&slope, 1);
    if (!(slope > 0.0) || n_total < 2.0) return {};  // the best n_s is 0
    std::uintmax_t iterations = 200;
    const auto best = boost::math::tools::brent_find_minima([&](double ns) { return -log_likelihood(ns); }, 0.0,
                                                            n_total * (1.0 - 1e-9), 40, iterations);
    return {std::max(0.0, -2.0 * best.second), best.first};
}

namespace {

struct Direction {
    double x, y, z;
};

Direction direction(double ra, double dec)
{
    return {std::cos(dec) * std::cos(ra), std::cos(dec) * std::sin(ra), std::sin(dec)};
}

// The events of one trial (or the observed events): their S_i / B_i at the disk.
Eigen::ArrayXd ratios(const Events& e, const Direction& centre, double radius, const SinDecBackground& background)
{
    Eigen::ArrayXd out(e.size());
    for (Eigen::Index i = 0; i < e.size(); ++i) {
        const double cos_d = std::clamp(e.x[i] * centre.x + e.y[i] * centre.y + e.z[i] * centre.z, -1.0, 1.0);
        out[i] = signal_density(std::acos(cos_d), e.sigma[i], radius) / background.density(e.z[i]);
    }
    return out;
}

// Injected events: positions uniform on the disk, smeared by a PSF sigma drawn from the data's.
class DiskInjector : public Injector {
public:
    DiskInjector(double ra, double dec, double radius, std::vector<double> sigmas)
        : ra_(ra), dec_(dec), radius_(radius), sigmas_(std::move(sigmas))
    {
        flux_unit = "none (no effective area: mean numbers of events only)";
        attributes["disk_radius_deg"] = radius * 180.0 / kPi;
    }

    std::vector<Events> draw(std::uint64_t seed, std::int64_t trial, double mu) const override
    {
        CounterRng rng(seed, kStreamBit | static_cast<std::uint64_t>(trial), 0);
        const auto n = static_cast<Eigen::Index>(rng.poisson(mu));
        Events e;
        e.resize(n);
        // Tangent-plane basis at the centre: east and north.
        const double ex = -std::sin(ra_), ey = std::cos(ra_);
        const double nx = -std::sin(dec_) * std::cos(ra_), ny = -std::sin(dec_) * std::sin(ra_), nz = std::cos(dec_);
        const double cx = std::cos(dec_) * std::cos(ra_), cy = std::cos(dec_) * std::sin(ra_), cz = std::sin(dec_);
        for (Eigen::Index i = 0; i < n; ++i) {
            const double r = radius_ * std::sqrt(rng.uniform()), phi = 2.0 * kPi * rng.uniform();
            const auto pick = std::min(sigmas_.size() - 1, static_cast<std::size_t>(rng.uniform() * sigmas_.size()));
            const double sigma = sigmas_[pick];
            const double east = r * std::cos(phi) + sigma * rng.normal();
            const double north = r * std::sin(phi) + sigma * rng.normal();
            const double x = cx + east * ex + north * nx, y = cy + east * ey + north * ny, z = cz + north * nz;
            const double norm = std::sqrt(x * x + y * y + z * z);
            e.dec[i] = std::asin(std::clamp(z / norm, -1.0, 1.0));
            e.ra[i] = std::fmod(std::atan2(y, x) + 2.0 * kPi, 2.0 * kPi);
            e.sigma[i] = sigma;
            e.log10_energy[i] = 0.0;  // spatial only
        }
        e.compute_unit_vectors();
        return {e};
    }

    std::int64_t count(std::uint64_t seed, std::int64_t trial, double mu) const override
    {
        CounterRng rng(seed, kStreamBit | static_cast<std::uint64_t>(trial), 0);
        return static_cast<std::int64_t>(rng.poisson(mu));
    }

    std::int64_t pool_size() const override { return static_cast<std::int64_t>(sigmas_.size()); }

private:
    static constexpr std::uint64_t kStreamBit = 1ULL << 63;  // injections apart from scrambles
    double ra_, dec_, radius_;
    std::vector<double> sigmas_;  // the data's PSF sigmas, in the global event order
};

class DiskHypothesis : public Hypothesis {
public:
    DiskHypothesis(EventSample& sample, double ra, double dec, double radius, const Comm& comm)
        : sample_(sample), ra_(ra), dec_(dec), radius_(radius), centre_(direction(ra, dec)),
          background_(sin_dec_counts(sample.data, comm))
    {
        n_total_ = static_cast<double>(comm.sum(static_cast<std::int64_t>(sample.data.size())));
    }

    std::string label() const override { return "disk"; }

    TrialResult fit(RunContext& context) override
    {
        const Comm& comm = context.comm;
        const DiskFit best = fit_ns(ratios(sample_.data, centre_, radius_, background_), n_total_,
                                    [&comm](double* values, int n) { comm.sum(values, n); });
        auto& fit = context.results.group("/fit");
        fit.attributes["ts"] = best.ts;
        fit.attributes["ns"] = best.ns;
        fit.attributes["n_events"] = static_cast<std::int64_t>(n_total_);
        fit.attributes["ra_deg"] = ra_ * 180.0 / kPi;
        fit.attributes["dec_deg"] = dec_ * 180.0 / kPi;
        fit.attributes["radius_deg"] = radius_ * 180.0 / kPi;
        return {best.ts, best.ns, std::nan("")};
    }

    void replicate(const Comm& comm) override
    {
        all_ = sample_.data.allgather(comm);
        cos_dec_ = all_.dec.cos();
    }

    void background_trials(std::uint64_t seed, std::int64_t trial, int count, TrialResult* out) override
    {
        for (int k = 0; k < count; ++k) out[k] = signal_trial(seed, trial + k, {Events{}});
    }

    std::unique_ptr<Injector> injector(RunContext& context) override
    {
        std::vector<double> local(sample_.data.sigma.data(), sample_.data.sigma.data() + sample_.data.size());
        return std::make_unique<DiskInjector>(ra_, dec_, radius_, context.comm.allgather(local));
    }

    TrialResult signal_trial(std::uint64_t seed, std::int64_t trial, const std::vector<Events>& injected) override
    {
        // The scramble: event i takes draw i of stream (seed, trial), as nusky's likelihoods do.
        Events events = all_;
        CounterRng rng(seed, static_cast<std::uint64_t>(trial), 0);
        for (Eigen::Index i = 0; i < events.size(); ++i) {
            const double ra = 2.0 * kPi * rng.uniform();
            events.ra[i] = ra;
            events.x[i] = cos_dec_[i] * std::cos(ra);
            events.y[i] = cos_dec_[i] * std::sin(ra);
        }
        events.append(injected.front());
        const DiskFit best = fit_ns(ratios(events, centre_, radius_, background_), static_cast<double>(events.size()),
                                    [](double*, int) {});
        return {best.ts, best.ns, std::nan("")};
    }

private:
    static std::vector<double> sin_dec_counts(const Events& data, const Comm& comm)
    {
        std::vector<double> counts(kSinDecBins, 0.0);
        for (Eigen::Index i = 0; i < data.size(); ++i) counts[SinDecBackground::bin_of(data.z[i], kSinDecBins)] += 1.0;
        comm.sum(counts.data(), kSinDecBins);
        return counts;
    }

    EventSample& sample_;
    double ra_, dec_, radius_;
    Direction centre_;
    SinDecBackground background_;
    double n_total_ = 0.0;
    Events all_;  // the whole sample on this rank (after replicate())
    Eigen::ArrayXd cos_dec_;
};

class DiskSource : public Likelihood {
public:
    Parameter<double> ra_deg{this, "ra_deg", 0.0, "right ascension of the disk's centre [deg]"};
    Parameter<double> dec_deg{this, "dec_deg", 0.0, "declination of the disk's centre [deg]"};
    Parameter<double> radius_deg{this, "radius_deg", 2.0, "radius of the disk [deg]"};

    void validate() override
    {
        if (!(ra_deg() >= 0.0 && ra_deg() < 360.0)) throw ra_deg.error("must be in [0, 360)");
        if (!(dec_deg() >= -90.0 && dec_deg() <= 90.0)) throw dec_deg.error("must be in [-90, 90]");
        if (!(radius_deg() > 0.0 && radius_deg() <= 20.0))
            throw radius_deg.error("must be in (0, 20] (the flat-sky approximation)");
    }

    std::vector<std::string> tasks() const override { return {"fit", "trials", "inject", "sensitivity"}; }

    std::unique_ptr<Hypothesis> hypothesis(std::vector<Sample>& samples, RunContext& context) override
    {
        constexpr double deg = kPi / 180.0;
        return std::make_unique<DiskHypothesis>(samples.front().events, ra_deg() * deg, dec_deg() * deg,
                                                radius_deg() * deg, context.comm);
    }
};

}  // namespace

}  // namespace nusky::disk

NUSKY_REGISTER_MODULE(likelihood, nusky::disk::DiskSource, "disk_source",
                      "a disk-shaped extended source: n_s of a uniform disk seen through each event's PSF")

#pragma once
// Counter-based random numbers (Random123 Philox4x64-10).
//
// A CounterRng is a pure function of (seed, stream, index): the draws for event `index` of
// stream `stream` (a simulation component, a trial number, ...) never depend on which rank
// generates them or on what was generated before. Key = (seed, kKeyTag); counter =
// (stream, index, block, sample); each block gives four 64-bit outputs, consumed in order.
// Typical uses:
//   simulation:  CounterRng rng(seed, kStreamBackground, event_index);
//   RA scramble: CounterRng rng(seed, trial, event_index); ra = rng.uniform(0, 2 pi);
#include <Random123/philox.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>

namespace nusky {

class CounterRng {
public:
    using Engine = r123::Philox4x64;

    // `sample`: the sample of a job of several samples (its position in [job] samples), so that
    // each sample's trials draw from their own streams; sample 0 is the single-sample stream.
    CounterRng(std::uint64_t seed, std::uint64_t stream, std::uint64_t index, std::uint64_t sample = 0)
    {
        key_ = {{seed, kKeyTag}};
        ctr_ = {{stream, index, 0, sample}};
    }

    // Moves to the n-th 64-bit draw of this (seed, stream, index) sequence (0-based; draws
    // come four per Philox block), as if n draws had been made from a fresh generator: lets a
    // caller that needs only some draws of a stream (e.g. the RA of a few events of a trial)
    // compute just those. Forgets a pending normal() spare.
    void discard_to(std::uint64_t n)
    {
        ctr_.v[2] = n / 4;
        refill();
        used_ = static_cast<int>(n % 4);
        has_spare_ = false;
    }

    // out[j] = the next n calls of uniform(), bit for bit. Whole Philox blocks are computed in
    // a loop of independent iterations, so the CPU overlaps their multiply chains instead of
    // waiting for one block per four draws inside the caller's loop.
    void fill_uniform(double* out, std::size_t n)
    {
        for_each_uniform(n, [out](std::size_t j, double u) { out[j] = u; });
    }

    // f(j, u) for j = 0 .. n - 1 in order, u the next n calls of uniform(), bit for bit: as
    // fill_uniform, for a caller that uses each draw at once instead of storing them all.
    template <class F>
    void for_each_uniform(std::size_t n, F&& f)
    {
        std::size_t j = 0;
        for (; j < n && used_ < 4; ++j) f(j, uniform());
        Engine engine;
        Engine::ctr_type ctr = ctr_;
        for (; j + 4 <= n; j += 4) {
            const Engine::ctr_type block = engine(ctr, key_);
            ++ctr.v[2];
            for (int k = 0; k < 4; ++k) f(j + k, static_cast<double>(block.v[k] >> 11) * 0x1.0p-53);
        }
        ctr_ = ctr;
        for (; j < n; ++j) f(j, uniform());  // refills from ctr_: continues the same stream
    }

    // Raw 64 random bits.
    std::uint64_t bits()
    {
        if (used_ == 4) refill();
        return out_.v[used_++];
    }

    // Uniform in [0, 1), 53 random bits (multiples of 2^-53).
    double uniform() { return static_cast<double>(bits() >> 11) * 0x1.0p-53; }
    // Uniform in (0, 1): never 0 or 1 (for logarithms).
    double uniform_open() { return (static_cast<double>(bits() >> 12) + 0.5) * 0x1.0p-52; }
    double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

    // Integer uniform in [0, n) (n > 0); Lemire's multiply-shift, bias < n / 2^64.
    std::uint64_t below(std::uint64_t n)
    {
        return static_cast<std::uint64_t>((static_cast<unsigned __int128>(bits()) * n) >> 64);
    }

    // Standard normal (Box-Muller; the second variate is kept for the next call).
    double normal()
    {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        double r = std::sqrt(-2.0 * std::log(uniform_open()));
        double phi = 2.0 * std::numbers::pi * uniform();
        spare_ = r * std::sin(phi);
        has_spare_ = true;
        return r * std::cos(phi);
    }
    double normal(double mean, double sd) { return mean + sd * normal(); }

    // Exponential with the given mean.
    double exponential(double mean = 1.0) { return -mean * std::log(uniform_open()); }

    // Poisson(mu): multiplication method for mu < 10, Hoermann's PTRS transformed rejection
    // (W. Hoermann, Insurance: Math. Econ. 12 (1993) 39) above.
    std::uint64_t poisson(double mu)
    {
        if (!(mu > 0.0)) return 0;
        if (mu < 10.0) {
            double limit = std::exp(-mu), prod = uniform_open();
            std::uint64_t k = 0;
            while (prod > limit) {
                prod *= uniform_open();
                ++k;
            }
            return k;
        }
        const double smu = std::sqrt(mu), log_mu = std::log(mu);
        const double b = 0.931 + 2.53 * smu;
        const double a = -0.059 + 0.02483 * b;
        const double inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
        const double vr = 0.9277 - 3.6224 / (b - 2.0);
        while (true) {
            double u = uniform() - 0.5;
            double v = uniform_open();
            double us = 0.5 - std::fabs(u);
            double k = std::floor((2.0 * a / us + b) * u + mu + 0.43);
            if (us >= 0.07 && v <= vr) return static_cast<std::uint64_t>(k);
            if (k < 0.0 || (us < 0.013 && v > us)) continue;
            if (std::log(v) + std::log(inv_alpha) - std::log(a / (us * us) + b) <=
                -mu + k * log_mu - std::lgamma(k + 1.0)) {
                return static_cast<std::uint64_t>(k);
            }
        }
    }

    // A uniformly distributed unit vector's (sin dec, ra): sin dec uniform in [-1, 1).
    void isotropic(double& dec, double& ra)
    {
        dec = std::asin(uniform(-1.0, 1.0));
        ra = uniform(0.0, 2.0 * std::numbers::pi);
    }

private:
    static constexpr std::uint64_t kKeyTag = 0x6e75736b79ULL;  // "nusky"

    void refill()
    {
        out_ = Engine()(ctr_, key_);
        ++ctr_.v[2];
        used_ = 0;
    }

    Engine::ctr_type ctr_{};
    Engine::key_type key_{};
    Engine::ctr_type out_{};
    int used_ = 4;
    bool has_spare_ = false;
    double spare_ = 0.0;
};

}  // namespace nusky

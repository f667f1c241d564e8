#include "likelihood/common/joint_fit.hpp"

#include "nusky/error.hpp"

#include <cmath>

namespace nusky {

std::vector<double> yield_fractions(const std::vector<JointSampleTerm>& terms, double gamma)
{
    std::vector<double> w(terms.size());
    double total = 0.0;
    for (std::size_t k = 0; k < terms.size(); ++k) {
        w[k] = terms[k].yield(gamma);
        if (!(w[k] >= 0.0) || !std::isfinite(w[k]))
            throw Error("joint fit: sample " + terms[k].name + " has no valid signal yield at gamma " +
                        std::to_string(gamma));
        total += w[k];
    }
    if (!(total > 0.0))
        throw Error("joint fit: no sample has a signal yield for the hypothesis (gamma " + std::to_string(gamma) + ")");
    for (double& v : w) v /= total;
    return w;
}

std::string record_joint_samples(Results& results, const std::vector<Sample>& samples, const JointFitResult& joint,
                                 const std::vector<bool>& has_energy, const std::vector<std::string>& yield_source)
{
    std::string line;
    for (std::size_t k = 0; k < samples.size(); ++k) {
        auto& g = results.group("/fit/samples/" + samples[k].name);
        g.attributes["ns"] = joint.fit.ns * joint.fraction[k];
        g.attributes["n_events"] = samples[k].n_events;
        g.attributes["yield_fraction"] = joint.fraction[k];
        g.attributes["ts"] = joint.ts[k];
        g.attributes["energy_term"] = std::string(has_energy[k] ? "mc" : "none");
        g.attributes["yield_source"] = yield_source[k];
        line += "; " + samples[k].name + ": n_s " + std::to_string(joint.fit.ns * joint.fraction[k]) + " (" +
                std::to_string(100.0 * joint.fraction[k]) + " % of the yield)";
    }
    return line;
}

std::vector<Events> gather_samples(const std::vector<Sample>& samples, const Comm& comm)
{
    std::vector<Events> whole(samples.size());
    for (std::size_t k = 0; k < samples.size(); ++k) whole[k] = samples[k].events.data.allgather(comm);
    return whole;
}

JointFitResult fit_joint(const std::vector<JointSampleTerm>& terms, const FitSettings& settings,
                         const ReduceSum& reduce)
{
    std::size_t n_local = 0, largest = 0;
    double n_total = 0.0;
    for (const auto& t : terms) {
        n_local += t.n_local;
        largest = std::max(largest, t.n_local);
        n_total += t.n_total;
    }
    if (!(n_total > 0.0)) throw Error("joint fit: no events in any sample");
    std::vector<double> sob(largest);
    // a_i = w_k (S R / B - 1) / N_k, sample after sample.
    auto scaled_excess = [&](double gamma, double* a) {
        const auto w = yield_fractions(terms, gamma);
        std::size_t offset = 0;
        for (std::size_t k = 0; k < terms.size(); ++k) {
            const auto& t = terms[k];
            if (t.n_local == 0) continue;
            const double scale = w[k] / t.n_total;
            if (t.excess_at_gamma) {
                t.excess_at_gamma(gamma, sob.data());
                for (std::size_t i = 0; i < t.n_local; ++i) a[offset + i] = scale * sob[i];
            } else {
                t.sob_at_gamma(gamma, sob.data());
                for (std::size_t i = 0; i < t.n_local; ++i) a[offset + i] = scale * (sob[i] - 1.0);
            }
            offset += t.n_local;
        }
    };
    PointSourceFitter fitter(settings);
    JointFitResult result;
    result.fit = fitter.fit_scaled_excess(scaled_excess, n_local, EventTotals{n_total, n_total}, reduce);
    result.fraction = yield_fractions(terms, result.fit.gamma);
    // Each sample's part of the TS at the best fit: 2 sum_i ln(1 + n_s,k (S R / B - 1) / N_k).
    std::vector<double> parts(terms.size(), 0.0);
    for (std::size_t k = 0; k < terms.size(); ++k) {
        const auto& t = terms[k];
        if (t.n_local == 0) continue;
        const double scale = result.fit.ns * result.fraction[k] / t.n_total;
        double sum = 0.0;
        if (t.excess_at_gamma) {
            t.excess_at_gamma(result.fit.gamma, sob.data());
            for (std::size_t i = 0; i < t.n_local; ++i) sum += std::log1p(scale * sob[i]);
        } else {
            t.sob_at_gamma(result.fit.gamma, sob.data());
            for (std::size_t i = 0; i < t.n_local; ++i) sum += std::log1p(scale * (sob[i] - 1.0));
        }
        parts[k] = 2.0 * sum;
    }
    reduce(parts.data(), static_cast<int>(parts.size()));
    result.ts = parts;
    return result;
}

}  // namespace nusky

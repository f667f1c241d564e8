// The engines of tasks inject and sensitivity (nusky/tasks.hpp).
#include "nusky/log.hpp"
#include "nusky/mpi.hpp"
#include "nusky/sensitivity.hpp"
#include "nusky/tasks.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace nusky {

namespace {

std::vector<double> column(const std::vector<TrialResult>& rows, std::size_t begin, std::size_t end, int which)
{
    std::vector<double> out;
    out.reserve(end - begin);
    for (std::size_t i = begin; i < end; ++i) {
        const auto& r = rows[i];
        out.push_back(which == 0 ? r.ts : which == 1 ? r.ns : r.gamma);
    }
    return out;
}

// The signal rows [signal_begin, n) of the campaign (campaign offsets), trials per mean `per_mean`.
// Writes /injection (per-trial rows, distributed) and the bias curve (replicated), and returns
// every signal trial's TS, ns and gamma on every rank (grouped by mean) for the caller.
struct SignalRows {
    std::vector<double> ts, ns, gamma;  // all ranks' signal rows, campaign order
};

SignalRows store_injection(RunContext& context, const TrialCampaign& campaign, const TrialBlock& block,
                           std::int64_t signal_begin, std::int64_t per_mean, const std::vector<double>& means,
                           const Injector& injector)
{
    const Comm& comm = context.comm;
    // This rank's rows are offsets [block.offset, block.offset + size): keep those >= signal_begin.
    const std::int64_t lo = std::max<std::int64_t>(block.offset, signal_begin);
    const std::int64_t hi = block.offset + static_cast<std::int64_t>(block.results.size());
    std::vector<double> mean_col, n_injected, ts, ns, gamma;
    std::vector<std::int64_t> trial_col;
    for (std::int64_t r = lo; r < hi; ++r) {
        const auto& res = block.results[static_cast<std::size_t>(r - block.offset)];
        const double mu = means[static_cast<std::size_t>((r - signal_begin) / per_mean)];
        const std::int64_t trial = campaign.first_trial + r;
        mean_col.push_back(mu);
        trial_col.push_back(trial);
        n_injected.push_back(static_cast<double>(injector.count(campaign.seed, trial, mu)));
        ts.push_back(res.ts);
        ns.push_back(res.ns);
        gamma.push_back(res.gamma);
    }
    Results& results = context.results;
    results.set_distributed("/injection", "n_inj_mean", mean_col, comm);
    results.set_distributed("/injection", "trial", trial_col, comm);
    results.set_distributed("/injection", "n_injected", n_injected, comm);
    results.set_distributed("/injection", "ts", ts, comm);
    results.set_distributed("/injection", "ns", ns, comm);
    results.set_distributed("/injection", "gamma", gamma, comm);

    SignalRows all{comm.allgather(ts), comm.allgather(ns), comm.allgather(gamma)};
    std::vector<double> median_ns, median_gamma, median_ts, mean_injected, flux;
    const std::vector<double> all_injected = comm.allgather(n_injected);
    for (std::size_t g = 0; g < means.size(); ++g) {
        const auto b = g * static_cast<std::size_t>(per_mean), e = b + static_cast<std::size_t>(per_mean);
        std::vector<double> part_ns(all.ns.begin() + b, all.ns.begin() + e);
        std::vector<double> part_gamma(all.gamma.begin() + b, all.gamma.begin() + e);
        std::vector<double> part_ts(all.ts.begin() + b, all.ts.begin() + e);
        median_ns.push_back(median_of(part_ns));
        median_gamma.push_back(median_of(part_gamma));
        median_ts.push_back(median_of(part_ts));
        double sum = 0.0;
        for (auto k = b; k < e; ++k) sum += all_injected[k];
        mean_injected.push_back(sum / static_cast<double>(per_mean));
        flux.push_back(injector.events_per_flux_unit > 0 ? means[g] / injector.events_per_flux_unit
                                                      : std::numeric_limits<double>::quiet_NaN());
    }
    results.set_replicated("/injection", "bias_n_inj", means, comm);
    results.set_replicated("/injection", "bias_flux", flux, comm);
    results.set_replicated("/injection", "bias_mean_n_injected", mean_injected, comm);
    results.set_replicated("/injection", "bias_median_ns", median_ns, comm);
    results.set_replicated("/injection", "bias_median_gamma", median_gamma, comm);
    results.set_replicated("/injection", "bias_median_ts", median_ts, comm);
    auto& group = results.group("/injection");
    group.attributes["seed"] = static_cast<std::int64_t>(campaign.seed);
    group.attributes["first_trial"] = campaign.first_trial;
    group.attributes["trials_per_mean"] = per_mean;
    group.attributes["events_per_flux_unit"] = injector.events_per_flux_unit;
    group.attributes["flux_unit"] = injector.flux_unit;
    group.attributes["pool_events"] = injector.pool_size();
    for (const auto& [name, value] : injector.attributes) group.attributes[name] = value;
    for (std::size_t g = 0; g < means.size(); ++g) {
        char line[200];
        std::snprintf(line, sizeof line, "injected mean %.4g (mean drawn %.2f): median n_s %.2f, gamma %.3f, TS %.2f",
                      means[g], mean_injected[g], median_ns[g], median_gamma[g], median_ts[g]);
        log::info(line);
    }
    return all;
}

}  // namespace

const std::vector<double>& default_sensitivity_grid()
{
    static const std::vector<double> grid{1,  2,  3,   5,   7,   10,  15,  20,  30,   50,   70,  100,
                                          150, 200, 300, 500, 700, 1000, 1500, 2000, 3000, 5000};
    return grid;
}

std::vector<double> injection_means(const JobSpec& job, double events_per_flux_unit, const std::vector<double>& fallback)
{
    std::vector<double> means;
    for (double m : job.inject_ns()) {
        if (!(m >= 0.0) || !std::isfinite(m)) throw job.inject_ns.error("mean numbers must be finite and >= 0");
        means.push_back(m);
    }
    if (!job.inject_flux().empty() && !(events_per_flux_unit > 0.0))
        throw job.inject_flux.error("this likelihood has no flux conversion (no livetime or MC): use inject_ns");
    for (double f : job.inject_flux()) {
        if (!(f >= 0.0) || !std::isfinite(f)) throw job.inject_flux.error("fluxes must be finite and >= 0");
        means.push_back(f * events_per_flux_unit);
    }
    if (means.empty()) means = fallback;
    std::sort(means.begin(), means.end());
    return means;
}

void check_injection_job(const JobSpec& job)
{
    const std::string& task = job.task();
    if (task != "inject" && task != "sensitivity") return;
    if (job.signal_trials() < 1) throw job.signal_trials.error("must be >= 1");
    for (double m : job.inject_ns())
        if (!(m >= 0.0) || !std::isfinite(m)) throw job.inject_ns.error("mean numbers must be finite and >= 0");
    for (double f : job.inject_flux())
        if (!(f >= 0.0) || !std::isfinite(f)) throw job.inject_flux.error("fluxes must be finite and >= 0");
    if (task == "inject" && job.inject_ns().empty() && job.inject_flux().empty())
        throw job.inject_ns.error("task inject needs inject_ns or inject_flux");
    if (task == "sensitivity" && job.trials() < 1)
        throw job.trials.error("task sensitivity needs background trials (trials >= 1)");
}

// The observed fit, then the hypothesis' injector and whole samples for signal trials.
static std::unique_ptr<Injector> prepare_signal_trials(Hypothesis& hypothesis, RunContext& context)
{
    hypothesis.fit(context);
    auto injector = hypothesis.injector(context);
    hypothesis.replicate(context.comm);
    return injector;
}

void run_inject_task(Hypothesis& hypothesis, RunContext& context)
{
    // The [job] keys were checked by JobSpec::validate (check_injection_job).
    const JobSpec& job = context.job;
    const auto injector = prepare_signal_trials(hypothesis, context);
    const auto means = injection_means(job, injector->events_per_flux_unit, {});
    if (means.empty()) throw job.inject_ns.error("task inject needs inject_ns or inject_flux");
    const std::int64_t per_mean = job.signal_trials();
    auto campaign = make_campaign(context, hypothesis.label() + " inject trials");
    campaign.n_trials = per_mean * static_cast<std::int64_t>(means.size());
    auto block = run_trial_campaign(campaign, context.comm, [&](std::int64_t t) {
        const double mu = means[static_cast<std::size_t>((t - campaign.first_trial) / per_mean)];
        return hypothesis.signal_trial(campaign.seed, t, injector->draw(campaign.seed, t, mu));
    });
    store_injection(context, campaign, block, 0, per_mean, means, *injector);
}

void run_sensitivity_task(Hypothesis& hypothesis, RunContext& context)
{
    const JobSpec& job = context.job;
    const Comm& comm = context.comm;
    const auto injector = prepare_signal_trials(hypothesis, context);
    const auto means = injection_means(job, injector->events_per_flux_unit, default_sensitivity_grid());
    const std::int64_t per_mean = job.signal_trials();
    const std::int64_t n_background = job.trials();
    auto campaign = make_campaign(context, hypothesis.label() + " sensitivity trials");
    campaign.n_trials = n_background + per_mean * static_cast<std::int64_t>(means.size());
    const std::vector<Events> nothing = injector->draw(campaign.seed, 0, 0.0);
    auto block = run_trial_campaign(campaign, comm, [&](std::int64_t t) {
        const std::int64_t r = t - campaign.first_trial;
        if (r < n_background) return hypothesis.signal_trial(campaign.seed, t, nothing);
        const double mu = means[static_cast<std::size_t>((r - n_background) / per_mean)];
        return hypothesis.signal_trial(campaign.seed, t, injector->draw(campaign.seed, t, mu));
    });
    // Background rows (a prefix of the campaign): /trials, as the trials task writes them.
    const auto mine = static_cast<std::int64_t>(block.results.size());
    const std::int64_t bkg_end = std::clamp<std::int64_t>(n_background - block.offset, 0, mine);
    for (int which = 0; which < 3; ++which) {
        static const char* names[] = {"ts", "ns", "gamma"};
        context.results.set_distributed("/trials", names[which],
                                        column(block.results, 0, static_cast<std::size_t>(bkg_end), which), comm);
    }
    auto& trials_group = context.results.group("/trials");
    trials_group.attributes["seed"] = static_cast<std::int64_t>(campaign.seed);
    trials_group.attributes["first_trial"] = campaign.first_trial;
    trials_group.attributes["n_trials"] = n_background;
    const auto background_ts = comm.allgather(column(block.results, 0, static_cast<std::size_t>(bkg_end), 0));

    const SignalRows signal = store_injection(context, campaign, block, n_background, per_mean, means, *injector);
    const BackgroundSummary bkg = summarise_background(background_ts);

    std::vector<double> above_median, above_3, above_5;
    for (std::size_t g = 0; g < means.size(); ++g) {
        const auto b = g * static_cast<std::size_t>(per_mean), e = b + static_cast<std::size_t>(per_mean);
        std::vector<double> part(signal.ts.begin() + b, signal.ts.begin() + e);
        above_median.push_back(fraction_above(part, bkg.median));
        above_3.push_back(bkg.thresholds[0].reachable ? fraction_above(part, bkg.thresholds[0].ts) : 0.0);
        above_5.push_back(bkg.thresholds[1].reachable ? fraction_above(part, bkg.thresholds[1].ts) : 0.0);
    }
    Results& results = context.results;
    results.set_replicated("/sensitivity", "n_inj", means, comm);
    results.set_replicated("/sensitivity", "fraction_above_median", above_median, comm);
    results.set_replicated("/sensitivity", "fraction_above_3sigma", above_3, comm);
    results.set_replicated("/sensitivity", "fraction_above_5sigma", above_5, comm);
    auto& s = results.group("/sensitivity").attributes;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double per_flux = injector->events_per_flux_unit;
    auto flux_of = [&](double n) { return per_flux > 0 ? n / per_flux : nan; };
    s["n_background_trials"] = static_cast<std::int64_t>(bkg.n_trials);
    s["trials_per_mean"] = per_mean;
    s["background_median_ts"] = bkg.median;
    s["chi2_eta"] = bkg.tail.eta;
    s["chi2_ndof"] = bkg.tail.valid ? bkg.tail.ndof : nan;
    s["flux_unit"] = injector->flux_unit;
    s["events_per_flux_unit"] = per_flux;
    const double sens = mean_at_fraction(means, above_median, 0.9);
    s["sensitivity_ns"] = sens;
    s["sensitivity_flux"] = flux_of(sens);
    char line[300];
    std::snprintf(line, sizeof line, "background: %lld trials, median TS %.4g; sensitivity (90%% above median): n %.4g, flux %.4g",
                  static_cast<long long>(bkg.n_trials), bkg.median, sens, flux_of(sens));
    log::info(line);
    for (std::size_t k = 0; k < bkg.thresholds.size(); ++k) {
        const auto& t = bkg.thresholds[k];
        const std::string tag = "dp" + std::to_string(static_cast<int>(t.sigma)) + "sigma";
        const double n = t.reachable ? mean_at_fraction(means, k == 0 ? above_3 : above_5, 0.5) : nan;
        s[tag + "_ts_threshold"] = t.ts;
        s[tag + "_threshold_method"] =
            std::string(!t.reachable ? "not reachable (too few background trials, no chi2 fit)"
                                     : t.extrapolated ? "chi2 tail extrapolation" : "background trials");
        s[tag + "_ns"] = n;
        s[tag + "_flux"] = flux_of(n);
        std::snprintf(line, sizeof line, "discovery potential %.0f sigma (TS > %.4g, %s): n %.4g, flux %.4g", t.sigma,
                      t.ts, !t.reachable ? "not reachable" : t.extrapolated ? "chi2 extrapolation" : "from trials",
                      n, flux_of(n));
        log::info(line);
    }
}

}  // namespace nusky

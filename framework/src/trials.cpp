#include "nusky/trials.hpp"

#include "nusky/chain.hpp"
#include "nusky/error.hpp"
#include "nusky/h5.hpp"
#include "nusky/log.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

namespace nusky {

namespace {

double now_s()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// While running, the checkpoint is PATH.tmp. When the campaign is complete it is renamed to
// PATH.ckpt, so that the final results file can be written as PATH.tmp without ever
// destroying finished trials; PATH.ckpt is removed once PATH is in place.
std::string checkpoint_path(const TrialCampaign& c) { return c.output_path + ".tmp"; }
std::string finished_checkpoint_path(const TrialCampaign& c) { return c.output_path + ".ckpt"; }

const char* kColumns[] = {"ts", "ns", "gamma"};

void write_rows(hid_t file, const std::string& path, const char* name, std::int64_t begin,
                const void* data, std::size_t count, hid_t memory_type, const Comm& comm);
void fill_checkpoint(const TrialCampaign& c, H5Handle& file, const Comm& comm);

// The checkpoint file: /trials/{ts,ns,gamma,done} for the whole campaign, plus the identity
// of the run (config, version, seed, range) that a resume must match.
void create_checkpoint(const TrialCampaign& c, const Comm& comm)
{
    auto file = h5_create_parallel(checkpoint_path(c), comm);
    try {
        fill_checkpoint(c, file, comm);
    } catch (const CollectiveError&) {
        // Nothing of the campaign is in it yet: drop it (unclosed: its close could hang on a
        // full disk) and remove it.
        h5_abandon(file);
        std::error_code ec;
        if (comm.is_root()) std::filesystem::remove(checkpoint_path(c), ec);
        throw;
    }
    h5_close_parallel(file, comm, checkpoint_path(c));
}

void fill_checkpoint(const TrialCampaign& c, H5Handle& file, const Comm& comm)
{
    auto group = h5_ensure_group(file, "/checkpoint");
    h5_write_attribute(group, "config", c.config_text);
    h5_write_attribute(group, "nusky_version", c.code_version);
    h5_write_attribute(group, "seed", static_cast<std::int64_t>(c.seed));
    h5_write_attribute(group, "first_trial", c.first_trial);
    h5_write_attribute(group, "n_trials", c.n_trials);
    hsize_t dims[1] = {static_cast<hsize_t>(c.n_trials)};
    for (const char* name : {"ts", "ns", "gamma", "done"}) {
        H5Handle space(H5Screate_simple(1, dims, nullptr));
        hid_t type = std::string(name) == "done" ? H5T_STD_I64LE : H5T_IEEE_F64LE;
        // No fill at allocation: HDF5's fill write inside H5Dcreate can fail on one rank only
        // (a full disk) and leave the others waiting; `done` is zeroed by a checked write instead.
        H5Handle dcpl(H5Pcreate(H5P_DATASET_CREATE));
        H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
        const hid_t id = H5Dcreate2(group, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        H5Handle d(id);
        h5_agree(id < 0 ? -1 : 0, comm, checkpoint_path(c), std::string("creating /checkpoint/") + name);
    }
    // The layout is fixed from here on: reserve its space, so that a disk that fills up later
    // does not lose checkpoint rows.
    // (Four 8-byte columns, and room for the metadata.)
    h5_reserve_space(checkpoint_path(c), 32 * c.n_trials + (64 << 10), comm);
    const Range mine = block_range(c.n_trials, comm.rank(), comm.size());
    const std::vector<std::int64_t> not_done(static_cast<std::size_t>(mine.size()), 0);
    write_rows(file, checkpoint_path(c), "done", mine.begin, not_done.data(), not_done.size(), H5T_NATIVE_INT64, comm);
}

// "[section] key" -> value of a Config::text().
std::map<std::string, std::string> config_entries(const std::string& text)
{
    std::map<std::string, std::string> out;
    std::istringstream in(text);
    std::string line, section;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        if (line.front() == '[') {
            section = line;
            continue;
        }
        auto eq = line.find(" = ");
        if (eq == std::string::npos) continue;
        out[section + " " + line.substr(0, eq)] = line.substr(eq + 3);
    }
    return out;
}

// The first key whose value differs between two config texts, as a message fragment.
std::string config_difference(const std::string& then, const std::string& now)
{
    auto a = config_entries(then), b = config_entries(now);
    for (const auto& [key, value] : a) {
        auto it = b.find(key);
        if (it == b.end()) return key + " = " + value + " in the checkpoint, not set now";
        if (it->second != value) return key + " = " + value + " in the checkpoint, " + it->second + " now";
    }
    for (const auto& [key, value] : b) {
        if (!a.count(key)) return key + " = " + value + " now, not set in the checkpoint";
    }
    return "the config texts differ";
}

// Checks that an existing checkpoint belongs to this campaign; the message says what differs.
void check_checkpoint_identity(const TrialCampaign& c, hid_t file)
{
    const std::string path = checkpoint_path(c);
    auto version = h5_read_string_attribute(file, path, "/checkpoint", "nusky_version");
    if (version != c.code_version) {
        throw Error(path + ": checkpoint made by nusky " + version + ", this is nusky " + c.code_version +
                    "; remove it or rerun without --resume");
    }
    auto config = h5_read_string_attribute(file, path, "/checkpoint", "config");
    if (config != c.config_text) {
        throw Error(path + ": checkpoint made with a different config (" + config_difference(config, c.config_text) +
                    "); remove it or rerun without --resume");
    }
    if (h5_read_int64_attribute(file, path, "/checkpoint", "seed") != static_cast<std::int64_t>(c.seed) ||
        h5_read_int64_attribute(file, path, "/checkpoint", "first_trial") != c.first_trial ||
        h5_read_int64_attribute(file, path, "/checkpoint", "n_trials") != c.n_trials) {
        throw Error(path + ": checkpoint made for other trials (seed or range differ)");
    }
}

void write_rows(hid_t file, const std::string& path, const char* name, std::int64_t begin,
                const void* data, std::size_t count, hid_t memory_type, const Comm& comm)
{
    std::string dataset = std::string("/checkpoint/") + name;
    H5Handle d(h5_check(H5Dopen2(file, dataset.c_str(), H5P_DEFAULT), path, dataset));
    H5Handle space(H5Dget_space(d));
    hsize_t start[1] = {static_cast<hsize_t>(begin)}, n[1] = {count};
    if (count > 0) H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, n, nullptr);
    else H5Sselect_none(space);
    H5Handle memory(H5Screate_simple(1, n, nullptr));
    if (count == 0) H5Sselect_none(memory);
    H5Handle transfer(H5Pcreate(H5P_DATASET_XFER));
    H5Pset_dxpl_mpio(transfer, H5FD_MPIO_COLLECTIVE);
    h5_agree(H5Dwrite(d, memory_type, memory, space, transfer, data), comm, path, "checkpoint write of " + dataset);
    h5_record_collective_write(transfer, dataset);
    // Open MPI's collective writes can lose a full disk's data without an error: flush, then
    // read the rows back (a row is only marked done after its values read back).
    h5_agree(H5Fflush(file, H5F_SCOPE_GLOBAL), comm, path, "checkpoint flush");
    h5_agree(h5_rows_read_back(file, dataset, begin, data, count, memory_type) ? 0 : -1, comm, path,
             "reading back the checkpoint rows of " + dataset);
}

}  // namespace

TrialBlock run_trial_campaign(const TrialCampaign& c, const Comm& comm,
                              const std::function<TrialResult(std::int64_t)>& trial)
{
    Range mine = block_range(c.n_trials, comm.rank(), comm.size());
    TrialBlock block;
    block.offset = mine.begin;
    block.results.resize(static_cast<std::size_t>(mine.size()));
    std::vector<std::int64_t> done(static_cast<std::size_t>(mine.size()), 0);

    // Resume: read what the checkpoint holds for this rank's rows (any earlier rank count).
    namespace fs = std::filesystem;
    const std::string ckpt = checkpoint_path(c);
    if (c.resume && fs::exists(finished_checkpoint_path(c)) && comm.is_root()) {
        fs::rename(finished_checkpoint_path(c), ckpt);  // killed while writing the final file
    }
    comm.barrier();
    bool have_checkpoint = c.resume && fs::exists(ckpt);
    if (c.resume && !have_checkpoint) log::info("--resume: no checkpoint " + ckpt + ", starting afresh");
    std::int64_t resumed = 0;
    if (have_checkpoint) {
        H5Handle file;
        // Every rank sees the same checkpoint: agree, so that one rank reports a mismatch.
        collective_step(comm, [&] {
            file = h5_open_parallel(ckpt, comm);
            check_checkpoint_identity(c, file);
        });
        auto flags = h5_read_int64s(file, ckpt, "/checkpoint/done", mine.begin, mine.size());
        std::vector<std::vector<double>> columns;
        for (const char* name : kColumns) {
            columns.push_back(h5_read_doubles(file, ckpt, std::string("/checkpoint/") + name, mine.begin, mine.size()));
        }
        for (std::size_t i = 0; i < flags.size(); ++i) {
            done[i] = flags[i];
            if (flags[i]) block.results[i] = {columns[0][i], columns[1][i], columns[2][i]};
        }
        resumed = comm.sum(static_cast<std::int64_t>(std::count(done.begin(), done.end(), 1)));
        log::info("resuming from " + ckpt + ": " + std::to_string(resumed) + " of " +
                  std::to_string(c.n_trials) + " trials already done");
    } else {
        create_checkpoint(c, comm);
    }

    Progress progress(c.label, c.n_trials, comm.is_root());
    {
    auto file = h5_open_parallel(ckpt, comm, /*writable=*/true);
    try {
    // HDF5 trims a file to its allocated size when it closes it: reserve the space again.
    h5_reserve_space(ckpt, 32 * c.n_trials + (64 << 10), comm);
    const std::int64_t per_round = c.checkpoint_every;
    const std::int64_t longest = block_range(c.n_trials, 0, comm.size()).size();  // rank 0 has the most
    const std::int64_t rounds = (longest + per_round - 1) / per_round;
    // Rank 0 estimates the campaign's progress as its own finished count times the rank count.
    std::int64_t local_done = std::count(done.begin(), done.end(), 1);
    auto estimate = [&] { return std::min<std::int64_t>(c.n_trials, local_done * comm.size()); };
    for (std::int64_t round = 0; round < rounds; ++round) {
        std::int64_t begin = std::min<std::int64_t>(round * per_round, mine.size());
        std::int64_t end = std::min<std::int64_t>(begin + per_round, mine.size());
        for (std::int64_t i = begin; i < end; ++i) {
            auto k = static_cast<std::size_t>(i);
            if (done[k]) continue;
            block.results[k] = trial(c.first_trial + mine.begin + i);
            done[k] = 1;
            ++local_done;
            if (comm.is_root() && (i & 15) == 0) progress.update(estimate());
        }
        std::size_t count = static_cast<std::size_t>(end - begin);
        std::vector<double> column(count);
        for (int col = 0; col < 3; ++col) {
            for (std::size_t j = 0; j < count; ++j) {
                const auto& r = block.results[static_cast<std::size_t>(begin) + j];
                column[j] = col == 0 ? r.ts : col == 1 ? r.ns : r.gamma;
            }
            write_rows(file, ckpt, kColumns[col], mine.begin + begin, column.data(), count, H5T_NATIVE_DOUBLE, comm);
        }
        write_rows(file, ckpt, "done", mine.begin + begin, done.data() + begin, count, H5T_NATIVE_INT64, comm);
        progress.update(estimate());
    }
    } catch (const CollectiveError&) {
        // PATH.tmp keeps every round that read back whole; --resume continues from it. Closing
        // could hang on the same failure, so the file is dropped unclosed.
        h5_abandon(file);
        throw;
    }
    h5_close_parallel(file, comm, ckpt);
    }  // the checkpoint file is closed, on every rank
    progress.finish();
    comm.barrier();
    if (comm.is_root()) fs::rename(ckpt, finished_checkpoint_path(c));
    comm.barrier();
    return block;
}

void store_trials(const TrialCampaign& c, const TrialBlock& block, Results& results, const Comm& comm)
{
    std::vector<double> ts, ns, gamma;
    for (const auto& r : block.results) {
        ts.push_back(r.ts);
        ns.push_back(r.ns);
        gamma.push_back(r.gamma);
    }
    results.set_distributed("/trials", "ts", ts, comm);
    results.set_distributed("/trials", "ns", ns, comm);
    results.set_distributed("/trials", "gamma", gamma, comm);
    auto& group = results.group("/trials");
    group.attributes["seed"] = static_cast<std::int64_t>(c.seed);
    group.attributes["first_trial"] = c.first_trial;
    group.attributes["n_trials"] = c.n_trials;
}

Progress::Progress(std::string label, std::int64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled), tty_(::isatty(STDERR_FILENO)), start_(now_s())
{
}

void Progress::update(std::int64_t done)
{
    if (!enabled_ || total_ <= 0) return;
    double t = now_s();
    if (t - last_print_ < (tty_ ? 0.5 : 10.0) && done < total_) return;
    last_print_ = t;
    double elapsed = t - start_;
    double rate = elapsed > 0 ? done / elapsed : 0;
    double eta = rate > 0 ? (total_ - done) / rate : 0;
    char line[200];
    std::snprintf(line, sizeof line, "%s: %lld/%lld (%.1f%%), %.1f/s, ETA %.0f s", label_.c_str(),
                  static_cast<long long>(done), static_cast<long long>(total_), 100.0 * done / total_, rate, eta);
    if (tty_) {
        std::fprintf(stderr, "\r%s   ", line);
        std::fflush(stderr);
    } else {
        log::info(line);
    }
}

void Progress::finish()
{
    if (!enabled_) return;
    if (tty_) std::fputc('\n', stderr);
    log::info(label_ + ": done in " + std::to_string(now_s() - start_) + " s");
}

}  // namespace nusky

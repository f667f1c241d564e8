#pragma once
// MPI session (RAII init/finalize) and a thin communicator wrapper whose calls throw on error.
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace nusky {

// Lives on main()'s stack: MPI_Init_thread on construction, MPI_Finalize on destruction.
class MpiSession {
public:
    MpiSession(int& argc, char**& argv);
    ~MpiSession();
    MpiSession(const MpiSession&) = delete;
    MpiSession& operator=(const MpiSession&) = delete;
};

// Throws nusky::Error with MPI's error string when rc != MPI_SUCCESS.
void mpi_check(int rc, const char* call);

class Comm {
public:
    explicit Comm(MPI_Comm comm = MPI_COMM_WORLD);
    int rank() const { return rank_; }
    int size() const { return size_; }
    bool is_root() const { return rank_ == 0; }
    MPI_Comm raw() const { return comm_; }

    void barrier() const;
    // In-place sums over ranks.
    void sum(double* values, int n) const;
    void sum(std::int64_t* values, int n) const;
    double sum(double value) const;
    std::int64_t sum(std::int64_t value) const;
    double max(double value) const;
    int max(int value) const;
    // Exclusive prefix sum: the global offset of this rank's block.
    std::int64_t exclusive_prefix(std::int64_t local) const;
    void broadcast(std::string& text, int root = 0) const;
    void broadcast(double* values, int n, int root = 0) const;
    // Concatenates every rank's block in rank order on every rank.
    std::vector<double> allgather(const std::vector<double>& local) const;
    // Aborts every rank (used after an error only one rank saw).
    [[noreturn]] void abort(int code) const;

private:
    MPI_Comm comm_;
    int rank_ = 0;
    int size_ = 1;
};

// Block distribution of n items over size ranks: [begin, end) of `rank`, sizes differ by <= 1.
struct Range {
    std::int64_t begin = 0;
    std::int64_t end = 0;
    std::int64_t size() const { return end - begin; }
};
Range block_range(std::int64_t n, int rank, int size);

}  // namespace nusky

#include "nusky/mpi.hpp"

#include "nusky/error.hpp"

namespace nusky {

MpiSession::MpiSession(int& argc, char**& argv)
{
    int provided = 0;
    mpi_check(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    // Errors come back as return codes (turned into exceptions), not as an abort inside MPI.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

MpiSession::~MpiSession()
{
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
}

void mpi_check(int rc, const char* call)
{
    if (rc == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(rc, text, &length);
    throw Error(std::string(call) + " failed: " + std::string(text, length));
}

Comm::Comm(MPI_Comm comm) : comm_(comm)
{
    mpi_check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    mpi_check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
}

void Comm::barrier() const { mpi_check(MPI_Barrier(comm_), "MPI_Barrier"); }

void Comm::sum(double* values, int n) const
{
    mpi_check(MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, MPI_SUM, comm_), "MPI_Allreduce");
}

void Comm::sum(std::int64_t* values, int n) const
{
    mpi_check(MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_INT64_T, MPI_SUM, comm_), "MPI_Allreduce");
}

double Comm::sum(double value) const
{
    sum(&value, 1);
    return value;
}

std::int64_t Comm::sum(std::int64_t value) const
{
    sum(&value, 1);
    return value;
}

double Comm::max(double value) const
{
    mpi_check(MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_DOUBLE, MPI_MAX, comm_), "MPI_Allreduce");
    return value;
}

int Comm::max(int value) const
{
    mpi_check(MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_INT, MPI_MAX, comm_), "MPI_Allreduce");
    return value;
}

std::int64_t Comm::exclusive_prefix(std::int64_t local) const
{
    std::int64_t offset = 0;
    mpi_check(MPI_Exscan(&local, &offset, 1, MPI_INT64_T, MPI_SUM, comm_), "MPI_Exscan");
    return rank_ == 0 ? 0 : offset;  // MPI_Exscan leaves rank 0's result undefined
}

void Comm::broadcast(std::string& text, int root) const
{
    long long length = static_cast<long long>(text.size());
    mpi_check(MPI_Bcast(&length, 1, MPI_LONG_LONG, root, comm_), "MPI_Bcast");
    text.resize(static_cast<std::size_t>(length));
    if (length > 0) {
        mpi_check(MPI_Bcast(text.data(), static_cast<int>(length), MPI_CHAR, root, comm_), "MPI_Bcast");
    }
}

void Comm::broadcast(double* values, int n, int root) const
{
    mpi_check(MPI_Bcast(values, n, MPI_DOUBLE, root, comm_), "MPI_Bcast");
}

std::vector<double> Comm::allgather(const std::vector<double>& local) const
{
    int count = static_cast<int>(local.size());
    std::vector<int> counts(size_), displacements(size_, 0);
    mpi_check(MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, comm_), "MPI_Allgather");
    for (int r = 1; r < size_; ++r) displacements[r] = displacements[r - 1] + counts[r - 1];
    std::vector<double> all(static_cast<std::size_t>(displacements.back() + counts.back()));
    mpi_check(MPI_Allgatherv(local.data(), count, MPI_DOUBLE, all.data(), counts.data(),
                             displacements.data(), MPI_DOUBLE, comm_),
              "MPI_Allgatherv");
    return all;
}

void Comm::abort(int code) const
{
    MPI_Abort(comm_, code);
    std::_Exit(code);  // MPI_Abort should not return; make sure this rank ends anyway
}

Range block_range(std::int64_t n, int rank, int size)
{
    std::int64_t base = n / size, extra = n % size;
    Range r;
    r.begin = rank * base + std::min<std::int64_t>(rank, extra);
    r.end = r.begin + base + (rank < extra ? 1 : 0);
    return r;
}

}  // namespace nusky

// nusky_bench: Google Benchmark kernels of the hot loops, run as one MPI process (the PDFs are
// built through the same collective code as in `nusky run`, on MPI_COMM_WORLD of size 1).
//   build/bin/nusky_bench --benchmark_filter=Template
#include "nusky/mpi.hpp"

#include <benchmark/benchmark.h>

int main(int argc, char** argv)
{
    nusky::MpiSession mpi(argc, argv);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

#!/usr/bin/env bash
# Wraps one MPI rank in GNU time: writes "<peak RSS kB> <elapsed s> <user s> <sys s>" to
# $NUSKY_BENCH_TIME_DIR/rank.<rank>. Used by bench/run.sh as `mpirun -np N rank-time.sh nusky ...`.
rank=${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-${SLURM_PROCID:-0}}}
exec /usr/bin/time -f "%M %e %U %S" -o "${NUSKY_BENCH_TIME_DIR:?}/rank.$rank" "$@"

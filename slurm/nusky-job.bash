# Shared by the nusky batch scripts in this directory; sourced, not run. Everything here is
# steered by environment variables, which sbatch passes from the submitting shell to the job
# (its default --export=ALL):
#
#   NUSKY_BIN        the nusky executable. Default: `nusky` on PATH, else the build tree next to
#                    these scripts (../build/bin/nusky, or $NUSKY_BUILD_DIR/bin/nusky), else the
#                    install prefix (<prefix>/share/nusky/slurm -> <prefix>/bin/nusky).
#   NUSKY_MODULES    environment modules to load first, e.g. "gcc/12 openmpi/4.1 hdf5/1.14-mpi".
#   NUSKY_LAUNCHER   srun (default) | mpirun | none (one process, no launcher).
#   NUSKY_SRUN_MPI   the srun --mpi= plugin for Open MPI: pmix (default) or pmi2.
#   NUSKY_MPIRUN_ARGS extra mpirun options, word-split (e.g. "--bind-to core").
#   NUSKY_MPI_IO     Open MPI's parallel-I/O component: romio321 or ompio (exported as
#                    OMPI_MCA_io); romio321 for file systems where collective HDF5 writes hang.
#   NUSKY_RESUME     auto (default): pass --resume after a requeue or when OUTPUT.tmp/.ckpt exist;
#                    1: always; 0: never.

nusky_log() { echo "nusky-slurm: $*"; }
nusky_die() {
    echo "nusky-slurm: error: $*" >&2
    exit 1
}

# Loads $NUSKY_MODULES with Environment Modules or Lmod.
nusky_load_modules() {
    [ -n "${NUSKY_MODULES:-}" ] || return 0
    if ! type module > /dev/null 2>&1; then
        local init
        for init in /etc/profile.d/modules.sh /etc/profile.d/lmod.sh /usr/share/lmod/lmod/init/bash; do
            # shellcheck disable=SC1090
            [ -r "$init" ] && source "$init" && break
        done
    fi
    type module > /dev/null 2>&1 || nusky_die "NUSKY_MODULES is set but there is no 'module' command"
    # shellcheck disable=SC2086
    module load $NUSKY_MODULES || nusky_die "module load $NUSKY_MODULES failed"
}

# Sets NUSKY to the nusky executable (see NUSKY_BIN above).
nusky_find_bin() {
    local dir=${NUSKY_SLURM_DIR:?} candidate
    if [ -n "${NUSKY_BIN:-}" ]; then
        [ -x "$NUSKY_BIN" ] || nusky_die "NUSKY_BIN=$NUSKY_BIN is not an executable"
        NUSKY=$NUSKY_BIN
        return
    fi
    if candidate=$(command -v nusky); then
        NUSKY=$candidate
        return
    fi
    for candidate in ${NUSKY_BUILD_DIR:+"$NUSKY_BUILD_DIR/bin/nusky"} "$dir/../build/bin/nusky" "$dir/../../../bin/nusky"; do
        if [ -x "$candidate" ]; then
            NUSKY=$(cd "$(dirname "$candidate")" && pwd)/nusky
            return
        fi
    done
    nusky_die "cannot find nusky: set NUSKY_BIN, put nusky on PATH, or build it in $dir/../build"
}

# Sets the array LAUNCH to the command that starts the job's MPI ranks.
nusky_launcher() {
    local extra=()
    read -r -a extra <<< "${NUSKY_MPIRUN_ARGS:-}"
    case "${NUSKY_LAUNCHER:-srun}" in
        srun) LAUNCH=(srun "--mpi=${NUSKY_SRUN_MPI:-pmix}") ;;
        mpirun)
            # A node that dies or drops off the network must end the job, not hang it: mpirun
            # notices a silent daemon through TCP keepalive (Open MPI's defaults: 300 s idle, then 9
            # probes 20 s apart; tests/e2e/multihost.sh saw a job hang > 90 s without these, end in 11 s with).
            export OMPI_MCA_oob_tcp_keepalive_time=${OMPI_MCA_oob_tcp_keepalive_time:-5}
            export OMPI_MCA_oob_tcp_keepalive_intvl=${OMPI_MCA_oob_tcp_keepalive_intvl:-2}
            export OMPI_MCA_oob_tcp_keepalive_probes=${OMPI_MCA_oob_tcp_keepalive_probes:-3}
            LAUNCH=(mpirun "${extra[@]}")
            ;;
        none) LAUNCH=() ;;
        *) nusky_die "NUSKY_LAUNCHER=$NUSKY_LAUNCHER: use srun, mpirun or none" ;;
    esac
    if [ -n "${NUSKY_MPI_IO:-}" ]; then
        case "$NUSKY_MPI_IO" in
            romio321 | ompio)
                export OMPI_MCA_io=$NUSKY_MPI_IO
                nusky_log "MPI-IO component $NUSKY_MPI_IO (OMPI_MCA_io)"
                ;;
            *) nusky_die "NUSKY_MPI_IO=$NUSKY_MPI_IO: use romio321 or ompio" ;;
        esac
    fi
}

# Everything a job needs before it runs nusky: modules, NUSKY, LAUNCH.
nusky_setup() {
    nusky_load_modules
    nusky_find_bin
    nusky_launcher
    nusky_log "job ${SLURM_JOB_ID:-(not in Slurm)}${SLURM_ARRAY_TASK_ID:+ (array task $SLURM_ARRAY_TASK_ID)}" \
        "on ${SLURM_JOB_NODELIST:-$(hostname)}, ${SLURM_NTASKS:-1} task(s), restart ${SLURM_RESTART_COUNT:-0}"
    nusky_log "nusky: $NUSKY ($("$NUSKY" --version 2> /dev/null || echo 'version unknown'))"
}

# Absolute form of a path (the file need not exist).
nusky_abspath() {
    case "$1" in
        /*) echo "$1" ;;
        *) echo "$PWD/$1" ;;
    esac
}

# The USR1 trap: asks Slurm to requeue this job (Slurm then ends the running steps).
nusky_requeue() {
    if [ -n "${SLURM_JOB_ID:-}" ]; then
        nusky_log "time limit near (SIGUSR1): requeueing job $SLURM_JOB_ID; it resumes from ${NUSKY_REQUEUE_OUTPUT:-}.tmp"
        scontrol requeue "$SLURM_JOB_ID" || nusky_log "scontrol requeue failed; resubmit the job to resume"
    fi
}

# nusky_run_resumable OUTPUT NUSKY_RUN_ARGS...: runs `nusky run NUSKY_RUN_ARGS... --output OUTPUT`
# under the launcher, and survives the time limit: with `#SBATCH --requeue` and
# `#SBATCH --signal=B:USR1@SECONDS`, Slurm sends SIGUSR1 to this script SECONDS before the limit;
# the trap requeues the job, Slurm then ends this run, and the next run continues from the
# checkpoint OUTPUT.tmp with --resume. Returns nusky's exit code.
nusky_run_resumable() {
    local output=$1
    shift
    mkdir -p "$(dirname "$output")"
    local resume=()
    case "${NUSKY_RESUME:-auto}" in
        1) resume=(--resume) ;;
        0) ;;
        auto)
            if [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ] || [ -e "$output.tmp" ] || [ -e "$output.ckpt" ]; then
                resume=(--resume)
            fi
            ;;
        *) nusky_die "NUSKY_RESUME=$NUSKY_RESUME: use auto, 1 or 0" ;;
    esac
    NUSKY_REQUEUE_OUTPUT=$output
    trap nusky_requeue USR1
    nusky_log "${LAUNCH[*]}${LAUNCH[*]:+ }$NUSKY run $* --output $output${resume[*]:+ ${resume[*]}}"
    "${LAUNCH[@]}" "$NUSKY" run "$@" --output "$output" "${resume[@]}" &
    local pid=$! rc
    # `wait` returns early (status > 128) when the trapped signal arrives; keep waiting for
    # nusky, which runs on until Slurm ends the requeued job.
    while :; do
        rc=0
        wait "$pid" || rc=$?
        if [ "$rc" -gt 128 ] && kill -0 "$pid" 2> /dev/null; then continue; fi
        break
    done
    trap - USR1
    if [ "$rc" -eq 0 ]; then nusky_log "done: $output"; else nusky_log "nusky exited with code $rc"; fi
    return "$rc"
}

#!/usr/bin/env bash
# Submits a background-trial campaign as a Slurm job array (trials_array.sbatch, one piece file
# per array task) plus a merge job (merge_trials.sbatch, `nusky merge OUTPUT PIECES...`) that
# waits for the whole array with --dependency=afterok:<array job id>.
#
#   slurm/submit_trials.sh [OPTIONS] CONFIG OUTPUT [NUSKY RUN OPTIONS...]
#
# As with the sbatch scripts, anything after OUTPUT goes to `nusky run` in every array task,
# e.g. --set likelihood.ra_deg=77.36 (a `--` before them is accepted too).
#
#   -n, --trials N        total number of trials (env NUSKY_TRIALS; required)
#   -p, --per-task M      trials per array task (env TRIALS_PER_TASK; default 1000)
#   -d, --pieces DIR      directory of the piece files (env NUSKY_PIECES; default OUTPUT.pieces)
#   -j, --max-parallel K  run at most K array tasks at once (--array=0-N%K)
#   -s, --sbatch OPTION   an sbatch option for the array and the merge job, e.g. -s --partition=short
#                         (repeatable; SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_TIMELIMIT work too)
#   -a, --array-sbatch OPTION   an sbatch option for the array only, e.g. -a --ntasks=8
#       --dry-run         print the sbatch commands instead of submitting
#
# Prints "array <id>" and "merge <id>". The array's trial i of the campaign is the same trial
# as in a single `nusky run` with job.trials = N, so the merged file equals a single job's.
set -euo pipefail

usage() {
    awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
    exit "${1:-1}"
}
die() {
    echo "submit_trials.sh: $*" >&2
    exit 1
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
trials=${NUSKY_TRIALS:-}
per_task=${TRIALS_PER_TASK:-1000}
pieces=${NUSKY_PIECES:-}
max_parallel=
dry_run=0
both_opts=()
array_opts=()
positional=()
while [ $# -gt 0 ] && [ ${#positional[@]} -lt 2 ]; do
    case "$1" in
        -n | --trials) trials=${2:?}; shift 2 ;;
        --trials=*) trials=${1#*=}; shift ;;
        -p | --per-task) per_task=${2:?}; shift 2 ;;
        --per-task=*) per_task=${1#*=}; shift ;;
        -d | --pieces) pieces=${2:?}; shift 2 ;;
        --pieces=*) pieces=${1#*=}; shift ;;
        -j | --max-parallel) max_parallel=${2:?}; shift 2 ;;
        --max-parallel=*) max_parallel=${1#*=}; shift ;;
        -s | --sbatch) both_opts+=("${2:?}"); shift 2 ;;
        --sbatch=*) both_opts+=("${1#*=}"); shift ;;
        -a | --array-sbatch) array_opts+=("${2:?}"); shift 2 ;;
        --array-sbatch=*) array_opts+=("${1#*=}"); shift ;;
        --dry-run) dry_run=1; shift ;;
        -h | --help) usage 0 ;;
        --) shift; break ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) positional+=("$1"); shift ;;
    esac
done
[ "${1:-}" != "--" ] || shift
[ ${#positional[@]} -eq 2 ] || usage
config=${positional[0]}
output=${positional[1]}
[[ "$trials" =~ ^[1-9][0-9]*$ ]] || die "give the number of trials: --trials N (or NUSKY_TRIALS)"
[[ "$per_task" =~ ^[1-9][0-9]*$ ]] || die "--per-task must be a positive number"
[ -z "$max_parallel" ] || [[ "$max_parallel" =~ ^[1-9][0-9]*$ ]] || die "--max-parallel must be a positive number"
[ -r "$config" ] || die "config $config not readable"

abspath() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
config=$(abspath "$config")
output=$(abspath "$output")
pieces=$(abspath "${pieces:-$output.pieces}")
n_tasks=$(((trials + per_task - 1) / per_task))

# The jobs get the nusky found here (they may run where PATH differs) and this directory.
if [ -z "${NUSKY_BIN:-}" ]; then
    # shellcheck source=nusky-job.bash
    NUSKY_SLURM_DIR=$here source "$here/nusky-job.bash"
    NUSKY_SLURM_DIR=$here nusky_find_bin
    NUSKY_BIN=$NUSKY
fi
export NUSKY_BIN NUSKY_SLURM_DIR=$here NUSKY_TRIALS=$trials TRIALS_PER_TASK=$per_task NUSKY_EXPECT_PIECES=$n_tasks

array_spec=0-$((n_tasks - 1))${max_parallel:+%$max_parallel}
array_cmd=(sbatch --parsable "--array=$array_spec" "${both_opts[@]}" "${array_opts[@]}"
    "$here/trials_array.sbatch" "$config" "$pieces" "$@")
if [ "$dry_run" -eq 1 ]; then
    echo "NUSKY_BIN=$NUSKY_BIN NUSKY_TRIALS=$trials TRIALS_PER_TASK=$per_task ${array_cmd[*]}"
    echo "NUSKY_EXPECT_PIECES=$n_tasks sbatch --parsable --dependency=afterok:<array> --kill-on-invalid-dep=yes ${both_opts[*]} $here/merge_trials.sbatch $output $pieces"
    exit 0
fi
mkdir -p "$pieces"
array_id=$("${array_cmd[@]}") || die "sbatch of the array failed"
array_id=${array_id%%;*}
merge_id=$(sbatch --parsable "--dependency=afterok:$array_id" --kill-on-invalid-dep=yes "${both_opts[@]}" \
    "$here/merge_trials.sbatch" "$output" "$pieces") || die "sbatch of the merge job failed (array $array_id is queued)"
merge_id=${merge_id%%;*}
echo "array $array_id ($n_tasks tasks x $per_task trials -> $pieces)"
echo "merge $merge_id (after array $array_id -> $output)"

#!/usr/bin/env bash
# Ranks on separate hosts (issue 19). Three hosts are built on this machine as network
# namespaces (iproute2), each with its own address on a bridge; mpirun runs in the root namespace
# (the login node) and starts Open MPI's daemon on each host through a launch agent that enters
# the host's namespace instead of ssh. Ranks on different hosts talk over TCP only (no shared
# memory between hosts), the files are shared as on a cluster filesystem.
#  1. A fit, a trials campaign and a small scan with ranks spread over the hosts equal the one-host
#     runs bit for bit, and every dataset write was collective MPI-IO (H5Pget_mpio_no_collective_cause).
#  2. Faults: the ranks of one host killed mid-campaign, and one host's link going down: mpirun
#     ends within 30 s with a message, the checkpoint PATH.tmp is intact, and --resume on one host
#     completes the campaign bit-identical to an uninterrupted run.
# Needs root and ip(8); skipped (77) otherwise. Only addresses inside the namespaces it makes are
# used; the namespaces and the bridge are removed at the end.
source "$(dirname "$0")/lib/common.bash"
: "${NUSKY_SOURCE_DIR:?set by ctest}"
if [ "$(id -u)" -ne 0 ] || ! command -v ip > /dev/null || ! ip netns list > /dev/null 2>&1; then
  echo "SKIP: needs root and ip netns"; exit 77
fi
tag=nsk$$
net=10.$((200 + $$ % 50)).$(($$ % 250)).0
prefix=${net%.0}
bridge=${tag}br
hosts=(h1 h2 h3)
cleanup() {
  for h in "${hosts[@]}"; do
    ip netns pids "${tag}_$h" 2> /dev/null | xargs -r kill -9 2> /dev/null || true
    ip netns del "${tag}_$h" 2> /dev/null || true
  done
  ip link del "$bridge" 2> /dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---- the hosts: namespaces on a bridge, 10.x.y.11-13 ----
ip link add "$bridge" type bridge
ip addr add "$prefix.1/24" dev "$bridge"
ip link set "$bridge" up
agent=$WORK/netns-agent
{
  echo '#!/bin/sh'
  echo '# Open MPI launch agent: "AGENT HOST COMMAND..." runs COMMAND on HOST (its network namespace).'
  echo 'host=$1; shift'
  echo 'case "$host" in'
  for i in 1 2 3; do
    h=${hosts[$((i - 1))]}
    ip netns add "${tag}_$h"
    ip link add "${tag}v$i" type veth peer name eth0 netns "${tag}_$h"
    ip link set "${tag}v$i" master "$bridge"
    ip link set "${tag}v$i" up
    ip netns exec "${tag}_$h" ip addr add "$prefix.1$i/24" dev eth0
    ip netns exec "${tag}_$h" ip link set eth0 up
    ip netns exec "${tag}_$h" ip link set lo up
    echo "  $prefix.1$i) ns=${tag}_$h ;;"
  done
  echo '  *) echo "netns-agent: unknown host $host" >&2; exit 1 ;;'
  echo 'esac'
  # What a real node has of its own: /tmp, and /dev/shm for the shared-memory transport between
  # its ranks (vader names its segments by hostname and local rank, which the namespaces share).
  echo 'local=$0.$ns; mkdir -p "$local"'
  echo 'exec ip netns exec "$ns" /bin/sh -c "export TMPDIR=$local OMPI_MCA_btl_vader_backing_directory=$local; $*"'
} > "$agent"
chmod +x "$agent"
h1=$prefix.11 h2=$prefix.12 h3=$prefix.13
echo "hosts: $h1 $h2 $h3 (namespaces ${tag}_h1..3 on bridge $bridge)"

# mpirun across hosts: TCP between hosts (shared memory only within one), the daemons reached
# through the agent, all traffic on the hosts' network. Failure detection on the daemons' links
# (TCP keepalive after 5 s idle, 3 probes 2 s apart) as docs/cluster.md recommends.
across() {  # across HOSTLIST NP ARGS...
  local hostlist=$1 np=$2; shift 2
  "$MPIEXEC" --mca plm_rsh_agent "$agent" --mca plm_rsh_no_tree_spawn 1 \
    --mca oob_tcp_if_include "$net/24" --mca btl tcp,vader,self --mca btl_tcp_if_include "$net/24" \
    --mca oob_tcp_keepalive_time 5 --mca oob_tcp_keepalive_intvl 2 --mca oob_tcp_keepalive_probes 3 \
    --host "$hostlist" -np "$np" "$NUSKY" "$@"
}
same() {  # same A B OBJECT...: h5diff of each object
  local a=$1 b=$2 o; shift 2
  for o in "$@"; do h5diff "$a" "$b" "$o" "$o" > /dev/null || fail "$o differs between $a and $b"; done
}
collective() {  # collective LOG: every dataset write was collective
  local line
  line=$(grep "MPI-IO dataset writes:" "$1" | tail -n 1)
  [[ "$line" =~ :\ ([0-9]+)\ collective,\ 0\ independent ]] || { cat "$1"; fail "not all writes collective: $line"; }
  [ "${BASH_REMATCH[1]}" -gt 0 ] || fail "no collective write counted: $line"
}
cd "$WORK"
ic40=$NUSKY_SOURCE_DIR/configs/point_source_ic40.ini
gp=$NUSKY_SOURCE_DIR/configs/galactic_plane_pi0.ini

# ---- 1. fit, trials, scan across hosts = one host ----
across "$h1:1,$h2:1,$h3:1" 3 run "$ic40" --output fit_hosts.h5 > fit_hosts.log 2>&1 || { cat fit_hosts.log; fail "fit on 3 hosts"; }
run_np 3 run "$ic40" --output fit_one.h5 > fit_one.log 2>&1 || { cat fit_one.log; fail "fit on one host"; }
same fit_hosts.h5 fit_one.h5 /fit /selection
collective fit_hosts.log
echo "ok: IC40 fit, 3 ranks on 3 hosts = 3 ranks on one host; $(grep -o 'MPI-IO.*' fit_hosts.log)"

across "$h1:2,$h2:2" 4 run "$gp" --set job.task=trials --set job.trials=400 --set job.checkpoint_every=50 \
  --output trials_hosts.h5 > trials_hosts.log 2>&1 || { cat trials_hosts.log; fail "trials on 2 hosts"; }
run_np 4 run "$gp" --set job.task=trials --set job.trials=400 --set job.checkpoint_every=50 \
  --output trials_one.h5 > trials_one.log 2>&1 || { cat trials_one.log; fail "trials on one host"; }
same trials_hosts.h5 trials_one.h5 /fit /trials
collective trials_hosts.log
echo "ok: pi0 trials, 4 ranks on 2 hosts = 4 ranks on one host; $(grep -o 'MPI-IO.*' trials_hosts.log)"

across "$h1:1,$h2:1,$h3:1" 3 run "$ic40" --set job.task=scan --set job.nside=64 \
  --set likelihood.pvalue_trials=4 --set likelihood.pvalue_declinations=3 --set likelihood.dec_deg=0 \
  --output scan_hosts.h5 > scan_hosts.log 2>&1 || { cat scan_hosts.log; fail "scan on 3 hosts"; }
run_np 2 run "$ic40" --set job.task=scan --set job.nside=64 \
  --set likelihood.pvalue_trials=4 --set likelihood.pvalue_declinations=3 --set likelihood.dec_deg=0 \
  --output scan_one.h5 > scan_one.log 2>&1 || { cat scan_one.log; fail "scan on one host"; }
same scan_hosts.h5 scan_one.h5 /scan/ts /scan/ns /scan/gamma /scan/mlog10p /scan/hotspots /scan_background
collective scan_hosts.log
echo "ok: IC40 scan at nside 64, 3 ranks on 3 hosts = 2 ranks on one host; $(grep -o 'MPI-IO.*' scan_hosts.log)"

# ---- 2. faults across hosts ----
export HDF5_USE_FILE_LOCKING=FALSE  # poll the checkpoint a running job has open
trials=40000
campaign=(run "$gp" --set job.task=trials --set "job.trials=$trials" --set job.checkpoint_every=1000)
run_np 2 "${campaign[@]}" --output reference.h5 > reference.log 2>&1 || { cat reference.log; fail "uninterrupted campaign"; }
fault() {  # fault NAME ACTION: a 2-host campaign hit by ACTION, then resumed on one host
  local name=$1 action=$2 out=$WORK/$1.h5
  across "$h1:1,$h2:1" 2 "${campaign[@]}" --output "$out" > "$name.log" 2>&1 &
  local job=$!
  wait_until 120 at_least "$out.tmp" 4000 || { cat "$name.log"; kill -9 "$job"; fail "$name: the campaign did not get going"; }
  $action
  local start=$SECONDS code=0
  wait_until 30 gone "$job" || { kill -9 "$job"; cat "$name.log"; fail "$name: mpirun still running 30 s later"; }
  wait "$job" || code=$?
  [ "$code" -ne 0 ] || fail "$name: mpirun exited 0"
  [ ! -e "$out" ] || fail "$name: a results file after the fault"
  local kept
  kept=$(done_count "$out.tmp")
  [ "$kept" -gt 0 ] && [ "$kept" -lt "$trials" ] || fail "$name: checkpoint holds $kept of $trials trials"
  local message
  message=$(grep -m1 -iE "error|lost|terminated|abort|died|killed" "$name.log" || true)
  [ -n "$message" ] || { cat "$name.log"; fail "$name: no message about the fault"; }
  echo "ok: $name: mpirun ended $((SECONDS - start)) s later (exit $code) with: $message"
  echo "    checkpoint intact with $kept of $trials trials"
  ip netns pids "${tag}_h2" | xargs -r kill -9 2> /dev/null || true  # what a dead node leaves behind
  run_np 2 "${campaign[@]}" --output "$out" --resume > "$name.resume.log" 2>&1 || { cat "$name.resume.log"; fail "$name: resume"; }
  same "$out" reference.h5 /trials /fit
  echo "ok: $name: resumed on one host, /trials and /fit equal the uninterrupted run's"
}
kill_host_ranks() { ip netns pids "${tag}_h2" | xargs -r kill -9; }
link_down() { ip link set "${tag}v2" down; }
fault host_killed kill_host_ranks
fault link_down link_down
ip link set "${tag}v2" up
echo PASS

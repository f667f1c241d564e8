#!/usr/bin/env bash
# A full filesystem (a small tmpfs, as root): a fit and a trial campaign at 1 and 4 ranks end
# within 30 s with exit code 1 and one line saying the disk may be full; no results file and no
# PATH.tmp are left (a fit's), and nothing hangs or crashes. Skipped (77) where a tmpfs cannot be
# mounted (not root).
source "$(dirname "$0")/lib/common.bash"
disk=$WORK/disk
mkdir -p "$disk"
if [ "$(id -u)" -ne 0 ] || ! mount -t tmpfs -o size=256k tmpfs "$disk" 2> /dev/null; then
  echo "full_disk: skipped (needs root to mount a tmpfs)"; exit 77
fi
trap 'umount "$disk" 2> /dev/null; rm -rf "$WORK"' EXIT
sky=$(small_sky)
cat > "$WORK/fit.ini" <<INI
[job]
task = fit
[reader]
type = hdf5_events
path = $sky
[likelihood]
type = point_source
ra_deg = 266.4
dec_deg = -28.9
INI
dd if=/dev/zero of="$disk/filler" bs=1k count=1024 2> /dev/null || true  # fills it
export OMPI_MCA_odls_base_sigkill_timeout=0
for np in 1 4; do
  expect_failure fit_full$np "is the disk full" "$disk/fit.h5" \
    timeout -k 5 30 "$MPIEXEC" -np $np --oversubscribe "$NUSKY" run "$WORK/fit.ini" --output "$disk/fit.h5"
  expect_failure trials_full$np "is the disk full" "$disk/trials.h5" \
    timeout -k 5 30 "$MPIEXEC" -np $np --oversubscribe "$NUSKY" run "$WORK/fit.ini" --output "$disk/trials.h5" \
    --set job.task=trials --set job.trials=3000 --set job.checkpoint_every=500
  grep -q "Segmentation\|signal 11" "$WORK/fit_full$np.err" "$WORK/trials_full$np.err" && fail "a crash at $np ranks"
done
# With room again, the same campaign runs.
rm -f "$disk/filler"
run_np 2 run "$WORK/fit.ini" --output "$disk/trials.h5" --set job.task=trials --set job.trials=300 > "$WORK/ok.log" 2>&1 \
  || { cat "$WORK/ok.log"; fail "trials with room"; }
echo "full_disk: ok"

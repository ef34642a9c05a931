#!/bin/bash
# /obs through the mount, local backend, simulator at --time-scale 0:
#   - commands per second accepted on one handle of mnt/obs/<site>/command
#     (write a line, read its "ok <id>" reply), median of 5 rounds;
#   - end-to-end latency from the write to the job reading COMPLETE, median.
# Nothing fails on a number; it fails only if the setup does.  Everything it
# starts (astrofs, astrofs-obssim) is stopped and the mount undone on exit.
#
#   bench/obs.sh [COMMANDS_PER_ROUND] [LATENCY_SAMPLES]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${1:-500}
L=${2:-50}

command -v fusermount3 >/dev/null && [ -c /dev/fuse ] ||
	{ echo "obs.sh: FUSE is not available; skipped"; exit 0; }
make -s build/astrofs build/astrofs-obssim

B=$(mktemp -d "${TMPDIR:-/tmp}/astrofs-obs-bench.XXXXXX")
FS_PID= SIM_PID= INDI_PID=
source bench/obs_lib.bash

# Two sites: the simulator runs only bench2, so bench1's queue (the rate
# round) is never drained and bench2's latency samples wait behind nothing.
site() { printf '  %s:\n    name: %s\n    lat: 34.34\n    lng: -119.68\n    elevation: 317.8\n    tz: UTC\n' "$1" "$1"; }
{ echo Sites:; site bench1; site bench2; } >"$B/sites.yml"
{ echo Sites:; site bench2; } >"$B/sim.yml"
mkdir -p "$B/mnt" "$B/obs"
build/astrofs astrofs-bench "$B/mnt" -f \
	-o "cache_dir=$B/cache,archive_dir=$B/archive,obs_store=$B/obs,obs_config=$B/sites.yml" \
	2>"$B/astrofs.log" &
FS_PID=$!
for _ in $(seq 1 100); do
	[ -f "$B/mnt/.astrofs/version" ] && break
	kill -0 "$FS_PID" 2>/dev/null || break
	sleep 0.1
done
[ -f "$B/mnt/.astrofs/version" ] || { cat "$B/astrofs.log" >&2; exit 1; }

# No simulator serves bench1, so the rate is the mount + store alone.
rate=$(python3 bench/obs_client.py rate "$B/mnt" bench1 "$N" | median)
printf '  commands accepted     %s/s (median of 5 rounds of %d, one handle)\n' "$rate" "$N"

build/astrofs-obssim --config "$B/sim.yml" --store "$B/obs" --time-scale 0 \
	--status-interval 1 2>"$B/sim.log" &
SIM_PID=$!
lat=$(python3 bench/obs_client.py latency "$B/mnt" bench2 "$L" | median)
printf '  write -> COMPLETE     %s ms (median of %d, park/unpark, time scale 0)\n' "$lat" "$L"
echo "  (the simulator is woken by the store's change signal, not a 200 ms poll)"

#!/bin/bash
# /obs through INDI: `expose 0.01` written to the mount's command file until
# its job reads COMPLETE (the camera's FITS stored, with its preview),
# beside the camera's own time for the same exposure (a bare INDI client).
# Debian's indiserver + simulators, in a network namespace of their own
# (indiserver binds every interface), own socket path and HOME.  Nothing
# fails on a number; skipped when indi-bin or unshare is missing.
#
#   bench/indi.sh [SAMPLES]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20}

command -v indiserver >/dev/null || { echo "indi.sh: indi-bin is not installed; skipped"; exit 0; }
command -v fusermount3 >/dev/null && [ -c /dev/fuse ] ||
	{ echo "indi.sh: FUSE is not available; skipped"; exit 0; }
if [ -z "${ASTRO_INDI_NS:-}" ]; then
	# Re-run in a network namespace where only loopback exists.
	ASTRO_INDI_NS=1 exec unshare -n "$0" "$@" ||
		{ echo "indi.sh: cannot make a network namespace; skipped"; exit 0; }
fi
ip link set lo up
make -s build/astrofs build/astrofs-obssim
ROOT=$PWD
B=$(mktemp -d "${TMPDIR:-/tmp}/astrofs-indi-bench.XXXXXX")
FS_PID= SIM_PID= INDI_PID=
source bench/obs_lib.bash

mkdir -p "$B/home" "$B/mnt" "$B/obs"
HOME=$B/home indiserver -p 7624 -u "$B/indi.sock" indi_simulator_telescope indi_simulator_ccd \
	>"$B/indi.log" 2>&1 &
INDI_PID=$!
sleep 1
dev=$(python3 bench/indi_device.py 7624 "CCD Simulator" 0.01 "$N" | median)
printf 'Sites:\n  indi1:\n    name: bench\n    indi: 127.0.0.1:7624\n' >"$B/sites.yml"
build/astrofs astrofs-bench "$B/mnt" -f \
	-o "cache_dir=$B/cache,archive_dir=$B/archive,obs_store=$B/obs,obs_config=$B/sites.yml" \
	2>"$B/astrofs.log" &
FS_PID=$!
for _ in $(seq 1 100); do [ -f "$B/mnt/.astrofs/version" ] && break; sleep 0.1; done
build/astrofs-obssim --config "$B/sites.yml" --store "$B/obs" 2>"$B/sim.log" &
SIM_PID=$!
for _ in $(seq 1 100); do grep -q ' ready: ' "$B/sim.log" && break; sleep 0.1; done
e2e=$(python3 bench/obs_client.py latency "$B/mnt" indi1 "$N" 'expose 0.01' | median)
printf '  INDI expose 0.01: camera alone %s ms; write -> COMPLETE through the mount %s ms (+%s ms; goal +150)\n' \
	"$dev" "$e2e" "$(echo "$e2e - $dev" | bc -l | xargs printf '%.1f')"

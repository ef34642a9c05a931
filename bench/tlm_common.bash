# Sourced by the /telemetry benches (bench/telemetry*.sh): a scratch dir $B
# removed on exit with the mount it holds, and the mount itself.
#   tlm_bench_begin NAME      $B, cleanup trap, die/calc/goal
#   tlm_bench_mount NAME      mount $B/arc at $B/mnt (daemon PID in DPID)
#   tlm_bench_fit             with under 8 GB free under $B, scale $N down to what fits

tlm_bench_begin() {
	TLM_BENCH_NAME=$1
	B=$(mktemp -d "${TMPDIR:-/tmp}/astrofs-$1.XXXXXX") || exit 1
	DPID=
	trap tlm_bench_cleanup EXIT
	trap 'exit 1' INT TERM
}

tlm_bench_cleanup() {
	if mountpoint -q "$B/mnt" 2>/dev/null; then
		fusermount3 -u "$B/mnt" 2>/dev/null || fusermount3 -uz "$B/mnt" 2>/dev/null
	fi
	if [ -n "$DPID" ]; then
		for _ in $(seq 1 50); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$DPID" 2>/dev/null
	fi
	rm -rf "$B"
}

die() { echo "  $TLM_BENCH_NAME bench: $*" >&2; exit 1; }
calc() { echo "$*" | bc -l; }
goal() { if [ "$2" = 1 ]; then echo "goal met ($1)"; else echo "GOAL NOT MET ($1)"; fi; }

tlm_bench_mount() {
	mkdir -p "$B/mnt" "$B/cache"
	build/astrofs "$1" "$B/mnt" -f -o "archive_dir=$B/arc,cache_dir=$B/cache" 2>"$B/astrofs.log" &
	DPID=$!
	for _ in $(seq 1 300); do
		[ -f "$B/mnt/telemetry/INDEX.csv" ] && break
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.1
	done
	[ -f "$B/mnt/telemetry/INDEX.csv" ] || { cat "$B/astrofs.log" >&2; die "mount failed"; }
}

# About 120 bytes of disk per sample (input CSV, archive, copies read back)
# at most half the free space; says so when it scales $N down.  Also prints
# the load, since every figure after it depends on it.
tlm_bench_fit() {
	local free_kb fit
	free_kb=$(df -Pk "$B" | awk 'NR == 2 {print $4}')
	if [ "$free_kb" -lt $((8 * 1024 * 1024)) ]; then
		fit=$((free_kb * 1024 / 2 / 120))
		[ "$fit" -lt "$N" ] && { echo "  only $((free_kb / 1024)) MB free: scaled down to $fit samples"; N=$fit; }
	fi
	echo "  load average at start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
}

#!/bin/bash
# make bench: speed and memory goals, measured side by side with a peer and
# printed as ratios.  Not tests: the machines are shared and noisy, so each
# figure is a median of several runs and nothing here fails on a number.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
B=$(mktemp -d "${TMPDIR:-/tmp}/astrofs-bench.XXXXXX")
PIDS=()
cleanup() {
	mountpoint -q "$B/mnt" 2>/dev/null && fusermount3 -u "$B/mnt"
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$B"
}
trap cleanup EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
# time_runs N CMD...: median wall seconds of N runs
time_runs() {
	local n=$1; shift
	for _ in $(seq 1 "$n"); do
		local t0; t0=$(now)
		"$@" >/dev/null
		echo "$(now) - $t0" | bc -l
	done | median
}

echo "== /tle: a cached day of 53,000 element sets"
python3 tests/standin/spacetrack.py --port 0 --user b --password b \
	--synthetic-day 2024-03-01:53000 >"$B/st.out" 2>"$B/st.err" &
PIDS+=($!)
for _ in $(seq 1 300); do grep -q '^listening' "$B/st.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$B/st.out")
printf 'identity = b\npassword = b\n' >"$B/cred"; chmod 600 "$B/cred"
mkdir -p "$B/mnt"
build/astrofs bench "$B/mnt" -o "cache_dir=$B/cache,spacetrack_url=http://127.0.0.1:$port,spacetrack_credentials=$B/cred,timeout=120"
f=$B/mnt/tle/2024/03/01.3le
t0=$(now); cat "$f" >/dev/null; cold=$(echo "$(now) - $t0" | bc -l)
cp "$f" "$B/local.3le"
size=$(stat -c %s "$B/local.3le")
warm=$(time_runs 7 cat "$f")
local_t=$(time_runs 7 cat "$B/local.3le")
printf '  day size            %d bytes\n' "$size"
printf '  cold read           %.3f s (stand-in query + parse + cache)\n' "$cold"
printf '  cached read (mount) %.4f s   local file %.4f s   ratio %.2fx (goal <= 2x)\n' \
	"$warm" "$local_t" "$(echo "$warm / $local_t" | bc -l)"
before=$(curl -s "http://127.0.0.1:$port/_test/counters" | jq .requests)
lsr=$(time_runs 3 ls -lR "$B/mnt/tle/2024")
after=$(curl -s "http://127.0.0.1:$port/_test/counters" | jq .requests)
printf '  ls -lR of a year    %.3f s, %d upstream requests\n' "$lsr" "$((after - before))"
pid=$(pgrep -f "build/astrofs bench $B/mnt")
[ -n "$pid" ] && printf '  daemon RSS          %s KiB\n' "$(awk '/VmRSS/ {print $2}' /proc/$pid/status)"
fusermount3 -u "$B/mnt"

# Benchmarks of the other trees, when present.
for s in bench/*.sh; do
	[ -x "$s" ] || continue
	[ "$s" = bench/compare.sh ] && continue	# two revisions: make bench-compare
	echo "== $s"
	"$s" || echo "  ($s failed)"
done

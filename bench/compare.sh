#!/bin/bash
# Before and after: the hot paths of this checkout beside another revision's,
# built from the same repository, run in turn (old, new, old, new, ...) so
# a machine whose speed drifts moves both alike.  For changes meant to keep
# behaviour and speed (a layout change, a refactor); not part of `make bench`.
#
#   bench/compare.sh REV [ROUNDS]      e.g.  bench/compare.sh c96c320^ 5
#
# Figures (medians of ROUNDS runs each, and new/old):
#   sgp4       propagations per second (bench program, 1 s per run)
#   satfilter  visit of a 30,000-object catalogue, 10,000-source batch (ms)
#   tle        a cached 53,000-set day read through the mount (ms)
#   telemetry  re-read of 30 days of a 1 Hz MSID as CSV through the mount (ms)
# Nothing fails on a number.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
REV=${1:?usage: bench/compare.sh REV [ROUNDS]}
ROUNDS=${2:-5}
SHARED=${ASTRO_SHARED:-$(cd .. && pwd)/shared}
CAT=$SHARED/data/tle/spacetrack_3le_catalog_2019-12-19.3le
B=$(mktemp -d "${TMPDIR:-/tmp}/astrofs-compare.XXXXXX") || exit 1
PIDS=()
cleanup() {
	for m in "$B"/mnt-*; do
		mountpoint -q "$m" 2>/dev/null && fusermount3 -u "$m" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	git -C "$ROOT" worktree remove --force "$B/old" 2>/dev/null
	rm -rf "$B"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
die() { echo "compare: $*" >&2; exit 1; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
ms_of() { local t0; t0=$(now); "$@" >/dev/null || return 1; echo "($(now) - $t0) * 1000" | bc -l; }

old=$(git rev-parse --short "$REV") || die "no revision $REV"
echo "old: $old $(git log -1 --format=%s "$old" | cut -c1-70)"
echo "new: $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' + uncommitted changes')"
git worktree add --detach "$B/old" "$old" >/dev/null 2>&1 || die "cannot check out $old"
# Both trees build their own programs; the bench programs moved between
# revisions but keep their names under build/.
progs="build/astrofs build/astrofs-ingest build/astrofs-tlm-gen build/astrofs-sgp4-bench build/astrofs-satfilter-bench"
(cd "$B/old" && make -s -j2 $progs >"$B/old-build.log" 2>&1) || die "building $old failed (see $B/old-build.log)"
make -s -j2 $progs >"$B/new-build.log" 2>&1 || die "building this checkout failed"
OLD=$B/old/build NEW=$ROOT/build
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

# row NAME UNIT BETTER(lower|higher) FILE_OLD FILE_NEW
row() {
	local o n; o=$(median <"$4") n=$(median <"$5")
	printf '  %-34s old %10.2f  new %10.2f %-8s new/old %.2fx (%s is better)\n' \
		"$1" "$o" "$n" "$2" "$(echo "$n / $o" | bc -l)" "$3"
}

if [ -r "$CAT" ]; then
	grep -E '^[12] ' "$CAT" | tr -d '\r' | head -2000 >"$B/sets.tle"
	for _ in $(seq 1 "$ROUNDS"); do
		for v in OLD NEW; do
			"${!v}/astrofs-sgp4-bench" "$B/sets.tle" --times 20 --step-min 1 --seconds 1 |
				sed -n 's/^RESULT props_per_s=\([0-9]*\).*/\1/p' >>"$B/sgp4.$v"
			"${!v}/astrofs-satfilter-bench" "$CAT" --objects 30000 --sources 10000 --visits 20 2>/dev/null |
				grep '^RESULT' >"$B/sf.out"
			sed -n 's/.*visit_median_ms=\([0-9.]*\).*/\1/p' "$B/sf.out" >>"$B/visit.$v"
			sed -n 's/.* batch_ms=\([0-9.]*\).*/\1/p' "$B/sf.out" >>"$B/batch.$v"
		done
	done
	row "sgp4 propagations/s" "/s" higher "$B/sgp4.OLD" "$B/sgp4.NEW"
	row "satfilter visit, 30,000 objects" ms lower "$B/visit.OLD" "$B/visit.NEW"
	row "satfilter batch, 10,000 sources" ms lower "$B/batch.OLD" "$B/batch.NEW"
else
	echo "  sgp4/satfilter skipped: $CAT not readable"
fi

command -v fusermount3 >/dev/null && [ -c /dev/fuse ] || { echo "  mounts skipped: no FUSE"; exit 0; }
# mount_as V NAME OPTS: mount version V's astrofs at $B/mnt-NAME
mount_as() {
	local bin=$1/astrofs m=$B/mnt-$2
	mkdir -p "$m" "$B/cache-$2"
	"$bin" "compare-$2" "$m" -f -o "cache_dir=$B/cache-$2,$3" 2>"$B/$2.log" &
	PIDS+=($!)
	for _ in $(seq 1 300); do mountpoint -q "$m" && return 0; sleep 0.1; done
	cat "$B/$2.log" >&2
	die "mount of $2 failed"
}

python3 tests/standin/spacetrack.py --port 0 --user b --password b \
	--synthetic-day 2024-03-01:53000 >"$B/st.out" 2>"$B/st.err" &
PIDS+=($!)
for _ in $(seq 1 300); do grep -q '^listening' "$B/st.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$B/st.out")
[ -n "$port" ] || die "space-track stand-in did not start"
printf 'identity = b\npassword = b\n' >"$B/cred"
chmod 600 "$B/cred"
st="spacetrack_url=http://127.0.0.1:$port,spacetrack_credentials=$B/cred,timeout=120"
mount_as "$OLD" tle-old "$st"
mount_as "$NEW" tle-new "$st"
day=tle/2024/03/01.3le
cat "$B/mnt-tle-old/$day" >/dev/null && cat "$B/mnt-tle-new/$day" >/dev/null || die "cold read failed"
for _ in $(seq 1 $((ROUNDS * 4))); do
	ms_of cat "$B/mnt-tle-old/$day" >>"$B/tle.OLD"
	ms_of cat "$B/mnt-tle-new/$day" >>"$B/tle.NEW"
done
row "tle cached day read ($(stat -c %s "$B/mnt-tle-new/$day") B)" ms lower "$B/tle.OLD" "$B/tle.NEW"

# telemetry: each version ingests into its own archive (formats may differ)
N=$((30 * 86400))
"$NEW/astrofs-tlm-gen" --msid CMP1HZ --start 2024:001 --count "$N" -o "$B/in.csv" >/dev/null ||
	die "telemetry generator failed"
for v in old new; do
	V=${v^^}
	# older revisions make the archive without being asked (no --create)
	"${!V}/astrofs-ingest" --archive "$B/arc-$v" --create --quiet "$B/in.csv" >"$B/ingest-$v.log" 2>&1 ||
		"${!V}/astrofs-ingest" --archive "$B/arc-$v" --quiet "$B/in.csv" >>"$B/ingest-$v.log" 2>&1 ||
		die "ingest ($v) failed: $(tail -1 "$B/ingest-$v.log")"
	mount_as "${!V}" "tlm-$v" "archive_dir=$B/arc-$v"
done
f=telemetry/CMP1HZ.csv
cmp -s "$B/mnt-tlm-old/$f" "$B/mnt-tlm-new/$f" || echo "  NOTE: the two versions' CSVs differ"
for _ in $(seq 1 "$ROUNDS"); do
	ms_of cat "$B/mnt-tlm-old/$f" >>"$B/tlm.OLD"
	ms_of cat "$B/mnt-tlm-new/$f" >>"$B/tlm.NEW"
done
row "telemetry 30-day CSV re-read" ms lower "$B/tlm.OLD" "$B/tlm.NEW"

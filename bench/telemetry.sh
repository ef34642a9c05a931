#!/bin/bash
# /telemetry: one year of a 1 Hz MSID (31.6 M samples) — ingest rate, the
# year's CSV through the mount beside the same bytes from a local file (the
# limit) and from a minimal C formatter over a flat binary file (the floor
# for formatting), the year's .daily.csv, and the daemon's memory.
#
#   bench/telemetry.sh            (TLM_BENCH_SAMPLES=N for another count)
#
# Goals (issue 4): ingest >= 1 M samples/s; CSV through the mount >= 300 MB/s
# and within 2x of the local file; .daily.csv of a year < 50 ms.  Figures
# are medians of RUNS runs; nothing fails on a number.  Needs ~4.5 GB of disk
# for a year; with less than 10 GB free it scales the sample count down.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-3}
YEAR=$((366 * 86400))	# 2024 is a leap year
N=${TLM_BENCH_SAMPLES:-$YEAR}
MSID=BENCH1HZ

. bench/tlm_common.bash
tlm_bench_begin telemetry

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# time_runs N CMD...: median wall seconds of N runs (output discarded)
time_runs() {
	local n=$1; shift
	for _ in $(seq 1 "$n"); do
		local t0; t0=$(now)
		"$@" >/dev/null
		calc "$(now) - $t0"
	done | median
}
# goal TEXT MET(1/0)

command -v fusermount3 >/dev/null && [ -c /dev/fuse ] || { echo "  skipped: FUSE is not available"; exit 0; }
make -s build/astrofs build/astrofs-ingest build/astrofs-tlm-gen || die "build failed"
cc -O2 -o "$B/tlm_flatfmt" bench/tlm_flatfmt.c -lm || die "cannot compile bench/tlm_flatfmt.c"

# ~37 B/sample input CSV + 16 flat + 40 local copy of the output + ~36 archive
free_kb=$(df -Pk "$B" | awk 'NR == 2 {print $4}')
if [ "$free_kb" -lt $((10 * 1024 * 1024)) ]; then
	fit=$((free_kb * 1024 / 2 / 130))
	if [ "$fit" -lt "$N" ]; then
		echo "  only $((free_kb / 1024)) MB free under $B: scaled down from $N to $fit samples"
		N=$fit
	fi
fi
[ "$N" -ge 86400 ] || die "too little disk for even a day of samples"

echo "  load average at start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (figures are noisy when others run)"

# ---- data ----
t0=$(now)
build/astrofs-tlm-gen --msid "$MSID" --start 2024:001 --count "$N" -o "$B/in.csv" --flat "$B/flat.bin" ||
	die "generator failed"
gen_s=$(calc "$(now) - $t0")
in_mb=$(calc "$(stat -c %s "$B/in.csv") / 1000000")
printf '  data                %d samples (%.1f days at 1 Hz), input CSV %.0f MB, generated in %.1f s\n' \
	"$N" "$(calc "$N / 86400")" "$in_mb" "$gen_s"

# ---- ingest (once: a repeat of the same file is skipped by design) ----
t0=$(now)
/usr/bin/time -f '%M' -o "$B/ingest.rss" build/astrofs-ingest --quiet --create --archive "$B/arc" "$B/in.csv" ||
	die "ingest failed"
ing_s=$(calc "$(now) - $t0")
ing_rate=$(calc "$N / $ing_s")
rm -f "$B/in.csv"
printf '  ingest              %.1f s = %.2f M samples/s (%.2fx the 1 M/s goal), peak RSS %d MB, archive %s: %s\n' \
	"$ing_s" "$(calc "$ing_rate / 1000000")" "$(calc "$ing_rate / 1000000")" \
	"$(($(cat "$B/ingest.rss") / 1024))" "$(du -sh "$B/arc" | cut -f1)" \
	"$(goal '>= 1 M/s' "$(calc "$ing_rate >= 1000000")")"
arc_b=$(stat -c %s "$B/arc/data.mdb")
printf '  archive             %.1f bytes per sample (data.mdb %d MB)  %s\n' "$(calc "$arc_b / $N")" \
	"$((arc_b / 1000000))" "$(goal '<= 10 B/sample' "$(calc "$arc_b <= 10 * $N")")"

# ---- mount ----
tlm_bench_mount tlmbench
F=$B/mnt/telemetry/$MSID.csv
got=$(awk -F, -v m="$MSID" '$1 == m {print $4}' "$B/mnt/telemetry/INDEX.csv")
[ "$got" = "$N" ] || die "INDEX.csv says $got samples, want $N"

# ---- the year's CSV: mount, local file, flat formatter ----
t0=$(now)
cat "$F" >"$B/local.csv" || die "cat through the mount failed"
first_s=$(calc "$(now) - $t0")
size=$(stat -c %s "$B/local.csv")
[ "$(stat -c %s "$F")" = "$size" ] || die "st_size $(stat -c %s "$F") differs from the $size bytes read"
"$B/tlm_flatfmt" "$B/flat.bin" | cmp -s - "$B/local.csv" ||
	die "bench/tlm_flatfmt output differs from the mount's: the comparison would not be fair"
mb=$(calc "$size / 1000000")
majflt() { awk '{print $12}' "/proc/$DPID/stat" 2>/dev/null || echo 0; }
mf0=$(majflt)
mnt_s=$(time_runs "$RUNS" cat "$F")
mf=$(($(majflt) - mf0))
loc_s=$(time_runs "$RUNS" cat "$B/local.csv")
flat_s=$(time_runs "$RUNS" "$B/tlm_flatfmt" "$B/flat.bin")
mnt_r=$(calc "$mb / $mnt_s")
loc_r=$(calc "$mb / $loc_s")
flat_r=$(calc "$mb / $flat_s")
printf '  whole CSV           %.0f MB, %d rows; first read %.2f s (writes a local copy); medians of %d:\n' \
	"$mb" "$N" "$first_s" "$RUNS"
printf '    cat via mount     %6.3f s  %7.0f MB/s  %s\n' "$mnt_s" "$mnt_r" \
	"$(goal '>= 300 MB/s' "$(calc "$mnt_r >= 300")")"
printf '      (daemon major page faults in those runs: %d%s)\n' "$mf" \
	"$([ "$mf" -gt 1000 ] && echo ' — the archive did not stay in the page cache: disk reads count here')"
printf '    cat local file    %6.3f s  %7.0f MB/s  mount/local = %.1fx  %s\n' "$loc_s" "$loc_r" \
	"$(calc "$mnt_s / $loc_s")" "$(goal '<= 2x' "$(calc "$mnt_s <= 2 * $loc_s")")"
printf '    tlm_flatfmt       %6.3f s  %7.0f MB/s  mount/flatfmt = %.1fx  (byte-identical output; the formatting floor)\n' \
	"$flat_s" "$flat_r" "$(calc "$mnt_s / $flat_s")"
rm -f "$B/local.csv" "$B/flat.bin"

# ---- the year's daily stats ----
D=$B/mnt/telemetry/$MSID.daily.csv
t0=$(now)
rows=$(($(cat "$D" | wc -l) - 1))
dcold=$(calc "($(now) - $t0) * 1000")
dwarm=$(calc "$(time_runs 5 cat "$D") * 1000")
# a range file is a new path each time: no cached st_size
t0=$(now)
cat "$B/mnt/telemetry/$MSID@2024:001..2025:001.daily.csv" >/dev/null
drange=$(calc "($(now) - $t0) * 1000")
printf '  whole .daily.csv    %d rows: first %.1f ms, then median %.1f ms; as a new @range path %.1f ms  %s\n' \
	"$rows" "$dcold" "$dwarm" "$drange" "$(goal '< 50 ms' "$(calc "$dcold < 50 && $dwarm < 50")")"

# ---- daemon memory ----
if [ -r "/proc/$DPID/status" ]; then
	hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$DPID/status")
	rss=$(awk '/^VmRSS/ {print $2}' "/proc/$DPID/status")
	anon=$(awk '/^RssAnon/ {print $2}' "/proc/$DPID/status")
	printf '  daemon memory       VmHWM %d MB, VmRSS %d MB, of it RssAnon %d MB (the rest: LMDB pages mapped from the archive, not allocated)\n' \
		"$((hwm / 1024))" "$((rss / 1024))" "$((anon / 1024))"
fi
fusermount3 -u "$B/mnt" || die "unmount failed"

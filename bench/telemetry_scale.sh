#!/bin/bash
# /telemetry at scale (issue 16 item 5): an archive of 2,000 MSIDs x 1 day at
# 1 Hz (172.8 M samples), one CSV per MSID as a pipeline would drop them —
#   ingest: wall time, samples/s, peak RSS of the one astrofs-ingest run;
#   archive: bytes on disk per sample;
#   through the mount: `ls /telemetry`, `cat INDEX.csv` (goal: each < 100 ms)
#   and a one-hour range file of a different MSID each time, CSV and .npy
#   (goal: < 10 ms).
#
#   bench/telemetry_scale.sh    (TLM_SCALE_MSIDS=N, TLM_SCALE_SECS=S to shrink)
#
# Medians of RUNS runs; nothing fails on a number.
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
NM=${TLM_SCALE_MSIDS:-2000}
SECS=${TLM_SCALE_SECS:-86400}

. bench/tlm_common.bash
tlm_bench_begin telemetry_scale

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms_of() {	# ms_of CMD...: wall milliseconds of one run
	local t0; t0=$(date +%s%N)
	"$@" >/dev/null 2>&1
	echo $((($(date +%s%N) - t0) / 1000000))
}

command -v fusermount3 >/dev/null && [ -c /dev/fuse ] || { echo "  skipped: FUSE is not available"; exit 0; }
make -s build/astrofs build/astrofs-ingest build/astrofs-tlm-gen || die "build failed"
# ~36 B/sample of CSV plus ~36 of archive
need_kb=$((NM * SECS * 80 / 1024))
free_kb=$(df -Pk "$B" | awk 'NR == 2 {print $4}')
if [ "$free_kb" -lt "$need_kb" ]; then
	NM=$((NM * free_kb / need_kb / 2))
	[ "$NM" -ge 1 ] || die "not enough disk space"
	echo "  only $((free_kb / 1024)) MB free: scaled down to $NM MSIDs"
fi
N=$((NM * SECS))
echo "  load average at start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

mkdir -p "$B/in"
for i in $(seq -w 0 $((NM - 1))); do
	build/astrofs-tlm-gen --msid "SC$i" --start 2024:001 --count "$SECS" -o "$B/in/SC$i.csv" ||
		die "generator failed"
done
in_bytes=$(du -sb "$B/in" | cut -f1)
t0=$(date +%s%N)
/usr/bin/time -f '%M' -o "$B/ingest.rss" build/astrofs-ingest --quiet --create --archive "$B/arc" "$B"/in/*.csv ||
	die "ingest failed"
ing_ms=$((($(date +%s%N) - t0) / 1000000))
rm -rf "$B/in"
rss=$(($(tail -1 "$B/ingest.rss") / 1024))
arc_bytes=$(du -sb "$B/arc" | cut -f1)
printf '  ingest    %d MSIDs x %d s = %d samples, %.0f MB CSV: %.1f s = %.2f M samples/s, peak RSS %d MB\n' \
	"$NM" "$SECS" "$N" "$(calc "$in_bytes / 1000000")" "$(calc "$ing_ms / 1000")" \
	"$(calc "$N / $ing_ms / 1000")" "$rss"
bps=$(calc "$arc_bytes / $N")
printf '  archive   %.0f MB on disk = %.1f bytes/sample (%s)\n' "$(calc "$arc_bytes / 1000000")" "$bps" \
	"$(goal 'aim <= 10' "$(calc "$bps <= 10")")"

tlm_bench_mount scalebench
T=$B/mnt/telemetry
ls_ms=$(for _ in $(seq 1 "$RUNS"); do ms_of ls "$T"; done | median)
idx_ms=$(for _ in $(seq 1 "$RUNS"); do ms_of cat "$T/INDEX.csv"; done | median)
ls_n=$(ls "$T" | wc -l)
printf '  ls        %d entries: %d ms (%s)\n' "$ls_n" "$ls_ms" "$(goal '< 100 ms' "$((ls_ms < 100))")"
printf '  INDEX.csv %d lines: %d ms (%s)\n' "$(wc -l <"$T/INDEX.csv")" "$idx_ms" \
	"$(goal '< 100 ms' "$((idx_ms < 100))")"
for ext in csv npy; do
	# a different MSID each run: nothing of it rendered or cached before
	r_ms=$(for k in $(seq 1 "$RUNS"); do
		i=$(printf "%0${#NM}d" $(((k * 7919 + ${#ext}) % NM)))
		ms_of cat "$T/SC$i@2024:001:12:00:00..2024:001:13:00:00.$ext"
	done | median)
	printf '  1 h %s  %d ms (first open of a range file; %s)\n' "$ext" "$r_ms" \
		"$(goal '< 10 ms' "$((r_ms < 10))")"
done

#!/usr/bin/env bats
# Re-reads of unchanged /telemetry files come from the kernel's page cache:
# a large CSV and its .npy, read twice, are rendered by astrofs once
# (telemetry.bytes_read in /.astrofs/stats counts what the provider renders);
# after an ingest touching the MSID they are rendered again, in full.

load lib

setup() {
	require_fuse
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	[ -x "$ROOT/build/astrofs-ingest" ] || skip "build/astrofs-ingest is not built"
	astro_tmp
	mkdir -p "$T/cache"
}

teardown() {
	cleanup_all
}

rendered() {
	jq -r '.telemetry.bytes_read // 0' "$T/mnt/.astrofs/stats"
}

# The kernel may evict a few pages of a 70 MB file on a busy machine (the
# suite runs other mounts beside it): a re-read may render that much again.
# Without keep_cache it renders the whole file again, which this tells apart.
mostly_cached() {	# rendered <= $1 plus a quarter of $1
	local r; r=$(rendered)
	echo "rendered $r for $1 bytes read once"
	[ "$r" -ge "$1" ] && [ "$r" -le $(($1 + $1 / 4)) ]
}

@test "cache: a large unchanged file is rendered once, re-reads come from the page cache" {
	# 20 days at 1 Hz: ~70 MB of CSV, more than any read-ahead window
	awk 'BEGIN { print "msid,time,value"; for (i = 0; i < 1728000; i++) printf "BIGC,secs:%d,%d.%02d\n", 800000000 + i, i % 977 - 400, i % 100 }' >"$T/big.csv"
	"$ROOT/build/astrofs-ingest" --quiet --create --archive "$T/archive" "$T/big.csv"
	astrofs_start "cache_dir=$T/cache,archive_dir=$T/archive"
	f=$T/mnt/telemetry/BIGC.csv
	size=$(stat -c %s "$f")
	[ "$size" -gt 60000000 ]
	[ "$(rendered)" -eq 0 ]
	sum1=$(md5sum <"$f")
	[ "$(rendered)" -eq "$size" ]
	sleep 1.2	# past the attribute timeout: the kernel asks again, gets the same
	sum2=$(md5sum <"$f")
	[ "$sum1" = "$sum2" ]
	mostly_cached "$size"
	n=$T/mnt/telemetry/BIGC.npy
	nsize=$(stat -c %s "$n")
	cat "$n" >/dev/null
	cat "$n" >/dev/null
	dd if="$n" of=/dev/null bs=1M skip=3 status=none
	mostly_cached $((size + nsize))
	# a changed MSID is rendered anew, never served stale
	printf 'msid,time,value\nBIGC,2030:001,1.25\n' >"$T/more.csv"
	"$ROOT/build/astrofs-ingest" --quiet --archive "$T/archive" "$T/more.csv"
	sleep 1.2
	tail -n 1 "$f" | grep -q ',1.25$'
	before=$(rendered)
	[ "$(cat "$f" | wc -c)" -eq "$(stat -c %s "$f")" ]
	[ "$(rendered)" -gt "$before" ]
}

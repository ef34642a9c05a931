#!/usr/bin/env bats
# The archive's sample blocks through the mount: a block damaged on disk is
# never served (EIO where a read reaches it, the log names the block),
# while ranges before it still read.  The damage is made with lmdb-utils
# (mdb_dump / mdb_load), outside astrofs.

load lib

setup() {
	require_fuse
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	[ -x "$ROOT/build/astrofs-ingest" ] || skip "build/astrofs-ingest is not built"
	command -v mdb_dump >/dev/null && command -v mdb_load >/dev/null || skip "lmdb-utils is not installed"
	astro_tmp
	mkdir -p "$T/cache"
}

teardown() {
	cleanup_all
}

@test "blocks: a damaged block is refused with EIO and logged; samples before it still read" {
	# 10,000 samples at 1 Hz: blocks of 4096 start at secs 800000000, +4096, +8192
	awk 'BEGIN { print "msid,time,value"; for (i = 0; i < 10000; i++) printf "DMG,secs:%d,%d.%02d\n", 800000000 + i, i % 97, i % 100 }' >"$T/dmg.csv"
	"$ROOT/build/astrofs-ingest" --quiet --create --archive "$T/archive" "$T/dmg.csv"
	# change one hex digit inside the second block's value (line 12 of the dump)
	mdb_dump -s blocks.v1 "$T/archive" >"$T/dump"
	[ "$(sed -n 11p "$T/dump" | tr -d ' ')" = 000000018002d79977f60000 ]	# (id 1, its first time)
	awk 'NR == 12 { c = substr($0, 60, 1); $0 = substr($0, 1, 59) (c == "0" ? "1" : "0") substr($0, 61) } { print }' \
		"$T/dump" >"$T/dump.bad"
	mdb_load -s blocks.v1 "$T/archive" <"$T/dump.bad" 2>/dev/null
	astrofs_start "cache_dir=$T/cache,archive_dir=$T/archive"
	run cat "$T/mnt/telemetry/DMG.csv"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Input/output error"* ]]
	# what was served before the error is the first block only, never a damaged sample
	[ "$(printf '%s\n' "$output" | grep -c '^[0-9]')" -le 4096 ]
	run cat "$T/mnt/telemetry/DMG.npy"
	[ "$status" -ne 0 ]
	grep -q 'block of MSID id 1 .* is damaged and is not served: block: checksum mismatch' "$T/astrofs.log"
	# the first block's samples read whole: 4096 rows and the header
	run cat "$T/mnt/telemetry/DMG@secs:800000000..secs:800004096.csv"
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "$output" | wc -l)" -eq 4097 ]
}

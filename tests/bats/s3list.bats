#!/usr/bin/env bats
# /fits listings against a misbehaving S3 endpoint (tests/standin/badlist.py):
# a listing is bounded by `timeout` as a whole, a repeated continuation token
# or a page that makes no progress ends it, names are listed once, and a name
# longer than 255 bytes is left out.

load lib

setup() {
	require_fuse
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	astro_tmp
	python3 "$ROOT/tests/standin/badlist.py" >"$T/bad.out" 2>"$T/bad.err" &
	echo $! >"$T/bad.pid"
	for _ in $(seq 1 50); do
		grep -q '^listening' "$T/bad.out" && break
		sleep 0.1
	done
	PORT=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$T/bad.out")
	[ -n "$PORT" ]
	mkdir -p "$T/cache"
	astrofs_start "cache_dir=$T/cache,s3_endpoint=http://127.0.0.1:$PORT,s3_anonymous,fits_buckets=loop;fresh;overlap,timeout=5"
	M=$T/mnt/fits
}

teardown() {
	unmount_astrofs
	[ -f "$T/bad.pid" ] && kill "$(cat "$T/bad.pid")" 2>/dev/null || true
	rm -rf "$T"
	unset T
}

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$(cat "$T/astrofs.pid")/status"; }

# ls_within SECONDS DIR: ls finishes (either way) within SECONDS; output in $T/ls.
ls_within() {
	local t0 t1
	t0=$(date +%s%N)
	timeout 60 ls "$2" >"$T/ls" 2>"$T/ls.err" && LS_RC=0 || LS_RC=$?
	t1=$(date +%s%N)
	echo "ls $2: rc $LS_RC in $(( (t1 - t0) / 1000000 )) ms, $(wc -l <"$T/ls") names" >&2
	[ $(( (t1 - t0) / 1000000 )) -le $(( $1 * 1000 )) ]
}

# endless_listing BUCKET LOGLINE: ls of a never-ending listing finishes
# within about timeout=5 with an error or the 1000 names once each, after a
# few requests, with the daemon's RSS bounded and the cause logged.
endless_listing() {
	ls_within 7 "$M/$1"
	[ "$LS_RC" -ne 0 ] || [ "$(sort -u "$T/ls" | wc -l)" -eq 1000 ]
	[ -z "$(sort "$T/ls" | uniq -d)" ]
	[ "$(curl -s --max-time 5 "http://127.0.0.1:$PORT/count")" -le 5 ]
	[ "$(rss_kb)" -lt 102400 ]
	grep -q "$2" "$T/astrofs.log"
	cat "$T/mnt/.astrofs/version" >/dev/null	# the daemon still answers
}

@test "s3 listing: the same continuation token forever ends the listing" {
	endless_listing loop 'repeats a continuation token'
}

@test "s3 listing: pages repeated under fresh tokens end the listing" {
	endless_listing fresh 'makes no progress'
}

@test "s3 listing: overlapping pages list each name once; names over 255 bytes are left out" {
	ls_within 7 "$M/overlap"
	[ "$LS_RC" -eq 0 ]
	[ "$(wc -l <"$T/ls")" -eq 1001 ]
	[ -z "$(sort "$T/ls" | uniq -d)" ]
	grep -qx 'k0000.fits' "$T/ls"
	grep -qx 'k0999.fits' "$T/ls"
	grep -qx "$(printf 'y%.0s' $(seq 250)).fits" "$T/ls"
	! grep -q '^xxx' "$T/ls"
	[ "$(grep -c 'names longer than 255 bytes not listed' "$T/astrofs.log")" -eq 1 ]
}

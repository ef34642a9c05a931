#!/usr/bin/env bats
# The fleet tier (shared_cache): several mounts, each with its own cache_dir,
# stand for several machines sharing one S3 bucket — a real single-node Ceph
# RADOS Gateway (tests/standin/rgw.sh) — in front of the space-track
# stand-in.  Upstream counts come from the stand-in's counters and log.

load lib

RGW=$ROOT/tests/standin/rgw.sh
DAYS=(2024-03-01 2024-03-02 2024-03-03 2024-03-04 2024-03-05 2024-03-06
      2024-03-07 2024-03-08 2024-03-09 2024-03-10 2024-03-11 2024-03-12)

setup() {
	require_fuse
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	"$RGW" available || skip "ceph-mon, ceph-osd and radosgw are not installed (scripts/bootstrap.sh installs them)"
	astro_tmp
	local syn=()
	for d in "${DAYS[@]:1}"; do syn+=(--synthetic-day "$d:200"); done
	start_standin "${syn[@]}"
	"$RGW" start "$T/rgw" >"$T/rgw.out" || { cat "$T/rgw.out" >&2; return 1; }
	S3_URL=$(sed -n 's/^endpoint //p' "$T/rgw.out")
	read -r AK SK < <("$RGW" creds)
	s3 PUT /fleet >/dev/null
	write_creds
}

teardown() {
	for i in 1 2 3 4 5; do fleet_umount "$i"; done
	[ -n "${T:-}" ] && "$RGW" stop "$T/rgw"
	cleanup_all
}

# s3 METHOD PATH [curl args]: a signed request to the RGW, body on stdout.
s3() {
	local m=$1 p=$2
	shift 2
	curl -s --max-time 10 --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X "$m" "$S3_URL$p" "$@"
}

# fleet_mount I [extra options]: mount I at $T/m$I with its own cache.
fleet_mount() {
	local i=$1 extra=${2:-}
	mkdir -p "$T/m$i" "$T/c$i"
	local o="cache_dir=$T/c$i,archive_dir=$T/archive$i,obs_store=$T/obs$i,spacetrack_url=$ST_URL"
	o="$o,spacetrack_credentials=$T/creds,timeout=${FLEET_TIMEOUT:-15}"
	o="$o,shared_cache=s3://fleet/astro,shared_cache_endpoint=$S3_URL"
	o="$o,shared_cache_credentials=$T/rgw/credentials"
	[ -n "$extra" ] && o="$o,$extra"
	# FLEET_ENV: extra environment for this daemon (e.g. a skewed clock)
	env ${FLEET_ENV:-} "$ASTROFS" fleet "$T/m$i" -f -o "$o" 2>>"$T/a$i.log" &
	echo $! >"$T/a$i.pid"
	for _ in $(seq 1 100); do
		[ -f "$T/m$i/.astrofs/version" ] && return 0
		kill -0 "$(cat "$T/a$i.pid")" 2>/dev/null || break
		sleep 0.1
	done
	cat "$T/a$i.log" >&2
	return 1
}

fleet_umount() {
	[ -n "${T:-}" ] || return 0
	unmount_at "$T/m$1" "$T/a$1.pid"
}

day_path() { echo "${1:0:4}/${1:5:2}/${1:8:2}.3le"; }

# The keys under the shared prefix (one per line).
bucket_keys() {
	s3 GET "/fleet?list-type=2&prefix=$(printf 'astro/%s' "$1" | sed 's#/#%2F#g')" | grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g'
}

@test "fleet: one day read on 3 mounts at once costs 1 query; a 4th mount costs 0" {
	for i in 1 2 3 4; do fleet_mount "$i"; done
	st_post reset_log
	p=$(day_path 2024-03-01)
	pids=()
	for i in 1 2 3; do cat "$T/m$i/tle/$p" >"$T/out$i" & pids+=($!); done
	wait "${pids[@]}"
	[ "$(st_count queries)" -eq 1 ]
	[ -s "$T/out1" ]
	cmp "$T/out1" "$T/out2"
	cmp "$T/out1" "$T/out3"
	cat "$T/m4/tle/$p" >"$T/out4"
	cmp "$T/out1" "$T/out4"
	[ "$(st_count queries)" -eq 1 ]
	# the 4th mount did not even log in
	[ "$(st_count requests)" -le 3 ]
	bucket_keys tle/v1/final/ | grep -qx "astro/tle/v1/final/2024-03-01"
	jq -e '.shared.hits >= 1' "$T/m4/.astrofs/stats"
}

@test "fleet: 4 mounts reading the same uncached days at once: exactly one query per day" {
	# Every mount walks the days in the same order, so each day is missed
	# by all four at nearly the same moment, again and again: the lease
	# must elect one fetcher per day and the others must find its object,
	# including a waiter whose last look missed just before the holder
	# wrote and released.
	for i in 1 2 3 4; do FLEET_TIMEOUT=60 fleet_mount "$i"; done
	st_post reset_log
	pids=()
	for i in 1 2 3 4; do
		( for d in "${DAYS[@]:1}"; do cat "$T/m$i/tle/$(day_path "$d")" >"$T/s$i-$d" || exit 1; done ) &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	for d in "${DAYS[@]:1}"; do
		[ "$(grep -c '^1 ' "$T/s1-$d")" -eq 200 ]
		for i in 2 3 4; do cmp "$T/s1-$d" "$T/s$i-$d"; done
	done
	# Per day, from the stand-in's log (which query asked for which day).
	st_get log | /usr/bin/python3 -c '
import collections, json, re, sys
days = collections.Counter()
for e in json.load(sys.stdin):
    if "gp_history" in e["query_path_decoded"]:
        days[re.search(r"\d{4}-\d\d-\d\d", e["query_path_decoded"]).group(0)] += 1
print(sorted(days.items()))
sys.exit(len(days) != len(sys.argv) - 1 or any(n != 1 for n in days.values()))' "${DAYS[@]:1}"
	[ "$(st_count queries)" -eq $(( ${#DAYS[@]} - 1 )) ]
}

@test "fleet: 12 days over 4 mounts: 12 queries, never more than the fleet ceiling in any window" {
	for i in 1 2 3 4; do FLEET_TIMEOUT=60 fleet_mount "$i" "spacetrack_rate=4/5s"; done
	st_post reset_log
	pids=()
	for n in $(seq 0 11); do
		cat "$T/m$((n % 4 + 1))/tle/$(day_path "${DAYS[$n]}")" >"$T/d$n" &
		pids+=($!)
	done
	wait "${pids[@]}"
	for n in $(seq 0 11); do [ -s "$T/d$n" ] || { echo "day ${DAYS[$n]} empty"; false; }; done
	[ "$(st_count queries)" -eq 12 ]
	# From the stand-in's receive times: at most 4 requests (logins too)
	# in any 5 s window.
	st_get log | /usr/bin/python3 -c '
import json, sys
t = sorted(e["time"] for e in json.load(sys.stdin))
worst = max(sum(1 for u in t if s <= u < s + 5) for s in t)
print("requests", len(t), "most in 5 s", worst)
sys.exit(worst > 4)'
	waits=0
	for i in 1 2 3 4; do waits=$((waits + $(jq .shared.slot_waits "$T/m$i/.astrofs/stats"))); done
	[ "$waits" -gt 0 ]
}

@test "fleet: the lease holder killed mid-fetch: another mount takes over after the expiry, nothing partial" {
	FLEET_TIMEOUT=4 fleet_mount 1
	fleet_mount 2 "timeout=30"
	st_post reset_log
	st_post fault '{"kind":"hang","count":1,"match":"gp_history"}'
	p=$(day_path 2024-03-02)
	(cat "$T/m1/tle/$p" >/dev/null 2>&1 || true) &
	for _ in $(seq 1 100); do [ "$(st_count queries)" -ge 1 ] && break; sleep 0.1; done
	[ "$(st_count queries)" -eq 1 ]
	bucket_keys lease/v1/tle/ | grep -q 2024-03-02
	kill -9 "$(cat "$T/a1.pid")"
	# a killed daemon leaves its mount disconnected: detach it now
	for _ in $(seq 1 50); do kill -0 "$(cat "$T/a1.pid")" 2>/dev/null || break; sleep 0.1; done
	fusermount3 -uz "$T/m1" 2>/dev/null || umount -l "$T/m1" 2>/dev/null || true
	# no day object while the holder is dead
	! bucket_keys tle/v1/final/ | grep -q 2024-03-02
	start=$(date +%s)
	cat "$T/m2/tle/$p" >"$T/got"
	took=$(( $(date +%s) - start ))
	[ -s "$T/got" ]
	[ "$(st_count queries)" -eq 2 ]
	grep -q "lease tle/2024-03-02 expired; taken over" "$T/a2.log"
	# it waited for the expiry rather than fetching at once
	[ "$took" -ge 2 ]
	[ "$(grep -c '^1 ' "$T/got")" -eq 200 ]
	bucket_keys tle/v1/final/ | grep -qx astro/tle/v1/final/2024-03-02
	st_post clear_faults
}

@test "fleet: a holder that outlived its lease does not release its successor's" {
	# Mount 1's clock is 12 s behind (libfaketime), so its lease (timeout
	# 20 s + 2 s) looks expired to mount 2 about 11 s after it was taken,
	# while mount 1's slow query (15 s) is still running: mount 2 takes the
	# lease over and queries too.  Mount 1 then finishes and releases: the
	# lease in the bucket must stay mount 2's (a DELETE would have freed it
	# for a third fetcher).
	FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
	[ -f "$FAKETIME_LIB" ] || skip "libfaketime is not installed (scripts/deps.txt)"
	FLEET_ENV="LD_PRELOAD=$FAKETIME_LIB FAKETIME=-12s FAKETIME_DONT_FAKE_MONOTONIC=1" \
		FLEET_TIMEOUT=20 fleet_mount 1
	fleet_mount 2 "timeout=40"
	st_post reset_log
	st_post fault '{"kind":"slow_first_byte","seconds":15,"count":2,"match":"gp_history"}'
	p=$(day_path 2024-03-09)
	cat "$T/m1/tle/$p" >"$T/got1" &
	reader1=$!
	for _ in $(seq 1 100); do [ "$(st_count queries)" -ge 1 ] && break; sleep 0.1; done
	[ "$(st_count queries)" -eq 1 ]
	cat "$T/m2/tle/$p" >"$T/got2" &
	reader2=$!
	for _ in $(seq 1 150); do grep -q "lease tle/2024-03-09 expired; taken over" "$T/a2.log" && break; sleep 0.1; done
	grep -q "lease tle/2024-03-09 expired; taken over" "$T/a2.log"
	wait "$reader1"
	for _ in $(seq 1 50); do grep -q "lease tle/2024-03-09 was taken over" "$T/a1.log" && break; sleep 0.1; done
	grep -q "lease tle/2024-03-09 was taken over after it expired; left to its new holder" "$T/a1.log"
	# still mount 2's, unexpired (mount 2's query is still slow)
	s3 GET /fleet/astro/lease/v1/tle/2024-03-09 >"$T/lease"
	read -r exp host pid token <"$T/lease"
	[ "$exp" -gt 0 ]
	[ "$pid" = "$(cat "$T/a2.pid")" ]
	[ "$(st_count queries)" -eq 2 ]
	wait "$reader2"
	[ "$(grep -c '^1 ' "$T/got1")" -eq 200 ]
	cmp "$T/got1" "$T/got2"
	# and mount 2's own release went through
	s3 GET /fleet/astro/lease/v1/tle/2024-03-09 | grep -q "^0 "
}

@test "fleet: a corrupt object planted in the bucket is refused, re-fetched and replaced" {
	fleet_mount 1
	p=$(day_path 2024-03-03)
	cat "$T/m1/tle/$p" >"$T/good"
	s3 GET /fleet/astro/tle/v1/final/2024-03-03 >"$T/obj"
	# Break one TLE checksum and re-seal the envelope: only the strict
	# line validation can catch it.
	/usr/bin/python3 - "$T/obj" <<-'EOF'
	import hashlib, sys
	raw = open(sys.argv[1], "rb").read()
	head, body = raw.split(b"\n\n", 1)
	lines = body.split(b"\n")
	l1 = lines[1]
	lines[1] = l1[:68] + bytes([48 + (l1[68] - 48 + 1) % 10])
	body = b"\n".join(lines)
	head = b"\n".join(h if not h.startswith(b"sha256 ") else b"sha256 " + hashlib.sha256(body).hexdigest().encode()
			  for h in head.split(b"\n"))
	open(sys.argv[1], "wb").write(head + b"\n\n" + body)
	EOF
	s3 PUT /fleet/astro/tle/v1/final/2024-03-03 --data-binary @"$T/obj" >/dev/null
	fleet_mount 2
	st_post reset_log
	cat "$T/m2/tle/$p" >"$T/got"
	cmp "$T/good" "$T/got"
	[ "$(st_count queries)" -eq 1 ]
	grep -q "shared cache object tle/v1/final/2024-03-03 refused: .*checksum" "$T/a2.log"
	# replaced by a good copy: a third mount costs nothing
	fleet_mount 3
	st_post reset_log
	cat "$T/m3/tle/$p" >"$T/got3"
	cmp "$T/good" "$T/got3"
	[ "$(st_count queries)" -eq 0 ]
	# a truncated (partial) object is refused too
	s3 GET /fleet/astro/tle/v1/final/2024-03-03 | head -c 5000 >"$T/part"
	s3 PUT /fleet/astro/tle/v1/final/2024-03-03 --data-binary @"$T/part" >/dev/null
	fleet_mount 4
	st_post reset_log
	cat "$T/m4/tle/$p" >"$T/got4"
	cmp "$T/good" "$T/got4"
	[ "$(st_count queries)" -eq 1 ]
	grep -q "refused: .*partial" "$T/a4.log"
}

@test "fleet: RGW stopped: mounts fall back to direct fetches, one log line each" {
	fleet_mount 1
	fleet_mount 2
	"$RGW" stop "$T/rgw"
	st_post reset_log
	for i in 1 2; do
		start=$(date +%s)
		cat "$T/m$i/tle/$(day_path 2024-03-0$((i + 3)))" >"$T/x$i"
		cat "$T/m$i/tle/$(day_path 2024-03-0$((i + 5)))" >"$T/y$i"
		[ $(( $(date +%s) - start )) -lt 15 ]
		[ -s "$T/x$i" ] && [ -s "$T/y$i" ]
	done
	[ "$(st_count queries)" -eq 4 ]
	for i in 1 2; do
		[ "$(grep -c 'shared cache s3://fleet/astro: unreachable' "$T/a$i.log")" -eq 1 ]
	done
	jq -e '.shared.reachable == false and .shared.errors >= 1' "$T/m1/.astrofs/stats"
}

# small_fits FILE: a primary HDU and a 10x10 16-bit image extension.
small_fits() {
	/usr/bin/python3 - "$1" <<-'PY'
	import sys
	def hdr(cards):
	    s = "".join(c.ljust(80) for c in cards + ["END"])
	    return (s + " " * (-len(s) % 2880)).encode()
	prim = hdr(["SIMPLE  =                    T", "BITPIX  =                    8",
	            "NAXIS   =                    0", "EXTEND  =                    T"])
	ext = hdr(["XTENSION= 'IMAGE   '", "BITPIX  =                   16", "NAXIS   =                    2",
	           "NAXIS1  =                   10", "NAXIS2  =                   10", "PCOUNT  =                    0",
	           "GCOUNT  =                    1", "EXTNAME = 'SCI     '"])
	data = bytes(200) + bytes(2880 - 200)
	open(sys.argv[1], "wb").write(prim + ext + data)
	PY
}

@test "fleet: a FITS object walked on one mount costs no GET of it on another (only the index object)" {
	s3 PUT /data >/dev/null
	small_fits "$T/x.fits"
	s3 PUT /data/survey/x.fits --data-binary @"$T/x.fits" >/dev/null
	fits="s3_endpoint=$S3_URL,s3_credentials=$T/rgw/credentials,fits_buckets=data"
	fleet_mount 1 "$fits"
	fleet_mount 2 "$fits"
	cat "$T/m1/fits/data/survey/x.fits/hdus.csv" >"$T/h1"
	[ "$(wc -l <"$T/h1")" -eq 3 ]
	jq -e '.fits.gets >= 1 and .shared.puts >= 1' "$T/m1/.astrofs/stats"
	bucket_keys fits/v1/ | grep -q .
	cat "$T/m2/fits/data/survey/x.fits/hdus.csv" >"$T/h2"
	cat "$T/m2/fits/data/survey/x.fits/headers/1" >"$T/x1"
	cmp "$T/h1" "$T/h2"
	grep -q "^EXTNAME = 'SCI     '" "$T/x1"
	jq -e '(.fits.gets // 0) == 0 and .shared.hits >= 1' "$T/m2/.astrofs/stats"
}

@test "fits: a cold read over many sibling objects reads ahead, bounded, never more GETs than objects" {
	s3 PUT /data >/dev/null
	small_fits "$T/x.fits"
	for n in $(seq -w 1 40); do s3 PUT "/data/run/o$n.fits" --data-binary @"$T/x.fits" >/dev/null; done
	# no shared tier here: read-ahead is the mount's own
	mkdir -p "$T/m1" "$T/c1"
	"$ASTROFS" fleet "$T/m1" -f -o "cache_dir=$T/c1,archive_dir=$T/ar1,obs_store=$T/ob1,offline=off,s3_endpoint=$S3_URL,s3_credentials=$T/rgw/credentials,fits_buckets=data,timeout=15" 2>>"$T/a1.log" &
	echo $! >"$T/a1.pid"
	for _ in $(seq 1 100); do [ -f "$T/m1/.astrofs/version" ] && break; sleep 0.1; done
	[ "$(ls "$T/m1/fits/data/run" | wc -l)" -eq 40 ]
	for n in $(seq -w 1 40); do
		cat "$T/m1/fits/data/run/o$n.fits/headers/1" >"$T/h$n"
		grep -q "^EXTNAME = 'SCI     '" "$T/h$n"
	done
	jq -e '.fits.readahead >= 10' "$T/m1/.astrofs/stats"
	jq -e '.fits.gets <= 40' "$T/m1/.astrofs/stats"
	# one job per sibling at most: re-reading the same object (its header
	# directory, then the header) must not restart the run (it once spawned
	# 11 jobs per object, each holding a slot while waiting on a walk)
	jq -e '.fits.readahead <= 40' "$T/m1/.astrofs/stats"
}

@test "fits: reading many sibling raw files in order (as astropy does) reads ahead their first window; no more GETs than objects" {
	s3 PUT /data >/dev/null
	small_fits "$T/x.fits"
	# Distinct objects, so a window served for the wrong one shows.
	for n in $(seq -w 1 40); do
		{ head -c 5760 "$T/x.fits"; printf 'o%s' "$n"; head -c $((2880 - 3)) /dev/zero; } >"$T/o$n.fits"
		s3 PUT "/data/raw/o$n.fits" --data-binary @"$T/o$n.fits" >/dev/null
	done
	head -c $((3 << 20)) /dev/urandom >"$T/big.bin"
	s3 PUT /data/direct/big.fits --data-binary @"$T/big.bin" >/dev/null
	mkdir -p "$T/m1" "$T/c1"
	"$ASTROFS" fleet "$T/m1" -f -o "cache_dir=$T/c1,archive_dir=$T/ar1,obs_store=$T/ob1,offline=off,s3_endpoint=$S3_URL,s3_credentials=$T/rgw/credentials,fits_buckets=data,timeout=15" 2>>"$T/a1.log" &
	echo $! >"$T/a1.pid"
	for _ in $(seq 1 100); do [ -f "$T/m1/.astrofs/version" ] && break; sleep 0.1; done
	[ "$(ls "$T/m1/fits/data/raw" | wc -l)" -eq 40 ]
	for n in $(seq -w 1 40); do cmp "$T/m1/fits/data/raw/o$n.fits/raw" "$T/o$n.fits"; done
	jq -e '.fits.readahead >= 10' "$T/m1/.astrofs/stats"
	jq -e '.fits.raw_gets <= 40' "$T/m1/.astrofs/stats"
	before=$(jq '.fits.raw_gets' "$T/m1/.astrofs/stats")
	# Read again: the page cache has them; read-ahead must not fetch again.
	for n in $(seq -w 1 40); do cmp "$T/m1/fits/data/raw/o$n.fits/raw" "$T/o$n.fits"; done
	[ "$(jq '.fits.raw_gets' "$T/m1/.astrofs/stats")" -eq "$before" ]
	# A raw file named without a listing: the version probe's first 64 KiB
	# become the first window, and reads past it still get the rest.
	cmp "$T/m1/fits/data/direct/big.fits/raw" "$T/big.bin"
}

#!/bin/bash
# Fleet benchmark (issue 14): 4 mounts, each with its own cache_dir (4
# machines), read the same 30 days of /tle at once, all 4 mounts starting
# together; upstream requests (queries, logins) from the space-track
# stand-in's counters and the wall time until every mount has every day:
#   independent   4 mounts without shared_cache (today: each queries each day)
#   shared        the same 4 mounts on one shared_cache (a real Ceph RGW,
#                 tests/standin/rgw.sh): one query per day for the fleet
# Both under spacetrack_rate=30/min, i.e. the fleet's account ceiling
# for the shared mounts and each mount's own ceiling when independent (so
# "independent" may overshoot the account's real limit 4 times; the
# stand-in's rate_limited counter shows it).
#
#   bench/fleet.sh [DAYS]
# FLEET_MODES="shared" runs one mode; FLEET_OPTS adds mount options (e.g.
# loglevel=info: which mount fetched which day, and why); FLEET_KEEP=1
# keeps the logs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DAYS=${1:-30}
tmp=$(mktemp -d /tmp/astro-fleet-bench-XXXXXX)
cleanup() {
	for i in 1 2 3 4; do
		mountpoint -q "$tmp/m$i" 2>/dev/null && fusermount3 -u "$tmp/m$i" 2>/dev/null || true
	done
	[ -f "$tmp/standin.pid" ] && kill "$(cat "$tmp/standin.pid")" 2>/dev/null || true
	tests/standin/rgw.sh stop "$tmp/rgw" >/dev/null 2>&1 || true
	# FLEET_KEEP=1: keep the mounts' logs and the stand-in's for a look
	if [ -n "${FLEET_KEEP:-}" ]; then echo "fleet: logs kept in $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
[ -x build/astrofs ] || make -s all
if ! tests/standin/rgw.sh available; then
	echo "fleet: skipped (ceph-mon, ceph-osd, radosgw not installed)"
	exit 0
fi

days=()
syn=()
for d in $(seq 0 $((DAYS - 1))); do
	day=$(date -u -d "2024-04-01 + $d days" +%Y-%m-%d)
	days+=("$day")
	syn+=(--synthetic-day "$day:300")
done
printf 'identity = b\npassword = b\n' >"$tmp/creds"
chmod 600 "$tmp/creds"
/usr/bin/python3 tests/standin/spacetrack.py --port 0 --user b --password b "${syn[@]}" \
	--rate-minute 30 --rate-hour 300 >"$tmp/standin.out" 2>"$tmp/standin.err" &
echo $! >"$tmp/standin.pid"
for _ in $(seq 1 100); do grep -q '^listening on' "$tmp/standin.out" 2>/dev/null && break; sleep 0.1; done
ST=http://127.0.0.1:$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/standin.out")
t0=$(date +%s.%N)
tests/standin/rgw.sh start "$tmp/rgw" >"$tmp/rgw.out"
S3=$(sed -n 's/^endpoint //p' "$tmp/rgw.out")
echo "fleet: RGW up in $(echo "$(date +%s.%N) - $t0" | bc -l | cut -c1-4) s"
read -r AK SK < <(tests/standin/rgw.sh creds)
curl -s --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
	-X PUT "$S3/fleet" >/dev/null

run() {
	local mode=$1 extra=
	[ "$mode" = shared ] && extra=",shared_cache=s3://fleet/bench,shared_cache_endpoint=$S3,shared_cache_credentials=$tmp/rgw/credentials"
	curl -s -X POST "$ST/_test/reset_log" >/dev/null
	for i in 1 2 3 4; do
		rm -rf "$tmp/c$i"
		mkdir -p "$tmp/m$i" "$tmp/c$i"
		build/astrofs bench "$tmp/m$i" -f -o "cache_dir=$tmp/c$i,archive_dir=$tmp/a$i,obs_store=$tmp/o$i,spacetrack_url=$ST,spacetrack_credentials=$tmp/creds,spacetrack_rate=30/min,timeout=300$extra${FLEET_OPTS:+,$FLEET_OPTS}" 2>>"$tmp/log$i" &
	done
	for i in 1 2 3 4; do
		for _ in $(seq 1 100); do [ -f "$tmp/m$i/.astrofs/version" ] && break; sleep 0.1; done
	done
	local s pids=()
	s=$(date +%s.%N)
	for i in 1 2 3 4; do
		( for d in "${days[@]}"; do
			cat "$tmp/m$i/tle/${d:0:4}/${d:5:2}/${d:8:2}.tle" >/dev/null 2>&1 || echo "$d" >>"$tmp/failed.$mode"
		  done ) &
		pids+=($!)
	done
	wait "${pids[@]}"
	local wall
	wall=$(echo "$(date +%s.%N) - $s" | bc -l)
	local c
	c=$(curl -s "$ST/_test/counters")
	printf '%-12s %6.1f s   queries %3d   logins %2d   requests %3d   rate-limited %2d   failed reads %d\n' \
		"$mode" "$wall" "$(jq .queries <<<"$c")" "$(jq .logins <<<"$c")" "$(jq .requests <<<"$c")" \
		"$(jq .rate_limited <<<"$c")" "$(cat "$tmp/failed.$mode" 2>/dev/null | wc -l)"
	for i in 1 2 3 4; do fusermount3 -u "$tmp/m$i" 2>/dev/null || true; done
	sleep 1
}

echo "fleet: 4 mounts x $DAYS days, spacetrack_rate=30/min"
# shared first: the stand-in's rate window outlives reset_log, and the
# independent run fills it 4 times over.
for mode in ${FLEET_MODES:-shared independent}; do run "$mode"; done

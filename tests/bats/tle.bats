#!/usr/bin/env bats
# /tle through a real mount against the space-track stand-in.  Request
# counts come from the stand-in's own counters and log.

load lib

setup() {
	require_fuse
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	[ -f "$SHARED/data/tle/spacetrack_3le_catalog_2019-12-19.3le" ] ||
		skip "../shared/data/tle is not present"
	astro_tmp
	start_standin
}

teardown() {
	cleanup_all
}

@test "tle: listing years, months and days and stat cost no request" {
	mount_astrofs
	st_post reset_log
	run ls "$T/mnt/tle"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1957 ]
	[ "${lines[-1]}" = "$(date -u +%Y)" ]
	run ls "$T/mnt/tle/2019"
	[ "${#lines[@]}" -eq 12 ]
	run ls -l "$T/mnt/tle/2019/12"
	[ "$status" -eq 0 ]
	[ "$(ls "$T/mnt/tle/2019/12" | wc -l)" -eq 62 ]
	stat "$T/mnt/tle/2019/12/18.tle" >/dev/null
	ls -lR "$T/mnt/tle/2019" >/dev/null
	[ "$(st_count requests)" -eq 0 ]
}

# exact_copy GOT DAY KIND: GOT is byte for byte the day's file.
exact_copy() {
	expected_day "$2" "$3" >"$T/want.$2.$3"
	[ -s "$T/want.$2.$3" ]
	cmp "$1" "$T/want.$2.$3"
}

@test "tle: the twin of a just-fetched day reads whole right after ls -l (both orders, cat and python)" {
	mount_astrofs
	M=$T/mnt/tle/2019/12
	# .tle then .3le: the first read fetches the day while the kernel
	# still holds size 0 for the twin from ls -l.
	ls -l "$M" >/dev/null
	cat "$M/18.tle" >"$T/a"
	cat "$M/18.3le" >"$T/b"
	exact_copy "$T/a" 2019-12-18 tle
	exact_copy "$T/b" 2019-12-18 3le
	# .3le then .tle
	ls -l "$M" >/dev/null
	cat "$M/17.3le" >"$T/a"
	cat "$M/17.tle" >"$T/b"
	exact_copy "$T/a" 2019-12-17 3le
	exact_copy "$T/b" 2019-12-17 tle
	# Python open().read(), both orders
	for pair in "16 tle 3le" "15 3le tle"; do
		set -- $pair
		ls -l "$M" >/dev/null
		/usr/bin/python3 -c '
import sys
for src, dst in ((sys.argv[1], sys.argv[2]), (sys.argv[3], sys.argv[4])):
    open(dst, "w").write(open(src).read())' "$M/$1.$2" "$T/a" "$M/$1.$3" "$T/b"
		exact_copy "$T/a" "2019-12-$1" "$2"
		exact_copy "$T/b" "2019-12-$1" "$3"
	done
	[ "$(st_count queries)" -eq 4 ]
}

@test "tle: rsync, shutil and cp of an uncached day right after ls -l copy it whole" {
	mount_astrofs
	M=$T/mnt/tle/2019/12
	mkdir "$T/out"
	ls -l "$M" >/dev/null
	rsync -a "$M/15.tle" "$T/out/"
	exact_copy "$T/out/15.tle" 2019-12-15 tle
	ls -l "$M" >/dev/null
	rsync -a "$M/14.3le" "$M/14.tle" "$T/out/"
	exact_copy "$T/out/14.3le" 2019-12-14 3le
	exact_copy "$T/out/14.tle" 2019-12-14 tle
	# shutil.copyfile sizes its sendfile() by fstat() after open
	ls -l "$M" >/dev/null
	/usr/bin/python3 -c 'import shutil, sys; shutil.copyfile(sys.argv[1], sys.argv[2])' \
		"$M/13.3le" "$T/out/13.3le"
	exact_copy "$T/out/13.3le" 2019-12-13 3le
	ls -l "$M" >/dev/null
	/usr/bin/python3 -c 'import shutil, sys; shutil.copy2(sys.argv[1], sys.argv[2])' \
		"$M/12.tle" "$T/out/12.tle"
	exact_copy "$T/out/12.tle" 2019-12-12 tle
	ls -l "$M" >/dev/null
	cp --reflink=auto "$M/11.tle" "$T/out/11.tle"
	exact_copy "$T/out/11.tle" 2019-12-11 tle
	[ "$(st_count queries)" -eq 5 ]
}

@test "tle: rsync -a of a whole month right after ls -l copies every day whole; listing it is free" {
	mount_astrofs "spacetrack_rate=600/min"
	st_post config '{"rate_minute": 10000, "rate_hour": 100000}'
	M=$T/mnt/tle/2019/11
	st_post reset_log
	ls -l "$M" >/dev/null
	ls "$M" >/dev/null
	ls --color=always "$M" >/dev/null
	ls -l --color=always "$M" >/dev/null
	find "$M" -type f >/dev/null
	(cd "$M" && compgen -f 1 >/dev/null && compgen -f -- "$M/2" >/dev/null)
	[ "$(st_count requests)" -eq 0 ]
	rsync -a "$M/" "$T/out/"
	[ "$(ls "$T/out" | wc -l)" -eq 60 ]
	for d in $(seq -w 1 30); do
		for k in tle 3le; do
			expected_day "2019-11-$d" "$k" >"$T/want"
			cmp "$T/out/$d.$k" "$T/want"
		done
	done
	[ "$(st_count queries)" -eq 30 ]
}

@test "tle: tar of a month after the documented prefetch is whole" {
	mount_astrofs "spacetrack_rate=600/min"
	st_post config '{"rate_minute": 10000, "rate_hour": 100000}'
	M=$T/mnt/tle/2019/12
	ls -l "$M" >/dev/null
	# tar never opens a world-readable file that stat() says is empty, and
	# stat() never fetches: make the days exact first (README, astrofs(8)).
	cat "$M"/1[0-3].3le >/dev/null
	mkdir "$T/out"
	tar -C "$M" -cf - 10.tle 10.3le 11.tle 11.3le 12.tle 12.3le 13.tle 13.3le | tar -C "$T/out" -xf -
	for d in 10 11 12 13; do
		exact_copy "$T/out/$d.tle" "2019-12-$d" tle
		exact_copy "$T/out/$d.3le" "2019-12-$d" 3le
	done
	[ "$(st_count queries)" -eq 4 ]
}

@test "tle: impossible and future dates are ENOENT" {
	mount_astrofs
	run stat "$T/mnt/tle/2019/02/30.tle"
	[ "$status" -ne 0 ]
	[[ "$output" == *"No such file"* ]]
	run cat "$T/mnt/tle/2019/13/01.tle"
	[[ "$output" == *"No such file"* ]]
	run cat "$T/mnt/tle/$(( $(date -u +%Y) + 1 ))/01/01.tle"
	[[ "$output" == *"No such file"* ]]
	tomorrow=$(date -u -d tomorrow +%Y/%m/%d)
	run stat "$T/mnt/tle/$tomorrow.tle"
	[ "$status" -ne 0 ]
	run cat "$T/mnt/tle/1956/01/01.tle"
	[[ "$output" == *"No such file"* ]]
	[ "$(st_count requests)" -eq 0 ]
}

@test "tle: first read = 1 login + 1 query, exact content; re-read and .3le cost nothing" {
	mount_astrofs
	cat "$T/mnt/tle/2019/12/18.tle" >"$T/got.tle"
	expected_day 2019-12-18 tle >"$T/want.tle"
	[ -s "$T/want.tle" ]
	cmp "$T/got.tle" "$T/want.tle"
	[ "$(st_count logins)" -eq 1 ]
	[ "$(st_count queries)" -eq 1 ]
	cat "$T/mnt/tle/2019/12/18.tle" >/dev/null
	cat "$T/mnt/tle/2019/12/18.3le" >"$T/got.3le"
	expected_day 2019-12-18 3le >"$T/want.3le"
	cmp "$T/got.3le" "$T/want.3le"
	[ "$(st_count requests)" -eq 2 ]
	# Exact sizes once cached; every ordinary tool agrees.
	[ "$(stat -c %s "$T/mnt/tle/2019/12/18.tle")" -eq "$(stat -c %s "$T/want.tle")" ]
	[ "$(stat -c %s "$T/mnt/tle/2019/12/18.3le")" -eq "$(stat -c %s "$T/want.3le")" ]
	[ "$(wc -l <"$T/mnt/tle/2019/12/18.tle")" -eq "$(wc -l <"$T/want.tle")" ]
	cp "$T/mnt/tle/2019/12/18.3le" "$T/cp.3le" && cmp "$T/cp.3le" "$T/want.3le"
	[ "$(tail -n 2 "$T/mnt/tle/2019/12/18.tle")" = "$(tail -n 2 "$T/want.tle")" ]
	python3 -c "import sys; d=open(sys.argv[1]).read(); sys.exit(d != open(sys.argv[2]).read())" \
		"$T/mnt/tle/2019/12/18.tle" "$T/want.tle"
	[ "$(st_count requests)" -eq 2 ]
}

@test "tle: first read works for cp, grep, wc, tail and python on a cold day" {
	mount_astrofs
	expected_day 2019-12-17 tle >"$T/want"
	cp "$T/mnt/tle/2019/12/17.tle" "$T/a" && cmp "$T/a" "$T/want"
	expected_day 2019-12-16 tle >"$T/want"
	[ "$(grep -c '^1 ' "$T/mnt/tle/2019/12/16.tle")" -eq "$(grep -c '^1 ' "$T/want")" ]
	expected_day 2019-12-15 tle >"$T/want"
	[ "$(wc -c <"$T/mnt/tle/2019/12/15.tle")" -eq "$(wc -c <"$T/want")" ]
	expected_day 2019-12-14 tle >"$T/want"
	[ "$(tail -n 1 "$T/mnt/tle/2019/12/14.tle")" = "$(tail -n 1 "$T/want")" ]
	expected_day 2019-12-13 3le >"$T/want"
	python3 -c "import sys; sys.exit(open(sys.argv[1]).read() != open(sys.argv[2]).read())" \
		"$T/mnt/tle/2019/12/13.3le" "$T/want"
	[ "$(st_count queries)" -eq 5 ]
	[ "$(st_count logins)" -eq 1 ]
}

@test "tle: a set stamped exactly at midnight lands in exactly one day" {
	mount_astrofs
	day=$(st_get special | jq -r '.midnight.day')
	[ -n "$day" ] && [ "$day" != null ]
	prev=$(date -u -d "$day -1 day" +%Y/%m/%d)
	cur=$(date -u -d "$day" +%Y/%m/%d)
	l1=$(st_get special | jq -r '.midnight.TLE_LINE1')
	[[ "$l1" == "1 "* ]]
	run grep -cF -- "$l1" "$T/mnt/tle/$cur.tle"
	[ "$output" -eq 1 ]
	run grep -cF -- "$l1" "$T/mnt/tle/$prev.tle"
	[ "$output" -eq 0 ]
}

@test "tle: 20 parallel readers of one day share one query" {
	mount_astrofs
	pids=()
	for i in $(seq 1 20); do
		cat "$T/mnt/tle/2019/12/12.tle" >"$T/par.$i" &
		pids+=($!)
	done
	wait "${pids[@]}"
	expected_day 2019-12-12 tle >"$T/want"
	for i in $(seq 1 20); do cmp "$T/par.$i" "$T/want"; done
	[ "$(st_count queries)" -eq 1 ]
	[ "$(st_count logins)" -eq 1 ]
}

@test "tle: 60 distinct days in parallel never exceed the ceiling" {
	ASTRO_TIMEOUT=60 mount_astrofs "spacetrack_rate=5/s"
	# The stand-in's own limit is raised: the ceiling under test is ours.
	st_post config '{"rate_minute": 10000, "rate_hour": 100000}'
	st_post reset_log
	pids=()
	for i in $(seq 0 59); do
		d=$(date -u -d "2019-10-20 +$i day" +%Y/%m/%d)
		cat "$T/mnt/tle/$d.tle" >/dev/null 2>"$T/err.$i" &
		pids+=($!)
	done
	failed=0
	for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
	cat "$T/err."* >&2 || true
	[ "$failed" -eq 0 ]
	[ "$(st_count queries)" -eq 60 ]
	# No 6 consecutive requests within one second at the stand-in, judged
	# by its own arrival times, with no allowance for scheduling: a slot
	# counts from its grant until the answer is back, which is after the
	# stand-in stamped the request, however late a loaded machine sent it.
	st_get log | python3 -c '
import json, sys
t = sorted(r["time"] for r in json.load(sys.stdin))
bad = [(t[i], t[i + 5]) for i in range(len(t) - 5) if t[i + 5] - t[i] < 1.0]
print(len(t), "requests;", bad[:3])
sys.exit(1 if bad else 0)'
	[ "$(st_count rate_limited)" -eq 0 ]
}

@test "tle: an expired session is renewed once" {
	mount_astrofs
	cat "$T/mnt/tle/2019/12/11.tle" >/dev/null
	[ "$(st_count logins)" -eq 1 ]
	st_post expire_sessions
	expected_day 2019-12-10 tle >"$T/want"
	cmp "$T/mnt/tle/2019/12/10.tle" "$T/want"
	[ "$(st_count logins)" -eq 2 ]
	[ "$(st_count queries)" -eq 3 ]
	# The same when the server answers an expired session with 500 + HTML.
	st_post config '{"expired_500_html": true}'
	st_post expire_sessions
	expected_day 2019-12-09 tle >"$T/want"
	cmp "$T/mnt/tle/2019/12/09.tle" "$T/want"
	[ "$(st_count logins)" -eq 3 ]
	[ "$(st_count queries)" -eq 5 ]
}

@test "tle: wrong password is EACCES and the mount stays healthy" {
	write_creds "$ST_USER" wrong-password
	mount_astrofs
	run cat "$T/mnt/tle/2019/12/08.tle"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
	grep -q 'login refused' "$T/astrofs.log"
	run cat "$T/mnt/.astrofs/version"
	[ "$status" -eq 0 ]
	ls "$T/mnt/tle/2019" >/dev/null
	[ "$(st_count queries)" -eq 0 ]
	# A locked account is refused the same way.
	run cat "$T/mnt/tle/2019/12/07.tle"
	[[ "$output" == *"Permission denied"* ]]
}

@test "tle: upstream 500, reset and truncated body are EIO, cache nothing, and the next read retries" {
	mount_astrofs
	expected_day 2019-12-06 tle >"$T/want"
	for kind in '{"kind":"status","status":503,"count":1,"match":"gp_history"}' \
		    '{"kind":"status","status":502,"count":1,"match":"gp_history"}' \
		    '{"kind":"reset","count":1,"match":"gp_history"}' \
		    '{"kind":"truncate","count":1,"match":"gp_history"}' \
		    '{"kind":"error_200","count":1,"match":"gp_history"}'; do
		st_post fault "$kind"
		echo "fault: $kind"
		run cat "$T/mnt/tle/2019/12/06.tle"
		[ "$status" -ne 0 ]
		[[ "$output" == *"Input/output error"* ]]
		[ "$(stat -c %s "$T/mnt/tle/2019/12/06.tle")" -eq 0 ]
	done
	cmp "$T/mnt/tle/2019/12/06.tle" "$T/want"
	[ "$(st_count queries)" -eq 6 ]
}

@test "tle: both rate-limit answers are errors and never cached" {
	mount_astrofs
	cat "$T/mnt/tle/2019/12/05.tle" >/dev/null	# login + query
	for mode in 500 200; do
		st_post config "{\"rate_mode\": \"$mode\", \"rate_minute\": 1}"
		run cat "$T/mnt/tle/2019/12/04.tle"
		[ "$status" -ne 0 ]
		[[ "$output" == *"Input/output error"* ]]
		[ "$(stat -c %s "$T/mnt/tle/2019/12/04.tle")" -eq 0 ]
	done
	grep -q 'rate limit' "$T/astrofs.log"
	st_post config '{"rate_minute": 1000}'
	expected_day 2019-12-04 tle >"$T/want"
	cmp "$T/mnt/tle/2019/12/04.tle" "$T/want"
}

@test "tle: an upstream that stops answering fails within the timeout" {
	ASTRO_TIMEOUT=3 mount_astrofs
	st_post fault '{"kind":"hang","count":100,"match":"gp_history"}'
	run timeout 60 cat "$T/mnt/tle/2019/12/03.tle"
	[ "$status" -ne 124 ]
	[ "$status" -ne 0 ]
	st_post clear_faults
	run cat "$T/mnt/.astrofs/version"
	[ "$status" -eq 0 ]
}

@test "tle: offline serves the cache and never contacts upstream" {
	mount_astrofs
	cat "$T/mnt/tle/2019/12/02.tle" >"$T/a"
	unmount_astrofs
	st_post reset_log
	before=$(st_count requests)
	mount_astrofs offline
	cmp "$T/mnt/tle/2019/12/02.tle" "$T/a"
	run cat "$T/mnt/tle/2019/12/01.tle"
	[ "$status" -ne 0 ]
	[ "$(st_count requests)" -eq "$before" ]
}

@test "tle: cached days survive a remount; recent days refresh after tle_ttl" {
	mount_astrofs "tle_final_after=3650d"
	cat "$T/mnt/tle/2019/12/01.tle" >/dev/null
	unmount_astrofs
	mount_astrofs "tle_final_after=3650d,tle_ttl=1s"
	q=$(st_count queries)
	sleep 1.5
	cat "$T/mnt/tle/2019/12/01.tle" >/dev/null
	[ "$(st_count queries)" -eq $((q + 1)) ]
	unmount_astrofs
	# Old days (past tle_final_after) are never fetched again.
	mount_astrofs "tle_ttl=1s"
	cat "$T/mnt/tle/2019/11/30.tle" >/dev/null
	q=$(st_count queries)
	sleep 1.5
	cat "$T/mnt/tle/2019/11/30.tle" >/dev/null
	[ "$(st_count queries)" -eq "$q" ]
}

@test "tle: the password never appears in logs, cache or config" {
	mount_astrofs "loglevel=debug"
	cat "$T/mnt/tle/2019/11/29.tle" >/dev/null
	run grep -rF -- "$ST_PASS" "$T/cache" "$T/astrofs.log"
	[ "$status" -ne 0 ]
	run grep -F -- "$ST_PASS" "$T/mnt/.astrofs/config"
	[ "$status" -ne 0 ]
	grep -q '^spacetrack_credentials' "$T/mnt/.astrofs/config"
}

@test "tle: unmount logs out" {
	mount_astrofs
	cat "$T/mnt/tle/2019/11/28.tle" >/dev/null
	unmount_astrofs
	[ "$(st_count logouts)" -eq 1 ]
}

@test "tle: stats count requests, hits and the limiter" {
	mount_astrofs
	cat "$T/mnt/tle/2019/11/27.tle" >/dev/null
	cat "$T/mnt/tle/2019/11/27.tle" >/dev/null
	jq -e '.spacetrack.queries == 1 and .spacetrack.logins == 1 and .tle.hits >= 1' "$T/mnt/.astrofs/stats"
	jq -e '.spacetrack.limiter.windows[0].used == 2' "$T/mnt/.astrofs/stats"
}

#!/usr/bin/env bats
# What a client, a signal or a broken tree must never do to the daemon:
# interrupted readers, shutdown while upstream hangs, a tree that failed to
# start, a mount stacked on a mount, one deadline per operation, and the
# kernel cache options.  Upstream hangs come from the stand-in's "hang"
# fault (answered only on clear_faults), so every wait here that ends early
# was ended by astrofs.

load lib

PY=/usr/bin/python3	# Debian's: astropy for the FITS file check

setup() {
	require_fuse
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	[ -f "$SHARED/data/tle/spacetrack_3le_catalog_2019-12-19.3le" ] ||
		skip "../shared/data/tle is not present"
	astro_tmp
	start_standin
}

teardown() {
	# A second daemon mounted on top (the nonempty test) goes first.
	if [ -f "$T/top.pid" ]; then
		fusermount3 -u "$T/mnt" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$(cat "$T/top.pid")" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$(cat "$T/top.pid")" 2>/dev/null || true
	fi
	if [ -f "$T/web.pid" ]; then
		kill "$(cat "$T/web.pid")" 2>/dev/null || true
	fi
	cleanup_all
}

now_ms() { date +%s%3N; }

daemon_alive() { kill -0 "$(cat "$T/astrofs.pid")" 2>/dev/null; }

# The mount still answers: a listing and a fresh read.
mount_answers() {
	timeout 5 ls "$T/mnt" >/dev/null
	timeout 5 ls "$T/mnt/tle/2019" >/dev/null
	timeout 5 cat "$T/mnt/.astrofs/version" >/dev/null
}

# fresh_day_reads_quickly DD: 2019-12-DD (not cached) reads right, in < 5 s.
fresh_day_reads_quickly() {
	local t0
	expected_day "2019-12-$1" tle >"$T/want"
	t0=$(now_ms)
	timeout 10 cat "$T/mnt/tle/2019/12/$1.tle" >"$T/got"
	cmp "$T/got" "$T/want"
	[ $(($(now_ms) - t0)) -lt 5000 ]
}

# wait_queries N: until the stand-in has seen N queries (bounded, 5 s).
wait_queries() {
	for _ in $(seq 1 50); do
		[ "$(st_count queries)" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# hang_reader SIG DAY: start a reader of DAY that waits on the hung
# upstream, send it SIG once its query reached the stand-in, and print
# how long (ms) the reader took to end after the signal.
hang_reader() {
	local sig=$1 day=$2 q pid t0 t1
	q=$(st_count queries)
	# A background job of a script ignores SIGINT; give the reader
	# default dispositions, as an interactive cat has.
	env --default-signal cat "$T/mnt/tle/2019/12/$day.tle" >/dev/null 2>"$T/reader.err" &
	pid=$!
	wait_queries $((q + 1))
	sleep 0.3
	t0=$(now_ms)
	kill -"$sig" "$pid"
	for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	t1=$(now_ms)
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	echo $((t1 - t0))
}

@test "resilience: SIGINT, SIGTERM and SIGKILL of a reader waiting on upstream end it at once; the daemon lives" {
	ASTRO_TIMEOUT=30 mount_astrofs "max_threads=2"
	st_post fault '{"kind":"hang","count":0,"match":"gp_history"}'
	day=10
	for sig in INT TERM KILL; do
		ms=$(hang_reader "$sig" "$day")
		echo "SIG$sig: reader ended after $ms ms"
		[ "$ms" -lt 2000 ]
		daemon_alive
		mount_answers
		day=$((day + 1))
	done
	# Three abandoned requests, two workers: none of them still holds one.
	st_post clear_faults
	fresh_day_reads_quickly 20
	! grep -q 'User defined signal' "$T/astrofs.log"
}

@test "resilience: timeout(1) of waiting reads; abandoned requests free their workers" {
	# Three workers: four abandoned requests would hold them all.  (An
	# interrupt is read by a free worker, so the shared-query case below
	# needs one beyond its two readers.)
	ASTRO_TIMEOUT=30 mount_astrofs "max_threads=3"
	st_post fault '{"kind":"hang","count":0,"match":"gp_history"}'
	for day in 01 02 03 04; do
		t0=$(now_ms)
		run timeout 2 cat "$T/mnt/tle/2019/12/$day.tle"
		ms=$(($(now_ms) - t0))
		echo "day $day: status $status after $ms ms"
		[ "$status" -eq 124 ]
		[ "$ms" -lt 3500 ]
		daemon_alive
	done
	# With the workers held by abandoned requests these would wait 30 s.
	mount_answers
	st_post clear_faults
	fresh_day_reads_quickly 05
	# Concurrent readers of one day share one query.  When the reader
	# whose request it is gives up, a reader still waiting asks again.
	st_post fault '{"kind":"hang","count":1,"match":"2019-12-06"}'
	q=$(st_count queries)
	timeout 2 cat "$T/mnt/tle/2019/12/06.3le" >/dev/null 2>&1 &
	leader=$!
	wait_queries $((q + 1))
	timeout 20 cat "$T/mnt/tle/2019/12/06.tle" >"$T/patient" &
	patient=$!
	st=0
	wait "$leader" || st=$?
	[ "$st" -eq 124 ]
	wait "$patient"
	expected_day 2019-12-06 tle | cmp - "$T/patient"
	[ "$(st_count queries)" -eq $((q + 2)) ]
}

@test "resilience: SIGTERM while a read waits on a hung upstream exits within 2 s, unmounted and logged out" {
	ASTRO_TIMEOUT=30 mount_astrofs
	cat "$T/mnt/tle/2019/11/26.tle" >/dev/null	# logs in
	st_post fault '{"kind":"hang","count":0,"match":"gp_history"}'
	q=$(st_count queries)
	cat "$T/mnt/tle/2019/12/03.tle" >/dev/null 2>&1 &
	reader=$!
	wait_queries $((q + 1))
	sleep 0.3
	pid=$(cat "$T/astrofs.pid")
	t0=$(now_ms)
	kill -TERM "$pid"
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	ms=$(($(now_ms) - t0))
	echo "daemon exited after $ms ms"
	! kill -0 "$pid" 2>/dev/null
	[ "$ms" -lt 2000 ]
	! mountpoint -q "$T/mnt"
	st=0
	wait "$reader" || st=$?
	[ "$st" -ne 0 ]
	[ "$(st_count logouts)" -eq 1 ]
}

@test "resilience: a tree that cannot start is left out of the listing and answers EIO; the daemon lives" {
	touch "$T/notadir"
	mkdir -p "$T/mnt" "$T/cache"
	write_creds
	astrofs_start "cache_dir=$T/cache,archive_dir=$T/notadir/archive,obs_store=$T/obs,spacetrack_url=$ST_URL,spacetrack_credentials=$T/creds"
	grep -q '/telemetry is unavailable' "$T/astrofs.log"
	run ls -l "$T/mnt"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *telemetry* ]]
	[[ "$output" == *tle* ]]
	run ls -la "$T/mnt/"
	[ "$status" -eq 0 ]
	run ls "$T/mnt/telemetry"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Input/output error"* ]]
	run stat "$T/mnt/telemetry/somewhere"
	[[ "$output" == *"Input/output error"* ]]
	daemon_alive
	mount_answers
}

@test "resilience: mounting on a live mount is refused with one line unless nonempty" {
	mount_astrofs
	opts="cache_dir=$T/cache2,archive_dir=$T/archive2,obs_store=$T/obs2,spacetrack_url=$ST_URL,spacetrack_credentials=$T/creds"
	mkdir -p "$T/cache2"
	run "$ASTROFS" again "$T/mnt" -o "$opts"
	echo "$output"
	[ "$status" -ne 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"already a mount"*fuse.astrofs* ]]
	[ "$(findmnt -n "$T/mnt" | wc -l)" -eq 1 ]
	mount_answers
	# nonempty asks for it.
	"$ASTROFS" again "$T/mnt" -f -o "$opts,nonempty" 2>"$T/top.log" &
	echo $! >"$T/top.pid"
	for _ in $(seq 1 100); do
		[ "$(findmnt -n "$T/mnt" | wc -l)" -eq 2 ] && break
		sleep 0.1
	done
	[ "$(findmnt -n "$T/mnt" | wc -l)" -eq 2 ]
	findmnt -n -o SOURCE "$T/mnt" | grep -qx again
}

@test "resilience: entry_timeout, attr_timeout and negative_timeout are options that take effect" {
	mkdir -p "$T/mnt"
	base="cache_dir=$T/cache,archive_dir=$T/archive,obs_store=$T/obs,spacetrack_url=$ST_URL,spacetrack_credentials=$T/creds"
	write_creds
	mkdir -p "$T/cache"
	for bad in attr_timeout=-1 attr_timeout=soon entry_timeout=7200 negative_timeout=; do
		run "$ASTROFS" src "$T/mnt" -o "$base,$bad"
		echo "$bad: $output"
		[ "$status" -ne 0 ]
		[ "${#lines[@]}" -eq 1 ]
		[[ "$output" == *"${bad%%=*}"* ]]
		! mountpoint -q "$T/mnt"
	done
	mount_astrofs "attr_timeout=0,entry_timeout=0.5,negative_timeout=0"
	grep -qx 'attr_timeout = 0' "$T/mnt/.astrofs/config"
	grep -qx 'entry_timeout = 0.5' "$T/mnt/.astrofs/config"
	grep -qx 'negative_timeout = 0' "$T/mnt/.astrofs/config"
	# With no attribute cache the kernel sees a day's size as soon as it
	# is fetched: stat before (unknown, 0), read, stat at once after.
	[ "$(stat -c %s "$T/mnt/tle/2019/12/18.tle")" -eq 0 ]
	cat "$T/mnt/tle/2019/12/18.tle" >"$T/got"
	[ "$(stat -c %s "$T/mnt/tle/2019/12/18.tle")" -eq "$(stat -c %s "$T/got")" ]
	[ -s "$T/got" ]
	unmount_astrofs
	# The defaults are shown too.
	mount_astrofs
	grep -qx 'attr_timeout = 1' "$T/mnt/.astrofs/config"
	grep -qx 'negative_timeout = 2' "$T/mnt/.astrofs/config"
}

# An 8-HDU FITS file whose headers are 1 MiB apart: each is its own ranged GET.
make_eight() {
	"$PY" - "$1" <<'EOF'
import sys
B = 2880
def card(k, v=None):
    if k == "END":
        return "END".ljust(80)
    v = ("T" if v else "F") if isinstance(v, bool) else ("'%-8s'" % v if isinstance(v, str) else v)
    return ("%-8s= %20s" % (k, v)).ljust(80)
n = 1 << 20
with open(sys.argv[1], "wb") as f:
    for i in range(8):
        c = [card("SIMPLE", True)] if i == 0 else [card("XTENSION", "IMAGE   ")]
        c += [card("BITPIX", 8), card("NAXIS", 1), card("NAXIS1", n)]
        c += [card("EXTEND", True)] if i == 0 else [card("PCOUNT", 0), card("GCOUNT", 1)]
        c += [card("HDUNUM", i)]
        t = "".join(c) + card("END")
        f.write((t + " " * (-len(t) % B)).encode())
        f.seek(n + (-n % B), 1)
    f.truncate(f.tell())
EOF
}

@test "resilience: timeout bounds one operation however many requests it makes (8 HDUs, 2 s per answer)" {
	mkdir -p "$T/web"
	make_eight "$T/web/eight.fits"
	"$PY" "$ROOT/tests/standin/rangesrv.py" "$T/web" --log "$T/web.log" --latency-ms 2000 \
		>"$T/web.out" 2>"$T/web.err" &
	echo $! >"$T/web.pid"
	for _ in $(seq 1 50); do grep -q '^listening' "$T/web.out" && break; sleep 0.1; done
	port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$T/web.out")
	[ -n "$port" ]
	ASTRO_TIMEOUT=5 mount_astrofs "fits_http=slow=http://127.0.0.1:$port/files"
	# Reaching the object costs its first read (one answer, 2 s: a loaded
	# machine still has 3 s of the 5 s to spare).
	timeout 20 stat "$T/mnt/fits/slow/eight.fits" >/dev/null
	t0=$(now_ms)
	run timeout 60 cat "$T/mnt/fits/slow/eight.fits/headers/7"
	ms=$(($(now_ms) - t0))
	echo "headers/7: status $status after $ms ms: $output"
	cat "$T/web.log"
	[ "$status" -ne 0 ]
	[ "$status" -ne 124 ]
	[[ "$output" == *"timed out"* || "$output" == *"Input/output error"* ]]
	# One operation, one deadline: 5 s plus a little, not 7 x 2 s.
	[ "$ms" -lt 7500 ]
	daemon_alive
}

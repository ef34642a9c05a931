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

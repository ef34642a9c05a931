# Shared helpers for the mount-level bats suites.
#
# Every suite starts real processes (the space-track stand-in, astrofs) on
# 127.0.0.1, remembers their PIDs and mount points in $T, and tears them down
# in teardown even when a test failed.  Loops are bounded.

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
ASTROFS=$ROOT/build/astrofs
SHARED=${ASTRO_SHARED:-$ROOT/../shared}
ST_USER=astro-tester
ST_PASS='s3cr3t-Pa55word!'
# No test sends anything to 169.254.169.254 (awscred.bats uses a loopback IMDS).
export AWS_EC2_METADATA_DISABLED=true

# A private scratch area per test file.
astro_tmp() {
	T=${T:-$(mktemp -d "${TMPDIR:-/tmp}/astrofs-bats.XXXXXX")}
	export T
}

require_fuse() {
	[ -c /dev/fuse ] || skip "/dev/fuse is not available"
	command -v fusermount3 >/dev/null || skip "fusermount3 is not installed"
}

# start_standin [args...]: run the stand-in (fixtures: $ST_DATA or the 2019 and
# 2022 files); sets ST_PORT, ST_URL.
start_standin() {
	astro_tmp
	local data=() files=("$SHARED/data/tle/spacetrack_3le_catalog_2019-12-19.3le"
		"$SHARED/data/tle/spacetrack_3le_2022-01-21_subset_crlf.3le")
	local synth=(--synthetic-day 2024-03-01:500)
	# ST_DATA: these fixture files (space-separated) and no synthetic day
	if [ -n "${ST_DATA:-}" ]; then
		read -r -a files <<<"$ST_DATA"
		synth=()
	fi
	for f in "${files[@]}"; do
		[ -f "$f" ] && data+=(--data "$f")
	done
	python3 "$ROOT/tests/standin/spacetrack.py" --port 0 --user "$ST_USER" \
		--password "$ST_PASS" "${data[@]}" "${synth[@]}" "$@" \
		>"$T/standin.out" 2>"$T/standin.err" &
	echo $! >"$T/standin.pid"
	for _ in $(seq 1 100); do
		grep -q '^listening on' "$T/standin.out" 2>/dev/null && break
		sleep 0.1
	done
	ST_PORT=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$T/standin.out")
	[ -n "$ST_PORT" ] || { cat "$T/standin.err" >&2; return 1; }
	ST_URL=http://127.0.0.1:$ST_PORT
	export ST_PORT ST_URL
}

stop_standin() {
	[ -f "$T/standin.pid" ] || return 0
	kill "$(cat "$T/standin.pid")" 2>/dev/null || true
	for _ in $(seq 1 50); do kill -0 "$(cat "$T/standin.pid")" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$(cat "$T/standin.pid")" 2>/dev/null || true
	rm -f "$T/standin.pid"
}

st_get() { curl -s --max-time 10 "$ST_URL/_test/$1"; }
st_post() { curl -s --max-time 10 -X POST -H 'Content-Type: application/json' --data "${2:-{\}}" "$ST_URL/_test/$1" >/dev/null; }
# st_count FIELD: one counter of the stand-in (logins, logouts, queries, requests, ...)
st_count() { st_get counters | jq -r ".$1"; }

write_creds() {
	printf 'identity = %s\npassword = %s\n' "${1:-$ST_USER}" "${2:-$ST_PASS}" >"$T/creds"
	chmod "${3:-600}" "$T/creds"
}

# mount_astrofs [-o extra]...: mount at $T/mnt against the stand-in; the
# daemon runs in the foreground (-f) in the background so its log is ours.
mount_astrofs() {
	astro_tmp
	mkdir -p "$T/mnt" "$T/cache"
	[ -f "$T/creds" ] || write_creds
	local opts="cache_dir=$T/cache,archive_dir=$T/archive,obs_store=$T/obs,spacetrack_url=$ST_URL,spacetrack_credentials=$T/creds,timeout=${ASTRO_TIMEOUT:-10}"
	[ -n "${1:-}" ] && opts="$opts,$1"
	astrofs_start "$opts"
}

# astrofs_start OPTIONS: mount at $T/mnt with exactly these options, log to
# $T/astrofs.log, PID in $T/astrofs.pid; waits (bounded) until it answers.
astrofs_start() {
	astrofs_start_at astrofs-test "$T/mnt" "$T/astrofs" "$1"
}

# astrofs_start_at NAME MNT BASE OPTIONS: the same at MNT, log BASE.log, PID
# in BASE.pid (for a second or third daemon).
astrofs_start_at() {
	mkdir -p "$2"
	"$ASTROFS" "$1" "$2" -f -o "$4" 2>>"$3.log" &
	echo $! >"$3.pid"
	for _ in $(seq 1 100); do
		[ -f "$2/.astrofs/version" ] && return 0
		kill -0 "$(cat "$3.pid")" 2>/dev/null || break
		sleep 0.1
	done
	cat "$3.log" >&2
	return 1
}

unmount_astrofs() {
	[ -n "${T:-}" ] || return 0
	unmount_at "$T/mnt" "$T/astrofs.pid"
}

# unmount_at MNT PIDFILE: unmount one daemon and wait (bounded) for it.
unmount_at() {
	if mountpoint -q "$1" 2>/dev/null; then
		fusermount3 -u "$1" 2>/dev/null || umount -l "$1" 2>/dev/null || true
	fi
	if [ -f "$2" ]; then
		local pid; pid=$(cat "$2")
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
		rm -f "$2"
	fi
}

# gcore_pid PID OUT: a core of a running process, as the kernel would write
# it (gcore honours MADV_DONTDUMP and coredump_filter); prints its path
gcore_pid() {
	command -v gcore >/dev/null || skip "gcore (gdb) is not installed"
	timeout 120 gcore -o "$2" "$1" >"$T/gcore.log" 2>&1
	ls "$2.$1"
}

cleanup_all() {
	unmount_astrofs
	stop_standin
	[ -n "${T:-}" ] && rm -rf "$T"
	unset T
}

# expected_day YYYY-MM-DD tle|3le: the day computed independently (Python)
# from the same data the stand-in serves.
expected_day() {
	python3 "$ROOT/tests/oracles/expected_day.py" "$1" "$2" \
		"$SHARED/data/tle/spacetrack_3le_catalog_2019-12-19.3le" \
		"$SHARED/data/tle/spacetrack_3le_2022-01-21_subset_crlf.3le"
}

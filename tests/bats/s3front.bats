#!/usr/bin/env bats
# The verifying S3 test server (tests/standin/s3/front.js) checked with requests
# signed by botocore (tests/standin/s3/front_check.py): good requests pass, every
# altered or mis-signed one is refused as S3 would, ranges follow RFC 7233.

S3DIR_REL=tests/standin/s3

setup_file() {
	cd "$BATS_TEST_DIRNAME/../.."
	export REPO=$PWD
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		export S3FRONT_SKIP="node/npm not installed"
		return 0
	fi
	PY=
	for p in /usr/bin/python3 python3; do
		if "$p" -c 'import botocore' 2>/dev/null; then PY=$p; break; fi
	done
	if [ -z "$PY" ]; then
		export S3FRONT_SKIP="python3-botocore not installed"
		return 0
	fi
	export PY
	export S3STATE="$BATS_FILE_TMPDIR/s3"
	rc=0
	S3_LATENCY_MS=0 "$REPO/$S3DIR_REL/s3server.sh" start "$S3STATE" || rc=$?
	if [ "$rc" -eq 77 ]; then
		export S3FRONT_SKIP="s3rver npm dependencies unavailable"
		return 0
	fi
	[ "$rc" -eq 0 ]
}

teardown_file() {
	[ -n "${S3STATE:-}" ] && "$REPO/$S3DIR_REL/s3server.sh" stop "$S3STATE" || true
}

setup() {
	[ -z "${S3FRONT_SKIP:-}" ] || skip "$S3FRONT_SKIP"
	set -a
	# shellcheck disable=SC1091
	source "$S3STATE/env"
	set +a
}

teardown() {
	# The latency and fast-path tests start their own; never leave them running.
	for d in lat slow; do
		if [ -f "$BATS_TEST_TMPDIR/$d/env" ]; then
			"$REPO/$S3DIR_REL/s3server.sh" stop "$BATS_TEST_TMPDIR/$d" || true
		fi
	done
}

run_check() {
	run "$PY" "$REPO/$S3DIR_REL/front_check.py" "$@"
	echo "$output"
	[ "$status" -eq 0 ]
	! grep -q '^FAIL' <<<"$output"
}

@test "s3front: signed requests pass; wrong secret, tampered Range/path/query, unsigned request-payer, wrong region, skew, unknown key are refused" {
	run_check auth
	grep -q '^ok   wrong secret' <<<"$output"
	grep -q '^ok   x-amz-request-payer added unsigned' <<<"$output"
}

@test "s3front: anonymous reads only on public buckets, never writes" {
	run_check anon
}

@test "s3front: ranges a-b, 0-0, suffix, open-ended, clamped end, 416 past the end" {
	run_check range
}

@test "s3front: ListObjectsV2 with odd keys, delimiter and continuation-token paging" {
	run_check list
}

@test "s3front: the request log records method, path, range, status and bytes" {
	run_check log
}

@test "s3front: --latency-ms is accepted, bad arguments are refused, SIGTERM exits cleanly" {
	d="$BATS_TEST_TMPDIR/lat"
	S3_AK=AKIDLAT S3_SK=seekrit S3_LATENCY_MS=5 "$REPO/$S3DIR_REL/s3server.sh" start "$d"
	source "$d/env"
	run curl -s -o /dev/null -w '%{http_code}' "$S3_ENDPOINT/pub/"
	[ "$output" = 200 ]
	pid=$S3_PID
	"$REPO/$S3DIR_REL/s3server.sh" stop "$d"
	! kill -0 "$pid" 2>/dev/null
	[ ! -s "$d/front.err" ]
	S3_DIR="$d" S3_AK=a S3_SK=b run node "$REPO/$S3DIR_REL/front.js" --bogus
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown argument --bogus"* ]]
}

@test "s3front: a plain GET/HEAD the front answers itself equals s3rver's answer; If-Match is honoured on both paths" {
	# Two fronts over one store: the fast path on, and off (S3_FAST=0).
	fast="$BATS_TEST_TMPDIR/lat" slow="$BATS_TEST_TMPDIR/slow"
	mkdir -p "$fast" "$slow"
	ln -s "$fast/data" "$slow/data"
	S3_AK=AKIDFAST S3_SK=seekrit S3_LATENCY_MS=0 "$REPO/$S3DIR_REL/s3server.sh" start "$fast"
	S3_AK=AKIDFAST S3_SK=seekrit S3_LATENCY_MS=0 S3_FAST=0 "$REPO/$S3DIR_REL/s3server.sh" start "$slow"
	set -a
	source "$fast/env"
	S3_SLOW_ENDPOINT=$(sed -n 's/^S3_ENDPOINT=//p' "$slow/env")
	set +a
	run "$PY" "$REPO/$S3DIR_REL/front_check.py" fast
	"$REPO/$S3DIR_REL/s3server.sh" stop "$slow"
	echo "$output"
	[ "$status" -eq 0 ]
	! grep -q '^FAIL' <<<"$output"
	[ "$(grep -c '^ok   fast: ' <<<"$output")" -ge 70 ]
	"$REPO/$S3DIR_REL/s3server.sh" stop "$fast"
	# The fast path did answer (not every case fell through to s3rver) ...
	n=$(sed -n 's/^\([0-9]*\) GET\/HEAD answered without s3rver$/\1/p' "$fast/front.out")
	echo "fast path answered $n"
	[ "$n" -ge 40 ]
	# ... and the other front never did.
	grep -qx '0 GET/HEAD answered without s3rver' "$slow/front.out"
}

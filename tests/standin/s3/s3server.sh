#!/bin/bash
# s3server.sh start DIR | stop DIR — the verifying S3 test server (front.js).
#
# start: runs front.js (s3rver 3.7.1 behind SigV4 verification) on a free
# 127.0.0.1 port with state in DIR, waits (bounded) until it listens, and
# writes DIR/env for `source`:
#   S3_ENDPOINT=http://127.0.0.1:PORT S3_PORT S3_AK S3_SK S3_REGION S3_LOG S3_PID
#   S3_BUCKETS S3_PUBLIC
# The caller may preset S3_AK S3_SK S3_BUCKETS S3_PUBLIC S3_REGION and
# S3_LATENCY_MS, S3_FAST (0: every request through s3rver) and
# S3_NODE_FLAGS (e.g. --cpu-prof); keys default to a fresh random pair.
# stop: SIGTERM, then SIGKILL after 5 s; leaves DIR (logs) in place.
# Exit 77 when node or the npm dependencies are unavailable (tests skip).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

case "$cmd" in
start)
	command -v node >/dev/null || { echo "s3server: node not installed" >&2; exit 77; }
	if [ ! -d "$here/node_modules/s3rver" ]; then
		command -v npm >/dev/null || { echo "s3server: npm not installed" >&2; exit 77; }
		npm ci --prefix "$here" --no-audit --no-fund --loglevel=error >&2 ||
			{ echo "s3server: npm ci failed" >&2; exit 77; }
	fi
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	rnd() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
	export S3_DIR="$dir"
	export S3_AK=${S3_AK:-AKIDASTRO$(rnd 6 | tr a-f A-F)}
	export S3_SK=${S3_SK:-$(rnd 20)}
	export S3_BUCKETS=${S3_BUCKETS:-astro,cache}
	export S3_PUBLIC=${S3_PUBLIC-pub}
	export S3_REGION=${S3_REGION:-us-east-1}
	export S3_LOG=${S3_LOG:-$dir/requests.log}
	export S3_PORT=0
	: > "$S3_LOG"
	: > "$dir/front.out"
	node --openssl-legacy-provider ${S3_NODE_FLAGS:-} "$here/front.js" --latency-ms "${S3_LATENCY_MS:-0}" \
		>"$dir/front.out" 2>"$dir/front.err" </dev/null &
	pid=$!
	port=
	for _ in $(seq 1 100); do	# up to 10 s
		port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$dir/front.out")
		[ -n "$port" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$port" ]; then
		echo "s3server: front.js did not start:" >&2
		cat "$dir/front.err" >&2
		kill "$pid" 2>/dev/null || true
		exit 1
	fi
	{
		echo "S3_ENDPOINT=http://127.0.0.1:$port"
		echo "S3_PORT=$port"
		echo "S3_AK=$S3_AK"
		echo "S3_SK=$S3_SK"
		echo "S3_REGION=$S3_REGION"
		echo "S3_BUCKETS=$S3_BUCKETS"
		echo "S3_PUBLIC=$S3_PUBLIC"
		echo "S3_LOG=$S3_LOG"
		echo "S3_PID=$pid"
	} > "$dir/env"
	chmod 600 "$dir/env"
	;;
stop)
	[ -f "$dir/env" ] || exit 0
	. "$here/../stop_pid.bash"
	stop_pid "$(sed -n 's/^S3_PID=//p' "$dir/env")"
	;;
*)
	echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac

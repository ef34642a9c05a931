#!/bin/bash
# standins.sh start DIR | stop DIR — dynalite (DynamoDB) and sqslite (SQS)
# from tests/standin/aws/node_modules on free 127.0.0.1 ports, for the aws /obs
# backend tests.
#
# start: waits (bounded) until both answer, writes DIR/env for `source`:
#   DDB_ENDPOINT SQS_ENDPOINT DDB_PID SQS_PID
# SQS_ENDPOINT names the host "localhost": sqslite only accepts QueueUrls of
# the form http://localhost:<port>/queues/<name> and builds them from the
# Host header (it still listens on 127.0.0.1 only).
# Known sqslite 2.1.1 quirks the backend works around or the tests avoid:
# CreateQueue on an existing queue empties it (the backend calls GetQueueUrl
# first); a received message never becomes visible again (no visibility
# timeout), so redelivery after a crash cannot be shown against it.
# stop: SIGTERM, then SIGKILL after 5 s, each by its recorded pid.
# Exit 77 when node or the npm packages are unavailable (tests skip).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

. "$here/../stop_pid.bash"

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# answers URL: any HTTP reply at all means it listens.
answers() { curl -s -o /dev/null --max-time 1 -w '%{http_code}' "$1" | grep -qv '^000$'; }

case "$cmd" in
start)
	command -v node >/dev/null || { echo "standins: node is not installed" >&2; exit 77; }
	for p in dynalite sqslite; do
		[ -x "$here/node_modules/.bin/$p" ] ||
			{ echo "standins: $p missing; run npm ci --prefix tests/standin/aws" >&2; exit 77; }
	done
	mkdir -p "$dir"
	dport=$(free_port); sport=$(free_port)
	"$here/node_modules/.bin/dynalite" --host 127.0.0.1 --port "$dport" --createTableMs 0 \
		>"$dir/dynalite.log" 2>&1 </dev/null &
	dpid=$!
	"$here/node_modules/.bin/sqslite" --host 127.0.0.1 --port "$sport" \
		>"$dir/sqslite.log" 2>&1 </dev/null &
	spid=$!
	ok=
	for _ in $(seq 1 100); do	# up to 10 s
		if answers "http://127.0.0.1:$dport/" && answers "http://127.0.0.1:$sport/"; then
			ok=1
			break
		fi
		sleep 0.1
	done
	if [ -z "$ok" ]; then
		echo "standins: did not start:" >&2
		cat "$dir/dynalite.log" "$dir/sqslite.log" >&2
		stop_pid "$dpid"; stop_pid "$spid"
		exit 1
	fi
	{
		echo "DDB_ENDPOINT=http://127.0.0.1:$dport"
		echo "SQS_ENDPOINT=http://localhost:$sport"
		echo "DDB_PID=$dpid"
		echo "SQS_PID=$spid"
	} >"$dir/env"
	;;
stop)
	[ -f "$dir/env" ] || exit 0
	stop_pid "$(sed -n 's/^DDB_PID=//p' "$dir/env")"
	stop_pid "$(sed -n 's/^SQS_PID=//p' "$dir/env")"
	;;
*)
	echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac

#!/bin/bash
# azurite.sh start DIR | stop DIR — Microsoft's Azure Storage emulator (Blob
# service only) for the /fits Azure tests.
#
# start: runs Azurite (npm, pinned in package-lock.json) on a free 127.0.0.1
# port with its state in DIR, waits (bounded) until it listens, and writes
# DIR/env for `source`:
#   AZ_PORT AZ_URL=http://127.0.0.1:PORT/devstoreaccount1 AZ_ACCOUNT AZ_KEY AZ_PID
# The account is Azurite's well-known development account; its key is
# public (Azurite's documentation) and only ever used on loopback.
# Azurite verifies Shared Key and SAS signatures.
# AZ_DEBUG=1 keeps Azurite's request log in DIR/debug.log.
# stop: SIGTERM, then SIGKILL after 5 s; leaves DIR (logs) in place.
# Exit 77 when node or the npm dependencies are unavailable (tests skip).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
main=$here/node_modules/azurite/dist/src/blob/main.js

case "$cmd" in
start)
	command -v node >/dev/null || { echo "azurite: node not installed" >&2; exit 77; }
	if [ ! -f "$main" ]; then
		command -v npm >/dev/null || { echo "azurite: npm not installed" >&2; exit 77; }
		npm ci --prefix "$here" --no-audit --no-fund --loglevel=error >&2 ||
			{ echo "azurite: npm ci failed" >&2; exit 77; }
	fi
	mkdir -p "$dir/data"
	dir=$(cd "$dir" && pwd)
	(cd "$dir" && exec node "$main" --blobHost 127.0.0.1 --blobPort 0 -l "$dir/data" \
		--disableTelemetry --skipApiVersionCheck ${AZ_DEBUG:+--debug "$dir/debug.log"} \
		>"$dir/azurite.out" 2>"$dir/azurite.err" </dev/null) &
	pid=$!
	port=
	for _ in $(seq 1 150); do	# up to 15 s
		port=$(sed -n 's|.*successfully listens on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$dir/azurite.out")
		[ -n "$port" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$port" ]; then
		echo "azurite: did not start:" >&2
		cat "$dir/azurite.out" "$dir/azurite.err" >&2
		kill "$pid" 2>/dev/null || true
		exit 1
	fi
	{
		echo "AZ_PORT=$port"
		echo "AZ_URL=http://127.0.0.1:$port/devstoreaccount1"
		echo "AZ_ACCOUNT=devstoreaccount1"
		echo "AZ_KEY=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
		echo "AZ_PID=$pid"
	} > "$dir/env"
	chmod 600 "$dir/env"
	;;
stop)
	[ -f "$dir/env" ] || exit 0
	. "$here/../stop_pid.bash"
	stop_pid "$(sed -n 's/^AZ_PID=//p' "$dir/env")"
	;;
*)
	echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac

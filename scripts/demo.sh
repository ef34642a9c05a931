#!/bin/bash
# make demo / make demo-stop: local stand-ins with sample data, a mount at
# ./mnt, and a list of things to try.  State lives in ./.demo; everything
# started is recorded there by PID and stopped by `demo.sh stop`.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
D=$ROOT/.demo
MNT=$ROOT/mnt
SHARED=${ASTRO_SHARED:-$(cd .. && pwd)/shared}

stop() {
	if mountpoint -q "$MNT" 2>/dev/null; then
		fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
	fi
	if [ -f "$D/pids" ]; then
		while read -r pid; do
			kill "$pid" 2>/dev/null || true
		done <"$D/pids"
		sleep 0.5
		while read -r pid; do
			kill -9 "$pid" 2>/dev/null || true
		done <"$D/pids"
		rm -f "$D/pids"
	fi
	echo "demo stopped; ./mnt unmounted"
}

start() {
	stop >/dev/null 2>&1
	mkdir -p "$D" "$MNT"
	: >"$D/pids"

	# space-track stand-in with the shared catalogues, or a synthetic day.
	local data=() day=2024/03/01
	if [ -f "$SHARED/data/tle/spacetrack_3le_catalog_2019-12-19.3le" ]; then
		data=(--data "$SHARED/data/tle/spacetrack_3le_catalog_2019-12-19.3le")
		day=2019/12/18
	fi
	python3 tests/standin/spacetrack.py --port 0 --user demo --password demo-password \
		"${data[@]}" --synthetic-day 2024-03-01:2000 >"$D/standin.out" 2>"$D/standin.err" &
	echo $! >>"$D/pids"
	for _ in $(seq 1 100); do grep -q '^listening' "$D/standin.out" 2>/dev/null && break; sleep 0.1; done
	local port
	port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$D/standin.out")
	if [ -z "$port" ]; then
		echo "demo: the space-track stand-in did not start:" >&2
		cat "$D/standin.err" >&2
		stop
		return 1
	fi
	# Telemetry: the JWST engineering samples when present, else a made-up
	# day of a 1 Hz temperature, ingested like any operator would.
	if [ -d "$SHARED/data/telemetry/jwst_edb/engdb_2021_groundtest" ]; then
		build/astrofs-ingest --quiet --archive "$D/archive" \
			"$SHARED"/data/telemetry/jwst_edb/engdb_2021_groundtest/*.json || true
	fi
	awk 'BEGIN { print "msid,time,value"; for (i = 0; i < 86400; i += 10)
		printf "DEMO_TEMP,2024-03-01T%02d:%02d:%02dZ,%.3f\n", i/3600, (i/60)%60, i%60, 20 + 5*sin(i/8000.0) }' \
		>"$D/demo_temp.csv"
	build/astrofs-ingest --quiet --archive "$D/archive" "$D/demo_temp.csv" || true

	# A simulated observatory site, sharing the local store with the mount.
	cat >"$D/sites.yml" <<YML
Sites:
  demo:
    name: Demo Hill
    lat: -30.2446
    lng: -70.7494
    elevation: 2662.75
    tz: America/Santiago
YML
	build/astrofs-obssim --config "$D/sites.yml" --store "$D/obs" --time-scale 0.1 \
		>"$D/obssim.log" 2>&1 &
	echo $! >>"$D/pids"

	printf 'identity = demo\npassword = demo-password\n' >"$D/spacetrack.cred"
	chmod 600 "$D/spacetrack.cred"
	cat >"$D/astrofs.conf" <<CONF
# astrofs demo configuration (make demo)
cache_dir = $D/cache
spacetrack_url = http://127.0.0.1:$port
spacetrack_credentials = $D/spacetrack.cred
timeout = 20
archive_dir = $D/archive
obs_config = $D/sites.yml
obs_store = $D/obs
CONF

	if ! build/astrofs demo "$MNT" -o "config=$D/astrofs.conf"; then
		stop
		return 1
	fi
	pgrep -f "build/astrofs demo $MNT" >>"$D/pids" || true

	cat <<TXT

astrofs is mounted at ./mnt against local stand-ins (config: .demo/astrofs.conf).
Try:
  ls mnt mnt/tle/${day%/*}                 # listing costs no upstream request
  head -3 mnt/tle/$day.3le              # first read: one query to the stand-in
  wc -l mnt/tle/$day.tle                # cached now: no request
  grep -c '^1 ' mnt/tle/$day.tle
  ls -l mnt/tle/${day%/*}                # exact sizes for cached days
  cat mnt/.astrofs/stats                  # requests, cache hits, limiter
  cat mnt/.astrofs/config                 # effective options, secrets masked
  python3 -c "print(open('mnt/tle/$day.tle').read()[:140])"

  cat mnt/telemetry/INDEX.csv             # the telemetry archive
  head mnt/telemetry/DEMO_TEMP.csv; tail -3 mnt/telemetry/DEMO_TEMP.csv
  cat mnt/telemetry/DEMO_TEMP.daily.csv   # cheta-style daily statistics
  head mnt/telemetry/DEMO_TEMP@2024:061:06:00..2024:061:07:00.5min.csv
  xdg-open mnt/telemetry/DEMO_TEMP.svg    # a plot, in any browser

  cat mnt/obs/sites                       # simulated site "demo"
  exec 5<>mnt/obs/demo/command; printf 'unpark\nexpose 2\n' >&5; cat <&5; exec 5>&-
  cat mnt/obs/demo/jobs/<id>              # QUEUED ... COMPLETE
  ls -l mnt/obs/demo/images/; cat mnt/obs/demo/status

Stop with: make demo-stop$( [ -t 0 ] && echo " (or Ctrl-C here)")
TXT
	if [ -t 0 ]; then
		trap 'echo; stop; exit 0' INT TERM
		while mountpoint -q "$MNT"; do sleep 1; done
		stop
	fi
}

case "${1:-start}" in
start) start ;;
stop) stop ;;
*) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

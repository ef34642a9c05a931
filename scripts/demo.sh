#!/bin/bash
# make demo / make demo-stop: local stand-ins with sample data, a mount at
# ./mnt, and a list of things to try.  State lives in ./.demo; everything
# started is recorded there by PID and stopped by `demo.sh stop`.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
D=$ROOT/.demo
MNT=$ROOT/mnt
RMNT=$ROOT/mnt-remote
SHARED=${ASTRO_SHARED:-$(cd .. && pwd)/shared}

stop() {
	for m in "$RMNT" "$MNT"; do
		if mountpoint -q "$m" 2>/dev/null; then
			fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
		fi
	done
	[ -f "$D/s3/env" ] && tests/standin/s3/s3server.sh stop "$D/s3" >/dev/null 2>&1
	[ -f "$D/azurite/env" ] && tests/standin/azurite/azurite.sh stop "$D/azurite" >/dev/null 2>&1
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
	echo "demo stopped; ./mnt and ./mnt-remote unmounted"
}

start() {
	stop >/dev/null 2>&1
	mkdir -p "$D" "$MNT" "$RMNT"
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
		build/astrofs-ingest --quiet --create --archive "$D/archive" \
			"$SHARED"/data/telemetry/jwst_edb/engdb_2021_groundtest/*.json || true
	fi
	awk 'BEGIN { print "msid,time,value"; for (i = 0; i < 86400; i += 10)
		printf "DEMO_TEMP,2024-03-01T%02d:%02d:%02dZ,%.3f\n", i/3600, (i/60)%60, i%60, 20 + 5*sin(i/8000.0) }' \
		>"$D/demo_temp.csv"
	build/astrofs-ingest --quiet --create --archive "$D/archive" "$D/demo_temp.csv" || true

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

	# FITS in S3: a verifying S3 stand-in with a few real files (when
	# ../shared is here), a sparse 44 GB TESS-like cube and 100 small files.
	local fits_conf=""
	if command -v node >/dev/null && [ -d tests/standin/s3/node_modules ]; then
		rm -rf "$D/s3"
		mkdir -p "$D/s3"
		if S3_BUCKETS=astro S3_PUBLIC= tests/standin/s3/s3server.sh start "$D/s3" >/dev/null 2>&1; then
			set -a; . "$D/s3/env"; set +a
			if [ -d "$SHARED/data/fits/astropy" ]; then
				/usr/bin/python3 tests/standin/s3/s3put.py astro \
					"hst/o4sp040b0_raw.fits=$SHARED/data/fits/astropy/o4sp040b0_raw.fits" \
					"image/HorseHead.fits=$SHARED/data/fits/astropy-data/HorseHead.fits" >/dev/null 2>&1
			fi
			/usr/bin/python3 tests/data/mkstore.py cube "$D/s3/data" astro tess/cube.fits >/dev/null 2>&1
			/usr/bin/python3 tests/data/mkstore.py many "$D/s3/data" astro survey 100 >/dev/null 2>&1
			printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$S3_AK" "$S3_SK" >"$D/s3.cred"
			chmod 600 "$D/s3.cred"
			fits_conf="fits_buckets = astro
s3_endpoint = $S3_ENDPOINT
s3_region = $S3_REGION
s3_credentials = $D/s3.cred"
		fi
	fi
	# FITS in an Azure container: Azurite (Microsoft's emulator) loaded with
	# Microsoft's SDK, read with the account key (Shared Key).
	local az_conf=""
	if command -v node >/dev/null && [ -d tests/standin/azurite/node_modules ] &&
	   [ -d "$SHARED/data/fits/astropy" ] &&
	   /usr/bin/python3 -c 'import azure.storage.blob' 2>/dev/null; then
		rm -rf "$D/azurite"
		if tests/standin/azurite/azurite.sh start "$D/azurite" >/dev/null 2>&1; then
			local az="/usr/bin/python3 tests/standin/azurite/azload.py $D/azurite/env"
			$az container survey >/dev/null 2>&1
			$az put survey hst/o4sp040b0_raw.fits "$SHARED/data/fits/astropy/o4sp040b0_raw.fits" >/dev/null 2>&1
			$az put survey image/HorseHead.fits "$SHARED/data/fits/astropy-data/HorseHead.fits" >/dev/null 2>&1
			(. "$D/azurite/env"; printf 'azure.key = %s\n' "$AZ_KEY" >"$D/azure.cred")
			chmod 600 "$D/azure.cred"
			az_conf="fits_azure = azure=$(sed -n 's/^AZ_URL=//p' "$D/azurite/env")/survey
fits_azure_credentials = $D/azure.cred"
		fi
	fi
	local sat_conf=""
	[ -f "$SHARED/data/tle/spacetrack_3le_catalog_2019-12-19.3le" ] &&
		sat_conf="satfilter_catalog = $SHARED/data/tle/spacetrack_3le_catalog_2019-12-19.3le"

	# the archive over HTTP, with a token, for a second "machine" (mnt-remote)
	local tport
	tport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	printf 'demo-archive-key\n' >"$D/archive.tokens"
	chmod 600 "$D/archive.tokens"

	printf 'identity = demo\npassword = demo-password\n' >"$D/spacetrack.cred"
	chmod 600 "$D/spacetrack.cred"
	cat >"$D/astrofs.conf" <<CONF
# astrofs demo configuration (make demo)
cache_dir = $D/cache
spacetrack_url = http://127.0.0.1:$port
spacetrack_credentials = $D/spacetrack.cred
timeout = 20
archive_dir = $D/archive
telemetry_listen = 127.0.0.1:$tport
telemetry_token = $D/archive.tokens
obs_config = $D/sites.yml
obs_store = $D/obs
$fits_conf
$az_conf
$sat_conf
CONF

	if ! build/astrofs demo "$MNT" -o "config=$D/astrofs.conf"; then
		stop
		return 1
	fi
	pgrep -f "build/astrofs demo $MNT" >>"$D/pids" || true
	# another machine's view of the same archive: /telemetry over HTTP
	if AWS_EC2_METADATA_DISABLED=true build/astrofs demo-remote "$RMNT" -o "cache_dir=$D/cache-remote,archive_dir=$D/archive-remote,obs_store=$D/obs-remote,spacetrack_url=http://127.0.0.1:$port,spacetrack_credentials=$D/spacetrack.cred,archive_url=http://127.0.0.1:$tport,archive_token=$D/archive.tokens,timeout=20" 2>>"$D/remote.log"; then
		pgrep -f "build/astrofs demo-remote $RMNT" >>"$D/pids" || true
	fi

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
  cmp mnt/telemetry/DEMO_TEMP.csv mnt-remote/telemetry/DEMO_TEMP.csv   # over HTTP
  curl -H 'Authorization: Token demo-archive-key' -r 0-99 \
    'http://127.0.0.1:$tport/telemetry/DEMO_TEMP@2024:061..2024:062.csv'
  curl -H 'Authorization: Token demo-archive-key' \
    'http://127.0.0.1:$tport/api/v1/fetch/stats?msid=DEMO_TEMP&interval=daily'   # RAVEN's API

  ls mnt/fits/astro mnt/fits/astro/tess    # S3 prefixes and FITS objects
  cat mnt/fits/astro/tess/cube.fits/hdus.csv      # a 44 GB cube: headers only
  cat mnt/fits/astro/tess/cube.fits/headers/1 | head
  cat mnt/fits/astro/hst/o4sp040b0_raw.fits/headers/1
  /usr/bin/python3 -c "from astropy.io import fits; print(fits.open('mnt/fits/astro/image/HorseHead.fits/raw').info())"
  grep -A6 '"s3"' mnt/.astrofs/stats       # GETs and bytes for all that
  ls mnt/fits/azure/hst                    # an Azure container (Azurite), same tree
  cat mnt/fits/azure/image/HorseHead.fits/hdus.csv

  exec 6<>mnt/satfilter                   # satellite filter (2019-12 catalogue)
  echo '{"visit_id": 7, "exposure_start_mjd": 58836.10, "exposure_end_mjd": 58836.1004, "boresight_ra": 53.0, "boresight_dec": -28.0}' >&6
  echo '{"visit_id": 7, "detector_id": 1, "diasources": [{"diasource_id": 1, "bbox": [[53.0,-28.0],[53.001,-28.0],[53.001,-28.001],[53.0,-28.001]]}]}' >&6
  cat <&6; exec 6>&-

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

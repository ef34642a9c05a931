#!/bin/bash
# The satellite filter's latencies on one core: a visit against a
# 30,000-object catalogue (the shared 2019-12-19 catalogue, 18.5 k objects,
# grown with copies on the same orbits at other anomalies), a repeat of a
# cached visit, and a 10,000-source DIASource request (JSON reading and
# answer writing included) on one field (median of 7) and on every visit's
# field (the slowest: fields differ in how many tracks cross them), a
# historical visit whose 7 days of element sets are cached (the first parses
# them, later ones find them parsed: the goal is on these), and DIASource
# requests per second through the HTTPS listener with keep-alive (a mount
# with satfilter_listen, satfilter_tls_cert/key from openssl and
# satfilter_token, on loopback; wrk with 2 threads and 16 connections PUTs
# one detector's 36 boxes to /diasource_allow_list for 10 s).
# Goals (issues 5, 13): visit < 50 ms with 30,000 objects, historical visit
# (cached days) < 100 ms, 10,000-source batch < 10 ms, >= 2,000 DIASource
# requests/s.  Figures only: nothing here fails on a number.
#
#   bench/satfilter.sh [TLE_FILE] [OBJECTS] [SOURCES]
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${ASTRO_SHARED:-$(cd .. && pwd)/shared}
FILE=${1:-$SHARED/data/tle/spacetrack_3le_catalog_2019-12-19.3le}
[ -r "$FILE" ] || { echo "satfilter.sh: $FILE not readable" >&2; exit 1; }
make -s build/astrofs-satfilter-bench build/astrofs
# The machines are shared VMs whose speed shifts by a third from one
# process to the next (every figure of a run moves together), so the bench
# runs 3 times and each goal is judged on the median run.
run() {
	taskset -c 0 build/astrofs-satfilter-bench "$FILE" --objects "${2:-30000}" \
		--sources "${3:-10000}" --visits 20 2>&1 ||
		build/astrofs-satfilter-bench "$FILE" --objects "${2:-30000}" \
			--sources "${3:-10000}" --visits 20
}
results=()
for i in 1 2 3; do
	out=$(run "$@")
	[ "$i" = 1 ] && echo "$out" | grep -v '^RESULT'
	results+=("$(echo "$out" | grep '^RESULT')")
done
# median of the three runs of one RESULT field
med() {
	printf '%s\n' "${results[@]}" | sed -n "s/.* $1=\([0-9.]*\).*/\1/p" | sort -g | sed -n 2p
}
v=$(med visit_median_ms)
b=$(med batch_ms)
w=$(med batch_worst_ms)
h=$(med historical_ms)
echo "runs (visit median / batch / slowest field / historical visit, ms):"
printf '%s\n' "${results[@]}" | sed -n 's/.*visit_median_ms=\([0-9.]*\).*batch_ms=\([0-9.]*\) batch_worst_ms=\([0-9.]*\) historical_ms=\([0-9.]*\).*/  \1 \/ \2 \/ \3 \/ \4/p'
met() { (( $(echo "$1" | bc -l) )) && echo met || echo missed; }
printf 'goal (median of 3 runs): visit < 50 ms: %s (%.1f ms); 10,000-source batch < 10 ms: %s (%.1f ms; slowest field %s, %.1f ms)\n' \
	"$(met "$v < 50")" "$v" "$(met "$b < 10")" "$b" "$(met "$w < 10")" "$w"
printf 'goal (median of 3 runs): historical visit, cached days, < 100 ms: %s (%.1f ms; the first, parsing the days: %.1f ms)\n' \
	"$(met "$h < 100")" "$h" "$(med historical_cold_ms)"

# DIASource requests per second through HTTPS with keep-alive.
if ! command -v wrk >/dev/null || ! command -v openssl >/dev/null || [ ! -e /dev/fuse ]; then
	echo "HTTPS requests/s: skipped (needs wrk, openssl and /dev/fuse)"
	exit 0
fi
H=$(mktemp -d "${TMPDIR:-/tmp}/astrofs-satbench.XXXXXX")
APID=
stop_listener() {
	mountpoint -q "$H/mnt" 2>/dev/null && fusermount3 -u "$H/mnt"
	if [ -n "$APID" ]; then
		for _ in $(seq 1 100); do kill -0 "$APID" 2>/dev/null || break; sleep 0.1; done
		kill "$APID" 2>/dev/null || true
	fi
	rm -rf "$H"
}
trap stop_listener EXIT
mkdir -p "$H/mnt" "$H/cache" "$H/archive"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$H/key.pem" -out "$H/cert.pem" 2>/dev/null
(umask 077; head -c 24 /dev/urandom | base64 >"$H/token")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
build/astrofs satbench "$H/mnt" -f -o "cache_dir=$H/cache,archive_dir=$H/archive,satfilter_catalog=$FILE,satfilter_listen=127.0.0.1:$port,satfilter_tls_cert=$H/cert.pem,satfilter_tls_key=$H/key.pem,satfilter_token=$H/token" 2>"$H/astrofs.log" &
APID=$!
URL=https://127.0.0.1:$port
AUTH="Authorization: Bearer $(cat "$H/token")"
for _ in $(seq 1 300); do
	curl -s --cacert "$H/cert.pem" -H "$AUTH" -o /dev/null -w '%{http_code}' "$URL/health" 2>/dev/null | grep -q 200 && break
	kill -0 "$APID" 2>/dev/null || break
	sleep 0.1
done
# the visit of tests/bats/satfilter_http.bats, 10 minutes over the field,
# and one detector's sources as the pipeline's client sends them: 6 x 6
# boxes of 0.01 deg
visit='{"visit_id": 2019121900011, "exposure_start_mjd": 58836.30, "exposure_end_mjd": 58836.30694, "boresight_ra": 53.0, "boresight_dec": -27.9}'
sources=$(python3 -c '
import json
s = [{"diasource_id": 100 * i + j, "bbox": [[53 + i * .02, -28 + j * .02], [53.01 + i * .02, -28 + j * .02],
     [53.01 + i * .02, -27.99 + j * .02], [53 + i * .02, -27.99 + j * .02]]} for i in range(6) for j in range(6)]
print(json.dumps({"visit_id": 2019121900011, "detector_id": 8, "diasources": s}))')
code=$(curl -s --cacert "$H/cert.pem" -H "$AUTH" -H 'Content-Type: application/json' -X PUT \
	--data-binary "$visit" -o /dev/null -w '%{http_code}' "$URL/visit_cache" || true)
if [ "$code" != 200 ]; then
	echo "HTTPS requests/s: the listener did not take the visit ($code)"
	tail -5 "$H/astrofs.log"
	exit 0
fi
# what every timed request gets: 200 and an allow list (the token and TLS
# are checked, so a refusal would show here and as non-2xx below)
allowed=$(curl -s --cacert "$H/cert.pem" -H "$AUTH" -H 'Content-Type: application/json' -X PUT \
	--data-binary "$sources" -w ' %{http_code}' "$URL/diasource_allow_list" |
	python3 -c 'import json, sys; b, c = sys.stdin.read().rsplit(" ", 1); print(c, len(json.loads(b)["allow_list"]))' || true)
echo "  one request: HTTP ${allowed% *}, ${allowed#* } of 36 sources allowed"
lua_str() { python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; }
cat >"$H/put.lua" <<LUA
wrk.method = "PUT"
wrk.body = $(lua_str "$sources")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = $(lua_str "Bearer $(cat "$H/token")")
done = function(summary, latency, requests)
	io.write(string.format("RPS %.0f non2xx %d errors %d p99_ms %.2f\\n", summary.requests / (summary.duration / 1e6),
		summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
		latency:percentile(99) / 1e3))
end
LUA
out=$(wrk -t2 -c16 -d10s -s "$H/put.lua" "$URL/diasource_allow_list" 2>&1)
r=$(echo "$out" | sed -n 's/^RPS \([0-9]*\).*/\1/p')
echo "$out" | grep -E 'Latency|Requests/sec|Socket errors|Non-2xx' | sed 's/^/  /' || true
echo "$out" | grep '^RPS' | sed 's/^RPS \([0-9]*\) non2xx \([0-9]*\) errors \([0-9]*\) p99_ms \(.*\)/  HTTPS keep-alive (2 threads, 16 connections, 36 boxes a request): \1 requests\/s, p99 \4 ms, \2 non-2xx, \3 socket errors/' || true
printf 'goal: >= 2,000 DIASource requests/s through HTTPS with keep-alive: %s (%s requests/s)\n' \
	"$(met "${r:-0} >= 2000")" "${r:-0}"

#!/usr/bin/env bats
# The satfilter HTTP(S) listener as Rubin's pipeline meets it (issue 13):
# routing and status codes as sattle's, /health, HTTPS with a bearer token
# and an allow list, a burst of 189 detectors beside idle connections, and
# two replicas behind Debian's nginx with one killed mid-run.

load lib

CAT="$SHARED/data/tle/spacetrack_3le_catalog_2019-12-19.3le"
VISIT='{"visit_id": 2019121900001, "exposure_start_mjd": 58836.3, "exposure_end_mjd": 58836.30035, "boresight_ra": 53.0, "boresight_dec": -27.9}'
SOURCES='{"visit_id": 2019121900001, "detector_id": 8, "diasources": [{"diasource_id": 4567, "bbox": [[53,-28],[53.001,-28],[53,-28.001],[53.001,-28.001]]}]}'
# two 10-minute visits (long enough that tracks cross every field)
VISITS='[{"visit_id": 2019121900011, "exposure_start_mjd": 58836.30, "exposure_end_mjd": 58836.30694, "boresight_ra": 53.0, "boresight_dec": -27.9},
 {"visit_id": 2019121900012, "exposure_start_mjd": 58836.32, "exposure_end_mjd": 58836.32694, "boresight_ra": 150.0, "boresight_dec": 2.2}]'
PY=/usr/bin/python3

setup() {
	require_fuse
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	[ -f "$CAT" ] || skip "../shared/data/tle is not present"
	command -v jq >/dev/null || skip "jq is not installed"
	astro_tmp
	start_standin
	mkdir -p "$T/tmp" "$T/archive"
	export TMPDIR="$T/tmp"
	echo "$VISITS" >"$T/visits.json"
}

teardown() {
	if [ -n "${T:-}" ] && [ -f "$T/nginx/nginx.pid" ]; then
		kill "$(cat "$T/nginx/nginx.pid")" 2>/dev/null || true
		for _ in $(seq 1 50); do [ -f "$T/nginx/nginx.pid" ] || break; sleep 0.1; done
	fi
	stop_second
	cleanup_all
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# code METHOD URL [BODY_FILE] [curl args...]: the status; the body in $T/body
code() {
	local m=$1 u=$2 f=${3:-}
	shift 3 || shift $#
	curl -s --max-time 30 -o "$T/body" -w '%{http_code}' -X "$m" ${f:+--data-binary @"$f"} "$@" "$u"
}

# A second astrofs (the other replica) at $T/mnt2, PID in $T/astrofs2.pid.
start_second() {
	mkdir -p "$T/mnt2" "$T/cache2" "$T/archive2"
	"$ASTROFS" astrofs-test2 "$T/mnt2" -f -o "cache_dir=$T/cache2,archive_dir=$T/archive2,obs_store=$T/obs2,spacetrack_url=$ST_URL,spacetrack_credentials=$T/creds,$1" 2>>"$T/astrofs2.log" &
	echo $! >"$T/astrofs2.pid"
	for _ in $(seq 1 100); do
		[ -f "$T/mnt2/.astrofs/version" ] && return 0
		sleep 0.1
	done
	cat "$T/astrofs2.log" >&2
	return 1
}

stop_second() {
	[ -n "${T:-}" ] || return 0
	# a SIGKILLed replica leaves a dead mount that mountpoint(1) cannot stat
	if grep -qF " $T/mnt2 " /proc/mounts; then
		fusermount3 -u -z "$T/mnt2" 2>/dev/null || umount -l "$T/mnt2" 2>/dev/null || true
	fi
	if [ -f "$T/astrofs2.pid" ]; then
		local pid; pid=$(cat "$T/astrofs2.pid")
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
		rm -f "$T/astrofs2.pid"
	fi
}

# A stale mount of a SIGKILLed replica is lazily detached by the helpers.
wait_http() {
	for _ in $(seq 1 100); do
		[ "$(curl -s -k --max-time 5 -o /dev/null -w '%{http_code}' "$@")" != 000 ] && return 0
		sleep 0.1
	done
	return 1
}

make_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
		-keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
}

@test "satfilter_http: status codes by path, as sattle's (data-driven), and GET /health" {
	port=$(free_port)
	mount_astrofs "satfilter_catalog=$CAT,archive_dir=$T/archive,satfilter_listen=127.0.0.1:$port"
	url=http://127.0.0.1:$port
	echo "$VISIT" >"$T/b_visit"
	echo "$SOURCES" >"$T/b_sources"
	echo '{"visit_id": 99, "detector_id": 2, "diasources": []}' >"$T/b_unknown"
	echo '{"visit_id":' >"$T/b_malformed"
	head -c $((16 * 1024 * 1024 + 10)) /dev/zero | tr '\0' ' ' >"$T/b_big"
	: >"$T/b_-"
	n=0
	while read -r method path body want msg; do
		[ -z "$method" ] || [ "${method:0:1}" = "#" ] && continue
		if [ "$body" = - ]; then got=$(code "$method" "$url$path"); else got=$(code "$method" "$url$path" "$T/b_$body"); fi
		[ "$got" = "$want" ] || { echo "$method $path $body: $got, expected $want: $(cat "$T/body")"; false; }
		if [ "$want" != 200 ]; then
			[ "$(jq -c .allow_list "$T/body")" = "[]" ] || { echo "$method $path $body: not fail-safe: $(cat "$T/body")"; false; }
			[ -z "$msg" ] || jq -r .error "$T/body" | grep -qF "$msg" ||
				{ echo "$method $path $body: error '$(jq -r .error "$T/body")' lacks '$msg'"; false; }
		fi
		n=$((n + 1))
	done <"$ROOT/tests/data/satfilter_status_codes.txt"
	[ "$n" -ge 14 ]
	# /health: the catalogue's age and size class only
	[ "$(code GET "$url/health")" = 200 ]
	[ "$(jq -c 'keys' "$T/body")" = '["catalogue_age_s","catalogue_objects","status"]' ]
	[ "$(jq -r .catalogue_objects "$T/body")" = 10000-99999 ]
	[ "$(jq -r .catalogue_age_s "$T/body")" -lt 600 ]
}

@test "satfilter_http: 189 detectors at once beside 40 idle connections, five rounds, all answered" {
	port=$(free_port)
	mount_astrofs "satfilter_catalog=$CAT,archive_dir=$T/archive,satfilter_listen=127.0.0.1:$port"
	[ "$(code PUT "http://127.0.0.1:$port/visit_cache" <(echo "$VISIT"))" = 200 ]
	run timeout 240 python3 "$ROOT/tests/lib/burst.py" "$port" "$VISIT" "$SOURCES" 5
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"served 945 of 945"* ]]
	[[ "$output" == *"idle_held 40"* ]]
}

@test "satfilter_http: HTTPS with a bearer token (401 without), an allow list (403 outside), the pipeline's client exact" {
	make_cert
	printf 's3cret-%s\n' "$RANDOM$RANDOM" >"$T/token"
	chmod 600 "$T/token"
	p1=$(free_port)
	# the reference: the pipeline's client over plain HTTP, no token
	mount_astrofs "satfilter_catalog=$CAT,archive_dir=$T/archive,satfilter_listen=127.0.0.1:$p1"
	run timeout 300 "$PY" "$ROOT/tests/lib/pipeline_client.py" "http://127.0.0.1:$p1" "$T/visits.json" "$T/ref" --detectors 60
	echo "$output"
	[ "$status" -eq 0 ]
	unmount_astrofs
	p2=$(free_port)
	mount_astrofs "satfilter_catalog=$CAT,archive_dir=$T/archive,satfilter_listen=127.0.0.1:$p2,satfilter_tls_cert=$T/cert.pem,satfilter_tls_key=$T/key.pem,satfilter_token=$T/token,satfilter_allow=10.0.0.0/8;127.0.0.0/8;::1"
	url=https://127.0.0.1:$p2
	echo "$VISIT" >"$T/b_visit"
	[ "$(code PUT "$url/visit_cache" "$T/b_visit" --cacert "$T/cert.pem")" = 401 ]
	[ "$(jq -c .allow_list "$T/body")" = "[]" ]
	[ "$(code PUT "$url/visit_cache" "$T/b_visit" --cacert "$T/cert.pem" -H "Authorization: Bearer wrong")" = 401 ]
	[ "$(code PUT "$url/visit_cache" "$T/b_visit" --cacert "$T/cert.pem" -H "Authorization: Bearer $(head -1 "$T/token")x")" = 401 ]
	[ "$(code PUT "$url/visit_cache" "$T/b_visit" --cacert "$T/cert.pem" -H "Authorization: Bearer $(head -1 "$T/token")")" = 200 ]
	# plain HTTP on the HTTPS port gets no answer
	[ "$(code PUT "http://127.0.0.1:$p2/visit_cache" "$T/b_visit")" = 000 ]
	# the pipeline's client through HTTPS with the token: the same allow lists
	run timeout 300 "$PY" "$ROOT/tests/lib/pipeline_client.py" "$url" "$T/visits.json" "$T/tls" --detectors 60 --token "$T/token" --cacert "$T/cert.pem"
	echo "$output"
	[ "$status" -eq 0 ]
	cmp "$T/ref" "$T/tls"
	# some sources were rejected, or the comparison proves little
	[[ "$output" != *"sources_allowed 4320 of 4320"* ]]
	unmount_astrofs
	# a source outside the allow list: 403, even with the token
	p3=$(free_port)
	mount_astrofs "satfilter_catalog=$CAT,archive_dir=$T/archive,satfilter_listen=127.0.0.1:$p3,satfilter_token=$T/token,satfilter_allow=10.0.0.0/8;::1"
	[ "$(code PUT "http://127.0.0.1:$p3/visit_cache" "$T/b_visit" -H "Authorization: Bearer $(head -1 "$T/token")")" = 403 ]
	[ "$(jq -c .allow_list "$T/body")" = "[]" ]
	unmount_astrofs
	# a token file others can read is refused at mount time, naming it
	chmod 644 "$T/token"
	run "$ASTROFS" x "$T/mnt" -f -o "cache_dir=$T/cache,archive_dir=$T/archive,satfilter_catalog=$CAT,satfilter_listen=127.0.0.1:$p3,satfilter_token=$T/token"
	[ "$status" -ne 0 ]
	[[ "$output" == *satfilter_token*"chmod 600"* ]]
	! mountpoint -q "$T/mnt"
}

@test "satfilter_http: two replicas behind nginx round-robin, one killed mid-run: every detector gets the exact allow list" {
	command -v nginx >/dev/null || skip "nginx is not installed"
	pa=$(free_port)
	pb=$(free_port)
	pn=$(free_port)
	mount_astrofs "satfilter_catalog=$CAT,archive_dir=$T/archive,satfilter_listen=127.0.0.1:$pa"
	# the reference: the pipeline's client against replica A alone
	run timeout 300 "$PY" "$ROOT/tests/lib/pipeline_client.py" "http://127.0.0.1:$pa" "$T/visits.json" "$T/ref"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"sources_allowed 13608 of 13608"* ]]	# some sources are on tracks
	start_second "satfilter_catalog=$CAT,satfilter_listen=127.0.0.1:$pb"
	# restart A so neither replica knows any visit
	unmount_astrofs
	mount_astrofs "satfilter_catalog=$CAT,archive_dir=$T/archive,satfilter_listen=127.0.0.1:$pa"
	wait_http "http://127.0.0.1:$pa/health"
	wait_http "http://127.0.0.1:$pb/health"
	# the documented example, with this test's addresses and its own prefix
	mkdir -p "$T/nginx"
	sed -e "s|10.0.0.11:8080|127.0.0.1:$pa|; s|10.0.0.12:8080|127.0.0.1:$pb|" \
		-e "s|127.0.0.1:8443|127.0.0.1:$pn|" \
		-e "s|/run/satfilter-nginx.pid|$T/nginx/nginx.pid|" \
		-e "s|/var/log/nginx/satfilter-error.log|$T/nginx/error.log|" \
		-e "s|/var/lib/nginx/|$T/nginx/|" \
		-e "s|^worker_processes 2;|worker_processes 1;\nuser root;|" \
		"$ROOT/mount-helpers/satfilter-nginx.conf" >"$T/nginx/nginx.conf"
	# in the foreground of a background job, so it is this test's child and
	# stopped by pid (teardown), not a daemon left to init
	sed -i '1i daemon off;' "$T/nginx/nginx.conf"
	nginx -p "$T/nginx" -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf" &
	wait_http "http://127.0.0.1:$pn/health"
	# through the balancer, replica B SIGKILLed after 100 of 378 detectors
	run timeout 300 "$PY" "$ROOT/tests/lib/pipeline_client.py" "http://127.0.0.1:$pn" "$T/visits.json" "$T/ha" --kill-after 100 --kill-pid "$(cat "$T/astrofs2.pid")"
	echo "$output"
	[ "$status" -eq 0 ]
	! kill -0 "$(cat "$T/astrofs2.pid")" 2>/dev/null	# B is really gone
	cmp "$T/ref" "$T/ha"
}

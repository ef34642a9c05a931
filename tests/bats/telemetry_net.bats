#!/usr/bin/env bats
# /telemetry over the network (issue 18): the listener (telemetry_listen)
# serves every file of the tree byte-identical to the mount, with Range,
# ETag/304, gzip, Cache-Control; tokens, the allow list and HTTPS; errors.
# Clients: Debian's python3-requests (tests/lib/tlm_http_check.py) and curl.

load lib

PY=/usr/bin/python3
CHECK=$ROOT/tests/lib/tlm_http_check.py

setup() {
	require_fuse
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	[ -x "$ROOT/build/astrofs-ingest" ] || skip "build/astrofs-ingest is not built"
	$PY -c 'import requests' 2>/dev/null || skip "python3-requests is not installed"
	astro_tmp
	mkdir -p "$T/cache"
}

teardown() {
	cd /
	cleanup_all
}

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Float, integer and state MSIDs over three UTC days of 2024 (all closed), a
# few quality-bad samples and a BAD_TIMES interval.
fixture() {
	$PY - "$T/in.csv" <<'PY'
import random, sys
r = random.Random(18)
with open(sys.argv[1], 'w') as f:
    f.write('msid,time,value,quality\n')
    for i in range(4000):
        s = 86400 * 3 * i / 4000.0
        day, rem = 1 + int(s // 86400), s % 86400
        t = '2024:%03d:%02d:%02d:%06.3f' % (day, rem // 3600, rem % 3600 // 60, rem % 60)
        f.write('TFLOAT,%s,%r,%d\n' % (t, r.uniform(-5, 5), 1 if i % 89 == 0 else 0))
        f.write('TINT,%s,%d,0\n' % (t, r.randint(-1000, 1000)))
        f.write('TSTATE,%s,%s,0\n' % (t, r.choice(['NPNT', 'NMAN', 'STBY'])))
PY
	printf 'TFLOAT 2024:002:00:00:00 2024:002:01:00:00\n' >"$T/bad_times"
	"$ROOT/build/astrofs-ingest" --quiet --create --archive "$T/archive" "$T/in.csv"
	"$ROOT/build/astrofs-ingest" --quiet --archive "$T/archive" --bad-times "$T/bad_times"
}

# listen [more options]: mount with the listener on a free port; sets URL.
listen() {
	PORT=$(free_port)
	astrofs_start "cache_dir=$T/cache,archive_dir=$T/archive,offline,telemetry_listen=127.0.0.1:$PORT${1:+,$1}"
	URL=http://127.0.0.1:$PORT
}

# code URL [curl args...]: the status; the body in $T/body, headers in $T/head
code() {
	local u=$1
	shift
	curl -s --max-time 30 -D "$T/head" -o "$T/body" -w '%{http_code}' "$@" "$u"
}

header() { grep -i "^$1:" "$T/head" | head -1 | cut -d' ' -f2- | tr -d '\r'; }

@test "telemetry_net: every file type over HTTP is byte-identical to the mount" {
	fixture
	listen
	cd "$T/mnt/telemetry"
	files=(INDEX.csv BAD_TIMES .ingest/ledger.csv)
	for m in TFLOAT TINT TSTATE; do
		files+=("$m.csv" "$m.5min.csv" "$m.daily.csv" "$m/2024/002.csv"
			"$m.npy" "$m.5min.npy" "$m.daily.npy" "$m/2024/002.npy"
			"$m@2024:001:12:00..2024:003.csv" "$m@2024:001:12:00..2024:003.5min.npy"
			"$m@2024:002..2024:004.daily.csv" "$m@2030:001..2030:002.csv" "$m.svg")
	done
	files+=(TFLOAT.png "TFLOAT@2024:002..2024:003.png" tfloat.csv)
	run $PY "$CHECK" files "$URL" "$T/mnt/telemetry" "${files[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	# directories list what readdir lists
	[ "$(code "$URL/telemetry/TINT/2024")" = 200 ]
	[ "$(jq -r '.entries[]' "$T/body" | sort)" = "$(ls "$T/mnt/telemetry/TINT/2024" | sort)" ]
	[ "$(code "$URL/telemetry/")" = 200 ]
	[ "$(jq -r '.entries[]' "$T/body" | sort)" = "$(ls -A "$T/mnt/telemetry" | sort)" ]
}

@test "telemetry_net: Range, ETag/304, HEAD, gzip; Cache-Control closed vs open; a new ingest changes the ETag" {
	fixture
	listen
	run $PY "$CHECK" proto "$URL" "$T/mnt/telemetry" "TFLOAT@2024:001..2024:003.csv"
	echo "$output"
	[ "$status" -eq 0 ]
	run $PY "$CHECK" proto "$URL" "$T/mnt/telemetry" "TINT.5min.npy"
	echo "$output"
	[ "$status" -eq 0 ]
	# a closed range (stop in the past) is immutable, the whole file brief
	[ "$(code "$URL/telemetry/TFLOAT@2024:001..2024:003.csv")" = 200 ]
	[ "$(header Cache-Control)" = "public, max-age=31536000, immutable" ]
	[ "$(code "$URL/telemetry/TFLOAT/2024/001.csv")" = 200 ]
	[ "$(header Cache-Control)" = "public, max-age=31536000, immutable" ]
	[ "$(code "$URL/telemetry/TFLOAT.csv")" = 200 ]
	[ "$(header Cache-Control)" = "public, max-age=10" ]
	[ "$(code "$URL/telemetry/TFLOAT@2024:001..2099:001.csv")" = 200 ]
	[ "$(header Cache-Control)" = "public, max-age=10" ]
	[ "$(code "$URL/telemetry/TFLOAT.csv")" = 200 ]
	e1=$(header ETag)
	lm=$(header Last-Modified)
	[ -n "$lm" ]
	[ "$(code "$URL/telemetry/TFLOAT.csv" -H "If-None-Match: $e1")" = 304 ]
	# another MSID's ingest leaves TFLOAT's version alone
	printf 'msid,time,value\nTINT,2024:004:00:00:00,7\n' >"$T/more_int.csv"
	"$ROOT/build/astrofs-ingest" --quiet --archive "$T/archive" "$T/more_int.csv"
	[ "$(code "$URL/telemetry/TFLOAT.csv" -H "If-None-Match: $e1")" = 304 ]
	# late data for TFLOAT: a new version, a new tag, the new bytes
	printf 'msid,time,value\nTFLOAT,2024:004:00:00:00,1.5\n' >"$T/more.csv"
	"$ROOT/build/astrofs-ingest" --quiet --archive "$T/archive" "$T/more.csv"
	[ "$(code "$URL/telemetry/TFLOAT.csv" -H "If-None-Match: $e1")" = 200 ]
	[ "$(header ETag)" != "$e1" ]
	cmp "$T/body" "$T/mnt/telemetry/TFLOAT.csv"
	tail -1 "$T/body" | grep -q ',1.5$'
	# the counters: requests, bytes, 304s, errors
	[ "$(code "$URL/telemetry/NOSUCH.csv")" = 404 ]
	[ "$(code "$URL/.astrofs/stats")" = 200 ]
	for c in requests bytes not_modified errors; do
		n=$(jq -r ".telemetry[\"http.$c\"] // 0" "$T/body")
		echo "$c=$n"
		[ "$n" -gt 0 ]
	done
	[ "$(jq -r '.telemetry["http.not_modified"]' "$T/body")" -ge 6 ]
	[ "$(code "$URL/health")" = 200 ]
	[ "$(jq -r .status "$T/body")" = UP ]
}

@test "telemetry_net: errors — 404, 400, 405, no path tricks" {
	fixture
	listen
	[ "$(code "$URL/telemetry/NOSUCH.csv")" = 404 ]
	[ "$(jq -r .error "$T/body")" != null ]
	[ "$(code "$URL/telemetry/TFLOAT@2024:003..2024:001.csv")" = 400 ]
	[ "$(code "$URL/telemetry/TFLOAT@garbage..2024:001.csv")" = 400 ]
	[ "$(code "$URL/telemetry/TFLOAT.csv" -X POST --data x)" = 405 ]
	[ "$(code "$URL/telemetry/TFLOAT.csv" -X PUT --data x)" = 405 ]
	[ "$(code "$URL/telemetry/TINT/../INDEX.csv" --path-as-is)" = 400 ]
	[ "$(code "$URL/telemetry/./INDEX.csv" --path-as-is)" = 400 ]
	[ "$(code "$URL/etc/passwd")" = 404 ]
	[ "$(code "$URL/telemetryX/INDEX.csv")" = 404 ]
	# the mount still answers after all that
	[ -s "$T/mnt/telemetry/INDEX.csv" ]
}

@test "telemetry_net: HTTPS, one token a line (Token or Bearer), 401 and 403" {
	fixture
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
		-keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
	printf 'alpha-key-1\n\nbeta-key-2\n' >"$T/tokens"
	chmod 600 "$T/tokens"
	# a token file others may read is refused at mount
	cp "$T/tokens" "$T/open_tokens"
	chmod 644 "$T/open_tokens"
	p=$(free_port)
	run "$ASTROFS" x "$T/mnt" -o "cache_dir=$T/cache,archive_dir=$T/archive,offline,telemetry_listen=127.0.0.1:$p,telemetry_token=$T/open_tokens"
	[ "$status" -ne 0 ]
	grep -q telemetry_token <<<"$output"
	listen "telemetry_tls_cert=$T/cert.pem,telemetry_tls_key=$T/key.pem,telemetry_token=$T/tokens,telemetry_allow=10.0.0.0/8;127.0.0.0/8"
	URL=https://127.0.0.1:$PORT
	f=TFLOAT.5min.csv
	[ "$(code "$URL/telemetry/$f" --cacert "$T/cert.pem")" = 401 ]
	[ "$(code "$URL/telemetry/$f" --cacert "$T/cert.pem" -H "Authorization: Token wrong")" = 401 ]
	[ "$(code "$URL/telemetry/$f" --cacert "$T/cert.pem" -H "Authorization: Token alpha-key-1x")" = 401 ]
	[ "$(code "$URL/health" --cacert "$T/cert.pem")" = 401 ]
	[ "$(code "$URL/telemetry/$f" --cacert "$T/cert.pem" -H "Authorization: Token alpha-key-1")" = 200 ]
	cmp "$T/body" "$T/mnt/telemetry/$f"
	[ "$(code "$URL/telemetry/$f" --cacert "$T/cert.pem" -H "Authorization: Bearer beta-key-2")" = 200 ]
	cmp "$T/body" "$T/mnt/telemetry/$f"
	# plain HTTP to the HTTPS port gets nothing
	[ "$(code "http://127.0.0.1:$PORT/telemetry/$f")" != 200 ]
	TOKEN=beta-key-2 CACERT=$T/cert.pem run $PY "$CHECK" files "$URL" "$T/mnt/telemetry" "$f" TSTATE.npy
	echo "$output"
	[ "$status" -eq 0 ]
	unmount_astrofs
	# from outside telemetry_allow: 403, before the token is looked at
	listen "telemetry_token=$T/tokens,telemetry_allow=10.0.0.0/8;::1"
	[ "$(code "$URL/telemetry/$f" -H "Authorization: Token alpha-key-1")" = 403 ]
	[ "$(code "$URL/telemetry/$f")" = 403 ]
}

@test "telemetry_net: RAVEN's v1 API — shapes, true means, spikes kept, downloads of any length" {
	$PY "$ROOT/tests/lib/raven_check.py" write "$T/raven.csv"
	"$ROOT/build/astrofs-ingest" --quiet --create --archive "$T/archive" "$T/raven.csv"
	printf 'k1\n' >"$T/tokens"
	chmod 600 "$T/tokens"
	listen "telemetry_token=$T/tokens"
	[ "$(code "$URL/api/v1/info")" = 401 ]
	TOKEN=k1 run $PY "$ROOT/tests/lib/raven_check.py" check "$URL" "$T/mnt/telemetry"
	echo "$output"
	[ "$status" -eq 0 ]
}

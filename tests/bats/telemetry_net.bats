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
	if [ -n "${T:-}" ] && [ -f "$T/nginx/nginx.pid" ]; then
		kill "$(cat "$T/nginx/nginx.pid")" 2>/dev/null || true
		for _ in $(seq 1 50); do [ -f "$T/nginx/nginx.pid" ] || break; sleep 0.1; done
	fi
	[ -n "${T:-}" ] && unmount_at "$T/mnt2" "$T/astrofs2.pid"
	[ -n "${T:-}" ] && unmount_at "$T/mnt3" "$T/astrofs3.pid"
	cleanup_all
}

# reader N OPTIONS: another astrofs at $T/mntN reading a remote archive
# (archive_url in OPTIONS), its own cache, PID in $T/astrofsN.pid.
reader() {
	mkdir -p "$T/cache$1"
	astrofs_start_at astrofs-reader$1 "$T/mnt$1" "$T/astrofs$1" \
		"cache_dir=$T/cache$1,archive_dir=$T/archive$1,obs_store=$T/obs$1,$2"
}

# counter NAME: one of the archive host's telemetry.http counters (the
# request that asks is counted too)
counter() { curl -s --max-time 10 "$URL/.astrofs/stats" | jq -r ".telemetry[\"http.$1\"] // 0"; }

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

make_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
		-keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
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
	make_cert
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

@test "archive_url: a second mount reads the archive host's files; re-reads are free; ingest seen after the TTL; snapshots; host down; offline" {
	command -v jq >/dev/null || skip "jq is not installed"
	fixture
	listen
	reader 2 "archive_url=$URL,timeout=3"
	A=$T/mnt/telemetry
	B=$T/mnt2/telemetry
	[ "$(ls "$B" | sort)" = "$(ls "$A" | sort)" ]
	[ "$(ls "$B/TINT/2024" | sort)" = "$(ls "$A/TINT/2024" | sort)" ]
	files=(INDEX.csv BAD_TIMES .ingest/ledger.csv TFLOAT.csv TFLOAT.5min.csv TINT.daily.csv
		TSTATE/2024/002.csv TFLOAT.npy TINT.5min.npy TSTATE.npy "TFLOAT@2024:001:12:00..2024:003.csv"
		"TINT@2024:002..2024:003.daily.npy" TFLOAT.svg TFLOAT.png)
	for f in "${files[@]}"; do
		[ "$(stat -c %s "$B/$f")" = "$(stat -c %s "$A/$f")" ] || { echo "size of $f"; false; }
		cmp "$A/$f" "$B/$f"
	done
	# ranged reads inside a file, and NumPy on the remote .npy
	dd if="$B/TFLOAT.csv" bs=1000 skip=7 count=3 status=none | cmp - <(dd if="$A/TFLOAT.csv" bs=1000 skip=7 count=3 status=none)
	run $PY -c '
import numpy as np, sys
a = np.load(sys.argv[1], mmap_mode="r"); b = np.load(sys.argv[2], mmap_mode="r")
assert a.dtype == b.dtype and len(a) > 500 and (a == b).all(), (a.dtype, b.dtype)
print(len(b))' "$A/TINT.5min.npy" "$B/TINT.5min.npy"
	echo "$output"
	[ "$status" -eq 0 ]
	# a re-read costs the archive host no request: only the counter's own
	n1=$(counter requests)
	for f in "${files[@]}"; do cat "$B/$f" >/dev/null; done
	n2=$(counter requests)
	echo "requests at the host: $n1 then $n2"
	[ "$n2" -eq $((n1 + 1)) ]
	# an open file keeps its snapshot; a new ingest is seen after the TTL
	cp "$B/TFLOAT.csv" "$T/old.csv"
	exec 7<"$B/TFLOAT.csv"
	head -c 100 <&7 >/dev/null
	printf 'msid,time,value\nTFLOAT,2024:005:00:00:00,2.25\n' >"$T/late.csv"
	"$ROOT/build/astrofs-ingest" --quiet --archive "$T/archive" "$T/late.csv"
	# past the listing TTL, the open file still reads its own version
	sleep 11
	{ head -c 100 "$T/old.csv"; cat <&7; } | cmp - "$T/old.csv"
	exec 7<&-
	new=$(stat -c %s "$A/TFLOAT.csv")
	for _ in $(seq 1 30); do
		[ "$(stat -c %s "$B/TFLOAT.csv")" = "$new" ] && break
		sleep 1
	done
	[ "$(stat -c %s "$B/TFLOAT.csv")" = "$new" ]
	cmp "$A/TFLOAT.csv" "$B/TFLOAT.csv"
	tail -1 "$B/TFLOAT.csv" | grep -q ',2.25$'
	# the archive host stops: what was never read is EIO within timeout,
	# what is cached is still served
	cp "$B/TINT.5min.csv" "$T/tint5.csv"
	cp "$B/TSTATE/2024/002.csv" "$T/tstate2.csv"
	unmount_astrofs
	t0=$(date +%s%N)
	run cat "$B/TINT@2024:001:03:00..2024:001:04:00.csv"
	t1=$(date +%s%N)
	echo "$output"
	[ "$status" -ne 0 ]
	grep -q "Input/output error" <<<"$output"
	echo "EIO after $(( (t1 - t0) / 1000000 )) ms"
	[ $(( (t1 - t0) / 1000000 )) -lt 6000 ]
	cmp "$B/TINT.5min.csv" "$T/tint5.csv"
	# restarted offline: the cache serves, nothing is asked
	unmount_at "$T/mnt2" "$T/astrofs2.pid"
	reader 2 "archive_url=$URL,timeout=3,offline"
	cmp "$B/TINT.5min.csv" "$T/tint5.csv"
	cmp "$B/TSTATE/2024/002.csv" "$T/tstate2.csv"
	ls "$B" | grep -qx TINT.5min.csv
	run cat "$B/TINT@2024:001:05:00..2024:001:06:00.csv"
	[ "$status" -ne 0 ]
	# read-only, as on the archive host
	run sh -c "echo x >'$B/TFLOAT.csv'"
	[ "$status" -ne 0 ]
}

@test "archive_url: HTTPS with archive_ca and archive_token; a wrong token is EACCES" {
	fixture
	make_cert
	printf 'reader-key\n' >"$T/tokens"
	printf 'reader-key\n' >"$T/good"
	printf 'other-key\n' >"$T/bad"
	chmod 600 "$T/tokens" "$T/good" "$T/bad"
	listen "telemetry_tls_cert=$T/cert.pem,telemetry_tls_key=$T/key.pem,telemetry_token=$T/tokens"
	reader 2 "archive_url=https://127.0.0.1:$PORT,archive_token=$T/good,archive_ca=$T/cert.pem,timeout=3"
	cmp "$T/mnt/telemetry/TFLOAT.5min.csv" "$T/mnt2/telemetry/TFLOAT.5min.csv"
	cmp "$T/mnt/telemetry/TSTATE.npy" "$T/mnt2/telemetry/TSTATE.npy"
	reader 3 "archive_url=https://127.0.0.1:$PORT,archive_token=$T/bad,archive_ca=$T/cert.pem,timeout=3"
	run cat "$T/mnt3/telemetry/TFLOAT.5min.csv"
	echo "$output"
	[ "$status" -ne 0 ]
	grep -q "Permission denied" <<<"$output"
	# a token file others may read is refused at mount
	chmod 644 "$T/bad"
	run "$ASTROFS" x "$T/mnt3" -o "cache_dir=$T/cache3,archive_url=https://127.0.0.1:$PORT,archive_token=$T/bad"
	[ "$status" -ne 0 ]
	grep -q archive_token <<<"$output"
}

@test "archive_url through Debian's nginx as a shared cache: a closed range crosses the network once per site" {
	command -v nginx >/dev/null || skip "nginx is not installed"
	command -v jq >/dev/null || skip "jq is not installed"
	fixture
	listen
	pn=$(free_port)
	mkdir -p "$T/nginx"
	sed -e "s|10.0.0.20:8081|127.0.0.1:$PORT|; s|127.0.0.1:8444|127.0.0.1:$pn|" \
		-e "s|/run/telemetry-nginx.pid|$T/nginx/nginx.pid|" \
		-e "s|/var/log/nginx/telemetry-error.log|$T/nginx/error.log|" \
		-e "s|/var/lib/nginx/|$T/nginx/|" \
		-e "s|^worker_processes 2;|worker_processes 1;\nuser root;|" \
		"$ROOT/mount-helpers/telemetry-nginx.conf" >"$T/nginx/nginx.conf"
	sed -i '1i daemon off;' "$T/nginx/nginx.conf"
	nginx -p "$T/nginx" -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf" &
	for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$pn/health" && break; sleep 0.1; done
	R="TFLOAT@2024:001:06:00..2024:003.csv"
	size=$(stat -c %s "$T/mnt/telemetry/$R")
	[ "$size" -gt 50000 ]
	b0=$(counter bytes)
	reader 2 "archive_url=http://127.0.0.1:$pn,timeout=5"
	cmp "$T/mnt/telemetry/$R" "$T/mnt2/telemetry/$R"
	b1=$(counter bytes)
	echo "first reader: $((b1 - b0)) bytes from the archive host"
	[ $((b1 - b0)) -ge "$size" ]
	# another machine of the site (own mount, own empty cache): from nginx
	reader 3 "archive_url=http://127.0.0.1:$pn,timeout=5"
	cmp "$T/mnt/telemetry/$R" "$T/mnt3/telemetry/$R"
	b2=$(counter bytes)
	echo "second reader: $((b2 - b1)) bytes from the archive host"
	[ $((b2 - b1)) -lt $((size / 10)) ]
	# the cache's key is the path as the mounts send it, percent-encoded
	esc=$($PY -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$R")
	curl -s -D "$T/h" -o /dev/null -H "Accept-Encoding: identity" "http://127.0.0.1:$pn/telemetry/$esc"
	cat "$T/h"
	grep -qi "^X-Cache: HIT" "$T/h"
}

@test "archive_url: ls -l of a directory of N MSIDs costs the archive host one request, not one per entry" {
	command -v jq >/dev/null || skip "jq is not installed"
	n=12
	{
		echo msid,time,value
		for i in $(seq 1 $n); do
			for h in 01 02 03; do echo "M$i,2024:010:$h:00:00,$i.5"; done
		done
	} >"$T/many.csv"
	"$ROOT/build/astrofs-ingest" --quiet --create --archive "$T/archive" "$T/many.csv"
	listen
	reader 2 "archive_url=$URL,timeout=5"
	A=$T/mnt/telemetry
	B=$T/mnt2/telemetry
	# the listing carries what stat needs, beside the names it always had
	[ "$(code "$URL/telemetry/")" = 200 ]
	[ "$(jq -r '.entries | length' "$T/body")" -gt $((n * 9)) ]
	[ "$(jq -r '[.items[] | select(.type == "file" and .size > 0 and .etag != null)] | length' "$T/body")" -ge $((n * 8)) ]
	[ "$(code "$URL/telemetry/M3.csv")" = 200 ]
	[ "$(jq -r '.items[] | select(.name == "M3.csv") | .etag' <(curl -s "$URL/telemetry/"))" = "$(header ETag)" ]
	n1=$(counter requests)
	ls -l "$B" >"$T/ls_b"
	n2=$(counter requests)
	echo "requests at the host for ls -l of $(wc -l <"$T/ls_b") entries: $((n2 - n1 - 1))"
	[ "$n2" -eq $((n1 + 2)) ]
	# and what it shows is the archive host's: names, kinds, sizes
	[ "$(ls -l "$B" | awk 'NR > 1 {print substr($1, 1, 1), $5, $9}')" = \
	  "$(ls -l "$A" | awk 'NR > 1 {print substr($1, 1, 1), $5, $9}')" ]
	# the entries' attributes serve opens too: the bytes are the host's
	cmp "$A/M7.csv" "$B/M7.csv"
	cmp "$A/M7.npy" "$B/M7.npy"
}

@test "archive_url: every write on the remote mount is EROFS; the archive host's own tree keeps EACCES" {
	fixture
	listen
	reader 2 "archive_url=$URL,timeout=5"
	B=$T/mnt2/telemetry
	ls "$B" >/dev/null
	[ -s "$B/TFLOAT.5min.csv" ]
	rofs() {
		run "$@"
		echo "$* -> $status: $output"
		[ "$status" -ne 0 ]
		grep -q "Read-only file system" <<<"$output"
	}
	rofs touch "$B/TFLOAT.csv"
	rofs touch "$B/new.csv"
	rofs sh -c "echo x >'$B/TFLOAT.csv'"
	rofs sh -c "echo x >>'$B/TFLOAT.csv'"
	rofs sh -c "echo x >'$B/new.csv'"
	rofs mkdir "$B/newdir"
	rofs mkdir "$B/TFLOAT/2025"
	rofs rm -f "$B/TFLOAT.csv"
	rofs rmdir "$B/TFLOAT/2024"
	rofs mv "$B/TFLOAT.csv" "$B/T2.csv"
	rofs truncate -s 0 "$B/TINT.csv"
	rofs ln -s TFLOAT.csv "$B/link.csv"
	rofs chmod 600 "$B/TFLOAT.csv"
	# nothing changed, on either side
	cmp "$T/mnt/telemetry/TFLOAT.csv" "$B/TFLOAT.csv"
	[ ! -e "$B/new.csv" ] && [ ! -e "$B/newdir" ]
	# the archive host's local tree: a file without writes, as before
	run sh -c "echo x >'$T/mnt/telemetry/TFLOAT.csv'"
	[ "$status" -ne 0 ]
	grep -q "Permission denied" <<<"$output"
}

@test "telemetry_net: a file served again is copied from the cache, not rendered again; a new version is rendered anew" {
	command -v jq >/dev/null || skip "jq is not installed"
	# 100,000 samples at 1 Hz from 2024:001 (about 4 MB of CSV: several
	# 1 MiB pieces); the bench generator is not built by make check.
	awk 'BEGIN { print "msid,time,value"
		for (i = 0; i < 100000; i++)
			printf "BIG,2024:%03d:%02d:%02d:%02d.000,%.2f\n", 1 + int(i / 86400),
				int(i / 3600) % 24, int(i / 60) % 60, i % 60, 15 + (i % 97) / 100 }' >"$T/big.csv"
	"$ROOT/build/astrofs-ingest" --quiet --create --archive "$T/archive" "$T/big.csv"
	listen
	f=BIG.csv
	size=$(stat -c %s "$T/mnt/telemetry/$f")
	pieces=$((size / 1048576))
	[ "$pieces" -ge 3 ]
	stat_of() { curl -s --max-time 10 "$URL/.astrofs/stats" | jq -r ".telemetry[\"$1\"] // 0"; }
	r0=$(stat_of bytes_read)
	[ "$(code "$URL/telemetry/$f" -H 'Accept-Encoding: identity')" = 200 ]
	cmp "$T/body" "$T/mnt/telemetry/$f"
	r1=$(stat_of bytes_read)
	echo "first GET rendered $((r1 - r0)) of $size bytes"
	[ $((r1 - r0)) -ge "$size" ]
	# the writer keeps the whole pieces (bounded wait)
	for _ in $(seq 1 100); do [ "$(stat_of http.pieces_kept)" -ge "$pieces" ] && break; sleep 0.1; done
	echo "pieces kept: $(stat_of http.pieces_kept) of $pieces"
	r2=$(stat_of bytes_read)
	[ "$(code "$URL/telemetry/$f" -H 'Accept-Encoding: identity')" = 200 ]
	cmp "$T/body" "$T/mnt/telemetry/$f"
	r3=$(stat_of bytes_read)
	echo "second GET rendered $((r3 - r2)) bytes"
	[ $((r3 - r2)) -lt 1048576 ]
	# ranges across piece boundaries, from the kept pieces
	for r in 1048000-1049999 0-99 2097151-2097152 $((size - 5000))-; do
		[ "$(code "$URL/telemetry/$f" -r "$r" -H 'Accept-Encoding: identity')" = 206 ]
		from=${r%-*}
		to=${r#*-}
		[ -n "$to" ] || to=$((size - 1))
		tail -c +$((from + 1)) "$T/mnt/telemetry/$f" | head -c $((to - from + 1)) | cmp - "$T/body"
	done
	# new data for BIG: another tag, its own bytes, nothing of the old pieces
	printf 'msid,time,value\nBIG,2023:365:00:00:00,42.5\n' >"$T/late.csv"
	"$ROOT/build/astrofs-ingest" --quiet --archive "$T/archive" "$T/late.csv"
	[ "$(code "$URL/telemetry/$f" -H 'Accept-Encoding: identity')" = 200 ]
	cmp "$T/body" "$T/mnt/telemetry/$f"
	sed -n 2p "$T/body" | grep -q ',42.5$'
}

#!/usr/bin/env bats
# /satfilter through a real mount, with satfilter_catalog=<file> (the 2019
# catalogue from ../shared, read in place): the transaction file, its
# fail-safe answers, and that no catalogue text reaches the disk.

load lib

CAT="$SHARED/data/tle/spacetrack_3le_catalog_2019-12-19.3le"
VISIT='{"visit_id": 2019121900001, "exposure_start_mjd": 58836.3, "exposure_end_mjd": 58836.30035, "boresight_ra": 53.0, "boresight_dec": -27.9}'
SOURCES='{"visit_id": 2019121900001, "detector_id": 8, "diasources": [{"diasource_id": 4567, "bbox": [[53,-28],[53.001,-28],[53,-28.001],[53.001,-28.001]]}]}'

setup() {
	require_fuse
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	[ -f "$CAT" ] || skip "../shared/data/tle is not present"
	command -v jq >/dev/null || skip "jq is not installed"
	astro_tmp
	start_standin
	mkdir -p "$T/tmp" "$T/archive"
	export TMPDIR="$T/tmp"
}

teardown() {
	cleanup_all
}

@test "satfilter: the tree root is a writable file, listed as a file" {
	mount_astrofs "satfilter_catalog=$CAT,archive_dir=$T/archive"
	ls -l "$T/mnt" >/dev/null	# readdirplus first: must not call it a directory
	[ -f "$T/mnt/satfilter" ] && [ ! -d "$T/mnt/satfilter" ]
	[ "$(stat -c %a "$T/mnt/satfilter")" = 644 ]	# umask 022, as any file
	run ls -l "$T/mnt"
	[[ "$output" == *"-rw-r--r--"*satfilter* ]]
	: >"$T/mnt/satfilter"		# O_TRUNC is accepted
	run ls "$T/mnt/satfilter/x"
	[ "$status" -ne 0 ]
}

@test "satfilter: visit then diasources on one handle, answered in order" {
	mount_astrofs "satfilter_catalog=$CAT,archive_dir=$T/archive"
	exec 5<>"$T/mnt/satfilter"
	printf '%s\n%s\n' "$VISIT" "$SOURCES" >&5
	read -r a1 <&5
	read -r a2 <&5
	exec 5>&-
	[ "$(jq -r .status <<<"$a1")" = cached ]
	[ "$(jq -r .visit_id <<<"$a1")" = 2019121900001 ]
	[ "$(jq -r 'keys|join(",")' <<<"$a2")" = "allow_list,detector_id,visit_id" ]
	[ "$(jq -r '.allow_list|type' <<<"$a2")" = array ]
	# a request split over two writes, the last one without its newline
	exec 5<>"$T/mnt/satfilter"
	printf '%s' "${VISIT:0:40}" >&5
	printf '%s' "${VISIT:40}" >&5
	read -r a3 <&5
	exec 5>&-
	[ "$(jq -r .status <<<"$a3")" = cached ]
	[ "$(st_count requests)" -eq 0 ]
}

@test "satfilter: unknown visits, malformed and absurd requests fail safe" {
	mount_astrofs "satfilter_catalog=$CAT,archive_dir=$T/archive"
	exec 5<>"$T/mnt/satfilter"
	printf '%s\n' '{"visit_id": 5, "detector_id": 1, "diasources": [{"diasource_id": 1, "bbox": [[1,1]]}]}' \
		'{"visit_id": 5, "detector_id": 1, "diasources": [' \
		'{"visit_id": 6, "exposure_start_mjd": 58836.3, "exposure_end_mjd": 58836.30035, "boresight_ra": 53.0, "boresight_dec": -127.9}' >&5
	for i in 1 2 3; do
		read -r a <&5
		[ "$(jq -r '.error|type' <<<"$a")" = string ]
		[ "$(jq -c .allow_list <<<"$a")" = "[]" ]
		[ "$(jq -r 'keys|length' <<<"$a")" = 2 ]
	done
	exec 5>&-
}

@test "satfilter: handles are isolated; a handle that never wrote reads usage" {
	mount_astrofs "satfilter_catalog=$CAT,archive_dir=$T/archive"
	exec 5<>"$T/mnt/satfilter"
	exec 6<>"$T/mnt/satfilter"
	printf '%s\n' "$VISIT" >&5
	run timeout 5 cat <&6
	[[ "$output" == *usage* ]]
	[[ "$output" != *cached* ]]
	read -r a <&5
	[ "$(jq -r .status <<<"$a")" = cached ]
	exec 5>&- 6>&-
}

@test "satfilter: no catalogue text in the cache, archive, logs or temp files; kept out of core dumps" {
	mount_astrofs "satfilter_catalog=$CAT,archive_dir=$T/archive"
	exec 5<>"$T/mnt/satfilter"
	printf '%s\n%s\n' "$VISIT" "$SOURCES" >&5
	read -r a <&5
	read -r a <&5
	exec 5>&-
	# the catalogue's memory is marked "dd" (MADV_DONTDUMP)
	grep -q '^VmFlags:.* dd' "/proc/$(cat "$T/astrofs.pid")/smaps"
	unmount_astrofs
	# every element-set line and name of the catalogue, as fixed strings
	tr -d '\r' <"$CAT" | grep -E '^[12] ' | cut -c1-60 >"$T/lines"
	tr -d '\r' <"$CAT" | sed -n 's/^0 //p' | awk 'length($0) >= 8' | sort -u >>"$T/lines"
	[ "$(wc -l <"$T/lines")" -gt 30000 ]
	: >"$T/hits"
	for d in "$T/cache" "$T/archive" "$T/tmp" "$T/astrofs.log"; do
		[ -e "$d" ] || continue
		grep -r -a -F -f "$T/lines" "$d" >>"$T/hits" || true
	done
	[ ! -s "$T/hits" ]
	# the check can fail: the same grep finds a line planted in the log
	head -1 "$T/lines" >>"$T/astrofs.log"
	grep -q -a -F -f "$T/lines" "$T/astrofs.log"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

@test "satfilter: the HTTP listener speaks sattle's endpoints, fail-safe, with no read path" {
	port=$(free_port)
	mount_astrofs "satfilter_catalog=$CAT,archive_dir=$T/archive,satfilter_listen=127.0.0.1:$port"
	url=http://127.0.0.1:$port
	run curl -s --max-time 20 -o "$T/body" -w '%{http_code}' -X PUT --data "$VISIT" "$url/visit_cache"
	[ "$output" = 200 ]
	[ "$(jq -r .status "$T/body")" = cached ]
	run curl -s --max-time 20 -o "$T/body" -w '%{http_code}' -X PUT --data "$SOURCES" "$url/diasource_allow_list"
	[ "$output" = 200 ]
	[ "$(jq -r '.allow_list|type' "$T/body")" = array ]
	# unknown visit: 404 and an empty allow list (the pipeline re-sends the visit)
	run curl -s --max-time 20 -o "$T/body" -w '%{http_code}' -X PUT \
		--data '{"visit_id": 1, "detector_id": 2, "diasources": []}' "$url/diasource_allow_list"
	[ "$output" = 404 ]
	[ "$(jq -c .allow_list "$T/body")" = "[]" ]
	run curl -s --max-time 20 -o "$T/body" -w '%{http_code}' -X PUT --data '{"visit_id":' "$url/visit_cache"
	[ "$output" = 400 ]
	[ "$(jq -c .allow_list "$T/body")" = "[]" ]
	# no way to read cached tracks back
	run curl -s --max-time 20 -o /dev/null -w '%{http_code}' "$url/visit_cache"
	[ "$output" = 405 ]
	run curl -s --max-time 20 -o /dev/null -w '%{http_code}' -X PUT --data '{}' "$url/other"
	[ "$output" = 404 ]
}

@test "satfilter: a space-track catalogue is fetched at the first visit, once, and never before" {
	# the stand-in's clock at 2024-03-05, so its GP query (epoch > now-30)
	# returns its synthetic 2024-03-01 day; the visit is on that day
	st_post clock "{\"offset_s\": $(( $(date -u -d 2024-03-05 +%s) - $(date +%s) ))}"
	mount_astrofs "archive_dir=$T/archive"
	ls -l "$T/mnt" >/dev/null
	[ "$(st_count requests)" -eq 0 ]
	v='{"visit_id": 7, "exposure_start_mjd": 60370.3, "exposure_end_mjd": 60370.30035, "boresight_ra": 53.0, "boresight_dec": -27.9}'
	exec 5<>"$T/mnt/satfilter"
	printf '%s\n%s\n' "$v" "$v" >&5
	read -r a1 <&5
	read -r a2 <&5
	exec 5>&-
	[ "$(st_count queries)" -eq 1 ]
	[ "$(jq -r .status <<<"$a1")" = cached ]
	[ "$(jq -r .status <<<"$a2")" = cached ]
}

@test "satfilter: a failed space-track load fails safe and is not retried per request" {
	mount_astrofs "archive_dir=$T/archive"	# real clock: the stand-in has nothing recent
	exec 5<>"$T/mnt/satfilter"
	printf '%s\n%s\n%s\n' "$VISIT" "$VISIT" "$SOURCES" >&5
	for i in 1 2 3; do
		read -r a <&5
		[ "$(jq -c .allow_list <<<"$a")" = "[]" ]
		[ "$(jq -r '.error|type' <<<"$a")" = string ]
	done
	exec 5>&-
	[ "$(st_count queries)" -eq 1 ]
}

@test "satfilter: with the HTTP listener, a space-track catalogue is loaded at start" {
	st_post clock "{\"offset_s\": $(( $(date -u -d 2024-03-05 +%s) - $(date +%s) ))}"
	port=$(free_port)
	mount_astrofs "archive_dir=$T/archive,satfilter_listen=127.0.0.1:$port"
	v='{"visit_id": 8, "exposure_start_mjd": 60370.3, "exposure_end_mjd": 60370.30035, "boresight_ra": 53.0, "boresight_dec": -27.9}'
	for _ in $(seq 1 50); do
		[ "$(st_count queries)" -ge 1 ] && break
		sleep 0.2
	done
	[ "$(st_count queries)" -eq 1 ]
	code=
	for _ in $(seq 1 50); do
		code=$(curl -s --max-time 20 -o "$T/body" -w '%{http_code}' -X PUT --data "$v" \
			"http://127.0.0.1:$port/visit_cache")
		[ "$code" = 200 ] && break
		sleep 0.2
	done
	[ "$code" = 200 ]
	[ "$(jq -r .status "$T/body")" = cached ]
	[ "$(st_count queries)" -eq 1 ]
}

# VmRSS of the daemon, in KiB
daemon_rss() { awk '/^VmRSS:/ {print $2}' "/proc/$(cat "$T/astrofs.pid")/status"; }

@test "satfilter: unread answers are capped per handle (ENOBUFS), and freed when read or closed" {
	mount_astrofs "satfilter_catalog=$CAT,archive_dir=$T/archive"
	base=$(daemon_rss)
	# 10 MiB of junk lines, answers never read: the writes must stop with
	# ENOBUFS long before; reading the answers makes writing work again
	/usr/bin/python3 - "$T/mnt/satfilter" "/proc/$(cat "$T/astrofs.pid")/status" >"$T/out" <<'PY'
import errno, os, sys
def rss():
    for l in open(sys.argv[2]):
        if l.startswith("VmRSS:"):
            return int(l.split()[1])
fd = os.open(sys.argv[1], os.O_RDWR)
chunk = b"x\n" * 32768
sent, err = 0, None
while sent < 10 << 20:
    try:
        n = os.write(fd, chunk)
    except OSError as e:
        err = e.errno
        break
    sent += n
print("err", errno.errorcode.get(err, err))
print("sent", sent)
print("rss_full", rss())
got = b""
while True:
    b = os.read(fd, 1 << 20)
    if not b:
        break
    got += b
print("answers", got.count(b"\n"), "errors", got.count(b'"error"'))
try:
    os.write(fd, b"x\n")
    print("after_read", "ok", os.read(fd, 4096).count(b"allow_list"))
except OSError as e:
    print("after_read", errno.errorcode.get(e.errno, e.errno))
os.close(fd)
PY
	cat "$T/out"
	grep -qx 'err ENOBUFS' "$T/out"
	sent=$(awk '$1=="sent" {print $2}' "$T/out")
	[ "$sent" -lt $((1 << 20)) ]
	# every byte taken was answered: one answer per junk line
	[ "$(awk '$1=="answers" {print $2}' "$T/out")" -eq $((sent / 2)) ]
	# the queue is bounded: a few MiB, not hundreds
	[ "$(awk '$1=="rss_full" {print $2}' "$T/out")" -lt $((base + 65536)) ]
	grep -qx 'after_read ok 1' "$T/out"
	# closed: the memory is given back
	[ "$(daemon_rss)" -lt $((base + 32768)) ]
}

@test "satfilter: the HTTP listener survives slowloris: 189 detectors served beside 64 trickling connections, which are cut" {
	port=$(free_port)
	mount_astrofs "satfilter_catalog=$CAT,archive_dir=$T/archive,satfilter_listen=127.0.0.1:$port"
	run curl -s --max-time 20 -o "$T/body" -w '%{http_code}' -X PUT --data "$VISIT" "http://127.0.0.1:$port/visit_cache"
	[ "$output" = 200 ]
	run timeout 90 python3 "$ROOT/tests/lib/slowloris.py" "$port" "$VISIT" "$SOURCES"
	[ "$status" -eq 0 ] || { echo "$output" >&2; false; }
	[[ "$output" == *"served 189 of 189"* ]]
	[[ "$output" == *"slow_closed 64 of 64"* ]]
}

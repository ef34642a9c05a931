#!/usr/bin/env bats
# Secrets stay out of what other local users or a core dump can see:
# /proc/PID/cmdline, group-readable credentials files, core files.

load lib

SIG=SASsigQz7Wv3Kp9Lm2
URLPASS=urlPassXq81Zt5
SECRET_OPTS="fits_http=web=http://127.0.0.1:9/c?sv=2022-11-02&sig=$SIG&se=2030;other=http://u:$URLPASS@127.0.0.1:9/d,s3_endpoint=http://key:$URLPASS@127.0.0.1:9"

setup() {
	require_fuse
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	astro_tmp
	start_standin
	mkdir -p "$T/archive"
}

teardown() {
	cleanup_all
}

# the command lines of every process that names our mount point
cmdlines() {
	local f
	for f in /proc/[0-9]*/cmdline; do
		tr '\0' ' ' <"$f" 2>/dev/null | grep -F "$T/mnt" || true
	done
}

@test "secrets: -o signatures and URL passwords are masked in /proc/PID/cmdline (foreground and daemon)" {
	mount_astrofs "$SECRET_OPTS"
	line=$(tr '\0' ' ' <"/proc/$(cat "$T/astrofs.pid")/cmdline")
	echo "$line"
	[[ "$line" == *fits_http=web=http://127.0.0.1:9/c* ]]
	[[ "$line" != *"$SIG"* ]]
	[[ "$line" != *"$URLPASS"* ]]
	unmount_astrofs
	# daemonized: the process that stays is the forked child
	write_creds
	"$ASTROFS" astrofs-test "$T/mnt" -o "cache_dir=$T/cache,archive_dir=$T/archive,obs_store=$T/obs,spacetrack_url=$ST_URL,spacetrack_credentials=$T/creds" \
		-o "$SECRET_OPTS" 2>>"$T/astrofs.log"
	mountpoint -q "$T/mnt"
	all=$(cmdlines)
	echo "$all"
	[[ "$all" == *fits_http=* ]]
	[[ "$all" != *"$SIG"* ]]
	[[ "$all" != *"$URLPASS"* ]]
}

@test "secrets: an s3_credentials file readable by group or others fails the mount, naming it" {
	printf '[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = wJalrXUtnFEMI\n' >"$T/aws"
	chmod 644 "$T/aws"
	# not `run`: a daemon that did start would hold its output pipe open
	mounted=1
	mount_astrofs "s3_credentials=$T/aws,fits_buckets=b,s3_endpoint=http://127.0.0.1:9" \
		>/dev/null 2>&1 || mounted=0
	[ "$mounted" -eq 0 ]
	! mountpoint -q "$T/mnt"
	grep -F "s3_credentials $T/aws: mode 0644 is too open" "$T/astrofs.log"
	[ "$(grep -c . "$T/astrofs.log")" -eq 1 ]
	chmod 600 "$T/aws"
	mount_astrofs "s3_credentials=$T/aws,fits_buckets=b,s3_endpoint=http://127.0.0.1:9"
}

@test "secrets: a core of a daemon that loaded the space-track catalogue holds neither catalogue nor password" {
	# the stand-in's clock at 2024-03-05: its GP answer is the synthetic
	# 2024-03-01 day, 500 objects, whose lines are the needles
	st_post clock "{\"offset_s\": $(( $(date -u -d 2024-03-05 +%s) - $(date +%s) ))}"
	python3 "$ROOT/tests/standin/spacetrack.py" --user u --password p \
		--synthetic-day 2024-03-01:500 --write-synthetic "$T/synthetic.3le"
	tr -d '\r' <"$T/synthetic.3le" | grep -E '^[12] ' | cut -c1-60 >"$T/lines"
	[ "$(wc -l <"$T/lines")" -ge 1000 ]
	mount_astrofs "archive_dir=$T/archive"
	v='{"visit_id": 7, "exposure_start_mjd": 60370.3, "exposure_end_mjd": 60370.30035, "boresight_ra": 53.0, "boresight_dec": -27.9}'
	exec 5<>"$T/mnt/satfilter"
	printf '%s\n' "$v" >&5
	read -r a <&5
	exec 5>&-
	[ "$(jq -r .status <<<"$a")" = cached ]
	[ "$(st_count queries)" -eq 1 ]
	core=$(gcore_pid "$(cat "$T/astrofs.pid")" "$T/core")
	# the password, plain or URL-escaped as in the login form
	esc=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe="-_.~"))' "$ST_PASS")
	pw=$(grep -c -a -F -e "$ST_PASS" -e "$esc" "$core" || true)
	cat=$(grep -c -a -F -f "$T/lines" "$core" || true)
	echo "password hits: $pw, catalogue hits: $cat in $core ($(stat -c %s "$core") bytes)"
	[ "$pw" = 0 ]
	[ "$cat" = 0 ]
	rm -f "$core"
	# the scan can fail: it finds both in a core of the stand-in
	core=$(gcore_pid "$(cat "$T/standin.pid")" "$T/core")
	grep -q -a -F -e "$ST_PASS" "$core"
	grep -q -a -F -f "$T/lines" "$core"
	rm -f "$core"
}

@test "secrets: SPACETRACK_PASSWORD is wiped from the daemon's environment once read, and still logs in" {
	SPACETRACK_USER=$ST_USER SPACETRACK_PASSWORD=$ST_PASS \
		astrofs_start "cache_dir=$T/cache,archive_dir=$T/archive,obs_store=$T/obs,spacetrack_url=$ST_URL,timeout=10"
	run tr '\0' '\n' <"/proc/$(cat "$T/astrofs.pid")/environ"
	[[ "$output" == *SPACETRACK_USER=* ]]
	[[ "$output" != *"$ST_PASS"* ]]
	# the copy it keeps still works
	[ "$(wc -l <"$T/mnt/tle/2019/12/18.tle")" -gt 0 ]
	[ "$(st_count logins)" -eq 1 ]
}

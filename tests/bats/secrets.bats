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

#!/usr/bin/env bats
# Mounting: readiness, refusals, mount(8) and fstab, clean shutdown.

load lib

setup() {
	require_fuse
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	astro_tmp
	start_standin
	mkdir -p "$T/mnt" "$T/cache"
	write_creds
	OPTS="cache_dir=$T/cache,archive_dir=$T/archive,obs_store=$T/obs,spacetrack_url=$ST_URL,spacetrack_credentials=$T/creds,timeout=10"
}

teardown() {
	if mountpoint -q "$T/mnt" 2>/dev/null; then
		pid=$(pgrep -f "astrofs.* $T/mnt" | head -1)
		fusermount3 -u "$T/mnt" || umount -l "$T/mnt" || true
		for _ in $(seq 1 50); do [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	fi
	[ -f "$T/linked" ] && rm -f "$LINK"
	cleanup_all
}

daemon_pid() { pgrep -f "astrofs.* $T/mnt" | head -1; }

# mount(8) runs helpers with a fixed PATH (/usr/local/sbin:...:/bin), so
# mount -t fuse.astrofs finds only an installed astrofs.  Link the build there
# for the test, never over a real installation, and remove the link after.
LINK=/usr/local/bin/astrofs
link_astrofs() {
	[ "$(id -u)" -eq 0 ] || skip "needs root to place astrofs on mount's PATH"
	if [ -e "$LINK" ] && [ "$(readlink "$LINK")" != "$ASTROFS" ]; then
		skip "$LINK exists (a real installation); not replacing it"
	fi
	ln -sf "$ASTROFS" "$LINK"
	touch "$T/linked"
}

@test "mount: astrofs returns only when the mount answers; SIGTERM unmounts and logs out" {
	run "$ASTROFS" src "$T/mnt" -o "$OPTS"
	[ "$status" -eq 0 ]
	# No waiting loop: it must already answer.
	[ -f "$T/mnt/.astrofs/version" ]
	grep -q "^astrofs " "$T/mnt/.astrofs/version"
	findmnt -n -o FSTYPE,SOURCE "$T/mnt" | grep -q 'fuse.astrofs *src'
	cat "$T/mnt/tle/2019/11/26.tle" >/dev/null
	pid=$(daemon_pid)
	[ -n "$pid" ]
	kill -TERM "$pid"
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$pid" 2>/dev/null
	! mountpoint -q "$T/mnt"
	[ "$(st_count logouts)" -eq 1 ]
}

@test "mount: --version and --help" {
	run "$ASTROFS" --version
	[ "$status" -eq 0 ]
	[[ "$output" == "astrofs $(cat "$ROOT/VERSION")" ]]
	run "$ASTROFS" --help
	[ "$status" -eq 0 ]
	for o in config cache_dir cache_max timeout offline spacetrack_url spacetrack_credentials \
		 spacetrack_rate tle_ttl tle_final_after s3_endpoint s3_region s3_credentials s3_profile \
		 s3_anonymous s3_request_payer s3_path_style fits_buckets fits_http archive_dir staging_dir \
		 satfilter_catalog satfilter_refresh site_lat site_lon site_height obs_config obs_store \
		 uid gid umask allow_other default_permissions ro; do
		[[ "$output" == *"$o"* ]] || { echo "help lacks $o"; false; }
	done
}

@test "mount: a bad option fails with one line and mounts nothing" {
	run "$ASTROFS" src "$T/mnt" -o "$OPTS,timeout=soon"
	[ "$status" -ne 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *timeout* ]]
	! mountpoint -q "$T/mnt"
	# A ceiling the limiter cannot hold is refused by the parser, naming the
	# option, not later as "cannot start the space-track client".
	run "$ASTROFS" src "$T/mnt" -o "$OPTS,spacetrack_rate=5000/min"
	[ "$status" -ne 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *spacetrack_rate* ]]
	[[ "$output" == *5000/min* ]]
	! mountpoint -q "$T/mnt"
	run "$ASTROFS" src "$T/mnt" -o "$OPTS,no_such_option"
	[ "$status" -ne 0 ]
	[[ "$output" == *no_such_option* ]]
	! mountpoint -q "$T/mnt"
}

@test "mount: a credentials file readable by others is refused" {
	chmod 644 "$T/creds"
	run "$ASTROFS" src "$T/mnt" -o "$OPTS"
	[ "$status" -ne 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"$T/creds"* ]]
	! mountpoint -q "$T/mnt"
	run "$ASTROFS" src "$T/mnt" -o "$OPTS,spacetrack_credentials=$T/missing"
	[ "$status" -ne 0 ]
	! mountpoint -q "$T/mnt"
}

@test "mount: an unusable cache directory is refused" {
	touch "$T/notadir"
	run "$ASTROFS" src "$T/mnt" -o "$OPTS,cache_dir=$T/notadir/cache"
	[ "$status" -ne 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *cache_dir* ]]
	! mountpoint -q "$T/mnt"
}

@test "mount: fstab-only options are accepted and ignored" {
	run "$ASTROFS" src "$T/mnt" -o "$OPTS,_netdev,nofail,noauto,x-systemd.automount,x-systemd.mount-timeout=30,comment=x,defaults,nosuid,nodev"
	[ "$status" -eq 0 ]
	mountpoint -q "$T/mnt"
}

@test "mount: -o lists split and unescape as in sshfs (\\, and \\NNN), ';' also separates rate windows" {
	# `\,` keeps a comma inside a value; libfuse's splitter also reads `\NNN`
	# as an octal byte (\054 is a comma), which a hand-written one did not.
	run "$ASTROFS" src "$T/mnt" -o "$OPTS" -o 'spacetrack_rate=20/min\,200/h,fits_buckets=a\054b\,c'
	echo "$output"
	[ "$status" -eq 0 ]
	grep -qx 'spacetrack_rate = 20/min,200/h' "$T/mnt/.astrofs/config"
	grep -qx 'fits_buckets = a,b,c' "$T/mnt/.astrofs/config"
	fusermount3 -u "$T/mnt"
	run "$ASTROFS" src "$T/mnt" -o "$OPTS,spacetrack_rate=30/min;300/h"
	[ "$status" -eq 0 ]
	grep -qx 'spacetrack_rate = 30/min,300/h' "$T/mnt/.astrofs/config"
	fusermount3 -u "$T/mnt"
	# an unescaped comma ends the value: "200/h" alone is then an unknown option
	run "$ASTROFS" src "$T/mnt" -o "$OPTS,spacetrack_rate=20/min,200/h"
	[ "$status" -ne 0 ]
	[[ "$output" == *"unknown option: 200/h"* ]]
	! mountpoint -q "$T/mnt"
}

@test "mount: the config file is read and -o wins" {
	printf '# a comment\ncache_dir = %s\ntimeout = 7\nspacetrack_url = %s\nspacetrack_credentials = %s\n' \
		"$T/cache" "$ST_URL" "$T/creds" >"$T/astrofs.conf"
	run "$ASTROFS" src "$T/mnt" -o "config=$T/astrofs.conf,timeout=9"
	[ "$status" -eq 0 ]
	grep -q '^timeout = 9' "$T/mnt/.astrofs/config"
	grep -q "^cache_dir = $T/cache" "$T/mnt/.astrofs/config"
}

@test "mount: mount -t fuse.astrofs works through mount.fuse3" {
	command -v mount.fuse3 >/dev/null || skip "mount.fuse3 is not installed"
	link_astrofs
	run mount -t fuse.astrofs src "$T/mnt" -o "$OPTS"
	echo "$output"
	[ "$status" -eq 0 ]
	mountpoint -q "$T/mnt"
	expected_day 2019-11-25 tle >"$T/want"
	cmp "$T/mnt/tle/2019/11/25.tle" "$T/want"
}

@test "mount: an fstab line with _netdev,nofail,x-systemd.automount mounts" {
	command -v mount.fuse3 >/dev/null || skip "mount.fuse3 is not installed"
	printf 'astrofs-fstab %s fuse.astrofs _netdev,nofail,noauto,x-systemd.automount,%s 0 0\n' \
		"$T/mnt" "$OPTS" >"$T/fstab"
	link_astrofs
	LIBMOUNT_FSTAB=$T/fstab run mount "$T/mnt"
	echo "$output"
	[ "$status" -eq 0 ]
	mountpoint -q "$T/mnt"
	findmnt -n -o SOURCE "$T/mnt" | grep -q astrofs-fstab
}

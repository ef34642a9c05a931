#!/usr/bin/env bats
# mount-helpers/: mount -t astrofs (mount.astrofs) and mount -t fuse.astrofs
# (Debian's mount.fuse3), the fstab recipe through a test fstab, and the
# systemd units.

load lib

HELPER_SRC=$ROOT/mount-helpers/mount.astrofs
HELPER=/sbin/mount.astrofs
LINK=/usr/local/bin/astrofs

setup() {
	astro_tmp
	mkdir -p "$T/mnt" "$T/cache"
}

teardown() {
	if [ -n "${T:-}" ] && mountpoint -q "$T/mnt" 2>/dev/null; then
		fusermount3 -u "$T/mnt" 2>/dev/null || umount -l "$T/mnt" 2>/dev/null || true
	fi
	[ -n "${T:-}" ] && [ -f "$T/linked" ] && rm -f "$LINK"
	[ -n "${T:-}" ] && [ -f "$T/helper" ] && rm -f "$HELPER"
	cleanup_all
}

# mount(8) runs helpers from /sbin with a fixed PATH, so both the helper and
# astrofs must be where an installation would put them.  Place links for the
# test only where nothing is installed, and remove them after.
place_links() {
	[ "$(id -u)" -eq 0 ] || skip "needs root to place astrofs and mount.astrofs for mount(8)"
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	if [ -e "$LINK" ] && [ "$(readlink "$LINK")" != "$ASTROFS" ]; then
		skip "$LINK exists (a real installation); not replacing it"
	fi
	if [ -e "$HELPER" ] && [ "$(readlink "$HELPER")" != "$HELPER_SRC" ]; then
		skip "$HELPER exists (a real installation); not replacing it"
	fi
	ln -sf "$ASTROFS" "$LINK"
	touch "$T/linked"
	ln -sf "$HELPER_SRC" "$HELPER"
	touch "$T/helper"
}

# Mount options against the space-track stand-in.
stand_in_opts() {
	start_standin
	write_creds
	OPTS="cache_dir=$T/cache,spacetrack_url=$ST_URL,spacetrack_credentials=$T/creds,timeout=10"
}

# The mount answers, is fuse.astrofs with our label, and serves a TLE day
# equal to the one computed independently from the same data.
check_mounted() {
	mountpoint -q "$T/mnt"
	findmnt -n -o FSTYPE,SOURCE "$T/mnt" | grep -q "fuse.astrofs *$1"
	grep -q '^timeout = 10s' "$T/mnt/.astrofs/config"
	if [ -f "$SHARED/data/tle/spacetrack_3le_catalog_2019-12-19.3le" ]; then
		expected_day 2019-11-25 tle >"$T/want"
		cmp "$T/mnt/tle/2019/11/25.tle" "$T/want"
	else
		echo "# shared TLE data absent: content not compared" >&3
		cat "$T/mnt/tle/2019/11/25.tle" >/dev/null
	fi
}

@test "helpers: mount.astrofs is POSIX sh and translates mount(8)'s calling convention" {
	command -v dash >/dev/null && dash -n "$HELPER_SRC"
	if command -v shellcheck >/dev/null; then shellcheck -s sh "$HELPER_SRC"; fi
	place_links
	# -f (mount's "fake") with -v prints the command it would run.
	run "$HELPER" lbl "$T/mnt" -sfnv -o '_netdev,nofail,noauto,x-systemd.automount,comment=x,defaults,user,timeout=5,ro'
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"astrofs lbl $T/mnt -o timeout=5,ro" ]]
	# -s is mount's "sloppy", never astrofs's single-threaded -s.
	[[ "$output" != *" -s"* ]]
	! mountpoint -q "$T/mnt"
	run "$HELPER" lbl
	[ "$status" -ne 0 ]
	[[ "$output" == usage:* ]]
}

@test "helpers: mount -t astrofs works through /sbin/mount.astrofs" {
	require_fuse
	place_links
	stand_in_opts
	run mount -t astrofs astro-helper "$T/mnt" -o "$OPTS,_netdev,nofail"
	echo "$output"
	[ "$status" -eq 0 ]
	check_mounted astro-helper
	umount "$T/mnt"
	! mountpoint -q "$T/mnt"
}

@test "helpers: mount -t fuse.astrofs works through mount.fuse3" {
	require_fuse
	command -v mount.fuse3 >/dev/null || skip "mount.fuse3 is not installed"
	place_links
	stand_in_opts
	run mount -t fuse.astrofs astro-fuse3 "$T/mnt" -o "$OPTS,_netdev,nofail"
	echo "$output"
	[ "$status" -eq 0 ]
	check_mounted astro-fuse3
	umount "$T/mnt"
	! mountpoint -q "$T/mnt"
}

@test "helpers: mount -t astrofs refuses a bad option with one line and mounts nothing" {
	require_fuse
	place_links
	run mount -t astrofs astro-bad "$T/mnt" -o "offline,cache_dir=$T/cache,timeout=soon"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *timeout* ]]
	! mountpoint -q "$T/mnt"
}

@test "helpers: fstab lines with _netdev,nofail,x-systemd.automount parse and mount (both types)" {
	require_fuse
	command -v mount.fuse3 >/dev/null || skip "mount.fuse3 is not installed"
	place_links
	stand_in_opts
	mkdir -p "$T/mnt2"
	printf 'astro-tab1 %s astrofs _netdev,nofail,x-systemd.automount,x-systemd.mount-timeout=60,%s 0 0\n' \
		"$T/mnt" "$OPTS" >"$T/fstab"
	printf 'astro-tab2 %s fuse.astrofs _netdev,nofail,noauto,x-systemd.automount,%s 0 0\n' \
		"$T/mnt2" "$OPTS" >>"$T/fstab"
	run findmnt --verify --tab-file "$T/fstab"
	echo "$output"
	[[ "$output" == *"0 parse errors, 0 errors"* ]]
	LIBMOUNT_FSTAB=$T/fstab run mount "$T/mnt"
	echo "$output"
	[ "$status" -eq 0 ]
	check_mounted astro-tab1
	LIBMOUNT_FSTAB=$T/fstab run mount "$T/mnt2"
	echo "$output"
	[ "$status" -eq 0 ]
	findmnt -n -o SOURCE "$T/mnt2" | grep -q astro-tab2
	umount "$T/mnt2"
	umount "$T/mnt"
}

@test "helpers: systemd turns the documented fstab line into an automount" {
	gen=/lib/systemd/system-generators/systemd-fstab-generator
	[ -x "$gen" ] || skip "systemd-fstab-generator is not installed"
	line=$(grep -m1 '^#astrofs .*x-systemd.automount' "$ROOT/mount-helpers/fstab.example" | sed 's/^#//')
	[ -n "$line" ]
	echo "$line" >"$T/fstab"
	mkdir -p "$T/gen"
	SYSTEMD_FSTAB=$T/fstab run "$gen" "$T/gen" "$T/gen" "$T/gen"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -f "$T/gen/mnt-astro.automount" ]
	[ -e "$T/gen/remote-fs.target.wants/mnt-astro.automount" ]
	grep -q '^Type=fuse.astrofs' "$T/gen/mnt-astro.mount"
}

@test "helpers: the systemd units pass systemd-analyze verify" {
	command -v systemd-analyze >/dev/null || skip "systemd is not installed"
	mkdir -p "$T/units"
	cp "$ROOT/mount-helpers/mnt-astro.mount" "$ROOT/mount-helpers/mnt-astro.automount" "$T/units/"
	# The service names the installed binary; until it is installed, check
	# the same unit pointed at one that exists.
	exe=/usr/bin/astrofs-obssim
	[ -x "$exe" ] || exe=$(command -v true)
	sed "s#^ExecStart=/usr/bin/astrofs-obssim#ExecStart=$exe#" \
		"$ROOT/mount-helpers/astrofs-obssim.service" >"$T/units/astrofs-obssim.service"
	run systemd-analyze verify --man=no "$T/units/mnt-astro.mount" \
		"$T/units/mnt-astro.automount" "$T/units/astrofs-obssim.service"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	command -v systemd-tmpfiles >/dev/null || skip "systemd-tmpfiles is not installed"
	mkdir -p "$T/root"
	run systemd-tmpfiles --create --root="$T/root" "$ROOT/mount-helpers/astrofs.tmpfiles"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(stat -c %a "$T/root/var/cache/astrofs")" = 700 ]
	[ "$(stat -c %a "$T/root/var/lib/astrofs/obs")" = 750 ]
	[ "$(stat -c %a "$T/root/var/lib/astrofs/archive")" = 750 ]
}

@test "helpers: a credentials file others can read is refused through mount -t astrofs and fstab, naming it" {
	require_fuse
	command -v mount.fuse3 >/dev/null || skip "mount.fuse3 is not installed"
	place_links
	stand_in_opts
	chmod 644 "$T/creds"
	run mount -t astrofs astro-creds "$T/mnt" -o "$OPTS"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"$T/creds"* ]]
	! mountpoint -q "$T/mnt"
	printf 'astro-creds %s fuse.astrofs _netdev,nofail,%s 0 0\n' "$T/mnt" "$OPTS" >"$T/fstab"
	LIBMOUNT_FSTAB=$T/fstab run mount "$T/mnt"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"$T/creds"* ]]
	! mountpoint -q "$T/mnt"
	chmod 600 "$T/creds"
	LIBMOUNT_FSTAB=$T/fstab run mount "$T/mnt"
	[ "$status" -eq 0 ]
	mountpoint -q "$T/mnt"
}

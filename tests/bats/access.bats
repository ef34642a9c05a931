#!/usr/bin/env bats
# A second local user on an allow_other mount (the SPEC's own fstab line):
# writable files (/obs/*/command, /satfilter) follow the mount's umask, so
# only their owner (and, with gid= and umask=002, a group) may write; the
# modes are enforced with and without default_permissions.  The stores the
# daemon creates are 0750 with 0640 files.

load lib

OTHER=astrofs-test2

setup_file() {
	[ "$(id -u)" -eq 0 ] || return 0
	if ! id -u "$OTHER" >/dev/null 2>&1; then
		useradd --system --no-create-home --shell /usr/sbin/nologin "$OTHER" &&
			touch "$BATS_FILE_TMPDIR/created-user"
	fi
	return 0
}

teardown_file() {
	[ -f "$BATS_FILE_TMPDIR/created-user" ] && userdel "$OTHER" 2>/dev/null
	return 0
}

setup() {
	require_fuse
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	[ "$(id -u)" -eq 0 ] || skip "needs root to act as a second local user"
	id -u "$OTHER" >/dev/null 2>&1 || skip "cannot create the user $OTHER"
	command -v setpriv >/dev/null || skip "setpriv is not installed"
	astro_tmp
	chmod 755 "$T"	# the other user must reach the mount point
	start_standin
	OUID=$(id -u "$OTHER")
	OGID=$(id -g "$OTHER")
}

teardown() {
	cleanup_all
}

# as UID GID CMD: run a shell command as that user, no supplementary groups.
as() {
	local uid=$1 gid=$2
	shift 2
	setpriv --reuid "$uid" --regid "$gid" --clear-groups -- sh -c "$*"
}

mount_obs() {
	mount_astrofs "allow_other,obs_config=$ROOT/tests/data/obs/sites_good.yml${1:+,$1}"
}

# The checks every mount below must pass for a user who may not write.
refused_to() {
	local uid=$1 gid=$2 jobs
	jobs=$(ls "$T/mnt/obs/site1/jobs" | wc -l)
	run as "$uid" "$gid" "cat '$T/mnt/obs/site1/status' >/dev/null && cat '$T/mnt/obs/sites' >/dev/null"
	[ "$status" -eq 0 ]
	run as "$uid" "$gid" "echo park > '$T/mnt/obs/site1/command'"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
	run as "$uid" "$gid" "exec 5<>'$T/mnt/obs/site1/command'"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
	run as "$uid" "$gid" "exec 5<>'$T/mnt/satfilter'"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
	# Nothing of theirs reached the queue.
	[ "$(ls "$T/mnt/obs/site1/jobs" | wc -l)" -eq "$jobs" ]
}

# allowed_to UID GID: that user queues a command and reads its reply.
allowed_to() {
	run as "$1" "$2" "exec 5<>'$T/mnt/obs/site1/command'; echo park >&5; read -r r <&5; echo \"\$r\""
	[ "$status" -eq 0 ]
	[[ "$output" == "ok "*" park" ]]
}

@test "access: a second user reads /obs but may not command it (umask 022, default_permissions)" {
	mount_obs
	[ "$(stat -c %a "$T/mnt/obs/site1/command")" = 644 ]
	[ "$(stat -c %a "$T/mnt/satfilter")" = 644 ]
	[ "$(stat -c %a "$T/mnt/obs/site1/status")" = 444 ]
	[ "$(stat -c %a "$T/mnt/obs/site1")" = 555 ]
	refused_to "$OUID" "$OGID"
	# The mounting user still commands the telescope.
	allowed_to 0 0
}

@test "access: without default_permissions astrofs checks the modes itself" {
	mount_obs "nodefault_permissions"
	refused_to "$OUID" "$OGID"
	allowed_to 0 0
}

@test "access: the owner given by uid= may write, everyone else may not" {
	for dp in "" ",nodefault_permissions"; do
		mount_obs "uid=$OUID$dp"
		[ "$(stat -c %u "$T/mnt/obs/site1/command")" = "$OUID" ]
		allowed_to "$OUID" "$OGID"
		refused_to 65534 65534
		unmount_astrofs
	done
}

@test "access: gid= with umask=002 lets that group write" {
	for dp in "" ",nodefault_permissions"; do
		mount_obs "gid=$OGID,umask=002$dp"
		[ "$(stat -c %a "$T/mnt/obs/site1/command")" = 664 ]
		allowed_to "$OUID" "$OGID"
		refused_to 65534 65534
		unmount_astrofs
	done
}

@test "access: umask=000 lets every user write (documented)" {
	mount_obs "umask=000"
	[ "$(stat -c %a "$T/mnt/obs/site1/command")" = 666 ]
	allowed_to "$OUID" "$OGID"
}

@test "access: archive_dir and obs_store are created 0750 with 0640 files" {
	mount_obs
	allowed_to 0 0
	[ "$(stat -c %a "$T/archive")" = 750 ]
	for f in "$T"/archive/*.mdb; do
		[ "$(stat -c %a "$f")" = 640 ]
	done
	[ "$(stat -c %a "$T/obs")" = 750 ]
	[ "$(stat -c %a "$T/obs/db")" = 750 ]
	ls "$T"/obs/db/*.mdb >/dev/null
	for f in "$T"/obs/db/*.mdb; do
		[ "$(stat -c %a "$f")" = 640 ]
	done
	# The other user cannot read them.
	run as "$OUID" "$OGID" "cat '$T/obs/db/data.mdb' >/dev/null"
	[ "$status" -ne 0 ]
}

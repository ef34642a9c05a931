#!/usr/bin/env bats
# /telemetry and /obs through a real mount: what the unit suites check on
# the providers directly, here through the kernel and ordinary tools.

load lib
source "$BATS_TEST_DIRNAME/../lib/obs_mount.bash"

setup() {
	require_fuse
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	astro_tmp
	start_standin
}

teardown() {
	[ -f "$T/sim.pid" ] && { kill "$(cat "$T/sim.pid")" 2>/dev/null; sleep 0.2; kill -9 "$(cat "$T/sim.pid")" 2>/dev/null; }
	# A mount of another user (no allow_other) is not even stat-able by
	# root, so lib's mountpoint check misses it.
	[ -n "${T:-}" ] && grep -q " $T/mnt " /proc/mounts && umount -l "$T/mnt"
	cleanup_all
}

JWST=$SHARED/data/telemetry/jwst_edb

@test "telemetry: ingested JWST samples read back exactly through the mount" {
	[ -d "$JWST/engdb_2021_groundtest" ] || skip "../shared/data/telemetry is not present"
	"$ROOT/build/astrofs-ingest" --quiet --create --archive "$T/archive" "$JWST"/engdb_2021_groundtest/*.json
	mount_astrofs
	grep -q '^SA_ZATTEST1,' "$T/mnt/telemetry/INDEX.csv"
	# Values and times equal the independently derived CSV.
	tail -n +2 "$JWST/derived_csv/engdb_2021_groundtest__SA_ZATTEST1.csv" | cut -d, -f3,4 >"$T/want"
	tail -n +2 "$T/mnt/telemetry/SA_ZATTEST1.csv" | cut -d, -f1,3 >"$T/got"
	diff "$T/want" "$T/got"
	# Exact st_size: tail, dd skip= and wc agree with a full read.
	f=$T/mnt/telemetry/SA_ZATTEST1.csv
	[ "$(stat -c %s "$f")" -eq "$(cat "$f" | wc -c)" ]
	[ "$(tail -n 1 "$f")" = "$(cat "$f" | tail -n 1)" ]
	[ "$(dd if="$f" bs=1 skip=20 count=30 status=none)" = "$(cat "$f" | cut -c 1- | head -c 50 | tail -c 30)" ]
	head -1 "$T/mnt/telemetry/SA_ZATTEST1.daily.csv" | grep -q '^date,secs,index,samples,min,max,mean,midval,std,p01'
	# Any case, any range.
	first=$(sed -n 2p "$f" | cut -d, -f1)
	[ "$(sed -n 2p "$T/mnt/telemetry/sa_zattest1@${first}..2030:001.csv")" = "$(sed -n 2p "$f")" ]
	[ "$(st_count requests)" -eq 0 ]
}

@test "telemetry: a reader keeps its snapshot while ingest runs" {
	printf 'msid,time,value\nXTEST,2024:001:00:00:00.000,1.5\nXTEST,2024:001:00:01:00.000,2.5\n' >"$T/a.csv"
	printf 'msid,time,value\nXTEST,2024:001:00:02:00.000,3.5\n' >"$T/b.csv"
	"$ROOT/build/astrofs-ingest" --quiet --create --archive "$T/archive" "$T/a.csv"
	mount_astrofs
	exec 7<"$T/mnt/telemetry/XTEST.csv"
	before=$(stat -c %s "$T/mnt/telemetry/XTEST.csv")
	"$ROOT/build/astrofs-ingest" --quiet --archive "$T/archive" "$T/b.csv"
	old=$(cat <&7)
	exec 7<&-
	[ "$(printf '%s\n' "$old" | wc -l)" -eq 3 ]
	[ "$(printf '%s\n' "$old" | wc -c)" -eq "$before" ]
	sleep 1.2	# kernel attribute cache
	[ "$(cat "$T/mnt/telemetry/XTEST.csv" | wc -l)" -eq 4 ]
	[ "$(stat -c %s "$T/mnt/telemetry/XTEST.csv")" -eq "$(cat "$T/mnt/telemetry/XTEST.csv" | wc -c)" ]
	# A bad file is refused whole and changes nothing.
	printf 'msid,time,value\nXTEST,2024:001:00:03:00.000,4\nXTEST,not-a-time,5\n' >"$T/bad.csv"
	run "$ROOT/build/astrofs-ingest" --archive "$T/archive" "$T/bad.csv"
	[ "$status" -ne 0 ]
	[[ "$output" == *"line 3"* ]]
	[ "$(cat "$T/mnt/telemetry/XTEST.csv" | wc -l)" -eq 4 ]
}

@test "telemetry: an unchanged file is re-read from the page cache, a changed one never" {
	printf 'msid,time,value\nXKEEP,2024:001:00:00:00.000,1\nXKEEP,2024:001:00:01:00.000,2\n' >"$T/a.csv"
	printf 'msid,time,value\nXKEEP,2024:001:00:02:00.000,3\n' >"$T/b.csv"
	"$ROOT/build/astrofs-ingest" --quiet --create --archive "$T/archive" "$T/a.csv"
	mount_astrofs
	f=$T/mnt/telemetry/XKEEP.csv
	one=$(cat "$f")
	[ "$(cat "$f")" = "$one" ]
	[ "$(printf '%s\n' "$one" | wc -l)" -eq 3 ]
	"$ROOT/build/astrofs-ingest" --quiet --archive "$T/archive" "$T/b.csv"
	sleep 1.2	# kernel attribute cache
	two=$(cat "$f")
	[ "$(printf '%s\n' "$two" | wc -l)" -eq 4 ]
	[ "$(cat "$f")" = "$two" ]
	[[ "$two" == *",3" ]]
}

sites() {
	cat >"$T/sites.yml" <<YML
Sites:
  site1:
    name: Test Hill
    lat: 34.34
    lng: -119.68
    elevation: 317.8
    tz: America/Los_Angeles
YML
}

start_sim() {
	"$ROOT/build/astrofs-obssim" --config "$T/sites.yml" --store "$T/obs" --time-scale 0 \
		--status-interval 0.2 "$@" 2>"$T/sim.log" &
	echo $! >"$T/sim.pid"
}

@test "obs: expose through the mount completes, lists a FITS and its JPEG preview, moves latest" {
	sites
	mkdir -p "$T/obs"
	mount_astrofs "obs_config=$T/sites.yml"
	start_sim
	grep -q '^site1' "$T/mnt/obs/sites"
	img=$(expose_through_mount "$T/mnt" site1)
	[ "$(head -c 9 "$T/mnt/obs/site1/images/$img")" = "SIMPLE  =" ]
	[ $(( $(stat -c %s "$T/mnt/obs/site1/images/$img") % 2880 )) -eq 0 ]
	head -c 2 "$T/mnt/obs/site1/images/${img%.fits}.jpg" | od -An -tx1 | grep -q 'ff d8'
	tail -c 2 "$T/mnt/obs/site1/images/${img%.fits}.jpg" | od -An -tx1 | grep -q 'ff d9'
	jq -e '.freshness == "fresh"' "$T/mnt/obs/site1/status"
}

@test "obs: an invalid line fails the write with EINVAL and queues nothing" {
	sites
	mkdir -p "$T/obs"
	mount_astrofs "obs_config=$T/sites.yml"
	# One write(2) (cat), as the contract is per write; bash's printf may
	# split its output into a write per line.
	printf 'park\nfly me to the moon\n' >"$T/cmds"
	run bash -c "cat '$T/cmds' > '$T/mnt/obs/site1/command'"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Invalid argument"* ]]
	# An unterminated invalid last line is refused at close.
	printf 'goto ra=99 dec=0' >"$T/cmds"
	run bash -c "cat '$T/cmds' > '$T/mnt/obs/site1/command'"
	[ "$status" -ne 0 ]
	[ "$(ls "$T/mnt/obs/site1/jobs" | wc -l)" -eq 0 ]
	# goto while parked is REJECTED with a reason by the site.
	start_sim
	exec 7<>"$T/mnt/obs/site1/command"
	printf 'goto ra=5.5 dec=-20\n' >&7
	read -r r <&7
	exec 7>&-
	job=$(echo "$r" | awk '{print $2}')
	for _ in $(seq 1 100); do
		state=$(jq -r .state "$T/mnt/obs/site1/jobs/$job" 2>/dev/null)
		[ "$state" = REJECTED ] && break
		sleep 0.1
	done
	[ "$state" = REJECTED ]
	cat "$T/mnt/obs/site1/jobs/$job"
	grep -q park "$T/mnt/obs/site1/jobs/$job"
}

# bigwrite MNT: one write(2) of 3 MB (comments, 40 commands, an invalid last
# line) on one handle, the rest retried as write(2) loops do, then the
# replies; prints "<first write's return> <retry's errno> <lines>" and the
# replies.
bigwrite() {
	/usr/bin/python3 - "$1" <<'PY'
import errno, os, sys
lines = []
while sum(map(len, lines)) < 3_000_000:
    lines.append("# filler, a comment line that queues nothing\n")
    if len(lines) % 2000 == 0:
        lines.append("park\n")
lines.append("goto ra=99 dec=0\n")
data = "".join(lines).encode()
fd = os.open(sys.argv[1] + "/obs/site1/command", os.O_RDWR)
try:
    n = os.write(fd, data)
except OSError as e:
    n = -e.errno
try:
    os.write(fd, data[max(n, 0):])
    e2 = 0
except OSError as e:
    e2 = e.errno
print(n, errno.errorcode.get(e2, e2), len(lines))
sys.stdout.write(os.read(fd, 65536).decode())
PY
}

@test "obs: a write larger than a FUSE request is one write: all or nothing, lines counted from its start" {
	sites
	mount_astrofs "obs_config=$T/sites.yml"
	run bigwrite "$T/mnt"
	echo "$output"
	read -r n e2 nlines <<<"${lines[0]}"
	# The kernel split it; the piece with the bad line failed, so write(2)
	# was short and its retried rest failed with EINVAL.
	[ "$n" -gt 0 ] && [ "$n" -lt 3000000 ]
	[ "$e2" = EINVAL ]
	[[ "$output" == *"err line $nlines: goto: ra '99' not in hours"* ]]
	[[ "$output" != *"ok "* ]]
	[ "$(ls "$T/mnt/obs/site1/jobs" | wc -l)" -eq 0 ]
}

@test "obs: 100 MB of 'stop' in one write fails whole (EDQUOT) and leaves the store small" {
	sites
	mount_astrofs "obs_config=$T/sites.yml"
	run /usr/bin/python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
try:
    print(os.write(fd, b"stop\n" * 20_000_000))
except OSError as e:
    print(os.strerror(e.errno))' "$T/mnt/obs/site1/command"
	echo "$output"
	[ "$output" = "Disk quota exceeded" ]
	[ "$(ls "$T/mnt/obs/site1/jobs" | wc -l)" -eq 0 ]
	[ "$(du -sk "$T/obs" | cut -f1)" -lt 4096 ]
	# The cap is per site and an option; within it a write is taken.
	unmount_astrofs
	mount_astrofs "obs_config=$T/sites.yml,obs_max_pending=2"
	printf 'park\nunpark\npark\n' >"$T/cmds"	# one write(2), by cat
	run bash -c "cat '$T/cmds' > '$T/mnt/obs/site1/command'"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Disk quota exceeded"* ]]
	[ "$(ls "$T/mnt/obs/site1/jobs" | wc -l)" -eq 0 ]
	printf 'park\nunpark\n' >"$T/cmds"
	cat "$T/cmds" >"$T/mnt/obs/site1/command"
	[ "$(ls "$T/mnt/obs/site1/jobs" | wc -l)" -eq 2 ]
	# The queue is full: one more command waits for the site to take one.
	run bash -c "echo stop > '$T/mnt/obs/site1/command'"
	[ "$status" -ne 0 ]
	[ "$(ls "$T/mnt/obs/site1/jobs" | wc -l)" -eq 2 ]
}

@test "obs: tail -f of status and sites sees a stable size, no 'file truncated', and reopening sees new content" {
	command -v tail >/dev/null || skip "tail is not installed"
	sites
	mount_astrofs "obs_config=$T/sites.yml"
	f=$T/mnt/obs/site1/status
	# Exact size per version: stat agrees with a read (fetched_at may tick
	# in between, its width does not change).
	[ "$(stat -c %s "$f")" -eq "$(cat "$f" | wc -c)" ]
	[ "$(stat -c %s "$T/mnt/obs/sites")" -eq "$(cat "$T/mnt/obs/sites" | wc -c)" ]
	# Nothing published, the clock moves: tail polls ~3 times.
	timeout 3.5 tail -f "$f" >"$T/tail.out" 2>"$T/tail.err" || true
	timeout 3.5 tail -f "$T/mnt/obs/sites" >"$T/tail2.out" 2>>"$T/tail.err" || true
	cat "$T/tail.err"
	! grep -q truncated "$T/tail.err"
	grep -q '"freshness": "never"' "$T/tail.out"
	grep -q '^site1	-	never$' "$T/tail2.out"
	# The site starts publishing while tail follows: still no truncation
	# notice, and a new open (watch cat) sees the new content.
	timeout 4 tail -f "$f" >"$T/tail.out" 2>"$T/tail.err" &
	tpid=$!
	sleep 1
	start_sim
	for _ in $(seq 1 50); do
		jq -e '.freshness == "fresh"' "$f" >/dev/null 2>&1 && break
		sleep 0.1
	done
	jq -e '.freshness == "fresh"' "$f"
	wait "$tpid" || true
	cat "$T/tail.err"
	! grep -q truncated "$T/tail.err"
	grep -q '^site1	[0-9]*	fresh$' "$T/mnt/obs/sites"
}

@test "obs: with a relative XDG_DATA_HOME the daemon and the simulator pick the same default store" {
	# The default store depends on the user (root: /var/lib/astrofs/obs,
	# whatever XDG says), so as root run both as nobody.
	local run_as=()
	if [ "$(id -u)" -eq 0 ]; then
		command -v setpriv >/dev/null || skip "setpriv is not installed"
		run_as=(setpriv --reuid nobody --regid nogroup --clear-groups --)
		# Some machines keep /dev/fuse to root (mode 0600, not Debian's
		# 0666): an unprivileged user cannot mount there at all.
		"${run_as[@]}" test -r /dev/fuse -a -w /dev/fuse ||
			skip "an unprivileged user cannot open /dev/fuse here ($(stat -c %a /dev/fuse))"
	fi
	sites
	write_creds
	mkdir -p "$T/home" "$T/cwd" "$T/mnt" "$T/cache"
	chmod 755 "$T"
	[ "$(id -u)" -ne 0 ] || chown nobody:nogroup "$T/home" "$T/cwd" "$T/mnt" "$T/cache" "$T/creds"
	# Relative XDG_DATA_HOME is invalid (XDG base directory spec): both
	# ignore it and use $HOME/.local/share.
	(cd "$T/cwd" && HOME=$T/home XDG_DATA_HOME=rel exec "${run_as[@]}" "$ASTROFS" astrofs-test "$T/mnt" -f \
		-o "cache_dir=$T/cache,spacetrack_url=$ST_URL,spacetrack_credentials=$T/creds,timeout=10,obs_config=$T/sites.yml" \
		2>>"$T/astrofs.log") &
	echo $! >"$T/astrofs.pid"
	for _ in $(seq 1 100); do grep -q " $T/mnt " /proc/mounts && break; sleep 0.1; done
	(cd "$T/cwd" && HOME=$T/home XDG_DATA_HOME=rel exec "${run_as[@]}" "$ROOT/build/astrofs-obssim" \
		--config "$T/sites.yml" --time-scale 0 --status-interval 0.2 2>"$T/sim.log") &
	echo $! >"$T/sim.pid"
	# The mount is the user's own (no allow_other): look through it as them.
	"${run_as[@]}" bash -c "source '$BATS_TEST_DIRNAME/../lib/obs_mount.bash' && expose_through_mount '$T/mnt' site1" \
		>/dev/null || { cat "$T/sim.log" "$T/astrofs.log" >&2; false; }
	grep -q "store $T/home/.local/share/astrofs/obs" "$T/sim.log"
	[ -d "$T/home/.local/share/astrofs/obs/db" ]
	[ ! -e "$T/cwd/rel" ]
}

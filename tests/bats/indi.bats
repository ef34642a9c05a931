#!/usr/bin/env bats
# An INDI site through a real mount: astrofs-obssim drives Debian's INDI
# simulators (indiserver + indi_simulator_telescope + indi_simulator_ccd).
# indiserver binds every interface and has no option against it, so it and
# the simulator run in a network namespace of their own where only
# loopback exists; each run has its own -u socket path and HOME (the
# drivers write ~/.indi).  The mount itself needs no network and stays
# outside.  Every wait is bounded; teardown stops everything started.

load lib

setup() {
	require_fuse
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	command -v indiserver >/dev/null && command -v indi_simulator_ccd >/dev/null ||
		skip "indi-bin is not installed"
	command -v unshare >/dev/null && command -v nsenter >/dev/null || skip "util-linux unshare/nsenter missing"
	astro_tmp
	mkdir -p "$T/home" "$T/obs"
	touch "$T/netns"
	# A persistent namespace bound to a file, so several processes join it.
	unshare --net="$T/netns" ip link set lo up 2>"$T/netns.err" ||
		{ rm -f "$T/netns"; skip "cannot make a network namespace: $(cat "$T/netns.err")"; }
	start_standin
	cat >"$T/sites.yml" <<YML
Sites:
  obs1:
    name: INDI Hill
    lat: 34.34
    lng: -119.68
    elevation: 317.8
    indi: 127.0.0.1:7624
YML
}

teardown() {
	stop_group sim
	stop_group indi
	cleanup_netns
	cleanup_all
}

in_ns() { nsenter --net="$T/netns" "$@"; }

# nsenter execs the program (no fork for a network namespace alone), so
# $! is the program itself; stop_group also stops its children (the
# drivers), by parent id.
start_indi() {
	in_ns env HOME="$T/home" indiserver -p 7624 -u "$T/indi.sock" \
		indi_simulator_telescope indi_simulator_ccd >>"$T/indi.log" 2>&1 &
	echo $! >"$T/indi.pid"
}

start_obssim() {
	in_ns "$ROOT/build/astrofs-obssim" --config "$T/sites.yml" --store "$T/obs" \
		--status-interval 0.3 >>"$T/sim.log" 2>&1 &
	echo $! >"$T/sim.pid"
}

stop_group() {
	local f=$T/$1.pid pid
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	pkill -TERM -P "$pid" 2>/dev/null || true
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	pkill -KILL -P "$pid" 2>/dev/null || true
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	rm -f "$f"
}

cleanup_netns() {
	[ -n "${T:-}" ] && [ -e "$T/netns" ] || return 0
	umount "$T/netns" 2>/dev/null || true
	rm -f "$T/netns"
}

# cmd LINE: one command through the mount's command file; prints its id.
cmd() {
	local r
	exec 7<>"$T/mnt/obs/obs1/command"
	printf '%s\n' "$1" >&7
	read -r r <&7
	exec 7>&-
	[[ "$r" == ok* ]] || { echo "reply to '$1': $r" >&2; return 1; }
	echo "$r" | awk '{print $2}'
}

# wait_job ID STATE [SECONDS]: through the mount.
wait_job() {
	local s n=$(( ${3:-60} * 5 ))
	for _ in $(seq 1 "$n"); do
		s=$(jq -r .state "$T/mnt/obs/obs1/jobs/$1" 2>/dev/null)
		[ "$s" = "$2" ] && return 0
		case $s in COMPLETE|FAILED|CANCELED|REJECTED|EXPIRED) break ;; esac
		sleep 0.2
	done
	echo "job $1 is '$s', wanted $2" >&2
	cat "$T/mnt/obs/obs1/jobs/$1" >&2
	tail -20 "$T/sim.log" >&2
	return 1
}

# wait_status JQ [TRIES]: the site's status (through the mount) satisfies
# JQ within TRIES tenths of a second (default 50: about 5 s).
wait_status() {
	for _ in $(seq 1 "${2:-50}"); do
		jq -e "$1" "$T/mnt/obs/obs1/status" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	jq -e "$1" "$T/mnt/obs/obs1/status"
}

start_all() {
	start_indi
	mount_astrofs "obs_config=$T/sites.yml"
	start_obssim
	wait_status '.record.indi_connected == "True"' || { cat "$T/sim.log" "$T/indi.log" >&2; return 1; }
}

@test "indi: unpark, goto, expose -> COMPLETE with the camera's FITS at the pointing; park; goto while parked FAILS with the device's message" {
	start_all
	u=$(cmd unpark)
	wait_job "$u" COMPLETE
	g=$(cmd 'goto ra=5:35:17 dec=-5:23:28')
	wait_job "$g" COMPLETE 90
	e=$(cmd 'expose 1')
	wait_job "$e" COMPLETE
	img=$(jq -r .result.image "$T/mnt/obs/obs1/jobs/$e")
	[[ "$img" == *.fits ]]
	[ "$(readlink "$T/mnt/obs/obs1/images/latest")" = "$img" ]
	[ -f "$T/mnt/obs/obs1/images/${img%.fits}.jpg" ]
	head -c 2 "$T/mnt/obs/obs1/images/${img%.fits}.jpg" | od -An -tx1 | grep -q 'ff d8'
	# The camera's own header points where the goto went (J2000), within 0.2 deg.
	/usr/bin/python3 - "$T/mnt/obs/obs1/images/$img" <<'PY'
import sys, warnings
from astropy.io import fits
from astropy.coordinates import SkyCoord
import astropy.units as u
warnings.simplefilter("ignore")
h = fits.getheader(sys.argv[1])
got = SkyCoord(h["RA"] * u.deg, h["DEC"] * u.deg)
want = SkyCoord("5h35m17s", "-5d23m28s")
sep = got.separation(want).deg
print("separation", sep, "deg")
assert sep < 0.2, (h["RA"], h["DEC"], sep)
assert h["EXPTIME"] == 1.0
PY
	# The status reports the mount from its properties (J2000).
	jq -e '.record.mnt1_is_parked == "False" and .record.mnt1_is_tracking == "True"' \
		"$T/mnt/obs/obs1/status"
	/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["record"]; assert abs(float(r["mnt1_ra"])-5.588)<0.02 and abs(float(r["mnt1_dec"])+5.391)<0.2, r' \
		"$T/mnt/obs/obs1/status"
	p=$(cmd park)
	wait_job "$p" COMPLETE 90
	jq -e '.record.mnt1_is_parked == "True"' "$T/mnt/obs/obs1/status"
	g2=$(cmd 'goto ra=1 dec=10')
	wait_job "$g2" FAILED
	jq -r .message "$T/mnt/obs/obs1/jobs/$g2" | grep -qi 'unpark'
}

@test "indi: an exposure the driver refuses FAILS with its message; stop aborts an exposure; tracking off" {
	start_all
	e=$(cmd 'expose 0.001')
	wait_job "$e" FAILED
	jq -r .message "$T/mnt/obs/obs1/jobs/$e" | grep -q 'out of bounds'
	# The site goes on.
	e2=$(cmd 'expose 0.01')
	wait_job "$e2" COMPLETE
	# stop preempts a running exposure and aborts it on the camera.
	e3=$(cmd 'expose 60')
	wait_job "$e3" STARTED
	wait_status '.record.cam1_is_exposing == "True"'
	st=$(cmd stop)
	wait_job "$e3" CANCELED
	wait_job "$st" COMPLETE
	jq -r .message "$T/mnt/obs/obs1/jobs/$e3" | grep -q "stopped by $st"
	wait_status '.record.cam1_is_exposing == "False"'
	# tracking follows TELESCOPE_TRACK_STATE.
	u=$(cmd unpark)
	wait_job "$u" COMPLETE
	t=$(cmd 'tracking off')
	wait_job "$t" COMPLETE
	wait_status '.record.mnt1_is_tracking == "False"'
}

@test "indi: the server killed mid-exposure fails the job, the status goes stale, the site recovers" {
	start_all
	e=$(cmd 'expose 5')
	wait_job "$e" STARTED
	stop_group indi
	wait_job "$e" FAILED
	jq -r .message "$T/mnt/obs/obs1/jobs/$e" | grep -q 'connection lost'
	# Commands sent while it is away wait: nothing queued is lost.
	q=$(cmd 'expose 0.5')
	sleep 3
	s=$(jq -r .state "$T/mnt/obs/obs1/jobs/$q")
	[ "$s" = SENT ] || [ "$s" = QUEUED ]
	# The status stops advancing: its age grows, and it says why.
	jq -e '.record.indi_connected == "False" and .age_s >= 2' "$T/mnt/obs/obs1/status"
	start_indi
	wait_job "$q" COMPLETE 60
	wait_status '.record.indi_connected == "True" and .age_s < 2'
}

@test "indi: the server killed -> the site reads stale within seconds, not after stale_after_s; fresh again after reconnect" {
	start_all
	wait_status '.freshness == "fresh" and (has("stale_reason") | not)'
	grep -q $'^obs1\t[0-9]*\tfresh$' "$T/mnt/obs/sites"
	stop_group indi
	# Well under the 600 s threshold: the site's own word that it has lost
	# its server (wait_status gives it about 5 s).
	wait_status '.freshness == "stale" and .age_s < 60 and .stale_after_s == 600 and
		(.stale_reason | test("INDI server"))'
	grep -q $'^obs1\t[0-9]*\tstale$' "$T/mnt/obs/sites"
	start_indi
	# Reconnects with backoff (at most 10 s) and is fresh again.
	wait_status '.freshness == "fresh" and .record.indi_connected == "True" and
		(has("stale_reason") | not)' 150
	grep -q $'^obs1\t[0-9]*\tfresh$' "$T/mnt/obs/sites"
	# And it works: a command completes.
	e=$(cmd 'expose 0.01')
	wait_job "$e" COMPLETE
}

@test "indi: a device that does not answer within the command's deadline FAILS the job and the site reads stale, until it answers again" {
	start_all
	# The telescope driver stopped (SIGSTOP): indiserver takes the command,
	# nothing answers it.  The driver is found among this run's server's
	# children only.
	tel=$(pgrep -P "$(cat "$T/indi.pid")" -f indi_simulator_telescope)
	[ -n "$tel" ]
	kill -STOP "$tel"
	t=$(cmd 'tracking on')
	wait_job "$t" FAILED 40
	jq -r .message "$T/mnt/obs/obs1/jobs/$t" | grep -q 'no answer from'
	wait_status '.freshness == "stale" and .record.indi_connected == "True" and
		.record.indi_responsive == "False" and (.stale_reason | test("deadline"))'
	kill -CONT "$tel"
	wait_status '.freshness == "fresh" and .record.indi_responsive == "True" and
		(has("stale_reason") | not)' 150
}

# Shared by the /obs benchmarks (obs.sh, indi.sh): stopping what they
# started and undoing the mount, on any exit.  Set B (the scratch dir) and
# the *_PID variables before an exit can happen.

# stop_pid PID: TERM it and its children (INDI drivers), bounded, then KILL.
stop_pid() {
	local pid=$1
	[ -n "$pid" ] || return 0
	pkill -TERM -P "$pid" 2>/dev/null || true
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	pkill -KILL -P "$pid" 2>/dev/null || true
	kill -9 "$pid" 2>/dev/null || true
}

cleanup() {
	stop_pid "${SIM_PID:-}"
	if mountpoint -q "$B/mnt" 2>/dev/null; then
		fusermount3 -u "$B/mnt" 2>/dev/null || fusermount3 -uz "$B/mnt" 2>/dev/null || true
	fi
	stop_pid "${FS_PID:-}"
	stop_pid "${INDI_PID:-}"
	rm -rf "$B"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

median() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }

# Sourced by the stand-in start/stop scripts: stop_pid PID — SIGTERM, then
# SIGKILL after 5 s; returns once the process is gone (or was never there).
stop_pid() {
	local pid=$1
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
}

# Shared by the obssim bats suites (obs.bats: local store, obs_aws.bats: aws
# backend): run astrofs-obssim against the store named by the array
# SIM_STORE (e.g. (--store DIR) or (--backend aws ...)), log in $T/sim.log.
# Every wait is bounded; stop_sim always reaps what start_sim started.

# No test reaches the real instance metadata service (169.254.169.254).
export AWS_EC2_METADATA_DISABLED=true

start_sim() {
	"$SIM" "${SIM_STORE[@]}" --config "$CONF" --status-interval 0.5 "$@" \
		>>"$T/sim.log" 2>&1 3>&- &
	SIM_PID=$!
}

stop_sim() {
	local sig=${1:-TERM}
	[ -n "${SIM_PID:-}" ] || return 0
	kill -"$sig" "$SIM_PID" 2>/dev/null || true
	for _ in $(seq 1 100); do kill -0 "$SIM_PID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$SIM_PID" 2>/dev/null || true
	wait "$SIM_PID" 2>/dev/null || true
	SIM_PID=
}

# enqueue SITE LINE... -> prints the ids, one per line
enqueue() {
	local out
	out=$("$SIM" "${SIM_STORE[@]}" --enqueue "$@") || { echo "$out" >&2; return 1; }
	echo "$out" | awk '$1 == "ok" { print $2 }'
}

state_of() {
	"$SIM" "${SIM_STORE[@]}" --show "$1" "$2" | sed -n 's/^  "state": "\([A-Z]*\)",*$/\1/p'
}

# wait_state SITE ID STATE: up to about 20 s
wait_state() {
	local s
	for _ in $(seq 1 200); do
		s=$(state_of "$1" "$2")
		[ "$s" = "$3" ] && return 0
		sleep 0.1
	done
	echo "job $2 is '$s', wanted $3" >&2
	"$SIM" "${SIM_STORE[@]}" --show "$1" "$2" >&2
	cat "$T/sim.log" >&2
	return 1
}

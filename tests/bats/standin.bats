#!/usr/bin/env bats
# The space-track stand-in (tests/standin/spacetrack.py) that mount tests and
# benchmarks rely on: its own unittest suite must pass before anything uses it.

@test "space-track stand-in self-test" {
	cd "$BATS_TEST_DIRNAME/../.."
	run timeout 300 python3 -m unittest -v tests/standin/test_spacetrack.py
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

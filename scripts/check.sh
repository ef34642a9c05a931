#!/bin/bash
# `make check`: the whole suite.  Every stage runs even if an earlier one
# failed, so one run shows everything; the last line is the summary.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
export RESULTS=$PWD/build/results.txt
: > "$RESULTS"
stage() {
	local name=$1; shift
	local before after
	echo "=== $name"
	before=$(grep -c '^FAIL' "$RESULTS" || true)
	if ! "$@"; then
		after=$(grep -c '^FAIL' "$RESULTS" || true)
		# A stage that failed without naming a test counts once.
		[ "$after" -gt "$before" ] || echo "FAIL stage: $name" >> "$RESULTS"
	fi
}
stage build       make -s all $(ls tests/unit/test_*.c 2>/dev/null | sed 's#tests/unit/\(.*\)\.c#build/tests/\1#')
stage banned      scripts/banned.sh
stage layers      scripts/layers.sh
stage names       scripts/names.sh
stage unit        scripts/run-unit.sh build
stage asan-unit   make -s asan-unit
stage fuzz        make -s fuzz-check FUZZ_SECONDS=${FUZZ_SECONDS:-15}
stage bats        scripts/run-bats.sh
passed=$(grep -c '^PASS' "$RESULTS" || true)
failed=$(grep -c '^FAIL' "$RESULTS" || true)
skipped=$(grep -c '^SKIP' "$RESULTS" || true)
if [ "$failed" -gt 0 ]; then
	echo "--- failures:"; grep '^FAIL' "$RESULTS"
fi
if [ "$skipped" -gt 0 ]; then
	echo "--- skipped:"; grep '^SKIP' "$RESULTS"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]

#!/bin/bash
# Run every cmocka suite in $1/tests with TAP output; append results to
# $RESULTS (default $1/results.txt) as "PASS|FAIL|SKIP <name>" lines.
set -uo pipefail
B=${1:-build}
RESULTS=${RESULTS:-$B/results.txt}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(cd "$(dirname "$0")/.." && pwd)/tests/lsan.supp}
export CMOCKA_MESSAGE_OUTPUT=TAP
# ../shared beside the checkout (CI), else the one beside the main tree.
ASTRO_SHARED=${ASTRO_SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
export ASTRO_SHARED
fail=0
for t in "$B"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	out=$(timeout 600 "$t" 2>&1); rc=$?
	printf '%s\n' "$out" | sed "s/^/[$B] /"
	oks=$(printf '%s\n' "$out" | grep -cE '^ok [0-9]+' || true)
	bads=$(printf '%s\n' "$out" | grep -E '^not ok [0-9]+' | grep -cvi '# skip' || true)
	printf '%s\n' "$out" | grep -E '^(not )?ok [0-9]+' | while read -r line; do
		# cmocka reports a skipped test as "not ok N # SKIP name".
		case "$line" in
		*"# SKIP"*|*"# skip"*) echo "SKIP $B/$name: ${line#*ok }" ;;
		"not ok"*) echo "FAIL $B/$name: ${line#not ok }" ;;
		*) echo "PASS $B/$name: ${line#ok }" ;;
		esac
	done >> "$RESULTS"
	if [ $rc -ne 0 ] && [ "$bads" -eq 0 ]; then
		echo "FAIL $B/$name: exited $rc" >> "$RESULTS"; fail=1
	fi
	[ "$bads" -gt 0 ] && fail=1
	[ "$oks" -eq 0 ] && [ "$bads" -eq 0 ] && [ $rc -eq 0 ] && echo "FAIL $B/$name: ran no test" >> "$RESULTS" && fail=1
done
exit $fail

#!/bin/bash
# Run each libFuzzer target for $1 seconds from its seed corpus
# (tests/fuzz/corpus/<target>/ when present); a crash is a failure.
set -uo pipefail
secs=${1:-20}
RESULTS=${RESULTS:-build/results.txt}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(cd "$(dirname "$0")/.." && pwd)/tests/lsan.supp}
fail=0
for f in build-fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	work=$(mktemp -d)
	mkdir -p "$work/corpus"
	seeds=tests/fuzz/corpus/$name
	[ -d "$seeds" ] || seeds=
	if (cd "$work" && timeout $((secs + 60)) "$OLDPWD/$f" -max_total_time="$secs" -rss_limit_mb=2048 \
	      -print_final_stats=0 corpus $( [ -n "$seeds" ] && echo "$OLDPWD/$seeds") ) >"$work/log" 2>&1 \
	      ; then
		echo "PASS fuzz: $name ($secs s)" >> "$RESULTS"
		echo "ok fuzz $name"
	else
		echo "FAIL fuzz: $name (see below)" >> "$RESULTS"
		echo "not ok fuzz $name"; tail -40 "$work/log"; fail=1
	fi
	rm -rf "$work"
done
exit $fail

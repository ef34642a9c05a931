#!/bin/bash
# Run the mount-level bats suites with TAP output and record results.
set -uo pipefail
cd "$(dirname "$0")/.."
RESULTS=${RESULTS:-build/results.txt}
export ASTRO_SHARED=${ASTRO_SHARED:-$(cd .. && pwd)/shared}
# Tests never reach for the real instance metadata service at 169.254.169.254;
# tests/bats/awscred.bats points its own at a loopback stand-in.
export AWS_EC2_METADATA_DISABLED=true
files=(tests/bats/*.bats)
[ -e "${files[0]}" ] || exit 0
out=$(mktemp)
timeout 3000 bats --tap "${files[@]}" 2>&1 | tee "$out"
grep -E '^(not )?ok [0-9]+' "$out" | while read -r line; do
	case "$line" in
	"not ok"*) echo "FAIL bats: ${line#not ok }" ;;
	*"# skip"*) echo "SKIP bats: ${line#ok }" ;;
	*) echo "PASS bats: ${line#ok }" ;;
	esac
done >> "$RESULTS"
rm -f "$out"

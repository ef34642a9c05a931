#!/bin/bash
# The layering rule, checked on every quoted #include:
#   src/core, src/services, include/: only core/ and services/ headers;
#   src/<tree>/ (tle, fits, telemetry, satfilter, obs): core/, services/
#   and the headers beside it, never another tree's.
# Programs (src/bin), benches and tests may include anything.  A tree that
# needs another's data goes through a service, as /satfilter reaches
# space-track through services/spacetrack.h.
set -uo pipefail
cd "$(dirname "$0")/.."
bad=0
while IFS= read -r f; do
	dir=$(dirname "$f")
	part=${dir#src/}; part=${part#include/}
	while IFS=: read -r line inc; do
		case "$inc" in
		core/*.h|services/*.h) continue ;;
		*/*) ;;
		*) [ -f "$dir/$inc" ] && continue ;;
		esac
		echo "$f:$line: $part may not include \"$inc\" (scripts/layers.sh)" >&2
		bad=1
	done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
		 sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1:\2/')
done < <(find src include -name '*.[ch]' ! -path 'src/bin/*' | sort)
if [ $bad -ne 0 ]; then
	echo "FAIL lint: layering" >> "${RESULTS:-/dev/null}"
	exit 1
fi
echo "PASS lint: layering (each tree includes only core, services and itself)" >> "${RESULTS:-/dev/null}"
exit 0

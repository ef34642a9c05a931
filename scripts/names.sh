#!/bin/bash
# The naming rule: a function a module exports carries the module's file
# name as its prefix (astro_tlm_archive_* in tlm_archive.c, astro_log* in
# log.c), so a name says where it lives.  util.c holds the base utilities
# every part uses; its prefix is astro_ alone.  Static functions are free.
set -uo pipefail
cd "$(dirname "$0")/.."
bad=0
while IFS= read -r f; do
	m=$(basename "$f" .c); m=${m#astro_}	# astro_frames.c: astro_frames_*
	[ "$m" = util ] && continue
	while IFS=: read -r ln name; do
		case "$name" in
		"astro_$m"|"astro_${m}_"*) ;;
		*) echo "$f:$ln: $name does not start with astro_${m}_ (scripts/names.sh)" >&2; bad=1 ;;
		esac
	done < <(grep -noP '^(?!static\b)(?:ASTRO_TESTABLE\s+)?[A-Za-z_][\w \*]*?\bastro_\w+(?=\()' "$f" |
		 grep -v ';' | sed -E 's/^([0-9]+):.*\b(astro_[A-Za-z0-9_]+)$/\1:\2/')
done < <(find src -name '*.c' ! -path 'src/bin/*' | sort)
if [ $bad -ne 0 ]; then
	echo "FAIL lint: names" >> "${RESULTS:-/dev/null}"
	exit 1
fi
echo "PASS lint: names (exported functions carry their module's prefix)" >> "${RESULTS:-/dev/null}"
exit 0

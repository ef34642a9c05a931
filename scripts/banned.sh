#!/bin/bash
# Banned functions, as curl's checksrc does: unbounded or locale/thread
# unsafe calls that have a safer spelling in this code base.
set -uo pipefail
cd "$(dirname "$0")/.."
pat='\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|sscanf|atoi|atol|atof|strncpy|tmpnam|mktemp|localtime|gmtime|asctime|ctime|rand)\s*\('
if grep -rnE "$pat" src include bench --include='*.c' --include='*.h' 2>/dev/null | grep -v 'banned-ok'; then
	echo "banned functions used (see scripts/banned.sh)" >&2
	echo "FAIL lint: banned functions" >> "${RESULTS:-/dev/null}"
	exit 1
fi
echo "PASS lint: no banned functions" >> "${RESULTS:-/dev/null}"
exit 0

#!/bin/bash
# SGP4 throughput on one core: astrofs (C) beside Debian's python3-sgp4 and,
# when bench/.satjs can be installed, satellite.js under node; same element
# sets and instants for all.  A few seconds each.
#
#   bench/sgp4.sh [TLE_FILE] [SATS] [TIMES]
#
# Default: the first 1000 sets of the shared 2019-12-19 catalogue at 20
# instants one minute apart, from the catalogue's latest epoch day.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${ASTRO_SHARED:-$(cd .. && pwd)/shared}
FILE=${1:-$SHARED/data/tle/spacetrack_3le_catalog_2019-12-19.3le}
SATS=${2:-1000}
TIMES=${3:-20}
STEP=1
SECONDS_EACH=${SECONDS_EACH:-1}

[ -r "$FILE" ] || { echo "sgp4.sh: $FILE not readable" >&2; exit 1; }
make -s build/astrofs-sgp4-bench
tmp=$(mktemp -d /tmp/astro-sgp4-bench-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# Keep only element-set lines, the first $SATS pairs, so every peer reads
# the same sets.
grep -E '^[12] ' "$FILE" | tr -d '\r' | awk -v n=$((2 * SATS)) 'NR <= n' > "$tmp/sets.tle"

rate() { sed -n 's/^RESULT props_per_s=\([0-9]*\).*/\1/p'; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

c_out=$(build/astrofs-sgp4-bench "$tmp/sets.tle" --times "$TIMES" --step-min "$STEP" --seconds "$SECONDS_EACH")
echo "$c_out" | grep -v '^RESULT'
c_rate=$(echo "$c_out" | grep '^RESULT' | rate)
jd0=$(echo "$c_out" | grep '^RESULT' | field jd0)
printf '%-28s %10.3f M props/s\n' "astrofs (C)" "$(echo "$c_rate / 1000000" | bc -l)"

if /usr/bin/python3 -c 'import sgp4.api, numpy' 2>/dev/null; then
	py=$(/usr/bin/python3 bench/sgp4_python.py "$tmp/sets.tle" "$TIMES" "$STEP" "$jd0" "$SECONDS_EACH" | rate)
	printf '%-28s %10.3f M props/s   astrofs/python = %.1f x\n' "python3-sgp4 (Debian)" \
		"$(echo "$py / 1000000" | bc -l)" "$(echo "$c_rate / $py" | bc -l)"
else
	echo "python3-sgp4 (Debian): not installed, skipped"
fi

if command -v node >/dev/null && command -v npm >/dev/null; then
	if [ ! -d bench/.satjs/node_modules/satellite.js ]; then
		# pinned by bench/.satjs/package-lock.json
		(cd bench/.satjs && npm ci --no-audit --no-fund >/dev/null 2>&1) || true
	fi
fi
if [ -d bench/.satjs/node_modules/satellite.js ]; then
	js=$(node bench/sgp4_satjs.mjs "$tmp/sets.tle" "$TIMES" "$STEP" "$jd0" "$SECONDS_EACH" | rate)
	printf '%-28s %10.3f M props/s   astrofs/satellite.js = %.1f x\n' "satellite.js 7.1.0 (node)" \
		"$(echo "$js / 1000000" | bc -l)" "$(echo "$c_rate / $js" | bc -l)"
else
	echo "satellite.js: npm could not install it into bench/.satjs, skipped"
fi

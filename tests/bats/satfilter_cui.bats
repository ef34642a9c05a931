#!/usr/bin/env bats
# /satfilter with satfilter_catalog=spacetrack and space-track's CUI file
# (fileshare folder 59), and historical visits (gp_history days through the
# cache /tle fills, plus the CUI file uploaded nearest the exposure).  The
# ground truth is tests/oracles/crossings.py (skyfield): boxes on the true
# paths of satellites that the stand-in serves only in its CUI file.

load lib

CAT="$SHARED/data/tle/spacetrack_3le_catalog_2019-12-19.3le"
CASES=

setup_file() {
	[ -f "$SHARED/data/tle/spacetrack_3le_catalog_2019-12-19.3le" ] || return 0
	mkdir -p "$BATS_FILE_TMPDIR/x"
	/usr/bin/python3 "$BATS_TEST_DIRNAME/../oracles/crossings.py" \
		"$SHARED/data/tle/spacetrack_3le_catalog_2019-12-19.3le" "$BATS_FILE_TMPDIR/x" 4 \
		>"$BATS_FILE_TMPDIR/x/log" 2>&1 || echo $? >"$BATS_FILE_TMPDIR/x/failed"
}

setup() {
	require_fuse
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	[ -f "$CAT" ] || skip "../shared/data/tle is not present"
	command -v jq >/dev/null || skip "jq is not installed"
	X=$BATS_FILE_TMPDIR/x
	[ "$(cat "$X/failed" 2>/dev/null)" != 77 ] || skip "skyfield/astropy/numpy not installed"
	[ ! -f "$X/failed" ] || { cat "$X/log" >&2; return 1; }
	CASES=$X/cases.txt
	DUT1=$(awk '$1 == "D" {print $2}' "$CASES")
	astro_tmp
	# the CUI-only satellites: the stand-in serves them only in folder 59
	ST_DATA=$CAT start_standin --cui "$X/targets.tle@2019-12-19 06:00:00"
	mkdir -p "$T/tmp" "$T/archive"
	export TMPDIR="$T/tmp"
	export ASTRO_TIMEOUT=60
}

teardown() {
	cleanup_all
}

# cases MODE TARGET [args]: "R n allowed A n allowed V cached"
cases() { python3 "$ROOT/tests/lib/satfilter_cases.py" "$CASES" "$@"; }

# every element-set line of the CUI file, as fixed strings
cui_lines() { grep -E '^[12] ' "$X/targets.tle" | cut -c1-60 >"$T/cui_lines"; }

@test "satfilter_cui: a CUI-only satellite is filtered like a public one; the CUI file stays in memory" {
	st_post clock "{\"offset_s\": $(( $(date -u -d 2019-12-20 +%s) - $(date +%s) ))}"
	# the split is real: the GP class does not have the targets
	mount_astrofs "satfilter_dut1=$DUT1"
	run cases file "$T/mnt/satfilter"
	echo "# $output" >&3	# TAP: a comment line
	[ "$status" -eq 0 ]
	read -r _ nr ra _ na aa _ nv <<<"${lines[-1]}"
	[ "$nv" -eq 4 ]
	[ "$nr" -ge 20 ]
	[ "$ra" -eq 0 ]			# every box on a CUI-only path rejected
	[ "$aa" -ge $(( na * 3 / 4 )) ]	# and far boxes still allowed
	[ "$(st_count fileshare)" -eq 2 ]	# the list, then the newest file
	grep -q 'CUI file of fileshare folder 59 is merged in' "$T/astrofs.log"
	grep -q '^VmFlags:.* dd' "/proc/$(cat "$T/astrofs.pid")/smaps"
	unmount_astrofs
	cui_lines
	: >"$T/hits"
	for d in "$T/cache" "$T/archive" "$T/tmp" "$T/astrofs.log"; do
		[ -e "$d" ] || continue
		grep -r -a -F -f "$T/cui_lines" "$d" >>"$T/hits" || true
	done
	[ ! -s "$T/hits" ]
	# the check can fail: the same grep finds a CUI line planted in the log
	head -1 "$T/cui_lines" >>"$T/astrofs.log"
	grep -q -a -F -f "$T/cui_lines" "$T/astrofs.log"
}

@test "satfilter_cui: an account without folder access logs it once and goes on with GP" {
	st_post clock "{\"offset_s\": $(( $(date -u -d 2019-12-20 +%s) - $(date +%s) ))}"
	st_post config '{"cui_access": false}'
	mount_astrofs "satfilter_dut1=$DUT1,satfilter_refresh=2"
	run cases file "$T/mnt/satfilter"
	[ "$status" -eq 0 ]
	read -r _ nr ra _ na aa _ nv <<<"${lines[-1]}"
	[ "$nv" -eq 4 ]
	[ "$ra" -eq "$nr" ]	# without the CUI file its satellites are unknown
	for _ in $(seq 1 40); do	# refreshed every 2 s: listed again
		[ "$(st_count fileshare)" -ge 3 ] && break
		sleep 0.2
	done
	[ "$(st_count fileshare)" -ge 3 ]
	[ "$(grep -c 'no CUI file from fileshare folder 59' "$T/astrofs.log")" -eq 1 ]
}

gp_history_queries() {
	st_get counters | jq '[.by_path | to_entries[] | select(.key | test("gp_history")) | .value] | add // 0'
}

@test "satfilter_cui: historical visits through the file and the listener; cached days cost no query" {
	# the stand-in at today's date: its GP class has nothing recent, so
	# only the element sets nearest the exposure can answer
	mount_astrofs "satfilter_dut1=$DUT1"
	run cases file "$T/mnt/satfilter" --historical --visits 2
	echo "# $output" >&3	# TAP: a comment line
	[ "$status" -eq 0 ]
	read -r _ nr ra _ na aa _ nv <<<"${lines[-1]}"
	[ "$nv" -eq 2 ]
	[ "$nr" -ge 10 ]
	[ "$ra" -eq 0 ]
	[ "$aa" -ge $(( na * 3 / 4 )) ]
	# the catalogue's listing and newest file, then for both historical
	# visits one listing and one download of the file nearest them: the
	# listing and the parsed file are kept, not asked for again a visit
	[ "$(st_count fileshare)" -eq 4 ]
	days=$(gp_history_queries)
	[ "$days" -ge 7 ]
	[ "$days" -le 8 ]	# exposure +-3 days, one query a day
	# cached apart: the plain visit of the same id is unknown
	vid=$(awk '$1 == "V" {print $2; exit}' "$CASES")
	exec 5<>"$T/mnt/satfilter"
	printf '{"visit_id": %s, "detector_id": 1, "diasources": []}\n' "$vid" >&5
	read -r a <&5
	exec 5>&-
	[[ "$(jq -r .error <<<"$a")" == "Provided visit $vid not present"* ]]
	# /tle serves the same cached days without a query
	cat "$T/mnt/tle/2019/12/19.3le" >/dev/null
	[ "$(gp_history_queries)" -eq "$days" ]
	unmount_astrofs
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	mount_astrofs "satfilter_dut1=$DUT1,satfilter_listen=127.0.0.1:$port"
	run cases http "http://127.0.0.1:$port" --historical --visits 2
	echo "# $output" >&3	# TAP: a comment line
	[ "$status" -eq 0 ]
	read -r _ nr ra _ na aa _ nv <<<"${lines[-1]}"
	[ "$nv" -eq 2 ]
	[ "$ra" -eq 0 ]
	[ "$(gp_history_queries)" -eq "$days" ]	# the days came from the cache
	[ "$(st_count fileshare)" -eq 8 ]	# the same again in this mount
	run curl -s --max-time 20 -o "$T/body" -w '%{http_code}' -X PUT \
		--data "{\"visit_id\": 1, \"detector_id\": 2, \"diasources\": [], \"historical\": true}" \
		"http://127.0.0.1:$port/diasource_allow_list"
	[ "$output" = 404 ]
	[ "$(jq -r .error "$T/body")" = "Provided visit 1_historical not present in cache!." ]
}

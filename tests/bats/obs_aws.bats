#!/usr/bin/env bats
# The aws /obs store backend against local stand-ins: dynalite (DynamoDB),
# sqslite (SQS, query protocol) and s3rver behind the verifying SigV4 front
# (tests/standin/s3).  Driven through astrofs-obssim --backend aws; the image in the
# bucket is checked independently with botocore.  Skips, saying why, when
# node or the npm stand-ins are missing.  Every process started here is
# stopped in teardown; loops are bounded.

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
SIM=${ASTRO_BUILD:-$ROOT/build}/astrofs-obssim
CONF=$ROOT/tests/data/obs/sites_good.yml
source "$ROOT/tests/lib/obs_sim.bash"
source "$ROOT/tests/lib/obs_mount.bash"
source "$ROOT/tests/lib/obs_aws.bash"

# The stand-ins start once per file (node start-up is the slow part); each
# test gets its own table, queues and bucket, so tests stay independent.
setup_file() {
	aws_standins_start obs-t1,obs-t2,obs-t3,obs-t4,obs-t5,obs-t6
}

teardown_file() {
	aws_standins_stop
}

setup() {
	aws_test_setup obsaws
	BUCKET=obs-t$BATS_TEST_NUMBER
	TABLE=astro_obs_t$BATS_TEST_NUMBER
	PREFIX=t$BATS_TEST_NUMBER
	aws_sim_store --sqs-prefix "$PREFIX"
}

teardown() {
	stop_sim
	unmount_aws
}

@test "obs aws: expose round trip -> COMPLETE, FITS and JPEG preview in the bucket, latest names the FITS" {
	ids=$(enqueue site1 unpark 'expose 1')
	[ "$(echo "$ids" | wc -l)" -eq 2 ]
	exp=$(echo "$ids" | tail -1)
	[ "$(state_of site1 "$exp")" = SENT ]
	start_sim --time-scale 0.05
	wait_state site1 "$exp" COMPLETE
	run "$SIM" "${SIM_STORE[@]}" --images site1
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	name=$(echo "${lines[0]}" | cut -f1)
	[[ "$name" =~ ^[0-9]+_site1_testimage_1s_no1\.fits$ ]]
	[ "$(echo "${lines[1]}" | cut -f1)" = "${name%.fits}.jpg" ]
	"$SIM" "${SIM_STORE[@]}" --show site1 "$exp" | grep -q "\"image\": \"$name\""
	# The history went through every state, in order.
	"$SIM" "${SIM_STORE[@]}" --show site1 "$exp" | tr -d ' \n' |
		grep -q '"state":"QUEUED".*"state":"SENT".*"state":"RECEIVED".*"state":"STARTED".*"state":"COMPLETE"'
	s3_get "site1/$name" "$T/img.fits"
	[ "$(head -c 9 "$T/img.fits")" = "SIMPLE  =" ]
	# Typed by what they are: a browser given the URL saves the FITS and
	# shows the preview (the FITS once went up as image/jpeg).
	[ "$(s3_type "site1/$name")" = application/fits ]
	[ "$(s3_type "site1/${name%.fits}.jpg")" = image/jpeg ]
	s3_get "site1/${name%.fits}.jpg" "$T/img.jpg"
	[ "$(head -c 2 "$T/img.jpg" | od -An -tx1 | tr -d ' \n')" = ffd8 ]
	[ "$(tail -c 2 "$T/img.jpg" | od -An -tx1 | tr -d ' \n')" = ffd9 ]
	# The published status names it only once it is stored.
	for _ in $(seq 1 50); do
		"$SIM" "${SIM_STORE[@]}" --status site1 | grep -q "\"cam1_last_image_name\":\"$name\"" && break
		sleep 0.2
	done
	"$SIM" "${SIM_STORE[@]}" --status site1 | grep -q "\"cam1_last_image_name\":\"$name\""
}

@test "obs aws: goto while parked is REJECTED; a terminal job cannot be moved or canceled" {
	start_sim --time-scale 0
	id=$(enqueue site1 'goto ra=5.5 dec=-5.4')
	wait_state site1 "$id" REJECTED
	"$SIM" "${SIM_STORE[@]}" --show site1 "$id" | grep -q '"message": "mount parked"'
	run "$SIM" "${SIM_STORE[@]}" --enqueue site1 "cancel $id"
	[ "$status" -eq 1 ]
	[[ "$output" == *"already REJECTED"* ]]
	run "$SIM" "${SIM_STORE[@]}" --enqueue site1 park 'goto ra=24 dec=0'
	[ "$status" -eq 1 ]
	[ "$output" = "err line 2: goto: ra '24' not in hours [0,24)" ]
}

@test "obs aws: the simulator killed and restarted loses no queued command" {
	start_sim --time-scale 0
	sleep 1
	stop_sim KILL
	# Queued while no simulator runs: one canceled before it could run.
	ids=$(enqueue site1 unpark 'expose 1' 'tracking on')
	drop=$(echo "$ids" | sed -n 2p)
	cid=$(enqueue site1 "cancel $drop")
	[ "$(state_of site1 "$drop")" = CANCELED ]
	[ "$(state_of site1 "$cid")" = COMPLETE ]
	start_sim --time-scale 0
	wait_state site1 "$(echo "$ids" | sed -n 1p)" COMPLETE
	wait_state site1 "$(echo "$ids" | sed -n 3p)" COMPLETE
	# Killed again and restarted: the counter survives, names are not reused.
	id=$(enqueue site1 'expose 1')
	wait_state site1 "$id" COMPLETE
	stop_sim KILL
	start_sim --time-scale 0
	id2=$(enqueue site1 'expose 1')
	wait_state site1 "$id2" COMPLETE
	[ "$(state_of site1 "$drop")" = CANCELED ]
	run "$SIM" "${SIM_STORE[@]}" --images site1
	[ "$status" -eq 0 ]
	mapfile -t lines < <(printf '%s\n' "${lines[@]}" | grep '\.fits	')
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" == *_no1.fits* ]]
	[[ "${lines[1]}" == *_no2.fits* ]]
}

@test "obs aws: through the mount (obs_backend=aws): command, job, images, latest" {
	[ -c /dev/fuse ] && command -v fusermount3 >/dev/null || skip "FUSE is not available"
	mount_aws "obs_sqs_prefix=$PREFIX"
	start_sim --time-scale 0
	img=$(expose_through_mount "$T/mnt" site1)
	s3_get "site1/$img" "$T/direct.jpg"
	cmp "$T/mnt/obs/site1/images/$img" "$T/direct.jpg"
	# The store is the aws one: nothing was written to the local one.
	[ ! -e "$T/unused/db" ]
}

# The pythonbits layout: a site key of this test's own, so the FIFO queue
# and the status table (named by site, not prefix) are this test's alone.
pb_sites() {
	PB=pb$BATS_TEST_NUMBER
	printf 'Sites:\n  %s:\n    name: Pythonbits Hill\n    lat: 34.34\n    lng: -119.68\n' "$PB" >"$T/pb.yml"
	CONF=$T/pb.yml
	SIM_STORE+=(--aws-layout pythonbits)
	# Debian's botocore still speaks SQS's Query protocol, as sqslite does
	# (a newer botocore sends JSON, which sqslite refuses).
	PBPY=/usr/bin/python3
	"$PBPY" -c 'import botocore' 2>/dev/null || skip "Debian's python3-botocore is not installed"
}

@test "obs aws pythonbits: the simulator's own client commands an astrofs-obssim site, status and images included" {
	pb_sites
	start_sim --time-scale 0
	"$PBPY" "$ROOT/tests/standin/aws/pythonbits_peer.py" client "$PB"
	# The message (no job id) became a job; it ran and stored its images.
	img=$(one_fits "$PB")
	s3_get "$PB/$img" "$T/img.fits"
	[ "$(head -c 9 "$T/img.fits")" = "SIMPLE  =" ]
	# The exposure as client.py sends it: "duration" a number (1.0).
	[[ "$img" == *_testimage_1s_no1.fits ]]
	# The status item is the simulator's, in its table: all strings, State
	# key.  The image it names is the JPEG preview: client.py's get_url turns
	# that name into a URL for a browser ("a jpg stored at s3").
	for _ in $(seq 1 50); do
		"$PBPY" "$ROOT/tests/standin/aws/pythonbits_peer.py" status "$PB" >"$T/st.json" 2>/dev/null &&
			jq -e --arg i "${img%.fits}.jpg" '.cam1_last_image_name == $i' "$T/st.json" >/dev/null && break
		sleep 0.2
	done
	jq -e --arg i "${img%.fits}.jpg" --arg s "$PB" '.State == "State" and .site == $s and
		.cam1_last_image_name == $i and (.timestamp | test("^[0-9]+$")) and
		([.[] | type] | unique == ["string"])' "$T/st.json"
	# The site's clock in whole seconds cut down, as int(time.time()): never
	# ahead of the reader's, which client.py would show as a negative age.
	# Read at each 0.5 s republication, a rounded stamp shows within ten.
	for _ in $(seq 1 10); do
		ts=$("$PBPY" "$ROOT/tests/standin/aws/pythonbits_peer.py" status "$PB" | jq -r .timestamp)
		now=$(date +%s)
		[ "$ts" -le "$now" ] || { echo "status stamped $ts, read at $now" >&2; false; }
		sleep 0.55
	done
	s3_get "$PB/${img%.fits}.jpg" "$T/img.jpg"
	[ "$(head -c 2 "$T/img.jpg" | od -An -tx1 | tr -d ' \n')" = ffd8 ]
	[ "$(s3_type "$PB/${img%.fits}.jpg")" = image/jpeg ]
}

@test "obs aws pythonbits: a mount commands a site that runs the simulator's obs.py" {
	[ -c /dev/fuse ] && command -v fusermount3 >/dev/null || skip "FUSE is not available"
	pb_sites
	mount_aws obs_aws_layout=pythonbits
	exec 7<>"$T/mnt/obs/$PB/command"
	printf 'goto ra=5.5 dec=-5.4\npark\npark\n' >&7
	read -r r1 <&7; read -r r2 <&7; read -r r3 <&7
	exec 7>&-
	[[ "$r1" == ok* && "$r2" == ok* && "$r3" == ok* ]]
	id1=$(echo "$r1" | awk '{print $2}')
	# The old site takes them from its FIFO queue in order, in its format;
	# two identical parks are two messages.
	"$PBPY" "$ROOT/tests/standin/aws/pythonbits_peer.py" site "$PB" 3 >"$T/msgs"
	[ "$(wc -l <"$T/msgs")" -eq 3 ]
	jq -e --arg id "$id1" '.device == "mount_1" and .command == "goto" and .ra == 5.5 and
		.dec == -5.4 and .id == $id and (.timestamp | type) == "number" and
		.expires_at > .timestamp' <(sed -n 1p "$T/msgs")
	# Spelled as typed: obs.py prints what it received.
	sed -n 1p "$T/msgs" | grep -q '"dec":-5.4[,}]'
	[ "$(sed -n '2,3p' "$T/msgs" | jq -r .command | sort -u)" = park ]
	[ "$(sed -n '2,3p' "$T/msgs" | jq -r .id | sort -u | wc -l)" -eq 2 ]
	[ "$(jq -r .state "$T/mnt/obs/$PB/jobs/$id1")" = SENT ]
	# Its status item, read through the mount.
	for _ in $(seq 1 60); do
		jq -e '.record.mnt1_ra == "5.5"' "$T/mnt/obs/$PB/status" >/dev/null 2>&1 && break
		sleep 0.2
	done
	jq -e '.record.mnt1_ra == "5.5" and .record.mnt1_is_tracking == "True" and .freshness == "fresh"' \
		"$T/mnt/obs/$PB/status"
}

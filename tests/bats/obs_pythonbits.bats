#!/usr/bin/env bats
# Opt-in: the pythonbits layout against the observatory simulator's ORIGINAL
# scripts (timbeccue/observatory_simulator @aebc7fa), run unmodified from the
# checkout ASTRO_PYTHONBITS_DIR names, on Debian's boto3, against the local
# AWS stand-ins (tests/standin/aws, tests/standin/s3).  Their boto3 clients
# are pointed at the stand-ins by tests/standin/aws/pythonbits_shim (a
# sitecustomize on PYTHONPATH).  Both directions: an astrofs mount commands
# the original obs.py; the original client.py commands astrofs-obssim.
# Skips, saying how to enable it, without ASTRO_PYTHONBITS_DIR.  Every
# process started here is stopped in teardown; loops are bounded.

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
SIM=${ASTRO_BUILD:-$ROOT/build}/astrofs-obssim
source "$ROOT/tests/lib/obs_sim.bash"
source "$ROOT/tests/lib/obs_aws.bash"
PB_DIR=${ASTRO_PYTHONBITS_DIR:-}
SHIM=$ROOT/tests/standin/aws/pythonbits_shim
# Debian's boto3: its botocore still speaks SQS's Query protocol, as sqslite.
PBPY=/usr/bin/python3

setup_file() {
	local d=$BATS_FILE_TMPDIR
	if [ -z "$PB_DIR" ]; then
		echo "set ASTRO_PYTHONBITS_DIR to a checkout of timbeccue/observatory_simulator (commit aebc7fa) to run these cross-checks" >"$d/skip"
		return 0
	fi
	local f
	for f in obs.py client.py data/base.jpg aws/init_resources.py; do
		[ -f "$PB_DIR/$f" ] || { echo "ASTRO_PYTHONBITS_DIR=$PB_DIR has no $f" >"$d/skip"; return 0; }
	done
	"$PBPY" -c 'import boto3, yaml, tqdm' 2>/dev/null ||
		{ echo "the original scripts need Debian's python3-boto3, python3-yaml and python3-tqdm" >"$d/skip"; return 0; }
	# Their bucket is always "pythonbits"; each test has its own site.
	aws_standins_start pythonbits
}

teardown_file() {
	aws_standins_stop
}

setup() {
	aws_test_setup obspb
	OBS_PID=
	BUCKET=pythonbits
	TABLE=astro_obs_pb$BATS_TEST_NUMBER
	# A site of this test's own: its FIFO queue and status table are named
	# by site alone.  The scripts read sites_config.yml from their cwd.
	export PB=pbo$BATS_TEST_NUMBER
	mkdir -p "$T/w"
	printf 'Sites:\n  %s:\n    name: Pythonbits Hill\n    lat: 34.34\n    lng: -119.68\n' "$PB" \
		>"$T/w/sites_config.yml"
	CONF=$T/w/sites_config.yml
	aws_sim_store --aws-layout pythonbits
}

teardown() {
	stop_sim
	if [ -n "${OBS_PID:-}" ]; then
		kill -TERM "$OBS_PID" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$OBS_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$OBS_PID" 2>/dev/null || true
		wait "$OBS_PID" 2>/dev/null || true
	fi
	unmount_aws
}

# client_session LINE...: one interactive session of the original client.py
# (unmodified, cwd $T/w) fed LINEs, then "exit"; output in $T/client.out.
# Its resource set-up must not have failed (it prints and carries on).
client_session() {
	printf '%s\n' "$@" exit |
		(cd "$T/w" && PYTHONPATH="$SHIM" PYTHONUNBUFFERED=1 exec timeout 60 "$PBPY" "$PB_DIR/client.py") \
		>"$T/client.out" 2>&1 || { cat "$T/client.out" >&2; return 1; }
	! grep -q '^Exception:\|Traceback' "$T/client.out" || { cat "$T/client.out" >&2; return 1; }
}

# rec_wait JQ: up to 2 min (obs.py publishes every 5 s and simulates work
# with busy progress bars) for the mount's status record to satisfy JQ.
rec_wait() {
	for _ in $(seq 1 240); do
		jq -e ".record | $1" "$T/mnt/obs/$PB/status" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	echo "status never satisfied $1:" >&2
	cat "$T/mnt/obs/$PB/status" "$T/obs.log" >&2
	return 1
}

# command_line LINE: one command through the mount; prints its job id.
command_line() {
	local r
	exec 7<>"$T/mnt/obs/$PB/command"
	printf '%s\n' "$1" >&7
	read -r r <&7
	exec 7>&-
	[[ "$r" == ok* ]] || { echo "reply to '$1': $r" >&2; return 1; }
	echo "$r" | awk '{print $2}'
}

@test "obs pythonbits (original obs.py): a mount commands it: goto, expose, park, status and images" {
	[ -c /dev/fuse ] && command -v fusermount3 >/dev/null || skip "FUSE is not available"
	# The original obs.py, unmodified, cwd $T/w.
	(cd "$T/w" && PYTHONPATH="$SHIM" PYTHONUNBUFFERED=1 exec "$PBPY" "$PB_DIR/obs.py") \
		>"$T/obs.log" 2>&1 &
	OBS_PID=$!
	mount_aws obs_aws_layout=pythonbits
	# Its first status item: the site is up, its mount parked at 0/0.
	rec_wait '.site == env.PB and .mnt1_is_parked == "True" and .cam1_last_image_name == "empty"'
	id=$(command_line 'goto ra=5.5 dec=-5.4')
	rec_wait '.mnt1_ra == "5.5" and .mnt1_dec == "-5.4" and .mnt1_is_parked == "False"'
	jq -e '.freshness == "fresh" and .devices.mount.ra == 5.5' "$T/mnt/obs/$PB/status"
	# The old site reports no progress: the job stays as sent.
	[ "$(jq -r .state "$T/mnt/obs/$PB/jobs/$id")" = SENT ]
	command_line 'expose 1' >/dev/null
	rec_wait '.cam1_last_image_name != "empty" and .cam1_last_exposure_time == "1.0"'
	img=$(jq -r .record.cam1_last_image_name "$T/mnt/obs/$PB/status")
	[[ "$img" =~ ^[0-9]+_${PB}_testimage_1\.0s_no0\.jpg$ ]]
	# Listed under images/ as soon as the bucket has it, latest included,
	# and it is the site's test picture, byte for byte.
	for _ in $(seq 1 50); do
		[ -f "$T/mnt/obs/$PB/images/$img" ] && break
		sleep 0.2
	done
	cmp "$T/mnt/obs/$PB/images/$img" "$PB_DIR/data/base.jpg"
	[ "$(readlink "$T/mnt/obs/$PB/images/latest")" = "$img" ]
	command_line park >/dev/null
	rec_wait '.mnt1_is_parked == "True" and .mnt1_ra == "5.5"'
	kill -0 "$OBS_PID"
}

@test "obs pythonbits (original client.py): it commands an astrofs-obssim site: expose, park, status, get_url" {
	start_sim --time-scale 0
	client_session 'expose 1' park
	grep -q 'Starting exposure: 1 seconds\.' "$T/client.out"
	fits=$(one_fits "$PB")
	jpg=${fits%.fits}.jpg
	for _ in $(seq 1 50); do
		"$SIM" "${SIM_STORE[@]}" --status "$PB" | grep -q "\"cam1_last_image_name\":\"$jpg\"" && break
		sleep 0.2
	done
	client_session status get_url
	# status: the item as JSON, then its age by the client's clock.
	sed -n '/{$/,/^}$/p' "$T/client.out" | sed '1s/^.*{$/{/' >"$T/status.json"
	jq -e --arg s "$PB" --arg i "$jpg" '.State == "State" and .site == $s and
		.cam1_last_image_name == $i and .cam1_last_exposure_time == "1" and
		.mnt1_is_parked == "True"' "$T/status.json"
	grep -Eq 'Status is 0:00:[0-9]{2} \(hh:mm:ss\) old\.' "$T/client.out"
	# get_url: a presigned URL a browser opens as a picture.
	url=$(sed -n 's/^.*Last image url: //p' "$T/client.out")
	[[ "$url" == "$S3_ENDPOINT/pythonbits/$PB/$jpg?"* ]]
	ctype=$(curl -sf --max-time 10 -o "$T/url.jpg" -w '%{content_type}' "$url")
	[ "$ctype" = image/jpeg ]
	s3_get "$PB/$jpg" "$T/direct.jpg"
	cmp "$T/url.jpg" "$T/direct.jpg"
	[ "$(head -c 2 "$T/url.jpg" | od -An -tx1 | tr -d ' \n')" = ffd8 ]
	# goto: ra and dec as the typed strings.  client.py has no unpark (its
	# own site's goto unparks), so the site is unparked from our side.
	"$SIM" "${SIM_STORE[@]}" --enqueue "$PB" unpark | grep -q '^ok '
	client_session 'goto ra=5.5 dec=-5.4'
	for _ in $(seq 1 100); do
		"$SIM" "${SIM_STORE[@]}" --status "$PB" | grep -q '"mnt1_ra":"5.500000"' && break
		sleep 0.2
	done
	"$SIM" "${SIM_STORE[@]}" --status "$PB" >"$T/st.json"
	jq -e '.mnt1_ra == "5.500000" and .mnt1_dec == "-5.400000" and .mnt1_is_parked == "False"' "$T/st.json"
}

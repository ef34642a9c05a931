# Shared by the aws /obs bats suites (obs_aws.bats, obs_pythonbits.bats):
# the AWS stand-ins for a whole file, a mount on them, and an independent
# (botocore) look at the bucket.  Callers set $T, $CONF, $BUCKET, $TABLE and
# source the env files the stand-ins write; every wait is bounded.

# aws_standins_start BUCKETS: dynalite, sqslite and the S3 stand-in with
# BUCKETS (comma-separated) for this file; a reason in
# $BATS_FILE_TMPDIR/skip instead when they cannot run here.
aws_standins_start() {
	local d=$BATS_FILE_TMPDIR rc=0
	command -v node >/dev/null || { echo "node is not installed" >"$d/skip"; return 0; }
	"$ROOT/tests/standin/aws/standins.sh" start "$d/sa" 2>"$d/sa.err" || rc=$?
	if [ "$rc" -eq 77 ]; then
		echo "stand-ins unavailable: $(cat "$d/sa.err")" >"$d/skip"
		return 0
	fi
	[ "$rc" -eq 0 ] || { cat "$d/sa.err" >&2; return 1; }
	S3_BUCKETS=$1 "$ROOT/tests/standin/s3/s3server.sh" start "$d/s3" 2>"$d/s3.err" || rc=$?
	if [ "$rc" -eq 77 ]; then
		echo "S3 stand-in unavailable: $(cat "$d/s3.err")" >"$d/skip"
		return 0
	fi
	[ "$rc" -eq 0 ] || { cat "$d/s3.err" >&2; return 1; }
}

aws_standins_stop() {
	"$ROOT/tests/standin/s3/s3server.sh" stop "$BATS_FILE_TMPDIR/s3" 2>/dev/null || true
	"$ROOT/tests/standin/aws/standins.sh" stop "$BATS_FILE_TMPDIR/sa" 2>/dev/null || true
}

# aws_test_setup NAME: a test's start: skip (saying why) when the simulator
# is not built or the stand-ins could not start; a fresh $T; nothing
# started yet; this file's stand-in endpoints and key in the environment.
aws_test_setup() {
	[ -x "$SIM" ] || skip "build/astrofs-obssim is not built"
	[ -f "$BATS_FILE_TMPDIR/skip" ] && skip "$(cat "$BATS_FILE_TMPDIR/skip")"
	T=$(mktemp -d "/tmp/astro-$1-bats-XXXXXX")
	SIM_PID=
	FS_PID=
	aws_standins_env
}

# aws_sim_store ARGS...: SIM_STORE for the stand-ins, $BUCKET and $TABLE.
aws_sim_store() {
	SIM_STORE=(--backend aws --aws-region us-east-1 --sqs-endpoint "$SQS_ENDPOINT"
	     --dynamodb-endpoint "$DDB_ENDPOINT" --s3-endpoint "$S3_ENDPOINT"
	     --bucket "$BUCKET" --table "$TABLE" "$@")
}

# one_fits SITE: wait (up to 20 s) until SITE has exactly one FITS image in
# the store; print its name.
one_fits() {
	local n=
	for _ in $(seq 1 100); do
		n=$("$SIM" "${SIM_STORE[@]}" --images "$1" 2>/dev/null | grep -c '\.fits	') || true
		[ "$n" = 1 ] && break
		sleep 0.2
	done
	[ "$n" = 1 ] || { echo "$1 has $n FITS images" >&2; cat "$T/sim.log" >&2; return 1; }
	"$SIM" "${SIM_STORE[@]}" --images "$1" | cut -f1 | grep '\.fits$'
}

# aws_standins_env: this file's stand-in endpoints and key, exported.
aws_standins_env() {
	source "$BATS_FILE_TMPDIR/sa/env"
	source "$BATS_FILE_TMPDIR/s3/env"
	export AWS_ACCESS_KEY_ID=$S3_AK AWS_SECRET_ACCESS_KEY=$S3_SK SQS_ENDPOINT DDB_ENDPOINT S3_ENDPOINT
	unset AWS_SESSION_TOKEN AWS_PROFILE
}

# unmount_aws: undo mount_aws (if it ran) and remove $T.
unmount_aws() {
	[ -n "${T:-}" ] || return 0
	if mountpoint -q "$T/mnt" 2>/dev/null; then
		fusermount3 -u "$T/mnt" 2>/dev/null || fusermount3 -uz "$T/mnt" 2>/dev/null || true
	fi
	if [ -n "${FS_PID:-}" ]; then
		for _ in $(seq 1 50); do kill -0 "$FS_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$FS_PID" 2>/dev/null || true
	fi
	rm -rf "$T"
}

# mount_aws EXTRA: mount at $T/mnt on this test's stand-in resources.
mount_aws() {
	mkdir -p "$T/mnt"
	"$ROOT/build/astrofs" astrofs-test "$T/mnt" -f -o "cache_dir=$T/cache,archive_dir=$T/archive,obs_store=$T/unused,obs_config=$CONF,obs_backend=aws,obs_aws_region=us-east-1,obs_sqs_endpoint=$SQS_ENDPOINT,obs_dynamodb_endpoint=$DDB_ENDPOINT,obs_s3_endpoint=$S3_ENDPOINT,obs_bucket=$BUCKET,obs_table=$TABLE,timeout=10,$1" \
		2>"$T/astrofs.log" &
	FS_PID=$!
	for _ in $(seq 1 100); do
		[ -f "$T/mnt/.astrofs/version" ] && break
		kill -0 "$FS_PID" 2>/dev/null || break
		sleep 0.1
	done
	[ -f "$T/mnt/.astrofs/version" ] || { cat "$T/astrofs.log" >&2; false; }
}

# s3_get KEY FILE: the object through botocore (an independent client).
s3_get() {
	python3 - "$S3_ENDPOINT" "$BUCKET" "$1" "$2" <<'PY'
import sys
import botocore.session
from botocore.config import Config
ep, bucket, key, out = sys.argv[1:]
s = botocore.session.get_session().create_client(
    "s3", endpoint_url=ep, region_name="us-east-1",
    config=Config(s3={"addressing_style": "path"}))
with open(out, "wb") as f:
    f.write(s.get_object(Bucket=bucket, Key=key)["Body"].read())
PY
}

# s3_type KEY: the object's Content-Type, through botocore.
s3_type() {
	python3 - "$S3_ENDPOINT" "$BUCKET" "$1" <<'PY'
import sys
import botocore.session
from botocore.config import Config
ep, bucket, key = sys.argv[1:]
s = botocore.session.get_session().create_client(
    "s3", endpoint_url=ep, region_name="us-east-1",
    config=Config(s3={"addressing_style": "path"}))
print(s.head_object(Bucket=bucket, Key=key)["ContentType"])
PY
}

#!/usr/bin/env bats
# The AWS credential chain through a real mount: the instance metadata
# service (v2 only), a container credentials endpoint and STS web identity,
# played on loopback by tests/standin/awscreds.py, which hands each
# temporary key it issues to the verifying S3 front (S3_TEMP_CREDS): the
# front accepts that key only with its session token, signed, until it
# expires (then ExpiredToken).  Nothing here talks to 169.254.x: the
# metadata endpoint is always AWS_EC2_METADATA_SERVICE_ENDPOINT on 127.0.0.1.

load lib

PY=/usr/bin/python3
CUBE_KEY=tess/cube.fits

setup_file() {
	cd "$BATS_TEST_DIRNAME/../.."
	export CRED_SKIP=
	if ! "$PY" -c 'import botocore' 2>/dev/null; then
		export CRED_SKIP="python3-botocore is not installed"
		return 0
	fi
	export S3STATE="$BATS_FILE_TMPDIR/s3"
	export S3_TEMP_CREDS="$BATS_FILE_TMPDIR/issued"
	: >"$S3_TEMP_CREDS"
	local rc=0
	S3_LATENCY_MS=0 S3_PUBLIC= tests/standin/s3/s3server.sh start "$S3STATE" || rc=$?
	if [ "$rc" -eq 77 ]; then
		export CRED_SKIP="node or the s3rver npm dependencies are unavailable"
		return 0
	fi
	[ "$rc" -eq 0 ]
	set -a; . "$S3STATE/env"; set +a
	"$PY" tests/data/mkstore.py cube "$S3STATE/data" astro "$CUBE_KEY" >/dev/null
}

teardown_file() {
	[ -n "${S3STATE:-}" ] && tests/standin/s3/s3server.sh stop "$S3STATE" || true
}

setup() {
	[ -z "$CRED_SKIP" ] || skip "$CRED_SKIP"
	require_fuse
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	set -a; . "$S3STATE/env"; set +a
	T=$BATS_TEST_TMPDIR
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE \
		AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN AWS_ENDPOINT_URL_STS \
		AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_CREDENTIALS_RELATIVE_URI \
		AWS_CONTAINER_AUTHORIZATION_TOKEN AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \
		AWS_EC2_METADATA_SERVICE_ENDPOINT
	export AWS_SHARED_CREDENTIALS_FILE=$T/no-such-file AWS_EC2_METADATA_DISABLED=true
	: >"$S3_LOG"
	mkdir -p "$T/cache"
}

teardown() {
	unmount_astrofs
	for f in "$T"/cs*.pid; do
		[ -f "$f" ] || continue
		kill "$(cat "$f")" 2>/dev/null || true
	done
}

# start_cs NAME [args]: a credential stand-in; sets CS_URL.
start_cs() {
	local n=$1; shift
	"$PY" "$ROOT/tests/standin/awscreds.py" --issued "$S3_TEMP_CREDS" --log "$T/$n.log" "$@" \
		>"$T/$n.out" 2>"$T/$n.err" &
	echo $! >"$T/$n.pid"
	for _ in $(seq 1 50); do
		grep -q '^listening' "$T/$n.out" 2>/dev/null && break
		sleep 0.1
	done
	CS_URL=http://127.0.0.1:$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$T/$n.out")
	[ "$CS_URL" != "http://127.0.0.1:" ]
	touch "$T/$n.log"
}

# Everything configured at once, each on its own stand-in.
all_sources() {
	start_cs cs_web --web-token "wit-$$" ; WEB_URL=$CS_URL
	printf 'wit-%s\n' "$$" >"$T/wit"
	export AWS_WEB_IDENTITY_TOKEN_FILE=$T/wit AWS_ROLE_ARN=arn:aws:iam::123456789012:role/astrofs
	export AWS_ENDPOINT_URL_STS=$WEB_URL
	start_cs cs_ctr --container-token "ctr-$$"; CTR_URL=$CS_URL
	export AWS_CONTAINER_CREDENTIALS_FULL_URI=$CTR_URL/container/creds
	printf 'ctr-%s' "$$" >"$T/ctok"; chmod 600 "$T/ctok"
	export AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=$T/ctok
	start_cs cs_imds; IMDS_URL=$CS_URL
	export AWS_EC2_METADATA_SERVICE_ENDPOINT=$IMDS_URL AWS_EC2_METADATA_DISABLED=false
}

cred_mount() {
	astrofs_start "cache_dir=$T/cache,s3_endpoint=$S3_ENDPOINT,fits_buckets=astro,timeout=10${1:+,$1}"
}

# The cube's primary header through the mount: a signed read the front checked.
read_ok() {
	run head -c 80 "$T/mnt/fits/astro/$CUBE_KEY/headers/0"
	[ "$status" -eq 0 ]
	[[ "$output" == SIMPLE* ]] || { echo "got: $output"; cat "$T/astrofs.log"; false; }
}

source_is() {
	grep -q "^aws_credentials = \*\*\*\*\*\*\*\* ($1" "$T/mnt/.astrofs/config" ||
		{ grep aws_credentials "$T/mnt/.astrofs/config"; false; }
}

no_secret_leaked() {
	local sk tok
	while read -r line; do
		sk=$(jq -r .sk <<<"$line"); tok=$(jq -r .token <<<"$line")
		! grep -qF -e "$sk" -e "$tok" "$T/astrofs.log" "$T/mnt/.astrofs/config"
		! grep -qF "$(jq -r .ak <<<"$line")" "$T/mnt/.astrofs/config"
	done <"$S3_TEMP_CREDS"
}

@test "awscred: IMDSv2 alone: token PUT first, v1 refused by the stand-in, signed read with the role's temporary key" {
	start_cs cs_imds
	# the stand-in refuses IMDSv1 (no token) as HttpTokens=required does
	run curl -s -o /dev/null -w '%{http_code}' "$CS_URL/latest/meta-data/iam/security-credentials/"
	[ "$output" = 401 ]
	export AWS_EC2_METADATA_SERVICE_ENDPOINT=$CS_URL AWS_EC2_METADATA_DISABLED=false
	cred_mount
	read_ok
	source_is "instance metadata: role astrofs-test-role, temporary, expires "
	# after our own v1 probe, astrofs's first request is the token PUT,
	# and it never got a 401
	sed -n 2p "$T/cs_imds.log" | grep -q '^PUT /latest/api/token 200'
	[ "$(grep -c ' 401$' "$T/cs_imds.log")" -eq 1 ]
	no_secret_leaked
}

@test "awscred: container endpoint alone, with the authorization token file; a wrong token fails the mount" {
	start_cs cs_ctr --container-token "ctr-$$"
	export AWS_CONTAINER_CREDENTIALS_FULL_URI=$CS_URL/container/creds
	printf 'wrong' >"$T/ctok"; chmod 600 "$T/ctok"
	export AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=$T/ctok
	# a source that is there but refuses is an error, not a fall-through
	cred_mount
	grep -q 'fits: container: .*HTTP 401 (check the authorization token)' "$T/astrofs.log"
	[ ! -e "$T/mnt/fits/astro" ]
	unmount_astrofs
	printf 'ctr-%s' "$$" >"$T/ctok"
	cred_mount
	read_ok
	source_is "container endpoint: $CS_URL/container/creds, temporary"
	no_secret_leaked
}

@test "awscred: web identity alone: STS AssumeRoleWithWebIdentity with the token file; a wrong token fails the mount" {
	start_cs cs_web --web-token "wit-$$"
	printf 'not-it\n' >"$T/wit"
	export AWS_WEB_IDENTITY_TOKEN_FILE=$T/wit AWS_ROLE_ARN=arn:aws:iam::123456789012:role/astrofs
	export AWS_ENDPOINT_URL_STS=$CS_URL
	cred_mount
	grep -q 'fits: web identity: STS AssumeRoleWithWebIdentity .*HTTP 400 InvalidIdentityToken' "$T/astrofs.log"
	[ ! -e "$T/mnt/fits/astro" ]
	unmount_astrofs
	printf 'wit-%s\n' "$$" >"$T/wit"
	cred_mount
	read_ok
	source_is "web identity: arn:aws:iam::123456789012:role/astrofs, temporary"
	no_secret_leaked
}

@test "awscred: the chain is the SDKs' order: env, web identity, shared file, container, IMDS; s3_credentials_source pins one" {
	all_sources
	printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$S3_AK" "$S3_SK" >"$T/shared"
	chmod 600 "$T/shared"
	export AWS_SHARED_CREDENTIALS_FILE=$T/shared
	export AWS_ACCESS_KEY_ID=$S3_AK AWS_SECRET_ACCESS_KEY=$S3_SK
	cred_mount; read_ok; source_is "environment"; unmount_astrofs
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	cred_mount; read_ok; source_is "web identity"; unmount_astrofs
	unset AWS_WEB_IDENTITY_TOKEN_FILE
	cred_mount; read_ok; source_is "profile: $T/shared \[default\]"; unmount_astrofs
	export AWS_SHARED_CREDENTIALS_FILE=$T/no-such-file
	cred_mount; read_ok; source_is "container endpoint"; unmount_astrofs
	unset AWS_CONTAINER_CREDENTIALS_FULL_URI
	cred_mount; read_ok; source_is "instance metadata"; unmount_astrofs
	# later sources were never asked while an earlier one answered
	[ "$(grep -c . "$T/cs_imds.log")" -eq 3 ]
	[ "$(grep -c . "$T/cs_ctr.log")" -eq 1 ]
	[ "$(grep -c . "$T/cs_web.log")" -eq 1 ]
	# pinned: only that source, even with an earlier one configured
	export AWS_CONTAINER_CREDENTIALS_FULL_URI=$CTR_URL/container/creds
	cred_mount "s3_credentials_source=imds"; read_ok; source_is "instance metadata"; unmount_astrofs
	unset AWS_CONTAINER_CREDENTIALS_FULL_URI
	cred_mount "s3_credentials_source=container"
	grep -q 'fits: s3_credentials_source=container: no credentials there' "$T/astrofs.log"
}

@test "awscred: temporary credentials are refreshed across expiry without a failed read" {
	start_cs cs_web --web-token "wit-$$" --ttl 4
	printf 'wit-%s\n' "$$" >"$T/wit"
	export AWS_WEB_IDENTITY_TOKEN_FILE=$T/wit AWS_ROLE_ARN=arn:aws:iam::123456789012:role/astrofs
	export AWS_ENDPOINT_URL_STS=$CS_URL
	local before; before=$(grep -c web_identity "$S3_TEMP_CREDS")
	cred_mount
	# 10 s of reads, each at a new place in the 44 GB raw object (never cached)
	for i in $(seq 1 20); do
		dd if="$T/mnt/fits/astro/$CUBE_KEY/raw" of=/dev/null bs=4096 count=1 \
			skip=$((i * 250000)) status=none || { cat "$T/astrofs.log"; false; }
		sleep 0.5
	done
	# issued at mount, then again before each expiry: at least 3 sets
	[ $(( $(grep -c web_identity "$S3_TEMP_CREDS") - before )) -ge 3 ]
	# and the front never refused one
	! awk -F'\t' '$4 >= 400' "$S3_LOG" | grep -q .
	no_secret_leaked
}

@test "awscred: an ExpiredToken answer refreshes once and the read still succeeds" {
	# The credentials claim an hour, but S3 drops them after 2 s.
	start_cs cs_imds --ttl 3600 --s3-ttl 2
	export AWS_EC2_METADATA_SERVICE_ENDPOINT=$CS_URL AWS_EC2_METADATA_DISABLED=false
	local before; before=$(grep -c imds "$S3_TEMP_CREDS")
	cred_mount
	dd if="$T/mnt/fits/astro/$CUBE_KEY/raw" of=/dev/null bs=4096 count=1 skip=1000 status=none
	sleep 3
	dd if="$T/mnt/fits/astro/$CUBE_KEY/raw" of=/dev/null bs=4096 count=1 skip=9000000 status=none ||
		{ cat "$T/astrofs.log"; false; }
	[ $(( $(grep -c imds "$S3_TEMP_CREDS") - before )) -eq 2 ]
	[ "$(awk -F'\t' '$4 == 400' "$S3_LOG" | wc -l)" -eq 1 ]
}

@test "awscred: outside any cloud (metadata service silent) the mount starts in under 2 s, anonymous, and says so once" {
	start_cs cs_hole --stall
	export AWS_EC2_METADATA_SERVICE_ENDPOINT=$CS_URL AWS_EC2_METADATA_DISABLED=false
	local t0 t1
	t0=$(date +%s%N)
	cred_mount
	t1=$(date +%s%N)
	echo "mount took $(( (t1 - t0) / 1000000 )) ms"
	[ $(( (t1 - t0) / 1000000 )) -lt 2000 ]
	[ "$(grep -c 'aws credentials: none found' "$T/astrofs.log")" -eq 1 ]
	! grep -q '^aws_credentials' "$T/mnt/.astrofs/config"
	# anonymous: the private bucket refuses
	run cat "$T/mnt/fits/astro/$CUBE_KEY/headers/0"
	[ "$status" -ne 0 ]
}

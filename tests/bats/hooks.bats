#!/usr/bin/env bats
# Test hooks stay out of the product (curl's UNITTEST): the fault-injection
# setters, the clock shift, the log sink and the internal functions tests call
# directly exist only in the library built with -DASTRO_UNITTEST
# (build/libastro-unit.a, which the unit suites link).  The installed programs
# must not carry any of them.

load lib

# Setters and test-only functions: not in the product in any form.
HOOKS='_inject|_set_clock_offset|astro_limiter_wait_ms|astro_log_set_sink|astro_log_set_ratelimit'
# Functions the product uses itself and tests call directly (ASTRO_TESTABLE):
# file-local in the product, so never exported ('T').
TESTABLE='astro_s3_address|astro_s3_parse_content_range|astro_sfreq_number|astro_obs_aws_form|astro_obs_sqs_parse|astro_obs_sqs_reply_free|astro_obs_aws_image_seq|astro_ulid_encode'

@test "hooks: the installed programs contain no test hook" {
	local prog bad
	for prog in astrofs astrofs-ingest astrofs-obssim; do
		[ -x "$ROOT/build/$prog" ]
		bad=$(nm "$ROOT/build/$prog" | grep -E "$HOOKS" || true)
		[ -z "$bad" ] || { echo "$prog: $bad"; false; }
		bad=$(nm "$ROOT/build/$prog" | grep -E " T ($TESTABLE)\$" || true)
		[ -z "$bad" ] || { echo "$prog exports: $bad"; false; }
	done
}

@test "hooks: the unit build has them (the check above can see a hook)" {
	[ -f "$ROOT/build/libastro-unit.a" ] || skip "unit library not built (make unit)"
	nm "$ROOT/build/libastro-unit.a" | grep -qE "$HOOKS"
	nm "$ROOT/build/libastro-unit.a" | grep -q ' T astro_http_set_inject$'
	nm "$ROOT/build/libastro-unit.a" | grep -qE " T ($TESTABLE)\$"
}

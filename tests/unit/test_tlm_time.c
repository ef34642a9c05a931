#include "unit.h"
#include <errno.h>
#include "core/astro.h"
#include "telemetry/tlm_time.h"

#define EXPECT_SCRIPT "tests/oracles/time_expect.py"

static int64_t must_parse(const char *s)
{
	char err[128] = "";
	int64_t t = 0;
	int rc = astro_tlm_time_parse(s, strlen(s), &t, err, sizeof(err));

	if (rc != 0)
		fail_msg("parse %s: %d %s", s, rc, err);
	return t;
}

/* Values worked by hand from the definitions (see the reference note 1.1). */
static void hand_checked_constants(void **state)
{
	char buf[ASTRO_TLM_TIME_BUF];

	(void)state;
	/* 2022-01-01 = unix 1640995200; +0.123 +37 +32.184 - 883612800 */
	assert_int_equal(must_parse("2022:001:00:00:00.123"), 757382469307000LL);
	assert_int_equal(must_parse("2022-01-01T00:00:00.123Z"), 757382469307000LL);
	astro_tlm_time_fmt_date(100123000, buf);
	assert_string_equal(buf, "1998:001:00:00:36.939");
	/* The epoch itself: 1998.0 TT = 1997-12-31T23:58:56.816 UTC. */
	assert_int_equal(must_parse("1997-12-31T23:58:56.816"), 0);
	/* Leap seconds: unix(next midnight) + N_old + 32.184 - 883612800. */
	assert_int_equal(must_parse("1998:365:23:59:60"), 31536063184000LL);
	assert_int_equal(must_parse("1999:001:00:00:00"), 31536064184000LL);
	assert_int_equal(must_parse("2016-12-31T23:59:60Z"), 599616068184000LL);
	assert_int_equal(must_parse("2017:001"), 599616069184000LL);
	astro_tlm_time_fmt_iso(599616068684000LL, 3, buf);
	assert_string_equal(buf, "2016-12-31T23:59:60.500Z");
	astro_tlm_time_fmt_date(599616068684000LL, buf);
	assert_string_equal(buf, "2016:366:23:59:60.500");
	/* YYYY:DDD means midnight (chandra_time >= 4.0), not noon. */
	assert_int_equal(must_parse("2013:001"), must_parse("2013:001:00:00:00.000"));
	/* JWST ObsTime 1611628138051 ms = 2021-01-26T02:28:58.051Z. */
	assert_int_equal(must_parse("/Date(1611628138051+0000)/"),
			 must_parse("2021-01-26T02:28:58.051Z"));
	/* secs text is the shortest exact decimal of the stored µs. */
	astro_tlm_time_fmt_secs(757382469307000LL, buf);
	assert_string_equal(buf, "757382469.307");
	astro_tlm_time_fmt_secs(-1500000, buf);
	assert_string_equal(buf, "-1.5");
	astro_tlm_time_fmt_secs(5000000, buf);
	assert_string_equal(buf, "5");
}

static void rejects_garbage(void **state)
{
	static const char *bad[] = {
		"", "2022", "2022:", "2022:000", "2022:366", "2020:367", "2022:001:24:00:00",
		"2022:001:00:60:00", "2022:001:23:59:60", "2016:366:23:58:60", "2022:001:00:00:00.",
		"2022:001:00:00:00.1x", "2022:001:0", "2022-02-29", "2022-13-01", "2022-01-01T12",
		"2022-01-01T12:00+01:00", "2022-01-01Z5", "1971-12-31T00:00:00", "/Date(abc)/",
		"/Date(1611628138051+0000)", "/Date()/", "secs:", "secs:nan", "secs:0x10",
		"secs:1e300", "unix:", "unix:12a", "hello", "2022:001:00:00:00 ",
	};
	char err[128];
	int64_t t;

	(void)state;
	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		int rc = astro_tlm_time_parse(bad[i], strlen(bad[i]), &t, err, sizeof(err));

		if (rc == 0)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_true(rc == -EINVAL || rc == -ERANGE);
		assert_true(err[0] != '\0');
	}
}

static void round_trips(void **state)
{
	char buf[ASTRO_TLM_TIME_BUF];
	int64_t t, t2, ms;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		uint64_t r;

		astro_random(&r, sizeof(r));
		/* unix ms across 1972..2100 */
		int64_t m = 63072000000LL + (int64_t)(r % 4039372800000ULL);

		assert_int_equal(astro_tlm_time_from_unix_ms(m, &t), 0);
		assert_int_equal(astro_tlm_time_to_unix_ms(t, &ms), 0);
		assert_int_equal(ms, m);
		/* date text keeps ms exactly */
		astro_tlm_time_fmt_date(t, buf);
		t2 = must_parse(buf);
		assert_int_equal(t2, t);
		/* ISO with µs exact for any µs time; secs text exact */
		t += (int64_t)(r >> 50) % 1000;
		astro_tlm_time_fmt_iso(t, 6, buf);
		assert_int_equal(must_parse(buf), t);
		astro_tlm_time_fmt_secs(t, buf);
		assert_int_equal(astro_tlm_time_parse_secs(buf, strlen(buf), &t2, NULL, 0), 0);
		assert_int_equal(t2, t);
		/* the double form rounds to the nearest µs */
		assert_int_equal(astro_tlm_time_from_secs(astro_tlm_time_to_secs(t), &t2), 0);
		assert_int_equal(t2, t);
	}
}

/* Ends of days followed by a leap second, 1972..2016 (IERS Bulletin C). */
static const char *leap_days[] = {
	"1972-06-30", "1972-12-31", "1973-12-31", "1981-06-30", "1989-12-31",
	"1997-06-30", "1998-12-31", "2005-12-31", "2008-12-31", "2012-06-30",
	"2015-06-30", "2016-12-31",
};

static void against_independent_ground_truth(void **state)
{
	char cmdfile[] = "/tmp/astro-tlmtime-XXXXXX", cmd[512], line[128];
	char buf[ASTRO_TLM_TIME_BUF];
	int64_t ts[400];
	int n = 0, fd;
	FILE *in, *out;

	(void)state;
	if (access(EXPECT_SCRIPT, R_OK) != 0)
		skip();
	fd = mkstemp(cmdfile);
	assert_true(fd >= 0);
	in = fdopen(fd, "w");
	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(leap_days); i++) {
		static const char *clk[] = {"23:59:59.500000", "23:59:60.000000",
					    "23:59:60.999999"};
		for (size_t k = 0; k < 3; k++) {
			snprintf(buf, sizeof(buf), "%sT%s", leap_days[i], clk[k]);
			ts[n++] = must_parse(buf);
			fprintf(in, "u2t %s\n", buf);
		}
	}
	for (int i = 0; i < 200; i++) {
		uint64_t r;

		astro_random(&r, sizeof(r));
		ts[n] = -800000000000000LL + (int64_t)(r % 2700000000000000ULL);
		astro_tlm_time_fmt_iso(ts[n], 6, buf);
		buf[strlen(buf) - 1] = '\0';	/* python wants no Z */
		fprintf(in, "u2t %s\n", buf);
		n++;
	}
	/* And the other way, including every second of 2016-12-31T23:59:60. */
	int nfwd = n;
	for (int i = 0; i < nfwd && n < (int)ASTRO_ARRAY_SIZE(ts); i++) {
		ts[n] = ts[i];
		astro_tlm_time_fmt_secs(ts[n++], buf);
		fprintf(in, "t2u %s\n", buf);
	}
	fclose(in);
	snprintf(cmd, sizeof(cmd), "python3 %s < %s", EXPECT_SCRIPT, cmdfile);
	out = popen(cmd, "r");
	assert_non_null(out);
	assert_non_null(fgets(line, sizeof(line), out));
	if (strncmp(line, "source:", 7) != 0) {
		fprintf(stderr, "# skip: %s", line);
		pclose(out);
		unlink(cmdfile);
		skip();
	}
	fprintf(stderr, "# ground truth %s", line);
	for (int i = 0; i < n; i++) {
		int64_t t;

		assert_non_null(fgets(line, sizeof(line), out));
		line[strcspn(line, "\n")] = '\0';
		if (i < nfwd) {
			assert_int_equal(astro_tlm_time_parse_secs(line, strlen(line), &t, NULL, 0), 0);
			if (t != ts[i])
				fail_msg("#%d: python %s, C %lld", i, line, (long long)ts[i]);
		} else {
			astro_tlm_time_fmt_iso(ts[i], 6, buf);
			buf[strlen(buf) - 1] = '\0';
			if (strcmp(buf, line) != 0)
				fail_msg("#%d: python %s, C %s", i, line, buf);
		}
	}
	pclose(out);
	unlink(cmdfile);
}

static void utc_day_blocks(void **state)
{
	int64_t d, t;

	(void)state;
	/* 2016-12-31 is day 17166 since 1970-01-01 (16 years + 4 leap days + 365) */
	assert_int_equal(astro_tlm_time_utc_day(must_parse("2016-12-31T23:59:60.5Z"), &d), 0);
	assert_int_equal(d, 17166);
	assert_int_equal(astro_tlm_time_utc_day(must_parse("2017-01-01T00:00:00Z"), &d), 0);
	assert_int_equal(d, 17167);
	assert_int_equal(astro_tlm_time_day_start(17167, &t), 0);
	assert_int_equal(t, must_parse("2017:001"));
	assert_int_equal(astro_tlm_time_day_start(17166, &t), 0);
	assert_int_equal(t, must_parse("2016:366"));
	assert_int_equal(astro_tlm_time_day_start(0, &t), -ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hand_checked_constants),
		cmocka_unit_test(rejects_garbage),
		cmocka_unit_test(round_trips),
		cmocka_unit_test(against_independent_ground_truth),
		cmocka_unit_test(utc_day_blocks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

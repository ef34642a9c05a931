#include "unit.h"
#include <errno.h>
#include <math.h>
#include <erfa.h>
#include <openssl/evp.h>
#include "core/log.h"
#include "services/timescale.h"
#include "telemetry/tlm_time.h"

/*
 * The one leap-second table: ERFA's built-in rows, a newer IERS
 * leap-seconds.list preferred, an expired one logged, garbage refused with
 * the reason.  Lists are written by the test (with their SHA-1, as IERS
 * computes it); the IERS excerpt below carries IERS's own hash.
 */

#define NTP_UNIX 2208988800LL	/* NTP seconds at 1970-01-01 */
#define MJD_UNIX 40587

/* 1972..2017, as IERS Bulletin C lists them (UTC MJD, TAI-UTC). */
static const struct astro_timescale_leap bulletin_c[] = {
	{ 41317, 10 }, { 41499, 11 }, { 41683, 12 }, { 42048, 13 },
	{ 42413, 14 }, { 42778, 15 }, { 43144, 16 }, { 43509, 17 },
	{ 43874, 18 }, { 44239, 19 }, { 44786, 20 }, { 45151, 21 },
	{ 45516, 22 }, { 46247, 23 }, { 47161, 24 }, { 47892, 25 },
	{ 48257, 26 }, { 48804, 27 }, { 49169, 28 }, { 49534, 29 },
	{ 50083, 30 }, { 50630, 31 }, { 51179, 32 }, { 53736, 33 },
	{ 54832, 34 }, { 56109, 35 }, { 57204, 36 }, { 57754, 37 },
};
#define NBULL (sizeof(bulletin_c) / sizeof(bulletin_c[0]))

static char logbuf[4096];

static void sink(int level, const char *msg, void *arg)
{
	size_t n = strlen(logbuf);

	(void)level;
	(void)arg;
	snprintf(logbuf + n, sizeof(logbuf) - n, "%s\n", msg);
}

static int setup(void **state)
{
	(void)state;
	logbuf[0] = '\0';
	astro_log_set_level(LOG_DEBUG);
	astro_log_set_sink(sink, NULL);
	astro_log_set_ratelimit(0, 0);	/* every case checks its own line */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	astro_log_set_sink(NULL, NULL);
	return 0;
}

static int64_t mjd_ntp(int64_t mjd)
{
	return (mjd - MJD_UNIX) * 86400 + NTP_UNIX;
}

/*
 * A list of rows [0, n) of bulletin_c plus `extra` (MJD, TAI-UTC pairs,
 * may be NULL), expiring on MJD exp_mjd, with a correct "#h" line.
 */
static char *make_list(size_t n, const struct astro_timescale_leap *extra,
		       size_t nextra, int64_t exp_mjd)
{
	static char text[8192];
	char hashed[4096];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdn;
	size_t t = 0, h = 0;
	int64_t upd = mjd_ntp(exp_mjd - 180);

	t += (size_t)snprintf(text + t, sizeof(text) - t,
			      "# written by test_timescale\n#$\t%lld\n#@\t%lld\n#\n",
			      (long long)upd, (long long)mjd_ntp(exp_mjd));
	h += (size_t)snprintf(hashed + h, sizeof(hashed) - h, "%lld%lld", (long long)upd,
			      (long long)mjd_ntp(exp_mjd));
	for (size_t i = 0; i < n + nextra; i++) {
		const struct astro_timescale_leap *r = i < n ? &bulletin_c[i] : &extra[i - n];

		t += (size_t)snprintf(text + t, sizeof(text) - t, "%lld\t%d\t# row %zu\n",
				      (long long)mjd_ntp(r->mjd), r->tai_utc, i);
		h += (size_t)snprintf(hashed + h, sizeof(hashed) - h, "%lld%d",
				      (long long)mjd_ntp(r->mjd), r->tai_utc);
	}
	assert_true(EVP_Digest(hashed, h, md, &mdn, EVP_sha1(), NULL) == 1);
	t += (size_t)snprintf(text + t, sizeof(text) - t, "#h\t");
	for (int w = 0; w < 5; w++)
		t += (size_t)snprintf(text + t, sizeof(text) - t, "%02x%02x%02x%02x%s",
				      md[4 * w], md[4 * w + 1], md[4 * w + 2], md[4 * w + 3],
				      w < 4 ? " " : "\n");
	assert_true(t < sizeof(text) - 1);
	return text;
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Load text as a list file; returns astro_timescale_load's result. */
static int load_text(const char *text, size_t len, int64_t now, char *err, size_t errlen)
{
	char path[] = "/tmp/astro-leapXXXXXX";
	int fd = mkstemp(path), rc;

	assert_true(fd >= 0);
	close(fd);
	write_file(path, text, len);
	logbuf[0] = '\0';
	rc = astro_timescale_load(path, now, err, errlen);
	unlink(path);
	return rc;
}

static int64_t unix_of(int64_t mjd)
{
	return (mjd - MJD_UNIX) * 86400;
}

static int last_tai_utc(void)
{
	const struct astro_timescale_leap *r;
	size_t n = astro_timescale_leaps(&r);

	assert_true(n > 0);
	return r[n - 1].tai_utc;
}

/* The builtin table agrees with Bulletin C and steps at the right instants. */
static void boundaries(void **state)
{
	const struct astro_timescale_leap *r;
	char err[256];
	double dat;
	size_t n;

	(void)state;
	/* a list identical to ERFA's rows, already expired: ERFA stays in use */
	assert_int_equal(load_text("", 0, unix_of(60000), err, sizeof(err)), -EINVAL);
	n = astro_timescale_leaps(&r);
	assert_int_equal(n, NBULL);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(r[i].mjd, bulletin_c[i].mjd);
		assert_int_equal(r[i].tai_utc, bulletin_c[i].tai_utc);
	}
	/* 2016-12-31T23:59:59 UTC = TAI 2017-01-01T00:00:35: 36 s */
	assert_int_equal(astro_timescale_tai_utc_at_tai(57754.0 + 35.0 / 86400, &dat), 0);
	assert_true(dat == 36.0);
	/* inside 2016-12-31T23:59:60 (TAI 00:00:36.5): still 36 s */
	assert_int_equal(astro_timescale_tai_utc_at_tai(57754.0 + 36.5 / 86400, &dat), 0);
	assert_true(dat == 36.0);
	/* 2017-01-01T00:00:00 UTC = TAI 00:00:37: 37 s */
	assert_int_equal(astro_timescale_tai_utc_at_tai(57754.0 + 37.0 / 86400, &dat), 0);
	assert_true(dat == 37.0);
	assert_int_equal(astro_timescale_tai_utc_at_tai(57754.0 + 37.5 / 86400, &dat), 0);
	assert_true(dat == 37.0);
	assert_int_equal(astro_timescale_tai_utc_at_tai(61000.0, &dat), 0);
	assert_true(dat == 37.0);
	/* 1972-01-01T00:00:00 UTC, and before 1972: no integral leap seconds */
	assert_int_equal(astro_timescale_tai_utc_at_tai(41317.0 + 10.0 / 86400, &dat), 0);
	assert_true(dat == 10.0);
	assert_int_equal(astro_timescale_tai_utc_at_tai(41317.0 + 11.0 / 86400, &dat), 0);
	assert_true(dat == 10.0);
	assert_int_equal(astro_timescale_tai_utc_at_tai(41317.0, &dat), -ERANGE);
	assert_int_equal(astro_timescale_tai_utc_at_tai(41000.0, &dat), -ERANGE);
	assert_int_equal(astro_timescale_tai_utc_at_tai(NAN, &dat), -EINVAL);
	/* ERFA's own routine says the same for the UTC instants */
	assert_int_equal(eraDat(2016, 12, 31, 86399.5 / 86400, &dat), 0);
	assert_true(dat == 36.0);
	assert_int_equal(eraDat(2017, 1, 1, 0.0, &dat), 0);
	assert_true(dat == 37.0);
}

/* IERS's own file (2025 edition, rows and special lines): its hash checks. */
static void iers_hash_verified(void **state)
{
	static const char iers[] =
		"#\tUpdated through IERS Bulletin C 70\n"
		"#$\t 3960835200\n"
		"#@\t3991593600\n"
		"2272060800\t10\t# 1 Jan 1972\n2287785600\t11\t# 1 Jul 1972\n"
		"2303683200\t12\t# 1 Jan 1973\n2335219200\t13\t# 1 Jan 1974\n"
		"2366755200\t14\t# 1 Jan 1975\n2398291200\t15\t# 1 Jan 1976\n"
		"2429913600\t16\t# 1 Jan 1977\n2461449600\t17\t# 1 Jan 1978\n"
		"2492985600\t18\t# 1 Jan 1979\n2524521600\t19\t# 1 Jan 1980\n"
		"2571782400\t20\t# 1 Jul 1981\n2603318400\t21\t# 1 Jul 1982\n"
		"2634854400\t22\t# 1 Jul 1983\n2698012800\t23\t# 1 Jul 1985\n"
		"2776982400\t24\t# 1 Jan 1988\n2840140800\t25\t# 1 Jan 1990\n"
		"2871676800\t26\t# 1 Jan 1991\n2918937600\t27\t# 1 Jul 1992\n"
		"2950473600\t28\t# 1 Jul 1993\n2982009600\t29\t# 1 Jul 1994\n"
		"3029443200\t30\t# 1 Jan 1996\n3076704000\t31\t# 1 Jul 1997\n"
		"3124137600\t32\t# 1 Jan 1999\n3345062400\t33\t# 1 Jan 2006\n"
		"3439756800\t34\t# 1 Jan 2009\n3550089600\t35\t# 1 Jul 2012\n"
		"3644697600\t36\t# 1 Jul 2015\n3692217600\t37\t# 1 Jan 2017\n"
		"#\n#h\t49db2447 571e5e1b 2f002a53 9c8da8e4 39b8e49e\n";
	struct astro_timescale_list l;
	char err[256], *bad = strdup(iers), *p;

	(void)state;
	assert_int_equal(astro_timescale_parse(iers, sizeof(iers) - 1, &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, NBULL);
	assert_int_equal(l.expires, 3991593600LL - NTP_UNIX);	/* 2026-06-28 */
	assert_int_equal(l.updated, 3960835200LL - NTP_UNIX);
	/* one digit of the expiry changed: the hash no longer matches */
	p = strstr(bad, "3991593600");
	p[9] = '1';
	assert_int_equal(astro_timescale_parse(bad, strlen(bad), &l, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "SHA-1"));
	free(bad);
}

/* A list with a leap second ERFA lacks is used, by every tree and by ERFA. */
static void newer_list_preferred(void **state)
{
	static const struct astro_timescale_leap y2027[] = { { 61406, 38 } }; /* 2027-01-01 */
	const char *text = make_list(NBULL, y2027, 1, 61406 + 178);
	char err[256];
	double dat;
	int64_t t1, t2;

	(void)state;
	assert_int_equal(load_text(text, strlen(text), unix_of(61406 + 30), err, sizeof(err)), 1);
	assert_int_equal(last_tai_utc(), 38);
	assert_int_equal(astro_timescale_expires(), unix_of(61406 + 178));
	assert_null(strstr(logbuf, "expired"));
	assert_non_null(strstr(logbuf, "valid until 2027-06-28"));
	assert_int_equal(astro_timescale_tai_utc_at_tai(61406.0 + 38.0 / 86400, &dat), 0);
	assert_true(dat == 38.0);
	assert_true(eraDat(2027, 1, 1, 0.0, &dat) >= 0);	/* 1: "dubious" to ERFA 2.0 */
	assert_true(dat == 38.0);
	/* telemetry: 2026-12-31T23:59:60 now exists, one second before 2027 */
	assert_int_equal(astro_tlm_time_parse("2026-12-31T23:59:60Z", 20, &t1, err, sizeof(err)), 0);
	assert_int_equal(astro_tlm_time_parse("2027-01-01T00:00:00Z", 20, &t2, err, sizeof(err)), 0);
	assert_int_equal(t2 - t1, ASTRO_TLM_US);

	/* the same rows as ERFA, vouched for by the file until 2026-06-28: used */
	text = make_list(NBULL, NULL, 0, 61219);
	assert_int_equal(load_text(text, strlen(text), unix_of(61000), err, sizeof(err)), 1);
	assert_int_equal(last_tai_utc(), 37);
	assert_int_equal(astro_timescale_expires(), unix_of(61219));
	assert_int_equal(astro_tlm_time_parse("2026-12-31T23:59:60Z", 20, &t1, err, sizeof(err)), -EINVAL);

	/* an older list (through 2015) is not newer: ERFA's table stays */
	text = make_list(NBULL - 1, NULL, 0, 57400);
	assert_int_equal(load_text(text, strlen(text), unix_of(61000), err, sizeof(err)), 0);
	assert_int_equal(last_tai_utc(), 37);
	assert_non_null(strstr(logbuf, "ERFA's built-in table"));
}

/* The table in use has expired: one log line says so, with the date. */
static void expired_is_logged(void **state)
{
	const char *text = make_list(NBULL, NULL, 0, 61219);	/* 2026-06-28 */
	char err[256];

	(void)state;
	assert_int_equal(load_text(text, strlen(text), unix_of(61219 + 160), err, sizeof(err)), 1);
	assert_non_null(strstr(logbuf, "expired on 2026-06-28"));
	/* the same file read before its expiry logs no such line */
	assert_int_equal(load_text(text, strlen(text), unix_of(61219 - 1), err, sizeof(err)), 1);
	assert_null(strstr(logbuf, "expired"));
	/* ERFA's built-in table, without a usable file, expired 180 days after 2017-01-01 */
	assert_true(load_text("x", 1, unix_of(61000), err, sizeof(err)) < 0);
	assert_int_equal(astro_timescale_expires(), unix_of(57754 + 180));
	assert_non_null(strstr(logbuf, "expired on 2017-06-30"));
}

/* Malformed lists are refused with what was wrong; ERFA's table stays. */
static void garbage_rejected(void **state)
{
	static const struct {
		const char *text, *why;
	} cases[] = {
		{ "hello world\n", "line 1: expected '<NTP seconds> <TAI-UTC>'" },
		{ "#@\t3991593600\n2272060800 10 extra\n", "line 2: unexpected text after TAI-UTC" },
		{ "2272060800\t10\n", "no expiry line" },
		{ "#@\t3991593600\n", "no '<NTP seconds> <TAI-UTC>' lines" },
		{ "#@ soon\n2272060800\t10\n", "line 1: expected '#@ <NTP seconds>'" },
		{ "#@\t3991593600\n#@\t3991593600\n", "line 2: a second expiry line" },
		{ "#@\t3991593600\n2272060801\t10\n", "line 2: 2272060801 is not a UTC midnight" },
		{ "#@\t3991593600\n2272147200\t10\n", "line 2: 1972-01-02 is not the 1st of a month" },
		{ "#@\t3991593600\n2287785600\t11\n", "line 2: the first entry must be 1 Jan 1972, 10 s" },
		{ "#@\t3991593600\n2272060800\t10\n2287785600\t12\n", "line 3: TAI-UTC steps from 10 to 12 s" },
		{ "#@\t3991593600\n2287785600\t10\n2272060800\t11\n", "line 2: the first entry" },
		{ "#@\t3991593600\n2272060800\t10\n2272060800\t11\n", "line 3: dates out of order" },
		{ "#@\t2272060800\n2272060800\t10\n", "the expiry (#@) is not after the last entry" },
		{ "#@\t999999999999999\n2272060800\t10\n", "the expiry (#@) is after the year 9999" },
		{ "#@\t3991593600\n2272060800\t10\n#h 1 2 3\n", "line 3: expected '#h' and five hex words" },
		{ "#@\t3991593600\n2272060800\t10\n#h 1 2 3 4 5\n", "the SHA-1 in the '#h' line does not match" },
		{ "#@\t3991593600\n2272060800\t99999999999999999999\n", "line 2: expected" },
		{ "#@\t3991593600\n17280000000000\t10\n", "line 2: date after the year 9999" },
		/* 1 Jan 2016 at 37 s contradicts ERFA's rows (2016: 36 s) */
		{ NULL, "entry 28 disagrees with ERFA's table (2017-01-01, 37 s)" },
	};
	static const struct astro_timescale_leap wrong[] = { { 57388, 37 } };
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *text = cases[i].text ? cases[i].text : make_list(NBULL - 1, wrong, 1, 61219);

		assert_int_equal(load_text(text, strlen(text), unix_of(61000), err, sizeof(err)), -EINVAL);
		if (!strstr(err, cases[i].why) || !strstr(logbuf, cases[i].why))
			fail_msg("case %zu: want \"%s\", got \"%s\" / log \"%s\"", i, cases[i].why, err, logbuf);
		assert_non_null(strstr(err, "/tmp/astro-leap"));
		assert_int_equal(last_tai_utc(), 37);
		assert_int_equal(astro_timescale_expires(), unix_of(57754 + 180));
	}
	/* a NUL byte: not a text file */
	assert_int_equal(load_text("#@\t3991593600\n\0", 15, unix_of(61000), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "NUL"));
	/* absent: said plainly, ERFA's table in use */
	logbuf[0] = '\0';
	assert_int_equal(astro_timescale_load("/nonexistent/leap-seconds.list", unix_of(61000),
					      err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(logbuf, "ERFA's built-in table"));
}

/* The system's own list, when there is one, parses (hash included). */
static void system_list_parses(void **state)
{
	struct astro_timescale_list l;
	char err[256], *buf;
	size_t len = 0;

	(void)state;
	buf = unit_slurp(ASTRO_TIMESCALE_LIST_PATH, &len);
	if (!buf)
		skip();
	if (astro_timescale_parse(buf, len, &l, err, sizeof(err)) != 0)
		fail_msg("%s: %s", ASTRO_TIMESCALE_LIST_PATH, err);
	assert_true(l.n >= NBULL);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(boundaries, setup, teardown),
		cmocka_unit_test_setup_teardown(iers_hash_verified, setup, teardown),
		cmocka_unit_test_setup_teardown(newer_list_preferred, setup, teardown),
		cmocka_unit_test_setup_teardown(expired_is_logged, setup, teardown),
		cmocka_unit_test_setup_teardown(garbage_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(system_list_parses, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include "unit.h"
#include <math.h>
#include "core/astro.h"
#include "telemetry/tlm_fmt.h"
#include "telemetry/tlm_parse.h"
#include "telemetry/tlm_stats.h"
#include "telemetry/tlm_time.h"

#define REPR_SCRIPT "tests/oracles/repr_digits.py"

static double random_double(int i)
{
	uint64_t bits;
	double x;

	astro_random(&bits, sizeof(bits));
	if (i % 3 == 0) {
		/* telemetry-like: a short decimal */
		return (double)(int64_t)(bits % 2000000001ULL - 1000000000LL) / pow(10, (double)(bits >> 60));
	}
	memcpy(&x, &bits, sizeof(x));
	return isfinite(x) ? x : 1.5;
}

static void round_trips(void **state)
{
	char buf[ASTRO_TLM_NUM_BUF];

	(void)state;
	static const double fixed[] = {0.1, 0.2, 0.3, 113.798, -0.209546775, 1e-5, 9.999999e-6,
				       1e15, 999999999999999.9, 5e-324, 1.7976931348623157e308, 2.0 / 3, 100, 1e23};
	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(fixed); i++) {
		astro_tlm_fmt_double(fixed[i], buf);
		assert_true(strtod(buf, NULL) == fixed[i]);
	}
	astro_tlm_fmt_double(113.798, buf);
	assert_string_equal(buf, "113.798");
	astro_tlm_fmt_double(-0.000125, buf);
	assert_string_equal(buf, "-0.000125");
	astro_tlm_fmt_double(100, buf);
	assert_string_equal(buf, "100");
	astro_tlm_fmt_double(-0.0, buf);
	assert_string_equal(buf, "-0");
	astro_tlm_fmt_int(INT64_MIN, buf);
	assert_string_equal(buf, "-9223372036854775808");
	for (int i = 0; i < 300000; i++) {
		double x = random_double(i);
		size_t n = astro_tlm_fmt_double(x, buf);

		assert_int_equal(n, strlen(buf));
		if (strtod(buf, NULL) != x)
			fail_msg("%.17g printed as %s", x, buf);
	}
}

/*
 * The per-thread memory (last text, last decimals tried first) gives the
 * scan's bytes whatever came before: runs of telemetry-like values whose
 * decimals change (17.04 then 17.1, 17, 1700, 0.0170...), repeats, and
 * arbitrary doubles in between.
 */
static void memo_matches_scan(void **state)
{
	static const double seq[] = {17.04, 17.04, 17.1, 17.0, 17.0, 170, 1700, 0.017, 0.0170001,
				     1e14 + 0.5, 99999999999999.9, 123456789012345.6, 0.1, 0.3,
				     0.30000000000000004, -0.3, -0.0, 0.0, 1e-5, 9.999999e-6, 25.5, 25.50001,
				     2.5, 250, 2500.5, 2500.25, 2500.2, 2500.0};
	char a[ASTRO_TLM_NUM_BUF], b[ASTRO_TLM_NUM_BUF];
	uint64_t bits;
	double x = 1;

	(void)state;
	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(seq); i++) {
		size_t n = astro_tlm_fmt_double(seq[i], a), m = astro_tlm_fmt_double_scan(seq[i], b);

		if (n != m || strcmp(a, b) != 0)
			fail_msg("%.17g after %.17g: %s, scan %s", seq[i], i ? seq[i - 1] : 0.0, a, b);
	}
	for (int i = 0; i < 400000; i++) {
		astro_random(&bits, sizeof(bits));
		switch (bits & 7) {
		case 0:	/* a fresh short decimal of 0..9 places */
			x = (double)(int64_t)((bits >> 8) % 2000000001ULL - 1000000000LL) /
			    pow(10, (double)((bits >> 4) % 10));
			break;
		case 1:	/* a step of the last one at one fewer or more places */
			x += (double)(int64_t)((bits >> 8) % 21 - 10) / pow(10, (double)((bits >> 4) % 6));
			break;
		case 2:	/* the last value times ten: fewer decimals */
			x *= 10;
			break;
		case 3:
			x /= 10;
			break;
		case 4:	/* arbitrary bits */
			memcpy(&x, &bits, sizeof(x));
			if (!isfinite(x))
				x = 0.5;
			break;
		default:	/* a repeat */
			break;
		}
		size_t n = astro_tlm_fmt_double(x, a), m = astro_tlm_fmt_double_scan(x, b);

		if (n != m || strcmp(a, b) != 0)
			fail_msg("%.17g: %s, scan %s", x, a, b);
	}
}

/*
 * A FLOAT decoded from a decimal column (dec = 1 + k, i its digits) is
 * written from its digits; the row must equal the one the scan writes for
 * the same double, for every k the block codec uses (0..15), digit counts
 * up to past 10^14 (where the digits path hands over), trailing zeros,
 * signs and the tiny values the scan prints with an exponent.
 */
static void decimal_rows_match_scan(void **state)
{
	static const int64_t fixed[] = {0, 1, -1, 10, 100, 1700, -25000, 99999999999999LL,
					100000000000000LL, 123456789012345LL, 9007199254740991LL,
					-9007199254740991LL};
	char a[256], b[256];
	uint64_t bits;

	(void)state;
	for (int i = 0; i < 300000; i++) {
		struct astro_tlm_val v = {.type = ASTRO_TLM_FLOAT}, w;
		int k;
		int64_t n;
		size_t la, lb;

		astro_random(&bits, sizeof(bits));
		k = (int)(bits % 16);
		if (i < (int)ASTRO_ARRAY_SIZE(fixed) * 16) {
			n = fixed[i / 16];
			k = i % 16;
		} else {
			/* 1 to 16 digits, then maybe some trailing zeros */
			uint64_t mod = 1;

			for (int d = (int)((bits >> 4) % 16) + 1; d > 0; d--)
				mod *= 10;
			n = (int64_t)((bits >> 12) % mod);
			for (int z = (int)((bits >> 8) % 4); z > 0 && n < 900719925474099LL; z--)
				n *= 10;
			if (bits & 0x8)
				n = -n;
		}
		v.f = (double)n / pow(10, k);
		v.i = n;
		v.dec = (uint8_t)(k + 1);
		w = v;
		w.dec = 0;
		w.i = 0;
		la = astro_tlm_fmt_row(1000000, &v, a, sizeof(a));
		lb = astro_tlm_fmt_row(1000000, &w, b, sizeof(b));
		if (la != lb || memcmp(a, b, la) != 0)
			fail_msg("%lld / 10^%d: %.*s, scan %.*s", (long long)n, k, (int)la, a, (int)lb, b);
	}
}

static void digits_of(const char *s, char *out)
{
	const char *e = strpbrk(s, "eE");
	size_t n = e ? (size_t)(e - s) : strlen(s), k = 0;
	char tmp[64];

	for (size_t i = 0; i < n; i++)
		if (s[i] >= '0' && s[i] <= '9')
			tmp[k++] = s[i];
	tmp[k] = '\0';
	char *p = tmp;

	while (*p == '0')
		p++;
	k = strlen(p);
	while (k && p[k - 1] == '0')
		p[--k] = '\0';
	memcpy(out, *p ? p : "0", strlen(*p ? p : "0") + 1);
}

/* The same significant digits as Python's repr (shortest, nearest). */
static void matches_python_repr(void **state)
{
	char in[] = "/tmp/astro-fmt-XXXXXX", cmd[256], line[64], buf[ASTRO_TLM_NUM_BUF], d[64];
	double xs[3000];
	FILE *f, *p;
	int fd;

	(void)state;
	if (access(REPR_SCRIPT, R_OK) != 0)
		skip();
	fd = mkstemp(in);
	f = fdopen(fd, "w");
	for (int i = 0; i < 3000; i++) {
		uint64_t bits;

		xs[i] = random_double(i);
		memcpy(&bits, &xs[i], 8);
		fprintf(f, "%016llx\n", (unsigned long long)bits);
	}
	fclose(f);
	snprintf(cmd, sizeof(cmd), "python3 %s < %s", REPR_SCRIPT, in);
	p = popen(cmd, "r");
	assert_non_null(p);
	for (int i = 0; i < 3000; i++) {
		assert_non_null(fgets(line, sizeof(line), p));
		line[strcspn(line, "\n")] = '\0';
		astro_tlm_fmt_double(xs[i], buf);
		digits_of(buf, d);
		if (strcmp(d, line) != 0)
			fail_msg("%.17g: ours %s, python %s", xs[i], buf, line);
	}
	pclose(p);
	unlink(in);
}

/* fmt_row's row for t against the row built from tlm_time's formatters. */
static void check_row(int64_t t)
{
	struct astro_tlm_val v = {.type = ASTRO_TLM_FLOAT, .f = -2.5};
	char want[128], got[128], d[ASTRO_TLM_TIME_BUF], s[ASTRO_TLM_TIME_BUF];
	size_t n;

	astro_tlm_time_fmt_date(t, d);
	astro_tlm_time_fmt_secs(t, s);
	snprintf(want, sizeof(want), "%s,%s,-2.5\n", d, s);
	assert_int_equal(astro_tlm_fmt_row(t, &v, NULL, 0), strlen(want));
	n = astro_tlm_fmt_row(t, &v, got, sizeof(got));
	assert_int_equal(n, strlen(want));
	got[n] = '\0';
	assert_string_equal(got, want);
}

static int64_t utc(int y, int doy, int h, int m, int sec, int usec)
{
	struct astro_tlm_utc u = {.year = y, .doy = doy, .hour = h, .min = m, .sec = sec, .usec = usec};
	int64_t t;

	assert_int_equal(astro_tlm_time_from_utc(&u, &t), 0);
	return t;
}

/*
 * fmt_row keeps per-thread caches of the day and the whole second; whatever
 * order rows come in, its text must stay tlm_time's.
 */
static void row_matches_time_formatters(void **state)
{
	struct astro_tlm_val v = {.type = ASTRO_TLM_INT, .i = 7};
	char buf[128];
	int64_t t, t0;
	size_t n;

	(void)state;
	/* by hand: 2024-01-01 00:00 UTC is unix 1704067200, 1998.0 TT is unix
	 * 883612800 + 63.184 s of TT-UTC then, 69.184 s now */
	n = astro_tlm_fmt_row(utc(2024, 1, 0, 0, 0, 0), &v, buf, sizeof(buf));
	assert_int_equal(n, 38);
	assert_memory_equal(buf, "2024:001:00:00:00.000,820454469.184,7\n", n);
	/* 1 Hz across midnight and across the leap second of 2016-12-31 */
	t0 = utc(2016, 366, 23, 59, 0, 0);
	for (t = t0; t < t0 + 150 * ASTRO_TLM_US; t += ASTRO_TLM_US)
		check_row(t);
	for (t = utc(2024, 60, 23, 58, 0, 0); t < utc(2024, 61, 0, 2, 0, 0); t += ASTRO_TLM_US)
		check_row(t);
	/* sub-second steps, and the whole seconds' text carrying a digit */
	for (t = 999999990 * ASTRO_TLM_US; t < 1000000010 * ASTRO_TLM_US; t += 250000)
		check_row(t);
	for (t = 99999 * ASTRO_TLM_US + 1; t < 100001 * ASTRO_TLM_US; t += 333333)
		check_row(t);
	/* before 1998 (negative CXC seconds) and random jumps both ways */
	check_row(utc(1990, 100, 12, 0, 0, 1000));
	for (int i = 0; i < 20000; i++) {
		uint64_t r;

		astro_random(&r, sizeof(r));
		t = utc(1973, 1, 0, 0, 0, 0) + (int64_t)(r % (uint64_t)(80LL * 365 * 86400 * ASTRO_TLM_US));
		if (i % 4 == 0)
			t -= t % ASTRO_TLM_US;
		check_row(t);
		check_row(t + ASTRO_TLM_US);
		check_row(t + 1);
	}
}

static void csv_text_quotes(void **state)
{
	char out[64];
	size_t n;

	(void)state;
	n = astro_tlm_fmt_csv_text("NPNT", 4, out, sizeof(out));
	assert_int_equal(n, 4);
	n = astro_tlm_fmt_csv_text("a,\"b\"", 5, out, sizeof(out));
	out[n] = '\0';
	assert_string_equal(out, "\"a,\"\"b\"\"\"");
	assert_int_equal(astro_tlm_fmt_csv_text("a,\"b\"", 5, out, 2), n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trips),
		cmocka_unit_test(matches_python_repr),
		cmocka_unit_test(memo_matches_scan),
		cmocka_unit_test(decimal_rows_match_scan),
		cmocka_unit_test(csv_text_quotes),
		cmocka_unit_test(row_matches_time_formatters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

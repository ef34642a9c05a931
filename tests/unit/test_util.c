#include "unit.h"
#include <errno.h>
#include "core/astro.h"

static void strlcpy_truncates_and_reports(void **state)
{
	char buf[4];

	(void)state;
	assert_int_equal(astro_strlcpy(buf, "abc", sizeof(buf)), 0);
	assert_string_equal(buf, "abc");
	assert_int_equal(astro_strlcpy(buf, "abcd", sizeof(buf)), -ENAMETOOLONG);
	assert_string_equal(buf, "abc");
}

static void clocks_move_forward(void **state)
{
	int64_t a = astro_mono_ms(), b;

	(void)state;
	astro_sleep_ms(5);
	b = astro_mono_ms();
	assert_true(b >= a + 4);
	assert_true(astro_now_ms() > 1700000000000LL);
}

static void random_differs(void **state)
{
	unsigned char a[16], b[16];

	(void)state;
	assert_int_equal(astro_random(a, sizeof(a)), 0);
	assert_int_equal(astro_random(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
}

static void civil_dates_round_trip(void **state)
{
	int64_t y;
	unsigned m, d;

	(void)state;
	/* Known points: the Unix epoch, J2000's day, a leap day, Sputnik. */
	assert_int_equal(astro_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(astro_days_from_civil(2000, 1, 1), 10957);
	assert_int_equal(astro_days_from_civil(2024, 2, 29), 19782);
	assert_int_equal(astro_days_from_civil(1957, 10, 4), -4472);
	assert_int_equal(astro_days_from_civil(1900, 3, 1), -25508);
	for (int64_t z = -80000; z <= 80000; z += 7) {
		astro_civil_from_days(z, &y, &m, &d);
		assert_true(m >= 1 && m <= 12 && d >= 1 && d <= astro_days_in_month(y, m));
		assert_int_equal(astro_days_from_civil(y, m, d), z);
	}
	assert_int_equal(astro_days_in_month(2000, 2), 29);
	assert_int_equal(astro_days_in_month(1900, 2), 28);
	assert_int_equal(astro_days_in_month(2023, 2), 28);
	assert_int_equal(astro_days_in_month(2024, 13), 0);
}

/* Appends and formatted appends, in place and across growth, stay one
 * NUL-terminated string. */
static void buf_builds_strings(void **state)
{
	struct astro_buf b = { 0 };
	char want[2000];
	size_t wl = 0;

	(void)state;
	astro_buf_put(&b, "", 0);
	assert_non_null(b.p);
	assert_string_equal(b.p, "");
	for (int i = 0; i < 200; i++) {
		astro_buf_printf(&b, "%d,", i);
		wl += (size_t)snprintf(want + wl, sizeof(want) - wl, "%d,", i);
	}
	astro_buf_str(&b, "end");
	wl += (size_t)snprintf(want + wl, sizeof(want) - wl, "end");
	astro_buf_printf(&b, "%0300d", 7);	/* longer than any room left */
	wl += (size_t)snprintf(want + wl, sizeof(want) - wl, "%0300d", 7);
	assert_int_equal(b.err, 0);
	assert_int_equal(b.len, wl);
	assert_string_equal(b.p, want);
	assert_non_null(astro_buf_room(&b, 10));
	assert_int_equal(b.len, wl);
	free(b.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buf_builds_strings),
		cmocka_unit_test(strlcpy_truncates_and_reports),
		cmocka_unit_test(clocks_move_forward),
		cmocka_unit_test(random_differs),
		cmocka_unit_test(civil_dates_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include "unit.h"
#include <errno.h>
#include "astro.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(strlcpy_truncates_and_reports),
		cmocka_unit_test(clocks_move_forward),
		cmocka_unit_test(random_differs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

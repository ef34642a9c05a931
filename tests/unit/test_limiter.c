/* Rate limiter: windows, persistence across reopen, sharing, threads. */
#include "unit.h"
#include <errno.h>
#include <pthread.h>
#include "core/astro.h"
#include "services/cache.h"
#include "services/limiter.h"

static char *dir;

static int setup(void **s) { (void)s; dir = unit_tmpdir(); return dir ? 0 : -1; }
static int teardown(void **s)
{
	char cmd[256];

	(void)s;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	free(dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct astro_rate rate(unsigned a, unsigned as, unsigned b, unsigned bs)
{
	struct astro_rate r = { .n = b ? 2 : 1 };

	r.w[0].limit = a; r.w[0].seconds = as;
	r.w[1].limit = b; r.w[1].seconds = bs;
	return r;
}

static void windows_hold_and_release(void **s)
{
	struct astro_limiter *l;
	struct astro_rate r = rate(3, 60, 5, 3600);

	(void)s;
	assert_int_equal(astro_limiter_open(&l, NULL, "t", &r), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(astro_limiter_acquire(l, astro_mono_ms()), 0);
	assert_int_equal(astro_limiter_acquire(l, astro_mono_ms()), -ETIMEDOUT);
	assert_true(astro_limiter_wait_ms(l) > 59000);
	/* A minute later the minute window is free again... */
	astro_limiter_set_clock_offset(l, 60001);
	assert_int_equal(astro_limiter_acquire(l, astro_mono_ms()), 0);
	assert_int_equal(astro_limiter_acquire(l, astro_mono_ms()), 0);
	/* ...but the hour window (5) is now full. */
	assert_int_equal(astro_limiter_acquire(l, astro_mono_ms()), -ETIMEDOUT);
	assert_true(astro_limiter_wait_ms(l) > 3000000);
	astro_limiter_set_clock_offset(l, 3600000 + 60002);
	assert_int_equal(astro_limiter_acquire(l, astro_mono_ms()), 0);
	astro_limiter_close(l);
}

static void waits_for_a_slot_within_the_deadline(void **s)
{
	struct astro_limiter *l;
	struct astro_rate r = rate(2, 1, 0, 0);

	(void)s;
	assert_int_equal(astro_limiter_open(&l, NULL, "t", &r), 0);
	assert_int_equal(astro_limiter_acquire(l, astro_mono_ms()), 0);
	assert_int_equal(astro_limiter_acquire(l, astro_mono_ms()), 0);
	/* The third must wait about a second, and gets its slot. */
	assert_int_equal(astro_limiter_acquire(l, astro_mono_ms() + 10000), 0);
	astro_limiter_close(l);
}

static void state_persists_and_is_shared(void **s)
{
	struct astro_cache *c;
	struct astro_limiter *a, *b;
	struct astro_rate r = rate(4, 60, 0, 0);

	(void)s;
	assert_int_equal(astro_cache_open(&c, dir, 8 << 20), 0);
	assert_int_equal(astro_limiter_open(&a, c, "st", &r), 0);
	assert_int_equal(astro_limiter_acquire(a, astro_mono_ms()), 0);
	assert_int_equal(astro_limiter_acquire(a, astro_mono_ms()), 0);
	astro_limiter_close(a);
	astro_cache_close(c);

	/* A remount sees the two earlier requests. */
	assert_int_equal(astro_cache_open(&c, dir, 8 << 20), 0);
	assert_int_equal(astro_limiter_open(&a, c, "st", &r), 0);
	assert_int_equal(astro_limiter_open(&b, c, "st", &r), 0);
	assert_int_equal(astro_limiter_acquire(a, astro_mono_ms()), 0);
	assert_int_equal(astro_limiter_acquire(b, astro_mono_ms()), 0);
	assert_int_equal(astro_limiter_acquire(a, astro_mono_ms()), -ETIMEDOUT);
	assert_int_equal(astro_limiter_acquire(b, astro_mono_ms()), -ETIMEDOUT);
	/* Another service has its own budget. */
	struct astro_limiter *o;
	assert_int_equal(astro_limiter_open(&o, c, "other", &r), 0);
	assert_int_equal(astro_limiter_acquire(o, astro_mono_ms()), 0);
	json_t *j = json_object();
	astro_limiter_json(a, j);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(j, "windows"), 0), "used")), 4);
	json_decref(j);
	astro_limiter_close(o);
	astro_limiter_close(a);
	astro_limiter_close(b);
	astro_cache_close(c);
}

static int granted;
static void *grab(void *arg)
{
	for (int i = 0; i < 10; i++)
		if (astro_limiter_acquire(arg, astro_mono_ms()) == 0)
			__atomic_add_fetch(&granted, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void threads_never_exceed_the_ceiling(void **s)
{
	struct astro_cache *c;
	struct astro_limiter *l;
	struct astro_rate r = rate(17, 60, 0, 0);
	pthread_t t[8];

	(void)s;
	assert_int_equal(astro_cache_open(&c, dir, 8 << 20), 0);
	assert_int_equal(astro_limiter_open(&l, c, "st", &r), 0);
	for (int i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, grab, l);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(granted, 17);
	astro_limiter_close(l);
	astro_cache_close(c);
}

static void bad_rates_are_refused(void **s)
{
	struct astro_limiter *l;
	struct astro_rate r = { 0 };

	(void)s;
	assert_int_equal(astro_limiter_open(&l, NULL, "t", &r), -EINVAL);
	r = rate(0, 60, 0, 0);
	assert_int_equal(astro_limiter_open(&l, NULL, "t", &r), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(windows_hold_and_release),
		cmocka_unit_test(waits_for_a_slot_within_the_deadline),
		cmocka_unit_test_setup_teardown(state_persists_and_is_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(threads_never_exceed_the_ceiling, setup, teardown),
		cmocka_unit_test(bad_rates_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

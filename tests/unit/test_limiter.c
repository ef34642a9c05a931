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

static void a_slot_counts_until_its_request_ends(void **s)
{
	struct astro_limiter *l;
	struct astro_rate r = rate(2, 1, 0, 0);
	int64_t a, b, w;

	(void)s;
	assert_int_equal(astro_limiter_open(&l, NULL, "t", &r), 0);
	assert_int_equal(astro_limiter_begin(l, astro_mono_ms() + 60000, &a), 0);
	assert_int_equal(astro_limiter_begin(l, astro_mono_ms() + 60000, &b), 0);
	/* Five seconds on, both requests are still in flight: upstream may
	 * not even have received them yet, so their slots are still taken... */
	astro_limiter_set_clock_offset(l, 5000);
	assert_true(astro_limiter_wait_ms(l) > 0);
	assert_int_equal(astro_limiter_acquire(l, astro_mono_ms() + 300), -ETIMEDOUT);
	/* ...and the first to end frees its slot one window after its end. */
	astro_limiter_end(l, a);
	w = astro_limiter_wait_ms(l);
	assert_true(w > 900 && w <= 1001);
	astro_limiter_set_clock_offset(l, 6002);
	assert_int_equal(astro_limiter_acquire(l, astro_mono_ms()), 0);
	assert_int_equal(astro_limiter_acquire(l, astro_mono_ms()), -ETIMEDOUT);
	astro_limiter_end(l, b);
	astro_limiter_close(l);
}

static void a_slot_never_ended_frees_after_its_deadline(void **s)
{
	struct astro_limiter *l;
	struct astro_rate r = rate(1, 1, 0, 0);
	int64_t a;

	(void)s;
	assert_int_equal(astro_limiter_open(&l, NULL, "t", &r), 0);
	/* A process that died mid-request never ends its slot. */
	assert_int_equal(astro_limiter_begin(l, astro_mono_ms() + 2000, &a), 0);
	astro_limiter_set_clock_offset(l, 2500);
	assert_true(astro_limiter_wait_ms(l) > 0);
	/* deadline + curl's slack + one window */
	astro_limiter_set_clock_offset(l, 2000 + 1000 + 1000 + 50);
	assert_int_equal(astro_limiter_acquire(l, astro_mono_ms()), 0);
	astro_limiter_close(l);
}

/*
 * Sends that bunch up: the first three granted requests reach "upstream"
 * 700 ms late (a loaded machine), the next three at once.  Counted from the
 * grant alone, all six arrive within 0.4 s; counted until each request ends,
 * no four arrive within the one-second window.
 */
#define LATE 6
static struct astro_limiter *late_l;
static int late_order;
static int64_t late_recv[LATE];

static void *late_sender(void *arg)
{
	int64_t slot;
	int i;

	(void)arg;
	if (astro_limiter_begin(late_l, astro_mono_ms() + 20000, &slot) != 0)
		return NULL;
	i = __atomic_fetch_add(&late_order, 1, __ATOMIC_RELAXED);
	if (i < 3)
		astro_sleep_ms(700);
	late_recv[i] = astro_now_ms();	/* upstream receives it */
	astro_sleep_ms(20);		/* and answers */
	astro_limiter_end(late_l, slot);
	return NULL;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void receive_times_honour_the_ceiling_when_sends_bunch_up(void **s)
{
	struct astro_cache *c;
	struct astro_rate r = rate(3, 1, 0, 0);
	pthread_t t[LATE];

	(void)s;
	assert_int_equal(astro_cache_open(&c, dir, 8 << 20), 0);
	assert_int_equal(astro_limiter_open(&late_l, c, "late", &r), 0);
	for (int i = 0; i < LATE; i++)
		pthread_create(&t[i], NULL, late_sender, NULL);
	for (int i = 0; i < LATE; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(late_order, LATE);
	qsort(late_recv, LATE, sizeof(late_recv[0]), cmp64);
	for (int i = 0; i + 3 < LATE; i++)
		assert_true(late_recv[i + 3] - late_recv[i] >= 1000);
	astro_limiter_close(late_l);
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
		cmocka_unit_test(a_slot_counts_until_its_request_ends),
		cmocka_unit_test(a_slot_never_ended_frees_after_its_deadline),
		cmocka_unit_test_setup_teardown(receive_times_honour_the_ceiling_when_sends_bunch_up, setup, teardown),
		cmocka_unit_test(bad_rates_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

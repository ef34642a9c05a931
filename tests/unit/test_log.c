/* test_log.c — repeat suppression of log.c: bursts, summaries, threads. */
#include "unit.h"
#include <pthread.h>
#include "core/log.h"

#define MAXLINES 4096

static pthread_mutex_t got_lock = PTHREAD_MUTEX_INITIALIZER;
static char got[MAXLINES][300];
static size_t ngot;

static void sink(int level, const char *msg, void *arg)
{
	(void)level;
	(void)arg;
	pthread_mutex_lock(&got_lock);
	if (ngot < MAXLINES)
		snprintf(got[ngot++], sizeof(got[0]), "%s", msg);
	pthread_mutex_unlock(&got_lock);
}

static int setup(void **state)
{
	(void)state;
	ngot = 0;
	astro_log_set_level(LOG_DEBUG);
	astro_log_set_sink(sink, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	astro_log_set_ratelimit(ASTRO_LOG_BURST, ASTRO_LOG_WINDOW_MS);
	astro_log_set_sink(NULL, NULL);
	return 0;
}

/* Sum of N over "last message repeated N times" lines; the others counted. */
static unsigned long summarised(size_t *plain)
{
	unsigned long sum = 0, n;

	*plain = 0;
	for (size_t i = 0; i < ngot; i++) {
		if (sscanf(got[i], "last message repeated %lu times", &n) == 1)
			sum += n;
		else
			(*plain)++;
	}
	return sum;
}

static void one_site(int i)
{
	astro_warn("upstream refused day %d", i);
}

static void burst_then_summary(void **state)
{
	size_t plain;

	(void)state;
	astro_log_set_ratelimit(3, 200);
	for (int i = 0; i < 50; i++)
		one_site(i);
	/* The first three pass; the rest wait for the window to end. */
	assert_int_equal(ngot, 3);
	assert_string_equal(got[0], "upstream refused day 0");
	assert_string_equal(got[2], "upstream refused day 2");
	/* Another call site is not held back by the first one's flood. */
	astro_warn("a different message %d", 1);
	assert_int_equal(ngot, 4);
	astro_sleep_ms(250);
	one_site(99);
	/* The summary comes first, naming the count and the last line dropped. */
	assert_true(ngot >= 6);
	assert_string_equal(got[4], "last message repeated 47 times (suppressed): upstream refused day 49");
	assert_string_equal(got[ngot - 1], "upstream refused day 99");
	assert_int_equal(summarised(&plain), 47);
}

static void flush_writes_pending_summaries(void **state)
{
	(void)state;
	astro_log_set_ratelimit(2, 60000);
	for (int i = 0; i < 10; i++)
		one_site(i);
	assert_int_equal(ngot, 2);
	astro_log_flush();
	assert_int_equal(ngot, 3);
	assert_string_equal(got[2], "last message repeated 8 times (suppressed): upstream refused day 9");
	astro_log_flush();	/* nothing left to say */
	assert_int_equal(ngot, 3);
}

static void off_passes_everything(void **state)
{
	(void)state;
	astro_log_set_ratelimit(0, 0);
	for (int i = 0; i < 100; i++)
		one_site(i);
	assert_int_equal(ngot, 100);
}

static void *flood(void *arg)
{
	for (int i = 0; i < 20000; i++)
		one_site(i);
	return arg;
}

/* 8 threads x 20000 lines in well under a window: the default limits
 * write a bounded number of lines, and every line is accounted for. */
static void flood_is_bounded_and_counted(void **state)
{
	pthread_t t[8];
	size_t plain;

	(void)state;
	astro_log_set_ratelimit(ASTRO_LOG_BURST, ASTRO_LOG_WINDOW_MS);
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&t[i], NULL, flood, NULL), 0);
	for (size_t i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	astro_log_flush();
	assert_true(ngot <= ASTRO_LOG_BURST + 1 + 16);	/* a window may end mid-flood */
	assert_int_equal(summarised(&plain) + plain, 8 * 20000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(burst_then_summary, setup, teardown),
		cmocka_unit_test_setup_teardown(flush_writes_pending_summaries, setup, teardown),
		cmocka_unit_test_setup_teardown(off_passes_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(flood_is_bounded_and_counted, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

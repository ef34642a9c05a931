/*
 * services/stday: one UTC day of element sets, fetched once however many
 * callers ask for it at the same time — /tle's opens and the satellite
 * filter's historical visits alike — against the space-track stand-in
 * (tests/standin/spacetrack.py), whose counters say what reached upstream.
 * The stand-in answers a second late, so every caller arrives while the
 * first one's query is out.
 */
#include "unit.h"
#include <errno.h>
#include <pthread.h>
#include "core/astro.h"
#include "core/config.h"
#include "services/cache.h"
#include "services/limiter.h"
#include "services/spacetrack.h"
#include "services/stday.h"
#include "unit_standin.h"

#define DAY_0106 (int64_t)978739200	/* 2001-01-06 00:00 UTC */
#define CALLERS 8

static struct unit_st srv;

struct fx {
	struct unit_st_client c;
	struct astro_cache *cache;
	struct astro_spacetrack *st;
};

UNIT_ST_GROUP_FIXTURES(srv, "--synthetic-day", "2001-01-06:7")

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	if (unit_st_post(&srv, "clear_faults", NULL) || unit_st_post(&srv, "reset_log", NULL))
		return -1;
	assert_int_equal(unit_st_client_open(&f->c, &srv), 0);
	f->cache = f->c.cache;
	f->st = f->c.st;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	unit_st_client_close(&f->c);
	free(f);
	return 0;
}

static int64_t soon(void)
{
	return astro_mono_ms() + 10000;
}

static void slow_answers(double seconds)
{
	char json[160];

	snprintf(json, sizeof(json), "{\"kind\": \"slow_first_byte\", \"seconds\": %g, "
		 "\"match\": \"gp_history\", \"count\": 0}", seconds);
	assert_int_equal(unit_st_post(&srv, "fault", json), 0);
}

static size_t count_lines(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += s[i] == '\n';
	return n;
}

struct caller {
	struct fx *f;
	struct astro_cache *cache;
	pthread_barrier_t *go;
	int via_get;		/* astro_stday_get (a historical visit) or _fetch (/tle) */
	int64_t wait_ms;	/* own deadline from the start; 0: the mount's */
	int rc, shared;
	char *body;
	size_t len;
	int64_t took_ms;
};

static void *caller_main(void *arg)
{
	struct caller *c = arg;
	int64_t t0, deadline;

	pthread_barrier_wait(c->go);
	t0 = astro_mono_ms();
	deadline = t0 + (c->wait_ms ? c->wait_ms : 10000);
	if (c->via_get)
		c->rc = astro_stday_get(c->f->st, c->cache, &c->f->c.cfg, DAY_0106, deadline,
					&c->body, &c->len, &c->shared);
	else
		c->rc = astro_stday_fetch(c->f->st, c->cache, &c->f->c.cfg, DAY_0106, deadline,
					  &c->body, &c->len, &c->shared);
	c->took_ms = astro_mono_ms() - t0;
	return NULL;
}

static void run(struct caller *c, int n)
{
	pthread_t t[CALLERS];
	pthread_barrier_t go;

	pthread_barrier_init(&go, NULL, (unsigned)n);
	for (int i = 0; i < n; i++) {
		c[i].go = &go;
		assert_int_equal(pthread_create(&t[i], NULL, caller_main, &c[i]), 0);
	}
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
}

static void check_one_query_all_served(struct caller *c, int n)
{
	for (int i = 0; i < n; i++) {
		assert_int_equal(c[i].rc, 0);
		assert_non_null(c[i].body);
		assert_int_equal(count_lines(c[i].body, c[i].len), 21);
		assert_int_equal(c[i].len, c[0].len);
		assert_memory_equal(c[i].body, c[0].body, c[0].len);
		assert_int_equal(c[i].body[c[i].len], '\0');
	}
	for (int i = 0; i < n; i++)
		free(c[i].body);
	assert_int_equal(unit_st_count(&srv, "queries"), 1);
}

/* /tle's opens and historical visits asking for one uncached day at once. */
static void concurrent_callers_share_one_query(void **state)
{
	struct fx *f = *state;
	static struct caller c[CALLERS];
	char *body;
	size_t len;
	int fetched = -1;

	slow_answers(1);
	memset(c, 0, sizeof(c));
	for (int i = 0; i < CALLERS; i++) {
		c[i].f = f;
		c[i].cache = f->cache;
		c[i].via_get = i % 2;
	}
	run(c, CALLERS);
	check_one_query_all_served(c, CALLERS);
	/* Stored once for both: the next caller is served by the cache. */
	assert_int_equal(astro_stday_get(f->st, f->cache, &f->c.cfg, DAY_0106, soon(), &body, &len, &fetched), 0);
	assert_int_equal(fetched, 0);
	assert_int_equal(count_lines(body, len), 21);
	free(body);
	assert_int_equal(unit_st_count(&srv, "queries"), 1);
}

/* Without a cache to read back from, the waiters get the leader's copy. */
static void waiters_share_without_a_cache(void **state)
{
	struct fx *f = *state;
	static struct caller c[CALLERS];
	int waited = 0;

	slow_answers(1);
	memset(c, 0, sizeof(c));
	for (int i = 0; i < CALLERS; i++)
		c[i].f = f;
	run(c, CALLERS);
	for (int i = 0; i < CALLERS; i++)
		waited += c[i].shared;
	assert_int_equal(waited, CALLERS - 1);
	check_one_query_all_served(c, CALLERS);
}

/* A flight ends with its fetch: a later caller asks again (no cache). */
static void a_later_caller_starts_a_new_query(void **state)
{
	struct fx *f = *state;
	char *body;
	size_t len;

	for (int i = 1; i <= 2; i++) {
		assert_int_equal(astro_stday_fetch(f->st, NULL, &f->c.cfg, DAY_0106, soon(), &body, &len, NULL), 0);
		free(body);
		assert_int_equal(unit_st_count(&srv, "queries"), i);
	}
}

/* What the satellite filter keeps parsed is named by the cached copy's
 * version: a copy past tle_ttl is not offered (peek), and its refresh
 * has another version, the one read gives with the body. */
static void peek_names_the_copy_a_refresh_replaces(void **state)
{
	struct fx *f = *state;
	int64_t v0 = 0, v1 = 0, v2 = 0, fetched_s = DAY_0106 + 3600;
	char *body;
	size_t len;

	assert_int_equal(astro_stday_peek(f->cache, &f->c.cfg, DAY_0106, &v0), -ENOENT);
	/* fetched during the day itself, long ago: not settled, past tle_ttl */
	astro_stday_store(f->cache, &f->c.cfg, fetched_s, DAY_0106, "x\n", 2, 0);
	assert_int_equal(astro_stday_read(f->cache, DAY_0106, &body, &len, &v0), 0);
	assert_int_equal(v0, fetched_s * 1000);
	assert_int_equal(len, 2);
	free(body);
	assert_int_equal(astro_stday_peek(f->cache, &f->c.cfg, DAY_0106, &v1), -ENOENT);
	/* the refresh (a query) stores a copy peek offers, with a new version */
	assert_int_equal(astro_stday_get(f->st, f->cache, &f->c.cfg, DAY_0106, soon(), &body, &len,
					 NULL), 0);
	assert_true(len > 2);
	free(body);
	assert_int_equal(unit_st_count(&srv, "queries"), 1);
	assert_int_equal(astro_stday_peek(f->cache, &f->c.cfg, DAY_0106, &v1), 0);
	assert_true(v1 > v0);
	assert_int_equal(astro_stday_read(f->cache, DAY_0106, &body, &len, &v2), 0);
	assert_int_equal(v2, v1);
	assert_true(len > 2);
	free(body);
	assert_int_equal(astro_stday_read(NULL, DAY_0106, &body, &len, &v2), -ENOENT);
}

/* A waiter keeps its own deadline (astro_op_cond_wait), the leader's
 * query goes on and is stored for the next caller. */
static void a_waiter_keeps_its_own_deadline(void **state)
{
	struct fx *f = *state;
	static struct caller c[2];
	char *body;
	size_t len;
	int fetched = -1;

	slow_answers(2);
	memset(c, 0, sizeof(c));
	c[0].f = c[1].f = f;
	c[0].cache = c[1].cache = f->cache;
	c[1].via_get = 1;
	c[1].wait_ms = 300;
	run(c, 2);
	/* Which thread led is up to the scheduler; the one with the short
	 * deadline gave up within a slice of it either way. */
	assert_int_equal(c[0].rc, 0);
	assert_int_equal(count_lines(c[0].body, c[0].len), 21);
	assert_int_equal(c[1].rc, -ETIMEDOUT);
	assert_true(c[1].took_ms < 300 + 2 * 100 + 500);
	free(c[0].body);
	free(c[1].body);
	assert_int_equal(astro_stday_get(f->st, f->cache, &f->c.cfg, DAY_0106, soon(), &body, &len, &fetched), 0);
	assert_int_equal(fetched, 0);
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(concurrent_callers_share_one_query, setup, teardown),
		cmocka_unit_test_setup_teardown(waiters_share_without_a_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(a_later_caller_starts_a_new_query, setup, teardown),
		cmocka_unit_test_setup_teardown(a_waiter_keeps_its_own_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(peek_names_the_copy_a_refresh_replaces, setup, teardown),
	};

	return cmocka_run_group_tests(tests, start_server, stop_server);
}

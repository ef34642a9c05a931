/*
 * /tle through the provider interface, without a mount: an LMDB cache in a
 * temporary directory and the real space-track client pointed at the
 * stand-in (tests/standin/spacetrack.py), whose counters say what reached
 * upstream.  Days are in 2001, long settled.
 */
#include "unit.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include "core/astro.h"
#include "core/config.h"
#include "core/provider.h"
#include "core/services.h"
#include "services/cache.h"
#include "services/limiter.h"
#include "services/spacetrack.h"
#include "unit_standin.h"

#define P astro_prov_tle

static struct unit_st srv;

struct fx {
	struct unit_st_client c;
	struct astro_services svc;
	pthread_mutex_t lock;
	char invalidated[1024];	/* "path|" per invalidate call */
	void *priv;
};

UNIT_ST_GROUP_FIXTURES(srv, "--synthetic-day", "2001-01-05:20", "--synthetic-day", "2001-01-06:7")

static void record_invalidate(void *arg, const char *path)
{
	struct fx *f = arg;

	pthread_mutex_lock(&f->lock);
	strncat(f->invalidated, path, sizeof(f->invalidated) - strlen(f->invalidated) - 2);
	strcat(f->invalidated, "|");
	pthread_mutex_unlock(&f->lock);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct astro_ctx ctx = { 0 };

	assert_non_null(f);
	if (unit_st_post(&srv, "clear_faults", NULL) || unit_st_post(&srv, "reset_log", NULL))
		return -1;
	pthread_mutex_init(&f->lock, NULL);
	assert_int_equal(unit_st_client_open(&f->c, &srv), 0);
	f->svc.spacetrack = f->c.st;
	f->svc.spacetrack_limiter = f->c.lim;
	ctx.cfg = &f->c.cfg;
	ctx.cache = f->c.cache;
	ctx.services = &f->svc;
	ctx.invalidate = record_invalidate;
	ctx.invalidate_arg = f;
	ctx.attr_keep_ms = 1000;
	assert_int_equal(P.init(&ctx, &f->priv), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	P.destroy(f->priv);
	unit_st_client_close(&f->c);
	pthread_mutex_destroy(&f->lock);
	free(f);
	return 0;
}

struct names {
	char all[2048];
	struct astro_attr a05_3le, a05_tle;
	int n;
};

static int collect(void *buf, const char *name, const struct astro_attr *a)
{
	struct names *n = buf;

	assert_non_null(a);
	if (strcmp(name, "05.3le") == 0)
		n->a05_3le = *a;
	if (strcmp(name, "05.tle") == 0)
		n->a05_tle = *a;
	strncat(n->all, name, sizeof(n->all) - strlen(n->all) - 2);
	strcat(n->all, "|");
	n->n++;
	return 0;
}

/* The whole file: its length (buf NUL-terminated) or -errno; *fh_out
 * gets the open flags. */
static long read_all(struct fx *f, const char *path, char *buf, size_t cap,
		     struct astro_file *fh_out)
{
	struct astro_file fh = { 0 };
	long total = 0;
	int rc;

	rc = P.open(f->priv, path, O_RDONLY, &fh);
	if (rc)
		return rc;
	for (;;) {
		rc = P.read(f->priv, path, &fh, buf + total, cap - 1 - (size_t)total, total);
		if (rc <= 0)
			break;
		total += rc;
	}
	if (fh_out)
		*fh_out = fh;
	P.release(f->priv, path, &fh);
	if (rc < 0)
		return rc;
	buf[total] = '\0';
	return total;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void listing_asks_nobody(void **state)
{
	struct fx *f = *state;
	static struct names n;
	struct astro_attr a;
	char year[16];
	time_t now = time(NULL);
	struct tm tm;

	memset(&n, 0, sizeof(n));
	assert_int_equal(P.readdir(f->priv, "", collect, &n), 0);
	gmtime_r(&now, &tm);
	assert_int_equal(n.n, tm.tm_year + 1900 - 1957 + 1);
	assert_int_equal(strncmp(n.all, "1957|1958|", 10), 0);
	snprintf(year, sizeof(year), "%04d|", tm.tm_year + 1900);
	assert_non_null(strstr(n.all, year));
	memset(&n, 0, sizeof(n));
	assert_int_equal(P.readdir(f->priv, "2001", collect, &n), 0);
	assert_string_equal(n.all, "01|02|03|04|05|06|07|08|09|10|11|12|");
	memset(&n, 0, sizeof(n));
	assert_int_equal(P.readdir(f->priv, "2001/02", collect, &n), 0);
	assert_int_equal(n.n, 2 * 28);
	assert_int_equal(strncmp(n.all, "01.tle|01.3le|02.tle|", 21), 0);
	assert_non_null(strstr(n.all, "|28.3le|"));
	assert_true(n.a05_3le.kind == ASTRO_FILE && (n.a05_3le.flags & ASTRO_ATTR_UNKNOWN_SIZE));
	assert_int_equal(P.getattr(f->priv, "2001", &a), 0);
	assert_int_equal(a.kind, ASTRO_DIR);
	assert_int_equal(P.getattr(f->priv, "2001/02/29.tle", &a), -ENOENT);
	assert_int_equal(P.getattr(f->priv, "2001/13", &a), -ENOENT);
	assert_int_equal(P.getattr(f->priv, "1956", &a), -ENOENT);
	assert_int_equal(P.getattr(f->priv, "2001/01/05.txt", &a), -ENOENT);
	snprintf(year, sizeof(year), "%04d", tm.tm_year + 1900 + 1);
	assert_int_equal(P.getattr(f->priv, year, &a), -ENOENT);
	assert_int_equal(P.readdir(f->priv, "2001/01/05.tle", collect, &n), -ENOTDIR);
	assert_int_equal(unit_st_count(&srv, "requests"), 0);
}

static void sizes_unknown_until_fetched_then_exact(void **state)
{
	struct fx *f = *state;
	static char b3[65536], bt[65536];
	static struct names n;
	struct astro_attr a;
	struct astro_file fh;
	long l3, lt;

	assert_int_equal(P.getattr(f->priv, "2001/01/05.3le", &a), 0);
	assert_int_equal(a.kind, ASTRO_FILE);
	assert_true(a.flags & ASTRO_ATTR_UNKNOWN_SIZE);
	assert_int_equal(a.size, 0);
	l3 = read_all(f, "2001/01/05.3le", b3, sizeof(b3), &fh);
	assert_true(l3 > 0);
	assert_true(fh.direct_io);	/* the kernel held size 0 */
	assert_int_equal(count_lines(b3), 60);
	/* Both twins now have exact sizes, also in the listing. */
	assert_int_equal(P.getattr(f->priv, "2001/01/05.3le", &a), 0);
	assert_false(a.flags & ASTRO_ATTR_UNKNOWN_SIZE);
	assert_int_equal(a.size, (uint64_t)l3);
	lt = read_all(f, "2001/01/05.tle", bt, sizeof(bt), NULL);
	assert_int_equal(count_lines(bt), 40);
	assert_int_equal(P.getattr(f->priv, "2001/01/05.tle", &a), 0);
	assert_false(a.flags & ASTRO_ATTR_UNKNOWN_SIZE);
	assert_int_equal(a.size, (uint64_t)lt);
	memset(&n, 0, sizeof(n));
	assert_int_equal(P.readdir(f->priv, "2001/01", collect, &n), 0);
	assert_int_equal(n.a05_3le.size, (uint64_t)l3);
	assert_int_equal(n.a05_tle.size, (uint64_t)lt);
	assert_false(n.a05_tle.flags & ASTRO_ATTR_UNKNOWN_SIZE);
	/* The tle file is the 3le file without its name lines. */
	for (char *p = b3, *q = bt; *p; ) {
		char *nl = strchr(p, '\n');

		assert_true(p[0] == '0' && p[1] == ' ');
		p = nl + 1;
		for (int k = 0; k < 2; k++) {
			size_t ll = (size_t)(strchr(p, '\n') - p) + 1;

			assert_memory_equal(p, q, ll);
			p += ll;
			q += ll;
		}
	}
}

static void first_read_one_query_twin_none(void **state)
{
	struct fx *f = *state;
	static char buf[65536];

	assert_true(read_all(f, "2001/01/05.tle", buf, sizeof(buf), NULL) > 0);
	assert_int_equal(unit_st_count(&srv, "queries"), 1);
	assert_true(read_all(f, "2001/01/05.3le", buf, sizeof(buf), NULL) > 0);
	assert_true(read_all(f, "2001/01/05.tle", buf, sizeof(buf), NULL) > 0);
	assert_int_equal(unit_st_count(&srv, "queries"), 1);
	assert_int_equal(unit_st_count(&srv, "logins"), 1);
	/* Another day is another query. */
	assert_true(read_all(f, "2001/01/06.tle", buf, sizeof(buf), NULL) > 0);
	assert_int_equal(count_lines(buf), 14);
	assert_int_equal(unit_st_count(&srv, "queries"), 2);
}

struct reader {
	struct fx *f;
	pthread_barrier_t *go;
	const char *path;
	long len;
	char buf[8192];
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;

	pthread_barrier_wait(r->go);
	r->len = read_all(r->f, r->path, r->buf, sizeof(r->buf), NULL);
	return NULL;
}

#define READERS 6

static void concurrent_readers_share_one_query(void **state)
{
	struct fx *f = *state;
	static struct reader r[READERS];
	pthread_t t[READERS];
	pthread_barrier_t go;

	/* The answer takes a second, so every reader arrives while the
	 * first one's query is out. */
	assert_int_equal(unit_st_post(&srv, "fault", "{\"kind\": \"slow_first_byte\", "
				      "\"seconds\": 1, \"match\": \"gp_history\", \"count\": 0}"), 0);
	pthread_barrier_init(&go, NULL, READERS);
	for (int i = 0; i < READERS; i++) {
		r[i].f = f;
		r[i].go = &go;
		r[i].path = i % 2 ? "2001/01/06.3le" : "2001/01/06.tle";
		assert_int_equal(pthread_create(&t[i], NULL, reader_main, &r[i]), 0);
	}
	for (int i = 0; i < READERS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (int i = 0; i < READERS; i++) {
		assert_true(r[i].len > 0);
		assert_int_equal(count_lines(r[i].buf), i % 2 ? 21 : 14);
		assert_string_equal(r[i].buf, r[i % 2].buf);
	}
	assert_int_equal(unit_st_count(&srv, "queries"), 1);
}

static void fetch_invalidates_both_twins(void **state)
{
	struct fx *f = *state;
	static char buf[65536];

	assert_true(read_all(f, "2001/01/05.tle", buf, sizeof(buf), NULL) > 0);
	assert_string_equal(f->invalidated, "2001/01/05.tle|2001/01/05.3le|");
	/* Served from the cache: the kernel's sizes are right already. */
	assert_true(read_all(f, "2001/01/05.3le", buf, sizeof(buf), NULL) > 0);
	assert_string_equal(f->invalidated, "2001/01/05.tle|2001/01/05.3le|");
}

static void offline_serves_only_the_cache(void **state)
{
	struct fx *f = *state;
	static char online[65536], buf[65536];
	struct astro_attr a;
	long n;

	/* Copies are never settled and stale at once, so only offline keeps
	 * the next open from asking upstream. */
	f->c.cfg.tle_final_after = UINT32_MAX;
	f->c.cfg.tle_ttl = 0;
	n = read_all(f, "2001/01/05.3le", online, sizeof(online), NULL);
	assert_true(n > 0);
	assert_int_equal(unit_st_count(&srv, "requests"), 2);	/* login, query */
	f->c.cfg.offline = true;
	assert_int_equal(read_all(f, "2001/01/05.3le", buf, sizeof(buf), NULL), n);
	assert_string_equal(buf, online);
	assert_true(read_all(f, "2001/01/05.tle", buf, sizeof(buf), NULL) > 0);
	assert_int_equal(read_all(f, "2001/01/06.3le", buf, sizeof(buf), NULL), -EIO);
	assert_int_equal(P.getattr(f->priv, "2001/01/06.3le", &a), 0);
	assert_true(a.flags & ASTRO_ATTR_UNKNOWN_SIZE);
	assert_int_equal(unit_st_count(&srv, "requests"), 2);
}

static void failed_fetch_is_not_cached(void **state)
{
	struct fx *f = *state;
	static char buf[65536];
	struct astro_attr a;
	struct astro_cache_meta m;

	assert_int_equal(unit_st_post(&srv, "fault", "{\"kind\": \"status\", \"status\": 503, "
				      "\"match\": \"gp_history\"}"), 0);
	assert_int_equal(read_all(f, "2001/01/06.3le", buf, sizeof(buf), NULL), -EIO);
	assert_int_equal(unit_st_post(&srv, "fault", "{\"kind\": \"truncate\", "
				      "\"match\": \"gp_history\"}"), 0);
	assert_int_equal(read_all(f, "2001/01/06.3le", buf, sizeof(buf), NULL), -EIO);
	assert_int_equal(unit_st_post(&srv, "fault", "{\"kind\": \"error_200\", "
				      "\"match\": \"gp_history\"}"), 0);
	assert_int_equal(read_all(f, "2001/01/06.tle", buf, sizeof(buf), NULL), -EIO);
	assert_int_equal(unit_st_count(&srv, "queries"), 3);
	/* Nothing stored, nothing invalidated, the size still unknown. */
	assert_int_equal(astro_cache_get(f->c.cache, "tle", "v1/day/2001-01-06", 17, &m, NULL), -ENOENT);
	assert_int_equal(astro_cache_get(f->c.cache, "tle", "v1/idx/2001-01-06", 17, &m, NULL), -ENOENT);
	assert_string_equal(f->invalidated, "");
	assert_int_equal(P.getattr(f->priv, "2001/01/06.3le", &a), 0);
	assert_true(a.flags & ASTRO_ATTR_UNKNOWN_SIZE);
	/* The next open asks again and gets the day. */
	assert_true(read_all(f, "2001/01/06.3le", buf, sizeof(buf), NULL) > 0);
	assert_int_equal(count_lines(buf), 21);
	assert_int_equal(unit_st_count(&srv, "queries"), 4);
	assert_int_equal(astro_cache_get(f->c.cache, "tle", "v1/day/2001-01-06", 17, &m, NULL), 0);
}

static void files_are_read_only(void **state)
{
	struct fx *f = *state;
	struct astro_file fh = { 0 };

	assert_int_equal(P.open(f->priv, "2001/01/05.tle", O_WRONLY, &fh), -EACCES);
	assert_int_equal(P.open(f->priv, "2001/01", O_RDONLY, &fh), -EISDIR);
	assert_int_equal(unit_st_count(&srv, "requests"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(listing_asks_nobody, setup, teardown),
		cmocka_unit_test_setup_teardown(sizes_unknown_until_fetched_then_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(first_read_one_query_twin_none, setup, teardown),
		cmocka_unit_test_setup_teardown(concurrent_readers_share_one_query, setup, teardown),
		cmocka_unit_test_setup_teardown(fetch_invalidates_both_twins, setup, teardown),
		cmocka_unit_test_setup_teardown(offline_serves_only_the_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(failed_fetch_is_not_cached, setup, teardown),
		cmocka_unit_test_setup_teardown(files_are_read_only, setup, teardown),
	};

	return cmocka_run_group_tests(tests, start_server, stop_server);
}

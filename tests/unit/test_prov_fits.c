/*
 * /fits through the provider interface over an in-memory S3 store and a
 * fault-injecting wrapper (s3_mem.h), handed in as astro_services.s3: no
 * server.  FITS objects are built here from 2880-byte blocks.
 */
#include "unit.h"
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <unistd.h>
#include "core/astro.h"
#include "core/config.h"
#include "core/provider.h"
#include "core/services.h"
#include "core/stats.h"
#include "s3_mem.h"

#define P astro_prov_fits
#define BLOCK 2880

struct fx {
	struct astro_config cfg;
	struct astro_services svc;
	struct mem_s3 *mem;
	struct fault_s3 *fault;
	void *priv;
};

/* Append one 80-column card. */
static void card(char *h, size_t *n, const char *kw, const char *val)
{
	char c[81];

	if (val && val[0] == '\'')	/* strings start in column 11 */
		snprintf(c, sizeof(c), "%-8.8s= %-20s", kw, val);
	else if (val)		/* numbers and logicals end in column 30 */
		snprintf(c, sizeof(c), "%-8.8s= %20s", kw, val);
	else
		snprintf(c, sizeof(c), "%-8.8s", kw);
	memset(h + *n, ' ', 80);
	memcpy(h + *n, c, strlen(c));
	*n += 80;
}

/* A FITS file: a primary HDU of `pdata` bytes (OBJECT = object) and an
 * IMAGE extension SCI of `xdata` bytes.  malloc'd, *len set. */
static char *make_fits(const char *object, size_t pdata, size_t xdata, size_t *len)
{
	size_t pblocks = (pdata + BLOCK - 1) / BLOCK, xblocks = (xdata + BLOCK - 1) / BLOCK;
	size_t total = (2 + pblocks + xblocks) * BLOCK, n = 0;
	char *f = calloc(1, total), v[32], obj[40];

	assert_non_null(f);
	memset(f, ' ', BLOCK);
	card(f, &n, "SIMPLE", "T");
	card(f, &n, "BITPIX", "8");
	card(f, &n, "NAXIS", "1");
	snprintf(v, sizeof(v), "%zu", pdata);
	card(f, &n, "NAXIS1", v);
	card(f, &n, "EXTEND", "T");
	snprintf(obj, sizeof(obj), "'%s'", object);
	card(f, &n, "OBJECT", obj);
	card(f, &n, "END", NULL);
	for (size_t i = 0; i < pdata; i++)
		f[BLOCK + i] = (char)(i * 7);
	n = (1 + pblocks) * BLOCK;
	memset(f + n, ' ', BLOCK);
	card(f, &n, "XTENSION", "'IMAGE   '");
	card(f, &n, "BITPIX", "8");
	card(f, &n, "NAXIS", "1");
	snprintf(v, sizeof(v), "%zu", xdata);
	card(f, &n, "NAXIS1", v);
	card(f, &n, "PCOUNT", "0");
	card(f, &n, "GCOUNT", "1");
	card(f, &n, "EXTNAME", "'SCI     '");
	card(f, &n, "END", NULL);
	*len = total;
	return f;
}

static void put_fits(struct fx *f, const char *key, const char *object)
{
	size_t len;
	char *data = make_fits(object, 3000, 100, &len);

	assert_int_equal(mem_store(f->mem, "bkt", key, data, len), 0);
	free(data);
}

/* The fixture, its tree set up with these fits_ttl and fits_readahead. */
static int setup_with(void **state, unsigned ttl, unsigned readahead)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct astro_ctx ctx = { 0 };

	assert_non_null(f);
	f->mem = mem_new();
	f->fault = fault_new(&f->mem->base);
	assert_true(f->mem && f->fault);
	f->cfg.fits_buckets = strdup("bkt");
	f->cfg.fits_ttl = ttl;
	f->cfg.fits_readahead = readahead;
	f->cfg.timeout = 5;
	f->svc.s3 = &f->fault->base;
	ctx.cfg = &f->cfg;
	ctx.services = &f->svc;
	put_fits(f, "a.fits", "M31");
	put_fits(f, "sub/b.fits", "M42");
	assert_int_equal(mem_store(f->mem, "bkt", "notes.txt", "hello", 5), 0);
	assert_int_equal(P.init(&ctx, &f->priv), 0);
	*state = f;
	return 0;
}

/* Every access asks the store again: no listing is trusted. */
static int setup(void **state)
{
	return setup_with(state, 0, 0);
}

/* A test may destroy the tree itself (to wait for its read-ahead jobs). */
static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->priv)
		P.destroy(f->priv);
	astro_s3_free(&f->fault->base);	/* the tree only borrowed it */
	free(f->cfg.fits_buckets);
	free(f);
	return 0;
}

struct names {
	char all[1024];
};

static int collect(void *buf, const char *name, const struct astro_attr *a)
{
	struct names *n = buf;

	(void)a;
	strncat(n->all, name, sizeof(n->all) - strlen(n->all) - 2);
	strcat(n->all, "|");
	return 0;
}

/* The whole file at path (up to cap bytes) in reads of at most `chunk`
 * bytes, as the kernel asks: its length or -errno. */
static long read_chunked(struct fx *f, const char *path, char *buf, size_t cap, size_t chunk)
{
	struct astro_file fh = { 0 };
	long total = 0;
	int rc;

	rc = P.open(f->priv, path, O_RDONLY, &fh);
	if (rc)
		return rc;
	for (;;) {
		size_t want = cap - (size_t)total < chunk ? cap - (size_t)total : chunk;

		rc = P.read(f->priv, path, &fh, buf + total, want, total);
		if (rc <= 0)
			break;
		total += rc;
	}
	P.release(f->priv, path, &fh);
	return rc < 0 ? rc : total;
}

/* The whole file at path (up to cap bytes), NUL-terminated: its length or -errno. */
static long read_file(struct fx *f, const char *path, char *buf, size_t cap)
{
	long total = read_chunked(f, path, buf, cap, cap);

	if (total >= 0)
		buf[total < (long)cap ? total : (long)cap - 1] = '\0';
	return total;
}

static void listing(void **state)
{
	struct fx *f = *state;
	struct names n = { "" };

	assert_int_equal(P.readdir(f->priv, "", collect, &n), 0);
	assert_string_equal(n.all, "bkt|");
	n.all[0] = '\0';
	assert_int_equal(P.readdir(f->priv, "bkt", collect, &n), 0);
	assert_non_null(strstr(n.all, "a.fits|"));
	assert_non_null(strstr(n.all, "sub|"));
	assert_null(strstr(n.all, "notes.txt"));
	n.all[0] = '\0';
	assert_int_equal(P.readdir(f->priv, "bkt/sub", collect, &n), 0);
	assert_string_equal(n.all, "b.fits|");
	n.all[0] = '\0';
	assert_int_equal(P.readdir(f->priv, "bkt/a.fits", collect, &n), 0);
	assert_non_null(strstr(n.all, "headers|"));
	assert_non_null(strstr(n.all, "raw|"));
	assert_non_null(strstr(n.all, "hdus.csv|"));
	n.all[0] = '\0';
	assert_int_equal(P.readdir(f->priv, "bkt/a.fits/headers", collect, &n), 0);
	assert_non_null(strstr(n.all, "0|"));
	assert_non_null(strstr(n.all, "1|"));
	assert_null(strstr(n.all, "2|"));
}

static void headers_csv_and_raw(void **state)
{
	struct fx *f = *state;
	struct astro_attr a;
	static char buf[65536];
	size_t len;
	char *want = make_fits("M31", 3000, 100, &len);
	long n;

	n = read_file(f, "bkt/a.fits/headers/0", buf, sizeof(buf));
	assert_true(n > 0);
	assert_non_null(strstr(buf, "OBJECT  = "));
	assert_non_null(strstr(buf, "'M31'"));
	assert_int_equal(P.getattr(f->priv, "bkt/a.fits/headers/0", &a), 0);
	assert_int_equal(a.size, (uint64_t)n);
	assert_true(read_file(f, "bkt/a.fits/headers/1", buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "EXTNAME = 'SCI"));
	assert_int_equal(P.getattr(f->priv, "bkt/a.fits/headers/2", &a), -ENOENT);
	assert_true(read_file(f, "bkt/a.fits/hdus.csv", buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "index,xtension,extname"));
	assert_non_null(strstr(buf, "\n1,IMAGE,SCI,"));
	/* raw: the exact object, by ranges. */
	assert_int_equal(P.getattr(f->priv, "bkt/a.fits/raw", &a), 0);
	assert_int_equal(a.size, len);
	assert_int_equal(read_file(f, "bkt/a.fits/raw", buf, sizeof(buf)), (long)len);
	assert_memory_equal(buf, want, len);
	free(want);
	assert_int_equal(P.getattr(f->priv, "bkt/nope.fits/headers/0", &a), -ENOENT);
}

static void replaced_object_is_walked_again(void **state)
{
	struct fx *f = *state;
	static char buf[65536];

	assert_true(read_file(f, "bkt/sub/b.fits/headers/0", buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "'M42'"));
	put_fits(f, "sub/b.fits", "NGC1976");	/* a new ETag */
	assert_true(read_file(f, "bkt/sub/b.fits/headers/0", buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "'NGC1976'"));
	assert_null(strstr(buf, "'M42'"));
}

/* Failures surface as EIO and leave nothing wrong behind: once the store
 * answers again, the same paths read the right bytes. */
static void injected_failures(void **state)
{
	struct fx *f = *state;
	static char buf[65536];
	struct names n = { "" };
	struct astro_attr a;

	put_fits(f, "c.fits", "M51");
	put_fits(f, "d.fits", "M81");
	f->fault->fail_all = 1;
	assert_int_equal(read_file(f, "bkt/c.fits/headers/0", buf, sizeof(buf)), -EIO);
	assert_int_equal(P.readdir(f->priv, "bkt", collect, &n), -EIO);
	f->fault->fail_all = 0;
	assert_true(read_file(f, "bkt/c.fits/headers/0", buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "'M51'"));
	/* The next call only (whichever it is) fails, with some latency. */
	f->fault->latency_ms = 2;
	f->fault->fail_nth = f->fault->calls + 1;
	assert_int_equal(read_file(f, "bkt/d.fits/hdus.csv", buf, sizeof(buf)), -EIO);
	f->fault->latency_ms = 0;
	assert_true(read_file(f, "bkt/d.fits/hdus.csv", buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\n1,IMAGE,SCI,"));
	/* Bodies cut short: refused, never cached as the object. */
	put_fits(f, "c.fits", "M101");
	f->fault->truncate = 1;
	assert_int_equal(read_file(f, "bkt/c.fits/headers/1", buf, sizeof(buf)), -EIO);
	assert_int_equal(read_file(f, "bkt/d.fits/raw", buf, sizeof(buf)), -EIO);
	f->fault->truncate = 0;
	assert_true(read_file(f, "bkt/c.fits/headers/0", buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "'M101'"));
	assert_true(read_file(f, "bkt/c.fits/headers/1", buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "EXTNAME = 'SCI"));
	assert_int_equal(P.getattr(f->priv, "bkt/d.fits/raw", &a), 0);
	assert_int_equal(read_file(f, "bkt/d.fits/raw", buf, sizeof(buf)), (long)a.size);
}

/* With a listing fresh for a minute: read-ahead goes by a fresh listing. */
static int setup_ttl(void **state)
{
	return setup_with(state, 60, 32);
}

/* A listing cut short by an interrupt (Ctrl-C on `ls`) or a deadline is
 * that caller's outcome: the next reader lists the prefix again instead of
 * meeting the same error for fits_ttl. */
static void interrupted_listing_is_not_remembered(void **state)
{
	struct fx *f = *state;
	static const struct { int err; const char *dir, *has; } cases[] = {
		{ -EINTR, "bkt/sub", "b.fits|" }, { -ETIMEDOUT, "bkt", "a.fits|" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct names n = { "" };

		f->fault->err = cases[i].err;
		f->fault->fail_nth = f->fault->calls + 1;
		assert_int_equal(P.readdir(f->priv, cases[i].dir, collect, &n), cases[i].err);
		n.all[0] = '\0';
		assert_int_equal(P.readdir(f->priv, cases[i].dir, collect, &n), 0);
		assert_non_null(strstr(n.all, cases[i].has));
	}
}

/* GETs the store has answered (read-ahead jobs count them concurrently). */
static unsigned gets_of(const struct fx *f)
{
	return __atomic_load_n(&f->mem->calls[MEM_GET_RANGE], __ATOMIC_RELAXED) +
	       __atomic_load_n(&f->mem->calls[MEM_GET], __ATOMIC_RELAXED);
}

/* Raw files of siblings opened in listing order (astropy over the mount):
 * their first windows are read ahead, each object is fetched once, and
 * every byte is the object's own. */
static void raw_read_ahead_over_siblings(void **state)
{
	struct fx *f = *state;
	struct names n = { "" };
	static char buf[65536];
	char key[64], path[80], obj[16];
	int64_t ra0 = astro_stats_get("fits.readahead");
	unsigned gets0;

	for (int i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "run/o%02d.fits", i);
		snprintf(obj, sizeof(obj), "N%02d", i);
		put_fits(f, key, obj);
	}
	assert_int_equal(P.readdir(f->priv, "bkt/run", collect, &n), 0);
	gets0 = gets_of(f);
	for (int i = 0; i < 20; i++) {
		size_t len;
		char *want;

		snprintf(obj, sizeof(obj), "N%02d", i);
		snprintf(path, sizeof(path), "bkt/run/o%02d.fits/raw", i);
		want = make_fits(obj, 3000, 100, &len);
		assert_int_equal(read_chunked(f, path, buf, sizeof(buf), 4096), (long)len);
		assert_memory_equal(buf, want, len);
		free(want);
	}
	assert_true(astro_stats_get("fits.readahead") - ra0 >= 10);
	assert_true(gets_of(f) - gets0 <= 20);
	/* Opened before at this version: no job fetches them again. */
	gets0 = gets_of(f);
	for (int i = 0; i < 20; i++) {
		struct astro_file fh = { 0 };

		snprintf(path, sizeof(path), "bkt/run/o%02d.fits/raw", i);
		assert_int_equal(P.open(f->priv, path, O_RDONLY, &fh), 0);
		P.release(f->priv, path, &fh);
	}
	P.destroy(f->priv);	/* waits for the read-ahead jobs */
	f->priv = NULL;
	assert_int_equal(gets_of(f), gets0);
}

/* fits_readahead=0: the same pass reads nothing ahead, one GET per object
 * as the reader comes to it. */
static void read_ahead_off(void **state)
{
	struct fx *f = *state;
	struct names n = { "" };
	static char buf[65536];
	char key[64], path[80];
	int64_t ra0 = astro_stats_get("fits.readahead");

	f->cfg.fits_readahead = 0;
	for (int i = 0; i < 8; i++) {
		snprintf(key, sizeof(key), "off/o%02d.fits", i);
		put_fits(f, key, "X");
	}
	assert_int_equal(P.readdir(f->priv, "bkt/off", collect, &n), 0);
	for (int i = 0; i < 8; i++) {
		snprintf(path, sizeof(path), "bkt/off/o%02d.fits/raw", i);
		assert_true(read_chunked(f, path, buf, sizeof(buf), 4096) > 0);
		snprintf(path, sizeof(path), "bkt/off/o%02d.fits/hdus.csv", i);
		assert_true(read_file(f, path, buf, sizeof(buf)) > 0);
	}
	assert_int_equal(astro_stats_get("fits.readahead"), ra0);
}

/* Wait (bounded) until the read-ahead jobs since the snapshot have met
 * the budget `over` times and hold `held` bytes, i.e. are all done. */
static void wait_jobs(int64_t over0, int64_t over, int64_t held0, int64_t held)
{
	for (int i = 0; i < 500; i++) {
		if (astro_stats_get("fits.readahead_over_budget") - over0 >= over &&
		    astro_stats_get("fits.readahead_bytes") - held0 == held)
			return;
		usleep(10000);
	}
	fail_msg("read-ahead jobs did not finish: %" PRId64 " over budget, %" PRId64 " B held",
		 astro_stats_get("fits.readahead_over_budget") - over0,
		 astro_stats_get("fits.readahead_bytes") - held0);
}

/* Raw windows read ahead are held up to the budget; those a reader left
 * unopened are dropped once stale when a later run needs the room, and the
 * reader of a dropped one fetches it itself. */
static void raw_read_ahead_budget(void **state)
{
	struct fx *f = *state;
	struct names n = { "" };
	size_t len;
	char *want = make_fits("B", 100000, 100, &len), *buf = malloc(len + 1);
	char key[64], path[80];
	int64_t held0, over0;
	unsigned gets;

	assert_non_null(buf);
	astro_prov_fits_test_readahead(f->priv, 3 * len, 200);	/* room for 3 */
	for (int i = 0; i < 12; i++) {
		snprintf(key, sizeof(key), "bud/o%02d.fits", i);
		assert_int_equal(mem_store(f->mem, "bkt", key, want, len), 0);
		snprintf(key, sizeof(key), "bud2/o%02d.fits", i);
		assert_int_equal(mem_store(f->mem, "bkt", key, want, len), 0);
	}
	assert_int_equal(P.readdir(f->priv, "bkt/bud", collect, &n), 0);
	assert_int_equal(P.readdir(f->priv, "bkt/bud2", collect, &n), 0);
	held0 = astro_stats_get("fits.readahead_bytes");
	over0 = astro_stats_get("fits.readahead_over_budget");
	/* Two in order start the run (10 jobs); the reader stops there. */
	gets = gets_of(f);
	assert_int_equal(read_chunked(f, "bkt/bud/o00.fits/raw", buf, len, 131072), (long)len);
	assert_int_equal(read_chunked(f, "bkt/bud/o01.fits/raw", buf, len, 131072), (long)len);
	wait_jobs(over0, 7, held0, 3 * (int64_t)len);
	assert_int_equal(gets_of(f) - gets, 2 + 3);	/* the reader's, and 3 windows */
	assert_int_equal(astro_stats_get("fits.readahead_over_budget") - over0, 7);
	/* Another prefix once those are stale: the first jobs make room. */
	usleep(250000);
	over0 = astro_stats_get("fits.readahead_over_budget");
	gets = gets_of(f);
	assert_int_equal(read_chunked(f, "bkt/bud2/o00.fits/raw", buf, len, 131072), (long)len);
	assert_int_equal(read_chunked(f, "bkt/bud2/o01.fits/raw", buf, len, 131072), (long)len);
	wait_jobs(over0, 7, held0, 3 * (int64_t)len);
	assert_int_equal(gets_of(f) - gets, 2 + 3);
	assert_int_equal(astro_stats_get("fits.readahead_over_budget") - over0, 7);
	/* Every byte right either way: the first run's 3 windows were
	 * dropped, so its 10 unread objects cost 10 GETs now. */
	astro_prov_fits_test_readahead(f->priv, 3 * len, 60000);
	gets = gets_of(f);
	for (int i = 2; i < 12; i++) {
		snprintf(path, sizeof(path), "bkt/bud/o%02d.fits/raw", i);
		assert_int_equal(read_chunked(f, path, buf, len, 131072), (long)len);
		assert_memory_equal(buf, want, len);
	}
	P.destroy(f->priv);	/* waits for the read-ahead jobs */
	f->priv = NULL;
	assert_int_equal(gets_of(f) - gets, 10);
	assert_int_equal(astro_stats_get("fits.readahead_bytes"), held0);	/* all given back */
	free(buf);
	free(want);
}

/* A raw file opened by name (no listing): the version probe's first 64 KiB
 * become its first window, and reads past them, in kernel-sized pieces,
 * get the rest whole. */
static void raw_past_the_probe_window(void **state)
{
	struct fx *f = *state;
	size_t len;
	char *want = make_fits("BIG", 3u << 20, 100, &len);
	char *buf = malloc(len + 1);

	assert_non_null(buf);
	assert_int_equal(mem_store(f->mem, "bkt", "big.fits", want, len), 0);
	assert_int_equal(read_chunked(f, "bkt/big.fits/raw", buf, len + 1, 131072), (long)len);
	assert_memory_equal(buf, want, len);
	free(buf);
	free(want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(listing, setup, teardown),
		cmocka_unit_test_setup_teardown(headers_csv_and_raw, setup, teardown),
		cmocka_unit_test_setup_teardown(replaced_object_is_walked_again, setup, teardown),
		cmocka_unit_test_setup_teardown(injected_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(raw_read_ahead_over_siblings, setup_ttl, teardown),
		cmocka_unit_test_setup_teardown(raw_past_the_probe_window, setup, teardown),
		cmocka_unit_test_setup_teardown(read_ahead_off, setup_ttl, teardown),
		cmocka_unit_test_setup_teardown(raw_read_ahead_budget, setup_ttl, teardown),
		cmocka_unit_test_setup_teardown(interrupted_listing_is_not_remembered, setup_ttl, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include "unit.h"
#include <errno.h>
#include <math.h>
#include "core/astro.h"
#include <lmdb.h>
#include "telemetry/tlm_archive.h"
#include "telemetry/tlm_block.h"
#include "telemetry/tlm_time.h"

struct fx {
	char *dir;
	struct astro_tlm_archive *a;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	f->dir = unit_tmpdir();
	assert_int_equal(astro_tlm_archive_open(f->dir, 0, &f->a, err, sizeof(err)), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[512];

	astro_tlm_archive_close(f->a);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f->dir);
	free(f);
	return 0;
}

static int ingest(struct fx *f, const char *name, const char *text, unsigned flags,
		  struct astro_tlm_ingest_result *res, char *err, size_t n)
{
	return astro_tlm_archive_ingest(f->a, name, text, strlen(text), flags, res, err, n);
}

static int64_t T(const char *s)
{
	int64_t t;

	assert_int_equal(astro_tlm_time_parse(s, strlen(s), &t, NULL, 0), 0);
	return t;
}

/* Count and sum of the samples an iterator yields. */
static size_t count(struct astro_tlm_reader *r, const char *msid, unsigned flags, double *sum)
{
	struct astro_tlm_meta m;
	struct astro_tlm_iter *it;
	struct astro_tlm_val v;
	int64_t t, prev = INT64_MIN;
	int bad;
	size_t n = 0;

	if (sum)
		*sum = 0;
	if (astro_tlm_archive_reader_meta(r, msid, &m))
		return 0;
	assert_int_equal(astro_tlm_archive_iter_open(r, &m, INT64_MIN, INT64_MAX, flags, &it), 0);
	while (astro_tlm_archive_iter_next(it, &t, &v, &bad) == 1) {
		assert_true(t > prev);
		prev = t;
		if (sum)
			*sum += v.type == ASTRO_TLM_INT ? (double)v.i : v.f;
		n++;
	}
	astro_tlm_archive_iter_close(it);
	return n;
}

static void jwst_fixture_reads_back_exactly(void **state)
{
	struct fx *f = *state;
	struct astro_tlm_ingest_result res;
	struct astro_tlm_reader *r;
	struct astro_tlm_meta m;
	struct astro_tlm_batch b;
	struct astro_tlm_iter *it;
	struct astro_tlm_val v;
	char path[512], err[256] = "";
	size_t len = 0, k = 0;
	char *buf;
	int64_t t;
	int bad;

	if (!unit_shared("data/telemetry/jwst_edb/engdb_2021_groundtest/sa_zattest1_data.json", path, sizeof(path)))
		skip();
	buf = unit_slurp(path, &len);
	assert_int_equal(astro_tlm_archive_ingest(f->a, "sa_zattest1_data.json", buf, len, 0, &res, err, sizeof(err)), 0);
	assert_int_equal(res.rows, 1607);
	assert_false(res.skipped);
	astro_tlm_parse_batch_init(&b);
	assert_int_equal(astro_tlm_parse_any(buf, len, &b, err, sizeof(err)), 0);
	assert_int_equal(astro_tlm_archive_reader_open(f->a, &r), 0);
	assert_int_equal(astro_tlm_archive_reader_meta(r, "sa_zattest1", &m), 0);
	assert_string_equal(m.name, "SA_ZATTEST1");
	assert_int_equal(m.type, ASTRO_TLM_FLOAT);
	assert_int_equal(m.samples, 1607);
	assert_int_equal(m.first, b.s[0].t);
	assert_int_equal(m.last, b.s[b.n - 1].t);
	assert_int_equal(astro_tlm_archive_iter_open(r, &m, INT64_MIN, INT64_MAX, 0, &it), 0);
	while (astro_tlm_archive_iter_next(it, &t, &v, &bad) == 1) {
		assert_int_equal(t, b.s[k].t);
		assert_true(v.f == b.s[k].v.f);
		k++;
	}
	assert_int_equal(k, 1607);
	astro_tlm_archive_iter_close(it);
	assert_int_equal(astro_tlm_archive_reader_meta(r, "NOPE", &m), -ENOENT);
	assert_int_equal(astro_tlm_archive_reader_meta(r, "../x", &m), -ENOENT);
	astro_tlm_archive_reader_close(r);

	/* the same file again adds nothing, not even a generation */
	assert_int_equal(astro_tlm_archive_reader_open(f->a, &r), 0);
	uint64_t g = astro_tlm_archive_reader_generation(r);

	astro_tlm_archive_reader_close(r);
	assert_int_equal(astro_tlm_archive_ingest(f->a, "sa_zattest1_data.json", buf, len, 0, &res, err, sizeof(err)), 0);
	assert_true(res.skipped);
	assert_int_equal(astro_tlm_archive_reader_open(f->a, &r), 0);
	assert_int_equal(astro_tlm_archive_reader_generation(r), g);
	assert_int_equal(count(r, "SA_ZATTEST1", 0, NULL), 1607);
	astro_tlm_archive_reader_close(r);
	astro_tlm_parse_batch_free(&b);
	free(buf);
}

static void same_name_other_content(void **state)
{
	struct fx *f = *state;
	struct astro_tlm_ingest_result res;
	struct astro_tlm_reader *r;
	char err[256] = "";
	double sum;

	(void)state;
	assert_int_equal(ingest(f, "a.csv", "msid,time,value\nX,2020:001,1\nX,2020:002,2\nY,2020:001,5\n", 0, &res, err, sizeof(err)), 0);
	assert_int_equal(ingest(f, "b.csv", "msid,time,value\nX,2020:003,4\n", 0, &res, err, sizeof(err)), 0);
	err[0] = '\0';
	assert_int_equal(ingest(f, "a.csv", "msid,time,value\nX,2020:001,10\n", 0, &res, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "--replace"));
	assert_int_equal(astro_tlm_archive_reader_open(f->a, &r), 0);
	assert_int_equal(count(r, "X", 0, &sum), 3);
	assert_true(sum == 7);
	astro_tlm_archive_reader_close(r);
	/* replace: a.csv's old rows (X@001, X@002, Y) go, b.csv's stay */
	assert_int_equal(ingest(f, "a.csv", "msid,time,value\nX,2020:001,10\n", ASTRO_TLM_REPLACE, &res, err, sizeof(err)), 0);
	assert_true(res.replaced);
	assert_int_equal(astro_tlm_archive_reader_open(f->a, &r), 0);
	assert_int_equal(count(r, "X", 0, &sum), 2);
	assert_true(sum == 14);
	assert_int_equal(count(r, "Y", 0, NULL), 0);
	struct astro_tlm_meta m;

	assert_int_equal(astro_tlm_archive_reader_meta(r, "X", &m), 0);
	assert_int_equal(m.samples, 2);
	assert_int_equal(m.first, T("2020:001"));
	assert_int_equal(m.last, T("2020:003"));
	astro_tlm_archive_reader_close(r);
}

static void bad_file_leaves_no_trace(void **state)
{
	struct fx *f = *state;
	struct astro_tlm_ingest_result res;
	struct astro_tlm_reader *r;
	struct astro_tlm_meta m;
	char err[256] = "";
	uint64_t g;

	assert_int_equal(ingest(f, "ok.csv", "msid,time,value\nS,2020:001,ON\n", 0, &res, err, sizeof(err)), 0);
	assert_int_equal(astro_tlm_archive_reader_open(f->a, &r), 0);
	g = astro_tlm_archive_reader_generation(r);
	astro_tlm_archive_reader_close(r);
	assert_int_equal(ingest(f, "bad.csv", "msid,time,value\nZ,2020:001,1\nZ,2020:001:99,2\n", 0, &res, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 3"));
	/* a state MSID given numbers: rejected whole, Q not created either */
	err[0] = '\0';
	assert_int_equal(ingest(f, "mix.csv", "msid,time,value\nQ,2020:001,1\nS,2020:002,7\n", 0, &res, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "MSID S"));
	assert_int_equal(astro_tlm_archive_reader_open(f->a, &r), 0);
	assert_int_equal(astro_tlm_archive_reader_generation(r), g);
	assert_int_equal(astro_tlm_archive_reader_meta(r, "Z", &m), -ENOENT);
	assert_int_equal(astro_tlm_archive_reader_meta(r, "Q", &m), -ENOENT);
	assert_int_equal(count(r, "S", 0, NULL), 1);
	astro_tlm_archive_reader_close(r);
}

static void reader_keeps_its_snapshot(void **state)
{
	struct fx *f = *state;
	struct astro_tlm_ingest_result res;
	struct astro_tlm_reader *old, *neu;
	struct astro_tlm_meta m;
	char err[256] = "";

	assert_int_equal(ingest(f, "1.csv", "msid,time,value\nX,2020:001,1\n", 0, &res, err, sizeof(err)), 0);
	assert_int_equal(astro_tlm_archive_reader_open(f->a, &old), 0);
	assert_int_equal(ingest(f, "2.csv", "msid,time,value\nX,2020:002,2\nX,2019:001,0\n", 0, &res, err, sizeof(err)), 0);
	assert_int_equal(astro_tlm_archive_reader_open(f->a, &neu), 0);
	assert_int_equal(count(old, "X", 0, NULL), 1);
	assert_int_equal(astro_tlm_archive_reader_meta(old, "X", &m), 0);
	assert_int_equal(m.samples, 1);
	assert_int_equal(count(neu, "X", 0, NULL), 3);
	assert_true(astro_tlm_archive_reader_generation(neu) > astro_tlm_archive_reader_generation(old));
	astro_tlm_archive_reader_close(old);
	astro_tlm_archive_reader_close(neu);
}

static int stat_at(struct astro_tlm_reader *r, const char *msid, int daily, int64_t t,
		   struct astro_tlm_stat *st)
{
	struct astro_tlm_meta m;
	struct astro_tlm_siter *it;
	int64_t i = astro_tlm_stats_index(t, daily ? ASTRO_TLM_DT_DAILY : ASTRO_TLM_DT_5MIN);
	int rc;

	assert_int_equal(astro_tlm_archive_reader_meta(r, msid, &m), 0);
	assert_int_equal(astro_tlm_archive_siter_open(r, &m, daily, i, i + 1, &it), 0);
	rc = astro_tlm_archive_siter_next(it, st);
	st->states = NULL;
	astro_tlm_archive_siter_close(it);
	return rc;
}

static void stats_follow_late_data_quality_and_bad_times(void **state)
{
	struct fx *f = *state;
	struct astro_tlm_ingest_result res;
	struct astro_tlm_reader *r;
	struct astro_tlm_stat st;
	char err[256] = "";
	int64_t t0 = T("2020:001:00:00:00");

	/* one 5-min bin: 10 at +0, 20 at +10 s; the bad-quality 1000 is ignored */
	assert_int_equal(ingest(f, "a.csv", "msid,time,value,quality\n"
				"TEPHIN,2020:001:00:00:00,10,0\nTEPHIN,2020:001:00:00:10,20,0\n"
				"TEPHIN,2020:001:00:00:05,1000,1\n", 0, &res, err, sizeof(err)), 0);
	assert_int_equal(astro_tlm_archive_reader_open(f->a, &r), 0);
	assert_int_equal(stat_at(r, "TEPHIN", 0, t0, &st), 1);
	assert_int_equal(st.n, 2);
	assert_true(st.mean == 15.0 && st.max.i == 20);
	assert_int_equal(count(r, "TEPHIN", 0, NULL), 2);
	assert_int_equal(count(r, "TEPHIN", ASTRO_TLM_ALL, NULL), 3);
	astro_tlm_archive_reader_close(r);
	/* late data into the same bin: recomputed (weights 10, 10, 20 s... n=3) */
	assert_int_equal(ingest(f, "late.csv", "msid,time,value\nTEPHIN,2020:001:00:00:30,40\n", 0, &res, err, sizeof(err)), 0);
	assert_int_equal(astro_tlm_archive_reader_open(f->a, &r), 0);
	assert_int_equal(stat_at(r, "TEPHIN", 0, t0, &st), 1);
	assert_int_equal(st.n, 3);
	/* weights: 10, (30-0)/2 = 15, 20 → (100 + 300 + 800) / 45 */
	assert_true(fabs(st.mean - 1200.0 / 45.0) < 1e-12);
	assert_int_equal(stat_at(r, "TEPHIN", 1, t0, &st), 1);
	assert_int_equal(st.n, 3);
	astro_tlm_archive_reader_close(r);
	/* a BAD_TIMES interval over the first sample: gone from reads and stats */
	const char *tbl = "# test\ntephin 2020:001:00:00:00 2020:001:00:00:00\n";

	assert_int_equal(astro_tlm_archive_set_badtimes(f->a, tbl, strlen(tbl), err, sizeof(err)), 0);
	assert_int_equal(astro_tlm_archive_reader_open(f->a, &r), 0);
	assert_int_equal(count(r, "TEPHIN", 0, NULL), 2);
	assert_int_equal(stat_at(r, "TEPHIN", 0, t0, &st), 1);
	assert_int_equal(st.n, 2);
	assert_true(st.mean == 30.0);
	size_t n;
	const char *txt = astro_tlm_archive_reader_badtimes(r, &n, NULL);

	assert_int_equal(n, strlen(tbl));
	assert_memory_equal(txt, tbl, n);
	astro_tlm_archive_reader_close(r);
	/* and removing the table brings it back */
	assert_int_equal(astro_tlm_archive_set_badtimes(f->a, "", 0, err, sizeof(err)), 0);
	assert_int_equal(astro_tlm_archive_reader_open(f->a, &r), 0);
	assert_int_equal(stat_at(r, "TEPHIN", 0, t0, &st), 1);
	assert_int_equal(st.n, 3);
	astro_tlm_archive_reader_close(r);
	/* a bad table is refused and changes nothing */
	err[0] = '\0';
	assert_int_equal(astro_tlm_archive_set_badtimes(f->a, "x y\n", 4, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 1"));
}

/*
 * A file larger than one ingest chunk (8 MiB): its MSIDs change type after
 * the first chunk was stored (A integers then a fraction, S numbers then
 * text), a time repeats across the chunk boundary, and the result is what
 * the whole file says: A all FLOAT, S all text as written, one row per time.
 */
#define BIG_SECS 200000

static char *big_csv(const char *tail)
{
	size_t cap = (size_t)BIG_SECS * 64 + 256, n = 0;
	char *s = malloc(cap);

	assert_non_null(s);
	n += (size_t)snprintf(s, cap, "msid,time,value\n");
	for (int i = 0; i < BIG_SECS; i++) {
		int d = i / 86400, r = i % 86400;

		n += (size_t)snprintf(s + n, cap - n, "A,2020:%03d:%02d:%02d:%02d,%d\nS,2020:%03d:%02d:%02d:%02d,%s%d\n",
				      d + 1, r / 3600, r / 60 % 60, r % 60, i,
				      d + 1, r / 3600, r / 60 % 60, r % 60, i % 2 ? "+" : "0", i % 10);
	}
	snprintf(s + n, cap - n, "%s", tail);
	assert_true(n > (9u << 20));
	return s;
}

static void big_file_types_settle_across_chunks(void **state)
{
	struct fx *f = *state;
	struct astro_tlm_ingest_result res;
	struct astro_tlm_reader *r;
	struct astro_tlm_meta m;
	struct astro_tlm_iter *it;
	struct astro_tlm_val v;
	char err[256] = "";
	int64_t t;
	int bad;
	size_t n = 0;
	/* the first sample again, later: it wins; A gets a fraction, S a state */
	char *csv = big_csv("A,2020:001:00:00:00,0.5\nS,2020:001:00:00:01,ON\n");

	assert_int_equal(ingest(f, "big.csv", csv, 0, &res, err, sizeof(err)), 0);
	assert_int_equal(res.rows, 2 * BIG_SECS);
	assert_int_equal(astro_tlm_archive_reader_open(f->a, &r), 0);
	assert_int_equal(astro_tlm_archive_reader_meta(r, "A", &m), 0);
	assert_int_equal(m.type, ASTRO_TLM_FLOAT);
	assert_int_equal(m.samples, BIG_SECS);
	assert_int_equal(astro_tlm_archive_iter_open(r, &m, INT64_MIN, INT64_MAX, 0, &it), 0);
	while (astro_tlm_archive_iter_next(it, &t, &v, &bad) == 1) {
		assert_int_equal(v.type, ASTRO_TLM_FLOAT);
		assert_true(v.f == (n ? (double)n : 0.5));
		n++;
	}
	astro_tlm_archive_iter_close(it);
	assert_int_equal(n, BIG_SECS);
	assert_int_equal(astro_tlm_archive_reader_meta(r, "S", &m), 0);
	assert_int_equal(m.type, ASTRO_TLM_STATE);
	assert_int_equal(astro_tlm_archive_iter_open(r, &m, INT64_MIN, INT64_MAX, 0, &it), 0);
	for (n = 0; astro_tlm_archive_iter_next(it, &t, &v, &bad) == 1; n++) {
		char want[16];

		snprintf(want, sizeof(want), "%s%d", n % 2 ? "+" : "0", (int)(n % 10));
		assert_int_equal(v.type, ASTRO_TLM_STATE);
		if (n == 1)
			snprintf(want, sizeof(want), "ON");
		assert_int_equal(v.tlen, strlen(want));
		assert_memory_equal(v.text, want, v.tlen);
	}
	astro_tlm_archive_iter_close(it);
	assert_int_equal(n, BIG_SECS);
	astro_tlm_archive_reader_close(r);
	free(csv);
}

static int count_row(void *arg, const struct astro_tlm_ledger_row *l)
{
	(void)l;
	++*(int *)arg;
	return 0;
}

/* Garbage on the last line of a multi-chunk file: nothing of the file is stored. */
static void big_file_bad_last_line_stores_nothing(void **state)
{
	struct fx *f = *state;
	struct astro_tlm_ingest_result res;
	struct astro_tlm_reader *r;
	struct astro_tlm_meta m;
	char err[256] = "", want[64];
	char *csv = big_csv("A,2020:001:00:00:00,nan\n");
	int rows = 0;

	assert_int_equal(ingest(f, "bad.csv", csv, 0, &res, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "line %d: value: NaN", 2 * BIG_SECS + 2);
	assert_non_null(strstr(err, want));
	assert_int_equal(astro_tlm_archive_reader_open(f->a, &r), 0);
	assert_int_equal(astro_tlm_archive_reader_meta(r, "A", &m), -ENOENT);
	assert_int_equal(astro_tlm_archive_reader_each_ledger(r, count_row, &rows), 0);
	assert_int_equal(rows, 0);
	astro_tlm_archive_reader_close(r);
	free(csv);
}

/* Units: a CSV unit column and a JSON Unit field reach the MSID's meta; a file without keeps it. */
static void units_from_csv_and_json(void **state)
{
	struct fx *f = *state;
	struct astro_tlm_ingest_result res;
	struct astro_tlm_reader *r;
	struct astro_tlm_meta m;
	char err[256] = "";
	const char *json = "{\"TlmMnemonic\": \"SA_X\", \"Unit\": \"rad\", \"Data\": "
			   "[{\"ObsTime\": \"/Date(1611628142147+0000)/\", \"EUValue\": 1.5}]}";

	assert_int_equal(ingest(f, "u.csv", "msid,time,unit,value,quality\n"
				"TEPHIN,2020:001:00:00:00,,1\nTEPHIN,2020:001:00:00:01,DEGF,2,0\n"
				"AOPCADMD,2020:001:00:00:00,,NPNT\n", 0, &res, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 1: header"));
	assert_int_equal(ingest(f, "u.csv", "msid,time,value,quality,unit\n"
				"TEPHIN,2020:001:00:00:00,1\nTEPHIN,2020:001:00:00:01,2,0,DEGF\n"
				"AOPCADMD,2020:001:00:00:00,NPNT,0,\n", 0, &res, err, sizeof(err)), 0);
	assert_int_equal(ingest(f, "v.csv", "msid,time,value\nTEPHIN,2020:001:00:00:02,3\n", 0, &res,
				err, sizeof(err)), 0);
	assert_int_equal(ingest(f, "x.json", json, 0, &res, err, sizeof(err)), 0);
	assert_int_equal(ingest(f, "w.csv", "msid,time,value,unit\nTEPHIN,2020:001:00:00:03,3,DEGF\n"
				"TEPHIN,2020:001:00:00:04,3,K\n", 0, &res, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 3: unit: differs"));
	assert_int_equal(astro_tlm_archive_reader_open(f->a, &r), 0);
	assert_int_equal(astro_tlm_archive_reader_meta(r, "TEPHIN", &m), 0);
	assert_string_equal(m.unit, "DEGF");
	assert_int_equal(m.samples, 3);
	assert_int_equal(astro_tlm_archive_reader_meta(r, "AOPCADMD", &m), 0);
	assert_string_equal(m.unit, "");
	assert_int_equal(astro_tlm_archive_reader_meta(r, "SA_X", &m), 0);
	assert_string_equal(m.unit, "rad");
	astro_tlm_archive_reader_close(r);
}

/* ---- sample blocks ---- */

/* The reference: what the archive should hold for one MSID, time-ascending. */
struct model {
	int64_t t[40000];
	double v[40000];
	int src[40000];		/* which file stored it (for REPLACE) */
	size_t n;
};

/* Half-seconds after 2024:001 as the CSV time text. */
static void when(long hs, char *buf, size_t n)
{
	long ms = hs * 500;

	snprintf(buf, n, "2024:001:%02ld:%02ld:%02ld.%03ld", ms / 3600000, ms / 60000 % 60,
		 ms / 1000 % 60, ms % 1000);
}

static void model_put(struct model *md, int64_t t, double v, int src)
{
	size_t i = 0;

	while (i < md->n && md->t[i] < t)
		i++;
	if (i < md->n && md->t[i] == t) {
		md->v[i] = v;
		md->src[i] = src;
		return;
	}
	memmove(md->t + i + 1, md->t + i, (md->n - i) * sizeof(md->t[0]));
	memmove(md->v + i + 1, md->v + i, (md->n - i) * sizeof(md->v[0]));
	memmove(md->src + i + 1, md->src + i, (md->n - i) * sizeof(md->src[0]));
	md->t[i] = t;
	md->v[i] = v;
	md->src[i] = src;
	md->n++;
}

/* A CSV of X rows at half-seconds hs[0..n) with values v[], in that order; the model follows. */
static char *rows_csv(const long *hs, const double *v, size_t n, struct model *md, int src)
{
	size_t cap = 64 + n * 64, len = 0;
	char *s = malloc(cap), tb[64];

	len += (size_t)snprintf(s, cap, "msid,time,value\n");
	for (size_t i = 0; i < n; i++) {
		when(hs[i], tb, sizeof(tb));
		len += (size_t)snprintf(s + len, cap - len, "X,%s,%.17g\n", tb, v[i]);
		if (md)
			model_put(md, T(tb), v[i], src);
	}
	return s;
}

/* The archive's samples of X in [t0, t1) equal the model's, value bits included. */
static void assert_model(struct fx *f, const struct model *md, int64_t t0, int64_t t1)
{
	struct astro_tlm_reader *r;
	struct astro_tlm_meta m;
	struct astro_tlm_iter *it;
	struct astro_tlm_val v;
	int64_t t;
	int bad, rc;
	size_t i = 0;

	while (i < md->n && md->t[i] < t0)
		i++;
	assert_int_equal(astro_tlm_archive_reader_open(f->a, &r), 0);
	assert_int_equal(astro_tlm_archive_reader_meta(r, "X", &m), 0);
	assert_int_equal(m.samples, md->n);
	assert_int_equal(astro_tlm_archive_iter_open(r, &m, t0, t1, 0, &it), 0);
	while ((rc = astro_tlm_archive_iter_next(it, &t, &v, &bad)) == 1) {
		assert_true(i < md->n && md->t[i] < t1);
		assert_int_equal(t, md->t[i]);
		assert_memory_equal(&v.f, &md->v[i], 8);
		i++;
	}
	assert_int_equal(rc, 0);
	assert_true(i == md->n || md->t[i] >= t1);
	astro_tlm_archive_iter_close(it);
	astro_tlm_archive_reader_close(r);
}

static struct model *three_blocks_and_more(struct fx *f)
{
	struct model *md = calloc(1, sizeof(*md));
	size_t n = 3 * 4096 + 5;
	long *hs = malloc(n * sizeof(*hs));
	double *v = malloc(n * sizeof(*v));
	struct astro_tlm_ingest_result res;
	char err[256] = "", *csv;

	for (size_t i = 0; i < n; i++) {
		hs[i] = 2 * (long)i + 10;		/* whole seconds from 5 s */
		v[i] = (double)(int)(i * 37 % 2001) / 100.0 - 3.5;
	}
	csv = rows_csv(hs, v, n, md, 1);
	assert_int_equal(ingest(f, "a.csv", csv, 0, &res, err, sizeof(err)), 0);
	assert_int_equal(res.rows, n);
	free(csv);
	free(hs);
	free(v);
	return md;
}

/*
 * A second file, out of order, lands before, between, on and after the
 * first file's samples across block boundaries: equal times take its value
 * (later ingest wins), a time repeated in the file keeps its later row and
 * counts once; any range reads exactly the merged set.
 */
static void blocks_merge_out_of_order_and_duplicates(void **state)
{
	struct fx *f = *state;
	struct model *md = three_blocks_and_more(f);
	struct astro_tlm_ingest_result res;
	long hs[64];
	double v[64];
	size_t n = 0;
	char err[256] = "", *csv;

	/* newest first: after the end, then on and between the block seams */
	hs[n] = 2 * (3 * 4096 + 20) + 10, v[n++] = 1e300;
	for (long k = 3; k >= 1; k--) {
		long seam = 2 * 4096 * k + 10;

		hs[n] = seam + 1, v[n++] = 0.1 * (double)k;		/* between */
		hs[n] = seam, v[n++] = -2.5;				/* on: replaces */
		hs[n] = seam - 2, v[n++] = 7.0 / 3.0;			/* just before */
		hs[n] = seam - 3, v[n++] = (double)k;
	}
	hs[n] = 11, v[n++] = 5;			/* between the first two */
	hs[n] = 0, v[n++] = -1;			/* before everything */
	hs[n] = 0, v[n++] = -2;			/* the same time again: this row wins */
	size_t distinct = n - 1;

	csv = rows_csv(hs, v, n, md, 2);
	assert_int_equal(ingest(f, "b.csv", csv, 0, &res, err, sizeof(err)), 0);
	assert_int_equal(res.rows, distinct);
	free(csv);
	assert_model(f, md, INT64_MIN, INT64_MAX);
	for (long k = 0; k <= 3; k++)
		for (long d = -3; d <= 3; d++) {
			char a[64], b[64];

			when(2 * 4096 * k + 10 + d, a, sizeof(a));
			when(2 * 4096 * k + 10 + 3 * d + 4000, b, sizeof(b));
			assert_model(f, md, T(a), T(b));
		}
	/* REPLACE takes out b.csv's samples in every block they reached */
	for (size_t i = 0; i < md->n;)
		if (md->src[i] == 2) {
			memmove(md->t + i, md->t + i + 1, (md->n - i - 1) * sizeof(md->t[0]));
			memmove(md->v + i, md->v + i + 1, (md->n - i - 1) * sizeof(md->v[0]));
			memmove(md->src + i, md->src + i + 1, (md->n - i - 1) * sizeof(md->src[0]));
			md->n--;
		} else {
			i++;
		}
	hs[0] = 2 * 4096 + 11, v[0] = 42;
	csv = rows_csv(hs, v, 1, md, 3);
	assert_int_equal(ingest(f, "b.csv", csv, ASTRO_TLM_REPLACE, &res, err, sizeof(err)), 0);
	assert_true(res.replaced);
	free(csv);
	assert_model(f, md, INT64_MIN, INT64_MAX);
	free(md);
}

/* A BAD_TIMES interval across a block seam hides exactly its samples, in reads and stats. */
static void bad_times_across_blocks(void **state)
{
	struct fx *f = *state;
	struct model *md = three_blocks_and_more(f);
	struct astro_tlm_reader *r;
	struct astro_tlm_stat st;
	char a[64], b[64], table[256], err[256] = "";
	size_t all, good;

	when(2 * 4090 + 10, a, sizeof(a));
	when(2 * 4100 + 10, b, sizeof(b));
	snprintf(table, sizeof(table), "# across the first seam\nX %s %s\n", a, b);
	assert_int_equal(astro_tlm_archive_set_badtimes(f->a, table, strlen(table), err, sizeof(err)), 0);
	assert_int_equal(astro_tlm_archive_reader_open(f->a, &r), 0);
	all = count(r, "X", ASTRO_TLM_ALL, NULL);
	good = count(r, "X", 0, NULL);
	assert_int_equal(all, md->n);
	assert_int_equal(good, md->n - 11);	/* closed interval: 4090..4100 */
	assert_int_equal(stat_at(r, "X", 1, md->t[0], &st), 1);
	assert_int_equal(st.n, good);
	astro_tlm_archive_reader_close(r);
	free(md);
}

/* Close f's archive, let fn edit its LMDB environment directly, reopen it (read-write) if asked. */
static void edit_env(struct fx *f, void (*fn)(MDB_txn *txn, MDB_env *env), int reopen)
{
	MDB_env *env;
	MDB_txn *txn;
	char err[256];

	astro_tlm_archive_close(f->a);
	f->a = NULL;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_set_mapsize(env, 1ULL << 30), 0);
	assert_int_equal(mdb_env_open(env, f->dir, 0, 0640), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	fn(txn, env);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	if (reopen)
		assert_int_equal(astro_tlm_archive_open(f->dir, 0, &f->a, err, sizeof(err)), 0);
}

static void flip_second_block(MDB_txn *txn, MDB_env *env)
{
	MDB_dbi dbi;
	MDB_cursor *c;
	MDB_val k, v;
	unsigned char key[12], *copy;

	assert_int_equal(mdb_dbi_open(txn, "blocks.v1", 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &c), 0);
	assert_int_equal(mdb_cursor_get(c, &k, &v, MDB_FIRST), 0);
	assert_int_equal(mdb_cursor_get(c, &k, &v, MDB_NEXT), 0);
	memcpy(key, k.mv_data, 12);
	copy = malloc(v.mv_size);
	memcpy(copy, v.mv_data, v.mv_size);
	copy[v.mv_size / 2] ^= 0x08;
	mdb_cursor_close(c);
	k.mv_data = key;
	v.mv_data = copy;
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	free(copy);
}

/* A damaged block is never served: reads stop with EIO where it begins. */
static void damaged_block_is_not_served(void **state)
{
	struct fx *f = *state;
	struct model *md = three_blocks_and_more(f);
	struct astro_tlm_reader *r;
	struct astro_tlm_meta m;
	struct astro_tlm_iter *it;
	struct astro_tlm_val v;
	int64_t t;
	int bad, rc;
	size_t n = 0;

	edit_env(f, flip_second_block, 1);
	assert_int_equal(astro_tlm_archive_reader_open(f->a, &r), 0);
	assert_int_equal(astro_tlm_archive_reader_meta(r, "X", &m), 0);
	assert_int_equal(astro_tlm_archive_iter_open(r, &m, INT64_MIN, INT64_MAX, 0, &it), 0);
	while ((rc = astro_tlm_archive_iter_next(it, &t, &v, &bad)) == 1) {
		assert_int_equal(t, md->t[n]);
		n++;
	}
	assert_int_equal(rc, -EIO);
	assert_int_equal(n, 4096);	/* the first block, then nothing */
	/* asked again, it fails again: never skips ahead to the next block */
	assert_int_equal(astro_tlm_archive_iter_next(it, &t, &v, &bad), -EIO);
	astro_tlm_archive_iter_close(it);
	/* a range inside the damaged block fails at once */
	assert_int_equal(astro_tlm_archive_iter_open(r, &m, md->t[5000], md->t[5001], 0, &it), 0);
	assert_int_equal(astro_tlm_archive_iter_next(it, &t, &v, &bad), -EIO);
	astro_tlm_archive_iter_close(it);
	astro_tlm_archive_reader_close(r);
	free(md);
}

/* Rewrite the blocks as the format-1 layout: one record per sample in "samples". */
static void to_format1(MDB_txn *txn, MDB_env *env)
{
	MDB_dbi blocks, samples, info;
	MDB_cursor *c;
	MDB_val k, v, fk = {6, (void *)"format"};
	struct astro_tlm_block b;
	char err[160];

	astro_tlm_block_init(&b);
	assert_int_equal(mdb_dbi_open(txn, "blocks.v1", 0, &blocks), 0);
	assert_int_equal(mdb_dbi_open(txn, "samples", MDB_CREATE, &samples), 0);
	assert_int_equal(mdb_dbi_open(txn, "info", 0, &info), 0);
	assert_int_equal(mdb_cursor_open(txn, blocks, &c), 0);
	for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		unsigned char key[12], val[5 + 64];

		assert_int_equal(astro_tlm_block_decode(v.mv_data, v.mv_size, &b, err, sizeof(err)), 0);
		memcpy(key, k.mv_data, 4);
		for (size_t i = 0; i < b.n; i++) {
			uint64_t x = (uint64_t)b.t[i] ^ 0x8000000000000000ULL;
			MDB_val sk = {12, key}, sv = {13, val};

			for (int j = 0; j < 8; j++)
				key[4 + j] = (unsigned char)(x >> (56 - 8 * j));
			val[0] = (unsigned char)(b.v[i].type | (b.bad[i] ? 4 : 0));
			memcpy(val + 1, &b.iid[i], 4);
			assert_int_equal(b.v[i].type, ASTRO_TLM_FLOAT);
			memcpy(val + 5, &b.v[i].f, 8);
			assert_int_equal(mdb_put(txn, samples, &sk, &sv, 0), 0);
		}
	}
	mdb_cursor_close(c);
	assert_int_equal(mdb_drop(txn, blocks, 1), 0);
	assert_int_equal(mdb_del(txn, info, &fk, NULL), 0);
	astro_tlm_block_free(&b);
}

/* What an older astrofs does to a converted archive: opening it creates an empty "samples". */
static void old_binary_opened(MDB_txn *txn, MDB_env *env)
{
	MDB_dbi samples;

	assert_int_equal(mdb_dbi_open(txn, "samples", MDB_CREATE, &samples), 0);
}

/* ... and an ingest by it stores per-sample records there. */
static void old_binary_ingested(MDB_txn *txn, MDB_env *env)
{
	MDB_dbi samples;
	unsigned char key[12] = {0, 0, 0, 1, 0x80}, val[13] = {ASTRO_TLM_FLOAT, 1};
	MDB_val k = {12, key}, v = {13, val};

	assert_int_equal(mdb_dbi_open(txn, "samples", MDB_CREATE, &samples), 0);
	assert_int_equal(mdb_put(txn, samples, &k, &v, 0), 0);
}

/* An archive of the per-sample format: refused read-only with what to do, converted read-write. */
static void format1_archive_is_converted(void **state)
{
	struct fx *f = *state;
	struct model *md = three_blocks_and_more(f);
	struct astro_tlm_archive *ro;
	char err[512] = "";

	edit_env(f, to_format1, 0);
	assert_int_equal(astro_tlm_archive_open(f->dir, ASTRO_TLM_RDONLY, &ro, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "astrofs-ingest"));
	assert_int_equal(astro_tlm_archive_open(f->dir, 0, &f->a, err, sizeof(err)), 0);
	assert_model(f, md, INT64_MIN, INT64_MAX);
	astro_tlm_archive_close(f->a);
	assert_int_equal(astro_tlm_archive_open(f->dir, ASTRO_TLM_RDONLY, &f->a, err, sizeof(err)), 0);
	assert_model(f, md, INT64_MIN, INT64_MAX);
	astro_tlm_archive_close(f->a);
	assert_int_equal(astro_tlm_archive_open(f->dir, 0, &f->a, err, sizeof(err)), 0);
	/* an older astrofs that only opened it leaves nothing to convert */
	edit_env(f, old_binary_opened, 1);
	assert_model(f, md, INT64_MIN, INT64_MAX);
	/* one that stored samples there: refused, never merged into overlapping blocks */
	edit_env(f, old_binary_ingested, 0);
	assert_int_equal(astro_tlm_archive_open(f->dir, 0, &f->a, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "older astrofs stored 1 samples"));
	assert_int_equal(astro_tlm_archive_open(f->dir, ASTRO_TLM_RDONLY, &f->a, err, sizeof(err)), 0);
	assert_model(f, md, INT64_MIN, INT64_MAX);
	free(md);
}

/* The identity is drawn once, kept across opens (also read-only ones) and
 * differs for an archive recreated at the same path. */
static void identity_survives_reopen_not_recreation(void **state)
{
	struct fx *f = *state;
	struct astro_tlm_archive *ro = NULL;
	uint64_t id = astro_tlm_archive_id(f->a), again;
	char err[256], cmd[512];

	assert_true(id != 0);
	astro_tlm_archive_close(f->a);
	assert_int_equal(astro_tlm_archive_open(f->dir, ASTRO_TLM_RDONLY, &ro, err, sizeof(err)), 0);
	assert_true(astro_tlm_archive_id(ro) == id);
	astro_tlm_archive_close(ro);
	assert_int_equal(astro_tlm_archive_open(f->dir, 0, &f->a, err, sizeof(err)), 0);
	assert_true(astro_tlm_archive_id(f->a) == id);
	astro_tlm_archive_close(f->a);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'/*", f->dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(astro_tlm_archive_open(f->dir, 0, &f->a, err, sizeof(err)), 0);
	again = astro_tlm_archive_id(f->a);
	assert_true(again != 0 && again != id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(jwst_fixture_reads_back_exactly, setup, teardown),
		cmocka_unit_test_setup_teardown(same_name_other_content, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_file_leaves_no_trace, setup, teardown),
		cmocka_unit_test_setup_teardown(reader_keeps_its_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(stats_follow_late_data_quality_and_bad_times, setup, teardown),
		cmocka_unit_test_setup_teardown(big_file_types_settle_across_chunks, setup, teardown),
		cmocka_unit_test_setup_teardown(big_file_bad_last_line_stores_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(units_from_csv_and_json, setup, teardown),
		cmocka_unit_test_setup_teardown(blocks_merge_out_of_order_and_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_times_across_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(identity_survives_reopen_not_recreation, setup, teardown),
		cmocka_unit_test_setup_teardown(damaged_block_is_not_served, setup, teardown),
		cmocka_unit_test_setup_teardown(format1_archive_is_converted, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include "unit.h"
#include <errno.h>
#include <math.h>
#include "core/astro.h"
#include "telemetry/tlm_archive.h"
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

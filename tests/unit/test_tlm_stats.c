#include "unit.h"
#include <errno.h>
#include <math.h>
#include "core/astro.h"
#include "telemetry/tlm_parse.h"
#include "telemetry/tlm_stats.h"
#include "telemetry/tlm_time.h"

static struct astro_tlm_val F(double x)
{
	struct astro_tlm_val v = {.type = ASTRO_TLM_FLOAT, .f = x};

	return v;
}

#define S(sec) ((int64_t)((sec) * 1000000.0))

/* Values worked by hand from cheta's definitions (see tlm_stats.h). */
static void weighted_mean_std_quantiles(void **state)
{
	int64_t t[] = {S(0), S(10), S(30), S(60)};
	struct astro_tlm_val v[] = {F(1), F(2), F(3), F(4)};
	struct astro_tlm_stat st;

	(void)state;
	assert_int_equal(astro_tlm_stats_compute(t, v, 4, ASTRO_TLM_FLOAT, 1, 7, &st), 0);
	assert_int_equal(st.n, 4);
	assert_int_equal(st.index, 7);
	/* weights 10, 15, 25, 30 → 235/80 */
	assert_true(st.mean == 2.9375);
	assert_true(fabs(st.std - sqrt(84.6875 / 80)) < 1e-15);
	assert_true(st.min.f == 1 && st.max.f == 4 && st.mid.f == 3);
	/* mquantiles a=b=0.4 on 1..4: p01→1 (clipped), p16→1.072, p50→2.5, p84→3.928, p99→4 */
	assert_true(st.p[0] == 1.0);
	assert_true(fabs(st.p[2] - 1.072) < 1e-12);
	assert_true(st.p[3] == 2.5);
	assert_true(fabs(st.p[4] - 3.928) < 1e-12);
	assert_true(st.p[6] == 4.0);
	astro_tlm_stats_free(&st);
}

static void small_bins_and_clipping(void **state)
{
	int64_t t2[] = {S(0), S(100)};
	struct astro_tlm_val v2[] = {F(1), F(3)};
	int64_t t3[] = {S(0), S(1000), S(1000)};
	struct astro_tlm_val v3[] = {F(1), F(2), F(3)};
	struct astro_tlm_val v1[] = {{.type = ASTRO_TLM_INT, .i = 42}};
	struct astro_tlm_stat st;

	(void)state;
	/* n <= 2: equal weights */
	assert_int_equal(astro_tlm_stats_compute(t2, v2, 2, ASTRO_TLM_FLOAT, 1, 0, &st), 0);
	assert_true(st.mean == 2.0);
	assert_true(st.mid.f == 3.0);	/* vals[n//2] */
	assert_true(st.std == 1.0);
	/* gaps clipped to 300 s; equal times to 0.001 s */
	assert_int_equal(astro_tlm_stats_compute(t3, v3, 3, ASTRO_TLM_FLOAT, 0, 0, &st), 0);
	assert_true(fabs(st.mean - (300 * 1 + 300 * 2 + 0.001 * 3) / 600.001) < 1e-12);
	/* n = 1: everything is the sample; ints stay ints */
	assert_int_equal(astro_tlm_stats_compute(t2, v1, 1, ASTRO_TLM_INT, 1, 0, &st), 0);
	assert_int_equal(st.min.i, 42);
	assert_int_equal(st.mid.i, 42);
	assert_true(st.mean == 42.0 && st.std == 0.0 && st.p[0] == 42.0 && st.p[6] == 42.0);
	assert_int_equal(astro_tlm_stats_compute(t2, v1, 0, ASTRO_TLM_INT, 1, 0, &st), -EINVAL);
}

static void state_counts(void **state)
{
	int64_t t[] = {S(0), S(1), S(2)};
	struct astro_tlm_val v[] = {
		{.type = ASTRO_TLM_STATE, .text = "NPNT", .tlen = 4},
		{.type = ASTRO_TLM_STATE, .text = "NMAN", .tlen = 4},
		{.type = ASTRO_TLM_STATE, .text = "NPNT", .tlen = 4},
	};
	struct astro_tlm_stat st;

	(void)state;
	assert_int_equal(astro_tlm_stats_compute(t, v, 3, ASTRO_TLM_STATE, 1, 0, &st), 0);
	assert_int_equal(st.nstates, 2);
	assert_memory_equal(st.states[0].text, "NMAN", 4);
	assert_int_equal(st.states[0].n, 1);
	assert_int_equal(st.states[1].n, 2);
	assert_memory_equal(st.mid.text, "NMAN", 4);
	astro_tlm_stats_free(&st);
}

/* cheta's doc rows (greta times) are the midpoints of 5-min bins from index 1443381. */
static void tephin_midpoints(void **state)
{
	char path[512], buf[ASTRO_TLM_TIME_BUF], *text, *line, *save = NULL;
	int64_t want_index = 1443381;
	int rows = 0;

	(void)state;
	if (!unit_shared("data/telemetry/chandra_cheta/TEPHIN_5min_doc_excerpt.csv", path, sizeof(path)))
		skip();
	text = unit_slurp(path, NULL);
	assert_non_null(text);
	strtok_r(text, "\n", &save);
	while ((line = strtok_r(NULL, "\n", &save))) {
		/* greta YYYYDDD.hhmmsssss → YYYY:DDD:hh:mm:ss.sss */
		char date[32];
		int64_t t, mid;

		snprintf(date, sizeof(date), "%.4s:%.3s:%.2s:%.2s:%.2s.%.3s", line, line + 4,
			 line + 8, line + 10, line + 12, line + 14);
		assert_int_equal(astro_tlm_time_parse_date(date, strlen(date), &t, NULL, 0), 0);
		assert_int_equal(astro_tlm_stats_index(t, ASTRO_TLM_DT_5MIN), want_index);
		mid = want_index * ASTRO_TLM_DT_5MIN + ASTRO_TLM_DT_5MIN / 2;
		astro_tlm_time_fmt_date(mid, buf);
		assert_string_equal(buf, date);
		want_index++;
		rows++;
	}
	assert_int_equal(rows, 9);
	free(text);
	/* daily bins start at 00:00 TT: 67.184 s before UTC midnight in 2013 */
	int64_t d0;

	assert_int_equal(astro_tlm_time_parse_date("2013:001", 8, &d0, NULL, 0), 0);
	assert_int_equal(astro_tlm_stats_index(d0 - S(67.184), ASTRO_TLM_DT_DAILY),
			 astro_tlm_stats_index(d0, ASTRO_TLM_DT_DAILY));
	assert_int_equal(astro_tlm_stats_index(d0 - S(67.184) - 1, ASTRO_TLM_DT_DAILY),
			 astro_tlm_stats_index(d0, ASTRO_TLM_DT_DAILY) - 1);
	assert_int_equal(astro_tlm_stats_index(-1, ASTRO_TLM_DT_5MIN), -1);
}

/*
 * Percentiles of a day with duplicates, both zeros, negatives and extremes:
 * each equals (bit for bit) the mquantile of the values put in order by a
 * plain stable insertion sort, the order a stable comparison sort gives.
 */
static void quantiles_match_a_stable_sort(void **state)
{
	enum { N = 3000 };
	static const double pool[] = {1.5, -1.5, 1e-310, -1e-310, 1e300, -1e300, 2.5, 2.5, 0.1,
				      -7.0, 4.9e-324};
	int64_t *t = malloc(N * sizeof(*t));
	struct astro_tlm_val *v = malloc(N * sizeof(*v));
	double *ref = malloc(N * sizeof(*ref));
	uint64_t seed = 16;
	struct astro_tlm_stat st;

	(void)state;
	assert_true(t && v && ref);
	for (int i = 0; i < N; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		t[i] = S(i * 20);
		/* mostly zeros of both signs, so the percentiles land among them */
		v[i] = F(seed % 5 == 0 ? pool[(seed >> 33) % ASTRO_ARRAY_SIZE(pool)] :
			 seed % 5 == 1 ? (double)(int64_t)(seed >> 40) / 7 : (seed >> 35) % 3 ? -0.0 : 0.0);
		ref[i] = v[i].f;
	}
	for (int i = 1; i < N; i++)
		for (int j = i; j > 0 && ref[j] < ref[j - 1]; j--) {
			double x = ref[j];

			ref[j] = ref[j - 1];
			ref[j - 1] = x;
		}
	assert_int_equal(astro_tlm_stats_compute(t, v, N, ASTRO_TLM_FLOAT, 1, 0, &st), 0);
	for (int k = 0; k < ASTRO_TLM_NPCT; k++) {
		double p = astro_tlm_stats_pct[k] / 100.0, m = 0.4 + p * 0.2, aleph = N * p + m;
		double kk = floor(fmin(fmax(aleph, 1.0), N - 1.0)), g = fmin(fmax(aleph - kk, 0.0), 1.0);
		double want = (1.0 - g) * ref[(size_t)kk - 1] + g * ref[(size_t)kk];

		assert_memory_equal(&st.p[k], &want, sizeof(want));
	}
	astro_tlm_stats_free(&st);
	free(t);
	free(v);
	free(ref);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(weighted_mean_std_quantiles),
		cmocka_unit_test(small_bins_and_clipping),
		cmocka_unit_test(state_counts),
		cmocka_unit_test(tephin_midpoints),
		cmocka_unit_test(quantiles_match_a_stable_sort),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* tlm_stats.c — cheta 5-minute/daily statistics of one bin (see tlm_stats.h). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "tlm_parse.h"
#include "tlm_stats.h"

const int astro_tlm_stats_pct[ASTRO_TLM_NPCT] = {1, 5, 16, 50, 84, 95, 99};

int64_t astro_tlm_stats_index(int64_t t, int64_t dt)
{
	int64_t q = t / dt;

	return (t % dt != 0 && t < 0) ? q - 1 : q;
}

/* mquantiles(alpha=beta=0.4) of sorted x[0..n) at probability p. */
static double mquantile(const double *x, size_t n, double p)
{
	const double alpha = 0.4, beta = 0.4;
	double m = alpha + p * (1.0 - alpha - beta);
	double aleph = (double)n * p + m, gamma;
	double kk;
	size_t k;

	if (n == 1)
		return x[0];
	/* scipy clips aleph to [1, n-1] before flooring; gamma to [0, 1]. */
	kk = floor(fmin(fmax(aleph, 1.0), (double)(n - 1)));
	k = (size_t)kk;
	gamma = fmin(fmax(aleph - kk, 0.0), 1.0);
	return (1.0 - gamma) * x[k - 1] + gamma * x[k];
}

/* Sort key of a double: unsigned order = numeric order; -0 and +0 share one. */
static uint64_t dkey(double d)
{
	uint64_t u;

	if (d == 0)
		d = 0.0;
	memcpy(&u, &d, sizeof(u));
	return (u >> 63) ? ~u : u | (1ULL << 63);
}

/*
 * x ascending, as a stable comparison sort leaves it (equal values — only
 * -0 and +0 are equal yet differ — keep their order), by an LSD radix sort:
 * a day at 1 Hz sorted by qsort was a tenth of an ingest.  No NaN (the
 * parsers refuse them).  0 or -ENOMEM.
 */
static int sort_doubles(double *x, size_t n)
{
	uint64_t *ka = malloc(2 * n * sizeof(*ka)), *kb = ka ? ka + n : NULL;
	double *y = malloc(n * sizeof(*y)), *xa = x, *xb = y;

	if (!ka || !y) {
		free(ka);
		free(y);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		ka[i] = dkey(x[i]);
	for (int shift = 0; shift < 64; shift += 8) {
		size_t cnt[257] = {0};

		for (size_t i = 0; i < n; i++)
			cnt[((ka[i] >> shift) & 255) + 1]++;
		if (cnt[((ka[0] >> shift) & 255) + 1] == n)
			continue;	/* one byte value throughout: this pass changes nothing */
		for (int b = 1; b <= 256; b++)
			cnt[b] += cnt[b - 1];
		for (size_t i = 0; i < n; i++) {
			size_t d = cnt[(ka[i] >> shift) & 255]++;

			kb[d] = ka[i];
			xb[d] = xa[i];
		}
		uint64_t *tk = ka;
		double *tx = xa;

		ka = kb;
		kb = tk;
		xa = xb;
		xb = tx;
	}
	if (xa != x)
		memcpy(x, xa, n * sizeof(*x));
	free(ka < kb ? ka : kb);
	free(y);
	return 0;
}

static int cmp_state(const void *a, const void *b)
{
	const struct astro_tlm_state_count *x = a, *y = b;
	uint32_t n = x->tlen < y->tlen ? x->tlen : y->tlen;
	int c = memcmp(x->text, y->text, n);

	return c ? c : (x->tlen > y->tlen) - (x->tlen < y->tlen);
}

static double num(const struct astro_tlm_val *v)
{
	return v->type == ASTRO_TLM_INT ? (double)v->i : v->f;
}

static int state_stats(const struct astro_tlm_val *v, size_t n,
		       struct astro_tlm_stat *out)
{
	struct astro_tlm_state_count *all = malloc(n * sizeof(*all));
	size_t k = 0;

	if (!all)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		all[i].text = v[i].text;
		all[i].tlen = v[i].tlen;
		all[i].n = 1;
	}
	qsort(all, n, sizeof(*all), cmp_state);
	for (size_t i = 0; i < n; i++) {
		if (k && !cmp_state(&all[k - 1], &all[i]))
			all[k - 1].n++;
		else
			all[k++] = all[i];
	}
	out->states = all;
	out->nstates = k;
	return 0;
}

int astro_tlm_stats_compute(const int64_t *t, const struct astro_tlm_val *v,
			    size_t n, int type, int daily, int64_t index,
			    struct astro_tlm_stat *out)
{
	double *w = NULL, *sorted = NULL, sw = 0, swv = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (n == 0)
		return -EINVAL;
	out->index = index;
	out->n = (uint32_t)n;
	out->type = (uint8_t)type;
	out->mid = v[n / 2];
	if (type == ASTRO_TLM_STATE)
		return state_stats(v, n, out);
	w = malloc(n * sizeof(*w));
	if (!w) {
		rc = -ENOMEM;
		goto out;
	}
	out->min = out->max = v[0];
	for (size_t i = 0; i < n; i++) {
		if (num(&v[i]) < num(&out->min))
			out->min = v[i];
		if (num(&v[i]) > num(&out->max))
			out->max = v[i];
		if (n <= 2) {
			w[i] = 1.0;
		} else {
			double d;

			if (i == 0)
				d = (double)(t[1] - t[0]);
			else if (i == n - 1)
				d = (double)(t[n - 1] - t[n - 2]);
			else
				d = (double)(t[i + 1] - t[i - 1]) / 2.0;
			d /= 1e6;
			w[i] = fmin(fmax(d, 0.001), 300.0);
		}
		sw += w[i];
		swv += w[i] * num(&v[i]);
	}
	out->mean = swv / sw;
	if (daily) {
		double ss = 0;

		for (size_t i = 0; i < n; i++) {
			double d = num(&v[i]) - out->mean;

			ss += w[i] * d * d;
		}
		out->std = sqrt(ss / sw);
		sorted = malloc(n * sizeof(*sorted));
		if (!sorted) {
			rc = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			sorted[i] = num(&v[i]);
		if ((rc = sort_doubles(sorted, n)))
			goto out;
		for (int k = 0; k < ASTRO_TLM_NPCT; k++)
			out->p[k] = mquantile(sorted, n, astro_tlm_stats_pct[k] / 100.0);
	}
out:
	free(w);
	free(sorted);
	return rc;
}

void astro_tlm_stats_free(struct astro_tlm_stat *s)
{
	free(s->states);
	s->states = NULL;
	s->nstates = 0;
}

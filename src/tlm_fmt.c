/* tlm_fmt.c — shortest round-trip numbers and CSV text (see tlm_fmt.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tlm_fmt.h"
#include "tlm_parse.h"
#include "tlm_stats.h"
#include "tlm_time.h"

static const double pow10_exact[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

size_t astro_tlm_fmt_int(int64_t v, char *buf)
{
	uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	char tmp[24];
	size_t n = 0, k = 0;

	do {
		tmp[n++] = (char)('0' + mag % 10);
		mag /= 10;
	} while (mag);
	if (v < 0)
		buf[k++] = '-';
	while (n)
		buf[k++] = tmp[--n];
	buf[k] = '\0';
	return k;
}

/* n (>= 0) with k digits after the decimal point. */
static size_t put_fixed(uint64_t n, int k, int neg, char *buf)
{
	char tmp[24];
	int d = 0;
	size_t o = 0;

	do {
		tmp[d++] = (char)('0' + n % 10);
		n /= 10;
	} while (n);
	while (d <= k)
		tmp[d++] = '0';	/* at least one digit before the point */
	if (neg)
		buf[o++] = '-';
	while (d > k)
		buf[o++] = tmp[--d];
	if (k > 0) {
		buf[o++] = '.';
		while (d)
			buf[o++] = tmp[--d];
	}
	buf[o] = '\0';
	return o;
}

static size_t slow(double x, char *buf)
{
	for (int p = 1; p <= 17; p++) {
		int n = snprintf(buf, ASTRO_TLM_NUM_BUF, "%.*g", p, x);

		if (strtod(buf, NULL) == x)
			return (size_t)n;
	}
	return (size_t)snprintf(buf, ASTRO_TLM_NUM_BUF, "%.17g", x);
}

size_t astro_tlm_fmt_double(double x, char *buf)
{
	double ax = fabs(x);
	int neg = signbit(x) != 0;

	if (x == 0) {
		memcpy(buf, neg ? "-0" : "0", neg ? 3 : 2);
		return neg ? 2 : 1;
	}
	if (!isfinite(x) || ax < 1e-5 || ax >= 1e15)
		return slow(x, buf);
	for (int k = 0; k <= 22; k++) {
		double scaled = ax * pow10_exact[k], r;

		if (scaled >= 9007199254740992.0)	/* 2^53: n no longer exact */
			break;
		r = nearbyint(scaled);
		/* x·10^k is rounded once; the true nearest integer is r or a neighbour. */
		for (int d = 0; d < 3; d++) {
			double n = d == 0 ? r : d == 1 ? r - 1 : r + 1;

			if (n > 0 && n / pow10_exact[k] == ax)
				return put_fixed((uint64_t)n, k, neg, buf);
		}
	}
	return slow(x, buf);
}

size_t astro_tlm_fmt_csv_text(const char *s, size_t len, char *out, size_t cap)
{
	size_t need = 0, quote = 0;

	for (size_t i = 0; i < len; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r')
			quote = 1;
	if (!quote) {
		if (len && len <= cap)
			memcpy(out, s, len);
		return len;
	}
#define PUT(c) do { if (need < cap) out[need] = (c); need++; } while (0)
	PUT('"');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			PUT('"');
		PUT(s[i]);
	}
	PUT('"');
#undef PUT
	return need;
}

size_t astro_tlm_fmt_row(int64_t t, const struct astro_tlm_val *v, char *buf,
			 size_t cap)
{
	char head[2 * ASTRO_TLM_TIME_BUF + ASTRO_TLM_NUM_BUF + 4];
	size_t n = astro_tlm_time_fmt_date(t, head), body;

	head[n++] = ',';
	n += astro_tlm_time_fmt_secs(t, head + n);
	head[n++] = ',';
	if (v->type == ASTRO_TLM_STATE) {
		if (n <= cap)
			memcpy(buf, head, n);
		body = astro_tlm_fmt_csv_text(v->text, v->tlen, n <= cap ? buf + n : NULL,
					      n <= cap ? cap - n : 0);
		n += body;
	} else {
		n += v->type == ASTRO_TLM_INT ? astro_tlm_fmt_int(v->i, head + n) :
						astro_tlm_fmt_double(v->f, head + n);
		if (n <= cap)
			memcpy(buf, head, n);
	}
	if (n < cap)
		buf[n] = '\n';
	return n + 1;
}

/*
 * tlm_fmt.c — shortest round-trip numbers and CSV text (see tlm_fmt.h).
 *
 * Hand-written on purpose: glibc's printf has no shortest-round-trip mode,
 * and Debian packages such formatters (Ryu, double-conversion, dragonbox,
 * fmt) only for Rust and C++, none for C.
 */
#include <assert.h>
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

/*
 * The candidates at k decimals, as the scan below tries them: 1 with the
 * text in buf and the integer in *hit, 0 when none works, -1 when k (and
 * every larger k) is past 2^53.
 */
static int try_decimals(double ax, int k, int neg, char *buf, size_t *len, uint64_t *hit)
{
	double scaled = ax * pow10_exact[k], r;

	if (scaled >= 9007199254740992.0)	/* 2^53: n no longer exact */
		return -1;
	r = nearbyint(scaled);
	/*
	 * A hit n has |n - x·10^k| <= x·10^k·2^-53 (the division's rounding)
	 * and scaled is within the same of x·10^k, so |n - scaled| <
	 * scaled·2^-51: further off than twice that, no candidate can
	 * work and three divisions are saved.
	 */
	if (fabs(scaled - r) > scaled * 0x1p-50)
		return 0;
	/* x·10^k is rounded once; the true nearest integer is r or a neighbour. */
	for (int d = 0; d < 3; d++) {
		double n = d == 0 ? r : d == 1 ? r - 1 : r + 1;

		if (n > 0 && n / pow10_exact[k] == ax) {
			*hit = (uint64_t)n;
			*len = put_fixed((uint64_t)n, k, neg, buf);
			return 1;
		}
	}
	return 0;
}

/* Where the scan looks for decimals (NaN and infinities are not); else %g. */
static int plain(double ax)
{
	return ax >= 1e-5 && ax < 1e15;
}

/*
 * Digits below this are a decimal that no other decimal of as few digits
 * rounds to the same double (see num_cache): a hit there needs no scan.
 */
#define UNIQUE_BELOW 100000000000000ULL

/* The shortest decimals: the first k that has a hit; *kk is it (-1: slow). */
static size_t scan(double x, char *buf, int *kk)
{
	double ax = fabs(x);
	int neg = signbit(x) != 0, rc;
	size_t len;
	uint64_t n;

	*kk = -1;
	if (x == 0) {
		memcpy(buf, neg ? "-0" : "0", neg ? 3 : 2);
		return neg ? 2 : 1;
	}
	if (!plain(ax))
		return slow(x, buf);
	for (int k = 0; k <= 22; k++) {
		if ((rc = try_decimals(ax, k, neg, buf, &len, &n)) < 0)
			break;
		if (rc) {
			*kk = k;
			return len;
		}
	}
	return slow(x, buf);
}

size_t astro_tlm_fmt_double_scan(double x, char *buf)
{
	int k;

	return scan(x, buf, &k);
}

/*
 * A column of telemetry repeats its last value and keeps its number of
 * decimals (a 1 Hz hour: 3600 numbers, ~18% of a served range's CPU went
 * to the scan).  Each thread keeps the last number's text, and tries the
 * last number's decimals k first.  A hit n there is the scan's answer when
 * no smaller k has one: a hit m at j < k would be the decimal m·10^(k-j),
 * which ends in 0, while n does not; both below 10^15 they are distinct
 * decimals of at most 15 digits, which never round to the same double
 * (DBL_DIG).  Otherwise the full scan decides.
 */
struct num_cache {
	uint64_t bits;
	int k;				/* decimals of the last hit; -1: none */
	size_t len;			/* 0: bits not cached */
	char txt[ASTRO_TLM_NUM_BUF];
};
static _Thread_local struct num_cache num_cache = {.k = -1};

size_t astro_tlm_fmt_double(double x, char *buf)
{
	struct num_cache *c = &num_cache;
	double ax = fabs(x);
	uint64_t bits, n;
	size_t len;
	int k = c->k;

	memcpy(&bits, &x, sizeof(bits));
	if (c->len && bits == c->bits) {
		/* the fixed size is a few moves, not a call (buf holds NUM_BUF) */
		memcpy(buf, c->txt, sizeof(c->txt));
		return c->len;
	}
	if (k >= 0 && x != 0 && plain(ax) &&
	    try_decimals(ax, k, signbit(x) != 0, buf, &len, &n) > 0 &&
	    n < UNIQUE_BELOW && (k == 0 || n % 10 != 0))
		goto keep;
	len = scan(x, buf, &k);
keep:
	c->bits = bits;
	c->k = k;
	c->len = len;
	memcpy(c->txt, buf, len + 1);
	return len;
}

/*
 * A FLOAT that is the decimal i / 10^k: its shortest text is i's digits
 * with k decimals, less trailing zeros, without the search for k.  The
 * scan would find the same (the argument at num_cache: below 10^14 two
 * distinct decimals never round to one double), and outside the scan's
 * fast domain the scan itself decides.
 */
static size_t fmt_decimal(const struct astro_tlm_val *v, char *buf)
{
	int64_t n = v->i;
	int k = v->dec - 1;
	double ax = fabs(v->f);
	uint64_t mag;

	if (n == 0 || !plain(ax))
		return astro_tlm_fmt_double(v->f, buf);
	mag = n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n;
	while (k > 0 && mag % 10 == 0) {
		mag /= 10;
		k--;
	}
	if (mag >= UNIQUE_BELOW)
		return astro_tlm_fmt_double(v->f, buf);
	return put_fixed(mag, k, n < 0, buf);
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

/*
 * Rows come time-ascending, a day of them after another: each thread keeps
 * the last UTC day's "YYYY:DDD:" with its TT span, and the last whole CXC
 * second's text, so a typical row needs no calendar conversion and no
 * division per digit (the benchmark's 1 Hz year: ~40% of a read's CPU went
 * there).  A day holding a leap second, a time before 1998 or any row the
 * caches do not cover takes tlm_time's formatters, which define the text.
 */
struct row_cache {
	int64_t day_t0, day_t1;		/* [t0, t1) of the cached day; empty at first */
	char day[12];			/* "YYYY:DDD:" */
	uint64_t whole;			/* last whole seconds, valid if wlen */
	char wtxt[24];
	size_t wlen;
};
static _Thread_local struct row_cache row_cache;

static void put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

/* "YYYY:DDD:hh:mm:ss.sss" as astro_tlm_time_fmt_date writes it. */
static size_t put_date(int64_t t, char *p)
{
	struct row_cache *c = &row_cache;
	int64_t dn, a, b;
	uint64_t sod;
	unsigned ms;
	size_t n;

	if (t < c->day_t0 || t >= c->day_t1) {
		n = astro_tlm_time_fmt_date(t, p);
		/* cache only plain 86400 s days (a leap second makes 86401) */
		if (n != 21 || astro_tlm_time_utc_day(t, &dn) || astro_tlm_time_day_start(dn, &a) ||
		    astro_tlm_time_day_start(dn + 1, &b) || b - a != 86400 * ASTRO_TLM_US || t < a || t >= b)
			return n;
		memcpy(c->day, p, 9);
		c->day_t0 = a;
		c->day_t1 = b;
		return n;
	}
	sod = (uint64_t)(t - c->day_t0);
	ms = (unsigned)(sod % ASTRO_TLM_US / 1000);
	sod /= ASTRO_TLM_US;
	memcpy(p, c->day, 9);
	put2(p + 9, (unsigned)(sod / 3600));
	p[11] = ':';
	put2(p + 12, (unsigned)(sod / 60 % 60));
	p[14] = ':';
	put2(p + 15, (unsigned)(sod % 60));
	p[17] = '.';
	p[18] = (char)('0' + ms / 100);
	put2(p + 19, ms % 100);
	p[21] = '\0';
	return 21;
}

/* CXC seconds as astro_tlm_time_fmt_secs writes them (shortest exact decimal). */
static size_t put_secs(int64_t t, char *p)
{
	struct row_cache *c = &row_cache;
	uint64_t whole;
	unsigned frac;
	size_t n, i;
	int k = 6;

	if (t < 0)
		return astro_tlm_time_fmt_secs(t, p);
	whole = (uint64_t)t / ASTRO_TLM_US;
	frac = (unsigned)((uint64_t)t % ASTRO_TLM_US);
	/*
	 * Fixed-size copies (p has ASTRO_TLM_TIME_BUF bytes) are a few moves;
	 * the text is copied before a one-second count-up changes it, so the
	 * copy never reads bytes stored a moment ago (a stalled load: a
	 * quarter of a row's time), and the count-up goes to both.
	 */
	memcpy(p, c->wtxt, sizeof(c->wtxt));
	if (!c->wlen || whole != c->whole) {
		i = 0;
		if (c->wlen && whole == c->whole + 1) {
			for (i = c->wlen; i > 0; i--) {
				if (p[i - 1] != '9') {
					c->wtxt[i - 1] = ++p[i - 1];
					break;
				}
				p[i - 1] = c->wtxt[i - 1] = '0';
			}
		}
		if (i == 0) {	/* anything but one second on, or a carry out: anew */
			c->wlen = astro_tlm_fmt_int((int64_t)whole, c->wtxt);
			memcpy(p, c->wtxt, sizeof(c->wtxt));
		}
		c->whole = whole;
	}
	n = c->wlen;
	if (frac) {
		while (frac % 10 == 0) {
			frac /= 10;
			k--;
		}
		p[n++] = '.';
		for (i = (size_t)k; i > 0; i--, frac /= 10)
			p[n + i - 1] = (char)('0' + frac % 10);
		n += (size_t)k;
	}
	p[n] = '\0';
	return n;
}

size_t astro_tlm_fmt_row(int64_t t, const struct astro_tlm_val *v, char *buf,
			 size_t cap)
{
	char head[2 * ASTRO_TLM_TIME_BUF + ASTRO_TLM_NUM_BUF + 4];
	/* straight into buf when it has the room for the longest row head */
	char *o = buf && cap >= ASTRO_TLM_ROW_ROOM ? buf : head;

	static_assert(ASTRO_TLM_ROW_ROOM >= sizeof(head) + 1, "ROW_ROOM holds a row head");
	static_assert(ASTRO_TLM_TIME_BUF == 40, "ROW_ROOM counts two 40-byte times");
	size_t n = put_date(t, o), body;

	o[n++] = ',';
	n += put_secs(t, o + n);
	o[n++] = ',';
	if (v->type == ASTRO_TLM_STATE) {
		if (o == head && n <= cap)
			memcpy(buf, head, n);
		body = astro_tlm_fmt_csv_text(v->text, v->tlen, n <= cap ? buf + n : NULL,
					      n <= cap ? cap - n : 0);
		n += body;
	} else {
		n += v->type == ASTRO_TLM_INT ? astro_tlm_fmt_int(v->i, o + n) :
		     v->dec			  ? fmt_decimal(v, o + n) :
						    astro_tlm_fmt_double(v->f, o + n);
		if (o == head && n <= cap)
			memcpy(buf, head, n);
	}
	if (n < cap)
		buf[n] = '\n';
	return n + 1;
}

/* tlm_time.c — CXC seconds, UTC with leap seconds, telemetry time text (see tlm_time.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/astro.h"
#include "services/timescale.h"
#include "tlm_time.h"

#define US ASTRO_TLM_US
#define DAY_US (86400LL * US)
/* Unix µs of 1998-01-01T00:00:00 minus TT-TAI (32.184 s): t = unix_us + (TAI-UTC)·1e6 − K. */
#define K_US 883612767816000LL

static const short cum_days[2][13] = {
	{0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365},
	{0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335, 366},
};

static int is_leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int64_t floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (years >= 1). */
static int64_t days_from_ymd(int y, int m, int d)
{
	int64_t yy = y - 1;
	int64_t days = yy * 365 + yy / 4 - yy / 100 + yy / 400;

	days += cum_days[is_leap_year(y)][m - 1] + d - 1;
	return days - 719162;	/* days from 0001-01-01 to 1970-01-01 */
}

static void ymd_from_days(int64_t days, int *y, int *m, int *d, int *doy)
{
	/* Estimate the year, then correct: at most a step or two. */
	int yr = (int)(1970 + floordiv(days * 400, 146097));
	int64_t start;
	int lp, mo;

	while ((start = days_from_ymd(yr, 1, 1)) > days)
		yr--;
	while (days_from_ymd(yr + 1, 1, 1) <= days)
		yr++;
	start = days_from_ymd(yr, 1, 1);
	lp = is_leap_year(yr);
	*doy = (int)(days - start) + 1;
	for (mo = 1; mo < 12 && cum_days[lp][mo] < *doy; mo++)
		;
	*y = yr;
	*m = mo;
	*d = *doy - cum_days[lp][mo - 1];
}

/*
 * The leap-second table (services/timescale: ERFA's, or a newer
 * leap-seconds.list) as unix days.  The rows stay put once loaded.
 */
struct leaps {
	const struct astro_timescale_leap *row;
	int n;
};

static struct leaps leaps(void)
{
	struct leaps l;

	l.n = (int)astro_timescale_leaps(&l.row);
	return l;
}

#define MJD_UNIX 40587	/* MJD of 1970-01-01 */

static int64_t leap_day(const struct leaps *l, int i)
{
	return l->row[i].mjd - MJD_UNIX;
}

static int64_t tai_utc(const struct leaps *l, int i)
{
	return l->row[i].tai_utc;
}

/* Index of the table row in force on unix day `day`, or -1 before 1972. */
static int leap_index_for_day(const struct leaps *l, int64_t day)
{
	int i;

	for (i = l->n - 1; i >= 0; i--)
		if (leap_day(l, i) <= day)
			return i;
	return -1;
}

static const int64_t day_1972 = 730;		/* 1972-01-01 */
static const int64_t day_10000 = 2932897;	/* 10000-01-01 */

int astro_tlm_time_from_utc(const struct astro_tlm_utc *u, int64_t *t)
{
	struct leaps l = leaps();
	int64_t day;
	int i, lp;

	if (u->year < 1972 || u->year > 9999)
		return -ERANGE;
	lp = is_leap_year(u->year);
	if (u->doy > 0) {
		if (u->doy > 365 + lp)
			return -EINVAL;
		day = days_from_ymd(u->year, 1, 1) + u->doy - 1;
	} else {
		if (u->month < 1 || u->month > 12 || u->mday < 1 ||
		    u->mday > cum_days[lp][u->month] - cum_days[lp][u->month - 1])
			return -EINVAL;
		day = days_from_ymd(u->year, u->month, u->mday);
	}
	if (u->hour < 0 || u->hour > 23 || u->min < 0 || u->min > 59 ||
	    u->sec < 0 || u->sec > 60 || u->usec < 0 || u->usec >= US)
		return -EINVAL;
	i = leap_index_for_day(&l, day);
	if (i < 0)
		return -ERANGE;
	/* :60 exists only where the next day's TAI-UTC is one more. */
	if (u->sec == 60 && !(u->hour == 23 && u->min == 59 && i + 1 < l.n &&
			      leap_day(&l, i + 1) == day + 1 &&
			      tai_utc(&l, i + 1) == tai_utc(&l, i) + 1))
		return -EINVAL;
	*t = (day * 86400 + u->hour * 3600 + u->min * 60 + u->sec) * US +
	     u->usec + tai_utc(&l, i) * US - K_US;
	return 0;
}

/* The row whose TT span holds t, and the leap-free unix µs under it. */
static int split(const struct leaps *l, int64_t t, int *row, int64_t *unix_us)
{
	int i;

	for (i = l->n - 1; i >= 0; i--)
		if (leap_day(l, i) * DAY_US + tai_utc(l, i) * US - K_US <= t)
			break;
	if (i < 0)
		return -ERANGE;
	*row = i;
	*unix_us = t - tai_utc(l, i) * US + K_US;
	return 0;
}

int astro_tlm_time_to_utc(int64_t t, struct astro_tlm_utc *u)
{
	struct leaps l = leaps();
	int64_t unix_us, day, sod;
	int i, rc;

	if ((rc = split(&l, t, &i, &unix_us)) < 0)
		return rc;
	memset(u, 0, sizeof(*u));
	if (i + 1 < l.n && unix_us >= leap_day(&l, i + 1) * DAY_US) {
		/* Inside the inserted second: label it 23:59:60 of the day before. */
		day = leap_day(&l, i + 1) - 1;
		ymd_from_days(day, &u->year, &u->month, &u->mday, &u->doy);
		u->hour = 23;
		u->min = 59;
		u->sec = 60;
		u->usec = (int)(unix_us - leap_day(&l, i + 1) * DAY_US);
		return 0;
	}
	day = floordiv(unix_us, DAY_US);
	if (day >= day_10000)
		return -ERANGE;
	ymd_from_days(day, &u->year, &u->month, &u->mday, &u->doy);
	sod = unix_us - day * DAY_US;
	u->usec = (int)(sod % US);
	sod /= US;
	u->hour = (int)(sod / 3600);
	u->min = (int)(sod / 60 % 60);
	u->sec = (int)(sod % 60);
	return 0;
}

int astro_tlm_time_utc_day(int64_t t, int64_t *day)
{
	struct astro_tlm_utc u;
	int rc = astro_tlm_time_to_utc(t, &u);

	if (rc == 0)
		*day = days_from_ymd(u.year, 1, 1) + u.doy - 1;
	return rc;
}

int astro_tlm_time_day_start(int64_t day, int64_t *t)
{
	struct astro_tlm_utc u = {0};

	if (day < day_1972 || day >= day_10000)
		return -ERANGE;
	ymd_from_days(day, &u.year, &u.month, &u.mday, &u.doy);
	return astro_tlm_time_from_utc(&u, t);
}

int astro_tlm_time_from_unix_ms(int64_t ms, int64_t *t)
{
	struct leaps l = leaps();
	int64_t day;
	int i;

	if (ms < day_1972 * 86400000LL || ms >= day_10000 * 86400000LL)
		return -ERANGE;
	day = floordiv(ms, 86400000LL);
	i = leap_index_for_day(&l, day);
	if (i < 0)
		return -ERANGE;
	*t = ms * 1000 + tai_utc(&l, i) * US - K_US;
	return 0;
}

int astro_tlm_time_to_unix_ms(int64_t t, int64_t *ms)
{
	struct leaps l = leaps();
	int64_t unix_us;
	int i, rc;

	if ((rc = split(&l, t, &i, &unix_us)) < 0)
		return rc;
	if (i + 1 < l.n && unix_us >= leap_day(&l, i + 1) * DAY_US)
		unix_us = leap_day(&l, i + 1) * DAY_US;
	*ms = floordiv(unix_us, 1000);
	return 0;
}

int astro_tlm_time_from_secs(double secs, int64_t *t)
{
	double whole, frac;

	if (!isfinite(secs) || fabs(secs) > 9e11)
		return -ERANGE;
	/* Split so the fraction is scaled exactly; secs*1e6 alone would round twice. */
	whole = floor(secs);
	frac = secs - whole;
	*t = (int64_t)whole * US + llround(frac * 1e6);
	return 0;
}

double astro_tlm_time_to_secs(int64_t t)
{
	int64_t w = floordiv(t, US);

	return (double)w + (double)(t - w * US) / 1e6;
}

/* ---- parsing ---- */

/* The words through astro_err_set; the macro only adds the return. */
#define FAIL(...) return astro_err_set(err, errlen, -EINVAL, __VA_ARGS__)

/* Exactly n digits at *p (advancing); -1 if not. */
static int digits(const char **p, const char *end, int n)
{
	int v = 0;

	if (end - *p < n)
		return -1;
	for (int k = 0; k < n; k++) {
		unsigned c = (unsigned char)(*p)[k] - '0';

		if (c > 9)
			return -1;
		v = v * 10 + (int)c;
	}
	*p += n;
	return v;
}

/* ".f…" → µs rounded to nearest (may be US after rounding); -1 if malformed. */
static int64_t fraction(const char **p, const char *end)
{
	int64_t us = 0;
	int n = 0;
	const char *q = *p + 1;

	if (*p >= end || **p != '.')
		return 0;
	for (; q < end && *q >= '0' && *q <= '9'; q++, n++) {
		if (n < 6)
			us = us * 10 + (*q - '0');
		else if (n == 6 && *q >= '5')
			us++;
	}
	if (n == 0)
		return -1;
	for (; n < 6; n++)
		us *= 10;
	*p = q;
	return us;
}

static int finish(struct astro_tlm_utc *u, int64_t frac, int64_t *t,
		  char *err, size_t errlen)
{
	int rc = astro_tlm_time_from_utc(u, t);

	if (rc == -ERANGE)
		return astro_err_set(err, errlen, rc, "year outside 1972..9999");
	if (rc < 0)
		FAIL("field out of range");
	*t += frac;
	return 0;
}

/* ":hh[:mm[:ss[.f]]]" or with sep1 'T'/' ' for ISO (then mm is required). */
static int clock_part(const char **p, const char *end, struct astro_tlm_utc *u,
		      int64_t *frac, int need_min)
{
	if ((u->hour = digits(p, end, 2)) < 0)
		return -1;
	if (*p >= end || **p != ':')
		return need_min ? -1 : 0;
	(*p)++;
	if ((u->min = digits(p, end, 2)) < 0)
		return -1;
	if (*p >= end || **p != ':')
		return 0;
	(*p)++;
	if ((u->sec = digits(p, end, 2)) < 0)
		return -1;
	if ((*frac = fraction(p, end)) < 0)
		return -1;
	return 0;
}

int astro_tlm_time_parse_date(const char *s, size_t len, int64_t *t,
			      char *err, size_t errlen)
{
	const char *p = s, *end = s + len;
	struct astro_tlm_utc u = {0};
	int64_t frac = 0;

	if ((u.year = digits(&p, end, 4)) < 0 || p >= end || *p++ != ':' ||
	    (u.doy = digits(&p, end, 3)) < 0)
		FAIL("expected YYYY:DDD");
	if (u.doy == 0)
		FAIL("day of year 000");
	if (p < end) {
		if (*p++ != ':' || clock_part(&p, end, &u, &frac, 0) < 0)
			FAIL("expected YYYY:DDD:hh:mm:ss[.sss]");
		if (p != end)
			FAIL("trailing characters after the time");
	}
	return finish(&u, frac, t, err, errlen);
}

int astro_tlm_time_parse_iso(const char *s, size_t len, int64_t *t,
			     char *err, size_t errlen)
{
	const char *p = s, *end = s + len;
	struct astro_tlm_utc u = {0};
	int64_t frac = 0;

	if ((u.year = digits(&p, end, 4)) < 0 || p >= end || *p++ != '-' ||
	    (u.month = digits(&p, end, 2)) < 0 || p >= end || *p++ != '-' ||
	    (u.mday = digits(&p, end, 2)) < 0)
		FAIL("expected YYYY-MM-DD");
	if (p < end && (*p == 'T' || *p == ' ')) {
		p++;
		if (clock_part(&p, end, &u, &frac, 1) < 0)
			FAIL("expected hh:mm[:ss[.f]] after the date");
	}
	/* Only UTC: a zone that is not zero would silently shift samples. */
	if (p < end && *p == 'Z')
		p++;
	else if (end - p == 6 && (!memcmp(p, "+00:00", 6) || !memcmp(p, "-00:00", 6)))
		p += 6;
	else if (end - p == 5 && (!memcmp(p, "+0000", 5) || !memcmp(p, "-0000", 5)))
		p += 5;
	if (p != end)
		FAIL("trailing characters (only UTC, 'Z' or +00:00, is accepted)");
	return finish(&u, frac, t, err, errlen);
}

/* Optional sign then 1..18 digits; -1 if malformed. */
static int integer(const char **p, const char *end, int64_t *v)
{
	int neg = 0, n = 0;
	int64_t x = 0;

	if (*p < end && (**p == '-' || **p == '+'))
		neg = *(*p)++ == '-';
	for (; *p < end && **p >= '0' && **p <= '9' && n < 19; (*p)++, n++)
		x = x * 10 + (**p - '0');
	if (n == 0 || n > 18)
		return -1;
	*v = neg ? -x : x;
	return 0;
}

static int from_ms_checked(int64_t ms, int64_t *t, char *err, size_t errlen)
{
	int rc = astro_tlm_time_from_unix_ms(ms, t);

	if (rc < 0)
		astro_err_set(err, errlen, rc, "unix time outside 1972..9999");
	return rc;
}

int astro_tlm_time_parse_jwst(const char *s, size_t len, int64_t *t,
			      char *err, size_t errlen)
{
	const char *p = s, *end = s + len;
	int64_t ms;

	if (len < 8 || memcmp(s, "/Date(", 6) != 0)
		FAIL("expected /Date(<unix ms>+0000)/");
	p += 6;
	if (integer(&p, end, &ms) < 0)
		FAIL("expected milliseconds in /Date(...)/");
	/* .NET JSON dates carry UTC ms; a trailing zone is informational only. */
	if (p < end && (*p == '+' || *p == '-')) {
		p++;
		if (digits(&p, end, 4) < 0)
			FAIL("bad zone in /Date(...)/");
	}
	if (end - p != 2 || p[0] != ')' || p[1] != '/')
		FAIL("expected )/ at the end of /Date(...)/");
	return from_ms_checked(ms, t, err, errlen);
}

int astro_tlm_time_parse_secs(const char *s, size_t len, int64_t *t,
			      char *err, size_t errlen)
{
	char buf[64], *e;
	double v;
	int rc;

	if (len == 0 || len >= sizeof(buf))
		FAIL("expected CXC seconds");
	memcpy(buf, s, len);
	buf[len] = '\0';
	/* strtod takes hex, inf, nan and leading blanks; a time needs none. */
	for (size_t k = 0; k < len; k++)
		if (!strchr("0123456789.+-eE", buf[k]))
			FAIL("expected CXC seconds");
	errno = 0;
	v = strtod(buf, &e);
	if (e != buf + len || errno)
		FAIL("expected CXC seconds");
	if ((rc = astro_tlm_time_from_secs(v, t)) < 0)
		astro_err_set(err, errlen, rc, "CXC seconds out of range");
	return rc;
}

int astro_tlm_time_parse(const char *s, size_t len, int64_t *t, char *err,
			 size_t errlen)
{
	if (len > 5 && !memcmp(s, "secs:", 5))
		return astro_tlm_time_parse_secs(s + 5, len - 5, t, err, errlen);
	if (len > 5 && !memcmp(s, "unix:", 5)) {
		const char *p = s + 5;
		int64_t ms;

		if (integer(&p, s + len, &ms) < 0 || p != s + len)
			FAIL("expected unix:<milliseconds>");
		return from_ms_checked(ms, t, err, errlen);
	}
	if (len >= 6 && !memcmp(s, "/Date(", 6))
		return astro_tlm_time_parse_jwst(s, len, t, err, errlen);
	if (len >= 5 && s[4] == ':')
		return astro_tlm_time_parse_date(s, len, t, err, errlen);
	if (len >= 5 && s[4] == '-')
		return astro_tlm_time_parse_iso(s, len, t, err, errlen);
	FAIL("unrecognised time (want YYYY:DDD:hh:mm:ss.sss, ISO 8601 UTC, secs:N or unix:MS)");
}

/* ---- formatting ---- */

static char *put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
	return p + 2;
}

static char *put_n(char *p, int v, int n)
{
	for (int k = n - 1; k >= 0; k--, v /= 10)
		p[k] = (char)('0' + v % 10);
	return p + n;
}

static size_t bad(char *buf)
{
	buf[0] = '?';
	buf[1] = '\0';
	return 1;
}

size_t astro_tlm_time_fmt_date(int64_t t, char *buf)
{
	struct astro_tlm_utc u;
	char *p = buf;

	if (astro_tlm_time_to_utc(t, &u) < 0)
		return bad(buf);
	p = put_n(p, u.year, 4);
	*p++ = ':';
	p = put_n(p, u.doy, 3);
	*p++ = ':';
	p = put2(p, u.hour);
	*p++ = ':';
	p = put2(p, u.min);
	*p++ = ':';
	p = put2(p, u.sec);
	*p++ = '.';
	p = put_n(p, u.usec / 1000, 3);
	*p = '\0';
	return (size_t)(p - buf);
}

size_t astro_tlm_time_fmt_iso(int64_t t, int ndig, char *buf)
{
	struct astro_tlm_utc u;
	char *p = buf;

	if (astro_tlm_time_to_utc(t, &u) < 0)
		return bad(buf);
	if (ndig < 0)
		ndig = 0;
	if (ndig > 6)
		ndig = 6;
	p = put_n(p, u.year, 4);
	*p++ = '-';
	p = put2(p, u.month);
	*p++ = '-';
	p = put2(p, u.mday);
	*p++ = 'T';
	p = put2(p, u.hour);
	*p++ = ':';
	p = put2(p, u.min);
	*p++ = ':';
	p = put2(p, u.sec);
	if (ndig > 0) {
		int v = u.usec;

		for (int k = ndig; k < 6; k++)
			v /= 10;
		*p++ = '.';
		p = put_n(p, v, ndig);
	}
	*p++ = 'Z';
	*p = '\0';
	return (size_t)(p - buf);
}

size_t astro_tlm_time_fmt_secs(int64_t t, char *buf)
{
	uint64_t mag = t < 0 ? (uint64_t)0 - (uint64_t)t : (uint64_t)t;
	uint64_t whole = mag / US;
	unsigned frac = (unsigned)(mag % US);
	char tmp[24], *p = buf;
	int n = 0;

	if (t < 0)
		*p++ = '-';
	do {
		tmp[n++] = (char)('0' + whole % 10);
		whole /= 10;
	} while (whole);
	while (n)
		*p++ = tmp[--n];
	if (frac) {
		int k = 6;

		while (frac % 10 == 0) {
			frac /= 10;
			k--;
		}
		*p++ = '.';
		p = put_n(p, (int)frac, k);
	}
	*p = '\0';
	return (size_t)(p - buf);
}

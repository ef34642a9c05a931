/* tle.c — see tle.h.  Lines are validated, never rewritten. */
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/astro.h"
#include "services/tle.h"

#define US_PER_DAY 86400000000LL

long astro_tle_catnum(const char *f)
{
	long v = 0;
	int i = 0;
	int c = (unsigned char)f[0];

	if (c >= 'A' && c <= 'Z') {
		/* Alpha-5: I and O are skipped so they cannot be read as 1 and 0. */
		if (c == 'I' || c == 'O')
			return -1;
		v = c - 'A' + 10 - (c > 'I') - (c > 'O');
		i = 1;
	} else {
		/* Older lines pad small numbers with spaces: "    5". */
		while (i < 4 && f[i] == ' ')
			i++;
	}
	for (; i < 5; i++) {
		if (f[i] < '0' || f[i] > '9')
			return -1;
		v = v * 10 + (f[i] - '0');
	}
	return v;
}

int astro_tle_checksum(const char *line)
{
	int sum = 0;

	for (int i = 0; i < 68; i++) {
		if (line[i] >= '0' && line[i] <= '9')
			sum += line[i] - '0';
		else if (line[i] == '-')
			sum += 1;
	}
	return sum % 10;
}


/*
 * Epoch field, columns 19-32: "YYDDD.DDDDDDDD".  Kept in integers: 1e-8 day
 * is exactly 864 microseconds, so midnight comparisons are exact.
 */
static int parse_epoch(const char *l, int *year, long *day, long *frac8)
{
	int yy;
	long d = 0, f = 0;
	int i, nfrac = 0;

	if (l[18] < '0' || l[18] > '9' || l[19] < '0' || l[19] > '9')
		return -1;
	yy = (l[18] - '0') * 10 + (l[19] - '0');
	*year = yy < 57 ? 2000 + yy : 1900 + yy;
	for (i = 20; i < 23; i++) {
		/* Some generators pad the day with spaces. */
		if (l[i] == ' ' && d == 0)
			continue;
		if (l[i] < '0' || l[i] > '9')
			return -1;
		d = d * 10 + (l[i] - '0');
	}
	if (l[23] != '.')
		return -1;
	for (i = 24; i < 32; i++) {
		if (l[i] == ' ' && nfrac > 0)
			break;
		if (l[i] < '0' || l[i] > '9')
			return -1;
		f = f * 10 + (l[i] - '0');
		nfrac++;
	}
	for (; nfrac < 8; nfrac++)
		f *= 10;
	/* Day 0.x is real (31 Dec of the previous year); 367 is not. */
	if (d > 366)
		return -1;
	*day = d;
	*frac8 = f;
	return 0;
}

int astro_tle_epoch_us(const char *l1, int64_t *unix_us)
{
	int year;
	long day, frac8;

	if (parse_epoch(l1, &year, &day, &frac8) != 0)
		return -EINVAL;
	*unix_us = (int64_t)astro_days_from_civil(year, 1, 1) * US_PER_DAY +
		   (int64_t)(day - 1) * US_PER_DAY + (int64_t)frac8 * 864;
	return 0;
}

int astro_tle_check_line(const char *line, size_t len, int which,
			 unsigned flags, char *err, size_t errlen)
{
	size_t i;
	int year;
	long day, frac8;

	if (len != 69 && !(len == 68 && (flags & ASTRO_TLE_ALLOW_68)))
		return astro_err_set(err, errlen, -EINVAL,
				     "line %d is %zu characters long, expected 69",
				     which, len);
	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e)
			return astro_err_set(err, errlen, -EINVAL,
					     "line %d: column %zu: byte 0x%02x is not printable ASCII",
					     which, i + 1, (unsigned char)line[i]);
	if (line[0] != '0' + which || line[1] != ' ')
		return astro_err_set(err, errlen, -EINVAL,
				     "line %d does not start with \"%d \"", which, which);
	if (astro_tle_catnum(line + 2) < 0)
		return astro_err_set(err, errlen, -EINVAL,
				     "line %d: columns 3-7: bad catalogue number \"%.5s\"",
				     which, line + 2);
	if (which == 1 && parse_epoch(line, &year, &day, &frac8) != 0)
		return astro_err_set(err, errlen, -EINVAL,
				     "line 1: columns 19-32: bad epoch \"%.14s\"", line + 18);
	if (len == 69 && !(flags & ASTRO_TLE_NO_CHECKSUM)) {
		if (line[68] < '0' || line[68] > '9')
			return astro_err_set(err, errlen, -EINVAL,
					     "line %d: column 69: checksum '%c' is not a digit",
					     which, line[68]);
		if (line[68] - '0' != astro_tle_checksum(line))
			return astro_err_set(err, errlen, -EINVAL,
					     "line %d: checksum is %c, columns 1-68 give %d",
					     which, line[68], astro_tle_checksum(line));
	}
	return 0;
}

int astro_tle_check_pair(const char *l1, size_t len1, const char *l2,
			 size_t len2, unsigned flags, char *err, size_t errlen)
{
	int rc;

	rc = astro_tle_check_line(l1, len1, 1, flags, err, errlen);
	if (rc == 0)
		rc = astro_tle_check_line(l2, len2, 2, flags, err, errlen);
	if (rc == 0 && memcmp(l1 + 2, l2 + 2, 5) != 0)
		rc = astro_err_set(err, errlen, -EINVAL,
				   "catalogue numbers differ: \"%.5s\" on line 1, \"%.5s\" on line 2",
				   l1 + 2, l2 + 2);
	return rc;
}

/* Copy columns [a, b] (1-based, inclusive) into buf, NUL-terminated. */
static void cols(const char *l, size_t len, int a, int b, char *buf)
{
	int n = 0;

	for (int i = a - 1; i < b && (size_t)i < len; i++)
		buf[n++] = l[i];
	buf[n] = '\0';
}

static int num(const char *l, size_t len, int a, int b, double *out)
{
	char buf[32], *end;
	const char *p = buf;

	cols(l, len, a, b, buf);
	while (*p == ' ')
		p++;
	if (*p == '\0')
		return -1;
	errno = 0;
	*out = strtod(p, &end);
	while (*end == ' ')
		end++;
	return (*end != '\0' || errno != 0 || !isfinite(*out)) ? -1 : 0;
}

/* "±NNNNN±E": mantissa with an implied leading decimal point. */
static int implied(const char *l, size_t len, int a, double *out)
{
	char f[9];
	double m = 0;
	int i, sign = 1, e;

	cols(l, len, a, a + 7, f);
	if (strlen(f) != 8)
		return -1;
	if (f[0] == '-')
		sign = -1;
	else if (f[0] != ' ' && f[0] != '+')
		return -1;
	for (i = 1; i <= 5; i++) {
		if (f[i] == ' ')
			f[i] = '0';
		if (f[i] < '0' || f[i] > '9')
			return -1;
		m = m * 10 + (f[i] - '0');
	}
	if ((f[6] != '-' && f[6] != '+' && f[6] != ' ') || f[7] < '0' || f[7] > '9')
		return -1;
	e = f[7] - '0';
	if (f[6] == '-')
		e = -e;
	*out = sign * m * 1e-5 * pow(10.0, e);
	return 0;
}

int astro_tle_parse_elements(const char *l1, size_t len1, const char *l2,
			     size_t len2, struct astro_tle_elements *el,
			     char *err, size_t errlen)
{
	char buf[16];
	double v;
	long day, frac8;
	int rc;

	rc = astro_tle_check_pair(l1, len1, l2, len2, ASTRO_TLE_ALLOW_68, err, errlen);
	if (rc)
		return rc;
	memset(el, 0, sizeof(*el));
	el->catnum = astro_tle_catnum(l1 + 2);
	el->classification = l1[7];
	cols(l1, len1, 10, 17, buf);
	for (int i = (int)strlen(buf) - 1; i >= 0 && buf[i] == ' '; i--)
		buf[i] = '\0';
	astro_strlcpy(el->intldesg, buf[0] == ' ' ? buf + strspn(buf, " ") : buf,
		      sizeof(el->intldesg));
	parse_epoch(l1, &el->epoch_year, &day, &frac8);
	el->epoch_days = (double)day + (double)frac8 * 1e-8;
	/* Julian date of 0h on Jan 1, minus one day, plus the day count. */
	el->jdsatepoch = 2440587.5 + astro_days_from_civil(el->epoch_year, 1, 1) + (double)day - 1.0;
	el->jdsatepochF = (double)frac8 * 1e-8;

	if (num(l1, len1, 34, 43, &el->ndot))
		return astro_err_set(err, errlen, -EINVAL,
				     "line 1: columns 34-43: bad first derivative of mean motion");
	if (implied(l1, len1, 45, &el->nddot))
		return astro_err_set(err, errlen, -EINVAL,
				     "line 1: columns 45-52: bad second derivative of mean motion");
	if (implied(l1, len1, 54, &el->bstar))
		return astro_err_set(err, errlen, -EINVAL, "line 1: columns 54-61: bad BSTAR");
	if (num(l1, len1, 65, 68, &v))
		v = 0;	/* element number is informational; bundles leave it odd */
	el->elnum = (long)v;

	if (num(l2, len2, 9, 16, &el->inclo_deg))
		return astro_err_set(err, errlen, -EINVAL, "line 2: columns 9-16: bad inclination");
	if (num(l2, len2, 18, 25, &el->nodeo_deg))
		return astro_err_set(err, errlen, -EINVAL,
				     "line 2: columns 18-25: bad right ascension of node");
	cols(l2, len2, 27, 33, buf);
	for (int i = 0; buf[i]; i++) {
		if (buf[i] == ' ')
			buf[i] = '0';
		else if (buf[i] < '0' || buf[i] > '9')
			return astro_err_set(err, errlen, -EINVAL,
					     "line 2: columns 27-33: bad eccentricity");
	}
	el->ecco = strtod(buf, NULL) * 1e-7;
	if (num(l2, len2, 35, 42, &el->argpo_deg))
		return astro_err_set(err, errlen, -EINVAL,
				     "line 2: columns 35-42: bad argument of perigee");
	if (num(l2, len2, 44, 51, &el->mo_deg))
		return astro_err_set(err, errlen, -EINVAL,
				     "line 2: columns 44-51: bad mean anomaly");
	if (num(l2, len2, 53, 63, &el->no_revs_per_day))
		return astro_err_set(err, errlen, -EINVAL,
				     "line 2: columns 53-63: bad mean motion");
	if (num(l2, len2, 64, 68, &v))
		v = 0;
	el->revnum = (long)v;
	return 0;
}

int astro_tle_set_order(const void *a, const void *b)
{
	const struct astro_tle_set *x = a, *y = b;

	if (x->catnum != y->catnum)
		return x->catnum < y->catnum ? -1 : 1;
	if (x->epoch_us != y->epoch_us)
		return x->epoch_us < y->epoch_us ? -1 : 1;
	return (x->l1_off > y->l1_off) - (x->l1_off < y->l1_off);
}

int astro_tle_parse_body(const char *body, size_t len, unsigned flags,
			 struct astro_tle_set **sets_out, size_t *nsets_out,
			 char *err, size_t errlen)
{
	struct astro_tle_set *sets = NULL, cur;
	size_t nsets = 0, cap = 0, pos = 0;
	long lineno = 0;
	int state = 0;	/* 0: expect name or line 1; 1: expect line 1; 2: expect line 2 */
	char msg[160];
	int rc = 0;

	memset(&cur, 0, sizeof(cur));
	cur.name_off = -1;
	while (pos < len) {
		const char *l = body + pos;
		const char *nl = memchr(l, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - l) : len - pos;

		pos += ll + (nl ? 1 : 0);
		lineno++;
		if (ll > 0 && l[ll - 1] == '\r')
			ll--;
		if (ll == 0)
			continue;
		if ((flags & ASTRO_TLE_SKIP_COMMENTS) && l[0] == '#')
			continue;
		if (state == 2) {
			int bad = astro_tle_check_line(l, ll, 2, flags, msg, sizeof(msg));

			if (!bad && memcmp(body + cur.l1_off + 2, l + 2, 5) != 0) {
				snprintf(msg, sizeof(msg), "catalogue number \"%.5s\" differs from line 1's \"%.5s\"",
					 l + 2, body + cur.l1_off + 2);
				bad = 1;
			}
			if (bad) {
				rc = astro_err_set(err, errlen, -EINVAL,
						   "line %ld: %s", lineno, msg);
				goto out;
			}
			cur.l2_off = l - body;
			cur.l2_len = (unsigned)ll;
			if (nsets == cap) {
				size_t ncap = cap ? cap * 2 : 256;
				void *p = realloc(sets, ncap * sizeof(*sets));

				if (!p) {
					rc = -ENOMEM;
					goto out;
				}
				sets = p;
				cap = ncap;
			}
			sets[nsets++] = cur;
			memset(&cur, 0, sizeof(cur));
			cur.name_off = -1;
			state = 0;
			continue;
		}
		if (l[0] == '1' && ll >= 2 && l[1] == ' ') {
			if (astro_tle_check_line(l, ll, 1, flags, msg, sizeof(msg))) {
				rc = astro_err_set(err, errlen, -EINVAL,
						   "line %ld: %s", lineno, msg);
				goto out;
			}
			cur.l1_off = l - body;
			cur.l1_len = (unsigned)ll;
			cur.catnum = astro_tle_catnum(l + 2);
			astro_tle_epoch_us(l, &cur.epoch_us);
			state = 2;
			continue;
		}
		if (state == 0 && l[0] == '0' && (ll == 1 || l[1] == ' ')) {
			if (ll > 80) {
				rc = astro_err_set(err, errlen, -EINVAL,
						   "line %ld: name line is %zu characters long", lineno, ll);
				goto out;
			}
			for (size_t i = 0; i < ll; i++)
				if ((unsigned char)l[i] < 0x20 || (unsigned char)l[i] == 0x7f) {
					rc = astro_err_set(err, errlen, -EINVAL,
							   "line %ld: control byte 0x%02x in name line",
							   lineno, (unsigned char)l[i]);
					goto out;
				}
			cur.name_off = l - body;
			cur.name_len = (unsigned)ll;
			state = 1;
			continue;
		}
		if (l[0] == '2' && ll >= 2 && l[1] == ' ')
			rc = astro_err_set(err, errlen, -EINVAL,
					   "line %ld: line 2 without a line 1 before it", lineno);
		else if (state == 1)
			rc = astro_err_set(err, errlen, -EINVAL,
					   "line %ld: expected line 1 after the name line", lineno);
		else
			rc = astro_err_set(err, errlen, -EINVAL,
					   "line %ld: not a TLE line: \"%.*s%s\"", lineno,
					   (int)(ll < 20 ? ll : 20), l, ll > 20 ? "..." : "");
		/* Never echo control bytes into a log line. */
		for (char *p = err; err && *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
				*p = '?';
		goto out;
	}
	if (state != 0) {
		rc = astro_err_set(err, errlen, -EINVAL,
				   "line %ld: body ends inside an element set", lineno);
		goto out;
	}
	*sets_out = sets;
	*nsets_out = nsets;
	sets = NULL;
out:
	free(sets);
	return rc;
}

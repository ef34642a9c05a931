/* timescale.c — the one leap-second table: ERFA's, or a newer leap-seconds.list (see timescale.h). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <erfa.h>
#include <erfaextra.h>
#include <openssl/evp.h>
#include "core/astro.h"
#include "core/log.h"
#include "services/timescale.h"

#define NTP_MJD 15020		/* MJD of 1900-01-01, the NTP epoch */
#define UNIX_MJD 40587		/* MJD of 1970-01-01 */
#define MJD_1972 41317
#define MJD_10000 2973484	/* 10000-01-01: no row may be later */
#define BUILTIN_VALID_DAYS 180	/* pyerfa's rule for a table without expiry */
#define MAX_FILE (64 * 1024)	/* the 2025 list is 5 KB */

/* ERFA keeps a pointer to the table it is given: it must outlive every call. */
static eraLEAPSECOND merged[64 + ASTRO_TIMESCALE_MAX_ROWS];
static struct astro_timescale_leap rows[64 + ASTRO_TIMESCALE_MAX_ROWS];
static size_t nrows;
static int64_t expires;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int64_t mjd_unix(int64_t mjd)
{
	return (mjd - UNIX_MJD) * 86400;
}

static void ymd(int64_t mjd, int *y, int *m, int *d)
{
	double fd;

	if (eraJd2cal(2400000.5, (double)mjd, y, m, d, &fd))
		*y = *m = *d = 0;
}

/* "1 Jan 2017" style, as the list's own comments write dates. */
static const char *date_str(int64_t unix_s, char *buf, size_t len)
{
	int y, m, d;

	ymd(unix_s / 86400 + UNIX_MJD, &y, &m, &d);
	snprintf(buf, len, "%04d-%02d-%02d", y, m, d);
	return buf;
}

/*
 * Rebuild rows[] and the expiry from ERFA's current table (after a reset
 * to the built-in one, or after eraSetLeapSeconds).  Rows before 1972 are
 * eraDat's drift expressions, not leap seconds: left out.
 */
static int sync_rows(void)
{
	eraLEAPSECOND *t;
	int n = eraGetLeapSeconds(&t);
	double djm0, djm;

	if (n <= 0)
		return -EIO;
	nrows = 0;
	for (int i = 0; i < n && nrows < ASTRO_ARRAY_SIZE(rows); i++) {
		if (t[i].iyear < 1972)
			continue;
		if (eraCal2jd(t[i].iyear, t[i].month, 1, &djm0, &djm))
			return -EIO;
		rows[nrows].mjd = (int32_t)djm;
		rows[nrows].tai_utc = (int32_t)lrint(t[i].delat);
		nrows++;
	}
	return nrows ? 0 : -EIO;
}

static void use_builtin(void)
{
	eraSetLeapSeconds(NULL, 0);
	if (sync_rows() == 0)
		expires = mjd_unix(rows[nrows - 1].mjd + BUILTIN_VALID_DAYS);
}

/* ---- parsing ---- */

struct cursor {
	const char *p, *end;
};

static void skip_blank(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

/* Decimal digits at c->p: their span and value; -1 if none or > 18 digits. */
static int number(struct cursor *c, int64_t *v, const char **s, size_t *n)
{
	int64_t x = 0;
	size_t k = 0;

	*s = c->p;
	while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
		if (++k > 18)
			return -1;
		x = x * 10 + (*c->p++ - '0');
	}
	*n = k;
	*v = x;
	return k ? 0 : -1;
}

/* "#@ n" / "#$ n": one number and nothing else. */
static int special_number(struct cursor *c, int64_t *v, const char **s, size_t *n)
{
	skip_blank(c);
	if (number(c, v, s, n) < 0)
		return -1;
	skip_blank(c);
	return c->p == c->end ? 0 : -1;
}

/* "#h" words: 40 hex digits in five words (words may drop leading zeros). */
static int hash_words(struct cursor *c, unsigned char md[20])
{
	for (int w = 0; w < 5; w++) {
		uint32_t x = 0;
		int k = 0;

		skip_blank(c);
		for (; c->p < c->end && k < 9; c->p++, k++) {
			int ch = *c->p, h;

			if (ch >= '0' && ch <= '9')
				h = ch - '0';
			else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
				h = (ch | 0x20) - 'a' + 10;
			else
				break;
			x = x << 4 | (uint32_t)h;
		}
		if (k == 0 || k > 8)
			return -1;
		for (int b = 0; b < 4; b++)
			md[w * 4 + b] = (unsigned char)(x >> (24 - 8 * b));
	}
	skip_blank(c);
	return c->p == c->end ? 0 : -1;
}

struct hashed {
	char *buf;		/* the text the "#h" SHA-1 covers */
	size_t len;
	const char *upd, *exp;	/* "#$" and "#@" digits, hashed first */
	size_t upd_n, exp_n;
};

static void hash_put(struct hashed *h, const char *s, size_t n)
{
	memcpy(h->buf + h->len, s, n);
	h->len += n;
}

/* One data line: check it against the row before and append it. */
static int data_line(struct cursor *c, size_t line, struct astro_timescale_list *out,
		     struct hashed *h, char *err, size_t errlen)
{
	const char *s1, *s2;
	size_t n1, n2;
	int64_t ntp, dat, mjd;
	int y, m, d;

	if (number(c, &ntp, &s1, &n1) < 0 || (skip_blank(c), number(c, &dat, &s2, &n2)) < 0)
		return astro_err_set(err, errlen, -EINVAL,
				     "line %zu: expected '<NTP seconds> <TAI-UTC>'", line);
	skip_blank(c);
	if (c->p < c->end && *c->p != '#')
		return astro_err_set(err, errlen, -EINVAL,
				     "line %zu: unexpected text after TAI-UTC", line);
	if (ntp % 86400)
		return astro_err_set(err, errlen, -EINVAL,
				     "line %zu: %lld is not a UTC midnight", line,
				     (long long)ntp);
	mjd = ntp / 86400 + NTP_MJD;
	if (mjd >= MJD_10000)
		return astro_err_set(err, errlen, -EINVAL,
				     "line %zu: date after the year 9999", line);
	ymd(mjd, &y, &m, &d);
	if (d != 1)
		return astro_err_set(err, errlen, -EINVAL,
				     "line %zu: %04d-%02d-%02d is not the 1st of a month",
				     line, y, m, d);
	if (out->n == 0 && (mjd != MJD_1972 || dat != 10))
		return astro_err_set(err, errlen, -EINVAL,
				     "line %zu: the first entry must be 1 Jan 1972, 10 s",
				     line);
	if (out->n > 0) {
		const struct astro_timescale_leap *prev = &out->rows[out->n - 1];

		if (mjd <= prev->mjd)
			return astro_err_set(err, errlen, -EINVAL,
					     "line %zu: dates out of order", line);
		if (dat != prev->tai_utc + 1 && dat != prev->tai_utc - 1)
			return astro_err_set(err, errlen, -EINVAL,
					     "line %zu: TAI-UTC steps from %d to %lld s, not by one second",
					     line, prev->tai_utc, (long long)dat);
	}
	if (out->n == ASTRO_TIMESCALE_MAX_ROWS)
		return astro_err_set(err, errlen, -EINVAL, "line %zu: more than %d entries", line,
				     ASTRO_TIMESCALE_MAX_ROWS);
	out->rows[out->n].mjd = (int32_t)mjd;
	out->rows[out->n].tai_utc = (int32_t)dat;
	out->n++;
	hash_put(h, s1, n1);
	hash_put(h, s2, n2);
	return 0;
}

/* The number of a "#@" or "#$" line, once, as unix seconds. */
static int ntp_stamp(struct cursor *c, size_t line, const char *tag, const char *name,
		     const char **seen, size_t *n, int64_t *unix_s, char *err, size_t errlen)
{
	int64_t v;

	if (*seen)
		return astro_err_set(err, errlen, -EINVAL,
				     "line %zu: a second %s line (%s)", line, name, tag);
	if (special_number(c, &v, seen, n) < 0)
		return astro_err_set(err, errlen, -EINVAL,
				     "line %zu: expected '%s <NTP seconds>'", line, tag);
	*unix_s = v - (int64_t)(UNIX_MJD - NTP_MJD) * 86400;
	return 0;
}

/* "#@", "#$", "#h" or a plain comment. */
static int special_line(struct cursor *c, size_t line, struct astro_timescale_list *out,
			struct hashed *h, unsigned char md[20], int *have_md,
			char *err, size_t errlen)
{
	char kind = c->end - c->p >= 2 ? c->p[1] : '\0';

	switch (kind) {
	case '@':
		c->p += 2;
		return ntp_stamp(c, line, "#@", "expiry", &h->exp, &h->exp_n, &out->expires,
				 err, errlen);
	case '$':
		c->p += 2;
		return ntp_stamp(c, line, "#$", "update", &h->upd, &h->upd_n, &out->updated,
				 err, errlen);
	case 'h':
		c->p += 2;
		if (*have_md)
			return astro_err_set(err, errlen, -EINVAL,
					     "line %zu: a second hash line (#h)", line);
		if (hash_words(c, md) < 0)
			return astro_err_set(err, errlen, -EINVAL,
					     "line %zu: expected '#h' and five hex words", line);
		*have_md = 1;
		return 0;
	default:
		return 0;
	}
}

int astro_timescale_parse(const char *buf, size_t len,
			  struct astro_timescale_list *out, char *err,
			  size_t errlen)
{
	struct hashed h = { 0 };
	unsigned char md[20], got[EVP_MAX_MD_SIZE];
	unsigned int got_n = 0;
	int have_md = 0, rc = 0;
	size_t line = 0;

	memset(out, 0, sizeof(*out));
	if (memchr(buf, '\0', len))
		return astro_err_set(err, errlen, -EINVAL, "a NUL byte: not a text file");
	h.buf = malloc(len + 1);
	if (!h.buf)
		return -ENOMEM;
	for (const char *p = buf, *end = buf + len; p < end && rc == 0;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct cursor c = { p, nl ? nl : end };

		line++;
		p = nl ? nl + 1 : end;
		if (c.end > c.p && c.end[-1] == '\r')
			c.end--;
		if (c.p < c.end && *c.p == '#') {
			rc = special_line(&c, line, out, &h, md, &have_md, err, errlen);
			continue;
		}
		skip_blank(&c);
		if (c.p == c.end)
			continue;
		rc = data_line(&c, line, out, &h, err, errlen);
	}
	if (rc)
		goto out;
	if (out->n == 0) {
		rc = astro_err_set(err, errlen, -EINVAL, "no '<NTP seconds> <TAI-UTC>' lines");
		goto out;
	}
	if (!h.exp) {
		rc = astro_err_set(err, errlen, -EINVAL, "no expiry line ('#@ <NTP seconds>')");
		goto out;
	}
	if (out->expires <= mjd_unix(out->rows[out->n - 1].mjd)) {
		rc = astro_err_set(err, errlen, -EINVAL,
				   "the expiry (#@) is not after the last entry");
		goto out;
	}
	if (out->expires >= mjd_unix(MJD_10000)) {
		rc = astro_err_set(err, errlen, -EINVAL, "the expiry (#@) is after the year 9999");
		goto out;
	}
	if (have_md) {
		/* IERS: SHA-1 of the "#$" and "#@" numbers and the data fields, blanks removed. */
		size_t data = h.len;

		memmove(h.buf + h.upd_n + h.exp_n, h.buf, data);
		if (h.upd)
			memcpy(h.buf, h.upd, h.upd_n);
		memcpy(h.buf + h.upd_n, h.exp, h.exp_n);
		if (!EVP_Digest(h.buf, data + h.upd_n + h.exp_n, got, &got_n, EVP_sha1(), NULL)) {
			rc = -EIO;
			goto out;
		}
		if (got_n != 20 || memcmp(got, md, 20)) {
			rc = astro_err_set(err, errlen, -EINVAL,
					   "the SHA-1 in the '#h' line does not match: the file was altered or truncated");
			goto out;
		}
	}
out:
	free(h.buf);
	return rc;
}

/* ---- loading ---- */

static int read_list(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	char *b;
	int rc = 0;

	if (fd < 0) {
		rc = -errno;
		return astro_err_set(err, errlen, rc, "%s", strerror(-rc));
	}
	b = malloc(MAX_FILE + 1);
	if (!b) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, b + n, MAX_FILE + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			astro_err_set(err, errlen, rc, "%s", strerror(-rc));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > MAX_FILE) {
			rc = astro_err_set(err, errlen, -EINVAL,
					   "larger than %d KiB: not a leap-second list",
					   MAX_FILE / 1024);
			goto out;
		}
	}
	*buf = b;
	*len = n;
	b = NULL;
out:
	free(b);
	close(fd);
	return rc;
}

/*
 * Use the file's rows if newer than ERFA's built-in table (already in
 * rows[]): 1 when adopted, 0 when not newer, -EINVAL when they contradict.
 */
static int merge(const struct astro_timescale_list *l, char *err, size_t errlen)
{
	eraLEAPSECOND *t;
	int nt = eraGetLeapSeconds(&t), y, m, d;
	size_t common = l->n < nrows ? l->n : nrows, k = 0;

	for (size_t i = 0; i < common; i++)
		if (l->rows[i].mjd != rows[i].mjd || l->rows[i].tai_utc != rows[i].tai_utc) {
			ymd(rows[i].mjd, &y, &m, &d);
			return astro_err_set(err, errlen, -EINVAL,
					     "entry %zu disagrees with ERFA's table (%04d-%02d-%02d, %d s)",
					     i + 1, y, m, d, rows[i].tai_utc);
		}
	if (l->n < nrows || (l->n == nrows && l->expires <= expires))
		return 0;
	if (nt <= 0 || (size_t)nt + l->n - nrows > ASTRO_ARRAY_SIZE(merged))
		return -EIO;
	/* ERFA's rows (drift rows before 1972 included), then the file's newer ones. */
	for (; k < (size_t)nt; k++)
		merged[k] = t[k];
	for (size_t i = nrows; i < l->n; i++, k++) {
		ymd(l->rows[i].mjd, &merged[k].iyear, &merged[k].month, &d);
		merged[k].delat = l->rows[i].tai_utc;
	}
	eraSetLeapSeconds(merged, (int)k);
	if (sync_rows())
		return -EIO;
	expires = l->expires;
	return 1;
}

static void report(const char *path, int rc, const char *why, int64_t now)
{
	char day[16], exp[16];
	const struct astro_timescale_leap *last = &rows[nrows - 1];

	date_str(mjd_unix(last->mjd), day, sizeof(day));
	date_str(expires, exp, sizeof(exp));
	/* A system without tzdata's list is normal; a broken list is not. */
	if (rc == -ENOENT)
		astro_info("leap seconds: no %s", path);
	else if (rc < 0)
		astro_warn("leap seconds: ignoring %s: %s", path, why);
	astro_info("leap seconds: %s (last leap second before %s, TAI-UTC %d s), valid until %s",
		   rc == 1 ? path : "ERFA's built-in table", day, last->tai_utc, exp);
	if (now >= expires)
		astro_warn("leap seconds: the table in use expired on %s; a leap second announced since is not applied (a newer %s from tzdata or the IERS fixes that)",
			   exp, path);
}

static int load(const char *path, int64_t now_unix, char *err, size_t errlen)
{
	struct astro_timescale_list *l = NULL;
	char *buf = NULL, why[256] = "";
	size_t len = 0;
	int rc;

	use_builtin();
	if (nrows == 0)
		return astro_err_set(err, errlen, -EIO, "ERFA has no leap-second table");
	rc = read_list(path, &buf, &len, why, sizeof(why));
	if (rc == 0) {
		l = malloc(sizeof(*l));
		rc = l ? astro_timescale_parse(buf, len, l, why, sizeof(why)) : -ENOMEM;
	}
	if (rc == 0)
		rc = merge(l, why, sizeof(why));
	if (rc == -ENOMEM || rc == -EIO)
		snprintf(why, sizeof(why), "%s", strerror(-rc));
	if (rc < 0)
		use_builtin();
	report(path, rc, why, now_unix);
	if (rc < 0)
		astro_err_set(err, errlen, rc, "%s: %s", path, why);
	free(l);
	free(buf);
	return rc;
}

static void load_default(void)
{
	load(ASTRO_TIMESCALE_LIST_PATH, (int64_t)time(NULL), NULL, 0);
}

void astro_timescale_init(void)
{
	pthread_once(&once, load_default);
}

int astro_timescale_load(const char *path, int64_t now_unix, char *err,
			 size_t errlen)
{
	/* First the start-up load, so that it cannot later replace this one. */
	astro_timescale_init();
	return load(path, now_unix, err, errlen);
}

size_t astro_timescale_leaps(const struct astro_timescale_leap **out)
{
	astro_timescale_init();
	*out = rows;
	return nrows;
}

int64_t astro_timescale_expires(void)
{
	astro_timescale_init();
	return expires;
}

int astro_timescale_tai_utc_at_tai(double mjd_tai, double *tai_utc)
{
	astro_timescale_init();
	if (!isfinite(mjd_tai))
		return -EINVAL;
	for (size_t i = nrows; i-- > 0;) {
		if (mjd_tai >= rows[i].mjd + rows[i].tai_utc / 86400.0) {
			*tai_utc = rows[i].tai_utc;
			return 0;
		}
	}
	return -ERANGE;
}

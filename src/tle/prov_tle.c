/*
 * prov_tle.c — /tle/YYYY/MM/DD.{tle,3le}: every element set of a UTC day.
 *
 * Cache (services/stday.h, shared with the satellite filter's historical
 * visits): "v1/day/YYYY-MM-DD" holds the day as a 3le body
 * (LF, three lines per set, ordered by catalogue number then epoch);
 * "v1/idx/YYYY-MM-DD" holds "3le=N tle=N sets=N\n" so getattr can report
 * exact sizes without copying megabytes.  The body is written before the
 * index: an index always describes a complete body.
 *
 * Only open() may reach space-track; getattr and readdir read LMDB only.
 * Concurrent opens of one missing day share a single query, also with the
 * satellite filter's historical visits (astro_stday_fetch); a day whose
 * end is older than tle_final_after is cached as final and never fetched
 * again; a recent day is refreshed after tle_ttl, and a failed refresh
 * serves the older copy rather than an error.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/astro.h"
#include "core/log.h"
#include "core/provider.h"
#include "core/services.h"
#include "services/spacetrack.h"
#include "services/stday.h"
#include "core/stats.h"

#define DB ASTRO_STDAY_DB
#define FIRST_YEAR 1957
/* A getattr answered just before a day was stored may reach the kernel a
 * little later, and its attributes live attr_keep_ms from then. */
#define KERNEL_REPLY_SLACK_MS 1000

struct tle_priv {
	const struct astro_config *cfg;
	struct astro_cache *cache;
	struct astro_services *svc;
	int64_t (*now)(void);	/* Unix seconds; replaceable in tests */
	void (*invalidate)(void *arg, const char *path);
	void *invalidate_arg;
	int64_t attr_keep_ms;
};

/* What a path names. */
struct tle_path {
	int depth;		/* 0 root, 1 year, 2 month, 3 day file */
	int64_t year;
	unsigned month, day;
	int names;		/* .3le */
	int64_t day_unix;
};

static int64_t wall_now(void)
{
	return astro_now_ms() / 1000;
}

static int digits(const char *s, size_t n, int64_t *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/* Parse and check against today: the future and impossible dates are ENOENT. */
static int parse_path(struct tle_priv *p, const char *path, struct tle_path *tp)
{
	int64_t now = p->now(), ty, v;
	unsigned tm, td;
	size_t len = strlen(path);

	memset(tp, 0, sizeof(*tp));
	astro_civil_from_days(now / 86400, &ty, &tm, &td);
	if (len == 0)
		return 0;
	if (len < 4 || digits(path, 4, &tp->year) || tp->year < FIRST_YEAR || tp->year > ty)
		return -ENOENT;
	tp->depth = 1;
	if (len == 4)
		return 0;
	if (len < 7 || path[4] != '/' || digits(path + 5, 2, &v) || v < 1 || v > 12)
		return -ENOENT;
	tp->month = (unsigned)v;
	if (tp->year == ty && tp->month > tm)
		return -ENOENT;
	tp->depth = 2;
	if (len == 7)
		return 0;
	if (len != 14 || path[7] != '/' || digits(path + 8, 2, &v) || path[10] != '.')
		return -ENOENT;
	if (strcmp(path + 11, "tle") == 0)
		tp->names = 0;
	else if (strcmp(path + 11, "3le") == 0)
		tp->names = 1;
	else
		return -ENOENT;
	if (v < 1 || v > astro_days_in_month(tp->year, tp->month))
		return -ENOENT;
	tp->day = (unsigned)v;
	tp->day_unix = astro_days_from_civil(tp->year, tp->month, tp->day) * 86400;
	if (tp->day_unix > now)
		return -ENOENT;
	tp->depth = 3;
	return 0;
}


struct idx {
	uint64_t len3, lentle, nsets;
	struct astro_cache_meta meta;
};

static int read_idx(struct tle_priv *p, int64_t day_unix, struct idx *ix)
{
	char key[32], *data = NULL, *end;
	int rc;

	if (!p->cache)
		return -ENOENT;
	astro_stday_key(key, sizeof(key), "idx", day_unix);
	rc = astro_cache_get(p->cache, DB, key, strlen(key), &ix->meta, (void **)&data);
	if (rc)
		return rc;
	rc = -ENOENT;
	if (strncmp(data, "3le=", 4) != 0)
		goto out;
	ix->len3 = strtoull(data + 4, &end, 10);
	if (strncmp(end, " tle=", 5) != 0)
		goto out;
	ix->lentle = strtoull(end + 5, &end, 10);
	if (strncmp(end, " sets=", 6) != 0)
		goto out;
	ix->nsets = strtoull(end + 6, &end, 10);
	if (*end == '\n')
		rc = 0;
out:
	free(data);
	return rc;
}

static char *render_tle(const char *b, size_t len, size_t *outlen)
{
	char *out = malloc(len + 1);
	size_t o = 0, pos = 0;
	int line = 0;

	if (!out)
		return NULL;
	while (pos < len) {
		const char *nl = memchr(b + pos, '\n', len - pos);
		size_t ll = (nl ? (size_t)(nl - (b + pos)) + 1 : len - pos);

		if (line % 3 != 0) {
			memcpy(out + o, b + pos, ll);
			o += ll;
		}
		line++;
		pos += ll;
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

/*
 * Freshness follows the mount's options, not those in force when the day
 * was fetched: a day fetched tle_final_after past its end is settled for
 * good; any other copy is fresh for tle_ttl after its fetch.
 */
static int day_settled(const struct tle_priv *p, const struct tle_path *tp,
		       const struct astro_cache_meta *m)
{
	return astro_stday_settled(p->cfg, tp->day_unix, m);
}

static int day_fresh(const struct tle_priv *p, const struct tle_path *tp,
		     const struct astro_cache_meta *m)
{
	return day_settled(p, tp, m) ||
	       astro_now_ms() < m->fetched_ms + (int64_t)p->cfg->tle_ttl * 1000;
}

/*
 * The kernel may hold size 0 (or an older size) for both files of a day it
 * listed or stat()ed before the day was fetched, and would serve that size
 * to the next stat(), fstat() or cached read: a twin read right after the
 * fetch would come back empty, and a tool that sizes its copy by fstat()
 * after open (rsync, shutil, cp) would copy nothing.  Called after the day
 * is stored and before any open that waited on the fetch returns.
 */
static void invalidate_day(struct tle_priv *p, int64_t day_unix)
{
	char path[24];
	int64_t y;
	unsigned m, d;

	if (!p->invalidate)
		return;
	astro_civil_from_days(day_unix / 86400, &y, &m, &d);
	for (int k = 0; k < 2; k++) {
		snprintf(path, sizeof(path), "%04lld/%02u/%02u.%s", (long long)y, m, d,
			 k ? "3le" : "tle");
		p->invalidate(p->invalidate_arg, path);
	}
}

static int tle_init(const struct astro_ctx *ctx, void **priv)
{
	struct tle_priv *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->cfg = ctx->cfg;
	p->cache = ctx->cache;
	p->svc = ctx->services;
	p->now = wall_now;
	p->invalidate = ctx->invalidate;
	p->invalidate_arg = ctx->invalidate_arg;
	p->attr_keep_ms = ctx->attr_keep_ms;
	*priv = p;
	return 0;
}

static void tle_destroy(void *priv)
{
	free(priv);
}

static void file_attr(struct tle_priv *p, const struct tle_path *tp, struct astro_attr *a)
{
	struct idx ix;
	int64_t end = tp->day_unix + 86400, now = p->now();

	memset(a, 0, sizeof(*a));
	a->kind = ASTRO_FILE;
	if (read_idx(p, tp->day_unix, &ix) == 0) {
		a->size = tp->names ? ix.len3 : ix.lentle;
		a->mtime = ix.meta.fetched_ms / 1000;
	} else {
		a->flags = ASTRO_ATTR_UNKNOWN_SIZE;
		a->mtime = end < now ? end : now;
	}
}

static int tle_getattr(void *priv, const char *path, struct astro_attr *a)
{
	struct tle_priv *p = priv;
	struct tle_path tp;
	int rc;

	assert(priv);
	rc = parse_path(p, path, &tp);
	if (rc)
		return rc;
	if (tp.depth == 3) {
		file_attr(p, &tp, a);
		return 0;
	}
	memset(a, 0, sizeof(*a));
	a->kind = ASTRO_DIR;
	return 0;
}

static int tle_readdir(void *priv, const char *path, astro_fill_fn fill, void *buf)
{
	struct tle_priv *p = priv;
	struct tle_path tp;
	struct astro_attr dir = { .kind = ASTRO_DIR };
	char name[24];
	int64_t ty;
	unsigned tm, td;
	int rc;

	assert(priv);
	rc = parse_path(p, path, &tp);
	if (rc)
		return rc;
	astro_civil_from_days(p->now() / 86400, &ty, &tm, &td);
	switch (tp.depth) {
	case 0:
		for (int64_t y = FIRST_YEAR; y <= ty; y++) {
			snprintf(name, sizeof(name), "%04lld", (long long)y);
			if (fill(buf, name, &dir))
				return 0;
		}
		return 0;
	case 1:
		for (unsigned m = 1; m <= 12 && (tp.year < ty || m <= tm); m++) {
			snprintf(name, sizeof(name), "%02u", m);
			if (fill(buf, name, &dir))
				return 0;
		}
		return 0;
	case 2: {
		unsigned last = astro_days_in_month(tp.year, tp.month);

		if (tp.year == ty && tp.month == tm)
			last = td;
		for (unsigned d = 1; d <= last; d++) {
			struct tle_path f = tp;
			struct astro_attr a;

			f.depth = 3;
			f.day = d;
			f.day_unix = astro_days_from_civil(tp.year, tp.month, d) * 86400;
			for (int k = 0; k < 2; k++) {
				f.names = k;
				file_attr(p, &f, &a);
				snprintf(name, sizeof(name), "%02u.%s", d, k ? "3le" : "tle");
				if (fill(buf, name, &a))
					return 0;
			}
		}
		return 0;
	}
	default:
		return -ENOTDIR;
	}
}

static int tle_open(void *priv, const char *path, int flags, struct astro_file *f)
{
	struct tle_priv *p = priv;
	struct tle_path tp;
	struct astro_cache_meta m;
	struct astro_membuf *h;
	char key[32], *body = NULL;
	size_t len = 0;
	int64_t deadline = astro_mono_ms() + (int64_t)p->cfg->timeout * 1000;
	int rc = parse_path(p, path, &tp), cached = 0, indexed;
	struct idx ix;

	assert(priv);
	if (rc)
		return rc;
	if (tp.depth != 3)
		return -EISDIR;
	if ((flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	indexed = read_idx(p, tp.day_unix, &ix) == 0;
	astro_stday_key(key, sizeof(key), "day", tp.day_unix);
	if (p->cache && astro_cache_get(p->cache, DB, key, strlen(key), &m, (void **)&body) == 0) {
		cached = 1;
		len = m.len;
		if (day_fresh(p, &tp, &m) || p->cfg->offline) {
			astro_stats_inc("tle.hits");
			goto serve;
		}
	}
	if (p->cfg->offline) {
		astro_notice("tle: %s is not cached and the mount is offline", path);
		return -EIO;
	}
	astro_stats_inc("tle.fetches");
	{
		char *fresh = NULL;
		size_t flen = 0;

		rc = astro_stday_fetch(p->svc ? p->svc->spacetrack : NULL, p->cache, p->cfg,
				       tp.day_unix, deadline, &fresh, &flen, NULL);
		if (rc == -ENETDOWN)
			rc = -EIO;
		if (rc == 0) {
			/* This open's fetch or one it shared (perhaps a
			 * historical visit's): the kernel may hold old sizes. */
			invalidate_day(p, tp.day_unix);
			free(body);
			body = fresh;
			len = flen;
			/* The kernel may hold an older or unknown size. */
			f->direct_io = 1;
			indexed = 0;
		} else if (cached) {
			astro_warn("tle: refreshing %s failed (%s); serving the copy from %lld",
				   path, strerror(-rc), (long long)(m.fetched_ms / 1000));
			rc = 0;
		} else {
			free(fresh);
			return rc;
		}
	}
serve:
	h = calloc(1, sizeof(*h));
	if (!h) {
		free(body);
		return -ENOMEM;
	}
	if (tp.names) {
		h->data = body;
		h->len = len;
	} else {
		h->data = render_tle(body, len, &h->len);
		free(body);
		if (!h->data) {
			free(h);
			return -ENOMEM;
		}
	}
	/*
	 * Unknown size, or known only since moments ago: a kernel that has not
	 * been told (another mount on this cache fetched it) may still hold
	 * size 0 for up to attr_keep_ms, and a cached read would stop there.
	 */
	if (!indexed || astro_now_ms() - ix.meta.fetched_ms < p->attr_keep_ms + KERNEL_REPLY_SLACK_MS)
		f->direct_io = 1;
	/* Final days never change: let the kernel keep their pages. */
	f->keep_cache = !f->direct_io && cached && day_settled(p, &tp, &m);
	f->handle = h;
	return 0;
}

static int tle_read(void *priv, const char *path, struct astro_file *f, char *buf,
		    size_t size, off_t off)
{
	assert(priv);
	(void)path;
	return astro_membuf_read(f->handle, buf, size, off);
}

static int tle_release(void *priv, const char *path, struct astro_file *f)
{
	assert(priv);
	(void)path;
	astro_membuf_free(f->handle);
	f->handle = NULL;
	return 0;
}

const struct astro_provider astro_prov_tle = {
	.name = "tle",
	.init = tle_init,
	.destroy = tle_destroy,
	.getattr = tle_getattr,
	.readdir = tle_readdir,
	.open = tle_open,
	.read = tle_read,
	.release = tle_release,
};

/*
 * prov_tle.c — /tle/YYYY/MM/DD.{tle,3le}: every element set of a UTC day.
 *
 * Cache (database "tle"): "v1/day/YYYY-MM-DD" holds the day as a 3le body
 * (LF, three lines per set, ordered by catalogue number then epoch);
 * "v1/idx/YYYY-MM-DD" holds "3le=N tle=N sets=N\n" so getattr can report
 * exact sizes without copying megabytes.  The body is written before the
 * index: an index always describes a complete body.
 *
 * Only open() may reach space-track; getattr and readdir read LMDB only.
 * Concurrent opens of one missing day share a single query (in-flight
 * table below); a day whose end is older than tle_final_after is cached as
 * final and never fetched again; a recent day is refreshed after tle_ttl,
 * and a failed refresh serves the older copy rather than an error.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/astro.h"
#include "core/log.h"
#include "core/provider.h"
#include "core/services.h"
#include "services/shared.h"
#include "services/spacetrack.h"
#include "services/tle.h"
#include "core/stats.h"

#define DB "tle"
#define FIRST_YEAR 1957
/* A getattr answered just before a day was stored may reach the kernel a
 * little later, and its attributes live attr_keep_ms from then. */
#define KERNEL_REPLY_SLACK_MS 1000

struct inflight {
	int64_t day;
	int done, rc, refs;
	pthread_cond_t cv;
	struct inflight *next;
};

struct tle_priv {
	const struct astro_config *cfg;
	struct astro_cache *cache;
	struct astro_services *svc;
	pthread_mutex_t lock;
	struct inflight *flights;
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

static void day_key(char *buf, size_t n, const char *kind, int64_t day_unix)
{
	int64_t y;
	unsigned m, d;

	astro_civil_from_days(day_unix / 86400, &y, &m, &d);
	snprintf(buf, n, "v1/%s/%04lld-%02u-%02u", kind, (long long)y, m, d);
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
	day_key(key, sizeof(key), "idx", day_unix);
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

/* Length of the tle rendering of a 3le body: drop every name line. */
static size_t tle_len_of(const char *b, size_t len)
{
	size_t out = 0, pos = 0;
	int line = 0;

	while (pos < len) {
		const char *nl = memchr(b + pos, '\n', len - pos);
		size_t ll = (nl ? (size_t)(nl - (b + pos)) + 1 : len - pos);

		if (line % 3 != 0)
			out += ll;
		line++;
		pos += ll;
	}
	return out;
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
	return m->fetched_ms / 1000 - (tp->day_unix + 86400) > (int64_t)p->cfg->tle_final_after;
}

static int day_fresh(const struct tle_priv *p, const struct tle_path *tp,
		     const struct astro_cache_meta *m)
{
	return day_settled(p, tp, m) ||
	       astro_now_ms() < m->fetched_ms + (int64_t)p->cfg->tle_ttl * 1000;
}

static int day_is_final(const struct tle_priv *p, int64_t day_unix, int64_t fetched_ms)
{
	return fetched_ms / 1000 - (day_unix + 86400) > (int64_t)p->cfg->tle_final_after;
}

static void store_day(struct tle_priv *p, int64_t day_unix, const char *body,
		      size_t len, size_t nsets, int64_t fetched_ms)
{
	struct astro_cache_meta m = { .fetched_ms = fetched_ms };
	char key[32], idx[96];
	int64_t age = fetched_ms / 1000 - (day_unix + 86400);

	if (!p->cache)
		return;
	m.ttl_s = p->cfg->tle_ttl;
	if (age > (int64_t)p->cfg->tle_final_after)
		m.flags |= ASTRO_CACHE_FINAL;
	day_key(key, sizeof(key), "day", day_unix);
	if (astro_cache_put(p->cache, DB, key, strlen(key), &m, body, len) != 0)
		return;
	snprintf(idx, sizeof(idx), "3le=%zu tle=%zu sets=%zu\n", len, tle_len_of(body, len), nsets);
	day_key(key, sizeof(key), "idx", day_unix);
	astro_cache_put(p->cache, DB, key, strlen(key), &m, idx, strlen(idx));
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

/* ---- the fleet tier (services/shared.h) ---- */

#define SHARED_DAY_MAX (256u << 20)
#define LEASE_POLL_MS 200
#define LEASE_SLACK_MS 2000

/*
 * A day from the shared tier is trusted no more than one from space-track:
 * every line and checksum (astro_tle_parse_body), three lines per set in
 * LF, every epoch inside the day, ordered by catalogue number then epoch,
 * and as many sets as the envelope says.
 */
static int check_day(const char *body, size_t len, int64_t day_unix, uint64_t want,
		     char *err, size_t errlen)
{
	struct astro_tle_set *sets = NULL;
	size_t n = 0;
	int64_t lo = day_unix * 1000000, hi = (day_unix + 86400) * 1000000;
	int rc;

	if (memchr(body, '\r', len) || (len && body[len - 1] != '\n'))
		return astro_fail(err, errlen, "not LF lines ending in a newline");
	rc = astro_tle_parse_body(body, len, 0, &sets, &n, err, errlen);
	if (rc)
		return rc;
	rc = -EINVAL;
	if (n != want) {
		astro_fail(err, errlen, "%zu sets, envelope says %llu", n, (unsigned long long)want);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (sets[i].name_off < 0) {
			astro_fail(err, errlen, "set %zu has no name line", i + 1);
			goto out;
		}
		if (sets[i].epoch_us < lo || sets[i].epoch_us >= hi) {
			astro_fail(err, errlen, "set %zu (%ld) has an epoch outside the day", i + 1,
				   sets[i].catnum);
			goto out;
		}
		if (i && (sets[i].catnum < sets[i - 1].catnum ||
			  (sets[i].catnum == sets[i - 1].catnum &&
			   sets[i].epoch_us < sets[i - 1].epoch_us))) {
			astro_fail(err, errlen, "set %zu (%ld) is out of order", i + 1, sets[i].catnum);
			goto out;
		}
	}
	rc = 0;
out:
	free(sets);
	return rc;
}

static void shared_name(char *buf, size_t n, int64_t day_unix)
{
	int64_t y;
	unsigned m, d;

	astro_civil_from_days(day_unix / 86400, &y, &m, &d);
	snprintf(buf, n, "%04lld-%02u-%02u", (long long)y, m, d);
}

/*
 * The day from the shared tier, validated and fresh for this mount: final,
 * or fetched less than tle_ttl ago.  0 with *body (malloc'd); -ENOENT;
 * -ENETDOWN.  A corrupt object is logged and treated as missing.
 */
static int shared_read(struct tle_priv *p, int64_t day_unix, char **body, size_t *len,
		       size_t *nsets, int64_t *fetched_ms)
{
	static const char *const kinds[] = { "final", "recent" };
	char name[16], key[64], err[200];

	shared_name(name, sizeof(name), day_unix);
	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(kinds); i++) {
		struct astro_shared_env e;
		const char *b;
		char *obj = NULL;
		size_t objlen = 0, blen;
		int rc;

		snprintf(key, sizeof(key), "tle/v1/%s/%s", kinds[i], name);
		rc = astro_shared_get(p->svc->shared, key, SHARED_DAY_MAX, &obj, &objlen);
		if (rc == -ENOENT || rc == -EFBIG)
			continue;
		if (rc)
			return rc;
		if (astro_shared_unwrap(obj, objlen, "tle-day", name, &e, &b, &blen, err, sizeof(err)) ||
		    check_day(b, blen, day_unix, e.count, err, sizeof(err))) {
			astro_warn("tle: shared cache object %s refused: %s", key, err);
			astro_stats_inc("shared.corrupt");
			/* Out of the way, so the re-fetch can store a good copy
			 * under the create-only key. */
			astro_shared_delete(p->svc->shared, key);
			free(obj);
			continue;
		}
		if (!e.final && !day_is_final(p, day_unix, e.fetched_ms) &&
		    astro_now_ms() >= e.fetched_ms + (int64_t)p->cfg->tle_ttl * 1000) {
			free(obj);
			continue;	/* older than tle_ttl: refresh it */
		}
		*body = malloc(blen + 1);
		if (!*body) {
			free(obj);
			return -ENOMEM;
		}
		memcpy(*body, b, blen);
		(*body)[blen] = '\0';
		*len = blen;
		*nsets = (size_t)e.count;
		*fetched_ms = e.fetched_ms;
		free(obj);
		return 0;
	}
	return -ENOENT;
}

/* Final days go to a key written once (create-only); recent days replace. */
static void shared_write(struct tle_priv *p, int64_t day_unix, const char *body, size_t len,
			 size_t nsets, int64_t fetched_ms)
{
	struct astro_shared_env e = { .kind = "tle-day", .fetched_ms = fetched_ms, .count = nsets };
	char key[sizeof(e.name) + 16], *obj = NULL;
	size_t objlen = 0;

	shared_name(e.name, sizeof(e.name), day_unix);
	e.final = day_is_final(p, day_unix, fetched_ms);
	snprintf(key, sizeof(key), "tle/v1/%s/%s", e.final ? "final" : "recent", e.name);
	if (astro_shared_wrap(&e, body, len, &obj, &objlen) == 0)
		astro_shared_put(p->svc->shared, key, obj, objlen, e.final);
	free(obj);
}

/*
 * LMDB missed: the shared tier, else one machine of the fleet fetches (the
 * lease holder) while the others poll for its object until their deadline,
 * taking over if the holder's lease expires.  A tier that fails falls back
 * to fetching directly.
 */
static int fetch_day(struct tle_priv *p, int64_t day_unix, int64_t deadline, char **body,
		     size_t *len, size_t *nsets, int64_t *fetched_ms)
{
	struct astro_shared *sh = p->svc ? p->svc->shared : NULL;
	char lease[32];
	int rc, missed = 0;

	*fetched_ms = astro_now_ms();
	if (!p->svc || !p->svc->spacetrack)
		return -EIO;
	shared_name(lease, sizeof(lease), day_unix);
	memmove(lease + 4, lease, strlen(lease) + 1);
	memcpy(lease, "tle/", 4);
	while (sh) {
		int64_t expires, now;

		rc = shared_read(p, day_unix, body, len, nsets, fetched_ms);
		if (rc == 0) {
			astro_stats_inc("shared.hits");
			return 0;
		}
		if (rc != -ENOENT)
			break;	/* tier down: fetch directly */
		if (!missed++)
			astro_stats_inc("shared.misses");
		rc = astro_shared_lease(sh, lease, deadline - astro_mono_ms() + LEASE_SLACK_MS, &expires);
		if (rc < 0)
			break;
		if (rc == 1) {
			*fetched_ms = astro_now_ms();
			rc = astro_st_fetch_day(p->svc->spacetrack, day_unix, deadline, body, len, nsets);
			if (rc == 0)
				shared_write(p, day_unix, *body, *len, *nsets, *fetched_ms);
			astro_shared_lease_release(sh, lease);
			return rc;
		}
		now = astro_now_ms();
		if (astro_mono_ms() + LEASE_POLL_MS > deadline)
			return -ETIMEDOUT;
		if (astro_sleep_ms(expires - now < LEASE_POLL_MS ? (expires > now ? expires - now : 1)
								  : LEASE_POLL_MS) == -EINTR)
			return -EINTR;
	}
	*fetched_ms = astro_now_ms();
	return astro_st_fetch_day(p->svc->spacetrack, day_unix, deadline, body, len, nsets);
}

/*
 * Fetch a day once however many threads ask.  The fetching thread stores
 * the day; the others wait for it (up to their deadline) and then read the
 * cache.  *body is set only for the thread that fetched.
 */
static int fetch_shared(struct tle_priv *p, int64_t day_unix, int64_t deadline,
			char **body, size_t *len)
{
	struct inflight *f, **pp;
	int rc, leader = 0;
	size_t nsets = 0;

	*body = NULL;
	pthread_mutex_lock(&p->lock);
	for (f = p->flights; f; f = f->next)
		if (f->day == day_unix)
			break;
	if (!f) {
		f = calloc(1, sizeof(*f));
		if (!f) {
			pthread_mutex_unlock(&p->lock);
			return -ENOMEM;
		}
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&f->cv, &ca);
		pthread_condattr_destroy(&ca);
		f->day = day_unix;
		f->next = p->flights;
		p->flights = f;
		leader = 1;
	}
	f->refs++;
	pthread_mutex_unlock(&p->lock);

	if (leader) {
		int64_t fetched_ms;

		rc = fetch_day(p, day_unix, deadline, body, len, &nsets, &fetched_ms);
		if (rc == 0) {
			store_day(p, day_unix, *body, *len, nsets, fetched_ms);
			invalidate_day(p, day_unix);
		}
		pthread_mutex_lock(&p->lock);
		f->done = 1;
		f->rc = rc;
		/* Later opens start a new flight; this one only serves its waiters. */
		for (pp = &p->flights; *pp; pp = &(*pp)->next)
			if (*pp == f) {
				*pp = f->next;
				break;
			}
		pthread_cond_broadcast(&f->cv);
	} else {
		astro_stats_inc("tle.shared_waits");
		pthread_mutex_lock(&p->lock);
		while (!f->done) {
			struct timespec ts;

			ts.tv_sec = deadline / 1000;
			ts.tv_nsec = (deadline % 1000) * 1000000;
			if (pthread_cond_timedwait(&f->cv, &p->lock, &ts) == ETIMEDOUT)
				break;
		}
		rc = f->done ? f->rc : -ETIMEDOUT;
	}
	if (--f->refs == 0) {
		pthread_cond_destroy(&f->cv);
		free(f);
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
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
	pthread_mutex_init(&p->lock, NULL);
	*priv = p;
	return 0;
}

static void tle_destroy(void *priv)
{
	struct tle_priv *p = priv;

	pthread_mutex_destroy(&p->lock);
	free(p);
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
	int rc = parse_path(p, path, &tp);

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
	int rc = parse_path(p, path, &tp);

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

	if (rc)
		return rc;
	if (tp.depth != 3)
		return -EISDIR;
	if ((flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	indexed = read_idx(p, tp.day_unix, &ix) == 0;
	day_key(key, sizeof(key), "day", tp.day_unix);
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

		rc = fetch_shared(p, tp.day_unix, deadline, &fresh, &flen);
		if (rc == 0 && !fresh && p->cache) {
			/* Another thread fetched it; read what it stored. */
			free(fresh);
			fresh = NULL;
			if (astro_cache_get(p->cache, DB, key, strlen(key), &m, (void **)&fresh) == 0)
				flen = m.len;
			else
				rc = -EIO;
		}
		if (rc == 0) {
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
	(void)priv; (void)path;
	return astro_membuf_read(f->handle, buf, size, off);
}

static int tle_release(void *priv, const char *path, struct astro_file *f)
{
	(void)priv; (void)path;
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

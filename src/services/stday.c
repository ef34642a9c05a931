/* stday.c — see stday.h. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/astro.h"
#include "core/log.h"
#include "core/op.h"
#include "core/stats.h"
#include "services/stday.h"

/*
 * Days being fetched, whoever asked (/tle, a historical visit): one per
 * (client, day).  A flight leaves the table when its fetch ends, so later
 * callers start afresh; it is freed by the last of its waiters.
 */
struct flight {
	const struct astro_spacetrack *st;
	int64_t day;
	int done, rc, refs;
	char *body;		/* the leader's result, copied out by waiters */
	size_t len;
	pthread_cond_t cv;
	struct flight *next;
};

static pthread_mutex_t flights_lock = PTHREAD_MUTEX_INITIALIZER;
static struct flight *flights;

void astro_stday_key(char *buf, size_t n, const char *kind, int64_t day_unix)
{
	int64_t y;
	unsigned m, d;

	astro_civil_from_days(day_unix / 86400, &y, &m, &d);
	snprintf(buf, n, "v1/%s/%04lld-%02u-%02u", kind, (long long)y, m, d);
}

int astro_stday_settled(const struct astro_config *cfg, int64_t day_unix,
			const struct astro_cache_meta *m)
{
	return m->fetched_ms / 1000 - (day_unix + 86400) > (int64_t)cfg->tle_final_after;
}

/* Length of the tle rendering of a 3le body: every name line dropped. */
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

void astro_stday_store(struct astro_cache *cache, const struct astro_config *cfg,
		       int64_t now_unix, int64_t day_unix, const char *body, size_t len,
		       size_t nsets)
{
	struct astro_cache_meta m = { .fetched_ms = astro_now_ms() };
	char key[32], idx[96];

	if (!cache)
		return;
	m.ttl_s = cfg->tle_ttl;
	if (now_unix - (day_unix + 86400) > (int64_t)cfg->tle_final_after)
		m.flags |= ASTRO_CACHE_FINAL;
	astro_stday_key(key, sizeof(key), "day", day_unix);
	if (astro_cache_put(cache, ASTRO_STDAY_DB, key, strlen(key), &m, body, len) != 0)
		return;
	snprintf(idx, sizeof(idx), "3le=%zu tle=%zu sets=%zu\n", len, tle_len_of(body, len), nsets);
	astro_stday_key(key, sizeof(key), "idx", day_unix);
	astro_cache_put(cache, ASTRO_STDAY_DB, key, strlen(key), &m, idx, strlen(idx));
}

#define FLIGHT_ABANDONED 1	/* fetch_once: the leader gave up; not an errno */

static void flight_unref(struct flight *f)
{
	if (--f->refs == 0) {
		pthread_cond_destroy(&f->cv);
		free(f->body);
		free(f);
	}
}

static int fetch_once(struct astro_spacetrack *st, struct astro_cache *cache,
		      const struct astro_config *cfg, int64_t day_unix, int64_t deadline_ms,
		      char **body, size_t *len, int *shared)
{
	struct flight *f, **pp;
	size_t nsets = 0;
	int rc, leader = 0;

	pthread_mutex_lock(&flights_lock);
	for (f = flights; f; f = f->next)
		if (f->st == st && f->day == day_unix)
			break;
	if (!f) {
		f = calloc(1, sizeof(*f));
		if (!f) {
			pthread_mutex_unlock(&flights_lock);
			return -ENOMEM;
		}
		if ((rc = astro_op_cond_init(&f->cv))) {
			pthread_mutex_unlock(&flights_lock);
			free(f);
			return rc;
		}
		f->st = st;
		f->day = day_unix;
		f->next = flights;
		flights = f;
		leader = 1;
	}
	f->refs++;
	pthread_mutex_unlock(&flights_lock);

	if (leader) {
		rc = astro_st_fetch_day(st, day_unix, deadline_ms, body, len, &nsets);
		if (rc == 0)
			astro_stday_store(cache, cfg, (int64_t)time(NULL), day_unix, *body, *len, nsets);
		pthread_mutex_lock(&flights_lock);
		/* Out of the table first: no one joins after the count below. */
		for (pp = &flights; *pp; pp = &(*pp)->next)
			if (*pp == f) {
				*pp = f->next;
				break;
			}
		f->done = 1;
		f->rc = rc;
		if (rc == 0 && f->refs > 1) {
			/* The waiters' copy (the caller owns *body). */
			f->body = malloc(*len + 1);
			if (f->body) {
				memcpy(f->body, *body, *len);
				f->body[*len] = '\0';
				f->len = *len;
			} else {
				f->rc = -ENOMEM;
			}
		}
		pthread_cond_broadcast(&f->cv);
	} else {
		astro_stats_inc("spacetrack.shared_waits");
		if (shared)
			*shared = 1;
		pthread_mutex_lock(&flights_lock);
		rc = 0;
		while (!f->done && !rc)
			rc = astro_op_cond_wait(&f->cv, &flights_lock, deadline_ms);
		if (f->done) {
			rc = f->rc;
			/* The leader's reader gave up, not this one: try again. */
			if (rc == -EINTR && !astro_op_check())
				rc = FLIGHT_ABANDONED;
			if (rc == 0) {
				*body = malloc(f->len + 1);
				if (*body) {
					memcpy(*body, f->body, f->len + 1);
					*len = f->len;
				} else {
					rc = -ENOMEM;
				}
			}
		}
	}
	flight_unref(f);
	pthread_mutex_unlock(&flights_lock);
	return rc;
}

int astro_stday_fetch(struct astro_spacetrack *st, struct astro_cache *cache,
		      const struct astro_config *cfg, int64_t day_unix, int64_t deadline_ms,
		      char **body, size_t *len, int *shared)
{
	int rc;

	*body = NULL;
	*len = 0;
	if (shared)
		*shared = 0;
	if (!st)
		return -ENETDOWN;
	do
		rc = fetch_once(st, cache, cfg, day_unix, deadline_ms, body, len, shared);
	while (rc == FLIGHT_ABANDONED);
	return rc;
}

int astro_stday_get(struct astro_spacetrack *st, struct astro_cache *cache,
		    const struct astro_config *cfg, int64_t day_unix, int64_t deadline_ms,
		    char **body, size_t *len, int *fetched)
{
	struct astro_cache_meta m;
	char key[32], *old = NULL;
	int rc;

	*body = NULL;
	*len = 0;
	if (fetched)
		*fetched = 0;
	astro_stday_key(key, sizeof(key), "day", day_unix);
	if (cache && astro_cache_get(cache, ASTRO_STDAY_DB, key, strlen(key), &m, (void **)&old) == 0) {
		if (astro_stday_settled(cfg, day_unix, &m) || cfg->offline ||
		    astro_now_ms() < m.fetched_ms + (int64_t)cfg->tle_ttl * 1000) {
			*body = old;
			*len = (size_t)m.len;
			return 0;
		}
	}
	if (fetched && st)
		*fetched = 1;
	rc = astro_stday_fetch(st, cache, cfg, day_unix, deadline_ms, body, len, NULL);
	if (rc == 0) {
		free(old);
		return 0;
	}
	if (old) {
		astro_warn("spacetrack: day refresh failed (%s); the older copy serves", strerror(-rc));
		*body = old;
		*len = (size_t)m.len;
		return 0;
	}
	return rc;
}

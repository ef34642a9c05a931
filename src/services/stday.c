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
#include "services/shared.h"
#include "services/stday.h"
#include "services/tle.h"

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

/* fetched_ms: when the body left space-track (the fleet's copy keeps its
 * own), so tle_ttl runs from the real fetch on every machine. */
static void store_at(struct astro_cache *cache, const struct astro_config *cfg,
		     int64_t fetched_ms, int64_t day_unix, const char *body, size_t len,
		     size_t nsets)
{
	struct astro_cache_meta m = { .fetched_ms = fetched_ms };
	char key[32], idx[96];

	if (!cache)
		return;
	m.ttl_s = cfg->tle_ttl;
	if (fetched_ms / 1000 - (day_unix + 86400) > (int64_t)cfg->tle_final_after)
		m.flags |= ASTRO_CACHE_FINAL;
	astro_stday_key(key, sizeof(key), "day", day_unix);
	if (astro_cache_put(cache, ASTRO_STDAY_DB, key, strlen(key), &m, body, len) != 0)
		return;
	snprintf(idx, sizeof(idx), "3le=%zu tle=%zu sets=%zu\n", len, tle_len_of(body, len), nsets);
	astro_stday_key(key, sizeof(key), "idx", day_unix);
	astro_cache_put(cache, ASTRO_STDAY_DB, key, strlen(key), &m, idx, strlen(idx));
}

void astro_stday_store(struct astro_cache *cache, const struct astro_config *cfg,
		       int64_t now_unix, int64_t day_unix, const char *body, size_t len,
		       size_t nsets)
{
	store_at(cache, cfg, now_unix * 1000, day_unix, body, len, nsets);
}

/* ---- the fleet tier (services/shared.h) ---- */

#define SHARED_DAY_MAX (256u << 20)
#define LEASE_POLL_MIN_MS 100
#define LEASE_POLL_MAX_MS 1000
#define LEASE_SLACK_MS 2000

static struct astro_shared *fleet_tier;

void astro_stday_set_shared(struct astro_shared *sh)
{
	__atomic_store_n(&fleet_tier, sh, __ATOMIC_RELEASE);
}

static int day_is_final(const struct astro_config *cfg, int64_t day_unix, int64_t fetched_ms)
{
	return fetched_ms / 1000 - (day_unix + 86400) > (int64_t)cfg->tle_final_after;
}

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
		return astro_err_set(err, errlen, -EINVAL, "not LF lines ending in a newline");
	rc = astro_tle_parse_body(body, len, 0, &sets, &n, err, errlen);
	if (rc)
		return rc;
	rc = -EINVAL;
	if (n != want) {
		astro_err_set(err, errlen, rc, "%zu sets, envelope says %llu", n,
			      (unsigned long long)want);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (sets[i].name_off < 0) {
			astro_err_set(err, errlen, rc, "set %zu has no name line", i + 1);
			goto out;
		}
		if (sets[i].epoch_us < lo || sets[i].epoch_us >= hi) {
			astro_err_set(err, errlen, rc, "set %zu (%ld) has an epoch outside the day",
				      i + 1, sets[i].catnum);
			goto out;
		}
		if (i && (sets[i].catnum < sets[i - 1].catnum ||
			  (sets[i].catnum == sets[i - 1].catnum &&
			   sets[i].epoch_us < sets[i - 1].epoch_us))) {
			astro_err_set(err, errlen, rc, "set %zu (%ld) is out of order", i + 1,
				      sets[i].catnum);
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
 * another -errno when the tier fails.  A corrupt object is logged, removed
 * and treated as missing.
 */
static int shared_read(struct astro_shared *sh, const struct astro_config *cfg,
		       int64_t day_unix, char **body, size_t *len, size_t *nsets,
		       int64_t *fetched_ms)
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
		rc = astro_shared_get(sh, key, SHARED_DAY_MAX, &obj, &objlen);
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
			astro_shared_delete(sh, key);
			free(obj);
			continue;
		}
		if (!e.final && !day_is_final(cfg, day_unix, e.fetched_ms) &&
		    astro_now_ms() >= e.fetched_ms + (int64_t)cfg->tle_ttl * 1000) {
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
static void shared_write(struct astro_shared *sh, const struct astro_config *cfg,
			 int64_t day_unix, const char *body, size_t len, size_t nsets,
			 int64_t fetched_ms)
{
	struct astro_shared_env e = { .kind = "tle-day", .fetched_ms = fetched_ms, .count = nsets };
	char key[sizeof(e.name) + 16], *obj = NULL;
	size_t objlen = 0;

	shared_name(e.name, sizeof(e.name), day_unix);
	e.final = day_is_final(cfg, day_unix, fetched_ms);
	snprintf(key, sizeof(key), "tle/v1/%s/%s", e.final ? "final" : "recent", e.name);
	if (astro_shared_wrap(&e, body, len, &obj, &objlen) == 0)
		astro_shared_put(sh, key, obj, objlen, e.final);
	free(obj);
}

/* The fleet's fetcher of the day, on this machine: the lease is held. */
static int fetch_as_holder(struct astro_shared *sh, struct astro_spacetrack *st,
			   const struct astro_config *cfg, int64_t day_unix, int64_t deadline,
			   const char *lease, const struct astro_shared_lease_hold *hold,
			   char **body, size_t *len, size_t *nsets, int64_t *fetched_ms)
{
	int rc;

	/*
	 * The previous holder may have stored the day and released between
	 * this machine's last look and its win: look once more, or the day is
	 * queried twice (most of the 49 queries for 30 days of bench/fleet.sh).
	 * The object is written before the release, and a new object is read
	 * after write by every later GET (S3, RGW), so this look cannot miss it.
	 */
	rc = shared_read(sh, cfg, day_unix, body, len, nsets, fetched_ms);
	if (rc == 0) {
		astro_stats_inc("shared.hits");
		astro_stats_inc("shared.lease_rechecks");
		astro_shared_lease_release(sh, lease, hold);
		return 0;
	}
	astro_info("tle: day %s: lease won, fetching%s", lease + 4,
		   rc == -ENOENT ? "" : " (the shared tier failed on the second look)");
	*fetched_ms = astro_now_ms();
	rc = astro_spacetrack_fetch_day(st, day_unix, deadline, body, len, nsets);
	if (rc == 0)
		shared_write(sh, cfg, day_unix, *body, *len, *nsets, *fetched_ms);
	astro_shared_lease_release(sh, lease, hold);
	return rc;
}

/*
 * LMDB missed: the shared tier, else one machine of the fleet fetches (the
 * lease holder) while the others look for its object until their deadline,
 * taking over if the holder's lease expires or is released without the
 * object (its fetch failed).  They look gently: a jittered backoff from
 * LEASE_POLL_MIN_MS to LEASE_POLL_MAX_MS, never past the lease's expiry nor
 * the deadline.  A tier that fails (after its own retries) falls back to
 * fetching directly.
 */
static int fleet_fetch(struct astro_spacetrack *st, const struct astro_config *cfg,
		       int64_t day_unix, int64_t deadline, char **body, size_t *len,
		       size_t *nsets, int64_t *fetched_ms)
{
	struct astro_shared *sh = __atomic_load_n(&fleet_tier, __ATOMIC_ACQUIRE);
	struct astro_shared_lease_hold hold;
	char lease[32];
	int rc = 0;
	unsigned polls = 0;

	deadline = astro_op_deadline(deadline);
	snprintf(lease, sizeof(lease), "tle/");
	shared_name(lease + 4, sizeof(lease) - 4, day_unix);
	while (sh) {
		int64_t expires = 0, now, pause, left;

		rc = shared_read(sh, cfg, day_unix, body, len, nsets, fetched_ms);
		if (rc == 0) {
			astro_stats_inc("shared.hits");
			return 0;
		}
		if (rc != -ENOENT)
			break;	/* tier down: fetch directly */
		if (!polls)
			astro_stats_inc("shared.misses");
		rc = astro_shared_lease(sh, lease, deadline - astro_mono_ms() + LEASE_SLACK_MS,
					&expires, &hold);
		if (rc < 0)
			break;
		if (rc == 1)
			return fetch_as_holder(sh, st, cfg, day_unix, deadline, lease, &hold,
					       body, len, nsets, fetched_ms);
		pause = astro_shared_backoff_ms(polls++, LEASE_POLL_MIN_MS, LEASE_POLL_MAX_MS);
		now = astro_now_ms();
		if (expires > now && expires - now < pause)
			pause = expires - now + 1;
		left = deadline - astro_mono_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		rc = astro_op_sleep(pause < left ? pause : left);
		if (rc)
			return rc;
	}
	if (sh)
		astro_info("tle: day %s: shared tier failed (%s), fetching directly", lease + 4,
			   strerror(-rc));
	*fetched_ms = astro_now_ms();
	return astro_spacetrack_fetch_day(st, day_unix, deadline, body, len, nsets);
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
		int64_t fetched_ms = 0;

		rc = fleet_fetch(st, cfg, day_unix, deadline_ms, body, len, &nsets, &fetched_ms);
		if (rc == 0)
			store_at(cache, cfg, fetched_ms, day_unix, *body, *len, nsets);
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

/* A cached copy served without a request: settled, offline, or fresh. */
static int servable(const struct astro_config *cfg, int64_t day_unix,
		    const struct astro_cache_meta *m)
{
	return astro_stday_settled(cfg, day_unix, m) || cfg->offline ||
	       astro_now_ms() < m->fetched_ms + (int64_t)cfg->tle_ttl * 1000;
}

int astro_stday_peek(struct astro_cache *cache, const struct astro_config *cfg,
		     int64_t day_unix, int64_t *version)
{
	struct astro_cache_meta m;
	char key[32];

	astro_stday_key(key, sizeof(key), "day", day_unix);
	if (!cache || astro_cache_get(cache, ASTRO_STDAY_DB, key, strlen(key), &m, NULL) != 0 ||
	    !servable(cfg, day_unix, &m))
		return -ENOENT;
	*version = m.fetched_ms;
	return 0;
}

int astro_stday_read(struct astro_cache *cache, int64_t day_unix, char **body, size_t *len,
		     int64_t *version)
{
	struct astro_cache_meta m;
	char key[32];
	int rc;

	*body = NULL;
	*len = 0;
	astro_stday_key(key, sizeof(key), "day", day_unix);
	if (!cache)
		return -ENOENT;
	rc = astro_cache_get(cache, ASTRO_STDAY_DB, key, strlen(key), &m, (void **)body);
	if (rc)
		return rc;
	*len = (size_t)m.len;
	*version = m.fetched_ms;
	return 0;
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
		if (servable(cfg, day_unix, &m)) {
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

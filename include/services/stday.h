/*
 * stday.h — one UTC day of space-track element sets through the shared
 * LMDB cache: the layout /tle serves and the satellite filter's historical
 * visits read, so a day fetched by either costs the other no query.
 *
 * Cache (database "tle"): "v1/day/YYYY-MM-DD" holds the day as a 3le body
 * (LF, three lines per set, ordered by catalogue number then epoch);
 * "v1/idx/YYYY-MM-DD" holds "3le=N tle=N sets=N\n".  The body is written
 * before the index, so an index always describes a complete body.  A day
 * fetched more than tle_final_after after its end is settled (cached for
 * good); any other copy is fresh for tle_ttl after its fetch.
 */
#ifndef ASTRO_STDAY_H
#define ASTRO_STDAY_H

#include <stddef.h>
#include <stdint.h>
#include "core/config.h"
#include "services/cache.h"
#include "services/spacetrack.h"

#define ASTRO_STDAY_DB "tle"

/* "v1/<kind>/YYYY-MM-DD" for the day starting at day_unix (00:00 UTC). */
void astro_stday_key(char *buf, size_t n, const char *kind, int64_t day_unix);

/* Settled: fetched more than cfg->tle_final_after after the day's end. */
int astro_stday_settled(const struct astro_config *cfg, int64_t day_unix,
			const struct astro_cache_meta *m);

/* Store a fetched day (body, then index).  now_unix decides "final". */
void astro_stday_store(struct astro_cache *cache, const struct astro_config *cfg,
		       int64_t now_unix, int64_t day_unix, const char *body, size_t len,
		       size_t nsets);

/*
 * The fleet tier (services/shared.h) behind LMDB and in front of
 * space-track for every day fetched through this service, or NULL.  Set
 * once at start-up, before any fetch.
 */
struct astro_shared;
void astro_stday_set_shared(struct astro_shared *sh);

/*
 * Fetch the day (the fleet tier first when one is set, else
 * astro_spacetrack_fetch_day) and store it, once however many
 * threads ask for it from one client at the same time, whether for /tle or
 * for historical visits: the first asks space-track; the others wait for
 * its answer (up to their deadline, waking to notice their own interrupt,
 * as astro_op_cond_wait) and get a copy.  A leader that was interrupted or
 * shut down abandons its request; a waiter that was not starts the fetch
 * again.  The cache is not read.  *body is malloc'd and NUL-terminated;
 * *shared (may be NULL) tells a caller that waited on another's fetch.
 * -ENETDOWN when st is NULL.
 */
int astro_stday_fetch(struct astro_spacetrack *st, struct astro_cache *cache,
		      const struct astro_config *cfg, int64_t day_unix, int64_t deadline_ms,
		      char **body, size_t *len, int *shared);

/*
 * The day's 3le body (malloc'd, NUL-terminated): from the cache when it is
 * there and fresh (no request), else through astro_stday_fetch.  A failed
 * refresh of a stale copy returns the stale copy.  *fetched (may be NULL)
 * tells whether the body came from space-track (this caller's query or
 * one it shared).  cache may be NULL (always fetched, nothing stored).
 */
int astro_stday_get(struct astro_spacetrack *st, struct astro_cache *cache,
		    const struct astro_config *cfg, int64_t day_unix, int64_t deadline_ms,
		    char **body, size_t *len, int *fetched);

/*
 * Whether astro_stday_get would serve the day from the cache without a
 * request: 0 with *version, the copy's fetch time (ms; a refresh changes
 * it), else -ENOENT.  Reads no body.
 */
int astro_stday_peek(struct astro_cache *cache, const struct astro_config *cfg,
		     int64_t day_unix, int64_t *version);

/* The cached copy of the day whatever its age (malloc'd, NUL-terminated),
 * with its version as astro_stday_peek gives it: 0 or -ENOENT. */
int astro_stday_read(struct astro_cache *cache, int64_t day_unix, char **body, size_t *len,
		     int64_t *version);

#endif

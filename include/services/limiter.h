/*
 * limiter.h — a client-side request ceiling shared by every thread and every
 * process on one cache.
 *
 * The state is the list of recent request times (wall clock, ms), kept in a
 * pinned entry of the cache's "_meta" database and changed in one LMDB write
 * transaction per request, so two mounts on one account share one budget and
 * a remount does not reset it.  acquire() either records a request and
 * returns 0, or sleeps until the oldest request of a full window leaves it.
 * Every request to the guarded service — login and logout included — must
 * acquire first.
 *
 * Without a cache (unit tests) the state is kept in memory.
 */
#ifndef ASTRO_LIMITER_H
#define ASTRO_LIMITER_H

#include <stdint.h>
#include <jansson.h>
#include "cache.h"
#include "core/config.h"

struct astro_limiter;

int astro_limiter_open(struct astro_limiter **out, struct astro_cache *cache,
		       const char *name, const struct astro_rate *rate);
void astro_limiter_close(struct astro_limiter *l);

/*
 * Wait for a slot and record one request.  deadline_ms is on the
 * astro_mono_ms() clock.  Returns 0, -ETIMEDOUT when no slot frees up in
 * time (nothing recorded), -EINTR when interrupted, or a cache error.
 */
int astro_limiter_acquire(struct astro_limiter *l, int64_t deadline_ms);

/*
 * Without waiting: 0 if a request could be made now, else the
 * milliseconds until one can.  For stats and tests.
 */
int64_t astro_limiter_wait_ms(struct astro_limiter *l);

/* Current usage per window as JSON, for /.astrofs/stats. */
void astro_limiter_json(struct astro_limiter *l, json_t *obj);

/* Tests: shift this limiter's notion of now by offset_ms. */
void astro_limiter_set_clock_offset(struct astro_limiter *l, int64_t offset_ms);

#endif

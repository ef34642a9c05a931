/*
 * limiter.h — a client-side request ceiling shared by every thread and every
 * process on one cache.
 *
 * The state is the list of recent request times (wall clock, ms), kept in a
 * pinned entry of the cache's "_meta" database and changed in one LMDB write
 * transaction per change, so two mounts on one account share one budget and
 * a remount does not reset it.  begin() either records a request and
 * returns 0, or sleeps until the oldest request of a full window leaves it;
 * end() marks the request over, and its slot leaves the window one window
 * length after that.  Every request to the guarded service — login and
 * logout included — must hold a slot while it runs.
 *
 * Without a cache (unit tests) the state is kept in memory.
 */
#ifndef ASTRO_LIMITER_H
#define ASTRO_LIMITER_H

#include <stdint.h>
#include <jansson.h>
#include "services/cache.h"
#include "core/config.h"

struct astro_limiter;

int astro_limiter_open(struct astro_limiter **out, struct astro_cache *cache,
		       const char *name, const struct astro_rate *rate);
void astro_limiter_close(struct astro_limiter *l);

/*
 * Wait for a slot and hold it for one request: the slot counts against the
 * ceiling from now until astro_limiter_end(), so the ceiling holds for the
 * times upstream RECEIVES requests however late they are sent.  deadline_ms
 * is on the astro_mono_ms() clock and bounds the request too: a slot never
 * ended (the process died) is released one window after that deadline.
 * While every slot of a full window is still held, the wait polls until the
 * deadline rather than giving up on an estimate.  Returns 0 and *slot,
 * -ETIMEDOUT when no slot frees up in time (nothing recorded), -EINTR when
 * interrupted, or a cache error.
 */
int astro_limiter_begin(struct astro_limiter *l, int64_t deadline_ms, int64_t *slot);

/* The request of slot has ended (answered, failed or abandoned). */
void astro_limiter_end(struct astro_limiter *l, int64_t slot);

/* begin + end at once: a slot for something that has no duration. */
int astro_limiter_acquire(struct astro_limiter *l, int64_t deadline_ms);

/* Current usage per window as JSON, for /.astrofs/stats. */
void astro_limiter_json(struct astro_limiter *l, json_t *obj);

/*
 * Also hold a slot of the fleet's ceiling (services/shared.h) for every
 * request: the same rate then holds for all machines on that shared tier
 * together.  While the tier is unreachable only this machine's applies.
 */
struct astro_shared;
void astro_limiter_set_fleet(struct astro_limiter *l, struct astro_shared *fleet);

#ifdef ASTRO_UNITTEST
/*
 * Tests: without waiting, 0 if a request could be made now, else the
 * milliseconds until one can — an upper bound when a slot in flight
 * blocks, as it may end sooner.
 */
int64_t astro_limiter_wait_ms(struct astro_limiter *l);

/* Tests: shift this limiter's notion of now by offset_ms. */
void astro_limiter_set_clock_offset(struct astro_limiter *l, int64_t offset_ms);
#endif

#endif

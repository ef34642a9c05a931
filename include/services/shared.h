/*
 * shared.h — the fleet tier: one S3 bucket (shared_cache=s3://BUCKET/PREFIX)
 * behind every machine's LMDB cache.
 *
 * What lives there (all keys under PREFIX/):
 *  - immutable, self-describing objects (astro_shared_wrap): a text envelope
 *    with the format version, the kind, the name (day, object), the fetch
 *    time, whether it is final, the body length and its SHA-256, then the
 *    body.  A reader trusts nothing that does not unwrap, and the tree still
 *    validates the body as if it came from upstream;
 *  - leases (astro_shared_lease): "who fetches this" objects created with
 *    If-None-Match: * and an expiry; an expired (or released) lease is
 *    taken over by a conditional replace (If-Match on its ETag), so exactly
 *    one machine wins each round and a crashed holder blocks nobody past
 *    the expiry.  Release is a conditional replace too, so a holder that
 *    outlived its lease cannot free its successor's (see
 *    astro_shared_lease_release);
 *  - the fleet's request ceiling (astro_shared_slot_begin/end): see below.
 *
 * Failure: an error talking to the bucket other than "not there" or "lost
 * the race" is retried (TRIES attempts, jittered backoff, inside the
 * operation's deadline; a timeout is not retried); one that persists marks
 * the tier down, logged once (and once when it is back);
 * while down (30 s, then one probe) every call fails fast with -ENETDOWN
 * and callers fall back to what a machine does alone.  Each S3 operation is
 * bounded by a quarter of `timeout`, so the fall-back fits inside it.
 *
 * Fleet ceiling.  Requests are numbered k = 0, 1, 2, ... fleet-wide.  Slot k
 * is the object rate/v1/<ring index k mod R> (R = the largest window's
 * limit) holding "k grant_ms end_ms", where end_ms is the request's end, or
 * its deadline while it is in flight.  A machine claims k only when:
 *   (1) k-1 has been claimed (it saw it), and
 *   (2) for every window (L requests per W), slot k-L has ended more than W
 *       before now (its ring entry is read; a higher number there means the
 *       claimer is behind and moves on),
 * and claims it by a conditional write of entry k mod R: If-None-Match when
 * empty, else If-Match on the ETag of the k-R record it read — so no two
 * machines hold one number.  Then any W-window at the receiver holds at most
 * L requests: with k the highest numbered request received in it, the L+1
 * requests include one numbered j <= k-L, received before it ended, which
 * was more than W before k's grant (by induction on (1) for j < k-L).  This
 * assumes the fleet's clocks agree (NTP); CLOCK_SKEW_MS is added to every
 * comparison.  A machine that dies holding a slot leaves end = its deadline:
 * the slot is free again one window after it, never lost.
 *
 * Thread-safety: all functions may be called from any thread.
 */
#ifndef ASTRO_SHARED_H
#define ASTRO_SHARED_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "core/config.h"
#include "services/s3.h"

struct astro_shared;

/*
 * Parse "s3://BUCKET[/PREFIX]" into bucket and prefix (no trailing '/');
 * 0 or -EINVAL.  Exposed for config checks and tests.
 */
int astro_shared_parse_url(const char *url, char *bucket, size_t blen,
			   char *prefix, size_t plen);

/*
 * Open the tier named by cfg->shared_cache (NULL *out, 0 when unset).  s3:
 * an object client to use (borrowed; tests), or NULL to make one from the
 * shared_cache_* settings, falling back to the s3_* ones.  Contacts nothing.
 */
int astro_shared_open(struct astro_shared **out, const struct astro_config *cfg,
		      struct astro_s3 *s3, char *msg, size_t msglen);
void astro_shared_close(struct astro_shared *sh);

/* 1 when calls are worth trying now (not marked down). */
int astro_shared_usable(struct astro_shared *sh);

/*
 * GET PREFIX/key (at most max bytes).  0, -ENOENT, -ENETDOWN (tier down or
 * failed now: fall back), -EFBIG.
 */
int astro_shared_get(struct astro_shared *sh, const char *key, size_t max,
		     char **body, size_t *len);

/*
 * PUT PREFIX/key.  create_only: If-None-Match: * (-EEXIST when it exists:
 * someone else stored it, which for immutable objects is success).
 */
int astro_shared_put(struct astro_shared *sh, const char *key, const void *body,
		     size_t len, int create_only);

/* DELETE PREFIX/key (0 when absent too). */
int astro_shared_delete(struct astro_shared *sh, const char *key);

/* ---- self-describing objects ---- */

struct astro_shared_env {
	char kind[32];		/* "tle-day", "fits-index" */
	char name[400];		/* the day, bucket/key@etag, ... */
	int64_t fetched_ms;	/* when the body came from upstream */
	int final;		/* upstream will not change it */
	uint64_t count;		/* kind-specific (element sets, HDUs) */
};

/* Envelope + body into a malloc'd object. 0 or -ENOMEM. */
int astro_shared_wrap(const struct astro_shared_env *e, const void *body,
		      size_t len, char **obj, size_t *objlen);

/*
 * Check an object: version, kind == want_kind, name == want_name, length
 * and SHA-256 of the body.  On success *body points into obj.  -EINVAL with
 * a message in err (the object is corrupt, partial or someone else's).
 */
int astro_shared_unwrap(const char *obj, size_t objlen, const char *want_kind,
			const char *want_name, struct astro_shared_env *e,
			const char **body, size_t *len, char *err, size_t errlen);

/* ---- leases ---- */

/* What a holder keeps to release exactly its own lease. */
struct astro_shared_lease_hold {
	char etag[128];		/* of the lease object as this holder wrote it */
	char token[40];		/* new for each acquisition, stored in the object */
};

/*
 * Try to become the one that fetches `name` for duration_ms.  1: this
 * machine holds the lease (*hold says which version; release it when
 * done); 0: another holds an unexpired lease, *expires_ms (wall clock)
 * says until when; -ENETDOWN.
 */
int astro_shared_lease(struct astro_shared *sh, const char *name, int64_t duration_ms,
		       int64_t *expires_ms, struct astro_shared_lease_hold *hold);
/*
 * Give the lease up, only if it is still the one *hold names: 0; -ESTALE
 * when it expired and was taken over (the new holder's lease is left
 * alone); -ENETDOWN.
 */
int astro_shared_lease_release(struct astro_shared *sh, const char *name,
			       const struct astro_shared_lease_hold *hold);

/*
 * A jittered exponential backoff: first_ms doubled per attempt (from 0) up
 * to cap_ms, then a uniform pick from its upper half, so machines that
 * started waiting together drift apart.
 */
int64_t astro_shared_backoff_ms(unsigned attempt, int64_t first_ms, int64_t cap_ms);

/* ---- the fleet's request ceiling ---- */

/*
 * Hold a fleet slot for one request to the service `name` under `rate`,
 * waiting (polling) until deadline_ms (astro_mono_ms clock).  0 and *slot;
 * -ETIMEDOUT; -EINTR; -ENETDOWN (tier down: the caller relies on its own
 * limiter alone).
 */
int astro_shared_slot_begin(struct astro_shared *sh, const char *name,
			    const struct astro_rate *rate, int64_t deadline_ms,
			    int64_t *slot);
/* The request of slot ended now (frees the slot one window from now). */
void astro_shared_slot_end(struct astro_shared *sh, const char *name,
			   const struct astro_rate *rate, int64_t slot);

/* Counters and state for /.astrofs/stats ("shared" section). */
void astro_shared_json(struct astro_shared *sh, json_t *obj);

#endif

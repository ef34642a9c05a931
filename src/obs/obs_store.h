/*
 * obs_store.h — where /obs commands, job records, status and images live.
 *
 * One interface (struct astro_obs_backend) for the command queue, the job
 * records, the status snapshot and the images, so the filesystem and
 * astrofs-obssim do not care where those are kept.  The backends:
 * `local` (obs_local.h, one directory, LMDB) and `aws` (obs_aws.h, SQS,
 * DynamoDB, S3).  The job model they share is obs_job.h; what is built
 * above the interface (batches of one write, submit, the newest image)
 * lives in obs_job.c.
 *
 * Jobs: astro_obs_store_enqueue() takes every command of one write and either
 * queues all of them or none.  `cancel` is resolved there:
 * queued targets become CANCELED at once; a target the site is already
 * working on is preempted by the site, which receives the cancel first.
 * Receiving pops the oldest urgent command, else the oldest other one, and
 * marks it RECEIVED (nothing is deleted before it is recorded).  A command
 * still queued at its expires_ms is marked EXPIRED instead of being
 * delivered, by receive() or by astro_obs_store_expire().
 *
 * Images enter a listing only when complete.
 *
 * Thread-safety: a store may be used from any number of threads.
 * Return values: 0 or -errno; -ENOENT for a missing job/status/image,
 * -EAGAIN when a queue is empty, -EINVAL for a refused transition or command
 * (with a message where the call takes err).
 */
#ifndef ASTRO_OBS_STORE_H
#define ASTRO_OBS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/astro.h"
#include "obs_job.h"

#define ASTRO_OBS_MAX_PENDING 1000	/* obs_max_pending default */
#define ASTRO_OBS_ERR_SHOWN 10		/* "err line" replies per write; then a count */

typedef int (*astro_obs_job_fn)(void *arg, const char *id, enum astro_obs_state st);
typedef int (*astro_obs_image_fn)(void *arg, const struct astro_obs_image *img);

/* The backend interface.  `impl` is the backend's own state. */
struct astro_obs_backend {
	const char *name;
	void (*close)(void *impl);
	int (*enqueue)(void *impl, const char *site, const struct astro_obs_cmd *cmds,
		       size_t n, char (*ids)[ASTRO_OBS_ID_LEN + 1], char *err,
		       size_t errlen);
	int (*receive)(void *impl, const char *site, bool urgent_only,
		       struct astro_obs_job *job);
	int (*update)(void *impl, const char *site, const char *id,
		      enum astro_obs_state to, const char *message, double eta_s,
		      const char *image);
	int (*job_json)(void *impl, const char *site, const char *id, char **json);
	int (*jobs)(void *impl, const char *site, astro_obs_job_fn fn, void *arg);
	int (*status_put)(void *impl, const char *site, const char *json);
	int (*status_get)(void *impl, const char *site, char **json);
	int (*counter_next)(void *impl, const char *site, const char *counter,
			    uint64_t *value);
	int (*image_put)(void *impl, const char *site, const char *name,
			 const void *data, size_t len, uint64_t seq);
	int (*images)(void *impl, const char *site, astro_obs_image_fn fn, void *arg);
	int (*image_open)(void *impl, const char *site, const char *name);
	int (*expire)(void *impl, const char *site);
	void (*set_retention)(void *impl, unsigned seconds);
	/* Optional: a new fd (close it) that becomes readable when the store
	 * may have changed, so a site waits on it instead of polling; drain
	 * it with astro_obs_store_watch_drain().  Without it: -ENOTSUP. */
	int (*watch)(void *impl);
	/* Optional: refuse an enqueue that would leave more than n commands
	 * of a site waiting (-EDQUOT), checked in the enqueue's own
	 * transaction.  Without it only the per-write bound holds. */
	void (*set_max_pending)(void *impl, unsigned n);
};

struct astro_obs_store {
	const struct astro_obs_backend *ops;
	void *impl;
	unsigned max_pending;	/* 0: ASTRO_OBS_MAX_PENDING */
};

void astro_obs_store_close(struct astro_obs_store *s);

/*
 * Queue n commands for a site, all or none.  ids[i] receives the id of
 * cmds[i].  A cancel whose target does not exist or has already ended fails
 * the whole call with -EINVAL and a message naming the command's index
 * ("command 2: ...").
 */
static inline int astro_obs_store_enqueue(struct astro_obs_store *s, const char *site,
					  const struct astro_obs_cmd *cmds, size_t n,
					  char (*ids)[ASTRO_OBS_ID_LEN + 1],
					  char *err, size_t errlen)
{
	return s->ops->enqueue(s->impl, site, cmds, n, ids, err, errlen);
}

/* Pop the next command for the site and mark it RECEIVED; -EAGAIN if none
 * (with urgent_only, if no stop/cancel is waiting). */
static inline int astro_obs_store_receive(struct astro_obs_store *s, const char *site,
					  bool urgent_only, struct astro_obs_job *job)
{
	return s->ops->receive(s->impl, site, urgent_only, job);
}

/* Move a job to state `to`; message (may be NULL), eta_s (< 0: unchanged)
 * and image (may be NULL) are recorded with it.  -EINVAL if the map forbids
 * the transition. */
static inline int astro_obs_store_update(struct astro_obs_store *s, const char *site,
					 const char *id, enum astro_obs_state to,
					 const char *message, double eta_s,
					 const char *image)
{
	return s->ops->update(s->impl, site, id, to, message, eta_s, image);
}

/* The job record as JSON text (malloc'd, ends in a newline). */
static inline int astro_obs_store_job_json(struct astro_obs_store *s, const char *site,
					   const char *id, char **json)
{
	return s->ops->job_json(s->impl, site, id, json);
}

/* Every job of the site in id (= issue) order; stops early if fn returns
 * non-zero (that value is returned). */
static inline int astro_obs_store_jobs(struct astro_obs_store *s, const char *site,
				       astro_obs_job_fn fn, void *arg)
{
	return s->ops->jobs(s->impl, site, fn, arg);
}

static inline int astro_obs_store_status_put(struct astro_obs_store *s, const char *site,
					     const char *json)
{
	return s->ops->status_put(s->impl, site, json);
}

/* The last status the site published (malloc'd); -ENOENT if it never did. */
static inline int astro_obs_store_status_get(struct astro_obs_store *s, const char *site,
					     char **json)
{
	return s->ops->status_get(s->impl, site, json);
}

/* Increment a persistent counter and return the new value (first is 1). */
static inline int astro_obs_store_counter_next(struct astro_obs_store *s, const char *site,
					       const char *counter, uint64_t *value)
{
	return s->ops->counter_next(s->impl, site, counter, value);
}

/* Store a complete image; -EEXIST if the name is taken (names are never
 * reused). */
static inline int astro_obs_store_image_put(struct astro_obs_store *s, const char *site,
					    const char *name, const void *data,
					    size_t len, uint64_t seq)
{
	return s->ops->image_put(s->impl, site, name, data, len, seq);
}

/* Every complete image of the site, in name order. */
static inline int astro_obs_store_images(struct astro_obs_store *s, const char *site,
					 astro_obs_image_fn fn, void *arg)
{
	return s->ops->images(s->impl, site, fn, arg);
}

/* A read-only fd on an indexed image (close it), or -errno. */
static inline int astro_obs_store_image_open(struct astro_obs_store *s, const char *site,
					     const char *name)
{
	return s->ops->image_open(s->impl, site, name);
}

/*
 * The pending-command cap (obs_max_pending): a site may have at most n
 * commands waiting (queued, not yet taken by the site) after any write, and
 * one write may carry at most n commands.  Both refusals are -EDQUOT and
 * queue nothing.  The local backend checks the queue inside the enqueue
 * transaction; the aws backend bounds only each write.
 */
void astro_obs_store_set_max_pending(struct astro_obs_store *s, unsigned n);
unsigned astro_obs_store_max_pending(const struct astro_obs_store *s);

/*
 * The commands of one user write, parsed as its pieces arrive (a write(2)
 * larger than the kernel's request size reaches the filesystem in several),
 * and queued together: nothing of a write with an invalid line, or with
 * more commands than `max`, is queued.  Memory is bounded by `max` commands
 * (blank and comment lines are only counted), replies by `max` "ok" lines
 * or ASTRO_OBS_ERR_SHOWN "err line" lines and one count of the rest.
 *
 * astro_obs_store_batch_add(): text is complete lines (the last one may lack its
 * newline); line numbers continue from the previous add.  Returns 0, or the
 * refusal (-EINVAL: an invalid line; -EDQUOT: more than max commands; the
 * first refusal sticks) with the reason kept for astro_obs_store_batch_commit().
 * astro_obs_store_batch_commit(): queue everything added (all or none), append
 * "ok <id> <verb>" lines (or the "err" lines) to *reply, reset the batch;
 * returns the number queued or -errno.  A batch already refused is not
 * queued: its "err" lines are appended and its refusal returned.
 */
struct astro_obs_store_batch {
	struct astro_obs_cmd *cmds;
	size_t *lineno;
	size_t n, cap, lines;
	unsigned max, nerr;
	int rc;
	struct astro_buf errs;
};
void astro_obs_store_batch_init(struct astro_obs_store_batch *b, unsigned max);
int astro_obs_store_batch_add(struct astro_obs_store_batch *b, const char *text, size_t len);
int astro_obs_store_batch_commit(struct astro_obs_store *s, const char *site,
			   struct astro_obs_store_batch *b, struct astro_buf *reply);
/* Forget what was added (keep the memory); free releases it. */
void astro_obs_store_batch_reset(struct astro_obs_store_batch *b);
void astro_obs_store_batch_free(struct astro_obs_store_batch *b);

/*
 * One batch of text (every line complete; a last line without a newline
 * counts too): queue all of it or none.  *reply (malloc'd) gets one line per
 * command: "ok <id> <verb>\n"; on failure "err line <n>: <reason>\n" per
 * refused line (at most ASTRO_OBS_ERR_SHOWN, then "err <k> more invalid
 * lines\n") and nothing is queued.  Returns the number of commands queued,
 * or -EINVAL (refused), -EDQUOT (over the pending cap) / -errno.
 */
int astro_obs_store_submit(struct astro_obs_store *s, const char *site,
			   const char *text, size_t len, char **reply);

/* Mark the site's queued commands past their expires_ms EXPIRED; returns
 * how many. */
static inline int astro_obs_store_expire(struct astro_obs_store *s, const char *site)
{
	return s->ops->expire(s->impl, site);
}

/* Retention given to commands queued from now on (tests shorten it). */
static inline void astro_obs_store_set_retention(struct astro_obs_store *s, unsigned seconds)
{
	s->ops->set_retention(s->impl, seconds);
}

/*
 * Wait up to timeout_ms for the store to change: with a watch fd (from
 * astro_obs_store_watch(), >= 0) until it is readable, then drained;
 * without one (< 0), just the timeout.  Spurious wakes are possible.
 */
int astro_obs_store_watch(struct astro_obs_store *s);
void astro_obs_store_watch_wait(int fd, int timeout_ms);

/* The newest image (highest seq; of one seq's FITS and preview, the FITS)
 * into *img; -ENOENT if none. */
int astro_obs_store_latest_image(struct astro_obs_store *s, const char *site,
				 struct astro_obs_image *img);

#endif

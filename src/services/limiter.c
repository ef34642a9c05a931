/* limiter.c — see limiter.h.  State: a sorted array of int64 ms stamps. */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "core/astro.h"
#include "services/limiter.h"
#include "services/shared.h"
#include "core/log.h"
#include "core/op.h"

#define MAX_STAMPS ASTRO_RATE_LIMIT_MAX	/* what config.c lets a window ask for */
#define HOLD_SLACK_MS 1000	/* curl may overrun its timeout a little */
#define HELD_POLL_MS 100

struct astro_limiter {
	struct astro_cache *cache;
	char key[64];
	struct astro_rate rate;
	unsigned max_window_s;
	pthread_mutex_t lock;
	int64_t *mem;		/* state when there is no cache */
	size_t nmem;
#ifdef ASTRO_UNITTEST
	int64_t offset_ms;	/* astro_limiter_set_clock_offset */
#endif
	/* The fleet's ceiling (shared_cache), on top of this machine's. */
	struct astro_shared *fleet;
	struct { int64_t local, fleet; } map[64];	/* slots held in both */
	unsigned nmap;
};

int astro_limiter_open(struct astro_limiter **out, struct astro_cache *cache,
		       const char *name, const struct astro_rate *rate)
{
	struct astro_limiter *l;

	if (rate->n == 0)
		return -EINVAL;
	for (unsigned i = 0; i < rate->n; i++)
		if (rate->w[i].limit == 0 || rate->w[i].limit > MAX_STAMPS || rate->w[i].seconds == 0)
			return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->cache = cache;
	snprintf(l->key, sizeof(l->key), "limiter/v1/%s", name);
	l->rate = *rate;
	for (unsigned i = 0; i < rate->n; i++)
		if (rate->w[i].seconds > l->max_window_s)
			l->max_window_s = rate->w[i].seconds;
	/* decide.used[] has a slot per window */
	assert(l->rate.n <= ASTRO_RATE_MAX_WINDOWS);
	pthread_mutex_init(&l->lock, NULL);
	*out = l;
	return 0;
}

void astro_limiter_close(struct astro_limiter *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l->mem);
	free(l);
}

/*
 * A slot counts from its grant until its request has ended: upstream receives
 * a request somewhere between the two, so only then does the ceiling hold at
 * the receiving end however late a loaded machine sends.  While a request is
 * in flight its stamp is the latest time it can end (its deadline); when it
 * ends, astro_limiter_end() moves the stamp to the end time.  A process that
 * dies mid-request thus leaves a stamp that frees itself one window after
 * that deadline.  Stamps later than now are therefore requests in flight (or
 * a wall clock stepped back): a waiter cannot know when they free up, so it
 * polls instead of giving up on the estimate.
 */
enum op { PEEK, RECORD, END };

struct decide {
	struct astro_limiter *l;
	int64_t now;
	enum op op;
	int64_t hold_ms;	/* RECORD: how long the slot may stay in flight */
	int64_t stamp;		/* RECORD out: the stamp recorded; END in: the slot */
	int64_t wait;		/* out: ms until a slot, 0 if recorded/possible */
	int held;		/* out: the slot to free first is still in flight */
	unsigned used[ASTRO_RATE_MAX_WINDOWS];
};

/* Insert v into the sorted st[0..n) (room for n + 1). */
static void insert_sorted(int64_t *st, size_t n, int64_t v)
{
	size_t i = n;

	while (i > 0 && st[i - 1] > v) {
		st[i] = st[i - 1];
		i--;
	}
	st[i] = v;
}

/* Core rule, on a stamp array; returns the new array when it changes. */
static int decide_fn(const void *old, size_t oldlen, void **out, size_t *outlen, void *arg)
{
	struct decide *d = arg;
	size_t n = oldlen / sizeof(int64_t), first = 0, keep;
	int64_t horizon = d->now - (int64_t)d->l->max_window_s * 1000;
	int64_t *st;

	/* LMDB values carry no alignment guarantee: work on a copy, with room
	 * for one more stamp. */
	st = malloc((n + 1) * sizeof(int64_t));
	if (!st)
		return -ENOMEM;
	if (n)
		memcpy(st, old, n * sizeof(int64_t));

	if (d->op == END) {
		size_t i = 0;

		while (i < n && st[i] != d->stamp)
			i++;
		if (i < n) {
			memmove(st + i, st + i + 1, (n - i - 1) * sizeof(int64_t));
			n--;
		}
		insert_sorted(st, n, d->now);
		n++;
		goto write;
	}

	/* Stamps from the future (clock stepped back, or in flight) still
	 * count: dropping them would let a clock change buy extra requests. */
	while (first < n && st[first] <= horizon)
		first++;
	d->wait = 0;
	d->held = 0;
	for (unsigned i = 0; i < d->l->rate.n; i++) {
		const struct astro_rate_window *w = &d->l->rate.w[i];
		int64_t since = d->now - (int64_t)w->seconds * 1000;
		size_t j = first, c;

		while (j < n && st[j] <= since)
			j++;
		c = n - j;
		d->used[i] = (unsigned)c;
		if (c >= w->limit) {
			/* The (c - limit + 1)-th oldest stamp in the window must leave. */
			int64_t oldest = st[j + (c - w->limit)];
			int64_t free_at = oldest + (int64_t)w->seconds * 1000 + 1;

			if (oldest > d->now)
				d->held = 1;
			if (free_at - d->now > d->wait)
				d->wait = free_at - d->now;
		}
	}
	if (d->wait > 0 || d->op != RECORD) {
		free(st);
		return 0;
	}
	d->stamp = d->now + (d->hold_ms > 0 ? d->hold_ms : 0);
	insert_sorted(st, n, d->stamp);
	n++;
write:
	first = 0;
	while (first < n && st[first] <= horizon)
		first++;
	keep = n - first;
	if (keep > MAX_STAMPS)
		first = n - MAX_STAMPS, keep = MAX_STAMPS;
	assert(keep <= MAX_STAMPS);
	memmove(st, st + first, keep * sizeof(int64_t));
	*out = st;
	*outlen = keep * sizeof(int64_t);
	return 0;
}

static int run(struct astro_limiter *l, struct decide *d)
{
	int rc;

	d->l = l;
	d->now = astro_now_ms();
#ifdef ASTRO_UNITTEST
	d->now += l->offset_ms;
#endif
	if (l->cache)
		return astro_cache_update(l->cache, "_meta", l->key, strlen(l->key), decide_fn, d);
	pthread_mutex_lock(&l->lock);
	assert(l->nmem <= MAX_STAMPS);
	void *out = NULL;
	size_t outlen = 0;
	rc = decide_fn(l->mem, l->nmem * sizeof(int64_t), &out, &outlen, d);
	if (rc == 0 && out) {
		free(l->mem);
		l->mem = out;
		l->nmem = outlen / sizeof(int64_t);
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

static int local_begin(struct astro_limiter *l, int64_t deadline_ms, int64_t *slot)
{
	/* The caller's FUSE operation may have less time left (op.h). */
	deadline_ms = astro_op_deadline(deadline_ms);
	for (;;) {
		struct decide d = { .op = RECORD };
		int64_t left = deadline_ms - astro_mono_ms(), nap;
		int rc;

		/* The request ends by its deadline (plus curl's own slack). */
		d.hold_ms = (left > 0 ? left : 0) + HOLD_SLACK_MS;
		rc = run(l, &d);
		if (rc < 0)
			return rc;
		if (d.wait == 0) {
			*slot = d.stamp;
			return 0;
		}
		if (left <= 0 || (!d.held && d.wait > left)) {
			astro_info("limiter %s: next slot in %lld ms, past the deadline",
				   l->key + 11, (long long)d.wait);
			return -ETIMEDOUT;
		}
		/* Wake at most every second (another process may free a
		 * slot); poll a slot in flight more often, it may end at any
		 * moment.  The sleep is sliced: an interrupt of the caller's
		 * operation or a shutdown ends the wait at once (op.h). */
		nap = d.wait < 1000 ? d.wait : 1000;
		if (d.held && nap > HELD_POLL_MS)
			nap = HELD_POLL_MS;
		if (nap > left)
			nap = left;
		if ((rc = astro_op_sleep(nap)))
			return rc;
	}
}

void astro_limiter_set_fleet(struct astro_limiter *l, struct astro_shared *fleet)
{
	l->fleet = fleet;
}

/*
 * This machine's slot first (it also covers a fall-back while the tier is
 * down), then the fleet's; a tier that fails now leaves this machine on its
 * own ceiling (shared.c logs that once).
 */
int astro_limiter_begin(struct astro_limiter *l, int64_t deadline_ms, int64_t *slot)
{
	int64_t k;
	int rc = local_begin(l, deadline_ms, slot);

	if (rc || !l->fleet)
		return rc;
	rc = astro_shared_slot_begin(l->fleet, l->key + 11, &l->rate, deadline_ms, &k);
	if (rc == -ENETDOWN)
		return 0;
	if (rc) {
		astro_limiter_end(l, *slot);
		return rc;
	}
	pthread_mutex_lock(&l->lock);
	if (l->nmap < ASTRO_ARRAY_SIZE(l->map)) {
		l->map[l->nmap].local = *slot;
		l->map[l->nmap].fleet = k;
		l->nmap++;
	}
	pthread_mutex_unlock(&l->lock);
	return 0;
}

void astro_limiter_end(struct astro_limiter *l, int64_t slot)
{
	struct decide d = { .op = END, .stamp = slot };
	int64_t k = -1;
	int rc;

	pthread_mutex_lock(&l->lock);
	for (unsigned i = 0; i < l->nmap; i++)
		if (l->map[i].local == slot) {
			k = l->map[i].fleet;
			l->map[i] = l->map[--l->nmap];
			break;
		}
	pthread_mutex_unlock(&l->lock);
	if (k >= 0)
		astro_shared_slot_end(l->fleet, l->key + 11, &l->rate, k);
	rc = run(l, &d);

	/* Not fatal: the slot then frees itself a window after its deadline. */
	if (rc < 0)
		astro_warn("limiter %s: cannot end a slot: %s", l->key + 11, strerror(-rc));
}

int astro_limiter_acquire(struct astro_limiter *l, int64_t deadline_ms)
{
	int64_t slot;
	int rc = astro_limiter_begin(l, deadline_ms, &slot);

	if (rc == 0)
		astro_limiter_end(l, slot);
	return rc;
}

#ifdef ASTRO_UNITTEST
int64_t astro_limiter_wait_ms(struct astro_limiter *l)
{
	struct decide d = { .op = PEEK };

	if (run(l, &d) < 0)
		return -1;
	return d.wait;
}
#endif

void astro_limiter_json(struct astro_limiter *l, json_t *obj)
{
	struct decide d = { .op = PEEK };
	json_t *arr = json_array();

	run(l, &d);
	for (unsigned i = 0; i < l->rate.n; i++) {
		json_t *w = json_object();

		json_object_set_new(w, "seconds", json_integer(l->rate.w[i].seconds));
		json_object_set_new(w, "limit", json_integer(l->rate.w[i].limit));
		json_object_set_new(w, "used", json_integer(d.used[i]));
		json_array_append_new(arr, w);
	}
	json_object_set_new(obj, "windows", arr);
	json_object_set_new(obj, "wait_ms", json_integer(d.wait));
}

#ifdef ASTRO_UNITTEST
void astro_limiter_set_clock_offset(struct astro_limiter *l, int64_t offset_ms)
{
	l->offset_ms = offset_ms;
}
#endif

/* limiter.c — see limiter.h.  State: a sorted array of int64 ms stamps. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "astro.h"
#include "limiter.h"
#include "log.h"
#include "op.h"

#define MAX_STAMPS 4096

struct astro_limiter {
	struct astro_cache *cache;
	char key[64];
	struct astro_rate rate;
	unsigned max_window_s;
	pthread_mutex_t lock;
	int64_t *mem;		/* state when there is no cache */
	size_t nmem;
	int64_t offset_ms;
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

struct decide {
	struct astro_limiter *l;
	int64_t now;
	int record;
	int64_t wait;		/* out: ms until a slot, 0 if recorded/possible */
	unsigned used[ASTRO_RATE_MAX_WINDOWS];
};

/* Core rule, on a stamp array; returns the new array when recording. */
static int decide_fn(const void *old, size_t oldlen, void **out, size_t *outlen, void *arg)
{
	struct decide *d = arg;
	size_t n = oldlen / sizeof(int64_t), first = 0, keep;
	int64_t horizon = d->now - (int64_t)d->l->max_window_s * 1000;
	int64_t *nw, *st = NULL;
	int rc = 0;

	/* LMDB values carry no alignment guarantee: work on a copy. */
	if (n) {
		st = malloc(n * sizeof(int64_t));
		if (!st)
			return -ENOMEM;
		memcpy(st, old, n * sizeof(int64_t));
	}

	/* Stamps from the future (clock stepped back) still count: dropping them
	 * would let a clock change buy extra requests. */
	while (first < n && st[first] <= horizon)
		first++;
	keep = n - first;
	d->wait = 0;
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
			int64_t free_at = st[j + (c - w->limit)] + (int64_t)w->seconds * 1000 + 1;

			if (free_at - d->now > d->wait)
				d->wait = free_at - d->now;
		}
	}
	if (d->wait > 0 || !d->record)
		goto out;
	if (keep >= MAX_STAMPS)
		first = n - (MAX_STAMPS - 1), keep = MAX_STAMPS - 1;
	nw = malloc((keep + 1) * sizeof(int64_t));
	if (!nw) {
		rc = -ENOMEM;
		goto out;
	}
	if (keep)
		memcpy(nw, st + first, keep * sizeof(int64_t));
	/* Keep the array sorted even if the wall clock stepped back. */
	nw[keep] = keep && st[n - 1] > d->now ? st[n - 1] : d->now;
	*out = nw;
	*outlen = (keep + 1) * sizeof(int64_t);
out:
	free(st);
	return rc;
}

static int run(struct astro_limiter *l, struct decide *d)
{
	int rc;

	d->l = l;
	d->now = astro_now_ms() + l->offset_ms;
	if (l->cache)
		return astro_cache_update(l->cache, "_meta", l->key, strlen(l->key), decide_fn, d);
	pthread_mutex_lock(&l->lock);
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

int astro_limiter_acquire(struct astro_limiter *l, int64_t deadline_ms)
{
	/* The caller's FUSE operation may have less time left (op.h). */
	deadline_ms = astro_op_deadline(deadline_ms);
	for (;;) {
		struct decide d = { .record = 1 };
		int64_t left;
		int rc = run(l, &d);

		if (rc < 0)
			return rc;
		if (d.wait == 0)
			return 0;
		left = deadline_ms - astro_mono_ms();
		if (left <= 0 || d.wait > left) {
			astro_info("limiter %s: next slot in %lld ms, past the deadline",
				   l->key + 11, (long long)d.wait);
			return -ETIMEDOUT;
		}
		/* Sleep in short slices: an interrupt of the caller's operation
		 * or a shutdown ends the wait at once (op.h). */
		if ((rc = astro_op_sleep(d.wait < 1000 ? d.wait : 1000)))
			return rc;
	}
}

int64_t astro_limiter_wait_ms(struct astro_limiter *l)
{
	struct decide d = { .record = 0 };

	if (run(l, &d) < 0)
		return -1;
	return d.wait;
}

void astro_limiter_json(struct astro_limiter *l, json_t *obj)
{
	struct decide d = { .record = 0 };
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

void astro_limiter_set_clock_offset(struct astro_limiter *l, int64_t offset_ms)
{
	l->offset_ms = offset_ms;
}

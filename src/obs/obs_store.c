/*
 * obs_store.c — what every backend shares above the interface
 * (obs_store.h): batches of one write, submit, the newest image, the
 * change watch and the pending bound.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>
#include "core/astro.h"
#include "obs_store.h"

void astro_obs_store_close(struct astro_obs_store *s)
{
	if (!s)
		return;
	s->ops->close(s->impl);
	free(s);
}

struct latest {
	struct astro_obs_image *img;
	bool found;
};

static bool is_fits(const char *name)
{
	size_t n = strlen(name);

	return n > 5 && strcmp(name + n - 5, ".fits") == 0;
}

/* Highest seq; at one seq the FITS (NAME.fits beside its preview
 * NAME.jpg), then the greater name. */
static int latest_step(void *arg, const struct astro_obs_image *img)
{
	struct latest *w = arg;
	int c = !w->found ? 1
		: img->seq != w->img->seq ? (img->seq > w->img->seq ? 1 : -1)
		: is_fits(img->name) != is_fits(w->img->name) ? (is_fits(img->name) ? 1 : -1)
		: strcmp(img->name, w->img->name);

	if (c > 0) {
		*w->img = *img;
		w->found = true;
	}
	return 0;
}

int astro_obs_store_latest_image(struct astro_obs_store *s, const char *site,
				 struct astro_obs_image *img)
{
	struct latest w = { img, false };
	int rc = astro_obs_store_images(s, site, latest_step, &w);

	if (rc < 0)
		return rc;
	return w.found ? 0 : -ENOENT;
}

int astro_obs_store_watch(struct astro_obs_store *s)
{
	return s->ops->watch ? s->ops->watch(s->impl) : -ENOTSUP;
}

void astro_obs_store_watch_wait(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[4096];

	if (fd < 0) {
		astro_sleep_ms(timeout_ms);
		return;
	}
	if (poll(&p, 1, timeout_ms) > 0)
		while (read(fd, buf, sizeof(buf)) > 0)
			;	/* non-blocking: every event so far */
}

void astro_obs_store_set_max_pending(struct astro_obs_store *s, unsigned n)
{
	if (!n)
		n = ASTRO_OBS_MAX_PENDING;
	s->max_pending = n;
	if (s->ops->set_max_pending)
		s->ops->set_max_pending(s->impl, n);
}

unsigned astro_obs_store_max_pending(const struct astro_obs_store *s)
{
	return s->max_pending ? s->max_pending : ASTRO_OBS_MAX_PENDING;
}

void astro_obs_store_batch_init(struct astro_obs_store_batch *b, unsigned max)
{
	memset(b, 0, sizeof(*b));
	b->max = max ? max : ASTRO_OBS_MAX_PENDING;
}

void astro_obs_store_batch_reset(struct astro_obs_store_batch *b)
{
	b->n = 0;
	b->lines = 0;
	b->nerr = 0;
	b->rc = 0;
	b->errs.len = 0;
	b->errs.err = 0;
	if (b->errs.p)
		b->errs.p[0] = '\0';
}

void astro_obs_store_batch_free(struct astro_obs_store_batch *b)
{
	free(b->cmds);
	free(b->lineno);
	free(b->errs.p);
	memset(b, 0, sizeof(*b));
}

/* One refused line: its reason while few, then only counted. */
static void batch_refuse(struct astro_obs_store_batch *b, int rc, const char *reason)
{
	if (!b->rc)
		b->rc = rc;
	if (b->nerr++ < ASTRO_OBS_ERR_SHOWN)
		astro_buf_printf(&b->errs, "err line %zu: %s\n", b->lines, reason);
}

static int batch_push(struct astro_obs_store_batch *b, const struct astro_obs_cmd *c)
{
	/* astro_obs_store_batch_add refuses a command past the cap before this */
	assert(b->n < b->max && b->n <= b->cap);
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 8;
		struct astro_obs_cmd *cmds = realloc(b->cmds, cap * sizeof(*cmds));

		if (!cmds)
			return -ENOMEM;
		b->cmds = cmds;
		size_t *lineno = realloc(b->lineno, cap * sizeof(*lineno));

		if (!lineno)
			return -ENOMEM;
		b->lineno = lineno;
		b->cap = cap;
	}
	b->cmds[b->n] = *c;
	b->lineno[b->n++] = b->lines;
	return 0;
}

int astro_obs_store_batch_add(struct astro_obs_store_batch *b, const char *text, size_t len)
{
	size_t pos = 0;
	char err[200];

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		struct astro_obs_cmd c;
		int r;

		b->lines++;
		r = astro_obs_cmd_parse(text + pos, end - pos, &c, err, sizeof(err));
		pos = end + 1;
		if (r < 0) {
			batch_refuse(b, -EINVAL, err);
			continue;
		}
		if (r == 0 || b->rc)
			continue;	/* a refused write keeps only its reasons */
		if (b->n >= b->max) {
			snprintf(err, sizeof(err), "more than %u commands in one write (obs_max_pending)",
				 b->max);
			batch_refuse(b, -EDQUOT, err);
			/* Past the cap nothing more is worth reading. */
			return b->rc;
		}
		r = batch_push(b, &c);
		if (r < 0)
			return r;
	}
	return b->rc;
}

int astro_obs_store_batch_commit(struct astro_obs_store *s, const char *site,
			   struct astro_obs_store_batch *b, struct astro_buf *reply)
{
	char (*ids)[ASTRO_OBS_ID_LEN + 1] = NULL;
	char err[200];
	int rc = b->rc;

	if (rc < 0) {
		astro_buf_put(reply, b->errs.p ? b->errs.p : "", b->errs.len);
		if (b->nerr > ASTRO_OBS_ERR_SHOWN)
			astro_buf_printf(reply, "err %u more invalid lines\n",
					 b->nerr - ASTRO_OBS_ERR_SHOWN);
		goto out;
	}
	if (!b->n)
		goto out;
	ids = calloc(b->n, sizeof(*ids));
	if (!ids) {
		rc = -ENOMEM;
		goto out;
	}
	err[0] = '\0';
	rc = astro_obs_store_enqueue(s, site, b->cmds, b->n, ids, err, sizeof(err));
	if (rc < 0) {
		/* The store names the command by index; users want lines. */
		const char *msg = err;
		char *end;
		unsigned long idx = 0;

		if (strncmp(err, "command ", 8) == 0) {
			idx = strtoul(err + 8, &end, 10);
			if (idx >= 1 && idx <= b->n && end[0] == ':')
				msg = end + 2;
			else
				idx = 0;
		}
		if (idx)
			astro_buf_printf(reply, "err line %zu: %s\n", b->lineno[idx - 1], msg);
		else
			astro_buf_printf(reply, "err %s\n", err[0] ? err : strerror(-rc));
		goto out;
	}
	for (size_t i = 0; i < b->n; i++)
		astro_buf_printf(reply, "ok %s %s\n", ids[i],
				 astro_obs_cmd_verb_name(b->cmds[i].verb));
	rc = (int)b->n;
out:
	free(ids);
	astro_obs_store_batch_reset(b);
	return rc;
}

int astro_obs_store_submit(struct astro_obs_store *s, const char *site,
			   const char *text, size_t len, char **reply)
{
	struct astro_obs_store_batch b;
	struct astro_buf out = { 0 };
	int rc;

	*reply = NULL;
	astro_obs_store_batch_init(&b, astro_obs_store_max_pending(s));
	rc = astro_obs_store_batch_add(&b, text, len);
	if (rc != -ENOMEM)
		rc = astro_obs_store_batch_commit(s, site, &b, &out);
	astro_obs_store_batch_free(&b);
	if (out.err) {
		free(out.p);
		out.p = NULL;
		if (rc >= 0)
			rc = out.err;
	}
	if (!out.p && rc != -ENOMEM)
		out.p = strdup("");
	*reply = out.p;
	return rc;
}

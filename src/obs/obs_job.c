/*
 * obs_job.c — the backend-independent /obs job model (see obs_job.h) and
 * what every backend shares above the interface (obs_store.h): batches,
 * submit, the newest image.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>
#include <jansson.h>
#include "core/astro.h"
#include "obs_store.h"
#include "ulid.h"

static const char *const state_names[ASTRO_OBS_NSTATES] = {
	"QUEUED", "SENT", "RECEIVED", "STARTED", "COMPLETE",
	"REJECTED", "FAILED", "EXPIRED", "CANCELED",
};

const char *astro_obs_state_name(enum astro_obs_state s)
{
	return (unsigned)s < ASTRO_OBS_NSTATES ? state_names[s] : "?";
}

int astro_obs_state_parse(const char *s)
{
	int i;

	for (i = 0; i < ASTRO_OBS_NSTATES; i++)
		if (strcmp(s, state_names[i]) == 0)
			return i;
	return -EINVAL;
}

bool astro_obs_state_terminal(enum astro_obs_state s)
{
	return s >= ASTRO_OBS_COMPLETE;
}

bool astro_obs_state_allowed(enum astro_obs_state from, enum astro_obs_state to)
{
#define B(s) (1u << ASTRO_OBS_##s)
	/* Forward only; every live state may end canceled; only a site that
	 * has the command may reject, fail or complete it. */
	static const unsigned next[ASTRO_OBS_NSTATES] = {
		[ASTRO_OBS_QUEUED] = B(SENT) | B(RECEIVED) | B(EXPIRED) | B(CANCELED) |
				     B(COMPLETE),
		[ASTRO_OBS_SENT] = B(RECEIVED) | B(EXPIRED) | B(CANCELED),
		[ASTRO_OBS_RECEIVED] = B(STARTED) | B(REJECTED) | B(FAILED) | B(CANCELED),
		[ASTRO_OBS_STARTED] = B(COMPLETE) | B(FAILED) | B(CANCELED),
	};
#undef B
	if ((unsigned)from >= ASTRO_OBS_NSTATES || (unsigned)to >= ASTRO_OBS_NSTATES)
		return false;
	return (next[from] >> to) & 1u;
}

bool astro_obs_job_site_valid(const char *site)
{
	return site && astro_obs_sites_key_valid(site, strlen(site));
}

bool astro_obs_job_id_valid(const char *id)
{
	return id && astro_ulid_valid(id, strlen(id));
}

/* Image names end up as file names: one path component, no dot files. */
bool astro_obs_image_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0, i;

	if (n == 0 || n > ASTRO_OBS_IMAGE_NAME_MAX || name[0] == '.')
		return false;
	for (i = 0; i < n; i++)
		if (name[i] == '/' || (unsigned char)name[i] < 0x21 ||
		    (unsigned char)name[i] > 0x7e)
			return false;
	return true;
}

enum astro_obs_state astro_obs_job_state(const json_t *job)
{
	const char *s = json_string_value(json_object_get(job, "state"));
	int st = s ? astro_obs_state_parse(s) : -EINVAL;

	/* An unknown state is treated as final so nothing moves it. */
	return st < 0 ? ASTRO_OBS_FAILED : (enum astro_obs_state)st;
}

int astro_obs_job_set_state(json_t *job, enum astro_obs_state to, const char *message,
		     double eta_s, const char *image)
{
	int64_t now = astro_now_ms();
	json_t *hist = json_object_get(job, "history"), *h;

	if (!astro_obs_state_allowed(astro_obs_job_state(job), to))
		return -EINVAL;
	json_object_set_new(job, "state", json_string(astro_obs_state_name(to)));
	json_object_set_new(job, "updated_ms", json_integer(now));
	if (message)
		json_object_set_new(job, "message", json_string(message));
	if (eta_s >= 0)
		json_object_set_new(job, "eta_s", json_real(eta_s));
	if (image)
		json_object_set_new(json_object_get(job, "result"), "image",
				    json_string(image));
	h = json_pack("{s:s,s:I}", "state", astro_obs_state_name(to), "at_ms",
		      (json_int_t)now);
	if (!h || !json_is_array(hist) || json_array_append_new(hist, h) < 0)
		return -ENOMEM;
	return 0;
}

static json_t *params_of(const struct astro_obs_cmd *c)
{
	switch (c->verb) {
	case ASTRO_OBS_GOTO:
		return json_pack("{s:f,s:f,s:s}", "ra", c->ra_h, "dec", c->dec_deg,
				 "rdsys", c->jnow ? "JNOW" : "J2000");
	case ASTRO_OBS_TRACKING:
		return json_pack("{s:b}", "tracking", c->tracking);
	case ASTRO_OBS_EXPOSE:
		return json_pack("{s:f,s:i}", "seconds", c->seconds, "count", (int)c->count);
	case ASTRO_OBS_CANCEL:
		return json_pack("{s:s}", "target", c->cancel_all ? "all" : c->cancel_id);
	default:
		return json_object();
	}
}

bool astro_obs_job_urgent(const struct astro_obs_cmd *c)
{
	return c->verb == ASTRO_OBS_STOP || c->verb == ASTRO_OBS_CANCEL;
}

json_t *astro_obs_job_new(const char *site, const char *id, const struct astro_obs_cmd *c,
		       const char *line, unsigned retention_s)
{
	int64_t now = astro_now_ms();

	return json_pack("{s:s,s:s,s:s,s:s,s:o,s:s,s:I,s:I,s:I,s:n,s:s,s:{s:n},s:[{s:s,s:I}]}",
			 "id", id, "site", site, "line", line, "command",
			 astro_obs_cmd_verb_name(c->verb), "params", params_of(c),
			 "state", "QUEUED", "created_ms", (json_int_t)now,
			 "updated_ms", (json_int_t)now, "expires_ms",
			 (json_int_t)(now + retention_s * 1000LL), "eta_s",
			 "message", "", "result", "image", "history", "state", "QUEUED",
			 "at_ms", (json_int_t)now);
}

bool astro_obs_job_overdue(const json_t *job, int64_t now_ms)
{
	json_t *e = json_object_get(job, "expires_ms");
	int64_t at = json_is_integer(e) ? json_integer_value(e)
		   : json_integer_value(json_object_get(job, "created_ms")) +
		     ASTRO_OBS_RETENTION_S * 1000LL;

	return now_ms > at;
}

int astro_obs_job_pretty(const char *compact, char **json)
{
	json_t *j = json_loads(compact, 0, NULL);
	char *raw;

	/* Stored compact; shown indented for people. */
	if (!j)
		return -EIO;
	raw = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(j);
	if (!raw)
		return -ENOMEM;
	size_t n = strlen(raw);
	*json = realloc(raw, n + 2);
	if (!*json) {
		free(raw);
		return -ENOMEM;
	}
	memcpy(*json + n, "\n", 2);
	return 0;
}

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

void astro_obs_batch_init(struct astro_obs_batch *b, unsigned max)
{
	memset(b, 0, sizeof(*b));
	b->max = max ? max : ASTRO_OBS_MAX_PENDING;
}

void astro_obs_batch_reset(struct astro_obs_batch *b)
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

void astro_obs_batch_free(struct astro_obs_batch *b)
{
	free(b->cmds);
	free(b->lineno);
	free(b->errs.p);
	memset(b, 0, sizeof(*b));
}

/* One refused line: its reason while few, then only counted. */
static void batch_refuse(struct astro_obs_batch *b, int rc, const char *reason)
{
	if (!b->rc)
		b->rc = rc;
	if (b->nerr++ < ASTRO_OBS_ERR_SHOWN)
		astro_buf_printf(&b->errs, "err line %zu: %s\n", b->lines, reason);
}

static int batch_push(struct astro_obs_batch *b, const struct astro_obs_cmd *c)
{
	/* astro_obs_batch_add refuses a command past the cap before this */
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

int astro_obs_batch_add(struct astro_obs_batch *b, const char *text, size_t len)
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

int astro_obs_batch_commit(struct astro_obs_store *s, const char *site,
			   struct astro_obs_batch *b, struct astro_buf *reply)
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
	astro_obs_batch_reset(b);
	return rc;
}

int astro_obs_store_submit(struct astro_obs_store *s, const char *site,
			   const char *text, size_t len, char **reply)
{
	struct astro_obs_batch b;
	struct astro_buf out = { 0 };
	int rc;

	*reply = NULL;
	astro_obs_batch_init(&b, astro_obs_store_max_pending(s));
	rc = astro_obs_batch_add(&b, text, len);
	if (rc != -ENOMEM)
		rc = astro_obs_batch_commit(s, site, &b, &out);
	astro_obs_batch_free(&b);
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

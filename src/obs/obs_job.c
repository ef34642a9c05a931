/*
 * obs_job.c — the backend-independent /obs job model (see obs_job.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "core/astro.h"
#include "obs_store.h"
#include "ulid.h"

static const char *const state_names[ASTRO_OBS_NSTATES] = {
	"QUEUED", "SENT", "RECEIVED", "STARTED", "COMPLETE",
	"REJECTED", "FAILED", "EXPIRED", "CANCELED",
};

const char *astro_obs_job_state_name(enum astro_obs_state s)
{
	return (unsigned)s < ASTRO_OBS_NSTATES ? state_names[s] : "?";
}

int astro_obs_job_state_parse(const char *s)
{
	int i;

	for (i = 0; i < ASTRO_OBS_NSTATES; i++)
		if (strcmp(s, state_names[i]) == 0)
			return i;
	return -EINVAL;
}

bool astro_obs_job_state_terminal(enum astro_obs_state s)
{
	return s >= ASTRO_OBS_COMPLETE;
}

bool astro_obs_job_state_allowed(enum astro_obs_state from, enum astro_obs_state to)
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
bool astro_obs_job_image_name_valid(const char *name)
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
	int st = s ? astro_obs_job_state_parse(s) : -EINVAL;

	/* An unknown state is treated as final so nothing moves it. */
	return st < 0 ? ASTRO_OBS_FAILED : (enum astro_obs_state)st;
}

int astro_obs_job_set_state(json_t *job, enum astro_obs_state to, const char *message,
		     double eta_s, const char *image)
{
	int64_t now = astro_now_ms();
	json_t *hist = json_object_get(job, "history"), *h;

	if (!astro_obs_job_state_allowed(astro_obs_job_state(job), to))
		return -EINVAL;
	json_object_set_new(job, "state", json_string(astro_obs_job_state_name(to)));
	json_object_set_new(job, "updated_ms", json_integer(now));
	if (message)
		json_object_set_new(job, "message", json_string(message));
	if (eta_s >= 0)
		json_object_set_new(job, "eta_s", json_real(eta_s));
	if (image)
		json_object_set_new(json_object_get(job, "result"), "image",
				    json_string(image));
	h = json_pack("{s:s,s:I}", "state", astro_obs_job_state_name(to), "at_ms",
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

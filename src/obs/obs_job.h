/*
 * obs_job.h — the /obs job model every backend shares: states and the map
 * of allowed transitions, job records as JSON, what a valid site, id and
 * image name is, and which commands are urgent.
 *
 * States: QUEUED -> SENT -> RECEIVED -> STARTED -> COMPLETE, with terminal
 * REJECTED, FAILED, EXPIRED, CANCELED; astro_obs_job_state_allowed() is the map
 * every update is checked against, and a terminal state is final.
 *
 * Each job carries expires_ms (enqueue time + the store's retention,
 * ASTRO_OBS_RETENTION_S unless set): a command still queued then is marked
 * EXPIRED instead of being delivered.
 *
 * Pure functions over their arguments; safe from any thread.
 */
#ifndef ASTRO_OBS_JOB_H
#define ASTRO_OBS_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "obs_cmd.h"
#include "obs_sites.h"

#define ASTRO_OBS_RETENTION_S 900	/* a command not received by then expires */
#define ASTRO_OBS_IMAGE_NAME_MAX 127

enum astro_obs_state {
	ASTRO_OBS_QUEUED = 0,
	ASTRO_OBS_SENT,
	ASTRO_OBS_RECEIVED,
	ASTRO_OBS_STARTED,
	ASTRO_OBS_COMPLETE,
	ASTRO_OBS_REJECTED,
	ASTRO_OBS_FAILED,
	ASTRO_OBS_EXPIRED,
	ASTRO_OBS_CANCELED,
	ASTRO_OBS_NSTATES
};

const char *astro_obs_job_state_name(enum astro_obs_state s);
/* The state named s (upper case), or -EINVAL. */
int astro_obs_job_state_parse(const char *s);
bool astro_obs_job_state_terminal(enum astro_obs_state s);
bool astro_obs_job_state_allowed(enum astro_obs_state from, enum astro_obs_state to);

/* A job as handed to the site by receive(). */
struct astro_obs_job {
	char id[ASTRO_OBS_ID_LEN + 1];
	char line[ASTRO_OBS_LINE_MAX + 1];	/* canonical command text */
	enum astro_obs_state state;
	int64_t created_ms;
};

struct astro_obs_image {
	char name[ASTRO_OBS_IMAGE_NAME_MAX + 1];
	uint64_t size;
	int64_t mtime_ms;
	uint64_t seq;		/* the camera's counter when it was taken */
};

/*
 * Job records as every backend keeps them (jansson objects), so the
 * backends agree on the JSON users read under jobs/.
 * astro_obs_job_new(): a QUEUED record expiring retention_s from now.
 * astro_obs_job_set_state(): checks the map, stamps updated_ms and history;
 * -EINVAL if refused.  astro_obs_job_state(): an unknown state reads as
 * FAILED (final) so nothing moves it.  astro_obs_job_pretty(): stored
 * compact text -> indented text ending in a newline (malloc'd).
 */
struct json_t;
struct json_t *astro_obs_job_new(const char *site, const char *id,
				 const struct astro_obs_cmd *c, const char *line,
				 unsigned retention_s);
int astro_obs_job_set_state(struct json_t *job, enum astro_obs_state to,
			    const char *message, double eta_s, const char *image);
enum astro_obs_state astro_obs_job_state(const struct json_t *job);
bool astro_obs_job_overdue(const struct json_t *job, int64_t now_ms);
int astro_obs_job_pretty(const char *compact, char **json);
/* A site key and a job id (ULID) as every backend accepts them. */
bool astro_obs_job_site_valid(const char *site);
bool astro_obs_job_id_valid(const char *id);
/* stop and cancel: delivered before every other queued command. */
bool astro_obs_job_urgent(const struct astro_obs_cmd *c);
/* An image name both backends accept: one printable path component, not
 * starting with a dot, at most ASTRO_OBS_IMAGE_NAME_MAX bytes. */
bool astro_obs_job_image_name_valid(const char *name);

#endif

/*
 * unit_standin.h — the space-track stand-in (tests/standin/spacetrack.py)
 * for the suites that drive the real client: start it, talk to its /_test/
 * control API, read its counters.
 */
#ifndef ASTRO_UNIT_STANDIN_H
#define ASTRO_UNIT_STANDIN_H

#include <ftw.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include "core/config.h"
#include "services/cache.h"
#include "services/limiter.h"
#include "services/spacetrack.h"
#include "unit_spawn.h"

#define UNIT_ST_USER "unit-user"
#define UNIT_ST_PASS "unit p&ss=word"

struct unit_st {
	pid_t pid;
	int port;
	char url[64];
};

/* Start the stand-in with the fixed account and `extra` arguments
 * (NULL-terminated, at most 12).  0 or -1. */
static inline int unit_st_start(struct unit_st *s, const char *const extra[])
{
	const char *argv[24] = { "python3", "tests/standin/spacetrack.py", "--port", "0",
				 "--user", UNIT_ST_USER, "--password", UNIT_ST_PASS };
	int n = 8;

	for (int i = 0; extra && extra[i] && n < 22; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	if (unit_spawn_http(argv, &s->pid, &s->port))
		return -1;
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
	return 0;
}

static inline void unit_st_stop(struct unit_st *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
	astro_http_global_cleanup();
}

/* A suite's group fixtures, start_server and stop_server, for one
 * stand-in kept in `srv`, started with the given extra arguments. */
#define UNIT_ST_GROUP_FIXTURES(srv, ...)					\
	static int start_server(void **s)					\
	{									\
		const char *const extra[] = { __VA_ARGS__, NULL };		\
		(void)s;							\
		return unit_st_start(&(srv), extra);				\
	}									\
	static int stop_server(void **s)					\
	{									\
		(void)s;							\
		unit_st_stop(&(srv));						\
		return 0;							\
	}

/* One control call (/_test/<what>); POST when json is non-NULL.  The
 * parsed answer (json_decref it), or NULL. */
static inline json_t *unit_st_control(const struct unit_st *s, const char *what, const char *json)
{
	const char *hdrs[] = { "Content-Type: application/json", NULL };
	char url[128];
	struct astro_http_req q = {
		.method = json ? "POST" : "GET", .url = url, .headers = hdrs,
		.body = json, .body_len = json ? strlen(json) : 0,
		.timeout_ms = 10000, .service = "test",
	};
	struct astro_http_resp r;
	json_t *out = NULL;

	snprintf(url, sizeof(url), "%s/_test/%s", s->url, what);
	if (astro_http_request(&q, &r) == 0 && r.status == 200)
		out = json_loadb(r.body, r.body_len, 0, NULL);
	astro_http_resp_free(&r);
	return out;
}

/* A POST whose answer is not needed; 0 or -1. */
static inline int unit_st_post(const struct unit_st *s, const char *what, const char *json)
{
	json_t *j = unit_st_control(s, what, json ? json : "{}");

	json_decref(j);
	return j ? 0 : -1;
}

/* counters.<name> (e.g. "queries", "logins"), or -1. */
static inline long unit_st_count(const struct unit_st *s, const char *name)
{
	json_t *j = unit_st_control(s, "counters", NULL), *v;
	long n = -1;

	if (j && (v = json_object_get(j, name)) && json_is_integer(v))
		n = (long)json_integer_value(v);
	json_decref(j);
	return n;
}

/* A client of the stand-in as a mount has one: the config (timeout 10 s),
 * an LMDB cache in a temporary directory, a limiter of 100 requests a
 * minute and the space-track client. */
struct unit_st_client {
	char dir[64];
	struct astro_config cfg;
	struct astro_cache *cache;
	struct astro_limiter *lim;
	struct astro_spacetrack *st;
};

/* 0, or -1 with whatever was made closed. */
static inline int unit_st_client_open(struct unit_st_client *c, const struct unit_st *s)
{
	struct astro_rate rate = { .n = 1, .w = { { 100, 60 } } };
	char err[256];

	memset(c, 0, sizeof(*c));
	strcpy(c->dir, "/tmp/astrofs-unit-st-XXXXXX");
	if (!mkdtemp(c->dir) || astro_config_init(&c->cfg) ||
	    astro_config_set(&c->cfg, "spacetrack_url", s->url, err, sizeof(err)))
		return -1;
	c->cfg.spacetrack_user = astro_secure_strdup(UNIT_ST_USER);
	c->cfg.spacetrack_password = astro_secure_strdup(UNIT_ST_PASS);
	c->cfg.timeout = 10;
	if (astro_cache_open(&c->cache, c->dir, 64u << 20) ||
	    astro_limiter_open(&c->lim, NULL, "st", &rate) ||
	    astro_spacetrack_open(&c->st, &c->cfg, c->lim))
		return -1;
	return 0;
}

static inline int unit_st_rm_one(const char *path, const struct stat *sb, int flag,
				 struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Close what open made and remove the cache directory. */
static inline void unit_st_client_close(struct unit_st_client *c)
{
	if (c->st)
		astro_spacetrack_close(c->st);
	if (c->lim)
		astro_limiter_close(c->lim);
	if (c->cache)
		astro_cache_close(c->cache);
	astro_config_free(&c->cfg);
	if (c->dir[0])
		nftw(c->dir, unit_st_rm_one, 8, FTW_DEPTH | FTW_PHYS);
	memset(c, 0, sizeof(*c));
}

#endif

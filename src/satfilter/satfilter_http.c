/* satfilter_http.c — see satfilter_http.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "satfilter_http.h"
#include "services/httpd.h"

#define FAIL_SAFE "\"allow_list\": []"

struct astro_satfilter_http {
	struct astro_httpd *d;
	struct astro_satfilter *sf;
};

/* sattle's paths; the kind of body each takes. */
static const struct route {
	const char *path;
	enum astro_satfilter_kind kind;
} routes[] = {
	{ "/visit_cache", ASTRO_SATFILTER_VISIT },
	{ "/diasource_allow_list", ASTRO_SATFILTER_SOURCES },
};

static int handler(void *arg, const struct astro_httpd_req *req, unsigned *status, char **body)
{
	struct astro_satfilter_http *h = arg;
	int st = 500, rc;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(req->path, routes[i].path) != 0)
			continue;
		if (strcmp(req->method, "PUT") != 0) {
			*status = 405;
			return astro_httpd_error_body("method not allowed", FAIL_SAFE, body);
		}
		rc = astro_satfilter_handle_kind(h->sf, routes[i].kind, req->body, req->len, body,
						 &st);
		if (rc) {
			*status = 500;
			*body = strdup(ASTRO_SATFILTER_OOM_ANSWER);
			return *body ? 0 : -ENOMEM;
		}
		*status = (unsigned)st;
		return 0;
	}
	*status = 404;
	return astro_httpd_error_body("not found", FAIL_SAFE, body);
}

static int health(void *arg, const struct astro_httpd_req *req, unsigned *status, char **body)
{
	struct astro_satfilter_http *h = arg;
	int st = 500, rc;

	(void)req;
	rc = astro_satfilter_health(h->sf, body, &st);
	*status = (unsigned)st;
	return rc;
}

int astro_satfilter_http_start(struct astro_satfilter_http **out, struct astro_satfilter *sf,
			       const struct astro_satfilter_http_opts *o, char *err,
			       size_t errlen)
{
	struct astro_satfilter_http *h = calloc(1, sizeof(*h));
	struct astro_httpd_opts ho = {
		.name = "satfilter",
		.listen = o->listen,
		.tls_cert = o->tls_cert,
		.tls_key = o->tls_key,
		.token_file = o->token_file,
		.allow = o->allow,
		.max_body = ASTRO_SATFILTER_MAX_REQUEST,
		.error_members = FAIL_SAFE,
		.handler = handler,
		.health = health,
		.arg = h,
	};
	int rc;

	if (!h)
		return -ENOMEM;
	h->sf = sf;
	rc = astro_httpd_start(&h->d, &ho, err, errlen);
	if (rc) {
		free(h);
		return rc;
	}
	*out = h;
	return 0;
}

void astro_satfilter_http_stop(struct astro_satfilter_http *h)
{
	if (!h)
		return;
	astro_httpd_stop(h->d);
	free(h);
}

/*
 * satfilter_http.h — the optional HTTP(S) listener compatible with Rubin's
 * sattle service, so the pipeline's client can point at astrofs unchanged.
 * Routes by path, as sattle does:
 *   PUT /visit_cache            visits only        → 200 {"visit_id", "status"}
 *   PUT /diasource_allow_list   DIASource requests → 200 {"visit_id", "detector_id", "allow_list"}
 *   GET /health                 → 200 {"status", "catalogue_age_s", "catalogue_objects"}
 *                                 (503 without a catalogue)
 * with the same JSON bodies as /satfilter (satfilter.h).  Errors keep
 * sattle's status codes where the pipeline branches on them — 400 malformed
 * or the wrong kind of body for the path ("Missing column …"), 404 unknown
 * visit (the client re-sends the visit), 413 too large — plus 500, 503 (no
 * catalogue), 401 (token), 403 (source address), 405 (method), all with
 * {"error", "allow_list": []} bodies.  There is deliberately no GET of
 * cached visits.
 *
 * The listener itself (TLS, token, allow list, connection deadlines and
 * limits) is services/httpd.h, shared with the telemetry listener.
 */
#ifndef ASTRO_SATFILTER_HTTP_H
#define ASTRO_SATFILTER_HTTP_H

#include <stddef.h>
#include "satfilter.h"

struct astro_satfilter_http_opts {
	const char *listen;		/* "host:port" (see services/httpd.h) */
	const char *tls_cert, *tls_key;	/* PEM files, or NULL: plain HTTP */
	const char *token_file;		/* or NULL */
	const char *allow;		/* CIDR list, or NULL: any source */
};

struct astro_satfilter_http;

/* 0, or -errno with err saying why (bad address, files, bind). */
int astro_satfilter_http_start(struct astro_satfilter_http **out, struct astro_satfilter *sf,
			       const struct astro_satfilter_http_opts *o, char *err,
			       size_t errlen);
/* NULL is a no-op. */
void astro_satfilter_http_stop(struct astro_satfilter_http *h);

#endif

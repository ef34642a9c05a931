/*
 * satfilter_http.h — the optional HTTP listener compatible with Rubin's
 * sattle service, so the pipeline's client can point at astrofs unchanged:
 *   PUT /visit_cache            visit request    → 200 {"visit_id", "status"}
 *   PUT /diasource_allow_list   DIASources       → 200 {"visit_id", "detector_id", "allow_list"}
 * with the same JSON bodies as /satfilter (satfilter.h); errors use its
 * status codes (400 malformed, 404 unknown visit, 413 too large, 500, 503
 * no catalogue) with {"error", "allow_list": []} bodies.  Any other method
 * or path is 404/405; there is deliberately no GET of cached visits.
 *
 * `listen` is "host:port" with a numeric IPv4 or bracketed IPv6 address
 * ("127.0.0.1:8080", "[::1]:8080"); nothing is bound elsewhere.  Bodies
 * larger than ASTRO_SATFILTER_MAX_REQUEST are refused (413).  libmicrohttpd
 * runs a small pool of threads.  A connection must send its request's
 * headers within ASTRO_SATFILTER_HTTP_HEADER_S (from when it connected or
 * its previous answer was done) and its body within
 * ASTRO_SATFILTER_HTTP_BODY_S after them, and may stay idle at most
 * ASTRO_SATFILTER_HTTP_IDLE_S; past any of these it is closed, however
 * steadily it trickles bytes (slowloris).  At most
 * ASTRO_SATFILTER_HTTP_MAX_CONN connections at once: far above the pipeline's
 * burst (one request per detector, 189, per visit).
 */
#ifndef ASTRO_SATFILTER_HTTP_H
#define ASTRO_SATFILTER_HTTP_H

#include "satfilter.h"

#define ASTRO_SATFILTER_HTTP_HEADER_S 10
#define ASTRO_SATFILTER_HTTP_BODY_S 60
#define ASTRO_SATFILTER_HTTP_IDLE_S 10
#define ASTRO_SATFILTER_HTTP_MAX_CONN 512u

struct astro_satfilter_http;

/* 0, -EINVAL (bad address), or -errno from bind. */
int astro_satfilter_http_start(struct astro_satfilter_http **out,
			       struct astro_satfilter *sf, const char *listen);
/* NULL is a no-op. */
void astro_satfilter_http_stop(struct astro_satfilter_http *h);

#endif

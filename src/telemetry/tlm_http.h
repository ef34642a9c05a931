/*
 * tlm_http.h — the telemetry archive over HTTP(S) (telemetry_listen).
 *
 *   GET /telemetry/<path>   any file of the tree, byte-identical to the
 *                           mount (it is read through the provider's own
 *                           getattr/open/read/release, one snapshot per
 *                           request); directories as JSON
 *                           {"path", "entries": [names], "items": [{"name",
 *                           "type", "size", "mtime", "etag"}]}.  Strong ETag per
 *                           content version, Range/206, If-None-Match/304,
 *                           Last-Modified, gzip when asked (services/httpd.h).
 *                           Cache-Control: closed ranges and days
 *                           "public, max-age=31536000, immutable", every
 *                           other file "public, max-age=ASTRO_TLM_HTTP_OPEN_S".
 *                           Rendered bytes are kept in the mount's LMDB cache
 *                           in ASTRO_TLM_HTTP_BLOCK pieces keyed by path,
 *                           ETag and offset (the same tag is the same bytes),
 *                           so a file served again is copied, not re-rendered;
 *                           only whole pieces are kept (a small file renders
 *                           faster than a cache write), bounded by cache_max.
 *   GET /api/v1/...         RAVEN's v1 API (tlm_raven.h)
 *   GET /health             {"status": "UP", "generation": N}
 *   GET /.astrofs/stats     the mount's counters (core/stats.h), among them
 *                           telemetry.http.{requests,bytes,not_modified,errors}
 *
 * Errors are JSON {"error": "..."}: 404 unknown path or MSID, 400 bad range,
 * 405 other than GET/HEAD, 401/403 from the listener's token and allow list.
 * Read-only by construction: nothing here writes.
 */
#ifndef ASTRO_TLM_HTTP_H
#define ASTRO_TLM_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include "services/cache.h"

#define ASTRO_TLM_HTTP_OPEN_S 10
#define ASTRO_TLM_HTTP_BLOCK (1u << 20)

struct astro_tlm_http_opts {
	const char *listen;
	const char *tls_cert, *tls_key;
	const char *token_file;
	const char *allow;
	void *prov;			/* the started telemetry provider's priv */
	const char *archive_dir;	/* named by /api/v1/info, as RAVEN does */
	struct astro_cache *cache;	/* rendered pieces; NULL renders each time */
};

struct astro_tlm_http;

/* 0, or -errno with err saying why (see astro_httpd_start). */
int astro_tlm_http_start(struct astro_tlm_http **out, const struct astro_tlm_http_opts *o,
			 char *err, size_t errlen);
unsigned astro_tlm_http_port(const struct astro_tlm_http *h);
/* NULL is a no-op; waits for requests in progress. */
void astro_tlm_http_stop(struct astro_tlm_http *h);

#ifdef ASTRO_UNITTEST
/* What a directory listing may spend on its entries' sizes (ms). */
extern int64_t astro_tlm_http_test_budget_ms;
#endif

#endif

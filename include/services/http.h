/*
 * http.h — every upstream HTTP(S) transfer goes through here (libcurl).
 *
 * Guarantees: a transfer never outlives its deadline (connect timeout, a
 * low-speed abort and a total deadline all derived from `timeout_ms`);
 * connections, DNS and TLS sessions are reused across threads; only
 * requests marked idempotent are retried, with exponential backoff and
 * jitter, and never past the deadline.  The deadline is cut to what the
 * calling FUSE operation has left (op.h), and an interrupt of that
 * operation (Ctrl-C of the reader) or the process's shutdown abandons the
 * transfer within a second.  Bodies are capped by `max_body`.
 *
 * Test builds (ASTRO_UNITTEST) inject failures with astro_http_set_inject():
 * the hook runs before each attempt and may return a negative errno to fail
 * it without network.  The product has no such hook.
 */
#ifndef ASTRO_HTTP_H
#define ASTRO_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct astro_http_req {
	const char *method;		/* "GET", "POST", "HEAD", ... */
	const char *url;
	const char *const *headers;	/* "Name: value", NULL-terminated; may be NULL */
	const void *body;		/* request body or NULL */
	size_t body_len;
	int64_t timeout_ms;		/* total deadline for all attempts; 0 = 30 s */
	int idempotent;			/* may be retried; if not, sent at most once
					 * (on a fresh connection) */
	int max_attempts;		/* 0 = 3 for idempotent, 1 otherwise */
	size_t max_body;		/* 0 = 256 MiB; larger bodies fail with -EFBIG */
	const char *service;		/* stats label: "spacetrack", "s3", ... */
	const char *cainfo;		/* PEM CA file to verify against; NULL: the system's */
	/* Retry also on these statuses (besides 5xx/429 for idempotent). */
	int (*retry_status)(long status, void *arg);
	void *retry_arg;
	/* The response body is a secret (a catalogue that must stay in
	 * memory only): it is held in astro_secure_alloc memory and wiped
	 * whenever it is grown or freed.  Free it with astro_http_resp_free,
	 * or, once taken, astro_secure_free(body, body_cap). */
	int secret_body;
	/* The request body is a secret (a login form): like secret_body, the
	 * transfer runs on its own handle and connection, wiped after. */
	int secret_request;
};

struct astro_http_resp {
	long status;		/* HTTP status; 0 if no response */
	char *body;		/* NUL-terminated (not counted in body_len) */
	size_t body_len;
	size_t body_cap;	/* bytes allocated for body */
	int body_secret;	/* body is astro_secure_alloc memory (req.secret_body) */
	char *headers;		/* raw response headers of the final response */
	size_t headers_len;
};

/*
 * Perform a request.  Returns 0 when an HTTP response arrived (whatever its
 * status), -ETIMEDOUT when the deadline (its own or its operation's)
 * passed, -EINTR when interrupted or shutting down,
 * -EFBIG for an over-long body, -EIO for any other transport failure
 * (reset, truncated body, DNS, TLS).  resp must be freed with
 * astro_http_resp_free() in every case.
 */
int astro_http_request(const struct astro_http_req *req,
		       struct astro_http_resp *resp);
void astro_http_resp_free(struct astro_http_resp *resp);

/*
 * Copy the value of the last header `name` (case-insensitive) into buf;
 * returns its length or -ENOENT.  With idx >= 0, returns the idx-th
 * occurrence instead (for Set-Cookie).
 */
int astro_http_header(const struct astro_http_resp *resp, const char *name,
		      int idx, char *buf, size_t size);

/* Process-wide set-up and tear-down (before threads / at exit). */
int astro_http_global_init(void);
void astro_http_global_cleanup(void);

#ifdef ASTRO_UNITTEST
typedef int (*astro_http_inject_fn)(const struct astro_http_req *req,
				    int attempt, void *arg);
void astro_http_set_inject(astro_http_inject_fn fn, void *arg);
#endif

/* Percent-encode src (RFC 3986 unreserved kept) into a malloc'd string. */
char *astro_http_escape(const char *src, size_t len);
/* The same into out (room for len * 3 + 1 bytes, e.g. secure memory);
 * returns the length written, without the NUL. */
size_t astro_http_escape_to(char *out, const char *src, size_t len);

#endif

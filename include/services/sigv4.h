/*
 * sigv4.h — AWS Signature Version 4 for S3 (header auth and presigned URLs).
 *
 * What it does: given a request described by its parts (method, Host, the
 * raw, *unencoded* object path, raw query parameters, the extra headers to
 * sign, the payload or UNSIGNED-PAYLOAD, region, a clock value and the
 * credentials), it produces everything a client needs to send the request:
 * the encoded path and query string to put in the URL, the headers to add
 * (x-amz-date, x-amz-content-sha256, x-amz-security-token,
 * x-amz-request-payer, Authorization) and, for tests and debug logs, the
 * canonical request, string to sign and signature.
 *
 * S3 rules followed (they differ from generic SigV4): the path is never
 * normalized ("//", "." and ".." stay as given) and each byte outside the
 * RFC 3986 unreserved set is percent-encoded exactly once ('/' kept); query
 * names and values are encoded ('/' and '=' too) and sorted; header names
 * are lowercased, values trimmed with inner whitespace runs folded to one
 * space, repeated headers joined with ','; every header passed in is signed,
 * plus host and the x-amz-* headers this module adds.  S3 requires
 * x-amz-content-sha256, so it is added whenever service is "s3".
 *
 * Guarantees: pure computation, no I/O, no global state: thread-safe.  The
 * time is a parameter (Unix seconds) so signatures are reproducible.  The
 * secret key is never copied into any output except the derived signature.
 *
 * Ground truth: tests/unit/test_sigv4.c compares byte for byte with
 * botocore's S3SigV4Auth/S3SigV4QueryAuth (tests/oracles/sigv4_oracle.py) and
 * with vectors of the AWS SigV4 test suite.
 */
#ifndef ASTRO_SIGV4_H
#define ASTRO_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#define ASTRO_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

struct astro_sigv4_creds {
	const char *access_key;
	const char *secret_key;
	const char *session_token;	/* NULL or "" when not temporary */
};

struct astro_sigv4_param {
	const char *name;		/* raw (unencoded) */
	const char *value;		/* raw; NULL is the same as "" */
};

struct astro_sigv4_req {
	const char *method;		/* "GET", "HEAD", ... */
	const char *host;		/* Host header exactly as sent: "h" or "h:port"
					 * (curl omits a default :80/:443) */
	const char *path;		/* raw path, starts with '/': "/bucket/a b.fits" */
	const struct astro_sigv4_param *query;
	size_t nquery;
	const char *const *headers;	/* "Name: value" to send and sign; NULL-terminated or NULL */
	const void *payload;		/* body for the payload hash */
	size_t payload_len;
	int unsigned_payload;		/* send UNSIGNED-PAYLOAD instead of a hash */
	const char *region;		/* "us-east-1" */
	const char *service;		/* NULL = "s3" */
	int request_payer;		/* add and sign x-amz-request-payer: requester */
	int64_t now;			/* Unix seconds (UTC) of the signature */
};

struct astro_sigv4_out {
	char *path;		/* encoded path for the URL */
	char *query;		/* encoded query for the URL after '?', may be "" */
	char **headers;		/* "Name: value" lines to add; NULL-terminated */
	char *canonical_request;
	char *string_to_sign;
	char signature[65];
	char amz_date[17];	/* YYYYMMDDTHHMMSSZ */
	char payload_hash[65];	/* hex SHA-256 or UNSIGNED-PAYLOAD */
};

/*
 * Sign with an Authorization header.  Returns 0, -EINVAL for a malformed
 * request (missing field, header without ':' or with CR/LF, or a header the
 * signer owns passed in: Host, Authorization, x-amz-date,
 * x-amz-content-sha256, x-amz-security-token, x-amz-request-payer — use the
 * fields instead), -ENOMEM.  The request must then carry exactly the
 * caller's `headers` plus out->headers, to out->path?out->query.  `out` is
 * always safe to pass to astro_sigv4_out_free() afterwards.
 */
int astro_sigv4_sign(const struct astro_sigv4_req *req,
		     const struct astro_sigv4_creds *creds,
		     struct astro_sigv4_out *out);

/*
 * Presigned URL (query auth): out->query then holds the caller's
 * parameters plus X-Amz-Algorithm, -Credential, -Date, -Expires,
 * -SignedHeaders, [-Security-Token] and -Signature; out->headers holds only
 * the request-payer header when asked for (it is signed, so it must be
 * sent).  The payload is always UNSIGNED-PAYLOAD.  expires: 1..604800 s.
 */
int astro_sigv4_presign(const struct astro_sigv4_req *req,
			const struct astro_sigv4_creds *creds,
			int64_t expires, struct astro_sigv4_out *out);

void astro_sigv4_out_free(struct astro_sigv4_out *out);

/*
 * Percent-encode per SigV4 (unreserved A-Z a-z 0-9 - . _ ~ kept, upper-case
 * hex); keep_slash keeps '/' (for paths).  Returns a malloc'd string or NULL.
 */
char *astro_sigv4_uri_encode(const char *src, size_t len, int keep_slash);

/* Lower-case hex SHA-256 of data into hex[65]. 0 or -EIO. */
int astro_sigv4_sha256_hex(const void *data, size_t len, char hex[65]);

#endif

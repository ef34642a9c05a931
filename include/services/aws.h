/*
 * aws.h — the one signed-request path to AWS APIs (S3, SQS, DynamoDB).
 *
 * What it does: signs a request with SigV4 (sigv4.h, credentials from
 * awscred.h), sends it through http.h (which retries idempotent requests
 * on 5xx/429 with backoff, within the request's deadline), and maps AWS
 * error answers to -errno: S3's XML <Error> documents (s3xml.h), the JSON
 * protocols' {"__type": "...#Name"} bodies (DynamoDB, SQS JSON), and error
 * codes a caller parsed itself (SQS Query-protocol <ErrorResponse>).
 * s3.c (the S3 client) and the obs `aws` backend both send through here.
 *
 * Why not libcurl's CURLOPT_AWS_SIGV4: Debian 12's curl 7.88 still
 * mis-canonicalises some query strings, and S3 paths must not be
 * normalised; sigv4.c is checked byte for byte against botocore.
 *
 * Guarantees: the request carries exactly the caller's headers plus the
 * signer's (x-amz-date, x-amz-content-sha256 for S3, the session token,
 * request-payer, Authorization); anonymous requests are encoded exactly as
 * signed ones would be, without the signer's headers.  The secret key never
 * leaves sigv4.c except as a signature.  Pure per call: thread-safe.
 */
#ifndef ASTRO_AWS_H
#define ASTRO_AWS_H

#include <stddef.h>
#include <stdint.h>
#include "services/awscred.h"
#include "services/http.h"
#include "services/sigv4.h"

struct astro_awsprov;

/*
 * Who signs: region, credentials, requester pays.  With `prov` (awsprov.h)
 * the credentials are taken from it at each signature (refreshed when due)
 * and a request refused as ExpiredToken is re-signed with fresh ones and
 * sent once more; else `cred` (NULL with no prov: anonymous).
 */
struct astro_aws_signer {
	const char *region;
	const struct astro_awscred *cred;
	int request_payer;
	struct astro_awsprov *prov;
};

struct astro_aws_req {
	const char *service;		/* signing name and stats label: "s3", "sqs", "dynamodb" */
	const char *method;
	const char *base;		/* "scheme://host[:port]" with no path; its
					 * authority is the signed Host */
	const char *path;		/* raw (unencoded) path, starts with '/' */
	const struct astro_sigv4_param *query;
	size_t nquery;
	const char *const *headers;	/* extra headers, signed; NULL-terminated, at most 8 */
	const void *body;		/* payload (hashed into the signature) or NULL */
	size_t body_len;
	int idempotent;			/* may be retried by http.h */
	size_t max_body;		/* response cap; 0 = http.h's default */
	int64_t timeout_ms;		/* 0 = 30 s */
};

/*
 * Sign and send.  Returns what astro_http_request() returns (0 whenever an
 * HTTP answer arrived, whatever its status) or -EINVAL/-ENOMEM/-ENAMETOOLONG
 * before sending.  resp must be freed with astro_http_resp_free() in every
 * case.
 */
int astro_aws_send(const struct astro_aws_signer *sg, const struct astro_aws_req *q,
		   struct astro_http_resp *resp);

/*
 * -errno for an AWS error code (S3 <Code>, SQS <Code>, or a JSON exception
 * name without its "prefix#"; NULL or "" when there is none) and the HTTP
 * status: ConditionalCheckFailedException -> -ESTALE,
 * ResourceNotFoundException and *.NonExistentQueue -> -ENOENT,
 * ResourceInUseException -> -EEXIST, throttling -> -EAGAIN, then the S3
 * codes and statuses of astro_s3xml_errno() (-EAGAIN for 429/5xx).  *hint
 * (may be NULL) gets a static sentence naming the likely cause.
 */
int astro_aws_errno(const char *code, long status, const char **hint);

/*
 * Map an error answer: the body is read as JSON ("__type", "message") when
 * it is a JSON object, else as an S3 <Error> document; whatever cannot be
 * read leaves the status to decide.  code (may be NULL) gets the short code
 * ("" if none), msg (may be NULL) the server's message ("" if none).
 */
int astro_aws_error(long status, const char *body, size_t len, char *code,
		    size_t codelen, char *msg, size_t msglen, const char **hint);

#endif

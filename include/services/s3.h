/*
 * s3.h — the S3 client (and plain HTTP(S) ranged reads) on aws.h/http.h.
 *
 * What it does: builds S3 URLs (path- or virtual-host-style, AWS or any
 * custom endpoint), signs and sends them through aws.h (SigV4, credentials
 * from awsprov.h, shared and refreshed) unless anonymous, and performs GetObject (ranged, with
 * If-Match, or whole), HeadObject, ListObjectsV2, PutObject (optionally
 * conditional: If-None-Match: * to create only, If-Match: ETag to replace
 * only that version) and DeleteObject.  The same ranged-read path serves
 * plain HTTP(S) URLs (fits_http sources: MAST, SAS-signed Azure blobs,
 * public GCS objects).
 *
 * The object operations go through a small interface (struct
 * astro_s3_ops, after mountpoint-s3's object client): astro_s3_new() makes
 * the real client; tests plug in an in-memory store or a fault-injecting
 * wrapper (tests/unit/s3_mem.h) and hand it to a tree through
 * astro_services.s3 (core/services.h).
 *
 * Guarantees:
 *  - a ranged GET never passes on bytes it did not ask for: a 206 must
 *    carry a Content-Range starting at the requested offset and a body of
 *    exactly the announced length; a 200 (server ignored Range) fails with
 *    -EIO and a log line, and its body is capped at the requested length
 *    plus one byte (64 KiB at least, for error documents), so a misbehaving server never makes us download the
 *    whole object;
 *  - 416 (offset at or past the end) is end of object: *got = 0;
 *  - If-Match (the object's ETag) → 412 is -ESTALE (object replaced);
 *    a 206 whose ETag (or, without ETag, Last-Modified) differs from the
 *    validator the caller holds is -ESTALE too;
 *  - S3 error bodies map to errno via astro_s3xml_errno (AccessDenied,
 *    SignatureDoesNotMatch, ... → -EACCES; NoSuchBucket/NoSuchKey →
 *    -ENOENT) with ONE log line per failed operation naming the likely
 *    cause; 5xx/429/SlowDown are retried with backoff by http.h (every
 *    operation here is idempotent);
 *  - virtual-host style is used only for DNS-compatible bucket names
 *    (lower case, digits, '-', no dots under https); others fall back to
 *    path style, as the AWS SDKs do.
 *
 * Other S3-compatible services (endpoint + credentials, SigV4 unchanged):
 *  - Google Cloud Storage with HMAC keys: s3_endpoint=https://storage.googleapis.com,
 *    s3_region=auto (any region string is accepted by GCS), the HMAC access
 *    id and secret in s3_credentials; path style is used (custom endpoint).
 *    Public GCS objects need no key: fits_http NAME=https://storage.googleapis.com/BUCKET
 *  - DigitalOcean Spaces: s3_endpoint=https://REGION.digitaloceanspaces.com,
 *    s3_region=REGION (e.g. nyc3), a Spaces access key in s3_credentials.
 *
 * Thread-safety: an astro_s3 is read-only after astro_s3_new(); all calls
 * may run concurrently (other implementations must allow the same).
 */
#ifndef ASTRO_S3_H
#define ASTRO_S3_H

#include <stddef.h>
#include <stdint.h>
#include "services/s3xml.h"

struct astro_s3_cfg {
	const char *endpoint;		/* NULL: https://s3.<region>.amazonaws.com */
	const char *region;		/* NULL: us-east-1 */
	const char *credentials;	/* s3_credentials file or NULL */
	const char *profile;		/* NULL: $AWS_PROFILE / default */
	const char *credentials_source;	/* NULL/"auto": the chain (awsprov.h) */
	int anonymous;			/* never sign */
	int request_payer;		/* send and sign x-amz-request-payer */
	int path_style;			/* -1 auto (on for a custom endpoint) */
	unsigned timeout_ms;		/* per operation; 0 = 30 s */
};

/* Version information of an object (HEAD, GET or a listing). */
struct astro_s3_info {
	uint64_t size;			/* UINT64_MAX when unknown */
	char etag[128];			/* as sent (quotes kept), "" if none */
	char last_modified[64];		/* HTTP date as sent, "" if none */
	int64_t mtime;			/* Unix seconds, 0 if unknown */
};

/* Options of a PutObject. */
struct astro_s3_put_opts {
	const char *const *headers;	/* extra headers (Content-Type, x-amz-meta-*),
					 * NULL-terminated, at most 4; may be NULL */
	const char *if_match;		/* replace only this ETag, else -ESTALE */
	int if_none_match;		/* create only: -EEXIST if the key exists */
};

struct astro_s3;

/*
 * The object-client interface; each function has the contract of the
 * astro_s3_* function of the same name below, which dispatches to it.
 */
struct astro_s3_ops {
	int (*get_range)(struct astro_s3 *s, const char *bucket, const char *key,
			 uint64_t off, size_t len, const char *if_match, void *buf,
			 size_t *got, struct astro_s3_info *info);
	int (*get)(struct astro_s3 *s, const char *bucket, const char *key, size_t max,
		   char **body, size_t *len, struct astro_s3_info *info);
	int (*head)(struct astro_s3 *s, const char *bucket, const char *key,
		    struct astro_s3_info *info);
	int (*list)(struct astro_s3 *s, const char *bucket, const char *prefix,
		    const char *delimiter, const char *token, unsigned max_keys,
		    struct astro_s3_list *out);
	int (*put)(struct astro_s3 *s, const char *bucket, const char *key,
		   const void *body, size_t len, const struct astro_s3_put_opts *o,
		   struct astro_s3_info *info);
	int (*del)(struct astro_s3 *s, const char *bucket, const char *key);
	void (*free)(struct astro_s3 *s);
};

/* Every implementation starts with this (and is reached by casting it). */
struct astro_s3 {
	const struct astro_s3_ops *ops;
};

/*
 * Resolve credentials (unless anonymous) and keep the endpoint.  With no
 * credentials anywhere the client goes anonymous (logged once); an
 * unusable credentials source is an error (-errno, message in err).
 */
int astro_s3_new(const struct astro_s3_cfg *cfg, struct astro_s3 **out,
		 char *err, size_t errlen);
/* Free any implementation (NULL is fine). */
void astro_s3_free(struct astro_s3 *s);

#ifdef ASTRO_UNITTEST
/*
 * Tests: where a request for (bucket, key) goes: *host is the Host header
 * value ("h" or "h:port"), *base "scheme://host", *path the raw (unencoded)
 * path to sign: any endpoint path, then "/bucket/key" or "/key".  key may
 * be "" (bucket-level requests).  malloc'd strings; 0, -EINVAL, -ENOMEM.
 * The real client only.
 */
int astro_s3_address(const struct astro_s3 *s, const char *bucket,
		     const char *key, char **host, char **base, char **path);
#endif

/*
 * Ranged GET of [off, off+len) of s3://bucket/key.  if_match: ETag to
 * send as If-Match (NULL or "" for none).  Fills *got (< len only at the
 * end of the object) and *info (size from Content-Range, ETag).
 */
int astro_s3_get_range(struct astro_s3 *s, const char *bucket, const char *key,
		       uint64_t off, size_t len, const char *if_match,
		       void *buf, size_t *got, struct astro_s3_info *info);

/*
 * GetObject of the whole object into *body (malloc'd, NUL-terminated, *len
 * bytes); an object over `max` bytes (0 = 256 MiB) is -EFBIG.  A missing
 * key (404 NoSuchKey) is -ENOENT without a log line, as for HEAD.
 */
int astro_s3_get(struct astro_s3 *s, const char *bucket, const char *key, size_t max,
		 char **body, size_t *len, struct astro_s3_info *info);

/*
 * HeadObject: 0 with *info; -ENOENT (not logged: asking whether a key
 * exists is an ordinary question), -EACCES, -EIO, ...
 */
int astro_s3_head(struct astro_s3 *s, const char *bucket, const char *key,
		  struct astro_s3_info *info);

/*
 * PutObject of [body, body+len).  Sent once, never retried (a retried
 * conditional write would fail against its own first attempt).  With
 * o->if_none_match: -EEXIST when the key exists; with o->if_match: -ESTALE
 * when the object is no longer that version.  o may be NULL; info (may be
 * NULL) gets the new ETag.
 */
int astro_s3_put(struct astro_s3 *s, const char *bucket, const char *key,
		 const void *body, size_t len, const struct astro_s3_put_opts *o,
		 struct astro_s3_info *info);

/* DeleteObject: 0 also when the key did not exist (S3 answers 204). */
int astro_s3_delete(struct astro_s3 *s, const char *bucket, const char *key);

/*
 * One ListObjectsV2 page.  prefix, delimiter, token may be NULL;
 * max_keys 0 = server default (1000).  *out must be freed with
 * astro_s3xml_list_free().
 */
int astro_s3_list(struct astro_s3 *s, const char *bucket, const char *prefix,
		  const char *delimiter, const char *token, unsigned max_keys,
		  struct astro_s3_list *out);

/*
 * Guard for paging through one listing (every page of one prefix), so a
 * misbehaving endpoint cannot keep a listing going forever:
 *  - the whole listing has one deadline (deadline_ms on astro_mono_ms()),
 *    not one per page;
 *  - a continuation token seen before (IsTruncated=true with the same
 *    token forever, or a cycle of tokens) ends it with -EIO;
 *  - so does a truncated page that makes no progress: S3 lists in key
 *    order, so every page must be non-empty and reach past the greatest
 *    key or common prefix of the pages before it (a server repeating
 *    pages under fresh tokens).
 * Usage: init; after each page, astro_s3_pager_next(): 1 = ask for the
 * next page with page->next_token, 0 = the listing is complete, <0 =
 * stop with that error (-ETIMEDOUT past the deadline, -EIO misbehaviour,
 * logged once naming `what`, -ENOMEM).  Free when done.
 */
struct astro_s3_pager {
	int64_t deadline_ms;
	uint64_t *seen;		/* hashes of the tokens followed so far */
	size_t nseen, capseen;
	char *last;		/* greatest key or prefix listed so far */
	unsigned pages;
};
void astro_s3_pager_init(struct astro_s3_pager *pg, int64_t deadline_ms);
int astro_s3_pager_next(struct astro_s3_pager *pg, const struct astro_s3_list *page,
			const char *what);
void astro_s3_pager_free(struct astro_s3_pager *pg);

/*
 * Plain HTTP(S) source: the URL for `path` under `base_url` ("URL<path>"
 * with the path percent-encoded, inserted before any query string so
 * SAS/presigned parameters stay last).  malloc'd or NULL.
 */
char *astro_s3_http_url(const char *base_url, const char *path);

/*
 * Ranged GET of a plain URL; same contract as astro_s3_get_range, with
 * `validator` (ETag, else Last-Modified, as held by the caller) compared
 * against the response's and sent as If-Match when it is an ETag.
 */
int astro_s3_http_get_range(const char *url, uint64_t off, size_t len,
			    const char *validator, unsigned timeout_ms,
			    void *buf, size_t *got, struct astro_s3_info *info);

/*
 * Size and validator of a plain URL: HEAD, or when the server refuses
 * HEAD (presigned GET-only URLs: 403/405/501) a GET of bytes=0-0.
 */
int astro_s3_http_head(const char *url, unsigned timeout_ms,
		       struct astro_s3_info *info);

#ifdef ASTRO_UNITTEST
/*
 * Tests and the fuzz target: parse "bytes a-b/total" (or "bytes * /total"
 * for 416) into *a, *b and *total (UINT64_MAX for "*").  0 or -EINVAL.
 */
int astro_s3_parse_content_range(const char *v, uint64_t *a, uint64_t *b,
				 uint64_t *total);
#endif

/*
 * The ranged-read path every object client shares (S3, Azure Blob, plain
 * HTTP), so each gets the same checks.
 *
 * astro_s3_range_prep: request headers of a ranged GET of [off, off+len):
 * h[0] = "Range: ..." (in range), h[1] = "If-Match: ..." when if_match is
 * set (in im), h[2] = NULL; resets *got and *info.  0 when there is
 * nothing to ask (len 0), else 1.
 * astro_s3_range_cap: the body cap for that GET (one byte over the range,
 * so an ignored Range is caught without downloading the object, but room
 * for an error document).
 * astro_s3_range_result: check the answer (rc from astro_http_request) and
 * copy its bytes, per the guarantees at the top; errmap turns an error
 * status and body into -errno with one log line (NULL: plain HTTP, the
 * status alone decides).
 */
struct astro_http_resp;
int astro_s3_range_prep(uint64_t off, size_t len, const char *if_match, char range[80],
			char im[160], const char *h[3], size_t *got, struct astro_s3_info *info);
size_t astro_s3_range_cap(size_t len);
int astro_s3_range_result(const char *what, int rc, const struct astro_http_resp *r,
			  uint64_t off, size_t len, const char *validator,
			  int (*errmap)(const char *what, long status, const char *body, size_t len),
			  void *buf, size_t *got, struct astro_s3_info *info);
/* info with size unknown (UINT64_MAX), the rest empty. */
void astro_s3_info_init(struct astro_s3_info *info);
/* ETag, Last-Modified and mtime from a response's headers. */
void astro_s3_info_from_headers(const struct astro_http_resp *r, struct astro_s3_info *info);
/* The same plus the size from Content-Length (a HEAD's answer). */
void astro_s3_info_from_head(const struct astro_http_resp *r, struct astro_s3_info *info);
/* A whole-object GET's answer: its body moves to *body (*len bytes). */
void astro_s3_take_body(struct astro_http_resp *r, struct astro_s3_info *info, char **body,
			size_t *len);

/*
 * errno for an S3 answer with status and (possibly empty) XML body, with
 * one log line naming `what` and the likely cause (also the AWS request
 * module's and the XML parser's).
 */
int astro_s3_error(const char *what, long status, const char *body, size_t len);

#endif

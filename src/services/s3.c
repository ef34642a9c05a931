/*
 * s3.c — the S3 client and plain HTTP(S) ranged reads (see s3.h).
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include "core/astro.h"
#include "services/aws.h"
#include "services/awsprov.h"
#include "services/http.h"
#include "core/log.h"
#include "services/s3.h"
#include "services/sigv4.h"

/* The real client: struct astro_s3 first, reached by a cast. */
struct s3_real {
	struct astro_s3 base;
	char *scheme;		/* "http" or "https" */
	char *authority;	/* host[:port], default port dropped */
	char *prefix;		/* endpoint path without trailing '/', may be "" */
	char *region;
	int path_style;
	int anonymous;
	int request_payer;
	unsigned timeout_ms;
	struct astro_awsprov *cred;	/* shared with every client of the same settings */
};

/* Split "scheme://authority/path"; curl omits a default port from Host, so
 * the authority we sign must omit it too. */
static int parse_endpoint(struct s3_real *s, const char *url)
{
	const char *p = strstr(url, "://"), *slash;
	size_t alen;

	if (!p || (strncmp(url, "http", 4) != 0) || (p - url != 4 && p - url != 5))
		return -EINVAL;
	s->scheme = strndup(url, (size_t)(p - url));
	p += 3;
	slash = strchr(p, '/');
	alen = slash ? (size_t)(slash - p) : strlen(p);
	if (alen == 0 || !s->scheme)
		return -EINVAL;
	if (strcmp(s->scheme, "https") == 0 && alen > 4 && memcmp(p + alen - 4, ":443", 4) == 0)
		alen -= 4;
	else if (strcmp(s->scheme, "http") == 0 && alen > 3 && memcmp(p + alen - 3, ":80", 3) == 0)
		alen -= 3;
	s->authority = strndup(p, alen);
	s->prefix = strdup(slash ? slash : "");
	if (!s->authority || !s->prefix)
		return -ENOMEM;
	for (size_t n = strlen(s->prefix); n > 0 && s->prefix[n - 1] == '/'; n--)
		s->prefix[n - 1] = '\0';
	return 0;
}

static const struct astro_s3_ops real_ops;

static struct s3_real *real_of(const struct astro_s3 *s)
{
	assert(s->ops == &real_ops);
	return (struct s3_real *)s;
}

static void real_free(struct astro_s3 *s0)
{
	struct s3_real *s = (struct s3_real *)s0;

	free(s->scheme);
	free(s->authority);
	free(s->prefix);
	free(s->region);
	astro_awsprov_put(s->cred);
	free(s);
}

int astro_s3_new(const struct astro_s3_cfg *cfg, struct astro_s3 **out, char *err,
		 size_t errlen)
{
	struct s3_real *s = calloc(1, sizeof(*s));
	char aws[160];
	int rc;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->base.ops = &real_ops;
	s->region = strdup(cfg->region && *cfg->region ? cfg->region : "us-east-1");
	if (!s->region) {
		rc = -ENOMEM;
		goto out;
	}
	snprintf(aws, sizeof(aws), "https://s3.%s.amazonaws.com", s->region);
	rc = parse_endpoint(s, cfg->endpoint && *cfg->endpoint ? cfg->endpoint : aws);
	if (rc) {
		rc = astro_err_set(err, errlen, rc, "s3_endpoint '%s' is not an http(s):// URL",
				   cfg->endpoint);
		goto out;
	}
	s->path_style = cfg->path_style >= 0 ? cfg->path_style : (cfg->endpoint && *cfg->endpoint);
	s->request_payer = cfg->request_payer;
	s->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 30000;
	s->anonymous = cfg->anonymous;
	if (!s->anonymous) {
		/* awsprov says once when there are none */
		rc = astro_awsprov_get(cfg->credentials, cfg->profile, cfg->credentials_source,
				       &s->cred, err, errlen);
		if (rc == -ENOENT) {
			s->anonymous = 1;
			rc = 0;
		} else if (rc) {
			goto out;
		}
	}
	if (s->anonymous && s->request_payer)
		astro_warn("s3: s3_request_payer needs credentials; anonymous requests do not carry it");
	*out = &s->base;
	s = NULL;
out:
	if (s)
		real_free(&s->base);
	return rc;
}

void astro_s3_free(struct astro_s3 *s)
{
	if (s)
		s->ops->free(s);
}

/* DNS-compatible per the S3 bucket naming rules; dots break TLS wildcards. */
static int vhost_ok(const struct s3_real *s, const char *bucket)
{
	size_t n = strlen(bucket);

	if (n < 3 || n > 63 || !isalnum((unsigned char)bucket[0]) ||
	    !isalnum((unsigned char)bucket[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)bucket[i];

		if (c == '.' && strcmp(s->scheme, "https") == 0)
			return 0;
		if (!(islower(c) || isdigit(c) || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

ASTRO_TESTABLE int astro_s3_address(const struct astro_s3 *s0, const char *bucket, const char *key,
		     char **host, char **base, char **path)
{
	const struct s3_real *s = real_of(s0);
	size_t hl, bl, pl;
	int vhost;

	*host = *base = *path = NULL;
	if (!bucket || !*bucket || strchr(bucket, '/') || !key)
		return -EINVAL;
	vhost = !s->path_style && vhost_ok(s, bucket);
	hl = strlen(s->authority) + (vhost ? strlen(bucket) + 1 : 0) + 1;
	*host = malloc(hl);
	bl = strlen(s->scheme) + 3 + hl + strlen(s->prefix);
	*base = malloc(bl);
	pl = strlen(s->prefix) + strlen(bucket) + strlen(key) + 3;
	*path = malloc(pl);
	if (!*host || !*base || !*path) {
		free(*host);
		free(*base);
		free(*path);
		*host = *base = *path = NULL;
		return -ENOMEM;
	}
	if (vhost) {
		snprintf(*host, hl, "%s.%s", bucket, s->authority);
		snprintf(*path, pl, "%s/%s", s->prefix, key);
	} else {
		snprintf(*host, hl, "%s", s->authority);
		/* Bucket-level requests go to "/bucket" (s3rver and S3 both route it). */
		snprintf(*path, pl, "%s/%s%s%s", s->prefix, bucket, *key ? "/" : "", key);
	}
	snprintf(*base, bl, "%s://%s", s->scheme, *host);
	return 0;
}

/* A decimal number, or '*' (UINT64_MAX); the end of it, or NULL. */
static const char *num_or_star(const char *v, uint64_t *x)
{
	char *end;

	if (*v == '*') {
		*x = UINT64_MAX;
		return v + 1;
	}
	if (!isdigit((unsigned char)*v))
		return NULL;
	errno = 0;
	*x = strtoull(v, &end, 10);
	return errno || *x == UINT64_MAX ? NULL : end;
}

ASTRO_TESTABLE int astro_s3_parse_content_range(const char *v, uint64_t *a, uint64_t *b, uint64_t *total)
{
	while (*v == ' ')
		v++;
	if (strncasecmp(v, "bytes ", 6) != 0)
		return -EINVAL;
	v += 6;
	while (*v == ' ')
		v++;
	if (*v == '*') {
		*a = *b = UINT64_MAX;
		v++;
	} else if (!(v = num_or_star(v, a)) || *a == UINT64_MAX || *v++ != '-' ||
		   !(v = num_or_star(v, b)) || *b == UINT64_MAX || *b < *a) {
		return -EINVAL;
	}
	if (*v++ != '/' || !(v = num_or_star(v, total)))
		return -EINVAL;
	/* The last byte lies inside the object. */
	if (*a != UINT64_MAX && *total != UINT64_MAX && *b >= *total)
		return -EINVAL;
	while (*v == ' ' || *v == '\r' || *v == '\n')
		v++;
	return *v ? -EINVAL : 0;
}

int astro_s3_error(const char *what, long status, const char *body, size_t len)
{
	const char *hint = NULL;
	char code[128], msg[256];
	int rc;

	rc = astro_aws_error(status, body, len, code, sizeof(code), msg, sizeof(msg), &hint);
	if (rc == -EAGAIN)
		rc = -EIO;	/* http.h already retried; the caller cannot do better */
	astro_warn("s3: %s: HTTP %ld%s%s%s%s: %s", what, status, *code ? " " : "", code,
		   *msg ? " — " : "", msg, hint ? hint : "unexpected answer");
	return rc;
}

void astro_s3_info_from_headers(const struct astro_http_resp *r, struct astro_s3_info *info)
{
	char v[128];

	if (astro_http_header(r, "ETag", -1, v, sizeof(v)) > 0)
		astro_strlcpy(info->etag, v, sizeof(info->etag));
	if (astro_http_header(r, "Last-Modified", -1, v, sizeof(v)) > 0) {
		time_t t = curl_getdate(v, NULL);

		astro_strlcpy(info->last_modified, v, sizeof(info->last_modified));
		if (t > 0)
			info->mtime = (int64_t)t;
	}
}

void astro_s3_info_from_head(const struct astro_http_resp *r, struct astro_s3_info *info)
{
	char v[64], *end;

	astro_s3_info_from_headers(r, info);
	if (astro_http_header(r, "Content-Length", -1, v, sizeof(v)) > 0) {
		info->size = strtoull(v, &end, 10);
		if (end == v)
			info->size = UINT64_MAX;
	}
}

void astro_s3_take_body(struct astro_http_resp *r, struct astro_s3_info *info, char **body,
			size_t *len)
{
	astro_s3_info_from_headers(r, info);
	info->size = r->body_len;
	*body = r->body;
	*len = r->body_len;
	r->body = NULL;
}

void astro_s3_info_init(struct astro_s3_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = UINT64_MAX;
}

/* The validator a caller holds: the ETag if any, else Last-Modified. */
static const char *validator_of(const struct astro_s3_info *info)
{
	return info->etag[0] ? info->etag : info->last_modified;
}

int astro_s3_range_result(const char *what, int rc, const struct astro_http_resp *r,
			  uint64_t off, size_t len, const char *validator,
			  int (*errmap)(const char *what, long status, const char *body, size_t len),
			  void *buf, size_t *got, struct astro_s3_info *info)
{
	char cr[128];
	uint64_t a, b, total;

	*got = 0;
	if (rc == -EFBIG && r->status == 200)
		goto ignored;
	if (rc) {
		astro_warn("s3: %s: %s", what, strerror(-rc));
		return rc;
	}
	switch (r->status) {
	case 206:
		break;
	case 200:
		goto ignored;
	case 412:
		astro_notice("s3: %s: object replaced upstream (If-Match failed)", what);
		return -ESTALE;
	case 416:
		if (astro_http_header(r, "Content-Range", -1, cr, sizeof(cr)) > 0 &&
		    astro_s3_parse_content_range(cr, &a, &b, &total) == 0)
			info->size = total;
		astro_s3_info_from_headers(r, info);
		return 0;
	default:
		if (errmap)
			return errmap(what, r->status, r->body, r->body_len);
		rc = r->status == 404 || r->status == 410 ? -ENOENT :
		     r->status == 401 || r->status == 403 ? -EACCES : -EIO;
		astro_warn("s3: %s: HTTP %ld: %s", what, r->status,
			   rc == -ENOENT ? "no such object at this URL" :
			   rc == -EACCES ? "access denied (expired or missing signature/SAS token?)" :
			   "unexpected answer from the server");
		return rc;
	}
	if (astro_http_header(r, "Content-Range", -1, cr, sizeof(cr)) <= 0 ||
	    astro_s3_parse_content_range(cr, &a, &b, &total) != 0 || a == UINT64_MAX) {
		astro_warn("s3: %s: 206 without a valid Content-Range", what);
		return -EIO;
	}
	if (a != off || b - a + 1 != r->body_len || r->body_len > len) {
		astro_warn("s3: %s: asked bytes %" PRIu64 "+%zu, got Content-Range %s with %zu bytes",
			   what, off, len, cr, r->body_len);
		return -EIO;
	}
	astro_s3_info_from_headers(r, info);
	info->size = total;
	if (validator && *validator) {
		const char *now = validator_of(info);

		if (*now && strcmp(now, validator) != 0) {
			astro_notice("s3: %s: object replaced upstream (validator %s, was %s)",
				     what, now, validator);
			return -ESTALE;
		}
	}
	memcpy(buf, r->body, r->body_len);
	*got = r->body_len;
	return 0;
ignored:
	astro_err("s3: %s: the server ignored the Range header (200 instead of 206); "
		  "refusing to download the whole object", what);
	return -EIO;
}

struct sreq {
	const char *method;
	const char *bucket;
	const char *key;
	const struct astro_sigv4_param *query;
	size_t nquery;
	const char *const *headers;	/* extra, signed */
	size_t max_body;
	const void *body;
	size_t body_len;
	int once;			/* not idempotent: never retried */
};

/* Address one request and send it through the AWS request path. */
static int s3_send(struct s3_real *s, const struct sreq *q, struct astro_http_resp *resp)
{
	char *host = NULL, *base = NULL, *path = NULL;
	int rc;

	memset(resp, 0, sizeof(*resp));
	rc = astro_s3_address(&s->base, q->bucket, q->key, &host, &base, &path);
	if (rc)
		goto out;
	struct astro_aws_signer sg = {
		.region = s->region, .prov = s->anonymous ? NULL : s->cred,
		.request_payer = s->request_payer,
	};
	struct astro_aws_req ar = {
		.service = "s3", .method = q->method, .base = base, .path = path,
		.query = q->query, .nquery = q->nquery, .headers = q->headers,
		.body = q->body, .body_len = q->body_len, .idempotent = !q->once,
		.max_body = q->max_body, .timeout_ms = s->timeout_ms,
	};
	rc = astro_aws_send(&sg, &ar, resp);
out:
	free(host);
	free(base);
	free(path);
	return rc;
}

size_t astro_s3_range_cap(size_t len)
{
	return len + 1 < 65536 ? 65536 : len + 1;
}

int astro_s3_range_prep(uint64_t off, size_t len, const char *if_match, char range[80],
		      char im[160], const char *h[3], size_t *got, struct astro_s3_info *info)
{
	astro_s3_info_init(info);
	*got = 0;
	h[0] = range;
	h[1] = h[2] = NULL;
	if (len == 0)
		return 0;
	snprintf(range, 80, "Range: bytes=%" PRIu64 "-%" PRIu64, off, off + len - 1);
	if (if_match && *if_match) {
		snprintf(im, 160, "If-Match: %s", if_match);
		h[1] = im;
	}
	return 1;
}

static int real_get_range(struct astro_s3 *s, const char *bucket, const char *key,
			  uint64_t off, size_t len, const char *if_match, void *buf,
			  size_t *got, struct astro_s3_info *info)
{
	struct astro_http_resp r;
	char range[80], im[160], what[256];
	const char *h[3];
	int rc;

	if (!astro_s3_range_prep(off, len, if_match, range, im, h, got, info))
		return 0;
	snprintf(what, sizeof(what), "GET s3://%s/%s bytes %" PRIu64 "+%zu", bucket, key, off, len);
	struct sreq q = { "GET", bucket, key, NULL, 0, h, astro_s3_range_cap(len), NULL, 0, 0 };
	rc = s3_send(real_of(s), &q, &r);
	rc = astro_s3_range_result(what, rc, &r, off, len, if_match, astro_s3_error, buf, got, info);
	astro_http_resp_free(&r);
	return rc;
}

static int real_head(struct astro_s3 *s, const char *bucket, const char *key,
		     struct astro_s3_info *info)
{
	struct astro_http_resp r;
	char what[256];
	int rc;

	astro_s3_info_init(info);
	snprintf(what, sizeof(what), "HEAD s3://%s/%s", bucket, key);
	struct sreq q = { "HEAD", bucket, key, NULL, 0, NULL, 4096, NULL, 0, 0 };
	rc = s3_send(real_of(s), &q, &r);
	if (rc) {
		astro_warn("s3: %s: %s", what, strerror(-rc));
	} else if (r.status == 200) {
		astro_s3_info_from_head(&r, info);
	} else if (r.status == 404) {
		rc = -ENOENT;	/* an answer, not a fault: the caller reports it */
		astro_debug("s3: %s: HTTP 404", what);
	} else {
		rc = astro_s3_error(what, r.status, r.body, r.body_len);
	}
	astro_http_resp_free(&r);
	return rc;
}

static int real_list(struct astro_s3 *s, const char *bucket, const char *prefix,
		     const char *delimiter, const char *token, unsigned max_keys,
		     struct astro_s3_list *out)
{
	struct astro_sigv4_param qp[5];
	struct astro_http_resp r;
	char mk[16], what[256], msg[200];
	size_t n = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	qp[n++] = (struct astro_sigv4_param){ "list-type", "2" };
	if (prefix && *prefix)
		qp[n++] = (struct astro_sigv4_param){ "prefix", prefix };
	if (delimiter && *delimiter)
		qp[n++] = (struct astro_sigv4_param){ "delimiter", delimiter };
	if (token && *token)
		qp[n++] = (struct astro_sigv4_param){ "continuation-token", token };
	if (max_keys) {
		snprintf(mk, sizeof(mk), "%u", max_keys);
		qp[n++] = (struct astro_sigv4_param){ "max-keys", mk };
	}
	snprintf(what, sizeof(what), "LIST s3://%s/%s", bucket, prefix ? prefix : "");
	struct sreq q = { "GET", bucket, "", qp, n, NULL, 64u << 20, NULL, 0, 0 };
	rc = s3_send(real_of(s), &q, &r);
	if (rc) {
		astro_warn("s3: %s: %s", what, strerror(-rc));
	} else if (r.status != 200) {
		rc = astro_s3_error(what, r.status, r.body, r.body_len);
	} else if (astro_s3xml_parse_list(r.body, r.body_len, out, msg, sizeof(msg)) != 0) {
		astro_warn("s3: %s: unreadable listing: %s", what, msg);
		rc = -EIO;
	}
	astro_http_resp_free(&r);
	return rc;
}

static int real_get(struct astro_s3 *s, const char *bucket, const char *key, size_t max,
		    char **body, size_t *len, struct astro_s3_info *info)
{
	struct astro_http_resp r;
	char what[256];
	int rc;

	*body = NULL;
	*len = 0;
	astro_s3_info_init(info);
	snprintf(what, sizeof(what), "GET s3://%s/%s", bucket, key);
	struct sreq q = { "GET", bucket, key, NULL, 0, NULL, max, NULL, 0, 0 };
	rc = s3_send(real_of(s), &q, &r);
	if (rc) {
		astro_warn("s3: %s: %s", what, strerror(-rc));
	} else if (r.status == 404 && strstr(r.body ? r.body : "", "<Code>NoSuchKey</Code>")) {
		/* Not logged, as for HEAD: whether a key exists is an ordinary
		 * question (the shared tier asks it on every miss). */
		rc = -ENOENT;
	} else if (r.status != 200) {
		rc = astro_s3_error(what, r.status, r.body, r.body_len);
	} else if (r.body_secret) {
		rc = -EIO;	/* never asked for; keeps the free below right */
	} else {
		astro_s3_take_body(&r, info, body, len);
	}
	astro_http_resp_free(&r);
	return rc;
}

static int real_put(struct astro_s3 *s, const char *bucket, const char *key,
		    const void *body, size_t len, const struct astro_s3_put_opts *o,
		    struct astro_s3_info *info)
{
	static const struct astro_s3_put_opts none = { 0 };
	struct astro_http_resp r;
	char what[256], im[160];
	const char *h[8];
	size_t nh = 0;
	int rc;

	if (!o)
		o = &none;
	for (const char *const *p = o->headers; p && *p; p++) {
		if (nh == 4)
			return -EINVAL;
		h[nh++] = *p;
	}
	if (o->if_none_match)
		h[nh++] = "If-None-Match: *";
	if (o->if_match && *o->if_match) {
		snprintf(im, sizeof(im), "If-Match: %s", o->if_match);
		h[nh++] = im;
	}
	h[nh] = NULL;
	snprintf(what, sizeof(what), "PUT s3://%s/%s", bucket, key);
	struct sreq q = { "PUT", bucket, key, NULL, 0, h, 65536, body, len, 1 };
	rc = s3_send(real_of(s), &q, &r);
	if (rc) {
		astro_warn("s3: %s: %s", what, strerror(-rc));
	} else if ((r.status == 412 || r.status == 409) && (o->if_none_match || o->if_match)) {
		/* 409: a concurrent conditional write to the same key won. */
		rc = o->if_none_match ? -EEXIST : -ESTALE;
		astro_debug("s3: %s: HTTP %ld: precondition not met", what, r.status);
	} else if (r.status != 200) {
		rc = astro_s3_error(what, r.status, r.body, r.body_len);
	} else if (info) {
		astro_s3_info_init(info);
		astro_s3_info_from_headers(&r, info);
		info->size = len;
	}
	astro_http_resp_free(&r);
	return rc;
}

static int real_del(struct astro_s3 *s, const char *bucket, const char *key)
{
	struct astro_http_resp r;
	char what[256];
	int rc;

	snprintf(what, sizeof(what), "DELETE s3://%s/%s", bucket, key);
	struct sreq q = { "DELETE", bucket, key, NULL, 0, NULL, 65536, NULL, 0, 0 };
	rc = s3_send(real_of(s), &q, &r);
	if (rc)
		astro_warn("s3: %s: %s", what, strerror(-rc));
	else if (r.status != 204 && r.status != 200)
		rc = astro_s3_error(what, r.status, r.body, r.body_len);
	astro_http_resp_free(&r);
	return rc;
}

static const struct astro_s3_ops real_ops = {
	.get_range = real_get_range, .get = real_get, .head = real_head,
	.list = real_list, .put = real_put, .del = real_del, .free = real_free,
};

int astro_s3_get_range(struct astro_s3 *s, const char *bucket, const char *key,
		       uint64_t off, size_t len, const char *if_match, void *buf,
		       size_t *got, struct astro_s3_info *info)
{
	return s->ops->get_range(s, bucket, key, off, len, if_match, buf, got, info);
}

int astro_s3_get(struct astro_s3 *s, const char *bucket, const char *key, size_t max,
		 char **body, size_t *len, struct astro_s3_info *info)
{
	return s->ops->get(s, bucket, key, max, body, len, info);
}

int astro_s3_head(struct astro_s3 *s, const char *bucket, const char *key,
		  struct astro_s3_info *info)
{
	return s->ops->head(s, bucket, key, info);
}

int astro_s3_list(struct astro_s3 *s, const char *bucket, const char *prefix,
		  const char *delimiter, const char *token, unsigned max_keys,
		  struct astro_s3_list *out)
{
	return s->ops->list(s, bucket, prefix, delimiter, token, max_keys, out);
}

int astro_s3_put(struct astro_s3 *s, const char *bucket, const char *key,
		 const void *body, size_t len, const struct astro_s3_put_opts *o,
		 struct astro_s3_info *info)
{
	return s->ops->put(s, bucket, key, body, len, o, info);
}

int astro_s3_delete(struct astro_s3 *s, const char *bucket, const char *key)
{
	return s->ops->del(s, bucket, key);
}

void astro_s3_pager_init(struct astro_s3_pager *pg, int64_t deadline_ms)
{
	memset(pg, 0, sizeof(*pg));
	pg->deadline_ms = deadline_ms;
}

void astro_s3_pager_free(struct astro_s3_pager *pg)
{
	free(pg->seen);
	free(pg->last);
	memset(pg, 0, sizeof(*pg));
}

static uint64_t token_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

/* The greatest key or common prefix of a page, or NULL if it has none. */
static const char *page_max(const struct astro_s3_list *page)
{
	const char *m = NULL;

	for (size_t i = 0; i < page->nobjects; i++)
		if (!m || strcmp(page->objects[i].key, m) > 0)
			m = page->objects[i].key;
	for (size_t i = 0; i < page->nprefixes; i++)
		if (!m || strcmp(page->prefixes[i], m) > 0)
			m = page->prefixes[i];
	return m;
}

int astro_s3_pager_next(struct astro_s3_pager *pg, const struct astro_s3_list *page,
			const char *what)
{
	const char *m = page_max(page);
	uint64_t h;

	pg->pages++;
	if (!page->is_truncated)
		return 0;
	if (!page->next_token || !*page->next_token) {
		astro_warn("s3: %s: truncated page without a continuation token", what);
		return -EIO;
	}
	h = token_hash(page->next_token);
	for (size_t i = 0; i < pg->nseen; i++) {
		if (pg->seen[i] == h) {
			astro_warn("s3: %s: the server repeats a continuation token (page %u); giving up",
				   what, pg->pages);
			return -EIO;
		}
	}
	if (pg->nseen == pg->capseen) {
		size_t cap = pg->capseen ? pg->capseen * 2 : 16;
		uint64_t *ns = realloc(pg->seen, cap * sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		pg->seen = ns;
		pg->capseen = cap;
	}
	/* Checked against the greatest key of every earlier page, so a
	 * server repeating (or going back over) pages is caught whatever
	 * tokens it sends. */
	if (!m || (pg->last && strcmp(m, pg->last) <= 0)) {
		astro_warn("s3: %s: page %u of the listing makes no progress; giving up",
			   what, pg->pages);
		return -EIO;
	}
	pg->seen[pg->nseen++] = h;
	free(pg->last);
	if (!(pg->last = strdup(m)))
		return -ENOMEM;
	if (pg->deadline_ms && astro_mono_ms() >= pg->deadline_ms) {
		astro_warn("s3: %s: listing not complete after %u pages within the timeout",
			   what, pg->pages);
		return -ETIMEDOUT;
	}
	return 1;
}

char *astro_s3_http_url(const char *base_url, const char *path)
{
	const char *q = strchr(base_url, '?');
	size_t bl = q ? (size_t)(q - base_url) : strlen(base_url), n;
	char *enc, *url;

	while (*path == '/')
		path++;
	enc = astro_sigv4_uri_encode(path, strlen(path), 1);
	if (!enc)
		return NULL;
	n = bl + strlen(enc) + (q ? strlen(q) : 0) + 2;
	url = malloc(n);
	if (url) {
		int slash = bl > 0 && base_url[bl - 1] == '/';

		snprintf(url, n, "%.*s%s%s%s", (int)bl, base_url, slash ? "" : "/", enc, q ? q : "");
	}
	free(enc);
	return url;
}

int astro_s3_http_get_range(const char *url, uint64_t off, size_t len, const char *validator,
			    unsigned timeout_ms, void *buf, size_t *got,
			    struct astro_s3_info *info)
{
	struct astro_http_resp r;
	char range[80], im[160], what[128];
	const char *h[3];
	int rc;

	/* Only a strong ETag goes in If-Match (weak ones never match it, RFC
	 * 9110 §13.1.1); a Last-Modified date is compared after the answer. */
	if (!astro_s3_range_prep(off, len, validator && validator[0] == '"' ? validator : NULL,
			range, im, h, got, info))
		return 0;
	/* The URL may carry a SAS or presigned signature: log only the path part. */
	snprintf(what, sizeof(what), "GET %.*s bytes %" PRIu64 "+%zu",
		 (int)strcspn(url, "?"), url, off, len);
	struct astro_http_req hr = {
		.method = "GET", .url = url, .headers = h,
		.timeout_ms = timeout_ms ? timeout_ms : 30000, .idempotent = 1,
		.max_body = astro_s3_range_cap(len), .service = "http",
	};
	rc = astro_http_request(&hr, &r);
	rc = astro_s3_range_result(what, rc, &r, off, len, validator, NULL, buf, got, info);
	astro_http_resp_free(&r);
	return rc;
}

int astro_s3_http_head(const char *url, unsigned timeout_ms, struct astro_s3_info *info)
{
	struct astro_http_resp r;
	char v[64];
	int rc;

	astro_s3_info_init(info);
	struct astro_http_req hr = {
		.method = "HEAD", .url = url, .timeout_ms = timeout_ms ? timeout_ms : 30000,
		.idempotent = 1, .max_body = 4096, .service = "http",
	};
	rc = astro_http_request(&hr, &r);
	if (rc == 0 && r.status == 200 &&
	    astro_http_header(&r, "Content-Length", -1, v, sizeof(v)) > 0) {
		char *end;

		astro_s3_info_from_headers(&r, info);
		info->size = strtoull(v, &end, 10);
		if (end != v) {
			astro_http_resp_free(&r);
			return 0;
		}
		info->size = UINT64_MAX;
	}
	if (rc == 0 && (r.status == 200 || r.status == 403 || r.status == 405 || r.status == 501)) {
		/* No usable HEAD: the first byte's Content-Range gives the size. */
		char one;
		size_t got;

		astro_http_resp_free(&r);
		return astro_s3_http_get_range(url, 0, 1, NULL, timeout_ms, &one, &got, info);
	}
	{
		char what[128];
		size_t none;

		snprintf(what, sizeof(what), "HEAD %.*s", (int)strcspn(url, "?"), url);
		rc = astro_s3_range_result(what, rc, &r, 0, 0, NULL, NULL, NULL, &none, info);
		if (rc == 0)
			rc = -EIO;
	}
	astro_http_resp_free(&r);
	return rc;
}

/*
 * sigv4.c — AWS Signature Version 4 for S3 (see sigv4.h).
 *
 * Hand-written on purpose: libcurl's CURLOPT_AWS_SIGV4 in Debian 12's curl
 * 7.88 does not canonicalise query strings as AWS does (percent-encoding,
 * valueless parameters: fixed upstream only in curl 8.3-8.5, curl issues
 * 11794, 12244), and no other C library in Debian signs SigV4.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "core/astro.h"
#include "services/sigv4.h"

#define ALGORITHM "AWS4-HMAC-SHA256"

static void sb_printf(struct astro_buf *b, const char *fmt, ...) ASTRO_PRINTF(2, 3);
static void sb_printf(struct astro_buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	/* Only short fixed-shape pieces go through here. */
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->err = -EINVAL;
		return;
	}
	astro_buf_put(b, tmp, (size_t)n);
}

/* Hand the string over (or "" on an empty buffer); NULL after an error. */
static char *sb_take(struct astro_buf *b)
{
	char *p;

	if (!b->err && !b->p)
		astro_buf_put(b, "", 0);
	if (b->err) {
		free(b->p);
		b->p = NULL;
		return NULL;
	}
	p = b->p;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

static int is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

static void sb_encode(struct astro_buf *b, const char *s, size_t len, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (is_unreserved(c) || (keep_slash && c == '/')) {
			astro_buf_put(b, (const char *)&c, 1);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };

			astro_buf_put(b, e, 3);
		}
	}
}

char *astro_sigv4_uri_encode(const char *src, size_t len, int keep_slash)
{
	struct astro_buf b = { 0 };

	sb_encode(&b, src, len, keep_slash);
	return sb_take(&b);
}

static void to_hex(const unsigned char *d, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 15];
	}
	hex[2 * n] = '\0';
}

int astro_sigv4_sha256_hex(const void *data, size_t len, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(data ? data : "", len, md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen != 32)
		return -EIO;
	to_hex(md, 32, hex);
	return 0;
}

static int hmac256(const void *key, size_t klen, const char *msg,
		   unsigned char out[32])
{
	unsigned int n = 0;

	if (!HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg,
		  strlen(msg), out, &n) || n != 32)
		return -EIO;
	return 0;
}

/* One header to sign: lowercased name, canonical value. */
struct hdr {
	char *name;
	char *value;
};

/* Trim and fold inner whitespace runs to one space (SigV4 "Trimall"). */
static char *canon_value(const char *v)
{
	struct astro_buf b = { 0 };
	int pending_space = 0;

	for (; *v; v++) {
		if (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') {
			pending_space = b.len > 0;
			continue;
		}
		if (pending_space)
			astro_buf_put(&b, " ", 1);
		pending_space = 0;
		astro_buf_put(&b, v, 1);
	}
	return sb_take(&b);
}

/* Headers the signer owns; a caller passing them would be signed twice. */
static int is_owned(const char *lname)
{
	static const char *const owned[] = {
		"authorization", "host", "x-amz-date", "x-amz-content-sha256",
		"x-amz-security-token", "x-amz-request-payer",
	};
	size_t i;

	for (i = 0; i < ASTRO_ARRAY_SIZE(owned); i++)
		if (strcmp(lname, owned[i]) == 0)
			return 1;
	return 0;
}

static int hdr_push(struct hdr *h, size_t *n, const char *name, size_t nlen,
		    const char *value)
{
	size_t i;

	h[*n].name = strndup(name, nlen);
	h[*n].value = canon_value(value);
	if (!h[*n].name || !h[*n].value) {
		free(h[*n].name);
		free(h[*n].value);
		return -ENOMEM;
	}
	for (i = 0; i < nlen; i++)
		h[*n].name[i] = (char)tolower((unsigned char)h[*n].name[i]);
	(*n)++;
	return 0;
}

/* Merge repeated names (values joined with ',' in their given order). */
static int hdr_merge(struct hdr *h, size_t *n)
{
	size_t i, j = 0;

	/* Insertion sort: stable, so repeated names keep their given order. */
	for (i = 1; i < *n; i++) {
		struct hdr t = h[i];
		size_t k = i;

		while (k > 0 && strcmp(h[k - 1].name, t.name) > 0) {
			h[k] = h[k - 1];
			k--;
		}
		h[k] = t;
	}
	for (i = 0; i < *n; i++) {
		if (j > 0 && strcmp(h[j - 1].name, h[i].name) == 0) {
			size_t a = strlen(h[j - 1].value), b = strlen(h[i].value);
			char *v = realloc(h[j - 1].value, a + b + 2);

			if (!v)
				return -ENOMEM;
			v[a] = ',';
			memcpy(v + a + 1, h[i].value, b + 1);
			h[j - 1].value = v;
			free(h[i].name);
			free(h[i].value);
			continue;
		}
		h[j++] = h[i];
	}
	*n = j;
	return 0;
}

struct qp {
	char *name;
	char *value;
};

static int qp_cmp(const void *a, const void *b)
{
	const struct qp *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

static int qp_push(struct qp *q, size_t *n, const char *name, const char *value)
{
	q[*n].name = astro_sigv4_uri_encode(name, strlen(name), 0);
	q[*n].value = astro_sigv4_uri_encode(value ? value : "",
					     value ? strlen(value) : 0, 0);
	if (!q[*n].name || !q[*n].value) {
		free(q[*n].name);
		free(q[*n].value);
		return -ENOMEM;
	}
	(*n)++;
	return 0;
}

static void qp_join(struct astro_buf *b, const struct qp *q, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i)
			astro_buf_put(b, "&", 1);
		astro_buf_str(b, q[i].name);
		astro_buf_put(b, "=", 1);
		astro_buf_str(b, q[i].value);
	}
}

/* Everything both signing modes share while they are being built. */
struct work {
	struct hdr *h;
	size_t nh;
	struct qp *q;
	size_t nq;
	char date[9];		/* YYYYMMDD */
	char scope[256];	/* date/region/service/aws4_request */
	char *signed_headers;
};

static void work_free(struct work *w)
{
	size_t i;

	for (i = 0; i < w->nh; i++) {
		free(w->h[i].name);
		free(w->h[i].value);
	}
	for (i = 0; i < w->nq; i++) {
		free(w->q[i].name);
		free(w->q[i].value);
	}
	free(w->h);
	free(w->q);
	free(w->signed_headers);
}

static int check_req(const struct astro_sigv4_req *req,
		     const struct astro_sigv4_creds *creds)
{
	if (!req || !creds || !req->method || !*req->method || !req->host ||
	    !*req->host || !req->path || req->path[0] != '/' || !req->region ||
	    !*req->region || !creds->access_key || !*creds->access_key ||
	    !creds->secret_key || !*creds->secret_key || req->now < 0 ||
	    (req->nquery && !req->query) ||
	    (req->service && !*req->service))
		return -EINVAL;
	/* A newline in any signed piece would forge extra canonical lines. */
	if (strpbrk(req->host, "\r\n") || strpbrk(req->region, "\r\n/") ||
	    strchr(creds->access_key, '/') ||
	    (creds->session_token && strpbrk(creds->session_token, "\r\n")))
		return -EINVAL;
	return 0;
}

static int work_init(struct work *w, const struct astro_sigv4_req *req,
		     const struct astro_sigv4_creds *creds, int query_auth,
		     struct astro_sigv4_out *out)
{
	const char *service = req->service ? req->service : "s3";
	time_t t = (time_t)req->now;
	struct tm tm;
	size_t nin = 0, i;
	int rc, n;

	while (req->headers && req->headers[nin])
		nin++;
	w->h = calloc(nin + 5, sizeof(*w->h));
	w->q = calloc(req->nquery + 7, sizeof(*w->q));
	if (!w->h || !w->q)
		return -ENOMEM;
	if (!gmtime_r(&t, &tm))
		return -EINVAL;
	if (strftime(out->amz_date, sizeof(out->amz_date), "%Y%m%dT%H%M%SZ", &tm) != 16)
		return -EINVAL;
	memcpy(w->date, out->amz_date, 8);
	w->date[8] = '\0';
	n = snprintf(w->scope, sizeof(w->scope), "%s/%s/%s/aws4_request",
		     w->date, req->region, service);
	if (n < 0 || (size_t)n >= sizeof(w->scope))
		return -EINVAL;

	if ((rc = hdr_push(w->h, &w->nh, "host", 4, req->host)) < 0)
		return rc;
	for (i = 0; i < nin; i++) {
		const char *line = req->headers[i], *colon = strchr(line, ':');
		size_t k;

		if (!colon || colon == line || strpbrk(line, "\r\n"))
			return -EINVAL;
		for (k = 0; line + k < colon; k++)
			if (!isgraph((unsigned char)line[k]))
				return -EINVAL;
		if ((rc = hdr_push(w->h, &w->nh, line, (size_t)(colon - line), colon + 1)) < 0)
			return rc;
		if (is_owned(w->h[w->nh - 1].name))
			return -EINVAL;
	}
	if (!query_auth) {
		if ((rc = hdr_push(w->h, &w->nh, "x-amz-date", 10, out->amz_date)) < 0)
			return rc;
		if (strcmp(service, "s3") == 0 &&
		    (rc = hdr_push(w->h, &w->nh, "x-amz-content-sha256", 20, out->payload_hash)) < 0)
			return rc;
		if (creds->session_token && *creds->session_token &&
		    (rc = hdr_push(w->h, &w->nh, "x-amz-security-token", 20, creds->session_token)) < 0)
			return rc;
	}
	if (req->request_payer &&
	    (rc = hdr_push(w->h, &w->nh, "x-amz-request-payer", 19, "requester")) < 0)
		return rc;
	if ((rc = hdr_merge(w->h, &w->nh)) < 0)
		return rc;

	{
		struct astro_buf b = { 0 };

		for (i = 0; i < w->nh; i++) {
			if (i)
				astro_buf_put(&b, ";", 1);
			astro_buf_str(&b, w->h[i].name);
		}
		if (!(w->signed_headers = sb_take(&b)))
			return -ENOMEM;
	}

	for (i = 0; i < req->nquery; i++) {
		if (!req->query[i].name)
			return -EINVAL;
		if ((rc = qp_push(w->q, &w->nq, req->query[i].name, req->query[i].value)) < 0)
			return rc;
	}
	if (query_auth) {
		char cred[512];

		n = snprintf(cred, sizeof(cred), "%s/%s", creds->access_key, w->scope);
		if (n < 0 || (size_t)n >= sizeof(cred))
			return -EINVAL;
		if ((rc = qp_push(w->q, &w->nq, "X-Amz-Algorithm", ALGORITHM)) < 0 ||
		    (rc = qp_push(w->q, &w->nq, "X-Amz-Credential", cred)) < 0 ||
		    (rc = qp_push(w->q, &w->nq, "X-Amz-Date", out->amz_date)) < 0 ||
		    (rc = qp_push(w->q, &w->nq, "X-Amz-SignedHeaders", w->signed_headers)) < 0)
			return rc;
		if (creds->session_token && *creds->session_token &&
		    (rc = qp_push(w->q, &w->nq, "X-Amz-Security-Token", creds->session_token)) < 0)
			return rc;
	}
	return 0;
}

/* Canonical request, string to sign, signature; shared by both modes. */
static int finish(struct work *w, const struct astro_sigv4_req *req,
		  const struct astro_sigv4_creds *creds,
		  struct astro_sigv4_out *out)
{
	const char *service = req->service ? req->service : "s3";
	struct astro_buf b = { 0 };
	char crhash[65];
	unsigned char k[32];
	size_t i;
	int rc;

	qsort(w->q, w->nq, sizeof(*w->q), qp_cmp);
	qp_join(&b, w->q, w->nq);
	if (!(out->query = sb_take(&b)))
		return -ENOMEM;
	sb_encode(&b, req->path, strlen(req->path), 1);
	if (!(out->path = sb_take(&b)))
		return -ENOMEM;

	astro_buf_str(&b, req->method);
	astro_buf_put(&b, "\n", 1);
	astro_buf_str(&b, out->path);
	astro_buf_put(&b, "\n", 1);
	astro_buf_str(&b, out->query);
	astro_buf_put(&b, "\n", 1);
	for (i = 0; i < w->nh; i++) {
		astro_buf_str(&b, w->h[i].name);
		astro_buf_put(&b, ":", 1);
		astro_buf_str(&b, w->h[i].value);
		astro_buf_put(&b, "\n", 1);
	}
	astro_buf_put(&b, "\n", 1);
	astro_buf_str(&b, w->signed_headers);
	astro_buf_put(&b, "\n", 1);
	astro_buf_str(&b, out->payload_hash);
	if (!(out->canonical_request = sb_take(&b)))
		return -ENOMEM;

	if ((rc = astro_sigv4_sha256_hex(out->canonical_request,
					 strlen(out->canonical_request), crhash)) < 0)
		return rc;
	sb_printf(&b, "%s\n%s\n%s\n%s", ALGORITHM, out->amz_date, w->scope, crhash);
	if (!(out->string_to_sign = sb_take(&b)))
		return -ENOMEM;

	/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request") */
	astro_buf_str(&b, "AWS4");
	astro_buf_str(&b, creds->secret_key);
	if (b.err)
		return b.err;
	rc = hmac256(b.p, b.len, w->date, k);
	OPENSSL_cleanse(b.p, b.len);
	free(b.p);
	if (rc < 0 || (rc = hmac256(k, 32, req->region, k)) < 0 ||
	    (rc = hmac256(k, 32, service, k)) < 0 ||
	    (rc = hmac256(k, 32, "aws4_request", k)) < 0 ||
	    (rc = hmac256(k, 32, out->string_to_sign, k)) < 0)
		goto out;
	to_hex(k, 32, out->signature);
out:
	OPENSSL_cleanse(k, sizeof(k));
	return rc;
}

static int add_header(struct astro_sigv4_out *out, size_t *n, const char *name,
		      const char *value)
{
	struct astro_buf b = { 0 };

	sb_printf(&b, "%s: ", name);
	astro_buf_str(&b, value);
	if (!(out->headers[*n] = sb_take(&b)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

static int sign_common(const struct astro_sigv4_req *req,
		       const struct astro_sigv4_creds *creds, int64_t expires,
		       struct astro_sigv4_out *out)
{
	int query_auth = expires > 0;
	struct work w = { 0 };
	size_t nh = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = check_req(req, creds)) < 0)
		goto out;
	if (query_auth || req->unsigned_payload)
		memcpy(out->payload_hash, ASTRO_SIGV4_UNSIGNED_PAYLOAD,
		       sizeof(ASTRO_SIGV4_UNSIGNED_PAYLOAD));
	else if ((rc = astro_sigv4_sha256_hex(req->payload, req->payload_len,
					      out->payload_hash)) < 0)
		goto out;
	if ((rc = work_init(&w, req, creds, query_auth, out)) < 0)
		goto out;
	if (query_auth) {
		char exp[24];

		snprintf(exp, sizeof(exp), "%lld", (long long)expires);
		if ((rc = qp_push(w.q, &w.nq, "X-Amz-Expires", exp)) < 0)
			goto out;
	}
	if ((rc = finish(&w, req, creds, out)) < 0)
		goto out;

	out->headers = calloc(6, sizeof(*out->headers));
	if (!out->headers) {
		rc = -ENOMEM;
		goto out;
	}
	if (query_auth) {
		struct astro_buf b = { 0 };

		astro_buf_str(&b, out->query);
		astro_buf_str(&b, *out->query ? "&X-Amz-Signature=" : "X-Amz-Signature=");
		astro_buf_str(&b, out->signature);
		free(out->query);
		if (!(out->query = sb_take(&b))) {
			rc = -ENOMEM;
			goto out;
		}
		if (req->request_payer)
			rc = add_header(out, &nh, "x-amz-request-payer", "requester");
		goto out;
	}
	if ((rc = add_header(out, &nh, "x-amz-date", out->amz_date)) < 0)
		goto out;
	if (strcmp(req->service ? req->service : "s3", "s3") == 0 &&
	    (rc = add_header(out, &nh, "x-amz-content-sha256", out->payload_hash)) < 0)
		goto out;
	if (creds->session_token && *creds->session_token &&
	    (rc = add_header(out, &nh, "x-amz-security-token", creds->session_token)) < 0)
		goto out;
	if (req->request_payer &&
	    (rc = add_header(out, &nh, "x-amz-request-payer", "requester")) < 0)
		goto out;
	{
		struct astro_buf b = { 0 };

		sb_printf(&b, "%s Credential=%s/%s, SignedHeaders=", ALGORITHM,
			  creds->access_key, w.scope);
		astro_buf_str(&b, w.signed_headers);
		sb_printf(&b, ", Signature=%s", out->signature);
		astro_buf_put(&b, "", 0);
		if (b.err) {
			free(b.p);
			rc = b.err;
			goto out;
		}
		rc = add_header(out, &nh, "Authorization", b.p);
		free(b.p);
	}
out:
	work_free(&w);
	if (rc < 0)
		astro_sigv4_out_free(out);
	return rc;
}

int astro_sigv4_sign(const struct astro_sigv4_req *req,
		     const struct astro_sigv4_creds *creds,
		     struct astro_sigv4_out *out)
{
	return sign_common(req, creds, 0, out);
}

int astro_sigv4_presign(const struct astro_sigv4_req *req,
			const struct astro_sigv4_creds *creds,
			int64_t expires, struct astro_sigv4_out *out)
{
	/* AWS caps presigned URLs at 7 days. */
	if (expires < 1 || expires > 604800) {
		memset(out, 0, sizeof(*out));
		return -EINVAL;
	}
	return sign_common(req, creds, expires, out);
}

void astro_sigv4_out_free(struct astro_sigv4_out *out)
{
	size_t i;

	if (!out)
		return;
	for (i = 0; out->headers && out->headers[i]; i++)
		free(out->headers[i]);
	free(out->headers);
	free(out->path);
	free(out->query);
	free(out->canonical_request);
	free(out->string_to_sign);
	memset(out, 0, sizeof(*out));
}

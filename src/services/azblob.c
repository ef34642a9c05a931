/*
 * azblob.c — Azure Blob Storage behind the object-client interface (see
 * azblob.h).
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "core/astro.h"
#include "core/config.h"
#include "core/log.h"
#include "services/azblob.h"
#include "services/http.h"

/* Served by Azure and by Azurite 3.x; new enough for every call made here. */
#define AZ_VERSION "2021-08-06"
#define MAX_KEY 128		/* decoded account keys are 64 bytes */

enum az_auth { AZ_ANON, AZ_SAS, AZ_KEY };

struct az {
	struct astro_s3 base;
	char *url;		/* scheme://authority, plus "/ACCOUNT" path-style */
	char *account;
	char *res;		/* "/ACCOUNT" + any path-style "/ACCOUNT" */
	enum az_auth auth;
	char *sas;		/* secure memory, without a leading '?' */
	unsigned char *key;	/* secure memory, MAX_KEY bytes */
	size_t keylen;
	unsigned timeout_ms;
};

static const struct astro_s3_ops az_ops;

static struct az *az_of(struct astro_s3 *s)
{
	assert(s->ops == &az_ops);
	return (struct az *)s;
}

/* ---- Shared Key ---------------------------------------------------------- */

/* The headers of the string to sign, in its order (x-ms-date replaces Date). */
static const char *const std_headers[] = {
	"Content-Encoding", "Content-Language", "Content-Length", "Content-MD5",
	"Content-Type", "Date", "If-Modified-Since", "If-Match", "If-None-Match",
	"If-Unmodified-Since", "Range",
};

/* The value of header `name` in "Name: value" lines, trimmed, or NULL. */
static const char *header_value(const char *const *h, const char *name, size_t *vl)
{
	size_t n = strlen(name);

	for (; h && *h; h++) {
		const char *v;

		if (strncasecmp(*h, name, n) != 0 || (*h)[n] != ':')
			continue;
		for (v = *h + n + 1; *v == ' '; v++)
			;
		*vl = strlen(v);
		while (*vl && v[*vl - 1] == ' ')
			(*vl)--;
		return v;
	}
	return NULL;
}

static int by_lower_name(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	size_t nx = strcspn(x, ":"), ny = strcspn(y, ":");
	int c = strncasecmp(x, y, nx < ny ? nx : ny);

	return c ? c : (nx > ny) - (nx < ny);
}

static int by_param_name(const void *a, const void *b)
{
	const struct astro_sigv4_param *x = a, *y = b;

	return strcasecmp(x->name, y->name);
}

static void put_lower(struct astro_buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		astro_buf_printf(b, "%c", tolower((unsigned char)s[i]));
}

char *astro_azblob_string_to_sign(const char *method, const char *const *headers,
				  const char *resource, const struct astro_sigv4_param *q,
				  size_t nq)
{
	struct astro_buf b = { 0 };
	const char *xms[32];
	struct astro_sigv4_param *qs = NULL;
	size_t nx = 0, vl;

	astro_buf_printf(&b, "%s\n", method);
	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(std_headers); i++) {
		const char *v = header_value(headers, std_headers[i], &vl);

		/* Since 2015-02-21 a zero Content-Length is signed as empty. */
		if (v && i == 2 && vl == 1 && *v == '0')
			v = NULL;
		astro_buf_printf(&b, "%.*s\n", v ? (int)vl : 0, v ? v : "");
	}
	for (const char *const *h = headers; h && *h; h++) {
		if (strncasecmp(*h, "x-ms-", 5) != 0)
			continue;
		if (nx == ASTRO_ARRAY_SIZE(xms))
			goto fail;
		xms[nx++] = *h;
	}
	qsort(xms, nx, sizeof(xms[0]), by_lower_name);
	for (size_t i = 0; i < nx; i++) {
		size_t n = strcspn(xms[i], ":");
		const char *v = xms[i] + n + (xms[i][n] == ':');

		while (*v == ' ')
			v++;
		vl = strlen(v);
		while (vl && v[vl - 1] == ' ')
			vl--;
		put_lower(&b, xms[i], n);
		astro_buf_printf(&b, ":%.*s\n", (int)vl, v);
	}
	astro_buf_printf(&b, "%s", resource);
	if (nq) {
		if (!(qs = malloc(nq * sizeof(*qs))))
			goto fail;
		memcpy(qs, q, nq * sizeof(*qs));
		qsort(qs, nq, sizeof(*qs), by_param_name);
		for (size_t i = 0; i < nq; i++) {
			astro_buf_printf(&b, "\n");
			put_lower(&b, qs[i].name, strlen(qs[i].name));
			astro_buf_printf(&b, ":%s", qs[i].value);
		}
		free(qs);
	}
	if (b.err)
		goto fail;
	return b.p;
fail:
	free(b.p);
	return NULL;
}

static int sign_raw(const unsigned char *key, size_t keylen, const char *sts, char *out,
		    size_t outlen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	if (outlen < 45 || !HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)sts,
				 strlen(sts), mac, &maclen) || maclen != 32)
		return -EINVAL;
	EVP_EncodeBlock((unsigned char *)out, mac, (int)maclen);
	return 0;
}

/* Base64 account key into key[MAX_KEY]; -EINVAL when it is not base64. */
static int decode_key(const char *b64, unsigned char *key, size_t *keylen)
{
	size_t n = strlen(b64), pad = 0;
	unsigned char tmp[MAX_KEY + 3];
	int got;

	if (n == 0 || n % 4 || n / 4 * 3 > sizeof(tmp))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)b64[i];

		if (c == '=' && i >= n - 2)
			pad++;
		else if (pad || !(isalnum(c) || c == '+' || c == '/'))
			return -EINVAL;
	}
	got = EVP_DecodeBlock(tmp, (const unsigned char *)b64, (int)n);
	if (got < 0 || (size_t)got < pad || (size_t)got - pad > MAX_KEY) {
		explicit_bzero(tmp, sizeof(tmp));
		return -EINVAL;
	}
	*keylen = (size_t)got - pad;
	memcpy(key, tmp, *keylen);
	explicit_bzero(tmp, sizeof(tmp));
	return 0;
}

int astro_azblob_sign(const char *key_b64, const char *sts, char *out, size_t outlen)
{
	unsigned char key[MAX_KEY];
	size_t keylen;
	int rc = decode_key(key_b64, key, &keylen);

	if (rc == 0)
		rc = sign_raw(key, keylen, sts, out, outlen);
	explicit_bzero(key, sizeof(key));
	return rc;
}

/* ---- set-up -------------------------------------------------------------- */

static void az_free(struct astro_s3 *s0)
{
	struct az *a = (struct az *)s0;

	free(a->url);
	free(a->account);
	free(a->res);
	astro_secure_strfree(a->sas);
	if (a->key)
		astro_secure_free(a->key, MAX_KEY);
	free(a);
}

/* An emulator's host: the account is then the first path segment. */
static int path_style_host(const char *h, size_t n)
{
	size_t i;

	if (n && h[0] == '[')
		return 1;
	if (n == 9 && strncasecmp(h, "localhost", 9) == 0)
		return 1;
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)h[i]) && h[i] != '.')
			return 0;
	return n > 0;
}

static int az_name_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return 0;
	return n > 0 && n <= 63;
}

/*
 * Split the container URL into the account's base URL, the signed
 * resource prefix and *container; *query points at its query string, if
 * any (a SAS given in the URL), which the caller copies to secure memory.
 */
static int parse_url(struct az *a, const char *url, char **container, const char **query,
		     char *err, size_t errlen)
{
	const char *p = strstr(url, "://"), *host, *path, *seg2;
	size_t hl, hn, al, cl;

	*query = NULL;
	if (!p || !((p - url == 4 && strncmp(url, "http", 4) == 0) ||
		    (p - url == 5 && strncmp(url, "https", 5) == 0)))
		return astro_err_set(err, errlen, -EINVAL, "'%.*s': not an http(s):// URL",
				     (int)strcspn(url, "?"), url);
	host = p + 3;
	hl = strcspn(host, "/?#");
	hn = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":/?#");
	if (hn > hl)
		hn = hl;
	path = host + hl;
	if (*path == '/')
		path++;
	if (path_style_host(host, hn)) {
		al = strcspn(path, "/?#");
		if (!az_name_ok(path, al))
			goto bad;
		a->account = strndup(path, al);
		if (asprintf(&a->url, "%.*s/%.*s", (int)(host + hl - url), url, (int)al, path) < 0)
			a->url = NULL;
		seg2 = path + al + (path[al] == '/');
		if (asprintf(&a->res, "/%.*s/%.*s", (int)al, path, (int)al, path) < 0)
			a->res = NULL;
	} else {
		al = strcspn(host, ".:/?#");
		if (!az_name_ok(host, al))
			goto bad;
		a->account = strndup(host, al);
		a->url = strndup(url, (size_t)(host + hl - url));
		seg2 = path;
		if (asprintf(&a->res, "/%.*s", (int)al, host) < 0)
			a->res = NULL;
	}
	if (!a->account || !a->url || !a->res)
		return -ENOMEM;
	cl = strcspn(seg2, "/?#");
	/* Container names are [a-z0-9-] (the service checks the rest);
	 * $root and $web are the reserved ones. */
	if (!(az_name_ok(seg2, cl) || (cl > 1 && seg2[0] == '$' && az_name_ok(seg2 + 1, cl - 1))))
		goto bad;
	if (seg2[cl] == '/' && seg2[cl + 1] && seg2[cl + 1] != '?')
		return astro_err_set(err, errlen, -EINVAL,
				     "'%.*s': give the container URL, without a path inside it",
				     (int)strcspn(url, "?"), url);
	if (!(*container = strndup(seg2, cl)))
		return -ENOMEM;
	p = strchr(seg2, '?');
	if (p && p[1])
		*query = p + 1;
	return 0;
bad:
	return astro_err_set(err, errlen, -EINVAL,
			     "'%.*s': expected https://ACCOUNT.blob.core.windows.net/CONTAINER "
			     "or http://HOST:PORT/ACCOUNT/CONTAINER", (int)strcspn(url, "?"), url);
}

/* The source's entry in the credentials file: NAME.key or NAME.sas. */
static int load_credentials(struct az *a, const struct astro_azblob_cfg *cfg,
			    const char *url_sas, char *err, size_t errlen)
{
	char k1[300], k2[300], *key = NULL, *sas = NULL, why[400];
	int rc = 0;

	if (cfg->credentials) {
		snprintf(k1, sizeof(k1), "%s.key", cfg->name);
		snprintf(k2, sizeof(k2), "%s.sas", cfg->name);
		rc = astro_config_read_secret_keys(cfg->credentials, k1, &key, k2, &sas,
						   why, sizeof(why));
		if (rc < 0)
			return astro_err_set(err, errlen, rc, "fits_azure_credentials %s", why);
	}
	if ((key && sas) || ((key || sas) && url_sas)) {
		rc = astro_err_set(err, errlen, -EINVAL,
				   "fits_azure %s: give one of an account key, a SAS in the "
				   "credentials file, or a SAS in the URL", cfg->name);
		goto out;
	}
	if (key) {
		a->key = astro_secure_alloc(MAX_KEY);
		if (!a->key) {
			rc = -ENOMEM;
			goto out;
		}
		if (decode_key(key, a->key, &a->keylen) < 0 || a->keylen == 0) {
			rc = astro_err_set(err, errlen, -EINVAL,
					   "fits_azure_credentials %s: %s is not a base64 account key",
					   cfg->credentials, k1);
			goto out;
		}
		a->auth = AZ_KEY;
	} else if (sas || url_sas) {
		const char *t = sas ? sas : url_sas;

		a->sas = astro_secure_strdup(t + (*t == '?'));
		if (!a->sas) {
			rc = -ENOMEM;
			goto out;
		}
		a->auth = AZ_SAS;
	}
out:
	astro_secure_strfree(key);
	astro_secure_strfree(sas);
	return rc;
}

int astro_azblob_new(const struct astro_azblob_cfg *cfg, struct astro_s3 **out,
		     char **container, char *err, size_t errlen)
{
	struct az *a = calloc(1, sizeof(*a));
	const char *query;
	int rc;

	*out = NULL;
	*container = NULL;
	if (!a)
		return -ENOMEM;
	a->base.ops = &az_ops;
	a->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 30000;
	rc = parse_url(a, cfg->url, container, &query, err, errlen);
	if (rc == 0)
		rc = load_credentials(a, cfg, query, err, errlen);
	if (rc) {
		free(*container);
		*container = NULL;
		az_free(&a->base);
		return rc;
	}
	astro_info("fits: %s: Azure account %s, container %s, %s", cfg->name, a->account,
		   *container, a->auth == AZ_KEY ? "shared key" : a->auth == AZ_SAS ? "SAS" :
		   "anonymous");
	*out = &a->base;
	return 0;
}

/* ---- requests ------------------------------------------------------------ */

struct azreq {
	const char *method;
	const char *container;
	const char *blob;		/* NULL: container-level */
	const struct astro_sigv4_param *query;
	size_t nq;
	const char *const *headers;	/* Range, If-Match; NULL-terminated */
	size_t max_body;
};

/* "Wed, 09 Sep 2009 09:20:02 GMT" for x-ms-date. */
static void http_date(char *out, size_t n)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(out, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static int az_send(struct az *a, const struct azreq *q, struct astro_http_resp *resp)
{
	struct astro_buf url = { 0 }, auth = { 0 };
	char *path = NULL, *blob = NULL, *sts = NULL, date[64], dh[80], sig[64];
	const char *h[8];
	size_t nh = 0;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (q->blob && !(blob = astro_sigv4_uri_encode(q->blob, strlen(q->blob), 1)))
		return -ENOMEM;
	if (asprintf(&path, "/%s%s%s", q->container, blob ? "/" : "", blob ? blob : "") < 0) {
		path = NULL;
		rc = -ENOMEM;
		goto out;
	}
	astro_buf_printf(&url, "%s%s", a->url, path);
	for (size_t i = 0; i < q->nq; i++) {
		char *v = astro_http_escape(q->query[i].value, strlen(q->query[i].value));

		if (!v) {
			rc = -ENOMEM;
			goto out;
		}
		astro_buf_printf(&url, "%c%s=%s", i ? '&' : '?', q->query[i].name, v);
		free(v);
	}
	http_date(date, sizeof(date));
	snprintf(dh, sizeof(dh), "x-ms-date: %s", date);
	h[nh++] = dh;
	h[nh++] = "x-ms-version: " AZ_VERSION;
	for (const char *const *p = q->headers; p && *p && nh < 6; p++)
		h[nh++] = *p;
	h[nh] = NULL;
	if (a->auth == AZ_KEY) {
		char *res = NULL;

		if (asprintf(&res, "%s%s", a->res, path) >= 0)
			sts = astro_azblob_string_to_sign(q->method, h, res, q->query, q->nq);
		free(res);
		if (!sts || sign_raw(a->key, a->keylen, sts, sig, sizeof(sig)) < 0) {
			rc = -ENOMEM;
			goto out;
		}
		astro_buf_printf(&auth, "Authorization: SharedKey %s:%s", a->account, sig);
		h[nh++] = auth.p;
		h[nh] = NULL;
	} else if (a->auth == AZ_SAS) {
		astro_buf_printf(&url, "%c%s", q->nq ? '&' : '?', a->sas);
	}
	if (url.err || auth.err) {
		rc = -ENOMEM;
		goto out;
	}
	struct astro_http_req hr = {
		.method = q->method, .url = url.p, .headers = h,
		.timeout_ms = a->timeout_ms, .idempotent = 1, .max_body = q->max_body,
		.service = "azure",
	};
	rc = astro_http_request(&hr, resp);
out:
	/* The URL may carry the SAS: wiped, as the token itself is. */
	if (url.p)
		explicit_bzero(url.p, strlen(url.p));
	free(url.p);
	free(auth.p);
	free(sts);
	free(path);
	free(blob);
	return rc;
}

/*
 * errno for an Azure answer, one log line.  HEAD answers have no body;
 * Azure names the error in x-ms-error-code instead.
 */
static int az_error_code(const char *what, long status, const char *code, const char *msg)
{
	const char *hint = NULL;
	int rc = astro_s3xml_errno(code, status, &hint);

	if (rc == -EAGAIN)
		rc = -EIO;	/* http.h already retried */
	astro_warn("azure: %s: HTTP %ld%s%s%s%.200s: %s", what, status, code && *code ? " " : "",
		   code ? code : "", msg && *msg ? " — " : "", msg ? msg : "",
		   hint ? hint : "unexpected answer");
	return rc;
}

static int az_error(const char *what, long status, const char *body, size_t len)
{
	struct astro_s3_error e = { 0 };
	int rc;

	if (body && len && astro_s3xml_parse_error(body, len, &e, NULL, 0) == 0) {
		char *nl = e.message ? strchr(e.message, '\n') : NULL;

		if (nl)	/* Azure appends RequestId and Time on further lines */
			*nl = '\0';
		rc = az_error_code(what, status, e.code, e.message);
	} else {
		rc = az_error_code(what, status, NULL, NULL);
	}
	astro_s3xml_error_free(&e);
	return rc;
}

static int az_get_range(struct astro_s3 *s, const char *container, const char *blob,
			uint64_t off, size_t len, const char *if_match, void *buf,
			size_t *got, struct astro_s3_info *info)
{
	struct astro_http_resp r;
	char range[80], im[160], what[300];
	const char *h[3];
	int rc;

	if (!astro_s3_range_prep(off, len, if_match, range, im, h, got, info))
		return 0;
	snprintf(what, sizeof(what), "GET az://%s/%s bytes %" PRIu64 "+%zu", container, blob,
		 off, len);
	struct azreq q = { "GET", container, blob, NULL, 0, h, astro_s3_range_cap(len) };
	rc = az_send(az_of(s), &q, &r);
	rc = astro_s3_range_result(what, rc, &r, off, len, if_match, az_error, buf, got, info);
	astro_http_resp_free(&r);
	return rc;
}

static int az_head(struct astro_s3 *s, const char *container, const char *blob,
		   struct astro_s3_info *info)
{
	struct astro_http_resp r;
	char code[128], what[300];
	int rc;

	astro_s3_info_init(info);
	snprintf(what, sizeof(what), "HEAD az://%s/%s", container, blob);
	struct azreq q = { "HEAD", container, blob, NULL, 0, NULL, 4096 };
	rc = az_send(az_of(s), &q, &r);
	if (rc) {
		astro_warn("azure: %s: %s", what, strerror(-rc));
	} else if (r.status == 200) {
		astro_s3_info_from_head(&r, info);
	} else if (r.status == 404) {
		rc = -ENOENT;	/* an answer, not a fault: the caller reports it */
		astro_debug("azure: %s: HTTP 404", what);
	} else {
		if (astro_http_header(&r, "x-ms-error-code", -1, code, sizeof(code)) <= 0)
			code[0] = '\0';
		rc = az_error_code(what, r.status, code, NULL);
	}
	astro_http_resp_free(&r);
	return rc;
}

static int az_get(struct astro_s3 *s, const char *container, const char *blob, size_t max,
		  char **body, size_t *len, struct astro_s3_info *info)
{
	struct astro_http_resp r;
	char what[300];
	int rc;

	*body = NULL;
	*len = 0;
	astro_s3_info_init(info);
	snprintf(what, sizeof(what), "GET az://%s/%s", container, blob);
	struct azreq q = { "GET", container, blob, NULL, 0, NULL, max };
	rc = az_send(az_of(s), &q, &r);
	if (rc) {
		astro_warn("azure: %s: %s", what, strerror(-rc));
	} else if (r.status != 200) {
		rc = az_error(what, r.status, r.body, r.body_len);
	} else {
		astro_s3_take_body(&r, info, body, len);
	}
	astro_http_resp_free(&r);
	return rc;
}

static int az_list(struct astro_s3 *s, const char *container, const char *prefix,
		   const char *delimiter, const char *token, unsigned max_keys,
		   struct astro_s3_list *out)
{
	struct astro_sigv4_param qp[6];
	struct astro_http_resp r;
	char mk[16], what[300], msg[200];
	size_t n = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	qp[n++] = (struct astro_sigv4_param){ "restype", "container" };
	qp[n++] = (struct astro_sigv4_param){ "comp", "list" };
	if (prefix && *prefix)
		qp[n++] = (struct astro_sigv4_param){ "prefix", prefix };
	if (delimiter && *delimiter)
		qp[n++] = (struct astro_sigv4_param){ "delimiter", delimiter };
	if (token && *token)
		qp[n++] = (struct astro_sigv4_param){ "marker", token };
	/* Azure's default page is 5000 blobs of about 1 KB of XML each: ask
	 * for S3's 1000, so a page stays near 1 MB to hold and parse. */
	snprintf(mk, sizeof(mk), "%u", max_keys ? max_keys : 1000);
	qp[n++] = (struct astro_sigv4_param){ "maxresults", mk };
	snprintf(what, sizeof(what), "LIST az://%s/%s", container, prefix ? prefix : "");
	struct azreq q = { "GET", container, NULL, qp, n, NULL, 64u << 20 };
	rc = az_send(az_of(s), &q, &r);
	if (rc) {
		astro_warn("azure: %s: %s", what, strerror(-rc));
	} else if (r.status != 200) {
		rc = az_error(what, r.status, r.body, r.body_len);
	} else if (astro_s3xml_parse_azlist(r.body, r.body_len, out, msg, sizeof(msg)) != 0) {
		astro_warn("azure: %s: unreadable listing: %s", what, msg);
		rc = -EIO;
	}
	astro_http_resp_free(&r);
	return rc;
}

/* /fits only reads; the shared tier and /obs stay on S3. */
static int az_put(struct astro_s3 *s, const char *container, const char *blob,
		  const void *body, size_t len, const struct astro_s3_put_opts *o,
		  struct astro_s3_info *info)
{
	return -EROFS;
}

static int az_del(struct astro_s3 *s, const char *container, const char *blob)
{
	return -EROFS;
}

static const struct astro_s3_ops az_ops = {
	.get_range = az_get_range, .get = az_get, .head = az_head, .list = az_list,
	.put = az_put, .del = az_del, .free = az_free,
};

/*
 * http.c — see http.h.
 *
 * Each thread keeps one easy handle (reset between requests, which keeps
 * its live connections); a share object lets all threads reuse DNS, TLS
 * sessions and connections.  Deadlines are computed once per request and
 * every attempt and back-off sleep fits inside them, so a dead upstream
 * costs the caller `timeout_ms` and not attempts x timeout.
 *
 * Secrets (a login form, a catalogue) pass through libcurl's and OpenSSL's
 * own buffers: the request as sent, the receive buffer, decrypted TLS
 * records.  Both libraries allocate through wiping functions here, so
 * freed memory holds none of it; a secret transfer also runs on an easy
 * handle and connection of its own, with a small receive buffer, that are
 * freed (so wiped) when it ends, where a thread's cached handle would keep
 * the tail of the body for as long as the thread lives.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include "core/astro.h"
#include "core/log.h"
#include "core/op.h"
#include "core/stats.h"
#include "services/http.h"

/* libcurl's receive buffer for a secret transfer: its minimum, so little
 * of a secret body is ever anywhere but the caller's secure buffer */
#define SECRET_BUFFER 1024

static CURLSH *share;
static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
static pthread_key_t easy_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
#ifdef ASTRO_UNITTEST
static astro_http_inject_fn inject_fn;
static void *inject_arg;
#endif

static void lock_cb(CURL *h, curl_lock_data d, curl_lock_access a, void *u)
{
	(void)h; (void)a; (void)u;
	pthread_mutex_lock(&share_locks[d]);
}

static void unlock_cb(CURL *h, curl_lock_data d, void *u)
{
	(void)h; (void)u;
	pthread_mutex_unlock(&share_locks[d]);
}

static void easy_free(void *p)
{
	curl_easy_cleanup(p);
}

static void make_key(void)
{
	pthread_key_create(&easy_key, easy_free);
}

/* ---- allocators that wipe what they free ------------------------------ */

static void wipe_free(void *p)
{
	if (p) {
		explicit_bzero(p, malloc_usable_size(p));
		free(p);
	}
}

/* realloc that never leaves the old contents behind in freed memory */
static void *wipe_realloc(void *p, size_t n)
{
	size_t old;
	void *q;

	if (!p)
		return malloc(n);
	if (n == 0) {
		wipe_free(p);
		return NULL;
	}
	old = malloc_usable_size(p);
	if (n <= old)
		return p;
	q = malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, old);
	wipe_free(p);
	return q;
}

static char *wipe_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);

	if (p)
		memcpy(p, s, n);
	return p;
}

static void *ossl_malloc(size_t n, const char *file, int line)
{
	(void)file; (void)line;
	return malloc(n);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file; (void)line;
	return wipe_realloc(p, n);
}

static void ossl_free(void *p, const char *file, int line)
{
	(void)file; (void)line;
	wipe_free(p);
}

int astro_http_global_init(void)
{
	/* Refused once OpenSSL has allocated (a library set it up first):
	 * then its buffers are freed unwiped, so say so. */
	if (!CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free))
		astro_info("http: OpenSSL allocates already; its freed buffers are not wiped");
	if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, malloc, wipe_free, wipe_realloc,
				 wipe_strdup, calloc) != CURLE_OK)
		return -EIO;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&share_locks[i], NULL);
	share = curl_share_init();
	if (!share)
		return -ENOMEM;
	curl_share_setopt(share, CURLSHOPT_LOCKFUNC, lock_cb);
	curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, unlock_cb);
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	pthread_once(&key_once, make_key);
	return 0;
}

void astro_http_global_cleanup(void)
{
	CURL *e = pthread_getspecific(easy_key);

	if (e) {
		curl_easy_cleanup(e);
		pthread_setspecific(easy_key, NULL);
	}
	if (share) {
		curl_share_cleanup(share);
		share = NULL;
	}
	curl_global_cleanup();
}

#ifdef ASTRO_UNITTEST
void astro_http_set_inject(astro_http_inject_fn fn, void *arg)
{
	inject_arg = arg;
	__atomic_store_n(&inject_fn, fn, __ATOMIC_RELEASE);
}
#endif

/* The injected outcome of attempt i: 0 to go ahead (always, in the product). */
static int injected(const struct astro_http_req *req, int i)
{
#ifdef ASTRO_UNITTEST
	astro_http_inject_fn inj = __atomic_load_n(&inject_fn, __ATOMIC_ACQUIRE);

	return inj ? inj(req, i, inject_arg) : 0;
#else
	(void)req;
	(void)i;
	return 0;
#endif
}

struct xfer {
	struct astro_http_resp *resp;
	size_t hcap, max_body;
	int too_big;
	int stop;		/* why the progress check aborted: -EINTR, -ETIMEDOUT */
};

static int grow(char **buf, size_t *cap, size_t need)
{
	size_t n = *cap ? *cap : 4096;
	char *p;

	while (n < need)
		n *= 2;
	if (n == *cap)
		return 0;
	p = realloc(*buf, n);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = n;
	return 0;
}

/* Grow a secret body: new secure pages, the old ones wiped, so no copy of
 * the secret is left in freed memory as realloc would leave it. */
static int grow_secret(struct astro_http_resp *r, size_t need)
{
	size_t n = r->body_cap ? r->body_cap : 1u << 16;
	char *p;

	if (need <= r->body_cap)
		return 0;
	while (n < need)
		n *= 2;
	p = astro_secure_alloc(n);
	if (!p)
		return -ENOMEM;
	if (r->body)
		memcpy(p, r->body, r->body_len + 1);
	astro_secure_free(r->body, r->body_cap);
	r->body = p;
	r->body_cap = n;
	return 0;
}

static size_t on_body(char *data, size_t sz, size_t nm, void *arg)
{
	struct xfer *x = arg;
	struct astro_http_resp *r = x->resp;
	size_t n = sz * nm;

	if (r->body_len + n > x->max_body) {
		x->too_big = 1;
		return 0;
	}
	if (r->body_secret ? grow_secret(r, r->body_len + n + 1)
			   : grow(&r->body, &r->body_cap, r->body_len + n + 1))
		return 0;
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return n;
}

static size_t on_header(char *data, size_t sz, size_t nm, void *arg)
{
	struct xfer *x = arg;
	struct astro_http_resp *r = x->resp;
	size_t n = sz * nm;

	/* Keep only the final response's headers (after 100-continue etc.). */
	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0)
		r->headers_len = 0;
	if (r->headers_len + n > (1 << 20))
		return 0;
	if (grow(&r->headers, &x->hcap, r->headers_len + n + 1))
		return 0;
	memcpy(r->headers + r->headers_len, data, n);
	r->headers_len += n;
	r->headers[r->headers_len] = '\0';
	return n;
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct xfer *x = arg;

	(void)a; (void)b; (void)c; (void)d;
	/* libcurl calls this at least once a second and whenever a signal
	 * (the interrupt's SIGUSR1) cuts its poll short: an interrupted or
	 * expired operation, or a shutdown, abandons the transfer here. */
	x->stop = astro_op_check();
	return x->stop != 0;
}

static CURL *thread_easy(void)
{
	CURL *e;

	pthread_once(&key_once, make_key);
	e = pthread_getspecific(easy_key);
	if (e) {
		curl_easy_reset(e);
		return e;
	}
	e = curl_easy_init();
	if (e)
		pthread_setspecific(easy_key, e);
	return e;
}

static void stat_add(const char *service, const char *what, int64_t n)
{
	char name[64];

	snprintf(name, sizeof(name), "%s.%s", service ? service : "http", what);
	astro_stats_add(name, n);
}

/* One attempt; returns 0 with a response or a negative errno. */
static int attempt(const struct astro_http_req *req, struct astro_http_resp *resp,
		   int64_t remaining_ms)
{
	struct curl_slist *hdrs = NULL;
	struct xfer x = { .resp = resp, .max_body = req->max_body ? req->max_body : (256u << 20) };
	int secret = req->secret_body || req->secret_request;
	CURL *e = secret ? curl_easy_init() : thread_easy();
	CURLcode cc;
	int rc = 0;

	if (!e)
		return -ENOMEM;
	for (const char *const *h = req->headers; h && *h; h++) {
		struct curl_slist *n = curl_slist_append(hdrs, *h);
		if (!n) {
			rc = -ENOMEM;
			goto out;
		}
		hdrs = n;
	}
	if (secret) {
		/* its own connection, closed with it: nothing of it outlives
		 * the transfer unwiped (see the top of this file) */
		curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
		curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)SECRET_BUFFER);
	} else if (share) {
		curl_easy_setopt(e, CURLOPT_SHARE, share);
	}
	curl_easy_setopt(e, CURLOPT_URL, req->url);
	if (req->cainfo)	/* handles are reset per transfer: the system's otherwise */
		curl_easy_setopt(e, CURLOPT_CAINFO, req->cainfo);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "astrofs/" ASTRO_VERSION);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)remaining_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(remaining_ms < 10000 ? remaining_ms : 10000));
	/* A stalled body (server stopped sending) ends well before the deadline
	 * would on a long transfer, but never later than it. */
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)(remaining_ms / 1000 > 0 ? (remaining_ms / 1000 < 60 ? remaining_ms / 1000 : 60) : 1));
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, &x);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	if (getenv("ASTRO_HTTP_VERBOSE"))
		curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
	/* libcurl silently resends a request whose reused connection died
	 * before answering; a request that must go out at most once (it was
	 * counted against a rate limit, or changes state) gets a fresh one. */
	if (!req->idempotent)
		curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	if (strcmp(req->method, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (strcmp(req->method, "GET") != 0) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
	}
	if (req->body || strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	}
	cc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
	switch (cc) {
	case CURLE_OK:
		rc = 0;
		break;
	case CURLE_OPERATION_TIMEDOUT:
		rc = -ETIMEDOUT;
		break;
	case CURLE_ABORTED_BY_CALLBACK:
		rc = x.stop ? x.stop : -EIO;
		break;
	case CURLE_WRITE_ERROR:
		rc = x.too_big ? -EFBIG : -EIO;
		break;
	case CURLE_OUT_OF_MEMORY:
		rc = -ENOMEM;
		break;
	default:
		rc = -EIO;
		break;
	}
	if (rc)
		astro_info("http: %s %s: %s", req->method, req->service ? req->service : "",
			   curl_easy_strerror(cc));
	stat_add(req->service, "bytes", (int64_t)resp->body_len);
out:
	curl_slist_free_all(hdrs);
	if (secret)
		curl_easy_cleanup(e);
	return rc;
}

static int should_retry(const struct astro_http_req *req, int rc, long status)
{
	if (!req->idempotent)
		return 0;
	if (rc == -EINTR || rc == -EFBIG || rc == -ENOMEM)
		return 0;
	if (rc)
		return 1;
	if (status >= 500 || status == 429)
		return !req->retry_status || req->retry_status(status, req->retry_arg) >= 0;
	return req->retry_status && req->retry_status(status, req->retry_arg) > 0;
}

static void resp_clear(struct astro_http_resp *r)
{
	int secret = r->body_secret;

	if (secret)
		astro_secure_free(r->body, r->body_cap);
	else
		free(r->body);
	free(r->headers);
	memset(r, 0, sizeof(*r));
	r->body_secret = secret;
}

int astro_http_request(const struct astro_http_req *req, struct astro_http_resp *resp)
{
	int64_t timeout = req->timeout_ms > 0 ? req->timeout_ms : 30000;
	/* The request's own deadline, cut to what its FUSE operation has left:
	 * a provider making several requests is bounded as one. */
	int64_t deadline = astro_op_deadline(astro_mono_ms() + timeout);
	int max = req->max_attempts > 0 ? req->max_attempts : (req->idempotent ? 3 : 1);
	int rc = -ETIMEDOUT;

	memset(resp, 0, sizeof(*resp));
	resp->body_secret = req->secret_body;
	for (int i = 0; i < max; i++) {
		int64_t left = deadline - astro_mono_ms();
		int stop = astro_op_check();

		if (stop) {
			rc = stop;
			break;
		}
		if (left <= 0) {
			rc = -ETIMEDOUT;
			break;
		}
		if (i > 0) {
			/* Exponential back-off with +-50% jitter, inside the deadline. */
			unsigned char r;
			int64_t wait = 200LL << (i - 1);

			astro_random(&r, 1);
			wait = wait / 2 + wait * r / 255;
			if (wait >= left) {
				rc = rc ? rc : -ETIMEDOUT;
				break;
			}
			stat_add(req->service, "retries", 1);
			if ((stop = astro_op_sleep(wait))) {
				rc = stop;
				break;
			}
			left = deadline - astro_mono_ms();
			resp_clear(resp);
		}
		stat_add(req->service, "requests", 1);
		rc = injected(req, i);
		if (rc == 0)
			rc = attempt(req, resp, left);
		else
			resp_clear(resp);
		if (rc || resp->status >= 400)
			stat_add(req->service, "errors", 1);
		if (!should_retry(req, rc, resp->status))
			break;
	}
	return rc;
}

void astro_http_resp_free(struct astro_http_resp *resp)
{
	resp_clear(resp);
}

int astro_http_header(const struct astro_http_resp *resp, const char *name,
		      int idx, char *buf, size_t size)
{
	size_t nl = strlen(name);
	const char *p = resp->headers, *end = p ? p + resp->headers_len : NULL;
	int found = -ENOENT, seen = 0;

	while (p && p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end;

		if ((size_t)(le - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1, *ve = le;

			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
				ve--;
			if (idx < 0 || seen == idx) {
				size_t n = (size_t)(ve - v);

				if (size) {
					size_t c = n < size - 1 ? n : size - 1;
					memcpy(buf, v, c);
					buf[c] = '\0';
				}
				found = (int)n;
				if (idx >= 0)
					return found;
			}
			seen++;
		}
		p = eol ? eol + 1 : end;
	}
	return found;
}

char *astro_http_escape(const char *src, size_t len)
{
	char *out = malloc(len * 3 + 1);

	if (out)
		astro_http_escape_to(out, src, len);
	return out;
}

size_t astro_http_escape_to(char *out, const char *src, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	char *o = out;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~') {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return (size_t)(o - out);
}

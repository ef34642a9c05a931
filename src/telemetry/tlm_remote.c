/* tlm_remote.c — see tlm_remote.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "core/astro.h"
#include "core/log.h"
#include "core/stats.h"
#include "services/cache.h"
#include "services/http.h"
#include "tlm_remote.h"

#define DB "telemetry"
#define NATTR 1024
#define PATH_MAX_REMOTE 320
#define FOREVER INT64_MAX
#define TOKEN_MAX 4096

/* What HEAD said of one path. */
struct rattr {
	int kind;			/* ASTRO_FILE or ASTRO_DIR */
	uint64_t size;
	int64_t mtime;
	char etag[80];
	int64_t expires_ms;		/* wall clock; FOREVER for immutable answers */
};

struct slot {
	char path[PATH_MAX_REMOTE];
	struct rattr a;
	char opened[80];		/* ETag of the path's last open */
	int used;
};

struct astro_tlm_remote {
	char *base;			/* archive_url, no trailing '/' */
	char *auth;			/* "Authorization: Token ..." (secure memory), or NULL */
	size_t auth_cap;
	char *cainfo;
	int64_t timeout_ms;
	int offline;
	struct astro_cache *cache;
	void (*invalidate)(void *arg, const char *path);
	void *invalidate_arg;
	pthread_mutex_t mu;
	struct slot slots[NATTR];
	unsigned next;
};

/* One open file: its snapshot, and the block last read. */
struct rfile {
	pthread_mutex_t mu;
	char etag[80];
	uint64_t size;
	int64_t block;			/* -1: none */
	char *data;
	size_t len;
};

/* ---------------------------------------------------------------- HTTP */

/* base + "/telemetry/" + path, each segment percent-encoded. */
static char *url_of(const struct astro_tlm_remote *r, const char *path)
{
	struct astro_buf b = {0};

	astro_buf_str(&b, r->base);
	astro_buf_str(&b, "/telemetry/");
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, "/");
		char *e = astro_http_escape(p, n);

		if (!e) {
			free(b.p);
			return NULL;
		}
		astro_buf_str(&b, e);
		free(e);
		p += n;
		if (*p) {
			astro_buf_str(&b, "/");
			p++;
		}
	}
	if (b.err) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

static int call(struct astro_tlm_remote *r, const char *method, const char *path,
		const char *extra, struct astro_http_resp *resp)
{
	const char *hdrs[4];
	struct astro_http_req req = {0};
	char *url = url_of(r, path);
	size_t n = 0;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!url)
		return -ENOMEM;
	if (r->auth)
		hdrs[n++] = r->auth;
	/* the bytes cached must be the file's bytes: no content coding */
	hdrs[n++] = "Accept-Encoding: identity";
	if (extra)
		hdrs[n++] = extra;
	hdrs[n] = NULL;
	req.method = method;
	req.url = url;
	req.headers = hdrs;
	req.timeout_ms = r->timeout_ms;
	req.idempotent = 1;
	req.max_body = ASTRO_TLM_REMOTE_BLOCK + (1u << 20);
	req.service = "telemetry_remote";
	req.cainfo = r->cainfo;
	rc = astro_http_request(&req, resp);
	free(url);
	return rc;
}

static int status_errno(long status)
{
	switch (status) {
	case 404:
		return -ENOENT;
	case 400:
		return -EINVAL;
	case 401:
	case 403:
		return -EACCES;
	default:
		return -EIO;
	}
}

static int64_t max_age_ms(const struct astro_http_resp *resp)
{
	char cc[160];
	const char *m;

	if (astro_http_header(resp, "Cache-Control", -1, cc, sizeof(cc)) < 0)
		return 0;
	if (strstr(cc, "immutable"))
		return FOREVER;
	m = strstr(cc, "max-age=");
	return m ? strtoll(m + 8, NULL, 10) * 1000 : 0;
}

static int64_t http_date(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm))
		return 0;
	return (int64_t)timegm(&tm);
}

/* --------------------------------------------------------- attributes */

static struct slot *slot_find(struct astro_tlm_remote *r, const char *path, int create)
{
	for (int i = 0; i < NATTR; i++)
		if (r->slots[i].used && strcmp(r->slots[i].path, path) == 0)
			return &r->slots[i];
	if (!create)
		return NULL;
	struct slot *s = &r->slots[r->next++ % NATTR];

	memset(s, 0, sizeof(*s));
	astro_strlcpy(s->path, path, sizeof(s->path));
	s->used = 1;
	return s;
}

static void attr_put(struct astro_tlm_remote *r, const char *path, const struct rattr *a)
{
	struct astro_cache_meta m = {.ttl_s = -1, .fetched_ms = astro_now_ms()};
	char key[PATH_MAX_REMOTE + 2];
	struct slot *s;

	pthread_mutex_lock(&r->mu);
	s = slot_find(r, path, 1);
	s->a = *a;
	pthread_mutex_unlock(&r->mu);
	if (r->cache) {
		int n = snprintf(key, sizeof(key), "a:%s", path);

		(void)astro_cache_put(r->cache, DB, key, (size_t)n, &m, a, sizeof(*a));
	}
}

/* The attributes known of path, fresh or not: 1, or 0 when none. */
static int attr_known(struct astro_tlm_remote *r, const char *path, struct rattr *a)
{
	char key[PATH_MAX_REMOTE + 2];
	struct astro_cache_meta m;
	struct slot *s;
	void *data = NULL;
	int n, hit = 0;

	pthread_mutex_lock(&r->mu);
	if ((s = slot_find(r, path, 0))) {
		*a = s->a;
		hit = 1;
	}
	pthread_mutex_unlock(&r->mu);
	if (hit || !r->cache)
		return hit;
	n = snprintf(key, sizeof(key), "a:%s", path);
	if (astro_cache_get(r->cache, DB, key, (size_t)n, &m, &data) == 0 && m.len == sizeof(*a)) {
		memcpy(a, data, sizeof(*a));
		hit = 1;
	}
	free(data);
	return hit;
}

static int attr_get(struct astro_tlm_remote *r, const char *path, struct rattr *a)
{
	struct astro_http_resp resp;
	char inm[100], v[160];
	struct rattr old;
	int have, rc;

	if (strlen(path) >= PATH_MAX_REMOTE)
		return -ENAMETOOLONG;
	if (!*path) {
		/* the tree's root is a directory whatever the host says */
		memset(a, 0, sizeof(*a));
		a->kind = ASTRO_DIR;
		return 0;
	}
	have = attr_known(r, path, &old);
	if (have && (old.expires_ms == FOREVER || old.expires_ms > astro_now_ms())) {
		*a = old;
		return 0;
	}
	if (r->offline) {
		if (have) {
			*a = old;
			return 0;
		}
		return -EIO;
	}
	if (have && old.etag[0])
		snprintf(inm, sizeof(inm), "If-None-Match: %s", old.etag);
	rc = call(r, "HEAD", path, have && old.etag[0] ? inm : NULL, &resp);
	astro_stats_inc("telemetry.remote_requests");
	if (rc < 0 || resp.status >= 500) {
		/* the host does not answer: what we knew still serves */
		astro_http_resp_free(&resp);
		if (have) {
			*a = old;
			return 0;
		}
		astro_notice("telemetry: %s/telemetry/%s: %s", r->base, path,
			     rc < 0 ? strerror(-rc) : "server error");
		return -EIO;
	}
	if (resp.status == 304 && have) {
		int64_t age = max_age_ms(&resp);

		old.expires_ms = age == FOREVER ? FOREVER : astro_now_ms() + age;
		attr_put(r, path, &old);
		*a = old;
		astro_http_resp_free(&resp);
		return 0;
	}
	if (resp.status != 200) {
		rc = status_errno(resp.status);
		astro_http_resp_free(&resp);
		return rc;
	}
	memset(a, 0, sizeof(*a));
	a->kind = astro_http_header(&resp, "Content-Type", -1, v, sizeof(v)) > 0 &&
		  strncmp(v, "application/json", 16) == 0 ? ASTRO_DIR : ASTRO_FILE;
	if (astro_http_header(&resp, "Content-Length", -1, v, sizeof(v)) > 0)
		a->size = strtoull(v, NULL, 10);
	if (astro_http_header(&resp, "Last-Modified", -1, v, sizeof(v)) > 0)
		a->mtime = http_date(v);
	if (astro_http_header(&resp, "ETag", -1, v, sizeof(v)) > 0)
		astro_strlcpy(a->etag, v, sizeof(a->etag));
	{
		int64_t age = max_age_ms(&resp);

		a->expires_ms = age == FOREVER ? FOREVER : astro_now_ms() + age;
	}
	astro_http_resp_free(&resp);
	if (a->kind == ASTRO_FILE && !a->etag[0]) {
		astro_notice("telemetry: %s/telemetry/%s has no ETag: not an astrofs archive?",
			     r->base, path);
		return -EIO;
	}
	attr_put(r, path, a);
	return 0;
}

int astro_tlm_remote_getattr(struct astro_tlm_remote *r, const char *path, struct astro_attr *at)
{
	struct rattr a;
	int rc = attr_get(r, path, &a);

	if (rc)
		return rc;
	memset(at, 0, sizeof(*at));
	at->kind = a.kind;
	at->size = a.kind == ASTRO_FILE ? a.size : 0;
	at->mtime = a.mtime;
	return 0;
}

/* ------------------------------------------------------------ listings */

/*
 * One entry of a listing's "items" (tlm_http.c) as the attributes a HEAD
 * would have given, valid as long as the listing: 0, or -EINVAL for an
 * item that says too little (then the entry is HEADed when asked).
 */
static int item_attr(json_t *it, int64_t expires_ms, struct rattr *a, struct astro_attr *at)
{
	const char *type = json_string_value(json_object_get(it, "type"));
	const char *etag = json_string_value(json_object_get(it, "etag"));
	json_t *size = json_object_get(it, "size"), *mtime = json_object_get(it, "mtime");

	if (!type || !json_is_integer(size) || !json_is_integer(mtime) ||
	    json_integer_value(size) < 0)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	if (strcmp(type, "dir") == 0) {
		a->kind = ASTRO_DIR;
	} else if (strcmp(type, "file") == 0 && etag && strlen(etag) < sizeof(a->etag)) {
		a->kind = ASTRO_FILE;
		a->size = (uint64_t)json_integer_value(size);
		astro_strlcpy(a->etag, etag, sizeof(a->etag));
	} else {
		return -EINVAL;
	}
	a->mtime = json_integer_value(mtime);
	a->expires_ms = expires_ms;
	memset(at, 0, sizeof(*at));
	at->kind = a->kind;
	at->size = a->size;
	at->mtime = a->mtime;
	return 0;
}

/*
 * List the names of a listing, each with what its "items" say of it, and
 * keep that as the entry's attributes (memory only: the listing itself is in
 * LMDB).  Items are the names' order less some names (ones the host had no
 * time to size, tlm_http.c): those are listed bare and HEADed when asked.
 */
static int list_items(struct astro_tlm_remote *r, const char *dir, json_t *names, json_t *items,
		      int64_t expires_ms, astro_fill_fn fill, void *buf)
{
	char path[PATH_MAX_REMOTE];
	size_t i, k = 0;

	for (i = 0; i < json_array_size(names); i++) {
		const char *name = json_string_value(json_array_get(names, i));
		json_t *it = json_array_get(items, k);
		const char *iname = json_string_value(json_object_get(it, "name"));
		struct astro_attr at;
		struct rattr a;
		int known = 0;

		if (!name)
			continue;
		if (iname && strcmp(iname, name) == 0) {
			k++;
			known = item_attr(it, expires_ms, &a, &at) == 0 &&
				(size_t)snprintf(path, sizeof(path), "%s%s%s", dir, *dir ? "/" : "",
						 name) < sizeof(path);
		}
		if (known) {
			struct slot *sl;

			/* a listing kept from before must not undo a fresher HEAD */
			pthread_mutex_lock(&r->mu);
			sl = slot_find(r, path, 0);
			if (!sl || sl->a.expires_ms <= astro_now_ms())
				slot_find(r, path, 1)->a = a;
			pthread_mutex_unlock(&r->mu);
		}
		if (fill(buf, name, known ? &at : NULL))
			break;
	}
	return 0;
}

int astro_tlm_remote_readdir(struct astro_tlm_remote *r, const char *path, astro_fill_fn fill,
			     void *buf)
{
	struct astro_cache_meta m = {0};
	struct astro_http_resp resp;
	char key[PATH_MAX_REMOTE + 2];
	json_t *j = NULL, *e;
	void *data = NULL;
	size_t i;
	int64_t expires_ms = 0;
	int n, rc, cached = 0;

	if (strlen(path) >= PATH_MAX_REMOTE)
		return -ENAMETOOLONG;
	n = snprintf(key, sizeof(key), "d:%s", path);
	if (r->cache && astro_cache_get(r->cache, DB, key, (size_t)n, &m, &data) == 0)
		cached = 1;
	if (cached && (r->offline || m.ttl_s < 0 ||
		       m.fetched_ms + m.ttl_s * 1000 > astro_now_ms())) {
		j = json_loadb(data, m.len, 0, NULL);
		expires_ms = m.ttl_s < 0 ? FOREVER : m.fetched_ms + m.ttl_s * 1000;
	} else if (r->offline) {
		rc = -EIO;
		goto out;
	} else {
		rc = call(r, "GET", path, NULL, &resp);
		astro_stats_inc("telemetry.remote_requests");
		if ((rc < 0 || resp.status >= 500) && cached) {
			j = json_loadb(data, m.len, 0, NULL);
		} else if (rc < 0) {
			astro_http_resp_free(&resp);
			rc = -EIO;
			goto out;
		} else if (resp.status != 200) {
			rc = status_errno(resp.status);
			astro_http_resp_free(&resp);
			goto out;
		} else {
			int64_t age = max_age_ms(&resp);
			struct astro_cache_meta pm = {
				.ttl_s = age == FOREVER ? -1 : age / 1000,
				.fetched_ms = astro_now_ms(),
			};

			j = json_loadb(resp.body, resp.body_len, 0, NULL);
			expires_ms = age == FOREVER ? FOREVER : pm.fetched_ms + age;
			if (j && r->cache)
				(void)astro_cache_put(r->cache, DB, key, (size_t)n, &pm, resp.body,
						      resp.body_len);
		}
		astro_http_resp_free(&resp);
	}
	e = json_object_get(j, "entries");
	if (!json_is_array(e)) {
		rc = json_is_object(j) ? -ENOTDIR : -EIO;
		goto out;
	}
	rc = 0;
	if (json_is_array(json_object_get(j, "items"))) {
		rc = list_items(r, path, e, json_object_get(j, "items"), expires_ms, fill, buf);
		goto out;
	}
	/* an older archive host: names only, each HEADed when asked */
	for (i = 0; i < json_array_size(e); i++) {
		json_t *name = json_array_get(e, i);

		if (json_is_string(name) && fill(buf, json_string_value(name), NULL))
			break;
	}
out:
	json_decref(j);
	free(data);
	return rc;
}

/* --------------------------------------------------------------- blocks */

static int block_key(char *key, size_t cap, const char *etag, const char *path, int64_t b)
{
	return snprintf(key, cap, "b:%s:%" PRId64 ":%s", etag, b, path);
}

/* Block b of the snapshot into f->data (f->mu held). */
static int block_load(struct astro_tlm_remote *r, const char *path, struct rfile *f, int64_t b)
{
	uint64_t from = (uint64_t)b * ASTRO_TLM_REMOTE_BLOCK, to;
	char key[PATH_MAX_REMOTE + 128], range[80], etag[100];
	struct astro_cache_meta m = {.flags = ASTRO_CACHE_FINAL, .ttl_s = -1};
	struct astro_http_resp resp;
	void *data = NULL;
	int n, rc;

	if (f->block == b)
		return 0;
	to = from + ASTRO_TLM_REMOTE_BLOCK - 1 < f->size - 1 ? from + ASTRO_TLM_REMOTE_BLOCK - 1
							       : f->size - 1;
	n = block_key(key, sizeof(key), f->etag, path, b);
	if (r->cache && astro_cache_get(r->cache, DB, key, (size_t)n, &m, &data) == 0 &&
	    m.len == to - from + 1) {
		free(f->data);
		f->data = data;
		f->len = (size_t)m.len;
		f->block = b;
		return 0;
	}
	free(data);
	if (r->offline) {
		astro_notice("telemetry: %s is not cached and the mount is offline", path);
		return -EIO;
	}
	snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-%" PRIu64, from, to);
	rc = call(r, "GET", path, range, &resp);
	astro_stats_inc("telemetry.remote_requests");
	if (rc < 0 || (resp.status != 206 && resp.status != 200)) {
		rc = rc < 0 ? -EIO : status_errno(resp.status);
		goto out;
	}
	if (astro_http_header(&resp, "ETag", -1, etag, sizeof(etag)) < 0 ||
	    strcmp(etag, f->etag) != 0) {
		astro_notice("telemetry: %s changed on the archive host since it was opened; "
			     "this open's version of it is gone", path);
		rc = -EIO;
		goto out;
	}
	if (resp.status == 200 && from == 0 && resp.body_len > to + 1)
		resp.body_len = to + 1;	/* a cache that ignores ranges sends it whole */
	if (resp.body_len != to - from + 1 || (resp.status == 200 && from != 0)) {
		rc = -EIO;
		goto out;
	}
	astro_stats_add("telemetry.remote_bytes", (int64_t)resp.body_len);
	m.fetched_ms = astro_now_ms();
	if (r->cache)
		(void)astro_cache_put(r->cache, DB, key, (size_t)n, &m, resp.body, resp.body_len);
	free(f->data);
	f->data = malloc(resp.body_len ? resp.body_len : 1);
	if (!f->data) {
		f->block = -1;
		rc = -ENOMEM;
		goto out;
	}
	memcpy(f->data, resp.body, resp.body_len);
	f->len = resp.body_len;
	f->block = b;
	rc = 0;
out:
	astro_http_resp_free(&resp);
	return rc;
}

int astro_tlm_remote_openf(struct astro_tlm_remote *r, const char *path, int flags,
			   struct astro_file *file)
{
	struct rfile *f;
	struct rattr a;
	struct slot *s;
	int rc, same = 0;

	if ((flags & 3) != 0)
		return -EROFS;
	if ((rc = attr_get(r, path, &a)))
		return rc;
	if (a.kind != ASTRO_FILE)
		return -EISDIR;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	pthread_mutex_init(&f->mu, NULL);
	memcpy(f->etag, a.etag, sizeof(f->etag));
	f->size = a.size;
	f->block = -1;
	/* a small file whole now, so its snapshot holds whatever the host does */
	for (int64_t b = 0; a.size <= ASTRO_TLM_REMOTE_PIN &&
			    (uint64_t)b * ASTRO_TLM_REMOTE_BLOCK < a.size; b++) {
		if ((rc = block_load(r, path, f, b))) {
			free(f->data);
			pthread_mutex_destroy(&f->mu);
			free(f);
			return rc;
		}
	}
	pthread_mutex_lock(&r->mu);
	if (!(s = slot_find(r, path, 0))) {
		/* known from the LMDB cache only: a slot with what it said */
		s = slot_find(r, path, 1);
		s->a = a;
	}
	same = strcmp(s->opened, a.etag) == 0;
	memcpy(s->opened, a.etag, sizeof(s->opened));
	pthread_mutex_unlock(&r->mu);
	file->keep_cache = same;
	if (!same && r->invalidate)
		r->invalidate(r->invalidate_arg, path);
	file->handle = f;
	return 0;
}

int astro_tlm_remote_read(struct astro_tlm_remote *r, const char *path, struct astro_file *file,
			  char *buf, size_t size, off_t off)
{
	struct rfile *f = file ? file->handle : NULL;
	uint64_t pos = (uint64_t)off;
	size_t done = 0;
	int rc = 0;

	if (!f)
		return -EBADF;
	if (off < 0)
		return -EINVAL;
	pthread_mutex_lock(&f->mu);
	while (done < size && pos < f->size) {
		int64_t b = (int64_t)(pos / ASTRO_TLM_REMOTE_BLOCK);
		size_t in, n;

		if ((rc = block_load(r, path, f, b)))
			break;
		in = (size_t)(pos - (uint64_t)b * ASTRO_TLM_REMOTE_BLOCK);
		n = f->len - in < size - done ? f->len - in : size - done;
		memcpy(buf + done, f->data + in, n);
		done += n;
		pos += n;
	}
	pthread_mutex_unlock(&f->mu);
	if (rc && done == 0)
		return rc;
	return done > (size_t)INT32_MAX ? INT32_MAX : (int)done;
}

int astro_tlm_remote_release(struct astro_tlm_remote *r, const char *path, struct astro_file *file)
{
	struct rfile *f = file ? file->handle : NULL;

	(void)r;
	(void)path;
	if (f) {
		free(f->data);
		pthread_mutex_destroy(&f->mu);
		free(f);
		file->handle = NULL;
	}
	return 0;
}

/* ---------------------------------------------------------------- setup */

static int load_token(struct astro_tlm_remote *r, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	struct stat st;

	if (fd < 0)
		return astro_err_set(err, errlen, -errno, "archive_token %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || st.st_size > TOKEN_MAX) {
		close(fd);
		return astro_err_set(err, errlen, -EINVAL, "archive_token %s: not a small file", path);
	}
	rc = astro_secure_read_fd(fd, (size_t)st.st_size, &buf, &len, &cap);
	close(fd);
	if (rc)
		return astro_err_set(err, errlen, rc, "archive_token %s: %s", path, strerror(-rc));
	n = strcspn(buf, "\r\n");
	while (n && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	if (n == 0) {
		astro_secure_free(buf, cap);
		return astro_err_set(err, errlen, -EINVAL, "archive_token %s: the first line holds no token",
				     path);
	}
	r->auth_cap = n + 32;
	r->auth = astro_secure_alloc(r->auth_cap);
	if (r->auth)
		snprintf(r->auth, r->auth_cap, "Authorization: Token %.*s", (int)n, buf);
	astro_secure_free(buf, cap);
	return r->auth ? 0 : -ENOMEM;
}

int astro_tlm_remote_open(struct astro_tlm_remote **out, const struct astro_ctx *ctx,
			  char *err, size_t errlen)
{
	const struct astro_config *cfg = ctx->cfg;
	struct astro_tlm_remote *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->mu, NULL);
	r->base = strdup(cfg->archive_url);
	r->cainfo = cfg->archive_ca ? strdup(cfg->archive_ca) : NULL;
	if (!r->base || (cfg->archive_ca && !r->cainfo)) {
		astro_tlm_remote_close(r);
		return -ENOMEM;
	}
	if (cfg->archive_token && (rc = load_token(r, cfg->archive_token, err, errlen))) {
		astro_tlm_remote_close(r);
		return rc;
	}
	r->timeout_ms = (int64_t)cfg->timeout * 1000;
	r->offline = cfg->offline;
	r->cache = ctx->cache;
	r->invalidate = ctx->invalidate;
	r->invalidate_arg = ctx->invalidate_arg;
	astro_info("telemetry: reading the archive at %s%s", r->base, r->offline ? " (offline)" : "");
	*out = r;
	return 0;
}

void astro_tlm_remote_close(struct astro_tlm_remote *r)
{
	if (!r)
		return;
	astro_secure_free(r->auth, r->auth_cap);
	free(r->base);
	free(r->cainfo);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

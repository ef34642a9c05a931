/* tlm_http.c — see tlm_http.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/astro.h"
#include "core/stats.h"
#include "prov_telemetry.h"
#include "services/httpd.h"
#include "tlm_archive.h"
#include "tlm_http.h"
#include "tlm_raven.h"

#define PREFIX "/telemetry"
#define STR2(x) #x
#define STR(x) STR2(x)
#define CLOSED_CC "public, max-age=31536000, immutable"
#define OPEN_CC "public, max-age=" STR(ASTRO_TLM_HTTP_OPEN_S)

#define DB "telemetry"
#define BLK ASTRO_TLM_HTTP_BLOCK

/* Pieces waiting for the writer: at most this many (then one is not kept). */
#define QUEUE 64

struct piece {
	char *key;
	size_t klen;
	char *data;
};

struct astro_tlm_http {
	struct astro_httpd *d;
	void *prov;
	char *archive_dir;
	struct astro_cache *cache;
	/*
	 * Rendered pieces are stored by one writer thread: a cache write is a
	 * durable LMDB commit, and waiting for it would make the first request
	 * for a file slower than rendering it without a cache.
	 */
	pthread_t writer;
	int writer_started, stopping;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct piece q[QUEUE];
	unsigned qn;
};

/* One file being answered: the provider's open file, closed when done,
 * and the rendered piece last read. */
struct served {
	struct astro_tlm_http *h;
	void *prov;
	char *path;
	struct astro_file f;
	char etag[80];
	uint64_t size;
	int64_t blk;			/* -1: none in data */
	char *data;
	size_t len;
};

static const struct astro_provider *P = &astro_prov_telemetry;

/*
 * One listener thread per online CPU (at least 2, so one request waiting
 * on the disk does not stop the rest).  Answers are CPU work on a mapped
 * archive; threads beyond the cores only take turns on them, and a
 * thread preempted mid-answer holds up every connection it serves: on 2
 * cores, 8 threads gave 100 clients a p99 of 80-150 ms, 2 threads 45 ms
 * (bench/telemetry_net.sh).
 */
static unsigned listener_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 2 ? 2u : n > 64 ? 64u : (unsigned)n;
}

static int errno_answer(struct astro_httpd_answer *a, int rc, const char *path)
{
	char msg[400];

	switch (rc) {
	case -ENOENT:
	case -ENOTDIR:
		snprintf(msg, sizeof(msg), "no such file: %s", path);
		return astro_httpd_answer_error(a, 404, msg);
	case -EINVAL:
		snprintf(msg, sizeof(msg), "bad range or time in %s", path);
		return astro_httpd_answer_error(a, 400, msg);
	case -ENOMEM:
		return -ENOMEM;
	default:
		snprintf(msg, sizeof(msg), "%s: %s", path, strerror(-rc));
		return astro_httpd_answer_error(a, rc == -EISDIR ? 400 : 500, msg);
	}
}


static void *writer_main(void *arg)
{
	struct astro_tlm_http *h = arg;
	struct astro_cache_meta m = {.flags = ASTRO_CACHE_FINAL, .ttl_s = -1};
	struct astro_cache_item items[QUEUE];
	struct piece batch[QUEUE];
	unsigned n;

	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (!h->qn && !h->stopping)
			pthread_cond_wait(&h->cv, &h->mu);
		if (!h->qn)
			break;
		/* all that waits, in one commit: a durable commit per piece
		 * would keep the disk, not the copy, the bottleneck */
		n = h->qn;
		memcpy(batch, h->q, n * sizeof(*batch));
		h->qn = 0;
		pthread_mutex_unlock(&h->mu);
		for (unsigned i = 0; i < n; i++)
			items[i] = (struct astro_cache_item){batch[i].key, batch[i].klen,
							     batch[i].data, BLK};
		m.fetched_ms = astro_now_ms();
		if (astro_cache_put_many(h->cache, DB, &m, items, n) == 0)
			astro_stats_add("telemetry.http.pieces_kept", (int64_t)n);
		for (unsigned i = 0; i < n; i++) {
			free(batch[i].key);
			free(batch[i].data);
		}
		pthread_mutex_lock(&h->mu);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

/* Hand a copy of a rendered piece to the writer, unless it is busy. */
static void piece_keep(struct astro_tlm_http *h, const char *key, size_t klen, const char *data)
{
	struct piece p = {0};

	pthread_mutex_lock(&h->mu);
	if (h->qn < QUEUE && !h->stopping && (p.key = malloc(klen)) && (p.data = malloc(BLK))) {
		memcpy(p.key, key, klen);
		memcpy(p.data, data, BLK);
		p.klen = klen;
		h->q[h->qn++] = p;
		pthread_cond_signal(&h->cv);
	} else {
		free(p.key);
		astro_stats_inc("telemetry.http.pieces_not_kept");
	}
	pthread_mutex_unlock(&h->mu);
}

static int piece_key(const struct served *s, int64_t b, char *key, size_t cap)
{
	int n = snprintf(key, cap, "r:%s:%" PRId64 ":%s", s->etag, b, s->path);

	return n > 0 && (size_t)n < cap ? n : -1;
}

/* Render [pos, pos + max) of the snapshot: a count, or -errno. */
static long render(struct served *s, uint64_t pos, char *buf, size_t max)
{
	size_t done = 0;

	while (done < max) {
		int n = P->read(s->prov, s->path, &s->f, buf + done, max - done,
				(off_t)(pos + done));

		if (n < 0)
			return n;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (long)done;
}

/*
 * Whole piece b into s->data: from the cache, or rendered and kept.  0, or
 * 1 when the piece is not a whole one (not kept: read it directly).
 */
static int piece_load(struct served *s, int64_t b)
{
	struct astro_cache_meta m = {.flags = ASTRO_CACHE_FINAL, .ttl_s = -1};
	uint64_t from = (uint64_t)b * BLK;
	char key[512];
	void *data = NULL;
	long n;
	int klen;

	if (s->blk == b)
		return 0;
	if (!s->h->cache || from + BLK > s->size || (klen = piece_key(s, b, key, sizeof(key))) < 0)
		return 1;
	if (astro_cache_get(s->h->cache, DB, key, (size_t)klen, &m, &data) == 0 && m.len == BLK) {
		free(s->data);
		s->data = data;
		s->blk = b;
		s->len = BLK;
		astro_stats_inc("telemetry.http.piece_hits");
		return 0;
	}
	free(data);
	if (!s->data || s->len != BLK) {
		free(s->data);
		s->blk = -1;
		if (!(s->data = malloc(BLK)))
			return 1;
	}
	s->blk = -1;
	n = render(s, from, s->data, BLK);
	if (n != (long)BLK)
		return 1;	/* the error shows again on the direct read */
	s->len = BLK;
	s->blk = b;
	piece_keep(s->h, key, (size_t)klen, s->data);
	return 0;
}

static long served_read(void *arg, uint64_t pos, char *buf, size_t max)
{
	struct served *s = arg;
	int64_t b = (int64_t)(pos / BLK);
	size_t in;
	long n;

	if (max > (1u << 30))
		max = 1u << 30;
	if (piece_load(s, b) == 0) {
		in = (size_t)(pos - (uint64_t)b * BLK);
		n = (long)(s->len - in < max ? s->len - in : max);
		memcpy(buf, s->data + in, (size_t)n);
		return n;
	}
	n = P->read(s->prov, s->path, &s->f, buf, max, (off_t)pos);
	return n == 0 ? -EIO : n;	/* short of the size told: the body would lie */
}

static void served_done(void *arg)
{
	struct served *s = arg;

	P->release(s->prov, s->path, &s->f);
	free(s->data);
	free(s->path);
	free(s);
}

static const char *type_of(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ ".csv", "text/csv; charset=utf-8" },
		{ ".npy", "application/octet-stream" },
		{ ".svg", "image/svg+xml" },
		{ ".png", "image/png" },
	};
	size_t n = strlen(path);

	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(types); i++) {
		size_t e = strlen(types[i].ext);

		if (n >= e && strcmp(path + n - e, types[i].ext) == 0)
			return types[i].type;
	}
	return "text/plain; charset=utf-8";
}

static int add_name(void *buf, const char *name, const struct astro_attr *a)
{
	(void)a;
	return json_array_append_new(buf, json_string(name)) != 0;
}

/*
 * What `ls -l` of a remote mount needs of each entry, so it costs no HEAD per
 * entry (tlm_remote.h): kind, size, mtime and, for a file, the ETag a GET of
 * it would carry now.  An entry that vanished since the listing is left out.
 * An entry's size may need a counting pass or a plot, so a listing spends at
 * most LISTING_BUDGET_MS on them: entries past it are left out too (a
 * mount asks for those one by one), and the sizes counted are kept per
 * content version, so the next listing goes further.
 */
#define LISTING_BUDGET_MS 300
#ifdef ASTRO_UNITTEST
int64_t astro_tlm_http_test_budget_ms = LISTING_BUDGET_MS;
#define BUDGET_MS astro_tlm_http_test_budget_ms
#else
#define BUDGET_MS LISTING_BUDGET_MS
#endif
static json_t *items_of(struct astro_tlm_http *h, const char *dir, json_t *names)
{
	int64_t until = astro_now_ms() + BUDGET_MS;
	json_t *items = json_array();
	char path[1024];
	size_t i;

	for (i = 0; items && i < json_array_size(names) && astro_now_ms() < until; i++) {
		const char *name = json_string_value(json_array_get(names, i));
		struct astro_prov_telemetry_info info = {0};
		struct astro_attr at;
		json_t *it;

		if ((size_t)snprintf(path, sizeof(path), "%s%s%s", dir, *dir ? "/" : "", name) >=
			    sizeof(path) ||
		    astro_prov_telemetry_stat(h->prov, path, &at, &info))
			continue;
		it = json_pack("{s:s, s:s, s:I, s:I}", "name", name, "type",
			       at.kind == ASTRO_DIR ? "dir" : "file", "size",
			       (json_int_t)(at.kind == ASTRO_FILE ? at.size : 0), "mtime",
			       (json_int_t)at.mtime);
		if (it && at.kind == ASTRO_FILE)
			json_object_set_new(it, "etag", json_string(info.etag));
		if (!it || json_array_append_new(items, it)) {
			json_decref(items);
			items = NULL;
		}
	}
	return items;
}

static int serve_dir(struct astro_tlm_http *h, const char *path, struct astro_httpd_answer *a)
{
	json_t *names = json_array(), *items;
	int rc;

	if (!names)
		return -ENOMEM;
	rc = P->readdir(h->prov, path, add_name, names);
	if (rc) {
		json_decref(names);
		return errno_answer(a, rc, path);
	}
	if (!(items = items_of(h, path, names))) {
		json_decref(names);
		return -ENOMEM;
	}
	a->cache_control = OPEN_CC;
	return astro_httpd_answer_json(a, json_pack("{s:s, s:o, s:o}", "path", path, "entries",
						    names, "items", items));
}

static int serve_file(struct astro_tlm_http *h, const char *path, struct astro_httpd_answer *a)
{
	struct astro_prov_telemetry_info info;
	struct served *s = calloc(1, sizeof(*s));
	int rc;

	if (!s || !(s->path = strdup(path))) {
		free(s);
		return -ENOMEM;
	}
	s->h = h;
	s->prov = h->prov;
	s->blk = -1;
	rc = P->open(h->prov, path, O_RDONLY, &s->f);
	if (rc) {
		free(s->path);
		free(s);
		/* a directory: the caller lists it (opening is the cheap test) */
		return rc == -EISDIR ? rc : errno_answer(a, rc, path);
	}
	a->read_arg = s;
	a->done = served_done;
	rc = astro_prov_telemetry_file_info(h->prov, &s->f, &info);
	if (rc)
		return errno_answer(a, rc, path);
	a->read = served_read;
	a->size = info.size;
	s->size = info.size;
	astro_strlcpy(s->etag, info.etag, sizeof(s->etag));
	a->mtime = info.mtime;
	astro_strlcpy(a->etag, info.etag, sizeof(a->etag));
	a->cache_control = info.closed ? CLOSED_CC : OPEN_CC;
	a->type = type_of(path);
	a->gzip = strcmp(a->type, "image/png") != 0;
	return 0;
}

/* "/telemetry[/rest]" into rest (maybe ""); 0, or 1 when not that tree,
 * -EINVAL for "." or ".." segments and empty inner ones. */
static int tree_path(const char *url, const char **rest)
{
	const char *p;

	if (strncmp(url, PREFIX, strlen(PREFIX)) != 0)
		return 1;
	p = url + strlen(PREFIX);
	if (*p && *p != '/')
		return 1;
	while (*p == '/')
		p++;
	*rest = p;
	for (const char *q = p; *q;) {
		size_t n = strcspn(q, "/");

		if ((n == 1 && q[0] == '.') || (n == 2 && q[0] == '.' && q[1] == '.') ||
		    (n == 0 && q[1]))
			return -EINVAL;
		q += n;
		if (*q)
			q++;
	}
	return 0;
}

static int serve(void *arg, const struct astro_httpd_req *req, struct astro_httpd_answer *a)
{
	struct astro_tlm_http *h = arg;
	struct astro_attr at;
	const char *rest;
	char path[1024];
	size_t n;
	int rc;

	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)
		return astro_httpd_answer_error(a, 405, "method not allowed: the archive is read-only");
	if (strcmp(req->path, "/.astrofs/stats") == 0) {
		a->body = astro_stats_json();
		a->cache_control = "no-store";
		if (!a->body)
			return -ENOMEM;
		a->len = strlen(a->body);
		return 0;
	}
	if (strncmp(req->path, "/api/v1/", 8) == 0) {
		rc = astro_tlm_raven_answer(astro_prov_telemetry_archive(h->prov), h->archive_dir,
					    req, req->path + 8, a, path, sizeof(path));
		if (rc != 1)
			return rc;
		/* a download: the tree's own file, under RAVEN's attachment name */
		rc = serve_file(h, path, a);
		return rc == -EISDIR ? errno_answer(a, -ENOENT, path) : rc;
	}
	rc = tree_path(req->path, &rest);
	if (rc > 0)
		return astro_httpd_answer_error(a, 404, "not found");
	if (rc < 0)
		return astro_httpd_answer_error(a, 400, "no '.' or '..' or empty segments in paths");
	n = strlen(rest);
	if (n >= sizeof(path))
		return astro_httpd_answer_error(a, 404, "path too long");
	memcpy(path, rest, n + 1);
	while (n && path[n - 1] == '/')
		path[--n] = '\0';
	/*
	 * A file is opened straight away: a getattr first would count the
	 * file's size by rendering it, and the open would render it again.
	 */
	rc = serve_file(h, path, a);
	if (rc != -EISDIR)
		return rc;
	rc = P->getattr(h->prov, path, &at);
	if (rc)
		return errno_answer(a, rc, path);
	return at.kind == ASTRO_DIR ? serve_dir(h, path, a) : errno_answer(a, -EISDIR, path);
}

static int health(void *arg, const struct astro_httpd_req *req, unsigned *status, char **body)
{
	struct astro_tlm_http *h = arg;
	struct astro_tlm_reader *r;
	json_t *j;

	(void)req;
	if (astro_tlm_archive_reader_open(astro_prov_telemetry_archive(h->prov), &r)) {
		*status = 503;
		return astro_httpd_error_body("archive unreadable", NULL, body);
	}
	j = json_pack("{s:s, s:I}", "status", "UP", "generation",
		      (json_int_t)astro_tlm_archive_reader_generation(r));
	astro_tlm_archive_reader_close(r);
	*body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	*status = 200;
	return *body ? 0 : -ENOMEM;
}

int astro_tlm_http_start(struct astro_tlm_http **out, const struct astro_tlm_http_opts *o,
			 char *err, size_t errlen)
{
	struct astro_tlm_http *h = calloc(1, sizeof(*h));
	struct astro_httpd_opts ho = {
		.name = "telemetry",
		.listen = o->listen,
		.tls_cert = o->tls_cert,
		.tls_key = o->tls_key,
		.token_file = o->token_file,
		.token_lines = 1,
		.allow = o->allow,
		.max_body = 4096,	/* GETs carry none; small ones get their 405 */
		.threads = listener_threads(),
		.serve = serve,
		.health = health,
		.stats = "telemetry.http",
	};
	int rc;

	if (!h)
		return -ENOMEM;
	h->prov = o->prov;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	if (o->archive_dir && !(h->archive_dir = strdup(o->archive_dir))) {
		astro_tlm_http_stop(h);
		return -ENOMEM;
	}
	/* without a writer nothing is kept: every request renders */
	if (o->cache && pthread_create(&h->writer, NULL, writer_main, h) == 0) {
		h->writer_started = 1;
		h->cache = o->cache;
	}
	ho.arg = h;
	rc = astro_httpd_start(&h->d, &ho, err, errlen);
	if (rc) {
		astro_tlm_http_stop(h);
		return rc;
	}
	*out = h;
	return 0;
}

unsigned astro_tlm_http_port(const struct astro_tlm_http *h)
{
	return astro_httpd_port(h->d);
}

void astro_tlm_http_stop(struct astro_tlm_http *h)
{
	if (!h)
		return;
	if (h->d)
		astro_httpd_stop(h->d);
	pthread_mutex_lock(&h->mu);
	h->stopping = 1;
	/* what is queued is dropped: a later request renders it again */
	while (h->qn) {
		h->qn--;
		free(h->q[h->qn].key);
		free(h->q[h->qn].data);
	}
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	if (h->writer_started)
		pthread_join(h->writer, NULL);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
	free(h->archive_dir);
	free(h);
}

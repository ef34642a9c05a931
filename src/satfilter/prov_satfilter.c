/*
 * prov_satfilter.c — /satfilter, the satellite filter's transaction file.
 *
 * The tree root is itself the file: open it read-write, write requests (one
 * JSON object per line, several per write allowed, a line may span many
 * writes), read the answers, one JSON line each, in order, on the same
 * handle.  Each open has its own request buffer and answer queue; writes
 * append whatever their offset, reads ignore the offset and consume from
 * a cursor (direct_io + nonseekable).  A handle holds at most
 * ASTRO_SATFILTER_MAX_UNREAD bytes of unread answers (plus the one answer
 * that crossed the line): a write that would start a request beyond that
 * answers with what it consumed so far (a short write), or, having consumed
 * nothing, fails with ENOBUFS until the answers are read.  A request is answered when its
 * newline arrives, or at the next read if it has none.  Reading a handle
 * that never wrote gives a usage line, then EOF.
 *
 * Catalogue (satfilter.h keeps it): a satfilter_catalog file is loaded at
 * start (an unusable file fails the mount) and reloaded every
 * satfilter_refresh; "spacetrack" fetches the current GP catalogue at the
 * first visit request (so mounts that never use /satfilter never query
 * space-track), or at start when the HTTP listener is configured, and then
 * every satfilter_refresh.  A failed refresh keeps the
 * previous catalogue.
 */
#include <assert.h>
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/astro.h"
#include "core/log.h"
#include "core/provider.h"
#include "satfilter.h"
#include "satfilter_http.h"
#include "core/services.h"
#include "services/spacetrack.h"
#include "services/stday.h"

#define GP_QUERY "/basicspacedata/query/class/gp/decay_date/null-val/epoch/%3Enow-30/" \
		 "orderby/norad_cat_id/format/3le"
/* space-track's fileshare folder of controlled (CUI) element sets */
#define CUI_FOLDER 59
#define USAGE "{\"usage\": \"write one JSON request per line (visit or diasources, as Rubin's " \
	      "satellite filter service), then read one JSON answer per request\"}\n"

struct sf_priv {
	const struct astro_config *cfg;
	struct astro_services *svc;
	struct astro_cache *cache;	/* the mount's, shared with /tle's days */
	struct astro_satfilter *sf;
	struct astro_satfilter_http *http;
	pthread_mutex_t lock;		/* guards the fields below */
	pthread_mutex_t load_lock;	/* one catalogue load at a time */
	pthread_cond_t cv;
	pthread_t thread;
	int have_thread, stop, wanted;	/* wanted: a space-track catalogue was asked for */
	int64_t failed_ms;		/* last failed on-demand load (mono), 0 none */
	int cui_state;			/* 1 the CUI file came, -1 it did not, 0 not asked */
	/* The CUI folder's listing for historical visits, listed again after
	 * satfilter_refresh (mono ms of the listing; 0 never). */
	struct astro_spacetrack_file *cui_files;
	size_t cui_n;
	int64_t cui_listed_ms;
};

/* Historical sources: a day is keyed by its Unix time (>= 0), a CUI file
 * by CUI_KEY(id) (< 0). */
#define CUI_KEY(id) (-1 - (int64_t)(id))

/* After a failed on-demand load, requests answer "no catalogue" for this
 * long instead of each querying space-track again. */
#define RETRY_MS 60000

struct sf_handle {
	pthread_mutex_t lock;
	char *in;			/* bytes of the current, unfinished line */
	size_t in_len, in_cap;
	int overflow;			/* the current line exceeded the limit: skip it */
	char *out;			/* answers not read yet, from out_pos */
	size_t out_len, out_pos, out_cap;
	size_t peak;			/* largest buffer this handle held */
	int wrote;
};

/* A buffer above this is given back once it is empty, so an idle handle
 * does not keep the memory of its largest burst. */
#define KEEP_CAP (64u << 10)

/*
 * The CUI file of fileshare folder CUI_FOLDER (near_unix 0: the newest;
 * else the one uploaded nearest it) into *out, in memory excluded from
 * core dumps; nothing when the account cannot read the folder (logged
 * once per change, then the public catalogue serves alone) or it fails.
 */
static void cui_note_locked(struct sf_priv *p, int rc)
{
	int state = rc == 0 ? 1 : -1;

	if (p->cui_state != state) {
		p->cui_state = state;
		if (rc == 0)
			astro_notice("satfilter: the CUI file of fileshare folder %d is merged in", CUI_FOLDER);
		else
			astro_notice("satfilter: no CUI file from fileshare folder %d (%s); the public catalogue serves alone",
				     CUI_FOLDER, rc == -ENOENT ? "the folder lists no file: no access"
							       : strerror(-rc));
	}
}

static void fetch_cui(struct sf_priv *p, int64_t near_unix, int64_t deadline,
		      struct astro_satfilter_src *out)
{
	int rc = astro_spacetrack_fetch_folder_file(p->svc->spacetrack, CUI_FOLDER, near_unix, deadline,
					    &out->body, &out->len, &out->cap, NULL);

	pthread_mutex_lock(&p->lock);
	cui_note_locked(p, rc);
	pthread_mutex_unlock(&p->lock);
}

/*
 * The CUI file uploaded nearest near_unix, named for the filter to keep
 * parsed (its id is its version: a file never changes); its body comes
 * through history_body when the filter has no parse of it.  The folder is
 * listed once per satfilter_refresh (a listing that failed for another
 * reason than "no file" is tried again at the next visit), so a night of
 * historical visits costs one listing and one download per file, not two
 * requests a visit.  Nothing when the folder gives no file.
 */
static void name_cui(struct sf_priv *p, int64_t near_unix, int64_t deadline,
		     struct astro_satfilter_src *out)
{
	const struct astro_spacetrack_file *f;
	int64_t now = astro_mono_ms();
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	if (!p->cui_listed_ms || now - p->cui_listed_ms >= (int64_t)p->cfg->satfilter_refresh * 1000) {
		struct astro_spacetrack_file *files = NULL;
		size_t n = 0;

		pthread_mutex_unlock(&p->lock);
		rc = astro_spacetrack_list_folder(p->svc->spacetrack, CUI_FOLDER, deadline, &files, &n);
		pthread_mutex_lock(&p->lock);
		if (rc == 0 || rc == -ENOENT || rc == -EACCES) {
			free(p->cui_files);
			p->cui_files = files;
			p->cui_n = n;
			p->cui_listed_ms = now;
		}
	}
	f = astro_spacetrack_nearest_file(p->cui_files, p->cui_n, near_unix);
	if (f) {
		out->keep = 1;
		out->key = CUI_KEY(f->id);
		out->version = f->id;
	}
	cui_note_locked(p, f ? 0 : rc ? rc : -ENOENT);
	pthread_mutex_unlock(&p->lock);
}

static int is_file_catalogue(const struct astro_config *cfg)
{
	return cfg->satfilter_catalog && strcmp(cfg->satfilter_catalog, "spacetrack") != 0;
}

/* Load the configured catalogue: 0 or -errno.  on_demand: only when none
 * is loaded yet (another request may have just loaded it) and not within
 * RETRY_MS of a failure. */
static int load_catalogue(struct sf_priv *p, int on_demand)
{
	char err[256] = "";
	long rc;

	pthread_mutex_lock(&p->load_lock);
	if (on_demand && (astro_satfilter_ready(p->sf) ||
			  (p->failed_ms && astro_mono_ms() - p->failed_ms < RETRY_MS))) {
		pthread_mutex_unlock(&p->load_lock);
		return 0;
	}
	if (is_file_catalogue(p->cfg)) {
		rc = astro_satfilter_load_file(p->sf, p->cfg->satfilter_catalog, err, sizeof(err));
	} else if (!p->svc || !p->svc->spacetrack) {
		rc = -ENETDOWN;
		snprintf(err, sizeof(err), "no space-track client");
	} else {
		struct astro_satfilter_src src[2] = { { 0 } };
		int64_t deadline = astro_mono_ms() + (int64_t)p->cfg->timeout * 1000;

		rc = astro_spacetrack_get_secret(p->svc->spacetrack, GP_QUERY, deadline, &src[0].body,
					 &src[0].len, &src[0].cap);
		if (rc == 0) {
			fetch_cui(p, 0, deadline, &src[1]);
			/* of an object in both, the set nearest now (sattle's merge) */
			rc = astro_satfilter_load_merged(p->sf, src, 2,
							 (double)time(NULL) / 86400.0 + 2440587.5,
							 err, sizeof(err));
		} else {
			snprintf(err, sizeof(err), "space-track: %s", strerror((int)-rc));
		}
		for (size_t i = 0; i < 2; i++)
			astro_secure_free(src[i].body, src[i].cap);
	}
	if (on_demand)
		p->failed_ms = rc < 0 ? astro_mono_ms() : 0;
	pthread_mutex_unlock(&p->load_lock);
	if (rc < 0) {
		astro_err("satfilter: catalogue not loaded: %s", err);
		return (int)rc;
	}
	return 0;
}

/*
 * The sets around a historical exposure: every UTC day within
 * ASTRO_SATFILTER_HISTORY_DAYS of it from gp_history, through the cache
 * /tle fills (a cached day costs no query; a fresh cached day is only
 * named, for the filter to use its kept parse), plus the CUI file
 * uploaded nearest it (named too; memory only).  Days that cannot be had
 * are skipped: the objects they hold are then missing, which the log says.
 */
static int history(void *arg, double mid_unix, struct astro_satfilter_src *src, size_t max,
		   size_t *n)
{
	struct sf_priv *p = arg;
	int64_t deadline = astro_mono_ms() + (int64_t)p->cfg->timeout * 1000;
	int64_t first = (int64_t)floor((mid_unix - ASTRO_SATFILTER_HISTORY_DAYS * 86400) / 86400);
	int64_t last = (int64_t)floor((mid_unix + ASTRO_SATFILTER_HISTORY_DAYS * 86400) / 86400);
	size_t got = 0, missed = 0;
	int rc = 0;

	*n = 0;
	if (!p->svc || !p->svc->spacetrack)
		return -ENETDOWN;
	for (int64_t d = first; d <= last && *n + 1 < max; d++) {
		/* A day cached and fresh is named, not read: the filter keeps
		 * its parse and asks for the body only when it has none. */
		if (astro_stday_peek(p->cache, p->cfg, d * 86400, &src[*n].version) == 0) {
			src[*n].keep = 1;
			src[*n].key = d * 86400;
			(*n)++;
			got++;
			continue;
		}
		rc = astro_stday_get(p->svc->spacetrack, p->cache, p->cfg, d * 86400, deadline,
				     &src[*n].body, &src[*n].len, NULL);
		if (rc == -EINTR || rc == -ETIMEDOUT)
			return rc;
		if (rc) {
			missed++;
			continue;
		}
		src[*n].cap = 0;	/* public: plain heap */
		(*n)++;
		got++;
	}
	if (got == 0)
		return rc ? rc : -EIO;
	if (missed)
		astro_warn("satfilter: historical visit: %zu of %zu days of element sets could not be had",
			   missed, missed + got);
	name_cui(p, (int64_t)mid_unix, deadline, &src[*n]);
	if (src[*n].keep)
		(*n)++;
	return 0;
}

/* A named day's body: the cached copy (its version, should it have been
 * refreshed meanwhile), else through the day service, then not kept. */
static int history_body(void *arg, struct astro_satfilter_src *src)
{
	struct sf_priv *p = arg;

	if (src->key < 0) {
		/* controlled: received into non-dumpable memory (cap set) */
		int rc = astro_spacetrack_download_file(p->svc->spacetrack, -1 - src->key,
							astro_mono_ms() + (int64_t)p->cfg->timeout * 1000,
							&src->body, &src->len, &src->cap);

		pthread_mutex_lock(&p->lock);
		cui_note_locked(p, rc);
		pthread_mutex_unlock(&p->lock);
		return rc;
	}
	src->cap = 0;	/* public: plain heap */
	if (astro_stday_read(p->cache, src->key, &src->body, &src->len, &src->version) == 0)
		return 0;
	src->keep = 0;
	return astro_stday_get(p->svc->spacetrack, p->cache, p->cfg, src->key,
			       astro_mono_ms() + (int64_t)p->cfg->timeout * 1000, &src->body,
			       &src->len, NULL);
}

static void history_release(void *arg, struct astro_satfilter_src *src, size_t n)
{
	(void)arg;
	for (size_t i = 0; i < n; i++) {
		if (src[i].cap)
			astro_secure_free(src[i].body, src[i].cap);
		else
			free(src[i].body);
		src[i].body = NULL;
	}
}

static void *refresher(void *arg)
{
	struct sf_priv *p = arg;

	if (p->cfg->satfilter_listen && !is_file_catalogue(p->cfg)) {
		/* the HTTP listener has no first-request hook: a configured
		 * listener means the filter is wanted, so load now */
		pthread_mutex_lock(&p->lock);
		p->wanted = 1;
		pthread_mutex_unlock(&p->lock);
		(void)load_catalogue(p, 1);
	}
	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)p->cfg->satfilter_refresh;
		if (pthread_cond_timedwait(&p->cv, &p->lock, &ts) == ETIMEDOUT && !p->stop &&
		    (is_file_catalogue(p->cfg) || p->wanted)) {
			pthread_mutex_unlock(&p->lock);
			(void)load_catalogue(p, 0);
			pthread_mutex_lock(&p->lock);
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void sf_destroy(void *priv)
{
	struct sf_priv *p = priv;

	if (!p)
		return;
	astro_satfilter_http_stop(p->http);
	if (p->have_thread) {
		pthread_mutex_lock(&p->lock);
		p->stop = 1;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->thread, NULL);
	}
	astro_satfilter_destroy(p->sf);
	free(p->cui_files);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->load_lock);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static int sf_init(const struct astro_ctx *ctx, void **priv)
{
	struct astro_satfilter_opts o;
	struct sf_priv *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return -ENOMEM;
	p->cfg = ctx->cfg;
	p->svc = ctx->services;
	p->cache = ctx->cache;
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->load_lock, NULL);
	pthread_cond_init(&p->cv, NULL);
	astro_satfilter_default_opts(&o);
	o.site_lat = p->cfg->site_lat;
	o.site_lon = p->cfg->site_lon;
	o.site_height = p->cfg->site_height;
	o.buffer_deg = p->cfg->satfilter_buffer;
	o.dut1_s = p->cfg->satfilter_dut1;
	if (!is_file_catalogue(p->cfg)) {
		o.history = history;
		o.history_body = history_body;
		o.history_release = history_release;
		o.history_arg = p;
	}
	rc = astro_satfilter_create(&p->sf, &o);
	if (rc)
		goto out;
	if (is_file_catalogue(p->cfg) && (rc = load_catalogue(p, 0)) != 0)
		goto out;
	if (p->cfg->satfilter_refresh) {
		rc = -pthread_create(&p->thread, NULL, refresher, p);
		if (rc)
			goto out;
		p->have_thread = 1;
	}
	if (p->cfg->satfilter_listen) {
		struct astro_satfilter_http_opts ho = {
			.listen = p->cfg->satfilter_listen,
			.tls_cert = p->cfg->satfilter_tls_cert,
			.tls_key = p->cfg->satfilter_tls_key,
			.token_file = p->cfg->satfilter_token,
			.allow = p->cfg->satfilter_allow,
		};
		char err[300];

		rc = astro_satfilter_http_start(&p->http, p->sf, &ho, err, sizeof(err));
		if (rc) {
			astro_err("satfilter: listener on %s: %s", p->cfg->satfilter_listen, err);
			goto out;
		}
	}
out:
	if (rc) {
		sf_destroy(p);
		return rc;
	}
	*priv = p;
	return 0;
}

static int sf_getattr(void *priv, const char *path, struct astro_attr *a)
{
	assert(priv);
	if (*path)
		return -ENOENT;
	memset(a, 0, sizeof(*a));
	a->kind = ASTRO_FILE;
	a->flags = ASTRO_ATTR_WRITABLE | ASTRO_ATTR_UNKNOWN_SIZE;
	return 0;
}

static int sf_readdir(void *priv, const char *path, astro_fill_fn fill, void *buf)
{
	assert(priv);
	(void)fill; (void)buf;
	return *path ? -ENOENT : -ENOTDIR;
}

static int sf_open(void *priv, const char *path, int flags, struct astro_file *f)
{
	struct sf_handle *h;

	assert(priv);
	(void)flags;
	if (*path)
		return -ENOENT;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	pthread_mutex_init(&h->lock, NULL);
	f->handle = h;
	f->direct_io = 1;
	f->nonseekable = 1;
	return 0;
}

static int reserve(char **buf, size_t *cap, size_t need)
{
	size_t nc;
	char *nb;

	if (need <= *cap)
		return 0;
	nc = *cap ? *cap : 4096;
	while (nc < need)
		nc *= 2;
	nb = realloc(*buf, nc);
	if (!nb)
		return -ENOMEM;
	*buf = nb;
	*cap = nc;
	return 0;
}

/* Give back an emptied buffer that grew past KEEP_CAP. */
static void shrink(char **buf, size_t *cap)
{
	if (*cap > KEEP_CAP) {
		free(*buf);
		*buf = NULL;
		*cap = 0;
	}
}

/* Queue one answer line. */
static int emit(struct sf_handle *h, const char *s)
{
	size_t n = strlen(s);

	ASTRO_ASSERT_LOCKED(&h->lock);
	assert(h->out_pos <= h->out_len && h->out_len <= h->out_cap);
	if (h->out_pos == h->out_len) {
		h->out_pos = h->out_len = 0;
	} else if (h->out_pos > h->out_len / 2) {
		/* a reader is draining while a writer adds: reuse the read part
		 * rather than grow past what is unread */
		memmove(h->out, h->out + h->out_pos, h->out_len - h->out_pos);
		h->out_len -= h->out_pos;
		h->out_pos = 0;
	}
	if (reserve(&h->out, &h->out_cap, h->out_len + n + 1))
		return -ENOMEM;
	if (h->out_cap > h->peak)
		h->peak = h->out_cap;
	memcpy(h->out + h->out_len, s, n);
	h->out[h->out_len + n] = '\n';
	h->out_len += n + 1;
	assert(h->out_len <= h->out_cap);
	return 0;
}

static int blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return 0;
	return 1;
}

/* Answer one complete line. */
static int run_line(struct sf_priv *p, struct sf_handle *h, const char *line, size_t n)
{
	char *ans = NULL;
	int status, rc;

	if (blank(line, n))
		return 0;
	if (!astro_satfilter_ready(p->sf) && !is_file_catalogue(p->cfg)) {
		pthread_mutex_lock(&p->lock);
		p->wanted = 1;
		pthread_mutex_unlock(&p->lock);
		(void)load_catalogue(p, 1);
	}
	rc = astro_satfilter_handle(p->sf, line, n, &ans, &status);
	rc = emit(h, rc ? ASTRO_SATFILTER_OOM_ANSWER : ans);
	free(ans);
	return rc;
}

static int sf_write(void *priv, const char *path, struct astro_file *f,
		    const char *buf, size_t size, off_t off)
{
	struct sf_priv *p = priv;
	struct sf_handle *h = f->handle;
	size_t i;
	int rc = 0, full = 0;

	assert(priv);
	(void)path; (void)off;
	pthread_mutex_lock(&h->lock);
	h->wrote = 1;
	for (i = 0; i < size && rc == 0;) {
		const char *nl = memchr(buf + i, '\n', size - i);
		size_t n = nl ? (size_t)(nl - (buf + i)) : size - i;

		if (h->out_len - h->out_pos >= ASTRO_SATFILTER_MAX_UNREAD) {
			/* the reader is behind: take no more until it reads */
			full = 1;
			break;
		}
		if (!h->overflow && h->in_len + n > ASTRO_SATFILTER_MAX_REQUEST) {
			h->overflow = 1;
			h->in_len = 0;
		}
		if (!h->overflow) {
			rc = reserve(&h->in, &h->in_cap, h->in_len + n);
			if (rc)
				break;
			if (h->in_cap > h->peak)
				h->peak = h->in_cap;
			memcpy(h->in + h->in_len, buf + i, n);
			h->in_len += n;
			assert(h->in_len <= ASTRO_SATFILTER_MAX_REQUEST);
		}
		i += n;
		if (!nl)
			break;
		i++;
		if (h->overflow) {
			rc = emit(h, "{\"error\": \"request line too long\", \"allow_list\": []}");
			h->overflow = 0;
		} else {
			rc = run_line(p, h, h->in, h->in_len);
		}
		h->in_len = 0;
		shrink(&h->in, &h->in_cap);
	}
	pthread_mutex_unlock(&h->lock);
	if (rc)
		return rc;
	if (full && i == 0)
		return -ENOBUFS;
	return (int)i;
}

static int sf_read(void *priv, const char *path, struct astro_file *f, char *buf,
		   size_t size, off_t off)
{
	struct sf_priv *p = priv;
	struct sf_handle *h = f->handle;
	size_t n;
	int rc = 0;

	assert(priv);
	(void)path; (void)off;
	pthread_mutex_lock(&h->lock);
	if (!h->wrote) {
		/* usage once, then EOF */
		h->wrote = 1;
		rc = emit(h, USAGE);
		if (!rc)
			h->out_len--;	/* USAGE carries its newline */
	}
	if (!rc && (h->overflow || (h->in_len && !blank(h->in, h->in_len)))) {
		/* a last request without its newline */
		rc = h->overflow ? emit(h, "{\"error\": \"request line too long\", \"allow_list\": []}")
				 : run_line(p, h, h->in, h->in_len);
		h->in_len = 0;
		h->overflow = 0;
		shrink(&h->in, &h->in_cap);
	}
	if (rc) {
		pthread_mutex_unlock(&h->lock);
		return rc;
	}
	assert(h->out_pos <= h->out_len && h->out_len <= h->out_cap);
	n = h->out_len - h->out_pos;
	if (n > size)
		n = size;
	memcpy(buf, h->out + h->out_pos, n);
	h->out_pos += n;
	if (h->out_pos == h->out_len) {
		h->out_pos = h->out_len = 0;
		shrink(&h->out, &h->out_cap);
	}
	pthread_mutex_unlock(&h->lock);
	return (int)n;
}

/* O_TRUNC and truncate(2) to 0 are harmless: nothing is stored. */
static int sf_truncate(void *priv, const char *path, struct astro_file *f, off_t size)
{
	assert(priv);
	(void)f;
	if (*path)
		return -ENOENT;
	return size == 0 ? 0 : -EINVAL;
}

static int sf_release(void *priv, const char *path, struct astro_file *f)
{
	struct sf_handle *h = f->handle;
	int big;

	assert(priv);
	(void)path;
	if (!h)
		return 0;
	pthread_mutex_destroy(&h->lock);
	free(h->in);
	free(h->out);
	big = h->peak > KEEP_CAP;
	free(h);
	f->handle = NULL;
	/* glibc keeps freed heap (and raises its mmap threshold after a large
	 * free), so a burst would stay in the RSS for good: hand it back. */
	if (big)
		malloc_trim(0);
	return 0;
}

const struct astro_provider astro_prov_satfilter = {
	.name = "satfilter",
	.init = sf_init,
	.destroy = sf_destroy,
	.getattr = sf_getattr,
	.readdir = sf_readdir,
	.open = sf_open,
	.read = sf_read,
	.write = sf_write,
	.truncate = sf_truncate,
	.release = sf_release,
};

/* prov_obs.c — the /obs tree (see prov_obs.h). */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "core/astro.h"
#include "core/config.h"
#include "core/log.h"
#include "obs_aws.h"
#include "obs_local.h"
#include "prov_obs.h"
#include "ulid.h"

static const char readme[] =
	"astrofs /obs — observatory commands, status and images\n"
	"\n"
	"sites               one line per site: name, status age in seconds (or -), fresh|aging|stale|never\n"
	"<site>/info         the site's block of the sites file, as JSON\n"
	"<site>/command      write one command per line; read back on the SAME open file\n"
	"                    \"ok <job-id> <verb>\" per command, or \"err line <n>: <reason>\".\n"
	"                    An invalid line fails the write with EINVAL and queues nothing;\n"
	"                    more than obs_max_pending commands waiting fails it with EDQUOT.\n"
	"                      exec 3<>/obs/site1/command; echo 'expose 5' >&3; read -r st id _ <&3\n"
	"<site>/jobs/<id>    the job record (JSON): state QUEUED SENT RECEIVED STARTED COMPLETE,\n"
	"                    or REJECTED FAILED EXPIRED CANCELED with a message\n"
	"<site>/status       JSON: the site's last status, its age_s and freshness\n"
	"<site>/images/      complete images only: NAME.fits and its preview NAME.jpg;\n"
	"                    latest -> the newest FITS\n"
	"\n"
	"Commands (case-insensitive, # starts a comment):\n"
	"  goto ra=<hours> dec=<deg> [rdsys=J2000|JNOW]   ra in [0,24) or hh:mm:ss, dec in [-90,90] or ±dd:mm:ss\n"
	"  tracking on|off\n"
	"  park | unpark | stop\n"
	"  expose <seconds>  or  expose time=<seconds> [count=<n>]\n"
	"  cancel <job-id>|all\n";

/*
 * The last version of a file whose text moves with the clock (sites,
 * <site>/status): getattr reports the exact size of the text as of now, and
 * mtime changes only when the text does, so tail -f, less +F and watch see
 * a stable size between changes instead of a size of 0 on every poll.
 */
struct version {
	char *text;
	int64_t mtime;		/* second the text last changed */
};

struct obs {
	struct astro_obs_sites sites;
	struct astro_obs_store *store;
	char *store_dir;
	unsigned aging_after_s, stale_after_s;
	pthread_mutex_t vlock;
	struct version sites_v;
	struct version *status_v;	/* one per site */
};

/* What a path names. */
enum node {
	N_ROOT, N_README, N_SITES, N_SITE, N_INFO, N_COMMAND, N_STATUS,
	N_JOBS, N_JOB, N_IMAGES, N_IMAGE, N_LATEST,
};

struct where {
	enum node node;
	const struct astro_obs_site *site;
	char leaf[ASTRO_OBS_IMAGE_NAME_MAX + 1];	/* job id or image name */
};

/* Per-open state: a rendered snapshot, an image fd, or a command session. */
struct handle {
	enum node node;
	char *buf;		/* snapshot, or replies not yet read */
	size_t len, pos;
	int64_t mtime;		/* the version the snapshot is of */
	int fd;
	/* command */
	pthread_mutex_t lock;
	char *pending;		/* a last line without its newline */
	size_t plen;
	bool asked;		/* a request was made on this handle */
	struct astro_obs_store_batch batch;	/* the write(2) in progress */
	bool in_write;		/* its last piece filled a request: more may follow */
	int refused;		/* errno owed to the rest of a write refused midway */
	const struct astro_obs_site *site;
};

void astro_prov_obs_set_freshness(void *priv, unsigned aging_after_s,
				  unsigned stale_after_s)
{
	struct obs *o = priv;

	o->aging_after_s = aging_after_s;
	o->stale_after_s = stale_after_s;
}

static int resolve(struct obs *o, const char *path, struct where *w)
{
	const char *slash, *rest;
	char key[ASTRO_OBS_SITE_KEY_MAX + 1];
	size_t n;

	memset(w, 0, sizeof(*w));
	if (!*path) {
		w->node = N_ROOT;
		return 0;
	}
	if (strcmp(path, "README") == 0) {
		w->node = N_README;
		return 0;
	}
	if (strcmp(path, "sites") == 0) {
		w->node = N_SITES;
		return 0;
	}
	slash = strchr(path, '/');
	n = slash ? (size_t)(slash - path) : strlen(path);
	if (n >= sizeof(key))
		return -ENOENT;
	memcpy(key, path, n);
	key[n] = '\0';
	w->site = astro_obs_sites_find(&o->sites, key);
	if (!w->site)
		return -ENOENT;
	if (!slash) {
		w->node = N_SITE;
		return 0;
	}
	rest = slash + 1;
	if (strcmp(rest, "info") == 0)
		w->node = N_INFO;
	else if (strcmp(rest, "command") == 0)
		w->node = N_COMMAND;
	else if (strcmp(rest, "status") == 0)
		w->node = N_STATUS;
	else if (strcmp(rest, "jobs") == 0)
		w->node = N_JOBS;
	else if (strcmp(rest, "images") == 0)
		w->node = N_IMAGES;
	else if (strncmp(rest, "jobs/", 5) == 0 && astro_ulid_valid(rest + 5, strlen(rest + 5)))
		w->node = N_JOB;
	else if (strcmp(rest, "images/latest") == 0)
		w->node = N_LATEST;
	else if (strncmp(rest, "images/", 7) == 0 && !strchr(rest + 7, '/') &&
		 strlen(rest + 7) <= ASTRO_OBS_IMAGE_NAME_MAX && rest[7])
		w->node = N_IMAGE;
	else
		return -ENOENT;
	if (w->node == N_JOB)
		astro_strlcpy(w->leaf, rest + 5, sizeof(w->leaf));
	else if (w->node == N_IMAGE)
		astro_strlcpy(w->leaf, rest + 7, sizeof(w->leaf));
	return 0;
}

/* "H:MM:SS", as the simulator's client shows ages. */
static void fmt_age(int64_t s, char *buf, size_t n)
{
	snprintf(buf, n, "%lld:%02lld:%02lld", (long long)(s / 3600),
		 (long long)(s / 60 % 60), (long long)(s % 60));
}

struct age {
	bool published;
	int64_t site_ts, age_s;		/* age clamped at 0 */
	bool skew;
	const char *freshness;
	const char *stale_reason;	/* why stale before its age says so, or NULL */
	json_t *record;			/* owned */
};

/*
 * A site that tells it has lost its devices is stale now, not after
 * stale_after_s: an INDI site keeps publishing while its server is away
 * (indi_connected) or a device let a command's deadline pass
 * (indi_responsive), and its timestamp, the last contact, only starts
 * aging then.  The reason, or NULL.
 */
static const char *out_of_contact(json_t *record)
{
	const char *c = json_string_value(json_object_get(record, "indi_connected"));
	const char *r = json_string_value(json_object_get(record, "indi_responsive"));

	if (c && strcmp(c, "False") == 0)
		return "the site is not connected to its INDI server";
	if (r && strcmp(r, "False") == 0)
		return "a device did not answer within its command's deadline";
	return NULL;
}

static void site_age(struct obs *o, const char *site, int64_t now_s, struct age *a)
{
	char *txt = NULL, *end;
	const char *ts;

	memset(a, 0, sizeof(*a));
	a->freshness = "never";
	if (astro_obs_store_status_get(o->store, site, &txt) < 0)
		return;
	a->record = json_loads(txt, 0, NULL);
	free(txt);
	if (!json_is_object(a->record)) {
		json_decref(a->record);
		a->record = NULL;
		return;
	}
	ts = json_string_value(json_object_get(a->record, "timestamp"));
	json_t *tsn = json_object_get(a->record, "timestamp");
	errno = 0;
	if (ts) {
		double d = strtod(ts, &end);

		if (errno || end == ts || *end || !isfinite(d))
			return;	/* published, but without a usable clock: never fresh */
		a->site_ts = (int64_t)floor(d);
	} else if (json_is_number(tsn)) {
		a->site_ts = (int64_t)floor(json_number_value(tsn));
	} else {
		return;
	}
	a->published = true;
	int64_t raw = now_s - a->site_ts;

	a->skew = raw < -ASTRO_OBS_SKEW_TOLERANCE_S;
	a->age_s = raw < 0 ? 0 : raw;
	a->freshness = a->age_s < o->aging_after_s ? "fresh"
		     : a->age_s < o->stale_after_s ? "aging" : "stale";
	a->stale_reason = out_of_contact(a->record);
	if (a->stale_reason)
		a->freshness = "stale";
}

/* The simulator's all-string values, typed: True/False, numbers. */
static json_t *typed(const char *v)
{
	char *end;
	double d;

	if (strcmp(v, "True") == 0)
		return json_true();
	if (strcmp(v, "False") == 0)
		return json_false();
	errno = 0;
	d = strtod(v, &end);
	if (*v && !errno && !*end && isfinite(d) && !strpbrk(v, "xXnNiI"))
		return json_real(d);
	return json_string(v);
}

static json_t *devices_of(json_t *record)
{
	json_t *dev = json_object(), *v;
	const char *k;

	json_object_foreach(record, k, v) {
		const char *us = strchr(k, '_');
		char group[32];
		const char *name;

		if (!us || us == k || (size_t)(us - k) >= sizeof(group) || !json_is_string(v))
			continue;
		memcpy(group, k, (size_t)(us - k));
		group[us - k] = '\0';
		name = strncmp(group, "mnt", 3) == 0 ? "mount"
		     : strncmp(group, "cam", 3) == 0 ? "camera" : group;
		json_t *g = json_object_get(dev, name);

		if (!g) {
			g = json_object();
			json_object_set_new(dev, name, g);
		}
		json_object_set_new(g, us + 1, typed(json_string_value(v)));
	}
	return dev;
}

static char *dump(json_t *j)
{
	char *txt = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL, *out;
	size_t n;

	json_decref(j);
	if (!txt)
		return NULL;
	n = strlen(txt);
	out = realloc(txt, n + 2);
	if (!out) {
		free(txt);
		return NULL;
	}
	memcpy(out + n, "\n", 2);
	return out;
}

static char *render_status(struct obs *o, const struct astro_obs_site *site)
{
	int64_t now = astro_now_ms() / 1000;
	struct age a;
	char agebuf[40];
	json_t *j;

	site_age(o, site->key, now, &a);
	fmt_age(a.age_s, agebuf, sizeof(agebuf));
	j = json_pack("{s:s,s:O?,s:o,s:I,s:I,s:I,s:s,s:b}",
		      "site", site->key, "record", a.record,
		      "devices", a.record ? devices_of(a.record) : json_null(),
		      "fetched_at", (json_int_t)now,
		      "aging_after_s", (json_int_t)o->aging_after_s,
		      "stale_after_s", (json_int_t)o->stale_after_s,
		      "freshness", a.freshness, "clock_skew_suspect", a.skew);
	if (j) {
		json_object_set_new(j, "site_timestamp",
				    a.published ? json_integer(a.site_ts) : json_null());
		json_object_set_new(j, "age_s", a.published ? json_integer(a.age_s) : json_null());
		json_object_set_new(j, "age", a.published ? json_string(agebuf) : json_null());
		if (a.stale_reason)
			json_object_set_new(j, "stale_reason", json_string(a.stale_reason));
	}
	json_decref(a.record);
	return dump(j);
}

static char *render_sites(struct obs *o)
{
	int64_t now = astro_now_ms() / 1000;
	char *out = NULL;
	size_t len = 0, i;
	FILE *m = open_memstream(&out, &len);

	if (!m)
		return NULL;
	for (i = 0; i < o->sites.n; i++) {
		struct age a;

		site_age(o, o->sites.v[i].key, now, &a);
		if (a.published)
			fprintf(m, "%s\t%lld\t%s\n", o->sites.v[i].key, (long long)a.age_s,
				a.freshness);
		else
			fprintf(m, "%s\t-\t%s\n", o->sites.v[i].key, a.freshness);
		json_decref(a.record);
	}
	if (fclose(m) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* Content of a read-only text node (malloc'd), or NULL with *rc set. */
static char *render(struct obs *o, const struct where *w, int *rc)
{
	char *out = NULL;

	*rc = 0;
	switch (w->node) {
	case N_README:
		out = strdup(readme);
		break;
	case N_SITES:
		out = render_sites(o);
		break;
	case N_INFO:
		out = strdup(w->site->info_json);
		break;
	case N_STATUS:
		out = render_status(o, w->site);
		break;
	case N_JOB:
		*rc = astro_obs_store_job_json(o->store, w->site->key, w->leaf, &out);
		return *rc < 0 ? NULL : out;
	default:
		*rc = -EISDIR;
		return NULL;
	}
	if (!out)
		*rc = -ENOMEM;
	return out;
}

static struct version *version_of(struct obs *o, const struct where *w)
{
	if (w->node == N_SITES)
		return &o->sites_v;
	if (w->node == N_STATUS && o->status_v)
		return &o->status_v[w->site - o->sites.v];
	return NULL;
}

/* A copy of the current text (malloc'd) and the second it last changed. */
static int current(struct obs *o, const struct where *w, char **text, size_t *len,
		   int64_t *mtime)
{
	struct version *v = version_of(o, w);
	char *t;
	int rc = 0;

	if (!v)
		return -ENOENT;
	t = render(o, w, &rc);
	if (!t)
		return rc;
	*len = strlen(t);
	pthread_mutex_lock(&o->vlock);
	if (!v->text || strcmp(t, v->text) != 0) {
		char *keep = strdup(t);

		if (keep) {
			free(v->text);
			v->text = keep;
			v->mtime = astro_now_ms() / 1000;
		}
	}
	*mtime = v->mtime;
	pthread_mutex_unlock(&o->vlock);
	*text = t;
	return 0;
}

struct find_image {
	const char *name;
	struct astro_obs_image img;
	bool found;
};

static int find_image_step(void *arg, const struct astro_obs_image *img)
{
	struct find_image *f = arg;

	if (strcmp(img->name, f->name) != 0)
		return 0;
	f->img = *img;
	f->found = true;
	return 1;
}

static int obs_getattr(void *priv, const char *path, struct astro_attr *a)
{
	struct obs *o = priv;
	struct where w;
	int rc;
	char *txt;

	assert(priv);
	rc = resolve(o, path, &w);
	if (rc < 0)
		return rc;
	memset(a, 0, sizeof(*a));
	switch (w.node) {
	case N_ROOT: case N_SITE: case N_JOBS: case N_IMAGES:
		a->kind = ASTRO_DIR;
		return 0;
	case N_COMMAND:
		a->kind = ASTRO_FILE;
		a->flags = ASTRO_ATTR_WRITABLE;
		return 0;
	case N_SITES: case N_STATUS: {
		size_t len;

		/* The exact size of the version an open now serves. */
		rc = current(o, &w, &txt, &len, &a->mtime);
		if (rc < 0)
			return rc;
		free(txt);
		a->kind = ASTRO_FILE;
		a->size = len;
		return 0;
	}
	case N_LATEST: {
		struct astro_obs_image img;

		rc = astro_obs_store_latest_image(o->store, w.site->key, &img);
		if (rc < 0)
			return rc;
		a->kind = ASTRO_LINK;
		a->size = strlen(img.name);
		a->mtime = img.mtime_ms / 1000;
		return 0;
	}
	case N_IMAGE: {
		struct find_image f = { .name = w.leaf };

		rc = astro_obs_store_images(o->store, w.site->key, find_image_step, &f);
		if (rc < 0)
			return rc;
		if (!f.found)
			return -ENOENT;
		a->kind = ASTRO_FILE;
		a->size = f.img.size;
		a->mtime = f.img.mtime_ms / 1000;
		return 0;
	}
	default:
		txt = render(o, &w, &rc);
		if (!txt)
			return rc;
		a->kind = ASTRO_FILE;
		a->size = strlen(txt);
		free(txt);
		return 0;
	}
}

struct fill_ctx {
	astro_fill_fn fill;
	void *buf;
	bool full;
};

static int fill_job(void *arg, const char *id, enum astro_obs_state st)
{
	struct fill_ctx *f = arg;

	(void)st;
	if (f->fill(f->buf, id, NULL)) {
		f->full = true;
		return 1;
	}
	return 0;
}

static int fill_image(void *arg, const struct astro_obs_image *img)
{
	struct fill_ctx *f = arg;
	struct astro_attr a = { .kind = ASTRO_FILE, .size = img->size,
				.mtime = img->mtime_ms / 1000 };

	if (f->fill(f->buf, img->name, &a)) {
		f->full = true;
		return 1;
	}
	return 0;
}

static int obs_readdir(void *priv, const char *path, astro_fill_fn fill, void *buf)
{
	static const char *const site_files[] = { "info", "command", "status", "jobs", "images" };
	struct obs *o = priv;
	struct fill_ctx f = { fill, buf, false };
	struct where w;
	size_t i;
	int rc;

	assert(priv);
	rc = resolve(o, path, &w);
	if (rc < 0)
		return rc;
	switch (w.node) {
	case N_ROOT:
		if (fill(buf, "README", NULL) || fill(buf, "sites", NULL))
			return 0;
		for (i = 0; i < o->sites.n; i++)
			if (fill(buf, o->sites.v[i].key, NULL))
				return 0;
		return 0;
	case N_SITE:
		for (i = 0; i < ASTRO_ARRAY_SIZE(site_files); i++)
			if (fill(buf, site_files[i], NULL))
				return 0;
		return 0;
	case N_JOBS:
		/* Commands no site took in time end here, even with the site
		 * offline (the simulator would expire them on receive). */
		astro_obs_store_expire(o->store, w.site->key);
		rc = astro_obs_store_jobs(o->store, w.site->key, fill_job, &f);
		return rc < 0 ? rc : 0;
	case N_IMAGES: {
		struct astro_obs_image img;

		rc = astro_obs_store_images(o->store, w.site->key, fill_image, &f);
		if (rc < 0)
			return rc;
		if (!f.full && astro_obs_store_latest_image(o->store, w.site->key, &img) == 0)
			fill(buf, "latest", NULL);
		return 0;
	}
	default:
		return -ENOTDIR;
	}
}

static int obs_readlink(void *priv, const char *path, char *buf, size_t size)
{
	struct obs *o = priv;
	struct astro_obs_image img;
	struct where w;
	int rc;

	assert(priv);
	rc = resolve(o, path, &w);
	if (rc < 0)
		return rc;
	if (w.node != N_LATEST)
		return -EINVAL;
	rc = astro_obs_store_latest_image(o->store, w.site->key, &img);
	if (rc < 0)
		return rc;
	astro_strlcpy(buf, img.name, size);
	return 0;
}

static void handle_free(struct handle *h)
{
	if (!h)
		return;
	if (h->fd >= 0)
		close(h->fd);
	if (h->node == N_COMMAND) {
		pthread_mutex_destroy(&h->lock);
		astro_obs_store_batch_free(&h->batch);
	}
	free(h->buf);
	free(h->pending);
	free(h);
}

static int obs_open(void *priv, const char *path, int flags, struct astro_file *f)
{
	struct obs *o = priv;
	struct handle *h;
	struct where w;
	int rc;

	assert(priv);
	rc = resolve(o, path, &w);
	if (rc < 0)
		return rc;
	if (w.node == N_ROOT || w.node == N_SITE || w.node == N_JOBS || w.node == N_IMAGES)
		return -EISDIR;
	if (w.node != N_COMMAND && (flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->node = w.node;
	h->fd = -1;
	h->site = w.site;
	switch (w.node) {
	case N_COMMAND:
		pthread_mutex_init(&h->lock, NULL);
		astro_obs_store_batch_init(&h->batch, astro_obs_store_max_pending(o->store));
		f->direct_io = 1;
		f->nonseekable = 1;
		break;
	case N_IMAGE:
	case N_LATEST: {
		struct astro_obs_image img;

		if (w.node == N_LATEST) {
			rc = astro_obs_store_latest_image(o->store, w.site->key, &img);
			if (rc < 0)
				goto fail;
			astro_strlcpy(w.leaf, img.name, sizeof(w.leaf));
		}
		rc = astro_obs_store_image_open(o->store, w.site->key, w.leaf);
		if (rc < 0)
			goto fail;
		h->fd = rc;
		f->keep_cache = 1;	/* images never change under a name */
		break;
	}
	case N_SITES:
	case N_STATUS:
		rc = current(o, &w, &h->buf, &h->len, &h->mtime);
		if (rc < 0)
			goto fail;
		/* The kernel's size may be a second older than this version. */
		f->direct_io = 1;
		break;
	default:
		if (w.node == N_JOB)
			astro_obs_store_expire(o->store, w.site->key);
		h->buf = render(o, &w, &rc);
		if (!h->buf)
			goto fail;
		h->len = strlen(h->buf);
		/* Job records and ages change between opens: read to EOF. */
		f->direct_io = 1;
		break;
	}
	f->handle = h;
	return 0;
fail:
	handle_free(h);
	return rc;
}

/* Append text to the unread replies of a command handle. */
static int add_reply(struct handle *h, const char *txt)
{
	size_t n = strlen(txt);
	char *nb;

	/* Drop what was read so the buffer does not grow without bound. */
	if (h->pos) {
		memmove(h->buf, h->buf + h->pos, h->len - h->pos);
		h->len -= h->pos;
		h->pos = 0;
	}
	nb = realloc(h->buf, h->len + n + 1);
	if (!nb)
		return -ENOMEM;
	memcpy(nb + h->len, txt, n + 1);
	h->buf = nb;
	h->len += n;
	return 0;
}

/*
 * The end of a write(2): queue what its pieces carried, all or none, with
 * the replies on the handle.  with_pending: a last line without its newline
 * belongs to it too (read, close).
 */
static int finish_write(struct obs *o, struct handle *h, bool with_pending)
{
	struct astro_buf r = { 0 };
	int rc = 0;

	if (with_pending && h->plen) {
		rc = astro_obs_store_batch_add(&h->batch, h->pending, h->plen);
		h->plen = 0;
	}
	h->in_write = false;
	if (rc == -ENOMEM)
		astro_obs_store_batch_reset(&h->batch);
	else
		rc = astro_obs_store_batch_commit(o->store, h->site->key, &h->batch, &r);
	if (r.len) {
		h->asked = true;
		if (add_reply(h, r.p) < 0 && rc >= 0)
			rc = -ENOMEM;
	}
	if (r.err && rc >= 0)
		rc = r.err;
	free(r.p);
	return rc < 0 ? rc : 0;
}

/* Keep an unterminated last line for the next piece; it may not outgrow a
 * command line (the parser then names it too long). */
static int keep_pending(struct handle *h, const char *p, size_t n)
{
	char *np;

	if (n == 0)
		return 0;
	if (h->plen + n > ASTRO_OBS_LINE_MAX + 1) {
		char line[ASTRO_OBS_LINE_MAX + 1];
		size_t have = h->plen < sizeof(line) ? h->plen : sizeof(line);

		memcpy(line, h->pending, have);
		memcpy(line + have, p, sizeof(line) - have);
		h->plen = 0;
		return astro_obs_store_batch_add(&h->batch, line, sizeof(line));
	}
	np = realloc(h->pending, h->plen + n);
	if (!np)
		return -ENOMEM;
	memcpy(np + h->plen, p, n);
	h->pending = np;
	h->plen += n;
	return 0;
}

/*
 * One piece of a write(2) (see prov_obs.h for what "one write" is): its
 * complete lines are parsed into the handle's batch; the batch is queued
 * when the write(2) has ended, i.e. at a piece that does not fill a request.
 */
static int obs_write(void *priv, const char *path, struct astro_file *f,
		     const char *buf, size_t size, off_t off)
{
	struct obs *o = priv;
	struct handle *h = f->handle;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	const char *last;
	bool first, more;
	int rc = 0;

	assert(priv);
	(void)path;
	(void)off;	/* a transaction file appends */
	if (!h || h->node != N_COMMAND)
		return -EACCES;
	if (size > INT32_MAX)
		return -EFBIG;
	if (size == 0)
		return 0;
	pthread_mutex_lock(&h->lock);
	if (h->refused) {
		/* The rest of a write refused after its first piece (the
		 * kernel made that a short write; the caller retries it). */
		rc = h->refused;
		h->refused = 0;
		goto out;
	}
	first = !h->in_write;
	if (first && h->len - h->pos > ASTRO_OBS_REPLY_MAX) {
		rc = -ENOBUFS;	/* read the replies first */
		goto out;
	}
	more = size + page > ASTRO_WRITE_PIECE;
	last = memrchr(buf, '\n', size);
	if (!last) {
		rc = keep_pending(h, buf, size);
	} else {
		size_t head = (size_t)(last - buf) + 1;

		if (h->plen) {
			/* The kept line ends in this piece. */
			const char *nl = memchr(buf, '\n', size);

			rc = keep_pending(h, buf, (size_t)(nl - buf));
			if (rc == 0 && h->plen)
				rc = astro_obs_store_batch_add(&h->batch, h->pending, h->plen);
			h->plen = 0;
			if (rc == 0)
				rc = astro_obs_store_batch_add(&h->batch, nl + 1, head - (size_t)(nl + 1 - buf));
		} else {
			rc = astro_obs_store_batch_add(&h->batch, buf, head);
		}
		if (rc == 0)
			rc = keep_pending(h, buf + head, size - head);
	}
	if (rc == 0 && more) {
		h->in_write = true;
		rc = (int)size;
		goto out;
	}
	if (rc < 0) {
		/* Refused: nothing of this write is queued; say why. */
		h->plen = 0;
		if (!h->batch.rc)
			astro_obs_store_batch_reset(&h->batch);	/* ENOMEM: no reason to give */
		finish_write(o, h, false);
	} else {
		rc = finish_write(o, h, false);
	}
	if (rc < 0 && !first)
		h->refused = rc;
	if (rc == 0)
		rc = (int)size;
out:
	pthread_mutex_unlock(&h->lock);
	return rc;
}

static int obs_read(void *priv, const char *path, struct astro_file *f,
		    char *buf, size_t size, off_t off)
{
	struct obs *o = priv;
	struct handle *h = f->handle;
	size_t n;
	int rc = 0;

	assert(priv);
	(void)path;
	if (!h)
		return -EBADF;
	if (h->fd >= 0) {
		ssize_t r = pread(h->fd, buf, size, off);

		return r < 0 ? -errno : (int)r;
	}
	if ((h->node == N_SITES || h->node == N_STATUS) && off == 0) {
		/* Reading from the start again (tail after a truncation,
		 * less reloading): the current version.  Elsewhere the
		 * handle's own, so one read to EOF is one version. */
		struct where w = { .node = h->node, .site = h->site };
		char *t;
		size_t len;
		int64_t mtime;

		if (current(o, &w, &t, &len, &mtime) == 0) {
			free(h->buf);
			h->buf = t;
			h->len = len;
			h->mtime = mtime;
		}
	}
	if (h->node != N_COMMAND) {
		if (off < 0 || (size_t)off >= h->len)
			return 0;
		n = h->len - (size_t)off;
		n = n < size ? n : size;
		memcpy(buf, h->buf + off, n);
		return (int)n;
	}
	/* The command file: the offset means nothing; a cursor does.  A
	 * read ends a write whose last piece filled a request. */
	pthread_mutex_lock(&h->lock);
	h->refused = 0;
	if (h->in_write || h->plen)
		finish_write(o, h, true);
	if (!h->asked) {
		static const char hint[] = "# write commands here, read replies on the same open file; see ../README\n";

		h->asked = true;
		add_reply(h, hint);
	}
	n = h->len - h->pos;
	n = n < size ? n : size;
	if (n)
		memcpy(buf, h->buf + h->pos, n);
	h->pos += n;
	rc = (int)n;
	pthread_mutex_unlock(&h->lock);
	return rc;
}

static int obs_truncate(void *priv, const char *path, struct astro_file *f, off_t size)
{
	struct obs *o = priv;
	struct where w;
	int rc;

	assert(priv);
	rc = resolve(o, path, &w);
	(void)f;
	if (rc < 0)
		return rc;
	if (w.node != N_COMMAND)
		return -EACCES;
	return size == 0 ? 0 : -EINVAL;	/* O_TRUNC is harmless; nothing to cut */
}

/*
 * close(2): queue an unterminated last line now, so a refusal reaches the
 * caller as close()'s EINVAL (e.g. `printf 'park' > command` fails loudly).
 */
static int obs_flush(void *priv, const char *path, struct astro_file *f)
{
	struct obs *o = priv;
	struct handle *h = f->handle;
	int rc = 0;

	assert(priv);
	(void)path;
	if (!h || h->node != N_COMMAND)
		return 0;
	pthread_mutex_lock(&h->lock);
	if (h->in_write || h->plen)
		rc = finish_write(o, h, true);
	pthread_mutex_unlock(&h->lock);
	return rc < 0 ? rc : 0;
}

static int obs_release(void *priv, const char *path, struct astro_file *f)
{
	struct obs *o = priv;
	struct handle *h = f->handle;

	assert(priv);
	(void)path;
	if (h && h->node == N_COMMAND && (h->in_write || h->plen)) {
		/* Only without a flush (unit tests calling release directly):
		 * queue the unterminated last line; a refusal can only be logged. */
		if (finish_write(o, h, true) < 0)
			astro_warn("obs: %s: last line without newline refused at close: %s",
				   h->site->key, h->buf ? h->buf + h->pos : "");
	}
	handle_free(h);
	f->handle = NULL;
	return 0;
}

static void obs_destroy(void *priv)
{
	struct obs *o = priv;

	if (!o)
		return;
	astro_obs_store_close(o->store);
	if (o->status_v)
		for (size_t i = 0; i < o->sites.n; i++)
			free(o->status_v[i].text);
	free(o->status_v);
	free(o->sites_v.text);
	pthread_mutex_destroy(&o->vlock);
	astro_obs_sites_free(&o->sites);
	free(o->store_dir);
	free(o);
}

static int obs_init(const struct astro_ctx *ctx, void **priv)
{
	struct obs *o = calloc(1, sizeof(*o));
	const struct astro_config *cfg = ctx ? ctx->cfg : NULL;
	char err[512];
	size_t i;
	int rc;

	if (!o)
		return -ENOMEM;
	pthread_mutex_init(&o->vlock, NULL);
	o->aging_after_s = ASTRO_OBS_AGING_AFTER_S;
	o->stale_after_s = ASTRO_OBS_STALE_AFTER_S;
	if (cfg && cfg->obs_config) {
		rc = astro_obs_sites_load(cfg->obs_config, &o->sites, err, sizeof(err));
		if (rc < 0) {
			astro_err("obs: %s", err);
			goto fail;
		}
		for (i = 0; i < o->sites.n; i++) {
			if (strcmp(o->sites.v[i].key, "sites") == 0 ||
			    strcmp(o->sites.v[i].key, "README") == 0) {
				astro_err("obs: %s: site key '%s' clashes with a file of /obs",
					  cfg->obs_config, o->sites.v[i].key);
				rc = -EINVAL;
				goto fail;
			}
		}
	}
	if (o->sites.n && !(o->status_v = calloc(o->sites.n, sizeof(*o->status_v)))) {
		rc = -ENOMEM;
		goto fail;
	}
	if (cfg && cfg->obs_store)
		o->store_dir = strdup(cfg->obs_store);
	else if ((rc = astro_config_obs_store_default(&o->store_dir)) < 0)
		goto fail;
	if (!o->store_dir) {
		rc = cfg && cfg->obs_store ? -ENOMEM : -ENOENT;
		goto fail;
	}
	/* Without sites there is nothing to store; do not create a store
	 * directory for a mount that does not use /obs. */
	if (o->sites.n && cfg && cfg->obs_backend && strcmp(cfg->obs_backend, "aws") == 0) {
		const struct astro_obs_aws_opts ao = {
			.region = cfg->obs_aws_region, .sqs_endpoint = cfg->obs_sqs_endpoint,
			.dynamodb_endpoint = cfg->obs_dynamodb_endpoint,
			.s3_endpoint = cfg->obs_s3_endpoint, .prefix = cfg->obs_sqs_prefix,
			.table = cfg->obs_table, .bucket = cfg->obs_bucket,
			.layout = cfg->obs_aws_layout,
			.credentials = cfg->obs_aws_credentials,
			.credentials_source = cfg->s3_credentials_source,
			.timeout_ms = cfg->timeout ? cfg->timeout * 1000u : 0,
		};

		rc = astro_obs_aws_open(&ao, &o->store, err, sizeof(err));
		if (rc < 0) {
			astro_err("obs: aws store: %s", err);
			goto fail;
		}
	} else if (o->sites.n) {
		rc = astro_obs_local_open(o->store_dir, &o->store);
		if (rc < 0) {
			astro_err("obs: store %s: %s", o->store_dir, strerror(-rc));
			goto fail;
		}
	}
	if (o->store && cfg)
		astro_obs_store_set_max_pending(o->store, cfg->obs_max_pending);
	*priv = o;
	return 0;
fail:
	obs_destroy(o);
	return rc;
}

const struct astro_provider astro_prov_obs = {
	.name = "obs",
	.init = obs_init,
	.destroy = obs_destroy,
	.getattr = obs_getattr,
	.readdir = obs_readdir,
	.open = obs_open,
	.read = obs_read,
	.write = obs_write,
	.truncate = obs_truncate,
	.flush = obs_flush,
	.release = obs_release,
	.readlink = obs_readlink,
};

/*
 * prov_fits.c — /fits: FITS headers, an HDU index and the raw object from
 * S3 buckets, Azure Blob containers and plain HTTP(S) sources, by ranged
 * reads only.
 *
 *   /fits/                          the fits_buckets and fits_azure names
 *   /fits/<src>/[<prefix>/...]      S3 or Azure (fits_azure NAME, its own
 *                                   client: client_for()): common prefixes
 *                                   and FITS objects as directories; HTTP
 *                                   (fits_http NAME): by name only (any
 *                                   name is a directory)
 *   /fits/<src>/<key>/headers/N     header N as cards, one per line
 *   /fits/<src>/<key>/hdus.csv      the HDU index
 *   /fits/<src>/<key>/raw           the object, exact size, read by ranges
 *
 * The first path component whose name ends in .fits .fit .fts .fz (any
 * case; .fits.fz included) is the object; the rest names a file in it.
 *
 * State: listings and object versions (size, ETag or Last-Modified) are
 * held in memory for fits_ttl (10 s by default), so `ls -l` of a prefix
 * costs only its LIST pages and a
 * re-read within the TTL costs nothing.  Walk states (the walked HDUs'
 * cards and where the walk stands) live in memory per object and in LMDB
 * (database "fits") under "w1|<src>|<key>|<validator>|<size>": a new
 * version is a new key, so a replaced object is walked again, never
 * patched.  Every GET made for a walked object carries If-Match (S3) or is
 * checked against the validator (HTTP); a 412 or a changed validator drops
 * the state and walks again once.  "v1|<src>|<key>" records the last
 * version walked here ("SIZE VALIDATOR"): with it a HEAD confirms the
 * version (the walk is in LMDB); without it the first 64 KiB are asked for
 * instead, seeding the walk.  Offline, that record names the version to
 * serve, unconfirmed; listings are not kept, so directories cannot be
 * listed offline, only walked objects reached by path.
 *
 * Locking: priv->lock guards the listing and object tables; each object
 * has its own lock held across its walks (walks of one object are serial:
 * offsets chain), different objects proceed in parallel.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "core/astro.h"
#include "fits_walk.h"
#include "core/log.h"
#include "core/provider.h"
#include "core/services.h"
#include "services/azblob.h"
#include "services/s3.h"
#include "services/shared.h"
#include "services/sigv4.h"
#include "core/stats.h"
#include "core/op.h"

#define DB "fits"
#define RAW_WINDOW (1u << 20)	/* read-ahead for raw: one GET per MiB at most */
#define MAX_OBJS 4096
/* One directory listing holds at most this many names (FITS objects and
 * common prefixes; astrofs(8)); the rest are left out, logged, and lookups
 * by name then ask upstream instead of trusting the listing. */
#define LIST_MAX 100000
#define NAME_MAX_BYTES 255	/* longer names cannot be a directory entry */
#define FIRST_READ 65536u	/* the walker's first read (fits.md §2) */		/* in-memory object states kept at most */

struct hsrc {
	char *name;
	char *url;
};

/* An Azure container (fits_azure NAME): its own client, the container
 * passed as the bucket. */
struct azsrc {
	char *name;
	char *container;
	struct astro_s3 *cli;
};

struct entry {
	char *name;
	int is_obj;
	struct astro_s3_info info;
};

struct listing {
	char *bucket;
	char *prefix;		/* "" or "dir/sub/" */
	int64_t fetched_ms;
	int rc;			/* the LIST's result */
	int probe;		/* only an existence probe: the first page
				 * said more keys follow */
	int partial;		/* LIST_MAX reached: names are missing */
	size_t any;		/* keys and prefixes seen (not only FITS) */
	struct entry *e;
	size_t n;
	struct listing *next;
};

struct fobj {
	char *src;		/* bucket or HTTP source name */
	char *key;
	char *url;		/* HTTP sources */
	pthread_mutex_t lock;
	struct astro_s3_info info;
	int64_t checked_ms;	/* when info was last confirmed upstream */
	struct astro_fits_walk *w;
	char walked_for[160];	/* validator the walk state belongs to */
	char *pre;		/* bytes [0, pre_len) of the current version, read
				 * when its version was learnt; the walk's first
				 * read takes them instead of a GET */
	size_t pre_len;
	int64_t pre_ra_ms;	/* when raw read-ahead fetched pre (0: it did not) */
	char opened[160];	/* validator at the last open (keep_cache) */
	int refs;
	struct fobj *next;
};

struct fits_priv {
	const struct astro_config *cfg;
	struct astro_cache *cache;
	struct astro_s3 *s3;
	int s3_borrowed;	/* from astro_services: not ours to free */
	struct astro_shared *shared;	/* the fleet tier, or NULL */
	pthread_mutex_t lock;
	struct listing *lists;
	struct fobj *objs;
	size_t nobjs;
	char **buckets;
	size_t nbuckets;
	struct hsrc *http;
	size_t nhttp;
	struct azsrc *az;
	size_t naz;
	int64_t ttl_ms;
	/* Read-ahead over siblings (see readahead_note), under lock. */
	char ra_bucket[256], ra_prefix[4096];
	size_t ra_last;		/* listing index of the last cold walk */
	unsigned ra_run;	/* consecutive siblings walked cold */
	size_t ra_upto;		/* siblings scheduled up to (exclusive) */
	int ra_raw;		/* the run opens raw files, not headers */
	unsigned ra_active;	/* jobs running */
	pthread_cond_t ra_idle;
	size_t ra_held;		/* bytes of raw windows read ahead, not yet
				 * opened (atomic: freed under any lock) */
	size_t ra_budget;	/* ... at most this many (RA_RAW_BUDGET) */
	int64_t ra_stale_ms;	/* unopened this long: abandoned (RA_RAW_STALE_MS) */
};

enum fdepth { D_ROOT, D_SRC, D_PREFIX, D_OBJ, D_HEADERS, D_HEADER, D_CSV, D_RAW };

struct fpath {
	enum fdepth d;
	char src[256];
	const struct hsrc *http;
	char key[4096];		/* object key, or prefix without trailing '/' */
	uint32_t n;		/* headers/N */
	char extname[72];	/* headers/EXTNAME[,EXTVER] alias, or "" */
	int64_t extver;		/* 0: any */
};

struct fhandle {
	char *data;		/* headers/N and hdus.csv */
	size_t len;
	struct fobj *o;		/* raw */
	char validator[160];
	uint64_t size;
	pthread_mutex_t lock;
	char *win;
	size_t win_cap;		/* bytes allocated at win */
	uint64_t win_off;
	size_t win_len;
};

static int is_fits_name(const char *s, size_t n)
{
	static const char *const ext[] = { ".fits", ".fit", ".fts", ".fz" };

	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(ext); i++) {
		size_t el = strlen(ext[i]);

		if (n > el && strncasecmp(s + n - el, ext[i], el) == 0)
			return 1;
	}
	return 0;
}

static const struct hsrc *find_http(const struct fits_priv *p, const char *name)
{
	for (size_t i = 0; i < p->nhttp; i++)
		if (strcmp(p->http[i].name, name) == 0)
			return &p->http[i];
	return NULL;
}

/*
 * The object client and bucket of a source: an Azure source's own client
 * and container, else the S3 client and the source name itself.  NULL
 * when there is none (offline).
 */
static struct astro_s3 *client_for(const struct fits_priv *p, const char *src,
				   const char **bucket)
{
	for (size_t i = 0; i < p->naz; i++) {
		if (strcmp(p->az[i].name, src) == 0) {
			*bucket = p->az[i].container;
			return p->az[i].cli;
		}
	}
	*bucket = src;
	return p->s3;
}

/*
 * headers/EXTNAME or headers/EXTNAME,EXTVER: JWST's extension order is not
 * fixed, so a header is also reachable by name (not listed; matched
 * case-insensitively as astropy does; without EXTVER the first one).
 */
static int parse_alias(const char *s, struct fpath *fp)
{
	size_t n = strcspn(s, ",");
	char *end;

	if (n == 0 || n >= sizeof(fp->extname))
		return -ENOENT;
	memcpy(fp->extname, s, n);
	fp->extname[n] = '\0';
	fp->extver = 0;
	if (s[n] == ',') {
		if (s[n + 1] < '1' || s[n + 1] > '9')
			return -ENOENT;
		errno = 0;
		fp->extver = strtoll(s + n + 1, &end, 10);
		if (errno || *end)
			return -ENOENT;
	}
	fp->d = D_HEADER;
	return 0;
}

static int parse_path(const struct fits_priv *p, const char *path, struct fpath *fp)
{
	const char *s = path, *slash, *c;
	size_t len;

	memset(fp, 0, sizeof(*fp));
	if (!*path)
		return 0;
	slash = strchr(s, '/');
	len = slash ? (size_t)(slash - s) : strlen(s);
	if (len >= sizeof(fp->src))
		return -ENAMETOOLONG;
	memcpy(fp->src, s, len);
	fp->http = find_http(p, fp->src);
	fp->d = D_SRC;
	if (!slash)
		return 0;
	s = slash + 1;
	/* Find the object component. */
	for (c = s;;) {
		const char *e = strchr(c, '/');
		size_t cl = e ? (size_t)(e - c) : strlen(c);

		if (cl == 0)
			return -ENOENT;
		if (is_fits_name(c, cl)) {
			size_t kl = (size_t)(c - s) + cl;
			const char *rest = e ? e + 1 : NULL;

			if (kl >= sizeof(fp->key))
				return -ENAMETOOLONG;
			memcpy(fp->key, s, kl);
			fp->d = D_OBJ;
			if (!rest)
				return 0;
			if (strcmp(rest, "hdus.csv") == 0)
				fp->d = D_CSV;
			else if (strcmp(rest, "raw") == 0)
				fp->d = D_RAW;
			else if (strcmp(rest, "headers") == 0)
				fp->d = D_HEADERS;
			else if (strncmp(rest, "headers/", 8) == 0) {
				char *end;
				const char *num = rest + 8;
				unsigned long v;

				if (*num < '0' || *num > '9')
					return parse_alias(num, fp);
				if (num[0] == '0' && num[1])
					return -ENOENT;
				errno = 0;
				v = strtoul(num, &end, 10);
				if (errno || *end || v > UINT32_MAX)
					return -ENOENT;
				fp->n = (uint32_t)v;
				fp->d = D_HEADER;
			} else
				return -ENOENT;
			return 0;
		}
		if (!e) {
			if (strlen(s) >= sizeof(fp->key))
				return -ENAMETOOLONG;
			astro_strlcpy(fp->key, s, sizeof(fp->key));
			fp->d = D_PREFIX;
			return 0;
		}
		c = e + 1;
	}
}

/* ---- listings ---------------------------------------------------------- */

static void listing_free(struct listing *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->e[i].name);
	free(l->e);
	free(l->bucket);
	free(l->prefix);
	free(l);
}

static int listing_add(struct listing *l, const char *name, size_t nl, int is_obj,
		       const struct astro_s3_object *o, size_t *toolong)
{
	struct entry *ne;

	if (nl == 0 || memchr(name, '/', nl))
		return 0;
	if (nl > NAME_MAX_BYTES) {
		(*toolong)++;
		return 0;
	}
	if (l->n >= LIST_MAX) {
		l->partial = 1;
		return 0;
	}
	ne = realloc(l->e, (l->n + 1) * sizeof(*ne));
	if (!ne)
		return -ENOMEM;
	l->e = ne;
	ne = &l->e[l->n];
	memset(ne, 0, sizeof(*ne));
	ne->name = strndup(name, nl);
	if (!ne->name)
		return -ENOMEM;
	ne->is_obj = is_obj;
	ne->info.size = UINT64_MAX;
	if (o) {
		ne->info.size = o->size >= 0 ? (uint64_t)o->size : UINT64_MAX;
		if (o->etag)
			astro_strlcpy(ne->info.etag, o->etag, sizeof(ne->info.etag));
		ne->info.mtime = o->mtime > 0 ? o->mtime : 0;
	}
	l->n++;
	return 0;
}

/*
 * Every page of one prefix.  A probe (is there anything under it?) asks
 * for one ordinary page: the same single round trip as a max-keys=1
 * probe, and when that page is the whole prefix, as it is for most
 * directories, the probe becomes a full listing, so the objects' sizes
 * and ETags come with it (a lookup by name then needs no HEAD, and a walk
 * knows the size before its first read).
 */
static int by_name(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	/* A prefix and an object of one name: the object (its data) wins. */
	return c ? c : y->is_obj - x->is_obj;
}

/* One entry per name: pages of a misbehaving server may overlap. */
static void listing_dedup(struct listing *l)
{
	size_t i, j;

	if (l->n < 2)
		return;
	qsort(l->e, l->n, sizeof(*l->e), by_name);
	for (i = 1, j = 0; i < l->n; i++) {
		if (strcmp(l->e[i].name, l->e[j].name) == 0)
			free(l->e[i].name);
		else
			l->e[++j] = l->e[i];
	}
	l->n = j + 1;
}

static int list_fetch(struct fits_priv *p, struct listing *l)
{
	char *token = NULL, what[300];
	size_t pl = strlen(l->prefix), toolong = 0;
	struct astro_s3_pager pg;
	const char *bucket;
	struct astro_s3 *cli = client_for(p, l->bucket, &bucket);
	int rc = 0, more;

	if (!cli)
		return -EIO;
	snprintf(what, sizeof(what), "LIST s3://%s/%s", l->bucket, l->prefix);
	/* One deadline for every page: `timeout` bounds the whole listing. */
	astro_s3_pager_init(&pg, astro_mono_ms() + (int64_t)p->cfg->timeout * 1000);
	do {
		struct astro_s3_list r;

		rc = astro_s3_list(cli, bucket, l->prefix, "/", token, 0, &r);
		free(token);
		token = NULL;
		if (rc)
			break;
		astro_stats_inc("fits.list_pages");
		l->any += r.nprefixes + r.nobjects;
		for (size_t i = 0; i < r.nprefixes && !rc; i++) {
			const char *s = r.prefixes[i];
			size_t n = strlen(s);

			if (n > pl && strncmp(s, l->prefix, pl) == 0)
				rc = listing_add(l, s + pl, n - pl - (s[n - 1] == '/'), 0, NULL,
						 &toolong);
		}
		for (size_t i = 0; i < r.nobjects && !rc; i++) {
			const char *k = r.objects[i].key;
			size_t n = strlen(k);

			if (n > pl && strncmp(k, l->prefix, pl) == 0 && is_fits_name(k + pl, n - pl))
				rc = listing_add(l, k + pl, n - pl, 1, &r.objects[i], &toolong);
		}
		more = rc ? rc : astro_s3_pager_next(&pg, &r, what);
		if (more < 0) {
			rc = more;
		} else if (more && !l->probe) {
			token = strdup(r.next_token);
			if (!token)
				rc = -ENOMEM;
		} else if (!more) {
			l->probe = 0;	/* complete: as good as a full listing */
		}
		astro_s3xml_list_free(&r);
	} while (!rc && token);
	free(token);
	astro_s3_pager_free(&pg);
	if (toolong)
		astro_warn("fits: %s: %zu names longer than %d bytes not listed", what, toolong,
			   NAME_MAX_BYTES);
	if (l->partial)
		astro_warn("fits: %s: more than %d names; only the first %d are listed", what,
			   LIST_MAX, LIST_MAX);
	listing_dedup(l);
	return rc;
}

/*
 * A fresh listing of bucket/prefix (a full one unless probe), fetched when
 * missing or stale.  Returns it with priv->lock held (caller unlocks), or
 * NULL with the error in *rc.  A probe request is satisfied by a full one.
 */
static struct listing *listing_get(struct fits_priv *p, const char *bucket, const char *prefix,
				   int probe, int *rc)
{
	struct listing *l, **pp, *nl;
	int64_t now = astro_mono_ms();

	pthread_mutex_lock(&p->lock);
	for (pp = &p->lists; (l = *pp);) {
		int same = strcmp(l->bucket, bucket) == 0 && strcmp(l->prefix, prefix) == 0;

		if (now - l->fetched_ms < p->ttl_ms) {
			if (same && (probe || !l->probe)) {
				*rc = l->rc;
				return l;
			}
			pp = &l->next;
			continue;
		}
		/* Stale listings go as soon as anyone looks: memory stays bounded
		 * by what was listed within one TTL. */
		*pp = l->next;
		listing_free(l);
	}
	pthread_mutex_unlock(&p->lock);

	nl = calloc(1, sizeof(*nl));
	if (!nl || !(nl->bucket = strdup(bucket)) || !(nl->prefix = strdup(prefix))) {
		listing_free(nl);
		*rc = -ENOMEM;
		pthread_mutex_lock(&p->lock);
		return NULL;
	}
	nl->probe = probe;
	nl->rc = list_fetch(p, nl);
	nl->fetched_ms = astro_mono_ms();
	pthread_mutex_lock(&p->lock);
	/* Errors are remembered for the TTL too, except transient ones; an
	 * interrupt (Ctrl-C on ls) is its caller's, not the prefix's. */
	if (nl->rc == -EIO || nl->rc == -ETIMEDOUT || nl->rc == -ENOMEM || nl->rc == -EINTR) {
		*rc = nl->rc;
		listing_free(nl);
		return NULL;
	}
	nl->next = p->lists;
	p->lists = nl;
	*rc = nl->rc;
	return nl;
}

static const struct entry *listing_find(const struct listing *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->e[i].name, name) == 0)
			return &l->e[i];
	return NULL;
}

/* Split "a/b/c" into the listing prefix "a/b/" and the name "c". */
static void split_key(const char *key, char *prefix, size_t pn, const char **name)
{
	const char *slash = strrchr(key, '/');

	if (!slash) {
		prefix[0] = '\0';
		*name = key;
		return;
	}
	snprintf(prefix, pn, "%.*s", (int)(slash - key + 1), key);
	*name = slash + 1;
}

/* What the parent listing (if cached and fresh) says about key; no request. */
static int peek_parent(struct fits_priv *p, const char *bucket, const char *key, int want_obj,
		       struct astro_s3_info *info)
{
	char prefix[4096];
	const char *name;
	int64_t now = astro_mono_ms();
	int found = 0;

	split_key(key, prefix, sizeof(prefix), &name);
	pthread_mutex_lock(&p->lock);
	for (struct listing *l = p->lists; l; l = l->next) {
		const struct entry *e;

		if (l->probe || l->partial || strcmp(l->bucket, bucket) || strcmp(l->prefix, prefix) ||
		    now - l->fetched_ms >= p->ttl_ms || l->rc)
			continue;
		e = listing_find(l, name);
		found = e && e->is_obj == want_obj ? 1 : -1;
		if (found > 0 && info)
			*info = e->info;
		break;
	}
	pthread_mutex_unlock(&p->lock);
	return found;
}

/* ---- objects ----------------------------------------------------------- */

static const char *validator(const struct astro_s3_info *i)
{
	return i->etag[0] ? i->etag : i->last_modified;
}

/* The pre bytes leave the read-ahead budget (freed, or taken by an open). */
static void fobj_pre_unbudget(struct fits_priv *p, struct fobj *o)
{
	if (!o->pre_ra_ms)
		return;
	__atomic_sub_fetch(&p->ra_held, o->pre_len, __ATOMIC_RELAXED);
	astro_stats_add("fits.readahead_bytes", -(int64_t)o->pre_len);
	o->pre_ra_ms = 0;
}

/* Forget the pre bytes (o->lock held, or o unreachable). */
static void fobj_drop_pre(struct fits_priv *p, struct fobj *o)
{
	fobj_pre_unbudget(p, o);
	free(o->pre);
	o->pre = NULL;
	o->pre_len = 0;
}

static void fobj_drop_walk(struct fobj *o)
{
	astro_fits_walk_free(o->w);
	o->w = NULL;
	o->walked_for[0] = '\0';
}

static void fobj_free(struct fits_priv *p, struct fobj *o)
{
	fobj_drop_walk(o);
	fobj_drop_pre(p, o);
	pthread_mutex_destroy(&o->lock);
	free(o->src);
	free(o->key);
	free(o->url);
	free(o);
}

/* Find or create the object state; takes a reference. */
static int fobj_get(struct fits_priv *p, const struct fpath *fp, struct fobj **out)
{
	struct fobj *o, **pp;

	pthread_mutex_lock(&p->lock);
	for (o = p->objs; o; o = o->next)
		if (strcmp(o->src, fp->src) == 0 && strcmp(o->key, fp->key) == 0)
			break;
	if (!o) {
		/* Bound memory: forget idle states (their walks stay in LMDB). */
		if (p->nobjs >= MAX_OBJS) {
			for (pp = &p->objs; *pp;) {
				struct fobj *x = *pp;

				if (x->refs == 0) {
					*pp = x->next;
					fobj_free(p, x);
					p->nobjs--;
				} else {
					pp = &x->next;
				}
			}
		}
		o = calloc(1, sizeof(*o));
		if (!o || !(o->src = strdup(fp->src)) || !(o->key = strdup(fp->key)) ||
		    (fp->http && !(o->url = astro_s3_http_url(fp->http->url, fp->key)))) {
			if (o) {
				free(o->src);
				free(o->key);
				free(o);
			}
			pthread_mutex_unlock(&p->lock);
			return -ENOMEM;
		}
		pthread_mutex_init(&o->lock, NULL);
		o->info.size = UINT64_MAX;
		o->next = p->objs;
		p->objs = o;
		p->nobjs++;
	}
	o->refs++;
	pthread_mutex_unlock(&p->lock);
	*out = o;
	return 0;
}

static void fobj_put(struct fits_priv *p, struct fobj *o)
{
	pthread_mutex_lock(&p->lock);
	o->refs--;
	pthread_mutex_unlock(&p->lock);
}

static unsigned timeout_ms(const struct fits_priv *p)
{
	return p->cfg->timeout * 1000u;
}

/* LMDB key of the last version of an object walked on this host. */
static size_t seen_key(const struct fobj *o, char *k, size_t n)
{
	int len = snprintf(k, n, "v1|%s|%s", o->src, o->key);

	return len < 0 ? 0 : (size_t)len < n ? (size_t)len : n - 1;
}

/*
 * Learn the object's version.  When a walk of it may be in LMDB (it was
 * walked here before), a HEAD is enough; otherwise the first 64 KiB are
 * asked for instead: the same round trip gives size and ETag (Content-
 * Range) and the walk's first read, so a cold header costs one request.
 */
static int version_fetch(struct fits_priv *p, struct fobj *o, struct astro_s3_info *info)
{
	struct astro_cache_meta m;
	char k[4400], *pre = NULL, *rec = NULL;
	size_t kl = seen_key(o, k, sizeof(k)), got = 0;
	int seen = p->cache && astro_cache_get(p->cache, DB, k, kl, &m, (void **)&rec) == 0, rc;
	const char *bucket;
	struct astro_s3 *cli = client_for(p, o->src, &bucket);

	if (p->cfg->offline) {
		/* Serve the version last walked here ("SIZE VALIDATOR"), unconfirmed. */
		char v[200], *end = NULL;

		rc = -EIO;
		if (seen && m.len < sizeof(v)) {
			memcpy(v, rec, m.len);	/* entries are not NUL-terminated */
			v[m.len] = '\0';
			memset(info, 0, sizeof(*info));
			info->size = strtoull(v, &end, 10);
			if (end != v && *end == ' ') {
				astro_strlcpy(info->etag, end + 1, sizeof(info->etag));
				rc = 0;
			}
		}
		free(rec);
		if (rc)
			astro_notice("fits: %s/%s is not cached and the mount is offline", o->src, o->key);
		return rc;
	}
	free(rec);
	if (!o->url && !cli)
		return -EIO;
	/* Walked elsewhere in the fleet, perhaps: learn the version by HEAD
	 * and look for its index before reading any byte of the object. */
	if (seen || (p->shared && astro_shared_usable(p->shared))) {
		astro_stats_inc("fits.heads");
		return o->url ? astro_s3_http_head(o->url, timeout_ms(p), info) :
				astro_s3_head(cli, bucket, o->key, info);
	}
	pre = malloc(FIRST_READ);
	if (!pre)
		return -ENOMEM;
	astro_stats_inc("fits.gets");
	if (o->url)
		rc = astro_s3_http_get_range(o->url, 0, FIRST_READ, NULL, timeout_ms(p), pre, &got, info);
	else
		rc = astro_s3_get_range(cli, bucket, o->key, 0, FIRST_READ, NULL, pre, &got, info);
	fobj_drop_pre(p, o);
	if (rc == 0 && got > 0) {
		o->pre = pre;
		o->pre_len = got;
	} else {
		free(pre);
	}
	return rc;
}

/* Confirm the object's version upstream unless confirmed within the TTL
 * (o->lock held).  force: ask upstream whatever the TTL says. */
static int fobj_refresh(struct fits_priv *p, struct fobj *o, int force)
{
	struct astro_s3_info info;
	int64_t now = astro_mono_ms();
	int rc, fetched = 0;

	ASTRO_ASSERT_LOCKED(&o->lock);
	if (!force && o->checked_ms && now - o->checked_ms < p->ttl_ms)
		return 0;
	if (!force && !o->url && peek_parent(p, o->src, o->key, 1, &info) > 0 &&
	    info.size != UINT64_MAX) {
		rc = 0;
	} else {
		rc = version_fetch(p, o, &info);
		fetched = 1;
	}
	if (rc)
		return rc;
	if (info.size == UINT64_MAX) {
		astro_warn("fits: %s/%s: the server gives no object size", o->src, o->key);
		return -EIO;
	}
	if (strcmp(validator(&info), validator(&o->info)) != 0 || info.size != o->info.size) {
		if (o->w)
			astro_notice("fits: %s/%s changed upstream (%s -> %s); walking it again",
				     o->src, o->key, o->walked_for, validator(&info));
		fobj_drop_walk(o);
		if (!fetched)
			fobj_drop_pre(p, o);	/* bytes of the old version */
	}
	o->info = info;
	o->checked_ms = now;
	return 0;
}

static void walk_key(const struct fobj *o, char *k, size_t n, size_t *kl)
{
	int len = snprintf(k, n, "w1|%s|%s|%s|%" PRIu64, o->src, o->key, validator(&o->info),
			   o->info.size);

	*kl = len < 0 ? 0 : (size_t)len < n ? (size_t)len : n - 1;
}

static void readahead_note(struct fits_priv *p, const struct fobj *o, int raw);
static int obj_ready(struct fits_priv *p, struct fpath *fp, struct fobj **out);
static void obj_done(struct fits_priv *p, struct fobj *o);

/* The fleet tier's key for a walk: fits/v1/<SHA-256 of the LMDB key>. */
static int shared_walk_key(const char *k, size_t kl, char hex[65], char key[80])
{
	if (astro_sigv4_sha256_hex(k, kl, hex) < 0)
		return -EIO;
	memcpy(key, "fits/v1/", 8);
	memcpy(key + 8, hex, 65);
	return 0;
}

static void shared_walk_put(struct fits_priv *p, const char *k, size_t kl, const void *blob,
			    size_t len)
{
	struct astro_shared_env e = { .kind = "fits-index", .fetched_ms = astro_now_ms(), .final = 1 };
	char key[80], hex[65], *obj = NULL;
	size_t objlen;

	if (!p->shared || shared_walk_key(k, kl, hex, key) < 0)
		return;
	memcpy(e.name, hex, sizeof(hex));
	/* Replaced as the walk grows; every version is complete as far as it goes. */
	if (astro_shared_wrap(&e, blob, len, &obj, &objlen) == 0)
		astro_shared_put(p->shared, key, obj, objlen, 0);
	free(obj);
}

/* A walk of this version from the fleet tier: malloc'd blob or NULL. */
static void *shared_walk_get(struct fits_priv *p, const char *k, size_t kl, size_t *len)
{
	struct astro_shared_env e;
	char key[80], hex[65], *obj = NULL, err[200];
	const char *b;
	size_t objlen, blen;
	void *out = NULL;

	if (!p->shared || shared_walk_key(k, kl, hex, key) < 0)
		return NULL;
	if (astro_shared_get(p->shared, key, 256u << 20, &obj, &objlen) != 0) {
		astro_stats_inc("shared.misses");
		return NULL;
	}
	if (astro_shared_unwrap(obj, objlen, "fits-index", hex, &e, &b, &blen, err, sizeof(err))) {
		astro_warn("fits: shared cache object %s refused: %s", key, err);
		astro_stats_inc("shared.corrupt");
	} else if ((out = malloc(blen ? blen : 1))) {
		memcpy(out, b, blen);
		*len = blen;
	}
	free(obj);
	return out;
}

static void walk_store(struct fits_priv *p, struct fobj *o)
{
	struct astro_cache_meta m = { .fetched_ms = astro_now_ms(), .ttl_s = -1,
				      .flags = ASTRO_CACHE_FINAL };
	char k[4500], sk[4400], rec[200];
	size_t kl, len;
	void *blob;
	int rl;

	if (!p->cache || !o->w || astro_fits_walk_serialize(o->w, &blob, &len) != 0)
		return;
	walk_key(o, k, sizeof(k), &kl);
	rl = snprintf(rec, sizeof(rec), "%" PRIu64 " %s", o->info.size, validator(&o->info));
	/* One transaction for both: each commit is two syncs of the disk,
	 * and a cold pass over many small objects stores one walk per object. */
	struct astro_cache_item items[] = {
		{ k, kl, blob, len },
		{ sk, seen_key(o, sk, sizeof(sk)), rec, (size_t)rl < sizeof(rec) ? (size_t)rl : sizeof(rec) - 1 },
	};
	astro_cache_put_many(p->cache, DB, &m, items, ASTRO_ARRAY_SIZE(items));
	shared_walk_put(p, k, kl, blob, len);
	free(blob);
}

/* A walk state for the current version: memory, else LMDB, else new. */
static int fobj_walk_state(struct fits_priv *p, struct fobj *o,
			   struct astro_fits_walk_opts *opts, char *name, size_t nn)
{
	struct astro_cache_meta m;
	char k[4500];
	size_t kl;
	void *blob = NULL;
	int rc;

	snprintf(name, nn, "%s%s/%s", o->url ? "http:" : "s3://", o->src, o->key);
	*opts = (struct astro_fits_walk_opts){
		.name = name, .first_read = FIRST_READ, .max_header = 64u << 20,
		.max_hdus = 10000, .coalesce_gap = 256u << 10, .small_tail = 1u << 20,
	};
	if (o->w)
		return 0;
	walk_key(o, k, sizeof(k), &kl);
	if (p->cache && astro_cache_get(p->cache, DB, k, kl, &m, &blob) == 0) {
		rc = astro_fits_walk_deserialize(opts, blob, m.len, &o->w);
		free(blob);
		if (rc == 0) {
			astro_strlcpy(o->walked_for, validator(&o->info), sizeof(o->walked_for));
			astro_stats_inc("fits.walk_cache_hits");
			return 0;
		}
		astro_cache_del(p->cache, DB, k, kl);
	}
	if ((blob = shared_walk_get(p, k, kl, &m.len))) {
		rc = astro_fits_walk_deserialize(opts, blob, m.len, &o->w);
		if (rc == 0) {
			struct astro_cache_meta cm = { .fetched_ms = astro_now_ms(), .ttl_s = -1,
						       .flags = ASTRO_CACHE_FINAL };

			if (p->cache)
				astro_cache_put(p->cache, DB, k, kl, &cm, blob, m.len);
			free(blob);
			astro_strlcpy(o->walked_for, validator(&o->info), sizeof(o->walked_for));
			astro_stats_inc("shared.hits");
			return 0;
		}
		free(blob);
	}
	rc = astro_fits_walk_new(opts, o->info.size, &o->w);
	if (rc == 0)
		astro_strlcpy(o->walked_for, validator(&o->info), sizeof(o->walked_for));
	return rc;
}

struct rctx {
	struct fits_priv *p;
	struct fobj *o;
};

/* One ranged GET of the object for the walk, checked against its version. */
static int walk_get(struct rctx *c, uint64_t off, size_t len, void *buf, size_t *got,
		    uint64_t *size)
{
	struct astro_s3_info info;
	const char *bucket;
	struct astro_s3 *cli = client_for(c->p, c->o->src, &bucket);
	int rc;

	if (c->p->cfg->offline) {
		astro_notice("fits: %s/%s is not cached and the mount is offline", c->o->src, c->o->key);
		return -EIO;
	}
	astro_stats_inc("fits.gets");
	if (c->o->url)
		rc = astro_s3_http_get_range(c->o->url, off, len, c->o->walked_for,
					     timeout_ms(c->p), buf, got, &info);
	else if (cli)
		rc = astro_s3_get_range(cli, bucket, c->o->key, off, len,
					c->o->walked_for, buf, got, &info);
	else
		rc = -EIO;
	if (rc == 0 && info.size != UINT64_MAX)
		*size = info.size;
	return rc;
}

/*
 * The walker's read callback: bytes the version probe already holds are
 * taken from it (only the rest, if any, is fetched), others by a GET.
 */
static int walk_read(void *arg, uint64_t off, size_t len, void *buf, size_t *got,
		     uint64_t *size)
{
	struct rctx *c = arg;
	struct fobj *o = c->o;
	size_t have, more = 0;
	int rc = 0;

	if (!o->pre || off >= o->pre_len)
		return walk_get(c, off, len, buf, got, size);
	have = o->pre_len - off < len ? o->pre_len - off : len;
	memcpy(buf, o->pre + off, have);
	*size = o->info.size;
	if (have < len && o->pre_len < o->info.size)
		rc = walk_get(c, off + have, len - have, (char *)buf + have, &more, size);
	fobj_drop_pre(c->p, o);	/* the walker never reads a range twice */
	*got = have + more;
	return rc;
}

enum wop { W_TO, W_ALL, W_FIND };

/*
 * Walk the object (o->lock held) to HDU n or to the end; a replaced object
 * (-ESTALE) drops the state and walks the new version once.
 */
static int fobj_walk(struct fits_priv *p, struct fobj *o, enum wop op, struct fpath *fp)
{
	struct astro_fits_walk_opts opts;
	struct rctx c = { p, o };
	char name[4400];
	int rc;

	ASTRO_ASSERT_LOCKED(&o->lock);
	for (int attempt = 0;; attempt++) {
		uint32_t before;
		enum astro_fits_end end_before;

		rc = fobj_refresh(p, o, attempt > 0);
		if (rc)
			return rc;
		rc = fobj_walk_state(p, o, &opts, name, sizeof(name));
		if (rc)
			return rc;
		before = astro_fits_walk_count(o->w);
		end_before = astro_fits_walk_end(o->w, NULL);
		if (op == W_FIND)
			rc = astro_fits_walk_find(o->w, walk_read, &c, fp->extname, fp->extver, &fp->n);
		else if (op == W_TO)
			rc = astro_fits_walk_to(o->w, walk_read, &c, fp->n);
		else
			rc = astro_fits_walk_all(o->w, walk_read, &c);
		if (rc == -ESTALE && attempt == 0) {
			char k[4500];
			size_t kl;

			walk_key(o, k, sizeof(k), &kl);
			if (p->cache)
				astro_cache_del(p->cache, DB, k, kl);
			fobj_drop_walk(o);
			continue;
		}
		if (astro_fits_walk_count(o->w) != before || astro_fits_walk_end(o->w, NULL) != end_before)
			walk_store(p, o);
		fobj_drop_pre(p, o);	/* used by the first read, or not needed */
		return rc;
	}
}

/* ---- read-ahead over siblings ------------------------------------------- */

/*
 * fitsheader/ls-then-read over a prefix of many small objects walks them one
 * after another, one round trip each.  Once a reader has asked for the
 * headers of two siblings in listing order in a row, the next fits_readahead
 * objects of the (fresh, cached) listing are walked in the background,
 * RA_CONC at a time (16: at 20 ms per answer a reader that needs ~2 ms per
 * object outruns 8; measured, bench/fits.sh FITS_ONLY=small),
 * and the window moves on as the reader does, so they are in LMDB when the
 * reader gets there (a job for an object already walked costs no request).  Each object is still read once:
 * a reader arriving meanwhile waits on the object's lock for the walk under
 * way.  Read-ahead jobs never trigger read-ahead themselves.
 *
 * astropy (fitsheader, fits.open) over the mount opens each object's raw
 * file instead, and reads it through the raw window: one GET per object,
 * one after another.  A run of raw opens in listing order reads ahead the
 * same way, but what a job fetches is the object's first raw window
 * (min(size, RAW_WINDOW), what the reader's first read would GET), kept as
 * the object's pre bytes until its raw open takes them.  A reader that
 * stops part way (Ctrl-C, head) leaves them behind, and one that reads a
 * prefix only in part, then another, and another, would pile them up: so
 * they are held up to RA_RAW_BUDGET bytes in all (fits.readahead_bytes in
 * the stats); past it, windows unopened for RA_RAW_STALE_MS are dropped,
 * and if that frees too little the job fetches nothing (the reader then
 * makes its own GET, as without read-ahead).
 */
#define RA_CONC 16
#define RA_RAW_BUDGET (64u << 20)
#define RA_RAW_STALE_MS 5000

static __thread int in_readahead;

struct ra_job {
	struct fits_priv *p;
	struct fpath fp;
	int raw;
};

/* Drop the raw windows read ahead and left unopened past ra_stale_ms
 * (self->lock held; others' locks only tried, so no order is imposed). */
static void readahead_reclaim(struct fits_priv *p, const struct fobj *self)
{
	int64_t now = astro_mono_ms();

	pthread_mutex_lock(&p->lock);
	for (struct fobj *x = p->objs; x; x = x->next) {
		if (x == self || pthread_mutex_trylock(&x->lock) != 0)
			continue;
		if (x->pre_ra_ms && now - x->pre_ra_ms >= p->ra_stale_ms)
			fobj_drop_pre(p, x);
		pthread_mutex_unlock(&x->lock);
	}
	pthread_mutex_unlock(&p->lock);
}

/* Reserve n bytes of the read-ahead budget; 0 when there is no room. */
static int readahead_reserve(struct fits_priv *p, const struct fobj *self, size_t n)
{
	if (__atomic_add_fetch(&p->ra_held, n, __ATOMIC_RELAXED) <= p->ra_budget)
		return 1;
	readahead_reclaim(p, self);
	if (__atomic_load_n(&p->ra_held, __ATOMIC_RELAXED) <= p->ra_budget)
		return 1;
	__atomic_sub_fetch(&p->ra_held, n, __ATOMIC_RELAXED);
	astro_stats_inc("fits.readahead_over_budget");
	return 0;
}

/* An object's first raw window, fetched into its pre bytes (see above). */
static void readahead_raw(struct fits_priv *p, struct fpath *fp)
{
	struct astro_s3_info info;
	struct astro_s3 *cli;
	const char *bucket;
	struct fobj *o;
	char *buf = NULL;
	size_t want, got = 0;

	fp->d = D_RAW;
	if (obj_ready(p, fp, &o))
		return;
	/* Opened before at this version: the page cache has it (keep_cache). */
	if (o->pre || o->url || o->info.size == 0 || p->cfg->offline ||
	    strcmp(o->opened, validator(&o->info)) == 0 || !(cli = client_for(p, o->src, &bucket)))
		goto out;
	want = o->info.size < RAW_WINDOW ? (size_t)o->info.size : RAW_WINDOW;
	if (!readahead_reserve(p, o, want))
		goto out;
	if ((buf = malloc(want)))
		astro_stats_inc("fits.raw_gets");
	if (buf && astro_s3_get_range(cli, bucket, o->key, 0, want, validator(&o->info), buf,
				      &got, &info) == 0 && got == want) {
		o->pre = buf;
		o->pre_len = got;
		o->pre_ra_ms = astro_mono_ms();
		astro_stats_add("fits.readahead_bytes", (int64_t)got);
		buf = NULL;
	} else {
		/* Any failure is the reader's to meet, and report, on its own GET. */
		__atomic_sub_fetch(&p->ra_held, want, __ATOMIC_RELAXED);
	}
out:
	free(buf);
	obj_done(p, o);
}

static void *readahead_job(void *arg)
{
	struct ra_job *j = arg;
	struct fits_priv *p = j->p;
	struct fobj *o;

	in_readahead = 1;
	if (j->raw) {
		readahead_raw(p, &j->fp);
	} else {
		j->fp.d = D_CSV;
		if (obj_ready(p, &j->fp, &o) == 0)
			obj_done(p, o);
	}
	pthread_mutex_lock(&p->lock);
	if (--p->ra_active == 0)
		pthread_cond_broadcast(&p->ra_idle);
	pthread_mutex_unlock(&p->lock);
	free(j);
	return NULL;
}

static void readahead_note(struct fits_priv *p, const struct fobj *o, int raw)
{
	char prefix[4096];
	const char *name;
	const struct listing *lst = NULL;
	int64_t now = astro_mono_ms();
	size_t i, window = p->cfg->fits_readahead;
	int same;

	if (in_readahead || window == 0)
		return;
	split_key(o->key, prefix, sizeof(prefix), &name);
	pthread_mutex_lock(&p->lock);
	for (struct listing *l = p->lists; l; l = l->next)
		if (!l->probe && !l->partial && !l->rc && strcmp(l->bucket, o->src) == 0 &&
		    strcmp(l->prefix, prefix) == 0 && now - l->fetched_ms < p->ttl_ms) {
			lst = l;
			break;
		}
	for (i = 0; lst && i < lst->n && strcmp(lst->e[i].name, name) != 0; i++)
		;
	if (!lst || i == lst->n)
		goto out;
	same = p->ra_raw == raw && strcmp(p->ra_bucket, o->src) == 0 &&
	       strcmp(p->ra_prefix, prefix) == 0;
	if (same && i == p->ra_last && p->ra_run) {
		/* The same object again (its next header, hdus.csv): the run
		 * and what is scheduled stand; only free job slots are filled.
		 * Restarting here cost 11 jobs per object, each holding a slot
		 * while it waited on an object already being walked. */
	} else if (same && i == p->ra_last + 1) {
		p->ra_run++;
	} else {
		astro_strlcpy(p->ra_bucket, o->src, sizeof(p->ra_bucket));
		astro_strlcpy(p->ra_prefix, prefix, sizeof(p->ra_prefix));
		p->ra_raw = raw;
		p->ra_run = 1;
		p->ra_upto = i + 1;
	}
	p->ra_last = i;
	if (p->ra_run < 2)
		goto out;
	if (p->ra_upto < i + 1)
		p->ra_upto = i + 1;
	while (p->ra_upto < lst->n && p->ra_upto <= i + window && p->ra_active < RA_CONC) {
		const struct entry *e = &lst->e[p->ra_upto++];
		struct ra_job *j;
		pthread_attr_t a;
		pthread_t t;

		if (!e->is_obj || !(j = calloc(1, sizeof(*j))))
			continue;
		j->p = p;
		j->raw = raw;
		astro_strlcpy(j->fp.src, o->src, sizeof(j->fp.src));
		snprintf(j->fp.key, sizeof(j->fp.key), "%s%s", prefix, e->name);
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &a, readahead_job, j) == 0) {
			p->ra_active++;
			astro_stats_inc("fits.readahead");
		} else {
			free(j);
		}
		pthread_attr_destroy(&a);
	}
out:
	pthread_mutex_unlock(&p->lock);
}

/* ---- provider ---------------------------------------------------------- */

static char **split_list(const char *s, const char *seps, size_t *n)
{
	char **v = NULL;

	*n = 0;
	while (s && *s) {
		size_t l = strcspn(s, seps);

		if (l) {
			char **nv = realloc(v, (*n + 1) * sizeof(*v));

			if (!nv)
				break;
			v = nv;
			v[*n] = strndup(s, l);
			if (!v[*n])
				break;
			(*n)++;
		}
		s += l;
		if (*s)
			s++;
	}
	return v;
}

static void fits_destroy(void *priv)
{
	struct fits_priv *p = priv;

	if (!p)
		return;
	/* Read-ahead jobs use p: let them finish (each is bounded by timeout). */
	pthread_mutex_lock(&p->lock);
	while (p->ra_active)
		pthread_cond_wait(&p->ra_idle, &p->lock);
	pthread_mutex_unlock(&p->lock);
	while (p->lists) {
		struct listing *l = p->lists;

		p->lists = l->next;
		listing_free(l);
	}
	while (p->objs) {
		struct fobj *o = p->objs;

		p->objs = o->next;
		fobj_free(p, o);
	}
	for (size_t i = 0; i < p->nbuckets; i++)
		free(p->buckets[i]);
	free(p->buckets);
	for (size_t i = 0; i < p->nhttp; i++) {
		free(p->http[i].name);
		free(p->http[i].url);
	}
	free(p->http);
	for (size_t i = 0; i < p->naz; i++) {
		free(p->az[i].name);
		free(p->az[i].container);
		astro_s3_free(p->az[i].cli);
	}
	free(p->az);
	if (!p->s3_borrowed)
		astro_s3_free(p->s3);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* One client per fits_azure container (none offline: nothing is asked). */
static int azure_init(struct fits_priv *p, const struct astro_config *cfg)
{
	char **pairs, msg[512] = "";
	size_t np;
	int rc = 0;

	pairs = split_list(cfg->fits_azure, ";", &np);
	p->az = calloc(np ? np : 1, sizeof(*p->az));
	for (size_t i = 0; i < np; i++) {
		char *eq = strchr(pairs[i], '=');
		struct azsrc *a;

		if (rc || !p->az || !eq) {
			rc = rc ? rc : p->az ? -EINVAL : -ENOMEM;
			free(pairs[i]);
			continue;
		}
		a = &p->az[p->naz];
		*eq = '\0';
		if (!(a->name = strdup(pairs[i]))) {
			rc = -ENOMEM;
		} else if (!cfg->offline) {
			struct astro_azblob_cfg ac = {
				.name = pairs[i], .url = eq + 1,
				.credentials = cfg->fits_azure_credentials,
				.timeout_ms = cfg->timeout * 1000u,
			};
			rc = astro_azblob_new(&ac, &a->cli, &a->container, msg, sizeof(msg));
			if (rc)
				astro_err("fits: fits_azure %s: %s", a->name, msg);
		}
		if (!a->container && !rc && !(a->container = strdup("")))
			rc = -ENOMEM;
		p->naz++;
		/* The URL may carry a SAS: wiped with the list. */
		explicit_bzero(eq + 1, strlen(eq + 1));
		free(pairs[i]);
	}
	free(pairs);
	return p->az ? rc : -ENOMEM;
}

static int fits_init(const struct astro_ctx *ctx, void **priv)
{
	struct fits_priv *p = calloc(1, sizeof(*p));
	const struct astro_config *cfg = ctx->cfg;
	char msg[256] = "", **pairs;
	size_t np;
	int rc = 0;

	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->ra_idle, NULL);
	p->ra_budget = RA_RAW_BUDGET;
	p->ra_stale_ms = RA_RAW_STALE_MS;
	p->cfg = cfg;
	p->cache = ctx->cache;
	p->ttl_ms = (int64_t)cfg->fits_ttl * 1000;
	p->buckets = split_list(cfg->fits_buckets, ",", &p->nbuckets);
	pairs = split_list(cfg->fits_http, ";", &np);
	p->http = calloc(np ? np : 1, sizeof(*p->http));
	for (size_t i = 0; i < np; i++) {
		char *eq = strchr(pairs[i], '=');

		if (p->http && eq && eq != pairs[i] && !memchr(pairs[i], '/', (size_t)(eq - pairs[i]))) {
			p->http[p->nhttp].name = strndup(pairs[i], (size_t)(eq - pairs[i]));
			p->http[p->nhttp].url = strdup(eq + 1);
			p->nhttp++;
		} else {
			astro_err("fits: fits_http entry '%.*s' is not NAME=URL", (int)strcspn(pairs[i], "="), pairs[i]);
			rc = -EINVAL;
		}
		free(pairs[i]);
	}
	free(pairs);
	if (!p->http)
		rc = -ENOMEM;
	if (ctx->services)
		p->shared = ctx->services->shared;
	if (rc == 0 && !cfg->offline && ctx->services && ctx->services->s3) {
		p->s3 = ctx->services->s3;
		p->s3_borrowed = 1;
	} else if (rc == 0 && !cfg->offline) {
		struct astro_s3_cfg sc = {
			.endpoint = cfg->s3_endpoint, .region = cfg->s3_region,
			.credentials = cfg->s3_credentials, .profile = cfg->s3_profile,
			.credentials_source = cfg->s3_credentials_source,
			.anonymous = cfg->s3_anonymous, .request_payer = cfg->s3_request_payer,
			.path_style = cfg->s3_path_style, .timeout_ms = cfg->timeout * 1000u,
		};
		rc = astro_s3_new(&sc, &p->s3, msg, sizeof(msg));
		if (rc)
			astro_err("fits: %s", msg);
	}
	if (rc == 0)
		rc = azure_init(p, cfg);
	if (rc) {
		fits_destroy(p);
		return rc;
	}
	*priv = p;
	return 0;
}

static int is_configured(const struct fits_priv *p, const char *b)
{
	for (size_t i = 0; i < p->nbuckets; i++)
		if (strcmp(p->buckets[i], b) == 0)
			return 1;
	for (size_t i = 0; i < p->naz; i++)
		if (strcmp(p->az[i].name, b) == 0)
			return 1;
	return 0;
}

/* Does the S3 bucket/prefix directory exist? */
static int prefix_exists(struct fits_priv *p, const struct fpath *fp)
{
	char prefix[4200];
	struct listing *l;
	int rc;

	/* Offline, nothing can be checked: paths to walked objects must work. */
	if ((fp->d == D_SRC && is_configured(p, fp->src)) || p->cfg->offline)
		return 0;
	if (fp->d == D_PREFIX && peek_parent(p, fp->src, fp->key, 0, NULL) > 0)
		return 0;
	snprintf(prefix, sizeof(prefix), "%s%s", fp->key, fp->d == D_PREFIX ? "/" : "");
	l = listing_get(p, fp->src, prefix, 1, &rc);
	if (l && rc == 0 && l->any == 0 && fp->d == D_PREFIX)
		rc = -ENOENT;
	pthread_mutex_unlock(&p->lock);
	return rc;
}

static void obj_dir_attr(const struct astro_s3_info *i, struct astro_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->kind = ASTRO_DIR;
	a->mtime = i->mtime;
}

/* Object state walked to what fp needs; returns with a reference held
 * and o->lock held on success. */
static int obj_ready(struct fits_priv *p, struct fpath *fp, struct fobj **out)
{
	struct fobj *o;
	int rc = fobj_get(p, fp, &o);

	if (rc)
		return rc;
	/* Before this object's own walk, so the siblings' GETs overlap it
	 * (one round trip earlier than noting after it). */
	if (!o->url && fp->d != D_RAW && fp->d != D_OBJ)
		readahead_note(p, o, 0);
	/* Another reader may be walking this object upstream: wait for it
	 * only as long as this operation may (op.h). */
	if ((rc = astro_op_lock(&o->lock))) {
		fobj_put(p, o);
		return rc;
	}
	switch (fp->d) {
	case D_HEADER:
		rc = fobj_walk(p, o, fp->extname[0] ? W_FIND : W_TO, fp);
		break;
	case D_HEADERS:
	case D_CSV:
		rc = fobj_walk(p, o, W_ALL, fp);
		/* A damaged HDU ends the list: earlier HDUs are still listed. */
		if (rc == -EIO && o->w && astro_fits_walk_end(o->w, NULL) != ASTRO_FITS_END_NONE)
			rc = 0;
		break;
	default:
		rc = fobj_refresh(p, o, 0);
		break;
	}
	if (rc) {
		pthread_mutex_unlock(&o->lock);
		fobj_put(p, o);
		return rc;
	}
	*out = o;
	return 0;
}

static void obj_done(struct fits_priv *p, struct fobj *o)
{
	pthread_mutex_unlock(&o->lock);
	fobj_put(p, o);
}

static int fits_getattr(void *priv, const char *path, struct astro_attr *a)
{
	struct fits_priv *p = priv;
	struct fpath fp;
	struct astro_s3_info info;
	struct fobj *o;
	int rc;

	assert(priv);
	rc = parse_path(p, path, &fp);
	if (rc)
		return rc;
	memset(a, 0, sizeof(*a));
	a->kind = ASTRO_DIR;
	switch (fp.d) {
	case D_ROOT:
		return 0;
	case D_SRC:
	case D_PREFIX:
		/* HTTP sources have no listing: any directory is reachable. */
		return fp.http ? 0 : prefix_exists(p, &fp);
	case D_OBJ:
		if (!fp.http && peek_parent(p, fp.src, fp.key, 1, &info) > 0) {
			obj_dir_attr(&info, a);
			return 0;
		}
		/* fall through */
	case D_HEADERS:
		fp.d = D_OBJ;	/* a directory: no walk needed to stat it */
		break;
	default:
		a->kind = ASTRO_FILE;
		break;
	}
	rc = obj_ready(p, &fp, &o);
	if (rc)
		return rc;
	a->mtime = o->info.mtime;
	if (fp.d == D_HEADER) {
		const struct astro_fits_hdu *h = astro_fits_walk_hdu(o->w, fp.n);

		if (h)
			a->size = astro_fits_walk_header_text_size(h);
		else
			rc = -ENOENT;
	} else if (fp.d == D_CSV) {
		char *csv;
		size_t len;

		rc = astro_fits_walk_hdus_csv(o->w, &csv, &len);
		if (rc == 0) {
			a->size = len;
			free(csv);
		}
	} else if (fp.d == D_RAW) {
		a->size = o->info.size;
	}
	obj_done(p, o);
	return rc;
}

static int fill_listing(struct fits_priv *p, const struct fpath *fp, astro_fill_fn fill, void *buf)
{
	char prefix[4200];
	struct listing *l;
	int rc;

	snprintf(prefix, sizeof(prefix), "%s%s", fp->key, fp->d == D_PREFIX ? "/" : "");
	l = listing_get(p, fp->src, prefix, 0, &rc);
	if (l && rc == 0) {
		if (fp->d == D_PREFIX && l->any == 0)
			rc = -ENOENT;
		for (size_t i = 0; i < l->n; i++) {
			struct astro_attr a = { .kind = ASTRO_DIR, .mtime = l->e[i].info.mtime };

			if (fill(buf, l->e[i].name, &a))
				break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

static int fits_readdir(void *priv, const char *path, astro_fill_fn fill, void *buf)
{
	struct fits_priv *p = priv;
	struct astro_attr dir = { .kind = ASTRO_DIR };
	struct fpath fp;
	struct fobj *o;
	char name[16];
	int rc;

	assert(priv);
	rc = parse_path(p, path, &fp);
	if (rc)
		return rc;
	switch (fp.d) {
	case D_ROOT:
		for (size_t i = 0; i < p->nbuckets; i++)
			if (fill(buf, p->buckets[i], &dir))
				return 0;
		for (size_t i = 0; i < p->naz; i++)
			if (fill(buf, p->az[i].name, &dir))
				return 0;
		return 0;
	case D_SRC:
	case D_PREFIX:
		return fp.http ? 0 : fill_listing(p, &fp, fill, buf);
	case D_OBJ:
		rc = obj_ready(p, &fp, &o);
		if (rc)
			return rc;
		{
			struct astro_attr raw = { .kind = ASTRO_FILE, .size = o->info.size,
						  .mtime = o->info.mtime };

			dir.mtime = o->info.mtime;
			obj_done(p, o);
			if (fill(buf, "headers", &dir) || fill(buf, "raw", &raw))
				return 0;
			/* hdus.csv's size needs a full walk: let getattr find it. */
			fill(buf, "hdus.csv", NULL);
		}
		return 0;
	case D_HEADERS:
		rc = obj_ready(p, &fp, &o);
		if (rc)
			return rc;
		for (uint32_t i = 0; i < astro_fits_walk_count(o->w); i++) {
			const struct astro_fits_hdu *h = astro_fits_walk_hdu(o->w, i);
			struct astro_attr a = { .kind = ASTRO_FILE, .mtime = o->info.mtime };

			if (!h)
				break;
			a.size = astro_fits_walk_header_text_size(h);
			snprintf(name, sizeof(name), "%" PRIu32, i);
			if (fill(buf, name, &a))
				break;
		}
		obj_done(p, o);
		return 0;
	default:
		return -ENOTDIR;
	}
}

static int raw_open(struct fits_priv *p, struct fpath *fp, struct astro_file *f,
		    struct fhandle *h)
{
	struct fobj *o;
	int rc = obj_ready(p, fp, &o);

	if (rc)
		return rc;
	/* Bytes of this version already here (read ahead, or the version
	 * probe's first read) become the handle's first window. */
	if (o->pre) {
		fobj_pre_unbudget(p, o);
		h->win = o->pre;
		h->win_cap = h->win_len = o->pre_len;
		h->win_off = 0;
		o->pre = NULL;
		o->pre_len = 0;
	}
	h->o = o;
	h->size = o->info.size;
	astro_strlcpy(h->validator, validator(&o->info), sizeof(h->validator));
	f->keep_cache = strcmp(o->opened, h->validator) == 0;
	astro_strlcpy(o->opened, h->validator, sizeof(o->opened));
	/* The reference stays with the handle; the object lock does not. */
	pthread_mutex_unlock(&o->lock);
	pthread_mutex_init(&h->lock, NULL);
	if (!o->url)
		readahead_note(p, o, 1);
	return 0;
}

static int fits_open(void *priv, const char *path, int flags, struct astro_file *f)
{
	struct fits_priv *p = priv;
	struct fpath fp;
	struct fhandle *h;
	struct fobj *o;
	int rc;

	assert(priv);
	rc = parse_path(p, path, &fp);
	if (rc)
		return rc;
	if (fp.d < D_HEADER)
		return -EISDIR;
	if ((flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	if (fp.d == D_RAW) {
		rc = raw_open(p, &fp, f, h);
		if (rc)
			free(h);
		else
			f->handle = h;
		return rc;
	}
	rc = obj_ready(p, &fp, &o);
	if (rc) {
		free(h);
		return rc;
	}
	if (fp.d == D_HEADER) {
		const struct astro_fits_hdu *hd = astro_fits_walk_hdu(o->w, fp.n);

		if (!hd) {
			rc = -ENOENT;
		} else {
			h->len = (size_t)astro_fits_walk_header_text_size(hd);
			h->data = malloc(h->len + 1);
			if (!h->data)
				rc = -ENOMEM;
			else
				astro_fits_walk_header_text_read(hd, 0, h->data, h->len);
		}
	} else {
		rc = astro_fits_walk_hdus_csv(o->w, &h->data, &h->len);
	}
	if (rc == 0) {
		f->keep_cache = strcmp(o->opened, validator(&o->info)) == 0;
		astro_strlcpy(o->opened, validator(&o->info), sizeof(o->opened));
	}
	obj_done(p, o);
	if (rc) {
		free(h->data);
		free(h);
		return rc;
	}
	f->handle = h;
	return 0;
}

/* Serve raw bytes from the read-ahead window, filling it by one ranged GET. */
static int raw_read(struct fits_priv *p, struct fhandle *h, char *buf, size_t size, uint64_t off)
{
	struct astro_s3_info info;
	struct astro_s3 *cli;
	const char *bucket;
	size_t want, got = 0;
	int rc = 0;

	if (off >= h->size)
		return 0;
	if (size > h->size - off)
		size = (size_t)(h->size - off);
	if ((rc = astro_op_lock(&h->lock)))
		return rc;
	if (!h->win || off < h->win_off || off + size > h->win_off + h->win_len) {
		want = size > RAW_WINDOW ? size : RAW_WINDOW;
		if (want > h->size - off)
			want = (size_t)(h->size - off);
		if (want > h->win_cap) {
			size_t cap = want > RAW_WINDOW ? want : RAW_WINDOW;
			char *nw = realloc(h->win, cap);

			if (!nw) {
				rc = -ENOMEM;
				goto out;
			}
			h->win = nw;
			h->win_cap = cap;
		}
		h->win_len = 0;
		astro_stats_inc("fits.raw_gets");
		if (p->cfg->offline)
			rc = -EIO;
		else if (h->o->url)
			rc = astro_s3_http_get_range(h->o->url, off, want, h->validator,
						     timeout_ms(p), h->win, &got, &info);
		else if ((cli = client_for(p, h->o->src, &bucket)))
			rc = astro_s3_get_range(cli, bucket, h->o->key, off, want,
						h->validator, h->win, &got, &info);
		else
			rc = -EIO;
		if (rc == -ESTALE) {
			/* Forget the version so the next open sees the new object. */
			pthread_mutex_lock(&h->o->lock);
			h->o->checked_ms = 0;
			pthread_mutex_unlock(&h->o->lock);
		}
		if (rc)
			goto out;
		if (got < size) {
			astro_warn("fits: %s/%s: object shorter than its listed size", h->o->src, h->o->key);
			rc = -EIO;
			goto out;
		}
		h->win_off = off;
		h->win_len = got;
	}
	memcpy(buf, h->win + (off - h->win_off), size);
	rc = (int)size;
out:
	pthread_mutex_unlock(&h->lock);
	return rc;
}

static int fits_read(void *priv, const char *path, struct astro_file *f, char *buf,
		     size_t size, off_t off)
{
	struct fhandle *h = f->handle;

	assert(priv);
	(void)path;
	if (!h || off < 0)
		return -EBADF;
	if (h->o)
		return raw_read(priv, h, buf, size, (uint64_t)off);
	if ((size_t)off >= h->len)
		return 0;
	if (size > h->len - (size_t)off)
		size = h->len - (size_t)off;
	memcpy(buf, h->data + off, size);
	return (int)size;
}

static int fits_release(void *priv, const char *path, struct astro_file *f)
{
	struct fhandle *h = f->handle;

	assert(priv);
	(void)path;
	if (!h)
		return 0;
	if (h->o) {
		fobj_put(priv, h->o);
		pthread_mutex_destroy(&h->lock);
	}
	free(h->win);
	free(h->data);
	free(h);
	f->handle = NULL;
	return 0;
}

const struct astro_provider astro_prov_fits = {
	.name = "fits",
	.init = fits_init,
	.destroy = fits_destroy,
	.getattr = fits_getattr,
	.readdir = fits_readdir,
	.open = fits_open,
	.read = fits_read,
	.release = fits_release,
};

#ifdef ASTRO_UNITTEST
void astro_prov_fits_test_readahead(void *priv, size_t budget, int64_t stale_ms)
{
	struct fits_priv *p = priv;

	pthread_mutex_lock(&p->lock);
	p->ra_budget = budget;
	p->ra_stale_ms = stale_ms;
	pthread_mutex_unlock(&p->lock);
}
#endif

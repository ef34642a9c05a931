/* satfilter.c — see satfilter.h. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/astro.h"
#include "astro_frames.h"
#include "core/log.h"
#include "core/op.h"
#include "satfilter.h"
#include "satfilter_req.h"
#include "sgp4.h"
#include "sphgeom.h"
#include "services/timescale.h"
#include "services/tle.h"

#define DEG (M_PI / 180.0)
#define STEP_S 1.0
#define MAX_GRID 3602	/* ASTRO_SATFILTER_MAX_EXPOSURE_S / STEP_S + 2 */
_Static_assert(MAX_GRID >= (long)ASTRO_SATFILTER_MAX_EXPOSURE_S + 2 /* STEP_S 1 s */, "grid holds the longest exposure");
/* Relative speed bound, km/s (see satfilter.h). */
#define VMAX_KMS 12.5
/* Below this range the rate bound is useless: keep the interval. */
#define RHO_FLOOR_KM 1.0
/* The prefilter works on geometric TEME directions; the WCS directions
 * differ by light time and aberration (< 30"): widen by this. */
#define PREFILTER_SLACK_DEG 0.02
/* How long a request waits for another thread computing the same visit. */
#define VISIT_WAIT_MS 60000

/* ------------------------------------------------------------- catalogue */

struct catalogue {
	int refs;			/* under sf->lock */
	size_t n;
	struct astro_sgp4 *rec;		/* secure memory */
	size_t bytes;
	double newest_jd;		/* UTC JD of the newest epoch */
	int64_t loaded_ms;		/* when it was swapped in (now_ms) */
	uint64_t *ids;			/* historical: the set each record came from
					 * (pday serial << 32 | index), or NULL */
};

/* One set of a parsed day; ok: its elements parsed. */
struct pset {
	long catnum;
	int64_t epoch_us;
	int ok;
	struct astro_tle_elements el;
};

/* A parsed body for historical visits: sets ordered by catalogue number,
 * epoch, then place in the body. */
struct pday {
	int64_t key, version;
	uint32_t serial;		/* names this parse in catalogue ids */
	int linked;			/* in the LRU (holds one reference) */
	int refs;			/* under sf->dlock */
	size_t n, bytes;
	struct pset *set;		/* secure memory */
	struct pday *prev, *next;	/* LRU: head most recent */
};

struct track {
	size_t n;			/* vertices */
	size_t off;			/* first vertex in visit->v */
};

/* A piece of a track segment for the DIASource test (see build_index):
 * the sub-arc lies within half its length of its midpoint direction. */
struct piece {
	double m[3];			/* unit midpoint of the piece */
	double h;			/* half its length, + slack */
	double ch, sh;			/* cos h, sin h */
	uint32_t k;			/* the segment: vertices k, k + 1 */
};

struct visit {
	int64_t id;
	int hist;			/* a historical visit: its own cache key */
	double t0, t1, ra, dec;		/* request */
	int state;			/* 0 computing, 1 ready, <0 -errno */
	int refs;
	int linked;			/* in the LRU list */
	int64_t expires_ms;
	double bore[3];
	struct track *tracks;		/* secure memory */
	size_t ntracks, tracks_bytes;
	double (*v)[3];			/* secure memory */
	size_t nv, v_bytes;
	/* The segment index (build_index), all in secure memory: cell c of a
	 * gn x gn grid on the plane normal to bore lists the pieces in
	 * cell_piece[cell_start[c] .. cell_start[c + 1]); wide[] lists the
	 * segments too long to cut into pieces, tested for every source. */
	struct piece *pieces;
	size_t npieces, pieces_bytes;
	double e1[3], e2[3], gw, gcell;
	size_t gn;
	uint32_t *cell_start, *cell_piece, *wide;
	size_t start_bytes, cellp_bytes, wide_bytes, nwide;
	struct visit *prev, *next;	/* LRU: head most recent */
};

struct astro_satfilter {
	struct astro_satfilter_opts o;
	struct astro_frames_site site;
	pthread_mutex_t lock;
	pthread_cond_t cv;		/* a visit finished computing */
	struct catalogue *cat;
	struct catalogue *hist_last;	/* the last historical catalogue built */
	struct visit *head, *tail;
	unsigned nvisits;
	pthread_mutex_t dlock;		/* the parsed days below */
	struct pday *dhead, *dtail;
	size_t dbytes;
	uint32_t dserial;
};

void astro_satfilter_default_opts(struct astro_satfilter_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->site_lat = -30.2446333;
	o->site_lon = -70.7494167;
	o->site_height = 2662.75;
	o->buffer_deg = 0.01;
	o->field_deg = 2.35;
	o->max_visits = 512;
	o->visit_ttl_s = 1800;
	o->now_ms = astro_mono_ms;
	o->history_cache_bytes = ASTRO_SATFILTER_HISTORY_CACHE_BYTES;
}

int astro_satfilter_create(struct astro_satfilter **out,
			   const struct astro_satfilter_opts *o)
{
	struct astro_satfilter *sf;
	int rc;

	if (!(o->buffer_deg >= 0 && o->buffer_deg <= 1) ||
	    !(o->field_deg > 0 && o->field_deg <= 10) || o->max_visits == 0 ||
	    o->visit_ttl_s == 0 || !(fabs(o->dut1_s) <= 0.9))
		return -EINVAL;
	sf = calloc(1, sizeof(*sf));
	if (!sf)
		return -ENOMEM;
	sf->o = *o;
	if (!sf->o.now_ms)
		sf->o.now_ms = astro_mono_ms;
	rc = astro_frames_site_init(&sf->site, o->site_lat, o->site_lon, o->site_height);
	if (rc) {
		free(sf);
		return rc;
	}
	pthread_mutex_init(&sf->lock, NULL);
	pthread_mutex_init(&sf->dlock, NULL);
	pthread_cond_init(&sf->cv, NULL);
	*out = sf;
	return 0;
}

static void cat_free(struct catalogue *c)
{
	if (!c)
		return;
	astro_secure_free(c->rec, c->bytes);
	free(c->ids);
	free(c);
}

static void cat_put(struct astro_satfilter *sf, struct catalogue *c)
{
	int last;

	if (!c)
		return;
	pthread_mutex_lock(&sf->lock);
	last = --c->refs == 0;
	pthread_mutex_unlock(&sf->lock);
	if (last)
		cat_free(c);
}

static void pday_free(struct pday *d)
{
	if (!d)
		return;
	astro_secure_free(d->set, d->bytes);
	free(d);
}

static void pday_put(struct astro_satfilter *sf, struct pday *d)
{
	int last;

	if (!d)
		return;
	pthread_mutex_lock(&sf->dlock);
	last = --d->refs == 0;
	pthread_mutex_unlock(&sf->dlock);
	if (last)
		pday_free(d);
}

/* Out of the LRU, dropping its reference (under dlock, or alone). */
static void pday_unlink(struct astro_satfilter *sf, struct pday *d)
{
	if (d->prev)
		d->prev->next = d->next;
	else
		sf->dhead = d->next;
	if (d->next)
		d->next->prev = d->prev;
	else
		sf->dtail = d->prev;
	d->prev = d->next = NULL;
	d->linked = 0;
	sf->dbytes -= d->bytes;
	if (--d->refs == 0)
		pday_free(d);
}

static void visit_free(struct visit *v)
{
	if (!v)
		return;
	astro_secure_free(v->tracks, v->tracks_bytes);
	astro_secure_free(v->v, v->v_bytes);
	astro_secure_free(v->pieces, v->pieces_bytes);
	astro_secure_free(v->cell_start, v->start_bytes);
	astro_secure_free(v->cell_piece, v->cellp_bytes);
	astro_secure_free(v->wide, v->wide_bytes);
	free(v);
}

void astro_satfilter_destroy(struct astro_satfilter *sf)
{
	if (!sf)
		return;
	while (sf->head) {
		struct visit *v = sf->head;

		sf->head = v->next;
		assert(v->refs == 0);
		visit_free(v);
	}
	if (sf->cat)
		cat_put(sf, sf->cat);
	if (sf->hist_last)
		cat_put(sf, sf->hist_last);
	while (sf->dhead)
		pday_unlink(sf, sf->dhead);
	pthread_cond_destroy(&sf->cv);
	pthread_mutex_destroy(&sf->dlock);
	pthread_mutex_destroy(&sf->lock);
	free(sf);
}

int astro_satfilter_ready(struct astro_satfilter *sf)
{
	int r;

	pthread_mutex_lock(&sf->lock);
	r = sf->cat != NULL;
	pthread_mutex_unlock(&sf->lock);
	return r;
}

/* One parsed set and the body it is in. */
struct src_set {
	struct astro_tle_set s;
	size_t b;
};

static int set_order(const void *a, const void *b)
{
	const struct src_set *x = a, *y = b;

	if (x->s.catnum != y->s.catnum)
		return x->s.catnum < y->s.catnum ? -1 : 1;
	if (x->s.epoch_us != y->s.epoch_us)
		return (x->s.epoch_us > y->s.epoch_us) - (x->s.epoch_us < y->s.epoch_us);
	return (x->b > y->b) - (x->b < y->b);
}

/* "line 12: ..." → "line 12" so no catalogue text reaches a message. */
static int line_only(int rc, const char *msg, char *err, size_t errlen)
{
	size_t k = strcspn(msg, ":");

	if (strncmp(msg, "line ", 5) == 0 && k < 32)
		return astro_err_set(err, errlen, rc, "catalogue: %.*s is not a valid element set line",
				     (int)k, msg);
	return astro_err_set(err, errlen, rc, "catalogue: not a TLE/3LE body");
}

/* Unix microseconds of a UTC JD. */
static int64_t jd_to_unix_us(double jd)
{
	return (int64_t)llround((jd - 2440587.5) * 86400e6);
}

/*
 * A catalogue from the element sets of several bodies, one set per object:
 * the one whose epoch is nearest target_jd (UTC; +INFINITY: the newest),
 * and only sets within window_days of it (0: no window).  An empty body
 * is skipped (a body is a source, and one source may have no sets).
 */
static long cat_build(const struct astro_satfilter_src *src, size_t nsrc, double target_jd,
		      double window_days, struct catalogue **out, char *err, size_t errlen)
{
	struct src_set *all = NULL;
	struct catalogue *c = NULL;
	size_t n = 0, dups = 0, bad = 0, far = 0;
	int64_t target = isinf(target_jd) ? INT64_MAX : jd_to_unix_us(target_jd);
	int64_t window = (int64_t)(window_days * 86400e6);
	char msg[256];
	long rc = 0;

	*out = NULL;
	for (size_t b = 0; b < nsrc; b++) {
		struct astro_tle_set *sets = NULL;
		size_t ns = 0;
		struct src_set *grown;

		if (src[b].len == 0)
			continue;
		rc = astro_tle_parse_body(src[b].body, src[b].len,
					  ASTRO_TLE_ALLOW_68 | ASTRO_TLE_SKIP_COMMENTS, &sets, &ns, msg,
					  sizeof(msg));
		if (rc) {
			rc = line_only(rc, msg, err, errlen);
			explicit_bzero(msg, sizeof(msg));
			goto out;
		}
		grown = ns ? realloc(all, (n + ns) * sizeof(*all)) : all;
		if (!grown) {
			explicit_bzero(sets, ns * sizeof(*sets));
			free(sets);
			rc = -ENOMEM;
			goto out;
		}
		all = grown;
		for (size_t i = 0; i < ns; i++) {
			all[n].s = sets[i];
			all[n++].b = b;
		}
		explicit_bzero(sets, ns * sizeof(*sets));
		free(sets);
	}
	if (n == 0) {
		snprintf(err, errlen, "catalogue: no element sets");
		rc = -EINVAL;
		goto out;
	}
	qsort(all, n, sizeof(*all), set_order);
	c = calloc(1, sizeof(*c));
	if (!c) {
		rc = -ENOMEM;
		goto out;
	}
	c->bytes = n * sizeof(*c->rec);
	c->rec = astro_secure_alloc(c->bytes);
	if (!c->rec) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0, j; i < n; i = j) {
		const struct src_set *best = &all[i];
		struct astro_tle_elements el;
		uint64_t bd = UINT64_MAX;
		double jd;

		/* the group of this object; its set nearest the target */
		for (j = i; j < n && all[j].s.catnum == all[i].s.catnum; j++) {
			int64_t e = all[j].s.epoch_us;
			uint64_t d = target == INT64_MAX ? (uint64_t)(INT64_MAX - e)
				   : e > target ? (uint64_t)(e - target) : (uint64_t)(target - e);

			if (d <= bd) {
				bd = d;
				best = &all[j];
			}
		}
		dups += j - i - 1;
		if (window && bd > (uint64_t)window) {
			far++;
			continue;
		}
		if (astro_tle_parse_elements(src[best->b].body + best->s.l1_off, best->s.l1_len,
					     src[best->b].body + best->s.l2_off, best->s.l2_len, &el,
					     msg, sizeof(msg)) != 0 ||
		    astro_sgp4_init(&c->rec[c->n], &el) != 0) {
			bad++;
			explicit_bzero(&c->rec[c->n], sizeof(c->rec[0]));
			continue;
		}
		jd = el.jdsatepoch + el.jdsatepochF;
		if (jd > c->newest_jd)
			c->newest_jd = jd;
		explicit_bzero(&el, sizeof(el));
		c->n++;
	}
	explicit_bzero(msg, sizeof(msg));
	if (c->n == 0) {
		snprintf(err, errlen, "catalogue: no usable element set");
		rc = -EINVAL;
		goto out;
	}
	c->refs = 1;
	astro_info("satfilter: catalogue built: %zu objects (%zu other sets, %zu unusable, %zu without a set near the time)",
		   c->n, dups, bad, far);
	*out = c;
	c = NULL;
	rc = (long)(*out)->n;
out:
	if (all) {
		explicit_bzero(all, n * sizeof(*all));
		free(all);
	}
	cat_free(c);
	return rc;
}

long astro_satfilter_load_merged(struct astro_satfilter *sf, const struct astro_satfilter_src *src,
				 size_t n, double target_jd, char *err, size_t errlen)
{
	struct catalogue *c, *old;
	long rc = cat_build(src, n, target_jd, 0, &c, err, errlen);

	if (rc < 0)
		return rc;
	c->loaded_ms = sf->o.now_ms();
	pthread_mutex_lock(&sf->lock);
	old = sf->cat;
	sf->cat = c;
	pthread_mutex_unlock(&sf->lock);
	cat_put(sf, old);
	return rc;
}

long astro_satfilter_load(struct astro_satfilter *sf, const char *body,
			  size_t len, char *err, size_t errlen)
{
	struct astro_satfilter_src one = { .body = (char *)body, .len = len };

	if (len == 0) {
		return astro_err_set(err, errlen, -EINVAL, "catalogue: no element sets");
	}
	return astro_satfilter_load_merged(sf, &one, 1, INFINITY, err, errlen);
}

long astro_satfilter_load_file(struct astro_satfilter *sf, const char *path,
			       char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t cap = 0, len = 0;
	long rc;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		rc = -errno;
		return astro_err_set(err, errlen, rc, "%s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (1L << 30)) {
		snprintf(err, errlen, "%s: not a regular file of at most 1 GiB", path);
		rc = -EINVAL;
		goto out;
	}
	rc = astro_secure_read_fd(fd, (size_t)st.st_size, &buf, &len, &cap);
	if (rc) {
		snprintf(err, errlen, "%s: %s", path, strerror((int)-rc));
		goto out;
	}
	rc = astro_satfilter_load(sf, buf, len, err, errlen);
out:
	astro_secure_free(buf, cap);
	close(fd);
	return rc;
}

/* ---------------------------------------------------------------- visits */

struct grid {
	size_t n;
	double t[MAX_GRID];		/* seconds from exposure start */
	struct astro_frames_instant in[MAX_GRID];
	double bore_teme[MAX_GRID][3];
};

/* Growable secure array. */
static int grow(void **p, size_t *bytes, size_t need)
{
	size_t nb;
	void *q;

	if (need <= *bytes)
		return 0;
	nb = *bytes ? *bytes : 4096;
	while (nb < need)
		nb *= 2;
	q = astro_secure_alloc(nb);
	if (!q)
		return -ENOMEM;
	if (*p) {
		memcpy(q, *p, *bytes);
		astro_secure_free(*p, *bytes);
	}
	*p = q;
	*bytes = nb;
	return 0;
}

struct sample {
	int done;
	double d;		/* angle from boresight, rad */
	double rho;		/* range, km */
	double speed;		/* km/s */
};

/* Geometric sample k of record s: 0 or an SGP4 error code. */
static int coarse(const struct grid *g, const struct astro_sgp4 *s, size_t k,
		  struct sample *out)
{
	const struct astro_frames_instant *in = &g->in[k];
	double r[3], v[3], rho[3];
	int e = astro_sgp4_propagate(s, astro_sgp4_tsince(s, in->jd_utc1, in->jd_utc2), r, v);

	if (e)
		return e;
	for (int j = 0; j < 3; j++)
		rho[j] = r[j] - in->site_teme[j];
	out->rho = sqrt(rho[0] * rho[0] + rho[1] * rho[1] + rho[2] * rho[2]);
	if (!(out->rho > 0))
		return ASTRO_SGP4_ERR_MEAN_ELEMENTS;
	for (int j = 0; j < 3; j++)
		rho[j] /= out->rho;
	out->d = astro_sphgeom_angle(rho, g->bore_teme[k]);
	out->speed = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
	out->done = 1;
	return 0;
}

/*
 * Can the object come within `reach` (rad) of the boresight between grid
 * samples i and j?  1 yes (candidate), 0 no, <0 SGP4 error (as -code).
 */
static int may_cross(const struct grid *g, const struct astro_sgp4 *s,
		     struct sample *sm, double reach)
{
	size_t stack[64][2], sp = 0;
	int e;

	stack[sp][0] = 0;
	stack[sp++][1] = g->n - 1;
	while (sp) {
		size_t i = stack[sp - 1][0], j = stack[sp - 1][1], m;
		double dt, vmax, rho_min, lower;

		sp--;
		if (!sm[i].done && (e = coarse(g, s, i, &sm[i])) != 0)
			return -e;
		if (!sm[j].done && (e = coarse(g, s, j, &sm[j])) != 0)
			return -e;
		if (sm[i].d <= reach || sm[j].d <= reach)
			return 1;
		dt = g->t[j] - g->t[i];
		vmax = VMAX_KMS;
		if (sm[i].speed + 1.0 > vmax)
			vmax = sm[i].speed + 1.0;
		if (sm[j].speed + 1.0 > vmax)
			vmax = sm[j].speed + 1.0;
		/* |d rho/dt| <= vmax, so rho >= this all along [i, j]; the
		 * direction turns at most vmax/rho rad/s. */
		rho_min = (sm[i].rho + sm[j].rho - vmax * dt) / 2;
		if (rho_min > RHO_FLOOR_KM) {
			lower = (sm[i].d + sm[j].d - vmax / rho_min * dt) / 2;
			if (lower > reach)
				continue;
		}
		if (j - i <= 1)
			return 1;
		m = i + (j - i) / 2;
		assert(sp + 2 <= ASTRO_ARRAY_SIZE(stack));
		stack[sp][0] = m;
		stack[sp++][1] = j;
		stack[sp][0] = i;
		stack[sp++][1] = m;
	}
	return 0;
}

static void radec_vec(const struct astro_frames_instant *in, const double r[3],
		      const double v[3], double out[3])
{
	double ra, dec;

	astro_frames_radec_wcs(in, r, v, &ra, &dec);
	astro_sphgeom_vec(ra, dec, out);
}

/*
 * The segment index.  A DIASource (hull cap c, radius R) is rejected when a
 * segment passes within buf of the hull, which needs the segment within
 * R + buf of c.  Each segment is cut into pieces of at most PIECE_DEG; a
 * piece lies within its half-length h of its midpoint m, so only pieces
 * with angle(m, c) <= h + R + buf can matter.  The orthogonal projection
 * onto the plane normal to the boresight never lengthens a distance
 * (|P(x) - P(y)| <= chord <= angle), so for such a piece the square of
 * half-width h around P(m) and the square of half-width R + buf around
 * P(c) overlap on both axes, and overlapping squares share a grid cell
 * even with cell indices clamped to the grid (the clamped index is
 * monotone per axis).  So the pieces listed in the cells of a source's
 * square include every piece that can reject it: the index only saves
 * work, it never decides.  Segments too long to cut safely (near-antipodal
 * ends) are "wide" and tested for every source.
 */
#define PIECE_DEG 0.2		/* longest piece */
#define CELL_DEG 0.1		/* grid cell */
#define INDEX_SLACK 1e-12	/* rad: rounding in slerp and projections */
#define WIDE_DEG 170.0		/* a segment at least this long is wide */

static size_t cell_of(const struct visit *v, double x)
{
	double f = floor((x + v->gw) / v->gcell);

	if (!(f > 0))
		return 0;
	if (f >= (double)(v->gn - 1))
		return v->gn - 1;
	return (size_t)f;
}

/* Cell ranges of the square of half-width r around the projection of c. */
static void cell_box(const struct visit *v, const double c[3], double r, size_t *x0,
		     size_t *x1, size_t *y0, size_t *y1)
{
	double x = astro_sphgeom_dot(c, v->e1), y = astro_sphgeom_dot(c, v->e2);

	*x0 = cell_of(v, x - r);
	*x1 = cell_of(v, x + r);
	*y0 = cell_of(v, y - r);
	*y1 = cell_of(v, y + r);
}

/* Cut every segment into pieces (or list it as wide). */
static int cut_pieces(struct visit *v)
{
	for (size_t t = 0; t < v->ntracks; t++)
		for (size_t k = v->tracks[t].off; k + 1 < v->tracks[t].off + v->tracks[t].n; k++) {
			const double *a = v->v[k], *b = v->v[k + 1];
			double len = astro_sphgeom_angle(a, b), sl = sin(len), u[3], w[3];
			size_t n = (size_t)ceil(len / (PIECE_DEG * DEG));
			int rc;

			if (n == 0)
				n = 1;
			if (len >= WIDE_DEG * DEG) {
				rc = grow((void **)&v->wide, &v->wide_bytes,
					  (v->nwide + 1) * sizeof(v->wide[0]));
				if (rc)
					return rc;
				v->wide[v->nwide++] = (uint32_t)k;
				continue;
			}
			rc = grow((void **)&v->pieces, &v->pieces_bytes,
				  (v->npieces + n) * sizeof(v->pieces[0]));
			if (rc)
				return rc;
			memcpy(u, a, sizeof(u));
			for (size_t j = 0; j < n; j++) {
				struct piece *pc = &v->pieces[v->npieces++];
				double f = (double)(j + 1) / (double)n, h;

				/* slerp: the great-circle point at fraction (j+1)/n
				 * ends this piece and starts the next */
				if (j + 1 == n) {
					memcpy(w, b, sizeof(w));
				} else {
					double ca = sin((1 - f) * len) / sl, cb = sin(f * len) / sl;

					for (int q = 0; q < 3; q++)
						w[q] = ca * a[q] + cb * b[q];
				}
				for (int q = 0; q < 3; q++)
					pc->m[q] = u[q] + w[q];
				astro_sphgeom_unit(pc->m);
				h = astro_sphgeom_angle(u, w) / 2 + INDEX_SLACK;
				pc->h = h;
				pc->ch = cos(h);
				pc->sh = sin(h);
				pc->k = (uint32_t)k;
				memcpy(u, w, sizeof(u));
			}
		}
	return 0;
}

/* Two passes over the pieces: count per cell, then fill. */
static int build_index(const struct astro_satfilter *sf, struct visit *v)
{
	size_t cells, x0, x1, y0, y1, total = 0;
	int rc;

	if (v->nv > UINT32_MAX / 2)
		return -EOVERFLOW;
	/* any unit vector not parallel to bore gives the plane's axes */
	v->e1[0] = fabs(v->bore[0]) < 0.9 ? 1 : 0;
	v->e1[1] = fabs(v->bore[0]) < 0.9 ? 0 : 1;
	v->e1[2] = 0;
	astro_sphgeom_cross(v->bore, v->e1, v->e2);
	astro_sphgeom_unit(v->e2);
	astro_sphgeom_cross(v->e2, v->bore, v->e1);
	v->gcell = CELL_DEG * DEG;
	v->gw = sin(fmin(M_PI / 2, (sf->o.field_deg + 1.5) * DEG));
	v->gn = (size_t)ceil(2 * v->gw / v->gcell) + 1;
	cells = v->gn * v->gn;
	rc = cut_pieces(v);
	if (rc || v->npieces == 0) {
		v->gn = 0;	/* no grid: near_track has only wide[] to test */
		return rc;
	}
	rc = grow((void **)&v->cell_start, &v->start_bytes, (cells + 1) * sizeof(uint32_t));
	if (rc)
		return rc;
	memset(v->cell_start, 0, (cells + 1) * sizeof(uint32_t));
	for (size_t i = 0; i < v->npieces; i++) {
		const struct piece *pc = &v->pieces[i];

		cell_box(v, pc->m, pc->h + INDEX_SLACK, &x0, &x1, &y0, &y1);
		for (size_t y = y0; y <= y1; y++)
			for (size_t x = x0; x <= x1; x++)
				v->cell_start[y * v->gn + x + 1]++;
		total += (x1 - x0 + 1) * (y1 - y0 + 1);
		if (total > UINT32_MAX)
			return -EOVERFLOW;
	}
	for (size_t i = 0; i < cells; i++)
		v->cell_start[i + 1] += v->cell_start[i];
	rc = grow((void **)&v->cell_piece, &v->cellp_bytes, (total + 1) * sizeof(uint32_t));
	if (rc)
		return rc;
	/* fill each cell's range from its end, which leaves cell_start[c + 1]
	 * at the range's first slot: shifted back after */
	for (size_t i = 0; i < v->npieces; i++) {
		cell_box(v, v->pieces[i].m, v->pieces[i].h + INDEX_SLACK, &x0, &x1, &y0, &y1);
		for (size_t y = y0; y <= y1; y++)
			for (size_t x = x0; x <= x1; x++)
				v->cell_piece[--v->cell_start[y * v->gn + x + 1]] = (uint32_t)i;
	}
	for (size_t i = 0; i < cells; i++)
		v->cell_start[i] = v->cell_start[i + 1];
	v->cell_start[cells] = (uint32_t)total;
	return 0;
}

/* Propagate and keep the tracks of one visit (v->state still 0). */
static int compute_visit(struct astro_satfilter *sf, struct visit *v,
			 struct catalogue *c)
{
	struct grid *g = NULL;
	struct sample *sm = NULL;
	double exp_s = (v->t1 - v->t0) * 86400.0, reach, field;
	size_t cand = 0, errors = 0;
	int rc = 0;

	g = malloc(sizeof(*g));
	sm = malloc(MAX_GRID * sizeof(*sm));
	if (!g || !sm) {
		rc = -ENOMEM;
		goto out;
	}
	g->n = (size_t)ceil(exp_s / STEP_S - 1e-9) + 1;
	if (g->n < 2)
		g->n = 2;
	assert(g->n <= MAX_GRID);
	for (size_t k = 0; k < g->n; k++) {
		double t = k + 1 == g->n ? exp_s : (double)k * STEP_S;
		const double (*m)[3];

		g->t[k] = t;
		rc = astro_frames_instant_init(&g->in[k], &sf->site, v->t0 + t / 86400.0,
					       sf->o.dut1_s);
		if (rc)
			goto out;
		/* boresight in TEME axes: the transpose of TEME -> GCRS */
		m = (const double (*)[3])g->in[k].teme_to_gcrs;
		for (int a = 0; a < 3; a++)
			g->bore_teme[k][a] = m[0][a] * v->bore[0] + m[1][a] * v->bore[1] +
					     m[2][a] * v->bore[2];
	}
	field = (sf->o.field_deg + sf->o.buffer_deg) * DEG;
	reach = field + PREFILTER_SLACK_DEG * DEG;
	for (size_t i = 0; i < c->n; i++) {
		const struct astro_sgp4 *s = &c->rec[i];
		size_t base = v->nv;
		double best = M_PI;
		int e;

		for (size_t k = 0; k < g->n; k++)
			sm[k].done = 0;
		e = may_cross(g, s, sm, reach);
		if (e < 0) {
			errors++;
			continue;
		}
		if (e == 0)
			continue;
		cand++;
		e = 0;
		rc = grow((void **)&v->v, &v->v_bytes, (v->nv + g->n) * sizeof(v->v[0]));
		if (rc)
			goto out;
		for (size_t k = 0; k < g->n && e == 0; k++) {
			const struct astro_frames_instant *in = &g->in[k];
			double r[3], vel[3];

			e = astro_sgp4_propagate(s, astro_sgp4_tsince(s, in->jd_utc1, in->jd_utc2),
						 r, vel);
			if (e == 0)
				radec_vec(in, r, vel, v->v[base + k]);
		}
		if (e) {
			errors++;
			continue;
		}
		for (size_t k = 0; k + 1 < g->n; k++) {
			double d = astro_sphgeom_point_arc(v->bore, v->v[base + k], v->v[base + k + 1]);

			best = d < best ? d : best;
		}
		if (best > field)
			continue;
		rc = grow((void **)&v->tracks, &v->tracks_bytes,
			  (v->ntracks + 1) * sizeof(v->tracks[0]));
		if (rc)
			goto out;
		v->tracks[v->ntracks].n = g->n;
		v->tracks[v->ntracks].off = base;
		v->ntracks++;
		v->nv += g->n;
	}
	astro_log(LOG_DEBUG, "satfilter: visit computed: %zu candidates, %zu SGP4 errors",
		  cand, errors);
	rc = build_index(sf, v);
out:
	if (g)
		explicit_bzero(g, sizeof(*g));
	if (sm)
		explicit_bzero(sm, MAX_GRID * sizeof(*sm));
	free(g);
	free(sm);
	return rc;
}

static void lru_unlink(struct astro_satfilter *sf, struct visit *v)
{
	if (!v->linked)
		return;
	assert(sf->nvisits > 0);
	if (v->prev)
		v->prev->next = v->next;
	else
		sf->head = v->next;
	if (v->next)
		v->next->prev = v->prev;
	else
		sf->tail = v->prev;
	v->prev = v->next = NULL;
	v->linked = 0;
	sf->nvisits--;
}

static void lru_push(struct astro_satfilter *sf, struct visit *v)
{
	v->prev = NULL;
	v->next = sf->head;
	if (sf->head)
		sf->head->prev = v;
	sf->head = v;
	if (!sf->tail)
		sf->tail = v;
	v->linked = 1;
	sf->nvisits++;
}

/* Under the lock: drop a visit from the cache; freed at its last put. */
static void drop_locked(struct astro_satfilter *sf, struct visit *v)
{
	ASTRO_ASSERT_LOCKED(&sf->lock);
	lru_unlink(sf, v);
	if (v->refs == 0)
		visit_free(v);
}

static void visit_put(struct astro_satfilter *sf, struct visit *v)
{
	pthread_mutex_lock(&sf->lock);
	assert(v->refs > 0);
	if (--v->refs == 0 && !v->linked)
		visit_free(v);
	pthread_mutex_unlock(&sf->lock);
}

/* Under the lock: the cached, unexpired visit `id`, or NULL. */
static struct visit *find_locked(struct astro_satfilter *sf, int64_t id, int hist)
{
	int64_t now = sf->o.now_ms();

	ASTRO_ASSERT_LOCKED(&sf->lock);
	for (struct visit *v = sf->head; v; v = v->next)
		if (v->id == id && v->hist == hist) {
			if (v->state != 0 && (v->state < 0 || now >= v->expires_ms)) {
				drop_locked(sf, v);
				return NULL;
			}
			return v;
		}
	return NULL;
}

static int same_params(const struct visit *v, double t0, double t1, double ra,
		       double dec)
{
	return v->t0 == t0 && v->t1 == t1 && v->ra == ra && v->dec == dec;
}

/* ----------------------------------------------------- historical visits */

/* Parse one body into a pday (every set's elements, in astro_tle_set_order). */
static int pday_parse(struct astro_satfilter *sf, const struct astro_satfilter_src *src,
		      struct pday **out, char *err, size_t errlen)
{
	struct astro_tle_set *sets = NULL;
	struct pday *d = calloc(1, sizeof(*d));
	size_t ns = 0;
	char msg[256];
	int rc = -ENOMEM;

	*out = NULL;
	if (!d)
		return -ENOMEM;
	d->key = src->key;
	d->version = src->version;
	d->refs = 1;
	if (src->len) {
		rc = astro_tle_parse_body(src->body, src->len,
					  ASTRO_TLE_ALLOW_68 | ASTRO_TLE_SKIP_COMMENTS, &sets, &ns,
					  msg, sizeof(msg));
		if (rc) {
			rc = line_only(rc, msg, err, errlen);
			goto out;
		}
	}
	rc = -ENOMEM;
	qsort(sets, ns, sizeof(*sets), astro_tle_set_order);
	d->bytes = (ns ? ns : 1) * sizeof(*d->set);
	d->set = astro_secure_alloc(d->bytes);
	if (!d->set)
		goto out;
	for (size_t i = 0; i < ns; i++) {
		struct pset *p = &d->set[i];

		p->catnum = sets[i].catnum;
		p->epoch_us = sets[i].epoch_us;
		p->ok = astro_tle_parse_elements(src->body + sets[i].l1_off, sets[i].l1_len,
						 src->body + sets[i].l2_off, sets[i].l2_len, &p->el,
						 msg, sizeof(msg)) == 0;
	}
	d->n = ns;
	pthread_mutex_lock(&sf->dlock);
	d->serial = ++sf->dserial;
	pthread_mutex_unlock(&sf->dlock);
	*out = d;
	d = NULL;
	rc = 0;
out:
	explicit_bzero(msg, sizeof(msg));
	if (sets) {
		explicit_bzero(sets, ns * sizeof(*sets));
		free(sets);
	}
	pday_free(d);
	return rc;
}

/* The kept parse of src's key and version, with a reference, or NULL; an
 * older version of the key is dropped. */
static struct pday *pday_lookup(struct astro_satfilter *sf, const struct astro_satfilter_src *src)
{
	struct pday *d;

	pthread_mutex_lock(&sf->dlock);
	for (d = sf->dhead; d; d = d->next)
		if (d->key == src->key)
			break;
	if (d && d->version != src->version) {
		pday_unlink(sf, d);
		d = NULL;
	}
	if (d) {
		/* most recent first */
		if (d != sf->dhead) {
			d->prev->next = d->next;
			if (d->next)
				d->next->prev = d->prev;
			else
				sf->dtail = d->prev;
			d->prev = NULL;
			d->next = sf->dhead;
			sf->dhead->prev = d;
			sf->dhead = d;
		}
		d->refs++;
	}
	pthread_mutex_unlock(&sf->dlock);
	return d;
}

/* Keep d (a fresh parse of a keep source), replacing any parse of its
 * key, then trim the LRU to history_cache_bytes. */
static void pday_keep(struct astro_satfilter *sf, struct pday *d)
{
	pthread_mutex_lock(&sf->dlock);
	for (struct pday *o = sf->dhead; o; o = o->next)
		if (o->key == d->key) {
			pday_unlink(sf, o);
			break;
		}
	if (d->bytes <= sf->o.history_cache_bytes) {
		d->refs++;
		d->linked = 1;
		d->next = sf->dhead;
		if (sf->dhead)
			sf->dhead->prev = d;
		sf->dhead = d;
		if (!sf->dtail)
			sf->dtail = d;
		sf->dbytes += d->bytes;
		while (sf->dbytes > sf->o.history_cache_bytes && sf->dtail != d)
			pday_unlink(sf, sf->dtail);
	}
	pthread_mutex_unlock(&sf->dlock);
}

/* The parsed form of one history source: kept, or parsed now (and kept
 * when the source allows).  1 (nothing in *out) when its body cannot be
 * had: the callback's days that cannot be had are skipped, as the
 * callback itself skips them. */
static int pday_get(struct astro_satfilter *sf, struct astro_satfilter_src *src,
		    struct pday **out, char *err, size_t errlen)
{
	int rc;

	*out = NULL;
	if (src->keep && (*out = pday_lookup(sf, src)) != NULL)
		return 0;
	if (!src->body && src->keep) {
		rc = sf->o.history_body ? sf->o.history_body(sf->o.history_arg, src) : -EINVAL;
		if (rc == -EINTR || rc == -ETIMEDOUT) {
			snprintf(err, errlen, "a day of element sets: %s", strerror(-rc));
			return rc;
		}
		if (rc) {
			astro_warn("satfilter: historical visit: a day of element sets could not be had (%s)",
				   strerror(-rc));
			return 1;
		}
	}
	rc = pday_parse(sf, src, out, err, errlen);
	if (rc == 0 && src->keep)
		pday_keep(sf, *out);
	return rc;
}

/* The chosen set of one object: day and index. */
struct pick {
	uint32_t d, i;
};

/*
 * Per object, the set nearest target (Unix us) within window (us): every
 * object's sets sit together and in epoch order in each day, so one merge
 * over the days by catalogue number decides.  Among sets equally near, the
 * later epoch, then the later day (the later source), then the later place
 * wins, as in cat_build.  *picks is malloc'd (indices only).
 */
static int choose(struct pday *const *days, size_t m, int64_t target, int64_t window,
		  struct pick **picks, size_t *np, size_t *dups, size_t *far)
{
	size_t cur[ASTRO_SATFILTER_HISTORY_MAX_SRC] = { 0 }, total = 0;

	*np = *dups = *far = 0;
	for (size_t d = 0; d < m; d++)
		total += days[d]->n;
	*picks = malloc((total ? total : 1) * sizeof(**picks));
	if (!*picks)
		return -ENOMEM;
	for (;;) {
		long cat = 0;
		int any = 0;
		struct pick best = { 0, 0 };
		uint64_t bd = UINT64_MAX;
		int64_t be = 0;
		size_t in_group = 0;

		for (size_t d = 0; d < m; d++)
			if (cur[d] < days[d]->n && (!any || days[d]->set[cur[d]].catnum < cat)) {
				cat = days[d]->set[cur[d]].catnum;
				any = 1;
			}
		if (!any)
			break;
		for (size_t d = 0; d < m; d++)
			for (; cur[d] < days[d]->n && days[d]->set[cur[d]].catnum == cat; cur[d]++) {
				int64_t e = days[d]->set[cur[d]].epoch_us;
				uint64_t dist = e > target ? (uint64_t)(e - target) : (uint64_t)(target - e);

				if (dist < bd || (dist == bd && (e > be || (e == be && d >= best.d)))) {
					bd = dist;
					be = e;
					best.d = (uint32_t)d;
					best.i = (uint32_t)cur[d];
				}
				in_group++;
			}
		*dups += in_group - 1;
		if (bd > (uint64_t)window) {
			(*far)++;
			continue;
		}
		(*picks)[(*np)++] = best;
	}
	return 0;
}

/*
 * The catalogue of the chosen sets.  A set that prev (the last historical
 * catalogue, ordered by catalogue number like this one) was built from
 * gives its record; others are initialised.
 */
static int hist_build(struct pday *const *days, const struct pick *picks, size_t np,
		      const struct catalogue *prev, struct catalogue **out, size_t *bad,
		      size_t *reused)
{
	struct catalogue *c = calloc(1, sizeof(*c));
	size_t j = 0;

	*out = NULL;
	*bad = *reused = 0;
	if (!c)
		return -ENOMEM;
	c->bytes = (np ? np : 1) * sizeof(*c->rec);
	c->rec = astro_secure_alloc(c->bytes);
	c->ids = malloc((np ? np : 1) * sizeof(*c->ids));
	if (!c->rec || !c->ids) {
		cat_free(c);
		return -ENOMEM;
	}
	for (size_t k = 0; k < np; k++) {
		const struct pset *p = &days[picks[k].d]->set[picks[k].i];
		uint64_t id = (uint64_t)days[picks[k].d]->serial << 32 | picks[k].i;
		double jd;

		if (!p->ok) {
			(*bad)++;
			continue;
		}
		while (prev && j < prev->n && prev->rec[j].catnum < p->catnum)
			j++;
		if (prev && j < prev->n && prev->rec[j].catnum == p->catnum && prev->ids[j] == id) {
			c->rec[c->n] = prev->rec[j];
			(*reused)++;
		} else if (astro_sgp4_init(&c->rec[c->n], &p->el) != 0) {
			explicit_bzero(&c->rec[c->n], sizeof(c->rec[0]));
			(*bad)++;
			continue;
		}
		jd = p->el.jdsatepoch + p->el.jdsatepochF;
		if (jd > c->newest_jd)
			c->newest_jd = jd;
		c->ids[c->n++] = id;
	}
	c->refs = 1;
	*out = c;
	return 0;
}

/* The catalogue of a historical visit, from the history callback's
 * sources for the exposure's middle: 0 or -errno. */
static int history_cat(struct astro_satfilter *sf, double t0, double t1, struct catalogue **out)
{
	struct astro_satfilter_src src[ASTRO_SATFILTER_HISTORY_MAX_SRC];
	struct pday *days[ASTRO_SATFILTER_HISTORY_MAX_SRC] = { 0 };
	struct catalogue *prev = NULL;
	struct pick *picks = NULL;
	double tai_utc = 37.0, mid_jd_utc;
	size_t n = 0, m = 0, np = 0, dups = 0, far = 0, bad = 0, reused = 0;
	char err[256] = "";
	int rc;

	*out = NULL;
	/* a second off would not matter for "the nearest set"; the table
	 * knows every year the catalogue can have */
	(void)astro_timescale_tai_utc_at_tai((t0 + t1) / 2, &tai_utc);
	mid_jd_utc = (t0 + t1) / 2 + 2400000.5 - tai_utc / 86400.0;
	memset(src, 0, sizeof(src));
	rc = sf->o.history(sf->o.history_arg, (mid_jd_utc - 2440587.5) * 86400.0, src,
			   ASTRO_SATFILTER_HISTORY_MAX_SRC, &n);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if ((rc = pday_get(sf, &src[i], &days[m], err, sizeof(err))) == 0)
			m++;
		else if (rc == 1)
			rc = 0;
	if (sf->o.history_release)
		sf->o.history_release(sf->o.history_arg, src, n);
	if (rc == 0)
		rc = choose(days, m, jd_to_unix_us(mid_jd_utc),
			    (int64_t)(ASTRO_SATFILTER_HISTORY_DAYS * 86400e6), &picks, &np, &dups, &far);
	if (rc == 0 && np == 0) {
		snprintf(err, sizeof(err), "catalogue: no element sets near the exposure");
		rc = -EINVAL;
	}
	if (rc == 0) {
		pthread_mutex_lock(&sf->lock);
		if ((prev = sf->hist_last) != NULL)
			prev->refs++;
		pthread_mutex_unlock(&sf->lock);
		rc = hist_build(days, picks, np, prev, out, &bad, &reused);
		cat_put(sf, prev);
	}
	if (rc == 0 && (*out)->n == 0) {
		cat_free(*out);
		*out = NULL;
		snprintf(err, sizeof(err), "catalogue: no usable element set");
		rc = -EINVAL;
	}
	if (rc == 0) {
		astro_info("satfilter: historical catalogue: %zu objects (%zu other sets, %zu unusable, "
			   "%zu without a set near the time, %zu records reused)",
			   (*out)->n, dups, bad, far, reused);
		(*out)->refs++;		/* the caller's, and hist_last's */
		pthread_mutex_lock(&sf->lock);
		prev = sf->hist_last;
		sf->hist_last = *out;
		pthread_mutex_unlock(&sf->lock);
		cat_put(sf, prev);
	} else {
		astro_err("satfilter: historical catalogue not built: %s",
			  err[0] ? err : strerror(-rc));
	}
	free(picks);
	for (size_t i = 0; i < m; i++)
		pday_put(sf, days[i]);
	return rc;
}

/* Make sure visit `id` with these parameters is cached: 0 or -errno. */
static int ensure_visit(struct astro_satfilter *sf, int64_t id, int hist, double t0,
			double t1, double ra, double dec, const char **why)
{
	struct visit *v;
	struct catalogue *c;
	int64_t deadline = sf->o.now_ms() + VISIT_WAIT_MS;
	int rc;

	pthread_mutex_lock(&sf->lock);
	for (;;) {
		v = find_locked(sf, id, hist);
		if (!v)
			break;
		if (v->state == 0) {
			struct timespec ts;

			/* another thread computes it: wait (bounded, and no
			 * longer than the caller's operation may: op.h) */
			if ((rc = astro_op_check()) != 0) {
				pthread_mutex_unlock(&sf->lock);
				*why = rc == -EINTR ? "interrupted" : "timed out waiting for the visit";
				return rc;
			}
			if (sf->o.now_ms() >= deadline) {
				pthread_mutex_unlock(&sf->lock);
				*why = "timed out waiting for the visit";
				return -ETIMEDOUT;
			}
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += ASTRO_OP_SLICE_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&sf->cv, &sf->lock, &ts);
			continue;
		}
		if (same_params(v, t0, t1, ra, dec)) {
			/* a repeat: cheap */
			lru_unlink(sf, v);
			lru_push(sf, v);
			pthread_mutex_unlock(&sf->lock);
			return 0;
		}
		drop_locked(sf, v);	/* new parameters: recompute */
		break;
	}
	c = hist ? NULL : sf->cat;
	if (hist && !sf->o.history) {
		pthread_mutex_unlock(&sf->lock);
		*why = "historical visits need satfilter_catalog=spacetrack";
		return -ENOTSUP;
	}
	if (!hist && !c) {
		pthread_mutex_unlock(&sf->lock);
		*why = "no satellite catalogue is loaded yet";
		return -EAGAIN;
	}
	if (c) {
		double mid = (t0 + t1) / 2 + 2400000.5;

		if (fabs(mid - c->newest_jd) > ASTRO_SATFILTER_MAX_AGE_DAYS) {
			pthread_mutex_unlock(&sf->lock);
			*why = "exposure too far from the catalogue epoch";
			return -ERANGE;
		}
		c->refs++;
	}
	v = calloc(1, sizeof(*v));
	if (!v) {
		pthread_mutex_unlock(&sf->lock);
		if (c)
			cat_put(sf, c);
		*why = "out of memory";
		return -ENOMEM;
	}
	v->id = id;
	v->hist = hist;
	v->t0 = t0;
	v->t1 = t1;
	v->ra = ra;
	v->dec = dec;
	v->refs = 1;
	astro_sphgeom_vec(ra, dec, v->bore);
	/* room for it: evict least recently used finished visits */
	for (struct visit *w = sf->tail; w && sf->nvisits >= sf->o.max_visits;) {
		struct visit *p = w->prev;

		if (w->state != 0)
			drop_locked(sf, w);
		w = p;
	}
	lru_push(sf, v);
	pthread_mutex_unlock(&sf->lock);

	/* a historical visit's catalogue is its own: built (outside the lock:
	 * it may fetch days) while other requests for the visit wait */
	rc = hist ? history_cat(sf, t0, t1, &c) : 0;
	if (rc == 0)
		rc = compute_visit(sf, v, c);
	if (c)
		cat_put(sf, c);

	pthread_mutex_lock(&sf->lock);
	v->state = rc ? rc : 1;
	v->expires_ms = sf->o.now_ms() + (int64_t)sf->o.visit_ttl_s * 1000;
	if (rc)
		lru_unlink(sf, v);
	pthread_cond_broadcast(&sf->cv);
	pthread_mutex_unlock(&sf->lock);
	visit_put(sf, v);
	if (rc)
		*why = hist ? "failed to compute the historical visit" : "failed to compute the visit";
	return rc;
}

/* ------------------------------------------------------------ DIASources */

/* Margin on cosines compared in near_track: far above the few ulps of
 * rounding in a dot product or an angle-sum formula, and far below any
 * distance that matters (1e-12 in cosine is 1e-6 rad only at the cap radius
 * 0, less elsewhere), so "skip" is decided only when it is certain. */
#define COS_MARGIN 1e-12

/* Is any track within the buffer of the hull?  Only the pieces listed in
 * the cells the source's square covers (build_index) can be; each is
 * tested first by its cap in cosine space (angle(m, c) > h + rb  <=>
 * m.c < cos h cos rb - sin h sin rb, for h + rb < pi), and the exact
 * distance is computed only for the segments the caps cannot rule out. */
static int near_track(const struct astro_satfilter *sf, const struct visit *v,
		      const struct astro_sphgeom_poly *h)
{
	double buf = sf->o.buffer_deg * DEG, rb = h->radius + buf;
	double crb = cos(rb), srb = sin(rb);
	size_t x0, x1, y0, y1;

	for (size_t i = 0; i < v->nwide; i++)
		if (astro_sphgeom_arc_poly(v->v[v->wide[i]], v->v[v->wide[i] + 1], h) <= buf)
			return 1;
	if (v->gn == 0)
		return 0;
	cell_box(v, h->centre, rb + INDEX_SLACK, &x0, &x1, &y0, &y1);
	for (size_t y = y0; y <= y1; y++)
		for (size_t x = x0; x <= x1; x++) {
			size_t c = y * v->gn + x;

			for (uint32_t i = v->cell_start[c]; i < v->cell_start[c + 1]; i++) {
				const struct piece *pc = &v->pieces[v->cell_piece[i]];

				if (rb < M_PI_2 &&
				    astro_sphgeom_dot(pc->m, h->centre) < pc->ch * crb - pc->sh * srb - COS_MARGIN)
					continue;
				if (astro_sphgeom_arc_poly(v->v[pc->k], v->v[pc->k + 1], h) <= buf)
					return 1;
			}
		}
	return 0;
}

/* ---------------------------------------------------------------- answers */

static int answer_json(json_t *j, char **answer)
{
	*answer = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return *answer ? 0 : -ENOMEM;
}

static int answer_error(char **answer, int *status, int code, const char *fmt, ...)
	ASTRO_PRINTF(4, 5);
static int answer_error(char **answer, int *status, int code, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	*status = code;
	return answer_json(json_pack("{s:s, s:[]}", "error", msg, "allow_list"), answer);
}

/* An integer member, or a message in *why. */
static int get_int(const struct astro_sfreq *r, enum astro_satfilter_req_field f, int64_t *out,
		   char *why, size_t wl)
{
	const struct astro_satfilter_req_value *x = &r->f[f];

	if (x->kind == ASTRO_SFREQ_ABSENT) {
		return astro_err_set(why, wl, -EINVAL, "Missing column %s.", astro_satfilter_req_field_name(f));
	}
	if (x->kind != ASTRO_SFREQ_INT && x->kind != ASTRO_SFREQ_INTSTR) {
		return astro_err_set(why, wl, -EINVAL, "%s is not an integer",
				     astro_satfilter_req_field_name(f));
	}
	*out = x->i;
	return 0;
}

static int get_num(const struct astro_sfreq *r, enum astro_satfilter_req_field f, double lo,
		   double hi, double *out, char *why, size_t wl)
{
	const struct astro_satfilter_req_value *x = &r->f[f];
	const char *name = astro_satfilter_req_field_name(f);

	if (x->kind == ASTRO_SFREQ_ABSENT) {
		return astro_err_set(why, wl, -EINVAL, "Missing column %s.", name);
	}
	if (x->kind != ASTRO_SFREQ_INT && x->kind != ASTRO_SFREQ_REAL) {
		return astro_err_set(why, wl, -EINVAL, "%s is not a number", name);
	}
	*out = x->d;
	if (!(*out >= lo && *out <= hi)) {
		return astro_err_set(why, wl, -ERANGE, "%s is out of range [%g, %g]", name, lo, hi);
	}
	return 0;
}

/* `historical`: absent or false 0, true 1 (sattle's flag), else a message. */
static int get_historical(const struct astro_sfreq *r, int *hist, char *why, size_t wl)
{
	enum astro_satfilter_req_kind k = r->f[ASTRO_SFREQ_HISTORICAL].kind;

	*hist = k == ASTRO_SFREQ_TRUE;
	if (k == ASTRO_SFREQ_ABSENT || k == ASTRO_SFREQ_FALSE || k == ASTRO_SFREQ_TRUE)
		return 0;
	return astro_err_set(why, wl, -EINVAL, "historical is not a boolean");
}

static int handle_visit(struct astro_satfilter *sf, const struct astro_sfreq *r,
			char **answer, int *status)
{
	char why[160];
	const char *fail = NULL;
	int64_t id;
	double t0, t1, ra, dec;
	int rc, hist;

	if (get_int(r, ASTRO_SFREQ_VISIT_ID, &id, why, sizeof(why)) ||
	    get_num(r, ASTRO_SFREQ_EXPOSURE_START, 41317.0, 88069.0, &t0, why, sizeof(why)) ||
	    get_num(r, ASTRO_SFREQ_EXPOSURE_END, 41317.0, 88069.0, &t1, why, sizeof(why)) ||
	    get_num(r, ASTRO_SFREQ_BORESIGHT_RA, -HUGE_VAL, HUGE_VAL, &ra, why, sizeof(why)) ||
	    get_num(r, ASTRO_SFREQ_BORESIGHT_DEC, -90.0, 90.0, &dec, why, sizeof(why)) ||
	    get_historical(r, &hist, why, sizeof(why)))
		return answer_error(answer, status, 400, "%s", why);
	if (!(t1 >= t0) || (t1 - t0) * 86400.0 > ASTRO_SATFILTER_MAX_EXPOSURE_S)
		return answer_error(answer, status, 400,
				    "exposure must end after it starts and last at most %.0f s",
				    ASTRO_SATFILTER_MAX_EXPOSURE_S);
	/* RA is a direction: -0.5 and 359.5 are one visit */
	ra = fmod(ra, 360.0);
	if (ra < 0)
		ra += 360.0;
	rc = ensure_visit(sf, id, hist, t0, t1, ra, dec, &fail);
	if (rc)
		return answer_error(answer, status,
				    rc == -EAGAIN ? 503 : rc == -ERANGE || rc == -ENOTSUP ? 400 : 500,
				    "%s", fail ? fail : "failed to compute");
	*status = 200;
	return answer_json(json_pack("{s:I, s:s}", "visit_id", (json_int_t)id, "status",
				     "cached"),
			   answer);
}

/* The hull of a source's corners (shape and ranges already checked by the
 * reader); 0, or -ERANGE with a message when the corners span a hemisphere
 * (no convex polygon: not a box).  A wide box is computed like any other:
 * sattle serves them (its example client's boxes are 0.6 deg). */
static int hull_of(const struct astro_satfilter_req_source *src, struct astro_sphgeom_poly *h,
		   char *why, size_t wl, size_t index)
{
	double pts[ASTRO_SPHGEOM_MAX_VERTS][3];

	static_assert(ASTRO_SFREQ_MAX_CORNERS <= ASTRO_SPHGEOM_MAX_VERTS, "corners fit a hull");
	assert(src->ncorners >= 1 && src->ncorners <= ASTRO_SFREQ_MAX_CORNERS);
	for (unsigned k = 0; k < src->ncorners; k++)
		astro_sphgeom_vec(src->corner[k][0], src->corner[k][1], pts[k]);
	if (astro_sphgeom_hull((const double (*)[3])pts, src->ncorners, h) != 0) {
		return astro_err_set(why, wl, -ERANGE, "diasources[%zu].bbox is not a convex polygon", index);
	}
	return 0;
}

/* The success answer, written directly: for 10,000 ids a jansson array
 * (a malloc per integer) costs more than the filtering. */
static int answer_allow(int64_t visit, int64_t det, const int64_t *ids, size_t n,
			char **answer)
{
	size_t cap = 96 + n * 22, len;
	char *p = malloc(cap);

	if (!p)
		return -ENOMEM;
	len = (size_t)snprintf(p, cap, "{\"visit_id\":%" PRId64 ",\"detector_id\":%" PRId64
			       ",\"allow_list\":[", visit, det);
	for (size_t i = 0; i < n; i++) {
		char digits[21];
		uint64_t u = ids[i] < 0 ? 0 - (uint64_t)ids[i] : (uint64_t)ids[i];
		size_t k = sizeof(digits);

		do
			digits[--k] = (char)('0' + u % 10);
		while (u /= 10);
		if (ids[i] < 0)
			digits[--k] = '-';
		if (i)
			p[len++] = ',';
		memcpy(p + len, digits + k, sizeof(digits) - k);
		len += sizeof(digits) - k;
	}
	assert(len + 3 <= cap);
	memcpy(p + len, "]}", 3);
	*answer = p;
	return 0;
}

static int handle_sources(struct astro_satfilter *sf, const struct astro_sfreq *r,
			  char **answer, int *status)
{
	char why[160];
	int64_t id, det, *allow = NULL;
	struct visit *v;
	size_t nallow = 0;
	int rc, hist;

	if (get_int(r, ASTRO_SFREQ_VISIT_ID, &id, why, sizeof(why)) ||
	    get_int(r, ASTRO_SFREQ_DETECTOR_ID, &det, why, sizeof(why)) ||
	    get_historical(r, &hist, why, sizeof(why)))
		return answer_error(answer, status, 400, "%s", why);
	if (r->f[ASTRO_SFREQ_DIASOURCES].kind == ASTRO_SFREQ_ABSENT)
		return answer_error(answer, status, 400, "Missing column diasources.");
	if (!r->sources_is_array)
		return answer_error(answer, status, 400, "diasources is not an array");
	if (r->nsources > ASTRO_SATFILTER_MAX_SOURCES)
		return answer_error(answer, status, 413, "more than %u diasources in one request",
				    ASTRO_SATFILTER_MAX_SOURCES);
	pthread_mutex_lock(&sf->lock);
	v = find_locked(sf, id, hist);
	if (v && v->state == 1)
		v->refs++;
	else
		v = NULL;
	pthread_mutex_unlock(&sf->lock);
	if (!v)
		return answer_error(answer, status, 404,
				    "Provided visit %" PRId64 "%s not present in cache!.", id,
				    hist ? "_historical" : "");
	allow = malloc((r->nkept ? r->nkept : 1) * sizeof(*allow));
	if (!allow) {
		rc = answer_error(answer, status, 500, "out of memory");
		goto out;
	}
	/* Sources in array order, so the first problem reported is the first
	 * in the request; the reader's own finding is at index nkept. */
	for (size_t i = 0; i < r->nkept; i++) {
		struct astro_sphgeom_poly h;

		if (hull_of(&r->src[i], &h, why, sizeof(why), i)) {
			rc = answer_error(answer, status, 400, "%s", why);
			goto out;
		}
		if (!near_track(sf, v, &h))
			allow[nallow++] = r->src[i].id;
	}
	if (r->bad) {
		rc = answer_error(answer, status, 400, "%s", r->bad_msg);
		goto out;
	}
	*status = 200;
	rc = answer_allow(id, det, allow, nallow, answer);
	if (rc)
		rc = answer_error(answer, status, 500, "out of memory");
out:
	free(allow);
	visit_put(sf, v);
	return rc;
}

int astro_satfilter_handle(struct astro_satfilter *sf, const char *req,
			   size_t len, char **answer, int *status)
{
	return astro_satfilter_handle_kind(sf, ASTRO_SATFILTER_ANY, req, len, answer, status);
}

int astro_satfilter_health(struct astro_satfilter *sf, char **answer, int *status)
{
	static const char *const decade[] = { "0-9", "10-99", "100-999", "1000-9999",
					      "10000-99999", "100000-999999" };
	int64_t age_s = 0;
	size_t n = 0, d = 0;
	int have;

	pthread_mutex_lock(&sf->lock);
	have = sf->cat != NULL;
	if (have) {
		n = sf->cat->n;
		age_s = (sf->o.now_ms() - sf->cat->loaded_ms) / 1000;
	}
	pthread_mutex_unlock(&sf->lock);
	if (!have) {
		*status = 503;
		return answer_json(json_pack("{s:s}", "status", "no catalogue"), answer);
	}
	for (size_t k = n; k >= 10 && d + 1 < ASTRO_ARRAY_SIZE(decade); k /= 10)
		d++;
	*status = 200;
	return answer_json(json_pack("{s:s, s:I, s:s}", "status", "ok", "catalogue_age_s",
				     (json_int_t)age_s, "catalogue_objects", decade[d]),
			   answer);
}

int astro_satfilter_handle_kind(struct astro_satfilter *sf, enum astro_satfilter_kind kind,
				const char *req, size_t len, char **answer, int *status)
{
	struct astro_sfreq r;
	char err[200];
	int rc;

	*answer = NULL;
	if (len > ASTRO_SATFILTER_MAX_REQUEST)
		return answer_error(answer, status, 413, "request larger than %u bytes",
				    ASTRO_SATFILTER_MAX_REQUEST);
	rc = astro_satfilter_req_parse(req, len, ASTRO_SATFILTER_MAX_SOURCES, &r, err, sizeof(err));
	if (rc == -ENOMEM)
		return answer_error(answer, status, 500, "out of memory");
	if (rc)
		return answer_error(answer, status, 400, "%s", err);
	if (!r.is_object)
		rc = answer_error(answer, status, 400, "request is not a JSON object");
	else if (kind == ASTRO_SATFILTER_SOURCES ||
		 (kind == ASTRO_SATFILTER_ANY && r.f[ASTRO_SFREQ_DIASOURCES].kind != ASTRO_SFREQ_ABSENT))
		rc = handle_sources(sf, &r, answer, status);
	else
		rc = handle_visit(sf, &r, answer, status);
	astro_satfilter_req_free(&r);
	return rc;
}

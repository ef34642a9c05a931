/* prov_telemetry.c — the /telemetry tree over the archive (see prov_telemetry.h). */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/astro.h"
#include "core/log.h"
#include "core/stats.h"
#include "prov_telemetry.h"
#include "tlm_archive.h"
#include "tlm_fmt.h"
#include "tlm_http.h"
#include "tlm_npy.h"
#include "tlm_plot.h"
#include "tlm_remote.h"
#include "tlm_staging.h"
#include "tlm_time.h"

#define MARK_EVERY 512
#define SZCACHE 256
/*
 * A file (or range) whose text is at most this long is kept whole by the
 * pass that counts its size: counting formats every row only to throw the
 * text away, and the reads then format it all again (a one-hour range
 * served over HTTP spent half its CPU on the second pass).  Larger ones
 * keep the sparse index and render as they are read.
 */
#define WHOLE_MAX (2u << 20)
/* A samples range shorter than a day holds no whole day, so the per-day
 * byte counts (size_from_days) cannot spare it counting row by row. */
#define SHORT_SPAN (86400LL * ASTRO_TLM_US)

struct mark {
	uint64_t off;
	int64_t key;
};

/* A rendered file's size (and, for samples, its sparse index) per content version. */
struct szent {
	char path[320];
	uint64_t ver[2], size, body;	/* body: size less the header */
	int64_t mtime;
	struct mark *marks;
	size_t nmarks;
	/*
	 * The whole text when a getattr rendered it (a view kept whole), for
	 * the open that follows to take instead of rendering it again.
	 */
	char *text;
	size_t tlen;
	int used;
};

/* Texts held in the size cache, all entries together (see szent.text). */
#define STASH_MAX (32u << 20)

/* Files in staging_dir are taken once unmodified this long, checked this often. */
#define STAGING_MIN_AGE 10
#define STAGING_INTERVAL_MS 5000

/* The version each path was last opened at (see tp_open's keep_cache). */
struct opened {
	char path[320];
	uint64_t ver[2];
	int used;
};
#define NOPENED 128

struct tprov {
	struct astro_tlm_archive *a;
	struct astro_tlm_watcher *watcher;
	struct astro_tlm_http *http;
	struct astro_tlm_remote *remote;	/* archive_url: a view of that archive */
	uint64_t salt;		/* this archive's identity, for ETags (see file_info) */
	pthread_mutex_t mu;
	struct szent cache[SZCACHE];
	unsigned next;
	size_t stashed;		/* bytes of szent texts */
	struct opened opened[NOPENED];
	unsigned next_opened;
	void (*invalidate)(void *arg, const char *path);
	void *invalidate_arg;
};

enum fkind { F_INDEX = 1, F_BADTIMES, F_SAMPLES, F_STATS, F_SVG, F_LEDGER };
enum nkind { N_ROOT = 1, N_MSIDDIR, N_YEARDIR, N_FILE, N_INGESTDIR };

struct node {
	enum nkind kind;
	enum fkind fk;
	char msid[ASTRO_TLM_MSID_MAX];
	int year;
	int daily;
	int npy;		/* NumPy .npy instead of CSV */
	int png;		/* F_SVG: the PNG of the plot */
	int whole;		/* no range: everything */
	int64_t t0, t1;		/* [t0, t1) TT µs when !whole */
};

struct view {
	pthread_mutex_t mu;
	struct astro_tlm_reader *r;
	struct node n;
	struct astro_tlm_meta m;
	int64_t k0, k1;		/* key range: times or bin indexes */
	char *head;
	size_t hlen;
	uint64_t size;
	int64_t mtime;
	struct mark *marks;
	size_t nmarks, capmarks;
	struct astro_tlm_state_count *cols;
	size_t ncols, capcols;
	/* .npy: the record layout (rec = 0 for text files) */
	struct astro_tlm_npy_field *fields;
	size_t nfields, rec;
	/* the producer: the row now in `row` starts at byte cur_off of the body */
	struct astro_tlm_iter *it;
	struct astro_tlm_siter *sit;
	int64_t last_key;
	char *row;
	size_t rowlen, rowcap;
	uint64_t cur_off;
	int row_valid;
	/* when set, CSV sample rows go straight onto its end, not into row */
	struct astro_buf *sink;
};

/* ---- text building ---- */

static void sb_chr(struct astro_buf *b, char c)
{
	astro_buf_put(b, &c, 1);
}

static void sb_csv(struct astro_buf *b, const char *s, size_t n)
{
	size_t need = astro_tlm_fmt_csv_text(s, n, NULL, 0);
	char *d = astro_buf_room(b, need);

	if (d) {
		astro_tlm_fmt_csv_text(s, n, d, need);
		b->len += need;
	}
}

static void sb_val(struct astro_buf *b, const struct astro_tlm_val *v)
{
	char num[ASTRO_TLM_NUM_BUF];

	if (v->type == ASTRO_TLM_STATE)
		sb_csv(b, v->text, v->tlen);
	else if (v->type == ASTRO_TLM_INT)
		astro_buf_put(b, num, astro_tlm_fmt_int(v->i, num));
	else
		astro_buf_put(b, num, astro_tlm_fmt_double(v->f, num));
}

static void sb_num(struct astro_buf *b, double x)
{
	char num[ASTRO_TLM_NUM_BUF];

	astro_buf_put(b, num, astro_tlm_fmt_double(x, num));
}

static void sb_time(struct astro_buf *b, int64_t t)
{
	char buf[ASTRO_TLM_TIME_BUF];

	astro_buf_put(b, buf, astro_tlm_time_fmt_date(t, buf));
	sb_chr(b, ',');
	astro_buf_put(b, buf, astro_tlm_time_fmt_secs(t, buf));
}

/* ---- paths ---- */

static int ends_with(const char *s, size_t n, const char *suf)
{
	size_t k = strlen(suf);

	return n >= k && !memcmp(s + n - k, suf, k);
}

/*
 * ".5min.csv" → 5min stats, ".daily.csv" → daily, ".csv" → samples, and the
 * same with ".npy"; the stem length.
 */
static int split_suffix(const char *s, size_t n, struct node *nd, size_t *stem)
{
	if (ends_with(s, n, ".svg") || ends_with(s, n, ".png")) {
		nd->fk = F_SVG;
		nd->png = ends_with(s, n, ".png");
		*stem = n - 4;
		return 0;
	}
	if (ends_with(s, n, ".npy"))
		nd->npy = 1;
	else if (!ends_with(s, n, ".csv"))
		return -ENOENT;
	n -= 4;
	if (ends_with(s, n, ".5min")) {
		nd->fk = F_STATS;
		nd->daily = 0;
		*stem = n - 5;
	} else if (ends_with(s, n, ".daily")) {
		nd->fk = F_STATS;
		nd->daily = 1;
		*stem = n - 6;
	} else {
		nd->fk = F_SAMPLES;
		*stem = n;
	}
	return 0;
}

static int day_span(int year, int doy, int64_t *t0, int64_t *t1)
{
	struct astro_tlm_utc u = {.year = year, .doy = doy};
	int last = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 366 : 365;

	if (doy < 1 || doy > last || astro_tlm_time_from_utc(&u, t0))
		return -ENOENT;
	u.doy = doy == last ? 1 : doy + 1;
	u.year = doy == last ? year + 1 : year;
	return astro_tlm_time_from_utc(&u, t1) ? -ENOENT : 0;
}

static int digits_only(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return n > 0;
}

static int parse_path(const char *path, struct node *nd)
{
	const char *slash = strchr(path, '/'), *at;
	size_t n = strlen(path), stem;

	memset(nd, 0, sizeof(*nd));
	nd->whole = 1;
	if (n == 0) {
		nd->kind = N_ROOT;
		return 0;
	}
	if (!strcmp(path, ".ingest")) {
		nd->kind = N_INGESTDIR;
		return 0;
	}
	if (!strcmp(path, ".ingest/ledger.csv")) {
		nd->kind = N_FILE;
		nd->fk = F_LEDGER;
		return 0;
	}
	if (!strcmp(path, "INDEX.csv") || !strcmp(path, "BAD_TIMES")) {
		nd->kind = N_FILE;
		nd->fk = path[0] == 'I' ? F_INDEX : F_BADTIMES;
		return 0;
	}
	if (slash) {
		const char *y = slash + 1, *s2 = strchr(y, '/');

		if (astro_tlm_parse_msid_canon(path, (size_t)(slash - path), nd->msid))
			return -ENOENT;
		if (!s2) {
			if (strlen(y) != 4 || !digits_only(y, 4))
				return -ENOENT;
			nd->kind = N_YEARDIR;
			nd->year = (y[0] - '0') * 1000 + (y[1] - '0') * 100 + (y[2] - '0') * 10 + (y[3] - '0');
			return 0;
		}
		if ((size_t)(s2 - y) != 4 || !digits_only(y, 4) || strlen(s2 + 1) != 7 ||
		    !digits_only(s2 + 1, 3) || (strcmp(s2 + 4, ".csv") && strcmp(s2 + 4, ".npy")))
			return -ENOENT;
		nd->kind = N_FILE;
		nd->npy = !strcmp(s2 + 4, ".npy");
		nd->fk = F_SAMPLES;
		nd->year = (y[0] - '0') * 1000 + (y[1] - '0') * 100 + (y[2] - '0') * 10 + (y[3] - '0');
		nd->whole = 0;
		return day_span(nd->year, (s2[1] - '0') * 100 + (s2[2] - '0') * 10 + (s2[3] - '0'),
				&nd->t0, &nd->t1);
	}
	if ((at = strchr(path, '@'))) {
		const char *r = at + 1, *dd = strstr(r, "..");
		char err[96];

		if (astro_tlm_parse_msid_canon(path, (size_t)(at - path), nd->msid))
			return -ENOENT;
		if (split_suffix(path, n, nd, &stem))
			return -ENOENT;
		nd->kind = N_FILE;
		nd->whole = 0;
		if (!dd || dd >= path + stem)
			return -EINVAL;
		if (astro_tlm_time_parse(r, (size_t)(dd - r), &nd->t0, err, sizeof(err)) ||
		    astro_tlm_time_parse(dd + 2, (size_t)(path + stem - dd - 2), &nd->t1, err, sizeof(err)))
			return -EINVAL;
		return nd->t1 < nd->t0 ? -EINVAL : 0;
	}
	if (split_suffix(path, n, nd, &stem) == 0) {
		if (astro_tlm_parse_msid_canon(path, stem, nd->msid))
			return -ENOENT;
		nd->kind = N_FILE;
		return 0;
	}
	if (astro_tlm_parse_msid_canon(path, n, nd->msid))
		return -ENOENT;
	nd->kind = N_MSIDDIR;
	return 0;
}

/* ---- views: one file rendered against one snapshot ---- */

static int64_t floordiv64(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && a < 0) ? q - 1 : q;
}

static int64_t ceildiv64(int64_t a, int64_t b)
{
	return -floordiv64(-a, b);
}

static int64_t dt_of(const struct view *v)
{
	return v->n.daily ? ASTRO_TLM_DT_DAILY : ASTRO_TLM_DT_5MIN;
}

static void producer_stop(struct view *v)
{
	astro_tlm_archive_iter_close(v->it);
	astro_tlm_archive_siter_close(v->sit);
	v->it = NULL;
	v->sit = NULL;
	v->row_valid = 0;
}

static int producer_start(struct view *v, int64_t key)
{
	producer_stop(v);
	if (v->n.fk == F_SAMPLES)
		return astro_tlm_archive_iter_open(v->r, &v->m, key, v->k1, 0, &v->it);
	return astro_tlm_archive_siter_open(v->r, &v->m, v->n.daily, key, v->k1, &v->sit);
}

static int cmp_text(const char *a, uint32_t al, const char *b, uint32_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	return c ? c : (al > bl) - (al < bl);
}

/* Add the states of one bin to the sorted union of columns. */
static int add_cols(struct view *v, const struct astro_tlm_stat *st)
{
	for (size_t i = 0; i < st->nstates; i++) {
		size_t lo = 0, hi = v->ncols;

		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			int c = cmp_text(v->cols[mid].text, v->cols[mid].tlen, st->states[i].text, st->states[i].tlen);

			if (c == 0) {
				lo = hi = mid;
				goto next;
			}
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (v->ncols == v->capcols) {
			size_t nc = v->capcols ? v->capcols * 2 : 8;
			void *q = realloc(v->cols, nc * sizeof(*v->cols));

			if (!q)
				return -ENOMEM;
			v->cols = q;
			v->capcols = nc;
		}
		memmove(&v->cols[lo + 1], &v->cols[lo], (v->ncols - lo) * sizeof(*v->cols));
		v->cols[lo] = st->states[i];
		v->ncols++;
next:
		;
	}
	return 0;
}

/*
 * The bin's count of state column c.  Both lists are sorted, so calls for
 * c = 0, 1, … with the same *j make one merge pass.
 */
static uint32_t state_count(const struct view *v, const struct astro_tlm_stat *st, size_t c,
			    size_t *j)
{
	while (*j < st->nstates && cmp_text(st->states[*j].text, st->states[*j].tlen,
					    v->cols[c].text, v->cols[c].tlen) < 0)
		(*j)++;
	if (*j < st->nstates && !cmp_text(st->states[*j].text, st->states[*j].tlen,
					  v->cols[c].text, v->cols[c].tlen))
		return st->states[*j].n;
	return 0;
}

static void render_stat(struct view *v, const struct astro_tlm_stat *st, struct astro_buf *b)
{
	int64_t dt = dt_of(v);
	char num[ASTRO_TLM_NUM_BUF];

	sb_time(b, st->index * dt + dt / 2);
	sb_chr(b, ',');
	astro_buf_put(b, num, astro_tlm_fmt_int(st->index, num));
	sb_chr(b, ',');
	astro_buf_put(b, num, astro_tlm_fmt_int(st->n, num));
	sb_chr(b, ',');
	if (v->m.type == ASTRO_TLM_STATE) {
		size_t j = 0;

		sb_val(b, &st->mid);
		for (size_t c = 0; c < v->ncols; c++) {
			sb_chr(b, ',');
			astro_buf_put(b, num, astro_tlm_fmt_int(state_count(v, st, c, &j), num));
		}
		sb_chr(b, '\n');
		return;
	}
	sb_val(b, &st->min);
	sb_chr(b, ',');
	sb_val(b, &st->max);
	sb_chr(b, ',');
	sb_num(b, st->mean);
	sb_chr(b, ',');
	sb_val(b, &st->mid);
	if (v->n.daily) {
		sb_chr(b, ',');
		sb_num(b, st->std);
		for (int k = 0; k < ASTRO_TLM_NPCT; k++) {
			sb_chr(b, ',');
			sb_num(b, st->p[k]);
		}
	}
	sb_chr(b, '\n');
}

/* ---- .npy records ---- */

/* CXC seconds as a double: the nearest double to the CSV's exact decimal t/1e6. */
static double secs_of(int64_t t)
{
	return (double)t / 1e6;
}

static int row_room(struct view *v, size_t n)
{
	if (v->rowcap < n) {
		char *q = realloc(v->row, n);

		if (!q)
			return -ENOMEM;
		v->row = q;
		v->rowcap = n;
	}
	return 0;
}

/* A value in its column's dtype (a FLOAT MSID may hold integer samples). */
static char *npy_put_val(char *d, const struct astro_tlm_npy_field *f,
			 const struct astro_tlm_val *x)
{
	if (f->type == ASTRO_TLM_NPY_S)
		return astro_tlm_npy_put_s(d, x->text, x->tlen, f->width);
	if (f->type == ASTRO_TLM_NPY_I8)
		return astro_tlm_npy_put_i8(d, x->type == ASTRO_TLM_INT ? x->i : (int64_t)x->f);
	return astro_tlm_npy_put_f8(d, x->type == ASTRO_TLM_INT ? (double)x->i : x->f);
}

/* One stats record, the columns of the stats CSV less `date`. */
static void render_stat_npy(struct view *v, const struct astro_tlm_stat *st, char *d)
{
	int64_t dt = dt_of(v);

	d = astro_tlm_npy_put_f8(d, secs_of(st->index * dt + dt / 2));
	d = astro_tlm_npy_put_i8(d, st->index);
	d = astro_tlm_npy_put_i8(d, st->n);
	if (v->m.type == ASTRO_TLM_STATE) {
		size_t j = 0;

		d = npy_put_val(d, &v->fields[3], &st->mid);
		for (size_t c = 0; c < v->ncols; c++)
			d = astro_tlm_npy_put_i8(d, state_count(v, st, c, &j));
		return;
	}
	d = npy_put_val(d, &v->fields[3], &st->min);
	d = npy_put_val(d, &v->fields[4], &st->max);
	d = astro_tlm_npy_put_f8(d, st->mean);
	d = npy_put_val(d, &v->fields[6], &st->mid);	/* after secs…mean */
	if (v->n.daily) {
		d = astro_tlm_npy_put_f8(d, st->std);
		for (int k = 0; k < ASTRO_TLM_NPCT; k++)
			d = astro_tlm_npy_put_f8(d, st->p[k]);
	}
}

static int widest_state(void *arg, const struct astro_tlm_stat *st);

/*
 * The .npy record layout of a samples or stats view: the CSV's columns less
 * `date`.  State text is |S of the longest state: for stats the union of the
 * range's columns (already in v->cols); for samples every state the MSID's
 * daily bins have counted, an upper bound for any range of it.
 */
static int npy_setup(struct view *v)
{
	static const char *const pct[ASTRO_TLM_NPCT] = {"p01", "p05", "p16", "p50", "p84", "p95", "p99"};
	char vt = v->m.type == ASTRO_TLM_INT ? ASTRO_TLM_NPY_I8 :
		  v->m.type == ASTRO_TLM_FLOAT ? ASTRO_TLM_NPY_F8 : ASTRO_TLM_NPY_S;
	uint32_t width = 1;
	size_t n = 0, cap = 16 + v->ncols;
	struct astro_tlm_npy_field *f;
	int rc;

	if (v->m.type == ASTRO_TLM_STATE) {
		if (v->n.fk == F_SAMPLES) {
			struct astro_tlm_siter *it;
			struct astro_tlm_stat st;

			if ((rc = astro_tlm_archive_siter_open(v->r, &v->m, 1, INT64_MIN, INT64_MAX, &it)))
				return rc;
			while ((rc = astro_tlm_archive_siter_next(it, &st)) == 1)
				widest_state(&width, &st);
			astro_tlm_archive_siter_close(it);
			if (rc < 0)
				return rc;
		}
		for (size_t c = 0; c < v->ncols; c++)
			width = v->cols[c].tlen > width ? v->cols[c].tlen : width;
	}
	if (!(f = calloc(cap, sizeof(*f))))
		return -ENOMEM;
#define FIELD(nm, ty) (f[n++] = (struct astro_tlm_npy_field){.prefix = (nm), .text = "", .type = (ty), .width = width})
	FIELD("secs", ASTRO_TLM_NPY_F8);
	if (v->n.fk == F_SAMPLES) {
		FIELD("value", vt);
	} else {
		FIELD("index", ASTRO_TLM_NPY_I8);
		FIELD("samples", ASTRO_TLM_NPY_I8);
		if (v->m.type == ASTRO_TLM_STATE) {
			FIELD("midval", vt);
			for (size_t c = 0; c < v->ncols; c++)
				f[n++] = (struct astro_tlm_npy_field){.prefix = "n_", .text = v->cols[c].text,
					.tlen = v->cols[c].tlen, .type = ASTRO_TLM_NPY_I8};
		} else {
			FIELD("min", vt);
			FIELD("max", vt);
			FIELD("mean", ASTRO_TLM_NPY_F8);
			FIELD("midval", vt);
			if (v->n.daily) {
				FIELD("std", ASTRO_TLM_NPY_F8);
				for (int k = 0; k < ASTRO_TLM_NPCT; k++)
					FIELD(pct[k], ASTRO_TLM_NPY_F8);
			}
		}
	}
#undef FIELD
	v->fields = f;
	v->nfields = n;
	v->rec = astro_tlm_npy_record_size(f, n);
	return 0;
}

static int widest_state(void *arg, const struct astro_tlm_stat *st)
{
	uint32_t *w = arg;

	for (size_t i = 0; i < st->nstates; i++)
		if (st->states[i].tlen > *w)
			*w = st->states[i].tlen;
	return 0;
}

/* Render the next row into v->row; 1, 0 at the end, or -errno. */
static int producer_next(struct view *v)
{
	struct astro_buf b = {v->row, 0, v->rowcap, 0};
	int rc;

	if (v->n.fk == F_SAMPLES) {
		struct astro_tlm_val val;
		int64_t t;
		int bad;
		size_t need;

		if ((rc = astro_tlm_archive_iter_next(v->it, &t, &val, &bad)) != 1)
			return rc;
		v->last_key = t;
		if (v->rec) {
			char *d;

			if ((rc = row_room(v, v->rec)))
				return rc;
			d = astro_tlm_npy_put_f8(v->row, secs_of(t));
			npy_put_val(d, &v->fields[1], &val);
			v->rowlen = v->rec;
			return 1;
		}
		/* the same formatter the archive's per-day byte counts use */
		if (v->sink) {
			char *d = astro_buf_room(v->sink, ASTRO_TLM_ROW_ROOM);
			size_t room = v->sink->cap - v->sink->len - 1;

			if (!d)
				return -ENOMEM;
			if ((need = astro_tlm_fmt_row(t, &val, d, room)) > room) {
				/* a long state text: room for it, then again */
				if (!(d = astro_buf_room(v->sink, need)))
					return -ENOMEM;
				astro_tlm_fmt_row(t, &val, d, need);
			}
			v->sink->len += need;
			v->rowlen = need;
			return 1;
		}
		while ((need = astro_tlm_fmt_row(t, &val, v->row, v->rowcap)) > v->rowcap) {
			char *q = realloc(v->row, need + 64);

			if (!q)
				return -ENOMEM;
			v->row = q;
			v->rowcap = need + 64;
		}
		v->rowlen = need;
		v->last_key = t;
		return 1;
	} else {
		struct astro_tlm_stat st;

		if ((rc = astro_tlm_archive_siter_next(v->sit, &st)) != 1)
			return rc;
		v->last_key = st.index;
		if (v->rec) {
			if ((rc = row_room(v, v->rec)))
				return rc;
			render_stat_npy(v, &st, v->row);
			v->rowlen = v->rec;
			return 1;
		}
		render_stat(v, &st, &b);
	}
	v->row = b.p;
	v->rowcap = b.cap;
	if (b.err)
		return -ENOMEM;
	v->rowlen = b.len;
	return 1;
}

static int index_row(void *arg, const struct astro_tlm_meta *m)
{
	struct astro_buf *b = ((void **)arg)[0];
	int64_t *mtime = ((void **)arg)[1];
	char t[ASTRO_TLM_TIME_BUF], num[ASTRO_TLM_NUM_BUF];
	static const char *types[] = {"?", "int", "float", "state"};

	if (m->samples == 0)
		return 0;
	astro_buf_str(b, m->name);
	sb_chr(b, ',');
	sb_csv(b, m->unit, strlen(m->unit));
	sb_chr(b, ',');
	astro_buf_str(b, types[m->type & 3]);
	sb_chr(b, ',');
	astro_buf_put(b, num, astro_tlm_fmt_int((int64_t)m->samples, num));
	sb_chr(b, ',');
	astro_buf_put(b, t, astro_tlm_time_fmt_date(m->first, t));
	sb_chr(b, ',');
	astro_buf_put(b, t, astro_tlm_time_fmt_date(m->last, t));
	sb_chr(b, '\n');
	if (m->mtime > *mtime)
		*mtime = m->mtime;
	return 0;
}

static int ledger_row(void *arg, const struct astro_tlm_ledger_row *l)
{
	struct astro_buf *b = ((void **)arg)[0];
	int64_t *mtime = ((void **)arg)[1];
	char t[ASTRO_TLM_TIME_BUF], num[ASTRO_TLM_NUM_BUF];
	int64_t ms;

	sb_csv(b, l->name, strlen(l->name));
	sb_chr(b, ',');
	astro_buf_str(b, l->sha256);
	sb_chr(b, ',');
	astro_buf_put(b, t, astro_tlm_time_fmt_date(l->first, t));
	sb_chr(b, ',');
	astro_buf_put(b, t, astro_tlm_time_fmt_date(l->last, t));
	sb_chr(b, ',');
	astro_buf_put(b, num, astro_tlm_fmt_int((int64_t)l->rows, num));
	sb_chr(b, ',');
	astro_buf_put(b, num, astro_tlm_fmt_int((int64_t)l->ingest_id, num));
	sb_chr(b, ',');
	if (astro_tlm_time_from_unix_ms(l->committed_at * 1000, &ms) == 0)
		astro_buf_put(b, t, astro_tlm_time_fmt_iso(ms, 0, t));
	sb_chr(b, '\n');
	if (l->committed_at > *mtime)
		*mtime = l->committed_at;
	return 0;
}

static void view_free(struct view *v)
{
	if (!v)
		return;
	producer_stop(v);
	astro_tlm_archive_reader_close(v->r);
	free(v->head);
	free(v->marks);
	free(v->cols);
	free(v->fields);
	free(v->row);
	pthread_mutex_destroy(&v->mu);
	free(v);
}

/* Look the MSID up in this snapshot; files of MSIDs with no samples do not exist. */
static int view_meta(struct view *v)
{
	int rc = astro_tlm_archive_reader_meta(v->r, v->n.msid, &v->m);

	if (rc == 0 && v->m.samples == 0)
		rc = -ENOENT;
	return rc;
}

static int add_mark(struct view *v, uint64_t off, int64_t key)
{
	if (v->nmarks == v->capmarks) {
		size_t nc = v->capmarks ? v->capmarks * 2 : 16;
		void *q = realloc(v->marks, nc * sizeof(*v->marks));

		if (!q)
			return -ENOMEM;
		v->marks = q;
		v->capmarks = nc;
	}
	v->marks[v->nmarks].off = off;
	v->marks[v->nmarks++].key = key;
	return 0;
}

/* ---- plots ---- */

/*
 * <MSID>.svg and <MSID>.png (tlm_plot.h): the good samples over the range,
 * with the MSID's BAD_TIMES intervals shaded.
 */
static int render_plot(struct view *v, struct astro_buf *b)
{
	struct astro_tlm_iter *it = NULL;
	struct astro_tlm_plot *pl = NULL;
	struct astro_tlm_badtimes bt = {0};
	struct astro_tlm_val val;
	int64_t t, t0 = v->m.first, t1 = v->m.last;
	int bad, rc;
	size_t n;
	const char *txt = astro_tlm_archive_reader_badtimes(v->r, &n, NULL);

	if (!v->n.whole) {
		t0 = v->n.t0;
		t1 = v->n.t1;
	} else {
		int64_t pad = (t1 - t0) / 50;	/* the first and last samples clear of the frame */

		t0 -= pad;
		t1 += pad;
	}
	/* the stored table parsed when it was set; a failure here only loses the shading */
	if (n && astro_tlm_parse_badtimes(txt, n, &bt, NULL, 0))
		memset(&bt, 0, sizeof(bt));
	pl = astro_tlm_plot_new(v->m.name, v->m.unit, v->m.type, t0, t1, &bt);
	astro_tlm_parse_badtimes_free(&bt);
	if (!pl)
		return -ENOMEM;
	if (v->m.type != ASTRO_TLM_STATE && v->m.samples > 4 * ASTRO_TLM_PLOT_COLS &&
	    (t1 - t0) / ASTRO_TLM_PLOT_COLS >= 4 * ASTRO_TLM_DT_5MIN) {
		/* A column spans several 5-minute bins: their min/max/mean, not every sample. */
		struct astro_tlm_siter *sit;
		struct astro_tlm_stat st;

		if ((rc = astro_tlm_archive_siter_open(v->r, &v->m, 0,
						       astro_tlm_stats_index(t0, ASTRO_TLM_DT_5MIN),
						       astro_tlm_stats_index(t1, ASTRO_TLM_DT_5MIN) + 1,
						       &sit)))
			goto out;
		while ((rc = astro_tlm_archive_siter_next(sit, &st)) == 1) {
			double lo = st.min.type == ASTRO_TLM_INT ? (double)st.min.i : st.min.f;
			double hi = st.max.type == ASTRO_TLM_INT ? (double)st.max.i : st.max.f;

			if ((rc = astro_tlm_plot_add_bin(pl, st.index * ASTRO_TLM_DT_5MIN + ASTRO_TLM_DT_5MIN / 2,
							 lo, hi, st.mean, st.n)))
				break;
		}
		astro_tlm_archive_siter_close(sit);
	} else {
		if ((rc = astro_tlm_archive_iter_open(v->r, &v->m, t0, v->n.whole ? INT64_MAX : t1, 0,
						      &it)))
			goto out;
		while ((rc = astro_tlm_archive_iter_next(it, &t, &val, &bad)) == 1)
			if ((rc = astro_tlm_plot_add(pl, t, &val)))
				goto out;
	}
	if (rc < 0)
		goto out;
	rc = astro_tlm_plot_write(pl, v->n.png, b);
out:
	astro_tlm_archive_iter_close(it);
	astro_tlm_plot_free(pl);
	return rc;
}

/* Count the rows of [from, to) into v->size, marking every MARK_EVERY rows. */
static int count_span(struct view *v, int64_t from, int64_t to)
{
	struct astro_tlm_iter *it;
	struct astro_tlm_val val;
	int64_t t;
	int bad, rc;
	size_t rows = 0;

	if ((rc = astro_tlm_archive_iter_open(v->r, &v->m, from, to, 0, &it)))
		return rc;
	while ((rc = astro_tlm_archive_iter_next(it, &t, &val, &bad)) == 1) {
		if (rows++ % MARK_EVERY == 0 && (rc = add_mark(v, v->size, t)))
			break;
		v->size += v->rec ? v->rec : astro_tlm_fmt_row(t, &val, NULL, 0);
	}
	astro_tlm_archive_iter_close(it);
	return rc < 0 ? rc : 0;
}

struct daywalk {
	struct view *v;
	int64_t skip_first, skip_last;	/* day numbers counted separately, or INT64_MIN */
	int rc;
};

static int add_day(void *arg, int64_t day, uint64_t bytes, uint64_t rows)
{
	struct daywalk *w = arg;
	int64_t t;

	if (day == w->skip_first || day == w->skip_last)
		return 0;
	if ((w->rc = astro_tlm_time_day_start(day, &t)) ||
	    (w->rc = add_mark(w->v, w->v->size, t)))
		return 1;
	w->v->size += w->v->rec ? rows * w->v->rec : bytes;
	return 0;
}

/*
 * Size and marks of a samples file from the archive's per-day byte counts:
 * whole days cost one table row each; only partial days at the ends of a
 * range are counted sample by sample.  -ERANGE when a time falls outside
 * 1972..9999 (the caller then counts everything).
 */
static int size_from_days(struct view *v)
{
	int64_t lo = v->k0 > v->m.first ? v->k0 : v->m.first;
	int64_t hi = v->k1 - 1 < v->m.last ? v->k1 - 1 : v->m.last;
	int64_t d0, d1, s0, s1;
	struct daywalk w = {v, INT64_MIN, INT64_MIN, 0};
	int rc;

	v->size = 0;
	if (lo > hi)
		return 0;	/* empty range: header only */
	if ((rc = astro_tlm_time_utc_day(lo, &d0)) || (rc = astro_tlm_time_utc_day(hi, &d1)) ||
	    (rc = astro_tlm_time_day_start(d0, &s0)) || (rc = astro_tlm_time_day_start(d1 + 1, &s1)))
		return -ERANGE;
	/* a range that starts or ends inside a day counts that day's part */
	if (v->k0 > s0) {
		int64_t e;

		w.skip_first = d0;
		if ((rc = astro_tlm_time_day_start(d0 + 1, &e)))
			return -ERANGE;
		if ((rc = count_span(v, v->k0, e < v->k1 ? e : v->k1)))
			return rc;
	}
	if (v->k1 < s1 && d1 != w.skip_first)
		w.skip_last = d1;
	if ((rc = astro_tlm_archive_reader_each_day(v->r, &v->m, d0, d1, add_day, &w)))
		return rc;
	if (w.rc)
		return w.rc;
	if (w.skip_last != INT64_MIN) {
		int64_t b;

		if ((rc = astro_tlm_time_day_start(d1, &b)))
			return -ERANGE;
		if ((rc = count_span(v, b, v->k1)))
			return rc;
	}
	return 0;
}

/*
 * Build a view of a file node on reader r (taken over by the view): header,
 * exact size and the sparse index.
 */
static int view_build(struct astro_tlm_reader *r, const struct node *nd,
		      const struct szent *hint, struct view **out)
{
	struct view *v = calloc(1, sizeof(*v));
	struct astro_buf h = {0}, body = {0};
	int rc = 0, kept_whole = 0;

	*out = NULL;
	if (!v) {
		astro_tlm_archive_reader_close(r);
		return -ENOMEM;
	}
	pthread_mutex_init(&v->mu, NULL);
	v->r = r;
	v->n = *nd;
	if (nd->fk == F_INDEX) {
		void *arg[2] = {&h, &v->mtime};

		astro_buf_str(&h, "msid,unit,type,samples,first,last\n");
		rc = astro_tlm_archive_reader_each_msid(r, index_row, arg);
		goto done;
	}
	if (nd->fk == F_LEDGER) {
		void *arg[2] = {&h, &v->mtime};

		astro_buf_str(&h, "name,sha256,tstart,tstop,rows,ingest_id,committed_at\n");
		rc = astro_tlm_archive_reader_each_ledger(r, ledger_row, arg);
		goto done;
	}
	if (nd->fk == F_BADTIMES) {
		size_t n;
		const char *t = astro_tlm_archive_reader_badtimes(r, &n, &v->mtime);

		astro_buf_put(&h, t, n);
		if (h.len == 0)
			astro_buf_room(&h, 0);
		goto done;
	}
	if ((rc = view_meta(v)))
		goto out;
	v->mtime = v->m.mtime;
	if (nd->fk == F_SVG) {
		/* plots are small: rendered whole, like INDEX.csv */
		rc = render_plot(v, &h);
		goto done;
	}
	if (nd->fk == F_SAMPLES) {
		v->k0 = nd->whole ? INT64_MIN : nd->t0;
		v->k1 = nd->whole ? INT64_MAX : nd->t1;
		if (nd->npy && (rc = npy_setup(v)))
			goto out;
		if (!nd->npy)
			astro_buf_str(&h, "date,secs,value\n");
		if (hint && hint->marks) {
			/* Same content version as a counted view: reuse its count and marks. */
			v->marks = malloc(hint->nmarks * sizeof(*v->marks));
			if (!v->marks) {
				rc = -ENOMEM;
				goto out;
			}
			memcpy(v->marks, hint->marks, hint->nmarks * sizeof(*v->marks));
			v->nmarks = v->capmarks = hint->nmarks;
			v->size = hint->body;
			goto done;
		}
	} else {
		int64_t dt = dt_of(v);

		/* a bin belongs to the range when its middle does (cheta) */
		v->k0 = nd->whole ? INT64_MIN : ceildiv64(nd->t0 - dt / 2, dt);
		v->k1 = nd->whole ? INT64_MAX : ceildiv64(nd->t1 - dt / 2, dt);
		if (v->m.type == ASTRO_TLM_STATE) {
			/* the state columns are the union over the range: one pass first */
			struct astro_tlm_stat st;

			if ((rc = producer_start(v, v->k0)))
				goto out;
			while ((rc = astro_tlm_archive_siter_next(v->sit, &st)) == 1)
				if ((rc = add_cols(v, &st)))
					goto out;
			if (rc < 0)
				goto out;
			/* column texts point into the snapshot's map, which lives with r */
			astro_buf_str(&h, "date,secs,index,samples,midval");
			for (size_t c = 0; c < v->ncols; c++) {
				/* the whole field is quoted when the state text needs it (RFC 4180) */
				struct astro_buf nm = {0};

				astro_buf_str(&nm, "n_");
				astro_buf_put(&nm, v->cols[c].text, v->cols[c].tlen);
				if (nm.err) {
					rc = -ENOMEM;
					goto out;
				}
				sb_chr(&h, ',');
				sb_csv(&h, nm.p, nm.len);
				free(nm.p);
			}
			sb_chr(&h, '\n');
		} else {
			astro_buf_str(&h, "date,secs,index,samples,min,max,mean,midval");
			if (nd->daily)
				astro_buf_str(&h, ",std,p01,p05,p16,p50,p84,p95,p99");
			sb_chr(&h, '\n');
		}
		if (nd->npy) {
			h.len = 0;	/* the CSV header above was for the column pass only */
			if ((rc = npy_setup(v)))
				goto out;
		}
	}
	if (nd->fk == F_SAMPLES && (nd->whole || nd->t1 - nd->t0 >= SHORT_SPAN)) {
		rc = size_from_days(v);
		if (rc == 0)
			goto done;
		if (rc != -ERANGE)
			goto out;
		rc = 0;	/* times outside the day table's range: count instead */
	}
	/*
	 * Counting pass: the exact size, and a mark every MARK_EVERY rows;
	 * the text itself too while it fits WHOLE_MAX.
	 */
	{
		uint64_t off = 0;
		size_t rows = 0;

		/*
		 * A CSV's text goes on the end of its header line; a .npy's
		 * waits in body for the header that tells its row count.
		 */
		struct astro_buf *keep = v->rec ? &body : &h;
		size_t hl = h.len;

		kept_whole = 1;
		astro_buf_room(keep, 64u << 10);	/* a one-hour 1 Hz range: ~150 KB */
		if (v->n.fk == F_SAMPLES && !v->rec)
			v->sink = keep;
		if ((rc = producer_start(v, v->k0)))
			goto out;
		while ((rc = producer_next(v)) == 1) {
			if (rows % MARK_EVERY == 0 && (rc = add_mark(v, off, v->last_key)))
				goto out;
			if (kept_whole && off + v->rowlen > WHOLE_MAX) {
				char *q;

				kept_whole = 0;
				v->sink = NULL;
				/* back to the bare header, giving the room back */
				keep->len = keep == &h ? hl : 0;
				if ((q = realloc(keep->p, keep->len + 1))) {
					keep->p = q;
					keep->cap = keep->len + 1;
				}
			} else if (kept_whole && !v->sink) {
				astro_buf_put(keep, v->row, v->rowlen);
			}
			off += v->rowlen;
			rows++;
		}
		v->sink = NULL;
		if (rc < 0)
			goto out;
		producer_stop(v);
		v->size = off;
		if (kept_whole && keep->err) {
			rc = -ENOMEM;
			goto out;
		}
	}
done:
	if (rc == 0 && v->rec)
		rc = astro_tlm_npy_header(&h, v->fields, v->nfields, v->size / v->rec);
	if (rc == 0 && kept_whole) {
		/*
		 * The whole text is the head now: reads copy it, the producer is
		 * never started again, and no sparse index is kept (a size
		 * cache entry with marks promises a body to render).
		 */
		if (body.len)
			astro_buf_put(&h, body.p, body.len);
		v->size = 0;
		free(v->marks);
		v->marks = NULL;
		v->nmarks = v->capmarks = 0;
	}
	if (h.err || rc < 0) {
		rc = rc < 0 ? rc : -ENOMEM;
		goto out;
	}
	free(body.p);
	v->head = h.p;
	v->hlen = h.len;
	v->size += h.len;
	*out = v;
	return 0;
out:
	free(body.p);
	free(h.p);
	view_free(v);
	return rc;
}

/* Position the producer so that the current row covers body offset `target`. */
static int view_seek(struct view *v, uint64_t target)
{
	int rc;

	if (v->row_valid && target >= v->cur_off && target < v->cur_off + v->rowlen)
		return 1;
	if (!v->row_valid || target < v->cur_off ||
	    (v->nmarks && target >= v->marks[v->nmarks - 1].off && v->cur_off < v->marks[v->nmarks - 1].off)) {
		size_t lo = 0, hi = v->nmarks;

		/* the last mark at or before target */
		while (hi - lo > 1) {
			size_t mid = (lo + hi) / 2;

			if (v->marks[mid].off <= target)
				lo = mid;
			else
				hi = mid;
		}
		if (v->nmarks == 0)
			return 0;
		if ((rc = producer_start(v, v->marks[lo].key)))
			return rc;
		v->cur_off = v->marks[lo].off;
		if ((rc = producer_next(v)) != 1)
			return rc;
		v->row_valid = 1;
	}
	while (target >= v->cur_off + v->rowlen) {
		v->cur_off += v->rowlen;
		if ((rc = producer_next(v)) != 1) {
			v->row_valid = 0;
			return rc;
		}
	}
	return 1;
}

static int view_read(struct view *v, char *buf, size_t size, off_t off)
{
	size_t done = 0;
	uint64_t pos = (uint64_t)off;
	int rc = 0;

	if (off < 0)
		return -EINVAL;
	pthread_mutex_lock(&v->mu);
	while (done < size && pos < v->size) {
		if (pos < v->hlen) {
			size_t n = v->hlen - pos < size - done ? v->hlen - pos : size - done;

			memcpy(buf + done, v->head + pos, n);
			done += n;
			pos += n;
			continue;
		}
		rc = view_seek(v, pos - v->hlen);
		if (rc <= 0)
			break;
		uint64_t in = pos - v->hlen - v->cur_off;
		size_t n = v->rowlen - in < size - done ? v->rowlen - in : size - done;

		memcpy(buf + done, v->row + in, n);
		done += n;
		pos += n;
	}
	pthread_mutex_unlock(&v->mu);
	if (rc < 0)
		return rc;
	if (done > (size_t)INT32_MAX)
		done = INT32_MAX;
	return (int)done;
}

/* ---- provider ---- */

static void tp_destroy(void *priv);

static int tp_init(const struct astro_ctx *ctx, void **priv)
{
	struct tprov *p = calloc(1, sizeof(*p));
	char err[512];
	int rc;

	if (!p)
		return -ENOMEM;
	if (!ctx->cfg->archive_dir && !ctx->cfg->archive_url) {
		astro_err("telemetry: no archive_dir configured");
		free(p);
		return -EINVAL;
	}
	pthread_mutex_init(&p->mu, NULL);
	p->invalidate = ctx->invalidate;
	p->invalidate_arg = ctx->invalidate_arg;
	if (ctx->cfg->archive_url) {
		/* ingest and serving stay on the archive host */
		if (ctx->cfg->staging_dir || ctx->cfg->telemetry_listen) {
			astro_err("telemetry: staging_dir and telemetry_listen need the archive "
				  "itself, not archive_url");
			pthread_mutex_destroy(&p->mu);
			free(p);
			return -EINVAL;
		}
		rc = astro_tlm_remote_open(&p->remote, ctx, err, sizeof(err));
		if (rc) {
			astro_err("telemetry: %s", err);
			pthread_mutex_destroy(&p->mu);
			free(p);
			return rc;
		}
		*priv = p;
		return 0;
	}
	/* Read-write: the staging watcher ingests through this handle. */
	rc = astro_tlm_archive_open(ctx->cfg->archive_dir, 0, &p->a, err, sizeof(err));
	if (rc) {
		astro_err("telemetry: %s", err);
		pthread_mutex_destroy(&p->mu);
		free(p);
		return rc;
	}
	/* Generations restart in a recreated archive: its identity keeps an
	 * old ETag (and a kept rendering) from naming new bytes. */
	p->salt = astro_tlm_archive_id(p->a);
	if (ctx->cfg->staging_dir &&
	    (rc = astro_tlm_staging_start(p->a, ctx->cfg->staging_dir, STAGING_MIN_AGE,
					  STAGING_INTERVAL_MS, &p->watcher)))
		astro_err("telemetry: cannot watch %s: %s", ctx->cfg->staging_dir, strerror(-rc));
	if (ctx->cfg->telemetry_listen) {
		struct astro_tlm_http_opts ho = {
			.listen = ctx->cfg->telemetry_listen,
			.tls_cert = ctx->cfg->telemetry_tls_cert,
			.tls_key = ctx->cfg->telemetry_tls_key,
			.token_file = ctx->cfg->telemetry_token,
			.allow = ctx->cfg->telemetry_allow,
			.prov = p,
			.archive_dir = ctx->cfg->archive_dir,
			.cache = ctx->cache,
		};

		rc = astro_tlm_http_start(&p->http, &ho, err, sizeof(err));
		if (rc) {
			astro_err("telemetry: listener on %s: %s", ctx->cfg->telemetry_listen, err);
			tp_destroy(p);
			return rc;
		}
	}
	*priv = p;
	return 0;
}

static void tp_destroy(void *priv)
{
	struct tprov *p = priv;

	if (!p)
		return;
	/* requests in progress finish before the archive goes */
	astro_tlm_http_stop(p->http);
	astro_tlm_remote_close(p->remote);
	astro_tlm_staging_stop(p->watcher);
	astro_tlm_archive_close(p->a);
	for (int i = 0; i < SZCACHE; i++) {
		free(p->cache[i].marks);
		free(p->cache[i].text);
	}
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static int year_has_data(struct astro_tlm_reader *r, const struct astro_tlm_meta *m,
			 int year, int64_t *first_t)
{
	struct astro_tlm_utc u = {.year = year, .doy = 1};
	struct astro_tlm_iter *it;
	struct astro_tlm_val v;
	int64_t t0, t1, t;
	int bad, rc;

	if (astro_tlm_time_from_utc(&u, &t0))
		return 0;
	u.year = year + 1;
	if (astro_tlm_time_from_utc(&u, &t1))
		t1 = INT64_MAX;
	if (astro_tlm_archive_iter_open(r, m, t0, t1, ASTRO_TLM_ALL, &it))
		return 0;
	rc = astro_tlm_archive_iter_next(it, &t, &v, &bad);
	astro_tlm_archive_iter_close(it);
	if (rc == 1 && first_t)
		*first_t = t;
	return rc == 1;
}

static int utc_year(int64_t t)
{
	struct astro_tlm_utc u;

	return astro_tlm_time_to_utc(t, &u) ? 0 : u.year;
}

/*
 * A file's content version: the MSID's last commit and the BAD_TIMES table
 * (so ingests of other MSIDs keep cached sizes), or the whole archive's
 * generation for INDEX.csv.
 */
static int file_version(struct astro_tlm_reader *r, const struct node *nd, uint64_t ver[2])
{
	struct astro_tlm_meta m;

	ver[0] = ver[1] = 0;
	if (nd->fk == F_INDEX || nd->fk == F_LEDGER) {
		ver[0] = astro_tlm_archive_reader_generation(r);
	} else if (nd->fk == F_BADTIMES) {
		ver[0] = astro_tlm_archive_reader_badtimes_gen(r);
	} else {
		if (astro_tlm_archive_reader_meta(r, nd->msid, &m) || m.samples == 0)
			return -ENOENT;
		ver[0] = m.gen;
		ver[1] = astro_tlm_archive_reader_badtimes_gen(r);
	}
	return 0;
}

/* Copy a cached entry out (marks duplicated when want_marks); 1 on a hit. */
static int cache_get(struct tprov *p, const char *path, const uint64_t ver[2],
		     struct szent *out, int want_marks)
{
	int hit = 0;

	pthread_mutex_lock(&p->mu);
	for (int i = 0; i < SZCACHE && !hit; i++) {
		struct szent *e = &p->cache[i];

		if (!e->used || e->ver[0] != ver[0] || e->ver[1] != ver[1] || strcmp(e->path, path))
			continue;
		*out = *e;
		out->marks = NULL;
		out->text = NULL;
		if (want_marks && e->marks && (out->marks = malloc(e->nmarks * sizeof(*e->marks))))
			memcpy(out->marks, e->marks, e->nmarks * sizeof(*e->marks));
		if (want_marks && e->text) {
			/* an open takes the text a getattr rendered: once */
			out->text = e->text;
			p->stashed -= e->tlen;
			e->text = NULL;
			e->tlen = 0;
		}
		hit = 1;
	}
	pthread_mutex_unlock(&p->mu);
	return hit;
}

static void cache_put(struct tprov *p, const char *path, const uint64_t ver[2],
		      struct view *v, int give_text)
{
	struct mark *marks = NULL;
	struct szent *e;

	if (strlen(path) >= sizeof(p->cache[0].path))
		return;
	if (v->n.fk == F_SAMPLES && v->nmarks &&
	    (marks = malloc(v->nmarks * sizeof(*marks))))
		memcpy(marks, v->marks, v->nmarks * sizeof(*marks));
	pthread_mutex_lock(&p->mu);
	e = &p->cache[p->next++ % SZCACHE];
	free(e->marks);
	free(e->text);
	p->stashed -= e->tlen;
	e->text = NULL;
	e->tlen = 0;
	/* a view whose whole text is its head: the next open may take it */
	if (give_text && v->head && v->size == v->hlen && v->hlen <= WHOLE_MAX &&
	    p->stashed + v->hlen <= STASH_MAX) {
		e->text = v->head;
		e->tlen = v->hlen;
		p->stashed += v->hlen;
		v->head = NULL;
	}
	astro_strlcpy(e->path, path, sizeof(e->path));
	memcpy(e->ver, ver, sizeof(e->ver));
	e->size = v->size;
	e->body = v->size - v->hlen;
	e->mtime = v->mtime;
	e->marks = marks;
	e->nmarks = marks ? v->nmarks : 0;
	e->used = 1;
	pthread_mutex_unlock(&p->mu);
}

/* A range is closed once its stop is this far in the past (TT µs). */
#define CLOSED_AFTER_US (86400LL * 1000000)

/* The ETag and closedness of node nd at version ver and size (see file_info). */
static void tag_of(const struct tprov *p, const struct node *nd, const uint64_t ver[2],
		   uint64_t size, struct astro_prov_telemetry_info *out)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a over what picks the rows */
	int64_t now, span[4];

	span[0] = nd->whole;
	span[1] = nd->t0;
	span[2] = nd->t1;
	span[3] = (int64_t)p->salt;
	for (size_t i = 0; i < sizeof(span); i++) {
		h ^= ((const unsigned char *)span)[i];
		h *= 1099511628211ULL;
	}
	snprintf(out->etag, sizeof(out->etag), "\"%llx.%llx.%016llx.%llx\"",
		 (unsigned long long)ver[0], (unsigned long long)ver[1], (unsigned long long)h,
		 (unsigned long long)size);
	out->closed = !nd->whole && (nd->fk == F_SAMPLES || nd->fk == F_STATS || nd->fk == F_SVG) &&
		      astro_tlm_time_from_unix_ms(astro_now_ms(), &now) == 0 &&
		      nd->t1 <= now - CLOSED_AFTER_US;
}

/* getattr, and for a file its tag too when info is not NULL. */
static int stat_path(struct tprov *p, const char *path, struct astro_attr *a,
		     struct astro_prov_telemetry_info *info)
{
	struct astro_tlm_reader *r = NULL;
	struct astro_tlm_meta m;
	struct view *v;
	struct node nd;
	struct szent hit;
	uint64_t ver[2] = {0, 0};
	int rc;

	memset(a, 0, sizeof(*a));
	if ((rc = parse_path(path, &nd)))
		return rc;
	if ((rc = astro_tlm_archive_reader_open(p->a, &r)))
		return rc;
	if (nd.kind == N_ROOT || nd.kind == N_INGESTDIR) {
		a->kind = ASTRO_DIR;
		goto out;
	}
	if (nd.kind == N_MSIDDIR || nd.kind == N_YEARDIR) {
		if ((rc = astro_tlm_archive_reader_meta(r, nd.msid, &m)) || m.samples == 0) {
			rc = -ENOENT;
			goto out;
		}
		if (nd.kind == N_YEARDIR && !year_has_data(r, &m, nd.year, NULL)) {
			rc = -ENOENT;
			goto out;
		}
		a->kind = ASTRO_DIR;
		a->mtime = m.mtime;
		goto out;
	}
	if ((rc = file_version(r, &nd, ver)))
		goto out;
	if (cache_get(p, path, ver, &hit, 0)) {
		a->kind = ASTRO_FILE;
		a->size = hit.size;
		a->mtime = hit.mtime;
		goto out;
	}
	rc = view_build(r, &nd, NULL, &v);
	r = NULL;	/* the view owns (and on failure closed) the reader */
	if (rc)
		goto out;
	a->kind = ASTRO_FILE;
	a->size = v->size;
	a->mtime = v->mtime;
	cache_put(p, path, ver, v, 1);
	view_free(v);
out:
	if (rc == 0 && info && a->kind == ASTRO_FILE) {
		info->size = a->size;
		info->mtime = a->mtime;
		tag_of(p, &nd, ver, a->size, info);
	}
	astro_tlm_archive_reader_close(r);
	return rc;
}

static int tp_getattr(void *priv, const char *path, struct astro_attr *a)
{
	struct tprov *p = priv;

	assert(priv);
	if (p->remote)
		return astro_tlm_remote_getattr(p->remote, path, a);
	return stat_path(p, path, a, NULL);
}

int astro_prov_telemetry_stat(void *priv, const char *path, struct astro_attr *a,
			      struct astro_prov_telemetry_info *info)
{
	struct tprov *p = priv;

	assert(priv);
	if (p->remote)
		return -EOPNOTSUPP;
	return stat_path(p, path, a, info);
}

struct fillctx {
	astro_fill_fn fill;
	void *buf;
	int full;
};

static int list_msid(void *arg, const struct astro_tlm_meta *m)
{
	struct fillctx *fc = arg;
	static const char *sfx[] = {".csv", ".5min.csv", ".daily.csv", ".npy", ".5min.npy",
				    ".daily.npy", "", ".svg", ".png"};
	char name[ASTRO_TLM_MSID_MAX + 16];

	if (m->samples == 0)
		return 0;
	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(sfx); i++) {
		snprintf(name, sizeof(name), "%s%s", m->name, sfx[i]);
		if (fc->fill(fc->buf, name, NULL)) {
			fc->full = 1;
			return 1;
		}
	}
	return 0;
}

static int tp_readdir(void *priv, const char *path, astro_fill_fn fill, void *buf)
{
	struct tprov *p = priv;
	struct astro_tlm_reader *r = NULL;
	struct astro_tlm_meta m;
	struct node nd;
	char name[32];
	int rc;

	assert(priv);
	if (p->remote)
		return astro_tlm_remote_readdir(p->remote, path, fill, buf);
	if ((rc = parse_path(path, &nd)))
		return rc;
	if (nd.kind == N_FILE)
		return -ENOTDIR;
	if ((rc = astro_tlm_archive_reader_open(p->a, &r)))
		return rc;
	if (nd.kind == N_ROOT) {
		struct fillctx fc = {fill, buf, 0};

		if (fill(buf, "INDEX.csv", NULL) || fill(buf, "BAD_TIMES", NULL) ||
		    fill(buf, ".ingest", NULL))
			goto out;
		rc = astro_tlm_archive_reader_each_msid(r, list_msid, &fc);
		goto out;
	}
	if (nd.kind == N_INGESTDIR) {
		fill(buf, "ledger.csv", NULL);
		goto out;
	}
	if ((rc = astro_tlm_archive_reader_meta(r, nd.msid, &m)) || m.samples == 0) {
		rc = -ENOENT;
		goto out;
	}
	if (nd.kind == N_MSIDDIR) {
		for (int y = utc_year(m.first); y && y <= utc_year(m.last); y++) {
			if (!year_has_data(r, &m, y, NULL))
				continue;
			snprintf(name, sizeof(name), "%04d", y);
			if (fill(buf, name, NULL))
				break;
		}
		goto out;
	}
	/* Days of one year that hold samples: seek from day to day. */
	{
		int64_t t;

		if (!year_has_data(r, &m, nd.year, &t)) {
			rc = -ENOENT;
			goto out;
		}
		for (;;) {
			struct astro_tlm_utc u;
			int64_t d0, d1;

			if (astro_tlm_time_to_utc(t, &u) || u.year != nd.year)
				break;
			snprintf(name, sizeof(name), "%03d.csv", u.doy);
			if (fill(buf, name, NULL))
				break;
			snprintf(name, sizeof(name), "%03d.npy", u.doy);
			if (fill(buf, name, NULL))
				break;
			if (day_span(u.year, u.doy, &d0, &d1))
				break;
			struct astro_tlm_iter *it;
			struct astro_tlm_val v;
			int bad;

			if (astro_tlm_archive_iter_open(r, &m, d1, INT64_MAX, ASTRO_TLM_ALL, &it))
				break;
			rc = astro_tlm_archive_iter_next(it, &t, &v, &bad);
			astro_tlm_archive_iter_close(it);
			if (rc != 1) {
				rc = rc < 0 ? rc : 0;
				break;
			}
			rc = 0;
		}
	}
out:
	astro_tlm_archive_reader_close(r);
	return rc;
}

/*
 * Record that `path` is now opened at `ver`; return 1 when its previous open
 * was at the same version.  Only then are the kernel's cached pages of this
 * file (filled by that earlier open) known to hold these very bytes, so
 * re-reads of unchanged telemetry come from the page cache like a local
 * file's.  An unknown or evicted path answers 0: the safe choice.
 */
static int same_as_last_open(struct tprov *p, const char *path, const uint64_t ver[2])
{
	struct opened *slot = NULL;
	int same = 0;

	if (strlen(path) >= sizeof(p->opened[0].path))
		return 0;
	pthread_mutex_lock(&p->mu);
	for (int i = 0; i < NOPENED; i++)
		if (p->opened[i].used && strcmp(p->opened[i].path, path) == 0) {
			slot = &p->opened[i];
			same = slot->ver[0] == ver[0] && slot->ver[1] == ver[1];
			break;
		}
	if (!slot) {
		slot = &p->opened[p->next_opened++ % NOPENED];
		astro_strlcpy(slot->path, path, sizeof(slot->path));
		slot->used = 1;
	}
	memcpy(slot->ver, ver, sizeof(slot->ver));
	pthread_mutex_unlock(&p->mu);
	return same;
}

/* A view of the text a getattr rendered (hint->text, taken over). */
static int view_of_text(struct astro_tlm_reader *r, const struct node *nd,
			const struct szent *hint, struct view **out)
{
	struct view *v = calloc(1, sizeof(*v));

	*out = NULL;
	if (!v) {
		free(hint->text);
		astro_tlm_archive_reader_close(r);
		return -ENOMEM;
	}
	pthread_mutex_init(&v->mu, NULL);
	v->r = r;
	v->n = *nd;
	v->head = hint->text;
	v->hlen = v->size = hint->tlen;
	v->mtime = hint->mtime;
	*out = v;
	return 0;
}

static int tp_open(void *priv, const char *path, int flags, struct astro_file *f)
{
	struct tprov *p = priv;
	struct astro_tlm_reader *r;
	struct szent hint;
	struct view *v;
	struct node nd;
	uint64_t ver[2];
	int rc, hit = 0;

	assert(priv);
	if (p->remote)
		return astro_tlm_remote_openf(p->remote, path, flags, f);
	if ((flags & 3) != 0)	/* O_RDONLY only */
		return -EROFS;
	if ((rc = parse_path(path, &nd)))
		return rc;
	if (nd.kind != N_FILE)
		return -EISDIR;
	if ((rc = astro_tlm_archive_reader_open(p->a, &r)))
		return rc;
	if ((rc = file_version(r, &nd, ver))) {
		astro_tlm_archive_reader_close(r);
		return rc;
	}
	/* A getattr just counted this very version: skip the counting pass. */
	hit = cache_get(p, path, ver, &hint, 1);
	/* The view keeps this read txn to release: one snapshot per open file. */
	if (hit && hint.text)
		rc = view_of_text(r, &nd, &hint, &v);
	else
		rc = view_build(r, &nd, hit ? &hint : NULL, &v);
	if (hit)
		free(hint.marks);
	if (rc)
		return rc;
	if (!hit)
		cache_put(p, path, ver, v, 0);
	f->keep_cache = same_as_last_open(p, path, ver);
	/*
	 * Another version than the last open: the kernel may still hold the
	 * size of an older one for attr_keep_ms and would cut reads (and
	 * mmap) of this open at it, so a .npy's data would not match its
	 * header and a CSV would end mid-row.  Drop it before the open returns.
	 */
	if (!f->keep_cache && p->invalidate)
		p->invalidate(p->invalidate_arg, path);
	f->handle = v;
	return 0;
}

static int tp_read(void *priv, const char *path, struct astro_file *f, char *buf,
		   size_t size, off_t off)
{
	int n;

	assert(priv);
	if (((struct tprov *)priv)->remote)
		return astro_tlm_remote_read(((struct tprov *)priv)->remote, path, f, buf, size, off);
	if (!f || !f->handle)
		return -EBADF;
	n = view_read(f->handle, buf, size, off);
	/* bytes rendered for the kernel: a re-read from the page cache adds none */
	if (n > 0)
		astro_stats_add("telemetry.bytes_read", n);
	return n;
}

static int tp_release(void *priv, const char *path, struct astro_file *f)
{
	assert(priv);
	if (((struct tprov *)priv)->remote)
		return astro_tlm_remote_release(((struct tprov *)priv)->remote, path, f);
	if (f) {
		view_free(f->handle);
		f->handle = NULL;
	}
	return 0;
}

int astro_prov_telemetry_file_info(void *priv, const struct astro_file *f,
				   struct astro_prov_telemetry_info *out)
{
	struct view *v;
	uint64_t ver[2];
	int rc;

	assert(priv);
	if (!f || !(v = f->handle))
		return -EBADF;
	pthread_mutex_lock(&v->mu);
	rc = file_version(v->r, &v->n, ver);
	pthread_mutex_unlock(&v->mu);
	if (rc)
		return rc;
	out->size = v->size;
	out->mtime = v->mtime;
	tag_of(priv, &v->n, ver, v->size, out);
	return 0;
}

/* A view of a remote archive: ingest happens on the archive host. */
static int tp_readonly(void *priv)
{
	assert(priv);
	return ((struct tprov *)priv)->remote != NULL;
}

struct astro_tlm_archive *astro_prov_telemetry_archive(void *priv)
{
	return priv ? ((struct tprov *)priv)->a : NULL;
}

const struct astro_provider astro_prov_telemetry = {
	.name = "telemetry",
	.init = tp_init,
	.destroy = tp_destroy,
	.getattr = tp_getattr,
	.readdir = tp_readdir,
	.open = tp_open,
	.read = tp_read,
	.release = tp_release,
	.readonly = tp_readonly,
};

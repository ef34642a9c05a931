/* tlm_archive.c — the telemetry archive on its own LMDB environment (see tlm_archive.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <time.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include "core/astro.h"
#include "core/log.h"
#include "services/cache.h"
#include "tlm_archive.h"
#include "tlm_block.h"
#include "tlm_fmt.h"
#include "tlm_time.h"

#define MAP_SIZE (1ULL << 38)	/* 256 GiB of address space; the file grows as used */

/*
 * Samples live in "blocks.v1": key (MSID id, time of the block's first
 * sample), value a tlm_block (version byte first, CRC-checked).  Blocks of
 * one MSID never overlap, so the block holding time t is the last one whose
 * key is <= t.  A new block layout gets a new database name.
 */
#define BLOCKS_DB "blocks.v1"
#define FORMAT 2	/* info "format": 1 = one record per sample (database "samples") */

struct astro_tlm_archive {
	MDB_env *env;
	MDB_dbi meta, blocks, ledger, s5, sd, info, days;
	unsigned flags;
	astro_tlm_progress_fn progress;
	void *progress_arg;
	void *map_base;		/* LMDB's map of data.mdb, once found (release_map) */
	size_t map_len;
	uint64_t id;		/* info "archive_id" (ensure_id) */
};

/* Shares of an ingest's time (measured on a year at 1 Hz): parse, store, stats. */
#define W_PARSE 0.30
#define W_STORE 0.45
#define W_STATS 0.25

void astro_tlm_archive_set_progress(struct astro_tlm_archive *a, astro_tlm_progress_fn fn,
				    void *arg)
{
	a->progress = fn;
	a->progress_arg = arg;
}

/* Phase `base` .. base + w of the whole, `done` of `total` through it. */
static void progress(struct astro_tlm_archive *a, double base, double w, size_t done,
		     size_t total, uint64_t samples)
{
	if (a->progress && total)
		a->progress(a->progress_arg, base + w * (double)done / (double)total, samples);
}

struct astro_tlm_reader {
	struct astro_tlm_archive *a;
	MDB_txn *txn;
	struct astro_tlm_badtimes bt;
	uint64_t generation;
};

struct meta_rec {
	uint32_t id;
	uint8_t type, pad[3];
	uint64_t samples;
	int64_t first, last, mtime;
	char unit[32];
	uint64_t gen;
};

/* When a commit happens: wall-clock seconds and the generation it creates. */
struct stamp {
	int64_t now;
	uint64_t gen;
};

struct ledger_rec {
	unsigned char sha[32];
	uint64_t rows, ingest_id;
	int64_t first, last, committed_at;
	uint32_t nmsid, pad;
	/* uint32_t msid ids follow */
};

struct stat_num_rec {
	uint32_t n;
	uint8_t type, pad[3];
	int64_t mini, maxi, midi;
	double minf, maxf, midf, mean, std, p[ASTRO_TLM_NPCT];
};

/* LMDB codes as every astrofs environment maps them (cache.h). */
static int mdb_errno(int rc)
{
	return astro_cache_lmdb_errno(rc);
}

/* The words through astro_err_set; the macro only adds the jump to out. */
#define ERR(code, ...) do { rc = astro_err_set(err, errlen, (code), __VA_ARGS__); goto out; } while (0)

/* ---- keys ---- */

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void put_be64(unsigned char *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint64_t get_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* (id, signed 64-bit) as 12 bytes that sort like the pair. */
static void mkkey(unsigned char k[12], uint32_t id, int64_t x)
{
	put_be32(k, id);
	put_be64(k + 4, (uint64_t)x ^ 0x8000000000000000ULL);
}

static int64_t key_x(const MDB_val *k)
{
	return (int64_t)(get_be64((const unsigned char *)k->mv_data + 4) ^ 0x8000000000000000ULL);
}

static uint32_t key_id(const MDB_val *k)
{
	return get_be32(k->mv_data);
}

/* ---- open/close ---- */

static int convert_v1(struct astro_tlm_archive *a, MDB_txn *txn, const char *dir, char *err,
		      size_t errlen);
static int ensure_id(struct astro_tlm_archive *a, MDB_txn *txn);

int astro_tlm_archive_open(const char *dir, unsigned flags,
			   struct astro_tlm_archive **out, char *err,
			   size_t errlen)
{
	struct astro_tlm_archive *a = calloc(1, sizeof(*a));
	MDB_txn *txn = NULL;
	unsigned envf = MDB_NOTLS | ((flags & ASTRO_TLM_RDONLY) ? MDB_RDONLY : 0);
	unsigned dbf = (flags & ASTRO_TLM_RDONLY) ? 0 : MDB_CREATE;
	int rc;

	*out = NULL;
	if (!a)
		return -ENOMEM;
	a->flags = flags;
	if (!(flags & ASTRO_TLM_RDONLY) && (rc = astro_mkdir_p(dir, ASTRO_TLM_DIR_MODE)) < 0)
		ERR(rc, "%s: cannot create: %s", dir, strerror(-rc));
	if ((rc = mdb_env_create(&a->env)) || (rc = mdb_env_set_maxdbs(a->env, 8)) ||
	    (rc = mdb_env_set_mapsize(a->env, MAP_SIZE)) ||
	    (rc = mdb_env_set_maxreaders(a->env, 1022))) {
		rc = mdb_errno(rc);
		ERR(rc, "%s: LMDB setup failed", dir);
	}
	if ((rc = mdb_env_open(a->env, dir, envf, ASTRO_TLM_FILE_MODE))) {
		int e = mdb_errno(rc);

		ERR(e, "%s: cannot open the archive: %s", dir, mdb_strerror(rc));
	}
	if ((rc = mdb_txn_begin(a->env, NULL, envf & MDB_RDONLY, &txn)))
		ERR(mdb_errno(rc), "%s: %s", dir, mdb_strerror(rc));
	if ((rc = mdb_dbi_open(txn, "meta", dbf, &a->meta)) ||
	    (rc = mdb_dbi_open(txn, "ledger", dbf, &a->ledger)) ||
	    (rc = mdb_dbi_open(txn, "s5", dbf, &a->s5)) ||
	    (rc = mdb_dbi_open(txn, "sd", dbf, &a->sd)) ||
	    (rc = mdb_dbi_open(txn, "info", dbf, &a->info)) ||
	    (rc = mdb_dbi_open(txn, "days", dbf, &a->days))) {
		int e = rc == MDB_NOTFOUND ? -ENOENT : mdb_errno(rc);

		ERR(e, "%s: %s", dir, rc == MDB_NOTFOUND ? "not an archive (empty; run astrofs-ingest first)" : mdb_strerror(rc));
	}
	if ((rc = mdb_dbi_open(txn, BLOCKS_DB, dbf, &a->blocks)) == MDB_NOTFOUND) {
		/* Read-only and no blocks: a format-1 archive (refused) or an empty one. */
		if ((rc = convert_v1(a, txn, dir, err, errlen)))
			goto out;
		rc = MDB_NOTFOUND;
	}
	if (rc) {
		int e = rc == MDB_NOTFOUND ? -ENOENT : mdb_errno(rc);

		ERR(e, "%s: %s", dir, rc == MDB_NOTFOUND ? "not an archive (empty; run astrofs-ingest first)" : mdb_strerror(rc));
	}
	if (!(flags & ASTRO_TLM_RDONLY) && (rc = convert_v1(a, txn, dir, err, errlen)))
		goto out;
	if ((rc = ensure_id(a, txn)))
		ERR(rc, "%s: cannot record the archive's identity: %s", dir, strerror(-rc));
	if ((rc = mdb_txn_commit(txn))) {
		txn = NULL;
		ERR(mdb_errno(rc), "%s: %s", dir, mdb_strerror(rc));
	}
	txn = NULL;
	*out = a;
	return 0;
out:
	if (txn)
		mdb_txn_abort(txn);
	if (a->env)
		mdb_env_close(a->env);
	free(a);
	return rc;
}

void astro_tlm_archive_close(struct astro_tlm_archive *a)
{
	if (!a)
		return;
	mdb_env_close(a->env);
	free(a);
}

/* ---- info helpers ---- */

static uint64_t info_u64(struct astro_tlm_archive *a, MDB_txn *txn, const char *key)
{
	MDB_val k = {strlen(key), (void *)key}, v;
	uint64_t x = 0;

	if (mdb_get(txn, a->info, &k, &v) == 0 && v.mv_size == sizeof(x))
		memcpy(&x, v.mv_data, sizeof(x));
	return x;
}

static int info_put_u64(struct astro_tlm_archive *a, MDB_txn *txn, const char *key, uint64_t x)
{
	MDB_val k = {strlen(key), (void *)key}, v = {sizeof(x), &x};

	return mdb_errno(mdb_put(txn, a->info, &k, &v, 0));
}

/*
 * A random identity, drawn once when the archive is first opened for
 * writing and never changed: generations restart in a recreated archive,
 * and this (not the data file's inode, which a filesystem reuses) keeps an
 * old ETag or a kept rendering from naming new bytes.  A read-only open
 * of an archive written before identities existed has none (0).
 */
static int ensure_id(struct astro_tlm_archive *a, MDB_txn *txn)
{
	uint64_t id = info_u64(a, txn, "archive_id");
	int rc;

	if (!id && !(a->flags & ASTRO_TLM_RDONLY)) {
		do {
			if ((rc = astro_random(&id, sizeof(id))))
				return rc;
		} while (!id);
		if ((rc = info_put_u64(a, txn, "archive_id", id)))
			return rc;
	}
	a->id = id;
	return 0;
}

uint64_t astro_tlm_archive_id(const struct astro_tlm_archive *a)
{
	return a->id;
}

static const char *info_badtimes(struct astro_tlm_archive *a, MDB_txn *txn, size_t *len)
{
	MDB_val k = {8, (void *)"badtimes"}, v;

	if (mdb_get(txn, a->info, &k, &v) != 0) {
		*len = 0;
		return "";
	}
	*len = v.mv_size;
	return v.mv_data;
}

static int load_badtimes(struct astro_tlm_archive *a, MDB_txn *txn,
			 struct astro_tlm_badtimes *bt)
{
	size_t len;
	const char *text = info_badtimes(a, txn, &len);

	/* Stored only after it parsed, so failure here means damage. */
	return astro_tlm_parse_badtimes(text, len, bt, NULL, 0) ? -EIO : 0;
}

/* ---- sample blocks ---- */


/* The samples of one MSID in [t0, t1), a block at a time. */
struct bscan {
	MDB_cursor *c;
	uint32_t id;
	int64_t t0, t1;
	struct astro_tlm_block blk;
	size_t pos;
	int started, done;
	int err;		/* once a block failed: every later call fails the same */
	int64_t key;		/* first time of the loaded block */
	uint32_t key_id;	/* and its MSID */
	int cached;		/* blk still holds that block (none written since) */
};

/* A damaged block: said once in the log with where it is, -EIO to the caller. */
static int block_damaged(uint32_t id, int64_t key, const char *why)
{
	astro_err("telemetry archive: the block of MSID id %u at %lld is damaged and is not served: %s",
		  id, (long long)key, why);
	return -EIO;
}

/*
 * Samples before tmax (INT64_MAX: all), with values from tmin on (INT64_MIN:
 * all); *whole: the block's count.
 */
static int block_decode_span(uint32_t id, int64_t key, const MDB_val *v, int64_t tmin,
			     int64_t tmax, struct astro_tlm_block *b, size_t *whole)
{
	char why[160];
	int rc = astro_tlm_block_decode_span(v->mv_data, v->mv_size, tmin, tmax, b, whole, why,
					     sizeof(why));

	if (rc == -EIO)
		return block_damaged(id, key, why);
	return rc;
}

static int block_decode(uint32_t id, int64_t key, const MDB_val *v, struct astro_tlm_block *b)
{
	return block_decode_span(id, key, v, INT64_MIN, INT64_MAX, b, NULL);
}

/* Load the block under the cursor if it is id's and starts before t1: 1, 0 at the end. */
static int bscan_load(struct bscan *s, const MDB_val *key, const MDB_val *val)
{
	int64_t k;
	size_t whole = 0;
	int rc;

	if (key->mv_size != 12 || key_id(key) != s->id || (k = key_x(key)) >= s->t1) {
		s->done = 1;
		return 0;
	}
	/*
	 * Only the samples before t1 are decoded, and only those from t0 on
	 * get values; a block cut short at either end is not kept for the
	 * next scan, which may want more of it.
	 */
	if (s->cached && s->key == k && s->key_id == s->id && s->blk.n) {
		whole = s->blk.n;
	} else if ((rc = block_decode_span(s->id, k, val, s->t0, s->t1, &s->blk, &whole))) {
		s->cached = 0;
		return rc;
	}
	s->key = k;
	s->key_id = s->id;
	s->cached = s->blk.n == whole && s->blk.n && s->blk.t[0] >= s->t0;
	s->pos = 0;
	while (s->pos < s->blk.n && s->blk.t[s->pos] < s->t0)
		s->pos++;
	return 1;
}

/*
 * Position c on the block of id that holds time t: the last one starting at
 * or before t, else the first after it.  MDB_NOTFOUND when id has none.
 */
static int seek_block(MDB_cursor *c, uint32_t id, int64_t t, MDB_val *key, MDB_val *val)
{
	unsigned char k[12];
	int rc, prc;

	mkkey(k, id, t);
	key->mv_size = 12;
	key->mv_data = k;
	rc = mdb_cursor_get(c, key, val, MDB_SET_RANGE);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	if (rc == 0 && key_id(key) == id && key_x(key) == t)
		return 0;
	prc = mdb_cursor_get(c, key, val, rc == 0 ? MDB_PREV : MDB_LAST);
	if (prc == 0 && key->mv_size == 12 && key_id(key) == id)
		return 0;
	if (rc)
		return MDB_NOTFOUND;
	mkkey(k, id, t);
	key->mv_size = 12;
	key->mv_data = k;
	if ((rc = mdb_cursor_get(c, key, val, MDB_SET_RANGE)))
		return rc;
	return key->mv_size == 12 && key_id(key) == id ? 0 : MDB_NOTFOUND;
}

static int bscan_open(struct bscan *s, MDB_txn *txn, MDB_dbi dbi, uint32_t id, int64_t t0,
		      int64_t t1)
{
	int rc = 0;

	if (!s->c && (rc = mdb_errno(mdb_cursor_open(txn, dbi, &s->c))))
		s->c = NULL;
	s->id = id;
	s->t0 = t0;
	s->t1 = t1;
	s->started = s->done = s->err = 0;
	s->pos = s->blk.n;
	return rc;
}

static void bscan_close(struct bscan *s)
{
	if (s->c)
		mdb_cursor_close(s->c);
	s->c = NULL;
	astro_tlm_block_free(&s->blk);
	s->cached = 0;
}

/* 1 = sample i of s->blk (s->pos - 1 after the call), 0 = end, -errno. */
static int bscan_next(struct bscan *s, size_t *i)
{
	MDB_val key, val;
	int rc;

	for (;;) {
		if (s->err)
			return s->err;
		if (s->done)
			return 0;
		if (s->started && s->pos < s->blk.n) {
			if (s->blk.t[s->pos] >= s->t1) {
				s->done = 1;
				return 0;
			}
			*i = s->pos++;
			return 1;
		}
		if (!s->started) {
			s->started = 1;
			rc = seek_block(s->c, s->id, s->t0, &key, &val);
		} else {
			rc = mdb_cursor_get(s->c, &key, &val, MDB_NEXT);
		}
		if (rc == MDB_NOTFOUND) {
			s->done = 1;
			return 0;
		}
		if (rc)
			return s->err = mdb_errno(rc);
		if ((rc = bscan_load(s, &key, &val)) < 0)
			return s->err = rc;
		if (rc == 0)
			return 0;
	}
}

/* ---- the old format: one record per sample (read only, to convert) ---- */

#define SAMPLE_HDR 5	/* flags + ingest id */
#define FLAG_BAD 0x4u

static int decode_v1_sample(const MDB_val *v, struct astro_tlm_val *out, int *bad, uint32_t *iid)
{
	const unsigned char *p = v->mv_data;

	memset(out, 0, sizeof(*out));
	if (v->mv_size < SAMPLE_HDR)
		return -EIO;
	out->type = p[0] & 3u;
	*bad = !!(p[0] & FLAG_BAD);
	memcpy(iid, p + 1, 4);
	if (out->type == ASTRO_TLM_STATE) {
		out->text = (const char *)p + SAMPLE_HDR;
		out->tlen = (uint32_t)(v->mv_size - SAMPLE_HDR);
	} else if (out->type == ASTRO_TLM_INT || out->type == ASTRO_TLM_FLOAT) {
		if (v->mv_size != SAMPLE_HDR + 8)
			return -EIO;
		if (out->type == ASTRO_TLM_INT) {
			memcpy(&out->i, p + SAMPLE_HDR, 8);
			out->f = (double)out->i;
		} else {
			memcpy(&out->f, p + SAMPLE_HDR, 8);
		}
	} else {
		return -EIO;
	}
	return 0;
}

/* ---- stats records ---- */

static int put_stat(MDB_txn *txn, MDB_dbi dbi, uint32_t id, const struct astro_tlm_stat *st)
{
	unsigned char k[12];
	MDB_val key = {12, k}, val;
	unsigned char *buf = NULL;
	size_t len;
	int rc;

	mkkey(k, id, st->index);
	if (st->type == ASTRO_TLM_STATE) {
		len = 4 + 1 + 4 + st->mid.tlen + 4;
		for (size_t i = 0; i < st->nstates; i++)
			len += 4 + st->states[i].tlen + 4;
		buf = malloc(len);
		if (!buf)
			return -ENOMEM;
		unsigned char *p = buf;

		memcpy(p, &st->n, 4);
		p[4] = ASTRO_TLM_STATE;
		p += 5;
		memcpy(p, &st->mid.tlen, 4);
		memcpy(p + 4, st->mid.text, st->mid.tlen);
		p += 4 + st->mid.tlen;
		uint32_t ns = (uint32_t)st->nstates;

		memcpy(p, &ns, 4);
		p += 4;
		for (size_t i = 0; i < st->nstates; i++) {
			memcpy(p, &st->states[i].tlen, 4);
			memcpy(p + 4, st->states[i].text, st->states[i].tlen);
			p += 4 + st->states[i].tlen;
			memcpy(p, &st->states[i].n, 4);
			p += 4;
		}
		val.mv_size = len;
		val.mv_data = buf;
	} else {
		struct stat_num_rec r;

		memset(&r, 0, sizeof(r));
		r.n = st->n;
		r.type = st->type;
		r.mini = st->min.i;
		r.maxi = st->max.i;
		r.midi = st->mid.i;
		r.minf = st->min.f;
		r.maxf = st->max.f;
		r.midf = st->mid.f;
		r.mean = st->mean;
		r.std = st->std;
		memcpy(r.p, st->p, sizeof(r.p));
		buf = malloc(sizeof(r));
		if (!buf)
			return -ENOMEM;
		memcpy(buf, &r, sizeof(r));
		val.mv_size = sizeof(r);
		val.mv_data = buf;
	}
	rc = mdb_errno(mdb_put(txn, dbi, &key, &val, 0));
	free(buf);
	return rc;
}

/* Decode; st->states is (re)allocated into *pool of capacity *cap. */
static int decode_stat(const MDB_val *k, const MDB_val *v, struct astro_tlm_stat *st,
		       struct astro_tlm_state_count **pool, size_t *cap)
{
	const unsigned char *p = v->mv_data, *end = p + v->mv_size;

	memset(st, 0, sizeof(*st));
	st->index = key_x(k);
	if (v->mv_size < 5)
		return -EIO;
	memcpy(&st->n, p, 4);
	st->type = p[4];
	if (st->type != ASTRO_TLM_STATE) {
		struct stat_num_rec r;

		if (v->mv_size != sizeof(r))
			return -EIO;
		memcpy(&r, p, sizeof(r));
		st->min.type = st->max.type = st->mid.type = r.type;
		st->min.i = r.mini;
		st->max.i = r.maxi;
		st->mid.i = r.midi;
		st->min.f = r.minf;
		st->max.f = r.maxf;
		st->mid.f = r.midf;
		st->mean = r.mean;
		st->std = r.std;
		memcpy(st->p, r.p, sizeof(r.p));
		return 0;
	}
	p += 5;
	uint32_t l, ns;

	if (end - p < 4)
		return -EIO;
	memcpy(&l, p, 4);
	if ((size_t)(end - p - 4) < l)
		return -EIO;
	st->mid.type = ASTRO_TLM_STATE;
	st->mid.text = (const char *)p + 4;
	st->mid.tlen = l;
	p += 4 + l;
	if (end - p < 4)
		return -EIO;
	memcpy(&ns, p, 4);
	p += 4;
	if (ns > *cap) {
		void *q = realloc(*pool, ns * sizeof(**pool));

		if (!q)
			return -ENOMEM;
		*pool = q;
		*cap = ns;
	}
	for (uint32_t i = 0; i < ns; i++) {
		if (end - p < 4)
			return -EIO;
		memcpy(&l, p, 4);
		if ((size_t)(end - p - 4) < (size_t)l + 4)
			return -EIO;
		(*pool)[i].text = (const char *)p + 4;
		(*pool)[i].tlen = l;
		memcpy(&(*pool)[i].n, p + 4 + l, 4);
		p += 8 + l;
	}
	st->states = *pool;
	st->nstates = ns;
	return 0;
}

/* ---- bin recompute ---- */

struct binbuf {
	int64_t *t;
	struct astro_tlm_val *v;
	size_t n, cap;
	struct bscan scan;	/* its last block stays decoded for the next bin */
};

static void binbuf_free(struct binbuf *b)
{
	free(b->t);
	free(b->v);
	bscan_close(&b->scan);
}

static int binbuf_add(struct binbuf *b, int64_t t, const struct astro_tlm_val *v)
{
	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 1024;
		int64_t *nt = realloc(b->t, nc * sizeof(*nt));

		if (!nt)
			return -ENOMEM;
		b->t = nt;
		struct astro_tlm_val *nv = realloc(b->v, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		b->v = nv;
		b->cap = nc;
	}
	b->t[b->n] = t;
	b->v[b->n++] = *v;
	return 0;
}

/*
 * Call fn for each good sample of m in [t0, t1) within txn: quality-bad and
 * BAD_TIMES samples left out, exactly as readers see them.
 */
static int scan_good(struct astro_tlm_archive *a, MDB_txn *txn,
		     const struct astro_tlm_meta *m,
		     const struct astro_tlm_badtimes *bt, int64_t t0, int64_t t1,
		     struct bscan *s,
		     int (*fn)(void *arg, int64_t t, struct astro_tlm_val *v), void *arg)
{
	size_t i;
	int rc;

	if ((rc = bscan_open(s, txn, a->blocks, m->id, t0, t1)))
		return rc;
	while ((rc = bscan_next(s, &i)) == 1) {
		if (s->blk.bad[i] || astro_tlm_parse_badtimes_match(bt, m->name, s->blk.t[i]))
			continue;
		if ((rc = fn(arg, s->blk.t[i], &s->blk.v[i])))
			break;
	}
	return rc < 0 ? rc : 0;
}

struct bin_arg {
	struct binbuf *bb;
	uint8_t type;
};

static int bin_add(void *arg, int64_t t, struct astro_tlm_val *v)
{
	struct bin_arg *ba = arg;

	if (ba->type == ASTRO_TLM_FLOAT && v->type == ASTRO_TLM_INT)
		v->type = ASTRO_TLM_FLOAT;	/* value already in .f too */
	return binbuf_add(ba->bb, t, v);
}

/* Recompute one bin of one MSID from the filtered samples within txn. */
static int recompute_bin(struct astro_tlm_archive *a, MDB_txn *txn,
			 const struct astro_tlm_meta *m,
			 const struct astro_tlm_badtimes *bt, int daily,
			 int64_t index, struct binbuf *bb)
{
	int64_t dt = daily ? ASTRO_TLM_DT_DAILY : ASTRO_TLM_DT_5MIN;
	unsigned char k[12];
	MDB_val key = {12, k};
	struct astro_tlm_stat st;
	struct bin_arg ba = {bb, m->type};
	MDB_dbi dbi = daily ? a->sd : a->s5;
	int rc, mrc;

	bb->n = 0;
	if ((rc = scan_good(a, txn, m, bt, index * dt, index * dt + dt, &bb->scan, bin_add, &ba)))
		return rc;
	mkkey(k, m->id, index);
	if (bb->n == 0) {
		mrc = mdb_del(txn, dbi, &key, NULL);
		return mrc == MDB_NOTFOUND ? 0 : mdb_errno(mrc);
	}
	if ((rc = astro_tlm_stats_compute(bb->t, bb->v, bb->n, m->type, daily, index, &st)))
		return rc;
	rc = put_stat(txn, dbi, m->id, &st);
	astro_tlm_stats_free(&st);
	return rc;
}

struct day_rec {
	uint64_t bytes, rows;
};

static int day_add(void *arg, int64_t t, struct astro_tlm_val *v)
{
	struct day_rec *dr = arg;

	dr->bytes += astro_tlm_fmt_row(t, v, NULL, 0);
	dr->rows++;
	return 0;
}

/*
 * Bytes and rows the full-resolution CSV of one UTC day renders to (good
 * samples only), so sizes need no pass over the samples at read time.
 */
static int recompute_day(struct astro_tlm_archive *a, MDB_txn *txn,
			 const struct astro_tlm_meta *m,
			 const struct astro_tlm_badtimes *bt, int64_t day, struct binbuf *bb)
{
	int64_t t0, t1;
	unsigned char k[12];
	MDB_val key = {12, k}, val;
	struct day_rec dr = {0, 0};
	int rc, mrc;

	if (astro_tlm_time_day_start(day, &t0))
		return 0;	/* outside 1972..9999: no day files there */
	if (astro_tlm_time_day_start(day + 1, &t1))
		t1 = INT64_MAX;
	if ((rc = scan_good(a, txn, m, bt, t0, t1, &bb->scan, day_add, &dr)))
		return rc;
	mkkey(k, m->id, day);
	if (dr.rows == 0) {
		mrc = mdb_del(txn, a->days, &key, NULL);
		return mrc == MDB_NOTFOUND ? 0 : mdb_errno(mrc);
	}
	val.mv_size = sizeof(dr);
	val.mv_data = &dr;
	return mdb_errno(mdb_put(txn, a->days, &key, &val, 0));
}

/* Every bin of both sizes, and every UTC day, that [t0, t1] overlaps. */
static int recompute_span(struct astro_tlm_archive *a, MDB_txn *txn,
			  const struct astro_tlm_meta *m,
			  const struct astro_tlm_badtimes *bt, int64_t t0,
			  int64_t t1, struct binbuf *bb)
{
	int rc = 0;

	for (int daily = 0; daily <= 1 && !rc; daily++) {
		int64_t dt = daily ? ASTRO_TLM_DT_DAILY : ASTRO_TLM_DT_5MIN;

		for (int64_t i = astro_tlm_stats_index(t0, dt);
		     i <= astro_tlm_stats_index(t1, dt) && !rc; i++)
			rc = recompute_bin(a, txn, m, bt, daily, i, bb);
	}
	int64_t d0, d1;

	if (!rc && astro_tlm_time_utc_day(t0, &d0) == 0 && astro_tlm_time_utc_day(t1, &d1) == 0)
		for (int64_t d = d0; d <= d1 && !rc; d++)
			rc = recompute_day(a, txn, m, bt, d, bb);
	return rc;
}

/* ---- meta ---- */

static void meta_from_rec(struct astro_tlm_meta *m, const char *name, size_t nlen,
			  const struct meta_rec *r)
{
	memset(m, 0, sizeof(*m));
	memcpy(m->name, name, nlen < ASTRO_TLM_MSID_MAX ? nlen : ASTRO_TLM_MSID_MAX - 1);
	m->id = r->id;
	m->type = r->type;
	memcpy(m->unit, r->unit, sizeof(m->unit));
	m->unit[sizeof(m->unit) - 1] = '\0';
	m->samples = r->samples;
	m->first = r->first;
	m->last = r->last;
	m->mtime = r->mtime;
	m->gen = r->gen;
}

static int get_meta(struct astro_tlm_archive *a, MDB_txn *txn, const char *name,
		    struct astro_tlm_meta *m)
{
	MDB_val k = {strlen(name), (void *)name}, v;
	struct meta_rec r;
	int rc = mdb_get(txn, a->meta, &k, &v);

	if (rc)
		return mdb_errno(rc);
	if (v.mv_size != sizeof(r))
		return -EIO;
	memcpy(&r, v.mv_data, sizeof(r));
	meta_from_rec(m, name, strlen(name), &r);
	return 0;
}

static int put_meta(struct astro_tlm_archive *a, MDB_txn *txn, const struct astro_tlm_meta *m)
{
	struct meta_rec r;
	MDB_val k = {strlen(m->name), (void *)m->name}, v = {sizeof(r), &r};

	memset(&r, 0, sizeof(r));
	r.id = m->id;
	r.type = m->type;
	r.samples = m->samples;
	r.first = m->first;
	r.last = m->last;
	r.mtime = m->mtime;
	r.gen = m->gen;
	memcpy(r.unit, m->unit, sizeof(r.unit));
	return mdb_errno(mdb_put(txn, a->meta, &k, &v, 0));
}

static int meta_by_id(struct astro_tlm_archive *a, MDB_txn *txn, uint32_t id,
		      struct astro_tlm_meta *m)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc, found = -ENOENT;

	if ((rc = mdb_errno(mdb_cursor_open(txn, a->meta, &c))))
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct meta_rec r;

		if (v.mv_size != sizeof(r))
			continue;
		memcpy(&r, v.mv_data, sizeof(r));
		if (r.id == id) {
			meta_from_rec(m, k.mv_data, k.mv_size, &r);
			found = 0;
			break;
		}
	}
	mdb_cursor_close(c);
	return found;
}

/* ---- ingest ---- */

/* Input is read and parsed this many bytes at a time; a line may be longer,
 * up to LINE_LIMIT. */
#define CHUNK (8u << 20)
#define LINE_LIMIT (64u << 20)

/* One sample of a chunk in (MSID, time, row) order. */
struct order {
	uint32_t msid, pos;
	int64_t t;
};

static int cmp_order_t(const void *x, const void *y)
{
	const struct order *a = x, *b = y;

	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	return (a->pos > b->pos) - (a->pos < b->pos);
}

static void sha256_hex(const char *buf, size_t len, unsigned char raw[32], char hex[65])
{
	unsigned int n = 32;

	EVP_Digest(buf, len, raw, &n, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
}

/* ---- rewriting blocks inside a write transaction ---- */

struct bwrite {
	MDB_cursor *c;			/* on blocks, within the write transaction */
	struct astro_tlm_block old, mrg;
	unsigned char *raw, *enc;	/* the old block's bytes copied out; an encoded block */
	size_t rawcap, enccap;
};

static int bw_cursor(struct astro_tlm_archive *a, MDB_txn *txn, struct bwrite *w)
{
	int rc = 0;

	if (!w->c && (rc = mdb_errno(mdb_cursor_open(txn, a->blocks, &w->c))))
		w->c = NULL;
	return rc;
}

/* Before the transaction ends: a write transaction's cursors die with it. */
static void bw_end(struct bwrite *w)
{
	if (w->c)
		mdb_cursor_close(w->c);
	w->c = NULL;
}

static void bw_free(struct bwrite *w)
{
	bw_end(w);
	astro_tlm_block_free(&w->old);
	astro_tlm_block_free(&w->mrg);
	free(w->raw);
	free(w->enc);
}

/*
 * Decode a stored block into w->old from a private copy: the page it sits
 * on changes under the puts that follow, and state texts point into it.
 */
static int bw_load(struct bwrite *w, uint32_t id, int64_t key, const MDB_val *val)
{
	if (val->mv_size > w->rawcap) {
		unsigned char *q = realloc(w->raw, val->mv_size);

		if (!q)
			return -ENOMEM;
		w->raw = q;
		w->rawcap = val->mv_size;
	}
	memcpy(w->raw, val->mv_data, val->mv_size);
	MDB_val copy = {val->mv_size, w->raw};

	return block_decode(id, key, &copy, &w->old);
}

/*
 * Store b's samples as blocks of id: packed full from the front for the
 * MSID's last block (appends fill it), evenly otherwise (room both sides).
 */
static int bw_put(struct astro_tlm_archive *a, MDB_txn *txn, struct bwrite *w, uint32_t id,
		  const struct astro_tlm_block *b, int tail)
{
	size_t nb = (b->n + ASTRO_TLM_BLOCK_MAX - 1) / ASTRO_TLM_BLOCK_MAX, from = 0;
	unsigned char k[12];

	for (size_t j = 0; j < nb; j++) {
		size_t cnt = tail ? (b->n - from < ASTRO_TLM_BLOCK_MAX ? b->n - from : ASTRO_TLM_BLOCK_MAX)
				  : b->n / nb + (j < b->n % nb);
		long len = astro_tlm_block_encode(b, from, cnt, &w->enc, &w->enccap);
		MDB_val key = {12, k}, val;
		int rc;

		if (len < 0)
			return (int)len;
		val.mv_size = (size_t)len;
		val.mv_data = w->enc;
		mkkey(k, id, b->t[from]);
		if ((rc = mdb_errno(mdb_put(txn, a->blocks, &key, &val, 0))))
			return rc;
		from += cnt;
	}
	return 0;
}

static int bw_del(struct astro_tlm_archive *a, MDB_txn *txn, uint32_t id, int64_t x)
{
	unsigned char k[12];
	MDB_val key = {12, k};

	mkkey(k, id, x);
	return mdb_errno(mdb_del(txn, a->blocks, &key, NULL));
}

/* Remove the samples an earlier version of a file stored (REPLACE). */
static int remove_old_file(struct astro_tlm_archive *a, MDB_txn *txn,
			   const struct ledger_rec *old, const uint32_t *ids,
			   const struct astro_tlm_badtimes *bt, const struct stamp *when,
			   struct binbuf *bb, struct bwrite *w)
{
	int64_t *keys = NULL;
	size_t nk = 0, kcap = 0;
	int rc;

	if ((rc = bw_cursor(a, txn, w)))
		return rc;
	for (uint32_t j = 0; j < old->nmsid && !rc; j++) {
		struct astro_tlm_meta m;
		MDB_val key, val;
		uint64_t removed = 0;
		int mrc;

		if (meta_by_id(a, txn, ids[j], &m))
			continue;
		/* The blocks first, then each rewritten: a rewrite moves the cursor. */
		nk = 0;
		for (mrc = seek_block(w->c, m.id, old->first, &key, &val);
		     mrc == 0 && key.mv_size == 12 && key_id(&key) == m.id && key_x(&key) <= old->last;
		     mrc = mdb_cursor_get(w->c, &key, &val, MDB_NEXT)) {
			if (nk == kcap) {
				void *q = realloc(keys, (kcap = kcap ? kcap * 2 : 64) * sizeof(*keys));

				if (!q) {
					rc = -ENOMEM;
					goto out;
				}
				keys = q;
			}
			keys[nk++] = key_x(&key);
		}
		if (mrc != 0 && mrc != MDB_NOTFOUND) {
			rc = mdb_errno(mrc);
			break;
		}
		for (size_t i = 0; i < nk && !rc; i++) {
			unsigned char k[12];
			MDB_val kv = {12, k};

			mkkey(k, m.id, keys[i]);
			if ((rc = mdb_errno(mdb_get(txn, a->blocks, &kv, &val))) ||
			    (rc = bw_load(w, m.id, keys[i], &val)))
				break;
			w->mrg.n = 0;
			for (size_t s = 0; s < w->old.n && !rc; s++)
				if (w->old.iid[s] != (uint32_t)old->ingest_id)
					rc = astro_tlm_block_push(&w->mrg, w->old.t[s], &w->old.v[s],
								  w->old.bad[s], w->old.iid[s]);
			if (rc || w->mrg.n == w->old.n)
				continue;
			removed += w->old.n - w->mrg.n;
			if (!(rc = bw_del(a, txn, m.id, keys[i])) && w->mrg.n)
				rc = bw_put(a, txn, w, m.id, &w->mrg, 1);
			bb->scan.cached = 0;
		}
		if (rc)
			break;
		m.samples -= removed < m.samples ? removed : m.samples;
		m.mtime = when->now;
		m.gen = when->gen;
		if ((rc = put_meta(a, txn, &m)))
			break;
		rc = recompute_span(a, txn, &m, bt, old->first, old->last, bb);
	}
out:
	free(keys);
	return rc;
}

/* First/last stored sample of an MSID (after removals). */
static int refresh_span(struct astro_tlm_archive *a, MDB_txn *txn, struct astro_tlm_meta *m,
			struct bwrite *w)
{
	MDB_val key, val;
	int rc;

	m->first = INT64_MAX;
	m->last = INT64_MIN;
	if ((rc = bw_cursor(a, txn, w)))
		return rc;
	rc = seek_block(w->c, m->id, INT64_MIN, &key, &val);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return mdb_errno(rc);
	m->first = key_x(&key);
	if ((rc = seek_block(w->c, m->id, INT64_MAX, &key, &val)))
		return mdb_errno(rc);
	if ((rc = block_decode(m->id, key_x(&key), &val, &w->old)))
		return rc;
	m->last = w->old.t[w->old.n - 1];
	return 0;
}

/* ---- converting a format-1 archive ---- */

/*
 * An archive written before blocks (one record per sample in "samples") is
 * converted in place, in the transaction that opens it, so a crash leaves
 * it as it was: users expect an upgrade to keep serving their archive, not
 * a manual step.  A read-only open cannot write, so it refuses and says
 * what converts it.
 */
static int convert_v1(struct astro_tlm_archive *a, MDB_txn *txn, const char *dir, char *err,
		      size_t errlen)
{
	MDB_dbi old;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	struct bwrite w = {0};
	uint32_t id = 0;
	uint64_t n = 0;
	int rc, mrc;

	if ((mrc = mdb_dbi_open(txn, "samples", 0, &old)) == MDB_NOTFOUND)
		return (a->flags & ASTRO_TLM_RDONLY) ? 0 : info_put_u64(a, txn, "format", FORMAT);
	if (mrc)
		ERR(mdb_errno(mrc), "%s: %s", dir, mdb_strerror(mrc));
	/* An older astrofs run on a converted archive makes an empty "samples";
	 * had it stored samples there, they would overlap the blocks. */
	MDB_stat ms;

	if (info_u64(a, txn, "format") == FORMAT && !mdb_stat(txn, old, &ms) && ms.ms_entries)
		ERR(-EPROTO, "%s: an older astrofs stored %zu samples in this archive after it was "
		    "converted to blocks; they cannot be merged: restore the archive from before, or "
		    "ingest into a fresh archive with this version", dir, ms.ms_entries);
	if (a->flags & ASTRO_TLM_RDONLY)
		ERR(-EPROTO, "%s: the archive is in the format of earlier astrofs versions (one record "
		    "per sample); it is converted in place when opened for writing: run any "
		    "astrofs-ingest on it, or mount it with astrofs once", dir);
	astro_notice("telemetry archive %s: converting to sample blocks (once)", dir);
	if ((rc = mdb_errno(mdb_cursor_open(txn, old, &c))))
		ERR(rc, "%s: %s", dir, strerror(-rc));
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
	     mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct astro_tlm_val val;
		uint32_t iid;
		int bad;

		if (k.mv_size != 12 || decode_v1_sample(&v, &val, &bad, &iid))
			ERR(-EIO, "%s: converting: damaged sample record", dir);
		if (w.mrg.n && (key_id(&k) != id || w.mrg.n == ASTRO_TLM_BLOCK_MAX)) {
			if ((rc = bw_put(a, txn, &w, id, &w.mrg, 1)))
				ERR(rc, "%s: converting: %s", dir, strerror(-rc));
			w.mrg.n = 0;
		}
		id = key_id(&k);
		if ((rc = astro_tlm_block_push(&w.mrg, key_x(&k), &val, bad, iid)))
			ERR(rc, "%s: converting: %s", dir, strerror(-rc));
		n++;
	}
	if (mrc != MDB_NOTFOUND)
		ERR(mdb_errno(mrc), "%s: converting: %s", dir, mdb_strerror(mrc));
	if (w.mrg.n && (rc = bw_put(a, txn, &w, id, &w.mrg, 1)))
		ERR(rc, "%s: converting: %s", dir, strerror(-rc));
	mdb_cursor_close(c);
	c = NULL;
	if ((rc = mdb_errno(mdb_drop(txn, old, 1))) ||
	    (rc = info_put_u64(a, txn, "format", FORMAT)))
		ERR(rc, "%s: converting: %s", dir, strerror(-rc));
	astro_notice("telemetry archive %s: %llu samples converted", dir, (unsigned long long)n);
out:
	if (c)
		mdb_cursor_close(c);
	bw_free(&w);
	return rc;
}

/*
 * The input of an ingest, read a chunk at a time: a file descriptor (read
 * into buf, so no more of the file than one chunk is ever resident) or a
 * buffer the caller holds.  The view p[0..have) starts at input offset pos.
 */
struct source {
	int fd;			/* -1: mem */
	const char *mem;
	uint64_t size;		/* total bytes */
	char *buf;
	size_t cap;
	const char *p;
	size_t have;
	uint64_t pos, hashed;	/* hashed: bytes fed to sha so far */
	int eof;		/* the view reaches the end of the input */
	EVP_MD_CTX *sha;	/* while hashing as we read; NULL otherwise */
};

static int src_rewind(struct source *s)
{
	s->p = s->fd < 0 ? s->mem : s->buf;
	s->have = 0;
	s->pos = s->hashed = 0;
	s->eof = 0;
	if (s->fd >= 0 && lseek(s->fd, 0, SEEK_SET) < 0)
		return -errno;
	return 0;
}

/* Drop the first `used` bytes of the view, then fill it to `want` bytes or the end. */
static int src_fill(struct source *s, size_t used, size_t want)
{
	s->pos += used;
	if (used)
		s->p += used;
	s->have -= used;
	if (s->fd < 0) {
		uint64_t rest = s->size - s->pos;

		s->p = s->mem ? s->mem + s->pos : NULL;
		s->have = rest < want ? (size_t)rest : want;
		s->eof = s->have == rest;
	} else {
		if (want > s->cap) {
			char *nb = malloc(want);

			if (!nb)
				return -ENOMEM;
			if (s->have)
				memcpy(nb, s->p, s->have);
			free(s->buf);
			s->buf = nb;
			s->cap = want;
		} else if (s->have) {
			memmove(s->buf, s->p, s->have);
		}
		s->p = s->buf;
		while (s->have < want && !s->eof) {
			ssize_t r = read(s->fd, s->buf + s->have, want - s->have);

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return -errno;
			if (r == 0)
				s->eof = 1;
			s->have += (size_t)r;
		}
	}
	if (s->sha && s->pos + s->have > s->hashed) {
		size_t off = (size_t)(s->hashed - s->pos);

		EVP_DigestUpdate(s->sha, s->p + off, s->have - off);
		s->hashed = s->pos + s->have;
	}
	return 0;
}

/* All of the input, hashed; the source is left rewound. */
static int src_hash_all(struct source *s, unsigned char raw[32], char hex[65])
{
	unsigned int n = 32;
	int rc;

	if (s->fd < 0) {
		sha256_hex(s->mem, (size_t)s->size, raw, hex);
		return 0;
	}
	if (!(s->sha = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(s->sha, EVP_sha256(), NULL)) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = src_rewind(s)))
		goto out;
	do {
		if ((rc = src_fill(s, s->have, CHUNK)))
			goto out;
	} while (!s->eof);
	EVP_DigestFinal_ex(s->sha, raw, &n);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	rc = src_rewind(s);
out:
	EVP_MD_CTX_free(s->sha);
	s->sha = NULL;
	return rc;
}

/* A (MSID of the file, bin or day index) whose statistics the ingest changes. */
struct binref {
	uint32_t msid;
	int64_t idx;
};

struct binrefs {
	struct binref *v;
	size_t n, cap;
};

static int cmp_binref(const void *x, const void *y)
{
	const struct binref *a = x, *b = y;

	if (a->msid != b->msid)
		return a->msid < b->msid ? -1 : 1;
	return (a->idx > b->idx) - (a->idx < b->idx);
}

/* Sorted and unique; done whenever the list doubles, so it stays as small as the set. */
static void binrefs_unique(struct binrefs *r)
{
	size_t k = 0;

	if (r->n < 2)
		return;
	qsort(r->v, r->n, sizeof(*r->v), cmp_binref);
	for (size_t i = 1; i < r->n; i++)
		if (cmp_binref(&r->v[k], &r->v[i]))
			r->v[++k] = r->v[i];
	r->n = k + 1;
}

static int binrefs_add(struct binrefs *r, uint32_t msid, int64_t idx)
{
	if (r->n && r->v[r->n - 1].msid == msid && r->v[r->n - 1].idx == idx)
		return 0;
	if (r->n == r->cap) {
		binrefs_unique(r);
		if (r->n >= r->cap / 2) {
			size_t nc = r->cap ? r->cap * 2 : 1024;
			void *q = realloc(r->v, nc * sizeof(*r->v));

			if (!q)
				return -ENOMEM;
			r->v = q;
			r->cap = nc;
		}
	}
	r->v[r->n].msid = msid;
	r->v[r->n++].idx = idx;
	return 0;
}

/*
 * All state of one ingest: each phase below reads and fills it, and
 * ingest_cleanup frees whatever the phases got to, so every phase may stop
 * at any point.
 */
struct ingest {
	struct astro_tlm_archive *a;
	const char *name;
	size_t nlen;
	unsigned flags;
	struct astro_tlm_ingest_result *res;
	struct source src;
	unsigned char sha[32];
	int sha_known;			/* sha computed before the samples pass */
	int json;
	struct astro_tlm_batch b;	/* the current chunk; its MSID table is the file's */
	struct astro_tlm_csv csv;
	struct order *ord;		/* the chunk's samples in (MSID, time, row) order */
	size_t ord_cap;
	uint32_t *cnt;			/* counting sort by MSID */
	struct astro_tlm_meta *metas;	/* one per MSID of b, as it will be stored */
	uint8_t *ftype;			/* each MSID's type in the file when prepared */
	size_t nready, metas_cap;	/* MSIDs [0, nready) have their meta */
	MDB_txn *txn;			/* the one write transaction; NULL once ended */
	struct astro_tlm_badtimes bt;	/* the stored table, for the stats */
	struct stamp when;
	uint64_t ingest_id;
	struct astro_tlm_block nb;	/* one MSID's new samples of the chunk */
	struct bwrite w;		/* blocks being rewritten */
	struct binbuf bb;		/* one stats bin's samples */
	struct binrefs touched[3];	/* 5-minute bins, daily bins, UTC days */
	struct ledger_rec *lr;
};

/* Everything of the write pass, so it can begin again (after a type change). */
static void ingest_reset(struct ingest *in)
{
	bw_end(&in->w);
	bscan_close(&in->bb.scan);
	if (in->txn)
		mdb_txn_abort(in->txn);
	in->txn = NULL;
	astro_tlm_parse_badtimes_free(&in->bt);
	in->nready = 0;
	for (int i = 0; i < 3; i++)
		in->touched[i].n = 0;
}

static void ingest_cleanup(struct ingest *in)
{
	ingest_reset(in);
	astro_tlm_parse_batch_free(&in->b);
	EVP_MD_CTX_free(in->src.sha);
	free(in->src.buf);
	free(in->ord);
	free(in->cnt);
	free(in->metas);
	free(in->ftype);
	free(in->lr);
	astro_tlm_block_free(&in->nb);
	bw_free(&in->w);
	binbuf_free(&in->bb);
	for (int i = 0; i < 3; i++)
		free(in->touched[i].v);
}

/* The write transaction, the stored BAD_TIMES and the generation it makes. */
static int ingest_begin(struct ingest *in, char *err, size_t errlen)
{
	int rc;

	if ((rc = mdb_txn_begin(in->a->env, NULL, 0, &in->txn))) {
		in->txn = NULL;
		ERR(mdb_errno(rc), "archive: %s", mdb_strerror(rc));
	}
	if ((rc = load_badtimes(in->a, in->txn, &in->bt)))
		ERR(rc, "archive: stored BAD_TIMES table is damaged");
	in->when.gen = info_u64(in->a, in->txn, "generation") + 1;
out:
	return rc;
}

/*
 * An earlier file of the same name: same content sets res->skipped (the
 * caller then stops and nothing changes); other content is -EEXIST, or with
 * REPLACE its samples are removed first.  Only then is the whole input
 * hashed before its samples; otherwise the hash is taken as it is read.
 */
static int ingest_ledger(struct ingest *in, char *err, size_t errlen)
{
	struct ledger_rec old;	/* LMDB values are not aligned: copy out */
	MDB_val k = {in->nlen, (void *)in->name}, v;
	uint32_t *ids = NULL;
	int rc = 0;

	if (mdb_get(in->txn, in->a->ledger, &k, &v) != 0)
		return 0;
	if (v.mv_size < sizeof(old))
		ERR(-EIO, "archive: damaged ledger row for %s", in->name);
	memcpy(&old, v.mv_data, sizeof(old));
	if (!in->sha_known) {
		if ((rc = src_hash_all(&in->src, in->sha, in->res->sha256)))
			ERR(rc, "cannot read: %s", strerror(-rc));
		in->sha_known = 1;
	}
	if (!memcmp(old.sha, in->sha, 32)) {
		in->res->skipped = 1;
		in->res->rows = old.rows;
		in->res->first = old.first;
		in->res->last = old.last;
		goto out;
	}
	if (!(in->flags & ASTRO_TLM_REPLACE))
		ERR(-EEXIST, "%s: already ingested with other content (use --replace to replace it)",
		    in->name);
	if (v.mv_size < sizeof(old) + old.nmsid * sizeof(uint32_t))
		ERR(-EIO, "archive: damaged ledger row for %s", in->name);
	if (!(ids = malloc(old.nmsid * sizeof(uint32_t) + 1)))
		ERR(-ENOMEM, "out of memory");
	memcpy(ids, (const unsigned char *)v.mv_data + sizeof(old), old.nmsid * sizeof(uint32_t));
	rc = remove_old_file(in->a, in->txn, &old, ids, &in->bt, &in->when, &in->bb, &in->w);
	for (uint32_t j = 0; j < old.nmsid && !rc; j++) {
		struct astro_tlm_meta m;

		if (meta_by_id(in->a, in->txn, ids[j], &m) == 0 &&
		    (rc = refresh_span(in->a, in->txn, &m, &in->w)) == 0)
			rc = put_meta(in->a, in->txn, &m);
	}
	if (rc)
		ERR(rc, "archive: replacing %s failed: %s", in->name, strerror(-rc));
	in->res->replaced = 1;
out:
	free(ids);
	return rc;
}

/* A new ingest id and the samples cursor. */
static int ingest_open(struct ingest *in, char *err, size_t errlen)
{
	int rc;

	in->ingest_id = info_u64(in->a, in->txn, "next_ingest") + 1;
	if ((rc = info_put_u64(in->a, in->txn, "next_ingest", in->ingest_id)))
		ERR(rc, "archive: %s", strerror(-rc));
	in->res->first = INT64_MAX;
	in->res->last = INT64_MIN;
out:
	return rc;
}

/* The meta of MSID j of the file, found or created; a state/number mix refused. */
static int ingest_msid(struct ingest *in, size_t j, char *err, size_t errlen)
{
	struct astro_tlm_meta *m = &in->metas[j];
	uint8_t bt_type = in->b.msid[j].type;
	int rc;

	rc = get_meta(in->a, in->txn, in->b.msid[j].name, m);
	if (rc == -ENOENT) {
		uint64_t id = info_u64(in->a, in->txn, "next_msid") + 1;

		if (id > UINT32_MAX - 1)
			ERR(-ENOSPC, "archive: too many MSIDs");
		if ((rc = info_put_u64(in->a, in->txn, "next_msid", id)))
			ERR(rc, "archive: %s", strerror(-rc));
		memset(m, 0, sizeof(*m));
		astro_strlcpy(m->name, in->b.msid[j].name, sizeof(m->name));
		m->id = (uint32_t)id;
		m->type = bt_type;
	} else if (rc) {
		ERR(rc, "archive: %s", strerror(-rc));
	} else if ((m->type == ASTRO_TLM_STATE) != (bt_type == ASTRO_TLM_STATE)) {
		ERR(-EINVAL, "%s: MSID %s is %s in the archive but this file gives %s", in->name,
		    m->name, m->type == ASTRO_TLM_STATE ? "a state" : "numeric",
		    bt_type == ASTRO_TLM_STATE ? "text" : "numbers");
	} else if (bt_type > m->type) {
		m->type = bt_type;	/* INT → FLOAT; stored ints stay exact */
	}
	if (m->samples == 0) {
		m->first = INT64_MAX;
		m->last = INT64_MIN;
	}
	m->mtime = in->when.now;
	m->gen = in->when.gen;
	in->ftype[j] = bt_type;
out:
	return rc;
}

/*
 * Metas for the MSIDs this chunk brought.  Returns 1 when an MSID seen in
 * an earlier chunk changed type in this one: its stored samples no longer
 * match the file's type, and the pass must begin again knowing the types.
 */
static int ingest_chunk_msids(struct ingest *in, char *err, size_t errlen)
{
	size_t n = in->b.nmsid;
	int rc;

	for (size_t j = 0; j < in->nready; j++)
		if (in->b.msid[j].type != in->ftype[j])
			return 1;
	if (n > in->metas_cap) {
		size_t nc = n * 2;
		void *q = realloc(in->metas, nc * sizeof(*in->metas));

		if (!q)
			ERR(-ENOMEM, "out of memory");
		in->metas = q;
		if (!(q = realloc(in->ftype, nc)))
			ERR(-ENOMEM, "out of memory");
		in->ftype = q;
		in->metas_cap = nc;
	}
	for (; in->nready < n; in->nready++)
		if ((rc = ingest_msid(in, in->nready, err, errlen)))
			goto out;
	rc = 0;
out:
	return rc;
}

/* The chunk's samples in (MSID, time, row) order: by MSID (counting), then by time where needed. */
static int ingest_sort(struct ingest *in)
{
	size_t n = in->b.n, nm = in->b.nmsid;

	if (n > in->ord_cap) {
		void *q = realloc(in->ord, n * sizeof(*in->ord));

		if (!q)
			return -ENOMEM;
		in->ord = q;
		in->ord_cap = n;
	}
	free(in->cnt);
	if (!(in->cnt = calloc(nm + 1, sizeof(*in->cnt))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		in->cnt[in->b.s[i].msid + 1]++;
	for (size_t j = 1; j <= nm; j++)
		in->cnt[j] += in->cnt[j - 1];
	for (size_t i = 0; i < n; i++) {
		struct order *o = &in->ord[in->cnt[in->b.s[i].msid]++];

		o->msid = in->b.s[i].msid;
		o->pos = (uint32_t)i;
		o->t = in->b.s[i].t;
	}
	/* Files are usually time-ordered per MSID: sort only a run that is not. */
	for (size_t i = 0; i < n;) {
		size_t e = i + 1;
		int sorted = 1;

		for (; e < n && in->ord[e].msid == in->ord[i].msid; e++)
			if (in->ord[e].t < in->ord[e - 1].t)
				sorted = 0;
		if (!sorted)
			qsort(in->ord + i, e - i, sizeof(*in->ord), cmp_order_t);
		i = e;
	}
	return 0;
}

/* The bins and the day a stored sample falls in, for the statistics at the end. */
static int ingest_touch(struct ingest *in, uint32_t msid, int64_t t)
{
	int64_t d;
	int rc;

	if ((rc = binrefs_add(&in->touched[0], msid, astro_tlm_stats_index(t, ASTRO_TLM_DT_5MIN))) ||
	    (rc = binrefs_add(&in->touched[1], msid, astro_tlm_stats_index(t, ASTRO_TLM_DT_DAILY))))
		return rc;
	if (astro_tlm_time_utc_day(t, &d))
		return 0;
	return binrefs_add(&in->touched[2], msid, d);
}

/* What one new sample does to the counts: the old per-sample rules. */
static int store_account(struct ingest *in, struct astro_tlm_meta *m, uint32_t msid, int64_t t,
			 int existed, int again)
{
	struct astro_tlm_ingest_result *res = in->res;

	if (!existed)
		m->samples++;
	if (t < m->first)
		m->first = t;
	if (t > m->last)
		m->last = t;
	if (t < res->first)
		res->first = t;
	if (t > res->last)
		res->last = t;
	if (!again)
		res->rows++;
	return ingest_touch(in, msid, t);
}

/*
 * Merge the new samples nb[j..k) into the block of w->old (empty when the
 * MSID has none yet) into w->mrg.  Equal times: the new sample wins; it
 * counts as a row unless the old one came from this same ingest (a time
 * repeated across chunks of the file).
 */
static int store_merge(struct ingest *in, struct astro_tlm_meta *m, uint32_t msid, size_t j,
		       size_t k)
{
	struct bwrite *w = &in->w;
	const struct astro_tlm_block *o = &w->old, *nb = &in->nb;
	size_t a = 0, b = j;
	int rc = 0;

	w->mrg.n = 0;
	if (astro_tlm_block_reserve(&w->mrg, o->n + (k - j)))
		return -ENOMEM;
	while (!rc && (a < o->n || b < k)) {
		if (b == k || (a < o->n && o->t[a] < nb->t[b])) {
			rc = astro_tlm_block_push(&w->mrg, o->t[a], &o->v[a], o->bad[a], o->iid[a]);
			a++;
			continue;
		}
		int existed = a < o->n && o->t[a] == nb->t[b];
		int again = existed && o->iid[a] == (uint32_t)in->ingest_id;

		a += existed;
		if (!(rc = astro_tlm_block_push(&w->mrg, nb->t[b], &nb->v[b], nb->bad[b], nb->iid[b])))
			rc = store_account(in, m, msid, nb->t[b], existed, again);
		b++;
	}
	return rc;
}

/* The new samples in in->nb (time-ascending), merged block by block. */
static int store_slice(struct ingest *in, struct astro_tlm_meta *m, uint32_t msid)
{
	struct astro_tlm_block *nb = &in->nb;
	struct bwrite *w = &in->w;
	int rc = 0;

	for (size_t j = 0, k; j < nb->n && !rc; j = k) {
		MDB_val key, val;
		int64_t limit = INT64_MAX, bkey = 0;
		int have, tail = 1, mrc;

		/* The block the first new sample falls in covers [its key, the next block's key). */
		mrc = seek_block(w->c, m->id, nb->t[j], &key, &val);
		if (mrc && mrc != MDB_NOTFOUND)
			return mdb_errno(mrc);
		w->old.n = 0;
		if ((have = mrc == 0)) {
			bkey = key_x(&key);
			if ((rc = bw_load(w, m->id, bkey, &val)))
				return rc;
			mrc = mdb_cursor_get(w->c, &key, &val, MDB_NEXT);
			if (mrc == 0 && key.mv_size == 12 && key_id(&key) == m->id) {
				limit = key_x(&key);
				tail = 0;
			} else if (mrc && mrc != MDB_NOTFOUND) {
				return mdb_errno(mrc);
			}
		}
		for (k = j; k < nb->n && nb->t[k] < limit; k++)
			;
		if ((rc = store_merge(in, m, msid, j, k)))
			return rc;
		if (have && (rc = bw_del(in->a, in->txn, m->id, bkey)))
			return rc;
		rc = bw_put(in->a, in->txn, w, m->id, &w->mrg, tail);
		in->bb.scan.cached = 0;
	}
	return rc;
}

/*
 * The new samples of one MSID of the chunk, ord[i0..e), a slice at a time,
 * so the scratch stays a few blocks long however long the run.
 */
#define SLICE (4 * ASTRO_TLM_BLOCK_MAX)
static int store_run(struct ingest *in, size_t i0, size_t e)
{
	uint32_t msid = in->ord[i0].msid;
	struct astro_tlm_meta *m = &in->metas[msid];
	struct astro_tlm_block *nb = &in->nb;
	int rc = 0;

	for (size_t i = i0; i < e && !rc;) {
		nb->n = 0;
		for (; i < e && nb->n < SLICE && !rc; i++) {
			const struct order *o = &in->ord[i];
			const struct astro_tlm_sample *s = &in->b.s[o->pos];
			struct astro_tlm_val v = {.type = s->type};

			if (i + 1 < e && o[1].t == o->t)
				continue;	/* the later row of the file wins */
			if (s->type == ASTRO_TLM_STATE) {
				v.text = in->b.text + s->toff;
				v.tlen = s->tlen;
			} else if (s->type == ASTRO_TLM_INT) {
				v.i = s->v.i;
				v.f = (double)v.i;
			} else {
				v.f = s->v.f;
			}
			rc = astro_tlm_block_push(nb, s->t, &v, s->bad, (uint32_t)in->ingest_id);
		}
		if (!rc)
			rc = store_slice(in, m, msid);
	}
	return rc;
}

/*
 * The chunk's samples in (MSID, time) order.  A repeated time inside the
 * file: the later row wins and counts once (within the chunk by the order,
 * across chunks by the stored sample's ingest id).
 */
static int ingest_store(struct ingest *in, char *err, size_t errlen)
{
	int rc = 0;

	if ((rc = bw_cursor(in->a, in->txn, &in->w)))
		ERR(rc, "archive: %s", strerror(-rc));
	for (size_t i = 0, e; i < in->b.n; i = e) {
		for (e = i + 1; e < in->b.n && in->ord[e].msid == in->ord[i].msid; e++)
			;
		if ((rc = store_run(in, i, e)))
			ERR(rc, "archive: storing samples: %s", strerror(-rc));
	}
out:
	return rc;
}

/*
 * Drop our mapping's hold on the archive's pages.  Pages LMDB spilled to the
 * file mid-transaction (it keeps at most 512 MB dirty in memory) are read
 * back through its read-only shared map, and every page read that way
 * would otherwise stay resident in this process for the rest of the
 * ingest: a year of samples would cost its whole size in RSS.  For a
 * shared file mapping MADV_DONTNEED only unmaps; the next access faults the
 * same bytes back in from the page cache.
 */
static void release_map(struct astro_tlm_archive *a)
{
	struct stat st;
	int fd;
	long pg = sysconf(_SC_PAGESIZE);
	size_t len;

	if (mdb_env_get_fd(a->env, &fd) || fstat(fd, &st) || pg <= 0)
		return;
	if (!a->map_base) {
		/* LMDB does not say where its map is (me_mapaddr is only set for
		 * MDB_FIXEDMAP): find the mapping of the data file's inode. */
		FILE *f = fopen("/proc/self/maps", "re");
		char line[4096];

		if (!f)
			return;
		while (fgets(line, sizeof(line), f)) {
			/* "lo-hi perms offset maj:min inode path" */
			char *e, *q;
			unsigned long lo = strtoul(line, &e, 16), hi, maj, min, ino;

			if (*e != '-')
				continue;
			hi = strtoul(e + 1, &e, 16);
			if (!(q = strchr(e + 1, ' ')) || !(q = strchr(q + 1, ' ')))
				continue;
			maj = strtoul(q + 1, &e, 16);
			if (*e != ':')
				continue;
			min = strtoul(e + 1, &e, 16);
			ino = strtoul(e, &e, 10);
			if (ino == (unsigned long)st.st_ino && makedev(maj, min) == st.st_dev) {
				a->map_base = (void *)lo;
				a->map_len = hi - lo;
				break;
			}
		}
		fclose(f);
		if (!a->map_base)
			return;
	}
	len = (size_t)st.st_size < a->map_len ? (size_t)st.st_size : a->map_len;
	len = (len + (size_t)pg - 1) / (size_t)pg * (size_t)pg;
	if (len)
		madvise(a->map_base, len, MADV_DONTNEED);
}

/* Progress through the samples pass: the bytes read of the input. */
static void pass_progress(struct ingest *in)
{
	progress(in->a, 0, W_PARSE + W_STORE, (size_t)in->src.pos, (size_t)in->src.size,
		 in->csv.samples);
}

/*
 * Parse (and, when store, store) the input chunk by chunk.  Returns 1 when
 * an MSID changed type between chunks (see ingest_chunk_msids).  Without
 * store it only learns the MSIDs' types, for the pass that follows.
 */
static int ingest_pass(struct ingest *in, int store, char *err, size_t errlen)
{
	size_t used = 0, want = CHUNK;
	int rc;

	astro_tlm_parse_csv_init(&in->csv);
	if ((rc = src_rewind(&in->src)))
		ERR(rc, "cannot read: %s", strerror(-rc));
	for (;;) {
		if ((rc = src_fill(&in->src, used, want)))
			ERR(rc, "cannot read: %s", strerror(-rc));
		rc = astro_tlm_parse_csv_chunk(&in->csv, in->src.p, in->src.have, in->src.eof,
					       &in->b, &used, err, errlen);
		if (rc)
			goto out;
		if (!in->src.eof && used == 0) {
			if (want >= LINE_LIMIT)
				ERR(-EINVAL, "line %zu: longer than %u MiB", in->csv.line + 1,
				    LINE_LIMIT >> 20);
			want *= 2;
			continue;
		}
		want = CHUNK;
		if (astro_tlm_parse_resolve(&in->b, in->src.p))
			ERR(-ENOMEM, "out of memory");
		if (store) {
			if ((rc = ingest_chunk_msids(in, err, errlen)))
				goto out;
			if ((rc = ingest_sort(in)))
				ERR(rc, "out of memory");
			if ((rc = ingest_store(in, err, errlen)))
				goto out;
		}
		astro_tlm_parse_batch_clear(&in->b, &in->csv);
		if (store)
			release_map(in->a);
		pass_progress(in);
		if (in->src.eof && used == in->src.have)
			break;
	}
	rc = astro_tlm_parse_csv_end(&in->csv, err, errlen);
out:
	return rc;
}

/* A JSON dump: parsed whole (jansson needs it all), stored as one chunk. */
static int ingest_json(struct ingest *in, char *err, size_t errlen)
{
	int rc;

	if (in->src.size > SIZE_MAX / 2)
		ERR(-EFBIG, "too large for a JSON dump");
	if ((rc = src_rewind(&in->src)) || (rc = src_fill(&in->src, 0, (size_t)in->src.size)))
		ERR(rc, "cannot read: %s", strerror(-rc));
	if ((rc = astro_tlm_parse_jwst_json(in->src.p, in->src.have, &in->b, err, errlen)))
		goto out;
	in->csv.samples = in->b.n;
	if ((rc = ingest_chunk_msids(in, err, errlen)) < 0 || (rc = ingest_sort(in)))
		goto out;
	rc = ingest_store(in, err, errlen);
out:
	return rc;
}

/* Each MSID's meta with its new counts, span and unit (the file's, if it gave one). */
static int ingest_metas(struct ingest *in, char *err, size_t errlen)
{
	int rc = 0;

	for (size_t j = 0; j < in->nready; j++) {
		if (in->b.msid[j].unit[0])
			astro_strlcpy(in->metas[j].unit, in->b.msid[j].unit, sizeof(in->metas[j].unit));
		if ((rc = put_meta(in->a, in->txn, &in->metas[j])))
			ERR(rc, "archive: %s", strerror(-rc));
	}
out:
	return rc;
}

/*
 * Stats of every bin the new samples fall in (from the filtered set), and
 * the rendered size of every UTC day they fall in.
 */
static int ingest_stats(struct ingest *in, char *err, size_t errlen)
{
	size_t total = 0, done = 0, work = 4096;
	int rc = 0;

	for (int k = 0; k < 3; k++) {
		binrefs_unique(&in->touched[k]);
		total += in->touched[k].n;
	}
	for (int k = 0; k < 3; k++) {
		const struct binrefs *r = &in->touched[k];

		for (size_t i = 0; i < r->n; i++, done++) {
			struct astro_tlm_meta *m = &in->metas[r->v[i].msid];

			/* A daily bin or a day reads as much as 288 5-minute bins. */
			work += k ? 288 : 1;
			if (work >= 4096) {
				work = 0;
				progress(in->a, W_PARSE + W_STORE, W_STATS, done, total, in->csv.samples);
				release_map(in->a);
			}
			if (k < 2)
				rc = recompute_bin(in->a, in->txn, m, &in->bt, k, r->v[i].idx, &in->bb);
			else
				rc = recompute_day(in->a, in->txn, m, &in->bt, r->v[i].idx, &in->bb);
			if (rc)
				ERR(rc, "archive: statistics: %s", strerror(-rc));
		}
	}
out:
	return rc;
}

/* The ledger row last (its presence means the whole file is in), then commit. */
static int ingest_commit(struct ingest *in, char *err, size_t errlen)
{
	struct astro_tlm_ingest_result *res = in->res;
	size_t vlen = sizeof(*in->lr) + in->nready * sizeof(uint32_t);
	MDB_val k = {in->nlen, (void *)in->name}, v;
	int rc;

	if (!(in->lr = calloc(1, vlen)))
		ERR(-ENOMEM, "out of memory");
	memcpy(in->lr->sha, in->sha, 32);
	in->lr->rows = res->rows;
	in->lr->ingest_id = in->ingest_id;
	in->lr->first = res->first;
	in->lr->last = res->last;
	in->lr->committed_at = in->when.now;
	in->lr->nmsid = (uint32_t)in->nready;
	for (size_t j = 0; j < in->nready; j++) {
		uint32_t id = in->metas[j].id;

		memcpy((unsigned char *)(in->lr + 1) + j * sizeof(uint32_t), &id, sizeof(id));
	}
	v.mv_size = vlen;
	v.mv_data = in->lr;
	if ((rc = mdb_errno(mdb_put(in->txn, in->a->ledger, &k, &v, 0))) ||
	    (rc = info_put_u64(in->a, in->txn, "generation", in->when.gen)))
		ERR(rc, "archive: %s", strerror(-rc));
	/* A write transaction's cursors die with it: close ours first. */
	bw_end(&in->w);
	bscan_close(&in->bb.scan);
	rc = mdb_txn_commit(in->txn);
	in->txn = NULL;
	if (rc)
		ERR(mdb_errno(rc), "archive: commit failed: %s", mdb_strerror(rc));
out:
	return rc;
}

/*
 * One file, in one write transaction: the samples pass parses and stores a
 * chunk at a time, so memory is bounded by the chunk, not the file.  An MSID
 * whose type rises after earlier chunks were stored (integers, then a
 * fraction or text) sends the ingest back: the transaction is dropped, a
 * parse-only pass learns every MSID's final type, and the samples pass runs
 * again knowing them.
 */
static int ingest_source(struct ingest *in, char *err, size_t errlen)
{
	struct astro_tlm_ingest_result *res = in->res;
	int rc;

	if (in->nlen == 0 || in->nlen >= 256 || memchr(in->name, '/', in->nlen))
		ERR(-EINVAL, "%s: file names are 1..255 bytes without '/'", in->name);
	if ((rc = src_fill(&in->src, 0, 4096)))
		ERR(rc, "cannot read: %s", strerror(-rc));
	for (size_t i = 0; i < in->src.have; i++)
		if (!strchr(" \t\r\n", in->src.p[i])) {
			in->json = in->src.p[i] == '{' || in->src.p[i] == '[';
			break;
		}
	for (int attempt = 0;; attempt++) {
		if ((rc = ingest_begin(in, err, errlen)) ||
		    (rc = ingest_ledger(in, err, errlen)))
			goto out;
		if (res->skipped)
			goto out;	/* aborts the txn: nothing changes */
		if ((rc = ingest_open(in, err, errlen)))
			goto out;
		if (!in->sha_known && (!(in->src.sha = EVP_MD_CTX_new()) ||
				       !EVP_DigestInit_ex(in->src.sha, EVP_sha256(), NULL)))
			ERR(-ENOMEM, "out of memory");
		rc = in->json ? ingest_json(in, err, errlen) : ingest_pass(in, 1, err, errlen);
		if (rc < 0)
			goto out;
		if (in->src.sha) {
			unsigned int n = 32;

			EVP_DigestFinal_ex(in->src.sha, in->sha, &n);
			EVP_MD_CTX_free(in->src.sha);
			in->src.sha = NULL;
			for (int i = 0; i < 32; i++)
				snprintf(res->sha256 + 2 * i, 3, "%02x", in->sha[i]);
			in->sha_known = rc == 0;
		}
		if (rc == 0)
			break;
		if (attempt)
			ERR(-EIO, "internal: MSID types changed after they were learnt");
		ingest_reset(in);
		res->rows = 0;
		res->replaced = 0;
		astro_tlm_parse_batch_clear(&in->b, NULL);
		if ((rc = ingest_pass(in, 0, err, errlen)))
			goto out;
	}
	if ((rc = ingest_metas(in, err, errlen)) ||
	    (rc = ingest_stats(in, err, errlen)))
		goto out;
	rc = ingest_commit(in, err, errlen);
out:
	return rc;
}

int astro_tlm_archive_ingest(struct astro_tlm_archive *a, const char *name,
			     const char *buf, size_t len, unsigned flags,
			     struct astro_tlm_ingest_result *res, char *err,
			     size_t errlen)
{
	struct ingest in = {
		.a = a, .name = name, .nlen = strlen(name), .flags = flags, .res = res,
		.when = {astro_now_ms() / 1000, 0},
		.src = {.fd = -1, .mem = buf, .size = len, .p = buf},
	};
	int rc;

	memset(res, 0, sizeof(*res));
	astro_tlm_parse_batch_init(&in.b);
	rc = ingest_source(&in, err, errlen);
	ingest_cleanup(&in);
	return rc;
}

/* Recompute bins under every interval of `bt` that matches each MSID. */
static int recompute_for_table(struct astro_tlm_archive *a, MDB_txn *txn,
			       const struct astro_tlm_badtimes *intervals,
			       const struct astro_tlm_badtimes *filter,
			       const struct stamp *when, struct binbuf *bb)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc, mrc;
	struct astro_tlm_meta *all = NULL;
	size_t n = 0, cap = 0;

	if ((rc = mdb_errno(mdb_cursor_open(txn, a->meta, &c))))
		return rc;
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
	     mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct meta_rec r;

		if (v.mv_size != sizeof(r))
			continue;
		if (n == cap) {
			void *q = realloc(all, (cap = cap ? cap * 2 : 64) * sizeof(*all));

			if (!q) {
				mdb_cursor_close(c);
				free(all);
				return -ENOMEM;
			}
			all = q;
		}
		memcpy(&r, v.mv_data, sizeof(r));
		meta_from_rec(&all[n++], k.mv_data, k.mv_size, &r);
	}
	mdb_cursor_close(c);
	for (size_t i = 0; i < n && !rc; i++) {
		int touched = 0;

		for (size_t j = 0; j < intervals->n && !rc; j++) {
			struct astro_tlm_badtimes one = {&intervals->v[j], 1};
			int64_t t0 = intervals->v[j].start, t1 = intervals->v[j].stop;

			if (!astro_tlm_parse_badtimes_match(&one, all[i].name, t0) ||
			    all[i].samples == 0 || t1 < all[i].first || t0 > all[i].last)
				continue;
			if (t0 < all[i].first)
				t0 = all[i].first;
			if (t1 > all[i].last)
				t1 = all[i].last;
			rc = recompute_span(a, txn, &all[i], filter, t0, t1, bb);
			touched = 1;
		}
		if (touched && !rc) {
			all[i].mtime = when->now;
			all[i].gen = when->gen;
			rc = put_meta(a, txn, &all[i]);
		}
	}
	free(all);
	return rc;
}

int astro_tlm_archive_set_badtimes(struct astro_tlm_archive *a,
				   const char *buf, size_t len, char *err,
				   size_t errlen)
{
	struct astro_tlm_badtimes old = {0}, neu = {0};
	struct binbuf bb = {0};
	MDB_txn *txn = NULL;
	MDB_val k = {8, (void *)"badtimes"}, v = {len, (void *)buf};
	struct stamp when = {astro_now_ms() / 1000, 0};
	int rc;

	if ((rc = astro_tlm_parse_badtimes(buf, len, &neu, err, errlen)))
		goto out;
	if ((rc = mdb_txn_begin(a->env, NULL, 0, &txn))) {
		txn = NULL;
		ERR(mdb_errno(rc), "archive: %s", mdb_strerror(rc));
	}
	if ((rc = load_badtimes(a, txn, &old)))
		ERR(rc, "archive: stored BAD_TIMES table is damaged");
	when.gen = info_u64(a, txn, "generation") + 1;
	/* Bins under an old or a new interval may change; both with the new filter. */
	if ((rc = recompute_for_table(a, txn, &old, &neu, &when, &bb)) ||
	    (rc = recompute_for_table(a, txn, &neu, &neu, &when, &bb)))
		ERR(rc, "archive: statistics: %s", strerror(-rc));
	if ((rc = mdb_errno(mdb_put(txn, a->info, &k, &v, 0))) ||
	    (rc = info_put_u64(a, txn, "badtimes_mtime", (uint64_t)when.now)) ||
	    (rc = info_put_u64(a, txn, "badtimes_gen", when.gen)) ||
	    (rc = info_put_u64(a, txn, "generation", when.gen)))
		ERR(rc, "archive: %s", strerror(-rc));
	bscan_close(&bb.scan);
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc)
		ERR(mdb_errno(rc), "archive: commit failed: %s", mdb_strerror(rc));
out:
	binbuf_free(&bb);
	if (txn)
		mdb_txn_abort(txn);
	astro_tlm_parse_badtimes_free(&old);
	astro_tlm_parse_badtimes_free(&neu);
	return rc;
}

/* ---- readers ---- */

int astro_tlm_archive_reader_open(struct astro_tlm_archive *a, struct astro_tlm_reader **out)
{
	struct astro_tlm_reader *r = calloc(1, sizeof(*r));
	int rc;

	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->a = a;
	if ((rc = mdb_txn_begin(a->env, NULL, MDB_RDONLY, &r->txn))) {
		free(r);
		return mdb_errno(rc);
	}
	if ((rc = load_badtimes(a, r->txn, &r->bt))) {
		mdb_txn_abort(r->txn);
		free(r);
		return rc;
	}
	r->generation = info_u64(a, r->txn, "generation");
	*out = r;
	return 0;
}

void astro_tlm_archive_reader_close(struct astro_tlm_reader *r)
{
	if (!r)
		return;
	mdb_txn_abort(r->txn);
	astro_tlm_parse_badtimes_free(&r->bt);
	free(r);
}

uint64_t astro_tlm_archive_reader_generation(const struct astro_tlm_reader *r)
{
	return r->generation;
}

int astro_tlm_archive_reader_meta(struct astro_tlm_reader *r, const char *msid,
				  struct astro_tlm_meta *m)
{
	char name[ASTRO_TLM_MSID_MAX];

	if (astro_tlm_parse_msid_canon(msid, strlen(msid), name))
		return -ENOENT;
	return get_meta(r->a, r->txn, name, m);
}

/* Every record of a database in key order, to rec until it returns
 * non-zero; a negative return is the result, a positive one stops. */
static int walk(struct astro_tlm_reader *r, MDB_dbi dbi,
		int (*rec)(void *ctx, const MDB_val *k, const MDB_val *v), void *ctx)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc, mrc;

	if ((rc = mdb_errno(mdb_cursor_open(r->txn, dbi, &c))))
		return rc;
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0 && !rc;
	     mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
		rc = rec(ctx, &k, &v);
	mdb_cursor_close(c);
	return rc < 0 ? rc : 0;
}

struct each_msid {
	int (*fn)(void *arg, const struct astro_tlm_meta *m);
	void *arg;
};

static int msid_rec(void *ctx, const MDB_val *k, const MDB_val *v)
{
	const struct each_msid *e = ctx;
	struct meta_rec mr;
	struct astro_tlm_meta m;

	if (v->mv_size != sizeof(mr))
		return 0;
	memcpy(&mr, v->mv_data, sizeof(mr));
	meta_from_rec(&m, k->mv_data, k->mv_size, &mr);
	return e->fn(e->arg, &m);
}

int astro_tlm_archive_reader_each_msid(struct astro_tlm_reader *r,
				       int (*fn)(void *arg, const struct astro_tlm_meta *m),
				       void *arg)
{
	struct each_msid e = { fn, arg };

	return walk(r, r->a->meta, msid_rec, &e);
}

uint64_t astro_tlm_archive_reader_badtimes_gen(struct astro_tlm_reader *r)
{
	return info_u64(r->a, r->txn, "badtimes_gen");
}

const char *astro_tlm_archive_reader_badtimes(struct astro_tlm_reader *r, size_t *len,
					      int64_t *mtime)
{
	if (mtime)
		*mtime = (int64_t)info_u64(r->a, r->txn, "badtimes_mtime");
	return info_badtimes(r->a, r->txn, len);
}

struct each_ledger {
	int (*fn)(void *arg, const struct astro_tlm_ledger_row *l);
	void *arg;
};

static int ledger_rec(void *ctx, const MDB_val *k, const MDB_val *v)
{
	const struct each_ledger *e = ctx;
	struct ledger_rec lr;
	struct astro_tlm_ledger_row row;

	if (v->mv_size < sizeof(lr))
		return 0;
	memcpy(&lr, v->mv_data, sizeof(lr));
	memset(&row, 0, sizeof(row));
	memcpy(row.name, k->mv_data,
	       k->mv_size < sizeof(row.name) ? k->mv_size : sizeof(row.name) - 1);
	for (int i = 0; i < 32; i++)
		snprintf(row.sha256 + 2 * i, 3, "%02x", lr.sha[i]);
	row.rows = lr.rows;
	row.ingest_id = lr.ingest_id;
	row.first = lr.first;
	row.last = lr.last;
	row.committed_at = lr.committed_at;
	return e->fn(e->arg, &row);
}

int astro_tlm_archive_reader_each_ledger(struct astro_tlm_reader *r,
					 int (*fn)(void *arg, const struct astro_tlm_ledger_row *l),
					 void *arg)
{
	struct each_ledger e = { fn, arg };

	return walk(r, r->a->ledger, ledger_rec, &e);
}

int astro_tlm_archive_reader_each_day(struct astro_tlm_reader *r, const struct astro_tlm_meta *m,
				      int64_t d0, int64_t d1,
				      int (*fn)(void *arg, int64_t day, uint64_t bytes,
						uint64_t rows),
				      void *arg)
{
	MDB_cursor *c;
	unsigned char k[12];
	MDB_val key = {12, k}, val;
	int rc, mrc;

	if ((rc = mdb_errno(mdb_cursor_open(r->txn, r->a->days, &c))))
		return rc;
	mkkey(k, m->id, d0);
	for (mrc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE); mrc == 0 && !rc;
	     mrc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
		struct day_rec dr;

		if (key.mv_size != 12 || key_id(&key) != m->id || key_x(&key) > d1)
			break;
		if (val.mv_size != sizeof(dr)) {
			rc = -EIO;
			break;
		}
		memcpy(&dr, val.mv_data, sizeof(dr));
		rc = fn(arg, key_x(&key), dr.bytes, dr.rows);
	}
	mdb_cursor_close(c);
	if (!rc && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = mdb_errno(mrc);
	return rc < 0 ? rc : 0;
}

struct astro_tlm_iter {
	struct astro_tlm_reader *r;
	struct bscan s;
	struct astro_tlm_meta m;
	unsigned flags;
};

int astro_tlm_archive_iter_open(struct astro_tlm_reader *r, const struct astro_tlm_meta *m,
				int64_t t0, int64_t t1, unsigned flags,
				struct astro_tlm_iter **out)
{
	struct astro_tlm_iter *it = calloc(1, sizeof(*it));
	int rc;

	*out = NULL;
	if (!it)
		return -ENOMEM;
	if ((rc = bscan_open(&it->s, r->txn, r->a->blocks, m->id, t0, t1))) {
		free(it);
		return rc;
	}
	it->r = r;
	it->m = *m;
	it->flags = flags;
	*out = it;
	return 0;
}

/*
 * One step of a range scan over 12-byte (id, x) keys: 1 with key/val set,
 * 0 at the end of [from, to) for that id, or -errno.
 */
static int range_step(MDB_cursor *c, uint32_t id, int64_t from, int64_t to,
		      int *started, int *done, MDB_val *key, MDB_val *val)
{
	unsigned char k[12];	/* only read by MDB_SET_RANGE; results point into the map */
	int rc;

	if (*done)
		return 0;
	if (!*started) {
		mkkey(k, id, from);
		key->mv_size = 12;
		key->mv_data = k;
		rc = mdb_cursor_get(c, key, val, MDB_SET_RANGE);
		*started = 1;
	} else {
		rc = mdb_cursor_get(c, key, val, MDB_NEXT);
	}
	if (rc == MDB_NOTFOUND || (rc == 0 && (key->mv_size != 12 || key_id(key) != id ||
					       key_x(key) >= to))) {
		*done = 1;
		return 0;
	}
	return rc ? mdb_errno(rc) : 1;
}

int astro_tlm_archive_iter_next(struct astro_tlm_iter *it, int64_t *t,
				struct astro_tlm_val *v, int *bad)
{
	size_t i;
	int rc;

	while ((rc = bscan_next(&it->s, &i)) == 1) {
		*t = it->s.blk.t[i];
		*v = it->s.blk.v[i];
		*bad = it->s.blk.bad[i];
		if (!(it->flags & ASTRO_TLM_ALL) &&
		    (*bad || astro_tlm_parse_badtimes_match(&it->r->bt, it->m.name, *t)))
			continue;
		return 1;
	}
	return rc;
}

void astro_tlm_archive_iter_close(struct astro_tlm_iter *it)
{
	if (!it)
		return;
	bscan_close(&it->s);
	free(it);
}

struct astro_tlm_siter {
	MDB_cursor *c;
	uint32_t id;
	int64_t i0, i1;
	int started, done;
	struct astro_tlm_state_count *pool;
	size_t cap;
};

int astro_tlm_archive_siter_open(struct astro_tlm_reader *r, const struct astro_tlm_meta *m,
				 int daily, int64_t i0, int64_t i1,
				 struct astro_tlm_siter **out)
{
	struct astro_tlm_siter *it = calloc(1, sizeof(*it));
	int rc;

	*out = NULL;
	if (!it)
		return -ENOMEM;
	if ((rc = mdb_errno(mdb_cursor_open(r->txn, daily ? r->a->sd : r->a->s5, &it->c)))) {
		free(it);
		return rc;
	}
	it->id = m->id;
	it->i0 = i0;
	it->i1 = i1;
	*out = it;
	return 0;
}

int astro_tlm_archive_siter_next(struct astro_tlm_siter *it, struct astro_tlm_stat *st)
{
	MDB_val key, val;
	int rc = range_step(it->c, it->id, it->i0, it->i1, &it->started, &it->done,
			    &key, &val);

	if (rc != 1)
		return rc;
	rc = decode_stat(&key, &val, st, &it->pool, &it->cap);
	return rc < 0 ? rc : 1;
}

void astro_tlm_archive_siter_close(struct astro_tlm_siter *it)
{
	if (!it)
		return;
	mdb_cursor_close(it->c);
	free(it->pool);
	free(it);
}

/* ---- files ---- */

struct mapped {
	char *p;
	size_t len;
};

static int map_file(const char *path, struct mapped *m)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	m->p = NULL;
	m->len = 0;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EISDIR;
		goto out;
	}
	m->len = (size_t)st.st_size;
	if (m->len == 0)
		goto out;
	m->p = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m->p == MAP_FAILED) {
		m->p = NULL;
		rc = -errno;
	}
out:
	close(fd);
	return rc;
}

static void unmap_file(struct mapped *m)
{
	if (m->p)
		munmap(m->p, m->len);
}

int astro_tlm_archive_ingest_file(struct astro_tlm_archive *a, const char *path,
				  unsigned flags,
				  struct astro_tlm_ingest_result *res, char *err,
				  size_t errlen)
{
	const char *base = strrchr(path, '/');
	struct ingest in = {
		.a = a, .name = base ? base + 1 : path, .flags = flags, .res = res,
		.when = {astro_now_ms() / 1000, 0}, .src = {.fd = -1},
	};
	struct stat st;
	int rc = 0;

	memset(res, 0, sizeof(*res));
	in.nlen = strlen(in.name);
	astro_tlm_parse_batch_init(&in.b);
	if ((in.src.fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(in.src.fd, &st) != 0)
		rc = -errno;
	else if (!S_ISREG(st.st_mode))
		rc = -EISDIR;
	if (rc) {
		if (err)
			snprintf(err, errlen, "cannot read: %s", strerror(-rc));
		goto out;
	}
	in.src.size = (uint64_t)st.st_size;
	posix_fadvise(in.src.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	rc = ingest_source(&in, err, errlen);
out:
	if (in.src.fd >= 0)
		close(in.src.fd);
	ingest_cleanup(&in);
	return rc;
}

int astro_tlm_archive_set_badtimes_file(struct astro_tlm_archive *a,
					const char *path, char *err,
					size_t errlen)
{
	struct mapped m;
	int rc = map_file(path, &m);

	if (rc) {
		if (err)
			snprintf(err, errlen, "cannot read: %s", strerror(-rc));
		return rc;
	}
	rc = astro_tlm_archive_set_badtimes(a, m.p ? m.p : "", m.len, err, errlen);
	unmap_file(&m);
	return rc;
}

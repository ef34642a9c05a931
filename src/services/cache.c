/*
 * cache.c — see cache.h.
 *
 * Value layout (little-endian, 48 bytes, then the payload):
 *   0  magic "ASTC"      4  format version (u16)   6  header length (u16)
 *   8  flags (u32)      12  header check (u32, FNV-1a of bytes 0-11,16-47)
 *  16  fetched_ms (i64) 24  ttl_s (i64)   32  payload length (u64)
 *  40  reserved (u64)
 * The header check catches torn or foreign values without hashing payloads
 * of megabytes on every read.
 */
#include <assert.h>
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/astro.h"
#include "services/cache.h"
#include "core/log.h"

#define HDR_LEN 48
#define FORMAT_VERSION 1
#define MAX_DBS 32

struct astro_cache {
	MDB_env *env;
	pthread_mutex_t lock;		/* guards dbs[] and the counters */
	struct {
		char name[32];
		MDB_dbi dbi;
	} dbs[MAX_DBS];
	unsigned ndbs;
	struct astro_cache_stats st;
#ifdef ASTRO_UNITTEST
	int inject_n, inject_err;	/* astro_cache_inject_put_failure */
#endif
	int store_failing;		/* a put failed for want of disk: said once */
};

static uint32_t fnv1a(uint32_t h, const unsigned char *p, size_t n)
{
	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

static uint32_t hdr_check(const unsigned char *h)
{
	return fnv1a(fnv1a(2166136261u, h, 12), h + 16, HDR_LEN - 16);
}

static void put_u16(unsigned char *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static void put_u32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = v >> (8 * i); }
static void put_u64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = v >> (8 * i); }
static uint16_t get_u16(const unsigned char *p) { return p[0] | p[1] << 8; }
static uint32_t get_u32(const unsigned char *p) { uint32_t v = 0; for (int i = 3; i >= 0; i--) v = v << 8 | p[i]; return v; }
static uint64_t get_u64(const unsigned char *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = v << 8 | p[i]; return v; }

static void encode_hdr(unsigned char *h, const struct astro_cache_meta *m, size_t len)
{
	memset(h, 0, HDR_LEN);
	memcpy(h, "ASTC", 4);
	put_u16(h + 4, FORMAT_VERSION);
	put_u16(h + 6, HDR_LEN);
	put_u32(h + 8, m->flags);
	put_u64(h + 16, (uint64_t)m->fetched_ms);
	put_u64(h + 24, (uint64_t)m->ttl_s);
	put_u64(h + 32, len);
	put_u32(h + 12, hdr_check(h));
}

/* 0 when the value is a well-formed entry; fills meta. */
static int decode_hdr(const MDB_val *v, struct astro_cache_meta *m)
{
	const unsigned char *h = v->mv_data;

	if (v->mv_size < HDR_LEN || memcmp(h, "ASTC", 4) != 0 ||
	    get_u16(h + 4) != FORMAT_VERSION || get_u16(h + 6) != HDR_LEN ||
	    get_u32(h + 12) != hdr_check(h) ||
	    get_u64(h + 32) != v->mv_size - HDR_LEN)
		return -EBADMSG;
	m->flags = get_u32(h + 8);
	m->fetched_ms = (int64_t)get_u64(h + 16);
	m->ttl_s = (int64_t)get_u64(h + 24);
	m->len = get_u64(h + 32);
	return 0;
}

int astro_cache_lmdb_errno(int rc)
{
	switch (rc) {
	case 0: return 0;
	case MDB_NOTFOUND: return -ENOENT;
	case MDB_KEYEXIST: return -EEXIST;
	case MDB_MAP_FULL: return -ENOSPC;
	case MDB_TXN_FULL: return -ENOSPC;
	case MDB_DBS_FULL: return -EMFILE;
	case MDB_READERS_FULL: return -EAGAIN;
	case MDB_MAP_RESIZED: return -EAGAIN;
	default: return rc > 0 ? -rc : -EIO;
	}
}

#define lmdb_errno astro_cache_lmdb_errno

int astro_cache_open(struct astro_cache **out, const char *dir, uint64_t mapsize)
{
	struct astro_cache *c;
	int rc, dead = 0;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -errno;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	rc = mdb_env_create(&c->env);
	if (rc)
		goto fail;
	rc = mdb_env_set_maxdbs(c->env, MAX_DBS);
	if (!rc)
		rc = mdb_env_set_mapsize(c->env, mapsize);
	if (!rc)
		rc = mdb_env_set_maxreaders(c->env, 254);
	/* NOTLS: read transactions are short and may be reused per thread. */
	if (!rc)
		rc = mdb_env_open(c->env, dir, MDB_NOTLS, 0600);
	if (rc) {
		astro_err("cache: cannot open LMDB environment in %s: %s", dir, mdb_strerror(rc));
		goto fail;
	}
	/* Readers left behind by a crashed process would pin old pages. */
	mdb_reader_check(c->env, &dead);
	if (dead)
		astro_notice("cache: cleared %d stale reader slots", dead);
	*out = c;
	return 0;
fail:
	if (c->env)
		mdb_env_close(c->env);
	pthread_mutex_destroy(&c->lock);
	free(c);
	return lmdb_errno(rc);
}

void astro_cache_close(struct astro_cache *c)
{
	if (!c)
		return;
	mdb_env_close(c->env);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* Find or create the named database; handles are process-wide in LMDB. */
static int get_dbi(struct astro_cache *c, const char *name, MDB_dbi *dbi)
{
	MDB_txn *txn;
	unsigned i;
	int rc;

	assert(strlen(name) < sizeof(c->dbs[0].name));
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->ndbs; i++)
		if (strcmp(c->dbs[i].name, name) == 0) {
			*dbi = c->dbs[i].dbi;
			pthread_mutex_unlock(&c->lock);
			return 0;
		}
	if (c->ndbs == MAX_DBS) {
		rc = MDB_DBS_FULL;
		goto out;
	}
	rc = mdb_txn_begin(c->env, NULL, 0, &txn);
	if (rc)
		goto out;
	rc = mdb_dbi_open(txn, name, MDB_CREATE, dbi);
	if (rc) {
		mdb_txn_abort(txn);
		goto out;
	}
	rc = mdb_txn_commit(txn);
	if (rc)
		goto out;
	assert(c->ndbs < MAX_DBS);
	astro_strlcpy(c->dbs[c->ndbs].name, name, sizeof(c->dbs[0].name));
	c->dbs[c->ndbs++].dbi = *dbi;
out:
	pthread_mutex_unlock(&c->lock);
	return lmdb_errno(rc);
}

static void count(struct astro_cache *c, uint64_t *field)
{
	pthread_mutex_lock(&c->lock);
	(*field)++;
	pthread_mutex_unlock(&c->lock);
}

int astro_cache_get(struct astro_cache *c, const char *db, const void *key,
		    size_t klen, struct astro_cache_meta *meta, void **data)
{
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val k = { klen, (void *)key }, v;
	int rc;

	if (data)
		*data = NULL;
	rc = get_dbi(c, db, &dbi);
	if (rc)
		return rc;
	rc = lmdb_errno(mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn));
	if (rc)
		return rc;
	rc = lmdb_errno(mdb_get(txn, dbi, &k, &v));
	if (rc == 0 && decode_hdr(&v, meta) != 0) {
		astro_warn("cache: corrupt entry in %s (%zu-byte key); dropping it", db, klen);
		count(c, &c->st.corrupt);
		mdb_txn_abort(txn);
		txn = NULL;
		astro_cache_del(c, db, key, klen);
		rc = -ENOENT;
	}
	if (rc == 0 && data) {
		*data = malloc(meta->len + 1);
		if (!*data) {
			rc = -ENOMEM;
		} else {
			memcpy(*data, (char *)v.mv_data + HDR_LEN, meta->len);
			((char *)*data)[meta->len] = '\0';
		}
	}
	if (txn)
		mdb_txn_abort(txn);
	count(c, rc == 0 ? &c->st.hits : &c->st.misses);
	return rc;
}

struct victim {
	int64_t fetched;
	unsigned db;
	MDB_val key;
};

static int by_age(const void *a, const void *b)
{
	const struct victim *x = a, *y = b;

	return (x->fetched > y->fetched) - (x->fetched < y->fetched);
}

/*
 * The map is full: drop the oldest quarter of evictable entries.  Entries
 * are whole upstream answers, so dropping one only costs a re-fetch.
 */
static int evict(struct astro_cache *c)
{
	struct victim *vs = NULL;
	size_t n = 0, cap = 0, i;
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	struct astro_cache_meta m;
	int rc;

	rc = mdb_txn_begin(c->env, NULL, 0, &txn);
	if (rc)
		return lmdb_errno(rc);
	for (unsigned d = 0; d < c->ndbs; d++) {
		if (mdb_cursor_open(txn, c->dbs[d].dbi, &cur))
			continue;
		while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
			if (decode_hdr(&v, &m) == 0 && (m.flags & ASTRO_CACHE_PINNED))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 1024;
				void *p = realloc(vs, cap * sizeof(*vs));
				if (!p)
					break;
				vs = p;
			}
			vs[n].fetched = decode_hdr(&v, &m) == 0 ? m.fetched_ms : INT64_MIN;
			vs[n].db = d;
			vs[n].key.mv_size = k.mv_size;
			vs[n].key.mv_data = malloc(k.mv_size);
			if (vs[n].key.mv_data)
				memcpy(vs[n].key.mv_data, k.mv_data, k.mv_size);
			n++;
		}
		mdb_cursor_close(cur);
	}
	qsort(vs, n, sizeof(*vs), by_age);
	for (i = 0; i < (n + 3) / 4; i++) {
		if (vs[i].key.mv_data &&
		    mdb_del(txn, c->dbs[vs[i].db].dbi, &vs[i].key, NULL) == 0)
			c->st.evictions++;
	}
	for (i = 0; i < n; i++)
		free(vs[i].key.mv_data);
	free(vs);
	rc = mdb_txn_commit(txn);
	if (n == 0)
		return -ENOSPC;
	astro_info("cache: map full; evicted %zu of %zu entries", (n + 3) / 4, n);
	return lmdb_errno(rc);
}

/* The named database and a write transaction on it; 0 or -errno. */
static int write_begin(struct astro_cache *c, const char *db, MDB_dbi *dbi, MDB_txn **txn)
{
	int rc = get_dbi(c, db, dbi);

	return rc ? rc : lmdb_errno(mdb_txn_begin(c->env, NULL, 0, txn));
}

/* Store value (header from meta, then len bytes of data) under key in the
 * open write transaction, written in place (MDB_RESERVE) instead of built
 * as a copy first; commits, or aborts on failure.  0 or -errno; *map_full
 * says whether LMDB refused for want of map space (the only case eviction
 * can help: a full disk gives -ENOSPC too, but from the write itself). */
static int put_commit(MDB_txn *txn, MDB_dbi dbi, const MDB_val *key,
		      const struct astro_cache_meta *meta, const void *data, size_t len,
		      int *map_full)
{
	MDB_val k = *key, v = { HDR_LEN + len, NULL };
	int rc = mdb_put(txn, dbi, &k, &v, MDB_RESERVE);

	if (rc) {
		mdb_txn_abort(txn);
		*map_full = rc == MDB_MAP_FULL;
		return lmdb_errno(rc);
	}
	encode_hdr(v.mv_data, meta, len);
	if (len)
		memcpy((char *)v.mv_data + HDR_LEN, data, len);
	rc = mdb_txn_commit(txn);
	*map_full = rc == MDB_MAP_FULL;
	return lmdb_errno(rc);
}

static int put_once(struct astro_cache *c, const char *db, const void *key,
		    size_t klen, const struct astro_cache_meta *meta,
		    const void *data, size_t len, int *map_full)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { klen, (void *)key };
	int rc = write_begin(c, db, &dbi, &txn);

	*map_full = 0;
	return rc ? rc : put_commit(txn, dbi, &k, meta, data, len, map_full);
}

int astro_cache_put(struct astro_cache *c, const char *db, const void *key,
		    size_t klen, const struct astro_cache_meta *meta,
		    const void *data, size_t len)
{
	int rc, tries, map_full = 0, first;

	if (klen == 0 || klen > 511)	/* LMDB's default key limit */
		return -ENAMETOOLONG;
#ifdef ASTRO_UNITTEST
	pthread_mutex_lock(&c->lock);
	if (c->inject_n > 0) {
		c->inject_n--;
		pthread_mutex_unlock(&c->lock);
		return c->inject_err;
	}
	pthread_mutex_unlock(&c->lock);
#endif
	/* Only a full map is made room in.  A full disk (or any I/O error)
	 * keeps every entry: evicting would not free a byte of the file, and
	 * while offline the entries are all there is to serve. */
	for (tries = 0; tries < 4; tries++) {
		rc = put_once(c, db, key, klen, meta, data, len, &map_full);
		if (!map_full)
			break;
		pthread_mutex_lock(&c->lock);
		rc = evict(c);
		pthread_mutex_unlock(&c->lock);
		if (rc)
			break;
		rc = -ENOSPC;
	}
	pthread_mutex_lock(&c->lock);
	if (rc == 0) {
		c->st.puts++;
		c->store_failing = 0;
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	first = !map_full && !c->store_failing;
	if (!map_full)
		c->store_failing = 1;
	pthread_mutex_unlock(&c->lock);
	if (map_full)
		astro_warn("cache: storing %zu bytes into %s failed: %s", len, db, strerror(-rc));
	else if (first)
		astro_warn("cache: storing %zu bytes into %s failed: %s; keeping every cached "
			   "entry and serving without storing until a write succeeds",
			   len, db, strerror(-rc));
	return rc;
}

int astro_cache_put_many(struct astro_cache *c, const char *db,
			 const struct astro_cache_meta *meta,
			 const struct astro_cache_item *items, size_t n)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	size_t i;
	int rc;

	for (i = 0; i < n; i++)
		if (items[i].klen == 0 || items[i].klen > 511)
			return -ENAMETOOLONG;
#ifdef ASTRO_UNITTEST
	pthread_mutex_lock(&c->lock);
	rc = c->inject_n;
	pthread_mutex_unlock(&c->lock);
	if (rc > 0)
		goto alone;	/* the injected failures are astro_cache_put's */
#endif
	if (n < 2 || write_begin(c, db, &dbi, &txn))
		goto alone;
	for (i = 0; i < n; i++) {
		MDB_val k = { items[i].klen, (void *)items[i].key };
		MDB_val v = { HDR_LEN + items[i].len, NULL };

		if (mdb_put(txn, dbi, &k, &v, MDB_RESERVE)) {
			mdb_txn_abort(txn);
			goto alone;
		}
		encode_hdr(v.mv_data, meta, items[i].len);
		if (items[i].len)
			memcpy((char *)v.mv_data + HDR_LEN, items[i].data, items[i].len);
	}
	if (mdb_txn_commit(txn) == 0) {
		pthread_mutex_lock(&c->lock);
		c->st.puts += n;
		c->store_failing = 0;
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
alone:
	rc = 0;
	for (i = 0; i < n; i++) {
		int r = astro_cache_put(c, db, items[i].key, items[i].klen, meta, items[i].data,
					items[i].len);

		if (r)
			rc = r;
	}
	return rc;
}

int astro_cache_del(struct astro_cache *c, const char *db, const void *key,
		    size_t klen)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { klen, (void *)key };
	int rc;

	rc = write_begin(c, db, &dbi, &txn);
	if (rc)
		return rc;
	rc = mdb_del(txn, dbi, &k, NULL);
	if (rc) {
		mdb_txn_abort(txn);
		return lmdb_errno(rc);
	}
	return lmdb_errno(mdb_txn_commit(txn));
}

int astro_cache_fresh(const struct astro_cache_meta *m, int64_t now_ms)
{
	if ((m->flags & ASTRO_CACHE_FINAL) || m->ttl_s < 0)
		return 1;
	return now_ms < m->fetched_ms + m->ttl_s * 1000;
}

int astro_cache_update(struct astro_cache *c, const char *db, const void *key,
		       size_t klen, astro_cache_update_fn fn, void *arg)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { klen, (void *)key }, v;
	struct astro_cache_meta m = { 0 };
	const void *old = NULL;
	size_t oldlen = 0, outlen = 0;
	void *out = NULL;
	int rc, ret, map_full;	/* the limiter entry is pinned: nothing to evict for it */

	rc = write_begin(c, db, &dbi, &txn);
	if (rc)
		return rc;
	if (mdb_get(txn, dbi, &k, &v) == 0 && decode_hdr(&v, &m) == 0) {
		old = (char *)v.mv_data + HDR_LEN;
		oldlen = m.len;
	}
	ret = fn(old, oldlen, &out, &outlen, arg);
	if (ret < 0 || !out) {
		mdb_txn_abort(txn);
		free(out);
		return ret;
	}
	m.flags = ASTRO_CACHE_PINNED;
	m.fetched_ms = astro_now_ms();
	m.ttl_s = -1;
	rc = put_commit(txn, dbi, &k, &m, out, outlen, &map_full);
	free(out);
	return rc ? rc : ret;
}

void astro_cache_get_stats(struct astro_cache *c, struct astro_cache_stats *s)
{
	MDB_envinfo info;
	MDB_stat st;

	pthread_mutex_lock(&c->lock);
	*s = c->st;
	pthread_mutex_unlock(&c->lock);
	if (mdb_env_info(c->env, &info) == 0 && mdb_env_stat(c->env, &st) == 0) {
		s->map_size = info.me_mapsize;
		s->map_used = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
	}
}

#ifdef ASTRO_UNITTEST
void astro_cache_inject_put_failure(struct astro_cache *c, int n, int err)
{
	pthread_mutex_lock(&c->lock);
	c->inject_n = n;
	c->inject_err = err;
	pthread_mutex_unlock(&c->lock);
}
#endif

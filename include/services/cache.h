/*
 * cache.h — the LMDB cache shared by every tree.
 *
 * One LMDB environment per mount at `cache_dir`, map size `cache_max`, one
 * named database per tree ("tle", "fits", ...) plus "_meta" for internal
 * state (the rate limiter).  Open it only after daemonizing: LMDB handles do
 * not survive fork().
 *
 * Entries are self-describing and immutable per version: each value starts
 * with a fixed little-endian header (magic, format version, flags, fetch
 * time, TTL, payload length, payload checksum) followed by the payload.  A
 * reader never trusts a value whose header does not check; such an entry is
 * treated as a miss and removed.  Keys are chosen by the tree and must name
 * the upstream version (ETag, day, ...) so that a shared tier can later sit
 * behind this one without the trees noticing.
 *
 * When the map fills (MDB_MAP_FULL: cache_max reached), the least recently
 * fetched evictable entries are dropped (ASTRO_CACHE_PINNED entries, such
 * as limiter state, never are).  A put that fails for any other reason —
 * the disk under cache_dir is full (ENOSPC), an I/O error — evicts
 * nothing: the entries stay readable (they may be all there is offline),
 * the put fails, and that is logged once until a put succeeds again.
 *
 * Thread-safety: all functions may be called from any thread.  Several
 * processes may share one environment (LMDB's own locking).
 */
#ifndef ASTRO_CACHE_H
#define ASTRO_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct astro_cache;

#define ASTRO_CACHE_PINNED 0x1u	  /* never evicted */
#define ASTRO_CACHE_FINAL 0x2u	  /* upstream will not change: ignore ttl */

struct astro_cache_meta {
	uint32_t flags;
	int64_t fetched_ms;	/* when the payload came from upstream */
	int64_t ttl_s;		/* seconds after fetched_ms it is fresh; <0 forever */
	uint64_t len;		/* payload bytes */
};

int astro_cache_open(struct astro_cache **out, const char *dir,
		     uint64_t mapsize);
void astro_cache_close(struct astro_cache *c);

/*
 * Fetch an entry.  *data is a malloc'd copy (free it) unless data is NULL,
 * in which case only meta is filled.  -ENOENT on a miss.
 */
int astro_cache_get(struct astro_cache *c, const char *db, const void *key,
		    size_t klen, struct astro_cache_meta *meta, void **data);

/* Store (replace) an entry; meta->len is taken from len. */
int astro_cache_put(struct astro_cache *c, const char *db, const void *key,
		    size_t klen, const struct astro_cache_meta *meta,
		    const void *data, size_t len);

/*
 * Store (replace) n entries of one db with the same meta in one transaction:
 * one durable commit for all, for a writer that keeps many pieces in a row.
 * When that fails (a full map among others), each is stored alone through
 * astro_cache_put, which makes room.  0 or the last -errno.
 */
struct astro_cache_item {
	const void *key;
	size_t klen;
	const void *data;
	size_t len;
};
int astro_cache_put_many(struct astro_cache *c, const char *db,
			 const struct astro_cache_meta *meta,
			 const struct astro_cache_item *items, size_t n);

int astro_cache_del(struct astro_cache *c, const char *db, const void *key,
		    size_t klen);

/* True when meta is still fresh at now_ms. */
int astro_cache_fresh(const struct astro_cache_meta *meta, int64_t now_ms);

/*
 * Atomic read-modify-write of one pinned entry inside a single write
 * transaction, across threads and processes.  fn gets the old payload (NULL,
 * 0 when absent) and returns a malloc'd new payload in *out and *outlen (or
 * leaves *out NULL to keep the old one); its return value is passed back.
 * A negative return aborts the transaction.
 */
typedef int (*astro_cache_update_fn)(const void *old, size_t oldlen,
				     void **out, size_t *outlen, void *arg);
int astro_cache_update(struct astro_cache *c, const char *db, const void *key,
		       size_t klen, astro_cache_update_fn fn, void *arg);

/* Counters for /.astrofs/stats. */
struct astro_cache_stats {
	uint64_t hits, misses, puts, evictions, corrupt;
	uint64_t map_size, map_used;
};
void astro_cache_get_stats(struct astro_cache *c, struct astro_cache_stats *s);

/*
 * The one mapping of LMDB return codes to -errno, for every LMDB
 * environment of astrofs (this cache, the telemetry archive, the obs
 * store), so one condition is one errno wherever it happens:
 *   0 -> 0; MDB_NOTFOUND -> -ENOENT; MDB_KEYEXIST -> -EEXIST;
 *   MDB_MAP_FULL, MDB_TXN_FULL -> -ENOSPC (the map or transaction is at
 *   its size limit; the cache tells it from a full disk by the LMDB code,
 *   not the errno); MDB_DBS_FULL -> -EMFILE; MDB_READERS_FULL,
 *   MDB_MAP_RESIZED -> -EAGAIN (transient: retry); a system error (rc > 0,
 *   ENOSPC, EIO, EACCES, ...) -> -rc; any other LMDB code (corruption,
 *   version mismatch, ...) -> -EIO.
 */
int astro_cache_lmdb_errno(int rc);

#ifdef ASTRO_UNITTEST
/* Tests: make the next n puts fail with err (I/O-error injection). */
void astro_cache_inject_put_failure(struct astro_cache *c, int n, int err);
#endif

#endif

/*
 * tlm_archive.h — the telemetry archive: its own LMDB environment in
 * archive_dir, never evicted, shared by astrofs (reader) and astrofs-ingest
 * (writer) across processes.
 *
 * Content (named LMDB databases):
 *   meta     MSID name → id, type, unit, samples, first, last, mtime
 *   blocks.v1 (id u32 BE, t biased u64 BE of its first sample) → a block of
 *            up to 4096 samples of that MSID (tlm_block.h: times, flags,
 *            ingest ids, values; versioned and CRC-checked).  Blocks of an
 *            MSID never overlap.  A damaged block is never served: reads
 *            that reach it return -EIO and the log names it.
 *            Format 1 kept one record per sample in "samples"; a writable
 *            open converts it in place in its opening transaction, a
 *            read-only open refuses it with -EPROTO and says how to convert.
 *   ledger   file name → sha256, rows, first, last, committed_at, ingest id,
 *            the MSID ids it touched
 *   s5, sd   (id, bin index) → 5-minute / daily statistics (tlm_stats.h)
 *   days     (id, UTC day number) → bytes and rows of that day's
 *            full-resolution CSV (tlm_fmt's row format, good samples only)
 *   info     next ids, generation counter, the BAD_TIMES table text, format (2),
 *            the archive's random identity (archive_id)
 * Times are TT µs since 1998.0 (tlm_time.h).
 *
 * Ingest guarantees: one write transaction per file (parsing happens inside
 * it, a chunk at a time, so other writers wait for it), holding its samples,
 * metadata, ledger row and every stats bin it touches (recomputed from the
 * filtered samples: quality-bad and BAD_TIMES removed).  A file that fails
 * to parse, or conflicts with the archive (a state MSID given numbers or the
 * reverse), is rejected whole and nothing of it is stored.  The ledger is
 * keyed by name: same name and sha256 → skipped; same name and other content
 * → -EEXIST unless ASTRO_TLM_REPLACE, which first removes the old file's
 * samples.  Equal (MSID, time) → the later ingest wins.  A crash at any point
 * leaves the archive as before the transaction (LMDB's commit is atomic).
 *
 * Reads: a reader holds one LMDB read transaction (the environment is opened
 * MDB_NOTLS, so a reader may move between threads and a thread may hold
 * many) and sees one snapshot for its whole life.  Readers should be short
 * lived: LMDB cannot reuse pages freed after the oldest live reader began.
 *
 * Thread-safety: an archive handle is shared by all threads; a reader or an
 * iterator is used by one thread at a time.
 */
#ifndef ASTRO_TLM_ARCHIVE_H
#define ASTRO_TLM_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>
#include "tlm_parse.h"
#include "tlm_stats.h"

struct astro_tlm_archive;
struct astro_tlm_reader;

/* Created modes: the archive is not for other users (README, astrofs(8)). */
#define ASTRO_TLM_DIR_MODE 0750
#define ASTRO_TLM_FILE_MODE 0640

#define ASTRO_TLM_RDONLY 0x1u	/* open: never write (for the FUSE daemon) */
#define ASTRO_TLM_REPLACE 0x2u	/* ingest: replace a same-name file */

/* Creates dir if missing (unless RDONLY).  -errno; err names the problem. */
int astro_tlm_archive_open(const char *dir, unsigned flags,
			   struct astro_tlm_archive **a, char *err,
			   size_t errlen);
void astro_tlm_archive_close(struct astro_tlm_archive *a);
/*
 * The archive's identity: random, drawn when it was first opened for
 * writing, kept for its life; a recreated archive has another.  0 for an
 * archive from before identities, opened read-only.
 */
uint64_t astro_tlm_archive_id(const struct astro_tlm_archive *a);

struct astro_tlm_ingest_result {
	int skipped;		/* same name and content already ingested */
	int replaced;		/* an older same-name file was replaced */
	size_t rows;
	int64_t first, last;
	char sha256[65];
};

/*
 * Ingest one file's content under `name` (its base name).  Returns 0,
 * -EINVAL (bad content; err names line/record), -EEXIST (same name, other
 * content, no REPLACE), -ENOMEM, -EIO/-ENOSPC (LMDB).
 */
int astro_tlm_archive_ingest(struct astro_tlm_archive *a, const char *name,
			     const char *buf, size_t len, unsigned flags,
			     struct astro_tlm_ingest_result *res, char *err,
			     size_t errlen);

/*
 * The same for a file on disk, ingested under its base name.  The file is
 * read, parsed and stored a chunk (8 MiB) at a time inside the one
 * transaction, so memory does not grow with the file (LMDB's own dirty
 * pages aside).  Adds -ENOENT/-EACCES/-EISDIR for a file that cannot be read.
 */
int astro_tlm_archive_ingest_file(struct astro_tlm_archive *a, const char *path,
				  unsigned flags,
				  struct astro_tlm_ingest_result *res, char *err,
				  size_t errlen);

/*
 * Progress of the ingests on this handle: fn gets the fraction done (0..1,
 * the phases — parse and store, statistics — weighted by their typical cost)
 * and the samples parsed so far, at most every 64 Ki samples.  NULL stops.
 * For one thread's handle (astrofs-ingest); not for a shared one.
 */
typedef void (*astro_tlm_progress_fn)(void *arg, double frac, uint64_t samples);
void astro_tlm_archive_set_progress(struct astro_tlm_archive *a, astro_tlm_progress_fn fn,
				    void *arg);

/* Replace the BAD_TIMES table (cheta text) and recompute affected bins. */
int astro_tlm_archive_set_badtimes(struct astro_tlm_archive *a,
				   const char *buf, size_t len, char *err,
				   size_t errlen);
int astro_tlm_archive_set_badtimes_file(struct astro_tlm_archive *a,
					const char *path, char *err,
					size_t errlen);

/* ---- reading ---- */

struct astro_tlm_meta {
	char name[ASTRO_TLM_MSID_MAX];
	uint32_t id;
	uint8_t type;
	char unit[32];
	uint64_t samples;	/* stored samples, bad ones included */
	int64_t first, last;	/* TT µs of the first and last stored sample */
	int64_t mtime;		/* unix seconds of the last commit touching it */
	uint64_t gen;		/* generation of that commit: a content version */
};

int astro_tlm_archive_reader_open(struct astro_tlm_archive *a,
				  struct astro_tlm_reader **r);
void astro_tlm_archive_reader_close(struct astro_tlm_reader *r);
/* Commit counter of this snapshot (changes with every ingest). */
uint64_t astro_tlm_archive_reader_generation(const struct astro_tlm_reader *r);
/* Any case accepted.  -ENOENT for an unknown or invalid name. */
int astro_tlm_archive_reader_meta(struct astro_tlm_reader *r, const char *msid,
				  struct astro_tlm_meta *m);
/* All MSIDs in name order; stops early when fn returns non-zero. */
int astro_tlm_archive_reader_each_msid(struct astro_tlm_reader *r,
				       int (*fn)(void *arg, const struct astro_tlm_meta *m),
				       void *arg);
/* BAD_TIMES text (empty if none) and its mtime; text valid while r lives. */
const char *astro_tlm_archive_reader_badtimes(struct astro_tlm_reader *r, size_t *len,
					      int64_t *mtime);
/* Generation of the commit that last set the table (0: never). */
uint64_t astro_tlm_archive_reader_badtimes_gen(struct astro_tlm_reader *r);

struct astro_tlm_ledger_row {
	char name[256];
	char sha256[65];
	uint64_t rows, ingest_id;
	int64_t first, last, committed_at;
};
int astro_tlm_archive_reader_each_ledger(struct astro_tlm_reader *r,
					 int (*fn)(void *arg, const struct astro_tlm_ledger_row *l),
					 void *arg);

/*
 * The per-day rendered sizes of days d0..d1 (inclusive, day numbers of
 * astro_tlm_time_utc_day) that hold good samples, ascending; stops early
 * when fn returns non-zero.
 */
int astro_tlm_archive_reader_each_day(struct astro_tlm_reader *r, const struct astro_tlm_meta *m,
				      int64_t d0, int64_t d1,
				      int (*fn)(void *arg, int64_t day, uint64_t bytes,
						uint64_t rows),
				      void *arg);

/* Samples of one MSID in [t0, t1), time-ascending. */
struct astro_tlm_iter;
#define ASTRO_TLM_ALL 0x1u	/* iter: include bad and BAD_TIMES samples */
int astro_tlm_archive_iter_open(struct astro_tlm_reader *r, const struct astro_tlm_meta *m,
				int64_t t0, int64_t t1, unsigned flags,
				struct astro_tlm_iter **it);
/* 1 = a sample (text valid while the reader lives), 0 = end, -errno. */
int astro_tlm_archive_iter_next(struct astro_tlm_iter *it, int64_t *t,
				struct astro_tlm_val *v, int *bad);
void astro_tlm_archive_iter_close(struct astro_tlm_iter *it);

/* Stats bins with index in [i0, i1).  st->states is owned by the iterator. */
struct astro_tlm_siter;
int astro_tlm_archive_siter_open(struct astro_tlm_reader *r, const struct astro_tlm_meta *m,
				 int daily, int64_t i0, int64_t i1,
				 struct astro_tlm_siter **it);
int astro_tlm_archive_siter_next(struct astro_tlm_siter *it, struct astro_tlm_stat *st);
void astro_tlm_archive_siter_close(struct astro_tlm_siter *it);

#endif

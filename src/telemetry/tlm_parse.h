/*
 * tlm_parse.h — telemetry input parsers: CSV, MAST JWST EDB JSON, and the
 * cheta bad-times table.
 *
 * Parsers fill a batch from text in memory and reject garbage with a
 * message naming the line (CSV, bad-times) or record (JSON) and what was
 * wrong.  CSV is also parsed chunk by chunk (astro_tlm_parse_csv_chunk), so
 * a file of any size needs memory for one chunk only; the caller (the
 * archive's ingest) keeps the whole-file all-or-nothing guarantee.  Nothing
 * here touches the archive.
 *
 * CSV: header `msid,time,value` then optionally `quality` and/or `unit` in
 * either order (any case, optional UTF-8 BOM, LF or CRLF); a row may leave
 * out trailing optional fields.  msid: 1..63 of [A-Za-z0-9_-], stored upper-case.  time: any form of
 * astro_tlm_time_parse (YYYY:DDD:hh:mm:ss.sss, ISO 8601 UTC, …).  value: an
 * integer (int64), a finite decimal number, or state text (RFC 4180 quotes
 * allowed; trailing blanks stripped, as cheta pads states).  NaN/Inf are
 * refused: flag such samples bad instead.  quality: empty/0/false/good = good,
 * 1/true/bad = bad.  unit: free text up to 31 bytes, empty = none; an MSID
 * keeps its first unit and a different one later is an error.  Blank lines
 * are skipped.
 *
 * JSON (MAST EDB mnemonic dump): {"TlmMnemonic": S, "Data": [{"ObsTime":
 * "/Date(<unix ms>+0000)/", "EUValue": number|string}, …], "Count": N?, …};
 * Count, when present, must equal the number of records; "Unit" (or
 * "unit"), when present, is the MSID's unit (a string, up to 31 bytes).
 *
 * Typing, per MSID within a batch: all integers → INT; any non-integer
 * number → FLOAT (its integers converted to double); any text → STATE (numbers of that
 * MSID then kept as their text).
 *
 * Bad times (cheta msid_bad_times.dat): `MSID start stop` separated by
 * blanks, `#` to end of line a comment, blank lines ignored.  MSID is an
 * fnmatch glob, case-insensitive; start/stop in any astro_tlm_time_parse form;
 * the interval is closed [start, stop]; stop >= start.
 *
 * Thread-safety: batches are owned by the caller; functions are reentrant.
 */
#ifndef ASTRO_TLM_PARSE_H
#define ASTRO_TLM_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum astro_tlm_type { ASTRO_TLM_INT = 1, ASTRO_TLM_FLOAT = 2, ASTRO_TLM_STATE = 3 };

#define ASTRO_TLM_MSID_MAX 64	/* including the NUL */
#define ASTRO_TLM_UNIT_MAX 32	/* including the NUL */

struct astro_tlm_sample {
	int64_t t;		/* TT µs since 1998.0 (tlm_time.h) */
	union {
		int64_t i;
		double f;
	} v;
	uint32_t msid;		/* index into batch->msid */
	uint32_t toff, tlen;	/* STATE text in batch->text */
	uint8_t type;		/* enum astro_tlm_type of this value */
	uint8_t bad;		/* quality flag: 1 = bad */
};

struct astro_tlm_msid_info {
	char name[ASTRO_TLM_MSID_MAX];
	uint8_t type;		/* resolved type for the batch (only rises) */
	size_t count;
	char unit[ASTRO_TLM_UNIT_MAX];	/* "" when the input gives none */
};

struct astro_tlm_batch {
	struct astro_tlm_sample *s;
	size_t n, cap;
	struct astro_tlm_msid_info *msid;
	size_t nmsid, msid_cap;
	char *text;		/* state texts (owned) */
	size_t text_len, text_cap;
	/* optional: called every 64 Ki CSV lines of astro_tlm_parse_csv with bytes parsed and the total */
	void (*progress)(void *arg, size_t done, size_t total);
	void *progress_arg;
};

void astro_tlm_parse_batch_init(struct astro_tlm_batch *b);
void astro_tlm_parse_batch_free(struct astro_tlm_batch *b);

/* 0 or -EINVAL (err says where and why) or -ENOMEM; on failure the batch
 * is left empty. */
int astro_tlm_parse_csv(const char *buf, size_t len, struct astro_tlm_batch *b,
			char *err, size_t errlen);
int astro_tlm_parse_jwst_json(const char *buf, size_t len,
			      struct astro_tlm_batch *b, char *err,
			      size_t errlen);
/*
 * Chunked CSV.  Each call parses the whole lines of buf (all of it when
 * final) into b, sets *used to the bytes consumed (the rest, a partial
 * line, must be passed again at the start of the next call), and leaves the
 * samples' types unresolved.  Between chunks the caller resolves
 * (astro_tlm_parse_resolve with the same buf) and empties the batch
 * (astro_tlm_parse_batch_clear); the MSID table, with types and units,
 * lives on.  After the last chunk astro_tlm_parse_csv_end checks the file
 * had a header and samples.  On -EINVAL the batch is not freed.
 */
struct astro_tlm_csv {
	size_t line;		/* lines parsed so far */
	size_t offset;		/* bytes consumed so far */
	size_t samples;		/* samples parsed so far */
	size_t counted;		/* of them, in the current batch */
	int ncol;		/* header fields; 0 before the header */
	int col_quality, col_unit;	/* -1 when absent */
	uint32_t last;		/* last MSID index looked up */
};
void astro_tlm_parse_csv_init(struct astro_tlm_csv *st);
int astro_tlm_parse_csv_chunk(struct astro_tlm_csv *st, const char *buf, size_t len, int final,
			      struct astro_tlm_batch *b, size_t *used, char *err, size_t errlen);
int astro_tlm_parse_csv_end(const struct astro_tlm_csv *st, char *err, size_t errlen);
/*
 * Settle the types of b's samples: each MSID takes the highest type seen
 * (in this batch or, its table kept, an earlier one) and its samples are
 * converted to it; numbers of a state MSID keep their text from src (the
 * buffer they were parsed from) when given.  0 or -ENOMEM.
 */
int astro_tlm_parse_resolve(struct astro_tlm_batch *b, const char *src);
/* Empty the samples and texts, keep the MSID table; st (may be NULL) follows. */
void astro_tlm_parse_batch_clear(struct astro_tlm_batch *b, struct astro_tlm_csv *st);

/* JSON if the first non-blank byte is '{' or '[', else CSV. */
int astro_tlm_parse_any(const char *buf, size_t len, struct astro_tlm_batch *b,
			char *err, size_t errlen);

/* Canonical MSID (upper case) into out; -EINVAL if not a valid name. */
int astro_tlm_parse_msid_canon(const char *s, size_t len, char out[ASTRO_TLM_MSID_MAX]);

struct astro_tlm_badtime {
	char glob[ASTRO_TLM_MSID_MAX];	/* upper case */
	int64_t start, stop;		/* closed interval, TT µs */
};

struct astro_tlm_badtimes {
	struct astro_tlm_badtime *v;
	size_t n;
};

int astro_tlm_parse_badtimes(const char *buf, size_t len,
			     struct astro_tlm_badtimes *bt, char *err,
			     size_t errlen);
void astro_tlm_parse_badtimes_free(struct astro_tlm_badtimes *bt);
/* True if (canonical) msid at t lies in an interval of the table. */
bool astro_tlm_parse_badtimes_match(const struct astro_tlm_badtimes *bt,
				    const char *msid, int64_t t);

#endif

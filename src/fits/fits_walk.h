/*
 * fits_walk.h — walk the HDU list of a FITS object through ranged reads.
 *
 * Pure module: no HTTP, S3 or FUSE.  The caller supplies a read callback
 * (a ranged GET, a pread, a memory copy); the walker decides which ranges
 * to ask for, finds each header's END card, sizes each data unit with the
 * FITS 4.0 equations and jumps over it.  Data units are never read except
 * small ones that are cheaper to read through than to skip (see "Reads").
 * cfitsio is used only to parse card values (fits_parse_value); offsets
 * and sizes are computed here, never taken from cfitsio's I/O.
 *
 * Walk rules (FITS 4.0, docs/reference/fits.md §1):
 *  - HDUs are whole 2880-byte blocks; HDU k+1 starts where HDU k's padded
 *    data unit ends.  All arithmetic is 64-bit with overflow checks.
 *  - END is the card whose columns 1-8 are "END" + blanks, at a card
 *    boundary (offset multiple of 80); never a substring.  Bytes in columns
 *    9-80 of the END card are tolerated with a warning (astropy does too).
 *  - data bytes = |BITPIX|/8 * GCOUNT * (PCOUNT + NAXIS1*...*NAXISm)
 *    (PCOUNT 0 and GCOUNT 1 when absent, for every HDU; 0 when NAXIS = 0);
 *    random groups (HDU 0, GROUPS = T, NAXIS1 = 0) leave NAXIS1 out.
 *    THEAP is ignored: PCOUNT already counts gap + heap.
 *  - After HDU 0 the walk goes on only while the next block starts with
 *    "XTENSION".  A block of NULs, a short tail (< 2880 bytes) or anything
 *    else (special records, junk) ends the list, with a warning.
 *  - Tolerated with a warning: free-format or '+'-signed mandatory
 *    integers, unpadded XTENSION values, duplicate mandatory keywords
 *    (first wins), mandatory keywords out of order or in lower case,
 *    SIMPLE = F, NUL padding after END, bytes outside 0x20-0x7E in cards.
 *  - Rejected (the HDU is "damaged"): BITPIX not in {8,16,32,64,-32,-64},
 *    NAXIS outside 0..999, a missing BITPIX/NAXIS/NAXISn, non-integer or
 *    negative sizes, sizes whose product overflows int64, a header without
 *    END (EOF, or longer than max_header), a header whose END block is cut
 *    short, a first HDU that does not start with SIMPLE (not FITS; gzip and
 *    compress magic are named in the message).
 *  - Data units that run past the end of the object (truncated files) keep
 *    their HDU; the HDU is flagged and a warning logged.
 *
 * Errors (what a provider maps to errno for headers/N):
 *  - HDU n exists and its header is sound             → 0
 *  - HDU n's header is truncated or malformed          → -EIO
 *    (HDUs before it stay available)
 *  - the list ended before n (or after a damaged HDU)  → -ENOENT
 *  - n is past max_hdus, or the object's cards pass 256 MiB → -EIO
 *    (astro_fits_walk_end says ASTRO_FITS_END_LIMIT)
 *  - the read callback failed                           → its -errno; the
 *    state is unchanged and the walk can be retried.
 *  - the object changed under the walk (size differs)  → -ESTALE; drop
 *    the state (and its cache entry) and walk again.  A provider whose
 *    GET gets 412 (If-Match) returns -ESTALE from the callback too; one
 *    that gets 200 to a Range request must fail the read, never pass on
 *    bytes from offset 0.
 *
 * SIMPLE = F: astropy makes the rest of the file one non-standard HDU;
 * astrofs warns and walks it like SIMPLE = T (sizes from the same keys).
 * Memory: an open walk holds a read buffer (about first_read, or the
 * largest header, plus coalesce_gap or small_tail); it is freed when the
 * list is complete.  Headers are kept (cards only) for every walked HDU.
 *
 * Reads: the first read at an offset asks for first_read bytes (64 KiB);
 * a header without END in what was read grows by doubling the bytes read
 * from its start (each growth read appends, nothing is read twice).  When
 * the next header lies at most coalesce_gap bytes past what is buffered,
 * the read continues from the buffer's end (the small data unit is read
 * through, and a header straddling the buffer end is reused); otherwise it
 * starts at the header.  When the object size is known and at most
 * small_tail bytes remain, one read takes the rest of the object.  Once the
 * size is known (from the callback or a short read), the walk ends at
 * next_offset == size without a probe read.  Reads made by one state never
 * overlap.
 *
 * Laziness: astro_fits_walk_to(w, n) walks only HDUs 0..n.  The state is
 * resumable and serialisable (for a cache entry keyed by bucket, key and
 * ETag): astro_fits_walk_serialize() keeps the walked headers' cards and
 * where the walk stands (the read buffer is not kept); deserialisation
 * re-parses the cards and checks every invariant, so a corrupt or foreign
 * entry is refused with -EINVAL rather than trusted.
 *
 * Thread-safety: a walk state is not locked; use one per object under the
 * caller's lock.  Different states are independent.  Logging goes through
 * astro_log (log.h), prefixed with opts.name.
 */
#ifndef ASTRO_FITS_WALK_H
#define ASTRO_FITS_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ASTRO_FITS_BLOCK 2880u
#define ASTRO_FITS_CARD 80u
#define ASTRO_FITS_SIZE_UNKNOWN UINT64_MAX

/*
 * Read up to len bytes at off into buf; set *got.  *got < len only at the
 * end of the object (a read at or past the end: return 0 with *got = 0).
 * When the object size is known (Content-Range total, stat), store it in
 * *size; leave *size alone otherwise.  Return 0 or -errno.
 */
typedef int (*astro_fits_read_fn)(void *arg, uint64_t off, size_t len,
				  void *buf, size_t *got, uint64_t *size);

struct astro_fits_walk_opts {
	const char *name;	/* log prefix, e.g. "s3://bucket/key"; copied */
	size_t first_read;	/* bytes of a read at a new offset: 65536 */
	size_t max_header;	/* longest header accepted: 64 MiB */
	uint32_t max_hdus;	/* HDUs walked at most: 10000 */
	uint64_t coalesce_gap;	/* read through data units up to: 256 KiB */
	uint64_t small_tail;	/* read the rest in one go below: 1 MiB */
	bool quiet;		/* no warnings (re-walks, fuzzing) */
};

/* HDU flags */
#define ASTRO_FITS_HDU_DATA_TRUNCATED 0x1u /* data unit runs past the object end */
#define ASTRO_FITS_HDU_PAD_MISSING 0x2u	   /* data complete, final fill missing */
#define ASTRO_FITS_HDU_IRREGULAR 0x4u	   /* header tolerated with warnings */
#define ASTRO_FITS_HDU_GROUPS 0x8u	   /* random groups (NAXIS1 left out) */
#define ASTRO_FITS_HDU_HAS_EXTNAME 0x10u
#define ASTRO_FITS_HDU_HAS_EXTVER 0x20u

struct astro_fits_hdu {
	uint32_t index;
	uint32_t flags;
	uint64_t header_offset;
	uint64_t header_bytes;	  /* whole blocks, = data_offset - header_offset */
	uint64_t end_card_offset; /* absolute offset of the END card */
	uint64_t data_offset;
	uint64_t data_bytes;	  /* Eq. 2, without the fill to 2880 */
	uint64_t data_span;	  /* data_bytes rounded up to 2880 */
	int bitpix;
	int naxis;
	int64_t extver;		  /* valid with ASTRO_FITS_HDU_HAS_EXTVER */
	char xtension[72];	  /* "" for the primary HDU */
	char extname[72];	  /* valid with ASTRO_FITS_HDU_HAS_EXTNAME */
	const char *cards;	  /* cards as stored, first through END */
	size_t ncards;		  /* including END; cards is ncards*80 bytes */
};

/* Why the list ended (astro_fits_walk_end). */
enum astro_fits_end {
	ASTRO_FITS_END_NONE = 0,     /* not walked to the end yet */
	ASTRO_FITS_END_EOF,	     /* last HDU ended at the object end */
	ASTRO_FITS_END_TRUNCATED,    /* last data unit runs past the end */
	ASTRO_FITS_END_SHORT_TAIL,   /* < 2880 bytes after the last HDU */
	ASTRO_FITS_END_NUL_PADDING,  /* a block of NULs after the last HDU */
	ASTRO_FITS_END_JUNK,	     /* special records or garbage */
	ASTRO_FITS_END_DAMAGED,	     /* HDU count() is damaged: -EIO for it */
	ASTRO_FITS_END_LIMIT,	     /* max_hdus or the card memory cap reached */
};

struct astro_fits_walk;

/* opts may be NULL (defaults); size may be ASTRO_FITS_SIZE_UNKNOWN. */
int astro_fits_walk_new(const struct astro_fits_walk_opts *opts, uint64_t size,
			struct astro_fits_walk **out);
void astro_fits_walk_free(struct astro_fits_walk *w);

/* Walk until HDU n is known (see "Errors" above). */
int astro_fits_walk_to(struct astro_fits_walk *w, astro_fits_read_fn fn,
		       void *arg, uint32_t n);
/*
 * Walk to the end of the list.  0 when the list is complete (it may have
 * ended at junk or a truncated data unit: see astro_fits_walk_end); -EIO
 * when it is not (a damaged header or a limit: count() HDUs stay valid);
 * another -errno from the callback or -ESTALE.
 */
int astro_fits_walk_all(struct astro_fits_walk *w, astro_fits_read_fn fn,
			void *arg);

/*
 * EXTNAME/EXTVER aliases (JWST's extension order is not fixed): walk only
 * as far as the first HDU whose EXTNAME equals extname (case-insensitive,
 * as astropy matches) and whose EXTVER (1 when absent, FITS 4.0 §4.4.2.6)
 * equals extver, or any EXTVER when extver is 0.  0 and *index; -ENOENT
 * when the list ends without one; -EIO when a damaged header or a limit
 * stops the walk first; a callback error.
 */
int astro_fits_walk_find(struct astro_fits_walk *w, astro_fits_read_fn fn, void *arg,
			 const char *extname, int64_t extver, uint32_t *index);

uint32_t astro_fits_walk_count(const struct astro_fits_walk *w);
/* NULL unless HDU n has been walked.  Stays valid (also across further
 * walking) until the state is freed. */
const struct astro_fits_hdu *astro_fits_walk_hdu(const struct astro_fits_walk *w,
						 uint32_t n);
/* End reason; with ASTRO_FITS_END_DAMAGED, *msg names what was wrong. */
enum astro_fits_end astro_fits_walk_end(const struct astro_fits_walk *w,
					const char **msg);

/*
 * Serialise into a malloc'd buffer: "AFWS", version byte 1, then the walk
 * position and each walked HDU's cards (little-endian fields).  Load with
 * the same opts semantics as astro_fits_walk_new; -EINVAL (after a log
 * line) on any inconsistency, -ENOMEM.
 */
int astro_fits_walk_serialize(const struct astro_fits_walk *w, void **out,
			      size_t *len);
int astro_fits_walk_deserialize(const struct astro_fits_walk_opts *opts,
				const void *buf, size_t len,
				struct astro_fits_walk **out);

/*
 * headers/N content: each stored card (80 bytes, as stored) followed by
 * '\n', from the first card through END.  size = ncards * 81.  read copies
 * [off, off+len) of that text into buf and returns the byte count (0 at
 * or past the end).
 */
uint64_t astro_fits_walk_header_text_size(const struct astro_fits_hdu *h);
size_t astro_fits_walk_header_text_read(const struct astro_fits_hdu *h, uint64_t off,
					char *buf, size_t len);

/*
 * hdus.csv: the line
 *   index,xtension,extname,extver,bitpix,naxis,header_offset,header_bytes,data_offset,data_bytes
 * then one line per walked HDU, '\n'-terminated.  xtension is empty for the
 * primary HDU; extname and extver are empty when the keyword is absent;
 * data_bytes is the unpadded size (Eq. 2).  Quoting is RFC 4180: a field
 * holding ',', '"', CR or LF is enclosed in '"' with inner '"' doubled;
 * bytes outside 0x20-0x7E become '?'; lines end in LF (not CRLF).
 * Writes a malloc'd NUL-terminated buffer; returns 0 or -ENOMEM.
 */
int astro_fits_walk_hdus_csv(const struct astro_fits_walk *w, char **out, size_t *len);

#endif

/*
 * tlm_block.h — the archive's storage unit: up to ASTRO_TLM_BLOCK_MAX
 * time-ascending samples of one MSID in one LMDB value.
 *
 * Encoded layout, version 1 (all varints LEB128, "zz" = zigzag):
 *   u8 version (1), u8 reserved (0), u32 LE CRC-32 of every other byte
 *   varint n (1..ASTRO_TLM_BLOCK_MAX)
 *   times     zz t0, then runs (zz delta-of-delta, repeat-1) over n-1 steps;
 *             strictly ascending (1 Hz data: one run, ~3 bytes per block)
 *   flags     runs (u8 type | bad<<2, repeat-1)
 *   ingests   runs (varint ingest id, repeat-1)
 *   values    by each sample's type, in sample order within its stream:
 *     INT     zz delta from the previous INT (wrapping), starting at 0
 *     FLOAT   u8 mode: 0 = XOR with the previous bits (starting at 0), each
 *             as u8 (leading zero bytes << 4 | trailing zero bytes) and the
 *             bytes between; 1 + d = decimal: zz delta of the integers k
 *             with k / 10^d == the value, bit for bit (checked when
 *             encoding; telemetry like 23.47 costs 1-2 bytes)
 *     STATE   varint dictionary size, each (varint length, text), then runs
 *             (varint dictionary index, repeat-1)
 *   nothing after the last stream.
 * The decoder checks every count, bound and the CRC, and refuses anything
 * else with a message: a damaged block is never served.
 */
#ifndef ASTRO_TLM_BLOCK_H
#define ASTRO_TLM_BLOCK_H

#include <stddef.h>
#include <stdint.h>
#include "tlm_stats.h"

#define ASTRO_TLM_BLOCK_VERSION 1
#define ASTRO_TLM_BLOCK_MAX 4096	/* samples per block */

/* A decoded block (or a run being encoded): parallel arrays of n samples. */
struct astro_tlm_block {
	size_t n, cap;
	int64_t *t;			/* TT µs, strictly ascending */
	struct astro_tlm_val *v;	/* STATE text points into the encoded bytes */
	uint8_t *bad;
	uint32_t *iid;			/* ingest id that stored the sample */
};

void astro_tlm_block_init(struct astro_tlm_block *b);
void astro_tlm_block_free(struct astro_tlm_block *b);
/* Room for n samples (contents kept). */
int astro_tlm_block_reserve(struct astro_tlm_block *b, size_t n);
/* Append one sample (room grown as needed). */
int astro_tlm_block_push(struct astro_tlm_block *b, int64_t t, const struct astro_tlm_val *v,
			 int bad, uint32_t iid);

/*
 * Encode samples [from, from + n) of b (1 <= n <= ASTRO_TLM_BLOCK_MAX, times
 * strictly ascending) into *buf (grown as needed, capacity *cap).  Returns
 * the encoded length, or -EINVAL / -ENOMEM.
 */
long astro_tlm_block_encode(const struct astro_tlm_block *b, size_t from, size_t n,
			    unsigned char **buf, size_t *cap);

/*
 * Decode an encoded block into b (replacing its samples).  STATE texts point
 * into buf, which must outlive their use.  -EIO with err naming what is
 * wrong for anything not written by the encoder; -ENOMEM.
 */
int astro_tlm_block_decode(const void *buf, size_t len, struct astro_tlm_block *b,
			   char *err, size_t errlen);
/*
 * The same for the samples before tmax only (b->n of them; *whole, if not
 * NULL, the block's count): what a time range needs of its last block.
 */
int astro_tlm_block_decode_before(const void *buf, size_t len, int64_t tmax,
				  struct astro_tlm_block *b, size_t *whole, char *err,
				  size_t errlen);
/*
 * The same, and the samples before tmin get their time, type and flags
 * but no value (a range starting inside the block never reads them).
 */
int astro_tlm_block_decode_span(const void *buf, size_t len, int64_t tmin, int64_t tmax,
				struct astro_tlm_block *b, size_t *whole, char *err,
				size_t errlen);

#endif

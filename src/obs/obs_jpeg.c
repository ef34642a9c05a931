/* obs_jpeg.c — DC-only baseline JPEG encoder (see obs_jpeg.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "core/astro.h"
#include "obs_jpeg.h"

/* ITU T.81 Table K.3: code counts per length 1..16, then the symbols. */
static const uint8_t dc_bits[16] = { 0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0 };
static const uint8_t dc_vals[12] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };
/* One AC symbol, EOB (0x00), with the 2-bit code 00: a 1-bit code would be
 * legal too, but some decoders dislike single-bit tables. */
static const uint8_t ac_bits[16] = { 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
static const uint8_t ac_vals[1] = { 0x00 };
#define QUANT 8	/* every coefficient; DC/8 is then the block mean - 128 */

struct buf {
	struct astro_buf o;
	uint32_t acc;	/* pending entropy bits, MSB first */
	int nacc;
};

static void put(struct buf *b, const void *data, size_t n)
{
	astro_buf_put(&b->o, data, n);
}

static void put_marker(struct buf *b, uint8_t m, const uint8_t *body, size_t n)
{
	uint8_t hdr[4] = { 0xff, m, (uint8_t)((n + 2) >> 8), (uint8_t)(n + 2) };

	put(b, hdr, 4);
	put(b, body, n);
}

/* Entropy-coded bits; a 0xFF byte is followed by a stuffed 0x00. */
static void put_bits(struct buf *b, uint32_t bits, int n)
{
	b->acc = (b->acc << n) | (bits & ((1u << n) - 1));
	b->nacc += n;
	while (b->nacc >= 8) {
		uint8_t byte = (uint8_t)(b->acc >> (b->nacc - 8));

		put(b, &byte, 1);
		if (byte == 0xff)
			put(b, "", 1);
		b->nacc -= 8;
	}
}

/* Canonical Huffman codes from counts per length (T.81 Annex C). */
static void make_codes(const uint8_t bits[16], const uint8_t *vals, uint16_t code[256],
		       uint8_t size[256])
{
	uint16_t c = 0;
	int len, i, k = 0;

	for (len = 1; len <= 16; len++) {
		for (i = 0; i < bits[len - 1]; i++, k++) {
			code[vals[k]] = c++;
			size[vals[k]] = (uint8_t)len;
		}
		c <<= 1;
	}
}

static void put_dht(struct buf *b, uint8_t class_id, const uint8_t bits[16],
		    const uint8_t *vals, size_t nvals)
{
	uint8_t body[1 + 16 + 16];

	body[0] = class_id;
	memcpy(body + 1, bits, 16);
	memcpy(body + 17, vals, nvals);
	put_marker(b, 0xc4, body, 17 + nvals);
}

int astro_obs_jpeg_grey(const uint8_t *pix, unsigned w, unsigned h,
			uint8_t **out, size_t *len)
{
	static const uint8_t app0[14] = { 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0 };
	uint16_t dc_code[256] = { 0 }, ac_code[256] = { 0 };
	uint8_t dc_size[256] = { 0 }, ac_size[256] = { 0 }, dqt[65], sof[9];
	static const uint8_t sos[6] = { 1, 1, 0x00, 0, 63, 0 };
	struct buf b = { 0 };
	unsigned bx, by, x, y;
	int pred = 0;

	if (!pix || !out || !len || w == 0 || h == 0 || w % 8 || h % 8 ||
	    w > ASTRO_OBS_JPEG_MAX_SIDE || h > ASTRO_OBS_JPEG_MAX_SIDE)
		return -EINVAL;
	make_codes(dc_bits, dc_vals, dc_code, dc_size);
	make_codes(ac_bits, ac_vals, ac_code, ac_size);
	put(&b, "\xff\xd8", 2);				/* SOI */
	put_marker(&b, 0xe0, app0, sizeof(app0));	/* JFIF 1.01, aspect 1:1 */
	dqt[0] = 0;					/* 8-bit, table 0 */
	memset(dqt + 1, QUANT, 64);
	put_marker(&b, 0xdb, dqt, sizeof(dqt));
	sof[0] = 8;
	sof[1] = (uint8_t)(h >> 8);
	sof[2] = (uint8_t)h;
	sof[3] = (uint8_t)(w >> 8);
	sof[4] = (uint8_t)w;
	sof[5] = 1;					/* one component: Y */
	sof[6] = 1;
	sof[7] = 0x11;					/* no subsampling */
	sof[8] = 0;
	put_marker(&b, 0xc0, sof, sizeof(sof));
	put_dht(&b, 0x00, dc_bits, dc_vals, sizeof(dc_vals));
	put_dht(&b, 0x10, ac_bits, ac_vals, sizeof(ac_vals));
	put_marker(&b, 0xda, sos, sizeof(sos));
	for (by = 0; by < h / 8; by++) {
		for (bx = 0; bx < w / 8; bx++) {
			unsigned sum = 0;
			int dc, diff, mag, cat = 0;

			for (y = 0; y < 8; y++)
				for (x = 0; x < 8; x++)
					sum += pix[(size_t)(by * 8 + y) * w + bx * 8 + x];
			dc = (int)((sum + 32) / 64) - 128;	/* rounded mean, level-shifted */
			diff = dc - pred;
			pred = dc;
			for (mag = diff < 0 ? -diff : diff; mag; mag >>= 1)
				cat++;
			put_bits(&b, dc_code[cat], dc_size[cat]);
			/* Negative differences are sent as diff-1 in cat bits. */
			if (cat)
				put_bits(&b, (uint32_t)(diff < 0 ? diff - 1 : diff), cat);
			put_bits(&b, ac_code[0], ac_size[0]);	/* EOB */
		}
	}
	if (b.nacc)
		put_bits(&b, 0x7f, 8 - b.nacc);	/* pad with 1-bits */
	put(&b, "\xff\xd9", 2);				/* EOI */
	if (b.o.err) {
		free(b.o.p);
		return b.o.err;
	}
	*out = (uint8_t *)b.o.p;
	*len = b.o.len;
	return 0;
}

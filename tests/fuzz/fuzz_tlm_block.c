/*
 * Fuzz the telemetry archive's block decoder.  Each input is decoded as it
 * is, then again with its CRC-32 set right, so the fuzzer reaches the
 * parser behind the checksum.  Refused: a message and no samples.
 * Accepted: ascending times, valid types and state texts inside the input;
 * encoding the samples again and decoding that gives the same samples.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "telemetry/tlm_block.h"
#include "telemetry/tlm_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *p, size_t n)
{
	struct astro_tlm_block b, c;
	unsigned char *buf = NULL;
	size_t cap = 0;
	char err[160] = "";

	astro_tlm_block_init(&b);
	astro_tlm_block_init(&c);
	if (astro_tlm_block_decode(p, n, &b, err, sizeof(err)) != 0) {
		assert(err[0] && b.n == 0);
		goto out;
	}
	assert(b.n >= 1 && b.n <= ASTRO_TLM_BLOCK_MAX);
	for (size_t i = 0; i < b.n; i++) {
		assert(i == 0 || b.t[i] > b.t[i - 1]);
		assert(b.v[i].type >= ASTRO_TLM_INT && b.v[i].type <= ASTRO_TLM_STATE);
		if (b.v[i].type == ASTRO_TLM_STATE)
			assert((const uint8_t *)b.v[i].text >= p &&
			       (const uint8_t *)b.v[i].text + b.v[i].tlen <= p + n);
	}
	long len = astro_tlm_block_encode(&b, 0, b.n, &buf, &cap);

	assert(len > 0);
	assert(astro_tlm_block_decode(buf, (size_t)len, &c, err, sizeof(err)) == 0);
	assert(c.n == b.n);
	for (size_t i = 0; i < b.n; i++) {
		assert(c.t[i] == b.t[i] && c.bad[i] == b.bad[i] && c.iid[i] == b.iid[i]);
		assert(c.v[i].type == b.v[i].type);
		if (b.v[i].type == ASTRO_TLM_INT)
			assert(c.v[i].i == b.v[i].i);
		else if (b.v[i].type == ASTRO_TLM_FLOAT)
			assert(!memcmp(&c.v[i].f, &b.v[i].f, 8));
		else
			assert(c.v[i].tlen == b.v[i].tlen &&
			       !memcmp(c.v[i].text, b.v[i].text, b.v[i].tlen));
	}
out:
	free(buf);
	astro_tlm_block_free(&b);
	astro_tlm_block_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size);
	if (size >= 6) {
		uint8_t *q = malloc(size);
		uint32_t crc;

		memcpy(q, data, size);
		crc = (uint32_t)crc32(0, q, 2);
		crc = (uint32_t)crc32(crc, q + 6, (uInt)(size - 6));
		for (int i = 0; i < 4; i++)
			q[2 + i] = (uint8_t)(crc >> (8 * i));
		check(q, size);
		free(q);
	}
	return 0;
}

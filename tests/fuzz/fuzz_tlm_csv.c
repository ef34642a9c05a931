/*
 * Fuzz the telemetry csv parser: reject or accept, never crash or leak; and
 * parsed in small chunks (as the archive's ingest parses big files) it must
 * reach the same verdict and the same samples as in one piece.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "tlm_batch_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Chunks of 1 + data[0] % 61 bytes, a partial line carried as the ingest does. */
static int chunked(const char *in, size_t size, size_t step, size_t *n, uint8_t *types)
{
	struct astro_tlm_batch b;
	struct astro_tlm_csv st;
	char err[256] = "", *buf = malloc(size + 1);
	size_t have = 0, off = 0, used;
	int rc = 0;

	assert(buf);
	astro_tlm_parse_batch_init(&b);
	astro_tlm_parse_csv_init(&st);
	*n = 0;
	for (;;) {
		size_t take = size - off < step ? size - off : step;
		int final;

		memcpy(buf + have, in + off, take);
		have += take;
		off += take;
		final = off == size;
		if ((rc = astro_tlm_parse_csv_chunk(&st, buf, have, final, &b, &used, err, sizeof(err))))
			break;
		assert(used <= have);
		if (astro_tlm_parse_resolve(&b, buf)) {
			rc = -ENOMEM;
			break;
		}
		for (size_t i = 0; i < b.n; i++)
			assert(b.s[i].msid < b.nmsid);
		*n += b.n;
		astro_tlm_parse_batch_clear(&b, &st);
		memmove(buf, buf + used, have - used);
		have -= used;
		if (final)
			break;
	}
	if (!rc)
		rc = astro_tlm_parse_csv_end(&st, err, sizeof(err));
	if (rc)
		assert(err[0]);
	for (size_t j = 0; j < b.nmsid && j < 256; j++)
		types[j] = b.msid[j].type;
	astro_tlm_parse_batch_free(&b);
	free(buf);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct astro_tlm_batch b;
	char err[256];
	uint8_t types[256] = {0};
	size_t n;
	int whole, parts;

	tlm_fuzz_batch(astro_tlm_parse_csv, data, size);
	if (size == 0)
		return 0;
	astro_tlm_parse_batch_init(&b);
	whole = astro_tlm_parse_csv((const char *)data, size, &b, err, sizeof(err));
	parts = chunked((const char *)data, size, 1 + data[0] % 61, &n, types);
	/* A chunk split inside a BOM or a line changes nothing. */
	assert((whole == 0) == (parts == 0));
	if (whole == 0) {
		assert(n == b.n);
		for (size_t j = 0; j < b.nmsid && j < 256; j++)
			assert(types[j] == b.msid[j].type);
	}
	astro_tlm_parse_batch_free(&b);
	return 0;
}

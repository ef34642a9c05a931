/* Shared by the batch-parser fuzz targets: an accepted or emptied batch must be consistent. */
#ifndef TLM_BATCH_CHECK_H
#define TLM_BATCH_CHECK_H
#include <assert.h>
#include <string.h>
#include "telemetry/tlm_parse.h"

typedef int (*tlm_parse_fn)(const char *, size_t, struct astro_tlm_batch *, char *, size_t);

static inline void tlm_fuzz_batch(tlm_parse_fn parse, const uint8_t *data, size_t size)
{
	struct astro_tlm_batch b;
	char err[256] = "";

	astro_tlm_parse_batch_init(&b);
	if (parse((const char *)data, size, &b, err, sizeof(err)) != 0)
		assert(err[0] && b.n == 0);	/* rejected whole, with a reason */
	for (size_t i = 0; i < b.n; i++) {
		assert(b.s[i].msid < b.nmsid);
		assert(b.s[i].type == b.msid[b.s[i].msid].type);
		if (b.s[i].type == ASTRO_TLM_STATE)
			assert((size_t)b.s[i].toff + b.s[i].tlen <= b.text_len);
	}
	astro_tlm_parse_batch_free(&b);
}
#endif

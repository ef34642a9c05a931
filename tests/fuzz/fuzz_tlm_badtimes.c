/* Fuzz the telemetry badtimes parser: reject or accept, never crash or leak; accepted batches are consistent. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "telemetry/tlm_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256] = "";

	struct astro_tlm_badtimes bt;

	if (astro_tlm_parse_badtimes((const char *)data, size, &bt, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < bt.n; i++)
			assert(bt.v[i].start <= bt.v[i].stop);
		(void)astro_tlm_parse_badtimes_match(&bt, "AOGBIAS1", 0);
	} else {
		assert(err[0] && bt.n == 0);
	}
	astro_tlm_parse_badtimes_free(&bt);
	return 0;
}

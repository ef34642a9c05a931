/*
 * fuzz_s3_range — Content-Range values: never crash, and every accepted
 * value is self-consistent (a <= b < total when both are numbers, or the
 * "bytes * /total" form with a == b == UINT64_MAX), and parses the same
 * once printed back.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "services/s3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char v[256], back[128];
	uint64_t a, b, t, a2, b2, t2;

	if (size >= sizeof(v))
		return 0;
	memcpy(v, data, size);
	v[size] = '\0';
	if (astro_s3_parse_content_range(v, &a, &b, &t) != 0)
		return 0;
	if (a == UINT64_MAX) {
		if (b != UINT64_MAX)
			abort();
		snprintf(back, sizeof(back), "bytes */%" PRIu64, t);
	} else {
		if (b < a || (t != UINT64_MAX && b >= t))
			abort();
		if (t == UINT64_MAX)
			snprintf(back, sizeof(back), "bytes %" PRIu64 "-%" PRIu64 "/*", a, b);
		else
			snprintf(back, sizeof(back), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, a, b, t);
	}
	if (t == UINT64_MAX && a == UINT64_MAX)
		snprintf(back, sizeof(back), "bytes */*");
	if (astro_s3_parse_content_range(back, &a2, &b2, &t2) != 0 || a2 != a || b2 != b || t2 != t)
		abort();
	return 0;
}

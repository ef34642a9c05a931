/* Fuzz the telemetry time parsers; anything accepted must print and re-parse to itself. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "telemetry/tlm_time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[128], buf[ASTRO_TLM_TIME_BUF];
	int64_t t, t2;

	if (astro_tlm_time_parse((const char *)data, size, &t, err, sizeof(err)) == 0) {
		size_t n = astro_tlm_time_fmt_iso(t, 6, buf);

		if (buf[0] != '?') {
			assert(astro_tlm_time_parse_iso(buf, n, &t2, err, sizeof(err)) == 0);
			assert(t2 == t);
		}
		n = astro_tlm_time_fmt_secs(t, buf);
		assert(astro_tlm_time_parse_secs(buf, n, &t2, NULL, 0) == 0 || t > 900000000000000000LL || t < -900000000000000000LL);
		astro_tlm_time_fmt_date(t, buf);
	}
	return 0;
}

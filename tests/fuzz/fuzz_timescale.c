/* Fuzz the leap-seconds.list parser; anything accepted must be a well-formed table. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include "services/timescale.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct astro_timescale_list l;
	char err[160];

	if (astro_timescale_parse((const char *)data, size, &l, err, sizeof(err)) != 0)
		return 0;
	assert(l.n > 0 && l.n <= ASTRO_TIMESCALE_MAX_ROWS);
	assert(l.rows[0].mjd == 41317 && l.rows[0].tai_utc == 10);
	for (size_t i = 1; i < l.n; i++) {
		assert(l.rows[i].mjd > l.rows[i - 1].mjd);
		assert(l.rows[i].tai_utc - l.rows[i - 1].tai_utc == 1 ||
		       l.rows[i].tai_utc - l.rows[i - 1].tai_utc == -1);
	}
	assert(l.expires > ((int64_t)l.rows[l.n - 1].mjd - 40587) * 86400);
	assert(l.expires < (2973484LL - 40587) * 86400);
	return 0;
}

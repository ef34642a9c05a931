/*
 * Fuzz the TLE body parser and element decoder: any bytes must give either
 * a clean error or sets whose offsets lie inside the input and whose lines
 * re-validate.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "services/tle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	struct astro_tle_set *sets = NULL;
	struct astro_tle_elements el;
	size_t n = 0;
	char err[200];
	unsigned flags = size ? data[0] & (ASTRO_TLE_ALLOW_68 | ASTRO_TLE_SKIP_COMMENTS) : 0;

	if (astro_tle_parse_body(body, size, flags, &sets, &n, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < n; i++) {
			assert(sets[i].l1_off >= 0 && (size_t)sets[i].l1_off + sets[i].l1_len <= size);
			assert((size_t)sets[i].l2_off + sets[i].l2_len <= size);
			assert(sets[i].name_off < 0 || (size_t)sets[i].name_off + sets[i].name_len <= size);
			assert(astro_tle_check_pair(body + sets[i].l1_off, sets[i].l1_len,
						    body + sets[i].l2_off, sets[i].l2_len,
						    flags, err, sizeof(err)) == 0);
			astro_tle_parse_elements(body + sets[i].l1_off, sets[i].l1_len,
						 body + sets[i].l2_off, sets[i].l2_len,
						 &el, err, sizeof(err));
		}
		free(sets);
	} else {
		assert(err[0] != '\0');
	}
	return 0;
}

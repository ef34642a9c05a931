/*
 * SGP4 on arbitrary elements: init must reject or accept, propagation must
 * return (bounded time, no crash) at any tsince, finite or not.
 * Input: first byte picks the mode.  Mode 0: raw doubles for the elements
 * and three times.  Mode 1: the rest is two 69-column TLE lines, parsed by
 * tle.c first.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "satfilter/sgp4.h"
#include "services/tle.h"

static void propagate_some(const struct astro_sgp4 *s, const double *t, int nt)
{
	double r[3], v[3];

	for (int i = 0; i < nt; i++) {
		int rc = astro_sgp4_propagate(s, t[i], r, v);

		if (rc < 0 || rc > ASTRO_SGP4_ERR_TIME)
			__builtin_trap();
		if (rc == 0 && (!isfinite(r[0]) || !isfinite(v[2])))
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct astro_tle_elements el;
	struct astro_sgp4 s;
	double d[12], t[4] = { 0.0, 1440.0, -720.0, 1e6 };
	char err[200];

	if (size < 1)
		return 0;
	memset(&el, 0, sizeof(el));
	if (data[0] & 1) {
		char l1[70], l2[70];

		if (size < 1 + 138)
			return 0;
		memcpy(l1, data + 1, 69);
		memcpy(l2, data + 70, 69);
		l1[69] = l2[69] = '\0';
		if (astro_tle_parse_elements(l1, 69, l2, 69, &el, err, sizeof(err)))
			return 0;
	} else {
		if (size < 1 + sizeof(d))
			return 0;
		memcpy(d, data + 1, sizeof(d));
		el.jdsatepoch = d[0];
		el.jdsatepochF = d[1];
		el.bstar = d[2];
		el.inclo_deg = d[3];
		el.nodeo_deg = d[4];
		el.argpo_deg = d[5];
		el.mo_deg = d[6];
		el.ecco = d[7];
		el.no_revs_per_day = d[8];
		t[1] = d[9];
		t[2] = d[10];
		t[3] = d[11];
	}
	(void)astro_sgp4_init(&s, &el);
	propagate_some(&s, t, 4);
	return 0;
}

/* Fuzz the sites YAML loader: never crash or leak; a rejection says why, an
 * accepted file has valid keys and JSON info for every site. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "obs/obs_sites.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct astro_obs_sites s;
	char err[256] = "";
	size_t i;

	if (astro_obs_sites_parse((const char *)data, size, "fuzz", &s, err,
				  sizeof(err)) < 0) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	if (s.n == 0)
		abort();
	for (i = 0; i < s.n; i++)
		if (!astro_obs_sites_key_valid(s.v[i].key, strlen(s.v[i].key)) ||
		    !s.v[i].info_json)
			abort();
	astro_obs_sites_free(&s);
	return 0;
}

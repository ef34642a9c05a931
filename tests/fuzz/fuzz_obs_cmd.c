/* Fuzz the /obs command grammar: never crash, and every accepted line must
 * format to a canonical text that parses back to the same command. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "obs/obs_cmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct astro_obs_cmd c, back;
	char err[160], text[ASTRO_OBS_LINE_MAX + 1];
	int rc, len;

	rc = astro_obs_cmd_parse((const char *)data, size, &c, err, sizeof(err));
	if (rc < 0 && err[0] == '\0')
		abort();	/* a rejection must say why */
	if (rc != 1)
		return 0;
	len = astro_obs_cmd_format(&c, text, sizeof(text));
	if (len <= 0)
		abort();
	if (astro_obs_cmd_parse(text, (size_t)len, &back, err, sizeof(err)) != 1 ||
	    memcmp(&c, &back, sizeof(c)) != 0)
		abort();
	return 0;
}

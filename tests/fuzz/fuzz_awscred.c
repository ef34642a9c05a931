/*
 * fuzz_awscred — the credentials-file (INI) parser.  The first byte picks
 * the profile looked up; the rest is the file text.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "services/awscred.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const profiles[] = { "default", "archive", "profile x", "a" };
	struct astro_awscred c;
	char msg[256];
	int rc;

	if (size < 1)
		return 0;
	rc = astro_awscred_parse((const char *)data + 1, size - 1, profiles[data[0] & 3],
				 "fuzz", &c, msg, sizeof(msg));
	if (rc == 0 && (!c.access_key || !*c.access_key || !c.secret_key || !*c.secret_key))
		abort();
	if (rc != 0 && (c.access_key || c.secret_key || c.session_token || !msg[0]))
		abort();
	astro_awscred_free(&c);
	return 0;
}

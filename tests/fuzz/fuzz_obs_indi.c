/* Fuzz the INDI stream parser: never crash or leak; a refusal always says
 * why, naming a line; every message handed over is whole (names
 * NUL-terminated, member texts strings, BLOBs of their stated length). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "obs/obs_indi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink;

static void check(void *arg, const struct astro_obs_indi_msg *m)
{
	size_t i, *count = arg;

	(*count)++;
	if (strlen(m->device) > ASTRO_OBS_INDI_NAME_MAX || strlen(m->name) > ASTRO_OBS_INDI_NAME_MAX)
		abort();
	for (i = 0; i < m->n; i++) {
		if (!m->v[i].text || strlen(m->v[i].name) > ASTRO_OBS_INDI_NAME_MAX)
			abort();
		/* Read the last byte: ASan checks the BLOB is as long as said. */
		if (m->v[i].blob_len)
			sink = ((const uint8_t *)m->v[i].blob)[m->v[i].blob_len - 1];
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t count = 0, half = size / 2;
	struct astro_obs_indi_parser *p = astro_obs_indi_parser_new(check, &count);
	char err[300] = "";
	int rc;

	if (!p)
		return 0;
	/* In two pieces: the stream arrives in arbitrary chunks. */
	rc = astro_obs_indi_parser_feed(p, (const char *)data, half, err, sizeof(err));
	if (rc == 0)
		rc = astro_obs_indi_parser_feed(p, (const char *)data + half, size - half, err,
						sizeof(err));
	if (rc == -EBADMSG && !strstr(err, "line "))
		abort();
	if (rc != 0 && rc != -EBADMSG && rc != -ENOMEM)
		abort();
	astro_obs_indi_parser_free(p);
	return 0;
}

/* Fuzz the pythonbits (observatory simulator) message reader: never crash
 * or leak; a refusal always says why; an accepted message gives a line the
 * command grammar either takes or refuses with a reason. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "obs/obs_aws.h"
#include "obs/obs_cmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = malloc(size + 1), line[ASTRO_OBS_LINE_MAX + 1], err[200];
	struct astro_obs_cmd c;
	int rc;

	if (!body)
		return 0;
	memcpy(body, data, size);
	body[size] = '\0';
	err[0] = '\0';
	rc = astro_obs_aws_pythonbits_line(body, line, sizeof(line), err, sizeof(err));
	if (rc < 0 && (rc != -EINVAL || !err[0]))
		abort();
	if (rc == 0) {
		err[0] = '\0';
		rc = astro_obs_cmd_parse(line, strlen(line), &c, err, sizeof(err));
		if (rc != 1 && rc != 0 && !err[0])
			abort();
	}
	free(body);
	return 0;
}

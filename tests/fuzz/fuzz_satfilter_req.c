/*
 * fuzz_satfilter_req — the /satfilter request parser and its answers.
 *
 * Oracle beyond "no crash, no leak": every answer is one line of JSON, and
 * either a success of the documented shape or exactly
 * {"error": "...", "allow_list": []} — a failure never allows a source.
 * The catalogue is the 2008 ISS element set of the TLE format's usual
 * published example; a visit (id 1) is cached so DIASource requests get
 * past the lookup.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "core/log.h"
#include "satfilter/satfilter.h"

static const char cat[] =
	"0 ISS (ZARYA)\n"
	"1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927\n"
	"2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537\n";

static struct astro_satfilter *sf;

static void setup(void)
{
	struct astro_satfilter_opts o;
	char err[256], *ans = NULL;
	int status;
	const char *visit = "{\"visit_id\": 1, \"exposure_start_mjd\": 54729.5, "
			    "\"exposure_end_mjd\": 54729.50035, \"boresight_ra\": 10, "
			    "\"boresight_dec\": -20}";

	astro_log_set_level(0);
	astro_satfilter_default_opts(&o);
	o.max_visits = 8;
	if (astro_satfilter_create(&sf, &o) || astro_satfilter_load(sf, cat, sizeof(cat) - 1,
								    err, sizeof(err)) != 1) {
		fprintf(stderr, "catalogue refused: %s\n", err);
		abort();
	}
	if (astro_satfilter_handle(sf, visit, strlen(visit), &ans, &status) || status != 200) {
		fprintf(stderr, "visit refused: %s\n", ans ? ans : "");
		abort();
	}
	free(ans);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *ans = NULL;
	int status = 0;
	json_t *j;

	if (!sf)
		setup();
	if (astro_satfilter_handle(sf, (const char *)data, size, &ans, &status))
		abort();
	if (!ans || strchr(ans, '\n'))
		abort();
	j = json_loads(ans, 0, NULL);
	if (!j || !json_is_object(j))
		abort();
	if (json_object_get(j, "error")) {
		json_t *a = json_object_get(j, "allow_list");

		if (status == 200 || json_object_size(j) != 2 || !json_is_array(a) ||
		    json_array_size(a) != 0)
			abort();
	} else if (status != 200 || (json_object_size(j) != 2 && json_object_size(j) != 3)) {
		abort();
	}
	json_decref(j);
	free(ans);
	return 0;
}

#include "unit.h"
#include <errno.h>
#include <math.h>
#include "obs/obs_cmd.h"

/* Each row: input line, expected result (1 command, 0 nothing, -EINVAL),
 * and for accepted lines the canonical text the command formats to (worked
 * out by hand from the grammar), or for rejections a word the message must
 * contain so that it names what was wrong. */
static const struct row {
	const char *line;
	int rc;
	const char *want;
} rows[] = {
	{ "goto ra=0 dec=0", 1, "goto ra=0 dec=0" },
	{ "goto ra=23.999 dec=90", 1, "goto ra=23.999 dec=90" },
	{ "goto ra=5.5 dec=-90", 1, "goto ra=5.5 dec=-90" },
	{ "GOTO RA=5.5 Dec=-5.4", 1, "goto ra=5.5 dec=-5.4" },
	{ "goto dec=-5.4 ra=5.5 rdsys=JNOW", 1, "goto ra=5.5 dec=-5.4 rdsys=JNOW" },
	{ "goto ra=05:30:00 dec=-05:24:00", 1, "goto ra=5.5 dec=-5.4" },
	{ "goto ra=5:30 dec=+10:30:36", 1, "goto ra=5.5 dec=10.51" },
	{ "  goto\tra=1  dec=2   # comment", 1, "goto ra=1 dec=2" },
	{ "goto ra=1 dec=2\r", 1, "goto ra=1 dec=2" },
	{ "tracking on", 1, "tracking on" },
	{ "tracking NO", 1, "tracking off" },
	{ "park", 1, "park" },
	{ "Unpark", 1, "unpark" },
	{ "stop", 1, "stop" },
	{ "expose 5", 1, "expose 5" },
	{ "expose 0.5", 1, "expose 0.5" },
	{ "expose time=2 count=3", 1, "expose time=2 count=3" },
	{ "expose count=1 time=3600", 1, "expose 3600" },
	{ "cancel all", 1, "cancel all" },
	{ "cancel 01arYZ6S410000000000000000", 1, "cancel 01ARYZ6S410000000000000000" },
	{ "", 0, NULL },
	{ "   ", 0, NULL },
	{ "# just a comment", 0, NULL },
	{ "\r", 0, NULL },

	{ "goto ra=24 dec=0", -EINVAL, "ra" },
	{ "goto ra=-1 dec=0", -EINVAL, "ra" },
	{ "goto ra=23.9999999999999 dec=0", -EINVAL, "ra" },
	{ "goto ra=1 dec=91", -EINVAL, "dec" },
	{ "goto ra=1 dec=-90.5", -EINVAL, "dec" },
	{ "goto ra=1", -EINVAL, "needs" },
	{ "goto ra=1 ra=2 dec=0", -EINVAL, "duplicate" },
	{ "goto ra=1 dec=0 foo=1", -EINVAL, "unknown key" },
	{ "goto ra 1 dec=0", -EINVAL, "key=value" },
	{ "goto ra= dec=0", -EINVAL, "key=value" },
	{ "goto ra=1e1 dec=0", -EINVAL, "ra" },
	{ "goto ra=nan dec=0", -EINVAL, "ra" },
	{ "goto ra=0x1 dec=0", -EINVAL, "ra" },
	{ "goto ra=5:60 dec=0", -EINVAL, "ra" },
	{ "goto ra=5.5:30 dec=0", -EINVAL, "ra" },
	{ "goto ra=1:2:3:4 dec=0", -EINVAL, "ra" },
	{ "goto ra=1 dec=0 rdsys=B1950", -EINVAL, "rdsys" },
	{ "expose 0", -EINVAL, "expose" },
	{ "expose -1", -EINVAL, "expose" },
	{ "expose abc", -EINVAL, "expose" },
	{ "expose 3601", -EINVAL, "expose" },
	{ "expose", -EINVAL, "needs" },
	{ "expose 5 6", -EINVAL, "key=value" },
	{ "expose time=1 count=0", -EINVAL, "count" },
	{ "expose time=1 count=1.5", -EINVAL, "count" },
	{ "expose count=2", -EINVAL, "needs" },
	{ "expose time=1 time=2", -EINVAL, "duplicate" },
	{ "tracking", -EINVAL, "tracking" },
	{ "tracking maybe", -EINVAL, "tracking" },
	{ "park now", -EINVAL, "no arguments" },
	{ "stop stop", -EINVAL, "no arguments" },
	{ "cancel", -EINVAL, "cancel" },
	{ "cancel 123", -EINVAL, "job id" },
	{ "cancel all now", -EINVAL, "cancel" },
	{ "launch", -EINVAL, "unknown command" },
	{ "park\x01", -EINVAL, "control" },
	{ "park \xc3\xa9", -EINVAL, "non-ASCII" },
	{ "a b c d e f g h i", -EINVAL, "too many" },
};

static void table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct astro_obs_cmd c, back;
		char err[128], text[ASTRO_OBS_LINE_MAX + 1];
		int rc = astro_obs_cmd_parse(rows[i].line, strlen(rows[i].line), &c,
					     err, sizeof(err));

		if (rc != rows[i].rc)
			fail_msg("'%s': rc %d, want %d (%s)", rows[i].line, rc,
				 rows[i].rc, err);
		if (rc < 0) {
			if (!strstr(err, rows[i].want))
				fail_msg("'%s': message '%s' lacks '%s'", rows[i].line,
					 err, rows[i].want);
			continue;
		}
		if (rc == 0)
			continue;
		assert_true(astro_obs_cmd_format(&c, text, sizeof(text)) > 0);
		if (strcmp(text, rows[i].want) != 0)
			fail_msg("'%s': formats as '%s', want '%s'", rows[i].line,
				 text, rows[i].want);
		/* The canonical text parses back to the same command. */
		assert_int_equal(astro_obs_cmd_parse(text, strlen(text), &back, err,
						     sizeof(err)), 1);
		assert_memory_equal(&c, &back, sizeof(c));
	}
}

static void values_and_embedded_nul(void **state)
{
	struct astro_obs_cmd c;
	char err[128];

	(void)state;
	assert_int_equal(astro_obs_cmd_parse("goto ra=12:30:36 dec=-45:30", 27, &c,
					     err, sizeof(err)), 1);
	assert_true(fabs(c.ra_h - 12.51) < 1e-12);
	assert_true(fabs(c.dec_deg + 45.5) < 1e-12);
	assert_int_equal(astro_obs_cmd_parse("park\0x", 6, &c, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "column 5"));
	/* A line over the limit is refused, not truncated. */
	char big[ASTRO_OBS_LINE_MAX + 10];
	memset(big, ' ', sizeof(big));
	memcpy(big, "park", 4);
	assert_int_equal(astro_obs_cmd_parse(big, sizeof(big), &c, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "longer"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table),
		cmocka_unit_test(values_and_embedded_nul),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

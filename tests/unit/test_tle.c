/* TLE validation and parsing against the real corpora and synthetic damage. */
#include "unit.h"
#include <errno.h>
#include <math.h>
#include "core/astro.h"
#include "services/tle.h"

static const char ISS1[] = "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927";
static const char ISS2[] = "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537";

static void catnum_decodes_numeric_padded_and_alpha5(void **s)
{
	(void)s;
	assert_int_equal(astro_tle_catnum("25544"), 25544);
	assert_int_equal(astro_tle_catnum("    5"), 5);
	assert_int_equal(astro_tle_catnum("00005"), 5);
	assert_int_equal(astro_tle_catnum("A0000"), 100000);
	assert_int_equal(astro_tle_catnum("H9999"), 179999);
	assert_int_equal(astro_tle_catnum("J0000"), 180000);	/* I skipped */
	assert_int_equal(astro_tle_catnum("P0000"), 230000);	/* O skipped */
	assert_int_equal(astro_tle_catnum("Z9999"), 339999);
	assert_int_equal(astro_tle_catnum("I0000"), -1);
	assert_int_equal(astro_tle_catnum("O0000"), -1);
	assert_int_equal(astro_tle_catnum("a0000"), -1);
	assert_int_equal(astro_tle_catnum("12a45"), -1);
	assert_int_equal(astro_tle_catnum("     "), -1);
}

static void checksum_and_line_checks(void **s)
{
	char err[160], bad[70];

	(void)s;
	assert_int_equal(astro_tle_checksum(ISS1), 7);
	assert_int_equal(astro_tle_check_pair(ISS1, 69, ISS2, 69, 0, err, sizeof(err)), 0);

	memcpy(bad, ISS1, 70);
	bad[68] = '8';
	assert_int_equal(astro_tle_check_line(bad, 69, 1, 0, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "checksum"));
	assert_int_equal(astro_tle_check_line(bad, 69, 1, ASTRO_TLE_NO_CHECKSUM, err, sizeof(err)), 0);

	assert_int_equal(astro_tle_check_line(ISS1, 68, 1, 0, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "68 characters"));
	assert_int_equal(astro_tle_check_line(ISS1, 68, 1, ASTRO_TLE_ALLOW_68, err, sizeof(err)), 0);

	memcpy(bad, ISS1, 70);
	bad[20] = 'x';
	assert_int_equal(astro_tle_check_line(bad, 69, 1, ASTRO_TLE_NO_CHECKSUM, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "epoch"));

	memcpy(bad, ISS1, 70);
	bad[30] = '\t';
	assert_int_equal(astro_tle_check_line(bad, 69, 1, ASTRO_TLE_NO_CHECKSUM, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "column 31"));

	memcpy(bad, ISS2, 70);
	bad[6] = '5';
	assert_int_equal(astro_tle_check_pair(ISS1, 69, bad, 69, ASTRO_TLE_NO_CHECKSUM, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "differ"));
	assert_int_equal(astro_tle_check_line(ISS2, 69, 1, 0, err, sizeof(err)), -EINVAL);
}

static void epoch_is_exact_in_microseconds(void **s)
{
	int64_t us;
	char l[70];

	(void)s;
	/* 08264.51782528: 2008-09-20 12:25:40.104192 UTC = 1221913540.104192 */
	assert_int_equal(astro_tle_epoch_us(ISS1, &us), 0);
	assert_true(us == 1221913540104192LL);
	/* Day 1.0 of 2001 is exactly 2001-01-01 00:00 (978307200). */
	memcpy(l, ISS1, 70);
	memcpy(l + 18, "01001.00000000", 14);
	assert_int_equal(astro_tle_epoch_us(l, &us), 0);
	assert_true(us == 978307200000000LL);
	/* Year 57 is 1957, 56 is 2056. */
	memcpy(l + 18, "57001.00000000", 14);
	assert_int_equal(astro_tle_epoch_us(l, &us), 0);
	assert_true(us == -410227200000000LL);
	memcpy(l + 18, "56001.00000000", 14);
	assert_int_equal(astro_tle_epoch_us(l, &us), 0);
	assert_true(us == 2713910400000000LL);
	/* Day 0 is 31 December of the previous year. */
	memcpy(l + 18, "01000.50000000", 14);
	assert_int_equal(astro_tle_epoch_us(l, &us), 0);
	assert_true(us == 978307200000000LL - 43200000000LL);
}

static void elements_parse(void **s)
{
	struct astro_tle_elements el;
	char err[160];

	(void)s;
	assert_int_equal(astro_tle_parse_elements(ISS1, 69, ISS2, 69, &el, err, sizeof(err)), 0);
	assert_int_equal(el.catnum, 25544);
	assert_string_equal(el.intldesg, "98067A");
	assert_int_equal(el.epoch_year, 2008);
	assert_true(fabs(el.epoch_days - 264.51782528) < 1e-9);
	assert_true(fabs(el.ndot - -0.00002182) < 1e-15);
	assert_true(fabs(el.nddot) < 1e-15);
	assert_true(fabs(el.bstar - -0.11606e-4) < 1e-15);
	assert_true(fabs(el.inclo_deg - 51.6416) < 1e-12);
	assert_true(fabs(el.ecco - 0.0006703) < 1e-12);
	assert_true(fabs(el.no_revs_per_day - 15.72125391) < 1e-9);
	assert_int_equal(el.revnum, 56353);
	/* JD of 2008-09-20 12:25:40 = 2454730.0178253... */
	assert_true(fabs(el.jdsatepoch + el.jdsatepochF - 2454730.01782528) < 1e-8);
}

static size_t count_sets_in(const char *rel, unsigned flags, char *err, size_t errlen, int *rc)
{
	char path[512];
	size_t len = 0, n = 0;
	struct astro_tle_set *sets = NULL;
	char *body;

	if (!unit_shared(rel, path, sizeof(path)))
		return (size_t)-1;
	body = unit_slurp(path, &len);
	assert_non_null(body);
	*rc = astro_tle_parse_body(body, len, flags, &sets, &n, err, errlen);
	free(sets);
	free(body);
	return n;
}

static void real_catalogues_parse_whole(void **s)
{
	char err[200] = "";
	int rc = 0;
	size_t n;

	(void)s;
	n = count_sets_in("data/tle/spacetrack_3le_catalog_2019-12-19.3le", 0, err, sizeof(err), &rc);
	if (n == (size_t)-1)
		skip();
	assert_int_equal(rc, 0);
	assert_int_equal(n, 18470);

	n = count_sets_in("data/tle/spacetrack_3le_2022-01-21_subset_crlf.3le", 0, err, sizeof(err), &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(n, 3956);

	n = count_sets_in("data/tle/alpha5_and_recent_2026.tle", 0, err, sizeof(err), &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(n, 6);

	/* Bulk-bundle lines lack column 69: refused unless allowed. */
	count_sets_in("data/tle/legacy_bundle_quirks.tle", 0, err, sizeof(err), &rc);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(err, "line 1:"));
	n = count_sets_in("data/tle/legacy_bundle_quirks.tle", ASTRO_TLE_ALLOW_68, err, sizeof(err), &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(n, 3);
}

static void vallado_set_bad_records_are_named(void **s)
{
	char path[512], err[160];
	size_t len;
	char *body, *line, *save = NULL;
	char l1[128] = "";
	int good = 0, bad = 0;

	(void)s;
	if (!unit_shared("data/tle/vallado_sgp4-ver.tle", path, sizeof(path)))
		skip();
	body = unit_slurp(path, &len);
	for (line = strtok_r(body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '1')
			astro_strlcpy(l1, line, sizeof(l1));
		if (line[0] != '2')
			continue;
		/* Line 2 carries three extra columns (start, stop, step). */
		if (astro_tle_check_pair(l1, 69, line, 69, 0, err, sizeof(err)) == 0) {
			good++;
		} else {
			bad++;
			assert_memory_equal(l1 + 2, "3333", 4);
			assert_non_null(strstr(err, "checksum"));
		}
	}
	free(body);
	assert_int_equal(bad, 3);
	assert_true(good >= 28);
}

static void body_errors_name_the_line(void **s)
{
	char body[512], err[160];
	struct astro_tle_set *sets = NULL;
	size_t n = 0;

	(void)s;
	snprintf(body, sizeof(body), "0 ISS (ZARYA)\r\n%s\r\n%s\r\n", ISS1, ISS2);
	assert_int_equal(astro_tle_parse_body(body, strlen(body), 0, &sets, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sets[0].name_len, 13);
	assert_int_equal(sets[0].l1_len, 69);
	assert_int_equal(sets[0].catnum, 25544);
	free(sets);
	sets = NULL;

	snprintf(body, sizeof(body), "%s\n%s\n%s\n", ISS1, ISS2, ISS1);
	assert_int_equal(astro_tle_parse_body(body, strlen(body), 0, &sets, &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "ends inside"));

	snprintf(body, sizeof(body), "%s\n<html>rate limit</html>\n", ISS1);
	assert_int_equal(astro_tle_parse_body(body, strlen(body), 0, &sets, &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 2"));

	snprintf(body, sizeof(body), "[{\"error\":\"You've violated your query rate limit.\"}]");
	assert_int_equal(astro_tle_parse_body(body, strlen(body), 0, &sets, &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 1: not a TLE line"));

	/* A body cut in the middle of line 2 is refused (truncation). */
	snprintf(body, sizeof(body), "%s\n%.40s", ISS1, ISS2);
	assert_int_equal(astro_tle_parse_body(body, strlen(body), 0, &sets, &n, err, sizeof(err)), -EINVAL);

	assert_int_equal(astro_tle_parse_body("", 0, 0, &sets, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	free(sets);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(catnum_decodes_numeric_padded_and_alpha5),
		cmocka_unit_test(checksum_and_line_checks),
		cmocka_unit_test(epoch_is_exact_in_microseconds),
		cmocka_unit_test(elements_parse),
		cmocka_unit_test(real_catalogues_parse_whole),
		cmocka_unit_test(vallado_set_bad_records_are_named),
		cmocka_unit_test(body_errors_name_the_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

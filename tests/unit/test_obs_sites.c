#include "unit.h"
#include <errno.h>
#include <jansson.h>
#include "obs/obs_sites.h"

static void load_fixture(const char *name, int want, struct astro_obs_sites *s,
			 char *err, size_t errlen)
{
	char path[256];

	snprintf(path, sizeof(path), "tests/data/obs/%s", name);
	assert_int_equal(astro_obs_sites_load(path, s, err, errlen), want);
}

static void good_file(void **state)
{
	struct astro_obs_sites s;
	char err[256];
	json_error_t je;
	json_t *j;

	(void)state;
	load_fixture("sites_good.yml", 0, &s, err, sizeof(err));
	assert_int_equal(s.n, 2);
	assert_string_equal(s.v[0].key, "site1");
	assert_string_equal(s.v[0].name, "Sunshine Hill");
	assert_true(s.v[0].has_lat && s.v[0].lat == 34.34);
	assert_true(s.v[0].has_lng && s.v[0].lng == -119.68);
	assert_true(s.v[0].has_elevation && s.v[0].elevation == 317.8);
	assert_string_equal(s.v[1].key, "saf-2");
	assert_false(s.v[1].has_elevation);
	assert_ptr_equal(astro_obs_sites_find(&s, "saf-2"), &s.v[1]);
	assert_null(astro_obs_sites_find(&s, "site3"));
	/* info is JSON with the file's fields, numbers typed. */
	j = json_loads(s.v[0].info_json, 0, &je);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "tz")),
			    "America/Los_Angeles");
	assert_true(json_real_value(json_object_get(j, "lat")) == 34.34);
	assert_string_equal(json_string_value(json_object_get(j, "key")), "site1");
	json_decref(j);
	astro_obs_sites_free(&s);
}

static const struct {
	const char *file, *needle;
} bad[] = {
	{ "sites_bad_lat.yml", "sites_bad_lat.yml:4: site 'site1': lat 334.34 not in [-90,90]" },
	{ "sites_bad_key.yml", ":4: site key must be" },
	{ "sites_bad_yaml.yml", "YAML error at line" },
	{ "sites_no_sites.yml", "no 'Sites:' mapping" },
	{ "sites_dup.yml", ":4: duplicate site 'site1'" },
};

static void bad_files(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct astro_obs_sites s;
		char err[256] = "";

		load_fixture(bad[i].file, -EINVAL, &s, err, sizeof(err));
		if (!strstr(err, bad[i].needle))
			fail_msg("%s: '%s' lacks '%s'", bad[i].file, err, bad[i].needle);
		assert_int_equal(s.n, 0);
	}
}

static void bad_buffers(void **state)
{
	static const struct {
		const char *yaml, *needle;
	} rows[] = {
		{ "", "empty file" },
		{ "- a\n- b\n", "top level must be a mapping" },
		{ "Sites: 3\n", "must map site keys" },
		{ "Sites: {}\n", "lists no site" },
		{ "Sites:\n  s: 1\n", "must be a mapping of fields" },
		{ "Sites:\n  s: {lat: abc}\n", "lat 'abc' is not a number" },
		{ "Sites:\n  s: {lat: nan}\n", "not a number" },
		{ "Sites:\n  s: {lng: 360}\n", "lng 360 not in" },
		{ "Sites:\n  s: {elevation: 0x10}\n", "not a number" },
		{ "Sites:\n  s: {name: [a]}\n", "scalar key: value" },
		{ "Sites:\n  s: {name: a, name: b}\n", "duplicate field 'name'" },
		{ "Sites:\n  s: {}\nSites:\n  t: {}\n", "duplicate 'Sites:'" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct astro_obs_sites s;
		char err[256] = "";
		int rc = astro_obs_sites_parse(rows[i].yaml, strlen(rows[i].yaml), "buf",
					       &s, err, sizeof(err));

		if (rc != -EINVAL || !strstr(err, rows[i].needle))
			fail_msg("row %zu: rc %d '%s' lacks '%s'", i, rc, err, rows[i].needle);
	}
}

static void indi_sites(void **state)
{
	static const char good[] = "Sites:\n  obs1:\n    indi: localhost:7624\n"
				   "    indi_ccd: CCD Simulator\n  obs2:\n    indi: '[::1]:7000'\n"
				   "  sim:\n    name: plain\n";
	static const char *const wrong[] = { "nohost", "host:", ":7624", "host:0", "host:65536",
					    "host:12x", "[::1:7000", "a b:1" };
	struct astro_obs_sites s;
	char err[256], buf[256];
	size_t i;

	(void)state;
	assert_int_equal(astro_obs_sites_parse(good, strlen(good), "t", &s, err, sizeof(err)), 0);
	assert_string_equal(s.v[0].indi_host, "localhost");
	assert_int_equal(s.v[0].indi_port, 7624);
	assert_null(s.v[0].indi_telescope);
	assert_string_equal(s.v[0].indi_ccd, "CCD Simulator");
	assert_string_equal(s.v[1].indi_host, "::1");
	assert_int_equal(s.v[1].indi_port, 7000);
	assert_null(s.v[2].indi_host);
	astro_obs_sites_free(&s);
	for (i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
		snprintf(buf, sizeof(buf), "Sites:\n  obs1:\n    indi: '%s'\n", wrong[i]);
		err[0] = '\0';
		assert_int_equal(astro_obs_sites_parse(buf, strlen(buf), "t", &s, err, sizeof(err)),
				 -EINVAL);
		if (!strstr(err, "is not HOST:PORT") || !strstr(err, "t:3"))
			fail_msg("'%s': %s", wrong[i], err);
	}
}

static void missing_file(void **state)
{
	struct astro_obs_sites s;
	char err[256];

	(void)state;
	assert_int_equal(astro_obs_sites_load("tests/data/obs/nonexistent.yml", &s, err,
					      sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "nonexistent.yml"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_file),
		cmocka_unit_test(bad_files),
		cmocka_unit_test(bad_buffers),
		cmocka_unit_test(indi_sites),
		cmocka_unit_test(missing_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

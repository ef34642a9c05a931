/* Unit tests: the credential documents of awsprov.c, read in place. */
#include "unit.h"
#include <errno.h>
#include "core/astro.h"
#include "services/awsprov.h"

static void json_fields(void **state)
{
	static const char doc[] =
		"{\n  \"Code\" : \"Success\",\n  \"Nested\": {\"AccessKeyId\": \"inner\"},\n"
		"  \"List\": [\"AccessKeyId\", 1],\n  \"AccessKeyId\" : \"ASIAX\",\n"
		"  \"SecretAccessKey\": \"a\\/b\\\"c\\u002b\",\n  \"Expiration\": 5\n}";
	char *v = NULL;

	(void)state;
	/* the top-level key, not the nested one nor a value spelled like it */
	assert_int_equal(astro_awsprov_json_str(doc, strlen(doc), "AccessKeyId", &v), 0);
	assert_string_equal(v, "ASIAX");
	astro_secure_strfree(v);
	assert_int_equal(astro_awsprov_json_str(doc, strlen(doc), "SecretAccessKey", &v), 0);
	assert_string_equal(v, "a/b\"c+");
	astro_secure_strfree(v);
	assert_int_equal(astro_awsprov_json_str(doc, strlen(doc), "Expiration", &v), -ENOENT);
	assert_int_equal(astro_awsprov_json_str(doc, strlen(doc), "Token", &v), -ENOENT);
	assert_int_equal(astro_awsprov_json_str("{\"A\": \"x", 8, "A", &v), -EINVAL);
	assert_int_equal(astro_awsprov_json_str("{\"A\": \"\\u00e9\"}", 15, "A", &v), -EINVAL);
	assert_null(v);
}

static void xml_fields(void **state)
{
	static const char doc[] =
		"<R><Credentials><SessionToken>FQo/a+b=&amp;x</SessionToken>"
		"<AccessKeyId>ASIAY</AccessKeyId></Credentials></R>";
	char *v = NULL;

	(void)state;
	assert_int_equal(astro_awsprov_xml_str(doc, strlen(doc), "SessionToken", &v), 0);
	assert_string_equal(v, "FQo/a+b=&x");
	astro_secure_strfree(v);
	assert_int_equal(astro_awsprov_xml_str(doc, strlen(doc), "AccessKeyId", &v), 0);
	assert_string_equal(v, "ASIAY");
	astro_secure_strfree(v);
	assert_int_equal(astro_awsprov_xml_str(doc, strlen(doc), "Expiration", &v), -ENOENT);
	assert_int_equal(astro_awsprov_xml_str("<A>open", 7, "A", &v), -EINVAL);
}

static void times(void **state)
{
	(void)state;
	assert_int_equal(astro_awsprov_parse_time("2024-05-01T12:00:00Z"), 1714564800000LL);
	assert_int_equal(astro_awsprov_parse_time("2024-05-01T12:00:00.123Z"), 1714564800000LL);
	assert_int_equal(astro_awsprov_parse_time("2024-05-01T12:00:00+00:00"), 1714564800000LL);
	assert_int_equal(astro_awsprov_parse_time("2024-05-01 12:00:00Z"), 0);
	assert_int_equal(astro_awsprov_parse_time("2024-05-01T12:00:00+02:00"), 0);
	assert_int_equal(astro_awsprov_parse_time(NULL), 0);
}

static void container_uri_rule(void **state)
{
	(void)state;
	assert_true(astro_awsprov_full_uri_ok("https://example.com/creds"));
	assert_true(astro_awsprov_full_uri_ok("http://127.0.0.1:8080/creds"));
	assert_true(astro_awsprov_full_uri_ok("http://169.254.170.2/v2/credentials/x"));
	assert_true(astro_awsprov_full_uri_ok("http://169.254.170.23/v1/credentials"));
	assert_false(astro_awsprov_full_uri_ok("http://169.254.170.2.evil.com/"));
	assert_false(astro_awsprov_full_uri_ok("http://example.com/creds"));
	assert_false(astro_awsprov_full_uri_ok("http://localhost.evil.com/"));
}

static void sources(void **state)
{
	struct astro_awsprov *p = NULL;
	char err[200];

	(void)state;
	assert_true(astro_awsprov_source_ok(NULL));
	assert_true(astro_awsprov_source_ok("imds"));
	assert_false(astro_awsprov_source_ok("ec2"));
	assert_int_equal(astro_awsprov_get("/x/creds", NULL, "container", &p, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "s3_credentials_source=container"));
	assert_null(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_fields),
		cmocka_unit_test(xml_fields),
		cmocka_unit_test(times),
		cmocka_unit_test(container_uri_rule),
		cmocka_unit_test(sources),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

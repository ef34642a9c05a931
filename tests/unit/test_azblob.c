#include "unit.h"
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/astro.h"
#include "core/log.h"
#include "services/azblob.h"

/*
 * Shared Key vectors.  The account is Azurite's well-known development
 * account (its key is published in Azurite's documentation).  The expected
 * strings to sign follow the layout of Microsoft's "Authorize with Shared
 * Key" reference (VERB, the eleven standard headers, the x-ms-* headers,
 * the canonicalised resource with its query parameters); the expected
 * signatures were computed by Microsoft's own SDK (Debian's python3-azure
 * 12.15, SharedKeyCredentialPolicy) for the same requests:
 *   tests/standin/azurite/azload.py ENV sign GET PATH DATE [H=V...]
 */
#define ACCOUNT_KEY "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#define DATE "Sun, 06 Dec 2026 03:40:00 GMT"

static void signs_a_ranged_get(void **state)
{
	static const char *const h[] = {
		"x-ms-version: 2021-08-06", "x-ms-date: " DATE, "Range: bytes=0-65535",
		"If-Match: \"0x8D00000000001\"", NULL,
	};
	static const char want[] =
		"GET\n\n\n\n\n\n\n\n\"0x8D00000000001\"\n\n\nbytes=0-65535\n"
		"x-ms-date:" DATE "\nx-ms-version:2021-08-06\n"
		"/devstoreaccount1/devstoreaccount1/priv/d/a%20b.fits";
	char *sts;

	(void)state;
	sts = astro_azblob_string_to_sign("GET", h, "/devstoreaccount1/devstoreaccount1/priv/d/a%20b.fits",
					  NULL, 0);
	assert_non_null(sts);
	assert_string_equal(sts, want);
	free(sts);
}

/*
 * The SDK sends a range as x-ms-range (its signer leaves the Range field
 * empty), so the oracle's vector has the range among the x-ms-* headers:
 * three of them, sorted by name.
 */
static void signs_like_the_sdk(void **state)
{
	static const char *const h[] = {
		"x-ms-version: 2021-08-06", "x-ms-range: bytes=0-65535", "x-ms-date: " DATE,
		"If-Match: \"0x8D00000000001\"", NULL,
	};
	static const char want[] =
		"GET\n\n\n\n\n\n\n\n\"0x8D00000000001\"\n\n\n\n"
		"x-ms-date:" DATE "\nx-ms-range:bytes=0-65535\nx-ms-version:2021-08-06\n"
		"/devstoreaccount1/devstoreaccount1/priv/d/a%20b.fits";
	char sig[64];
	char *sts;

	(void)state;
	sts = astro_azblob_string_to_sign("GET", h, "/devstoreaccount1/devstoreaccount1/priv/d/a%20b.fits",
					  NULL, 0);
	assert_non_null(sts);
	assert_string_equal(sts, want);
	assert_int_equal(astro_azblob_sign(ACCOUNT_KEY, sts, sig, sizeof(sig)), 0);
	assert_string_equal(sig, "Ihe3qOGKHCniOAFVmHFEyOJu3cFF1WrcN6E+oN9A5eE=");
	free(sts);
}

/* Query parameters: lower-cased names, sorted, decoded values. */
static void signs_a_listing(void **state)
{
	static const char *const h[] = { "x-ms-date: " DATE, "x-ms-version: 2021-08-06", NULL };
	static const struct astro_sigv4_param q[] = {
		{ "restype", "container" }, { "comp", "list" }, { "prefix", "d/" },
		{ "delimiter", "/" }, { "marker", "abc" }, { "maxresults", "1000" },
	};
	static const char want[] =
		"GET\n\n\n\n\n\n\n\n\n\n\n\n"
		"x-ms-date:" DATE "\nx-ms-version:2021-08-06\n"
		"/devstoreaccount1/devstoreaccount1/priv\ncomp:list\ndelimiter:/\nmarker:abc\n"
		"maxresults:1000\nprefix:d/\nrestype:container";
	char sig[64];
	char *sts;

	(void)state;
	sts = astro_azblob_string_to_sign("GET", h, "/devstoreaccount1/devstoreaccount1/priv", q,
					  ASTRO_ARRAY_SIZE(q));
	assert_non_null(sts);
	assert_string_equal(sts, want);
	assert_int_equal(astro_azblob_sign(ACCOUNT_KEY, sts, sig, sizeof(sig)), 0);
	assert_string_equal(sig, "daKqkLLrkYLXyBBBrzmATExXegaKsAzQXvIwCi7pN+g=");
	free(sts);
}

/* A zero Content-Length is signed as empty (versions since 2015-02-21). */
static void zero_length_is_empty(void **state)
{
	static const char *const h[] = { "Content-Length: 0", "x-ms-date: " DATE, NULL };
	static const char *const h5[] = { "Content-Length: 5", "x-ms-date: " DATE, NULL };
	char *a = astro_azblob_string_to_sign("HEAD", h, "/a/c/b", NULL, 0);
	char *b = astro_azblob_string_to_sign("HEAD", h5, "/a/c/b", NULL, 0);

	(void)state;
	assert_string_equal(a, "HEAD\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:" DATE "\n/a/c/b");
	assert_string_equal(b, "HEAD\n\n\n5\n\n\n\n\n\n\n\n\nx-ms-date:" DATE "\n/a/c/b");
	free(a);
	free(b);
}

static void refuses_bad_keys(void **state)
{
	char sig[64];

	(void)state;
	assert_int_equal(astro_azblob_sign("not base64!", "x", sig, sizeof(sig)), -EINVAL);
	assert_int_equal(astro_azblob_sign("abc", "x", sig, sizeof(sig)), -EINVAL);
	assert_int_equal(astro_azblob_sign("", "x", sig, sizeof(sig)), -EINVAL);
	assert_int_equal(astro_azblob_sign(ACCOUNT_KEY, "x", sig, 10), -EINVAL);
}

static char *write_file(const char *dir, const char *text, mode_t mode)
{
	char *path = NULL;
	FILE *f;

	assert_true(asprintf(&path, "%s/creds", dir) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

/* new(): the URL's account and container, and each error named. */
static void parses_urls_and_credentials(void **state)
{
	static const struct {
		const char *url, *creds;
		mode_t mode;
		int rc;
		const char *container, *needle;
	} c[] = {
		{ "https://acct.blob.core.windows.net/tess", NULL, 0, 0, "tess", NULL },
		{ "https://acct.blob.core.windows.net/tess/", NULL, 0, 0, "tess", NULL },
		{ "http://127.0.0.1:10000/devstoreaccount1/priv", NULL, 0, 0, "priv", NULL },
		{ "http://localhost:10000/devstoreaccount1/$root", NULL, 0, 0, "$root", NULL },
		{ "https://acct.blob.core.windows.net/tess?sv=1&sig=abc", NULL, 0, 0, "tess", NULL },
		{ "https://acct.blob.core.windows.net/tess", "src.key = " ACCOUNT_KEY "\n", 0600, 0,
		  "tess", NULL },
		{ "https://acct.blob.core.windows.net/tess", "src.sas = ?sv=1&sig=abc\n", 0600, 0,
		  "tess", NULL },
		{ "https://acct.blob.core.windows.net/tess", "other.key = " ACCOUNT_KEY "\n", 0600, 0,
		  "tess", NULL },
		{ "ftp://acct.blob.core.windows.net/tess", NULL, 0, -EINVAL, NULL, "http(s)" },
		{ "https://acct.blob.core.windows.net/", NULL, 0, -EINVAL, NULL, "CONTAINER" },
		{ "https://acct.blob.core.windows.net/te_ss", NULL, 0, -EINVAL, NULL, "CONTAINER" },
		{ "https://acct.blob.core.windows.net/tess/sub/dir", NULL, 0, -EINVAL, NULL,
		  "without a path" },
		{ "http://127.0.0.1:10000/priv", NULL, 0, -EINVAL, NULL, "CONTAINER" },
		{ "https://acct.blob.core.windows.net/tess", "src.key = " ACCOUNT_KEY "\nsrc.sas = x\n",
		  0600, -EINVAL, NULL, "one of" },
		{ "https://acct.blob.core.windows.net/tess?sig=a", "src.sas = x\n", 0600, -EINVAL,
		  NULL, "one of" },
		{ "https://acct.blob.core.windows.net/tess", "src.key = no*base64\n", 0600, -EINVAL,
		  NULL, "not a base64" },
		{ "https://acct.blob.core.windows.net/tess", "src.key = " ACCOUNT_KEY "\n", 0644,
		  -EACCES, NULL, "chmod 600" },
	};
	char *dir = unit_tmpdir();

	(void)state;
	assert_non_null(dir);
	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(c); i++) {
		char *path = c[i].creds ? write_file(dir, c[i].creds, c[i].mode) : NULL;
		struct astro_azblob_cfg cfg = { .name = "src", .url = c[i].url, .credentials = path };
		struct astro_s3 *s = NULL;
		char *container = NULL, msg[512] = "";
		int rc = astro_azblob_new(&cfg, &s, &container, msg, sizeof(msg));

		if (rc != c[i].rc)
			fail_msg("case %zu (%s): rc %d, want %d (%s)", i, c[i].url, rc, c[i].rc, msg);
		if (rc == 0) {
			assert_non_null(s);
			assert_string_equal(container, c[i].container);
			/* Writes are not part of /fits. */
			assert_int_equal(astro_s3_put(s, container, "k", "x", 1, NULL, NULL), -EROFS);
			assert_int_equal(astro_s3_delete(s, container, "k"), -EROFS);
		} else {
			assert_null(s);
			assert_null(container);
			if (!strstr(msg, c[i].needle))
				fail_msg("case %zu: message '%s' lacks '%s'", i, msg, c[i].needle);
			/* Never the secret itself. */
			assert_null(strstr(msg, "sig=a"));
			assert_null(strstr(msg, ACCOUNT_KEY));
		}
		astro_s3_free(s);
		free(container);
		if (path) {
			unlink(path);
			free(path);
		}
	}
	rmdir(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(signs_a_ranged_get),
		cmocka_unit_test(signs_like_the_sdk),
		cmocka_unit_test(signs_a_listing),
		cmocka_unit_test(zero_length_is_empty),
		cmocka_unit_test(refuses_bad_keys),
		cmocka_unit_test(parses_urls_and_credentials),
	};
	astro_log_init("test_azblob", ASTRO_LOG_STDERR, 3);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

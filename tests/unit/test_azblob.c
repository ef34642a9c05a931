#include "unit.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "core/astro.h"
#include "core/log.h"
#include "services/azblob.h"
#include "services/http.h"
#include "unit_spawn.h"

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

/* ---- against tests/standin/azfault.py ------------------------------------ */

static pid_t srv_pid;
static int srv_port;
static int nlog;
static char lastlog[1024];

static void sink(int level, const char *msg, void *arg)
{
	(void)level; (void)arg;
	nlog++;
	astro_strlcpy(lastlog, msg, sizeof(lastlog));
}

static int start_server(void **s)
{
	const char *const argv[] = { "/usr/bin/python3", "tests/standin/azfault.py", NULL };

	(void)s;
	astro_log_set_sink(sink, NULL);
	astro_log_set_ratelimit(0, 0);
	return unit_spawn_http(argv, &srv_pid, &srv_port);
}

static int stop_server(void **s)
{
	(void)s;
	if (srv_pid > 0) {
		kill(srv_pid, SIGTERM);
		waitpid(srv_pid, NULL, 0);
	}
	astro_log_set_sink(NULL, NULL);
	astro_http_global_cleanup();
	return 0;
}

/* A client for container "c" of account "acct" at the stand-in. */
static struct astro_s3 *fault_client(const char *dir, const char *creds, const char *query)
{
	char url[256], *path = creds ? write_file(dir, creds, 0600) : NULL, *container = NULL;
	char msg[256];
	struct astro_azblob_cfg cfg = { .name = "src", .url = url, .credentials = path,
					.timeout_ms = 5000 };
	struct astro_s3 *s = NULL;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/acct/c%s", srv_port, query ? query : "");
	if (astro_azblob_new(&cfg, &s, &container, msg, sizeof(msg)) != 0)
		fail_msg("new: %s", msg);
	assert_string_equal(container, "c");
	free(container);
	if (path) {
		unlink(path);
		free(path);
	}
	return s;
}

/* HEAD has no body: Azure's x-ms-error-code names the error; one log line. */
static void head_errors_from_the_header(void **state)
{
	char *dir = unit_tmpdir();
	struct astro_s3 *s = fault_client(dir, "src.key = " ACCOUNT_KEY "\n", NULL);
	struct astro_s3_info info;

	(void)state;
	nlog = 0;
	assert_int_equal(astro_s3_head(s, "c", "denied.fits", &info), -EACCES);
	assert_int_equal(nlog, 1);
	assert_non_null(strstr(lastlog, "HEAD az://c/denied.fits: HTTP 403 AuthenticationFailed"));
	/* A missing blob is an answer, not a fault: not logged. */
	nlog = 0;
	assert_int_equal(astro_s3_head(s, "c", "gone.fits", &info), -ENOENT);
	assert_int_equal(nlog, 0);
	assert_int_equal(astro_s3_head(s, "c", "there.fits", &info), 0);
	assert_string_equal(info.etag, "\"0x1\"");
	astro_s3_free(s);
	rmdir(dir);
	free(dir);
}

/* Ranged reads have the S3 client's checks; error documents map. */
static void ranged_reads_are_checked(void **state)
{
	char *dir = unit_tmpdir(), buf[100];
	struct astro_s3 *s = fault_client(dir, NULL, NULL);
	struct astro_s3_info info;
	size_t got = 99;

	(void)state;
	nlog = 0;
	assert_int_equal(astro_s3_get_range(s, "c", "norange.fits", 0, 100, NULL, buf, &got, &info),
			 -EIO);
	assert_int_equal(got, 0);
	assert_non_null(strstr(lastlog, "ignored the Range header"));
	assert_int_equal(astro_s3_get_range(s, "c", "short.fits", 0, 100, NULL, buf, &got, &info),
			 -EIO);
	assert_non_null(strstr(lastlog, "Content-Range"));
	nlog = 0;
	assert_int_equal(astro_s3_get_range(s, "c", "err.fits", 0, 100, NULL, buf, &got, &info),
			 -EACCES);
	assert_int_equal(nlog, 1);
	assert_non_null(strstr(lastlog, "HTTP 403 AuthorizationFailure"));
	/* Only the message's first line: the RequestId line stays out. */
	assert_null(strstr(lastlog, "RequestId"));
	astro_s3_free(s);
	rmdir(dir);
	free(dir);
}

/* What goes on the wire: the listing's parameters, then the auth. */
static void listing_requests(void **state)
{
	char *dir = unit_tmpdir();
	struct astro_s3 *key = fault_client(dir, "src.key = " ACCOUNT_KEY "\n", NULL);
	struct astro_s3 *sas = fault_client(dir, "src.sas = ?sv=2021&sig=SAS%2Bsig\n", NULL);
	struct astro_s3 *url = fault_client(dir, NULL, "?sv=2021&sig=URLSIG");
	struct astro_s3 *anon = fault_client(dir, NULL, NULL);
	struct astro_s3_list l;

	(void)state;
	assert_int_equal(astro_s3_list(key, "c", "d/e f", "/", "m!1", 0, &l), 0);
	assert_int_equal(l.nobjects, 1);
	assert_string_equal(l.objects[0].key, "restype=container&comp=list&prefix=d%2Fe%20f&"
			    "delimiter=%2F&marker=m%211&maxresults=1000");
	assert_int_equal(l.nprefixes, 1);
	assert_int_equal(strncmp(l.prefixes[0], "SharedKey acct:", 15), 0);
	assert_int_equal(strlen(l.prefixes[0]), 15 + 44);
	astro_s3xml_list_free(&l);

	assert_int_equal(astro_s3_list(sas, "c", NULL, NULL, NULL, 7, &l), 0);
	assert_string_equal(l.objects[0].key, "restype=container&comp=list&maxresults=7&sv=2021&sig=SAS%2Bsig");
	assert_string_equal(l.prefixes[0], "none");
	astro_s3xml_list_free(&l);

	assert_int_equal(astro_s3_list(url, "c", NULL, NULL, NULL, 0, &l), 0);
	assert_string_equal(l.objects[0].key, "restype=container&comp=list&maxresults=1000&sv=2021&sig=URLSIG");
	astro_s3xml_list_free(&l);

	assert_int_equal(astro_s3_list(anon, "c", NULL, NULL, NULL, 0, &l), 0);
	assert_string_equal(l.objects[0].key, "restype=container&comp=list&maxresults=1000");
	assert_string_equal(l.prefixes[0], "none");
	astro_s3xml_list_free(&l);
	astro_s3_free(key);
	astro_s3_free(sas);
	astro_s3_free(url);
	astro_s3_free(anon);
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
	const struct CMUnitTest wire[] = {
		cmocka_unit_test(head_errors_from_the_header),
		cmocka_unit_test(ranged_reads_are_checked),
		cmocka_unit_test(listing_requests),
	};
	int rc;

	rc = cmocka_run_group_tests(tests, NULL, NULL);
	return rc | cmocka_run_group_tests_name("wire", wire, start_server, stop_server);
}

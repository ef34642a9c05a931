/*
 * s3 client: addressing, Content-Range, error mapping (one log line each),
 * and ranged reads against tests/standin/rangesrv.py (a Python Range server
 * that can also ignore Range, lie in Content-Range or answer S3 errors).
 */
#include "unit.h"
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include "core/astro.h"
#include "services/http.h"
#include "core/log.h"
#include "services/s3.h"
#include "unit_spawn.h"

static pid_t srv_pid;
static int port;
static int nlog;
static char lastlog[512];

static void sink(int level, const char *msg, void *arg)
{
	(void)level; (void)arg;
	nlog++;
	astro_strlcpy(lastlog, msg, sizeof(lastlog));
}

static int start_server(void **s)
{
	const char *const argv[] = { "/usr/bin/python3", "tests/standin/rangesrv.py", "tests/standin", NULL };

	(void)s;
	astro_log_set_sink(sink, NULL);
	astro_log_set_ratelimit(0, 0);	/* every case checks its own line */
	return unit_spawn_http(argv, &srv_pid, &port);
}

static int stop_server(void **s)
{
	(void)s;
	if (srv_pid > 0) {
		kill(srv_pid, SIGTERM);
		waitpid(srv_pid, NULL, 0);
	}
	astro_http_global_cleanup();
	astro_log_set_sink(NULL, NULL);
	return 0;
}

static struct astro_s3 *client(const char *endpoint, int path_style, const char *region)
{
	struct astro_s3_cfg c = { .endpoint = endpoint, .region = region, .anonymous = 1,
				  .path_style = path_style, .timeout_ms = 5000 };
	struct astro_s3 *s = NULL;
	char msg[128];

	assert_int_equal(astro_s3_new(&c, &s, msg, sizeof(msg)), 0);
	return s;
}

static void expect_addr(struct astro_s3 *s, const char *bucket, const char *key,
			const char *host, const char *base, const char *path)
{
	char *h, *b, *p;

	assert_int_equal(astro_s3_address(s, bucket, key, &h, &b, &p), 0);
	assert_string_equal(h, host);
	assert_string_equal(b, base);
	assert_string_equal(p, path);
	free(h);
	free(b);
	free(p);
}

static void addressing_styles(void **st)
{
	struct astro_s3 *s;
	char *h, *b, *p;

	(void)st;
	/* AWS default: virtual host for DNS-compatible names. */
	s = client(NULL, -1, "us-west-2");
	expect_addr(s, "stpubdata", "tess/public/a b.fits", "stpubdata.s3.us-west-2.amazonaws.com",
		    "https://stpubdata.s3.us-west-2.amazonaws.com", "/tess/public/a b.fits");
	/* Dots break the TLS wildcard; upper case is not a DNS label: path style. */
	expect_addr(s, "my.bucket", "k", "s3.us-west-2.amazonaws.com",
		    "https://s3.us-west-2.amazonaws.com", "/my.bucket/k");
	expect_addr(s, "MyBucket", "k", "s3.us-west-2.amazonaws.com",
		    "https://s3.us-west-2.amazonaws.com", "/MyBucket/k");
	/* Bucket-level requests (ListObjectsV2). */
	expect_addr(s, "stpubdata", "", "stpubdata.s3.us-west-2.amazonaws.com",
		    "https://stpubdata.s3.us-west-2.amazonaws.com", "/");
	assert_int_equal(astro_s3_address(s, "", "k", &h, &b, &p), -EINVAL);
	assert_int_equal(astro_s3_address(s, "a/b", "k", &h, &b, &p), -EINVAL);
	astro_s3_free(s);

	/* A custom endpoint is path style unless told otherwise. */
	s = client("http://127.0.0.1:9000", -1, NULL);
	expect_addr(s, "astro", "x.fits", "127.0.0.1:9000", "http://127.0.0.1:9000", "/astro/x.fits");
	expect_addr(s, "astro", "", "127.0.0.1:9000", "http://127.0.0.1:9000", "/astro");
	astro_s3_free(s);
	s = client("http://localhost:9000", 0, NULL);
	expect_addr(s, "astro", "x.fits", "astro.localhost:9000", "http://astro.localhost:9000", "/x.fits");
	astro_s3_free(s);
	/* curl leaves a default port out of Host, so the signed host must too;
	 * an endpoint path prefix stays in front of the object path. */
	s = client("https://storage.googleapis.com:443/", 1, NULL);
	expect_addr(s, "b", "k", "storage.googleapis.com", "https://storage.googleapis.com", "/b/k");
	astro_s3_free(s);
	s = client("http://gw.example:80/s3/", 1, NULL);
	expect_addr(s, "b", "k", "gw.example", "http://gw.example", "/s3/b/k");
	astro_s3_free(s);
	{
		struct astro_s3_cfg c = { .endpoint = "ftp://x", .anonymous = 1 };
		char msg[128];

		assert_int_equal(astro_s3_new(&c, &s, msg, sizeof(msg)), -EINVAL);
		assert_non_null(strstr(msg, "s3_endpoint"));
	}
}

static void content_range(void **st)
{
	uint64_t a, b, t;

	(void)st;
	assert_int_equal(astro_s3_parse_content_range("bytes 0-2879/43997264640", &a, &b, &t), 0);
	assert_true(a == 0 && b == 2879 && t == 43997264640ULL);
	assert_int_equal(astro_s3_parse_content_range("bytes */1000", &a, &b, &t), 0);
	assert_true(a == UINT64_MAX && t == 1000);
	assert_int_equal(astro_s3_parse_content_range("bytes 5-9/*", &a, &b, &t), 0);
	assert_true(a == 5 && b == 9 && t == UINT64_MAX);
	static const char *const bad[] = {
		"", "bytes", "bytes 0-9", "bytes 9-0/100", "bytes 0-100/100", "bytes -1-5/10",
		"items 0-1/2", "bytes 0-1/2x", "bytes 0-99999999999999999999/5", "bytes a-b/c",
	};
	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(bad); i++)
		assert_int_equal(astro_s3_parse_content_range(bad[i], &a, &b, &t), -EINVAL);
}

static int err_of(long status, const char *code)
{
	char body[512] = "";
	int before = nlog, rc;

	if (code)
		snprintf(body, sizeof(body), "<?xml version=\"1.0\"?><Error><Code>%s</Code>"
			 "<Message>m</Message><RequestId>r</RequestId></Error>", code);
	rc = astro_s3_error("GET s3://b/k", status, body, strlen(body));
	assert_int_equal(nlog, before + 1);	/* exactly one line per failure */
	assert_non_null(strstr(lastlog, "s3://b/k"));
	if (code)
		assert_non_null(strstr(lastlog, code));
	return rc;
}

static void error_mapping(void **st)
{
	(void)st;
	assert_int_equal(err_of(403, "AccessDenied"), -EACCES);
	assert_int_equal(err_of(403, "SignatureDoesNotMatch"), -EACCES);
	assert_non_null(strstr(lastlog, "secret"));	/* the hint names the cause */
	assert_int_equal(err_of(403, "InvalidAccessKeyId"), -EACCES);
	assert_int_equal(err_of(404, "NoSuchBucket"), -ENOENT);
	assert_int_equal(err_of(404, "NoSuchKey"), -ENOENT);
	assert_int_equal(err_of(412, "PreconditionFailed"), -ESTALE);
	/* http.h already retried 5xx/SlowDown: the caller sees EIO. */
	assert_int_equal(err_of(503, "SlowDown"), -EIO);
	assert_int_equal(err_of(500, "InternalError"), -EIO);
	/* HEAD answers have no body: the status decides. */
	assert_int_equal(err_of(404, NULL), -ENOENT);
	assert_int_equal(err_of(403, NULL), -EACCES);
	assert_int_equal(err_of(400, NULL), -EIO);
	/* A body that is not an S3 error document still maps by status. */
	assert_int_equal(astro_s3_error("x", 403, "<html>", 6), -EACCES);
}

static void http_urls(void **st)
{
	char *u;

	(void)st;
	u = astro_s3_http_url("https://mast.stsci.edu/api/v0.1/Download/file", "/a b/c+d.fits");
	assert_string_equal(u, "https://mast.stsci.edu/api/v0.1/Download/file/a%20b/c%2Bd.fits");
	free(u);
	/* SAS tokens and presigned parameters stay after the path. */
	u = astro_s3_http_url("https://acct.blob.core.windows.net/c/?sv=2022&sig=x%2By", "d/f.fits");
	assert_string_equal(u, "https://acct.blob.core.windows.net/c/d/f.fits?sv=2022&sig=x%2By");
	free(u);
}

static char *url(const char *fmt, const char *rel)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "http://127.0.0.1:%d/%s/%s", port, fmt, rel);
	return buf;
}



static void ranged_reads(void **st)
{
	struct astro_s3_info info;
	char buf[4096], *file;
	size_t got, flen;
	const char *rel = "rangesrv.py";	/* a file the server has under tests/standin */

	(void)st;

	file = unit_slurp("tests/standin/rangesrv.py", &flen);
	assert_non_null(file);
	assert_true(flen > 1000);
	assert_int_equal(astro_s3_http_get_range(url("files", rel), 100, 200, NULL, 5000, buf, &got, &info), 0);
	assert_int_equal(got, 200);
	assert_memory_equal(buf, file + 100, 200);
	assert_int_equal(info.size, flen);
	assert_true(info.etag[0] == '"');
	/* The end of the object: a short read, then 416 = nothing. */
	assert_int_equal(astro_s3_http_get_range(url("files", rel), flen - 10, 100, info.etag, 5000, buf, &got, &info), 0);
	assert_int_equal(got, 10);
	assert_int_equal(astro_s3_http_get_range(url("files", rel), flen, 100, NULL, 5000, buf, &got, &info), 0);
	assert_int_equal(got, 0);
	assert_int_equal(info.size, flen);
	/* A replaced object: If-Match fails (412) or the validator differs. */
	assert_int_equal(astro_s3_http_get_range(url("files", rel), 0, 10, "\"other\"", 5000, buf, &got, &info), -ESTALE);
	assert_int_equal(astro_s3_http_get_range(url("noetag", rel), 0, 10, "Mon, 01 Jan 2001 00:00:00 GMT", 5000, buf, &got, &info), -ESTALE);
	/* Range ignored: refused, and an 8 GiB answer is cut after len+1 bytes. */
	nlog = 0;
	assert_int_equal(astro_s3_http_get_range(url("norange", rel), 0, 100, NULL, 5000, buf, &got, &info), -EIO);
	assert_non_null(strstr(lastlog, "ignored the Range"));
	assert_int_equal(astro_s3_http_get_range(url("norange-big", ""), 0, 100, NULL, 5000, buf, &got, &info), -EIO);
	assert_int_equal(got, 0);
	/* Content-Range that does not start where asked. */
	assert_int_equal(astro_s3_http_get_range(url("badrange", rel), 10, 100, NULL, 5000, buf, &got, &info), -EIO);
	assert_int_equal(astro_s3_http_get_range(url("files", "nope.fits"), 0, 100, NULL, 5000, buf, &got, &info), -ENOENT);
	/* Size and validator by HEAD, or by one byte when HEAD is refused. */
	assert_int_equal(astro_s3_http_head(url("files", rel), 5000, &info), 0);
	assert_int_equal(info.size, flen);
	assert_int_equal(astro_s3_http_head(url("nohead", rel), 5000, &info), 0);
	assert_int_equal(info.size, flen);
	assert_int_equal(astro_s3_http_head(url("files", "nope.fits"), 5000, &info), -ENOENT);
	free(file);
}

static void s3_errors_from_server(void **st)
{
	struct astro_s3_info info;
	struct astro_s3 *s;
	char ep[128], buf[16];
	size_t got;

	(void)st;

	/* Path style under the endpoint prefix: /s3err/STATUS/<bucket = code>/key */
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/s3err/403", port);
	s = client(ep, 1, NULL);
	nlog = 0;
	assert_int_equal(astro_s3_get_range(s, "SignatureDoesNotMatch", "k", 0, 16, NULL, buf, &got, &info), -EACCES);
	assert_int_equal(nlog, 1);
	astro_s3_free(s);
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/s3err/404", port);
	s = client(ep, 1, NULL);
	assert_int_equal(astro_s3_get_range(s, "NoSuchBucket", "k", 0, 16, NULL, buf, &got, &info), -ENOENT);
	assert_int_equal(astro_s3_head(s, "NoSuchKey", "k", &info), -ENOENT);
	astro_s3_free(s);
}

/* A page of keys [from, to) ("k00042.fits"), truncated with token tok or not. */
static void page(struct astro_s3_list *l, int from, int to, const char *tok)
{
	memset(l, 0, sizeof(*l));
	l->nobjects = (size_t)(to - from);
	l->objects = calloc(l->nobjects + 1, sizeof(*l->objects));
	for (int i = from; i < to; i++) {
		char k[32];

		snprintf(k, sizeof(k), "k%05d.fits", i);
		l->objects[i - from].key = strdup(k);
	}
	l->is_truncated = tok != NULL;
	l->next_token = tok ? strdup(tok) : NULL;
}

/* Feed pages to a pager; returns its last answer. */
static int pages(struct astro_s3_pager *pg, const int (*spec)[2], const char *const *toks, size_t n)
{
	struct astro_s3_list l;
	int rc = 1;

	for (size_t i = 0; i < n && rc == 1; i++) {
		page(&l, spec[i][0], spec[i][1], toks[i]);
		rc = astro_s3_pager_next(pg, &l, "LIST s3://b/");
		astro_s3xml_list_free(&l);
	}
	return rc;
}

static void pager_bounds_listings(void **st)
{
	struct astro_s3_pager pg;
	static const int ok[][2] = { { 0, 10 }, { 10, 20 }, { 20, 25 } };
	static const char *const ok_t[] = { "A", "B", NULL };
	static const int same[][2] = { { 0, 10 }, { 10, 20 }, { 20, 30 } };
	static const char *const same_t[] = { "T", "T", "T" };
	static const char *const cycle_t[] = { "A", "B", "A" };
	static const int again[][2] = { { 0, 10 }, { 0, 10 } };
	static const char *const again_t[] = { "A", "B" };
	static const int empty[][2] = { { 0, 10 }, { 0, 0 } };
	static const int overlap[][2] = { { 0, 10 }, { 5, 15 }, { 15, 16 } };

	(void)st;
	/* An honest listing: next, next, complete. */
	astro_s3_pager_init(&pg, 0);
	assert_int_equal(pages(&pg, ok, ok_t, 3), 0);
	assert_int_equal(pg.pages, 3);
	astro_s3_pager_free(&pg);
	/* The same token again (even with new keys), or a cycle of tokens. */
	astro_s3_pager_init(&pg, 0);
	assert_int_equal(pages(&pg, same, same_t, 3), -EIO);
	assert_int_equal(pg.pages, 2);
	astro_s3_pager_free(&pg);
	astro_s3_pager_init(&pg, 0);
	assert_int_equal(pages(&pg, same, cycle_t, 3), -EIO);
	astro_s3_pager_free(&pg);
	/* The same page under a fresh token; an empty truncated page. */
	astro_s3_pager_init(&pg, 0);
	assert_int_equal(pages(&pg, again, again_t, 2), -EIO);
	astro_s3_pager_free(&pg);
	astro_s3_pager_init(&pg, 0);
	assert_int_equal(pages(&pg, empty, again_t, 2), -EIO);
	astro_s3_pager_free(&pg);
	/* Overlapping pages that still move forward are followed (the
	 * caller de-duplicates names). */
	astro_s3_pager_init(&pg, 0);
	assert_int_equal(pages(&pg, overlap, ok_t, 3), 0);
	astro_s3_pager_free(&pg);
	/* One deadline for the whole listing: past it, no next page. */
	astro_s3_pager_init(&pg, astro_mono_ms() - 1);
	assert_int_equal(pages(&pg, ok, ok_t, 3), -ETIMEDOUT);
	assert_int_equal(pg.pages, 1);
	astro_s3_pager_free(&pg);
}

/* Records the headers of the requests it sees (and lets them through). */
static char seen_hdrs[1024];

static int record_headers(const struct astro_http_req *req, int attempt, void *arg)
{
	(void)attempt; (void)arg;
	seen_hdrs[0] = '\0';
	for (size_t i = 0; req->headers && req->headers[i]; i++) {
		strncat(seen_hdrs, req->headers[i], sizeof(seen_hdrs) - strlen(seen_hdrs) - 2);
		strcat(seen_hdrs, "\n");
	}
	return 0;
}

/* PUT and DELETE: the conditions are sent and their failures mapped. */
static void writes_and_conditions(void **st)
{
	static const char *const ct[] = { "Content-Type: image/jpeg", NULL };
	struct astro_s3_put_opts create = { ct, NULL, 1 }, replace = { NULL, "\"e1\"", 0 };
	struct astro_s3 *s;
	char ep[128];

	(void)st;
	astro_http_set_inject(record_headers, NULL);
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/s3err/412", port);
	s = client(ep, 1, NULL);
	assert_int_equal(astro_s3_put(s, "PreconditionFailed", "k", "abc", 3, &create, NULL), -EEXIST);
	assert_non_null(strstr(seen_hdrs, "If-None-Match: *\n"));
	assert_non_null(strstr(seen_hdrs, "Content-Type: image/jpeg\n"));
	assert_int_equal(astro_s3_put(s, "PreconditionFailed", "k", "abc", 3, &replace, NULL), -ESTALE);
	assert_non_null(strstr(seen_hdrs, "If-Match: \"e1\"\n"));
	assert_null(strstr(seen_hdrs, "If-None-Match"));
	/* Unconditional: a 412 is just an error answer. */
	assert_int_equal(astro_s3_put(s, "PreconditionFailed", "k", "abc", 3, NULL, NULL), -ESTALE);
	astro_s3_free(s);
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/s3err/403", port);
	s = client(ep, 1, NULL);
	nlog = 0;
	assert_int_equal(astro_s3_put(s, "AccessDenied", "k", "abc", 3, NULL, NULL), -EACCES);
	assert_int_equal(nlog, 1);
	assert_int_equal(astro_s3_delete(s, "AccessDenied", "k"), -EACCES);
	astro_s3_free(s);
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/s3err/404", port);
	s = client(ep, 1, NULL);
	assert_int_equal(astro_s3_delete(s, "NoSuchBucket", "k"), -ENOENT);
	astro_s3_free(s);
	astro_http_set_inject(NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(addressing_styles),
		cmocka_unit_test(content_range),
		cmocka_unit_test(error_mapping),
		cmocka_unit_test(http_urls),
		cmocka_unit_test(ranged_reads),
		cmocka_unit_test(s3_errors_from_server),
		cmocka_unit_test(pager_bounds_listings),
		cmocka_unit_test(writes_and_conditions),
	};
	return cmocka_run_group_tests(tests, start_server, stop_server);
}

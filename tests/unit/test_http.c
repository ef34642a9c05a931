/* HTTP layer against a local scripted server: deadlines, retries, faults. */
#include "unit.h"
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include "core/astro.h"
#include "services/http.h"
#include "unit_spawn.h"
#include "core/stats.h"

static pid_t srv_pid;
static int port;

static int start_server(void **s)
{
	const char *const argv[] = { "python3", "tests/standin/faulthttp.py", "120", NULL };

	(void)s;
	return unit_spawn_http(argv, &srv_pid, &port);
}

static int stop_server(void **s)
{
	(void)s;
	kill(srv_pid, SIGTERM);
	waitpid(srv_pid, NULL, 0);
	astro_http_global_cleanup();
	return 0;
}

static int get(const char *path, int idempotent, int64_t timeout_ms,
	       struct astro_http_resp *r)
{
	char url[256];
	struct astro_http_req q = {
		.method = "GET", .url = url, .timeout_ms = timeout_ms,
		.idempotent = idempotent, .service = "t",
	};

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	return astro_http_request(&q, r);
}

static long count(const char *path)
{
	struct astro_http_resp r;
	char p[128];
	long n;

	snprintf(p, sizeof(p), "/count%s", path);
	assert_int_equal(get(p, 0, 5000, &r), 0);
	n = strtol(r.body, NULL, 10);
	astro_http_resp_free(&r);
	return n;
}

static void ok_body_and_headers(void **s)
{
	struct astro_http_resp r;
	char v[64];

	(void)s;
	assert_int_equal(get("/ok", 1, 5000, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 5);
	assert_string_equal(r.body, "hello");
	assert_int_equal(astro_http_header(&r, "etag", -1, v, sizeof(v)), 5);
	assert_string_equal(v, "\"abc\"");
	assert_int_equal(astro_http_header(&r, "Set-Cookie", 1, v, sizeof(v)), 3);
	assert_string_equal(v, "b=2");
	assert_int_equal(astro_http_header(&r, "X-None", -1, v, sizeof(v)), -ENOENT);
	astro_http_resp_free(&r);
}

static void errors_are_responses_not_failures(void **s)
{
	struct astro_http_resp r;

	(void)s;
	assert_int_equal(get("/status/404", 1, 5000, &r), 0);
	assert_int_equal(r.status, 404);
	astro_http_resp_free(&r);
	/* Non-idempotent: a 503 is returned once, not retried. */
	assert_int_equal(get("/status/503", 0, 5000, &r), 0);
	assert_int_equal(r.status, 503);
	astro_http_resp_free(&r);
	assert_int_equal(count("/status/503"), 1);
}

static void idempotent_requests_retry_5xx(void **s)
{
	struct astro_http_resp r;

	(void)s;
	assert_int_equal(get("/flaky/2", 1, 10000, &r), 0);
	assert_int_equal(r.status, 200);
	astro_http_resp_free(&r);
	assert_int_equal(count("/flaky/2"), 3);
}

static void transport_faults_are_eio(void **s)
{
	struct astro_http_resp r;

	(void)s;
	assert_int_equal(get("/reset", 0, 5000, &r), -EIO);
	astro_http_resp_free(&r);
	assert_int_equal(get("/truncate", 0, 5000, &r), -EIO);
	astro_http_resp_free(&r);
	assert_int_equal(get("/truncate", 1, 10000, &r), -EIO);
	astro_http_resp_free(&r);
	assert_int_equal(count("/truncate"), 1 + 3);
}

static void deadline_bounds_a_stalled_server(void **s)
{
	struct astro_http_resp r;
	int64_t t0 = astro_mono_ms();

	(void)s;
	assert_int_equal(get("/stall", 1, 1500, &r), -ETIMEDOUT);
	astro_http_resp_free(&r);
	/* Bounded by the deadline, with generous slack for a loaded machine;
	 * without a deadline this would take 60 s. */
	assert_true(astro_mono_ms() - t0 < 15000);
	t0 = astro_mono_ms();
	assert_int_equal(get("/slow/30", 1, 1000, &r), -ETIMEDOUT);
	astro_http_resp_free(&r);
	assert_true(astro_mono_ms() - t0 < 15000);
}

static void oversized_bodies_fail(void **s)
{
	struct astro_http_resp r;
	char url[128];
	struct astro_http_req q = { .method = "GET", .url = url, .max_body = 1000 };

	(void)s;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/big/5000", port);
	assert_int_equal(astro_http_request(&q, &r), -EFBIG);
	astro_http_resp_free(&r);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/big/1000", port);
	assert_int_equal(astro_http_request(&q, &r), 0);
	assert_int_equal(r.body_len, 1000);
	astro_http_resp_free(&r);
}

/* The VmFlags line of the mapping that holds addr, from /proc/self/smaps. */
static int mapping_flags(const void *addr, char *flags, size_t n)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0, found = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char *end;

		lo = strtoul(line, &end, 16);
		if (*end == '-') {
			hi = strtoul(end + 1, &end, 16);
			in = *end == ' ' && (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
		} else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			astro_strlcpy(flags, line + 8, n);
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

/* A secret body (a 3 MB one, so it grows several times) arrives whole, in
 * pages excluded from core dumps; an ordinary one does not. */
static void secret_bodies_stay_out_of_core_dumps(void **s)
{
	struct astro_http_resp r;
	char url[128], flags[512];
	struct astro_http_req q = { .method = "GET", .url = url, .secret_body = 1 };

	(void)s;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/big/3000000", port);
	assert_int_equal(astro_http_request(&q, &r), 0);
	assert_int_equal(r.body_len, 3000000);
	assert_true(r.body_secret);
	assert_true(r.body_cap > r.body_len);
	for (size_t i = 0; i < r.body_len; i++)
		if (r.body[i] != 'z')
			fail_msg("byte %zu is %d", i, r.body[i]);
	assert_int_equal(r.body[r.body_len], '\0');
	assert_int_equal(mapping_flags(r.body, flags, sizeof(flags)), 0);
	if (!strstr(flags, " dd"))
		fail_msg("secret body mapping flags:%s", flags);
	astro_http_resp_free(&r);
	q.secret_body = 0;
	assert_int_equal(astro_http_request(&q, &r), 0);
	assert_false(r.body_secret);
	assert_int_equal(mapping_flags(r.body, flags, sizeof(flags)), 0);
	assert_null(strstr(flags, " dd"));
	astro_http_resp_free(&r);
}

static int inject_calls;
static int inject_eio_first(const struct astro_http_req *q, int attempt_no, void *arg)
{
	(void)q; (void)arg;
	inject_calls++;
	return attempt_no == 0 ? -EIO : 0;
}

static void injection_hook_fails_attempts(void **s)
{
	struct astro_http_resp r;

	(void)s;
	astro_http_set_inject(inject_eio_first, NULL);
	assert_int_equal(get("/ok", 0, 5000, &r), -EIO);
	astro_http_resp_free(&r);
	assert_int_equal(get("/ok", 1, 5000, &r), 0);
	assert_int_equal(r.status, 200);
	astro_http_resp_free(&r);
	astro_http_set_inject(NULL, NULL);
	assert_int_equal(inject_calls, 3);
	assert_true(astro_stats_get("t.requests") > 0);
}

static void post_sends_body_and_headers(void **s)
{
	struct astro_http_resp r;
	char url[128];
	const char *h[] = { "X-Astro: yes", NULL };
	struct astro_http_req q = { .method = "POST", .url = url, .body = "a=1&b=2", .body_len = 7 };

	(void)s;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/post", port);
	assert_int_equal(astro_http_request(&q, &r), 0);
	assert_string_equal(r.body, "a=1&b=2");
	astro_http_resp_free(&r);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", port);
	q.method = "GET";
	q.body = NULL;
	q.body_len = 0;
	q.headers = h;
	assert_int_equal(astro_http_request(&q, &r), 0);
	assert_non_null(strstr(r.body, "X-Astro: yes"));
	astro_http_resp_free(&r);
}

static void escape_keeps_unreserved(void **s)
{
	char *e = astro_http_escape("a b/c~-_.ü", strlen("a b/c~-_.ü"));

	(void)s;
	assert_string_equal(e, "a%20b%2Fc~-_.%C3%BC");
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ok_body_and_headers),
		cmocka_unit_test(errors_are_responses_not_failures),
		cmocka_unit_test(idempotent_requests_retry_5xx),
		cmocka_unit_test(transport_faults_are_eio),
		cmocka_unit_test(deadline_bounds_a_stalled_server),
		cmocka_unit_test(oversized_bodies_fail),
		cmocka_unit_test(secret_bodies_stay_out_of_core_dumps),
		cmocka_unit_test(injection_hook_fails_attempts),
		cmocka_unit_test(post_sends_body_and_headers),
		cmocka_unit_test(escape_keeps_unreserved),
	};
	return cmocka_run_group_tests(tests, start_server, stop_server);
}

/*
 * The space-track client (services/spacetrack.c) against the stand-in
 * (tests/standin/spacetrack.py): one login per client, the day query it
 * sends, a limiter slot for every request, and the answers that are errors
 * rather than data.  What reached the stand-in is read from its /_test/
 * log and counters.
 */
#include "unit.h"
#include <errno.h>
#include "core/astro.h"
#include "core/config.h"
#include "services/limiter.h"
#include "services/spacetrack.h"
#include "unit_standin.h"

static struct unit_st srv;

struct fx {
	struct astro_config cfg;
	struct astro_limiter *lim;
	struct astro_spacetrack *st;
};

UNIT_ST_GROUP_FIXTURES(srv, "--synthetic-day", "2001-01-05:20")

/* A client with its own limiter of `limit` requests a minute. */
static struct fx *client(const char *password, unsigned limit)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct astro_rate rate = { .n = 1, .w = { { limit, 60 } } };
	char err[256];

	assert_non_null(f);
	assert_int_equal(astro_config_init(&f->cfg), 0);
	assert_int_equal(astro_config_set(&f->cfg, "spacetrack_url", srv.url, err, sizeof(err)), 0);
	f->cfg.spacetrack_user = astro_secure_strdup(UNIT_ST_USER);
	f->cfg.spacetrack_password = astro_secure_strdup(password);
	f->cfg.timeout = 10;
	assert_int_equal(astro_limiter_open(&f->lim, NULL, "st", &rate), 0);
	assert_int_equal(astro_spacetrack_open(&f->st, &f->cfg, f->lim), 0);
	return f;
}

static void client_free(struct fx *f)
{
	astro_spacetrack_close(f->st);
	astro_limiter_close(f->lim);
	astro_config_free(&f->cfg);
	free(f);
}

/* Each test starts from a quiet stand-in: no faults, no sessions, the
 * default rate answer, empty log. */
static int reset(void **s)
{
	(void)s;
	if (unit_st_post(&srv, "clear_faults", NULL) ||
	    unit_st_post(&srv, "expire_sessions", NULL) ||
	    unit_st_post(&srv, "config", "{\"rate_minute\": 1000, \"rate_mode\": \"500\"}") ||
	    unit_st_post(&srv, "reset_log", NULL))
		return -1;
	return 0;
}

static int64_t in_ms(int64_t ms)
{
	return astro_mono_ms() + ms;
}

#define GP_PATH "/basicspacedata/query/class/gp/NORAD_CAT_ID/90001/format/3le"

static void logs_in_once_per_client(void **s)
{
	struct fx *f = client(UNIT_ST_PASS, 100);
	char *body;
	size_t len, n;
	json_t *log;
	const char *cookie = NULL;

	(void)s;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(astro_spacetrack_get(f->st, GP_PATH, in_ms(10000), &body, &len), 0);
		assert_non_null(strstr(body, "STANDIN MIDNIGHT"));
		free(body);
	}
	assert_int_equal(astro_spacetrack_fetch_day(f->st, 978652800 /* 2001-01-05 */, in_ms(10000),
					    &body, &len, &n), 0);
	free(body);
	assert_int_equal(unit_st_count(&srv, "logins"), 1);
	assert_int_equal(unit_st_count(&srv, "logins_ok"), 1);
	assert_int_equal(unit_st_count(&srv, "queries"), 4);
	/* Every query went with the one session's cookie. */
	log = unit_st_control(&srv, "log", NULL);
	assert_non_null(log);
	assert_int_equal(json_array_size(log), 5);
	for (size_t i = 1; i < 5; i++) {
		const char *c = json_string_value(json_object_get(json_array_get(log, i), "cookie"));

		assert_non_null(c);
		if (!cookie)
			cookie = c;
		assert_string_equal(c, cookie);
	}
	json_decref(log);
	/* A second client is a second session. */
	client_free(f);
	assert_int_equal(unit_st_count(&srv, "logouts"), 1);
	f = client(UNIT_ST_PASS, 100);
	assert_int_equal(astro_spacetrack_get(f->st, GP_PATH, in_ms(10000), &body, &len), 0);
	free(body);
	assert_int_equal(unit_st_count(&srv, "logins"), 2);
	client_free(f);
}

static void session_expiry_logs_in_again_once(void **s)
{
	struct fx *f = client(UNIT_ST_PASS, 100);
	char *body;
	size_t len;

	(void)s;
	assert_int_equal(astro_spacetrack_get(f->st, GP_PATH, in_ms(10000), &body, &len), 0);
	free(body);
	assert_int_equal(unit_st_post(&srv, "expire_sessions", NULL), 0);
	assert_int_equal(astro_spacetrack_get(f->st, GP_PATH, in_ms(10000), &body, &len), 0);
	free(body);
	assert_int_equal(unit_st_count(&srv, "logins"), 2);
	assert_int_equal(unit_st_count(&srv, "queries"), 3);	/* one refused, retried once */
	client_free(f);
}

/* Lines of a 3le body: catalogue numbers in order, none outside the day. */
static void day_query_and_body(void **s)
{
	struct fx *f = client(UNIT_ST_PASS, 100);
	char *body, *line, *save = NULL;
	size_t len, n, lines = 0;
	long last = -1;
	json_t *log;
	const char *path;

	(void)s;
	assert_int_equal(astro_spacetrack_fetch_day(f->st, 978652800, in_ms(10000), &body, &len, &n), 0);
	assert_int_equal(n, 20);
	assert_int_equal(strlen(body), len);
	for (line = strtok_r(body, "\n", &save); line; line = strtok_r(NULL, "\n", &save), lines++) {
		if (lines % 3 == 0) {
			assert_true(line[0] == '0' && line[1] == ' ');
		} else if (lines % 3 == 1) {
			long cat = strtol(line + 2, NULL, 10);

			assert_true(line[0] == '1');
			assert_true(cat >= last);
			last = cat;
			assert_memory_equal(line + 18, "01005", 5);	/* epoch day 5 of 2001 */
		} else {
			assert_true(line[0] == '2');
		}
	}
	assert_int_equal(lines, 60);
	free(body);
	log = unit_st_control(&srv, "log", NULL);
	assert_non_null(log);
	path = json_string_value(json_object_get(json_array_get(log, 1), "query_path_decoded"));
	assert_non_null(path);
	assert_string_equal(path, "/basicspacedata/query/class/gp_history/EPOCH/2001-01-05--2001-01-06"
			    "/orderby/NORAD_CAT_ID asc,EPOCH asc/format/3le");
	json_decref(log);

	/* The range is inclusive: the set at the next midnight (90001,
	 * 2001-01-02 00:00) is dropped from 2001-01-01, the late one (90002,
	 * 18:00) kept. */
	assert_int_equal(astro_spacetrack_fetch_day(f->st, 978307200, in_ms(10000), &body, &len, &n), 0);
	assert_int_equal(n, 1);
	assert_non_null(strstr(body, "STANDIN LATE EPOCH"));
	assert_null(strstr(body, "MIDNIGHT"));
	free(body);
	assert_int_equal(astro_spacetrack_fetch_day(f->st, 978393600, in_ms(10000), &body, &len, &n), 0);
	assert_int_equal(n, 1);
	assert_non_null(strstr(body, "STANDIN MIDNIGHT"));
	free(body);
	client_free(f);
}

/* A ceiling of 3 a minute: login and two queries use it up, and the
 * fourth request waits for a slot rather than reaching the server. */
static void limiter_slot_per_request(void **s)
{
	struct fx *f = client(UNIT_ST_PASS, 3);
	char *body;
	size_t len;
	int64_t t0;

	(void)s;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(astro_spacetrack_get(f->st, GP_PATH, in_ms(10000), &body, &len), 0);
		free(body);
	}
	assert_int_equal(unit_st_count(&srv, "requests"), 3);
	t0 = astro_mono_ms();
	assert_int_equal(astro_spacetrack_get(f->st, GP_PATH, in_ms(500), &body, &len), -ETIMEDOUT);
	assert_null(body);
	assert_true(astro_mono_ms() - t0 < 3000);
	assert_int_equal(unit_st_count(&srv, "requests"), 3);
	client_free(f);	/* the logout finds no slot either: still nothing sent */
	assert_int_equal(unit_st_count(&srv, "requests"), 3);

	/* The login itself takes a slot: with one a minute the query never goes. */
	f = client(UNIT_ST_PASS, 1);
	assert_int_equal(astro_spacetrack_get(f->st, GP_PATH, in_ms(500), &body, &len), -ETIMEDOUT);
	assert_int_equal(unit_st_count(&srv, "logins"), 2);
	assert_int_equal(unit_st_count(&srv, "queries"), 2);
	client_free(f);
}

static void wrong_password_is_eacces_and_not_remembered(void **s)
{
	struct fx *f = client("not the password", 100);
	char *body = (char *)"x";
	size_t len = 7;

	(void)s;
	assert_int_equal(astro_spacetrack_get(f->st, GP_PATH, in_ms(10000), &body, &len), -EACCES);
	assert_null(body);
	assert_int_equal(len, 0);
	assert_int_equal(unit_st_count(&srv, "logins_failed"), 1);
	assert_int_equal(unit_st_count(&srv, "queries"), 0);
	/* The refusal is not kept: once the password is right, it works. */
	astro_secure_strfree(f->cfg.spacetrack_password);
	f->cfg.spacetrack_password = astro_secure_strdup(UNIT_ST_PASS);
	assert_int_equal(astro_spacetrack_get(f->st, GP_PATH, in_ms(10000), &body, &len), 0);
	free(body);
	assert_int_equal(unit_st_count(&srv, "logins_ok"), 1);
	client_free(f);

	/* A locked account is refused the same way. */
	assert_int_equal(unit_st_post(&srv, "config", "{\"locked\": true}"), 0);
	f = client(UNIT_ST_PASS, 100);
	assert_int_equal(astro_spacetrack_get(f->st, GP_PATH, in_ms(10000), &body, &len), -EACCES);
	client_free(f);
	assert_int_equal(unit_st_post(&srv, "config", "{\"locked\": false}"), 0);
}

static void rate_limit_notice_is_eio(void **s)
{
	struct fx *f = client(UNIT_ST_PASS, 100);
	char *body;
	size_t len, n;

	(void)s;
	assert_int_equal(astro_spacetrack_get(f->st, GP_PATH, in_ms(10000), &body, &len), 0);
	free(body);
	/* Two requests so far (login, query): the next is over the window. */
	assert_int_equal(unit_st_post(&srv, "config", "{\"rate_minute\": 2}"), 0);
	assert_int_equal(astro_spacetrack_get(f->st, GP_PATH, in_ms(10000), &body, &len), -EIO);
	assert_null(body);
	assert_int_equal(astro_spacetrack_fetch_day(f->st, 978652800, in_ms(10000), &body, &len, &n), -EIO);
	assert_int_equal(unit_st_post(&srv, "config", "{\"rate_mode\": \"200\"}"), 0);
	assert_int_equal(astro_spacetrack_get(f->st, GP_PATH, in_ms(10000), &body, &len), -EIO);
	assert_null(body);
	assert_int_equal(unit_st_count(&srv, "rate_limited"), 3);
	/* A rate notice is not an expired session. */
	assert_int_equal(unit_st_count(&srv, "logins"), 1);
	client_free(f);
}

static void truncated_body_is_eio(void **s)
{
	static const char *const styles[] = {
		"{\"kind\": \"truncate\", \"style\": \"chunked\", \"match\": \"gp_history\"}",
		"{\"kind\": \"truncate\", \"style\": \"length\", \"match\": \"gp_history\"}",
	};
	struct fx *f = client(UNIT_ST_PASS, 100);
	char *body;
	size_t len, n;

	(void)s;
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(unit_st_post(&srv, "fault", styles[i]), 0);
		body = NULL;
		assert_int_equal(astro_spacetrack_fetch_day(f->st, 978652800, in_ms(10000), &body, &len, &n),
				 -EIO);
		assert_null(body);
	}
	/* Upstream recovered: the same day now comes whole. */
	assert_int_equal(astro_spacetrack_fetch_day(f->st, 978652800, in_ms(10000), &body, &len, &n), 0);
	assert_int_equal(n, 20);
	free(body);
	client_free(f);
}

/* Does the mapping holding p carry VmFlags "dd" (excluded from core dumps)? */
static int dont_dump(const void *p)
{
	FILE *fp = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0, dd = -1;
	uintptr_t a = (uintptr_t)p;

	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {	/* a mapping's first line */
			in = a >= lo && a < hi;
		} else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			dd = strstr(line, " dd") != NULL;
			break;
		}
	}
	fclose(fp);
	return dd;
}

static void secret_body_in_secure_memory(void **s)
{
	struct fx *f = client(UNIT_ST_PASS, 100);
	char *body;
	size_t len, cap;

	(void)s;
	assert_int_equal(astro_spacetrack_get_secret(f->st, GP_PATH, in_ms(10000), &body, &len, &cap), 0);
	assert_non_null(strstr(body, "STANDIN MIDNIGHT"));
	assert_true(cap > len);
	assert_int_equal(body[len], '\0');
	assert_int_equal(dont_dump(body), 1);
	astro_secure_free(body, cap);
	/* The ordinary path is heap memory, which core dumps include. */
	assert_int_equal(astro_spacetrack_get(f->st, GP_PATH, in_ms(10000), &body, &len), 0);
	assert_int_equal(dont_dump(body), 0);
	free(body);
	/* A secret request that fails leaves nothing to free. */
	assert_int_equal(unit_st_post(&srv, "fault", "{\"kind\": \"error_200\", \"match\": \"gp\"}"), 0);
	assert_int_equal(astro_spacetrack_get_secret(f->st, GP_PATH, in_ms(10000), &body, &len, &cap), -EIO);
	assert_null(body);
	client_free(f);
}

static void offline_sends_nothing(void **s)
{
	struct fx *f = client(UNIT_ST_PASS, 100);
	char *body;
	size_t len;

	(void)s;
	f->cfg.offline = true;
	assert_int_equal(astro_spacetrack_get(f->st, GP_PATH, in_ms(10000), &body, &len), -ENETDOWN);
	client_free(f);
	assert_int_equal(unit_st_count(&srv, "requests"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(logs_in_once_per_client, reset),
		cmocka_unit_test_setup(session_expiry_logs_in_again_once, reset),
		cmocka_unit_test_setup(day_query_and_body, reset),
		cmocka_unit_test_setup(limiter_slot_per_request, reset),
		cmocka_unit_test_setup(wrong_password_is_eacces_and_not_remembered, reset),
		cmocka_unit_test_setup(rate_limit_notice_is_eio, reset),
		cmocka_unit_test_setup(truncated_body_is_eio, reset),
		cmocka_unit_test_setup(secret_body_in_secure_memory, reset),
		cmocka_unit_test_setup(offline_sends_nothing, reset),
	};

	return cmocka_run_group_tests(tests, start_server, stop_server);
}

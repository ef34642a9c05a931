#include "unit.h"
#include <poll.h>
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <jansson.h>
#include "core/astro.h"
#include "obs/obs_local.h"

struct fx {
	char *dir;
	struct astro_obs_store *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->dir = unit_tmpdir();
	if (!f->dir || astro_obs_local_open(f->dir, &f->s) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[300];

	astro_obs_store_close(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f->dir);
	free(f);
	return 0;
}

static void cmd(struct astro_obs_cmd *c, const char *line)
{
	char err[128];

	assert_int_equal(astro_obs_cmd_parse(line, strlen(line), c, err, sizeof(err)), 1);
}

static json_t *job(struct fx *f, const char *site, const char *id)
{
	char *txt = NULL;
	json_t *j;

	assert_int_equal(astro_obs_store_job_json(f->s, site, id, &txt), 0);
	j = json_loads(txt, 0, NULL);
	assert_non_null(j);
	free(txt);
	return j;
}

static const char *state_of(struct fx *f, const char *site, const char *id)
{
	static char buf[32];
	json_t *j = job(f, site, id);

	astro_strlcpy(buf, json_string_value(json_object_get(j, "state")), sizeof(buf));
	json_decref(j);
	return buf;
}

static void transition_map(void **state)
{
	(void)state;
	/* The forward path. */
	assert_true(astro_obs_job_state_allowed(ASTRO_OBS_QUEUED, ASTRO_OBS_SENT));
	assert_true(astro_obs_job_state_allowed(ASTRO_OBS_SENT, ASTRO_OBS_RECEIVED));
	assert_true(astro_obs_job_state_allowed(ASTRO_OBS_RECEIVED, ASTRO_OBS_STARTED));
	assert_true(astro_obs_job_state_allowed(ASTRO_OBS_STARTED, ASTRO_OBS_COMPLETE));
	assert_true(astro_obs_job_state_allowed(ASTRO_OBS_RECEIVED, ASTRO_OBS_REJECTED));
	assert_true(astro_obs_job_state_allowed(ASTRO_OBS_STARTED, ASTRO_OBS_CANCELED));
	/* No going back, no skipping the site, terminal is final. */
	assert_false(astro_obs_job_state_allowed(ASTRO_OBS_STARTED, ASTRO_OBS_RECEIVED));
	assert_false(astro_obs_job_state_allowed(ASTRO_OBS_QUEUED, ASTRO_OBS_STARTED));
	assert_false(astro_obs_job_state_allowed(ASTRO_OBS_QUEUED, ASTRO_OBS_REJECTED));
	assert_false(astro_obs_job_state_allowed(ASTRO_OBS_RECEIVED, ASTRO_OBS_COMPLETE));
	for (int from = ASTRO_OBS_COMPLETE; from < ASTRO_OBS_NSTATES; from++)
		for (int to = 0; to < ASTRO_OBS_NSTATES; to++)
			assert_false(astro_obs_job_state_allowed(from, to));
	assert_int_equal(astro_obs_job_state_parse("EXPIRED"), ASTRO_OBS_EXPIRED);
	assert_int_equal(astro_obs_job_state_parse("expired"), -EINVAL);
}

static void queue_order_and_records(void **state)
{
	struct fx *f = *state;
	struct astro_obs_cmd c[3];
	char ids[3][ASTRO_OBS_ID_LEN + 1], err[200];
	struct astro_obs_job j;
	json_t *rec;

	cmd(&c[0], "expose 2");
	cmd(&c[1], "goto ra=5.5 dec=-5.4");
	cmd(&c[2], "stop");
	assert_int_equal(astro_obs_store_enqueue(f->s, "site1", c, 3, ids, err, sizeof(err)), 0);
	assert_true(strcmp(ids[0], ids[1]) < 0 && strcmp(ids[1], ids[2]) < 0);
	assert_string_equal(state_of(f, "site1", ids[0]), "QUEUED");
	rec = job(f, "site1", ids[1]);
	assert_string_equal(json_string_value(json_object_get(rec, "command")), "goto");
	assert_string_equal(json_string_value(json_object_get(rec, "line")),
			    "goto ra=5.5 dec=-5.4");
	assert_true(json_real_value(json_object_get(json_object_get(rec, "params"), "dec")) == -5.4);
	assert_string_equal(json_string_value(json_object_get(rec, "site")), "site1");
	json_decref(rec);
	/* Another site's queue is separate. */
	assert_int_equal(astro_obs_store_receive(f->s, "site2", false, &j), -EAGAIN);
	/* stop jumps the queue; then issue order. */
	assert_int_equal(astro_obs_store_receive(f->s, "site1", true, &j), 0);
	assert_string_equal(j.id, ids[2]);
	assert_int_equal(astro_obs_store_receive(f->s, "site1", true, &j), -EAGAIN);
	assert_int_equal(astro_obs_store_receive(f->s, "site1", false, &j), 0);
	assert_string_equal(j.id, ids[0]);
	assert_string_equal(j.line, "expose 2");
	assert_string_equal(state_of(f, "site1", ids[0]), "RECEIVED");
	assert_int_equal(astro_obs_store_receive(f->s, "site1", false, &j), 0);
	assert_string_equal(j.id, ids[1]);
	assert_int_equal(astro_obs_store_receive(f->s, "site1", false, &j), -EAGAIN);

	/* Validated updates. */
	assert_int_equal(astro_obs_store_update(f->s, "site1", ids[0], ASTRO_OBS_COMPLETE,
						NULL, -1, NULL), -EINVAL);
	assert_int_equal(astro_obs_store_update(f->s, "site1", ids[0], ASTRO_OBS_STARTED,
						NULL, 2.0, NULL), 0);
	assert_int_equal(astro_obs_store_update(f->s, "site1", ids[0], ASTRO_OBS_COMPLETE,
						"done", -1, "a.jpg"), 0);
	assert_int_equal(astro_obs_store_update(f->s, "site1", ids[0], ASTRO_OBS_FAILED,
						NULL, -1, NULL), -EINVAL);
	rec = job(f, "site1", ids[0]);
	assert_string_equal(json_string_value(json_object_get(rec, "state")), "COMPLETE");
	assert_string_equal(json_string_value(json_object_get(json_object_get(rec, "result"),
							       "image")), "a.jpg");
	assert_true(json_real_value(json_object_get(rec, "eta_s")) == 2.0);
	assert_int_equal(json_array_size(json_object_get(rec, "history")), 4);
	json_decref(rec);
	assert_int_equal(astro_obs_store_update(f->s, "site1", ids[1], ASTRO_OBS_REJECTED,
						"mount parked", -1, NULL), 0);
	assert_int_equal(astro_obs_store_update(f->s, "site1", "01ARYZ6S410000000000000000",
						ASTRO_OBS_STARTED, NULL, -1, NULL), -ENOENT);
}

static int count_jobs(void *arg, const char *id, enum astro_obs_state st)
{
	(void)id;
	(void)st;
	(*(int *)arg)++;
	return 0;
}

static void batch_all_or_nothing(void **state)
{
	struct fx *f = *state;
	struct astro_obs_cmd c[2];
	char ids[2][ASTRO_OBS_ID_LEN + 1], err[200] = "";
	struct astro_obs_job j;
	int n = 0;

	cmd(&c[0], "park");
	cmd(&c[1], "cancel 01ARYZ6S410000000000000000");
	assert_int_equal(astro_obs_store_enqueue(f->s, "site1", c, 2, ids, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "command 2: cancel: no job 01ARYZ6S410000000000000000"));
	assert_int_equal(astro_obs_store_jobs(f->s, "site1", count_jobs, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(astro_obs_store_receive(f->s, "site1", false, &j), -EAGAIN);
}

static void cancel_semantics(void **state)
{
	struct fx *f = *state;
	struct astro_obs_cmd c[3];
	char ids[3][ASTRO_OBS_ID_LEN + 1], cid[1][ASTRO_OBS_ID_LEN + 1], err[200];
	struct astro_obs_job j;

	cmd(&c[0], "expose 1");
	cmd(&c[1], "expose 2");
	cmd(&c[2], "expose 3");
	assert_int_equal(astro_obs_store_enqueue(f->s, "s", c, 3, ids, err, sizeof(err)), 0);
	/* A queued target is canceled here and now. */
	char line[64];
	snprintf(line, sizeof(line), "cancel %s", ids[1]);
	cmd(&c[0], line);
	assert_int_equal(astro_obs_store_enqueue(f->s, "s", c, 1, cid, err, sizeof(err)), 0);
	assert_string_equal(state_of(f, "s", ids[1]), "CANCELED");
	assert_string_equal(state_of(f, "s", cid[0]), "COMPLETE");
	/* ... and canceling it again is refused with a reason. */
	assert_int_equal(astro_obs_store_enqueue(f->s, "s", c, 1, cid, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "already CANCELED"));
	/* The site gets the first, then the third: the second is gone. */
	assert_int_equal(astro_obs_store_receive(f->s, "s", false, &j), 0);
	assert_string_equal(j.id, ids[0]);
	/* cancel all: the queued third ends here, the running first is left
	 * to the site, which receives the cancel as urgent. */
	cmd(&c[0], "cancel all");
	assert_int_equal(astro_obs_store_enqueue(f->s, "s", c, 1, cid, err, sizeof(err)), 0);
	assert_string_equal(state_of(f, "s", ids[2]), "CANCELED");
	assert_string_equal(state_of(f, "s", ids[0]), "RECEIVED");
	assert_string_equal(state_of(f, "s", cid[0]), "QUEUED");
	assert_int_equal(astro_obs_store_receive(f->s, "s", true, &j), 0);
	assert_string_equal(j.id, cid[0]);
	assert_string_equal(j.line, "cancel all");
	assert_int_equal(astro_obs_store_receive(f->s, "s", false, &j), -EAGAIN);
}

static void retention_expires(void **state)
{
	struct fx *f = *state;
	struct astro_obs_cmd c[2];
	char ids[2][ASTRO_OBS_ID_LEN + 1], keep[1][ASTRO_OBS_ID_LEN + 1], err[200];
	struct astro_obs_job j;

	cmd(&c[0], "park");
	cmd(&c[1], "stop");
	astro_obs_store_set_retention(f->s, 0);
	assert_int_equal(astro_obs_store_enqueue(f->s, "s", c, 2, ids, err, sizeof(err)), 0);
	astro_obs_store_set_retention(f->s, ASTRO_OBS_RETENTION_S);
	assert_int_equal(astro_obs_store_enqueue(f->s, "s", c, 1, keep, err, sizeof(err)), 0);
	astro_sleep_ms(5);
	/* A sweep ends the overdue ones in both queue classes, not the fresh one. */
	assert_int_equal(astro_obs_store_expire(f->s, "s"), 2);
	assert_string_equal(state_of(f, "s", ids[0]), "EXPIRED");
	assert_string_equal(state_of(f, "s", ids[1]), "EXPIRED");
	assert_string_equal(state_of(f, "s", keep[0]), "QUEUED");
	assert_int_equal(astro_obs_store_expire(f->s, "s"), 0);
	/* receive() expires too, then hands out the next live one. */
	astro_obs_store_set_retention(f->s, 0);
	assert_int_equal(astro_obs_store_enqueue(f->s, "t", c, 1, ids, err, sizeof(err)), 0);
	astro_sleep_ms(5);
	assert_int_equal(astro_obs_store_receive(f->s, "t", false, &j), -EAGAIN);
	assert_string_equal(state_of(f, "t", ids[0]), "EXPIRED");
	assert_int_equal(astro_obs_store_receive(f->s, "s", false, &j), 0);
	assert_string_equal(j.id, keep[0]);
}

static void status_and_counter_persist(void **state)
{
	struct fx *f = *state;
	char *txt = NULL;
	uint64_t n = 0;

	assert_int_equal(astro_obs_store_status_get(f->s, "site1", &txt), -ENOENT);
	assert_int_equal(astro_obs_store_status_put(f->s, "site1", "{\"a\":1}"), 0);
	assert_int_equal(astro_obs_store_status_get(f->s, "site1", &txt), 0);
	assert_string_equal(txt, "{\"a\":1}");
	free(txt);
	assert_int_equal(astro_obs_store_counter_next(f->s, "site1", "cam1", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(astro_obs_store_counter_next(f->s, "site1", "cam1", &n), 0);
	assert_int_equal(n, 2);
	/* Reopen: the counter carries on, never reissuing a value. */
	astro_obs_store_close(f->s);
	assert_int_equal(astro_obs_local_open(f->dir, &f->s), 0);
	assert_int_equal(astro_obs_store_counter_next(f->s, "site1", "cam1", &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(astro_obs_store_counter_next(f->s, "site2", "cam1", &n), 0);
	assert_int_equal(n, 1);
}

static int collect(void *arg, const struct astro_obs_image *img)
{
	char *names = arg;

	strcat(names, img->name);	/* banned-ok: test buffer sized below */
	strcat(names, ",");		/* banned-ok */
	return 0;
}

static void images_index(void **state)
{
	struct fx *f = *state;
	struct astro_obs_image img;
	char names[256] = "", buf[16];
	int fd;

	assert_int_equal(astro_obs_store_latest_image(f->s, "s", &img), -ENOENT);
	assert_int_equal(astro_obs_store_image_put(f->s, "s", "b_no9.jpg", "nine", 4, 9), 0);
	assert_int_equal(astro_obs_store_image_put(f->s, "s", "a_no10.jpg", "ten!!", 5, 10), 0);
	assert_int_equal(astro_obs_store_image_put(f->s, "s", "a_no10.jpg", "x", 1, 11), -EEXIST);
	assert_int_equal(astro_obs_store_image_put(f->s, "s", "../x.jpg", "x", 1, 12), -EINVAL);
	assert_int_equal(astro_obs_store_image_put(f->s, "s", ".hidden", "x", 1, 12), -EINVAL);
	assert_int_equal(astro_obs_store_images(f->s, "s", collect, names), 0);
	assert_string_equal(names, "a_no10.jpg,b_no9.jpg,");
	/* latest is the highest sequence, not the last name. */
	assert_int_equal(astro_obs_store_latest_image(f->s, "s", &img), 0);
	assert_string_equal(img.name, "a_no10.jpg");
	assert_int_equal(img.size, 5);
	fd = astro_obs_store_image_open(f->s, "s", "a_no10.jpg");
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "ten!!", 5);
	close(fd);
	assert_int_equal(astro_obs_store_image_open(f->s, "s", "zzz.jpg"), -ENOENT);
}

/* A site waits on the store's watch instead of polling: a command queued
 * through another handle (another process, as the mount is) wakes it. */
static void watch_wakes_on_enqueue(void **state)
{
	struct fx *f = *state;
	struct astro_obs_store *other = NULL;
	struct pollfd p;
	char *reply = NULL;
	int fd;

	assert_int_equal(astro_obs_local_open(f->dir, &other), 0);
	fd = astro_obs_store_watch(f->s);
	assert_true(fd >= 0);
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 0), 0);	/* nothing yet */
	assert_true(astro_obs_store_submit(other, "s", "park\n", 5, &reply) == 1);
	free(reply);
	assert_int_equal(poll(&p, 1, 1000), 1);
	astro_obs_store_watch_wait(fd, 0);	/* drained */
	assert_int_equal(poll(&p, 1, 0), 0);
	close(fd);
	astro_obs_store_close(other);
}

/* An exposure is NAME.fits and its preview NAME.jpg at one seq: latest is
 * the FITS, whichever was stored first ("j" sorts after "f"). */
static void latest_is_the_fits(void **state)
{
	struct fx *f = *state;
	struct astro_obs_image img;

	assert_int_equal(astro_obs_store_image_put(f->s, "s", "1_s_no1.fits", "F", 1, 1), 0);
	assert_int_equal(astro_obs_store_image_put(f->s, "s", "1_s_no1.jpg", "J", 1, 1), 0);
	assert_int_equal(astro_obs_store_latest_image(f->s, "s", &img), 0);
	assert_string_equal(img.name, "1_s_no1.fits");
	assert_int_equal(astro_obs_store_image_put(f->s, "s", "2_s_no2.jpg", "J", 1, 2), 0);
	assert_int_equal(astro_obs_store_latest_image(f->s, "s", &img), 0);
	assert_string_equal(img.name, "2_s_no2.jpg");	/* its FITS is not stored yet */
	assert_int_equal(astro_obs_store_image_put(f->s, "s", "2_s_no2.fits", "F", 1, 2), 0);
	assert_int_equal(astro_obs_store_latest_image(f->s, "s", &img), 0);
	assert_string_equal(img.name, "2_s_no2.fits");
}

/* A second process (as the simulator is) enqueues while this one receives:
 * every command arrives exactly once. */
static void two_processes(void **state)
{
	struct fx *f = *state;
	enum { N = 40 };
	char seen[N][ASTRO_OBS_ID_LEN + 1];
	int got = 0, tries, status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct astro_obs_store *s;
		struct astro_obs_cmd c;
		char id[1][ASTRO_OBS_ID_LEN + 1], err[128];
		int i, bad = 0;

		if (astro_obs_local_open(f->dir, &s) < 0)
			_exit(2);
		astro_obs_cmd_parse("park", 4, &c, err, sizeof(err));
		for (i = 0; i < N; i++)
			bad |= astro_obs_store_enqueue(s, "p", &c, 1, id, err, sizeof(err)) != 0;
		astro_obs_store_close(s);
		_exit(bad);
	}
	for (tries = 0; got < N && tries < 2000; tries++) {
		struct astro_obs_job j;
		int rc = astro_obs_store_receive(f->s, "p", false, &j);

		if (rc == -EAGAIN) {
			astro_sleep_ms(5);
			continue;
		}
		assert_int_equal(rc, 0);
		for (int k = 0; k < got; k++)
			assert_string_not_equal(seen[k], j.id);
		memcpy(seen[got++], j.id, sizeof(j.id));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(got, N);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(transition_map),
		cmocka_unit_test_setup_teardown(queue_order_and_records, setup, teardown),
		cmocka_unit_test_setup_teardown(batch_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(cancel_semantics, setup, teardown),
		cmocka_unit_test_setup_teardown(retention_expires, setup, teardown),
		cmocka_unit_test_setup_teardown(status_and_counter_persist, setup, teardown),
		cmocka_unit_test_setup_teardown(images_index, setup, teardown),
		cmocka_unit_test_setup_teardown(latest_is_the_fits, setup, teardown),
		cmocka_unit_test_setup_teardown(watch_wakes_on_enqueue, setup, teardown),
		cmocka_unit_test_setup_teardown(two_processes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Operation context: deadlines, interrupts, shutdown, and the waits and
 * HTTP requests that honour them. */
#include "unit.h"
#include <errno.h>
#include <pthread.h>
#include "core/astro.h"
#include "services/http.h"
#include "services/limiter.h"
#include "core/op.h"

static int flag;
static int interrupted(void) { return __atomic_load_n(&flag, __ATOMIC_ACQUIRE); }

static void deadline_is_the_earliest(void **s)
{
	int64_t now = astro_mono_ms();

	(void)s;
	assert_int_equal(astro_op_deadline(0), 0);
	assert_int_equal(astro_op_deadline(now + 5000), now + 5000);
	astro_op_begin(1000, NULL);
	assert_true(astro_op_deadline(0) <= astro_mono_ms() + 1000);
	assert_true(astro_op_deadline(now + 5000) <= astro_mono_ms() + 1000);
	assert_int_equal(astro_op_deadline(now + 10), now + 10);
	assert_int_equal(astro_op_check(), 0);
	astro_op_end();
	assert_int_equal(astro_op_deadline(now + 5000), now + 5000);
}

static void check_reports_interrupt_then_deadline(void **s)
{
	(void)s;
	flag = 0;
	astro_op_begin(50, interrupted);
	assert_int_equal(astro_op_check(), 0);
	flag = 1;
	assert_int_equal(astro_op_check(), -EINTR);
	flag = 0;
	astro_sleep_ms(60);
	assert_int_equal(astro_op_check(), -ETIMEDOUT);
	astro_op_end();
	/* Without a context nothing is ever interrupted or late. */
	flag = 1;
	assert_int_equal(astro_op_check(), 0);
	flag = 0;
}

static void sleep_ends_at_the_deadline(void **s)
{
	int64_t t0;

	(void)s;
	astro_op_begin(200, NULL);
	t0 = astro_mono_ms();
	assert_int_equal(astro_op_sleep(5000), -ETIMEDOUT);
	assert_true(astro_mono_ms() - t0 < 200 + 2 * ASTRO_OP_SLICE_MS);
	astro_op_end();
	assert_int_equal(astro_op_sleep(30), 0);
}

struct waiter {
	pthread_mutex_t m;
	pthread_cond_t cv;
	int rc;
	int64_t took;
};

static void *wait_forever(void *arg)
{
	struct waiter *w = arg;
	int64_t t0 = astro_mono_ms();
	int rc = 0;

	astro_op_begin(60000, interrupted);
	pthread_mutex_lock(&w->m);
	while (!rc)	/* nobody ever signals cv */
		rc = astro_op_cond_wait(&w->cv, &w->m, 0);
	pthread_mutex_unlock(&w->m);
	astro_op_end();
	w->rc = rc;
	w->took = astro_mono_ms() - t0;
	return NULL;
}

static void an_interrupt_ends_a_condition_wait_within_a_slice(void **s)
{
	struct waiter w = { .m = PTHREAD_MUTEX_INITIALIZER };
	pthread_t th;

	(void)s;
	flag = 0;
	assert_int_equal(astro_op_cond_init(&w.cv), 0);
	assert_int_equal(pthread_create(&th, NULL, wait_forever, &w), 0);
	astro_sleep_ms(300);
	flag = 1;
	pthread_join(th, NULL);
	flag = 0;
	assert_int_equal(w.rc, -EINTR);
	assert_true(w.took < 300 + 3 * ASTRO_OP_SLICE_MS);
	pthread_cond_destroy(&w.cv);
}

static void *lock_held(void *arg)
{
	pthread_mutex_t *m = arg;
	int rc;

	astro_op_begin(300, NULL);
	rc = astro_op_lock(m);
	astro_op_end();
	return (void *)(intptr_t)rc;
}

static void a_held_mutex_is_waited_for_only_until_the_deadline(void **s)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_t th;
	void *res;

	(void)s;
	pthread_mutex_lock(&m);
	assert_int_equal(pthread_create(&th, NULL, lock_held, &m), 0);
	pthread_join(th, &res);
	assert_int_equal((int)(intptr_t)res, -ETIMEDOUT);
	pthread_mutex_unlock(&m);
	astro_op_begin(300, NULL);
	assert_int_equal(astro_op_lock(&m), 0);
	pthread_mutex_unlock(&m);
	astro_op_end();
}

static void the_limiter_waits_no_longer_than_the_operation(void **s)
{
	struct astro_limiter *l;
	struct astro_rate r = { .n = 1, .w = { { 1, 2 } } };
	int64_t t0;

	(void)s;
	assert_int_equal(astro_limiter_open(&l, NULL, "op", &r), 0);
	assert_int_equal(astro_limiter_acquire(l, astro_mono_ms() + 10000), 0);
	/* The next slot is 2 s away: the caller would wait for it, its
	 * operation (300 ms left) may not. */
	astro_op_begin(300, NULL);
	t0 = astro_mono_ms();
	assert_int_equal(astro_limiter_acquire(l, astro_mono_ms() + 10000), -ETIMEDOUT);
	assert_true(astro_mono_ms() - t0 < 300);
	astro_op_end();
	/* And an interrupt ends the wait for a slot. */
	flag = 1;
	astro_op_begin(10000, interrupted);
	assert_int_equal(astro_limiter_acquire(l, astro_mono_ms() + 10000), -EINTR);
	astro_op_end();
	flag = 0;
	astro_limiter_close(l);
}

static void an_expired_operation_sends_no_request(void **s)
{
	struct astro_http_req req = {
		.method = "GET", .url = "http://127.0.0.1:9/", .timeout_ms = 10000,
		.idempotent = 1,
	};
	struct astro_http_resp resp;

	(void)s;
	astro_op_begin(1, NULL);
	astro_sleep_ms(5);
	assert_int_equal(astro_http_request(&req, &resp), -ETIMEDOUT);
	astro_http_resp_free(&resp);
	astro_op_end();
	flag = 1;
	astro_op_begin(10000, interrupted);
	assert_int_equal(astro_http_request(&req, &resp), -EINTR);
	astro_http_resp_free(&resp);
	astro_op_end();
	flag = 0;
}

static void shutdown_ends_operations_and_graces_the_rest(void **s)
{
	int64_t now = astro_mono_ms();

	(void)s;
	assert_false(astro_op_stopping());
	astro_op_shutdown();
	assert_true(astro_op_stopping());
	/* An operation in flight gives up at once... */
	astro_op_begin(60000, NULL);
	assert_int_equal(astro_op_check(), -EINTR);
	astro_op_end();
	/* ...a context-less wait (a logout) gets the grace, then stops. */
	assert_int_equal(astro_op_check(), 0);
	assert_true(astro_op_deadline(now + 60000) <= astro_mono_ms() + ASTRO_OP_SHUTDOWN_GRACE_MS);
	assert_int_equal(astro_op_sleep(60000), -EINTR);
	assert_true(astro_mono_ms() - now < ASTRO_OP_SHUTDOWN_GRACE_MS + 3 * ASTRO_OP_SLICE_MS);
	astro_op_reset_shutdown();
	assert_int_equal(astro_op_check(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(deadline_is_the_earliest),
		cmocka_unit_test(check_reports_interrupt_then_deadline),
		cmocka_unit_test(sleep_ends_at_the_deadline),
		cmocka_unit_test(an_interrupt_ends_a_condition_wait_within_a_slice),
		cmocka_unit_test(a_held_mutex_is_waited_for_only_until_the_deadline),
		cmocka_unit_test(the_limiter_waits_no_longer_than_the_operation),
		cmocka_unit_test(an_expired_operation_sends_no_request),
		cmocka_unit_test(shutdown_ends_operations_and_graces_the_rest),
	};

	astro_http_global_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}

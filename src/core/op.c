/* op.c — see op.h. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include "core/astro.h"
#include "core/op.h"

struct op {
	int active;
	int64_t deadline;		/* 0 = none */
	int (*interrupted)(void);
	pthread_t thread;
	struct op *prev, *next;		/* the threads in an operation */
};

static _Thread_local struct op cur;
static pthread_mutex_t ops_lock = PTHREAD_MUTEX_INITIALIZER;
static struct op *ops;
/* Written from a signal handler: lock-free atomics only. */
static int stopping;
static int64_t stop_at;

void astro_op_begin(int64_t timeout_ms, int (*interrupted)(void))
{
	cur.deadline = timeout_ms > 0 ? astro_mono_ms() + timeout_ms : 0;
	cur.interrupted = interrupted;
	if (cur.active)
		return;
	cur.thread = pthread_self();
	pthread_mutex_lock(&ops_lock);
	cur.prev = NULL;
	cur.next = ops;
	if (ops)
		ops->prev = &cur;
	ops = &cur;
	cur.active = 1;
	pthread_mutex_unlock(&ops_lock);
}

void astro_op_end(void)
{
	if (!cur.active)
		return;
	pthread_mutex_lock(&ops_lock);
	if (cur.prev)
		cur.prev->next = cur.next;
	else
		ops = cur.next;
	if (cur.next)
		cur.next->prev = cur.prev;
	pthread_mutex_unlock(&ops_lock);
	cur = (struct op){ 0 };
}

void astro_op_kick_all(int sig)
{
	pthread_mutex_lock(&ops_lock);
	for (struct op *o = ops; o; o = o->next)
		pthread_kill(o->thread, sig);
	pthread_mutex_unlock(&ops_lock);
}

static int64_t earliest(int64_t a, int64_t b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

static int64_t grace_end(void)
{
	if (!__atomic_load_n(&stopping, __ATOMIC_ACQUIRE))
		return 0;
	return __atomic_load_n(&stop_at, __ATOMIC_RELAXED) + ASTRO_OP_SHUTDOWN_GRACE_MS;
}

int64_t astro_op_deadline(int64_t deadline_ms)
{
	int64_t d = earliest(deadline_ms, cur.active ? cur.deadline : 0);

	/* An operation in flight at shutdown ends at once (astro_op_check);
	 * the grace is for the daemon's own goodbyes. */
	return earliest(d, grace_end());
}

int astro_op_check(void)
{
	int64_t g = grace_end();

	if (cur.active) {
		if (g || (cur.interrupted && cur.interrupted()))
			return -EINTR;
		if (cur.deadline && astro_mono_ms() >= cur.deadline)
			return -ETIMEDOUT;
		return 0;
	}
	return g && astro_mono_ms() >= g ? -EINTR : 0;
}

static int64_t slice_until(int64_t deadline)
{
	int64_t now = astro_mono_ms(), end = now + ASTRO_OP_SLICE_MS;

	return deadline && deadline < end ? deadline : end;
}

int astro_op_cond_wait(pthread_cond_t *cv, pthread_mutex_t *m, int64_t deadline_ms)
{
	int64_t dl = astro_op_deadline(deadline_ms), until;
	struct timespec ts;
	int rc = astro_op_check();

	if (rc)
		return rc;
	if (dl && astro_mono_ms() >= dl)
		return -ETIMEDOUT;
	until = slice_until(dl);
	ts.tv_sec = until / 1000;
	ts.tv_nsec = (until % 1000) * 1000000;
	pthread_cond_timedwait(cv, m, &ts);
	rc = astro_op_check();
	if (rc)
		return rc;
	return dl && astro_mono_ms() >= dl ? -ETIMEDOUT : 0;
}

int astro_op_lock(pthread_mutex_t *m)
{
	for (;;) {
		int64_t until = slice_until(0);
		struct timespec ts = { .tv_sec = until / 1000, .tv_nsec = (until % 1000) * 1000000 };
		int rc = astro_op_check();

		if (rc)
			return rc;
		rc = pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &ts);
		if (rc == 0)
			return 0;
		if (rc != ETIMEDOUT)
			return -rc;
	}
}

int astro_op_sleep(int64_t ms)
{
	int64_t end = astro_mono_ms() + ms;

	for (;;) {
		int rc = astro_op_check();
		int64_t left = end - astro_mono_ms();

		if (rc)
			return rc;
		if (left <= 0)
			return 0;
		/* A signal (the interrupt's SIGUSR1) cuts a slice short: fine. */
		astro_sleep_ms(left < ASTRO_OP_SLICE_MS ? left : ASTRO_OP_SLICE_MS);
	}
}

int astro_op_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t ca;
	int rc;

	if ((rc = pthread_condattr_init(&ca)))
		return -rc;
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (!rc)
		rc = pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
	return -rc;
}

void astro_op_shutdown(void)
{
	/* clock_gettime is async-signal-safe; the first shutdown's time holds. */
	if (__atomic_load_n(&stopping, __ATOMIC_ACQUIRE))
		return;
	__atomic_store_n(&stop_at, astro_mono_ms(), __ATOMIC_RELAXED);
	__atomic_store_n(&stopping, 1, __ATOMIC_RELEASE);
}

int astro_op_stopping(void)
{
	return __atomic_load_n(&stopping, __ATOMIC_ACQUIRE);
}

void astro_op_reset_shutdown(void)
{
	__atomic_store_n(&stopping, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&stop_at, 0, __ATOMIC_RELAXED);
}

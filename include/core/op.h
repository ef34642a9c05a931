/*
 * op.h — the context of one FUSE operation: its deadline, its interrupt,
 * and the process's shutdown.
 *
 * fs.c opens a context at the top of every operation (deadline = now +
 * `timeout`) and closes it at the end.  Everything below that may wait —
 * HTTP transfers and their retries, the request limiter, a wait for another
 * thread's fetch — clamps its own deadline with astro_op_deadline() and
 * wakes at least every ASTRO_OP_SLICE_MS to ask astro_op_check().  So one
 * operation is bounded by `timeout` however many requests it makes,
 * Ctrl-C of the reader ends it within a fraction of a second (its upstream
 * request is abandoned, the worker freed), and SIGTERM ends every wait of
 * the process, providers needing no deadline plumbing of their own.
 *
 * A thread without a context (start-up, shutdown, background refreshers,
 * unit tests) has no operation deadline and no interrupt; once the process
 * is shutting down its waits get ASTRO_OP_SHUTDOWN_GRACE_MS more (enough
 * for a polite logout to a healthy upstream, never enough to hang exit).
 */
#ifndef ASTRO_OP_H
#define ASTRO_OP_H

#include <pthread.h>
#include <stdint.h>

#define ASTRO_OP_SLICE_MS 100		/* longest sleep between checks */
#define ASTRO_OP_SHUTDOWN_GRACE_MS 800	/* context-less waits after shutdown */

/*
 * Open this thread's context: the operation ends by now + timeout_ms
 * (0 = no deadline); interrupted() (may be NULL) says whether the caller
 * gave up (fuse_interrupted()).  Contexts do not nest: begin replaces.
 */
void astro_op_begin(int64_t timeout_ms, int (*interrupted)(void));
void astro_op_end(void);

/*
 * The earliest of deadline_ms (astro_mono_ms() clock; 0 = none), this
 * thread's operation deadline and, once shutting down, the shutdown grace.
 * 0 when there is none at all.
 */
int64_t astro_op_deadline(int64_t deadline_ms);

/*
 * 0 while the thread may go on waiting; -EINTR when its operation was
 * interrupted or the process is shutting down (for a thread without a
 * context: once the grace has passed); -ETIMEDOUT when the operation's
 * deadline has passed.
 */
int astro_op_check(void);

/*
 * Wait on cv (which must use CLOCK_MONOTONIC) until signalled, deadline_ms
 * (0 = none; clamped as astro_op_deadline) or astro_op_check() says stop.
 * The mutex is held on entry and on return.  Returns 0 after a wake-up
 * (possibly spurious or a check slice: re-test the predicate and call
 * again), -ETIMEDOUT or -EINTR.
 */
int astro_op_cond_wait(pthread_cond_t *cv, pthread_mutex_t *m, int64_t deadline_ms);

/*
 * Lock a mutex that another thread may hold across upstream requests,
 * giving up as astro_op_check() says: 0 (locked), -EINTR or -ETIMEDOUT.
 */
int astro_op_lock(pthread_mutex_t *m);

/* Sleep ms, in slices; 0, or -EINTR / -ETIMEDOUT as astro_op_check(). */
int astro_op_sleep(int64_t ms);

/* Initialise a condition variable on CLOCK_MONOTONIC, as cond_wait needs. */
int astro_op_cond_init(pthread_cond_t *cv);

/*
 * The process is shutting down (SIGTERM, SIGINT, SIGHUP): every operation
 * in flight ends with EINTR, context-less waits get the grace.  Only
 * async-signal-safe calls: a signal handler may call it.  One-way.
 */
void astro_op_shutdown(void);
int astro_op_stopping(void);

/*
 * Send sig to every thread inside an operation, so a blocked poll or sleep
 * returns and checks at once instead of at its next slice.  sig must have
 * a handler (the FUSE interrupt signal's does nothing).  Not from a signal
 * handler.
 */
void astro_op_kick_all(int sig);

/* Tests only: forget a shutdown. */
void astro_op_reset_shutdown(void);

#endif

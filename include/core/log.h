/*
 * log.h — one logging path for the daemon and its tools.
 *
 * The daemon logs to syslog (identifier "astrofs", facility LOG_DAEMON);
 * with -f, or in tools and tests, to stderr.  Levels are syslog's.  Never
 * pass a secret (password, secret key, signed URL, cookie) to astro_log:
 * messages are not scrubbed.
 *
 * Repeats are rate-limited so a flood (an upstream refusing every request
 * under load) cannot fill the disk or bury other messages: per call site
 * (format string) and level, the first ASTRO_LOG_BURST lines of each
 * ASTRO_LOG_WINDOW_MS window are written, the rest are counted and, once
 * the window has ended, summarised in one line "last message repeated N
 * times (suppressed): <the last one>" (written at the next message or
 * astro_log_flush(); there is no timer thread).  Thread-safe.
 */
#ifndef ASTRO_LOG_H
#define ASTRO_LOG_H

#include <syslog.h>
#include "core/astro.h"

enum astro_log_dest { ASTRO_LOG_STDERR = 0, ASTRO_LOG_SYSLOG = 1 };

/* Set destination and threshold (messages above `level` are dropped). */
void astro_log_init(const char *ident, enum astro_log_dest dest, int level);
void astro_log_set_level(int level);
int astro_log_get_level(void);
/* Parse "err|warning|notice|info|debug" (or 3..7); -EINVAL if unknown. */
int astro_log_parse_level(const char *s);

#define ASTRO_LOG_BURST 10u
#define ASTRO_LOG_WINDOW_MS 10000u

void astro_log(int level, const char *fmt, ...) ASTRO_PRINTF(2, 3);

/* Write the summaries of every suppressed repeat now (at exit). */
void astro_log_flush(void);

#ifdef ASTRO_UNITTEST
/* Tests: burst lines per window_ms per call site; burst 0 turns it off. */
void astro_log_set_ratelimit(unsigned burst, unsigned window_ms);

/*
 * Tests: route every message (after level filtering) to fn instead.  Pass
 * NULL to restore the configured destination.
 */
typedef void (*astro_log_sink_fn)(int level, const char *msg, void *arg);
void astro_log_set_sink(astro_log_sink_fn fn, void *arg);
#endif

#define astro_err(...) astro_log(LOG_ERR, __VA_ARGS__)
#define astro_warn(...) astro_log(LOG_WARNING, __VA_ARGS__)
#define astro_notice(...) astro_log(LOG_NOTICE, __VA_ARGS__)
#define astro_info(...) astro_log(LOG_INFO, __VA_ARGS__)
#define astro_debug(...) astro_log(LOG_DEBUG, __VA_ARGS__)

#endif

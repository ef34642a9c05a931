/* log.c — see log.h. */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "core/log.h"

static enum astro_log_dest log_dest = ASTRO_LOG_STDERR;
static int log_level = LOG_NOTICE;
static char log_ident[32] = "astrofs";
#ifdef ASTRO_UNITTEST
static astro_log_sink_fn log_sink;	/* astro_log_set_sink */
static void *log_sink_arg;
#endif
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

/*
 * Repeat suppression, keyed by (format string, level): a call site is its
 * format literal, so "GET %s: %s" repeated for a thousand days is one key.
 * A small table, collisions evict (after summarising): memory stays fixed.
 */
#define RL_SLOTS 128
struct rl_slot {
	const char *fmt;		/* NULL: free */
	int level;
	int64_t window_start;		/* astro_mono_ms() */
	unsigned printed;		/* lines passed in this window */
	unsigned long suppressed;	/* lines dropped in this window */
	char last[256];			/* the last dropped line, for the summary */
};
static struct rl_slot rl_table[RL_SLOTS];
static unsigned rl_burst = ASTRO_LOG_BURST;
static int64_t rl_window_ms = ASTRO_LOG_WINDOW_MS;

void astro_log_init(const char *ident, enum astro_log_dest dest, int level)
{
	if (ident)
		astro_strlcpy(log_ident, ident, sizeof(log_ident));
	log_dest = dest;
	log_level = level;
	if (dest == ASTRO_LOG_SYSLOG)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void astro_log_set_level(int level)
{
	__atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

int astro_log_get_level(void)
{
	return __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

int astro_log_parse_level(const char *s)
{
	size_t i;

	if (s && s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
		return s[0] - '0';
	for (i = 0; s && i < ASTRO_ARRAY_SIZE(level_names); i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	if (s && strcasecmp(s, "warn") == 0)
		return LOG_WARNING;
	if (s && strcasecmp(s, "error") == 0)
		return LOG_ERR;
	return -EINVAL;
}

#ifdef ASTRO_UNITTEST
void astro_log_set_sink(astro_log_sink_fn fn, void *arg)
{
	pthread_mutex_lock(&log_lock);
	log_sink = fn;
	log_sink_arg = arg;
	pthread_mutex_unlock(&log_lock);
}

void astro_log_set_ratelimit(unsigned burst, unsigned window_ms)
{
	pthread_mutex_lock(&log_lock);
	rl_burst = burst;
	rl_window_ms = window_ms;
	memset(rl_table, 0, sizeof(rl_table));
	pthread_mutex_unlock(&log_lock);
}
#endif

/* Write one line to the destination; log_lock held. */
static void emit(int level, const char *msg)
{
	ASTRO_ASSERT_LOCKED(&log_lock);
#ifdef ASTRO_UNITTEST
	if (log_sink) {
		log_sink(level, msg, log_sink_arg);
		return;
	}
#endif
	if (log_dest == ASTRO_LOG_SYSLOG) {
		syslog(level, "%s", msg);
	} else {
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ %s[%s]: %s\n", stamp,
			ts.tv_nsec / 1000000, log_ident,
			level >= 0 && level < 8 ? level_names[level] : "?", msg);
	}
}

/* The summary of a slot's dropped lines, then the slot is free; lock held. */
static void rl_summarise(struct rl_slot *sl)
{
	char line[400];

	ASTRO_ASSERT_LOCKED(&log_lock);
	if (sl->fmt && sl->suppressed) {
		snprintf(line, sizeof(line), "last message repeated %lu times (suppressed): %s",
			 sl->suppressed, sl->last);
		emit(sl->level, line);
	}
	sl->fmt = NULL;
	sl->printed = 0;
	sl->suppressed = 0;
}

/*
 * Summarise every slot whose window has ended, so a flood that stops is
 * still reported (at the next message or flush, as there is no timer).
 */
static void rl_expire(int64_t now, int all)
{
	for (size_t i = 0; i < RL_SLOTS; i++)
		if (rl_table[i].fmt && (all || now - rl_table[i].window_start >= rl_window_ms))
			rl_summarise(&rl_table[i]);
}

/* Whether this line may be written; counts it otherwise.  Lock held. */
static int rl_admit(int level, const char *fmt, const char *msg)
{
	struct rl_slot *sl;
	int64_t now;

	ASTRO_ASSERT_LOCKED(&log_lock);
	if (rl_burst == 0)
		return 1;
	now = astro_mono_ms();
	rl_expire(now, 0);
	sl = &rl_table[(((uintptr_t)fmt >> 3) ^ (unsigned)level) % RL_SLOTS];
	if (sl->fmt != fmt || sl->level != level) {
		rl_summarise(sl);
		sl->fmt = fmt;
		sl->level = level;
		sl->window_start = now;
	}
	if (sl->printed < rl_burst) {
		sl->printed++;
		return 1;
	}
	sl->suppressed++;
	astro_strlcpy(sl->last, msg, sizeof(sl->last));
	return 0;
}

void astro_log_flush(void)
{
	pthread_mutex_lock(&log_lock);
	rl_expire(0, 1);
	pthread_mutex_unlock(&log_lock);
}

void astro_log(int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	size_t n;

	if (level > astro_log_get_level())
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One line per message: a stray newline would split a syslog record. */
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';

	pthread_mutex_lock(&log_lock);
	if (rl_admit(level, fmt, msg))
		emit(level, msg);
	pthread_mutex_unlock(&log_lock);
}

/* log.c — see log.h. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "core/log.h"

static enum astro_log_dest log_dest = ASTRO_LOG_STDERR;
static int log_level = LOG_NOTICE;
static char log_ident[32] = "astrofs";
static astro_log_sink_fn log_sink;
static void *log_sink_arg;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

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

void astro_log_set_sink(astro_log_sink_fn fn, void *arg)
{
	pthread_mutex_lock(&log_lock);
	log_sink = fn;
	log_sink_arg = arg;
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
	if (log_sink) {
		log_sink(level, msg, log_sink_arg);
	} else if (log_dest == ASTRO_LOG_SYSLOG) {
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
	pthread_mutex_unlock(&log_lock);
}

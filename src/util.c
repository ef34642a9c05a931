/* util.c — time, bounded strings, randomness (see astro.h). */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <openssl/rand.h>
#include "astro.h"

int64_t astro_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t astro_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int astro_sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return 0;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	/* A signal ends the sleep early so shutdown and Ctrl-C stay prompt. */
	if (nanosleep(&ts, NULL) != 0)
		return -errno;
	return 0;
}

int astro_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size == 0)
		return -ENAMETOOLONG;
	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return -ENAMETOOLONG;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

int astro_random(void *buf, size_t len)
{
	if (len > (size_t)INT32_MAX || RAND_bytes(buf, (int)len) != 1)
		return -EIO;
	return 0;
}

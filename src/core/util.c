/* util.c — time, bounded strings, randomness (see astro.h). */
#include <errno.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <openssl/rand.h>
#include "core/astro.h"
#include "core/log.h"

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

int astro_mkdir_p(const char *path, unsigned mode)
{
	char buf[4096];

	if (astro_strlcpy(buf, path, sizeof(buf)) < 0)
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, (mode_t)mode) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, (mode_t)mode) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int astro_random(void *buf, size_t len)
{
	if (len > (size_t)INT32_MAX || RAND_bytes(buf, (int)len) != 1)
		return -EIO;
	return 0;
}

/* Howard Hinnant's civil-date algorithms (public domain), in 64 bits. */
int64_t astro_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void astro_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

unsigned astro_days_in_month(int64_t y, unsigned m)
{
	static const unsigned dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m < 1 || m > 12)
		return 0;
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

int astro_membuf_read(const struct astro_membuf *m, char *buf, size_t size,
		      int64_t off)
{
	if (!m)
		return -EBADF;
	if (off < 0 || (uint64_t)off >= m->len)
		return 0;
	if (size > m->len - (size_t)off)
		size = m->len - (size_t)off;
	if (size > INT32_MAX)
		size = INT32_MAX;
	memcpy(buf, m->data + off, size);
	return (int)size;
}

void astro_membuf_free(struct astro_membuf *m)
{
	if (m) {
		free(m->data);
		free(m);
	}
}

int astro_err_vset(char *err, size_t errlen, int rc, const char *fmt, va_list ap)
{
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	return rc;
}

int astro_err_set(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rc = astro_err_vset(err, errlen, rc, fmt, ap);
	va_end(ap);
	return rc;
}

int astro_secure_read_fd(int fd, size_t st_size, char **out, size_t *outlen, size_t *outcap)
{
	size_t cap = st_size + 1, len = 0;
	char *buf = astro_secure_alloc(cap);

	if (!buf)
		return -ENOMEM;
	while (len + 1 < cap) {
		ssize_t r = read(fd, buf + len, cap - 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int rc = -errno;

			astro_secure_free(buf, cap);
			return rc;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	*outcap = cap;
	return 0;
}

void *astro_secure_alloc(size_t len)
{
	void *p;

	if (len == 0)
		len = 1;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (madvise(p, len, MADV_DONTDUMP) != 0) {
		/* not excludable from core dumps: refuse to hold secrets there */
		munmap(p, len);
		return NULL;
	}
	if (mlock(p, len) != 0) {
		static atomic_int told;

		if (!atomic_exchange(&told, 1))
			astro_notice("memory for secrets cannot be locked (%s; RLIMIT_MEMLOCK): it "
				     "may reach swap, it is still kept out of core dumps",
				     strerror(errno));
	}
	return p;
}

void astro_secure_free(void *p, size_t len)
{
	if (!p)
		return;
	if (len == 0)
		len = 1;
	explicit_bzero(p, len);
	(void)munlock(p, len);
	munmap(p, len);
}

char *astro_secure_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = astro_secure_alloc(n);

	if (p)
		memcpy(p, s, n);
	return p;
}

void astro_secure_strfree(char *s)
{
	if (s)
		astro_secure_free(s, strlen(s) + 1);
}

char *astro_buf_grow(struct astro_buf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 256;
	char *p;

	if (b->err)
		return NULL;
	if (n > SIZE_MAX / 2 - b->len) {
		b->err = -ENOMEM;
		return NULL;
	}
	while (cap < b->len + n + 1)
		cap *= 2;
	if (cap != b->cap) {
		p = realloc(b->p, cap);
		if (!p) {
			b->err = -ENOMEM;
			return NULL;
		}
		b->p = p;
		b->cap = cap;
	}
	return b->p + b->len;
}

void astro_buf_printf(struct astro_buf *b, const char *fmt, ...)
{
	size_t room = b->cap > b->len ? b->cap - b->len : 0;
	va_list ap;
	char *d;
	int n;

	if (b->err)
		return;
	/* usually it fits: format in place, once */
	va_start(ap, fmt);
	n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->err = -EINVAL;
		if (room)
			b->p[b->len] = '\0';
		return;
	}
	if ((size_t)n < room) {
		b->len += (size_t)n;
		return;
	}
	d = astro_buf_room(b, (size_t)n);
	if (!d) {
		if (room)
			b->p[b->len] = '\0';
		return;
	}
	va_start(ap, fmt);
	vsnprintf(d, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

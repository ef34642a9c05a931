/*
 * astro.h — small things every module uses.
 *
 * Conventions across astrofs:
 *  - functions return 0 (or a count) on success and -errno on failure;
 *  - public names carry the module prefix (astro_<module>_...), all else is
 *    static;
 *  - cleanup is one `out:` label per function;
 *  - comments say why, not what.
 */
#ifndef ASTRO_H
#define ASTRO_H

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef ASTRO_VERSION
#define ASTRO_VERSION "0.0.0"
#endif

#define ASTRO_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Invariants are assert()s checked on entry, SQLite style; no build defines
 * NDEBUG, so they stay on in the product and must stay cheap.  A helper
 * documented as "lock held" says so with ASTRO_ASSERT_LOCKED(&lock): a
 * default mutex cannot name its owner, so this checks that the mutex is
 * held at all (one atomic), which catches the forgotten lock.
 */
#define ASTRO_ASSERT_LOCKED(m) assert(pthread_mutex_trylock(m) == EBUSY)

/*
 * Test hooks stay out of the product (curl's UNITTEST).  Fault injection,
 * clock shifts and the like are declared and defined only under
 * ASTRO_UNITTEST, which the unit, ASan and fuzz builds define (Makefile).
 * A function a module uses itself that tests also call directly is marked
 * ASTRO_TESTABLE: file-local in the product, exported (declared in its
 * header under #ifdef ASTRO_UNITTEST) in test builds.
 */
#ifdef ASTRO_UNITTEST
#define ASTRO_TESTABLE
#else
#define ASTRO_TESTABLE static
#endif

#if defined(__GNUC__)
#define ASTRO_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define ASTRO_UNUSED __attribute__((unused))
#else
#define ASTRO_PRINTF(f, a)
#define ASTRO_UNUSED
#endif

/* Wall-clock time in milliseconds since the Unix epoch. */
int64_t astro_now_ms(void);
/* Monotonic time in milliseconds; for deadlines and intervals. */
int64_t astro_mono_ms(void);
/* Sleep up to ms milliseconds; returns early (with -EINTR) on a signal. */
int astro_sleep_ms(int64_t ms);

/*
 * Bounded string copy that always terminates; returns -ENAMETOOLONG when src
 * did not fit (dst then holds a truncated copy).
 */
int astro_strlcpy(char *dst, const char *src, size_t size);

/*
 * mkdir -p with one mode for every directory it creates (existing ones are
 * left as they are).  The stores that keep data other users must not read
 * (archive, obs store) pass 0750.  0 or -errno.
 */
int astro_mkdir_p(const char *path, unsigned mode);

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t astro_days_from_civil(int64_t y, unsigned m, unsigned d);
void astro_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);
/* Days in month m (1-12) of year y; 0 for a bad month. */
unsigned astro_days_in_month(int64_t y, unsigned m);

/*
 * A file rendered into memory at open time and served by offset: the handle
 * of most read-only trees.  read returns the bytes copied (0 past the end);
 * free releases data and the struct.
 */
struct astro_membuf {
	char *data;
	size_t len;
};
int astro_membuf_read(const struct astro_membuf *m, char *buf, size_t size,
		      int64_t off);
void astro_membuf_free(struct astro_membuf *m);

/*
 * A growable byte string for builders: the error sticks (after a failed
 * allocation every append does nothing and err is -ENOMEM), so a builder
 * checks once at the end.  The bytes are kept NUL-terminated (not counted
 * in len), so text built in it is a C string.  Start zeroed; free p.
 */
struct astro_buf {
	char *p;
	size_t len, cap;
	int err;
};

/* The slow path of astro_buf_room: grow to hold n more bytes and a NUL. */
char *astro_buf_grow(struct astro_buf *b, size_t n);

/* Room for n more bytes at p + len (len unchanged), or NULL (err set). */
static inline char *astro_buf_room(struct astro_buf *b, size_t n)
{
	if (b->err)
		return NULL;
	if (b->len + n + 1 <= b->cap)
		return b->p + b->len;
	return astro_buf_grow(b, n);
}

/* Append n bytes. */
static inline void astro_buf_put(struct astro_buf *b, const void *s, size_t n)
{
	char *d = astro_buf_room(b, n);

	if (d) {
		if (n)
			memcpy(d, s, n);
		b->len += n;
		b->p[b->len] = '\0';
	}
}

static inline void astro_buf_str(struct astro_buf *b, const char *s)
{
	astro_buf_put(b, s, strlen(s));
}

/* Append formatted text (err -EINVAL for a format error). */
void astro_buf_printf(struct astro_buf *b, const char *fmt, ...) ASTRO_PRINTF(2, 3);

/*
 * The one way to report an error in words: a function that can fail for a
 * reason worth telling takes `char *err, size_t errlen` (a caller's buffer;
 * NULL or 0 when it does not want the words) and, on failure, formats one
 * line into it with this and returns the -errno:
 *
 *	return astro_err_set(err, errlen, -EINVAL, "%s: bad header", path);
 *
 * The message is cut to errlen and always terminated; returns rc.
 */
int astro_err_set(char *err, size_t errlen, int rc, const char *fmt, ...) ASTRO_PRINTF(4, 5);
/* The same for a module's own varargs wrapper that adds context (a file
 * and line, an HDU number) to every message it reports. */
int astro_err_vset(char *err, size_t errlen, int rc, const char *fmt, va_list ap)
	ASTRO_PRINTF(4, 0);

/* Cryptographically random bytes (OpenSSL); 0 or -EIO. */
int astro_random(void *buf, size_t len);

/*
 * Memory for secrets (a catalogue that must stay in memory only): its own
 * pages, excluded from core dumps (refused, NULL, when that is not
 * possible), locked against swap where RLIMIT_MEMLOCK permits (a notice
 * once when not), wiped on free.  Free with the length allocated.
 */
void *astro_secure_alloc(size_t len);
void astro_secure_free(void *p, size_t len);
/*
 * Read the rest of `fd` (a regular file of st_size bytes) into such memory,
 * NUL-terminated: 0 with *buf, *len and *cap (free with
 * astro_secure_free(*buf, *cap)), or -ENOMEM / -errno from read.
 */
int astro_secure_read_fd(int fd, size_t st_size, char **buf, size_t *len, size_t *cap);
/* A string copy in such memory (a password); NULL on failure.  Free it with
 * astro_secure_strfree (NULL is a no-op), never with free(). */
char *astro_secure_strdup(const char *s);
void astro_secure_strfree(char *s);

#endif

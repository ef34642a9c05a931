/*
 * ulid.c — monotonic ULIDs (see ulid.h).
 *
 * Hand-written on purpose: Debian packages ULID libraries for Go only, none
 * for C, and the format is 48 bits of time and 80 random bits in base 32.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include "core/astro.h"
#include "ulid.h"

static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static pthread_mutex_t ulid_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_ms;
static uint8_t last_rnd[10];

static int b32_value(char c)
{
	if (c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	const char *p = c ? strchr(b32, c) : NULL;

	return p ? (int)(p - b32) : -1;
}

ASTRO_TESTABLE void astro_ulid_encode(uint64_t ms, const uint8_t rnd[10],
		       char out[ASTRO_ULID_LEN + 1])
{
	uint8_t bin[16];
	int i;

	for (i = 0; i < 6; i++)
		bin[i] = (uint8_t)(ms >> (40 - 8 * i));
	memcpy(bin + 6, rnd, 10);
	/* 128 bits as 26 groups of 5, most significant first; the first
	 * group has only 3 bits, so read the bits with 2 leading zeros. */
	for (i = 0; i < ASTRO_ULID_LEN; i++) {
		int bit = i * 5 - 2, v = 0, k;

		for (k = 0; k < 5; k++, bit++) {
			v <<= 1;
			if (bit >= 0 && (bin[bit / 8] >> (7 - bit % 8)) & 1)
				v |= 1;
		}
		out[i] = b32[v];
	}
	out[ASTRO_ULID_LEN] = '\0';
}

bool astro_ulid_valid(const char *s, size_t len)
{
	size_t i;

	if (len != ASTRO_ULID_LEN)
		return false;
	for (i = 0; i < len; i++)
		if (b32_value(s[i]) < 0)
			return false;
	return b32_value(s[0]) <= 7;
}

uint64_t astro_ulid_time_ms(const char *s)
{
	uint64_t ms = 0;
	int i;

	/* The first 10 characters carry 50 bits, of which the top 2 are 0. */
	for (i = 0; i < 10; i++) {
		int v = b32_value(s[i]);

		assert(v >= 0);
		ms = (ms << 5) | (uint64_t)v;
	}
	return ms;
}

int astro_ulid_new(char out[ASTRO_ULID_LEN + 1])
{
	uint64_t now = (uint64_t)astro_now_ms();
	int rc = 0, i;

	pthread_mutex_lock(&ulid_lock);
	if (now <= last_ms) {
		/* Same millisecond (or the clock stepped back): keep the time
		 * and count up, so ids stay strictly increasing. */
		for (i = 9; i >= 0 && ++last_rnd[i] == 0; i--)
			;
		if (i < 0) {
			rc = -EOVERFLOW;
			goto out;
		}
	} else {
		rc = astro_random(last_rnd, sizeof(last_rnd));
		if (rc < 0)
			goto out;
		/* Leave headroom so increments within a millisecond can
		 * not overflow in practice. */
		last_rnd[0] &= 0x7f;
		last_ms = now;
	}
	astro_ulid_encode(last_ms, last_rnd, out);
out:
	pthread_mutex_unlock(&ulid_lock);
	return rc;
}

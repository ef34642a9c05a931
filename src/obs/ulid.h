/*
 * ulid.h — ULIDs (https://github.com/ulid/spec) as job ids.
 *
 * 48 bits of Unix time in milliseconds followed by 80 random bits, written as
 * 26 Crockford base32 characters (0-9 A-Z without I L O U), so that the
 * lexical order of ids is their issue order.  Within one millisecond (or when
 * the clock steps back) the generator increments the previous random part
 * instead of drawing a new one, so ids from one process are strictly
 * increasing.  Randomness comes from astro_random().
 *
 * Thread-safety: astro_ulid_new() serialises on an internal mutex; the other
 * functions are pure.
 */
#ifndef ASTRO_ULID_H
#define ASTRO_ULID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ASTRO_ULID_LEN 26

/* A new id, NUL-terminated in out.  0, -EIO (no randomness) or -EOVERFLOW. */
int astro_ulid_new(char out[ASTRO_ULID_LEN + 1]);

#ifdef ASTRO_UNITTEST
/* Tests: encode a given time and random part. */
void astro_ulid_encode(uint64_t ms, const uint8_t rnd[10],
		       char out[ASTRO_ULID_LEN + 1]);
#endif

/*
 * True if s[0..len) is a ULID: 26 base32 characters, first at most '7' (the
 * time fits 48 bits).  Lower case is accepted, as the spec allows.
 */
bool astro_ulid_valid(const char *s, size_t len);

/* The time part of a valid ULID, in ms since the epoch. */
uint64_t astro_ulid_time_ms(const char *s);

#endif

/*
 * tlm_fmt.h — fast number text for telemetry CSV.
 *
 * Doubles print in the shortest decimal that reads back (strtod) as the same
 * double.  The common case (|x| in [1e-5, 1e15)) needs no snprintf: for
 * k = 0, 1, 2, … the candidates n = round(x·10^k) ± 1 are checked by
 * n / 10^k == x — exact, since n < 2^53 and 10^k <= 10^22 are exact doubles and
 * IEEE division rounds correctly, so the decimal n·10^-k is one whose nearest
 * double is x; the first k that works has the fewest digits.  Other values
 * fall back to the shortest %.*g (1..17 digits) that round-trips.
 * Integers print exactly; -0.0 prints "-0".
 *
 * Thread-safety: any thread.  astro_tlm_fmt_row keeps a per-thread cache of
 * the last UTC day and whole second (rows come time-ordered) that never
 * changes its output; the rest are pure functions.
 */
#ifndef ASTRO_TLM_FMT_H
#define ASTRO_TLM_FMT_H

#include <stddef.h>
#include <stdint.h>

#define ASTRO_TLM_NUM_BUF 40

/* Write into buf (>= ASTRO_TLM_NUM_BUF bytes, NUL-terminated); return length. */
size_t astro_tlm_fmt_double(double x, char *buf);
/* The same text, computed from scratch (no per-thread memory): for tests. */
size_t astro_tlm_fmt_double_scan(double x, char *buf);
size_t astro_tlm_fmt_int(int64_t v, char *buf);

/*
 * A CSV field for text (RFC 4180: quoted when it holds , " CR or LF; quotes
 * doubled).  Writes at most cap bytes; returns the length it needs.
 */
size_t astro_tlm_fmt_csv_text(const char *s, size_t len, char *out, size_t cap);

/*
 * One full-resolution CSV row "date,secs,value\n" (the /telemetry format):
 * writes at most cap bytes, returns the length it needs.  The archive's
 * per-day byte counts and the provider's reads both use this, so sizes and
 * bytes agree by construction.
 */
struct astro_tlm_val;
/* A buf of at least this many bytes takes a number-valued row with no
 * intermediate copy (the longest date, secs and number, two commas, '\n'). */
#define ASTRO_TLM_ROW_ROOM (2 * 40 + ASTRO_TLM_NUM_BUF + 5)
size_t astro_tlm_fmt_row(int64_t t, const struct astro_tlm_val *v, char *buf,
			 size_t cap);

#endif

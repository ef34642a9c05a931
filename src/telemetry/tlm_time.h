/*
 * tlm_time.h — telemetry time: CXC seconds, UTC with leap seconds, and the
 * text forms telemetry files use.
 *
 * One internal time type, `int64_t` **TT microseconds since 1998-01-01T00:00:00
 * TT** (the Chandra "CXC seconds" epoch, times 10^6).  Integers make archive
 * keys exact and ordering trivial; one microsecond covers every input format
 * we read (JWST EDB gives milliseconds, the CSV date form milliseconds, ISO up
 * to microseconds; more fractional digits are rounded to the nearest
 * microsecond).  Round trips are therefore exact at 1 µs:
 *   - unix ms  -> t -> unix ms                  exact (any ms, leap-free UTC)
 *   - date/ISO text with <= 6 fractional digits -> t -> text   exact
 *   - t -> CXC secs text (fixed point, trailing zeros trimmed) -> t   exact
 *   - CXC secs as double -> t rounds to the nearest µs (a double carries
 *     ~0.1 µs at 10^9 s, so this is the best the double form allows).
 *
 * UTC <-> TT uses the one leap-second table (services/timescale.h: ERFA's
 * built-in table, or the system's IERS leap-seconds.list when that is newer,
 * read at start).  TT = TAI + 32.184 s.  UTC before 1972-01-01 (no integral
 * leap seconds) is refused with -ERANGE, as are years after 9999.  Times
 * after the table's last entry use its offset.
 *
 * Text forms:
 *   date   YYYY:DDD[:hh[:mm[:ss[.f…]]]]  UTC; `YYYY:DDD` is midnight (chandra_time >= 4.0)
 *   iso    YYYY-MM-DD[Thh:mm[:ss[.f…]]][Z|+00:00]  UTC ('T' or one space)
 *   jwst   /Date(<unix ms>[+0000])/     (MAST EDB ObsTime)
 *   secs   CXC seconds as a decimal number
 * ss may be 60 only in the last minute of a day that ends in a leap second.
 * Printing: date with milliseconds (truncated toward the past, so the text
 * never names a later instant than t), ISO with 0..6 fractional digits.
 *
 * Thread-safety: everything here is reentrant (the table is read-only once
 * loaded; see timescale.h).
 */
#ifndef ASTRO_TLM_TIME_H
#define ASTRO_TLM_TIME_H

#include <stddef.h>
#include <stdint.h>

#define ASTRO_TLM_US 1000000LL

/* UTC broken down; sec is 60 inside a leap second. */
struct astro_tlm_utc {
	int year, month, mday, doy, hour, min, sec;
	int usec;
};

/* UTC fields (month/mday or doy: if doy > 0 it wins) -> t.  -EINVAL for
 * out-of-range fields (including a :60 that is not a leap second), -ERANGE
 * outside 1972..9999. */
int astro_tlm_time_from_utc(const struct astro_tlm_utc *u, int64_t *t);
/* t -> UTC fields.  -ERANGE outside 1972..9999. */
int astro_tlm_time_to_utc(int64_t t, struct astro_tlm_utc *u);

/*
 * UTC day numbers (days since 1970-01-01) for day-sized blocks: the day
 * holding t (a leap second belongs to the day it ends), and the t at which
 * a day starts.  -ERANGE outside 1972..9999.
 */
int astro_tlm_time_utc_day(int64_t t, int64_t *day);
int astro_tlm_time_day_start(int64_t day, int64_t *t);

/* Unix milliseconds (UTC, leap-free) <-> t.  A unix time inside a leap
 * second is ambiguous; it maps to the instant after the leap second. */
int astro_tlm_time_from_unix_ms(int64_t ms, int64_t *t);
/* Floors to the millisecond; inside a leap second returns the unix time of
 * the following midnight (what POSIX clocks show). */
int astro_tlm_time_to_unix_ms(int64_t t, int64_t *ms);

/* CXC seconds (double) <-> t, rounding to the nearest µs.  -ERANGE for
 * non-finite or huge values. */
int astro_tlm_time_from_secs(double secs, int64_t *t);
double astro_tlm_time_to_secs(int64_t t);

/*
 * Parsers over [s, s+len): the whole span must be the form, nothing else.
 * Return 0, -EINVAL (malformed; if err is non-NULL a short reason is written)
 * or -ERANGE.
 */
int astro_tlm_time_parse_date(const char *s, size_t len, int64_t *t,
			      char *err, size_t errlen);
int astro_tlm_time_parse_iso(const char *s, size_t len, int64_t *t,
			     char *err, size_t errlen);
int astro_tlm_time_parse_jwst(const char *s, size_t len, int64_t *t,
			      char *err, size_t errlen);
int astro_tlm_time_parse_secs(const char *s, size_t len, int64_t *t,
			      char *err, size_t errlen);
/* Any of date, ISO, `secs:<n>`, `unix:<ms>`, or a jwst /Date()/ form. */
int astro_tlm_time_parse(const char *s, size_t len, int64_t *t, char *err,
			 size_t errlen);

/*
 * Formatters write into buf (no NUL unless room: they return the length and
 * always NUL-terminate; buf must hold ASTRO_TLM_TIME_BUF bytes).  A t outside
 * 1972..9999 prints as "?".
 */
#define ASTRO_TLM_TIME_BUF 40
size_t astro_tlm_time_fmt_date(int64_t t, char *buf);		/* YYYY:DDD:hh:mm:ss.sss */
size_t astro_tlm_time_fmt_iso(int64_t t, int digits, char *buf); /* …Thh:mm:ss[.f]Z */
size_t astro_tlm_time_fmt_secs(int64_t t, char *buf);		/* shortest exact decimal */

#endif

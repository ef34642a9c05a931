/*
 * timescale.h — UTC, TAI and TT with one leap-second table, for every tree
 * (telemetry times, satfilter's frames).
 *
 * The table is ERFA's (liberfa, the IAU SOFA routines astropy uses):
 * eraDat's built-in list, and from start on, when it is newer, the one in
 * the system's IERS `leap-seconds.list` (tzdata,
 * ASTRO_TIMESCALE_LIST_PATH).  A newer file is merged into ERFA's table with
 * eraSetLeapSeconds, so eraDat and every ERFA time-scale routine answer from
 * the same rows as the lookups below (which read ERFA's table, never a copy
 * of their own).
 *
 * "Newer" means the file lists a leap second ERFA's table lacks, or lists
 * the same ones and is vouched for longer: a file is valid until its "#@"
 * expiry line; ERFA's built-in table carries no expiry, so it is taken as
 * valid for 180 days after its last leap second (pyerfa's rule; IERS
 * announces a leap second about six months ahead).  A file that disagrees
 * with ERFA's table on a leap second both list, or that is malformed, is
 * ignored with a log line naming what was wrong.  A log line also says when
 * the table in use has expired: after that date a newly announced leap
 * second would be missing (times would be off by a second).
 *
 * TT = TAI + 32.184 s.  Only UTC from 1972-01-01 (integral leap seconds)
 * is served; earlier instants are -ERANGE.  A leap second is the last
 * second of the UTC day before a row's date.
 *
 * Thread-safety: the table is loaded once, at the first call of any
 * function here (or astro_timescale_init() at start), under pthread_once;
 * after that every lookup is read-only.  astro_timescale_load() replaces
 * the table and must not run while other threads look times up.
 */
#ifndef ASTRO_TIMESCALE_H
#define ASTRO_TIMESCALE_H

#include <stddef.h>
#include <stdint.h>

#define ASTRO_TIMESCALE_LIST_PATH "/usr/share/zoneinfo/leap-seconds.list"
/* Rows a list may hold (the 2017 list has 28; one a year would take 100). */
#define ASTRO_TIMESCALE_MAX_ROWS 128

/* From UTC midnight of day `mjd` on, TAI - UTC = tai_utc seconds. */
struct astro_timescale_leap {
	int32_t mjd;
	int32_t tai_utc;
};

/* A parsed leap-seconds.list. */
struct astro_timescale_list {
	size_t n;
	struct astro_timescale_leap rows[ASTRO_TIMESCALE_MAX_ROWS];
	int64_t expires;	/* unix seconds, from the "#@" line */
	int64_t updated;	/* unix seconds, from "#$"; 0 when absent */
};

/*
 * Load the table now, if not yet loaded: ERFA's, or ASTRO_TIMESCALE_LIST_PATH
 * when newer; logs which table is in use and whether it has expired.
 * Programs call it at start so the log line comes then.
 */
void astro_timescale_init(void);

/*
 * Parse a leap-seconds.list held in [buf, buf+len).  The lines are
 * "<NTP seconds> <TAI-UTC> [# comment]", comments "#...", and the special
 * comments "#@ <NTP seconds>" (expiry, required), "#$ <NTP seconds>" (last
 * update) and "#h <SHA-1 in five hex words>" (checked when present).  The
 * rows must start at 1 Jan 1972 with 10 s, fall on the 1st of a month at
 * midnight and step by one second.  0, or -EINVAL with err naming the line
 * and what was wrong.
 */
int astro_timescale_parse(const char *buf, size_t len,
			  struct astro_timescale_list *out, char *err,
			  size_t errlen);

/*
 * Read the list at path and use it if it is newer than ERFA's built-in
 * table (see above; now_unix decides expiry).  Returns 1 when the file's
 * table is now in use, 0 when ERFA's built-in table is (the file is not
 * newer), or -errno with err saying why (unreadable, malformed,
 * contradicting ERFA); ERFA's built-in table is then in use.  Logs as
 * astro_timescale_init() does.  Not concurrent with lookups.
 */
int astro_timescale_load(const char *path, int64_t now_unix, char *err,
			 size_t errlen);

/*
 * The rows in use from 1972 on (the pre-1972 drift rows of ERFA's table
 * are not leap seconds and are left out); returns their count.
 */
size_t astro_timescale_leaps(const struct astro_timescale_leap **rows);

/* When the table in use expires, unix seconds. */
int64_t astro_timescale_expires(void);

/*
 * TAI - UTC (s) at the TAI instant mjd_tai: a step takes effect when TAI
 * reaches the row's UTC midnight plus its new offset, so during an
 * inserted second the old offset still holds.  0, -ERANGE before 1972,
 * -EINVAL for a non-finite input.
 */
int astro_timescale_tai_utc_at_tai(double mjd_tai, double *tai_utc);

#endif

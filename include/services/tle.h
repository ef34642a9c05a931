/*
 * tle.h — two-line element sets: validation, parsing, day bodies.
 *
 * Lines are kept byte-for-byte: astrofs serves what space-track sent.  What
 * is checked (astro_tle_check_line*): length (69 columns, or 68 for the
 * yearly bulk bundles when ASTRO_TLE_ALLOW_68 is given: those lack column
 * 69), line number in column 1, matching catalogue numbers on lines 1 and 2,
 * the catalogue number itself (5 digits, space-padded digits, or Alpha-5: a
 * letter A-Z without I and O, then 4 digits; A0000 = 100000, Z9999 = 339999),
 * the epoch field, and the mod-10 checksum in column 69 (digits count their
 * value, '-' counts 1, everything else 0).
 *
 * Epoch: two-digit year 57-99 → 19YY, 00-56 → 20YY; the day of year is
 * 1-based with a fraction (day 1.0 = Jan 1 00:00 UTC; 0.0 = Dec 31 of the
 * previous year, seen in real data).
 */
#ifndef ASTRO_TLE_H
#define ASTRO_TLE_H

#include <stddef.h>
#include <stdint.h>

#define ASTRO_TLE_ALLOW_68 0x1u	  /* accept 68-column lines without checksum */
#define ASTRO_TLE_NO_CHECKSUM 0x2u /* do not verify column 69 */

/* Decode an Alpha-5 or numeric catalogue field (5 chars); -1 if invalid. */
long astro_tle_catnum(const char *field5);

/* mod-10 checksum of columns 1-68. */
int astro_tle_checksum(const char *line);

/*
 * Validate one line (without its line ending).  `which` is 1 or 2.  On
 * failure returns -EINVAL and writes a message naming the column and the
 * problem into err.
 */
int astro_tle_check_line(const char *line, size_t len, int which,
			 unsigned flags, char *err, size_t errlen);

/* Validate a pair and that both carry the same catalogue number. */
int astro_tle_check_pair(const char *l1, size_t len1, const char *l2,
			 size_t len2, unsigned flags, char *err, size_t errlen);

/*
 * Epoch of line 1 as Unix time in microseconds (exact to the 1e-8 day
 * resolution of the field, rounded to the nearest microsecond).
 */
int astro_tle_epoch_us(const char *line1, int64_t *unix_us);

/* Numeric elements, in the units SGP4 wants. */
struct astro_tle_elements {
	long catnum;
	char intldesg[9];	/* international designator, trimmed */
	char classification;
	int epoch_year;		/* four-digit */
	double epoch_days;	/* day of year with fraction, as in the TLE */
	double jdsatepoch;	/* Julian date of epoch, integer part */
	double jdsatepochF;	/* Julian date of epoch, fraction part */
	double ndot;		/* rev/day^2 / 2 as in the TLE (first derivative term) */
	double nddot;		/* rev/day^3 / 6 as in the TLE (decoded exponent form) */
	double bstar;		/* 1/earth radii */
	double inclo_deg, nodeo_deg, argpo_deg, mo_deg;
	double ecco;
	double no_revs_per_day;	/* mean motion, rev/day */
	long elnum;
	long revnum;
};

/* Parse a validated pair into numeric elements (-EINVAL with a message). */
int astro_tle_parse_elements(const char *l1, size_t len1, const char *l2,
			     size_t len2, struct astro_tle_elements *el,
			     char *err, size_t errlen);

/*
 * One element set in a body: offsets into the body buffer.  name_off is
 * -1 when the set has no "0 NAME" line.
 */
struct astro_tle_set {
	long catnum;
	int64_t epoch_us;
	long name_off, l1_off, l2_off;
	unsigned name_len, l1_len, l2_len;
};

/*
 * Parse a whole space-track body (tle or 3le format; CRLF or LF; a final
 * line without newline is accepted).  Every line is validated; the first bad
 * line fails the parse with -EINVAL and a message naming its line number.
 * *sets is malloc'd.  Comment lines starting with '#' are skipped only when
 * ASTRO_TLE_SKIP_COMMENTS is set.
 */
#define ASTRO_TLE_SKIP_COMMENTS 0x4u
int astro_tle_parse_body(const char *body, size_t len, unsigned flags,
			 struct astro_tle_set **sets, size_t *nsets,
			 char *err, size_t errlen);

/* qsort order of parsed sets: catalogue number, epoch, then place in the
 * body (so equal sets keep their order in the text). */
int astro_tle_set_order(const void *a, const void *b);

#endif

/*
 * obs_cmd.h — the /obs command language (SPEC section 6).
 *
 * One command per line:
 *   goto ra=<hours> dec=<deg> [rdsys=J2000|JNOW]
 *   tracking on|off            (also yes|no)
 *   park | unpark | stop
 *   expose <seconds>           or  expose time=<seconds> [count=<n>]
 *   cancel <job-id>|all
 * Verbs, keys and keywords are case-insensitive; `#` starts a comment that
 * runs to the end of the line; a trailing CR is ignored.  ra is decimal hours
 * in [0,24) or hh:mm[:ss]; dec decimal degrees in [-90,90] or ±dd:mm[:ss];
 * numbers are kept to 9 decimals (no exponents).
 * Anything else (unknown verb or key, duplicate key, missing `=`, trailing
 * garbage, out-of-range value, control bytes) is rejected with a message that
 * names what was wrong: a line is never ignored.
 *
 * The parser is pure (no I/O, no allocation) and thread-safe.  The store and
 * the simulator keep the canonical text from astro_obs_cmd_format(), which
 * parses back to the same command, so the simulator re-validates what it
 * receives with the same code.
 */
#ifndef ASTRO_OBS_CMD_H
#define ASTRO_OBS_CMD_H

#include <stdbool.h>
#include <stddef.h>

#define ASTRO_OBS_LINE_MAX 200		/* bytes per command line, without newline */
#define ASTRO_OBS_EXPOSE_MIN 0.001	/* seconds */
#define ASTRO_OBS_EXPOSE_MAX 3600.0	/* seconds */
#define ASTRO_OBS_COUNT_MAX 100
#define ASTRO_OBS_ID_LEN 26		/* a ULID */

enum astro_obs_verb {
	ASTRO_OBS_GOTO = 1,
	ASTRO_OBS_TRACKING,
	ASTRO_OBS_PARK,
	ASTRO_OBS_UNPARK,
	ASTRO_OBS_STOP,
	ASTRO_OBS_EXPOSE,
	ASTRO_OBS_CANCEL,
};

struct astro_obs_cmd {
	enum astro_obs_verb verb;
	double ra_h, dec_deg;		/* goto */
	bool jnow;			/* goto rdsys=JNOW */
	bool tracking;			/* tracking */
	double seconds;			/* expose */
	unsigned count;			/* expose, >= 1 */
	bool cancel_all;		/* cancel all */
	char cancel_id[ASTRO_OBS_ID_LEN + 1];	/* cancel <id>, upper case */
};

/*
 * Parse one line (without its newline; len bytes, NULs included and
 * rejected).  Returns 1 with *out filled, 0 for a blank or comment-only line,
 * or -EINVAL with a message in err.
 */
int astro_obs_cmd_parse(const char *line, size_t len, struct astro_obs_cmd *out,
			char *err, size_t errlen);

/* Lower-case verb name ("goto"), or "?" for an invalid value. */
const char *astro_obs_cmd_verb_name(enum astro_obs_verb v);

/*
 * Canonical text of a command; parses back to an equal command.  Returns the
 * length, or -ENAMETOOLONG when buf is too small.
 */
int astro_obs_cmd_format(const struct astro_obs_cmd *c, char *buf, size_t n);

#endif

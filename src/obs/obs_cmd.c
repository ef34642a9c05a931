/* obs_cmd.c — the /obs command language (see obs_cmd.h). */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "core/astro.h"
#include "obs_cmd.h"
#include "ulid.h"

#define MAX_TOKENS 8

struct tok {
	const char *s;
	size_t len;
};


static bool tok_is(const struct tok *t, const char *word)
{
	return strlen(word) == t->len && strncasecmp(t->s, word, t->len) == 0;
}

/* Unsigned decimal: digits, optionally one '.' followed by digits.  No
 * exponent, sign, hex, inf or nan: strtod would take all of those. */
static int parse_udec(const char *s, size_t len, double *out)
{
	char buf[40], *end;
	size_t i, digits = 0, dots = 0;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			digits++;
		else if (s[i] == '.' && dots++ == 0 && digits > 0 && i + 1 < len)
			;
		else
			return -EINVAL;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	*out = strtod(buf, &end);
	if (errno || *end || !isfinite(*out))
		return -EINVAL;
	return 0;
}

/* Values keep 9 decimals, so the canonical text (%.9f) parses back to the
 * very same double and a range check sees what the simulator will see. */
static double quantize(double v)
{
	v = round(v * 1e9) / 1e9;
	return v == 0 ? 0 : v;	/* -0 would not survive the round trip */
}

/* Decimal, or sexagesimal a:b[:c] with b, c < 60; optional sign. */
static int parse_angle(const char *s, size_t len, double *out)
{
	double part[3] = { 0, 0, 0 }, sign = 1;
	size_t n = 0, start, i;

	if (len && (s[0] == '+' || s[0] == '-')) {
		sign = s[0] == '-' ? -1 : 1;
		s++;
		len--;
	}
	for (start = 0, i = 0; i <= len; i++) {
		if (i < len && s[i] != ':')
			continue;
		if (n == 3 || parse_udec(s + start, i - start, &part[n]) < 0)
			return -EINVAL;
		/* Only the last field may carry a fraction. */
		if (n > 0 && part[n - 1] != floor(part[n - 1]))
			return -EINVAL;
		if (n > 0 && part[n] >= 60)
			return -EINVAL;
		n++;
		start = i + 1;
	}
	*out = quantize(sign * (part[0] + part[1] / 60 + part[2] / 3600));
	return 0;
}

/* Shortest fixed-point text of a quantized value: no exponent, which the
 * grammar does not accept. */
static void fmt_num(double v, char *buf, size_t n)
{
	size_t len;

	snprintf(buf, n, "%.9f", v);
	len = strlen(buf);
	while (len > 1 && buf[len - 1] == '0')
		buf[--len] = '\0';
	if (len > 1 && buf[len - 1] == '.')
		buf[--len] = '\0';
	if (strcmp(buf, "-0") == 0)
		astro_strlcpy(buf, "0", n);
}

/* Split `key=value`; -EINVAL when there is no '=' or either side is empty. */
static int split_kv(const struct tok *t, struct tok *k, struct tok *v)
{
	const char *eq = memchr(t->s, '=', t->len);

	if (!eq || eq == t->s || eq == t->s + t->len - 1)
		return -EINVAL;
	k->s = t->s;
	k->len = (size_t)(eq - t->s);
	v->s = eq + 1;
	v->len = t->len - k->len - 1;
	return 0;
}

static int parse_goto(const struct tok *t, size_t n, struct astro_obs_cmd *c,
		      char *err, size_t errlen)
{
	bool have_ra = false, have_dec = false, have_sys = false;
	size_t i;

	for (i = 1; i < n; i++) {
		struct tok k, v;

		if (split_kv(&t[i], &k, &v) < 0)
			return astro_err_set(err, errlen, -EINVAL,
					     "goto: expected key=value, got '%.*s'",
					     (int)t[i].len, t[i].s);
		if (tok_is(&k, "ra")) {
			if (have_ra)
				return astro_err_set(err, errlen, -EINVAL,
						     "goto: duplicate key ra");
			have_ra = true;
			if (parse_angle(v.s, v.len, &c->ra_h) < 0 || c->ra_h < 0 ||
			    c->ra_h >= 24)
				return astro_err_set(err, errlen, -EINVAL,
						     "goto: ra '%.*s' not in hours [0,24)",
						     (int)v.len, v.s);
		} else if (tok_is(&k, "dec")) {
			if (have_dec)
				return astro_err_set(err, errlen, -EINVAL,
						     "goto: duplicate key dec");
			have_dec = true;
			if (parse_angle(v.s, v.len, &c->dec_deg) < 0 ||
			    c->dec_deg < -90 || c->dec_deg > 90)
				return astro_err_set(err, errlen, -EINVAL,
						     "goto: dec '%.*s' not in degrees [-90,90]",
						     (int)v.len, v.s);
		} else if (tok_is(&k, "rdsys")) {
			if (have_sys)
				return astro_err_set(err, errlen, -EINVAL,
						     "goto: duplicate key rdsys");
			have_sys = true;
			if (tok_is(&v, "J2000"))
				c->jnow = false;
			else if (tok_is(&v, "JNOW"))
				c->jnow = true;
			else
				return astro_err_set(err, errlen, -EINVAL,
						     "goto: rdsys must be J2000 or JNOW");
		} else {
			return astro_err_set(err, errlen, -EINVAL, "goto: unknown key '%.*s'",
					     (int)k.len, k.s);
		}
	}
	if (!have_ra || !have_dec)
		return astro_err_set(err, errlen, -EINVAL, "goto: needs ra=<hours> and dec=<deg>");
	return 1;
}

static int parse_seconds(const struct tok *v, double *s, char *err, size_t errlen)
{
	if (parse_udec(v->s, v->len, s) < 0 || (*s = quantize(*s)) < ASTRO_OBS_EXPOSE_MIN ||
	    *s > ASTRO_OBS_EXPOSE_MAX)
		return astro_err_set(err, errlen, -EINVAL,
				     "expose: time '%.*s' not in seconds [%g,%g]",
				     (int)v->len, v->s, ASTRO_OBS_EXPOSE_MIN, ASTRO_OBS_EXPOSE_MAX);
	return 0;
}

static int parse_expose(const struct tok *t, size_t n, struct astro_obs_cmd *c,
			char *err, size_t errlen)
{
	bool have_time = false, have_count = false;
	size_t i;

	c->count = 1;
	if (n == 2 && !memchr(t[1].s, '=', t[1].len)) {
		if (parse_seconds(&t[1], &c->seconds, err, errlen) < 0)
			return -EINVAL;
		return 1;
	}
	for (i = 1; i < n; i++) {
		struct tok k, v;
		double d;

		if (split_kv(&t[i], &k, &v) < 0)
			return astro_err_set(err, errlen, -EINVAL,
					     "expose: expected <seconds> or key=value, got '%.*s'",
					     (int)t[i].len, t[i].s);
		if (tok_is(&k, "time")) {
			if (have_time)
				return astro_err_set(err, errlen, -EINVAL,
						     "expose: duplicate key time");
			have_time = true;
			if (parse_seconds(&v, &c->seconds, err, errlen) < 0)
				return -EINVAL;
		} else if (tok_is(&k, "count")) {
			if (have_count)
				return astro_err_set(err, errlen, -EINVAL,
						     "expose: duplicate key count");
			have_count = true;
			if (parse_udec(v.s, v.len, &d) < 0 || d != floor(d) || d < 1 ||
			    d > ASTRO_OBS_COUNT_MAX)
				return astro_err_set(err, errlen, -EINVAL,
						     "expose: count '%.*s' not an integer in [1,%d]",
						     (int)v.len, v.s, ASTRO_OBS_COUNT_MAX);
			c->count = (unsigned)d;
		} else {
			return astro_err_set(err, errlen, -EINVAL, "expose: unknown key '%.*s'",
					     (int)k.len, k.s);
		}
	}
	if (!have_time)
		return astro_err_set(err, errlen, -EINVAL,
				     "expose: needs <seconds> or time=<seconds>");
	return 1;
}

static int parse_tokens(const struct tok *t, size_t n, struct astro_obs_cmd *c,
			char *err, size_t errlen)
{
	static const struct {
		const char *name;
		enum astro_obs_verb verb;
	} bare[] = {
		{ "park", ASTRO_OBS_PARK },
		{ "unpark", ASTRO_OBS_UNPARK },
		{ "stop", ASTRO_OBS_STOP },
	};
	size_t i;

	for (i = 0; i < ASTRO_ARRAY_SIZE(bare); i++) {
		if (!tok_is(&t[0], bare[i].name))
			continue;
		if (n > 1)
			return astro_err_set(err, errlen, -EINVAL,
					     "%s: takes no arguments, got '%.*s'",
					     bare[i].name, (int)t[1].len, t[1].s);
		c->verb = bare[i].verb;
		return 1;
	}
	if (tok_is(&t[0], "goto")) {
		c->verb = ASTRO_OBS_GOTO;
		return parse_goto(t, n, c, err, errlen);
	}
	if (tok_is(&t[0], "expose")) {
		c->verb = ASTRO_OBS_EXPOSE;
		if (n < 2)
			return astro_err_set(err, errlen, -EINVAL, "expose: needs <seconds>");
		return parse_expose(t, n, c, err, errlen);
	}
	if (tok_is(&t[0], "tracking")) {
		c->verb = ASTRO_OBS_TRACKING;
		if (n != 2)
			return astro_err_set(err, errlen, -EINVAL,
					     "tracking: needs exactly one of on|off");
		if (tok_is(&t[1], "on") || tok_is(&t[1], "yes"))
			c->tracking = true;
		else if (tok_is(&t[1], "off") || tok_is(&t[1], "no"))
			c->tracking = false;
		else
			return astro_err_set(err, errlen, -EINVAL, "tracking: '%.*s' is not on|off",
					     (int)t[1].len, t[1].s);
		return 1;
	}
	if (tok_is(&t[0], "cancel")) {
		c->verb = ASTRO_OBS_CANCEL;
		if (n != 2)
			return astro_err_set(err, errlen, -EINVAL,
					     "cancel: needs exactly one of <job-id>|all");
		if (tok_is(&t[1], "all")) {
			c->cancel_all = true;
			return 1;
		}
		if (!astro_ulid_valid(t[1].s, t[1].len))
			return astro_err_set(err, errlen, -EINVAL, "cancel: '%.*s' is not a job id",
					     (int)t[1].len, t[1].s);
		for (i = 0; i < ASTRO_OBS_ID_LEN; i++) {
			char ch = t[1].s[i];

			c->cancel_id[i] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 32) : ch;
		}
		c->cancel_id[ASTRO_OBS_ID_LEN] = '\0';
		return 1;
	}
	return astro_err_set(err, errlen, -EINVAL, "unknown command '%.*s'", (int)t[0].len, t[0].s);
}

int astro_obs_cmd_parse(const char *line, size_t len, struct astro_obs_cmd *out,
			char *err, size_t errlen)
{
	struct tok t[MAX_TOKENS];
	size_t n = 0, i = 0;

	assert(out);
	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	if (len && line[len - 1] == '\r')
		len--;
	if (len > ASTRO_OBS_LINE_MAX)
		return astro_err_set(err, errlen, -EINVAL,
				     "line longer than %d bytes", ASTRO_OBS_LINE_MAX);
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];

		if (ch == '#')
			break;
		if (ch == ' ' || ch == '\t')
			continue;
		if (ch < 0x21 || ch > 0x7e)
			return astro_err_set(err, errlen, -EINVAL,
					     "control or non-ASCII byte 0x%02x at column %zu",
					     ch, i + 1);
		if (n == MAX_TOKENS)
			return astro_err_set(err, errlen, -EINVAL, "too many words");
		t[n].s = line + i;
		while (i < len && line[i] > 0x20 && line[i] < 0x7f && line[i] != '#')
			i++;
		t[n].len = (size_t)(line + i - t[n].s);
		n++;
		i--;	/* the loop's i++ revisits the delimiter */
	}
	/* A control byte after a comment starts is still garbage. */
	for (; i < len; i++)
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
			return astro_err_set(err, errlen, -EINVAL,
					     "control byte 0x%02x at column %zu",
					     (unsigned char)line[i], i + 1);
	if (n == 0)
		return 0;
	return parse_tokens(t, n, out, err, errlen);
}

const char *astro_obs_cmd_verb_name(enum astro_obs_verb v)
{
	switch (v) {
	case ASTRO_OBS_GOTO: return "goto";
	case ASTRO_OBS_TRACKING: return "tracking";
	case ASTRO_OBS_PARK: return "park";
	case ASTRO_OBS_UNPARK: return "unpark";
	case ASTRO_OBS_STOP: return "stop";
	case ASTRO_OBS_EXPOSE: return "expose";
	case ASTRO_OBS_CANCEL: return "cancel";
	}
	return "?";
}

int astro_obs_cmd_format(const struct astro_obs_cmd *c, char *buf, size_t n)
{
	char a[40], b[40];
	int len;

	switch (c->verb) {
	case ASTRO_OBS_GOTO:
		fmt_num(c->ra_h, a, sizeof(a));
		fmt_num(c->dec_deg, b, sizeof(b));
		len = snprintf(buf, n, "goto ra=%s dec=%s%s", a, b,
			       c->jnow ? " rdsys=JNOW" : "");
		break;
	case ASTRO_OBS_TRACKING:
		len = snprintf(buf, n, "tracking %s", c->tracking ? "on" : "off");
		break;
	case ASTRO_OBS_EXPOSE:
		fmt_num(c->seconds, a, sizeof(a));
		if (c->count > 1)
			len = snprintf(buf, n, "expose time=%s count=%u", a, c->count);
		else
			len = snprintf(buf, n, "expose %s", a);
		break;
	case ASTRO_OBS_CANCEL:
		len = snprintf(buf, n, "cancel %s", c->cancel_all ? "all" : c->cancel_id);
		break;
	default:
		len = snprintf(buf, n, "%s", astro_obs_cmd_verb_name(c->verb));
		break;
	}
	if (len < 0 || (size_t)len >= n)
		return -ENAMETOOLONG;
	return len;
}

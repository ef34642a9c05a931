/* config.c — mount options, config file and credentials (see config.h). */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/config.h"
#include "core/log.h"

#define MASK "********"
/* A config or credentials file larger than this is certainly a mistake. */
#define CONFIG_FILE_MAX (1024 * 1024)
#define SECRET_FILE_MAX (64 * 1024)
/* Longest piece of a bad value echoed back in an error message. */
#define ECHO_MAX 60

enum opt_type {
	T_STR,		/* free text without control characters or spaces */
	T_PATH,		/* file or directory; made absolute by finish() */
	T_URL,		/* http(s)://host..., stored without trailing '/' */
	T_CATALOG,	/* "spacetrack" or a path */
	T_LISTEN,	/* host:port */
	T_BUCKETS,	/* list of bucket names */
	T_FITS_HTTP,	/* NAME=URL;NAME=URL */
	T_BOOL,
	T_TRISTATE,	/* auto/on/off → -1/1/0 */
	T_DURATION,	/* unsigned seconds */
	T_UINT,		/* unsigned */
	T_SIZE,		/* uint64_t bytes */
	T_DOUBLE,
	T_RATE,
	T_LOGLEVEL,
	T_UID,
	T_GID,
	T_UMASK,
};

struct opt {
	const char *name;
	enum opt_type type;
	size_t off;
	bool required;		/* strings: may not be empty */
	double min, max;	/* numeric types: inclusive bounds */
	const char *expect;	/* what a good value looks like */
};

#define F(field) offsetof(struct astro_config, field)
#define DAY (86400.0)
#define E_DUR "expected a duration such as 90s, 10min, 6h or 30d"
#define E_BOOL "expected a bare flag, on/off, yes/no, true/false or 1/0"
#define E_PATH "expected a path"

/* Order here is the order of astro_config_dump(): SPEC section 1 order. */
static const struct opt opts[] = {
	{ "config", T_PATH, F(config), false, 0, 0, E_PATH },
	{ "cache_dir", T_PATH, F(cache_dir), true, 0, 0, E_PATH },
	{ "cache_max", T_SIZE, F(cache_max), false, 1024.0 * 1024, 1125899906842624.0,
	  "expected a size such as 512M or 8G" },
	{ "timeout", T_DURATION, F(timeout), false, 1, 3600,
	  "expected seconds, e.g. 30 or 2min" },
	{ "offline", T_BOOL, F(offline), false, 0, 0, E_BOOL },
	{ "spacetrack_url", T_URL, F(spacetrack_url), true, 0, 0,
	  "expected an http:// or https:// URL" },
	{ "spacetrack_credentials", T_PATH, F(spacetrack_credentials), false, 0, 0, E_PATH },
	{ "spacetrack_rate", T_RATE, F(spacetrack_rate), false, 0, 0,
	  "expected windows of 1..4096 requests per 1s..30d such as 20/min,200/h" },
	{ "tle_ttl", T_DURATION, F(tle_ttl), false, 1, 30 * DAY, E_DUR },
	{ "tle_final_after", T_DURATION, F(tle_final_after), false, 1, 3650 * DAY, E_DUR },
	{ "s3_endpoint", T_URL, F(s3_endpoint), false, 0, 0,
	  "expected an http:// or https:// URL" },
	{ "s3_region", T_STR, F(s3_region), true, 0, 0, "expected a region such as us-east-1" },
	{ "s3_credentials", T_PATH, F(s3_credentials), false, 0, 0, E_PATH },
	{ "s3_profile", T_STR, F(s3_profile), true, 0, 0, "expected a profile name" },
	{ "s3_anonymous", T_BOOL, F(s3_anonymous), false, 0, 0, E_BOOL },
	{ "s3_request_payer", T_BOOL, F(s3_request_payer), false, 0, 0, E_BOOL },
	{ "s3_path_style", T_TRISTATE, F(s3_path_style), false, 0, 0,
	  "expected auto, on or off" },
	{ "shared_cache", T_STR, F(shared_cache), false, 0, 0,
	  "expected s3://BUCKET/PREFIX" },
	{ "shared_cache_endpoint", T_URL, F(shared_cache_endpoint), false, 0, 0,
	  "expected an http:// or https:// URL" },
	{ "shared_cache_region", T_STR, F(shared_cache_region), false, 0, 0,
	  "expected a region such as us-east-1" },
	{ "shared_cache_credentials", T_PATH, F(shared_cache_credentials), false, 0, 0, E_PATH },
	{ "fits_buckets", T_BUCKETS, F(fits_buckets), false, 0, 0,
	  "expected bucket names separated by commas" },
	{ "fits_http", T_FITS_HTTP, F(fits_http), false, 0, 0,
	  "expected NAME=URL pairs separated by ';'" },
	{ "fits_ttl", T_DURATION, F(fits_ttl), false, 0, DAY, E_DUR },
	{ "archive_dir", T_PATH, F(archive_dir), true, 0, 0, E_PATH },
	{ "staging_dir", T_PATH, F(staging_dir), false, 0, 0, E_PATH },
	{ "satfilter_catalog", T_CATALOG, F(satfilter_catalog), true, 0, 0,
	  "expected spacetrack or the path of a TLE file" },
	{ "satfilter_refresh", T_DURATION, F(satfilter_refresh), false, 1, 30 * DAY, E_DUR },
	{ "satfilter_listen", T_LISTEN, F(satfilter_listen), false, 0, 0,
	  "expected host:port, e.g. 127.0.0.1:8080" },
	{ "satfilter_buffer", T_DOUBLE, F(satfilter_buffer), false, 0, 1,
	  "expected degrees, e.g. 0.01" },
	{ "satfilter_dut1", T_DOUBLE, F(satfilter_dut1), false, -0.9, 0.9,
	  "expected UT1-UTC in seconds, between -0.9 and 0.9" },
	{ "site_lat", T_DOUBLE, F(site_lat), false, -90, 90, "expected degrees north" },
	{ "site_lon", T_DOUBLE, F(site_lon), false, -180, 180, "expected degrees east" },
	{ "site_height", T_DOUBLE, F(site_height), false, -1000, 20000,
	  "expected metres above the ellipsoid" },
	{ "obs_config", T_PATH, F(obs_config), false, 0, 0, E_PATH },
	{ "obs_store", T_PATH, F(obs_store), true, 0, 0, E_PATH },
	{ "obs_max_pending", T_UINT, F(obs_max_pending), false, 1, 100000,
	  "expected a number of commands" },
	{ "obs_backend", T_STR, F(obs_backend), false, 0, 0, "expected local or aws" },
	{ "obs_aws_region", T_STR, F(obs_aws_region), false, 0, 0,
	  "expected a region such as us-east-1" },
	{ "obs_sqs_endpoint", T_URL, F(obs_sqs_endpoint), false, 0, 0,
	  "expected an http:// or https:// URL" },
	{ "obs_dynamodb_endpoint", T_URL, F(obs_dynamodb_endpoint), false, 0, 0,
	  "expected an http:// or https:// URL" },
	{ "obs_s3_endpoint", T_URL, F(obs_s3_endpoint), false, 0, 0,
	  "expected an http:// or https:// URL" },
	{ "obs_sqs_prefix", T_STR, F(obs_sqs_prefix), false, 0, 0, "expected a queue name prefix" },
	{ "obs_table", T_STR, F(obs_table), false, 0, 0, "expected a DynamoDB table name" },
	{ "obs_bucket", T_STR, F(obs_bucket), false, 0, 0, "expected an S3 bucket name" },
	{ "obs_aws_credentials", T_PATH, F(obs_aws_credentials), false, 0, 0, E_PATH },
	{ "uid", T_UID, F(uid), false, 0, 0, "expected a numeric user id" },
	{ "gid", T_GID, F(gid), false, 0, 0, "expected a numeric group id" },
	{ "umask", T_UMASK, F(umask), false, 0, 0777, "expected octal, e.g. 022" },
	{ "allow_other", T_BOOL, F(allow_other), false, 0, 0, E_BOOL },
	{ "default_permissions", T_BOOL, F(default_permissions), false, 0, 0, E_BOOL },
	{ "ro", T_BOOL, F(ro), false, 0, 0, E_BOOL },
	{ "auto_unmount", T_BOOL, F(auto_unmount), false, 0, 0, E_BOOL },
	{ "loglevel", T_LOGLEVEL, F(log_level), false, 0, 0,
	  "expected err, warning, notice, info or debug" },
	{ "max_threads", T_UINT, F(max_threads), false, 1, 1024,
	  "expected a number of threads" },
};

static const char *const level_names[] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

static void *field(void *cfg, const struct opt *o)
{
	return (char *)cfg + o->off;
}

static const void *cfield(const void *cfg, const struct opt *o)
{
	return (const char *)cfg + o->off;
}

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	ASTRO_PRINTF(4, 5);

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/*
 * A value as it may appear inside a one-line message: control characters
 * become '?' (a newline would forge a second log line) and long values are
 * cut.
 */
static const char *echo(const char *v, char *buf, size_t n)
{
	size_t i, len = strlen(v);

	assert(n > ECHO_MAX + 4);
	for (i = 0; i < len && i < ECHO_MAX; i++)
		buf[i] = ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) ? '?' : v[i];
	if (len > ECHO_MAX) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

static bool has_ctrl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static bool has_space_or_ctrl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return true;
	return false;
}

static const struct opt *find_opt(const char *name)
{
	size_t i;

	for (i = 0; i < ASTRO_ARRAY_SIZE(opts); i++)
		if (strcmp(opts[i].name, name) == 0)
			return &opts[i];
	return NULL;
}

/* ---- parsers ---------------------------------------------------------- */

/*
 * Leading decimal digits as an unsigned 64-bit number.  strtoull alone
 * would accept leading blanks, '+' and '-' (wrapping "-1" to 2^64-1).
 */
static int parse_digits(const char *s, int base, uint64_t *v, const char **end)
{
	char *e;
	unsigned long long n;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	n = strtoull(s, &e, base);
	if (errno == ERANGE)
		return -EINVAL;
	*v = n;
	*end = e;
	return 0;
}

static int duration_unit(const char *u, unsigned *mult)
{
	static const struct { const char *u; unsigned m; } units[] = {
		{ "", 1 }, { "s", 1 }, { "sec", 1 }, { "m", 60 }, { "min", 60 },
		{ "h", 3600 }, { "d", 86400 },
	};
	size_t i;

	for (i = 0; i < ASTRO_ARRAY_SIZE(units); i++)
		if (strcmp(u, units[i].u) == 0) {
			*mult = units[i].m;
			return 0;
		}
	return -EINVAL;
}

int astro_parse_duration(const char *s, unsigned *seconds)
{
	uint64_t v;
	const char *end;
	unsigned mult;

	if (parse_digits(s, 10, &v, &end) < 0 || duration_unit(end, &mult) < 0)
		return -EINVAL;
	if (v > UINT_MAX / mult)
		return -EINVAL;
	*seconds = (unsigned)(v * mult);
	return 0;
}

int astro_parse_size(const char *s, uint64_t *bytes)
{
	static const char units[] = "KMGT";
	uint64_t v;
	const char *end, *u;
	unsigned shift = 0;

	if (parse_digits(s, 10, &v, &end) < 0)
		return -EINVAL;
	if (*end && (u = strchr(units, toupper((unsigned char)*end)))) {
		shift = 10 * (unsigned)(u - units + 1);
		end++;
		/* "8G", "8GiB" and "8GB" all mean 8 GiB, as in systemd. */
		if (strcasecmp(end, "iB") == 0 || strcasecmp(end, "B") == 0)
			end += strlen(end);
	} else if (strcasecmp(end, "B") == 0) {
		end++;
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*bytes = v << shift;
	return 0;
}

int astro_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "yes", "on", "true" };
	static const char *const no[] = { "0", "no", "off", "false" };
	size_t i;

	if (!s) {
		*out = true;	/* a bare flag: `-o offline` */
		return 0;
	}
	for (i = 0; i < ASTRO_ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Bounds that keep a rate meaningful for a rate limiter. */
_Static_assert(ASTRO_RATE_LIMIT_MAX == 4096u, "spacetrack_rate's message names 4096");
#define RATE_PERIOD_MAX (30u * 86400u)

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

static int parse_window(char *tok, struct astro_rate_window *w)
{
	char *slash = strchr(tok, '/'), per[32], *unit;
	uint64_t limit;
	const char *end;
	unsigned secs;

	if (!slash)
		return -EINVAL;
	*slash = '\0';
	tok = trim(tok);
	if (parse_digits(tok, 10, &limit, &end) < 0 || *end)
		return -EINVAL;
	unit = trim(slash + 1);
	if (*unit == '\0')
		return -EINVAL;
	/* "20/min" means 20 per 1 min; "20/10min" is also fine. */
	if (snprintf(per, sizeof(per), "%s%s", isdigit((unsigned char)*unit) ? "" : "1",
		     unit) >= (int)sizeof(per))
		return -EINVAL;
	if (astro_parse_duration(per, &secs) < 0)
		return -EINVAL;
	if (limit < 1 || limit > ASTRO_RATE_LIMIT_MAX || secs < 1 || secs > RATE_PERIOD_MAX)
		return -EINVAL;
	w->limit = (unsigned)limit;
	w->seconds = secs;
	return 0;
}

int astro_parse_rate(const char *s, struct astro_rate *out)
{
	char buf[256], *tok, sep;
	struct astro_rate r = { 0 };
	unsigned i;
	size_t len;

	if (!s || astro_strlcpy(buf, s, sizeof(buf)) < 0)
		return -EINVAL;
	/* Not strtok_r: it would skip the empty window in "20/min,,200/h". */
	for (tok = buf;; tok += len + 1) {
		len = strcspn(tok, ",;");
		sep = tok[len];
		tok[len] = '\0';
		if (r.n == ASTRO_RATE_MAX_WINDOWS || parse_window(tok, &r.w[r.n]) < 0)
			return -EINVAL;
		/* Two ceilings over the same period: one of them is a typo. */
		for (i = 0; i < r.n; i++)
			if (r.w[i].seconds == r.w[r.n].seconds)
				return -EINVAL;
		r.n++;
		if (!sep)
			break;
	}
	*out = r;
	return 0;
}

static int parse_double(const char *s, double *out)
{
	char *end;
	double d;

	if (!s || !(isdigit((unsigned char)s[0]) || s[0] == '-' || s[0] == '+' || s[0] == '.'))
		return -EINVAL;
	errno = 0;
	d = strtod(s, &end);
	if (end == s || *end || errno == ERANGE || !isfinite(d))
		return -EINVAL;
	*out = d;
	return 0;
}

/* http(s)://host[...]; returns the length without trailing slashes. */
static int check_url(const char *s, size_t *len)
{
	size_t skip, n;

	if (strncasecmp(s, "https://", 8) == 0)
		skip = 8;
	else if (strncasecmp(s, "http://", 7) == 0)
		skip = 7;
	else
		return -EINVAL;
	if (s[skip] == '\0' || s[skip] == '/' || has_space_or_ctrl(s))
		return -EINVAL;
	n = strlen(s);
	while (n > skip && s[n - 1] == '/')
		n--;
	*len = n;
	return 0;
}

static bool name_chars_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

static int bucket_ok(const char *e, const char *prev)
{
	(void)prev;
	return name_chars_ok(e, strlen(e)) && strlen(e) <= 255 ? 0 : -EINVAL;
}

/* NAME=URL, NAME made of [A-Za-z0-9._-] and not already in prev. */
static int fits_http_ok(const char *e, const char *prev)
{
	const char *eq = strchr(e, '='), *q;
	size_t n;

	if (!eq || !name_chars_ok(e, (size_t)(eq - e)) || check_url(eq + 1, &n) < 0)
		return -EINVAL;
	/* A name given twice would leave one of the URLs unreachable. */
	n = (size_t)(eq - e) + 1;
	for (q = prev; *q; q += strcspn(q, ";"), q += *q == ';')
		if (strncmp(q, e, n) == 0)
			return -EINVAL;
	return 0;
}

/*
 * A list split on any of seps, entries trimmed, empty ones dropped, each
 * checked by ok() against those before it, joined again with `join`.
 */
static int parse_list(const char *s, const char *seps, char join,
		      int (*ok)(const char *e, const char *prev), char **out)
{
	char *copy = strdup(s), *res = NULL, *tok, *save = NULL;
	size_t used = 0, cap = strlen(s) + 1;
	int rc = -EINVAL;

	if (!copy || !(res = malloc(cap))) {
		rc = -ENOMEM;
		goto out;
	}
	res[0] = '\0';
	for (tok = strtok_r(copy, seps, &save); tok; tok = strtok_r(NULL, seps, &save)) {
		tok = trim(tok);
		if (*tok == '\0')
			continue;
		if (ok(tok, res) < 0)
			goto out;
		used += (size_t)snprintf(res + used, cap - used, "%.1s%s", used ? &join : "", tok);
		assert(used < cap);
	}
	if (used == 0)
		goto out;
	*out = res;
	res = NULL;
	rc = 0;
out:
	free(copy);
	free(res);
	return rc;
}

/*
 * Query parameters that carry a signature or token in pre-signed and SAS
 * URLs (S3, GCS, Azure) or API keys: their values are secrets.
 */
static bool secret_param(const char *name, size_t n)
{
	static const char *const names[] = {
		"sig", "signature", "token", "access_token", "key", "x-amz-signature",
		"x-amz-credential", "x-amz-security-token", "x-goog-signature",
		"x-goog-credential",
	};
	size_t i;

	for (i = 0; i < ASTRO_ARRAY_SIZE(names); i++)
		if (strlen(names[i]) == n && strncasecmp(name, names[i], n) == 0)
			return true;
	return false;
}

/*
 * A URL (or fits_http list of them) fit to show: a password in the
 * userinfo and secret query values become MASK.  fits_http may hold
 * SAS-signed Azure URLs, and the dump is readable by any user of the
 * mount.  Masking is idempotent, so a dump still reloads to itself.
 */
static void put_masked_urls(FILE *f, const char *s)
{
	enum { SCHEME, PATH, QUERY, FRAGMENT } st = SCHEME;
	const char *p = s, *at;
	size_t n;

	/*
	 * Parsed by URL part, not by pattern: a secret may itself hold '/',
	 * '@' or "://", and once masked it must not change how the rest reads.
	 * ';' separates fits_http entries.
	 */
	while (*p) {
		if (*p == ';') {
			st = SCHEME;
			fputc(*p++, f);
		} else if (st == SCHEME && strncmp(p, "://", 3) == 0) {
			fputs("://", f);
			p += 3;
			n = strcspn(p, "/?#;");
			if ((at = memrchr(p, '@', n))) {
				fputs(MASK, f);
				n -= (size_t)(at - p);
				p = at;
			}
			fwrite(p, 1, n, f);
			p += n;
			st = PATH;
		} else if (st == PATH && *p == '?') {
			fputc(*p++, f);
			st = QUERY;
		} else if (st == QUERY) {
			n = strcspn(p, "=&#;");
			if (p[n] == '=' && secret_param(p, n)) {
				fwrite(p, 1, n + 1, f);
				fputs(MASK, f);
				p += n + 1;
				p += strcspn(p, "&#;");	/* the secret itself */
			}
			n = strcspn(p, "&#;");
			n += p[n] == '&';	/* the '&' goes with this parameter */
			fwrite(p, 1, n, f);
			p += n;
			if (*p == '#')
				st = FRAGMENT;
		} else {
			if (*p == '#')
				st = FRAGMENT;
			fputc(*p++, f);
		}
	}
}

static char *masked_urls(const char *s)
{
	char *out = NULL;
	size_t len;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return NULL;
	put_masked_urls(f, s);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

void astro_config_scrub_arg(char *arg)
{
	size_t len = strlen(arg), olen = 0;
	char *out = NULL, *val = NULL, *m = NULL;
	const char *p = arg;
	bool changed = false, failed = false;
	FILE *f = open_memstream(&out, &olen);

	if (!f) {
		explicit_bzero(arg, len);	/* fail closed */
		return;
	}
	for (;;) {
		/* one option, up to an unescaped comma (as astrofs splits -o) */
		const char *s = p, *eq;
		const struct opt *o = NULL;
		char name[64];
		size_t n;

		while (*p && *p != ',')
			p += (*p == '\\' && p[1]) ? 2 : 1;
		n = (size_t)(p - s);
		eq = memchr(s, '=', n);
		if (eq && (size_t)(eq - s) < sizeof(name)) {
			memcpy(name, s, (size_t)(eq - s));
			name[eq - s] = '\0';
			o = find_opt(name);
		}
		if (o && (o->type == T_URL || o->type == T_FITS_HTTP)) {
			val = strndup(eq + 1, n - (size_t)(eq + 1 - s));
			m = val ? masked_urls(val) : NULL;
			if (!m) {
				failed = true;
				break;
			}
			fwrite(s, 1, (size_t)(eq + 1 - s), f);
			fputs(m, f);
			changed |= strcmp(m, val) != 0;
			explicit_bzero(val, strlen(val));
			free(val);
			free(m);
			val = m = NULL;
		} else {
			fwrite(s, 1, n, f);
		}
		if (!*p)
			break;
		fputc(*p++, f);
	}
	if (fclose(f) != 0)
		failed = true;
	if (failed) {
		explicit_bzero(arg, len);
	} else if (changed) {
		/* the kernel shows argv's original area: NUL-pad what is left;
		 * a mask longer than its secret may cut the tail, never expose */
		size_t c = olen < len ? olen : len;

		memcpy(arg, out, c);
		memset(arg + c, 0, len - c);
	}
	if (val) {
		explicit_bzero(val, strlen(val));
		free(val);
	}
	free(m);
	if (out) {
		explicit_bzero(out, olen);
		free(out);
	}
}

/* host:port, host may be a bracketed IPv6 literal. */
static int check_listen(const char *s)
{
	const char *colon = strrchr(s, ':');
	uint64_t port;
	const char *end;

	if (!colon || colon == s || has_space_or_ctrl(s))
		return -EINVAL;
	if (s[0] == '[' && colon[-1] != ']')
		return -EINVAL;
	if (parse_digits(colon + 1, 10, &port, &end) < 0 || *end ||
	    port < 1 || port > 65535)
		return -EINVAL;
	return 0;
}

/* ---- formatting (dump and messages) ----------------------------------- */

static void fmt_duration(unsigned s, char *buf, size_t n)
{
	if (s && s % 86400 == 0)
		snprintf(buf, n, "%ud", s / 86400);
	else if (s && s % 3600 == 0)
		snprintf(buf, n, "%uh", s / 3600);
	else if (s && s % 60 == 0)
		snprintf(buf, n, "%umin", s / 60);
	else
		snprintf(buf, n, "%us", s);
}

static void fmt_size(uint64_t b, char *buf, size_t n)
{
	static const char units[] = "TGMK";
	unsigned i;

	for (i = 0; i < 4; i++) {
		unsigned shift = 10 * (4 - i);

		if (b && (b & ((UINT64_C(1) << shift) - 1)) == 0) {
			snprintf(buf, n, "%llu%c", (unsigned long long)(b >> shift), units[i]);
			return;
		}
	}
	snprintf(buf, n, "%llu", (unsigned long long)b);
}

static void fmt_rate(const struct astro_rate *r, char *buf, size_t n)
{
	size_t used = 0;
	unsigned i;
	char per[32];

	buf[0] = '\0';
	for (i = 0; i < r->n && used < n; i++) {
		switch (r->w[i].seconds) {
		case 1: snprintf(per, sizeof(per), "s"); break;
		case 60: snprintf(per, sizeof(per), "min"); break;
		case 3600: snprintf(per, sizeof(per), "h"); break;
		case 86400: snprintf(per, sizeof(per), "d"); break;
		default: fmt_duration(r->w[i].seconds, per, sizeof(per));
		}
		used += (size_t)snprintf(buf + used, n - used, "%s%u/%s",
					 i ? "," : "", r->w[i].limit, per);
	}
}

/* The shortest spelling that reads back as the same double. */
static void fmt_double(double d, char *buf, size_t n)
{
	int prec;

	for (prec = 6; prec < 17; prec++) {
		snprintf(buf, n, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
	snprintf(buf, n, "%.17g", d);
}

static void fmt_bound(const struct opt *o, double v, char *buf, size_t n)
{
	if (o->type == T_DURATION)
		fmt_duration((unsigned)v, buf, n);
	else if (o->type == T_SIZE)
		fmt_size((uint64_t)v, buf, n);
	else if (o->type == T_UMASK)
		snprintf(buf, n, "%03o", (unsigned)v);
	else
		fmt_double(v, buf, n);
}

static int out_of_range(const struct opt *o, const char *value, char *err, size_t errlen)
{
	char lo[48], hi[48], e[ECHO_MAX + 8];

	fmt_bound(o, o->min, lo, sizeof(lo));
	fmt_bound(o, o->max, hi, sizeof(hi));
	return fail(err, errlen, -EINVAL, "bad value for %s: \"%s\" (must be between %s and %s)",
		    o->name, echo(value, e, sizeof(e)), lo, hi);
}

/* ---- setting ---------------------------------------------------------- */

static int set_string(char **slot, const char *v, size_t len)
{
	char *copy = strndup(v, len);

	if (!copy)
		return -ENOMEM;
	free(*slot);
	*slot = copy;
	return 0;
}

/* Numeric types as both u64 (exact) and double (for the bounds check). */
static int parse_number(const struct opt *o, const char *value, uint64_t *u64, double *d)
{
	const char *end;
	unsigned u;

	switch (o->type) {
	case T_DURATION:
		if (astro_parse_duration(value, &u) < 0)
			return -EINVAL;
		*u64 = u;
		break;
	case T_UINT:
		if (parse_digits(value, 10, u64, &end) < 0 || *end)
			return -EINVAL;
		break;
	case T_SIZE:
		if (astro_parse_size(value, u64) < 0)
			return -EINVAL;
		break;
	default:
		assert(o->type == T_DOUBLE);
		*u64 = 0;
		return parse_double(value, d);
	}
	*d = (double)*u64;
	return 0;
}

static int set_one(struct astro_config *cfg, const struct opt *o, const char *value,
		   char *err, size_t errlen)
{
	char e[ECHO_MAX + 8], **sp = NULL;
	uint64_t u64;
	const char *end;
	double d;
	bool b;
	size_t len;
	int rc;

	switch (o->type) {
	case T_BOOL:
		if (astro_parse_bool(value, &b) < 0)
			goto bad;
		*(bool *)field(cfg, o) = b;
		return 0;
	case T_TRISTATE:
		if (value && strcasecmp(value, "auto") == 0)
			*(int *)field(cfg, o) = -1;
		else if (astro_parse_bool(value, &b) == 0)
			*(int *)field(cfg, o) = b;
		else
			goto bad;
		return 0;
	default:
		break;
	}
	if (!value)
		return fail(err, errlen, -EINVAL, "option %s needs a value (%s=...)",
			    o->name, o->name);

	switch (o->type) {
	case T_STR: case T_PATH: case T_URL: case T_CATALOG:
	case T_LISTEN: case T_BUCKETS: case T_FITS_HTTP:
		sp = field(cfg, o);
		if (value[0] == '\0') {
			if (o->required)
				return fail(err, errlen, -EINVAL, "bad value for %s: empty (%s)",
					    o->name, o->expect);
			free(*sp);
			*sp = NULL;	/* `name =` unsets an optional setting */
			return 0;
		}
		if (has_ctrl(value))
			goto bad;
		len = strlen(value);
		if (o->type == T_STR && has_space_or_ctrl(value))
			goto bad;
		if (o->type == T_URL && check_url(value, &len) < 0)
			goto bad;
		if (o->type == T_LISTEN && check_listen(value) < 0)
			goto bad;
		if (o->type == T_BUCKETS || o->type == T_FITS_HTTP) {
			char *list;

			rc = o->type == T_BUCKETS ? parse_list(value, ",;", ',', bucket_ok, &list)
						  : parse_list(value, ";", ';', fits_http_ok, &list);
			if (rc == -ENOMEM)
				return rc;
			if (rc < 0)
				goto bad;
			free(*sp);
			*sp = list;
			return 0;
		}
		return set_string(sp, value, len);
	case T_DURATION: case T_UINT: case T_SIZE: case T_DOUBLE:
		if (parse_number(o, value, &u64, &d) < 0)
			goto bad;
		if (d < o->min || d > o->max)
			return out_of_range(o, value, err, errlen);
		if (o->type == T_SIZE)
			*(uint64_t *)field(cfg, o) = u64;
		else if (o->type == T_DOUBLE)
			*(double *)field(cfg, o) = d;
		else
			*(unsigned *)field(cfg, o) = (unsigned)u64;	/* bounds fit */
		return 0;
	case T_RATE:
		if (astro_parse_rate(value, field(cfg, o)) < 0)
			goto bad;
		return 0;
	case T_LOGLEVEL:
		if ((rc = astro_log_parse_level(value)) < 0)
			goto bad;
		*(int *)field(cfg, o) = rc;
		return 0;
	case T_UID: case T_GID:
		if (value[0] == '\0') {	/* `uid =`: back to the default */
			*(o->type == T_UID ? &cfg->uid_set : &cfg->gid_set) = false;
			return 0;
		}
		/* (uid_t)-1 means "no change" to chown(); never a real id. */
		if (parse_digits(value, 10, &u64, &end) < 0 || *end || u64 >= UINT32_MAX)
			goto bad;
		if (o->type == T_UID) {
			cfg->uid = (uid_t)u64;
			cfg->uid_set = true;
		} else {
			cfg->gid = (gid_t)u64;
			cfg->gid_set = true;
		}
		return 0;
	case T_UMASK:
		if (value[0] == '\0') {
			cfg->umask_set = false;
			return 0;
		}
		if (parse_digits(value, 8, &u64, &end) < 0 || *end)
			goto bad;
		if (u64 > (uint64_t)o->max)
			return out_of_range(o, value, err, errlen);
		cfg->umask = (unsigned)u64;
		cfg->umask_set = true;
		return 0;
	default:
		assert(!"unhandled option type");
		return -EINVAL;
	}
bad:
	if (!value)
		value = "";
	if (o->type == T_URL || o->type == T_FITS_HTTP) {
		char *m = masked_urls(value);

		rc = fail(err, errlen, -EINVAL, "bad value for %s: \"%s\" (%s)",
			  o->name, m ? echo(m, e, sizeof(e)) : "...", o->expect);
		free(m);
		return rc;
	}
	return fail(err, errlen, -EINVAL, "bad value for %s: \"%s\" (%s)",
		    o->name, echo(value, e, sizeof(e)), o->expect);
}

int astro_config_set(struct astro_config *cfg, const char *name,
		     const char *value, char *err, size_t errlen)
{
	const struct opt *o;
	char e[ECHO_MAX + 8], *copy;
	const char *eq;
	int rc;

	assert(cfg && name);
	eq = strchr(name, '=');
	if (eq && !value) {
		/* One raw `-o` element, "name=value", as fuse_opt hands it over. */
		if (!(copy = strndup(name, (size_t)(eq - name))))
			return -ENOMEM;
		rc = astro_config_set(cfg, copy, eq + 1, err, errlen);
		free(copy);
		return rc;
	}
	if ((o = find_opt(name)))
		return set_one(cfg, o, value, err, errlen);
	/* `-o nodefault_permissions`, `nooffline`: a bare flag turned off. */
	if (!value && strncmp(name, "no", 2) == 0 && (o = find_opt(name + 2)) &&
	    o->type == T_BOOL) {
		*(bool *)field(cfg, o) = false;
		return 0;
	}
	if (astro_config_is_ignored(name))
		return 0;
	return fail(err, errlen, -ENOENT, "unknown option: %s", echo(name, e, sizeof(e)));
}

/*
 * What fstab, mount(8) and mount.fuse3 may hand us beyond our own options.
 * mount(8) drops auto/noauto/comment/x-*, and mount.fuse3 strips _netdev,
 * nofail, user(s), nouser, auto and noauto, but astrofs is also run
 * directly from scripts and units that copy fstab lines, so all are
 * accepted here.  mount.fuse3 ADDS `dev,suid` unless nodev/nosuid were
 * given: they, their negations, exec/noexec and the atime family are
 * kernel flags the daemon sets itself (always nodev,nosuid,noatime — it
 * synthesizes every mode bit and has no device nodes or set-id files), so
 * forwarding them would only let a stray `suid` weaken the mount.  rw is
 * the default and ignored; `ro` is NOT ignored: it is a real option that
 * makes every writable path (/obs commands, staging) read-only.
 */
bool astro_config_is_ignored(const char *name)
{
	static const char *const exact[] = {
		"_netdev", "nofail", "noauto", "auto", "user", "users", "nouser",
		"defaults", "rw", "dev", "nodev", "suid", "nosuid", "exec", "noexec",
		"atime", "noatime", "relatime", "comment",
	};
	size_t i, n;

	if (!name)
		return false;
	n = strcspn(name, "=");
	/* x-systemd.automount, x-gvfs-show...: userspace-only by convention. */
	if (strncmp(name, "x-", 2) == 0 && n > 2)
		return true;
	for (i = 0; i < ASTRO_ARRAY_SIZE(exact); i++)
		if (strlen(exact[i]) == n && strncmp(name, exact[i], n) == 0)
			return name[n] == '\0' || strcmp(exact[i], "comment") == 0;
	return false;
}

/* ---- defaults and teardown -------------------------------------------- */

/*
 * $XDG_<kind>_HOME/rel, else $HOME/fallback/rel, else the passwd home.
 * The XDG spec says a relative XDG_* value is to be ignored.
 */
static int user_dir(const char *xdg_var, const char *fallback, const char *rel, char **out)
{
	const char *xdg = getenv(xdg_var), *home = getenv("HOME");
	struct passwd pw, *res = NULL;
	char pwbuf[4096];

	*out = NULL;
	if (xdg && xdg[0] == '/')
		return asprintf(out, "%s/%s", xdg, rel) < 0 ? -ENOMEM : 0;
	if (!home || home[0] != '/') {
		if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof(pwbuf), &res) != 0 || !res ||
		    !res->pw_dir || res->pw_dir[0] != '/')
			return 0;	/* finish() reports the missing directory */
		home = res->pw_dir;
	}
	return asprintf(out, "%s/%s/%s", home, fallback, rel) < 0 ? -ENOMEM : 0;
}

int astro_config_init(struct astro_config *cfg)
{
	bool root = geteuid() == 0;
	int rc = -ENOMEM;

	assert(cfg);
	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = LOG_NOTICE;
	cfg->cache_max = UINT64_C(8) << 30;
	cfg->timeout = 30;
	cfg->max_threads = 64;
	cfg->obs_max_pending = 1000;
	cfg->spacetrack_rate = (struct astro_rate){
		.n = 2, .w = { { 20, 60 }, { 200, 3600 } },
	};
	cfg->tle_ttl = 3600;
	cfg->tle_final_after = 30 * 86400;
	cfg->s3_path_style = -1;
	cfg->fits_ttl = 10;
	cfg->satfilter_refresh = 6 * 3600;
	cfg->site_lat = -30.2446333;
	cfg->site_lon = -70.7494167;
	cfg->site_height = 2662.75;
	cfg->satfilter_buffer = 0.01;
	cfg->satfilter_dut1 = 0;
	cfg->default_permissions = true;

	if (!(cfg->spacetrack_url = strdup("https://www.space-track.org")) ||
	    !(cfg->s3_region = strdup("us-east-1")) ||
	    !(cfg->s3_profile = strdup("default")) ||
	    !(cfg->satfilter_catalog = strdup("spacetrack")))
		goto out;
	if (root) {
		if (!(cfg->cache_dir = strdup("/var/cache/astrofs")) ||
		    !(cfg->archive_dir = strdup("/var/lib/astrofs/archive")) ||
		    !(cfg->obs_store = strdup("/var/lib/astrofs/obs")))
			goto out;
	} else if (user_dir("XDG_CACHE_HOME", ".cache", "astrofs", &cfg->cache_dir) < 0 ||
		   user_dir("XDG_DATA_HOME", ".local/share", "astrofs/archive",
			    &cfg->archive_dir) < 0 ||
		   user_dir("XDG_DATA_HOME", ".local/share", "astrofs/obs", &cfg->obs_store) < 0) {
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		astro_config_free(cfg);
	return rc;
}

/* Credentials live in astro_secure memory: out of core dumps, wiped. */
static void free_secret(char **s)
{
	astro_secure_strfree(*s);
	*s = NULL;
}

void astro_config_free(struct astro_config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < ASTRO_ARRAY_SIZE(opts); i++)
		if (opts[i].type <= T_FITS_HTTP) {
			char **sp = field(cfg, &opts[i]);

			free(*sp);
			*sp = NULL;
		}
	free(cfg->source);
	free(cfg->mountpoint);
	free_secret(&cfg->spacetrack_user);
	free_secret(&cfg->spacetrack_password);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- files ------------------------------------------------------------ */

/* Open a regular file no larger than max and read it whole. */
static int slurp(const char *path, size_t max, struct stat *st, char **buf, size_t *len,
		 char *err, size_t errlen)
{
	int fd, rc = 0;
	size_t got = 0;
	ssize_t n;
	char *b = NULL;

	*buf = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return fail(err, errlen, -errno, "%s: %s", path, strerror(errno));
	/* fstat on the open descriptor: no window to swap the file. */
	if (fstat(fd, st) < 0) {
		rc = fail(err, errlen, -errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st->st_mode)) {
		rc = fail(err, errlen, -EINVAL, "%s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)st->st_size > max) {
		rc = fail(err, errlen, -EFBIG, "%s: too large (over %zu bytes)", path, max);
		goto out;
	}
	if (!(b = malloc((size_t)st->st_size + 1))) {
		rc = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st->st_size &&
	       (n = read(fd, b + got, (size_t)st->st_size - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = fail(err, errlen, -errno, "%s: %s", path, strerror(errno));
			goto out;
		}
		got += (size_t)n;
	}
	b[got] = '\0';
	*buf = b;
	*len = got;
	b = NULL;
out:
	free(b);
	close(fd);
	return rc;
}

/*
 * Cut one line out of [p, lim): returns a malloc'd copy without the
 * newline (and without a CR before it), or NULL on ENOMEM.  *nul tells if
 * the line held a NUL byte, which no text config should.
 */
static char *next_line(const char **p, const char *lim, bool *nul)
{
	const char *s = *p, *nl = memchr(s, '\n', (size_t)(lim - s));
	size_t len = nl ? (size_t)(nl - s) : (size_t)(lim - s);

	*p = nl ? nl + 1 : lim;
	*nul = memchr(s, '\0', len) != NULL;
	if (len && s[len - 1] == '\r')
		len--;
	return strndup(s, len);
}

int astro_config_load_buffer(struct astro_config *cfg, const char *name,
			     const char *buf, size_t len, char *err, size_t errlen)
{
	const char *p = buf, *lim = buf + len;
	char *line = NULL, *s, *hash, *eq, *key, *val, msg[512];
	unsigned lineno = 0;
	bool nul;
	int rc = 0;

	assert(cfg && name && (buf || !len));
	while (p < lim) {
		lineno++;
		free(line);
		if (!(line = next_line(&p, lim, &nul))) {
			rc = -ENOMEM;
			goto out;
		}
		if (nul) {
			rc = fail(err, errlen, -EINVAL, "%s:%u: NUL byte in line", name, lineno);
			goto out;
		}
		s = trim(line);
		if (*s == '#')
			continue;
		/*
		 * A '#' after a blank or right after '=' starts a comment, so
		 * "url#frag" stays a value but no value starts with '#' (the
		 * dump writes `name = value`, which would read as a comment).
		 */
		for (hash = s; (hash = strchr(hash, '#')); hash++)
			if (hash > s && strchr(" \t=", hash[-1])) {
				*hash = '\0';
				break;
			}
		s = trim(s);
		if (*s == '\0')
			continue;
		eq = strchr(s, '=');
		if (eq)
			*eq = '\0';
		key = trim(s);
		val = eq ? trim(eq + 1) : NULL;
		if (*key == '\0') {
			rc = fail(err, errlen, -EINVAL, "%s:%u: missing option name before '='",
				  name, lineno);
			goto out;
		}
		if (strcmp(key, "config") == 0) {
			rc = fail(err, errlen, -EINVAL, "%s:%u: config cannot be set inside a config file",
				  name, lineno);
			goto out;
		}
		rc = astro_config_set(cfg, key, val, msg, sizeof(msg));
		if (rc < 0) {
			if (rc != -ENOMEM)
				rc = -EINVAL;	/* -ENOENT is reserved for a missing file */
			fail(err, errlen, rc, "%s:%u: %s", name, lineno, msg);
			goto out;
		}
	}
out:
	free(line);
	return rc;
}

int astro_config_load_file(struct astro_config *cfg, const char *path,
			   char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL, *copy = NULL;
	size_t len = 0;
	int rc;

	assert(cfg && path);
	rc = slurp(path, CONFIG_FILE_MAX, &st, &buf, &len, err, errlen);
	if (rc < 0)
		goto out;
	rc = astro_config_load_buffer(cfg, path, buf, len, err, errlen);
	if (rc < 0)
		goto out;
	if (!cfg->config || strcmp(cfg->config, path) != 0) {
		if (!(copy = strdup(path))) {
			rc = -ENOMEM;
			goto out;
		}
		free(cfg->config);
		cfg->config = copy;
	}
out:
	free(buf);
	return rc;
}

/*
 * One `key = value` line of a secrets file, stored into *v1 or *v2 when the
 * key is k1 or k2.  The value is everything after '=', trimmed: there are
 * no trailing comments here because a password may well contain " #".
 * Messages never quote the line, which may hold the secret.
 */
static int secret_line(char *line, const char *path, unsigned lineno,
		       const char *k1, char **v1, const char *k2, char **v2,
		       char *err, size_t errlen)
{
	char *eq = strchr(line, '='), *key, *val, *copy, **slot;

	if (!eq)
		return fail(err, errlen, -EINVAL, "%s:%u: expected `key = value`", path, lineno);
	*eq = '\0';
	key = trim(line);
	if (strcmp(key, k1) == 0)
		slot = v1;
	else if (k2 && strcmp(key, k2) == 0)
		slot = v2;
	else
		return 0;	/* other keys may serve other tools */
	val = trim(eq + 1);
	if (*val == '\0')
		return fail(err, errlen, -EINVAL, "%s:%u: empty value for %s", path, lineno, key);
	if (!(copy = astro_secure_strdup(val)))
		return -ENOMEM;
	free_secret(slot);
	*slot = copy;
	return 0;
}

int astro_read_secret_file(const char *path, const char *k1, char **v1,
			   const char *k2, char **v2, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL, *line, *save = NULL, *a = NULL, *b = NULL;
	size_t len = 0;
	unsigned lineno = 0;
	uid_t me = geteuid();
	int rc;

	assert(path && k1 && v1 && (!k2 || v2));
	rc = slurp(path, SECRET_FILE_MAX, &st, &buf, &len, err, errlen);
	if (rc < 0)
		goto out;
	if (st.st_uid != me && st.st_uid != 0) {
		rc = fail(err, errlen, -EACCES, "%s: owned by uid %u, not by you (uid %u) or root",
			  path, (unsigned)st.st_uid, (unsigned)me);
		goto out;
	}
	if (st.st_mode & 077) {
		rc = fail(err, errlen, -EACCES, "%s: mode %04o is too open; chmod 600 it",
			  path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (memchr(buf, '\0', len)) {
		rc = fail(err, errlen, -EINVAL, "%s: NUL byte in file", path);
		goto out;
	}
	/*
	 * Line numbers count every line, so strtok_r (which skips empty
	 * lines) will not do; walk newlines by hand.
	 */
	for (line = buf; line; line = save) {
		save = strchr(line, '\n');
		if (save)
			*save++ = '\0';
		lineno++;
		line[strcspn(line, "\r")] = '\0';
		line = trim(line);
		if (*line == '\0' || *line == '#')
			continue;
		rc = secret_line(line, path, lineno, k1, &a, k2, &b, err, errlen);
		if (rc < 0)
			goto out;
	}
	rc = 0;
	if (!a || (k2 && !b)) {
		rc = fail(err, errlen, -EINVAL, "%s: no `%s = ...` line", path, a ? k2 : k1);
		goto out;
	}
	free_secret(v1);
	*v1 = a;
	a = NULL;
	if (k2) {
		free_secret(v2);
		*v2 = b;
		b = NULL;
	}
out:
	if (buf) {
		explicit_bzero(buf, len);
		free(buf);
	}
	free_secret(&a);
	free_secret(&b);
	return rc;
}

/* ---- finishing -------------------------------------------------------- */

static int make_absolute(char **path)
{
	char cwd[PATH_MAX], *abs;

	if (!*path || (*path)[0] == '/')
		return 0;
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	if (asprintf(&abs, "%s/%s", strcmp(cwd, "/") ? cwd : "", *path) < 0)
		return -ENOMEM;
	free(*path);
	*path = abs;
	return 0;
}

static int check_readable(const char *opt, const char *path, char *err, size_t errlen)
{
	if (access(path, R_OK) < 0)
		return fail(err, errlen, -errno, "%s %s: %s", opt, path, strerror(errno));
	return 0;
}

/*
 * A credentials file other users may read leaks its keys however careful
 * the daemon is: refuse it at mount time, as astro_read_secret_file does.
 */
static int check_private(const char *opt, const char *path, char *err, size_t errlen)
{
	struct stat st;
	int rc = check_readable(opt, path, err, errlen);

	if (rc < 0)
		return rc;
	if (stat(path, &st) < 0)
		return fail(err, errlen, -errno, "%s %s: %s", opt, path, strerror(errno));
	if (st.st_mode & 077)
		return fail(err, errlen, -EACCES, "%s %s: mode %04o is too open; chmod 600 it",
			    opt, path, (unsigned)(st.st_mode & 07777));
	return 0;
}

static int load_spacetrack_secrets(struct astro_config *cfg, char *err, size_t errlen)
{
	const char *u = getenv("SPACETRACK_USER"), *p = getenv("SPACETRACK_PASSWORD");
	char msg[512];
	int rc;

	free_secret(&cfg->spacetrack_user);
	free_secret(&cfg->spacetrack_password);
	if (cfg->spacetrack_credentials) {
		rc = astro_read_secret_file(cfg->spacetrack_credentials,
					    "identity", &cfg->spacetrack_user,
					    "password", &cfg->spacetrack_password,
					    msg, sizeof(msg));
		if (rc < 0)
			return fail(err, errlen, rc, "spacetrack_credentials %s", msg);
		return 0;
	}
	u = (u && *u) ? u : NULL;
	p = (p && *p) ? p : NULL;
	if (!u != !p)
		return fail(err, errlen, -EINVAL,
			    "%s is set but %s is not (set both, or use spacetrack_credentials)",
			    u ? "SPACETRACK_USER" : "SPACETRACK_PASSWORD",
			    u ? "SPACETRACK_PASSWORD" : "SPACETRACK_USER");
	if (u && (!(cfg->spacetrack_user = astro_secure_strdup(u)) ||
		  !(cfg->spacetrack_password = astro_secure_strdup(p))))
		return -ENOMEM;
	/* No credentials at all is fine: offline, or a catalog file. */
	return 0;
}

int astro_config_finish(struct astro_config *cfg, char *err, size_t errlen)
{
	size_t i;
	int rc;

	assert(cfg);
	for (i = 0; i < ASTRO_ARRAY_SIZE(opts); i++) {
		const struct opt *o = &opts[i];
		char **sp = field(cfg, o);

		if (o->type == T_PATH ||
		    (o->type == T_CATALOG && *sp && strcmp(*sp, "spacetrack") != 0)) {
			if ((rc = make_absolute(sp)) < 0)
				return fail(err, errlen, rc, "%s: cannot make it absolute: %s",
					    o->name, strerror(-rc));
		}
		if (o->type <= T_FITS_HTTP && o->required && !*sp)
			return fail(err, errlen, -EINVAL,
				    "%s is not set and has no default (is HOME set?)", o->name);
	}
	if ((rc = load_spacetrack_secrets(cfg, err, errlen)) < 0)
		return rc;
	if (cfg->s3_anonymous && cfg->s3_credentials)
		return fail(err, errlen, -EINVAL,
			    "s3_anonymous and s3_credentials contradict each other; use one");
	if (cfg->s3_anonymous && cfg->s3_request_payer)
		return fail(err, errlen, -EINVAL,
			    "s3_request_payer needs signed requests; it cannot be combined with s3_anonymous");
	if (cfg->s3_credentials &&
	    (rc = check_private("s3_credentials", cfg->s3_credentials, err, errlen)) < 0)
		return rc;
	if (cfg->shared_cache && (strncmp(cfg->shared_cache, "s3://", 5) != 0 ||
				  cfg->shared_cache[5] == '\0' || cfg->shared_cache[5] == '/'))
		return fail(err, errlen, -EINVAL, "shared_cache: expected s3://BUCKET/PREFIX, not '%.*s'",
			    ECHO_MAX, cfg->shared_cache);
	if (cfg->shared_cache_credentials &&
	    (rc = check_private("shared_cache_credentials", cfg->shared_cache_credentials,
				err, errlen)) < 0)
		return rc;
	if (strcmp(cfg->satfilter_catalog, "spacetrack") != 0 &&
	    (rc = check_readable("satfilter_catalog", cfg->satfilter_catalog, err, errlen)) < 0)
		return rc;
	if (cfg->obs_config &&
	    (rc = check_readable("obs_config", cfg->obs_config, err, errlen)) < 0)
		return rc;
	if (cfg->obs_backend && strcmp(cfg->obs_backend, "local") != 0 &&
	    strcmp(cfg->obs_backend, "aws") != 0)
		return fail(err, errlen, -EINVAL, "obs_backend: expected local or aws, not '%.*s'",
			    ECHO_MAX, cfg->obs_backend);
	if (cfg->obs_aws_credentials &&
	    (rc = check_private("obs_aws_credentials", cfg->obs_aws_credentials, err,
				errlen)) < 0)
		return rc;
	if (cfg->s3_path_style < 0)
		cfg->s3_path_style = cfg->s3_endpoint ? 1 : 0;
	if (cfg->allow_other && !cfg->default_permissions)
		astro_warn("allow_other without default_permissions: the kernel may "
			   "reuse one user's permission check for another");
	return 0;
}

/* ---- dump ------------------------------------------------------------- */

/* Unset values print as `name =` so the dump reads back as a config file. */
static bool dump_empty(const struct astro_config *cfg, const struct opt *o)
{
	switch (o->type) {
	case T_STR: case T_PATH: case T_URL: case T_CATALOG:
	case T_LISTEN: case T_BUCKETS: case T_FITS_HTTP:
		return *(char *const *)cfield(cfg, o) == NULL;
	case T_UID:
		return !cfg->uid_set;
	case T_GID:
		return !cfg->gid_set;
	case T_UMASK:
		return !cfg->umask_set;
	default:
		return false;
	}
}

static void dump_value(FILE *f, const struct astro_config *cfg, const struct opt *o)
{
	char buf[256];
	const char *s;
	int v;

	switch (o->type) {
	case T_URL: case T_FITS_HTTP:
		s = *(char *const *)cfield(cfg, o);
		put_masked_urls(f, s ? s : "");
		break;
	case T_STR: case T_PATH: case T_CATALOG: case T_LISTEN: case T_BUCKETS:
		s = *(char *const *)cfield(cfg, o);
		fputs(s ? s : "", f);
		break;
	case T_BOOL:
		fputs(*(const bool *)cfield(cfg, o) ? "on" : "off", f);
		break;
	case T_TRISTATE:
		v = *(const int *)cfield(cfg, o);
		fputs(v < 0 ? "auto" : v ? "on" : "off", f);
		break;
	case T_DURATION:
		fmt_duration(*(const unsigned *)cfield(cfg, o), buf, sizeof(buf));
		fputs(buf, f);
		break;
	case T_UINT:
		fprintf(f, "%u", *(const unsigned *)cfield(cfg, o));
		break;
	case T_SIZE:
		fmt_size(*(const uint64_t *)cfield(cfg, o), buf, sizeof(buf));
		fputs(buf, f);
		break;
	case T_DOUBLE:
		fmt_double(*(const double *)cfield(cfg, o), buf, sizeof(buf));
		fputs(buf, f);
		break;
	case T_RATE:
		fmt_rate(cfield(cfg, o), buf, sizeof(buf));
		fputs(buf, f);
		break;
	case T_LOGLEVEL:
		v = *(const int *)cfield(cfg, o);
		if (v >= 0 && (size_t)v < ASTRO_ARRAY_SIZE(level_names))
			fputs(level_names[v], f);
		else
			fprintf(f, "%d", v);
		break;
	case T_UID:
		if (cfg->uid_set)
			fprintf(f, "%u", (unsigned)cfg->uid);
		break;
	case T_GID:
		if (cfg->gid_set)
			fprintf(f, "%u", (unsigned)cfg->gid);
		break;
	case T_UMASK:
		if (cfg->umask_set)
			fprintf(f, "%03o", cfg->umask);
		break;
	}
}

char *astro_config_dump(const struct astro_config *cfg)
{
	char *out = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&out, &len);

	assert(cfg);
	if (!f)
		return NULL;
	for (i = 0; i < ASTRO_ARRAY_SIZE(opts); i++) {
		fprintf(f, "%s =%s", opts[i].name, dump_empty(cfg, &opts[i]) ? "" : " ");
		dump_value(f, cfg, &opts[i]);
		fputc('\n', f);
	}
	/* Loaded secrets: say whether they are there, never what they are. */
	fprintf(f, "spacetrack_user =%s\n", cfg->spacetrack_user ? " " MASK : "");
	fprintf(f, "spacetrack_password =%s\n", cfg->spacetrack_password ? " " MASK : "");
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

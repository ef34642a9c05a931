/* config.c — mount options, config file and credentials (see config.h). */
#include <arpa/inet.h>
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
#include "services/awsprov.h"

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
	T_CIDRS,	/* addresses or CIDR blocks, ';'-separated */
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

/* Where init() finds a default directory for a user other than root. */
enum user_home {
	H_NONE,
	H_CACHE,	/* $XDG_CACHE_HOME, else ~/.cache */
	H_DATA,		/* $XDG_DATA_HOME, else ~/.local/share */
};

/*
 * One row per option: everything about it but its man page paragraph.
 * init() applies `dflt` through the same setter as -o and the config file
 * (so a default is a valid value by construction), --help is printed from
 * `arg`, `help` and the default, and the dump walks the rows in order.
 */
struct opt {
	const char *name;
	enum opt_type type;
	size_t off;		/* field in struct astro_config */
	const char *dflt;	/* default as a value; NULL: unset */
	enum user_home home;	/* for a user: $XDG_.../user_rel instead of dflt */
	const char *user_rel;
	/* The default as documented when another module resolves an unset
	 * value (umask 022 in fs.c, the obs_aws names); NULL: dflt. */
	const char *shown;
	bool required;		/* strings: may not be empty */
	double min, max;	/* numeric types: inclusive bounds */
	const char *arg;	/* --help's placeholder; NULL for a flag */
	const char *help;	/* --help's line */
	const char *expect;	/* what a good value looks like (error messages) */
};

#define F(field) offsetof(struct astro_config, field)
#define DAY (86400.0)
#define E_DUR "expected a duration such as 90s, 10min, 6h or 30d"
#define E_BOOL "expected a bare flag, on/off, yes/no, true/false or 1/0"
#define E_PATH "expected a path"
#define E_URL "expected an http:// or https:// URL"
#define E_REGION "expected a region such as us-east-1"
#define E_SECS "expected seconds, e.g. 1 or 0.5"

/*
 * Order here is the order of astro_config_dump() and --help: SPEC section
 * 1 order.  Adding an option: a row here, its field in struct
 * astro_config, its paragraph in doc/astrofs.8 and its line in
 * mount-helpers/astrofs.conf (tests/bats/docs.bats checks the last three).
 */
static const struct opt opts[] = {
	{ .name = "config", .type = T_PATH, .off = F(config), .shown = ASTRO_CONFIG_FILE,
	  .arg = "FILE", .help = "config file, read when it exists", .expect = E_PATH },
	{ .name = "cache_dir", .type = T_PATH, .off = F(cache_dir), .required = true,
	  .dflt = "/var/cache/astrofs", .home = H_CACHE, .user_rel = "astrofs",
	  .arg = "DIR", .help = "LMDB cache of upstream data", .expect = E_PATH },
	{ .name = "cache_max", .type = T_SIZE, .off = F(cache_max), .dflt = "8G",
	  .min = 1024.0 * 1024, .max = 1125899906842624.0,
	  .arg = "SIZE", .help = "LMDB map size, the bound on the cache",
	  .expect = "expected a size such as 512M or 8G" },
	{ .name = "timeout", .type = T_DURATION, .off = F(timeout), .dflt = "30",
	  .min = 1, .max = 3600,
	  .arg = "SECONDS", .help = "bound on any operation waiting on the network",
	  .expect = "expected seconds, e.g. 30 or 2min" },
	{ .name = "offline", .type = T_BOOL, .off = F(offline), .dflt = "off",
	  .help = "never contact upstream; serve only the cache", .expect = E_BOOL },
	{ .name = "spacetrack_url", .type = T_URL, .off = F(spacetrack_url), .required = true,
	  .dflt = "https://www.space-track.org",
	  .arg = "URL", .help = "space-track base URL", .expect = E_URL },
	{ .name = "spacetrack_credentials", .type = T_PATH, .off = F(spacetrack_credentials),
	  .arg = "FILE", .help = "`identity = ...` and `password = ...`, mode 0600",
	  .expect = E_PATH },
	{ .name = "spacetrack_rate", .type = T_RATE, .off = F(spacetrack_rate),
	  .dflt = "20/min,200/h",
	  .arg = "RATE", .help = "client-side ceiling on space-track requests",
	  .expect = "expected windows of 1..4096 requests per 1s..30d such as 20/min,200/h" },
	{ .name = "tle_ttl", .type = T_DURATION, .off = F(tle_ttl), .dflt = "1h",
	  .min = 1, .max = 30 * DAY,
	  .arg = "DURATION", .help = "refresh a cached recent day after this", .expect = E_DUR },
	{ .name = "tle_final_after", .type = T_DURATION, .off = F(tle_final_after),
	  .dflt = "30d", .min = 1, .max = 3650 * DAY,
	  .arg = "DURATION", .help = "days older than this never change", .expect = E_DUR },
	{ .name = "s3_endpoint", .type = T_URL, .off = F(s3_endpoint),
	  .arg = "URL", .help = "S3-compatible endpoint (unset: AWS for s3_region)",
	  .expect = E_URL },
	{ .name = "s3_region", .type = T_STR, .off = F(s3_region), .required = true,
	  .dflt = "us-east-1", .arg = "REGION", .help = "SigV4 region", .expect = E_REGION },
	{ .name = "s3_credentials", .type = T_PATH, .off = F(s3_credentials),
	  .arg = "FILE", .help = "AWS credentials file, mode 0600 (unset: environment, ~/.aws)",
	  .expect = E_PATH },
	{ .name = "s3_profile", .type = T_STR, .off = F(s3_profile), .required = true,
	  .dflt = "default", .arg = "NAME", .help = "profile in the credentials file",
	  .expect = "expected a profile name" },
	{ .name = "s3_credentials_source", .type = T_STR, .off = F(s3_credentials_source),
	  .required = true, .dflt = "auto",
	  .arg = "SOURCE", .help = "auto, env, web_identity, profile, container or imds",
	  .expect = "expected auto, env, web_identity, profile, container or imds" },
	{ .name = "s3_anonymous", .type = T_BOOL, .off = F(s3_anonymous), .dflt = "off",
	  .help = "never sign S3 requests", .expect = E_BOOL },
	{ .name = "s3_request_payer", .type = T_BOOL, .off = F(s3_request_payer), .dflt = "off",
	  .help = "send x-amz-request-payer: requester", .expect = E_BOOL },
	{ .name = "s3_path_style", .type = T_TRISTATE, .off = F(s3_path_style), .dflt = "auto",
	  .arg = "auto|on|off", .help = "path-style addressing; auto: on when s3_endpoint is set",
	  .expect = "expected auto, on or off" },
	{ .name = "shared_cache", .type = T_STR, .off = F(shared_cache),
	  .arg = "s3://BUCKET/PREFIX",
	  .help = "a cache tier every mount naming it shares (TLE days, FITS indexes)",
	  .expect = "expected s3://BUCKET/PREFIX" },
	{ .name = "shared_cache_endpoint", .type = T_URL, .off = F(shared_cache_endpoint),
	  .arg = "URL", .help = "S3 endpoint of the shared tier (unset: the S3 settings)",
	  .expect = E_URL },
	{ .name = "shared_cache_region", .type = T_STR, .off = F(shared_cache_region),
	  .arg = "REGION", .help = "SigV4 region of the shared tier (unset: s3_region)",
	  .expect = E_REGION },
	{ .name = "shared_cache_credentials", .type = T_PATH, .off = F(shared_cache_credentials),
	  .arg = "FILE", .help = "AWS credentials file for the shared tier, mode 0600",
	  .expect = E_PATH },
	{ .name = "fits_buckets", .type = T_BUCKETS, .off = F(fits_buckets),
	  .arg = "LIST", .help = "buckets listed under /fits (escape commas in -o as \\,)",
	  .expect = "expected bucket names separated by commas" },
	{ .name = "fits_http", .type = T_FITS_HTTP, .off = F(fits_http),
	  .arg = "NAME=URL;...", .help = "HTTP(S) sources read by ranged GETs",
	  .expect = "expected NAME=URL pairs separated by ';'" },
	{ .name = "fits_azure", .type = T_FITS_HTTP, .off = F(fits_azure),
	  .arg = "NAME=URL;...", .help = "Azure Blob containers listed and read like buckets",
	  .expect = "expected NAME=https://ACCOUNT.blob.core.windows.net/CONTAINER pairs separated by ';'" },
	{ .name = "fits_azure_credentials", .type = T_PATH, .off = F(fits_azure_credentials),
	  .arg = "FILE", .help = "`NAME.key = ...` or `NAME.sas = ...` lines, mode 0600",
	  .expect = E_PATH },
	{ .name = "fits_ttl", .type = T_DURATION, .off = F(fits_ttl), .dflt = "10s",
	  .min = 0, .max = DAY,
	  .arg = "DURATION", .help = "trust listings and object versions this long",
	  .expect = E_DUR },
	{ .name = "fits_readahead", .type = T_UINT, .off = F(fits_readahead), .dflt = "32",
	  .min = 0, .max = 1024,
	  .arg = "N", .help = "siblings read ahead of a reader going through a prefix in order; 0: off",
	  .expect = "expected a number of objects, 0 to 1024" },
	{ .name = "archive_dir", .type = T_PATH, .off = F(archive_dir), .required = true,
	  .dflt = "/var/lib/astrofs/archive", .home = H_DATA, .user_rel = "astrofs/archive",
	  .arg = "DIR", .help = "telemetry archive", .expect = E_PATH },
	{ .name = "staging_dir", .type = T_PATH, .off = F(staging_dir),
	  .arg = "DIR", .help = "telemetry files dropped here are ingested", .expect = E_PATH },
	{ .name = "archive_url", .type = T_URL, .off = F(archive_url),
	  .arg = "URL", .help = "read /telemetry from this remote astrofs archive (telemetry_listen) instead of archive_dir",
	  .expect = E_URL },
	{ .name = "archive_token", .type = T_PATH, .off = F(archive_token),
	  .arg = "FILE", .help = "token for archive_url (first line), mode 0600: sent as Authorization: Token",
	  .expect = E_PATH },
	{ .name = "archive_ca", .type = T_PATH, .off = F(archive_ca),
	  .arg = "FILE", .help = "PEM CA certificates that archive_url's HTTPS certificate must chain to",
	  .expect = E_PATH },
	{ .name = "telemetry_listen", .type = T_LISTEN, .off = F(telemetry_listen),
	  .arg = "HOST:PORT", .help = "also serve /telemetry and RAVEN's API over HTTP",
	  .expect = "expected host:port, e.g. 127.0.0.1:8081" },
	{ .name = "telemetry_tls_cert", .type = T_PATH, .off = F(telemetry_tls_cert),
	  .arg = "FILE", .help = "PEM certificate: the telemetry listener speaks HTTPS",
	  .expect = E_PATH },
	{ .name = "telemetry_tls_key", .type = T_PATH, .off = F(telemetry_tls_key),
	  .arg = "FILE", .help = "PEM private key of telemetry_tls_cert", .expect = E_PATH },
	{ .name = "telemetry_token", .type = T_PATH, .off = F(telemetry_token),
	  .arg = "FILE", .help = "tokens, one a line, mode 0600: requests need Authorization: Token or Bearer",
	  .expect = E_PATH },
	{ .name = "telemetry_allow", .type = T_CIDRS, .off = F(telemetry_allow),
	  .arg = "CIDR;...", .help = "addresses the telemetry listener answers (unset: any)",
	  .expect = "expected addresses or CIDR blocks separated by ';', e.g. 10.0.0.0/8;::1" },
	{ .name = "satfilter_catalog", .type = T_CATALOG, .off = F(satfilter_catalog),
	  .required = true, .dflt = "spacetrack",
	  .arg = "SOURCE", .help = "spacetrack, or the path of a TLE file",
	  .expect = "expected spacetrack or the path of a TLE file" },
	{ .name = "satfilter_refresh", .type = T_DURATION, .off = F(satfilter_refresh),
	  .dflt = "6h", .min = 1, .max = 30 * DAY,
	  .arg = "DURATION", .help = "catalogue refresh period", .expect = E_DUR },
	{ .name = "satfilter_listen", .type = T_LISTEN, .off = F(satfilter_listen),
	  .arg = "HOST:PORT", .help = "also answer satellite-filter requests over HTTP",
	  .expect = "expected host:port, e.g. 127.0.0.1:8080" },
	{ .name = "satfilter_tls_cert", .type = T_PATH, .off = F(satfilter_tls_cert),
	  .arg = "FILE", .help = "PEM certificate: the listener speaks HTTPS", .expect = E_PATH },
	{ .name = "satfilter_tls_key", .type = T_PATH, .off = F(satfilter_tls_key),
	  .arg = "FILE", .help = "PEM private key of satfilter_tls_cert", .expect = E_PATH },
	{ .name = "satfilter_token", .type = T_PATH, .off = F(satfilter_token),
	  .arg = "FILE", .help = "shared secret, mode 0600: requests need Authorization: Bearer",
	  .expect = E_PATH },
	{ .name = "satfilter_allow", .type = T_CIDRS, .off = F(satfilter_allow),
	  .arg = "CIDR;...", .help = "addresses the listener answers (unset: any)",
	  .expect = "expected addresses or CIDR blocks separated by ';', e.g. 10.0.0.0/8;::1" },
	{ .name = "satfilter_buffer", .type = T_DOUBLE, .off = F(satfilter_buffer),
	  .dflt = "0.01", .min = 0, .max = 1,
	  .arg = "DEG", .help = "angle around a box a track may not enter",
	  .expect = "expected degrees, e.g. 0.01" },
	{ .name = "satfilter_dut1", .type = T_DOUBLE, .off = F(satfilter_dut1),
	  .dflt = "0", .min = -0.9, .max = 0.9,
	  .arg = "SECONDS", .help = "UT1-UTC from IERS Bulletin A",
	  .expect = "expected UT1-UTC in seconds, between -0.9 and 0.9" },
	{ .name = "site_lat", .type = T_DOUBLE, .off = F(site_lat), .dflt = "-30.2446333",
	  .min = -90, .max = 90, .arg = "DEG", .help = "observer latitude",
	  .expect = "expected degrees north" },
	{ .name = "site_lon", .type = T_DOUBLE, .off = F(site_lon), .dflt = "-70.7494167",
	  .min = -180, .max = 180, .arg = "DEG", .help = "observer longitude, east-positive",
	  .expect = "expected degrees east" },
	{ .name = "site_height", .type = T_DOUBLE, .off = F(site_height), .dflt = "2662.75",
	  .min = -1000, .max = 20000, .arg = "METRES", .help = "observer height",
	  .expect = "expected metres above the ellipsoid" },
	{ .name = "obs_config", .type = T_PATH, .off = F(obs_config),
	  .arg = "FILE", .help = "observatory sites file", .expect = E_PATH },
	{ .name = "obs_store", .type = T_PATH, .off = F(obs_store), .required = true,
	  .dflt = "/var/lib/astrofs/obs", .home = H_DATA, .user_rel = "astrofs/obs",
	  .arg = "DIR", .help = "local store shared with astrofs-obssim", .expect = E_PATH },
	{ .name = "obs_max_pending", .type = T_UINT, .off = F(obs_max_pending),
	  .dflt = "1000", .min = 1, .max = 100000,
	  .arg = "N", .help = "commands waiting per site", .expect = "expected a number of commands" },
	{ .name = "obs_backend", .type = T_STR, .off = F(obs_backend), .shown = "local",
	  .arg = "local|aws", .help = "where commands, jobs, status and images live",
	  .expect = "expected local or aws" },
	{ .name = "obs_aws_region", .type = T_STR, .off = F(obs_aws_region), .shown = "us-east-1",
	  .arg = "REGION", .help = "SigV4 region of obs_backend=aws", .expect = E_REGION },
	{ .name = "obs_sqs_endpoint", .type = T_URL, .off = F(obs_sqs_endpoint),
	  .arg = "URL", .help = "SQS endpoint override", .expect = E_URL },
	{ .name = "obs_dynamodb_endpoint", .type = T_URL, .off = F(obs_dynamodb_endpoint),
	  .arg = "URL", .help = "DynamoDB endpoint override", .expect = E_URL },
	{ .name = "obs_s3_endpoint", .type = T_URL, .off = F(obs_s3_endpoint),
	  .arg = "URL", .help = "S3 endpoint override for images", .expect = E_URL },
	{ .name = "obs_sqs_prefix", .type = T_STR, .off = F(obs_sqs_prefix), .shown = "astrofs",
	  .arg = "NAME", .help = "SQS queue name prefix", .expect = "expected a queue name prefix" },
	{ .name = "obs_table", .type = T_STR, .off = F(obs_table), .shown = "astrofs_obs",
	  .arg = "NAME", .help = "DynamoDB table", .expect = "expected a DynamoDB table name" },
	{ .name = "obs_bucket", .type = T_STR, .off = F(obs_bucket), .shown = "astrofs-obs",
	  .arg = "NAME", .help = "S3 bucket for images", .expect = "expected an S3 bucket name" },
	{ .name = "obs_aws_layout", .type = T_STR, .off = F(obs_aws_layout), .shown = "astrofs",
	  .arg = "astrofs|pythonbits",
	  .help = "AWS names and shapes: pythonbits is the observatory simulator's",
	  .expect = "expected astrofs or pythonbits" },
	{ .name = "obs_aws_credentials", .type = T_PATH, .off = F(obs_aws_credentials),
	  .arg = "FILE", .help = "AWS credentials file, mode 0600", .expect = E_PATH },
	{ .name = "uid", .type = T_UID, .off = F(uid),
	  .arg = "N", .help = "owner shown for every file (unset: the mounting user)",
	  .expect = "expected a numeric user id" },
	{ .name = "gid", .type = T_GID, .off = F(gid),
	  .arg = "N", .help = "group shown for every file (unset: the mounting user's)",
	  .expect = "expected a numeric group id" },
	{ .name = "umask", .type = T_UMASK, .off = F(umask), .shown = "022", .min = 0, .max = 0777,
	  .arg = "OCTAL", .help = "mode bits removed from every file",
	  .expect = "expected octal, e.g. 022" },
	{ .name = "allow_other", .type = T_BOOL, .off = F(allow_other), .dflt = "off",
	  .help = "let other users see the file system", .expect = E_BOOL },
	{ .name = "default_permissions", .type = T_BOOL, .off = F(default_permissions),
	  .dflt = "on", .help = "let the kernel check permissions", .expect = E_BOOL },
	{ .name = "ro", .type = T_BOOL, .off = F(ro), .dflt = "off",
	  .help = "read-only mount", .expect = E_BOOL },
	{ .name = "auto_unmount", .type = T_BOOL, .off = F(auto_unmount), .dflt = "off",
	  .help = "unmount when the daemon exits", .expect = E_BOOL },
	{ .name = "loglevel", .type = T_LOGLEVEL, .off = F(log_level), .dflt = "notice",
	  .arg = "LEVEL", .help = "err, warning, notice, info or debug",
	  .expect = "expected err, warning, notice, info or debug" },
	{ .name = "max_threads", .type = T_UINT, .off = F(max_threads), .dflt = "64",
	  .min = 1, .max = 1024,
	  .arg = "N", .help = "FUSE worker threads", .expect = "expected a number of threads" },
	{ .name = "nonempty", .type = T_BOOL, .off = F(nonempty), .dflt = "off",
	  .help = "mount even on a mount point that is already a mount", .expect = E_BOOL },
	{ .name = "entry_timeout", .type = T_DOUBLE, .off = F(entry_timeout), .dflt = "1",
	  .min = 0, .max = 3600,
	  .arg = "S", .help = "seconds the kernel keeps names", .expect = E_SECS },
	{ .name = "attr_timeout", .type = T_DOUBLE, .off = F(attr_timeout), .dflt = "1",
	  .min = 0, .max = 3600,
	  .arg = "S", .help = "seconds the kernel keeps attributes", .expect = E_SECS },
	{ .name = "negative_timeout", .type = T_DOUBLE, .off = F(negative_timeout), .dflt = "2",
	  .min = 0, .max = 3600,
	  .arg = "S", .help = "seconds the kernel keeps missing names", .expect = E_SECS },
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

int astro_config_parse_duration(const char *s, unsigned *seconds)
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

int astro_config_parse_size(const char *s, uint64_t *bytes)
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

int astro_config_parse_bool(const char *s, bool *out)
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
	if (astro_config_parse_duration(per, &secs) < 0)
		return -EINVAL;
	if (limit < 1 || limit > ASTRO_RATE_LIMIT_MAX || secs < 1 || secs > RATE_PERIOD_MAX)
		return -EINVAL;
	w->limit = (unsigned)limit;
	w->seconds = secs;
	return 0;
}

int astro_config_parse_rate(const char *s, struct astro_rate *out)
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

/* An IPv4 or IPv6 address with an optional /prefix length. */
static int cidr_ok(const char *e, const char *prev)
{
	unsigned char a[16];
	char host[64], *end;
	const char *slash = strchr(e, '/');
	size_t n = slash ? (size_t)(slash - e) : strlen(e);
	long bits, max;

	(void)prev;
	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, e, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, a) == 1)
		max = 32;
	else if (inet_pton(AF_INET6, host, a) == 1)
		max = 128;
	else
		return -EINVAL;
	if (!slash)
		return 0;
	errno = 0;
	bits = strtol(slash + 1, &end, 10);
	return errno || *end || end == slash + 1 || bits < 0 || bits > max ? -EINVAL : 0;
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

/*
 * One `-o` element as libfuse's fuse_opt_parse unescapes it (its
 * process_real_option_group): `\NNN` is an octal byte (first digit 0-3),
 * `\c` is c.  [s, s + n) holds no unescaped comma.  dst has room for n+1.
 */
static void opt_unescape(const char *s, size_t n, char *dst)
{
	const char *lim = s + n;

	while (s < lim) {
		if (*s == '\\' && s + 1 < lim) {
			s++;
			if (s + 2 < lim && s[0] >= '0' && s[0] <= '3' && s[1] >= '0' &&
			    s[1] <= '7' && s[2] >= '0' && s[2] <= '7') {
				*dst++ = (char)((s[0] - '0') * 64 + (s[1] - '0') * 8 + (s[2] - '0'));
				s += 3;
				continue;
			}
		}
		*dst++ = *s++;
	}
	*dst = '\0';
}

/* Text written back into an -o list: its commas and backslashes escaped. */
static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == ',' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
}

void astro_config_scrub_arg(char *arg)
{
	size_t len = strlen(arg), olen = 0;
	char *out = NULL, *el = NULL, *m = NULL;
	const char *p = arg;
	bool changed = false, failed = false;
	FILE *f = open_memstream(&out, &olen);

	if (!f || !(el = malloc(len + 1))) {
		if (f)
			fclose(f);
		free(out);
		explicit_bzero(arg, len);	/* fail closed */
		return;
	}
	for (;;) {
		/* one element, up to an unescaped comma, read as fuse_opt reads it */
		const char *s = p;
		const struct opt *o = NULL;
		char *eq;
		size_t n;

		while (*p && *p != ',')
			p += (*p == '\\' && p[1]) ? 2 : 1;
		n = (size_t)(p - s);
		opt_unescape(s, n, el);
		if ((eq = strchr(el, '='))) {
			*eq = '\0';
			o = find_opt(el);
		}
		if (o && (o->type == T_URL || o->type == T_FITS_HTTP)) {
			if (!(m = masked_urls(eq + 1))) {
				failed = true;
				break;
			}
			if (strcmp(m, eq + 1) != 0) {
				fprintf(f, "%s=", el);
				put_escaped(f, m);
				changed = true;
			} else {
				fwrite(s, 1, n, f);
			}
			free(m);
			m = NULL;
		} else {
			fwrite(s, 1, n, f);
		}
		explicit_bzero(el, n);
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
	explicit_bzero(el, len + 1);
	free(el);
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
	return astro_err_set(err, errlen, -EINVAL,
			     "bad value for %s: \"%s\" (must be between %s and %s)",
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
		if (astro_config_parse_duration(value, &u) < 0)
			return -EINVAL;
		*u64 = u;
		break;
	case T_UINT:
		if (parse_digits(value, 10, u64, &end) < 0 || *end)
			return -EINVAL;
		break;
	case T_SIZE:
		if (astro_config_parse_size(value, u64) < 0)
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
		if (astro_config_parse_bool(value, &b) < 0)
			goto bad;
		*(bool *)field(cfg, o) = b;
		return 0;
	case T_TRISTATE:
		if (value && strcasecmp(value, "auto") == 0)
			*(int *)field(cfg, o) = -1;
		else if (astro_config_parse_bool(value, &b) == 0)
			*(int *)field(cfg, o) = b;
		else
			goto bad;
		return 0;
	default:
		break;
	}
	if (!value)
		return astro_err_set(err, errlen, -EINVAL, "option %s needs a value (%s=...)",
				     o->name, o->name);

	switch (o->type) {
	case T_STR: case T_PATH: case T_URL: case T_CATALOG:
	case T_LISTEN: case T_BUCKETS: case T_FITS_HTTP: case T_CIDRS:
		sp = field(cfg, o);
		if (value[0] == '\0') {
			if (o->required)
				return astro_err_set(err, errlen, -EINVAL,
						     "bad value for %s: empty (%s)",
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
		if (o->type == T_BUCKETS || o->type == T_FITS_HTTP || o->type == T_CIDRS) {
			char *list;

			rc = o->type == T_BUCKETS ? parse_list(value, ",;", ',', bucket_ok, &list)
			     : o->type == T_CIDRS ? parse_list(value, ";", ';', cidr_ok, &list)
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
		if (astro_config_parse_rate(value, field(cfg, o)) < 0)
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

		rc = astro_err_set(err, errlen, -EINVAL, "bad value for %s: \"%s\" (%s)",
				   o->name, m ? echo(m, e, sizeof(e)) : "...", o->expect);
		free(m);
		return rc;
	}
	return astro_err_set(err, errlen, -EINVAL, "bad value for %s: \"%s\" (%s)",
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
	return astro_err_set(err, errlen, -ENOENT, "unknown option: %s", echo(name, e, sizeof(e)));
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

/*
 * A row's default for this process: for a user other than root the rows
 * with a `home` live under the XDG directories (NULL when there is no
 * home at all: finish() then names the option).  Returns 0 or -ENOMEM;
 * *alloc is what the caller frees.
 */
static int default_of(const struct opt *o, bool root, const char **value, char **alloc)
{
	*alloc = NULL;
	*value = o->dflt;
	if (root || o->home == H_NONE)
		return 0;
	if (user_dir(o->home == H_CACHE ? "XDG_CACHE_HOME" : "XDG_DATA_HOME",
		     o->home == H_CACHE ? ".cache" : ".local/share", o->user_rel, alloc) < 0)
		return -ENOMEM;
	*value = *alloc;
	return 0;
}

int astro_config_obs_store_default(char **out)
{
	const char *value = NULL;
	char *alloc = NULL;
	size_t i;
	int rc;

	*out = NULL;
	for (i = 0; i < ASTRO_ARRAY_SIZE(opts); i++)
		if (strcmp(opts[i].name, "obs_store") == 0)
			break;
	assert(i < ASTRO_ARRAY_SIZE(opts));
	/* the row's default, as astro_config_init gives the daemon */
	rc = default_of(&opts[i], geteuid() == 0, &value, &alloc);
	if (rc == 0 && value && !alloc && !(alloc = strdup(value)))
		rc = -ENOMEM;
	if (rc == 0)
		*out = alloc;
	else
		free(alloc);
	return rc;
}

int astro_config_init(struct astro_config *cfg)
{
	bool root = geteuid() == 0;
	char err[256], *alloc;
	const char *value;
	size_t i;
	int rc = 0;

	assert(cfg);
	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < ASTRO_ARRAY_SIZE(opts) && rc == 0; i++) {
		if ((rc = default_of(&opts[i], root, &value, &alloc)) == 0 && value)
			rc = set_one(cfg, &opts[i], value, err, sizeof(err));
		/* A default the row's own validator refuses is a bug in the table. */
		assert(rc == 0 || rc == -ENOMEM);
		free(alloc);
	}
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
		if (opts[i].type <= T_CIDRS) {
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
		return astro_err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	/* fstat on the open descriptor: no window to swap the file. */
	if (fstat(fd, st) < 0) {
		rc = astro_err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st->st_mode)) {
		rc = astro_err_set(err, errlen, -EINVAL, "%s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)st->st_size > max) {
		rc = astro_err_set(err, errlen, -EFBIG,
				   "%s: too large (over %zu bytes)", path, max);
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
			rc = astro_err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
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
			rc = astro_err_set(err, errlen, -EINVAL,
					   "%s:%u: NUL byte in line", name, lineno);
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
			rc = astro_err_set(err, errlen, -EINVAL,
					   "%s:%u: missing option name before '='",
					   name, lineno);
			goto out;
		}
		if (strcmp(key, "config") == 0) {
			rc = astro_err_set(err, errlen, -EINVAL,
					   "%s:%u: config cannot be set inside a config file",
					   name, lineno);
			goto out;
		}
		rc = astro_config_set(cfg, key, val, msg, sizeof(msg));
		if (rc < 0) {
			if (rc != -ENOMEM)
				rc = -EINVAL;	/* -ENOENT is reserved for a missing file */
			astro_err_set(err, errlen, rc, "%s:%u: %s", name, lineno, msg);
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
		return astro_err_set(err, errlen, -EINVAL,
				     "%s:%u: expected `key = value`", path, lineno);
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
		return astro_err_set(err, errlen, -EINVAL,
				     "%s:%u: empty value for %s", path, lineno, key);
	if (!(copy = astro_secure_strdup(val)))
		return -ENOMEM;
	free_secret(slot);
	*slot = copy;
	return 0;
}

static int read_secrets(const char *path, const char *k1, char **v1, const char *k2,
			char **v2, bool required, char *err, size_t errlen);

int astro_config_read_secret_file(const char *path, const char *k1, char **v1,
			   const char *k2, char **v2, char *err, size_t errlen)
{
	return read_secrets(path, k1, v1, k2, v2, true, err, errlen);
}

int astro_config_read_secret_keys(const char *path, const char *k1, char **v1,
				  const char *k2, char **v2, char *err, size_t errlen)
{
	return read_secrets(path, k1, v1, k2, v2, false, err, errlen);
}

static int read_secrets(const char *path, const char *k1, char **v1, const char *k2,
			char **v2, bool required, char *err, size_t errlen)
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
		rc = astro_err_set(err, errlen, -EACCES,
				   "%s: owned by uid %u, not by you (uid %u) or root",
				   path, (unsigned)st.st_uid, (unsigned)me);
		goto out;
	}
	if (st.st_mode & 077) {
		rc = astro_err_set(err, errlen, -EACCES, "%s: mode %04o is too open; chmod 600 it",
				   path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (memchr(buf, '\0', len)) {
		rc = astro_err_set(err, errlen, -EINVAL, "%s: NUL byte in file", path);
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
	if (required && (!a || (k2 && !b))) {
		rc = astro_err_set(err, errlen, -EINVAL,
				   "%s: no `%s = ...` line", path, a ? k2 : k1);
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
		return astro_err_set(err, errlen, -errno, "%s %s: %s", opt, path, strerror(errno));
	return 0;
}

/*
 * A credentials file other users may read leaks its keys however careful
 * the daemon is: refuse it at mount time, as astro_config_read_secret_file does.
 */
static int check_private(const char *opt, const char *path, char *err, size_t errlen)
{
	struct stat st;
	int rc = check_readable(opt, path, err, errlen);

	if (rc < 0)
		return rc;
	if (stat(path, &st) < 0)
		return astro_err_set(err, errlen, -errno, "%s %s: %s", opt, path, strerror(errno));
	if (st.st_mode & 077)
		return astro_err_set(err, errlen, -EACCES,
				     "%s %s: mode %04o is too open; chmod 600 it",
				     opt, path, (unsigned)(st.st_mode & 07777));
	return 0;
}


/* An HTTP listener's files: <name>_tls_cert/_key both or neither, readable;
 * <name>_token private. */
static int check_listener(const char *name, const char *cert, const char *key,
			  const char *token, char *err, size_t errlen)
{
	char opt[64];
	int rc;

	if (!cert != !key)
		return astro_err_set(err, errlen, -EINVAL,
				     "%s_tls_cert and %s_tls_key go together; give both", name, name);
	snprintf(opt, sizeof(opt), "%s_tls_cert", name);
	if (cert && (rc = check_readable(opt, cert, err, errlen)) < 0)
		return rc;
	snprintf(opt, sizeof(opt), "%s_tls_key", name);
	if (key && (rc = check_readable(opt, key, err, errlen)) < 0)
		return rc;
	snprintf(opt, sizeof(opt), "%s_token", name);
	if (token && (rc = check_private(opt, token, err, errlen)) < 0)
		return rc;
	return 0;
}

/* A /fits name given by both fits_http and fits_azure would hide one of them. */
static int check_source_names(const struct astro_config *cfg, char *err, size_t errlen)
{
	const char *a, *h;

	for (a = cfg->fits_azure; a && *a; a += strcspn(a, ";"), a += *a == ';') {
		size_t n = strcspn(a, "=");

		for (h = cfg->fits_http; h && *h; h += strcspn(h, ";"), h += *h == ';')
			if (strncmp(h, a, n + 1) == 0)
				return astro_err_set(err, errlen, -EINVAL,
						     "fits_azure and fits_http both name '%.*s'",
						     (int)(n < ECHO_MAX ? n : ECHO_MAX), a);
	}
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
		rc = astro_config_read_secret_file(cfg->spacetrack_credentials,
					    "identity", &cfg->spacetrack_user,
					    "password", &cfg->spacetrack_password,
					    msg, sizeof(msg));
		if (rc < 0)
			return astro_err_set(err, errlen, rc, "spacetrack_credentials %s", msg);
		return 0;
	}
	u = (u && *u) ? u : NULL;
	p = (p && *p) ? p : NULL;
	if (!u != !p)
		return astro_err_set(err, errlen, -EINVAL,
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
				return astro_err_set(err, errlen, rc,
						     "%s: cannot make it absolute: %s",
						     o->name, strerror(-rc));
		}
		if (o->type <= T_CIDRS && o->required && !*sp)
			return astro_err_set(err, errlen, -EINVAL,
					     "%s is not set and has no default (is HOME set?)", o->name);
	}
	if ((rc = load_spacetrack_secrets(cfg, err, errlen)) < 0)
		return rc;
	if (cfg->s3_anonymous && cfg->s3_credentials)
		return astro_err_set(err, errlen, -EINVAL,
				     "s3_anonymous and s3_credentials contradict each other; use one");
	if (cfg->s3_anonymous && cfg->s3_request_payer)
		return astro_err_set(err, errlen, -EINVAL,
				     "s3_request_payer needs signed requests; it cannot be combined with s3_anonymous");
	if (!astro_awsprov_source_ok(cfg->s3_credentials_source))
		return astro_err_set(err, errlen, -EINVAL,
				     "s3_credentials_source: expected auto, env, web_identity, "
				     "profile, container or imds, not '%.*s'",
				     ECHO_MAX, cfg->s3_credentials_source);
	if (cfg->s3_credentials && strcmp(cfg->s3_credentials_source, "auto") != 0 &&
	    strcmp(cfg->s3_credentials_source, "profile") != 0)
		return astro_err_set(err, errlen, -EINVAL,
				     "s3_credentials names a file but s3_credentials_source is %s",
				     cfg->s3_credentials_source);
	if (cfg->s3_credentials &&
	    (rc = check_private("s3_credentials", cfg->s3_credentials, err, errlen)) < 0)
		return rc;
	if (cfg->fits_azure_credentials &&
	    (rc = check_private("fits_azure_credentials", cfg->fits_azure_credentials, err,
				errlen)) < 0)
		return rc;
	if ((rc = check_source_names(cfg, err, errlen)) < 0)
		return rc;
	if (cfg->shared_cache && (strncmp(cfg->shared_cache, "s3://", 5) != 0 ||
				  cfg->shared_cache[5] == '\0' || cfg->shared_cache[5] == '/'))
		return astro_err_set(err, errlen, -EINVAL,
				     "shared_cache: expected s3://BUCKET/PREFIX, not '%.*s'",
				     ECHO_MAX, cfg->shared_cache);
	if (cfg->shared_cache_credentials &&
	    (rc = check_private("shared_cache_credentials", cfg->shared_cache_credentials,
				err, errlen)) < 0)
		return rc;
	if (strcmp(cfg->satfilter_catalog, "spacetrack") != 0 &&
	    (rc = check_readable("satfilter_catalog", cfg->satfilter_catalog, err, errlen)) < 0)
		return rc;
	if (cfg->archive_token &&
	    (rc = check_private("archive_token", cfg->archive_token, err, errlen)) < 0)
		return rc;
	if (cfg->archive_ca && (rc = check_readable("archive_ca", cfg->archive_ca, err, errlen)) < 0)
		return rc;
	if ((rc = check_listener("satfilter", cfg->satfilter_tls_cert, cfg->satfilter_tls_key,
				 cfg->satfilter_token, err, errlen)) < 0 ||
	    (rc = check_listener("telemetry", cfg->telemetry_tls_cert, cfg->telemetry_tls_key,
				 cfg->telemetry_token, err, errlen)) < 0)
		return rc;
	if (cfg->obs_config &&
	    (rc = check_readable("obs_config", cfg->obs_config, err, errlen)) < 0)
		return rc;
	if (cfg->obs_backend && strcmp(cfg->obs_backend, "local") != 0 &&
	    strcmp(cfg->obs_backend, "aws") != 0)
		return astro_err_set(err, errlen, -EINVAL,
				     "obs_backend: expected local or aws, not '%.*s'",
				     ECHO_MAX, cfg->obs_backend);
	if (cfg->obs_aws_layout && strcmp(cfg->obs_aws_layout, "astrofs") != 0 &&
	    strcmp(cfg->obs_aws_layout, "pythonbits") != 0)
		return astro_err_set(err, errlen, -EINVAL,
				     "obs_aws_layout: expected astrofs or pythonbits, not '%.*s'",
				     ECHO_MAX, cfg->obs_aws_layout);
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

/* ---- --help ----------------------------------------------------------- */

void astro_config_help(FILE *f)
{
	char lhs[64];
	size_t i;

	assert(f);
	for (i = 0; i < ASTRO_ARRAY_SIZE(opts); i++) {
		const struct opt *o = &opts[i];
		const char *d = o->shown ? o->shown : o->dflt;

		snprintf(lhs, sizeof(lhs), "%s%s%s", o->name, o->arg ? "=" : "",
			 o->arg ? o->arg : "");
		fprintf(f, "     %-28s %s", lhs, o->help);
		if (d && o->home != H_NONE)
			fprintf(f, " (default: %s for root, else $%s/%s)", d,
				o->home == H_CACHE ? "XDG_CACHE_HOME" : "XDG_DATA_HOME",
				o->user_rel);
		else if (d)
			fprintf(f, " (default: %s)", d);
		fputc('\n', f);
	}
}

/* ---- dump ------------------------------------------------------------- */

/* Unset values print as `name =` so the dump reads back as a config file. */
static bool dump_empty(const struct astro_config *cfg, const struct opt *o)
{
	switch (o->type) {
	case T_STR: case T_PATH: case T_URL: case T_CATALOG:
	case T_LISTEN: case T_BUCKETS: case T_FITS_HTTP: case T_CIDRS:
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
	case T_STR: case T_PATH: case T_CATALOG: case T_LISTEN: case T_BUCKETS: case T_CIDRS:
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

/*
 * config.h — the effective configuration of one mount.
 *
 * Every option of SPEC section 1 is a field here.  Values come from, in
 * increasing priority: built-in defaults, the config file (`name = value`
 * lines; `#` starts a comment at the start of a line, after a blank or
 * right after `=`, so `url#frag` is a value; a bare `name` is a flag),
 * then `-o name=value` on the command line.  The same setter serves file
 * and command line, so both accept exactly the same spellings and reject
 * bad values with the same message; a repeated option: the last wins.
 *
 * Units: durations accept `N`, `Ns`, `Nmin`/`Nm`, `Nh`, `Nd` (stored in
 * seconds); sizes accept `N`, `NK`, `NM`, `NG`, `NT` (binary, stored in
 * bytes); booleans accept a bare name (`-o offline`), 1/0, yes/no,
 * on/off, true/false; `noNAME` (bare) turns a boolean off.
 *
 * Choices where SPEC is silent:
 *  - default_permissions is ON by default (unlike sshfs): with allow_other
 *    the kernel would otherwise let one user's cached permission check
 *    serve another (libfuse #15).  `-o nodefault_permissions` turns it off.
 *  - astro_config_finish resolves s3_path_style auto (-1) to 1 when
 *    s3_endpoint is set, else 0, and makes every path option absolute
 *    (relative to the working directory at start-up) because the daemon
 *    chdir()s to "/"; paths need not exist yet.
 *  - spacetrack_url and s3_endpoint are stored without a trailing '/';
 *    fits_buckets is stored comma-separated (`,` or `;` accepted, since a
 *    bare comma splits `-o` lists) and fits_http `;`-separated, both with
 *    blanks and empty entries dropped; spacetrack_rate accepts `,` or `;`.
 *  - Bounds: timeout 1s..1h, cache_max 1M..1024T, tle_ttl and
 *    satfilter_refresh 1s..30d, tle_final_after 1s..3650d, rate windows
 *    1..ASTRO_RATE_LIMIT_MAX requests per 1s..30d (at most ASTRO_RATE_MAX_WINDOWS,
 *    distinct periods), site_lat ±90, site_lon ±180, site_height
 *    -1000..20000 m, max_threads 1..1024, entry_timeout, attr_timeout and
 *    negative_timeout 0..3600 s (fractions allowed), obs_max_pending
 *    1..100000, fits_readahead 0..1024, umask ≤ 0777, uid/gid numeric.
 *  - Credentials: spacetrack_credentials wins over SPACETRACK_USER/
 *    SPACETRACK_PASSWORD; having only one of the two variables is an
 *    error; having neither is fine (offline, or a catalog file).  They are
 *    never options.  Files named by s3_credentials, satfilter_catalog (a
 *    path) and obs_config must be readable at finish().
 *  - `config` cannot appear inside a config file.
 *
 * Thread-safety: none; build the configuration once at start-up and treat
 * it as read-only afterwards.
 */
#ifndef ASTRO_CONFIG_H
#define ASTRO_CONFIG_H

#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

/* Read at start when it exists and no config= option names another. */
#define ASTRO_CONFIG_FILE "/etc/astrofs/astrofs.conf"

#define ASTRO_RATE_MAX_WINDOWS 4
/*
 * Most requests one window may allow: the limiter keeps one timestamp per
 * request of its longest window (limiter.h), so the parser refuses what
 * the limiter could not hold instead of the mount failing later.
 */
#define ASTRO_RATE_LIMIT_MAX 4096u

/* One window of a rate ceiling: at most `limit` requests per `seconds`. */
struct astro_rate_window {
	unsigned limit;
	unsigned seconds;
};

struct astro_rate {
	unsigned n;
	struct astro_rate_window w[ASTRO_RATE_MAX_WINDOWS];
};

struct astro_config {
	char *config;			/* config file actually read, or NULL */
	char *source;			/* SOURCE label for the mount table */
	char *mountpoint;		/* absolute, realpath()ed */

	bool foreground, debug, single_thread;
	int log_level;			/* syslog level; default LOG_NOTICE */

	char *cache_dir;
	uint64_t cache_max;		/* bytes */
	unsigned timeout;		/* seconds */
	bool offline;
	unsigned max_threads;		/* FUSE worker cap */
	/* the kernel's caches of names, attributes and misses, in seconds */
	double entry_timeout, attr_timeout, negative_timeout;

	/* space-track */
	char *spacetrack_url;
	char *spacetrack_credentials;	/* path of the credentials file */
	char *spacetrack_user;		/* loaded from the file or environment */
	char *spacetrack_password;	/* secret: never logged, masked in dumps;
					 * astro_secure_strdup memory (so is the user) */
	struct astro_rate spacetrack_rate;
	unsigned tle_ttl;		/* seconds */
	unsigned tle_final_after;	/* seconds */

	/* S3 and HTTP FITS sources */
	char *s3_endpoint;		/* NULL: AWS for s3_region */
	char *s3_region;
	char *s3_credentials;
	char *s3_profile;
	char *s3_credentials_source;	/* "auto" or one source of awsprov.h */
	bool s3_anonymous;
	bool s3_request_payer;
	int s3_path_style;		/* -1 auto, 0 off, 1 on */
	char *fits_buckets;		/* comma list */
	char *fits_http;		/* NAME=URL;NAME=URL */
	char *fits_azure;		/* NAME=URL;NAME=URL (Azure containers) */
	char *fits_azure_credentials;	/* NAME.key / NAME.sas file, mode 0600 */
	/* The fleet tier (services/shared.h): NULL when off */
	char *shared_cache;		/* s3://BUCKET/PREFIX */
	char *shared_cache_endpoint;	/* NULL: s3_endpoint */
	char *shared_cache_region;	/* NULL: s3_region */
	char *shared_cache_credentials;	/* NULL: the s3_credentials chain */
	unsigned fits_ttl;		/* seconds listings and object versions are
					 * trusted without asking again */
	unsigned fits_readahead;	/* siblings read ahead (0: none) */

	/* telemetry */
	char *archive_dir;
	char *staging_dir;

	/* satfilter */
	char *satfilter_catalog;	/* "spacetrack" or a path */
	unsigned satfilter_refresh;	/* seconds */
	char *archive_url;		/* remote archive (another astrofs's listener), or NULL */
	char *archive_token;		/* file (0600): its first line is sent as the token */
	char *archive_ca;		/* PEM CA file for archive_url, or NULL: the system's */
	char *telemetry_listen;		/* host:port of the telemetry listener, or NULL */
	char *telemetry_tls_cert;	/* PEM files: that listener speaks HTTPS */
	char *telemetry_tls_key;
	char *telemetry_token;		/* file (0600): one accepted token a line */
	char *telemetry_allow;		/* CIDR list; NULL: any source */
	char *satfilter_listen;		/* host:port for the HTTP listener, or NULL */
	char *satfilter_tls_cert;	/* PEM files: the listener speaks HTTPS */
	char *satfilter_tls_key;
	char *satfilter_token;		/* file (0600) holding the bearer secret */
	char *satfilter_allow;		/* CIDR list, ';'-separated; NULL: any source */
	double site_lat, site_lon, site_height;
	double satfilter_buffer;	/* degrees around a box that a track may not enter */
	double satfilter_dut1;		/* UT1 - UTC, seconds (IERS Bulletin A) */

	/* observatory */
	char *obs_config;
	char *obs_store;
	/* Commands a site may have waiting (queued, not yet taken), and so
	 * the most one write may carry; a write past it fails with EDQUOT. */
	unsigned obs_max_pending;
	/* obs_backend=aws (obs_aws.h); NULL means local.  NULL endpoints and
	 * names take the backend's defaults. */
	char *obs_backend;
	char *obs_aws_region;
	char *obs_sqs_endpoint, *obs_dynamodb_endpoint, *obs_s3_endpoint;
	char *obs_sqs_prefix, *obs_table, *obs_bucket;
	/* NULL or "astrofs"; "pythonbits": the observatory simulator's
	 * queue, table and bucket layout (obs_aws.h). */
	char *obs_aws_layout;
	char *obs_aws_credentials;

	/* FUSE/sshfs-like */
	bool uid_set, gid_set;
	uid_t uid;
	gid_t gid;
	bool umask_set;
	unsigned umask;
	bool allow_other, default_permissions, ro, auto_unmount;
	bool nonempty;			/* mount over an existing mount */
};

/*
 * Fill in defaults (depends on the caller's uid and XDG variables).  Every
 * option is one row of config.c's table: name, type, default, bounds,
 * --help line; the defaults are applied through astro_config_set's own
 * validation.
 */
int astro_config_init(struct astro_config *cfg);
void astro_config_free(struct astro_config *cfg);

/*
 * The default obs_store (SPEC section 1), the one both the daemon and
 * astrofs-obssim use: /var/lib/astrofs/obs for root, else
 * $XDG_DATA_HOME/astrofs/obs when XDG_DATA_HOME is absolute, else
 * $HOME/.local/share/astrofs/obs (a relative XDG_DATA_HOME is invalid per
 * the XDG base directory spec and ignored).  *out is malloc'd, or NULL with
 * 0 when no absolute home is known; -ENOMEM.
 */
int astro_config_obs_store_default(char **out);

/*
 * Set one option by name.  `value` may be NULL for a bare flag; with a NULL
 * value, a name containing '=' is split there, so a raw `-o` element
 * ("timeout=30") can be passed as is.  fstab-only options are accepted and
 * ignored (see astro_config_is_ignored).  On error
 * returns -EINVAL (or -ENOENT for an unknown name) and writes a one-line
 * message naming the option and what was wrong into err.
 */
int astro_config_set(struct astro_config *cfg, const char *name,
		     const char *value, char *err, size_t errlen);

/*
 * Mask, in place, the secrets in one `-o` argument ("a=1,fits_http=...")
 * once it has been parsed, so /proc/PID/cmdline (readable by every local
 * user) does not show them: passwords in URL userinfo and signature or
 * token query values (a SAS `sig=`) of the URL options become "********".
 * The argument keeps its length (NUL-padded); if masking fails it is wiped
 * whole.
 */
void astro_config_scrub_arg(char *arg);

/* One line per option (name=ARG, what it does, its default), in table
 * order, for `astrofs --help`. */
void astro_config_help(FILE *f);

/* True for fstab-only options that are accepted and ignored. */
bool astro_config_is_ignored(const char *name);

/*
 * Read a config file.  Errors name the file and line.  -ENOENT when the
 * file does not exist (the caller decides whether that matters).
 */
int astro_config_load_file(struct astro_config *cfg, const char *path,
			   char *err, size_t errlen);

/*
 * The same parser over `len` bytes in memory (which need not be
 * NUL-terminated); `name` labels error messages.  Unlike load_file it does
 * not record a path in cfg->config.  Exists for the fuzz target and tests.
 */
int astro_config_load_buffer(struct astro_config *cfg, const char *name,
			     const char *buf, size_t len,
			     char *err, size_t errlen);

/*
 * After all sources are merged: load credentials (files must be mode 0600
 * or stricter and owned by the caller or root), apply environment
 * fallbacks, check cross-option consistency.
 */
int astro_config_finish(struct astro_config *cfg, char *err, size_t errlen);

/* Parsers shared with other modules; all return 0 or -EINVAL. */
int astro_config_parse_duration(const char *s, unsigned *seconds);
int astro_config_parse_size(const char *s, uint64_t *bytes);
int astro_config_parse_bool(const char *s, bool *out);
int astro_config_parse_rate(const char *s, struct astro_rate *out);

/*
 * Read a `key = value` credentials file (space-track style) after checking
 * its mode; returns the values for the two keys asked for in secret memory
 * (astro_secure_strdup: free them with astro_secure_strfree).
 */
int astro_config_read_secret_file(const char *path, const char *k1, char **v1,
			   const char *k2, char **v2, char *err, size_t errlen);
/* The same with both keys optional: a key absent from the file leaves its
 * value NULL (k2 and v2 may be NULL). */
int astro_config_read_secret_keys(const char *path, const char *k1, char **v1,
				  const char *k2, char **v2, char *err, size_t errlen);

/*
 * The effective configuration as `name = value` lines in a stable order,
 * one per option, unset ones as `name =`; loaded secrets are shown as
 * `********`, as are passwords in URLs and signature/token query values
 * (SAS, pre-signed) in spacetrack_url, s3_endpoint, fits_http and fits_azure.  Paths of
 * credentials files are shown, never their content.  Without the first
 * line (config) and the last two (the loaded secrets), it reads back with
 * astro_config_load_buffer to the same configuration.  malloc'd; NULL on
 * ENOMEM.
 */
char *astro_config_dump(const struct astro_config *cfg);

#endif

#include "unit.h"
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "core/config.h"
#include "core/log.h"
#include "services/limiter.h"

/* ---- helpers ---------------------------------------------------------- */

struct tmp {
	char *dir;
};

static int tmp_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (!t || !(t->dir = unit_tmpdir()))
		return -1;
	/* Tests below control the environment they depend on. */
	unsetenv("SPACETRACK_USER");
	unsetenv("SPACETRACK_PASSWORD");
	*state = t;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static int tmp_teardown(void **state)
{
	struct tmp *t = *state;

	if (nftw(t->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "# could not remove %s\n", t->dir);
	free(t->dir);
	free(t);
	return 0;
}

/* Write a file under the test's temp dir with the given mode; returns path. */
static char *write_file(struct tmp *t, const char *name, const char *text, mode_t mode)
{
	char *path;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", t->dir, name) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

/* The value of `name = ...` in a dump, or NULL; the caller frees. */
static char *dump_get(const struct astro_config *cfg, const char *name)
{
	char *d = astro_config_dump(cfg), *p, *res = NULL;
	size_t n = strlen(name);

	assert_non_null(d);
	for (p = d; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, name, n) == 0 && strncmp(p + n, " =", 2) == 0) {
			p += n + 2;
			if (*p == ' ')
				p++;
			res = strndup(p, strcspn(p, "\n"));
			break;
		}
	}
	free(d);
	return res;
}

static void assert_dump(const struct astro_config *cfg, const char *name, const char *want)
{
	char *got = dump_get(cfg, name);

	if (!got)
		fail_msg("dump has no line for %s", name);
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "# %s: dump says \"%s\", want \"%s\"\n", name, got, want);
		free(got);
		fail();
	}
	free(got);
}

/* ---- parsers ---------------------------------------------------------- */

static void durations(void **state)
{
	static const struct { const char *s; int rc; unsigned v; } cases[] = {
		{ "0", 0, 0 }, { "30", 0, 30 }, { "30s", 0, 30 }, { "45sec", 0, 45 },
		{ "2min", 0, 120 }, { "2m", 0, 120 }, { "1h", 0, 3600 },
		{ "30d", 0, 2592000 }, { "4294967295", 0, 4294967295u },
		{ "49710d", 0, 4294944000u },
		{ "4294967296", -EINVAL, 0 }, { "49711d", -EINVAL, 0 },
		{ "", -EINVAL, 0 }, { "abc", -EINVAL, 0 }, { "-1", -EINVAL, 0 },
		{ "+1", -EINVAL, 0 }, { " 1", -EINVAL, 0 }, { "1 ", -EINVAL, 0 },
		{ "1.5h", -EINVAL, 0 }, { "1w", -EINVAL, 0 }, { "1H", -EINVAL, 0 },
		{ "h", -EINVAL, 0 }, { "1hh", -EINVAL, 0 },
		{ "99999999999999999999999", -EINVAL, 0 },
	};
	size_t i;
	unsigned v;

	(void)state;
	for (i = 0; i < ASTRO_ARRAY_SIZE(cases); i++) {
		v = 12345;
		if (astro_config_parse_duration(cases[i].s, &v) != cases[i].rc)
			fail_msg("duration \"%s\": wrong rc", cases[i].s);
		if (cases[i].rc == 0 && v != cases[i].v)
			fail_msg("duration \"%s\" = %u, want %u", cases[i].s, v, cases[i].v);
	}
	assert_int_equal(astro_config_parse_duration(NULL, &v), -EINVAL);
}

static void sizes(void **state)
{
	static const struct { const char *s; int rc; uint64_t v; } cases[] = {
		{ "0", 0, 0 }, { "4096", 0, 4096 }, { "1K", 0, 1024 }, { "1k", 0, 1024 },
		{ "512M", 0, 536870912ULL }, { "8G", 0, 8589934592ULL },
		{ "8GiB", 0, 8589934592ULL }, { "8gb", 0, 8589934592ULL },
		{ "1T", 0, 1099511627776ULL }, { "100B", 0, 100 },
		{ "16777215T", 0, 16777215ULL << 40 },
		{ "16777216T", -EINVAL, 0 }, { "18446744073709551616", -EINVAL, 0 },
		{ "", -EINVAL, 0 }, { "G", -EINVAL, 0 }, { "1.5G", -EINVAL, 0 },
		{ "-1G", -EINVAL, 0 }, { "1P", -EINVAL, 0 }, { "1Gx", -EINVAL, 0 },
		{ "1 G", -EINVAL, 0 },
	};
	size_t i;
	uint64_t v;

	(void)state;
	for (i = 0; i < ASTRO_ARRAY_SIZE(cases); i++) {
		v = 12345;
		if (astro_config_parse_size(cases[i].s, &v) != cases[i].rc)
			fail_msg("size \"%s\": wrong rc", cases[i].s);
		if (cases[i].rc == 0 && v != cases[i].v)
			fail_msg("size \"%s\" = %llu", cases[i].s, (unsigned long long)v);
	}
}

static void bools(void **state)
{
	static const char *const yes[] = { "1", "yes", "YES", "on", "true", "True" };
	static const char *const no[] = { "0", "no", "off", "false", "OFF" };
	static const char *const bad[] = { "", "2", "y", "enable", "on ", "-1" };
	size_t i;
	bool b;

	(void)state;
	b = false;
	assert_int_equal(astro_config_parse_bool(NULL, &b), 0);
	assert_true(b);
	for (i = 0; i < ASTRO_ARRAY_SIZE(yes); i++) {
		b = false;
		assert_int_equal(astro_config_parse_bool(yes[i], &b), 0);
		assert_true(b);
	}
	for (i = 0; i < ASTRO_ARRAY_SIZE(no); i++) {
		b = true;
		assert_int_equal(astro_config_parse_bool(no[i], &b), 0);
		assert_false(b);
	}
	for (i = 0; i < ASTRO_ARRAY_SIZE(bad); i++)
		assert_int_equal(astro_config_parse_bool(bad[i], &b), -EINVAL);
}

static void rates(void **state)
{
	struct astro_rate r;
	struct astro_limiter *lim;
	static const char *const bad[] = {
		"", "20", "20/", "/min", "0/min", "20/0s", "20/year", "20/min,30/min",
		"1/s,2/min,3/h,4/d,5/10min", "100001/s", "5000/min", "4097/s", "20/31d", "-20/min", "20/min,",
		"2 0/min", "20/min/h", ",", "x/min",
	};
	size_t i;

	(void)state;
	assert_int_equal(astro_config_parse_rate("20/min,200/h", &r), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.w[0].limit, 20);
	assert_int_equal(r.w[0].seconds, 60);
	assert_int_equal(r.w[1].limit, 200);
	assert_int_equal(r.w[1].seconds, 3600);

	assert_int_equal(astro_config_parse_rate(" 1/s ; 10/d ", &r), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.w[0].limit, 1);
	assert_int_equal(r.w[0].seconds, 1);
	assert_int_equal(r.w[1].limit, 10);
	assert_int_equal(r.w[1].seconds, 86400);

	/* The largest window the limiter can hold is accepted... */
	assert_int_equal(astro_config_parse_rate("4096/min", &r), 0);
	assert_int_equal(r.w[0].limit, ASTRO_RATE_LIMIT_MAX);
	/* ...and the limiter opens with it (5000/min once failed the mount). */
	assert_int_equal(astro_limiter_open(&lim, NULL, "t", &r), 0);
	astro_limiter_close(lim);

	assert_int_equal(astro_config_parse_rate("5/10min,1/s,2/m,3/h", &r), 0);
	assert_int_equal(r.n, 4);
	assert_int_equal(r.w[0].seconds, 600);
	assert_int_equal(r.w[2].seconds, 60);

	for (i = 0; i < ASTRO_ARRAY_SIZE(bad); i++) {
		r.n = 99;
		if (astro_config_parse_rate(bad[i], &r) != -EINVAL)
			fail_msg("rate \"%s\" accepted", bad[i]);
		assert_int_equal(r.n, 99);	/* untouched on error */
	}
}

/* ---- defaults --------------------------------------------------------- */

/* Defaults for a non-root caller, computed in a child that dropped root. */
static void user_defaults_in_child(const char *home, const char *xdg_cache,
				   const char *xdg_data, char *out, size_t n)
{
	int pfd[2], status;
	pid_t pid;
	ssize_t got;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct astro_config c;
		char buf[4096];
		int len;

		close(pfd[0]);
		if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
			_exit(2);
		if (home) setenv("HOME", home, 1); else unsetenv("HOME");
		if (xdg_cache) setenv("XDG_CACHE_HOME", xdg_cache, 1); else unsetenv("XDG_CACHE_HOME");
		if (xdg_data) setenv("XDG_DATA_HOME", xdg_data, 1); else unsetenv("XDG_DATA_HOME");
		if (astro_config_init(&c) != 0)
			_exit(3);
		len = snprintf(buf, sizeof(buf), "%s|%s|%s", c.cache_dir ? c.cache_dir : "-",
			       c.archive_dir ? c.archive_dir : "-", c.obs_store ? c.obs_store : "-");
		if (write(pfd[1], buf, (size_t)len) != len)
			_exit(4);
		astro_config_free(&c);
		_exit(0);
	}
	close(pfd[1]);
	got = read(pfd[0], out, n - 1);
	close(pfd[0]);
	assert_true(waitpid(pid, &status, 0) == pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(got > 0);
	out[got] = '\0';
}

static void defaults(void **state)
{
	struct astro_config c;
	char buf[4096];

	(void)state;
	assert_int_equal(astro_config_init(&c), 0);
	assert_null(c.config);
	assert_int_equal(c.cache_max, 8ULL * 1024 * 1024 * 1024);
	assert_int_equal(c.timeout, 30);
	assert_false(c.offline);
	assert_string_equal(c.spacetrack_url, "https://www.space-track.org");
	assert_null(c.spacetrack_credentials);
	assert_int_equal(c.spacetrack_rate.n, 2);
	assert_int_equal(c.spacetrack_rate.w[0].limit, 20);
	assert_int_equal(c.spacetrack_rate.w[0].seconds, 60);
	assert_int_equal(c.spacetrack_rate.w[1].limit, 200);
	assert_int_equal(c.spacetrack_rate.w[1].seconds, 3600);
	assert_int_equal(c.tle_ttl, 3600);
	assert_int_equal(c.tle_final_after, 30 * 86400);
	assert_null(c.s3_endpoint);
	assert_string_equal(c.s3_region, "us-east-1");
	assert_null(c.s3_credentials);
	assert_string_equal(c.s3_profile, "default");
	assert_false(c.s3_anonymous);
	assert_false(c.s3_request_payer);
	assert_int_equal(c.s3_path_style, -1);
	assert_null(c.fits_buckets);
	assert_null(c.fits_http);
	assert_null(c.staging_dir);
	assert_string_equal(c.satfilter_catalog, "spacetrack");
	assert_int_equal(c.satfilter_refresh, 6 * 3600);
	assert_null(c.satfilter_listen);
	assert_true(c.site_lat == -30.2446333);
	assert_true(c.site_lon == -70.7494167);
	assert_true(c.site_height == 2662.75);
	assert_null(c.obs_config);
	assert_false(c.uid_set || c.gid_set || c.umask_set);
	assert_false(c.allow_other || c.ro || c.auto_unmount);
	assert_true(c.default_permissions);
	assert_int_equal(c.log_level, LOG_NOTICE);
	assert_int_equal(c.max_threads, 64);
	if (geteuid() == 0) {
		assert_string_equal(c.cache_dir, "/var/cache/astrofs");
		assert_string_equal(c.archive_dir, "/var/lib/astrofs/archive");
		assert_string_equal(c.obs_store, "/var/lib/astrofs/obs");
	}
	/* The dump spells the defaults the way SPEC's table does. */
	assert_dump(&c, "cache_max", "8G");
	assert_dump(&c, "spacetrack_rate", "20/min,200/h");
	assert_dump(&c, "tle_ttl", "1h");
	assert_dump(&c, "tle_final_after", "30d");
	assert_dump(&c, "satfilter_refresh", "6h");
	assert_dump(&c, "fits_ttl", "10s");
	assert_dump(&c, "fits_readahead", "32");
	assert_dump(&c, "site_lat", "-30.2446333");
	assert_dump(&c, "site_lon", "-70.7494167");
	assert_dump(&c, "site_height", "2662.75");
	assert_dump(&c, "s3_path_style", "auto");
	assert_dump(&c, "loglevel", "notice");
	assert_dump(&c, "uid", "");
	assert_dump(&c, "entry_timeout", "1");
	assert_dump(&c, "attr_timeout", "1");
	assert_dump(&c, "negative_timeout", "2");
	assert_dump(&c, "nonempty", "off");
	astro_config_free(&c);

	user_defaults_in_child("/home/tester", NULL, NULL, buf, sizeof(buf));
	assert_string_equal(buf, "/home/tester/.cache/astrofs|"
			    "/home/tester/.local/share/astrofs/archive|"
			    "/home/tester/.local/share/astrofs/obs");
	user_defaults_in_child("/home/tester", "/xdg/c", "/xdg/d", buf, sizeof(buf));
	assert_string_equal(buf, "/xdg/c/astrofs|/xdg/d/astrofs/archive|/xdg/d/astrofs/obs");
	/* XDG says relative values are invalid and must be ignored. */
	user_defaults_in_child("/home/tester", "rel/c", "rel/d", buf, sizeof(buf));
	assert_string_equal(buf, "/home/tester/.cache/astrofs|"
			    "/home/tester/.local/share/astrofs/archive|"
			    "/home/tester/.local/share/astrofs/obs");
}

/* ---- every option from a string --------------------------------------- */

struct set_case {
	const char *name, *value;
	int rc;
	const char *want;	/* rc 0: dump value; rc < 0: text in the message */
};

static const struct set_case set_cases[] = {
	{ "config", "/etc/astrofs/other.conf", 0, "/etc/astrofs/other.conf" },
	{ "cache_dir", "/srv/cache", 0, "/srv/cache" },
	{ "cache_dir", "", -EINVAL, "cache_dir" },
	{ "cache_dir", NULL, -EINVAL, "needs a value" },
	{ "cache_max", "1M", 0, "1M" },
	{ "cache_max", "1536M", 0, "1536M" },
	{ "cache_max", "1048577", 0, "1048577" },
	{ "cache_max", "1048575", -EINVAL, "between 1M and" },
	{ "cache_max", "lots", -EINVAL, "bad value for cache_max: \"lots\"" },
	{ "timeout", "2min", 0, "2min" },
	{ "timeout", "3600", 0, "1h" },
	{ "timeout", "abc", -EINVAL,
	  "bad value for timeout: \"abc\" (expected seconds, e.g. 30 or 2min)" },
	{ "timeout", "0", -EINVAL, "bad value for timeout: \"0\" (must be between 1s and 1h)" },
	{ "timeout", "3601", -EINVAL, "between 1s and 1h" },
	{ "offline", NULL, 0, "on" },
	{ "offline", "no", 0, "off" },
	{ "offline", "maybe", -EINVAL, "bad value for offline: \"maybe\"" },
	{ "spacetrack_url", "http://127.0.0.1:8080/", 0, "http://127.0.0.1:8080" },
	{ "spacetrack_url", "https://st.example/base", 0, "https://st.example/base" },
	{ "spacetrack_url", "ftp://x", -EINVAL, "bad value for spacetrack_url: \"ftp://x\"" },
	{ "spacetrack_url", "http://", -EINVAL, "spacetrack_url" },
	{ "spacetrack_url", "http://a b", -EINVAL, "spacetrack_url" },
	{ "spacetrack_credentials", "/etc/astrofs/st.cred", 0, "/etc/astrofs/st.cred" },
	{ "spacetrack_credentials", "", 0, "" },
	{ "spacetrack_rate", "10/min;100/h", 0, "10/min,100/h" },
	{ "spacetrack_rate", "1/s,5/10min", 0, "1/s,5/10min" },
	{ "spacetrack_rate", "0/min", -EINVAL, "bad value for spacetrack_rate: \"0/min\"" },
	{ "tle_ttl", "90", 0, "90s" },
	{ "tle_ttl", "0", -EINVAL, "tle_ttl" },
	{ "tle_ttl", "31d", -EINVAL, "between 1s and 30d" },
	{ "tle_final_after", "2d", 0, "2d" },
	{ "tle_final_after", "3651d", -EINVAL, "tle_final_after" },
	{ "s3_endpoint", "http://127.0.0.1:9000", 0, "http://127.0.0.1:9000" },
	{ "s3_endpoint", "", 0, "" },
	{ "s3_endpoint", "127.0.0.1:9000", -EINVAL, "s3_endpoint" },
	{ "s3_region", "eu-west-1", 0, "eu-west-1" },
	{ "s3_region", "", -EINVAL, "s3_region" },
	{ "s3_region", "eu west", -EINVAL, "s3_region" },
	{ "s3_credentials", "/root/.aws/credentials", 0, "/root/.aws/credentials" },
	{ "s3_profile", "science", 0, "science" },
	{ "s3_credentials_source", "imds", 0, "imds" },
	{ "s3_anonymous", NULL, 0, "on" },
	{ "s3_anonymous", "1", 0, "on" },
	{ "s3_anonymous", "2", -EINVAL, "s3_anonymous" },
	{ "s3_request_payer", "true", 0, "on" },
	{ "s3_path_style", "auto", 0, "auto" },
	{ "s3_path_style", "on", 0, "on" },
	{ "s3_path_style", NULL, 0, "on" },
	{ "s3_path_style", "off", 0, "off" },
	{ "s3_path_style", "sometimes", -EINVAL, "s3_path_style" },
	{ "fits_buckets", "stpubdata,tess-pub", 0, "stpubdata,tess-pub" },
	{ "fits_buckets", "a; b;c", 0, "a,b,c" },
	{ "fits_buckets", "a/b", -EINVAL, "fits_buckets" },
	{ "fits_buckets", ",", -EINVAL, "fits_buckets" },
	{ "fits_azure", "tess=https://acct.blob.core.windows.net/tess;emu=http://127.0.0.1:10000/devstoreaccount1/c", 0,
	  "tess=https://acct.blob.core.windows.net/tess;emu=http://127.0.0.1:10000/devstoreaccount1/c" },
	{ "fits_azure", "a=https://h/c;a=https://h/d", -EINVAL, "fits_azure" },
	{ "fits_azure", "a=ftp://h/c", -EINVAL, "fits_azure" },
	{ "fits_azure_credentials", "/etc/astrofs/azure.cred", 0, "/etc/astrofs/azure.cred" },
	{ "fits_http", "mast=https://mast.stsci.edu/api/v0.1/Download/file?uri=", 0,
	  "mast=https://mast.stsci.edu/api/v0.1/Download/file?uri=" },
	{ "fits_http", "a=http://h1/x;b=https://h2", 0, "a=http://h1/x;b=https://h2" },
	{ "fits_http", " a=http://h1/x ; ;b=https://h2; ", 0, "a=http://h1/x;b=https://h2" },
	{ "fits_http", "a=http://h1;a=http://h2", -EINVAL, "fits_http" },
	{ "fits_http", "ab=http://h1;a=http://h2", 0, "ab=http://h1;a=http://h2" },
	{ "fits_http", ";", -EINVAL, "fits_http" },
	{ "fits_http", "a/b=http://h1", -EINVAL, "fits_http" },
	{ "fits_http", "a=h1", -EINVAL, "fits_http" },
	{ "fits_http", "=http://h1", -EINVAL, "fits_http" },
	{ "archive_dir", "/srv/archive", 0, "/srv/archive" },
	{ "staging_dir", "/srv/staging", 0, "/srv/staging" },
	{ "satfilter_catalog", "/srv/catalog.3le", 0, "/srv/catalog.3le" },
	{ "satfilter_catalog", "", -EINVAL, "satfilter_catalog" },
	{ "satfilter_refresh", "30min", 0, "30min" },
	{ "fits_ttl", "0", 0, "0s" },
	{ "fits_ttl", "2min", 0, "2min" },
	{ "fits_ttl", "2d", -EINVAL, "between 0s and 1d" },
	{ "fits_readahead", "0", 0, "0" },
	{ "fits_readahead", "64", 0, "64" },
	{ "fits_readahead", "1025", -EINVAL, "fits_readahead" },
	{ "fits_readahead", "lots", -EINVAL, "fits_readahead" },
	{ "satfilter_refresh", "soon", -EINVAL, "satfilter_refresh" },
	{ "satfilter_listen", "127.0.0.1:8080", 0, "127.0.0.1:8080" },
	{ "satfilter_buffer", "0.02", 0, "0.02" },
	{ "satfilter_buffer", "-0.1", -EINVAL, "satfilter_buffer" },
	{ "satfilter_buffer", "5", -EINVAL, "satfilter_buffer" },
	{ "satfilter_dut1", "-0.25", 0, "-0.25" },
	{ "satfilter_dut1", "1.5", -EINVAL, "satfilter_dut1" },
	{ "satfilter_listen", "[::1]:8080", 0, "[::1]:8080" },
	{ "satfilter_tls_cert", "/etc/ssl/certs/sattle.pem", 0, "/etc/ssl/certs/sattle.pem" },
	{ "satfilter_tls_key", "/etc/ssl/private/sattle.key", 0, "/etc/ssl/private/sattle.key" },
	{ "satfilter_token", "/etc/astrofs/sattle.token", 0, "/etc/astrofs/sattle.token" },
	{ "satfilter_allow", "10.0.0.0/8;127.0.0.1;::1;fd00::/8", 0, "10.0.0.0/8;127.0.0.1;::1;fd00::/8" },
	{ "satfilter_allow", "10.0.0.0/33", -EINVAL, "satfilter_allow" },
	{ "satfilter_allow", "example.org", -EINVAL, "satfilter_allow" },
	{ "satfilter_allow", "::1/129", -EINVAL, "satfilter_allow" },
	{ "satfilter_listen", "8080", -EINVAL, "satfilter_listen" },
	{ "telemetry_listen", "127.0.0.1:8081", 0, "127.0.0.1:8081" },
	{ "archive_url", "https://archive.example:8081/", 0, "https://archive.example:8081" },
	{ "archive_url", "ftp://archive.example", -EINVAL, "archive_url" },
	{ "archive_token", "/etc/astrofs/archive.token", 0, "/etc/astrofs/archive.token" },
	{ "archive_ca", "/etc/astrofs/archive-ca.pem", 0, "/etc/astrofs/archive-ca.pem" },
	{ "telemetry_listen", "[::1]:8081", 0, "[::1]:8081" },
	{ "telemetry_listen", "8081", -EINVAL, "telemetry_listen" },
	{ "telemetry_tls_cert", "/etc/ssl/certs/archive.pem", 0, "/etc/ssl/certs/archive.pem" },
	{ "telemetry_tls_key", "/etc/ssl/private/archive.key", 0, "/etc/ssl/private/archive.key" },
	{ "telemetry_token", "/etc/astrofs/archive.tokens", 0, "/etc/astrofs/archive.tokens" },
	{ "telemetry_allow", "10.0.0.0/8;::1", 0, "10.0.0.0/8;::1" },
	{ "telemetry_allow", "10.0.0.0/33", -EINVAL, "telemetry_allow" },
	{ "satfilter_listen", "localhost:0", -EINVAL, "satfilter_listen" },
	{ "satfilter_listen", "localhost:65536", -EINVAL, "satfilter_listen" },
	{ "site_lat", "19.8206", 0, "19.8206" },
	{ "site_lat", "-90", 0, "-90" },
	{ "site_lat", "90.5", -EINVAL, "bad value for site_lat: \"90.5\" (must be between -90 and 90)" },
	{ "site_lat", "north", -EINVAL, "site_lat" },
	{ "site_lat", "nan", -EINVAL, "site_lat" },
	{ "site_lat", "1e999", -EINVAL, "site_lat" },
	{ "site_lon", "-155.4681", 0, "-155.4681" },
	{ "site_lon", "200", -EINVAL, "site_lon" },
	{ "site_height", "4207", 0, "4207" },
	{ "site_height", "4207m", -EINVAL, "site_height" },
	{ "obs_config", "/etc/astrofs/sites.yaml", 0, "/etc/astrofs/sites.yaml" },
	{ "obs_store", "/srv/obs", 0, "/srv/obs" },
	{ "obs_backend", "aws", 0, "aws" },
	{ "obs_aws_layout", "pythonbits", 0, "pythonbits" },
	{ "obs_aws_region", "eu-west-1", 0, "eu-west-1" },
	{ "obs_sqs_endpoint", "http://localhost:4567/", 0, "http://localhost:4567" },
	{ "obs_sqs_endpoint", "localhost:4567", -EINVAL, "obs_sqs_endpoint" },
	{ "obs_dynamodb_endpoint", "http://127.0.0.1:8000", 0, "http://127.0.0.1:8000" },
	{ "obs_s3_endpoint", "https://s3.example.org", 0, "https://s3.example.org" },
	{ "obs_sqs_prefix", "pythonbits", 0, "pythonbits" },
	{ "obs_table", "astrofs_obs", 0, "astrofs_obs" },
	{ "obs_table", "two words", -EINVAL, "obs_table" },
	{ "obs_bucket", "astrofs-obs", 0, "astrofs-obs" },
	{ "shared_cache", "s3://fleet/astro", 0, "s3://fleet/astro" },
	{ "shared_cache_endpoint", "http://127.0.0.1:7480/", 0, "http://127.0.0.1:7480" },
	{ "shared_cache_region", "eu-west-1", 0, "eu-west-1" },
	{ "shared_cache_credentials", "/etc/astrofs/fleet.cred", 0, "/etc/astrofs/fleet.cred" },
	{ "obs_aws_credentials", "/etc/astrofs/aws", 0, "/etc/astrofs/aws" },
	{ "uid", "1000", 0, "1000" },
	{ "uid", "", 0, "" },
	{ "uid", "alice", -EINVAL, "bad value for uid: \"alice\"" },
	{ "uid", "4294967295", -EINVAL, "uid" },
	{ "uid", "-1", -EINVAL, "uid" },
	{ "gid", "100", 0, "100" },
	{ "umask", "022", 0, "022" },
	{ "umask", "0077", 0, "077" },
	{ "umask", "999", -EINVAL, "umask" },
	{ "umask", "1000", -EINVAL, "between 000 and 777" },
	{ "allow_other", NULL, 0, "on" },
	{ "default_permissions", "off", 0, "off" },
	{ "ro", NULL, 0, "on" },
	{ "auto_unmount", "yes", 0, "on" },
	{ "loglevel", "debug", 0, "debug" },
	{ "loglevel", "4", 0, "warning" },
	{ "loglevel", "chatty", -EINVAL, "bad value for loglevel: \"chatty\"" },
	{ "loglevel", NULL, -EINVAL, "loglevel" },
	{ "max_threads", "8", 0, "8" },
	{ "max_threads", "0", -EINVAL, "between 1 and 1024" },
	{ "max_threads", "8x", -EINVAL, "max_threads" },
	{ "obs_max_pending", "50", 0, "50" },
	{ "obs_max_pending", "0", -EINVAL, "between 1 and 100000" },
	{ "obs_max_pending", "100001", -EINVAL, "obs_max_pending" },
	{ "entry_timeout", "0.5", 0, "0.5" },
	{ "entry_timeout", "soon", -EINVAL, "bad value for entry_timeout" },
	{ "attr_timeout", "0", 0, "0" },
	{ "attr_timeout", "-1", -EINVAL, "attr_timeout" },
	{ "negative_timeout", "10", 0, "10" },
	{ "negative_timeout", "7200", -EINVAL, "between 0 and 3600" },
	{ "negative_timeout", NULL, -EINVAL, "negative_timeout" },
	{ "nonempty", NULL, 0, "on" },
	{ "foo", "1", -ENOENT, "unknown option: foo" },
	{ "spacetrack_user", "alice", -ENOENT, "unknown option: spacetrack_user" },
	{ "spacetrack_password", "hunter2", -ENOENT, "unknown option: spacetrack_password" },
	{ "Timeout", "30", -ENOENT, "unknown option: Timeout" },
};

static void every_option(void **state)
{
	struct astro_config c;
	char err[512];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < ASTRO_ARRAY_SIZE(set_cases); i++) {
		const struct set_case *k = &set_cases[i];

		assert_int_equal(astro_config_init(&c), 0);
		err[0] = '\0';
		rc = astro_config_set(&c, k->name, k->value, err, sizeof(err));
		if (rc != k->rc)
			fail_msg("%s=%s: rc %d, want %d (%s)", k->name, k->value ? k->value : "(flag)",
				 rc, k->rc, err);
		if (rc == 0) {
			assert_dump(&c, k->name, k->want);
		} else {
			if (!strstr(err, k->want))
				fail_msg("%s: message \"%s\" lacks \"%s\"", k->name, err, k->want);
			assert_null(strchr(err, '\n'));
		}
		astro_config_free(&c);
	}
}

/*
 * SPEC section 1's table, copied by hand: every name must be settable,
 * dumped, and covered by a good case above; and the dump lists nothing
 * else but the brief's additions and the masked secrets.
 */
static void spec_options_all_known(void **state)
{
	static const char *const spec[] = {
		"config", "cache_dir", "cache_max", "timeout", "offline", "spacetrack_url",
		"spacetrack_credentials", "spacetrack_rate", "tle_ttl", "tle_final_after",
		"s3_endpoint", "s3_region", "s3_credentials", "s3_profile", "s3_anonymous",
		"s3_credentials_source", "s3_request_payer", "s3_path_style", "fits_buckets", "fits_http", "archive_dir",
		"staging_dir", "satfilter_catalog", "satfilter_refresh", "site_lat", "site_lon",
		"site_height", "obs_config", "obs_store", "uid", "gid", "umask", "allow_other",
		"default_permissions", "ro", "satfilter_tls_cert",
		"satfilter_tls_key", "satfilter_token", "satfilter_allow",
		"telemetry_listen", "telemetry_tls_cert", "telemetry_tls_key", "telemetry_token",
		"telemetry_allow", "archive_url", "archive_token",
		/* additions */
		"archive_ca",
		"loglevel", "max_threads", "satfilter_listen", "auto_unmount",
		"satfilter_buffer", "satfilter_dut1", "fits_ttl", "fits_readahead",
		"entry_timeout", "attr_timeout", "negative_timeout", "nonempty",
		"obs_backend", "obs_aws_region", "obs_sqs_endpoint", "obs_dynamodb_endpoint",
		"obs_s3_endpoint", "obs_sqs_prefix", "obs_table", "obs_bucket",
		"obs_aws_credentials", "obs_max_pending", "obs_aws_layout",
		"shared_cache", "shared_cache_endpoint", "shared_cache_region",
		"shared_cache_credentials", "fits_azure", "fits_azure_credentials",
		/* loaded, not settable */
		"spacetrack_user", "spacetrack_password",
	};
	struct astro_config c;
	char *d, *line, *save = NULL, *v;
	size_t i, j, lines = 0;
	bool covered;

	(void)state;
	assert_int_equal(astro_config_init(&c), 0);
	for (i = 0; i < ASTRO_ARRAY_SIZE(spec); i++) {
		if (!(v = dump_get(&c, spec[i])))
			fail_msg("dump lacks %s", spec[i]);
		free(v);
		covered = i >= ASTRO_ARRAY_SIZE(spec) - 2;
		for (j = 0; j < ASTRO_ARRAY_SIZE(set_cases); j++)
			covered |= set_cases[j].rc == 0 && strcmp(set_cases[j].name, spec[i]) == 0;
		if (!covered)
			fail_msg("no good-value case for %s", spec[i]);
	}
	d = astro_config_dump(&c);
	for (line = strtok_r(d, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		lines++;
	assert_int_equal(lines, ASTRO_ARRAY_SIZE(spec));
	free(d);
	astro_config_free(&c);
}

/* shared_cache names a bucket; its credentials file is a secret. */
static void shared_cache_checked(void **state)
{
	static const char *const bad[] = { "fleet/astro", "s3://", "s3:///astro", "http://x/y" };
	struct tmp *t = *state;
	struct astro_config c;
	char err[256], *cred;

	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(bad); i++) {
		assert_int_equal(astro_config_init(&c), 0);
		assert_int_equal(astro_config_set(&c, "cache_dir", t->dir, err, sizeof(err)), 0);
		assert_int_equal(astro_config_set(&c, "shared_cache", bad[i], err, sizeof(err)), 0);
		assert_int_equal(astro_config_finish(&c, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "shared_cache: expected s3://BUCKET/PREFIX"));
		astro_config_free(&c);
	}
	cred = write_file(t, "fleet.cred", "[default]\naws_access_key_id = A\n", 0644);
	assert_int_equal(astro_config_init(&c), 0);
	assert_int_equal(astro_config_set(&c, "shared_cache", "s3://fleet", err, sizeof(err)), 0);
	assert_int_equal(astro_config_set(&c, "shared_cache_credentials", cred, err, sizeof(err)), 0);
	assert_int_equal(astro_config_finish(&c, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "shared_cache_credentials"));
	astro_config_free(&c);
	assert_int_equal(chmod(cred, 0600), 0);
	assert_int_equal(astro_config_init(&c), 0);
	assert_int_equal(astro_config_set(&c, "shared_cache", "s3://fleet", err, sizeof(err)), 0);
	assert_int_equal(astro_config_set(&c, "shared_cache_credentials", cred, err, sizeof(err)), 0);
	if (astro_config_finish(&c, err, sizeof(err)) != 0)
		fail_msg("finish: %s", err);
	astro_config_free(&c);
	free(cred);
}

static void flags_and_last_wins(void **state)
{
	struct astro_config c;
	char err[256];

	(void)state;
	assert_int_equal(astro_config_init(&c), 0);
	assert_int_equal(astro_config_set(&c, "nodefault_permissions", NULL, err, sizeof(err)), 0);
	assert_false(c.default_permissions);
	assert_int_equal(astro_config_set(&c, "offline", NULL, err, sizeof(err)), 0);
	assert_int_equal(astro_config_set(&c, "nooffline", NULL, err, sizeof(err)), 0);
	assert_false(c.offline);
	/* `no` only negates booleans, and only as a bare flag. */
	assert_int_equal(astro_config_set(&c, "notimeout", NULL, err, sizeof(err)), -ENOENT);
	assert_int_equal(astro_config_set(&c, "nooffline", "1", err, sizeof(err)), -ENOENT);
	assert_int_equal(astro_config_set(&c, "timeout", "10", err, sizeof(err)), 0);
	assert_int_equal(astro_config_set(&c, "timeout", "20", err, sizeof(err)), 0);
	assert_int_equal(c.timeout, 20);
	/* A rejected value leaves the previous one in place. */
	assert_int_equal(astro_config_set(&c, "timeout", "x", err, sizeof(err)), -EINVAL);
	assert_int_equal(c.timeout, 20);
	assert_int_equal(astro_config_set(&c, "cache_dir", "/a", err, sizeof(err)), 0);
	assert_int_equal(astro_config_set(&c, "cache_dir", "/b", err, sizeof(err)), 0);
	assert_string_equal(c.cache_dir, "/b");
	assert_int_equal(astro_config_set(&c, "config", "/etc/x.conf", err, sizeof(err)), 0);
	assert_string_equal(c.config, "/etc/x.conf");
	/* A control character never reaches the message verbatim. */
	assert_int_equal(astro_config_set(&c, "timeout", "1\nFAKE", err, sizeof(err)), -EINVAL);
	assert_null(strchr(err, '\n'));
	assert_int_equal(astro_config_set(&c, "cache_dir", "/a\nb", err, sizeof(err)), -EINVAL);
	/* err may be NULL */
	assert_int_equal(astro_config_set(&c, "timeout", "x", NULL, 0), -EINVAL);
	astro_config_free(&c);
}

static void fstab_options_ignored(void **state)
{
	static const char *const ignored[] = {
		"_netdev", "nofail", "noauto", "auto", "user", "users", "nouser", "defaults",
		"x-systemd.automount", "x-systemd.mount-timeout=30", "x-gvfs-show",
		"comment=systemd.automount", "comment", "rw", "dev", "nodev", "suid", "nosuid",
		"exec", "noexec", "atime", "noatime", "relatime",
	};
	static const char *const real[] = {
		"ro", "allow_other", "offline", "foo", "x-", "nofail=1", "commentary", "_net",
		"", "default_permissions",
	};
	struct astro_config c;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < ASTRO_ARRAY_SIZE(ignored); i++)
		if (!astro_config_is_ignored(ignored[i]))
			fail_msg("%s not ignored", ignored[i]);
	for (i = 0; i < ASTRO_ARRAY_SIZE(real); i++)
		if (astro_config_is_ignored(real[i]))
			fail_msg("%s ignored", real[i]);
	assert_false(astro_config_is_ignored(NULL));
	/* The setter accepts them too, changing nothing. */
	assert_int_equal(astro_config_init(&c), 0);
	assert_int_equal(astro_config_set(&c, "_netdev", NULL, err, sizeof(err)), 0);
	assert_int_equal(astro_config_set(&c, "comment", "systemd.automount", err, sizeof(err)), 0);
	assert_int_equal(astro_config_set(&c, "nosuid", NULL, err, sizeof(err)), 0);
	assert_false(c.ro);
	astro_config_set(&c, "ro", NULL, err, sizeof(err));
	assert_true(c.ro);
	astro_config_free(&c);
}

/* ---- files ------------------------------------------------------------ */

static void file_loading(void **state)
{
	struct tmp *t = *state;
	struct astro_config c;
	char err[512], *path;

	assert_int_equal(astro_config_init(&c), 0);
	path = write_file(t, "a.conf",
			  "# astrofs test config\n"
			  "\n"
			  "   cache_dir   =   /srv/cache    \n"
			  "timeout=60  # a trailing comment\n"
			  "\t offline\t\n"
			  "fits_http = a=http://h/x#frag\n"
			  "spacetrack_url = http://127.0.0.1:1/ # local stub\n"
			  "_netdev\n"
			  "timeout = 90\r\n"
			  "  # indented comment\n"
			  "s3_endpoint =# unset, not a value\n"
			  "site_lat = 19.5", 0644);
	assert_int_equal(astro_config_load_file(&c, path, err, sizeof(err)), 0);
	assert_string_equal(c.config, path);
	assert_string_equal(c.cache_dir, "/srv/cache");
	assert_int_equal(c.timeout, 90);
	assert_true(c.offline);
	assert_string_equal(c.fits_http, "a=http://h/x#frag");
	assert_string_equal(c.spacetrack_url, "http://127.0.0.1:1");
	assert_null(c.s3_endpoint);
	assert_true(c.site_lat == 19.5);

	/* -o after the file wins. */
	assert_int_equal(astro_config_set(&c, "timeout", "5", err, sizeof(err)), 0);
	assert_int_equal(c.timeout, 5);
	free(path);
	astro_config_free(&c);
}

static void file_errors(void **state)
{
#define TEXT(s) s, sizeof(s) - 1	/* keeps an embedded NUL */
	static const struct { const char *text; size_t len; const char *msg; } cases[] = {
		{ TEXT("timeout = 30\n\n# c\ntimeout = abc\n"),
		  ":4: bad value for timeout: \"abc\" (expected seconds, e.g. 30 or 2min)" },
		{ TEXT("cache_dir = /x\nbogus = 1\n"), ":2: unknown option: bogus" },
		{ TEXT("= 5\n"), ":1: missing option name" },
		{ TEXT("offline\nconfig = /etc/other.conf\n"), ":2: config cannot be set" },
		{ TEXT("\n\n\ntimeout\n"), ":4: option timeout needs a value" },
		{ TEXT("offline\na\0b = 1\n"), ":2: NUL byte" },
		{ TEXT("timeout = 1 # ok\ncache max = 1G\n"), ":2: unknown option: cache max" },
	};
#undef TEXT
	struct tmp *t = *state;
	struct astro_config c;
	char err[512], *path, name[32];
	size_t i;
	int fd;

	for (i = 0; i < ASTRO_ARRAY_SIZE(cases); i++) {
		snprintf(name, sizeof(name), "bad%zu.conf", i);
		path = write_file(t, name, "", 0644);
		fd = open(path, O_WRONLY | O_TRUNC);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, cases[i].text, cases[i].len), (ssize_t)cases[i].len);
		close(fd);
		assert_int_equal(astro_config_init(&c), 0);
		err[0] = '\0';
		assert_int_equal(astro_config_load_file(&c, path, err, sizeof(err)), -EINVAL);
		if (strncmp(err, path, strlen(path)) != 0 || !strstr(err, cases[i].msg))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].msg);
		astro_config_free(&c);
		free(path);
	}

	assert_int_equal(astro_config_init(&c), 0);
	assert_true(asprintf(&path, "%s/missing.conf", t->dir) > 0);
	assert_int_equal(astro_config_load_file(&c, path, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
	assert_null(c.config);
	assert_int_equal(astro_config_load_file(&c, t->dir, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	free(path);
	astro_config_free(&c);
}

/* What was dumped reads back as a config file giving the same dump. */
static void dump_round_trip(void **state)
{
	static const char *const settings[][2] = {
		{ "cache_max", "3G" }, { "timeout", "45" }, { "offline", NULL },
		{ "spacetrack_rate", "7/min,70/h,700/d" }, { "tle_ttl", "90min" },
		{ "s3_endpoint", "http://127.0.0.1:9000/" }, { "s3_path_style", "off" },
		{ "fits_buckets", "a;b" }, { "fits_http", "m=https://h/p" },
		{ "site_lat", "-24.627222" }, { "site_lon", "-70.404167" },
		{ "site_height", "2635.43" }, { "uid", "1000" }, { "umask", "027" },
		{ "loglevel", "info" }, { "max_threads", "16" },
		{ "satfilter_listen", "127.0.0.1:9999" }, { "ro", NULL },
		{ "attr_timeout", "0.25" }, { "nonempty", NULL },
	};
	struct astro_config a, b;
	char err[512], *d1, *d2;
	size_t i;

	(void)state;
	assert_int_equal(astro_config_init(&a), 0);
	for (i = 0; i < ASTRO_ARRAY_SIZE(settings); i++)
		assert_int_equal(astro_config_set(&a, settings[i][0], settings[i][1], err,
						  sizeof(err)), 0);
	d1 = astro_config_dump(&a);
	assert_non_null(d1);
	/* `config` and the masked secrets are not settable from a file. */
	assert_int_equal(strncmp(d1, "config =\n", 9), 0);
	assert_non_null(strstr(d1, "\nspacetrack_user =\nspacetrack_password =\n"));
	*strstr(d1, "\nspacetrack_user =") = '\0';
	assert_int_equal(astro_config_init(&b), 0);
	/* Start b from something else so the file must change it. */
	astro_config_set(&b, "umask", "077", err, sizeof(err));
	if (astro_config_load_buffer(&b, "dump", d1 + 9, strlen(d1 + 9), err, sizeof(err)) != 0)
		fail_msg("dump does not read back: %s", err);
	d2 = astro_config_dump(&b);
	*strstr(d2, "\nspacetrack_user =") = '\0';
	assert_string_equal(d1, d2);
	assert_non_null(strstr(d2, "\nspacetrack_rate = 7/min,70/h,700/d\n"));
	assert_non_null(strstr(d2, "\nsite_lat = -24.627222\n"));
	free(d1);
	free(d2);
	astro_config_free(&a);
	astro_config_free(&b);
}

static void raw_o_elements(void **state)
{
	struct astro_config c;
	char err[256];

	(void)state;
	assert_int_equal(astro_config_init(&c), 0);
	assert_int_equal(astro_config_set(&c, "timeout=45", NULL, err, sizeof(err)), 0);
	assert_int_equal(c.timeout, 45);
	assert_int_equal(astro_config_set(&c, "fits_http=a=http://h/x", NULL, err, sizeof(err)), 0);
	assert_string_equal(c.fits_http, "a=http://h/x");
	assert_int_equal(astro_config_set(&c, "x-systemd.mount-timeout=30", NULL, err,
					  sizeof(err)), 0);
	assert_int_equal(astro_config_set(&c, "comment=systemd.automount", NULL, err,
					  sizeof(err)), 0);
	assert_int_equal(astro_config_set(&c, "bogus=1", NULL, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "unknown option: bogus");
	assert_int_equal(astro_config_set(&c, "timeout=", NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(c.timeout, 45);
	astro_config_free(&c);
}

/* Signed URLs and URL passwords are secrets too (fuse.md: never log them). */
static void url_secrets_masked(void **state)
{
	struct astro_config c;
	char err[512], *d;

	(void)state;
	assert_int_equal(astro_config_init(&c), 0);
	assert_int_equal(astro_config_set(&c, "fits_http",
		"az=https://acct.blob.core.windows.net/c?sv=2022-11-02&sig=AZSECRET%3D&se=2030;"
		"gcs=https://storage.googleapis.com/b?X-Goog-Signature=GSECRET", err, sizeof(err)), 0);
	assert_int_equal(astro_config_set(&c, "spacetrack_url", "https://bob:PWSECRET@st.example/",
					  err, sizeof(err)), 0);
	assert_int_equal(astro_config_set(&c, "fits_azure",
		"t=https://acct.blob.core.windows.net/t?sp=rl&sig=ASECRET", err, sizeof(err)), 0);
	d = astro_config_dump(&c);
	assert_non_null(strstr(d, "\nfits_azure = t=https://acct.blob.core.windows.net/t?sp=rl&sig=********\n"));
	assert_null(strstr(d, "SECRET"));
	assert_non_null(strstr(d, "\nfits_http = az=https://acct.blob.core.windows.net/c?"
			       "sv=2022-11-02&sig=********&se=2030;"
			       "gcs=https://storage.googleapis.com/b?X-Goog-Signature=********\n"));
	assert_non_null(strstr(d, "\nspacetrack_url = https://********@st.example\n"));
	free(d);
	/* Nor does a refused value leak one into the message. */
	assert_int_equal(astro_config_set(&c, "fits_http", "a=https://h/?sig=SSECRET;b=ftp://x",
					  err, sizeof(err)), -EINVAL);
	assert_null(strstr(err, "SSECRET"));
	assert_non_null(strstr(err, "bad value for fits_http"));
	astro_config_free(&c);
}

/* ---- credentials and finish ------------------------------------------ */

#define SECRET "s3cr3t Pa55#word"

static void credentials_file(void **state)
{
	struct tmp *t = *state;
	struct astro_config c;
	char err[512], *path, *d, *missing;
	int rc;

	path = write_file(t, "st.cred",
			  "# space-track\n"
			  "identity = alice@example.org\n"
			  "\n"
			  "password =   " SECRET "  \n", 0600);
	assert_int_equal(astro_config_init(&c), 0);
	/* A file wins over the environment. */
	setenv("SPACETRACK_USER", "envuser", 1);
	setenv("SPACETRACK_PASSWORD", "envpass", 1);
	assert_int_equal(astro_config_set(&c, "spacetrack_credentials", path, err, sizeof(err)), 0);
	rc = astro_config_finish(&c, err, sizeof(err));
	if (rc)
		fail_msg("finish: %s", err);
	assert_string_equal(c.spacetrack_user, "alice@example.org");
	assert_string_equal(c.spacetrack_password, SECRET);

	d = astro_config_dump(&c);
	assert_non_null(d);
	assert_null(strstr(d, SECRET));
	assert_null(strstr(d, "Pa55"));
	assert_null(strstr(d, "alice"));
	assert_non_null(strstr(d, "\nspacetrack_password = ********\n"));
	assert_non_null(strstr(d, "\nspacetrack_user = ********\n"));
	/* The path is shown, the content never. */
	assert_non_null(strstr(d, path));
	free(d);
	astro_config_free(&c);

	/* Too open. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(astro_config_init(&c), 0);
	astro_config_set(&c, "spacetrack_credentials", path, err, sizeof(err));
	assert_int_equal(astro_config_finish(&c, err, sizeof(err)), -EACCES);
	{
		char *want;

		assert_true(asprintf(&want, "spacetrack_credentials %s: mode 0644 is too open; "
				     "chmod 600 it", path) > 0);
		assert_string_equal(err, want);
		free(want);
	}
	assert_null(c.spacetrack_password);
	astro_config_free(&c);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(astro_config_read_secret_file(path, "identity", &(char *){ NULL }, NULL, NULL,
						err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "mode 0640"));
	assert_int_equal(chmod(path, 0400), 0);
	{
		char *u = NULL;

		assert_int_equal(astro_config_read_secret_file(path, "identity", &u, NULL, NULL,
							err, sizeof(err)), 0);
		assert_string_equal(u, "alice@example.org");
		astro_secure_strfree(u);
	}

	/* Owned by another non-root user: only testable when we can chown. */
	if (geteuid() == 0) {
		assert_int_equal(chmod(path, 0600), 0);
		assert_int_equal(chown(path, 12345, 12345), 0);
		assert_int_equal(astro_config_init(&c), 0);
		astro_config_set(&c, "spacetrack_credentials", path, err, sizeof(err));
		assert_int_equal(astro_config_finish(&c, err, sizeof(err)), -EACCES);
		assert_non_null(strstr(err, "owned by uid 12345"));
		astro_config_free(&c);
	} else {
		fprintf(stderr, "# skip: foreign-owner credentials check needs root\n");
	}

	/* Missing. */
	assert_true(asprintf(&missing, "%s/nope.cred", t->dir) > 0);
	assert_int_equal(astro_config_init(&c), 0);
	astro_config_set(&c, "spacetrack_credentials", missing, err, sizeof(err));
	assert_int_equal(astro_config_finish(&c, err, sizeof(err)), -ENOENT);
	assert_int_equal(strncmp(err, "spacetrack_credentials ", 23), 0);
	assert_non_null(strstr(err, missing));
	astro_config_free(&c);
	free(missing);
	free(path);
}

static void credentials_file_errors(void **state)
{
	static const struct { const char *text, *msg; } cases[] = {
		{ "identity = a\n", "no `password = ...` line" },
		{ "password = p\n", "no `identity = ...` line" },
		{ "identity = a\nsecretline\npassword = p\n", ":2: expected `key = value`" },
		{ "identity =\npassword = p\n", ":1: empty value for identity" },
		{ "", "no `identity = ...` line" },
	};
	struct tmp *t = *state;
	char err[512], *path, *u, *p, name[32];
	size_t i;

	for (i = 0; i < ASTRO_ARRAY_SIZE(cases); i++) {
		snprintf(name, sizeof(name), "c%zu.cred", i);
		path = write_file(t, name, cases[i].text, 0600);
		u = p = NULL;
		assert_int_equal(astro_config_read_secret_file(path, "identity", &u, "password", &p,
							err, sizeof(err)), -EINVAL);
		if (!strstr(err, cases[i].msg))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].msg);
		assert_null(u);
		assert_null(p);
		free(path);
	}
	/* Other keys are skipped; the last of a repeated key wins. */
	path = write_file(t, "ok.cred", "x = y\nidentity = a\nidentity = b\npassword = =p=\n", 0600);
	u = p = NULL;
	assert_int_equal(astro_config_read_secret_file(path, "identity", &u, "password", &p,
						err, sizeof(err)), 0);
	assert_string_equal(u, "b");
	assert_string_equal(p, "=p=");
	astro_secure_strfree(u);
	astro_secure_strfree(p);
	free(path);
}

static void credentials_from_env(void **state)
{
	struct astro_config c;
	char err[512];

	(void)state;
	assert_int_equal(astro_config_init(&c), 0);
	assert_int_equal(astro_config_finish(&c, err, sizeof(err)), 0);
	assert_null(c.spacetrack_user);
	assert_null(c.spacetrack_password);
	astro_config_free(&c);

	setenv("SPACETRACK_USER", "bob", 1);
	setenv("SPACETRACK_PASSWORD", "pw-from-env", 1);
	assert_int_equal(astro_config_init(&c), 0);
	assert_int_equal(astro_config_finish(&c, err, sizeof(err)), 0);
	assert_string_equal(c.spacetrack_user, "bob");
	assert_string_equal(c.spacetrack_password, "pw-from-env");
	{
		char *d = astro_config_dump(&c);

		assert_null(strstr(d, "pw-from-env"));
		free(d);
	}
	astro_config_free(&c);

	unsetenv("SPACETRACK_PASSWORD");
	assert_int_equal(astro_config_init(&c), 0);
	assert_int_equal(astro_config_finish(&c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "SPACETRACK_USER is set but SPACETRACK_PASSWORD is not "
			    "(set both, or use spacetrack_credentials)");
	astro_config_free(&c);
	unsetenv("SPACETRACK_USER");
}

/* argv masking: secrets go, everything else stays, the length is kept. */
static void scrub_arg(void **state)
{
	static const struct { const char *in, *out, *secret; } cases[] = {
		{ "a=1,fits_http=w=http://h/p?sig=ABCDEFGHIJ&x=1,timeout=5",
		  "a=1,fits_http=w=http://h/p?sig=********&x=1,timeout=5", "ABCDEFGHIJ" },
		{ "s3_endpoint=http://k:Pw0rdPw0rd@h:9,offline",
		  "s3_endpoint=http://********@h:9,offline", "Pw0rdPw0rd" },
		/* an escaped comma stays inside its option */
		{ "fits_buckets=a\\,b,obs_s3_endpoint=http://h/?token=T0k3nT0k3n",
		  "fits_buckets=a\\,b,obs_s3_endpoint=http://h/?token=********", "T0k3nT0k3n" },
		/* a mask longer than its secret cuts the tail, never shows it */
		{ "fits_http=w=http://h/?sig=Q7,ro", "fits_http=w=http://h/?sig=*****", "Q7" },
		{ "cache_dir=/x,timeout=5", "cache_dir=/x,timeout=5", NULL },
		/* read as fuse_opt reads it: an escaped name is still the option */
		{ "fits\\_http=w=http://h/?sig=SeCrEtSeCrEt", "fits_http=w=http://h/?sig=********",
		  "SeCrEtSeCrEt" },
		/* \NNN is an octal byte (\072 ':'): the password is still found */
		{ "s3_endpoint=http://k\\072Pw0rdPw0rdPw@h,ro", "s3_endpoint=http://********@h,ro",
		  "Pw0rdPw0rdPw" },
	};

	(void)state;
	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(cases); i++) {
		size_t len = strlen(cases[i].in);
		char *a = strdup(cases[i].in);

		assert_non_null(a);
		astro_config_scrub_arg(a);
		assert_string_equal(a, cases[i].out);
		for (size_t j = strlen(a); j < len; j++)
			assert_int_equal(a[j], '\0');
		if (cases[i].secret)
			assert_null(memmem(a, len, cases[i].secret, strlen(cases[i].secret)));
		free(a);
	}
}

static void finish_consistency(void **state)
{
	struct tmp *t = *state;
	struct astro_config c;
	char err[512], cwd[PATH_MAX], *want, *cat;

	assert_int_equal(astro_config_init(&c), 0);
	astro_config_set(&c, "obs_backend", "redis", err, sizeof(err));
	assert_int_equal(astro_config_finish(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "obs_backend: expected local or aws, not 'redis'"));
	astro_config_free(&c);

	assert_int_equal(astro_config_init(&c), 0);
	astro_config_set(&c, "s3_credentials_source", "instance", err, sizeof(err));
	assert_int_equal(astro_config_finish(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "s3_credentials_source: expected auto, env, web_identity, "
				    "profile, container or imds, not 'instance'"));
	astro_config_free(&c);

	assert_int_equal(astro_config_init(&c), 0);
	astro_config_set(&c, "s3_credentials_source", "imds", err, sizeof(err));
	astro_config_set(&c, "s3_credentials", "/x/credentials", err, sizeof(err));
	assert_int_equal(astro_config_finish(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "s3_credentials names a file but s3_credentials_source is imds"));
	astro_config_free(&c);

	/* One /fits name, one source. */
	assert_int_equal(astro_config_init(&c), 0);
	astro_config_set(&c, "fits_http", "a=https://h/x;tess=https://h/y", err, sizeof(err));
	astro_config_set(&c, "fits_azure", "tess=https://acct.blob.core.windows.net/tess", err,
			 sizeof(err));
	assert_int_equal(astro_config_finish(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "fits_azure and fits_http both name 'tess'"));
	astro_config_free(&c);

	assert_int_equal(astro_config_init(&c), 0);
	astro_config_set(&c, "obs_aws_layout", "python", err, sizeof(err));
	assert_int_equal(astro_config_finish(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "obs_aws_layout: expected astrofs or pythonbits, not 'python'"));
	astro_config_free(&c);

	assert_int_equal(astro_config_init(&c), 0);
	astro_config_set(&c, "s3_anonymous", NULL, err, sizeof(err));
	astro_config_set(&c, "s3_credentials", "/x/credentials", err, sizeof(err));
	assert_int_equal(astro_config_finish(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "s3_anonymous and s3_credentials"));
	astro_config_free(&c);

	assert_int_equal(astro_config_init(&c), 0);
	astro_config_set(&c, "s3_anonymous", NULL, err, sizeof(err));
	astro_config_set(&c, "s3_request_payer", NULL, err, sizeof(err));
	assert_int_equal(astro_config_finish(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "s3_request_payer"));
	astro_config_free(&c);

	/* auto path style: on for a custom endpoint, off for AWS. */
	assert_int_equal(astro_config_init(&c), 0);
	assert_int_equal(astro_config_finish(&c, err, sizeof(err)), 0);
	assert_int_equal(c.s3_path_style, 0);
	astro_config_free(&c);
	assert_int_equal(astro_config_init(&c), 0);
	astro_config_set(&c, "s3_endpoint", "http://127.0.0.1:9000", err, sizeof(err));
	assert_int_equal(astro_config_finish(&c, err, sizeof(err)), 0);
	assert_int_equal(c.s3_path_style, 1);
	astro_config_free(&c);
	assert_int_equal(astro_config_init(&c), 0);
	astro_config_set(&c, "s3_endpoint", "http://127.0.0.1:9000", err, sizeof(err));
	astro_config_set(&c, "s3_path_style", "off", err, sizeof(err));
	assert_int_equal(astro_config_finish(&c, err, sizeof(err)), 0);
	assert_int_equal(c.s3_path_style, 0);
	astro_config_free(&c);

	/* Relative paths are made absolute against the start-up directory. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(astro_config_init(&c), 0);
	astro_config_set(&c, "cache_dir", "rel/cache", err, sizeof(err));
	assert_int_equal(astro_config_finish(&c, err, sizeof(err)), 0);
	assert_true(asprintf(&want, "%s/rel/cache", strcmp(cwd, "/") ? cwd : "") > 0);
	assert_string_equal(c.cache_dir, want);
	free(want);
	astro_config_free(&c);

	/* Files that must be read at start-up are checked now. */
	assert_int_equal(astro_config_init(&c), 0);
	astro_config_set(&c, "satfilter_catalog", "/nonexistent/catalog.3le", err, sizeof(err));
	assert_int_equal(astro_config_finish(&c, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "satfilter_catalog /nonexistent/catalog.3le: "));
	astro_config_free(&c);
	cat = write_file(t, "cat.3le", "ISS\n", 0644);
	assert_int_equal(astro_config_init(&c), 0);
	astro_config_set(&c, "satfilter_catalog", cat, err, sizeof(err));
	assert_int_equal(astro_config_finish(&c, err, sizeof(err)), 0);
	astro_config_free(&c);
	free(cat);
	assert_int_equal(astro_config_init(&c), 0);
	astro_config_set(&c, "obs_config", "/nonexistent/sites.yaml", err, sizeof(err));
	assert_int_equal(astro_config_finish(&c, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "obs_config"));
	astro_config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(durations),
		cmocka_unit_test(sizes),
		cmocka_unit_test(bools),
		cmocka_unit_test(rates),
		cmocka_unit_test(defaults),
		cmocka_unit_test(every_option),
		cmocka_unit_test(spec_options_all_known),
		cmocka_unit_test(flags_and_last_wins),
		cmocka_unit_test(fstab_options_ignored),
		cmocka_unit_test_setup_teardown(file_loading, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(file_errors, tmp_setup, tmp_teardown),
		cmocka_unit_test(dump_round_trip),
		cmocka_unit_test(raw_o_elements),
		cmocka_unit_test(url_secrets_masked),
		cmocka_unit_test_setup_teardown(credentials_file, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(credentials_file_errors, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(credentials_from_env, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(finish_consistency, tmp_setup, tmp_teardown),
		cmocka_unit_test(scrub_arg),
		cmocka_unit_test_setup_teardown(shared_cache_checked, tmp_setup, tmp_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

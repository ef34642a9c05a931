/*
 * astrofs — mount the observatory's data as files.
 *
 * Start-up order matters: options and credentials are checked while stderr
 * is still the user's terminal; then the process forks, and the parent
 * waits on a pipe until the child has mounted AND the mount answers a stat
 * of /.astrofs/version, so `astrofs` (and `mount`, and systemd) return only
 * when the filesystem works, or fail with one line naming the problem and
 * nothing left mounted.  LMDB and curl are set up in the child, after the
 * fork, because neither survives one.
 */
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <fuse3/fuse.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "core/astro.h"
#include "services/cache.h"
#include "core/config.h"
#include "core/fs.h"
#include "services/http.h"
#include "services/limiter.h"
#include "core/log.h"
#include "core/services.h"
#include "services/shared.h"
#include "services/spacetrack.h"
#include "core/stats.h"
#include "services/timescale.h"

#define DEFAULT_CONFIG "/etc/astrofs/astrofs.conf"

static const char usage[] =
"usage: astrofs [SOURCE] MOUNTPOINT [-f] [-d] [-s] [-o OPTION[,OPTION...]]\n"
"       astrofs --version | --help\n"
"\n"
"Mount observatory data as files: /tle (space-track TLEs by UTC day),\n"
"/fits (FITS headers from S3/HTTP by ranged reads), /telemetry (archive and\n"
"statistics), /satfilter (satellite-track filter), /obs (observatory command,\n"
"status, images), /.astrofs (stats, config, version).\n"
"\n"
"  -f            stay in the foreground, log to stderr\n"
"  -d            debug: foreground, debug log, FUSE request trace\n"
"  -s            single-threaded\n"
"  -o OPTIONS    comma-separated options (also `name = value` lines in the\n"
"                config file; -o wins):\n"
"     config=FILE              config file (default " DEFAULT_CONFIG " if present)\n"
"     cache_dir=DIR            LMDB cache (default /var/cache/astrofs for root,\n"
"                              else $XDG_CACHE_HOME/astrofs)\n"
"     cache_max=SIZE           LMDB map size (default 8G)\n"
"     timeout=SECONDS          bound on any operation waiting on the network (30)\n"
"     offline                  never contact upstream; serve only the cache\n"
"     spacetrack_url=URL       (default https://www.space-track.org)\n"
"     spacetrack_credentials=FILE  `identity = ...` and `password = ...`, mode 0600\n"
"     spacetrack_rate=RATE     client-side ceiling (default 20/min,200/h)\n"
"     tle_ttl=DURATION         refresh a cached recent day after this (1h)\n"
"     tle_final_after=DURATION days older than this never change (30d)\n"
"     s3_endpoint, s3_region, s3_credentials, s3_profile, s3_anonymous,\n"
"     s3_request_payer, s3_path_style, fits_buckets, fits_http, fits_ttl (10s),\n"
"     shared_cache=s3://BUCKET/PREFIX  a cache tier shared by a fleet (off): one\n"
"                              query per day and one spacetrack_rate for all\n"
"     shared_cache_endpoint, shared_cache_region, shared_cache_credentials\n"
"                              (default: the s3_* settings; credentials mode 0600)\n"
"     archive_dir, staging_dir, satfilter_catalog, satfilter_refresh,\n"
"     satfilter_listen, satfilter_buffer (degrees, 0.01), satfilter_dut1 (UT1-UTC s),\n"
"     site_lat, site_lon, site_height, obs_config, obs_store,\n"
"     obs_max_pending=N (commands waiting per site, default 1000),\n"
"     obs_backend=local|aws, obs_aws_region, obs_aws_credentials, obs_sqs_endpoint,\n"
"     obs_dynamodb_endpoint, obs_s3_endpoint, obs_sqs_prefix, obs_table, obs_bucket\n"
"     uid, gid, umask, allow_other, default_permissions, ro, auto_unmount,\n"
"     max_threads=N (FUSE workers, default 64), loglevel=LEVEL\n"
"  fstab-only options (_netdev, nofail, noauto, x-systemd.*, ...) are ignored.\n"
"\n"
"See astrofs(8) for every tree, format and error.\n";

struct args {
	const char *source, *mountpoint;
	char **opts;		/* name[=value] in command-line order */
	size_t nopts;
	const char *config;
	int foreground, debug, single;
};

static int add_opt(struct args *a, const char *o)
{
	char **p = realloc(a->opts, (a->nopts + 1) * sizeof(*p));

	if (!p)
		return -ENOMEM;
	a->opts = p;
	a->opts[a->nopts] = strdup(o);
	return a->opts[a->nopts++] ? 0 : -ENOMEM;
}

/* Split "a=1,b,c=x\,y" at unescaped commas. */
static int split_opts(struct args *a, const char *s)
{
	char *buf = malloc(strlen(s) + 1);
	size_t n = 0;
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	for (const char *p = s;; p++) {
		if (*p == '\\' && p[1]) {
			buf[n++] = *++p;
			continue;
		}
		if (*p == ',' || *p == '\0') {
			buf[n] = '\0';
			if (n && (rc = add_opt(a, buf)))
				break;
			n = 0;
			if (!*p)
				break;
			continue;
		}
		buf[n++] = *p;
	}
	free(buf);
	return rc;
}

static void die(const char *fmt, ...) ASTRO_PRINTF(1, 2);
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("astrofs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void parse_args(int argc, char **argv, struct args *a)
{
	const char *pos[2];
	int npos = 0;

	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];

		if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
			fputs(usage, stdout);
			exit(0);
		} else if (strcmp(s, "--version") == 0 || strcmp(s, "-V") == 0) {
			printf("astrofs %s\n", ASTRO_VERSION);
			exit(0);
		} else if (strcmp(s, "-f") == 0) {
			a->foreground = 1;
		} else if (strcmp(s, "-d") == 0) {
			a->debug = a->foreground = 1;
		} else if (strcmp(s, "-s") == 0) {
			a->single = 1;
		} else if (strcmp(s, "-n") == 0 || strcmp(s, "-v") == 0) {
			/* mount(8) helpers pass these (no mtab, verbose). */
		} else if (strcmp(s, "-N") == 0) {
			i++;	/* namespace argument of the helper protocol */
		} else if (strncmp(s, "-o", 2) == 0) {
			const char *o = s[2] ? s + 2 : (i + 1 < argc ? argv[++i] : NULL);

			if (!o)
				die("-o needs an argument");
			if (split_opts(a, o))
				die("out of memory");
		} else if (s[0] == '-' && s[1]) {
			die("unknown flag %s (see astrofs --help)", s);
		} else {
			if (npos == 2)
				die("too many arguments: %s (see astrofs --help)", s);
			pos[npos++] = s;
		}
	}
	if (npos == 0)
		die("no mount point given (see astrofs --help)");
	a->mountpoint = pos[npos - 1];
	a->source = npos == 2 ? pos[0] : "astrofs";
	for (size_t i = 0; i < a->nopts; i++)
		if (strncmp(a->opts[i], "config=", 7) == 0)
			a->config = a->opts[i] + 7;
}

/*
 * Every local user can read /proc/PID/cmdline: once the options are parsed,
 * mask the secrets in the -o arguments in place.  This runs before the
 * fork, so the waiting parent and the daemon both show the masked text.
 */
static void scrub_argv(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-N") == 0) {
			i++;
		} else if (strncmp(argv[i], "-o", 2) == 0) {
			if (argv[i][2])
				astro_config_scrub_arg(argv[i] + 2);
			else if (i + 1 < argc)
				astro_config_scrub_arg(argv[++i]);
		}
	}
}

/*
 * SPACETRACK_PASSWORD, once copied into secure memory by build_config: its
 * environment string sits at the top of the stack, which every core dump
 * holds (and /proc/PID/environ shows), so wipe it there and drop it.
 */
static void scrub_env(void)
{
	char *p = getenv("SPACETRACK_PASSWORD");

	if (p) {
		explicit_bzero(p, strlen(p));
		unsetenv("SPACETRACK_PASSWORD");
	}
}

static void build_config(struct args *a, struct astro_config *cfg)
{
	char err[512];
	int rc;

	if (astro_config_init(cfg))
		die("out of memory");
	if (a->config) {
		rc = astro_config_load_file(cfg, a->config, err, sizeof(err));
		if (rc == -ENOENT)
			die("config file %s: %s", a->config, strerror(ENOENT));
		if (rc)
			die("%s", err);
	} else if (access(DEFAULT_CONFIG, F_OK) == 0) {
		rc = astro_config_load_file(cfg, DEFAULT_CONFIG, err, sizeof(err));
		if (rc)
			die("%s", err);
	}
	for (size_t i = 0; i < a->nopts; i++) {
		char *name = a->opts[i], *eq = strchr(name, '=');
		const char *value = NULL;

		if (astro_config_is_ignored(name))
			continue;
		if (eq) {
			*eq = '\0';
			value = eq + 1;
		}
		if (strcmp(name, "config") == 0)
			continue;
		rc = astro_config_set(cfg, name, value, err, sizeof(err));
		if (eq)
			*eq = '=';
		if (rc)
			die("%s", err);
	}
	cfg->foreground = a->foreground;
	cfg->debug = a->debug;
	cfg->single_thread = a->single;
	if (a->debug)
		cfg->log_level = LOG_DEBUG;
	free(cfg->source);
	cfg->source = strdup(a->source);
	rc = astro_config_finish(cfg, err, sizeof(err));
	if (rc)
		die("%s", err);
}

/* The cache directory must exist (created 0700 if missing) and be writable. */
static void check_dir(const char *what, const char *dir)
{
	char tmp[PATH_MAX];
	size_t n;

	if (!dir)
		return;
	if (astro_strlcpy(tmp, dir, sizeof(tmp)))
		die("%s %s: path too long", what, dir);
	n = strlen(tmp);
	for (size_t i = 1; i <= n; i++) {
		if (tmp[i] == '/' || tmp[i] == '\0') {
			char c = tmp[i];

			tmp[i] = '\0';
			if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
				die("%s %s: cannot create %s: %s", what, dir, tmp, strerror(errno));
			tmp[i] = c;
		}
	}
	if (access(dir, W_OK | X_OK) != 0)
		die("%s %s: %s", what, dir, strerror(errno));
}

/* --- readiness ------------------------------------------------------ */

static int status_fd = -1;

static void report(const char *fmt, ...) ASTRO_PRINTF(1, 2);
static void report(const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (status_fd >= 0) {
		if (write(status_fd, msg, strlen(msg)) < 0)
			astro_err("cannot report status: %s", strerror(errno));
		close(status_fd);
		status_fd = -1;
	} else if (strcmp(msg, "OK") != 0) {
		fprintf(stderr, "astrofs: %s\n", msg);
	}
}

struct ready_arg {
	struct fuse *fuse;
	char path[PATH_MAX + 32];
	unsigned timeout;
};

static void *readiness(void *arg)
{
	struct ready_arg *r = arg;
	int64_t deadline = astro_mono_ms() + (int64_t)(r->timeout + 5) * 1000;
	struct stat st;

	while (astro_mono_ms() < deadline) {
		if (stat(r->path, &st) == 0 && S_ISREG(st.st_mode)) {
			int daemon = status_fd >= 0;

			report("OK");
			astro_notice("mounted; serving requests");
			/* Once the launcher has gone, the terminal is not ours. */
			if (daemon) {
				int fd = open("/dev/null", O_RDWR);

				if (fd >= 0) {
					dup2(fd, 2);
					close(fd);
				}
			}
			return NULL;
		}
		astro_sleep_ms(50);
	}
	report("the mount did not answer within %u s", r->timeout + 5);
	fuse_exit(r->fuse);
	return NULL;
}

static int wait_child(int fd, pid_t pid, const char *mnt)
{
	char msg[601];
	ssize_t n = 0, got;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	/* The child bounds its own wait; this is a backstop for a child that
	 * hangs before it can report (e.g. a stuck mount syscall). */
	if (poll(&pfd, 1, 120000) <= 0) {
		fprintf(stderr, "astrofs: no answer from the mount process; giving up\n");
		kill(pid, SIGKILL);
		return 1;
	}
	while (n < (ssize_t)sizeof(msg) - 1 && (got = read(fd, msg + n, sizeof(msg) - 1 - (size_t)n)) > 0)
		n += got;
	msg[n > 0 ? n : 0] = '\0';
	if (strcmp(msg, "OK") == 0)
		return 0;
	if (n <= 0) {
		int st = 0;

		waitpid(pid, &st, 0);
		fprintf(stderr, "astrofs: the mount process exited before mounting %s\n", mnt);
		return 1;
	}
	fprintf(stderr, "astrofs: %s\n", msg);
	return 1;
}

/* --- the daemon ----------------------------------------------------- */

static void cache_section(json_t *obj, void *arg)
{
	struct astro_cache_stats s;

	astro_cache_get_stats(arg, &s);
	json_object_set_new(obj, "hits", json_integer((json_int_t)s.hits));
	json_object_set_new(obj, "misses", json_integer((json_int_t)s.misses));
	json_object_set_new(obj, "puts", json_integer((json_int_t)s.puts));
	json_object_set_new(obj, "evictions", json_integer((json_int_t)s.evictions));
	json_object_set_new(obj, "corrupt", json_integer((json_int_t)s.corrupt));
	json_object_set_new(obj, "map_size", json_integer((json_int_t)s.map_size));
	json_object_set_new(obj, "map_used", json_integer((json_int_t)s.map_used));
}

static void limiter_section(json_t *obj, void *arg)
{
	json_t *l = json_object();

	astro_limiter_json(arg, l);
	json_object_set_new(obj, "limiter", l);
}

static void shared_section(json_t *obj, void *arg)
{
	astro_shared_json(arg, obj);
}

static char *fsname_opt(const char *source)
{
	size_t n = strlen(source);
	char *out = malloc(n * 2 + 16), *o;

	if (!out)
		return NULL;
	memcpy(out, "fsname=", 7);
	o = out + 7;
	for (size_t i = 0; i < n; i++) {
		if (source[i] == ',' || source[i] == '\\')
			*o++ = '\\';
		*o++ = source[i];
	}
	*o = '\0';
	return out;
}

static int serve(struct astro_config *cfg)
{
	struct astro_cache *cache = NULL;
	struct astro_limiter *lim = NULL;
	struct astro_services svc = { 0 };
	struct astro_fs *fs = NULL;
	struct astro_ctx ctx = { .cfg = cfg };
	struct fuse_args fargs = FUSE_ARGS_INIT(0, NULL);
	struct fuse *fuse = NULL;
	struct fuse_loop_config *lcfg = NULL;
	struct ready_arg ra;
	pthread_t rt;
	char *fsname = NULL;
	int rc = 1, mounted = 0, ready_started = 0;

	astro_log_init("astrofs", cfg->foreground ? ASTRO_LOG_STDERR : ASTRO_LOG_SYSLOG,
		       cfg->log_level);
	/* Now, so that the leap-second table in use is logged at start. */
	astro_timescale_init();
	if (astro_http_global_init()) {
		report("cannot initialise libcurl");
		goto out;
	}
	if ((rc = astro_cache_open(&cache, cfg->cache_dir, cfg->cache_max))) {
		report("cache_dir %s: cannot open the LMDB cache: %s", cfg->cache_dir, strerror(-rc));
		rc = 1;
		goto out;
	}
	astro_stats_register("cache", cache_section, cache);
	if ((rc = astro_limiter_open(&lim, cache, "spacetrack", &cfg->spacetrack_rate)) ||
	    (rc = astro_st_open(&svc.spacetrack, cfg, lim))) {
		report("cannot start the space-track client: %s", strerror(-rc));
		rc = 1;
		goto out;
	}
	astro_stats_register("spacetrack", limiter_section, lim);
	svc.spacetrack_limiter = lim;
	{
		char msg[256] = "";

		if ((rc = astro_shared_open(&svc.shared, cfg, NULL, msg, sizeof(msg)))) {
			report("shared_cache: %s", msg[0] ? msg : strerror(-rc));
			rc = 1;
			goto out;
		}
	}
	if (svc.shared) {
		astro_limiter_set_fleet(lim, svc.shared);
		astro_stats_register("shared", shared_section, svc.shared);
	}
	svc.mount_time = astro_now_ms() / 1000;
	svc.fuse_version = fuse_pkgversion();
	ctx.cache = cache;
	ctx.services = &svc;
	if (astro_fs_create(&fs, &ctx)) {
		report("out of memory");
		rc = 1;
		goto out;
	}

	fsname = fsname_opt(cfg->source ? cfg->source : "astrofs");
	rc = fuse_opt_add_arg(&fargs, "astrofs");
	if (!rc && cfg->debug)
		rc = fuse_opt_add_arg(&fargs, "-d");
	if (!rc && fsname)
		rc = fuse_opt_add_arg(&fargs, "-o") || fuse_opt_add_arg(&fargs, fsname);
	if (!rc)
		rc = fuse_opt_add_arg(&fargs, "-osubtype=astrofs");
	if (!rc && cfg->allow_other)
		rc = fuse_opt_add_arg(&fargs, "-oallow_other");
	if (!rc && cfg->default_permissions)
		rc = fuse_opt_add_arg(&fargs, "-odefault_permissions");
	if (!rc && cfg->ro)
		rc = fuse_opt_add_arg(&fargs, "-oro");
	if (!rc && cfg->auto_unmount)
		rc = fuse_opt_add_arg(&fargs, "-oauto_unmount");
	if (rc) {
		report("out of memory");
		rc = 1;
		goto out;
	}
	fuse = fuse_new(&fargs, astro_fs_operations(), sizeof(struct fuse_operations), fs);
	if (!fuse) {
		report("cannot create the FUSE session (bad FUSE option?)");
		rc = 1;
		goto out;
	}
	if (fuse_mount(fuse, cfg->mountpoint) != 0) {
		report("cannot mount on %s (is /dev/fuse usable, the directory empty, or allow_other permitted in /etc/fuse.conf?)",
		       cfg->mountpoint);
		rc = 1;
		goto out;
	}
	mounted = 1;
	if (fuse_set_signal_handlers(fuse_get_session(fuse)) != 0) {
		report("cannot install signal handlers");
		rc = 1;
		goto out;
	}
	ra.fuse = fuse;
	ra.timeout = cfg->timeout;
	snprintf(ra.path, sizeof(ra.path), "%s/.astrofs/version", cfg->mountpoint);
	if (pthread_create(&rt, NULL, readiness, &ra) == 0)
		ready_started = 1;
	else
		report("OK");

	if (cfg->single_thread) {
		rc = fuse_loop(fuse);
	} else {
		lcfg = fuse_loop_cfg_create();
		/* libfuse's default of 10 workers lets ten slow upstream reads
		 * freeze every other request; the cap is explicit. */
		fuse_loop_cfg_set_max_threads(lcfg, cfg->max_threads);
		fuse_loop_cfg_set_idle_threads(lcfg, 16);
		rc = fuse_loop_mt(fuse, lcfg);
	}
	astro_notice("shutting down");
	fuse_remove_signal_handlers(fuse_get_session(fuse));
	rc = rc < 0 ? 1 : 0;
out:
	if (ready_started)
		pthread_join(rt, NULL);
	if (mounted)
		fuse_unmount(fuse);
	if (fuse)
		fuse_destroy(fuse);
	fuse_opt_free_args(&fargs);
	if (lcfg)
		fuse_loop_cfg_destroy(lcfg);
	astro_fs_destroy(fs);
	astro_st_close(svc.spacetrack);	/* logs out */
	astro_stats_unregister("spacetrack");
	astro_stats_unregister("shared");
	astro_stats_unregister("cache");
	astro_limiter_close(lim);
	astro_shared_close(svc.shared);
	astro_cache_close(cache);
	astro_http_global_cleanup();
	astro_log_flush();	/* a flood cut short still gets its summary */
	free(fsname);
	return rc;
}

int main(int argc, char **argv)
{
	struct args a = { 0 };
	struct astro_config cfg;
	char real[PATH_MAX];
	struct stat st;
	int fds[2], rc;
	pid_t pid;

	parse_args(argc, argv, &a);
	build_config(&a, &cfg);
	scrub_argv(argc, argv);
	scrub_env();
	if (!realpath(a.mountpoint, real))
		die("mount point %s: %s", a.mountpoint, strerror(errno));
	if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
		die("mount point %s: not a directory", a.mountpoint);
	free(cfg.mountpoint);
	cfg.mountpoint = strdup(real);
	check_dir("cache_dir", cfg.cache_dir);

	if (cfg.foreground) {
		rc = serve(&cfg);
		goto out;
	}

	if (pipe(fds) != 0)
		die("pipe: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid > 0) {
		close(fds[1]);
		return wait_child(fds[0], pid, real);
	}
	close(fds[0]);
	status_fd = fds[1];
	setsid();
	if (chdir("/") != 0)
		_exit(1);
	{
		int fd = open("/dev/null", O_RDWR);

		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			close(fd);
		}
	}
	rc = serve(&cfg);
out:
	astro_config_free(&cfg);
	for (size_t i = 0; i < a.nopts; i++)
		free(a.opts[i]);
	free(a.opts);
	return rc;
}

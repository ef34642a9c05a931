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
#include <fuse3/fuse_lowlevel.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
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
#include "services/stday.h"
#include "services/spacetrack.h"
#include "core/stats.h"
#include "services/timescale.h"
#include "core/op.h"

static const char usage_head[] =
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
"  -o OPTIONS    comma-separated options, `\\,` for a comma inside a value\n"
"                (also `name = value` lines in the config file; -o wins):\n";

static const char usage_tail[] =
"  fstab-only options (_netdev, nofail, noauto, x-systemd.*, ...) are ignored.\n"
"\n"
"See astrofs(8) for every tree, format and error.\n";

struct args {
	const char *source, *mountpoint;
	char **opts;		/* name[=value] in command-line order */
	size_t nopts;
	const char *config;
	int foreground, debug, single;
	int npos;
	const char *pos[2];
	int err;		/* -ENOMEM from the option callback */
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

enum { KEY_HELP, KEY_VERSION, KEY_FG, KEY_DEBUG, KEY_SINGLE, KEY_HELPER };

/*
 * The command line goes through libfuse's fuse_opt_parse, as in sshfs, so
 * `-o` lists split, and `\,`, `\\` and `\NNN` (octal) unescape, exactly as
 * there.  Every option element comes to opt_proc in order and is set
 * later through the table-driven astro_config_set.
 */
static const struct fuse_opt cmdline_opts[] = {
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("-f", KEY_FG),
	FUSE_OPT_KEY("-d", KEY_DEBUG),
	FUSE_OPT_KEY("-s", KEY_SINGLE),
	/* mount(8) helpers pass these (no mtab, verbose, namespace). */
	FUSE_OPT_KEY("-n", KEY_HELPER),
	FUSE_OPT_KEY("-v", KEY_HELPER),
	FUSE_OPT_KEY("-N ", KEY_HELPER),
	FUSE_OPT_END
};

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct args *a = data;

	(void)outargs;
	switch (key) {
	case KEY_HELP:
		fputs(usage_head, stdout);
		astro_config_help(stdout);
		fputs(usage_tail, stdout);
		exit(0);
	case KEY_VERSION:
		printf("astrofs %s\n", ASTRO_VERSION);
		exit(0);
	case KEY_DEBUG:
		a->debug = 1;
		/* fall through */
	case KEY_FG:
		a->foreground = 1;
		return 0;
	case KEY_SINGLE:
		a->single = 1;
		return 0;
	case KEY_HELPER:
		return 0;
	case FUSE_OPT_KEY_NONOPT:
		if (a->npos == 2)
			die("too many arguments: %s (see astrofs --help)", arg);
		a->pos[a->npos++] = arg;
		return 0;
	default:	/* FUSE_OPT_KEY_OPT: an -o element, or an unknown flag */
		if (arg[0] == '-' && arg[1])
			die("unknown flag %s (see astrofs --help)", arg);
		if (arg[0] && !a->err)
			a->err = add_opt(a, arg);
		return 0;
	}
}

static void parse_args(int argc, char **argv, struct args *a)
{
	struct fuse_args fargs = FUSE_ARGS_INIT(argc, argv);

	if (argc > 1 && strcmp(argv[argc - 1], "-o") == 0)
		die("-o needs an argument");
	if (fuse_opt_parse(&fargs, a, cmdline_opts, opt_proc) != 0)
		die("bad command line (see astrofs --help)");
	/* Positional arguments point into argv itself, not into fargs. */
	fuse_opt_free_args(&fargs);
	if (a->err)
		die("out of memory");
	if (a->npos == 0)
		die("no mount point given (see astrofs --help)");
	a->mountpoint = a->pos[a->npos - 1];
	a->source = a->npos == 2 ? a->pos[0] : "astrofs";
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
	} else if (access(ASTRO_CONFIG_FILE, F_OK) == 0) {
		rc = astro_config_load_file(cfg, ASTRO_CONFIG_FILE, err, sizeof(err));
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

/*
 * Is dir (absolute, realpath()ed) itself a mount point?  /proc/self/mountinfo
 * knows every mount, bind mounts of the same filesystem included (field 5
 * is the mount point, octal-escaped, field 9 after " - " the type); without
 * it, a device that differs from the parent's says so.  1 with the type of
 * the topmost mount copied to type, else 0.
 */
static int is_mount_point(const char *dir, char *type, size_t tn)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int found = 0;

	if (!f) {
		struct stat a, b;
		char parent[PATH_MAX + 4];

		snprintf(parent, sizeof(parent), "%s/..", dir);
		snprintf(type, tn, "another filesystem");
		return stat(dir, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
	}
	while (getline(&line, &cap, f) > 0) {
		char *field = line, *mp = NULL, *sep, *o;
		int i;

		for (i = 0; i < 4 && field; i++) {
			field = strchr(field, ' ');
			field = field ? field + 1 : NULL;
		}
		if (!field)
			continue;
		mp = field;
		sep = strchr(mp, ' ');
		if (!sep)
			continue;
		*sep = '\0';
		/* Unescape \ooo (space, tab, newline, backslash) in place. */
		for (o = mp, field = mp; *field; o++) {
			if (field[0] == '\\' && field[1] >= '0' && field[1] <= '3' &&
			    field[2] >= '0' && field[2] <= '7' && field[3] >= '0' && field[3] <= '7') {
				*o = (char)((field[1] - '0') * 64 + (field[2] - '0') * 8 + (field[3] - '0'));
				field += 4;
			} else {
				*o = *field++;
			}
		}
		*o = '\0';
		if (strcmp(mp, dir) != 0)
			continue;
		found = 1;	/* later lines are mounted on top: keep the last */
		field = strstr(sep + 1, " - ");
		if (field) {
			field += 3;
			snprintf(type, tn, "%.*s", (int)strcspn(field, " \n"), field);
		} else {
			snprintf(type, tn, "unknown");
		}
	}
	free(line);
	fclose(f);
	return found;
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
	int failed;		/* the mount never answered: exit status 1 */
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
	r->failed = 1;
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

/* --- shutdown ------------------------------------------------------- */

/*
 * SIGTERM, SIGINT and SIGHUP end the session loop (as libfuse's own
 * handlers would) and mark the process as shutting down (op.h), so every
 * operation still waiting on upstream gives up at once instead of holding
 * the loop's join until its timeout.  A handler can only post a semaphore;
 * the stopper thread then keeps waking those operations' threads (a
 * blocked poll returns to its check) until the loop is over.
 */
static struct fuse_session *stop_se;
static sem_t stop_sem;
static int stop_done;

static void on_stop_signal(int sig)
{
	int saved = errno;
	struct fuse_session *se = __atomic_load_n(&stop_se, __ATOMIC_ACQUIRE);

	(void)sig;
	astro_op_shutdown();
	if (se)
		fuse_session_exit(se);
	sem_post(&stop_sem);
	errno = saved;
}

static void *stopper(void *arg)
{
	(void)arg;
	while (sem_wait(&stop_sem) != 0 && errno == EINTR)
		;
	while (!__atomic_load_n(&stop_done, __ATOMIC_ACQUIRE)) {
		/* The interrupt signal's handler does nothing but cut the
		 * wait short (astro_fs_intr_init). */
		astro_op_kick_all(ASTRO_FS_INTR_SIGNAL);
		astro_sleep_ms(ASTRO_OP_SLICE_MS);
	}
	return NULL;
}

static int set_stop_handlers(struct fuse_session *se)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct sigaction sa = { 0 };

	stop_se = se;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the session loop's wait must return to see the exit. */
	sa.sa_handler = on_stop_signal;
	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(sigs); i++)
		if (sigaction(sigs[i], &sa, NULL) != 0)
			return -errno;
	sa.sa_handler = SIG_IGN;
	return sigaction(SIGPIPE, &sa, NULL) != 0 ? -errno : 0;
}

static void stop_threads_end(pthread_t th)
{
	/* The session is about to go; a late signal only marks the shutdown. */
	__atomic_store_n(&stop_se, NULL, __ATOMIC_RELEASE);
	__atomic_store_n(&stop_done, 1, __ATOMIC_RELEASE);
	sem_post(&stop_sem);
	pthread_join(th, NULL);
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
	pthread_t rt, st;
	char *fsname = NULL;
	int rc = 1, mounted = 0, ready_started = 0, stopper_started = 0;

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
	    (rc = astro_spacetrack_open(&svc.spacetrack, cfg, lim))) {
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
		astro_stday_set_shared(svc.shared);
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
	if (sem_init(&stop_sem, 0, 0) != 0 || set_stop_handlers(fuse_get_session(fuse)) != 0 ||
	    astro_fs_intr_init() != 0 ||
	    pthread_create(&st, NULL, stopper, NULL) != 0) {
		report("cannot install signal handlers");
		rc = 1;
		goto out;
	}
	stopper_started = 1;
	ra.fuse = fuse;
	ra.timeout = cfg->timeout;
	ra.failed = 0;
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
	rc = rc < 0 ? 1 : 0;
out:
	if (stopper_started)
		stop_threads_end(st);
	if (ready_started) {
		pthread_join(rt, NULL);
		if (ra.failed)
			rc = 1;
	}
	if (mounted)
		fuse_unmount(fuse);
	if (fuse)
		fuse_destroy(fuse);
	fuse_opt_free_args(&fargs);
	if (lcfg)
		fuse_loop_cfg_destroy(lcfg);
	astro_fs_destroy(fs);
	astro_spacetrack_close(svc.spacetrack);	/* logs out */
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
	/* Stacking on a live mount (often this very filesystem, mounted
	 * twice by a retrying script) hides it and is never what was meant. */
	{
		char type[64];

		/* autofs is the trigger of an automount (x-systemd.automount):
		 * mounting on it is exactly what is meant. */
		if (!cfg.nonempty && is_mount_point(real, type, sizeof(type)) &&
		    strcmp(type, "autofs") != 0)
			die("mount point %s is already a mount (%s); unmount it first, "
			    "or add -o nonempty to mount on top of it", a.mountpoint, type);
	}
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

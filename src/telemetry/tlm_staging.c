/* tlm_staging.c — ingest files dropped into staging_dir (see tlm_staging.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "core/astro.h"
#include "core/log.h"
#include "tlm_staging.h"

static int in_progress_name(const char *n)
{
	size_t l = strlen(n);

	return n[0] == '.' || (l >= 4 && !strcmp(n + l - 4, ".tmp")) ||
	       (l >= 5 && !strcmp(n + l - 5, ".part"));
}

static int move_to(const char *dir, const char *sub, const char *name)
{
	char from[4096], to[4096];

	snprintf(to, sizeof(to), "%s/%s", dir, sub);
	if (mkdir(to, 0755) != 0 && errno != EEXIST)
		return -errno;
	snprintf(from, sizeof(from), "%s/%s", dir, name);
	snprintf(to, sizeof(to), "%s/%s/%s", dir, sub, name);
	return rename(from, to) == 0 ? 0 : -errno;
}

static void write_reason(const char *dir, const char *name, const char *why)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/rejected/%s.reason", dir, name);
	if ((f = fopen(path, "w"))) {
		fprintf(f, "%s\n", why);
		fclose(f);
	}
}

static void one_file(struct astro_tlm_archive *a, const char *dir, const char *name,
		     unsigned min_age, struct astro_tlm_staging_counts *c)
{
	struct astro_tlm_ingest_result res;
	struct stat before, after;
	char path[4096], err[512] = "";
	int rc;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return;
	if (lstat(path, &before) != 0 || !S_ISREG(before.st_mode))
		return;
	if (time(NULL) - before.st_mtime < (time_t)min_age) {
		c->deferred++;
		return;
	}
	rc = astro_tlm_archive_ingest_file(a, path, 0, &res, err, sizeof(err));
	/* Changed while we read it: not closed after all.  The txn is already
	 * committed if rc == 0, so a rewrite shows up as same-name-new-content. */
	if (lstat(path, &after) != 0 || after.st_size != before.st_size ||
	    after.st_mtim.tv_sec != before.st_mtim.tv_sec ||
	    after.st_mtim.tv_nsec != before.st_mtim.tv_nsec) {
		c->deferred++;
		return;
	}
	if (rc == 0) {
		res.skipped ? c->skipped++ : c->ingested++;
		astro_info("staging: %s: %s", name, res.skipped ? "already ingested" : "ingested");
		if (move_to(dir, "done", name))
			astro_warn("staging: %s: cannot move to done/: %s", name, strerror(errno));
	} else if (rc == -EINVAL || rc == -EEXIST) {
		c->rejected++;
		astro_warn("staging: %s: rejected: %s", name, err);
		if (move_to(dir, "rejected", name) == 0)
			write_reason(dir, name, err);
	} else {
		c->failed++;
		astro_err("staging: %s: %s (will retry)", name, err[0] ? err : strerror(-rc));
	}
}

int astro_tlm_staging_pass(struct astro_tlm_archive *a, const char *dir,
			   unsigned min_age, struct astro_tlm_staging_counts *c)
{
	char lock[4096];
	struct dirent *de;
	DIR *d = NULL;
	int fd, rc = 0;

	memset(c, 0, sizeof(*c));
	snprintf(lock, sizeof(lock), "%s/.astrofs-staging.lock", dir);
	if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		return 0;	/* another process works this directory now */
	}
	if (!(d = opendir(dir))) {
		rc = -errno;
		goto out;
	}
	while ((de = readdir(d))) {
		if (in_progress_name(de->d_name) || de->d_type == DT_DIR)
			continue;
		one_file(a, dir, de->d_name, min_age, c);
	}
out:
	if (d)
		closedir(d);
	flock(fd, LOCK_UN);
	close(fd);
	return rc;
}

struct astro_tlm_watcher {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	struct astro_tlm_archive *a;
	char *dir;
	unsigned min_age, interval_ms;
};

static void *watch(void *arg)
{
	struct astro_tlm_watcher *w = arg;

	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		struct astro_tlm_staging_counts c;
		struct timespec ts;

		pthread_mutex_unlock(&w->mu);
		if (astro_tlm_staging_pass(w->a, w->dir, w->min_age, &c) < 0)
			astro_warn("staging: %s: %s", w->dir, strerror(errno));
		pthread_mutex_lock(&w->mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += w->interval_ms / 1000;
		ts.tv_nsec += (long)(w->interval_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (!w->stop)
			pthread_cond_timedwait(&w->cv, &w->mu, &ts);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int astro_tlm_staging_start(struct astro_tlm_archive *a, const char *dir,
			    unsigned min_age, unsigned interval_ms,
			    struct astro_tlm_watcher **out)
{
	struct astro_tlm_watcher *w = calloc(1, sizeof(*w));
	int rc;

	*out = NULL;
	if (!w || !(w->dir = strdup(dir))) {
		free(w);
		return -ENOMEM;
	}
	w->a = a;
	w->min_age = min_age;
	w->interval_ms = interval_ms ? interval_ms : 1000;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if ((rc = pthread_create(&w->th, NULL, watch, w))) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		free(w->dir);
		free(w);
		return -rc;
	}
	*out = w;
	return 0;
}

void astro_tlm_staging_stop(struct astro_tlm_watcher *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w->dir);
	free(w);
}

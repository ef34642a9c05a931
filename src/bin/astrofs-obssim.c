/*
 * astrofs-obssim — simulated observatory sites behind the /obs store.
 *
 *   astrofs-obssim --config FILE [--store DIR] [--time-scale X] [--clock-skew S]
 *                  [--pause-status] [--fail-rate P] [--status-interval S]
 *   astrofs-obssim [--store DIR] [--config FILE] [--retention S] --enqueue SITE LINE...
 *   astrofs-obssim [--store DIR] --show SITE JOB | --status SITE | --images SITE
 *
 * Each site of the sites file gets a mount (ra, dec, tracking, parked,
 * slewing) and a camera, and one thread that takes commands from the store:
 * RECEIVED (by the store), then re-validated with the same grammar (REJECTED
 * with a reason, never a crash), STARTED with an eta, then COMPLETE or
 * FAILED.  While a command runs, stop and cancel are polled for and preempt
 * it.  An exposure stores a FITS frame (a synthetic star field with its WCS
 * at the pointing) and its JPEG preview under the observatory simulator's
 * name pattern with a persistent sequence number, and only then names the
 * FITS as the last image.  A site whose sites-file entry names an INDI
 * server (`indi: HOST:PORT`) is run through that server's devices instead
 * (obs_indisite.h).  An idle site waits on the store's change signal
 * (astro_obs_store_watch) rather than polling.  A status thread publishes
 * every site's status item every few seconds.  The CLI modes talk to the
 * same store, for tests and scripts.
 *
 * Test switches: --time-scale multiplies every simulated duration (0: no
 * waiting), --clock-skew shifts the published site clock, --pause-status
 * publishes nothing, --fail-rate fails that fraction of commands.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "core/astro.h"
#include "core/config.h"
#include "core/log.h"
#include "obs/obs_cmd.h"
#include "obs/obs_frame.h"
#include "obs/obs_indisite.h"
#include "obs/obs_sites.h"
#include "services/http.h"
#include "obs/obs_aws.h"
#include "obs/obs_local.h"

#define SLEW_S 3.0		/* nominal slew, before --time-scale */
#define POLL_MS 200		/* idle queue poll (a store without a watch) */
#define PREEMPT_MS 50		/* stop/cancel poll while busy */

struct opts {
	const char *config, *store;
	double time_scale, skew_s, fail_rate, status_s, retention_s;
	bool pause_status;
};

struct site {
	const struct astro_obs_site *cfg;
	struct astro_obs_store *store;
	const struct opts *o;
	pthread_t thr;
	pthread_mutex_t lock;	/* the device state below, read by the status thread */
	double ra, dec, last_exposure;
	bool tracking, parked, slewing, exposing;
	char last_image[ASTRO_OBS_IMAGE_NAME_MAX + 1];
	struct astro_obs_indisite *indi;	/* an INDI site; NULL: simulated */
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static double uniform(void)
{
	uint32_t r = 0;

	astro_random(&r, sizeof(r));
	return r / 4294967296.0;
}

static const char *yes(bool b)
{
	return b ? "True" : "False";	/* the simulator's spelling */
}

/* Outcome of waiting while a command runs. */
enum wait_result { WAIT_DONE, WAIT_PREEMPTED, WAIT_SHUTDOWN };

/* A stop or cancel that arrived while `cur` runs.  Returns true if it ends
 * `cur`. */
static bool handle_urgent(struct site *s, const struct astro_obs_job *u, const char *cur)
{
	struct astro_obs_cmd c;
	char err[160], msg[80];
	bool hits = false;

	astro_obs_store_update(s->store, s->cfg->key, u->id, ASTRO_OBS_STARTED, NULL, 0, NULL);
	if (astro_obs_cmd_parse(u->line, strlen(u->line), &c, err, sizeof(err)) != 1) {
		astro_obs_store_update(s->store, s->cfg->key, u->id, ASTRO_OBS_FAILED, err,
				       -1, NULL);
		return false;
	}
	if (c.verb == ASTRO_OBS_STOP) {
		hits = cur != NULL;
		snprintf(msg, sizeof(msg), "stopped by %s", u->id);
	} else {
		hits = cur && (c.cancel_all || strcmp(c.cancel_id, cur) == 0);
		snprintf(msg, sizeof(msg), "canceled by %s", u->id);
		/* A target that is not the running one was left RECEIVED or
		 * STARTED by an earlier run: end it here. */
		if (!c.cancel_all && !hits)
			astro_obs_store_update(s->store, s->cfg->key, c.cancel_id,
					       ASTRO_OBS_CANCELED, msg, -1, NULL);
	}
	if (hits)
		astro_obs_store_update(s->store, s->cfg->key, cur, ASTRO_OBS_CANCELED, msg,
				       -1, NULL);
	pthread_mutex_lock(&s->lock);
	if (c.verb == ASTRO_OBS_STOP || hits) {
		s->slewing = false;
		s->exposing = false;
	}
	pthread_mutex_unlock(&s->lock);
	astro_obs_store_update(s->store, s->cfg->key, u->id, ASTRO_OBS_COMPLETE,
			       hits ? "preempted the running command" : "nothing to preempt",
			       -1, NULL);
	return hits;
}

/* Wait `seconds` of simulated time while job `cur` runs; stop/cancel
 * preempt it. */
static enum wait_result busy_wait(struct site *s, double seconds, const char *cur)
{
	int64_t end = astro_mono_ms() + (int64_t)(seconds * s->o->time_scale * 1000);

	for (;;) {
		struct astro_obs_job u;

		while (astro_obs_store_receive(s->store, s->cfg->key, true, &u) == 0)
			if (handle_urgent(s, &u, cur))
				return WAIT_PREEMPTED;
		if (stopping)
			return WAIT_SHUTDOWN;
		int64_t left = end - astro_mono_ms();

		if (left <= 0)
			return WAIT_DONE;
		astro_sleep_ms(left < PREEMPT_MS ? left : PREEMPT_MS);
	}
}

/*
 * One exposure: NAME.fits (a synthetic star field at the pointing, with its
 * WCS) and its preview NAME.jpg, NAME in the observatory simulator's
 * pattern.  The FITS is stored first: it is the image (latest, the job's
 * result); a preview that cannot be made is logged, not fatal.
 */
static int take_image(struct site *s, double seconds, int64_t start_ms, char *name, size_t n)
{
	struct astro_obs_frame_spec sp = {
		.exptime_s = seconds, .date_obs_ms = start_ms, .site_key = s->cfg->key,
		.site_name = s->cfg->name, .has_lat = s->cfg->has_lat, .lat = s->cfg->lat,
		.has_lng = s->cfg->has_lng, .lng = s->cfg->lng,
		.has_elevation = s->cfg->has_elevation, .elevation = s->cfg->elevation,
	};
	char base[ASTRO_OBS_IMAGE_NAME_MAX - 4], jname[ASTRO_OBS_IMAGE_NAME_MAX + 1], err[200];
	void *fits = NULL;
	uint8_t *jpg = NULL;
	size_t len = 0, jlen = 0;
	uint64_t seq;
	int rc;

	/* The counter is persistent and taken before writing, so a crash at
	 * any point never leads to a name being used twice. */
	rc = astro_obs_store_counter_next(s->store, s->cfg->key, "cam1", &seq);
	if (rc < 0)
		return rc;
	snprintf(base, sizeof(base), "%lld_%s_testimage_%gs_no%llu",
		 (long long)(astro_now_ms() / 1000), s->cfg->key, seconds,
		 (unsigned long long)seq);
	snprintf(name, n, "%s.fits", base);
	snprintf(jname, sizeof(jname), "%s.jpg", base);
	pthread_mutex_lock(&s->lock);
	sp.ra_deg = s->ra * 15.0;
	sp.dec_deg = s->dec;
	pthread_mutex_unlock(&s->lock);
	sp.seq = seq;
	rc = astro_obs_frame_synth(&sp, &fits, &len);
	if (rc == 0)
		rc = astro_obs_store_image_put(s->store, s->cfg->key, name, fits, len, seq);
	if (rc == 0) {
		int prc = astro_obs_frame_preview(fits, len, &jpg, &jlen, err, sizeof(err));

		if (prc == 0)
			prc = astro_obs_store_image_put(s->store, s->cfg->key, jname, jpg, jlen,
							seq);
		else
			astro_warn("%s: preview of %s: %s", s->cfg->key, name, err);
		if (prc < 0)
			astro_warn("%s: storing %s: %s", s->cfg->key, jname, strerror(-prc));
	}
	free(jpg);
	free(fits);
	return rc;
}

/* While an INDI command runs: a stop or cancel that ends it, or shutdown. */
static bool indi_urgent(void *arg, const char *cur)
{
	struct site *s = arg;
	struct astro_obs_job u;

	while (astro_obs_store_receive(s->store, s->cfg->key, true, &u) == 0)
		if (handle_urgent(s, &u, cur))
			return true;
	if (stopping) {
		astro_obs_store_update(s->store, s->cfg->key, cur, ASTRO_OBS_FAILED,
				       "simulator shut down", -1, NULL);
		return true;
	}
	return false;
}

static void execute_indi(struct site *s, const struct astro_obs_job *job,
			 const struct astro_obs_cmd *c)
{
	char image[ASTRO_OBS_IMAGE_NAME_MAX + 1];

	if (c->verb == ASTRO_OBS_STOP || c->verb == ASTRO_OBS_CANCEL) {
		if (c->verb == ASTRO_OBS_STOP)
			astro_obs_indisite_abort(s->indi);
		handle_urgent(s, job, NULL);
		return;
	}
	astro_obs_indisite_execute(s->indi, job, indi_urgent, s, image, sizeof(image));
	if (image[0]) {
		pthread_mutex_lock(&s->lock);
		astro_strlcpy(s->last_image, image, sizeof(s->last_image));
		pthread_mutex_unlock(&s->lock);
	}
}

/* Run one received command to its end state. */
static void execute(struct site *s, const struct astro_obs_job *job)
{
	const char *key = s->cfg->key, *id = job->id;
	struct astro_obs_cmd c;
	char err[200], msg[200] = "", image[ASTRO_OBS_IMAGE_NAME_MAX + 1] = "";
	double eta = 0;
	enum wait_result w = WAIT_DONE;
	unsigned i;
	int rc;

	if (astro_obs_cmd_parse(job->line, strlen(job->line), &c, err, sizeof(err)) != 1) {
		astro_warn("%s: job %s: rejected '%s': %s", key, id, job->line, err);
		astro_obs_store_update(s->store, key, id, ASTRO_OBS_REJECTED,
				       err[0] ? err : "empty command", -1, NULL);
		return;
	}
	if (s->indi) {
		execute_indi(s, job, &c);
		return;
	}
	pthread_mutex_lock(&s->lock);
	bool parked = s->parked;
	pthread_mutex_unlock(&s->lock);
	if (parked && (c.verb == ASTRO_OBS_GOTO ||
		       (c.verb == ASTRO_OBS_TRACKING && c.tracking))) {
		astro_obs_store_update(s->store, key, id, ASTRO_OBS_REJECTED, "mount parked",
				       -1, NULL);
		return;
	}
	if (c.verb == ASTRO_OBS_GOTO || c.verb == ASTRO_OBS_PARK)
		eta = SLEW_S * s->o->time_scale;
	else if (c.verb == ASTRO_OBS_EXPOSE)
		eta = c.seconds * c.count * s->o->time_scale;
	astro_obs_store_update(s->store, key, id, ASTRO_OBS_STARTED, NULL, eta, NULL);
	if (s->o->fail_rate > 0 && uniform() < s->o->fail_rate) {
		astro_obs_store_update(s->store, key, id, ASTRO_OBS_FAILED,
				       "simulated failure (--fail-rate)", -1, NULL);
		return;
	}
	switch (c.verb) {
	case ASTRO_OBS_GOTO:
	case ASTRO_OBS_PARK:
		pthread_mutex_lock(&s->lock);
		s->slewing = true;
		pthread_mutex_unlock(&s->lock);
		w = busy_wait(s, SLEW_S, id);
		pthread_mutex_lock(&s->lock);
		s->slewing = false;
		if (w == WAIT_DONE && c.verb == ASTRO_OBS_GOTO) {
			s->ra = c.ra_h;
			s->dec = c.dec_deg;
		} else if (w == WAIT_DONE) {
			s->ra = 0;
			s->dec = s->cfg->has_lat && s->cfg->lat < 0 ? -90 : 90;
			s->parked = true;
			s->tracking = false;
		}
		pthread_mutex_unlock(&s->lock);
		break;
	case ASTRO_OBS_UNPARK:
	case ASTRO_OBS_TRACKING:
		pthread_mutex_lock(&s->lock);
		if (c.verb == ASTRO_OBS_UNPARK)
			s->parked = false;
		else
			s->tracking = c.tracking;
		pthread_mutex_unlock(&s->lock);
		break;
	case ASTRO_OBS_EXPOSE:
		for (i = 0; i < c.count && w == WAIT_DONE; i++) {
			pthread_mutex_lock(&s->lock);
			s->exposing = true;
			pthread_mutex_unlock(&s->lock);
			int64_t start_ms = astro_now_ms();

			w = busy_wait(s, c.seconds, id);
			pthread_mutex_lock(&s->lock);
			s->exposing = false;
			pthread_mutex_unlock(&s->lock);
			if (w != WAIT_DONE)
				break;
			rc = take_image(s, c.seconds, start_ms, image, sizeof(image));
			if (rc < 0) {
				snprintf(msg, sizeof(msg), "storing the image failed: %s",
					 strerror(-rc));
				astro_obs_store_update(s->store, key, id, ASTRO_OBS_FAILED, msg,
						       -1, NULL);
				return;
			}
			/* Named only once it is stored (the simulator named
			 * it at exposure start). */
			pthread_mutex_lock(&s->lock);
			astro_strlcpy(s->last_image, image, sizeof(s->last_image));
			s->last_exposure = c.seconds;
			pthread_mutex_unlock(&s->lock);
		}
		snprintf(msg, sizeof(msg), "%u image(s), last %s", i, image);
		break;
	case ASTRO_OBS_STOP:
	case ASTRO_OBS_CANCEL:
		/* Nothing runs while we are here; a cancel target left over
		 * by a killed run is ended by handle_urgent(). */
		handle_urgent(s, job, NULL);
		return;
	}
	if (w == WAIT_PREEMPTED)
		return;	/* handle_urgent() recorded it */
	if (w == WAIT_SHUTDOWN) {
		astro_obs_store_update(s->store, key, id, ASTRO_OBS_FAILED,
				       "simulator shut down", -1, NULL);
		return;
	}
	astro_obs_store_update(s->store, key, id, ASTRO_OBS_COMPLETE, msg[0] ? msg : "done",
			       -1, image[0] ? image : NULL);
}

static void *site_thread(void *arg)
{
	struct site *s = arg;
	/* Made before the first receive: a command queued after it wakes us
	 * (the local store: within a millisecond, not a poll period). */
	int watch = astro_obs_store_watch(s->store);

	while (!stopping) {
		struct astro_obs_job job;
		int rc;

		/* An INDI site takes no command while its server is away:
		 * queued commands wait in the store. */
		if (s->indi && !astro_obs_indisite_ready(s->indi)) {
			astro_sleep_ms(POLL_MS);
			continue;
		}
		rc = astro_obs_store_receive(s->store, s->cfg->key, false, &job);

		if (rc == -EAGAIN) {
			astro_obs_store_watch_wait(watch, POLL_MS);
			continue;
		}
		if (rc < 0) {
			/* One bad message or store hiccup never stops the site. */
			astro_warn("%s: receive: %s", s->cfg->key, strerror(-rc));
			astro_sleep_ms(1000);
			continue;
		}
		astro_info("%s: job %s: %s", s->cfg->key, job.id, job.line);
		execute(s, &job);
	}
	if (watch >= 0)
		close(watch);
	return NULL;
}

static int publish(struct site *s)
{
	char ts[32], ra[32], dec[32], exp[32];
	json_t *j;
	char *txt;
	int rc;

	if (s->indi) {
		char last[ASTRO_OBS_IMAGE_NAME_MAX + 1];

		pthread_mutex_lock(&s->lock);
		astro_strlcpy(last, s->last_image, sizeof(last));
		pthread_mutex_unlock(&s->lock);
		rc = astro_obs_indisite_status(s->indi, s->o->skew_s, last, &txt);
		if (rc == 0)
			rc = astro_obs_store_status_put(s->store, s->cfg->key, txt);
		free(txt);
		return rc;
	}
	/* Whole seconds cut down, as the simulator's str(int(time.time())):
	 * rounded up, a stamp half a second ahead reads as "-1 day, 23:59:59"
	 * old in its client.py. */
	snprintf(ts, sizeof(ts), "%lld",
		 (long long)floor(astro_now_ms() / 1000.0 + s->o->skew_s));
	pthread_mutex_lock(&s->lock);
	snprintf(ra, sizeof(ra), "%.6f", s->ra);
	snprintf(dec, sizeof(dec), "%.6f", s->dec);
	snprintf(exp, sizeof(exp), "%g", s->last_exposure);
	/* The observatory simulator's item: every value a string. */
	j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
		      "State", "State", "site", s->cfg->key, "timestamp", ts,
		      "mnt1_ra", ra, "mnt1_dec", dec, "mnt1_is_parked", yes(s->parked),
		      "mnt1_is_tracking", yes(s->tracking), "mnt1_is_slewing", yes(s->slewing),
		      "mnt1_tracking_ra_rate", "0.0", "mnt1_tracking_dec_rate", "0.0",
		      "cam1_binX", "1", "cam1_binY", "1", "cam1_is_exposing", yes(s->exposing),
		      "cam1_last_exposure_time", s->last_image[0] ? exp : "empty",
		      "cam1_last_image_name", s->last_image[0] ? s->last_image : "empty");
	pthread_mutex_unlock(&s->lock);
	txt = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	if (!txt)
		return -ENOMEM;
	rc = astro_obs_store_status_put(s->store, s->cfg->key, txt);
	free(txt);
	return rc;
}

/* Jobs a killed earlier run left half done cannot be resumed honestly. */
static int recover_step(void *arg, const char *id, enum astro_obs_state st)
{
	struct site *s = arg;

	if (st == ASTRO_OBS_RECEIVED || st == ASTRO_OBS_STARTED) {
		astro_notice("%s: job %s was %s when the simulator stopped: FAILED", s->cfg->key,
			     id, astro_obs_job_state_name(st));
		astro_obs_store_update(s->store, s->cfg->key, id, ASTRO_OBS_FAILED,
				       "simulator restarted while it ran", -1, NULL);
	}
	return 0;
}

/* The last stored image and its exposure survive restarts via the index. */
static void restore_camera(struct site *s)
{
	struct astro_obs_image img;

	if (astro_obs_store_latest_image(s->store, s->cfg->key, &img) == 0)
		astro_strlcpy(s->last_image, img.name, sizeof(s->last_image));
}

static int run(const struct opts *o, struct astro_obs_sites *sites,
	       struct astro_obs_store *store)
{
	struct site *v = calloc(sites->n, sizeof(*v));
	size_t i, started = 0;
	struct sigaction sa;
	int64_t next = 0;

	if (!v)
		return 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (i = 0; i < sites->n; i++) {
		v[i].cfg = &sites->v[i];
		v[i].store = store;
		v[i].o = o;
		v[i].parked = true;	/* mounts start parked, like real ones */
		v[i].dec = sites->v[i].has_lat && sites->v[i].lat < 0 ? -90 : 90;
		pthread_mutex_init(&v[i].lock, NULL);
		if (v[i].cfg->indi_host &&
		    astro_obs_indisite_new(v[i].cfg, store, &v[i].indi) < 0) {
			astro_err("%s: out of memory", v[i].cfg->key);
			stopping = 1;
		}
		astro_obs_store_jobs(store, v[i].cfg->key, recover_step, &v[i]);
		restore_camera(&v[i]);
	}
	for (i = 0; i < sites->n; i++) {
		if (pthread_create(&v[i].thr, NULL, site_thread, &v[i]) != 0)
			break;
		started++;
	}
	astro_notice("simulating %zu site(s), store %s", started, o->store);
	while (!stopping && started == sites->n) {
		if (!o->pause_status && astro_mono_ms() >= next) {
			for (i = 0; i < sites->n; i++)
				if (publish(&v[i]) < 0)
					astro_warn("%s: publishing status failed", v[i].cfg->key);
			next = astro_mono_ms() + (int64_t)(o->status_s * 1000);
		}
		astro_sleep_ms(100);
	}
	stopping = 1;
	for (i = 0; i < started; i++)
		pthread_join(v[i].thr, NULL);
	for (i = 0; i < sites->n; i++) {
		astro_obs_indisite_free(v[i].indi);
		pthread_mutex_destroy(&v[i].lock);
	}
	free(v);
	return started == sites->n ? 0 : 1;
}

static int print_images(void *arg, const struct astro_obs_image *img)
{
	(void)arg;
	printf("%s\t%llu\t%llu\n", img->name, (unsigned long long)img->size,
	       (unsigned long long)img->seq);
	return 0;
}

static int parse_double(const char *name, const char *s, double lo, double hi, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(*out) || *out < lo || *out > hi) {
		fprintf(stderr, "astrofs-obssim: --%s '%s': want a number in [%g,%g]\n",
			name, s, lo, hi);
		return -EINVAL;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: astrofs-obssim --config FILE [--store DIR] [--time-scale X]\n"
		"                      [--clock-skew S] [--pause-status] [--fail-rate P]\n"
		"                      [--status-interval S] [-v]\n"
		"       astrofs-obssim [--store DIR] [--config FILE] [--retention S] --enqueue SITE LINE...\n"
		"       astrofs-obssim [--store DIR] --show SITE JOB | --status SITE | --images SITE\n"
		"store: --store DIR (local, the default) or --backend aws [--aws-region R]\n"
		"       [--sqs-endpoint URL] [--dynamodb-endpoint URL] [--s3-endpoint URL]\n"
		"       [--sqs-prefix P] [--table T] [--bucket B] [--aws-credentials FILE]\n"
		"       [--visibility S] [--aws-layout astrofs|pythonbits]\n"
		"       (credentials also from AWS_* variables)\n");
}

/* getopt codes of the long options; O_ENQ..O_IMAGES are also the CLI modes. */
enum { O_STORE = 256, O_TS, O_SKEW, O_PAUSE, O_FAIL, O_STATUS_S, O_ENQ, O_SHOW,
       O_STATUS, O_IMAGES, O_RETENTION, O_BACKEND, O_REGION, O_SQS, O_DDB, O_S3,
       O_PREFIX, O_TABLE, O_BUCKET, O_CRED, O_VIS, O_LAYOUT };

/* One run of the program: its options, and what setup opened for teardown. */
struct obssim {
	struct opts o;
	int mode;		/* 0 or O_ENQ, O_SHOW, O_STATUS, O_IMAGES */
	int level;
	bool help;
	const char *backend;
	struct astro_obs_aws_opts aws;
	char **args;		/* the operands after the options */
	int nargs;
	struct astro_obs_sites sites;
	struct astro_obs_store *store;
	char *store_dir;	/* the default store directory, when used */
	bool http_up;
	char err[512];
};

/* 0 to go on (also after --help, with m->help set) or the exit status. */
static int parse_args(struct obssim *m, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "store", required_argument, NULL, O_STORE },
		{ "time-scale", required_argument, NULL, O_TS },
		{ "clock-skew", required_argument, NULL, O_SKEW },
		{ "pause-status", no_argument, NULL, O_PAUSE },
		{ "fail-rate", required_argument, NULL, O_FAIL },
		{ "status-interval", required_argument, NULL, O_STATUS_S },
		{ "enqueue", no_argument, NULL, O_ENQ },
		{ "retention", required_argument, NULL, O_RETENTION },
		{ "show", no_argument, NULL, O_SHOW },
		{ "status", no_argument, NULL, O_STATUS },
		{ "images", no_argument, NULL, O_IMAGES },
		{ "backend", required_argument, NULL, O_BACKEND },
		{ "aws-region", required_argument, NULL, O_REGION },
		{ "sqs-endpoint", required_argument, NULL, O_SQS },
		{ "dynamodb-endpoint", required_argument, NULL, O_DDB },
		{ "s3-endpoint", required_argument, NULL, O_S3 },
		{ "sqs-prefix", required_argument, NULL, O_PREFIX },
		{ "table", required_argument, NULL, O_TABLE },
		{ "bucket", required_argument, NULL, O_BUCKET },
		{ "aws-credentials", required_argument, NULL, O_CRED },
		{ "visibility", required_argument, NULL, O_VIS },
		{ "aws-layout", required_argument, NULL, O_LAYOUT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts *o = &m->o;
	double vis = 0;
	int ch;

	while ((ch = getopt_long(argc, argv, "c:vh", lo, NULL)) != -1) {
		switch (ch) {
		case 'c': o->config = optarg; break;
		case O_STORE: o->store = optarg; break;
		case O_TS:
			if (parse_double("time-scale", optarg, 0, 1000, &o->time_scale) < 0)
				return 2;
			break;
		case O_SKEW:
			if (parse_double("clock-skew", optarg, -1e9, 1e9, &o->skew_s) < 0)
				return 2;
			break;
		case O_PAUSE: o->pause_status = true; break;
		case O_RETENTION:
			if (parse_double("retention", optarg, 0, 86400 * 14, &o->retention_s) < 0)
				return 2;
			break;
		case O_FAIL:
			if (parse_double("fail-rate", optarg, 0, 1, &o->fail_rate) < 0)
				return 2;
			break;
		case O_STATUS_S:
			if (parse_double("status-interval", optarg, 0.1, 3600, &o->status_s) < 0)
				return 2;
			break;
		case O_ENQ: case O_SHOW: case O_STATUS: case O_IMAGES:
			if (m->mode) {
				usage(stderr);
				return 2;
			}
			m->mode = ch;
			break;
		case O_BACKEND:
			if (strcmp(optarg, "local") != 0 && strcmp(optarg, "aws") != 0) {
				fprintf(stderr, "astrofs-obssim: --backend '%s': want local or aws\n",
					optarg);
				return 2;
			}
			m->backend = optarg;
			break;
		case O_REGION: m->aws.region = optarg; break;
		case O_SQS: m->aws.sqs_endpoint = optarg; break;
		case O_DDB: m->aws.dynamodb_endpoint = optarg; break;
		case O_S3: m->aws.s3_endpoint = optarg; break;
		case O_PREFIX: m->aws.prefix = optarg; break;
		case O_TABLE: m->aws.table = optarg; break;
		case O_BUCKET: m->aws.bucket = optarg; break;
		case O_LAYOUT: m->aws.layout = optarg; break;
		case O_CRED: m->aws.credentials = optarg; break;
		case O_VIS:
			if (parse_double("visibility", optarg, 1, 43200, &vis) < 0)
				return 2;
			m->aws.visibility_s = (unsigned)vis;
			break;
		case 'v': m->level = LOG_DEBUG; break;
		case 'h': m->help = true; return 0;
		default: usage(stderr); return 2;
		}
	}
	m->args = argv + optind;
	m->nargs = argc - optind;
	return 0;
}

/* The store the options name (aws or a local directory). */
static int open_store(struct obssim *m)
{
	int rc = 0;

	if (strcmp(m->backend, "aws") == 0) {
		if (astro_http_global_init() != 0) {
			fprintf(stderr, "astrofs-obssim: HTTP client set-up failed\n");
			return 2;
		}
		m->http_up = true;
		if (astro_obs_aws_open(&m->aws, &m->store, m->err, sizeof(m->err)) < 0) {
			fprintf(stderr, "astrofs-obssim: aws store: %s\n", m->err);
			return 2;
		}
		m->o.store = "aws";
		return 0;
	}
	/* The daemon's own default (config.h), so both open one store. */
	if (!m->o.store) {
		rc = astro_config_obs_store_default(&m->store_dir);
		if (rc == 0 && !m->store_dir)
			rc = -ENOENT;	/* no absolute HOME or XDG_DATA_HOME */
		m->o.store = m->store_dir;
	}
	if (rc == 0)
		rc = astro_obs_local_open(m->o.store, &m->store);
	if (rc < 0) {
		fprintf(stderr, "astrofs-obssim: store %s: %s\n",
			m->o.store ? m->o.store : "(default: no absolute $HOME)", strerror(-rc));
		return 2;
	}
	return 0;
}

/* Logging, the operands the mode needs, the sites file, the store: 0 or the exit status. */
static int setup(struct obssim *m)
{
	int n = m->nargs;

	astro_log_init("astrofs-obssim", ASTRO_LOG_STDERR, m->level);
	if ((!m->mode && (!m->o.config || n != 0)) ||
	    (m->mode == O_ENQ && n < 2) ||
	    (m->mode == O_SHOW && n != 2) ||
	    ((m->mode == O_STATUS || m->mode == O_IMAGES) && n != 1)) {
		usage(stderr);
		return 2;
	}
	if (m->o.config && astro_obs_sites_load(m->o.config, &m->sites, m->err,
						sizeof(m->err)) < 0) {
		fprintf(stderr, "astrofs-obssim: %s\n", m->err);
		return 2;
	}
	if (m->mode && m->o.config && !astro_obs_sites_find(&m->sites, m->args[0])) {
		fprintf(stderr, "astrofs-obssim: no site '%s' in %s\n", m->args[0], m->o.config);
		return 2;
	}
	return open_store(m);
}

/* --enqueue SITE LINE...: one command per line, the store's reply on stdout. */
static int cli_enqueue(struct obssim *m)
{
	char *reply = NULL, *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int i, n;

	if (!f)
		return 1;
	if (m->o.retention_s > 0)
		astro_obs_store_set_retention(m->store, (unsigned)m->o.retention_s);
	for (i = 1; i < m->nargs; i++)
		fprintf(f, "%s\n", m->args[i]);
	fclose(f);
	n = astro_obs_store_submit(m->store, m->args[0], text, len, &reply);
	fputs(reply ? reply : "err out of memory\n", stdout);
	free(reply);
	free(text);
	return n < 0 ? 1 : 0;
}

/* --show SITE JOB or --status SITE: the stored JSON on stdout. */
static int cli_show(struct obssim *m)
{
	char *json = NULL;
	int rc = 1;
	int r = m->mode == O_SHOW
		? astro_obs_store_job_json(m->store, m->args[0], m->args[1], &json)
		: astro_obs_store_status_get(m->store, m->args[0], &json);

	if (r < 0) {
		fprintf(stderr, "astrofs-obssim: %s\n", strerror(-r));
	} else {
		fputs(json, stdout);
		if (m->mode == O_STATUS)
			fputc('\n', stdout);
		rc = 0;
	}
	free(json);
	return rc;
}

static int dispatch(struct obssim *m)
{
	switch (m->mode) {
	case O_ENQ:
		return cli_enqueue(m);
	case O_SHOW:
	case O_STATUS:
		return cli_show(m);
	case O_IMAGES:
		return astro_obs_store_images(m->store, m->args[0], print_images, NULL) < 0;
	default:
		return run(&m->o, &m->sites, m->store);
	}
}

static void teardown(struct obssim *m)
{
	astro_obs_store_close(m->store);
	if (m->http_up)
		astro_http_global_cleanup();
	astro_obs_sites_free(&m->sites);
	free(m->store_dir);
}

int main(int argc, char **argv)
{
	struct obssim m = {
		.o = { .time_scale = 1, .status_s = 5 },
		.backend = "local",
		.level = LOG_NOTICE,
	};
	int rc;

	if ((rc = parse_args(&m, argc, argv)))
		return rc;
	if (m.help) {
		usage(stdout);
		return 0;
	}
	if ((rc = setup(&m)) == 0)
		rc = dispatch(&m);
	teardown(&m);
	return rc;
}

/* obs_indisite.c — /obs sites driven through INDI (see obs_indisite.h). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <erfa.h>
#include <erfam.h>
#include <jansson.h>
#include "core/astro.h"
#include "core/log.h"
#include "obs_frame.h"
#include "obs_indi.h"
#include "obs_indisite.h"

#define CONNECT_TIMEOUT_MS 2000
#define SETUP_S 10.0		/* devices defined and connected after connecting */
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 10000
#define POLL_MS 50		/* stop/cancel poll while a command runs */
#define CMD_S 20.0		/* deadline of a command without a known duration */
#define MOTION_S 90.0		/* slews and parking (a full slew: 16 s, park 13.5 s) */
#define BLOB_S 10.0		/* the image after CCD_EXPOSURE is Ok */
#define TT_MINUS_UTC_S 69.184	/* 37 leap seconds + 32.184; the matrix moves 1e-9/s */

struct astro_obs_indisite {
	const struct astro_obs_site *cfg;
	struct astro_obs_store *store;
	struct astro_obs_indi *c;
	char tel[ASTRO_OBS_INDI_NAME_MAX + 1], ccd[ASTRO_OBS_INDI_NAME_MAX + 1];
	pthread_mutex_t lock;	/* the fields below */
	bool ready, unresponsive;
	uint64_t unresponsive_gen;
	int64_t next_try_ms, backoff_ms, contact_ms;
	char why[300];
};

enum outcome { OUT_OK, OUT_ALERT, OUT_REFUSED, OUT_ABORTED, OUT_TIMEOUT, OUT_LOST,
	       OUT_PREEMPTED };

/* ---- coordinates ---- */

static void pn_matrix(double rnpb[3][3])
{
	double jd = 2440587.5 + (astro_now_ms() / 1000.0 + TT_MINUS_UTC_S) / 86400.0;

	eraPnm06a(2400000.5, jd - 2400000.5, rnpb);
}

/* J2000 (GCRS) <-> true equator and equinox of date; hours and degrees. */
static void convert(bool to_eod, double ra_h, double dec_deg, double *ra_o, double *dec_o)
{
	double r[3][3], p[3], q[3], a, d;

	pn_matrix(r);
	eraS2c(ra_h * 15 * ERFA_DD2R, dec_deg * ERFA_DD2R, p);
	if (to_eod)
		eraRxp(r, p, q);
	else
		eraTrxp(r, p, q);
	eraC2s(q, &a, &d);
	*ra_o = eraAnp(a) * ERFA_DR2D / 15;
	*dec_o = d * ERFA_DR2D;
}

/* ---- connection ---- */

int astro_obs_indisite_new(const struct astro_obs_site *cfg, struct astro_obs_store *store,
			   struct astro_obs_indisite **out)
{
	struct astro_obs_indisite *x = calloc(1, sizeof(*x));
	int rc;

	*out = NULL;
	if (!x)
		return -ENOMEM;
	rc = astro_obs_indi_new(cfg->indi_host, cfg->indi_port, &x->c);
	if (rc < 0) {
		free(x);
		return rc;
	}
	x->cfg = cfg;
	x->store = store;
	x->backoff_ms = BACKOFF_MIN_MS;
	pthread_mutex_init(&x->lock, NULL);
	astro_strlcpy(x->why, "not connected yet", sizeof(x->why));
	*out = x;
	return 0;
}

void astro_obs_indisite_free(struct astro_obs_indisite *x)
{
	if (!x)
		return;
	astro_obs_indi_free(x->c);
	pthread_mutex_destroy(&x->lock);
	free(x);
}

/* Wait (bounded) until dev defines prop; 0 or -errno. */
static int await_prop(struct astro_obs_indisite *x, const char *dev, const char *prop,
		      int64_t deadline)
{
	for (;;) {
		uint64_t g = astro_obs_indi_gen(x->c);
		int rc;

		if (astro_obs_indi_prop(x->c, dev, prop, NULL, NULL, NULL, 0) == 0)
			return 0;
		rc = astro_obs_indi_wait(x->c, g, deadline);
		if (rc < 0)
			return rc;
	}
}

/* The named device, or the first with that interface bit. */
static int await_device(struct astro_obs_indisite *x, const char *named, unsigned mask,
			char *dev, size_t n, int64_t deadline)
{
	for (;;) {
		uint64_t g = astro_obs_indi_gen(x->c);
		int rc;

		if (named) {
			if (astro_obs_indi_prop(x->c, named, "CONNECTION", NULL, NULL, NULL, 0) == 0)
				return astro_strlcpy(dev, named, n), 0;
		} else if (astro_obs_indi_find_interface(x->c, mask, dev, n) == 0) {
			return 0;
		}
		rc = astro_obs_indi_wait(x->c, g, deadline);
		if (rc < 0)
			return rc;
	}
}

static int setup(struct astro_obs_indisite *x, char *err, size_t errlen)
{
	int64_t deadline = astro_mono_ms() + (int64_t)(SETUP_S * 1000);
	char val[16];
	int rc;

	rc = astro_obs_indi_connect(x->c, CONNECT_TIMEOUT_MS, err, errlen);
	if (rc < 0)
		return rc;
	if ((rc = await_device(x, x->cfg->indi_telescope, 1, x->tel, sizeof(x->tel), deadline)) < 0)
		return astro_err_set(err, errlen, -EINVAL, "no telescope %s%s%son the server (%s)",
				  x->cfg->indi_telescope ? "'" : "",
				  x->cfg->indi_telescope ? x->cfg->indi_telescope : "",
				  x->cfg->indi_telescope ? "' " : "", strerror(-rc)), rc;
	if ((rc = await_device(x, x->cfg->indi_ccd, 2, x->ccd, sizeof(x->ccd), deadline)) < 0)
		return astro_err_set(err, errlen, -EINVAL, "no CCD %s%s%son the server (%s)",
				  x->cfg->indi_ccd ? "'" : "", x->cfg->indi_ccd ? x->cfg->indi_ccd : "",
				  x->cfg->indi_ccd ? "' " : "", strerror(-rc)), rc;
	/* Connect the devices (a no-op for a connected one). */
	if (astro_obs_indi_value(x->c, x->tel, "CONNECTION", "CONNECT", val, sizeof(val)) < 0 ||
	    strcmp(val, "On") != 0)
		astro_obs_indi_new_switch(x->c, x->tel, "CONNECTION", "CONNECT");
	if (astro_obs_indi_value(x->c, x->ccd, "CONNECTION", "CONNECT", val, sizeof(val)) < 0 ||
	    strcmp(val, "On") != 0)
		astro_obs_indi_new_switch(x->c, x->ccd, "CONNECTION", "CONNECT");
	if ((rc = await_prop(x, x->tel, "EQUATORIAL_EOD_COORD", deadline)) < 0 ||
	    (rc = await_prop(x, x->tel, "TELESCOPE_PARK", deadline)) < 0)
		return astro_err_set(err, errlen, -EINVAL, "telescope '%s' did not connect (%s)", x->tel,
				  strerror(-rc)), rc;
	if ((rc = await_prop(x, x->ccd, "CCD_EXPOSURE", deadline)) < 0)
		return astro_err_set(err, errlen, -EINVAL, "CCD '%s' did not connect (%s)", x->ccd,
				  strerror(-rc)), rc;
	rc = astro_obs_indi_enable_blob(x->c, x->ccd);
	if (rc < 0)
		return astro_err_set(err, errlen, -EINVAL, "enabling BLOBs: %s", strerror(-rc)), rc;
	return 0;
}

bool astro_obs_indisite_ready(struct astro_obs_indisite *x)
{
	char err[300], why[300];
	int64_t now = astro_mono_ms();
	bool ready;

	pthread_mutex_lock(&x->lock);
	ready = x->ready && astro_obs_indi_alive(x->c, why, sizeof(why));
	if (x->ready && !ready) {
		astro_strlcpy(x->why, why, sizeof(x->why));
		x->ready = false;
		x->next_try_ms = now + x->backoff_ms;
	}
	if (ready || now < x->next_try_ms) {
		pthread_mutex_unlock(&x->lock);
		return ready;
	}
	pthread_mutex_unlock(&x->lock);
	err[0] = '\0';
	int rc = setup(x, err, sizeof(err));

	pthread_mutex_lock(&x->lock);
	if (rc == 0) {
		astro_notice("%s: INDI %s:%u ready: telescope '%s', CCD '%s'", x->cfg->key,
			     x->cfg->indi_host, x->cfg->indi_port, x->tel, x->ccd);
		x->ready = true;
		x->unresponsive = false;
		x->backoff_ms = BACKOFF_MIN_MS;
		x->contact_ms = astro_now_ms();
	} else {
		if (strcmp(err, x->why) != 0)
			astro_warn("%s: INDI %s:%u: %s; retrying", x->cfg->key, x->cfg->indi_host,
				   x->cfg->indi_port, err);
		astro_strlcpy(x->why, err, sizeof(x->why));
		x->next_try_ms = astro_mono_ms() + x->backoff_ms;
		x->backoff_ms = x->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : x->backoff_ms * 2;
	}
	ready = x->ready;
	pthread_mutex_unlock(&x->lock);
	if (rc < 0)
		astro_obs_indi_disconnect(x->c);
	return ready;
}

/* ---- commands ---- */

void astro_obs_indisite_abort(struct astro_obs_indisite *x)
{
	astro_obs_indi_new_switch(x->c, x->tel, "TELESCOPE_ABORT_MOTION", "ABORT");
	astro_obs_indi_new_switch(x->c, x->ccd, "CCD_ABORT_EXPOSURE", "ABORT");
}

/* What counts as done when the property turns Ok without a Busy first
 * (the driver's periodic update may answer before our command is seen). */
typedef bool (*done_fn)(struct astro_obs_indisite *x, const void *arg);

struct waiter {
	const char *id, *dev, *prop;
	double deadline_s;
	done_fn quick_ok;	/* NULL: an Ok with no Busy is done */
	const void *quick_arg;
	astro_obs_indisite_urgent_fn fn;
	void *arg;
	bool started;		/* the job is STARTED */
};

static void start_job(struct astro_obs_indisite *x, struct waiter *w, double eta)
{
	if (!w->started)
		astro_obs_store_update(x->store, x->cfg->key, w->id, ASTRO_OBS_STARTED, NULL, eta,
				       NULL);
	w->started = true;
}

/* The device's reason: the vector's own message, else its newest message
 * since the command. */
static void reason(struct astro_obs_indisite *x, const char *dev, uint64_t g0,
		   const char *vmsg, char *msg, size_t n)
{
	if (vmsg[0])
		astro_strlcpy(msg, vmsg, n);
	else if (astro_obs_indi_message(x->c, dev, g0, msg, n) < 0)
		msg[0] = '\0';
}

/* Send has happened at generation g0; follow dev.prop to an outcome. */
static enum outcome follow(struct astro_obs_indisite *x, struct waiter *w, uint64_t g0,
			   char *msg, size_t n)
{
	int64_t deadline = astro_mono_ms() + (int64_t)(w->deadline_s * 1000);
	uint64_t seen = g0;
	bool busy = false;

	for (;;) {
		enum astro_obs_indi_state st;
		uint64_t g = astro_obs_indi_gen(x->c), pg = 0;
		char vmsg[512] = "";
		int64_t now = astro_mono_ms(), until;
		int rc;

		if (w->fn && w->fn(w->arg, w->id)) {
			astro_obs_indisite_abort(x);
			return OUT_PREEMPTED;
		}
		if (astro_obs_indi_prop(x->c, w->dev, w->prop, &st, &pg, vmsg, sizeof(vmsg)) == 0 &&
		    pg > seen) {
			seen = pg;
			if (st == ASTRO_OBS_INDI_BUSY) {
				busy = true;
				start_job(x, w, -1);
			} else if (st == ASTRO_OBS_INDI_OK &&
				   (busy || !w->quick_ok || w->quick_ok(x, w->quick_arg))) {
				return OUT_OK;
			} else if (st == ASTRO_OBS_INDI_ALERT) {
				reason(x, w->dev, g0, vmsg, msg, n);
				return OUT_ALERT;
			} else if (st == ASTRO_OBS_INDI_IDLE && busy) {
				reason(x, w->dev, g0, vmsg, msg, n);
				return OUT_ABORTED;
			} else if (st == ASTRO_OBS_INDI_IDLE) {
				/* A refusal says why; a silent Idle may be a
				 * periodic update sent before our command. */
				reason(x, w->dev, g0, vmsg, msg, n);
				/* "Telescope already unparked": nothing to do
				 * is done. */
				if (msg[0] && w->quick_ok && w->quick_ok(x, w->quick_arg))
					return OUT_OK;
				if (msg[0])
					return OUT_REFUSED;
			}
		}
		if (now >= deadline) {
			snprintf(msg, n, "no answer from '%s' (%s) within %.0f s", w->dev, w->prop,
				 w->deadline_s);
			return OUT_TIMEOUT;
		}
		until = now + POLL_MS < deadline ? now + POLL_MS : deadline;
		rc = astro_obs_indi_wait(x->c, g, until);
		if (rc == -ECONNRESET) {
			char why[300];

			astro_obs_indi_alive(x->c, why, sizeof(why));
			snprintf(msg, n, "INDI server %s:%u: %s", x->cfg->indi_host, x->cfg->indi_port,
				 why);
			return OUT_LOST;
		}
	}
}

/* Record a final outcome; OUT_OK leaves the job to the caller. */
static bool finish(struct astro_obs_indisite *x, struct waiter *w, enum outcome o, const char *msg)
{
	const char *key = x->cfg->key;

	switch (o) {
	case OUT_OK:
		return false;
	case OUT_PREEMPTED:
		return true;	/* the urgent handler recorded it */
	case OUT_ABORTED:
		if (!w->started)
			start_job(x, w, -1);
		astro_obs_store_update(x->store, key, w->id, ASTRO_OBS_CANCELED,
				       msg[0] ? msg : "aborted on the device", -1, NULL);
		return true;
	case OUT_TIMEOUT:
		pthread_mutex_lock(&x->lock);
		x->unresponsive = true;
		x->unresponsive_gen = astro_obs_indi_gen(x->c);
		pthread_mutex_unlock(&x->lock);
		/* fall through */
	default:
		astro_warn("%s: job %s: %s", key, w->id, msg);
		astro_obs_store_update(x->store, key, w->id, ASTRO_OBS_FAILED,
				       msg[0] ? msg : "the device refused the command", -1, NULL);
		return true;
	}
}

/* Send, then follow; true if the job ended (recorded). */
static bool step_switch(struct astro_obs_indisite *x, struct waiter *w, const char *on)
{
	char msg[600] = "";
	uint64_t g0 = astro_obs_indi_gen(x->c);
	int rc = astro_obs_indi_new_switch(x->c, w->dev, w->prop, on);

	if (rc < 0) {
		snprintf(msg, sizeof(msg), "sending %s.%s=%s: %s", w->dev, w->prop, on, strerror(-rc));
		return finish(x, w, OUT_LOST, msg);
	}
	return finish(x, w, follow(x, w, g0, msg, sizeof(msg)), msg);
}

static bool switch_is(struct astro_obs_indisite *x, const void *arg)
{
	const char *const *q = arg;	/* prop, member */
	char v[16];

	return astro_obs_indi_value(x->c, x->tel, q[0], q[1], v, sizeof(v)) == 0 &&
	       strcmp(v, "On") == 0;
}

struct target { double ra_h, dec_deg; };

static bool at_target(struct astro_obs_indisite *x, const void *arg)
{
	const struct target *t = arg;
	char ra[64], dec[64];
	double r, d;

	if (astro_obs_indi_value(x->c, x->tel, "EQUATORIAL_EOD_COORD", "RA", ra, sizeof(ra)) < 0 ||
	    astro_obs_indi_value(x->c, x->tel, "EQUATORIAL_EOD_COORD", "DEC", dec, sizeof(dec)) < 0 ||
	    astro_obs_indi_number(ra, &r) < 0 || astro_obs_indi_number(dec, &d) < 0)
		return false;
	return eraSeps(r * 15 * ERFA_DD2R, d * ERFA_DD2R, t->ra_h * 15 * ERFA_DD2R,
		       t->dec_deg * ERFA_DD2R) < 1.0 / 60 * ERFA_DD2R;
}

static bool do_goto(struct astro_obs_indisite *x, struct waiter *w, const struct astro_obs_cmd *c)
{
	static const char *const names[] = { "RA", "DEC" };
	struct target t;
	double v[2];
	char msg[600] = "";
	uint64_t g0;
	int rc;

	w->dev = x->tel;
	w->prop = "ON_COORD_SET";
	if (step_switch(x, w, "TRACK"))
		return true;
	if (c->jnow) {
		t.ra_h = c->ra_h;
		t.dec_deg = c->dec_deg;
	} else {
		convert(true, c->ra_h, c->dec_deg, &t.ra_h, &t.dec_deg);
	}
	v[0] = t.ra_h;
	v[1] = t.dec_deg;
	w->prop = "EQUATORIAL_EOD_COORD";
	w->deadline_s = MOTION_S;
	w->quick_ok = at_target;
	w->quick_arg = &t;
	g0 = astro_obs_indi_gen(x->c);
	rc = astro_obs_indi_new_numbers(x->c, x->tel, w->prop, 2, names, v);
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "sending the coordinates: %s", strerror(-rc));
		return finish(x, w, OUT_LOST, msg);
	}
	return finish(x, w, follow(x, w, g0, msg, sizeof(msg)), msg);
}

static bool do_expose(struct astro_obs_indisite *x, struct waiter *w, double seconds,
		      char *image, size_t n)
{
	static const char *const names[] = { "CCD_EXPOSURE_VALUE" };
	char msg[600] = "", fmt[16] = "", jname[ASTRO_OBS_IMAGE_NAME_MAX + 1], err[300];
	void *fits = NULL;
	uint8_t *jpg = NULL;
	size_t len = 0, jlen = 0;
	uint64_t g0, seq;
	enum outcome o;
	int rc;

	w->dev = x->ccd;
	w->prop = "CCD_EXPOSURE";
	w->deadline_s = seconds + CMD_S;
	g0 = astro_obs_indi_gen(x->c);
	rc = astro_obs_indi_new_numbers(x->c, x->ccd, w->prop, 1, names, &seconds);
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "sending the exposure: %s", strerror(-rc));
		return finish(x, w, OUT_LOST, msg);
	}
	o = follow(x, w, g0, msg, sizeof(msg));
	if (finish(x, w, o, msg))
		return true;
	/* Ok: the BLOB comes about 20 ms before; wait for it if not. */
	{
		int64_t deadline = astro_mono_ms() + (int64_t)(BLOB_S * 1000);

		while ((rc = astro_obs_indi_blob_take(x->c, x->ccd, g0, &fits, &len, fmt,
						      sizeof(fmt))) == -ENOENT) {
			uint64_t g = astro_obs_indi_gen(x->c);

			if (astro_obs_indi_wait(x->c, g, deadline) < 0)
				break;
		}
	}
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "the exposure ended but '%s' sent no image", x->ccd);
		return finish(x, w, OUT_ALERT, msg);
	}
	if (strcmp(fmt, ".fits") != 0) {
		free(fits);
		snprintf(msg, sizeof(msg), "'%s' sent a '%s' image, not FITS", x->ccd, fmt);
		return finish(x, w, OUT_ALERT, msg);
	}
	rc = astro_obs_store_counter_next(x->store, x->cfg->key, "cam1", &seq);
	if (rc == 0) {
		char base[ASTRO_OBS_IMAGE_NAME_MAX - 4];

		snprintf(base, sizeof(base), "%lld_%s_cam1_%gs_no%llu",
			 (long long)(astro_now_ms() / 1000), x->cfg->key, seconds,
			 (unsigned long long)seq);
		snprintf(image, n, "%s.fits", base);
		snprintf(jname, sizeof(jname), "%s.jpg", base);
		rc = astro_obs_store_image_put(x->store, x->cfg->key, image, fits, len, seq);
	}
	if (rc == 0) {
		int prc = astro_obs_frame_preview(fits, len, &jpg, &jlen, err, sizeof(err));

		if (prc == 0)
			prc = astro_obs_store_image_put(x->store, x->cfg->key, jname, jpg, jlen, seq);
		else
			astro_warn("%s: preview of %s: %s", x->cfg->key, image, err);
		if (prc < 0 && prc != -EINVAL)
			astro_warn("%s: storing %s: %s", x->cfg->key, jname, strerror(-prc));
	}
	free(jpg);
	free(fits);
	if (rc < 0) {
		image[0] = '\0';
		snprintf(msg, sizeof(msg), "storing the image failed: %s", strerror(-rc));
		return finish(x, w, OUT_ALERT, msg);
	}
	return false;
}

void astro_obs_indisite_execute(struct astro_obs_indisite *x, const struct astro_obs_job *job,
				astro_obs_indisite_urgent_fn fn, void *arg, char *image, size_t n)
{
	static const char *const parked[] = { "TELESCOPE_PARK", "PARK" };
	static const char *const unparked[] = { "TELESCOPE_PARK", "UNPARK" };
	static const char *const trk_on[] = { "TELESCOPE_TRACK_STATE", "TRACK_ON" };
	static const char *const trk_off[] = { "TELESCOPE_TRACK_STATE", "TRACK_OFF" };
	struct waiter w = { .id = job->id, .deadline_s = CMD_S, .fn = fn, .arg = arg };
	struct astro_obs_cmd c;
	char err[200], msg[200] = "";
	bool ended = false;
	unsigned i;

	image[0] = '\0';
	if (astro_obs_cmd_parse(job->line, strlen(job->line), &c, err, sizeof(err)) != 1) {
		astro_obs_store_update(x->store, x->cfg->key, job->id, ASTRO_OBS_REJECTED,
				       err[0] ? err : "empty command", -1, NULL);
		return;
	}
	w.dev = x->tel;
	switch (c.verb) {
	case ASTRO_OBS_PARK:
	case ASTRO_OBS_UNPARK:
		w.prop = "TELESCOPE_PARK";
		w.deadline_s = MOTION_S;
		w.quick_ok = switch_is;
		w.quick_arg = c.verb == ASTRO_OBS_PARK ? parked : unparked;
		ended = step_switch(x, &w, c.verb == ASTRO_OBS_PARK ? "PARK" : "UNPARK");
		break;
	case ASTRO_OBS_TRACKING:
		w.prop = "TELESCOPE_TRACK_STATE";
		w.quick_ok = switch_is;
		w.quick_arg = c.tracking ? trk_on : trk_off;
		/* The driver says nothing when the state does not change. */
		if (switch_is(x, w.quick_arg))
			snprintf(msg, sizeof(msg), "tracking was already %s", c.tracking ? "on" : "off");
		else
			ended = step_switch(x, &w, c.tracking ? "TRACK_ON" : "TRACK_OFF");
		break;
	case ASTRO_OBS_GOTO:
		ended = do_goto(x, &w, &c);
		break;
	case ASTRO_OBS_EXPOSE:
		for (i = 0; i < c.count && !ended; i++)
			ended = do_expose(x, &w, c.seconds, image, n);
		if (!ended)
			snprintf(msg, sizeof(msg), "%u image(s), last %s", i, image);
		break;
	case ASTRO_OBS_STOP:
	case ASTRO_OBS_CANCEL:
		/* The caller handles urgent commands. */
		return;
	}
	if (ended)
		return;
	pthread_mutex_lock(&x->lock);
	x->contact_ms = astro_now_ms();
	pthread_mutex_unlock(&x->lock);
	if (!w.started)
		start_job(x, &w, -1);
	astro_obs_store_update(x->store, x->cfg->key, job->id, ASTRO_OBS_COMPLETE,
			       msg[0] ? msg : "done", -1, image[0] ? image : NULL);
}

/* ---- status ---- */

static const char *yes(bool b)
{
	return b ? "True" : "False";
}

static bool on(struct astro_obs_indisite *x, const char *dev, const char *prop, const char *m)
{
	char v[16];

	return astro_obs_indi_value(x->c, dev, prop, m, v, sizeof(v)) == 0 && strcmp(v, "On") == 0;
}

static bool busy(struct astro_obs_indisite *x, const char *dev, const char *prop)
{
	enum astro_obs_indi_state st;

	return astro_obs_indi_prop(x->c, dev, prop, &st, NULL, NULL, 0) == 0 &&
	       st == ASTRO_OBS_INDI_BUSY;
}

int astro_obs_indisite_status(struct astro_obs_indisite *x, double skew_s,
			      const char *last_image, char **json)
{
	char ts[32], ra[32] = "0.000000", dec[32] = "0.000000", rs[64], ds[64], server[300];
	char why[300] = "";
	bool alive = astro_obs_indi_alive(x->c, why, sizeof(why)), ready, responsive;
	double r, d, ra_j, dec_j;
	int64_t contact;
	json_t *j;

	pthread_mutex_lock(&x->lock);
	/* The device spoke after it had gone quiet: responsive again. */
	if (x->unresponsive && astro_obs_indi_gen(x->c) > x->unresponsive_gen + 1)
		x->unresponsive = false;
	if (alive && x->ready && !x->unresponsive)
		x->contact_ms = astro_now_ms();
	contact = x->contact_ms;
	ready = x->ready && alive;
	responsive = !x->unresponsive;
	if (!why[0] && !ready)
		astro_strlcpy(why, x->why, sizeof(why));
	pthread_mutex_unlock(&x->lock);
	/* The timestamp is the last contact: a silent site reads stale. */
	/* Cut down, never rounded up: a stamp ahead of the reader's clock
	 * reads as a negative age in the observatory simulator's client. */
	snprintf(ts, sizeof(ts), "%lld", (long long)floor(contact / 1000.0 + skew_s));
	if (astro_obs_indi_value(x->c, x->tel, "EQUATORIAL_EOD_COORD", "RA", rs, sizeof(rs)) == 0 &&
	    astro_obs_indi_value(x->c, x->tel, "EQUATORIAL_EOD_COORD", "DEC", ds, sizeof(ds)) == 0 &&
	    astro_obs_indi_number(rs, &r) == 0 && astro_obs_indi_number(ds, &d) == 0) {
		convert(false, r, d, &ra_j, &dec_j);
		snprintf(ra, sizeof(ra), "%.6f", ra_j);
		snprintf(dec, sizeof(dec), "%.6f", dec_j);
	}
	snprintf(server, sizeof(server), "%s:%u", x->cfg->indi_host, x->cfg->indi_port);
	j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
		      "State", "State", "site", x->cfg->key, "timestamp", ts, "mnt1_ra", ra,
		      "mnt1_dec", dec, "mnt1_is_parked", yes(on(x, x->tel, "TELESCOPE_PARK", "PARK")),
		      "mnt1_is_tracking",
		      yes(on(x, x->tel, "TELESCOPE_TRACK_STATE", "TRACK_ON")),
		      "mnt1_is_slewing", yes(busy(x, x->tel, "EQUATORIAL_EOD_COORD")),
		      "mnt1_tracking_ra_rate", "0.0", "mnt1_tracking_dec_rate", "0.0",
		      "cam1_binX", "1", "cam1_binY", "1",
		      "cam1_is_exposing", yes(busy(x, x->ccd, "CCD_EXPOSURE")),
		      "cam1_last_image_name", last_image && last_image[0] ? last_image : "empty",
		      "indi_server", server, "indi_connected", yes(ready),
		      "indi_responsive", yes(responsive),
		      "indi_telescope", x->tel, "indi_ccd", x->ccd);
	if (j && !ready)
		json_object_set_new(j, "indi_error", json_string(why));
	*json = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	return *json ? 0 : -ENOMEM;
}

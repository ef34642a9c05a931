/*
 * obs_indisite.h — an /obs site run through an INDI server's devices
 * (SPEC section 6, the sites file's `indi: HOST:PORT`).
 *
 * Commands map to standard properties: unpark/park -> TELESCOPE_PARK;
 * goto -> ON_COORD_SET=TRACK, then EQUATORIAL_EOD_COORD (a J2000 command
 * converted to the true equator and equinox of date with ERFA's IAU 2006/
 * 2000A precession-nutation; rdsys=JNOW is sent as is); tracking ->
 * TELESCOPE_TRACK_STATE; stop -> TELESCOPE_ABORT_MOTION and
 * CCD_ABORT_EXPOSURE; expose -> CCD_EXPOSURE with BLOBs enabled, the CCD's
 * FITS stored as the image with a JPEG preview.
 *
 * Job states follow the property: Busy -> STARTED, Ok -> COMPLETE, Alert ->
 * FAILED with the device's message, Idle with a message before any Busy ->
 * FAILED (the device refused: its message), Idle after Busy -> CANCELED.
 * No answer within the command's deadline -> FAILED, and the status stops
 * advancing its timestamp (the site reads as stale) until the device
 * speaks again.  A lost connection fails the job in flight with the
 * reason; the site then reconnects with backoff (0.5 s doubling to 10 s)
 * and takes no command meanwhile, so nothing queued is lost.
 *
 * Thread-safety: execute and ready from the site's thread; status from any.
 */
#ifndef ASTRO_OBS_INDISITE_H
#define ASTRO_OBS_INDISITE_H

#include <stdbool.h>
#include <stddef.h>
#include "obs_sites.h"
#include "obs_store.h"

struct astro_obs_indisite;

/* Called every few tens of ms while a command runs: true if a stop or
 * cancel preempted job `cur` (the callback recorded the job states); the
 * driver then aborts the devices. */
typedef bool (*astro_obs_indisite_urgent_fn)(void *arg, const char *cur);

int astro_obs_indisite_new(const struct astro_obs_site *cfg, struct astro_obs_store *store,
			   struct astro_obs_indisite **out);
void astro_obs_indisite_free(struct astro_obs_indisite *x);

/* Connected with both devices set up; if not, (re)connects when the
 * backoff allows.  False while the server cannot be used. */
bool astro_obs_indisite_ready(struct astro_obs_indisite *x);

/* Run one received job to its end state.  image (n bytes) receives the
 * stored FITS name of an exposure, else "". */
void astro_obs_indisite_execute(struct astro_obs_indisite *x, const struct astro_obs_job *job,
				astro_obs_indisite_urgent_fn fn, void *arg, char *image, size_t n);

/* Abort motion and exposure (a stop with nothing running). */
void astro_obs_indisite_abort(struct astro_obs_indisite *x);

/* The status item (the observatory simulator's fields, all strings, plus
 * indi_*): malloc'd compact JSON. last_image may be "". */
int astro_obs_indisite_status(struct astro_obs_indisite *x, double skew_s,
			      const char *last_image, char **json);

#endif

/*
 * obs_frame.h — the /obs images as FITS: a synthetic camera frame for the
 * built-in simulator, and the browser preview of any FITS image.
 *
 * astro_obs_frame_synth(): a 16-bit star field around the pointing, written
 * with cfitsio into memory: a gnomonic (TAN) WCS whose reference pixel is
 * the image centre and whose reference value is the pointing (CTYPE, CRVAL,
 * CRPIX, CD, CUNIT, RADESYS/EQUINOX), DATE-OBS, EXPTIME, RA/DEC (degrees),
 * OBJCTRA/OBJCTDEC (sexagesimal), the site's keywords.  Pixel values are a
 * bias, sky and stars that grow with the exposure time, and Gaussian noise
 * (read noise plus photon noise), so the noise too scales with exposure.
 * The same pointing gives the same stars; the noise differs per seq.
 *
 * astro_obs_frame_preview(): the first 2-D image of a FITS file (a camera's
 * own, or the one above) as an 8-bit JPEG: binned to at most
 * ASTRO_OBS_PREVIEW_MAX pixels a side, stretched from the 2nd to the 99.8th
 * percentile with a square-root curve (faint stars visible, the sky not
 * white).  Anything else is refused with a message naming what was wrong.
 *
 * Pure; thread-safe (cfitsio is built reentrant in Debian, and every call
 * uses its own memory file).  0 or -errno (-EINVAL: bad arguments or not a
 * FITS image; -ENOMEM).
 */
#ifndef ASTRO_OBS_FRAME_H
#define ASTRO_OBS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ASTRO_OBS_FRAME_WIDTH 640
#define ASTRO_OBS_FRAME_HEIGHT 480
#define ASTRO_OBS_FRAME_SCALE 1.5	/* arcsec per pixel */
#define ASTRO_OBS_PREVIEW_MAX 1024

struct astro_obs_frame_spec {
	double ra_deg, dec_deg;		/* pointing, J2000 */
	double exptime_s;		/* > 0 */
	int64_t date_obs_ms;		/* exposure start, Unix ms */
	uint64_t seq;			/* the camera's counter (FRAMENO, noise seed) */
	const char *site_key;
	const char *site_name;		/* NULL: the key */
	bool has_lat, has_lng, has_elevation;
	double lat, lng, elevation;
};

int astro_obs_frame_synth(const struct astro_obs_frame_spec *sp, void **fits, size_t *len);

int astro_obs_frame_preview(const void *fits, size_t len, uint8_t **jpg, size_t *jlen,
			    char *err, size_t errlen);

#endif

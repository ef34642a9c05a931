/*
 * obs_jpeg.h — JPEG previews of /obs images, encoded with libjpeg-turbo.
 *
 * A baseline JFIF greyscale JPEG (quality ASTRO_OBS_JPEG_QUALITY) of an
 * 8-bit image, for browsers; the science data is the FITS beside it.
 *
 * Pure and thread-safe (each call has its own libjpeg state; libjpeg's
 * fatal errors return -EIO through a longjmp local to the call).
 */
#ifndef ASTRO_OBS_JPEG_H
#define ASTRO_OBS_JPEG_H

#include <stddef.h>
#include <stdint.h>

#define ASTRO_OBS_JPEG_MAX_SIDE 8192
#define ASTRO_OBS_JPEG_QUALITY 90

/*
 * Encode a w x h 8-bit grey image (row-major; 1..ASTRO_OBS_JPEG_MAX_SIDE
 * each way).  *out is malloc'd.  0, -EINVAL, -ENOMEM or -EIO.
 */
int astro_obs_jpeg_grey(const uint8_t *pix, unsigned w, unsigned h,
			uint8_t **out, size_t *len);

#endif

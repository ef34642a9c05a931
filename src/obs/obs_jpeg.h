/*
 * obs_jpeg.h — a minimal baseline JPEG encoder for the simulator's images.
 *
 * Writes a valid JFIF baseline (SOF0) greyscale JPEG without libjpeg: each
 * 8x8 block is coded by its mean only (DC coefficient, all AC zero), so the
 * picture is a block mosaic of the input — enough for a test image that real
 * decoders read back exactly at block level.  Huffman tables: the standard
 * luminance DC table (ITU T.81 Annex K.3) and a one-symbol AC table (EOB).
 *
 * Pure and thread-safe.
 */
#ifndef ASTRO_OBS_JPEG_H
#define ASTRO_OBS_JPEG_H

#include <stddef.h>
#include <stdint.h>

#define ASTRO_OBS_JPEG_MAX_SIDE 4096

/*
 * Encode a w x h 8-bit grey image (row-major, w and h multiples of 8, at most
 * ASTRO_OBS_JPEG_MAX_SIDE).  *out is malloc'd.  0, -EINVAL or -ENOMEM.
 */
int astro_obs_jpeg_grey(const uint8_t *pix, unsigned w, unsigned h,
			uint8_t **out, size_t *len);

#endif

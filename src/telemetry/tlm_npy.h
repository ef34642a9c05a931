/*
 * tlm_npy.h — NumPy .npy (format 1.0, or 2.0 for headers over 64 KiB) of
 * fixed-size little-endian records: the /telemetry .npy files.
 *
 * A file is the magic "\x93NUMPY", the version, the header length and a
 * Python dict literal {'descr': [...], 'fortran_order': False, 'shape': (N,)}
 * padded with spaces and a newline so the data start on a 64-byte boundary
 * (numpy.load(mmap_mode='r') maps from there), then N packed records.  Field
 * names are escaped as Python string literals (\uXXXX for non-ASCII UTF-8),
 * so any state text makes a valid, ASCII-only header.
 *
 * Thread-safety: pure functions.
 */
#ifndef ASTRO_TLM_NPY_H
#define ASTRO_TLM_NPY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "core/astro.h"

enum astro_tlm_npy_type {
	ASTRO_TLM_NPY_F8 = 'f',	/* <f8 */
	ASTRO_TLM_NPY_I8 = 'i',	/* <i8 */
	ASTRO_TLM_NPY_S = 'S',	/* |S<width>, NUL-padded bytes */
};

struct astro_tlm_npy_field {
	const char *prefix;	/* name = prefix + text[0..tlen) */
	const char *text;
	uint32_t tlen;
	char type;		/* enum astro_tlm_npy_type */
	uint32_t width;		/* bytes, |S only (>= 1) */
};

/* Bytes one record of these fields takes. */
size_t astro_tlm_npy_record_size(const struct astro_tlm_npy_field *f, size_t nf);

/*
 * Append the whole header (magic to the newline) for `rows` records to b;
 * its length is a multiple of 64.  -ENOMEM (b->err) or -EINVAL (no fields).
 */
int astro_tlm_npy_header(struct astro_buf *b, const struct astro_tlm_npy_field *f,
			 size_t nf, uint64_t rows);

static inline char *astro_tlm_npy_put_i8(char *d, int64_t v)
{
	uint64_t u = (uint64_t)v;

	for (int k = 0; k < 8; k++)
		d[k] = (char)(u >> (8 * k));
	return d + 8;
}

static inline char *astro_tlm_npy_put_f8(char *d, double x)
{
	int64_t u;

	memcpy(&u, &x, sizeof(u));
	return astro_tlm_npy_put_i8(d, u);
}

/* Text truncated or NUL-padded to width bytes. */
static inline char *astro_tlm_npy_put_s(char *d, const char *s, size_t len, uint32_t width)
{
	size_t n = len < width ? len : width;

	memcpy(d, s, n);
	memset(d + n, 0, width - n);
	return d + width;
}

#endif

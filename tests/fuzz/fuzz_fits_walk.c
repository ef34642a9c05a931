/*
 * fuzz_fits_walk — the input is a FITS object served through the read
 * callback, walked with the size known and unknown, lazily and fully; the
 * results must agree, survive a serialise/deserialise round trip, and the
 * input itself is also offered to the deserialiser as a cached state.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "fits/fits_walk.h"

struct mem {
	const uint8_t *d;
	size_t n;
	int report;
};

static int mem_read(void *arg, uint64_t off, size_t len, void *buf, size_t *got, uint64_t *size)
{
	struct mem *m = arg;
	size_t k = 0;

	if (off < m->n)
		k = m->n - off < len ? (size_t)(m->n - off) : len;
	if (k)
		memcpy(buf, m->d + off, k);
	*got = k;
	if (m->report)
		*size = m->n;
	return 0;
}

static const struct astro_fits_walk_opts opts = {
	.name = "fuzz", .first_read = 2880, .max_header = 1 << 16, .max_hdus = 64,
	.coalesce_gap = 5760, .small_tail = 8640, .quiet = true,
};

static char *walk(const uint8_t *d, size_t n, int report, int lazy, struct astro_fits_walk **out)
{
	struct mem m = { d, n, report };
	struct astro_fits_walk *w = NULL;
	char *csv = NULL;
	size_t len, i;
	uint32_t k;
	int rc;

	if (astro_fits_walk_new(&opts, ASTRO_FITS_SIZE_UNKNOWN, &w) < 0)
		abort();
	if (lazy) {
		for (k = 0;; k++) {
			rc = astro_fits_walk_to(w, mem_read, &m, k);
			if (rc == -ENOENT || rc == -EIO)
				break;
			assert(rc == 0 && astro_fits_walk_count(w) > k);
		}
	} else {
		rc = astro_fits_walk_all(w, mem_read, &m);
		assert(rc == 0 || rc == -EIO);
	}
	for (k = 0; k < astro_fits_walk_count(w); k++) {
		const struct astro_fits_hdu *h = astro_fits_walk_hdu(w, k);
		char buf[97];
		uint64_t off = 0;

		assert(h->header_offset % ASTRO_FITS_BLOCK == 0);
		assert(h->header_offset + h->header_bytes <= n);
		assert(memcmp(h->cards, d + h->header_offset, h->ncards * ASTRO_FITS_CARD) == 0);
		while ((i = astro_fits_walk_header_text_read(h, off, buf, sizeof(buf))) > 0)
			off += i;
		assert(off == astro_fits_walk_header_text_size(h));
	}
	if (astro_fits_walk_hdus_csv(w, &csv, &len) < 0)
		abort();
	*out = w;
	return csv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct astro_fits_walk *a, *b, *c, *r = NULL;
	char *ca, *cb, *cc, *cr;
	void *blob;
	size_t blen;

	ca = walk(data, size, 0, 0, &a);
	cb = walk(data, size, 1, 0, &b);
	cc = walk(data, size, 1, 1, &c);
	assert(strcmp(ca, cb) == 0);
	assert(strcmp(cb, cc) == 0);
	assert(astro_fits_walk_end(b, NULL) == astro_fits_walk_end(c, NULL));

	if (astro_fits_walk_serialize(b, &blob, &blen) < 0)
		abort();
	if (astro_fits_walk_deserialize(&opts, blob, blen, &r) < 0)
		abort();
	if (astro_fits_walk_hdus_csv(r, &cr, &blen) < 0)
		abort();
	assert(strcmp(cr, cb) == 0);
	free(cr);
	astro_fits_walk_free(r);
	free(blob);

	/* the raw input as a cached state: refused or loaded, never trusted */
	if (astro_fits_walk_deserialize(&opts, data, size, &r) == 0) {
		if (astro_fits_walk_hdus_csv(r, &cr, &blen) == 0)
			free(cr);
		astro_fits_walk_free(r);
	}
	free(ca);
	free(cb);
	free(cc);
	astro_fits_walk_free(a);
	astro_fits_walk_free(b);
	astro_fits_walk_free(c);
	return 0;
}

#include "unit.h"
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <fitsio.h>
#include <jansson.h>
#include "fits/fits_walk.h"
#include "core/log.h"

/* ---- an object served from memory, counting reads ---------------------- */

struct obj {
	const unsigned char *data;	/* NULL: sparse(), zeros elsewhere */
	uint64_t size;
	bool report_size;		/* like a Content-Range total */
	bool allow_reread;		/* a reloaded state has no buffer */
	int fail_next;			/* -errno for the next reads */
	int fail_times;			/* how many (0: once) */
	uint64_t size_delta;		/* reported size drifts (object replaced) */
	/* sparse objects: byte ranges that are not zero */
	const unsigned char *const *parts;
	const uint64_t *part_off;
	const size_t *part_len;
	int nparts;
	/* accounting */
	unsigned reads;
	uint64_t bytes;
	uint64_t lo[256], hi[256];	/* ranges read, to catch rereads */
};

static int obj_read(void *arg, uint64_t off, size_t len, void *buf, size_t *got, uint64_t *size)
{
	struct obj *o = arg;
	size_t n = 0;
	unsigned i;
	int p;

	if (o->fail_next) {
		int rc = o->fail_next;

		if (o->fail_times-- <= 1)
			o->fail_next = 0;
		return rc;
	}
	if (off < o->size)
		n = o->size - off < len ? (size_t)(o->size - off) : len;
	if (o->data) {
		memcpy(buf, o->data + off, n);
	} else {
		memset(buf, 0, n);
		for (p = 0; p < o->nparts; p++) {
			uint64_t a = o->part_off[p], b = a + o->part_len[p];
			uint64_t s = off > a ? off : a, e = off + n < b ? off + n : b;

			if (s < e)
				memcpy((unsigned char *)buf + (s - off), o->parts[p] + (s - a), e - s);
		}
	}
	for (i = 0; !o->allow_reread && i < o->reads && i < 256; i++)
		assert_false(n > 0 && off < o->hi[i] && off + n > o->lo[i]);
	if (o->reads < 256) {
		o->lo[o->reads] = off;
		o->hi[o->reads] = off + n;
	}
	o->reads++;
	o->bytes += n;
	*got = n;
	if (o->report_size)
		*size = o->size + (o->reads > 1 ? o->size_delta : 0);
	return 0;
}

/* ---- log capture -------------------------------------------------------- */

static char logbuf[16384];

static void sink(int level, const char *msg, void *arg)
{
	size_t n = strlen(logbuf);

	(void)level;
	(void)arg;
	snprintf(logbuf + n, sizeof(logbuf) - n, "%s\n", msg);
}

static int setup_log(void **state)
{
	(void)state;
	logbuf[0] = '\0';
	astro_log_set_sink(sink, NULL);
	astro_log_set_ratelimit(0, 0);	/* every case checks its own line */
	return 0;
}

static int teardown_log(void **state)
{
	(void)state;
	astro_log_set_sink(NULL, NULL);
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static struct astro_fits_walk *walk_new(uint64_t size)
{
	struct astro_fits_walk *w = NULL;
	struct astro_fits_walk_opts o = { .name = "test" };

	assert_int_equal(astro_fits_walk_new(&o, size, &w), 0);
	return w;
}

static char *csv_of(const struct astro_fits_walk *w)
{
	char *csv = NULL;
	size_t len = 0;

	assert_int_equal(astro_fits_walk_hdus_csv(w, &csv, &len), 0);
	assert_int_equal(strlen(csv), len);
	return csv;
}

/* serialise and load back, checking nothing is lost */
static struct astro_fits_walk *roundtrip(struct astro_fits_walk *w)
{
	struct astro_fits_walk *w2 = NULL;
	struct astro_fits_walk_opts o = { .name = "test" };
	void *blob = NULL;
	size_t len = 0;
	char *a, *b;
	const char *m1, *m2;

	assert_int_equal(astro_fits_walk_serialize(w, &blob, &len), 0);
	assert_int_equal(astro_fits_walk_deserialize(&o, blob, len, &w2), 0);
	assert_int_equal(astro_fits_walk_count(w2), astro_fits_walk_count(w));
	assert_int_equal(astro_fits_walk_end(w2, &m2), astro_fits_walk_end(w, &m1));
	assert_string_equal(m1, m2);
	a = csv_of(w);
	b = csv_of(w2);
	assert_string_equal(a, b);
	for (uint32_t i = 0; i < astro_fits_walk_count(w); i++) {
		const struct astro_fits_hdu *h1 = astro_fits_walk_hdu(w, i), *h2 = astro_fits_walk_hdu(w2, i);

		assert_int_equal(h1->ncards, h2->ncards);
		assert_memory_equal(h1->cards, h2->cards, h1->ncards * 80);
		assert_int_equal(h1->flags, h2->flags);
		assert_int_equal(h1->data_span, h2->data_span);
		assert_int_equal(h1->end_card_offset, h2->end_card_offset);
	}
	free(a);
	free(b);
	free(blob);
	astro_fits_walk_free(w);
	return w2;
}

static void check_header_text(const struct astro_fits_hdu *h)
{
	uint64_t n = astro_fits_walk_header_text_size(h);
	char *t = malloc(n + 1), piece[37];
	size_t i, got;
	uint64_t off;

	assert_non_null(t);
	assert_int_equal(n, h->ncards * 81);
	assert_int_equal(astro_fits_walk_header_text_read(h, 0, t, n + 1), n);
	for (i = 0; i < h->ncards; i++) {
		assert_memory_equal(t + i * 81, h->cards + i * 80, 80);
		assert_int_equal(t[i * 81 + 80], '\n');
	}
	/* arbitrary read offsets and lengths give the same bytes */
	for (off = 0; off < n; off += got) {
		got = astro_fits_walk_header_text_read(h, off, piece, sizeof(piece));
		assert_true(got > 0);
		assert_memory_equal(piece, t + off, got);
	}
	assert_int_equal(astro_fits_walk_header_text_read(h, n, piece, sizeof(piece)), 0);
	free(t);
}

/* ---- the corpus against groundtruth.json -------------------------------- */

static json_t *gt_load(void)
{
	char path[1024];
	json_error_t jerr;
	json_t *gt;

	if (!unit_shared("data/fits/groundtruth.json", path, sizeof(path)))
		return NULL;
	gt = json_load_file(path, 0, &jerr);
	if (!gt)
		fail_msg("groundtruth.json: %s line %d", jerr.text, jerr.line);
	return gt;
}

static uint64_t ju(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_integer(v))
		fail_msg("groundtruth: %s is not an integer", k);
	return (uint64_t)json_integer_value(v);
}

static unsigned char *load_file(const char *rel, size_t *len)
{
	char rp[512], path[1024];
	unsigned char *d;

	snprintf(rp, sizeof(rp), "data/fits/%s", rel);
	if (!unit_shared(rp, path, sizeof(path)))
		return NULL;
	d = (unsigned char *)unit_slurp(path, len);
	assert_non_null(d);
	return d;
}

static enum astro_fits_end trailing_kind(const char *what)
{
	if (strcmp(what, "nul_padding") == 0)
		return ASTRO_FITS_END_NUL_PADDING;
	if (strcmp(what, "short_tail") == 0)
		return ASTRO_FITS_END_SHORT_TAIL;
	if (strcmp(what, "special_records_or_garbage") == 0)
		return ASTRO_FITS_END_JUNK;
	fail_msg("unknown trailing kind %s", what);
	return ASTRO_FITS_END_NONE;
}

static uint64_t corpus_reads, corpus_bytes, corpus_size;

/* One corpus file, walked with the size known or not. */
static void check_file(const char *rel, json_t *e, const unsigned char *d, size_t len, bool report)
{
	struct obj o = { .data = d, .size = len, .report_size = report };
	struct astro_fits_walk *w = walk_new(ASTRO_FITS_SIZE_UNKNOWN);
	json_t *walker = json_object_get(e, "walker"), *hdus = json_object_get(e, "hdus"), *x;
	size_t i, nw = 0;
	int rc;
	const char *msg;
	enum astro_fits_end want_end = ASTRO_FITS_END_NONE;
	const char *want_err = NULL;

	rc = astro_fits_walk_all(w, obj_read, &o);
	if (!walker || json_is_null(walker)) {
		/* not FITS at all (lzw.fits.Z): HDU 0 is damaged */
		assert_int_equal(rc, -EIO);
		assert_int_equal(astro_fits_walk_count(w), 0);
		astro_fits_walk_free(w);
		return;
	}
	json_array_foreach(walker, i, x) {
		json_t *kind = json_object_get(x, "kind");

		if (!kind) {
			nw++;
			continue;
		}
		if (strcmp(json_string_value(kind), "trailing") == 0) {
			want_end = trailing_kind(json_string_value(json_object_get(x, "what")));
		} else {
			assert_string_equal(json_string_value(kind), "truncated_header");
			want_end = ASTRO_FITS_END_DAMAGED;
			want_err = json_string_value(json_object_get(x, "error"));
		}
		assert_int_equal(ju(x, "offset"), ju(json_array_get(walker, i - 1), "data_offset") +
						      ju(json_array_get(walker, i - 1), "data_span"));
	}
	if (astro_fits_walk_count(w) != nw)
		fail_msg("%s: %u HDUs walked, groundtruth %zu", rel, astro_fits_walk_count(w), nw);
	if (rc != (want_end == ASTRO_FITS_END_DAMAGED ? -EIO : 0)) {
		astro_fits_walk_end(w, &msg);
		fail_msg("%s: walk returned %d (%s)", rel, rc, msg);
	}
	if (want_end == ASTRO_FITS_END_NONE) {
		/* clean or truncated-data end */
		enum astro_fits_end end = astro_fits_walk_end(w, NULL);

		assert_true(end == ASTRO_FITS_END_EOF || end == ASTRO_FITS_END_TRUNCATED);
		assert_int_equal(end == ASTRO_FITS_END_TRUNCATED,
					 (int64_t)json_integer_value(json_object_get(e, "bytes_after_last_hdu")) < 0);
	} else {
		assert_int_equal(astro_fits_walk_end(w, &msg), want_end);
		if (want_err)
			assert_string_equal(msg, want_err);
	}
	for (i = 0; i < nw; i++) {
		json_t *g = json_array_get(walker, i);
		const struct astro_fits_hdu *h = astro_fits_walk_hdu(w, (uint32_t)i);
		json_t *k = json_array_size(hdus) == nw ? json_array_get(hdus, i) : NULL, *v;

		assert_non_null(h);
		if (h->header_offset != ju(g, "header_offset") || h->data_bytes != ju(g, "data_size"))
			fail_msg("%s HDU %zu: offset %llu size %llu", rel, i,
				 (unsigned long long)h->header_offset, (unsigned long long)h->data_bytes);
		assert_int_equal(h->header_bytes, ju(g, "header_bytes"));
		assert_int_equal(h->end_card_offset, ju(g, "end_card_offset"));
		assert_int_equal(h->data_offset, ju(g, "data_offset"));
		assert_int_equal(h->data_span, ju(g, "data_span"));
		/* header bytes are the file's cards, byte for byte */
		assert_int_equal(h->ncards * 80, h->end_card_offset + 80 - h->header_offset);
		assert_memory_equal(h->cards, d + h->header_offset, h->ncards * 80);
		check_header_text(h);
		if (!k)
			continue;
		assert_int_equal(h->bitpix, ju(k, "BITPIX"));
		/* astropy rewrites NAXIS of a groups HDU it opens (group_invalid) */
		v = json_object_get(k, "astropy_class");
		if (json_is_string(v) && strcmp(json_string_value(v), "GroupsHDU") == 0)
			continue;
		if (h->naxis != (int)ju(k, "NAXIS"))
			fail_msg("%s HDU %zu: NAXIS %d vs %d", rel, i, h->naxis, (int)ju(k, "NAXIS"));
		v = json_object_get(k, "EXTNAME");
		if (!!(h->flags & ASTRO_FITS_HDU_HAS_EXTNAME) != json_is_string(v))
			fail_msg("%s HDU %zu: EXTNAME '%s' vs groundtruth %s", rel, i, h->extname,
				 json_is_string(v) ? json_string_value(v) : "(absent)");
		if (json_is_string(v))
			assert_string_equal(h->extname, json_string_value(v));
		v = json_object_get(k, "EXTVER");
		assert_int_equal(!!(h->flags & ASTRO_FITS_HDU_HAS_EXTVER), json_is_integer(v));
		if (json_is_integer(v))
			assert_int_equal(h->extver, json_integer_value(v));
		v = json_object_get(k, "XTENSION");
		assert_string_equal(h->xtension, json_is_string(v) ? json_string_value(v) : "");
	}
	/* lazily: HDU n needs HDUs 0..n only; past the list ENOENT */
	if (nw) {
		struct obj o2 = { .data = d, .size = len, .report_size = report, .allow_reread = true };
		struct astro_fits_walk *lw = walk_new(ASTRO_FITS_SIZE_UNKNOWN);
		uint64_t hdr_end = astro_fits_walk_hdu(w, 0)->data_offset;

		assert_int_equal(astro_fits_walk_to(lw, obj_read, &o2, 0), 0);
		assert_true(o2.bytes <= (hdr_end * 2 > 65536 ? hdr_end * 2 : 65536));
		for (i = 1; i < nw; i++) {
			lw = roundtrip(lw);
			assert_int_equal(astro_fits_walk_to(lw, obj_read, &o2, (uint32_t)i), 0);
			assert_true(astro_fits_walk_count(lw) == i + 1 ||
				    astro_fits_walk_end(lw, NULL) != ASTRO_FITS_END_NONE);
		}
		lw = roundtrip(lw);
		assert_int_equal(astro_fits_walk_to(lw, obj_read, &o2, (uint32_t)nw),
				 want_end == ASTRO_FITS_END_DAMAGED ? -EIO : -ENOENT);
		assert_int_equal(astro_fits_walk_to(lw, obj_read, &o2, (uint32_t)nw + 1), -ENOENT);
		lw = roundtrip(lw);
		{
			char *a = csv_of(w), *b = csv_of(lw);

			assert_string_equal(a, b);
			free(a);
			free(b);
		}
		astro_fits_walk_free(lw);
	}
	/* nothing read twice (obj_read asserts), so never more than the object */
	assert_true(o.bytes <= len);
	if (report) {
		corpus_reads += o.reads;
		corpus_bytes += o.bytes;
		corpus_size += len;
	}
	w = roundtrip(w);
	astro_fits_walk_free(w);
}

static void collect(const char *dir, const char *rel, json_t *files, unsigned *n)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	char p[1024], r[1024];
	struct stat st;

	assert_non_null(dp);
	while ((de = readdir(dp))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		snprintf(r, sizeof(r), "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		assert_int_equal(stat(p, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			collect(p, r, files, n);
		} else if (*rel) {
			/* every file in the corpus has its ground truth */
			if (!json_object_get(files, r))
				fail_msg("%s has no groundtruth entry", r);
			(*n)++;
		}
	}
	closedir(dp);
}

static void corpus_matches_groundtruth(void **state)
{
	json_t *gt = gt_load(), *files, *e;
	const char *rel;
	char root[1024];
	unsigned ondisk = 0, walked = 0;

	(void)state;
	if (!gt || !unit_shared("data/fits", root, sizeof(root)))
		skip();
	files = json_object_get(gt, "files");
	collect(root, "", files, &ondisk);
	json_object_foreach(files, rel, e) {
		size_t len = 0;
		unsigned char *d = load_file(rel, &len);

		if (!d)
			continue;
		assert_int_equal(len, ju(e, "size"));
		check_file(rel, e, d, len, false);
		check_file(rel, e, d, len, true);
		free(d);
		walked++;
	}
	fprintf(stderr, "# fits corpus: %u files on disk, %u walked; full walks: %llu reads, %llu of %llu bytes\n",
		ondisk, walked, (unsigned long long)corpus_reads, (unsigned long long)corpus_bytes,
		(unsigned long long)corpus_size);
	assert_int_equal(walked, ondisk);
	json_decref(gt);
}

/* The reference's edge cases log what they are. */
static void corpus_edge_cases_log(void **state)
{
	static const struct {
		const char *file, *needle;
	} cases[] = {
		{ "derived/trailing_zero_block.fits", "NUL padding after the last HDU" },
		{ "derived/trailing_garbage.fits", "1 stray bytes" },
		{ "derived/special_record.fits", "special records or garbage" },
		{ "derived/trunc_mid_data.fits", "(truncated)" },
		{ "derived/trunc_last_padding.fits", "final fill missing" },
		{ "derived/huge_claim_truncated.fits", "should end at 43995487680" },
		{ "derived/trunc_in_header.fits", "truncated header block at 20160" },
		{ "derived/end_with_trailing_bytes.fits", "END card has bytes" },
		{ "derived/nul_padded_header.fits", "padded with NUL" },
		{ "derived/free_format_ints.fits", "free-format integer" },
		{ "derived/simple_false.fits", "SIMPLE is not T" },
		{ "derived/xtension_unpadded_value.fits", "not padded to 8" },
		{ "astropy/lzw.fits.Z", "compress-compressed object" },
		{ "astropy/verify.fits", "is card" },
	};
	size_t i, len;

	(void)state;
	for (i = 0; i < ASTRO_ARRAY_SIZE(cases); i++) {
		unsigned char *d = load_file(cases[i].file, &len);
		struct obj o = { .data = d, .size = len, .report_size = true };
		struct astro_fits_walk *w;

		if (!d)
			skip();
		logbuf[0] = '\0';
		w = walk_new(ASTRO_FITS_SIZE_UNKNOWN);
		astro_fits_walk_all(w, obj_read, &o);
		if (!strstr(logbuf, cases[i].needle))
			fail_msg("%s: no log line with \"%s\"; got:\n%s", cases[i].file, cases[i].needle, logbuf);
		astro_fits_walk_free(w);
		free(d);
	}
}

/*
 * Read budgets: the TESS light curve's HDU 2 sits past a 2 MB data unit that
 * is jumped; small multi-HDU objects take one read to learn the size and one
 * more for the rest instead of one trip per HDU.
 */
static void read_budgets(void **state)
{
	static const struct {
		const char *file;
		unsigned hdus, max_reads;
		uint64_t max_bytes, last_offset;
	} cases[] = {
		{ "astropy-data/hlsp_tess-data-alerts_tess_phot_00025155310-s01_tess_v1_lc.fits", 3, 2,
		  80000, 2030400 },
		{ "stdatamodels/jwst_image.fits", 5, 2, UINT64_MAX, 0 },
		{ "astropy/o4sp040b0_raw.fits", 7, 2, 74880, 69120 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ASTRO_ARRAY_SIZE(cases); i++) {
		size_t len = 0;
		unsigned char *d = load_file(cases[i].file, &len);
		struct obj o = { .data = d, .size = len, .report_size = true };
		struct astro_fits_walk *w;

		if (!d)
			skip();
		w = walk_new(ASTRO_FITS_SIZE_UNKNOWN);
		assert_int_equal(astro_fits_walk_all(w, obj_read, &o), 0);
		assert_int_equal(astro_fits_walk_count(w), cases[i].hdus);
		if (cases[i].last_offset)
			assert_int_equal(astro_fits_walk_hdu(w, cases[i].hdus - 1)->header_offset,
					 cases[i].last_offset);
		assert_true(o.reads <= cases[i].max_reads);
		assert_true(o.bytes <= cases[i].max_bytes);
		astro_fits_walk_free(w);
		free(d);
	}
}

/* EXTNAME aliases walk only as far as the HDU named. */
static void find_by_extname(void **state)
{
	size_t len = 0;
	unsigned char *d = load_file("astropy/o4sp040b0_raw.fits", &len);
	struct obj o = { .data = d, .size = len, .report_size = true };
	struct astro_fits_walk *w;
	uint32_t idx = 99;

	(void)state;
	if (!d)
		skip();
	/* HST raw: SCI/ERR/DQ per chip, EXTVER = chip (astropy ground truth) */
	w = walk_new(ASTRO_FITS_SIZE_UNKNOWN);
	assert_int_equal(astro_fits_walk_find(w, obj_read, &o, "err", 1, &idx), 0);
	assert_int_equal(idx, 2);
	assert_int_equal(astro_fits_walk_count(w), 3);
	assert_int_equal(astro_fits_walk_find(w, obj_read, &o, "SCI", 2, &idx), 0);
	assert_int_equal(idx, 4);
	assert_int_equal(astro_fits_walk_find(w, obj_read, &o, "SCI", 0, &idx), 0);
	assert_int_equal(idx, 1);
	assert_int_equal(astro_fits_walk_find(w, obj_read, &o, "SCI", 3, &idx), -ENOENT);
	assert_int_equal(astro_fits_walk_count(w), 7);
	astro_fits_walk_free(w);
	free(d);
}

/* ---- files written by cfitsio, offsets from fits_get_hduaddrll ---------- */

static struct astro_fits_walk *compare_with_cfitsio(const char *path, int want_hdus)
{
	fitsfile *f = NULL;
	int status = 0, nhdu = 0, i, type;
	size_t len = 0;
	unsigned char *d = (unsigned char *)unit_slurp(path, &len);
	struct obj o = { .data = d, .size = len, .report_size = false };
	struct astro_fits_walk *w = walk_new(ASTRO_FITS_SIZE_UNKNOWN);

	assert_non_null(d);
	assert_int_equal(astro_fits_walk_all(w, obj_read, &o), 0);
	assert_int_equal(astro_fits_walk_end(w, NULL), ASTRO_FITS_END_EOF);
	assert_int_equal(fits_open_file(&f, path, READONLY, &status), 0);
	assert_int_equal(fits_get_num_hdus(f, &nhdu, &status), 0);
	assert_int_equal(nhdu, want_hdus);
	assert_int_equal(astro_fits_walk_count(w), nhdu);
	for (i = 0; i < nhdu; i++) {
		LONGLONG hs, ds, de;
		const struct astro_fits_hdu *h = astro_fits_walk_hdu(w, (uint32_t)i);
		int bitpix = 0, naxis = 0;

		assert_int_equal(fits_movabs_hdu(f, i + 1, &type, &status), 0);
		assert_int_equal(fits_get_hduaddrll(f, &hs, &ds, &de, &status), 0);
		assert_int_equal(h->header_offset, hs);
		assert_int_equal(h->data_offset, ds);
		assert_int_equal(h->data_offset + h->data_span, de);
		assert_int_equal(fits_read_key(f, TINT, "BITPIX", &bitpix, NULL, &status), 0);
		assert_int_equal(fits_read_key(f, TINT, "NAXIS", &naxis, NULL, &status), 0);
		assert_int_equal(h->bitpix, bitpix);
		assert_int_equal(h->naxis, naxis);
		assert_memory_equal(h->cards, d + hs, h->ncards * 80);
	}
	fits_close_file(f, &status);
	free(d);
	return roundtrip(w);
}

static void cfitsio_written_files(void **state)
{
	char *dir = unit_tmpdir(), path[512];
	fitsfile *f = NULL;
	int status = 0, i, j;
	long naxes[3] = { 100, 50, 0 };
	short img[100 * 50];
	float fimg[33 * 7];
	const char *ttype[] = { "ID", "VLA" }, *tform[] = { "1J", "1PJ" }, *tunit[] = { "", "" };
	const char *attype[] = { "NAME", "X" }, *atform[] = { "A8", "F10.3" };
	long gnaxes[3] = { 0, 4, 3 };
	float grp[3 + 12];
	struct astro_fits_walk *w;
	const struct astro_fits_hdu *x;

	(void)state;
	assert_non_null(dir);
	for (i = 0; i < 100 * 50; i++)
		img[i] = (short)(i % 1000);
	for (i = 0; i < 33 * 7; i++)
		fimg[i] = (float)i / 7.0f;

	/* an image and an image extension with an awkward name */
	snprintf(path, sizeof(path), "!%s/image.fits", dir);
	fits_create_file(&f, path, &status);
	fits_create_img(f, SHORT_IMG, 2, naxes, &status);
	fits_write_img(f, TSHORT, 1, 100 * 50, img, &status);
	naxes[0] = 33;
	naxes[1] = 7;
	fits_create_img(f, FLOAT_IMG, 2, naxes, &status);
	fits_write_key(f, TSTRING, "EXTNAME", (void *)"SCI,1 \"x\"", NULL, &status);
	j = 2;
	fits_write_key(f, TINT, "EXTVER", &j, NULL, &status);
	fits_write_img(f, TFLOAT, 1, 33 * 7, fimg, &status);
	fits_close_file(f, &status);
	assert_int_equal(status, 0);
	astro_fits_walk_free(compare_with_cfitsio(path + 1, 2));
	{
		size_t len = 0;
		unsigned char *d = (unsigned char *)unit_slurp(path + 1, &len);
		struct obj o = { .data = d, .size = len };
		char *csv;

		w = walk_new(ASTRO_FITS_SIZE_UNKNOWN);
		assert_int_equal(astro_fits_walk_all(w, obj_read, &o), 0);
		csv = csv_of(w);
		assert_string_equal(csv,
				    "index,xtension,extname,extver,bitpix,naxis,header_offset,header_bytes,data_offset,data_bytes\n"
				    "0,,,,16,2,0,2880,2880,10000\n"
				    "1,IMAGE,\"SCI,1 \"\"x\"\"\",2,-32,2,14400,2880,17280,924\n");
		free(csv);
		astro_fits_walk_free(w);
		free(d);
	}

	/* a binary table with a heap of variable-length arrays */
	snprintf(path, sizeof(path), "!%s/heap.fits", dir);
	fits_create_file(&f, path, &status);
	fits_create_tbl(f, BINARY_TBL, 0, 2, (char **)ttype, (char **)tform, (char **)tunit, "VLA", &status);
	for (i = 1; i <= 40; i++) {
		int vals[300];

		for (j = 0; j < 300; j++)
			vals[j] = i * j;
		fits_write_col(f, TINT, 1, i, 1, 1, &i, &status);
		fits_write_col(f, TINT, 2, i, 1, (LONGLONG)(i * 7 % 300 + 1), vals, &status);
	}
	/* and an ASCII table after it */
	fits_create_tbl(f, ASCII_TBL, 3, 2, (char **)attype, (char **)atform, NULL, "ASC", &status);
	fits_close_file(f, &status);
	assert_int_equal(status, 0);
	w = compare_with_cfitsio(path + 1, 3);
	x = astro_fits_walk_hdu(w, 1);
	/* the heap counts: 40 rows of 4+8 bytes plus sum of (i*7%300+1)*4 */
	for (i = 1, j = 0; i <= 40; i++)
		j += (i * 7 % 300 + 1) * 4;
	assert_int_equal(x->data_bytes, 40 * 12 + j);
	astro_fits_walk_free(w);

	/* random groups: NAXIS1 = 0, GROUPS = T, PCOUNT 3, GCOUNT 5 */
	snprintf(path, sizeof(path), "!%s/groups.fits", dir);
	fits_create_file(&f, path, &status);
	fits_write_grphdr(f, 1, FLOAT_IMG, 3, gnaxes, 3, 5, 1, &status);
	for (i = 0; i < 15; i++)
		grp[i] = (float)i;
	for (i = 1; i <= 5; i++)
		fits_write_grppar_flt(f, i, 1, 3, grp, &status);
	fits_close_file(f, &status);
	assert_int_equal(status, 0);
	w = compare_with_cfitsio(path + 1, 1);
	x = astro_fits_walk_hdu(w, 0);
	assert_true(x->flags & ASTRO_FITS_HDU_GROUPS);
	assert_int_equal(x->data_bytes, 4 * 5 * (3 + 4 * 3));
	astro_fits_walk_free(w);

	/* many extensions, some empty */
	snprintf(path, sizeof(path), "!%s/many.fits", dir);
	fits_create_file(&f, path, &status);
	naxes[0] = 0;
	fits_create_img(f, BYTE_IMG, 0, naxes, &status);
	for (i = 0; i < 12; i++) {
		long ax[1] = { 1000L * i + 1 };

		fits_create_img(f, i % 2 ? LONGLONG_IMG : DOUBLE_IMG, i % 3 ? 1 : 0, ax, &status);
		if (i % 3)
			fits_write_img(f, TDOUBLE, 1, 1, fimg, &status);
	}
	fits_close_file(f, &status);
	assert_int_equal(status, 0);
	astro_fits_walk_free(compare_with_cfitsio(path + 1, 13));
	/* the same file with a cap of 5 HDUs: the rest is refused, not absent */
	{
		size_t len = 0;
		unsigned char *d = (unsigned char *)unit_slurp(path + 1, &len);
		struct obj o = { .data = d, .size = len };
		struct astro_fits_walk_opts opt = { .name = "t", .max_hdus = 5 };

		assert_non_null(d);
		assert_int_equal(astro_fits_walk_new(&opt, ASTRO_FITS_SIZE_UNKNOWN, &w), 0);
		assert_int_equal(astro_fits_walk_to(w, obj_read, &o, 4), 0);
		assert_int_equal(astro_fits_walk_to(w, obj_read, &o, 5), -EIO);
		assert_int_equal(astro_fits_walk_all(w, obj_read, &o), -EIO);
		assert_int_equal(astro_fits_walk_end(w, NULL), ASTRO_FITS_END_LIMIT);
		assert_int_equal(astro_fits_walk_count(w), 5);
		astro_fits_walk_free(roundtrip(w));
		free(d);
	}

	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
	free(dir);
}

/* ---- synthetic headers -------------------------------------------------- */

struct hb {
	unsigned char b[1 << 20];
	size_t len;
};

static void card(struct hb *h, const char *text)
{
	char c[81];

	snprintf(c, sizeof(c), "%-80s", text);
	memcpy(h->b + h->len, c, 80);
	h->len += 80;
}

/* END, then pad the header to whole blocks */
static void end_hdr(struct hb *h)
{
	card(h, "END");
	while (h->len % 2880)
		h->b[h->len++] = ' ';
}

static void zeros(struct hb *h, size_t n)
{
	memset(h->b + h->len, 0, n);
	h->len += n;
}

static int walk_mem(const struct hb *h, struct astro_fits_walk **wp)
{
	struct obj o = { .data = h->b, .size = h->len, .report_size = true };

	*wp = walk_new(ASTRO_FITS_SIZE_UNKNOWN);
	return astro_fits_walk_all(*wp, obj_read, &o);
}

static void primary(struct hb *h, const char *naxis)
{
	h->len = 0;
	card(h, "SIMPLE  =                    T");
	card(h, "BITPIX  =                    8");
	card(h, naxis);
}

static void rejected_sizes(void **state)
{
	static const char *const bad_cards[][3] = {
		{ "NAXIS   =                 1000", NULL, "outside 0..999" },
		{ "NAXIS   =                    2", "NAXIS1  =                   -1", "negative" },
		{ "NAXIS   =                    1", "NAXIS1  =                 1.5", "not an integer" },
		{ "NAXIS   =                    1", "NAXIS1  =                 'a'", "not an integer" },
		{ "NAXIS   =                    2", "NAXIS2  =                    4", "no NAXIS1" },
		{ "NAXIS   =                    3",
		  "NAXIS1  =          10000000000", "overflows" },
	};
	struct hb *h = calloc(1, sizeof(*h));
	struct astro_fits_walk *w;
	size_t i;

	(void)state;
	for (i = 0; i < ASTRO_ARRAY_SIZE(bad_cards); i++) {
		logbuf[0] = '\0';
		primary(h, bad_cards[i][0]);
		if (bad_cards[i][1])
			card(h, bad_cards[i][1]);
		if (strstr(bad_cards[i][2], "overflow")) {
			card(h, "NAXIS2  =          10000000000");
			card(h, "NAXIS3  =          10000000000");
		}
		end_hdr(h);
		assert_int_equal(walk_mem(h, &w), -EIO);
		assert_int_equal(astro_fits_walk_count(w), 0);
		if (!strstr(logbuf, bad_cards[i][2]))
			fail_msg("case %zu: \"%s\" not in log: %s", i, bad_cards[i][2], logbuf);
		astro_fits_walk_free(w);
	}
	/* BITPIX 12 */
	h->len = 0;
	card(h, "SIMPLE  =                    T");
	card(h, "BITPIX  =                   12");
	card(h, "NAXIS   =                    0");
	end_hdr(h);
	assert_int_equal(walk_mem(h, &w), -EIO);
	astro_fits_walk_free(w);
	/* product fits but |BITPIX|/8*GCOUNT*... overflows */
	h->len = 0;
	card(h, "SIMPLE  =                    T");
	card(h, "BITPIX  =                  -64");
	card(h, "NAXIS   =                    2");
	card(h, "NAXIS1  =           2000000000");
	card(h, "NAXIS2  =           2000000000");
	card(h, "GCOUNT  =                   10");
	end_hdr(h);
	assert_int_equal(walk_mem(h, &w), -EIO);
	astro_fits_walk_free(w);
	free(h);
}

/* A damaged extension: EIO for it, earlier HDUs fine, ENOENT after. */
static void damaged_extension_eio_then_enoent(void **state)
{
	struct hb *h = calloc(1, sizeof(*h));
	struct astro_fits_walk *w;
	struct obj o;

	(void)state;
	primary(h, "NAXIS   =                    1");
	card(h, "NAXIS1  =                   10");
	card(h, "EXTEND  =                    T");
	end_hdr(h);
	zeros(h, 2880);
	card(h, "XTENSION= 'IMAGE   '");
	card(h, "BITPIX  =                   16");
	card(h, "NAXIS   =                    1");
	card(h, "NAXIS1  =                   -5");
	end_hdr(h);
	o = (struct obj){ .data = h->b, .size = h->len, .report_size = true };
	w = walk_new(ASTRO_FITS_SIZE_UNKNOWN);
	assert_int_equal(astro_fits_walk_to(w, obj_read, &o, 0), 0);
	assert_int_equal(astro_fits_walk_hdu(w, 0)->data_bytes, 10);
	assert_int_equal(astro_fits_walk_to(w, obj_read, &o, 1), -EIO);
	assert_int_equal(astro_fits_walk_to(w, obj_read, &o, 2), -ENOENT);
	assert_int_equal(astro_fits_walk_to(w, obj_read, &o, 0), 0);
	w = roundtrip(w);
	assert_int_equal(astro_fits_walk_to(w, obj_read, &o, 1), -EIO);
	assert_int_equal(astro_fits_walk_to(w, obj_read, &o, 0), 0);
	astro_fits_walk_free(w);
	free(h);
}

static void tolerated_irregularities(void **state)
{
	struct hb *h = calloc(1, sizeof(*h));
	struct astro_fits_walk *w;
	const struct astro_fits_hdu *x;

	(void)state;
	/* lower case, out of order, duplicate NAXIS1 (first wins), TAB */
	logbuf[0] = '\0';
	h->len = 0;
	card(h, "SIMPLE  =                    T");
	card(h, "naxis   =                    1");
	card(h, "BITPIX  =                   16");
	card(h, "NAXIS1  =                    7");
	card(h, "NAXIS1  =                 9999");
	card(h, "COMMENT a\ttab");
	card(h, "EXTNAME = 'O''Brien '           / quote inside");
	end_hdr(h);
	zeros(h, 2880);
	assert_int_equal(walk_mem(h, &w), 0);
	x = astro_fits_walk_hdu(w, 0);
	assert_int_equal(x->data_bytes, 14);
	assert_string_equal(x->extname, "O'Brien");
	assert_true(x->flags & ASTRO_FITS_HDU_IRREGULAR);
	assert_non_null(strstr(logbuf, "lower case"));
	assert_non_null(strstr(logbuf, "duplicate NAXIS1"));
	assert_non_null(strstr(logbuf, "not ASCII text"));
	assert_non_null(strstr(logbuf, "NAXIS is card 1, not 2"));
	astro_fits_walk_free(w);
	/* unknown XTENSION with PCOUNT and GCOUNT > 1 */
	primary(h, "NAXIS   =                    0");
	end_hdr(h);
	card(h, "XTENSION= 'FOREIGN '");
	card(h, "BITPIX  =                   16");
	card(h, "NAXIS   =                    2");
	card(h, "NAXIS1  =                   10");
	card(h, "NAXIS2  =                    3");
	card(h, "PCOUNT  =                    5");
	card(h, "GCOUNT  =                    4");
	end_hdr(h);
	zeros(h, 2880);
	assert_int_equal(walk_mem(h, &w), 0);
	assert_int_equal(astro_fits_walk_hdu(w, 1)->data_bytes, 2 * 4 * (5 + 30));
	assert_string_equal(astro_fits_walk_hdu(w, 1)->xtension, "FOREIGN");
	astro_fits_walk_free(w);
	free(h);
}

static void not_fits_and_no_end(void **state)
{
	struct hb *h = calloc(1, sizeof(*h));
	struct astro_fits_walk *w = NULL;
	struct astro_fits_walk_opts opt = { .name = "t", .max_header = 5760 };
	struct obj o = { 0 };
	const char *msg;

	(void)state;
	h->len = 0;
	assert_int_equal(walk_mem(h, &w), -EIO); /* empty object */
	assert_int_equal(astro_fits_walk_to(w, obj_read, &o, 0), -EIO);
	astro_fits_walk_free(w);
	h->b[0] = 0x1f;
	h->b[1] = 0x8b;
	h->len = 3000;
	assert_int_equal(walk_mem(h, &w), -EIO);
	astro_fits_walk_end(w, &msg);
	assert_non_null(strstr(msg, "gzip"));
	astro_fits_walk_free(w);
	/* no END within max_header */
	primary(h, "NAXIS   =                    0");
	while (h->len < 20000)
		card(h, "COMMENT no end here");
	o = (struct obj){ .data = h->b, .size = h->len, .report_size = true };
	assert_int_equal(astro_fits_walk_new(&opt, ASTRO_FITS_SIZE_UNKNOWN, &w), 0);
	assert_int_equal(astro_fits_walk_to(w, obj_read, &o, 0), -EIO);
	astro_fits_walk_end(w, &msg);
	assert_non_null(strstr(msg, "no END card in the first 5760"));
	astro_fits_walk_free(w);
	free(h);
}

/* Callback errors leave the state resumable; a size change is ESTALE. */
static void read_errors_and_replaced_object(void **state)
{
	struct hb *h = calloc(1, sizeof(*h));
	struct astro_fits_walk *w;
	struct obj o;
	int i;

	(void)state;
	primary(h, "NAXIS   =                    1");
	card(h, "NAXIS1  =               300000");
	end_hdr(h);
	zeros(h, 3 * 2880);	/* only part of the data is there: fine */
	o = (struct obj){ .data = h->b, .size = h->len, .fail_next = -ETIMEDOUT };
	w = walk_new(ASTRO_FITS_SIZE_UNKNOWN);
	assert_int_equal(astro_fits_walk_to(w, obj_read, &o, 0), -ETIMEDOUT);
	assert_int_equal(astro_fits_walk_count(w), 0);
	/* a callback's EIO is a failed call, not a damaged HDU */
	o.fail_next = -EIO;
	o.fail_times = 3;
	assert_int_equal(astro_fits_walk_all(w, obj_read, &o), -EIO);
	assert_int_equal(astro_fits_walk_end(w, NULL), ASTRO_FITS_END_NONE);
	assert_int_equal(astro_fits_walk_to(w, obj_read, &o, 0), -EIO);
	assert_int_equal(astro_fits_walk_find(w, obj_read, &o, "X", 0, &(uint32_t){ 0 }), -EIO);
	assert_int_equal(o.fail_next, 0);
	assert_int_equal(astro_fits_walk_to(w, obj_read, &o, 0), 0);
	assert_int_equal(astro_fits_walk_all(w, obj_read, &o), 0);
	assert_int_equal(astro_fits_walk_end(w, NULL), ASTRO_FITS_END_TRUNCATED);
	assert_true(astro_fits_walk_hdu(w, 0)->flags & ASTRO_FITS_HDU_DATA_TRUNCATED);
	astro_fits_walk_free(w);

	/* two HDUs far apart; the size reported changes on the second read */
	h->len = 0;
	primary(h, "NAXIS   =                    0");
	end_hdr(h);
	for (i = 0; i < 4; i++) {
		card(h, "XTENSION= 'IMAGE   '");
		card(h, "BITPIX  =                    8");
		card(h, "NAXIS   =                    1");
		card(h, "NAXIS1  =                 5000");
		end_hdr(h);
		zeros(h, 5760);
	}
	o = (struct obj){ .data = h->b, .size = h->len, .report_size = true, .size_delta = 2880 };
	{
		struct astro_fits_walk_opts opt = { .name = "t", .first_read = 2880, .coalesce_gap = 1,
						    .small_tail = 1 };

		assert_int_equal(astro_fits_walk_new(&opt, ASTRO_FITS_SIZE_UNKNOWN, &w), 0);
	}
	assert_int_equal(astro_fits_walk_all(w, obj_read, &o), -ESTALE);
	astro_fits_walk_free(w);
	free(h);
}

/* END as card 36 / first card of block 2 / never as a substring; 101
 * blocks grow by doubling reads. */
static void end_card_placement_and_growth(void **state)
{
	struct hb *h = calloc(1, sizeof(*h));
	struct astro_fits_walk *w;
	struct obj o;
	int i;

	(void)state;
	primary(h, "NAXIS   =                    0");
	for (i = 3; i < 35; i++)
		card(h, "COMMENT filler");
	/* 'END' + 77 blanks straddling two cards */
	card(h, "COMMENT                                                                      END");
	card(h, "");
	card(h, "COMMENT filler");
	end_hdr(h);
	assert_int_equal(h->len, 5760);
	assert_int_equal(walk_mem(h, &w), 0);
	assert_int_equal(astro_fits_walk_hdu(w, 0)->header_bytes, 5760);
	assert_int_equal(astro_fits_walk_hdu(w, 0)->ncards, 39);
	astro_fits_walk_free(w);

	primary(h, "NAXIS   =                    0");
	while (h->len < 200 * 2880)
		card(h, "HISTORY a long history");
	end_hdr(h);
	o = (struct obj){ .data = h->b, .size = h->len };
	w = walk_new(ASTRO_FITS_SIZE_UNKNOWN);
	assert_int_equal(astro_fits_walk_all(w, obj_read, &o), 0);
	assert_int_equal(astro_fits_walk_hdu(w, 0)->header_bytes, 201 * 2880);
	/* 64 KiB, then doubling: 4 reads reach 512 KiB, the fifth ends it */
	assert_true(o.reads <= 5);
	assert_int_equal(o.bytes, h->len);
	astro_fits_walk_free(w);
	free(h);
}

/* ---- a sparse 44 GB TESS-like cube --------------------------------------- */

static void tess_cube(void **state)
{
	static struct hb h0, h1, h2;
	const unsigned char *parts[3] = { h0.b, h1.b, h2.b };
	uint64_t offs[3];
	size_t lens[3];
	char c[81];
	uint64_t size, span1 = 43995484800ULL, hdu2 = 43995490560ULL, tab = 1239ULL * 1600;
	int pass, i;

	(void)state;
	h0.len = h1.len = h2.len = 0;
	card(&h0, "SIMPLE  =                    T");
	card(&h0, "BITPIX  =                    8");
	card(&h0, "NAXIS   =                    0");
	card(&h0, "EXTEND  =                    T");
	end_hdr(&h0);
	card(&h1, "XTENSION= 'IMAGE   '");
	card(&h1, "BITPIX  =                  -32");
	card(&h1, "NAXIS   =                    4");
	card(&h1, "NAXIS1  =                    2");
	card(&h1, "NAXIS2  =                 1239");
	card(&h1, "NAXIS3  =                 2078");
	card(&h1, "NAXIS4  =                 2136");
	card(&h1, "PCOUNT  =                    0");
	card(&h1, "GCOUNT  =                    1");
	end_hdr(&h1);
	card(&h2, "XTENSION= 'BINTABLE'");
	card(&h2, "BITPIX  =                    8");
	card(&h2, "NAXIS   =                    2");
	card(&h2, "NAXIS1  =                 1600");
	card(&h2, "NAXIS2  =                 1239");
	card(&h2, "PCOUNT  =                    0");
	card(&h2, "GCOUNT  =                    1");
	card(&h2, "TFIELDS =                  200");
	for (i = 1; i <= 200; i++) {
		snprintf(c, sizeof(c), "TTYPE%-3d= 'KEYWORD%d'", i, i);
		card(&h2, c);
		snprintf(c, sizeof(c), "TFORM%-3d= '8A      '", i);
		card(&h2, c);
	}
	end_hdr(&h2);
	offs[0] = 0;
	offs[1] = 2880;
	offs[2] = hdu2;
	lens[0] = h0.len;
	lens[1] = h1.len;
	lens[2] = h2.len;
	size = hdu2 + h2.len + (tab + 2879) / 2880 * 2880;
	for (pass = 0; pass < 2; pass++) {
		struct obj o = { .size = size, .report_size = pass == 1, .parts = parts,
				 .part_off = offs, .part_len = lens, .nparts = 3 };
		struct astro_fits_walk *w = walk_new(ASTRO_FITS_SIZE_UNKNOWN);
		const struct astro_fits_hdu *x;

		assert_int_equal(astro_fits_walk_to(w, obj_read, &o, 2), 0);
		x = astro_fits_walk_hdu(w, 1);
		assert_int_equal(x->data_bytes, 43995482496ULL);
		assert_int_equal(x->data_span, span1);
		assert_int_equal(astro_fits_walk_hdu(w, 2)->header_offset, hdu2);
		assert_int_equal(astro_fits_walk_hdu(w, 2)->ncards, 409);
		assert_memory_equal(astro_fits_walk_hdu(w, 2)->cards, h2.b, 409 * 80);
		assert_int_equal(astro_fits_walk_all(w, obj_read, &o), 0);
		assert_int_equal(astro_fits_walk_count(w), 3);
		assert_int_equal(astro_fits_walk_end(w, NULL), ASTRO_FITS_END_EOF);
		assert_true(o.reads <= 4);
		assert_true(o.bytes <= 256 * 1024);
		fprintf(stderr, "# TESS-like cube, size %s: %u reads, %llu bytes\n",
			pass ? "reported" : "unknown", o.reads, (unsigned long long)o.bytes);
		astro_fits_walk_free(w);
	}
}

/* ---- serialisation is strict -------------------------------------------- */

static void deserialize_refuses_damage(void **state)
{
	struct hb *h = calloc(1, sizeof(*h));
	struct astro_fits_walk *w, *w2;
	unsigned char *blob = NULL, *bad;
	size_t len = 0, i;

	(void)state;
	primary(h, "NAXIS   =                    1");
	card(h, "NAXIS1  =                   10");
	end_hdr(h);
	zeros(h, 2880);
	card(h, "XTENSION= 'IMAGE   '");
	card(h, "BITPIX  =                    8");
	card(h, "NAXIS   =                    0");
	end_hdr(h);
	assert_int_equal(walk_mem(h, &w), 0);
	assert_int_equal(astro_fits_walk_serialize(w, (void **)&blob, &len), 0);
	/* every truncation and every trailing byte is refused */
	for (i = 0; i < len; i++) {
		assert_int_equal(astro_fits_walk_deserialize(NULL, blob, i, &w2), -EINVAL);
		assert_null(w2);
	}
	bad = malloc(len + 1);
	memcpy(bad, blob, len);
	bad[len] = 0;
	assert_int_equal(astro_fits_walk_deserialize(NULL, bad, len + 1, &w2), -EINVAL);
	/* version byte */
	bad[4] = 2;
	assert_int_equal(astro_fits_walk_deserialize(NULL, bad, len, &w2), -EINVAL);
	bad[4] = blob[4];
	/* a damaged card in a stored header (BITPIX 8 → 7) */
	for (i = 0; i + 8 < len; i++)
		if (memcmp(bad + i, "BITPIX  ", 8) == 0)
			bad[i + 29] = '7';
	assert_int_equal(astro_fits_walk_deserialize(NULL, bad, len, &w2), -EINVAL);
	/* a size smaller than the headers */
	memcpy(bad, blob, len);
	memset(bad + 6, 0, 8);
	bad[6] = 100;
	assert_int_equal(astro_fits_walk_deserialize(NULL, bad, len, &w2), -EINVAL);
	/* the intact blob still loads */
	assert_int_equal(astro_fits_walk_deserialize(NULL, blob, len, &w2), 0);
	assert_int_equal(astro_fits_walk_count(w2), 2);
	astro_fits_walk_free(w2);
	free(bad);
	free(blob);
	astro_fits_walk_free(w);
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(corpus_matches_groundtruth),
		cmocka_unit_test(corpus_edge_cases_log),
		cmocka_unit_test(read_budgets),
		cmocka_unit_test(find_by_extname),
		cmocka_unit_test(cfitsio_written_files),
		cmocka_unit_test(rejected_sizes),
		cmocka_unit_test(damaged_extension_eio_then_enoent),
		cmocka_unit_test(tolerated_irregularities),
		cmocka_unit_test(not_fits_and_no_end),
		cmocka_unit_test(read_errors_and_replaced_object),
		cmocka_unit_test(end_card_placement_and_growth),
		cmocka_unit_test(tess_cube),
		cmocka_unit_test(deserialize_refuses_damage),
	};
	return cmocka_run_group_tests(tests, setup_log, teardown_log);
}

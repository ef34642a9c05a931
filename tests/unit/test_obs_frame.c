#include "unit.h"
#include <errno.h>
#include <math.h>
#include <fitsio.h>
#include <jpeglib.h>
#include "obs/obs_frame.h"

/* The synthetic frame read back with cfitsio; the preview with libjpeg. */

static const struct astro_obs_frame_spec base = {
	.ra_deg = 82.5, .dec_deg = -5.4, .exptime_s = 1, .date_obs_ms = 1796519065219LL,
	.seq = 3, .site_key = "site1", .site_name = "Test Hill", .has_lat = true,
	.lat = 34.34, .has_lng = true, .lng = -119.68,
};

static fitsfile *open_mem(void **buf, size_t *len)
{
	fitsfile *f = NULL;
	int st = 0;

	fits_open_memfile(&f, "t.fits", READONLY, buf, len, 0, NULL, &st);
	assert_int_equal(st, 0);
	return f;
}

static double key_d(fitsfile *f, const char *k)
{
	double v = NAN;
	int st = 0;

	fits_read_key(f, TDOUBLE, k, &v, NULL, &st);
	if (st)
		fail_msg("keyword %s: status %d", k, st);
	return v;
}

static void key_s(fitsfile *f, const char *k, char *v)
{
	int st = 0;

	fits_read_key(f, TSTRING, k, v, NULL, &st);
	if (st)
		fail_msg("keyword %s: status %d", k, st);
}

static int cmp(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

/* Robust background sigma: the MAD of the pixels. */
static double background_sigma(fitsfile *f, double *median)
{
	enum { N = ASTRO_OBS_FRAME_WIDTH * ASTRO_OBS_FRAME_HEIGHT };
	static float px[N], dev[N];
	int st = 0, any = 0;
	size_t i;

	fits_read_img(f, TFLOAT, 1, N, NULL, px, &any, &st);
	assert_int_equal(st, 0);
	for (i = 0; i < N; i++)
		dev[i] = px[i];
	qsort(dev, N, sizeof(float), cmp);
	*median = dev[N / 2];
	for (i = 0; i < N; i++)
		dev[i] = fabsf(px[i] - (float)*median);
	qsort(dev, N, sizeof(float), cmp);
	return 1.4826 * dev[N / 2];
}

static void synthetic_frame_has_wcs_and_header(void **state)
{
	void *fits = NULL;
	size_t len = 0;
	char s[FLEN_VALUE];
	int st = 0, naxis = 0;
	long naxes[2];
	fitsfile *f;

	(void)state;
	assert_int_equal(astro_obs_frame_synth(&base, &fits, &len), 0);
	assert_true(len % 2880 == 0);
	f = open_mem(&fits, &len);
	fits_get_img_param(f, 2, NULL, &naxis, naxes, &st);
	assert_int_equal(naxis, 2);
	assert_int_equal(naxes[0], ASTRO_OBS_FRAME_WIDTH);
	assert_int_equal(naxes[1], ASTRO_OBS_FRAME_HEIGHT);
	key_s(f, "CTYPE1", s);
	assert_string_equal(s, "RA---TAN");
	key_s(f, "CTYPE2", s);
	assert_string_equal(s, "DEC--TAN");
	assert_true(fabs(key_d(f, "CRVAL1") - 82.5) < 1e-9);
	assert_true(fabs(key_d(f, "CRVAL2") + 5.4) < 1e-9);
	assert_true(fabs(key_d(f, "CRPIX1") - (ASTRO_OBS_FRAME_WIDTH + 1) / 2.0) < 1e-9);
	assert_true(fabs(key_d(f, "CRPIX2") - (ASTRO_OBS_FRAME_HEIGHT + 1) / 2.0) < 1e-9);
	assert_true(fabs(key_d(f, "CD1_1") + ASTRO_OBS_FRAME_SCALE / 3600) < 1e-12);
	assert_true(fabs(key_d(f, "CD2_2") - ASTRO_OBS_FRAME_SCALE / 3600) < 1e-12);
	assert_true(fabs(key_d(f, "EXPTIME") - 1) < 1e-12);
	assert_true(fabs(key_d(f, "RA") - 82.5) < 1e-9);
	assert_true(fabs(key_d(f, "SITELAT") - 34.34) < 1e-9);
	key_s(f, "OBJCTRA", s);
	assert_string_equal(s, "05 30 00.00");
	key_s(f, "OBJCTDEC", s);
	assert_string_equal(s, "-05 24 00.0");
	key_s(f, "DATE-OBS", s);
	assert_string_equal(s, "2026-12-06T01:04:25.219");
	key_s(f, "OBSERVAT", s);
	assert_string_equal(s, "Test Hill");
	fits_close_file(f, &st);
	free(fits);
}

static void noise_grows_with_exposure(void **state)
{
	struct astro_obs_frame_spec sp = base;
	double s1, s100, m1, m100;
	void *fits = NULL;
	size_t len = 0;
	fitsfile *f;
	int st = 0;

	(void)state;
	assert_int_equal(astro_obs_frame_synth(&sp, &fits, &len), 0);
	f = open_mem(&fits, &len);
	s1 = background_sigma(f, &m1);
	fits_close_file(f, &st);
	free(fits);
	sp.exptime_s = 100;
	assert_int_equal(astro_obs_frame_synth(&sp, &fits, &len), 0);
	f = open_mem(&fits, &len);
	s100 = background_sigma(f, &m100);
	fits_close_file(f, &st);
	free(fits);
	/* Sky 20 ADU/s, read noise 8: sigma ~9 at 1 s, ~45 at 100 s. */
	assert_true(m100 > m1 + 1500);
	assert_true(s100 > 3 * s1);
	assert_true(s1 > 5 && s1 < 15);
}

static void preview_of_a_frame_is_a_jpeg(void **state)
{
	struct jpeg_decompress_struct ci;
	struct jpeg_error_mgr jerr;
	void *fits = NULL;
	uint8_t *jpg = NULL;
	size_t len = 0, jlen = 0;
	char err[200] = "";

	(void)state;
	assert_int_equal(astro_obs_frame_synth(&base, &fits, &len), 0);
	assert_int_equal(astro_obs_frame_preview(fits, len, &jpg, &jlen, err, sizeof(err)), 0);
	ci.err = jpeg_std_error(&jerr);
	jpeg_create_decompress(&ci);
	jpeg_mem_src(&ci, jpg, (unsigned long)jlen);
	assert_int_equal(jpeg_read_header(&ci, TRUE), JPEG_HEADER_OK);
	assert_int_equal(ci.image_width, ASTRO_OBS_FRAME_WIDTH);
	assert_int_equal(ci.image_height, ASTRO_OBS_FRAME_HEIGHT);
	jpeg_destroy_decompress(&ci);
	free(jpg);
	free(fits);
}

static void preview_refuses_garbage_and_says_why(void **state)
{
	static char junk[4 * 2880];
	uint8_t *jpg = NULL;
	size_t jlen = 0;
	char err[200] = "";
	void *buf = NULL;
	size_t size = 2880 * 4;
	fitsfile *f = NULL;
	long n1[1] = { 10 };
	int st = 0;

	(void)state;
	memset(junk, 'x', sizeof(junk));
	assert_int_equal(astro_obs_frame_preview(junk, sizeof(junk), &jpg, &jlen, err,
						 sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a FITS file"));
	assert_null(jpg);
	/* A valid FITS with only a 1-D image: nothing to preview. */
	buf = malloc(size);
	fits_create_memfile(&f, &buf, &size, 2880, realloc, &st);
	fits_create_img(f, SHORT_IMG, 1, n1, &st);
	fits_close_file(f, &st);
	assert_int_equal(st, 0);
	assert_int_equal(astro_obs_frame_preview(buf, size, &jpg, &jlen, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "no 2-D image"));
	free(buf);
	/* A truncated header. */
	memcpy(junk, "SIMPLE  =                    T", 30);
	assert_int_equal(astro_obs_frame_preview(junk, sizeof(junk), &jpg, &jlen, err,
						 sizeof(err)), -EINVAL);
	assert_true(err[0] != 0);
	assert_int_equal(astro_obs_frame_synth(NULL, &buf, &size), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(synthetic_frame_has_wcs_and_header),
		cmocka_unit_test(noise_grows_with_exposure),
		cmocka_unit_test(preview_of_a_frame_is_a_jpeg),
		cmocka_unit_test(preview_refuses_garbage_and_says_why),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

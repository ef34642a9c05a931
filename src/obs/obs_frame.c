/* obs_frame.c — synthetic FITS frames and JPEG previews (see obs_frame.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fitsio.h>
#include "core/astro.h"
#include "obs_frame.h"
#include "obs_jpeg.h"

#define BIAS 1000.0		/* ADU */
#define SKY_RATE 20.0		/* ADU/s per pixel */
#define READ_NOISE 8.0		/* ADU */
#define NSTARS 80
#define PSF_SIGMA 1.4		/* pixels */

/* splitmix64: a seeded generator, so frames are reproducible. */
static uint64_t next_u64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double next_unit(uint64_t *s)
{
	return (next_u64(s) >> 11) * (1.0 / 9007199254740992.0);
}

static double next_gauss(uint64_t *s)
{
	double u = next_unit(s), v = next_unit(s);

	if (u < 1e-300)
		u = 1e-300;
	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* "HH MM SS.SS" / "+DD MM SS.S", as INDI and most camera software write. */
static void sexagesimal(double v, int hours, char *out, size_t n)
{
	double a = fabs(hours ? v / 15.0 : v);
	long t = lround(a * 360000.0);	/* hundredths of a second */
	long d = t / 360000, m = t / 6000 % 60;
	double s = (t % 6000) / 100.0;

	if (hours)
		snprintf(out, n, "%02ld %02ld %05.2f", d % 24, m, s);
	else
		snprintf(out, n, "%c%02ld %02ld %04.1f", v < 0 ? '-' : '+', d, m, s);
}

static void iso_time(int64_t ms, char *out, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03d", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static void render(const struct astro_obs_frame_spec *sp, float *img)
{
	const int W = ASTRO_OBS_FRAME_WIDTH, H = ASTRO_OBS_FRAME_HEIGHT;
	/* Stars depend on the pointing only (to 0.01 deg), noise on seq too. */
	uint64_t star_seed = (uint64_t)llround(sp->ra_deg * 100) * 1000003ull ^
			     (uint64_t)llround((sp->dec_deg + 90) * 100);
	uint64_t noise_seed = star_seed ^ (sp->seq * 0x2545f4914f6cdd1dull + 1);
	double t = sp->exptime_s;
	int i, x, y;

	for (i = 0; i < W * H; i++)
		img[i] = (float)(SKY_RATE * t);
	for (i = 0; i < NSTARS; i++) {
		double cx = next_unit(&star_seed) * W, cy = next_unit(&star_seed) * H;
		/* Log-uniform brightness: a few bright stars, many faint. */
		double rate = 200.0 * pow(10.0, 3.0 * next_unit(&star_seed));
		double peak = rate * t / (2 * M_PI * PSF_SIGMA * PSF_SIGMA);
		int x0 = (int)cx - 6, y0 = (int)cy - 6;

		for (y = y0 < 0 ? 0 : y0; y < y0 + 13 && y < H; y++)
			for (x = x0 < 0 ? 0 : x0; x < x0 + 13 && x < W; x++) {
				double dx = x + 0.5 - cx, dy = y + 0.5 - cy;

				img[y * W + x] += (float)(peak * exp(-(dx * dx + dy * dy) /
								   (2 * PSF_SIGMA * PSF_SIGMA)));
			}
	}
	for (i = 0; i < W * H; i++) {
		double v = BIAS + img[i] +
			   next_gauss(&noise_seed) * sqrt(READ_NOISE * READ_NOISE + img[i]);

		img[i] = (float)(v < 0 ? 0 : v > 65535 ? 65535 : floor(v + 0.5));
	}
}

#define KEY(type, name, val, comment)                                               \
	do {                                                                        \
		if (st == 0)                                                        \
			fits_update_key(f, type, name, val, comment, &st);          \
	} while (0)

static int write_header(fitsfile *f, const struct astro_obs_frame_spec *sp)
{
	const int W = ASTRO_OBS_FRAME_WIDTH, H = ASTRO_OBS_FRAME_HEIGHT;
	double crpix1 = (W + 1) / 2.0, crpix2 = (H + 1) / 2.0, cd = ASTRO_OBS_FRAME_SCALE / 3600.0;
	double ncd = -cd, zero = 0, eq = 2000.0, ra = sp->ra_deg, dec = sp->dec_deg;
	double exptime = sp->exptime_s, lat = sp->lat, lng = sp->lng, elev = sp->elevation;
	char date[96], ora[32], odec[32];
	char ctype1[] = "RA---TAN", ctype2[] = "DEC--TAN", unit[] = "deg", radesys[] = "ICRS";
	char tel[] = "astrofs-obssim", inst[] = "cam1", imtyp[] = "Light Frame";
	char site_key[80], site_name[80];
	LONGLONG seq = (LONGLONG)sp->seq;
	int st = 0;

	iso_time(sp->date_obs_ms, date, sizeof(date));
	sexagesimal(ra, 1, ora, sizeof(ora));
	sexagesimal(dec, 0, odec, sizeof(odec));
	astro_strlcpy(site_key, sp->site_key ? sp->site_key : "", sizeof(site_key));
	astro_strlcpy(site_name, sp->site_name ? sp->site_name : site_key, sizeof(site_name));
	KEY(TSTRING, "DATE-OBS", date, "UTC start of exposure");
	KEY(TDOUBLE, "EXPTIME", &exptime, "[s] exposure time");
	KEY(TSTRING, "IMAGETYP", imtyp, "frame type");
	KEY(TSTRING, "TELESCOP", tel, "telescope");
	KEY(TSTRING, "INSTRUME", inst, "camera");
	KEY(TLONGLONG, "FRAMENO", &seq, "the camera's frame counter");
	KEY(TDOUBLE, "RA", &ra, "[deg] pointing RA (J2000)");
	KEY(TDOUBLE, "DEC", &dec, "[deg] pointing Dec (J2000)");
	KEY(TSTRING, "OBJCTRA", ora, "pointing RA (J2000), hours");
	KEY(TSTRING, "OBJCTDEC", odec, "pointing Dec (J2000), degrees");
	KEY(TDOUBLE, "EQUINOX", &eq, "equinox of the coordinates");
	KEY(TSTRING, "RADESYS", radesys, "reference frame");
	KEY(TSTRING, "CTYPE1", ctype1, "gnomonic projection");
	KEY(TSTRING, "CTYPE2", ctype2, "gnomonic projection");
	KEY(TSTRING, "CUNIT1", unit, "");
	KEY(TSTRING, "CUNIT2", unit, "");
	KEY(TDOUBLE, "CRVAL1", &ra, "[deg] RA at the reference pixel");
	KEY(TDOUBLE, "CRVAL2", &dec, "[deg] Dec at the reference pixel");
	KEY(TDOUBLE, "CRPIX1", &crpix1, "reference pixel: the image centre");
	KEY(TDOUBLE, "CRPIX2", &crpix2, "reference pixel: the image centre");
	KEY(TDOUBLE, "CD1_1", &ncd, "[deg/pixel] RA increases to the left");
	KEY(TDOUBLE, "CD1_2", &zero, "");
	KEY(TDOUBLE, "CD2_1", &zero, "");
	KEY(TDOUBLE, "CD2_2", &cd, "[deg/pixel]");
	KEY(TSTRING, "SITE", site_key, "astrofs site key");
	KEY(TSTRING, "OBSERVAT", site_name, "observatory");
	if (sp->has_lat)
		KEY(TDOUBLE, "SITELAT", &lat, "[deg] site latitude");
	if (sp->has_lng)
		KEY(TDOUBLE, "SITELONG", &lng, "[deg] site longitude, east positive");
	if (sp->has_elevation)
		KEY(TDOUBLE, "SITEELEV", &elev, "[m] site elevation");
	return st;
}

int astro_obs_frame_synth(const struct astro_obs_frame_spec *sp, void **fits, size_t *len)
{
	long naxes[2] = { ASTRO_OBS_FRAME_WIDTH, ASTRO_OBS_FRAME_HEIGHT };
	size_t size = 2880 * 64;
	void *buf = NULL;
	fitsfile *f = NULL;
	float *img = NULL;
	int st = 0, rc = 0;

	*fits = NULL;
	*len = 0;
	if (!sp || !(sp->exptime_s > 0) || !isfinite(sp->ra_deg) || fabs(sp->dec_deg) > 90)
		return -EINVAL;
	img = malloc(sizeof(*img) * ASTRO_OBS_FRAME_WIDTH * ASTRO_OBS_FRAME_HEIGHT);
	buf = malloc(size);
	if (!img || !buf) {
		rc = -ENOMEM;
		goto out;
	}
	render(sp, img);
	/* cfitsio grows the buffer with realloc and reports its final size. */
	fits_create_memfile(&f, &buf, &size, 2880 * 64, realloc, &st);
	if (st == 0)
		fits_create_img(f, USHORT_IMG, 2, naxes, &st);
	if (st == 0)
		st = write_header(f, sp);
	if (st == 0)
		fits_write_img(f, TFLOAT, 1, (LONGLONG)ASTRO_OBS_FRAME_WIDTH * ASTRO_OBS_FRAME_HEIGHT, img,
			       &st);
	if (st == 0)
		fits_write_chksum(f, &st);
	if (f) {
		int cst = 0;
		LONGLONG end = 0;

		if (st == 0)
			fits_get_hduaddrll(f, NULL, NULL, &end, &st);
		fits_close_file(f, &cst);
		if (st == 0 && cst == 0)
			*len = (size_t)end;
		if (st == 0)
			st = cst;
	}
	if (st != 0) {
		rc = st == MEMORY_ALLOCATION ? -ENOMEM : -EIO;
		goto out;
	}
	*fits = buf;
	buf = NULL;
out:
	free(buf);
	free(img);
	return rc;
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

static int fits_error(int st, const char *what, char *err, size_t errlen)
{
	char msg[FLEN_STATUS];

	fits_get_errstatus(st, msg);
	return astro_err_set(err, errlen, st == MEMORY_ALLOCATION ? -ENOMEM : -EINVAL,
			     "%s: %s (cfitsio status %d)", what, msg, st);
}

/* Bin the image by `bin` and stretch it to 8 bits. */
static int stretch(const float *img, long w, long h, long bin, uint8_t **out, long *ow, long *oh)
{
	long bw = w / bin, bh = h / bin, x, y, i, n = 0, ns;
	float *b = malloc(sizeof(*b) * bw * bh), *sample;
	double lo, hi;

	if (!b)
		return -ENOMEM;
	for (y = 0; y < bh; y++)
		for (x = 0; x < bw; x++) {
			double s = 0;
			long k, m;

			for (k = 0; k < bin; k++)
				for (m = 0; m < bin; m++)
					s += img[(y * bin + k) * w + x * bin + m];
			b[y * bw + x] = (float)(s / (bin * bin));
		}
	/* Percentiles from at most ~20000 evenly spaced pixels. */
	ns = bw * bh < 20000 ? bw * bh : 20000;
	sample = malloc(sizeof(*sample) * ns);
	*out = malloc((size_t)bw * bh);
	if (!sample || !*out) {
		free(sample);
		free(*out);
		free(b);
		*out = NULL;
		return -ENOMEM;
	}
	for (i = 0; i < ns; i++) {
		float v = b[(long)((double)i * bw * bh / ns)];

		if (isfinite(v))
			sample[n++] = v;
	}
	qsort(sample, n, sizeof(*sample), cmp_float);
	lo = n ? sample[(long)(n * 0.02)] : 0;
	hi = n ? sample[(long)(n * 0.998) < n ? (long)(n * 0.998) : n - 1] : 1;
	if (!(hi > lo))
		hi = lo + 1;
	for (i = 0; i < bw * bh; i++) {
		double v = isfinite(b[i]) ? (b[i] - lo) / (hi - lo) : 0;

		v = v < 0 ? 0 : v > 1 ? 1 : sqrt(v);
		(*out)[i] = (uint8_t)lround(v * 255);
	}
	free(sample);
	free(b);
	*ow = bw;
	*oh = bh;
	return 0;
}

int astro_obs_frame_preview(const void *fits, size_t len, uint8_t **jpg, size_t *jlen,
			    char *err, size_t errlen)
{
	void *mem = (void *)fits;	/* cfitsio's API is not const; READONLY */
	size_t msize = len;
	fitsfile *f = NULL;
	int st = 0, naxis = 0, hdutype = 0, anynul = 0, rc = 0, nhdu = 0, i;
	long naxes[2] = { 0, 0 }, ow = 0, oh = 0, bin;
	float *img = NULL;
	uint8_t *pix = NULL;

	*jpg = NULL;
	*jlen = 0;
	if (!fits || len < 2880 || memcmp(fits, "SIMPLE  =", 9) != 0) {
		return astro_err_set(err, errlen, -EINVAL, "not a FITS file (%zu bytes, no SIMPLE card)", len);
	}
	if (fits_open_memfile(&f, "image.fits", READONLY, &mem, &msize, 0, NULL, &st))
		return fits_error(st, "opening the FITS", err, errlen);
	fits_get_num_hdus(f, &nhdu, &st);
	/* The first HDU holding a 2-D image: cameras put it in the primary,
	 * compressed files in an extension. */
	for (i = 1; st == 0 && i <= nhdu; i++) {
		fits_movabs_hdu(f, i, &hdutype, &st);
		if (st == 0 && hdutype == IMAGE_HDU)
			fits_get_img_dim(f, &naxis, &st);
		if (st == 0 && hdutype == IMAGE_HDU && naxis == 2)
			break;
		naxis = 0;
	}
	if (st == 0 && naxis == 2)
		fits_get_img_size(f, 2, naxes, &st);
	if (st != 0) {
		rc = fits_error(st, "reading the FITS header", err, errlen);
		goto out;
	}
	if (naxis != 2 || naxes[0] < 1 || naxes[1] < 1 || naxes[0] > 65536 || naxes[1] > 65536) {
		snprintf(err, errlen, "no 2-D image in the FITS file (%d HDUs)", nhdu);
		rc = -EINVAL;
		goto out;
	}
	img = malloc(sizeof(*img) * naxes[0] * naxes[1]);
	if (!img) {
		rc = -ENOMEM;
		goto out;
	}
	fits_read_img(f, TFLOAT, 1, (LONGLONG)naxes[0] * naxes[1], NULL, img, &anynul, &st);
	if (st != 0) {
		rc = fits_error(st, "reading the FITS image", err, errlen);
		goto out;
	}
	bin = (naxes[0] > naxes[1] ? naxes[0] : naxes[1]);
	bin = (bin + ASTRO_OBS_PREVIEW_MAX - 1) / ASTRO_OBS_PREVIEW_MAX;
	rc = stretch(img, naxes[0], naxes[1], bin, &pix, &ow, &oh);
	if (rc == 0)
		rc = astro_obs_jpeg_grey(pix, (unsigned)ow, (unsigned)oh, jpg, jlen);
	if (rc < 0)
		snprintf(err, errlen, "encoding the preview: %s", strerror(-rc));
out:
	if (f) {
		int cst = 0;

		fits_close_file(f, &cst);
	}
	free(pix);
	free(img);
	return rc;
}

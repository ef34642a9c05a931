#include "unit.h"
#include "unit_ref.h"
#include <errno.h>
#include <math.h>
#include "core/astro.h"
#include <erfa.h>
#include "satfilter/astro_frames.h"
#include "services/timescale.h"
#include "satfilter/sgp4.h"
#include "services/tle.h"

/*
 * The frame chain against skyfield, run live: tests/oracles/skyfield_radec.py
 * computes each case with Debian's python3-skyfield (its own SGP4, time
 * scales, leap seconds, IAU 2000A nutation); this side uses sgp4.c and
 * astro_frames.c with skyfield's DUT1 passed in as the configured value.
 */

#define SCRIPT "tests/oracles/skyfield_radec.py"
#define MAX_CASES 128
#define TOL_ARCSEC 1.0

struct tcase {
	double mjd_tai, lat, lon, h;
	char l1[80], l2[80];
};

static const struct {
	double lat, lon, h;
} sites[] = {
	{ -30.244633333, -70.749416667, 2662.75 }, /* Rubin, SPEC section 5 */
	{ 52.0, 5.0, 10.0 },
};

/* Every stride-th element set of a file, at three times after its epoch. */
static size_t add_cases(const char *rel, size_t stride, struct tcase *c,
			size_t n, size_t max)
{
	char path[512], err[200];
	struct astro_tle_set *sets = NULL;
	size_t nsets = 0, len = 0;
	char *body;
	const double offs[] = { 0.1, 0.55, 1.3 };

	if (!unit_shared(rel, path, sizeof(path)))
		return n;
	body = unit_slurp(path, &len);
	assert_non_null(body);
	assert_int_equal(astro_tle_parse_body(body, len, ASTRO_TLE_ALLOW_68, &sets,
					      &nsets, err, sizeof(err)), 0);
	for (size_t i = 0; i < nsets && n < max; i += stride) {
		struct astro_tle_elements el;
		const struct astro_tle_set *s = &sets[i];

		assert_int_equal(astro_tle_parse_elements(body + s->l1_off, s->l1_len,
							  body + s->l2_off, s->l2_len,
							  &el, err, sizeof(err)), 0);
		for (size_t k = 0; k < ASTRO_ARRAY_SIZE(offs) && n < max; k++) {
			struct tcase *tc = &c[n++];
			size_t si = (i / stride + k) % ASTRO_ARRAY_SIZE(sites);

			/* UTC epoch + offset, as TAI (37 s since 2017; 37 s is
			 * also right for 2019 and 2026) */
			tc->mjd_tai = (el.jdsatepoch - 2400000.5) + el.jdsatepochF +
				      offs[k] + 37.0 / 86400.0;
			tc->lat = sites[si].lat;
			tc->lon = sites[si].lon;
			tc->h = sites[si].h;
			snprintf(tc->l1, sizeof(tc->l1), "%.*s", (int)s->l1_len, body + s->l1_off);
			snprintf(tc->l2, sizeof(tc->l2), "%.*s", (int)s->l2_len, body + s->l2_off);
		}
	}
	free(sets);
	free(body);
	return n;
}

static double sep_arcsec(double ra1, double de1, double ra2, double de2)
{
	double a1 = ra1 * M_PI / 180, d1 = de1 * M_PI / 180;
	double a2 = ra2 * M_PI / 180, d2 = de2 * M_PI / 180;
	double x = cos(d1) * cos(a1) - cos(d2) * cos(a2);
	double y = cos(d1) * sin(a1) - cos(d2) * sin(a2);
	double z = sin(d1) - sin(d2);
	double chord = sqrt(x * x + y * y + z * z);

	return 2.0 * asin(chord / 2.0) * 648000.0 / M_PI;
}

static size_t load_cases(struct tcase *cases)
{
	size_t n = add_cases("data/tle/spacetrack_3le_catalog_2019-12-19.3le", 1537, cases, 0, MAX_CASES);

	return add_cases("data/tle/alpha5_and_recent_2026.tle", 1, cases, n, MAX_CASES);
}

/* Elements, site and instant of a case, and the TEME state; 0 or -1. */
static int setup_case(const struct tcase *tc, double dut1, struct astro_sgp4 *s,
		      struct astro_frames_instant *inst, double r[3], double v[3])
{
	struct astro_tle_elements el;
	struct astro_frames_site site;
	char err[200];

	assert_int_equal(astro_tle_parse_elements(tc->l1, strlen(tc->l1), tc->l2,
						  strlen(tc->l2), &el, err, sizeof(err)), 0);
	if (astro_sgp4_init(s, &el) != 0)
		return -1;
	assert_int_equal(astro_frames_site_init(&site, tc->lat, tc->lon, tc->h), 0);
	assert_int_equal(astro_frames_instant_init(inst, &site, tc->mjd_tai, dut1), 0);
	return astro_sgp4_propagate(s, astro_sgp4_tsince(s, inst->jd_utc1, inst->jd_utc2),
				    r, v) == 0 ? 0 : -1;
}

static void radec_matches_skyfield(void **state)
{
	static struct tcase cases[MAX_CASES];
	static char input[MAX_CASES * 200];
	size_t n, compared = 0, len = 0;
	double worst = 0, worst_date = 0, worst_range = 0;
	char *out, *q;

	(void)state;
	n = load_cases(cases);
	if (n == 0)
		skip();
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(input + len, sizeof(input) - len,
					"%.12f\t%.9f\t%.9f\t%.3f\t%s\t%s\n",
					cases[i].mjd_tai, cases[i].lat, cases[i].lon,
					cases[i].h, cases[i].l1, cases[i].l2);
	assert_true(len < sizeof(input));
	out = run_reference(SCRIPT, input, n);
	if (!out)
		skip();
	q = out;
	for (size_t i = 0; i < n; i++) {
		const struct tcase *tc = &cases[i];
		struct astro_frames_instant inst;
		struct astro_sgp4 s;
		double want[7], r[3], v[3], ra, dec, range, dat, d;

		read_numbers(&q, want, 7);
		if (setup_case(tc, want[5], &s, &inst, r, v) != 0 || isnan(want[0]))
			continue;
		assert_int_equal(astro_timescale_tai_utc_at_tai(tc->mjd_tai, &dat), 0);
		assert_true(dat == want[6]);

		astro_frames_radec(&inst, r, 0, &ra, &dec, &range);
		d = sep_arcsec(ra, dec, want[0], want[1]);
		if (!(d < TOL_ARCSEC))
			fail_msg("%ld at MJD(TAI) %.6f: ICRS (%.6f, %.6f) vs skyfield (%.6f, %.6f): %.2f\"",
				 s.catnum, tc->mjd_tai, ra, dec, want[0], want[1], d);
		worst = fmax(worst, d);
		worst_range = fmax(worst_range, fabs(range - want[4]));
		assert_true(fabs(range - want[4]) < 1e-3);

		astro_frames_radec(&inst, r, 1, &ra, &dec, NULL);
		d = sep_arcsec(ra, dec, want[2], want[3]);
		if (!(d < TOL_ARCSEC))
			fail_msg("%ld: of date (%.6f, %.6f) vs skyfield (%.6f, %.6f): %.2f\"",
				 s.catnum, ra, dec, want[2], want[3], d);
		worst_date = fmax(worst_date, d);
		compared++;
	}
	free(out);
	assert_true(compared > n / 2);
	fprintf(stderr, "# skyfield: %zu of %zu cases compared, worst %.3f\" ICRS, %.3f\" of date, %.2g km range\n",
		compared, n, worst, worst_date, worst_range);
}

/*
 * The WCS place: (1) Earth's velocity against astropy's built-in ERFA
 * ephemeris; (2) light time against an independent path, SGP4 run again at
 * t - tau; (3) the aberration sign and size: astropy's ICRS -> GCRS of the
 * place we return must give back our light-time-corrected direction.
 */
static void wcs_place_matches_astropy(void **state)
{
	static struct tcase cases[MAX_CASES];
	static char input[MAX_CASES * 80];
	static double lt_ra[MAX_CASES], lt_dec[MAX_CASES], tt[MAX_CASES];
	static int ok[MAX_CASES];
	size_t n, len = 0, compared = 0;
	double worst_v = 0, worst_lt = 0, worst_ab = 0;
	char *out, *q;

	(void)state;
	n = load_cases(cases);
	if (n == 0)
		skip();
	for (size_t i = 0; i < n; i++) {
		struct astro_frames_instant inst, nobeta;
		struct astro_sgp4 s;
		double r[3], v[3], r2[3], v2[3], ra, dec, ra2, dec2, range, tau, d;

		tt[i] = 2400000.5 + cases[i].mjd_tai + 32.184 / 86400.0;
		ok[i] = setup_case(&cases[i], 0.0, &s, &inst, r, v) == 0;
		if (ok[i]) {
			nobeta = inst;
			memset(nobeta.beta, 0, sizeof(nobeta.beta));
			astro_frames_radec_wcs(&nobeta, r, v, &lt_ra[i], &lt_dec[i]);
			astro_frames_radec(&inst, r, 0, &ra, &dec, &range);
			tau = range / 299792.458;
			assert_int_equal(astro_sgp4_propagate(&s, astro_sgp4_tsince(&s, inst.jd_utc1,
					 inst.jd_utc2) - tau / 60.0, r2, v2), 0);
			astro_frames_radec(&inst, r2, 0, &ra2, &dec2, NULL);
			d = sep_arcsec(lt_ra[i], lt_dec[i], ra2, dec2);
			assert_true(d < 0.02);
			worst_lt = fmax(worst_lt, d);
			astro_frames_radec_wcs(&inst, r, v, &ra, &dec);
		} else {
			ra = 10.0 * (double)i;
			dec = 0.0;
		}
		len += (size_t)snprintf(input + len, sizeof(input) - len, "%.9f %.12f %.12f\n",
					tt[i], ra, dec);
	}
	assert_true(len < sizeof(input));
	out = run_reference("tests/oracles/astropy_aberration.py", input, n);
	if (!out)
		skip();
	q = out;
	for (size_t i = 0; i < n; i++) {
		double want[5], vel[3], d;

		read_numbers(&q, want, 5);
		astro_frames_earth_velocity((tt[i] - 2451545.0) / 36525.0, vel);
		for (int k = 0; k < 3; k++) {
			assert_true(fabs(vel[k] - want[k]) < 0.05);
			worst_v = fmax(worst_v, fabs(vel[k] - want[k]));
		}
		if (!ok[i])
			continue;
		d = sep_arcsec(want[3], want[4], lt_ra[i], lt_dec[i]);
		if (!(d < 0.1))
			fail_msg("case %zu: astropy aberrates our WCS place to (%.6f, %.6f), light-time place (%.6f, %.6f): %.3f\"",
				 i, want[3], want[4], lt_ra[i], lt_dec[i], d);
		worst_ab = fmax(worst_ab, d);
		compared++;
	}
	free(out);
	assert_true(compared > n / 2);
	fprintf(stderr, "# astropy: %zu cases, Earth velocity within %.3f km/s, light time within %.4f\", "
		"aberration round trip within %.3f\"\n", compared, worst_v, worst_lt, worst_ab);
}


/* GMST at 2000-01-01 12:00 UT1 is 18h41m50.54841s by definition. */
static void gmst_at_j2000(void **state)
{
	double g = eraGmst82(2451545.0, 0.0);
	double want = (18 * 3600 + 41 * 60 + 50.54841) / 86400.0 * 2 * M_PI;

	(void)state;
	assert_true(fabs(g - want) < 1e-12);
	/* split JDs give the same angle whichever way they are split */
	assert_true(fabs(eraGmst82(2460000.5, 0.25) -
			 eraGmst82(2460000.75, 0.0)) < 1e-9);
}

/* TEME -> Earth-fixed undoes the rotation that put the site into TEME. */
static void teme_to_ecef_inverts_site(void **state)
{
	struct astro_frames_site site;
	struct astro_frames_instant inst;
	double ecef[3];

	(void)state;
	assert_int_equal(astro_frames_site_init(&site, -30.244633333, -70.749416667, 2662.75), 0);
	/* skyfield 1.45: wgs84.latlon(...).itrs_xyz.km for the same site */
	assert_true(fabs(site.ecef_km[0] - 1818.93900667) < 1e-6);
	assert_true(fabs(site.ecef_km[1] - -5208.47103534) < 1e-6);
	assert_true(fabs(site.ecef_km[2] - -3195.1714154) < 1e-6);
	assert_int_equal(astro_frames_instant_init(&inst, &site, 60641.0496, 0.1), 0);
	astro_frames_teme_to_ecef(inst.gmst, inst.site_teme, ecef);
	for (int i = 0; i < 3; i++)
		assert_true(fabs(ecef[i] - site.ecef_km[i]) < 1e-9);
	/* the z axis is shared; longitude moves by GMST */
	assert_true(fabs(inst.site_teme[2] - site.ecef_km[2]) < 1e-12);
}

static void bad_input_rejected(void **state)
{
	struct astro_frames_site site;
	struct astro_frames_instant inst;

	(void)state;
	assert_int_equal(astro_frames_site_init(&site, 91.0, 0, 0), -EINVAL);
	assert_int_equal(astro_frames_site_init(&site, NAN, 0, 0), -EINVAL);
	assert_int_equal(astro_frames_site_init(&site, -30.24, -70.75, 2662.75), 0);
	assert_int_equal(astro_frames_instant_init(&inst, &site, NAN, 0), -EINVAL);
	assert_int_equal(astro_frames_instant_init(&inst, &site, 60000.0, INFINITY), -EINVAL);
	assert_int_equal(astro_frames_instant_init(&inst, &site, 1e9, 0), -ERANGE);
	assert_int_equal(astro_frames_instant_init(&inst, &site, 30000.0, 0), -ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(radec_matches_skyfield),
		cmocka_unit_test(wcs_place_matches_astropy),
		cmocka_unit_test(gmst_at_j2000),
		cmocka_unit_test(teme_to_ecef_inverts_site),
		cmocka_unit_test(bad_input_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

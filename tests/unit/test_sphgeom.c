#include "unit.h"
#include <errno.h>
#include <math.h>
#include "core/astro.h"
#include "satfilter/sphgeom.h"

/* Expected values come from closed forms worked by hand (spherical
 * trigonometry), never from the code under test. */

#define D2R (M_PI / 180.0)
#define AS (D2R / 3600.0)

static void v(double ra, double dec, double out[3])
{
	astro_sphgeom_vec(ra, dec, out);
}

static void angles_are_accurate_when_tiny(void **state)
{
	double a[3], b[3];

	(void)state;
	/* along a meridian the separation is the difference in dec */
	v(10, 20, a);
	v(10, 20 + 0.001 / 3600, b);
	assert_float_equal(astro_sphgeom_angle(a, b) / AS, 0.001, 1e-9);
	/* at dec -60 an RA step of 0.1 deg is 0.05 deg on the sky
	 * (haversine: 2 asin(cos(dec) sin(dra/2))) */
	v(0, -60, a);
	v(0.1, -60, b);
	assert_float_equal(astro_sphgeom_angle(a, b),
			   2 * asin(cos(-60 * D2R) * sin(0.05 * D2R)), 1e-15);
}

static void hull_ignores_corner_order(void **state)
{
	const double c[4][2] = { { 53.0, -28.0 }, { 53.01, -28.0 }, { 53.01, -28.01 }, { 53.0, -28.01 } };
	const int orders[4][4] = { { 0, 1, 2, 3 }, { 0, 2, 1, 3 }, { 3, 1, 0, 2 }, { 2, 0, 3, 1 } };
	double pts[4][3], inside[3], outside[3];

	(void)state;
	v(53.005, -28.005, inside);
	v(53.02, -28.005, outside);
	for (size_t o = 0; o < 4; o++) {	/* ordered, bow-tie, shuffled */
		struct astro_sphgeom_poly h;

		for (int k = 0; k < 4; k++)
			v(c[orders[o][k]][0], c[orders[o][k]][1], pts[k]);
		assert_int_equal(astro_sphgeom_hull((const double (*)[3])pts, 4, &h), 0);
		assert_int_equal(h.n, 4);
		assert_true(astro_sphgeom_poly_contains(&h, inside));
		assert_false(astro_sphgeom_poly_contains(&h, outside));
		assert_float_equal(astro_sphgeom_arc_poly(inside, inside, &h), 0, 0);
	}
}

static void hull_degenerate_and_refused(void **state)
{
	double pts[4][3];
	struct astro_sphgeom_poly h;

	(void)state;
	for (int k = 0; k < 4; k++)
		v(10, 5, pts[k]);
	assert_int_equal(astro_sphgeom_hull((const double (*)[3])pts, 4, &h), 0);
	assert_int_equal(h.n, 1);
	/* collinear on the equator: an arc */
	v(10, 0, pts[0]);
	v(10.2, 0, pts[1]);
	v(10.1, 0, pts[2]);
	v(10.05, 0, pts[3]);
	assert_int_equal(astro_sphgeom_hull((const double (*)[3])pts, 4, &h), 0);
	assert_int_equal(h.n, 2);
	/* spread over more than a hemisphere, or antipodal: refused */
	v(0, 0, pts[0]);
	v(180, 0, pts[1]);
	assert_int_equal(astro_sphgeom_hull((const double (*)[3])pts, 2, &h), -EINVAL);
	v(0, 0, pts[0]);
	v(120, 0, pts[1]);
	v(240, 0, pts[2]);
	assert_int_equal(astro_sphgeom_hull((const double (*)[3])pts, 3, &h), -EINVAL);
	assert_int_equal(astro_sphgeom_hull((const double (*)[3])pts, 0, &h), -EINVAL);
	pts[0][0] = NAN;
	assert_int_equal(astro_sphgeom_hull((const double (*)[3])pts, 1, &h), -EINVAL);
}

static void point_to_arc(void **state)
{
	double a[3], b[3], p[3];

	(void)state;
	/* the equator from RA 0 to 10: a point at dec 1 above it is 1 deg away */
	v(0, 0, a);
	v(10, 0, b);
	v(5, 1, p);
	assert_float_equal(astro_sphgeom_point_arc(p, a, b) / D2R, 1.0, 1e-12);
	/* beyond the end: the distance to the endpoint (cos d = cos 2 cos 1) */
	v(12, 1, p);
	assert_float_equal(astro_sphgeom_point_arc(p, a, b),
			   acos(cos(2 * D2R) * cos(1 * D2R)), 1e-12);
	/* a meridian at RA 0.021: sin d = cos(dec) sin(dra) */
	v(0.021, -1, a);
	v(0.021, 1, b);
	v(0.001, 0.001, p);
	assert_float_equal(astro_sphgeom_point_arc(p, a, b),
			   asin(cos(0.001 * D2R) * sin(0.02 * D2R)), 1e-15);
	/* a degenerate arc is a point */
	assert_float_equal(astro_sphgeom_point_arc(p, a, a), astro_sphgeom_angle(p, a), 0);
}

static void arcs_crossing(void **state)
{
	double a[3], b[3], c[3], d[3];

	(void)state;
	v(-1, 0, a);
	v(1, 0, b);
	v(0, -1, c);
	v(0, 1, d);
	assert_true(astro_sphgeom_arcs_cross(a, b, c, d));
	/* the same great circles, but the meridian arc on the far side */
	v(180, -1, c);
	v(180, 1, d);
	assert_false(astro_sphgeom_arcs_cross(a, b, c, d));
	/* misses: the meridian arc stops short of the equator */
	v(0, 0.01, c);
	v(0, 1, d);
	assert_false(astro_sphgeom_arcs_cross(a, b, c, d));
	/* overlapping on one great circle */
	v(0.5, 0, c);
	v(3, 0, d);
	assert_true(astro_sphgeom_arcs_cross(a, b, c, d));
}

static void track_to_box_distance(void **state)
{
	const double c[4][2] = { { -0.001, -0.001 }, { 0.001, 0.001 }, { 0.001, -0.001 }, { -0.001, 0.001 } };
	double pts[4][3], a[3], b[3];
	struct astro_sphgeom_poly h;

	(void)state;
	for (int k = 0; k < 4; k++)
		v(c[k][0], c[k][1], pts[k]);
	assert_int_equal(astro_sphgeom_hull((const double (*)[3])pts, 4, &h), 0);
	/* a meridian 0.02 deg east of the box's east edge: nearest are the
	 * corners at dec +-0.001 */
	v(0.021, -1, a);
	v(0.021, 1, b);
	assert_float_equal(astro_sphgeom_arc_poly(a, b, &h),
			   asin(cos(0.001 * D2R) * sin(0.02 * D2R)), 1e-15);
	/* crossing the box diagonally without a vertex inside: 0 */
	v(-1, -1, a);
	v(1, 1, b);
	assert_float_equal(astro_sphgeom_arc_poly(a, b, &h), 0, 0);
	/* a track ending inside */
	v(0, 0, b);
	assert_float_equal(astro_sphgeom_arc_poly(a, b, &h), 0, 0);
	/* a short track passing beside, nearest at its own endpoint:
	 * from (0.011, 0.001) to (0.011, 0.05) the nearest is the corner
	 * (0.001, 0.001) at 0.01 deg along the equator-ish parallel */
	v(0.011, 0.001, a);
	v(0.011, 0.05, b);
	v(0.001, 0.001, pts[0]);
	assert_float_equal(astro_sphgeom_arc_poly(a, b, &h), astro_sphgeom_angle(a, pts[0]),
			   1e-12);
	assert_float_equal(astro_sphgeom_arc_poly(a, b, &h) / D2R, 0.01, 1e-8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(angles_are_accurate_when_tiny),
		cmocka_unit_test(hull_ignores_corner_order),
		cmocka_unit_test(hull_degenerate_and_refused),
		cmocka_unit_test(point_to_arc),
		cmocka_unit_test(arcs_crossing),
		cmocka_unit_test(track_to_box_distance),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

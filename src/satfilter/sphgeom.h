/*
 * sphgeom.h — small spherical geometry for the satellite filter.
 *
 * Points on the sky are unit vectors (x toward RA 0 Dec 0, z toward the
 * pole).  Arcs are minor great-circle arcs between two points (shorter than
 * 180 deg).  Polygons are spherical convex hulls of at most
 * ASTRO_SPHGEOM_MAX_VERTS points lying within one hemisphere, with vertices
 * in counter-clockwise order seen from outside the sphere; a hull may be
 * degenerate (one point, or an arc when the points are collinear), and the
 * distance functions treat those exactly.
 *
 * Distances are angles in radians computed with atan2 (accurate for tiny
 * angles, where acos loses half its digits: a 0.1" box needs that).
 *
 * All functions are pure and thread-safe.
 */
#ifndef ASTRO_SPHGEOM_H
#define ASTRO_SPHGEOM_H

#include <math.h>
#include <stddef.h>

#define ASTRO_SPHGEOM_MAX_VERTS 8

/* 3-vector helpers, inline because the per-source filter loop runs them. */
static inline double astro_sphgeom_dot(const double a[3], const double b[3])
{
	return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

static inline void astro_sphgeom_cross(const double a[3], const double b[3], double o[3])
{
	o[0] = a[1] * b[2] - a[2] * b[1];
	o[1] = a[2] * b[0] - a[0] * b[2];
	o[2] = a[0] * b[1] - a[1] * b[0];
}

/* Scale a (non-zero) vector to unit length. */
static inline void astro_sphgeom_unit(double a[3])
{
	double l = sqrt(astro_sphgeom_dot(a, a));

	for (int j = 0; j < 3; j++)
		a[j] /= l;
}

/* Unit vector of (ra, dec) in degrees. */
void astro_sphgeom_vec(double ra_deg, double dec_deg, double v[3]);

/* Angle between two unit vectors, radians in [0, pi]. */
double astro_sphgeom_angle(const double a[3], const double b[3]);

struct astro_sphgeom_poly {
	size_t n;			/* vertices: 1 point, 2 arc, >= 3 polygon */
	double v[ASTRO_SPHGEOM_MAX_VERTS][3];
	double centre[3];		/* unit vector: normalised mean of the inputs */
	double radius;			/* max angle from centre to a vertex */
};

/*
 * Spherical convex hull of n points (any order, duplicates allowed).
 * Returns 0, or -EINVAL when n is 0 or above ASTRO_SPHGEOM_MAX_VERTS, a
 * point is not finite, or the points do not fit in an open hemisphere
 * (their hull would not be a convex polygon).
 */
int astro_sphgeom_hull(const double (*pts)[3], size_t n,
		       struct astro_sphgeom_poly *out);

/* Distance from point p to the arc a-b (a == b allowed). */
double astro_sphgeom_point_arc(const double p[3], const double a[3],
			       const double b[3]);

/* 1 when the arcs a-b and c-d share a point (touching counts). */
int astro_sphgeom_arcs_cross(const double a[3], const double b[3],
			     const double c[3], const double d[3]);

/* 1 when p is inside or on the polygon (n >= 3); 0 for n < 3. */
int astro_sphgeom_poly_contains(const struct astro_sphgeom_poly *poly,
				const double p[3]);

/* Distance from the arc a-b to the hull: 0 when they touch. */
double astro_sphgeom_arc_poly(const double a[3], const double b[3],
			      const struct astro_sphgeom_poly *poly);

#endif

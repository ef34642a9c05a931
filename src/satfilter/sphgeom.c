/* sphgeom.c — see sphgeom.h. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include "core/astro.h"
#include "sphgeom.h"

static double norm(const double a[3])
{
	return sqrt(astro_sphgeom_dot(a, a));
}

void astro_sphgeom_vec(double ra_deg, double dec_deg, double v[3])
{
	double ra = ra_deg * (M_PI / 180.0), de = dec_deg * (M_PI / 180.0);

	v[0] = cos(de) * cos(ra);
	v[1] = cos(de) * sin(ra);
	v[2] = sin(de);
}

double astro_sphgeom_angle(const double a[3], const double b[3])
{
	double c[3];

	astro_sphgeom_cross(a, b, c);
	return atan2(norm(c), astro_sphgeom_dot(a, b));
}

int astro_sphgeom_hull(const double (*pts)[3], size_t n,
		       struct astro_sphgeom_poly *out)
{
	double c[3] = { 0, 0, 0 }, e1[3], e2[3], len;
	double xy[ASTRO_SPHGEOM_MAX_VERTS][2];
	size_t idx[ASTRO_SPHGEOM_MAX_VERTS], hull[2 * ASTRO_SPHGEOM_MAX_VERTS];
	size_t k = 0;

	if (n == 0 || n > ASTRO_SPHGEOM_MAX_VERTS)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		double l = norm(pts[i]);

		if (!isfinite(l) || fabs(l - 1.0) > 1e-9)
			return -EINVAL;
		for (int j = 0; j < 3; j++)
			c[j] += pts[i][j];
	}
	len = norm(c);
	if (!(len > 1e-9))
		return -EINVAL;
	for (int j = 0; j < 3; j++)
		c[j] /= len;
	/* Gnomonic projection about the mean maps great circles to straight
	 * lines, so the planar hull of the projections is the spherical hull;
	 * it needs every point strictly in the hemisphere around the mean. */
	{
		double t[3] = { 0, 0, 0 };

		t[fabs(c[0]) < 0.6 ? 0 : (fabs(c[1]) < 0.6 ? 1 : 2)] = 1.0;
		astro_sphgeom_cross(c, t, e1);
		len = norm(e1);
		for (int j = 0; j < 3; j++)
			e1[j] /= len;
		astro_sphgeom_cross(c, e1, e2);	/* e1 x e2 = c: counter-clockwise from outside */
	}
	for (size_t i = 0; i < n; i++) {
		double w = astro_sphgeom_dot(pts[i], c);

		if (!(w > 1e-6))
			return -EINVAL;
		xy[i][0] = astro_sphgeom_dot(pts[i], e1) / w;
		xy[i][1] = astro_sphgeom_dot(pts[i], e2) / w;
		idx[i] = i;
	}
	/* sort by x then y (n <= 8: insertion sort) */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0; j--) {
			const double *p = xy[idx[j - 1]], *q = xy[idx[j]];
			size_t t;

			if (p[0] < q[0] || (p[0] == q[0] && p[1] <= q[1]))
				break;
			t = idx[j - 1];
			idx[j - 1] = idx[j];
			idx[j] = t;
		}
	/* Andrew's monotone chain; collinear and repeated points dropped */
	for (int pass = 0; pass < 2; pass++) {
		size_t base = k;

		for (size_t s = 0; s < n; s++) {
			size_t i = pass == 0 ? idx[s] : idx[n - 1 - s];

			while (k >= base + 2) {
				const double *o = xy[hull[k - 2]], *a = xy[hull[k - 1]];
				double cr = (a[0] - o[0]) * (xy[i][1] - o[1]) -
					    (a[1] - o[1]) * (xy[i][0] - o[0]);

				if (cr > 0)
					break;
				k--;
			}
			hull[k++] = i;
		}
		k--;	/* the last point of each chain starts the other */
	}
	memset(out, 0, sizeof(*out));
	memcpy(out->centre, c, sizeof(c));
	for (size_t i = 0; i < k; i++) {
		const double *p = pts[hull[i]];

		/* identical projections survive the chain as a repeated point */
		if (out->n && memcmp(xy[hull[i]], xy[hull[i - 1]], sizeof(xy[0])) == 0)
			continue;
		memcpy(out->v[out->n++], p, sizeof(double) * 3);
	}
	if (out->n >= 2 && memcmp(out->v[0], out->v[out->n - 1], sizeof(out->v[0])) == 0)
		out->n--;
	if (out->n == 0) {
		memcpy(out->v[0], pts[0], sizeof(double) * 3);
		out->n = 1;
	}
	/* The farthest point by chord (differences keep full precision for
	 * small angles, and the angle grows with the chord), then one angle. */
	{
		size_t far = 0;
		double best = -1;

		for (size_t i = 0; i < n; i++) {
			double d0 = pts[i][0] - c[0], d1 = pts[i][1] - c[1], d2 = pts[i][2] - c[2];
			double ch = d0 * d0 + d1 * d1 + d2 * d2;

			if (ch > best) {
				best = ch;
				far = i;
			}
		}
		out->radius = astro_sphgeom_angle(c, pts[far]);
	}
	return 0;
}

double astro_sphgeom_point_arc(const double p[3], const double a[3],
			       const double b[3])
{
	double nv[3], ap[3], pb[3], len, da, db, s;

	astro_sphgeom_cross(a, b, nv);
	len = norm(nv);
	if (len > 1e-15) {
		for (int j = 0; j < 3; j++)
			nv[j] /= len;
		astro_sphgeom_cross(a, p, ap);
		astro_sphgeom_cross(p, b, pb);
		if (astro_sphgeom_dot(ap, nv) >= 0 && astro_sphgeom_dot(pb, nv) >= 0) {
			double q[3];

			/* p's foot on the great circle lies on the arc */
			s = astro_sphgeom_dot(p, nv);
			for (int j = 0; j < 3; j++)
				q[j] = p[j] - s * nv[j];
			return atan2(fabs(s), norm(q));
		}
	}
	da = astro_sphgeom_angle(p, a);
	db = astro_sphgeom_angle(p, b);
	return da < db ? da : db;
}

/* s on the arc a-b whose pole is nv (not normalised); a small slack
 * makes touching count. */
static int on_arc(const double s[3], const double a[3], const double b[3],
		  const double nv[3])
{
	double as[3], sb[3], eps = 1e-15 * astro_sphgeom_dot(nv, nv);

	astro_sphgeom_cross(a, s, as);
	astro_sphgeom_cross(s, b, sb);
	return astro_sphgeom_dot(as, nv) >= -eps && astro_sphgeom_dot(sb, nv) >= -eps;
}

int astro_sphgeom_arcs_cross(const double a[3], const double b[3],
			     const double c[3], const double d[3])
{
	double n1[3], n2[3], x[3], len;

	astro_sphgeom_cross(a, b, n1);
	astro_sphgeom_cross(c, d, n2);
	astro_sphgeom_cross(n1, n2, x);
	len = norm(x);
	if (norm(n1) < 1e-15 || norm(n2) < 1e-15 || len < 1e-15 * norm(n1) * norm(n2))
		/* a point, or both on one great circle: touching is distance 0 */
		return astro_sphgeom_point_arc(a, c, d) < 1e-12 ||
		       astro_sphgeom_point_arc(b, c, d) < 1e-12 ||
		       astro_sphgeom_point_arc(c, a, b) < 1e-12 ||
		       astro_sphgeom_point_arc(d, a, b) < 1e-12;
	for (int sign = 1; sign >= -1; sign -= 2) {
		double s[3] = { sign * x[0] / len, sign * x[1] / len, sign * x[2] / len };

		if (on_arc(s, a, b, n1) && on_arc(s, c, d, n2))
			return 1;
	}
	return 0;
}

int astro_sphgeom_poly_contains(const struct astro_sphgeom_poly *poly,
				const double p[3])
{
	if (poly->n < 3)
		return 0;
	if (astro_sphgeom_dot(p, poly->centre) <= 0)
		return 0;
	for (size_t i = 0; i < poly->n; i++) {
		double e[3];

		astro_sphgeom_cross(poly->v[i], poly->v[(i + 1) % poly->n], e);
		if (astro_sphgeom_dot(p, e) < 0)
			return 0;
	}
	return 1;
}

double astro_sphgeom_arc_poly(const double a[3], const double b[3],
			      const struct astro_sphgeom_poly *poly)
{
	double best = M_PI, d;
	size_t ne;

	if (poly->n == 1)
		return astro_sphgeom_point_arc(poly->v[0], a, b);
	if (astro_sphgeom_poly_contains(poly, a) || astro_sphgeom_poly_contains(poly, b))
		return 0;
	/* Two minor arcs that do not meet are closest at an endpoint of one
	 * of them, so edges and endpoints suffice. */
	ne = poly->n == 2 ? 1 : poly->n;
	for (size_t i = 0; i < ne; i++) {
		const double *u = poly->v[i], *w = poly->v[(i + 1) % poly->n];

		if (astro_sphgeom_arcs_cross(a, b, u, w))
			return 0;
		d = astro_sphgeom_point_arc(a, u, w);
		best = d < best ? d : best;
		d = astro_sphgeom_point_arc(b, u, w);
		best = d < best ? d : best;
		d = astro_sphgeom_point_arc(u, a, b);
		best = d < best ? d : best;
	}
	if (poly->n == 2) {
		d = astro_sphgeom_point_arc(poly->v[1], a, b);
		best = d < best ? d : best;
	}
	return best;
}

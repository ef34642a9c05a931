/*
 * astro_frames.c — time scales and TEME -> topocentric RA/Dec (see the
 * header for the chain and what is neglected).
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "astro_frames.h"

#define TWOPI (2.0 * M_PI)
#define DEG2RAD (M_PI / 180.0)
#define AS2RAD (M_PI / 648000.0)
#define J2000 2451545.0
#define MJD0 2400000.5
#define C_KMS 299792.458

/*
 * Leap seconds: UTC MJD from which TAI-UTC takes the value.  Source: IERS
 * Bulletin C (hpiers.obspm.fr/iers/bul/bulc/Leap_Second.dat and the IERS
 * leap-seconds.list).  Last entry 2017-01-01: 37 s.  A new leap second needs
 * a new row here; Bulletin C announces them six months ahead.
 */
static const struct {
	int mjd;
	int dat;
} leap[] = {
	{ 41317, 10 }, { 41499, 11 }, { 41683, 12 }, { 42048, 13 },
	{ 42413, 14 }, { 42778, 15 }, { 43144, 16 }, { 43509, 17 },
	{ 43874, 18 }, { 44239, 19 }, { 44786, 20 }, { 45151, 21 },
	{ 45516, 22 }, { 46247, 23 }, { 47161, 24 }, { 47892, 25 },
	{ 48257, 26 }, { 48804, 27 }, { 49169, 28 }, { 49534, 29 },
	{ 50083, 30 }, { 50630, 31 }, { 51179, 32 }, { 53736, 33 },
	{ 54832, 34 }, { 56109, 35 }, { 57204, 36 }, { 57754, 37 },
};

int astro_frames_tai_utc(double mjd_tai, double *tai_minus_utc_s)
{
	size_t n = sizeof(leap) / sizeof(leap[0]);

	if (!isfinite(mjd_tai))
		return -EINVAL;
	/* A step takes effect when TAI reaches the new UTC day plus dat. */
	for (size_t i = n; i-- > 0;) {
		if (mjd_tai >= leap[i].mjd + leap[i].dat / 86400.0) {
			*tai_minus_utc_s = leap[i].dat;
			return 0;
		}
	}
	return -ERANGE;
}

double astro_frames_gmst82(double jd1, double jd2)
{
	double d = (jd1 - J2000) + jd2;
	double t = d / 36525.0;
	/* The 876600 h T term is 86400 s per day: keep only its fraction. */
	double sec = 67310.54841 + 86400.0 * (d - floor(d)) +
		     8640184.812866 * t + 0.093104 * t * t - 6.2e-6 * t * t * t;
	double g = fmod(sec, 86400.0) / 86400.0 * TWOPI;

	return g < 0.0 ? g + TWOPI : g;
}

int astro_frames_site_init(struct astro_frames_site *site, double lat_deg,
			   double lon_deg, double height_m)
{
	const double a = 6378.137, f = 1.0 / 298.257223563;
	const double e2 = f * (2.0 - f);
	double phi, lam, h, n;

	if (!isfinite(lat_deg) || !isfinite(lon_deg) || !isfinite(height_m) ||
	    fabs(lat_deg) > 90.0 || fabs(lon_deg) > 360.0 ||
	    fabs(height_m) > 1e5)
		return -EINVAL;
	site->lat_deg = lat_deg;
	site->lon_deg = lon_deg;
	site->height_m = height_m;
	phi = lat_deg * DEG2RAD;
	lam = lon_deg * DEG2RAD;
	h = height_m / 1000.0;
	n = a / sqrt(1.0 - e2 * sin(phi) * sin(phi));
	site->ecef_km[0] = (n + h) * cos(phi) * cos(lam);
	site->ecef_km[1] = (n + h) * cos(phi) * sin(lam);
	site->ecef_km[2] = (n * (1.0 - e2) + h) * sin(phi);
	return 0;
}

/*
 * Passive rotation about axis 0 (x), 1 (y) or 2 (z): it turns the axes by
 * a, so vectors appear turned by -a.
 */
static void rot(int axis, double a, double m[3][3])
{
	int i = (axis + 1) % 3, j = (axis + 2) % 3;
	double c = cos(a), s = sin(a);

	memset(m, 0, 9 * sizeof(double));
	m[axis][axis] = 1.0;
	m[i][i] = c;
	m[i][j] = s;
	m[j][i] = -s;
	m[j][j] = c;
}

/* out = a * b (out may alias neither). */
static void mat_mul(const double a[3][3], const double b[3][3], double out[3][3])
{
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			out[i][j] = a[i][0] * b[0][j] + a[i][1] * b[1][j] +
				    a[i][2] * b[2][j];
}

static void mat_vec(const double m[3][3], const double v[3], double out[3])
{
	for (int i = 0; i < 3; i++)
		out[i] = m[i][0] * v[0] + m[i][1] * v[1] + m[i][2] * v[2];
}

/*
 * IAU-1980 nutation, the terms of >= 1.5 mas (Seidelmann 1982; Meeus,
 * Astronomical Algorithms, table 22.A).  Multipliers of D, M (Sun), M'
 * (Moon), F, Omega; then dpsi = (s + s1 T) sin, deps = (c + c1 T) cos, in
 * units of 0.1 mas.
 */
static const struct {
	signed char d, m, mp, f, om;
	double s, s1, c, c1;
} nut80[] = {
	{ 0, 0, 0, 0, 1, -171996, -174.2, 92025, 8.9 },
	{ -2, 0, 0, 2, 2, -13187, -1.6, 5736, -3.1 },
	{ 0, 0, 0, 2, 2, -2274, -0.2, 977, -0.5 },
	{ 0, 0, 0, 0, 2, 2062, 0.2, -895, 0.5 },
	{ 0, 1, 0, 0, 0, 1426, -3.4, 54, -0.1 },
	{ 0, 0, 1, 0, 0, 712, 0.1, -7, 0 },
	{ -2, 1, 0, 2, 2, -517, 1.2, 224, -0.6 },
	{ 0, 0, 0, 2, 1, -386, -0.4, 200, 0 },
	{ 0, 0, 1, 2, 2, -301, 0, 129, -0.1 },
	{ -2, -1, 0, 2, 2, 217, -0.5, -95, 0.3 },
	{ -2, 0, 1, 0, 0, -158, 0, 0, 0 },
	{ -2, 0, 0, 2, 1, 129, 0.1, -70, 0 },
	{ 0, 0, -1, 2, 2, 123, 0, -53, 0 },
	{ 2, 0, 0, 0, 0, 63, 0, 0, 0 },
	{ 0, 0, 1, 0, 1, 63, 0.1, -33, 0 },
	{ 2, 0, -1, 2, 2, -59, 0, 26, 0 },
	{ 0, 0, -1, 0, 1, -58, -0.1, 32, 0 },
	{ 0, 0, 1, 2, 1, -51, 0, 27, 0 },
	{ -2, 0, 2, 0, 0, 48, 0, 0, 0 },
	{ 0, 0, -2, 2, 1, 46, 0, -24, 0 },
	{ 2, 0, 0, 2, 2, -38, 0, 16, 0 },
	{ 0, 0, 2, 2, 2, -31, 0, 13, 0 },
	{ 0, 0, 2, 0, 0, 29, 0, 0, 0 },
	{ -2, 0, 1, 2, 2, 29, 0, -12, 0 },
	{ 0, 0, 0, 2, 0, 26, 0, 0, 0 },
	{ -2, 0, 0, 2, 0, -22, 0, 0, 0 },
	{ 0, 0, -1, 2, 1, 21, 0, -10, 0 },
	{ 0, 2, 0, 0, 0, 17, -0.1, 0, 0 },
	{ 2, 0, -1, 0, 1, 16, 0, -8, 0 },
	{ -2, 2, 0, 2, 2, -16, 0.1, 7, 0 },
	{ 0, 1, 0, 0, 1, -15, 0, 9, 0 },
};

/* dpsi, deps and mean obliquity (rad) at TT Julian centuries t. */
static void nutation80(double t, double *dpsi, double *deps, double *eps0)
{
	/* Delaunay arguments, linear terms (IERS Conventions 2003), arcsec. */
	double d = fmod(1072260.70369 + 1602961601.2090 * t, 1296000.0) * AS2RAD;
	double m = fmod(1287104.79305 + 129596581.0481 * t, 1296000.0) * AS2RAD;
	double mp = fmod(485868.249036 + 1717915923.2178 * t, 1296000.0) * AS2RAD;
	double f = fmod(335779.526232 + 1739527262.8478 * t, 1296000.0) * AS2RAD;
	double om = fmod(450160.398036 - 6962890.5431 * t, 1296000.0) * AS2RAD;
	double ps = 0.0, ep = 0.0;

	for (size_t i = 0; i < sizeof(nut80) / sizeof(nut80[0]); i++) {
		double arg = nut80[i].d * d + nut80[i].m * m + nut80[i].mp * mp +
			     nut80[i].f * f + nut80[i].om * om;

		ps += (nut80[i].s + nut80[i].s1 * t) * sin(arg);
		ep += (nut80[i].c + nut80[i].c1 * t) * cos(arg);
	}
	*dpsi = ps * 1e-4 * AS2RAD;
	*deps = ep * 1e-4 * AS2RAD;
	*eps0 = (84381.448 - 46.8150 * t - 0.00059 * t * t + 0.001813 * t * t * t) *
		AS2RAD;
}

void astro_frames_earth_velocity(double t, double v[3])
{
	/* Precession in longitude from the equinox of date back to J2000. */
	const double prec = 1.396971 * t;
	const double eps = 23.4392911 * DEG2RAD;
	double l0 = 280.46646 + 36000.76983 * t + 0.0003032 * t * t;
	double m = (357.52911 + 35999.05029 * t - 0.0001537 * t * t) * DEG2RAD;
	double c = (1.914602 - 0.004817 * t) * sin(m) +
		   (0.019993 - 0.000101 * t) * sin(2.0 * m) + 0.000289 * sin(3.0 * m);
	double lsun = (l0 + c - prec) * DEG2RAD;
	double e = 0.016708634 - 0.000042037 * t;
	double varpi = (102.93735 + 1.71946 * t - prec) * DEG2RAD;
	/* v0 = kappa c, kappa = 20.49552" the constant of aberration */
	double v0 = 20.49552 * AS2RAD * C_KMS;
	double x = v0 * (sin(lsun) - e * sin(varpi));
	double y = v0 * (-cos(lsun) + e * cos(varpi));

	/* ecliptic J2000 -> equatorial */
	v[0] = x;
	v[1] = y * cos(eps);
	v[2] = y * sin(eps);
}

int astro_frames_instant_init(struct astro_frames_instant *in,
			      const struct astro_frames_site *site,
			      double mjd_tai, double dut1_s)
{
	double dat, day, frac, t, zeta, z, theta, dpsi, deps, eps0, eqeq;
	double a[3][3], b[3][3], p[3][3], n[3][3], np[3][3], tod[3][3];
	double r[3][3];
	int rc;

	if (!isfinite(mjd_tai) || !isfinite(dut1_s) || fabs(dut1_s) > 10.0)
		return -EINVAL;
	if (mjd_tai > 88069.0)
		return -ERANGE;
	rc = astro_frames_tai_utc(mjd_tai, &dat);
	if (rc)
		return rc;
	day = floor(mjd_tai);
	frac = mjd_tai - day;
	in->jd_utc1 = MJD0 + day;
	in->jd_utc2 = frac - dat / 86400.0;
	in->gmst = astro_frames_gmst82(in->jd_utc1, in->jd_utc2 + dut1_s / 86400.0);

	/* Site into TEME: r_teme = Rz(-gmst) r_ecef. */
	rot(2, -in->gmst, r);
	mat_vec(r, site->ecef_km, in->site_teme);

	t = ((in->jd_utc1 - J2000) + (frac + 32.184 / 86400.0)) / 36525.0;
	nutation80(t, &dpsi, &deps, &eps0);
	eqeq = dpsi * cos(eps0);
	rot(2, -eqeq, in->teme_to_tod);

	/* IAU-76 precession angles (Lieske 1977), arcsec. */
	zeta = (2306.2181 * t + 0.30188 * t * t + 0.017998 * t * t * t) * AS2RAD;
	z = (2306.2181 * t + 1.09468 * t * t + 0.018203 * t * t * t) * AS2RAD;
	theta = (2004.3109 * t - 0.42665 * t * t - 0.041833 * t * t * t) * AS2RAD;
	rot(1, theta, a);
	rot(2, -zeta, b);
	mat_mul(a, b, r);
	rot(2, -z, a);
	mat_mul(a, r, p);		/* J2000 mean -> mean of date */
	rot(2, -dpsi, a);
	rot(0, eps0, b);
	mat_mul(a, b, r);
	rot(0, -(eps0 + deps), a);
	mat_mul(a, r, n);		/* mean of date -> true of date */
	mat_mul(n, p, np);		/* GCRS -> true of date */
	/* teme_to_gcrs = (NP)^T Rz(-eqeq) */
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			tod[i][j] = np[j][i];
	mat_mul(tod, in->teme_to_tod, in->teme_to_gcrs);
	astro_frames_earth_velocity(t, in->beta);
	for (int i = 0; i < 3; i++)
		in->beta[i] /= C_KMS;
	return 0;
}

void astro_frames_teme_to_ecef(double gmst, const double teme[3],
			       double ecef[3])
{
	double c = cos(gmst), s = sin(gmst);

	ecef[0] = c * teme[0] + s * teme[1];
	ecef[1] = -s * teme[0] + c * teme[1];
	ecef[2] = teme[2];
}

static void to_radec(const double u[3], double *ra_deg, double *dec_deg,
		     double *range)
{
	double d = sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]);
	double ra = atan2(u[1], u[0]) / DEG2RAD;

	*ra_deg = ra < 0.0 ? ra + 360.0 : ra;
	*dec_deg = d > 0.0 ? asin(u[2] / d) / DEG2RAD : 0.0;
	if (range)
		*range = d;
}

void astro_frames_radec_wcs(const struct astro_frames_instant *in,
			    const double r_teme_km[3], const double v_teme_kms[3],
			    double *ra_deg, double *dec_deg)
{
	double rho[3], tau = 0.0, u[3], d;

	/* Light left the satellite tau earlier: r(t - tau) - r_site(t). */
	for (int it = 0; it < 2; it++) {
		for (int i = 0; i < 3; i++)
			rho[i] = r_teme_km[i] - v_teme_kms[i] * tau - in->site_teme[i];
		tau = sqrt(rho[0] * rho[0] + rho[1] * rho[1] + rho[2] * rho[2]) / C_KMS;
	}
	mat_vec(in->teme_to_gcrs, rho, u);
	d = sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]);
	/* Stars appear moved by +beta; a pixel shows catalogue place u - beta. */
	for (int i = 0; i < 3; i++)
		u[i] = (d > 0.0 ? u[i] / d : 0.0) - in->beta[i];
	to_radec(u, ra_deg, dec_deg, NULL);
}

void astro_frames_radec(const struct astro_frames_instant *in,
			const double r_teme_km[3], int of_date,
			double *ra_deg, double *dec_deg, double *range_km)
{
	double rho[3], out[3];

	for (int i = 0; i < 3; i++)
		rho[i] = r_teme_km[i] - in->site_teme[i];
	mat_vec(of_date ? in->teme_to_tod : in->teme_to_gcrs, rho, out);
	to_radec(out, ra_deg, dec_deg, range_km);
}

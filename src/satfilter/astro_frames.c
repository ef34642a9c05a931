/*
 * astro_frames.c — TEME -> topocentric RA/Dec (see the header for the chain
 * and what is neglected).  Time scales, precession, nutation and sidereal
 * time are ERFA's (the IAU SOFA routines); leap seconds come from the one
 * table in services/timescale.
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <erfa.h>

#include "services/timescale.h"
#include "astro_frames.h"

#define DEG2RAD (M_PI / 180.0)
#define AS2RAD (M_PI / 648000.0)
#define J2000 2451545.0
#define MJD0 2400000.5
#define C_KMS 299792.458

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

/* m v (ERFA's eraRxp takes no const, and this runs per object). */
static void mat_vec(const double m[3][3], const double v[3], double out[3])
{
	for (int i = 0; i < 3; i++)
		out[i] = m[i][0] * v[0] + m[i][1] * v[1] + m[i][2] * v[2];
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
	double dat, day, frac, tt1, tt2, dpsi, deps, eps0;
	double p[3][3], n[3][3], np[3][3], gcrs_to_tod[3][3], r[3][3];
	int rc;

	if (!isfinite(mjd_tai) || !isfinite(dut1_s) || fabs(dut1_s) > 10.0)
		return -EINVAL;
	if (mjd_tai > 88069.0)
		return -ERANGE;
	rc = astro_timescale_tai_utc_at_tai(mjd_tai, &dat);
	if (rc)
		return rc;
	day = floor(mjd_tai);
	frac = mjd_tai - day;
	in->jd_utc1 = MJD0 + day;
	in->jd_utc2 = frac - dat / 86400.0;
	in->gmst = eraGmst82(in->jd_utc1, in->jd_utc2 + dut1_s / 86400.0);

	/* Site into TEME: r_teme = Rz(-gmst) r_ecef. */
	eraIr(r);
	eraRz(-in->gmst, r);
	mat_vec(r, site->ecef_km, in->site_teme);

	eraTaitt(MJD0 + day, frac, &tt1, &tt2);
	eraNut80(tt1, tt2, &dpsi, &deps);
	eps0 = eraObl80(tt1, tt2);
	/*
	 * TEME's equinox is the true equinox less the 1982 equation of the
	 * equinoxes, dpsi cos(eps0): not eraEqeq94, whose 1994 Omega terms
	 * TEME (Vallado et al. 2006) does not include.
	 */
	eraIr(in->teme_to_tod);
	eraRz(-dpsi * cos(eps0), in->teme_to_tod);
	eraPmat76(tt1, tt2, p);		/* J2000 mean -> mean of date */
	eraNumat(eps0, dpsi, deps, n);	/* mean of date -> true of date */
	eraRxr(n, p, np);		/* GCRS -> true of date */
	eraTr(np, gcrs_to_tod);
	eraRxr(gcrs_to_tod, in->teme_to_tod, in->teme_to_gcrs);
	astro_frames_earth_velocity((tt1 - J2000 + tt2) / 36525.0, in->beta);
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

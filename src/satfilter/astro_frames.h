/*
 * astro_frames.h — time scales and the frame chain from SGP4's TEME to
 * topocentric RA/Dec for a ground site.
 *
 * Time: input is MJD in TAI.  UTC = TAI - (TAI-UTC) from the one
 * leap-second table (services/timescale.h: ERFA's, or the system's IERS
 * leap-seconds.list when newer).  UT1 = UTC + DUT1 with DUT1 given by the
 * caller (|DUT1| <= 0.9 s by IERS rule; 0 makes UT1 = UTC, an error of up
 * to 0.9 s of Earth rotation, 0.4 km at the site).  TT = TAI + 32.184 s.
 * Julian dates are kept in two parts so that SGP4's tsince keeps
 * microseconds.
 *
 * Chain (as sattle's successors and Vallado's TEME papers lay it out):
 *  1. site: WGS-84 geodetic (lat, lon, height) to Earth-fixed km;
 *  2. Earth-fixed to TEME by Rz(-GMST82(UT1)) (eraGmst82): the pseudo-Earth-fixed
 *     frame, i.e. polar motion neglected (<= 3" for LEO);
 *  3. rho = r_sat,TEME - r_site,TEME (geometric: no light time, which moves
 *     LEO <= ~5", and no aberration, as skyfield's .radec() on satellites);
 *  4. of date: Rz(-eqeq) takes TEME to the true equator and equinox of
 *     date, eqeq = dpsi cos(eps0) (IAU-82, without the 1994 Omega terms;
 *     dpsi from eraNut80, eps0 from eraObl80);
 *  5. GCRS: P^T N^T with IAU-76 precession (eraPmat76) and the full
 *     106-term IAU-80 nutation (eraNut80, eraNumat), all at TT.  Frame
 *     bias (0.02") is neglected, so GCRS is taken as ICRS.
 * Against skyfield 1.45 (IAU 2000A, GAST from ERA) the result agrees to
 * 0.05" (57 cases, LEO to GEO); the test suite checks it live.
 *
 * Sizes of what astro_frames_radec() leaves out, measured with skyfield for
 * an ISS-like orbit seen from the Rubin site above 20 deg altitude: light
 * time 4.1" median, 5.1" max; diurnal aberration <= 0.28" (stars get it
 * too, so it cancels against a sky-calibrated WCS); annual aberration
 * <= 20.5" (stars get it, a satellite in the geocentric frame does not).
 * astro_frames_radec_wcs() applies light time and that differential annual
 * aberration, for comparison with an image WCS fitted to catalogue stars.
 *
 * All functions are pure (no global state) and thread-safe.
 */
#ifndef ASTRO_FRAMES_H
#define ASTRO_FRAMES_H

/* A WGS-84 ground site. */
struct astro_frames_site {
	double lat_deg, lon_deg, height_m;
	double ecef_km[3];
};

/* 0, or -EINVAL for non-finite or out-of-range coordinates. */
int astro_frames_site_init(struct astro_frames_site *site, double lat_deg,
			   double lon_deg, double height_m);

/* Everything that depends only on the instant and the site. */
struct astro_frames_instant {
	double jd_utc1, jd_utc2;  /* UTC, for astro_sgp4_tsince() */
	double gmst;		  /* rad */
	double site_teme[3];	  /* km */
	double teme_to_tod[3][3]; /* Rz(-eqeq) */
	double teme_to_gcrs[3][3];
	double beta[3];		  /* Earth's barycentric velocity / c, GCRS axes */
};

/* 0, -ERANGE (before 1972 or after 2100) or -EINVAL (non-finite input). */
int astro_frames_instant_init(struct astro_frames_instant *in,
			      const struct astro_frames_site *site,
			      double mjd_tai, double dut1_s);

/* TEME to Earth-fixed (pseudo-Earth-fixed: no polar motion). */
void astro_frames_teme_to_ecef(double gmst, const double teme[3],
			       double ecef[3]);

/*
 * Topocentric geometric RA/Dec (degrees, RA in [0, 360)) of a TEME position.
 * of_date = 0: GCRS (~ICRS, what catalogues and the image WCS use);
 * of_date = 1: true equator and equinox of date.  range_km may be NULL.
 */
void astro_frames_radec(const struct astro_frames_instant *in,
			const double r_teme_km[3], int of_date,
			double *ra_deg, double *dec_deg, double *range_km);

/*
 * Where a satellite lands in the ICRS coordinates of an image WCS fitted to
 * catalogue stars: light-time corrected direction (first order in the
 * TEME velocity v_teme_kms, iterated once) minus Earth's v/c.  Degrees.
 */
void astro_frames_radec_wcs(const struct astro_frames_instant *in,
			    const double r_teme_km[3], const double v_teme_kms[3],
			    double *ra_deg, double *dec_deg);

/*
 * Earth's barycentric velocity (km/s, ICRS axes) at TT Julian centuries
 * from J2000: Keplerian orbit on the low-precision solar longitude (Meeus,
 * Astronomical Algorithms ch. 25); neglects the Earth-Moon and Sun-barycentre
 * motions (~0.03 km/s, 0.02" of aberration).
 */
void astro_frames_earth_velocity(double t_tt, double v_kms[3]);

#endif

/*
 * sgp4.h — SGP4/SDP4 orbit propagation of two-line element sets.
 *
 * Written from the published algorithm: Hoots & Roehrich, Spacetrack Report
 * No. 3 (1980), with the corrections of Vallado, Crawford, Hujsak & Kelso,
 * "Revisiting Spacetrack Report #3", AIAA 2006-6753.  Choices, all as in
 * that paper's reference implementation so that its verification set is
 * reproduced to 0.2 mm:
 *  - WGS-72 constants, with xke derived from mu (not the rounded 0.0743669161);
 *  - opsmode 'i' ("improved"): GMST at epoch by the IAU-82 formula, and in
 *    the Lyddane branch of the lunar-solar periodics (inclination < 0.2 rad)
 *    a negative node is not wrapped into [0, 2pi) as opsmode 'a' does;
 *  - deep space (SDP4) for periods >= 225 min, with the 720-minute fixed
 *    step resonance integrator restarted from epoch on every call;
 *  - Kepler's equation: at most 10 Newton steps, each clamped to 0.95 rad.
 *
 * Output is position (km) and velocity (km/s) in TEME, the "true equator,
 * mean equinox" frame of date that SGP4 mean elements are defined in
 * (astro_frames.h takes it on to the sky).  Time is minutes since the
 * element epoch; astro_sgp4_tsince() forms it from a two-part UTC Julian
 * date so that microseconds survive.
 *
 * Beyond the reference code: elements that are not finite or out of domain
 * are refused at init, |tsince| is bounded, and a result that would be NaN
 * or infinite (degenerate elements such as a denormal inclination) is
 * reported as error 1 instead of returned.
 *
 * Speed: ~3-3.7 M near-earth and ~1.7 M deep-space propagations/s on one
 * core of a 2-vCPU Xeon VM (build/astrofs-sgp4-bench, bench/sgp4.sh).
 *
 * Thread-safety: astro_sgp4_init() fills a record; afterwards the record is
 * only read, so any number of threads may propagate the same record at
 * once.  astro_sgp4_propagate() never allocates and runs in bounded time:
 * |tsince| is limited to ASTRO_SGP4_MAX_TSINCE_MIN, which caps the deep-space
 * resonance integration at ~1.4e5 steps.
 */
#ifndef ASTRO_SGP4_H
#define ASTRO_SGP4_H

#include "services/tle.h"

/* Propagation results; 1..6 are Vallado's codes, with his meanings. */
enum astro_sgp4_error {
	ASTRO_SGP4_OK = 0,
	ASTRO_SGP4_ERR_MEAN_ELEMENTS = 1, /* mean e outside [-0.001, 1), or rejected input */
	ASTRO_SGP4_ERR_MEAN_MOTION = 2,	  /* mean motion <= 0 */
	ASTRO_SGP4_ERR_PERT_ELEMENTS = 3, /* perturbed e outside [0, 1] (deep space) */
	ASTRO_SGP4_ERR_SEMI_LATUS = 4,	  /* semi-latus rectum < 0 */
	ASTRO_SGP4_ERR_SUBORBITAL = 5,	  /* reserved: as in the reference code, never returned */
	ASTRO_SGP4_ERR_DECAYED = 6,	  /* radius < 1 Earth radius: the satellite has decayed;
					   * r and v are still written */
	ASTRO_SGP4_ERR_TIME = 7,	  /* tsince not finite or beyond the limit (astrofs) */
};

/* Bound on |tsince| in minutes (about 190 years). */
#define ASTRO_SGP4_MAX_TSINCE_MIN 1.0e8

/*
 * A satellite record.  The fields are private to sgp4.c; the struct is public
 * only so that callers can hold records by value (a catalogue is an array).
 */
struct astro_sgp4 {
	long catnum;
	double jdsatepoch, jdsatepochF; /* epoch, UTC Julian date split in two */
	int error;			/* nonzero: propagate always returns it */
	int deep;			/* SDP4 */
	int isimp;			/* perigee < 220 km: truncated drag terms */
	int irez;			/* 0 none, 1 one-day, 2 half-day resonance */

	/* mean elements at epoch (rad, rad/min) */
	double ecco, inclo, nodeo, argpo, mo, no, bstar;
	double gsto;

	/* near-earth */
	double aycof, con41, cc1, cc4, cc5, d2, d3, d4, delmo, eta, argpdot,
		omgcof, sinmao, t2cof, t3cof, t4cof, t5cof, x1mth2, x7thm1,
		mdot, nodedot, xlcof, xmcof, nodecf, cosio, sinio;

	/* deep space: lunar-solar periodics */
	struct astro_sgp4_body {
		double e2, e3, i2, i3, l2, l3, l4, gh2, gh3, gh4, h2, h3;
	} sun, moon;
	double zmol, zmos;
	/* deep space: secular rates and resonance */
	double dedt, didt, dmdt, dnodt, domdt, del1, del2, del3, d2201, d2211,
		d3210, d3222, d4410, d4422, d5220, d5232, d5421, d5433, xfact,
		xlamo;
};

/*
 * Initialise a record from parsed elements (angles in degrees and mean
 * motion in rev/day, as in the TLE).  Returns 0, or -EINVAL when the
 * elements are not finite or out of domain (e outside [0, 1), mean motion
 * <= 0 or absurd, inclination outside [0, 180] deg, epoch outside 1900-2100)
 * or when propagation at epoch already fails.  A rejected record is still
 * safe to propagate: every call returns its error code (the epoch failure,
 * or ASTRO_SGP4_ERR_MEAN_ELEMENTS for rejected input).
 */
int astro_sgp4_init(struct astro_sgp4 *s, const struct astro_tle_elements *el);

/*
 * Position (km) and velocity (km/s), TEME, tsince_min minutes after the
 * element epoch.  Returns ASTRO_SGP4_OK or an enum astro_sgp4_error code;
 * on any error other than ASTRO_SGP4_ERR_DECAYED the outputs are set to NaN.
 */
int astro_sgp4_propagate(const struct astro_sgp4 *s, double tsince_min,
			 double r_km[3], double v_kms[3]);

/* Minutes since epoch of a UTC Julian date given in two parts (jd1 + jd2). */
double astro_sgp4_tsince(const struct astro_sgp4 *s, double jd1, double jd2);

#endif

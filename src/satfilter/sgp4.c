/*
 * sgp4.c — SGP4/SDP4 (see sgp4.h for the sources and the choices made).
 *
 * Variable names follow the papers (Spacetrack Report #3 and AIAA 2006-6753)
 * so that each line can be checked against the equations there.  Units are
 * Earth radii and minutes inside; km and km/s only at the output.
 *
 * Hand-written on purpose: Vallado's reference SGP4 is C++ only (Debian
 * ships it inside python3-sgp4, not as a library) and Debian has no C SGP4
 * library, so there is nothing better to link.  Sidereal time comes from
 * ERFA (eraGmst82), as in the frames.
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <erfa.h>

#include "sgp4.h"

#define TWOPI (2.0 * M_PI)
#define X2O3 (2.0 / 3.0)
#define DEG2RAD (M_PI / 180.0)

/* WGS-72, the constants the element sets are fitted with. */
#define MU 398600.8		  /* km^3/s^2 */
#define RE 6378.135		  /* km */
#define J2 0.001082616
#define J3 (-0.00000253881)
#define J4 (-0.00000165597)
#define J3OJ2 (J3 / J2)

/* Epoch of the deep-space lunar-solar theory: days since 1950 Jan 0.0. */
#define JD_1950 2433281.5

/* Earth's rotation rate, rad/min. */
#define RPTIM 4.37526908801129966e-3

/* xke = sqrt(mu / RE^3) in 1/min; derived, never rounded (Vallado's fix). */
static double xke(void)
{
	return 60.0 / sqrt(RE * RE * RE / MU);
}

/* Per perturbing body (Sun, Moon): the coefficients of the report. */
struct body_terms {
	double s1, s2, s3, s4, s5, s6, s7;
	double z1, z2, z3, z11, z12, z13, z21, z22, z23, z31, z32, z33;
};

/* Intermediate results of the deep-space common terms, used at init only. */
struct dscom {
	double snodm, cnodm, sinim, cosim, sinomm, cosomm, emsq, rtemsq, day,
		gam;
	struct body_terms sun, moon;
};

/* Periodic coefficients of one body; ze is its orbit's eccentricity. */
static void body_periodics(const struct body_terms *b, double emsq, double ze,
			   struct astro_sgp4_body *o)
{
	o->e2 = 2.0 * b->s1 * b->s6;
	o->e3 = 2.0 * b->s1 * b->s7;
	o->i2 = 2.0 * b->s2 * b->z12;
	o->i3 = 2.0 * b->s2 * (b->z13 - b->z11);
	o->l2 = -2.0 * b->s3 * b->z2;
	o->l3 = -2.0 * b->s3 * (b->z3 - b->z1);
	o->l4 = -2.0 * b->s3 * (-21.0 - 9.0 * emsq) * ze;
	o->gh2 = 2.0 * b->s4 * b->z32;
	o->gh3 = 2.0 * b->s4 * (b->z33 - b->z31);
	o->gh4 = -18.0 * b->s4 * ze;
	o->h2 = -2.0 * b->s2 * b->z22;
	o->h3 = -2.0 * b->s2 * (b->z23 - b->z21);
}

/* Lunar and solar geometry at epoch and the periodic coefficients. */
static void deep_common(struct astro_sgp4 *s, double epoch, struct dscom *c)
{
	const double zes = 0.01675, zel = 0.05490;
	const double c1ss = 2.9864797e-6, c1l = 4.7968065e-7;
	const double zsinis = 0.39785416, zcosis = 0.91744867;
	const double zcosgs = 0.1945905, zsings = -0.98088458;
	double xnodce, stem, ctem, zcosil, zsinil, zsinhl, zcoshl, zx, zy;
	double zcosgl, zsingl, zcosg, zsing, zcosi, zsini, zcosh, zsinh, cc;
	double em = s->ecco, betasq, xnoi;

	c->snodm = sin(s->nodeo);
	c->cnodm = cos(s->nodeo);
	c->sinomm = sin(s->argpo);
	c->cosomm = cos(s->argpo);
	c->sinim = sin(s->inclo);
	c->cosim = cos(s->inclo);
	c->emsq = em * em;
	betasq = 1.0 - c->emsq;
	c->rtemsq = sqrt(betasq);

	c->day = epoch + 18261.5;
	xnodce = fmod(4.5236020 - 9.2422029e-4 * c->day, TWOPI);
	stem = sin(xnodce);
	ctem = cos(xnodce);
	zcosil = 0.91375164 - 0.03568096 * ctem;
	zsinil = sqrt(1.0 - zcosil * zcosil);
	zsinhl = 0.089683511 * stem / zsinil;
	zcoshl = sqrt(1.0 - zsinhl * zsinhl);
	c->gam = 5.8351514 + 0.0019443680 * c->day;
	zx = 0.39785416 * stem / zsinil;
	zy = zcoshl * ctem + 0.91744867 * zsinhl * stem;
	zx = atan2(zx, zy);
	zx = c->gam + zx - xnodce;
	zcosgl = cos(zx);
	zsingl = sin(zx);

	/* First pass: the Sun; second pass: the Moon. */
	zcosg = zcosgs;
	zsing = zsings;
	zcosi = zcosis;
	zsini = zsinis;
	zcosh = c->cnodm;
	zsinh = c->snodm;
	cc = c1ss;
	xnoi = 1.0 / s->no;
	for (int pass = 0; pass < 2; pass++) {
		double a1 = zcosg * zcosh + zsing * zcosi * zsinh;
		double a3 = -zsing * zcosh + zcosg * zcosi * zsinh;
		double a7 = -zcosg * zsinh + zsing * zcosi * zcosh;
		double a8 = zsing * zsini;
		double a9 = zsing * zsinh + zcosg * zcosi * zcosh;
		double a10 = zcosg * zsini;
		double a2 = c->cosim * a7 + c->sinim * a8;
		double a4 = c->cosim * a9 + c->sinim * a10;
		double a5 = -c->sinim * a7 + c->cosim * a8;
		double a6 = -c->sinim * a9 + c->cosim * a10;
		double x1 = a1 * c->cosomm + a2 * c->sinomm;
		double x2 = a3 * c->cosomm + a4 * c->sinomm;
		double x3 = -a1 * c->sinomm + a2 * c->cosomm;
		double x4 = -a3 * c->sinomm + a4 * c->cosomm;
		double x5 = a5 * c->sinomm;
		double x6 = a6 * c->sinomm;
		double x7 = a5 * c->cosomm;
		double x8 = a6 * c->cosomm;
		double emsq = c->emsq;
		double z31 = 12.0 * x1 * x1 - 3.0 * x3 * x3;
		double z32 = 24.0 * x1 * x2 - 6.0 * x3 * x4;
		double z33 = 12.0 * x2 * x2 - 3.0 * x4 * x4;
		double z1 = 3.0 * (a1 * a1 + a2 * a2) + z31 * emsq;
		double z2 = 6.0 * (a1 * a3 + a2 * a4) + z32 * emsq;
		double z3 = 3.0 * (a3 * a3 + a4 * a4) + z33 * emsq;
		double z11 = -6.0 * a1 * a5 + emsq * (-24.0 * x1 * x7 - 6.0 * x3 * x5);
		double z12 = -6.0 * (a1 * a6 + a3 * a5) +
			     emsq * (-24.0 * (x2 * x7 + x1 * x8) - 6.0 * (x3 * x6 + x4 * x5));
		double z13 = -6.0 * a3 * a6 + emsq * (-24.0 * x2 * x8 - 6.0 * x4 * x6);
		double z21 = 6.0 * a2 * a5 + emsq * (24.0 * x1 * x5 - 6.0 * x3 * x7);
		double z22 = 6.0 * (a4 * a5 + a2 * a6) +
			     emsq * (24.0 * (x2 * x5 + x1 * x6) - 6.0 * (x4 * x7 + x3 * x8));
		double z23 = 6.0 * a4 * a6 + emsq * (24.0 * x2 * x6 - 6.0 * x4 * x8);
		double s3 = cc * xnoi;
		double s2 = -0.5 * s3 / c->rtemsq;
		double s4 = s3 * c->rtemsq;
		double s1 = -15.0 * em * s4;
		double s5 = x1 * x3 + x2 * x4;
		double s6 = x2 * x3 + x1 * x4;
		double s7 = x2 * x4 - x1 * x3;

		struct body_terms *o = pass == 0 ? &c->sun : &c->moon;

		o->z1 = z1 + z1 + betasq * z31;
		o->z2 = z2 + z2 + betasq * z32;
		o->z3 = z3 + z3 + betasq * z33;
		o->z11 = z11; o->z12 = z12; o->z13 = z13;
		o->z21 = z21; o->z22 = z22; o->z23 = z23;
		o->z31 = z31; o->z32 = z32; o->z33 = z33;
		o->s1 = s1; o->s2 = s2; o->s3 = s3; o->s4 = s4;
		o->s5 = s5; o->s6 = s6; o->s7 = s7;
		/* the Moon's orbit, for the second pass */
		zcosg = zcosgl;
		zsing = zsingl;
		zcosi = zcosil;
		zsini = zsinil;
		zcosh = zcoshl * c->cnodm + zsinhl * c->snodm;
		zsinh = c->snodm * zcoshl - c->cnodm * zsinhl;
		cc = c1l;
	}

	s->zmol = fmod(4.7199672 + 0.22997150 * c->day - c->gam, TWOPI);
	s->zmos = fmod(6.2565837 + 0.017201977 * c->day, TWOPI);

	body_periodics(&c->sun, c->emsq, zes, &s->sun);
	body_periodics(&c->moon, c->emsq, zel, &s->moon);
}

struct rates {
	double e, i, m, gh, h;
};

/* Secular rates caused by one body; zn is its mean motion (rad/min). */
static void body_secular(const struct body_terms *b, double emsq, double zn,
			 struct rates *o)
{
	o->e = b->s1 * zn * b->s5;
	o->i = b->s2 * zn * (b->z11 + b->z13);
	o->m = -zn * b->s3 * (b->z1 + b->z3 - 14.0 - 6.0 * emsq);
	o->gh = b->s4 * zn * (b->z31 + b->z33 - 6.0);
	o->h = -zn * b->s2 * (b->z21 + b->z23);
}

/* Secular lunar-solar rates and the resonance coefficients. */
static void deep_init(struct astro_sgp4 *s, const struct dscom *c,
		      double xpidot)
{
	const double q22 = 1.7891679e-6, q31 = 2.1460748e-6, q33 = 2.2123015e-7;
	const double root22 = 1.7891679e-6, root44 = 7.3636953e-9;
	const double root54 = 2.1765803e-9, root32 = 3.7393792e-7;
	const double root52 = 1.1428639e-7;
	const double znl = 1.5835218e-4, zns = 1.19459e-5;
	/* near-equatorial: the node rate is singular, leave it alone */
	const double incl_eps = 5.2359877e-2;
	double nm = s->no, em = s->ecco, emsq = c->emsq;
	double sinim = c->sinim, cosim = c->cosim;
	struct rates sun, moon;
	double shs, shll, theta, aonv;

	s->irez = 0;
	if (nm < 0.0052359877 && nm > 0.0034906585)
		s->irez = 1;
	if (nm >= 8.26e-3 && nm <= 9.24e-3 && em >= 0.5)
		s->irez = 2;

	body_secular(&c->sun, emsq, zns, &sun);
	body_secular(&c->moon, emsq, znl, &moon);
	shs = sun.h;
	shll = moon.h;
	if (s->inclo < incl_eps || s->inclo > M_PI - incl_eps)
		shs = shll = 0.0;
	if (sinim != 0.0)
		shs = shs / sinim;
	s->dedt = sun.e + moon.e;
	s->didt = sun.i + moon.i;
	s->dmdt = sun.m + moon.m;
	s->domdt = sun.gh - cosim * shs + moon.gh;
	s->dnodt = shs;
	if (sinim != 0.0) {
		s->domdt = s->domdt - cosim / sinim * shll;
		s->dnodt = s->dnodt + shll / sinim;
	}

	if (s->irez == 0)
		return;
	theta = fmod(s->gsto, TWOPI);
	aonv = pow(nm / xke(), X2O3);
	if (s->irez == 2) {
		/* half-day orbits (Molniya): tesseral harmonics to degree 5 */
		double cosisq = cosim * cosim, eoc = em * emsq;
		double g201 = -0.306 - (em - 0.64) * 0.440;
		double g211, g310, g322, g410, g422, g520, g521, g532, g533;
		double sini2, f220, f221, f321, f322, f441, f442, f522, f523,
			f542, f543, xno2, ainv2, temp, temp1;

		if (em <= 0.65) {
			g211 = 3.616 - 13.2470 * em + 16.2900 * emsq;
			g310 = -19.302 + 117.3900 * em - 228.4190 * emsq + 156.5910 * eoc;
			g322 = -18.9068 + 109.7927 * em - 214.6334 * emsq + 146.5816 * eoc;
			g410 = -41.122 + 242.6940 * em - 471.0940 * emsq + 313.9530 * eoc;
			g422 = -146.407 + 841.8800 * em - 1629.014 * emsq + 1083.4350 * eoc;
			g520 = -532.114 + 3017.977 * em - 5740.032 * emsq + 3708.2760 * eoc;
		} else {
			g211 = -72.099 + 331.819 * em - 508.738 * emsq + 266.724 * eoc;
			g310 = -346.844 + 1582.851 * em - 2415.925 * emsq + 1246.113 * eoc;
			g322 = -342.585 + 1554.908 * em - 2366.899 * emsq + 1215.972 * eoc;
			g410 = -1052.797 + 4758.686 * em - 7193.992 * emsq + 3651.957 * eoc;
			g422 = -3581.690 + 16178.110 * em - 24462.770 * emsq + 12422.520 * eoc;
			if (em > 0.715)
				g520 = -5149.66 + 29936.92 * em - 54087.36 * emsq + 31324.56 * eoc;
			else
				g520 = 1464.74 - 4664.75 * em + 3763.64 * emsq;
		}
		if (em < 0.7) {
			g533 = -919.22770 + 4988.6100 * em - 9064.7700 * emsq + 5542.21 * eoc;
			g521 = -822.71072 + 4568.6173 * em - 8491.4146 * emsq + 5337.524 * eoc;
			g532 = -853.66600 + 4690.2500 * em - 8624.7700 * emsq + 5341.4 * eoc;
		} else {
			g533 = -37995.780 + 161616.52 * em - 229838.20 * emsq + 109377.94 * eoc;
			g521 = -51752.104 + 218913.95 * em - 309468.16 * emsq + 146349.42 * eoc;
			g532 = -40023.880 + 170470.89 * em - 242699.48 * emsq + 115605.82 * eoc;
		}
		sini2 = sinim * sinim;
		f220 = 0.75 * (1.0 + 2.0 * cosim + cosisq);
		f221 = 1.5 * sini2;
		f321 = 1.875 * sinim * (1.0 - 2.0 * cosim - 3.0 * cosisq);
		f322 = -1.875 * sinim * (1.0 + 2.0 * cosim - 3.0 * cosisq);
		f441 = 35.0 * sini2 * f220;
		f442 = 39.3750 * sini2 * sini2;
		f522 = 9.84375 * sinim *
		       (sini2 * (1.0 - 2.0 * cosim - 5.0 * cosisq) +
			0.33333333 * (-2.0 + 4.0 * cosim + 6.0 * cosisq));
		f523 = sinim * (4.92187512 * sini2 * (-2.0 - 4.0 * cosim + 10.0 * cosisq) +
				6.56250012 * (1.0 + 2.0 * cosim - 3.0 * cosisq));
		f542 = 29.53125 * sinim *
		       (2.0 - 8.0 * cosim + cosisq * (-12.0 + 8.0 * cosim + 10.0 * cosisq));
		f543 = 29.53125 * sinim *
		       (-2.0 - 8.0 * cosim + cosisq * (12.0 + 8.0 * cosim - 10.0 * cosisq));
		xno2 = nm * nm;
		ainv2 = aonv * aonv;
		temp1 = 3.0 * xno2 * ainv2;
		temp = temp1 * root22;
		s->d2201 = temp * f220 * g201;
		s->d2211 = temp * f221 * g211;
		temp1 = temp1 * aonv;
		temp = temp1 * root32;
		s->d3210 = temp * f321 * g310;
		s->d3222 = temp * f322 * g322;
		temp1 = temp1 * aonv;
		temp = 2.0 * temp1 * root44;
		s->d4410 = temp * f441 * g410;
		s->d4422 = temp * f442 * g422;
		temp1 = temp1 * aonv;
		temp = temp1 * root52;
		s->d5220 = temp * f522 * g520;
		s->d5232 = temp * f523 * g532;
		temp = 2.0 * temp1 * root54;
		s->d5421 = temp * f542 * g521;
		s->d5433 = temp * f543 * g533;
		s->xlamo = fmod(s->mo + s->nodeo + s->nodeo - theta - theta, TWOPI);
		s->xfact = s->mdot + s->dmdt +
			   2.0 * (s->nodedot + s->dnodt - RPTIM) - s->no;
	} else {
		/* one-day orbits (geosynchronous) */
		double g200 = 1.0 + emsq * (-2.5 + 0.8125 * emsq);
		double g310 = 1.0 + 2.0 * emsq;
		double g300 = 1.0 + emsq * (-6.0 + 6.60937 * emsq);
		double f220 = 0.75 * (1.0 + cosim) * (1.0 + cosim);
		double f311 = 0.9375 * sinim * sinim * (1.0 + 3.0 * cosim) -
			      0.75 * (1.0 + cosim);
		double f330 = 1.0 + cosim;
		double del1;

		f330 = 1.875 * f330 * f330 * f330;
		del1 = 3.0 * nm * nm * aonv * aonv;
		s->del2 = 2.0 * del1 * f220 * g200 * q22;
		s->del3 = 3.0 * del1 * f330 * g300 * q33 * aonv;
		s->del1 = del1 * f311 * g310 * q31 * aonv;
		s->xlamo = fmod(s->mo + s->nodeo + s->argpo - theta, TWOPI);
		s->xfact = s->mdot + xpidot - RPTIM + s->dmdt + s->domdt +
			   s->dnodt - s->no;
	}
}

/*
 * Secular lunar-solar effects and resonance at time t: updates the mean
 * elements in place.  The resonance integrator always restarts at epoch
 * (the reference code caches its state in the record, which would make the
 * record mutable; restarting takes the same steps, so the result is equal).
 */
static void deep_secular(const struct astro_sgp4 *s, double t, double *em,
			 double *argpm, double *inclm, double *mm,
			 double *nodem, double *nm)
{
	const double fasx2 = 0.13130908, fasx4 = 2.8843198, fasx6 = 0.37448087;
	const double g22 = 5.7686396, g32 = 0.95240898, g44 = 1.8014998;
	const double g52 = 1.0508330, g54 = 4.4108898;
	const double stepp = 720.0, stepn = -720.0, step2 = 259200.0;
	double theta, xli, xni, atime, delt, ft, xndt, xldot, xnddt, xl;

	theta = fmod(s->gsto + t * RPTIM, TWOPI);
	*em += s->dedt * t;
	*inclm += s->didt * t;
	*argpm += s->domdt * t;
	*nodem += s->dnodt * t;
	*mm += s->dmdt * t;
	if (s->irez == 0)
		return;

	xli = s->xlamo;
	xni = s->no;
	atime = 0.0;
	delt = t >= 0.0 ? stepp : stepn;
	/* |t| <= ASTRO_SGP4_MAX_TSINCE_MIN bounds this loop (checked by caller) */
	for (;;) {
		if (s->irez != 2) {
			xndt = s->del1 * sin(xli - fasx2) +
			       s->del2 * sin(2.0 * (xli - fasx4)) +
			       s->del3 * sin(3.0 * (xli - fasx6));
			xldot = xni + s->xfact;
			xnddt = s->del1 * cos(xli - fasx2) +
				2.0 * s->del2 * cos(2.0 * (xli - fasx4)) +
				3.0 * s->del3 * cos(3.0 * (xli - fasx6));
			xnddt *= xldot;
		} else {
			double xomi = s->argpo + s->argpdot * atime;
			double x2omi = xomi + xomi, x2li = xli + xli;

			xndt = s->d2201 * sin(x2omi + xli - g22) +
			       s->d2211 * sin(xli - g22) +
			       s->d3210 * sin(xomi + xli - g32) +
			       s->d3222 * sin(-xomi + xli - g32) +
			       s->d4410 * sin(x2omi + x2li - g44) +
			       s->d4422 * sin(x2li - g44) +
			       s->d5220 * sin(xomi + xli - g52) +
			       s->d5232 * sin(-xomi + xli - g52) +
			       s->d5421 * sin(xomi + x2li - g54) +
			       s->d5433 * sin(-xomi + x2li - g54);
			xldot = xni + s->xfact;
			xnddt = s->d2201 * cos(x2omi + xli - g22) +
				s->d2211 * cos(xli - g22) +
				s->d3210 * cos(xomi + xli - g32) +
				s->d3222 * cos(-xomi + xli - g32) +
				s->d5220 * cos(xomi + xli - g52) +
				s->d5232 * cos(-xomi + xli - g52) +
				2.0 * (s->d4410 * cos(x2omi + x2li - g44) +
				       s->d4422 * cos(x2li - g44) +
				       s->d5421 * cos(xomi + x2li - g54) +
				       s->d5433 * cos(-xomi + x2li - g54));
			xnddt *= xldot;
		}
		if (fabs(t - atime) < stepp) {
			ft = t - atime;
			break;
		}
		xli = xli + xldot * delt + xndt * step2;
		xni = xni + xndt * delt + xnddt * step2;
		atime += delt;
	}
	*nm = xni + xndt * ft + xnddt * ft * ft * 0.5;
	xl = xli + xldot * ft + xndt * ft * ft * 0.5;
	if (s->irez != 1)
		*mm = xl - 2.0 * *nodem + 2.0 * theta;
	else
		*mm = xl - *nodem - *argpm + theta;
}

/* One body's periodic terms at its mean anomaly zm (ze: its eccentricity). */
static void body_periodic_at(const struct astro_sgp4_body *b, double zm,
			     double ze, struct rates *o)
{
	double zf = zm + 2.0 * ze * sin(zm);
	double sinzf = sin(zf);
	double f2 = 0.5 * sinzf * sinzf - 0.25;
	double f3 = -0.5 * sinzf * cos(zf);

	o->e = b->e2 * f2 + b->e3 * f3;
	o->i = b->i2 * f2 + b->i3 * f3;
	o->m = b->l2 * f2 + b->l3 * f3 + b->l4 * sinzf;
	o->gh = b->gh2 * f2 + b->gh3 * f3 + b->gh4 * sinzf;
	o->h = b->h2 * f2 + b->h3 * f3;
}

/* Lunar-solar periodics at time t, applied to the osculating elements. */
static void deep_periodic(const struct astro_sgp4 *s, double t, double *ep,
			  double *inclp, double *nodep, double *argpp,
			  double *mp)
{
	const double zns = 1.19459e-5, zes = 0.01675;
	const double znl = 1.5835218e-4, zel = 0.05490;
	struct rates sun, moon;
	double pe, pinc, pl, pgh, ph, sinip, cosip;

	body_periodic_at(&s->sun, s->zmos + zns * t, zes, &sun);
	body_periodic_at(&s->moon, s->zmol + znl * t, zel, &moon);
	/* The values at epoch (peo, pinco, ...) are zero in the 2006 theory. */
	pe = sun.e + moon.e;
	pinc = sun.i + moon.i;
	pl = sun.m + moon.m;
	pgh = sun.gh + moon.gh;
	ph = sun.h + moon.h;

	*inclp += pinc;
	*ep += pe;
	sinip = sin(*inclp);
	cosip = cos(*inclp);
	if (*inclp >= 0.2) {
		ph /= sinip;
		pgh -= cosip * ph;
		*argpp += pgh;
		*nodep += ph;
		*mp += pl;
	} else {
		/* Lyddane's form avoids the 1/sin(i) singularity at low i. */
		double sinop = sin(*nodep), cosop = cos(*nodep);
		double alfdp = sinip * sinop, betdp = sinip * cosop;
		double dalf = ph * cosop + pinc * cosip * sinop;
		double dbet = -ph * sinop + pinc * cosip * cosop;
		double xls, dls, xnoh;

		alfdp += dalf;
		betdp += dbet;
		/* opsmode 'i': no shift of a negative node into [0, 2pi) */
		*nodep = fmod(*nodep, TWOPI);
		xls = *mp + *argpp + cosip * *nodep;
		dls = pl + pgh - pinc * *nodep * sinip;
		xls += dls;
		xnoh = *nodep;
		*nodep = atan2(alfdp, betdp);
		if (fabs(xnoh - *nodep) > M_PI) {
			if (*nodep < xnoh)
				*nodep += TWOPI;
			else
				*nodep -= TWOPI;
		}
		*mp += pl;
		*argpp = xls - *mp - cosip * *nodep;
	}
}

static int bad_elements(const struct astro_tle_elements *el)
{
	const double v[] = { el->jdsatepoch, el->jdsatepochF, el->bstar,
			     el->inclo_deg, el->nodeo_deg, el->argpo_deg,
			     el->mo_deg, el->ecco, el->no_revs_per_day };
	double jd;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (!isfinite(v[i]))
			return 1;
	jd = el->jdsatepoch + el->jdsatepochF;
	/* The lunar-solar theory and GMST are only meant for nearby epochs. */
	if (jd < 2415020.5 || jd > 2488069.5)
		return 1;
	if (el->ecco < 0.0 || el->ecco >= 1.0)
		return 1;
	/* Above 20 rev/day the orbit lies inside the Earth. */
	if (el->no_revs_per_day <= 0.0 || el->no_revs_per_day > 20.0)
		return 1;
	if (el->inclo_deg < 0.0 || el->inclo_deg > 180.0)
		return 1;
	/* The angles come from 8-column fields; larger ones are not TLEs. */
	if (fabs(el->nodeo_deg) > 1e4 || fabs(el->argpo_deg) > 1e4 ||
	    fabs(el->mo_deg) > 1e4 || fabs(el->bstar) > 1e3)
		return 1;
	return 0;
}

int astro_sgp4_init(struct astro_sgp4 *s, const struct astro_tle_elements *el)
{
	const double ke = xke();
	double epoch, eccsq, omeosq, rteosq, cosio2, ak, d1, del, adel, ao, po,
		con42, posq, rp, ss, qzms2t, sfour, qzms24, perige, pinvsq, tsi,
		eta, etasq, eeta, psisq, coef, coef1, cc2, cc3, cosio4, temp1,
		temp2, temp3, xhdot1, xpidot;
	double r[3], v[3];
	int rc;

	memset(s, 0, sizeof(*s));
	s->catnum = el->catnum;
	s->jdsatepoch = el->jdsatepoch;
	s->jdsatepochF = el->jdsatepochF;
	if (bad_elements(el)) {
		s->error = ASTRO_SGP4_ERR_MEAN_ELEMENTS;
		return -EINVAL;
	}
	s->bstar = el->bstar;
	s->ecco = el->ecco;
	s->inclo = el->inclo_deg * DEG2RAD;
	s->nodeo = el->nodeo_deg * DEG2RAD;
	s->argpo = el->argpo_deg * DEG2RAD;
	s->mo = el->mo_deg * DEG2RAD;
	s->no = el->no_revs_per_day / (1440.0 / TWOPI); /* Kozai, rad/min */
	epoch = el->jdsatepoch + el->jdsatepochF - JD_1950;

	/* Recover the Brouwer mean motion from the Kozai one in the TLE. */
	eccsq = s->ecco * s->ecco;
	omeosq = 1.0 - eccsq;
	rteosq = sqrt(omeosq);
	s->cosio = cos(s->inclo);
	cosio2 = s->cosio * s->cosio;
	ak = pow(ke / s->no, X2O3);
	d1 = 0.75 * J2 * (3.0 * cosio2 - 1.0) / (rteosq * omeosq);
	del = d1 / (ak * ak);
	adel = ak * (1.0 - del * del - del * (1.0 / 3.0 + 134.0 * del * del / 81.0));
	del = d1 / (adel * adel);
	s->no = s->no / (1.0 + del);

	ao = pow(ke / s->no, X2O3);
	s->sinio = sin(s->inclo);
	po = ao * omeosq;
	con42 = 1.0 - 5.0 * cosio2;
	s->con41 = -con42 - cosio2 - cosio2;
	posq = po * po;
	rp = ao * (1.0 - s->ecco);
	/* opsmode 'i': IAU-82 GMST at epoch, UT1 taken as UTC */
	s->gsto = eraGmst82(el->jdsatepoch, el->jdsatepochF);

	/* Atmospheric density parameters s and (q0 - s)^4, adjusted for
	 * low perigees as the report prescribes. */
	ss = 78.0 / RE + 1.0;
	qzms2t = pow((120.0 - 78.0) / RE, 4.0);
	s->isimp = rp < 220.0 / RE + 1.0;
	sfour = ss;
	qzms24 = qzms2t;
	perige = (rp - 1.0) * RE;
	if (perige < 156.0) {
		sfour = perige - 78.0;
		if (perige < 98.0)
			sfour = 20.0;
		qzms24 = pow((120.0 - sfour) / RE, 4.0);
		sfour = sfour / RE + 1.0;
	}
	pinvsq = 1.0 / posq;
	tsi = 1.0 / (ao - sfour);
	eta = ao * s->ecco * tsi;
	s->eta = eta;
	etasq = eta * eta;
	eeta = s->ecco * eta;
	psisq = fabs(1.0 - etasq);
	coef = qzms24 * pow(tsi, 4.0);
	coef1 = coef / pow(psisq, 3.5);
	cc2 = coef1 * s->no *
	      (ao * (1.0 + 1.5 * etasq + eeta * (4.0 + etasq)) +
	       0.375 * J2 * tsi / psisq * s->con41 * (8.0 + 3.0 * etasq * (8.0 + etasq)));
	s->cc1 = s->bstar * cc2;
	cc3 = 0.0;
	if (s->ecco > 1.0e-4)
		cc3 = -2.0 * coef * tsi * J3OJ2 * s->no * s->sinio / s->ecco;
	s->x1mth2 = 1.0 - cosio2;
	s->cc4 = 2.0 * s->no * coef1 * ao * omeosq *
		 (eta * (2.0 + 0.5 * etasq) + s->ecco * (0.5 + 2.0 * etasq) -
		  J2 * tsi / (ao * psisq) *
			  (-3.0 * s->con41 * (1.0 - 2.0 * eeta + etasq * (1.5 - 0.5 * eeta)) +
			   0.75 * s->x1mth2 * (2.0 * etasq - eeta * (1.0 + etasq)) *
				   cos(2.0 * s->argpo)));
	s->cc5 = 2.0 * coef1 * ao * omeosq *
		 (1.0 + 2.75 * (etasq + eeta) + eeta * etasq);
	cosio4 = cosio2 * cosio2;
	temp1 = 1.5 * J2 * pinvsq * s->no;
	temp2 = 0.5 * temp1 * J2 * pinvsq;
	temp3 = -0.46875 * J4 * pinvsq * pinvsq * s->no;
	s->mdot = s->no + 0.5 * temp1 * rteosq * s->con41 +
		  0.0625 * temp2 * rteosq * (13.0 - 78.0 * cosio2 + 137.0 * cosio4);
	s->argpdot = -0.5 * temp1 * con42 +
		     0.0625 * temp2 * (7.0 - 114.0 * cosio2 + 395.0 * cosio4) +
		     temp3 * (3.0 - 36.0 * cosio2 + 49.0 * cosio4);
	xhdot1 = -temp1 * s->cosio;
	s->nodedot = xhdot1 + (0.5 * temp2 * (4.0 - 19.0 * cosio2) +
			       2.0 * temp3 * (3.0 - 7.0 * cosio2)) * s->cosio;
	xpidot = s->argpdot + s->nodedot;
	s->omgcof = s->bstar * cc3 * cos(s->argpo);
	s->xmcof = 0.0;
	if (s->ecco > 1.0e-4)
		s->xmcof = -X2O3 * coef * s->bstar / eeta;
	s->nodecf = 3.5 * omeosq * xhdot1 * s->cc1;
	s->t2cof = 1.5 * s->cc1;
	/* 1 + cos(i) vanishes for retrograde equatorial orbits */
	if (fabs(s->cosio + 1.0) > 1.5e-12)
		s->xlcof = -0.25 * J3OJ2 * s->sinio * (3.0 + 5.0 * s->cosio) /
			   (1.0 + s->cosio);
	else
		s->xlcof = -0.25 * J3OJ2 * s->sinio * (3.0 + 5.0 * s->cosio) /
			   1.5e-12;
	s->aycof = -0.5 * J3OJ2 * s->sinio;
	s->delmo = pow(1.0 + eta * cos(s->mo), 3.0);
	s->sinmao = sin(s->mo);
	s->x7thm1 = 7.0 * cosio2 - 1.0;

	if (TWOPI / s->no >= 225.0) {
		struct dscom c = { 0 };

		s->deep = 1;
		s->isimp = 1;
		deep_common(s, epoch, &c);
		deep_init(s, &c, xpidot);
	}

	if (!s->isimp) {
		double cc1sq = s->cc1 * s->cc1, temp;

		s->d2 = 4.0 * ao * tsi * cc1sq;
		temp = s->d2 * tsi * s->cc1 / 3.0;
		s->d3 = (17.0 * ao + sfour) * temp;
		s->d4 = 0.5 * temp * ao * tsi * (221.0 * ao + 31.0 * sfour) * s->cc1;
		s->t3cof = s->d2 + 2.0 * cc1sq;
		s->t4cof = 0.25 * (3.0 * s->d3 + s->cc1 * (12.0 * s->d2 + 10.0 * cc1sq));
		s->t5cof = 0.2 * (3.0 * s->d4 + 12.0 * s->cc1 * s->d3 +
				  6.0 * s->d2 * s->d2 +
				  15.0 * cc1sq * (2.0 * s->d2 + cc1sq));
	}

	rc = astro_sgp4_propagate(s, 0.0, r, v);
	if (rc != ASTRO_SGP4_OK) {
		s->error = rc;
		return -EINVAL;
	}
	return 0;
}

static void set_nan(double r[3], double v[3])
{
	for (int i = 0; i < 3; i++)
		r[i] = v[i] = NAN;
}

int astro_sgp4_propagate(const struct astro_sgp4 *s, double t, double r[3],
			 double v[3])
{
	const double ke = xke();
	const double vkmpersec = RE * ke / 60.0;
	double xmdf, argpdf, nodedf, argpm, mm, t2, nodem, tempa, tempe, templ;
	double nm, em, inclm, am, xlm, ep, xincp, argpp, nodep, mp, sinip,
		cosip, aycof, xlcof, con41, x1mth2, x7thm1, axnl, aynl, xl, u,
		eo1, tem5, sineo1, coseo1, ecose, esine, el2, pl, rl, rdotl,
		rvdotl, betal, temp, temp1, temp2, sinu, cosu, su, sin2u, cos2u,
		mrt, xnode, xinc, mvt, rvdot, sinsu, cossu, snod, cnod, sini,
		cosi, xmx, xmy, ux, uy, uz, vx, vy, vz;

	if (s->error) {
		set_nan(r, v);
		return s->error;
	}
	if (!isfinite(t) || fabs(t) > ASTRO_SGP4_MAX_TSINCE_MIN) {
		set_nan(r, v);
		return ASTRO_SGP4_ERR_TIME;
	}

	/* Secular gravity and drag. */
	xmdf = s->mo + s->mdot * t;
	argpdf = s->argpo + s->argpdot * t;
	nodedf = s->nodeo + s->nodedot * t;
	argpm = argpdf;
	mm = xmdf;
	t2 = t * t;
	nodem = nodedf + s->nodecf * t2;
	tempa = 1.0 - s->cc1 * t;
	tempe = s->bstar * s->cc4 * t;
	templ = s->t2cof * t2;
	if (!s->isimp) {
		double delomg = s->omgcof * t;
		double delmtemp = 1.0 + s->eta * cos(xmdf);
		double delm = s->xmcof * (delmtemp * delmtemp * delmtemp - s->delmo);
		double t3 = t2 * t, t4 = t3 * t;

		temp = delomg + delm;
		mm = xmdf + temp;
		argpm = argpdf - temp;
		tempa = tempa - s->d2 * t2 - s->d3 * t3 - s->d4 * t4;
		tempe = tempe + s->bstar * s->cc5 * (sin(mm) - s->sinmao);
		templ = templ + s->t3cof * t3 + t4 * (s->t4cof + t * s->t5cof);
	}

	nm = s->no;
	em = s->ecco;
	inclm = s->inclo;
	if (s->deep)
		deep_secular(s, t, &em, &argpm, &inclm, &mm, &nodem, &nm);
	if (nm <= 0.0) {
		set_nan(r, v);
		return ASTRO_SGP4_ERR_MEAN_MOTION;
	}
	am = pow(ke / nm, X2O3) * tempa * tempa;
	nm = ke / (am * sqrt(am));	/* am^1.5; pow() is 10 % of the time */
	em = em - tempe;
	if (em >= 1.0 || em < -0.001 || !isfinite(em)) {
		set_nan(r, v);
		return ASTRO_SGP4_ERR_MEAN_ELEMENTS;
	}
	/* keeps 1/e terms finite */
	if (em < 1.0e-6)
		em = 1.0e-6;
	mm = mm + s->no * templ;
	xlm = mm + argpm + nodem;
	nodem = fmod(nodem, TWOPI);
	argpm = fmod(argpm, TWOPI);
	xlm = fmod(xlm, TWOPI);
	mm = fmod(xlm - argpm - nodem, TWOPI);

	ep = em;
	xincp = inclm;
	argpp = argpm;
	nodep = nodem;
	mp = mm;
	aycof = s->aycof;
	xlcof = s->xlcof;
	con41 = s->con41;
	x1mth2 = s->x1mth2;
	x7thm1 = s->x7thm1;
	if (s->deep) {
		double cosisq;

		deep_periodic(s, t, &ep, &xincp, &nodep, &argpp, &mp);
		if (xincp < 0.0) {
			xincp = -xincp;
			nodep += M_PI;
			argpp -= M_PI;
		}
		if (ep < 0.0 || ep > 1.0) {
			set_nan(r, v);
			return ASTRO_SGP4_ERR_PERT_ELEMENTS;
		}
		sinip = sin(xincp);
		cosip = cos(xincp);
		aycof = -0.5 * J3OJ2 * sinip;
		if (fabs(cosip + 1.0) > 1.5e-12)
			xlcof = -0.25 * J3OJ2 * sinip * (3.0 + 5.0 * cosip) / (1.0 + cosip);
		else
			xlcof = -0.25 * J3OJ2 * sinip * (3.0 + 5.0 * cosip) / 1.5e-12;
		cosisq = cosip * cosip;
		con41 = 3.0 * cosisq - 1.0;
		x1mth2 = 1.0 - cosisq;
		x7thm1 = 7.0 * cosisq - 1.0;
	} else {
		sinip = s->sinio;
		cosip = s->cosio;
	}

	/* Long-period periodics. */
	axnl = ep * cos(argpp);
	temp = 1.0 / (am * (1.0 - ep * ep));
	aynl = ep * sin(argpp) + temp * aycof;
	xl = mp + argpp + nodep + temp * xlcof * axnl;

	/* Kepler's equation for E + omega. */
	u = fmod(xl - nodep, TWOPI);
	eo1 = u;
	tem5 = 9999.9;
	sineo1 = coseo1 = 0.0;
	for (int ktr = 0; fabs(tem5) >= 1.0e-12 && ktr < 10; ktr++) {
		sineo1 = sin(eo1);
		coseo1 = cos(eo1);
		tem5 = 1.0 - coseo1 * axnl - sineo1 * aynl;
		tem5 = (u - aynl * coseo1 + axnl * sineo1 - eo1) / tem5;
		if (fabs(tem5) >= 0.95)
			tem5 = tem5 > 0.0 ? 0.95 : -0.95;
		eo1 += tem5;
	}

	/* Short-period periodics. */
	ecose = axnl * coseo1 + aynl * sineo1;
	esine = axnl * sineo1 - aynl * coseo1;
	el2 = axnl * axnl + aynl * aynl;
	pl = am * (1.0 - el2);
	if (pl < 0.0) {
		set_nan(r, v);
		return ASTRO_SGP4_ERR_SEMI_LATUS;
	}
	rl = am * (1.0 - ecose);
	rdotl = sqrt(am) * esine / rl;
	rvdotl = sqrt(pl) / rl;
	betal = sqrt(1.0 - el2);
	temp = esine / (1.0 + betal);
	sinu = am / rl * (sineo1 - aynl - axnl * temp);
	cosu = am / rl * (coseo1 - axnl + aynl * temp);
	su = atan2(sinu, cosu);
	sin2u = (cosu + cosu) * sinu;
	cos2u = 1.0 - 2.0 * sinu * sinu;
	temp = 1.0 / pl;
	temp1 = 0.5 * J2 * temp;
	temp2 = temp1 * temp;

	mrt = rl * (1.0 - 1.5 * temp2 * betal * con41) +
	      0.5 * temp1 * x1mth2 * cos2u;
	su = su - 0.25 * temp2 * x7thm1 * sin2u;
	xnode = nodep + 1.5 * temp2 * cosip * sin2u;
	xinc = xincp + 1.5 * temp2 * cosip * sinip * cos2u;
	mvt = rdotl - nm * temp1 * x1mth2 * sin2u / ke;
	rvdot = rvdotl + nm * temp1 * (x1mth2 * cos2u + 1.5 * con41) / ke;

	/* Orientation vectors. */
	sinsu = sin(su);
	cossu = cos(su);
	snod = sin(xnode);
	cnod = cos(xnode);
	sini = sin(xinc);
	cosi = cos(xinc);
	xmx = -snod * cosi;
	xmy = cnod * cosi;
	ux = xmx * sinsu + cnod * cossu;
	uy = xmy * sinsu + snod * cossu;
	uz = sini * sinsu;
	vx = xmx * cossu - cnod * sinsu;
	vy = xmy * cossu - snod * sinsu;
	vz = sini * cossu;

	r[0] = mrt * ux * RE;
	r[1] = mrt * uy * RE;
	r[2] = mrt * uz * RE;
	v[0] = (mvt * ux + rvdot * vx) * vkmpersec;
	v[1] = (mvt * uy + rvdot * vy) * vkmpersec;
	v[2] = (mvt * uz + rvdot * vz) * vkmpersec;

	/* Degenerate elements (e.g. a denormal inclination: cos/sin i is
	 * infinite in the node rate) surface only here, as NaN or inf. */
	if (!isfinite(r[0] + r[1] + r[2] + v[0] + v[1] + v[2])) {
		set_nan(r, v);
		return ASTRO_SGP4_ERR_MEAN_ELEMENTS;
	}
	if (mrt < 1.0)
		return ASTRO_SGP4_ERR_DECAYED;
	return ASTRO_SGP4_OK;
}

double astro_sgp4_tsince(const struct astro_sgp4 *s, double jd1, double jd2)
{
	/* Difference the big parts first so the fractions keep their bits. */
	return ((jd1 - s->jdsatepoch) + (jd2 - s->jdsatepochF)) * 1440.0;
}

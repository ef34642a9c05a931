/*
 * tlm_flatfmt — the floor for /telemetry's CSV: a minimal stand-alone program
 * that prints the same `date,secs,value` rows as <MSID>.csv from a flat file
 * of native (double CXC seconds, double value) pairs.  No archive, no FUSE,
 * no snapshot: only the formatting work, done about as cheaply as plain C
 * allows.  bench/telemetry.sh compiles it (cc -O2) and checks that its output
 * is byte-identical to the mount's before timing it.
 *
 *   tlm_flatfmt FLATFILE > out.csv
 *
 * Kept minimal on purpose: UTC = TT - 69.184 s holds from 2017-01-01 (the last
 * leap second) on, so earlier samples are refused rather than converted.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TT_MINUS_UTC_MS 69184LL			/* 37 s + 32.184 s since 2017 */
#define UNIX_MS_1998 883612800000LL		/* 1998-01-01T00:00:00 as a unix time */
#define FIRST_MS 599616069184LL			/* 2017-01-01T00:00:00 UTC in TT ms */
#define OUTBUF (1 << 20)

static const double p10[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static char *put_u64(uint64_t v, char *p)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put2(int v, char *p)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
	return p + 2;
}

/* The shortest decimal that reads back as x. */
static char *put_double(double x, char *p)
{
	double ax = fabs(x);

	if (x == 0) {
		if (signbit(x))
			*p++ = '-';
		*p++ = '0';
		return p;
	}
	if (ax >= 1e-5 && ax < 1e15) {
		for (int k = 0; k <= 22; k++) {
			double s = ax * p10[k];

			if (s >= 9007199254740992.0)
				break;
			for (double n = nearbyint(s) - 1; n <= nearbyint(s) + 1; n++) {
				uint64_t u = (uint64_t)n, ip = u, fp;
				char frac[24];
				int d = 0;

				if (n <= 0 || n / p10[k] != ax)
					continue;
				if (x < 0)
					*p++ = '-';
				for (int i = 0; i < k; i++)
					ip /= 10;
				p = put_u64(ip, p);
				if (k) {
					fp = u - ip * (uint64_t)p10[k];
					for (int i = 0; i < k; i++, fp /= 10)
						frac[d++] = (char)('0' + fp % 10);
					*p++ = '.';
					while (d)
						*p++ = frac[--d];
				}
				return p;
			}
		}
	}
	for (int prec = 1; prec <= 17; prec++) {
		int n = snprintf(p, 40, "%.*g", prec, x);

		if (strtod(p, NULL) == x || prec == 17)
			return p + n;
	}
	return p;
}

int main(int argc, char **argv)
{
	static double in[2 * 8192];
	char *out = malloc(OUTBUF), day[16] = "";
	int64_t cur_day = INT64_MIN;
	size_t got, used;
	FILE *f;

	if (argc != 2 || !out) {
		fprintf(stderr, "usage: tlm_flatfmt FLATFILE\n");
		return 2;
	}
	if (!(f = fopen(argv[1], "rb"))) {
		perror(argv[1]);
		return 1;
	}
	used = (size_t)snprintf(out, OUTBUF, "date,secs,value\n");
	while ((got = fread(in, 2 * sizeof(double), sizeof(in) / sizeof(in[0]) / 2, f)) > 0) {
		for (size_t i = 0; i < got; i++) {
			int64_t tt = llround(in[2 * i] * 1000.0), ums, dn, msd;
			char *p;

			if (tt < FIRST_MS) {
				fprintf(stderr, "tlm_flatfmt: sample %zu is before 2017\n", i);
				return 1;
			}
			ums = tt - TT_MINUS_UTC_MS + UNIX_MS_1998;
			dn = ums / 86400000;
			msd = ums % 86400000;
			if (dn != cur_day) {
				/* civil year of day number dn, then day of year */
				int y = 1970;
				int64_t d = dn;

				for (;;) {
					int len = (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 366 : 365;

					if (d < len)
						break;
					d -= len;
					y++;
				}
				snprintf(day, sizeof(day), "%04d:%03d:", y, (int)d + 1);
				cur_day = dn;
			}
			if (OUTBUF - used < 128) {
				fwrite(out, 1, used, stdout);
				used = 0;
			}
			p = out + used;
			memcpy(p, day, 9);
			p = put2((int)(msd / 3600000), p + 9);
			*p++ = ':';
			p = put2((int)(msd / 60000 % 60), p);
			*p++ = ':';
			p = put2((int)(msd / 1000 % 60), p);
			*p++ = '.';
			*p++ = (char)('0' + msd % 1000 / 100);
			p = put2((int)(msd % 100), p);
			*p++ = ',';
			/* CXC seconds, trailing zeros of the milliseconds trimmed */
			p = put_u64((uint64_t)(tt / 1000), p);
			if (tt % 1000) {
				int ms = (int)(tt % 1000), nd = 3;

				while (ms % 10 == 0) {
					ms /= 10;
					nd--;
				}
				*p++ = '.';
				for (int k = nd - 1; k >= 0; k--)
					p[k] = (char)('0' + ms % 10), ms /= 10;
				p += nd;
			}
			*p++ = ',';
			p = put_double(in[2 * i + 1], p);
			*p++ = '\n';
			used = (size_t)(p - out);
		}
	}
	fwrite(out, 1, used, stdout);
	fclose(f);
	free(out);
	return fflush(stdout) ? 1 : 0;
}

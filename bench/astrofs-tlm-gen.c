/*
 * astrofs-tlm-gen — synthetic telemetry for benchmarks: one MSID sampled at a
 * fixed rate, written as the ingest CSV of SPEC section 4.
 *
 *   astrofs-tlm-gen [--msid NAME] [--start DATE] [--count N] [--step-ms MS]
 *                   [--flat FILE] [-o FILE]
 *
 * Rows are `MSID,YYYY:DDD:hh:mm:ss.sss,value`, time-ascending from --start
 * (any form tlm_time parses; default 2024:001), --count samples (default one
 * year at 1 Hz) --step-ms apart in UTC.  Values look like a temperature: a
 * daily swing plus a random walk, in hundredths, so each is short text whose
 * double reads back to the same text.  The sequence is fixed (own xorshift,
 * fixed seed), so two runs give the same bytes.
 *
 * --flat FILE also writes the same samples as native-endian (double CXC
 * seconds, double value) pairs: the input of bench/tlm_flatfmt.c.
 *
 * Speed matters (it must not dominate a benchmark): the date text is built
 * once per UTC day and the clock part counted up by hand; rows go out
 * through one large buffer.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/astro.h"
#include "telemetry/tlm_fmt.h"
#include "telemetry/tlm_time.h"

#define OUTBUF (1 << 20)

struct gen {
	const char *msid;
	int64_t t0, count, step_us;
	FILE *csv, *flat;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: astrofs-tlm-gen [--msid NAME] [--start DATE] [--count N] [--step-ms MS]\n"
		   "                       [--flat FILE] [-o FILE]\n");
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* v hundredths as the shortest text of v / 100.0 (trailing zeros dropped). */
static size_t put_centi(int64_t v, char *buf)
{
	uint64_t mag = v < 0 ? (uint64_t)-v : (uint64_t)v;
	size_t n = 0;

	if (v < 0)
		buf[n++] = '-';
	n += astro_tlm_fmt_int((int64_t)(mag / 100), buf + n);
	if (mag % 100) {
		buf[n++] = '.';
		buf[n++] = (char)('0' + mag % 100 / 10);
		if (mag % 10)
			buf[n++] = (char)('0' + mag % 10);
	}
	return n;
}

static void put2(int v, char *p)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

/* "hh:mm:ss.sss," */
static size_t put_clock(const struct astro_tlm_utc *u, char *p)
{
	int ms = u->usec / 1000;

	put2(u->hour, p);
	p[2] = ':';
	put2(u->min, p + 3);
	p[5] = ':';
	put2(u->sec, p + 6);
	p[8] = '.';
	p[9] = (char)('0' + ms / 100);
	put2(ms % 100, p + 10);
	p[12] = ',';
	return 13;
}

static int parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < 0)
		return -EINVAL;
	*out = v;
	return 0;
}

static int generate(const struct gen *g)
{
	char *out = malloc(OUTBUF), day[ASTRO_TLM_TIME_BUF];
	size_t used = 0, daylen = 0;
	int64_t level = 1500, day_end = INT64_MIN;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	double pairs[2 * 4096];
	size_t npairs = 0;
	int rc = 0;

	if (!out)
		return -ENOMEM;
	used = (size_t)snprintf(out, OUTBUF, "msid,time,value\n");
	for (int64_t i = 0; i < g->count; i++) {
		int64_t t = g->t0 + i * g->step_us, centi;
		struct astro_tlm_utc u;
		size_t n;

		/* The day prefix "YYYY:DDD:" changes once a day; a leap second
		 * (sec 60) or any odd case takes the library's formatter. */
		if ((rc = astro_tlm_time_to_utc(t, &u)))
			goto out;
		if (t >= day_end || u.sec >= 60) {
			int64_t dn;

			daylen = astro_tlm_time_fmt_date(t, day) - 12;	/* keep "YYYY:DDD:" */
			if ((rc = astro_tlm_time_utc_day(t, &dn)) || (rc = astro_tlm_time_day_start(dn + 1, &day_end)))
				goto out;
		}
		/* daily swing of ±5 degrees plus a slow random walk */
		level += (int64_t)(xorshift(&seed) % 3) - 1;
		centi = level + (int64_t)lrint(500.0 * sin(2.0 * M_PI * (double)(u.hour * 3600 + u.min * 60 + u.sec) / 86400.0));

		if (OUTBUF - used < 256) {
			if (fwrite(out, 1, used, g->csv) != used) {
				rc = -EIO;
				goto out;
			}
			used = 0;
		}
		n = strlen(g->msid);
		memcpy(out + used, g->msid, n);
		used += n;
		out[used++] = ',';
		memcpy(out + used, day, daylen);
		used += daylen;
		used += put_clock(&u, out + used);
		used += put_centi(centi, out + used);
		out[used++] = '\n';

		if (g->flat) {
			pairs[2 * npairs] = astro_tlm_time_to_secs(t);
			pairs[2 * npairs + 1] = (double)centi / 100.0;
			if (++npairs == sizeof(pairs) / sizeof(pairs[0]) / 2) {
				if (fwrite(pairs, 2 * sizeof(double), npairs, g->flat) != npairs) {
					rc = -EIO;
					goto out;
				}
				npairs = 0;
			}
		}
	}
	if (fwrite(out, 1, used, g->csv) != used ||
	    (g->flat && npairs && fwrite(pairs, 2 * sizeof(double), npairs, g->flat) != npairs))
		rc = -EIO;
out:
	free(out);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"msid", required_argument, NULL, 'm'},
		{"start", required_argument, NULL, 's'},
		{"count", required_argument, NULL, 'n'},
		{"step-ms", required_argument, NULL, 'p'},
		{"flat", required_argument, NULL, 'f'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct gen g = { .msid = "BENCH1HZ", .count = 366LL * 86400, .step_us = ASTRO_TLM_US };
	const char *start = "2024:001", *flat = NULL, *outpath = NULL;
	char err[128] = "";
	int64_t ms;
	int c, rc;

	while ((c = getopt_long(argc, argv, "m:s:n:p:f:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm': g.msid = optarg; break;
		case 's': start = optarg; break;
		case 'n':
			if (parse_i64(optarg, &g.count)) {
				fprintf(stderr, "astrofs-tlm-gen: --count: not a count: %s\n", optarg);
				return 2;
			}
			break;
		case 'p':
			if (parse_i64(optarg, &ms) || ms < 1) {
				fprintf(stderr, "astrofs-tlm-gen: --step-ms: not a positive count: %s\n", optarg);
				return 2;
			}
			g.step_us = ms * 1000;
			break;
		case 'f': flat = optarg; break;
		case 'o': outpath = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || !*g.msid || strlen(g.msid) > 64 || strpbrk(g.msid, ",\"\r\n")) {
		usage(stderr);
		return 2;
	}
	if (astro_tlm_time_parse(start, strlen(start), &g.t0, err, sizeof(err))) {
		fprintf(stderr, "astrofs-tlm-gen: --start: %s\n", err);
		return 2;
	}
	g.csv = outpath ? fopen(outpath, "w") : stdout;
	if (!g.csv) {
		fprintf(stderr, "astrofs-tlm-gen: %s: %s\n", outpath, strerror(errno));
		return 1;
	}
	if (flat && !(g.flat = fopen(flat, "w"))) {
		fprintf(stderr, "astrofs-tlm-gen: %s: %s\n", flat, strerror(errno));
		return 1;
	}
	rc = generate(&g);
	if (g.flat && fclose(g.flat) && !rc)
		rc = -EIO;
	if (fclose(g.csv) && !rc)
		rc = -EIO;
	if (rc) {
		fprintf(stderr, "astrofs-tlm-gen: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}

/*
 * astrofs-sgp4-bench — SGP4 propagations per second on one core.
 *
 *   astrofs-sgp4-bench FILE [--times N] [--step-min M] [--jd0 JD] [--seconds S]
 *
 * Reads a TLE or 3LE file, initialises every element set, then propagates
 * the whole catalogue at N instants jd0, jd0 + M min, ... (UTC Julian
 * dates, so tsince differs per satellite, as in a real sweep) until at least
 * S seconds have passed.  Near-earth and deep-space records are timed
 * separately as well.  The last line is machine-readable for bench/sgp4.sh:
 *   RESULT props_per_s=<all> near=<near> deep=<deep> sats=<n> errors=<e>
 * jd0 defaults to the latest epoch in the file, rounded down to 0h UTC.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/astro.h"
#include "satfilter/sgp4.h"
#include "services/tle.h"

struct opts {
	const char *file;
	long times;
	double step_min, jd0, seconds;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int parse_num(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return (errno || end == s || *end || !isfinite(*out)) ? -EINVAL : 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	double v;

	o->file = NULL;
	o->times = 100;
	o->step_min = 1.0;
	o->jd0 = 0.0;
	o->seconds = 1.0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (a[0] != '-') {
			o->file = a;
			continue;
		}
		if (i + 1 >= argc || parse_num(argv[i + 1], &v)) {
			fprintf(stderr, "astrofs-sgp4-bench: %s needs a number\n", a);
			return -EINVAL;
		}
		i++;
		if (!strcmp(a, "--times") && v >= 1 && v <= 1e6)
			o->times = (long)v;
		else if (!strcmp(a, "--step-min"))
			o->step_min = v;
		else if (!strcmp(a, "--jd0"))
			o->jd0 = v;
		else if (!strcmp(a, "--seconds") && v > 0 && v <= 600)
			o->seconds = v;
		else {
			fprintf(stderr, "astrofs-sgp4-bench: bad option %s %s\n", a, argv[i]);
			return -EINVAL;
		}
	}
	if (!o->file) {
		fprintf(stderr, "usage: astrofs-sgp4-bench FILE [--times N] [--step-min M] "
				"[--jd0 JD] [--seconds S]\n");
		return -EINVAL;
	}
	return 0;
}

/* Map the whole file read-only (a catalogue is a few MB). */
static char *map_file(const char *path, size_t *len)
{
	struct stat st;
	void *p = MAP_FAILED;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && st.st_size > 0) {
		*len = (size_t)st.st_size;
		p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
	}
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

/* Propagate recs[0..n) at every instant, repeatedly, for >= seconds. */
static double run(const struct astro_sgp4 *recs, size_t n, const struct opts *o,
		  double *checksum, long *errors)
{
	double t0 = now_s(), el;
	long long props = 0;
	double r[3], v[3];

	if (n == 0)
		return 0.0;
	do {
		for (long k = 0; k < o->times; k++) {
			double jd1 = floor(o->jd0);
			double jd2 = (o->jd0 - jd1) + k * o->step_min / 1440.0;

			for (size_t i = 0; i < n; i++) {
				double ts = astro_sgp4_tsince(&recs[i], jd1, jd2);

				if (astro_sgp4_propagate(&recs[i], ts, r, v) == 0)
					*checksum += r[0] + v[2];
				else
					(*errors)++;
			}
			props += (long long)n;
		}
		el = now_s() - t0;
	} while (el < o->seconds);
	return (double)props / el;
}

int main(int argc, char **argv)
{
	struct astro_tle_set *sets = NULL;
	struct astro_sgp4 *near = NULL, *deep = NULL;
	size_t nsets = 0, nn = 0, nd = 0, len = 0;
	struct opts o;
	char err[200];
	char *body = NULL;
	double sum = 0.0, r_all, r_near, r_deep, maxjd = 0.0;
	long errors = 0, rejected = 0;
	int rc = 1;

	if (parse_args(argc, argv, &o))
		return 2;
	body = map_file(o.file, &len);
	if (!body) {
		fprintf(stderr, "astrofs-sgp4-bench: cannot read %s\n", o.file);
		goto out;
	}
	if (astro_tle_parse_body(body, len, ASTRO_TLE_ALLOW_68 | ASTRO_TLE_SKIP_COMMENTS,
				 &sets, &nsets, err, sizeof(err))) {
		fprintf(stderr, "astrofs-sgp4-bench: %s: %s\n", o.file, err);
		goto out;
	}
	near = calloc(nsets ? nsets : 1, sizeof(*near));
	deep = calloc(nsets ? nsets : 1, sizeof(*deep));
	if (!near || !deep)
		goto out;
	for (size_t i = 0; i < nsets; i++) {
		struct astro_tle_elements el;
		struct astro_sgp4 s;

		if (astro_tle_parse_elements(body + sets[i].l1_off, sets[i].l1_len,
					     body + sets[i].l2_off, sets[i].l2_len, &el,
					     err, sizeof(err)) ||
		    astro_sgp4_init(&s, &el)) {
			rejected++;
			continue;
		}
		maxjd = fmax(maxjd, el.jdsatepoch + el.jdsatepochF);
		if (s.deep)
			deep[nd++] = s;
		else
			near[nn++] = s;
	}
	if (o.jd0 == 0.0)
		o.jd0 = floor(maxjd - 0.5) + 0.5;

	r_near = run(near, nn, &o, &sum, &errors);
	r_deep = run(deep, nd, &o, &sum, &errors);
	/* the whole catalogue, near and deep mixed as they come */
	{
		struct astro_sgp4 *all = malloc((nn + nd ? nn + nd : 1) * sizeof(*all));

		if (!all)
			goto out;
		memcpy(all, near, nn * sizeof(*all));
		memcpy(all + nn, deep, nd * sizeof(*all));
		r_all = run(all, nn + nd, &o, &sum, &errors);
		free(all);
	}
	printf("%s: %zu sets (%zu near-earth, %zu deep-space, %ld rejected), %ld instants from JD %.5f every %g min\n",
	       o.file, nsets, nn, nd, rejected, o.times, o.jd0, o.step_min);
	printf("near-earth %.3f M props/s, deep-space %.3f M props/s, all %.3f M props/s (one core; checksum %.6g)\n",
	       r_near / 1e6, r_deep / 1e6, r_all / 1e6, sum);
	printf("RESULT props_per_s=%.0f near=%.0f deep=%.0f sats=%zu errors=%ld jd0=%.6f\n",
	       r_all, r_near, r_deep, nn + nd, errors, o.jd0);
	rc = 0;
out:
	free(near);
	free(deep);
	free(sets);
	if (body)
		munmap(body, len);
	return rc;
}

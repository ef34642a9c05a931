/*
 * unit_ref.h — run a Python reference script for a test (skyfield,
 * astropy, python3-sgp4: Debian's packages, independent of astrofs code).
 * Include after unit.h.  Scripts live under tests/oracles/ and are run
 * by /usr/bin/python3 from the repo root (where make runs the suites).
 */
#ifndef ASTRO_UNIT_REF_H
#define ASTRO_UNIT_REF_H

#include <sys/wait.h>

/*
 * Run a reference script (path relative to the repo root) on `input`; its
 * stdout as a malloc'd string, or NULL after a skip message when python3 or
 * the Python package is missing (the scripts exit 77 then).
 */
static inline char *run_reference(const char *script, const char *input, size_t ncases)
{
	char inpath[] = "/tmp/astro-ref-XXXXXX";
	char cmd[600];
	size_t cap = 4096, len = 0, nr;
	char *out;
	FILE *in, *p;
	int fd, rc;

	if (access(script, R_OK) != 0 || access("/usr/bin/python3", X_OK) != 0) {
		fprintf(stderr, "# skip: %s or /usr/bin/python3 missing (run from the repo root)\n", script);
		return NULL;
	}
	fd = mkstemp(inpath);
	assert_true(fd >= 0);
	in = fdopen(fd, "w");
	assert_non_null(in);
	fputs(input, in);
	fclose(in);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s < %s", script, inpath);
	p = popen(cmd, "r");
	assert_non_null(p);
	out = malloc(cap);
	assert_non_null(out);
	while ((nr = fread(out + len, 1, cap - len - 1, p)) > 0) {
		len += nr;
		if (cap - len < 2) {
			cap *= 2;
			out = realloc(out, cap);
			assert_non_null(out);
		}
	}
	out[len] = '\0';
	rc = pclose(p);
	unlink(inpath);
	if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77) {
		fprintf(stderr, "# skip: the Python package %s needs is not installed\n", script);
		free(out);
		return NULL;
	}
	assert_int_equal(rc, 0);
	nr = 0;
	for (const char *q = out; (q = strchr(q, '\n')); q++)
		nr++;
	assert_int_equal(nr, ncases);	/* one output line per case */
	return out;
}

/* Parse k numbers from *q, advancing it. */
static inline void read_numbers(char **q, double *v, int k)
{
	char *end;

	for (int i = 0; i < k; i++) {
		v[i] = strtod(*q, &end);
		assert_true(end > *q);
		*q = end;
	}
}

#endif

/*
 * unit.h — shared bits for the cmocka suites.
 *
 * Suites find the read-only corpora through ASTRO_SHARED (set by the
 * runner to ../shared); a test whose corpus is absent calls skip() and says
 * which file it missed, so a run without ../shared is honest about it.
 */
#ifndef ASTRO_UNIT_H
#define ASTRO_UNIT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

/* No suite may reach the real instance metadata service (169.254.169.254)
 * through the credential chain of awsprov.h. */
__attribute__((constructor)) static void unit_no_imds(void)
{
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

/* Path of a file under ../shared, or NULL (after a message) if absent. */
static inline const char *unit_shared(const char *rel, char *buf, size_t n)
{
	const char *root = getenv("ASTRO_SHARED");

	if (!root)
		root = "../shared";
	snprintf(buf, n, "%s/%s", root, rel);
	if (access(buf, R_OK) != 0) {
		fprintf(stderr, "# skip: %s not present\n", buf);
		return NULL;
	}
	return buf;
}

/* Read a whole file into a malloc'd NUL-terminated buffer. */
static inline char *unit_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else if (buf) {
			buf[n] = '\0';
			if (len)
				*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

/* A fresh temporary directory under $TMPDIR; caller removes it. */
static inline char *unit_tmpdir(void)
{
	char tmpl[] = "/tmp/astro-unit-XXXXXX";
	char *d = mkdtemp(tmpl);

	return d ? strdup(d) : NULL;
}

#endif

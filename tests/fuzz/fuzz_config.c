/*
 * fuzz_config — the config-file parser and the typed value parsers.
 *
 * Oracle beyond "no crash, no leak": whatever loads must dump to text that
 * loads again into an identical configuration, so the dump never emits a
 * value the parser would refuse or read differently.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/astro.h"
#include "core/config.h"
#include "core/log.h"

/* The dump minus its first line (config, not settable from a file) and
 * the masked secret lines at the end. */
static char *settable_part(char *dump)
{
	char *nl = strchr(dump, '\n'), *secrets = strstr(dump, "\nspacetrack_user =");

	if (!nl || !secrets)
		abort();
	secrets[1] = '\0';
	return nl + 1;
}

static void round_trip(const struct astro_config *a)
{
	struct astro_config b;
	char err[512], *d1 = astro_config_dump(a), *d2, *s1, *s2;

	if (!d1 || astro_config_init(&b) != 0)
		abort();
	s1 = settable_part(d1);
	if (astro_config_load_buffer(&b, "dump", s1, strlen(s1), err, sizeof(err)) != 0) {
		fprintf(stderr, "dump did not load back: %s\n%s", err, s1);
		abort();
	}
	d2 = astro_config_dump(&b);
	if (!d2)
		abort();
	s2 = settable_part(d2);
	if (strcmp(s1, s2) != 0) {
		fprintf(stderr, "dump changed on reload:\n%s---\n%s", s1, s2);
		abort();
	}
	free(d1);
	free(d2);
	astro_config_free(&b);
}

/*
 * The credentials-file parser reads a path, so the input goes into a 0600
 * temporary file, unlinked at once and reached through /proc/self/fd so
 * nothing is left behind however the run ends.
 */
static void secret_file(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	char tmpl[] = "/tmp/fuzz-config-XXXXXX", err[512], *u = NULL, *p = NULL;

	if (fd < 0) {
		if ((fd = mkstemp(tmpl)) < 0)
			abort();
		unlink(tmpl);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	if (astro_config_read_secret_file(path, "identity", &u, "password", &p, err,
				   sizeof(err)) == 0) {
		/* Values are whole, trimmed, single-line and non-empty. */
		if (!u || !p || !*u || !*p || strchr(u, '\n') || strchr(p, '\n') ||
		    u[strlen(u) - 1] == ' ' || p[0] == ' ')
			abort();
	} else if (u || p || strchr(err, '\n')) {
		abort();
	}
	/* secrets live in astro_secure memory (config.h) */
	astro_secure_strfree(u);
	astro_secure_strfree(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct astro_config cfg;
	char err[512], *s;
	unsigned secs;
	uint64_t bytes;
	bool b;
	struct astro_rate r;

	astro_log_set_level(-1);	/* quiet */
	if (astro_config_init(&cfg) != 0)
		return 0;
	if (astro_config_load_buffer(&cfg, "fuzz", (const char *)data, size, err,
				     sizeof(err)) == 0)
		round_trip(&cfg);
	else if (!memchr(err, '\0', sizeof(err)) || strchr(err, '\n'))
		abort();	/* messages are one terminated line */
	astro_config_free(&cfg);

	secret_file(data, size);

	/* The same bytes as a lone value for each parser. */
	if ((s = strndup((const char *)data, size))) {
		astro_config_parse_duration(s, &secs);
		astro_config_parse_size(s, &bytes);
		astro_config_parse_bool(s, &b);
		astro_config_parse_rate(s, &r);
		astro_config_is_ignored(s);
		free(s);
	}
	return 0;
}

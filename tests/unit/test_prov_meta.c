/*
 * test_prov_meta.c — /.astrofs: its three files, exact sizes, one snapshot
 * per open, read-only, and no secret in config.
 */
#include "unit.h"
#include <errno.h>
#include <fcntl.h>
#include "core/astro.h"
#include "core/config.h"
#include "core/provider.h"
#include "core/services.h"
#include "core/stats.h"

#define P astro_prov_meta

struct fx {
	struct astro_config cfg;
	struct astro_services svc;
	void *priv;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct astro_ctx ctx = {0};

	assert_non_null(f);
	assert_int_equal(astro_config_init(&f->cfg), 0);
	f->cfg.spacetrack_user = astro_secure_strdup("someone@example.org");
	f->cfg.spacetrack_password = astro_secure_strdup("hunter2-secret");
	f->svc.fuse_version = "3.14.0";
	ctx.cfg = &f->cfg;
	ctx.services = &f->svc;
	assert_int_equal(P.init(&ctx, &f->priv), 0);
	assert_non_null(f->priv);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	P.destroy(f->priv);
	astro_config_free(&f->cfg);
	free(f);
	return 0;
}

/* The whole file through read, in small pieces. */
static char *read_all(void *priv, const char *path, struct astro_file *fh, size_t *len)
{
	char *out = NULL;
	size_t n = 0;
	int got;

	do {
		out = realloc(out, n + 7 + 1);
		assert_non_null(out);
		got = P.read(priv, path, fh, out + n, 7, (off_t)n);
		assert_true(got >= 0);
		n += (size_t)got;
	} while (got > 0);
	out[n] = '\0';
	*len = n;
	return out;
}

struct names {
	char v[8][16];
	int n;
};

static int fill(void *buf, const char *name, const struct astro_attr *a)
{
	struct names *l = buf;

	assert_non_null(a);
	assert_int_equal(a->kind, ASTRO_FILE);
	assert_true(a->size > 0);
	snprintf(l->v[l->n++], sizeof(l->v[0]), "%s", name);
	return 0;
}

static void tree_shape(void **state)
{
	struct fx *f = *state;
	struct astro_attr a;
	struct names l = {0};
	struct astro_file fh = {0};

	assert_int_equal(P.getattr(f->priv, "", &a), 0);
	assert_int_equal(a.kind, ASTRO_DIR);
	assert_int_equal(P.readdir(f->priv, "", fill, &l), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0], "stats");
	assert_string_equal(l.v[1], "config");
	assert_string_equal(l.v[2], "version");
	assert_int_equal(P.getattr(f->priv, "nosuch", &a), -ENOENT);
	assert_int_equal(P.readdir(f->priv, "stats", fill, &l), -ENOTDIR);
	assert_int_equal(P.open(f->priv, "", O_RDONLY, &fh), -EISDIR);
	assert_int_equal(P.open(f->priv, "nosuch", O_RDONLY, &fh), -ENOENT);
	/* read-only, whatever the mount's options */
	assert_int_equal(P.open(f->priv, "config", O_WRONLY, &fh), -EACCES);
	assert_int_equal(P.open(f->priv, "stats", O_RDWR, &fh), -EACCES);
	assert_null(fh.handle);
}

static void version_exact(void **state)
{
	struct fx *f = *state;
	struct astro_attr a;
	struct astro_file fh = {0};
	size_t len;
	char *s;

	assert_int_equal(P.getattr(f->priv, "version", &a), 0);
	assert_int_equal(P.open(f->priv, "version", O_RDONLY, &fh), 0);
	/* the version does not move: page cache allowed, size exact */
	assert_int_equal(fh.direct_io, 0);
	s = read_all(f->priv, "version", &fh, &len);
	assert_int_equal(len, a.size);
	assert_memory_equal(s, "astrofs " ASTRO_VERSION "\nlibfuse 3.14.0\n",
			    strlen("astrofs " ASTRO_VERSION "\nlibfuse 3.14.0\n"));
	assert_non_null(strstr(s, "libcurl/"));
	free(s);
	assert_int_equal(P.release(f->priv, "version", &fh), 0);
	assert_null(fh.handle);
}

static void config_masks_secrets(void **state)
{
	struct fx *f = *state;
	struct astro_attr a;
	struct astro_file fh = {0};
	size_t len;
	char *s;

	assert_int_equal(P.getattr(f->priv, "config", &a), 0);
	assert_int_equal(P.open(f->priv, "config", O_RDONLY, &fh), 0);
	s = read_all(f->priv, "config", &fh, &len);
	assert_int_equal(len, a.size);
	assert_non_null(strstr(s, "\ntimeout = "));
	assert_non_null(strstr(s, "spacetrack_password = ********\n"));
	assert_null(strstr(s, "hunter2"));
	assert_null(strstr(s, "someone@"));
	free(s);
	P.release(f->priv, "config", &fh);
}

static void stats_snapshot_per_open(void **state)
{
	struct fx *f = *state;
	struct astro_file fh = {0};
	size_t len1, len2;
	char *s1, *s2;

	astro_stats_add("unit.meta", 41);
	assert_int_equal(P.open(f->priv, "stats", O_RDONLY, &fh), 0);
	/* counters move between stat and open: no page cache, read to EOF */
	assert_int_equal(fh.direct_io, 1);
	astro_stats_add("unit.meta", 1);	/* after the open: not in this snapshot */
	s1 = read_all(f->priv, "stats", &fh, &len1);
	P.release(f->priv, "stats", &fh);
	assert_non_null(strstr(s1, "41"));

	assert_int_equal(P.open(f->priv, "stats", O_RDONLY, &fh), 0);
	s2 = read_all(f->priv, "stats", &fh, &len2);
	P.release(f->priv, "stats", &fh);
	assert_non_null(strstr(s2, "42"));
	assert_null(strstr(s2, "41"));
	free(s1);
	free(s2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(tree_shape, setup, teardown),
		cmocka_unit_test_setup_teardown(version_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(config_masks_secrets, setup, teardown),
		cmocka_unit_test_setup_teardown(stats_snapshot_per_open, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_prov_satfilter.c — the /satfilter transaction file: one JSON answer
 * line per request line written, usage when read unasked, a last request
 * without its newline, an overlong line, truncate, and a file catalogue
 * that must load for the tree to start.
 */
#include "unit.h"
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include "core/astro.h"
#include "core/config.h"
#include "core/provider.h"
#include "satfilter/satfilter.h"

#define P astro_prov_satfilter
#define CATALOG "data/tle/spacetrack_3le_catalog_2019-12-19.3le"

struct fx {
	struct astro_config cfg;
	void *priv;
	struct astro_file fh;
};

static int start(struct fx *f, const char *catalog)
{
	struct astro_ctx ctx = {0};

	f->cfg.satfilter_catalog = (char *)catalog;	/* NULL: space-track */
	ctx.cfg = &f->cfg;	/* no services: no space-track client */
	return P.init(&ctx, &f->priv);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(start(f, NULL), 0);
	assert_non_null(f->priv);
	assert_int_equal(P.open(f->priv, "", O_RDWR, &f->fh), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->fh.handle)
		P.release(f->priv, "", &f->fh);
	P.destroy(f->priv);
	free(f);
	return 0;
}

/* Everything readable now (the file has no size: read to EOF). */
static char *drain(struct fx *f)
{
	static char buf[1 << 16];
	size_t n = 0;
	int got;

	while ((got = P.read(f->priv, "", &f->fh, buf + n, 100, 0)) > 0) {
		n += (size_t)got;
		assert_true(n + 100 < sizeof(buf));
	}
	assert_int_equal(got, 0);
	buf[n] = '\0';
	return buf;
}

static void shape(void **state)
{
	struct fx *f = *state;
	struct astro_attr a;

	assert_int_equal(P.getattr(f->priv, "", &a), 0);
	assert_int_equal(a.kind, ASTRO_FILE);
	assert_true(a.flags & ASTRO_ATTR_WRITABLE);
	assert_true(a.flags & ASTRO_ATTR_UNKNOWN_SIZE);
	assert_int_equal(P.getattr(f->priv, "x", &a), -ENOENT);
	assert_int_equal(P.readdir(f->priv, "", NULL, NULL), -ENOTDIR);
	/* O_TRUNC is harmless, any other size is not */
	assert_int_equal(P.truncate(f->priv, "", NULL, 0), 0);
	assert_int_equal(P.truncate(f->priv, "", NULL, 5), -EINVAL);
}

static void usage_when_read_unasked(void **state)
{
	struct fx *f = *state;
	char *s = drain(f);

	assert_non_null(strstr(s, "\"usage\""));
	assert_int_equal(s[strlen(s) - 1], '\n');
	/* once, then EOF */
	assert_string_equal(drain(f), "");
}

static void one_answer_per_line(void **state)
{
	static const char req[] =
		"{\"visit_id\": 7, \"detector_id\": 8, \"diasources\": []}\n"
		"\n"
		"not json\n"
		"{\"visit_id\": 9, \"detector_id\": 1, \"diasources\": []}";
	struct fx *f = *state;
	json_t *j;
	char *s, *nl;
	int lines = 0;

	/* written in two pieces split inside a line */
	assert_int_equal(P.write(f->priv, "", &f->fh, req, 20, 0), 20);
	assert_int_equal(P.write(f->priv, "", &f->fh, req + 20, sizeof(req) - 21, 20),
			 (int)sizeof(req) - 21);
	s = drain(f);
	/* the blank line gets nothing; the last line, without its newline,
	 * is answered at the read */
	for (char *line = s; (nl = strchr(line, '\n')); line = nl + 1) {
		*nl = '\0';
		j = json_loads(line, 0, NULL);
		assert_non_null(j);
		assert_true(json_is_array(json_object_get(j, "allow_list")));
		if (lines == 1)
			assert_non_null(json_object_get(j, "error"));
		json_decref(j);
		lines++;
	}
	assert_int_equal(lines, 3);
}

static void overlong_line_refused(void **state)
{
	struct fx *f = *state;
	size_t n = ASTRO_SATFILTER_MAX_REQUEST + 10;
	char *big = malloc(n);
	size_t off = 0;
	char *s;

	assert_non_null(big);
	memset(big, ' ', n);
	big[n - 1] = '\n';
	while (off < n) {
		size_t piece = n - off < (128u << 10) ? n - off : (128u << 10);
		int got = P.write(f->priv, "", &f->fh, big + off, piece, (off_t)off);

		assert_true(got > 0);
		off += (size_t)got;
	}
	free(big);
	s = drain(f);
	assert_non_null(strstr(s, "request line too long"));
	assert_non_null(strchr(s, '\n'));
	assert_null(strchr(strchr(s, '\n') + 1, '\n'));	/* one answer */
}

#define VISIT "{\"visit_id\": 1, \"exposure_start_mjd\": 58836.3, " \
	      "\"exposure_end_mjd\": 58836.30035, \"boresight_ra\": 53.0, " \
	      "\"boresight_dec\": -27.9}\n"

/* Whether the answer to one visit request is an error. */
static int visit_fails(struct fx *f)
{
	json_t *j;
	int err;

	assert_int_equal(P.write(f->priv, "", &f->fh, VISIT, strlen(VISIT), 0),
			 (int)strlen(VISIT));
	j = json_loads(drain(f), 0, NULL);
	assert_non_null(j);
	err = json_object_get(j, "error") != NULL;
	json_decref(j);
	return err;
}

/* Without a catalogue (no space-track client here) a visit fails safe. */
static void no_catalogue_fails_safe(void **state)
{
	assert_true(visit_fails(*state));
}

static void file_catalogue(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[512];

	(void)state;
	assert_non_null(f);
	/* a catalogue file that cannot be read keeps the tree from starting */
	assert_true(start(f, "/nonexistent/catalogue.3le") < 0);
	if (!unit_shared(CATALOG, path, sizeof(path))) {
		free(f);
		skip();
	}
	assert_int_equal(start(f, path), 0);
	assert_int_equal(P.open(f->priv, "", O_RDWR, &f->fh), 0);
	assert_false(visit_fails(f));
	teardown((void **)&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(shape, setup, teardown),
		cmocka_unit_test_setup_teardown(usage_when_read_unasked, setup, teardown),
		cmocka_unit_test_setup_teardown(one_answer_per_line, setup, teardown),
		cmocka_unit_test_setup_teardown(overlong_line_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(no_catalogue_fails_safe, setup, teardown),
		cmocka_unit_test(file_catalogue),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

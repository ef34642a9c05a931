#include "unit.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include "core/astro.h"
#include "telemetry/tlm_archive.h"
#include "telemetry/tlm_staging.h"

static void put(const char *dir, const char *name, const char *text, int old)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	if (old) {
		struct timespec ts[2] = {{.tv_sec = time(NULL) - 3600}, {.tv_sec = time(NULL) - 3600}};

		assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	}
}

static int exists(const char *dir, const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return access(p, F_OK) == 0;
}

static void pass_sorts_files(void **state)
{
	char *root = unit_tmpdir(), arc[256], stg[256], err[256], cmd[300];
	struct astro_tlm_archive *a;
	struct astro_tlm_staging_counts c;
	struct astro_tlm_reader *r;
	struct astro_tlm_meta m;
	char *reason;

	(void)state;
	snprintf(arc, sizeof(arc), "%s/arc", root);
	snprintf(stg, sizeof(stg), "%s/stage", root);
	assert_int_equal(mkdir(stg, 0755), 0);
	assert_int_equal(astro_tlm_archive_open(arc, 0, &a, err, sizeof(err)), 0);
	put(stg, "good.csv", "msid,time,value\nG,2020:001,1\n", 1);
	put(stg, "bad.csv", "msid,time,value\nB,2020:001,1\nB,nope,2\n", 1);
	put(stg, "young.csv", "msid,time,value\nY,2020:001,1\n", 0);
	put(stg, ".upload.csv", "msid,time,value\nU,2020:001,1\n", 1);
	put(stg, "half.part", "msid,time,value\nH,2020:001,1\n", 1);
	assert_int_equal(astro_tlm_staging_pass(a, stg, 60, &c), 0);
	assert_int_equal(c.ingested, 1);
	assert_int_equal(c.rejected, 1);
	assert_int_equal(c.deferred, 1);
	assert_true(exists(stg, "done/good.csv"));
	assert_true(exists(stg, "rejected/bad.csv"));
	snprintf(cmd, sizeof(cmd), "%s/rejected/bad.csv.reason", stg);
	reason = unit_slurp(cmd, NULL);
	assert_non_null(reason);
	assert_non_null(strstr(reason, "line 3: time"));
	free(reason);
	assert_true(exists(stg, "young.csv"));
	assert_true(exists(stg, ".upload.csv"));
	assert_true(exists(stg, "half.part"));
	assert_int_equal(astro_tlm_archive_reader_open(a, &r), 0);
	assert_int_equal(astro_tlm_archive_reader_meta(r, "G", &m), 0);
	assert_int_equal(astro_tlm_archive_reader_meta(r, "B", &m), -ENOENT);
	assert_int_equal(astro_tlm_archive_reader_meta(r, "Y", &m), -ENOENT);
	astro_tlm_archive_reader_close(r);
	/* the same name again, same content: skipped and moved aside */
	put(stg, "good.csv", "msid,time,value\nG,2020:001,1\n", 1);
	assert_int_equal(astro_tlm_staging_pass(a, stg, 60, &c), 0);
	assert_int_equal(c.skipped, 1);
	assert_false(exists(stg, "good.csv"));
	/* the watcher thread starts and stops promptly */
	struct astro_tlm_watcher *w;

	put(stg, "later.csv", "msid,time,value\nL,2020:001,1\n", 1);
	assert_int_equal(astro_tlm_staging_start(a, stg, 60, 50, &w), 0);
	for (int i = 0; i < 100 && !exists(stg, "done/later.csv"); i++)
		astro_sleep_ms(20);
	astro_tlm_staging_stop(w);
	assert_true(exists(stg, "done/later.csv"));
	astro_tlm_archive_close(a);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pass_sorts_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

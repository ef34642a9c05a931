#include "unit.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include "core/astro.h"
#include "core/config.h"
#include "telemetry/prov_telemetry.h"
#include "telemetry/tlm_archive.h"
#include "telemetry/tlm_time.h"

#define P astro_prov_telemetry
#define JW "data/telemetry/jwst_edb/engdb_2021_groundtest/"

struct fx {
	char *dir;
	struct astro_config cfg;
	void *priv;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct astro_ctx ctx = {0};

	f->dir = unit_tmpdir();
	f->cfg.archive_dir = f->dir;
	ctx.cfg = &f->cfg;
	assert_int_equal(P.init(&ctx, &f->priv), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[512];

	P.destroy(f->priv);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f->dir);
	free(f);
	return 0;
}

static int ingest_text(struct fx *f, const char *name, const char *text)
{
	struct astro_tlm_ingest_result res;
	char err[256];

	return astro_tlm_archive_ingest(astro_prov_telemetry_archive(f->priv), name, text,
					strlen(text), 0, &res, err, sizeof(err));
}

static int ingest_shared(struct fx *f, const char *rel)
{
	char path[512];
	size_t len = 0;
	char *buf;
	int rc;

	if (!unit_shared(rel, path, sizeof(path)))
		return -ENOENT;
	buf = unit_slurp(path, &len);
	struct astro_tlm_ingest_result res;
	char err[256];

	rc = astro_tlm_archive_ingest(astro_prov_telemetry_archive(f->priv), strrchr(path, '/') + 1,
				      buf, len, 0, &res, err, sizeof(err));
	free(buf);
	return rc;
}

/* Whole file through open/read in chunks of `chunk`; malloc'd, length in *len. */
static char *read_all(struct fx *f, const char *path, size_t chunk, size_t *len)
{
	struct astro_file file = {0};
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	int rc;

	assert_int_equal(P.open(f->priv, path, O_RDONLY, &file), 0);
	for (;;) {
		if (n + chunk + 1 > cap)
			buf = realloc(buf, cap = (n + chunk + 1) * 2);
		rc = P.read(f->priv, path, &file, buf + n, chunk, (off_t)n);
		assert_true(rc >= 0);
		if (rc == 0)
			break;
		n += (size_t)rc;
	}
	P.release(f->priv, path, &file);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static uint64_t size_of(struct fx *f, const char *path)
{
	struct astro_attr a;

	assert_int_equal(P.getattr(f->priv, path, &a), 0);
	assert_int_equal(a.kind, ASTRO_FILE);
	return a.size;
}

/* Expected SA_ZATTEST1.csv built from the independent python flattening. */
static char *expected_from_derived(const char *msid)
{
	char rel[256], path[512], *src, *line, *save = NULL, secs[ASTRO_TLM_TIME_BUF];
	size_t cap = 1 << 20, n = 0;
	char *out = malloc(cap);

	snprintf(rel, sizeof(rel), "data/telemetry/jwst_edb/derived_csv/engdb_2021_groundtest__%s.csv", msid);
	if (!unit_shared(rel, path, sizeof(path)))
		return NULL;
	src = unit_slurp(path, NULL);
	n += (size_t)snprintf(out, cap, "date,secs,value\n");
	strtok_r(src, "\n", &save);
	while ((line = strtok_r(NULL, "\n", &save))) {
		char *ms = strchr(line, ',') + 1, *date = strchr(ms, ',') + 1, *val = strchr(date, ',') + 1;
		/* 2021: TAI-UTC = 37 s, so CXC secs = unix + 37 + 32.184 - 883612800 */
		int64_t us = strtoll(ms, NULL, 10) * 1000 + 69184000LL - 883612800000000LL;

		date[-1] = val[-1] = '\0';
		astro_tlm_time_fmt_secs(us, secs);
		n += (size_t)snprintf(out + n, cap - n, "%s,%s,%s\n", date, secs, val);
		assert_true(n < cap);
	}
	free(src);
	return out;
}

static void reads_back_the_jwst_fixture_exactly(void **state)
{
	struct fx *f = *state;
	char *want, *got;
	size_t n;

	if (ingest_shared(f, JW "sa_zattest1_data.json") == -ENOENT)
		skip();
	want = expected_from_derived("SA_ZATTEST1");
	assert_non_null(want);
	got = read_all(f, "SA_ZATTEST1.csv", 4096, &n);
	assert_int_equal(n, strlen(want));
	assert_string_equal(got, want);
	assert_int_equal(size_of(f, "SA_ZATTEST1.csv"), n);
	free(got);
	/* any case; odd chunk sizes */
	got = read_all(f, "sa_zattest1.csv", 7, &n);
	assert_string_equal(got, want);
	free(got);
	free(want);
}

/* Reads at random offsets (tail, dd skip=) equal slices of the whole. */
static void random_offsets_match(void **state)
{
	struct fx *f = *state;
	struct astro_file file = {0};
	char *whole, buf[9000];
	size_t n;

	if (ingest_shared(f, JW "sa_zattest4_data.json") == -ENOENT)
		skip();
	whole = read_all(f, "SA_ZATTEST4.csv", 65536, &n);
	assert_true(n > 60000);	/* > 3 marks of 512 rows */
	assert_int_equal(P.open(f->priv, "SA_ZATTEST4.csv", O_RDONLY, &file), 0);
	for (int i = 0; i < 400; i++) {
		uint32_t r[2];
		size_t off, len;
		int got;

		astro_random(r, sizeof(r));
		off = r[0] % (n + 100);
		len = 1 + r[1] % sizeof(buf);
		got = P.read(f->priv, "SA_ZATTEST4.csv", &file, buf, len, (off_t)off);
		size_t want = off >= n ? 0 : (n - off < len ? n - off : len);

		assert_int_equal(got, (int)want);
		assert_memory_equal(buf, whole + (off < n ? off : n), want);
	}
	P.release(f->priv, "SA_ZATTEST4.csv", &file);
	free(whole);
}

struct names {
	char v[64][80];
	int n;
};

static int collect(void *buf, const char *name, const struct astro_attr *a)
{
	struct names *ns = buf;

	(void)a;
	if (ns->n < 64)
		astro_strlcpy(ns->v[ns->n++], name, sizeof(ns->v[0]));
	return 0;
}

static void every_listed_file_has_its_exact_size(void **state)
{
	struct fx *f = *state;
	struct names root = {0}, years = {0}, days = {0};
	char p[256];
	size_t n;
	int files = 0;

	if (ingest_shared(f, JW "sa_zfgdetid_data.json") == -ENOENT)
		skip();
	assert_int_equal(ingest_shared(f, JW "sa_zaducmdx_data.json"), 0);
	assert_int_equal(ingest_text(f, "states.csv", "msid,time,value\nMODE,2021:026:00:00:00,NPNT\n"
				     "MODE,2021:026:00:01:00,NMAN\nMODE,2021:026:00:02:00,NPNT\n"
				     "MODE,2021:027:00:00:00,\"A,B\"\n"), 0);
	assert_int_equal(P.readdir(f->priv, "", collect, &root), 0);
	/* INDEX, BAD_TIMES; per MSID .csv .5min.csv .daily.csv, the three .npy, dir, .svg, .png */
	assert_int_equal(root.n, 3 + 3 * 9);
	assert_string_equal(root.v[0], "INDEX.csv");
	for (int i = 0; i < root.n; i++) {
		struct astro_attr a;

		assert_int_equal(P.getattr(f->priv, root.v[i], &a), 0);
		if (!strcmp(root.v[i], ".ingest"))
			continue;
		if (a.kind == ASTRO_DIR) {
			years.n = 0;
			assert_int_equal(P.readdir(f->priv, root.v[i], collect, &years), 0);
			assert_int_equal(years.n, 1);
			assert_string_equal(years.v[0], "2021");
			snprintf(p, sizeof(p), "%s/2021", root.v[i]);
			days.n = 0;
			assert_int_equal(P.readdir(f->priv, p, collect, &days), 0);
			assert_true(days.n >= 1);
			for (int d = 0; d < days.n; d++) {
				char q[300];

				snprintf(q, sizeof(q), "%s/%s", p, days.v[d]);
				free(read_all(f, q, 100, &n));
				assert_int_equal(size_of(f, q), n);
				files++;
			}
			continue;
		}
		free(read_all(f, root.v[i], 333, &n));
		assert_int_equal(a.size, n);
		files++;
	}
	assert_true(files >= 14);
	char *svg = read_all(f, "SA_ZFGDETID.svg", 50, &n);

	assert_true(strncmp(svg, "<?xml", 5) == 0);
	assert_non_null(strstr(svg, "viewBox=\"0 0 920 400\""));
	assert_non_null(strstr(svg, "</svg>\n"));
	free(svg);
	/* states are plotted too (steps), and every plot has its PNG */
	svg = read_all(f, "MODE.svg", 50, &n);
	assert_non_null(strstr(svg, "</svg>\n"));
	free(svg);
	svg = read_all(f, "MODE.png", 50, &n);
	assert_memory_equal(svg, "\x89PNG\r\n\x1a\n", 8);
	free(svg);
	char *mode = read_all(f, "MODE.5min.csv", 50, &n);

	/*
	 * By hand: 2021:026:00:00:00 UTC = 1611619200 + 37 + 32.184 - 883612800
	 * = 728006469.184 s; 328-s bins 2219531 = [728006168, 728006496) holds
	 * 00:00 (NPNT), 2219532 holds 00:01 and 00:02 (NMAN, NPNT: midval
	 * vals[1] = NPNT); 2021:027 = 728092869.184 s falls in 2219795.
	 * Middles: index·328 + 164.
	 */
	assert_string_equal(mode, "date,secs,index,samples,midval,\"n_A,B\",n_NMAN,n_NPNT\n"
			    "2021:025:23:57:42.816,728006332,2219531,1,NPNT,0,0,1\n"
			    "2021:026:00:03:10.816,728006660,2219532,2,NPNT,0,1,1\n"
			    "2021:027:00:00:54.816,728092924,2219795,1,\"A,B\",1,0,0\n");
	free(mode);
}

static void idempotent_and_bad_files_leave_no_trace(void **state)
{
	struct fx *f = *state;
	char *a, *b;
	size_t na, nb;

	if (ingest_shared(f, JW "sa_zfgdetid_data.json") == -ENOENT)
		skip();
	a = read_all(f, "INDEX.csv", 4096, &na);
	assert_int_equal(ingest_shared(f, JW "sa_zfgdetid_data.json"), 0);
	assert_int_equal(ingest_text(f, "bad.csv", "msid,time,value\nNEW,2021:001,1\nSA_ZFGDETID,2021:001,x\n"), -EINVAL);
	b = read_all(f, "INDEX.csv", 4096, &nb);
	assert_string_equal(a, b);
	assert_non_null(strstr(a, "SA_ZFGDETID,,int,52,2021:026:02:28:58.051,"));
	struct astro_attr at;

	assert_int_equal(P.getattr(f->priv, "NEW.csv", &at), -ENOENT);
	/* the ledger lists the file once, with its real sha256 (sha256sum of the fixture) */
	free(a);
	a = read_all(f, ".ingest/ledger.csv", 100, &na);
	assert_int_equal(size_of(f, ".ingest/ledger.csv"), na);
	{
		const char *h = "name,sha256,tstart,tstop,rows,ingest_id,committed_at\nsa_zfgdetid_data.json,";

		assert_true(strncmp(a, h, strlen(h)) == 0);
	}
	{
		char cmd[600], path[512], sum[80] = "";
		FILE *ps;

		assert_non_null(unit_shared(JW "sa_zfgdetid_data.json", path, sizeof(path)));
		snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
		ps = popen(cmd, "r");
		assert_non_null(ps);
		assert_non_null(fgets(sum, 65, ps));
		pclose(ps);
		assert_non_null(strstr(a, sum));
		assert_non_null(strstr(a, ",2021:026:02:28:58.051,"));
		assert_non_null(strstr(a, ",52,1,"));
	}
	free(a);
	free(b);
}

static void open_file_keeps_its_snapshot(void **state)
{
	struct fx *f = *state;
	struct astro_file file = {0};
	char *buf;
	size_t n1, total = 0;
	char *before, *after;
	int rc;

	if (ingest_shared(f, JW "sa_zattest2_data.json") == -ENOENT)
		skip();
	before = read_all(f, "SA_ZATTEST2.csv", 4096, &n1);
	buf = malloc(n1 + 4096);
	assert_int_equal(P.open(f->priv, "SA_ZATTEST2.csv", O_RDONLY, &file), 0);
	rc = P.read(f->priv, "SA_ZATTEST2.csv", &file, buf, 1000, 0);
	assert_int_equal(rc, 1000);
	total = 1000;
	/* an ingest commits mid-read: new samples before, inside and after */
	assert_int_equal(ingest_text(f, "late.csv", "msid,time,value\nSA_ZATTEST2,2021:001,1\n"
				     "SA_ZATTEST2,2021:026:02:30:00.000,2\nSA_ZATTEST2,2022:001,3\n"), 0);
	while ((rc = P.read(f->priv, "SA_ZATTEST2.csv", &file, buf + total, 4096, (off_t)total)) > 0)
		total += (size_t)rc;
	P.release(f->priv, "SA_ZATTEST2.csv", &file);
	assert_int_equal(total, n1);
	assert_memory_equal(buf, before, n1);
	free(buf);
	after = read_all(f, "SA_ZATTEST2.csv", 4096, &total);
	assert_int_equal(size_of(f, "SA_ZATTEST2.csv"), total);
	assert_true(total > n1);
	assert_non_null(strstr(after, "2022:001:00:00:00.000,757382469.184,3\n"));
	free(before);
	free(after);
}

static void ranges_days_and_stats_agree(void **state)
{
	struct fx *f = *state;
	char *full, *rng, *day, *s5, *s5r, *sd;
	size_t nf, nr, nd, n5, n5r, nsd;
	long samples = 0;

	if (ingest_shared(f, JW "sa_zattest3_data.json") == -ENOENT)
		skip();
	full = read_all(f, "SA_ZATTEST3.csv", 4096, &nf);
	day = read_all(f, "SA_ZATTEST3/2021/026.csv", 4096, &nd);
	assert_string_equal(full, day);
	/* [02:30:00, 02:31:00): exactly the lines whose date lies there */
	rng = read_all(f, "SA_ZATTEST3@2021:026:02:30:00..2021-01-26T02:31:00Z.csv", 4096, &nr);
	{
		char want[1 << 17], *save = NULL, *copy = strdup(full), *line;
		size_t w = 0;

		w += (size_t)snprintf(want, sizeof(want), "date,secs,value\n");
		strtok_r(copy, "\n", &save);
		while ((line = strtok_r(NULL, "\n", &save)))
			if (strncmp(line, "2021:026:02:30:", 15) == 0)
				w += (size_t)snprintf(want + w, sizeof(want) - w, "%s\n", line);
		assert_true(w > 200);
		assert_string_equal(rng, want);
		free(copy);
	}
	/* the 5-minute bins count every sample once */
	s5 = read_all(f, "SA_ZATTEST3.5min.csv", 4096, &n5);
	{
		char *save = NULL, *copy = strdup(s5), *line;

		strtok_r(copy, "\n", &save);
		while ((line = strtok_r(NULL, "\n", &save))) {
			char *c = line;

			for (int k = 0; k < 3; k++)
				c = strchr(c, ',') + 1;
			samples += strtol(c, NULL, 10);
		}
		free(copy);
	}
	assert_int_equal(samples, 1607);
	/* a range covering everything gives the same bins */
	s5r = read_all(f, "SA_ZATTEST3@2021:026..2021:027.5min.csv", 4096, &n5r);
	assert_string_equal(s5, s5r);
	sd = read_all(f, "SA_ZATTEST3.daily.csv", 4096, &nsd);
	assert_non_null(strstr(sd, "date,secs,index,samples,min,max,mean,midval,std,p01,p05,p16,p50,p84,p95,p99\n"));
	assert_non_null(strstr(sd, ",1607,"));
	free(full);
	free(rng);
	free(day);
	free(s5);
	free(s5r);
	free(sd);
}

static void errors_as_documented(void **state)
{
	struct fx *f = *state;
	struct astro_attr a;
	struct astro_file file = {0};
	char *s;
	size_t n;

	assert_int_equal(ingest_text(f, "x.csv", "msid,time,value\nX,2020:001,1.5\n"), 0);
	assert_int_equal(P.getattr(f->priv, "NOPE.csv", &a), -ENOENT);
	assert_int_equal(P.getattr(f->priv, "NOPE", &a), -ENOENT);
	assert_int_equal(P.getattr(f->priv, "X.txt", &a), -ENOENT);
	assert_int_equal(P.getattr(f->priv, "X@2020:002..2020:001.csv", &a), -EINVAL);
	assert_int_equal(P.getattr(f->priv, "X@yesterday..2020:001.csv", &a), -EINVAL);
	assert_int_equal(P.getattr(f->priv, "X/2019", &a), -ENOENT);
	assert_int_equal(P.getattr(f->priv, "X/2020", &a), 0);
	assert_int_equal(a.kind, ASTRO_DIR);
	s = read_all(f, "X@2019:001..2019:002.csv", 10, &n);
	assert_string_equal(s, "date,secs,value\n");
	free(s);
	assert_int_equal(P.open(f->priv, "X.csv", O_WRONLY, &file), -EROFS);
	assert_int_equal(P.open(f->priv, "X", O_RDONLY, &file), -EISDIR);
	assert_null(P.write);
	s = read_all(f, "BAD_TIMES", 10, &n);
	assert_int_equal(n, 0);
	free(s);
}

static void bad_times_change_sizes_and_content(void **state)
{
	struct fx *f = *state;
	const char *tbl = "x 2020:001:00:00:01 2020:001:00:00:02\n";
	char err[256], *s;
	uint64_t before;
	size_t n;

	assert_int_equal(ingest_text(f, "x.csv", "msid,time,value\nX,2020:001:00:00:00,1\n"
				     "X,2020:001:00:00:01,2\nX,2020:001:00:00:02,3\nX,2020:001:00:00:03,4\n"), 0);
	before = size_of(f, "X.csv");
	assert_int_equal(astro_tlm_archive_set_badtimes(astro_prov_telemetry_archive(f->priv), tbl,
							strlen(tbl), err, sizeof(err)), 0);
	/* closed interval: the samples at :01 and :02 both go */
	s = read_all(f, "X.csv", 64, &n);
	assert_int_equal(size_of(f, "X.csv"), n);
	assert_true(n < before);
	assert_string_equal(s, "date,secs,value\n2020:001:00:00:00.000,694224069.184,1\n"
			    "2020:001:00:00:03.000,694224072.184,4\n");
	free(s);
	s = read_all(f, "X.5min.csv", 64, &n);
	assert_non_null(strstr(s, ",2,1,4,"));	/* samples 2, min 1, max 4 */
	free(s);
	s = read_all(f, "BAD_TIMES", 64, &n);
	assert_string_equal(s, tbl);
	assert_int_equal(size_of(f, "BAD_TIMES"), n);
	free(s);
}

/* The rows of `full` whose secs lie in [t0, t1), with the header. */
static char *filter_rows(const char *full, int64_t t0, int64_t t1)
{
	char *out = malloc(strlen(full) + 1), *copy = strdup(full), *save = NULL, *line;
	size_t n = 0;

	line = strtok_r(copy, "\n", &save);
	n += (size_t)snprintf(out, strlen(full) + 1, "%s\n", line);
	while ((line = strtok_r(NULL, "\n", &save))) {
		char *secs = strchr(line, ',') + 1, *end = strchr(secs, ',');
		int64_t t;

		assert_int_equal(astro_tlm_time_parse_secs(secs, (size_t)(end - secs), &t, NULL, 0), 0);
		if (t >= t0 && t < t1)
			n += (size_t)snprintf(out + n, strlen(full) + 1 - n, "%s\n", line);
	}
	free(copy);
	return out;
}

static int64_t TT(const char *s)
{
	int64_t t;

	assert_int_equal(astro_tlm_time_parse(s, strlen(s), &t, NULL, 0), 0);
	return t;
}

/* Ranges that start and end inside days, on day edges, or inside one day. */
static void ranges_across_days(void **state)
{
	struct fx *f = *state;
	static const char *ranges[][2] = {
		{"2020:001:12:00:00", "2020:003:06:00:00"},
		{"2020:001", "2020:003"},
		{"2020:001:03:00:00", "2020:001:09:00:00"},
		{"2019:300", "2020:002:00:00:00.001"},
		{"2020:002:23:59:59", "2021:001"},
		{"2020:003:01:00:00", "2020:003:01:00:00"},
	};
	char csv[8192], *full;
	size_t n = 0, nf;

	n += (size_t)snprintf(csv, sizeof(csv), "msid,time,value\n");
	for (int h = 0; h < 72; h += 3)
		n += (size_t)snprintf(csv + n, sizeof(csv) - n, "X,2020:%03d:%02d:00:00,%d.25\n",
				      1 + h / 24, h % 24, h);
	assert_int_equal(ingest_text(f, "days.csv", csv), 0);
	full = read_all(f, "X.csv", 100, &nf);
	assert_int_equal(size_of(f, "X.csv"), nf);
	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(ranges); i++) {
		char path[200], *got, *want;
		size_t ng;

		snprintf(path, sizeof(path), "X@%s..%s.csv", ranges[i][0], ranges[i][1]);
		got = read_all(f, path, 37, &ng);
		want = filter_rows(full, TT(ranges[i][0]), TT(ranges[i][1]));
		assert_string_equal(got, want);
		assert_int_equal(size_of(f, path), ng);
		free(got);
		free(want);
	}
	for (int d = 1; d <= 3; d++) {
		char path[64], from[32], to[32], *got, *want;
		size_t ng;

		snprintf(path, sizeof(path), "X/2020/%03d.csv", d);
		snprintf(from, sizeof(from), "2020:%03d", d);
		snprintf(to, sizeof(to), "2020:%03d", d + 1);
		got = read_all(f, path, 64, &ng);
		want = filter_rows(full, TT(from), TT(to));
		assert_string_equal(got, want);
		assert_int_equal(size_of(f, path), ng);
		free(got);
		free(want);
	}
	free(full);
}

/*
 * A range shorter than a day is kept whole when its text fits 2 MiB and
 * rendered as read when it does not: both equal the full file's rows, at
 * any offset, after a getattr or not, as CSV and as .npy.  20 Hz for 1.5
 * hours: a 10-minute range is ~0.5 MB, a 70-minute one ~3.5 MB.
 */
static void short_ranges_whole_or_not(void **state)
{
	struct fx *f = *state;
	static const char *ranges[][2] = {
		{"2020:001:00:10:00", "2020:001:00:20:00"},
		{"2020:001:00:10:00", "2020:001:01:20:00"},
	};
	size_t cap = 108000 * 48 + 64, n = 0, nf;
	char *csv = malloc(cap), *full;

	n += (size_t)snprintf(csv, cap, "msid,time,value\n");
	for (int i = 0; i < 108000; i++)
		n += (size_t)snprintf(csv + n, cap - n, "Y,2020:001:%02d:%02d:%02d.%03d,%d.%02d\n",
				      i / 72000, i / 1200 % 60, i / 20 % 60, i % 20 * 50, i % 997, i % 100);
	assert_true(n < cap);
	assert_int_equal(ingest_text(f, "fast.csv", csv), 0);
	free(csv);
	full = read_all(f, "Y.csv", 1 << 16, &nf);
	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(ranges); i++) {
		char path[200], npy[200], *got, *want, buf[5000];
		struct astro_file file = {0};
		size_t ng, nn;

		snprintf(path, sizeof(path), "Y@%s..%s.csv", ranges[i][0], ranges[i][1]);
		want = filter_rows(full, TT(ranges[i][0]), TT(ranges[i][1]));
		ng = strlen(want);
		assert_true(i == 0 ? ng < (2u << 20) : ng > (2u << 20));
		/* open straight away (the listener), then after a getattr (a mount) */
		got = read_all(f, path, 4096, &nn);
		assert_int_equal(nn, ng);
		assert_string_equal(got, want);
		free(got);
		assert_int_equal(size_of(f, path), ng);
		got = read_all(f, path, 37, &nn);
		assert_string_equal(got, want);
		free(got);
		assert_int_equal(P.open(f->priv, path, O_RDONLY, &file), 0);
		for (int k = 0; k < 300; k++) {
			uint32_t r[2];
			size_t off, len, exp;
			int rc;

			astro_random(r, sizeof(r));
			off = r[0] % (ng + 50);
			len = 1 + r[1] % sizeof(buf);
			exp = off >= ng ? 0 : (ng - off < len ? ng - off : len);
			rc = P.read(f->priv, path, &file, buf, len, (off_t)off);
			assert_int_equal(rc, (int)exp);
			assert_memory_equal(buf, want + (off < ng ? off : ng), exp);
		}
		P.release(f->priv, path, &file);
		/* the .npy of the range: its header's row count, then 16 bytes a row */
		snprintf(npy, sizeof(npy), "Y@%s..%s.npy", ranges[i][0], ranges[i][1]);
		got = read_all(f, npy, 4096, &nn);
		{
			size_t rows = 0, hl;
			char shape[64];

			for (const char *q = want; (q = strchr(q, '\n')); q++)
				rows++;
			rows--;	/* the CSV header line */
			hl = (size_t)(unsigned char)got[8] | (size_t)(unsigned char)got[9] << 8;
			snprintf(shape, sizeof(shape), "'shape': (%zu,)", rows);
			assert_non_null(memmem(got, nn, shape, strlen(shape)));
			assert_int_equal(nn, 10 + hl + rows * 16);
			assert_int_equal(size_of(f, npy), nn);
		}
		free(got);
		free(want);
	}
	free(full);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(reads_back_the_jwst_fixture_exactly, setup, teardown),
		cmocka_unit_test_setup_teardown(every_listed_file_has_its_exact_size, setup, teardown),
		cmocka_unit_test_setup_teardown(idempotent_and_bad_files_leave_no_trace, setup, teardown),
		cmocka_unit_test_setup_teardown(open_file_keeps_its_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(ranges_days_and_stats_agree, setup, teardown),
		cmocka_unit_test_setup_teardown(errors_as_documented, setup, teardown),
		cmocka_unit_test_setup_teardown(random_offsets_match, setup, teardown),
		cmocka_unit_test_setup_teardown(ranges_across_days, setup, teardown),
		cmocka_unit_test_setup_teardown(short_ranges_whole_or_not, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_times_change_sizes_and_content, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

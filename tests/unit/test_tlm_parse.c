#include "unit.h"
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include "core/astro.h"
#include "telemetry/tlm_parse.h"
#include "telemetry/tlm_time.h"

static int parse_csv(const char *text, struct astro_tlm_batch *b, char *err, size_t n)
{
	astro_tlm_parse_batch_init(b);
	return astro_tlm_parse_csv(text, strlen(text), b, err, n);
}

static int64_t T(const char *s)
{
	int64_t t;

	assert_int_equal(astro_tlm_time_parse(s, strlen(s), &t, NULL, 0), 0);
	return t;
}

static void csv_accepts_and_types(void **state)
{
	const char *csv =
		"\xEF\xBB\xBFMSID, Time ,value,quality\r\n"
		"aopcadmd,2016:366:23:59:60.000,NPNT   ,0\r\n"
		"AOPCADMD,2017-01-01T00:00:00Z,\"NMAN, slewing\",bad\r\n"
		"\r\n"
		"tephin,2013:001:00:00:00.5,113.798,\n"
		"TEPHIN,2013:001:00:00:01.5,114,false\n"
		"CNT,2013:001,-7\n"
		"CNT,2013:002,9007199254740993\n"
		"ST,2013:001,1\n"
		"ST,2013:002,ON\n";
	struct astro_tlm_batch b;
	char err[160] = "";

	(void)state;
	assert_int_equal(parse_csv(csv, &b, err, sizeof(err)), 0);
	assert_int_equal(b.n, 8);
	assert_int_equal(b.nmsid, 4);
	assert_string_equal(b.msid[0].name, "AOPCADMD");
	assert_int_equal(b.msid[0].type, ASTRO_TLM_STATE);
	assert_int_equal(b.s[0].t, T("2016-12-31T23:59:60"));
	/* cheta pads states with blanks: stripped */
	assert_int_equal(b.s[0].tlen, 4);
	assert_memory_equal(b.text + b.s[0].toff, "NPNT", 4);
	assert_int_equal(b.s[1].bad, 1);
	assert_int_equal(b.s[1].tlen, 13);
	assert_memory_equal(b.text + b.s[1].toff, "NMAN, slewing", 13);
	/* one float makes TEPHIN FLOAT; 114 becomes 114.0 */
	assert_int_equal(b.msid[1].type, ASTRO_TLM_FLOAT);
	assert_true(b.s[2].v.f == 113.798);
	assert_true(b.s[3].v.f == 114.0);
	assert_int_equal(b.s[3].bad, 0);
	/* all-integer MSID keeps int64 exactly (above 2^53) */
	assert_int_equal(b.msid[2].type, ASTRO_TLM_INT);
	assert_int_equal(b.s[4].v.i, -7);
	assert_int_equal(b.s[5].v.i, 9007199254740993LL);
	assert_int_equal(b.s[4].t, T("2013:001:00:00:00"));
	/* text anywhere makes a state MSID; the number keeps its text */
	assert_int_equal(b.msid[3].type, ASTRO_TLM_STATE);
	assert_int_equal(b.s[6].type, ASTRO_TLM_STATE);
	assert_memory_equal(b.text + b.s[6].toff, "1", 1);
	astro_tlm_parse_batch_free(&b);
}

struct reject_case {
	const char *in, *want;
};

/* Each input must fail with -EINVAL and an error containing `want`. */
static void expect_rejects(const struct reject_case *c, size_t n,
			   int (*parse)(const char *, size_t, struct astro_tlm_batch *, char *, size_t))
{
	struct astro_tlm_batch b;
	char err[256];

	for (size_t i = 0; i < n; i++) {
		err[0] = '\0';
		astro_tlm_parse_batch_init(&b);
		assert_int_equal(parse(c[i].in, strlen(c[i].in), &b, err, sizeof(err)), -EINVAL);
		if (!strstr(err, c[i].want))
			fail_msg("case %zu: want \"%s\" in \"%s\"", i, c[i].want, err);
		assert_int_equal(b.n, 0);
		astro_tlm_parse_batch_free(&b);
	}
}

static void csv_rejects_with_line(void **state)
{
	static const struct reject_case cases[] = {
		{"", "empty file"},
		{"a,b,c\n", "line 1: header"},
		{"msid,time,value\n", "no samples"},
		{"msid,time,value\nX,2013:001,1\nX,2013:001\n", "line 3: 2 fields"},
		{"msid,time,value\nX,2013:001,1\nX,2013:001,1,0\n", "line 3: 4 fields"},
		{"msid,time,value\nX Y,2013:001,1\n", "line 2: msid"},
		{"msid,time,value\nX,2013:400,1\n", "line 2: time"},
		{"msid,time,value\nX,2013:001,\n", "line 2: value: empty"},
		{"msid,time,value\nX,2013:001,nan\n", "line 2: value: NaN"},
		{"msid,time,value\nX,2013:001,1e999\n", "line 2: value"},
		{"msid,time,value\nX,2013:001,1.2.3\n", "line 2: value"},
		{"msid,time,value\nX,2013:001,\"ON\n", "line 2: unbalanced"},
		{"msid,time,value,quality\nX,2013:001,1,maybe\n", "line 2: quality"},
		{"msid,time,value\n\nX,2013:001,1\nX,2013:001:25:00:00,1\n", "line 4: time"},
		{"msid,time,value,unit,unit\nX,2013:001,1\n", "line 1: header"},
		{"msid,time,value,quality,quality\nX,2013:001,1\n", "line 1: header"},
		{"msid,time,value,units\nX,2013:001,1\n", "line 1: header"},
		{"msid,time,value,unit\nX,2013:001,1,V\nX,2013:002,1,A\n", "line 3: unit: differs"},
		{"msid,time,value,unit\nX,2013:001,1,abcdefghijklmnopqrstuvwxyz0123456\n", "line 2: unit: longer"},
		{"msid,time,value,unit\nX,2013:001,1,\"a\tb\"\n", "line 2: unit: control"},
		{"msid,time,value,quality,unit\nX,2013:001,1,0,V,x\n", "line 2: more than 5 fields"},
	};
	(void)state;
	expect_rejects(cases, ASTRO_ARRAY_SIZE(cases), astro_tlm_parse_csv);
}

/* Every JWST EDB fixture loads and equals its independent python flattening. */
static void jwst_fixtures_match_derived_csv(void **state)
{
	static const char *dirs[] = {"engdb_2021_groundtest", "engdb_jw01029_flight2022"};
	char path[512], dpath[512], err[256];
	int files = 0;

	(void)state;
	if (!unit_shared("data/telemetry/jwst_edb/meta.json", path, sizeof(path)))
		skip();
	for (size_t d = 0; d < ASTRO_ARRAY_SIZE(dirs); d++) {
		char rel[256];
		DIR *dir;
		struct dirent *de;

		snprintf(rel, sizeof(rel), "data/telemetry/jwst_edb/%s", dirs[d]);
		assert_non_null(unit_shared(rel, path, sizeof(path)));
		dir = opendir(path);
		assert_non_null(dir);
		while ((de = readdir(dir))) {
			struct astro_tlm_batch b;
			size_t len = 0, dl = 0;
			char *buf, *dbuf, *line, *save = NULL;
			char fpath[1024];

			if (!strstr(de->d_name, "_data.json"))
				continue;
			snprintf(fpath, sizeof(fpath), "%s/%s", path, de->d_name);
			buf = unit_slurp(fpath, &len);
			assert_non_null(buf);
			astro_tlm_parse_batch_init(&b);
			if (astro_tlm_parse_any(buf, len, &b, err, sizeof(err)))
				fail_msg("%s: %s", fpath, err);
			assert_int_equal(b.nmsid, 1);
			snprintf(rel, sizeof(rel), "data/telemetry/jwst_edb/derived_csv/%s__%s.csv",
				 dirs[d], b.msid[0].name);
			assert_non_null(unit_shared(rel, dpath, sizeof(dpath)));
			dbuf = unit_slurp(dpath, &dl);
			assert_non_null(dbuf);
			size_t k = 0;

			strtok_r(dbuf, "\n", &save);	/* header */
			while ((line = strtok_r(NULL, "\n", &save))) {
				char *f2 = strchr(line, ',') + 1, *f3 = strchr(f2, ','), *f4, *e;
				long long ms = strtoll(f2, &e, 10);
				int64_t t;

				f4 = strrchr(line, ',') + 1;
				assert_true(k < b.n);
				assert_int_equal(astro_tlm_time_from_unix_ms(ms, &t), 0);
				assert_int_equal(b.s[k].t, t);
				(void)f3;
				if (b.msid[0].type == ASTRO_TLM_INT)
					assert_int_equal(b.s[k].v.i, strtoll(f4, &e, 10));
				else
					assert_true(b.s[k].v.f == strtod(f4, &e));
				k++;
			}
			assert_int_equal(k, b.n);
			files++;
			free(dbuf);
			free(buf);
			astro_tlm_parse_batch_free(&b);
		}
		closedir(dir);
	}
	assert_int_equal(files, 7 + 29);
}

static void json_rejects_with_record(void **state)
{
	static const struct reject_case cases[] = {
		{"{", "JSON line 1"},
		{"[]", "not an object"},
		{"{\"Data\":[]}", "TlmMnemonic"},
		{"{\"TlmMnemonic\":\"A B\",\"Data\":[]}", "TlmMnemonic"},
		{"{\"TlmMnemonic\":\"A\",\"Data\":[]}", "Data is empty"},
		{"{\"TlmMnemonic\":\"A\",\"Count\":2,\"Data\":[{\"ObsTime\":\"/Date(1611628138051+0000)/\",\"EUValue\":1}]}", "Count"},
		{"{\"TlmMnemonic\":\"A\",\"Data\":[{\"ObsTime\":\"/Date(1611628138051+0000)/\",\"EUValue\":1},{\"ObsTime\":\"/Date(x)/\",\"EUValue\":1}]}", "record 2: ObsTime"},
		{"{\"TlmMnemonic\":\"A\",\"Data\":[{\"ObsTime\":\"/Date(1611628138051+0000)/\"}]}", "record 1: EUValue"},
		{"{\"TlmMnemonic\":\"A\",\"Data\":[{\"ObsTime\":\"/Date(1611628138051+0000)/\",\"EUValue\":null}]}", "record 1: EUValue"},
		{"{\"TlmMnemonic\":\"A\",\"Data\":[3]}", "record 1"},
		{"{\"TlmMnemonic\":\"A\",\"TlmMnemonic\":\"B\",\"Data\":[]}", "duplicate"},
		{"{\"TlmMnemonic\":\"A\",\"Unit\":3,\"Data\":[{\"ObsTime\":\"/Date(1611628138051+0000)/\",\"EUValue\":1}]}", "Unit"},
	};
	(void)state;
	expect_rejects(cases, ASTRO_ARRAY_SIZE(cases), astro_tlm_parse_any);
}

static void json_state_values(void **state)
{
	const char *j = "{\"TlmMnemonic\":\"x_state\",\"Data\":["
			"{\"ObsTime\":\"/Date(1611628138051+0000)/\",\"EUValue\":\"ON  \"},"
			"{\"ObsTime\":\"/Date(1611628139051+0000)/\",\"EUValue\":2}]}";
	struct astro_tlm_batch b;
	char err[256] = "";

	(void)state;
	astro_tlm_parse_batch_init(&b);
	assert_int_equal(astro_tlm_parse_any(j, strlen(j), &b, err, sizeof(err)), 0);
	assert_string_equal(b.msid[0].name, "X_STATE");
	assert_int_equal(b.msid[0].type, ASTRO_TLM_STATE);
	assert_int_equal(b.s[0].tlen, 2);
	assert_memory_equal(b.text + b.s[0].toff, "ON", 2);
	assert_int_equal(b.s[1].tlen, 1);
	assert_memory_equal(b.text + b.s[1].toff, "2", 1);
	astro_tlm_parse_batch_free(&b);
}

static void badtimes_real_tables(void **state)
{
	struct astro_tlm_badtimes bt;
	char path[512], err[256] = "";
	size_t len = 0;
	char *buf;

	(void)state;
	if (!unit_shared("data/telemetry/chandra_cheta/msid_bad_times.dat", path, sizeof(path)))
		skip();
	buf = unit_slurp(path, &len);
	assert_int_equal(astro_tlm_parse_badtimes(buf, len, &bt, err, sizeof(err)), 0);
	assert_int_equal(bt.n, 13);
	assert_string_equal(bt.v[0].glob, "AOGBIAS1");
	assert_int_equal(bt.v[0].start, T("2008:292:00:00:00"));
	assert_int_equal(bt.v[0].stop, T("2008:297:00:00:00"));
	assert_string_equal(bt.v[12].glob, "AOSARES1");
	/* closed interval: both ends bad, one µs outside good */
	assert_true(astro_tlm_parse_badtimes_match(&bt, "AOGBIAS1", T("2008:292:00:00:00")));
	assert_true(astro_tlm_parse_badtimes_match(&bt, "AOGBIAS1", T("2008:297:00:00:00")));
	assert_false(astro_tlm_parse_badtimes_match(&bt, "AOGBIAS1", T("2008:297:00:00:00") + 1));
	assert_false(astro_tlm_parse_badtimes_match(&bt, "AOGBIAS1", T("2008:292:00:00:00") - 1));
	assert_false(astro_tlm_parse_badtimes_match(&bt, "AOGBIAS4", T("2008:293:00:00:00")));
	astro_tlm_parse_badtimes_free(&bt);
	free(buf);

	assert_non_null(unit_shared("data/telemetry/jeta/msid_bad_times.dat", path, sizeof(path)));
	buf = unit_slurp(path, &len);
	assert_int_equal(astro_tlm_parse_badtimes(buf, len, &bt, err, sizeof(err)), 0);
	assert_int_equal(bt.n, 0);
	astro_tlm_parse_badtimes_free(&bt);
	free(buf);
}

static void badtimes_globs_and_garbage(void **state)
{
	const char *ok = "aogbias*  2008:001 2008:002  # all three\n\n"
			 "TEPHIN 2013-01-01T00:00:00Z 2013-01-01T00:00:00Z\n";
	static const struct { const char *in, *want; } bad[] = {
		{"X 2008:001\n", "line 1: want"},
		{"# c\nX 2008:001 2008:002 extra\n", "line 2: want"},
		{"X/Y 2008:001 2008:002\n", "line 1: MSID"},
		{"X 2008:002 2008:001\n", "line 1: stop before start"},
		{"X 2008:001 tomorrow\n", "line 1: stop"},
		{"X 2008-13-01 2009:001\n", "line 1: start"},
	};
	struct astro_tlm_badtimes bt;
	char err[256];

	(void)state;
	assert_int_equal(astro_tlm_parse_badtimes(ok, strlen(ok), &bt, err, sizeof(err)), 0);
	assert_int_equal(bt.n, 2);
	assert_true(astro_tlm_parse_badtimes_match(&bt, "AOGBIAS3", T("2008:001:12:00:00")));
	assert_false(astro_tlm_parse_badtimes_match(&bt, "AOGBIA", T("2008:001:12:00:00")));
	assert_true(astro_tlm_parse_badtimes_match(&bt, "TEPHIN", T("2013:001")));
	astro_tlm_parse_badtimes_free(&bt);
	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		assert_int_equal(astro_tlm_parse_badtimes(bad[i].in, strlen(bad[i].in), &bt, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].want))
			fail_msg("case %zu: want \"%s\" in \"%s\"", i, bad[i].want, err);
		assert_int_equal(bt.n, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(csv_accepts_and_types),
		cmocka_unit_test(csv_rejects_with_line),
		cmocka_unit_test(jwst_fixtures_match_derived_csv),
		cmocka_unit_test(json_rejects_with_record),
		cmocka_unit_test(json_state_values),
		cmocka_unit_test(badtimes_real_tables),
		cmocka_unit_test(badtimes_globs_and_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

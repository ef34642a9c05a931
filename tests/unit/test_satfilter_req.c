/*
 * test_satfilter_req — the streaming /satfilter request reader.
 *
 * Numbers against glibc's strtod bit for bit (random decimal texts of
 * every shape, and the edges of the fast path); fields and their kinds;
 * sources with members in any order and unknown members at any depth;
 * the first malformed element named as the whole-element checks would
 * name it; malformed JSON refused with the byte offset; the source limit.
 * (fuzz_satfilter_sfreq compares the reader with a jansson reading.)
 */
#include "unit.h"
#include <errno.h>
#include <math.h>
#include "satfilter/satfilter_req.h"

static void parse_ok(const char *req, size_t max, struct astro_sfreq *r)
{
	char err[256] = "";
	int rc = astro_satfilter_req_parse(req, strlen(req), max, r, err, sizeof(err));

	if (rc)
		fail_msg("refused %s: %s", req, err);
}

static void refused(const char *req, const char *why)
{
	struct astro_sfreq r;
	char err[256] = "";

	if (astro_satfilter_req_parse(req, strlen(req), 10, &r, err, sizeof(err)) != -EINVAL)
		fail_msg("accepted %s", req);
	if (strncmp(err, "malformed JSON at byte ", 23) != 0 || !strstr(err, why))
		fail_msg("for %s: message '%s' lacks '%s'", req, err, why);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned next(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static void same_as_strtod(const char *s)
{
	double want = strtod(s, NULL), got = -1;
	int rc = astro_satfilter_req_number(s, strlen(s), &got);

	if (isinf(want)) {
		assert_int_equal(rc, -ERANGE);
		return;
	}
	assert_int_equal(rc, 0);
	if (memcmp(&want, &got, sizeof(double)) != 0)
		fail_msg("%s: strtod %.17g, reader %.17g", s, want, got);
}

static void numbers_round_as_strtod(void **state)
{
	static const char *const edge[] = {
		"0", "-0", "-0.0", "0.0e0", "1", "-1", "0.1", "0.3", "1e22", "1e23",
		"123456789012345", "1234567890123456", "12345678901234567890",
		"9007199254740993", "0.000000000000000000001", "1e-22", "1e-23",
		"2.2250738585072014e-308", "4.9e-324", "1e-400", "1.7976931348623157e308",
		"1.7976931348623159e308", "1e309", "-1e400", "1E5", "1e+5", "1.5E-3",
		"89255.0e-22", "123.456789012345", "58836.30035", "-27.900000",
		"0.000123456789012345678", "100000000000000000000000", "1e0000000000000005",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++)
		same_as_strtod(edge[i]);
	for (int n = 0; n < 200000; n++) {
		char s[80];
		size_t k = 0;
		unsigned ip = 1 + next(12), fp = next(3) ? next(14) : 0;

		if (next(4) == 0)
			s[k++] = '-';
		s[k++] = (char)('0' + (ip == 1 ? next(10) : 1 + next(9)));
		for (unsigned d = 1; d < ip; d++)
			s[k++] = (char)('0' + next(10));
		if (fp) {
			s[k++] = '.';
			for (unsigned d = 0; d < fp; d++)
				s[k++] = (char)('0' + next(10));
		}
		if (next(3) == 0)
			k += (size_t)snprintf(s + k, sizeof(s) - k, "e%s%u",
					      next(2) ? "-" : (next(2) ? "+" : ""), next(40));
		s[k] = '\0';
		same_as_strtod(s);
	}
}

static void fields_and_kinds(void **state)
{
	struct astro_sfreq r;

	(void)state;
	parse_ok(" {\"visit_id\": 42, \"exposure_start_mjd\": 58836.3, \"exposure_end_mjd\": 58836,"
		 " \"boresight_ra\": \"53\", \"note\": {\"visit_id\": [1, {\"x\": null}]},"
		 " \"historical\": false, \"visit_\\u0069d2\": 1}\n",
		 10, &r);
	assert_true(r.is_object);
	assert_int_equal(r.f[ASTRO_SFREQ_VISIT_ID].kind, ASTRO_SFREQ_INT);
	assert_int_equal(r.f[ASTRO_SFREQ_VISIT_ID].i, 42);
	assert_int_equal(r.f[ASTRO_SFREQ_EXPOSURE_START].kind, ASTRO_SFREQ_REAL);
	assert_true(r.f[ASTRO_SFREQ_EXPOSURE_START].d == 58836.3);
	assert_int_equal(r.f[ASTRO_SFREQ_EXPOSURE_END].kind, ASTRO_SFREQ_INT);
	assert_true(r.f[ASTRO_SFREQ_EXPOSURE_END].d == 58836.0);
	/* a numeric string is recorded as such (ids may be sent so) */
	assert_int_equal(r.f[ASTRO_SFREQ_BORESIGHT_RA].kind, ASTRO_SFREQ_INTSTR);
	assert_int_equal(r.f[ASTRO_SFREQ_BORESIGHT_RA].i, 53);
	assert_int_equal(r.f[ASTRO_SFREQ_BORESIGHT_DEC].kind, ASTRO_SFREQ_ABSENT);
	assert_int_equal(r.f[ASTRO_SFREQ_HISTORICAL].kind, ASTRO_SFREQ_FALSE);
	assert_int_equal(r.f[ASTRO_SFREQ_DIASOURCES].kind, ASTRO_SFREQ_ABSENT);
	astro_satfilter_req_free(&r);
	/* an escaped member name is the name */
	parse_ok("{\"visit\\u005fid\": -9223372036854775808, \"historical\": true}", 10, &r);
	assert_int_equal(r.f[ASTRO_SFREQ_VISIT_ID].i, INT64_MIN);
	assert_int_equal(r.f[ASTRO_SFREQ_HISTORICAL].kind, ASTRO_SFREQ_TRUE);
	astro_satfilter_req_free(&r);
	parse_ok("{\"visit_id\": \"-12\", \"detector_id\": \"1x\", \"boresight_ra\": \"\"}", 10, &r);
	assert_int_equal(r.f[ASTRO_SFREQ_VISIT_ID].kind, ASTRO_SFREQ_INTSTR);
	assert_int_equal(r.f[ASTRO_SFREQ_VISIT_ID].i, -12);
	assert_int_equal(r.f[ASTRO_SFREQ_DETECTOR_ID].kind, ASTRO_SFREQ_OTHER);
	assert_int_equal(r.f[ASTRO_SFREQ_BORESIGHT_RA].kind, ASTRO_SFREQ_OTHER);
	astro_satfilter_req_free(&r);
	parse_ok("[1, 2]", 10, &r);
	assert_false(r.is_object);
	astro_satfilter_req_free(&r);
	parse_ok("{\"diasources\": {\"a\": [1]}}", 10, &r);
	assert_int_equal(r.f[ASTRO_SFREQ_DIASOURCES].kind, ASTRO_SFREQ_OTHER);
	assert_false(r.sources_is_array);
	astro_satfilter_req_free(&r);
}

static void sources_in_any_order(void **state)
{
	struct astro_sfreq r;

	(void)state;
	parse_ok("{\"diasources\": [{\"diasource_id\": 7, \"bbox\": [[10.5, -20.25], [10.6, -20.25],"
		 " [10.6, -20.1]]}, {\"extra\": {\"bbox\": 1, \"diasource_id\": \"x\"}, \"bbox\":"
		 " [[0, 90], [-0.5, 89], [400, 89.5]], \"diasource_id\": \"-3\"}], \"visit_id\": 1,"
		 " \"detector_id\": 2}",
		 10, &r);
	assert_true(r.sources_is_array);
	assert_int_equal(r.nsources, 2);
	assert_int_equal(r.nkept, 2);
	assert_false(r.bad);
	assert_int_equal(r.src[0].id, 7);
	assert_int_equal(r.src[0].ncorners, 3);
	assert_true(r.src[0].corner[2][0] == 10.6 && r.src[0].corner[2][1] == -20.1);
	assert_int_equal(r.src[1].id, -3);
	assert_int_equal(r.src[1].ncorners, 3);
	assert_true(r.src[1].corner[0][0] == 0 && r.src[1].corner[0][1] == 90);
	assert_true(r.src[1].corner[1][0] == -0.5 && r.src[1].corner[2][0] == 400);
	assert_int_equal(r.f[ASTRO_SFREQ_DETECTOR_ID].i, 2);
	astro_satfilter_req_free(&r);
	/* the most corners a bbox may have, every one kept */
	parse_ok("{\"diasources\": [{\"diasource_id\": 1, \"bbox\": [[1,-1],[2,-2],[3,-3],[4,-4],"
		 "[5,-5],[6,-6],[7,-7],[8,-8]]}]}", 10, &r);
	assert_int_equal(r.nkept, 1);
	assert_int_equal(r.src[0].ncorners, 8);
	for (int k = 0; k < 8; k++)
		assert_true(r.src[0].corner[k][0] == k + 1 && r.src[0].corner[k][1] == -(k + 1));
	astro_satfilter_req_free(&r);
}

/* The first malformed element, named as a check of the whole element
 * would name it (id before bbox, the corner count before any corner,
 * corners in order). */
static void first_bad_element_named(void **state)
{
	static const struct {
		const char *elems;
		size_t kept;
		const char *msg;
	} cases[] = {
		{ "{\"diasource_id\": 1, \"bbox\": [[1,2],[1,3],[2,2]]}, 5", 1, "diasources[1] is not an object" },
		{ "{\"bbox\": [[1,2]]}", 0, "Missing column diasource_id." },
		{ "{\"bbox\": [[1,2,3]], \"diasource_id\": 1.0}", 0, "diasource_id is not an integer" },
		{ "{\"bbox\": [[1]]}", 0, "Missing column diasource_id." },
		{ "{\"diasource_id\": 1}", 0,
		  "diasources[0].bbox must be an array of 3 to 8 [ra, dec] corners" },
		{ "{\"diasource_id\": 1, \"bbox\": {}}", 0,
		  "diasources[0].bbox must be an array of 3 to 8 [ra, dec] corners" },
		{ "{\"diasource_id\": 1, \"bbox\": []}", 0,
		  "diasources[0].bbox must be an array of 3 to 8 [ra, dec] corners" },
		{ "{\"diasource_id\": 1, \"bbox\": [1,[1,1],[1,1],[1,1],[1,1],[1,1],[1,1],[1,1],[1,1]]}",
		  0, "diasources[0].bbox must be an array of 3 to 8 [ra, dec] corners" },
		{ "{\"diasource_id\": 1, \"bbox\": [[1,1],[2,\"2\"],[3,3]]}", 0,
		  "diasources[0].bbox[1] is not [ra, dec]" },
		{ "{\"diasource_id\": 1, \"bbox\": [[1,1],[2,2,2],[3,3]]}", 0,
		  "diasources[0].bbox[1] is not [ra, dec]" },
		{ "{\"diasource_id\": 1, \"bbox\": [[1,1],[2,[2]],[3,3]]}", 0,
		  "diasources[0].bbox[1] is not [ra, dec]" },
		{ "{\"diasource_id\": 1, \"bbox\": [[1,91],[2],[3,3]]}", 0,
		  "diasources[0].bbox[0]: coordinates out of range" },
		{ "{\"diasource_id\": 1, \"bbox\": [[1,1],[2,2]]}", 0,
		  "diasources[0].bbox must be an array of 3 to 8 [ra, dec] corners" },
		{ "{\"diasource_id\": 1, \"bbox\": [[1,1],[361,1],[-5,2]]}, {\"diasource_id\": 2, "
		  "\"bbox\": [[1,-90.5],[1,1],[2,2]]}",
		  1, "diasources[1].bbox[0]: coordinates out of range" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct astro_sfreq r;
		char req[512];

		snprintf(req, sizeof(req), "{\"visit_id\": 1, \"diasources\": [%s, {\"diasource_id\": 9,"
			 " \"bbox\": [[3,3],[3,4],[4,4]]}]}", cases[i].elems);
		parse_ok(req, 10, &r);
		if (!r.bad || r.nkept != cases[i].kept || strcmp(r.bad_msg, cases[i].msg) != 0)
			fail_msg("%s: bad %d kept %zu '%s'", req, r.bad, r.nkept, r.bad_msg);
		astro_satfilter_req_free(&r);
	}
}

static void malformed_refused_with_offset(void **state)
{
	(void)state;
	refused("", "premature EOF");
	refused("{\"visit_id\": 1", "premature EOF");
	refused("{\"visit_id\": 1,}", "byte");
	refused("{\"visit_id\": 1} x", "trailing garbage");
	refused("{\"visit_id\": 1} \"", "trailing garbage");
	refused("{} {}", "trailing garbage");
	refused("{\"visit_id\": 1, \"visit_id\": 2}", "member \"visit_id\" given twice");
	refused("{\"diasources\": [{\"bbox\": [[1,1]], \"bbox\": [[2,2]]}]}",
		"member \"bbox\" given twice");
	refused("{\"visit_id\": 9223372036854775808}", "64-bit range");
	refused("{\"x\": [-9223372036854775809]}", "64-bit range");
	refused("{\"x\": {\"y\": 1e999}}", "double range");
	refused("{\"x\": \"\xc0\xa1\"}", "UTF-8");
	refused("{\"\xed\xa0\x80\": 1}", "UTF-8");
	refused("{\"x\":\v1}", "control character");
	refused("{\"x\": 01}", "byte");
	refused("{'x': 1}", "byte");
	refused("{\"x\": 1} // comment", "byte");
	refused("{\"x\": NaN}", "byte");
}

static void source_limit_counts_all(void **state)
{
	struct astro_sfreq r;

	(void)state;
	parse_ok("{\"diasources\": [{\"diasource_id\": 1, \"bbox\": [[1,1],[1,2],[2,2]]}, {\"diasource_id\": 2,"
		 " \"bbox\": [[1,1],[1,2],[2,2]]}, {\"diasource_id\": 3, \"bbox\": [[1,1]]}, 4, 5, {}]}",
		 1, &r);
	assert_int_equal(r.nsources, 6);
	assert_int_equal(r.nkept, 2);	/* the limit plus one: enough to refuse */
	assert_false(r.bad);
	astro_satfilter_req_free(&r);
	parse_ok("{\"diasources\": []}", 0, &r);
	assert_int_equal(r.nsources, 0);
	assert_int_equal(r.nkept, 0);
	astro_satfilter_req_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(numbers_round_as_strtod),
		cmocka_unit_test(fields_and_kinds),
		cmocka_unit_test(sources_in_any_order),
		cmocka_unit_test(first_bad_element_named),
		cmocka_unit_test(malformed_refused_with_offset),
		cmocka_unit_test(source_limit_counts_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include "unit.h"
#include <errno.h>
#include "obs/obs_indi.h"

/* The INDI stream parser against what Debian's simulators send (indi.md),
 * fed in pieces of every size, and against garbage. */

struct seen {
	int n;
	char log[2048];
	char blob[16];
	size_t blob_len;
};

static void record(void *arg, const struct astro_obs_indi_msg *m)
{
	struct seen *s = arg;
	size_t l = strlen(s->log), i;

	s->n++;
	l += (size_t)snprintf(s->log + l, sizeof(s->log) - l, "%d%c %s.%s %s [%s]", (int)m->kind,
			      m->type ? m->type : '-', m->device, m->name,
			      astro_obs_indi_state_name(m->state), m->message);
	for (i = 0; i < m->n; i++) {
		if (m->v[i].blob) {
			memcpy(s->blob, m->v[i].blob, m->v[i].blob_len < 16 ? m->v[i].blob_len : 16);
			s->blob_len = m->v[i].blob_len;
		}
		if (m->type == 'N')
			l += (size_t)snprintf(s->log + l, sizeof(s->log) - l, " %s=%.4f",
					      m->v[i].name, m->v[i].number);
		else
			l += (size_t)snprintf(s->log + l, sizeof(s->log) - l, " %s=%s",
					      m->v[i].name, m->v[i].text);
	}
	snprintf(s->log + l, sizeof(s->log) - l, "\n");
}

static const char stream[] =
	"<defNumberVector device=\"Telescope Simulator\" name=\"EQUATORIAL_EOD_COORD\" "
	"label=\"Eq. Coordinates\" state=\"Idle\" perm=\"rw\" timeout=\"60\">\n"
	"    <defNumber name=\"RA\" format=\"%010.6m\" min=\"0\" max=\"24\">\n0\n    </defNumber>\n"
	"    <defNumber name=\"DEC\" min=\"-90\" max=\"90\">\n0\n    </defNumber>\n"
	"</defNumberVector>\n"
	"<setNumberVector device=\"Telescope Simulator\" name=\"EQUATORIAL_EOD_COORD\" state=\"Busy\">\n"
	"    <oneNumber name=\"RA\">\n5:30:00\n    </oneNumber>\n"
	"    <oneNumber name=\"DEC\">-5 24 00</oneNumber>\n</setNumberVector>\n"
	"<message device=\"CCD Simulator\" message=\"[ERROR] Requested exposure value (0.001) "
	"seconds out of bounds [0.01,3600].\"/>\n"
	"<setSwitchVector device=\"Telescope Simulator\" name=\"TELESCOPE_PARK\" state=\"Alert\" "
	"message=\"Please unpark &amp; retry\"><oneSwitch name=\"PARK\">On</oneSwitch></setSwitchVector>\n"
	"<setBLOBVector device=\"CCD Simulator\" name=\"CCD1\" state=\"Ok\">"
	"<oneBLOB name=\"CCD1\" size=\"11\" format=\".fits\">SGVsbG8g\nd29ybGQ=</oneBLOB></setBLOBVector>\n"
	"<delProperty device=\"CCD Simulator\" name=\"CCD1\"/>\n";

static const char want[] =
	"0N Telescope Simulator.EQUATORIAL_EOD_COORD Idle [] RA=0.0000 DEC=0.0000\n"
	"1N Telescope Simulator.EQUATORIAL_EOD_COORD Busy [] RA=5.5000 DEC=-5.4000\n"
	"3- CCD Simulator. - [[ERROR] Requested exposure value (0.001) seconds out of bounds [0.01,3600].]\n"
	"1S Telescope Simulator.TELESCOPE_PARK Alert [Please unpark & retry] PARK=On\n"
	"1B CCD Simulator.CCD1 Ok [] CCD1=\n"
	"2- CCD Simulator.CCD1 - []\n";

static void parses_in_any_pieces(void **state)
{
	size_t step, i;

	(void)state;
	for (step = 1; step <= sizeof(stream); step = step * 3 + 1) {
		struct seen s = { 0 };
		struct astro_obs_indi_parser *p = astro_obs_indi_parser_new(record, &s);
		char err[300] = "";

		assert_non_null(p);
		for (i = 0; i < sizeof(stream) - 1; i += step) {
			size_t n = sizeof(stream) - 1 - i < step ? sizeof(stream) - 1 - i : step;

			if (astro_obs_indi_parser_feed(p, stream + i, n, err, sizeof(err)) != 0)
				fail_msg("step %zu at %zu: %s", step, i, err);
		}
		assert_string_equal(s.log, want);
		assert_int_equal(s.blob_len, 11);
		assert_memory_equal(s.blob, "Hello world", 11);
		astro_obs_indi_parser_free(p);
	}
}

static void refuses(const char *text, const char *why)
{
	struct seen s = { 0 };
	struct astro_obs_indi_parser *p = astro_obs_indi_parser_new(record, &s);
	char err[300] = "";

	assert_non_null(p);
	assert_int_equal(astro_obs_indi_parser_feed(p, text, strlen(text), err, sizeof(err)),
			 -EBADMSG);
	if (!strstr(err, why) || strncmp(err, "line ", 5) != 0)
		fail_msg("'%s': got '%s', want '%s'", text, err, why);
	/* Refused once, refused for good. */
	assert_int_equal(astro_obs_indi_parser_feed(p, "<message/>", 10, err, sizeof(err)),
			 -EBADMSG);
	astro_obs_indi_parser_free(p);
}

static void refuses_garbage_saying_what(void **state)
{
	(void)state;
	refuses("hello", "text outside any INDI element");
	refuses("<foo/>", "<foo> is not an INDI element");
	refuses("<setNumberVector name=\"X\" state=\"Ok\"/>", "without device");
	refuses("<setNumberVector device=\"D\" name=\"X\" state=\"Fine\"/>", "state 'Fine'");
	refuses("<setNumberVector device=\"D\" name=\"X\"><oneText name=\"a\">1</oneText>"
		"</setNumberVector>", "<oneText> inside <setNumberVector X>");
	refuses("<setNumberVector device=\"D\" name=\"X\"><oneNumber name=\"a\">abc</oneNumber>"
		"</setNumberVector>", "X.a: 'abc' is not a number");
	refuses("<setSwitchVector device=\"D\" name=\"X\"><oneSwitch name=\"a\">Maybe</oneSwitch>"
		"</setSwitchVector>", "is not On or Off");
	refuses("<setBLOBVector device=\"D\" name=\"B\"><oneBLOB name=\"b\" size=\"3\" "
		"format=\".fits\">!!!!</oneBLOB></setBLOBVector>", "not base64 of 3 bytes");
	refuses("<setBLOBVector device=\"D\" name=\"B\"><oneBLOB name=\"b\" size=\"4\" "
		"format=\".fits\">aGVsbG8=</oneBLOB></setBLOBVector>", "not base64 of 4 bytes");
	refuses("<setBLOBVector device=\"D\" name=\"B\"><oneBLOB name=\"b\" size=\"-1\">"
		"</oneBLOB></setBLOBVector>", "size '-1'");
	refuses("<message device=\"D\"><x/></message>", "<x> inside");
	refuses("<setTextVector device=\"D\" name=\"T\"><oneText name=\"t\"><b/></oneText>"
		"</setTextVector>", "nested inside a member");
}

static void incomplete_is_not_an_error(void **state)
{
	struct seen s = { 0 };
	struct astro_obs_indi_parser *p = astro_obs_indi_parser_new(record, &s);
	char err[300] = "";

	(void)state;
	assert_int_equal(astro_obs_indi_parser_feed(p, "<setTextVector device=\"D\" name", 30,
						    err, sizeof(err)), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(astro_obs_indi_parser_feed(p, "=\"T\"></setTextVector><a", 23, err,
						    sizeof(err)), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(astro_obs_indi_parser_feed(p, "&bogus;/>", 9, err, sizeof(err)),
			 -EBADMSG);
	assert_non_null(strstr(err, "not well-formed XML"));
	astro_obs_indi_parser_free(p);
}

static void numbers(void **state)
{
	double v;

	(void)state;
	assert_int_equal(astro_obs_indi_number("12.5", &v), 0);
	assert_true(v == 12.5);
	assert_int_equal(astro_obs_indi_number(" -0:30:00 ", &v), 0);
	assert_true(v == -0.5);
	assert_int_equal(astro_obs_indi_number("5 30", &v), 0);
	assert_true(v == 5.5);
	assert_int_equal(astro_obs_indi_number("5:61", &v), -EINVAL);
	assert_int_equal(astro_obs_indi_number("1:2:3:4", &v), -EINVAL);
	assert_int_equal(astro_obs_indi_number("", &v), -EINVAL);
	assert_int_equal(astro_obs_indi_number("nan", &v), -EINVAL);
	assert_int_equal(astro_obs_indi_number("1e999", &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_in_any_pieces),
		cmocka_unit_test(refuses_garbage_saying_what),
		cmocka_unit_test(incomplete_is_not_an_error),
		cmocka_unit_test(numbers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

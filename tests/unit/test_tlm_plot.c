#include "unit.h"
#include <errno.h>
#include "core/astro.h"
#include "telemetry/tlm_plot.h"
#include "telemetry/tlm_time.h"

/* One plot of three samples; caller frees out. */
static void render(int png, struct astro_buf *out)
{
	struct astro_tlm_plot *p = astro_tlm_plot_new("TNEG", "rad", ASTRO_TLM_FLOAT, 0,
						      86400 * ASTRO_TLM_US, NULL);
	struct astro_tlm_val v = {.type = ASTRO_TLM_FLOAT, .f = -0.209546387};

	assert_non_null(p);
	assert_int_equal(astro_tlm_plot_add(p, 0, &v), 0);
	v.f = -0.2095468;
	assert_int_equal(astro_tlm_plot_add(p, 3600 * ASTRO_TLM_US, &v), 0);
	v.f = -0.209546775;
	assert_int_equal(astro_tlm_plot_add(p, 7200 * ASTRO_TLM_US, &v), 0);
	memset(out, 0, sizeof(*out));
	assert_int_equal(astro_tlm_plot_write(p, png, out), 0);
	astro_tlm_plot_free(p);
}

/*
 * A file's size may not change between stat and read: the same plot renders
 * to the same bytes however many surfaces cairo made before (its SVG ids
 * count process-wide, and "surface9" → "surface10" changed the size).
 */
static void same_plot_same_bytes(void **state)
{
	struct astro_buf first, again;

	(void)state;
	render(0, &first);
	assert_non_null(strstr(first.p, "viewBox=\"0 0 920 400\""));
	for (int i = 0; i < 12; i++) {
		render(i % 2, &again);
		if (i % 2 == 0) {
			assert_int_equal(again.len, first.len);
			assert_memory_equal(again.p, first.p, first.len);
		} else {
			assert_memory_equal(again.p, "\x89PNG\r\n\x1a\n", 8);
		}
		free(again.p);
	}
	free(first.p);
}

/* States and an empty range render too. */
static void states_and_empty(void **state)
{
	struct astro_tlm_plot *p = astro_tlm_plot_new("MODE", "", ASTRO_TLM_STATE, 0, 0, NULL);
	struct astro_tlm_val v = {.type = ASTRO_TLM_STATE, .text = "NPNT", .tlen = 4};
	struct astro_buf b = {0};

	(void)state;
	assert_int_equal(astro_tlm_plot_add(p, 0, &v), 0);
	assert_int_equal(astro_tlm_plot_write(p, 0, &b), 0);
	assert_non_null(strstr(b.p, "</svg>"));
	free(b.p);
	astro_tlm_plot_free(p);
	p = astro_tlm_plot_new("X", "", ASTRO_TLM_FLOAT, 0, ASTRO_TLM_US, NULL);
	memset(&b, 0, sizeof(b));
	assert_int_equal(astro_tlm_plot_write(p, 1, &b), 0);
	assert_true(b.len > 1000);
	free(b.p);
	astro_tlm_plot_free(p);
}

/* Values at the ends of the double range still give a picture (finite coordinates). */
static void extreme_values(void **state)
{
	static const double pairs[][2] = {
		{-1.7976931348623157e308, 1.7976931348623157e308}, {1e-300, 2e-300},
		{-1e300, 1e300}, {0, 5e-324}, {1e15, 1e15 + 1}, {-0.0, 0.0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		for (int png = 0; png < 2; png++) {
			struct astro_tlm_plot *p = astro_tlm_plot_new("X", "", ASTRO_TLM_FLOAT, 0,
								      1000 * ASTRO_TLM_US, NULL);
			struct astro_buf b = {0};

			for (int k = 0; k < 2000; k++) {
				struct astro_tlm_val v = {.type = ASTRO_TLM_FLOAT, .f = pairs[i][k % 2]};

				assert_int_equal(astro_tlm_plot_add(p, k * (ASTRO_TLM_US / 2), &v), 0);
			}
			assert_int_equal(astro_tlm_plot_write(p, png, &b), 0);
			if (!png) {
				assert_null(strstr(b.p, "nan"));
				assert_null(strstr(b.p, "inf"));
			}
			free(b.p);
			astro_tlm_plot_free(p);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_plot_same_bytes),
		cmocka_unit_test(states_and_empty),
		cmocka_unit_test(extreme_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include "unit.h"
#include <errno.h>
#include "core/astro.h"
#include "telemetry/tlm_npy.h"

static size_t hlen_of(const struct astro_buf *b)
{
	const unsigned char *u = (const unsigned char *)b->p;

	return b->p[6] == 1 ? 10u + (u[8] | (size_t)u[9] << 8)
			    : 12u + (u[8] | (size_t)u[9] << 8 | (size_t)u[10] << 16 | (size_t)u[11] << 24);
}

/* A v1.0 header: magic, 64-byte aligned, the dict numpy expects, names escaped. */
static void header_v1(void **state)
{
	struct astro_buf b = {0};
	struct astro_tlm_npy_field f[] = {
		{.prefix = "secs", .text = "", .type = ASTRO_TLM_NPY_F8},
		{.prefix = "value", .text = "", .type = ASTRO_TLM_NPY_S, .width = 7},
		{.prefix = "n_", .text = "a'b\\c\xc3\xa9\x01\xff", .tlen = 9, .type = ASTRO_TLM_NPY_I8},
	};

	(void)state;
	assert_int_equal(astro_tlm_npy_record_size(f, 3), 23);
	assert_int_equal(astro_tlm_npy_header(&b, f, 3, 42), 0);
	assert_memory_equal(b.p, "\x93NUMPY\x01\x00", 8);
	assert_int_equal(b.len % 64, 0);
	assert_int_equal(hlen_of(&b), b.len);
	assert_int_equal(b.p[b.len - 1], '\n');
	assert_non_null(strstr(b.p + 10, "{'descr': [('secs', '<f8'), ('value', '|S7'), "
				    "('n_a\\'b\\\\c\\u00e9\\x01\\xff', '<i8')], "
				    "'fortran_order': False, 'shape': (42,), }"));
	for (size_t i = 10; i < b.len; i++)
		assert_true((unsigned char)b.p[i] < 0x80);
	free(b.p);
}

/* Over 64 KiB of field names: version 2.0 with a 32-bit length. */
static void header_v2_and_errors(void **state)
{
	struct astro_buf b = {0};
	static struct astro_tlm_npy_field f[4000];
	char names[4000][16];

	(void)state;
	for (int i = 0; i < 4000; i++) {
		snprintf(names[i], sizeof(names[i]), "s%05d", i);
		f[i] = (struct astro_tlm_npy_field){.prefix = "n_", .text = names[i], .tlen = 6,
						    .type = ASTRO_TLM_NPY_I8};
	}
	assert_int_equal(astro_tlm_npy_header(&b, f, 4000, 0), 0);
	assert_int_equal(b.p[6], 2);
	assert_int_equal(b.len % 64, 0);
	assert_int_equal(hlen_of(&b), b.len);
	assert_true(b.len > 65536);
	free(b.p);
	memset(&b, 0, sizeof(b));
	assert_int_equal(astro_tlm_npy_header(&b, f, 0, 0), -EINVAL);
	free(b.p);
}

static void records(void **state)
{
	char d[40];
	char *e;

	(void)state;
	e = astro_tlm_npy_put_f8(d, 1.5);
	e = astro_tlm_npy_put_i8(e, -2);
	e = astro_tlm_npy_put_s(e, "ABCDEF", 6, 4);
	e = astro_tlm_npy_put_s(e, "Z", 1, 3);
	assert_int_equal(e - d, 23);
	assert_memory_equal(d, "\0\0\0\0\0\0\xf8\x3f", 8);
	assert_memory_equal(d + 8, "\xfe\xff\xff\xff\xff\xff\xff\xff", 8);
	assert_memory_equal(d + 16, "ABCDZ\0\0", 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(header_v1),
		cmocka_unit_test(header_v2_and_errors),
		cmocka_unit_test(records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include "unit.h"
#include <errno.h>
#include "core/astro.h"
#include "obs/ulid.h"

/* Expected strings computed independently with Python integer arithmetic
 * (big-endian 128-bit value, 5 bits per Crockford character); the first is
 * the example of the ULID spec. */
static void encode_matches_reference(void **state)
{
	static const uint8_t zero[10], ones[10] = { 255, 255, 255, 255, 255, 255, 255, 255, 255, 255 },
		seq[10] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	char out[ASTRO_ULID_LEN + 1];

	(void)state;
	astro_ulid_encode(1469918176385ULL, zero, out);
	assert_string_equal(out, "01ARYZ6S410000000000000000");
	astro_ulid_encode(0, zero, out);
	assert_string_equal(out, "00000000000000000000000000");
	astro_ulid_encode((1ULL << 48) - 1, ones, out);
	assert_string_equal(out, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
	astro_ulid_encode(1700000000123ULL, seq, out);
	assert_string_equal(out, "01HF7YAT3V041061050R3GG28A");
	assert_int_equal(astro_ulid_time_ms(out), 1700000000123ULL);
}

static void validity(void **state)
{
	(void)state;
	assert_true(astro_ulid_valid("01ARYZ6S410000000000000000", 26));
	assert_true(astro_ulid_valid("01aryz6s410000000000000000", 26));
	assert_false(astro_ulid_valid("81ARYZ6S410000000000000000", 26)); /* > 48 bits */
	assert_false(astro_ulid_valid("01ARYZ6S41000000000000000I", 26)); /* I excluded */
	assert_false(astro_ulid_valid("01ARYZ6S41000000000000000U", 26));
	assert_false(astro_ulid_valid("01ARYZ6S41000000000000000", 25));
	assert_false(astro_ulid_valid("01ARYZ6S41000000000000000\0", 26));
}

static void new_ids_increase_and_carry_time(void **state)
{
	char prev[ASTRO_ULID_LEN + 1] = "", cur[ASTRO_ULID_LEN + 1];
	int64_t before = astro_now_ms(), after;
	int i;

	(void)state;
	/* Many ids within a few milliseconds exercise the increment path. */
	for (i = 0; i < 2000; i++) {
		assert_int_equal(astro_ulid_new(cur), 0);
		assert_true(astro_ulid_valid(cur, strlen(cur)));
		assert_true(strcmp(prev, cur) < 0);
		memcpy(prev, cur, sizeof(cur));
	}
	after = astro_now_ms();
	assert_true(astro_ulid_time_ms(cur) >= (uint64_t)before - 1);
	assert_true(astro_ulid_time_ms(cur) <= (uint64_t)after);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encode_matches_reference),
		cmocka_unit_test(validity),
		cmocka_unit_test(new_ids_increase_and_carry_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

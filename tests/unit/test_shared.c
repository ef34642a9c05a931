/* test_shared.c — the fleet tier over the in-memory S3 store (s3_mem.h). */
#include "unit.h"
#include <errno.h>
#include "core/astro.h"
#include "core/config.h"
#include "core/log.h"
#include "core/op.h"
#include "services/shared.h"
#include "s3_mem.h"

struct fix {
	struct astro_config cfg;
	struct mem_s3 *mem;
	struct fault_s3 *fault;
	struct astro_shared *sh;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	assert_int_equal(astro_config_init(&f->cfg), 0);
	assert_int_equal(astro_config_set(&f->cfg, "shared_cache", "s3://fleet/pre/", err, sizeof(err)), 0);
	f->mem = mem_new();
	f->fault = fault_new(&f->mem->base);
	assert_int_equal(astro_shared_open(&f->sh, &f->cfg, &f->fault->base, err, sizeof(err)), 0);
	assert_non_null(f->sh);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	astro_shared_close(f->sh);
	astro_s3_free(&f->fault->base);	/* frees the inner store too */
	astro_config_free(&f->cfg);
	free(f);
	return 0;
}

static void parse_url(void **state)
{
	char b[64], p[64];

	(void)state;
	assert_int_equal(astro_shared_parse_url("s3://fleet/a/b/", b, sizeof(b), p, sizeof(p)), 0);
	assert_string_equal(b, "fleet");
	assert_string_equal(p, "a/b");
	assert_int_equal(astro_shared_parse_url("s3://fleet", b, sizeof(b), p, sizeof(p)), 0);
	assert_string_equal(p, "");
	assert_int_equal(astro_shared_parse_url("s3:///x", b, sizeof(b), p, sizeof(p)), -EINVAL);
	assert_int_equal(astro_shared_parse_url("https://fleet/x", b, sizeof(b), p, sizeof(p)), -EINVAL);
	assert_int_equal(astro_shared_parse_url("s3://Fleet/x", b, sizeof(b), p, sizeof(p)), -EINVAL);
}

/* An envelope round-trips; any damage, truncation or mix-up is refused. */
static void envelope(void **state)
{
	struct astro_shared_env e = { .kind = "tle-day", .name = "2024-03-01",
				      .fetched_ms = 1700000000123, .final = 1, .count = 2 };
	struct astro_shared_env got;
	const char *body = "0 A\n1 ...\n2 ...\n", *b;
	char *obj, err[200];
	size_t len, blen;

	(void)state;
	assert_int_equal(astro_shared_wrap(&e, body, strlen(body), &obj, &len), 0);
	assert_int_equal(astro_shared_unwrap(obj, len, "tle-day", "2024-03-01", &got, &b, &blen,
					     err, sizeof(err)), 0);
	assert_int_equal(blen, strlen(body));
	assert_memory_equal(b, body, blen);
	assert_int_equal(got.fetched_ms, 1700000000123);
	assert_int_equal(got.final, 1);
	assert_int_equal(got.count, 2);
	/* partial */
	assert_int_equal(astro_shared_unwrap(obj, len - 1, "tle-day", "2024-03-01", &got, &b,
					     &blen, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "partial"));
	/* another day's object at this key */
	assert_int_equal(astro_shared_unwrap(obj, len, "tle-day", "2024-03-02", &got, &b, &blen,
					     err, sizeof(err)), -EINVAL);
	/* one flipped body byte */
	obj[len - 3] ^= 1;
	assert_int_equal(astro_shared_unwrap(obj, len, "tle-day", "2024-03-01", &got, &b, &blen,
					     err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "checksum"));
	free(obj);
	assert_int_equal(astro_shared_unwrap("junk", 4, "tle-day", "x", &got, &b, &blen, err,
					     sizeof(err)), -EINVAL);
}

/* The lease object's body (NUL-terminated copy), or NULL. */
static char *lease_body(struct fix *f, const char *name)
{
	char key[128];

	snprintf(key, sizeof(key), "pre/lease/v1/%s", name);
	for (size_t i = 0; i < f->mem->n; i++)
		if (strcmp(f->mem->o[i].key, key) == 0)
			return strndup(f->mem->o[i].data, f->mem->o[i].len);
	return NULL;
}

/* One holder at a time; an expired or released lease is taken over once. */
static void lease(void **state)
{
	struct fix *f = *state;
	struct astro_shared_lease_hold h;
	int64_t exp = 0;
	char *b;

	assert_int_equal(astro_shared_lease(f->sh, "tle/2024-03-01", 60000, &exp, &h), 1);
	assert_non_null(strstr(f->mem->o[0].key, "pre/lease/v1/tle/2024-03-01"));
	b = lease_body(f, "tle/2024-03-01");
	assert_non_null(strstr(b, h.token));
	free(b);
	/* Another machine's unexpired lease: held. */
	mem_store(f->mem, "fleet", "pre/lease/v1/tle/2024-03-01", "99999999999999 otherhost 1 t\n", 29);
	assert_int_equal(astro_shared_lease(f->sh, "tle/2024-03-01", 60000, &exp, &h), 0);
	assert_true(exp > astro_now_ms());
	/* Expired: taken over by a conditional replace. */
	mem_store(f->mem, "fleet", "pre/lease/v1/tle/2024-03-01", "1000 otherhost 1 t\n", 19);
	assert_int_equal(astro_shared_lease(f->sh, "tle/2024-03-01", 60000, &exp, &h), 1);
	assert_int_equal(astro_shared_lease_release(f->sh, "tle/2024-03-01", &h), 0);
	/* Released: expiry 0, free for the next taker at once. */
	b = lease_body(f, "tle/2024-03-01");
	assert_true(strncmp(b, "0 ", 2) == 0);
	free(b);
	assert_int_equal(astro_shared_lease(f->sh, "tle/2024-03-01", 60000, &exp, &h), 1);
}

/*
 * A holder that outlived its lease (it expired, another machine took it
 * over) must not free the new holder's lease: its release is refused and
 * the new holder's record stays, so a third machine still waits.
 */
static void lease_release_checks_owner(void **state)
{
	struct fix *f = *state;
	struct astro_shared_lease_hold old, cur;
	int64_t exp = 0;
	char *b;

	/* Acquired already past its expiry (and the clock-skew margin). */
	assert_int_equal(astro_shared_lease(f->sh, "tle/2024-03-05", -5000, &exp, &old), 1);
	/* Another machine takes it over (plant as in S3: a new version). */
	mem_store(f->mem, "fleet", "pre/lease/v1/tle/2024-03-05", "99999999999999 otherhost 7 new\n", 32);
	assert_int_equal(astro_shared_lease_release(f->sh, "tle/2024-03-05", &old), -ESTALE);
	b = lease_body(f, "tle/2024-03-05");
	assert_non_null(b);
	assert_string_equal(b, "99999999999999 otherhost 7 new\n");
	free(b);
	assert_int_equal(astro_shared_lease(f->sh, "tle/2024-03-05", 60000, &exp, &cur), 0);
	/* Without the ETag (an answer that had none): read-compare, same verdict. */
	old.etag[0] = '\0';
	assert_int_equal(astro_shared_lease_release(f->sh, "tle/2024-03-05", &old), -ESTALE);
	b = lease_body(f, "tle/2024-03-05");
	assert_string_equal(b, "99999999999999 otherhost 7 new\n");
	free(b);
	/* Never a DELETE. */
	assert_int_equal(f->mem->calls[MEM_DEL], 0);
}

/* One failed answer from the tier is retried, not taken for an outage. */
static void one_error_is_not_down(void **state)
{
	struct fix *f = *state;
	char *b = NULL;
	size_t len;
	unsigned before = f->mem->calls[MEM_GET];

	f->fault->err = -EIO;
	f->fault->fail_nth = f->fault->calls + 1;
	assert_int_equal(astro_shared_get(f->sh, "tle/v1/final/x", 100, &b, &len), -ENOENT);
	assert_true(astro_shared_usable(f->sh));
	assert_int_equal(f->mem->calls[MEM_GET], before + 1);	/* the retry reached the store */
	f->fault->fail_nth = f->fault->calls + 1;
	assert_int_equal(astro_shared_put(f->sh, "tle/v1/final/y", "x", 1, 0), 0);
	assert_true(astro_shared_usable(f->sh));
}

/*
 * The fleet ceiling: with 3 per 1 s, the 4th slot waits for the 1st to
 * leave the window (plus the clock-skew margin), across two "machines"
 * (two tier handles on one store), and a slot never ended (a dead machine)
 * frees itself after its deadline.
 */
static void slots(void **state)
{
	struct fix *f = *state;
	struct astro_shared *other;
	struct astro_rate r = { .n = 1, .w = { { .limit = 3, .seconds = 1 } } };
	int64_t s[7], t0, dl;
	char err[256];

	assert_int_equal(astro_shared_open(&other, &f->cfg, &f->fault->base, err, sizeof(err)), 0);
	t0 = astro_mono_ms();
	dl = t0 + 10000;
	assert_int_equal(astro_shared_slot_begin(f->sh, "st", &r, dl, &s[0]), 0);
	astro_shared_slot_end(f->sh, "st", &r, s[0]);
	assert_int_equal(astro_shared_slot_begin(other, "st", &r, dl, &s[1]), 0);
	astro_shared_slot_end(other, "st", &r, s[1]);
	assert_int_equal(astro_shared_slot_begin(f->sh, "st", &r, dl, &s[2]), 0);
	astro_shared_slot_end(f->sh, "st", &r, s[2]);
	assert_true(s[0] != s[1] && s[1] != s[2] && s[0] != s[2]);
	assert_true(astro_mono_ms() - t0 < 500);
	assert_int_equal(astro_shared_slot_begin(other, "st", &r, dl, &s[3]), 0);
	/* s[0] ended at ~t0: free only after 1 s window + 1 s skew margin */
	assert_true(astro_mono_ms() - t0 >= 1900);
	astro_shared_slot_end(other, "st", &r, s[3]);
	/* s[1], s[2] left the window with s[0]: two more at once... */
	assert_int_equal(astro_shared_slot_begin(f->sh, "st", &r, dl, &s[4]), 0);
	astro_shared_slot_end(f->sh, "st", &r, s[4]);
	assert_int_equal(astro_shared_slot_begin(other, "st", &r, dl, &s[5]), 0);
	astro_shared_slot_end(other, "st", &r, s[5]);
	/* ...then the window is full again: not in 300 ms, nothing claimed */
	assert_int_equal(astro_shared_slot_begin(f->sh, "st", &r, astro_mono_ms() + 300, &s[6]),
			 -ETIMEDOUT);
	astro_shared_close(other);
}

/* The tier failing: -ENETDOWN at once and then fast, logged once. */
static void down(void **state)
{
	struct fix *f = *state;
	char *b = NULL;
	size_t len;
	unsigned before;

	f->fault->err = -EIO;
	f->fault->fail_all = 1;
	assert_int_equal(astro_shared_get(f->sh, "tle/v1/final/x", 100, &b, &len), -ENETDOWN);
	assert_false(astro_shared_usable(f->sh));
	before = f->mem->calls[MEM_GET];
	assert_int_equal(astro_shared_get(f->sh, "tle/v1/final/x", 100, &b, &len), -ENETDOWN);
	assert_int_equal(f->mem->calls[MEM_GET], before);
	assert_int_equal(astro_shared_put(f->sh, "k", "x", 1, 1), -ENETDOWN);
}

/*
 * A call that fails because its own operation ran out (deadline passed,
 * reader interrupted) says nothing about the tier: not marked down.
 */
static void own_deadline_is_not_down(void **state)
{
	struct fix *f = *state;
	char *b = NULL;
	size_t len;

	astro_op_begin(1, NULL);
	assert_int_equal(astro_sleep_ms(5), 0);
	f->fault->err = -ETIMEDOUT;
	f->fault->fail_nth = f->fault->calls + 1;
	assert_int_equal(astro_shared_get(f->sh, "tle/v1/final/x", 100, &b, &len), -ETIMEDOUT);
	astro_op_end();
	assert_true(astro_shared_usable(f->sh));
	/* the same failure inside a live operation is the tier's */
	f->fault->fail_nth = f->fault->calls + 1;
	assert_int_equal(astro_shared_get(f->sh, "tle/v1/final/x", 100, &b, &len), -ENETDOWN);
	assert_false(astro_shared_usable(f->sh));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_url),
		cmocka_unit_test(envelope),
		cmocka_unit_test_setup_teardown(lease, setup, teardown),
		cmocka_unit_test_setup_teardown(lease_release_checks_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(one_error_is_not_down, setup, teardown),
		cmocka_unit_test_setup_teardown(own_deadline_is_not_down, setup, teardown),
		cmocka_unit_test_setup_teardown(slots, setup, teardown),
		cmocka_unit_test_setup_teardown(down, setup, teardown),
	};

	astro_log_init("test_shared", ASTRO_LOG_STDERR, 3);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

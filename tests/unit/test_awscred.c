#include "unit.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include "core/astro.h"
#include "services/awscred.h"

/* Expected values are read off each file text by hand. */
static const char good[] =
	"# astrofs test credentials\n"
	"; another comment style\n"
	"\n"
	"[default]\n"
	"aws_access_key_id = AKIDDEFAULT\n"
	"aws_secret_access_key=wJalr/K7+MDENG=bPx#notacomment  \n"
	"\n"
	"[archive]\n"
	"AWS_ACCESS_KEY_ID: AKIDARCHIVE\r\n"
	"aws_secret_access_key   =   s3cr3t\r\n"
	"aws_session_token = FQoGZXIvYXdzEJr//////////wEa==\r\n"
	"s3 =\n"
	"    max_concurrent_requests = 20\n"
	"    addressing_style = path\n"
	"region = eu-west-1\n"
	"[profile prod]\n"
	"aws_access_key_id = AKIDPRODPREFIXED\n"
	"aws_secret_access_key = x\n"
	"[empty-token]\n"
	"aws_access_key_id=A\n"
	"aws_secret_access_key=B\n"
	"aws_session_token=\n";

static void parses_profiles(void **state)
{
	struct astro_awscred c;
	char msg[256] = "";

	(void)state;
	assert_int_equal(astro_awscred_parse(good, strlen(good), NULL, "f", &c, msg, sizeof(msg)), 0);
	assert_string_equal(c.access_key, "AKIDDEFAULT");
	assert_string_equal(c.secret_key, "wJalr/K7+MDENG=bPx#notacomment");
	assert_null(c.session_token);
	assert_string_equal(c.source, "f [default]");
	astro_awscred_free(&c);

	assert_int_equal(astro_awscred_parse(good, strlen(good), "archive", "f", &c, msg, sizeof(msg)), 0);
	assert_string_equal(c.access_key, "AKIDARCHIVE");
	assert_string_equal(c.secret_key, "s3cr3t");
	assert_string_equal(c.session_token, "FQoGZXIvYXdzEJr//////////wEa==");
	astro_awscred_free(&c);

	assert_int_equal(astro_awscred_parse(good, strlen(good), "empty-token", "f", &c, msg, sizeof(msg)), 0);
	assert_null(c.session_token);
	astro_awscred_free(&c);

	/* [profile prod] is config-file syntax; the credentials file wants [prod]. */
	assert_int_equal(astro_awscred_parse(good, strlen(good), "prod", "f", &c, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "not [profile NAME]"));
	assert_int_equal(astro_awscred_parse(good, strlen(good), "nope", "f", &c, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "no [nope] profile"));
}

static void rejects_bad_files(void **state)
{
	static const struct { const char *text; int err; const char *needle; } bad[] = {
		{ "aws_access_key_id = A\n", -EINVAL, "line 1: key before any [section]" },
		{ "[default\naws_access_key_id = A\n", -EINVAL, "line 1: section header without ']'" },
		{ "[default]\njust words\n", -EINVAL, "line 2: expected" },
		{ "[default]\n= value\n", -EINVAL, "line 2: expected" },
		{ "[default]\naws_access_key_id=A\n[x]\n[default]\n", -EINVAL, "line 4: section [default] appears twice" },
		{ "[default]\naws_access_key_id=A\naws_access_key_id=B\naws_secret_access_key=S\n", -EINVAL,
		  "line 3: key 'aws_access_key_id' set twice" },
		{ "[default]\naws_secret_access_key=S\n", -EINVAL, "lacks aws_access_key_id" },
		{ "[default]\naws_access_key_id=A\naws_secret_access_key=\n", -EINVAL, "lacks aws_secret_access_key" },
		{ "", -ENOENT, "no [default] profile" },
		{ "[default]\naws_access_key_id=A\n  aws_secret_access_key=S\n", -EINVAL,
		  "line 3: indented line continues the previous value" },
		{ "[ default ]\naws_access_key_id=A\naws_secret_access_key=S\n", -ENOENT, "no [default]" },
	};
	struct astro_awscred c;
	char msg[256];
	size_t i;

	(void)state;
	for (i = 0; i < ASTRO_ARRAY_SIZE(bad); i++) {
		int rc = astro_awscred_parse(bad[i].text, strlen(bad[i].text), NULL, "f", &c, msg, sizeof(msg));

		if (rc != bad[i].err || !strstr(msg, bad[i].needle))
			fail_msg("case %zu: rc %d msg '%s' (wanted '%s')", i, rc, msg, bad[i].needle);
		assert_null(c.access_key);
		assert_null(c.secret_key);
	}
	/* A NUL byte: binary junk, not a credentials file. */
	assert_int_equal(astro_awscred_parse("[default]\0x", 11, NULL, "f", &c, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "NUL"));
}

static char *write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	char *path;
	int fd;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static void file_mode_is_enforced(void **state)
{
	char *dir = unit_tmpdir(), *f600, *f640, *f604, *missing;
	struct astro_awscred c;
	char msg[256];

	(void)state;
	assert_non_null(dir);
	f600 = write_file(dir, "ok", good, 0600);
	f640 = write_file(dir, "group", good, 0640);
	f604 = write_file(dir, "other", good, 0604);
	assert_true(asprintf(&missing, "%s/missing", dir) > 0);

	assert_int_equal(astro_awscred_from_file(f600, "archive", &c, msg, sizeof(msg)), 0);
	assert_string_equal(c.access_key, "AKIDARCHIVE");
	assert_non_null(strstr(c.source, "[archive]"));
	astro_awscred_free(&c);
	assert_int_equal(astro_awscred_from_file(f640, NULL, &c, msg, sizeof(msg)), -EPERM);
	assert_non_null(strstr(msg, "mode 0640"));
	assert_non_null(strstr(msg, "chmod 600"));
	assert_null(strstr(msg, "wJalr"));
	assert_int_equal(astro_awscred_from_file(f604, NULL, &c, msg, sizeof(msg)), -EPERM);
	assert_int_equal(astro_awscred_from_file(dir, NULL, &c, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "not a regular file"));
	assert_int_equal(astro_awscred_from_file(missing, NULL, &c, msg, sizeof(msg)), -ENOENT);

	/* resolve: a named file must work; a missing one is an error, not anonymous. */
	assert_int_equal(astro_awscred_resolve(missing, NULL, &c, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(astro_awscred_resolve(f640, NULL, &c, msg, sizeof(msg)), -EPERM);

	unlink(f600);
	unlink(f640);
	unlink(f604);
	rmdir(dir);
	free(f600);
	free(f640);
	free(f604);
	free(missing);
	free(dir);
}

static void environment_then_shared_file(void **state)
{
	char *dir = unit_tmpdir(), *f;
	struct astro_awscred c;
	char msg[256];

	(void)state;
	assert_non_null(dir);
	f = write_file(dir, "credentials", good, 0600);
	unsetenv("AWS_PROFILE");
	setenv("AWS_SHARED_CREDENTIALS_FILE", f, 1);

	setenv("AWS_ACCESS_KEY_ID", "ENVAK", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "ENVSK", 1);
	setenv("AWS_SESSION_TOKEN", "ENVTOK", 1);
	assert_int_equal(astro_awscred_resolve(NULL, NULL, &c, msg, sizeof(msg)), 0);
	assert_string_equal(c.access_key, "ENVAK");
	assert_string_equal(c.secret_key, "ENVSK");
	assert_string_equal(c.session_token, "ENVTOK");
	assert_string_equal(c.source, "environment");
	astro_awscred_free(&c);

	/* An explicit file beats the environment. */
	assert_int_equal(astro_awscred_resolve(f, "archive", &c, msg, sizeof(msg)), 0);
	assert_string_equal(c.access_key, "AKIDARCHIVE");
	astro_awscred_free(&c);

	unsetenv("AWS_SECRET_ACCESS_KEY");
	assert_int_equal(astro_awscred_resolve(NULL, NULL, &c, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "AWS_SECRET_ACCESS_KEY is not"));

	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SESSION_TOKEN");
	assert_int_equal(astro_awscred_resolve(NULL, NULL, &c, msg, sizeof(msg)), 0);
	assert_string_equal(c.access_key, "AKIDDEFAULT");
	astro_awscred_free(&c);
	setenv("AWS_PROFILE", "archive", 1);
	assert_int_equal(astro_awscred_resolve(NULL, NULL, &c, msg, sizeof(msg)), 0);
	assert_string_equal(c.access_key, "AKIDARCHIVE");
	astro_awscred_free(&c);
	/* A named profile that is missing is an error... */
	assert_int_equal(astro_awscred_resolve(NULL, "nope", &c, msg, sizeof(msg)), -EINVAL);
	unsetenv("AWS_PROFILE");

	/* ...but no credentials anywhere means anonymous (-ENOENT). */
	unlink(f);
	assert_int_equal(astro_awscred_resolve(NULL, NULL, &c, msg, sizeof(msg)), -ENOENT);
	assert_null(c.access_key);
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	rmdir(dir);
	free(f);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_profiles),
		cmocka_unit_test(rejects_bad_files),
		cmocka_unit_test(file_mode_is_enforced),
		cmocka_unit_test(environment_then_shared_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

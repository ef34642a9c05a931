/*
 * awscred.h — AWS credentials for S3 signing: environment and credentials file.
 *
 * What it does: finds an access key id, secret key and optional session
 * token the way the AWS CLI does for the cases astrofs supports:
 *   1. an explicit file (the s3_credentials option), profile `profile`;
 *   2. else AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY [+ AWS_SESSION_TOKEN];
 *   3. else the shared credentials file ($AWS_SHARED_CREDENTIALS_FILE or
 *      ~/.aws/credentials), profile `profile` (NULL: $AWS_PROFILE, else
 *      "default");
 *   4. else none: the caller goes anonymous.
 * The file is the INI dialect of ~/.aws/credentials: `[name]` sections (no
 * "profile " prefix in this file), `key = value` or `key: value`, keys
 * case-insensitive, `#`/`;` comment lines, whitespace around keys and
 * values ignored, indented lines after `key =` (nested settings) ignored;
 * no inline comments (a '#' inside a value is part of it) and section names
 * taken exactly, as botocore's configparser does.  An indented line after a
 * key with a value (botocore would silently append it to that value) is
 * refused.
 *
 * Guarantees: a file readable or writable by group or others is refused
 * (-EPERM) before its content is read, as is anything but a regular file;
 * every rejection comes with a one-line message naming the file, line and
 * problem, never the secret.  Keys are held in astro_secure memory (free
 * them only with astro_awscred_free), wiped on free.
 * Thread-safety: reentrant; reads the environment (getenv), so do not
 * change the environment concurrently.
 */
#ifndef ASTRO_AWSCRED_H
#define ASTRO_AWSCRED_H

#include <stddef.h>

struct astro_awscred {
	char *access_key;
	char *secret_key;
	char *session_token;	/* NULL when not temporary */
	char source[160];	/* "environment", "/root/.aws/credentials [default]" */
};

/*
 * Parse credentials-file text for `profile`.  0; -ENOENT when the profile is
 * absent; -EINVAL on a syntax error or a profile lacking a key; -ENOMEM.
 * `name` labels messages (a path).
 */
int astro_awscred_parse(const char *text, size_t len, const char *profile,
			const char *name, struct astro_awscred *out,
			char *err, size_t errlen);

/* The file at `path` (mode checked first), then astro_awscred_parse(). */
int astro_awscred_from_file(const char *path, const char *profile,
			    struct astro_awscred *out, char *err, size_t errlen);

/* AWS_* variables.  0; -ENOENT if unset; -EINVAL if only half set. */
int astro_awscred_from_env(struct astro_awscred *out, char *err, size_t errlen);

/* The shared credentials file ($AWS_SHARED_CREDENTIALS_FILE or
 * ~/.aws/credentials), profile `profile` (NULL: $AWS_PROFILE, else
 * "default").  -ENOENT when there is no such file, or it lacks [default]. */
int astro_awscred_from_shared(const char *profile, struct astro_awscred *out, char *err,
			      size_t errlen);

/*
 * The whole lookup above (awsprov.h adds the rest of the SDK chain).  0 with credentials; -ENOENT when none were
 * found anywhere (anonymous access); other -errno (with err) when a source
 * exists but is unusable — that is an error, never a silent fallback.
 */
int astro_awscred_resolve(const char *file, const char *profile,
			  struct astro_awscred *out, char *err, size_t errlen);

void astro_awscred_free(struct astro_awscred *c);

#endif

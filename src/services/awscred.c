/* awscred.c — AWS credentials from env and credentials file (see awscred.h). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/astro.h"
#include "services/awscred.h"

#define MAX_FILE (1024 * 1024)

/* Every key lives in astro_secure memory: out of core dumps, wiped. */
static void wipe_free(char *s)
{
	astro_secure_strfree(s);
}

static char *secure_strndup(const char *v, size_t n)
{
	char *s = astro_secure_alloc(n + 1);

	if (s) {
		memcpy(s, v, n);
		s[n] = '\0';
	}
	return s;
}

void astro_awscred_free(struct astro_awscred *c)
{
	if (!c)
		return;
	wipe_free(c->access_key);
	wipe_free(c->secret_key);
	wipe_free(c->session_token);
	memset(c, 0, sizeof(*c));
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* [s, e) trimmed in place of both ends. */
static void trim(const char **s, const char **e)
{
	while (*s < *e && is_blank(**s))
		(*s)++;
	while (*e > *s && is_blank((*e)[-1]))
		(*e)--;
}

static int set_value(char **slot, const char *v, size_t n)
{
	char *s = secure_strndup(v, n);

	if (!s)
		return -ENOMEM;
	wipe_free(*slot);
	*slot = s;
	return 0;
}

int astro_awscred_parse(const char *text, size_t len, const char *profile,
			const char *name, struct astro_awscred *out,
			char *err, size_t errlen)
{
	const char *p = text, *end = text + len;
	int lineno = 0, in_profile = 0, found = 0, have_section = 0;
	int prev_key_empty = 0, key_seen = 0, saw_prefixed = 0;
	char dup_keys[3] = { 0 };
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!profile || !*profile)
		profile = "default";
	if (!name)
		name = "credentials";
	if (memchr(text, '\0', len)) {
		return astro_err_set(err, errlen, -EINVAL,
				     "%s: contains a NUL byte: not a credentials file", name);
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *ls = p, *le = nl ? nl : end;
		int indented = ls < le && is_blank(*ls);

		p = nl ? nl + 1 : end;
		lineno++;
		trim(&ls, &le);
		if (ls == le || *ls == '#' || *ls == ';')
			continue;
		if (indented && key_seen) {
			if (prev_key_empty)
				continue;	/* nested "s3 =\n  key = v" settings */
			/* botocore would glue this line onto the previous value. */
			rc = astro_err_set(err, errlen, -EINVAL,
					   "%s: line %d: indented line continues the previous "
					   "value; remove the leading whitespace", name, lineno);
			goto out;
		}
		if (*ls == '[') {
			const char *ns = ls + 1, *ne = le - 1;

			if (le - ls < 2 || *ne != ']') {
				rc = astro_err_set(err, errlen, -EINVAL,
						   "%s: line %d: section header without ']'", name, lineno);
				goto out;
			}
			have_section = 1;
			key_seen = prev_key_empty = 0;
			in_profile = (size_t)(ne - ns) == strlen(profile) &&
				     memcmp(ns, profile, (size_t)(ne - ns)) == 0;
			if ((size_t)(ne - ns) == strlen(profile) + 8 && memcmp(ns, "profile ", 8) == 0 &&
			    memcmp(ns + 8, profile, strlen(profile)) == 0)
				saw_prefixed = 1;
			if (in_profile) {
				if (found) {
					rc = astro_err_set(err, errlen, -EINVAL,
							   "%s: line %d: section [%s] appears twice",
							   name, lineno, profile);
					goto out;
				}
				found = 1;
			}
			continue;
		}
		{
			const char *eq = ls, *ks = ls, *ke, *vs, *ve = le;
			char **slot = NULL;
			int which = -1;

			while (eq < le && *eq != '=' && *eq != ':')
				eq++;
			if (eq == le || eq == ls) {
				rc = astro_err_set(err, errlen, -EINVAL,
						   "%s: line %d: expected '[profile]' or 'key = value'",
						   name, lineno);
				goto out;
			}
			if (!have_section) {
				rc = astro_err_set(err, errlen, -EINVAL,
						   "%s: line %d: key before any [section]", name, lineno);
				goto out;
			}
			ke = eq;
			vs = eq + 1;
			trim(&ks, &ke);
			trim(&vs, &ve);
			prev_key_empty = vs == ve;
			key_seen = 1;
			if (!in_profile)
				continue;
			if ((size_t)(ke - ks) == 17 && strncasecmp(ks, "aws_access_key_id", 17) == 0)
				slot = &out->access_key, which = 0;
			else if ((size_t)(ke - ks) == 21 && strncasecmp(ks, "aws_secret_access_key", 21) == 0)
				slot = &out->secret_key, which = 1;
			else if (((size_t)(ke - ks) == 17 && strncasecmp(ks, "aws_session_token", 17) == 0) ||
				 ((size_t)(ke - ks) == 18 && strncasecmp(ks, "aws_security_token", 18) == 0))
				slot = &out->session_token, which = 2;
			if (!slot)
				continue;
			if (dup_keys[which]) {
				rc = astro_err_set(err, errlen, -EINVAL,
						   "%s: line %d: key '%.*s' set twice in [%s]", name,
						   lineno, (int)(ke - ks), ks, profile);
				goto out;
			}
			dup_keys[which] = 1;
			if ((rc = set_value(slot, vs, (size_t)(ve - vs))) < 0)
				goto out;
		}
	}
	if (!found) {
		rc = astro_err_set(err, errlen, -ENOENT, "%s: no [%s] profile%s", name, profile,
				   saw_prefixed ? " (this file names profiles [NAME], not [profile NAME])" : "");
		goto out;
	}
	if (!out->access_key || !*out->access_key) {
		rc = astro_err_set(err, errlen, -EINVAL,
				   "%s: [%s] lacks aws_access_key_id", name, profile);
		goto out;
	}
	if (!out->secret_key || !*out->secret_key) {
		rc = astro_err_set(err, errlen, -EINVAL,
				   "%s: [%s] lacks aws_secret_access_key", name, profile);
		goto out;
	}
	if (out->session_token && !*out->session_token) {
		wipe_free(out->session_token);
		out->session_token = NULL;
	}
	snprintf(out->source, sizeof(out->source), "%s [%s]", name, profile);
out:
	if (rc < 0)
		astro_awscred_free(out);
	return rc;
}

int astro_awscred_from_file(const char *path, const char *profile,
			    struct astro_awscred *out, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, rc;

	memset(out, 0, sizeof(*out));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		astro_err_set(err, errlen, rc, "%s: %s", path, strerror(-rc));
		return rc;
	}
	/* fstat on the open descriptor: no window for a swap after the check. */
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		astro_err_set(err, errlen, rc, "%s: %s", path, strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = astro_err_set(err, errlen, -EINVAL, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_mode & 077) {
		rc = astro_err_set(err, errlen, -EPERM,
				   "%s: mode %04o lets group or others access the secret key; "
				   "run chmod 600 on it", path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size > MAX_FILE) {
		rc = astro_err_set(err, errlen, -EFBIG,
				   "%s: larger than %d bytes: not a credentials file", path, MAX_FILE);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			astro_err_set(err, errlen, rc, "%s: %s", path, strerror(-rc));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	rc = astro_awscred_parse(buf, got, profile, path, out, err, errlen);
out:
	if (buf) {
		explicit_bzero(buf, got);
		free(buf);
	}
	close(fd);
	return rc;
}

int astro_awscred_from_env(struct astro_awscred *out, char *err, size_t errlen)
{
	const char *ak = getenv("AWS_ACCESS_KEY_ID");
	const char *sk = getenv("AWS_SECRET_ACCESS_KEY");
	const char *tok = getenv("AWS_SESSION_TOKEN");

	memset(out, 0, sizeof(*out));
	if ((!ak || !*ak) && (!sk || !*sk))
		return -ENOENT;
	if (!ak || !*ak || !sk || !*sk) {
		return astro_err_set(err, errlen, -EINVAL,
				     "environment: %s is set but %s is not",
				     ak && *ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
				     ak && *ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
	}
	out->access_key = astro_secure_strdup(ak);
	out->secret_key = astro_secure_strdup(sk);
	out->session_token = tok && *tok ? astro_secure_strdup(tok) : NULL;
	if (!out->access_key || !out->secret_key || (tok && *tok && !out->session_token)) {
		astro_awscred_free(out);
		return -ENOMEM;
	}
	astro_strlcpy(out->source, "environment", sizeof(out->source));
	return 0;
}

int astro_awscred_from_shared(const char *profile, struct astro_awscred *out, char *err,
			      size_t errlen)
{
	const char *shared = getenv("AWS_SHARED_CREDENTIALS_FILE");
	char path[4096];
	int rc;

	memset(out, 0, sizeof(*out));
	if (!profile || !*profile)
		profile = getenv("AWS_PROFILE");
	if (shared && *shared) {
		if (astro_strlcpy(path, shared, sizeof(path)) < 0)
			return -ENAMETOOLONG;
	} else {
		const char *home = getenv("HOME");
		int n;

		if (!home || !*home)
			return -ENOENT;
		n = snprintf(path, sizeof(path), "%s/.aws/credentials", home);
		if (n < 0 || (size_t)n >= sizeof(path))
			return -ENAMETOOLONG;
	}
	if (access(path, F_OK) != 0 && errno == ENOENT)
		return -ENOENT;
	rc = astro_awscred_from_file(path, profile, out, err, errlen);
	/*
	 * A shared file without [default] just means "no credentials here"
	 * (anonymous), but a profile the user named must exist.
	 */
	if (rc == -ENOENT && profile && strcmp(profile, "default") != 0)
		rc = -EINVAL;
	return rc;
}

int astro_awscred_resolve(const char *file, const char *profile,
			  struct astro_awscred *out, char *err, size_t errlen)
{
	int rc;

	if (!profile || !*profile)
		profile = getenv("AWS_PROFILE");
	if (file && *file) {
		rc = astro_awscred_from_file(file, profile, out, err, errlen);
		/* -ENOENT means "anonymous" to the caller; a named file must work. */
		return rc == -ENOENT ? -EINVAL : rc;
	}
	rc = astro_awscred_from_env(out, err, errlen);
	if (rc != -ENOENT)
		return rc;
	return astro_awscred_from_shared(profile, out, err, errlen);
}

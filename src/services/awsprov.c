/*
 * awsprov.c — the AWS credential chain, shared and refreshed (see awsprov.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "core/astro.h"
#include "core/log.h"
#include "services/awsprov.h"
#include "services/http.h"

#define IMDS_DEFAULT "http://169.254.169.254"
#define ECS_HOST "http://169.254.170.2"
#define IMDS_TIMEOUT_MS 1000	/* the SDKs' default: outside AWS, give up fast */
#define FETCH_TIMEOUT_MS 5000
#define REFRESH_AHEAD_MS (300 * 1000)
#define TOKEN_FILE_MAX (64 * 1024)
#define BODY_MAX (64 * 1024)

enum src { S_AUTO, S_ENV, S_WEB, S_PROFILE, S_CONTAINER, S_IMDS, S_NSRC };

const char *const astro_awsprov_sources[] = {
	"auto", "env", "web_identity", "profile", "container", "imds", NULL,
};

static const char *const src_label[] = {
	"none", "environment", "web identity", "profile", "container endpoint",
	"instance metadata",
};

struct astro_awsprov {
	struct astro_awsprov *next;
	int refs;
	char *file, *profile;
	int want;			/* the source asked for (S_AUTO: the chain) */
	int found;			/* the source that answered */
	pthread_mutex_t refresh;	/* one fetch at a time */
	pthread_rwlock_t lock;		/* guards cur, expires_ms, refresh_at_ms, gen */
	struct astro_awscred cur;
	int64_t expires_ms;		/* 0: never expires */
	int64_t refresh_at_ms;
	unsigned gen;
	unsigned expired_gen;		/* last gen a server called expired */
	int none;			/* the chain found nothing: remembered, so a
					 * second client does not wait on IMDS again */
	char detail[200];		/* role ARN, URI, path: never a secret */
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct astro_awsprov *reg;
static int told_none;

int astro_awsprov_source_ok(const char *name)
{
	if (!name || !*name)
		return 1;
	for (size_t i = 0; astro_awsprov_sources[i]; i++)
		if (strcmp(name, astro_awsprov_sources[i]) == 0)
			return 1;
	return 0;
}

static int src_of(const char *name)
{
	for (int i = 0; name && *name && astro_awsprov_sources[i]; i++)
		if (strcmp(name, astro_awsprov_sources[i]) == 0)
			return i;
	return S_AUTO;
}

/* ---- in-place extraction into secure memory ---------------------------- */

/* Length of the JSON string at p (after its opening quote) up to the
 * closing quote, or -1 when unterminated. */
static long json_str_len(const char *p, const char *end)
{
	const char *q = p;

	while (q < end && *q != '"') {
		if (*q == '\\')
			q++;
		q++;
	}
	return q < end ? q - p : -1;
}

/* Four hex digits, or -1. */
static int hex4(const char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v |= (c | 0x20) - 'a' + 10;
		else
			return -1;
	}
	return v;
}

/* n decimal digits at *p (advanced), or -1. */
static int digits(const char **p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return -1;
		v = v * 10 + (**p - '0');
	}
	return v;
}

/*
 * The string value of top-level `key` in a flat JSON object, decoded into
 * secure memory (credential documents hold plain ASCII; \uXXXX beyond
 * ASCII is refused).  Not jansson: its copies would land on the heap
 * unwiped.  0, -ENOENT (absent or not a string), -EINVAL, -ENOMEM.
 */
ASTRO_TESTABLE int astro_awsprov_json_str(const char *body, size_t len, const char *key,
					  char **out)
{
	const char *p = body, *end = body + len;
	size_t klen = strlen(key);
	int depth = 0;

	*out = NULL;
	while (p < end) {
		if (*p == '{' || *p == '[') {
			depth++;
			p++;
		} else if (*p == '}' || *p == ']') {
			depth--;
			p++;
		} else if (*p == '"') {
			long n = json_str_len(p + 1, end);
			const char *s = p + 1, *v;

			if (n < 0)
				return -EINVAL;
			p = s + n + 1;
			v = p;
			while (v < end && (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n'))
				v++;
			if (depth != 1 || v >= end || *v != ':')
				continue;	/* a value, not a key */
			if ((size_t)n != klen || memcmp(s, key, klen) != 0) {
				p = v + 1;
				continue;
			}
			for (v++; v < end && (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n'); v++)
				;
			if (v >= end || *v != '"')
				return -ENOENT;
			n = json_str_len(v + 1, end);
			if (n < 0)
				return -EINVAL;
			char *d = astro_secure_alloc((size_t)n + 1);
			size_t o = 0;

			if (!d)
				return -ENOMEM;
			for (const char *c = v + 1; c < v + 1 + n; c++) {
				if (*c != '\\') {
					d[o++] = *c;
					continue;
				}
				c++;
				switch (*c) {
				case 'n': d[o++] = '\n'; break;
				case 't': d[o++] = '\t'; break;
				case 'r': d[o++] = '\r'; break;
				case 'b': d[o++] = '\b'; break;
				case 'f': d[o++] = '\f'; break;
				case 'u': {
					int u = c + 4 < v + 1 + n ? hex4(c + 1) : -1;

					if (u < 0 || u > 0x7f) {
						astro_secure_free(d, (size_t)n + 1);
						return -EINVAL;
					}
					d[o++] = (char)u;
					c += 4;
					break;
				}
				default: d[o++] = *c; break;	/* \" \\ \/ */
				}
			}
			d[o] = '\0';
			*out = d;
			return 0;
		} else {
			p++;
		}
	}
	return -ENOENT;
}

/* Text of the first <tag>…</tag> in an XML answer, entities decoded, in
 * secure memory.  STS answers are shallow and fixed; no parser copies. */
ASTRO_TESTABLE int astro_awsprov_xml_str(const char *body, size_t len, const char *tag,
					 char **out)
{
	char open[64], close[64];
	const char *s, *e;
	size_t o = 0;

	*out = NULL;
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	s = memmem(body, len, open, strlen(open));
	if (!s)
		return -ENOENT;
	s += strlen(open);
	e = memmem(s, (size_t)(body + len - s), close, strlen(close));
	if (!e)
		return -EINVAL;
	char *d = astro_secure_alloc((size_t)(e - s) + 1);

	if (!d)
		return -ENOMEM;
	for (const char *c = s; c < e; c++) {
		static const struct { const char *ent; char ch; } ents[] = {
			{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
			{ "&quot;", '"' }, { "&apos;", '\'' },
		};
		int done = 0;

		for (size_t i = 0; *c == '&' && !done && i < ASTRO_ARRAY_SIZE(ents); i++) {
			size_t n = strlen(ents[i].ent);

			if ((size_t)(e - c) >= n && memcmp(c, ents[i].ent, n) == 0) {
				d[o++] = ents[i].ch;
				c += n - 1;
				done = 1;
			}
		}
		if (!done)
			d[o++] = *c;
	}
	d[o] = '\0';
	*out = d;
	return 0;
}

/* "2024-05-01T12:00:00Z" (fraction and +00:00 allowed) → ms, 0 if not. */
ASTRO_TESTABLE int64_t astro_awsprov_parse_time(const char *s)
{
	static const char seps[] = "--T::";
	struct tm tm = { 0 };
	int f[6];

	if (!s)
		return 0;
	for (int i = 0; i < 6; i++) {
		if ((f[i] = digits(&s, i == 0 ? 4 : 2)) < 0)
			return 0;
		if (i < 5 && *s++ != seps[i])
			return 0;
	}
	tm.tm_year = f[0] - 1900;
	tm.tm_mon = f[1] - 1;
	tm.tm_mday = f[2];
	tm.tm_hour = f[3];
	tm.tm_min = f[4];
	tm.tm_sec = f[5];
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++)
			;
	if (strcmp(s, "Z") != 0 && strcmp(s, "+00:00") != 0 && *s != '\0')
		return 0;
	time_t t = timegm(&tm);

	return t <= 0 ? 0 : (int64_t)t * 1000;
}

/* ---- the sources -------------------------------------------------------- */

/* Keys of a credentials document (JSON from IMDS and containers). */
static int from_json(const struct astro_http_resp *r, const char *tok_key,
		     struct astro_awscred *c, int64_t *exp, const char *who,
		     char *err, size_t errlen)
{
	char *when = NULL;
	int rc;

	if ((rc = astro_awsprov_json_str(r->body, r->body_len, "AccessKeyId", &c->access_key)) ||
	    (rc = astro_awsprov_json_str(r->body, r->body_len, "SecretAccessKey", &c->secret_key)) ||
	    (rc = astro_awsprov_json_str(r->body, r->body_len, tok_key, &c->session_token))) {
		astro_awscred_free(c);
		return astro_err_set(err, errlen, rc == -ENOMEM ? -ENOMEM : -EIO,
				     "%s: the answer is not a credentials document", who);
	}
	if (astro_awsprov_json_str(r->body, r->body_len, "Expiration", &when) == 0) {
		*exp = astro_awsprov_parse_time(when);
		astro_secure_strfree(when);
	}
	return 0;
}

static int http_fetch(const char *method, const char *url, const char *const *hdrs,
		      const char *body, size_t body_len, int64_t timeout_ms, int idempotent,
		      struct astro_http_resp *r)
{
	struct astro_http_req q = {
		.method = method, .url = url, .headers = hdrs, .body = body,
		.body_len = body_len, .timeout_ms = timeout_ms, .idempotent = idempotent,
		.max_body = BODY_MAX, .service = "awscred", .secret_body = 1,
		.secret_request = 1,
	};

	return astro_http_request(&q, r);
}

/* A token file, whole, in secure memory, surrounding blanks cut. */
static int read_token_file(const char *path, char **out, size_t *cap, const char *what,
			   char *err, size_t errlen)
{
	struct stat st;
	size_t len = 0;
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), rc;

	*out = NULL;
	if (fd < 0) {
		rc = -errno;
		return astro_err_set(err, errlen, rc, "%s %s: %s", what, path, strerror(-rc));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > TOKEN_FILE_MAX) {
		close(fd);
		return astro_err_set(err, errlen, -EINVAL, "%s %s: not a token file", what, path);
	}
	rc = astro_secure_read_fd(fd, (size_t)st.st_size, &buf, &len, cap);
	close(fd);
	if (rc < 0)
		return astro_err_set(err, errlen, rc, "%s %s: %s", what, path, strerror(-rc));
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	if (!len) {
		astro_secure_free(buf, *cap);
		return astro_err_set(err, errlen, -EINVAL, "%s %s: empty", what, path);
	}
	*out = buf;
	return 0;
}

static int fetch_web(struct astro_awsprov *p, struct astro_awscred *c, int64_t *exp,
		     char *err, size_t errlen)
{
	const char *file = getenv("AWS_WEB_IDENTITY_TOKEN_FILE");
	const char *role = getenv("AWS_ROLE_ARN");
	const char *sess = getenv("AWS_ROLE_SESSION_NAME");
	const char *ep = getenv("AWS_ENDPOINT_URL_STS");
	const char *region = getenv("AWS_REGION");
	const char *hdrs[] = { "Content-Type: application/x-www-form-urlencoded",
			       "Accept: application/xml", NULL };
	struct astro_http_resp r = { 0 };
	char url[1024], session[80], *tok = NULL, *form = NULL, *enc_role = NULL, *enc_sess = NULL;
	char *code = NULL, *msg = NULL;
	size_t tcap = 0, fcap = 0, fl, tl;
	int rc;

	if (!file || !*file)
		return -ENOENT;
	if (!role || !*role)
		return astro_err_set(err, errlen, -EINVAL,
				     "web identity: AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
	if (!region || !*region)
		region = getenv("AWS_DEFAULT_REGION");
	if (ep && *ep)
		snprintf(url, sizeof(url), "%s", ep);
	else if (region && *region)
		snprintf(url, sizeof(url), "https://sts.%s.amazonaws.com", region);
	else
		snprintf(url, sizeof(url), "https://sts.amazonaws.com");
	for (size_t n = strlen(url); n > 8 && url[n - 1] == '/'; n--)
		url[n - 1] = '\0';
	if (strlen(url) + 2 > sizeof(url))
		return -ENAMETOOLONG;
	url[strlen(url) + 1] = '\0';
	url[strlen(url)] = '/';
	snprintf(p->detail, sizeof(p->detail), "%.160s", role);
	if (sess && *sess)
		snprintf(session, sizeof(session), "%.64s", sess);
	else
		snprintf(session, sizeof(session), "astrofs-%" PRId64, astro_now_ms() / 1000);
	/* The token file is re-read every time: EKS rotates it. */
	if ((rc = read_token_file(file, &tok, &tcap, "web identity token", err, errlen)) < 0)
		return rc;
	enc_role = astro_http_escape(role, strlen(role));
	enc_sess = astro_http_escape(session, strlen(session));
	tl = strlen(tok);
	fcap = 200 + (enc_role ? strlen(enc_role) : 0) + (enc_sess ? strlen(enc_sess) : 0) + tl * 3;
	form = astro_secure_alloc(fcap);
	if (!enc_role || !enc_sess || !form) {
		rc = -ENOMEM;
		goto out;
	}
	fl = (size_t)snprintf(form, fcap, "Action=AssumeRoleWithWebIdentity&RoleArn=%s"
			      "&RoleSessionName=%s&Version=2011-06-15&WebIdentityToken=",
			      enc_role, enc_sess);
	fl += astro_http_escape_to(form + fl, tok, tl);
	rc = http_fetch("POST", url, hdrs, form, fl, FETCH_TIMEOUT_MS, 1, &r);
	if (rc < 0) {
		rc = astro_err_set(err, errlen, rc, "web identity: STS %s: %s", url, strerror(-rc));
		goto out;
	}
	if (r.status != 200) {
		astro_awsprov_xml_str(r.body, r.body_len, "Code", &code);
		astro_awsprov_xml_str(r.body, r.body_len, "Message", &msg);
		rc = astro_err_set(err, errlen, r.status == 403 || r.status == 400 ? -EACCES : -EIO,
				   "web identity: STS AssumeRoleWithWebIdentity for %s: HTTP %ld %s%s%.120s",
				   role, r.status, code ? code : "", msg ? ": " : "", msg ? msg : "");
		goto out;
	}
	char *when = NULL;

	if (astro_awsprov_xml_str(r.body, r.body_len, "AccessKeyId", &c->access_key) ||
	    astro_awsprov_xml_str(r.body, r.body_len, "SecretAccessKey", &c->secret_key) ||
	    astro_awsprov_xml_str(r.body, r.body_len, "SessionToken", &c->session_token)) {
		astro_awscred_free(c);
		rc = astro_err_set(err, errlen, -EIO, "web identity: STS answer without credentials");
		goto out;
	}
	if (astro_awsprov_xml_str(r.body, r.body_len, "Expiration", &when) == 0) {
		*exp = astro_awsprov_parse_time(when);
		astro_secure_strfree(when);
	}
	rc = 0;
out:
	astro_secure_strfree(code);
	astro_secure_strfree(msg);
	free(enc_role);
	free(enc_sess);
	if (form)
		astro_secure_free(form, fcap);
	if (tok)
		astro_secure_free(tok, tcap);
	astro_http_resp_free(&r);
	return rc;
}

/* http only to hosts that cannot be someone else's: loopback and the
 * ECS/EKS link-local addresses (the SDKs' rule). */
ASTRO_TESTABLE int astro_awsprov_full_uri_ok(const char *uri)
{
	static const char *const ok[] = {
		"http://127.", "http://localhost:", "http://localhost/", "http://[::1]",
		"http://169.254.170.2:", "http://169.254.170.2/", "http://169.254.170.23:",
		"http://169.254.170.23/", "http://[fd00:ec2::23]",
	};

	if (strncmp(uri, "https://", 8) == 0)
		return 1;
	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(ok); i++)
		if (strncmp(uri, ok[i], strlen(ok[i])) == 0)
			return 1;
	return 0;
}

static int fetch_container(struct astro_awsprov *p, struct astro_awscred *c, int64_t *exp,
			   char *err, size_t errlen)
{
	const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *tfile = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *tenv = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	const char *hdrs[3] = { "Accept: application/json", NULL, NULL };
	struct astro_http_resp r = { 0 };
	char url[1024], *tok = NULL, *auth = NULL;
	size_t tcap = 0, acap = 0;
	int rc;

	if (rel && *rel)	/* the SDKs prefer the relative URI */
		snprintf(url, sizeof(url), "%s%s%s", ECS_HOST, *rel == '/' ? "" : "/", rel);
	else if (full && *full)
		snprintf(url, sizeof(url), "%s", full);
	else
		return -ENOENT;
	if (!astro_awsprov_full_uri_ok(url))
		return astro_err_set(err, errlen, -EINVAL,
				     "container: AWS_CONTAINER_CREDENTIALS_FULL_URI %.100s: http is "
				     "allowed only to a loopback or the ECS/EKS link-local host", url);
	snprintf(p->detail, sizeof(p->detail), "%.160s", url);
	if (tfile && *tfile) {
		if ((rc = read_token_file(tfile, &tok, &tcap, "container authorization token",
					  err, errlen)) < 0)
			return rc;
	} else if (tenv && *tenv) {
		tcap = strlen(tenv) + 1;
		if (!(tok = astro_secure_strdup(tenv)))
			return -ENOMEM;
	}
	if (tok) {
		if (strpbrk(tok, "\r\n")) {
			rc = astro_err_set(err, errlen, -EINVAL,
					   "container: the authorization token spans lines");
			goto out;
		}
		acap = strlen(tok) + 20;
		if (!(auth = astro_secure_alloc(acap))) {
			rc = -ENOMEM;
			goto out;
		}
		snprintf(auth, acap, "Authorization: %s", tok);
		hdrs[1] = auth;
	}
	rc = http_fetch("GET", url, hdrs, NULL, 0, FETCH_TIMEOUT_MS, 1, &r);
	if (rc < 0) {
		rc = astro_err_set(err, errlen, rc, "container: %s: %s", url, strerror(-rc));
		goto out;
	}
	if (r.status != 200) {
		rc = astro_err_set(err, errlen, r.status == 401 || r.status == 403 ? -EACCES : -EIO,
				   "container: %s: HTTP %ld%s", url, r.status,
				   r.status == 401 || r.status == 403 ?
				   " (check the authorization token)" : "");
		goto out;
	}
	rc = from_json(&r, "Token", c, exp, "container", err, errlen);
out:
	if (auth)
		astro_secure_free(auth, acap);
	if (tok)
		astro_secure_free(tok, tcap);
	astro_http_resp_free(&r);
	return rc;
}

static int fetch_imds(struct astro_awsprov *p, struct astro_awscred *c, int64_t *exp,
		      char *err, size_t errlen)
{
	const char *dis = getenv("AWS_EC2_METADATA_DISABLED");
	const char *epv = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *put_h[] = { "X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL };
	const char *get_h[2] = { NULL, NULL };
	struct astro_http_resp r = { 0 };
	char ep[512], url[1024], role[128], *th = NULL;
	size_t thcap = 0, n;
	int rc;

	if (dis && strcasecmp(dis, "true") == 0)
		return -ENOENT;
	snprintf(ep, sizeof(ep), "%s", epv && *epv ? epv : IMDS_DEFAULT);
	for (n = strlen(ep); n > 8 && ep[n - 1] == '/'; n--)
		ep[n - 1] = '\0';
	/* v2 only: a session token first; one attempt, 1 s, as the SDKs. */
	snprintf(url, sizeof(url), "%s/latest/api/token", ep);
	rc = http_fetch("PUT", url, put_h, NULL, 0, IMDS_TIMEOUT_MS, 0, &r);
	if (rc < 0 || r.status == 0) {
		astro_http_resp_free(&r);
		astro_info("aws credentials: no instance metadata service at %s", ep);
		return -ENOENT;	/* not on EC2 */
	}
	if (r.status != 200 || !r.body_len || memchr(r.body, '\n', r.body_len)) {
		rc = astro_err_set(err, errlen, r.status == 403 ? -EACCES : -EIO,
				   "instance metadata %s: token request: HTTP %ld", ep, r.status);
		goto out;
	}
	thcap = r.body_len + 40;
	if (!(th = astro_secure_alloc(thcap))) {
		rc = -ENOMEM;
		goto out;
	}
	snprintf(th, thcap, "X-aws-ec2-metadata-token: %s", r.body);
	get_h[0] = th;
	astro_http_resp_free(&r);
	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/", ep);
	rc = http_fetch("GET", url, get_h, NULL, 0, IMDS_TIMEOUT_MS, 1, &r);
	if (rc == 0 && r.status == 404) {
		rc = astro_err_set(err, errlen, -ENOENT,
				   "instance metadata %s: the instance has no IAM role", ep);
		goto out;
	}
	if (rc < 0 || r.status != 200 || !r.body_len) {
		rc = astro_err_set(err, errlen, rc < 0 ? rc : -EIO,
				   "instance metadata %s: role name: %s %ld", ep,
				   rc < 0 ? strerror(-rc) : "HTTP", r.status);
		goto out;
	}
	n = strcspn(r.body, "\r\n");
	if (n == 0 || n >= sizeof(role) || strpbrk(r.body, "/?#%") ) {
		rc = astro_err_set(err, errlen, -EIO, "instance metadata %s: odd role name", ep);
		goto out;
	}
	memcpy(role, r.body, n);
	role[n] = '\0';
	snprintf(p->detail, sizeof(p->detail), "role %s", role);
	astro_http_resp_free(&r);
	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/%s", ep, role);
	rc = http_fetch("GET", url, get_h, NULL, 0, IMDS_TIMEOUT_MS, 1, &r);
	if (rc < 0 || r.status != 200) {
		rc = astro_err_set(err, errlen, rc < 0 ? rc : -EIO,
				   "instance metadata %s: credentials of role %s: %s %ld", ep, role,
				   rc < 0 ? strerror(-rc) : "HTTP", r.status);
		goto out;
	}
	rc = from_json(&r, "Token", c, exp, "instance metadata", err, errlen);
out:
	if (th)
		astro_secure_free(th, thcap);
	astro_http_resp_free(&r);
	return rc;
}

static int fetch_profile(struct astro_awsprov *p, struct astro_awscred *c, char *err,
			 size_t errlen)
{
	int rc;

	if (!p->file)
		return astro_awscred_from_shared(p->profile, c, err, errlen);
	rc = astro_awscred_from_file(p->file, p->profile, c, err, errlen);
	return rc == -ENOENT ? -EINVAL : rc;	/* a named file must work */
}

/* One source: 0 with *c, -ENOENT when it is not there, else an error. */
static int fetch_one(struct astro_awsprov *p, int s, struct astro_awscred *c, int64_t *exp,
		     char *err, size_t errlen)
{
	int rc;

	*exp = 0;
	memset(c, 0, sizeof(*c));
	switch (s) {
	case S_ENV:
		rc = astro_awscred_from_env(c, err, errlen);
		break;
	case S_WEB:
		rc = fetch_web(p, c, exp, err, errlen);
		break;
	case S_PROFILE:
		rc = fetch_profile(p, c, err, errlen);
		if (rc == 0)
			snprintf(p->detail, sizeof(p->detail), "%.190s", c->source);
		break;
	case S_CONTAINER:
		rc = fetch_container(p, c, exp, err, errlen);
		break;
	case S_IMDS:
		rc = fetch_imds(p, c, exp, err, errlen);
		break;
	default:
		rc = -ENOENT;
	}
	if (rc == 0) {
		snprintf(c->source, sizeof(c->source), "%s%s%.120s", src_label[s],
			 p->detail[0] && s != S_ENV ? ": " : "", s != S_ENV ? p->detail : "");
		if (s == S_ENV)
			p->detail[0] = '\0';
	}
	return rc;
}

/* New credentials expiring at exp (0: never): refresh min(5 min, half
 * their lifetime) ahead, so even seconds-long test credentials are renewed
 * before they lapse. */
static void schedule(struct astro_awsprov *p, int64_t exp, int64_t now)
{
	int64_t ahead = (exp - now) / 2;

	p->expires_ms = exp;
	p->refresh_at_ms = !exp ? 0 : exp - (ahead > REFRESH_AHEAD_MS ? REFRESH_AHEAD_MS
							     : ahead > 0 ? ahead : 0);
	p->gen++;
}

/* The chain, or the one source asked for. */
static int resolve(struct astro_awsprov *p, char *err, size_t errlen)
{
	int64_t exp = 0;
	int rc = -ENOENT;

	if (p->want != S_AUTO) {
		rc = fetch_one(p, p->want, &p->cur, &exp, err, errlen);
		if (rc == -ENOENT && !(err && *err))
			astro_err_set(err, errlen, -ENOENT, "s3_credentials_source=%s: no credentials there",
				      astro_awsprov_sources[p->want]);
		if (rc == -ENOENT)
			rc = -EINVAL;	/* a pinned source must work */
		if (rc == 0)
			p->found = p->want;
	} else if (p->file) {
		rc = fetch_one(p, S_PROFILE, &p->cur, &exp, err, errlen);
		p->found = S_PROFILE;
	} else {
		for (int s = S_ENV; s < S_NSRC; s++) {
			if (err && errlen)
				err[0] = '\0';
			rc = fetch_one(p, s, &p->cur, &exp, err, errlen);
			if (rc != -ENOENT) {
				p->found = s;
				break;
			}
		}
	}
	if (rc)
		return rc;
	schedule(p, exp, astro_now_ms());
	return 0;
}

static void refresh(struct astro_awsprov *p)
{
	struct astro_awsprov tmp;
	char err[300] = "";
	int64_t exp = 0, now;
	int rc;

	memset(&tmp, 0, sizeof(tmp));
	tmp.file = p->file;
	tmp.profile = p->profile;
	rc = fetch_one(&tmp, p->found, &tmp.cur, &exp, err, sizeof(err));
	now = astro_now_ms();
	pthread_rwlock_wrlock(&p->lock);
	if (rc == 0) {
		astro_awscred_free(&p->cur);
		p->cur = tmp.cur;
		schedule(p, exp, now);
	} else {
		/* try again in a few seconds, not at every request */
		p->refresh_at_ms = now + 5000 < p->expires_ms || !p->expires_ms ? now + 5000
									    : p->expires_ms;
	}
	pthread_rwlock_unlock(&p->lock);
	if (rc == 0)
		astro_info("aws credentials: refreshed from %s", src_label[p->found]);
	else
		astro_warn("aws credentials: refresh from %s failed: %s", src_label[p->found],
			   err[0] ? err : strerror(-rc));
}

int astro_awsprov_current(struct astro_awsprov *p, struct astro_awscred *out, unsigned *gen)
{
	int64_t now = astro_now_ms();
	int rc = 0;

	memset(out, 0, sizeof(*out));
	pthread_rwlock_rdlock(&p->lock);
	if (p->refresh_at_ms && now >= p->refresh_at_ms) {
		int expired = p->expires_ms && now >= p->expires_ms;

		pthread_rwlock_unlock(&p->lock);
		/* One thread fetches; the others sign with the old set while
		 * it is still valid, and wait only once it has expired. */
		if (expired ? pthread_mutex_lock(&p->refresh) == 0
			    : pthread_mutex_trylock(&p->refresh) == 0) {
			pthread_rwlock_rdlock(&p->lock);
			int due = p->refresh_at_ms && astro_now_ms() >= p->refresh_at_ms;

			pthread_rwlock_unlock(&p->lock);
			if (due)
				refresh(p);
			pthread_mutex_unlock(&p->refresh);
		}
		pthread_rwlock_rdlock(&p->lock);
	}
	if (gen)
		*gen = p->gen;
	out->access_key = astro_secure_strdup(p->cur.access_key);
	out->secret_key = astro_secure_strdup(p->cur.secret_key);
	if (p->cur.session_token)
		out->session_token = astro_secure_strdup(p->cur.session_token);
	memcpy(out->source, p->cur.source, sizeof(out->source));
	if (!out->access_key || !out->secret_key || (p->cur.session_token && !out->session_token))
		rc = -ENOMEM;
	pthread_rwlock_unlock(&p->lock);
	if (rc)
		astro_awscred_free(out);
	return rc;
}

int astro_awsprov_expired(struct astro_awsprov *p, unsigned gen)
{
	int retry = 0;

	pthread_rwlock_wrlock(&p->lock);
	if (p->found != S_ENV && p->found != S_PROFILE && p->cur.session_token &&
	    p->expired_gen != gen) {
		p->expired_gen = gen;
		if (p->gen == gen)
			p->refresh_at_ms = 1;	/* due now */
		retry = 1;
	}
	pthread_rwlock_unlock(&p->lock);
	return retry;
}

/* ---- the registry ------------------------------------------------------- */

static void prov_free(struct astro_awsprov *p)
{
	pthread_mutex_destroy(&p->refresh);
	pthread_rwlock_destroy(&p->lock);
	free(p->file);
	free(p->profile);
	free(p);
}

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int astro_awsprov_get(const char *file, const char *profile, const char *source,
		      struct astro_awsprov **out, char *err, size_t errlen)
{
	struct astro_awsprov *p;
	int want = src_of(source), rc;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!astro_awsprov_source_ok(source))
		return astro_err_set(err, errlen, -EINVAL, "s3_credentials_source: unknown source");
	if (file && !*file)
		file = NULL;
	if (profile && !*profile)
		profile = NULL;
	if (file && want != S_AUTO && want != S_PROFILE)
		return astro_err_set(err, errlen, -EINVAL,
				     "s3_credentials names a file but s3_credentials_source=%s",
				     astro_awsprov_sources[want]);
	pthread_mutex_lock(&reg_lock);
	for (p = reg; p; p = p->next) {
		if (same(p->file, file) && same(p->profile, profile) && p->want == want) {
			if (p->none) {
				pthread_mutex_unlock(&reg_lock);
				return -ENOENT;
			}
			p->refs++;
			*out = p;
			pthread_mutex_unlock(&reg_lock);
			return 0;
		}
	}
	p = calloc(1, sizeof(*p));
	if (p) {
		pthread_mutex_init(&p->refresh, NULL);
		pthread_rwlock_init(&p->lock, NULL);
	}
	if (!p || (file && !(p->file = strdup(file))) ||
	    (profile && !(p->profile = strdup(profile)))) {
		rc = -ENOMEM;
		goto fail;
	}
	p->want = want;
	rc = resolve(p, err, errlen);
	if (rc == -ENOENT) {
		p->none = 1;
		p->next = reg;
		reg = p;
		p = NULL;
	}
	if (rc)
		goto fail;
	p->refs = 1;
	p->next = reg;
	reg = p;
	pthread_mutex_unlock(&reg_lock);
	astro_info("aws credentials: %s", p->cur.source);
	*out = p;
	return 0;
fail:
	if (rc == -ENOENT && !told_none) {
		told_none = 1;
		astro_notice("aws credentials: none found (environment, web identity, shared "
			     "credentials file, container endpoint, instance metadata); S3 "
			     "requests are anonymous (unsigned)");
	}
	pthread_mutex_unlock(&reg_lock);
	if (p) {
		astro_awscred_free(&p->cur);
		prov_free(p);
	}
	return rc;
}

void astro_awsprov_put(struct astro_awsprov *p)
{
	struct astro_awsprov **pp;

	if (!p)
		return;
	pthread_mutex_lock(&reg_lock);
	if (--p->refs > 0) {
		pthread_mutex_unlock(&reg_lock);
		return;
	}
	for (pp = &reg; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	pthread_mutex_unlock(&reg_lock);
	astro_awscred_free(&p->cur);
	prov_free(p);
}

/* The remembered "none found" answers, at exit (leak checkers). */
__attribute__((destructor)) static void forget_none(void)
{
	struct astro_awsprov **pp = &reg;

	while (*pp) {
		struct astro_awsprov *p = *pp;

		if (p->none) {
			*pp = p->next;
			prov_free(p);
		} else {
			pp = &p->next;
		}
	}
}

char *astro_awsprov_describe(void)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return NULL;
	pthread_mutex_lock(&reg_lock);
	for (struct astro_awsprov *p = reg; p; p = p->next) {
		if (p->none)
			continue;
		pthread_rwlock_rdlock(&p->lock);
		fprintf(f, "aws_credentials = " "********" " (%s%s", p->cur.source,
			p->cur.session_token ? ", temporary" : "");
		if (p->expires_ms) {
			char when[40];
			time_t t = (time_t)(p->expires_ms / 1000);
			struct tm tm;

			gmtime_r(&t, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			fprintf(f, ", expires %s", when);
		}
		fputs(")\n", f);
		pthread_rwlock_unlock(&p->lock);
	}
	pthread_mutex_unlock(&reg_lock);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

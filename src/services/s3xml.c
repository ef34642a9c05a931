/* s3xml.c — ListObjectsV2, Azure List Blobs and <Error> bodies with expat (see s3xml.h). */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <expat.h>
#include "core/astro.h"
#include "services/s3xml.h"

#define MAX_TEXT (64 * 1024)
#define MAX_DEPTH 32
#define MAX_ENTRIES 100000

struct astro_s3xml {
	XML_Parser xp;
	enum astro_s3xml_kind kind;
	int failed;		/* sticky: after an error every call fails */
	int depth;
	char names[MAX_DEPTH][32];	/* element names per depth (truncated) */
	char *text;
	size_t text_len, text_cap;
	int root_seen;
	int in_contents, in_prefixes;
	int have_key, have_prefix;
	int url_encoded;
	size_t cap_objects, cap_prefixes;
	struct astro_s3_list list;
	struct astro_s3_error err;
	char msg[256];
};

static void failf(struct astro_s3xml *p, const char *fmt, ...) ASTRO_PRINTF(2, 3);
static void failf(struct astro_s3xml *p, const char *fmt, ...)
{
	char tmp[200];
	va_list ap;

	if (p->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	snprintf(p->msg, sizeof(p->msg), "line %lu: %s",
		 (unsigned long)XML_GetCurrentLineNumber(p->xp), tmp);
	p->failed = 1;
	XML_StopParser(p->xp, XML_FALSE);
}

/* Namespaces are not processed; drop any "prefix:" so <s3:Key> works too. */
static const char *local_name(const char *n)
{
	const char *c = strrchr(n, ':');

	return c ? c + 1 : n;
}

static int parent_is(const struct astro_s3xml *p, const char *name)
{
	return p->depth >= 2 && strcmp(p->names[p->depth - 2], name) == 0;
}

static char *take_text(struct astro_s3xml *p)
{
	char *s = strndup(p->text ? p->text : "", p->text_len);

	if (!s)
		failf(p, "out of memory");
	return s;
}

/* Replace *slot, refusing a second occurrence (a forged or broken reply). */
static void set_once(struct astro_s3xml *p, char **slot, const char *what)
{
	if (*slot) {
		failf(p, "<%s> appears twice", what);
		return;
	}
	*slot = take_text(p);
}

static int parse_i64(const char *s, int64_t *out)
{
	int64_t v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (INT64_MAX - (*s - '0')) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return 0;
}

static int digits(const char *s, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* ISO 8601 as S3 sends it: 2009-10-12T17:50:30.000Z (fraction optional). */
static int parse_time(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, se;
	const char *t;

	if (strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
	    s[7] != '-' || digits(s + 8, 2, &d) || s[10] != 'T' || digits(s + 11, 2, &h) ||
	    s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &se))
		return -1;
	t = s + 19;
	if (*t == '.') {
		for (t++; *t >= '0' && *t <= '9'; t++)
			;
		if (t == s + 20)
			return -1;
	}
	if (strcmp(t, "Z") != 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || se > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	*out = (int64_t)timegm(&tm);
	return 0;
}

/* Room for one more listing entry in *arr (n used of *cap). */
static int make_room(struct astro_s3xml *p, void **arr, size_t *cap, size_t n,
		     size_t elsize)
{
	void *a;
	size_t c;

	if (p->list.nobjects + p->list.nprefixes >= MAX_ENTRIES) {
		failf(p, "more than %d entries", MAX_ENTRIES);
		return -1;
	}
	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 32;
	a = realloc(*arr, c * elsize);
	if (!a) {
		failf(p, "out of memory");
		return -1;
	}
	*arr = a;
	*cap = c;
	return 0;
}

static void new_object(struct astro_s3xml *p)
{
	struct astro_s3_list *l = &p->list;

	if (make_room(p, (void **)&l->objects, &p->cap_objects, l->nobjects,
		      sizeof(*l->objects)) < 0)
		return;
	memset(&l->objects[l->nobjects], 0, sizeof(l->objects[0]));
	l->objects[l->nobjects].size = -1;
	l->objects[l->nobjects].mtime = -1;
	l->nobjects++;
	p->in_contents = 1;
}

static void new_prefix(struct astro_s3xml *p)
{
	struct astro_s3_list *l = &p->list;

	if (make_room(p, (void **)&l->prefixes, &p->cap_prefixes, l->nprefixes,
		      sizeof(*l->prefixes)) < 0)
		return;
	l->prefixes[l->nprefixes++] = NULL;
	p->in_prefixes = 1;
}

/*
 * Azure List Blobs: EnumerationResults/Blobs/{Blob,BlobPrefix}.  A name
 * the service had to encode (Encoded="true": characters XML cannot carry)
 * is refused rather than listed under a name nobody can open.
 */
static void start_azlist(struct astro_s3xml *p, const char *n, const XML_Char **attrs)
{
	if (p->depth == 3 && parent_is(p, "Blobs")) {
		if (strcmp(n, "Blob") == 0)
			new_object(p);
		else if (strcmp(n, "BlobPrefix") == 0)
			new_prefix(p);
		return;
	}
	if (p->depth == 4 && strcmp(n, "Name") == 0)
		for (size_t i = 0; attrs && attrs[i]; i += 2)
			if (strcmp(attrs[i], "Encoded") == 0 && strcmp(attrs[i + 1], "true") == 0)
				failf(p, "<Name Encoded=\"true\">: encoded blob names are not supported");
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct astro_s3xml *p = ud;
	const char *n = local_name(name);

	if (p->failed)
		return;
	if (p->depth >= MAX_DEPTH) {
		failf(p, "elements nested deeper than %d", MAX_DEPTH);
		return;
	}
	astro_strlcpy(p->names[p->depth], n, sizeof(p->names[0]));
	p->depth++;
	p->text_len = 0;
	if (p->depth == 1) {
		const char *want = p->kind == ASTRO_S3XML_LIST ? "ListBucketResult" :
				   p->kind == ASTRO_S3XML_AZLIST ? "EnumerationResults" : "Error";

		if (strcmp(n, want) != 0)
			failf(p, "root element <%.40s> is not <%s>", n, want);
		p->root_seen = 1;
		return;
	}
	if (p->kind == ASTRO_S3XML_AZLIST) {
		start_azlist(p, n, attrs);
		return;
	}
	if (p->kind != ASTRO_S3XML_LIST || p->depth != 2)
		return;
	if (strcmp(n, "Contents") == 0)
		new_object(p);
	else if (strcmp(n, "CommonPrefixes") == 0)
		new_prefix(p);
}

static void end_list(struct astro_s3xml *p, const char *n)
{
	struct astro_s3_list *l = &p->list;

	if (p->depth == 2) {
		if (strcmp(n, "Contents") == 0) {
			struct astro_s3_object *o = &l->objects[l->nobjects - 1];

			if (!o->key)
				failf(p, "<Contents> without <Key>");
			else if (o->size < 0)
				failf(p, "<Contents> for '%.80s' without <Size>", o->key);
			p->in_contents = 0;
		} else if (strcmp(n, "CommonPrefixes") == 0) {
			if (!l->prefixes[l->nprefixes - 1])
				failf(p, "<CommonPrefixes> without <Prefix>");
			p->in_prefixes = 0;
		} else if (strcmp(n, "IsTruncated") == 0) {
			if (p->text_len == 4 && memcmp(p->text, "true", 4) == 0)
				l->is_truncated = 1;
			else if (p->text_len == 5 && memcmp(p->text, "false", 5) == 0)
				l->is_truncated = 0;
			else
				failf(p, "<IsTruncated>: not true or false");
		} else if (strcmp(n, "NextContinuationToken") == 0) {
			set_once(p, &l->next_token, n);
		} else if (strcmp(n, "Prefix") == 0) {
			set_once(p, &l->prefix, n);
		} else if (strcmp(n, "KeyCount") == 0) {
			char *s = take_text(p);
			int64_t v;

			if (s && (parse_i64(s, &v) < 0 || v > MAX_ENTRIES))
				failf(p, "<KeyCount>: not a count: '%.40s'", s);
			else if (s)
				l->key_count = (long)v;
			free(s);
		} else if (strcmp(n, "EncodingType") == 0) {
			if (p->text_len == 3 && memcmp(p->text, "url", 3) == 0)
				p->url_encoded = 1;
			else
				failf(p, "<EncodingType>: unknown encoding");
		}
		return;
	}
	if (p->depth == 3 && p->in_contents && parent_is(p, "Contents")) {
		struct astro_s3_object *o = &l->objects[l->nobjects - 1];
		char *s;

		if (strcmp(n, "Key") == 0) {
			set_once(p, &o->key, n);
			if (o->key && !*o->key)
				failf(p, "<Key> is empty");
		} else if (strcmp(n, "ETag") == 0) {
			set_once(p, &o->etag, n);
		} else if (strcmp(n, "Size") == 0) {
			if (!(s = take_text(p)))
				return;
			if (parse_i64(s, &o->size) < 0)
				failf(p, "<Size>: not a size: '%.40s'", s);
			free(s);
		} else if (strcmp(n, "LastModified") == 0) {
			if (!(s = take_text(p)))
				return;
			if (parse_time(s, &o->mtime) < 0)
				failf(p, "<LastModified>: not an ISO 8601 UTC time: '%.40s'", s);
			free(s);
		}
		return;
	}
	if (p->depth == 3 && p->in_prefixes && parent_is(p, "CommonPrefixes") &&
	    strcmp(n, "Prefix") == 0)
		set_once(p, &l->prefixes[l->nprefixes - 1], n);
}

/* RFC 1123 as Azure sends it: "Wed, 09 Sep 2009 09:20:02 GMT". */
static int parse_http_time(const char *s, int64_t *out)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct tm tm = { 0 };
	int d, y, h, mi, se;
	const char *m;

	if (strlen(s) != 29 || s[3] != ',' || s[4] != ' ' || digits(s + 5, 2, &d) ||
	    s[7] != ' ' || s[11] != ' ' || digits(s + 12, 4, &y) || s[16] != ' ' ||
	    digits(s + 17, 2, &h) || s[19] != ':' || digits(s + 20, 2, &mi) || s[22] != ':' ||
	    digits(s + 23, 2, &se) || strcmp(s + 25, " GMT") != 0)
		return -1;
	for (m = months; *m && strncmp(m, s + 8, 3) != 0; m += 3)
		;
	if (!*m || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = (int)(m - months) / 3;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	*out = (int64_t)timegm(&tm);
	return 0;
}

/*
 * A blob's properties.  Listings give the ETag bare (0x8D...) where GET and
 * HEAD quote it; stored quoted, so a validator from a listing matches the
 * ETag of the object's reads.
 */
static void end_az_property(struct astro_s3xml *p, struct astro_s3_object *o, const char *n)
{
	char *s;

	if (strcmp(n, "Content-Length") == 0) {
		if (!(s = take_text(p)))
			return;
		if (parse_i64(s, &o->size) < 0)
			failf(p, "<Content-Length>: not a size: '%.40s'", s);
		free(s);
	} else if (strcmp(n, "Etag") == 0) {
		if (o->etag) {
			failf(p, "<Etag> appears twice");
			return;
		}
		if (p->text_len && p->text[0] == '"')
			o->etag = take_text(p);
		else if (asprintf(&o->etag, "\"%.*s\"", (int)p->text_len, p->text ? p->text : "") < 0)
			o->etag = NULL;
		if (!o->etag)
			failf(p, "out of memory");
	} else if (strcmp(n, "Last-Modified") == 0) {
		if (!(s = take_text(p)))
			return;
		if (parse_http_time(s, &o->mtime) < 0)
			failf(p, "<Last-Modified>: not an RFC 1123 GMT time: '%.40s'", s);
		free(s);
	}
}

static void end_azlist(struct astro_s3xml *p, const char *n)
{
	struct astro_s3_list *l = &p->list;

	if (p->depth == 2) {
		if (strcmp(n, "Prefix") == 0) {
			set_once(p, &l->prefix, n);
		} else if (strcmp(n, "NextMarker") == 0 && p->text_len > 0) {
			/* An empty NextMarker is the last page. */
			set_once(p, &l->next_token, n);
			l->is_truncated = 1;
		}
	} else if (p->depth == 3 && p->in_contents && strcmp(n, "Blob") == 0) {
		struct astro_s3_object *o = &l->objects[l->nobjects - 1];

		if (!o->key)
			failf(p, "<Blob> without <Name>");
		else if (o->size < 0)
			failf(p, "<Blob> '%.80s' without <Content-Length>", o->key);
		p->in_contents = 0;
	} else if (p->depth == 3 && p->in_prefixes && strcmp(n, "BlobPrefix") == 0) {
		if (!l->prefixes[l->nprefixes - 1])
			failf(p, "<BlobPrefix> without <Name>");
		p->in_prefixes = 0;
	} else if (p->depth == 4 && strcmp(n, "Name") == 0 && p->in_contents &&
		   parent_is(p, "Blob")) {
		struct astro_s3_object *o = &l->objects[l->nobjects - 1];

		set_once(p, &o->key, n);
		if (o->key && !*o->key)
			failf(p, "<Name> is empty");
	} else if (p->depth == 4 && strcmp(n, "Name") == 0 && p->in_prefixes &&
		   parent_is(p, "BlobPrefix")) {
		set_once(p, &l->prefixes[l->nprefixes - 1], n);
	} else if (p->depth == 5 && p->in_contents && parent_is(p, "Properties") &&
		   strcmp(p->names[2], "Blob") == 0) {
		end_az_property(p, &l->objects[l->nobjects - 1], n);
	}
}

static void end_error(struct astro_s3xml *p, const char *n)
{
	struct astro_s3_error *e = &p->err;

	if (p->depth != 2)
		return;
	if (strcmp(n, "Code") == 0)
		set_once(p, &e->code, n);
	else if (strcmp(n, "Message") == 0)
		set_once(p, &e->message, n);
	else if (strcmp(n, "RequestId") == 0)
		set_once(p, &e->request_id, n);
	else if (strcmp(n, "BucketName") == 0)
		set_once(p, &e->bucket, n);
	else if (strcmp(n, "Key") == 0)
		set_once(p, &e->key, n);
	else if (strcmp(n, "Region") == 0)
		set_once(p, &e->region, n);
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	struct astro_s3xml *p = ud;
	const char *n = local_name(name);

	if (p->failed)
		return;
	assert(p->depth > 0);
	if (p->kind == ASTRO_S3XML_LIST)
		end_list(p, n);
	else if (p->kind == ASTRO_S3XML_AZLIST)
		end_azlist(p, n);
	else
		end_error(p, n);
	p->depth--;
	p->text_len = 0;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	struct astro_s3xml *p = ud;

	if (p->failed || len <= 0)
		return;
	if (p->text_len + (size_t)len > MAX_TEXT) {
		failf(p, "<%.30s>: text longer than %d bytes",
		      p->depth ? p->names[p->depth - 1] : "?", MAX_TEXT);
		return;
	}
	if (p->text_len + (size_t)len + 1 > p->text_cap) {
		size_t cap = (p->text_len + (size_t)len + 1) * 2;
		char *t = realloc(p->text, cap);

		if (!t) {
			failf(p, "out of memory");
			return;
		}
		p->text = t;
		p->text_cap = cap;
	}
	memcpy(p->text + p->text_len, s, (size_t)len);
	p->text_len += (size_t)len;
	p->text[p->text_len] = '\0';
}

/* A DTD could declare entities (billion laughs); S3 never sends one. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
			       const XML_Char *pubid, int has_internal)
{
	(void)name; (void)sysid; (void)pubid; (void)has_internal;
	failf(ud, "DTD not allowed in an S3 response");
}

static void XMLCALL on_entity(void *ud, const XML_Char *name, int is_param,
			      const XML_Char *value, int value_length, const XML_Char *base,
			      const XML_Char *sysid, const XML_Char *pubid,
			      const XML_Char *notation)
{
	(void)name; (void)is_param; (void)value; (void)value_length; (void)base;
	(void)sysid; (void)pubid; (void)notation;
	failf(ud, "entity declaration not allowed in an S3 response");
}

struct astro_s3xml *astro_s3xml_new(enum astro_s3xml_kind kind)
{
	struct astro_s3xml *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->kind = kind;
	p->list.key_count = -1;
	p->xp = XML_ParserCreate(NULL);
	if (!p->xp) {
		free(p);
		return NULL;
	}
	XML_SetUserData(p->xp, p);
	XML_SetElementHandler(p->xp, on_start, on_end);
	XML_SetCharacterDataHandler(p->xp, on_text);
	XML_SetStartDoctypeDeclHandler(p->xp, on_doctype);
	XML_SetEntityDeclHandler(p->xp, on_entity);
	return p;
}

static int expat_fail(struct astro_s3xml *p)
{
	if (!p->failed) {
		snprintf(p->msg, sizeof(p->msg), "line %lu: XML: %s",
			 (unsigned long)XML_GetCurrentLineNumber(p->xp),
			 XML_ErrorString(XML_GetErrorCode(p->xp)));
		p->failed = 1;
	}
	return -EBADMSG;
}

int astro_s3xml_feed(struct astro_s3xml *p, const char *buf, size_t len)
{
	if (p->failed)
		return -EBADMSG;
	while (len > 0) {
		int n = len > (1u << 30) ? 1 << 30 : (int)len;

		if (XML_Parse(p->xp, buf, n, XML_FALSE) != XML_STATUS_OK || p->failed)
			return expat_fail(p);
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* encoding-type=url: S3 encodes like HTML forms ('+' is a space). */
static int url_decode(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (*s == '+') {
			*w++ = ' ';
		} else if (*s == '%') {
			int hi = hexval(s[1]), lo = hi < 0 ? -1 : hexval(s[2]);

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			*w++ = (char)(hi * 16 + lo);
			s += 2;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
	return 0;
}

static int decode_list(struct astro_s3xml *p)
{
	struct astro_s3_list *l = &p->list;
	size_t i;

	if (!p->url_encoded)
		return 0;
	for (i = 0; i < l->nobjects; i++)
		if (url_decode(l->objects[i].key) < 0)
			goto bad;
	for (i = 0; i < l->nprefixes; i++)
		if (url_decode(l->prefixes[i]) < 0)
			goto bad;
	if (l->prefix && url_decode(l->prefix) < 0)
		goto bad;
	return 0;
bad:
	snprintf(p->msg, sizeof(p->msg), "bad %%-escape in a url-encoded key or prefix");
	p->failed = 1;
	return -EBADMSG;
}

int astro_s3xml_finish(struct astro_s3xml *p, struct astro_s3_list *list,
		       struct astro_s3_error *err)
{
	if (p->failed)
		return -EBADMSG;
	if (XML_Parse(p->xp, "", 0, XML_TRUE) != XML_STATUS_OK || p->failed)
		return expat_fail(p);
	if (!p->root_seen) {
		snprintf(p->msg, sizeof(p->msg), "empty document");
		p->failed = 1;
		return -EBADMSG;
	}
	if (p->kind == ASTRO_S3XML_LIST || p->kind == ASTRO_S3XML_AZLIST) {
		if (p->list.is_truncated && !p->list.next_token) {
			/* Paging on would loop on the same page forever. */
			snprintf(p->msg, sizeof(p->msg),
				 "<IsTruncated> true without <NextContinuationToken>");
			p->failed = 1;
			return -EBADMSG;
		}
		if (decode_list(p) < 0)
			return -EBADMSG;
		assert(list);
		*list = p->list;
		memset(&p->list, 0, sizeof(p->list));
		p->list.key_count = -1;
	} else {
		if (!p->err.code || !*p->err.code) {
			snprintf(p->msg, sizeof(p->msg), "<Error> without <Code>");
			p->failed = 1;
			return -EBADMSG;
		}
		assert(err);
		*err = p->err;
		memset(&p->err, 0, sizeof(p->err));
	}
	return 0;
}

void astro_s3xml_free(struct astro_s3xml *p)
{
	if (!p)
		return;
	XML_ParserFree(p->xp);
	astro_s3xml_list_free(&p->list);
	astro_s3xml_error_free(&p->err);
	free(p->text);
	free(p);
}

static int parse_one(enum astro_s3xml_kind kind, const char *xml, size_t len,
		     struct astro_s3_list *l, struct astro_s3_error *e,
		     char *err, size_t errlen)
{
	struct astro_s3xml *p = astro_s3xml_new(kind);
	int rc;

	if (!p)
		return -ENOMEM;
	rc = astro_s3xml_feed(p, xml, len);
	if (rc == 0)
		rc = astro_s3xml_finish(p, l, e);
	if (rc < 0)
		astro_err_set(err, errlen, rc, "%s", p->msg);
	astro_s3xml_free(p);
	return rc;
}

int astro_s3xml_parse_list(const char *xml, size_t len,
			   struct astro_s3_list *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	return parse_one(ASTRO_S3XML_LIST, xml, len, out, NULL, err, errlen);
}

int astro_s3xml_parse_azlist(const char *xml, size_t len,
			     struct astro_s3_list *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	return parse_one(ASTRO_S3XML_AZLIST, xml, len, out, NULL, err, errlen);
}

int astro_s3xml_parse_error(const char *xml, size_t len,
			    struct astro_s3_error *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	return parse_one(ASTRO_S3XML_ERROR, xml, len, NULL, out, err, errlen);
}

void astro_s3xml_list_free(struct astro_s3_list *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->nobjects; i++) {
		free(l->objects[i].key);
		free(l->objects[i].etag);
	}
	for (i = 0; i < l->nprefixes; i++)
		free(l->prefixes[i]);
	free(l->objects);
	free(l->prefixes);
	free(l->next_token);
	free(l->prefix);
	memset(l, 0, sizeof(*l));
	l->key_count = -1;
}

void astro_s3xml_error_free(struct astro_s3_error *e)
{
	if (!e)
		return;
	free(e->code);
	free(e->message);
	free(e->request_id);
	free(e->bucket);
	free(e->key);
	free(e->region);
	memset(e, 0, sizeof(*e));
}

struct code_map {
	const char *code;
	int err;
	const char *hint;
};

static const struct code_map codes[] = {
	{ "AccessDenied", EACCES, "access denied: check the key's permissions and the bucket policy; "
	  "a requester-pays bucket also needs s3_request_payer" },
	{ "SignatureDoesNotMatch", EACCES, "signature rejected: wrong secret key for this access key, "
	  "or the request was altered on the way (proxy)" },
	{ "InvalidAccessKeyId", EACCES, "unknown access key id: wrong credentials or profile for this endpoint" },
	{ "RequestTimeTooSkewed", EACCES, "clock skew: the local clock differs from the server's by more than 15 min" },
	{ "AuthorizationHeaderMalformed", EACCES, "request signed for the wrong region: set s3_region to the bucket's region" },
	{ "ExpiredToken", EACCES, "the session token has expired: refresh the temporary credentials" },
	{ "InvalidToken", EACCES, "the session token is invalid" },
	{ "TokenRefreshRequired", EACCES, "the session token must be refreshed" },
	{ "AllAccessDisabled", EACCES, "all access to this object has been disabled" },
	{ "AccountProblem", EACCES, "a problem with the AWS account blocks this request" },
	{ "NoSuchBucket", ENOENT, "no such bucket" },
	{ "NoSuchKey", ENOENT, "no such key" },
	{ "NoSuchVersion", ENOENT, "no such version" },
	{ "SlowDown", EAGAIN, "the server asks to slow down: retry later" },
	{ "InternalError", EAGAIN, "server internal error: retry" },
	{ "ServiceUnavailable", EAGAIN, "service unavailable: retry" },
	{ "RequestTimeout", EAGAIN, "the server timed out reading the request: retry" },
	{ "InvalidRange", ERANGE, "requested range is past the end of the object" },
	{ "PreconditionFailed", ESTALE, "the object changed upstream (ETag differs)" },
	/* Azure Blob Storage (the same <Error><Code> document). */
	{ "AuthenticationFailed", EACCES, "Azure rejected the signature: wrong account key or SAS token, "
	  "an expired SAS, or clock skew" },
	{ "AuthorizationFailure", EACCES, "Azure: not authorised for this operation (SAS permissions or network rules)" },
	{ "AuthorizationPermissionMismatch", EACCES, "Azure: the SAS lacks the permission (r, l) this needs" },
	{ "AuthorizationResourceTypeMismatch", EACCES, "Azure: the SAS does not cover this resource type" },
	{ "InsufficientAccountPermissions", EACCES, "Azure: the account lacks the permission" },
	{ "NoAuthenticationInformation", EACCES, "Azure: the container is private; give a SAS or account key" },
	{ "PublicAccessNotPermitted", EACCES, "Azure: the account forbids anonymous access; give a SAS or account key" },
	{ "ContainerNotFound", ENOENT, "no such Azure container" },
	{ "BlobNotFound", ENOENT, "no such blob" },
	{ "ResourceNotFound", ENOENT, "no such Azure container or blob (or it is private)" },
	{ "ServerBusy", EAGAIN, "the server asks to slow down: retry later" },
	{ "OperationTimedOut", EAGAIN, "the server timed out: retry" },
	{ "ConditionNotMet", ESTALE, "the object changed upstream (ETag differs)" },
	{ "InvalidHeaderValue", EIO, "Azure refused a header value (x-ms-version too new for this server?)" },
	{ "PermanentRedirect", EIO, "the bucket is in another region or needs another endpoint: set s3_region/s3_endpoint" },
};

int astro_s3xml_errno(const char *code, long status, const char **hint)
{
	const char *h = "unexpected S3 error";
	int e = EIO;
	size_t i;

	if (code && *code) {
		for (i = 0; i < ASTRO_ARRAY_SIZE(codes); i++) {
			if (strcmp(code, codes[i].code) == 0) {
				if (hint)
					*hint = codes[i].hint;
				return -codes[i].err;
			}
		}
	}
	/* HEAD replies carry no body: the status is all there is. */
	switch (status) {
	case 301: case 307:
		h = "the bucket is in another region or needs another endpoint: set s3_region/s3_endpoint";
		break;
	case 400:
		h = "bad request";
		break;
	case 401: case 403:
		e = EACCES;
		h = "access denied: wrong credentials, clock skew, or a requester-pays bucket without s3_request_payer";
		break;
	case 404:
		e = ENOENT;
		h = "no such bucket or key";
		break;
	case 412:
		e = ESTALE;
		h = "the object changed upstream (ETag differs)";
		break;
	case 416:
		e = ERANGE;
		h = "requested range is past the end of the object";
		break;
	case 429: case 500: case 502: case 503: case 504:
		e = EAGAIN;
		h = "server busy or failing: retry";
		break;
	default:
		break;
	}
	if (hint)
		*hint = h;
	return -e;
}

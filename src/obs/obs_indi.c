/* obs_indi.c — INDI stream parser and client (see obs_indi.h). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <expat.h>
#include "core/astro.h"
#include "core/log.h"
#include "obs_indi.h"

static const char *const state_names[] = { "Idle", "Ok", "Busy", "Alert" };

const char *astro_obs_indi_state_name(enum astro_obs_indi_state s)
{
	return s >= ASTRO_OBS_INDI_IDLE && s <= ASTRO_OBS_INDI_ALERT ? state_names[s] : "-";
}

/* ---- numbers ---- */

static int parse_double(const char *s, char **end, double *v)
{
	errno = 0;
	*v = strtod(s, end);
	return *end == s || errno == ERANGE || !isfinite(*v) ? -EINVAL : 0;
}

int astro_obs_indi_number(const char *s, double *out)
{
	double part[3] = { 0, 0, 0 }, v;
	bool neg;
	char *end;
	int i;

	while (isspace((unsigned char)*s))
		s++;
	neg = *s == '-';
	for (i = 0; i < 3; i++) {
		if (parse_double(s, &end, &part[i]) < 0)
			return -EINVAL;
		if (i > 0 && (part[i] < 0 || part[i] >= 60 || s[0] == '+' || s[0] == '-'))
			return -EINVAL;
		s = end;
		if (*s != ':' && !(*s == ' ' && isdigit((unsigned char)s[1])))
			break;
		s++;
	}
	while (isspace((unsigned char)*s))
		s++;
	if (*s || i == 3)
		return -EINVAL;
	v = fabs(part[0]) + part[1] / 60 + part[2] / 3600;
	*out = neg ? -v : v;
	return 0;
}

/* ---- base64 ---- */

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Decode in place-independent: out must hold len*3/4 bytes.  -EINVAL on a
 * character outside the alphabet or padding in the middle. */
static int b64_decode(const char *in, size_t len, uint8_t *out, size_t *outlen)
{
	uint32_t acc = 0;
	size_t i, n = 0, pad = 0;
	int bits = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (isspace(c))
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad || (v = b64_value(c)) < 0)
			return -EINVAL;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	if (pad > 2)
		return -EINVAL;
	*outlen = n;
	return 0;
}

/* ---- parser ---- */

struct astro_obs_indi_parser {
	XML_Parser xp;
	astro_obs_indi_msg_fn fn;
	void *arg;
	int depth;		/* 1: inside <indi>; 2: a top-level element; 3: a member */
	bool skip;		/* a top-level element we accept and ignore */
	bool dead;
	char err[300];
	struct astro_obs_indi_msg m;
	size_t cap;
	struct astro_buf text;	/* the current member's text */
	size_t tmax;
	size_t blob_size;	/* the current oneBLOB's size attribute */
};

static void stop(struct astro_obs_indi_parser *p, const char *fmt, ...) ASTRO_PRINTF(2, 3);
static void stop(struct astro_obs_indi_parser *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->dead)
		return;
	n = snprintf(p->err, sizeof(p->err), "line %lu: ",
		     (unsigned long)XML_GetCurrentLineNumber(p->xp));
	va_start(ap, fmt);
	vsnprintf(p->err + n, sizeof(p->err) - (size_t)n, fmt, ap);
	va_end(ap);
	p->dead = true;
	XML_StopParser(p->xp, XML_FALSE);
}

static const char *attr(const XML_Char **a, const char *name)
{
	for (; a[0]; a += 2)
		if (strcmp(a[0], name) == 0)
			return a[1];
	return NULL;
}

static void clear_msg(struct astro_obs_indi_msg *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		free(m->v[i].text);
		free(m->v[i].blob);
	}
	m->n = 0;
	m->device[0] = m->name[0] = m->message[0] = '\0';
	m->type = 0;
	m->state = ASTRO_OBS_INDI_NONE;
}

/* "defNumberVector" -> DEF 'N'; 0 if not a vector name. */
static int vector_kind(const char *el, enum astro_obs_indi_kind *k, char *type)
{
	static const struct { const char *s; char t; } types[] = {
		{ "Number", 'N' }, { "Switch", 'S' }, { "Text", 'T' }, { "Light", 'L' },
		{ "BLOB", 'B' },
	};
	size_t i, n;

	if (strncmp(el, "def", 3) == 0)
		*k = ASTRO_OBS_INDI_DEF;
	else if (strncmp(el, "set", 3) == 0)
		*k = ASTRO_OBS_INDI_SET;
	else
		return 0;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		n = strlen(types[i].s);
		if (strncmp(el + 3, types[i].s, n) == 0 && strcmp(el + 3 + n, "Vector") == 0) {
			*type = types[i].t;
			return 1;
		}
	}
	return 0;
}

static bool ignored_top(const char *el)
{
	static const char *const names[] = {
		"getProperties", "enableBLOB", "newNumberVector", "newSwitchVector",
		"newTextVector", "newBLOBVector", "pingRequest", "pingReply",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(el, names[i]) == 0)
			return true;
	return false;
}

static int copy_name(struct astro_obs_indi_parser *p, char *dst, const char *v,
		     const char *what, const char *el)
{
	if (!v) {
		stop(p, "<%s> without %s", el, what);
		return -1;
	}
	if (strlen(v) > ASTRO_OBS_INDI_NAME_MAX) {
		stop(p, "<%s> %s longer than %d bytes", el, what, ASTRO_OBS_INDI_NAME_MAX);
		return -1;
	}
	astro_strlcpy(dst, v, ASTRO_OBS_INDI_NAME_MAX + 1);
	return 0;
}

static void start_top(struct astro_obs_indi_parser *p, const char *el, const XML_Char **a)
{
	struct astro_obs_indi_msg *m = &p->m;
	const char *st, *msg;
	int i;

	clear_msg(m);
	p->skip = false;
	if (vector_kind(el, &m->kind, &m->type)) {
		if (copy_name(p, m->device, attr(a, "device"), "device", el) < 0 ||
		    copy_name(p, m->name, attr(a, "name"), "name", el) < 0)
			return;
		st = attr(a, "state");
		if (st) {
			for (i = 0; i < 4 && strcmp(st, state_names[i]) != 0; i++)
				;
			if (i == 4) {
				stop(p, "<%s %s>: state '%.40s' is not Idle, Ok, Busy or Alert", el,
				     m->name, st);
				return;
			}
			m->state = (enum astro_obs_indi_state)i;
		} else if (m->kind == ASTRO_OBS_INDI_DEF && m->type != 'B' && m->type != 'L') {
			/* Lights and BLOBs carry state too, but drivers omit it. */
			stop(p, "<%s %s> without a state", el, m->name);
			return;
		}
	} else if (strcmp(el, "delProperty") == 0 || strcmp(el, "message") == 0) {
		m->kind = el[0] == 'd' ? ASTRO_OBS_INDI_DEL : ASTRO_OBS_INDI_MESSAGE;
		if (m->kind == ASTRO_OBS_INDI_DEL &&
		    copy_name(p, m->device, attr(a, "device"), "device", el) < 0)
			return;
		if (attr(a, "device") && copy_name(p, m->device, attr(a, "device"), "device", el) < 0)
			return;
		if (m->kind == ASTRO_OBS_INDI_DEL && attr(a, "name") &&
		    copy_name(p, m->name, attr(a, "name"), "name", el) < 0)
			return;
	} else if (ignored_top(el)) {
		p->skip = true;
		return;
	} else {
		stop(p, "<%.60s> is not an INDI element", el);
		return;
	}
	msg = attr(a, "message");
	if (msg)
		astro_strlcpy(m->message, msg, sizeof(m->message));
}

static void start_member(struct astro_obs_indi_parser *p, const char *el, const XML_Char **a)
{
	struct astro_obs_indi_msg *m = &p->m;
	struct astro_obs_indi_member *mb;
	static const char *const kinds[] = { "Number", "Switch", "Text", "Light", "BLOB" };
	const char *want = m->type == 'N' ? kinds[0] : m->type == 'S' ? kinds[1]
			 : m->type == 'T' ? kinds[2] : m->type == 'L' ? kinds[3] : kinds[4];
	const char *pre = m->kind == ASTRO_OBS_INDI_DEF ? "def" : "one", *sz;
	char *end;

	if (p->skip)
		return;
	if (!m->type || strncmp(el, pre, 3) != 0 || strcmp(el + 3, want) != 0) {
		stop(p, "<%.60s> inside <%s%sVector %s>", el,
		     m->kind == ASTRO_OBS_INDI_DEF ? "def" : m->kind == ASTRO_OBS_INDI_SET ? "set" : "?",
		     m->type ? want : "", m->name);
		return;
	}
	if (m->n == p->cap) {
		size_t nc = p->cap ? p->cap * 2 : 8;
		void *v = nc > 4096 ? NULL : realloc(m->v, nc * sizeof(*m->v));

		if (!v) {
			stop(p, "<%s> has more than 4096 members", m->name);
			return;
		}
		m->v = v;
		p->cap = nc;
	}
	mb = &m->v[m->n];
	memset(mb, 0, sizeof(*mb));
	if (copy_name(p, mb->name, attr(a, "name"), "name", el) < 0)
		return;
	m->n++;
	p->text.len = 0;
	p->tmax = ASTRO_OBS_INDI_TEXT_MAX;
	p->blob_size = 0;
	if (m->type == 'B' && m->kind == ASTRO_OBS_INDI_SET) {
		unsigned long long s;

		sz = attr(a, "size");
		if (!sz || !*sz || (errno = 0, s = strtoull(sz, &end, 10), *end) || errno ||
		    s > ASTRO_OBS_INDI_BLOB_MAX) {
			stop(p, "<oneBLOB %s> size '%.30s' is not a byte count up to %u", mb->name,
			     sz ? sz : "", ASTRO_OBS_INDI_BLOB_MAX);
			return;
		}
		p->blob_size = (size_t)s;
		p->tmax = (size_t)s / 3 * 4 + 4 + (size_t)s / 32 + 64;	/* base64 + line breaks */
		astro_strlcpy(mb->format, attr(a, "format") ? attr(a, "format") : "",
			      sizeof(mb->format));
	}
}

static void XMLCALL on_start(void *ud, const XML_Char *el, const XML_Char **a)
{
	struct astro_obs_indi_parser *p = ud;

	p->depth++;
	if (p->depth == 1)
		return;		/* our own <indi> root */
	if (p->depth == 2)
		start_top(p, el, a);
	else if (p->depth == 3)
		start_member(p, el, a);
	else if (!p->skip)
		stop(p, "<%.60s> nested inside a member", el);
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	struct astro_obs_indi_parser *p = ud;

	if (p->depth <= 2 && !p->skip) {
		int i;

		for (i = 0; i < len; i++)
			if (!isspace((unsigned char)s[i])) {
				if (p->depth <= 1)
					stop(p, "text outside any INDI element");
				else
					stop(p, "text directly inside <%s>",
					     p->m.name[0] ? p->m.name : "message");
				return;
			}
		return;
	}
	if (p->depth != 3 || p->skip || p->dead)
		return;
	if (p->text.len + (size_t)len > p->tmax) {
		stop(p, "member %s of %s: text longer than %zu bytes", p->m.v[p->m.n - 1].name,
		     p->m.name, p->tmax);
		return;
	}
	astro_buf_put(&p->text, s, (size_t)len);
	if (p->text.err)
		stop(p, "out of memory");
}

static void end_member(struct astro_obs_indi_parser *p)
{
	struct astro_obs_indi_msg *m = &p->m;
	struct astro_obs_indi_member *mb = &m->v[m->n - 1];
	size_t a = 0, b = p->text.len, got = 0;
	const char *t = p->text.p ? p->text.p : "";

	if (m->type == 'B' && m->kind == ASTRO_OBS_INDI_SET) {
		mb->blob = malloc(b / 4 * 3 + 3);
		if (!mb->blob) {
			stop(p, "out of memory for a %zu-byte BLOB", p->blob_size);
			return;
		}
		size_t fl = strlen(mb->format);
		/* A compressed BLOB (".fits.z") gives the uncompressed size. */
		bool z = fl >= 2 && strcmp(mb->format + fl - 2, ".z") == 0;

		if (b64_decode(t, b, mb->blob, &got) < 0 ||
		    (z ? got > b : got != p->blob_size)) {
			stop(p, "<oneBLOB %s> of %s: not base64 of %zu bytes", mb->name, m->name,
			     p->blob_size);
			return;
		}
		mb->blob_len = got;
		mb->text = strdup("");
		if (!mb->text)
			stop(p, "out of memory");
		return;
	}
	while (a < b && isspace((unsigned char)t[a]))
		a++;
	while (b > a && isspace((unsigned char)t[b - 1]))
		b--;
	mb->text = strndup(t + a, b - a);
	if (!mb->text) {
		stop(p, "out of memory");
		return;
	}
	if (m->type == 'N' && m->kind == ASTRO_OBS_INDI_SET &&
	    astro_obs_indi_number(mb->text, &mb->number) < 0) {
		stop(p, "%s.%s: '%.40s' is not a number", m->name, mb->name, mb->text);
		return;
	}
	if (m->type == 'N' && m->kind == ASTRO_OBS_INDI_DEF &&
	    astro_obs_indi_number(mb->text, &mb->number) < 0) {
		stop(p, "%s.%s: '%.40s' is not a number", m->name, mb->name, mb->text);
		return;
	}
	if (m->type == 'S' && strcmp(mb->text, "On") != 0 && strcmp(mb->text, "Off") != 0) {
		stop(p, "%s.%s: switch value '%.40s' is not On or Off", m->name, mb->name, mb->text);
		return;
	}
	if (m->type == 'L') {
		int i;

		for (i = 0; i < 4 && strcmp(mb->text, state_names[i]) != 0; i++)
			;
		if (i == 4)
			stop(p, "%s.%s: light '%.40s' is not Idle, Ok, Busy or Alert", m->name,
			     mb->name, mb->text);
	}
}

static void XMLCALL on_end(void *ud, const XML_Char *el)
{
	struct astro_obs_indi_parser *p = ud;

	(void)el;
	if (!p->dead && !p->skip) {
		if (p->depth == 3)
			end_member(p);
		else if (p->depth == 2 && !p->dead)
			p->fn(p->arg, &p->m);
	}
	if (p->depth == 2)
		clear_msg(&p->m);
	p->depth--;
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
			       const XML_Char *pubid, int has_internal)
{
	(void)name, (void)sysid, (void)pubid, (void)has_internal;
	stop(ud, "a DOCTYPE is not INDI");
}

static void XMLCALL on_entity(void *ud, const XML_Char *name, int is_param,
			      const XML_Char *value, int vlen, const XML_Char *base,
			      const XML_Char *sysid, const XML_Char *pubid, const XML_Char *notation)
{
	(void)name, (void)is_param, (void)value, (void)vlen, (void)base, (void)sysid;
	(void)pubid, (void)notation;
	stop(ud, "an entity declaration is not INDI");
}

struct astro_obs_indi_parser *astro_obs_indi_parser_new(astro_obs_indi_msg_fn fn, void *arg)
{
	struct astro_obs_indi_parser *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->fn = fn;
	p->arg = arg;
	p->m.state = ASTRO_OBS_INDI_NONE;
	p->xp = XML_ParserCreate("UTF-8");
	if (!p->xp) {
		free(p);
		return NULL;
	}
	XML_SetUserData(p->xp, p);
	XML_SetElementHandler(p->xp, on_start, on_end);
	XML_SetCharacterDataHandler(p->xp, on_text);
	XML_SetStartDoctypeDeclHandler(p->xp, on_doctype);
	XML_SetEntityDeclHandler(p->xp, on_entity);
	/* The stream has no root: give it one so expat takes element after
	 * element. */
	if (XML_Parse(p->xp, "<indi>", 6, XML_FALSE) != XML_STATUS_OK) {
		astro_obs_indi_parser_free(p);
		return NULL;
	}
	return p;
}

int astro_obs_indi_parser_feed(struct astro_obs_indi_parser *p, const char *buf, size_t len,
			       char *err, size_t errlen)
{
	while (!p->dead && len > 0) {
		int n = len > (1u << 30) ? 1 << 30 : (int)len;

		if (XML_Parse(p->xp, buf, n, XML_FALSE) != XML_STATUS_OK && !p->dead) {
			if (p->depth <= 0)
				stop(p, "data after the end of the stream");
			else
				stop(p, "not well-formed XML: %s",
				     XML_ErrorString(XML_GetErrorCode(p->xp)));
		}
		buf += n;
		len -= (size_t)n;
	}
	if (p->dead) {
		astro_strlcpy(err, p->err, errlen);
		return strstr(p->err, "out of memory") ? -ENOMEM : -EBADMSG;
	}
	return 0;
}

void astro_obs_indi_parser_free(struct astro_obs_indi_parser *p)
{
	if (!p)
		return;
	clear_msg(&p->m);
	free(p->m.v);
	free(p->text.p);
	if (p->xp)
		XML_ParserFree(p->xp);
	free(p);
}

/* ---- client ---- */

#define MSGS 16

struct prop {
	char device[ASTRO_OBS_INDI_NAME_MAX + 1], name[ASTRO_OBS_INDI_NAME_MAX + 1];
	char type;
	enum astro_obs_indi_state state;
	uint64_t gen;
	char message[512];
	size_t n;
	struct { char name[ASTRO_OBS_INDI_NAME_MAX + 1]; char *text; } *v;
};

struct astro_obs_indi {
	char *host;
	unsigned port;
	int fd;
	bool reader_up, alive;
	pthread_t reader;
	pthread_mutex_t lock;		/* everything below */
	pthread_cond_t cond;
	char why[300];
	uint64_t gen;
	struct prop *props;
	size_t nprops, cap;
	struct { char device[ASTRO_OBS_INDI_NAME_MAX + 1]; char text[512]; uint64_t gen; } msgs[MSGS];
	unsigned nmsg;
	struct { char device[ASTRO_OBS_INDI_NAME_MAX + 1]; void *data; size_t len;
		 char format[16]; uint64_t gen; } blob;
	pthread_mutex_t wlock;		/* writes to fd */
};

static void prop_clear(struct prop *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		free(p->v[i].text);
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

static struct prop *prop_find(struct astro_obs_indi *c, const char *dev, const char *name)
{
	size_t i;

	for (i = 0; i < c->nprops; i++)
		if (strcmp(c->props[i].device, dev) == 0 && strcmp(c->props[i].name, name) == 0)
			return &c->props[i];
	return NULL;
}

static void note_message(struct astro_obs_indi *c, const char *dev, const char *text)
{
	unsigned i = c->nmsg++ % MSGS;

	astro_strlcpy(c->msgs[i].device, dev, sizeof(c->msgs[i].device));
	astro_strlcpy(c->msgs[i].text, text, sizeof(c->msgs[i].text));
	c->msgs[i].gen = c->gen;
}

/* Apply one message (the reader thread, lock held). */
static void apply(void *arg, const struct astro_obs_indi_msg *m)
{
	struct astro_obs_indi *c = arg;
	struct prop *p;
	size_t i, k;

	c->gen++;
	if (m->message[0])
		note_message(c, m->device, m->message);
	if (m->kind == ASTRO_OBS_INDI_MESSAGE)
		return;
	if (m->kind == ASTRO_OBS_INDI_DEL) {
		for (i = 0; i < c->nprops;) {
			p = &c->props[i];
			if (strcmp(p->device, m->device) == 0 &&
			    (!m->name[0] || strcmp(p->name, m->name) == 0)) {
				prop_clear(p);
				c->props[i] = c->props[--c->nprops];
			} else {
				i++;
			}
		}
		return;
	}
	p = prop_find(c, m->device, m->name);
	if (!p && m->kind == ASTRO_OBS_INDI_SET)
		return;		/* a set of something never defined: nothing to update */
	if (!p) {
		if (c->nprops == c->cap) {
			size_t nc = c->cap ? c->cap * 2 : 64;
			void *v = realloc(c->props, nc * sizeof(*c->props));

			if (!v)
				return;
			c->props = v;
			c->cap = nc;
		}
		p = &c->props[c->nprops++];
		memset(p, 0, sizeof(*p));
		astro_strlcpy(p->device, m->device, sizeof(p->device));
		astro_strlcpy(p->name, m->name, sizeof(p->name));
		p->type = m->type;
	}
	if (m->kind == ASTRO_OBS_INDI_DEF)
		prop_clear(p);
	if (m->state != ASTRO_OBS_INDI_NONE)
		p->state = m->state;
	astro_strlcpy(p->message, m->message, sizeof(p->message));
	p->gen = c->gen;
	for (i = 0; i < m->n; i++) {
		const struct astro_obs_indi_member *mb = &m->v[i];

		if (mb->blob) {
			free(c->blob.data);
			c->blob.data = malloc(mb->blob_len ? mb->blob_len : 1);
			if (c->blob.data)
				memcpy(c->blob.data, mb->blob, mb->blob_len);
			c->blob.len = mb->blob_len;
			astro_strlcpy(c->blob.device, m->device, sizeof(c->blob.device));
			astro_strlcpy(c->blob.format, mb->format, sizeof(c->blob.format));
			c->blob.gen = c->gen;
			continue;
		}
		for (k = 0; k < p->n && strcmp(p->v[k].name, mb->name) != 0; k++)
			;
		if (k == p->n) {
			void *v = realloc(p->v, (p->n + 1) * sizeof(*p->v));

			if (!v)
				continue;
			p->v = v;
			astro_strlcpy(p->v[k].name, mb->name, sizeof(p->v[k].name));
			p->v[k].text = NULL;
			p->n++;
		}
		free(p->v[k].text);
		p->v[k].text = strdup(mb->text ? mb->text : "");
	}
}

static void mark_dead(struct astro_obs_indi *c, const char *why)
{
	if (c->alive)
		astro_warn("indi %s:%u: %s", c->host, c->port, why);
	c->alive = false;
	astro_strlcpy(c->why, why, sizeof(c->why));
	pthread_cond_broadcast(&c->cond);
}

static void *reader_main(void *arg)
{
	struct astro_obs_indi *c = arg;
	struct astro_obs_indi_parser *p = astro_obs_indi_parser_new(apply, c);
	char buf[65536], err[300], why[340];

	for (;;) {
		ssize_t n;

		if (!p) {
			pthread_mutex_lock(&c->lock);
			mark_dead(c, "out of memory");
			pthread_mutex_unlock(&c->lock);
			break;
		}
		n = read(c->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		pthread_mutex_lock(&c->lock);
		if (n <= 0) {
			snprintf(why, sizeof(why), "connection lost: %s",
				 n == 0 ? "the server closed it" : strerror(errno));
			mark_dead(c, why);
			pthread_mutex_unlock(&c->lock);
			break;
		}
		if (astro_obs_indi_parser_feed(p, buf, (size_t)n, err, sizeof(err)) < 0) {
			snprintf(why, sizeof(why), "refused the server's stream: %s", err);
			mark_dead(c, why);
			pthread_mutex_unlock(&c->lock);
			shutdown(c->fd, SHUT_RDWR);
			break;
		}
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
	}
	astro_obs_indi_parser_free(p);
	return NULL;
}

int astro_obs_indi_new(const char *host, unsigned port, struct astro_obs_indi **out)
{
	struct astro_obs_indi *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c || !(c->host = strdup(host))) {
		free(c);
		return -ENOMEM;
	}
	c->port = port;
	c->fd = -1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->wlock, NULL);
	pthread_cond_init(&c->cond, NULL);
	astro_strlcpy(c->why, "not connected", sizeof(c->why));
	*out = c;
	return 0;
}

void astro_obs_indi_disconnect(struct astro_obs_indi *c)
{
	size_t i;

	if (c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
	if (c->reader_up)
		pthread_join(c->reader, NULL);
	c->reader_up = false;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->nprops; i++)
		prop_clear(&c->props[i]);
	c->nprops = 0;
	free(c->blob.data);
	c->blob.data = NULL;
	c->blob.gen = 0;
	if (c->alive)
		mark_dead(c, "disconnected");
	pthread_mutex_unlock(&c->lock);
}

void astro_obs_indi_free(struct astro_obs_indi *c)
{
	if (!c)
		return;
	astro_obs_indi_disconnect(c);
	free(c->props);
	free(c->host);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->wlock);
	pthread_cond_destroy(&c->cond);
	free(c);
}

static int dial(const char *host, unsigned port, unsigned timeout_ms, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
	char ps[16];
	int fd = -1, rc, e = ECONNREFUSED;

	snprintf(ps, sizeof(ps), "%u", port);
	rc = getaddrinfo(host, ps, &hints, &res);
	if (rc != 0)
		return astro_err_set(err, errlen, -EINVAL, "%s: %s", host, gai_strerror(rc)), -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		struct pollfd pf;
		socklen_t sl = sizeof(e);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		e = errno;
		if (e == EINPROGRESS) {
			pf = (struct pollfd){ .fd = fd, .events = POLLOUT };
			if (poll(&pf, 1, (int)timeout_ms) == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) == 0 && e == 0)
				break;
			if (e == EINPROGRESS)
				e = ETIMEDOUT;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		astro_err_set(err, errlen, -EINVAL, "connecting to %s:%u: %s", host, port, strerror(e));
		return -e;
	}
	/* A server that stops reading must not hang a writer forever. */
	{
		struct timeval tv = { .tv_sec = timeout_ms / 1000,
				      .tv_usec = (timeout_ms % 1000) * 1000 };

		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	return fd;
}

static int send_all(struct astro_obs_indi *c, const char *s, size_t len)
{
	int rc = 0;

	pthread_mutex_lock(&c->wlock);
	while (len > 0 && c->fd >= 0) {
		ssize_t n = send(c->fd, s, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = -errno;
			break;
		}
		s += n;
		len -= (size_t)n;
	}
	if (c->fd < 0)
		rc = -ENOTCONN;
	pthread_mutex_unlock(&c->wlock);
	return rc;
}

int astro_obs_indi_connect(struct astro_obs_indi *c, unsigned timeout_ms, char *err,
			   size_t errlen)
{
	static const char hello[] = "<getProperties version=\"1.7\"/>\n";
	int fd, rc;

	astro_obs_indi_disconnect(c);
	fd = dial(c->host, c->port, timeout_ms, err, errlen);
	if (fd < 0)
		return fd;
	/* dial() left it non-blocking for the connect; the reader blocks. */
	{
		int fl = fcntl(fd, F_GETFL);

		if (fl >= 0)
			fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	}
	c->fd = fd;
	pthread_mutex_lock(&c->lock);
	c->alive = true;
	c->why[0] = '\0';
	c->gen++;
	pthread_mutex_unlock(&c->lock);
	rc = send_all(c, hello, sizeof(hello) - 1);
	if (rc == 0 && pthread_create(&c->reader, NULL, reader_main, c) != 0)
		rc = -EAGAIN;
	if (rc < 0) {
		astro_err_set(err, errlen, -EINVAL, "starting the INDI session: %s", strerror(-rc));
		close(c->fd);
		c->fd = -1;
		pthread_mutex_lock(&c->lock);
		c->alive = false;
		pthread_mutex_unlock(&c->lock);
		return rc;
	}
	c->reader_up = true;
	return 0;
}

bool astro_obs_indi_alive(struct astro_obs_indi *c, char *why, size_t whylen)
{
	bool a;

	pthread_mutex_lock(&c->lock);
	a = c->alive;
	if (!a && why)
		astro_strlcpy(why, c->why, whylen);
	pthread_mutex_unlock(&c->lock);
	return a;
}

uint64_t astro_obs_indi_gen(struct astro_obs_indi *c)
{
	uint64_t g;

	pthread_mutex_lock(&c->lock);
	g = c->gen;
	pthread_mutex_unlock(&c->lock);
	return g;
}

int astro_obs_indi_wait(struct astro_obs_indi *c, uint64_t after, int64_t deadline_ms)
{
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	while (c->alive && c->gen <= after) {
		int64_t left = deadline_ms - astro_mono_ms();
		struct timespec ts;

		if (left <= 0) {
			rc = -ETIMEDOUT;
			break;
		}
		if (left > 100)
			left = 100;	/* re-check: the clock is CLOCK_REALTIME below */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += left / 1000;
		ts.tv_nsec += (left % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&c->cond, &c->lock, &ts);
	}
	if (rc == 0 && !c->alive)
		rc = -ECONNRESET;
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int astro_obs_indi_find_device(struct astro_obs_indi *c, const char *prop, char *dev, size_t n)
{
	size_t i;
	int rc = -ENOENT;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->nprops; i++)
		if (strcmp(c->props[i].name, prop) == 0) {
			astro_strlcpy(dev, c->props[i].device, n);
			rc = 0;
			break;
		}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int astro_obs_indi_find_interface(struct astro_obs_indi *c, unsigned mask, char *dev, size_t n)
{
	size_t i, k;
	int rc = -ENOENT;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->nprops && rc; i++) {
		struct prop *p = &c->props[i];

		if (strcmp(p->name, "DRIVER_INFO") != 0)
			continue;
		for (k = 0; k < p->n; k++)
			if (strcmp(p->v[k].name, "DRIVER_INTERFACE") == 0 && p->v[k].text &&
			    (strtoul(p->v[k].text, NULL, 10) & mask)) {
				astro_strlcpy(dev, p->device, n);
				rc = 0;
				break;
			}
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int astro_obs_indi_prop(struct astro_obs_indi *c, const char *dev, const char *prop,
			enum astro_obs_indi_state *state, uint64_t *gen, char *message,
			size_t msglen)
{
	struct prop *p;
	int rc = -ENOENT;

	pthread_mutex_lock(&c->lock);
	p = prop_find(c, dev, prop);
	if (p) {
		if (state)
			*state = p->state;
		if (gen)
			*gen = p->gen;
		if (message)
			astro_strlcpy(message, p->message, msglen);
		rc = 0;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int astro_obs_indi_value(struct astro_obs_indi *c, const char *dev, const char *prop,
			 const char *member, char *out, size_t n)
{
	struct prop *p;
	size_t i;
	int rc = -ENOENT;

	pthread_mutex_lock(&c->lock);
	p = prop_find(c, dev, prop);
	for (i = 0; p && i < p->n; i++)
		if (strcmp(p->v[i].name, member) == 0 && p->v[i].text) {
			astro_strlcpy(out, p->v[i].text, n);
			rc = 0;
			break;
		}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int astro_obs_indi_message(struct astro_obs_indi *c, const char *dev, uint64_t after,
			   char *out, size_t n)
{
	unsigned i, k;
	int rc = -ENOENT;

	pthread_mutex_lock(&c->lock);
	for (k = 0; k < MSGS && k < c->nmsg; k++) {
		i = (c->nmsg - 1 - k) % MSGS;
		if (c->msgs[i].gen > after && strcmp(c->msgs[i].device, dev) == 0) {
			astro_strlcpy(out, c->msgs[i].text, n);
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int astro_obs_indi_blob_take(struct astro_obs_indi *c, const char *dev, uint64_t after,
			     void **data, size_t *len, char *format, size_t fmtlen)
{
	int rc = -ENOENT;

	pthread_mutex_lock(&c->lock);
	if (c->blob.data && c->blob.gen > after && strcmp(c->blob.device, dev) == 0) {
		*data = c->blob.data;
		*len = c->blob.len;
		astro_strlcpy(format, c->blob.format, fmtlen);
		c->blob.data = NULL;
		rc = 0;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* Device and property names go into attributes: refuse what would need
 * escaping rather than escape (INDI names never contain these). */
static bool name_ok(const char *s)
{
	return s && *s && strlen(s) <= ASTRO_OBS_INDI_NAME_MAX && !strpbrk(s, "<>&\"'");
}

int astro_obs_indi_new_switch(struct astro_obs_indi *c, const char *dev, const char *prop,
			      const char *on)
{
	char buf[512];
	int n;

	if (!name_ok(dev) || !name_ok(prop) || !name_ok(on))
		return -EINVAL;
	n = snprintf(buf, sizeof(buf),
		     "<newSwitchVector device=\"%s\" name=\"%s\">\n"
		     "  <oneSwitch name=\"%s\">On</oneSwitch>\n</newSwitchVector>\n",
		     dev, prop, on);
	return send_all(c, buf, (size_t)n);
}

int astro_obs_indi_new_numbers(struct astro_obs_indi *c, const char *dev, const char *prop,
			       size_t n, const char *const *names, const double *values)
{
	char buf[2048];
	size_t i, len;

	if (!name_ok(dev) || !name_ok(prop) || n > 8)
		return -EINVAL;
	len = (size_t)snprintf(buf, sizeof(buf), "<newNumberVector device=\"%s\" name=\"%s\">\n",
			       dev, prop);
	for (i = 0; i < n; i++) {
		if (!name_ok(names[i]) || !isfinite(values[i]))
			return -EINVAL;
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
					"  <oneNumber name=\"%s\">%.10g</oneNumber>\n", names[i],
					values[i]);
	}
	len += (size_t)snprintf(buf + len, sizeof(buf) - len, "</newNumberVector>\n");
	return send_all(c, buf, len);
}

int astro_obs_indi_enable_blob(struct astro_obs_indi *c, const char *dev)
{
	char buf[256];
	int n;

	if (!name_ok(dev))
		return -EINVAL;
	n = snprintf(buf, sizeof(buf), "<enableBLOB device=\"%s\">Also</enableBLOB>\n", dev);
	return send_all(c, buf, (size_t)n);
}

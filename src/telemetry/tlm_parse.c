/* tlm_parse.c — CSV, JWST EDB JSON and bad-times parsers (see tlm_parse.h). */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include "core/astro.h"
#include "tlm_parse.h"
#include "tlm_time.h"

/* The words through astro_err_set; the macro only adds the jump to out. */
#define ERR(...) do { rc = astro_err_set(err, errlen, -EINVAL, __VA_ARGS__); goto out; } while (0)

void astro_tlm_parse_batch_init(struct astro_tlm_batch *b)
{
	memset(b, 0, sizeof(*b));
}

void astro_tlm_parse_batch_free(struct astro_tlm_batch *b)
{
	free(b->s);
	free(b->msid);
	free(b->text);
	memset(b, 0, sizeof(*b));
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t nc = *cap ? *cap : 64;
	void *q;

	if (need <= *cap)
		return 0;
	while (nc < need)
		nc *= 2;
	q = realloc(*p, nc * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = nc;
	return 0;
}

int astro_tlm_parse_msid_canon(const char *s, size_t len, char out[ASTRO_TLM_MSID_MAX])
{
	if (len == 0 || len >= ASTRO_TLM_MSID_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '_' && c != '-')
			return -EINVAL;
		out[i] = (char)toupper(c);
	}
	out[len] = '\0';
	return 0;
}

/* Index of MSID in the batch, adding it; -ENOMEM. */
static int msid_index(struct astro_tlm_batch *b, const char *name, uint32_t *idx,
		      uint32_t *last)
{
	/* The MSID of the row before, or the one after it: files of many MSIDs
	 * mostly list them in the same order at every time step. */
	for (uint32_t k = 0, j = *last; k < 2 && b->nmsid; k++, j = j + 1 < b->nmsid ? j + 1 : 0)
		if (j < b->nmsid && !strcmp(b->msid[j].name, name)) {
			*idx = *last = j;
			return 0;
		}
	for (size_t i = 0; i < b->nmsid; i++)
		if (!strcmp(b->msid[i].name, name)) {
			*idx = *last = (uint32_t)i;
			return 0;
		}
	if (grow((void **)&b->msid, &b->msid_cap, b->nmsid + 1, sizeof(*b->msid)))
		return -ENOMEM;
	memset(&b->msid[b->nmsid], 0, sizeof(b->msid[0]));
	memcpy(b->msid[b->nmsid].name, name, strlen(name) + 1);
	*idx = *last = (uint32_t)b->nmsid++;
	return 0;
}

static int add_text(struct astro_tlm_batch *b, const char *s, size_t len,
		    struct astro_tlm_sample *smp)
{
	if (len > UINT32_MAX || b->text_len + len > UINT32_MAX)
		return -EFBIG;
	if (grow((void **)&b->text, &b->text_cap, b->text_len + len + 1, 1))
		return -ENOMEM;
	memcpy(b->text + b->text_len, s, len);
	smp->toff = (uint32_t)b->text_len;
	smp->tlen = (uint32_t)len;
	b->text_len += len;
	return 0;
}

static struct astro_tlm_sample *new_sample(struct astro_tlm_batch *b)
{
	if (grow((void **)&b->s, &b->cap, b->n + 1, sizeof(*b->s)))
		return NULL;
	memset(&b->s[b->n], 0, sizeof(b->s[0]));
	return &b->s[b->n++];
}

/*
 * Classify a value token: integer, finite number, or text.  Returns the type,
 * or 0 with *why set for a token that looks numeric but is not a usable one.
 */
static int classify(const char *s, size_t len, struct astro_tlm_sample *smp,
		    const char **why)
{
	size_t i = 0;
	int digits = 0, numeric = 1;
	char buf[80], *end;

	if (i < len && (s[i] == '-' || s[i] == '+'))
		i++;
	for (size_t k = i; k < len; k++) {
		if (isdigit((unsigned char)s[k]))
			digits++;
		else if (!strchr(".eE+-", s[k]))
			numeric = 0;
	}
	if (!numeric || digits == 0) {
		if (len >= 3 && (!strncasecmp(s + i, "nan", 3) || !strncasecmp(s + i, "inf", 3))) {
			*why = "NaN/Inf is not a value (flag the sample bad instead)";
			return 0;
		}
		return ASTRO_TLM_STATE;
	}
	if (digits == (int)(len - i) && digits <= 18) {
		int64_t v = 0;

		for (size_t k = i; k < len; k++)
			v = v * 10 + (s[k] - '0');
		smp->v.i = s[0] == '-' ? -v : v;
		return ASTRO_TLM_INT;
	}
	if (len >= sizeof(buf)) {
		*why = "number too long";
		return 0;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	smp->v.f = strtod(buf, &end);
	if (end != buf + len || !isfinite(smp->v.f)) {
		*why = "malformed or out-of-range number";
		return 0;
	}
	return ASTRO_TLM_FLOAT;
}

/*
 * After parsing: settle each MSID's type.  Text anywhere makes the MSID a
 * state and its numbers text; a float makes it FLOAT with ints converted.
 * An MSID's type only rises, so a type from an earlier chunk holds.
 */
int astro_tlm_parse_resolve(struct astro_tlm_batch *b, const char *src)
{
	for (size_t i = 0; i < b->n; i++) {
		struct astro_tlm_msid_info *m = &b->msid[b->s[i].msid];

		if (b->s[i].type > m->type)
			m->type = b->s[i].type;
		m->count++;
	}
	for (size_t i = 0; i < b->n; i++) {
		struct astro_tlm_sample *s = &b->s[i];
		uint8_t want = b->msid[s->msid].type;

		if (s->type == want) {
			if (want != ASTRO_TLM_STATE)
				s->toff = s->tlen = 0;	/* no pointers into the input survive */
			continue;
		}
		if (want == ASTRO_TLM_FLOAT) {
			s->v.f = (double)s->v.i;
			s->toff = s->tlen = 0;
		} else {
			char num[40];
			int n;

			/* A number in a state MSID: keep its text as written if we have it. */
			if (src && s->tlen) {
				if (add_text(b, src + s->toff, s->tlen, s))
					return -ENOMEM;
			} else {
				n = s->type == ASTRO_TLM_INT ?
				    snprintf(num, sizeof(num), "%lld", (long long)s->v.i) :
				    snprintf(num, sizeof(num), "%.17g", s->v.f);
				if (add_text(b, num, (size_t)n, s))
					return -ENOMEM;
			}
		}
		s->type = want;
	}
	return 0;
}

/* ---- CSV ---- */

struct field {
	const char *p;
	size_t len;
	char *own;	/* unquoted copy when the field had "" escapes */
};

static void free_fields(struct field *f, int n)
{
	for (int i = 0; i < n; i++) {
		free(f[i].own);
		f[i].own = NULL;
	}
}

/*
 * Split one line (without its newline) into up to max fields.  Returns the
 * number of fields, -1 for a malformed quote or no memory, -2 for more than
 * max fields; on failure nothing stays allocated.
 */
static int split_csv(const char *p, const char *end, struct field *f, int max)
{
	int n = 0, rc;

	for (;;) {
		if (n == max) {
			rc = -2;
			goto fail;
		}
		f[n].own = NULL;
		if (p < end && *p == '"') {
			const char *q = ++p;
			size_t esc = 0;

			for (; q < end; q++) {
				if (*q == '"') {
					if (q + 1 < end && q[1] == '"') {
						esc++;
						q++;
						continue;
					}
					break;
				}
			}
			rc = -1;
			if (q >= end)
				goto fail;
			f[n].p = p;
			f[n].len = (size_t)(q - p);
			if (esc) {
				char *o = malloc(f[n].len);
				size_t k = 0;

				if (!o)
					goto fail;
				for (const char *r = p; r < q; r++) {
					o[k++] = *r;
					if (*r == '"')
						r++;
				}
				f[n].own = o;
				f[n].p = o;
				f[n].len = k;
			}
			p = q + 1;
			n++;
			if (p == end)
				return n;
			if (*p != ',')
				goto fail;
			p++;
			continue;
		}
		const char *c = memchr(p, ',', (size_t)(end - p));

		f[n].p = p;
		f[n].len = (size_t)((c ? c : end) - p);
		n++;
		if (!c)
			return n;
		p = c + 1;
	}
fail:
	free_fields(f, n);
	return rc;
}

static void trim(struct field *f)
{
	while (f->len && (f->p[0] == ' ' || f->p[0] == '\t')) {
		f->p++;
		f->len--;
	}
	while (f->len && (f->p[f->len - 1] == ' ' || f->p[f->len - 1] == '\t'))
		f->len--;
}

static int quality(const struct field *f, uint8_t *bad)
{
	static const char *good[] = {"", "0", "false", "f", "good", "g"};
	static const char *bads[] = {"1", "true", "t", "bad", "b"};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (f->len == strlen(good[i]) && !strncasecmp(f->p, good[i], f->len)) {
			*bad = 0;
			return 0;
		}
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++)
		if (f->len == strlen(bads[i]) && !strncasecmp(f->p, bads[i], f->len)) {
			*bad = 1;
			return 0;
		}
	return -1;
}

/*
 * The header: msid,time,value, then quality and/or unit in either order.
 * Fills the column numbers of the optional ones (-1 when absent).
 */
static int header_ok(struct field *f, int n, struct astro_tlm_csv *st)
{
	static const char *names[] = {"msid", "time", "value"};

	if (n < 3 || n > 5)
		return 0;
	st->col_quality = st->col_unit = -1;
	for (int i = 0; i < n; i++) {
		trim(&f[i]);
		if (i < 3) {
			if (f[i].len != strlen(names[i]) || strncasecmp(f[i].p, names[i], f[i].len))
				return 0;
		} else if (f[i].len == 7 && !strncasecmp(f[i].p, "quality", 7) && st->col_quality < 0) {
			st->col_quality = i;
		} else if (f[i].len == 4 && !strncasecmp(f[i].p, "unit", 4) && st->col_unit < 0) {
			st->col_unit = i;
		} else {
			return 0;
		}
	}
	return 1;
}

void astro_tlm_parse_csv_init(struct astro_tlm_csv *st)
{
	memset(st, 0, sizeof(*st));
	st->col_quality = st->col_unit = -1;
}

/* A row's unit: the MSID's first non-empty one; another one later is an error. */
static int set_unit(struct astro_tlm_msid_info *m, const struct field *f, const char **why)
{
	if (f->len == 0)
		return 0;
	if (f->len >= ASTRO_TLM_UNIT_MAX) {
		*why = "longer than 31 bytes";
		return -1;
	}
	for (size_t i = 0; i < f->len; i++)
		if ((unsigned char)f->p[i] < 0x20 || f->p[i] == 0x7f) {
			*why = "control character";
			return -1;
		}
	if (!m->unit[0]) {
		memcpy(m->unit, f->p, f->len);
		m->unit[f->len] = '\0';
		return 0;
	}
	if (strlen(m->unit) != f->len || memcmp(m->unit, f->p, f->len)) {
		*why = "differs from the unit an earlier row gave this MSID";
		return -1;
	}
	return 0;
}

int astro_tlm_parse_csv_chunk(struct astro_tlm_csv *st, const char *buf, size_t len, int final,
			      struct astro_tlm_batch *b, size_t *used, char *err, size_t errlen)
{
	const char *p = buf, *end = buf + len;
	size_t line = st->line;
	int nf = 0, rc = 0;
	struct field f[6];
	char terr[96], name[ASTRO_TLM_MSID_MAX];

	if (!final) {
		/* Only whole lines: the rest waits for the next chunk. */
		const char *nl = len ? memrchr(buf, '\n', len) : NULL;

		end = nl ? nl + 1 : buf;
	}
	if (st->offset == 0 && end - p >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
		p += 3;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		struct astro_tlm_sample *s;
		const char *why = NULL;
		int ty;

		line++;
		if (b->progress && (line & 0xffff) == 0)
			b->progress(b->progress_arg, st->offset + (size_t)(p - buf), len);
		if (le > p && le[-1] == '\r')
			le--;
		if (memchr(p, '\0', (size_t)(le - p)))
			ERR("line %zu: NUL byte", line);
		if (le == p) {
			p = nl ? nl + 1 : end;
			continue;
		}
		nf = split_csv(p, le, f, 5);
		if (nf == -2) {
			nf = 0;
			ERR("line %zu: more than 5 fields", line);
		}
		if (nf < 0) {
			nf = 0;
			ERR("line %zu: unbalanced or misplaced quote", line);
		}
		if (!st->ncol) {
			if (!header_ok(f, nf, st))
				ERR("line %zu: header must be msid,time,value[,quality][,unit]", line);
			st->ncol = nf;
			free_fields(f, nf);
			nf = 0;
			p = nl ? nl + 1 : end;
			continue;
		}
		if (nf > st->ncol || nf < 3)
			ERR("line %zu: %d fields, the header has %d", line, nf, st->ncol);
		for (int i = 0; i < nf; i++)
			trim(&f[i]);
		if (!(s = new_sample(b)))
			ERR("line %zu: out of memory", line);
		if (st->last < b->nmsid && f[0].len < ASTRO_TLM_MSID_MAX &&
		    !memcmp(b->msid[st->last].name, f[0].p, f[0].len) &&
		    b->msid[st->last].name[f[0].len] == '\0' && f[0].len) {
			s->msid = st->last;	/* the previous row's MSID, as written: already valid */
		} else {
			if (astro_tlm_parse_msid_canon(f[0].p, f[0].len, name))
				ERR("line %zu: msid: not 1..63 letters, digits, '_' or '-'", line);
			if (msid_index(b, name, &s->msid, &st->last))
				ERR("line %zu: out of memory", line);
		}
		if (astro_tlm_time_parse(f[1].p, f[1].len, &s->t, terr, sizeof(terr)))
			ERR("line %zu: time: %s", line, terr);
		if (f[2].len == 0)
			ERR("line %zu: value: empty", line);
		ty = classify(f[2].p, f[2].len, s, &why);
		if (!ty)
			ERR("line %zu: value: %s", line, why);
		s->type = (uint8_t)ty;
		if (ty == ASTRO_TLM_STATE) {
			if (add_text(b, f[2].p, f[2].len, s))
				ERR("line %zu: out of memory", line);
		} else if (!f[2].own && (size_t)(f[2].p - buf) <= UINT32_MAX) {
			/* Remember the number's text in case the MSID turns out a state. */
			s->toff = (uint32_t)(f[2].p - buf);
			s->tlen = (uint32_t)f[2].len;
		}
		if (st->col_quality >= 0 && nf > st->col_quality &&
		    quality(&f[st->col_quality], &s->bad))
			ERR("line %zu: quality: want 0/1, true/false or good/bad", line);
		if (st->col_unit >= 0 && nf > st->col_unit &&
		    set_unit(&b->msid[s->msid], &f[st->col_unit], &why))
			ERR("line %zu: unit: %s", line, why);
		free_fields(f, nf);
		nf = 0;
		p = nl ? nl + 1 : end;
	}
	st->line = line;
	st->offset += (size_t)(end - buf);
	*used = (size_t)(end - buf);
	st->samples += b->n - st->counted;
	st->counted = b->n;
out:
	free_fields(f, nf);
	return rc;
}

int astro_tlm_parse_csv_end(const struct astro_tlm_csv *st, char *err, size_t errlen)
{
	int rc = 0;

	if (!st->ncol)
		ERR("line 1: empty file (no msid,time,value header)");
	if (st->samples == 0)
		ERR("line %zu: no samples after the header", st->line);
out:
	return rc;
}

void astro_tlm_parse_batch_clear(struct astro_tlm_batch *b, struct astro_tlm_csv *st)
{
	b->n = 0;
	b->text_len = 0;
	if (st)
		st->counted = 0;
}

int astro_tlm_parse_csv(const char *buf, size_t len, struct astro_tlm_batch *b,
			char *err, size_t errlen)
{
	struct astro_tlm_csv st;
	size_t used;
	int rc;

	astro_tlm_parse_csv_init(&st);
	if (!(rc = astro_tlm_parse_csv_chunk(&st, buf, len, 1, b, &used, err, errlen)) &&
	    !(rc = astro_tlm_parse_csv_end(&st, err, errlen)) &&
	    astro_tlm_parse_resolve(b, buf)) {
		if (err)
			snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
	}
	if (rc)
		astro_tlm_parse_batch_free(b);	/* rejected whole: nothing half-parsed escapes */
	return rc;
}

/* ---- JSON ---- */

int astro_tlm_parse_jwst_json(const char *buf, size_t len,
			      struct astro_tlm_batch *b, char *err,
			      size_t errlen)
{
	json_error_t je;
	json_t *root = NULL, *data, *mn, *cnt, *unit;
	char name[ASTRO_TLM_MSID_MAX], terr[96];
	uint32_t idx = 0, last = 0;
	size_t i;
	int rc = 0;

	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		ERR("JSON line %d column %d: %s", je.line, je.column, je.text);
	if (!json_is_object(root))
		ERR("JSON: top level is not an object");
	mn = json_object_get(root, "TlmMnemonic");
	if (!json_is_string(mn))
		ERR("JSON: TlmMnemonic missing or not a string");
	if (astro_tlm_parse_msid_canon(json_string_value(mn), json_string_length(mn), name))
		ERR("JSON: TlmMnemonic: not 1..63 letters, digits, '_' or '-'");
	data = json_object_get(root, "Data");
	if (!json_is_array(data))
		ERR("JSON: Data missing or not an array");
	if (json_array_size(data) == 0)
		ERR("JSON: Data is empty");
	unit = json_object_get(root, "Unit");
	if (!unit)
		unit = json_object_get(root, "unit");
	if (unit && !json_is_null(unit) &&
	    (!json_is_string(unit) || json_string_length(unit) >= ASTRO_TLM_UNIT_MAX ||
	     memchr(json_string_value(unit), '\0', json_string_length(unit))))
		ERR("JSON: Unit not a string of at most 31 bytes");
	cnt = json_object_get(root, "Count");
	if (cnt && (!json_is_integer(cnt) || (size_t)json_integer_value(cnt) != json_array_size(data)))
		ERR("JSON: Count does not match the %zu records of Data", json_array_size(data));
	if (msid_index(b, name, &idx, &last))
		ERR("out of memory");
	if (json_is_string(unit))
		memcpy(b->msid[idx].unit, json_string_value(unit), json_string_length(unit) + 1);
	json_array_foreach(data, i, mn) {
		json_t *ot = json_object_get(mn, "ObsTime"), *v = json_object_get(mn, "EUValue");
		struct astro_tlm_sample *s;

		if (!json_is_object(mn))
			ERR("record %zu: not an object", i + 1);
		if (!json_is_string(ot))
			ERR("record %zu: ObsTime missing or not a string", i + 1);
		if (!(s = new_sample(b)))
			ERR("record %zu: out of memory", i + 1);
		s->msid = idx;
		if (astro_tlm_time_parse_jwst(json_string_value(ot), json_string_length(ot),
					      &s->t, terr, sizeof(terr)))
			ERR("record %zu: ObsTime: %s", i + 1, terr);
		if (json_is_integer(v)) {
			s->type = ASTRO_TLM_INT;
			s->v.i = json_integer_value(v);
		} else if (json_is_real(v)) {
			s->type = ASTRO_TLM_FLOAT;
			s->v.f = json_real_value(v);
			if (!isfinite(s->v.f))
				ERR("record %zu: EUValue not finite", i + 1);
		} else if (json_is_string(v)) {
			const char *t = json_string_value(v);
			size_t n = json_string_length(v);

			while (n && t[n - 1] == ' ')
				n--;
			if (n == 0 || memchr(t, '\0', n))
				ERR("record %zu: EUValue empty or contains NUL", i + 1);
			s->type = ASTRO_TLM_STATE;
			if (add_text(b, t, n, s))
				ERR("record %zu: out of memory", i + 1);
		} else {
			ERR("record %zu: EUValue missing or not a number or string", i + 1);
		}
	}
	if (astro_tlm_parse_resolve(b, NULL))
		ERR("out of memory");
out:
	json_decref(root);
	if (rc)
		astro_tlm_parse_batch_free(b);
	return rc;
}

int astro_tlm_parse_any(const char *buf, size_t len, struct astro_tlm_batch *b,
			char *err, size_t errlen)
{
	size_t i = 0;

	while (i < len && isspace((unsigned char)buf[i]))
		i++;
	if (i < len && (buf[i] == '{' || buf[i] == '['))
		return astro_tlm_parse_jwst_json(buf, len, b, err, errlen);
	return astro_tlm_parse_csv(buf, len, b, err, errlen);
}

/* ---- bad times ---- */

static int glob_ok(const char *s, size_t len, char out[ASTRO_TLM_MSID_MAX])
{
	if (len == 0 || len >= ASTRO_TLM_MSID_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && !strchr("_-*?[]!", c))
			return -1;
		out[i] = (char)toupper(c);
	}
	out[len] = '\0';
	return 0;
}

int astro_tlm_parse_badtimes(const char *buf, size_t len,
			     struct astro_tlm_badtimes *bt, char *err,
			     size_t errlen)
{
	const char *p = buf, *end = buf + len;
	size_t line = 0, cap = 0;
	char terr[96];
	int rc = 0;

	memset(bt, 0, sizeof(*bt));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *hash, *tok[4];
		size_t tl[4];
		int n = 0;

		line++;
		if (memchr(p, '\0', (size_t)(le - p)))
			ERR("line %zu: NUL byte", line);
		if ((hash = memchr(p, '#', (size_t)(le - p))))
			le = hash;
		for (const char *q = p; q < le && n < 4;) {
			while (q < le && isspace((unsigned char)*q))
				q++;
			if (q >= le)
				break;
			tok[n] = q;
			while (q < le && !isspace((unsigned char)*q))
				q++;
			tl[n] = (size_t)(q - tok[n]);
			n++;
		}
		p = nl ? nl + 1 : end;
		if (n == 0)
			continue;
		if (n != 3)
			ERR("line %zu: want \"MSID start stop\", got %s fields", line, n > 3 ? "more than 3" : n == 2 ? "2" : "1");
		if (grow((void **)&bt->v, &cap, bt->n + 1, sizeof(*bt->v)))
			ERR("line %zu: out of memory", line);
		struct astro_tlm_badtime *e = &bt->v[bt->n];

		if (glob_ok(tok[0], tl[0], e->glob))
			ERR("line %zu: MSID: not a name or glob", line);
		if (astro_tlm_time_parse(tok[1], tl[1], &e->start, terr, sizeof(terr)))
			ERR("line %zu: start: %s", line, terr);
		if (astro_tlm_time_parse(tok[2], tl[2], &e->stop, terr, sizeof(terr)))
			ERR("line %zu: stop: %s", line, terr);
		if (e->stop < e->start)
			ERR("line %zu: stop before start", line);
		bt->n++;
	}
out:
	if (rc)
		astro_tlm_parse_badtimes_free(bt);
	return rc;
}

void astro_tlm_parse_badtimes_free(struct astro_tlm_badtimes *bt)
{
	free(bt->v);
	bt->v = NULL;
	bt->n = 0;
}

bool astro_tlm_parse_badtimes_match(const struct astro_tlm_badtimes *bt,
				    const char *msid, int64_t t)
{
	for (size_t i = 0; i < bt->n; i++)
		if (t >= bt->v[i].start && t <= bt->v[i].stop &&
		    fnmatch(bt->v[i].glob, msid, 0) == 0)
			return true;
	return false;
}

/* satfilter_req.c — streaming reader of /satfilter requests (see the header). */
#include <assert.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>
#include "core/astro.h"
#include "satfilter_req.h"

/* The fast path relies on each double operation rounding once, to double. */
_Static_assert(FLT_EVAL_METHOD == 0, "double arithmetic must not use extended precision");

static const char *const field_names[ASTRO_SFREQ_NFIELDS] = {
	"visit_id", "detector_id", "exposure_start_mjd", "exposure_end_mjd",
	"boresight_ra", "boresight_dec", "historical", "diasources",
};

const char *astro_satfilter_req_field_name(enum astro_satfilter_req_field f)
{
	assert(f < ASTRO_SFREQ_NFIELDS);
	return field_names[f];
}

/* ---------------------------------------------------------------- numbers */

ASTRO_TESTABLE int astro_satfilter_req_number(const char *s, size_t len, double *out)
{
	static const double p10[] = {
		1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
		1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
	};
	uint64_t m = 0;
	int digits = 0, scale = 0, neg = 0;
	long e = 0;
	size_t i = 0;
	char small[64], *copy;
	double d;

	if (i < len && s[i] == '-')
		neg = 1, i++;
	/* mantissa digits, with leading zeros not counted as significant */
	for (int frac = 0; i < len; i++) {
		if (s[i] == '.' && !frac) {
			frac = 1;
			continue;
		}
		if (s[i] < '0' || s[i] > '9')
			break;
		if (frac)
			scale--;
		if (m == 0 && s[i] == '0')
			continue;
		if (++digits > 15)
			goto slow;
		m = m * 10 + (uint64_t)(s[i] - '0');
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		int eneg = 0, ed = 0;

		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			eneg = s[i++] == '-';
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
			if (++ed > 6)
				goto slow;
			e = e * 10 + (s[i] - '0');
		}
		if (eneg)
			e = -e;
	}
	if (i != len)
		goto slow;	/* not the grammar assumed here: strtod decides */
	if (m == 0) {
		*out = neg ? -0.0 : 0.0;
		return 0;
	}
	e += scale;
	if (e < -22 || e > 22)
		goto slow;
	/* m < 10^15 < 2^53 and 10^|e| <= 10^22 are exact doubles, so one
	 * multiplication or division is correctly rounded: strtod's answer. */
	d = e < 0 ? (double)m / p10[-e] : (double)m * p10[e];
	*out = neg ? -d : d;
	return 0;
slow:
	copy = len < sizeof(small) ? small : malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, s, len);
	copy[len] = '\0';
	errno = 0;
	d = strtod(copy, NULL);
	if (copy != small)
		free(copy);
	if (errno == ERANGE && isinf(d))
		return -ERANGE;
	*out = d;
	return 0;
}

/* An integer literal (JSON grammar already checked) as int64. */
static int int_literal(const char *s, size_t len, int64_t *out)
{
	uint64_t v = 0, lim = (uint64_t)INT64_MAX;
	size_t i = 0;
	int neg = 0;

	if (i < len && s[i] == '-')
		neg = 1, i++, lim++;
	if (i == len)
		return -EINVAL;
	for (; i < len; i++) {
		unsigned dgt = (unsigned)(s[i] - '0');

		if (dgt > 9)
			return -EINVAL;
		if (v > (lim - dgt) / 10)
			return -ERANGE;
		v = v * 10 + dgt;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

/* ------------------------------------------------------------ the reader */

enum frame { F_TOP, F_SOURCES, F_SRC, F_BBOX, F_CORNER };

struct reader {
	struct astro_sfreq *r;
	size_t max_kept;
	enum frame stack[6];
	int depth;		/* frames open in stack[] */
	int top_done;		/* the top-level value has begun */
	unsigned long skip;	/* containers open inside a skipped value */
	int field;		/* F_TOP: member awaiting its value, or -1 */
	unsigned seen;		/* F_TOP: members given (bit per field) */
	size_t cap;		/* r->src capacity */
	int keeping;		/* F_SOURCES: still keeping elements */
	/* the element being read (F_SRC and deeper) */
	struct astro_satfilter_req_source cur;
	int src_field;		/* 0 diasource_id, 1 bbox, -1 other */
	unsigned src_seen;
	int id_kind;		/* ASTRO_SFREQ_* of diasource_id */
	size_t ncorners;	/* corners given, stored or not */
	unsigned nvals;		/* values in the corner being read */
	int corner_bad;
	int bbox_bad;		/* a corner error is in bbox_msg */
	char bbox_msg[160];
	char fatal[160];
	yajl_handle h;
	size_t end;		/* offset just past the top-level value */
	size_t len;		/* of the request: the end when yajl finishes a
				 * number only at yajl_complete_parse */
	int finishing;
};

/* Remember where the top-level value ended (see astro_satfilter_req_parse). */
static int mark_end(struct reader *rd, int rc)
{
	if (rd->depth == 0 && rd->skip == 0)
		rd->end = rd->finishing ? rd->len : yajl_get_bytes_consumed(rd->h);
	return rc;
}

static int fail(struct reader *rd, const char *msg)
{
	snprintf(rd->fatal, sizeof(rd->fatal), "%s", msg);
	return 0;	/* stops yajl: client canceled */
}

/* Members read in a DIASource element, by index as src_field counts them. */
static const char *const source_names[] = { "diasource_id", "bbox" };

/* Index of member name k in names[0 .. n), or -1. */
static int member_index(const char *const *names, int n, const unsigned char *k, size_t len)
{
	for (int f = 0; f < n; f++)
		if (strlen(names[f]) == len && memcmp(names[f], k, len) == 0)
			return f;
	return -1;
}

/* Member f (of names) is given: 1, or 0 (failing the request) when it was
 * given before in the same object. */
static int first_time(struct reader *rd, unsigned *seen, int f, const char *const *names)
{
	if (f < 0)
		return 1;
	if (*seen & (1u << f)) {
		snprintf(rd->fatal, sizeof(rd->fatal), "member \"%s\" given twice", names[f]);
		return 0;
	}
	*seen |= 1u << f;
	return 1;
}

/* The first bad corner of a bbox; range 1: out of range, else misshapen. */
static void corner_error(struct reader *rd, int range)
{
	if (rd->bbox_bad)
		return;
	rd->bbox_bad = 1;
	snprintf(rd->bbox_msg, sizeof(rd->bbox_msg),
		 range ? "diasources[%zu].bbox[%zu]: coordinates out of range"
		       : "diasources[%zu].bbox[%zu] is not [ra, dec]",
		 rd->r->nsources - 1, rd->ncorners - 1);
}

/* A source element ended: keep it, or record why not (in the order the
 * checks would be made on the whole element). */
static int end_source(struct reader *rd)
{
	struct astro_sfreq *r = rd->r;
	size_t idx = r->nsources - 1;

	if (!(rd->src_seen & 1))
		snprintf(r->bad_msg, sizeof(r->bad_msg), "Missing column diasource_id.");
	else if (rd->id_kind != ASTRO_SFREQ_INT && rd->id_kind != ASTRO_SFREQ_INTSTR)
		snprintf(r->bad_msg, sizeof(r->bad_msg), "diasource_id is not an integer");
	else if (!(rd->src_seen & 2) || rd->ncorners < ASTRO_SFREQ_MIN_CORNERS ||
		 rd->ncorners > ASTRO_SFREQ_MAX_CORNERS)
		snprintf(r->bad_msg, sizeof(r->bad_msg),
			 "diasources[%zu].bbox must be an array of %d to %d [ra, dec] corners", idx,
			 ASTRO_SFREQ_MIN_CORNERS, ASTRO_SFREQ_MAX_CORNERS);
	else if (rd->bbox_bad)
		snprintf(r->bad_msg, sizeof(r->bad_msg), "%s", rd->bbox_msg);
	else {
		if (r->nkept == rd->cap) {
			size_t ncap = rd->cap ? rd->cap * 2 : 256;
			struct astro_satfilter_req_source *p;

			if (ncap > rd->max_kept)
				ncap = rd->max_kept;
			p = realloc(r->src, ncap * sizeof(*p));
			if (!p)
				return fail(rd, "out of memory");
			r->src = p;
			rd->cap = ncap;
		}
		rd->cur.ncorners = (unsigned)rd->ncorners;
		r->src[r->nkept++] = rd->cur;
		if (r->nkept == rd->max_kept)
			rd->keeping = 0;
		return 1;
	}
	r->bad = 1;
	rd->keeping = 0;
	return 1;
}

/* A scalar or the start of a container fills the current slot.  kind is
 * the value's kind; is_map/is_array say which container opens (then the
 * caller has not yet counted it). */
static int value(struct reader *rd, enum astro_satfilter_req_kind kind, int64_t i, double d,
		 int opens_map, int opens_array)
{
	struct astro_sfreq *r = rd->r;
	int container = opens_map || opens_array;

	if (rd->skip) {
		rd->skip += container;
		return 1;
	}
	if (rd->depth == 0) {
		if (rd->top_done++)
			return fail(rd, "more than one value");
		if (opens_map) {
			r->is_object = 1;
			rd->stack[rd->depth++] = F_TOP;
		} else {
			rd->skip += container;
		}
		return mark_end(rd, 1);
	}
	switch (rd->stack[rd->depth - 1]) {
	case F_TOP:
		if (rd->field < 0) {
			rd->skip += container;
		} else if (rd->field == ASTRO_SFREQ_DIASOURCES && opens_array) {
			r->f[rd->field].kind = ASTRO_SFREQ_OTHER;
			r->sources_is_array = 1;
			rd->keeping = rd->max_kept > 0;
			rd->stack[rd->depth++] = F_SOURCES;
		} else {
			r->f[rd->field] = (struct astro_satfilter_req_value){ kind, i, d };
			rd->skip += container;
		}
		rd->field = -1;
		return 1;
	case F_SOURCES:
		r->nsources++;
		if (!rd->keeping) {
			rd->skip += container;
		} else if (!opens_map) {
			snprintf(r->bad_msg, sizeof(r->bad_msg), "diasources[%zu] is not an object",
				 r->nsources - 1);
			r->bad = 1;
			rd->keeping = 0;
			rd->skip += container;
		} else {
			memset(&rd->cur, 0, sizeof(rd->cur));
			rd->src_field = -1;
			rd->src_seen = 0;
			rd->id_kind = ASTRO_SFREQ_ABSENT;
			rd->ncorners = 0;
			rd->bbox_bad = 0;
			rd->stack[rd->depth++] = F_SRC;
		}
		return 1;
	case F_SRC:
		if (rd->src_field == 0) {
			rd->id_kind = kind;
			rd->cur.id = i;
			rd->skip += container;
		} else if (rd->src_field == 1 && opens_array) {
			rd->stack[rd->depth++] = F_BBOX;
		} else {
			/* a bbox that is not an array leaves ncorners 0: refused
			 * with the bbox message at the element's end */
			rd->skip += container;
		}
		rd->src_field = -1;
		return 1;
	case F_BBOX:
		rd->ncorners++;
		if (opens_array) {
			rd->nvals = 0;
			rd->corner_bad = 0;
			rd->stack[rd->depth++] = F_CORNER;
		} else {
			corner_error(rd, 0);
			rd->skip += container;
		}
		return 1;
	case F_CORNER:
		if (kind == ASTRO_SFREQ_INT || kind == ASTRO_SFREQ_REAL) {
			if (rd->nvals < 2 && rd->ncorners <= ASTRO_SFREQ_MAX_CORNERS)
				rd->cur.corner[rd->ncorners - 1][rd->nvals] = d;
		} else {
			rd->corner_bad = 1;
			rd->skip += container;
		}
		rd->nvals++;
		return 1;
	}
	assert(!"unreachable frame");
	return 0;
}

static int close_container(struct reader *rd)
{
	if (rd->skip) {
		rd->skip--;
		return 1;
	}
	assert(rd->depth > 0);
	switch (rd->stack[--rd->depth]) {
	case F_SRC:
		return end_source(rd);
	case F_CORNER:
		if (rd->corner_bad || rd->nvals != 2) {
			corner_error(rd, 0);
		} else if (rd->ncorners <= ASTRO_SFREQ_MAX_CORNERS) {
			const double *c = rd->cur.corner[rd->ncorners - 1];

			/* RA names a direction whatever its turn (sattle's
			 * clients send -0.5 for 359.5); only Dec has a range */
			if (!(isfinite(c[0]) && c[1] >= -90 && c[1] <= 90))
				corner_error(rd, 1);
		}
		return 1;
	default:
		return 1;
	}
}

/* Strict UTF-8: yajl lets overlong forms through (C0 A1 for '!'), which
 * could smuggle a member name past a byte comparison elsewhere; refused as
 * jansson and RFC 3629 do, with UTF-16 surrogates and code points beyond
 * U+10FFFF. */
static int utf8_ok(const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		unsigned c = s[i], n, cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f, min = 0x80;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f, min = 0x800;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07, min = 0x10000;
		else
			return 0;
		if (len - i <= n)
			return 0;
		for (unsigned k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

static int on_null(void *ctx)
{
	return value(ctx, ASTRO_SFREQ_OTHER, 0, 0, 0, 0);
}

static int on_bool(void *ctx, int b)
{
	return value(ctx, b ? ASTRO_SFREQ_TRUE : ASTRO_SFREQ_FALSE, 0, 0, 0, 0);
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
	int64_t i;

	if (!utf8_ok(s, len))
		return fail(ctx, "invalid UTF-8 in a string");
	/* "42": an id as Python clients may send it; the caller decides
	 * where that is acceptable (ids), elsewhere it stays a string */
	if (len > 0 && len <= 20 && int_literal((const char *)s, len, &i) == 0)
		return value(ctx, ASTRO_SFREQ_INTSTR, i, (double)i, 0, 0);
	return value(ctx, ASTRO_SFREQ_OTHER, 0, 0, 0, 0);
}

static int on_number(void *ctx, const char *s, size_t len)
{
	struct reader *rd = ctx;
	int64_t i = 0;
	size_t k = s[0] == '-';
	double d;
	int rc;

	/* converted even inside skipped members: a number no double can hold
	 * makes the request malformed wherever it is */
	while (k < len && s[k] >= '0' && s[k] <= '9')
		k++;
	if (k == len) {
		if (int_literal(s, len, &i))
			return fail(rd, "integer out of the 64-bit range");
		return value(rd, ASTRO_SFREQ_INT, i, (double)i, 0, 0);
	}
	rc = astro_satfilter_req_number(s, len, &d);
	if (rc == -ENOMEM)
		return fail(rd, "out of memory");
	if (rc)
		return fail(rd, "number beyond the double range");
	return value(rd, ASTRO_SFREQ_REAL, 0, d, 0, 0);
}

static int on_start_map(void *ctx)
{
	return value(ctx, ASTRO_SFREQ_OTHER, 0, 0, 1, 0);
}

static int on_start_array(void *ctx)
{
	return value(ctx, ASTRO_SFREQ_OTHER, 0, 0, 0, 1);
}

static int on_end(void *ctx)
{
	return mark_end(ctx, close_container(ctx));
}

static int on_key(void *ctx, const unsigned char *k, size_t len)
{
	struct reader *rd = ctx;
	int f;

	if (!utf8_ok(k, len))
		return fail(rd, "invalid UTF-8 in a member name");
	if (rd->skip)
		return 1;
	assert(rd->depth > 0);
	switch (rd->stack[rd->depth - 1]) {
	case F_TOP:
		f = member_index(field_names, ASTRO_SFREQ_NFIELDS, k, len);
		rd->field = f;
		return first_time(rd, &rd->seen, f, field_names);
	case F_SRC:
		f = member_index(source_names, (int)ASTRO_ARRAY_SIZE(source_names), k, len);
		rd->src_field = f;
		return first_time(rd, &rd->src_seen, f, source_names);
	default:
		assert(!"a key outside an object");
		return 0;
	}
}

static const yajl_callbacks callbacks = {
	.yajl_null = on_null,
	.yajl_boolean = on_bool,
	.yajl_number = on_number,
	.yajl_string = on_string,
	.yajl_start_map = on_start_map,
	.yajl_map_key = on_key,
	.yajl_end_map = on_end,
	.yajl_start_array = on_start_array,
	.yajl_end_array = on_end,
};

void astro_satfilter_req_free(struct astro_sfreq *r)
{
	free(r->src);
	r->src = NULL;
}

int astro_satfilter_req_parse(const char *buf, size_t len, size_t max_sources,
		      struct astro_sfreq *r, char *err, size_t errlen)
{
	struct reader rd = { .r = r, .max_kept = max_sources + 1, .field = -1, .src_field = -1,
			     .len = len };
	yajl_handle h;
	yajl_status st;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	/* yajl also takes vertical tab and form feed for whitespace; JSON
	 * allows neither anywhere (raw control characters are invalid in
	 * strings too), so their presence alone makes a request malformed. */
	for (const char *c = "\v\f"; *c; c++) {
		const char *at = memchr(buf, *c, len);

		if (at) {
			return astro_err_set(err, errlen, -EINVAL,
					     "malformed JSON at byte %zu: control character 0x%02x",
					     (size_t)(at - buf), (unsigned)*c);
		}
	}
	/* Room for as many sources as the request could hold (an element is
	 * at least ~40 bytes): one allocation whose pages are touched only as
	 * they fill, instead of copies while doubling. */
	if (len > 64) {
		rd.cap = len / 40 < rd.max_kept ? len / 40 : rd.max_kept;
		r->src = malloc(rd.cap * sizeof(*r->src));
		if (!r->src)
			return -ENOMEM;
	}
	h = yajl_alloc(&callbacks, NULL, &rd);
	if (!h) {
		astro_satfilter_req_free(r);
		return -ENOMEM;
	}
	/* utf8_ok checks every string and member name, strictly (yajl's own
	 * check lets overlong forms through): one check is enough */
	yajl_config(h, yajl_dont_validate_strings, 1);
	rd.h = h;
	st = yajl_parse(h, (const unsigned char *)buf, len);
	rd.finishing = 1;
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	/* yajl takes an unfinished token after the value (`{} "`) for input
	 * still to come and then for the end: anything but whitespace after
	 * the value is refused here. */
	if (st == yajl_status_ok) {
		size_t at = rd.end;

		while (at < len && (buf[at] == ' ' || buf[at] == '\t' || buf[at] == '\r' ||
				    buf[at] == '\n'))
			at++;
		if (at < len) {
			snprintf(err, errlen, "malformed JSON at byte %zu: trailing garbage", at);
			astro_satfilter_req_free(r);
			yajl_free(h);
			return -EINVAL;
		}
	}
	if (st != yajl_status_ok) {
		size_t at = yajl_get_bytes_consumed(h);

		if (st == yajl_status_client_canceled) {
			rc = strcmp(rd.fatal, "out of memory") == 0 ? -ENOMEM : -EINVAL;
			snprintf(err, errlen, "malformed JSON at byte %zu: %s", at, rd.fatal);
		} else {
			unsigned char *m = yajl_get_error(h, 0, NULL, 0);
			size_t ml = m ? strcspn((const char *)m, "\n") : 0;

			rc = -EINVAL;
			snprintf(err, errlen, "malformed JSON at byte %zu: %.*s", at, (int)ml,
				 m ? (const char *)m : "unreadable");
			yajl_free_error(h, m);
		}
		astro_satfilter_req_free(r);
	} else {
		assert(rd.depth == 0 && rd.skip == 0);
	}
	yajl_free(h);
	return rc;
}

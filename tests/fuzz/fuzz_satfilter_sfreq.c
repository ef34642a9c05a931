/*
 * fuzz_satfilter_sfreq — the streaming request reader against an
 * independent reading of the same bytes through a jansson tree (the way
 * requests were read before the reader existed).
 *
 * Oracle: when both accept, every field kind and value, every kept source
 * (corners compared bit for bit: the reader's number fast path must round
 * exactly as strtod does), the element count and the first malformed
 * element's message must be equal.  When only one accepts, the difference
 * must be one the header documents: jansson refuses top-level scalars, NUL
 * in keys, lone surrogates and nesting past 2048 levels that the reader
 * skips, and duplicates among members the reader does not look at; jansson
 * lets raw NUL bytes through, which the reader refuses.
 * The first byte picks the source limit (0-7), so the limit path is
 * reached with small inputs.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "satfilter/satfilter_req.h"

static void die(const char *what, const uint8_t *data, size_t size)
{
	fprintf(stderr, "mismatch: %s\ninput: %.*s\n", what, (int)(size > 2000 ? 2000 : size),
		(const char *)data);
	abort();
}

/* "-?[0-9]+" within int64, as strtoll reads it (the reader's own digits
 * loop is not reused: this is the oracle). */
static int int_string(const char *s, size_t n, int64_t *out)
{
	char *end;
	long long v;

	if (n == 0 || n > 20 || strlen(s) != n || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) ||
	    (s[0] == '-' && (n == 1 || s[1] < '0' || s[1] > '9')))
		return 0;
	for (size_t k = 1; k < n; k++)
		if (s[k] < '0' || s[k] > '9')
			return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return 0;
	*out = v;
	return 1;
}

static void value_of(json_t *x, struct astro_satfilter_req_value *v)
{
	memset(v, 0, sizeof(*v));
	if (!x)
		v->kind = ASTRO_SFREQ_ABSENT;
	else if (json_is_string(x) && int_string(json_string_value(x), json_string_length(x), &v->i)) {
		v->kind = ASTRO_SFREQ_INTSTR;
		v->d = (double)v->i;
	} else if (json_is_integer(x)) {
		v->kind = ASTRO_SFREQ_INT;
		v->i = json_integer_value(x);
		v->d = (double)v->i;
	} else if (json_is_real(x)) {
		v->kind = ASTRO_SFREQ_REAL;
		v->d = json_real_value(x);
	} else if (json_is_true(x))
		v->kind = ASTRO_SFREQ_TRUE;
	else if (json_is_false(x))
		v->kind = ASTRO_SFREQ_FALSE;
	else
		v->kind = ASTRO_SFREQ_OTHER;
}

/* One element, as the jansson-era code checked it; 0 kept, 1 bad. */
static int ref_source(json_t *s, size_t i, struct astro_satfilter_req_source *out, char *msg,
		      size_t ml)
{
	json_t *id = json_object_get(s, "diasource_id"), *bb = json_object_get(s, "bbox");
	size_t n = json_array_size(bb);
	struct astro_satfilter_req_value idv;

	if (!json_is_object(s))
		return snprintf(msg, ml, "diasources[%zu] is not an object", i), 1;
	if (!id)
		return snprintf(msg, ml, "Missing column diasource_id."), 1;
	value_of(id, &idv);
	if (idv.kind != ASTRO_SFREQ_INT && idv.kind != ASTRO_SFREQ_INTSTR)
		return snprintf(msg, ml, "diasource_id is not an integer"), 1;
	if (!json_is_array(bb) || n < ASTRO_SFREQ_MIN_CORNERS || n > ASTRO_SFREQ_MAX_CORNERS)
		return snprintf(msg, ml,
				"diasources[%zu].bbox must be an array of %d to %d [ra, dec] corners",
				i, ASTRO_SFREQ_MIN_CORNERS, ASTRO_SFREQ_MAX_CORNERS),
		       1;
	memset(out, 0, sizeof(*out));
	out->id = idv.i;
	out->ncorners = (unsigned)n;
	for (size_t k = 0; k < n; k++) {
		json_t *c = json_array_get(bb, k);
		json_t *a = json_array_get(c, 0), *d = json_array_get(c, 1);
		double ra, dec;

		if (!json_is_array(c) || json_array_size(c) != 2 || !json_is_number(a) ||
		    !json_is_number(d))
			return snprintf(msg, ml, "diasources[%zu].bbox[%zu] is not [ra, dec]", i, k), 1;
		ra = json_number_value(a);
		dec = json_number_value(d);
		if (!(isfinite(ra) && dec >= -90 && dec <= 90))
			return snprintf(msg, ml, "diasources[%zu].bbox[%zu]: coordinates out of range",
					i, k),
			       1;
		out->corner[k][0] = ra;
		out->corner[k][1] = dec;
	}
	return 0;
}

static void same_value(const struct astro_satfilter_req_value *a, const struct astro_satfilter_req_value *b,
		       const uint8_t *data, size_t size)
{
	if (a->kind != b->kind)
		die("field kind", data, size);
	if (a->kind == ASTRO_SFREQ_INT && a->i != b->i)
		die("integer value", data, size);
	if ((a->kind == ASTRO_SFREQ_INT || a->kind == ASTRO_SFREQ_REAL) &&
	    memcmp(&a->d, &b->d, sizeof(double)) != 0)
		die("number value", data, size);
}

static int documented_refusal(const char *text)
{
	static const char *const ok[] = {
		"duplicate object key", "NUL byte in object key", "maximum parsing depth",
		"invalid Unicode", "surrogate", "'[' or '{' expected",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strstr(text, ok[i]))
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct astro_sfreq r;
	json_error_t je;
	json_t *j;
	size_t max;
	char err[256];
	int rc;

	if (size == 0)
		return 0;
	max = data[0] & 7;
	data++;
	size--;
	rc = astro_satfilter_req_parse((const char *)data, size, max, &r, err, sizeof(err));
	if (rc && (strncmp(err, "malformed JSON at byte ", 23) != 0))
		die("error message shape", data, size);
	j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
	if (!j) {
		if (!rc && !documented_refusal(je.text)) {
			fprintf(stderr, "jansson: %s\n", je.text);
			die("reader accepted what jansson refused", data, size);
		}
		if (!rc)
			astro_satfilter_req_free(&r);
		return 0;
	}
	if (rc && memchr(data, 0, size)) {
		/* jansson lets a raw NUL byte through (a NUL is never JSON
		 * outside a string, nor raw inside one): not an oracle here */
		json_decref(j);
		return 0;
	}
	if (rc) {
		fprintf(stderr, "reader: %s\n", err);
		die("reader refused what jansson accepted", data, size);
	}
	if (r.is_object != json_is_object(j))
		die("is_object", data, size);
	if (json_is_object(j)) {
		json_t *src = json_object_get(j, "diasources");

		for (int f = 0; f < ASTRO_SFREQ_NFIELDS; f++) {
			struct astro_satfilter_req_value want;

			value_of(json_object_get(j, astro_satfilter_req_field_name(f)), &want);
			same_value(&r.f[f], &want, data, size);
		}
		if (r.sources_is_array != json_is_array(src))
			die("sources_is_array", data, size);
		if (json_is_array(src)) {
			size_t n = json_array_size(src), kept = 0;
			int bad = 0;
			char msg[160] = "";

			if (r.nsources != n)
				die("nsources", data, size);
			for (size_t i = 0; i < n && kept < max + 1 && !bad; i++) {
				struct astro_satfilter_req_source s;

				bad = ref_source(json_array_get(src, i), i, &s, msg, sizeof(msg));
				if (!bad) {
					if (kept >= r.nkept || r.src[kept].id != s.id ||
					    r.src[kept].ncorners != s.ncorners ||
					    memcmp(r.src[kept].corner, s.corner,
						   s.ncorners * sizeof(s.corner[0])) != 0)
						die("kept source", data, size);
					kept++;
				}
			}
			if (kept != r.nkept || bad != r.bad || (bad && strcmp(msg, r.bad_msg) != 0)) {
				fprintf(stderr, "want kept %zu bad %d '%s', got %zu %d '%s'\n", kept,
					bad, msg, r.nkept, r.bad, r.bad_msg);
				die("sources", data, size);
			}
		}
	}
	json_decref(j);
	astro_satfilter_req_free(&r);
	return 0;
}

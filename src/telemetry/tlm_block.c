/* tlm_block.c — encode and decode the archive's sample blocks (see tlm_block.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "core/astro.h"
#include "tlm_block.h"
#include "tlm_parse.h"

#define HDR 6		/* version, reserved, CRC-32 */
#define DEC_MAX 15	/* decimal mode: 10^d exact and k below 2^53 */
#define FLAG_BAD 0x4u

static const double p10[DEC_MAX + 1] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
};

void astro_tlm_block_init(struct astro_tlm_block *b)
{
	memset(b, 0, sizeof(*b));
}

void astro_tlm_block_free(struct astro_tlm_block *b)
{
	free(b->t);
	free(b->v);
	free(b->bad);
	free(b->iid);
	astro_tlm_block_init(b);
}

int astro_tlm_block_reserve(struct astro_tlm_block *b, size_t n)
{
	size_t nc;
	void *q;

	if (n <= b->cap)
		return 0;
	nc = b->cap ? b->cap : 256;
	while (nc < n)
		nc *= 2;
	if (!(q = realloc(b->t, nc * sizeof(*b->t))))
		return -ENOMEM;
	b->t = q;
	if (!(q = realloc(b->v, nc * sizeof(*b->v))))
		return -ENOMEM;
	b->v = q;
	if (!(q = realloc(b->bad, nc)))
		return -ENOMEM;
	b->bad = q;
	if (!(q = realloc(b->iid, nc * sizeof(*b->iid))))
		return -ENOMEM;
	b->iid = q;
	b->cap = nc;
	return 0;
}

int astro_tlm_block_push(struct astro_tlm_block *b, int64_t t, const struct astro_tlm_val *v,
			 int bad, uint32_t iid)
{
	if (b->n == b->cap && astro_tlm_block_reserve(b, b->n + 1))
		return -ENOMEM;
	b->t[b->n] = t;
	b->v[b->n] = *v;
	b->bad[b->n] = (uint8_t)!!bad;
	b->iid[b->n++] = iid;
	return 0;
}

/* ---- writing ---- */

struct wbuf {
	unsigned char *p;
	size_t len, cap;
	int oom;
};

static unsigned char *w_room(struct wbuf *w, size_t n)
{
	if (w->oom)
		return NULL;
	if (w->len + n > w->cap) {
		size_t nc = w->cap ? w->cap : 1024;

		while (nc < w->len + n)
			nc *= 2;
		unsigned char *q = realloc(w->p, nc);

		if (!q) {
			w->oom = 1;
			return NULL;
		}
		w->p = q;
		w->cap = nc;
	}
	return w->p + w->len;
}

static void w_u8(struct wbuf *w, unsigned x)
{
	unsigned char *d = w_room(w, 1);

	if (d) {
		*d = (unsigned char)x;
		w->len++;
	}
}

static void w_var(struct wbuf *w, uint64_t x)
{
	unsigned char *d = w_room(w, 10);

	if (!d)
		return;
	while (x >= 0x80) {
		*d++ = (unsigned char)(x | 0x80);
		x >>= 7;
		w->len++;
	}
	*d = (unsigned char)x;
	w->len++;
}

static void w_bytes(struct wbuf *w, const void *s, size_t n)
{
	unsigned char *d = w_room(w, n);

	if (d) {
		memcpy(d, s, n);
		w->len += n;
	}
}

static uint64_t zz(uint64_t x)
{
	return (x << 1) ^ (uint64_t)((int64_t)x >> 63);
}

static uint64_t unzz(uint64_t u)
{
	return (u >> 1) ^ (0 - (u & 1));
}

/* A run-length column: equal consecutive values as (value, repeat-1). */
struct runs {
	struct wbuf *w;
	uint64_t v, n;
	int u8;		/* value as one byte, not a varint */
};

static void runs_flush(struct runs *r)
{
	if (!r->n)
		return;
	if (r->u8)
		w_u8(r->w, (unsigned)r->v);
	else
		w_var(r->w, r->v);
	w_var(r->w, r->n - 1);
	r->n = 0;
}

static void runs_add(struct runs *r, uint64_t v)
{
	if (r->n && r->v == v) {
		r->n++;
		return;
	}
	runs_flush(r);
	r->v = v;
	r->n = 1;
}

static uint64_t dbits(double f)
{
	uint64_t u;

	memcpy(&u, &f, 8);
	return u;
}

static double bitsd(uint64_t u)
{
	double f;

	memcpy(&f, &u, 8);
	return f;
}

/*
 * Is f exactly the integer nearest f·10^d over 10^d, as the decoder will
 * rebuild it from that integer?  Checked through the integer itself: -0.0
 * rounds to -0.0, which passes as a double but is stored as 0 and came
 * back as +0.0 (found by fuzz_tlm_block).
 */
static int decimal_exact(double f, int d)
{
	double k = nearbyint(f * p10[d]);

	return fabs(k) < 9007199254740992.0 && dbits((double)(int64_t)k / p10[d]) == dbits(f);
}

/* Digits d such that every FLOAT of the run is k / 10^d exactly; -1 if none. */
static int decimal_digits(const struct astro_tlm_block *b, size_t from, size_t n)
{
	int d = 0;

	for (size_t i = from; i < from + n; i++) {
		double f = b->v[i].f;

		if (b->v[i].type != ASTRO_TLM_FLOAT)
			continue;
		if (!isfinite(f) || fabs(f) >= 9007199254740992.0)
			return -1;
		for (;; d++) {
			if (d > DEC_MAX)
				return -1;
			if (decimal_exact(f, d))
				break;
		}
	}
	/* A larger d keeps earlier values exact in theory; prove it. */
	for (size_t i = from; i < from + n; i++)
		if (b->v[i].type == ASTRO_TLM_FLOAT && !decimal_exact(b->v[i].f, d))
			return -1;
	return d;
}

static void enc_floats(struct wbuf *w, const struct astro_tlm_block *b, size_t from, size_t n)
{
	int d = decimal_digits(b, from, n);
	uint64_t prev = 0;

	w_u8(w, d < 0 ? 0 : (unsigned)d + 1);
	for (size_t i = from; i < from + n; i++) {
		if (b->v[i].type != ASTRO_TLM_FLOAT)
			continue;
		if (d >= 0) {
			uint64_t k = (uint64_t)(int64_t)nearbyint(b->v[i].f * p10[d]);

			w_var(w, zz(k - prev));
			prev = k;
			continue;
		}
		uint64_t x = dbits(b->v[i].f) ^ prev;
		unsigned lz = x ? (unsigned)__builtin_clzll(x) / 8 : 8;
		unsigned tz = x ? (unsigned)__builtin_ctzll(x) / 8 : 0;

		w_u8(w, lz << 4 | tz);
		for (unsigned j = tz; j < 8 - lz; j++)
			w_u8(w, (unsigned)(x >> (8 * j)) & 0xff);
		prev = dbits(b->v[i].f);
	}
}

/* FNV-1a, for the state dictionary's hash table. */
static uint32_t text_hash(const char *s, uint32_t n)
{
	uint32_t h = 2166136261u;

	for (uint32_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

#define DICT_SLOTS (2 * ASTRO_TLM_BLOCK_MAX)

static int enc_states(struct wbuf *w, const struct astro_tlm_block *b, size_t from, size_t n)
{
	int32_t *slot = malloc(DICT_SLOTS * sizeof(*slot));
	uint32_t *idx = malloc(n * sizeof(*idx)), *first = malloc(n * sizeof(*first));
	uint32_t nd = 0, ns = 0;
	struct runs r = {w, 0, 0, 0};
	int rc = -ENOMEM;

	if (!slot || !idx || !first)
		goto out;
	memset(slot, 0xff, DICT_SLOTS * sizeof(*slot));
	for (size_t i = from; i < from + n; i++) {
		const struct astro_tlm_val *v = &b->v[i];
		uint32_t h;

		if (v->type != ASTRO_TLM_STATE)
			continue;
		for (h = text_hash(v->text, v->tlen) % DICT_SLOTS;; h = (h + 1) % DICT_SLOTS) {
			int32_t s = slot[h];

			if (s < 0) {
				slot[h] = (int32_t)nd;
				first[nd++] = (uint32_t)i;
				idx[ns++] = nd - 1;
				break;
			}
			const struct astro_tlm_val *o = &b->v[first[s]];

			if (o->tlen == v->tlen && !memcmp(o->text, v->text, v->tlen)) {
				idx[ns++] = (uint32_t)s;
				break;
			}
		}
	}
	w_var(w, nd);
	for (uint32_t j = 0; j < nd; j++) {
		const struct astro_tlm_val *o = &b->v[first[j]];

		w_var(w, o->tlen);
		w_bytes(w, o->text, o->tlen);
	}
	for (uint32_t j = 0; j < ns; j++)
		runs_add(&r, idx[j]);
	runs_flush(&r);
	rc = 0;
out:
	free(slot);
	free(idx);
	free(first);
	return rc;
}

long astro_tlm_block_encode(const struct astro_tlm_block *b, size_t from, size_t n,
			    unsigned char **buf, size_t *cap)
{
	struct wbuf w = {*buf, 0, *cap, 0};
	struct runs fl = {&w, 0, 0, 1}, ig = {&w, 0, 0, 0}, dd = {&w, 0, 0, 0};
	size_t nint = 0, nflt = 0, nst = 0;
	uint64_t prev = 0, pdelta = 0;
	uint32_t crc;
	long rc = -EINVAL;

	if (n == 0 || n > ASTRO_TLM_BLOCK_MAX || from + n > b->n)
		goto out;
	for (size_t i = from; i < from + n; i++) {
		if (i > from && b->t[i] <= b->t[i - 1])
			goto out;
		if (b->v[i].type == ASTRO_TLM_INT)
			nint++;
		else if (b->v[i].type == ASTRO_TLM_FLOAT)
			nflt++;
		else if (b->v[i].type == ASTRO_TLM_STATE)
			nst++;
		else
			goto out;
	}
	w_u8(&w, ASTRO_TLM_BLOCK_VERSION);
	w_u8(&w, 0);
	w_bytes(&w, "\0\0\0\0", 4);
	w_var(&w, n);
	w_var(&w, zz((uint64_t)b->t[from]));
	prev = (uint64_t)b->t[from];
	for (size_t i = from + 1; i < from + n; i++) {
		uint64_t delta = (uint64_t)b->t[i] - prev;

		runs_add(&dd, zz(delta - pdelta));
		pdelta = delta;
		prev = (uint64_t)b->t[i];
	}
	runs_flush(&dd);
	for (size_t i = from; i < from + n; i++)
		runs_add(&fl, b->v[i].type | (b->bad[i] ? FLAG_BAD : 0));
	runs_flush(&fl);
	for (size_t i = from; i < from + n; i++)
		runs_add(&ig, b->iid[i]);
	runs_flush(&ig);
	prev = 0;
	for (size_t i = from; nint && i < from + n; i++)
		if (b->v[i].type == ASTRO_TLM_INT) {
			w_var(&w, zz((uint64_t)b->v[i].i - prev));
			prev = (uint64_t)b->v[i].i;
		}
	if (nflt)
		enc_floats(&w, b, from, n);
	if (nst && enc_states(&w, b, from, n))
		w.oom = 1;
	if (w.oom) {
		rc = -ENOMEM;
		goto out;
	}
	crc = (uint32_t)crc32(0, w.p, 2);
	crc = (uint32_t)crc32(crc, w.p + HDR, (uInt)(w.len - HDR));
	for (int i = 0; i < 4; i++)
		w.p[2 + i] = (unsigned char)(crc >> (8 * i));
	rc = (long)w.len;
out:
	*buf = w.p;
	*cap = w.cap;
	return rc;
}

/* ---- reading ---- */

struct rbuf {
	const unsigned char *p, *end;
};

static int r_var(struct rbuf *r, uint64_t *x)
{
	uint64_t v = 0;

	for (int s = 0; s < 70; s += 7) {
		if (r->p == r->end)
			return -1;
		unsigned c = *r->p++;

		if (s == 63 && c > 1)
			return -1;
		v |= (uint64_t)(c & 0x7f) << s;
		if (!(c & 0x80)) {
			*x = v;
			return 0;
		}
	}
	return -1;
}

/* Read runs covering exactly n items into out[] (as u8 or u32); value bound lim. */
static int r_runs(struct rbuf *r, size_t n, int u8, uint64_t lim, uint8_t *o8, uint32_t *o32)
{
	size_t i = 0;

	while (i < n) {
		uint64_t v, rep;

		if (u8) {
			if (r->p == r->end)
				return -1;
			v = *r->p++;
		} else if (r_var(r, &v)) {
			return -1;
		}
		if (v > lim || r_var(r, &rep) || rep >= n - i)
			return -1;
		for (uint64_t k = 0; k <= rep; k++, i++) {
			if (o8)
				o8[i] = (uint8_t)v;
			else
				o32[i] = (uint32_t)v;
		}
	}
	return 0;
}

#define BAD(...) do { rc = astro_err_set(err, errlen, -EIO, __VA_ARGS__); goto out; } while (0)

/* Values of samples [0, stop) parsed, of [0, lim) stored (lim <= stop <= b->n). */
static int dec_floats(struct rbuf *r, struct astro_tlm_block *b, size_t lo, size_t lim,
		      size_t stop, char *err, size_t errlen)
{
	uint64_t prev = 0;
	unsigned mode;
	int rc = 0;

	if (r->p == r->end)
		BAD("block: float values missing");
	mode = *r->p++;
	if (mode > DEC_MAX + 1)
		BAD("block: unknown float encoding %u", mode);
	for (size_t i = 0; i < stop; i++) {
		if (b->v[i].type != ASTRO_TLM_FLOAT)
			continue;
		if (mode) {
			uint64_t z;

			if (r_var(r, &z))
				BAD("block: float value %zu truncated", i);
			prev += unzz(z);
			if ((int64_t)prev >= (1LL << 53) || (int64_t)prev <= -(1LL << 53))
				BAD("block: decimal value %zu out of range", i);
			if (i >= lo && i < lim) {
				b->v[i].f = (double)(int64_t)prev / p10[mode - 1];
				b->v[i].i = (int64_t)prev;
				b->v[i].dec = (uint8_t)mode;
			}
			continue;
		}
		if (r->p == r->end)
			BAD("block: float value %zu truncated", i);
		unsigned c = *r->p++, lz = c >> 4, tz = c & 15;
		uint64_t x = 0;

		if (lz + tz > 8 || (lz + tz == 8 && c != 0x80))
			BAD("block: float value %zu has a bad control byte 0x%02x", i, c);
		if ((size_t)(r->end - r->p) < 8 - lz - tz)
			BAD("block: float value %zu truncated", i);
		for (unsigned j = tz; j < 8 - lz; j++)
			x |= (uint64_t)*r->p++ << (8 * j);
		prev ^= x;
		if (i >= lo && i < lim)
			b->v[i].f = bitsd(prev);
	}
out:
	return rc;
}

static int dec_states(struct rbuf *r, struct astro_tlm_block *b, size_t nst, size_t lo,
		      size_t lim, char *err, size_t errlen)
{
	uint64_t nd;
	const unsigned char **txt = NULL;
	uint32_t *len = NULL, *idx = NULL;
	int rc = 0;

	if (r_var(r, &nd) || nd == 0 || nd > nst)
		BAD("block: bad state dictionary size");
	txt = malloc(nd * sizeof(*txt));
	len = malloc(nd * sizeof(*len));
	idx = malloc(nst * sizeof(*idx));
	if (!txt || !len || !idx) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint64_t j = 0; j < nd; j++) {
		uint64_t l;

		if (r_var(r, &l) || l > (uint64_t)(r->end - r->p) || l > UINT32_MAX)
			BAD("block: state text %llu truncated", (unsigned long long)j);
		txt[j] = r->p;
		len[j] = (uint32_t)l;
		r->p += l;
	}
	if (r_runs(r, nst, 0, nd - 1, NULL, idx))
		BAD("block: bad state index runs");
	for (size_t i = 0, k = 0; i < lim; i++)
		if (b->v[i].type == ASTRO_TLM_STATE) {
			if (i >= lo) {
				b->v[i].text = (const char *)txt[idx[k]];
				b->v[i].tlen = len[idx[k]];
			}
			k++;
		}
out:
	free(txt);
	free(len);
	free(idx);
	return rc;
}

int astro_tlm_block_decode(const void *buf, size_t len, struct astro_tlm_block *b,
			   char *err, size_t errlen)
{
	return astro_tlm_block_decode_before(buf, len, INT64_MAX, b, NULL, err, errlen);
}

/*
 * Columns follow each other (times, flags, ingest ids, integers, floats,
 * states), each a chain of deltas: a column is parsed whole when a later one
 * is needed, and only its samples before tmax are stored; the last column
 * present stops there.  A one-hour range takes one or two 4096-sample
 * blocks, of which it needs less than half.
 */
int astro_tlm_block_decode_before(const void *buf, size_t len, int64_t tmax,
				  struct astro_tlm_block *b, size_t *whole, char *err,
				  size_t errlen)
{
	return astro_tlm_block_decode_span(buf, len, INT64_MIN, tmax, b, whole, err, errlen);
}

/*
 * A range that starts inside the block has its first samples' deltas
 * summed but not stored: a one-hour range at a random hour skips half a
 * block's worth of divisions and stores on average.
 */
int astro_tlm_block_decode_span(const void *buf, size_t len, int64_t tmin, int64_t tmax,
				struct astro_tlm_block *b, size_t *whole, char *err,
				size_t errlen)
{
	size_t lo = 0, lim = 0, stop;
	const unsigned char *p = buf;
	struct rbuf r = {p + HDR, p + len};
	uint64_t n, z, t, delta = 0, prev;
	size_t nint = 0, nflt = 0, nst = 0;
	uint32_t crc, want;
	int rc = 0;

	b->n = 0;
	if (len < HDR + 2)
		BAD("block: %zu bytes, too short", len);
	if (p[0] != ASTRO_TLM_BLOCK_VERSION || p[1] != 0)
		BAD("block: unknown version %u.%u", p[0], p[1]);
	want = (uint32_t)p[2] | (uint32_t)p[3] << 8 | (uint32_t)p[4] << 16 | (uint32_t)p[5] << 24;
	crc = (uint32_t)crc32(0, p, 2);
	crc = (uint32_t)crc32(crc, p + HDR, (uInt)(len - HDR));
	if (crc != want)
		BAD("block: checksum mismatch (stored %08x, computed %08x)", want, crc);
	if (r_var(&r, &n) || n == 0 || n > ASTRO_TLM_BLOCK_MAX)
		BAD("block: bad sample count");
	if (astro_tlm_block_reserve(b, (size_t)n)) {
		rc = -ENOMEM;
		goto out;
	}
	b->n = (size_t)n;
	if (r_var(&r, &z))
		BAD("block: first time truncated");
	prev = t = unzz(z);
	b->t[0] = (int64_t)t;
	for (size_t i = 1; i < b->n;) {
		uint64_t rep;

		if (r_var(&r, &z) || r_var(&r, &rep) || rep >= b->n - i)
			BAD("block: bad time runs at sample %zu", i);
		for (uint64_t k = 0; k <= rep; k++, i++) {
			delta += unzz(z);
			t = prev + delta;
			if ((int64_t)t <= (int64_t)prev)
				BAD("block: times not ascending at sample %zu", i);
			b->t[i] = (int64_t)t;
			prev = t;
		}
	}
	while (lim < b->n && b->t[lim] < tmax)
		lim++;
	while (lo < lim && b->t[lo] < tmin)
		lo++;
	if (r_runs(&r, b->n, 1, 0xff, b->bad, NULL))
		BAD("block: bad flag runs");
	for (size_t i = 0; i < b->n; i++) {
		unsigned f = b->bad[i], type = f & 3u;

		if ((f & ~(3u | FLAG_BAD)) || type == 0)
			BAD("block: bad flags 0x%02x at sample %zu", f, i);
		/* the value columns' parsers read the type of every sample */
		if (i >= lo && i < lim)
			b->v[i] = (struct astro_tlm_val){.type = (uint8_t)type};
		else
			b->v[i].type = (uint8_t)type;
		b->bad[i] = (uint8_t)!!(f & FLAG_BAD);
		nint += type == ASTRO_TLM_INT;
		nflt += type == ASTRO_TLM_FLOAT;
		nst += type == ASTRO_TLM_STATE;
	}
	if (r_runs(&r, b->n, 0, UINT32_MAX, NULL, b->iid))
		BAD("block: bad ingest id runs");
	prev = 0;
	stop = nflt || nst ? b->n : lim;
	for (size_t i = 0; nint && i < stop; i++) {
		if (b->v[i].type != ASTRO_TLM_INT)
			continue;
		if (r_var(&r, &z))
			BAD("block: integer value %zu truncated", i);
		prev += unzz(z);
		if (i >= lo && i < lim) {
			b->v[i].i = (int64_t)prev;
			b->v[i].f = (double)b->v[i].i;
		}
	}
	stop = nst ? b->n : lim;
	if (nflt && (rc = dec_floats(&r, b, lo, lim, stop, err, errlen)))
		goto out;
	if (nst && (rc = dec_states(&r, b, nst, lo, lim, err, errlen)))
		goto out;
	/* a column left early has its rest unread (the CRC covered it) */
	if (lim == b->n && r.p != r.end)
		BAD("block: %zu bytes after the last value", (size_t)(r.end - r.p));
	if (whole)
		*whole = b->n;
	b->n = lim;
out:
	if (rc)
		b->n = 0;
	return rc;
}

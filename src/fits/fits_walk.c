/* fits_walk.c — see fits_walk.h. */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fitsio.h>
#include "core/astro.h"
#include "fits_walk.h"
#include "core/log.h"

#define DEF_FIRST_READ ((size_t)64 << 10)
#define DEF_MAX_HEADER ((size_t)64 << 20)
#define DEF_MAX_HDUS 10000u
#define DEF_COALESCE_GAP ((uint64_t)256 << 10)
#define DEF_SMALL_TAIL ((uint64_t)1 << 20)
/* Cards kept in memory for one object, whatever max_hdus allows. */
#define MAX_TOTAL_CARDS ((uint64_t)256 << 20)
#define MAX_NAXIS 999
#define CARDS_PER_BLOCK (ASTRO_FITS_BLOCK / ASTRO_FITS_CARD)

#define SER_MAGIC "AFWS"
#define SER_VERSION 1

struct astro_fits_walk {
	struct astro_fits_walk_opts o;
	char name[256];
	uint64_t size;		/* ASTRO_FITS_SIZE_UNKNOWN until learned */
	uint64_t eof_bound;	/* no bytes at or past this offset */
	uint64_t next_off;	/* where HDU n would start */
	enum astro_fits_end end;
	char msg[256];		/* why the walk ended, for DAMAGED/LIMIT */
	struct astro_fits_hdu **hdus;
	uint32_t n, cap;
	uint64_t total_cards;
	/* read buffer: object bytes [win_off, win_off + win_len) */
	unsigned char *win;
	uint64_t win_off;
	size_t win_len;
};

/* Object bytes end up in messages: keep them printable. */
static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

static void wlog(const struct astro_fits_walk *w, int level, const char *fmt, ...)
	ASTRO_PRINTF(3, 4);
static void wlog(const struct astro_fits_walk *w, int level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (w->o.quiet)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printable(buf);
	astro_log(level, "fits %s: %s", w->name, buf);
}

static uint64_t object_limit(const struct astro_fits_walk *w)
{
	return w->size < w->eof_bound ? w->size : w->eof_bound;
}

static bool size_known(const struct astro_fits_walk *w)
{
	return w->size != ASTRO_FITS_SIZE_UNKNOWN;
}

/* ---- reads ------------------------------------------------------------ */

/* Record what a read taught about the object's length. */
static int learn_size(struct astro_fits_walk *w, uint64_t start, size_t len,
		      size_t got, uint64_t reported, bool contiguous)
{
	uint64_t end = start + got;

	if (reported != ASTRO_FITS_SIZE_UNKNOWN) {
		if (reported < end || (got < len && reported != end)) {
			wlog(w, LOG_WARNING, "read at %llu returned %zu bytes but reports size %llu",
			     (unsigned long long)start, got, (unsigned long long)reported);
			return -EIO;
		}
		if (size_known(w) && reported != w->size)
			goto changed;
		w->size = reported;
	}
	if (size_known(w) && end > w->size)
		goto changed;
	if (got < len) {
		/* A short read pins the size, unless it got nothing at an
		 * offset we jumped to: then we only know an upper bound. */
		if (got > 0 || contiguous) {
			if (size_known(w) && w->size != end)
				goto changed;
			w->size = end;
		} else if (start < w->eof_bound) {
			w->eof_bound = start;
		}
	}
	return 0;
changed:
	wlog(w, LOG_WARNING, "object size changed during the walk (%llu, now %llu bytes)",
	     (unsigned long long)w->size,
	     (unsigned long long)(reported != ASTRO_FITS_SIZE_UNKNOWN ? reported : end));
	return -ESTALE;
}

/*
 * Make [off, off+need) buffered, or as much of it as the object holds;
 * *avail = bytes buffered from off.  Bytes before off are dropped: the walk
 * only moves forward.
 */
static int ensure(struct astro_fits_walk *w, astro_fits_read_fn fn, void *arg,
		  uint64_t off, uint64_t need, size_t *avail)
{
	uint64_t lim = object_limit(w), end, rend, start, win_end, reported;
	unsigned char *dst, *nbuf = NULL;
	size_t len, got = 0;
	bool keep;
	int rc;

	*avail = 0;
	if (off >= lim)
		return 0;
	if (__builtin_add_overflow(off, need, &end) || end > lim)
		end = lim;
	win_end = w->win_off + w->win_len;
	if (off >= w->win_off && end <= win_end)
		goto done;

	/* Continue from the buffer when the gap is small: a straddling
	 * header is reused and a small data unit costs bytes, not a trip. */
	keep = w->win_len > 0 && off >= w->win_off &&
	       (off <= win_end || off - win_end <= w->o.coalesce_gap);
	start = keep ? win_end : off;
	if (__builtin_add_overflow(off, (uint64_t)w->o.first_read, &rend) || rend < end)
		rend = end;
	if (size_known(w) && w->size - start <= w->o.small_tail)
		rend = w->size;
	if (rend > lim)
		rend = lim;
	assert(rend > start);
	if (rend - start > SIZE_MAX / 2)
		return -EFBIG;
	len = (size_t)(rend - start);

	if (keep) {
		nbuf = realloc(w->win, w->win_len + len);
		if (!nbuf)
			return -ENOMEM;
		w->win = nbuf;
		dst = w->win + w->win_len;
	} else {
		nbuf = malloc(len);
		if (!nbuf)
			return -ENOMEM;
		dst = nbuf;
	}
	reported = ASTRO_FITS_SIZE_UNKNOWN;
	rc = fn(arg, start, len, dst, &got, &reported);
	if (rc > 0)
		rc = -EIO;
	if (rc == 0 && got > len)
		rc = -EIO;
	if (rc == 0)
		rc = learn_size(w, start, len, got, reported, keep);
	if (rc < 0) {
		if (!keep)
			free(nbuf);
		return rc;
	}
	if (keep) {
		w->win_len += got;
	} else {
		free(w->win);
		w->win = nbuf;
		w->win_off = start;
		w->win_len = got;
	}
	win_end = w->win_off + w->win_len;
	if (off >= win_end) {
		w->win_off = off;
		w->win_len = 0;
	} else if (off > w->win_off) {
		memmove(w->win, w->win + (off - w->win_off), (size_t)(win_end - off));
		w->win_len = (size_t)(win_end - off);
		w->win_off = off;
	}
done:
	win_end = w->win_off + w->win_len;
	if (off >= w->win_off && off < win_end)
		*avail = (size_t)(win_end - off);
	return 0;
}

/* ---- card parsing ----------------------------------------------------- */

static bool is_end_card(const unsigned char *c)
{
	int i;

	if (memcmp(c, "END", 3) != 0)
		return false;
	for (i = 3; i < 8; i++)
		if (c[i] != ' ' && c[i] != '\0')
			return false;
	return true;
}

static bool all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* irregularities, warned once per HDU */
enum {
	IRR_FREE_INT = 1 << 0,
	IRR_DUP = 1 << 1,
	IRR_ORDER = 1 << 2,
	IRR_LOWER = 1 << 3,
	IRR_NONTEXT = 1 << 4,
	IRR_END_JUNK = 1 << 5,
	IRR_PAD_NUL = 1 << 6,
	IRR_PAD_JUNK = 1 << 7,
	IRR_SIMPLE_F = 1 << 8,
	IRR_XT_VALUE = 1 << 9,
	IRR_NAME_VALUE = 1 << 10,
};

struct parse {
	struct astro_fits_walk *w;
	uint32_t idx;
	unsigned irr;
	char *err;
	size_t errlen;
	int bitpix, naxis;
	int64_t pcount, gcount;
	bool have_bitpix, have_naxis, have_pcount, have_gcount, groups;
	int64_t naxisn[MAX_NAXIS + 1];
	bool seen_naxisn[MAX_NAXIS + 1];
};

static void irregular(struct parse *ps, unsigned what, const char *fmt, ...)
	ASTRO_PRINTF(3, 4);
static void irregular(struct parse *ps, unsigned what, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	if (ps->irr & what)
		return;
	ps->irr |= what;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	wlog(ps->w, LOG_WARNING, "HDU %u: %s (tolerated)", ps->idx, buf);
}

static int bad(struct parse *ps, const char *fmt, ...) ASTRO_PRINTF(2, 3);
static int bad(struct parse *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	astro_err_vset(ps->err, ps->errlen, -EIO, fmt, ap);
	va_end(ap);
	return -EIO;
}

/* The value field via cfitsio, trimmed; -EIO when the card has none. */
static int card_value(const unsigned char *c, char *val, size_t vlen)
{
	char card[ASTRO_FITS_CARD + 1], value[FLEN_VALUE], comm[FLEN_COMMENT];
	int status = 0;
	size_t b, e;

	memcpy(card, c, ASTRO_FITS_CARD);
	card[ASTRO_FITS_CARD] = '\0';
	/* cfitsio stops at NUL; a card with NUL in it is irregular anyway */
	if (card[8] != '=' || ffpsvc(card, value, comm, &status) != 0 || status)
		return -EIO;
	for (b = 0; value[b] == ' '; b++)
		;
	for (e = strlen(value); e > b && value[e - 1] == ' '; e--)
		;
	if (e == b || e - b >= vlen)
		return -EIO;
	memcpy(val, value + b, e - b);
	val[e - b] = '\0';
	return 0;
}

static int parse_int_value(struct parse *ps, const unsigned char *c, uint32_t ci,
			   const char *kw, int64_t *out)
{
	char val[FLEN_VALUE], *endp;
	const char *digits;
	long long v;

	if (card_value(c, val, sizeof(val)) < 0)
		return bad(ps, "card %u: %s has no value", ci, kw);
	if (!(isdigit((unsigned char)val[0]) || val[0] == '+' || val[0] == '-'))
		return bad(ps, "card %u: %s = %s is not an integer", ci, kw, val);
	errno = 0;
	v = strtoll(val, &endp, 10);
	if (errno || *endp != '\0' || endp == val)
		return bad(ps, "card %u: %s = %s is not an integer", ci, kw, val);
	digits = val + (val[0] == '+' || val[0] == '-');
	/* Fixed format: right-justified in column 30, no '+', no leading 0. */
	if (val[0] == '+' || (digits[0] == '0' && digits[1] != '\0') ||
	    !isdigit(c[29]) || (c[30] != ' ' && c[30] != '/'))
		irregular(ps, IRR_FREE_INT, "card %u: free-format integer %s = %s", ci, kw, val);
	*out = v;
	return 0;
}

/* A quoted string value, '' unescaped, trailing blanks dropped. */
static int parse_str_value(const unsigned char *c, char *out, size_t outlen, bool *quoted)
{
	char val[FLEN_VALUE];
	size_t i, o = 0;

	if (card_value(c, val, sizeof(val)) < 0)
		return -EIO;
	*quoted = val[0] == '\'';
	if (!*quoted) {
		astro_strlcpy(out, val, outlen);
		return 0;
	}
	for (i = 1; val[i] && o + 1 < outlen; i++) {
		if (val[i] == '\'') {
			if (val[i + 1] != '\'')
				break;
			i++;
		}
		out[o++] = val[i];
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	return 0;
}

static int parse_logical(const unsigned char *c, bool *v)
{
	char val[FLEN_VALUE];

	if (card_value(c, val, sizeof(val)) < 0 || val[1] != '\0' ||
	    (val[0] != 'T' && val[0] != 'F'))
		return -EIO;
	*v = val[0] == 'T';
	return 0;
}

/* "NAXISn" with n in 1..999 written without leading zeros → n, else 0. */
static int naxis_index(const char *kw)
{
	int n = 0;
	const char *p;

	if (strncmp(kw, "NAXIS", 5) != 0 || kw[5] < '1' || kw[5] > '9')
		return 0;
	for (p = kw + 5; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return 0;
		n = n * 10 + (*p - '0');
	}
	return n <= MAX_NAXIS ? n : 0;
}

/*
 * One mandatory integer: the first occurrence wins, later ones warn.
 * Returns 1 when taken, 0 for a duplicate, -EIO when unusable.
 */
static int take_int(struct parse *ps, const unsigned char *c, uint32_t ci, const char *kw,
		    bool *have, int64_t *dst, bool nonneg)
{
	int64_t v = 0;
	int rc;

	if (*have) {
		irregular(ps, IRR_DUP, "card %u: duplicate %s ignored", ci, kw);
		return 0;
	}
	rc = parse_int_value(ps, c, ci, kw, &v);
	if (rc < 0)
		return rc;
	if (nonneg && v < 0)
		return bad(ps, "card %u: %s = %lld is negative", ci, kw, (long long)v);
	*have = true;
	*dst = v;
	return 1;
}

static int parse_card(struct parse *ps, struct astro_fits_hdu *h, const unsigned char *c,
		      uint32_t ci)
{
	char kw[9];
	int i, n, rc = 0;
	bool lower = false, b, quoted;
	int64_t v;

	for (i = 0; i < 8; i++) {
		kw[i] = (char)c[i];
		if (islower(c[i])) {
			kw[i] = (char)toupper(c[i]);
			lower = true;
		}
	}
	for (i = 8; i > 0 && kw[i - 1] == ' '; i--)
		;
	kw[i] = '\0';
	for (i = 0; i < (int)ASTRO_FITS_CARD; i++)
		if (c[i] < 0x20 || c[i] > 0x7e) {
			irregular(ps, IRR_NONTEXT, "card %u: byte 0x%02x in column %d is not ASCII text",
				  ci, c[i], i + 1);
			break;
		}

	if (strcmp(kw, "BITPIX") == 0) {
		rc = take_int(ps, c, ci, kw, &ps->have_bitpix, &v, false);
		if (rc == 1) {
			if (v != 8 && v != 16 && v != 32 && v != 64 && v != -32 && v != -64)
				return bad(ps, "card %u: BITPIX = %lld is not 8, 16, 32, 64, -32 or -64",
					   ci, (long long)v);
			ps->bitpix = (int)v;
			if (ci != 1)
				irregular(ps, IRR_ORDER, "BITPIX is card %u, not 1", ci);
		}
	} else if (strcmp(kw, "NAXIS") == 0) {
		rc = take_int(ps, c, ci, kw, &ps->have_naxis, &v, true);
		if (rc == 1) {
			if (v > MAX_NAXIS)
				return bad(ps, "card %u: NAXIS = %lld is outside 0..999", ci, (long long)v);
			ps->naxis = (int)v;
			if (ci != 2)
				irregular(ps, IRR_ORDER, "NAXIS is card %u, not 2", ci);
		}
	} else if ((n = naxis_index(kw)) > 0) {
		rc = take_int(ps, c, ci, kw, &ps->seen_naxisn[n], &ps->naxisn[n], true);
		if (rc == 1 && ci != 2u + (unsigned)n)
			irregular(ps, IRR_ORDER, "%s is card %u, not %d", kw, ci, 2 + n);
	} else if (strcmp(kw, "PCOUNT") == 0) {
		rc = take_int(ps, c, ci, kw, &ps->have_pcount, &ps->pcount, true);
	} else if (strcmp(kw, "GCOUNT") == 0) {
		rc = take_int(ps, c, ci, kw, &ps->have_gcount, &ps->gcount, true);
	} else if (strcmp(kw, "GROUPS") == 0) {
		if (parse_logical(c, &b) == 0)
			ps->groups = b;
	} else if (strcmp(kw, "SIMPLE") == 0 && ci == 0) {
		if (parse_logical(c, &b) < 0 || !b)
			irregular(ps, IRR_SIMPLE_F, "SIMPLE is not T: not a standard FITS file, sized as if it were");
	} else if (strcmp(kw, "XTENSION") == 0 && ci == 0) {
		if (parse_str_value(c, h->xtension, sizeof(h->xtension), &quoted) < 0)
			return bad(ps, "card 0: XTENSION has no value");
		if (!quoted)
			irregular(ps, IRR_XT_VALUE, "XTENSION value %s is not a quoted string", h->xtension);
		else if (c[19] != '\'')
			irregular(ps, IRR_XT_VALUE, "XTENSION value '%s' is not padded to 8 characters",
				  h->xtension);
	} else if (strcmp(kw, "EXTNAME") == 0 && !(h->flags & ASTRO_FITS_HDU_HAS_EXTNAME)) {
		if (parse_str_value(c, h->extname, sizeof(h->extname), &quoted) == 0 && quoted)
			h->flags |= ASTRO_FITS_HDU_HAS_EXTNAME;
		else
			irregular(ps, IRR_NAME_VALUE, "card %u: EXTNAME is not a string, ignored", ci);
	} else if (strcmp(kw, "EXTVER") == 0 && !(h->flags & ASTRO_FITS_HDU_HAS_EXTVER)) {
		char val[FLEN_VALUE], *endp;

		errno = 0;
		if (card_value(c, val, sizeof(val)) == 0 &&
		    (v = strtoll(val, &endp, 10), errno == 0 && *endp == '\0' && endp != val)) {
			h->extver = v;
			h->flags |= ASTRO_FITS_HDU_HAS_EXTVER;
		} else {
			irregular(ps, IRR_NAME_VALUE, "card %u: EXTVER is not an integer, ignored", ci);
		}
	} else {
		return 0;
	}
	if (rc < 0)
		return rc;
	if (lower)
		irregular(ps, IRR_LOWER, "card %u: keyword %.8s in lower case", ci, (const char *)c);
	return 0;
}

/* Eq. 2 (and Eq. 4 for random groups), int64 with overflow checks. */
static int data_size(struct parse *ps, struct astro_fits_hdu *h)
{
	int64_t prod = 1, total;
	int n, first = 1;

	if (!ps->have_bitpix)
		return bad(ps, "no BITPIX card");
	if (!ps->have_naxis)
		return bad(ps, "no NAXIS card");
	for (n = 1; n <= ps->naxis; n++)
		if (!ps->seen_naxisn[n])
			return bad(ps, "no NAXIS%d card (NAXIS = %d)", n, ps->naxis);
	h->bitpix = ps->bitpix;
	h->naxis = ps->naxis;
	h->data_bytes = 0;
	if (ps->naxis == 0)
		return 0;
	if (ps->idx == 0 && ps->groups && ps->naxisn[1] == 0) {
		h->flags |= ASTRO_FITS_HDU_GROUPS;
		first = 2;
		/* astropy: no axis beyond NAXIS1 means no groups data */
		if (ps->naxis == 1)
			prod = 0;
	}
	for (n = first; n <= ps->naxis; n++)
		if (__builtin_mul_overflow(prod, ps->naxisn[n], &prod))
			return bad(ps, "NAXIS1..%d product overflows 64 bits", ps->naxis);
	if (__builtin_add_overflow(prod, ps->pcount, &total) ||
	    __builtin_mul_overflow(total, ps->gcount, &total) ||
	    __builtin_mul_overflow(total, (int64_t)(abs(ps->bitpix) / 8), &total))
		return bad(ps, "data size |BITPIX|/8*GCOUNT*(PCOUNT+NAXIS product) overflows 64 bits");
	h->data_bytes = (uint64_t)total;
	return 0;
}

static void flag_truncation(const struct astro_fits_walk *w, struct astro_fits_hdu *h)
{
	if (!size_known(w))
		return;
	h->flags &= ~(ASTRO_FITS_HDU_DATA_TRUNCATED | ASTRO_FITS_HDU_PAD_MISSING);
	if (h->data_offset + h->data_bytes > w->size)
		h->flags |= ASTRO_FITS_HDU_DATA_TRUNCATED;
	else if (h->data_offset + h->data_span > w->size)
		h->flags |= ASTRO_FITS_HDU_PAD_MISSING;
}

/*
 * Parse one header (cards[0..ncards-1], END last) at offset off, size it
 * and append it.  Shared by the walk and by deserialisation so that a
 * cached state obeys exactly the rules a fresh walk does.
 */
static int add_hdu(struct astro_fits_walk *w, uint64_t off, const unsigned char *cards,
		   size_t ncards, const unsigned char *pad, size_t padlen, char *err,
		   size_t errlen)
{
	struct parse *ps;
	struct astro_fits_hdu h;
	uint64_t blocks, end_data;
	size_t i;
	struct astro_fits_hdu *stored;
	int rc;

	assert(ncards >= 1 && is_end_card(cards + (ncards - 1) * ASTRO_FITS_CARD));
	memset(&h, 0, sizeof(h));
	h.index = w->n;
	h.header_offset = off;
	h.ncards = ncards;
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	ps->w = w;
	ps->idx = w->n;
	ps->err = err;
	ps->errlen = errlen;
	ps->gcount = 1;
	for (i = 0; i + 1 < ncards; i++) {
		rc = parse_card(ps, &h, cards + i * ASTRO_FITS_CARD, (uint32_t)i);
		if (rc < 0)
			goto out;
	}
	if (!all_bytes(cards + (ncards - 1) * ASTRO_FITS_CARD + 8, ASTRO_FITS_CARD - 8, ' '))
		irregular(ps, IRR_END_JUNK, "END card has bytes after column 8");
	if (pad && !all_bytes(pad, padlen, ' ')) {
		if (memchr(pad, '\0', padlen))
			irregular(ps, IRR_PAD_NUL, "header padded with NUL bytes after END, not spaces");
		else
			irregular(ps, IRR_PAD_JUNK, "non-blank bytes after the END card");
	}
	rc = data_size(ps, &h);
	if (rc < 0)
		goto out;
	blocks = (ncards + CARDS_PER_BLOCK - 1) / CARDS_PER_BLOCK;
	h.header_bytes = blocks * ASTRO_FITS_BLOCK;
	h.end_card_offset = off + (ncards - 1) * ASTRO_FITS_CARD;
	h.data_span = h.data_bytes / ASTRO_FITS_BLOCK * ASTRO_FITS_BLOCK;
	if (h.data_span < h.data_bytes)
		h.data_span += ASTRO_FITS_BLOCK;
	if (h.data_span < h.data_bytes || h.data_span > INT64_MAX ||
	    __builtin_add_overflow(off, h.header_bytes, &h.data_offset) ||
	    __builtin_add_overflow(h.data_offset, h.data_span, &end_data) || end_data > INT64_MAX) {
		rc = bad(ps, "data unit of %llu bytes at %llu runs past 2^63",
			 (unsigned long long)h.data_bytes, (unsigned long long)off);
		goto out;
	}
	/* padding is not kept, so a reloaded state could not flag it */
	if (ps->irr & ~(unsigned)(IRR_PAD_NUL | IRR_PAD_JUNK))
		h.flags |= ASTRO_FITS_HDU_IRREGULAR;
	if (w->total_cards + ncards * ASTRO_FITS_CARD > MAX_TOTAL_CARDS) {
		rc = astro_err_set(err, errlen, -E2BIG,
				   "more than %llu bytes of header cards in this object",
				   (unsigned long long)MAX_TOTAL_CARDS);
		goto out;
	}
	if (w->n == w->cap) {
		uint32_t ncap = w->cap ? w->cap * 2 : 8;
		struct astro_fits_hdu **nh = realloc(w->hdus, ncap * sizeof(*nh));

		if (!nh) {
			rc = -ENOMEM;
			goto out;
		}
		w->hdus = nh;
		w->cap = ncap;
	}
	/* one allocation per HDU, cards behind it: pointers handed out stay
	 * valid while the walk goes on */
	stored = malloc(sizeof(*stored) + ncards * ASTRO_FITS_CARD);
	if (!stored) {
		rc = -ENOMEM;
		goto out;
	}
	*stored = h;
	memcpy(stored + 1, cards, ncards * ASTRO_FITS_CARD);
	stored->cards = (const char *)(stored + 1);
	flag_truncation(w, stored);
	w->hdus[w->n++] = stored;
	w->total_cards += ncards * ASTRO_FITS_CARD;
	w->next_off = end_data;
	rc = 0;
out:
	free(ps);
	return rc;
}

/* ---- the walk ----------------------------------------------------------- */

/* The size may have been learned after the HDUs were walked. */
static void set_truncation_flags(struct astro_fits_walk *w)
{
	uint32_t i;

	for (i = 0; i < w->n; i++)
		flag_truncation(w, w->hdus[i]);
}

static void finish(struct astro_fits_walk *w, enum astro_fits_end why)
{
	const struct astro_fits_hdu *last = w->n ? w->hdus[w->n - 1] : NULL;
	unsigned long long off = (unsigned long long)w->next_off;

	set_truncation_flags(w);
	if (why == ASTRO_FITS_END_EOF && last &&
	    (last->flags & (ASTRO_FITS_HDU_DATA_TRUNCATED | ASTRO_FITS_HDU_PAD_MISSING)))
		why = ASTRO_FITS_END_TRUNCATED;
	w->end = why;
	switch (why) {
	case ASTRO_FITS_END_TRUNCATED:
		wlog(w, LOG_WARNING, "HDU %u: data unit should end at %llu but the object has %llu bytes (%s)",
		     last->index, off, (unsigned long long)w->size,
		     (last->flags & ASTRO_FITS_HDU_DATA_TRUNCATED) ? "truncated"
								    : "final fill missing");
		break;
	case ASTRO_FITS_END_SHORT_TAIL:
		wlog(w, LOG_WARNING, "%llu stray bytes after the last HDU at %llu, ignored",
		     (unsigned long long)(object_limit(w) - w->next_off), off);
		break;
	case ASTRO_FITS_END_NUL_PADDING:
		wlog(w, LOG_WARNING, "NUL padding after the last HDU at %llu, ignored", off);
		break;
	case ASTRO_FITS_END_JUNK:
		wlog(w, LOG_WARNING, "block at %llu does not start with XTENSION: special records or garbage after the last HDU, not listed",
		     off);
		break;
	default:
		break;
	}
}

static int damaged(struct astro_fits_walk *w, const char *fmt, ...) ASTRO_PRINTF(2, 3);
static int damaged(struct astro_fits_walk *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->msg, sizeof(w->msg), fmt, ap);
	va_end(ap);
	printable(w->msg);
	set_truncation_flags(w);
	w->end = ASTRO_FITS_END_DAMAGED;
	wlog(w, LOG_WARNING, "HDU %u at %llu: %s", w->n, (unsigned long long)w->next_off, w->msg);
	return -EIO;
}

/* Decide whether there is an HDU at next_off; 1 = yes, 0 = list ended. */
static int next_is_hdu(struct astro_fits_walk *w, const unsigned char *p, size_t avail)
{
	if (w->n == 0) {
		if (avail == 0)
			return damaged(w, "empty object");
		if (avail >= 2 && p[0] == 0x1f && (p[1] == 0x8b || p[1] == 0x9d))
			return damaged(w, "%s-compressed object, not a FITS file (not range-walkable)",
				       p[1] == 0x8b ? "gzip" : "compress");
		if (avail < 8 || memcmp(p, "SIMPLE  ", 8) != 0)
			return damaged(w, "first card is not SIMPLE: not a FITS file");
		return 1;
	}
	if (avail == 0) {
		finish(w, ASTRO_FITS_END_EOF);
		return 0;
	}
	if (avail < ASTRO_FITS_BLOCK) {
		if (avail >= 8 && memcmp(p, "XTENSION", 8) == 0)
			return damaged(w, "truncated header block at %llu (%zu bytes)",
				       (unsigned long long)w->next_off, avail);
		finish(w, ASTRO_FITS_END_SHORT_TAIL);
		return 0;
	}
	if (memcmp(p, "XTENSION", 8) == 0)
		return 1;
	finish(w, all_bytes(p, ASTRO_FITS_BLOCK, 0) ? ASTRO_FITS_END_NUL_PADDING : ASTRO_FITS_END_JUNK);
	return 0;
}

static int step(struct astro_fits_walk *w, astro_fits_read_fn fn, void *arg)
{
	uint64_t off = w->next_off, grow, hdr_len;
	size_t avail, scanned = 0, ncards = 0;
	const unsigned char *p;
	char err[192];
	int rc;

	assert(w->end == ASTRO_FITS_END_NONE);
	if (w->n >= w->o.max_hdus) {
		snprintf(w->msg, sizeof(w->msg), "more than %u HDUs", w->o.max_hdus);
		wlog(w, LOG_WARNING, "walk stopped at %llu: %s", (unsigned long long)off, w->msg);
		w->end = ASTRO_FITS_END_LIMIT;
		return 0;
	}
	rc = ensure(w, fn, arg, off, ASTRO_FITS_BLOCK, &avail);
	if (rc < 0)
		return rc;
	rc = next_is_hdu(w, avail ? w->win + (off - w->win_off) : NULL, avail);
	if (rc <= 0)
		return rc;

	/* END only at card boundaries, counted from the header start. */
	for (;;) {
		p = w->win + (off - w->win_off);
		for (; scanned + ASTRO_FITS_CARD <= avail && scanned < w->o.max_header;
		     scanned += ASTRO_FITS_CARD)
			if (is_end_card(p + scanned)) {
				ncards = scanned / ASTRO_FITS_CARD + 1;
				break;
			}
		if (ncards)
			break;
		if (scanned >= w->o.max_header)
			return damaged(w, "no END card in the first %zu bytes of the header", scanned);
		if (off + avail >= object_limit(w)) {
			if (avail % ASTRO_FITS_BLOCK)
				return damaged(w, "truncated header block at %llu (%zu bytes)",
					       (unsigned long long)(off + avail / ASTRO_FITS_BLOCK *
									     ASTRO_FITS_BLOCK),
					       avail % ASTRO_FITS_BLOCK);
			return damaged(w, "EOF inside header starting at %llu (no END)",
				       (unsigned long long)off);
		}
		grow = (uint64_t)avail * 2;
		if (grow > w->o.max_header)
			grow = w->o.max_header;
		rc = ensure(w, fn, arg, off, grow, &avail);
		if (rc < 0)
			return rc;
	}
	hdr_len = (ncards + CARDS_PER_BLOCK - 1) / CARDS_PER_BLOCK * ASTRO_FITS_BLOCK;
	if (avail < hdr_len) {
		rc = ensure(w, fn, arg, off, hdr_len, &avail);
		if (rc < 0)
			return rc;
		if (avail < hdr_len)
			return damaged(w, "truncated header block at %llu (%zu bytes)",
				       (unsigned long long)(off + hdr_len - ASTRO_FITS_BLOCK),
				       avail - (size_t)(hdr_len - ASTRO_FITS_BLOCK));
	}
	p = w->win + (off - w->win_off);
	rc = add_hdu(w, off, p, ncards, p + ncards * ASTRO_FITS_CARD,
		     (size_t)hdr_len - ncards * ASTRO_FITS_CARD, err, sizeof(err));
	if (rc == -E2BIG) {
		astro_strlcpy(w->msg, err, sizeof(w->msg));
		wlog(w, LOG_WARNING, "walk stopped at %llu: %s", (unsigned long long)off, w->msg);
		w->end = ASTRO_FITS_END_LIMIT;
		return 0;
	}
	if (rc == -EIO)
		return damaged(w, "%s", err);
	if (rc < 0)
		return rc;
	/* With the size known, the end needs no probe read. */
	if (w->next_off >= object_limit(w))
		finish(w, ASTRO_FITS_END_EOF);
	return 0;
}

/* One HDU further; the read buffer goes once the list is complete. */
static int advance(struct astro_fits_walk *w, astro_fits_read_fn fn, void *arg)
{
	int rc = step(w, fn, arg);

	if (w->end != ASTRO_FITS_END_NONE) {
		free(w->win);
		w->win = NULL;
		w->win_len = 0;
	}
	/* a damaged header is recorded in the state, not a failed call; a
	 * callback's -EIO is a failed call */
	return rc == -EIO && w->end == ASTRO_FITS_END_DAMAGED ? 0 : rc;
}

int astro_fits_walk_to(struct astro_fits_walk *w, astro_fits_read_fn fn, void *arg, uint32_t n)
{
	int rc;

	while (w->n <= n) {
		if (w->end == ASTRO_FITS_END_LIMIT)
			return -EIO; /* HDU n may exist: we refused to look */
		if (w->end != ASTRO_FITS_END_NONE)
			return w->end == ASTRO_FITS_END_DAMAGED && n == w->n ? -EIO : -ENOENT;
		rc = advance(w, fn, arg);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int astro_fits_walk_all(struct astro_fits_walk *w, astro_fits_read_fn fn, void *arg)
{
	int rc;

	while (w->end == ASTRO_FITS_END_NONE) {
		rc = advance(w, fn, arg);
		if (rc < 0)
			return rc;
	}
	return w->end == ASTRO_FITS_END_DAMAGED || w->end == ASTRO_FITS_END_LIMIT ? -EIO : 0;
}

static bool hdu_matches(const struct astro_fits_hdu *h, const char *extname, int64_t extver)
{
	int64_t ver = (h->flags & ASTRO_FITS_HDU_HAS_EXTVER) ? h->extver : 1;

	return (h->flags & ASTRO_FITS_HDU_HAS_EXTNAME) && strcasecmp(h->extname, extname) == 0 &&
	       (extver == 0 || ver == extver);
}

int astro_fits_walk_find(struct astro_fits_walk *w, astro_fits_read_fn fn, void *arg,
			 const char *extname, int64_t extver, uint32_t *index)
{
	uint32_t i = 0;
	int rc;

	for (;;) {
		for (; i < w->n; i++)
			if (hdu_matches(w->hdus[i], extname, extver)) {
				*index = i;
				return 0;
			}
		if (w->end != ASTRO_FITS_END_NONE)
			return w->end == ASTRO_FITS_END_DAMAGED || w->end == ASTRO_FITS_END_LIMIT
				       ? -EIO
				       : -ENOENT;
		rc = advance(w, fn, arg);
		if (rc < 0)
			return rc;
	}
}

/* ---- state -------------------------------------------------------------- */

int astro_fits_walk_new(const struct astro_fits_walk_opts *opts, uint64_t size,
			struct astro_fits_walk **out)
{
	struct astro_fits_walk *w = calloc(1, sizeof(*w));

	*out = NULL;
	if (!w)
		return -ENOMEM;
	if (opts)
		w->o = *opts;
	if (!w->o.first_read)
		w->o.first_read = DEF_FIRST_READ;
	if (w->o.first_read < ASTRO_FITS_BLOCK)
		w->o.first_read = ASTRO_FITS_BLOCK;
	if (!w->o.max_header)
		w->o.max_header = DEF_MAX_HEADER;
	if (w->o.max_header < ASTRO_FITS_BLOCK)
		w->o.max_header = ASTRO_FITS_BLOCK;
	if (!w->o.max_hdus)
		w->o.max_hdus = DEF_MAX_HDUS;
	if (!w->o.coalesce_gap)
		w->o.coalesce_gap = DEF_COALESCE_GAP;
	if (!w->o.small_tail)
		w->o.small_tail = DEF_SMALL_TAIL;
	astro_strlcpy(w->name, w->o.name ? w->o.name : "object", sizeof(w->name));
	printable(w->name);
	w->o.name = w->name;
	w->size = size;
	w->eof_bound = UINT64_MAX;
	*out = w;
	return 0;
}

void astro_fits_walk_free(struct astro_fits_walk *w)
{
	uint32_t i;

	if (!w)
		return;
	for (i = 0; i < w->n; i++)
		free(w->hdus[i]);
	free(w->hdus);
	free(w->win);
	free(w);
}

uint32_t astro_fits_walk_count(const struct astro_fits_walk *w)
{
	return w->n;
}

const struct astro_fits_hdu *astro_fits_walk_hdu(const struct astro_fits_walk *w, uint32_t n)
{
	return n < w->n ? w->hdus[n] : NULL;
}

enum astro_fits_end astro_fits_walk_end(const struct astro_fits_walk *w, const char **msg)
{
	if (msg)
		*msg = w->msg;
	return w->end;
}

/* ---- serialisation ------------------------------------------------------ */

static void put_le(struct astro_buf *b, uint64_t v, unsigned width)
{
	unsigned char t[8];
	unsigned i;

	for (i = 0; i < width; i++)
		t[i] = (unsigned char)(v >> (8 * i));
	astro_buf_put(b, t, width);
}

/*
 * Layout (integers little-endian):
 *   "AFWS" | u8 version (1) | u8 end reason | u64 size (UINT64_MAX: unknown)
 *   | u64 eof bound | u16 message length | message | u32 HDU count
 *   | per HDU: u32 card count | cards (80 bytes each, the last one END)
 * Offsets and sizes are not stored: loading re-derives them from the cards
 * with the walk's own parser (HDU 0 at 0, each next one where the previous
 * ends), so a cached entry cannot disagree with what a walk would find.
 */
int astro_fits_walk_serialize(const struct astro_fits_walk *w, void **out, size_t *len)
{
	struct astro_buf b = { 0 };
	size_t msglen = strlen(w->msg);
	uint32_t i;

	astro_buf_put(&b, SER_MAGIC, 4);
	put_le(&b, SER_VERSION, 1);
	put_le(&b, (uint64_t)w->end, 1);
	put_le(&b, w->size, 8);
	put_le(&b, w->eof_bound, 8);
	put_le(&b, msglen, 2);
	astro_buf_put(&b, w->msg, msglen);
	put_le(&b, w->n, 4);
	for (i = 0; i < w->n; i++) {
		put_le(&b, w->hdus[i]->ncards, 4);
		astro_buf_put(&b, w->hdus[i]->cards, w->hdus[i]->ncards * ASTRO_FITS_CARD);
	}
	if (b.err) {
		free(b.p);
		return b.err;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

struct rbuf {
	const unsigned char *p;
	size_t len, pos;
};

static bool get_le(struct rbuf *r, unsigned width, uint64_t *v)
{
	unsigned i;

	if (r->len - r->pos < width)
		return false;
	*v = 0;
	for (i = 0; i < width; i++)
		*v |= (uint64_t)r->p[r->pos + i] << (8 * i);
	r->pos += width;
	return true;
}

static int load(struct astro_fits_walk *w, struct rbuf *r, char *why, size_t whylen)
{
	uint64_t ver, end, size, bound, msglen, nhdus, ncards, i, c;
	const unsigned char *cards;
	char err[192];
	int rc;

	if (r->len < 5 || memcmp(r->p, SER_MAGIC, 4) != 0)
		return astro_err_set(why, whylen, -EINVAL, "bad magic");
	r->pos = 4;
	if (!get_le(r, 1, &ver) || ver != SER_VERSION)
		return astro_err_set(why, whylen, -EINVAL, "unknown version");
	if (!get_le(r, 1, &end) || !get_le(r, 8, &size) || !get_le(r, 8, &bound) ||
	    !get_le(r, 2, &msglen) || msglen >= sizeof(w->msg) || r->len - r->pos < msglen)
		return astro_err_set(why, whylen, -EINVAL, "short or bad preamble");
	if (end > ASTRO_FITS_END_LIMIT)
		return astro_err_set(why, whylen, -EINVAL,
				     "end reason %llu unknown", (unsigned long long)end);
	for (i = 0; i < msglen; i++)
		if (r->p[r->pos + i] < 0x20 || r->p[r->pos + i] > 0x7e)
			return astro_err_set(why, whylen, -EINVAL, "message is not text");
	memcpy(w->msg, r->p + r->pos, msglen);
	w->msg[msglen] = '\0';
	r->pos += msglen;
	if ((end == ASTRO_FITS_END_DAMAGED || end == ASTRO_FITS_END_LIMIT) != (msglen > 0))
		return astro_err_set(why, whylen, -EINVAL, "message does not match end reason");
	if (size != ASTRO_FITS_SIZE_UNKNOWN && (size > INT64_MAX || bound < size))
		return astro_err_set(why, whylen, -EINVAL,
				     "size %llu inconsistent", (unsigned long long)size);
	w->size = size;
	w->eof_bound = bound;
	if (!get_le(r, 4, &nhdus) || nhdus > w->o.max_hdus)
		return astro_err_set(why, whylen, -EINVAL, "bad HDU count");
	for (i = 0; i < nhdus; i++) {
		if (!get_le(r, 4, &ncards) || ncards == 0 ||
		    ncards * ASTRO_FITS_CARD > w->o.max_header ||
		    r->len - r->pos < ncards * ASTRO_FITS_CARD)
			return astro_err_set(why, whylen, -EINVAL,
					     "HDU %llu: bad card count", (unsigned long long)i);
		cards = r->p + r->pos;
		r->pos += ncards * ASTRO_FITS_CARD;
		/* exactly what a walk would have kept: first card, one END last */
		if (memcmp(cards, i ? "XTENSION" : "SIMPLE  ", 8) != 0)
			return astro_err_set(why, whylen, -EINVAL,
					     "HDU %llu: bad first card", (unsigned long long)i);
		for (c = 0; c < ncards; c++)
			if (is_end_card(cards + c * ASTRO_FITS_CARD) != (c == ncards - 1))
				return astro_err_set(why, whylen, -EINVAL,
						     "HDU %llu: END misplaced", (unsigned long long)i);
		if (w->next_off >= object_limit(w))
			return astro_err_set(why, whylen, -EINVAL,
					     "HDU %llu starts past the object end", (unsigned long long)i);
		rc = add_hdu(w, w->next_off, cards, (size_t)ncards, NULL, 0, err, sizeof(err));
		if (rc == -ENOMEM)
			return rc;
		if (rc < 0)
			return astro_err_set(why, whylen, -EINVAL,
					     "HDU %llu: %s", (unsigned long long)i, err);
		if (w->hdus[i]->data_offset > object_limit(w))
			return astro_err_set(why, whylen, -EINVAL,
					     "HDU %llu header past the object end", (unsigned long long)i);
	}
	if (r->pos != r->len)
		return astro_err_set(why, whylen, -EINVAL, "%zu trailing bytes", r->len - r->pos);
	if (nhdus == 0 && end != ASTRO_FITS_END_NONE && end != ASTRO_FITS_END_DAMAGED)
		return astro_err_set(why, whylen, -EINVAL,
				     "no HDU but end reason %llu", (unsigned long long)end);
	if (end == ASTRO_FITS_END_NONE && w->next_off >= object_limit(w))
		return astro_err_set(why, whylen, -EINVAL, "walk open but at the object end");
	/* the end reason must be what a walk of this size would have said */
	if (size_known(w) &&
	    ((end == ASTRO_FITS_END_EOF && w->next_off != w->size) ||
	     (end == ASTRO_FITS_END_TRUNCATED && w->next_off <= w->size) ||
	     ((end == ASTRO_FITS_END_SHORT_TAIL || end == ASTRO_FITS_END_NUL_PADDING ||
	       end == ASTRO_FITS_END_JUNK) && w->next_off >= w->size)))
		return astro_err_set(why, whylen, -EINVAL, "end reason %llu does not fit size %llu",
				     (unsigned long long)end, (unsigned long long)w->size);
	if (end == ASTRO_FITS_END_TRUNCATED && !size_known(w))
		return astro_err_set(why, whylen, -EINVAL, "truncation without a known size");
	w->end = (enum astro_fits_end)end;
	set_truncation_flags(w);
	return 0;
}

int astro_fits_walk_deserialize(const struct astro_fits_walk_opts *opts, const void *buf,
				size_t len, struct astro_fits_walk **out)
{
	struct astro_fits_walk *w;
	struct rbuf r = { buf, len, 0 };
	char why[256] = "";
	bool quiet;
	int rc;

	*out = NULL;
	rc = astro_fits_walk_new(opts, ASTRO_FITS_SIZE_UNKNOWN, &w);
	if (rc < 0)
		return rc;
	/* the cards were checked (and warned about) when first walked */
	quiet = w->o.quiet;
	w->o.quiet = true;
	rc = load(w, &r, why, sizeof(why));
	w->o.quiet = quiet;
	if (rc < 0) {
		if (rc == -EINVAL)
			wlog(w, LOG_WARNING, "cached walk state refused: %s", why);
		astro_fits_walk_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

/* ---- output formats ----------------------------------------------------- */

uint64_t astro_fits_walk_header_text_size(const struct astro_fits_hdu *h)
{
	return (uint64_t)h->ncards * (ASTRO_FITS_CARD + 1);
}

size_t astro_fits_walk_header_text_read(const struct astro_fits_hdu *h, uint64_t off, char *buf,
					size_t len)
{
	uint64_t total = astro_fits_walk_header_text_size(h);
	size_t done = 0;

	while (done < len && off < total) {
		uint64_t card = off / (ASTRO_FITS_CARD + 1);
		size_t col = (size_t)(off % (ASTRO_FITS_CARD + 1)), n;

		if (col == ASTRO_FITS_CARD) {
			buf[done++] = '\n';
			off++;
			continue;
		}
		n = ASTRO_FITS_CARD - col;
		if (n > len - done)
			n = len - done;
		memcpy(buf + done, h->cards + card * ASTRO_FITS_CARD + col, n);
		done += n;
		off += n;
	}
	return done;
}

static void csv_field(FILE *f, const char *s)
{
	const char *p;
	bool quote = strpbrk(s, ",\"\r\n") != NULL;

	if (quote)
		fputc('"', f);
	for (p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"')
			fputs("\"\"", f);
		else if (c < 0x20 || c > 0x7e)
			fputc('?', f);
		else
			fputc(c, f);
	}
	if (quote)
		fputc('"', f);
}

int astro_fits_walk_hdus_csv(const struct astro_fits_walk *w, char **out, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	uint32_t i;

	if (!f)
		return -ENOMEM;
	fputs("index,xtension,extname,extver,bitpix,naxis,header_offset,header_bytes,data_offset,data_bytes\n",
	      f);
	for (i = 0; i < w->n; i++) {
		const struct astro_fits_hdu *h = w->hdus[i];

		fprintf(f, "%u,", h->index);
		csv_field(f, h->xtension);
		fputc(',', f);
		if (h->flags & ASTRO_FITS_HDU_HAS_EXTNAME)
			csv_field(f, h->extname);
		fputc(',', f);
		if (h->flags & ASTRO_FITS_HDU_HAS_EXTVER)
			fprintf(f, "%lld", (long long)h->extver);
		fprintf(f, ",%d,%d,%llu,%llu,%llu,%llu\n", h->bitpix, h->naxis,
			(unsigned long long)h->header_offset, (unsigned long long)h->header_bytes,
			(unsigned long long)h->data_offset, (unsigned long long)h->data_bytes);
	}
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*len = n;
	return 0;
}

/* tlm_npy.c — NumPy .npy headers (see tlm_npy.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "tlm_npy.h"

size_t astro_tlm_npy_record_size(const struct astro_tlm_npy_field *f, size_t nf)
{
	size_t n = 0;

	for (size_t i = 0; i < nf; i++)
		n += f[i].type == ASTRO_TLM_NPY_S ? f[i].width : 8;
	return n;
}

/* The length of a well-formed UTF-8 sequence at s (and its code point), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c, min;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
	if (len > n)
		return 0;
	c = s[0] & (0x7f >> len);
	for (size_t k = 1; k < len; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[k] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* s as the body of a single-quoted Python 3 str literal, ASCII only. */
static void py_escape(struct astro_buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k;

		if (u[i] == '\'' || u[i] == '\\') {
			char e[2] = {'\\', (char)u[i]};

			astro_buf_put(b, e, 2);
			i++;
		} else if (u[i] >= 0x20 && u[i] < 0x7f) {
			astro_buf_put(b, &s[i], 1);
			i++;
		} else if (u[i] >= 0x80 && (k = utf8_seq(u + i, n - i, &cp))) {
			astro_buf_printf(b, cp > 0xffff ? "\\U%08x" : "\\u%04x", (unsigned)cp);
			i += k;
		} else {
			astro_buf_printf(b, "\\x%02x", u[i]);
			i++;
		}
	}
}

int astro_tlm_npy_header(struct astro_buf *b, const struct astro_tlm_npy_field *f,
			 size_t nf, uint64_t rows)
{
	struct astro_buf d = {0};
	size_t start = b->len, total;
	unsigned char pre[12] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
	size_t prelen;
	int rc = 0;

	if (nf == 0)
		return -EINVAL;
	astro_buf_str(&d, "{'descr': [");
	for (size_t i = 0; i < nf; i++) {
		astro_buf_str(&d, i ? ", ('" : "('");
		py_escape(&d, f[i].prefix, strlen(f[i].prefix));
		py_escape(&d, f[i].text, f[i].tlen);
		if (f[i].type == ASTRO_TLM_NPY_S)
			astro_buf_printf(&d, "', '|S%u')", (unsigned)(f[i].width ? f[i].width : 1));
		else
			astro_buf_str(&d, f[i].type == ASTRO_TLM_NPY_I8 ? "', '<i8')" : "', '<f8')");
	}
	astro_buf_printf(&d, "], 'fortran_order': False, 'shape': (%llu,), }",
			 (unsigned long long)rows);
	if (d.err) {
		rc = -ENOMEM;
		goto out;
	}
	/* version 1.0 has a 16-bit header length, 2.0 a 32-bit one */
	prelen = d.len + 1 + 10 <= 65535 ? 10 : 12;
	total = (prelen + d.len + 1 + 63) / 64 * 64;
	if (total - prelen > UINT32_MAX) {
		rc = -EINVAL;
		goto out;
	}
	pre[6] = prelen == 10 ? 1 : 2;
	for (size_t k = 0; k < prelen - 8; k++)
		pre[8 + k] = (unsigned char)((total - prelen) >> (8 * k));
	astro_buf_put(b, pre, prelen);
	astro_buf_put(b, d.p, d.len);
	while (b->len - start < total - 1 && !b->err)
		astro_buf_put(b, " ", 1);
	astro_buf_put(b, "\n", 1);
	rc = b->err ? -ENOMEM : 0;
out:
	free(d.p);
	return rc;
}

/*
 * fuzz_s3xml — S3 and Azure XML bodies: the first byte picks the document kind and
 * the chunk size, the rest is fed in chunks; one-shot and streaming must
 * agree on success or failure.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "services/s3xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum astro_s3xml_kind kind;
	struct astro_s3_list l1, l2;
	struct astro_s3_error e1, e2;
	struct astro_s3xml *p;
	size_t chunk, i;
	char msg[256];
	int rc1, rc2 = 0;

	if (size < 1)
		return 0;
	memset(&l1, 0, sizeof(l1));
	memset(&e1, 0, sizeof(e1));
	/* Low bit as before (list or error); 0x80 with an even byte: an
	 * Azure listing, so the existing seeds keep their meaning. */
	kind = (data[0] & 1) ? ASTRO_S3XML_ERROR :
	       (data[0] & 0x80) ? ASTRO_S3XML_AZLIST : ASTRO_S3XML_LIST;
	chunk = (size_t)((data[0] & 0x7f) >> 1) + 1;
	data++;
	size--;
	if (kind == ASTRO_S3XML_LIST)
		rc1 = astro_s3xml_parse_list((const char *)data, size, &l1, msg, sizeof(msg));
	else if (kind == ASTRO_S3XML_AZLIST)
		rc1 = astro_s3xml_parse_azlist((const char *)data, size, &l1, msg, sizeof(msg));
	else
		rc1 = astro_s3xml_parse_error((const char *)data, size, &e1, msg, sizeof(msg));

	p = astro_s3xml_new(kind);
	if (!p)
		abort();
	memset(&l2, 0, sizeof(l2));
	memset(&e2, 0, sizeof(e2));
	for (i = 0; i < size && rc2 == 0; i += chunk)
		rc2 = astro_s3xml_feed(p, (const char *)data + i, size - i < chunk ? size - i : chunk);
	if (rc2 == 0)
		rc2 = astro_s3xml_finish(p, &l2, &e2);
	astro_s3xml_free(p);
	if ((rc1 == 0) != (rc2 == 0))
		abort();
	if (rc1 == 0 && kind != ASTRO_S3XML_ERROR &&
	    (l1.nobjects != l2.nobjects || l1.nprefixes != l2.nprefixes ||
	     (l1.nobjects && strcmp(l1.objects[0].key, l2.objects[0].key) != 0)))
		abort();
	if (rc1 == 0 && kind == ASTRO_S3XML_ERROR && strcmp(e1.code, e2.code) != 0)
		abort();
	astro_s3xml_list_free(&l1);
	astro_s3xml_list_free(&l2);
	astro_s3xml_error_free(&e1);
	astro_s3xml_error_free(&e2);
	if (rc1 == 0 && kind == ASTRO_S3XML_ERROR)
		(void)astro_s3xml_errno(e1.code, 403, NULL);
	return 0;
}

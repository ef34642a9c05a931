/*
 * fuzz_httpd_headers — the request-header parsers of file answers (Range,
 * If-None-Match, Accept-Encoding).  The first byte picks the parser and,
 * for Range, the body size; the rest is the header value.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "services/httpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t sizes[] = { 0, 1, 100, 3000, UINT64_MAX / 2 };
	char *v;
	uint64_t from = 7, to = 7, n;
	int rc;

	if (size < 1)
		return 0;
	v = malloc(size);
	if (!v)
		return 0;
	memcpy(v, data + 1, size - 1);
	v[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0:
		n = sizes[(data[0] / 3) % 5];
		rc = astro_httpd_parse_range(v, n, &from, &to);
		if (rc < -1 || rc > 1 || (rc == 1 && (from > to || to >= n)))
			abort();
		break;
	case 1:
		rc = astro_httpd_etag_listed(v, "\"1.2.abc.10\"");
		if (rc != 0 && rc != 1)
			abort();
		/* a list that is exactly the tag always matches */
		if (!astro_httpd_etag_listed("\"1.2.abc.10\"", "\"1.2.abc.10\""))
			abort();
		break;
	default:
		rc = astro_httpd_wants_gzip(v);
		if (rc != 0 && rc != 1)
			abort();
		break;
	}
	free(v);
	return 0;
}

/* stday.c — see stday.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/astro.h"
#include "core/log.h"
#include "services/stday.h"

void astro_stday_key(char *buf, size_t n, const char *kind, int64_t day_unix)
{
	int64_t y;
	unsigned m, d;

	astro_civil_from_days(day_unix / 86400, &y, &m, &d);
	snprintf(buf, n, "v1/%s/%04lld-%02u-%02u", kind, (long long)y, m, d);
}

int astro_stday_settled(const struct astro_config *cfg, int64_t day_unix,
			const struct astro_cache_meta *m)
{
	return m->fetched_ms / 1000 - (day_unix + 86400) > (int64_t)cfg->tle_final_after;
}

/* Length of the tle rendering of a 3le body: every name line dropped. */
static size_t tle_len_of(const char *b, size_t len)
{
	size_t out = 0, pos = 0;
	int line = 0;

	while (pos < len) {
		const char *nl = memchr(b + pos, '\n', len - pos);
		size_t ll = (nl ? (size_t)(nl - (b + pos)) + 1 : len - pos);

		if (line % 3 != 0)
			out += ll;
		line++;
		pos += ll;
	}
	return out;
}

void astro_stday_store(struct astro_cache *cache, const struct astro_config *cfg,
		       int64_t now_unix, int64_t day_unix, const char *body, size_t len,
		       size_t nsets)
{
	struct astro_cache_meta m = { .fetched_ms = astro_now_ms() };
	char key[32], idx[96];

	if (!cache)
		return;
	m.ttl_s = cfg->tle_ttl;
	if (now_unix - (day_unix + 86400) > (int64_t)cfg->tle_final_after)
		m.flags |= ASTRO_CACHE_FINAL;
	astro_stday_key(key, sizeof(key), "day", day_unix);
	if (astro_cache_put(cache, ASTRO_STDAY_DB, key, strlen(key), &m, body, len) != 0)
		return;
	snprintf(idx, sizeof(idx), "3le=%zu tle=%zu sets=%zu\n", len, tle_len_of(body, len), nsets);
	astro_stday_key(key, sizeof(key), "idx", day_unix);
	astro_cache_put(cache, ASTRO_STDAY_DB, key, strlen(key), &m, idx, strlen(idx));
}

int astro_stday_get(struct astro_spacetrack *st, struct astro_cache *cache,
		    const struct astro_config *cfg, int64_t day_unix, int64_t deadline_ms,
		    char **body, size_t *len, int *fetched)
{
	struct astro_cache_meta m;
	char key[32], *old = NULL;
	size_t nsets = 0;
	int rc;

	*body = NULL;
	*len = 0;
	if (fetched)
		*fetched = 0;
	astro_stday_key(key, sizeof(key), "day", day_unix);
	if (cache && astro_cache_get(cache, ASTRO_STDAY_DB, key, strlen(key), &m, (void **)&old) == 0) {
		if (astro_stday_settled(cfg, day_unix, &m) || cfg->offline ||
		    astro_now_ms() < m.fetched_ms + (int64_t)cfg->tle_ttl * 1000) {
			*body = old;
			*len = (size_t)m.len;
			return 0;
		}
	}
	if (!st) {
		rc = -ENETDOWN;
	} else {
		if (fetched)
			*fetched = 1;
		rc = astro_st_fetch_day(st, day_unix, deadline_ms, body, len, &nsets);
	}
	if (rc == 0) {
		astro_stday_store(cache, cfg, (int64_t)time(NULL), day_unix, *body, *len, nsets);
		free(old);
		return 0;
	}
	if (old) {
		astro_warn("spacetrack: day refresh failed (%s); the older copy serves", strerror(-rc));
		*body = old;
		*len = (size_t)m.len;
		return 0;
	}
	return rc;
}

/*
 * stats.h — named counters behind /.astrofs/stats.
 *
 * Counters are dotted names ("spacetrack.requests", "s3.bytes"); the part
 * before the first dot is the service and becomes a JSON object.  Adding is
 * lock-free after the first use of a name.  Modules with richer state (the
 * rate limiter, the cache) register a section callback that adds its own
 * JSON object.
 */
#ifndef ASTRO_STATS_H
#define ASTRO_STATS_H

#include <stdint.h>
#include <jansson.h>

void astro_stats_add(const char *name, int64_t delta);
#define astro_stats_inc(name) astro_stats_add((name), 1)
int64_t astro_stats_get(const char *name);

typedef void (*astro_stats_section_fn)(json_t *obj, void *arg);
void astro_stats_register(const char *section, astro_stats_section_fn fn,
			  void *arg);
void astro_stats_unregister(const char *section);

/* The whole set as pretty JSON text ending in "\n"; malloc'd. */
char *astro_stats_json(void);

#endif

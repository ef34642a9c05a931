/*
 * obs_sites.h — the sites file (SPEC section 6).
 *
 * The observatory simulator's YAML: a top-level `Sites:` mapping from site
 * key to a mapping of scalar fields (`name`, `country`, `tz`, `lat`, `lng`,
 * `elevation`, …).  The keys name the site directories and store entries, so
 * they must be 1-63 characters of [A-Za-z0-9_-]; lat must lie in [-90,90],
 * lng in [-180,360), elevation be a number, when present.  `indi:
 * HOST:PORT` makes the site an INDI site (astrofs-obssim drives that
 * server's devices; `indi_telescope` and `indi_ccd` name them, else the
 * first the server announces); the port must be 1-65535.  Other fields are
 * kept as strings.  Unlike the simulator (which swallows parse errors into
 * an empty network) every problem fails the load with a message naming the
 * file line and what was wrong.  Read with libyaml's document API.
 *
 * Thread-safety: a loaded set is immutable; free it once.
 */
#ifndef ASTRO_OBS_SITES_H
#define ASTRO_OBS_SITES_H

#include <stdbool.h>
#include <stddef.h>

#define ASTRO_OBS_SITE_KEY_MAX 63
#define ASTRO_OBS_SITES_MAX 256

struct astro_obs_site {
	char key[ASTRO_OBS_SITE_KEY_MAX + 1];
	char *name;		/* NULL when absent */
	bool has_lat, has_lng, has_elevation;
	double lat, lng, elevation;
	char *info_json;	/* every field, numbers typed; ends in "\n" */
	char *indi_host;	/* NULL: a simulated site */
	unsigned indi_port;
	char *indi_telescope, *indi_ccd;	/* NULL: the first announced */
};

struct astro_obs_sites {
	size_t n;
	struct astro_obs_site *v;	/* in file order */
};

/* Parse a buffer; `what` names it in messages (a path).  0 or -EINVAL. */
int astro_obs_sites_parse(const char *buf, size_t len, const char *what,
			  struct astro_obs_sites *out, char *err, size_t errlen);
/* Read and parse a file; -errno from open/read as well. */
int astro_obs_sites_load(const char *path, struct astro_obs_sites *out,
			 char *err, size_t errlen);
void astro_obs_sites_free(struct astro_obs_sites *s);

/* The site with that key, or NULL. */
const struct astro_obs_site *astro_obs_sites_find(const struct astro_obs_sites *s,
						  const char *key);

/* True if key is a valid site key (see above). */
bool astro_obs_sites_key_valid(const char *key, size_t len);

#endif

/*
 * services.h — the shared services a mount hands to its trees.
 *
 * Built once by the daemon after daemonizing (LMDB and curl do not survive
 * fork) and passed as astro_ctx.services.  Any member may be NULL (offline,
 * not configured, unit tests); trees must cope.
 */
#ifndef ASTRO_SERVICES_H
#define ASTRO_SERVICES_H

#include "services/limiter.h"
#include "services/spacetrack.h"

struct astro_services {
	struct astro_spacetrack *spacetrack;
	struct astro_limiter *spacetrack_limiter;
	int64_t mount_time;		/* Unix seconds */
	const char *fuse_version;	/* libfuse's, for /.astrofs/version */
};

#endif

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
#include "services/s3.h"
#include "services/shared.h"
#include "services/spacetrack.h"

struct astro_services {
	struct astro_spacetrack *spacetrack;
	struct astro_limiter *spacetrack_limiter;
	/* The S3 object client /fits reads buckets with (borrowed, not freed
	 * by the tree); NULL: /fits makes the real one from the config.  Unit
	 * tests put an in-memory or fault-injecting store here. */
	struct astro_s3 *s3;
	/* The fleet tier (shared_cache), NULL when off: TLE days and FITS
	 * header indexes shared by every machine naming it. */
	struct astro_shared *shared;
	int64_t mount_time;		/* Unix seconds */
	const char *fuse_version;	/* libfuse's, for /.astrofs/version */
};

#endif

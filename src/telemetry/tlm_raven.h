/*
 * tlm_raven.h — RAVEN's v1 web API (spacetelescope/RAVEN, the JETA front
 * end) over the archive, for its existing clients, without its bugs.
 * Every route is GET, answers JSON of RAVEN's shapes and names, and takes
 * times in any form the tree's paths accept (YYYY:DDD[:hh:mm:ss.sss], ISO
 * 8601 UTC, ...), ranges half-open [start, stop):
 *
 *   /api/v1/fetch?mnemonic&start_of_ydoy&end_of_ydoy
 *       [{"levelOfDetail", "mnemonic", "length", "minValue", "maxValue",
 *         "startTime", "endTime", "x": [ISO UTC times], "y": [values]}]
 *       good samples; more than ASTRO_TLM_RAVEN_MAX_POINTS are reduced to
 *       the min and the max of each of MAX_POINTS/2 equal-count buckets, in
 *       time order (RAVEN keeps every n-th sample and loses spikes);
 *       levelOfDetail is the samples per bucket (1: every sample), "samples"
 *       the count before reduction.  Missing dates default to the archive's
 *       whole span (RAVEN errors on a missing start).
 *   /api/v1/fetch/date-range?mnemonic     {"date_range": [first, last]}
 *   /api/v1/fetch/stats?msid&tstart&tstop&interval=5min|daily
 *       {"stats": {"indexes", "times", "values", "mins", "maxes", "means",
 *       "midvals"}}: bins whose middle is in the range; "means" are the
 *       time-weighted means (RAVEN sends the maxes), "values" the means as
 *       cheta's vals; state MSIDs have null mins/maxes/means.
 *   /api/v1/fetch/msid/download?msid&interval=full|5min|daily&tstart&tstop
 *       the tree's CSV of that range (any length: RAVEN refuses more than
 *       1,048,576 rows), as attachment <msid>_<unixnow>_<interval>.csv
 *   /api/v1/archive/status/msid/count     {"count": N}
 *   /api/v1/archive/status/msid/names     {"msids": [names]}
 *   /api/v1/archive/status/ingest/history {"ingest_history": [ledger rows]}
 *   /api/v1/info   {"status": "UP", "info": {"telemetry_archive", "generation", "msids"}}
 *
 * "mnemonic" and "msid" are accepted for each other.  Errors: unknown MSID
 * 404, bad time or interval 400, JSON {"error": ...}.
 */
#ifndef ASTRO_TLM_RAVEN_H
#define ASTRO_TLM_RAVEN_H

#include <stddef.h>
#include "services/httpd.h"
#include "tlm_archive.h"

#define ASTRO_TLM_RAVEN_MAX_POINTS 50000

/*
 * Answer `route` (the path after "/api/v1/").  0 with *ans filled; 1 when
 * the answer is the tree's file `file` (download: ans->disposition set, the
 * caller serves it); -ENOMEM.
 */
int astro_tlm_raven_answer(struct astro_tlm_archive *a, const char *archive_dir,
			   const struct astro_httpd_req *req, const char *route,
			   struct astro_httpd_answer *ans, char *file, size_t filelen);

#endif

/*
 * prov_telemetry.h — the /telemetry tree (SPEC section 4) over tlm_archive.
 *
 *   INDEX.csv                 msid,unit,type,samples,first,last
 *   BAD_TIMES                 the stored table, cheta text format
 *   .ingest/ledger.csv        name,sha256,tstart,tstop,rows,ingest_id,committed_at
 *   <MSID>.csv                date,secs,value — whole archive, good data only
 *   <MSID>.5min.csv           date,secs,index,samples,min,max,mean,midval
 *   <MSID>.daily.csv          … plus std,p01,p05,p16,p50,p84,p95,p99
 *   <MSID>/YYYY/DDD.csv       one UTC day of <MSID>.csv
 *   <MSID>.svg                plot of the good samples (min/max per pixel
 *                             column, so spikes survive); numeric MSIDs only
 *   <MSID>@<start>..<stop>[.5min|.daily].csv|.svg   looked up, not listed
 *   … .npy                    every CSV above as NumPy .npy (tlm_npy.h): the
 *                             CSV's columns less date, fixed-size records,
 *                             so size = header + rows × record
 *
 * State MSIDs: stats columns are date,secs,index,samples,midval and one
 * n_<STATE> per state seen in the file's range.  Stats rows of a range file
 * are the bins whose middle lies in [start, stop) (cheta's rule).  Every
 * bin with at least one good sample is shown, the newest one too even while
 * it may still grow.
 *
 * Snapshots: open() pins one archive read transaction until release(), so a
 * file's size and bytes never change under a reader while ingest commits.
 * st_size is exact: getattr renders (counting only) against the current
 * snapshot and caches the size per path and archive generation; open()
 * renders its own count on its own snapshot and keeps a sparse index (every
 * 512 rows) so a read at any offset costs one seek plus at most 512 rows.
 * st_mtime of MSID files is the last commit that touched that MSID.  An
 * open at another version than the path's previous open invalidates what
 * the kernel holds of it, so reads are never cut at an older size.
 *
 * Errors: unknown MSID or path ENOENT; an unparsable or reversed range
 * EINVAL; an empty range gives the header only; every file is read-only
 * (no write method: EROFS/EACCES from the FUSE layer).
 */
#ifndef ASTRO_PROV_TELEMETRY_H
#define ASTRO_PROV_TELEMETRY_H

#include "core/provider.h"

/* The archive behind a provider instance (for the staging watcher and tests). */
struct astro_tlm_archive *astro_prov_telemetry_archive(void *priv);

/*
 * What the HTTP listener (tlm_http.h) says of an open file: its size and
 * mtime, a strong ETag naming its content version (the MSID's last commit
 * and BAD_TIMES generation, the range the path resolved to, the size: the
 * same tag means the same bytes), and whether it is closed — a range or day
 * that ended more than a day ago, which shared caches may keep forever.
 * 0 or -errno.
 */
struct astro_prov_telemetry_info {
	uint64_t size;
	int64_t mtime;
	char etag[72];
	int closed;
};
int astro_prov_telemetry_file_info(void *priv, const struct astro_file *f,
				   struct astro_prov_telemetry_info *out);

/*
 * getattr of path, and for a file what file_info would say of an open of it
 * now (the same ETag), without opening it: what the listener's directory
 * listings carry per entry.  -EOPNOTSUPP on an archive_url mount.
 */
int astro_prov_telemetry_stat(void *priv, const char *path, struct astro_attr *a,
			      struct astro_prov_telemetry_info *info);

#endif

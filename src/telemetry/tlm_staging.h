/*
 * tlm_staging.h — the staging_dir watcher: telemetry files dropped into a
 * directory are ingested by the daemon.
 *
 * A pass looks at the regular files directly in the directory.  Only stable,
 * closed files are taken: names starting with '.' or ending in .tmp/.part
 * are in-progress uploads (write then rename into place), and a file must be
 * unmodified for `min_age` seconds with the same size and mtime before and
 * after it was read.  Each file is one archive transaction; then:
 *   stored or already present → moved to done/<name>
 *   rejected (bad content, same name other content) → moved to
 *     rejected/<name>, with rejected/<name>.reason holding the message
 *   archive failure (I/O, full map) → left in place for the next pass.
 * One process at a time works a directory (flock on .astrofs-staging.lock);
 * a pass that cannot take the lock does nothing.
 *
 * Thread-safety: a pass may run on any thread; the watcher thread runs
 * passes every `interval_ms` until stopped.
 */
#ifndef ASTRO_TLM_STAGING_H
#define ASTRO_TLM_STAGING_H

#include <stdint.h>
#include "tlm_archive.h"

struct astro_tlm_staging_counts {
	unsigned ingested, skipped, rejected, deferred, failed;
};

/* One pass; -errno only when the directory itself cannot be used. */
int astro_tlm_staging_pass(struct astro_tlm_archive *a, const char *dir,
			   unsigned min_age, struct astro_tlm_staging_counts *c);

struct astro_tlm_watcher;
int astro_tlm_staging_start(struct astro_tlm_archive *a, const char *dir,
			    unsigned min_age, unsigned interval_ms,
			    struct astro_tlm_watcher **w);
/* Stops promptly (waits for a pass in progress) and frees w. */
void astro_tlm_staging_stop(struct astro_tlm_watcher *w);

#endif

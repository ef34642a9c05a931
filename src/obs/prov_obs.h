/*
 * prov_obs.h — the /obs tree (SPEC section 6), on the obs store.
 *
 *   README                     the command grammar and file semantics
 *   sites                      "<site>\t<age_s|->\t<fresh|aging|stale|never>\n" per site
 *   <site>/info                the site's block of the sites file, as JSON
 *   <site>/command             transaction file: write lines, read "ok <id> <verb>" /
 *                              "err line <n>: <reason>" on the same handle
 *   <site>/jobs/<id>           job record JSON (regenerated at open)
 *   <site>/status              JSON snapshot taken at open: record, devices,
 *                              age_s, age, freshness, clock_skew_suspect, and
 *                              stale_reason when the record says the site has
 *                              lost its devices (indi_connected or
 *                              indi_responsive "False": stale at once)
 *   <site>/images/<name>.jpg   complete images only; latest -> the newest
 *
 * sites and status move with the clock: getattr reports the exact size of
 * the text as of now and an mtime that changes only when the text does; an
 * open handle serves its own snapshot, except that a read from offset 0
 * takes the current version (tail after a truncation, less reloading).
 *
 * Configuration: obs_config (the sites file; without it the tree holds only
 * README) and obs_store (the local store directory, shared with
 * astrofs-obssim; default as in SPEC section 1).
 *
 * command: a write parses every complete line; if any is invalid the write
 * fails with EINVAL and nothing of it is queued (the reasons are readable on
 * the handle, at most ASTRO_OBS_ERR_SHOWN of them and a count).  A write
 * with more commands than obs_max_pending, or one that would leave more
 * than that waiting for the site, fails with EDQUOT, also queuing nothing.
 * A last line without a newline is kept per handle and queued at the next
 * write that completes it, at the first read, or at close.  Reads ignore
 * the offset and return the replies not yet read; while more than
 * ASTRO_OBS_REPLY_MAX bytes of them are unread, a new write fails with
 * ENOBUFS, so the replies of one handle stay bounded (that, plus one
 * write's replies).
 *
 * "One write" is one write(2).  The kernel hands a write(2) larger than
 * ASTRO_WRITE_PIECE to the filesystem in pieces at consecutive offsets,
 * each but the last filling a request; the handle parses each piece as it
 * comes and queues the whole write(2) at its last piece, at the next read,
 * or at close (whichever comes first), with line numbers counted from the
 * start of the write(2).  A piece with an invalid line fails at once and
 * the write queues nothing; when it was not the first piece the kernel
 * reports a short write, and the retry of the rest (or the next write on
 * the handle, unless it is read first) fails with the same errno.  A write
 * whose last piece fills a request exactly is queued at the next read or
 * close; a write(2) that follows it before either counts as its
 * continuation.
 *
 * Thread-safety: as provider.h requires; command handles carry a lock.
 */
#ifndef ASTRO_PROV_OBS_H
#define ASTRO_PROV_OBS_H

#include "core/provider.h"

#define ASTRO_OBS_AGING_AFTER_S 300	/* ptr_ui: yellow after 5 min */
#define ASTRO_OBS_STALE_AFTER_S 600	/* red after 10 min */
#define ASTRO_OBS_SKEW_TOLERANCE_S 2
#define ASTRO_OBS_REPLY_MAX (64u << 10)	/* unread command replies before ENOBUFS */	/* a status "from the future" beyond this is suspect */

/* Override the freshness thresholds (seconds) of an initialised tree. */
void astro_prov_obs_set_freshness(void *priv, unsigned aging_after_s,
				  unsigned stale_after_s);

#endif

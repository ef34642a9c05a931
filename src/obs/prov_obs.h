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
 *                              age_s, age, freshness, clock_skew_suspect
 *   <site>/images/<name>.jpg   complete images only; latest -> the newest
 *
 * Configuration: obs_config (the sites file; without it the tree holds only
 * README) and obs_store (the local store directory, shared with
 * astrofs-obssim; default as in SPEC section 1).
 *
 * command: a write parses every complete line; if any is invalid the write
 * fails with EINVAL and nothing of it is queued (the reasons are readable on
 * the handle).  A last line without a newline is kept per handle and queued
 * at the next write that completes it, at the first read, or at release.
 * Reads ignore the offset and return the replies not yet read.
 *
 * Thread-safety: as provider.h requires; command handles carry a lock.
 */
#ifndef ASTRO_PROV_OBS_H
#define ASTRO_PROV_OBS_H

#include "core/provider.h"

#define ASTRO_OBS_AGING_AFTER_S 300	/* ptr_ui: yellow after 5 min */
#define ASTRO_OBS_STALE_AFTER_S 600	/* red after 10 min */
#define ASTRO_OBS_SKEW_TOLERANCE_S 2	/* a status "from the future" beyond this is suspect */

/* Override the freshness thresholds (seconds) of an initialised tree. */
void astro_prov_obs_set_freshness(void *priv, unsigned aging_after_s,
				  unsigned stale_after_s);

#endif

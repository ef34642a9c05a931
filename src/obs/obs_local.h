/*
 * obs_local.h — the `local` /obs store backend: everything under one
 * directory, with no network.
 *   <dir>/db/             an LMDB environment, named databases
 *                           queue    "<site>/<class>/<id>" -> ""  (class 0 = urgent: stop, cancel)
 *                           jobs     "<site>/<id>"         -> job record JSON
 *                           status   "<site>"              -> status JSON as published
 *                           images   "<site>/<name>"       -> {"size","mtime_ms","seq"}
 *                           counters "<site>/<name>"       -> uint64 little-endian
 *   <dir>/images/<site>/  the image files
 * The filesystem and the simulator open the same directory; LMDB's own
 * locking makes that safe between processes, and each operation is one
 * transaction, so a killed process never leaves a half-queued command:
 * enqueue (cancel resolution included) and receive+RECEIVED are atomic,
 * and the pending cap is checked inside the enqueue's transaction.
 *
 * Images are written to a temporary file, fsynced and renamed before they
 * enter the index, so the index (and any listing built from it) only names
 * complete images.
 */
#ifndef ASTRO_OBS_LOCAL_H
#define ASTRO_OBS_LOCAL_H

#include "obs_store.h"

/* Modes the local backend creates its directories and files with: the
 * store holds other users' commands and images (README, astrofs(8)). */
#define ASTRO_OBS_STORE_DIR_MODE 0750
#define ASTRO_OBS_STORE_FILE_MODE 0640

/* Open (creating as needed) the local backend under dir. */
int astro_obs_local_open(const char *dir, struct astro_obs_store **out);

#endif

/*
 * fs.h — the FUSE layer: routes each path to the provider of its tree.
 *
 * It uses libfuse's high-level (path) API: every tree is path-addressed, so
 * an inode table of our own would buy nothing, and slow upstream reads are
 * kept from freezing the mount by the worker cap (max_threads) and by every
 * operation being bounded by `timeout` as a whole: each runs in an op
 * context (op.h) whose deadline every request and wait below it honours.
 * Ctrl-C of a reader reaches those waits through fuse_interrupted(), and
 * libfuse's interrupt signal (ASTRO_FS_INTR_SIGNAL) wakes the worker at
 * once when astro_fs_intr_init() has installed its handler.
 */
#ifndef ASTRO_FS_H
#define ASTRO_FS_H

#include "core/provider.h"
#include <signal.h>

struct astro_fs;
struct fuse_operations;

/* The signal libfuse sends a worker whose request was interrupted. */
#define ASTRO_FS_INTR_SIGNAL SIGUSR1

/*
 * Install the (empty) handler of ASTRO_FS_INTR_SIGNAL, before the session
 * loop starts; without it libfuse is not asked to signal workers, since
 * the signal's default action would end the daemon.  0 or -errno.
 */
int astro_fs_intr_init(void);

/* Initialise every compiled-in provider.  A tree that cannot start is
 * logged, left out of the root listing, and answers EIO for every path in
 * it; the others serve.  0 or -ENOMEM. */
int astro_fs_create(struct astro_fs **out, const struct astro_ctx *ctx);
void astro_fs_destroy(struct astro_fs *fs);

/* The operations table; private_data must be the astro_fs. */
const struct fuse_operations *astro_fs_operations(void);

#endif

/*
 * fs.h — the FUSE layer: routes each path to the provider of its tree.
 *
 * It uses libfuse's high-level (path) API: every tree is path-addressed, so
 * an inode table of our own would buy nothing, and slow upstream reads are
 * kept from freezing the mount by the worker cap (max_threads) and by every
 * provider call being bounded by `timeout`.  Ctrl-C reaches transfers through
 * fuse_interrupted() (the `intr` option is set), which the HTTP layer polls.
 */
#ifndef ASTRO_FS_H
#define ASTRO_FS_H

#include "core/provider.h"

struct astro_fs;
struct fuse_operations;

/* Initialise every compiled-in provider.  A tree that cannot start is
 * logged and answers EIO; the others serve.  0 or -ENOMEM. */
int astro_fs_create(struct astro_fs **out, const struct astro_ctx *ctx);
void astro_fs_destroy(struct astro_fs *fs);

/* The operations table; private_data must be the astro_fs. */
const struct fuse_operations *astro_fs_operations(void);

#endif

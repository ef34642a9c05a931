/*
 * provider.h — the one interface between the FUSE layer and a tree.
 *
 * The FUSE layer (fs.c) owns no tree logic: it splits a path into its first
 * component, finds the provider registered under that name ("tle", "fits",
 * "telemetry", "satfilter", "obs", ".astrofs") and hands the rest of the path
 * to it.  Providers never see FUSE types, so each is testable without a mount
 * by calling these functions directly (see tests/unit/).
 *
 * Paths passed to a provider are relative to its root, without a leading
 * slash: "" is the root itself, "2001/01/01.tle" a file below it.  The root of
 * a provider is a directory, except for a tree that is a single file
 * (/satfilter): its getattr("") says ASTRO_FILE and open/read/write get "".
 *
 * priv: what init stored.  A tree whose init failed is never called again
 * (fs.c answers EIO for every path in it and leaves it out of the root
 * listing), so every function below but init gets the non-NULL priv of a
 * started tree; providers assert(priv) on entry rather than test it.
 * destroy is called once per started tree, after the last call.
 *
 * Threads: every function may be called concurrently from FUSE worker
 * threads (up to `max_threads` at once).  Providers protect their own state.
 *
 * Return values: 0 (or a byte count for read/write) on success, -errno on
 * failure.  Every call must return within the mount's `timeout` plus a
 * little: fs.c runs each call in an operation context (op.h) whose
 * deadline and interrupt every HTTP request, limiter wait and
 * astro_op_cond_wait/astro_op_lock honours; a provider that waits on
 * anything else must wait through op.h too.
 *
 * Sizes: report an exact st_size whenever it is known; never a guess.  A file
 * whose size is unknown until read sets ASTRO_ATTR_UNKNOWN_SIZE (st_size 0);
 * its open must then set direct_io so tools read to EOF (see
 * ../shared/docs/reference/fuse.md section 5).  When such a size becomes
 * known (or a size changes), the tree calls astro_ctx.invalidate for every
 * file concerned before the open that learnt it returns: the kernel would
 * otherwise keep serving the old size for up to attr_keep_ms.
 */
#ifndef ASTRO_PROVIDER_H
#define ASTRO_PROVIDER_H

#include <stdint.h>
#include <sys/types.h>
#include "core/config.h"
#include "services/cache.h"

enum astro_kind { ASTRO_DIR = 1, ASTRO_FILE = 2, ASTRO_LINK = 3 };

#define ASTRO_ATTR_UNKNOWN_SIZE 0x1u	/* size not known yet; st_size is 0 */
#define ASTRO_ATTR_WRITABLE 0x2u	/* transaction or ingest file: mode 0666 & ~umask */

struct astro_attr {
	enum astro_kind kind;
	uint64_t size;
	int64_t mtime;		/* seconds since the epoch; 0 = mount time */
	unsigned flags;
	unsigned nlink;		/* 0 = let fs.c choose */
};

/*
 * Per-open state.  `handle` belongs to the provider.  The flags ask the FUSE
 * layer for open options: direct_io for files of unknown size and
 * transaction files, keep_cache when the content is unchanged since the last
 * open (same upstream version), nonseekable for transaction files.
 */
/*
 * The most the kernel sends of one write(2) in one request (the FUSE layer
 * sets max_write to it).  A larger write(2) reaches a provider as several
 * write calls at consecutive offsets; every piece but the last fills a
 * request (less at most a page for an unaligned user buffer), which is how
 * a transaction file tells "more of this write follows" (prov_obs.h).
 */
#define ASTRO_WRITE_PIECE (128u << 10)

struct astro_file {
	void *handle;
	unsigned direct_io : 1;
	unsigned keep_cache : 1;
	unsigned nonseekable : 1;
};

/*
 * readdir callback.  `a` may be NULL (the FUSE layer then calls getattr when
 * it needs attributes); providers that can cheaply give attributes pass them
 * so `ls -l` costs no lookup per entry.  Returns non-zero when the buffer is
 * full: stop and return 0.
 */
typedef int (*astro_fill_fn)(void *buf, const char *name,
			     const struct astro_attr *a);

struct astro_services;		/* core/services.h */

/* What a provider gets at start-up: shared services, never another tree. */
struct astro_ctx {
	const struct astro_config *cfg;
	struct astro_cache *cache;	/* may be NULL in unit tests */
	struct astro_services *services;	/* may be NULL in unit tests */
	/*
	 * Set by the FUSE layer for each tree (NULL without a mount): drop
	 * what the kernel holds of one of the tree's files (attributes and
	 * pages), path relative to the tree's root.  A tree calls it when a
	 * file's size or content has just changed, e.g. from unknown to
	 * exact, so the next stat() or read() asks again.  Any thread; a
	 * no-op while the mount is not live.  Kernel-cached attributes live
	 * at most attr_keep_ms.
	 */
	void (*invalidate)(void *arg, const char *path);
	void *invalidate_arg;
	int64_t attr_keep_ms;
};

struct astro_provider {
	const char *name;	/* first path component */

	/* 0 with a non-NULL *priv, or -errno (then nothing else is called). */
	int (*init)(const struct astro_ctx *ctx, void **priv);
	void (*destroy)(void *priv);

	int (*getattr)(void *priv, const char *path, struct astro_attr *a);
	int (*readdir)(void *priv, const char *path, astro_fill_fn fill,
		       void *buf);
	/* flags: open(2) flags.  Optional: NULL means read-only files
	 * without state (read gets f->handle == NULL). */
	int (*open)(void *priv, const char *path, int flags,
		    struct astro_file *f);
	int (*read)(void *priv, const char *path, struct astro_file *f,
		    char *buf, size_t size, off_t off);
	/* Optional; NULL makes every file read-only (EROFS / EACCES). */
	int (*write)(void *priv, const char *path, struct astro_file *f,
		     const char *buf, size_t size, off_t off);
	/* Optional: truncate(2)/O_TRUNC on a writable file. */
	int (*truncate)(void *priv, const char *path, struct astro_file *f,
			off_t size);
	/* Optional: close(2) of one descriptor (may be called more than once
	 * per open, e.g. after dup); an error is returned by close. */
	int (*flush)(void *priv, const char *path, struct astro_file *f);
	int (*release)(void *priv, const char *path, struct astro_file *f);
	/* Optional: symlinks (e.g. images/latest). */
	int (*readlink)(void *priv, const char *path, char *buf, size_t size);
	/*
	 * Optional: non-zero when this instance of the tree is read-only as a
	 * whole (a view of a remote archive).  Every write-side call on it
	 * (open for writing, truncate, create, mkdir, unlink, rmdir, rename,
	 * link, symlink, chmod, chown, utimens) then fails with EROFS instead
	 * of what a tree without writable files there answers (EACCES for
	 * open and truncate, ENOSYS for the rest).
	 */
	int (*readonly)(void *priv);
};

/* The providers compiled in (each defined in its prov_<name>.c), so the
 * FUSE layer needs no header of any tree. */
extern const struct astro_provider astro_prov_tle;
extern const struct astro_provider astro_prov_fits;
extern const struct astro_provider astro_prov_telemetry;
extern const struct astro_provider astro_prov_satfilter;
extern const struct astro_provider astro_prov_obs;
extern const struct astro_provider astro_prov_meta;	/* ".astrofs" */

#ifdef ASTRO_UNITTEST
/* /fits: the bytes of raw windows read ahead and not yet opened are held
 * up to budget; unopened for stale_ms they may be dropped (64 MiB, 5 s). */
void astro_prov_fits_test_readahead(void *priv, size_t budget, int64_t stale_ms);
#endif

#endif

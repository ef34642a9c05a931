/*
 * tlm_remote.h — /telemetry as a read-only view of a remote archive
 * (archive_url: another astrofs's telemetry listener, tlm_http.h, or a cache
 * such as nginx in front of it).
 *
 *   attributes  HEAD /telemetry/<path>: size (Content-Length), mtime
 *               (Last-Modified), content version (ETag); a directory is
 *               an application/json answer.  Kept for the answer's
 *               Cache-Control max-age (closed ranges for ever, other files
 *               ASTRO_TLM_HTTP_OPEN_S), then revalidated with If-None-Match
 *               (a 304 costs no body).  Listings: GET of the directory, kept
 *               as long; its "items" carry each entry's kind, size, mtime
 *               and ETag, which answer getattr of the entries for as long
 *               as the listing (so `ls -l` costs one request, not one per
 *               entry), then HEAD revalidates as above.  The tree's root is
 *               a directory without asking.  Both also in the LMDB cache,
 *               for offline.
 *   content     ranged GETs of ASTRO_TLM_REMOTE_BLOCK-aligned blocks, each
 *               checked to carry the snapshot's ETag and kept in the LMDB
 *               cache under (path, ETag, block): fetched once per content
 *               version per machine, and through a shared HTTP cache once
 *               per site.  The page cache is kept across opens of one ETag.
 *   snapshots   open() pins the ETag and size it saw; every block read for
 *               that open must carry that ETag.  A block not yet cached that
 *               the archive host has since replaced cannot be had any more:
 *               EIO (logged).  Files up to ASTRO_TLM_REMOTE_PIN bytes are
 *               fetched whole at open, so their snapshot always holds.
 *   errors      404 ENOENT, 400 EINVAL, 401/403 EACCES, anything else or no
 *               answer within `timeout` EIO; when the host does not answer,
 *               what is cached (attributes past their age included) is still
 *               served.  `offline`: nothing is asked, only the cache serves.
 *   writes      none: EROFS (ingest happens on the archive host).
 */
#ifndef ASTRO_TLM_REMOTE_H
#define ASTRO_TLM_REMOTE_H

#include "core/provider.h"

#define ASTRO_TLM_REMOTE_BLOCK (4u << 20)
#define ASTRO_TLM_REMOTE_PIN (8u << 20)

struct astro_tlm_remote;

/* From ctx->cfg (archive_url, archive_token, archive_ca, timeout, offline).
 * 0 or -errno with err set. */
int astro_tlm_remote_open(struct astro_tlm_remote **out, const struct astro_ctx *ctx,
			  char *err, size_t errlen);
void astro_tlm_remote_close(struct astro_tlm_remote *r);

/* The provider's operations (provider.h), for prov_telemetry in remote mode. */
int astro_tlm_remote_getattr(struct astro_tlm_remote *r, const char *path, struct astro_attr *a);
int astro_tlm_remote_readdir(struct astro_tlm_remote *r, const char *path, astro_fill_fn fill,
			     void *buf);
int astro_tlm_remote_openf(struct astro_tlm_remote *r, const char *path, int flags,
			   struct astro_file *f);
int astro_tlm_remote_read(struct astro_tlm_remote *r, const char *path, struct astro_file *f,
			  char *buf, size_t size, off_t off);
int astro_tlm_remote_release(struct astro_tlm_remote *r, const char *path, struct astro_file *f);

#endif

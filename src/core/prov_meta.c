/*
 * prov_meta.c — /.astrofs: the filesystem about itself.
 *
 *   stats    JSON counters (upstream requests, bytes, errors by service;
 *            cache hits and misses; limiter state)
 *   config   the effective configuration, secrets masked, and where the
 *            AWS credentials in use came from (key masked)
 *   version  "astrofs <version>" and the library versions it runs with
 *
 * Each open takes one snapshot, so a multi-read `cat` is consistent.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <lmdb.h>
#include "core/astro.h"
#include "core/provider.h"
#include "core/services.h"
#include "core/stats.h"
#include "services/awsprov.h"

struct meta_priv {
	const struct astro_config *cfg;
	const struct astro_services *svc;
};

static const char *const files[] = { "stats", "config", "version" };

static char *make_version(const struct meta_priv *p)
{
	const char *fv = p->svc && p->svc->fuse_version ? p->svc->fuse_version : "none";
	char *s = NULL;

	if (asprintf(&s, "astrofs %s\nlibfuse %s\n%s\n%s\n", ASTRO_VERSION,
		     fv, curl_version(), mdb_version(NULL, NULL, NULL)) < 0)
		return NULL;
	return s;
}

/* The options, then the AWS credentials in use: source shown, key masked. */
static char *config_text(const struct meta_priv *p)
{
	char *c = astro_config_dump(p->cfg), *a = astro_awsprov_describe(), *s = NULL;

	if (c && a && asprintf(&s, "%s%s", c, a) < 0)
		s = NULL;
	free(c);
	free(a);
	return s;
}

static char *render(struct meta_priv *p, const char *path)
{
	if (strcmp(path, "stats") == 0)
		return astro_stats_json();
	if (strcmp(path, "config") == 0)
		return config_text(p);
	if (strcmp(path, "version") == 0)
		return make_version(p);
	return NULL;
}

static int known(const char *path)
{
	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(files); i++)
		if (strcmp(path, files[i]) == 0)
			return 1;
	return 0;
}

static int meta_init(const struct astro_ctx *ctx, void **priv)
{
	struct meta_priv *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->cfg = ctx->cfg;
	p->svc = ctx->services;
	*priv = p;
	return 0;
}

static void meta_destroy(void *priv)
{
	free(priv);
}

static int meta_getattr(void *priv, const char *path, struct astro_attr *a)
{
	char *s;

	assert(priv);
	memset(a, 0, sizeof(*a));
	if (!*path) {
		a->kind = ASTRO_DIR;
		return 0;
	}
	if (!known(path))
		return -ENOENT;
	/* Rendering is cheap and local, so the size is exact at this moment. */
	s = render(priv, path);
	if (!s)
		return -ENOMEM;
	a->kind = ASTRO_FILE;
	a->size = strlen(s);
	free(s);
	return 0;
}

static int meta_readdir(void *priv, const char *path, astro_fill_fn fill, void *buf)
{
	struct astro_attr a;

	assert(priv);
	if (*path)
		return -ENOTDIR;
	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(files); i++)
		if (meta_getattr(priv, files[i], &a) == 0 && fill(buf, files[i], &a))
			break;
	return 0;
}

static int meta_open(void *priv, const char *path, int flags, struct astro_file *f)
{
	struct astro_membuf *h;

	assert(priv);
	if (!*path)
		return -EISDIR;
	if (!known(path))
		return -ENOENT;
	if ((flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->data = render(priv, path);
	if (!h->data) {
		free(h);
		return -ENOMEM;
	}
	h->len = strlen(h->data);
	/* Counters move between stat and open: read to EOF, not to st_size. */
	f->direct_io = strcmp(path, "version") != 0;
	f->handle = h;
	return 0;
}

static int meta_read(void *priv, const char *path, struct astro_file *f, char *buf,
		     size_t size, off_t off)
{
	assert(priv);
	(void)path;
	return astro_membuf_read(f->handle, buf, size, off);
}

static int meta_release(void *priv, const char *path, struct astro_file *f)
{
	assert(priv);
	(void)path;
	astro_membuf_free(f->handle);
	f->handle = NULL;
	return 0;
}

const struct astro_provider astro_prov_meta = {
	.name = ".astrofs",
	.init = meta_init,
	.destroy = meta_destroy,
	.getattr = meta_getattr,
	.readdir = meta_readdir,
	.open = meta_open,
	.read = meta_read,
	.release = meta_release,
};

/* fs.c — see fs.h. */
#define FUSE_USE_VERSION 312
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse3/fuse.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include "core/astro.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/op.h"
#include "core/stats.h"

/* The trees, in listing order. */
static const struct astro_provider *const providers[] = {
	&astro_prov_tle,
	&astro_prov_fits,
	&astro_prov_telemetry,
	&astro_prov_satfilter,
	&astro_prov_obs,
	&astro_prov_meta,
};
#define NPROV ASTRO_ARRAY_SIZE(providers)


struct astro_fs;

/* What a tree's invalidate hook needs to name its files in the mount. */
struct tree_ref {
	struct astro_fs *fs;
	const char *name;
};

struct astro_fs {
	const struct astro_config *cfg;
	struct fuse *fuse;	/* set once the mount is live (fs_init) */
	struct tree_ref ref[NPROV];
	void *priv[NPROV];
	int failed[NPROV];	/* init error of a tree that could not start */
	int64_t start;
	uid_t uid;
	gid_t gid;
};

struct open_file {
	const struct astro_provider *prov;
	void *priv;
	char *path;
	struct astro_file f;
};

static void invalidate_hook(void *arg, const char *rest)
{
	struct tree_ref *r = arg;
	struct fuse *f = __atomic_load_n(&r->fs->fuse, __ATOMIC_ACQUIRE);
	char path[4096];
	int rc;

	if (!f)
		return;
	if (snprintf(path, sizeof(path), "/%s/%s", r->name, rest) >= (int)sizeof(path))
		return;
	/* ENOENT: the kernel holds nothing of it, so nothing is stale. */
	rc = fuse_invalidate_path(f, path);
	if (rc && rc != -ENOENT)
		astro_debug("cannot invalidate %s: %s", path, strerror(-rc));
}

int astro_fs_create(struct astro_fs **out, const struct astro_ctx *ctx)
{
	struct astro_fs *fs = calloc(1, sizeof(*fs));
	size_t i;
	int rc;

	if (!fs)
		return -ENOMEM;
	fs->cfg = ctx->cfg;
	fs->start = astro_now_ms() / 1000;
	fs->uid = ctx->cfg->uid_set ? ctx->cfg->uid : getuid();
	fs->gid = ctx->cfg->gid_set ? ctx->cfg->gid : getgid();
	/*
	 * A tree that cannot start (say, an archive_dir it may not create)
	 * must not take the others down: it answers EIO, and the log says why.
	 */
	for (i = 0; i < NPROV; i++) {
		struct astro_ctx tctx = *ctx;

		fs->ref[i] = (struct tree_ref){ fs, providers[i]->name };
		tctx.invalidate = invalidate_hook;
		tctx.invalidate_arg = &fs->ref[i];
		tctx.attr_keep_ms = (int64_t)(ctx->cfg->attr_timeout * 1000);
		rc = providers[i]->init(&tctx, &fs->priv[i]);
		/* provider.h: a started tree's priv is never NULL */
		assert(rc || fs->priv[i]);
		if (rc) {
			fs->failed[i] = rc;
			fs->priv[i] = NULL;
			astro_err("/%s is unavailable: %s", providers[i]->name, strerror(-rc));
		} else {
			assert(fs->priv[i]);	/* provider.h: a started tree has a priv */
		}
	}
	*out = fs;
	return 0;
}

void astro_fs_destroy(struct astro_fs *fs)
{
	if (!fs)
		return;
	for (size_t i = NPROV; i-- > 0;)
		if (!fs->failed[i])
			providers[i]->destroy(fs->priv[i]);
	free(fs);
}

static struct astro_fs *self(void)
{
	return fuse_get_context()->private_data;
}

/* "/tle/2001/01" → provider tle, rest "2001/01"; "/" → NULL provider. */
static int route(struct astro_fs *fs, const char *path, const struct astro_provider **p,
		 void **priv, const char **rest)
{
	const char *s = path + 1, *slash;
	size_t n;

	*p = NULL;
	if (!*s)
		return 0;
	slash = strchr(s, '/');
	n = slash ? (size_t)(slash - s) : strlen(s);
	for (size_t i = 0; i < NPROV; i++)
		if (strlen(providers[i]->name) == n && memcmp(providers[i]->name, s, n) == 0) {
			if (fs->failed[i])
				return -EIO;
			*p = providers[i];
			*priv = fs->priv[i];
			assert(*priv);
			*rest = slash ? slash + 1 : "";
			return 0;
		}
	return -ENOENT;
}

static void to_stat(struct astro_fs *fs, const struct astro_attr *a, struct stat *st)
{
	unsigned um = fs->cfg->umask_set ? fs->cfg->umask : 0022;

	memset(st, 0, sizeof(*st));
	switch (a->kind) {
	case ASTRO_DIR:
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = a->nlink ? a->nlink : 2;
		break;
	case ASTRO_LINK:
		st->st_mode = S_IFLNK | 0777;
		st->st_nlink = 1;
		break;
	default:
		st->st_mode = S_IFREG | ((a->flags & ASTRO_ATTR_WRITABLE) ? 0666 : 0444);
		st->st_nlink = 1;
		break;
	}
	/* Like every filesystem, umask 022 unless told otherwise: with
	 * allow_other only the owner (and the group, with umask=002) may
	 * write a transaction file. */
	if (a->kind != ASTRO_LINK)
		st->st_mode &= ~(mode_t)um;
	if (fs->cfg->ro)
		st->st_mode &= ~(mode_t)0222;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = (off_t)a->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
	st->st_mtim.tv_sec = a->mtime ? a->mtime : fs->start;
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
}

static int do_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct astro_fs *fs = self();
	const struct astro_provider *p;
	struct astro_attr a = { .kind = ASTRO_DIR, .nlink = 2 + NPROV };
	void *priv;
	const char *rest;
	int rc;

	(void)fi;
	rc = route(fs, path, &p, &priv, &rest);
	if (rc)
		return rc;
	if (p) {
		rc = p->getattr(priv, rest, &a);
		if (rc)
			return rc;
	}
	to_stat(fs, &a, st);
	return 0;
}

struct fill_ctx {
	struct astro_fs *fs;
	void *buf;
	fuse_fill_dir_t filler;
	unsigned n;
	int rc;		/* why the listing stopped early, or 0 */
};

static int fill_one(void *arg, const char *name, const struct astro_attr *a)
{
	struct fill_ctx *c = arg;
	struct stat st;

	/* A huge directory (jobs/) is listed in one call: let Ctrl-C and the
	 * operation's deadline end it, whichever tree it is. */
	if (++c->n % 256 == 0 && (c->rc = astro_op_check()))
		return 1;

	if (a) {
		to_stat(c->fs, a, &st);
		return c->filler(c->buf, name, &st, 0, FUSE_FILL_DIR_PLUS);
	}
	return c->filler(c->buf, name, NULL, 0, 0);
}

static int do_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct astro_fs *fs = self();
	struct fill_ctx c = { .fs = fs, .buf = buf, .filler = filler };
	const struct astro_provider *p;
	void *priv;
	const char *rest;
	int rc;

	(void)off; (void)fi; (void)flags;
	rc = route(fs, path, &p, &priv, &rest);
	if (rc)
		return rc;
	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	if (!p) {
		for (size_t i = 0; i < NPROV; i++) {
			struct astro_attr a = { .kind = ASTRO_DIR };

			/* A tree that failed to start is not listed (ls -l, find
			 * and rsync of the mount stay clean); its paths answer
			 * EIO (route) and the log says why. */
			if (fs->failed[i])
				continue;
			/* a tree's root may be a file (/satfilter): readdirplus
			 * must not announce it as a directory; a tree that did
			 * not start is never called (provider.h) */
			if (fs->failed[i] || providers[i]->getattr(fs->priv[i], "", &a))
				a = (struct astro_attr){ .kind = ASTRO_DIR };
			if (fill_one(&c, providers[i]->name, &a))
				break;
		}
		return c.rc;
	}
	rc = p->readdir(priv, rest, fill_one, &c);
	return rc ? rc : c.rc;
}

/* Is the caller in group g (its own or a supplementary group)? */
static int caller_in_group(const struct fuse_context *c, gid_t g)
{
	gid_t groups[64];
	int n;

	if (c->gid == g)
		return 1;
	n = fuse_getgroups((int)ASTRO_ARRAY_SIZE(groups), groups);
	for (int i = 0; i < n && i < (int)ASTRO_ARRAY_SIZE(groups); i++)
		if (groups[i] == g)
			return 1;
	return 0;
}

/*
 * The mode check the kernel makes with default_permissions, for a mount
 * without it: allow_other alone lets every user through to open(), and a
 * telescope command must not depend on a mount option being remembered.
 * want: 04 read, 02 write (as access(2)'s R_OK/W_OK).
 */
static int may_open(struct astro_fs *fs, const struct astro_provider *p, void *priv,
		    const char *rest, int want)
{
	const struct fuse_context *c = fuse_get_context();
	struct astro_attr a = { .kind = ASTRO_DIR, .nlink = 2 + NPROV };
	struct stat st;
	unsigned bits;
	int rc;

	if (fs->cfg->default_permissions || c->uid == 0)
		return 0;	/* the kernel checked; root may, as with DAC */
	rc = p->getattr(priv, rest, &a);
	if (rc)
		return rc;
	to_stat(fs, &a, &st);
	if (c->uid == st.st_uid)
		bits = (st.st_mode >> 6) & 7;
	else if (caller_in_group(c, st.st_gid))
		bits = (st.st_mode >> 3) & 7;
	else
		bits = st.st_mode & 7;
	return (bits & (unsigned)want) == (unsigned)want ? 0 : -EACCES;
}

static int tree_readonly(const struct astro_provider *p, void *priv)
{
	return p && p->readonly && p->readonly(priv);
}

/*
 * A write-side call the trees do not implement (creating, removing,
 * renaming, changing attributes): EROFS on a read-only mount or tree, else
 * `otherwise`, what libfuse answered before these calls existed (ENOSYS).
 */
static int refuse(const char *path, int otherwise)
{
	struct astro_fs *fs = self();
	const struct astro_provider *p;
	void *priv;
	const char *rest;

	if (fs->cfg->ro)
		return -EROFS;
	if (route(fs, path, &p, &priv, &rest))
		return otherwise;
	return tree_readonly(p, priv) ? -EROFS : otherwise;
}

static int do_open(const char *path, struct fuse_file_info *fi)
{
	struct astro_fs *fs = self();
	const struct astro_provider *p;
	struct open_file *of;
	void *priv;
	const char *rest;
	int rc;

	rc = route(fs, path, &p, &priv, &rest);
	if (rc)
		return rc;
	if (!p)
		return -EISDIR;
	if ((fi->flags & O_ACCMODE) != O_RDONLY &&
	    (fs->cfg->ro || !p->write || tree_readonly(p, priv)))
		return fs->cfg->ro || tree_readonly(p, priv) ? -EROFS : -EACCES;
	switch (fi->flags & O_ACCMODE) {
	case O_RDONLY: rc = may_open(fs, p, priv, rest, 04); break;
	case O_WRONLY: rc = may_open(fs, p, priv, rest, 02); break;
	default: rc = may_open(fs, p, priv, rest, 06); break;
	}
	if (rc)
		return rc;
	of = calloc(1, sizeof(*of));
	if (!of || !(of->path = strdup(rest))) {
		free(of);
		return -ENOMEM;
	}
	of->prov = p;
	of->priv = priv;
	if (p->open) {
		rc = p->open(priv, rest, fi->flags, &of->f);
		if (rc) {
			free(of->path);
			free(of);
			return rc;
		}
	}
	fi->direct_io = of->f.direct_io;
	fi->keep_cache = of->f.keep_cache;
	fi->nonseekable = of->f.nonseekable;
	fi->fh = (uint64_t)(uintptr_t)of;
	return 0;
}

static int do_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;

	(void)path;
	return of->prov->read(of->priv, of->path, &of->f, buf, size, off);
}

static int do_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;

	(void)path;
	if (!of->prov->write)
		return -EBADF;
	return of->prov->write(of->priv, of->path, &of->f, buf, size, off);
}

static int do_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct astro_fs *fs = self();
	const struct astro_provider *p;
	void *priv;
	const char *rest;
	int rc;

	if (fi) {
		struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;

		return of->prov->truncate ? of->prov->truncate(of->priv, of->path, &of->f, size)
					  : -EACCES;
	}
	rc = route(fs, path, &p, &priv, &rest);
	if (rc)
		return rc;
	if (!p || !p->truncate || tree_readonly(p, priv))
		return fs->cfg->ro || tree_readonly(p, priv) ? -EROFS : -EACCES;
	rc = may_open(fs, p, priv, rest, 02);
	return rc ? rc : p->truncate(priv, rest, NULL, size);
}

/* close(2): a transaction file may still act on (and refuse) its last line. */
static int do_flush(const char *path, struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;

	(void)path;
	return of->prov->flush ? of->prov->flush(of->priv, of->path, &of->f) : 0;
}

static int do_release(const char *path, struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;

	(void)path;
	if (of->prov->release)
		of->prov->release(of->priv, of->path, &of->f);
	free(of->path);
	free(of);
	return 0;
}

static int do_readlink(const char *path, char *buf, size_t size)
{
	struct astro_fs *fs = self();
	const struct astro_provider *p;
	void *priv;
	const char *rest;
	int rc = route(fs, path, &p, &priv, &rest);

	if (rc)
		return rc;
	if (!p || !p->readlink)
		return -EINVAL;
	return p->readlink(priv, rest, buf, size);
}

static int fs_statfs(const char *path, struct statvfs *sv)
{
	(void)path;
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = 4096;
	sv->f_frsize = 4096;
	sv->f_namemax = 255;
	return 0;
}

static void on_intr_signal(int sig)
{
	(void)sig;	/* only there to interrupt a blocking call */
}

int astro_fs_intr_init(void)
{
	struct sigaction sa = { 0 };

	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: poll, nanosleep and friends must return EINTR. */
	sa.sa_handler = on_intr_signal;
	return sigaction(ASTRO_FS_INTR_SIGNAL, &sa, NULL) != 0 ? -errno : 0;
}

static int intr_handler_installed(void)
{
	struct sigaction sa;

	return sigaction(ASTRO_FS_INTR_SIGNAL, NULL, &sa) == 0 &&
	       sa.sa_handler == on_intr_signal;
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct astro_fs *fs = self();

	/* A known request size: transaction files join the pieces of one
	 * write(2) by it (provider.h). */
	conn->max_write = ASTRO_WRITE_PIECE;
	/* Short kernel caches by default (entry_timeout=1, attr_timeout=1,
	 * negative_timeout=2; 0 forces a lookup per entry); freshness beyond
	 * that is the trees' business, in LMDB. */
	cfg->entry_timeout = fs->cfg->entry_timeout;
	cfg->attr_timeout = fs->cfg->attr_timeout;
	cfg->negative_timeout = fs->cfg->negative_timeout;
	cfg->use_ino = 0;
	/*
	 * With intr, libfuse answers FUSE_INTERRUPT by sending intr_signal to
	 * the worker, cutting its poll or sleep short.  libfuse 3 has no
	 * option left that installs a handler for it, and the signal's
	 * default action ends the process: switch it on only when
	 * astro_fs_intr_init() has installed ours.  fuse_interrupted() works
	 * either way; the signal only makes the wake-up immediate.
	 */
	cfg->intr_signal = ASTRO_FS_INTR_SIGNAL;
	cfg->intr = intr_handler_installed();
	cfg->nullpath_ok = 0;
	__atomic_store_n(&fs->fuse, fuse_get_context()->fuse, __ATOMIC_RELEASE);
	return fs;
}

/*
 * Every operation runs in an op context (op.h): `timeout` bounds it as a
 * whole, however many upstream requests it makes, and the caller's
 * interrupt (Ctrl-C, kill, timeout(1): FUSE_INTERRUPT) ends its waits.
 */
static void op_start(void)
{
	astro_op_begin((int64_t)self()->cfg->timeout * 1000, fuse_interrupted);
}

static int op_done(int rc)
{
	astro_op_end();
	return rc;
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	op_start();
	return op_done(do_getattr(path, st, fi));
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	op_start();
	return op_done(do_readdir(path, buf, filler, off, fi, flags));
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	op_start();
	return op_done(do_open(path, fi));
}

static int fs_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	op_start();
	return op_done(do_read(path, buf, size, off, fi));
}

static int fs_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	op_start();
	return op_done(do_write(path, buf, size, off, fi));
}

static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	op_start();
	return op_done(do_truncate(path, size, fi));
}

static int fs_flush(const char *path, struct fuse_file_info *fi)
{
	op_start();
	return op_done(do_flush(path, fi));
}

static int fs_release(const char *path, struct fuse_file_info *fi)
{
	op_start();
	return op_done(do_release(path, fi));
}

static int fs_readlink(const char *path, char *buf, size_t size)
{
	op_start();
	return op_done(do_readlink(path, buf, size));
}

static int fs_mknod(const char *path, mode_t mode, dev_t dev)
{
	(void)mode;
	(void)dev;
	op_start();
	return op_done(refuse(path, -ENOSYS));
}

static int fs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)mode;
	(void)fi;
	op_start();
	return op_done(refuse(path, -ENOSYS));
}

static int fs_mkdir(const char *path, mode_t mode)
{
	(void)mode;
	op_start();
	return op_done(refuse(path, -ENOSYS));
}

static int fs_unlink(const char *path)
{
	op_start();
	return op_done(refuse(path, -ENOSYS));
}

static int fs_rmdir(const char *path)
{
	op_start();
	return op_done(refuse(path, -ENOSYS));
}

static int fs_symlink(const char *target, const char *path)
{
	(void)target;
	op_start();
	return op_done(refuse(path, -ENOSYS));
}

/* either end on a read-only tree: EROFS */
static int fs_rename(const char *from, const char *to, unsigned flags)
{
	int rc;

	(void)flags;
	op_start();
	rc = refuse(from, -ENOSYS);
	return op_done(rc == -EROFS ? rc : refuse(to, -ENOSYS));
}

static int fs_link(const char *from, const char *to)
{
	int rc;

	op_start();
	rc = refuse(from, -ENOSYS);
	return op_done(rc == -EROFS ? rc : refuse(to, -ENOSYS));
}

static int fs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)mode;
	(void)fi;
	op_start();
	return op_done(refuse(path, -ENOSYS));
}

static int fs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	(void)uid;
	(void)gid;
	(void)fi;
	op_start();
	return op_done(refuse(path, -ENOSYS));
}

static int fs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	(void)tv;
	(void)fi;
	op_start();
	return op_done(refuse(path, -ENOSYS));
}

static const struct fuse_operations ops = {
	.init = fs_init,
	.getattr = fs_getattr,
	.readdir = fs_readdir,
	.open = fs_open,
	.read = fs_read,
	.write = fs_write,
	.truncate = fs_truncate,
	.flush = fs_flush,
	.release = fs_release,
	.readlink = fs_readlink,
	.statfs = fs_statfs,
	.mknod = fs_mknod,
	.create = fs_create,
	.mkdir = fs_mkdir,
	.unlink = fs_unlink,
	.rmdir = fs_rmdir,
	.symlink = fs_symlink,
	.rename = fs_rename,
	.link = fs_link,
	.chmod = fs_chmod,
	.chown = fs_chown,
	.utimens = fs_utimens,
};

const struct fuse_operations *astro_fs_operations(void)
{
	return &ops;
}

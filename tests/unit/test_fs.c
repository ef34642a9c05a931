/*
 * test_fs.c — the FUSE layer's routing and dispatch, without a mount.
 *
 * The suite drives the real fuse_operations table of fs.c over fake trees.
 * Both are link seams, nothing in fs.c is there for the test: this file
 * defines the six astro_prov_* the FUSE layer names (so the linker takes
 * them instead of the real trees from the library), and libfuse's
 * fuse_get_context (which outside a mount has no context to give) so the
 * operations find their astro_fs.
 */
#define FUSE_USE_VERSION 312
#include "unit.h"
#include <errno.h>
#include <fcntl.h>
#include <fuse3/fuse.h>
#include <sys/stat.h>
#include "core/astro.h"
#include "core/config.h"
#include "core/fs.h"

/* ---- the seams ---- */

static struct fuse_context fake_fc;

struct fuse_context *fuse_get_context(void)
{
	return &fake_fc;
}

/* What the fake trees saw. */
struct fake {
	const char *name;
	char last[64];		/* the path of the last call */
	int last_flags;
	char wrote[64];
	size_t nwrote;
};

/* Calls that got a NULL priv: a breach of provider.h's contract. */
static int null_priv;

static struct fake fakes[6] = {
	{ .name = "tle" }, { .name = "fits" }, { .name = "telemetry" },
	{ .name = "satfilter" }, { .name = "obs" }, { .name = ".astrofs" },
};

static struct fake *seen(void *priv, const char *path)
{
	struct fake *f = priv;

	if (!f) {
		null_priv++;
		return NULL;
	}
	snprintf(f->last, sizeof(f->last), "%s", path);
	return f;
}

static int fake_init(struct fake *f, void **priv)
{
	/* /telemetry cannot start: fs.c must answer EIO for it */
	if (strcmp(f->name, "telemetry") == 0)
		return -EACCES;
	*priv = f;
	return 0;
}

#define FAKE_INIT(i, id)						\
	static int init_##id(const struct astro_ctx *ctx, void **priv)	\
	{								\
		(void)ctx;						\
		return fake_init(&fakes[i], priv);			\
	}
FAKE_INIT(0, tle)
FAKE_INIT(1, fits)
FAKE_INIT(2, telemetry)
FAKE_INIT(3, satfilter)
FAKE_INIT(4, obs)
FAKE_INIT(5, meta)

static void fake_destroy(void *priv)
{
	(void)priv;
}

static int fake_getattr(void *priv, const char *path, struct astro_attr *a)
{
	struct fake *f = seen(priv, path);

	if (!f)
		return -EFAULT;
	memset(a, 0, sizeof(*a));
	if (strcmp(path, "nosuch") == 0)
		return -ENOENT;
	/* /satfilter is a single file, like the real one */
	a->kind = strcmp(f->name, "satfilter") == 0 ? ASTRO_FILE : ASTRO_DIR;
	if (strcmp(path, "file") == 0) {
		a->kind = ASTRO_FILE;
		a->size = 5;
	}
	return 0;
}

static int fake_readdir(void *priv, const char *path, astro_fill_fn fill, void *buf)
{
	struct astro_attr a = { .kind = ASTRO_FILE, .size = 5 };

	if (!seen(priv, path))
		return -EFAULT;
	fill(buf, "file", &a);
	fill(buf, "other", NULL);
	return 0;
}

static int fake_open(void *priv, const char *path, int flags, struct astro_file *fh)
{
	struct fake *f = seen(priv, path);

	if (!f)
		return -EFAULT;
	f->last_flags = flags;
	fh->handle = f;
	fh->direct_io = 1;
	return 0;
}

static int fake_read(void *priv, const char *path, struct astro_file *fh, char *buf,
		     size_t size, off_t off)
{
	static const char text[] = "hello";
	size_t n;

	if (!seen(priv, path) || fh->handle != priv)
		return -EFAULT;
	if ((size_t)off >= sizeof(text) - 1)
		return 0;
	n = sizeof(text) - 1 - (size_t)off;
	if (n > size)
		n = size;
	memcpy(buf, text + off, n);
	return (int)n;
}

static int fake_write(void *priv, const char *path, struct astro_file *fh,
		      const char *buf, size_t size, off_t off)
{
	struct fake *f = seen(priv, path);

	(void)off;
	if (!f || fh->handle != priv || size > sizeof(f->wrote) - f->nwrote)
		return -EFAULT;
	memcpy(f->wrote + f->nwrote, buf, size);
	f->nwrote += size;
	return (int)size;
}

static int fake_release(void *priv, const char *path, struct astro_file *fh)
{
	fh->handle = NULL;
	return seen(priv, path) ? 0 : -EFAULT;
}

#define FAKE_TREE(var, nm, id, wr)					\
	const struct astro_provider var = {				\
		.name = nm, .init = init_##id, .destroy = fake_destroy, \
		.getattr = fake_getattr, .readdir = fake_readdir,	\
		.open = fake_open, .read = fake_read, .write = wr,	\
		.release = fake_release,				\
	}
FAKE_TREE(astro_prov_tle, "tle", tle, NULL);
/* /fits stands for a tree that is read-only as a whole (a remote view) */
static int fake_readonly(void *priv)
{
	return seen(priv, "") != NULL;
}

const struct astro_provider astro_prov_fits = {
	.name = "fits", .init = init_fits, .destroy = fake_destroy,
	.getattr = fake_getattr, .readdir = fake_readdir, .open = fake_open,
	.read = fake_read, .release = fake_release, .readonly = fake_readonly,
};
FAKE_TREE(astro_prov_telemetry, "telemetry", telemetry, NULL);
FAKE_TREE(astro_prov_satfilter, "satfilter", satfilter, fake_write);
FAKE_TREE(astro_prov_obs, "obs", obs, fake_write);
FAKE_TREE(astro_prov_meta, ".astrofs", meta, NULL);

/* ---- fixture ---- */

struct fx {
	struct astro_config cfg;
	struct astro_fs *fs;
	const struct fuse_operations *ops;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct astro_ctx ctx = {0};

	assert_non_null(f);
	null_priv = 0;
	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(fakes); i++) {
		const char *name = fakes[i].name;

		fakes[i] = (struct fake){ .name = name };
	}
	/* the kernel checks modes (the default): dispatch is what is tested */
	f->cfg.default_permissions = true;
	ctx.cfg = &f->cfg;
	assert_int_equal(astro_fs_create(&f->fs, &ctx), 0);
	f->ops = astro_fs_operations();
	fake_fc = (struct fuse_context){ .private_data = f->fs, .uid = getuid(),
					 .gid = getgid() };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	astro_fs_destroy(f->fs);
	free(f);
	return 0;
}

/* ---- routing ---- */

static void route_paths(void **state)
{
	struct fx *f = *state;
	struct stat st;

	/* "/" is fs.c's own directory: one link per tree plus . and .. */
	assert_int_equal(f->ops->getattr("/", &st, NULL), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_nlink, 2 + 6);
	assert_int_equal(fakes[0].last[0], '\0');	/* no tree asked */

	/* the first component picks the tree; it gets the rest, no slash */
	assert_int_equal(f->ops->getattr("/tle/2001/01", &st, NULL), 0);
	assert_string_equal(fakes[0].last, "2001/01");
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(f->ops->getattr("/fits", &st, NULL), 0);
	assert_string_equal(fakes[1].last, "");
	assert_int_equal(f->ops->getattr("/obs/file", &st, NULL), 0);
	assert_string_equal(fakes[4].last, "file");
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 5);
	assert_int_equal(f->ops->getattr("/.astrofs", &st, NULL), 0);
	assert_string_equal(fakes[5].last, "");

	/* a tree's error passes through; an unknown tree is ENOENT, and a
	 * name is matched whole, not as a prefix */
	assert_int_equal(f->ops->getattr("/tle/nosuch", &st, NULL), -ENOENT);
	assert_int_equal(f->ops->getattr("/nosuch", &st, NULL), -ENOENT);
	assert_int_equal(f->ops->getattr("/tl", &st, NULL), -ENOENT);
	assert_int_equal(f->ops->getattr("/tlex/1", &st, NULL), -ENOENT);

	/* a tree that did not start answers EIO, at its root and below */
	assert_int_equal(f->ops->getattr("/telemetry", &st, NULL), -EIO);
	assert_int_equal(f->ops->getattr("/telemetry/a/b", &st, NULL), -EIO);
	assert_int_equal(f->ops->open("/telemetry/a", &(struct fuse_file_info){0}), -EIO);
	assert_int_equal(null_priv, 0);
}

struct listing {
	char names[16][32];
	mode_t modes[16];
	int n;
};

static int filler(void *buf, const char *name, const struct stat *st, off_t off,
		  enum fuse_fill_dir_flags flags)
{
	struct listing *l = buf;

	(void)off; (void)flags;
	if (l->n >= 16)
		return 1;
	snprintf(l->names[l->n], sizeof(l->names[0]), "%s", name);
	l->modes[l->n++] = st ? st->st_mode : 0;
	return 0;
}

static void readdir_root(void **state)
{
	/* the tree that did not start (/telemetry) is left out, so ls -l,
	 * find and rsync of the mount stay clean; its paths answer EIO */
	static const char *const want[] = { ".", "..", "tle", "fits",
					    "satfilter", "obs", ".astrofs" };
	struct fx *f = *state;
	struct listing l = {0};

	assert_int_equal(f->ops->readdir("/", &l, filler, 0, NULL, 0), 0);
	assert_int_equal(l.n, (int)ASTRO_ARRAY_SIZE(want));
	for (int i = 0; i < l.n; i++)
		assert_string_equal(l.names[i], want[i]);
	/* /satfilter's root is a file and is listed as one */
	assert_true(S_ISREG(l.modes[4]));
	assert_true(S_ISDIR(l.modes[2]));
	/* ...and the failed tree is never called (provider.h: priv is
	 * never NULL) */
	assert_int_equal(null_priv, 0);

	/* below the root, the tree lists; attributes it gives are used */
	memset(&l, 0, sizeof(l));
	assert_int_equal(f->ops->readdir("/tle/2001", &l, filler, 0, NULL, 0), 0);
	assert_string_equal(fakes[0].last, "2001");
	assert_int_equal(l.n, 4);
	assert_string_equal(l.names[2], "file");
	assert_true(S_ISREG(l.modes[2]));
	assert_string_equal(l.names[3], "other");
	assert_int_equal(l.modes[3], 0);
	assert_int_equal(f->ops->readdir("/telemetry", &l, filler, 0, NULL, 0), -EIO);
	assert_int_equal(f->ops->readdir("/nosuch", &l, filler, 0, NULL, 0), -ENOENT);
}

/* ---- open / read / write ---- */

static void open_read_write(void **state)
{
	struct fx *f = *state;
	struct fuse_file_info fi = { .flags = O_RDONLY };
	char buf[16] = "";

	/* read: the handle the tree made comes back with each read */
	assert_int_equal(f->ops->open("/tle/2001/01/01.tle", &fi), 0);
	assert_string_equal(fakes[0].last, "2001/01/01.tle");
	assert_int_equal(fakes[0].last_flags & O_ACCMODE, O_RDONLY);
	assert_int_equal(fi.direct_io, 1);
	assert_int_equal(f->ops->read("/tle/2001/01/01.tle", buf, 3, 1, &fi), 3);
	assert_memory_equal(buf, "ell", 3);
	assert_int_equal(f->ops->read("/tle/2001/01/01.tle", buf, sizeof(buf), 5, &fi), 0);
	assert_int_equal(f->ops->release("/tle/2001/01/01.tle", &fi), 0);

	/* a tree without write is read-only; a read-only mount says EROFS */
	fi = (struct fuse_file_info){ .flags = O_WRONLY };
	assert_int_equal(f->ops->open("/tle/2001/01/01.tle", &fi), -EACCES);
	f->cfg.ro = true;
	fi = (struct fuse_file_info){ .flags = O_RDWR };
	assert_int_equal(f->ops->open("/satfilter", &fi), -EROFS);
	f->cfg.ro = false;

	/* write reaches the tree with its handle; a single-file tree gets "" */
	fi = (struct fuse_file_info){ .flags = O_RDWR };
	assert_int_equal(f->ops->open("/satfilter", &fi), 0);
	assert_string_equal(fakes[3].last, "");
	assert_int_equal(fakes[3].last_flags & O_ACCMODE, O_RDWR);
	assert_int_equal(f->ops->write("/satfilter", "{}\n", 3, 0, &fi), 3);
	assert_int_equal(fakes[3].nwrote, 3);
	assert_memory_equal(fakes[3].wrote, "{}\n", 3);
	assert_int_equal(f->ops->read("/satfilter", buf, 5, 0, &fi), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(f->ops->release("/satfilter", &fi), 0);

	/* the root is fs.c's directory */
	fi = (struct fuse_file_info){ .flags = O_RDONLY };
	assert_int_equal(f->ops->open("/", &fi), -EISDIR);
	assert_int_equal(f->ops->open("/nosuch", &fi), -ENOENT);
	assert_int_equal(f->ops->readlink("/", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(null_priv, 0);
}

/* ---- a read-only tree says EROFS; the others keep EACCES / ENOSYS ---- */

static void readonly_tree(void **state)
{
	struct fx *f = *state;
	const struct fuse_operations *o = f->ops;
	struct fuse_file_info fi = { .flags = O_WRONLY };

	assert_non_null(o->create);
	assert_non_null(o->mknod);
	assert_non_null(o->mkdir);
	assert_non_null(o->unlink);
	assert_non_null(o->rmdir);
	assert_non_null(o->rename);
	assert_non_null(o->link);
	assert_non_null(o->symlink);
	assert_non_null(o->chmod);
	assert_non_null(o->chown);
	assert_non_null(o->utimens);

	assert_int_equal(o->open("/fits/file", &fi), -EROFS);
	fi = (struct fuse_file_info){ .flags = O_RDWR };
	assert_int_equal(o->open("/fits/file", &fi), -EROFS);
	assert_int_equal(o->truncate("/fits/file", 0, NULL), -EROFS);
	assert_int_equal(o->create("/fits/new", 0644, &fi), -EROFS);
	assert_int_equal(o->mknod("/fits/new", S_IFREG | 0644, 0), -EROFS);
	assert_int_equal(o->mkdir("/fits/d", 0755), -EROFS);
	assert_int_equal(o->unlink("/fits/file"), -EROFS);
	assert_int_equal(o->rmdir("/fits/d"), -EROFS);
	assert_int_equal(o->rename("/fits/file", "/fits/other", 0), -EROFS);
	assert_int_equal(o->rename("/tle/file", "/fits/other", 0), -EROFS);
	assert_int_equal(o->link("/fits/file", "/fits/l"), -EROFS);
	assert_int_equal(o->symlink("file", "/fits/l"), -EROFS);
	assert_int_equal(o->chmod("/fits/file", 0600, NULL), -EROFS);
	assert_int_equal(o->chown("/fits/file", 1, 1, NULL), -EROFS);
	assert_int_equal(o->utimens("/fits/file", NULL, NULL), -EROFS);
	/* reads still work */
	fi = (struct fuse_file_info){ .flags = O_RDONLY };
	assert_int_equal(o->open("/fits/file", &fi), 0);
	assert_int_equal(o->release("/fits/file", &fi), 0);

	/* another tree without writable files: what it answered before */
	fi = (struct fuse_file_info){ .flags = O_WRONLY };
	assert_int_equal(o->open("/tle/file", &fi), -EACCES);
	assert_int_equal(o->truncate("/tle/file", 0, NULL), -EACCES);
	assert_int_equal(o->create("/tle/new", 0644, &fi), -ENOSYS);
	assert_int_equal(o->mkdir("/tle/d", 0755), -ENOSYS);
	assert_int_equal(o->unlink("/tle/file"), -ENOSYS);
	assert_int_equal(o->rename("/tle/file", "/tle/x", 0), -ENOSYS);
	assert_int_equal(o->utimens("/tle/file", NULL, NULL), -ENOSYS);
	assert_int_equal(o->mkdir("/nosuch", 0755), -ENOSYS);
	/* a read-only mount: EROFS everywhere */
	f->cfg.ro = true;
	assert_int_equal(o->mkdir("/tle/d", 0755), -EROFS);
	f->cfg.ro = false;
	assert_int_equal(null_priv, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(route_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(readdir_root, setup, teardown),
		cmocka_unit_test_setup_teardown(open_read_write, setup, teardown),
		cmocka_unit_test_setup_teardown(readonly_tree, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* LMDB cache: round trips, freshness, corruption, eviction, atomic update. */
#include "unit.h"
#include <errno.h>
#include <lmdb.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mount.h>
#include "core/astro.h"
#include "core/log.h"
#include "services/cache.h"

static char *dir;

static int setup(void **s)
{
	(void)s;
	dir = unit_tmpdir();
	return dir ? 0 : -1;
}

static int teardown(void **s)
{
	char cmd[256];

	(void)s;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return -1;
	free(dir);
	return 0;
}

static void put_many_stores_all_in_one_go(void **s)
{
	struct astro_cache *c;
	struct astro_cache_meta m = { .flags = ASTRO_CACHE_FINAL, .ttl_s = -1 }, g;
	struct astro_cache_item it[3] = {
		{ "a", 1, "one", 3 }, { "bb", 2, "", 0 }, { "c", 1, "three", 5 },
	};
	void *data;

	(void)s;
	assert_int_equal(astro_cache_open(&c, dir, 16 << 20), 0);
	assert_int_equal(astro_cache_put(c, "telemetry", "c", 1, &m, "old", 3), 0);
	assert_int_equal(astro_cache_put_many(c, "telemetry", &m, it, 3), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(astro_cache_get(c, "telemetry", it[i].key, it[i].klen, &g, &data), 0);
		assert_int_equal(g.len, it[i].len);
		assert_memory_equal(data, it[i].data, it[i].len);
		assert_int_equal(g.flags & ASTRO_CACHE_FINAL, ASTRO_CACHE_FINAL);
		free(data);
	}
	/* one bad key stores none */
	it[1].klen = 600;
	assert_int_equal(astro_cache_put_many(c, "telemetry", &m, it, 3), -ENAMETOOLONG);
	/* one alone is a plain put */
	assert_int_equal(astro_cache_put_many(c, "telemetry", &m, it + 2, 1), 0);
	astro_cache_close(c);
}

static void put_get_roundtrip_and_freshness(void **s)
{
	struct astro_cache *c;
	struct astro_cache_meta m = { .fetched_ms = 1000, .ttl_s = 60 }, g;
	void *data;

	(void)s;
	assert_int_equal(astro_cache_open(&c, dir, 16 << 20), 0);
	assert_int_equal(astro_cache_get(c, "tle", "k", 1, &g, &data), -ENOENT);
	assert_int_equal(astro_cache_put(c, "tle", "k", 1, &m, "hello", 5), 0);
	assert_int_equal(astro_cache_get(c, "tle", "k", 1, &g, &data), 0);
	assert_int_equal(g.len, 5);
	assert_memory_equal(data, "hello", 5);
	assert_int_equal(g.fetched_ms, 1000);
	assert_int_equal(g.ttl_s, 60);
	free(data);
	assert_true(astro_cache_fresh(&g, 1000 + 59999));
	assert_false(astro_cache_fresh(&g, 1000 + 60000));
	g.flags = ASTRO_CACHE_FINAL;
	assert_true(astro_cache_fresh(&g, INT64_MAX / 2));
	/* Separate databases do not see each other's keys. */
	assert_int_equal(astro_cache_get(c, "fits", "k", 1, &g, NULL), -ENOENT);
	/* Survives a close and reopen (on disk). */
	astro_cache_close(c);
	assert_int_equal(astro_cache_open(&c, dir, 16 << 20), 0);
	assert_int_equal(astro_cache_get(c, "tle", "k", 1, &g, NULL), 0);
	assert_int_equal(astro_cache_del(c, "tle", "k", 1), 0);
	assert_int_equal(astro_cache_get(c, "tle", "k", 1, &g, NULL), -ENOENT);
	astro_cache_close(c);
}

static void corrupt_values_are_misses(void **s)
{
	struct astro_cache *c;
	struct astro_cache_meta m = { .fetched_ms = 1, .ttl_s = -1 }, g;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	char kb[] = "bad", vb[] = "not a value";
	MDB_val k = { 3, kb }, v = { 11, vb };
	void *data;

	(void)s;
	assert_int_equal(astro_cache_open(&c, dir, 16 << 20), 0);
	assert_int_equal(astro_cache_put(c, "tle", "bad", 3, &m, "x", 1), 0);
	astro_cache_close(c);
	/* Overwrite behind the module's back, as a foreign writer would. */
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 32);
	mdb_env_set_mapsize(env, 16 << 20);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "tle", 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	assert_int_equal(astro_cache_open(&c, dir, 16 << 20), 0);
	assert_int_equal(astro_cache_get(c, "tle", "bad", 3, &g, &data), -ENOENT);
	assert_null(data);
	struct astro_cache_stats st;
	astro_cache_get_stats(c, &st);
	assert_int_equal(st.corrupt, 1);
	astro_cache_close(c);
}

static void full_map_evicts_oldest_but_never_pinned(void **s)
{
	struct astro_cache *c;
	struct astro_cache_meta m = { .ttl_s = -1 }, g;
	struct astro_cache_stats st;
	char key[32], *blob = calloc(1, 64 << 10);
	int i;

	(void)s;
	assert_int_equal(astro_cache_open(&c, dir, 2 << 20), 0);
	m.flags = ASTRO_CACHE_PINNED;
	assert_int_equal(astro_cache_put(c, "_meta", "pin", 3, &m, "p", 1), 0);
	m.flags = 0;
	for (i = 0; i < 100; i++) {
		m.fetched_ms = 1000 + i;
		snprintf(key, sizeof(key), "k%03d", i);
		assert_int_equal(astro_cache_put(c, "fits", key, strlen(key), &m, blob, 64 << 10), 0);
	}
	astro_cache_get_stats(c, &st);
	assert_true(st.evictions > 0);
	assert_int_equal(astro_cache_get(c, "fits", "k000", 4, &g, NULL), -ENOENT);
	assert_int_equal(astro_cache_get(c, "fits", "k099", 4, &g, NULL), 0);
	assert_int_equal(astro_cache_get(c, "_meta", "pin", 3, &g, NULL), 0);
	/* A value larger than the whole map fails cleanly. */
	char *huge = calloc(1, 4 << 20);
	assert_int_equal(astro_cache_put(c, "fits", "huge", 4, &m, huge, 4 << 20), -ENOSPC);
	free(huge);
	free(blob);
	astro_cache_close(c);
}

static int incr(const void *old, size_t oldlen, void **out, size_t *outlen, void *arg)
{
	uint64_t v = 0;

	(void)arg;
	if (old) {
		assert_int_equal(oldlen, sizeof(v));
		memcpy(&v, old, sizeof(v));
	}
	v++;
	*out = malloc(sizeof(v));
	memcpy(*out, &v, sizeof(v));
	*outlen = sizeof(v);
	return (int)v;
}

static void *hammer(void *arg)
{
	for (int i = 0; i < 200; i++)
		assert_true(astro_cache_update(arg, "_meta", "ctr", 3, incr, NULL) > 0);
	return NULL;
}

static void update_is_atomic_across_threads(void **s)
{
	struct astro_cache *c;
	struct astro_cache_meta g;
	pthread_t t[4];
	void *data;
	uint64_t v;

	(void)s;
	assert_int_equal(astro_cache_open(&c, dir, 16 << 20), 0);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, hammer, c);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(astro_cache_get(c, "_meta", "ctr", 3, &g, &data), 0);
	memcpy(&v, data, sizeof(v));
	free(data);
	assert_int_equal(v, 800);
	assert_true(g.flags & ASTRO_CACHE_PINNED);
	astro_cache_close(c);
}

static void injected_put_failure_stores_nothing(void **s)
{
	struct astro_cache *c;
	struct astro_cache_meta m = { .ttl_s = -1 }, g;

	(void)s;
	assert_int_equal(astro_cache_open(&c, dir, 16 << 20), 0);
	astro_cache_inject_put_failure(c, 1, -EIO);
	assert_int_equal(astro_cache_put(c, "tle", "x", 1, &m, "y", 1), -EIO);
	assert_int_equal(astro_cache_get(c, "tle", "x", 1, &g, NULL), -ENOENT);
	assert_int_equal(astro_cache_put(c, "tle", "x", 1, &m, "y", 1), 0);
	astro_cache_close(c);
}

/* ---- a full disk is not a full map ---------------------------------- */

static char *fsdir;	/* a small tmpfs, mounted for one test */

static int tmpfs_setup(void **s)
{
	(void)s;
	fsdir = unit_tmpdir();
	if (!fsdir)
		return -1;
	if (geteuid() != 0 || mount("astrofs-unit-tmpfs", fsdir, "tmpfs", 0, "size=3m,mode=0700") != 0) {
		rmdir(fsdir);
		free(fsdir);
		fsdir = NULL;	/* the test skips */
	}
	return 0;
}

static int tmpfs_teardown(void **s)
{
	(void)s;
	if (!fsdir)
		return 0;
	/* Unmounted even when the test failed: cmocka runs teardowns. */
	if (umount2(fsdir, MNT_DETACH) != 0 || rmdir(fsdir) != 0)
		return -1;
	free(fsdir);
	return 0;
}

/* Write zeros to path until the file system says it is full. */
static void fill_disk(const char *path)
{
	static char zeros[64 << 10];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t w;

	assert_true(fd >= 0);
	while ((w = write(fd, zeros, sizeof(zeros))) > 0)
		;
	assert_int_equal(errno, ENOSPC);
	/* Also the last few pages a partial write left. */
	while (write(fd, zeros, 512) > 0)
		;
	close(fd);
}

static int nlogged;
static void count_sink(int level, const char *msg, void *arg)
{
	(void)level;
	(void)arg;
	if (strstr(msg, "cache: storing"))
		nlogged++;
}

static void full_disk_keeps_every_entry(void **s)
{
	struct astro_cache *c;
	struct astro_cache_meta m = { .ttl_s = -1 }, g;
	struct astro_cache_stats st;
	char key[32], path[300], *blob = malloc(100 << 10), *back;
	int i, rc;

	(void)s;
	if (!fsdir)
		skip();	/* needs root to mount a tmpfs */
	snprintf(path, sizeof(path), "%s/cache", fsdir);
	/* The map (64 MiB) is far larger than the disk (3 MiB). */
	assert_int_equal(astro_cache_open(&c, path, 64 << 20), 0);
	for (i = 0; i < 10; i++) {	/* ten cached "days" */
		memset(blob, 'a' + i, 100 << 10);
		m.fetched_ms = 1000 + i;
		snprintf(key, sizeof(key), "day%02d", i);
		assert_int_equal(astro_cache_put(c, "tle", key, strlen(key), &m, blob, 100 << 10), 0);
	}
	snprintf(path, sizeof(path), "%s/filler", fsdir);
	fill_disk(path);
	nlogged = 0;
	astro_log_set_sink(count_sink, NULL);
	/* New days do not fit: each put fails, none evicts, one log line. */
	for (i = 10; i < 14; i++) {
		snprintf(key, sizeof(key), "day%02d", i);
		rc = astro_cache_put(c, "tle", key, strlen(key), &m, blob, 100 << 10);
		assert_int_equal(rc, -ENOSPC);
	}
	astro_log_set_sink(NULL, NULL);
	assert_int_equal(nlogged, 1);
	astro_cache_get_stats(c, &st);
	assert_int_equal(st.evictions, 0);
	for (i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "day%02d", i);
		back = NULL;
		assert_int_equal(astro_cache_get(c, "tle", key, strlen(key), &g, (void **)&back), 0);
		assert_int_equal(g.len, 100 << 10);
		assert_true(back[0] == 'a' + i && back[(100 << 10) - 1] == 'a' + i);
		free(back);
	}
	/* Room again: puts work again. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(astro_cache_put(c, "tle", "day10", 5, &m, blob, 100 << 10), 0);
	astro_cache_close(c);
	free(blob);
}

static void lmdb_errno_is_one_map(void **s)
{
	(void)s;
	assert_int_equal(astro_cache_lmdb_errno(0), 0);
	assert_int_equal(astro_cache_lmdb_errno(MDB_NOTFOUND), -ENOENT);
	assert_int_equal(astro_cache_lmdb_errno(MDB_KEYEXIST), -EEXIST);
	assert_int_equal(astro_cache_lmdb_errno(MDB_MAP_FULL), -ENOSPC);
	assert_int_equal(astro_cache_lmdb_errno(MDB_TXN_FULL), -ENOSPC);
	assert_int_equal(astro_cache_lmdb_errno(MDB_DBS_FULL), -EMFILE);
	assert_int_equal(astro_cache_lmdb_errno(MDB_READERS_FULL), -EAGAIN);
	assert_int_equal(astro_cache_lmdb_errno(MDB_MAP_RESIZED), -EAGAIN);
	assert_int_equal(astro_cache_lmdb_errno(MDB_CORRUPTED), -EIO);
	assert_int_equal(astro_cache_lmdb_errno(MDB_VERSION_MISMATCH), -EIO);
	assert_int_equal(astro_cache_lmdb_errno(ENOSPC), -ENOSPC);
	assert_int_equal(astro_cache_lmdb_errno(EACCES), -EACCES);
}

static void unusable_directory_fails(void **s)
{
	struct astro_cache *c;

	(void)s;
	assert_true(astro_cache_open(&c, "/proc/astrofs-nope/x", 1 << 20) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(put_get_roundtrip_and_freshness, setup, teardown),
		cmocka_unit_test_setup_teardown(corrupt_values_are_misses, setup, teardown),
		cmocka_unit_test_setup_teardown(full_map_evicts_oldest_but_never_pinned, setup, teardown),
		cmocka_unit_test_setup_teardown(update_is_atomic_across_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(put_many_stores_all_in_one_go, setup, teardown),
		cmocka_unit_test_setup_teardown(injected_put_failure_stores_nothing, setup, teardown),
		cmocka_unit_test(unusable_directory_fails),
		cmocka_unit_test_setup_teardown(full_disk_keeps_every_entry, tmpfs_setup, tmpfs_teardown),
		cmocka_unit_test(lmdb_errno_is_one_map),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

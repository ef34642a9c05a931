#include "unit.h"
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include "core/astro.h"
#include "core/config.h"
#include "obs/obs_local.h"
#include "obs/prov_obs.h"

/* The tree is driven through its provider functions, as fs.c would, with a
 * second store handle on the same directory standing in for the simulator. */
struct fx {
	char *dir;
	struct astro_config cfg;
	void *priv;
	struct astro_obs_store *sim;
};

static const struct astro_provider *P = &astro_prov_obs;

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct astro_ctx ctx = { 0 };
	char store[512];

	f->dir = unit_tmpdir();
	snprintf(store, sizeof(store), "%s/store", f->dir);
	f->cfg.obs_config = (char *)"tests/data/obs/sites_good.yml";
	f->cfg.obs_store = strdup(store);
	ctx.cfg = &f->cfg;
	if (P->init(&ctx, &f->priv) < 0 || astro_obs_local_open(store, &f->sim) < 0)
		return -1;
	*state = f;
	return 0;
}

/* As setup, with obs_max_pending=5. */
static int setup_cap5(void **state)
{
	int rc = setup(state);

	if (rc == 0) {
		struct fx *f = *state;

		P->destroy(f->priv);
		f->cfg.obs_max_pending = 5;
		struct astro_ctx ctx = { .cfg = &f->cfg };

		rc = P->init(&ctx, &f->priv);
	}
	return rc;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[600];

	P->destroy(f->priv);
	astro_obs_store_close(f->sim);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f->cfg.obs_store);
	free(f->dir);
	free(f);
	return 0;
}

/* Whole content of a read-only file, via open/read/release. */
static char *slurp(struct fx *f, const char *path)
{
	struct astro_file h = { 0 };
	char *out = NULL;
	size_t len = 0;
	int n;

	if (P->open(f->priv, path, O_RDONLY, &h) < 0)
		return NULL;
	do {
		out = realloc(out, len + 4096 + 1);
		n = P->read(f->priv, path, &h, out + len, 4096, (off_t)len);
		assert_true(n >= 0);
		len += (size_t)n;
	} while (n > 0);
	out[len] = '\0';
	P->release(f->priv, path, &h);
	return out;
}

static json_t *slurp_json(struct fx *f, const char *path)
{
	char *txt = slurp(f, path);
	json_t *j;

	assert_non_null(txt);
	j = json_loads(txt, 0, NULL);
	assert_non_null(j);
	free(txt);
	return j;
}

struct names {
	char all[2048];
};

static int add_name(void *buf, const char *name, const struct astro_attr *a)
{
	struct names *n = buf;
	size_t l = strlen(n->all);

	(void)a;
	snprintf(n->all + l, sizeof(n->all) - l, "%s,", name);
	return 0;
}

static void tree_shape(void **state)
{
	struct fx *f = *state;
	struct names n = { "" };
	struct astro_attr a;
	char *txt;
	json_t *j;

	assert_int_equal(P->readdir(f->priv, "", add_name, &n), 0);
	assert_string_equal(n.all, "README,sites,site1,saf-2,");
	n.all[0] = '\0';
	assert_int_equal(P->readdir(f->priv, "site1", add_name, &n), 0);
	assert_string_equal(n.all, "info,command,status,jobs,images,");
	assert_int_equal(P->getattr(f->priv, "site1/command", &a), 0);
	assert_true(a.kind == ASTRO_FILE && (a.flags & ASTRO_ATTR_WRITABLE));
	assert_int_equal(P->getattr(f->priv, "site3", &a), -ENOENT);
	assert_int_equal(P->getattr(f->priv, "site1/jobs/nope", &a), -ENOENT);
	assert_int_equal(P->getattr(f->priv, "site1/images/latest", &a), -ENOENT);
	/* info: the file's block as JSON; getattr's size is the content's. */
	j = slurp_json(f, "site1/info");
	assert_string_equal(json_string_value(json_object_get(j, "name")), "Sunshine Hill");
	json_decref(j);
	txt = slurp(f, "site1/info");
	assert_int_equal(P->getattr(f->priv, "site1/info", &a), 0);
	assert_int_equal(a.size, strlen(txt));
	free(txt);
	txt = slurp(f, "README");
	assert_non_null(strstr(txt, "cancel <job-id>|all"));
	free(txt);
	struct astro_file h = { 0 };
	assert_int_equal(P->open(f->priv, "site1/info", O_WRONLY, &h), -EACCES);
}

/* Read everything the command handle has for us (offset ignored). */
static char *replies(struct fx *f, struct astro_file *h)
{
	static char buf[4096];
	int n = P->read(f->priv, "site1/command", h, buf, sizeof(buf) - 1, 12345);

	assert_true(n >= 0);
	buf[n] = '\0';
	return buf;
}

static const char *job_state(struct fx *f, const char *id)
{
	static char st[32];
	char path[128];
	json_t *j;

	snprintf(path, sizeof(path), "site1/jobs/%s", id);
	j = slurp_json(f, path);
	astro_strlcpy(st, json_string_value(json_object_get(j, "state")), sizeof(st));
	json_decref(j);
	return st;
}

static int count_cb(void *buf, const char *name, const struct astro_attr *a)
{
	(void)name;
	(void)a;
	(*(int *)buf)++;
	return 0;
}

static int jobs_count(struct fx *f)
{
	int n = 0;

	assert_int_equal(P->readdir(f->priv, "site1/jobs", count_cb, &n), 0);
	return n;
}

static void command_transactions(void **state)
{
	struct fx *f = *state;
	struct astro_file h = { 0 };
	char id1[32], id2[32], line[80], *r;
	const char *w;

	assert_int_equal(P->open(f->priv, "site1/command", O_RDWR, &h), 0);
	assert_true(h.direct_io && h.nonseekable);
	/* Before any request: a hint, not an error. */
	assert_non_null(strstr(replies(f, &h), "README"));
	w = "park\n# comment\nexpose 1\n";
	assert_int_equal(P->write(f->priv, "site1/command", &h, w, strlen(w), 0), (int)strlen(w));
	r = replies(f, &h);
	assert_int_equal(strncmp(r, "ok ", 3), 0);
	memcpy(id1, r + 3, 26);
	id1[26] = '\0';
	assert_non_null(strstr(r, " park\nok "));
	memcpy(id2, strstr(r, " park\nok ") + 9, 26);
	id2[26] = '\0';
	assert_non_null(strstr(r, " expose\n"));
	assert_string_equal(replies(f, &h), "");	/* consumed */
	assert_string_equal(job_state(f, id1), "QUEUED");
	assert_int_equal(jobs_count(f), 2);

	/* One bad line: EINVAL, the reason on the handle, nothing queued. */
	w = "unpark\ngoto ra=24 dec=0\n";
	assert_int_equal(P->write(f->priv, "site1/command", &h, w, strlen(w), 99), -EINVAL);
	r = replies(f, &h);
	assert_non_null(strstr(r, "err line 2: goto: ra '24' not in hours"));
	assert_null(strstr(r, "ok "));
	assert_int_equal(jobs_count(f), 2);

	assert_int_equal(P->write(f->priv, "site1/command", &h, "", 0, 0), 0);
	/* A line split over writes; the offset is ignored. */
	assert_int_equal(P->write(f->priv, "site1/command", &h, "unpa", 4, 0), 4);
	assert_int_equal(P->write(f->priv, "site1/command", &h, "rk\ntrack", 8, 0), 8);
	assert_int_equal(P->write(f->priv, "site1/command", &h, "ing on", 6, 0), 6);
	assert_non_null(strstr(replies(f, &h), " unpark\nok "));
	/* ... and the unterminated "tracking on" went at that first read. */
	assert_int_equal(jobs_count(f), 4);

	/* cancel: a queued target ends at once; a second cancel is refused. */
	snprintf(line, sizeof(line), "cancel %s\n", id2);
	assert_int_equal(P->write(f->priv, "site1/command", &h, line, strlen(line), 0),
			 (int)strlen(line));
	assert_non_null(strstr(replies(f, &h), " cancel\n"));
	assert_string_equal(job_state(f, id2), "CANCELED");
	assert_int_equal(P->write(f->priv, "site1/command", &h, line, strlen(line), 0), -EINVAL);
	assert_non_null(strstr(replies(f, &h), "err line 1: cancel: job"));
	assert_int_equal(P->truncate(f->priv, "site1/command", &h, 0), 0);
	assert_int_equal(P->release(f->priv, "site1/command", &h), 0);

	/* The site sees the commands in order; the record follows it. */
	struct astro_obs_job j;
	assert_int_equal(astro_obs_store_receive(f->sim, "site1", false, &j), 0);
	assert_string_equal(j.id, id1);
	assert_string_equal(job_state(f, id1), "RECEIVED");

	/* A handle closed with an unterminated line still queues it. */
	int before = jobs_count(f);
	assert_int_equal(P->open(f->priv, "site1/command", O_WRONLY, &h), 0);
	assert_int_equal(P->write(f->priv, "site1/command", &h, "stop", 4, 0), 4);
	assert_int_equal(P->release(f->priv, "site1/command", &h), 0);
	assert_int_equal(jobs_count(f), before + 1);
}

static void put_status(struct fx *f, const char *site, int64_t ts)
{
	char buf[256];

	snprintf(buf, sizeof(buf),
		 "{\"State\":\"State\",\"site\":\"%s\",\"timestamp\":\"%lld\","
		 "\"mnt1_ra\":\"5.5\",\"mnt1_is_parked\":\"False\","
		 "\"cam1_last_image_name\":\"empty\"}", site, (long long)ts);
	assert_int_equal(astro_obs_store_status_put(f->sim, site, buf), 0);
}

static void status_freshness(void **state)
{
	struct fx *f = *state;
	int64_t now = astro_now_ms() / 1000;
	json_t *j;
	char *txt;

	/* Never published. */
	j = slurp_json(f, "site1/status");
	assert_string_equal(json_string_value(json_object_get(j, "freshness")), "never");
	assert_true(json_is_null(json_object_get(j, "age_s")));
	assert_true(json_is_null(json_object_get(j, "record")));
	json_decref(j);
	txt = slurp(f, "sites");
	assert_string_equal(txt, "site1\t-\tnever\nsaf-2\t-\tnever\n");
	free(txt);

	/* 400 s old: between the 300 s and 600 s thresholds. */
	put_status(f, "site1", now - 400);
	j = slurp_json(f, "site1/status");
	assert_string_equal(json_string_value(json_object_get(j, "freshness")), "aging");
	assert_true(json_integer_value(json_object_get(j, "age_s")) >= 400);
	assert_true(json_integer_value(json_object_get(j, "age_s")) < 460);
	assert_false(json_is_true(json_object_get(j, "clock_skew_suspect")));
	/* Devices are typed and grouped. */
	json_t *mount = json_object_get(json_object_get(j, "devices"), "mount");
	assert_true(json_real_value(json_object_get(mount, "ra")) == 5.5);
	assert_true(json_is_false(json_object_get(mount, "is_parked")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "record"), "site")),
			    "site1");
	json_decref(j);

	put_status(f, "site1", now - 5);
	j = slurp_json(f, "site1/status");
	assert_string_equal(json_string_value(json_object_get(j, "freshness")), "fresh");
	json_decref(j);

	put_status(f, "saf-2", now - 3 * 3600 - 61);
	j = slurp_json(f, "saf-2/status");
	assert_string_equal(json_string_value(json_object_get(j, "freshness")), "stale");
	assert_string_equal(json_string_value(json_object_get(j, "age")), "3:01:01");
	json_decref(j);
	txt = slurp(f, "sites");
	assert_non_null(strstr(txt, "\tfresh\nsaf-2\t"));
	assert_non_null(strstr(txt, "\tstale\n"));
	free(txt);

	/* A site clock a minute ahead: age 0, flagged. */
	put_status(f, "site1", now + 60);
	j = slurp_json(f, "site1/status");
	assert_int_equal(json_integer_value(json_object_get(j, "age_s")), 0);
	assert_true(json_is_true(json_object_get(j, "clock_skew_suspect")));
	json_decref(j);

	/* Thresholds are settable (tests, and later a mount option). */
	astro_prov_obs_set_freshness(f->priv, 2, 4);
	put_status(f, "site1", now - 3);
	j = slurp_json(f, "site1/status");
	assert_string_equal(json_string_value(json_object_get(j, "freshness")), "aging");
	json_decref(j);
}

static void images_listing(void **state)
{
	struct fx *f = *state;
	struct names n = { "" };
	struct astro_attr a;
	char link[256], *txt;

	assert_int_equal(P->readdir(f->priv, "site1/images", add_name, &n), 0);
	assert_string_equal(n.all, "");
	assert_int_equal(astro_obs_store_image_put(f->sim, "site1", "100_site1_testimage_1s_no9.jpg",
						   "nine", 4, 9), 0);
	assert_int_equal(astro_obs_store_image_put(f->sim, "site1", "100_site1_testimage_1s_no10.jpg",
						   "ten!!", 5, 10), 0);
	/* A file in the folder that never entered the index is not listed. */
	char stray[600];
	snprintf(stray, sizeof(stray), "%s/store/images/site1/partial.jpg", f->dir);
	FILE *sf = fopen(stray, "w");
	assert_non_null(sf);
	fclose(sf);
	assert_int_equal(P->readdir(f->priv, "site1/images", add_name, &n), 0);
	assert_string_equal(n.all, "100_site1_testimage_1s_no10.jpg,100_site1_testimage_1s_no9.jpg,latest,");
	assert_int_equal(P->getattr(f->priv, "site1/images/partial.jpg", &a), -ENOENT);
	assert_int_equal(P->getattr(f->priv, "site1/images/latest", &a), 0);
	assert_int_equal(a.kind, ASTRO_LINK);
	assert_int_equal(P->readlink(f->priv, "site1/images/latest", link, sizeof(link)), 0);
	assert_string_equal(link, "100_site1_testimage_1s_no10.jpg");
	assert_int_equal(P->getattr(f->priv, "site1/images/100_site1_testimage_1s_no9.jpg", &a), 0);
	assert_int_equal(a.size, 4);
	txt = slurp(f, "site1/images/100_site1_testimage_1s_no9.jpg");
	assert_string_equal(txt, "nine");
	free(txt);
	/* Another site's images stay apart. */
	n.all[0] = '\0';
	assert_int_equal(P->readdir(f->priv, "saf-2/images", add_name, &n), 0);
	assert_string_equal(n.all, "");
}

static void no_sites_file(void **state)
{
	struct astro_config cfg = { 0 };
	struct astro_ctx ctx = { .cfg = &cfg };
	struct names n = { "" };
	void *priv;

	(void)state;
	cfg.obs_store = (char *)"/nonexistent/astrofs-obs-never-created";
	assert_int_equal(P->init(&ctx, &priv), 0);
	assert_int_equal(P->readdir(priv, "", add_name, &n), 0);
	assert_string_equal(n.all, "README,sites,");
	P->destroy(priv);
	cfg.obs_config = (char *)"tests/data/obs/sites_bad_lat.yml";
	assert_int_equal(P->init(&ctx, &priv), -EINVAL);
}

/*
 * One write(2) as the kernel hands it over: pieces of ASTRO_WRITE_PIECE at
 * consecutive offsets, stopping at the first refusal.  *accepted: what
 * write(2) would return.
 */
static int write_pieces(struct fx *f, struct astro_file *h, const char *text, size_t len,
			size_t *accepted)
{
	size_t off = 0;
	int rc = 0;

	while (off < len) {
		size_t n = len - off < ASTRO_WRITE_PIECE ? len - off : ASTRO_WRITE_PIECE;

		rc = P->write(f->priv, "site1/command", h, text + off, n, (off_t)off);
		if (rc < 0)
			break;
		off += n;
	}
	*accepted = off;
	return rc < 0 ? rc : (int)off;
}

/* Comment lines with `cmds` park commands spread over them, `len` bytes,
 * then `last` (may be ""); *lines gets the line count. */
static char *big_write(size_t len, unsigned cmds, const char *last, size_t *lines)
{
	char *t = malloc(len + strlen(last) + 1);
	size_t pos = 0, every = len / 40 / (cmds + 1) + 1, k = 0;

	*lines = 0;
	while (pos + 40 <= len) {
		const char *l = (cmds && ++k % every == 0) ? "park\n" : "# filler filler filler filler filler\n";

		if (strcmp(l, "park\n") == 0)
			cmds--;
		memcpy(t + pos, l, strlen(l));
		pos += strlen(l);
		(*lines)++;
	}
	while (cmds--) {
		memcpy(t + pos, "park\n", 5);
		pos += 5;
		(*lines)++;
	}
	strcpy(t + pos, last);
	if (*last)
		(*lines)++;
	return t;
}

/*
 * A write(2) larger than one request is one write: nothing of it is queued
 * until its last piece, an invalid line in a later piece queues nothing and
 * is named by its line in the whole write, and the retried rest fails too.
 */
static void command_write_pieces(void **state)
{
	struct fx *f = *state;
	struct astro_file h = { 0 };
	char want[64], *t, *r;
	size_t lines, acc, len;

	assert_int_equal(P->open(f->priv, "site1/command", O_RDWR, &h), 0);
	t = big_write(5 * ASTRO_WRITE_PIECE / 2, 50, "goto ra=99 dec=0\n", &lines);
	len = strlen(t);
	assert_int_equal(write_pieces(f, &h, t, len, &acc), -EINVAL);
	assert_int_equal(acc, 2 * ASTRO_WRITE_PIECE);	/* a short write(2) */
	assert_int_equal(jobs_count(f), 0);
	/* The caller retries the rest: refused as well, once. */
	assert_int_equal(P->write(f->priv, "site1/command", &h, t + acc, len - acc, 0), -EINVAL);
	r = replies(f, &h);
	snprintf(want, sizeof(want), "err line %zu: goto: ra", lines);
	assert_non_null(strstr(r, want));
	assert_null(strstr(r, "ok "));
	assert_int_equal(jobs_count(f), 0);
	free(t);

	/* The same without the bad line: queued whole, at the last piece. */
	t = big_write(5 * ASTRO_WRITE_PIECE / 2, 50, "", &lines);
	assert_int_equal(P->write(f->priv, "site1/command", &h, t, ASTRO_WRITE_PIECE, 0),
			 (int)ASTRO_WRITE_PIECE);
	assert_int_equal(jobs_count(f), 0);	/* more may follow */
	assert_int_equal(write_pieces(f, &h, t + ASTRO_WRITE_PIECE,
				      strlen(t) - ASTRO_WRITE_PIECE, &acc),
			 (int)(strlen(t) - ASTRO_WRITE_PIECE));
	assert_int_equal(jobs_count(f), 50);
	r = replies(f, &h);
	assert_int_equal(strncmp(r, "ok ", 3), 0);
	free(t);

	/* A write that ends on a full piece is queued at the next read. */
	t = big_write(ASTRO_WRITE_PIECE, 3, "", &lines);
	len = strlen(t);
	memset(t + len, '#', ASTRO_WRITE_PIECE - len - 1);
	t[ASTRO_WRITE_PIECE - 1] = '\n';
	assert_int_equal(P->write(f->priv, "site1/command", &h, t, ASTRO_WRITE_PIECE, 0),
			 (int)ASTRO_WRITE_PIECE);
	assert_int_equal(jobs_count(f), 50);
	assert_non_null(strstr(replies(f, &h), " park\n"));
	assert_int_equal(jobs_count(f), 53);
	free(t);
	assert_int_equal(P->release(f->priv, "site1/command", &h), 0);
}

/* obs_max_pending bounds one write and the site's queue; replies stay bounded. */
static void command_caps(void **state)
{
	struct fx *f = *state;
	struct astro_file h = { 0 };
	char bad[6 * 1000 + 1], *r;
	int i, n;

	assert_int_equal(P->open(f->priv, "site1/command", O_RDWR, &h), 0);
	const char *six = "park\npark\npark\npark\npark\npark\n";
	assert_int_equal(P->write(f->priv, "site1/command", &h, six, strlen(six), 0), -EDQUOT);
	assert_non_null(strstr(replies(f, &h), "err line 6: more than 5 commands in one write"));
	assert_int_equal(jobs_count(f), 0);
	const char *three = "park\nunpark\npark\n";
	assert_int_equal(P->write(f->priv, "site1/command", &h, three, strlen(three), 0),
			 (int)strlen(three));
	assert_int_equal(P->write(f->priv, "site1/command", &h, three, strlen(three), 0), -EDQUOT);
	r = replies(f, &h);
	assert_non_null(strstr(r, "err queue full: site site1 would have more than 5"));
	assert_int_equal(jobs_count(f), 3);
	/* A full queue can still be cancelled. */
	const char *two = "park\npark\n";
	assert_int_equal(P->write(f->priv, "site1/command", &h, two, strlen(two), 0), (int)strlen(two));
	const char *cancel = "cancel all\nstop\n";
	assert_int_equal(P->write(f->priv, "site1/command", &h, cancel, strlen(cancel), 0),
			 (int)strlen(cancel));
	replies(f, &h);

	/* A thousand bad lines: ten reasons and a count, not a thousand. */
	for (i = 0; i < 1000; i++)
		memcpy(bad + 6 * i, "bogus\n", 6);
	bad[6000] = '\0';
	assert_int_equal(P->write(f->priv, "site1/command", &h, bad, 6000, 0), -EINVAL);
	r = replies(f, &h);
	n = 0;
	for (const char *p = r; (p = strstr(p, "err line ")); p++)
		n++;
	assert_int_equal(n, ASTRO_OBS_ERR_SHOWN);
	assert_non_null(strstr(r, "err 990 more invalid lines\n"));

	/* Never read: the replies stop growing (ENOBUFS) near the bound. */
	for (i = 0; i < 10000; i++) {
		n = P->write(f->priv, "site1/command", &h, bad, 6000, 0);
		if (n == -ENOBUFS)
			break;
		assert_int_equal(n, -EINVAL);
	}
	assert_int_equal(n, -ENOBUFS);
	size_t total = 0;
	char buf[4096];

	while ((n = P->read(f->priv, "site1/command", &h, buf, sizeof(buf), 0)) > 0)
		total += (size_t)n;
	assert_true(total > ASTRO_OBS_REPLY_MAX);
	assert_true(total < ASTRO_OBS_REPLY_MAX + 4096);
	/* Read: writes are taken again. */
	assert_int_equal(P->write(f->priv, "site1/command", &h, "park\n", 5, 0), 5);
	assert_int_equal(P->release(f->priv, "site1/command", &h), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(tree_shape, setup, teardown),
		cmocka_unit_test_setup_teardown(command_transactions, setup, teardown),
		cmocka_unit_test_setup_teardown(command_write_pieces, setup, teardown),
		cmocka_unit_test_setup_teardown(command_caps, setup_cap5, teardown),
		cmocka_unit_test_setup_teardown(status_freshness, setup, teardown),
		cmocka_unit_test_setup_teardown(images_listing, setup, teardown),
		cmocka_unit_test(no_sites_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* obs_local.c — the `local` /obs store backend over LMDB (see obs_local.h). */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include <lmdb.h>
#include "core/astro.h"
#include "core/log.h"
#include "services/cache.h"
#include "obs_local.h"
#include "ulid.h"

#define MAP_SIZE (256ull << 20)
#define KEY_MAX 256

struct local {
	MDB_env *env;
	MDB_dbi queue, jobs, status, images, counters;
	char *dir;
	unsigned retention_s;
	unsigned max_pending;
};

/* LMDB codes as every astrofs environment maps them (cache.h). */
static int mdb_errno(int rc)
{
	return astro_cache_lmdb_errno(rc);
}

static MDB_val key_of(char *buf, const char *a, const char *b)
{
	int n = snprintf(buf, KEY_MAX, "%s/%s", a, b);

	assert(n > 0 && n < KEY_MAX);
	return (MDB_val){ (size_t)n, buf };
}

static int put_json(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, json_t *j)
{
	char *txt = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	MDB_val v;
	int rc;

	if (!txt)
		return -ENOMEM;
	v.mv_size = strlen(txt);
	v.mv_data = txt;
	rc = mdb_errno(mdb_put(txn, dbi, k, &v, 0));
	free(txt);
	return rc;
}

static json_t *get_json(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, int *rc)
{
	MDB_val v;
	json_t *j;

	*rc = mdb_errno(mdb_get(txn, dbi, k, &v));
	if (*rc < 0)
		return NULL;
	j = json_loadb(v.mv_data, v.mv_size, 0, NULL);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		*rc = -EIO;	/* a record we did not write */
		return NULL;
	}
	return j;
}

/* Cancel one queued job inside txn: mark it, drop it from the queue. */
static int cancel_queued(struct local *l, MDB_txn *txn, const char *site,
			 const char *id, json_t *job, const char *by)
{
	char kb[KEY_MAX], msg[80];
	MDB_val k;
	int rc, c;

	snprintf(msg, sizeof(msg), "canceled by %s", by);
	rc = astro_obs_job_set_state(job, ASTRO_OBS_CANCELED, msg, -1, NULL);
	if (rc < 0)
		return rc;
	k = key_of(kb, site, id);
	rc = put_json(txn, l->jobs, &k, job);
	for (c = 0; rc == 0 && c < 2; c++) {
		char qb[KEY_MAX], cls[40];
		MDB_val qk;

		snprintf(cls, sizeof(cls), "%d/%s", c, id);
		qk = key_of(qb, site, cls);
		rc = mdb_del(txn, l->queue, &qk, NULL);
		rc = rc == MDB_NOTFOUND ? 0 : mdb_errno(rc);
	}
	return rc;
}

/*
 * Collect the keys of dbi that start with prefix and are keylen bytes long
 * (NUL-terminated copies in *out, malloc'd).  Collected first because
 * writing while a cursor walks the same database invites skipped entries.
 */
static int collect_keys(MDB_txn *txn, MDB_dbi dbi, const char *prefix, size_t keylen,
			char (**out)[KEY_MAX], size_t *n)
{
	MDB_cursor *cur;
	MDB_val k, v;
	size_t plen = strlen(prefix), cap = 0;
	int rc, r;

	*out = NULL;
	*n = 0;
	if (keylen >= KEY_MAX)
		return -EINVAL;
	rc = mdb_errno(mdb_cursor_open(txn, dbi, &cur));
	if (rc < 0)
		return rc;
	k = (MDB_val){ plen, (void *)prefix };
	for (r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); r == 0;
	     r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
			break;
		if (k.mv_size != keylen)
			continue;
		if (*n == cap) {
			void *nb = realloc(*out, (cap = cap ? cap * 2 : 16) * sizeof(**out));

			if (!nb) {
				rc = -ENOMEM;
				break;
			}
			*out = nb;
		}
		memcpy((*out)[*n], k.mv_data, keylen);
		(*out)[(*n)++][keylen] = '\0';
	}
	mdb_cursor_close(cur);
	if (rc < 0) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* Entries of dbi whose key starts with prefix, counting stops past limit. */
static int count_prefix(MDB_txn *txn, MDB_dbi dbi, const char *prefix, size_t limit,
			size_t *n)
{
	MDB_cursor *cur;
	MDB_val k, v;
	size_t plen = strlen(prefix);
	int rc, r;

	*n = 0;
	rc = mdb_errno(mdb_cursor_open(txn, dbi, &cur));
	if (rc < 0)
		return rc;
	k = (MDB_val){ plen, (void *)prefix };
	for (r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); r == 0 && *n <= limit;
	     r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
			break;
		(*n)++;
	}
	if (r != 0 && r != MDB_NOTFOUND)
		rc = mdb_errno(r);
	mdb_cursor_close(cur);
	return rc;
}

/*
 * Resolve a cancel inside the enqueue transaction.  Returns 1 when the site
 * must still act (a target is already with it), 0 when everything was done
 * here, or -EINVAL with err set.
 */
static int resolve_cancel(struct local *l, MDB_txn *txn, const char *site,
			  const struct astro_obs_cmd *c, const char *cid,
			  char *err, size_t errlen)
{
	char kb[KEY_MAX];
	MDB_val k;
	int rc, with_site = 0;
	json_t *job;

	if (!c->cancel_all) {
		k = key_of(kb, site, c->cancel_id);
		job = get_json(txn, l->jobs, &k, &rc);
		if (!job) {
			if (rc == -ENOENT)
				snprintf(err, errlen, "cancel: no job %s", c->cancel_id);
			return rc == -ENOENT ? -EINVAL : rc;
		}
		enum astro_obs_state st = astro_obs_job_state(job);

		if (astro_obs_job_state_terminal(st)) {
			snprintf(err, errlen, "cancel: job %s already %s", c->cancel_id,
				 astro_obs_job_state_name(st));
			rc = -EINVAL;
		} else if (st == ASTRO_OBS_QUEUED || st == ASTRO_OBS_SENT) {
			rc = cancel_queued(l, txn, site, c->cancel_id, job, cid);
		} else {
			rc = 1;
		}
		json_decref(job);
		return rc;
	}
	/* cancel all: every live job of the site. */
	char (*keys)[KEY_MAX] = NULL;
	size_t n = 0, i, plen = (size_t)snprintf(kb, sizeof(kb), "%s/", site);

	rc = collect_keys(txn, l->jobs, kb, plen + ASTRO_OBS_ID_LEN, &keys, &n);
	if (rc < 0)
		return rc;
	rc = 0;
	for (i = 0; i < n && rc >= 0; i++) {
		const char *id = keys[i] + plen;
		MDB_val jk = key_of(kb, site, id);

		job = get_json(txn, l->jobs, &jk, &rc);
		if (!job)
			break;
		enum astro_obs_state st = astro_obs_job_state(job);

		if (st == ASTRO_OBS_QUEUED || st == ASTRO_OBS_SENT)
			rc = cancel_queued(l, txn, site, id, job, cid);
		else if (!astro_obs_job_state_terminal(st))
			with_site = 1;
		json_decref(job);
	}
	if (rc >= 0)
		rc = with_site;
	free(keys);
	return rc;
}

static int local_enqueue(void *impl, const char *site, const struct astro_obs_cmd *cmds,
			 size_t n, char (*ids)[ASTRO_OBS_ID_LEN + 1], char *err,
			 size_t errlen)
{
	struct local *l = impl;
	MDB_txn *txn = NULL;
	char sub[200] = "";
	size_t i;
	int rc;

	if (!astro_obs_job_site_valid(site))
		return -EINVAL;
	rc = mdb_errno(mdb_txn_begin(l->env, NULL, 0, &txn));
	if (rc < 0)
		return rc;
	for (i = 0; i < n; i++) {
		const struct astro_obs_cmd *c = &cmds[i];
		char line[ASTRO_OBS_LINE_MAX + 1], kb[KEY_MAX], cls[40];
		MDB_val k, empty = { 0, NULL };
		json_t *job;
		int act = 1;

		rc = astro_ulid_new(ids[i]);
		if (rc < 0)
			goto out;
		if (astro_obs_cmd_format(c, line, sizeof(line)) < 0) {
			rc = -EINVAL;
			goto out;
		}
		if (c->verb == ASTRO_OBS_CANCEL) {
			act = resolve_cancel(l, txn, site, c, ids[i], sub, sizeof(sub));
			if (act < 0) {
				rc = act;
				if (err && errlen)
					snprintf(err, errlen, "command %zu: %s", i + 1,
						 sub[0] ? sub : strerror(-rc));
				goto out;
			}
		}
		job = astro_obs_job_new(site, ids[i], c, line, l->retention_s);
		if (!job) {
			rc = -ENOMEM;
			goto out;
		}
		if (!act) {
			/* Nothing left for the site to do. */
			rc = astro_obs_job_set_state(job, ASTRO_OBS_COMPLETE, "done locally: no job was running",
				       -1, NULL);
		}
		k = key_of(kb, site, ids[i]);
		if (rc == 0)
			rc = put_json(txn, l->jobs, &k, job);
		json_decref(job);
		if (rc == 0 && act) {
			snprintf(cls, sizeof(cls), "%d/%s", astro_obs_job_urgent(c) ? 0 : 1, ids[i]);
			k = key_of(kb, site, cls);
			rc = mdb_errno(mdb_put(txn, l->queue, &k, &empty, 0));
		}
		if (rc < 0)
			goto out;
	}
	/* The cap holds after the whole write (a cancel frees room), in the
	 * same transaction, so concurrent writers cannot overshoot it. */
	if (l->max_pending) {
		char pb[KEY_MAX];
		size_t waiting;

		snprintf(pb, sizeof(pb), "%s/", site);
		rc = count_prefix(txn, l->queue, pb, l->max_pending, &waiting);
		if (rc == 0 && waiting > l->max_pending) {
			rc = -EDQUOT;
			if (err && errlen)
				snprintf(err, errlen,
					 "queue full: site %s would have more than %u commands waiting (obs_max_pending)",
					 site, l->max_pending);
		}
		if (rc < 0)
			goto out;
	}
	rc = mdb_errno(mdb_txn_commit(txn));
	txn = NULL;
out:
	if (txn)
		mdb_txn_abort(txn);
	return rc;
}

static int local_receive(void *impl, const char *site, bool urgent_only,
			 struct astro_obs_job *out)
{
	struct local *l = impl;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	char pb[KEY_MAX], kb[KEY_MAX], id[ASTRO_OBS_ID_LEN + 1];
	bool delivered = false, changed = false;
	size_t plen, base;
	int rc;

	if (!astro_obs_job_site_valid(site))
		return -EINVAL;
	plen = (size_t)snprintf(pb, sizeof(pb), "%s/%s", site, urgent_only ? "0/" : "");
	base = strlen(site) + 3;	/* key "<site>/<class>/<id>" */
	rc = mdb_errno(mdb_txn_begin(l->env, NULL, 0, &txn));
	if (rc < 0)
		return rc;
	while (!delivered) {
		MDB_val k = { plen, pb }, v, jk;
		json_t *job;
		int64_t created;

		rc = mdb_errno(mdb_cursor_open(txn, l->queue, &cur));
		if (rc < 0)
			goto out;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND || (rc == 0 && (k.mv_size < plen ||
						       memcmp(k.mv_data, pb, plen) != 0)))
			break;
		rc = mdb_errno(rc);
		if (rc == 0 && k.mv_size != base + ASTRO_OBS_ID_LEN)
			rc = -EIO;
		if (rc < 0)
			goto out;
		memcpy(id, (char *)k.mv_data + base, ASTRO_OBS_ID_LEN);
		id[ASTRO_OBS_ID_LEN] = '\0';
		rc = mdb_errno(mdb_cursor_del(cur, 0));
		mdb_cursor_close(cur);
		cur = NULL;
		if (rc < 0)
			goto out;
		changed = true;
		jk = key_of(kb, site, id);
		job = get_json(txn, l->jobs, &jk, &rc);
		if (!job) {
			/* A queue entry without a record: drop it, say so. */
			astro_warn("obs store: %s: queued %s has no readable record", site, id);
			continue;
		}
		created = json_integer_value(json_object_get(job, "created_ms"));
		bool expired = astro_obs_job_overdue(job, astro_now_ms());

		/* A refused transition means the job ended meanwhile: skip. */
		if (astro_obs_job_set_state(job, expired ? ASTRO_OBS_EXPIRED : ASTRO_OBS_RECEIVED,
			      expired ? "not received within retention" : NULL, -1,
			      NULL) == 0) {
			rc = put_json(txn, l->jobs, &jk, job);
			if (!expired) {
				const char *line = json_string_value(json_object_get(job, "line"));

				astro_strlcpy(out->id, id, sizeof(out->id));
				astro_strlcpy(out->line, line ? line : "", sizeof(out->line));
				out->state = ASTRO_OBS_RECEIVED;
				out->created_ms = created;
				delivered = true;
			}
		}
		json_decref(job);
		if (rc < 0)
			goto out;
	}
	if (cur)
		mdb_cursor_close(cur);
	cur = NULL;
	rc = 0;
	if (changed) {
		rc = mdb_errno(mdb_txn_commit(txn));
		txn = NULL;
	}
	if (rc == 0 && !delivered)
		rc = -EAGAIN;
out:
	if (cur)
		mdb_cursor_close(cur);
	if (txn)
		mdb_txn_abort(txn);
	return rc;
}

static int local_update(void *impl, const char *site, const char *id,
			enum astro_obs_state to, const char *message, double eta_s,
			const char *image)
{
	struct local *l = impl;
	MDB_txn *txn = NULL;
	char kb[KEY_MAX];
	MDB_val k;
	json_t *job = NULL;
	int rc;

	if (!astro_obs_job_site_valid(site) || !astro_obs_job_id_valid(id))
		return -EINVAL;
	rc = mdb_errno(mdb_txn_begin(l->env, NULL, 0, &txn));
	if (rc < 0)
		return rc;
	k = key_of(kb, site, id);
	job = get_json(txn, l->jobs, &k, &rc);
	if (!job)
		goto out;
	rc = astro_obs_job_set_state(job, to, message, eta_s, image);
	if (rc < 0)
		goto out;
	rc = put_json(txn, l->jobs, &k, job);
	if (rc < 0)
		goto out;
	rc = mdb_errno(mdb_txn_commit(txn));
	txn = NULL;
out:
	json_decref(job);
	if (txn)
		mdb_txn_abort(txn);
	return rc;
}

/* A copy of one value in a read transaction, NUL-terminated. */
static int get_copy(struct local *l, MDB_dbi dbi, MDB_val *k, char **out, size_t *len)
{
	MDB_txn *txn;
	MDB_val v;
	int rc;

	rc = mdb_errno(mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn));
	if (rc < 0)
		return rc;
	rc = mdb_errno(mdb_get(txn, dbi, k, &v));
	if (rc == 0) {
		*out = malloc(v.mv_size + 1);
		if (*out) {
			memcpy(*out, v.mv_data, v.mv_size);
			(*out)[v.mv_size] = '\0';
			if (len)
				*len = v.mv_size;
		} else {
			rc = -ENOMEM;
		}
	}
	mdb_txn_abort(txn);
	return rc;
}

static int local_job_json(void *impl, const char *site, const char *id, char **json)
{
	struct local *l = impl;
	char kb[KEY_MAX], *raw = NULL;
	MDB_val k;
	int rc;

	if (!astro_obs_job_site_valid(site) || !astro_obs_job_id_valid(id))
		return -ENOENT;
	k = key_of(kb, site, id);
	rc = get_copy(l, l->jobs, &k, &raw, NULL);
	if (rc < 0)
		return rc;
	rc = astro_obs_job_pretty(raw, json);
	free(raw);
	return rc;
}

/* Walk the keys "<site>/<rest>" of dbi in order, calling fn(arg, rest, value). */
static int walk(struct local *l, MDB_dbi dbi, const char *site,
		int (*fn)(void *arg, const char *rest, size_t restlen, MDB_val *v),
		void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	char prefix[KEY_MAX];
	size_t plen;
	int rc, r;

	if (!astro_obs_job_site_valid(site))
		return -EINVAL;
	plen = (size_t)snprintf(prefix, sizeof(prefix), "%s/", site);
	rc = mdb_errno(mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn));
	if (rc < 0)
		return rc;
	rc = mdb_errno(mdb_cursor_open(txn, dbi, &cur));
	if (rc < 0)
		goto out;
	k = (MDB_val){ plen, prefix };
	for (r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); r == 0;
	     r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
			break;
		rc = fn(arg, (char *)k.mv_data + plen, k.mv_size - plen, &v);
		if (rc != 0)
			goto out;
	}
	rc = r == MDB_NOTFOUND || r == 0 ? 0 : mdb_errno(r);
out:
	if (cur)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}

struct jobs_walk {
	astro_obs_job_fn fn;
	void *arg;
};

static int jobs_step(void *arg, const char *rest, size_t restlen, MDB_val *v)
{
	struct jobs_walk *w = arg;
	char id[ASTRO_OBS_ID_LEN + 1];
	json_t *j;
	enum astro_obs_state st;

	if (restlen != ASTRO_OBS_ID_LEN)
		return 0;
	memcpy(id, rest, restlen);
	id[restlen] = '\0';
	j = json_loadb(v->mv_data, v->mv_size, 0, NULL);
	st = j ? astro_obs_job_state(j) : ASTRO_OBS_FAILED;
	json_decref(j);
	return w->fn(w->arg, id, st);
}

static int local_jobs(void *impl, const char *site, astro_obs_job_fn fn, void *arg)
{
	struct local *l = impl;
	struct jobs_walk w = { fn, arg };

	return walk(l, l->jobs, site, jobs_step, &w);
}

static int local_status_put(void *impl, const char *site, const char *json)
{
	struct local *l = impl;
	MDB_txn *txn;
	MDB_val k = { site ? strlen(site) : 0, (void *)site };
	MDB_val v = { json ? strlen(json) : 0, (void *)json };
	int rc;

	if (!astro_obs_job_site_valid(site) || !json)
		return -EINVAL;
	rc = mdb_errno(mdb_txn_begin(l->env, NULL, 0, &txn));
	if (rc < 0)
		return rc;
	rc = mdb_errno(mdb_put(txn, l->status, &k, &v, 0));
	if (rc == 0)
		return mdb_errno(mdb_txn_commit(txn));
	mdb_txn_abort(txn);
	return rc;
}

static int local_status_get(void *impl, const char *site, char **json)
{
	struct local *l = impl;
	MDB_val k = { site ? strlen(site) : 0, (void *)site };

	if (!astro_obs_job_site_valid(site))
		return -ENOENT;
	return get_copy(l, l->status, &k, json, NULL);
}

static int local_counter_next(void *impl, const char *site, const char *counter,
			      uint64_t *value)
{
	struct local *l = impl;
	MDB_txn *txn;
	char kb[KEY_MAX];
	MDB_val k, v;
	uint8_t buf[8];
	uint64_t n = 0;
	int rc, i;

	if (!astro_obs_job_site_valid(site) || !counter || strlen(counter) > 64)
		return -EINVAL;
	k = key_of(kb, site, counter);
	rc = mdb_errno(mdb_txn_begin(l->env, NULL, 0, &txn));
	if (rc < 0)
		return rc;
	rc = mdb_errno(mdb_get(txn, l->counters, &k, &v));
	if (rc == 0 && v.mv_size == 8)
		for (i = 7; i >= 0; i--)
			n = (n << 8) | ((const uint8_t *)v.mv_data)[i];
	else if (rc == 0 || rc == -ENOENT)
		rc = 0;
	n++;
	for (i = 0; i < 8; i++)
		buf[i] = (uint8_t)(n >> (8 * i));
	v = (MDB_val){ 8, buf };
	if (rc == 0)
		rc = mdb_errno(mdb_put(txn, l->counters, &k, &v, 0));
	if (rc == 0) {
		rc = mdb_errno(mdb_txn_commit(txn));
		if (rc == 0)
			*value = n;
		return rc;
	}
	mdb_txn_abort(txn);
	return rc;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int local_image_put(void *impl, const char *site, const char *name,
			   const void *data, size_t len, uint64_t seq)
{
	struct local *l = impl;
	char dir[4096], tmp[4200], path[4200], kb[KEY_MAX];
	MDB_txn *txn = NULL;
	MDB_val k, v;
	json_t *meta = NULL;
	int fd = -1, rc;

	if (!astro_obs_job_site_valid(site) || !name || !astro_obs_job_image_name_valid(name))
		return -EINVAL;
	snprintf(dir, sizeof(dir), "%s/images/%s", l->dir, site);
	rc = astro_mkdir_p(dir, ASTRO_OBS_STORE_DIR_MODE);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.tmp-%s", dir, name);
	/* Names are never reused: refuse before writing anything. */
	if (access(path, F_OK) == 0)
		return -EEXIST;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		  ASTRO_OBS_STORE_FILE_MODE);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, data, len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && link(tmp, path) < 0)	/* link, unlike rename, never replaces */
		rc = -errno;
	unlink(tmp);
	if (rc < 0)
		return rc;
	meta = json_pack("{s:I,s:I,s:I}", "size", (json_int_t)len, "mtime_ms",
			 (json_int_t)astro_now_ms(), "seq", (json_int_t)seq);
	if (!meta) {
		rc = -ENOMEM;
		goto out;
	}
	rc = mdb_errno(mdb_txn_begin(l->env, NULL, 0, &txn));
	if (rc < 0)
		goto out;
	k = key_of(kb, site, name);
	rc = mdb_errno(mdb_get(txn, l->images, &k, &v));
	if (rc == 0)
		rc = -EEXIST;
	else if (rc == -ENOENT)
		rc = put_json(txn, l->images, &k, meta);
	if (rc < 0)
		goto out;
	rc = mdb_errno(mdb_txn_commit(txn));
	txn = NULL;
out:
	if (txn)
		mdb_txn_abort(txn);
	json_decref(meta);
	return rc;
}

struct images_walk {
	astro_obs_image_fn fn;
	void *arg;
};

static int images_step(void *arg, const char *rest, size_t restlen, MDB_val *v)
{
	struct images_walk *w = arg;
	struct astro_obs_image img;
	json_t *j;

	if (restlen > ASTRO_OBS_IMAGE_NAME_MAX)
		return 0;
	memset(&img, 0, sizeof(img));
	memcpy(img.name, rest, restlen);
	j = json_loadb(v->mv_data, v->mv_size, 0, NULL);
	if (!j)
		return 0;
	img.size = (uint64_t)json_integer_value(json_object_get(j, "size"));
	img.mtime_ms = json_integer_value(json_object_get(j, "mtime_ms"));
	img.seq = (uint64_t)json_integer_value(json_object_get(j, "seq"));
	json_decref(j);
	return w->fn(w->arg, &img);
}

static int local_images(void *impl, const char *site, astro_obs_image_fn fn, void *arg)
{
	struct local *l = impl;
	struct images_walk w = { fn, arg };

	return walk(l, l->images, site, images_step, &w);
}

static int local_image_open(void *impl, const char *site, const char *name)
{
	struct local *l = impl;
	char path[4200], kb[KEY_MAX], *raw = NULL;
	MDB_val k;
	int rc, fd;

	if (!astro_obs_job_site_valid(site) || !name || !astro_obs_job_image_name_valid(name))
		return -ENOENT;
	/* Only indexed (complete) images are served. */
	k = key_of(kb, site, name);
	rc = get_copy(l, l->images, &k, &raw, NULL);
	free(raw);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/images/%s/%s", l->dir, site, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int local_expire(void *impl, const char *site)
{
	struct local *l = impl;
	MDB_txn *txn = NULL;
	char prefix[KEY_MAX], kb[KEY_MAX], (*keys)[KEY_MAX] = NULL;
	size_t plen, base, nkeys = 0, i;
	int64_t now = astro_now_ms();
	int rc, n = 0;

	if (!astro_obs_job_site_valid(site))
		return -EINVAL;
	plen = (size_t)snprintf(prefix, sizeof(prefix), "%s/", site);
	base = plen + 2;	/* "<site>/<class>/" */
	rc = mdb_errno(mdb_txn_begin(l->env, NULL, 0, &txn));
	if (rc < 0)
		return rc;
	rc = collect_keys(txn, l->queue, prefix, base + ASTRO_OBS_ID_LEN, &keys, &nkeys);
	if (rc < 0)
		goto out;
	for (i = 0; i < nkeys; i++) {
		MDB_val qk = { strlen(keys[i]), keys[i] }, jk;
		json_t *job;

		jk = key_of(kb, site, keys[i] + base);
		job = get_json(txn, l->jobs, &jk, &rc);
		if (!job)
			continue;
		rc = 0;
		if (astro_obs_job_overdue(job, now) &&
		    astro_obs_job_set_state(job, ASTRO_OBS_EXPIRED, "not received within retention", -1,
			      NULL) == 0) {
			rc = put_json(txn, l->jobs, &jk, job);
			if (rc == 0)
				rc = mdb_errno(mdb_del(txn, l->queue, &qk, NULL));
			n++;
		}
		json_decref(job);
		if (rc < 0)
			goto out;
	}
	rc = 0;
	if (n) {
		rc = mdb_errno(mdb_txn_commit(txn));
		txn = NULL;
	}
	if (rc == 0)
		rc = n;
out:
	free(keys);
	if (txn)
		mdb_txn_abort(txn);
	return rc;
}

static void local_set_retention(void *impl, unsigned seconds)
{
	((struct local *)impl)->retention_s = seconds;
}

static void local_set_max_pending(void *impl, unsigned n)
{
	((struct local *)impl)->max_pending = n;
}

/* Every committed write transaction writes the data file (no
 * MDB_WRITEMAP), so its IN_MODIFY is the store's change signal, across
 * processes. */
static int local_watch(void *impl)
{
	struct local *l = impl;
	char path[4096];
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	if (fd < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/db/data.mdb", l->dir);
	if (inotify_add_watch(fd, path, IN_MODIFY) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static void local_close(void *impl)
{
	struct local *l = impl;

	if (!l)
		return;
	if (l->env)
		mdb_env_close(l->env);
	free(l->dir);
	free(l);
}

static const struct astro_obs_backend local_backend = {
	.name = "local",
	.close = local_close,
	.enqueue = local_enqueue,
	.receive = local_receive,
	.update = local_update,
	.job_json = local_job_json,
	.jobs = local_jobs,
	.status_put = local_status_put,
	.status_get = local_status_get,
	.counter_next = local_counter_next,
	.image_put = local_image_put,
	.images = local_images,
	.image_open = local_image_open,
	.expire = local_expire,
	.set_retention = local_set_retention,
	.set_max_pending = local_set_max_pending,
	.watch = local_watch,
};

int astro_obs_local_open(const char *dir, struct astro_obs_store **out)
{
	struct astro_obs_store *s = NULL;
	struct local *l = NULL;
	char path[4096];
	MDB_txn *txn = NULL;
	int rc, dead = 0;

	*out = NULL;
	if (!dir || !*dir)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	l = calloc(1, sizeof(*l));
	if (!s || !l || !(l->dir = strdup(dir))) {
		rc = -ENOMEM;
		goto out;
	}
	l->retention_s = ASTRO_OBS_RETENTION_S;
	l->max_pending = ASTRO_OBS_MAX_PENDING;
	snprintf(path, sizeof(path), "%s/db", dir);
	rc = astro_mkdir_p(path, ASTRO_OBS_STORE_DIR_MODE);
	if (rc < 0)
		goto out;
	rc = mdb_errno(mdb_env_create(&l->env));
	if (rc < 0)
		goto out;
	mdb_env_set_maxdbs(l->env, 8);
	mdb_env_set_mapsize(l->env, MAP_SIZE);
	/* NOTLS: read transactions are short and may be taken by any FUSE
	 * worker thread. */
	rc = mdb_errno(mdb_env_open(l->env, path, MDB_NOTLS, ASTRO_OBS_STORE_FILE_MODE));
	if (rc < 0)
		goto out;
	/* Free reader slots a killed process left behind. */
	mdb_reader_check(l->env, &dead);
	rc = mdb_errno(mdb_txn_begin(l->env, NULL, 0, &txn));
	if (rc < 0)
		goto out;
	rc = mdb_errno(mdb_dbi_open(txn, "queue", MDB_CREATE, &l->queue));
	if (rc == 0)
		rc = mdb_errno(mdb_dbi_open(txn, "jobs", MDB_CREATE, &l->jobs));
	if (rc == 0)
		rc = mdb_errno(mdb_dbi_open(txn, "status", MDB_CREATE, &l->status));
	if (rc == 0)
		rc = mdb_errno(mdb_dbi_open(txn, "images", MDB_CREATE, &l->images));
	if (rc == 0)
		rc = mdb_errno(mdb_dbi_open(txn, "counters", MDB_CREATE, &l->counters));
	if (rc == 0)
		rc = mdb_errno(mdb_txn_commit(txn));
	else
		mdb_txn_abort(txn);
	if (rc < 0)
		goto out;
	s->ops = &local_backend;
	s->impl = l;
	*out = s;
	return 0;
out:
	local_close(l);
	free(s);
	return rc;
}

/*
 * s3_mem.h — test implementations of the S3 object-client interface
 * (struct astro_s3_ops, services/s3.h), after mountpoint-s3's mock and
 * fault-injecting clients.  Test code only (static, included once by a
 * suite); never linked into the product.
 *
 * mem_new(): an in-memory object store with S3's semantics as the client
 * sees them: ETags change on every put, ranged reads end at the object's
 * end (got < len only there, 0 past it), If-Match -> -ESTALE, missing key
 * -> -ENOENT, ListObjectsV2 in key order with prefix, delimiter (common
 * prefixes), max-keys and continuation tokens, conditional puts.
 * mem_store(m, bucket, key, data, len): put from the test (new ETag).
 * m->calls[op] counts the calls per operation.
 *
 * fault_new(inner): forwards to inner, except that call number fail_nth
 * (1-based, counting every operation; 0: none) fails with `err`, every
 * call fails with `err` while fail_all is set, each call first sleeps
 * latency_ms, and while `truncate` is set a ranged read returns only half
 * of what it should (a body cut short that went unnoticed below).
 */
#ifndef S3_MEM_H
#define S3_MEM_H

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "services/s3.h"

enum mem_op { MEM_GET_RANGE, MEM_GET, MEM_HEAD, MEM_LIST, MEM_PUT, MEM_DEL, MEM_NOPS };

struct mem_obj {
	char *bucket, *key;
	char *data;
	size_t len;
	char etag[64];
	int64_t mtime;
};

struct mem_s3 {
	struct astro_s3 base;
	pthread_mutex_t lock;
	struct mem_obj *o;
	size_t n, cap;
	unsigned version;
	unsigned calls[MEM_NOPS];
};

/* Index of bucket/key or -1 (lock held). */
/* ETags compare without their quotes, as AWS S3 does in If-Match (RGW
 * 16.2 accepts only the unquoted form, so clients send that). */
static int mem_etag_ne(const char *a, const char *b)
{
	size_t la, lb;

	if (*a == '"')
		a++;
	if (*b == '"')
		b++;
	la = strcspn(a, "\"");
	lb = strcspn(b, "\"");
	return la != lb || memcmp(a, b, la) != 0;
}

static long mem_find(struct mem_s3 *m, const char *bucket, const char *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->o[i].bucket, bucket) == 0 && strcmp(m->o[i].key, key) == 0)
			return (long)i;
	return -1;
}

static void mem_info(const struct mem_obj *o, struct astro_s3_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = o->len;
	snprintf(info->etag, sizeof(info->etag), "%s", o->etag);
	info->mtime = o->mtime;
	snprintf(info->last_modified, sizeof(info->last_modified), "@%lld", (long long)o->mtime);
}

/* Create or replace (lock held); 0 or -ENOMEM. */
static int mem_put_locked(struct mem_s3 *m, const char *bucket, const char *key,
			  const void *data, size_t len, struct astro_s3_info *info)
{
	long i = mem_find(m, bucket, key);
	char *copy = malloc(len ? len : 1);
	struct mem_obj *o;

	if (!copy)
		return -ENOMEM;
	memcpy(copy, data, len);
	if (i < 0) {
		if (m->n == m->cap) {
			size_t cap = m->cap ? 2 * m->cap : 16;
			struct mem_obj *no = realloc(m->o, cap * sizeof(*no));

			if (!no) {
				free(copy);
				return -ENOMEM;
			}
			m->o = no;
			m->cap = cap;
		}
		o = &m->o[m->n++];
		o->bucket = strdup(bucket);
		o->key = strdup(key);
	} else {
		o = &m->o[i];
		free(o->data);
	}
	o->data = copy;
	o->len = len;
	snprintf(o->etag, sizeof(o->etag), "\"v%u\"", ++m->version);
	o->mtime = 1700000000 + m->version;
	if (info)
		mem_info(o, info);
	return 0;
}

static int mem_store(struct mem_s3 *m, const char *bucket, const char *key,
		     const void *data, size_t len)
{
	int rc;

	pthread_mutex_lock(&m->lock);
	rc = mem_put_locked(m, bucket, key, data, len, NULL);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

static int mem_get_range(struct astro_s3 *s, const char *bucket, const char *key,
			 uint64_t off, size_t len, const char *if_match, void *buf,
			 size_t *got, struct astro_s3_info *info)
{
	struct mem_s3 *m = (struct mem_s3 *)s;
	long i;
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	m->calls[MEM_GET_RANGE]++;
	*got = 0;
	i = mem_find(m, bucket, key);
	if (i < 0) {
		rc = -ENOENT;
	} else if (if_match && *if_match && mem_etag_ne(if_match, m->o[i].etag)) {
		rc = -ESTALE;
	} else {
		mem_info(&m->o[i], info);
		if (off < m->o[i].len) {
			*got = m->o[i].len - off < len ? m->o[i].len - off : len;
			memcpy(buf, m->o[i].data + off, *got);
		}
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

static int mem_get(struct astro_s3 *s, const char *bucket, const char *key, size_t max,
		   char **body, size_t *len, struct astro_s3_info *info)
{
	struct mem_s3 *m = (struct mem_s3 *)s;
	long i;
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	m->calls[MEM_GET]++;
	*body = NULL;
	*len = 0;
	i = mem_find(m, bucket, key);
	if (i < 0) {
		rc = -ENOENT;
	} else if (max && m->o[i].len > max) {
		rc = -EFBIG;
	} else if (!(*body = malloc(m->o[i].len + 1))) {
		rc = -ENOMEM;
	} else {
		memcpy(*body, m->o[i].data, m->o[i].len);
		(*body)[m->o[i].len] = '\0';
		*len = m->o[i].len;
		mem_info(&m->o[i], info);
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

static int mem_head(struct astro_s3 *s, const char *bucket, const char *key,
		    struct astro_s3_info *info)
{
	struct mem_s3 *m = (struct mem_s3 *)s;
	long i;

	pthread_mutex_lock(&m->lock);
	m->calls[MEM_HEAD]++;
	i = mem_find(m, bucket, key);
	if (i >= 0)
		mem_info(&m->o[i], info);
	pthread_mutex_unlock(&m->lock);
	return i < 0 ? -ENOENT : 0;
}

static int mem_keycmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ListObjectsV2: entries (keys and rolled-up prefixes) in key order after
 * the token (the last entry of the previous page). */
static int mem_list(struct astro_s3 *s, const char *bucket, const char *prefix,
		    const char *delimiter, const char *token, unsigned max_keys,
		    struct astro_s3_list *out)
{
	struct mem_s3 *m = (struct mem_s3 *)s;
	size_t pl = prefix ? strlen(prefix) : 0, ne = 0, i;
	unsigned max = max_keys ? max_keys : 1000;
	char **ent;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&m->lock);
	m->calls[MEM_LIST]++;
	ent = calloc(m->n + 1, sizeof(*ent));
	out->objects = calloc(m->n + 1, sizeof(*out->objects));
	out->prefixes = calloc(m->n + 1, sizeof(*out->prefixes));
	if (!ent || !out->objects || !out->prefixes) {
		rc = -ENOMEM;
		goto out;
	}
	/* Every key under the prefix, rolled up at the delimiter. */
	for (i = 0; i < m->n; i++) {
		const char *k = m->o[i].key, *d;
		char *e;

		if (strcmp(m->o[i].bucket, bucket) != 0 || strncmp(k, prefix ? prefix : "", pl) != 0)
			continue;
		d = delimiter && *delimiter ? strstr(k + pl, delimiter) : NULL;
		e = d ? strndup(k, (size_t)(d - k) + strlen(delimiter)) : strdup(k);
		for (size_t j = 0; e && j < ne; j++)
			if (strcmp(ent[j], e) == 0) {
				free(e);
				e = NULL;
				break;
			}
		if (e)
			ent[ne++] = e;
	}
	qsort(ent, ne, sizeof(*ent), mem_keycmp);
	for (i = 0; i < ne; i++) {
		size_t el = strlen(ent[i]);

		if (token && *token && strcmp(ent[i], token) <= 0)
			continue;
		if (out->nobjects + out->nprefixes == max) {
			out->is_truncated = 1;
			out->next_token = strdup(out->nobjects + out->nprefixes ?
						 ent[i - 1] : "");
			break;
		}
		if (delimiter && *delimiter && el >= strlen(delimiter) &&
		    strcmp(ent[i] + el - strlen(delimiter), delimiter) == 0 &&
		    mem_find(m, bucket, ent[i]) < 0) {
			out->prefixes[out->nprefixes++] = strdup(ent[i]);
		} else {
			long k = mem_find(m, bucket, ent[i]);
			struct astro_s3_object *o = &out->objects[out->nobjects++];

			o->key = strdup(ent[i]);
			o->size = (int64_t)m->o[k].len;
			o->etag = strdup(m->o[k].etag);
			o->mtime = m->o[k].mtime;
		}
	}
	out->key_count = (long)(out->nobjects + out->nprefixes);
out:
	for (i = 0; ent && i < ne; i++)
		free(ent[i]);
	free(ent);
	pthread_mutex_unlock(&m->lock);
	if (rc)
		astro_s3xml_list_free(out);
	return rc;
}

static int mem_put(struct astro_s3 *s, const char *bucket, const char *key,
		   const void *body, size_t len, const struct astro_s3_put_opts *o,
		   struct astro_s3_info *info)
{
	struct mem_s3 *m = (struct mem_s3 *)s;
	long i;
	int rc;

	pthread_mutex_lock(&m->lock);
	m->calls[MEM_PUT]++;
	i = mem_find(m, bucket, key);
	if (o && o->if_none_match && i >= 0)
		rc = -EEXIST;
	else if (o && o->if_match && *o->if_match &&
		 (i < 0 || mem_etag_ne(o->if_match, m->o[i].etag)))
		rc = -ESTALE;
	else
		rc = mem_put_locked(m, bucket, key, body, len, info);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

static int mem_del(struct astro_s3 *s, const char *bucket, const char *key)
{
	struct mem_s3 *m = (struct mem_s3 *)s;
	long i;

	pthread_mutex_lock(&m->lock);
	m->calls[MEM_DEL]++;
	i = mem_find(m, bucket, key);
	if (i >= 0) {
		free(m->o[i].bucket);
		free(m->o[i].key);
		free(m->o[i].data);
		m->o[i] = m->o[--m->n];
	}
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static void mem_free(struct astro_s3 *s)
{
	struct mem_s3 *m = (struct mem_s3 *)s;

	for (size_t i = 0; i < m->n; i++) {
		free(m->o[i].bucket);
		free(m->o[i].key);
		free(m->o[i].data);
	}
	free(m->o);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static const struct astro_s3_ops mem_ops = {
	.get_range = mem_get_range, .get = mem_get, .head = mem_head, .list = mem_list,
	.put = mem_put, .del = mem_del, .free = mem_free,
};

static struct mem_s3 *mem_new(void)
{
	struct mem_s3 *m = calloc(1, sizeof(*m));

	if (m) {
		m->base.ops = &mem_ops;
		pthread_mutex_init(&m->lock, NULL);
	}
	return m;
}

/* ---- fault injection ---- */

struct fault_s3 {
	struct astro_s3 base;
	struct astro_s3 *inner;		/* owned */
	unsigned calls;			/* every operation, counted from 1 */
	unsigned fail_nth;		/* 0: none */
	int fail_all;
	int err;			/* what a failed call returns */
	unsigned latency_ms;
	int truncate;			/* ranged reads return half */
};

/* 0 to go on, or the injected error. */
static int fault_hit(struct fault_s3 *f)
{
	unsigned n = __atomic_add_fetch(&f->calls, 1, __ATOMIC_SEQ_CST);

	if (f->latency_ms) {
		struct timespec ts = { f->latency_ms / 1000, (long)(f->latency_ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
	}
	return f->fail_all || (f->fail_nth && n == f->fail_nth) ? f->err : 0;
}

static int fault_get_range(struct astro_s3 *s, const char *bucket, const char *key,
			   uint64_t off, size_t len, const char *if_match, void *buf,
			   size_t *got, struct astro_s3_info *info)
{
	struct fault_s3 *f = (struct fault_s3 *)s;
	int rc = fault_hit(f);

	*got = 0;
	if (rc)
		return rc;
	rc = astro_s3_get_range(f->inner, bucket, key, off, len, if_match, buf, got, info);
	if (rc == 0 && f->truncate)
		*got /= 2;
	return rc;
}

static int fault_get(struct astro_s3 *s, const char *bucket, const char *key, size_t max,
		     char **body, size_t *len, struct astro_s3_info *info)
{
	struct fault_s3 *f = (struct fault_s3 *)s;
	int rc = fault_hit(f);

	if (rc) {
		*body = NULL;
		*len = 0;
		return rc;
	}
	rc = astro_s3_get(f->inner, bucket, key, max, body, len, info);
	if (rc == 0 && f->truncate)
		*len /= 2;
	return rc;
}

static int fault_head(struct astro_s3 *s, const char *bucket, const char *key,
		      struct astro_s3_info *info)
{
	struct fault_s3 *f = (struct fault_s3 *)s;
	int rc = fault_hit(f);

	return rc ? rc : astro_s3_head(f->inner, bucket, key, info);
}

static int fault_list(struct astro_s3 *s, const char *bucket, const char *prefix,
		      const char *delimiter, const char *token, unsigned max_keys,
		      struct astro_s3_list *out)
{
	struct fault_s3 *f = (struct fault_s3 *)s;
	int rc = fault_hit(f);

	if (rc) {
		memset(out, 0, sizeof(*out));
		return rc;
	}
	return astro_s3_list(f->inner, bucket, prefix, delimiter, token, max_keys, out);
}

static int fault_put(struct astro_s3 *s, const char *bucket, const char *key,
		     const void *body, size_t len, const struct astro_s3_put_opts *o,
		     struct astro_s3_info *info)
{
	struct fault_s3 *f = (struct fault_s3 *)s;
	int rc = fault_hit(f);

	return rc ? rc : astro_s3_put(f->inner, bucket, key, body, len, o, info);
}

static int fault_del(struct astro_s3 *s, const char *bucket, const char *key)
{
	struct fault_s3 *f = (struct fault_s3 *)s;
	int rc = fault_hit(f);

	return rc ? rc : astro_s3_delete(f->inner, bucket, key);
}

static void fault_free(struct astro_s3 *s)
{
	struct fault_s3 *f = (struct fault_s3 *)s;

	astro_s3_free(f->inner);
	free(f);
}

static const struct astro_s3_ops fault_ops = {
	.get_range = fault_get_range, .get = fault_get, .head = fault_head,
	.list = fault_list, .put = fault_put, .del = fault_del, .free = fault_free,
};

static struct fault_s3 *fault_new(struct astro_s3 *inner)
{
	struct fault_s3 *f = calloc(1, sizeof(*f));

	if (f) {
		f->base.ops = &fault_ops;
		f->inner = inner;
		f->err = -EIO;
	}
	return f;
}

#endif

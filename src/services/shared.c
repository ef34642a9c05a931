/* shared.c — see shared.h. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include "core/astro.h"
#include "core/log.h"
#include "core/op.h"
#include "core/stats.h"
#include "services/shared.h"
#include "services/sigv4.h"

#define ENV_MAGIC "astrofs-shared 1\n"
#define DOWN_RETRY_MS 30000
#define CLOCK_SKEW_MS 1000	/* how far the fleet's clocks may disagree */
#define SLOT_POLL_MS 100
#define SLOT_RECORD_MAX 128
#define LEASE_MAX 512
#define TRIES 3			/* attempts of one idempotent call before "down" */
#define RETRY_FIRST_MS 50

struct astro_shared {
	struct astro_s3 *s3;
	int own_s3;
	char bucket[64];
	char prefix[256];
	char url[340];
	pthread_mutex_t lock;
	pthread_mutex_t head_lock;	/* one search for the numbering at a time */
	int down;		/* marked down; logged once */
	int64_t retry_at_ms;	/* mono: try again after this */
	/* fleet slots: the next number to try and what we hold */
	int64_t next_k;
	int next_known;
	struct held { int64_t k; char etag[128]; int64_t grant; } held[64];
	unsigned nheld;
	char host[64];
};

int astro_shared_parse_url(const char *url, char *bucket, size_t blen,
			   char *prefix, size_t plen)
{
	const char *b, *slash;
	size_t n, pl;

	if (!url || strncmp(url, "s3://", 5) != 0)
		return -EINVAL;
	b = url + 5;
	slash = strchr(b, '/');
	n = slash ? (size_t)(slash - b) : strlen(b);
	if (n == 0 || n >= 64)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') ||
		      b[i] == '-' || b[i] == '.' || b[i] == '_'))
			return -EINVAL;
	if (bucket) {
		if (blen <= n)
			return -EINVAL;
		memcpy(bucket, b, n);
		bucket[n] = '\0';
	}
	if (prefix) {
		const char *p = slash ? slash + 1 : "";

		pl = strlen(p);
		while (pl && p[pl - 1] == '/')
			pl--;
		if (pl >= plen)
			return -EINVAL;
		memcpy(prefix, p, pl);
		prefix[pl] = '\0';
	}
	return 0;
}

int astro_shared_open(struct astro_shared **out, const struct astro_config *cfg,
		      struct astro_s3 *s3, char *msg, size_t msglen)
{
	struct astro_shared *sh;
	int rc;

	*out = NULL;
	if (!cfg->shared_cache)
		return 0;
	sh = calloc(1, sizeof(*sh));
	if (!sh)
		return -ENOMEM;
	if (astro_shared_parse_url(cfg->shared_cache, sh->bucket, sizeof(sh->bucket),
				   sh->prefix, sizeof(sh->prefix)) < 0) {
		free(sh);
		return astro_err_set(msg, msglen, -EINVAL, "shared_cache: expected s3://BUCKET/PREFIX");
	}
	snprintf(sh->url, sizeof(sh->url), "s3://%s/%s", sh->bucket, sh->prefix);
	if (s3) {
		sh->s3 = s3;
	} else {
		unsigned t = cfg->timeout * 1000 / 4;
		struct astro_s3_cfg sc = {
			.endpoint = cfg->shared_cache_endpoint ? cfg->shared_cache_endpoint
							       : cfg->s3_endpoint,
			.region = cfg->shared_cache_region ? cfg->shared_cache_region : cfg->s3_region,
			.credentials = cfg->shared_cache_credentials ? cfg->shared_cache_credentials
								     : cfg->s3_credentials,
			.profile = cfg->s3_profile,
			.path_style = cfg->shared_cache_endpoint ? 1 : cfg->s3_path_style,
			/* Each call leaves room to fall back inside `timeout`. */
			.timeout_ms = t < 1000 ? 1000 : t,
		};

		rc = astro_s3_new(&sc, &sh->s3, msg, msglen);
		if (rc) {
			free(sh);
			return rc;
		}
		sh->own_s3 = 1;
	}
	if (gethostname(sh->host, sizeof(sh->host) - 1) != 0)
		astro_strlcpy(sh->host, "?", sizeof(sh->host));
	pthread_mutex_init(&sh->lock, NULL);
	pthread_mutex_init(&sh->head_lock, NULL);
	*out = sh;
	return 0;
}

void astro_shared_close(struct astro_shared *sh)
{
	if (!sh)
		return;
	if (sh->own_s3)
		astro_s3_free(sh->s3);
	pthread_mutex_destroy(&sh->lock);
	pthread_mutex_destroy(&sh->head_lock);
	free(sh);
}

int astro_shared_usable(struct astro_shared *sh)
{
	int ok;

	if (!sh)
		return 0;
	pthread_mutex_lock(&sh->lock);
	ok = !sh->down || astro_mono_ms() >= sh->retry_at_ms;
	pthread_mutex_unlock(&sh->lock);
	return ok;
}

int64_t astro_shared_backoff_ms(unsigned attempt, int64_t first_ms, int64_t cap_ms)
{
	static __thread uint64_t x;
	int64_t d = first_ms;

	while (attempt-- && d < cap_ms)
		d *= 2;
	if (d > cap_ms)
		d = cap_ms;
	if (d < 2)
		return d;
	if (!x && getrandom(&x, sizeof(x), 0) != (ssize_t)sizeof(x))
		x = (uint64_t)astro_mono_ms() * 2654435761u;
	x |= 1;
	/* xorshift64: jitter only, so waiters that started together drift apart */
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return d / 2 + (int64_t)(x % (uint64_t)(d / 2 + 1));
}

static int is_answer(int rc)
{
	return rc == 0 || rc == -ENOENT || rc == -EEXIST || rc == -ESTALE || rc == -EFBIG;
}

/*
 * One more try of an idempotent call after a failure that may pass: an
 * error answer (a 5xx the http layer's own retries did not cure) or a
 * dropped connection.  Not a timeout, which already cost a quarter of
 * `timeout`, nor refused credentials.  Waits a jittered backoff inside
 * the operation's deadline.
 */
static int try_again(int rc, unsigned attempt)
{
	int64_t ms, dl;

	if (is_answer(rc) || (rc != -EIO && rc != -EAGAIN && rc != -ECONNRESET) ||
	    attempt + 1 >= TRIES)
		return 0;
	ms = astro_shared_backoff_ms(attempt, RETRY_FIRST_MS, 1000);
	dl = astro_op_deadline(0);
	if (dl && astro_mono_ms() + ms >= dl)
		return 0;
	astro_stats_inc("shared.retries");
	return astro_op_sleep(ms) == 0;
}

/*
 * Sort an S3 result: "not there" and "lost the race" are answers; anything
 * else, once retried (try_again), means the tier cannot be relied on now
 * (logged once per outage).  One bad answer never marks it down: that sent
 * a mount straight to space-track, past the fleet's lease.
 */
static int verdict(struct astro_shared *sh, int rc, const char *what)
{
	/* The caller's operation ran out (its reader gave up, or its deadline
	 * passed, e.g. a lease holder whose fetch took all of `timeout`): the
	 * tier is not at fault, and the rest of the mount keeps using it. */
	if ((rc == -EINTR || rc == -ETIMEDOUT) && astro_op_check())
		return rc;
	if (is_answer(rc)) {
		pthread_mutex_lock(&sh->lock);
		if (sh->down && rc != -EFBIG) {
			sh->down = 0;
			astro_notice("shared cache %s: reachable again", sh->url);
		}
		pthread_mutex_unlock(&sh->lock);
		return rc;
	}
	astro_stats_inc("shared.errors");
	pthread_mutex_lock(&sh->lock);
	if (!sh->down)
		astro_warn("shared cache %s: unreachable (%s on %s); this machine falls back to "
			   "its own cache and rate limit", sh->url, strerror(-rc), what);
	sh->down = 1;
	sh->retry_at_ms = astro_mono_ms() + DOWN_RETRY_MS;
	pthread_mutex_unlock(&sh->lock);
	return -ENETDOWN;
}

static void full_key(struct astro_shared *sh, const char *key, char *out, size_t n)
{
	snprintf(out, n, "%s%s%s", sh->prefix, sh->prefix[0] ? "/" : "", key);
}

static int do_get(struct astro_shared *sh, const char *key, size_t max, char **body,
		  size_t *len, struct astro_s3_info *info)
{
	char k[1024];

	unsigned i = 0;
	int rc;

	if (!astro_shared_usable(sh))
		return -ENETDOWN;
	full_key(sh, key, k, sizeof(k));
	do
		rc = astro_s3_get(sh->s3, sh->bucket, k, max, body, len, info);
	while (try_again(rc, i++));
	return verdict(sh, rc, "GET");
}

int astro_shared_get(struct astro_shared *sh, const char *key, size_t max,
		     char **body, size_t *len)
{
	struct astro_s3_info info;

	return do_get(sh, key, max, body, len, &info);
}

static int do_put(struct astro_shared *sh, const char *key, const void *body, size_t len,
		  int create_only, const char *if_match, struct astro_s3_info *info)
{
	struct astro_s3_put_opts o = { .if_none_match = create_only, .if_match = if_match };
	char k[1024];
	unsigned i = 0;
	int rc;

	if (!astro_shared_usable(sh))
		return -ENETDOWN;
	full_key(sh, key, k, sizeof(k));
	for (;;) {
		rc = astro_s3_put(sh->s3, sh->bucket, k, body, len, &o, info);
		/* RGW 16.2 answers some concurrent conditional writes of one key
		 * with 500 instead of 412: the outcome is unknown, so the caller
		 * re-reads (it may have won; then that number is spent, never
		 * reused).  Not retried here: a retry could lose to our own win. */
		if (rc == -EIO && (create_only || if_match))
			return -EAGAIN;
		if (!try_again(rc, i++))
			break;
	}
	return verdict(sh, rc, "PUT");
}

int astro_shared_put(struct astro_shared *sh, const char *key, const void *body,
		     size_t len, int create_only)
{
	int rc = do_put(sh, key, body, len, create_only, NULL, NULL);

	if (rc == 0)
		astro_stats_inc("shared.puts");
	return rc;
}

int astro_shared_delete(struct astro_shared *sh, const char *key)
{
	char k[1024];
	unsigned i = 0;
	int rc;

	if (!astro_shared_usable(sh))
		return -ENETDOWN;
	full_key(sh, key, k, sizeof(k));
	do
		rc = astro_s3_delete(sh->s3, sh->bucket, k);
	while (try_again(rc, i++));
	return verdict(sh, rc, "DELETE");
}

/* ---- envelope ---- */

int astro_shared_wrap(const struct astro_shared_env *e, const void *body,
		      size_t len, char **obj, size_t *objlen)
{
	struct astro_buf b = { 0 };
	char hex[65];

	if (astro_sigv4_sha256_hex(body, len, hex) < 0)
		return -EIO;
	astro_buf_printf(&b, ENV_MAGIC "kind %s\nname %s\nfetched %" PRId64 "\nfinal %d\n"
			 "count %" PRIu64 "\nlength %zu\nsha256 %s\n\n",
			 e->kind, e->name, e->fetched_ms, e->final ? 1 : 0, e->count, len, hex);
	astro_buf_put(&b, body, len);
	if (b.err) {
		free(b.p);
		return -ENOMEM;
	}
	*obj = b.p;
	*objlen = b.len;
	return 0;
}

/* The value of "key " on the header line starting at *p; advances *p. */
static int env_field(const char **p, const char *end, const char *key, char *val, size_t n)
{
	size_t kl = strlen(key);
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t vl;

	if (!nl || (size_t)(nl - *p) < kl + 1 || memcmp(*p, key, kl) != 0 || (*p)[kl] != ' ')
		return -1;
	vl = (size_t)(nl - (*p + kl + 1));
	if (vl >= n)
		return -1;
	memcpy(val, *p + kl + 1, vl);
	val[vl] = '\0';
	*p = nl + 1;
	return 0;
}

static int env_int(const char *s, int64_t *v)
{
	char *end;

	if (!*s)
		return -1;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return (*end || errno) ? -1 : 0;
}

int astro_shared_unwrap(const char *obj, size_t objlen, const char *want_kind,
			const char *want_name, struct astro_shared_env *e,
			const char **body, size_t *len, char *err, size_t errlen)
{
	const char *p = obj, *end = obj + objlen;
	char v[400], hex[65], sha[80];
	int64_t n;

	memset(e, 0, sizeof(*e));
	if (objlen < strlen(ENV_MAGIC) || memcmp(obj, ENV_MAGIC, strlen(ENV_MAGIC)) != 0)
		return astro_err_set(err, errlen, -EINVAL, "not an astrofs shared object (or another format version)");
	p += strlen(ENV_MAGIC);
	if (env_field(&p, end, "kind", e->kind, sizeof(e->kind)) || strcmp(e->kind, want_kind) != 0)
		return astro_err_set(err, errlen, -EINVAL, "kind is not %s", want_kind);
	if (env_field(&p, end, "name", e->name, sizeof(e->name)) || strcmp(e->name, want_name) != 0)
		return astro_err_set(err, errlen, -EINVAL, "name is not %s", want_name);
	if (env_field(&p, end, "fetched", v, sizeof(v)) || env_int(v, &e->fetched_ms) || e->fetched_ms <= 0)
		return astro_err_set(err, errlen, -EINVAL, "bad fetch time");
	if (env_field(&p, end, "final", v, sizeof(v)) || (strcmp(v, "0") && strcmp(v, "1")))
		return astro_err_set(err, errlen, -EINVAL, "bad final flag");
	e->final = v[0] == '1';
	if (env_field(&p, end, "count", v, sizeof(v)) || env_int(v, &n) || n < 0)
		return astro_err_set(err, errlen, -EINVAL, "bad count");
	e->count = (uint64_t)n;
	if (env_field(&p, end, "length", v, sizeof(v)) || env_int(v, &n) || n < 0)
		return astro_err_set(err, errlen, -EINVAL, "bad length");
	if (env_field(&p, end, "sha256", sha, sizeof(sha)) || strlen(sha) != 64)
		return astro_err_set(err, errlen, -EINVAL, "bad checksum field");
	if (p >= end || *p != '\n')
		return astro_err_set(err, errlen, -EINVAL, "unterminated header");
	p++;
	if ((uint64_t)(end - p) != (uint64_t)n)
		return astro_err_set(err, errlen, -EINVAL, "body is %zu bytes, header says %" PRId64 " (partial object)",
				  (size_t)(end - p), n);
	if (astro_sigv4_sha256_hex(p, (size_t)n, hex) < 0 || strcmp(hex, sha) != 0)
		return astro_err_set(err, errlen, -EINVAL, "body checksum does not match");
	*body = p;
	*len = (size_t)n;
	return 0;
}

/* ---- leases ---- */

static void unquote(const char *etag, char *out, size_t n)
{
	size_t l = strlen(etag);

	/* RGW 16.2 refuses a quoted ETag in If-Match; AWS takes both. */
	if (l >= 2 && etag[0] == '"' && etag[l - 1] == '"') {
		etag++;
		l -= 2;
	}
	if (l >= n)
		l = n - 1;
	memcpy(out, etag, l);
	out[l] = '\0';
}

static void new_token(char *tok, size_t n)
{
	uint64_t r[2] = { 0, 0 };

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		r[0] = (uint64_t)astro_now_ms();
		r[1] = (uint64_t)astro_mono_ms() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)tok;
	}
	snprintf(tok, n, "%016" PRIx64 "%016" PRIx64, r[0], r[1]);
}

/*
 * A lease object is "EXPIRES_MS HOST PID TOKEN\n"; TOKEN is new for each
 * acquisition, so no two holders ever write the same bytes (nor get the
 * same ETag).  Expiry 0 means released.  Fields past the first are
 * compared, never trusted: unreadable counts as expired.
 */
static int64_t lease_expiry(const char *b)
{
	int64_t v;
	char num[24];
	const char *sp = strchr(b, ' ');
	size_t n = sp ? (size_t)(sp - b) : 0;

	if (!n || n >= sizeof(num))
		return 0;
	memcpy(num, b, n);
	num[n] = '\0';
	return env_int(num, &v) < 0 || v < 0 ? 0 : v;
}

/* The body after the expiry starts with " HOST PID ": this process wrote it. */
static int lease_is_mine(struct astro_shared *sh, const char *b)
{
	const char *sp = strchr(b, ' ');
	char me[96];

	snprintf(me, sizeof(me), " %s %ld ", sh->host, (long)getpid());
	return sp && strncmp(sp, me, strlen(me)) == 0;
}

static int lease_won(struct astro_shared_lease_hold *hold, const struct astro_s3_info *info)
{
	unquote(info->etag, hold->etag, sizeof(hold->etag));
	return 1;
}

int astro_shared_lease(struct astro_shared *sh, const char *name, int64_t duration_ms,
		       int64_t *expires_ms, struct astro_shared_lease_hold *hold)
{
	char key[LEASE_MAX], body[200], *old = NULL, etag[128];
	struct astro_s3_info info;
	size_t oldlen = 0;
	int64_t now = astro_now_ms(), exp = now + duration_ms, theirs;
	int rc, mine;

	memset(hold, 0, sizeof(*hold));
	new_token(hold->token, sizeof(hold->token));
	snprintf(key, sizeof(key), "lease/v1/%s", name);
	snprintf(body, sizeof(body), "%" PRId64 " %s %ld %s\n", exp, sh->host, (long)getpid(),
		 hold->token);
	memset(&info, 0, sizeof(info));
	rc = do_put(sh, key, body, strlen(body), 1, NULL, &info);
	if (rc == 0)
		return lease_won(hold, &info);
	if (rc == -EAGAIN) {	/* unknown outcome: look again shortly */
		*expires_ms = now + 200;
		return 0;
	}
	if (rc != -EEXIST)
		return rc;
	rc = do_get(sh, key, 4096, &old, &oldlen, &info);
	if (rc == -ENOENT) {	/* deleted meanwhile (by hand): one more round */
		memset(&info, 0, sizeof(info));
		rc = do_put(sh, key, body, strlen(body), 1, NULL, &info);
		if (rc == 0)
			return lease_won(hold, &info);
	}
	if (rc == -EEXIST || rc == -EAGAIN) {
		*expires_ms = now + 1000;
		return 0;
	}
	if (rc)
		return rc;
	theirs = lease_expiry(old);
	/* Ours: a create whose answer was lost (500), or a lease this process
	 * could not release; replaced like an expired one, so it carries this
	 * acquisition's token and expiry. */
	mine = lease_is_mine(sh, old);
	free(old);
	if (!mine && theirs + CLOCK_SKEW_MS > now) {
		*expires_ms = theirs + CLOCK_SKEW_MS;
		astro_stats_inc("shared.lease_waits");
		return 0;
	}
	/* Expired or released: replace exactly that version; of several
	 * takers one wins. */
	unquote(info.etag, etag, sizeof(etag));
	memset(&info, 0, sizeof(info));
	rc = do_put(sh, key, body, strlen(body), 0, etag, &info);
	if (rc == 0) {
		if (theirs && !mine) {
			astro_notice("shared cache: lease %s expired; taken over", name);
			astro_stats_inc("shared.lease_takeovers");
		}
		return lease_won(hold, &info);
	}
	if (rc == -ESTALE || rc == -EAGAIN) {
		*expires_ms = now + 200;
		return 0;
	}
	return rc;
}

/*
 * Release = a conditional replace (If-Match on the ETag this holder wrote)
 * by a "released" record, never a DELETE: RGW 16.2 ignores If-Match on
 * DELETE (measured: a DELETE with a wrong If-Match removes the object),
 * and AWS honours conditional deletes only since 2025, so a holder whose
 * lease expired and was taken over would delete the new holder's lease and
 * let a third machine fetch the same day.  A replaced lease has another
 * ETag, the PUT gets 412 and the new holder keeps its lease.  The released
 * record stays (one small object per name); an expiry of 0 lets the next
 * taker replace it at once.
 */
int astro_shared_lease_release(struct astro_shared *sh, const char *name,
			       const struct astro_shared_lease_hold *hold)
{
	char key[LEASE_MAX], body[200], etag[128], *cur = NULL;
	struct astro_s3_info info;
	size_t len = 0;
	int rc;

	snprintf(key, sizeof(key), "lease/v1/%s", name);
	snprintf(body, sizeof(body), "0 %s %ld %s\n", sh->host, (long)getpid(), hold->token);
	astro_strlcpy(etag, hold->etag, sizeof(etag));
	if (!etag[0]) {
		/* The create's answer had no ETag: read it, and only if the
		 * object carries our token, replace that version. */
		rc = do_get(sh, key, 4096, &cur, &len, &info);
		if (rc)
			return rc == -ENOENT ? 0 : rc;
		if (!strstr(cur, hold->token)) {
			free(cur);
			rc = -ESTALE;
			goto lost;
		}
		free(cur);
		unquote(info.etag, etag, sizeof(etag));
	}
	rc = do_put(sh, key, body, strlen(body), 0, etag, NULL);
lost:
	if (rc == -ESTALE) {
		astro_notice("shared cache: lease %s was taken over after it expired; "
			     "left to its new holder", name);
		astro_stats_inc("shared.lease_lost");
	}
	/* -EAGAIN (outcome unknown): the lease then just expires. */
	return rc == -EAGAIN ? 0 : rc;
}

/* ---- fleet slots ---- */

struct slot_rec {
	int64_t k, grant, end;
	char etag[128];
	int present;
};

static unsigned ring_size(const struct astro_rate *r)
{
	unsigned m = 0;

	for (unsigned i = 0; i < r->n; i++)
		if (r->w[i].limit > m)
			m = r->w[i].limit;
	return m;
}

/* "k grant_ms end_ms host\n" */
static int parse_record(const char *b, struct slot_rec *s)
{
	int64_t *f[] = { &s->k, &s->grant, &s->end };
	const char *p = b;

	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(f); i++) {
		char *end;

		errno = 0;
		*f[i] = strtoll(p, &end, 10);
		if (end == p || errno || *end != ' ' || *f[i] < 0)
			return -1;
		p = end + 1;
	}
	return 0;
}

static int read_slot(struct astro_shared *sh, const char *name, unsigned idx,
		     struct slot_rec *s)
{
	char key[256], *b = NULL;
	size_t len;
	struct astro_s3_info info;
	int rc;

	memset(s, 0, sizeof(*s));
	snprintf(key, sizeof(key), "rate/v1/%s/%05u", name, idx);
	rc = do_get(sh, key, 4096, &b, &len, &info);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (parse_record(b, s) < 0) {
		/* Not ours or torn: count it as a slot in use until it is
		 * overwritten, never as free. */
		s->k = -1;
		s->end = INT64_MAX / 2;
	}
	free(b);
	s->present = 1;
	unquote(info.etag, s->etag, sizeof(s->etag));
	return 0;
}

/*
 * Where the numbering stands, in O(log R) reads: entry i holds k = c + i for
 * the entries of the current round (from 0) and c - R + i (or nothing, in the
 * first round) after them, so k - i is constant over a prefix of the ring.
 * Only a hint: a claimer that is behind moves on as it finds taken numbers.
 */
static int find_head(struct astro_shared *sh, const char *name, unsigned R)
{
	struct slot_rec s0, s;
	unsigned lo = 0, hi = R - 1;
	int rc = read_slot(sh, name, 0, &s0);

	if (rc)
		return rc;
	if (!s0.present || s0.k < 0) {
		pthread_mutex_lock(&sh->lock);
		sh->next_known = 1;
		pthread_mutex_unlock(&sh->lock);
		return 0;
	}
	/* Largest i in [0, R) with k_i - i == k_0. */
	while (lo < hi) {
		unsigned mid = lo + (hi - lo + 1) / 2;

		if ((rc = read_slot(sh, name, mid, &s)) < 0)
			return rc;
		if (s.present && s.k - (int64_t)mid == s0.k)
			lo = mid;
		else
			hi = mid - 1;
	}
	pthread_mutex_lock(&sh->lock);
	if (sh->next_k < s0.k + lo + 1)
		sh->next_k = s0.k + lo + 1;
	sh->next_known = 1;
	pthread_mutex_unlock(&sh->lock);
	return 0;
}

int astro_shared_slot_begin(struct astro_shared *sh, const char *name,
			    const struct astro_rate *rate, int64_t deadline_ms,
			    int64_t *slot)
{
	unsigned R = ring_size(rate);
	int waited = 0, contended = 0;

	if (R == 0)
		return -EINVAL;
	for (;;) {
		int64_t k, now, wait = 0, left = deadline_ms - astro_mono_ms();
		struct slot_rec own;
		char key[256], body[SLOT_RECORD_MAX];
		struct astro_s3_info info;
		int rc, behind = 0;

		if (left <= 0)
			return -ETIMEDOUT;
		pthread_mutex_lock(&sh->head_lock);
		rc = sh->next_known ? 0 : find_head(sh, name, R);
		pthread_mutex_unlock(&sh->head_lock);
		if (rc < 0)
			return rc;
		pthread_mutex_lock(&sh->lock);
		k = sh->next_k;
		pthread_mutex_unlock(&sh->lock);
		now = astro_now_ms();
		/* (2): slot k-L of every window must have ended W ago. */
		for (unsigned i = 0; i < rate->n && !behind; i++) {
			int64_t j = k - rate->w[i].limit;
			struct slot_rec s;

			if (j < 0)
				continue;
			rc = read_slot(sh, name, (unsigned)(j % R), &s);
			if (rc)
				return rc;
			if (s.present && s.k > j) {
				behind = 1;
			} else if (s.present && s.k == j) {
				int64_t free_at = s.end + (int64_t)rate->w[i].seconds * 1000 + CLOCK_SKEW_MS;

				if (free_at > now && free_at - now > wait)
					wait = free_at - now;
			}
			/* absent or older: j was never claimed, so neither was k-1 —
			 * impossible unless the bucket was emptied; it is free. */
		}
		rc = behind ? 0 : read_slot(sh, name, (unsigned)(k % R), &own);
		if (rc)
			return rc;
		if (behind || (own.present && own.k >= k)) {
			pthread_mutex_lock(&sh->lock);
			if (sh->next_k <= k)
				sh->next_k = behind ? k + 1 : own.k + 1;
			pthread_mutex_unlock(&sh->lock);
			continue;
		}
		if (wait > 0) {
			if (!waited++)
				astro_stats_inc("shared.slot_waits");
			if (wait > left)
				wait = left;
			if (wait > SLOT_POLL_MS * 10)
				wait = SLOT_POLL_MS * 10;
			if (astro_sleep_ms(wait) == -EINTR)
				return -EINTR;
			continue;
		}
		/* Claim k; while in flight its end is the deadline (+ slack). */
		snprintf(key, sizeof(key), "rate/v1/%s/%05u", name, (unsigned)(k % R));
		snprintf(body, sizeof(body), "%" PRId64 " %" PRId64 " %" PRId64 " %s\n", k, now,
			 now + left + 1000, sh->host);
		rc = do_put(sh, key, body, strlen(body), !own.present,
			    own.present ? own.etag : NULL, &info);
		pthread_mutex_lock(&sh->lock);
		if (sh->next_k <= k)
			sh->next_k = k + 1;
		if (rc == 0 && sh->nheld < ASTRO_ARRAY_SIZE(sh->held)) {
			struct held *h = &sh->held[sh->nheld++];

			h->k = k;
			h->grant = now;
			unquote(info.etag, h->etag, sizeof(h->etag));
		}
		pthread_mutex_unlock(&sh->lock);
		if (rc == 0) {
			astro_stats_inc("shared.slots");
			*slot = k;
			return 0;
		}
		if (rc == -EAGAIN && ++contended > 5)
			return verdict(sh, -EIO, "PUT");
		if (rc != -EEXIST && rc != -ESTALE && rc != -EAGAIN)
			return rc;
		/* Someone else took k (or may have): look again. */
	}
}

void astro_shared_slot_end(struct astro_shared *sh, const char *name,
			   const struct astro_rate *rate, int64_t slot)
{
	unsigned R = ring_size(rate);
	char key[256], body[SLOT_RECORD_MAX], etag[128] = "";
	int64_t grant = 0;

	pthread_mutex_lock(&sh->lock);
	for (unsigned i = 0; i < sh->nheld; i++)
		if (sh->held[i].k == slot) {
			astro_strlcpy(etag, sh->held[i].etag, sizeof(etag));
			grant = sh->held[i].grant;
			sh->held[i] = sh->held[--sh->nheld];
			break;
		}
	pthread_mutex_unlock(&sh->lock);
	if (!etag[0] || R == 0)
		return;
	snprintf(key, sizeof(key), "rate/v1/%s/%05u", name, (unsigned)(slot % R));
	snprintf(body, sizeof(body), "%" PRId64 " %" PRId64 " %" PRId64 " %s\n", slot, grant,
		 astro_now_ms(), sh->host);
	/* Only our own record: if it was replaced, the slot is long over.
	 * A failure leaves the deadline as its end: later, never lost. */
	do_put(sh, key, body, strlen(body), 0, etag, NULL);
}

void astro_shared_json(struct astro_shared *sh, json_t *obj)
{
	static const char *const names[] = {
		"hits", "misses", "puts", "corrupt", "lease_waits", "lease_takeovers",
		"slots", "slot_waits", "errors", "retries", "lease_lost", "lease_rechecks", "readahead",
	};
	char n[64];

	json_object_set_new(obj, "url", json_string(sh->url));
	json_object_set_new(obj, "reachable", json_boolean(astro_shared_usable(sh)));
	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(names); i++) {
		snprintf(n, sizeof(n), "shared.%s", names[i]);
		json_object_set_new(obj, names[i], json_integer(astro_stats_get(n)));
	}
}

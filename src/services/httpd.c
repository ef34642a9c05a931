/*
 * httpd.c — see httpd.h.
 *
 * libmicrohttpd's own timeout is an idle timeout: a client that sends one
 * byte every few seconds keeps its connection (and its slot) for ever.  So
 * every connection is also tracked here (MHD_OPTION_NOTIFY_CONNECTION) with
 * the time its current phase began, and a reaper thread shuts down the
 * socket of one whose headers or body are late; libmicrohttpd then sees the
 * end of the stream and closes it as it would any other.  The entry leaves
 * the list (under the lock) before libmicrohttpd closes the descriptor, so
 * the reaper never touches a descriptor number that was reused.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "core/astro.h"
#include "core/log.h"
#include "core/stats.h"
#include "services/httpd.h"

#define DEFAULT_THREADS 4u
#define FILE_MAX (1u << 20)	/* a PEM chain or a token file */
#define MAX_RULES 256
#define MAX_TOKENS 1024
#define STREAM_BLOCK (512u << 10)
#define SMALL_BLOCK (64u << 10)

enum phase { HEADERS, BODY, ANSWER };

struct conn {
	struct conn *prev, *next;
	int fd;
	enum phase phase;
	int64_t since_ms;	/* when the phase began (monotonic) */
	int reaped;
};

struct rule {
	int family;		/* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned bits;
};

struct astro_httpd_allow {
	size_t n;
	struct rule r[];
};

struct astro_httpd {
	struct MHD_Daemon *d;
	struct astro_httpd_opts o;
	char *name, *members;		/* copies */
	struct astro_httpd_allow *allow;
	/* PEM text handed to libmicrohttpd, kept (key in secure memory) until
	 * the daemon is stopped rather than trusting it never looks again */
	char *cert, *key;
	size_t cert_cap, key_cap;
	size_t ntokens;
	unsigned char (*token_md)[32];	/* SHA-256 of each secret */
	unsigned port;
	pthread_mutex_t lock;		/* guards conns and stop */
	pthread_cond_t cv;
	struct conn conns;		/* list head */
	pthread_t reaper;
	int have_reaper, stop;
};

struct body {
	char *buf;
	size_t len, cap;
	int too_big;
};

/* ---------------------------------------------------------------- secrets */

static void sha256(const void *p, size_t n, unsigned char md[32])
{
	unsigned int mdlen = 32;

	if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1)
		memset(md, 0, 32);	/* never equal to a real digest by chance */
}

int astro_httpd_secret_equal(const void *a, size_t al, const void *b, size_t bl)
{
	unsigned char x[32], y[32];
	int eq;

	sha256(a, al, x);
	sha256(b, bl, y);
	eq = CRYPTO_memcmp(x, y, sizeof(x)) == 0;
	OPENSSL_cleanse(x, sizeof(x));
	OPENSSL_cleanse(y, sizeof(y));
	return eq;
}

/* Read a whole (small) file into secure memory. */
static int read_secure(const char *path, int private, char **out, size_t *len, size_t *cap,
		       char *err, size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
	char *buf = NULL;
	size_t n = 0, c = 0;

	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)FILE_MAX) {
		snprintf(err, errlen, "%s: not a regular file of at most 1 MiB", path);
		rc = -EINVAL;
		goto out;
	}
	if (private && (st.st_mode & 077)) {
		snprintf(err, errlen, "%s: mode %04o is too open; chmod 600 it", path,
			 (unsigned)(st.st_mode & 07777));
		rc = -EACCES;
		goto out;
	}
	if (private && st.st_uid != geteuid() && st.st_uid != 0) {
		snprintf(err, errlen, "%s: owned by uid %u, not by you or root", path,
			 (unsigned)st.st_uid);
		rc = -EACCES;
		goto out;
	}
	rc = astro_secure_read_fd(fd, (size_t)st.st_size, &buf, &n, &c);
	if (rc)
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
out:
	close(fd);
	if (rc) {
		astro_secure_free(buf, c);
		return rc;
	}
	*out = buf;
	*len = n;
	*cap = c;
	return 0;
}

/* The first line's secret, or with token_lines every non-empty line's. */
static int load_token(struct astro_httpd *h, const char *path, char *err, size_t errlen)
{
	char *buf;
	size_t len, cap, n;
	int rc = read_secure(path, 1, &buf, &len, &cap, err, errlen);

	if (rc)
		return rc;
	h->token_md = calloc(h->o.token_lines ? MAX_TOKENS : 1, sizeof(*h->token_md));
	if (!h->token_md) {
		rc = -ENOMEM;
		goto out;
	}
	for (const char *p = buf; *p;) {
		n = strcspn(p, "\r\n");
		if (h->o.token_lines) {
			/* a key never starts or ends with blanks: an editor's stray
			 * space is not part of it, a blank line is no key */
			size_t lead = strspn(p, " \t");

			p += lead < n ? lead : n;
			n -= lead < n ? lead : n;
			while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
				n--;
		}
		if (n == 0 && !h->o.token_lines)
			break;
		if (n) {
			if (h->ntokens == (h->o.token_lines ? MAX_TOKENS : 1u))
				break;
			sha256(p, n, h->token_md[h->ntokens++]);
		}
		if (!h->o.token_lines)
			break;
		p += n;
		p += strspn(p, "\r\n");
	}
	if (h->ntokens == 0) {
		snprintf(err, errlen, h->o.token_lines ? "%s: the file holds no token"
						       : "%s: the first line holds no secret", path);
		rc = -EINVAL;
	}
out:
	astro_secure_free(buf, cap);
	return rc;
}

/* ------------------------------------------------------------ allow list */

static int parse_rule(const char *s, size_t n, struct rule *r)
{
	char tmp[64], *slash, *end;
	unsigned max;
	long bits;

	if (n == 0 || n >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	slash = strchr(tmp, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, tmp, r->addr) == 1) {
		r->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, tmp, r->addr) == 1) {
		r->family = AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}
	r->bits = max;
	if (slash) {
		errno = 0;
		bits = strtol(slash + 1, &end, 10);
		if (errno || *end || end == slash + 1 || bits < 0 || bits > (long)max)
			return -EINVAL;
		r->bits = (unsigned)bits;
	}
	return 0;
}

int astro_httpd_allow_parse(const char *list, struct astro_httpd_allow **out, char *err,
			    size_t errlen)
{
	struct astro_httpd_allow *a = calloc(1, sizeof(*a) + MAX_RULES * sizeof(struct rule));
	const char *p = list;

	if (!a)
		return -ENOMEM;
	while (*p) {
		size_t n;

		p += strspn(p, " \t;,");
		n = strcspn(p, " \t;,");
		if (n == 0)
			break;
		if (a->n == MAX_RULES || parse_rule(p, n, &a->r[a->n]) != 0) {
			snprintf(err, errlen, "'%.*s' is not an address or CIDR block (at most %d)",
				 (int)(n > 64 ? 64 : n), p, MAX_RULES);
			free(a);
			return -EINVAL;
		}
		a->n++;
		p += n;
	}
	if (a->n == 0) {
		snprintf(err, errlen, "the list names no address");
		free(a);
		return -EINVAL;
	}
	*out = a;
	return 0;
}

static int prefix_match(const unsigned char *x, const unsigned char *y, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(x, y, whole) != 0)
		return 0;
	return rest == 0 || ((x[whole] ^ y[whole]) & (0xffu << (8 - rest)) & 0xffu) == 0;
}

int astro_httpd_allow_match(const struct astro_httpd_allow *a, const void *sa)
{
	const struct sockaddr *s = sa;
	unsigned char v4[4], v6[16];
	int has4 = 0, has6 = 0;

	if (s->sa_family == AF_INET) {
		memcpy(v4, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		has4 = 1;
	} else if (s->sa_family == AF_INET6) {
		const struct in6_addr *x = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		memcpy(v6, x, 16);
		has6 = 1;
		if (IN6_IS_ADDR_V4MAPPED(x)) {
			memcpy(v4, v6 + 12, 4);
			has4 = 1;
		}
	}
	for (size_t i = 0; i < a->n; i++) {
		const struct rule *r = &a->r[i];

		if ((r->family == AF_INET && has4 && prefix_match(r->addr, v4, r->bits)) ||
		    (r->family == AF_INET6 && has6 && prefix_match(r->addr, v6, r->bits)))
			return 1;
	}
	return 0;
}

void astro_httpd_allow_free(struct astro_httpd_allow *a)
{
	free(a);
}

/* --------------------------------------------------------------- answers */

int astro_httpd_error_body(const char *msg, const char *members, char **body)
{
	json_t *j = json_string(msg ? msg : "error");
	char *m = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
	int n;

	json_decref(j);
	if (!m)
		return -ENOMEM;
	n = asprintf(body, "{\"error\": %s%s%s}", m, members && *members ? ", " : "",
		     members ? members : "");
	free(m);
	if (n < 0) {
		*body = NULL;
		return -ENOMEM;
	}
	return 0;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, char *text)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "application/json");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_error(struct astro_httpd *h, struct MHD_Connection *c,
				   unsigned status, const char *msg)
{
	char *b = NULL;

	if (astro_httpd_error_body(msg, h->members, &b))
		return MHD_NO;
	return reply(c, status, b);
}

/* ------------------------------------------------------------ deadlines */

static struct conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *i =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return i ? i->socket_context : NULL;
}

static void set_phase(struct astro_httpd *h, struct MHD_Connection *c, enum phase ph)
{
	struct conn *k = conn_of(c);

	if (!k)
		return;
	pthread_mutex_lock(&h->lock);
	k->phase = ph;
	k->since_ms = astro_mono_ms();
	pthread_mutex_unlock(&h->lock);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **ctx,
			  enum MHD_ConnectionNotificationCode code)
{
	struct astro_httpd *h = cls;
	struct conn *k = *ctx;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *i =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

		k = calloc(1, sizeof(*k));
		if (!k || !i) {
			/* untracked, it still has libmicrohttpd's idle timeout */
			free(k);
			return;
		}
		k->fd = i->connect_fd;
		k->phase = HEADERS;
		k->since_ms = astro_mono_ms();
		pthread_mutex_lock(&h->lock);
		k->next = h->conns.next;
		k->prev = &h->conns;
		k->next->prev = k;
		h->conns.next = k;
		pthread_mutex_unlock(&h->lock);
		*ctx = k;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED && k) {
		pthread_mutex_lock(&h->lock);
		k->prev->next = k->next;
		k->next->prev = k->prev;
		pthread_mutex_unlock(&h->lock);
		free(k);
		*ctx = NULL;
	}
}

static void *reaper(void *arg)
{
	struct astro_httpd *h = arg;

	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		struct timespec ts;
		int64_t now = astro_mono_ms();

		for (struct conn *k = h->conns.next; k != &h->conns; k = k->next) {
			int64_t limit = k->phase == HEADERS ? ASTRO_HTTPD_HEADER_S * 1000
				      : k->phase == BODY ? ASTRO_HTTPD_BODY_S * 1000 : -1;

			if (!k->reaped && limit >= 0 && now - k->since_ms > limit) {
				k->reaped = 1;
				(void)shutdown(k->fd, SHUT_RDWR);
			}
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&h->cv, &h->lock, &ts);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* -------------------------------------------------------------- requests */

static int source_allowed(struct astro_httpd *h, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *i;

	if (!h->allow)
		return 1;
	i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	return i && i->client_addr && astro_httpd_allow_match(h->allow, i->client_addr);
}

static int token_ok(struct astro_httpd *h, struct MHD_Connection *c)
{
	const char *a;
	int ok;

	if (!h->ntokens)
		return 1;
	a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (a && strncasecmp(a, "Bearer ", 7) == 0)
		a += 7;
	else if (a && h->o.token_lines && strncasecmp(a, "Token ", 6) == 0)
		a += 6;
	else
		return 0;
	while (*a == ' ')
		a++;
	{
		unsigned char md[32];

		sha256(a, strlen(a), md);
		ok = 0;
		/* every entry compared, so timing tells nothing of which matched */
		for (size_t i = 0; i < h->ntokens; i++)
			ok |= CRYPTO_memcmp(md, h->token_md[i], sizeof(md)) == 0;
		OPENSSL_cleanse(md, sizeof(md));
	}
	return ok;
}

static int add_body(struct astro_httpd *h, struct body *b, const char *data, size_t n)
{
	if (!b->too_big && b->len + n > h->o.max_body) {
		b->too_big = 1;
		free(b->buf);
		b->buf = NULL;
		b->len = b->cap = 0;
	}
	if (b->too_big)
		return 0;
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 4096;
		char *nb;

		while (nc < b->len + n + 1)
			nc *= 2;
		nb = realloc(b->buf, nc);
		if (!nb)
			return -ENOMEM;
		b->buf = nb;
		b->cap = nc;
	}
	memcpy(b->buf + b->len, data, n);
	b->len += n;
	b->buf[b->len] = '\0';
	return 0;
}

/* ----------------------------------------------------------- file answers */

const char *astro_httpd_header(const struct astro_httpd_req *r, const char *name)
{
	return r->conn ? MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name) : NULL;
}

const char *astro_httpd_arg(const struct astro_httpd_req *r, const char *name)
{
	return r->conn ? MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name)
		       : NULL;
}

int astro_httpd_answer_error(struct astro_httpd_answer *a, unsigned status, const char *msg)
{
	a->status = status;
	if (astro_httpd_error_body(msg, NULL, &a->body))
		return -ENOMEM;
	a->len = strlen(a->body);
	return 0;
}

int astro_httpd_answer_json(struct astro_httpd_answer *a, json_t *j)
{
	if (!j)
		return -ENOMEM;
	a->body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!a->body)
		return -ENOMEM;
	a->len = strlen(a->body);
	return 0;
}

static void count(struct astro_httpd *h, const char *what, int64_t n)
{
	char name[96];

	if (!h->o.stats || n == 0)
		return;
	snprintf(name, sizeof(name), "%s.%s", h->o.stats, what);
	astro_stats_add(name, n);
}

static enum MHD_Result refuse(struct astro_httpd *h, struct MHD_Connection *c,
			      unsigned status, const char *msg)
{
	count(h, "errors", 1);
	return reply_error(h, c, status, msg);
}

/* A reader over part of an answer's body: [base, base + len). */
struct stream {
	struct astro_httpd_answer a;
	uint64_t base;
};

static void stream_free(void *cls)
{
	struct stream *s = cls;

	if (s->a.done)
		s->a.done(s->a.read_arg);
	free(s->a.body);
	free(s);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;
	long n;

	if (s->a.body) {
		uint64_t at = s->base + pos;

		n = (long)(max < s->a.len - at ? max : s->a.len - at);
		memcpy(buf, s->a.body + at, (size_t)n);
		return n;
	}
	if (s->base + pos >= s->a.size)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (max > s->a.size - (s->base + pos))
		max = (size_t)(s->a.size - (s->base + pos));
	n = s->a.read(s->a.read_arg, s->base + pos, buf, max);
	if (n < 0)
		astro_log(LOG_WARNING, "httpd: body read at %llu: %s",
			  (unsigned long long)(s->base + pos), strerror((int)-n));
	return n > 0 ? n : MHD_CONTENT_READER_END_WITH_ERROR;
}

static uint64_t answer_size(const struct astro_httpd_answer *a)
{
	return a->body || !a->read ? a->len : a->size;
}

/* Does the comma-separated ETag list `list` name `etag` (or "*")?  Weak
 * comparison, as If-None-Match asks. */
int astro_httpd_etag_listed(const char *list, const char *etag)
{
	size_t el = strlen(etag);

	for (const char *p = list; *p;) {
		size_t n;

		p += strspn(p, " \t,");
		if (*p == '*')
			return 1;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		n = strcspn(p, ",");
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == el && memcmp(p, etag, n) == 0)
			return 1;
		p += strcspn(p, ",");
	}
	return 0;
}

/* Does Accept-Encoding ask for gzip (with a q above 0)? */
int astro_httpd_wants_gzip(const char *ae)
{
	for (const char *p = ae; p && *p;) {
		size_t n;

		p += strspn(p, " \t,");
		n = strcspn(p, ",");
		if ((strncasecmp(p, "gzip", 4) == 0 && strchr(" \t;,", p[4] ? p[4] : ',')) ||
		    (strncmp(p, "*", 1) == 0 && strchr(" \t;,", p[1] ? p[1] : ','))) {
			const char *q = memchr(p, ';', n);

			if (!q)
				return 1;
			q += strspn(q, "; \t");
			if (strncasecmp(q, "q=", 2) != 0 || strtod(q + 2, NULL) > 0)
				return 1;
		}
		p += n;
	}
	return 0;
}

/* The whole body into memory (for gzip). */
static int body_load(struct astro_httpd_answer *a)
{
	char *buf;
	uint64_t at = 0;

	if (a->body || !a->read)
		return 0;
	buf = malloc(a->size ? a->size : 1);
	if (!buf)
		return -ENOMEM;
	while (at < a->size) {
		size_t want = a->size - at < STREAM_BLOCK ? (size_t)(a->size - at) : STREAM_BLOCK;
		long n = a->read(a->read_arg, at, buf + at, want);

		if (n <= 0) {
			free(buf);
			return n < 0 ? (int)n : -EIO;
		}
		at += (uint64_t)n;
	}
	a->body = buf;
	a->len = (size_t)a->size;
	return 0;
}

static int gzip_body(struct astro_httpd_answer *a)
{
	z_stream z;
	uLong cap = compressBound((uLong)a->len) + 32;
	char *out = malloc(cap);
	int zr;

	if (!out)
		return -ENOMEM;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(out);
		return -ENOMEM;
	}
	z.next_in = (Bytef *)a->body;
	z.avail_in = (uInt)a->len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	zr = deflate(&z, Z_FINISH);
	deflateEnd(&z);
	if (zr != Z_STREAM_END) {
		free(out);
		return -EIO;
	}
	free(a->body);
	a->body = out;
	a->len = z.total_out;
	return 0;
}

/*
 * One "bytes=A-B", "bytes=A-" or "bytes=-N" range of a body of `size`:
 * 1 with [*from, *to] set, 0 when the header is to be ignored (not bytes,
 * several ranges, garbage), -1 when unsatisfiable (416).
 */
int astro_httpd_parse_range(const char *v, uint64_t size, uint64_t *from, uint64_t *to)
{
	unsigned long long a, b;
	char *end;

	if (strncasecmp(v, "bytes=", 6) != 0 || strchr(v, ','))
		return 0;
	v += 6;
	while (*v == ' ')
		v++;
	if (*v == '-') {
		if (v[1] < '0' || v[1] > '9')
			return 0;
		errno = 0;
		b = strtoull(v + 1, &end, 10);
		if (errno || *end)
			return 0;
		if (b == 0 || size == 0)
			return -1;
		*from = b >= size ? 0 : size - b;
		*to = size - 1;
		return 1;
	}
	if (*v < '0' || *v > '9')
		return 0;
	errno = 0;
	a = strtoull(v, &end, 10);
	if (errno || *end != '-')
		return 0;
	v = end + 1;
	if (*v) {
		if (*v < '0' || *v > '9')
			return 0;
		b = strtoull(v, &end, 10);
		if (errno || *end || b < a)
			return 0;
	} else {
		b = UINT64_MAX;
	}
	if (a >= size)
		return -1;
	*from = a;
	*to = b >= size ? size - 1 : b;
	return 1;
}

static void add_file_headers(struct MHD_Response *r, const struct astro_httpd_answer *a,
			     const char *etag)
{
	char date[64];

	if (*etag)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
	if (a->mtime > 0) {
		time_t t = (time_t)a->mtime;
		struct tm tm;

		if (gmtime_r(&t, &tm) &&
		    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm))
			MHD_add_response_header(r, MHD_HTTP_HEADER_LAST_MODIFIED, date);
	}
	if (a->cache_control)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, a->cache_control);
	if (a->gzip)
		MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
}

/* Queue a served answer; takes it over (done and body released). */
static enum MHD_Result send_answer(struct astro_httpd *h, struct MHD_Connection *c,
				   const struct astro_httpd_req *req, struct astro_httpd_answer *a)
{
	struct MHD_Response *r = NULL;
	size_t blk;
	struct stream *s = NULL;
	unsigned status = a->status ? a->status : 200;
	uint64_t size = answer_size(a), from = 0, to = size ? size - 1 : 0;
	const char *inm = astro_httpd_header(req, MHD_HTTP_HEADER_IF_NONE_MATCH);
	const char *range = astro_httpd_header(req, MHD_HTTP_HEADER_RANGE);
	const char *ifr = astro_httpd_header(req, MHD_HTTP_HEADER_IF_RANGE);
	int head = strcmp(req->method, "HEAD") == 0, gz = 0, rr = 0;
	char etag[96], cr[96];
	struct astro_httpd_answer meta = *a;	/* header fields, kept past release */
	enum MHD_Result ret;

	astro_strlcpy(etag, a->etag, sizeof(etag));
	if (status == 200 && range && (!ifr || (*etag && strcmp(ifr, etag) == 0)))
		rr = astro_httpd_parse_range(range, size, &from, &to);
	if (status == 200 && a->gzip && rr == 0 && size <= ASTRO_HTTPD_GZIP_MAX &&
	    astro_httpd_wants_gzip(astro_httpd_header(req, MHD_HTTP_HEADER_ACCEPT_ENCODING))) {
		gz = 1;
		if (*etag && strlen(etag) + 3 < sizeof(etag))
			memcpy(etag + strlen(etag) - 1, "-gz\"", 5);
	}
	if (status == 200 && *etag && inm && astro_httpd_etag_listed(inm, etag)) {
		status = MHD_HTTP_NOT_MODIFIED;
		count(h, "not_modified", 1);
		r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		goto queue;
	}
	if (rr < 0) {
		status = MHD_HTTP_RANGE_NOT_SATISFIABLE;
		r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)size);
		if (r)
			MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
		goto queue;
	}
	if (gz && !head) {
		int rc = body_load(a);

		if (!rc)
			rc = gzip_body(a);
		if (rc) {
			astro_log(LOG_WARNING, "%s: gzip: %s", h->name, strerror(-rc));
			status = 500;
			r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
			goto queue;
		}
		size = a->len;
		from = 0;
		to = size ? size - 1 : 0;
	} else if (gz) {
		/* HEAD: the gzip'd length is unknown without compressing; say
		 * nothing of it rather than the identity length */
		gz = 0;
		memcpy(etag, a->etag, sizeof(a->etag));
	}
	if (rr > 0)
		status = MHD_HTTP_PARTIAL_CONTENT;
	s = calloc(1, sizeof(*s));
	if (!s)
		goto queue;
	s->a = *a;
	s->base = from;
	memset(a, 0, sizeof(*a));	/* the stream owns body and done now */
	/*
	 * libmicrohttpd callocs the block with each response: a body under
	 * 1 MiB gets a block the allocator keeps in its arenas, where
	 * STREAM_BLOCK would be a fresh mapping to fault in and zero.
	 */
	blk = to - from + 1 < (1u << 20) ? SMALL_BLOCK : STREAM_BLOCK;
	r = MHD_create_response_from_callback(size ? to - from + 1 : 0, blk,
					      stream_read, s, stream_free);
	if (!r) {
		stream_free(s);
		s = NULL;
		goto queue;
	}
	if (!head)
		count(h, "bytes", (int64_t)(size ? to - from + 1 : 0));
	if (rr > 0) {
		snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)from,
			 (unsigned long long)to, (unsigned long long)size);
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				s->a.type ? s->a.type : "application/json");
	if (gz)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	if (s->a.disposition[0])
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, s->a.disposition);
queue:
	if (!s) {
		/* not handed to a stream: release it here */
		if (a->done)
			a->done(a->read_arg);
		free(a->body);
		memset(a, 0, sizeof(*a));
	}
	if (!r)
		return MHD_NO;
	if (status == 200 || status == 206 || status == 304) {
		MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
		add_file_headers(r, &meta, etag);
	}
	if (status >= 400)
		count(h, "errors", 1);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *data, size_t *data_size, void **state)
{
	struct astro_httpd *h = cls;
	struct body *b = *state;
	struct astro_httpd_req req;
	astro_httpd_handler_fn fn;
	unsigned status = 500;
	char *ans = NULL;
	int health = 0;

	(void)version;
	if (!b) {
		/* first call: headers only */
		b = calloc(1, sizeof(*b));
		if (!b)
			return MHD_NO;
		*state = b;
		set_phase(h, c, BODY);
		return MHD_YES;
	}
	if (*data_size) {
		if (add_body(h, b, data, *data_size))
			return MHD_NO;
		*data_size = 0;
		return MHD_YES;
	}
	set_phase(h, c, ANSWER);
	count(h, "requests", 1);
	if (!source_allowed(h, c))
		return refuse(h, c, MHD_HTTP_FORBIDDEN, "forbidden");
	if (!token_ok(h, c))
		return refuse(h, c, MHD_HTTP_UNAUTHORIZED, "unauthorized");
	if (b->too_big)
		return refuse(h, c, MHD_HTTP_CONTENT_TOO_LARGE, "request too large");
	fn = h->o.handler;
	if (h->o.health && strcmp(url, "/health") == 0) {
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
			return refuse(h, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
		fn = h->o.health;
		health = 1;
	}
	req.method = method;
	req.path = url;
	req.body = b->buf ? b->buf : "";
	req.len = b->len;
	req.conn = c;
	if (h->o.serve && !health) {
		struct astro_httpd_answer a;

		memset(&a, 0, sizeof(a));
		if (h->o.serve(h->o.arg, &req, &a)) {
			if (a.done)
				a.done(a.read_arg);
			free(a.body);
			return refuse(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		}
		return send_answer(h, c, &req, &a);
	}
	if (!fn || fn(h->o.arg, &req, &status, &ans) || !ans)
		return refuse(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	if (status >= 400)
		count(h, "errors", 1);
	if (strcmp(method, "HEAD") != 0)
		count(h, "bytes", (int64_t)strlen(ans));
	return reply(c, status, ans);
}

static void on_done(void *cls, struct MHD_Connection *c, void **state,
		    enum MHD_RequestTerminationCode toe)
{
	struct body *b = *state;

	(void)toe;
	/* a kept-alive connection waits for its next request's headers */
	set_phase(cls, c, HEADERS);
	if (b) {
		free(b->buf);
		free(b);
		*state = NULL;
	}
}

/* ---------------------------------------------------------------- setup */

/* "a.b.c.d:port" or "[v6]:port" into a socket address. */
static int parse_listen(const char *s, struct sockaddr_storage *ss)
{
	char host[64];
	const char *colon, *h0 = s;
	size_t hl;
	char *end;
	long port;

	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		h0 = s + 1;
		hl = (size_t)(rb - h0);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, h0, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (*s == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return -EINVAL;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return -EINVAL;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
	}
	return 0;
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	astro_log(LOG_DEBUG, "%s: listener: %s", (const char *)cls, msg);
}

int astro_httpd_start(struct astro_httpd **out, const struct astro_httpd_opts *o,
		      char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct astro_httpd *h;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	char *cert = NULL, *key = NULL;
	size_t cert_len = 0, cert_cap = 0, key_len = 0, key_cap = 0;
	int rc;

	snprintf(err, errlen, "error");
	if ((!o->handler && !o->serve) || !o->listen || parse_listen(o->listen, &ss) != 0) {
		snprintf(err, errlen, "listen address: expected a.b.c.d:port or [v6]:port");
		return -EINVAL;
	}
	if (!o->tls_cert != !o->tls_key) {
		snprintf(err, errlen, "HTTPS needs both a certificate and a key file");
		return -EINVAL;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->o = *o;
	h->conns.next = h->conns.prev = &h->conns;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cv, NULL);
	h->name = strdup(o->name ? o->name : "httpd");
	h->members = o->error_members ? strdup(o->error_members) : NULL;
	if (!h->name || (o->error_members && !h->members)) {
		rc = -ENOMEM;
		goto fail;
	}
	h->o.name = h->name;
	h->o.error_members = h->members;
	h->o.tls_cert = h->o.tls_key = h->o.token_file = h->o.allow = h->o.listen = NULL;
	if (o->allow && (rc = astro_httpd_allow_parse(o->allow, &h->allow, err, errlen)) != 0)
		goto fail;
	if (o->token_file && (rc = load_token(h, o->token_file, err, errlen)) != 0)
		goto fail;
	if (o->tls_cert) {
		if ((rc = read_secure(o->tls_cert, 0, &cert, &cert_len, &cert_cap, err, errlen)) ||
		    (rc = read_secure(o->tls_key, 0, &key, &key_len, &key_cap, err, errlen)))
			goto fail;
		flags |= MHD_USE_TLS;
	}
	rc = -pthread_create(&h->reaper, NULL, reaper, h);
	if (rc) {
		snprintf(err, errlen, "%s", strerror(-rc));
		goto fail;
	}
	h->have_reaper = 1;
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_THREAD_POOL_SIZE, o->threads ? o->threads : DEFAULT_THREADS,
				MHD_OPTION_CONNECTION_LIMIT, ASTRO_HTTPD_MAX_CONN,
				MHD_OPTION_LISTEN_BACKLOG_SIZE, ASTRO_HTTPD_BACKLOG,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ASTRO_HTTPD_IDLE_S,
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
				MHD_OPTION_NOTIFY_COMPLETED, on_done, h,
				MHD_OPTION_EXTERNAL_LOGGER, log_mhd, h->name,
				cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
				MHD_OPTION_HTTPS_MEM_KEY, key,
				MHD_OPTION_END);
	if (!h->d) {
		rc = -EADDRNOTAVAIL;
		snprintf(err, errlen, cert ? "cannot listen on %s (address in use, or the "
					     "certificate and key are not a usable PEM pair)"
					   : "cannot listen on %s (address in use or not local)",
			 o->listen);
		goto fail;
	}
	h->cert = cert;
	h->cert_cap = cert_cap;
	h->key = key;
	h->key_cap = key_cap;
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : 0;
	astro_info("%s: listening on %s (%s%s%s)", h->name, o->listen, cert ? "HTTPS" : "HTTP",
		   h->ntokens ? ", token" : "", h->allow ? ", allow list" : "");
	*out = h;
	return 0;
fail:
	astro_secure_free(key, key_cap);
	astro_secure_free(cert, cert_cap);
	astro_httpd_stop(h);
	return rc;
}

unsigned astro_httpd_port(const struct astro_httpd *h)
{
	return h->port;
}

void astro_httpd_stop(struct astro_httpd *h)
{
	if (!h)
		return;
	if (h->have_reaper) {
		pthread_mutex_lock(&h->lock);
		h->stop = 1;
		pthread_cond_signal(&h->cv);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->reaper, NULL);
	}
	if (h->d)
		MHD_stop_daemon(h->d);
	if (h->token_md) {
		OPENSSL_cleanse(h->token_md, h->ntokens * sizeof(*h->token_md));
		free(h->token_md);
	}
	astro_secure_free(h->key, h->key_cap);
	astro_secure_free(h->cert, h->cert_cap);
	astro_httpd_allow_free(h->allow);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->lock);
	free(h->name);
	free(h->members);
	free(h);
}

/*
 * httpd.h — the HTTP(S) listener shared by the trees that serve an API
 * (the satellite filter's sattle endpoints; the telemetry listener): one
 * libmicrohttpd daemon with the same protections for every user.
 *
 *   listen   "a.b.c.d:port" or "[v6]:port" (numeric; port 0 picks one)
 *   TLS      tls_cert + tls_key (PEM files): the listener speaks only HTTPS
 *            (GnuTLS, as Debian builds libmicrohttpd); the key is held in
 *            memory excluded from core dumps and wiped after the handshake
 *            material is loaded.
 *   token    token_file (mode 0600 or stricter, owned by the caller or
 *            root) holds a shared secret on its first line: every request
 *            must send "Authorization: Bearer <secret>", else 401.  With
 *            token_lines every non-empty line is one accepted token (a
 *            team's keys, revoked by deleting a line) and RAVEN's
 *            "Authorization: Token <key>" is accepted as well.  Only the
 *            secrets' SHA-256 are kept; comparison is of digests in
 *            constant time, so neither a secret's bytes nor its length
 *            leak through timing.
 *   allow    CIDR list separated by ';' (or ','): "10.0.0.0/8;::1;
 *            192.168.1.7"; a request from elsewhere is 403.  NULL: any.
 *            IPv4-mapped IPv6 peers match IPv4 entries.
 *   deadlines A connection must send its request's headers within
 *            ASTRO_HTTPD_HEADER_S (of connecting or of its previous answer)
 *            and its body within ASTRO_HTTPD_BODY_S after them, and may be
 *            idle at most ASTRO_HTTPD_IDLE_S; past any of these its socket
 *            is shut down, however steadily it trickles (slowloris).
 *   limits   ASTRO_HTTPD_MAX_CONN connections at once, a listen backlog of
 *            ASTRO_HTTPD_BACKLOG (a burst of a few hundred connects is
 *            queued, not refused), bodies over max_body are 413.
 *   errors   JSON bodies {"error": "...", <error_members>}; error_members
 *            (e.g. "\"allow_list\": []") lets a user keep its fail-safe
 *            shape in every refusal, the listener's own included.
 *   /health  GET /health is answered by the health callback when given
 *            (after the allow and token checks, like any request).
 *
 * Every other request goes to the handler with its method, path (query
 * string excluded) and complete body; it sets the status and a malloc'd
 * JSON body.  Order of refusals: 403 (source), 401 (token), 413 (size),
 * then the handler.
 *
 * A user that serves files gives `serve` instead: it answers with a
 * struct astro_httpd_answer (a buffer, or a reader over a body of known
 * size), and this module does HTTP's part of file serving uniformly:
 * If-None-Match against the answer's strong ETag (304), one-range Range
 * requests (206, 416; If-Range honoured; several ranges get the whole
 * body), HEAD, Last-Modified, Cache-Control, and gzip when the client asks
 * and the answer allows it (only whole bodies of at most
 * ASTRO_HTTPD_GZIP_MAX; the gzip variant has its own ETag, "<etag>-gz").
 * With `stats` set, counters <stats>.requests, .bytes (body bytes
 * answered), .not_modified and .errors (status >= 400) go to
 * /.astrofs/stats.
 *
 * Thread-safety: the handler and health callback run on the daemon's
 * threads, several at once.
 */
#ifndef ASTRO_SERVICES_HTTPD_H
#define ASTRO_SERVICES_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#define ASTRO_HTTPD_HEADER_S 10
#define ASTRO_HTTPD_BODY_S 60
#define ASTRO_HTTPD_IDLE_S 10
#define ASTRO_HTTPD_MAX_CONN 512u
#define ASTRO_HTTPD_BACKLOG 1024u

#define ASTRO_HTTPD_GZIP_MAX (64u << 20)

struct astro_httpd_req {
	const char *method;
	const char *path;
	const char *body;		/* NUL-terminated; "" when none */
	size_t len;
	void *conn;			/* for astro_httpd_header/_arg */
};

/* A request header or query argument (decoded), or NULL when absent. */
const char *astro_httpd_header(const struct astro_httpd_req *r, const char *name);
const char *astro_httpd_arg(const struct astro_httpd_req *r, const char *name);

/* 0 with *status and *body (malloc'd JSON) set, or -ENOMEM. */
typedef int (*astro_httpd_handler_fn)(void *arg, const struct astro_httpd_req *req,
				      unsigned *status, char **body);

/*
 * Reads up to max bytes of the body at pos (pos + max never passes size):
 * the count (> 0), or -errno.  Called on a daemon thread, one call at a time
 * per answer.
 */
typedef long (*astro_httpd_read_fn)(void *arg, uint64_t pos, char *buf, size_t max);

struct astro_httpd_answer {
	unsigned status;		/* 0: 200 */
	const char *type;		/* Content-Type (static); NULL: application/json */
	/* the body: a malloc'd buffer (taken over), or a reader of `size` bytes */
	char *body;
	size_t len;
	astro_httpd_read_fn read;
	uint64_t size;
	void *read_arg;
	void (*done)(void *read_arg);	/* called once when given, whatever happens */
	/* file semantics, for status 200 (all optional) */
	char etag[80];			/* strong ETag, quotes included; "" none */
	int64_t mtime;			/* Last-Modified (unix s); 0 none */
	const char *cache_control;	/* static */
	int gzip;			/* may be sent gzip'd when asked */
	char disposition[160];		/* Content-Disposition; "" none */
};

/* Fill ans with {"error": msg} and status: 0 or -ENOMEM. */
int astro_httpd_answer_error(struct astro_httpd_answer *ans, unsigned status, const char *msg);
/* Fill ans's body with j's compact text (j is taken, may be NULL): 0 or -ENOMEM. */
struct json_t;
int astro_httpd_answer_json(struct astro_httpd_answer *ans, struct json_t *j);

/* 0 with *ans filled, or -ENOMEM (500).  ans arrives zeroed. */
typedef int (*astro_httpd_serve_fn)(void *arg, const struct astro_httpd_req *req,
				    struct astro_httpd_answer *ans);

struct astro_httpd_opts {
	const char *name;		/* in log lines, e.g. "satfilter" */
	const char *listen;
	const char *tls_cert, *tls_key;	/* both or neither */
	const char *token_file;
	int token_lines;		/* every line a token; "Token" scheme too */
	const char *allow;
	size_t max_body;
	const char *error_members;	/* may be NULL */
	unsigned threads;		/* 0: 4 */
	astro_httpd_handler_fn handler;
	astro_httpd_serve_fn serve;	/* instead of handler */
	const char *stats;		/* counter prefix, e.g. "telemetry.http"; NULL none */
	astro_httpd_handler_fn health;	/* GET /health; may be NULL */
	void *arg;
};

struct astro_httpd;

/*
 * Start listening.  0, or -EINVAL (bad address, allow list, token or TLS
 * files: err says which and why), -EACCES (token file too open), or -errno
 * from reading files or binding.
 */
int astro_httpd_start(struct astro_httpd **out, const struct astro_httpd_opts *o,
		      char *err, size_t errlen);
/* The bound port (useful with port 0). */
unsigned astro_httpd_port(const struct astro_httpd *h);
/* NULL is a no-op.  Waits for requests in progress. */
void astro_httpd_stop(struct astro_httpd *h);

/* {"error": msg, <members>} into *body (msg JSON-escaped): 0 or -ENOMEM. */
int astro_httpd_error_body(const char *msg, const char *members, char **body);

/*
 * Allow lists, exposed for tests: parse `list` (see above) into *out
 * (free with astro_httpd_allow_free); 0 or -EINVAL naming the bad entry in
 * err.  astro_httpd_allow_match: 1 when the address (a sockaddr_in or
 * sockaddr_in6) is in the list.
 */
struct astro_httpd_allow;
int astro_httpd_allow_parse(const char *list, struct astro_httpd_allow **out, char *err,
			    size_t errlen);
int astro_httpd_allow_match(const struct astro_httpd_allow *a, const void *sockaddr);
void astro_httpd_allow_free(struct astro_httpd_allow *a);

/*
 * Request-header parsers of file answers, exposed for tests and fuzzing.
 * parse_range: one "bytes=A-B" / "A-" / "-N" range of a body of `size`: 1
 * with [*from, *to] (inclusive, to < size), 0 when the header is to be
 * ignored (not bytes, several ranges, garbage), -1 when unsatisfiable.
 * etag_listed: 1 when an If-None-Match list names etag (weak comparison)
 * or is "*".  wants_gzip: 1 when Accept-Encoding (may be NULL) asks for
 * gzip or * with a q above 0.
 */
int astro_httpd_parse_range(const char *v, uint64_t size, uint64_t *from, uint64_t *to);
int astro_httpd_etag_listed(const char *list, const char *etag);
int astro_httpd_wants_gzip(const char *ae);

/* 1 when a and b are equal, in time independent of their contents and
 * lengths (digests compared).  Exposed for tests. */
int astro_httpd_secret_equal(const void *a, size_t al, const void *b, size_t bl);

#endif

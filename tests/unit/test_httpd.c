/*
 * The listener service (services/httpd.c) on 127.0.0.1, port 0, with
 * libcurl as the client: routing to the handler and /health, JSON error
 * bodies, 405/413, the bearer token, the allow list, HTTPS with a
 * certificate made here by the openssl command, and the header deadline
 * that ends a connection however steadily it trickles.  For file answers
 * (serve): Range/206/416, If-None-Match/304, If-Range, gzip, query
 * arguments, and token files of one token a line with RAVEN's "Token".
 */
#include "unit.h"
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "core/astro.h"
#include "services/httpd.h"

#define MEMBERS "\"allow_list\": []"

static char dir[64];

/* The test handler: /echo answers what it got, anything else is 404. */
static int handler(void *arg, const struct astro_httpd_req *req, unsigned *status, char **body)
{
	json_t *j;

	(void)arg;
	if (strcmp(req->path, "/echo") != 0) {
		*status = 404;
		return astro_httpd_error_body("no such route", MEMBERS, body);
	}
	j = json_pack("{s:s, s:s, s:s%}", "method", req->method, "path", req->path,
		      "body", req->body, req->len);
	*body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	*status = 200;
	return *body ? 0 : -ENOMEM;
}

static int health(void *arg, const struct astro_httpd_req *req, unsigned *status, char **body)
{
	(void)arg;
	(void)req;
	*status = 200;
	*body = strdup("{\"status\": \"ok\"}");
	return *body ? 0 : -ENOMEM;
}

static int run(const char *const argv[])
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void path_of(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", dir, name);
}

static void write_file(const char *name, const char *text, mode_t mode)
{
	char p[128];
	int fd;

	path_of(p, sizeof(p), name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	fchmod(fd, mode);
	close(fd);
}

static int group_setup(void **s)
{
	char cert[128], key[128];

	(void)s;
	strcpy(dir, "/tmp/astrofs-unit-httpd-XXXXXX");
	if (!mkdtemp(dir) || curl_global_init(CURL_GLOBAL_DEFAULT))
		return -1;
	path_of(cert, sizeof(cert), "cert.pem");
	path_of(key, sizeof(key), "key.pem");
	{
		const char *const argv[] = { "openssl", "req", "-x509", "-newkey", "ec",
					     "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
					     "-keyout", key, "-out", cert, "-days", "2",
					     "-subj", "/CN=127.0.0.1",
					     "-addext", "subjectAltName=IP:127.0.0.1", NULL };

		if (run(argv) != 0)
			return -1;
	}
	return 0;
}

static int group_teardown(void **s)
{
	const char *const argv[] = { "rm", "-rf", dir, NULL };

	(void)s;
	curl_global_cleanup();
	return run(argv) == 0 ? 0 : -1;
}

struct res {
	long status;
	char body[4096];
	size_t len;
	char www_auth[64];
};

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct res *r = arg;
	size_t k = sz * n;

	if (r->len + k >= sizeof(r->body))
		return 0;
	memcpy(r->body + r->len, p, k);
	r->len += k;
	r->body[r->len] = '\0';
	return k;
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
	struct res *r = arg;
	size_t k = sz * n;

	if (k > 18 && strncasecmp(p, "WWW-Authenticate:", 17) == 0)
		snprintf(r->www_auth, sizeof(r->www_auth), "%.*s", (int)(k - 17), p + 17);
	return k;
}

/* One request: 0 (CURLE_OK) with *r filled, else the curl code. */
static int request(const struct astro_httpd *h, int tls, const char *method, const char *path,
		   const char *auth, const char *body, struct res *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	char url[128], cert[128], ah[160];
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "%s://127.0.0.1:%u%s", tls ? "https" : "http",
		 astro_httpd_port(h), path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (tls) {
		path_of(cert, sizeof(cert), "cert.pem");
		curl_easy_setopt(c, CURLOPT_CAINFO, cert);
	}
	if (auth) {
		snprintf(ah, sizeof(ah), "Authorization: %s", auth);
		hdrs = curl_slist_append(hdrs, ah);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	}
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return (int)rc;
}

/* The body is {"error": msg, "allow_list": []}. */
static void assert_error_body(const struct res *r, const char *msg)
{
	json_t *j = json_loads(r->body, 0, NULL);

	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "error")), msg);
	assert_true(json_is_array(json_object_get(j, "allow_list")));
	json_decref(j);
}

static struct astro_httpd *start(const char *allow, const char *token_file, int tls)
{
	struct astro_httpd *h = NULL;
	char err[256], cert[128], key[128], tok[128];
	struct astro_httpd_opts o = {
		.name = "unit", .listen = "127.0.0.1:0", .allow = allow, .max_body = 64,
		.error_members = MEMBERS, .handler = handler, .health = health,
	};

	if (token_file) {
		path_of(tok, sizeof(tok), token_file);
		o.token_file = tok;
	}
	if (tls) {
		path_of(cert, sizeof(cert), "cert.pem");
		path_of(key, sizeof(key), "key.pem");
		o.tls_cert = cert;
		o.tls_key = key;
	}
	err[0] = '\0';
	assert_int_equal(astro_httpd_start(&h, &o, err, sizeof(err)), 0);
	assert_true(astro_httpd_port(h) > 0);
	return h;
}

static void routes_and_errors(void **s)
{
	struct astro_httpd *h = start(NULL, NULL, 0);
	struct res r;
	json_t *j;

	(void)s;
	assert_int_equal(request(h, 0, "POST", "/echo?x=1", NULL, "hello", &r), 0);
	assert_int_equal(r.status, 200);
	j = json_loads(r.body, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "method")), "POST");
	assert_string_equal(json_string_value(json_object_get(j, "path")), "/echo");
	assert_string_equal(json_string_value(json_object_get(j, "body")), "hello");
	json_decref(j);
	assert_int_equal(request(h, 0, "GET", "/nowhere", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 404);
	assert_error_body(&r, "no such route");
	assert_int_equal(request(h, 0, "GET", "/health", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"status\": \"ok\"}");
	assert_int_equal(request(h, 0, "POST", "/health", NULL, "x", &r), 0);
	assert_int_equal(r.status, 405);
	assert_error_body(&r, "method not allowed");
	/* max_body 64: 64 bytes pass, 65 are refused. */
	{
		char big[80];

		memset(big, 'a', 64);
		big[64] = '\0';
		assert_int_equal(request(h, 0, "POST", "/echo", NULL, big, &r), 0);
		assert_int_equal(r.status, 200);
		strcat(big, "b");
		assert_int_equal(request(h, 0, "POST", "/echo", NULL, big, &r), 0);
		assert_int_equal(r.status, 413);
		assert_error_body(&r, "request too large");
	}
	astro_httpd_stop(h);
}

static void bearer_token(void **s)
{
	struct astro_httpd *h;
	struct astro_httpd *bad = NULL;
	struct astro_httpd_opts o = { .name = "unit", .listen = "127.0.0.1:0", .handler = handler };
	struct res r;
	char err[256], tok[128];

	(void)s;
	write_file("token", "s3cret-token\nignored second line\n", 0600);
	h = start(NULL, "token", 0);
	assert_int_equal(request(h, 0, "GET", "/echo", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 401);
	assert_error_body(&r, "unauthorized");
	assert_non_null(strstr(r.www_auth, "Bearer"));
	assert_int_equal(request(h, 0, "GET", "/echo", "Bearer wrong", NULL, &r), 0);
	assert_int_equal(r.status, 401);
	/* A prefix or an extension of the secret is as wrong as any other. */
	assert_int_equal(request(h, 0, "GET", "/echo", "Bearer s3cret-toke", NULL, &r), 0);
	assert_int_equal(r.status, 401);
	assert_int_equal(request(h, 0, "GET", "/echo", "Bearer s3cret-tokenX", NULL, &r), 0);
	assert_int_equal(r.status, 401);
	assert_int_equal(request(h, 0, "GET", "/echo", "Basic czNjcmV0LXRva2Vu", NULL, &r), 0);
	assert_int_equal(r.status, 401);
	/* /health too is behind the token. */
	assert_int_equal(request(h, 0, "GET", "/health", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 401);
	assert_int_equal(request(h, 0, "GET", "/echo", "Bearer s3cret-token", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(request(h, 0, "GET", "/health", "bearer s3cret-token", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	astro_httpd_stop(h);

	/* The compare behind it: digests, so lengths may differ. */
	assert_true(astro_httpd_secret_equal("abc", 3, "abc", 3));
	assert_false(astro_httpd_secret_equal("abc", 3, "abd", 3));
	assert_false(astro_httpd_secret_equal("abc", 3, "abcd", 4));
	assert_false(astro_httpd_secret_equal("abc", 3, "ab", 2));
	assert_false(astro_httpd_secret_equal("", 0, "a", 1));

	/* A token file others can read is refused at start. */
	write_file("open-token", "s3cret\n", 0644);
	path_of(tok, sizeof(tok), "open-token");
	o.token_file = tok;
	assert_int_equal(astro_httpd_start(&bad, &o, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "too open"));
	write_file("empty-token", "\n", 0600);
	path_of(tok, sizeof(tok), "empty-token");
	assert_int_equal(astro_httpd_start(&bad, &o, err, sizeof(err)), -EINVAL);
}

static void allow_list(void **s)
{
	struct astro_httpd *h;
	struct res r;

	(void)s;
	write_file("token", "s3cret-token\n", 0600);
	/* 403 comes before 401: a stranger learns nothing of the token. */
	h = start("10.0.0.0/8", "token", 0);
	assert_int_equal(request(h, 0, "GET", "/echo", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 403);
	assert_error_body(&r, "forbidden");
	assert_int_equal(request(h, 0, "GET", "/health", "Bearer s3cret-token", NULL, &r), 0);
	assert_int_equal(r.status, 403);
	astro_httpd_stop(h);
	h = start("10.0.0.0/8; 127.0.0.0/30", NULL, 0);
	assert_int_equal(request(h, 0, "GET", "/echo", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	astro_httpd_stop(h);
	h = start("127.0.0.2/32,::1", NULL, 0);
	assert_int_equal(request(h, 0, "GET", "/echo", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 403);
	astro_httpd_stop(h);
}

static void https(void **s)
{
	struct astro_httpd *h = start(NULL, NULL, 1);
	struct res r;

	(void)s;
	assert_int_equal(request(h, 1, "GET", "/health", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(request(h, 1, "POST", "/echo", NULL, "over tls", &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "over tls"));
	/* The listener speaks only HTTPS: plain HTTP gets no answer. */
	assert_int_not_equal(request(h, 0, "GET", "/health", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 0);
	astro_httpd_stop(h);
}

/* A client that sends one header byte a second keeps its connection no
 * longer than ASTRO_HTTPD_HEADER_S. */
static void slow_headers_are_cut_off(void **s)
{
	struct astro_httpd *h = start(NULL, NULL, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0), closed = 0;
	int64_t t0;
	char c;

	(void)s;
	a.sin_port = htons((uint16_t)astro_httpd_port(h));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	t0 = astro_mono_ms();
	assert_int_equal(send(fd, "GET /echo HTTP/1.1\r\nX-Slow: ", 28, MSG_NOSIGNAL), 28);
	for (int i = 0; i < 3 * ASTRO_HTTPD_HEADER_S && !closed; i++) {
		struct timeval tv = { .tv_sec = 1 };
		ssize_t n;

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		n = recv(fd, &c, 1, 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			closed = 1;
		else if (send(fd, "a", 1, MSG_NOSIGNAL) != 1)
			closed = 1;
	}
	assert_true(closed);
	assert_true(astro_mono_ms() - t0 >= (ASTRO_HTTPD_HEADER_S - 1) * 1000);
	assert_true(astro_mono_ms() - t0 < (ASTRO_HTTPD_HEADER_S + 4) * 1000);
	close(fd);
	astro_httpd_stop(h);
}

/* ---- file answers (serve) ---- */

#define FILE_LEN 3000
static char file_body[FILE_LEN];
static int reads_done;

static long file_read(void *arg, uint64_t pos, char *buf, size_t max)
{
	(void)arg;
	memcpy(buf, file_body + pos, max);
	return (long)max;
}

static void file_done(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&reads_done, 1, __ATOMIC_SEQ_CST);
}

static int serve(void *arg, const struct astro_httpd_req *req, struct astro_httpd_answer *a)
{
	const char *q;

	(void)arg;
	if (strcmp(req->path, "/file") == 0) {
		a->read = file_read;
		a->size = FILE_LEN;
		a->done = file_done;
		a->type = "text/csv";
		a->gzip = 1;
		a->mtime = 1700000000;
		a->cache_control = "public, max-age=10";
		snprintf(a->etag, sizeof(a->etag), "\"v1\"");
		return 0;
	}
	q = astro_httpd_arg(req, "q");
	a->status = q ? 200 : 404;
	a->body = strdup(q ? q : "{}");
	a->len = a->body ? strlen(a->body) : 0;
	return a->body ? 0 : -ENOMEM;
}

struct hres {
	struct res r;
	char etag[64], range[64], encoding[64], lastmod[64];
};

static size_t on_hheader(char *p, size_t sz, size_t n, void *arg)
{
	struct hres *r = arg;
	size_t k = sz * n;
	static const struct {
		const char *name;
		size_t off;
	} want[] = {
		{ "ETag:", offsetof(struct hres, etag) },
		{ "Content-Range:", offsetof(struct hres, range) },
		{ "Content-Encoding:", offsetof(struct hres, encoding) },
		{ "Last-Modified:", offsetof(struct hres, lastmod) },
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		size_t l = strlen(want[i].name);

		if (k > l + 1 && strncasecmp(p, want[i].name, l) == 0)
			snprintf((char *)r + want[i].off, 64, "%.*s",
				 (int)strcspn(p + l + 1, "\r\n"), p + l + 1);
	}
	return k;
}

/* GET path with one extra header (may be NULL); gzip: ask for it (curl decodes). */
static int hget(unsigned port, const char *path, const char *hdr, int gzip, struct hres *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	char url[160];
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_hheader);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (gzip)
		curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "gzip");
	if (hdr) {
		hdrs = curl_slist_append(hdrs, hdr);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	}
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->r.status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return (int)rc;
}

static void file_answers(void **s)
{
	struct astro_httpd *h = NULL;
	struct astro_httpd_opts o = {
		.name = "unit", .listen = "127.0.0.1:0", .max_body = 64, .serve = serve,
	};
	char err[256];
	struct hres r;
	unsigned port;

	(void)s;
	for (int i = 0; i < FILE_LEN; i++)
		file_body[i] = (char)('a' + (i * 7 + i / 13) % 26);
	assert_int_equal(astro_httpd_start(&h, &o, err, sizeof(err)), 0);
	port = astro_httpd_port(h);
	reads_done = 0;

	assert_int_equal(hget(port, "/file", NULL, 0, &r), 0);
	if (r.r.status != 200)
		print_message("%s\n", r.r.body);
	assert_int_equal(r.r.status, 200);
	assert_int_equal(r.r.len, FILE_LEN);
	assert_memory_equal(r.r.body, file_body, FILE_LEN);
	assert_string_equal(r.etag, "\"v1\"");
	assert_string_equal(r.lastmod, "Tue, 14 Nov 2023 22:13:20 GMT");

	assert_int_equal(hget(port, "/file", "Range: bytes=5-9", 0, &r), 0);
	assert_int_equal(r.r.status, 206);
	assert_int_equal(r.r.len, 5);
	assert_memory_equal(r.r.body, file_body + 5, 5);
	assert_string_equal(r.range, "bytes 5-9/3000");
	assert_int_equal(hget(port, "/file", "Range: bytes=-10", 0, &r), 0);
	assert_int_equal(r.r.status, 206);
	assert_memory_equal(r.r.body, file_body + FILE_LEN - 10, 10);
	assert_int_equal(hget(port, "/file", "Range: bytes=3000-", 0, &r), 0);
	assert_int_equal(r.r.status, 416);
	assert_string_equal(r.range, "bytes */3000");
	/* not bytes, or several ranges: the whole body, as RFC 9110 allows */
	assert_int_equal(hget(port, "/file", "Range: bytes=0-1,5-6", 0, &r), 0);
	assert_int_equal(r.r.status, 200);
	assert_int_equal(r.r.len, FILE_LEN);
	assert_int_equal(hget(port, "/file", "Range: lines=1-2", 0, &r), 0);
	assert_int_equal(r.r.status, 200);

	assert_int_equal(hget(port, "/file", "If-None-Match: \"v0\", \"v1\"", 0, &r), 0);
	assert_int_equal(r.r.status, 304);
	assert_int_equal(r.r.len, 0);
	assert_int_equal(hget(port, "/file", "If-None-Match: \"v0\"", 0, &r), 0);
	assert_int_equal(r.r.status, 200);

	/* gzip: decoded by curl to the same bytes, under its own tag */
	assert_int_equal(hget(port, "/file", NULL, 1, &r), 0);
	assert_int_equal(r.r.status, 200);
	assert_string_equal(r.encoding, "gzip");
	assert_string_equal(r.etag, "\"v1-gz\"");
	assert_int_equal(r.r.len, FILE_LEN);
	assert_memory_equal(r.r.body, file_body, FILE_LEN);
	/* a Range request is answered in identity */
	assert_int_equal(hget(port, "/file", "Range: bytes=0-3", 1, &r), 0);
	assert_int_equal(r.r.status, 206);
	assert_string_equal(r.encoding, "");

	assert_int_equal(hget(port, "/q?q=a%20b", NULL, 0, &r), 0);
	assert_int_equal(r.r.status, 200);
	assert_string_equal(r.r.body, "a b");
	assert_int_equal(hget(port, "/q", NULL, 0, &r), 0);
	assert_int_equal(r.r.status, 404);
	astro_httpd_stop(h);
	/* every file answer was released once, the 304 and 416 ones too */
	assert_int_equal(reads_done, 10);
}

static void token_lines(void **s)
{
	struct astro_httpd *h = NULL;
	struct astro_httpd_opts o = {
		.name = "unit", .listen = "127.0.0.1:0", .max_body = 64, .error_members = MEMBERS,
		.handler = handler, .token_lines = 1,
	};
	char err[256], tok[128];
	struct res r;

	(void)s;
	write_file("tokens", "alpha\n\n  \nbeta\r\n", 0600);
	path_of(tok, sizeof(tok), "tokens");
	o.token_file = tok;
	assert_int_equal(astro_httpd_start(&h, &o, err, sizeof(err)), 0);
	assert_int_equal(request(h, 0, "GET", "/echo", "Token alpha", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(request(h, 0, "GET", "/echo", "Bearer beta", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(request(h, 0, "GET", "/echo", "Token gamma", NULL, &r), 0);
	assert_int_equal(r.status, 401);
	assert_int_equal(request(h, 0, "GET", "/echo", "Token ", NULL, &r), 0);
	assert_int_equal(r.status, 401);
	astro_httpd_stop(h);
	/* without token_lines: the first line only, and Bearer only */
	o.token_lines = 0;
	assert_int_equal(astro_httpd_start(&h, &o, err, sizeof(err)), 0);
	assert_int_equal(request(h, 0, "GET", "/echo", "Token alpha", NULL, &r), 0);
	assert_int_equal(r.status, 401);
	assert_int_equal(request(h, 0, "GET", "/echo", "Bearer beta", NULL, &r), 0);
	assert_int_equal(r.status, 401);
	assert_int_equal(request(h, 0, "GET", "/echo", "Bearer alpha", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	astro_httpd_stop(h);
	/* a file of blank lines holds no token */
	write_file("blank-tokens", "\n \n", 0600);
	path_of(tok, sizeof(tok), "blank-tokens");
	o.token_lines = 1;
	assert_int_equal(astro_httpd_start(&h, &o, err, sizeof(err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(routes_and_errors),
		cmocka_unit_test(bearer_token),
		cmocka_unit_test(allow_list),
		cmocka_unit_test(https),
		cmocka_unit_test(slow_headers_are_cut_off),
		cmocka_unit_test(file_answers),
		cmocka_unit_test(token_lines),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/* satfilter_http.c — see satfilter_http.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "core/astro.h"
#include "satfilter_http.h"

struct astro_satfilter_http {
	struct MHD_Daemon *d;
	struct astro_satfilter *sf;
	unsigned port;
};

struct body {
	char *buf;
	size_t len, cap;
	int too_big;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, char *text)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t n = strlen(text);

	r = MHD_create_response_from_buffer(n, text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_const(struct MHD_Connection *c, unsigned status, const char *t)
{
	char *s = strdup(t);

	return s ? reply(c, status, s) : MHD_NO;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *data, size_t *data_size, void **state)
{
	struct astro_satfilter_http *h = cls;
	struct body *b = *state;
	char *ans = NULL;
	int status = 500;

	(void)version;
	if (!b) {
		/* first call: headers only */
		b = calloc(1, sizeof(*b));
		if (!b)
			return MHD_NO;
		*state = b;
		return MHD_YES;
	}
	if (*data_size) {
		if (!b->too_big && b->len + *data_size > ASTRO_SATFILTER_MAX_REQUEST) {
			b->too_big = 1;
			free(b->buf);
			b->buf = NULL;
			b->len = b->cap = 0;
		}
		if (!b->too_big) {
			if (b->len + *data_size > b->cap) {
				size_t nc = b->cap ? b->cap : 4096;
				char *nb;

				while (nc < b->len + *data_size)
					nc *= 2;
				nb = realloc(b->buf, nc);
				if (!nb)
					return MHD_NO;
				b->buf = nb;
				b->cap = nc;
			}
			memcpy(b->buf + b->len, data, *data_size);
			b->len += *data_size;
		}
		*data_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/visit_cache") != 0 && strcmp(url, "/diasource_allow_list") != 0)
		return reply_const(c, MHD_HTTP_NOT_FOUND,
				   "{\"error\": \"not found\", \"allow_list\": []}");
	if (strcmp(method, "PUT") != 0 && strcmp(method, "POST") != 0)
		return reply_const(c, MHD_HTTP_METHOD_NOT_ALLOWED,
				   "{\"error\": \"method not allowed\", \"allow_list\": []}");
	if (b->too_big)
		return reply_const(c, MHD_HTTP_CONTENT_TOO_LARGE,
				   "{\"error\": \"request too large\", \"allow_list\": []}");
	if (astro_satfilter_handle(h->sf, b->buf ? b->buf : "", b->len, &ans, &status))
		return reply_const(c, MHD_HTTP_INTERNAL_SERVER_ERROR, ASTRO_SATFILTER_OOM_ANSWER);
	return reply(c, (unsigned)status, ans);
}

static void on_done(void *cls, struct MHD_Connection *c, void **state,
		    enum MHD_RequestTerminationCode toe)
{
	struct body *b = *state;

	(void)cls; (void)c; (void)toe;
	if (b) {
		free(b->buf);
		free(b);
		*state = NULL;
	}
}

/* "a.b.c.d:port" or "[v6]:port" into a socket address. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *sl)
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
		*sl = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return -EINVAL;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		*sl = sizeof(*a);
	}
	return 0;
}

int astro_satfilter_http_start(struct astro_satfilter_http **out,
			       struct astro_satfilter *sf, const char *listen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct astro_satfilter_http *h;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	int rc = parse_listen(listen, &ss, &sl);

	if (rc)
		return rc;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->sf = sf;
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_CONNECTION_LIMIT, 64u,
				MHD_OPTION_CONNECTION_TIMEOUT, 30u,
				MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
				MHD_OPTION_END);
	if (!h->d) {
		free(h);
		return -EADDRNOTAVAIL;
	}
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : 0;
	*out = h;
	return 0;
}

unsigned astro_satfilter_http_port(const struct astro_satfilter_http *h)
{
	return h->port;
}

void astro_satfilter_http_stop(struct astro_satfilter_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}

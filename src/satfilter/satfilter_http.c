/*
 * satfilter_http.c — see satfilter_http.h.
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
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "core/astro.h"
#include "satfilter_http.h"

/* Threads answering requests: a DIASource batch costs CPU, and one slow
 * answer must not hold up the other detectors of the visit. */
#define POOL_THREADS 4u

enum phase { HEADERS, BODY, ANSWER };

struct conn {
	struct conn *prev, *next;
	int fd;
	enum phase phase;
	int64_t since_ms;	/* when the phase began (monotonic) */
	int reaped;
};

struct astro_satfilter_http {
	struct MHD_Daemon *d;
	struct astro_satfilter *sf;
	pthread_mutex_t lock;	/* guards conns and stop */
	pthread_cond_t cv;
	struct conn conns;	/* list head */
	pthread_t reaper;
	int have_reaper, stop;
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

static struct conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *i =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return i ? i->socket_context : NULL;
}

static void set_phase(struct astro_satfilter_http *h, struct MHD_Connection *c, enum phase ph)
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
	struct astro_satfilter_http *h = cls;
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
	struct astro_satfilter_http *h = arg;

	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		struct timespec ts;
		int64_t now = astro_mono_ms();

		for (struct conn *k = h->conns.next; k != &h->conns; k = k->next) {
			int64_t limit = k->phase == HEADERS ? ASTRO_SATFILTER_HTTP_HEADER_S * 1000
				      : k->phase == BODY ? ASTRO_SATFILTER_HTTP_BODY_S * 1000 : -1;

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
		set_phase(h, c, BODY);
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
	set_phase(h, c, ANSWER);
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

	(void)toe;
	/* a kept-alive connection waits for its next request's headers */
	set_phase(cls, c, HEADERS);
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
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	int rc = parse_listen(listen, &ss, &sl);

	if (rc)
		return rc;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->sf = sf;
	h->conns.next = h->conns.prev = &h->conns;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cv, NULL);
	rc = -pthread_create(&h->reaper, NULL, reaper, h);
	if (rc) {
		astro_satfilter_http_stop(h);
		return rc;
	}
	h->have_reaper = 1;
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_THREAD_POOL_SIZE, POOL_THREADS,
				MHD_OPTION_CONNECTION_LIMIT, ASTRO_SATFILTER_HTTP_MAX_CONN,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ASTRO_SATFILTER_HTTP_IDLE_S,
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
				MHD_OPTION_NOTIFY_COMPLETED, on_done, h,
				MHD_OPTION_END);
	if (!h->d) {
		astro_satfilter_http_stop(h);
		return -EADDRNOTAVAIL;
	}
	*out = h;
	return 0;
}

void astro_satfilter_http_stop(struct astro_satfilter_http *h)
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
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

/*
 * obs_aws_fake.h — a just-enough fake of SQS, DynamoDB and S3 for
 * test_obs_aws.c, on 127.0.0.1 (libmicrohttpd), that records every request
 * (method, URL, headers, query arguments, body) so the test can hand them
 * to botocore.  One table, one bucket; state kept in jansson objects.  Test
 * code (static, included once): it answers only the calls the aws /obs
 * backend makes, in the shapes of the AWS API references.
 *
 * fake_start(url, size): start on a free port; url = "http://127.0.0.1:<port>".
 * fake_requests(f): [{"method","url","headers":[[n,v]...],"query":[[n,v]...],
 * "body"}...] (borrowed).  fake_visibility_expires(f): undeleted received
 * messages become visible again, as after SQS's visibility timeout.
 * fake_stop(f).
 */
#ifndef OBS_AWS_FAKE_H
#define OBS_AWS_FAKE_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <microhttpd.h>

struct fake {
	struct MHD_Daemon *d;
	pthread_mutex_t lock;
	json_t *requests;	/* recorded */
	json_t *items;		/* DynamoDB: id -> item */
	json_t *queues;		/* SQS: queue url -> [bodies] */
	json_t *inflight;	/* SQS: receipt -> [queue url, body], until deleted */
	unsigned receipts;
	json_t *objects;	/* S3: key -> size */
	int table_state;	/* 0 absent, 1 created */
	unsigned port;
};

struct fake_conn {
	char *body;
	size_t len;
};

static enum MHD_Result fake_add_pair(void *cls, enum MHD_ValueKind kind, const char *k,
				     const char *v)
{
	(void)kind;
	json_array_append_new(cls, json_pack("[s,s]", k, v ? v : ""));
	return MHD_YES;
}

/* One field of an x-www-form-urlencoded body (decoded, malloc'd), or NULL. */
static char *fake_form_get(const char *body, const char *name)
{
	size_t n = strlen(name);
	const char *p = body;

	while (p && *p) {
		if (strncmp(p, name, n) == 0 && p[n] == '=') {
			const char *v = p + n + 1, *e = strchr(v, '&');
			size_t len = e ? (size_t)(e - v) : strlen(v), i, o = 0;
			char *out = malloc(len + 1);

			for (i = 0; out && i < len; i++) {
				if (v[i] == '%' && i + 2 < len) {
					char hex[3] = { v[i + 1], v[i + 2], 0 };

					out[o++] = (char)strtol(hex, NULL, 16);
					i += 2;
				} else {
					out[o++] = v[i];
				}
			}
			if (out)
				out[o] = '\0';
			return out;
		}
		p = strchr(p, '&');
		if (p)
			p++;
	}
	return NULL;
}

static char *fake_xml_escape(const char *s)
{
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);

	for (; *s; s++) {
		if (*s == '&')
			fputs("&amp;", m);
		else if (*s == '<')
			fputs("&lt;", m);
		else
			fputc(*s, m);
	}
	fclose(m);
	return out;
}

static char *fake_sqs(struct fake *f, const char *body, unsigned *status)
{
	char *action = fake_form_get(body, "Action"), *q = fake_form_get(body, "QueueUrl");
	char *name = fake_form_get(body, "QueueName"), *out = NULL, url[200] = "";

	*status = 200;
	if (name)
		snprintf(url, sizeof(url), "http://127.0.0.1:%u/queues/%s", f->port, name);
	if (!action) {
		*status = 400;
		out = strdup("<ErrorResponse><Error><Code>MissingAction</Code></Error></ErrorResponse>");
	} else if (strcmp(action, "GetQueueUrl") == 0 && !json_object_get(f->queues, url)) {
		*status = 400;
		out = strdup("<ErrorResponse><Error><Code>AWS.SimpleQueueService.NonExistentQueue"
			     "</Code><Message>no such queue</Message></Error></ErrorResponse>");
	} else if (strcmp(action, "GetQueueUrl") == 0 || strcmp(action, "CreateQueue") == 0) {
		if (!json_object_get(f->queues, url))
			json_object_set_new(f->queues, url, json_array());
		if (asprintf(&out, "<R><Result><QueueUrl>%s</QueueUrl></Result></R>", url) < 0)
			out = NULL;
	} else if (strcmp(action, "SendMessage") == 0 && q) {
		char *m = fake_form_get(body, "MessageBody");

		json_array_append_new(json_object_get(f->queues, q), json_string(m ? m : ""));
		free(m);
		out = strdup("<SendMessageResponse><SendMessageResult><MessageId>1</MessageId>"
			     "</SendMessageResult></SendMessageResponse>");
	} else if (strcmp(action, "ReceiveMessage") == 0 && q) {
		json_t *a = json_object_get(f->queues, q);

		if (json_array_size(a)) {
			char *e = fake_xml_escape(json_string_value(json_array_get(a, 0)));
			char rh[32];

			/* Invisible, not gone, until DeleteMessage. */
			snprintf(rh, sizeof(rh), "rh-%u", ++f->receipts);
			json_object_set_new(f->inflight, rh, json_pack("[s,O]", q,
								       json_array_get(a, 0)));
			if (asprintf(&out, "<ReceiveMessageResponse><ReceiveMessageResult><Message>"
				     "<Body>%s</Body><ReceiptHandle>%s</ReceiptHandle></Message>"
				     "</ReceiveMessageResult></ReceiveMessageResponse>", e, rh) < 0)
				out = NULL;
			free(e);
			json_array_remove(a, 0);
		} else {
			out = strdup("<ReceiveMessageResponse><ReceiveMessageResult/>"
				     "</ReceiveMessageResponse>");
		}
	} else if (strcmp(action, "DeleteMessage") == 0) {
		char *rh = fake_form_get(body, "ReceiptHandle");

		json_object_del(f->inflight, rh ? rh : "");
		free(rh);
		out = strdup("<DeleteMessageResponse/>");
	} else {
		*status = 400;
		out = strdup("<ErrorResponse><Error><Code>InvalidAction</Code></Error></ErrorResponse>");
	}
	free(action);
	free(q);
	free(name);
	return out;
}

static const char *fake_key_id(json_t *req)
{
	return json_string_value(json_object_get(json_object_get(
		json_object_get(req, "Key"), "id"), "S"));
}

static char *fake_ddb(struct fake *f, const char *op, const char *body, unsigned *status)
{
	json_t *req = json_loads(body, 0, NULL), *rep = NULL, *it;
	char *out;

	*status = 200;
	if (strcmp(op, "DescribeTable") == 0) {
		if (f->table_state == 0) {
			*status = 400;
			rep = json_pack("{s:s}", "__type",
					"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException");
		} else {
			rep = json_pack("{s:{s:s}}", "Table", "TableStatus", "ACTIVE");
		}
	} else if (strcmp(op, "CreateTable") == 0) {
		f->table_state = 1;
		rep = json_pack("{s:{s:s}}", "TableDescription", "TableStatus", "CREATING");
	} else if (strcmp(op, "PutItem") == 0) {
		it = json_object_get(req, "Item");
		json_object_set(f->items, json_string_value(json_object_get(
			json_object_get(it, "id"), "S")), it);
		rep = json_object();
	} else if (strcmp(op, "GetItem") == 0) {
		it = json_object_get(f->items, fake_key_id(req));
		rep = it ? json_pack("{s:O}", "Item", it) : json_object();
	} else if (strcmp(op, "UpdateItem") == 0) {
		json_t *v = json_object_get(req, "ExpressionAttributeValues");
		const char *id = fake_key_id(req);

		it = json_object_get(f->items, id);
		if (json_object_get(v, ":one")) {	/* ADD n :one */
			long long n = 1;
			char num[32];

			if (it)
				n = strtoll(json_string_value(json_object_get(
					json_object_get(it, "n"), "N")), NULL, 10) + 1;
			snprintf(num, sizeof(num), "%lld", n);
			json_object_set_new(f->items, id, json_pack("{s:{s:s}}", "n", "N", num));
			rep = json_pack("{s:{s:{s:s}}}", "Attributes", "n", "N", num);
		} else if (it) {
			json_object_set(it, "state", json_object_get(v, ":to"));
			json_object_set(it, "job", json_object_get(v, ":job"));
			rep = json_object();
		} else {
			*status = 400;
			rep = json_pack("{s:s}", "__type", "x#ConditionalCheckFailedException");
		}
	} else if (strcmp(op, "Query") == 0) {
		json_t *items = json_array(), *v;
		const char *k;

		json_object_foreach(f->items, k, v)
			json_array_append(items, v);
		rep = json_pack("{s:o}", "Items", items);
	} else {
		*status = 400;
		rep = json_pack("{s:s}", "__type", "x#UnknownOperationException");
	}
	out = json_dumps(rep, JSON_COMPACT);
	json_decref(rep);
	json_decref(req);
	return out;
}

static char *fake_s3(struct fake *f, const char *method, const char *url,
		     struct MHD_Connection *c, size_t len, unsigned *status)
{
	const char *key = strchr(url + 1, '/');	/* /bucket/key */

	*status = 200;
	if (strcmp(method, "PUT") == 0 && key) {
		json_object_set_new(f->objects, key + 1, json_integer((json_int_t)len));
		return strdup("");
	}
	if (strcmp(method, "HEAD") == 0 && key) {
		*status = json_object_get(f->objects, key + 1) ? 200 : 404;
		return strdup("");
	}
	if (strcmp(method, "GET") == 0 && !key) {
		const char *prefix = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "prefix");
		char *list = NULL;
		size_t n = 0;
		FILE *m = open_memstream(&list, &n);
		const char *k;
		json_t *v;

		fputs("<ListBucketResult><IsTruncated>false</IsTruncated>", m);
		json_object_foreach(f->objects, k, v)
			if (!prefix || strncmp(k, prefix, strlen(prefix)) == 0)
				fprintf(m, "<Contents><Key>%s</Key><Size>%lld</Size>"
					"<LastModified>2026-01-02T03:04:05.000Z</LastModified>"
					"</Contents>", k, (long long)json_integer_value(v));
		fputs("</ListBucketResult>", m);
		fclose(m);
		return list;
	}
	*status = 404;
	return strdup("<Error><Code>NoSuchKey</Code></Error>");
}

static enum MHD_Result fake_handle(void *cls, struct MHD_Connection *c, const char *url,
				   const char *method, const char *version,
				   const char *upload, size_t *upload_size, void **con_cls)
{
	struct fake *f = cls;
	struct fake_conn *s = *con_cls;
	struct MHD_Response *r;
	const char *target;
	unsigned status;
	char *out, full[1024];
	json_t *hdrs, *args;
	enum MHD_Result ret;

	(void)version;
	if (!s) {
		*con_cls = calloc(1, sizeof(*s));
		return *con_cls ? MHD_YES : MHD_NO;
	}
	if (*upload_size) {
		char *nb = realloc(s->body, s->len + *upload_size + 1);

		if (!nb)
			return MHD_NO;
		memcpy(nb + s->len, upload, *upload_size);
		s->body = nb;
		s->len += *upload_size;
		s->body[s->len] = '\0';
		*upload_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&f->lock);
	hdrs = json_array();
	args = json_array();
	MHD_get_connection_values(c, MHD_HEADER_KIND, fake_add_pair, hdrs);
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, fake_add_pair, args);
	snprintf(full, sizeof(full), "http://127.0.0.1:%u%s", f->port, url);
	json_array_append_new(f->requests,
			      json_pack("{s:s,s:s,s:o,s:o,s:s%}", "method", method, "url", full,
					"headers", hdrs, "query", args, "body",
					s->body ? s->body : "", s->len));
	target = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Target");
	if (target && strncmp(target, "DynamoDB_20120810.", 18) == 0)
		out = fake_ddb(f, target + 18, s->body ? s->body : "{}", &status);
	else if (strcmp(url, "/") == 0 && strcmp(method, "POST") == 0)
		out = fake_sqs(f, s->body ? s->body : "", &status);
	else
		out = fake_s3(f, method, url, c, s->len, &status);
	pthread_mutex_unlock(&f->lock);
	if (!out)
		return MHD_NO;
	r = MHD_create_response_from_buffer(strlen(out), out, MHD_RESPMEM_MUST_FREE);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static void fake_done(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct fake_conn *s = *con_cls;

	(void)cls; (void)c; (void)toe;
	if (s) {
		free(s->body);
		free(s);
	}
	*con_cls = NULL;
}

static void fake_stop(struct fake *f)
{
	if (!f)
		return;
	if (f->d)
		MHD_stop_daemon(f->d);
	json_decref(f->requests);
	json_decref(f->items);
	json_decref(f->queues);
	json_decref(f->inflight);
	json_decref(f->objects);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static struct fake *fake_start(char *url, size_t size)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const union MHD_DaemonInfo *di;

	if (!f)
		return NULL;
	pthread_mutex_init(&f->lock, NULL);
	f->requests = json_array();
	f->items = json_object();
	f->queues = json_object();
	f->inflight = json_object();
	f->objects = json_object();
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, fake_handle, f,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				MHD_OPTION_NOTIFY_COMPLETED, fake_done, f, MHD_OPTION_END);
	di = f->d ? MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
	if (!di) {
		fake_stop(f);
		return NULL;
	}
	f->port = di->port;
	snprintf(url, size, "http://127.0.0.1:%u", f->port);
	return f;
}

/* The visibility timeout of every received, undeleted message runs out:
 * back to the front of its queue.  Returns how many. */
static size_t fake_visibility_expires(struct fake *f)
{
	const char *rh;
	json_t *v, *tmp;
	size_t n = 0;

	pthread_mutex_lock(&f->lock);
	json_object_foreach_safe(f->inflight, tmp, rh, v) {
		json_array_insert(json_object_get(f->queues, json_string_value(json_array_get(v, 0))),
				  0, json_array_get(v, 1));
		json_object_del(f->inflight, rh);
		n++;
	}
	pthread_mutex_unlock(&f->lock);
	return n;
}

static json_t *fake_requests(struct fake *f)
{
	return f->requests;
}

#endif

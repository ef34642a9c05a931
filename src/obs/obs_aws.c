/* obs_aws.c — the aws /obs store backend (see obs_aws.h). */
#include <assert.h>
#include <errno.h>
#include <expat.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "core/astro.h"
#include "services/aws.h"
#include "services/awsprov.h"
#include "services/http.h"
#include "core/log.h"
#include "obs_aws.h"
#include "services/s3.h"
#include "ulid.h"

#define URL_MAX 1024
#define MAX_SITES 64
#define XML_TEXT_MAX (256 * 1024)
#define LIST_TIMEOUT_MS 60000	/* a whole image listing, all pages */
#define SQS_VERSION "2012-11-05"
#define STATUS_ID "status"
#define CAS_TRIES 4	/* re-reads when another writer moved a job first */

struct queue_url {
	char name[200];
	char url[URL_MAX];
};

struct aws {
	char region[64], prefix[100], table[256], bucket[64];
	char sqs[URL_MAX], ddb[URL_MAX], s3[URL_MAX];
	struct astro_awsprov *cred;	/* shared with /fits when the settings match */
	struct astro_s3 *s3c;		/* the images bucket, path style */
	unsigned visibility_s, timeout_ms, retention_s;
	pthread_mutex_t lock;
	struct queue_url queues[2 * MAX_SITES];
	size_t nqueues;
	bool pythonbits;		/* the observatory simulator's layout */
	char state_tables[MAX_SITES][ASTRO_OBS_SITE_KEY_MAX + 1];	/* made sure of */
	size_t nstate_tables;
};

/* ---- pure helpers ---- */

ASTRO_TESTABLE char *astro_obs_aws_form(const struct astro_sigv4_param *p, size_t n)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *m = open_memstream(&buf, &len);
	int bad = !m;

	for (i = 0; m && i < n; i++) {
		char *k = astro_sigv4_uri_encode(p[i].name, strlen(p[i].name), 0);
		const char *v = p[i].value ? p[i].value : "";
		char *ev = astro_sigv4_uri_encode(v, strlen(v), 0);

		if (!k || !ev)
			bad = 1;
		else
			fprintf(m, "%s%s=%s", i ? "&" : "", k, ev);
		free(k);
		free(ev);
	}
	if (m && fclose(m) != 0)
		bad = 1;
	if (bad) {
		free(buf);
		return NULL;
	}
	return buf;
}

enum sqs_field { F_NONE = -1, F_URL, F_BODY, F_RECEIPT, F_CODE, F_MESSAGE, F_N };

static const char *const sqs_names[F_N] = {
	"QueueUrl", "Body", "ReceiptHandle", "Code", "Message",
};

struct sqs_parse {
	XML_Parser xp;
	enum sqs_field cur;
	char *text[F_N];
	size_t tlen, depth;
	char err[160];
};

static void XMLCALL sqs_start(void *ud, const XML_Char *name, const XML_Char **attr)
{
	struct sqs_parse *p = ud;
	int i;

	(void)attr;
	if (++p->depth > 32) {
		snprintf(p->err, sizeof(p->err), "<%s>: nested too deep", name);
		XML_StopParser(p->xp, XML_FALSE);
		return;
	}
	p->cur = F_NONE;
	/* Only the first occurrence counts (the first message, the first
	 * error); <Message> as an element of ReceiveMessageResult is a
	 * container, told apart by holding elements, not text. */
	for (i = 0; i < F_N; i++)
		if (strcmp(name, sqs_names[i]) == 0 && !p->text[i]) {
			p->text[i] = strdup("");
			if (!p->text[i]) {
				snprintf(p->err, sizeof(p->err), "out of memory");
				XML_StopParser(p->xp, XML_FALSE);
				return;
			}
			p->cur = (enum sqs_field)i;
			p->tlen = 0;
		}
}

static void XMLCALL sqs_end(void *ud, const XML_Char *name)
{
	struct sqs_parse *p = ud;

	(void)name;
	p->depth--;
	p->cur = F_NONE;
}

static void XMLCALL sqs_text(void *ud, const XML_Char *s, int len)
{
	struct sqs_parse *p = ud;
	char *t;

	if (p->cur == F_NONE || len <= 0)
		return;
	if (p->tlen + (size_t)len > XML_TEXT_MAX) {
		snprintf(p->err, sizeof(p->err), "<%s>: text longer than %d bytes",
			 sqs_names[p->cur], XML_TEXT_MAX);
		XML_StopParser(p->xp, XML_FALSE);
		return;
	}
	t = realloc(p->text[p->cur], p->tlen + (size_t)len + 1);
	if (!t) {
		snprintf(p->err, sizeof(p->err), "out of memory");
		XML_StopParser(p->xp, XML_FALSE);
		return;
	}
	memcpy(t + p->tlen, s, (size_t)len);
	p->tlen += (size_t)len;
	t[p->tlen] = '\0';
	p->text[p->cur] = t;
}

/* No DTDs: nothing an SQS reply needs, and entity expansion is an attack. */
static void XMLCALL sqs_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
				const XML_Char *pubid, int has_internal)
{
	struct sqs_parse *p = ud;

	(void)name; (void)sysid; (void)pubid; (void)has_internal;
	snprintf(p->err, sizeof(p->err), "a DOCTYPE is not allowed");
	XML_StopParser(p->xp, XML_FALSE);
}

ASTRO_TESTABLE void astro_obs_aws_sqs_reply_free(struct astro_obs_sqs_reply *r)
{
	if (!r)
		return;
	free(r->queue_url);
	free(r->body);
	free(r->receipt);
	free(r->error_code);
	free(r->error_message);
	memset(r, 0, sizeof(*r));
}

ASTRO_TESTABLE int astro_obs_aws_sqs_parse(const char *xml, size_t len, struct astro_obs_sqs_reply *out,
			char *err, size_t errlen)
{
	struct sqs_parse p = { .cur = F_NONE };
	int rc = 0, i;

	memset(out, 0, sizeof(*out));
	if (len > INT32_MAX)
		return -EBADMSG;
	p.xp = XML_ParserCreate("UTF-8");
	if (!p.xp)
		return -ENOMEM;
	XML_SetUserData(p.xp, &p);
	XML_SetElementHandler(p.xp, sqs_start, sqs_end);
	XML_SetCharacterDataHandler(p.xp, sqs_text);
	XML_SetStartDoctypeDeclHandler(p.xp, sqs_doctype);
	if (XML_Parse(p.xp, xml, (int)len, XML_TRUE) != XML_STATUS_OK) {
		rc = astro_err_set(err, errlen, -EBADMSG, "SQS reply: line %lu: %s",
				   (unsigned long)XML_GetCurrentLineNumber(p.xp),
				   p.err[0] ? p.err : XML_ErrorString(XML_GetErrorCode(p.xp)));
	}
	XML_ParserFree(p.xp);
	if (rc < 0) {
		for (i = 0; i < F_N; i++)
			free(p.text[i]);
		return rc;
	}
	out->queue_url = p.text[F_URL];
	out->body = p.text[F_BODY];
	out->receipt = p.text[F_RECEIPT];
	out->error_code = p.text[F_CODE];
	/* <Message> of ReceiveMessageResult is a container: its "text" is
	 * only whitespace between elements; keep it only as an error text. */
	out->error_message = p.text[F_MESSAGE];
	if (!out->error_code) {
		free(out->error_message);
		out->error_message = NULL;
	}
	return 0;
}

ASTRO_TESTABLE unsigned long long astro_obs_aws_image_seq(const char *name)
{
	const char *p = strstr(name, "_no"), *q;
	unsigned long long v = 0;

	/* The last "_no<digits>." wins: a site name may contain "_no". */
	for (q = p; q; q = strstr(q + 1, "_no"))
		p = q;
	if (!p)
		return 0;
	p += 3;
	if (*p < '0' || *p > '9')
		return 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (~0ull - 9) / 10)
			return 0;
		v = v * 10 + (unsigned long long)(*p - '0');
	}
	return *p == '.' ? v : 0;
}

/* ---- signed requests ---- */

/* One SQS or DynamoDB call (a POST to the endpoint's root). */
static int aws_call(struct aws *a, const char *service, const char *endpoint,
		    const char *const *headers, const char *body, int idempotent,
		    struct astro_http_resp *resp)
{
	struct astro_aws_signer sg = { .region = a->region, .prov = a->cred };
	struct astro_aws_req q = {
		.service = service, .method = "POST", .base = endpoint, .path = "/",
		.headers = headers, .body = body, .body_len = strlen(body),
		.idempotent = idempotent, .timeout_ms = a->timeout_ms,
	};

	return astro_aws_send(&sg, &q, resp);
}

/* ---- DynamoDB ---- */

/* Call operation op with body j (stolen); *reply gets the parsed answer. */
static int ddb(struct aws *a, const char *op, json_t *j, json_t **reply)
{
	char target[80], name[80], m[200];
	const char *hdrs[] = { "Content-Type: application/x-amz-json-1.0", target, NULL };
	struct astro_http_resp r;
	char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	int rc;

	json_decref(j);
	if (reply)
		*reply = NULL;
	if (!body)
		return -ENOMEM;
	snprintf(target, sizeof(target), "X-Amz-Target: DynamoDB_20120810.%s", op);
	/* Reads and conditional writes are safe to repeat. */
	rc = aws_call(a, "dynamodb", a->ddb, hdrs, body,
		      strcmp(op, "GetItem") == 0 || strcmp(op, "Query") == 0 ||
		      strcmp(op, "DescribeTable") == 0 || strcmp(op, "PutItem") == 0, &r);
	free(body);
	if (rc == 0 && r.status != 200) {
		rc = astro_aws_error(r.status, r.body, r.body_len, name, sizeof(name), m,
				     sizeof(m), NULL);
		if (rc != -ESTALE && rc != -ENOENT)
			astro_warn("obs aws: DynamoDB %s: HTTP %ld %s%s%s", op, r.status,
				   name[0] ? name : "(no error name)", m[0] ? ": " : "", m);
	}
	if (rc == 0 && reply) {
		*reply = json_loadb(r.body, r.body_len, 0, NULL);
		if (!*reply) {
			astro_warn("obs aws: DynamoDB %s: reply is not JSON", op);
			rc = -EIO;
		}
	}
	astro_http_resp_free(&r);
	return rc;
}

static json_t *ddb_key(struct aws *a, const char *site, const char *id)
{
	return json_pack("{s:s,s:{s:{s:s},s:{s:s}}}", "TableName", a->table, "Key",
			 "site", "S", site, "id", "S", id);
}

static int ddb_get(struct aws *a, const char *site, const char *id, json_t **item)
{
	json_t *req = ddb_key(a, site, id), *rep = NULL;
	int rc;

	*item = NULL;
	if (!req)
		return -ENOMEM;
	json_object_set_new(req, "ConsistentRead", json_true());
	rc = ddb(a, "GetItem", req, &rep);
	if (rc == 0) {
		json_t *it = json_object_get(rep, "Item");

		if (json_is_object(it))
			*item = json_incref(it);
		else
			rc = -ENOENT;
	}
	json_decref(rep);
	return rc;
}

/* The string attribute name of an item, or NULL. */
static const char *attr_s(json_t *item, const char *name)
{
	return json_string_value(json_object_get(json_object_get(item, name), "S"));
}

/* The job record of a stored item (new reference), or NULL. */
static json_t *job_of(json_t *item)
{
	const char *txt = attr_s(item, "job");
	json_t *j = txt ? json_loads(txt, 0, NULL) : NULL;

	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

static int get_job(struct aws *a, const char *site, const char *id, json_t **job)
{
	json_t *item;
	int rc = ddb_get(a, site, id, &item);

	*job = NULL;
	if (rc < 0)
		return rc;
	*job = job_of(item);
	json_decref(item);
	return *job ? 0 : -EIO;
}

/* Write job (create: only if absent; else only if still in state `from`). */
static int put_job(struct aws *a, const char *site, json_t *job, bool create,
		   enum astro_obs_state from)
{
	const char *id = json_string_value(json_object_get(job, "id"));
	char *txt = json_dumps(job, JSON_COMPACT | JSON_SORT_KEYS);
	json_t *req;

	if (!txt || !id) {
		free(txt);
		return -ENOMEM;
	}
	if (create)
		req = json_pack("{s:s,s:{s:{s:s},s:{s:s},s:{s:s},s:{s:s}},s:s}",
				"TableName", a->table, "Item", "site", "S", site, "id", "S",
				id, "state", "S",
				astro_obs_job_state_name(astro_obs_job_state(job)), "job", "S",
				txt, "ConditionExpression", "attribute_not_exists(id)");
	else
		req = json_pack("{s:s,s:{s:{s:s},s:{s:s}},s:s,s:s,s:{s:s},"
				"s:{s:{s:s},s:{s:s},s:{s:s}}}",
				"TableName", a->table, "Key", "site", "S", site, "id", "S", id,
				"UpdateExpression", "SET #st = :to, job = :job",
				"ConditionExpression", "#st = :from",
				"ExpressionAttributeNames", "#st", "state",
				"ExpressionAttributeValues", ":to", "S",
				astro_obs_job_state_name(astro_obs_job_state(job)), ":from", "S",
				astro_obs_job_state_name(from), ":job", "S", txt);
	free(txt);
	if (!req)
		return -ENOMEM;
	return ddb(a, create ? "PutItem" : "UpdateItem", req, NULL);
}

/*
 * Move a job: read, check the map, write conditioned on the state read.
 * If another writer moved it in between, read again (bounded).  *was gets
 * the state the change was made from (or the final one if refused).
 */
static int move_job(struct aws *a, const char *site, const char *id,
		    enum astro_obs_state to, const char *message, double eta_s,
		    const char *image, json_t **after)
{
	int rc = -ESTALE, tries;

	if (after)
		*after = NULL;
	for (tries = 0; tries < CAS_TRIES && rc == -ESTALE; tries++) {
		json_t *job;
		enum astro_obs_state from;

		rc = get_job(a, site, id, &job);
		if (rc < 0)
			return rc;
		from = astro_obs_job_state(job);
		rc = astro_obs_job_set_state(job, to, message, eta_s, image);
		if (rc == 0)
			rc = put_job(a, site, job, false, from);
		if (rc == 0 && after)
			*after = json_incref(job);
		json_decref(job);
	}
	return rc == -ESTALE ? -EAGAIN : rc;
}

typedef int (*item_fn)(void *arg, json_t *item);

/* Every item of the site in id order, projected to id, state (and job). */
static int ddb_query(struct aws *a, const char *site, bool with_job, item_fn fn, void *arg)
{
	json_t *start = NULL;
	int rc = 0;

	do {
		json_t *req = json_pack("{s:s,s:s,s:s,s:{s:s,s:s},s:{s:{s:s}},s:b}",
					"TableName", a->table, "KeyConditionExpression",
					"site = :s", "ProjectionExpression",
					with_job ? "id, #st, job" : "id, #st",
					"ExpressionAttributeNames", "#st", "state", "#site", "site",
					"ExpressionAttributeValues", ":s", "S", site,
					"ConsistentRead", 1);
		json_t *rep = NULL, *items, *it;
		size_t i;

		if (!req) {
			rc = -ENOMEM;
			break;
		}
		/* "site" is not reserved but "#site" keeps the names symmetric. */
		json_object_set_new(req, "KeyConditionExpression", json_string("#site = :s"));
		if (start)
			json_object_set_new(req, "ExclusiveStartKey", start);
		start = NULL;
		rc = ddb(a, "Query", req, &rep);
		if (rc < 0)
			break;
		items = json_object_get(rep, "Items");
		json_array_foreach(items, i, it) {
			rc = fn(arg, it);
			if (rc != 0)
				break;
		}
		if (rc == 0 && json_is_object(json_object_get(rep, "LastEvaluatedKey")))
			start = json_incref(json_object_get(rep, "LastEvaluatedKey"));
		json_decref(rep);
	} while (rc == 0 && start);
	json_decref(start);
	return rc;
}

/* The table `name` exists and is ACTIVE; created on first use with hash
 * key `hash` (and range key `range` unless NULL), all strings. */
static int ensure_table(struct aws *a, const char *name, const char *hash, const char *range,
			char *err, size_t errlen)
{
	json_t *rep = NULL;
	int rc, i;

	for (i = 0; i < 100; i++) {
		rc = ddb(a, "DescribeTable", json_pack("{s:s}", "TableName", name), &rep);
		if (rc == -ENOENT && i == 0) {
			json_t *req = json_pack("{s:s,s:[{s:s,s:s}],s:[{s:s,s:s}],s:s}",
						"TableName", name, "AttributeDefinitions",
						"AttributeName", hash, "AttributeType", "S",
						"KeySchema", "AttributeName", hash, "KeyType", "HASH",
						"BillingMode", "PAY_PER_REQUEST");

			if (req && range) {
				json_array_append_new(json_object_get(req, "AttributeDefinitions"),
						      json_pack("{s:s,s:s}", "AttributeName", range,
								"AttributeType", "S"));
				json_array_append_new(json_object_get(req, "KeySchema"),
						      json_pack("{s:s,s:s}", "AttributeName", range,
								"KeyType", "RANGE"));
			}
			rc = ddb(a, "CreateTable", req, NULL);
			if (rc == -EEXIST)	/* another process won the race */
				rc = 0;
			if (rc < 0)
				break;
			continue;
		}
		if (rc < 0)
			break;
		const char *st = json_string_value(
			json_object_get(json_object_get(rep, "Table"), "TableStatus"));
		bool active = st && strcmp(st, "ACTIVE") == 0;

		json_decref(rep);
		rep = NULL;
		if (active)
			return 0;
		astro_sleep_ms(100);
	}
	json_decref(rep);
	return astro_err_set(err, errlen, rc < 0 ? rc : -ETIMEDOUT, "DynamoDB table %s at %s: %s",
			     name, a->ddb, rc < 0 ? strerror(-rc) : "not ACTIVE after 10 s");
}

/* ---- the observatory simulator's (pythonbits) wire format ---- */

ASTRO_TESTABLE json_t *astro_obs_aws_pythonbits_message(const struct astro_obs_cmd *c, const char *id,
					 unsigned retention_s)
{
	int64_t now = astro_now_ms() / 1000;
	json_t *m = json_pack("{s:s,s:s,s:I,s:s,s:I}", "device",
			      c->verb == ASTRO_OBS_EXPOSE ? "camera_1" : "mount_1", "command",
			      c->verb == ASTRO_OBS_STOP ? "allstop" : astro_obs_cmd_verb_name(c->verb),
			      "timestamp", (json_int_t)now, "id", id, "expires_at",
			      (json_int_t)(now + retention_s));

	if (!m)
		return NULL;
	switch (c->verb) {
	case ASTRO_OBS_GOTO:
		json_object_set_new(m, "ra", json_real(c->ra_h));
		json_object_set_new(m, "dec", json_real(c->dec_deg));
		if (c->jnow)
			json_object_set_new(m, "rdsys", json_string("JNOW"));
		break;
	case ASTRO_OBS_EXPOSE:
		json_object_set_new(m, "duration", json_real(c->seconds));
		if (c->count > 1)
			json_object_set_new(m, "count", json_integer(c->count));
		break;
	case ASTRO_OBS_TRACKING:
		json_object_set_new(m, "tracking", json_string(c->tracking ? "on" : "off"));
		break;
	case ASTRO_OBS_CANCEL:
		json_object_set_new(m, "target", json_string(c->cancel_all ? "all" : c->cancel_id));
		break;
	default:
		break;
	}
	return m;
}

/* A number the old client may send as a string ("5.5") or a number. */
static int pb_number(json_t *m, const char *key, char *out, size_t n, char *err, size_t errlen)
{
	json_t *v = json_object_get(m, key);
	const char *s = json_string_value(v);
	char *end;

	if (json_is_number(v)) {
		snprintf(out, n, "%.12g", json_number_value(v));
		return 0;
	}
	if (s && *s && strlen(s) < n && (strtod(s, &end), *end == '\0')) {
		astro_strlcpy(out, s, n);
		return 0;
	}
	return astro_err_set(err, errlen, -EINVAL, "'%s' is missing or not a number", key);
}

ASTRO_TESTABLE int astro_obs_aws_pythonbits_line(const char *body, char *line, size_t n, char *err,
				  size_t errlen)
{
	json_t *m = json_loads(body, 0, NULL);
	const char *cmd = json_string_value(json_object_get(m, "command"));
	char a[64], b[64];
	int rc = 0;

	if (!json_is_object(m)) {
		rc = astro_err_set(err, errlen, -EINVAL, "not a JSON object");
	} else if (!cmd) {
		rc = astro_err_set(err, errlen, -EINVAL, "no \"command\"");
	} else if (strcmp(cmd, "goto") == 0) {
		const char *sys = json_string_value(json_object_get(m, "rdsys"));

		rc = pb_number(m, "ra", a, sizeof(a), err, errlen);
		if (rc == 0)
			rc = pb_number(m, "dec", b, sizeof(b), err, errlen);
		if (rc == 0)
			snprintf(line, n, "goto ra=%s dec=%s%s", a, b,
				 sys && strcmp(sys, "JNOW") == 0 ? " rdsys=JNOW" : "");
	} else if (strcmp(cmd, "expose") == 0) {
		json_t *cnt = json_object_get(m, "count");

		rc = pb_number(m, "duration", a, sizeof(a), err, errlen);
		if (rc == 0 && json_is_integer(cnt))
			snprintf(line, n, "expose time=%s count=%lld", a,
				 (long long)json_integer_value(cnt));
		else if (rc == 0)
			snprintf(line, n, "expose %s", a);
	} else if (strcmp(cmd, "tracking") == 0) {
		const char *t = json_string_value(json_object_get(m, "tracking"));

		if (!t)
			rc = astro_err_set(err, errlen, -EINVAL, "tracking: no \"tracking\": on|off");
		else
			snprintf(line, n, "tracking %.8s", t);
	} else if (strcmp(cmd, "cancel") == 0) {
		const char *t = json_string_value(json_object_get(m, "target"));

		if (!t)
			rc = astro_err_set(err, errlen, -EINVAL, "cancel: no \"target\"");
		else
			snprintf(line, n, "cancel %.40s", t);
	} else if (strcmp(cmd, "park") == 0 || strcmp(cmd, "unpark") == 0) {
		snprintf(line, n, "%s", cmd);
	} else if (strcmp(cmd, "allstop") == 0 || strcmp(cmd, "stop") == 0) {
		snprintf(line, n, "stop");
	} else {
		rc = astro_err_set(err, errlen, -EINVAL, "unknown command '%.40s'", cmd);
	}
	json_decref(m);
	return rc;
}

/* ---- SQS ---- */

static int sqs(struct aws *a, const struct astro_sigv4_param *p, size_t n,
	       struct astro_obs_sqs_reply *out)
{
	const char *hdrs[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
	struct astro_sigv4_param all[16];
	struct astro_http_resp r;
	char msg[200];
	char *body;
	int rc;

	assert(n < 15);
	memcpy(all, p, n * sizeof(*p));
	all[n++] = (struct astro_sigv4_param){ "Version", SQS_VERSION };
	body = astro_obs_aws_form(all, n);
	memset(out, 0, sizeof(*out));
	if (!body)
		return -ENOMEM;
	/* Query protocol: everything goes to the endpoint, QueueUrl is a
	 * parameter; SendMessage is not idempotent (a retry duplicates). */
	rc = aws_call(a, "sqs", a->sqs, hdrs, body, strcmp(p[0].value, "SendMessage") != 0,
		      &r);
	free(body);
	if (rc == 0) {
		rc = astro_obs_aws_sqs_parse(r.body, r.body_len, out, msg, sizeof(msg));
		if (rc < 0)
			astro_warn("obs aws: %s: %s", p[0].value, msg);
		else if (r.status != 200) {
			rc = astro_aws_errno(out->error_code, r.status, NULL);
			if (rc != -ENOENT)
				astro_warn("obs aws: SQS %s: HTTP %ld %s: %s", p[0].value,
					   r.status, out->error_code ? out->error_code : "",
					   out->error_message ? out->error_message : "");
		}
	}
	astro_http_resp_free(&r);
	if (rc < 0)
		astro_obs_aws_sqs_reply_free(out);
	return rc;
}

/* The URL of the site's queue (urgent or not), created on first use. */
static int queue_url(struct aws *a, const char *site, bool urgent, char *url, size_t size)
{
	char name[200];
	struct astro_obs_sqs_reply rep;
	size_t i;
	int rc;

	/* pythonbits: the simulator's one FIFO queue per site; stop and
	 * cancel share it (no preemption while a command runs). */
	if (a->pythonbits)
		snprintf(name, sizeof(name), "%s_from_aws_pythonbits.fifo", site);
	else
		snprintf(name, sizeof(name), "%s_%s%s", a->prefix, site, urgent ? "_urgent" : "");
	pthread_mutex_lock(&a->lock);
	for (i = 0; i < a->nqueues; i++)
		if (strcmp(a->queues[i].name, name) == 0) {
			astro_strlcpy(url, a->queues[i].url, size);
			pthread_mutex_unlock(&a->lock);
			return 0;
		}
	pthread_mutex_unlock(&a->lock);
	/* Look before creating: sqslite's CreateQueue empties an existing
	 * queue (real SQS's is idempotent). */
	struct astro_sigv4_param p[] = {
		{ "Action", "GetQueueUrl" }, { "QueueName", name },
		/* The observatory simulator's queue attributes. */
		{ "Attribute.1.Name", "FifoQueue" }, { "Attribute.1.Value", "true" },
		{ "Attribute.2.Name", "ContentBasedDeduplication" },
		{ "Attribute.2.Value", "true" },
		{ "Attribute.3.Name", "MessageRetentionPeriod" }, { "Attribute.3.Value", "180" },
	};
	rc = sqs(a, p, 2, &rep);
	if (rc == -ENOENT) {
		p[0].value = "CreateQueue";
		rc = sqs(a, p, a->pythonbits ? 8 : 2, &rep);
	}
	if (rc < 0)
		return rc;
	if (!rep.queue_url || astro_strlcpy(url, rep.queue_url, size) < 0) {
		astro_warn("obs aws: CreateQueue %s: no usable QueueUrl", name);
		rc = -EIO;
	}
	astro_obs_aws_sqs_reply_free(&rep);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&a->lock);
	if (a->nqueues < sizeof(a->queues) / sizeof(a->queues[0])) {
		astro_strlcpy(a->queues[a->nqueues].name, name, sizeof(a->queues[0].name));
		astro_strlcpy(a->queues[a->nqueues].url, url, sizeof(a->queues[0].url));
		a->nqueues++;
	}
	pthread_mutex_unlock(&a->lock);
	return 0;
}

static int sqs_send(struct aws *a, const char *site, bool urgent, const char *id,
		    const struct astro_obs_cmd *c, const char *line)
{
	char url[URL_MAX];
	struct astro_obs_sqs_reply rep;
	json_t *m = a->pythonbits ? astro_obs_aws_pythonbits_message(c, id, a->retention_s)
		  : json_pack("{s:s,s:s,s:s}", "id", id, "site", site, "line", line);
	/* 15 digits: the number as typed (-5.4), not its nearest double
	 * spelled out (-5.4000000000000004) for the old site to print. */
	char *body = m ? json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15))
		       : NULL;
	int rc;

	json_decref(m);
	if (!body)
		return -ENOMEM;
	rc = queue_url(a, site, urgent, url, sizeof(url));
	if (rc == 0) {
		/* FIFO: one group per site; the job id deduplicates, so two
		 * identical commands are two commands (content-based
		 * deduplication would merge them). */
		const struct astro_sigv4_param p[] = {
			{ "Action", "SendMessage" }, { "QueueUrl", url }, { "MessageBody", body },
			{ "MessageGroupId", site }, { "MessageDeduplicationId", id },
		};
		rc = sqs(a, p, a->pythonbits ? 5 : 3, &rep);
		astro_obs_aws_sqs_reply_free(&rep);
	}
	free(body);
	return rc;
}

static int sqs_delete(struct aws *a, const char *url, const char *receipt)
{
	struct astro_obs_sqs_reply rep;
	const struct astro_sigv4_param p[] = {
		{ "Action", "DeleteMessage" }, { "QueueUrl", url }, { "ReceiptHandle", receipt },
	};
	int rc;

	/* sqslite hangs on an empty handle; never send one. */
	if (!receipt || !*receipt)
		return -EINVAL;
	rc = sqs(a, p, 3, &rep);
	astro_obs_aws_sqs_reply_free(&rep);
	return rc;
}

/* ---- the backend ---- */

/* Mark the jobs written so far CANCELED: a half-enqueued write is none. */
static void undo_enqueue(struct aws *a, const char *site, char (*ids)[ASTRO_OBS_ID_LEN + 1],
			 size_t n, int why)
{
	char msg[120];
	size_t i;

	snprintf(msg, sizeof(msg), "not sent: %s", strerror(-why));
	for (i = 0; i < n; i++)
		if (move_job(a, site, ids[i], ASTRO_OBS_CANCELED, msg, -1, NULL, NULL) < 0)
			astro_warn("obs aws: %s: could not cancel half-enqueued %s", site, ids[i]);
}

struct cancel_all {
	struct aws *a;
	const char *site, *by;
	int with_site, rc;
};

static int cancel_all_step(void *arg, json_t *item)
{
	struct cancel_all *w = arg;
	const char *id = attr_s(item, "id"), *st = attr_s(item, "state");
	int s = st ? astro_obs_job_state_parse(st) : -EINVAL;
	char msg[80];

	if (!astro_obs_job_id_valid(id) || s < 0)
		return 0;
	if (s == ASTRO_OBS_QUEUED || s == ASTRO_OBS_SENT) {
		snprintf(msg, sizeof(msg), "canceled by %s", w->by);
		int rc = move_job(w->a, w->site, id, ASTRO_OBS_CANCELED, msg, -1, NULL, NULL);

		/* -EINVAL: it moved on meanwhile; the site gets the cancel. */
		if (rc == -EINVAL)
			w->with_site = 1;
		else if (rc < 0)
			return rc;
	} else if (!astro_obs_job_state_terminal((enum astro_obs_state)s)) {
		w->with_site = 1;
	}
	return 0;
}

/* 1: the site must act; 0: done here; -EINVAL with err; -errno. */
static int resolve_cancel(struct aws *a, const char *site, const struct astro_obs_cmd *c,
			  const char *cid, char *err, size_t errlen)
{
	json_t *job;
	char msg[80];
	int rc;

	if (c->cancel_all) {
		struct cancel_all w = { a, site, cid, 0, 0 };

		rc = ddb_query(a, site, false, cancel_all_step, &w);
		return rc < 0 ? rc : w.with_site;
	}
	rc = get_job(a, site, c->cancel_id, &job);
	if (rc == -ENOENT) {
		return astro_err_set(err, errlen, -EINVAL, "cancel: no job %s", c->cancel_id);
	}
	if (rc < 0)
		return rc;
	enum astro_obs_state st = astro_obs_job_state(job);

	json_decref(job);
	if (astro_obs_job_state_terminal(st)) {
		return astro_err_set(err, errlen, -EINVAL, "cancel: job %s already %s", c->cancel_id,
				     astro_obs_job_state_name(st));
	}
	if (st != ASTRO_OBS_QUEUED && st != ASTRO_OBS_SENT)
		return 1;
	snprintf(msg, sizeof(msg), "canceled by %s", cid);
	rc = move_job(a, site, c->cancel_id, ASTRO_OBS_CANCELED, msg, -1, NULL, NULL);
	return rc == -EINVAL ? 1 : rc;	/* moved on meanwhile: the site cancels */
}

static int aws_enqueue(void *impl, const char *site, const struct astro_obs_cmd *cmds,
		       size_t n, char (*ids)[ASTRO_OBS_ID_LEN + 1], char *err, size_t errlen)
{
	struct aws *a = impl;
	char sub[200] = "";
	size_t i, written = 0;
	int rc = 0;

	if (!astro_obs_job_site_valid(site))
		return -EINVAL;
	/* Ids and checks first, so a refused cancel writes nothing. */
	for (i = 0; i < n; i++) {
		rc = astro_ulid_new(ids[i]);
		if (rc < 0)
			return rc;
		if (cmds[i].verb == ASTRO_OBS_CANCEL && !cmds[i].cancel_all) {
			json_t *job;

			rc = get_job(a, site, cmds[i].cancel_id, &job);
			if (rc == 0 && astro_obs_job_state_terminal(astro_obs_job_state(job))) {
				snprintf(sub, sizeof(sub), "cancel: job %s already %s",
					 cmds[i].cancel_id,
					 astro_obs_job_state_name(astro_obs_job_state(job)));
				rc = -EINVAL;
			} else if (rc == -ENOENT) {
				snprintf(sub, sizeof(sub), "cancel: no job %s", cmds[i].cancel_id);
				rc = -EINVAL;
			}
			json_decref(job);
			if (rc < 0)
				goto refused;
		}
	}
	for (i = 0; i < n; i++) {
		const struct astro_obs_cmd *c = &cmds[i];
		char line[ASTRO_OBS_LINE_MAX + 1];
		json_t *job;
		int act = 1;

		if (astro_obs_cmd_format(c, line, sizeof(line)) < 0) {
			rc = -EINVAL;
			goto undo;
		}
		if (c->verb == ASTRO_OBS_CANCEL) {
			act = resolve_cancel(a, site, c, ids[i], sub, sizeof(sub));
			if (act < 0) {
				rc = act;
				if (written == 0 && rc == -EINVAL)
					goto refused;
				goto undo;
			}
		}
		job = astro_obs_job_new(site, ids[i], c, line, a->retention_s);
		if (!job) {
			rc = -ENOMEM;
			goto undo;
		}
		if (!act)
			rc = astro_obs_job_set_state(job, ASTRO_OBS_COMPLETE,
						     "done locally: no job was running", -1, NULL);
		if (rc == 0)
			rc = put_job(a, site, job, true, ASTRO_OBS_QUEUED);
		/* The id is a fresh ULID (80 random bits): an existing item can
		 * only be our own first attempt, retried after a lost reply. */
		if (rc == -ESTALE)
			rc = 0;
		json_decref(job);
		if (rc < 0)
			goto undo;
		written++;
		if (act) {
			rc = sqs_send(a, site, astro_obs_job_urgent(c), ids[i], c, line);
			if (rc < 0)
				goto undo;
		}
	}
	/* Sent: SENT.  A site quicker than us has moved it on; that is fine. */
	for (i = 0; i < n; i++) {
		int r = move_job(a, site, ids[i], ASTRO_OBS_SENT, NULL, -1, NULL, NULL);

		if (r < 0 && r != -EINVAL)
			astro_warn("obs aws: %s: marking %s SENT: %s", site, ids[i], strerror(-r));
	}
	return 0;
undo:
	undo_enqueue(a, site, ids, written, rc);
	return astro_err_set(err, errlen, rc, "command %zu: %s", i + 1, sub[0] ? sub : strerror(-rc));
refused:
	return astro_err_set(err, errlen, rc, "command %zu: %s", i + 1, sub);
}

/*
 * Take one message from a queue.  1 with *job filled, 0 if the queue is
 * empty or the message was spent (canceled/expired/garbage), -errno.
 */
/*
 * pythonbits: a message that names no job of ours (the old client sends
 * none) becomes a job here, SENT, so it is received like ours.  -EINVAL
 * (logged) for a message that is no command.
 */
static int adopt(struct aws *a, const char *site, const char *body, char *id)
{
	char line[ASTRO_OBS_LINE_MAX + 1], err[200];
	struct astro_obs_cmd c;
	json_t *job;
	int rc;

	if (astro_obs_aws_pythonbits_line(body, line, sizeof(line), err, sizeof(err)) < 0 ||
	    astro_obs_cmd_parse(line, strlen(line), &c, err, sizeof(err)) != 1) {
		astro_warn("obs aws: %s: dropping a message that is no command (%s): %.80s", site,
			   err, body);
		return -EINVAL;
	}
	rc = astro_ulid_new(id);
	if (rc < 0)
		return rc;
	job = astro_obs_job_new(site, id, &c, line, a->retention_s);
	if (!job)
		return -ENOMEM;
	rc = astro_obs_job_set_state(job, ASTRO_OBS_SENT, "from the observatory simulator's client",
				     -1, NULL);
	if (rc == 0)
		rc = put_job(a, site, job, true, ASTRO_OBS_QUEUED);
	json_decref(job);
	return rc;
}

static int receive_one(struct aws *a, const char *site, bool urgent,
		       struct astro_obs_job *out, bool *empty)
{
	char url[URL_MAX], vis[16], adopted[ASTRO_OBS_ID_LEN + 1];
	struct astro_obs_sqs_reply rep;
	json_t *m = NULL, *after = NULL;
	const char *id;
	int rc;

	*empty = false;
	rc = queue_url(a, site, urgent, url, sizeof(url));
	if (rc < 0)
		return rc;
	snprintf(vis, sizeof(vis), "%u", a->visibility_s);
	const struct astro_sigv4_param p[] = {
		{ "Action", "ReceiveMessage" }, { "QueueUrl", url },
		{ "MaxNumberOfMessages", "1" }, { "VisibilityTimeout", vis },
		{ "WaitTimeSeconds", "0" },
	};
	rc = sqs(a, p, 5, &rep);
	if (rc < 0)
		return rc;
	if (!rep.body || !rep.receipt || !*rep.receipt) {
		*empty = true;
		astro_obs_aws_sqs_reply_free(&rep);
		return 0;
	}
	m = json_loads(rep.body, 0, NULL);
	id = json_string_value(json_object_get(m, "id"));
	if (a->pythonbits) {
		json_t *known = NULL;

		if (!astro_obs_job_id_valid(id) || get_job(a, site, id, &known) == -ENOENT) {
			rc = adopt(a, site, rep.body, adopted);
			if (rc == -EINVAL) {
				rc = sqs_delete(a, url, rep.receipt);
				goto out;
			}
			if (rc < 0)
				goto out;
			id = adopted;
		}
		json_decref(known);
	}
	if (!astro_obs_job_id_valid(id)) {
		/* Garbage never stops a site: say so and drop it. */
		astro_warn("obs aws: %s: dropping a message that names no job: %.80s", site,
			   rep.body);
		rc = sqs_delete(a, url, rep.receipt);
		goto out;
	}
	json_t *job = NULL;

	rc = get_job(a, site, id, &job);
	if (rc == -ENOENT) {
		astro_warn("obs aws: %s: message for unknown job %s dropped", site, id);
		rc = sqs_delete(a, url, rep.receipt);
		goto out;
	}
	if (rc < 0)
		goto out;	/* the message reappears after the timeout */
	bool expired = astro_obs_job_overdue(job, astro_now_ms());

	json_decref(job);
	/* Recorded first, deleted after: a crash in between re-delivers, and
	 * the job (already RECEIVED) is then refused below and dropped. */
	rc = move_job(a, site, id, expired ? ASTRO_OBS_EXPIRED : ASTRO_OBS_RECEIVED,
		      expired ? "not received within retention" : NULL, -1, NULL, &after);
	if (rc == -EINVAL) {	/* ended meanwhile (canceled): spent */
		rc = sqs_delete(a, url, rep.receipt);
		goto out;
	}
	if (rc < 0)
		goto out;
	rc = sqs_delete(a, url, rep.receipt);
	if (rc < 0)
		astro_warn("obs aws: %s: deleting the message of %s: %s (it may be seen "
			   "again and will be skipped)", site, id, strerror(-rc));
	rc = 0;
	if (!expired) {
		const char *line = json_string_value(json_object_get(after, "line"));

		astro_strlcpy(out->id, id, sizeof(out->id));
		astro_strlcpy(out->line, line ? line : "", sizeof(out->line));
		out->state = ASTRO_OBS_RECEIVED;
		out->created_ms = json_integer_value(json_object_get(after, "created_ms"));
		rc = 1;
	}
out:
	json_decref(after);
	json_decref(m);
	astro_obs_aws_sqs_reply_free(&rep);
	return rc;
}

static int aws_receive(void *impl, const char *site, bool urgent_only,
		       struct astro_obs_job *job)
{
	struct aws *a = impl;
	int q, tries, rc;

	if (!astro_obs_job_site_valid(site))
		return -EINVAL;
	/* pythonbits: one queue, taken whole only when idle. */
	if (a->pythonbits && urgent_only)
		return -EAGAIN;
	for (q = a->pythonbits ? 1 : 0; q < (urgent_only ? 1 : 2); q++) {
		bool empty = false;

		/* Bounded: spent messages are skipped a few at a time. */
		for (tries = 0; tries < 8 && !empty; tries++) {
			rc = receive_one(a, site, q == 0, job, &empty);
			if (rc != 0)
				return rc < 0 ? rc : 0;
		}
	}
	return -EAGAIN;
}

static int aws_update(void *impl, const char *site, const char *id,
		      enum astro_obs_state to, const char *message, double eta_s,
		      const char *image)
{
	if (!astro_obs_job_site_valid(site) || !astro_obs_job_id_valid(id))
		return -EINVAL;
	return move_job(impl, site, id, to, message, eta_s, image, NULL);
}

static int aws_job_json(void *impl, const char *site, const char *id, char **json)
{
	json_t *item;
	int rc;

	if (!astro_obs_job_site_valid(site) || !astro_obs_job_id_valid(id))
		return -ENOENT;
	rc = ddb_get(impl, site, id, &item);
	if (rc < 0)
		return rc;
	const char *txt = attr_s(item, "job");

	rc = txt ? astro_obs_job_pretty(txt, json) : -EIO;
	json_decref(item);
	return rc;
}

struct jobs_walk {
	astro_obs_job_fn fn;
	void *arg;
};

static int jobs_step(void *arg, json_t *item)
{
	struct jobs_walk *w = arg;
	const char *id = attr_s(item, "id"), *st = attr_s(item, "state");
	int s = st ? astro_obs_job_state_parse(st) : -EINVAL;

	if (!astro_obs_job_id_valid(id))
		return 0;	/* status, counters */
	return w->fn(w->arg, id, s < 0 ? ASTRO_OBS_FAILED : (enum astro_obs_state)s);
}

static int aws_jobs(void *impl, const char *site, astro_obs_job_fn fn, void *arg)
{
	struct jobs_walk w = { fn, arg };

	if (!astro_obs_job_site_valid(site))
		return -EINVAL;
	return ddb_query(impl, site, false, jobs_step, &w);
}

/* pythonbits: the site's status table, made sure of once. */
static int state_table(struct aws *a, const char *site, char *name, size_t n)
{
	char err[300];
	size_t i;
	int rc;

	snprintf(name, n, "%s_state_pythonbits", site);
	pthread_mutex_lock(&a->lock);
	for (i = 0; i < a->nstate_tables; i++)
		if (strcmp(a->state_tables[i], site) == 0) {
			pthread_mutex_unlock(&a->lock);
			return 0;
		}
	pthread_mutex_unlock(&a->lock);
	rc = ensure_table(a, name, "State", NULL, err, sizeof(err));
	if (rc < 0) {
		astro_warn("obs aws: %s", err);
		return rc;
	}
	pthread_mutex_lock(&a->lock);
	if (a->nstate_tables < MAX_SITES)
		astro_strlcpy(a->state_tables[a->nstate_tables++], site, sizeof(a->state_tables[0]));
	pthread_mutex_unlock(&a->lock);
	return 0;
}

/* The simulator's item: State="State" and every field as a string. */
static int pb_status_put(struct aws *a, const char *site, const char *json)
{
	json_t *st = json_loads(json, 0, NULL), *item, *v;
	char table[ASTRO_OBS_SITE_KEY_MAX + 32];
	const char *k;
	int rc;

	if (!json_is_object(st)) {
		json_decref(st);
		return -EINVAL;
	}
	rc = state_table(a, site, table, sizeof(table));
	item = json_object();
	json_object_foreach(st, k, v) {
		char num[40], jpg[ASTRO_OBS_IMAGE_NAME_MAX + 1];
		const char *sv = json_string_value(v);
		size_t sl = sv ? strlen(sv) : 0;

		/* The old client's only use of the name is a URL for a browser
		 * ("a jpg stored at s3"): name the preview stored beside the FITS. */
		if (strcmp(k, "cam1_last_image_name") == 0 && sl > 5 && sl < sizeof(jpg) &&
		    strcmp(sv + sl - 5, ".fits") == 0) {
			snprintf(jpg, sizeof(jpg), "%.*s.jpg", (int)(sl - 5), sv);
			sv = jpg;
		}
		if (!sv && json_is_number(v))
			snprintf(num, sizeof(num), "%.12g", json_number_value(v)), sv = num;
		else if (!sv && json_is_boolean(v))
			sv = json_is_true(v) ? "True" : "False";
		if (sv)
			json_object_set_new(item, k, json_pack("{s:s}", "S", sv));
	}
	json_object_set_new(item, "State", json_pack("{s:s}", "S", "State"));
	json_decref(st);
	if (rc < 0) {
		json_decref(item);
		return rc;
	}
	return ddb(a, "PutItem", json_pack("{s:s,s:o}", "TableName", table, "Item", item), NULL);
}

static int pb_status_get(struct aws *a, const char *site, char **json)
{
	char table[ASTRO_OBS_SITE_KEY_MAX + 32];
	json_t *rep = NULL, *it, *v, *out;
	const char *k;
	int rc;

	snprintf(table, sizeof(table), "%s_state_pythonbits", site);
	rc = ddb(a, "GetItem",
		 json_pack("{s:s,s:{s:{s:s}},s:b}", "TableName", table, "Key", "State", "S",
			   "State", "ConsistentRead", 1),
		 &rep);
	if (rc < 0) {
		json_decref(rep);
		return rc;	/* no table yet: -ENOENT, never published */
	}
	it = json_object_get(rep, "Item");
	if (!json_is_object(it)) {
		json_decref(rep);
		return -ENOENT;
	}
	out = json_object();
	json_object_foreach(it, k, v) {
		const char *sv = json_string_value(json_object_get(v, "S"));

		if (sv)
			json_object_set_new(out, k, json_string(sv));
	}
	*json = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(out);
	json_decref(rep);
	return *json ? 0 : -ENOMEM;
}

static int aws_status_put(void *impl, const char *site, const char *json)
{
	struct aws *a = impl;

	if (!astro_obs_job_site_valid(site) || !json)
		return -EINVAL;
	if (a->pythonbits)
		return pb_status_put(a, site, json);
	return ddb(a, "PutItem",
		   json_pack("{s:s,s:{s:{s:s},s:{s:s},s:{s:s}}}", "TableName", a->table,
			     "Item", "site", "S", site, "id", "S", STATUS_ID, "status", "S",
			     json),
		   NULL);
}

static int aws_status_get(void *impl, const char *site, char **json)
{
	json_t *item;
	const char *s;
	int rc;

	if (!astro_obs_job_site_valid(site))
		return -ENOENT;
	if (((struct aws *)impl)->pythonbits)
		return pb_status_get(impl, site, json);
	rc = ddb_get(impl, site, STATUS_ID, &item);
	if (rc < 0)
		return rc;
	s = attr_s(item, "status");
	*json = s ? strdup(s) : NULL;
	rc = !s ? -EIO : *json ? 0 : -ENOMEM;
	json_decref(item);
	return rc;
}

static int aws_counter_next(void *impl, const char *site, const char *counter,
			    uint64_t *value)
{
	struct aws *a = impl;
	char id[100];
	json_t *rep = NULL, *req;
	const char *n;
	char *end;
	int rc;

	if (!astro_obs_job_site_valid(site) || !counter || strlen(counter) > 64)
		return -EINVAL;
	snprintf(id, sizeof(id), "counter#%s", counter);
	req = json_pack("{s:s,s:{s:{s:s},s:{s:s}},s:s,s:{s:{s:s}},s:s}", "TableName",
			a->table, "Key", "site", "S", site, "id", "S", id, "UpdateExpression",
			"ADD n :one", "ExpressionAttributeValues", ":one", "N", "1",
			"ReturnValues", "UPDATED_NEW");
	if (!req)
		return -ENOMEM;
	rc = ddb(a, "UpdateItem", req, &rep);
	if (rc < 0)
		return rc;
	n = json_string_value(json_object_get(
		json_object_get(json_object_get(rep, "Attributes"), "n"), "N"));
	errno = 0;
	unsigned long long v = n ? strtoull(n, &end, 10) : 0;

	if (!n || errno || end == n || *end || v == 0)
		rc = -EIO;
	else
		*value = v;
	json_decref(rep);
	return rc;
}

static int aws_image_put(void *impl, const char *site, const char *name,
			 const void *data, size_t len, uint64_t seq)
{
	struct aws *a = impl;
	struct astro_s3_info info;
	char meta[64], key[300];
	size_t nl = strlen(name);
	/* By name, so a browser given the object's URL (the observatory
	 * simulator's client hands one out) shows a preview and saves a FITS. */
	const char *type = nl > 5 && strcmp(name + nl - 5, ".fits") == 0
				   ? "Content-Type: application/fits"
				   : "Content-Type: image/jpeg";
	const char *hdrs[] = { type, meta, NULL };
	const struct astro_s3_put_opts po = { hdrs, NULL, 0 };
	int rc;

	if (!astro_obs_job_site_valid(site) || !astro_obs_job_image_name_valid(name))
		return -EINVAL;
	snprintf(key, sizeof(key), "%s/%s", site, name);
	/* Names are never reused: look before writing. */
	rc = astro_s3_head(a->s3c, a->bucket, key, &info);
	if (rc == 0)
		return -EEXIST;
	if (rc != -ENOENT)
		return rc;
	snprintf(meta, sizeof(meta), "x-amz-meta-seq: %llu", (unsigned long long)seq);
	return astro_s3_put(a->s3c, a->bucket, key, data, len, &po, NULL);
}

static int aws_images(void *impl, const char *site, astro_obs_image_fn fn, void *arg)
{
	struct aws *a = impl;
	struct astro_s3_pager pg;
	char prefix[200], what[300], *token = NULL;
	int rc = 0, more;

	if (!astro_obs_job_site_valid(site))
		return -EINVAL;
	snprintf(prefix, sizeof(prefix), "%s/", site);
	snprintf(what, sizeof(what), "LIST s3://%s/%s", a->bucket, prefix);
	astro_s3_pager_init(&pg, astro_mono_ms() + LIST_TIMEOUT_MS);
	do {
		struct astro_s3_list l;

		rc = astro_s3_list(a->s3c, a->bucket, prefix, NULL, token, 0, &l);
		free(token);
		token = NULL;
		for (size_t i = 0; rc == 0 && i < l.nobjects; i++) {
			struct astro_obs_image img;
			const char *name = l.objects[i].key + strlen(prefix);

			if (strncmp(l.objects[i].key, prefix, strlen(prefix)) != 0 ||
			    !astro_obs_job_image_name_valid(name))
				continue;
			memset(&img, 0, sizeof(img));
			astro_strlcpy(img.name, name, sizeof(img.name));
			img.size = l.objects[i].size < 0 ? 0 : (uint64_t)l.objects[i].size;
			img.mtime_ms = l.objects[i].mtime < 0 ? 0 : l.objects[i].mtime * 1000;
			img.seq = astro_obs_aws_image_seq(name);
			rc = fn(arg, &img);
		}
		/* rc: a listing error, or the callback's (non-zero: stop). */
		more = rc ? 0 : astro_s3_pager_next(&pg, &l, what);
		if (more == 1 && !(token = strdup(l.next_token)))
			more = -ENOMEM;
		astro_s3xml_list_free(&l);
		if (more < 0)
			rc = more;
	} while (more == 1);
	astro_s3_pager_free(&pg);
	free(token);
	return rc;
}

static int aws_image_open(void *impl, const char *site, const char *name)
{
	struct aws *a = impl;
	struct astro_s3_info info;
	const char *tmp = getenv("TMPDIR");
	char key[300], *body = NULL;
	size_t len = 0;
	int rc, fd = -1;

	if (!astro_obs_job_site_valid(site) || !astro_obs_job_image_name_valid(name))
		return -ENOENT;
	snprintf(key, sizeof(key), "%s/%s", site, name);
	rc = astro_s3_get(a->s3c, a->bucket, key, 0, &body, &len, &info);
	if (rc == 0) {
		/* An unnamed file: the caller's fd is the only reference. */
		fd = open(tmp && *tmp ? tmp : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd < 0)
			rc = -errno;
	}
	for (size_t off = 0; rc == 0 && off < len;) {
		ssize_t w = write(fd, body + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			rc = w < 0 ? -errno : -EIO;
		else
			off += (size_t)w;
	}
	if (rc == 0 && lseek(fd, 0, SEEK_SET) < 0)
		rc = -errno;
	free(body);
	if (rc < 0) {
		if (fd >= 0)
			close(fd);
		return rc;
	}
	return fd;
}

struct expire_walk {
	struct aws *a;
	const char *site;
	int64_t now;
	int n, rc;
};

static int expire_step(void *arg, json_t *item)
{
	struct expire_walk *w = arg;
	const char *id = attr_s(item, "id");
	json_t *job = job_of(item);
	enum astro_obs_state st;

	if (!astro_obs_job_id_valid(id) || !job) {
		json_decref(job);
		return 0;
	}
	st = astro_obs_job_state(job);
	if ((st == ASTRO_OBS_QUEUED || st == ASTRO_OBS_SENT) &&
	    astro_obs_job_overdue(job, w->now) &&
	    move_job(w->a, w->site, id, ASTRO_OBS_EXPIRED, "not received within retention",
		     -1, NULL, NULL) == 0)
		w->n++;
	json_decref(job);
	return 0;
}

static int aws_expire(void *impl, const char *site)
{
	struct expire_walk w = { impl, site, astro_now_ms(), 0, 0 };
	int rc;

	if (!astro_obs_job_site_valid(site))
		return -EINVAL;
	rc = ddb_query(impl, site, true, expire_step, &w);
	return rc < 0 ? rc : w.n;
}

static void aws_set_retention(void *impl, unsigned seconds)
{
	((struct aws *)impl)->retention_s = seconds;
}

static void aws_close(void *impl)
{
	struct aws *a = impl;

	if (!a)
		return;
	astro_awsprov_put(a->cred);
	astro_s3_free(a->s3c);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

static const struct astro_obs_backend aws_backend = {
	.name = "aws",
	.close = aws_close,
	.enqueue = aws_enqueue,
	.receive = aws_receive,
	.update = aws_update,
	.job_json = aws_job_json,
	.jobs = aws_jobs,
	.status_put = aws_status_put,
	.status_get = aws_status_get,
	.counter_next = aws_counter_next,
	.image_put = aws_image_put,
	.images = aws_images,
	.image_open = aws_image_open,
	.expire = aws_expire,
	.set_retention = aws_set_retention,
};

static int set_endpoint(char *dst, const char *given, const char *svc, const char *region)
{
	size_t n;

	if (given && *given) {
		if (strncmp(given, "http://", 7) != 0 && strncmp(given, "https://", 8) != 0)
			return -EINVAL;
		if (astro_strlcpy(dst, given, URL_MAX) < 0)
			return -ENAMETOOLONG;
	} else {
		snprintf(dst, URL_MAX, "https://%s.%s.amazonaws.com", svc, region);
	}
	n = strlen(dst);
	while (n > 8 && dst[n - 1] == '/')
		dst[--n] = '\0';
	/* Endpoints are roots: a path would not be signed. */
	if (strchr(strstr(dst, "://") + 3, '/'))
		return -EINVAL;
	return 0;
}

int astro_obs_aws_open(const struct astro_obs_aws_opts *o,
			     struct astro_obs_store **out, char *err, size_t errlen)
{
	struct astro_obs_store *s = calloc(1, sizeof(*s));
	struct aws *a = calloc(1, sizeof(*a));
	char msg[300];
	int rc;

	*out = NULL;
	if (!s || !a) {
		free(s);
		free(a);
		return astro_err_set(err, errlen, -ENOMEM, "out of memory");
	}
	pthread_mutex_init(&a->lock, NULL);
	if (o->layout && *o->layout && strcmp(o->layout, "astrofs") != 0 &&
	    strcmp(o->layout, "pythonbits") != 0) {
		snprintf(err, errlen, "layout '%s': expected astrofs or pythonbits", o->layout);
		rc = -EINVAL;
		goto fail;
	}
	a->pythonbits = o->layout && strcmp(o->layout, "pythonbits") == 0;
	astro_strlcpy(a->region, o->region && *o->region ? o->region : "us-east-1",
		      sizeof(a->region));
	astro_strlcpy(a->prefix, o->prefix && *o->prefix ? o->prefix : "astrofs",
		      sizeof(a->prefix));
	astro_strlcpy(a->table, o->table && *o->table ? o->table : "astrofs_obs",
		      sizeof(a->table));
	astro_strlcpy(a->bucket, o->bucket && *o->bucket ? o->bucket
				 : a->pythonbits ? "pythonbits" : "astrofs-obs",
		      sizeof(a->bucket));
	a->visibility_s = o->visibility_s ? o->visibility_s : 60;
	a->timeout_ms = o->timeout_ms ? o->timeout_ms : 10000;
	a->retention_s = ASTRO_OBS_RETENTION_S;
	if (set_endpoint(a->sqs, o->sqs_endpoint, "sqs", a->region) < 0 ||
	    set_endpoint(a->ddb, o->dynamodb_endpoint, "dynamodb", a->region) < 0 ||
	    set_endpoint(a->s3, o->s3_endpoint, "s3", a->region) < 0) {
		snprintf(err, errlen, "an endpoint is not an http(s):// URL without a path");
		rc = -EINVAL;
		goto fail;
	}
	rc = astro_awsprov_get(o->credentials, o->profile, o->credentials_source, &a->cred, msg,
			       sizeof(msg));
	if (rc < 0) {
		/* Every AWS API here needs a signature. */
		snprintf(err, errlen, "credentials: %s",
			 rc == -ENOENT ? "none found (environment, web identity, "
					 "credentials file, container or instance role)" : msg);
		goto fail;
	}
	struct astro_s3_cfg sc = {
		.endpoint = a->s3, .region = a->region, .credentials = o->credentials,
		.profile = o->profile, .credentials_source = o->credentials_source, .path_style = 1, .timeout_ms = a->timeout_ms,
	};
	rc = astro_s3_new(&sc, &a->s3c, msg, sizeof(msg));
	if (rc < 0) {
		snprintf(err, errlen, "S3: %s", msg);
		goto fail;
	}
	rc = ensure_table(a, a->table, "site", "id", err, errlen);
	if (rc < 0)
		goto fail;
	s->ops = &aws_backend;
	s->impl = a;
	*out = s;
	return 0;
fail:
	aws_close(a);
	free(s);
	return rc;
}

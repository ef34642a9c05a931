/*
 * aws.c — sign, send, map errors: the one AWS request path (see aws.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "core/astro.h"
#include "core/log.h"
#include "services/aws.h"
#include "services/awsprov.h"
#include "services/s3xml.h"

#define MAX_CALLER_HEADERS 8

static int send_once(const struct astro_aws_signer *sg, const struct astro_awscred *cred,
		     const struct astro_aws_req *q, struct astro_http_resp *resp)
{
	/* Anonymous requests still go through the signer, with a throwaway
	 * key, so path and query are encoded exactly as signed ones. */
	static const struct astro_sigv4_creds dummy = { "ANONYMOUS", "ANONYMOUS", NULL };
	struct astro_sigv4_out so = { 0 };
	const char *hdrs[MAX_CALLER_HEADERS + 12], *host;
	char *url = NULL;
	size_t nh = 0, ul;
	int rc;

	memset(resp, 0, sizeof(*resp));
	host = q->base ? strstr(q->base, "://") : NULL;
	if (!host || !host[3] || strchr(host + 3, '/'))
		return -EINVAL;
	host += 3;
	struct astro_sigv4_req sr = {
		.method = q->method, .host = host, .path = q->path,
		.query = q->query, .nquery = q->nquery, .headers = q->headers,
		.payload = q->body, .payload_len = q->body_len,
		.region = sg->region, .service = q->service,
		.request_payer = sg->request_payer && cred,
		.now = astro_now_ms() / 1000,
	};
	struct astro_sigv4_creds cr = { 0 };

	if (cred)
		cr = (struct astro_sigv4_creds){ cred->access_key, cred->secret_key,
						 cred->session_token };
	rc = astro_sigv4_sign(&sr, cred ? &cr : &dummy, &so);
	if (rc)
		goto out;
	ul = strlen(q->base) + strlen(so.path) + strlen(so.query) + 2;
	url = malloc(ul);
	if (!url) {
		rc = -ENOMEM;
		goto out;
	}
	snprintf(url, ul, "%s%s%s%s", q->base, so.path, *so.query ? "?" : "", so.query);
	for (const char *const *h = q->headers; h && *h; h++) {
		if (nh == MAX_CALLER_HEADERS) {
			rc = -EINVAL;
			goto out;
		}
		hdrs[nh++] = *h;
	}
	for (char **h = so.headers; cred && h && *h && nh < MAX_CALLER_HEADERS + 10; h++)
		hdrs[nh++] = *h;
	if (q->body)
		hdrs[nh++] = "Expect:";	/* no 100-continue round trip */
	hdrs[nh] = NULL;
	struct astro_http_req hr = {
		.method = q->method, .url = url, .headers = hdrs,
		.body = q->body, .body_len = q->body_len,
		.timeout_ms = q->timeout_ms, .idempotent = q->idempotent,
		.max_body = q->max_body, .service = q->service,
	};
	rc = astro_http_request(&hr, resp);
out:
	astro_sigv4_out_free(&so);
	free(url);
	return rc;
}

/*
 * Did the server refuse these temporary credentials as expired?  S3 and
 * STS say ExpiredToken, the JSON services ExpiredTokenException; a HEAD
 * answer has no body, so its bare 400 counts too.
 */
static int token_expired(const struct astro_aws_req *q, const struct astro_http_resp *r)
{
	char code[64];

	if (r->status != 400 && r->status != 403)
		return 0;
	if (r->body_len == 0)
		return r->status == 400 && strcmp(q->method, "HEAD") == 0;
	astro_aws_error(r->status, r->body, r->body_len, code, sizeof(code), NULL, 0, NULL);
	return strcmp(code, "ExpiredToken") == 0 || strcmp(code, "ExpiredTokenException") == 0;
}

int astro_aws_send(const struct astro_aws_signer *sg, const struct astro_aws_req *q,
		   struct astro_http_resp *resp)
{
	struct astro_awscred c;
	unsigned gen = 0;
	int rc;

	if (!sg->prov)
		return send_once(sg, sg->cred, q, resp);
	/* A copy for this request: a refresh never waits on a transfer. */
	if ((rc = astro_awsprov_current(sg->prov, &c, &gen)) < 0)
		return rc;
	rc = send_once(sg, &c, q, resp);
	astro_awscred_free(&c);
	if (rc == 0 && token_expired(q, resp) && astro_awsprov_expired(sg->prov, gen)) {
		astro_info("%s: credentials expired early; refreshed and sent again", q->service);
		astro_http_resp_free(resp);
		if ((rc = astro_awsprov_current(sg->prov, &c, &gen)) < 0)
			return rc;
		rc = send_once(sg, &c, q, resp);
		astro_awscred_free(&c);
	}
	return rc;
}

/* Error names of the JSON and Query protocols that are not S3's. */
static const struct {
	const char *name;
	int err;
	const char *hint;
} aws_codes[] = {
	{ "ConditionalCheckFailedException", ESTALE, "the item changed (condition not met)" },
	{ "ResourceNotFoundException", ENOENT, "no such table or resource" },
	{ "ResourceInUseException", EEXIST, "the resource exists already or is being changed" },
};

int astro_aws_errno(const char *code, long status, const char **hint)
{
	if (code && *code) {
		for (size_t i = 0; i < ASTRO_ARRAY_SIZE(aws_codes); i++) {
			if (strcmp(code, aws_codes[i].name) == 0) {
				if (hint)
					*hint = aws_codes[i].hint;
				return -aws_codes[i].err;
			}
		}
		if (strstr(code, "NonExistentQueue")) {
			if (hint)
				*hint = "no such queue";
			return -ENOENT;
		}
		if (strstr(code, "Throughput") || strstr(code, "Throttl")) {
			if (hint)
				*hint = "throttled: retry later";
			return -EAGAIN;
		}
	}
	return astro_s3xml_errno(code, status, hint);
}

static int is_json_object(const char *body, size_t len)
{
	size_t i = 0;

	while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' ||
			   body[i] == '\n'))
		i++;
	return i < len && body[i] == '{';
}

int astro_aws_error(long status, const char *body, size_t len, char *code,
		    size_t codelen, char *msg, size_t msglen, const char **hint)
{
	struct astro_s3_error e = { 0 };
	const char *c = NULL, *m = NULL;
	json_t *j = NULL;
	int rc;

	if (body && len && is_json_object(body, len)) {
		j = json_loadb(body, len, 0, NULL);
		c = json_string_value(json_object_get(j, "__type"));
		m = json_string_value(json_object_get(j, "message"));
		if (!m)	/* some services spell it "Message" */
			m = json_string_value(json_object_get(j, "Message"));
		if (c && strrchr(c, '#'))
			c = strrchr(c, '#') + 1;
	} else if (body && len && astro_s3xml_parse_error(body, len, &e, NULL, 0) == 0) {
		c = e.code;
		m = e.message;
	}
	rc = astro_aws_errno(c, status, hint);
	if (code && codelen)
		astro_strlcpy(code, c ? c : "", codelen);
	if (msg && msglen)
		astro_strlcpy(msg, m ? m : "", msglen);
	json_decref(j);
	astro_s3xml_error_free(&e);
	return rc;
}

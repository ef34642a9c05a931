/*
 * aws request path: error answers of every protocol to errno, and what a
 * signed or anonymous request carries (seen through http.h's inject hook,
 * without network).
 */
#include "unit.h"
#include <errno.h>
#include "services/aws.h"

static void errors_of_every_protocol(void **state)
{
	static const char ddb[] =
		"{\"__type\":\"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException\","
		"\"message\":\"The conditional request failed\"}";
	static const char s3[] = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code>"
				 "<Message>gone</Message></Error>";
	char code[80], msg[80];
	const char *hint = NULL;

	(void)state;
	assert_int_equal(astro_aws_error(400, ddb, strlen(ddb), code, sizeof(code), msg,
					 sizeof(msg), &hint), -ESTALE);
	assert_string_equal(code, "ConditionalCheckFailedException");
	assert_string_equal(msg, "The conditional request failed");
	assert_non_null(hint);
	assert_int_equal(astro_aws_error(404, s3, strlen(s3), code, sizeof(code), msg,
					 sizeof(msg), NULL), -ENOENT);
	assert_string_equal(code, "NoSuchKey");
	assert_string_equal(msg, "gone");
	/* Garbage: the status decides, and no code is made up. */
	assert_int_equal(astro_aws_error(403, "<html>", 6, code, sizeof(code), msg,
					 sizeof(msg), NULL), -EACCES);
	assert_string_equal(code, "");
	assert_int_equal(astro_aws_error(502, "{", 1, code, sizeof(code), NULL, 0, NULL),
			 -EAGAIN);
	/* Codes a caller parsed itself (SQS Query protocol). */
	assert_int_equal(astro_aws_errno("AWS.SimpleQueueService.NonExistentQueue", 400, NULL),
			 -ENOENT);
	assert_int_equal(astro_aws_errno("ResourceInUseException", 400, NULL), -EEXIST);
	assert_int_equal(astro_aws_errno("ThrottlingException", 400, NULL), -EAGAIN);
	assert_int_equal(astro_aws_errno("SignatureDoesNotMatch", 403, NULL), -EACCES);
	assert_int_equal(astro_aws_errno(NULL, 400, NULL), -EIO);
}

struct seen {
	char url[512];
	char hdrs[2048];
	int idempotent;
};

static int capture(const struct astro_http_req *req, int attempt, void *arg)
{
	struct seen *s = arg;

	(void)attempt;
	snprintf(s->url, sizeof(s->url), "%s", req->url);
	s->hdrs[0] = '\0';
	for (size_t i = 0; req->headers && req->headers[i]; i++) {
		strncat(s->hdrs, req->headers[i], sizeof(s->hdrs) - strlen(s->hdrs) - 2);
		strcat(s->hdrs, "\n");
	}
	s->idempotent = req->idempotent;
	return -ECONNREFUSED;	/* seen is enough: no network */
}

static void signed_and_anonymous_requests(void **state)
{
	struct astro_awscred cred = { .access_key = (char *)"AKIDTEST",
				      .secret_key = (char *)"secret" };
	struct astro_aws_signer sg = { .region = "eu-west-1", .cred = &cred },
				anon = { .region = "eu-west-1", .request_payer = 1 };
	static const char *const h[] = { "Content-Type: application/x-amz-json-1.0", NULL };
	const struct astro_sigv4_param q[] = { { "prefix", "a b/" } };
	struct astro_aws_req r = {
		.service = "dynamodb", .method = "POST", .base = "http://127.0.0.1:9",
		.path = "/", .headers = h, .body = "{}", .body_len = 2,
		.timeout_ms = 1000,
	};
	struct astro_http_resp resp;
	struct seen s;

	(void)state;
	astro_http_set_inject(capture, &s);
	assert_true(astro_aws_send(&sg, &r, &resp) < 0);
	astro_http_resp_free(&resp);
	assert_string_equal(s.url, "http://127.0.0.1:9/");
	assert_non_null(strstr(s.hdrs, "Content-Type: application/x-amz-json-1.0\n"));
	assert_non_null(strstr(s.hdrs, "Authorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/"));
	assert_non_null(strstr(s.hdrs, "/eu-west-1/dynamodb/aws4_request"));
	assert_non_null(strstr(s.hdrs, "Expect:\n"));
	assert_int_equal(s.idempotent, 0);
	/* Anonymous S3: encoded as a signed request, without its headers. */
	r = (struct astro_aws_req){ .service = "s3", .method = "GET",
				    .base = "http://127.0.0.1:9", .path = "/b k/x",
				    .query = q, .nquery = 1, .idempotent = 1,
				    .timeout_ms = 1000 };
	assert_true(astro_aws_send(&anon, &r, &resp) < 0);
	astro_http_resp_free(&resp);
	assert_string_equal(s.url, "http://127.0.0.1:9/b%20k/x?prefix=a%20b%2F");
	assert_null(strstr(s.hdrs, "Authorization"));
	assert_null(strstr(s.hdrs, "x-amz-request-payer"));
	assert_null(strstr(s.hdrs, "Expect:"));
	assert_int_equal(s.idempotent, 1);
	/* A base with a path would be sent unsigned: refused. */
	r.base = "http://127.0.0.1:9/p";
	assert_int_equal(astro_aws_send(&sg, &r, &resp), -EINVAL);
	astro_http_resp_free(&resp);
	astro_http_set_inject(NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(errors_of_every_protocol),
		cmocka_unit_test(signed_and_anonymous_requests),
	};
	int rc;

	astro_http_global_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	astro_http_global_cleanup();
	return rc;
}

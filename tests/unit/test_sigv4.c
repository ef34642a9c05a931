#include "unit.h"
#include <errno.h>
#include <sys/wait.h>
#include <jansson.h>
#include "astro.h"
#include "sigv4.h"

/*
 * 1. botocore as oracle: tests/s3/sigv4_oracle.py holds the table of
 *    requests and prints, per request, the inputs and what botocore's
 *    S3SigV4Auth / S3SigV4QueryAuth computed at a frozen time.
 */

static char *run_oracle(int *skipped)
{
	static const char *const pythons[] = { "/usr/bin/python3", "python3" };
	char script[1024], cmd[1200];
	const char *src = __FILE__;
	const char *slash = strrchr(src, '/');
	size_t i;

	*skipped = 0;
	/* tests/unit/test_sigv4.c -> tests/s3/sigv4_oracle.py */
	snprintf(script, sizeof(script), "%.*s/../s3/sigv4_oracle.py",
		 slash ? (int)(slash - src) : 1, slash ? src : ".");
	for (i = 0; i < ASTRO_ARRAY_SIZE(pythons); i++) {
		struct { char *p; size_t len, cap; } b = { 0 };
		char chunk[4096];
		size_t n;
		FILE *p;
		int st;

		snprintf(cmd, sizeof(cmd), "%s '%s'", pythons[i], script);
		p = popen(cmd, "r");
		if (!p)
			continue;
		while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0) {
			if (b.len + n + 1 > b.cap) {
				b.cap = (b.len + n + 1) * 2;
				b.p = realloc(b.p, b.cap);
				assert_non_null(b.p);
			}
			memcpy(b.p + b.len, chunk, n);
			b.len += n;
			b.p[b.len] = '\0';
		}
		st = pclose(p);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && b.p)
			return b.p;
		free(b.p);
	}
	*skipped = 1;
	return NULL;
}

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void check_case(json_t *c)
{
	json_t *in = json_object_get(c, "input"), *ex = json_object_get(c, "expect");
	json_t *q = json_object_get(in, "query"), *h = json_object_get(in, "headers");
	const char *name = jstr(c, "name");
	struct astro_sigv4_param params[16];
	char *hdrs[16] = { 0 };
	struct astro_sigv4_req req = { 0 };
	struct astro_sigv4_creds cr = { 0 };
	struct astro_sigv4_out out;
	const char *body = jstr(in, "body");
	size_t i;
	int rc, presign = strcmp(jstr(in, "mode"), "presign") == 0;

	assert_true(json_array_size(q) < ASTRO_ARRAY_SIZE(params));
	assert_true(json_array_size(h) < ASTRO_ARRAY_SIZE(hdrs));
	for (i = 0; i < json_array_size(q); i++) {
		params[i].name = json_string_value(json_array_get(json_array_get(q, i), 0));
		params[i].value = json_string_value(json_array_get(json_array_get(q, i), 1));
	}
	for (i = 0; i < json_array_size(h); i++) {
		json_t *p = json_array_get(h, i);

		assert_true(asprintf(&hdrs[i], "%s: %s", json_string_value(json_array_get(p, 0)),
				     json_string_value(json_array_get(p, 1))) > 0);
	}
	req.method = jstr(in, "method");
	req.host = jstr(in, "host");
	req.path = jstr(in, "path");
	req.query = params;
	req.nquery = json_array_size(q);
	req.headers = (const char *const *)hdrs;
	req.payload = body;
	req.payload_len = body ? strlen(body) : 0;
	req.unsigned_payload = json_is_true(json_object_get(in, "unsigned_payload"));
	req.request_payer = json_is_true(json_object_get(in, "request_payer"));
	req.region = jstr(in, "region");
	req.now = json_integer_value(json_object_get(in, "now"));
	cr.access_key = jstr(in, "access_key");
	cr.secret_key = jstr(in, "secret_key");
	cr.session_token = jstr(in, "session_token");

	if (presign)
		rc = astro_sigv4_presign(&req, &cr, json_integer_value(json_object_get(in, "expires")), &out);
	else
		rc = astro_sigv4_sign(&req, &cr, &out);
	if (rc != 0)
		fail_msg("%s: sign returned %d", name, rc);
	if (strcmp(out.canonical_request, jstr(ex, "canonical_request")) != 0)
		fail_msg("%s: canonical request differs\n--- astrofs\n%s\n--- botocore\n%s", name,
			 out.canonical_request, jstr(ex, "canonical_request"));
	if (strcmp(out.string_to_sign, jstr(ex, "string_to_sign")) != 0)
		fail_msg("%s: string to sign differs\n%s\n---\n%s", name, out.string_to_sign,
			 jstr(ex, "string_to_sign"));
	assert_string_equal(out.signature, jstr(ex, "signature"));
	if (!presign) {
		char want[1024];
		int found = 0;

		snprintf(want, sizeof(want), "Authorization: %s", jstr(ex, "authorization"));
		for (i = 0; out.headers[i]; i++)
			found |= strcmp(out.headers[i], want) == 0;
		if (!found)
			fail_msg("%s: no header %s", name, want);
	} else {
		/* The URL's query must carry the signature botocore computed. */
		char want[128];

		snprintf(want, sizeof(want), "X-Amz-Signature=%s", out.signature);
		assert_non_null(strstr(out.query, want));
	}
	for (i = 0; hdrs[i]; i++)
		free(hdrs[i]);
	astro_sigv4_out_free(&out);
}

static void matches_botocore(void **state)
{
	json_error_t err;
	json_t *doc, *cases;
	int skipped;
	char *text = run_oracle(&skipped);
	size_t i;

	(void)state;
	if (skipped) {
		fprintf(stderr, "# skip: python3 with botocore (python3-botocore) not available\n");
		skip();
	}
	doc = json_loads(text, 0, &err);
	free(text);
	assert_non_null(doc);
	cases = json_object_get(doc, "cases");
	assert_true(json_array_size(cases) >= 10);
	for (i = 0; i < json_array_size(cases); i++)
		check_case(json_array_get(cases, i));
	json_decref(doc);
}

/*
 * 2. Published AWS SigV4 test-suite vectors, as kept by awslabs/aws-c-auth
 *    in tests/aws-signing-test-suite/v4/<case>/header-signed-request.txt
 *    (commits 4ec99f28fa66f8a308609dfc6020936c24edaaf2 and
 *    e70d49e6f00bf019b129b34b7a8d6581fdde67fa); the same suite as AWS's
 *    "Signature Version 4 Test Suite".  Scope AKIDEXAMPLE/20150830/
 *    us-east-1/service/aws4_request, secret
 *    wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 2015-08-30T12:36:00Z.  Only
 *    the "-unnormalized" path cases apply: S3 never normalizes paths.  The
 *    service is "service", so no x-amz-content-sha256 is signed.
 */
struct suite_case {
	const char *name, *path;
	struct astro_sigv4_param query[3];
	size_t nquery;
	const char *headers[4];
	const char *token;
	const char *authz;
};

static const struct suite_case suite[] = {
	{ "get-vanilla-query-order-key-case", "/", { { "Param2", "value2" }, { "Param1", "value1" } }, 2,
	  { NULL }, NULL,
	  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
	  "SignedHeaders=host;x-amz-date, "
	  "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500" },
	{ "get-space-unnormalized", "/example space/", { { 0 } }, 0, { NULL }, NULL,
	  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
	  "SignedHeaders=host;x-amz-date, "
	  "Signature=652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741" },
	{ "get-slashes-unnormalized", "//example//", { { 0 } }, 0, { NULL }, NULL,
	  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
	  "SignedHeaders=host;x-amz-date, "
	  "Signature=87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5" },
	{ "get-utf8", "/\xe1\x88\xb4", { { 0 } }, 0, { NULL }, NULL,
	  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
	  "SignedHeaders=host;x-amz-date, "
	  "Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85" },
	{ "get-header-value-trim", "/", { { 0 } }, 0,
	  { "My-Header1: value1", "My-Header2: \"a   b   c\"", NULL }, NULL,
	  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
	  "SignedHeaders=host;my-header1;my-header2;x-amz-date, "
	  "Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736" },
	{ "get-header-key-duplicate", "/", { { 0 } }, 0,
	  { "My-Header1:value2", "My-Header1:value2", "My-Header1:value1", NULL }, NULL,
	  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
	  "SignedHeaders=host;my-header1;x-amz-date, "
	  "Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea" },
	{ "get-vanilla-with-session-token", "/", { { 0 } }, 0, { NULL },
	  "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
	  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
	  "SignedHeaders=host;x-amz-date;x-amz-security-token, "
	  "Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8" },
};

static void matches_aws_test_suite(void **state)
{
	size_t i, j;

	(void)state;
	for (i = 0; i < ASTRO_ARRAY_SIZE(suite); i++) {
		const struct suite_case *s = &suite[i];
		struct astro_sigv4_req req = {
			.method = "GET", .host = "example.amazonaws.com", .path = s->path,
			.query = s->query, .nquery = s->nquery, .headers = s->headers,
			.region = "us-east-1", .service = "service", .now = 1440938160,
		};
		struct astro_sigv4_creds cr = {
			"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", s->token,
		};
		struct astro_sigv4_out out;
		char want[512];
		int found = 0;

		assert_int_equal(astro_sigv4_sign(&req, &cr, &out), 0);
		snprintf(want, sizeof(want), "Authorization: %s", s->authz);
		for (j = 0; out.headers[j]; j++)
			found |= strcmp(out.headers[j], want) == 0;
		if (!found)
			fail_msg("%s: got\n%s", s->name, out.canonical_request);
		astro_sigv4_out_free(&out);
	}
}

/* 3. What the signer must refuse, and what a client relies on. */
static void rejects_malformed_requests(void **state)
{
	const char *owned[] = { "Authorization: x", NULL };
	const char *dated[] = { "X-Amz-Date: 20150830T123600Z", NULL };
	const char *nocolon[] = { "Range bytes=0-1", NULL };
	const char *crlf[] = { "Range: bytes=0-1\r\nX-Evil: 1", NULL };
	const char *const *bad[] = { owned, dated, nocolon, crlf };
	struct astro_sigv4_creds cr = { "AK", "SK", NULL };
	struct astro_sigv4_req req = {
		.method = "GET", .host = "h", .path = "/b/k", .region = "us-east-1", .now = 1,
	};
	struct astro_sigv4_out out;
	size_t i;

	(void)state;
	for (i = 0; i < ASTRO_ARRAY_SIZE(bad); i++) {
		req.headers = bad[i];
		assert_int_equal(astro_sigv4_sign(&req, &cr, &out), -EINVAL);
		astro_sigv4_out_free(&out);
	}
	req.headers = NULL;
	req.path = "b/k";	/* not absolute */
	assert_int_equal(astro_sigv4_sign(&req, &cr, &out), -EINVAL);
	req.path = "/b/k";
	cr.secret_key = "";
	assert_int_equal(astro_sigv4_sign(&req, &cr, &out), -EINVAL);
	cr.secret_key = "SK";
	assert_int_equal(astro_sigv4_presign(&req, &cr, 0, &out), -EINVAL);
	assert_int_equal(astro_sigv4_presign(&req, &cr, 604801, &out), -EINVAL);
	astro_sigv4_out_free(&out);
}

static void output_is_sendable(void **state)
{
	const char *h[] = { "Range: bytes=0-2879", NULL };
	struct astro_sigv4_param q[] = { { "prefix", "a b/" }, { "list-type", "2" } };
	struct astro_sigv4_creds cr = { "AK", "SK", "TOK" };
	struct astro_sigv4_req req = {
		.method = "GET", .host = "127.0.0.1:9000", .path = "/astro/x y+z.fits",
		.query = q, .nquery = 2, .headers = h, .region = "eu-west-1",
		.request_payer = 1, .unsigned_payload = 1, .now = 1440938160,
	};
	struct astro_sigv4_out out, out2;
	size_t i;
	int saw_payer = 0, saw_token = 0, saw_sha = 0;

	(void)state;
	assert_int_equal(astro_sigv4_sign(&req, &cr, &out), 0);
	assert_string_equal(out.path, "/astro/x%20y%2Bz.fits");
	assert_string_equal(out.query, "list-type=2&prefix=a%20b%2F");
	assert_string_equal(out.amz_date, "20150830T123600Z");
	for (i = 0; out.headers[i]; i++) {
		saw_payer |= strcmp(out.headers[i], "x-amz-request-payer: requester") == 0;
		saw_token |= strcmp(out.headers[i], "x-amz-security-token: TOK") == 0;
		saw_sha |= strcmp(out.headers[i], "x-amz-content-sha256: UNSIGNED-PAYLOAD") == 0;
	}
	assert_true(saw_payer && saw_token && saw_sha);
	assert_non_null(strstr(out.canonical_request,
			       "host;range;x-amz-content-sha256;x-amz-date;x-amz-request-payer;x-amz-security-token\n"));
	/* One more second, another secret: another signature. */
	req.now++;
	assert_int_equal(astro_sigv4_sign(&req, &cr, &out2), 0);
	assert_string_not_equal(out.signature, out2.signature);
	astro_sigv4_out_free(&out2);
	req.now--;
	cr.secret_key = "SK2";
	assert_int_equal(astro_sigv4_sign(&req, &cr, &out2), 0);
	assert_string_not_equal(out.signature, out2.signature);
	astro_sigv4_out_free(&out2);
	astro_sigv4_out_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(matches_botocore),
		cmocka_unit_test(matches_aws_test_suite),
		cmocka_unit_test(rejects_malformed_requests),
		cmocka_unit_test(output_is_sendable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

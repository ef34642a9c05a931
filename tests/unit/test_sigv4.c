#include "unit.h"
#include <errno.h>
#include <sys/wait.h>
#include <curl/curl.h>
#include <jansson.h>
#include "core/astro.h"
#include "services/s3xml.h"
#include "services/sigv4.h"

/*
 * 1. botocore as oracle: tests/oracles/sigv4_oracle.py holds the table of
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
	/* tests/unit/test_sigv4.c -> tests/oracles/sigv4_oracle.py */
	snprintf(script, sizeof(script), "%.*s/../oracles/sigv4_oracle.py",
		 slash ? (int)(slash - src) : 1, slash ? src : ".");
	if (access(script, R_OK) != 0) {
		fprintf(stderr, "# skip: %s not found (run from the repository root)\n", script);
		*skipped = 1;
		return NULL;
	}
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
		fprintf(stderr, "# skip: no python3 with botocore (python3-botocore) ran the oracle\n");
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

/*
 * 4. Against a verifier: the test S3 server (tests/standin/s3/front.js, s3rver
 *    behind full SigV4 verification, itself checked against botocore in
 *    tests/bats/s3front.bats) must accept what this signer signs, including
 *    odd keys, listings, request-payer, session tokens and presigned URLs,
 *    and its refusals must parse and map to the right errno.
 */
struct live {
	char dir[256];
	char script[1024];
	char endpoint[128];
	char host[64];
	char ak[64], sk[128];
	int up;
	int skipped;
};

struct body {
	char buf[8192];
	size_t len;
};

static size_t collect(char *p, size_t sz, size_t n, void *arg)
{
	struct body *b = arg;
	size_t k = sz * n;

	if (k > sizeof(b->buf) - 1 - b->len)
		k = sizeof(b->buf) - 1 - b->len;
	memcpy(b->buf + b->len, p, k);
	b->len += k;
	b->buf[b->len] = '\0';
	return sz * n;
}

static void env_value(const char *text, const char *name, char *out, size_t n)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\n%s=", name);
	p = strstr(text, pat);
	assert_non_null(p);
	p += strlen(pat);
	e = strchr(p, '\n');
	assert_non_null(e);
	assert_true((size_t)(e - p) < n);
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
}

static int live_start(struct live *lv)
{
	const char *src = __FILE__, *slash = strrchr(src, '/');
	char *tmp = unit_tmpdir(), cmd[4096], envpath[300], *text, *withnl;
	int st;

	assert_non_null(tmp);
	astro_strlcpy(lv->dir, tmp, sizeof(lv->dir));
	free(tmp);
	snprintf(lv->script, sizeof(lv->script), "%.*s/../standin/s3/s3server.sh",
		 slash ? (int)(slash - src) : 1, slash ? src : ".");
	if (access(lv->script, X_OK) != 0) {
		fprintf(stderr, "# skip: %s not found (run from the repository root)\n", lv->script);
		rmdir(lv->dir);
		return 77;
	}
	snprintf(cmd, sizeof(cmd), "'%s' start '%s/s3' >&2", lv->script, lv->dir);
	st = system(cmd);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return WIFEXITED(st) && WEXITSTATUS(st) == 77 ? 77 : -1;
	lv->up = 1;
	snprintf(envpath, sizeof(envpath), "%s/s3/env", lv->dir);
	text = unit_slurp(envpath, NULL);
	assert_non_null(text);
	assert_true(asprintf(&withnl, "\n%s", text) > 0);
	env_value(withnl, "S3_ENDPOINT", lv->endpoint, sizeof(lv->endpoint));
	env_value(withnl, "S3_AK", lv->ak, sizeof(lv->ak));
	env_value(withnl, "S3_SK", lv->sk, sizeof(lv->sk));
	assert_int_equal(strncmp(lv->endpoint, "http://", 7), 0);
	astro_strlcpy(lv->host, lv->endpoint + 7, sizeof(lv->host));
	free(text);
	free(withnl);
	return 0;
}

static void live_stop(struct live *lv)
{
	char cmd[4096];

	if (lv->up) {
		snprintf(cmd, sizeof(cmd), "'%s' stop '%s/s3'; rm -rf '%s'", lv->script, lv->dir, lv->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "# warning: could not stop the test S3 server in %s\n", lv->dir);
	}
}

/* Sign and send; returns the HTTP status, body in *bp (if not NULL). */
static long live_send(const struct live *lv, const char *method, const char *path,
		      const struct astro_sigv4_param *q, size_t nq, const char *range,
		      const char *body, const char *secret, const char *region,
		      const char *token, int payer, int presign, struct body *bp)
{
	struct body tmp, *pb = bp ? bp : &tmp;
	const char *hdrs[2] = { range, NULL };
	struct astro_sigv4_creds cr = { lv->ak, secret ? secret : lv->sk, token };
	struct astro_sigv4_req req = {
		.method = method, .host = lv->host, .path = path, .query = q, .nquery = nq,
		.headers = range ? hdrs : NULL, .payload = body, .payload_len = body ? strlen(body) : 0,
		.unsigned_payload = body == NULL, .region = region ? region : "us-east-1",
		.request_payer = payer, .now = time(NULL),
	};
	struct astro_sigv4_out out;
	struct curl_slist *sl = NULL;
	char url[2048];
	long status = 0;
	CURL *c;
	size_t i;

	if (presign)
		assert_int_equal(astro_sigv4_presign(&req, &cr, 300, &out), 0);
	else
		assert_int_equal(astro_sigv4_sign(&req, &cr, &out), 0);
	snprintf(url, sizeof(url), "%s%s%s%s", lv->endpoint, out.path, *out.query ? "?" : "", out.query);
	if (range)
		sl = curl_slist_append(sl, range);
	for (i = 0; out.headers[i]; i++)
		sl = curl_slist_append(sl, out.headers[i]);
	c = curl_easy_init();
	assert_non_null(c);
	pb->len = 0;
	pb->buf[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, pb);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(sl);
	astro_sigv4_out_free(&out);
	return status;
}

static void expect_error(const char *xml, const char *code, int err)
{
	struct astro_s3_error e;
	char msg[256];

	if (astro_s3xml_parse_error(xml, strlen(xml), &e, msg, sizeof(msg)) != 0)
		fail_msg("error body did not parse (%s): %s", msg, xml);
	if (strcmp(e.code, code) != 0)
		fail_msg("wanted %s, got %s", code, e.code);
	assert_int_equal(astro_s3xml_errno(e.code, 403, NULL), err);
	astro_s3xml_error_free(&e);
}

/* Setup/teardown so a failed assertion never leaves the server running. */
static int live_setup(void **state)
{
	struct live *lv = calloc(1, sizeof(*lv));

	if (!lv)
		return -1;
	lv->skipped = live_start(lv) == 77;
	*state = lv;
	return 0;
}

static int live_teardown(void **state)
{
	live_stop(*state);
	free(*state);
	return 0;
}

static void interoperates_with_verifying_front(void **state)
{
	static const char key[] = "/astro/t/a b+\xc3\xbc()~=.fits";
	struct astro_sigv4_param lq[] = { { "list-type", "2" }, { "prefix", "t/" }, { "delimiter", "/" } };
	struct astro_sigv4_param mq[] = { { "list-type", "2" }, { "prefix", "t/a b+" } };
	struct astro_s3_list l;
	struct live *lvp = *state;
	struct body b;
	char msg[256];

	if (lvp->skipped) {
		fprintf(stderr, "# skip: the test S3 server could not start (node/npm/s3rver missing)\n");
		skip();
	}
	assert_true(lvp->up);

	assert_int_equal(live_send(lvp, "PUT", key, NULL, 0, NULL, "SIMPLE  =  T", NULL, NULL, NULL, 0, 0, NULL), 200);
	assert_int_equal(live_send(lvp, "GET", key, NULL, 0, "Range: bytes=0-4", NULL, NULL, NULL, NULL, 0, 0, &b), 206);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.buf, "SIMPL", 5);
	assert_int_equal(live_send(lvp, "HEAD", key, NULL, 0, NULL, NULL, NULL, NULL, NULL, 0, 0, NULL), 200);
	assert_int_equal(live_send(lvp, "GET", key, NULL, 0, "Range: bytes=0-0", NULL, NULL, NULL, NULL, 1, 0, &b), 206);
	assert_int_equal(b.len, 1);
	assert_int_equal(live_send(lvp, "GET", key, NULL, 0, NULL, NULL, NULL, NULL, "FQoGZXIvYXdz//token+=", 0, 0, NULL), 200);
	assert_int_equal(live_send(lvp, "GET", key, NULL, 0, NULL, NULL, NULL, NULL, "tok", 1, 1, &b), 200);
	assert_string_equal(b.buf, "SIMPLE  =  T");

	/* Listings: signed query with '/' and ' ' and '+', parsed by s3xml. */
	assert_int_equal(live_send(lvp, "GET", "/astro", lq, 3, NULL, NULL, NULL, NULL, NULL, 0, 0, &b), 200);
	if (astro_s3xml_parse_list(b.buf, b.len, &l, msg, sizeof(msg)) != 0)
		fail_msg("listing did not parse: %s\n%s", msg, b.buf);
	assert_int_equal(l.nobjects, 1);
	assert_string_equal(l.objects[0].key, "t/a b+\xc3\xbc()~=.fits");
	assert_int_equal(l.objects[0].size, 12);
	assert_true(l.objects[0].mtime > 1700000000);
	astro_s3xml_list_free(&l);
	assert_int_equal(live_send(lvp, "GET", "/astro", mq, 2, NULL, NULL, NULL, NULL, NULL, 0, 0, &b), 200);
	assert_int_equal(astro_s3xml_parse_list(b.buf, b.len, &l, msg, sizeof(msg)), 0);
	assert_int_equal(l.nobjects, 1);
	astro_s3xml_list_free(&l);

	/* Refusals, parsed and mapped. */
	assert_int_equal(live_send(lvp, "GET", key, NULL, 0, NULL, NULL, "wrong", NULL, NULL, 0, 0, &b), 403);
	expect_error(b.buf, "SignatureDoesNotMatch", -EACCES);
	assert_int_equal(live_send(lvp, "GET", key, NULL, 0, NULL, NULL, "wrong", NULL, NULL, 0, 1, &b), 403);
	expect_error(b.buf, "SignatureDoesNotMatch", -EACCES);
	assert_int_equal(live_send(lvp, "GET", key, NULL, 0, NULL, NULL, NULL, "eu-west-1", NULL, 0, 0, &b), 400);
	expect_error(b.buf, "AuthorizationHeaderMalformed", -EACCES);
	assert_int_equal(live_send(lvp, "GET", "/astro/missing", NULL, 0, NULL, NULL, NULL, NULL, NULL, 0, 0, &b), 404);
	expect_error(b.buf, "NoSuchKey", -ENOENT);
	assert_int_equal(live_send(lvp, "GET", key, NULL, 0, "Range: bytes=12-", NULL, NULL, NULL, NULL, 0, 0, &b), 416);
	expect_error(b.buf, "InvalidRange", -ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(matches_botocore),
		cmocka_unit_test(matches_aws_test_suite),
		cmocka_unit_test(rejects_malformed_requests),
		cmocka_unit_test(output_is_sendable),
		cmocka_unit_test_setup_teardown(interoperates_with_verifying_front,
						live_setup, live_teardown),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}

#include "unit.h"
#include <errno.h>
#include "core/astro.h"
#include "services/s3xml.h"

/*
 * Documents shaped like the examples of the AWS S3 API reference
 * (ListObjectsV2, Error responses); expected values are read off the
 * document text by hand, times converted with Python's calendar.timegm.
 */
static const char list_doc[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n"
	"  <Name>astro</Name>\n"
	"  <Prefix>tess/</Prefix>\n"
	"  <KeyCount>3</KeyCount>\n"
	"  <MaxKeys>3</MaxKeys>\n"
	"  <Delimiter>/</Delimiter>\n"
	"  <IsTruncated>true</IsTruncated>\n"
	"  <Contents>\n"
	"    <Key>tess/a b+c &amp; d.fits</Key>\n"
	"    <LastModified>2009-10-12T17:50:30.000Z</LastModified>\n"
	"    <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>\n"
	"    <Size>434234</Size>\n"
	"    <StorageClass>STANDARD</StorageClass>\n"
	"    <Owner><ID>x</ID><DisplayName>y</DisplayName></Owner>\n"
	"  </Contents>\n"
	"  <Contents>\n"
	"    <Key>tess/\xc3\xbc()~=.fits</Key>\n"
	"    <LastModified>2026-02-28T23:59:59Z</LastModified>\n"
	"    <ETag>\"e1\"</ETag>\n"
	"    <Size>43997264640</Size>\n"
	"  </Contents>\n"
	"  <CommonPrefixes><Prefix>tess/s0001/</Prefix></CommonPrefixes>\n"
	"  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>\n"
	"</ListBucketResult>\n";

static void check_list(const struct astro_s3_list *l)
{
	assert_int_equal(l->nobjects, 2);
	assert_string_equal(l->objects[0].key, "tess/a b+c & d.fits");
	assert_string_equal(l->objects[0].etag, "\"fba9dede5f27731c9771645a39863328\"");
	assert_int_equal(l->objects[0].size, 434234);
	assert_int_equal(l->objects[0].mtime, 1255369830);
	assert_string_equal(l->objects[1].key, "tess/\xc3\xbc()~=.fits");
	assert_int_equal(l->objects[1].size, 43997264640LL);
	assert_int_equal(l->objects[1].mtime, 1772323199);
	assert_int_equal(l->nprefixes, 1);
	assert_string_equal(l->prefixes[0], "tess/s0001/");
	assert_true(l->is_truncated);
	assert_string_equal(l->next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
	assert_int_equal(l->key_count, 3);
	assert_string_equal(l->prefix, "tess/");
}

static void parses_list(void **state)
{
	struct astro_s3_list l;
	char msg[256];

	(void)state;
	assert_int_equal(astro_s3xml_parse_list(list_doc, strlen(list_doc), &l, msg, sizeof(msg)), 0);
	check_list(&l);
	astro_s3xml_list_free(&l);
}

/* Streaming: the same result whatever the chunking, down to one byte. */
static void parses_list_byte_by_byte(void **state)
{
	static const size_t steps[] = { 1, 2, 7, 64, 1000 };
	size_t s, i;

	(void)state;
	for (s = 0; s < ASTRO_ARRAY_SIZE(steps); s++) {
		struct astro_s3xml *p = astro_s3xml_new(ASTRO_S3XML_LIST);
		struct astro_s3_list l;
		size_t len = strlen(list_doc);

		assert_non_null(p);
		for (i = 0; i < len; i += steps[s])
			assert_int_equal(astro_s3xml_feed(p, list_doc + i,
							  len - i < steps[s] ? len - i : steps[s]), 0);
		assert_int_equal(astro_s3xml_finish(p, &l, NULL), 0);
		check_list(&l);
		astro_s3xml_list_free(&l);
		astro_s3xml_free(p);
	}
}

static void url_encoded_keys_are_decoded(void **state)
{
	static const char doc[] =
		"<ListBucketResult><EncodingType>url</EncodingType><Prefix>a+b%2F</Prefix>"
		"<IsTruncated>false</IsTruncated>"
		"<Contents><Key>a+b%2Fc%2Bd%C3%BC%01</Key><Size>0</Size></Contents>"
		"<CommonPrefixes><Prefix>a+b%2Fsub%2F</Prefix></CommonPrefixes>"
		"</ListBucketResult>";
	static const char bad[] =
		"<ListBucketResult><EncodingType>url</EncodingType>"
		"<Contents><Key>a%2</Key><Size>0</Size></Contents></ListBucketResult>";
	struct astro_s3_list l;
	char msg[256];

	(void)state;
	assert_int_equal(astro_s3xml_parse_list(doc, strlen(doc), &l, msg, sizeof(msg)), 0);
	assert_string_equal(l.objects[0].key, "a b/c+d\xc3\xbc\x01");
	assert_string_equal(l.prefixes[0], "a b/sub/");
	assert_string_equal(l.prefix, "a b/");
	assert_false(l.is_truncated);
	assert_null(l.next_token);
	assert_int_equal(l.key_count, -1);
	assert_int_equal(l.objects[0].mtime, -1);
	astro_s3xml_list_free(&l);
	assert_int_equal(astro_s3xml_parse_list(bad, strlen(bad), &l, msg, sizeof(msg)), -EBADMSG);
	assert_non_null(strstr(msg, "escape"));
}

static void parses_error(void **state)
{
	static const char doc[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<Error>\n"
		"  <Code>NoSuchKey</Code>\n"
		"  <Message>The resource you requested does not exist</Message>\n"
		"  <Key>tess/missing.fits</Key>\n"
		"  <BucketName>astro</BucketName>\n"
		"  <RequestId>4442587FB7D0A2F9</RequestId>\n"
		"  <HostId>abc</HostId>\n"
		"</Error>\n";
	struct astro_s3_error e;
	const char *hint;
	char msg[256];

	(void)state;
	assert_int_equal(astro_s3xml_parse_error(doc, strlen(doc), &e, msg, sizeof(msg)), 0);
	assert_string_equal(e.code, "NoSuchKey");
	assert_string_equal(e.message, "The resource you requested does not exist");
	assert_string_equal(e.key, "tess/missing.fits");
	assert_string_equal(e.bucket, "astro");
	assert_string_equal(e.request_id, "4442587FB7D0A2F9");
	assert_null(e.region);
	assert_int_equal(astro_s3xml_errno(e.code, 404, &hint), -ENOENT);
	astro_s3xml_error_free(&e);
}

struct bad_case {
	const char *doc;
	const char *needle;	/* expected in the message */
};

static void rejects_garbage(void **state)
{
	static const struct bad_case lists[] = {
		{ "", "no element found" },
		{ "not xml at all", "XML" },
		{ "<Error><Code>x</Code></Error>", "root element <Error>" },
		{ "<ListBucketResult><Contents><Key>k</Key><Size>12x</Size></Contents></ListBucketResult>",
		  "<Size>: not a size: '12x'" },
		{ "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>",
		  "<Size>" },
		{ "<ListBucketResult><Contents><Key>k</Key><Size>99999999999999999999</Size></Contents></ListBucketResult>",
		  "<Size>" },
		{ "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
		  "without <Key>" },
		{ "<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>",
		  "without <Size>" },
		{ "<ListBucketResult><Contents><Key>k</Key><Key>j</Key><Size>1</Size></Contents></ListBucketResult>",
		  "appears twice" },
		{ "<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>", "<IsTruncated>" },
		{ "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
		  "without <NextContinuationToken>" },
		{ "<ListBucketResult><Contents><Key>k</Key><Size>1</Size>"
		  "<LastModified>2009-13-12T17:50:30Z</LastModified></Contents></ListBucketResult>",
		  "<LastModified>" },
		{ "<ListBucketResult><CommonPrefixes></CommonPrefixes></ListBucketResult>",
		  "without <Prefix>" },
		{ "<ListBucketResult><KeyCount>lots</KeyCount></ListBucketResult>", "<KeyCount>" },
		{ "<ListBucketResult><Contents><Key>k</Key><Size>1</Size></Contents>", "XML" },
		{ "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
		  "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]><ListBucketResult>&lol2;</ListBucketResult>",
		  "DTD not allowed" },
		{ "<ListBucketResult>\n<a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a>"
		  "<a><a><a><a><a><a><a><a><a><a><a><a><a><a>", "line 2: elements nested deeper" },
	};
	static const struct bad_case errs[] = {
		{ "<Error><Message>m</Message></Error>", "without <Code>" },
		{ "<ListBucketResult/>", "root element" },
		{ "<Error><Code>a</Code><Code>b</Code></Error>", "appears twice" },
	};
	struct astro_s3_list l;
	struct astro_s3_error e;
	char msg[256];
	size_t i;

	(void)state;
	for (i = 0; i < ASTRO_ARRAY_SIZE(lists); i++) {
		int rc = astro_s3xml_parse_list(lists[i].doc, strlen(lists[i].doc), &l, msg, sizeof(msg));

		if (rc != -EBADMSG || !strstr(msg, lists[i].needle))
			fail_msg("list case %zu: rc %d, message '%s', wanted '%s'", i, rc, msg,
				 lists[i].needle);
		astro_s3xml_list_free(&l);
	}
	for (i = 0; i < ASTRO_ARRAY_SIZE(errs); i++) {
		int rc = astro_s3xml_parse_error(errs[i].doc, strlen(errs[i].doc), &e, msg, sizeof(msg));

		if (rc != -EBADMSG || !strstr(msg, errs[i].needle))
			fail_msg("error case %zu: rc %d, message '%s'", i, rc, msg);
		astro_s3xml_error_free(&e);
	}
}

static void maps_codes_to_errno(void **state)
{
	static const struct { const char *code; long status; int err; const char *needle; } m[] = {
		{ "AccessDenied", 403, -EACCES, "s3_request_payer" },
		{ "SignatureDoesNotMatch", 403, -EACCES, "secret" },
		{ "InvalidAccessKeyId", 403, -EACCES, "access key" },
		{ "RequestTimeTooSkewed", 403, -EACCES, "clock" },
		{ "AuthorizationHeaderMalformed", 400, -EACCES, "region" },
		{ "NoSuchBucket", 404, -ENOENT, "bucket" },
		{ "NoSuchKey", 404, -ENOENT, "key" },
		{ "SlowDown", 503, -EAGAIN, "retry" },
		{ "InternalError", 500, -EAGAIN, "retry" },
		{ "ServiceUnavailable", 503, -EAGAIN, "retry" },
		{ "InvalidRange", 416, -ERANGE, "range" },
		{ "PreconditionFailed", 412, -ESTALE, "changed" },
		{ "SomethingNew", 400, -EIO, "bad request" },
		{ NULL, 403, -EACCES, "credentials" },
		{ NULL, 404, -ENOENT, "no such" },
		{ NULL, 416, -ERANGE, "range" },
		{ NULL, 503, -EAGAIN, "retry" },
		{ NULL, 301, -EIO, "s3_region" },
		{ "", 200, -EIO, "unexpected" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ASTRO_ARRAY_SIZE(m); i++) {
		const char *hint = NULL;

		assert_int_equal(astro_s3xml_errno(m[i].code, m[i].status, &hint), m[i].err);
		assert_non_null(hint);
		if (!strstr(hint, m[i].needle))
			fail_msg("%s/%ld: hint '%s' lacks '%s'", m[i].code ? m[i].code : "-",
				 m[i].status, hint, m[i].needle);
	}
	assert_int_equal(astro_s3xml_errno("NoSuchKey", 404, NULL), -ENOENT);
}

/*
 * An Azure List Blobs answer shaped like the example of Microsoft's "List
 * Blobs" REST reference (EnumerationResults, Blob with Properties,
 * BlobPrefix, NextMarker), with the Etag bare as Azure and Azurite send it;
 * the time converted with Python's calendar.timegm.
 */
static const char azlist_doc[] =
	"\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	"<EnumerationResults ServiceEndpoint=\"http://127.0.0.1:10000/devstoreaccount1\" "
	"ContainerName=\"priv\">\n"
	"  <Prefix>tess/</Prefix>\n"
	"  <Marker>tess/a.fits</Marker>\n"
	"  <MaxResults>2</MaxResults>\n"
	"  <Delimiter>/</Delimiter>\n"
	"  <Blobs>\n"
	"    <Blob>\n"
	"      <Name>tess/b &amp; c.fits</Name>\n"
	"      <Properties>\n"
	"        <Creation-Time>Wed, 09 Sep 2009 09:20:01 GMT</Creation-Time>\n"
	"        <Last-Modified>Wed, 09 Sep 2009 09:20:02 GMT</Last-Modified>\n"
	"        <Etag>0x8CBFF45D8A29A19</Etag>\n"
	"        <Content-Length>43997264640</Content-Length>\n"
	"        <Content-Type>application/fits</Content-Type>\n"
	"        <BlobType>BlockBlob</BlobType>\n"
	"      </Properties>\n"
	"      <Metadata><Name>not the blob's name</Name></Metadata>\n"
	"    </Blob>\n"
	"    <BlobPrefix><Name>tess/s0001/</Name></BlobPrefix>\n"
	"  </Blobs>\n"
	"  <NextMarker>2!80!MDAwMDE0IXRlc3MvczAwMDEvITAwMDAyOCE5OTk5LTEyLTMxVDIzOjU5OjU5Ljk5OTk5OTlaIQ--</NextMarker>\n"
	"</EnumerationResults>\n";

static void parses_azure_list(void **state)
{
	static const size_t steps[] = { 1, 3, 64, 100000 };

	(void)state;
	for (size_t s = 0; s < ASTRO_ARRAY_SIZE(steps); s++) {
		struct astro_s3xml *p = astro_s3xml_new(ASTRO_S3XML_AZLIST);
		struct astro_s3_list l;
		size_t len = strlen(azlist_doc);

		assert_non_null(p);
		for (size_t i = 0; i < len; i += steps[s])
			assert_int_equal(astro_s3xml_feed(p, azlist_doc + i,
							  len - i < steps[s] ? len - i : steps[s]), 0);
		assert_int_equal(astro_s3xml_finish(p, &l, NULL), 0);
		astro_s3xml_free(p);
		assert_int_equal(l.nobjects, 1);
		assert_string_equal(l.objects[0].key, "tess/b & c.fits");
		assert_int_equal(l.objects[0].size, 43997264640LL);
		/* Quoted, as Get Blob's ETag header is, so validators compare. */
		assert_string_equal(l.objects[0].etag, "\"0x8CBFF45D8A29A19\"");
		assert_int_equal(l.objects[0].mtime, 1252488002);
		assert_int_equal(l.nprefixes, 1);
		assert_string_equal(l.prefixes[0], "tess/s0001/");
		assert_true(l.is_truncated);
		assert_string_equal(l.next_token, "2!80!MDAwMDE0IXRlc3MvczAwMDEvITAwMDAyOCE5OTk5LTEyLTMxVDIzOjU5OjU5Ljk5OTk5OTlaIQ--");
		assert_string_equal(l.prefix, "tess/");
		astro_s3xml_list_free(&l);
	}
}

/* The last page: an empty NextMarker (both spellings) ends the listing. */
static void azure_last_page(void **state)
{
	static const char *const docs[] = {
		"<EnumerationResults><Blobs/><NextMarker/></EnumerationResults>",
		"<EnumerationResults><Blobs></Blobs><NextMarker></NextMarker></EnumerationResults>",
		"<EnumerationResults><Blobs/></EnumerationResults>",
	};

	(void)state;
	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(docs); i++) {
		struct astro_s3_list l;
		char msg[256];

		assert_int_equal(astro_s3xml_parse_azlist(docs[i], strlen(docs[i]), &l, msg,
							  sizeof(msg)), 0);
		assert_false(l.is_truncated);
		assert_null(l.next_token);
		assert_int_equal(l.nobjects + l.nprefixes, 0);
		astro_s3xml_list_free(&l);
	}
}

static void azure_rejects_garbage(void **state)
{
	static const struct {
		const char *doc, *needle;
	} bad[] = {
		{ "<ListBucketResult/>", "is not <EnumerationResults>" },
		{ "<EnumerationResults><Blobs><Blob><Properties><Content-Length>1</Content-Length>"
		  "</Properties></Blob></Blobs></EnumerationResults>", "without <Name>" },
		{ "<EnumerationResults><Blobs><Blob><Name>a</Name></Blob></Blobs></EnumerationResults>",
		  "without <Content-Length>" },
		{ "<EnumerationResults><Blobs><Blob><Name>a</Name><Properties><Content-Length>x"
		  "</Content-Length></Properties></Blob></Blobs></EnumerationResults>", "not a size" },
		{ "<EnumerationResults><Blobs><Blob><Name>a</Name><Properties><Content-Length>1"
		  "</Content-Length><Last-Modified>2009-09-09T09:20:02Z</Last-Modified></Properties>"
		  "</Blob></Blobs></EnumerationResults>", "RFC 1123" },
		{ "<EnumerationResults><Blobs><Blob><Name Encoded=\"true\">%01</Name></Blob></Blobs>"
		  "</EnumerationResults>", "Encoded" },
		{ "<EnumerationResults><Blobs><BlobPrefix></BlobPrefix></Blobs></EnumerationResults>",
		  "without <Name>" },
		{ "<EnumerationResults><NextMarker>a</NextMarker><NextMarker>b</NextMarker>"
		  "</EnumerationResults>", "appears twice" },
		{ "<EnumerationResults><Blobs><Blob><Name>a</Name><Name>b</Name>", "appears twice" },
		{ "<!DOCTYPE x [<!ENTITY a \"b\">]><EnumerationResults/>", "DTD" },
	};

	(void)state;
	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(bad); i++) {
		struct astro_s3_list l;
		char msg[256] = "";

		assert_int_equal(astro_s3xml_parse_azlist(bad[i].doc, strlen(bad[i].doc), &l, msg,
							  sizeof(msg)), -EBADMSG);
		if (!strstr(msg, bad[i].needle))
			fail_msg("case %zu: message '%s' lacks '%s'", i, msg, bad[i].needle);
	}
}

/* Azure's error codes (same <Error><Code> document) map like S3's. */
static void maps_azure_codes(void **state)
{
	static const struct {
		const char *code;
		long status;
		int err;
	} m[] = {
		{ "AuthenticationFailed", 403, -EACCES },
		{ "AuthorizationFailure", 403, -EACCES },
		{ "AuthorizationPermissionMismatch", 403, -EACCES },
		{ "NoAuthenticationInformation", 401, -EACCES },
		{ "ContainerNotFound", 404, -ENOENT },
		{ "BlobNotFound", 404, -ENOENT },
		{ "ResourceNotFound", 404, -ENOENT },
		{ "ServerBusy", 503, -EAGAIN },
		{ "ConditionNotMet", 412, -ESTALE },
	};
	static const char body[] =
		"\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>BlobNotFound</Code>"
		"<Message>The specified blob does not exist.\nRequestId:1\nTime:2026</Message></Error>";
	struct astro_s3_error e;

	(void)state;
	for (size_t i = 0; i < ASTRO_ARRAY_SIZE(m); i++)
		assert_int_equal(astro_s3xml_errno(m[i].code, m[i].status, NULL), m[i].err);
	assert_int_equal(astro_s3xml_parse_error(body, strlen(body), &e, NULL, 0), 0);
	assert_string_equal(e.code, "BlobNotFound");
	astro_s3xml_error_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_list),
		cmocka_unit_test(parses_list_byte_by_byte),
		cmocka_unit_test(url_encoded_keys_are_decoded),
		cmocka_unit_test(parses_error),
		cmocka_unit_test(rejects_garbage),
		cmocka_unit_test(maps_codes_to_errno),
		cmocka_unit_test(parses_azure_list),
		cmocka_unit_test(azure_last_page),
		cmocka_unit_test(azure_rejects_garbage),
		cmocka_unit_test(maps_azure_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

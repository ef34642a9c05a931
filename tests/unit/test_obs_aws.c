#include "unit.h"
#include <errno.h>
#include "obs_aws.h"

/* A ReceiveMessage reply as sqslite 2.1.1 sent it (captured), which has the
 * shape of the one in the AWS SQS API reference. */
static const char receive_xml[] =
	"<?xml version=\"1.0\"?>\n"
	"<ReceiveMessageResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\">\n"
	"  <ReceiveMessageResult>\n"
	"    <Message>\n"
	"      <Body>{\"id\":\"01M7ZHK1DN308ESXQVWQ5E1RMC\",\"line\":\"park &amp; stay\"}</Body>\n"
	"      <MD5OfBody>d2ce28b9a7fd7e4407e2b0fd499b7fe4</MD5OfBody>\n"
	"      <MessageId>4ebbc332-45ad-48b0-991d-1509b99a03fc</MessageId>\n"
	"      <ReceiptHandle>2499419d-a528-43b0-9daa-e58253329c2b</ReceiptHandle>\n"
	"    </Message>\n"
	"    <Message>\n"
	"      <Body>second</Body>\n"
	"      <ReceiptHandle>other</ReceiptHandle>\n"
	"    </Message>\n"
	"  </ReceiveMessageResult>\n"
	"  <ResponseMetadata><RequestId>00000000</RequestId></ResponseMetadata>\n"
	"</ReceiveMessageResponse>\n";

static void sqs_receive_takes_the_first_message(void **state)
{
	struct astro_obs_sqs_reply r;
	char msg[200];

	(void)state;
	assert_int_equal(astro_obs_sqs_parse(receive_xml, strlen(receive_xml), &r, msg,
					     sizeof(msg)), 0);
	assert_non_null(r.body);
	/* The entity is decoded: the body is the JSON that was sent. */
	assert_string_equal(r.body,
			    "{\"id\":\"01M7ZHK1DN308ESXQVWQ5E1RMC\",\"line\":\"park & stay\"}");
	assert_string_equal(r.receipt, "2499419d-a528-43b0-9daa-e58253329c2b");
	assert_null(r.queue_url);
	assert_null(r.error_code);
	assert_null(r.error_message);
	astro_obs_sqs_reply_free(&r);
}

static void sqs_empty_receive_and_create_queue(void **state)
{
	static const char empty[] =
		"<ReceiveMessageResponse><ReceiveMessageResult/></ReceiveMessageResponse>";
	static const char created[] =
		"<CreateQueueResponse><CreateQueueResult><QueueUrl>"
		"http://localhost:4567/queues/astrofs_site1</QueueUrl>"
		"</CreateQueueResult></CreateQueueResponse>";
	struct astro_obs_sqs_reply r;

	(void)state;
	assert_int_equal(astro_obs_sqs_parse(empty, strlen(empty), &r, NULL, 0), 0);
	assert_null(r.body);
	assert_null(r.receipt);
	astro_obs_sqs_reply_free(&r);
	assert_int_equal(astro_obs_sqs_parse(created, strlen(created), &r, NULL, 0), 0);
	assert_string_equal(r.queue_url, "http://localhost:4567/queues/astrofs_site1");
	astro_obs_sqs_reply_free(&r);
}

static void sqs_error_response(void **state)
{
	static const char err[] =
		"<ErrorResponse><Error><Type>Sender</Type>"
		"<Code>AWS.SimpleQueueService.NonExistentQueue</Code>"
		"<Message>The specified queue does not exist.</Message></Error>"
		"<RequestId>x</RequestId></ErrorResponse>";
	struct astro_obs_sqs_reply r;

	(void)state;
	assert_int_equal(astro_obs_sqs_parse(err, strlen(err), &r, NULL, 0), 0);
	assert_string_equal(r.error_code, "AWS.SimpleQueueService.NonExistentQueue");
	assert_string_equal(r.error_message, "The specified queue does not exist.");
	assert_null(r.body);
	astro_obs_sqs_reply_free(&r);
}

static void sqs_garbage_is_refused_with_a_line(void **state)
{
	static const char *const bad[] = {
		"<ReceiveMessageResponse><Body>x</ReceiveMessageResponse>",
		"not xml at all",
		"",
		"<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>",
		"<a>\n<b>\n</a>",
	};
	struct astro_obs_sqs_reply r;
	char msg[200];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg[0] = '\0';
		assert_int_equal(astro_obs_sqs_parse(bad[i], strlen(bad[i]), &r, msg,
						     sizeof(msg)), -EBADMSG);
		assert_non_null(strstr(msg, "line "));
		assert_null(r.body);
	}
	assert_non_null(strstr(msg, "line 3"));
}

static void form_body_encodes_names_and_values(void **state)
{
	/* Expected text worked out by hand from RFC 3986 (unreserved kept,
	 * everything else %XX upper case, space as %20 not '+'). */
	const struct astro_sigv4_param p[] = {
		{ "Action", "SendMessage" },
		{ "QueueUrl", "http://localhost:4567/queues/a_b" },
		{ "MessageBody", "{\"line\":\"goto ra=5.5 dec=-5.4\"}" },
		{ "Empty", NULL },
	};
	char *f;

	(void)state;
	f = astro_obs_aws_form(p, 4);
	assert_non_null(f);
	assert_string_equal(f,
			    "Action=SendMessage"
			    "&QueueUrl=http%3A%2F%2Flocalhost%3A4567%2Fqueues%2Fa_b"
			    "&MessageBody=%7B%22line%22%3A%22goto%20ra%3D5.5%20dec%3D-5.4%22%7D"
			    "&Empty=");
	free(f);
	f = astro_obs_aws_form(p, 0);
	assert_string_equal(f, "");
	free(f);
}

static void dynamodb_errors_map_to_errno(void **state)
{
	static const char cond[] =
		"{\"__type\":\"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException\","
		"\"message\":\"The conditional request failed\"}";
	static const char nf[] =
		"{\"__type\":\"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException\"}";
	static const char thr[] =
		"{\"__type\":\"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException\"}";
	static const char val[] =
		"{\"__type\":\"com.amazon.coral.validate#ValidationException\",\"message\":\"x\"}";
	char name[80];

	(void)state;
	assert_int_equal(astro_obs_ddb_errno(400, cond, strlen(cond), name, sizeof(name)),
			 -ESTALE);
	assert_string_equal(name, "ConditionalCheckFailedException");
	assert_int_equal(astro_obs_ddb_errno(400, nf, strlen(nf), NULL, 0), -ENOENT);
	assert_int_equal(astro_obs_ddb_errno(400, thr, strlen(thr), NULL, 0), -EAGAIN);
	assert_int_equal(astro_obs_ddb_errno(400, val, strlen(val), name, sizeof(name)), -EIO);
	assert_string_equal(name, "ValidationException");
	assert_int_equal(astro_obs_ddb_errno(503, "<html>", 6, name, sizeof(name)), -EAGAIN);
	assert_string_equal(name, "");
	assert_int_equal(astro_obs_ddb_errno(400, NULL, 0, NULL, 0), -EIO);
}

static void image_seq_from_the_simulator_name(void **state)
{
	(void)state;
	assert_int_equal(astro_obs_aws_image_seq("1555964000_site1_testimage_5s_no12.jpg"), 12);
	assert_int_equal(astro_obs_aws_image_seq("1_site_no3_testimage_1s_no7.jpg"), 7);
	assert_int_equal(astro_obs_aws_image_seq("plain.jpg"), 0);
	assert_int_equal(astro_obs_aws_image_seq("x_no.jpg"), 0);
	assert_int_equal(astro_obs_aws_image_seq("x_no12"), 0);
	assert_int_equal(astro_obs_aws_image_seq("x_no99999999999999999999999.jpg"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sqs_receive_takes_the_first_message),
		cmocka_unit_test(sqs_empty_receive_and_create_queue),
		cmocka_unit_test(sqs_error_response),
		cmocka_unit_test(sqs_garbage_is_refused_with_a_line),
		cmocka_unit_test(form_body_encodes_names_and_values),
		cmocka_unit_test(dynamodb_errors_map_to_errno),
		cmocka_unit_test(image_seq_from_the_simulator_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

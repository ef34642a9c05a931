#include "unit.h"
#include <errno.h>
#include <sys/wait.h>
#include "services/aws.h"
#include "services/http.h"
#include "obs/obs_aws.h"
#include "obs_aws_fake.h"

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
	assert_int_equal(astro_obs_aws_sqs_parse(receive_xml, strlen(receive_xml), &r, msg,
					     sizeof(msg)), 0);
	assert_non_null(r.body);
	/* The entity is decoded: the body is the JSON that was sent. */
	assert_string_equal(r.body,
			    "{\"id\":\"01M7ZHK1DN308ESXQVWQ5E1RMC\",\"line\":\"park & stay\"}");
	assert_string_equal(r.receipt, "2499419d-a528-43b0-9daa-e58253329c2b");
	assert_null(r.queue_url);
	assert_null(r.error_code);
	assert_null(r.error_message);
	astro_obs_aws_sqs_reply_free(&r);
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
	assert_int_equal(astro_obs_aws_sqs_parse(empty, strlen(empty), &r, NULL, 0), 0);
	assert_null(r.body);
	assert_null(r.receipt);
	astro_obs_aws_sqs_reply_free(&r);
	assert_int_equal(astro_obs_aws_sqs_parse(created, strlen(created), &r, NULL, 0), 0);
	assert_string_equal(r.queue_url, "http://localhost:4567/queues/astrofs_site1");
	astro_obs_aws_sqs_reply_free(&r);
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
	assert_int_equal(astro_obs_aws_sqs_parse(err, strlen(err), &r, NULL, 0), 0);
	assert_string_equal(r.error_code, "AWS.SimpleQueueService.NonExistentQueue");
	assert_string_equal(r.error_message, "The specified queue does not exist.");
	assert_null(r.body);
	astro_obs_aws_sqs_reply_free(&r);
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
		assert_int_equal(astro_obs_aws_sqs_parse(bad[i], strlen(bad[i]), &r, msg,
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
	assert_int_equal(astro_aws_error(400, cond, strlen(cond), name, sizeof(name), NULL, 0, NULL),
			 -ESTALE);
	assert_string_equal(name, "ConditionalCheckFailedException");
	assert_int_equal(astro_aws_error(400, nf, strlen(nf), NULL, 0, NULL, 0, NULL), -ENOENT);
	assert_int_equal(astro_aws_error(400, thr, strlen(thr), NULL, 0, NULL, 0, NULL), -EAGAIN);
	assert_int_equal(astro_aws_error(400, val, strlen(val), name, sizeof(name), NULL, 0, NULL), -EIO);
	assert_string_equal(name, "ValidationException");
	assert_int_equal(astro_aws_error(503, "<html>", 6, name, sizeof(name), NULL, 0, NULL), -EAGAIN);
	assert_string_equal(name, "");
	assert_int_equal(astro_aws_error(400, NULL, 0, NULL, 0, NULL, 0, NULL), -EIO);
}

/* The pythonbits wire format both ways, and what the old client sends. */
static void pythonbits_messages(void **state)
{
	struct astro_obs_cmd c;
	char err[200], line[200];
	json_t *m;
	char *txt;

	(void)state;
	assert_int_equal(astro_obs_cmd_parse("goto ra=5.5 dec=-5.4", 20, &c, err, sizeof(err)), 1);
	m = astro_obs_aws_pythonbits_message(&c, "01HZX0000000000000000000AB", 900);
	assert_string_equal(json_string_value(json_object_get(m, "device")), "mount_1");
	assert_string_equal(json_string_value(json_object_get(m, "command")), "goto");
	assert_true(json_real_value(json_object_get(m, "ra")) == 5.5);
	assert_int_equal(json_integer_value(json_object_get(m, "expires_at")) -
			 json_integer_value(json_object_get(m, "timestamp")), 900);
	txt = json_dumps(m, JSON_COMPACT);
	assert_int_equal(astro_obs_aws_pythonbits_line(txt, line, sizeof(line), err, sizeof(err)), 0);
	assert_string_equal(line, "goto ra=5.5 dec=-5.4");
	free(txt);
	json_decref(m);
	assert_int_equal(astro_obs_cmd_parse("stop", 4, &c, err, sizeof(err)), 1);
	m = astro_obs_aws_pythonbits_message(&c, "01HZX0000000000000000000AB", 900);
	assert_string_equal(json_string_value(json_object_get(m, "command")), "allstop");
	json_decref(m);
	/* The old client: strings for numbers, no id. */
	assert_int_equal(astro_obs_aws_pythonbits_line(
				 "{\"device\":\"camera_1\",\"command\":\"expose\",\"duration\":\"5\","
				 "\"timestamp\":1555964000}", line, sizeof(line), err, sizeof(err)), 0);
	assert_string_equal(line, "expose 5");
	assert_int_equal(astro_obs_aws_pythonbits_line(
				 "{\"command\":\"goto\",\"ra\":\"5.5\",\"dec\":\"-5.4\"}", line,
				 sizeof(line), err, sizeof(err)), 0);
	assert_string_equal(line, "goto ra=5.5 dec=-5.4");
	assert_int_equal(astro_obs_aws_pythonbits_line("{\"command\":\"goto\",\"ra\":\"x\"}",
						       line, sizeof(line), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'ra' is missing or not a number"));
	assert_int_equal(astro_obs_aws_pythonbits_line("{\"command\":\"dance\"}", line,
						       sizeof(line), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown command 'dance'"));
	assert_int_equal(astro_obs_aws_pythonbits_line("[1]", line, sizeof(line), err, sizeof(err)),
			 -EINVAL);
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

#define AK "AKIDOBSUNITTEST"
#define SK "obs-unit-secret/key+1"

static int count_image(void *arg, const struct astro_obs_image *img)
{
	struct astro_obs_image *last = arg;

	*last = *img;
	return 0;
}

static int count_job(void *arg, const char *id, enum astro_obs_state st)
{
	(void)id;
	(void)st;
	(*(int *)arg)++;
	return 0;
}

/* A fake on 127.0.0.1 and the aws store against it (o's endpoints are set
 * here); test credentials from the environment. */
static struct astro_obs_store *open_fake(struct astro_obs_aws_opts o, struct fake **f)
{
	static char url[64];
	struct astro_obs_store *s = NULL;
	char err[300];

	*f = fake_start(url, sizeof(url));
	assert_non_null(*f);
	setenv("AWS_ACCESS_KEY_ID", AK, 1);
	setenv("AWS_SECRET_ACCESS_KEY", SK, 1);
	unsetenv("AWS_SESSION_TOKEN");
	assert_int_equal(astro_http_global_init(), 0);
	o.sqs_endpoint = o.dynamodb_endpoint = o.s3_endpoint = url;
	o.timeout_ms = 5000;
	if (astro_obs_aws_open(&o, &s, err, sizeof(err)) < 0)
		fail_msg("open: %s", err);
	return s;
}

/* Run the oracle on the recorded requests: 0 ok, 77 no botocore, else bad. */
static int run_oracle(json_t *requests)
{
	char path[] = "/tmp/astro-obs-aws-XXXXXX", script[512], cmd[1200], line[4096];
	json_t *doc = json_pack("{s:s,s:s,s:s,s:O}", "access_key", AK, "secret_key", SK,
				"region", "eu-west-1", "requests", requests);
	const char *here = __FILE__, *slash = strrchr(here, '/');
	int fd = mkstemp(path), st;
	FILE *p;

	assert_true(fd >= 0 && doc);
	assert_int_equal(json_dumpfd(doc, fd, 0), 0);
	close(fd);
	json_decref(doc);
	snprintf(script, sizeof(script), "%.*s/../oracles/aws_oracle.py",
		 slash ? (int)(slash - here) : 1, slash ? here : ".");
	if (access(script, R_OK) != 0) {
		fprintf(stderr, "# %s not found (run from the checkout)\n", script);
		unlink(path);
		return 77;
	}
	/* Debian's python3 first: python3-botocore is installed for it. */
	snprintf(cmd, sizeof(cmd), "{ if [ -x /usr/bin/python3 ]; then /usr/bin/python3 '%s' '%s'; "
		 "else python3 '%s' '%s'; fi; } 2>&1", script, path, script, path);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		fprintf(stderr, "# oracle: %s", line);
	st = pclose(p);
	unlink(path);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * Drive every backend call against the fake, then let botocore judge each
 * request sent: the signature (recomputed independently) and the
 * parameters (against the DynamoDB and SQS service models).
 */
static void requests_match_botocore(void **state)
{
	struct astro_obs_store *s = NULL;
	struct astro_obs_job job;
	struct astro_obs_image img;
	struct fake *f;
	char *reply = NULL, *json = NULL;
	uint64_t seq = 0;
	int n = 0, rc;

	(void)state;
	s = open_fake((struct astro_obs_aws_opts){ .region = "eu-west-1", .prefix = "unit",
						    .table = "obs_unit", .bucket = "obsunit" },
		      &f);
	assert_int_equal(astro_obs_store_submit(s, "site1", "unpark\nexpose 2 \n", 17, &reply), 2);
	assert_non_null(strstr(reply, " expose\n"));
	free(reply);
	/* The fake returns what was sent: the first job comes back RECEIVED. */
	assert_int_equal(astro_obs_store_receive(s, "site1", false, &job), 0);
	assert_string_equal(job.line, "unpark");
	assert_int_equal(astro_obs_store_update(s, "site1", job.id, ASTRO_OBS_STARTED, NULL, 1.5,
						NULL), 0);
	assert_int_equal(astro_obs_store_update(s, "site1", job.id, ASTRO_OBS_COMPLETE, "done",
						-1, NULL), 0);
	/* A terminal job stays terminal; the map refuses before any write. */
	assert_int_equal(astro_obs_store_update(s, "site1", job.id, ASTRO_OBS_STARTED, NULL, -1,
						NULL), -EINVAL);
	assert_int_equal(astro_obs_store_job_json(s, "site1", job.id, &json), 0);
	assert_non_null(strstr(json, "\"state\": \"COMPLETE\""));
	free(json);
	assert_int_equal(astro_obs_store_jobs(s, "site1", count_job, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(astro_obs_store_status_put(s, "site1", "{\"site\":\"site1\"}"), 0);
	assert_int_equal(astro_obs_store_status_get(s, "site1", &json), 0);
	assert_string_equal(json, "{\"site\":\"site1\"}");
	free(json);
	assert_int_equal(astro_obs_store_counter_next(s, "site1", "cam1", &seq), 0);
	assert_int_equal(seq, 1);
	assert_int_equal(astro_obs_store_counter_next(s, "site1", "cam1", &seq), 0);
	assert_int_equal(seq, 2);
	assert_int_equal(astro_obs_store_image_put(s, "site1", "1_site1_testimage_2s_no2.jpg",
						   "\xff\xd8\xff\xd9", 4, 2), 0);
	assert_int_equal(astro_obs_store_image_put(s, "site1", "1_site1_testimage_2s_no2.jpg",
						   "\xff\xd8\xff\xd9", 4, 2), -EEXIST);
	memset(&img, 0, sizeof(img));
	assert_int_equal(astro_obs_store_images(s, "site1", count_image, &img), 0);
	assert_string_equal(img.name, "1_site1_testimage_2s_no2.jpg");
	assert_int_equal(img.size, 4);
	assert_int_equal(img.seq, 2);
	assert_int_equal(astro_obs_store_expire(s, "site1"), 0);
	astro_obs_store_close(s);
	astro_http_global_cleanup();

	rc = run_oracle(fake_requests(f));
	fake_stop(f);
	if (rc == 77) {
		fprintf(stderr, "# skip: no python3 with botocore (python3-botocore)\n");
		skip();
	}
	assert_int_equal(rc, 0);
}

/* Fails every DynamoDB GetItem while armed: the receiver "dies" after
 * taking a message and before recording it. */
static int fail_getitem(const struct astro_http_req *req, int attempt, void *arg)
{
	size_t i;

	(void)attempt;
	for (i = 0; *(int *)arg && req->headers && req->headers[i]; i++)
		if (strcmp(req->headers[i], "X-Amz-Target: DynamoDB_20120810.GetItem") == 0)
			return -ECONNRESET;
	return 0;
}

static int delete_count(json_t *requests)
{
	size_t i;
	json_t *r;
	int n = 0;

	json_array_foreach(requests, i, r)
		n += strstr(json_string_value(json_object_get(r, "body")),
			    "Action=DeleteMessage") != NULL;
	return n;
}

/* A receiver that fails between ReceiveMessage and recording RECEIVED does
 * not delete the message: after the visibility timeout the command is
 * delivered again, so nothing is lost. */
static void failed_receive_loses_nothing(void **state)
{
	struct astro_obs_store *s = NULL;
	struct astro_obs_job job;
	struct fake *f;
	char *reply = NULL, first[ASTRO_OBS_ID_LEN + 1];
	int armed = 0;

	(void)state;
	s = open_fake((struct astro_obs_aws_opts){ 0 }, &f);
	assert_int_equal(astro_obs_store_submit(s, "site1", "park\n", 5, &reply), 1);
	assert_int_equal(strncmp(reply, "ok ", 3), 0);
	memcpy(first, reply + 3, ASTRO_OBS_ID_LEN);
	first[ASTRO_OBS_ID_LEN] = '\0';
	free(reply);
	astro_http_set_inject(fail_getitem, &armed);
	armed = 1;
	assert_true(astro_obs_store_receive(s, "site1", false, &job) < 0);
	armed = 0;
	assert_int_equal(delete_count(fake_requests(f)), 0);
	/* Invisible until its timeout: nothing to take yet. */
	assert_int_equal(astro_obs_store_receive(s, "site1", false, &job), -EAGAIN);
	assert_int_equal(fake_visibility_expires(f), 1);
	assert_int_equal(astro_obs_store_receive(s, "site1", false, &job), 0);
	assert_string_equal(job.id, first);
	assert_string_equal(job.line, "park");
	assert_int_equal(delete_count(fake_requests(f)), 1);
	/* Recorded and deleted: it does not come back. */
	assert_int_equal(fake_visibility_expires(f), 0);
	assert_int_equal(astro_obs_store_receive(s, "site1", false, &job), -EAGAIN);
	astro_http_set_inject(NULL, NULL);
	astro_obs_store_close(s);
	astro_http_global_cleanup();
	fake_stop(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pythonbits_messages),
		cmocka_unit_test(sqs_receive_takes_the_first_message),
		cmocka_unit_test(sqs_empty_receive_and_create_queue),
		cmocka_unit_test(sqs_error_response),
		cmocka_unit_test(sqs_garbage_is_refused_with_a_line),
		cmocka_unit_test(form_body_encodes_names_and_values),
		cmocka_unit_test(dynamodb_errors_map_to_errno),
		cmocka_unit_test(image_seq_from_the_simulator_name),
		cmocka_unit_test(requests_match_botocore),
		cmocka_unit_test(failed_receive_loses_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Fuzz the SQS reply parser of the aws /obs backend and the DynamoDB error
 * mapping: never crash or leak; a rejection always says why, naming a line;
 * an accepted reply's fields are NUL-terminated strings. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "obs/obs_aws.h"
#include "services/aws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct astro_obs_sqs_reply r;
	char msg[200], name[80];
	int rc;

	msg[0] = '\0';
	rc = astro_obs_aws_sqs_parse((const char *)data, size, &r, msg, sizeof(msg));
	if (rc == -EBADMSG) {
		if (!strstr(msg, "line "))
			abort();
	} else if (rc == 0) {
		/* Touch every field: ASan checks they are whole strings. */
		if ((r.body && strlen(r.body) > size) || (r.receipt && strlen(r.receipt) > size) ||
		    (r.queue_url && strlen(r.queue_url) > size) ||
		    (r.error_message && !r.error_code))
			abort();
		astro_obs_aws_sqs_reply_free(&r);
	} else if (rc != -ENOMEM) {
		abort();
	}
	/* Every errno the AWS and S3 code tables can name (aws.c, s3xml.c). */
	rc = astro_aws_error(400, (const char *)data, size, name, sizeof(name), NULL, 0, NULL);
	if (rc != -ESTALE && rc != -ENOENT && rc != -EEXIST && rc != -EAGAIN && rc != -EIO &&
	    rc != -EACCES && rc != -ERANGE)
		abort();
	return 0;
}

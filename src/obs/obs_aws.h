/*
 * obs_aws.h — the `aws` /obs store backend: SQS, DynamoDB and S3.
 *
 * What it does: implements struct astro_obs_backend (obs_store.h) over the
 * AWS APIs, every request signed and sent through the services' one AWS
 * request path (aws.h; the bucket through the S3 client, s3.h), each
 * service at an overridable endpoint:
 *   SQS       two standard queues per site, "<prefix>_<site>_urgent" (stop,
 *             cancel) and "<prefix>_<site>", created on first use; Query
 *             protocol (form body, XML reply), which real SQS and the
 *             sqslite stand-in both speak.  A message is the job id and
 *             its command line as JSON.
 *   DynamoDB  one table (hash "site" S, range "id" S, created on first use
 *             with on-demand billing): a job is {site, id=<ULID>, state,
 *             job=<record JSON>}; the status is id "status"; counters are
 *             id "counter#<name>" (ADD, atomic).  Every state change is an
 *             UpdateItem conditioned on the state it was read in, so two
 *             writers never both move a job, and the map of
 *             astro_obs_job_state_allowed() is checked before.
 *   S3        images at "<bucket>/<site>/<name>" (path style); a name is
 *             taken only if HEAD says it is free.  The listing is
 *             ListObjectsV2 (bounded as s3.h's pager bounds it: one
 *             minute for all pages, no repeated token, progress on every
 *             page), so it only ever names stored objects; an
 *             image's seq is its name's "_no<n>." part (the simulator's
 *             pattern), else 0.
 *
 * Guarantees: a message is deleted from SQS only after its job is recorded
 * RECEIVED (or found already ended); a receiver that dies before that
 * leaves the message to reappear after the visibility timeout, so a crash
 * loses no command.  Enqueueing n commands is all-or-none as seen by the
 * site: if any step fails, the jobs already written are CANCELED ("not
 * sent: ...") before the call returns the error, and a site skips canceled
 * jobs.  Differences from `local`: a queue is not strictly ordered (SQS
 * standard queues), and cancel resolution is not one transaction.
 *
 * Thread-safety: one store may be used from any number of threads (the
 * queue URL cache is locked; everything else is per call).
 */
#ifndef ASTRO_OBS_AWS_H
#define ASTRO_OBS_AWS_H

#include <stddef.h>
#include "obs_store.h"
#include "services/sigv4.h"

struct astro_obs_aws_opts {
	const char *region;		/* NULL: us-east-1 */
	const char *sqs_endpoint;	/* NULL: https://sqs.<region>.amazonaws.com */
	const char *dynamodb_endpoint;	/* NULL: https://dynamodb.<region>.amazonaws.com */
	const char *s3_endpoint;	/* NULL: https://s3.<region>.amazonaws.com */
	const char *prefix;		/* queue name prefix; NULL: "astrofs" */
	const char *table;		/* NULL: "astrofs_obs" */
	const char *bucket;		/* NULL: "astrofs-obs" */
	const char *credentials;	/* credentials file or NULL (awsprov.h chain) */
	const char *credentials_source;	/* NULL/"auto" or one source (awsprov.h) */
	const char *profile;
	unsigned visibility_s;		/* 0: 60 */
	const char *layout;		/* NULL or "astrofs"; "pythonbits": see below */
	unsigned timeout_ms;		/* per request; 0: 10000 */
};

/*
 * Open the backend: resolves credentials, makes sure the table exists and
 * is ACTIVE (bounded wait).  err gets a one-line reason on failure.
 */
int astro_obs_aws_open(const struct astro_obs_aws_opts *o,
			     struct astro_obs_store **out, char *err, size_t errlen);

/* The fields of an SQS Query-protocol reply this backend reads. */
struct astro_obs_sqs_reply {
	char *queue_url;	/* CreateQueue / GetQueueUrl */
	char *body;		/* ReceiveMessage: the first message */
	char *receipt;
	char *error_code;	/* an <ErrorResponse> */
	char *error_message;
};

#ifdef ASTRO_UNITTEST
/* ---- pure helpers of obs_aws.c, for tests and the fuzz target ---- */

/* application/x-www-form-urlencoded body of params (malloc'd, or NULL). */
char *astro_obs_aws_form(const struct astro_sigv4_param *p, size_t n);

/*
 * Parse an SQS XML reply (any action, or ErrorResponse).  0 or -EBADMSG with
 * err naming the line and what was wrong; fields absent stay NULL.
 */
int astro_obs_aws_sqs_parse(const char *xml, size_t len, struct astro_obs_sqs_reply *out,
			char *err, size_t errlen);
void astro_obs_aws_sqs_reply_free(struct astro_obs_sqs_reply *r);

/*
 * The `pythonbits` layout: the observatory simulator's own resources, so a
 * mount can command a site that runs its obs.py and its client.py can
 * command an astrofs-obssim site.  Per site one FIFO queue
 * "<site>_from_aws_pythonbits.fifo" (ContentBasedDeduplication, retention
 * 180 s; sent with MessageGroupId <site> and MessageDeduplicationId = the
 * job id), whose messages are its JSON ({"device","command","ra","dec",
 * "duration","timestamp"} + our "id", "expires_at"); the status in table
 * "<site>_state_pythonbits" (hash key State = "State", every field a
 * string); images in bucket "pythonbits" (default) at <site>/<name>.  Job
 * records stay in `table`; a message without a known id (the old client's)
 * becomes a new job when received.  stop and cancel share the one queue,
 * so they do not preempt a running command.
 */
struct json_t;
struct json_t *astro_obs_aws_pythonbits_message(const struct astro_obs_cmd *c, const char *id,
						unsigned retention_s);
/* A message's command as a command line (n bytes), or -EINVAL with err
 * saying what was wrong. */
int astro_obs_aws_pythonbits_line(const char *body, char *line, size_t n, char *err,
				  size_t errlen);

/* The seq in an image name "..._no<n>.<ext>", or 0. */
unsigned long long astro_obs_aws_image_seq(const char *name);
#endif

#endif

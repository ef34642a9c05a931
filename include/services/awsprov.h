/*
 * awsprov.h — the AWS credential chain, shared and refreshed.
 *
 * What it does: resolves credentials once per (file, profile, source) for
 * the whole process — the /fits S3 client, the /obs AWS backend and any
 * other S3 client naming the same settings share one provider — in the
 * order of the AWS SDKs (botocore, the Java and Go SDKs):
 *   1. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY
 *      [+ AWS_SESSION_TOKEN];
 *   2. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
 *      [+ AWS_ROLE_SESSION_NAME] → STS AssumeRoleWithWebIdentity (unsigned
 *      POST; endpoint AWS_ENDPOINT_URL_STS, else sts.<AWS_REGION>, else the
 *      global sts.amazonaws.com), as on EKS;
 *   3. profile: the shared credentials file ($AWS_SHARED_CREDENTIALS_FILE
 *      or ~/.aws/credentials) — or the s3_credentials file, which under
 *      `auto` is then the only source, as before;
 *   4. container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on
 *      http://169.254.170.2) or _FULL_URI (https, or http to a loopback or
 *      the ECS/EKS link-local hosts), with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
 *      (re-read at every fetch: EKS Pod Identity rotates it) or
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN, as on ECS/Fargate;
 *   5. imds: the instance metadata service, v2 only (PUT for a session
 *      token, then the role's credentials); AWS_EC2_METADATA_DISABLED=true
 *      skips it, AWS_EC2_METADATA_SERVICE_ENDPOINT moves it from
 *      http://169.254.169.254; every request has a 1 s deadline and one
 *      attempt, so a machine outside AWS waits at most about 1 s.
 * A source that is configured but fails (a token file missing, STS saying
 * no) is an error, never a silent fall-through; a source that is absent
 * (no variables; no metadata service answering) passes to the next.
 *
 * Temporary credentials (2, 4, 5 and a session token from 1 or 3) are
 * refreshed before they expire: min(5 min, half their lifetime) ahead,
 * by one thread while the others keep signing with the still valid old
 * ones; and once more when a server answers ExpiredToken for them.
 *
 * Guarantees: keys, tokens and the bodies that carry them are held only in
 * astro_secure memory (out of core dumps, wiped) and are never logged;
 * astro_awsprov_describe() names the source and masks the key.
 * Thread-safety: all functions may be called from any thread.
 */
#ifndef ASTRO_AWSPROV_H
#define ASTRO_AWSPROV_H

#include <stddef.h>
#include <stdint.h>
#include "services/awscred.h"

struct astro_awsprov;

/* The values of s3_credentials_source, NULL-terminated ("auto" first). */
extern const char *const astro_awsprov_sources[];

/* 1 if `name` is one of astro_awsprov_sources (NULL counts as "auto"). */
int astro_awsprov_source_ok(const char *name);

/*
 * The shared provider for these settings (file: s3_credentials or NULL;
 * profile: NULL = $AWS_PROFILE, else "default"; source: NULL or "auto",
 * else one of the names).  0 with *out (release with astro_awsprov_put);
 * -ENOENT when no source has credentials (the first such answer is logged
 * once: requests go anonymous); other -errno with err when a source is
 * configured but unusable.
 */
int astro_awsprov_get(const char *file, const char *profile, const char *source,
		      struct astro_awsprov **out, char *err, size_t errlen);
void astro_awsprov_put(struct astro_awsprov *p);

/*
 * A copy of the credentials to sign with (free with astro_awscred_free),
 * refreshed first when due.  *gen identifies this set for
 * astro_awsprov_expired().  0 or -ENOMEM.
 */
int astro_awsprov_current(struct astro_awsprov *p, struct astro_awscred *out, unsigned *gen);

/*
 * A server answered ExpiredToken to set `gen`: refresh before the next
 * signature.  Returns 1 when a retry with fresh credentials makes sense
 * (temporary credentials, not refreshed for this reason before), else 0.
 */
int astro_awsprov_expired(struct astro_awsprov *p, unsigned gen);

/*
 * "source, key ********, expires ..." of every live provider, one line each
 * as `aws_credentials = ...` (for /.astrofs/config); malloc'd, "" if none.
 */
char *astro_awsprov_describe(void);

#ifdef ASTRO_UNITTEST
/* Internals the unit suite checks directly. */
int astro_awsprov_json_str(const char *body, size_t len, const char *key, char **out);
int astro_awsprov_xml_str(const char *body, size_t len, const char *tag, char **out);
int64_t astro_awsprov_parse_time(const char *s);
int astro_awsprov_full_uri_ok(const char *uri);
#endif

#endif

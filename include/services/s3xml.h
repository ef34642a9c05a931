/*
 * s3xml.h — S3 response bodies: ListObjectsV2 results and <Error> documents,
 * and Azure Blob Storage's List Blobs results (EnumerationResults).
 *
 * What it does: parses, with expat, the XML documents a read-only object
 * client meets, and maps S3 and Azure error codes (or, for bodiless HEAD
 * replies, the HTTP status) to an errno plus a one-line hint for the log.
 * An Azure listing fills the same struct astro_s3_list: Blob/Name →
 * key, Properties/Content-Length → size, Etag (quoted, as GET sends it),
 * Last-Modified (RFC 1123) → mtime, BlobPrefix/Name → prefixes, a non-empty
 * NextMarker → is_truncated and next_token.
 *
 * Guarantees: streaming-safe (a document may be fed in any number of chunks,
 * down to one byte; the result is the same as one call); bounded memory
 * (element text <= 64 KiB, depth <= 32, <= 100000 entries per listing);
 * DTDs and entity declarations are refused (no entity expansion attacks);
 * garbage is rejected with -EBADMSG and a message naming the line and
 * element or field that was wrong, never a crash.  With
 * <EncodingType>url</EncodingType> the keys and prefixes are URL-decoded.
 *
 * Thread-safety: a parser object belongs to one thread; distinct objects
 * are independent.  astro_s3xml_errno() is pure.
 */
#ifndef ASTRO_S3XML_H
#define ASTRO_S3XML_H

#include <stddef.h>
#include <stdint.h>

struct astro_s3_object {
	char *key;
	int64_t size;
	char *etag;		/* as sent, quotes included: "\"9b2c...\"" */
	int64_t mtime;		/* LastModified, Unix seconds; -1 if absent */
};

struct astro_s3_list {
	struct astro_s3_object *objects;
	size_t nobjects;
	char **prefixes;	/* CommonPrefixes/Prefix, e.g. "dir/sub/" */
	size_t nprefixes;
	int is_truncated;
	char *next_token;	/* NextContinuationToken or NULL */
	long key_count;		/* KeyCount or -1 if absent */
	char *prefix;		/* the request's Prefix echoed, or NULL */
};

struct astro_s3_error {
	char *code;		/* "NoSuchKey", ...; never NULL after success */
	char *message;
	char *request_id;
	char *bucket;		/* BucketName */
	char *key;
	char *region;		/* Region (AuthorizationHeaderMalformed, redirects) */
};

enum astro_s3xml_kind { ASTRO_S3XML_LIST = 1, ASTRO_S3XML_ERROR = 2, ASTRO_S3XML_AZLIST = 3 };

struct astro_s3xml;	/* opaque streaming parser */

/* A parser for one document of `kind`; NULL on ENOMEM. */
struct astro_s3xml *astro_s3xml_new(enum astro_s3xml_kind kind);
/* Feed the next chunk; 0 or -EBADMSG. */
int astro_s3xml_feed(struct astro_s3xml *p, const char *buf, size_t len);
/*
 * End of input: checks the document is complete and well-formed, then moves
 * the result into *list or *err (whichever matches the kind; the other may
 * be NULL).  0, -EBADMSG or -ENOMEM.
 */
int astro_s3xml_finish(struct astro_s3xml *p, struct astro_s3_list *list,
		       struct astro_s3_error *err);
void astro_s3xml_free(struct astro_s3xml *p);

/* One-shot helpers; err (may be NULL) receives the message on failure. */
int astro_s3xml_parse_list(const char *xml, size_t len,
			   struct astro_s3_list *out, char *err, size_t errlen);
int astro_s3xml_parse_azlist(const char *xml, size_t len,
			     struct astro_s3_list *out, char *err, size_t errlen);
int astro_s3xml_parse_error(const char *xml, size_t len,
			    struct astro_s3_error *out, char *err, size_t errlen);

void astro_s3xml_list_free(struct astro_s3_list *l);
void astro_s3xml_error_free(struct astro_s3_error *e);

/*
 * Negative errno for an S3 error code (may be NULL) and HTTP status:
 * AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId,
 * RequestTimeTooSkewed, ExpiredToken, ... -> -EACCES; NoSuchBucket,
 * NoSuchKey -> -ENOENT; SlowDown, InternalError, ServiceUnavailable,
 * RequestTimeout -> -EAGAIN (retry); InvalidRange -> -ERANGE;
 * PreconditionFailed -> -ESTALE (object replaced).  Azure: AuthenticationFailed,
 * AuthorizationFailure, ... -> -EACCES; ContainerNotFound, BlobNotFound,
 * ResourceNotFound -> -ENOENT; ServerBusy -> -EAGAIN; ConditionNotMet -> -ESTALE.  An unknown or absent
 * code: the status decides (403 -> -EACCES, 404 -> -ENOENT, 412, 416,
 * 429/5xx -> -EAGAIN, else -EIO).
 * *hint
 * (if hint is non-NULL) gets a static sentence naming the likely cause.
 */
int astro_s3xml_errno(const char *code, long status, const char **hint);

#endif

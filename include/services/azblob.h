/*
 * azblob.h — Azure Blob Storage as an object client (struct astro_s3_ops).
 *
 * What it does: reads blobs of one storage account through the same
 * interface as S3 (s3.h), so the /fits tree lists and reads an Azure
 * container as it does a bucket: the bucket argument of every operation
 * is the container, the key the blob name.  Get Blob (ranged, If-Match),
 * Get Blob Properties and List Blobs (prefix, delimiter, marker paging,
 * parsed by s3xml.h) are served; writes are -EROFS.
 *
 * Addressing: https://ACCOUNT.blob.core.windows.net/CONTAINER (any host:
 * the account is its first label), or an emulator's path-style
 * http://HOST:PORT/ACCOUNT/CONTAINER when HOST is an IP address or
 * localhost (Azurite; the Azure SDKs use the same rule).
 *
 * Authorisation, one per source:
 *  - Shared Key: the account key (base64) signs every request, HMAC-SHA256
 *    of the canonicalised request (OpenSSL), x-ms-version 2021-08-06;
 *  - SAS: the token is appended to every URL;
 *  - anonymous (public containers): neither.
 * The key and the token come from the fits_azure_credentials file (mode
 * 0600: `NAME.key = BASE64` or `NAME.sas = TOKEN`), or a SAS from the
 * URL's query string; they are kept in secure memory (core/astro.h) and
 * never logged: log lines name the URL without its query.
 *
 * Errors: the <Error><Code> document (or, for HEAD, x-ms-error-code) maps
 * like S3's (s3xml.h): AuthenticationFailed → -EACCES, ContainerNotFound
 * and BlobNotFound → -ENOENT, with one log line naming the likely cause.
 * Ranged reads have exactly the S3 client's checks (astro_s3_range_result).
 *
 * Thread-safety: read-only after astro_azblob_new(); calls may run
 * concurrently.
 */
#ifndef ASTRO_AZBLOB_H
#define ASTRO_AZBLOB_H

#include <stddef.h>
#include "services/s3.h"
#include "services/sigv4.h"

struct astro_azblob_cfg {
	const char *name;		/* source name: the credentials file's NAME.* */
	const char *url;		/* container URL, optionally ?SAS */
	const char *credentials;	/* fits_azure_credentials file or NULL */
	unsigned timeout_ms;		/* per operation; 0 = 30 s */
};

/*
 * A client for the account of cfg->url; *container (malloc'd) is the
 * container the URL names, the bucket to pass to every operation.  A bad
 * URL, an unreadable or contradictory credentials entry, or a key that is
 * not base64: -errno with the reason in err.
 */
int astro_azblob_new(const struct astro_azblob_cfg *cfg, struct astro_s3 **out,
		     char **container, char *err, size_t errlen);

/*
 * Shared Key pieces, for tests and the oracle comparison:
 * the string to sign of a request without a body (headers "Name: value",
 * NULL-terminated: the standard ones by name, x-ms-* canonicalised;
 * resource "/ACCOUNT<path as sent>"; query decoded, any order), malloc'd
 * or NULL; and its signature, base64 of HMAC-SHA256 under the decoded
 * key, into out (at least 45 bytes).  0 or -EINVAL / -ENOMEM.
 */
char *astro_azblob_string_to_sign(const char *method, const char *const *headers,
				  const char *resource, const struct astro_sigv4_param *q,
				  size_t nq);
int astro_azblob_sign(const char *key_b64, const char *sts, char *out, size_t outlen);

#endif

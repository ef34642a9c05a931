/*
 * spacetrack.h — the one space-track.org client of a mount.
 *
 * It logs in lazily (first query), keeps the session cookies, logs in again
 * once and retries once when the session has expired (401, or 500 with an
 * HTML page), and logs out at close.  Every request, login and logout
 * included, first takes a slot from the shared limiter.  Answers that are
 * not data — a rate-limit notice (500 text or 200 JSON error), a failed login
 * (200 {"Login":"Failed"}), a truncated or invalid body — are errors, never
 * results.  The password is only ever sent in the login form; it is never
 * logged.
 *
 * Errors: -EACCES no or wrong credentials (or account locked); -EIO upstream
 * error, rate-limited, bad body; -ETIMEDOUT deadline passed (also waiting
 * for the limiter); -EINTR interrupted; -ENETDOWN offline mode.
 */
#ifndef ASTRO_SPACETRACK_H
#define ASTRO_SPACETRACK_H

#include <stddef.h>
#include <stdint.h>
#include "services/cache.h"
#include "core/config.h"
#include "services/limiter.h"
#include "services/tle.h"

struct astro_spacetrack;

int astro_spacetrack_open(struct astro_spacetrack **out, const struct astro_config *cfg,
		  struct astro_limiter *lim);
/* Logs out if a session is open. */
void astro_spacetrack_close(struct astro_spacetrack *st);

/*
 * GET `path` (below the base URL, already percent-encoded once) with the
 * session, handling login and one re-login.  Returns the raw 200 body
 * (malloc'd, NUL-terminated) after checking it is not an error notice.
 * deadline_ms is on the astro_mono_ms() clock.
 */
int astro_spacetrack_get(struct astro_spacetrack *st, const char *path,
		 int64_t deadline_ms, char **body, size_t *len);

/*
 * The same for a body that is a secret (the GP catalogue the satellite
 * filter keeps in memory only): it is received into memory excluded from
 * core dumps and wiped as it grows; release it with
 * astro_secure_free(*body, *cap).
 */
int astro_spacetrack_get_secret(struct astro_spacetrack *st, const char *path,
			int64_t deadline_ms, char **body, size_t *len, size_t *cap);

/*
 * Every element set with epoch in [day 00:00, next day 00:00) UTC, as a
 * validated 3le body with LF endings ordered by catalogue number then
 * epoch.  `day_unix` is the day's 00:00 UTC in Unix seconds.  *nsets gets
 * the number of sets.
 */
int astro_spacetrack_fetch_day(struct astro_spacetrack *st, int64_t day_unix,
		       int64_t deadline_ms, char **body, size_t *len,
		       size_t *nsets);

/*
 * A file of a fileshare folder (folder 59 holds the controlled, CUI,
 * element sets), received as a secret (astro_spacetrack_get_secret): the newest
 * upload when near_unix is 0, else the one uploaded nearest near_unix
 * (Unix seconds).  Two requests: the folder listing, then the download.
 * -ENOENT: the folder lists no file, as it does for an account without
 * access to it; -EACCES: space-track refused the folder (401/403); an
 * empty file is -EIO.  *uploaded_unix (may be NULL) gets its upload time.
 * Release the body with astro_secure_free(*body, *cap).
 */
int astro_spacetrack_fetch_folder_file(struct astro_spacetrack *st, int folder, int64_t near_unix,
			       int64_t deadline_ms, char **body, size_t *len, size_t *cap,
			       int64_t *uploaded_unix);

/* The same in its parts: the listing (one request; *files malloc'd, in
 * the listing's order, newest first; -ENOENT when it names no file), the
 * pick (near_unix 0: the newest; NULL for none), the download (one
 * request, as a secret; -EIO for an empty file). */
struct astro_spacetrack_file {
	int64_t id, uploaded_unix;
};
int astro_spacetrack_list_folder(struct astro_spacetrack *st, int folder, int64_t deadline_ms,
				 struct astro_spacetrack_file **files, size_t *n);
const struct astro_spacetrack_file *astro_spacetrack_nearest_file(const struct astro_spacetrack_file *files,
								  size_t n, int64_t near_unix);
int astro_spacetrack_download_file(struct astro_spacetrack *st, int64_t id, int64_t deadline_ms,
				   char **body, size_t *len, size_t *cap);

/* Re-format a parsed body: 3le (with names) or tle (without). */
int astro_spacetrack_render(const char *body, const struct astro_tle_set *sets,
		    size_t n, int with_names, char **out, size_t *outlen);

#endif

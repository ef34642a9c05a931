/* spacetrack.c — see spacetrack.h. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <jansson.h>
#include "core/astro.h"
#include "services/http.h"
#include "core/log.h"
#include "services/spacetrack.h"
#include "core/stats.h"
#include "services/tle.h"
#include "core/op.h"

struct astro_spacetrack {
	const struct astro_config *cfg;
	struct astro_limiter *lim;
	pthread_mutex_t lock;	/* guards cookie and login */
	char *cookie;		/* "a=b; c=d" or NULL when logged out */
	unsigned generation;	/* bumped at each login */
};

int astro_spacetrack_open(struct astro_spacetrack **out, const struct astro_config *cfg,
		  struct astro_limiter *lim)
{
	struct astro_spacetrack *st = calloc(1, sizeof(*st));

	if (!st)
		return -ENOMEM;
	st->cfg = cfg;
	st->lim = lim;
	pthread_mutex_init(&st->lock, NULL);
	*out = st;
	return 0;
}

/* A request that counts against the limiter. */
static int st_request(struct astro_spacetrack *st, const char *method,
		      const char *path, const char *cookie, const char *form,
		      int secret, int64_t deadline, struct astro_http_resp *resp)
{
	char url[1024], ch[2048];
	const char *hdrs[3] = { NULL, NULL, NULL };
	int n = 0, rc;
	int64_t left, slot;

	memset(resp, 0, sizeof(*resp));
	rc = astro_limiter_begin(st->lim, deadline, &slot);
	if (rc) {
		if (rc == -ETIMEDOUT)
			astro_warn("spacetrack: request ceiling reached; %s not sent before the deadline", path);
		return rc;
	}
	left = deadline - astro_mono_ms();
	if (left <= 0) {
		astro_limiter_end(st->lim, slot);
		return -ETIMEDOUT;
	}
	snprintf(url, sizeof(url), "%s%s", st->cfg->spacetrack_url, path);
	if (cookie) {
		snprintf(ch, sizeof(ch), "Cookie: %s", cookie);
		hdrs[n++] = ch;
	}
	if (form)
		hdrs[n++] = "Content-Type: application/x-www-form-urlencoded";
	struct astro_http_req req = {
		.method = method, .url = url, .headers = hdrs,
		.body = form, .body_len = form ? strlen(form) : 0,
		.timeout_ms = left, .idempotent = 0, .max_attempts = 1,
		.max_body = 512u << 20, .service = "spacetrack", .secret_body = secret,
		.secret_request = form != NULL,	/* only the login sends a form */
	};
	rc = astro_http_request(&req, resp);
	/* Upstream got the request (if ever) before its answer came back. */
	astro_limiter_end(st->lim, slot);
	if (rc)
		astro_warn("spacetrack: %s %s failed: %s", method, path, strerror(-rc));
	return rc;
}

/* Collect every Set-Cookie name=value into one Cookie header value. */
static char *cookies_of(const struct astro_http_resp *r)
{
	char v[1024], *out = NULL;
	size_t len = 0;

	for (int i = 0; astro_http_header(r, "Set-Cookie", i, v, sizeof(v)) >= 0; i++) {
		size_t n = strcspn(v, ";");
		char *p = realloc(out, len + n + 3);

		if (!p) {
			free(out);
			return NULL;
		}
		out = p;
		if (len) {
			memcpy(out + len, "; ", 2);
			len += 2;
		}
		memcpy(out + len, v, n);
		len += n;
		out[len] = '\0';
	}
	return out;
}

static int login_locked(struct astro_spacetrack *st, int64_t deadline)
{
	const struct astro_config *cfg = st->cfg;
	struct astro_http_resp r;
	static const char k1[] = "identity=", k2[] = "&password=";
	size_t ul, pl, cap;
	char *form, *o;
	int rc;

	if (!cfg->spacetrack_user || !cfg->spacetrack_password) {
		astro_err("spacetrack: no credentials configured (spacetrack_credentials or SPACETRACK_USER/SPACETRACK_PASSWORD)");
		return -EACCES;
	}
	/* The escaped password is as secret as the password: the form is
	 * built in secure memory, never in the heap. */
	ul = strlen(cfg->spacetrack_user);
	pl = strlen(cfg->spacetrack_password);
	cap = sizeof(k1) + sizeof(k2) + 3 * (ul + pl);
	form = astro_secure_alloc(cap);
	if (!form)
		return -ENOMEM;
	memcpy(form, k1, sizeof(k1) - 1);
	o = form + sizeof(k1) - 1;
	o += astro_http_escape_to(o, cfg->spacetrack_user, ul);
	memcpy(o, k2, sizeof(k2) - 1);
	o += sizeof(k2) - 1;
	astro_http_escape_to(o, cfg->spacetrack_password, pl);
	astro_stats_inc("spacetrack.logins");
	rc = st_request(st, "POST", "/ajaxauth/login", NULL, form, 0, deadline, &r);
	if (rc)
		goto out_resp;
	/* A failed login is a 200 with a JSON body, so the body decides. */
	if (r.status == 200 && r.body && strstr(r.body, "\"Login\"") && strstr(r.body, "Failed")) {
		astro_err("spacetrack: login refused for %s: wrong identity or password", cfg->spacetrack_user);
		rc = -EACCES;
	} else if (r.status != 200) {
		astro_err("spacetrack: login answered HTTP %ld", r.status);
		rc = r.status == 401 || r.status == 403 ? -EACCES : -EIO;
	} else {
		free(st->cookie);
		st->cookie = cookies_of(&r);
		if (!st->cookie || !*st->cookie) {
			astro_err("spacetrack: login answered 200 without a session cookie");
			rc = -EIO;
		} else {
			st->generation++;
			astro_info("spacetrack: logged in as %s", cfg->spacetrack_user);
		}
	}
out_resp:
	astro_http_resp_free(&r);
	astro_secure_free(form, cap);
	return rc;
}

static int is_html(const char *b)
{
	while (b && (*b == ' ' || *b == '\n' || *b == '\r' || *b == '\t'))
		b++;
	return b && (strncasecmp(b, "<!doctype", 9) == 0 || strncasecmp(b, "<html", 5) == 0);
}

/* A JSON error object or array in place of data. */
static int is_json_error(const char *b, size_t len)
{
	size_t i = 0;

	while (i < len && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '['))
		i++;
	return i < len && b[i] == '{' && memmem(b, len, "\"error\"", 7) != NULL;
}

static int st_get(struct astro_spacetrack *st, const char *path, int64_t deadline,
		  int secret, char **body, size_t *len, size_t *cap)
{
	struct astro_http_resp r = { 0 };
	char *cookie = NULL;
	int rc, relogged = 0;
	unsigned gen;

	*body = NULL;
	*len = 0;
	if (st->cfg->offline)
		return -ENETDOWN;
again:
	/* Another thread may be logging in upstream: wait as long as this
	 * operation may (op.h). */
	if ((rc = astro_op_lock(&st->lock)))
		return rc;
	if (!st->cookie) {
		rc = login_locked(st, deadline);
		if (rc) {
			pthread_mutex_unlock(&st->lock);
			return rc;
		}
	}
	cookie = strdup(st->cookie);
	gen = st->generation;
	pthread_mutex_unlock(&st->lock);
	if (!cookie)
		return -ENOMEM;

	astro_stats_inc("spacetrack.queries");
	rc = st_request(st, "GET", path, cookie, NULL, secret, deadline, &r);
	free(cookie);
	if (rc)
		goto out;
	if (r.status == 401 || (r.status == 500 && is_html(r.body))) {
		/* Session expired: one fresh login, one retry. */
		astro_stats_inc("spacetrack.session_expired");
		pthread_mutex_lock(&st->lock);
		if (st->generation == gen) {
			free(st->cookie);
			st->cookie = NULL;
		}
		pthread_mutex_unlock(&st->lock);
		astro_http_resp_free(&r);
		if (relogged) {
			astro_err("spacetrack: session refused again right after login");
			return -EIO;
		}
		relogged = 1;
		astro_notice("spacetrack: session expired; logging in again");
		goto again;
	}
	if (r.status == 500 && r.body && strstr(r.body, "violated your query rate limit")) {
		astro_err("spacetrack: rate limit notice (HTTP 500) for %s; nothing cached", path);
		astro_stats_inc("spacetrack.rate_limited");
		rc = -EIO;
		goto out;
	}
	if (r.status != 200) {
		astro_err("spacetrack: %s answered HTTP %ld", path, r.status);
		rc = r.status == 403 ? -EACCES : -EIO;
		goto out;
	}
	if (is_json_error(r.body, r.body_len)) {
		int rl = memmem(r.body, r.body_len, "rate limit", 10) != NULL;

		astro_err("spacetrack: %s answered 200 with an error%s; nothing cached", path,
			  rl ? " (rate limit)" : "");
		if (rl)
			astro_stats_inc("spacetrack.rate_limited");
		rc = -EIO;
		goto out;
	}
	*body = r.body;
	*len = r.body_len;
	if (cap)
		*cap = r.body_cap;
	r.body = NULL;
out:
	astro_http_resp_free(&r);
	return rc;
}

int astro_spacetrack_get(struct astro_spacetrack *st, const char *path,
		 int64_t deadline, char **body, size_t *len)
{
	return st_get(st, path, deadline, 0, body, len, NULL);
}

int astro_spacetrack_get_secret(struct astro_spacetrack *st, const char *path,
			int64_t deadline, char **body, size_t *len, size_t *cap)
{
	*cap = 0;
	return st_get(st, path, deadline, 1, body, len, cap);
}

int astro_spacetrack_render(const char *body, const struct astro_tle_set *sets,
		    size_t n, int with_names, char **out, size_t *outlen)
{
	size_t total = 0, pos = 0;
	char *buf;

	for (size_t i = 0; i < n; i++) {
		total += sets[i].l1_len + sets[i].l2_len + 2;
		if (with_names)
			total += (sets[i].name_off >= 0 ? sets[i].name_len : 2) + 1;
	}
	buf = malloc(total + 1);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (with_names) {
			if (sets[i].name_off >= 0) {
				memcpy(buf + pos, body + sets[i].name_off, sets[i].name_len);
				pos += sets[i].name_len;
			} else {
				/* A set without a name line still gets one, so the
				 * 3le file is always three lines per set. */
				memcpy(buf + pos, "0 ", 2);
				pos += 2;
			}
			buf[pos++] = '\n';
		}
		memcpy(buf + pos, body + sets[i].l1_off, sets[i].l1_len);
		pos += sets[i].l1_len;
		buf[pos++] = '\n';
		memcpy(buf + pos, body + sets[i].l2_off, sets[i].l2_len);
		pos += sets[i].l2_len;
		buf[pos++] = '\n';
	}
	buf[pos] = '\0';
	*out = buf;
	*outlen = pos;
	return 0;
}

int astro_spacetrack_fetch_day(struct astro_spacetrack *st, int64_t day_unix,
		       int64_t deadline, char **out, size_t *outlen, size_t *nsets)
{
	char path[512], d0[16], d1[16], err[200];
	struct tm tm;
	time_t t0 = (time_t)day_unix, t1 = (time_t)(day_unix + 86400);
	struct astro_tle_set *sets = NULL;
	size_t n = 0, len = 0, kept = 0;
	char *body = NULL;
	int64_t lo = day_unix * 1000000, hi = (day_unix + 86400) * 1000000;
	int rc;

	gmtime_r(&t0, &tm);
	strftime(d0, sizeof(d0), "%Y-%m-%d", &tm);
	gmtime_r(&t1, &tm);
	strftime(d1, sizeof(d1), "%Y-%m-%d", &tm);
	/* The range is inclusive, so the next midnight's sets come too and
	 * are dropped below. */
	snprintf(path, sizeof(path),
		 "/basicspacedata/query/class/gp_history/EPOCH/%s--%s"
		 "/orderby/NORAD_CAT_ID%%20asc,EPOCH%%20asc/format/3le", d0, d1);
	rc = astro_spacetrack_get(st, path, deadline, &body, &len);
	if (rc)
		return rc;
	rc = astro_tle_parse_body(body, len, 0, &sets, &n, err, sizeof(err));
	if (rc) {
		astro_err("spacetrack: day %s: invalid body (%zu bytes): %s; nothing cached", d0, len, err);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (sets[i].epoch_us >= lo && sets[i].epoch_us < hi) {
			sets[kept++] = sets[i];
		} else if (sets[i].epoch_us != hi) {
			astro_warn("spacetrack: day %s: dropped set %ld with an epoch outside the day",
				   d0, sets[i].catnum);
		}
	}
	qsort(sets, kept, sizeof(*sets), astro_tle_set_order);
	rc = astro_spacetrack_render(body, sets, kept, 1, out, outlen);
	if (rc == 0)
		*nsets = kept;
	astro_info("spacetrack: day %s: %zu sets (%zu bytes)", d0, kept, len);
out:
	free(sets);
	free(body);
	return rc;
}

/* "YYYY-MM-DD HH:MM:SS" (space-track's date columns, UTC) to Unix seconds. */
static int parse_st_date(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	const char *e = s ? strptime(s, "%Y-%m-%d", &tm) : NULL;

	if (!e)
		return -EINVAL;
	if ((*e == ' ' || *e == 'T') && !(e = strptime(e + 1, "%H:%M:%S", &tm)))
		return -EINVAL;
	*out = (int64_t)timegm(&tm);
	return 0;
}

/* A JSON member that space-track sends as a string (or, loosely, a number). */
static const char *member_str(json_t *o, const char *name, char *buf, size_t n)
{
	json_t *v = json_object_get(o, name);

	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v) && buf) {
		snprintf(buf, n, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	return NULL;
}

int astro_spacetrack_list_folder(struct astro_spacetrack *st, int folder, int64_t deadline,
				 struct astro_spacetrack_file **files, size_t *n)
{
	char path[320], idbuf[32];
	char *list = NULL;
	size_t llen = 0;
	json_t *j = NULL;
	int rc;

	*files = NULL;
	*n = 0;
	snprintf(path, sizeof(path),
		 "/fileshare/query/class/file/predicates/file_id,file_name,file_uploaded"
		 "/folder_id/%d/orderby/file_uploaded%%20desc/format/json", folder);
	rc = astro_spacetrack_get(st, path, deadline, &list, &llen);
	if (rc)
		return rc;
	j = json_loadb(list, llen, 0, NULL);
	if (!json_is_array(j)) {
		astro_err("spacetrack: folder %d: the file list is not a JSON array", folder);
		rc = -EIO;
		goto out;
	}
	*files = calloc(json_array_size(j) + 1, sizeof(**files));
	if (!*files) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < json_array_size(j); i++) {
		json_t *f = json_array_get(j, i);
		const char *fid = member_str(f, "FILE_ID", idbuf, sizeof(idbuf));
		const char *up = member_str(f, "FILE_UPLOADED", NULL, 0);
		int64_t t;

		/* the column names come back as asked (lower case) or upper */
		if (!fid)
			fid = member_str(f, "file_id", idbuf, sizeof(idbuf));
		if (!up)
			up = member_str(f, "file_uploaded", NULL, 0);
		if (!fid || !*fid || strspn(fid, "0123456789") != strlen(fid) || strlen(fid) > 18)
			continue;
		if (parse_st_date(up, &t))
			continue;
		(*files)[*n].id = strtoll(fid, NULL, 10);
		(*files)[(*n)++].uploaded_unix = t;
	}
	rc = *n ? 0 : -ENOENT;
out:
	if (rc) {
		free(*files);
		*files = NULL;
		*n = 0;
	}
	json_decref(j);
	free(list);
	return rc;
}

const struct astro_spacetrack_file *astro_spacetrack_nearest_file(const struct astro_spacetrack_file *files,
								  size_t n, int64_t near_unix)
{
	const struct astro_spacetrack_file *best = NULL;
	int64_t best_d = INT64_MAX;

	for (size_t i = 0; i < n; i++) {
		int64_t t = files[i].uploaded_unix;
		int64_t d = near_unix ? (t > near_unix ? t - near_unix : near_unix - t) : -t;

		if (d < best_d) {
			best_d = d;
			best = &files[i];
		}
	}
	return best;
}

int astro_spacetrack_download_file(struct astro_spacetrack *st, int64_t id, int64_t deadline,
				   char **body, size_t *len, size_t *cap)
{
	char path[96];
	int rc;

	snprintf(path, sizeof(path), "/fileshare/query/class/download/file_id/%lld", (long long)id);
	rc = astro_spacetrack_get_secret(st, path, deadline, body, len, cap);
	if (rc == 0 && *len == 0) {
		astro_err("spacetrack: file %lld is empty", (long long)id);
		astro_secure_free(*body, *cap);
		*body = NULL;
		*cap = 0;
		rc = -EIO;
	}
	return rc;
}

int astro_spacetrack_fetch_folder_file(struct astro_spacetrack *st, int folder, int64_t near_unix,
			       int64_t deadline, char **body, size_t *len, size_t *cap,
			       int64_t *uploaded_unix)
{
	struct astro_spacetrack_file *files = NULL;
	const struct astro_spacetrack_file *f;
	size_t n = 0;
	int rc;

	*body = NULL;
	*len = *cap = 0;
	rc = astro_spacetrack_list_folder(st, folder, deadline, &files, &n);
	if (rc)
		return rc;
	f = astro_spacetrack_nearest_file(files, n, near_unix);
	rc = astro_spacetrack_download_file(st, f->id, deadline, body, len, cap);
	if (rc == 0 && uploaded_unix)
		*uploaded_unix = f->uploaded_unix;
	free(files);
	return rc;
}

void astro_spacetrack_close(struct astro_spacetrack *st)
{
	struct astro_http_resp r;

	if (!st)
		return;
	if (st->cookie && !st->cfg->offline) {
		/* Staff ask clients to log out; give it a short, bounded try. */
		int64_t dl = astro_mono_ms() + (st->cfg->timeout < 10 ? st->cfg->timeout : 10) * 1000;

		if (st_request(st, "GET", "/ajaxauth/logout", st->cookie, NULL, 0, dl, &r) == 0 &&
		    r.status == 200)
			astro_info("spacetrack: logged out");
		astro_stats_inc("spacetrack.logouts");
		astro_http_resp_free(&r);
	}
	free(st->cookie);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

/* tlm_raven.c — see tlm_raven.h. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/astro.h"
#include "tlm_raven.h"
#include "tlm_stats.h"
#include "tlm_time.h"

/* Far enough that no archive reaches it: the open end of a default range. */
#define FAR_FUTURE "2200:001"

struct q {
	struct astro_tlm_reader *r;
	struct astro_tlm_meta m;
	int64_t t0, t1;
};

/* An error answer {"error": "<what><detail>"}: 0 or -ENOMEM. */
static int fail(struct astro_httpd_answer *a, unsigned status, const char *what, const char *detail)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "%s%s", what, detail ? detail : "");
	return astro_httpd_answer_error(a, status, msg);
}

/* An error answer, and 1 to say the request is answered (or -ENOMEM). */
static int refuse(struct astro_httpd_answer *a, unsigned status, const char *what,
		  const char *detail)
{
	int rc = fail(a, status, what, detail);

	return rc ? rc : 1;
}

static int json_out(struct astro_httpd_answer *a, json_t *j)
{
	a->cache_control = "public, max-age=10";
	return astro_httpd_answer_json(a, j);
}

/* astropy's "iso" format, UTC: 2024-01-02 03:04:05.678 */
static json_t *iso(int64_t t)
{
	struct astro_tlm_utc u;
	char buf[40];

	if (astro_tlm_time_to_utc(t, &u))
		return json_null();
	snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d.%03d", u.year, u.month, u.mday,
		 u.hour, u.min, u.sec, u.usec / 1000);
	return json_string(buf);
}

static json_t *val(const struct astro_tlm_val *v)
{
	if (v->type == ASTRO_TLM_STATE)
		return json_stringn(v->text, v->tlen);
	if (v->type == ASTRO_TLM_INT)
		return json_integer((json_int_t)v->i);
	return json_real(v->f);
}

static double num(const struct astro_tlm_val *v)
{
	return v->type == ASTRO_TLM_INT ? (double)v->i : v->f;
}

static const char *arg2(const struct astro_httpd_req *req, const char *a, const char *b)
{
	const char *v = astro_httpd_arg(req, a);

	if ((!v || !*v || !strcmp(v, "None")) && b)
		v = astro_httpd_arg(req, b);
	return v && *v && strcmp(v, "None") ? v : NULL;
}

/*
 * The MSID and [t0, t1) of a request: a missing start is the archive's
 * first sample, a missing stop the end of everything.  0, or an error
 * answer already set (returns 1), or -ENOMEM.
 */
static int query(struct astro_tlm_archive *ar, const struct astro_httpd_req *req,
		 const char *start_key, const char *stop_key, struct q *q,
		 struct astro_httpd_answer *a)
{
	const char *msid = arg2(req, "mnemonic", "msid"), *s0 = arg2(req, start_key, NULL),
		   *s1 = arg2(req, stop_key, NULL);
	char err[128], clean[ASTRO_TLM_MSID_MAX * 2];
	size_t n = 0;
	int rc;

	memset(q, 0, sizeof(*q));
	if (!msid)
		return refuse(a, 400, "give the mnemonic (or msid) parameter", NULL);
	/* RAVEN strips blanks from the name */
	for (const char *p = msid; *p && n + 1 < sizeof(clean); p++)
		if (*p != ' ')
			clean[n++] = *p;
	clean[n] = '\0';
	if ((rc = astro_tlm_archive_reader_open(ar, &q->r)))
		return refuse(a, 503, "archive unreadable", NULL);
	if (astro_tlm_archive_reader_meta(q->r, clean, &q->m) || q->m.samples == 0)
		return refuse(a, 404, "no such mnemonic: ", clean);
	q->t0 = q->m.first;
	q->t1 = q->m.last + 1;
	if (s0 && astro_tlm_time_parse(s0, strlen(s0), &q->t0, err, sizeof(err)))
		return refuse(a, 400, "bad start time: ", err);
	if (s1 && astro_tlm_time_parse(s1, strlen(s1), &q->t1, err, sizeof(err)))
		return refuse(a, 400, "bad stop time: ", err);
	if (q->t1 < q->t0)
		return refuse(a, 400, "the stop time is before the start", NULL);
	return 0;
}

/* ---- fetch ---- */

struct pt {
	int64_t t;
	struct astro_tlm_val v;
};

static int add_point(json_t *x, json_t *y, const struct pt *p)
{
	return json_array_append_new(x, iso(p->t)) || json_array_append_new(y, val(&p->v));
}

static int fetch(struct q *q, struct astro_httpd_answer *a)
{
	struct astro_tlm_iter *it = NULL;
	json_t *x = json_array(), *y = json_array(), *minv = json_null(), *maxv = json_null(), *o;
	uint64_t total = 0, per = 1, in_bucket = 0;
	struct pt p, lo = {0}, hi = {0}, first = {0}, last = {0};
	int numeric = q->m.type != ASTRO_TLM_STATE, rc, bad, have = 0;
	double vmin = 0, vmax = 0;

	if (!x || !y)
		goto oom;
	/* pass 1: how many good samples, to size the buckets */
	if ((rc = astro_tlm_archive_iter_open(q->r, &q->m, q->t0, q->t1, 0, &it)))
		goto err;
	while ((rc = astro_tlm_archive_iter_next(it, &p.t, &p.v, &bad)) == 1)
		total++;
	astro_tlm_archive_iter_close(it);
	it = NULL;
	if (rc < 0)
		goto err;
	if (total > ASTRO_TLM_RAVEN_MAX_POINTS && numeric)
		per = (total + ASTRO_TLM_RAVEN_MAX_POINTS / 2 - 1) / (ASTRO_TLM_RAVEN_MAX_POINTS / 2);
	else if (total > ASTRO_TLM_RAVEN_MAX_POINTS)	/* states have no min/max: every per-th */
		per = (total + ASTRO_TLM_RAVEN_MAX_POINTS - 1) / ASTRO_TLM_RAVEN_MAX_POINTS;
	if ((rc = astro_tlm_archive_iter_open(q->r, &q->m, q->t0, q->t1, 0, &it)))
		goto err;
	while ((rc = astro_tlm_archive_iter_next(it, &p.t, &p.v, &bad)) == 1) {
		if (!have++)
			first = p;
		last = p;
		if (numeric) {
			double d = num(&p.v);

			if (have == 1 || d < vmin) {
				vmin = d;
				json_decref(minv);
				minv = val(&p.v);
			}
			if (have == 1 || d > vmax) {
				vmax = d;
				json_decref(maxv);
				maxv = val(&p.v);
			}
		}
		if (per == 1 || !numeric) {
			if ((per == 1 || (uint64_t)(have - 1) % per == 0) && add_point(x, y, &p))
				goto oom;
			continue;
		}
		/* min/max per bucket of `per` samples, in time order */
		if (in_bucket == 0 || num(&p.v) < num(&lo.v))
			lo = p;
		if (in_bucket == 0 || num(&p.v) > num(&hi.v))
			hi = p;
		if (++in_bucket == per) {
			if (add_point(x, y, lo.t <= hi.t ? &lo : &hi) ||
			    (lo.t != hi.t && add_point(x, y, lo.t <= hi.t ? &hi : &lo)))
				goto oom;
			in_bucket = 0;
		}
	}
	if (rc >= 0 && in_bucket &&
	    (add_point(x, y, lo.t <= hi.t ? &lo : &hi) ||
	     (lo.t != hi.t && add_point(x, y, lo.t <= hi.t ? &hi : &lo))))
		goto oom;
	astro_tlm_archive_iter_close(it);
	it = NULL;
	if (rc < 0)
		goto err;
	o = json_pack("{s:I, s:s, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o}",
		      "levelOfDetail", (json_int_t)per, "mnemonic", q->m.name,
		      "length", (json_int_t)json_array_size(y), "samples", (json_int_t)total,
		      "minValue", minv, "maxValue", maxv,
		      "startTime", have ? iso(first.t) : json_string(""),
		      "endTime", have ? iso(last.t) : json_string(""), "x", x, "y", y);
	return json_out(a, o ? json_pack("[o]", o) : NULL);
oom:
	rc = -ENOMEM;
err:
	astro_tlm_archive_iter_close(it);
	json_decref(x);
	json_decref(y);
	json_decref(minv);
	json_decref(maxv);
	return rc == -ENOMEM ? rc : fail(a, 500, "archive read failed: ", strerror(-rc));
}

/* ---- stats ---- */

static int64_t ceildiv(int64_t a, int64_t b)
{
	return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

static int stats(struct q *q, int daily, struct astro_httpd_answer *a)
{
	int64_t dt = daily ? ASTRO_TLM_DT_DAILY : ASTRO_TLM_DT_5MIN;
	/* bins whose middle i*dt + dt/2 lies in [t0, t1) */
	int64_t i0 = ceildiv(q->t0 - dt / 2, dt), i1 = ceildiv(q->t1 - dt / 2, dt);
	struct astro_tlm_siter *it = NULL;
	struct astro_tlm_stat st;
	json_t *cols[7];
	static const char *const names[7] = {"indexes", "times", "values", "mins",
					     "maxes", "means", "midvals"};
	int numeric = q->m.type != ASTRO_TLM_STATE, rc, oom = 0;
	json_t *o;

	for (int i = 0; i < 7; i++)
		oom |= !(cols[i] = json_array());
	if (oom) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = astro_tlm_archive_siter_open(q->r, &q->m, daily, i0, i1, &it)))
		goto out;
	while ((rc = astro_tlm_archive_siter_next(it, &st)) == 1) {
		json_t *mean = numeric ? json_real(st.mean) : json_null();

		oom |= json_array_append_new(cols[0], json_integer((json_int_t)st.index));
		oom |= json_array_append_new(cols[1], iso(st.index * dt + dt / 2));
		oom |= json_array_append_new(cols[2], numeric ? json_real(st.mean) : val(&st.mid));
		oom |= json_array_append_new(cols[3], numeric ? val(&st.min) : json_null());
		oom |= json_array_append_new(cols[4], numeric ? val(&st.max) : json_null());
		oom |= json_array_append_new(cols[5], mean);
		oom |= json_array_append_new(cols[6], val(&st.mid));
		if (oom) {
			rc = -ENOMEM;
			break;
		}
	}
out:
	astro_tlm_archive_siter_close(it);
	if (rc < 0) {
		for (int i = 0; i < 7; i++)
			json_decref(cols[i]);
		return rc == -ENOMEM ? rc : fail(a, 500, "archive read failed: ", strerror(-rc));
	}
	o = json_object();
	for (int i = 0; i < 7; i++)
		if (!o || json_object_set_new(o, names[i], cols[i]))
			oom = 1;
	if (oom) {
		json_decref(o);
		return -ENOMEM;
	}
	return json_out(a, json_pack("{s:o}", "stats", o));
}

/* ---- archive status ---- */

static int add_msid(void *arg, const struct astro_tlm_meta *m)
{
	return m->samples && json_array_append_new(arg, json_string(m->name));
}

static int add_ledger(void *arg, const struct astro_tlm_ledger_row *l)
{
	return json_array_append_new(arg, json_pack("{s:s, s:s, s:o, s:o, s:I, s:I, s:I}",
						    "name", l->name, "sha256", l->sha256,
						    "tstart", iso(l->first), "tstop", iso(l->last),
						    "rows", (json_int_t)l->rows,
						    "ingest_id", (json_int_t)l->ingest_id,
						    "committed_at", (json_int_t)l->committed_at));
}

static int status(struct astro_tlm_archive *ar, const char *dir, const char *what,
		  struct astro_httpd_answer *a)
{
	struct astro_tlm_reader *r;
	json_t *list = json_array(), *o = NULL;
	int rc;

	if (!list)
		return -ENOMEM;
	if (astro_tlm_archive_reader_open(ar, &r)) {
		json_decref(list);
		return fail(a, 503, "archive unreadable", NULL);
	}
	if (!strcmp(what, "ingest"))
		rc = astro_tlm_archive_reader_each_ledger(r, add_ledger, list);
	else
		rc = astro_tlm_archive_reader_each_msid(r, add_msid, list);
	if (rc == 0 && !strcmp(what, "count"))
		o = json_pack("{s:I}", "count", (json_int_t)json_array_size(list));
	else if (rc == 0 && !strcmp(what, "names"))
		o = json_pack("{s:O}", "msids", list);
	else if (rc == 0 && !strcmp(what, "ingest"))
		o = json_pack("{s:O}", "ingest_history", list);
	else if (rc == 0)
		o = json_pack("{s:s, s:{s:s, s:I, s:I}}", "status", "UP", "info",
			      "telemetry_archive", dir ? dir : "",
			      "generation", (json_int_t)astro_tlm_archive_reader_generation(r),
			      "msids", (json_int_t)json_array_size(list));
	astro_tlm_archive_reader_close(r);
	json_decref(list);
	if (rc)
		return rc == -ENOMEM ? rc : fail(a, 500, "archive read failed: ", strerror(-rc));
	return json_out(a, o);
}

/* ---- download ---- */

static int download(const struct astro_httpd_req *req, struct astro_httpd_answer *a, char *file,
		    size_t filelen)
{
	const char *msid = arg2(req, "msid", "mnemonic"), *iv = arg2(req, "interval", NULL),
		   *t0 = arg2(req, "tstart", NULL), *t1 = arg2(req, "tstop", NULL);
	const char *sfx;
	char lower[ASTRO_TLM_MSID_MAX];
	size_t i;

	if (!iv || !strcmp(iv, "full")) {
		sfx = "";
		iv = "full";
	} else if (!strcmp(iv, "5min")) {
		sfx = ".5min";
	} else if (!strcmp(iv, "daily")) {
		sfx = ".daily";
	} else {
		return fail(a, 400, "interval: expected full, 5min or daily, not ", iv);
	}
	if (!msid || strchr(msid, '/') || strchr(msid, '@') || strlen(msid) >= sizeof(lower))
		return fail(a, 400, "give one msid", NULL);
	if ((t0 && (strchr(t0, '/') || strstr(t0, ".."))) ||
	    (t1 && (strchr(t1, '/') || strstr(t1, ".."))))
		return fail(a, 400, "bad time", NULL);
	if (!t0 && !t1)
		snprintf(file, filelen, "%s%s.csv", msid, sfx);
	else
		snprintf(file, filelen, "%s@%s..%s%s.csv", msid, t0 ? t0 : "1998:001",
			 t1 ? t1 : FAR_FUTURE, sfx);
	for (i = 0; msid[i]; i++)
		lower[i] = (char)((msid[i] >= 'A' && msid[i] <= 'Z') ? msid[i] + 32 : msid[i]);
	lower[i] = '\0';
	snprintf(a->disposition, sizeof(a->disposition), "attachment; filename=\"%s_%lld_%s.csv\"",
		 lower, (long long)time(NULL), iv);
	return 1;
}

int astro_tlm_raven_answer(struct astro_tlm_archive *ar, const char *archive_dir,
			   const struct astro_httpd_req *req, const char *route,
			   struct astro_httpd_answer *a, char *file, size_t filelen)
{
	struct q q;
	int rc;

	if (!strcmp(route, "fetch/msid/download"))
		return download(req, a, file, filelen);
	if (!strcmp(route, "archive/status/msid/count"))
		return status(ar, archive_dir, "count", a);
	if (!strcmp(route, "archive/status/msid/names"))
		return status(ar, archive_dir, "names", a);
	if (!strcmp(route, "archive/status/ingest/history"))
		return status(ar, archive_dir, "ingest", a);
	if (!strcmp(route, "info"))
		return status(ar, archive_dir, "info", a);
	if (!strcmp(route, "fetch") || !strcmp(route, "fetch/date-range")) {
		rc = query(ar, req, "start_of_ydoy", "end_of_ydoy", &q, a);
		if (rc == 0 && !strcmp(route, "fetch"))
			rc = fetch(&q, a);
		else if (rc == 0)
			rc = json_out(a, json_pack("{s:[o,o]}", "date_range", iso(q.m.first),
						   iso(q.m.last)));
		astro_tlm_archive_reader_close(q.r);
		return rc < 0 ? rc : 0;
	}
	if (!strcmp(route, "fetch/stats")) {
		const char *iv = arg2(req, "interval", NULL);

		if (iv && strcmp(iv, "5min") && strcmp(iv, "daily"))
			return fail(a, 400, "interval: expected 5min or daily, not ", iv);
		rc = query(ar, req, "tstart", "tstop", &q, a);
		if (rc == 0)
			rc = stats(&q, iv && !strcmp(iv, "daily"), a);
		astro_tlm_archive_reader_close(q.r);
		return rc < 0 ? rc : 0;
	}
	return fail(a, 404, "no such route: /api/v1/", route);
}

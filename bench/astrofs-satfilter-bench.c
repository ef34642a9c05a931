/*
 * astrofs-satfilter-bench — the satellite filter's latencies on one core.
 *
 *   astrofs-satfilter-bench FILE [--objects N] [--sources M] [--visits V]
 *
 * Loads FILE (TLE/3LE), grown to N objects when it holds fewer by adding
 * copies with Alpha-5 catalogue numbers and the mean anomaly turned by
 * 137.5 deg per copy (different places on the same orbits, so the copies
 * are as costly to filter as real objects).  Then times V distinct visits
 * (30 s exposures at pseudo-random pointings and times on the newest epoch
 * day), a repeat of one, and a request of M DIASources (small boxes
 * spread over the field) on visit 1 (median of 7) and on every visit's
 * field (the slowest), JSON reading and answer writing included.  Then
 * historical visits ("historical": true) with their days cached: the
 * catalogue stored as 7 days of element sets (one set per object a day,
 * epochs moved onto each day) in an LMDB cache in a temporary directory,
 * read back through services/stday as the provider reads them (named by
 * their cached version; the body read only when the filter does not hold
 * the day parsed), so a figure includes the cache lookups, the per-object
 * choice of the nearest set and the visit: the first of 6 (a night's
 * exposures, 0.15 d apart) parses the days (historical_cold_ms), the median
 * of the other 5 finds them parsed (historical_ms).  The last line is
 * machine-readable:
 *   RESULT visit_median_ms=.. visit_max_ms=.. repeat_us=.. batch_ms=.. batch_worst_ms=..
 *          historical_ms=.. objects=.. historical_cold_ms=..
 */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/astro.h"
#include "core/config.h"
#include "core/log.h"
#include "satfilter/satfilter.h"
#include "satfilter/satfilter_req.h"
#include "services/cache.h"
#include "services/stday.h"
#include "services/tle.h"

#define HISTORY_VISITS 6

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (b = malloc((size_t)n + 1)) && fread(b, 1, (size_t)n, f) == (size_t)n) {
		b[n] = '\0';
		*len = (size_t)n;
	} else {
		free(b);
		b = NULL;
	}
	fclose(f);
	return b;
}

static void fix_checksum(char *line)
{
	line[68] = (char)('0' + astro_tle_checksum(line));
}

/* The element sets of body as 2-line pairs, grown to `want` objects. */
static char *grow_catalogue(const char *body, size_t len, size_t want, size_t *outlen,
			    size_t *nobj, double *newest_mjd)
{
	struct astro_tle_set *sets = NULL;
	size_t nsets = 0, cap, n = 0;
	char err[256], *out;

	if (astro_tle_parse_body(body, len, ASTRO_TLE_ALLOW_68 | ASTRO_TLE_SKIP_COMMENTS, &sets,
				 &nsets, err, sizeof(err)) || nsets == 0) {
		fprintf(stderr, "catalogue: %s\n", err);
		return NULL;
	}
	cap = (want > nsets ? want : nsets) * 142 + 1;
	out = malloc(cap);
	if (!out)
		return NULL;
	*newest_mjd = 0;
	for (size_t copy = 0; n < want || copy == 0; copy++) {
		for (size_t i = 0; i < nsets && (n < want || copy == 0); i++) {
			char l1[72], l2[72];
			const struct astro_tle_set *s = &sets[i];
			double mjd = (double)s->epoch_us / 86400e6 + 40587.0;

			if (s->l1_len < 68 || s->l2_len < 68)
				continue;
			if (mjd > *newest_mjd)
				*newest_mjd = mjd;
			snprintf(l1, sizeof(l1), "%-69.*s", (int)s->l1_len, body + s->l1_off);
			snprintf(l2, sizeof(l2), "%-69.*s", (int)s->l2_len, body + s->l2_off);
			if (copy) {
				char num[6], ma[9], *end;
				/* Alpha-5: letters A-Z without I and O, then 4 digits */
				static const char alpha[] = "ABCDEFGHJKLMNPQRSTUVWXYZ";
				size_t k = (copy - 1) * nsets + i;
				double m;

				if (k >= 24 * 10000)
					break;
				snprintf(num, sizeof(num), "%c%04zu", alpha[k / 10000], k % 10000);
				memcpy(l1 + 2, num, 5);
				memcpy(l2 + 2, num, 5);
				m = strtod(l2 + 43, &end);
				m = fmod(m + 137.5 * (double)copy, 360.0);
				snprintf(ma, sizeof(ma), "%8.4f", m);
				memcpy(l2 + 43, ma, 8);
			}
			fix_checksum(l1);
			fix_checksum(l2);
			n++;
			memcpy(out + (n - 1) * 140, l1, 69);
			out[(n - 1) * 140 + 69] = '\n';
			memcpy(out + (n - 1) * 140 + 70, l2, 69);
			out[(n - 1) * 140 + 139] = '\n';
		}
		if (copy > 40)
			break;
	}
	free(sets);
	*outlen = n * 140;
	*nobj = n;
	return out;
}

/* The cached days a historical visit reads, as the provider reads them. */
struct days {
	struct astro_cache *cache;
	struct astro_config cfg;
	char dir[64];
};

/* cat (2-line pairs at a 140-byte stride) with every epoch moved onto the
 * day starting at MJD day_mjd, keeping its time of day. */
static char *on_day(const char *cat, size_t nobj, double day_mjd)
{
	char *b = malloc(nobj * 140 + 1);

	if (!b)
		return NULL;
	memcpy(b, cat, nobj * 140);
	b[nobj * 140] = '\0';
	for (size_t k = 0; k < nobj; k++) {
		char *l1 = b + k * 140, ep[16];
		double e = strtod(l1 + 20, NULL), mjd = day_mjd + (e - floor(e));
		int64_t z = (int64_t)day_mjd - 40587, y;
		unsigned m, d;

		astro_civil_from_days(z, &y, &m, &d);
		snprintf(ep, sizeof(ep), "%02d%012.8f", (int)(y % 100),
			 (double)(z - astro_days_from_civil(y, 1, 1) + 1) + (mjd - floor(mjd)));
		memcpy(l1 + 18, ep, 14);
		fix_checksum(l1);
	}
	return b;
}

static int days_store(struct days *ds, const char *cat, size_t nobj, double newest)
{
	snprintf(ds->dir, sizeof(ds->dir), "%s", "/tmp/astrofs-satbench-XXXXXX");
	if (!mkdtemp(ds->dir) || astro_config_init(&ds->cfg) ||
	    astro_cache_open(&ds->cache, ds->dir, 512u << 20))
		return -1;
	for (int d = -(int)ASTRO_SATFILTER_HISTORY_DAYS; d <= (int)ASTRO_SATFILTER_HISTORY_DAYS; d++) {
		double day = floor(newest) + d;
		char *b = on_day(cat, nobj, day);

		if (!b)
			return -1;
		astro_stday_store(ds->cache, &ds->cfg, (int64_t)time(NULL),
				  ((int64_t)day - 40587) * 86400, b, nobj * 140, nobj);
		free(b);
	}
	return 0;
}

static int history(void *arg, double mid_unix, struct astro_satfilter_src *src, size_t max,
		   size_t *n)
{
	struct days *ds = arg;
	int64_t first = (int64_t)floor((mid_unix - ASTRO_SATFILTER_HISTORY_DAYS * 86400) / 86400);
	int64_t last = (int64_t)floor((mid_unix + ASTRO_SATFILTER_HISTORY_DAYS * 86400) / 86400);

	*n = 0;
	for (int64_t d = first; d <= last && *n < max; d++) {
		if (astro_stday_peek(ds->cache, &ds->cfg, d * 86400, &src[*n].version))
			continue;
		src[*n].keep = 1;
		src[*n].key = d * 86400;
		(*n)++;
	}
	return *n ? 0 : -EIO;
}

static int history_body(void *arg, struct astro_satfilter_src *src)
{
	struct days *ds = arg;

	src->cap = 0;
	return astro_stday_read(ds->cache, src->key, &src->body, &src->len, &src->version);
}

static void history_release(void *arg, struct astro_satfilter_src *src, size_t n)
{
	(void)arg;
	for (size_t i = 0; i < n; i++)
		free(src[i].body);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void days_close(struct days *ds)
{
	if (ds->cache)
		astro_cache_close(ds->cache);
	astro_config_free(&ds->cfg);
	if (ds->dir[0])
		nftw(ds->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static double ask(struct astro_satfilter *sf, const char *req, int want_status)
{
	char *ans = NULL;
	int status = 0;
	double t0 = now_s(), dt;

	if (astro_satfilter_handle(sf, req, strlen(req), &ans, &status))
		exit(1);
	dt = now_s() - t0;
	if (status != want_status) {
		fprintf(stderr, "unexpected answer %d: %.200s\n", status, ans);
		exit(1);
	}
	free(ans);
	return dt;
}

/* A request of n boxes of ~4" spread uniformly over 2 deg around (ra0, dec0). */
static char *make_batch(size_t visit, double ra0, double dec0, size_t n, unsigned *seed)
{
	char *big = malloc(n * 160 + 100);
	size_t len;

	if (!big)
		return NULL;
	len = (size_t)snprintf(big, 100, "{\"visit_id\": %zu, \"detector_id\": 0, \"diasources\": [",
			       visit);
	for (size_t i = 0; i < n; i++) {
		double r, a, ra, dec, h = 2.0 / 3600;

		*seed = *seed * 1103515245u + 12345u;
		r = 2.0 * sqrt((double)(*seed >> 8) / (double)(1u << 24));
		*seed = *seed * 1103515245u + 12345u;
		a = (double)(*seed >> 8) / (double)(1u << 24) * 2 * M_PI;
		dec = dec0 + r * sin(a);
		ra = ra0 + r * cos(a) / cos(dec * M_PI / 180);
		ra = fmod(ra + 360.0, 360.0);
		len += (size_t)snprintf(big + len, 160, "%s{\"diasource_id\": %zu, \"bbox\": [[%.6f,%.6f],"
					"[%.6f,%.6f],[%.6f,%.6f],[%.6f,%.6f]]}", i ? "," : "", i,
					ra - h, dec - h, ra + h, dec - h, ra + h, dec + h, ra - h,
					dec + h);
	}
	snprintf(big + len, 4, "]}");
	return big;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	struct astro_satfilter_opts o;
	struct astro_satfilter *sf;
	size_t want = 30000, nsrc = 10000, nvis = 20, len, clen, nobj;
	double newest, t, parse, *lat, *vra, *vdec, t00 = 0, batch, first;
	double repeat, worst = 0, hist[HISTORY_VISITS], hist_cold;
	struct days ds = { 0 };
	char *body, *cat, err[256], req[400], *big;
	unsigned seed = 12345;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE [--objects N] [--sources M] [--visits V]\n", argv[0]);
		return 2;
	}
	for (int i = 2; i + 1 < argc; i += 2) {
		size_t v = (size_t)strtoul(argv[i + 1], NULL, 10);

		if (strcmp(argv[i], "--objects") == 0)
			want = v;
		else if (strcmp(argv[i], "--sources") == 0)
			nsrc = v;
		else if (strcmp(argv[i], "--visits") == 0)
			nvis = v ? v : 1;
	}
	astro_log_set_level(LOG_WARNING);
	body = slurp(argv[1], &len);
	if (!body)
		return perror(argv[1]), 1;
	cat = grow_catalogue(body, len, want, &clen, &nobj, &newest);
	free(body);
	if (!cat)
		return 1;
	if (days_store(&ds, cat, nobj, newest)) {
		fprintf(stderr, "cannot store the days in a cache under /tmp\n");
		days_close(&ds);
		return 1;
	}
	astro_satfilter_default_opts(&o);
	o.history = history;
	o.history_body = history_body;
	o.history_release = history_release;
	o.history_arg = &ds;
	if (astro_satfilter_create(&sf, &o))
		return 1;
	t = now_s();
	if (astro_satfilter_load(sf, cat, clen, err, sizeof(err)) < 0) {
		fprintf(stderr, "load: %s\n", err);
		return 1;
	}
	printf("catalogue: %zu objects loaded in %.0f ms\n", nobj, (now_s() - t) * 1e3);
	free(cat);
	lat = malloc(nvis * sizeof(*lat));
	vra = malloc(nvis * sizeof(*vra));
	vdec = malloc(nvis * sizeof(*vdec));
	if (!lat || !vra || !vdec)
		return 1;
	for (size_t v = 0; v < nvis; v++) {
		double ra, dec, t0;

		seed = seed * 1103515245u + 12345u;
		ra = (double)(seed >> 8) / (double)(1u << 24) * 360.0;
		seed = seed * 1103515245u + 12345u;
		dec = -80.0 + (double)(seed >> 8) / (double)(1u << 24) * 100.0;
		t0 = floor(newest) + (double)v / (double)nvis;
		snprintf(req, sizeof(req), "{\"visit_id\": %zu, \"exposure_start_mjd\": %.8f, "
			 "\"exposure_end_mjd\": %.8f, \"boresight_ra\": %.6f, \"boresight_dec\": %.6f}",
			 v + 1, t0, t0 + 30.0 / 86400, ra, dec);
		lat[v] = ask(sf, req, 200);
		vra[v] = ra;
		vdec[v] = dec;
		if (v == 0)
			t00 = t0;
	}
	qsort(lat, nvis, sizeof(*lat), cmp_d);
	snprintf(req, sizeof(req), "{\"visit_id\": 1, \"exposure_start_mjd\": %.8f, "
		 "\"exposure_end_mjd\": %.8f, \"boresight_ra\": %.6f, \"boresight_dec\": %.6f}",
		 t00, t00 + 30.0 / 86400, vra[0], vdec[0]);
	repeat = ask(sf, req, 200);
	/* the batch: boxes of ~4" over the field of visit 1; the first run
	 * pays for fresh pages, the median of 7 is the figure */
	big = make_batch(1, vra[0], vdec[0], nsrc, &seed);
	if (!big)
		return 1;
	{
		double runs[7];

		first = ask(sf, big, 200);
		for (size_t q = 0; q < 7; q++)
			runs[q] = ask(sf, big, 200);
		qsort(runs, 7, sizeof(runs[0]), cmp_d);
		batch = runs[3];
	}
	/* the same over every visit's field (fields differ in how many tracks
	 * cross them): the slowest, each the best of three runs */
	for (size_t v = 0; v < nvis; v++) {
		char *b = make_batch(v + 1, vra[v], vdec[v], nsrc, &seed);
		double x, y;

		if (!b)
			return 1;
		x = ask(sf, b, 200);
		for (int q = 0; q < 2; q++) {
			y = ask(sf, b, 200);
			x = x < y ? x : y;
		}
		worst = x > worst ? x : worst;
		free(b);
	}
	/* historical visits: distinct ids, so none is answered from the cache */
	for (size_t v = 0; v < HISTORY_VISITS; v++) {
		double t0 = floor(newest) + 0.1 + 0.15 * (double)v;

		snprintf(req, sizeof(req), "{\"visit_id\": %zu, \"exposure_start_mjd\": %.8f, "
			 "\"exposure_end_mjd\": %.8f, \"boresight_ra\": %.6f, \"boresight_dec\": %.6f, "
			 "\"historical\": true}", 1000 + v, t0, t0 + 30.0 / 86400,
			 vra[v % nvis], vdec[v % nvis]);
		hist[v] = ask(sf, req, 200);
	}
	/* the first parses the days; the others find them parsed */
	hist_cold = hist[0];
	qsort(hist + 1, HISTORY_VISITS - 1, sizeof(hist[0]), cmp_d);
	days_close(&ds);
	t = now_s();
	{
		struct astro_sfreq r;

		if (astro_satfilter_req_parse(big, strlen(big), ASTRO_SATFILTER_MAX_SOURCES, &r, err,
				      sizeof(err)) == 0)
			astro_satfilter_req_free(&r);
	}
	parse = now_s() - t;
	free(big);
	printf("visit (%zu objects, 30 s): median %.1f ms, max %.1f ms over %zu visits\n", nobj,
	       lat[nvis / 2] * 1e3, lat[nvis - 1] * 1e3, nvis);
	printf("repeat of a cached visit: %.1f us\n", repeat * 1e6);
	printf("%zu-source batch: %.1f ms median of 7, first %.1f ms (reading the JSON alone: %.1f ms)\n",
	       nsrc, batch * 1e3, first * 1e3, parse * 1e3);
	printf("%zu-source batch over each of the %zu visits' fields: slowest %.1f ms\n", nsrc,
	       nvis, worst * 1e3);
	printf("historical visit (%zu objects, 7 cached days of one set each): first (days "
	       "parsed) %.1f ms, then (days held parsed) median %.1f ms, max %.1f ms over %d "
	       "visits\n", nobj, hist_cold * 1e3, hist[1 + (HISTORY_VISITS - 1) / 2] * 1e3,
	       hist[HISTORY_VISITS - 1] * 1e3, HISTORY_VISITS - 1);
	printf("RESULT visit_median_ms=%.2f visit_max_ms=%.2f repeat_us=%.1f batch_ms=%.2f "
	       "batch_worst_ms=%.2f historical_ms=%.2f objects=%zu historical_cold_ms=%.2f\n",
	       lat[nvis / 2] * 1e3, lat[nvis - 1] * 1e3, repeat * 1e6, batch * 1e3, worst * 1e3,
	       hist[1 + (HISTORY_VISITS - 1) / 2] * 1e3, nobj, hist_cold * 1e3);
	free(lat);
	free(vra);
	free(vdec);
	astro_satfilter_destroy(sf);
	return 0;
}

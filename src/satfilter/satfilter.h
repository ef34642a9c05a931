/*
 * satfilter.h — the satellite-track filter behind /satfilter (and the
 * sattle-compatible HTTP listener): catalogue, visit cache, DIASource
 * allow-lists.  No FUSE or HTTP types here, so it is testable directly.
 *
 * Catalogue: a TLE/3LE body is parsed, deduplicated by catalogue number
 * (newest epoch kept) and turned into SGP4 records held in memory that is
 * mlock'ed where permitted and excluded from core dumps (MADV_DONTDUMP);
 * the text is never kept.  A load builds a complete new catalogue and swaps
 * it in; visits being computed on the old one keep it (reference count)
 * until they finish.  Only counts are ever logged.
 *
 * Visit (one exposure, MJD TAI, boresight ICRS): every object is first
 * bounded cheaply on a 1 s grid over the exposure: with the topocentric
 * direction at two grid times, the angular rate between them cannot exceed
 * V / rho_min, where V = 12.5 km/s bounds the relative speed (a bound orbit
 * at r >= 1 Earth radius moves slower than 11.2 km/s, the site 0.47 km/s) and
 * rho_min is the least range that speed allows; an interval whose lower
 * bound on the distance from the boresight exceeds the field is dropped,
 * otherwise it is halved, down to 1 s.  The bound is a proof, so no object
 * whose true path enters the field is dropped.  Candidates are then
 * propagated at every grid time (1 s; the last sample at the exact end)
 * and kept when their polyline comes within field_deg + buffer of the
 * boresight.  Between 1 s samples the apparent path of an object in
 * free fall departs from the great-circle chord by under 1" (acceleration
 * 8.4 m/s^2 gives ~1 m of sagitta; 1 m at 200 km is 1"), so the polyline
 * of great-circle arcs is the path.  Directions are those an image WCS
 * fitted to catalogue stars assigns (light time and differential annual
 * aberration applied: astro_frames_radec_wcs).  Objects whose SGP4
 * propagation fails at any sample are dropped and counted.
 *
 * Visits are kept in an LRU of at most max_visits entries, each for
 * visit_ttl_s seconds after it was computed; a repeat of a cached visit
 * (same parameters) costs a lookup; concurrent requests for one visit
 * share a single computation.
 *
 * DIASources: each bbox (3-8 corners, any order, of any size and anywhere
 * on the sky: a box far from the boresight is tested like any other) becomes the spherical
 * convex hull of its corners; a source is left out of the allow list when
 * any track's polyline passes within buffer_deg of the hull.  Each visit
 * keeps a grid index of its track segments (cut into pieces of <= 0.2 deg)
 * on the plane normal to the boresight, built so that the cells a source
 * covers list every piece that can reach it; the index saves work, the
 * exact arc-to-hull distance decides.  Requests are read by a streaming
 * reader (satfilter_req.h), not into a document tree.  Default
 * buffer 0.01 deg (36"): the bbox corners are pixel centres (the footprint
 * is ~0.1" larger per side), a satellite trail is wider than the PSF (an
 * LEO object at 500 km is defocused by the 8.4 m aperture to ~3.5"), the
 * frame chain is good to ~1" and the 1 s polyline to ~1"; 36" covers all of
 * these with a wide margin and is sattle's track half-width, so results
 * stay comparable.  TLE errors (km along track) are not what a buffer can
 * fix and are not covered.
 *
 * Historical visits ("historical": true on a visit or DIASource request,
 * as sattle): the visit is computed from a catalogue built for it from
 * the history callback's bodies (per object the set nearest the exposure
 * within ASTRO_SATFILTER_HISTORY_DAYS), and cached apart from the plain
 * visit of the same id (sattle's key "<visit_id>_historical").  A body the
 * callback marks `keep` (a cached day, named by key and version) is kept
 * parsed — every set's elements, sorted by catalogue number and epoch —
 * in an LRU of at most history_cache_bytes, in the same non-dumpable
 * memory as the catalogue, so the next visit over that day reads neither
 * the cache nor the text; another version of the key replaces it.  The
 * per-object choice is one merge over the sorted days, and an object whose
 * chosen set is the one the previous historical catalogue used takes that
 * catalogue's SGP4 record instead of initialising it again (initialising
 * is deterministic: the result is the same).  Bodies not marked keep (the
 * CUI file, a day just fetched) are parsed for the visit and dropped.
 *
 * Answers are single-line JSON objects: a visit gives
 * {"visit_id": N, "status": "cached"}, DIASources give
 * {"visit_id": N, "detector_id": N, "allow_list": [...]}.  Every failure —
 * malformed JSON, a missing or mistyped field, absurd coordinates or
 * times, an unknown visit, no catalogue, an internal error — gives
 * {"error": "...", "allow_list": []}, so a failure can never allow a source.
 * Nothing derived from the catalogue other than the allow list (positions,
 * names, counts) is ever put in an answer.
 *
 * Thread-safety: every function may be called from any thread at once.
 */
#ifndef ASTRO_SATFILTER_H
#define ASTRO_SATFILTER_H

#include <stddef.h>
#include <stdint.h>

/* Largest request (one JSON line) and number of DIASources in it. */
#define ASTRO_SATFILTER_MAX_REQUEST (16u << 20)
#define ASTRO_SATFILTER_MAX_SOURCES 100000u
/* Unread answers one /satfilter handle may hold before its writes fail
 * with ENOBUFS (until they are read). */
#define ASTRO_SATFILTER_MAX_UNREAD (4u << 20)
/* Longest exposure a visit may span: an hour, six times Rubin's longest
 * planned exposure; the cap only bounds one visit's work (1 s samples). */
#define ASTRO_SATFILTER_MAX_EXPOSURE_S 3600.0
/* A visit must lie within this many days of the newest catalogue epoch. */
#define ASTRO_SATFILTER_MAX_AGE_DAYS 30.0

/* A historical visit uses, per object, the set nearest its exposure
 * within this many days. */
#define ASTRO_SATFILTER_HISTORY_DAYS 3.0
/* Bodies a history callback may hand back. */
#define ASTRO_SATFILTER_HISTORY_MAX_SRC 16

/* One body of element sets (TLE or 3LE text); cap is the caller's.
 * keep (history only): the body is the version `version` of the cached
 * source `key` (a day), and may be kept parsed under that name; body may
 * then be NULL until history_body is asked for it. */
struct astro_satfilter_src {
	char *body;
	size_t len, cap;
	int keep;
	int64_t key, version;
};

struct astro_satfilter_opts {
	double site_lat, site_lon, site_height;	/* WGS-84, deg, deg E, m */
	double dut1_s;			/* UT1 - UTC */
	double buffer_deg;		/* default 0.01 (see above) */
	double field_deg;		/* default 2.35: LSSTCam's 2.06-2.1 deg + margin */
	unsigned max_visits;		/* default 512 */
	unsigned visit_ttl_s;		/* default 1800 */
	int64_t (*now_ms)(void);	/* monotonic clock; default astro_mono_ms */
	/*
	 * Element sets for a historical visit (NULL: historical visits are
	 * refused with 400): fill src[0..max) with bodies holding the sets
	 * around mid_unix (the exposure's middle, UTC Unix seconds), set *n;
	 * 0 or -errno.  history_release gets them back once the catalogue
	 * is built.  Of each object the set nearest mid_unix within
	 * ASTRO_SATFILTER_HISTORY_DAYS is used.
	 */
	int (*history)(void *arg, double mid_unix, struct astro_satfilter_src *src, size_t max,
		       size_t *n);
	/*
	 * The body of a src the history callback marked keep and left
	 * without one, asked for only when that key and version are not held
	 * parsed: fill body, len and cap; update version when the copy read
	 * is another, or clear keep when it is not the cached one; 0 or
	 * -errno.  history_release gets it back with the others.
	 */
	int (*history_body)(void *arg, struct astro_satfilter_src *src);
	void (*history_release)(void *arg, struct astro_satfilter_src *src, size_t n);
	void *history_arg;
	/* Parsed days kept between historical visits (0: none kept). */
	size_t history_cache_bytes;	/* default ASTRO_SATFILTER_HISTORY_CACHE_BYTES */
};

/* 128 MiB: at 53,000 sets a day (gp_history's size now), 16 days, two
 * nights' windows of ASTRO_SATFILTER_HISTORY_DAYS either side. */
#define ASTRO_SATFILTER_HISTORY_CACHE_BYTES (128u << 20)

struct astro_satfilter;

/* Defaults, with the Rubin site. */
void astro_satfilter_default_opts(struct astro_satfilter_opts *o);

int astro_satfilter_create(struct astro_satfilter **out,
			   const struct astro_satfilter_opts *o);
void astro_satfilter_destroy(struct astro_satfilter *sf);

/*
 * Replace the catalogue with one built from a TLE or 3LE body (the caller
 * owns and should wipe `body`).  Returns the number of objects kept, or
 * -EINVAL (err names the line number only: never catalogue text) or
 * -ENOMEM; on error the previous catalogue stays.  Cached visits stay
 * until they expire (they were right for their catalogue).
 */
long astro_satfilter_load(struct astro_satfilter *sf, const char *body,
			  size_t len, char *err, size_t errlen);

/*
 * The same from several bodies (the public GP class and the CUI file),
 * merged by catalogue number: of an object's sets the one whose epoch is
 * nearest target_jd (UTC JD; INFINITY: the newest) is kept.  An empty
 * body adds nothing.
 */
long astro_satfilter_load_merged(struct astro_satfilter *sf, const struct astro_satfilter_src *src,
				 size_t n, double target_jd, char *err, size_t errlen);

/* The same from a file, read into non-dumpable memory and wiped after. */
long astro_satfilter_load_file(struct astro_satfilter *sf, const char *path,
			       char *err, size_t errlen);

/* 1 when a catalogue is loaded. */
int astro_satfilter_ready(struct astro_satfilter *sf);

/*
 * Answer one request (a JSON object, surrounding whitespace allowed).
 * *answer gets a malloc'd NUL-terminated JSON line without newline;
 * *status an HTTP-like status (200, 400, 404, 413, 500, 503).  Returns 0,
 * or -ENOMEM when not even an error answer could be built (then the
 * caller must answer the fixed ASTRO_SATFILTER_OOM_ANSWER).
 */
int astro_satfilter_handle(struct astro_satfilter *sf, const char *req,
			   size_t len, char **answer, int *status);

/*
 * The same for a request that must be of one kind, as sattle's two paths
 * take: ASTRO_SATFILTER_VISIT reads the body as a visit whatever else it
 * holds (a DIASource body lacks "exposure_start_mjd": 400 "Missing column
 * exposure_start_mjd."), ASTRO_SATFILTER_SOURCES as a DIASource request
 * (a visit body: "Missing column detector_id.").  ASTRO_SATFILTER_ANY lets
 * the body decide (the /satfilter file), as astro_satfilter_handle does.
 */
enum astro_satfilter_kind {
	ASTRO_SATFILTER_ANY,
	ASTRO_SATFILTER_VISIT,
	ASTRO_SATFILTER_SOURCES,
};

int astro_satfilter_handle_kind(struct astro_satfilter *sf, enum astro_satfilter_kind kind,
				const char *req, size_t len, char **answer, int *status);

/*
 * A health answer: 200 {"status": "ok", "catalogue_age_s": N,
 * "catalogue_objects": "10000-99999"} (the count only as its decade: the
 * catalogue's exact size is not told), or 503 {"status": "no catalogue"}.
 * 0 or -ENOMEM.
 */
int astro_satfilter_health(struct astro_satfilter *sf, char **answer, int *status);

#define ASTRO_SATFILTER_OOM_ANSWER "{\"error\": \"out of memory\", \"allow_list\": []}"

#endif

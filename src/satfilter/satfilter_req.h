/*
 * satfilter_req.h — the /satfilter request reader: one JSON request (a
 * visit or a DIASource batch) read in a single streaming pass with yajl
 * into a flat struct, without building a document tree.
 *
 * Why not jansson: a 10,000-source batch is ~1.2 MB of small objects and
 * numbers; building and freeing a jansson tree for it (a malloc per value,
 * strtod per number) took ~27 ms, nearly all of the request's time.  Read
 * as a stream, with decimal numbers converted by the exact fast path where
 * it applies (<= 15 significant digits and a power of ten <= 22: one
 * correctly rounded IEEE operation gives the same double as strtod), the
 * same request reads in ~3 ms.
 *
 * What is read:
 *   top level      an object; members visit_id, detector_id,
 *                  exposure_start_mjd, exposure_end_mjd, boresight_ra,
 *                  boresight_dec (numbers), historical (boolean) and
 *                  diasources (an array of objects with diasource_id and
 *                  bbox: an array of [ra, dec] corners).  Other members are
 *                  skipped whatever they hold.
 * A string holding an integer literal is ASTRO_SFREQ_INTSTR (ids sent as
 * "42", as sattle and its Python clients accept them).  Corner RA may be
 * any finite number (it names a direction: -0.5 is 359.5); Dec must lie in
 * [-90, 90].
 * A member of the wrong type is recorded as ASTRO_SFREQ_OTHER, not refused
 * here: the caller words the message ("visit_id is not an integer").
 * Refused here, as malformed JSON (a message naming the byte offset and
 * what was wrong): anything yajl refuses (syntax, invalid UTF-8, trailing
 * garbage, an empty request), integers outside int64, numbers beyond the
 * double range, and a member of interest given twice (a request that says
 * two things is not guessed at; duplicates among skipped members are not
 * looked for).
 *
 * DIASources: elements are counted to the end of the array (the caller
 * refuses more than its limit) but kept only up to max_sources + 1.  The
 * first element that is not of the documented shape stops the keeping:
 * its index and a message ("diasources[7].bbox[2] is not [ra, dec]") are
 * recorded in bad_index/bad, and elements before it stay readable, so the
 * caller can report problems in array order.
 *
 * Thread-safety: none needed; a request struct belongs to its caller.
 */
#ifndef ASTRO_SATFILTER_REQ_H
#define ASTRO_SATFILTER_REQ_H

#include <stddef.h>
#include <stdint.h>

/* A bbox is a polygon: at least 3 corners (sattle's ConvexPolygon). */
#define ASTRO_SFREQ_MIN_CORNERS 3
#define ASTRO_SFREQ_MAX_CORNERS 8

enum astro_satfilter_req_kind {
	ASTRO_SFREQ_ABSENT = 0,
	ASTRO_SFREQ_INT,		/* a number without fraction or exponent */
	ASTRO_SFREQ_REAL,		/* any other number */
	ASTRO_SFREQ_TRUE,
	ASTRO_SFREQ_FALSE,
	ASTRO_SFREQ_OTHER,		/* null, a string, an array, an object */
	ASTRO_SFREQ_INTSTR		/* a string holding an integer literal ("42",
					 * as Python clients send ids): i is set */
};

struct astro_satfilter_req_value {
	enum astro_satfilter_req_kind kind;
	int64_t i;			/* ASTRO_SFREQ_INT */
	double d;			/* INT or REAL: the value as a double */
};

struct astro_satfilter_req_source {
	int64_t id;
	unsigned ncorners;		/* ASTRO_SFREQ_MIN_CORNERS .. MAX_CORNERS */
	double corner[ASTRO_SFREQ_MAX_CORNERS][2];	/* ra (any finite value:
							 * a direction), dec */
};

enum astro_satfilter_req_field {
	ASTRO_SFREQ_VISIT_ID,
	ASTRO_SFREQ_DETECTOR_ID,
	ASTRO_SFREQ_EXPOSURE_START,
	ASTRO_SFREQ_EXPOSURE_END,
	ASTRO_SFREQ_BORESIGHT_RA,
	ASTRO_SFREQ_BORESIGHT_DEC,
	ASTRO_SFREQ_HISTORICAL,
	ASTRO_SFREQ_DIASOURCES,		/* an array is OTHER: see sources_is_array */
	ASTRO_SFREQ_NFIELDS
};

struct astro_sfreq {
	int is_object;			/* the top-level value is an object */
	struct astro_satfilter_req_value f[ASTRO_SFREQ_NFIELDS];
	int sources_is_array;		/* diasources present and an array */
	size_t nsources;		/* elements in the array */
	size_t nkept;			/* src[0 .. nkept) are well formed */
	struct astro_satfilter_req_source *src;	/* malloc'd */
	int bad;			/* 1: element nkept is malformed */
	char bad_msg[160];
};

/* The name of a field as it appears in requests. */
const char *astro_satfilter_req_field_name(enum astro_satfilter_req_field f);

/*
 * Read one request.  Returns 0 (then free r with astro_satfilter_req_free), or
 * -EINVAL with a message in err for malformed JSON, or -ENOMEM.  On error
 * r holds nothing to free.
 */
int astro_satfilter_req_parse(const char *buf, size_t len, size_t max_sources,
		      struct astro_sfreq *r, char *err, size_t errlen);

void astro_satfilter_req_free(struct astro_sfreq *r);

#ifdef ASTRO_UNITTEST
/*
 * Tests and the differential fuzz target: a JSON number's text (already
 * known to be valid JSON) as a double, exactly as strtod rounds it.
 * Returns 0 or -ERANGE (beyond the double range).
 */
int astro_satfilter_req_number(const char *s, size_t len, double *out);
#endif

#endif

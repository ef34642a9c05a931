/*
 * tlm_stats.h — cheta-compatible 5-minute and daily statistics of one bin.
 *
 * Bins: dt = 328 s (5min) or 86400 s (daily) on the CXC epoch 1998.0 TT;
 * index = floor(secs/dt), the bin covers [index·dt, (index+1)·dt) and is dated
 * at its middle, (index+0.5)·dt.  The daily bins thus start at 00:00 TT, about
 * a minute before UTC midnight, exactly as in cheta.
 *
 * Definitions follow cheta's calc_stats_vals (sot/cheta update_archive.py):
 *  - samples n; midval = vals[n/2] in time order;
 *  - min, max;
 *  - mean time-weighted: weight of an interior sample = mean of its two
 *    neighbouring gaps, the end samples their one gap, all clipped to
 *    [0.001, 300] s; n <= 2 → equal weights;
 *  - daily only: std = sqrt(Σw(v−mean)²/Σw) (biased, weighted), and
 *    p01 p05 p16 p50 p84 p95 p99 by scipy.stats.mstats.mquantiles with
 *    alpha = beta = 0.4 (unweighted, over the sorted values).
 * Differences from cheta, on purpose: mean, std and percentiles are double
 * (cheta stores mean as float32 and std/percentiles in the MSID dtype,
 * truncating integers); the input is the filtered sample set (quality-bad
 * and BAD_TIMES samples removed), and bins are recomputed when late data or
 * a BAD_TIMES change touches them (the archive does that).
 * State MSIDs get n, midval (text) and a count per state text.
 *
 * Thread-safety: pure functions.
 */
#ifndef ASTRO_TLM_STATS_H
#define ASTRO_TLM_STATS_H

#include <stddef.h>
#include <stdint.h>

#define ASTRO_TLM_DT_5MIN (328LL * 1000000LL)	/* µs */
#define ASTRO_TLM_DT_DAILY (86400LL * 1000000LL)
#define ASTRO_TLM_NPCT 7

extern const int astro_tlm_stats_pct[ASTRO_TLM_NPCT];	/* 1 5 16 50 84 95 99 */

/* One sample value as the stats see it. */
struct astro_tlm_val {
	uint8_t type;		/* enum astro_tlm_type */
	/*
	 * FLOAT read from a decimal block column: 1 + k, f being exactly
	 * i / 10^k (so its text needs no search for its decimals); else 0.
	 */
	uint8_t dec;
	int64_t i;		/* INT; FLOAT with dec: the decimal's digits */
	double f;		/* FLOAT (or INT as double when the MSID is FLOAT) */
	const char *text;	/* STATE (not NUL-terminated) */
	uint32_t tlen;
};

struct astro_tlm_state_count {
	const char *text;	/* points into the input values */
	uint32_t tlen;
	uint32_t n;
};

struct astro_tlm_stat {
	int64_t index;
	uint32_t n;
	uint8_t type;			/* of min/max/midval */
	struct astro_tlm_val min, max, mid;
	double mean, std, p[ASTRO_TLM_NPCT];	/* numeric only; std/p daily only */
	struct astro_tlm_state_count *states;	/* STATE only, sorted by text */
	size_t nstates;
};

/* Bin index of time t (TT µs) for a dt in µs. */
int64_t astro_tlm_stats_index(int64_t t, int64_t dt);

/*
 * Statistics of n >= 1 time-ascending samples of one bin.  type is the MSID
 * type; an INT value in a FLOAT MSID is read from .i.  daily selects std and
 * percentiles.  Returns 0 or -ENOMEM / -EINVAL (n == 0).
 */
int astro_tlm_stats_compute(const int64_t *t, const struct astro_tlm_val *v,
			    size_t n, int type, int daily, int64_t index,
			    struct astro_tlm_stat *out);
void astro_tlm_stats_free(struct astro_tlm_stat *s);

#endif

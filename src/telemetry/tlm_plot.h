/*
 * tlm_plot.h — plots of one MSID over a time range, as SVG and PNG drawn by
 * the same cairo code (so both show the same thing, with real text metrics).
 *
 * A plot is fed its samples once, in time order (astro_tlm_plot_add, or
 * astro_tlm_plot_add_bin with statistics bins for long spans), and
 * keeps a fixed amount: per time column the min, max, mean and (states) the
 * first and last state, plus the first ASTRO_TLM_PLOT_COLS samples
 * themselves.  Drawn:
 *   - numbers: the min/max envelope and the mean line per column; with fewer
 *     samples than columns, every sample as a marker joined by lines (so a
 *     constant or very sparse series shows);
 *   - states: a step plot, the state names on the y axis;
 *   - "nice" ticks (1, 2, 5 × 10^k) and a light grid on both axes; the y
 *     axis as wide as its longest label, with matplotlib-style offset and
 *     scale notation when labels would be long; date ticks in the archive's
 *     YYYY:DDD:hh:mm:ss format at round UTC intervals; axis titles with the
 *     MSID and its unit;
 *   - the BAD_TIMES intervals of the MSID shaded.
 *
 * Thread-safety: a plot is used by one thread; plots are independent.
 */
#ifndef ASTRO_TLM_PLOT_H
#define ASTRO_TLM_PLOT_H

#include <stdint.h>
#include "core/astro.h"
#include "tlm_parse.h"
#include "tlm_stats.h"

#define ASTRO_TLM_PLOT_WIDTH 920	/* pixels (SVG px) */
#define ASTRO_TLM_PLOT_HEIGHT 400
#define ASTRO_TLM_PLOT_COLS 800	/* time columns */

struct astro_tlm_plot;

/*
 * A plot of msid (unit may be "") of type `type` over [t0, t1] (TT µs);
 * bt (may be NULL; read during astro_tlm_plot_new only) gives the BAD_TIMES
 * intervals to shade.  NULL when out of memory.
 */
struct astro_tlm_plot *astro_tlm_plot_new(const char *msid, const char *unit, uint8_t type,
					  int64_t t0, int64_t t1,
					  const struct astro_tlm_badtimes *bt);
/* One good sample; t in [t0, t1], ascending.  0 or -ENOMEM. */
int astro_tlm_plot_add(struct astro_tlm_plot *p, int64_t t, const struct astro_tlm_val *v);
/*
 * A summary of n good samples around t (a statistics bin): their min, max
 * and mean, for plots of long spans, where a column holds many bins.
 */
int astro_tlm_plot_add_bin(struct astro_tlm_plot *p, int64_t t, double lo, double hi,
			   double mean, uint32_t n);
/* Draw as SVG (png = 0) or PNG into out.  0, -ENOMEM or -EIO (cairo). */
int astro_tlm_plot_write(struct astro_tlm_plot *p, int png, struct astro_buf *out);
void astro_tlm_plot_free(struct astro_tlm_plot *p);

#endif

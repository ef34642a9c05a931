/* tlm_plot.c — SVG and PNG plots of one MSID from one cairo drawing path (see tlm_plot.h). */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cairo.h>
#include <cairo-svg.h>
#include "tlm_plot.h"
#include "tlm_time.h"

#define NCOL ASTRO_TLM_PLOT_COLS
#define MAXSTATES 48
#define FONT 12.0
#define TICK 5.0

struct col {
	double lo, hi, sum;
	uint32_t n;
	int16_t first, last;	/* states: indexes of the first and last state */
};

struct pt {
	int64_t t;
	double y;
};

struct span {
	int64_t a, b;
};

struct astro_tlm_plot {
	char msid[ASTRO_TLM_MSID_MAX];
	char unit[ASTRO_TLM_UNIT_MAX];
	uint8_t type;
	int64_t t0, t1;
	struct col col[NCOL];
	struct pt pts[NCOL];	/* the first NCOL samples */
	uint64_t n;		/* samples added */
	double lo, hi;
	char *states[MAXSTATES];	/* state texts in order of first appearance */
	int nstates;
	struct span *bad;	/* BAD_TIMES intervals over [t0, t1] */
	size_t nbad;
};

struct astro_tlm_plot *astro_tlm_plot_new(const char *msid, const char *unit, uint8_t type,
					  int64_t t0, int64_t t1,
					  const struct astro_tlm_badtimes *bt)
{
	struct astro_tlm_plot *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	astro_strlcpy(p->msid, msid, sizeof(p->msid));
	astro_strlcpy(p->unit, unit ? unit : "", sizeof(p->unit));
	p->type = type;
	if (t1 <= t0) {
		/* one instant: a minute either side */
		t0 -= 30 * ASTRO_TLM_US;
		t1 = t0 + 60 * ASTRO_TLM_US;
	}
	p->t0 = t0;
	p->t1 = t1;
	for (size_t i = 0; bt && i < bt->n; i++) {
		struct astro_tlm_badtimes one = {&bt->v[i], 1};

		if (bt->v[i].stop < t0 || bt->v[i].start > t1 ||
		    !astro_tlm_parse_badtimes_match(&one, msid, bt->v[i].start))
			continue;
		struct span *q = realloc(p->bad, (p->nbad + 1) * sizeof(*q));

		if (!q) {
			astro_tlm_plot_free(p);
			return NULL;
		}
		p->bad = q;
		p->bad[p->nbad].a = bt->v[i].start;
		p->bad[p->nbad++].b = bt->v[i].stop;
	}
	return p;
}

void astro_tlm_plot_free(struct astro_tlm_plot *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->nstates; i++)
		free(p->states[i]);
	free(p->bad);
	free(p);
}

/* A state's index, added on first sight; the last index takes all beyond MAXSTATES. */
static int state_index(struct astro_tlm_plot *p, const char *s, size_t n)
{
	for (int i = 0; i < p->nstates; i++)
		if (strlen(p->states[i]) == n && !memcmp(p->states[i], s, n))
			return i;
	if (p->nstates == MAXSTATES) {
		if (strcmp(p->states[MAXSTATES - 1], "(other)")) {
			free(p->states[MAXSTATES - 1]);
			if (!(p->states[MAXSTATES - 1] = strdup("(other)")))
				return -ENOMEM;
		}
		return MAXSTATES - 1;
	}
	if (!(p->states[p->nstates] = strndup(s, n)))
		return -ENOMEM;
	return p->nstates++;
}

int astro_tlm_plot_add(struct astro_tlm_plot *p, int64_t t, const struct astro_tlm_val *v)
{
	double y;
	int c = (int)((double)(t - p->t0) / (double)(p->t1 - p->t0) * NCOL);
	struct col *k;

	if (v->type == ASTRO_TLM_STATE) {
		int s = state_index(p, v->text, v->tlen);

		if (s < 0)
			return s;
		y = s;
	} else {
		y = v->type == ASTRO_TLM_INT ? (double)v->i : v->f;
	}
	c = c < 0 ? 0 : c >= NCOL ? NCOL - 1 : c;
	k = &p->col[c];
	if (!k->n || y < k->lo)
		k->lo = y;
	if (!k->n || y > k->hi)
		k->hi = y;
	if (!k->n)
		k->first = (int16_t)y;
	k->last = (int16_t)y;
	k->sum += y;
	k->n++;
	if (!p->n || y < p->lo)
		p->lo = y;
	if (!p->n || y > p->hi)
		p->hi = y;
	if (p->n < NCOL) {
		p->pts[p->n].t = t;
		p->pts[p->n].y = y;
	}
	p->n++;
	return 0;
}

int astro_tlm_plot_add_bin(struct astro_tlm_plot *p, int64_t t, double lo, double hi,
			   double mean, uint32_t n)
{
	int c = (int)((double)(t - p->t0) / (double)(p->t1 - p->t0) * NCOL);
	struct col *k;

	if (!n)
		return 0;
	c = c < 0 ? 0 : c >= NCOL ? NCOL - 1 : c;
	k = &p->col[c];
	if (!k->n || lo < k->lo)
		k->lo = lo;
	if (!k->n || hi > k->hi)
		k->hi = hi;
	k->sum += mean * n;
	k->n += n;
	if (!p->n || lo < p->lo)
		p->lo = lo;
	if (!p->n || hi > p->hi)
		p->hi = hi;
	/* more than a column's worth: drawn as columns, never as points */
	p->n += n > NCOL + 1 ? n : NCOL + 1;
	return 0;
}

/* ---- axes ---- */

/* 1, 2 or 5 × 10^k nearest above x. */
static double nice_step(double x)
{
	double e = pow(10, floor(log10(x))), f = x / e;

	return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * e;
}

struct yaxis {
	double lo, hi;		/* the axis range */
	double step, first;	/* ticks: first, first + step, … ≤ hi */
	int nticks;
	double offset, scale;	/* label = (value - offset) / scale */
	int decimals;
	char note[80];		/* "×1e-7  +0.2095467" when offset/scale are used */
};

static int label_len(const struct yaxis *a, double v, char *buf, size_t n)
{
	double x = (v - a->offset) / a->scale;

	if (fabs(x) < 1e-12 * (fabs(a->step) / a->scale))
		x = 0;	/* no "-0.0" */
	return snprintf(buf, n, "%.*f", a->decimals, x);
}

/* Nice ticks over [lo, hi] and, when the labels would be long, an offset and/or a scale. */
static void y_ticks(struct yaxis *a, double lo, double hi)
{
	char buf[64];
	int longest = 0;

	/* Half-sums keep every figure finite up to ±DBL_MAX. */
	double mid = lo / 2 + hi / 2, half = hi / 2 - lo / 2;

	if (!(half >= fabs(mid) * 1e-15 && half >= 1e-290))
		half = fabs(mid) >= 1e-290 ? fabs(mid) * 0.05 : 1;	/* a constant: the line in the middle */
	else
		half *= 1.05;
	half = fmin(half, DBL_MAX / 2.2);
	mid = fmax(fmin(mid, DBL_MAX / 2.2), -DBL_MAX / 2.2);
	lo = mid - half;
	hi = mid + half;
	a->step = nice_step(2 * half / 6);
	a->first = ceil(lo / a->step) * a->step;
	a->nticks = (int)fmin(fmax(floor(hi / a->step - a->first / a->step + 1e-9) + 1, 0), 40);
	a->lo = lo;
	a->hi = hi;
	a->offset = 0;
	a->scale = 1;
	a->decimals = a->step >= 1 ? 0 : (int)ceil(-log10(a->step) - 1e-9);
	a->note[0] = '\0';
	for (int i = 0; i < a->nticks; i++) {
		int l = label_len(a, a->first + i * a->step, buf, sizeof(buf));

		longest = l > longest ? l : longest;
	}
	if (longest <= 8)
		return;
	/* matplotlib's way: an offset when the range is tiny next to the values, then a power of ten */
	double mag = fmax(fabs(lo), fabs(hi)), range = hi - lo;

	if (range < mag * 1e-3) {
		double unit = pow(10, ceil(log10(range)));

		a->offset = floor(lo / unit) * unit;
	}
	int e = (int)floor(log10(a->step));

	if (a->offset == 0)
		e = (int)floor(log10(mag));
	if (e <= -3 || e >= 4)
		a->scale = pow(10, e);
	a->decimals = a->step / a->scale >= 1 ? 0 : (int)ceil(-log10(a->step / a->scale) - 1e-9);
	{
		char s[32] = "", o[40] = "";

		if (a->scale != 1)
			snprintf(s, sizeof(s), "\u00d71e%d", e);
		if (a->offset != 0)
			snprintf(o, sizeof(o), "%s%.15g", a->offset > 0 ? "+" : "\u2212", fabs(a->offset));
		snprintf(a->note, sizeof(a->note), "%s%s%s", s, s[0] && o[0] ? "  " : "", o);
	}
}

/* Date tick intervals in seconds; ≥ 1 day they fall on UTC midnights. */
static const int64_t steps[] = {
	1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
	86400, 2 * 86400, 5 * 86400, 10 * 86400, 15 * 86400, 30 * 86400, 60 * 86400,
	91 * 86400, 182 * 86400, 365 * 86400, 730 * 86400, 1826 * 86400, 3652 * 86400,
};

static int64_t x_step(int64_t span_us)
{
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if ((double)span_us / ((double)steps[i] * ASTRO_TLM_US) <= 6.5)
			return steps[i];
	return steps[sizeof(steps) / sizeof(steps[0]) - 1];
}

/* The next tick at or after t for interval s (seconds); -1 when out of the time table. */
static int next_tick(int64_t t, int64_t s, int64_t *out)
{
	int64_t day, d0;

	if (astro_tlm_time_utc_day(t, &day) || astro_tlm_time_day_start(day, &d0))
		return -1;
	if (s >= 86400) {
		/* days 001, 001 + n, … of each year (a year's start when n is a year or more);
		 * a tick too close to the next 001 is left out */
		int64_t n = s / 86400;

		for (int64_t d = day;; d++) {
			struct astro_tlm_utc u;

			if (astro_tlm_time_day_start(d, out) || astro_tlm_time_to_utc(*out, &u))
				return -1;
			if (*out < t)
				continue;
			if (n >= 365 ? u.doy == 1 && u.year % (n / 365) == 0 :
			    (u.doy - 1) % n == 0 && (u.doy == 1 || u.doy - 1 + n / 2 < 365))
				return 0;
		}
	}
	int64_t k = (t - d0 + s * ASTRO_TLM_US - 1) / (s * ASTRO_TLM_US);

	*out = d0 + k * s * ASTRO_TLM_US;
	return 0;
}

/* ---- drawing ---- */

struct frame {
	double x0, y0, w, h;	/* the plot area */
	struct astro_tlm_plot *p;
	struct yaxis ya;
};

static double fx(const struct frame *f, int64_t t)
{
	return f->x0 + (double)(t - f->p->t0) / (double)(f->p->t1 - f->p->t0) * f->w;
}

static double fy(const struct frame *f, double v)
{
	return f->y0 + f->h - (v / 2 - f->ya.lo / 2) / (f->ya.hi / 2 - f->ya.lo / 2) * f->h;
}

static double text_w(cairo_t *cr, const char *s)
{
	cairo_text_extents_t e;

	cairo_text_extents(cr, s, &e);
	return e.x_advance;
}

/* Text with its anchor: ax 0 left, 0.5 centre, 1 right; ay likewise top..bottom of the digits. */
static void text_at(cairo_t *cr, double x, double y, double ax, double ay, const char *s)
{
	cairo_text_extents_t e, z;

	cairo_text_extents(cr, s, &e);
	cairo_text_extents(cr, "0", &z);	/* the digits' height: -y_bearing */
	cairo_move_to(cr, x - ax * e.x_advance, y - (1 - ay) * z.y_bearing);
	cairo_show_text(cr, s);
}

static void rgb(cairo_t *cr, unsigned c)
{
	cairo_set_source_rgb(cr, (c >> 16 & 255) / 255.0, (c >> 8 & 255) / 255.0, (c & 255) / 255.0);
}

static void y_label(const struct frame *f, int i, char *buf, size_t n)
{
	if (f->p->type == ASTRO_TLM_STATE)
		snprintf(buf, n, "%s", f->p->states[i]);
	else
		label_len(&f->ya, f->ya.first + i * f->ya.step, buf, n);
}

static double y_tick_value(const struct frame *f, int i)
{
	return f->p->type == ASTRO_TLM_STATE ? i : f->ya.first + i * f->ya.step;
}

static void draw_axes(cairo_t *cr, struct frame *f)
{
	const struct astro_tlm_plot *p = f->p;
	char buf[64], date[ASTRO_TLM_TIME_BUF];
	int64_t s = x_step(p->t1 - p->t0), t;
	size_t keep = s >= 86400 ? 8 : s >= 60 ? 14 : 17;

	/* bad times under everything */
	cairo_set_source_rgba(cr, 0.85, 0.2, 0.2, 0.18);
	for (size_t i = 0; i < p->nbad; i++) {
		double a = fx(f, p->bad[i].a < p->t0 ? p->t0 : p->bad[i].a);
		double b = fx(f, p->bad[i].b > p->t1 ? p->t1 : p->bad[i].b);

		cairo_rectangle(cr, a, f->y0, b - a < 1 ? 1 : b - a, f->h);
		cairo_fill(cr);
	}
	cairo_set_line_width(cr, 1);
	/* y grid, ticks and labels */
	int ny = p->type == ASTRO_TLM_STATE ? p->nstates : f->ya.nticks;

	for (int i = 0; i < ny; i++) {
		double y = round(fy(f, y_tick_value(f, i))) + 0.5;

		rgb(cr, 0xe4e4e4);
		cairo_move_to(cr, f->x0, y);
		cairo_line_to(cr, f->x0 + f->w, y);
		cairo_stroke(cr);
		rgb(cr, 0x444444);
		cairo_move_to(cr, f->x0 - TICK, y);
		cairo_line_to(cr, f->x0, y);
		cairo_stroke(cr);
		y_label(f, i, buf, sizeof(buf));
		rgb(cr, 0x222222);
		text_at(cr, f->x0 - TICK - 3, y, 1, 0.5, buf);
	}
	/* x grid, ticks and dates */
	for (int r = next_tick(p->t0, s, &t); r == 0 && t <= p->t1;
	     r = next_tick(t + ASTRO_TLM_US, s, &t)) {
		double x = round(fx(f, t)) + 0.5;

		rgb(cr, 0xe4e4e4);
		cairo_move_to(cr, x, f->y0);
		cairo_line_to(cr, x, f->y0 + f->h);
		cairo_stroke(cr);
		rgb(cr, 0x444444);
		cairo_move_to(cr, x, f->y0 + f->h);
		cairo_line_to(cr, x, f->y0 + f->h + TICK);
		cairo_stroke(cr);
		astro_tlm_time_fmt_date(t, date);
		date[keep] = '\0';
		rgb(cr, 0x222222);
		double w = text_w(cr, date), cx = x;

		/* keep the end labels inside the picture */
		if (cx - w / 2 < 2)
			cx = 2 + w / 2;
		if (cx + w / 2 > ASTRO_TLM_PLOT_WIDTH - 2)
			cx = ASTRO_TLM_PLOT_WIDTH - 2 - w / 2;
		text_at(cr, cx, f->y0 + f->h + TICK + 3 + FONT * 0.72, 0.5, 1, date);
	}
	rgb(cr, 0x444444);
	cairo_rectangle(cr, f->x0 + 0.5, f->y0 + 0.5, f->w - 1, f->h - 1);
	cairo_stroke(cr);
	if (f->ya.note[0]) {
		rgb(cr, 0x222222);
		text_at(cr, f->x0, f->y0 - 5, 0, 1, f->ya.note);
	}
}

static void draw_numbers(cairo_t *cr, const struct frame *f)
{
	const struct astro_tlm_plot *p = f->p;
	double cw = f->w / NCOL;
	int started = 0;

	if (p->n <= NCOL) {
		/* few samples: each one shows, joined */
		rgb(cr, 0x1f5fa8);
		cairo_set_line_width(cr, 1.2);
		for (uint64_t i = 0; i < p->n; i++) {
			double x = fx(f, p->pts[i].t), y = fy(f, p->pts[i].y);

			if (i)
				cairo_line_to(cr, x, y);
			else
				cairo_move_to(cr, x, y);
		}
		cairo_stroke(cr);
		for (uint64_t i = 0; i < p->n; i++) {
			cairo_arc(cr, fx(f, p->pts[i].t), fy(f, p->pts[i].y), 2.5, 0, 2 * M_PI);
			cairo_fill(cr);
		}
		return;
	}
	/* the envelope: min..max of each column, at least a pixel tall */
	cairo_set_source_rgb(cr, 0.62, 0.75, 0.9);
	for (int c = 0; c < NCOL; c++) {
		const struct col *k = &p->col[c];
		double a, b;

		if (!k->n)
			continue;
		a = fy(f, k->hi);
		b = fy(f, k->lo);
		if (b - a < 1) {
			a = (a + b) / 2 - 0.5;
			b = a + 1;
		}
		cairo_rectangle(cr, f->x0 + c * cw, a, cw < 1 ? 1 : cw, b - a);
	}
	cairo_fill(cr);
	/* the mean, one line through every column that has samples */
	rgb(cr, 0x1f5fa8);
	cairo_set_line_width(cr, 1.2);
	for (int c = 0; c < NCOL; c++) {
		const struct col *k = &p->col[c];
		double x = f->x0 + (c + 0.5) * cw, y;

		if (!k->n)
			continue;
		y = fy(f, k->sum / k->n);
		if (started)
			cairo_line_to(cr, x, y);
		else
			cairo_move_to(cr, x, y);
		started = 1;
	}
	cairo_stroke(cr);
}

/* States: steps; a column with several states shows them all as a vertical run. */
static void draw_states(cairo_t *cr, const struct frame *f)
{
	const struct astro_tlm_plot *p = f->p;
	double cw = f->w / NCOL;
	int started = 0;

	rgb(cr, 0x1f5fa8);
	cairo_set_line_width(cr, 1.6);
	if (p->n <= NCOL) {
		for (uint64_t i = 0; i < p->n; i++) {
			double x = fx(f, p->pts[i].t), y = fy(f, p->pts[i].y);

			if (i)
				cairo_line_to(cr, x, fy(f, p->pts[i - 1].y));
			else
				cairo_move_to(cr, x, y);
			cairo_line_to(cr, x, y);
		}
		if (p->n)
			cairo_line_to(cr, f->x0 + f->w, fy(f, p->pts[p->n - 1].y));
		cairo_stroke(cr);
		for (uint64_t i = 0; i < p->n; i++) {
			cairo_arc(cr, fx(f, p->pts[i].t), fy(f, p->pts[i].y), 2.5, 0, 2 * M_PI);
			cairo_fill(cr);
		}
		return;
	}
	double prev = 0;

	for (int c = 0; c < NCOL; c++) {
		const struct col *k = &p->col[c];
		double x = f->x0 + c * cw;

		if (!k->n)
			continue;
		if (!started)
			cairo_move_to(cr, x, fy(f, k->first));
		else
			cairo_line_to(cr, x, fy(f, prev));
		cairo_line_to(cr, x, fy(f, k->first));
		if (k->hi > k->lo) {
			cairo_line_to(cr, x, fy(f, k->lo));
			cairo_line_to(cr, x, fy(f, k->hi));
		}
		cairo_line_to(cr, x, fy(f, k->last));
		prev = k->last;
		started = 1;
	}
	if (started)
		cairo_line_to(cr, f->x0 + f->w, fy(f, prev));
	cairo_stroke(cr);
}

static void draw(cairo_t *cr, struct astro_tlm_plot *p)
{
	struct frame f = {.p = p};
	char buf[64], title[ASTRO_TLM_MSID_MAX + ASTRO_TLM_UNIT_MAX + 4];
	double lw = 0;

	rgb(cr, 0xffffff);
	cairo_paint(cr);
	cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(cr, FONT);
	if (p->type == ASTRO_TLM_STATE) {
		f.ya.lo = -0.5;
		f.ya.hi = p->nstates ? p->nstates - 0.5 : 0.5;
	} else {
		y_ticks(&f.ya, p->lo, p->hi);
	}
	/* the y axis as wide as its longest label */
	int ny = p->type == ASTRO_TLM_STATE ? p->nstates : f.ya.nticks;

	for (int i = 0; i < ny; i++) {
		y_label(&f, i, buf, sizeof(buf));
		lw = fmax(lw, text_w(cr, buf));
	}
	f.x0 = 6 + FONT + 8 + lw + 3 + TICK;
	f.y0 = 36;
	f.w = ASTRO_TLM_PLOT_WIDTH - f.x0 - 24;
	f.h = ASTRO_TLM_PLOT_HEIGHT - f.y0 - 50;
	draw_axes(cr, &f);
	cairo_save(cr);
	cairo_rectangle(cr, f.x0, f.y0, f.w, f.h);
	cairo_clip(cr);
	if (p->type == ASTRO_TLM_STATE)
		draw_states(cr, &f);
	else
		draw_numbers(cr, &f);
	cairo_restore(cr);
	rgb(cr, 0x222222);
	if (!p->n)
		text_at(cr, f.x0 + f.w / 2, f.y0 + f.h / 2, 0.5, 0.5, "no good samples in this range");
	/* titles: the MSID on top, then the axes */
	if (p->unit[0])
		snprintf(title, sizeof(title), "%s [%s]", p->msid, p->unit);
	else
		snprintf(title, sizeof(title), "%s", p->msid);
	text_at(cr, f.x0 + f.w / 2, ASTRO_TLM_PLOT_HEIGHT - 8, 0.5, 1, "UTC (YYYY:DDD:hh:mm:ss)");
	cairo_save(cr);
	cairo_translate(cr, 6 + FONT * 0.8, f.y0 + f.h / 2);
	cairo_rotate(cr, -M_PI / 2);
	text_at(cr, 0, 0, 0.5, 1, title);
	cairo_restore(cr);
	cairo_set_font_size(cr, FONT + 3);
	text_at(cr, ASTRO_TLM_PLOT_WIDTH / 2.0, 20, 0.5, 1, title);
}

static cairo_status_t to_buf(void *arg, const unsigned char *data, unsigned int len)
{
	struct astro_buf *b = arg;

	astro_buf_put(b, data, len);
	return b->err ? CAIRO_STATUS_NO_MEMORY : CAIRO_STATUS_SUCCESS;
}

/*
 * cairo names the SVG's top group after the surface's process-wide serial
 * number ("surface17"): the same plot would differ in text, and in size,
 * from one rendering to the next, while a file's size must not change
 * between stat and read.  Every such id becomes "surface1".
 */
static void fixed_surface_ids(struct astro_buf *b, size_t from)
{
	static const char pat[] = "id=\"surface";
	size_t k = from;

	for (size_t i = from; i < b->len;) {
		if (b->len - i > sizeof(pat) && !memcmp(b->p + i, pat, sizeof(pat) - 1)) {
			memmove(b->p + k, pat, sizeof(pat) - 1);
			k += sizeof(pat) - 1;
			i += sizeof(pat) - 1;
			b->p[k++] = '1';
			while (i < b->len && b->p[i] >= '0' && b->p[i] <= '9')
				i++;
			continue;
		}
		b->p[k++] = b->p[i++];
	}
	b->len = k;
	if (b->p)
		b->p[k] = '\0';
}

int astro_tlm_plot_write(struct astro_tlm_plot *p, int png, struct astro_buf *out)
{
	size_t start = out->len;
	cairo_surface_t *s;
	cairo_t *cr;
	cairo_status_t st;

	if (png)
		s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, ASTRO_TLM_PLOT_WIDTH, ASTRO_TLM_PLOT_HEIGHT);
	else
		s = cairo_svg_surface_create_for_stream(to_buf, out, ASTRO_TLM_PLOT_WIDTH, ASTRO_TLM_PLOT_HEIGHT);
	if (!png)
		cairo_svg_surface_set_document_unit(s, CAIRO_SVG_UNIT_PX);
	cr = cairo_create(s);
	draw(cr, p);
	st = cairo_status(cr);
	cairo_destroy(cr);
	if (st == CAIRO_STATUS_SUCCESS && png)
		st = cairo_surface_write_to_png_stream(s, to_buf, out);
	cairo_surface_finish(s);
	if (st == CAIRO_STATUS_SUCCESS)
		st = cairo_surface_status(s);
	cairo_surface_destroy(s);
	if (!png && !out->err)
		fixed_surface_ids(out, start);
	if (out->err || st == CAIRO_STATUS_NO_MEMORY)
		return -ENOMEM;
	return st == CAIRO_STATUS_SUCCESS ? 0 : -EIO;
}

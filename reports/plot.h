/*
 * reports/plot.h: Cairo drawing primitives shared by the fig_*.c figures (internal).
 * Owns: the figure surface (one drawing code path for PNG and SVG), writing it out (PNG
 *       through libpng so it carries tEXt provenance; SVG with a <title>/<desc>), text,
 *       "nice number" axis ticks, the viridis map, the Okabe-Ito series styles and
 *       markers, the legend, hatching and the "no data" box.
 * Not here: any particular figure's layout (fig_heatmap.c, fig_lines.c).
 * Coordinates are pt from the top-left; the PNG surface is pre-scaled so figure code
 * never sees pixels.
 */
#ifndef ML_REPORTS_PLOT_H
#define ML_REPORTS_PLOT_H

#include "reports/report.h"

#include <cairo.h>
#include <stddef.h>

#define ML_PLOT_WIDTH_PT   336.0   /* 3.5 in at 72 pt/in: one paper column */
#define ML_PLOT_PNG_SCALE  3
#define ML_PLOT_FONT       "DejaVu Sans"
#define ML_PLOT_FS_TITLE   9.0     /* pt */
#define ML_PLOT_FS_LABEL   8.5
#define ML_PLOT_FS_TICK    7.5
#define ML_PLOT_TICK_LEN   3.5     /* matplotlib's major tick length */
#define ML_PLOT_LINE_W     0.8     /* spines and ticks */

typedef struct ml_plot ml_plot;

/* A white figure of w x h pt. Returns 0 or ML_ENOMEM/ML_EOS. */
int ml_plot__new(ml_plot **out, ml_fig_format fmt, double w_pt, double h_pt, int png_scale);
cairo_t *ml_plot__cr(ml_plot *p);
/* Finishes the drawing and writes path atomically, with `title` and opts' provenance as
 * PNG tEXt chunks or as the SVG's <title>/<desc>. */
int ml_plot__write(ml_plot *p, const char *path, const char *title, const ml_fig_opts *opts);
void ml_plot__free(ml_plot *p);
/* Tells a caller that asked (opts->layout) where the plot area landed. */
void ml_plot__report_layout(const ml_fig_opts *opts, double W, double H, double x, double y, double w, double h,
                            int no_data);

/* A scratch context with the figures' font settings, for measuring text before the
 * figure's size is known. Free with cairo_destroy(). Returns 0 or ML_ENOMEM. */
int ml_plot__measurer(cairo_t **out);

void ml_plot__font(cairo_t *cr, double size_pt, int bold);
double ml_plot__text_w(cairo_t *cr, const char *s);
/* Line height (ascent + descent) of the current font. */
double ml_plot__text_h(cairo_t *cr);
/* Draws s anchored at (x, y): ha 0/0.5/1 = left/centre/right, va 0/0.5/1 = top/middle/
 * bottom of the line box, the box then rotated by angle_deg (counter-clockwise). */
void ml_plot__text(cairo_t *cr, double x, double y, const char *s, double ha, double va,
                   double angle_deg);
/* Copies s into buf (size n), cut at a UTF-8 boundary with "…" so it is at most max_w
 * wide in the current font. Returns buf. */
char *ml_plot__fit(cairo_t *cr, const char *s, double max_w, char *buf, size_t n);

/* Ticks for the interval [lo, hi]: multiples of a 1/2/2.5/5 x 10^k step that lie in it,
 * at most max_ticks of them. Fills ticks[] (room for 64) and returns the count; *step
 * receives the spacing (for formatting). */
int ml_plot__ticks(double lo, double hi, int max_ticks, double *ticks, double *step);
/* Tick label with as many decimals as step needs; "-0" prints as "0". */
void ml_plot__tick_label(char *buf, size_t n, double v, double step);

/* matplotlib's viridis at t in [0, 1] (clamped; NaN gives grey). */
void ml_plot__viridis(double t, double rgb[3]);
/* Adds viridis colour stops to a linear gradient running from t = 0 to t = 1. */
void ml_plot__viridis_stops(cairo_pattern_t *pat);
/* Black or white, whichever contrasts more with rgb (WCAG contrast ratio). */
void ml_plot__contrast_text(const double rgb[3], double out[3]);

/* Series style i: an Okabe-Ito colour and a marker, cycling independently. */
void ml_plot__series_color(int i, double rgb[3]);
void ml_plot__marker(cairo_t *cr, int i, double x, double y, double size_pt);

/* Legend of n entries (line + marker + name) flowed into rows no wider than max_w.
 * _size reports its box; _draw draws it with its top-left at (x, y). */
void ml_plot__legend_size(cairo_t *cr, const char *const *names, int n, double max_w,
                          double *w, double *h);
void ml_plot__legend_draw(cairo_t *cr, double x, double y, const char *const *names, int n,
                          double max_w);

/* Diagonal hatch over a light grey rectangle: the "no data" fill. */
void ml_plot__hatch(cairo_t *cr, double x, double y, double w, double h);
/* A hatched box with `msg` centred in it. */
void ml_plot__no_data(cairo_t *cr, double x, double y, double w, double h, const char *msg);

#endif

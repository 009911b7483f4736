/*
 * reports/plot.h: Cairo drawing primitives shared by the fig_*.c figures (internal).
 * Owns: the figure surface (one drawing code path for PNG, SVG and PDF), writing it out
 *       (PNG through libpng with tEXt provenance; SVG with text as <text> and a
 *       <title>/<desc>; PDF with embedded fonts and document metadata), the style sizes
 *       derived from ml_fig_opts, text, "nice number" ticks, the axes frame, matplotlib's
 *       viridis, the Okabe-Ito series styles and markers, the legend, hatching and the
 *       "no data" box.
 * Not here: any particular figure's layout (fig_heatmap.c, fig_lines.c, fig_points.c).
 * Coordinates are pt from the top-left; the PNG surface is pre-scaled so figure code
 * never sees pixels. The look follows SciencePlots' "science" style: spines on four
 * sides, major and minor ticks pointing in on all four, no legend frame.
 */
#ifndef ML_REPORTS_PLOT_H
#define ML_REPORTS_PLOT_H

#include "reports/report.h"

#include <cairo.h>
#include <stddef.h>

#define ML_PLOT_WIDTH_PT   252.0   /* 3.5 in at 72 pt/in: one paper column */
#define ML_PLOT_FONT_PT    8.0
#define ML_PLOT_PNG_SCALE  3
#define ML_PLOT_FONT       "DejaVu Sans"
/* What an SVG viewer should use: the font the layout was measured with, then the
 * closest widely installed ones (textLength keeps the measured width either way). */
#define ML_PLOT_SVG_FONTS  "DejaVu Sans, Verdana, sans-serif"

/* Every size of one figure, in pt, derived from ml_fig_opts so that a larger font or a
 * wider figure scales the gaps, ticks and markers with it. */
typedef struct {
    double W;           /* figure width */
    double fs;          /* axis labels */
    double fs_tick;     /* tick labels and legend: fs - 1, not below 6.5 */
    double fs_title;    /* fs + 1 */
    double k;           /* fs / 8: the scale of everything below */
    double pad;         /* figure edge to content */
    double gap;         /* a label to what it labels */
    double tick_len, minor_len;
    double tick_pad;    /* spine to tick label (the ticks point in, so they do not count) */
    double spine_w;     /* spines and ticks */
    double line_w;      /* data lines */
    double marker;      /* marker size across */
    int    png_scale;
} ml_plot_style;

void ml_plot__style(ml_plot_style *st, const ml_fig_opts *opts);

/* Test hook for the negative golden-image tests: break one part of every later figure so
 * the comparison must fail. 0 (the default) breaks nothing. */
#define ML_PLOT_BREAK_COLORMAP 1u   /* viridis becomes a grey ramp */
#define ML_PLOT_BREAK_AXES     2u   /* spines and ticks are not drawn */
void ml_plot__test_break(unsigned flags);

typedef struct ml_plot ml_plot;

/* A white figure of w x h pt in one format (exactly one ML_FIG_* bit). Returns 0 or
 * ML_EINVALID (not one format), ML_ENOMEM, ML_EOS. */
int ml_plot__new(ml_plot **out, ml_fig_format fmt, double w_pt, double h_pt, int png_scale);
cairo_t *ml_plot__cr(ml_plot *p);
/* Finishes the drawing and writes path atomically with `title` and opts' provenance: PNG
 * tEXt chunks, the SVG's <title>/<desc>, or the PDF's document information. Returns 0 or
 * ML_EINVALID (opts->date not "YYYY-MM-DDThh:mm:ssZ"), ML_ENOMEM, ML_EOS. */
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
 * bottom of the line box, the box then rotated by angle_deg (counter-clockwise). On an
 * SVG figure the string becomes a <text> element instead of glyph outlines. */
void ml_plot__text(cairo_t *cr, double x, double y, const char *s, double ha, double va,
                   double angle_deg);
/* Copies s into buf (size n), cut at a UTF-8 boundary with "…" so it is at most max_w
 * wide in the current font. Returns buf. */
char *ml_plot__fit(cairo_t *cr, const char *s, double max_w, char *buf, size_t n);
/* The title in st->fs_title, its top at y, centred on cx but kept inside the figure. */
void ml_plot__title(cairo_t *cr, const ml_plot_style *st, double cx, double y, const char *title);

/* Ticks for the interval [lo, hi]: multiples of a 1/2/2.5/5 x 10^k step that lie in it,
 * at most max_ticks of them. Fills ticks[] (room for 64) and returns the count; *step
 * receives the spacing (for formatting). */
int ml_plot__ticks(double lo, double hi, int max_ticks, double *ticks, double *step);
/* Minor ticks in [lo, hi] between the majors of spacing `step`, like matplotlib's
 * AutoMinorLocator (5 intervals for a 1 or 5 step, else 4). Fills at most max; returns
 * the count. */
int ml_plot__minor_ticks(double lo, double hi, double step, double *out, int max);
/* Ticks for [lo, hi] on an axis len pt long: as many as leave one and a half label
 * widths (plus some padding) between neighbouring labels in st's tick font. Fills ticks[]
 * (room for 64), returns the count, *step gets the spacing. */
int ml_plot__axis_ticks(cairo_t *cr, const ml_plot_style *st, double lo, double hi, double len, double *ticks,
                        double *step);
/* Where content starts below an optional title (*top), and the line heights of the axis
 * label and tick fonts: what every figure's layout begins with. */
void ml_plot__heights(cairo_t *cr, const ml_plot_style *st, const char *title, double *top, double *label_h,
                      double *tick_h);
/* Tick label with as many decimals as step needs; "-0" prints as "0". */
void ml_plot__tick_label(char *buf, size_t n, double v, double step);

/* The axes frame: spines on all four sides and ticks pointing in, majors at xt (nxt) on
 * the bottom and top and yt (nyt) on the left and right, minors at xm/ym; positions in pt.
 * Labels are the caller's. */
void ml_plot__frame(cairo_t *cr, const ml_plot_style *st, double x, double y, double w, double h,
                    const double *xt, int nxt, const double *xm, int nxm,
                    const double *yt, int nyt, const double *ym, int nym);

/* matplotlib's viridis at t in [0, 1] looked up like its ListedColormap (256 entries,
 * index (int)(t * 256), t == 1 -> 255), each channel rounded to 8 bits as matplotlib's
 * to_hex reports it; t outside is clamped, NaN gives grey. */
void ml_plot__viridis(double t, double rgb[3]);
/* The 256 entries as stops of a linear gradient from t = 0 to t = 1, two per entry so
 * the bar shows the same discrete map in PNG, SVG and PDF. */
void ml_plot__viridis_stops(cairo_pattern_t *pat);
/* Black or white, whichever contrasts more with rgb (WCAG contrast ratio). */
void ml_plot__contrast_text(const double rgb[3], double out[3]);

/* Marker shapes; series i uses shape i % ML_PLOT_NMARKERS. */
enum { ML_PLOT_M_CIRCLE, ML_PLOT_M_SQUARE, ML_PLOT_M_TRIANGLE, ML_PLOT_M_DIAMOND,
       ML_PLOT_M_TRIANGLE_DOWN, ML_PLOT_M_PLUS, ML_PLOT_M_CROSS, ML_PLOT_NMARKERS };
/* Series style i: an Okabe-Ito colour and a marker, cycling independently. */
void ml_plot__series_color(int i, double rgb[3]);
void ml_plot__marker(cairo_t *cr, int shape, double x, double y, double size_pt);
/* The red ring around a flagged point (a regression). */
void ml_plot__ring(cairo_t *cr, const ml_plot_style *st, double x, double y);
extern const double ml_plot_flag_rgb[3];

/* One legend entry: a line sample and/or a marker, optionally over a shaded band sample,
 * or the flagged-point ring. */
typedef struct {
    const char *name;
    double rgb[3];
    int marker;    /* ML_PLOT_M_*, or -1 for none */
    int line;      /* 1: a line sample */
    int band;      /* 1: a shaded band behind the sample */
    int ring;      /* 1: the red ring of a flagged point */
} ml_plot_legend_item;

/* Legend of n entries, without a frame, flowed into equal columns no wider than max_w in
 * total (names too long for one column are cut with "…"). _size reports its box; _draw
 * draws it with its top-left at (x, y). */
void ml_plot__legend_size(cairo_t *cr, const ml_plot_style *st, const ml_plot_legend_item *items, int n,
                          double max_w, double *w, double *h);
void ml_plot__legend_draw(cairo_t *cr, const ml_plot_style *st, double x, double y,
                          const ml_plot_legend_item *items, int n, double max_w);

/* Diagonal hatch over a light grey rectangle: the "no data" fill. */
void ml_plot__hatch(cairo_t *cr, double x, double y, double w, double h);
/* A hatched box with `msg` centred in it. */
void ml_plot__no_data(cairo_t *cr, const ml_plot_style *st, double x, double y, double w, double h,
                      const char *msg);

#endif

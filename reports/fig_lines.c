/*
 * reports/fig_lines.c: the line-plot figure (ml_fig_lines).
 * Owns: its data ranges and ticks, axes, line breaks at NaN, markers and where the
 *       legend goes (below the axes, so it never covers data).
 * Not here: drawing primitives and file output (plot.c), what the series mean (report.c).
 */
#include "reports/plot.h"

#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define PAD        6.0
#define MARKER     4.5    /* pt across */
#define LINE_W     1.5    /* matplotlib's default lines.linewidth */
#define MAX_MARKERS 20    /* per series; more would bury the line */

typedef struct {
    double W, H, title_h;
    double ax, ay, aw, ah;          /* axes rectangle */
    double xlo, xhi, ylo, yhi;      /* data limits of the axes */
    double xt[64], yt[64], xstep, ystep;
    int    nxt, nyt;
    double xlabel_y, legend_x, legend_y, legend_max_w;
    int    no_data;
} ln_layout;

static int finite_range(const double *v, size_t n, const double *x, int npoints, double *lo,
                        double *hi) {
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i]) || isinf(v[i]) || (x && isnan(x[i % (size_t)npoints]))) continue;
        if (!any || v[i] < *lo) *lo = v[i];
        if (!any || v[i] > *hi) *hi = v[i];
        any = 1;
    }
    return any;
}

/* matplotlib's default: 5% of the data range as margin on each side, so no point sits
 * on a spine; a single value gets a range around it. */
static void pad_range(double *lo, double *hi) {
    if (!(*hi > *lo)) {
        double d = *lo != 0 ? fabs(*lo) * 0.1 : 1.0;
        *lo -= d;
        *hi += d;
        return;
    }
    double m = (*hi - *lo) * 0.05;
    *lo -= m;
    *hi += m;
}

/* As many x ticks as leave at least one label width of space between labels. */
static void x_ticks(cairo_t *cr, ln_layout *L) {
    char lab[32];
    ml_plot__font(cr, ML_PLOT_FS_TICK, 0);
    for (int max = 9; max >= 2; max--) {
        L->nxt = ml_plot__ticks(L->xlo, L->xhi, max, L->xt, &L->xstep);
        double widest = 0;
        for (int i = 0; i < L->nxt; i++) {
            ml_plot__tick_label(lab, sizeof(lab), L->xt[i], L->xstep);
            double w = ml_plot__text_w(cr, lab);
            if (w > widest) widest = w;
        }
        double spacing = L->nxt > 1 ? L->xstep / (L->xhi - L->xlo) * L->aw : L->aw;
        if (spacing >= widest * 1.6 + 4) return;
    }
}

static void layout(cairo_t *cr, ln_layout *L, double W, const char *title, const char *xlabel,
                   const char *ylabel, const double *x, int npoints,
                   const char *const *series_names, const double *series, int nseries,
                   const ml_fig_opts *opts) {
    char lab[32];
    L->W = W;
    ml_plot__font(cr, ML_PLOT_FS_TITLE, 1);
    L->title_h = title && *title ? ml_plot__text_h(cr) : 0;
    double top = PAD + L->title_h + (L->title_h > 0 ? 6 : 0);
    size_t n = (size_t)nseries * (size_t)npoints;
    int have_x = npoints > 0 && finite_range(x, (size_t)npoints, NULL, 0, &L->xlo, &L->xhi);
    L->no_data = !have_x || n == 0 || !finite_range(series, n, x, npoints, &L->ylo, &L->yhi);
    if (L->no_data) {
        L->ax = PAD;
        L->ay = top;
        L->aw = W - 2 * PAD;
        L->ah = W * 0.45;
        L->H = L->ay + L->ah + PAD;
        return;
    }
    for (int i = 0; opts && i < opts->y_include_n && i < 2; i++) {
        if (!isfinite(opts->y_include[i])) continue;
        if (opts->y_include[i] < L->ylo) L->ylo = opts->y_include[i];
        if (opts->y_include[i] > L->yhi) L->yhi = opts->y_include[i];
    }
    pad_range(&L->xlo, &L->xhi);
    pad_range(&L->ylo, &L->yhi);

    L->ay = top;
    L->ah = W * 0.5;
    ml_plot__font(cr, ML_PLOT_FS_TICK, 0);
    double tick_h = ml_plot__text_h(cr);
    int ymax = (int)(L->ah / (tick_h * 2.5)) + 1;
    L->nyt = ml_plot__ticks(L->ylo, L->yhi, ymax > 8 ? 8 : ymax, L->yt, &L->ystep);
    double ytw = 0;
    for (int i = 0; i < L->nyt; i++) {
        ml_plot__tick_label(lab, sizeof(lab), L->yt[i], L->ystep);
        double w = ml_plot__text_w(cr, lab);
        if (w > ytw) ytw = w;
    }
    ml_plot__font(cr, ML_PLOT_FS_LABEL, 0);
    double label_h = ml_plot__text_h(cr);
    L->ax = PAD + (ylabel && *ylabel ? label_h + 4 : 0) + ytw + ML_PLOT_TICK_LEN + 2;
    L->aw = W - L->ax - PAD - 8;   /* 8: room for half of the last x tick label */
    x_ticks(cr, L);
    double y = L->ay + L->ah + ML_PLOT_TICK_LEN + 2 + tick_h + 3;
    L->xlabel_y = y;
    if (xlabel && *xlabel) y += label_h;
    L->legend_max_w = W - 2 * PAD;
    double lw = 0, lh = 0;
    if (series_names) ml_plot__legend_size(cr, series_names, nseries, L->legend_max_w, &lw, &lh);
    L->legend_y = y + 6;
    /* centred under the axes, unless that would push it off the figure */
    L->legend_x = L->ax + L->aw / 2 - lw / 2;
    if (L->legend_x + lw > W - PAD) L->legend_x = W - PAD - lw;
    if (L->legend_x < PAD) L->legend_x = PAD;
    L->H = (lh > 0 ? L->legend_y + lh : y) + PAD;
}

static double px(const ln_layout *L, double v) { return L->ax + (v - L->xlo) / (L->xhi - L->xlo) * L->aw; }
static double py(const ln_layout *L, double v) { return L->ay + L->ah - (v - L->ylo) / (L->yhi - L->ylo) * L->ah; }

static int point_ok(const double *x, const double *s, int j) { return isfinite(x[j]) && isfinite(s[j]); }

static void draw(cairo_t *cr, const ln_layout *L, const char *title, const char *xlabel,
                 const char *ylabel, const double *x, int npoints,
                 const char *const *series_names, const double *series, int nseries) {
    char buf[256], lab[32];
    cairo_set_source_rgb(cr, 0, 0, 0);
    if (title && *title) {
        ml_plot__font(cr, ML_PLOT_FS_TITLE, 1);
        ml_plot__text(cr, L->W / 2, PAD, ml_plot__fit(cr, title, L->W - 2 * PAD, buf, sizeof(buf)),
                      0.5, 0, 0);
    }
    if (L->no_data) {
        ml_plot__no_data(cr, L->ax, L->ay, L->aw, L->ah, "no data");
        return;
    }
    /* light grid behind the data: reading a value off a 0.05-wide band needs it */
    cairo_set_source_rgb(cr, 0.90, 0.90, 0.90);
    cairo_set_line_width(cr, 0.5);
    for (int i = 0; i < L->nyt; i++) {
        cairo_move_to(cr, L->ax, py(L, L->yt[i]));
        cairo_line_to(cr, L->ax + L->aw, py(L, L->yt[i]));
    }
    for (int i = 0; i < L->nxt; i++) {
        cairo_move_to(cr, px(L, L->xt[i]), L->ay);
        cairo_line_to(cr, px(L, L->xt[i]), L->ay + L->ah);
    }
    cairo_stroke(cr);

    cairo_save(cr);
    cairo_rectangle(cr, L->ax, L->ay, L->aw, L->ah);
    cairo_clip(cr);
    int every = npoints > MAX_MARKERS ? (npoints + MAX_MARKERS - 1) / MAX_MARKERS : 1;
    for (int s = 0; s < nseries; s++) {
        const double *v = series + (size_t)s * (size_t)npoints;
        double rgb[3];
        ml_plot__series_color(s, rgb);
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_set_line_width(cr, LINE_W);
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
        int pen = 0;
        for (int j = 0; j < npoints; j++) {
            if (!point_ok(x, v, j)) { pen = 0; continue; }   /* a gap, not a bridge */
            if (pen) cairo_line_to(cr, px(L, x[j]), py(L, v[j]));
            else cairo_move_to(cr, px(L, x[j]), py(L, v[j]));
            pen = 1;
        }
        cairo_stroke(cr);
        for (int j = 0; j < npoints; j++) {
            if (!point_ok(x, v, j)) continue;
            int isolated = (j == 0 || !point_ok(x, v, j - 1)) && (j == npoints - 1 || !point_ok(x, v, j + 1));
            /* a point between two gaps has no line, so it always gets its marker */
            if (j % every == 0 || isolated) ml_plot__marker(cr, s, px(L, x[j]), py(L, v[j]), MARKER);
        }
    }
    cairo_restore(cr);

    /* spines and outward ticks, as matplotlib draws them */
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, ML_PLOT_LINE_W);
    cairo_rectangle(cr, L->ax, L->ay, L->aw, L->ah);
    for (int i = 0; i < L->nyt; i++) {
        cairo_move_to(cr, L->ax, py(L, L->yt[i]));
        cairo_line_to(cr, L->ax - ML_PLOT_TICK_LEN, py(L, L->yt[i]));
    }
    for (int i = 0; i < L->nxt; i++) {
        cairo_move_to(cr, px(L, L->xt[i]), L->ay + L->ah);
        cairo_line_to(cr, px(L, L->xt[i]), L->ay + L->ah + ML_PLOT_TICK_LEN);
    }
    cairo_stroke(cr);
    ml_plot__font(cr, ML_PLOT_FS_TICK, 0);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    for (int i = 0; i < L->nyt; i++) {
        ml_plot__tick_label(lab, sizeof(lab), L->yt[i], L->ystep);
        ml_plot__text(cr, L->ax - ML_PLOT_TICK_LEN - 2, py(L, L->yt[i]), lab, 1, 0.5, 0);
    }
    for (int i = 0; i < L->nxt; i++) {
        ml_plot__tick_label(lab, sizeof(lab), L->xt[i], L->xstep);
        ml_plot__text(cr, px(L, L->xt[i]), L->ay + L->ah + ML_PLOT_TICK_LEN + 2, lab, 0.5, 0, 0);
    }
    ml_plot__font(cr, ML_PLOT_FS_LABEL, 0);
    cairo_set_source_rgb(cr, 0, 0, 0);
    if (xlabel && *xlabel)
        ml_plot__text(cr, L->ax + L->aw / 2, L->xlabel_y,
                      ml_plot__fit(cr, xlabel, L->W - 2 * PAD, buf, sizeof(buf)), 0.5, 0, 0);
    if (ylabel && *ylabel)
        ml_plot__text(cr, PAD, L->ay + L->ah / 2, ml_plot__fit(cr, ylabel, L->ah, buf, sizeof(buf)),
                      0.5, 0, 90);
    if (series_names)
        ml_plot__legend_draw(cr, L->legend_x, L->legend_y, series_names, nseries, L->legend_max_w);
}

int ml_fig_lines(const char *path, ml_fig_format fmt, const char *title,
                 const char *xlabel, const char *ylabel,
                 const double *x, int npoints, const char *const *series_names,
                 const double *series, int nseries, const ml_fig_opts *opts) {
    cairo_t *m = NULL;
    ml_plot *p = NULL;
    ln_layout L = {0};
    int error;
    ML_CHECK_ARG(path != NULL, "ml_fig_lines: path is NULL");
    ML_CHECK_ARG(npoints >= 0 && nseries >= 0, "ml_fig_lines: %s: bad shape (%d series, %d points)",
                 path, nseries, npoints);
    ML_CHECK_ARG(npoints == 0 || x != NULL, "ml_fig_lines: %s: x is NULL", path);
    ML_CHECK_ARG(npoints * nseries == 0 || series != NULL, "ml_fig_lines: %s: series is NULL", path);
    double W = opts && opts->width_pt > 0 ? opts->width_pt : ML_PLOT_WIDTH_PT;

    if ((error = ml_plot__measurer(&m)) < 0) goto cleanup;
    layout(m, &L, W, title, xlabel, ylabel, x, npoints, series_names, series, nseries, opts);
    if ((error = ml_plot__new(&p, fmt, L.W, L.H, opts ? opts->png_scale : 0)) < 0) goto cleanup;
    draw(ml_plot__cr(p), &L, title, xlabel, ylabel, x, npoints, series_names, series, nseries);
    if ((error = ml_plot__write(p, path, title, opts)) < 0) goto cleanup;
    ml_plot__report_layout(opts, L.W, L.H, L.ax, L.ay, L.aw, L.ah, L.no_data);
cleanup:
    if (m) cairo_destroy(m);
    ml_plot__free(p);
    return error;
}

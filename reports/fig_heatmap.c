/*
 * reports/fig_heatmap.c: the annotated heatmap figure (ml_fig_heatmap).
 * Owns: its layout (labels, square cells, colour bar), cell annotations, NaN cells.
 * Not here: drawing primitives and file output (plot.c), what the values mean (report.c).
 * Layout is computed first on a measuring context (text widths decide the margins and
 * the figure's height), then drawn once for PNG or SVG from the same numbers.
 */
#include "reports/plot.h"

#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define PAD        6.0     /* figure edge to content */
#define LABEL_GAP  3.0     /* tick label to grid */
#define CBAR_GAP   10.0    /* grid to colour bar */
#define CBAR_W     9.0
#define NAME_MAX_W 0.28    /* of the figure width, for one row or column name */
#define ANNOTATE_MAX 12    /* rows and cols up to this get values written in cells */

typedef struct {
    double W, H;
    double title_y, title_h;
    double gx, gy, cell, gw, gh;   /* grid */
    double row_name_w, ylabel_x;
    int    col_rot;                /* 0, 45 or 90 degrees */
    int    row_every, col_every;   /* label every k-th row/column when cells are small */
    double col_names_h, xlabel_y;
    double cbx, cb_label_w;
    int    no_data;
} hm_layout;

static const char *name_of(const char *const *names, int i, char *buf, size_t n) {
    if (names && names[i]) return names[i];
    snprintf(buf, n, "%d", i);
    return buf;
}

static void cbar_ticks_w(cairo_t *cr, double vmin, double vmax, double h, double *w) {
    double ticks[64], step;
    char lab[32];
    ml_plot__font(cr, ML_PLOT_FS_TICK, 0);
    int max_ticks = (int)(h / (ml_plot__text_h(cr) * 1.6)) + 1;
    int n = ml_plot__ticks(vmin, vmax, max_ticks > 6 ? 6 : max_ticks, ticks, &step);
    *w = 0;
    for (int i = 0; i < n; i++) {
        ml_plot__tick_label(lab, sizeof(lab), ticks[i], step);
        double tw = ml_plot__text_w(cr, lab);
        if (tw > *w) *w = tw;
    }
}

static void layout(cairo_t *cr, hm_layout *L, double W, const char *title, const char *row_label,
                   const char *col_label, const char *const *row_names,
                   const char *const *col_names, int rows, int cols, int no_data,
                   double vmin, double vmax) {
    char buf[256], num[16];
    L->W = W;
    L->no_data = no_data;
    ml_plot__font(cr, ML_PLOT_FS_TITLE, 1);
    L->title_y = PAD;
    L->title_h = title && *title ? ml_plot__text_h(cr) : 0;
    double top = PAD + L->title_h + (L->title_h > 0 ? 6 : 0);
    if (no_data) {
        L->gx = PAD;
        L->gy = top;
        L->gw = W - 2 * PAD;
        L->gh = W * 0.45;
        L->H = L->gy + L->gh + PAD;
        return;
    }
    /* left: rotated row_label, then the row names right-aligned against the grid */
    ml_plot__font(cr, ML_PLOT_FS_TICK, 0);
    double tick_h = ml_plot__text_h(cr);
    L->row_name_w = 0;
    for (int r = 0; r < rows; r++) {
        double w = ml_plot__text_w(cr, ml_plot__fit(cr, name_of(row_names, r, num, sizeof(num)),
                                                    W * NAME_MAX_W, buf, sizeof(buf)));
        if (w > L->row_name_w) L->row_name_w = w;
    }
    ml_plot__font(cr, ML_PLOT_FS_LABEL, 0);
    double label_h = ml_plot__text_h(cr);
    double left = PAD + (row_label && *row_label ? label_h + 4 : 0) + L->row_name_w + LABEL_GAP;
    /* right: the colour bar and its tick labels; "1.0" is as wide as they get for [0,1]
     * but measure anyway, the range is the caller's */
    double cb_w;
    cbar_ticks_w(cr, vmin, vmax, W * 0.5, &cb_w);
    L->cb_label_w = cb_w;
    double right = CBAR_GAP + CBAR_W + ML_PLOT_TICK_LEN + 2 + cb_w + PAD;
    ml_plot__font(cr, ML_PLOT_FS_TICK, 0);
    double col_w = 0, col0_w = 0;
    for (int c = 0; c < cols; c++) {
        double w = ml_plot__text_w(cr, ml_plot__fit(cr, name_of(col_names, c, num, sizeof(num)),
                                                    W * NAME_MAX_W, buf, sizeof(buf)));
        if (w > col_w) col_w = w;
        if (c == 0) col0_w = w;
    }
    /* Two passes: a slanted first column name can reach left past the figure edge when
     * the row names are short; the second pass widens the left margin to make room. */
    for (int pass = 0; pass < 2; pass++) {
        double avail = W - left - right;
        /* square cells, the grid no taller than 0.6 of the width: a 2x2 grid stays a
         * figure, not a poster, and a tall one still fits a page column */
        double cell = avail / cols;
        if (cell > W * 0.6 / rows) cell = W * 0.6 / rows;
        L->cell = cell;
        L->gw = cell * cols;
        L->gh = cell * rows;
        L->gx = left + (avail - L->gw) / 2;   /* centre a narrow grid, keep the bar beside it */
        L->gy = top;
        L->cbx = L->gx + L->gw + CBAR_GAP;
        /* the row label stays next to the row names when a narrow grid is centred */
        L->ylabel_x = L->gx - LABEL_GAP - L->row_name_w - 4 - label_h;
        L->row_every = cell >= tick_h * 1.05 ? 1 : (int)ceil(tick_h * 1.05 / cell);
        /* bottom: column names horizontal if they fit their cell, else 45 degrees like
         * matplotlib's rotation=45, ha="right", else 90 degrees and thinned */
        L->col_every = 1;
        if (col_w <= cell - 3) {
            L->col_rot = 0;
            L->col_names_h = tick_h;
        } else if (cell >= tick_h * 1.5) {
            L->col_rot = 45;
            L->col_names_h = (col_w + tick_h) * M_SQRT1_2;
        } else {
            L->col_rot = 90;
            L->col_names_h = col_w;
            L->col_every = cell >= tick_h * 1.05 ? 1 : (int)ceil(tick_h * 1.05 / cell);
        }
        double reach = L->gx + cell / 2 + 2 - (col0_w + tick_h / 2) * M_SQRT1_2;
        if (L->col_rot != 45 || reach >= PAD) break;
        left += PAD - reach;
    }
    L->xlabel_y = L->gy + L->gh + LABEL_GAP + L->col_names_h + 4;
    L->H = L->xlabel_y + (col_label && *col_label ? label_h : 0) + PAD;
}

static void draw(cairo_t *cr, const hm_layout *L, const char *title, const char *row_label,
                 const char *col_label, const char *const *row_names,
                 const char *const *col_names, const double *values, int rows, int cols,
                 double vmin, double vmax) {
    char buf[256], num[16];
    cairo_set_source_rgb(cr, 0, 0, 0);
    if (title && *title) {
        ml_plot__font(cr, ML_PLOT_FS_TITLE, 1);
        ml_plot__text(cr, L->W / 2, L->title_y, ml_plot__fit(cr, title, L->W - 2 * PAD, buf, sizeof(buf)),
                      0.5, 0, 0);
    }
    if (L->no_data) {
        ml_plot__no_data(cr, L->gx, L->gy, L->gw, L->gh, "no data");
        return;
    }
    double span = vmax - vmin;
    /* cells */
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
            double v = values[(size_t)r * (size_t)cols + (size_t)c], rgb[3];
            double x = L->gx + c * L->cell, y = L->gy + r * L->cell;
            if (isnan(v)) { ml_plot__hatch(cr, x, y, L->cell, L->cell); continue; }
            ml_plot__viridis((v - vmin) / span, rgb);
            cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
            cairo_rectangle(cr, x, y, L->cell, L->cell);
            cairo_fill(cr);
        }
    }
    /* thin white separators read as a table, not a blurred image; skipped when the cells
     * are so small the lines would dominate */
    if (L->cell >= 10) {
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_set_line_width(cr, 0.75);
        for (int r = 1; r < rows; r++) {
            cairo_move_to(cr, L->gx, L->gy + r * L->cell);
            cairo_line_to(cr, L->gx + L->gw, L->gy + r * L->cell);
        }
        for (int c = 1; c < cols; c++) {
            cairo_move_to(cr, L->gx + c * L->cell, L->gy);
            cairo_line_to(cr, L->gx + c * L->cell, L->gy + L->gh);
        }
        cairo_stroke(cr);
    }
    /* values in cells, in black or white, whichever contrasts more with the cell */
    if (rows <= ANNOTATE_MAX && cols <= ANNOTATE_MAX) {
        double fs = L->cell * 0.3;
        if (fs > 8.0) fs = 8.0;
        ml_plot__font(cr, fs, 0);
        if (ml_plot__text_w(cr, "-0.00") > L->cell - 2) fs *= (L->cell - 2) / ml_plot__text_w(cr, "-0.00");
        if (fs >= 4.5) {
            ml_plot__font(cr, fs, 0);
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    double v = values[(size_t)r * (size_t)cols + (size_t)c], rgb[3], ink[3];
                    if (isnan(v)) continue;
                    ml_plot__viridis((v - vmin) / span, rgb);
                    ml_plot__contrast_text(rgb, ink);
                    cairo_set_source_rgb(cr, ink[0], ink[1], ink[2]);
                    snprintf(num, sizeof(num), "%.2f", v);
                    ml_plot__text(cr, L->gx + (c + 0.5) * L->cell, L->gy + (r + 0.5) * L->cell, num,
                                  0.5, 0.5, 0);
                }
            }
        }
    }
    /* row and column names */
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    ml_plot__font(cr, ML_PLOT_FS_TICK, 0);
    for (int r = 0; r < rows; r += L->row_every) {
        const char *nm = ml_plot__fit(cr, name_of(row_names, r, num, sizeof(num)), L->W * NAME_MAX_W,
                                      buf, sizeof(buf));
        ml_plot__text(cr, L->gx - LABEL_GAP, L->gy + (r + 0.5) * L->cell, nm, 1, 0.5, 0);
    }
    for (int c = 0; c < cols; c += L->col_every) {
        const char *nm = ml_plot__fit(cr, name_of(col_names, c, num, sizeof(num)), L->W * NAME_MAX_W,
                                      buf, sizeof(buf));
        double x = L->gx + (c + 0.5) * L->cell, y = L->gy + L->gh + LABEL_GAP;
        if (L->col_rot == 0) ml_plot__text(cr, x, y, nm, 0.5, 0, 0);
        else if (L->col_rot == 45) ml_plot__text(cr, x + 2, y + 2, nm, 1, 0.5, 45);
        else ml_plot__text(cr, x, y, nm, 1, 0.5, 90);
    }
    /* axis labels: the column label centred under the grid, the row label rotated and
     * centred on it */
    ml_plot__font(cr, ML_PLOT_FS_LABEL, 0);
    cairo_set_source_rgb(cr, 0, 0, 0);
    if (col_label && *col_label)
        ml_plot__text(cr, L->gx + L->gw / 2, L->xlabel_y,
                      ml_plot__fit(cr, col_label, L->W - 2 * PAD, buf, sizeof(buf)), 0.5, 0, 0);
    if (row_label && *row_label)
        ml_plot__text(cr, L->ylabel_x, L->gy + L->gh / 2,
                      ml_plot__fit(cr, row_label, L->gh + L->col_names_h, buf, sizeof(buf)), 0.5, 0, 90);
    /* colour bar: vmin at the bottom, as in matplotlib */
    cairo_pattern_t *pat = cairo_pattern_create_linear(0, L->gy + L->gh, 0, L->gy);
    ml_plot__viridis_stops(pat);
    cairo_rectangle(cr, L->cbx, L->gy, CBAR_W, L->gh);
    cairo_set_source(cr, pat);
    cairo_fill(cr);
    cairo_pattern_destroy(pat);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, ML_PLOT_LINE_W);
    cairo_rectangle(cr, L->cbx, L->gy, CBAR_W, L->gh);
    cairo_stroke(cr);
    double ticks[64], step;
    ml_plot__font(cr, ML_PLOT_FS_TICK, 0);
    int max_ticks = (int)(L->gh / (ml_plot__text_h(cr) * 1.6)) + 1;
    int n = ml_plot__ticks(vmin, vmax, max_ticks > 6 ? 6 : max_ticks, ticks, &step);
    for (int i = 0; i < n; i++) {
        char lab[32];
        double y = L->gy + L->gh - (ticks[i] - vmin) / span * L->gh;
        cairo_move_to(cr, L->cbx + CBAR_W, y);
        cairo_line_to(cr, L->cbx + CBAR_W + ML_PLOT_TICK_LEN, y);
        cairo_stroke(cr);
        ml_plot__tick_label(lab, sizeof(lab), ticks[i], step);
        ml_plot__text(cr, L->cbx + CBAR_W + ML_PLOT_TICK_LEN + 2, y, lab, 0, 0.5, 0);
    }
}

int ml_fig_heatmap(const char *path, ml_fig_format fmt, const char *title,
                   const char *row_label, const char *col_label,
                   const char *const *row_names, const char *const *col_names,
                   const double *values, int rows, int cols, double vmin, double vmax,
                   const ml_fig_opts *opts) {
    cairo_t *m = NULL;
    ml_plot *p = NULL;
    hm_layout L = {0};
    int error, no_data = 1;
    ML_CHECK_ARG(path != NULL, "ml_fig_heatmap: path is NULL");
    ML_CHECK_ARG(rows >= 0 && cols >= 0, "ml_fig_heatmap: %s: bad shape (%d, %d)", path, rows, cols);
    ML_CHECK_ARG(rows * cols == 0 || values != NULL, "ml_fig_heatmap: %s: values is NULL", path);
    ML_CHECK_ARG(isfinite(vmin) && isfinite(vmax), "ml_fig_heatmap: %s: vmin/vmax must be finite", path);
    if (!(vmax > vmin)) vmax = vmin + 1.0;   /* a flat range still needs a colour bar */
    for (size_t i = 0; i < (size_t)rows * (size_t)cols; i++) no_data &= isnan(values[i]) != 0;
    double W = opts && opts->width_pt > 0 ? opts->width_pt : ML_PLOT_WIDTH_PT;

    if ((error = ml_plot__measurer(&m)) < 0) goto cleanup;
    layout(m, &L, W, title, row_label, col_label, row_names, col_names, rows, cols, no_data, vmin, vmax);
    if ((error = ml_plot__new(&p, fmt, L.W, L.H, opts ? opts->png_scale : 0)) < 0) goto cleanup;
    draw(ml_plot__cr(p), &L, title, row_label, col_label, row_names, col_names, values, rows, cols,
         vmin, vmax);
    if ((error = ml_plot__write(p, path, title, opts)) < 0) goto cleanup;
    ml_plot__report_layout(opts, L.W, L.H, L.gx, L.gy, L.gw, L.gh, L.no_data);
cleanup:
    if (m) cairo_destroy(m);
    ml_plot__free(p);
    return error;
}

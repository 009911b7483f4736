/*
 * reports/fig_heatmap.c: the annotated heatmap figure (ml_fig_heatmap).
 * Owns: its layout (labels, square cells, colour bar), cell annotations, NaN cells.
 * Not here: drawing primitives and file output (plot.c), what the values mean (report.c).
 * Layout is computed first on a measuring context (text widths decide the margins and
 * the figure's height), then drawn once, in whichever format, from the same numbers.
 */
#include "reports/plot.h"

#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_W   0.28   /* of the figure width, for one row or column name */
#define ANNOTATE_MAX 12     /* rows and cols up to this get values written in cells */
#define ANNOTATE_MIN_PT 4.5 /* smaller annotations would not survive printing: left out */

typedef struct {
    ml_plot_style st;
    double W, H;
    double title_y;
    double gx, gy, cell, gw, gh;   /* grid */
    double row_name_w, ylabel_x;
    int    col_rot;                /* 0, 45 or 90 degrees */
    int    row_every, col_every;   /* label every k-th row/column when cells are small */
    double col_names_h, xlabel_y;
    double cbx, cbw, cb_gap;       /* colour bar */
    double ann_fs;                 /* cell annotation size; 0 = none */
    int    ann_short;              /* annotations without the leading zero (".85") */
    int    no_data;
} hm_layout;

static const char *name_of(const char *const *names, int i, char *buf, size_t n) {
    if (names && names[i]) return names[i];
    snprintf(buf, n, "%d", i);
    return buf;
}

/* The colour bar's ticks: as many as fit its height with a label's height between them. */
static int cbar_ticks(cairo_t *cr, const ml_plot_style *st, double vmin, double vmax, double h,
                      double *ticks, double *step) {
    ml_plot__font(cr, st->fs_tick, 0);
    int max_ticks = (int)(h / (ml_plot__text_h(cr) * 1.8)) + 1;
    return ml_plot__ticks(vmin, vmax, max_ticks > 6 ? 6 : max_ticks, ticks, step);
}

/* "0.85", or ".85" when short; "-0.00" never shows. */
static void annotation(char *buf, size_t n, double v, int shorten) {
    if (fabs(v) < 0.005) v = 0.0;
    snprintf(buf, n, "%.2f", v);
    if (!shorten) return;
    char *z = buf[0] == '-' ? buf + 1 : buf;
    if (z[0] == '0' && z[1] == '.') memmove(z, z + 1, strlen(z));
}

static void layout(cairo_t *cr, hm_layout *L, const ml_plot_style *st, const char *title,
                   const char *row_label, const char *col_label, const char *const *row_names,
                   const char *const *col_names, const double *values, int rows, int cols,
                   int no_data, double vmin, double vmax) {
    char buf[256], num[16];
    double W = st->W;
    L->st = *st;
    L->W = W;
    L->no_data = no_data;
    ml_plot__font(cr, st->fs_title, 0);
    L->title_y = st->pad;
    double top = st->pad + (title && *title ? ml_plot__text_h(cr) + 2 * st->gap : 0);
    if (no_data) {
        L->gx = st->pad;
        L->gy = top;
        L->gw = W - 2 * st->pad;
        L->gh = W * 0.45;
        L->H = L->gy + L->gh + st->pad;
        return;
    }
    /* left: the rotated row_label, then the row names right-aligned against the grid */
    ml_plot__font(cr, st->fs_tick, 0);
    double tick_h = ml_plot__text_h(cr);
    L->row_name_w = 0;
    for (int r = 0; r < rows; r++) {
        double w = ml_plot__text_w(cr, ml_plot__fit(cr, name_of(row_names, r, num, sizeof(num)),
                                                    W * NAME_MAX_W, buf, sizeof(buf)));
        if (w > L->row_name_w) L->row_name_w = w;
    }
    ml_plot__font(cr, st->fs, 0);
    double label_h = ml_plot__text_h(cr);
    double left = st->pad + (row_label && *row_label ? label_h + st->gap : 0) + L->row_name_w + st->gap;
    /* right: the colour bar, its outward ticks and their labels; the labels depend on
     * the bar's height, so measure them for the tallest bar this figure can have */
    double ticks[64], step, cb_lab_w = 0;
    char lab[32];
    int nt = cbar_ticks(cr, st, vmin, vmax, W * 0.6, ticks, &step);
    ml_plot__font(cr, st->fs_tick, 0);
    for (int i = 0; i < nt; i++) {
        ml_plot__tick_label(lab, sizeof(lab), ticks[i], step);
        double tw = ml_plot__text_w(cr, lab);
        if (tw > cb_lab_w) cb_lab_w = tw;
    }
    L->cbw = 8.0 * st->k;
    L->cb_gap = 8.0 * st->k;
    double right = L->cb_gap + L->cbw + st->tick_len + st->tick_pad + cb_lab_w + st->pad;
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
        /* square cells, the grid no taller than 0.55-0.75 of the width: a 2x2 grid stays
         * a figure, not a poster, a 12x12 one keeps cells big enough for their values,
         * and either fits a page column */
        double cell = avail / cols, max_h = W * fmin(0.75, 0.5 + 0.025 * rows);
        if (cell > max_h / rows) cell = max_h / rows;
        L->cell = cell;
        L->gw = cell * cols;
        L->gh = cell * rows;
        L->gx = left + (avail - L->gw) / 2;   /* centre a narrow grid, keep the bar beside it */
        L->gy = top;
        L->cbx = L->gx + L->gw + L->cb_gap;
        /* the row label stays next to the row names when a narrow grid is centred */
        L->ylabel_x = L->gx - st->gap - L->row_name_w - st->gap - label_h / 2;
        L->row_every = cell >= tick_h * 1.05 ? 1 : (int)ceil(tick_h * 1.05 / cell);
        /* bottom: column names horizontal if they fit their cell, else 45 degrees like
         * matplotlib's rotation=45, ha="right", else 90 degrees and thinned */
        L->col_every = 1;
        if (col_w <= cell - 2 * st->k) {
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
        double reach = L->gx + cell / 2 - (col0_w + tick_h / 2) * M_SQRT1_2;
        if (L->col_rot != 45 || reach >= st->pad) break;
        left += st->pad - reach;
    }
    L->xlabel_y = L->gy + L->gh + st->gap + L->col_names_h + st->gap;
    L->H = L->xlabel_y + (col_label && *col_label ? label_h : 0) + st->pad;

    /* cell values: as large as the cell allows, up to the tick size; without the leading
     * zero when that is what makes them fit */
    L->ann_fs = 0;
    if (rows <= ANNOTATE_MAX && cols <= ANNOTATE_MAX) {
        double widest[2] = {0, 0};
        for (int s = 0; s < 2; s++) {
            ml_plot__font(cr, 10.0, 0);
            for (size_t i = 0; i < (size_t)rows * (size_t)cols; i++) {
                if (isnan(values[i])) continue;
                annotation(num, sizeof(num), values[i], s);
                double w = ml_plot__text_w(cr, num) / 10.0;   /* per pt of font size */
                if (w > widest[s]) widest[s] = w;
            }
        }
        double fs[2];
        for (int s = 0; s < 2; s++) {
            fs[s] = fmin(st->fs_tick, L->cell * 0.45);
            if (widest[s] > 0) fs[s] = fmin(fs[s], (L->cell - 2.5 * st->k) / widest[s]);
        }
        /* "0.85" unless ".85" can be clearly larger */
        int s = fs[0] >= ANNOTATE_MIN_PT && fs[0] >= 0.85 * fs[1] ? 0 : 1;
        if (fs[s] >= ANNOTATE_MIN_PT) {
            L->ann_fs = fs[s];
            L->ann_short = s;
        }
    }
}

static void draw(cairo_t *cr, const hm_layout *L, const char *title, const char *row_label,
                 const char *col_label, const char *const *row_names,
                 const char *const *col_names, const double *values, int rows, int cols,
                 double vmin, double vmax) {
    const ml_plot_style *st = &L->st;
    char buf[256], num[16];
    ml_plot__title(cr, st, L->no_data ? L->W / 2 : L->gx + L->gw / 2, L->title_y, title);
    if (L->no_data) {
        ml_plot__no_data(cr, st, L->gx, L->gy, L->gw, L->gh, "no data");
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
    if (L->cell >= 8) {
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_set_line_width(cr, 0.75 * st->k);
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
    if (L->ann_fs > 0) {
        ml_plot__font(cr, L->ann_fs, 0);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                double v = values[(size_t)r * (size_t)cols + (size_t)c], rgb[3], ink[3];
                if (isnan(v)) continue;
                ml_plot__viridis((v - vmin) / span, rgb);
                ml_plot__contrast_text(rgb, ink);
                cairo_set_source_rgb(cr, ink[0], ink[1], ink[2]);
                annotation(num, sizeof(num), v, L->ann_short);
                ml_plot__text(cr, L->gx + (c + 0.5) * L->cell, L->gy + (r + 0.5) * L->cell, num, 0.5, 0.5, 0);
            }
        }
    }
    /* row and column names */
    cairo_set_source_rgb(cr, 0, 0, 0);
    ml_plot__font(cr, st->fs_tick, 0);
    for (int r = 0; r < rows; r += L->row_every) {
        const char *nm = ml_plot__fit(cr, name_of(row_names, r, num, sizeof(num)), L->W * NAME_MAX_W,
                                      buf, sizeof(buf));
        ml_plot__text(cr, L->gx - st->gap, L->gy + (r + 0.5) * L->cell, nm, 1, 0.5, 0);
    }
    for (int c = 0; c < cols; c += L->col_every) {
        const char *nm = ml_plot__fit(cr, name_of(col_names, c, num, sizeof(num)), L->W * NAME_MAX_W,
                                      buf, sizeof(buf));
        double x = L->gx + (c + 0.5) * L->cell, y = L->gy + L->gh + st->gap;
        if (L->col_rot == 0) ml_plot__text(cr, x, y, nm, 0.5, 0, 0);
        /* anchored by its right end's middle, so the slanted name ends under its cell */
        else if (L->col_rot == 45) ml_plot__text(cr, x, y + 2 * st->k, nm, 1, 0.5, 45);
        else ml_plot__text(cr, x, y, nm, 1, 0.5, 90);
    }
    /* axis labels: the column label centred under the grid, the row label rotated and
     * centred on it */
    ml_plot__font(cr, st->fs, 0);
    if (col_label && *col_label)
        ml_plot__text(cr, L->gx + L->gw / 2, L->xlabel_y,
                      ml_plot__fit(cr, col_label, L->W - 2 * st->pad, buf, sizeof(buf)), 0.5, 0, 0);
    if (row_label && *row_label)
        ml_plot__text(cr, L->ylabel_x, L->gy + L->gh / 2,
                      ml_plot__fit(cr, row_label, L->gh + L->col_names_h, buf, sizeof(buf)), 0.5, 0.5, 90);
    /* colour bar: vmin at the bottom, as in matplotlib */
    cairo_pattern_t *pat = cairo_pattern_create_linear(0, L->gy + L->gh, 0, L->gy);
    ml_plot__viridis_stops(pat);
    cairo_rectangle(cr, L->cbx, L->gy, L->cbw, L->gh);
    cairo_set_source(cr, pat);
    cairo_fill(cr);
    cairo_pattern_destroy(pat);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, st->spine_w);
    cairo_rectangle(cr, L->cbx, L->gy, L->cbw, L->gh);
    cairo_stroke(cr);
    /* The bar's ticks point out, unlike the axes' (SciencePlots points them in): an
     * inward black tick disappears on the dark end of the map. */
    double ticks[64], step;
    int n = cbar_ticks(cr, st, vmin, vmax, L->gh, ticks, &step);
    ml_plot__font(cr, st->fs_tick, 0);
    for (int i = 0; i < n; i++) {
        char lab[32];
        double y = L->gy + L->gh - (ticks[i] - vmin) / span * L->gh;
        cairo_move_to(cr, L->cbx + L->cbw, y);
        cairo_line_to(cr, L->cbx + L->cbw + st->tick_len, y);
        cairo_stroke(cr);
        ml_plot__tick_label(lab, sizeof(lab), ticks[i], step);
        ml_plot__text(cr, L->cbx + L->cbw + st->tick_len + st->tick_pad * 0.7, y, lab, 0, 0.5, 0);
    }
}

int ml_fig_heatmap(const char *path, ml_fig_format fmt, const char *title,
                   const char *row_label, const char *col_label,
                   const char *const *row_names, const char *const *col_names,
                   const double *values, int rows, int cols, double vmin, double vmax,
                   const ml_fig_opts *opts) {
    cairo_t *m = NULL;
    ml_plot *p = NULL;
    ml_plot_style st;
    hm_layout L = {0};
    int error, no_data = 1;
    ML_CHECK_ARG(path != NULL, "ml_fig_heatmap: path is NULL");
    ML_CHECK_ARG(rows >= 0 && cols >= 0, "ml_fig_heatmap: %s: bad shape (%d, %d)", path, rows, cols);
    ML_CHECK_ARG(rows * cols == 0 || values != NULL, "ml_fig_heatmap: %s: values is NULL", path);
    ML_CHECK_ARG(isfinite(vmin) && isfinite(vmax), "ml_fig_heatmap: %s: vmin/vmax must be finite", path);
    if (!(vmax > vmin)) vmax = vmin + 1.0;   /* a flat range still needs a colour bar */
    for (size_t i = 0; i < (size_t)rows * (size_t)cols; i++) no_data &= isnan(values[i]) != 0;
    ml_plot__style(&st, opts);

    if ((error = ml_plot__measurer(&m)) < 0) goto cleanup;
    layout(m, &L, &st, title, row_label, col_label, row_names, col_names, values, rows, cols, no_data,
           vmin, vmax);
    if ((error = ml_plot__new(&p, fmt, L.W, L.H, st.png_scale)) < 0) goto cleanup;
    draw(ml_plot__cr(p), &L, title, row_label, col_label, row_names, col_names, values, rows, cols,
         vmin, vmax);
    if ((error = ml_plot__write(p, path, title, opts)) < 0) goto cleanup;
    ml_plot__report_layout(opts, L.W, L.H, L.gx, L.gy, L.gw, L.gh, L.no_data);
cleanup:
    if (m) cairo_destroy(m);
    ml_plot__free(p);
    return error;
}

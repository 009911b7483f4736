/*
 * reports/fig_points.c: the method comparison figure (ml_fig_points), a horizontal dot
 *       plot: one row per method, best first, a dot with its 95% interval as whiskers.
 * Owns: the ranking, the names column, the kinds' markers and colours and their legend,
 *       the reference line.
 * Not here: drawing primitives and file output (plot.c), computing the means and
 *           intervals (report.c).
 * Layout is computed first on a measuring context, then drawn once from the same numbers.
 */
#include "reports/plot.h"

#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define NAME_MAX_W 0.4   /* of the figure width, for the names column */

/* Each kind's look: an Okabe-Ito colour (plot.c's series index) and a marker. Direct
 * fine-tuning is black because it is also the reference line. */
static const struct { const char *name; int color, marker; } kinds[ML_FIG_PT_KINDS] = {
    [ML_FIG_PT_MERGE]      = {"merge", 0, ML_PLOT_M_CIRCLE},
    [ML_FIG_PT_ROUTER]     = {"router", 1, ML_PLOT_M_SQUARE},
    [ML_FIG_PT_ENSEMBLE]   = {"ensemble", 2, ML_PLOT_M_TRIANGLE},
    [ML_FIG_PT_DIRECT]     = {"direct fine-tune", 6, ML_PLOT_M_DIAMOND},
    [ML_FIG_PT_BASE]       = {"base", 3, ML_PLOT_M_TRIANGLE_DOWN},
    [ML_FIG_PT_SPECIALIST] = {"specialist", 4, ML_PLOT_M_CROSS},
};

typedef struct {
    ml_plot_style st;
    double W, H, title_y;
    double ax, ay, aw, ah, rowh;
    double xlo, xhi, xt[64], xm[256], xstep;
    int    nxt, nxm;
    double ref_label_y, xlabels_y, xlabel_y;
    double legend_x, legend_y, legend_max_w;
    ml_plot_legend_item items[ML_FIG_PT_KINDS];
    int    nitems;
    int   *order;          /* (n) rows top to bottom: indices into points */
    int    no_data;
} pt_layout;

static double px(const pt_layout *L, double v) { return L->ax + (v - L->xlo) / (L->xhi - L->xlo) * L->aw; }

/* Does point a rank above point b? Finite means by direction, NaN last, ties in input
 * order (the sort below is stable). */
static int ranks_above(const ml_fig_point *a, const ml_fig_point *b, int higher_is_better) {
    if (isnan(b->mean)) return !isnan(a->mean);
    if (isnan(a->mean)) return 0;
    return higher_is_better ? a->mean > b->mean : a->mean < b->mean;
}

static void grow(double v, double *lo, double *hi, int *any) {
    if (!isfinite(v)) return;
    if (!*any || v < *lo) *lo = v;
    if (!*any || v > *hi) *hi = v;
    *any = 1;
}

static void x_ticks(cairo_t *cr, pt_layout *L) {
    L->nxt = ml_plot__axis_ticks(cr, &L->st, L->xlo, L->xhi, L->aw, L->xt, &L->xstep);
    L->nxm = ml_plot__minor_ticks(L->xlo, L->xhi, L->xstep, L->xm, 256);
}

static int layout(cairo_t *cr, pt_layout *L, const ml_plot_style *st, const char *title, const char *xlabel,
                  const ml_fig_point *pts, int n, int higher_is_better, double ref_x, const char *ref_label) {
    char buf[256], lab[32];
    int error, any = 0, present[ML_FIG_PT_KINDS] = {0};
    L->st = *st;
    L->W = st->W;
    double top, label_h, tick_h;
    L->title_y = st->pad;
    ml_plot__heights(cr, st, title, &top, &label_h, &tick_h);

    for (int i = 0; i < n; i++) grow(pts[i].mean, &L->xlo, &L->xhi, &any);
    L->no_data = !any;
    if (L->no_data) {
        L->ax = st->pad;
        L->ay = top;
        L->aw = st->W - 2 * st->pad;
        L->ah = st->W * 0.45;
        L->H = L->ay + L->ah + st->pad;
        return 0;
    }
    for (int i = 0; i < n; i++) {
        if (isfinite(pts[i].mean)) {
            grow(pts[i].lo, &L->xlo, &L->xhi, &any);
            grow(pts[i].hi, &L->xlo, &L->xhi, &any);
        }
        present[pts[i].kind] = 1;
    }
    grow(ref_x, &L->xlo, &L->xhi, &any);
    if (!(L->xhi > L->xlo)) {
        double d = L->xlo != 0 ? fabs(L->xlo) * 0.1 : 1.0;
        L->xlo -= d;
        L->xhi += d;
    } else {
        double m = (L->xhi - L->xlo) * 0.05;   /* matplotlib's margins */
        L->xlo -= m;
        L->xhi += m;
    }

    /* rows best first: a stable insertion sort, n is a handful of methods */
    if ((error = ml_calloc((void **)&L->order, (size_t)n, sizeof(*L->order))) < 0) return error;
    for (int i = 0; i < n; i++) {
        int j = i;
        while (j > 0 && ranks_above(&pts[i], &pts[L->order[j - 1]], higher_is_better)) {
            L->order[j] = L->order[j - 1];
            j--;
        }
        L->order[j] = i;
    }

    /* left: the names column, right-aligned against the axes */
    double names_w = 0;
    for (int i = 0; i < n; i++) {
        double w = ml_plot__text_w(cr, ml_plot__fit(cr, pts[i].name ? pts[i].name : "", st->W * NAME_MAX_W, buf,
                                                    sizeof(buf)));
        if (w > names_w) names_w = w;
    }
    L->ax = st->pad + names_w + st->tick_pad;
    L->aw = st->W - L->ax - st->pad;
    /* right: room for half of the last x tick label when it sits at the edge */
    for (int pass = 0; pass < 3; pass++) {
        x_ticks(cr, L);
        double over = 0;
        for (int i = 0; i < L->nxt; i++) {
            ml_plot__tick_label(lab, sizeof(lab), L->xt[i], L->xstep);
            double r = px(L, L->xt[i]) + ml_plot__text_w(cr, lab) / 2 - (st->W - st->pad);
            if (r > over) over = r;
        }
        if (over <= 0.01) break;
        L->aw -= over;
    }
    /* top: the reference line's label sits above the axes, over the line */
    L->ay = top;
    if (isfinite(ref_x) && ref_label && *ref_label) {
        L->ref_label_y = top + tick_h;
        L->ay = L->ref_label_y + st->gap;
    }
    L->rowh = tick_h * 1.6;
    L->ah = n * L->rowh;
    double y = L->ay + L->ah;
    L->xlabels_y = y + st->tick_pad;
    y = L->xlabels_y + tick_h;
    if (xlabel && *xlabel) {
        L->xlabel_y = y + st->gap;
        y = L->xlabel_y + label_h;
    }
    for (int k = 0; k < ML_FIG_PT_KINDS; k++) {
        if (!present[k]) continue;
        ml_plot_legend_item *e = &L->items[L->nitems++];
        e->name = kinds[k].name;
        ml_plot__series_color(kinds[k].color, e->rgb);
        e->marker = kinds[k].marker;
    }
    L->legend_max_w = st->W - 2 * st->pad;
    if (L->nitems > 1) {   /* one kind needs no key */
        double lw, lh;
        ml_plot__legend_size(cr, st, L->items, L->nitems, L->legend_max_w, &lw, &lh);
        L->legend_y = y + 2 * st->gap;
        L->legend_x = L->ax + L->aw / 2 - lw / 2;
        if (L->legend_x + lw > st->W - st->pad) L->legend_x = st->W - st->pad - lw;
        if (L->legend_x < st->pad) L->legend_x = st->pad;
        y = L->legend_y + lh;
    } else {
        L->nitems = 0;
    }
    L->H = y + st->pad;
    return 0;
}

static void draw(cairo_t *cr, const pt_layout *L, const char *title, const char *xlabel, const ml_fig_point *pts,
                 int n, double ref_x, const char *ref_label) {
    const ml_plot_style *st = &L->st;
    char buf[256], lab[32];
    ml_plot__title(cr, st, L->ax + L->aw / 2, L->title_y, title);
    if (L->no_data) {
        ml_plot__no_data(cr, st, L->ax, L->ay, L->aw, L->ah, "no data");
        return;
    }
    /* faint row guides: the eye follows a name to its dot */
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_set_line_width(cr, 0.5 * st->k);
    for (int r = 0; r < n; r++) {
        double y = L->ay + (r + 0.5) * L->rowh;
        cairo_move_to(cr, L->ax, y);
        cairo_line_to(cr, L->ax + L->aw, y);
    }
    cairo_stroke(cr);
    if (isfinite(ref_x)) {
        double dash[2] = {3.7 * st->k, 1.6 * st->k};
        cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
        cairo_set_line_width(cr, 0.8 * st->k);
        cairo_set_dash(cr, dash, 2, 0);
        cairo_move_to(cr, px(L, ref_x), L->ay);
        cairo_line_to(cr, px(L, ref_x), L->ay + L->ah);
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
        if (ref_label && *ref_label) {
            ml_plot__font(cr, st->fs_tick, 0);
            const char *s = ml_plot__fit(cr, ref_label, st->W - 2 * st->pad, buf, sizeof(buf));
            double w = ml_plot__text_w(cr, s), cx = px(L, ref_x);
            if (cx + w / 2 > st->W - st->pad) cx = st->W - st->pad - w / 2;
            if (cx - w / 2 < st->pad) cx = st->pad + w / 2;
            cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
            ml_plot__text(cr, cx, L->ref_label_y, s, 0.5, 1, 0);
        }
    }
    for (int r = 0; r < n; r++) {
        const ml_fig_point *pt = &pts[L->order[r]];
        double y = L->ay + (r + 0.5) * L->rowh, rgb[3];
        cairo_set_source_rgb(cr, 0, 0, 0);
        ml_plot__font(cr, st->fs_tick, 0);
        ml_plot__text(cr, L->ax - st->tick_pad, y,
                      ml_plot__fit(cr, pt->name ? pt->name : "", st->W * NAME_MAX_W, buf, sizeof(buf)), 1, 0.5, 0);
        if (isnan(pt->mean)) {
            cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
            ml_plot__text(cr, L->ax + st->tick_len + st->gap, y, "n/a", 0, 0.5, 0);
            continue;
        }
        ml_plot__series_color(kinds[pt->kind].color, rgb);
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        if (isfinite(pt->lo) && isfinite(pt->hi)) {
            double x0 = px(L, pt->lo), x1 = px(L, pt->hi), cap = 1.8 * st->k;
            cairo_set_line_width(cr, 0.8 * st->k);
            cairo_move_to(cr, x0, y);
            cairo_line_to(cr, x1, y);
            cairo_move_to(cr, x0, y - cap);
            cairo_line_to(cr, x0, y + cap);
            cairo_move_to(cr, x1, y - cap);
            cairo_line_to(cr, x1, y + cap);
            cairo_stroke(cr);
        }
        ml_plot__marker(cr, kinds[pt->kind].marker, px(L, pt->mean), y, st->marker * 1.15);
    }
    double xt[64], xm[256];
    for (int i = 0; i < L->nxt; i++) xt[i] = px(L, L->xt[i]);
    for (int i = 0; i < L->nxm; i++) xm[i] = px(L, L->xm[i]);
    ml_plot__frame(cr, st, L->ax, L->ay, L->aw, L->ah, xt, L->nxt, xm, L->nxm, NULL, 0, NULL, 0);
    cairo_set_source_rgb(cr, 0, 0, 0);
    ml_plot__font(cr, st->fs_tick, 0);
    for (int i = 0; i < L->nxt; i++) {
        ml_plot__tick_label(lab, sizeof(lab), L->xt[i], L->xstep);
        ml_plot__text(cr, xt[i], L->xlabels_y, lab, 0.5, 0, 0);
    }
    if (xlabel && *xlabel) {
        ml_plot__font(cr, st->fs, 0);
        ml_plot__text(cr, L->ax + L->aw / 2, L->xlabel_y, ml_plot__fit(cr, xlabel, st->W - 2 * st->pad, buf, sizeof(buf)),
                      0.5, 0, 0);
    }
    ml_plot__legend_draw(cr, st, L->legend_x, L->legend_y, L->items, L->nitems, L->legend_max_w);
}

int ml_fig_points(const char *path, ml_fig_format fmt, const char *title, const char *xlabel,
                  const ml_fig_point *points, int n, int higher_is_better, double ref_x,
                  const char *ref_label, const ml_fig_opts *opts) {
    cairo_t *m = NULL;
    ml_plot *p = NULL;
    ml_plot_style st;
    pt_layout L = {0};
    int error;
    ML_CHECK_ARG(path != NULL, "ml_fig_points: path is NULL");
    ML_CHECK_ARG(n >= 0, "ml_fig_points: %s: n = %d", path, n);
    ML_CHECK_ARG(n == 0 || points != NULL, "ml_fig_points: %s: points is NULL", path);
    for (int i = 0; i < n; i++)
        ML_CHECK_ARG((int)points[i].kind >= 0 && points[i].kind < ML_FIG_PT_KINDS,
                     "ml_fig_points: %s: point %d: unknown kind %d", path, i, (int)points[i].kind);
    ml_plot__style(&st, opts);

    if ((error = ml_plot__measurer(&m)) < 0) goto cleanup;
    if ((error = layout(m, &L, &st, title, xlabel, points, n, higher_is_better, ref_x, ref_label)) < 0)
        goto cleanup;
    if ((error = ml_plot__new(&p, fmt, L.W, L.H, st.png_scale)) < 0) goto cleanup;
    draw(ml_plot__cr(p), &L, title, xlabel, points, n, ref_x, ref_label);
    if ((error = ml_plot__write(p, path, title, opts)) < 0) goto cleanup;
    ml_plot__report_layout(opts, L.W, L.H, L.ax, L.ay, L.aw, L.ah, L.no_data);
cleanup:
    if (m) cairo_destroy(m);
    ml_plot__free(p);
    free(L.order);
    return error;
}

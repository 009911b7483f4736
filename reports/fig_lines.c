/*
 * reports/fig_lines.c: line figures: stacked panels over one x (ml_fig_panels) and the
 *       one-panel line plot built on them (ml_fig_lines).
 * Owns: data ranges and ticks, categorical x labels (slanted when they would collide),
 *       line breaks at NaN, interval bands, flagged points, reference lines, and where
 *       each legend goes (below its panel, so it never covers data).
 * Not here: drawing primitives and file output (plot.c), what the series mean (report.c).
 * Layout is computed first on a measuring context, then drawn once from the same numbers.
 */
#include "reports/plot.h"

#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_MARKERS 20      /* per series; more would bury the line */
#define XLABEL_MAX_W 0.3    /* of the figure width, for one categorical x label */
#define BAND_ALPHA  0.2

typedef struct {
    double ay, ah;                  /* axes top and height (x and width are shared) */
    double ylo, yhi;
    double yt[64], ym[256], ystep;
    int    nyt, nym;
    int    no_data;
    ml_plot_legend_item *items;     /* nitems entries of pn_layout.items */
    int    nitems;
    double legend_x, legend_y;
} pn_panel;

typedef struct {
    ml_plot_style st;
    double W, H, title_y;
    double ax, aw;                  /* shared by every panel */
    double xlo, xhi;
    double xt[64], xm[256], xstep;
    int    nxt, nxm;
    int    categorical, xrot, x_every;
    double xlabels_y, xlabel_y, ylabel_x, legend_max_w;
    int    no_data;                 /* every panel has none */
    pn_panel *pn;                   /* (npanels) */
    ml_plot_legend_item *items;
} pn_layout;

static void pn_layout_free(pn_layout *L) {
    free(L->pn);
    free(L->items);
}

static int finite2(double a, double b) { return isfinite(a) && isfinite(b); }

static void grow(double v, double *lo, double *hi, int *any) {
    if (!isfinite(v)) return;
    if (!*any || v < *lo) *lo = v;
    if (!*any || v > *hi) *hi = v;
    *any = 1;
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

static double px(const pn_layout *L, double v) { return L->ax + (v - L->xlo) / (L->xhi - L->xlo) * L->aw; }
static double py(const pn_panel *P, double v) {
    return P->ay + P->ah - (v - P->ylo) / (P->yhi - P->ylo) * P->ah;
}

static const char *xtick_label(const pn_layout *L, const char *const *xtick_labels, int i, char *buf, size_t n) {
    if (L->categorical) return xtick_labels[i] ? xtick_labels[i] : "";
    ml_plot__tick_label(buf, n, L->xt[i], L->xstep);
    return buf;
}

/* Numeric x: as many ticks as leave room for one and a half labels between them. */
static void x_ticks(cairo_t *cr, pn_layout *L) {
    L->nxt = ml_plot__axis_ticks(cr, &L->st, L->xlo, L->xhi, L->aw, L->xt, &L->xstep);
    L->nxm = ml_plot__minor_ticks(L->xlo, L->xhi, L->xstep, L->xm, 256);
}

/* How far the x tick labels reach left of the first tick and right of the last, and how
 * tall their row is, for the current ticks and rotation. */
static void xlabel_extent(cairo_t *cr, const pn_layout *L, const double *x, int npoints,
                          const char *const *xtick_labels, double *left, double *right, double *height) {
    char buf[256], lab[32];
    ml_plot__font(cr, L->st.fs_tick, 0);
    double th = ml_plot__text_h(cr), max_w = L->st.W * XLABEL_MAX_W;
    int n = L->categorical ? npoints : L->nxt;
    *left = *right = *height = 0;
    for (int i = 0; i < n; i += L->categorical ? L->x_every : 1) {
        double pos;
        if (L->categorical) {
            if (!isfinite(x[i])) continue;
            pos = px(L, x[i]);
        } else {
            pos = px(L, L->xt[i]);
        }
        double w = ml_plot__text_w(cr, ml_plot__fit(cr, xtick_label(L, xtick_labels, i, lab, sizeof(lab)),
                                                    max_w, buf, sizeof(buf)));
        double l, r, h;
        if (L->xrot) {   /* slanted down-left from the tick */
            l = pos - (w + th / 2) * M_SQRT1_2;
            r = pos + th * M_SQRT1_2;
            h = (w + th) * M_SQRT1_2 + th * 0.4;
        } else {
            l = pos - w / 2;
            r = pos + w / 2;
            h = th;
        }
        if (l < L->ax - *left) *left = L->ax - l;
        if (r > L->ax + L->aw + *right) *right = r - L->ax - L->aw;
        if (h > *height) *height = h;
    }
}

/* Categorical x: slant the labels when the widest would not fit between two ticks, and
 * label only every k-th tick when even slanted ones would touch. */
static void x_categories(cairo_t *cr, pn_layout *L, const double *x, int npoints, const char *const *xtick_labels) {
    char buf[256];
    ml_plot__font(cr, L->st.fs_tick, 0);
    double th = ml_plot__text_h(cr), widest = 0, gap = INFINITY, prev = NAN;
    for (int i = 0; i < npoints; i++) {
        if (!isfinite(x[i])) continue;
        double w = ml_plot__text_w(cr, ml_plot__fit(cr, xtick_labels[i] ? xtick_labels[i] : "",
                                                    L->st.W * XLABEL_MAX_W, buf, sizeof(buf)));
        if (w > widest) widest = w;
        if (isfinite(prev) && fabs(px(L, x[i]) - prev) < gap) gap = fabs(px(L, x[i]) - prev);
        prev = px(L, x[i]);
    }
    L->xrot = isfinite(gap) && widest + L->st.fs_tick * 0.6 > gap;
    L->x_every = 1;
    if (L->xrot && gap * M_SQRT1_2 < th * 1.1) L->x_every = (int)ceil(th * 1.1 / (gap * M_SQRT1_2));
}

static int series_ok(const ml_fig_series *s, const double *x, int j) { return finite2(x[j], s->y[j]); }
static int band_ok(const ml_fig_series *s, const double *x, int j) {
    return s->lo && s->hi && isfinite(x[j]) && finite2(s->lo[j], s->hi[j]);
}

/* Data ranges: x over every finite x, y per panel over its finite points,
 * bands, reference line and the values it must include. Returns whether
 * any panel has a y label; sets no_data. */
static int data_ranges(pn_layout *L, const double *x, int npoints, const ml_fig_panel *panels, int npanels) {
    int any_ylabel = 0;
    int have_x = 0;
    for (int i = 0; i < npoints; i++) grow(x[i], &L->xlo, &L->xhi, &have_x);
    L->no_data = 1;
    for (int p = 0; p < npanels; p++) {
        const ml_fig_panel *P = &panels[p];
        pn_panel *Q = &L->pn[p];
        int any = 0;
        for (int s = 0; s < P->nseries; s++)
            for (int j = 0; j < npoints; j++)
                if (series_ok(&P->series[s], x, j)) grow(P->series[s].y[j], &Q->ylo, &Q->yhi, &any);
        Q->no_data = !any;
        if (!any) continue;
        L->no_data = 0;
        for (int s = 0; s < P->nseries; s++)
            for (int j = 0; j < npoints; j++)
                if (band_ok(&P->series[s], x, j)) {
                    grow(P->series[s].lo[j], &Q->ylo, &Q->yhi, &any);
                    grow(P->series[s].hi[j], &Q->ylo, &Q->yhi, &any);
                }
        grow(P->ref_y, &Q->ylo, &Q->yhi, &any);
        for (int i = 0; i < P->y_include_n && i < 2; i++) grow(P->y_include[i], &Q->ylo, &Q->yhi, &any);
        pad_range(&Q->ylo, &Q->yhi);
        any_ylabel |= P->ylabel && *P->ylabel;
    }
    if (!have_x) L->no_data = 1;
    return any_ylabel;
}

static int layout(cairo_t *cr, pn_layout *L, const ml_plot_style *st, const char *title, const char *xlabel,
                  const double *x, int npoints, const char *const *xtick_labels,
                  const ml_fig_panel *panels, int npanels) {
    int error, nitems = 0;
    L->st = *st;
    L->W = st->W;
    L->categorical = xtick_labels != NULL;
    for (int p = 0; p < npanels; p++) nitems += panels[p].nseries + 1;
    if ((error = ml_calloc((void **)&L->pn, (size_t)(npanels > 0 ? npanels : 1), sizeof(*L->pn))) < 0 ||
        (error = ml_calloc((void **)&L->items, (size_t)(nitems > 0 ? nitems : 1), sizeof(*L->items))) < 0)
        return error;
    double top, label_h, tick_h;
    L->title_y = st->pad;
    ml_plot__heights(cr, st, title, &top, &label_h, &tick_h);

    int any_ylabel = data_ranges(L, x, npoints, panels, npanels);
    if (L->no_data) {
        L->ax = st->pad;
        L->aw = st->W - 2 * st->pad;
        if (npanels > 0) {
            L->pn[0].ay = top;
            L->pn[0].ah = st->W * 0.45;
        }
        L->H = top + st->W * 0.45 + st->pad;
        return 0;
    }
    if (L->categorical) {
        /* half the smallest category spacing on each side, like a bar chart's margins */
        double gap = INFINITY;
        for (int i = 1; i < npoints; i++)
            if (finite2(x[i], x[i - 1]) && fabs(x[i] - x[i - 1]) > 0 && fabs(x[i] - x[i - 1]) < gap)
                gap = fabs(x[i] - x[i - 1]);
        double m = isfinite(gap) ? gap * 0.5 : 0.5;
        if (m < (L->xhi - L->xlo) * 0.05) m = (L->xhi - L->xlo) * 0.05;
        L->xlo -= m;
        L->xhi += m;
    } else {
        pad_range(&L->xlo, &L->xhi);
    }

    /* y ticks per panel, and the widest label of any panel: every panel's axes share
     * one left edge, so their y labels line up */
    double ah = st->W * (npanels == 1 ? 0.55 : 0.38), ytw = 0;
    char lab[32];
    for (int p = 0; p < npanels; p++) {
        pn_panel *Q = &L->pn[p];
        Q->ah = ah;
        if (Q->no_data) continue;
        int ymax = (int)(ah / (tick_h * 2.2)) + 1;
        Q->nyt = ml_plot__ticks(Q->ylo, Q->yhi, ymax > 8 ? 8 : ymax < 3 ? 3 : ymax, Q->yt, &Q->ystep);
        Q->nym = ml_plot__minor_ticks(Q->ylo, Q->yhi, Q->ystep, Q->ym, 256);
        for (int i = 0; i < Q->nyt; i++) {
            ml_plot__tick_label(lab, sizeof(lab), Q->yt[i], Q->ystep);
            double w = ml_plot__text_w(cr, lab);
            if (w > ytw) ytw = w;
        }
    }
    L->ylabel_x = st->pad + label_h / 2;
    L->ax = st->pad + (any_ylabel ? label_h + st->gap : 0) + ytw + st->tick_pad;
    L->aw = st->W - L->ax - st->pad;
    /* x ticks, then widen the margins until the first and last x labels fit the figure */
    double xl_h = 0;
    for (int pass = 0; pass < 4; pass++) {
        double left, right;
        if (L->categorical) x_categories(cr, L, x, npoints, xtick_labels);
        else x_ticks(cr, L);
        xlabel_extent(cr, L, x, npoints, xtick_labels, &left, &right, &xl_h);
        double over_l = left - (L->ax - st->pad), over_r = right - st->pad;
        if (over_l <= 0.01 && over_r <= 0.01) break;
        if (over_l > 0.01) { L->ax += over_l; L->aw -= over_l; }
        if (over_r > 0.01) L->aw -= over_r;
    }

    /* stack: panel, (x labels and x label under the last), legend, next panel */
    L->legend_max_w = st->W - 2 * st->pad;
    double y = top;
    ml_plot_legend_item *it = L->items;
    for (int p = 0; p < npanels; p++) {
        const ml_fig_panel *P = &panels[p];
        pn_panel *Q = &L->pn[p];
        int named = 0, flagged = 0;
        Q->ay = y;
        y += Q->ah;
        if (p == npanels - 1) {
            L->xlabels_y = y + st->tick_pad;
            y = L->xlabels_y + xl_h;
            if (xlabel && *xlabel) {
                L->xlabel_y = y + st->gap;
                y = L->xlabel_y + label_h;
            }
        }
        Q->items = it;
        for (int s = 0; s < P->nseries; s++) {
            const ml_fig_series *S = &P->series[s];
            named |= S->name && *S->name;
            for (int j = 0; S->flag && j < npoints; j++) flagged |= S->flag[j] && series_ok(S, x, j);
        }
        if ((P->nseries > 1 && named) || flagged) {
            for (int s = 0; s < P->nseries; s++) {
                const ml_fig_series *S = &P->series[s];
                ml_plot_legend_item *e = &it[Q->nitems++];
                e->name = S->name ? S->name : "";
                ml_plot__series_color(s, e->rgb);
                e->marker = s % ML_PLOT_NMARKERS;
                e->line = 1;
                for (int j = 0; j < npoints && !e->band; j++) e->band = band_ok(S, x, j);
            }
            if (flagged) {
                ml_plot_legend_item *e = &it[Q->nitems++];
                e->name = "regression";
                for (int c = 0; c < 3; c++) e->rgb[c] = ml_plot_flag_rgb[c];
                e->marker = -1;
                e->ring = 1;
            }
        }
        it += Q->nitems;
        if (Q->nitems > 0) {
            double lw, lh;
            ml_plot__legend_size(cr, st, Q->items, Q->nitems, L->legend_max_w, &lw, &lh);
            /* under the panel's tick labels, or just under its bottom spine */
            Q->legend_y = y + (p == npanels - 1 ? 2 * st->gap : st->tick_pad + st->gap);
            Q->legend_x = L->ax + L->aw / 2 - lw / 2;   /* centred under the axes ... */
            if (Q->legend_x + lw > st->W - st->pad) Q->legend_x = st->W - st->pad - lw;
            if (Q->legend_x < st->pad) Q->legend_x = st->pad;   /* ... unless that leaves the figure */
            y = Q->legend_y + lh;
        }
        if (p < npanels - 1) y += 3 * st->gap;
    }
    L->H = y + st->pad;
    return 0;
}

static void draw_band(cairo_t *cr, const pn_layout *L, const pn_panel *Q, const ml_fig_series *S,
                      const double *x, int npoints) {
    for (int j = 0; j < npoints;) {
        if (!band_ok(S, x, j)) { j++; continue; }
        int k = j;
        while (k + 1 < npoints && band_ok(S, x, k + 1)) k++;
        if (k == j) {   /* one point between gaps: a bar as wide as a marker */
            double w = L->st.marker;
            double y0 = py(Q, S->hi[j]), y1 = py(Q, S->lo[j]);
            cairo_rectangle(cr, px(L, x[j]) - w / 2, fmin(y0, y1), w, fabs(y1 - y0));
        } else {
            cairo_move_to(cr, px(L, x[j]), py(Q, S->hi[j]));
            for (int i = j + 1; i <= k; i++) cairo_line_to(cr, px(L, x[i]), py(Q, S->hi[i]));
            for (int i = k; i >= j; i--) cairo_line_to(cr, px(L, x[i]), py(Q, S->lo[i]));
            cairo_close_path(cr);
        }
        cairo_fill(cr);
        j = k + 1;
    }
}

static void draw_panel(cairo_t *cr, const pn_layout *L, const pn_panel *Q, const ml_fig_panel *P,
                       const double *x, int npoints) {
    const ml_plot_style *st = &L->st;
    char buf[256];
    int every = npoints > MAX_MARKERS ? (npoints + MAX_MARKERS - 1) / MAX_MARKERS : 1;
    cairo_save(cr);
    cairo_rectangle(cr, L->ax, Q->ay, L->aw, Q->ah);
    cairo_clip(cr);
    /* bands first, under every line */
    for (int s = 0; s < P->nseries; s++) {
        double rgb[3];
        ml_plot__series_color(s, rgb);
        cairo_set_source_rgba(cr, rgb[0], rgb[1], rgb[2], BAND_ALPHA);
        draw_band(cr, L, Q, &P->series[s], x, npoints);
    }
    if (isfinite(P->ref_y)) {
        double dash[2] = {3.7 * st->k, 1.6 * st->k};   /* matplotlib's "--" at this width */
        cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
        cairo_set_line_width(cr, 0.8 * st->k);
        cairo_set_dash(cr, dash, 2, 0);
        cairo_move_to(cr, L->ax, py(Q, P->ref_y));
        cairo_line_to(cr, L->ax + L->aw, py(Q, P->ref_y));
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
    }
    for (int s = 0; s < P->nseries; s++) {
        const ml_fig_series *S = &P->series[s];
        double rgb[3];
        ml_plot__series_color(s, rgb);
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_set_line_width(cr, st->line_w);
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
        int pen = 0;
        for (int j = 0; j < npoints; j++) {
            if (!series_ok(S, x, j)) { pen = 0; continue; }   /* a gap, not a bridge */
            if (pen) cairo_line_to(cr, px(L, x[j]), py(Q, S->y[j]));
            else cairo_move_to(cr, px(L, x[j]), py(Q, S->y[j]));
            pen = 1;
        }
        cairo_stroke(cr);
    }
    cairo_restore(cr);
    /* markers and rings are not clipped: the y range holds every point, and a ring may
     * reach a hair past the spine */
    for (int s = 0; s < P->nseries; s++) {
        const ml_fig_series *S = &P->series[s];
        double rgb[3];
        ml_plot__series_color(s, rgb);
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        for (int j = 0; j < npoints; j++) {
            if (!series_ok(S, x, j)) continue;
            int isolated = (j == 0 || !series_ok(S, x, j - 1)) && (j == npoints - 1 || !series_ok(S, x, j + 1));
            int flagged = S->flag && S->flag[j];
            /* a point between two gaps has no line, and a flagged one is the news */
            if (j % every == 0 || isolated || flagged) ml_plot__marker(cr, s, px(L, x[j]), py(Q, S->y[j]), st->marker);
        }
    }
    for (int s = 0; s < P->nseries; s++) {
        const ml_fig_series *S = &P->series[s];
        for (int j = 0; S->flag && j < npoints; j++)
            if (S->flag[j] && series_ok(S, x, j)) ml_plot__ring(cr, st, px(L, x[j]), py(Q, S->y[j]));
    }
    /* the reference line's label: at the right end above the line, unless another
     * corner of the line (right below, left above, left below) covers fewer data points
     * or the label would leave the axes */
    if (isfinite(P->ref_y) && P->ref_label && *P->ref_label) {
        ml_plot__font(cr, st->fs_tick, 0);
        double yr = py(Q, P->ref_y), th = ml_plot__text_h(cr);
        const char *s = ml_plot__fit(cr, P->ref_label, L->aw * 0.5, buf, sizeof(buf));
        double w = ml_plot__text_w(cr, s), r = st->marker;
        double best_x = 0, best_y = 0;
        int best = -1;
        for (int cand = 0; cand < 4; cand++) {
            int right = cand < 2, above = cand % 2 == 0;
            double xl = right ? L->ax + L->aw - st->tick_len - st->gap - w : L->ax + st->tick_len + st->gap;
            double yt = above ? yr - 0.8 * st->k - th : yr + 0.8 * st->k;
            if (yt < Q->ay + st->tick_len || yt + th > Q->ay + Q->ah - st->tick_len) continue;
            int hits = 0;
            for (int k = 0; k < P->nseries; k++)
                for (int j = 0; j < npoints; j++) {
                    if (!series_ok(&P->series[k], x, j)) continue;
                    double X = px(L, x[j]), Y = py(Q, P->series[k].y[j]);
                    hits += X > xl - r && X < xl + w + r && Y > yt - r && Y < yt + th + r;
                }
            if (best < 0 || hits < best) { best = hits; best_x = xl; best_y = yt; }
        }
        if (best < 0) { best_x = L->ax + L->aw - st->tick_len - st->gap - w; best_y = yr + 0.8 * st->k; }
        double xr = best_x + w, yt = best_y;
        /* a faint white plate: the label stays readable over a band or a line */
        cairo_set_source_rgba(cr, 1, 1, 1, 0.75);
        cairo_rectangle(cr, xr - w - st->k, yt + 0.1 * th, w + 2 * st->k, th * 0.85);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
        ml_plot__text(cr, xr, yt, s, 1, 0, 0);
    }
}

static void draw(cairo_t *cr, const pn_layout *L, const char *title, const char *xlabel, const double *x,
                 int npoints, const char *const *xtick_labels, const ml_fig_panel *panels, int npanels) {
    const ml_plot_style *st = &L->st;
    char buf[256], lab[32];
    double xt[256], xm[256];
    int nxt = 0, nxm = 0;
    ml_plot__title(cr, st, L->ax + L->aw / 2, L->title_y, title);
    if (L->no_data) {
        if (npanels > 0) ml_plot__no_data(cr, st, L->ax, L->pn[0].ay, L->aw, L->pn[0].ah, "no data");
        else ml_plot__no_data(cr, st, L->ax, L->H - st->pad - st->W * 0.45, L->aw, st->W * 0.45, "no data");
        return;
    }
    /* x tick positions, shared by every panel: each category, or the nice numbers */
    if (L->categorical) {
        for (int i = 0; i < npoints && nxt < 256; i++)
            if (isfinite(x[i])) xt[nxt++] = px(L, x[i]);
    } else {
        for (int i = 0; i < L->nxt; i++) xt[nxt++] = px(L, L->xt[i]);
        for (int i = 0; i < L->nxm; i++) xm[nxm++] = px(L, L->xm[i]);
    }
    for (int p = 0; p < npanels; p++) {
        const pn_panel *Q = &L->pn[p];
        const ml_fig_panel *P = &panels[p];
        if (Q->no_data) {
            ml_plot__no_data(cr, st, L->ax, Q->ay, L->aw, Q->ah, "no data");
        } else {
            double yt[64], ym[256];
            draw_panel(cr, L, Q, P, x, npoints);
            for (int i = 0; i < Q->nyt; i++) yt[i] = py(Q, Q->yt[i]);
            for (int i = 0; i < Q->nym; i++) ym[i] = py(Q, Q->ym[i]);
            ml_plot__frame(cr, st, L->ax, Q->ay, L->aw, Q->ah, xt, nxt, xm, nxm, yt, Q->nyt, ym, Q->nym);
            cairo_set_source_rgb(cr, 0, 0, 0);
            ml_plot__font(cr, st->fs_tick, 0);
            for (int i = 0; i < Q->nyt; i++) {
                ml_plot__tick_label(lab, sizeof(lab), Q->yt[i], Q->ystep);
                ml_plot__text(cr, L->ax - st->tick_pad, yt[i], lab, 1, 0.5, 0);
            }
        }
        cairo_set_source_rgb(cr, 0, 0, 0);
        if (P->ylabel && *P->ylabel) {
            ml_plot__font(cr, st->fs, 0);
            ml_plot__text(cr, L->ylabel_x, Q->ay + Q->ah / 2, ml_plot__fit(cr, P->ylabel, Q->ah, buf, sizeof(buf)),
                          0.5, 0.5, 90);
        }
        ml_plot__legend_draw(cr, st, Q->legend_x, Q->legend_y, Q->items, Q->nitems, L->legend_max_w);
    }
    /* the shared x axis's labels, under the last panel */
    cairo_set_source_rgb(cr, 0, 0, 0);
    ml_plot__font(cr, st->fs_tick, 0);
    double th = ml_plot__text_h(cr);
    int n = L->categorical ? npoints : L->nxt;
    for (int i = 0; i < n; i += L->categorical ? L->x_every : 1) {
        if (L->categorical && !isfinite(x[i])) continue;
        double pos = L->categorical ? px(L, x[i]) : px(L, L->xt[i]);
        const char *s = ml_plot__fit(cr, xtick_label(L, xtick_labels, i, lab, sizeof(lab)),
                                     st->W * XLABEL_MAX_W, buf, sizeof(buf));
        /* slanted like matplotlib's rotation=45, ha="right", rotation_mode="anchor": the
         * label's end sits under its tick */
        if (L->xrot) ml_plot__text(cr, pos + th * 0.25, L->xlabels_y + th * 0.4, s, 1, 0.5, 45);
        else ml_plot__text(cr, pos, L->xlabels_y, s, 0.5, 0, 0);
    }
    if (xlabel && *xlabel) {
        ml_plot__font(cr, st->fs, 0);
        ml_plot__text(cr, L->ax + L->aw / 2, L->xlabel_y, ml_plot__fit(cr, xlabel, st->W - 2 * st->pad, buf, sizeof(buf)),
                      0.5, 0, 0);
    }
}

int ml_fig_panels(const char *path, ml_fig_format fmt, const char *title, const char *xlabel,
                  const double *x, int npoints, const char *const *xtick_labels,
                  const ml_fig_panel *panels, int npanels, const ml_fig_opts *opts) {
    cairo_t *m = NULL;
    ml_plot *p = NULL;
    ml_plot_style st;
    pn_layout L = {0};
    int error;
    ML_CHECK_ARG(path != NULL, "ml_fig_panels: path is NULL");
    ML_CHECK_ARG(npoints >= 0 && npanels >= 0, "ml_fig_panels: %s: bad shape (%d panels, %d points)", path,
                 npanels, npoints);
    ML_CHECK_ARG(npoints == 0 || x != NULL, "ml_fig_panels: %s: x is NULL", path);
    ML_CHECK_ARG(npanels == 0 || panels != NULL, "ml_fig_panels: %s: panels is NULL", path);
    for (int i = 0; i < npanels; i++) {
        ML_CHECK_ARG(panels[i].nseries >= 0 && (panels[i].nseries == 0 || panels[i].series != NULL),
                     "ml_fig_panels: %s: panel %d: series is NULL or nseries < 0", path, i);
        for (int s = 0; s < panels[i].nseries; s++)
            ML_CHECK_ARG(npoints == 0 || panels[i].series[s].y != NULL,
                         "ml_fig_panels: %s: panel %d series %d: y is NULL", path, i, s);
    }
    ml_plot__style(&st, opts);

    if ((error = ml_plot__measurer(&m)) < 0) goto cleanup;
    if ((error = layout(m, &L, &st, title, xlabel, x, npoints, xtick_labels, panels, npanels)) < 0) goto cleanup;
    if ((error = ml_plot__new(&p, fmt, L.W, L.H, st.png_scale)) < 0) goto cleanup;
    draw(ml_plot__cr(p), &L, title, xlabel, x, npoints, xtick_labels, panels, npanels);
    if ((error = ml_plot__write(p, path, title, opts)) < 0) goto cleanup;
    ml_plot__report_layout(opts, L.W, L.H, L.ax, npanels > 0 ? L.pn[0].ay : 0, L.aw, npanels > 0 ? L.pn[0].ah : 0,
                           L.no_data);
cleanup:
    if (m) cairo_destroy(m);
    ml_plot__free(p);
    pn_layout_free(&L);
    return error;
}

int ml_fig_lines(const char *path, ml_fig_format fmt, const char *title,
                 const char *xlabel, const char *ylabel,
                 const double *x, int npoints, const char *const *series_names,
                 const double *series, int nseries, const ml_fig_opts *opts) {
    ml_fig_series *ss = NULL;
    ml_fig_panel panel = {.ylabel = ylabel, .ref_y = NAN};
    int error;
    ML_CHECK_ARG(path != NULL, "ml_fig_lines: path is NULL");
    ML_CHECK_ARG(npoints >= 0 && nseries >= 0, "ml_fig_lines: %s: bad shape (%d series, %d points)",
                 path, nseries, npoints);
    ML_CHECK_ARG(npoints == 0 || x != NULL, "ml_fig_lines: %s: x is NULL", path);
    ML_CHECK_ARG(npoints * nseries == 0 || series != NULL, "ml_fig_lines: %s: series is NULL", path);
    if (nseries > 0 && npoints > 0) {
        if ((error = ml_calloc((void **)&ss, (size_t)nseries, sizeof(*ss))) < 0) return error;
        for (int s = 0; s < nseries; s++) {
            ss[s].name = series_names ? series_names[s] : NULL;
            ss[s].y = series + (size_t)s * (size_t)npoints;
        }
        panel.series = ss;
        panel.nseries = nseries;
    }
    if (opts) {
        panel.y_include_n = opts->y_include_n;
        panel.y_include[0] = opts->y_include[0];
        panel.y_include[1] = opts->y_include[1];
    }
    error = ml_fig_panels(path, fmt, title, xlabel, x, npoints, NULL, &panel, 1, opts);
    free(ss);
    return error;
}

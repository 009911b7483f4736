/*
 * reports/report.c: ml_report_write_many, results files in, a report folder out.
 * Owns: which figures a report has, their titles, captions and CSV files, and the order
 *       of writing (figures and CSVs first, index.html last, so a page never points at a
 *       figure that is not there yet).
 * Not here: reading results (report_data.c), drawing (fig_*.c, plot.c), the page
 *           (html.c), deciding regressions (the caller passes gate rows and history in).
 * CSVs are long format, one value per row with its interval and seed count, so pandas or
 * a spreadsheet reads them without reshaping.
 */
#include "reports/report.h"

#include "core/error.h"
#include "core/fs.h"
#include "core/rbuf.h"
#include "reports/html.h"
#include "reports/report_data.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>   /* RENAME_EXCHANGE */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_FIGS 48   /* per suite: 2 featured groups x 9 figures, with room */

typedef struct {
    const char *dir;
    unsigned formats;
    ml_fig_opts fig;          /* this suite's provenance filled in */
    ml_rep_fig *figs;
    int *nfigs;
    const char *group;        /* the group being drawn; NULL across groups */
} ctx;

static const char *const ext[3] = {"png", "svg", "pdf"};
static const ml_fig_format fmts[3] = {ML_FIG_PNG, ML_FIG_SVG, ML_FIG_PDF};

static int join(char *out, size_t n, const char *dir, const char *name, const char *ext_) {
    if ((size_t)snprintf(out, n, "%s/%s.%s", dir, name, ext_) >= n)
        return ml_error_set(ML_EINVALID, "output path too long: '%s/%s.%s'", dir, name, ext_);
    return 0;
}

static ml_rep_fig *new_fig(ctx *c, const char *stem, const char *title) {
    if (*c->nfigs >= MAX_FIGS) return NULL;
    ml_rep_fig *f = &c->figs[(*c->nfigs)++];
    memset(f, 0, sizeof(*f));
    snprintf(f->stem, sizeof(f->stem), "%s", stem);
    snprintf(f->title, sizeof(f->title), "%s", title);
    f->group = c->group;
    return f;
}

static int write_csv(const ctx *c, const char *stem, ml_rbuf *b) {
    char path[PATH_MAX];
    int error;
    if ((error = ml_rbuf_check(b)) < 0 || (error = join(path, sizeof(path), c->dir, stem, "csv")) < 0) return error;
    return ml_fs_write_atomic(path, b->p, b->len);
}

static void csv_stat(ml_rbuf *b, ml_rep_stat s) {
    ml_rbuf_num(b, s.mean, "");
    ml_rbuf_puts(b, ",");
    ml_rbuf_num(b, s.lo, "");
    ml_rbuf_puts(b, ",");
    ml_rbuf_num(b, s.hi, "");
    ml_rbuf_printf(b, ",%d", s.n);
}

static void csv_str(ml_rbuf *b, const char *s, const char *sep) {
    ml_rbuf_csv(b, s ? s : "");
    ml_rbuf_puts(b, sep);
}

/* ---- heatmaps ---------------------------------------------------------------------- */

static int heatmap(ctx *c, const ml_rep_group *g, const ml_rep_heat *h, const char *stem, const char *when) {
    char title[256], rl[128], cl[128], path[PATH_MAX];
    double *mean = NULL;
    ml_rbuf b = {0};
    int L = h->cells ? g->nlayers : 0, error = 0;
    ml_rep_fig *f;
    if (!h->cells) return 0;
    if (isfinite(h->step)) snprintf(title, sizeof(title), "Linear CKA, %s vs %s (step %g)", h->row_model, h->col_model, h->step);
    else snprintf(title, sizeof(title), "Linear CKA, %s vs %s", h->row_model, h->col_model);
    if (!(f = new_fig(c, stem, title))) return 0;
    snprintf(rl, sizeof(rl), "%s layer", h->row_model);
    snprintf(cl, sizeof(cl), "%s layer", h->col_model);
    snprintf(f->caption, sizeof(f->caption),
             "Linear CKA between every layer of %s (rows) and every layer of %s (columns) on the probe set "
             "%s; the mean over %d seed%s of group \"%s\". 1 = the same "
             "representation up to rotation and scale.",
             h->row_model, h->col_model, when, g->ncells, g->ncells == 1 ? "" : "s", g->name);
    if ((error = ml_calloc((void **)&mean, (size_t)L * L + 1, sizeof(double))) < 0) goto cleanup;
    ml_rbuf_puts(&b, "group,row_model,row_layer,col_model,col_layer,step,cka_mean,ci95_lo,ci95_hi,n\n");
    for (int i = 0; i < L; i++)
        for (int j = 0; j < L; j++) {
            mean[i * L + j] = h->cells[i * L + j].mean;
            csv_str(&b, g->name, ",");
            csv_str(&b, h->row_model, ",");
            csv_str(&b, g->layers[i], ",");
            csv_str(&b, h->col_model, ",");
            csv_str(&b, g->layers[j], ",");
            ml_rbuf_num(&b, h->step, "");
            ml_rbuf_puts(&b, ",");
            csv_stat(&b, h->cells[i * L + j]);
            ml_rbuf_puts(&b, "\n");
        }
    for (int k = 0; k < 3; k++) {
        if (!(c->formats & fmts[k])) continue;
        if ((error = join(path, sizeof(path), c->dir, stem, ext[k])) < 0 ||
            (error = ml_fig_heatmap(path, fmts[k], title, rl, cl, g->layers, g->layers, mean, L, L, 0.0, 1.0,
                                    &c->fig)) < 0)
            goto cleanup;
    }
    error = write_csv(c, stem, &b);
cleanup:
    free(mean);
    ml_rbuf_free(&b);
    return error;
}

/* ---- CKA over steps ---------------------------------------------------------------- */

static int cka_steps(ctx *c, const ml_rep_group *g, const char *stem) {
    char title[256], ylab[160], path[PATH_MAX];
    int L = g->nlayers, S = g->nsteps, error = 0;
    double *buf = NULL;
    ml_fig_series *ser = NULL;
    ml_rbuf b = {0};
    ml_rep_fig *f;
    snprintf(title, sizeof(title), "CKA between specialists over fine-tuning");
    if (!(f = new_fig(c, stem, title))) return 0;
    snprintf(ylab, sizeof(ylab), "linear CKA (%s vs %s)", g->pair[0] ? g->pair[0] : "A", g->pair[1] ? g->pair[1] : "B");
    snprintf(f->caption, sizeof(f->caption),
             "Linear CKA between the two specialists at each layer as fine-tuning goes on, group \"%s\": "
             "the mean over %d seed%s%s.", g->name, g->ncells, g->ncells == 1 ? "" : "s",
             g->ncells > 1 ? " with its 95% t interval shaded (cut at 1, CKA's maximum; the CSV has it whole)"
                           : " (one seed: no interval)");
    if ((error = ml_calloc((void **)&buf, (size_t)3 * L * (S ? S : 1) + 1, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&ser, (size_t)(L ? L : 1), sizeof(*ser))) < 0)
        goto cleanup;
    ml_rbuf_puts(&b, "group,model_a,model_b,layer,step,cka_mean,ci95_lo,ci95_hi,n\n");
    for (int l = 0; l < L; l++) {
        double *y = buf + (size_t)3 * l * S, *lo = y + S, *hi = lo + S;
        for (int s = 0; s < S; s++) {
            ml_rep_stat st = g->over_steps[(size_t)l * S + s];
            /* CKA lies in [0, 1]; a t interval of a mean near 1 can reach past it, which
             * the band does not draw (the CSV keeps the interval as computed) */
            y[s] = st.mean;
            lo[s] = isnan(st.lo) ? NAN : fmax(st.lo, 0.0);
            hi[s] = isnan(st.hi) ? NAN : fmin(st.hi, 1.0);
            csv_str(&b, g->name, ",");
            csv_str(&b, g->pair[0], ",");
            csv_str(&b, g->pair[1], ",");
            csv_str(&b, g->layers[l], ",");
            ml_rbuf_num(&b, g->steps[s], "");
            ml_rbuf_puts(&b, ",");
            csv_stat(&b, st);
            ml_rbuf_puts(&b, "\n");
        }
        ser[l] = (ml_fig_series){.name = g->layers[l], .y = y, .lo = lo, .hi = hi};
    }
    ml_fig_panel p = {.ylabel = ylab, .series = ser, .nseries = L, .y_include_n = 1, .y_include = {1.0},
                      .ref_y = NAN};
    for (int k = 0; k < 3; k++) {
        if (!(c->formats & fmts[k])) continue;
        if ((error = join(path, sizeof(path), c->dir, stem, ext[k])) < 0 ||
            (error = ml_fig_panels(path, fmts[k], title, "fine-tuning step", g->steps, S, NULL, &p, 1, &c->fig)) < 0)
            goto cleanup;
    }
    error = write_csv(c, stem, &b);
cleanup:
    free(buf);
    free(ser);
    ml_rbuf_free(&b);
    return error;
}

/* ---- CKA against the probe's size --------------------------------------------------- */

/* cka.probe_sweep: biased and debiased linear CKA (mean over layers) on the first n
 * probe examples at the last step; the x axis is categorical (n doubles, usually). */
static int cka_probe(ctx *c, const ml_rep_group *g, const char *stem) {
    char title[256], path[PATH_MAX], (*labels)[24] = NULL;
    const char **xl = NULL;
    int N = g->nsweep, error = 0;
    double *x = NULL, *y[2], *lo[2], *hi[2];   /* (N) each, in one block: as many sizes as the results hold */
    ml_rbuf b = {0};
    ml_rep_fig *f;
    if (N == 0) return 0;
    if ((error = ml_calloc((void **)&x, (size_t)N * 7, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&labels, (size_t)N, sizeof(*labels))) < 0 ||
        (error = ml_calloc((void **)&xl, (size_t)N, sizeof(*xl))) < 0)
        goto cleanup;
    for (int k = 0; k < 2; k++) {
        y[k] = x + (size_t)N * (1 + k);
        lo[k] = x + (size_t)N * (3 + k);
        hi[k] = x + (size_t)N * (5 + k);
    }
    snprintf(title, sizeof(title), "CKA between specialists against the probe's size");
    if (!(f = new_fig(c, stem, title))) goto cleanup;
    snprintf(f->caption, sizeof(f->caption),
             "Linear CKA between the two specialists at step %g, mean over %d layers, computed on the first n "
             "probe examples, with the biased HSIC (the paper's) and the unbiased HSIC_1; group \"%s\", "
             "the mean over %d seed%s%s. Biased CKA is inflated when n is small for the width; where the two "
             "curves meet, the probe is large enough.",
             g->sweep_step, g->nlayers, g->name, g->ncells, g->ncells == 1 ? "" : "s",
             g->ncells > 1 ? " with its 95% t interval shaded" : "");
    ml_rbuf_puts(&b, "group,model_a,model_b,step,n,hsic,cka_mean,ci95_lo,ci95_hi,n_cells\n");
    for (int i = 0; i < N; i++) {
        x[i] = i;
        snprintf(labels[i], sizeof(labels[i]), "%g", g->sweep_n[i]);
        xl[i] = labels[i];
        for (int k = 0; k < 2; k++) {
            ml_rep_stat st = (k ? g->sweep_debiased : g->sweep_linear)[i];
            y[k][i] = st.mean;
            lo[k][i] = st.lo;
            hi[k][i] = st.hi;
            csv_str(&b, g->name, ",");
            csv_str(&b, g->pair[0], ",");
            csv_str(&b, g->pair[1], ",");
            ml_rbuf_num(&b, g->sweep_step, "");
            ml_rbuf_puts(&b, ",");
            ml_rbuf_num(&b, g->sweep_n[i], "");
            ml_rbuf_puts(&b, ",");
            ml_rbuf_puts(&b, k ? "unbiased," : "biased,");
            csv_stat(&b, st);
            ml_rbuf_puts(&b, "\n");
        }
    }
    ml_fig_series ser[2] = {
        {.name = "biased HSIC (the paper's)", .y = y[0], .lo = lo[0], .hi = hi[0]},
        {.name = "unbiased HSIC_1 (debiased)", .y = y[1], .lo = lo[1], .hi = hi[1]},
    };
    ml_fig_panel p = {.ylabel = "linear CKA, mean over layers", .series = ser, .nseries = 2, .ref_y = NAN};
    for (int k = 0; k < 3; k++) {
        if (!(c->formats & fmts[k])) continue;
        if ((error = join(path, sizeof(path), c->dir, stem, ext[k])) < 0 ||
            (error = ml_fig_panels(path, fmts[k], title, "probe size n (examples)", x, N, xl, &p, 1, &c->fig)) < 0)
            goto cleanup;
    }
    error = write_csv(c, stem, &b);
cleanup:
    ml_rbuf_free(&b);
    free(x);
    free(labels);
    free(xl);
    return error;
}

/* ---- method comparison ------------------------------------------------------------- */

static const char *metric_label(const ml_rep_suite *s) {
    if (!strcmp(s->metric, "test_acc")) return "test accuracy";
    if (!strcmp(s->metric, "loss")) return "target test loss";   /* selection used the validation windows */
    if (!strcmp(s->metric, "test_loss")) return "test loss";
    return s->metric;
}

static const char *const kind_names[ML_FIG_PT_KINDS] = {"merge", "router", "ensemble", "direct", "base", "specialist"};

static int methods(ctx *c, const ml_rep_suite *s, const ml_rep_group *g, const char *stem) {
    char title[256], path[PATH_MAX];
    ml_fig_point *pts = NULL;
    ml_rbuf b = {0};
    double ref = NAN;
    int error = 0;
    ml_rep_fig *f;
    if (!s->metric) return 0;
    snprintf(title, sizeof(title), "Merge methods on the target task");
    if (!(f = new_fig(c, stem, title))) return 0;
    snprintf(f->caption, sizeof(f->caption),
             "Every model of group \"%s\" on the target task (%s, %s is better), best first: the mean over "
             "%d seed%s%s. The dashed line is direct fine-tuning on the target.",
             g->name, metric_label(s), s->higher ? "higher" : "lower", g->ncells, g->ncells == 1 ? "" : "s",
             g->ncells > 1 ? " with 95% t intervals" : " (one seed: no intervals)");
    if ((error = ml_calloc((void **)&pts, (size_t)(g->nmethods ? g->nmethods : 1), sizeof(*pts))) < 0) goto cleanup;
    ml_rbuf_puts(&b, "group,model,kind,family,metric,mean,ci95_lo,ci95_hi,n,vs_base_mean,vs_base_lo,vs_base_hi,"
                     "vs_direct_mean,vs_direct_lo,vs_direct_hi\n");
    for (int i = 0; i < g->nmethods; i++) {
        const ml_rep_method *m = &g->methods[i];
        pts[i] = (ml_fig_point){.name = m->name, .mean = m->value.mean, .lo = m->value.lo, .hi = m->value.hi,
                                .kind = m->kind};
        if (m->kind == ML_FIG_PT_DIRECT) ref = m->value.mean;
        csv_str(&b, g->name, ",");
        csv_str(&b, m->name, ",");
        csv_str(&b, kind_names[m->kind], ",");
        csv_str(&b, m->family, ",");
        csv_str(&b, s->metric, ",");
        csv_stat(&b, m->value);
        for (int k = 0; k < 2; k++) {
            ml_rep_stat d = k ? m->vs_direct : m->vs_base;
            ml_rbuf_puts(&b, ",");
            ml_rbuf_num(&b, d.mean, "");
            ml_rbuf_puts(&b, ",");
            ml_rbuf_num(&b, d.lo, "");
            ml_rbuf_puts(&b, ",");
            ml_rbuf_num(&b, d.hi, "");
        }
        ml_rbuf_puts(&b, "\n");
    }
    for (int k = 0; k < 3; k++) {
        if (!(c->formats & fmts[k])) continue;
        if ((error = join(path, sizeof(path), c->dir, stem, ext[k])) < 0 ||
            (error = ml_fig_points(path, fmts[k], title, metric_label(s), pts, g->nmethods, s->higher, ref,
                                   "direct fine-tune", &c->fig)) < 0)
            goto cleanup;
    }
    error = write_csv(c, stem, &b);
cleanup:
    free(pts);
    ml_rbuf_free(&b);
    return error;
}

/* ---- merge quality against specialisation length ----------------------------------- */

static const char *const families[] = {"weight averaging", "interpolation", "router", "ensemble"};
#define NFAM 4

/* The places along specialisation length: one group per fine-tuning length (a matrix axis
 * over finetune.steps; the first group with that length, so that with other axes too the
 * places differ in length only as far as the file allows), or else the points one run
 * kept (finetune.points) in the first group that has them. */
typedef struct {
    double x;
    const ml_rep_group *g;
    const ml_rep_method *methods;   /* (g->nmethods) */
    int cka_at;                     /* index into g->steps of the CKA there, -1 none */
} lplace;

static int places(const ml_rep_suite *s, lplace *out, int max, int *from_points) {
    int n = 0;
    *from_points = 0;
    for (int g = 0; g < s->ngroups && n < max; g++) {
        const ml_rep_group *gr = &s->groups[g];
        int seen = 0;
        if (!isfinite(gr->length) || !gr->ncells) continue;
        for (int i = 0; i < n; i++) seen |= out[i].x == gr->length;
        if (!seen) out[n++] = (lplace){gr->length, gr, gr->methods, gr->nsteps - 1};
    }
    if (n < 2) {
        n = 0;
        for (int g = 0; g < s->ngroups && !n; g++) {
            const ml_rep_group *gr = &s->groups[g];
            for (int pi = 0; pi < gr->npoints && n < max; pi++) {
                int at = -1;
                for (int k = 0; k < gr->nsteps; k++)
                    if (gr->steps[k] == gr->point_steps[pi]) at = k;
                out[n++] = (lplace){gr->point_steps[pi], gr, gr->point_methods + (size_t)pi * gr->nmethods, at};
            }
        }
        *from_points = n >= 2;
    }
    for (int i = 1; i < n; i++)   /* by length; n is small */
        for (int j = i; j > 0 && out[j].x < out[j - 1].x; j--) {
            lplace t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

static int merge_vs_length(ctx *c, const ml_rep_suite *s, const char *stem) {
    char title[256], path[PATH_MAX], ylab[160];
    lplace pl[64];
    double xs[64];
    int nx, error = 0, from_points;
    double *buf = NULL;
    ml_fig_series ser[2 + NFAM + 16];
    ml_rbuf b = {0};
    ml_rep_fig *f;
    if (!s->metric) return 0;
    nx = places(s, pl, 64, &from_points);
    if (nx < 2) return 0;   /* one length: nothing to plot against */
    for (int i = 0; i < nx; i++) xs[i] = pl[i].x;
    const ml_rep_group *g0 = pl[0].g;
    int L = g0->nlayers > 16 ? 16 : g0->nlayers;
    snprintf(title, sizeof(title), "Merging as specialists train longer");
    if (!(f = new_fig(c, stem, title))) return 0;
    if (from_points)
        snprintf(f->caption, sizeof(f->caption),
                 "Top: the target metric (%s) of direct fine-tuning and of the best method of each merge family at "
                 "each point one fine-tuning run kept (finetune.points; the direct fine-tune with the same budget "
                 "there; the family's best by mean, its 95%% t interval shaded); the dashed line is the base model. "
                 "Bottom: linear CKA between the specialists at that point, per layer. Group: %s. Every method is in "
                 "the CSV.", metric_label(s), g0->name);
    else
        snprintf(f->caption, sizeof(f->caption),
                 "Top: the target metric (%s) of direct fine-tuning and of the best method of each merge family at "
                 "each fine-tuning length of the specialists (the family's best by mean; its 95%% t interval "
                 "shaded); the dashed line is the base model. Bottom: linear CKA between the specialists at the "
                 "end of fine-tuning, per layer. Groups: %s … %s. Every method is in the CSV.",
                 metric_label(s), g0->name, pl[nx - 1].g->name);
    /* 3 arrays (y, lo, hi) per series */
    int nser = 1 + NFAM + L;
    if ((error = ml_calloc((void **)&buf, (size_t)3 * nser * nx, sizeof(double))) < 0) goto cleanup;
    for (int k = 0; k < 3 * nser * nx; k++) buf[k] = NAN;
    ml_rbuf_puts(&b, "length,group,model,kind,family,metric,mean,ci95_lo,ci95_hi,n\n");
    double base_sum = 0;
    int base_n = 0;
    for (int i = 0; i < nx; i++) {
        const ml_rep_group *g = pl[i].g;
        const ml_rep_method *ms = pl[i].methods;
        int best[NFAM] = {-1, -1, -1, -1};
        for (int m = 0; m < g->nmethods; m++) {
            const ml_rep_method *me = &ms[m];
            ml_rbuf_num(&b, xs[i], "");
            ml_rbuf_puts(&b, ",");
            csv_str(&b, g->name, ",");
            csv_str(&b, me->name, ",");
            csv_str(&b, kind_names[me->kind], ",");
            csv_str(&b, me->family, ",");
            csv_str(&b, s->metric, ",");
            csv_stat(&b, me->value);
            ml_rbuf_puts(&b, "\n");
            if (me->kind == ML_FIG_PT_DIRECT) {
                buf[0 * nx + i] = me->value.mean;
                buf[1 * nx + i] = me->value.lo;
                buf[2 * nx + i] = me->value.hi;
            }
            if (me->kind == ML_FIG_PT_BASE && isfinite(me->value.mean)) { base_sum += me->value.mean; base_n++; }
            for (int fa = 0; fa < NFAM; fa++) {
                if (!me->family || strcmp(me->family, families[fa]) || !isfinite(me->value.mean)) continue;
                double cur = best[fa] >= 0 ? ms[best[fa]].value.mean : NAN;
                if (best[fa] < 0 || (s->higher ? me->value.mean > cur : me->value.mean < cur)) best[fa] = m;
            }
        }
        for (int fa = 0; fa < NFAM; fa++) {
            if (best[fa] < 0) continue;
            double *y = buf + (size_t)3 * (1 + fa) * nx;
            y[i] = ms[best[fa]].value.mean;
            y[nx + i] = ms[best[fa]].value.lo;
            y[2 * nx + i] = ms[best[fa]].value.hi;
        }
        for (int l = 0; l < L && l < g->nlayers && g->over_steps && pl[i].cka_at >= 0; l++) {
            ml_rep_stat st = g->over_steps[(size_t)l * g->nsteps + pl[i].cka_at];
            double *y = buf + (size_t)3 * (1 + NFAM + l) * nx;
            y[i] = st.mean;
            y[nx + i] = isnan(st.lo) ? NAN : fmax(st.lo, 0.0);   /* drawn within CKA's range, as above */
            y[2 * nx + i] = isnan(st.hi) ? NAN : fmin(st.hi, 1.0);
        }
    }
    int n1 = 0;
    ser[n1++] = (ml_fig_series){.name = "direct fine-tune", .y = buf, .lo = buf + nx, .hi = buf + 2 * nx};
    for (int fa = 0; fa < NFAM; fa++) {
        double *y = buf + (size_t)3 * (1 + fa) * nx;
        int any = 0;
        for (int i = 0; i < nx; i++) any |= isfinite(y[i]);
        if (any) ser[n1++] = (ml_fig_series){.name = families[fa], .y = y, .lo = y + nx, .hi = y + 2 * nx};
    }
    for (int l = 0; l < L; l++) {
        double *y = buf + (size_t)3 * (1 + NFAM + l) * nx;
        ser[n1 + l] = (ml_fig_series){.name = g0->layers[l], .y = y, .lo = y + nx, .hi = y + 2 * nx};
    }
    snprintf(ylab, sizeof(ylab), "%s", metric_label(s));
    ml_fig_panel p[2] = {
        {.ylabel = ylab, .series = ser, .nseries = n1, .ref_y = base_n ? base_sum / base_n : NAN,
         .ref_label = "base"},
        {.ylabel = "linear CKA", .series = ser + n1, .nseries = L, .y_include_n = 1, .y_include = {1.0}, .ref_y = NAN},
    };
    for (int k = 0; k < 3; k++) {
        if (!(c->formats & fmts[k])) continue;
        if ((error = join(path, sizeof(path), c->dir, stem, ext[k])) < 0 ||
            (error = ml_fig_panels(path, fmts[k], title, "specialists' fine-tuning steps", xs, nx, NULL, p,
                                   L ? 2 : 1, &c->fig)) < 0)
            goto cleanup;
    }
    error = write_csv(c, stem, &b);
cleanup:
    free(buf);
    ml_rbuf_free(&b);
    return error;
}


/* ---- curves at each point: alpha, router k --------------------------------------- */

/* One line per point the run kept (its step in the legend), over cv's x, with the 95%
 * band; ref (NaN: none) is a dashed reference line. */
static int point_curves(ctx *c, const ml_rep_group *g, const ml_rep_curves *cv, const char *stem, const char *title,
                        const char *xlabel, const char *ylabel, double ref, const char *ref_label) {
    char path[PATH_MAX], (*names)[32] = NULL, (*ticks)[16] = NULL;
    const char *tick_ptr[64];
    int R = cv->nrows, X = cv->nx, error = 0;
    double *buf = NULL;
    ml_fig_series *ser = NULL;
    ml_rbuf b = {0};
    if ((error = ml_calloc((void **)&buf, (size_t)3 * R * X, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&ser, (size_t)R, sizeof(*ser))) < 0 ||
        (error = ml_calloc((void **)&names, (size_t)R, sizeof(*names))) < 0 ||
        (error = ml_calloc((void **)&ticks, (size_t)X, sizeof(*ticks))) < 0)
        goto cleanup;
    /* k is a count: a tick at each k, none between */
    for (int i = 0; cv->names && i < X && i < 64; i++) {
        snprintf(ticks[i], sizeof(ticks[i]), "%g", cv->x[i]);
        tick_ptr[i] = ticks[i];
    }
    ml_rbuf_printf(&b, "group,step,%s,%smean,ci95_lo,ci95_hi,n\n", cv->names ? "k" : "alpha", cv->names ? "model," : "");
    for (int r = 0; r < R; r++) {
        double *y = buf + (size_t)3 * r * X, *lo = y + X, *hi = lo + X;
        if (isfinite(cv->row_step[r])) snprintf(names[r], sizeof(names[r]), "step %g", cv->row_step[r]);
        else snprintf(names[r], sizeof(names[r]), "end");
        for (int i = 0; i < X; i++) {
            ml_rep_stat st = cv->y[(size_t)r * X + i];
            y[i] = st.mean;
            lo[i] = st.lo;
            hi[i] = st.hi;
            csv_str(&b, g->name, ",");
            ml_rbuf_num(&b, cv->row_step[r], "");
            ml_rbuf_puts(&b, ",");
            ml_rbuf_num(&b, cv->x[i], "");
            ml_rbuf_puts(&b, ",");
            if (cv->names) csv_str(&b, cv->names[i], ",");
            csv_stat(&b, st);
            ml_rbuf_puts(&b, "\n");
        }
        ser[r] = (ml_fig_series){.name = names[r], .y = y, .lo = lo, .hi = hi};
    }
    ml_fig_panel p = {.ylabel = ylabel, .series = ser, .nseries = R, .ref_y = ref, .ref_label = ref_label};
    for (int k = 0; k < 3; k++) {
        if (!(c->formats & fmts[k])) continue;
        if ((error = join(path, sizeof(path), c->dir, stem, ext[k])) < 0 ||
            (error = ml_fig_panels(path, fmts[k], title, xlabel, cv->x, X, cv->names && X <= 64 ? tick_ptr : NULL, &p,
                                   1, &c->fig)) < 0)
            goto cleanup;
    }
    error = write_csv(c, stem, &b);
cleanup:
    free(buf);
    free(ser);
    free(names);
    free(ticks);
    ml_rbuf_free(&b);
    return error;
}

/* The mean of the group's first model of this kind (at the end), NaN when there is none. */
static double role_mean(const ml_rep_group *g, ml_fig_point_kind kind) {
    for (int i = 0; i < g->nmethods; i++)
        if (g->methods[i].kind == kind) return g->methods[i].value.mean;
    return NAN;
}

static int alpha_curves(ctx *c, const ml_rep_suite *s, const ml_rep_group *g, const char *stem) {
    ml_rep_fig *f;
    (void)s;
    if (g->alpha.nx < 2) return 0;
    if (!(f = new_fig(c, stem, "Feature interpolation over alpha"))) return 0;
    snprintf(f->caption, sizeof(f->caption),
             "Loss on the target's validation windows (the split alpha is selected on; the method table reports "
             "the test windows) of the specialists' MLP outputs mixed with the same alpha at every layer, "
             "alpha = 0 being the second specialist alone and 1 the first, at each point of fine-tuning; mean "
             "over %d seed%s of group \"%s\"%s.",
             g->ncells, g->ncells == 1 ? "" : "s", g->name, g->ncells > 1 ? " with its 95% t interval shaded" : "");
    return point_curves(c, g, &g->alpha, stem, f->title, "alpha (weight of the first specialist)",
                        "target validation loss", NAN, NULL);
}

static int router_curves(ctx *c, const ml_rep_suite *s, const ml_rep_group *g, const char *stem) {
    ml_rep_fig *f;
    if (g->router_k.nx < 2 || !s->metric) return 0;
    if (!(f = new_fig(c, stem, "Routers over the layers they route across"))) return 0;
    double ref = role_mean(g, ML_FIG_PT_DIRECT);
    snprintf(f->caption, sizeof(f->caption),
             "The %s of the router whose experts at layer i are both specialists' MLPs from k layers (k = 1: the "
             "single-layer router), at each point of fine-tuning; mean over %d seed%s of group \"%s\"%s. %s",
             metric_label(s), g->ncells, g->ncells == 1 ? "" : "s", g->name,
             g->ncells > 1 ? " with its 95% t interval shaded" : "",
             isfinite(ref) ? "The dashed line is direct fine-tuning at the end." : "");
    return point_curves(c, g, &g->router_k, stem, f->title, "k (layers routed across)", metric_label(s), ref,
                        "direct");
}

/* ---- history ----------------------------------------------------------------------- */

static int history(const char *dir, unsigned formats, const ml_fig_opts *fo, const ml_report_opts *o,
                   ml_rep_fig *f) {
    char path[PATH_MAX];
    /* one panel per metric ("group: metric" -> the part after the last ": "), one line
     * per group in it, so a metric's groups share an axis and a legend */
    enum { MAXP = 4, MAXS = 16 };
    ml_fig_series ser[MAXP][MAXS];
    ml_fig_panel p[MAXP];
    const char *pm[MAXP];
    char ylabels[MAXP][96];
    char (*names)[160] = NULL;   /* the legend entries: the group part of each label */
    double *x = NULL;
    ml_rbuf b = {0};
    int np = 0, n = o->history[0].n, error = 0;
    const char *const *commits = o->history[0].commits;
    snprintf(f->stem, sizeof(f->stem), "history");
    snprintf(f->title, sizeof(f->title), "History across commits");
    snprintf(f->caption, sizeof(f->caption),
             "Each metric over the commits measured in the results store, oldest first (first-parent line), "
             "with its 95%% t interval across seeds shaded; a red ring marks a commit worse than the one "
             "before it beyond the gate's tolerance and beyond noise (time per step: beyond 10%%).");
    if ((error = ml_calloc((void **)&x, (size_t)(n ? n : 1), sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&names, (size_t)MAXP * MAXS, sizeof(*names))) < 0)
        goto cleanup;
    for (int i = 0; i < n; i++) x[i] = i;
    ml_rbuf_puts(&b, "metric,commit,mean,ci95_lo,ci95_hi,regressed\n");
    for (int k = 0; k < o->nhistory; k++) {
        const ml_report_history *h = &o->history[k];
        if (h->n != n) { error = ml_error_set(ML_EINVALID, "history series '%s' has %d commits, the first has %d", h->metric, h->n, n); goto cleanup; }
        const char *cut = NULL;
        for (const char *q = strstr(h->metric, ": "); q; q = strstr(q + 2, ": ")) cut = q;
        const char *metric = cut ? cut + 2 : h->metric;
        size_t gl = cut ? (size_t)(cut - h->metric) : 0;
        int pi = 0;
        while (pi < np && strcmp(pm[pi], metric)) pi++;
        if (pi == np && np < MAXP) {
            pm[np] = metric;
            /* "time/finetune_ms_per_step" reads better on an axis as "finetune ms/step" */
            size_t ml = strlen(metric);
            if (!strncmp(metric, "time/", 5) && ml > 17 && !strcmp(metric + ml - 12, "_ms_per_step"))
                snprintf(ylabels[np], sizeof(ylabels[0]), "%.*s ms/step", (int)(ml - 17), metric + 5);
            else snprintf(ylabels[np], sizeof(ylabels[0]), "%s", metric);
            p[np] = (ml_fig_panel){.ylabel = ylabels[np], .series = ser[np], .nseries = 0, .ref_y = NAN};
            np++;
        }
        if (pi < np && p[pi].nseries < MAXS) {
            char *nm = names[pi * MAXS + p[pi].nseries];
            snprintf(nm, sizeof(names[0]), "%.*s", (int)(gl ? gl : strlen(h->metric)), h->metric);
            ser[pi][p[pi].nseries++] = (ml_fig_series){.name = nm, .y = h->mean, .lo = h->lo, .hi = h->hi,
                                                      .flag = h->regressed};
        }
        for (int i = 0; i < n; i++) {
            csv_str(&b, h->metric, ",");
            csv_str(&b, h->commits[i], ",");
            ml_rbuf_num(&b, h->mean[i], "");
            ml_rbuf_puts(&b, ",");
            ml_rbuf_num(&b, h->lo ? h->lo[i] : NAN, "");
            ml_rbuf_puts(&b, ",");
            ml_rbuf_num(&b, h->hi ? h->hi[i] : NAN, "");
            ml_rbuf_printf(&b, ",%d\n", h->regressed ? h->regressed[i] : 0);
        }
    }
    for (int k = 0; k < 3; k++) {
        if (!(formats & fmts[k])) continue;
        if ((error = join(path, sizeof(path), dir, "history", ext[k])) < 0 ||
            (error = ml_fig_panels(path, fmts[k], f->title, "commit (oldest first)", x, n, commits, p, np, fo)) < 0)
            goto cleanup;
    }
    if ((error = ml_rbuf_check(&b)) < 0 || (error = join(path, sizeof(path), dir, "history", "csv")) < 0) goto cleanup;
    error = ml_fs_write_atomic(path, b.p, b.len);
cleanup:
    free(x);
    free(names);
    ml_rbuf_free(&b);
    return error;
}

/* ---- one suite --------------------------------------------------------------------- */

static int suite_figures(ctx *c, const ml_rep_suite *s, ml_rep_section *sec) {
    char stem[200], sfx[16];
    int error;
    /* The groups drawn one by one: all of them when there are one or two, else the first
     * and the last (early and late, for a fine-tuning-length axis); every group is in the
     * CSVs of the figures across groups. */
    sec->nfeatured = 0;
    for (int g = 0; g < s->ngroups; g++) {
        if (s->ngroups > 2 && g != 0 && g != s->ngroups - 1) continue;
        sec->featured[sec->nfeatured++] = g;
    }
    for (int k = 0; k < sec->nfeatured; k++) {
        const ml_rep_group *g = &s->groups[sec->featured[k]];
        c->group = s->ngroups > 1 ? g->name : NULL;
        if (s->ngroups > 1) snprintf(sfx, sizeof(sfx), "_g%d", sec->featured[k] + 1);
        else sfx[0] = '\0';
        snprintf(stem, sizeof(stem), "%s_methods%s", s->prefix, sfx);
        if ((error = methods(c, s, g, stem)) < 0) return error;
        snprintf(stem, sizeof(stem), "%s_alpha%s", s->prefix, sfx);
        if ((error = alpha_curves(c, s, g, stem)) < 0) return error;
        snprintf(stem, sizeof(stem), "%s_router_k%s", s->prefix, sfx);
        if ((error = router_curves(c, s, g, stem)) < 0) return error;
        if (!g->nlayers) continue;
        snprintf(stem, sizeof(stem), "%s_cka_steps%s", s->prefix, sfx);
        if ((error = cka_steps(c, g, stem)) < 0) return error;
        snprintf(stem, sizeof(stem), "%s_cka_probe%s", s->prefix, sfx);
        if ((error = cka_probe(c, g, stem)) < 0) return error;
        snprintf(stem, sizeof(stem), "%s_cka_heatmap%s", s->prefix, sfx);
        if ((error = heatmap(c, g, &g->heat, stem, "at the end of fine-tuning")) < 0) return error;
        snprintf(stem, sizeof(stem), "%s_cka_heatmap_early%s", s->prefix, sfx);
        if ((error = heatmap(c, g, &g->heat_early, stem, "early in fine-tuning (its first kept point)")) < 0) return error;
        for (int m = 0; m < 2; m++) {
            char who[64];
            size_t o = 0;
            if (!g->heat_base[m].cells) continue;
            for (const char *ch = g->pair[m]; *ch && o + 1 < sizeof(who); ch++)   /* a file-name-safe model name */
                who[o++] = (strchr("-_.", *ch) || (*ch >= '0' && *ch <= '9') || (*ch >= 'a' && *ch <= 'z') ||
                            (*ch >= 'A' && *ch <= 'Z')) ? *ch : '_';
            who[o] = '\0';
            snprintf(stem, sizeof(stem), "%s_cka_vs_base_%s%s", s->prefix, who, sfx);
            if ((error = heatmap(c, g, &g->heat_base[m], stem, "at the end of fine-tuning")) < 0) return error;
        }
    }
    c->group = NULL;
    snprintf(stem, sizeof(stem), "%s_merge_vs_length", s->prefix);
    return merge_vs_length(c, s, stem);
}

/* A report folder holds this marker, so a later report may replace it whole. */
#define REPORT_MARKER ".mergelab-report"

/* out_dir may be replaced whole when it does not exist, is empty, or is
 * a report (it has the marker): never a folder with anything else in it. */
static int replaceable(const char *out_dir) {
    struct stat st;
    if (lstat(out_dir, &st) < 0) return errno == ENOENT ? 0 : ml_error_set(ML_EOS, "%s: %s", out_dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return ml_error_set(ML_EINVALID, "report folder '%s' is %s, not a folder", out_dir, ml_fs_kind(st.st_mode));
    DIR *d = opendir(out_dir);
    if (!d) return ml_error_set(ML_EOS, "cannot read '%s': %s", out_dir, strerror(errno));
    int marker = 0, other = 0;
    char first[NAME_MAX + 1] = "";
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (!strcmp(e->d_name, REPORT_MARKER)) marker = 1;
        else if (!other++) snprintf(first, sizeof(first), "%s", e->d_name);
    }
    closedir(d);
    if (other && !marker)
        return ml_error_set(ML_EINVALID, "report folder '%s' holds files that are not a mergelab report (%s); give -o "
                            "a new or empty folder, or an earlier report's", out_dir, first);
    return 0;
}

/* The staged report goes into place in one step: a new folder is renamed
 * there; an existing one is exchanged with it (renameat2 RENAME_EXCHANGE),
 * so a reader sees the old report or the new one, never a mix, and the old
 * one, now at the staging path, is removed. */
static int put_in_place(const char *staging, const char *out_dir) {
    struct stat st;
    if (lstat(out_dir, &st) < 0) {
        if (rename(staging, out_dir) < 0)
            return ml_error_set(ML_EOS, "cannot move the report into '%s': %s", out_dir, strerror(errno));
        return 0;
    }
    if (syscall(SYS_renameat2, AT_FDCWD, staging, AT_FDCWD, out_dir, RENAME_EXCHANGE) < 0)
        return ml_error_set(ML_EOS, "cannot swap the report into '%s': %s", out_dir, strerror(errno));
    return ml_fs_remove_tree(staging);
}

static int write_report(const char *const *results_paths, int nresults, const char *out_dir,
                        const ml_report_opts *opts);

int ml_report_write_many(const char *const *results_paths, int nresults, const char *out_dir,
                         const ml_report_opts *opts) {
    char staging[PATH_MAX], parent[PATH_MAX];
    int error;
    ML_CHECK_ARG(results_paths && out_dir && nresults >= 1, "ml_report_write_many: results and out_dir are required");
    if ((error = ml_fs_check_path(out_dir, "report folder")) < 0 || (error = replaceable(out_dir)) < 0) return error;
    size_t len = strlen(out_dir);
    while (len > 1 && out_dir[len - 1] == '/') len--;   /* "rep/" stages as "rep.tmp.PID", beside it */
    if ((size_t)snprintf(staging, sizeof(staging), "%.*s.tmp.%ld", (int)len, out_dir, (long)getpid()) >= sizeof(staging))
        return ml_error_set(ML_EINVALID, "report folder path too long: '%s'", out_dir);
    snprintf(parent, sizeof(parent), "%s", staging);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        if ((error = ml_fs_mkdir_p(parent)) < 0) return error;
    }
    char trimmed[PATH_MAX];
    snprintf(trimmed, sizeof(trimmed), "%.*s", (int)len, out_dir);
    ml_fs_sweep_stale(trimmed);
    if ((error = ml_fs_remove_tree(staging)) < 0 || (error = ml_fs_mkdir_p(staging)) < 0) return error;
    char marker[PATH_MAX + 32];
    snprintf(marker, sizeof(marker), "%s/%s", staging, REPORT_MARKER);
    if ((error = write_report(results_paths, nresults, staging, opts)) < 0 ||
        (error = ml_fs_write_atomic(marker, "a report written by mergelab; `mergelab report` may replace this folder\n",
                                    69)) < 0 ||
        (error = put_in_place(staging, out_dir)) < 0) {
        ml_error saved = *ml_error_last();
        ml_fs_remove_tree(staging);
        ml_error_set(saved.code, "%s", saved.message);   /* the first failure, not the clean-up's */
        return error;
    }
    return 0;
}

static int write_report(const char *const *results_paths, int nresults, const char *out_dir,
                        const ml_report_opts *opts) {
    ml_report_opts defaults = {0};
    ml_rep_suite *suites = NULL;
    ml_rep_section *secs = NULL;
    ml_rep_fig *figs = NULL, hist;
    char path[PATH_MAX];
    int error = 0;
    ML_CHECK_ARG(results_paths && out_dir && nresults >= 1, "ml_report_write_many: results and out_dir are required");
    if (!opts) opts = &defaults;
    unsigned formats = opts->formats;
    if ((error = ml_calloc((void **)&suites, (size_t)nresults, sizeof(*suites))) < 0 ||
        (error = ml_calloc((void **)&secs, (size_t)nresults, sizeof(*secs))) < 0 ||
        (error = ml_calloc((void **)&figs, (size_t)nresults * MAX_FIGS, sizeof(*figs))) < 0)
        goto cleanup;
    for (int i = 0; i < nresults; i++)
        if ((error = ml_rep_suite_read(&suites[i], results_paths[i])) < 0) goto cleanup;
    /* the caller's options, else the (first) suite's "report" settings, else all three */
    if (!formats) formats = suites[0].formats ? suites[0].formats : ML_FIG_ALL;
    for (int i = 0; i < nresults; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(suites[i].prefix, suites[j].prefix)) {
                error = ml_error_set(ML_EINVALID, "%s and %s are both results of suite '%s': one report shows a suite "
                                     "once (compare commits with `mergelab compare`)",
                                     results_paths[j], results_paths[i], suites[i].name);
                goto cleanup;
            }
    if ((error = ml_fs_mkdir_p(out_dir)) < 0) goto cleanup;
    for (int i = 0; i < nresults; i++) {
        const ml_rep_suite *s = &suites[i];
        int nf = 0;
        ctx c = {.dir = out_dir, .formats = formats, .fig = opts->fig, .figs = figs + (size_t)i * MAX_FIGS, .nfigs = &nf};
        if (c.fig.width_pt <= 0 && s->width_in > 0) c.fig.width_pt = 72.0 * s->width_in;
        if (c.fig.font_pt <= 0 && s->font_pt > 0) c.fig.font_pt = s->font_pt;
        c.fig.source = s->commit;
        c.fig.suite = s->name;
        c.fig.seed = s->seeds[0] ? s->seeds : NULL;
        c.fig.date = s->finished;
        c.fig.y_include_n = 0;
        c.fig.layout = NULL;
        secs[i].suite = s;
        secs[i].figs = c.figs;
        if ((error = suite_figures(&c, s, &secs[i])) < 0) goto cleanup;
        secs[i].nfigs = nf;
    }
    ml_rep_page page = {.sections = secs, .nsections = nresults, .opts = opts, .formats = formats};
    if (opts->history && opts->nhistory > 0) {
        ml_fig_opts fo = opts->fig;
        fo.layout = NULL;
        fo.y_include_n = 0;
        fo.suite = suites[0].name;
        if ((error = history(out_dir, formats, &fo, opts, &hist)) < 0) goto cleanup;
        page.history = &hist;
    }
    if ((size_t)snprintf(path, sizeof(path), "%s/index.html", out_dir) >= sizeof(path)) {
        error = ml_error_set(ML_EINVALID, "output path too long: '%s/index.html'", out_dir);
        goto cleanup;
    }
    error = ml_html__write(path, &page);
cleanup:
    for (int i = 0; suites && i < nresults; i++) ml_rep_suite_free(&suites[i]);
    free(suites);
    free(secs);
    free(figs);
    return error;
}

int ml_report_write(const char *results_path, const char *out_dir) {
    return ml_report_write_many(&results_path, 1, out_dir, NULL);
}

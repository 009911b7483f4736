/*
 * analysis/findings.c: F1-F4 evaluated on a results document (see findings.h for what each
 * check measures and how a verdict is reached).
 * Owns: gathering per-seed quantities from the cells, pairing them by seed, the verdicts.
 * Not here: the t interval (core/stats.c), the gate's rules (gate.c, read for direction).
 */
#include "analysis/findings.h"

#include "core/error.h"
#include "core/stats.h"
#include "analysis/gate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GROUPS 64
#define MAX_SEEDS 64
#define MAX_MODELS 64
#define MAX_UNITS (MAX_GROUPS * 16)   /* a group end, or each of a run's finetune.points */

typedef struct {
    const char *name;
    double length;                    /* its finetune.steps when a matrix axis sets it, else NaN */
    const cJSON *cells[MAX_SEEDS];    /* finished cells, one per (base, seed) replicate */
    double seeds[MAX_SEEDS], bases[MAX_SEEDS];   /* the cell's seed and its base's (pretrain_seed) */
    int n;
} group;

/* One place merges were evaluated: a group's cells at the end of fine-tuning, or at one
 * of the run's finetune.points. */
typedef struct {
    char name[128];
    double length;                    /* the specialists' fine-tuning steps there; NaN unknown */
    const cJSON *metrics[MAX_SEEDS];  /* per seed */
    double seeds[MAX_SEEDS], bases[MAX_SEEDS], cka[MAX_SEEDS];   /* cka: mean over layers there */
    int n;
} unit;

typedef enum { FAM_NONE = -1, FAM_WEIGHT, FAM_INTERP, FAM_ROUTER1, FAM_ROUTERK, FAM_ENSEMBLE, NFAM } family;
static const char *const fam_names[NFAM] = { "weight averaging", "interpolation", "single-layer router",
                                             "multi-layer router", "ensemble" };

typedef struct {
    const char *name;
    family fam;
    int router_layers;                /* 0 unless a router */
    int role;                         /* 0 merge, 1 base, 2 specialist, 3 direct */
} model;

typedef struct {
    const cJSON *doc;
    const char *metric;
    char sel_metric[64];              /* the metric's validation counterpart: choices are made on it */
    int chose[2];                     /* this finding chose among models on: [0] test, [1] validation */
    double sign;                      /* +1: higher is better, -1: lower */
    group g[MAX_GROUPS];
    int ng;
    unit u[MAX_UNITS];
    int nu;
    model m[MAX_MODELS];
    int nm;
    cJSON *out;
} ctx;

static double num(const cJSON *o, const char *k) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(j) ? j->valuedouble : NAN;
}

static double val(const cJSON *j) { return cJSON_IsNumber(j) ? j->valuedouble : NAN; }

static const char *str(const cJSON *o, const char *k) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static double mv(const cJSON *metrics, const char *model_name, const char *metric) {
    char key[256];
    snprintf(key, sizeof(key), "%s/%s", model_name, metric);
    return num(metrics, key);
}

static double mval(const cJSON *cell, const char *model_name, const char *metric) {
    return mv(cJSON_GetObjectItemCaseSensitive(cell, "metrics"), model_name, metric);
}

/* A summary over replicates. With one base (or a base per seed) it is the t interval
 * over the replicates. With several bases each fine-tuned from several seeds, the
 * replicates are not independent: the effect is averaged over each base's seeds first,
 * and the interval is over the bases (S - 1 degrees of freedom), so it covers the choice
 * of base; the spread between bases and the pooled spread between seeds of one base are
 * kept beside it. n counts what the interval is over: bases, or seeds. */
typedef struct {
    ml_summary s;
    int nbases;                       /* distinct bases with a finite value */
    double sd_bases, sd_seeds;        /* NaN unless several bases, some with two or more seeds */
} rsummary;

static rsummary summarize(const double *x, const double *base, int n) {
    rsummary r = { { 0, NAN, NAN, NAN, NAN, NAN }, 0, NAN, NAN };
    double ub[MAX_SEEDS], mb[MAX_SEEDS];
    int cnt[MAX_SEEDS], at[MAX_SEEDS], S = 0, multi = 0;
    for (int i = 0; i < n; i++) {
        at[i] = -1;
        if (!isfinite(x[i])) continue;
        int b = 0;
        /* a base that is not a number (a cell without seeds) is a base of its own */
        while (b < S && !(ub[b] == base[i])) b++;
        if (b == S) { ub[S] = base[i]; mb[S] = 0; cnt[S++] = 0; }
        mb[b] += x[i];
        multi |= ++cnt[b] > 1;
        at[i] = b;
    }
    r.nbases = S;
    if (S < 2 || !multi) {
        ml_stats_summary(&r.s, x, n);
        return r;
    }
    double ss = 0;
    int df = 0;
    for (int b = 0; b < S; b++) {
        mb[b] /= cnt[b];
        df += cnt[b] - 1;
    }
    for (int i = 0; i < n; i++)
        if (at[i] >= 0) ss += (x[i] - mb[at[i]]) * (x[i] - mb[at[i]]);
    ml_stats_summary(&r.s, mb, S);
    r.sd_bases = r.s.sd;
    r.sd_seeds = df > 0 ? sqrt(ss / df) : NAN;
    return r;
}

static const char *verdict_of(const ml_summary *s) {
    if (s->n < 2 || isnan(s->lo)) return "inconclusive";
    if (s->lo > 0) return "held";
    if (s->hi < 0) return "not held";
    return "inconclusive";
}

static void add(ctx *c, const char *id, const char *statement, const char *verdict, const rsummary *rs,
                const char *detail) {
    const ml_summary *s = rs ? &rs->s : NULL;
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "id", id);
    cJSON_AddStringToObject(f, "statement", statement);
    cJSON_AddStringToObject(f, "verdict", verdict);
    /* JSON has no NaN: an effect that could not be measured is null */
    if (s && isfinite(s->mean)) cJSON_AddNumberToObject(f, "effect", s->mean);
    else cJSON_AddNullToObject(f, "effect");
    if (s && isfinite(s->lo)) cJSON_AddNumberToObject(f, "ci_lo", s->lo);
    else cJSON_AddNullToObject(f, "ci_lo");
    if (s && isfinite(s->hi)) cJSON_AddNumberToObject(f, "ci_hi", s->hi);
    else cJSON_AddNullToObject(f, "ci_hi");
    cJSON_AddNumberToObject(f, "n", s ? s->n : 0);
    /* several bases: n counts bases, and the two spreads are shown apart */
    if (rs && rs->nbases > 1 && isfinite(rs->sd_bases)) {
        cJSON_AddNumberToObject(f, "bases", rs->nbases);
        cJSON_AddNumberToObject(f, "sd_between_bases", rs->sd_bases);
        if (isfinite(rs->sd_seeds)) cJSON_AddNumberToObject(f, "sd_within_base", rs->sd_seeds);
        else cJSON_AddNullToObject(f, "sd_within_base");
    }
    cJSON_AddStringToObject(f, "metric", c->metric);
    /* where this finding's choices among models were made (none: it made none) */
    const char *on = c->chose[1] && c->chose[0] ? "validation and test" : c->chose[1] ? "validation"
                   : c->chose[0] ? "test" : "none";
    cJSON_AddStringToObject(f, "selected_on", on);
    char full[1280], spread[160] = "";
    if (rs && rs->nbases > 1 && isfinite(rs->sd_bases))
        snprintf(spread, sizeof(spread), "; interval over %d bases (each the mean of its seeds): sd between bases %.4g, "
                 "between seeds of one base %.4g", rs->nbases, rs->sd_bases, rs->sd_seeds);
    char body[1100];
    snprintf(body, sizeof(body), "%s%s", detail, spread);
    detail = body;
    if (c->chose[0])
        snprintf(full, sizeof(full), "%s; models chosen on the TEST split where the results lack %s (older results)",
                 detail, c->sel_metric);
    else if (c->chose[1])
        snprintf(full, sizeof(full), "%s; models chosen on the validation split (%s), reported on test", detail,
                 c->sel_metric);
    else snprintf(full, sizeof(full), "%s", detail);
    cJSON_AddStringToObject(f, "detail", full);
    cJSON_AddItemToArray(c->out, f);
    c->chose[0] = c->chose[1] = 0;
}

/* ---- gathering --------------------------------------------------------------------- */

/* The mean over layers of the specialists' linear CKA at fine-tuning step `step` (the
 * last measured step when step is NaN); NaN when not measured there. */
static double cka_at(const cJSON *cell, double step) {
    const cJSON *cka = cJSON_GetObjectItemCaseSensitive(cell, "cka");
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(cka, "steps"), *over = cJSON_GetObjectItemCaseSensitive(cka, "over_steps");
    int S = cJSON_GetArraySize(steps), L = cJSON_GetArraySize(over), at = S - 1;
    if (!isnan(step))
        for (at = S - 1; at >= 0 && val(cJSON_GetArrayItem(steps, at)) != step; at--) {}
    if (at < 0 || L == 0) return NAN;
    double sum = 0;
    for (int l = 0; l < L; l++) sum += val(cJSON_GetArrayItem(cJSON_GetArrayItem(over, l), at));
    return sum / L;
}

/* The units: per group, each of its points when the run kept some, else its end. */
static int make_units(ctx *c) {
    for (int k = 0; k < c->ng; k++) {
        const group *g = &c->g[k];
        const cJSON *pts = cJSON_GetObjectItemCaseSensitive(g->cells[0], "points");
        int np = cJSON_IsArray(pts) ? cJSON_GetArraySize(pts) : 0;
        for (int j = 0; j < (np ? np : 1); j++) {
            if (c->nu == MAX_UNITS) return ml_error_set(ML_EINVALID, "findings: more than %d groups and points", MAX_UNITS);
            unit *u = &c->u[c->nu];
            double step = np ? val(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(pts, j), "step")) : NAN;
            memset(u, 0, sizeof(*u));
            u->length = np ? step : g->length;
            if (!np) snprintf(u->name, sizeof(u->name), "group %s", g->name);
            else if (!strcmp(g->name, "default")) snprintf(u->name, sizeof(u->name), "step %g", step);
            else snprintf(u->name, sizeof(u->name), "group %s step %g", g->name, step);
            for (int i = 0; i < g->n; i++) {
                const cJSON *cp = np ? cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(g->cells[i], "points"), j) : NULL;
                /* cells of a group have the same points; one that does not is left out here */
                if (np && (!cp || val(cJSON_GetObjectItemCaseSensitive(cp, "step")) != step)) continue;
                u->metrics[u->n] = cJSON_GetObjectItemCaseSensitive(np ? cp : g->cells[i], "metrics");
                u->seeds[u->n] = g->seeds[i];
                u->bases[u->n] = g->bases[i];
                u->cka[u->n] = cka_at(g->cells[i], np ? step : NAN);
                u->n++;
            }
            c->nu++;
        }
    }
    return 0;
}

static int gather(ctx *c) {
    const cJSON *cells = cJSON_GetObjectItemCaseSensitive(c->doc, "cells");
    for (const cJSON *cell = cells ? cells->child : NULL; cell; cell = cell->next) {
        const char *st = str(cell, "status"), *gname = str(cell, "group");
        if (!st || strcmp(st, "ok")) continue;
        if (!gname) gname = "default";
        int k = 0;
        while (k < c->ng && strcmp(c->g[k].name, gname)) k++;
        if (k == c->ng) {
            if (c->ng == MAX_GROUPS) return ml_error_set(ML_EINVALID, "findings: more than %d groups", MAX_GROUPS);
            c->g[k].name = gname;
            c->g[k].length = num(cJSON_GetObjectItemCaseSensitive(cell, "params"), "finetune.steps");
            c->ng++;
        }
        group *g = &c->g[k];
        if (g->n == MAX_SEEDS) return ml_error_set(ML_EINVALID, "findings: more than %d seeds in group %s", MAX_SEEDS, gname);
        g->seeds[g->n] = num(cell, "seed");
        /* older results lack pretrain_seed: then each cell is its own base */
        g->bases[g->n] = isfinite(num(cell, "pretrain_seed")) ? num(cell, "pretrain_seed") : g->seeds[g->n];
        g->cells[g->n++] = cell;
    }
    /* the models, from the first finished cell: every cell of a suite has the same ones */
    const cJSON *models = c->ng ? cJSON_GetObjectItemCaseSensitive(c->g[0].cells[0], "models") : NULL;
    for (const cJSON *m = models ? models->child : NULL; m && c->nm < MAX_MODELS; m = m->next) {
        const char *name = str(m, "name"), *role = str(m, "role"), *method = str(m, "method");
        if (!name || !role) continue;
        model *d = &c->m[c->nm++];
        d->name = name;
        d->fam = FAM_NONE;
        d->role = !strcmp(role, "base") ? 1 : !strcmp(role, "specialist") ? 2 : !strcmp(role, "direct") ? 3 : 0;
        if (d->role) continue;
        if (method && !strcmp(method, "router")) {
            double L = num(cJSON_GetObjectItemCaseSensitive(m, "router"), "layers");
            d->router_layers = isfinite(L) && fabs(L) < 1e9 ? (int)L : 1;   /* (int) of a huge value is undefined */
            d->fam = d->router_layers > 1 ? FAM_ROUTERK : FAM_ROUTER1;
        } else if (method && !strcmp(method, "ensemble")) d->fam = FAM_ENSEMBLE;
        else if (method && !strcmp(method, "interpolate")) d->fam = FAM_INTERP;
        else d->fam = FAM_WEIGHT;
    }
    return 0;
}

/* The mean over a unit's seeds of a model's metric. */
static double gmean(const unit *g, const char *name, const char *metric) {
    double v[MAX_SEEDS];
    for (int i = 0; i < g->n; i++) v[i] = mv(g->metrics[i], name, metric);
    return summarize(v, g->bases, g->n).s.mean;
}

/* The best model (by mean, in the better direction) among those `take` accepts; -1 if
 * none. The choice is made on the validation split when every candidate has its
 * validation metric there, else (older results) on test; a choice among two or more is
 * noted in c->chose, and add() says where it was made. */
static int best_of(ctx *c, const unit *g, int (*take)(const model *, const void *), const void *arg) {
    int best = -1, cand = 0, on_valid = 1;
    for (int i = 0; i < c->nm; i++) {
        if (!take(&c->m[i], arg) || !isfinite(gmean(g, c->m[i].name, c->metric))) continue;
        cand++;
        if (!isfinite(gmean(g, c->m[i].name, c->sel_metric))) on_valid = 0;
    }
    const char *metric = on_valid ? c->sel_metric : c->metric;
    double bv = NAN;
    for (int i = 0; i < c->nm; i++) {
        if (!take(&c->m[i], arg) || !isfinite(gmean(g, c->m[i].name, c->metric))) continue;
        double v = gmean(g, c->m[i].name, metric);
        if (best < 0 || c->sign * v > c->sign * bv) { best = i; bv = v; }
    }
    if (cand > 1) c->chose[on_valid] = 1;
    return best;
}

static int is_family(const model *m, const void *arg) { return m->fam == *(const family *)arg; }
static int is_router(const model *m, const void *arg) { (void)arg; return m->fam == FAM_ROUTER1 || m->fam == FAM_ROUTERK; }
static int is_fixed_merge(const model *m, const void *arg) { (void)arg; return m->fam == FAM_INTERP || m->fam == FAM_WEIGHT; }
static int is_role(const model *m, const void *arg) { return m->role == *(const int *)arg; }
static int router_k(const model *m, const void *arg) {
    return (m->fam == FAM_ROUTER1 || m->fam == FAM_ROUTERK) && m->router_layers == *(const int *)arg;
}

/* Per seed, sign * (a - b) in one unit: how much better a is than b. */
static rsummary margin(const ctx *c, const unit *g, const char *a, const char *b) {
    double v[MAX_SEEDS];
    for (int i = 0; i < g->n; i++) v[i] = c->sign * (mv(g->metrics[i], a, c->metric) - mv(g->metrics[i], b, c->metric));
    return summarize(v, g->bases, g->n);
}

/* ---- F1 ---------------------------------------------------------------------------- */

/* F1 on one CKA curve of the results: "over_steps" (linear CKA with the biased HSIC, the
 * paper's) or "over_steps_debiased" (the unbiased HSIC_1, which a probe small for the
 * width does not inflate); both verdicts are reported. */
static void f1_on(ctx *c, const char *id, const char *curve, const char *what) {
    static const char *const stmt = "CKA between the specialists falls as fine-tuning goes on";
    char detail[512];
    const group *g = NULL;
    double longest = -1;
    for (int k = 0; k < c->ng; k++) {
        const cJSON *steps = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c->g[k].cells[0], "cka"), "steps");
        const cJSON *last = steps ? cJSON_GetArrayItem(steps, cJSON_GetArraySize(steps) - 1) : NULL;
        if (cJSON_IsNumber(last) && last->valuedouble > longest) { longest = last->valuedouble; g = &c->g[k]; }
    }
    if (!g) { add(c, id, stmt, "inconclusive", NULL, "no CKA track in the results"); return; }
    double eff[MAX_SEEDS], slope[MAX_SEEDS], first_v[MAX_SEEDS], last_v[MAX_SEEDS];
    double s_first = NAN, s_last = NAN;
    int L = 0;
    for (int i = 0; i < g->n; i++) {
        const cJSON *cka = cJSON_GetObjectItemCaseSensitive(g->cells[i], "cka");
        const cJSON *steps = cJSON_GetObjectItemCaseSensitive(cka, "steps"), *over = cJSON_GetObjectItemCaseSensitive(cka, curve);
        int S = cJSON_GetArraySize(steps), s1 = -1;
        L = cJSON_GetArraySize(over);
        for (int s = 0; s < S && s1 < 0; s++)
            if (cJSON_GetArrayItem(steps, s)->valuedouble > 0) s1 = s;
        eff[i] = slope[i] = first_v[i] = last_v[i] = NAN;
        if (s1 < 0 || s1 >= S - 1 || L == 0) continue;
        s_first = cJSON_GetArrayItem(steps, s1)->valuedouble;
        s_last = cJSON_GetArrayItem(steps, S - 1)->valuedouble;
        /* the mean over layers at every step after 0, and its least-squares slope */
        double sx = 0, sy = 0, sxx = 0, sxy = 0, a = 0, b = 0;
        int np = 0;
        for (int s = s1; s < S; s++) {
            double x = cJSON_GetArrayItem(steps, s)->valuedouble, y = 0;
            for (int l = 0; l < L; l++) y += val(cJSON_GetArrayItem(cJSON_GetArrayItem(over, l), s));
            y /= L;
            if (s == s1) a = y;
            if (s == S - 1) b = y;
            sx += x; sy += y; sxx += x * x; sxy += x * y; np++;
        }
        first_v[i] = a;
        last_v[i] = b;
        eff[i] = a - b;
        double den = np * sxx - sx * sx;
        slope[i] = den > 0 ? 1000.0 * (np * sxy - sx * sy) / den : NAN;
    }
    rsummary e = summarize(eff, g->bases, g->n);
    ml_summary sl = summarize(slope, g->bases, g->n).s;
    ml_summary fv = summarize(first_v, g->bases, g->n).s, lv = summarize(last_v, g->bases, g->n).s;
    if (e.s.n == 0) {
        add(c, id, stmt, "inconclusive", NULL,
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(g->cells[0], "cka"), curve)
                ? "needs CKA measured at two or more steps after step 0" : "the results have no such CKA curve (older results)");
        return;
    }
    snprintf(detail, sizeof(detail),
             "mean %s over %d layers, group %s: %.4f at step %g, %.4f at step %g (the effect is the fall); "
             "least-squares slope %.4f per 1000 steps over the steps after 0; %d %s",
             what, L, g->name, fv.mean, s_first, lv.mean, s_last, sl.mean, e.s.n,
             e.nbases > 1 ? "bases" : e.s.n == 1 ? "seed" : "seeds");   /* n counts bases when there are several */
    add(c, id, stmt, verdict_of(&e.s), &e, detail);
}

static void f1(ctx *c) {
    f1_on(c, "F1", "over_steps", "linear CKA (biased HSIC)");
    f1_on(c, "F1 debiased", "over_steps_debiased", "linear CKA (unbiased HSIC_1)");
}

/* ---- F2 and F3: per group, all groups must agree ----------------------------------- */

typedef struct {
    rsummary worst;          /* the pair that decides the verdict (see across_add) */
    char worst_what[256];
    int any, held_all, not_held_any;
} across;

static void across_init(across *a) {
    memset(a, 0, sizeof(*a));
    a->held_all = 1;
}

/* The row shown is the pair the verdict rests on, so its interval agrees with the verdict:
 * a contradicting pair (interval below 0) if any, the one reaching lowest; otherwise the
 * pair with the lowest lower bound (with one seed, no interval: the smallest effect). */
static double weakness(const ml_summary *s) { return isnan(s->lo) ? s->mean : s->lo; }

static void across_add(across *a, const rsummary *rs, const char *what) {
    const ml_summary *s = &rs->s;
    if (s->n == 0 || isnan(s->mean)) return;
    const char *v = verdict_of(s);
    int contra = !strcmp(v, "not held");
    a->held_all &= !strcmp(v, "held");
    int replace = !a->any;
    if (a->any) {
        if (contra && !a->not_held_any) replace = 1;
        else if (contra) replace = s->hi < a->worst.s.hi;
        else if (!a->not_held_any) replace = weakness(s) < weakness(&a->worst.s);
    }
    a->not_held_any |= contra;
    if (replace) {
        a->worst = *rs;
        snprintf(a->worst_what, sizeof(a->worst_what), "%s", what);
    }
    a->any = 1;
}

static const char *across_verdict(const across *a) {
    if (!a->any) return "inconclusive";
    if (a->not_held_any) return "not held";
    return a->held_all ? "held" : "inconclusive";
}

static void f2(ctx *c) {
    static const char *const stmt = "Direct fine-tuning beats every merge on the target";
    char detail[512], what[256];
    across a;
    int direct_role = 3, nmerge = 0;
    across_init(&a);
    for (int k = 0; k < c->nu; k++) {
        int d = best_of(c, &c->u[k], is_role, &direct_role);
        if (d < 0) continue;
        for (int i = 0; i < c->nm; i++) {
            if (c->m[i].role != 0) continue;
            rsummary s = margin(c, &c->u[k], c->m[d].name, c->m[i].name);
            snprintf(what, sizeof(what), "%s at %s", c->m[i].name, c->u[k].name);
            across_add(&a, &s, what);
            nmerge++;
        }
    }
    if (!a.any) { add(c, "F2", stmt, "inconclusive", NULL, "no direct fine-tune or no merge in the results"); return; }
    snprintf(detail, sizeof(detail),
             "direct's margin over each of %d (merge, place) pairs, per seed; shown: the weakest, against %s",
             nmerge, a.worst_what);
    add(c, "F2", stmt, across_verdict(&a), &a.worst, detail);
}

static void f3(ctx *c) {
    static const char *const stmt_a = "Routing beats feature interpolation and weight averaging";
    static const char *const stmt_b = "The multi-layer router improves as k grows";
    char detail[512], what[256];
    across a, b;
    int kmax = 0;
    across_init(&a);
    across_init(&b);
    for (int i = 0; i < c->nm; i++)
        if (c->m[i].router_layers > kmax) kmax = c->m[i].router_layers;
    for (int k = 0; k < c->nu; k++) {
        const unit *g = &c->u[k];
        int r = best_of(c, g, is_router, NULL), f = best_of(c, g, is_fixed_merge, NULL);
        if (r >= 0 && f >= 0) {
            rsummary s = margin(c, g, c->m[r].name, c->m[f].name);
            snprintf(what, sizeof(what), "%s over %s at %s", c->m[r].name, c->m[f].name, g->name);
            across_add(&a, &s, what);
        }
        int one = 1, r1 = best_of(c, g, router_k, &one), rk = kmax > 1 ? best_of(c, g, router_k, &kmax) : -1;
        if (r1 >= 0 && rk >= 0) {
            rsummary s = margin(c, g, c->m[rk].name, c->m[r1].name);
            snprintf(what, sizeof(what), "%s (k = %d) over %s (k = 1) at %s", c->m[rk].name, kmax, c->m[r1].name, g->name);
            across_add(&b, &s, what);
        }
    }
    if (!a.any) add(c, "F3a", stmt_a, "inconclusive", NULL, "needs a router and an interpolation or weight-averaging merge");
    else {
        snprintf(detail, sizeof(detail), "the best router's margin over the best fixed merge (each chosen by its mean over seeds), "
                 "per seed; weakest: %s", a.worst_what);
        add(c, "F3a", stmt_a, across_verdict(&a), &a.worst, detail);
    }
    if (!b.any) add(c, "F3b", stmt_b, "inconclusive", NULL, "needs routers over k = 1 and k > 1 layers (models[].router.layers)");
    else {
        snprintf(detail, sizeof(detail), "the largest k's margin over k = 1, per seed; weakest: %s", b.worst_what);
        add(c, "F3b", stmt_b, across_verdict(&b), &b.worst, detail);
    }
}

/* ---- F4 ---------------------------------------------------------------------------- */

static int cmp_len(const void *x, const void *y) {
    double a = (*(const unit *const *)x)->length, b = (*(const unit *const *)y)->length;
    return (a > b) - (a < b);
}

/* the same replicate (base and seed) in another unit: the pairing of F4 */
static int seed_index(const unit *u, double seed, double base) {
    for (int i = 0; i < u->n; i++)
        if (u->seeds[i] == seed && u->bases[i] == base) return i;
    return -1;
}

static void f4(ctx *c) {
    const unit *by_len[MAX_UNITS];
    int nl = 0;
    char id[48], stmt[160], detail[768];
    /* one unit per fine-tuning length (points of one run, or groups of a length axis) */
    for (int k = 0; k < c->nu; k++) {
        if (!isfinite(c->u[k].length)) continue;
        int seen = 0;
        for (int i = 0; i < nl; i++) seen |= by_len[i]->length == c->u[k].length;
        if (!seen) by_len[nl++] = &c->u[k];
    }
    qsort(by_len, (size_t)nl, sizeof(by_len[0]), cmp_len);
    int base_role = 1, spec_role = 2;
    for (int f = 0; f < NFAM; f++) {
        family fam = (family)f;
        snprintf(id, sizeof(id), "F4 %s", fam_names[f]);
        snprintf(stmt, sizeof(stmt), "Merging by %s gets worse as the specialists train longer", fam_names[f]);
        int present = 0;
        for (int i = 0; i < c->nm; i++) present |= c->m[i].fam == fam;
        if (!present) continue;
        if (nl < 2) {
            add(c, id, stmt, "inconclusive", NULL,
                "needs results at two or more fine-tuning lengths (finetune.points, or a matrix axis over finetune.steps)");
            continue;
        }
        const unit *g0 = by_len[0], *g1 = by_len[nl - 1];
        int m0 = best_of(c, g0, is_family, &fam), m1 = best_of(c, g1, is_family, &fam);
        int b0 = best_of(c, g0, is_role, &base_role), b1 = best_of(c, g1, is_role, &base_role);
        int s0 = best_of(c, g0, is_role, &spec_role), s1 = best_of(c, g1, is_role, &spec_role);
        double worse[MAX_SEEDS], rel_base[MAX_SEEDS], rel_spec[MAX_SEEDS], z[MAX_SEEDS], wb[MAX_SEEDS], zb[MAX_SEEDS];
        int n = 0, nz = 0;
        for (int i = 0; i < g0->n && m0 >= 0 && m1 >= 0; i++) {
            int j = seed_index(g1, g0->seeds[i], g0->bases[i]);
            if (j < 0) continue;
            const cJSON *a = g0->metrics[i], *b = g1->metrics[j];
            double va = mv(a, c->m[m0].name, c->metric), vb = mv(b, c->m[m1].name, c->metric);
            worse[n] = c->sign * (va - vb);
            rel_base[n] = b0 >= 0 && b1 >= 0 ? c->sign * ((va - mv(a, c->m[b0].name, c->metric)) - (vb - mv(b, c->m[b1].name, c->metric))) : NAN;
            rel_spec[n] = s0 >= 0 && s1 >= 0 ? c->sign * ((va - mv(a, c->m[s0].name, c->metric)) - (vb - mv(b, c->m[s1].name, c->metric))) : NAN;
            wb[n++] = g0->bases[i];
            /* quality (sign * metric) against CKA across every length, for this seed */
            if (nl >= 3) {
                double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
                int np = 0;
                for (int l = 0; l < nl; l++) {
                    int jl = seed_index(by_len[l], g0->seeds[i], g0->bases[i]), ml = best_of(c, by_len[l], is_family, &fam);
                    if (jl < 0 || ml < 0) continue;
                    double x = by_len[l]->cka[jl], y = c->sign * mv(by_len[l]->metrics[jl], c->m[ml].name, c->metric);
                    if (!isfinite(x) || !isfinite(y)) continue;
                    sx += x; sy += y; sxx += x * x; syy += y * y; sxy += x * y; np++;
                }
                double vx = np * sxx - sx * sx, vy = np * syy - sy * sy;
                if (np >= 3 && vx > 0 && vy > 0) {
                    double r = (np * sxy - sx * sy) / sqrt(vx * vy);
                    if (r > 0.999999) r = 0.999999;
                    if (r < -0.999999) r = -0.999999;
                    zb[nz] = g0->bases[i];
                    z[nz++] = atanh(r);
                }
            }
        }
        rsummary wr = summarize(worse, wb, n);
        ml_summary w = wr.s, rb = summarize(rel_base, wb, n).s, rs = summarize(rel_spec, wb, n).s, zz = summarize(z, zb, nz).s;
        char corr[160] = "correlation with CKA: needs three or more lengths";
        if (zz.n >= 2) snprintf(corr, sizeof(corr), "correlation of quality with CKA across %d lengths r = %.3f [%.3f, %.3f]",
                                nl, tanh(zz.mean), tanh(zz.lo), tanh(zz.hi));
        else if (zz.n == 1) snprintf(corr, sizeof(corr), "correlation of quality with CKA across %d lengths r = %.3f (one seed)",
                                     nl, tanh(zz.mean));
        snprintf(detail, sizeof(detail),
                 "best %s (%s at %g steps, %s at %g) worsens by %.4g; relative to the base by %.4g [%.4g, %.4g], "
                 "relative to the best specialist by %.4g [%.4g, %.4g]; %s",
                 fam_names[f], m0 >= 0 ? c->m[m0].name : "-", g0->length, m1 >= 0 ? c->m[m1].name : "-", g1->length,
                 w.mean, rb.mean, rb.lo, rb.hi, rs.mean, rs.lo, rs.hi, corr);
        add(c, id, stmt, verdict_of(&w), n ? &wr : NULL, detail);
    }
}

/* ---- public ------------------------------------------------------------------------ */

int ml_findings_eval(cJSON **out, const cJSON *doc, const ml_findings_spec *spec) {
    ctx *c = NULL;
    int error = 0;
    *out = NULL;
    if ((error = ml_calloc((void **)&c, 1, sizeof(*c))) < 0) return error;
    c->doc = doc;
    if ((error = gather(c)) < 0) goto cleanup;
    if ((error = make_units(c)) < 0) goto cleanup;
    /* the metric: the suite's choice, else the target loss of the family */
    c->metric = spec->metric[0] ? spec->metric : NULL;
    if (!c->metric) c->metric = c->ng && isfinite(mval(c->g[0].cells[0], "direct", "loss")) ? "loss" : "test_loss";
    /* choices on the validation counterpart: loss and test_loss -> valid_loss, test_acc -> valid_acc */
    snprintf(c->sel_metric, sizeof(c->sel_metric), "valid_%s",
             !strncmp(c->metric, "test_", 5) ? c->metric + 5 : c->metric);
    char key[64];
    snprintf(key, sizeof(key), "direct/%s", c->metric);
    const char *dir = str(ml_gate_rule_for(cJSON_GetObjectItemCaseSensitive(doc, "gate"), key), "direction");
    c->sign = dir ? (!strcmp(dir, "higher") ? 1.0 : -1.0) : (strstr(c->metric, "acc") ? 1.0 : -1.0);
    if (!(c->out = cJSON_CreateArray())) { error = ml_error_set(ML_ENOMEM, "out of memory"); goto cleanup; }
    for (int i = 0; i < spec->n; i++) {
        const char *id = spec->ids[i];
        if (!strcmp(id, "F1")) f1(c);
        else if (!strcmp(id, "F2")) f2(c);
        else if (!strcmp(id, "F3")) f3(c);
        else if (!strcmp(id, "F4")) f4(c);
        else { error = ml_error_set(ML_EINVALID, "unknown finding \"%s\" (expected F1, F2, F3 or F4)", id); goto cleanup; }
    }
    *out = c->out;
    c->out = NULL;
cleanup:
    cJSON_Delete(c->out);
    free(c);
    return error;
}

/*
 * reports/report_data.c: a results file read and gathered across seeds (ml_rep_suite).
 * Owns: typed access with JSON paths in the errors, grouping cells, and the per-group
 *       means/intervals of the method table, the CKA curves and the CKA heatmaps.
 * Not here: the results schema's checks that every reader shares (store/results.c does
 *           those in ml_results_load), drawing, the page.
 * Strict about keys that are present (a wrong type or shape is ML_EDATA naming the file
 * and the JSON path), lenient about keys that are absent (the figure says "no data"),
 * silent about keys it does not know. A JSON null where a number belongs is NaN.
 */
#include "reports/report_data.h"

#include "core/error.h"
#include "core/stats.h"
#include "analysis/gate.h"
#include "store/results.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- typed access ------------------------------------------------------------------ */

static const char *kind(const cJSON *j) {
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsObject(j)) return "an object";
    if (cJSON_IsArray(j)) return "an array";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsNull(j)) return "null";
    return "an invalid value";
}

static int bad(const ml_rep_suite *s, const char *jpath, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(const ml_rep_suite *s, const char *jpath, const char *fmt, ...) {
    char msg[ML_ERROR_MSG_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return ml_error_set(ML_EDATA, "%s: %s: %s", s->file, jpath, msg);
}

/* An optional string member: absent or null gives NULL, anything else but a string is an
 * error. */
static int opt_str(const ml_rep_suite *s, const cJSON *obj, const char *ppath, const char *key, const char **out) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!j || cJSON_IsNull(j)) return 0;
    if (!cJSON_IsString(j)) {
        char path[300];
        snprintf(path, sizeof(path), "%s.%s", ppath, key);
        return bad(s, path, "expected a string, got %s", kind(j));
    }
    *out = j->valuestring;
    return 0;
}

/* Exactly n numbers (null = NaN) into dst. */
static int num_row(const ml_rep_suite *s, const cJSON *a, const char *path, int n, double *dst) {
    int i = 0, ok = cJSON_IsArray(a) && cJSON_GetArraySize(a) == n;
    for (const cJSON *c = ok ? a->child : NULL; c && ok; c = c->next, i++) {
        ok = cJSON_IsNull(c) || cJSON_IsNumber(c);
        dst[i] = cJSON_IsNumber(c) ? c->valuedouble : NAN;
    }
    return ok ? 0 : bad(s, path, "expected an array of %d numbers", n);
}

/* rows x cols numbers (an array of rows) into dst. */
static int num_matrix(const ml_rep_suite *s, const cJSON *a, const char *path, int rows, int cols, double *dst) {
    char rp[320];
    int i = 0, error;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != rows)
        return bad(s, path, "expected an array of %d rows of %d numbers", rows, cols);
    for (const cJSON *r = a->child; r; r = r->next, i++) {
        snprintf(rp, sizeof(rp), "%s[%d]", path, i);
        if ((error = num_row(s, r, rp, cols, dst + (size_t)i * cols)) < 0) return error;
    }
    return 0;
}

static double metric_in(const cJSON *metrics, const char *model, const char *metric) {
    char key[300];
    snprintf(key, sizeof(key), "%s/%s", model, metric);
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(metrics, key);
    return cJSON_IsNumber(j) ? j->valuedouble : NAN;
}

static double metric_of(const cJSON *cell, const char *model, const char *metric) {
    char key[300];
    snprintf(key, sizeof(key), "%s/%s", model, metric);
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cell, "metrics"), key);
    return cJSON_IsNumber(j) ? j->valuedouble : NAN;
}

static int str_is(const cJSON *j, const char *want) {
    return cJSON_IsString(j) && !strcmp(j->valuestring, want);
}

static int is_ok(const cJSON *cell) { return str_is(cJSON_GetObjectItemCaseSensitive(cell, "status"), "ok"); }

ml_rep_stat ml_rep_stat_of(const double *x, int n) {
    ml_summary sm;
    ml_rep_stat r = {NAN, NAN, NAN, 0};
    if (ml_stats_summary(&sm, x, n) < 0) return r;
    r.mean = sm.mean;
    r.lo = sm.lo;
    r.hi = sm.hi;
    r.n = sm.n;
    return r;
}

/* ---- the suite's own keys ---------------------------------------------------------- */

static int read_head(ml_rep_suite *s) {
    const cJSON *suite = cJSON_GetObjectItemCaseSensitive(s->doc, "suite");
    const cJSON *prov = cJSON_GetObjectItemCaseSensitive(s->doc, "provenance");
    const cJSON *repo = cJSON_GetObjectItemCaseSensitive(prov, "repository");
    int error;
    if (!cJSON_IsObject(suite)) return bad(s, "$.suite", "missing (expected an object)");
    if ((error = opt_str(s, suite, "$.suite", "name", &s->name)) < 0 ||
        (error = opt_str(s, suite, "$.suite", "description", &s->desc)) < 0 ||
        (error = opt_str(s, suite, "$.suite", "file", &s->suite_file)) < 0 ||
        (error = opt_str(s, suite, "$.suite", "sha256", &s->suite_sha256)) < 0)
        return error;
    if (!s->name || !*s->name) return bad(s, "$.suite.name", "missing (expected a non-empty string)");
    size_t o = 0;
    for (const char *c = s->name; *c && o + 1 < sizeof(s->prefix); c++)
        s->prefix[o++] = (strchr("-_.", *c) || (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') ||
                          (*c >= 'A' && *c <= 'Z')) ? *c : '_';
    s->prefix[o] = '\0';
    if (prov && !cJSON_IsObject(prov)) return bad(s, "$.provenance", "expected an object, got %s", kind(prov));
    if (repo && !cJSON_IsObject(repo) && !cJSON_IsNull(repo))
        return bad(s, "$.provenance.repository", "expected an object or null, got %s", kind(repo));
    if (cJSON_IsObject(repo)) {
        if ((error = opt_str(s, repo, "$.provenance.repository", "commit", &s->commit)) < 0) return error;
        s->dirty = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(repo, "dirty"));
    }
    if (prov && (error = opt_str(s, prov, "$.provenance", "finished", &s->finished)) < 0) return error;
    const cJSON *seeds = cJSON_GetObjectItemCaseSensitive(prov, "seeds");
    size_t n = 0;
    for (const cJSON *c = cJSON_IsArray(seeds) ? seeds->child : NULL; c; c = c->next)
        if (cJSON_IsNumber(c) && n + 24 < sizeof(s->seeds))
            n += (size_t)snprintf(s->seeds + n, sizeof(s->seeds) - n, "%s%.0f", n ? ", " : "", c->valuedouble);
    /* the suite's own figure settings ("report": width_in, font_pt, formats) */
    const cJSON *rep = cJSON_GetObjectItemCaseSensitive(s->doc, "report");
    if (rep && !cJSON_IsObject(rep)) return bad(s, "$.report", "expected an object, got %s", kind(rep));
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(rep, "width_in"), *f = cJSON_GetObjectItemCaseSensitive(rep, "font_pt");
    const cJSON *fm = cJSON_GetObjectItemCaseSensitive(rep, "formats");
    if (w && !(cJSON_IsNumber(w) && w->valuedouble >= 1 && w->valuedouble <= 20))
        return bad(s, "$.report.width_in", "expected a number of inches in 1..20");
    if (f && !(cJSON_IsNumber(f) && f->valuedouble >= 5 && f->valuedouble <= 24))
        return bad(s, "$.report.font_pt", "expected a number of points in 5..24");
    s->width_in = w ? w->valuedouble : 0;
    s->font_pt = f ? f->valuedouble : 0;
    for (const cJSON *e = cJSON_IsArray(fm) ? fm->child : NULL; e; e = e->next) {
        const char *v = cJSON_GetStringValue(e);
        unsigned bit = !v ? 0 : !strcmp(v, "png") ? ML_FIG_PNG : !strcmp(v, "svg") ? ML_FIG_SVG : !strcmp(v, "pdf") ? ML_FIG_PDF : 0;
        if (!bit) return bad(s, "$.report.formats", "expected \"png\", \"svg\" or \"pdf\" items");
        s->formats |= bit;
    }
    if (fm && !cJSON_IsArray(fm)) return bad(s, "$.report.formats", "expected an array, got %s", kind(fm));
    s->findings = cJSON_GetObjectItemCaseSensitive(s->doc, "findings");
    if (s->findings && !cJSON_IsArray(s->findings))
        return bad(s, "$.findings", "expected an array, got %s", kind(s->findings));
    return 0;
}

/* The headline metric: accuracy when the models report it (Fashion-MNIST), else the
 * target's loss (the language models); its direction comes from the suite's gate. */
static void choose_metric(ml_rep_suite *s) {
    static const char *const prefer[] = {"test_acc", "loss", "test_loss"};
    const cJSON *first = NULL;
    for (int i = 0; i < s->ncells && !first; i++)
        if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(s->cells[i], "metrics")) &&
            is_ok(s->cells[i]))
            first = s->cells[i];
    s->metric = NULL;
    /* the metric the suite's findings were judged on, so the table and the findings agree */
    const cJSON *f0 = cJSON_IsArray(s->findings) ? s->findings->child : NULL;
    const char *fm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f0, "metric"));
    if (first && fm && (isfinite(metric_of(first, "direct", fm)) || isfinite(metric_of(first, "base", fm)))) s->metric = fm;
    for (size_t k = 0; first && !s->metric && k < sizeof(prefer) / sizeof(prefer[0]); k++)
        if (isfinite(metric_of(first, "direct", prefer[k])) || isfinite(metric_of(first, "base", prefer[k])))
            s->metric = prefer[k];
    if (!s->metric) return;
    char key[64];
    snprintf(key, sizeof(key), "direct/%s", s->metric);
    const cJSON *rule = ml_gate_rule_for(cJSON_GetObjectItemCaseSensitive(s->doc, "gate"), key);
    const char *dir = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rule, "direction"));
    s->higher = dir ? !strcmp(dir, "higher") : !strcmp(s->metric, "test_acc");
}

/* ---- groups ------------------------------------------------------------------------ */

static ml_rep_group *group_for(ml_rep_suite *s, const char *name) {
    for (int g = 0; g < s->ngroups; g++)
        if (!strcmp(s->groups[g].name, name)) return &s->groups[g];
    return NULL;
}

static int read_groups(ml_rep_suite *s) {
    const cJSON *cells = cJSON_GetObjectItemCaseSensitive(s->doc, "cells");
    int n = cJSON_GetArraySize(cells), i = 0, error;
    if ((error = ml_calloc((void **)&s->cells, (size_t)(n ? n : 1), sizeof(*s->cells))) < 0 ||
        (error = ml_calloc((void **)&s->groups, (size_t)(n ? n : 1), sizeof(*s->groups))) < 0)
        return error;
    for (const cJSON *c = cells ? cells->child : NULL; c; c = c->next, i++) {
        char path[64];
        const char *gname = NULL;
        snprintf(path, sizeof(path), "$.cells[%d]", i);
        if ((error = opt_str(s, c, path, "group", &gname)) < 0) return error;
        if (!gname) gname = "default";
        s->cells[s->ncells++] = c;
        ml_rep_group *g = group_for(s, gname);
        if (!g) {
            g = &s->groups[s->ngroups++];
            g->name = gname;
            g->length = NAN;
            if ((error = ml_calloc((void **)&g->cells, (size_t)n, sizeof(int))) < 0) return error;
            const cJSON *len = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, "params"),
                                                                "finetune.steps");
            if (cJSON_IsNumber(len)) g->length = len->valuedouble;
        }
        if (is_ok(c)) {
            g->cells[g->ncells++] = i;
            s->nok++;
        } else {
            g->nfailed++;
            s->nfailed++;
        }
    }
    return 0;
}

static ml_fig_point_kind kind_of(const char *role, const char *method) {
    if (!role) return ML_FIG_PT_MERGE;
    if (!strcmp(role, "base")) return ML_FIG_PT_BASE;
    if (!strcmp(role, "specialist")) return ML_FIG_PT_SPECIALIST;
    if (!strcmp(role, "direct")) return ML_FIG_PT_DIRECT;
    if (method && !strcmp(method, "router")) return ML_FIG_PT_ROUTER;
    if (method && !strcmp(method, "ensemble")) return ML_FIG_PT_ENSEMBLE;
    return ML_FIG_PT_MERGE;
}

/* The families the paper compares: fixed feature interpolation, weight averaging of any
 * kind, routers, and output ensembles (not a merge of the model, kept apart). */
static const char *family_of(ml_fig_point_kind k, const char *method) {
    if (k == ML_FIG_PT_ROUTER) return "router";
    if (k == ML_FIG_PT_ENSEMBLE) return "ensemble";
    if (k != ML_FIG_PT_MERGE) return NULL;
    return method && !strcmp(method, "interpolate") ? "interpolation" : "weight averaging";
}

static const char *role_name(const cJSON *models, const char *role) {
    for (const cJSON *m = models ? models->child : NULL; m; m = m->next)
        if (str_is(cJSON_GetObjectItemCaseSensitive(m, "role"), role))
            return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "name"));
    return NULL;
}

static int read_methods(ml_rep_suite *s, ml_rep_group *g) {
    if (!g->ncells || !s->metric) return 0;
    const cJSON *cell0 = s->cells[g->cells[0]];
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(cell0, "models");
    const char *base = role_name(models, "base"), *direct = role_name(models, "direct");
    double *v = NULL, *vb = NULL, *vd = NULL;
    int nm = cJSON_GetArraySize(models), i = 0, error;
    char path[96];
    if (models && !cJSON_IsArray(models)) {
        snprintf(path, sizeof(path), "$.cells[%d].models", g->cells[0]);
        return bad(s, path, "expected an array, got %s", kind(models));
    }
    if ((error = ml_calloc((void **)&g->methods, (size_t)(nm ? nm : 1), sizeof(*g->methods))) < 0 ||
        (error = ml_calloc((void **)&v, (size_t)g->ncells, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&vb, (size_t)g->ncells, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&vd, (size_t)g->ncells, sizeof(double))) < 0)
        goto cleanup;
    for (const cJSON *m = models ? models->child : NULL; m; m = m->next, i++) {
        const char *name, *role, *method;
        snprintf(path, sizeof(path), "$.cells[%d].models[%d]", g->cells[0], i);
        if ((error = opt_str(s, m, path, "name", &name)) < 0 || (error = opt_str(s, m, path, "role", &role)) < 0 ||
            (error = opt_str(s, m, path, "method", &method)) < 0)
            goto cleanup;
        if (!name) { error = bad(s, path, "a model without a \"name\""); goto cleanup; }
        ml_rep_method *r = &g->methods[g->nmethods++];
        r->name = name;
        r->kind = kind_of(role, method);
        r->family = family_of(r->kind, method);
        for (int c = 0; c < g->ncells; c++) {
            const cJSON *cell = s->cells[g->cells[c]];
            v[c] = metric_of(cell, name, s->metric);
            vb[c] = base ? v[c] - metric_of(cell, base, s->metric) : NAN;
            vd[c] = direct ? v[c] - metric_of(cell, direct, s->metric) : NAN;
        }
        r->value = ml_rep_stat_of(v, g->ncells);
        r->vs_base = ml_rep_stat_of(vb, g->ncells);
        r->vs_direct = ml_rep_stat_of(vd, g->ncells);
    }
    /* the points a run kept: the first cell's steps; a cell without one of them gives NaN */
    const cJSON *pts = cJSON_GetObjectItemCaseSensitive(cell0, "points");
    int np = cJSON_IsArray(pts) ? cJSON_GetArraySize(pts) : 0;
    if (np >= 2 && g->nmethods) {
        if ((error = ml_calloc((void **)&g->point_steps, (size_t)np, sizeof(double))) < 0 ||
            (error = ml_calloc((void **)&g->point_methods, (size_t)np * g->nmethods, sizeof(*g->point_methods))) < 0)
            goto cleanup;
        for (int pi = 0; pi < np; pi++) {
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(pts, pi), "step");
            if (!cJSON_IsNumber(st)) {
                snprintf(path, sizeof(path), "$.cells[%d].points[%d].step", g->cells[0], pi);
                error = bad(s, path, "missing or not a number");
                goto cleanup;
            }
            g->point_steps[pi] = st->valuedouble;
            for (int mi = 0; mi < g->nmethods; mi++) {
                ml_rep_method *r = &g->point_methods[(size_t)pi * g->nmethods + mi];
                *r = g->methods[mi];
                for (int c = 0; c < g->ncells; c++) {
                    const cJSON *cp = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(s->cells[g->cells[c]], "points"), pi);
                    const cJSON *st2 = cJSON_GetObjectItemCaseSensitive(cp, "step");
                    const cJSON *m = cJSON_IsNumber(st2) && st2->valuedouble == st->valuedouble
                                         ? cJSON_GetObjectItemCaseSensitive(cp, "metrics") : NULL;
                    v[c] = metric_in(m, r->name, s->metric);
                    vb[c] = base ? v[c] - metric_in(m, base, s->metric) : NAN;
                    vd[c] = direct ? v[c] - metric_in(m, direct, s->metric) : NAN;
                }
                r->value = ml_rep_stat_of(v, g->ncells);
                r->vs_base = ml_rep_stat_of(vb, g->ncells);
                r->vs_direct = ml_rep_stat_of(vd, g->ncells);
            }
        }
        g->npoints = np;
    }
cleanup:
    free(v);
    free(vb);
    free(vd);
    return error;
}


/* ---- curves at each point ---------------------------------------------------------- */

/* The models and metrics of cell at row r: its points[r], or (no points) its end. */
static void row_of(const cJSON *cell, int r, int npoints, const cJSON **models, const cJSON **metrics) {
    const cJSON *at = npoints ? cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cell, "points"), r) : cell;
    *models = cJSON_GetObjectItemCaseSensitive(at, "models");
    *metrics = cJSON_GetObjectItemCaseSensitive(at, "metrics");
}

static const cJSON *first_method(const cJSON *models, const char *method) {
    for (const cJSON *m = models ? models->child : NULL; m; m = m->next)
        if (str_is(cJSON_GetObjectItemCaseSensitive(m, "method"), method)) return m;
    return NULL;
}

static int curves_alloc(ml_rep_curves *cv, int nrows, int nx) {
    int error;
    cv->nrows = nrows;
    cv->nx = nx;
    if ((error = ml_calloc((void **)&cv->x, (size_t)nx, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&cv->row_step, (size_t)nrows, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&cv->y, (size_t)nrows * nx, sizeof(ml_rep_stat))) < 0)
        return error;
    return 0;
}

static void curves_free(ml_rep_curves *cv) {
    free(cv->x);
    free(cv->row_step);
    free(cv->y);
    free(cv->names);
    memset(cv, 0, sizeof(*cv));
}

/* Alpha curves (the first "interpolate" model's alphas and val_loss) and router
 * curves (models with a "router" object, by its "layers"; the first router of each
 * k), at every point. A cell whose alphas differ from the first cell's gives NaN. */
static int read_curves(ml_rep_suite *s, ml_rep_group *g) {
    if (!g->ncells) return 0;
    const cJSON *cell0 = s->cells[g->cells[0]], *models0, *metrics0;
    int npts = g->npoints, nrows = npts ? npts : 1, error = 0;
    double *v = NULL;
    row_of(cell0, nrows - 1, npts, &models0, &metrics0);
    if ((error = ml_calloc((void **)&v, (size_t)g->ncells, sizeof(double))) < 0) return error;
    /* alpha */
    const cJSON *ip = first_method(models0, "interpolate");
    const cJSON *al = cJSON_GetObjectItemCaseSensitive(ip, "alphas");
    int na = cJSON_IsArray(al) ? cJSON_GetArraySize(al) : 0;
    if (na >= 2) {
        if ((error = curves_alloc(&g->alpha, nrows, na)) < 0) goto cleanup;
        for (int a = 0; a < na; a++) {
            const cJSON *x = cJSON_GetArrayItem(al, a);
            g->alpha.x[a] = cJSON_IsNumber(x) ? x->valuedouble : NAN;
        }
        for (int r = 0; r < nrows; r++) {
            g->alpha.row_step[r] = npts ? g->point_steps[r] : NAN;
            for (int a = 0; a < na; a++) {
                for (int c = 0; c < g->ncells; c++) {
                    const cJSON *models, *metrics;
                    row_of(s->cells[g->cells[c]], r, npts, &models, &metrics);
                    const cJSON *m = first_method(models, "interpolate");
                    const cJSON *xa = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "alphas"), a);
                    const cJSON *ya = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "val_loss"), a);
                    v[c] = cJSON_IsNumber(xa) && xa->valuedouble == g->alpha.x[a] && cJSON_IsNumber(ya) ? ya->valuedouble
                                                                                                     : NAN;
                }
                g->alpha.y[(size_t)r * na + a] = ml_rep_stat_of(v, g->ncells);
            }
        }
    }
    /* routers over k */
    int nk = 0, cap = cJSON_GetArraySize(models0);
    if (cap > 0) {
        double ks[64];
        const char *names[64];
        for (const cJSON *m = models0->child; m && nk < 64; m = m->next) {
            const cJSON *k = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "router"), "layers");
            const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "name"));
            if (!cJSON_IsNumber(k) || !name) continue;
            int at = 0, dup = 0;
            while (at < nk && ks[at] < k->valuedouble) at++;
            dup = at < nk && ks[at] == k->valuedouble;
            if (dup) continue;   /* the first router of each k */
            memmove(ks + at + 1, ks + at, (size_t)(nk - at) * sizeof(double));
            memmove(names + at + 1, names + at, (size_t)(nk - at) * sizeof(const char *));
            ks[at] = k->valuedouble;
            names[at] = name;
            nk++;
        }
        if (nk >= 1 && s->metric) {
            if ((error = curves_alloc(&g->router_k, nrows, nk)) < 0 ||
                (error = ml_calloc((void **)&g->router_k.names, (size_t)nk, sizeof(const char *))) < 0)
                goto cleanup;
            for (int i = 0; i < nk; i++) {
                g->router_k.x[i] = ks[i];
                g->router_k.names[i] = names[i];
            }
            for (int r = 0; r < nrows; r++) {
                g->router_k.row_step[r] = npts ? g->point_steps[r] : NAN;
                for (int i = 0; i < nk; i++) {
                    for (int c = 0; c < g->ncells; c++) {
                        const cJSON *models, *metrics;
                        row_of(s->cells[g->cells[c]], r, npts, &models, &metrics);
                        v[c] = metric_in(metrics, names[i], s->metric);
                    }
                    g->router_k.y[(size_t)r * nk + i] = ml_rep_stat_of(v, g->ncells);
                }
            }
        }
    }
cleanup:
    free(v);
    return error;
}

/* ---- CKA --------------------------------------------------------------------------- */

/* Means over the group's cells of one matrix each cell holds (rows x cols, already read
 * into per-cell buffers vals[c]). */
static void reduce(ml_rep_stat *out, double *const *vals, int ncells, size_t count, double *tmp) {
    for (size_t k = 0; k < count; k++) {
        for (int c = 0; c < ncells; c++) tmp[c] = vals[c][k];
        out[k] = ml_rep_stat_of(tmp, ncells);
    }
}

static int read_heat(ml_rep_suite *s, ml_rep_group *g, ml_rep_heat *h, const cJSON *const *src, const char *what,
                     double *const *buf, double *tmp) {
    int L = g->nlayers, error;
    char path[160];
    for (int c = 0; c < g->ncells; c++) {
        if (!src[c]) return 0;   /* not recorded in every cell: no heatmap */
        snprintf(path, sizeof(path), "$.cells[%d].cka.%s", g->cells[c], what);
        if ((error = num_matrix(s, src[c], path, L, L, buf[c])) < 0) return error;
    }
    if ((error = ml_calloc((void **)&h->cells, (size_t)L * L, sizeof(*h->cells))) < 0) return error;
    reduce(h->cells, buf, g->ncells, (size_t)L * L, tmp);
    return 0;
}

/* cka.probe_sweep of every cell: per n, the mean over layers (of the finite values), then
 * the statistics over the group's cells. Every cell must have the same sizes. */
static int read_sweep(ml_rep_suite *s, ml_rep_group *g, const cJSON *cka0, double *tmp) {
    static const char *const kinds[2] = { "linear", "debiased" };
    const cJSON *sw0 = cJSON_GetObjectItemCaseSensitive(cka0, "probe_sweep");
    const cJSON *n0 = cJSON_GetObjectItemCaseSensitive(sw0, "n");
    int N = cJSON_IsArray(n0) ? cJSON_GetArraySize(n0) : 0, L = g->nlayers, nc = g->ncells, error = 0;
    double *m = NULL, *v = NULL;
    char path[200];
    if (!cJSON_IsObject(sw0) || N == 0) return 0;
    if ((error = ml_calloc((void **)&g->sweep_n, (size_t)N, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&g->sweep_linear, (size_t)N, sizeof(ml_rep_stat))) < 0 ||
        (error = ml_calloc((void **)&g->sweep_debiased, (size_t)N, sizeof(ml_rep_stat))) < 0 ||
        (error = ml_calloc((void **)&m, (size_t)L * N, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&v, (size_t)nc * N, sizeof(double))) < 0)
        goto cleanup;
    snprintf(path, sizeof(path), "$.cells[%d].cka.probe_sweep.n", g->cells[0]);
    if ((error = num_row(s, n0, path, N, g->sweep_n)) < 0) goto cleanup;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(sw0, "step");
    g->sweep_step = cJSON_IsNumber(st) ? st->valuedouble : NAN;
    for (int k = 0; k < 2; k++) {
        ml_rep_stat *out = k ? g->sweep_debiased : g->sweep_linear;
        for (int c = 0; c < nc; c++) {
            const cJSON *sw = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(s->cells[g->cells[c]], "cka"), "probe_sweep");
            snprintf(path, sizeof(path), "$.cells[%d].cka.probe_sweep.%s", g->cells[c], kinds[k]);
            if ((error = num_matrix(s, cJSON_GetObjectItemCaseSensitive(sw, kinds[k]), path, L, N, m)) < 0) goto cleanup;
            for (int i = 0; i < N; i++) {
                double sum = 0;
                int cnt = 0;
                for (int l = 0; l < L; l++)
                    if (isfinite(m[l * N + i])) { sum += m[l * N + i]; cnt++; }
                v[c * N + i] = cnt ? sum / cnt : NAN;
            }
        }
        for (int i = 0; i < N; i++) {
            for (int c = 0; c < nc; c++) tmp[c] = v[c * N + i];
            out[i] = ml_rep_stat_of(tmp, nc);
        }
    }
    g->nsweep = N;
cleanup:
    free(m);
    free(v);
    return error;
}

static int read_cka(ml_rep_suite *s, ml_rep_group *g) {
    double **buf = NULL, *tmp = NULL;
    const cJSON **src = NULL;
    int nc = g->ncells, error = 0;
    char path[160];
    if (!nc) return 0;
    /* shapes come from the first cell; every other cell of the group must agree */
    const cJSON *cka0 = cJSON_GetObjectItemCaseSensitive(s->cells[g->cells[0]], "cka");
    if (!cka0 || cJSON_IsNull(cka0)) return 0;
    snprintf(path, sizeof(path), "$.cells[%d].cka", g->cells[0]);
    if (!cJSON_IsObject(cka0)) return bad(s, path, "expected an object, got %s", kind(cka0));
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(cka0, "layers");
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(cka0, "steps");
    const cJSON *pair = cJSON_GetObjectItemCaseSensitive(cka0, "pair");
    if (!cJSON_IsArray(layers) || !cJSON_IsArray(steps)) {
        snprintf(path, sizeof(path), "$.cells[%d].cka.%s", g->cells[0], cJSON_IsArray(layers) ? "steps" : "layers");
        return bad(s, path, "missing or not an array");
    }
    int L = cJSON_GetArraySize(layers), S = cJSON_GetArraySize(steps), i = 0;
    if (L == 0) return 0;
    if ((error = ml_calloc((void **)&g->layers, (size_t)L, sizeof(*g->layers))) < 0) return error;
    for (const cJSON *c = layers->child; c; c = c->next, i++) {
        if (!cJSON_IsString(c)) {
            snprintf(path, sizeof(path), "$.cells[%d].cka.layers[%d]", g->cells[0], i);
            return bad(s, path, "expected a string, got %s", kind(c));
        }
        g->layers[i] = c->valuestring;
    }
    g->nlayers = L;
    if (cJSON_IsArray(pair) && cJSON_GetArraySize(pair) == 2 && cJSON_IsString(pair->child) &&
        cJSON_IsString(pair->child->next)) {
        g->pair[0] = pair->child->valuestring;
        g->pair[1] = pair->child->next->valuestring;
    }
    size_t per = (size_t)L * (S > L ? S : L);
    if ((error = ml_calloc((void **)&g->steps, (size_t)(S ? S : 1), sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&buf, (size_t)nc, sizeof(*buf))) < 0 ||
        (error = ml_calloc((void **)&src, (size_t)nc, sizeof(*src))) < 0 ||
        (error = ml_calloc((void **)&tmp, (size_t)nc, sizeof(double))) < 0)
        goto cleanup;
    for (int c = 0; c < nc; c++)
        if ((error = ml_calloc((void **)&buf[c], per, sizeof(double))) < 0) goto cleanup;
    snprintf(path, sizeof(path), "$.cells[%d].cka.steps", g->cells[0]);
    if ((error = num_row(s, steps, path, S, g->steps)) < 0) goto cleanup;
    g->nsteps = S;
    /* the curve over steps */
    for (int c = 0; c < nc; c++) {
        const cJSON *cka = cJSON_GetObjectItemCaseSensitive(s->cells[g->cells[c]], "cka");
        snprintf(path, sizeof(path), "$.cells[%d].cka", g->cells[c]);
        if (!cJSON_IsObject(cka)) { error = bad(s, path, "missing in a cell of group '%s' whose first cell has it", g->name); goto cleanup; }
        const cJSON *ls = cJSON_GetObjectItemCaseSensitive(cka, "layers"), *st = cJSON_GetObjectItemCaseSensitive(cka, "steps");
        if (cJSON_GetArraySize(ls) != L || cJSON_GetArraySize(st) != S) {
            error = bad(s, path, "%d layers x %d steps, but cell %d of the same group has %d x %d "
                        "(cells that differ only by seed must record the same points)",
                        cJSON_GetArraySize(ls), cJSON_GetArraySize(st), g->cells[0], L, S);
            goto cleanup;
        }
        snprintf(path, sizeof(path), "$.cells[%d].cka.over_steps", g->cells[c]);
        if ((error = num_matrix(s, cJSON_GetObjectItemCaseSensitive(cka, "over_steps"), path, L, S, buf[c])) < 0)
            goto cleanup;
    }
    if ((error = ml_calloc((void **)&g->over_steps, (size_t)L * (S ? S : 1), sizeof(*g->over_steps))) < 0) goto cleanup;
    reduce(g->over_steps, buf, nc, (size_t)L * S, tmp);
    /* the heatmaps at the last point */
    const cJSON *h0 = cJSON_GetObjectItemCaseSensitive(cka0, "heatmap");
    if (cJSON_IsObject(h0)) {
        double step = NAN;
        const cJSON *js = cJSON_GetObjectItemCaseSensitive(h0, "step");
        if (cJSON_IsNumber(js)) step = js->valuedouble;
        for (int c = 0; c < nc; c++) {
            const cJSON *h = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(s->cells[g->cells[c]], "cka"), "heatmap");
            src[c] = cJSON_GetObjectItemCaseSensitive(h, "values");
        }
        g->heat.row_model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h0, "row_model"));
        g->heat.col_model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h0, "col_model"));
        g->heat.step = step;
        if ((error = read_heat(s, g, &g->heat, src, "heatmap.values", buf, tmp)) < 0) goto cleanup;
        for (int k = 0; k < 2 && g->pair[k]; k++) {
            char what[160];
            snprintf(what, sizeof(what), "heatmap_vs_base.%s", g->pair[k]);
            for (int c = 0; c < nc; c++)
                src[c] = cJSON_GetObjectItemCaseSensitive(
                    cJSON_GetObjectItemCaseSensitive(
                        cJSON_GetObjectItemCaseSensitive(s->cells[g->cells[c]], "cka"), "heatmap_vs_base"),
                    g->pair[k]);
            g->heat_base[k].row_model = g->pair[k];
            g->heat_base[k].col_model = "base";
            g->heat_base[k].step = step;
            if ((error = read_heat(s, g, &g->heat_base[k], src, what, buf, tmp)) < 0) goto cleanup;
        }
        /* early: the first point a run kept, else the first step after 0, from heatmap_steps */
        const cJSON *hs0 = cJSON_GetObjectItemCaseSensitive(cka0, "heatmap_steps");
        const cJSON *hsteps = cJSON_GetObjectItemCaseSensitive(hs0, "steps");
        double early = NAN;
        for (int k = 0; cJSON_IsArray(hsteps) && k < cJSON_GetArraySize(hsteps); k++) {
            double v = cJSON_GetArrayItem(hsteps, k)->valuedouble;
            if (v > 0 && (isnan(early) || v < early) && (!g->npoints || v == g->point_steps[0])) early = v;
        }
        if (isfinite(early) && early != step) {
            char what[64];
            for (int c = 0; c < nc; c++) {
                const cJSON *hs = cJSON_GetObjectItemCaseSensitive(
                    cJSON_GetObjectItemCaseSensitive(s->cells[g->cells[c]], "cka"), "heatmap_steps");
                const cJSON *cs = cJSON_GetObjectItemCaseSensitive(hs, "steps");
                int at = -1;
                for (int k = 0; cJSON_IsArray(cs) && k < cJSON_GetArraySize(cs); k++)
                    if (cJSON_GetArrayItem(cs, k)->valuedouble == early) at = k;
                src[c] = at < 0 ? NULL : cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(hs, "values"), at);
                if (c == 0) snprintf(what, sizeof(what), "heatmap_steps.values[%d]", at);
            }
            g->heat_early.row_model = g->heat.row_model;
            g->heat_early.col_model = g->heat.col_model;
            g->heat_early.step = early;
            if ((error = read_heat(s, g, &g->heat_early, src, what, buf, tmp)) < 0) goto cleanup;
        }
    }
    if ((error = read_sweep(s, g, cka0, tmp)) < 0) goto cleanup;
cleanup:
    for (int c = 0; buf && c < nc; c++) free(buf[c]);
    free(buf);
    free(src);
    free(tmp);
    return error;
}

/* ---- public ------------------------------------------------------------------------ */

int ml_rep_suite_read(ml_rep_suite *s, const char *path) {
    int error;
    s->file = path;
    if ((error = ml_results_load(&s->doc, path)) < 0 || (error = read_head(s)) < 0 ||
        (error = read_groups(s)) < 0)
        return error;
    choose_metric(s);
    for (int g = 0; g < s->ngroups; g++)
        if ((error = read_methods(s, &s->groups[g])) < 0 || (error = read_cka(s, &s->groups[g])) < 0 ||
            (error = read_curves(s, &s->groups[g])) < 0)
            return error;
    return ml_agg_build(&s->agg, s->doc);
}

void ml_rep_suite_free(ml_rep_suite *s) {
    if (!s) return;
    for (int g = 0; s->groups && g < s->ngroups; g++) {
        ml_rep_group *gr = &s->groups[g];
        free(gr->cells);
        free(gr->methods);
        free(gr->point_steps);
        free(gr->point_methods);
        curves_free(&gr->alpha);
        curves_free(&gr->router_k);
        free(gr->layers);
        free(gr->steps);
        free(gr->over_steps);
        free(gr->sweep_n);
        free(gr->sweep_linear);
        free(gr->sweep_debiased);
        free(gr->heat.cells);
        free(gr->heat_early.cells);
        free(gr->heat_base[0].cells);
        free(gr->heat_base[1].cells);
    }
    free(s->groups);
    free(s->cells);
    ml_agg_free(&s->agg);
    cJSON_Delete(s->doc);
    memset(s, 0, sizeof(*s));
}

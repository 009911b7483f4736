/*
 * study/run_common.c: the pieces both study protocols (runner_mlp.c,
 * runner_gpt.c) share: metrics and timing JSON, the CKA tracker and its
 * report, checkpoint selection, router info, cached phases and progress.
 * Not here: the protocols themselves, or the dispatch between them
 * (runner.c), so the protocols depend on this file and never on runner.c.
 */
#include "study/run_common.h"
#include "core/error.h"
#include "study/cache.h"
#include "kernels/cka.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double ml_run__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void ml_run__add_metric(cJSON *metrics, const char *model, const char *what, double v) {
    char key[160];
    snprintf(key, sizeof(key), "%s/%s", model, what);
    /* an undefined value is recorded as null, so the gate sees the hole
     * instead of a metric that silently went missing */
    if (!isfinite(v)) cJSON_AddNullToObject(metrics, key);
    else cJSON_AddNumberToObject(metrics, key, v);
}

void ml_run__add_timing(cJSON *res, const double t[5]) {
    static const char *const names[4] = { "pretrain_seconds", "finetune_seconds", "direct_seconds", "eval_seconds" };
    cJSON *timing = cJSON_AddObjectToObject(res, "timing");
    for (int i = 0; i < 4; i++) cJSON_AddNumberToObject(timing, names[i], t[i + 1] - t[i]);
}

cJSON *ml_run__add_cka(cJSON *res, const char *a, const char *b, const char *const *layer_names, int L,
                       const int *steps, int nsteps, const double *curve, const double *heat) {
    cJSON *cka = cJSON_AddObjectToObject(res, "cka");
    cJSON *pair = cJSON_AddArrayToObject(cka, "pair");
    cJSON_AddItemToArray(pair, cJSON_CreateString(a));
    cJSON_AddItemToArray(pair, cJSON_CreateString(b));
    cJSON_AddItemToObject(cka, "layers", cJSON_CreateStringArray(layer_names, L));
    cJSON_AddItemToObject(cka, "steps", cJSON_CreateIntArray(steps, nsteps));
    cJSON *over = cJSON_AddArrayToObject(cka, "over_steps");
    for (int l = 0; l < L; l++) cJSON_AddItemToArray(over, cJSON_CreateDoubleArray(curve + (long)l * nsteps, nsteps));
    cJSON *h = cJSON_AddObjectToObject(cka, "heatmap");
    cJSON_AddNumberToObject(h, "step", steps[nsteps - 1]);
    cJSON_AddStringToObject(h, "row_model", a);
    cJSON_AddStringToObject(h, "col_model", b);
    cJSON_AddItemToObject(h, "layers", cJSON_CreateStringArray(layer_names, L));
    cJSON *vals = cJSON_AddArrayToObject(h, "values");
    for (int i = 0; i < L; i++) cJSON_AddItemToArray(vals, cJSON_CreateDoubleArray(heat + (long)i * L, L));
    return cka;
}

int ml_run__cka_track_new(ml_cka_track *t, int L, int nck) {
    int error;
    memset(t, 0, sizeof(*t));
    t->L = L;
    t->nck = nck;
    size_t n = (size_t)L * nck;
    if ((error = ml_calloc((void **)&t->linear, n, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&t->debiased, n, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&t->vs_base[0], n, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&t->vs_base[1], n, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&t->rbf, (size_t)L, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&t->heat, (size_t)L * L, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&t->heat_base[0], (size_t)L * L, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&t->heat_base[1], (size_t)L * L, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&t->heat_steps, (size_t)nck * L * L, sizeof(double))) < 0)
        ml_run__cka_track_free(t);
    return error;
}

void ml_run__cka_track_free(ml_cka_track *t) {
    free(t->linear); free(t->debiased); free(t->vs_base[0]); free(t->vs_base[1]); free(t->rbf); free(t->heat);
    free(t->heat_base[0]); free(t->heat_base[1]); free(t->heat_steps);
    memset(t, 0, sizeof(*t));
}

int ml_run__cka_point(ml_cka_track *t, int ck, float *const *a, float *const *b, float *const *base, const int *dims,
                      int n) {
    int error;
    for (int l = 0; l < t->L; l++) {
        long at = (long)l * t->nck + ck;
        if ((error = ml_cka_linear(&t->linear[at], a[l], b[l], n, dims[l], dims[l])) < 0 ||
            (error = ml_cka_linear(&t->vs_base[0][at], a[l], base[l], n, dims[l], dims[l])) < 0 ||
            (error = ml_cka_linear(&t->vs_base[1][at], b[l], base[l], n, dims[l], dims[l])) < 0)
            return error;
        /* the unbiased estimator can be undefined on a small probe: record NaN, not a failure */
        if (ml_cka_linear_debiased(&t->debiased[at], a[l], b[l], n, dims[l], dims[l]) < 0) t->debiased[at] = NAN;
        for (int j = 0; j < t->L; j++)
            if ((error = ml_cka_linear(&t->heat_steps[((size_t)ck * t->L + l) * t->L + j], a[l], b[j], n, dims[l],
                                       dims[j])) < 0)
                return error;
    }
    return 0;
}

int ml_run__cka_final(ml_cka_track *t, float *const *a, float *const *b, float *const *base, const int *dims, int n) {
    int error;
    for (int i = 0; i < t->L; i++) {
        for (int j = 0; j < t->L; j++)
            if ((error = ml_cka_linear(&t->heat[i * t->L + j], a[i], b[j], n, dims[i], dims[j])) < 0 ||
                (error = ml_cka_linear(&t->heat_base[0][i * t->L + j], a[i], base[j], n, dims[i], dims[j])) < 0 ||
                (error = ml_cka_linear(&t->heat_base[1][i * t->L + j], b[i], base[j], n, dims[i], dims[j])) < 0)
                return error;
        if (ml_cka_rbf(&t->rbf[i], a[i], b[i], n, dims[i], dims[i], 1.0) < 0) t->rbf[i] = NAN;
    }
    return 0;
}

static cJSON *curves(const double *c, int L, int nck) {
    cJSON *arr = cJSON_CreateArray();
    for (int l = 0; l < L; l++) cJSON_AddItemToArray(arr, cJSON_CreateDoubleArray(c + (long)l * nck, nck));
    return arr;
}

cJSON *ml_run__cka_report(cJSON *res, cJSON *metrics, const ml_cka_track *t, const char *a, const char *b,
                          const char *const *layer_names, const int *steps) {
    int L = t->L, last = t->nck - 1;
    cJSON *cka = ml_run__add_cka(res, a, b, layer_names, L, steps, t->nck, t->linear, t->heat);
    cJSON_AddItemToObject(cka, "over_steps_debiased", curves(t->debiased, L, t->nck));
    cJSON_AddItemToObject(cka, "rbf_final", cJSON_CreateDoubleArray(t->rbf, L));
    cJSON *vb = cJSON_AddObjectToObject(cka, "vs_base");
    cJSON_AddItemToObject(vb, a, curves(t->vs_base[0], L, t->nck));
    cJSON_AddItemToObject(vb, b, curves(t->vs_base[1], L, t->nck));
    /* layer i of each specialist against layer j of the base, at the last point: which
     * layers moved away from where they started */
    cJSON *hb = cJSON_AddObjectToObject(cka, "heatmap_vs_base");
    cJSON_AddItemToObject(hb, a, curves(t->heat_base[0], L, L));
    cJSON_AddItemToObject(hb, b, curves(t->heat_base[1], L, L));
    /* A's layer i vs B's layer j at every step (the last equals "heatmap"): early and late */
    cJSON *hs = cJSON_AddObjectToObject(cka, "heatmap_steps");
    cJSON_AddItemToObject(hs, "steps", cJSON_CreateIntArray(steps, t->nck));
    cJSON *hv = cJSON_AddArrayToObject(hs, "values");
    for (int k = 0; k < t->nck; k++) cJSON_AddItemToArray(hv, curves(t->heat_steps + (size_t)k * L * L, L, L));
    for (int l = 0; l < L; l++) {
        char what[96], who[96];
        ml_run__add_metric(metrics, "cka", layer_names[l], t->linear[l * t->nck + last]);
        snprintf(what, sizeof(what), "%s_debiased", layer_names[l]);
        ml_run__add_metric(metrics, "cka", what, t->debiased[l * t->nck + last]);
        snprintf(what, sizeof(what), "%s_rbf", layer_names[l]);
        ml_run__add_metric(metrics, "cka", what, t->rbf[l]);
        for (int k = 0; k < 2; k++) {
            snprintf(who, sizeof(who), "cka/%s_vs_base", k ? b : a);
            ml_run__add_metric(metrics, who, layer_names[l], t->vs_base[k][l * t->nck + last]);
        }
    }
    return cka;
}

void ml_run__select_init(ml_run__selector *sel, float *best, size_t n, const float *params, double loss0) {
    memset(sel, 0, sizeof(*sel));
    sel->best = best;
    sel->n = n;
    memcpy(best, params, n * sizeof(float));
    sel->best_loss = loss0;
    sel->loss[0] = loss0;
    sel->nv = 1;
}

void ml_run__select_point(ml_run__selector *sel, int step, double loss, const float *params) {
    if (sel->nv < 64) {
        sel->steps[sel->nv] = step;
        sel->loss[sel->nv++] = loss;
    }
    if (loss < sel->best_loss) {
        sel->best_loss = loss;
        sel->best_step = step;
        memcpy(sel->best, params, sel->n * sizeof(float));
    }
}

void ml_run__router_info(cJSON *info, const ml_merge_spec *ms, int layers, int experts, int batch,
                         const ml_run__selector *sel) {
    cJSON *r = cJSON_AddObjectToObject(info, "router");
    cJSON_AddNumberToObject(r, "layers", layers);
    cJSON_AddNumberToObject(r, "experts", experts);
    cJSON_AddNumberToObject(r, "top_k", ms->top_k ? ms->top_k : experts);
    cJSON_AddBoolToObject(r, "shared", ms->shared);
    cJSON_AddBoolToObject(r, "base_expert", ms->base_expert);
    cJSON_AddNumberToObject(r, "steps", ms->steps);
    cJSON_AddNumberToObject(r, "batch_size", batch);
    cJSON_AddNumberToObject(r, "selected_step", sel->best_step);
    cJSON_AddItemToObject(r, "val_steps", cJSON_CreateIntArray(sel->steps, sel->nv));
    cJSON_AddItemToObject(r, "val_loss", cJSON_CreateDoubleArray(sel->loss, sel->nv));
}

void ml_run__log(const ml_run_options *opt, const char *fmt, ...) {
    char line[512];
    va_list ap;
    if (!opt || !opt->verbose || !opt->log) return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    opt->log(opt->log_ctx, line);
}

void ml_run__progress(const ml_run_options *opt, const char *phase, int step, int total, double loss) {
    if (opt && opt->progress) opt->progress(opt->progress_ctx, phase, step, total, loss);
}

int ml_run__phase_begin(ml_run__phase *ph, const ml_run_options *opt, const char *key, float *params, size_t n,
                        double *extra, size_t nextra) {
    const char *dir = opt && opt->cache_dir && key ? opt->cache_dir : NULL;
    int error;
    ph->fd = -1;
    ph->hit = 0;
    ph->key = dir ? key : NULL;
    if (!dir) return 0;
    if ((error = ml_cache_lock(&ph->fd, dir, key)) < 0) return error;
    if ((error = ml_cache_get(&ph->hit, dir, key, params, n, extra, nextra)) < 0) ml_run__phase_abort(ph);
    return error;
}

int ml_run__phase_end(ml_run__phase *ph, const ml_run_options *opt, const float *params, size_t n,
                      const double *extra, size_t nextra) {
    int error = 0;
    if (ph->key && !ph->hit) error = ml_cache_put(opt->cache_dir, ph->key, params, n, extra, nextra);
    ml_run__phase_abort(ph);
    return error;
}

void ml_run__phase_abort(ml_run__phase *ph) {
    ml_cache_unlock(ph->fd);
    ph->fd = -1;
}

size_t ml_run__track_size(const ml_cka_track *t) {
    return (size_t)t->L * t->nck * 4 + (size_t)t->L + (size_t)t->L * t->L * (3 + (size_t)t->nck);
}

void ml_run__track_pack(double *dst, const ml_cka_track *t) {
    size_t c = (size_t)t->L * t->nck;
    memcpy(dst, t->linear, c * sizeof(double));
    memcpy(dst + c, t->debiased, c * sizeof(double));
    memcpy(dst + 2 * c, t->vs_base[0], c * sizeof(double));
    memcpy(dst + 3 * c, t->vs_base[1], c * sizeof(double));
    memcpy(dst + 4 * c, t->rbf, (size_t)t->L * sizeof(double));
    memcpy(dst + 4 * c + t->L, t->heat, (size_t)t->L * t->L * sizeof(double));
    for (int k = 0; k < 2; k++)
        memcpy(dst + 4 * c + t->L + (size_t)(k + 1) * t->L * t->L, t->heat_base[k], (size_t)t->L * t->L * sizeof(double));
    memcpy(dst + 4 * c + t->L + (size_t)3 * t->L * t->L, t->heat_steps, (size_t)t->nck * t->L * t->L * sizeof(double));
}

void ml_run__track_unpack(ml_cka_track *t, const double *src) {
    size_t c = (size_t)t->L * t->nck;
    memcpy(t->linear, src, c * sizeof(double));
    memcpy(t->debiased, src + c, c * sizeof(double));
    memcpy(t->vs_base[0], src + 2 * c, c * sizeof(double));
    memcpy(t->vs_base[1], src + 3 * c, c * sizeof(double));
    memcpy(t->rbf, src + 4 * c, (size_t)t->L * sizeof(double));
    memcpy(t->heat, src + 4 * c + t->L, (size_t)t->L * t->L * sizeof(double));
    for (int k = 0; k < 2; k++)
        memcpy(t->heat_base[k], src + 4 * c + t->L + (size_t)(k + 1) * t->L * t->L, (size_t)t->L * t->L * sizeof(double));
    memcpy(t->heat_steps, src + 4 * c + t->L + (size_t)3 * t->L * t->L, (size_t)t->nck * t->L * t->L * sizeof(double));
}

void ml_run__add_step_times(cJSON *res, const int cached[3], int pretrain_steps, int finetune_steps) {
    static const char *const secs[3] = { "pretrain_seconds", "finetune_seconds", "direct_seconds" };
    static const char *const keys[3] = { "pretrain_ms_per_step", "finetune_ms_per_step", "direct_ms_per_step" };
    /* optimizer steps taken in each phase: the specialists' phase trains two models */
    const int steps[3] = { pretrain_steps, 2 * finetune_steps, finetune_steps };
    cJSON *timing = cJSON_GetObjectItemCaseSensitive(res, "timing");
    for (int i = 0; timing && i < 3; i++) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(timing, secs[i]);
        /* a phase read from the cache took no training time: no figure rather than a wrong one */
        if (cached[i] || steps[i] <= 0 || !cJSON_IsNumber(t)) continue;
        cJSON_AddNumberToObject(timing, keys[i], 1000.0 * t->valuedouble / steps[i]);
    }
}

void ml_run__add_cached(cJSON *res, const int cached[3]) {
    static const char *const names[3] = { "base", "specialists", "direct" };
    cJSON *timing = cJSON_GetObjectItemCaseSensitive(res, "timing");
    cJSON *c = timing ? cJSON_AddArrayToObject(timing, "cached") : NULL;
    for (int i = 0; c && i < 3; i++)
        if (cached[i]) cJSON_AddItemToArray(c, cJSON_CreateString(names[i]));
}

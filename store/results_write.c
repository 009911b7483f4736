/*
 * store/results_write.c: the sections of a cell's result (results_write.h).
 */
#include "store/results_write.h"
#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

cJSON *ml_results_model(const char *name, const char *role) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "role", role);
    return o;
}

void ml_results_score(cJSON *entry, cJSON *metrics, const char *model, const char *what, double v, int metric) {
    cJSON_AddNumberToObject(entry, what, v);
    if (metric) ml_results_metric(metrics, model, what, v);
}

void ml_results_merge_method(cJSON *info, const ml_merge_spec *ms) {
    cJSON_AddStringToObject(info, "method", ml_merge_method_name(ms->method));
}

void ml_results_merge_weights(cJSON *info, const ml_merge_spec *ms) {
    cJSON_AddItemToObject(info, "weights", cJSON_CreateDoubleArray(ms->weights, ms->nmodels));
}

void ml_results_merge_examples(cJSON *info, int examples) { cJSON_AddNumberToObject(info, "examples", examples); }

void ml_results_merge_space(cJSON *info, const ml_merge_spec *ms) {
    cJSON_AddStringToObject(info, "space", ms->prob_ensemble ? "probabilities" : "logits");
}

void ml_results_interpolation(cJSON *info, const ml_merge_spec *ms, int chosen, const char *alpha_of,
                              const double *val_loss, const double *test_loss, const double *test_acc) {
    cJSON_AddNumberToObject(info, "alpha", ms->alphas[chosen]);
    cJSON_AddStringToObject(info, "alpha_of", alpha_of);
    cJSON_AddItemToObject(info, "alphas", cJSON_CreateDoubleArray(ms->alphas, ms->nalphas));
    cJSON_AddItemToObject(info, "val_loss", cJSON_CreateDoubleArray(val_loss, ms->nalphas));
    if (test_loss) cJSON_AddItemToObject(info, "test_loss_curve", cJSON_CreateDoubleArray(test_loss, ms->nalphas));
    if (test_acc) cJSON_AddItemToObject(info, "test_acc_curve", cJSON_CreateDoubleArray(test_acc, ms->nalphas));
}

void ml_results_merge_entry(cJSON *entry, cJSON *info, cJSON *metrics, const char *name) {
    const cJSON *alpha = cJSON_GetObjectItemCaseSensitive(info, "alpha");
    if (cJSON_IsNumber(alpha)) ml_results_metric(metrics, name, "alpha", alpha->valuedouble);
    for (cJSON *it = info->child; it; it = info->child)
        cJSON_AddItemToObject(entry, it->string, cJSON_DetachItemViaPointer(info, it));
}

cJSON *ml_results_point(int step, cJSON **models, cJSON **metrics) {
    cJSON *pt = cJSON_CreateObject();
    cJSON_AddNumberToObject(pt, "step", step);
    *models = cJSON_AddArrayToObject(pt, "models");
    *metrics = cJSON_AddObjectToObject(pt, "metrics");
    return pt;
}

int ml_results_point_parts(const cJSON *pt, const cJSON **models, const cJSON **metrics) {
    *models = cJSON_GetObjectItemCaseSensitive(pt, "models");
    *metrics = cJSON_GetObjectItemCaseSensitive(pt, "metrics");
    return cJSON_IsArray(*models) && cJSON_IsObject(*metrics) ? 0 : ML_EDATA;
}

cJSON *ml_results_points(cJSON *res) { return cJSON_AddArrayToObject(res, "points"); }

void ml_results_cell_models(cJSON *res, const cJSON *models, const cJSON *metrics) {
    cJSON_AddItemToObject(res, "models", cJSON_Duplicate(models, 1));
    cJSON_AddItemToObject(res, "metrics", cJSON_Duplicate(metrics, 1));
}

cJSON *ml_results_metrics(cJSON *res) { return cJSON_GetObjectItemCaseSensitive(res, "metrics"); }

cJSON *ml_results_data(cJSON *res) { return cJSON_AddArrayToObject(res, "data"); }

void ml_results_finetune(cJSON *res, const ml_suite *s, int frozen) {
    cJSON *ft = cJSON_AddObjectToObject(res, "finetune");
    cJSON *groups = cJSON_AddArrayToObject(ft, "train");
    for (int g = 0; g < s->ntrain_groups; g++) cJSON_AddItemToArray(groups, cJSON_CreateString(s->train_groups[g]));
    cJSON_AddNumberToObject(ft, "frozen_tensors", frozen);
    cJSON_AddBoolToObject(ft, "frozen_identical_to_base", 1);
}

void ml_results_metric(cJSON *metrics, const char *model, const char *what, double v) {
    char key[160];
    snprintf(key, sizeof(key), "%s/%s", model, what);
    if (!isfinite(v)) cJSON_AddNullToObject(metrics, key);
    else cJSON_AddNumberToObject(metrics, key, v);
}

void ml_results_timing(cJSON *res, const double t[5], const int cached[3], int pretrain_steps, int finetune_steps) {
    static const char *const secs[4] = { "pretrain_seconds", "finetune_seconds", "direct_seconds", "eval_seconds" };
    static const char *const per_step[3] = { "pretrain_ms_per_step", "finetune_ms_per_step", "direct_ms_per_step" };
    static const char *const phases[3] = { "base", "specialists", "direct" };
    /* optimizer steps taken in each phase: the specialists' phase trains two models */
    const int steps[3] = { pretrain_steps, 2 * finetune_steps, finetune_steps };
    cJSON *timing = cJSON_AddObjectToObject(res, "timing");
    for (int i = 0; i < 4; i++) cJSON_AddNumberToObject(timing, secs[i], t[i + 1] - t[i]);
    cJSON *c = cJSON_AddArrayToObject(timing, "cached");
    for (int i = 0; i < 3; i++)
        if (cached[i]) cJSON_AddItemToArray(c, cJSON_CreateString(phases[i]));
    /* a phase read from the cache took no training time: no figure rather than a wrong one */
    for (int i = 0; i < 3; i++)
        if (!cached[i] && steps[i] > 0) cJSON_AddNumberToObject(timing, per_step[i], 1000.0 * (t[i + 1] - t[i]) / steps[i]);
}

static cJSON *curves(const double *c, int L, int nck) {
    cJSON *arr = cJSON_CreateArray();
    for (int l = 0; l < L; l++) cJSON_AddItemToArray(arr, cJSON_CreateDoubleArray(c + (long)l * nck, nck));
    return arr;
}

/* cka {pair, layers, steps, over_steps, heatmap}: the paper's figures */
static cJSON *cka_main(cJSON *res, const ml_cka_track *t, const char *a, const char *b,
                       const char *const *layer_names, const int *steps) {
    int L = t->L;
    cJSON *cka = cJSON_AddObjectToObject(res, "cka");
    cJSON *pair = cJSON_AddArrayToObject(cka, "pair");
    cJSON_AddItemToArray(pair, cJSON_CreateString(a));
    cJSON_AddItemToArray(pair, cJSON_CreateString(b));
    cJSON_AddItemToObject(cka, "layers", cJSON_CreateStringArray(layer_names, L));
    cJSON_AddItemToObject(cka, "steps", cJSON_CreateIntArray(steps, t->nck));
    cJSON_AddItemToObject(cka, "over_steps", curves(t->linear, L, t->nck));
    cJSON *h = cJSON_AddObjectToObject(cka, "heatmap");
    cJSON_AddNumberToObject(h, "step", steps[t->nck - 1]);
    cJSON_AddStringToObject(h, "row_model", a);
    cJSON_AddStringToObject(h, "col_model", b);
    cJSON_AddItemToObject(h, "layers", cJSON_CreateStringArray(layer_names, L));
    cJSON_AddItemToObject(h, "values", curves(t->heat, L, L));
    return cka;
}

cJSON *ml_results_cka(cJSON *res, cJSON *metrics, const ml_cka_track *t, const char *a, const char *b,
                      const char *const *layer_names, const int *steps, const char *representation, int probe_size,
                      double rbf_bandwidth, const int *sweep) {
    int L = t->L, last = t->nck - 1;
    cJSON *cka = cka_main(res, t, a, b, layer_names, steps);
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
        ml_results_metric(metrics, "cka", layer_names[l], t->linear[l * t->nck + last]);
        snprintf(what, sizeof(what), "%s_debiased", layer_names[l]);
        ml_results_metric(metrics, "cka", what, t->debiased[l * t->nck + last]);
        snprintf(what, sizeof(what), "%s_rbf", layer_names[l]);
        ml_results_metric(metrics, "cka", what, t->rbf[l]);
        for (int k = 0; k < 2; k++) {
            snprintf(who, sizeof(who), "cka/%s_vs_base", k ? b : a);
            ml_results_metric(metrics, who, layer_names[l], t->vs_base[k][l * t->nck + last]);
        }
    }
    if (t->token) {
        for (int l = 0; l < L; l++) {
            char what[96];
            snprintf(what, sizeof(what), "%s_token", layer_names[l]);
            ml_results_metric(metrics, "cka", what, t->token[l * t->nck + last]);
        }
        cJSON_AddItemToObject(cka, "over_steps_token", curves(t->token, L, t->nck));
    }
    if (representation) cJSON_AddStringToObject(cka, "representation", representation);
    cJSON_AddNumberToObject(cka, "probe_size", probe_size);
    cJSON_AddNumberToObject(cka, "rbf_bandwidth", rbf_bandwidth);   /* sigma over the median distance */
    if (t->nsweep > 0) {
        /* CKA on the first n probe examples at the last step: how large a probe must be */
        cJSON *sw = cJSON_AddObjectToObject(cka, "probe_sweep");
        cJSON_AddNumberToObject(sw, "step", steps[t->nck - 1]);
        cJSON_AddItemToObject(sw, "n", cJSON_CreateIntArray(sweep, t->nsweep));
        cJSON_AddItemToObject(sw, "linear", curves(t->sweep_linear, L, t->nsweep));
        cJSON_AddItemToObject(sw, "debiased", curves(t->sweep_debiased, L, t->nsweep));
    }
    return cka;
}

void ml_results_router(cJSON *info, const ml_merge_spec *ms, int layers, int experts, int batch, int selected_step,
                       const int *val_steps, const double *val_loss, int nv) {
    cJSON *r = cJSON_AddObjectToObject(info, "router");
    cJSON_AddNumberToObject(r, "layers", layers);
    cJSON_AddNumberToObject(r, "experts", experts);
    cJSON_AddNumberToObject(r, "top_k", ms->top_k ? ms->top_k : experts);
    cJSON_AddBoolToObject(r, "shared", ms->shared);
    cJSON_AddBoolToObject(r, "base_expert", ms->base_expert);
    cJSON_AddStringToObject(r, "init", ms->kaiming_init ? "kaiming" : "zero");
    cJSON_AddNumberToObject(r, "weight_decay", ms->weight_decay);
    cJSON_AddNumberToObject(r, "steps", ms->steps);
    cJSON_AddNumberToObject(r, "batch_size", batch);
    cJSON_AddNumberToObject(r, "selected_step", selected_step);
    cJSON_AddItemToObject(r, "val_steps", cJSON_CreateIntArray(val_steps, nv));
    cJSON_AddItemToObject(r, "val_loss", cJSON_CreateDoubleArray(val_loss, nv));
}

cJSON *ml_results_data_file(const char *path, const char *sha256, double bytes) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddStringToObject(o, "sha256", sha256);
    cJSON_AddNumberToObject(o, "bytes", bytes);
    return o;
}

cJSON *ml_results_data_corpus(const ml_corpus *c) {
    static const char *const splits[] = { "train", "validation", "test" };
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "generator", ML_TEXT_GENERATOR);
    cJSON_AddStringToObject(o, "domain", ml_domain_name(c->domain));
    cJSON_AddStringToObject(o, "split", splits[c->split]);
    cJSON_AddNumberToObject(o, "seed", (double)c->seed);
    cJSON_AddNumberToObject(o, "docs", c->ndocs);
    cJSON_AddNumberToObject(o, "chars", (double)c->len);
    if (c->domain == ML_DOMAIN_BASE) {
        cJSON_AddNumberToObject(o, "base_math", c->opts.base_math);
        cJSON_AddNumberToObject(o, "base_code", c->opts.base_code);
    }
    cJSON_AddStringToObject(o, "sha256", c->sha256);
    return o;
}

void ml_results_seeds(cJSON *res, const ml_suite *s, int threads) {
    cJSON_AddNumberToObject(res, "seed", (double)s->seed);
    cJSON_AddNumberToObject(res, "pretrain_seed", (double)s->pretrain_seed);
    if (s->pretrain_threads > 0) cJSON_AddNumberToObject(res, "pretrain_threads", s->pretrain_threads);
    cJSON_AddNumberToObject(res, "threads", threads);
}

/*
 * harness/runner.c: dispatch to the study protocol of the suite's model
 * family, and the JSON pieces the protocols share.
 */
#include "harness/run_common.h"
#include "harness/runner.h"

#include <stdio.h>
#include <time.h>

int ml_run_suite(cJSON **out, const ml_suite *s, const ml_run_options *opt) {
    return s->family == ML_FAMILY_GPT ? ml_run__gpt(out, s, opt) : ml_run__mlp(out, s, opt);
}

double ml_run__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void ml_run__add_metric(cJSON *metrics, const char *model, const char *what, double v) {
    char key[160];
    snprintf(key, sizeof(key), "%s/%s", model, what);
    cJSON_AddNumberToObject(metrics, key, v);
}

void ml_run__add_gate(cJSON *res, const ml_suite *s) {
    cJSON *gate = cJSON_AddArrayToObject(res, "gate");
    for (int g = 0; g < s->ngate; g++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "match", s->gate[g].match);
        cJSON_AddStringToObject(r, "direction", ml_direction_name(s->gate[g].direction));
        cJSON_AddNumberToObject(r, "atol", s->gate[g].atol);
        cJSON_AddNumberToObject(r, "rtol", s->gate[g].rtol);
        cJSON_AddItemToArray(gate, r);
    }
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

/*
 * harness/aggregate.c: metrics across the seeds of each group of cells.
 */
#include "harness/aggregate.h"
#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ml_agg_row *find(ml_agg *a, const char *group, const char *metric) {
    for (int i = 0; i < a->n; i++)
        if (!strcmp(a->rows[i].group, group) && !strcmp(a->rows[i].metric, metric)) return &a->rows[i];
    return NULL;
}

const ml_agg_row *ml_agg_find(const ml_agg *a, const char *group, const char *metric) {
    return find((ml_agg *)a, group, metric);
}

int ml_agg_build(ml_agg *out, const cJSON *doc) {
    const cJSON *cells = cJSON_GetObjectItemCaseSensitive(doc, "cells");
    int ncells = cJSON_GetArraySize(cells);
    memset(out, 0, sizeof(*out));
    for (const cJSON *c = cells ? cells->child : NULL; c; c = c->next) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(c, "status");
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(c, "group");
        const char *group = cJSON_IsString(g) ? g->valuestring : "default";
        if (!cJSON_IsString(st) || strcmp(st->valuestring, "ok")) continue;
        const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(c, "metrics");
        for (const cJSON *m = metrics ? metrics->child : NULL; m; m = m->next) {
            ml_agg_row *r = find(out, group, m->string);
            if (!r) {
                if (out->n == out->cap) {
                    int cap = out->cap ? 2 * out->cap : 64;
                    ml_agg_row *grown = realloc(out->rows, (size_t)cap * sizeof(*grown));
                    if (!grown) { ml_agg_free(out); return ml_error_set(ML_ENOMEM, "out of memory gathering metrics"); }
                    out->rows = grown;
                    out->cap = cap;
                }
                r = &out->rows[out->n++];
                memset(r, 0, sizeof(*r));
                snprintf(r->group, sizeof(r->group), "%s", group);
                snprintf(r->metric, sizeof(r->metric), "%s", m->string);
                if (!strcmp(group, "default")) snprintf(r->label, sizeof(r->label), "%s", m->string);
                else snprintf(r->label, sizeof(r->label), "%s: %s", group, m->string);
                if (!(r->values = calloc((size_t)(ncells ? ncells : 1), sizeof(double)))) {
                    ml_agg_free(out);
                    return ml_error_set(ML_ENOMEM, "out of memory gathering metrics");
                }
            }
            if (cJSON_IsNumber(m) && isfinite(m->valuedouble)) r->values[r->n++] = m->valuedouble;
        }
    }
    for (int i = 0; i < out->n; i++) ml_stats_summary(&out->rows[i].s, out->rows[i].values, out->rows[i].n);
    return 0;
}

void ml_agg_free(ml_agg *a) {
    if (!a) return;
    for (int i = 0; i < a->n; i++) free(a->rows[i].values);
    free(a->rows);
    memset(a, 0, sizeof(*a));
}

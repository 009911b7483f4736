/*
 * analysis/aggregate.c: metrics across the seeds of each group of cells.
 */
#include "analysis/aggregate.h"
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

static const char *group_of(const cJSON *c) {
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(c, "group");
    return cJSON_IsString(g) ? g->valuestring : "default";
}

static int is_ok(const cJSON *c) {
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(c, "status");
    return cJSON_IsString(st) && !strcmp(st->valuestring, "ok");
}

static ml_agg_row *add_row(ml_agg *out, const char *group, const char *metric, int ncells) {
    if (out->n == out->cap) {
        int cap = out->cap ? 2 * out->cap : 64;
        void *grown = out->rows;
        if (ml_realloc(&grown, (size_t)cap * sizeof(ml_agg_row)) < 0) return NULL;
        out->rows = grown;
        out->cap = cap;
    }
    ml_agg_row *r = &out->rows[out->n];
    memset(r, 0, sizeof(*r));
    r->last_cell = -1;
    snprintf(r->group, sizeof(r->group), "%s", group);
    snprintf(r->metric, sizeof(r->metric), "%s", metric);
    if (!strcmp(group, "default")) snprintf(r->label, sizeof(r->label), "%s", metric);
    else snprintf(r->label, sizeof(r->label), "%s: %s", group, metric);
    if (ml_calloc((void **)&r->values, (size_t)(ncells ? ncells : 1), sizeof(double)) < 0) return NULL;
    out->n++;
    return r;
}

int ml_agg_build(ml_agg *out, const cJSON *doc) {
    const cJSON *cells = cJSON_GetObjectItemCaseSensitive(doc, "cells");
    int ncells = cJSON_GetArraySize(cells), ci = 0;
    memset(out, 0, sizeof(*out));
    for (const cJSON *c = cells ? cells->child : NULL; c; c = c->next, ci++) {
        if (!is_ok(c)) continue;
        const char *group = group_of(c);
        const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(c, "metrics");
        for (const cJSON *m = metrics ? metrics->child : NULL; m; m = m->next) {
            const char *name = m->string ? m->string : "";
            ml_agg_row *r = find(out, group, name);
            if (!r && !(r = add_row(out, group, name, ncells))) {
                ml_agg_free(out);
                return ml_error_set(ML_ENOMEM, "out of memory gathering metrics");
            }
            if (r->last_cell == ci) {
                ml_agg_free(out);
                return ml_error_set(ML_EDATA, "$.cells[%d].metrics: metric \"%.128s\" appears twice", ci, name);
            }
            r->last_cell = ci;
            if (cJSON_IsNumber(m) && isfinite(m->valuedouble)) r->values[r->n++] = m->valuedouble;
            else r->n_nonfinite++;
        }
    }
    /* how many ok cells each group has: a metric a seed lacks shows as n < n_cells */
    for (const cJSON *c = cells ? cells->child : NULL; c; c = c->next) {
        if (!is_ok(c)) continue;
        const char *group = group_of(c);
        for (int i = 0; i < out->n; i++)
            if (!strcmp(out->rows[i].group, group)) out->rows[i].n_cells++;
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

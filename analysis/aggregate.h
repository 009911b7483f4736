/*
 * analysis/aggregate.h: a results document's metrics gathered across seeds.
 * Cells of one group differ only by seed; for each (group, metric) the
 * per-seed values and their summary (mean, sd, 95% t interval) are what
 * the gate, compare and history reason about.
 * Owns: the grouping and labels. Not here: the statistics (core/stats.h),
 * verdicts (gate.c, cli_store.c).
 */
#ifndef ML_ANALYSIS_AGGREGATE_H
#define ML_ANALYSIS_AGGREGATE_H

#include "core/stats.h"

#include <cjson/cJSON.h>

typedef struct {
    char   group[256];      /* "default" when the suite has no non-seed axis */
    char   metric[128];
    char   label[400];      /* metric, or "group: metric" */
    int    n;               /* cells of the group holding a finite value */
    int    n_cells;         /* "ok" cells in the group: n_cells - n seeds lack a finite value */
    int    n_nonfinite;     /* cells where it is null, NaN or infinite (the rest of the gap is absent) */
    int    last_cell;       /* internal: the cell that wrote last, to refuse a key given twice */
    double *values;         /* (n) in cell order */
    ml_summary s;
} ml_agg_row;

typedef struct {
    ml_agg_row *rows;
    int n, cap;
} ml_agg;

/* Gathers every metric of every "ok" cell of doc, in first-seen order.
 * ML_EDATA when a cell names a metric twice (ml_results_load refuses such
 * files already; this guards documents built elsewhere). */
int ml_agg_build(ml_agg *out, const cJSON *doc);
const ml_agg_row *ml_agg_find(const ml_agg *a, const char *group, const char *metric);
void ml_agg_free(ml_agg *a);

#endif

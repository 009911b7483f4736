/*
 * study/runner.h: the study's public entry: runs one cell of a suite, whole
 * or one stage of it (one job of the graph), and returns its results.
 * Owns: the interface; the protocol is study/protocol.c over the model
 *       families (study.h, family_mlp.c, family_gpt.c).
 * Not here: parsing (suite/), which jobs exist (sched/graph.c), the
 *       results schema (store/results.h, results_write.h), provenance.
 */
#ifndef ML_STUDY_RUNNER_H
#define ML_STUDY_RUNNER_H

#include "suite/suite.h"

#include <cjson/cJSON.h>

/* Called as a run advances: phase ("pretrain", "finetune", "direct",
 * "merge", "evaluate"), the step and steps of that phase (0 and 0 when it
 * has none) and the latest training loss (NaN when none). Cheap to call
 * every step; the receiver throttles what it prints. */
typedef void (*ml_progress_fn)(void *ctx, const char *phase, int step, int total, double loss);

/* A run in parts, so that the points of one cell can be evaluated by
 * several processes at once (sched/ schedules them). Every part but
 * ML_STAGE_ALL needs the model cache: later parts read what earlier ones
 * trained, so a point is bit-identical however the run was split. */
typedef enum {
    ML_STAGE_ALL = 0,     /* the whole cell (points_done may supply evaluated points) */
    ML_STAGE_BASE,        /* pretrain the base into the cache; *out = {} */
    ML_STAGE_TRAIN,       /* base, specialists and direct into the cache; *out = {"timing": ...} */
    ML_STAGE_POINT        /* evaluate finetune.points[point]; *out = {"step", "models", "metrics"} */
} ml_run_stage;

typedef struct {
    int threads;          /* BLAS threads; 0 = the suite's, else 1 */
    int verbose;          /* per-phase detail lines, to log */
    ml_progress_fn progress;   /* may be NULL */
    void *progress_ctx;
    const char *cache_dir;     /* model cache (cache.h); NULL: train every phase */
    const char *key_base, *key_specialists, *key_direct;   /* cache keys (cells.h), when cache_dir is set */
    ml_run_stage stage;
    int point;                          /* ML_STAGE_POINT: index into finetune.points */
    const cJSON *const *points_done;    /* ML_STAGE_ALL: per point, its ML_STAGE_POINT result or NULL */
    void (*log)(void *ctx, const char *line);   /* receives the verbose lines (with "\n"); NULL = none */
    void *log_ctx;
} ml_run_options;

/* Runs the suite. On success *out is a new cJSON object holding "models",
 * "metrics", "cka", "timing", "seed", "threads" and "data" (the
 * caller adds suite and provenance). Errors: ML_ENOTFOUND/ML_EDATA for data,
 * ML_ERUN when training diverges (message names the phase and step). */
int ml_run_suite(cJSON **out, const ml_suite *s, const ml_run_options *opt);

#endif

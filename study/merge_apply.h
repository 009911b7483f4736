/*
 * study/merge_apply.h: one entry point for every weight-space merge a
 * suite can name, over the flat parameter vectors of either model family.
 * The statistics Fisher and RegMean need (per-example squared gradients,
 * per-layer input Gram matrices) are model-specific and computed by the
 * runners; they arrive here as flat arrays.
 * Not here: feature-space merges, ensembles and routers (they are models,
 * not parameter vectors).
 */
#ifndef ML_STUDY_MERGE_APPLY_H
#define ML_STUDY_MERGE_APPLY_H

#include "suite/suite.h"
#include "kernels/merge.h"

typedef struct {
    const float *const *fishers;        /* (nmodels) each (layout.total), fisher */
    const ml_regmean_layer *layers;     /* regmean: the linear layers and their Gram matrices */
    int nlayers;
} ml_merge_stats;

/* 1 for the methods that produce a parameter vector. */
int ml_merge_is_weight_space(ml_merge_method m);
/* out (layout.total) = the merge of models (nmodels, each layout.total)
 * fine-tuned from base, by ms's method and hyperparameters. stats may be
 * NULL except for fisher and regmean. */
int ml_merge_apply(float *out, const ml_merge_spec *ms, const ml_layout *layout, const float *base,
                   const float *const *models, int nmodels, const ml_merge_stats *stats);

#endif

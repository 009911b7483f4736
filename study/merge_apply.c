/*
 * study/merge_apply.c: suite merge spec -> kernels/merge_<method>.c call.
 */
#include "study/merge_apply.h"
#include "core/error.h"

int ml_merge_is_weight_space(ml_merge_method m) {
    return m == ML_MERGE_AVERAGE || m == ML_MERGE_SLERP || m == ML_MERGE_TASK_ARITHMETIC || m == ML_MERGE_TIES ||
           m == ML_MERGE_DARE || m == ML_MERGE_FISHER || m == ML_MERGE_REGMEAN;
}

int ml_merge_apply(float *out, const ml_merge_spec *ms, const ml_layout *layout, const float *base,
                   const float *const *models, int nmodels, const ml_merge_stats *stats) {
    switch (ms->method) {
    case ML_MERGE_AVERAGE:
        return ml_merge_average(out, models, ms->weights, nmodels, layout->total);
    case ML_MERGE_SLERP:
        return ml_merge_slerp(out, layout, models, nmodels, ms->t, ML_MERGE_SLERP_EPS);
    case ML_MERGE_TASK_ARITHMETIC:
        return ml_merge_task_arithmetic(out, layout, base, models, nmodels, ms->lambda);
    case ML_MERGE_TIES:
        return ml_merge_ties(out, layout, base, models, nmodels, ms->density, ms->lambda);
    case ML_MERGE_DARE:
        return ml_merge_dare(out, layout, base, models, nmodels, ms->p, ms->seed,
                             ms->combine_ties ? ML_DARE_TIES : ML_DARE_TASK_ARITHMETIC, ms->density, ms->lambda);
    case ML_MERGE_FISHER:
        if (!stats || !stats->fishers) return ml_error_set(ML_EINVALID, "fisher merge without Fisher information");
        return ml_merge_fisher(out, layout, models, stats->fishers, nmodels, ML_MERGE_FISHER_EPS);
    case ML_MERGE_REGMEAN:
        if (!stats || !stats->layers) return ml_error_set(ML_EINVALID, "regmean merge without Gram matrices");
        return ml_merge_regmean(out, layout, models, nmodels, stats->layers, stats->nlayers, ms->alpha);
    default:
        return ml_error_set(ML_EINVALID, "method \"%s\" is not a weight-space merge", ml_merge_method_name(ms->method));
    }
}

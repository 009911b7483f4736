/*
 * study/merge.c: the one merge dispatch. A suite's merge is one of three
 * kinds, decided here and nowhere else:
 *   weight space  (average, slerp, task arithmetic, TIES, DARE, Fisher,
 *                 RegMean) a parameter vector in the family's scratch
 *                 model, from the kernels/merge_<method>.c functions on the
 *                 flat layout, with the statistics the family computes;
 *   output space  (ensemble) the two specialists' logits or probabilities;
 *   feature space (interpolation, router) the family's mixture model.
 * Not here: the merge kernels (kernels/merge*.c), a family's statistics
 * and mixtures (family_*.c), scoring (the family's score).
 */
#include "study/study.h"
#include "core/error.h"

/* out (layout.total) = ms's merge of models (2) fine-tuned from base. */
static int weight_merge(float *out, const ml_merge_spec *ms, const ml_layout *layout, const float *base,
                        const float *const *models, const ml_merge_stats *st) {
    switch (ms->method) {
    case ML_MERGE_AVERAGE:
        return ml_merge_average(out, models, ms->weights, 2, layout->total);
    case ML_MERGE_SLERP:
        return ml_merge_slerp(out, layout, models, 2, ms->t, ML_MERGE_SLERP_EPS);
    case ML_MERGE_TASK_ARITHMETIC:
        return ml_merge_task_arithmetic(out, layout, base, models, 2, ms->lambda);
    case ML_MERGE_TIES:
        return ml_merge_ties(out, layout, base, models, 2, ms->density, ms->lambda);
    case ML_MERGE_DARE:
        return ml_merge_dare(out, layout, base, models, 2, ms->p, ms->seed,
                             ms->combine_ties ? ML_DARE_TIES : ML_DARE_TASK_ARITHMETIC, ms->density, ms->lambda);
    case ML_MERGE_FISHER:
        return ml_merge_fisher(out, layout, models, st->fishers, 2, ML_MERGE_FISHER_EPS);
    case ML_MERGE_REGMEAN:
        return ml_merge_regmean(out, layout, models, 2, st->layers, st->nlayers, ms->alpha);
    default:
        return ml_error_set(ML_EINVALID, "method \"%s\" is not a weight-space merge", ml_merge_method_name(ms->method));
    }
}

static int weight_space(ml_study *st, const ml_merge_spec *ms, cJSON *info, ml_study_model *m) {
    const ml_study_family *f = st->fam;
    ml_merge_stats stats = { NULL, NULL, 0, 0, NULL };
    const float *models[2] = { f->params(st, ML_RUN_A), f->params(st, ML_RUN_B) };
    float *out = f->params(st, ML_RUN_SCRATCH);
    int needs_stats = ms->method == ML_MERGE_FISHER || ms->method == ML_MERGE_REGMEAN, error = 0;
    if (needs_stats) error = f->stats(st, ms, &stats);
    if (error == 0) error = weight_merge(out, ms, f->layout(st), f->params(st, ML_RUN_BASE), models, &stats);
    int examples = stats.examples;
    if (needs_stats) f->stats_free(st, &stats);
    if (error < 0) return error;
    if (ms->method == ML_MERGE_AVERAGE || ms->method == ML_MERGE_FISHER)
        ml_results_merge_weights(info, ms);
    if (needs_stats) ml_results_merge_examples(info, examples);
    m->kind = ML_STUDY_PARAMS;
    m->params = out;
    return 0;
}

int ml_study__merge(ml_study *st, int g, cJSON *info, ml_study_model *m) {
    const ml_merge_spec *ms = &st->s->merges[g];
    ml_results_merge_method(info, ms);
    switch (ms->method) {
    case ML_MERGE_AVERAGE: case ML_MERGE_SLERP: case ML_MERGE_TASK_ARITHMETIC: case ML_MERGE_TIES: case ML_MERGE_DARE:
    case ML_MERGE_FISHER: case ML_MERGE_REGMEAN:
        return weight_space(st, ms, info, m);
    case ML_MERGE_ENSEMBLE:
        ml_results_merge_space(info, ms);
        ml_results_merge_weights(info, ms);
        m->kind = ML_STUDY_ENSEMBLE;
        m->ms = ms;
        return 0;
    case ML_MERGE_INTERPOLATE: case ML_MERGE_ROUTER:
        m->kind = ML_STUDY_MIXTURE;
        return st->fam->mixture(st, g, info);
    default:
        return ml_error_set(ML_EINVALID, "merge method %d is not implemented", (int)ms->method);
    }
}

/*
 * kernels/merge_task_vector.c: the task vector entry tau_k[i] = model_k[i] -
 * base[i] that task arithmetic, TIES and DARE combine, with DARE's drop
 * applied when one is given. Recomputed per read instead of stored, so no
 * merge needs a copy of a task vector.
 * Not here: how the entries are combined (merge_task_arithmetic.c,
 * merge_ties.c), DARE's arguments (merge_dare.c).
 */
#include "kernels/merge.h"
#include "kernels/rng.h"

double ml_merge__tau(const float *base, const float *model, int k, size_t i, const ml_merge__drop *drop) {
    double tau = (double)model[i] - (double)base[i];
    if (!drop || !drop->active) return tau;
    /* a pure function of (seed, model, entry): every read sees the same mask */
    if ((double)ml_rng_uniform(drop->seed, ML_STREAM_DARE + (uint64_t)k, (uint64_t)i) < drop->p) return 0.0;
    return tau / (1.0 - drop->p);
}

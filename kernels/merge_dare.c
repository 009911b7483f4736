/*
 * kernels/merge_dare.c: DARE, Drop And REscale (Yu et al. 2024): each task
 * vector entry is dropped with probability p and the kept ones are scaled
 * by 1/(1-p), so every entry keeps its expected value; the sparsified task
 * vectors are then combined by task arithmetic or TIES.
 * The drop of entry i of model k is a pure function of (seed, stream
 * ML_STREAM_DARE + k, counter i) (kernels/rng.h), so it is recomputed
 * wherever it is needed instead of stored, and TIES, which reads each task
 * vector twice (trim, then merge), sees the same mask both times. The
 * dropped task vector itself is merge_task_vector.c's, which task
 * arithmetic and TIES read too, so this file only calls them.
 */
#include "kernels/merge.h"
#include "core/error.h"

#include <math.h>

int ml_merge_dare(float *out, const ml_layout *layout, const float *base, const float *const *models, int nmodels,
                  double p, uint64_t seed, ml_dare_combine combine, double density, double lambda) {
    ml_merge__drop drop = { 1, p, seed };
    ML_CHECK_ARG(nmodels >= 1, "dare: need at least one model, got %d", nmodels);
    ML_CHECK_ARG(p >= 0.0 && p < 1.0, "dare: p must be in [0, 1), got %g", p);
    ML_CHECK_ARG(combine == ML_DARE_TASK_ARITHMETIC || combine == ML_DARE_TIES,
                 "dare: unknown combine method %d", (int)combine);
    ML_CHECK_ARG(combine != ML_DARE_TIES || (density > 0.0 && density <= 1.0),
                 "dare: density must be in (0, 1], got %g", density);
    ML_CHECK_ARG(isfinite(lambda), "dare: lambda must be finite, got %g", lambda);
    if (combine == ML_DARE_TASK_ARITHMETIC) {
        ml_merge__task_arithmetic(out, layout, base, models, nmodels, lambda, &drop);
        return 0;
    }
    return ml_merge__ties(out, layout, base, models, nmodels, density, lambda, &drop);
}

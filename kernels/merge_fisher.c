/*
 * kernels/merge_fisher.c: Fisher-weighted averaging (Matena & Raffel 2022)
 * with diagonal Fishers, and the helpers that build a diagonal Fisher as
 * the mean squared per-example gradient.
 * Not here: the per-example gradients themselves (the model code).
 * Every Fisher value gets eps added (the authors' "Fisher floor"), so a
 * parameter no model has any information about is the plain average rather
 * than 0/0. Accumulated in double.
 */
#include "kernels/merge.h"
#include "core/error.h"

#include <math.h>

int ml_merge_fisher(float *out, const ml_layout *layout, const float *const *models, const float *const *fishers,
                    int nmodels, double eps) {
    ML_CHECK_ARG(nmodels >= 1, "fisher: need at least one model, got %d", nmodels);
    ML_CHECK_ARG(isfinite(eps) && eps > 0.0, "fisher: eps must be finite and > 0, got %g", eps);
    for (int k = 0; k < nmodels; k++)
        for (size_t i = 0; i < layout->total; i++)
            ML_CHECK_ARG(isfinite(fishers[k][i]) && fishers[k][i] >= 0.0f,
                         "fisher: model %d parameter %zu: Fisher value %g is negative or not finite", k, i,
                         (double)fishers[k][i]);
    for (int ti = 0; ti < layout->n; ti++) {
        const ml_tensor_info *T = &layout->tensors[ti];
        if (ml_merge__frozen(models[0], models, nmodels, T->offset, T->numel)) {
            memcpy(out + T->offset, models[0] + T->offset, T->numel * sizeof(float));
            continue;
        }
        for (size_t i = T->offset; i < T->offset + T->numel; i++) {
            double num = 0.0, den = 0.0;
            for (int k = 0; k < nmodels; k++) {
                double w = (double)fishers[k][i] + eps;
                num += w * (double)models[k][i];
                den += w;
            }
            out[i] = (float)(num / den);
        }
    }
    return 0;
}

void ml_fisher_accumulate(float *F, const float *per_example_grad, size_t n) {
    for (size_t i = 0; i < n; i++) F[i] += per_example_grad[i] * per_example_grad[i];
}

int ml_fisher_finish(float *F, size_t n, long count) {
    ML_CHECK_ARG(count >= 1, "fisher: count must be >= 1, got %ld", count);
    for (size_t i = 0; i < n; i++) F[i] = (float)((double)F[i] / (double)count);
    return 0;
}

/*
 * kernels/merge_task_arithmetic.c: task arithmetic (Ilharco et al. 2023),
 * out = base + lambda * sum_k (models[k] - base).
 * Also the core that DARE reuses with its drop-and-rescale applied to the
 * task vectors, so DARE with p = 0 runs this very arithmetic.
 */
#include "kernels/merge.h"
#include "core/error.h"

#include <math.h>

void ml_merge__task_arithmetic(float *out, const ml_layout *layout, const float *base, const float *const *models,
                               int nmodels, double lambda, const ml_merge__drop *drop) {
    for (int ti = 0; ti < layout->n; ti++) {
        const ml_tensor_info *T = &layout->tensors[ti];
        if (ml_merge__frozen(base, models, nmodels, T->offset, T->numel)) {
            memcpy(out + T->offset, base + T->offset, T->numel * sizeof(float));
            continue;
        }
        for (size_t i = T->offset; i < T->offset + T->numel; i++) {
            double sum = 0.0;
            for (int k = 0; k < nmodels; k++) sum += ml_merge__tau(base, models[k], k, i, drop);
            out[i] = (float)((double)base[i] + lambda * sum);
        }
    }
}

int ml_merge_task_arithmetic(float *out, const ml_layout *layout, const float *base, const float *const *models,
                             int nmodels, double lambda) {
    ML_CHECK_ARG(nmodels >= 1, "task_arithmetic: need at least one model, got %d", nmodels);
    ML_CHECK_ARG(isfinite(lambda), "task_arithmetic: lambda must be finite, got %g", lambda);
    ml_merge__task_arithmetic(out, layout, base, models, nmodels, lambda, NULL);
    return 0;
}

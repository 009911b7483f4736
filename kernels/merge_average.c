/*
 * kernels/merge_average.c: weighted linear averaging of N models.
 * Accumulates in double so the result does not depend on float rounding
 * of partial sums. There is no layout here, so the frozen rule of merge.h
 * applies per value: a value bitwise equal in every model is copied.
 */
#include "kernels/merge.h"
#include "core/error.h"

int ml_merge_average(float *out, const float *const *models, const double *weights, int nmodels, size_t n) {
    double sum = 0.0;
    ML_CHECK_ARG(nmodels >= 1, "average: need at least one model");
    for (int k = 0; k < nmodels; k++) {
        ML_CHECK_ARG(weights[k] >= 0.0, "average: weight %d is negative (%g)", k, weights[k]);
        sum += weights[k];
    }
    ML_CHECK_ARG(sum > 0.0, "average: weights sum to zero");
    for (size_t i = 0; i < n; i++) {
        if (ml_merge__frozen(models[0], models, nmodels, i, 1)) {
            out[i] = models[0][i];
            continue;
        }
        double acc = 0.0;
        for (int k = 0; k < nmodels; k++) acc += weights[k] * (double)models[k][i];
        out[i] = (float)(acc / sum);
    }
    return 0;
}

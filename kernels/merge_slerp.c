/*
 * kernels/merge_slerp.c: spherical linear interpolation of two models,
 * one tensor at a time (each tensor is one vector with its own angle).
 * Not here: more than two models (SLERP is defined for a pair).
 * Nearly (anti-)parallel tensors, where sin(omega) -> 0 makes the weights
 * ill-conditioned, fall back to linear interpolation; so do all-zero ones,
 * whose angle is undefined. Everything is computed in double.
 */
#include "kernels/merge.h"
#include "core/error.h"

#include <math.h>

static void lerp(float *out, const float *a, const float *b, size_t n, double t) {
    for (size_t i = 0; i < n; i++) out[i] = (float)((1.0 - t) * (double)a[i] + t * (double)b[i]);
}

int ml_merge_slerp(float *out, const ml_layout *layout, const float *const *models, int nmodels, double t,
                   double eps) {
    ML_CHECK_ARG(nmodels == 2, "slerp: needs exactly 2 models, got %d", nmodels);
    ML_CHECK_ARG(t >= 0.0 && t <= 1.0, "slerp: t must be in [0, 1], got %g", t);
    ML_CHECK_ARG(eps > 0.0 && eps < 1.0, "slerp: eps must be in (0, 1), got %g", eps);
    for (int ti = 0; ti < layout->n; ti++) {
        const ml_tensor_info *T = &layout->tensors[ti];
        const float *a = models[0] + T->offset, *b = models[1] + T->offset;
        float *o = out + T->offset;
        if (ml_merge__frozen(models[0], models, nmodels, T->offset, T->numel)) {
            memcpy(o, a, T->numel * sizeof(float));
            continue;
        }
        double dot = 0.0, na = 0.0, nb = 0.0;
        for (size_t i = 0; i < T->numel; i++) {
            dot += (double)a[i] * (double)b[i];
            na += (double)a[i] * (double)a[i];
            nb += (double)b[i] * (double)b[i];
        }
        if (na == 0.0 || nb == 0.0) {
            lerp(o, a, b, T->numel, t);
            continue;
        }
        double c = dot / (sqrt(na) * sqrt(nb));
        if (c > 1.0) c = 1.0;           /* rounding can step just outside */
        if (c < -1.0) c = -1.0;
        if (fabs(c) > 1.0 - eps) {
            lerp(o, a, b, T->numel, t);
            continue;
        }
        double omega = acos(c), s = sin(omega);
        double wa = sin((1.0 - t) * omega) / s, wb = sin(t * omega) / s;
        for (size_t i = 0; i < T->numel; i++) o[i] = (float)(wa * (double)a[i] + wb * (double)b[i]);
    }
    return 0;
}

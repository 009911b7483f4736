/*
 * kernels/adamw.c: the AdamW update, one flat loop per tensor.
 */
#include "kernels/adamw.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>

int ml_adamw_new(ml_adamw **out, const ml_layout *layout, const ml_adamw_config *cfg) {
    ml_adamw *o = NULL;
    int error;
    *out = NULL;
    ML_CHECK_ARG(cfg->lr > 0 && cfg->beta1 >= 0 && cfg->beta1 < 1 && cfg->beta2 >= 0 && cfg->beta2 < 1 &&
                 cfg->eps > 0 && cfg->weight_decay >= 0, "adamw: bad hyperparameters");
    if ((error = ml_calloc((void **)&o, 1, sizeof(*o))) < 0 ||
        (error = ml_aligned_alloc((void **)&o->m, layout->total * sizeof(float))) < 0 ||
        (error = ml_aligned_alloc((void **)&o->v, layout->total * sizeof(float))) < 0)
        goto cleanup;
    o->cfg = *cfg;
    o->layout = layout;
    *out = o;
    o = NULL;
cleanup:
    ml_adamw_free(o);
    return error;
}

void ml_adamw_free(ml_adamw *o) {
    if (!o) return;
    free(o->m);
    free(o->v);
    free(o);
}

void ml_adamw_step(ml_adamw *o, float *params, const float *grads, float lr, const unsigned char *trainable) {
    const ml_adamw_config *c = &o->cfg;
    o->t++;
    float bc1 = 1.0f - powf(c->beta1, (float)o->t);
    float bc2 = 1.0f - powf(c->beta2, (float)o->t);
    for (int k = 0; k < o->layout->n; k++) {
        const ml_tensor_info *ti = &o->layout->tensors[k];
        if (trainable && !trainable[k]) continue;
        float wd = ti->decay ? c->weight_decay : 0.0f;
        float *p = params + ti->offset, *m = o->m + ti->offset, *v = o->v + ti->offset;
        const float *g = grads + ti->offset;
        for (size_t i = 0; i < ti->numel; i++) {
            m[i] = c->beta1 * m[i] + (1.0f - c->beta1) * g[i];
            v[i] = c->beta2 * v[i] + (1.0f - c->beta2) * g[i] * g[i];
            float mhat = m[i] / bc1, vhat = v[i] / bc2;
            p[i] -= lr * (mhat / (sqrtf(vhat) + c->eps) + wd * p[i]);
        }
    }
}

float ml_lr_at(float lr, long step, long total, long warmup, int cosine, float min_ratio) {
    if (warmup > 0 && step < warmup) return lr * (float)(step + 1) / (float)warmup;
    if (!cosine) return lr;
    long span = total - warmup - 1;
    if (span <= 0) return lr;
    double progress = (double)(step - warmup) / (double)span;
    if (progress > 1.0) progress = 1.0;
    double min = (double)lr * min_ratio;
    return (float)(min + ((double)lr - min) * 0.5 * (1.0 + cos(M_PI * progress)));
}

double ml_clip_grad_norm(float *grads, size_t n, double max_norm) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)grads[i] * grads[i];
    double norm = sqrt(s);
    if (max_norm > 0.0 && norm > max_norm) {
        float scale = (float)(max_norm / norm);
        for (size_t i = 0; i < n; i++) grads[i] *= scale;
    }
    return norm;
}

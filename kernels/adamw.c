/*
 * kernels/adamw.c: the AdamW update, one flat loop per tensor.
 */
#include "kernels/adamw.h"
#include "core/error.h"
#include "kernels/parallel.h"

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

typedef struct {
    float *p, *m, *v;
    const float *g;
    float b1, b2, eps, lr, wd, bc1, bc2;
} adam_job;

static void adam_range(void *ctx, long lo, long hi) {
    const adam_job *j = ctx;
    for (long i = lo; i < hi; i++) {
        float g = j->g[i];
        j->m[i] = j->b1 * j->m[i] + (1.0f - j->b1) * g;
        j->v[i] = j->b2 * j->v[i] + (1.0f - j->b2) * g * g;
        float mhat = j->m[i] / j->bc1, vhat = j->v[i] / j->bc2;
        j->p[i] -= j->lr * (mhat / (sqrtf(vhat) + j->eps) + j->wd * j->p[i]);
    }
}

void ml_adamw_step(ml_adamw *o, float *params, const float *grads, float lr, const unsigned char *trainable) {
    const ml_adamw_config *c = &o->cfg;
    o->t++;
    float bc1 = 1.0f - powf(c->beta1, (float)o->t);
    float bc2 = 1.0f - powf(c->beta2, (float)o->t);
    for (int k = 0; k < o->layout->n; k++) {
        const ml_tensor_info *ti = &o->layout->tensors[k];
        if (trainable && !trainable[k]) continue;
        adam_job j = { params + ti->offset, o->m + ti->offset, o->v + ti->offset, grads + ti->offset,
                       c->beta1, c->beta2, c->eps, lr, ti->decay ? c->weight_decay : 0.0f, bc1, bc2 };
        ml_par_for((long)ti->numel, 16384, adam_range, &j);   /* each element is its own output */
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

/*
 * kernels/adamw.h: AdamW (Loshchilov & Hutter) over a flat parameter vector.
 * m and v are flat vectors of layout.total floats with the params' layout;
 * weight decay is decoupled (p -= lr*wd*p) and applies only to tensors the
 * layout marks `decay` (matrices, not biases). A tensor can be frozen
 * (the MLP-only fine-tuning of the paper) by a mask over layout entries.
 * Also here: the learning-rate schedule and gradient-norm clipping that
 * every training loop shares.
 */
#ifndef ML_KERNELS_ADAMW_H
#define ML_KERNELS_ADAMW_H

#include "kernels/params.h"

typedef struct {
    float lr, beta1, beta2, eps, weight_decay;
} ml_adamw_config;

typedef struct {
    ml_adamw_config cfg;
    const ml_layout *layout;  /* borrowed */
    float *m;                 /* (layout.total) first moment */
    float *v;                 /* (layout.total) second moment */
    long   t;                 /* steps taken */
} ml_adamw;

int  ml_adamw_new(ml_adamw **out, const ml_layout *layout, const ml_adamw_config *cfg);
void ml_adamw_free(ml_adamw *o);
/* One step with learning rate lr on params (layout.total) using grads;
 * trainable (layout.n) or NULL (all trainable). */
void ml_adamw_step(ml_adamw *o, float *params, const float *grads, float lr, const unsigned char *trainable);

/* Linear warmup over `warmup` steps from lr/warmup to lr, then cosine decay
 * to min_ratio*lr at step total-1 (constant when cosine is 0). step is 0-based. */
float ml_lr_at(float lr, long step, long total, long warmup, int cosine, float min_ratio);
/* Scales grads (n) so that their L2 norm is at most max_norm (> 0); returns
 * the norm before clipping (summed in double, in index order). */
double ml_clip_grad_norm(float *grads, size_t n, double max_norm);

#endif

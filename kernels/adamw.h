/*
 * kernels/adamw.h: AdamW (Loshchilov & Hutter) over a flat parameter vector.
 * m and v are flat vectors of layout.total floats with the params' layout;
 * weight decay is decoupled (p -= lr*wd*p) and applies only to tensors the
 * layout marks `decay` (matrices, not biases). A tensor can be frozen
 * (the MLP-only fine-tuning of the paper) by a mask over layout entries.
 * Not here: learning-rate schedules (the harness computes lr per step).
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

#endif

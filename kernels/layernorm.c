/*
 * kernels/layernorm.c: LayerNorm forward/backward over the last dimension.
 * Statistics are summed in double: rows are short (C ~ 128) and a float
 * mean of values with a large offset loses digits the backward needs.
 * Rows are independent outputs and run on the worker threads; the weight
 * and bias gradients are sums over rows, so they are split by channel
 * instead, each channel summed over rows in row order.
 */
#include "kernels/layers.h"
#include "kernels/parallel.h"

#include <math.h>
#include <stddef.h>

#define LN_EPS 1e-5

typedef struct {
    float *y, *mean, *rstd, *dx, *dw, *db;
    const float *x, *w, *b, *dy, *cmean, *crstd;
    int N, C;
} ln_job;

static void fwd_rows(void *ctx, long lo, long hi) {
    const ln_job *j = ctx;
    int C = j->C;
    for (long i = lo; i < hi; i++) {
        const float *xi = j->x + i * C;
        float *yi = j->y + i * C;
        double m = 0.0, v = 0.0;
        for (int c = 0; c < C; c++) m += xi[c];
        m /= C;
        for (int c = 0; c < C; c++) { double d = xi[c] - m; v += d * d; }
        v /= C;
        double r = 1.0 / sqrt(v + LN_EPS);
        for (int c = 0; c < C; c++) yi[c] = (float)((xi[c] - m) * r) * j->w[c] + j->b[c];
        j->mean[i] = (float)m;
        j->rstd[i] = (float)r;
    }
}

void ml_layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *w,
                          const float *b, int N, int C) {
    ln_job j = { y, mean, rstd, NULL, NULL, NULL, x, w, b, NULL, NULL, NULL, N, C };
    ml_par_for(N, 32, fwd_rows, &j);
}

static void bwd_rows(void *ctx, long lo, long hi) {
    const ln_job *j = ctx;
    int C = j->C;
    for (long i = lo; i < hi; i++) {
        const float *xi = j->x + i * C, *dyi = j->dy + i * C;
        float *dxi = j->dx + i * C;
        float m = j->cmean[i], r = j->crstd[i];
        /* dx = r * (g - mean(g) - n * mean(g*n)), g = dy*w, n = normalised x */
        double sg = 0.0, sgn = 0.0;
        for (int c = 0; c < C; c++) {
            float n = (xi[c] - m) * r, g = dyi[c] * j->w[c];
            sg += g;
            sgn += (double)g * n;
        }
        float mg = (float)(sg / C), mgn = (float)(sgn / C);
        for (int c = 0; c < C; c++) {
            float n = (xi[c] - m) * r, g = dyi[c] * j->w[c];
            dxi[c] += r * (g - mg - n * mgn);
        }
    }
}

static void bwd_params(void *ctx, long lo, long hi) {
    const ln_job *j = ctx;
    int C = j->C;
    for (int i = 0; i < j->N; i++) {
        const float *xi = j->x + (long)i * C, *dyi = j->dy + (long)i * C;
        float m = j->cmean[i], r = j->crstd[i];
        if (j->dw)
            for (long c = lo; c < hi; c++) j->dw[c] += dyi[c] * ((xi[c] - m) * r);
        if (j->db)
            for (long c = lo; c < hi; c++) j->db[c] += dyi[c];
    }
}

void ml_layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                           const float *w, const float *mean, const float *rstd, int N, int C) {
    ln_job j = { NULL, NULL, NULL, dx, dw, db, x, w, NULL, dy, mean, rstd, N, C };
    ml_par_for(N, 32, bwd_rows, &j);
    if (dw || db) ml_par_for(C, 16, bwd_params, &j);
}

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

/* Rows are done LN_ROWS at a time. Each row's sums still run in channel
 * order, so the bits are those of one row at a time, but the independent
 * chains hide the latency of the double additions, which bounded these
 * loops (one chain per row left the core idle three cycles in four). */
enum { LN_ROWS = 4 };

/* one row's statistics and output: the tail after the groups of LN_ROWS */
static void fwd_one(const ln_job *j, long i) {
    int C = j->C;
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

static void fwd_rows(void *ctx, long lo, long hi) {
    const ln_job *j = ctx;
    int C = j->C;
    long i = lo;
    /* four named chains: in arrays, GCC keeps them in memory and the
     * store-to-load latency is back on every addition */
    for (; i + LN_ROWS <= hi; i += LN_ROWS) {
        const float *x0 = j->x + i * C, *x1 = x0 + C, *x2 = x1 + C, *x3 = x2 + C;
        double m0 = 0.0, m1 = 0.0, m2 = 0.0, m3 = 0.0, v0 = 0.0, v1 = 0.0, v2 = 0.0, v3 = 0.0;
        for (int c = 0; c < C; c++) { m0 += x0[c]; m1 += x1[c]; m2 += x2[c]; m3 += x3[c]; }
        m0 /= C; m1 /= C; m2 /= C; m3 /= C;
        for (int c = 0; c < C; c++) {
            double d0 = x0[c] - m0, d1 = x1[c] - m1, d2 = x2[c] - m2, d3 = x3[c] - m3;
            v0 += d0 * d0; v1 += d1 * d1; v2 += d2 * d2; v3 += d3 * d3;
        }
        double m[LN_ROWS] = { m0, m1, m2, m3 }, v[LN_ROWS] = { v0, v1, v2, v3 };
        for (int k = 0; k < LN_ROWS; k++) {
            const float *xk = j->x + (i + k) * C;
            v[k] /= C;
            double r = 1.0 / sqrt(v[k] + LN_EPS), mk = m[k];
            float *yk = j->y + (i + k) * C;
            for (int c = 0; c < C; c++) yk[c] = (float)((xk[c] - mk) * r) * j->w[c] + j->b[c];
            j->mean[i + k] = (float)mk;
            j->rstd[i + k] = (float)r;
        }
    }
    for (; i < hi; i++) fwd_one(j, i);
}

void ml_layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *w,
                          const float *b, int N, int C) {
    ln_job j = { y, mean, rstd, NULL, NULL, NULL, x, w, b, NULL, NULL, NULL, N, C };
    ml_par_for(N, 32, fwd_rows, &j);
}

static void bwd_one(const ln_job *j, long i) {
    int C = j->C;
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

static void bwd_rows(void *ctx, long lo, long hi) {
    const ln_job *j = ctx;
    int C = j->C;
    const float *w = j->w;
    long i = lo;
    for (; i + LN_ROWS <= hi; i += LN_ROWS) {   /* as fwd_rows: named chains, each in channel order */
        const float *x0 = j->x + i * C, *x1 = x0 + C, *x2 = x1 + C, *x3 = x2 + C;
        const float *y0 = j->dy + i * C, *y1 = y0 + C, *y2 = y1 + C, *y3 = y2 + C;
        float m0 = j->cmean[i], m1 = j->cmean[i + 1], m2 = j->cmean[i + 2], m3 = j->cmean[i + 3];
        float r0 = j->crstd[i], r1 = j->crstd[i + 1], r2 = j->crstd[i + 2], r3 = j->crstd[i + 3];
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, t0 = 0.0, t1 = 0.0, t2 = 0.0, t3 = 0.0;
        for (int c = 0; c < C; c++) {
            float n0 = (x0[c] - m0) * r0, g0 = y0[c] * w[c];
            float n1 = (x1[c] - m1) * r1, g1 = y1[c] * w[c];
            float n2 = (x2[c] - m2) * r2, g2 = y2[c] * w[c];
            float n3 = (x3[c] - m3) * r3, g3 = y3[c] * w[c];
            s0 += g0; t0 += (double)g0 * n0;
            s1 += g1; t1 += (double)g1 * n1;
            s2 += g2; t2 += (double)g2 * n2;
            s3 += g3; t3 += (double)g3 * n3;
        }
        double sg[LN_ROWS] = { s0, s1, s2, s3 }, sgn[LN_ROWS] = { t0, t1, t2, t3 };
        for (int k = 0; k < LN_ROWS; k++) {
            const float *xk = j->x + (i + k) * C, *dyk = j->dy + (i + k) * C;
            float m = j->cmean[i + k], r = j->crstd[i + k];
            float mg = (float)(sg[k] / C), mgn = (float)(sgn[k] / C);
            float *dxk = j->dx + (i + k) * C;
            for (int c = 0; c < C; c++) {
                float n = (xk[c] - m) * r, g = dyk[c] * w[c];
                dxk[c] += r * (g - mg - n * mgn);
            }
        }
    }
    for (; i < hi; i++) bwd_one(j, i);
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

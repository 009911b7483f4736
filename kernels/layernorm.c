/*
 * kernels/layernorm.c: LayerNorm forward/backward over the last dimension.
 * Statistics are summed in double: rows are short (C ~ 128) and a float
 * mean of values with a large offset loses digits the backward needs.
 */
#include "kernels/layers.h"

#include <math.h>

#define LN_EPS 1e-5

void ml_layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *w,
                          const float *b, int N, int C) {
    for (int i = 0; i < N; i++) {
        const float *xi = x + (long)i * C;
        float *yi = y + (long)i * C;
        double m = 0.0, v = 0.0;
        for (int c = 0; c < C; c++) m += xi[c];
        m /= C;
        for (int c = 0; c < C; c++) { double d = xi[c] - m; v += d * d; }
        v /= C;
        double r = 1.0 / sqrt(v + LN_EPS);
        for (int c = 0; c < C; c++) yi[c] = (float)((xi[c] - m) * r) * w[c] + b[c];
        mean[i] = (float)m;
        rstd[i] = (float)r;
    }
}

void ml_layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                           const float *w, const float *mean, const float *rstd, int N, int C) {
    for (int i = 0; i < N; i++) {
        const float *xi = x + (long)i * C, *dyi = dy + (long)i * C;
        float *dxi = dx + (long)i * C;
        float m = mean[i], r = rstd[i];
        /* dx = r * (g - mean(g) - n * mean(g*n)), g = dy*w, n = normalised x */
        double sg = 0.0, sgn = 0.0;
        for (int c = 0; c < C; c++) {
            float n = (xi[c] - m) * r, g = dyi[c] * w[c];
            sg += g;
            sgn += (double)g * n;
        }
        float mg = (float)(sg / C), mgn = (float)(sgn / C);
        for (int c = 0; c < C; c++) {
            float n = (xi[c] - m) * r, g = dyi[c] * w[c];
            dxi[c] += r * (g - mg - n * mgn);
        }
        if (dw)
            for (int c = 0; c < C; c++) dw[c] += dyi[c] * ((xi[c] - m) * r);
        if (db)
            for (int c = 0; c < C; c++) db[c] += dyi[c];
    }
}

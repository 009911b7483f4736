/*
 * kernels/ref/layers_ref.c: naive linear layer, the reference for
 * kernels/layers.c's sgemm version.
 */
#include "kernels/layers.h"

void ml_ref_linear_forward(float *y, const float *x, const float *W, const float *b, int N, int C, int OC) {
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OC; o++) {
            double s = b ? b[o] : 0.0;
            for (int c = 0; c < C; c++) s += (double)x[(long)i * C + c] * W[(long)o * C + c];
            y[(long)i * OC + o] = (float)s;
        }
}

void ml_ref_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x,
                            const float *W, int N, int C, int OC) {
    if (dx)
        for (int i = 0; i < N; i++)
            for (int c = 0; c < C; c++) {
                double s = 0.0;
                for (int o = 0; o < OC; o++) s += (double)dy[(long)i * OC + o] * W[(long)o * C + c];
                dx[(long)i * C + c] += (float)s;
            }
    for (int o = 0; o < OC; o++)
        for (int c = 0; c < C; c++) {
            double s = 0.0;
            for (int i = 0; i < N; i++) s += (double)dy[(long)i * OC + o] * x[(long)i * C + c];
            dW[(long)o * C + c] += (float)s;
        }
    if (db)
        for (int o = 0; o < OC; o++) {
            double s = 0.0;
            for (int i = 0; i < N; i++) s += dy[(long)i * OC + o];
            db[o] += (float)s;
        }
}

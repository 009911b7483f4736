/*
 * kernels/layers.c: linear (on sgemm), ReLU, GELU and softmax cross-entropy.
 * Element-wise loops run on one thread: the matrix products dominate and
 * OpenBLAS already uses the cores there.
 */
#include "kernels/layers.h"
#include "kernels/fastmath.h"
#include "kernels/gemm.h"

#include <math.h>

void ml_linear_forward(float *y, const float *x, const float *W, const float *b, int N, int C, int OC) {
    ml_gemm_nt(N, OC, C, x, W, 0.0f, y);               /* y = x W^T (N,OC) */
    if (b)
        for (int i = 0; i < N; i++)
            for (int o = 0; o < OC; o++) y[(long)i * OC + o] += b[o];
}

void ml_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x,
                        const float *W, int N, int C, int OC) {
    if (dx) ml_gemm_nn(N, C, OC, dy, W, 1.0f, dx);     /* dx += dy W   (N,C)  */
    if (dW) ml_gemm_tn(OC, C, N, dy, x, 1.0f, dW);     /* dW += dy^T x (OC,C) */
    if (db)                                            /* db += sum_i dy      */
        for (int i = 0; i < N; i++)
            for (int o = 0; o < OC; o++) db[o] += dy[(long)i * OC + o];
}

void ml_relu_forward(float *y, const float *x, long n) {
    for (long i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void ml_relu_backward(float *dx, const float *dy, const float *x, long n) {
    for (long i = 0; i < n; i++) dx[i] += x[i] > 0.0f ? dy[i] : 0.0f;
}

#define GELU_K 0.7978845608028654f   /* sqrt(2/pi) */

void ml_gelu_forward(float *y, const float *x, long n) {
    for (long i = 0; i < n; i++) {
        float v = x[i];
        y[i] = 0.5f * v * (1.0f + ml_fast_tanhf(GELU_K * (v + 0.044715f * v * v * v)));
    }
}

void ml_gelu_backward(float *dx, const float *dy, const float *x, long n) {
    for (long i = 0; i < n; i++) {
        float v = x[i];
        float u = GELU_K * (v + 0.044715f * v * v * v);
        float t = ml_fast_tanhf(u);
        float sech2 = 1.0f - t * t;
        float du = GELU_K * (1.0f + 3.0f * 0.044715f * v * v);
        dx[i] += dy[i] * (0.5f * (1.0f + t) + 0.5f * v * sech2 * du);
    }
}

float ml_softmax_ce_forward(float *probs, float *losses, const float *logits,
                            const int32_t *targets, int N, int V) {
    double total = 0.0;
    int counted = 0;
    for (int i = 0; i < N; i++) {
        const float *z = logits + (long)i * V;
        float *p = probs + (long)i * V;
        float mx = z[0];
        for (int v = 1; v < V; v++) if (z[v] > mx) mx = z[v];
        double sum = 0.0;
        for (int v = 0; v < V; v++) { p[v] = expf(z[v] - mx); sum += p[v]; }
        for (int v = 0; v < V; v++) p[v] = (float)(p[v] / sum);
        if (targets[i] == ML_IGNORE) {
            if (losses) losses[i] = 0.0f;
            continue;
        }
        /* log-sum-exp form keeps the loss finite when p[target] underflows */
        double loss = log(sum) + mx - z[targets[i]];
        if (losses) losses[i] = (float)loss;
        total += loss;
        counted++;
    }
    return counted ? (float)(total / counted) : 0.0f;
}

void ml_softmax_ce_backward(float *dlogits, const float *probs, const int32_t *targets, int N, int V) {
    int counted = 0;
    for (int i = 0; i < N; i++) counted += targets[i] != ML_IGNORE;
    if (!counted) return;
    float inv = 1.0f / (float)counted;
    for (int i = 0; i < N; i++) {
        if (targets[i] == ML_IGNORE) continue;
        for (int v = 0; v < V; v++) {
            float g = probs[(long)i * V + v] - (v == targets[i] ? 1.0f : 0.0f);
            dlogits[(long)i * V + v] += g * inv;
        }
    }
}

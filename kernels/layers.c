/*
 * kernels/layers.c: linear (on sgemm), ReLU, GELU and softmax cross-entropy.
 * Element-wise loops run on one thread: the matrix products dominate and
 * OpenBLAS already uses the cores there.
 */
#include "kernels/layers.h"
#include "kernels/fastmath.h"
#include "kernels/gemm.h"
#include "kernels/parallel.h"
#include "kernels/platform.h"
#include "kernels/variants.h"

#include <math.h>
#include <string.h>

/* The bias goes in first and the product on top (beta = 1): one pass
 * fewer than adding it afterwards, and the same sum acc + b. */
typedef struct { float *y; const float *b; float *db; const float *dy; int N, OC; } bias_job;

static void fill_bias_rows(void *ctx, long lo, long hi) {
    const bias_job *j = ctx;
    for (long i = lo; i < hi; i++) memcpy(j->y + i * j->OC, j->b, (size_t)j->OC * sizeof(float));
}

void ml_linear_forward(float *y, const float *x, const float *W, const float *b, int N, int C, int OC) {
    if (b) {
        bias_job j = { y, b, NULL, NULL, N, OC };
        ml_par_for(N, 64, fill_bias_rows, &j);
    }
    ml_gemm_nt(N, OC, C, x, W, b ? 1.0f : 0.0f, y);     /* y (+)= x W^T (N,OC) */
}

/* db[o] += sum_i dy[i,o], each output o summed over rows in row order */
static void bias_grad_cols(void *ctx, long lo, long hi) {
    const bias_job *j = ctx;
    for (int i = 0; i < j->N; i++) {
        const float *d = j->dy + (long)i * j->OC;
        for (long o = lo; o < hi; o++) j->db[o] += d[o];
    }
}

void ml_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x,
                        const float *W, int N, int C, int OC) {
    if (dx) ml_gemm_nn(N, C, OC, dy, W, 1.0f, dx);     /* dx += dy W   (N,C)  */
    if (dW) ml_gemm_tn(OC, C, N, dy, x, 1.0f, dW);     /* dW += dy^T x (OC,C) */
    if (db) {
        bias_job j = { NULL, NULL, db, dy, N, OC };
        ml_par_for(OC, 16, bias_grad_cols, &j);
    }
}

void ml_relu_forward(float *y, const float *x, long n) {
    for (long i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void ml_relu_backward(float *dx, const float *dy, const float *x, long n) {
    for (long i = 0; i < n; i++) dx[i] += x[i] > 0.0f ? dy[i] : 0.0f;
}

#define GELU_K 0.7978845608028654f   /* sqrt(2/pi) */

typedef struct { float *out; const float *a, *b; } ew_job;

/* Each element-wise loop is written once, as an always-inline body, and
 * compiled for AVX2 and for the x86-64 baseline (kernels/variants.h): the
 * same bits from both (tests/test_platform.c: platform__isa_*). */

ML_BODY gelu_fwd_body(void *ctx, long lo, long hi) {
    const ew_job *j = ctx;
    for (long i = lo; i < hi; i++) {
        float v = j->a[i];
        j->out[i] = 0.5f * v * (1.0f + ml_fast_tanhf(GELU_K * (v + 0.044715f * v * v * v)));
    }
}
ML_VARIANTS(gelu_fwd)

void ml_gelu_forward(float *y, const float *x, long n) {
    ew_job j = { y, x, NULL };
    ml_par_for(n, 16384, gelu_fwd_pick(), &j);
}

ML_BODY gelu_bwd_body(void *ctx, long lo, long hi) {
    const ew_job *j = ctx;   /* out = dx, a = dy, b = x */
    for (long i = lo; i < hi; i++) {
        float v = j->b[i];
        float u = GELU_K * (v + 0.044715f * v * v * v);
        float t = ml_fast_tanhf(u);
        float sech2 = 1.0f - t * t;
        float du = GELU_K * (1.0f + 3.0f * 0.044715f * v * v);
        j->out[i] += j->a[i] * (0.5f * (1.0f + t) + 0.5f * v * sech2 * du);
    }
}
ML_VARIANTS(gelu_bwd)

void ml_gelu_backward(float *dx, const float *dy, const float *x, long n) {
    ew_job j = { dx, dy, x };
    ml_par_for(n, 16384, gelu_bwd_pick(), &j);
}

typedef struct { float *y, *d; const float *x; } slope_job;

ML_BODY gelu_slope_body(void *ctx, long lo, long hi) {
    const slope_job *j = ctx;
    for (long i = lo; i < hi; i++) {
        float v = j->x[i];   /* read before d (which may alias x) is written */
        float u = GELU_K * (v + 0.044715f * v * v * v);
        float t = ml_fast_tanhf(u);
        float du = GELU_K * (1.0f + 3.0f * 0.044715f * v * v);
        j->y[i] = 0.5f * v * (1.0f + t);
        j->d[i] = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du;
    }
}
ML_VARIANTS(gelu_slope)

void ml_gelu_forward_slope(float *y, float *d, const float *x, long n) {
    slope_job j = { y, d, x };
    ml_par_for(n, 16384, gelu_slope_pick(), &j);
}

ML_BODY mul_body(void *ctx, long lo, long hi) {
    const ew_job *j = ctx;
    for (long i = lo; i < hi; i++) j->out[i] = j->a[i] * j->b[i];
}
ML_VARIANTS(mul)

void ml_mul_slope(float *dx, const float *dy, const float *d, long n) {
    ew_job j = { dx, dy, d };
    ml_par_for(n, 16384, mul_pick(), &j);
}

typedef struct {
    float *probs, *losses, *dlogits;
    const float *logits;
    const int32_t *targets;
    int V;
    float inv;
} ce_job;

static void ce_fwd_rows(void *ctx, long lo, long hi) {
    const ce_job *j = ctx;
    int V = j->V;
    for (long i = lo; i < hi; i++) {
        const float *z = j->logits + i * V;
        float *p = j->probs + i * V;
        float mx = z[0];
        for (int v = 1; v < V; v++) if (z[v] > mx) mx = z[v];
        double sum = 0.0;
        for (int v = 0; v < V; v++) { p[v] = expf(z[v] - mx); sum += p[v]; }
        for (int v = 0; v < V; v++) p[v] = (float)(p[v] / sum);
        /* log-sum-exp form keeps the loss finite when p[target] underflows */
        j->losses[i] = j->targets[i] == ML_IGNORE ? 0.0f : (float)(log(sum) + mx - z[j->targets[i]]);
    }
}

float ml_softmax_ce_forward(float *probs, float *losses, const float *logits,
                            const int32_t *targets, int N, int V) {
    ce_job j = { probs, losses, NULL, logits, targets, V, 0.0f };
    ml_par_for(N, 64, ce_fwd_rows, &j);
    /* the mean is a reduction: one thread, row order */
    double total = 0.0;
    int counted = 0;
    for (int i = 0; i < N; i++)
        if (targets[i] != ML_IGNORE) { total += losses[i]; counted++; }
    return counted ? (float)(total / counted) : 0.0f;
}

static void ce_bwd_rows(void *ctx, long lo, long hi) {
    const ce_job *j = ctx;
    int V = j->V;
    for (long i = lo; i < hi; i++) {
        if (j->targets[i] == ML_IGNORE) continue;
        for (int v = 0; v < V; v++) {
            float g = j->probs[i * V + v] - (v == j->targets[i] ? 1.0f : 0.0f);
            j->dlogits[i * V + v] += g * j->inv;
        }
    }
}

void ml_softmax_ce_backward(float *dlogits, const float *probs, const int32_t *targets, int N, int V) {
    int counted = 0;
    for (int i = 0; i < N; i++) counted += targets[i] != ML_IGNORE;
    if (!counted) return;
    ce_job j = { (float *)probs, NULL, dlogits, NULL, targets, V, 1.0f / (float)counted };
    ml_par_for(N, 64, ce_bwd_rows, &j);
}

/*
 * kernels/attention.c: causal multi-head self-attention on sgemm.
 * q, k and v of head h are read in place from qkv (B,T,3C) with leading
 * dimension 3C, so no head-split copies are made. The full T x T product
 * is computed and the upper triangle then zeroed: simpler than triangular
 * blocking, at most 2x the (small) attention FLOPs. Heads are independent
 * outputs, so they are split across the worker threads.
 */
#include "kernels/fastmath.h"
#include "kernels/layers.h"
#include "kernels/parallel.h"

#include <cblas.h>
#include <math.h>

typedef struct {
    float *y, *att, *dqkv, *datt;
    const float *qkv, *dy, *attc;
    int B, T, C, NH;
} attn_job;

/* where head h of sequence b reads q (and k = q + C, v = q + 2C) and
 * writes its output columns, in qkv (B,T,3C) and y (B,T,C) layouts */
static long q_offset(const attn_job *j, long bh) {
    int b = (int)(bh / j->NH), h = (int)(bh % j->NH);
    return (long)b * j->T * 3 * j->C + (long)h * (j->C / j->NH);
}
static long y_offset(const attn_job *j, long bh) {
    int b = (int)(bh / j->NH), h = (int)(bh % j->NH);
    return (long)b * j->T * j->C + (long)h * (j->C / j->NH);
}

/* heads lo..hi of the flattened (b, h) range */
static void forward_heads(void *ctx, long lo, long hi) {
    const attn_job *j = ctx;
    int T = j->T, C = j->C, NH = j->NH, hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    for (long bh = lo; bh < hi; bh++) {
        const float *q = j->qkv + q_offset(j, bh), *k = q + C, *v = q + 2 * C;
        float *S = j->att + bh * T * T;
        float *yo = j->y + y_offset(j, bh);
        /* S = scale * q k^T  (T,T) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, scale, q, C3, k, C3, 0.0f, S, T);
        for (int i = 0; i < T; i++) {
            float *row = S + (long)i * T, mx = row[0];
            for (int jj = 1; jj <= i; jj++) if (row[jj] > mx) mx = row[jj];
            double sum = 0.0;
            for (int jj = 0; jj <= i; jj++) row[jj] = ml_fast_expf(row[jj] - mx);
            for (int jj = 0; jj <= i; jj++) sum += row[jj];
            float inv = (float)(1.0 / sum);
            for (int jj = 0; jj <= i; jj++) row[jj] *= inv;
            for (int jj = i + 1; jj < T; jj++) row[jj] = 0.0f;   /* causal: no future */
        }
        /* y_h = P v  (T,hs), written into its head's columns of y */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, S, T, v, C3, 0.0f, yo, C);
    }
}

void ml_attention_forward(float *y, float *att, const float *qkv, int B, int T, int C, int NH) {
    attn_job j = { y, att, NULL, NULL, qkv, NULL, NULL, B, T, C, NH };
    ml_par_for((long)B * NH, 1, forward_heads, &j);
}

static void backward_heads(void *ctx, long lo, long hi) {
    const attn_job *j = ctx;
    int T = j->T, C = j->C, NH = j->NH, hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    for (long bh = lo; bh < hi; bh++) {
        const float *q = j->qkv + q_offset(j, bh), *k = q + C, *v = q + 2 * C;
        float *dq = j->dqkv + q_offset(j, bh), *dk = dq + C, *dv = dq + 2 * C;
        const float *P = j->attc + bh * T * T;
        const float *dyo = j->dy + y_offset(j, bh);
        float *dS = j->datt + bh * T * T;   /* each head its own scratch */
        /* dP = dy_h v^T (T,T);  dv += P^T dy_h (T,hs) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1.0f, dyo, C, v, C3, 0.0f, dS, T);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, P, T, dyo, C, 1.0f, dv, C3);
        /* softmax backward, in place: dS = P (dP - rowsum(P dP)) * scale */
        for (int i = 0; i < T; i++) {
            const float *p = P + (long)i * T;
            float *d = dS + (long)i * T;
            double s = 0.0;
            for (int jj = 0; jj <= i; jj++) s += (double)p[jj] * d[jj];
            for (int jj = 0; jj <= i; jj++) d[jj] = p[jj] * (d[jj] - (float)s) * scale;
            for (int jj = i + 1; jj < T; jj++) d[jj] = 0.0f;
        }
        /* dq += dS k;  dk += dS^T q */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, dS, T, k, C3, 1.0f, dq, C3);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, dS, T, q, C3, 1.0f, dk, C3);
    }
}

void ml_attention_backward(float *dqkv, float *datt, const float *dy, const float *qkv,
                           const float *att, int B, int T, int C, int NH) {
    attn_job j = { NULL, NULL, dqkv, datt, qkv, dy, att, B, T, C, NH };
    ml_par_for((long)B * NH, 1, backward_heads, &j);
}

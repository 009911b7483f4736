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
#include "kernels/variants.h"

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

/* max of r[0..n-1] (n >= 1) in eight lanes: a maximum is the same value in
 * any order (a NaN makes the whole row NaN either way), so the bits are a
 * left-to-right scan's while the loop runs on vector max instructions */
static inline __attribute__((always_inline)) float row_max(const float *r, int n) {
    float m[8];
    int jj = 0;
    for (int k = 0; k < 8; k++) m[k] = r[0];
    for (; jj + 8 <= n; jj += 8)
        for (int k = 0; k < 8; k++) m[k] = r[jj + k] > m[k] ? r[jj + k] : m[k];
    for (; jj < n; jj++) m[0] = r[jj] > m[0] ? r[jj] : m[0];
    float mx = m[0];
    for (int k = 1; k < 8; k++) mx = m[k] > mx ? m[k] : mx;
    return mx;
}

/* One row of the causal softmax: exp(s - max) over j <= i, divided by
 * their sum (in double, in column order), and 0 beyond i. */
static inline __attribute__((always_inline)) void softmax_row(float *row, int i, int T) {
    float mx = row_max(row, i + 1);
    double sum = 0.0;
    for (int jj = 0; jj <= i; jj++) row[jj] = ml_fast_expf(row[jj] - mx);
    for (int jj = 0; jj <= i; jj++) sum += row[jj];
    float inv = (float)(1.0 / sum);
    for (int jj = 0; jj <= i; jj++) row[jj] *= inv;
    for (int jj = i + 1; jj < T; jj++) row[jj] = 0.0f;   /* causal: no future */
}

/* The softmax of every row of S (T,T), four rows at a time: the sums of
 * the four run as four chains, each in column order, so the bits are
 * softmax_row's while the latency of the double additions is hidden. */
static inline __attribute__((always_inline)) void causal_softmax(float *S, int T) {
    int i = 0;
    for (; i + 4 <= T; i += 4) {
        float *r0 = S + (long)i * T, *r1 = r0 + T, *r2 = r1 + T, *r3 = r2 + T;
        float *r[4] = { r0, r1, r2, r3 };
        for (int k = 0; k < 4; k++) {
            float mx = row_max(r[k], i + k + 1);
            for (int jj = 0; jj <= i + k; jj++) r[k][jj] = ml_fast_expf(r[k][jj] - mx);
        }
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
        for (int jj = 0; jj <= i; jj++) { s0 += r0[jj]; s1 += r1[jj]; s2 += r2[jj]; s3 += r3[jj]; }
        s1 += r1[i + 1];
        s2 += r2[i + 1]; s2 += r2[i + 2];
        s3 += r3[i + 1]; s3 += r3[i + 2]; s3 += r3[i + 3];
        double sum[4] = { s0, s1, s2, s3 };
        for (int k = 0; k < 4; k++) {
            float inv = (float)(1.0 / sum[k]);
            for (int jj = 0; jj <= i + k; jj++) r[k][jj] *= inv;
            for (int jj = i + k + 1; jj < T; jj++) r[k][jj] = 0.0f;
        }
    }
    for (; i < T; i++) softmax_row(S + (long)i * T, i, T);
}

/* heads lo..hi of the flattened (b, h) range; the softmax loops inline
 * into each ISA variant (kernels/variants.h), so AVX2 runs 8 lanes */
ML_BODY forward_heads_body(void *ctx, long lo, long hi) {
    const attn_job *j = ctx;
    int T = j->T, C = j->C, NH = j->NH, hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    for (long bh = lo; bh < hi; bh++) {
        const float *q = j->qkv + q_offset(j, bh), *k = q + C, *v = q + 2 * C;
        float *S = j->att + bh * T * T;
        float *yo = j->y + y_offset(j, bh);
        /* S = scale * q k^T  (T,T) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, scale, q, C3, k, C3, 0.0f, S, T);
        causal_softmax(S, T);
        /* y_h = P v  (T,hs), written into its head's columns of y */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, S, T, v, C3, 0.0f, yo, C);
    }
}

ML_VARIANTS(forward_heads)

void ml_attention_forward(float *y, float *att, const float *qkv, int B, int T, int C, int NH) {
    attn_job j = { y, att, NULL, NULL, qkv, NULL, NULL, B, T, C, NH };
    ml_par_for((long)B * NH, 1, forward_heads_pick(), &j);
}

/* Softmax backward of one row, in place: d = p (d - sum_j p d) * scale over
 * j <= i (the sum in double, in column order), 0 beyond i. */
static inline __attribute__((always_inline)) void softmax_back_row(float *d, const float *p, int i, int T, float scale, double s) {
    for (int jj = 0; jj <= i; jj++) d[jj] = p[jj] * (d[jj] - (float)s) * scale;
    for (int jj = i + 1; jj < T; jj++) d[jj] = 0.0f;
}

/* dS = P (dP - rowsum(P dP)) * scale for every row, the row sums four at a
 * time as in causal_softmax (the same bits as one row at a time). */
static inline __attribute__((always_inline)) void causal_softmax_backward(float *dS, const float *P, int T, float scale) {
    int i = 0;
    for (; i + 4 <= T; i += 4) {
        const float *p0 = P + (long)i * T, *p1 = p0 + T, *p2 = p1 + T, *p3 = p2 + T;
        float *d0 = dS + (long)i * T, *d1 = d0 + T, *d2 = d1 + T, *d3 = d2 + T;
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
        for (int jj = 0; jj <= i; jj++) {
            s0 += (double)p0[jj] * d0[jj];
            s1 += (double)p1[jj] * d1[jj];
            s2 += (double)p2[jj] * d2[jj];
            s3 += (double)p3[jj] * d3[jj];
        }
        s1 += (double)p1[i + 1] * d1[i + 1];
        s2 += (double)p2[i + 1] * d2[i + 1]; s2 += (double)p2[i + 2] * d2[i + 2];
        s3 += (double)p3[i + 1] * d3[i + 1]; s3 += (double)p3[i + 2] * d3[i + 2]; s3 += (double)p3[i + 3] * d3[i + 3];
        softmax_back_row(d0, p0, i, T, scale, s0);
        softmax_back_row(d1, p1, i + 1, T, scale, s1);
        softmax_back_row(d2, p2, i + 2, T, scale, s2);
        softmax_back_row(d3, p3, i + 3, T, scale, s3);
    }
    for (; i < T; i++) {
        const float *p = P + (long)i * T;
        float *d = dS + (long)i * T;
        double s = 0.0;
        for (int jj = 0; jj <= i; jj++) s += (double)p[jj] * d[jj];
        softmax_back_row(d, p, i, T, scale, s);
    }
}

ML_BODY backward_heads_body(void *ctx, long lo, long hi) {
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
        causal_softmax_backward(dS, P, T, scale);
        /* dq += dS k;  dk += dS^T q */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, dS, T, k, C3, 1.0f, dq, C3);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, dS, T, q, C3, 1.0f, dk, C3);
    }
}
ML_VARIANTS(backward_heads)

void ml_attention_backward(float *dqkv, float *datt, const float *dy, const float *qkv,
                           const float *att, int B, int T, int C, int NH) {
    attn_job j = { NULL, NULL, dqkv, datt, qkv, dy, att, B, T, C, NH };
    ml_par_for((long)B * NH, 1, backward_heads_pick(), &j);
}

/*
 * kernels/attention.c: causal multi-head self-attention on sgemm.
 * q, k and v of head h are read in place from qkv (B,T,3C) with leading
 * dimension 3C, so no head-split copies are made. The full T x T product
 * is computed and the upper triangle then zeroed: simpler than triangular
 * blocking, at most 2x the (small) attention FLOPs.
 */
#include "kernels/fastmath.h"
#include "kernels/layers.h"

#include <cblas.h>
#include <math.h>

void ml_attention_forward(float *y, float *att, const float *qkv, int B, int T, int C, int NH) {
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const float *q = qkv + (long)b * T * C3 + h * hs, *k = q + C, *v = q + 2 * C;
            float *S = att + ((long)b * NH + h) * T * T;
            float *yo = y + (long)b * T * C + h * hs;
            /* S = scale * q k^T  (T,T) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, scale, q, C3, k, C3, 0.0f, S, T);
            for (int i = 0; i < T; i++) {
                float *row = S + (long)i * T, mx = row[0];
                for (int j = 1; j <= i; j++) if (row[j] > mx) mx = row[j];
                double sum = 0.0;
                for (int j = 0; j <= i; j++) row[j] = ml_fast_expf(row[j] - mx);
                for (int j = 0; j <= i; j++) sum += row[j];
                float inv = (float)(1.0 / sum);
                for (int j = 0; j <= i; j++) row[j] *= inv;
                for (int j = i + 1; j < T; j++) row[j] = 0.0f;   /* causal: no future */
            }
            /* y_h = P v  (T,hs), written into its head's columns of y */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, S, T, v, C3, 0.0f, yo, C);
        }
}

void ml_attention_backward(float *dqkv, float *datt, const float *dy, const float *qkv,
                           const float *att, int B, int T, int C, int NH) {
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const float *q = qkv + (long)b * T * C3 + h * hs, *k = q + C, *v = q + 2 * C;
            float *dq = dqkv + (long)b * T * C3 + h * hs, *dk = dq + C, *dv = dq + 2 * C;
            const float *P = att + ((long)b * NH + h) * T * T;
            const float *dyo = dy + (long)b * T * C + h * hs;
            /* dP = dy_h v^T (T,T);  dv += P^T dy_h (T,hs) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1.0f, dyo, C, v, C3, 0.0f, datt, T);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, P, T, dyo, C, 1.0f, dv, C3);
            /* softmax backward, in place: dS = P (dP - rowsum(P dP)) * scale */
            for (int i = 0; i < T; i++) {
                const float *p = P + (long)i * T;
                float *d = datt + (long)i * T;
                double s = 0.0;
                for (int j = 0; j <= i; j++) s += (double)p[j] * d[j];
                for (int j = 0; j <= i; j++) d[j] = p[j] * (d[j] - (float)s) * scale;
                for (int j = i + 1; j < T; j++) d[j] = 0.0f;
            }
            /* dq += dS k;  dk += dS^T q */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, datt, T, k, C3, 1.0f, dq, C3);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, datt, T, q, C3, 1.0f, dk, C3);
        }
}

/*
 * kernels/ref/attention_ref.c: causal attention with plain loops in double,
 * the reference for kernels/attention.c.
 */
#include "kernels/layers.h"

#include <math.h>

void ml_ref_attention_forward(float *y, float *att, const float *qkv, int B, int T, int C, int NH) {
    int hs = C / NH, C3 = 3 * C;
    double scale = 1.0 / sqrt((double)hs);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < T; i++) {
                const float *q = qkv + ((long)b * T + i) * C3 + h * hs;
                float *P = att + (((long)b * NH + h) * T + i) * T;
                double mx = -INFINITY, sum = 0.0, s[T > 0 ? T : 1];
                for (int j = 0; j <= i; j++) {
                    const float *k = qkv + ((long)b * T + j) * C3 + C + h * hs;
                    double d = 0.0;
                    for (int c = 0; c < hs; c++) d += (double)q[c] * k[c];
                    s[j] = d * scale;
                    if (s[j] > mx) mx = s[j];
                }
                for (int j = 0; j <= i; j++) { s[j] = exp(s[j] - mx); sum += s[j]; }
                for (int j = 0; j < T; j++) P[j] = j <= i ? (float)(s[j] / sum) : 0.0f;
                float *yo = y + ((long)b * T + i) * C + h * hs;
                for (int c = 0; c < hs; c++) {
                    double acc = 0.0;
                    for (int j = 0; j <= i; j++) acc += (double)P[j] * qkv[((long)b * T + j) * C3 + 2 * C + h * hs + c];
                    yo[c] = (float)acc;
                }
            }
}

void ml_ref_attention_backward(float *dqkv, const float *dy, const float *qkv, const float *att,
                               int B, int T, int C, int NH) {
    int hs = C / NH, C3 = 3 * C;
    double scale = 1.0 / sqrt((double)hs);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < T; i++) {
                const float *P = att + (((long)b * NH + h) * T + i) * T;
                const float *dyo = dy + ((long)b * T + i) * C + h * hs;
                double dP[T > 0 ? T : 1], s = 0.0;
                for (int j = 0; j <= i; j++) {
                    const float *v = qkv + ((long)b * T + j) * C3 + 2 * C + h * hs;
                    float *dv = dqkv + ((long)b * T + j) * C3 + 2 * C + h * hs;
                    double d = 0.0;
                    for (int c = 0; c < hs; c++) { d += (double)dyo[c] * v[c]; dv[c] += (float)((double)P[j] * dyo[c]); }
                    dP[j] = d;
                    s += P[j] * d;
                }
                const float *q = qkv + ((long)b * T + i) * C3 + h * hs;
                float *dq = dqkv + ((long)b * T + i) * C3 + h * hs;
                for (int j = 0; j <= i; j++) {
                    double dS = P[j] * (dP[j] - s) * scale;
                    const float *k = qkv + ((long)b * T + j) * C3 + C + h * hs;
                    float *dk = dqkv + ((long)b * T + j) * C3 + C + h * hs;
                    for (int c = 0; c < hs; c++) {
                        dq[c] += (float)(dS * k[c]);
                        dk[c] += (float)(dS * q[c]);
                    }
                }
            }
}

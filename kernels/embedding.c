/*
 * kernels/embedding.c: token + learned position embeddings.
 */
#include "kernels/layers.h"

void ml_embedding_forward(float *x, const int32_t *tokens, const float *wte, const float *wpe,
                          int B, int T, int C) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *xo = x + ((long)b * T + t) * C;
            const float *te = wte + (long)tokens[b * T + t] * C, *pe = wpe + (long)t * C;
            for (int c = 0; c < C; c++) xo[c] = te[c] + pe[c];
        }
}

void ml_embedding_backward(float *dwte, float *dwpe, const float *dx, const int32_t *tokens,
                           int B, int T, int C) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *d = dx + ((long)b * T + t) * C;
            float *dte = dwte + (long)tokens[b * T + t] * C, *dpe = dwpe + (long)t * C;
            for (int c = 0; c < C; c++) { dte[c] += d[c]; dpe[c] += d[c]; }
        }
}

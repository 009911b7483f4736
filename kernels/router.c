/*
 * kernels/router.c: the router math of the routed mixtures (see
 * kernels/router.h): top-k softmax and its backward, the router products,
 * and the per-row mixing kernels. Every kernel is split over ROWS with
 * ml_par_for (each row an output, never a reduction across rows), so a
 * row's numbers come from the same operations whatever the thread count.
 * Owns no buffers: callers pass every array.
 */
#include "kernels/router.h"
#include "kernels/gemm.h"
#include "kernels/parallel.h"
#include "kernels/rng.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int ml_router_layout_add(ml_layout *layout, int shared, int l, int E, int I) {
    char name[ML_TENSOR_NAME_MAX];
    int shape[2] = { E, I };
    if (shared) snprintf(name, sizeof(name), "router");
    else snprintf(name, sizeof(name), "router.%d", l);
    return ml_layout_add(layout, name, 2, shape, 1);
}

void ml_router_init_kaiming(float *flat, const ml_layout *layout, uint64_t seed, uint64_t stream) {
    for (int t = 0; t < layout->n; t++) {
        const ml_tensor_info *ti = &layout->tensors[t];
        float bound = (float)(1.0 / sqrt((double)ti->shape[ti->ndim - 1]));
        for (size_t i = 0; i < ti->numel; i++)
            flat[ti->offset + i] = (2.0f * ml_rng_uniform(seed, stream + (uint64_t)t, i) - 1.0f) * bound;
    }
}

float *ml_router_at(const ml_layout *layout, float *flat, int shared, int l) {
    return flat + layout->tensors[shared ? 0 : l].offset;
}

/* ---- top-k softmax ------------------------------------------------------ */

typedef struct {
    float *w;          /* (N,E) */
    const float *z;    /* (N,E) */
    int E, k;
} topk_job;

/* w (E) = softmax over the k largest of z (E) (ties: the lower index), 0
 * elsewhere; in double */
static void topk_softmax_row(float *w, const float *z, int E, int k) {
    unsigned char keep[ML_ROUTER_MAX_EXPERTS];
    memset(keep, k >= E, (size_t)E);
    if (k < E) {
        for (int r = 0; r < k; r++) {
            int best = -1;
            for (int e = 0; e < E; e++)
                if (!keep[e] && (best < 0 || z[e] > z[best])) best = e;
            keep[best] = 1;
        }
    }
    double mx = -INFINITY, s = 0.0;
    for (int e = 0; e < E; e++) if (keep[e] && z[e] > mx) mx = z[e];
    for (int e = 0; e < E; e++) if (keep[e]) s += exp((double)z[e] - mx);
    for (int e = 0; e < E; e++) w[e] = keep[e] ? (float)(exp((double)z[e] - mx) / s) : 0.0f;
}

static void topk_rows(void *ctx, long lo, long hi) {
    const topk_job *j = ctx;
    for (long i = lo; i < hi; i++) topk_softmax_row(j->w + i * j->E, j->z + i * j->E, j->E, j->k);
}

void ml_router_topk_softmax(float *w, const float *z, int N, int E, int k) {
    topk_job tj = { w, z, E, k };
    ml_par_for(N, 64, topk_rows, &tj);
}

void ml_router_forward(float *w, float *z, const float *h, const float *R, int N, int E, int I, int k) {
    ml_gemm_nt(N, E, I, h, R, 0.0f, z);   /* z = h R^T (N,E) */
    ml_router_topk_softmax(w, z, N, E, k);
}

/* ---- backward ----------------------------------------------------------- */

typedef struct {
    float *dz;          /* (N,E) */
    const float *p;     /* (N,E) weights (0 outside the top k) */
    const float *g;     /* (N,E) d loss / d w */
    int E;
} smax_job;

/* dz_j = p_j (g_j - sum_i p_i g_i), the sum in double */
static void softmax_back_rows(void *ctx, long lo, long hi) {
    const smax_job *j = ctx;
    for (long i = lo; i < hi; i++) {
        const float *p = j->p + i * j->E, *g = j->g + i * j->E;
        double s = 0.0;
        for (int e = 0; e < j->E; e++) s += (double)p[e] * g[e];
        for (int e = 0; e < j->E; e++) j->dz[i * j->E + e] = (float)(p[e] * ((double)g[e] - s));
    }
}

void ml_router_softmax_backward(float *dz, const float *p, const float *g, int N, int E) {
    smax_job sj = { dz, p, g, E };
    ml_par_for(N, 64, softmax_back_rows, &sj);
}

void ml_router_backward(float *dz, float *dR, float *dh, const float *R, const float *g, const float *p,
                        const float *h, int N, int E, int I) {
    ml_router_softmax_backward(dz, p, g, N, E);
    ml_gemm_tn(E, I, N, dz, h, 1.0f, dR);              /* dR += dz^T h (E,I) */
    if (dh) ml_gemm_nn(N, I, E, dz, R, 1.0f, dh);      /* dh += dz R (N,I) */
}

/* ---- row mixing kernels ------------------------------------------------- */

typedef struct {
    float *dst;          /* (N,D) mixed or scaled rows, or (N,E) dots */
    const float *src;    /* (N,D) rows to scale or dot; combine: mid (N,D) or NULL */
    const float *w;      /* (N,E) */
    const float *ey;     /* expert outputs, y_e (N,D) at ey + e*stride */
    size_t stride;
    int e, E, D;
} rowop_job;

/* dst[i] = w[i,0] y_0[i] + w[i,1] y_1[i] + ... (expert order), then
 * dst[i] = mid[i] + dst[i] when mid (src) is given */
static void combine_rows(void *ctx, long lo, long hi) {
    const rowop_job *j = ctx;
    int D = j->D, E = j->E;
    for (long i = lo; i < hi; i++) {
        float *o = j->dst + (size_t)i * D;
        const float *w = j->w + (size_t)i * E;
        const float *y0 = j->ey + (size_t)i * D;
        for (int c = 0; c < D; c++) o[c] = w[0] * y0[c];
        for (int e = 1; e < E; e++) {
            const float *ye = j->ey + e * j->stride + (size_t)i * D;
            for (int c = 0; c < D; c++) o[c] += w[e] * ye[c];
        }
        if (j->src) {
            const float *md = j->src + (size_t)i * D;
            for (int c = 0; c < D; c++) o[c] = md[c] + o[c];
        }
    }
}

void ml_router_combine(float *out, const float *mid, const float *ey, size_t stride, const float *w, int N,
                       int E, int D) {
    rowop_job cj = { out, mid, w, ey, stride, 0, E, D };
    ml_par_for(N, 32, combine_rows, &cj);
}

/* dst[i] = w[i,e] src[i] */
static void scale_rows(void *ctx, long lo, long hi) {
    const rowop_job *j = ctx;
    for (long i = lo; i < hi; i++) {
        float a = j->w[(size_t)i * j->E + j->e];
        const float *s = j->src + (size_t)i * j->D;
        float *d = j->dst + (size_t)i * j->D;
        for (int c = 0; c < j->D; c++) d[c] = a * s[c];
    }
}

void ml_router_scale_rows(float *dst, const float *src, const float *w, int e, int N, int E, int D) {
    rowop_job sj = { dst, src, w, NULL, 0, e, E, D };
    ml_par_for(N, 32, scale_rows, &sj);
}

/* dst[i,e] = src[i] . y_e[i], in double */
static void dot_rows(void *ctx, long lo, long hi) {
    const rowop_job *j = ctx;
    for (long i = lo; i < hi; i++) {
        const float *s = j->src + (size_t)i * j->D;
        for (int e = 0; e < j->E; e++) {
            const float *y = j->ey + e * j->stride + (size_t)i * j->D;
            double acc = 0.0;
            for (int c = 0; c < j->D; c++) acc += (double)s[c] * y[c];
            j->dst[(size_t)i * j->E + e] = (float)acc;
        }
    }
}

void ml_router_dot_rows(float *dst, const float *src, const float *ey, size_t stride, int N, int E, int D) {
    rowop_job dj = { dst, src, NULL, ey, stride, 0, E, D };
    ml_par_for(N, 32, dot_rows, &dj);
}

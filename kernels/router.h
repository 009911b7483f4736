/*
 * kernels/router.h: the router math shared by the routed mixtures
 * (kernels/gpt_mix.c, kernels/mlp_mix.c). A router is a bias-free linear
 * map R (E,I) from a layer's input rows h (N,I) to logits z = h R^T (N,E);
 * the mixing weights w (N,E) are a softmax over the top k logits of each
 * row (the others exactly 0), and the layer output mixes the E expert
 * outputs y_e (N,D) row by row with those weights.
 * Dimension letters: N rows (examples or tokens), E experts, I router
 * input width, D expert output width. Expert outputs live in one buffer,
 * expert e at ey + e*stride (stride >= N*D floats).
 * Owns: router layout naming ("router" or "router.<l>", (E,I)), the top-k
 * softmax and its backward, the router's forward/backward products, and the
 * per-row mixing kernels (combine, scale, dot) with their row-split over
 * kernels/parallel.h's workers (never a reduction across rows, so results
 * are bit-identical for any thread count).
 * Not here: the experts themselves, the mixture's buffers and its block
 * structure (gpt_mix.c, mlp_mix.c), ablation flags (the caller decides what
 * it passes), the optimiser (adamw.c).
 */
#ifndef ML_KERNELS_ROUTER_H
#define ML_KERNELS_ROUTER_H

#include "kernels/params.h"

#include <stdint.h>

#include <stddef.h>

/* top_k / E limit of every routine here (keep-masks live on the stack) */
#define ML_ROUTER_MAX_EXPERTS 64

/* Adds router tensor l to layout: "router" (shared, one router for every
 * layer) or "router.<l>", shape (E,I), decayed. Returns 0 or ML_E*. */
int ml_router_layout_add(ml_layout *layout, int shared, int l, int E, int I);
/* Every router tensor (E,I) of layout in flat <- uniform in [-1/sqrt(I),
 * 1/sqrt(I)): PyTorch's default for a bias-free Linear (Kaiming-uniform
 * with a = sqrt(5)), which the paper's code starts its routers from. Tensor
 * t draws from stream + t, element i from counter i (kernels/rng.h). */
void ml_router_init_kaiming(float *flat, const ml_layout *layout, uint64_t seed, uint64_t stream);
/* Router l's (E,I) block of flat (params or grads of that layout); with
 * shared, always the one router (tensor 0). */
float *ml_router_at(const ml_layout *layout, float *flat, int shared, int l);

/* w (N,E) = top-k softmax of each row of z (N,E): the k largest logits
 * (ties: the lower expert index) softmaxed in double, the others exactly
 * 0. 1 <= k <= E <= ML_ROUTER_MAX_EXPERTS (k >= E: dense softmax). */
void ml_router_topk_softmax(float *w, const float *z, int N, int E, int k);
/* Router forward: z (N,E) = h (N,I) R^T with R (E,I), then
 * w (N,E) = ml_router_topk_softmax(z). */
void ml_router_forward(float *w, float *z, const float *h, const float *R, int N, int E, int I, int k);
/* dz (N,E) = p (g - sum_e p_e g_e) per row: the softmax backward over the
 * kept logits, from the weights p (N,E) (0 outside the top k) and
 * g = d loss / d w (N,E). A dropped expert gets 0 (top-k selection is
 * piecewise constant). */
void ml_router_softmax_backward(float *dz, const float *p, const float *g, int N, int E);
/* Router backward: dz (N,E) as above, then dR (E,I) += dz^T h (h (N,I))
 * and, when dh is not NULL, dh (N,I) += dz R (R (E,I)). */
void ml_router_backward(float *dz, float *dR, float *dh, const float *R, const float *g, const float *p,
                        const float *h, int N, int E, int I);

/* out (N,D) = sum_e w[:,e] y_e (summed in expert order: w_0 y_0, then
 * += w_e y_e), then, when mid (N,D) is not NULL, out = mid + out.
 * y_e (N,D) at ey + e*stride; w (N,E). */
void ml_router_combine(float *out, const float *mid, const float *ey, size_t stride, const float *w, int N,
                       int E, int D);
/* dst (N,D) = w[:,e] src (N,D), row i scaled by w[i,e]; w (N,E). */
void ml_router_scale_rows(float *dst, const float *src, const float *w, int e, int N, int E, int D);
/* dst (N,E): dst[i,e] = src[i] . y_e[i] accumulated in double (d loss /
 * d w[i,e] when src = d loss / d out); src (N,D), y_e (N,D) at
 * ey + e*stride. */
void ml_router_dot_rows(float *dst, const float *src, const float *ey, size_t stride, int N, int E, int D);

#endif

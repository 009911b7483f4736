/*
 * kernels/merge.h: weight-space merge methods over flat parameter vectors
 * that share one layout (specialists fine-tuned from one base). One file
 * per method: kernels/merge_<method>.c.
 * Not here: choosing methods or weights (the suite does), evaluation, and
 * computing Fisher diagonals or Gram matrices from data (the model code
 * does; it calls ml_fisher_accumulate/_finish per example).
 *
 * Conventions shared by every method:
 *   - Every model is one float vector of layout->total floats, laid out by
 *     the same ml_layout (kernels/params.h). models[k] for k < nmodels.
 *   - Task vectors: tau_k = models[k] - base, formed in double.
 *   - Arithmetic is in double; each output value is rounded to float once.
 *   - Frozen tensors: a tensor whose values are bitwise identical in every
 *     input (a parameter group the suite froze during fine-tuning) is
 *     copied, so the output is bit-identical there. Methods with a base
 *     (task arithmetic, TIES, DARE) compare every specialist with the base;
 *     the others compare every model with models[0] (which equals the base
 *     on a frozen tensor). ml_merge__frozen() below is the one check.
 *     ml_merge_average has no layout and applies it per value instead.
 *   - out (layout->total) may alias no input. On an argument error nothing
 *     is written. Returns 0 or a negative ML_E*, reason in ml_error_last().
 *   - Non-finite inputs give unspecified (but memory-safe) output, except
 *     where a check is documented.
 *   - lambda (task arithmetic, TIES, DARE) may be any finite number:
 *     negative values are allowed on purpose (task negation, Ilharco et al.
 *     2023); a NaN or infinite lambda is ML_EINVALID.
 */
#ifndef ML_KERNELS_MERGE_H
#define ML_KERNELS_MERGE_H

#include "kernels/params.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The first counter-RNG stream of DARE's drop masks: model k uses stream
 * ML_STREAM_DARE + k, counter = the parameter's index in the flat vector.
 * ("DARE" in ASCII, far from kernels/rng.h's streams.) */
#define ML_STREAM_DARE 0x44415245u

/* Defaults for the eps arguments (C has no default arguments). */
#define ML_MERGE_SLERP_EPS  1e-6   /* SLERP falls back to LERP when |cos omega| > 1 - eps */
#define ML_MERGE_FISHER_EPS 1e-6   /* added to every Fisher value (the "Fisher floor") */

/* ---- 1. linear averaging (merge_average.c) ------------------------------ */

/* models[k] (n) for k < nmodels, weights (nmodels) >= 0 with a positive sum
 * -> out (n) = sum_k w_k models[k] / sum_k w_k. out may alias no input.
 * A value equal (bitwise) in every model is copied. ML_EINVALID on
 * nmodels < 1, a negative weight or a zero sum. */
int ml_merge_average(float *out, const float *const *models, const double *weights, int nmodels, size_t n);

/* ---- 2. SLERP (merge_slerp.c) ------------------------------------------- */

/* Spherical interpolation between models[0] = a and models[1] = b, per
 * tensor: each tensor is one vector, cos omega = <a,b> / (|a| |b|), and
 *   out = sin((1-t) omega)/sin(omega) a + sin(t omega)/sin(omega) b.
 * When |cos omega| > 1 - eps (nearly parallel or anti-parallel, where
 * sin(omega) -> 0) or a tensor of either model is all zero, that tensor is
 * the linear (1-t) a + t b instead. t in [0, 1] (t = 0 gives a, t = 1 gives
 * b, exactly); eps in (0, 1), normally ML_MERGE_SLERP_EPS. All in double.
 * ML_EINVALID: nmodels != 2, t or eps out of range. */
int ml_merge_slerp(float *out, const ml_layout *layout, const float *const *models, int nmodels, double t,
                   double eps);

/* ---- 3. task arithmetic (merge_task_arithmetic.c) ----------------------- */

/* out = base + lambda * sum_k tau_k. ML_EINVALID: nmodels < 1, lambda not
 * finite. */
int ml_merge_task_arithmetic(float *out, const ml_layout *layout, const float *base, const float *const *models,
                             int nmodels, double lambda);

/* ---- 4. TIES (merge_ties.c; Yadav et al. 2023) -------------------------- */

/* Trim, elect sign, disjoint mean:
 *   trim:  per task vector AND PER TENSOR (as mergekit does), keep the
 *          kk = round(density * numel) entries of largest |tau_k| (rounded
 *          half away from zero, and at least 1) and zero the rest. Entries
 *          are ranked by the float |tau_k|; among equal magnitudes the
 *          lower index wins, so exactly kk entries are kept.
 *   elect: s = sign(sum_k trimmed tau_k) per parameter (total mass).
 *   mean:  m = mean of the trimmed tau_k that are non-zero with sign s
 *          (0 when there is none, including when s = 0).
 *   out = base + lambda * m.
 * With density = 1 and no sign conflict, m is the mean of the non-zero
 * tau_k: TIES(lambda) = task arithmetic(lambda / N) where all are non-zero.
 * ML_EINVALID: nmodels < 1, density not in (0, 1], lambda not finite.
 * ML_ENOMEM for the per-tensor scratch (numel floats). */
int ml_merge_ties(float *out, const ml_layout *layout, const float *base, const float *const *models, int nmodels,
                  double density, double lambda);

/* ---- 5. DARE (merge_dare.c; Yu et al. 2024) ----------------------------- */

typedef enum {
    ML_DARE_TASK_ARITHMETIC = 0,   /* then base + lambda * sum_k tau'_k */
    ML_DARE_TIES = 1,              /* then TIES on tau'_k (density = 1: mergekit's dare_ties) */
} ml_dare_combine;

/* Drop And REscale: tau'_k[i] = 0 with probability p, else tau_k[i]/(1-p),
 * where the drop is ml_rng_uniform(seed, ML_STREAM_DARE + k, i) < p and i is
 * the index in the flat vector, so a mask never depends on the other
 * tensors, the other models or the call order. E[tau'] = tau. Then combine
 * as `combine` says. p = 0 gives the combine method's output exactly.
 * density is TIES's trim density and is read only for ML_DARE_TIES.
 * ML_EINVALID: nmodels < 1, p not in [0, 1), unknown combine, density not
 * in (0, 1] (TIES), lambda not finite. */
int ml_merge_dare(float *out, const ml_layout *layout, const float *base, const float *const *models, int nmodels,
                  double p, uint64_t seed, ml_dare_combine combine, double density, double lambda);

/* ---- 6. Fisher-weighted averaging (merge_fisher.c; Matena & Raffel 2022) */

/* fishers[k] (layout->total) is model k's diagonal Fisher. Per parameter
 *   out = sum_k (F_k + eps) theta_k / sum_k (F_k + eps),
 * in double. eps > 0 keeps 0/0 away; where every F_k is ~0 the result is
 * the plain average. Normally eps = ML_MERGE_FISHER_EPS (1e-6, the floor of
 * the authors' code), small next to typical squared gradients.
 * ML_EINVALID: nmodels < 1, eps not finite and > 0, a Fisher value
 * negative or not finite (checked before anything is written). */
int ml_merge_fisher(float *out, const ml_layout *layout, const float *const *models, const float *const *fishers,
                    int nmodels, double eps);

/* F (n) += g^2 element-wise: one example's gradient g (n). The caller zeroes
 * F before the first example. */
void ml_fisher_accumulate(float *F, const float *per_example_grad, size_t n);
/* F (n) /= count, the number of examples accumulated. ML_EINVALID when
 * count < 1 (F untouched). */
int ml_fisher_finish(float *F, size_t n, long count);

/* ---- 7. RegMean (merge_regmean.c; Jin et al. 2023) ---------------------- */

/* A linear layer y = x W^T with W (OC, C) = layout->tensors[tensor], and
 * grams[k] (C, C) = X_k^T X_k, the Gram matrix of the layer's inputs under
 * model k (symmetric, row-major float). */
typedef struct {
    int tensor;
    const float *const *grams;   /* (nmodels) pointers */
} ml_regmean_layer;

/* Per listed layer: G'_k = G_k with its off-diagonal entries times alpha,
 *   W^T = (sum_k G'_k)^{-1} sum_k G'_k W_k^T,
 * solved in double by Cholesky (LAPACK dposv); when the sum is not positive
 * definite, by LU with pivoting (dgesv). Tensors not listed (biases,
 * LayerNorms, embeddings) are the plain average. alpha in (0, 1].
 * ML_EINVALID: nmodels < 1, alpha out of range, a tensor index out of range,
 * not 2-D or listed twice, a NULL Gram matrix. ML_ERUN (layer named) when
 * the sum is singular, or numerically so: LAPACK's reciprocal condition
 * estimate below C * DBL_EPSILON. A frozen layer is copied before any solve,
 * so its Gram matrices may be anything (even all zero). ML_ENOMEM. On
 * ML_ERUN/ML_ENOMEM out is partial. */
int ml_merge_regmean(float *out, const ml_layout *layout, const float *const *models, int nmodels,
                     const ml_regmean_layer *layers, int nlayers, double alpha);

/* ---- internal: shared by the merge_*.c files ---------------------------- */

/* 1 when models[k][off .. off+numel) equals ref[off .. off+numel) bitwise for
 * every k < nmodels: the frozen-tensor check of every method. */
static inline int ml_merge__frozen(const float *ref, const float *const *models, int nmodels, size_t off,
                                   size_t numel) {
    for (int k = 0; k < nmodels; k++)
        if (models[k] != ref && memcmp(models[k] + off, ref + off, numel * sizeof(float)) != 0) return 0;
    return 1;
}

/* DARE's drop-and-rescale applied to task vectors on the fly (active = 0:
 * plain task vectors). */
typedef struct {
    int      active;
    double   p;
    uint64_t seed;
} ml_merge__drop;

/* tau_k at flat index i, in double, after the drop if any. */
double ml_merge__tau(const float *base, const float *model, int k, size_t i, const ml_merge__drop *drop);

/* The unchecked cores (arguments already validated by the public entry). */
void ml_merge__task_arithmetic(float *out, const ml_layout *layout, const float *base, const float *const *models,
                               int nmodels, double lambda, const ml_merge__drop *drop);
int ml_merge__ties(float *out, const ml_layout *layout, const float *base, const float *const *models, int nmodels,
                   double density, double lambda, const ml_merge__drop *drop);

#endif

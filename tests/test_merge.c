/*
 * tests/test_merge.c: the weight-space merge methods (kernels/merge_*.c)
 * against hand computations, naive references and their defining
 * properties (identities between methods, limits, invariances).
 * Owns: the ml_tests_merge table.
 * Not here: the first averaging tests (tests/test_kernels.c).
 * Every comparison goes through ONE checker, ml_t_close_enough(), and each
 * method has a negative test: a deliberately broken variant written here
 * (task arithmetic with the sign flipped, TIES without the disjoint filter,
 * DARE without rescaling, SLERP with swapped weights, Fisher ignoring F,
 * RegMean without the inverse) runs through the same check with the same
 * tolerances and must be rejected, so no check can pass vacuously.
 * Test data comes from the counter RNG with the fixed seed TEST_SEED and a
 * stream per buffer, so every run sees the same numbers.
 */
#include "tests/test.h"
#include "tests/util.h"

#include "core/error.h"
#include "kernels/merge.h"
#include "kernels/params.h"
#include "kernels/rng.h"

#include <stdint.h>
#include <stdlib.h>

#define TEST_SEED 20240917u

/* ---- shared helpers ---------------------------------------------------- */

/* The checker ml_t_close_enough() and the seeded fill (seed TEST_SEED here)
 * live in tests/util.c. */

/* A layout over caller-owned rows whose name, ndim and shape are set:
 * fills numel and offset (no allocation, nothing to free). */
static ml_layout layout_of(ml_tensor_info *t, int n) {
    ml_layout L = { t, n, 0 };
    for (int i = 0; i < n; i++) {
        t[i].numel = 1;
        for (int d = 0; d < t[i].ndim; d++) t[i].numel *= (size_t)t[i].shape[d];
        t[i].offset = L.total;
        L.total += t[i].numel;
    }
    return L;
}

/* the call fails with ML_EINVALID and exactly this message */
#define ASSERT_INVALID(call, msg) do { \
        ML_ASSERT_EQ_INT(ML_EINVALID, (call)); \
        ML_ASSERT_EQ_INT(ML_EINVALID, ml_error_last()->code); \
        ML_ASSERT_MSG(strcmp(ml_error_last()->message, (msg)) == 0, "message \"%s\", want \"%s\"", \
                      ml_error_last()->message, (msg)); } while (0)

static int all_equal_to(const float *a, long n, float v) {
    for (long i = 0; i < n; i++)
        if (memcmp(&a[i], &v, sizeof(float)) != 0) return 0;
    return 1;
}

/* ---- the frozen-tensor check ------------------------------------------- */

static void test_merge__frozen_helper(void) {
    float ref[6] = { 1.0f, 2.0f, 3.0f, 0.0f, 5.0f, 6.0f }, same[6], negz[6], ulp[6];
    memcpy(same, ref, sizeof(ref));
    memcpy(negz, ref, sizeof(ref));
    memcpy(ulp, ref, sizeof(ref));
    negz[3] = -0.0f;                         /* equal as numbers, not as bits */
    ulp[5] = nextafterf(6.0f, 7.0f);
    const float *m_same[2] = { same, same }, *m_negz[2] = { same, negz }, *m_ulp[2] = { same, ulp };
    const float *m_self[1] = { ref };
    ML_ASSERT(ml_merge__frozen(ref, m_same, 2, 0, 6));
    ML_ASSERT(!ml_merge__frozen(ref, m_negz, 2, 0, 6));
    ML_ASSERT(ml_merge__frozen(ref, m_negz, 2, 4, 2));   /* a range without the -0 */
    ML_ASSERT(!ml_merge__frozen(ref, m_ulp, 2, 4, 2));
    ML_ASSERT(ml_merge__frozen(ref, m_ulp, 2, 0, 5));
    ML_ASSERT(ml_merge__frozen(ref, m_self, 1, 0, 6));
    ML_ASSERT(ml_merge__frozen(ref, m_ulp, 2, 5, 0));    /* an empty range is frozen */
}

/* The layout of the frozen test: two trained tensors, two frozen ones. */
#define FZ_MODELS 3
enum { FZ_W, FZ_FW, FZ_B, FZ_FB, FZ_N };

static void frozen_setup(ml_tensor_info *t, ml_layout *L, float *base, float (*m)[64], float (*F)[64],
                         float (*G)[16]) {
    static const char *const names[FZ_N] = { "w", "frozen_w", "b", "frozen_b" };
    static const int shapes[FZ_N][2] = { { 3, 4 }, { 2, 4 }, { 3, 0 }, { 4, 0 } };
    for (int i = 0; i < FZ_N; i++) {
        memset(&t[i], 0, sizeof(t[i]));
        snprintf(t[i].name, sizeof(t[i].name), "%s", names[i]);
        t[i].ndim = shapes[i][1] ? 2 : 1;
        t[i].shape[0] = shapes[i][0];
        t[i].shape[1] = shapes[i][1];
    }
    *L = layout_of(t, FZ_N);
    ml_t_fill_uniform(base, (long)L->total, TEST_SEED, 100, -1.0f, 1.0f);
    for (int k = 0; k < FZ_MODELS; k++) {
        ml_t_fill_uniform(m[k], (long)L->total, TEST_SEED, 101 + (uint64_t)k, -0.5f, 0.5f);
        for (size_t i = 0; i < L->total; i++) m[k][i] += base[i];
        for (int f = FZ_FW; f <= FZ_FB; f += 2)   /* frozen: the base's values, bit for bit */
            memcpy(m[k] + t[f].offset, base + t[f].offset, t[f].numel * sizeof(float));
        ml_t_fill_uniform(F[k], (long)L->total, TEST_SEED, 110 + (uint64_t)k, 0.0f, 2.0f);
        /* a positive definite Gram matrix (4,4) per model: I + v v^T */
        float v[4];
        ml_t_fill_uniform(v, 4, TEST_SEED, 120 + (uint64_t)k, -1.0f, 1.0f);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) G[k][i * 4 + j] = v[i] * v[j] + (i == j ? 1.0f : 0.0f);
    }
}

/* frozen tensors bit-identical to the base; trained ones actually merged */
static int frozen_ok(const float *out, const float *base, const ml_tensor_info *t, const char **why) {
    for (int f = FZ_FW; f <= FZ_FB; f += 2)
        if (memcmp(out + t[f].offset, base + t[f].offset, t[f].numel * sizeof(float)) != 0) {
            *why = t[f].name;
            return 0;
        }
    if (memcmp(out + t[FZ_W].offset, base + t[FZ_W].offset, t[FZ_W].numel * sizeof(float)) == 0) {
        *why = "w (not merged at all)";
        return 0;
    }
    return 1;
}

static void test_merge__frozen_tensors_copied_by_every_method(void) {
    ml_tensor_info t[FZ_N];
    ml_layout L;
    static float base[64], m[FZ_MODELS][64], F[FZ_MODELS][64], G[FZ_MODELS][16], out[64];
    const char *why = "";
    frozen_setup(t, &L, base, m, F, G);
    const float *models[FZ_MODELS] = { m[0], m[1], m[2] }, *fishers[FZ_MODELS] = { F[0], F[1], F[2] };
    static const float Z[16] = { 0 };
    const float *grams[FZ_MODELS] = { G[0], G[1], G[2] }, *zeros[FZ_MODELS] = { Z, Z, Z };
    /* the frozen layer's Gram matrices are all zero (its inputs were never
     * recorded): solving would be ML_ERUN, so RegMean passes only when the
     * frozen check comes first, and the rounding of a solve cannot hide
     * a missing check */
    const ml_regmean_layer layers[2] = { { FZ_W, grams }, { FZ_FW, zeros } };
    const double w[FZ_MODELS] = { 0.2, 0.5, 0.3 };
    static const char *const method[] = { "average", "slerp", "task_arithmetic", "ties", "dare+ta", "dare+ties",
                                          "fisher", "regmean" };
    for (int which = 0; which < 8; which++) {
        int rc = -100;
        for (size_t i = 0; i < L.total; i++) out[i] = NAN;
        switch (which) {
        case 0: rc = ml_merge_average(out, models, w, FZ_MODELS, L.total); break;
        case 1: rc = ml_merge_slerp(out, &L, models, 2, 0.3, ML_MERGE_SLERP_EPS); break;
        case 2: rc = ml_merge_task_arithmetic(out, &L, base, models, FZ_MODELS, 0.7); break;
        case 3: rc = ml_merge_ties(out, &L, base, models, FZ_MODELS, 0.5, 1.0); break;
        case 4: rc = ml_merge_dare(out, &L, base, models, FZ_MODELS, 0.5, 3, ML_DARE_TASK_ARITHMETIC, 1.0, 1.0); break;
        case 5: rc = ml_merge_dare(out, &L, base, models, FZ_MODELS, 0.5, 3, ML_DARE_TIES, 0.5, 1.0); break;
        case 6: rc = ml_merge_fisher(out, &L, models, fishers, FZ_MODELS, ML_MERGE_FISHER_EPS); break;
        case 7: rc = ml_merge_regmean(out, &L, models, FZ_MODELS, layers, 2, 0.9); break;
        }
        ML_ASSERT_MSG(rc == 0, "%s failed: %d %s", method[which], rc, ml_error_last()->message);
        ML_ASSERT_MSG(frozen_ok(out, base, t, &why), "%s: tensor %s is not bit-identical to the base", method[which],
                      why);
    }
}

/* ---- averaging --------------------------------------------------------- */

static void test_merge__average_identical_models_exact(void) {
    enum { N = 513 };
    static float a[N], out[N];
    const float *models[4] = { a, a, a, a };
    const double w[4] = { 0.1, 0.2, 0.3, 0.4 };
    ml_t_fill_uniform(a, N, TEST_SEED, 1, -3.0f, 3.0f);
    ML_ASSERT_EQ_INT(0, ml_merge_average(out, models, w, 4, N));
    ML_ASSERT_MSG(memcmp(out, a, sizeof(a)) == 0, "average of 4 identical models is not the model");
}

/* ---- the hand case of task arithmetic, TIES and DARE -------------------
 * One tensor of 4, three specialists; every value exact in float:
 *   base    1    -1     0.5    2
 *   tau_A   0.5  -2     1      0.25
 *   tau_B  -1     1     0.5    3
 *   tau_C   2     0.25 -0.5   -0.75
 * Task arithmetic, sum tau = (1.5, -0.75, 1, 2.5):
 *   lambda 0.5 -> (1.75, -1.375, 1, 3.25);  lambda -1 -> (-0.5, -0.25, -0.5, -0.5).
 * TIES, density 0.5 (keep 2 of 4 per model), lambda 0.5:
 *   trim A: |.| = .5 2 1 .25          -> (0, -2, 1, 0)
 *   trim B: |.| = 1 1 .5 3, 3 then the tie 1 = 1 goes to the lower index
 *                                      -> (-1, 0, 0, 3)
 *   trim C: |.| = 2 .25 .5 .75        -> (2, 0, 0, -0.75)
 *   mass (1, -2, 1, 2.25) -> signs (+, -, +, +)
 *   disjoint mean (2, -2, 1, 3) -> out (2, -2, 1, 3.5)
 *   without the disjoint filter (mean of the non-zero): (0.5, -2, 1, 1.125)
 *   -> (1.25, -2, 1, 2.5625), wrong in entries 0 and 3. */
static const float H_BASE[4] = { 1.0f, -1.0f, 0.5f, 2.0f };
static const float H_A[4] = { 1.5f, -3.0f, 1.5f, 2.25f };
static const float H_B[4] = { 0.0f, 0.0f, 1.0f, 5.0f };
static const float H_C[4] = { 3.0f, -0.75f, 0.0f, 1.25f };

static ml_layout hand_layout(ml_tensor_info *t) {
    memset(t, 0, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "h");
    t->ndim = 1;
    t->shape[0] = 4;
    return layout_of(t, 1);
}

/* ---- task arithmetic --------------------------------------------------- */

typedef int (*ta_fn)(float *, const ml_layout *, const float *, const float *const *, int, double);

/* broken on purpose: subtracts the task vectors */
static int ta_sign_flipped(float *out, const ml_layout *L, const float *base, const float *const *models, int nmodels,
                           double lambda) {
    for (size_t i = 0; i < L->total; i++) {
        double sum = 0.0;
        for (int k = 0; k < nmodels; k++) sum += (double)models[k][i] - (double)base[i];
        out[i] = (float)((double)base[i] - lambda * sum);
    }
    return 0;
}

static int ta_hand_ok(ta_fn f, double lambda, const float *want, double *md) {
    ml_tensor_info t;
    ml_layout L = hand_layout(&t);
    const float *models[3] = { H_A, H_B, H_C };
    float out[4];
    *md = NAN;
    if (f(out, &L, H_BASE, models, 3, lambda) != 0) return 0;
    return ml_t_close_enough(out, want, 4, 1e-7, 1e-7, md);
}

static void test_merge__task_arithmetic_hand(void) {
    static const float want_half[4] = { 1.75f, -1.375f, 1.0f, 3.25f };
    static const float want_neg[4] = { -0.5f, -0.25f, -0.5f, -0.5f };   /* negative lambda: allowed */
    double md = 0.0;
    ML_ASSERT_MSG(ta_hand_ok(ml_merge_task_arithmetic, 0.5, want_half, &md), "lambda 0.5: max diff %.3g", md);
    ML_ASSERT_MSG(ta_hand_ok(ml_merge_task_arithmetic, -1.0, want_neg, &md), "lambda -1: max diff %.3g", md);
}

static void test_merge__task_arithmetic_checker_rejects_sign_flip(void) {
    static const float want_half[4] = { 1.75f, -1.375f, 1.0f, 3.25f };
    double md = 0.0;
    ML_ASSERT_MSG(!ta_hand_ok(ta_sign_flipped, 0.5, want_half, &md), "a sign-flipped merge passed (max diff %.3g)",
                  md);
}

/* A random case: tensors (8,8), (5), (3,7); base in [-1,1), specialists
 * base + [-0.5,0.5). */
#define RN 90
static ml_layout random_layout(ml_tensor_info *t) {
    static const int shapes[3][2] = { { 8, 8 }, { 5, 0 }, { 3, 7 } };
    for (int i = 0; i < 3; i++) {
        memset(&t[i], 0, sizeof(t[i]));
        snprintf(t[i].name, sizeof(t[i].name), "t%d", i);
        t[i].ndim = shapes[i][1] ? 2 : 1;
        t[i].shape[0] = shapes[i][0];
        t[i].shape[1] = shapes[i][1];
    }
    return layout_of(t, 3);
}

static void random_models(float *base, float (*m)[RN], int nmodels, uint64_t stream) {
    ml_t_fill_uniform(base, RN, TEST_SEED, stream, -1.0f, 1.0f);
    for (int k = 0; k < nmodels; k++) {
        ml_t_fill_uniform(m[k], RN, TEST_SEED, stream + 1 + (uint64_t)k, -0.5f, 0.5f);
        for (int i = 0; i < RN; i++) m[k][i] += base[i];
    }
}

static void test_merge__task_arithmetic_lambda0_is_base(void) {
    ml_tensor_info t[3];
    ml_layout L = random_layout(t);
    static float base[RN], m[3][RN], out[RN];
    const float *models[3] = { m[0], m[1], m[2] };
    random_models(base, m, 3, 200);
    ML_ASSERT_EQ_INT(0, ml_merge_task_arithmetic(out, &L, base, models, 3, 0.0));
    ML_ASSERT_MSG(memcmp(out, base, sizeof(base)) == 0, "lambda 0 did not return the base bit for bit");
}

/* ---- TIES -------------------------------------------------------------- */

typedef int (*ties_fn)(float *, const ml_layout *, const float *, const float *const *, int, double, double);

#define TN_MAX 128
#define TM_MAX 4

/* The naive TIES of the definition: rank of entry j = number of entries
 * with a larger float |tau|, or an equal one at a lower index; kept when
 * rank < round(density n) (at least 1). disjoint = 0 breaks it on purpose:
 * the mean then runs over every non-zero trimmed entry, whatever its sign.
 * p >= 0 applies DARE's drop first, keyed as merge.h documents. */
static int ties_naive(float *out, const ml_layout *L, const float *base, const float *const *models, int nmodels,
                      double density, double lambda, int disjoint, double p, uint64_t seed) {
    static double tau[TM_MAX][TN_MAX], tr[TM_MAX][TN_MAX];
    if (nmodels > TM_MAX) return ML_EINVALID;
    for (int ti = 0; ti < L->n; ti++) {
        const ml_tensor_info *T = &L->tensors[ti];
        size_t off = T->offset, n = T->numel;
        int frozen = 1;
        if (n > TN_MAX) return ML_EINVALID;
        for (int k = 0; k < nmodels; k++)
            for (size_t j = 0; j < n; j++) {
                if (memcmp(&models[k][off + j], &base[off + j], sizeof(float)) != 0) frozen = 0;
                tau[k][j] = (double)models[k][off + j] - (double)base[off + j];
                if (p >= 0.0) {
                    int drop = ml_rng_uniform(seed, ML_STREAM_DARE + (uint64_t)k, off + j) < p;
                    tau[k][j] = drop ? 0.0 : tau[k][j] / (1.0 - p);
                }
            }
        if (frozen) {
            memcpy(out + off, base + off, n * sizeof(float));
            continue;
        }
        double want = floor(density * (double)n + 0.5);
        size_t keep = want < 1.0 ? 1 : (size_t)want;
        for (int k = 0; k < nmodels; k++)
            for (size_t j = 0; j < n; j++) {
                float kj = (float)fabs(tau[k][j]);
                size_t rank = 0;
                for (size_t o = 0; o < n; o++) {
                    float ko = (float)fabs(tau[k][o]);
                    rank += ko > kj || (ko == kj && o < j);
                }
                tr[k][j] = rank < keep ? tau[k][j] : 0.0;
            }
        for (size_t j = 0; j < n; j++) {
            double mass = 0.0, sum = 0.0;
            int count = 0;
            for (int k = 0; k < nmodels; k++) mass += tr[k][j];
            for (int k = 0; k < nmodels; k++) {
                int agree = disjoint ? (mass > 0 && tr[k][j] > 0) || (mass < 0 && tr[k][j] < 0) : tr[k][j] != 0.0;
                if (agree) { sum += tr[k][j]; count++; }
            }
            out[off + j] = (float)((double)base[off + j] + lambda * (count ? sum / count : 0.0));
        }
    }
    return 0;
}

static int ties_reference(float *out, const ml_layout *L, const float *base, const float *const *models, int nmodels,
                          double density, double lambda) {
    return ties_naive(out, L, base, models, nmodels, density, lambda, 1, -1.0, 0);
}

static int ties_no_disjoint(float *out, const ml_layout *L, const float *base, const float *const *models,
                            int nmodels, double density, double lambda) {
    return ties_naive(out, L, base, models, nmodels, density, lambda, 0, -1.0, 0);
}

static int ties_hand_ok(ties_fn f, double *md) {
    static const float want[4] = { 2.0f, -2.0f, 1.0f, 3.5f };
    ml_tensor_info t;
    ml_layout L = hand_layout(&t);
    const float *models[3] = { H_A, H_B, H_C };
    float out[4];
    *md = NAN;
    if (f(out, &L, H_BASE, models, 3, 0.5, 0.5) != 0) return 0;
    return ml_t_close_enough(out, want, 4, 1e-7, 1e-7, md);
}

static void test_merge__ties_hand_trim_and_sign_conflict(void) {
    double md = 0.0;
    ML_ASSERT_MSG(ties_hand_ok(ml_merge_ties, &md), "ml_merge_ties: max diff %.3g", md);
    ML_ASSERT_MSG(ties_hand_ok(ties_reference, &md), "the naive reference itself: max diff %.3g", md);
}

static void test_merge__ties_checker_rejects_no_disjoint_filter(void) {
    double md = 0.0;
    ML_ASSERT_MSG(!ties_hand_ok(ties_no_disjoint, &md), "TIES without the disjoint filter passed (max diff %.3g)", md);
}

/* One model, base 0, tau = (1, -2, 2, -2, 0.5): ranked 2,2,2 (indices 1,2,3
 * tie), 1, 0.5. Exactly round(density*5) entries survive, ties to the lower
 * index; round(0.05) = 0 is raised to 1. */
static void test_merge__ties_keeps_round_density_n_lowest_index_first(void) {
    static const float zero[5] = { 0 }, tau[5] = { 1.0f, -2.0f, 2.0f, -2.0f, 0.5f };
    static const struct { double density; float want[5]; } cases[] = {
        { 0.4, { 0.0f, -2.0f, 2.0f, 0.0f, 0.0f } },    /* 2 */
        { 0.5, { 0.0f, -2.0f, 2.0f, -2.0f, 0.0f } },   /* 2.5 -> 3 */
        { 0.7, { 1.0f, -2.0f, 2.0f, -2.0f, 0.0f } },   /* 3.5 -> 4 */
        { 0.01, { 0.0f, -2.0f, 0.0f, 0.0f, 0.0f } },   /* 0.05 -> 0 -> 1 */
        { 1.0, { 1.0f, -2.0f, 2.0f, -2.0f, 0.5f } },
    };
    ml_tensor_info t = { .name = "v", .ndim = 1, .shape = { 5 } };
    ml_layout L = layout_of(&t, 1);
    const float *models[1] = { tau };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        float out[5];
        double md = 0.0;
        ML_ASSERT_EQ_INT(0, ml_merge_ties(out, &L, zero, models, 1, cases[c].density, 1.0));
        ML_ASSERT_MSG(ml_t_close_enough(out, cases[c].want, 5, 0.0, 0.0, &md), "density %g: max diff %.3g",
                      cases[c].density, md);
    }
}

/* base in multiples of 1/8 and task vectors in multiples of 1/4 in [-1, 1]:
 * exact in float, many exact ties and zeros */
static void quantised_models(float *base, float (*m)[RN], int nmodels) {
    for (int i = 0; i < RN; i++) base[i] = 0.125f * (float)((int)ml_rng_below(TEST_SEED, 300, (uint64_t)i, 33) - 16);
    for (int k = 0; k < nmodels; k++)
        for (int i = 0; i < RN; i++)
            m[k][i] = base[i] + 0.25f * (float)((int)ml_rng_below(TEST_SEED, 301 + (uint64_t)k, (uint64_t)i, 9) - 4);
}

static void test_merge__ties_matches_naive_reference(void) {
    static const double densities[] = { 0.05, 0.3, 0.5, 0.77, 1.0 };
    ml_tensor_info t[3];
    ml_layout L = random_layout(t);
    static float base[RN], m[3][RN], out[RN], ref[RN];
    const float *models[3] = { m[0], m[1], m[2] };
    quantised_models(base, m, 3);
    for (size_t d = 0; d < sizeof(densities) / sizeof(densities[0]); d++) {
        double md = 0.0;
        ML_ASSERT_EQ_INT(0, ml_merge_ties(out, &L, base, models, 3, densities[d], 0.9));
        ML_ASSERT_EQ_INT(0, ties_reference(ref, &L, base, models, 3, densities[d], 0.9));
        ML_ASSERT_MSG(ml_t_close_enough(out, ref, RN, 1e-6, 1e-6, &md), "density %g: max diff %.3g", densities[d], md);
    }
}

/* density 1 and no sign conflict: the disjoint mean is the mean of the
 * (non-zero) task vectors, so TIES(lambda) = task arithmetic(lambda / N);
 * for N = 1 the two do the very same arithmetic. */
static void test_merge__ties_density1_no_conflict_is_task_arithmetic(void) {
    ml_tensor_info t[3];
    ml_layout L = random_layout(t);
    static float base[RN], m[3][RN], out[RN], ref[RN], mag[3][RN];
    const float *models[3] = { m[0], m[1], m[2] };
    double md = 0.0;
    random_models(base, m, 1, 400);
    ML_ASSERT_EQ_INT(0, ml_merge_ties(out, &L, base, models, 1, 1.0, 0.7));
    ML_ASSERT_EQ_INT(0, ml_merge_task_arithmetic(ref, &L, base, models, 1, 0.7));
    ML_ASSERT_MSG(memcmp(out, ref, sizeof(out)) == 0, "N = 1: TIES(density 1) is not task arithmetic bit for bit");
    /* N = 3: every parameter's task vectors share one sign and are non-zero */
    for (int k = 0; k < 3; k++) ml_t_fill_uniform(mag[k], RN, TEST_SEED, 410 + (uint64_t)k, 0.1f, 0.6f);
    for (int i = 0; i < RN; i++) {
        float s = ml_rng_uniform(TEST_SEED, 409, (uint64_t)i) < 0.5f ? -1.0f : 1.0f;
        for (int k = 0; k < 3; k++) m[k][i] = base[i] + s * mag[k][i];
    }
    ML_ASSERT_EQ_INT(0, ml_merge_ties(out, &L, base, models, 3, 1.0, 0.9));
    ML_ASSERT_EQ_INT(0, ml_merge_task_arithmetic(ref, &L, base, models, 3, 0.3));
    ML_ASSERT_MSG(ml_t_close_enough(out, ref, RN, 1e-6, 1e-6, &md), "N = 3: TIES(0.9) vs TA(0.3): max diff %.3g", md);
}

/* ---- DARE -------------------------------------------------------------- */

static void test_merge__dare_p0_is_its_base_method_exactly(void) {
    ml_tensor_info t[3];
    ml_layout L = random_layout(t);
    static float base[RN], m[3][RN], out[RN], ref[RN];
    const float *models[3] = { m[0], m[1], m[2] };
    random_models(base, m, 3, 500);
    for (uint64_t seed = 1; seed <= 12345; seed += 12344) {
        ML_ASSERT_EQ_INT(0, ml_merge_dare(out, &L, base, models, 3, 0.0, seed, ML_DARE_TASK_ARITHMETIC, 1.0, 0.8));
        ML_ASSERT_EQ_INT(0, ml_merge_task_arithmetic(ref, &L, base, models, 3, 0.8));
        ML_ASSERT_MSG(memcmp(out, ref, sizeof(out)) == 0, "DARE p=0 (seed %lu) is not task arithmetic",
                      (unsigned long)seed);
        ML_ASSERT_EQ_INT(0, ml_merge_dare(out, &L, base, models, 3, 0.0, seed, ML_DARE_TIES, 0.4, 0.8));
        ML_ASSERT_EQ_INT(0, ml_merge_ties(ref, &L, base, models, 3, 0.4, 0.8));
        ML_ASSERT_MSG(memcmp(out, ref, sizeof(out)) == 0, "DARE p=0 (seed %lu) is not TIES", (unsigned long)seed);
    }
}

/* The drop keying of merge.h, recomputed here: model k, flat index i. */
static void test_merge__dare_matches_keyed_reference(void) {
    ml_tensor_info t[3];
    ml_layout L = random_layout(t);
    static float base[RN], m[3][RN], out[RN], ref[RN];
    const float *models[3] = { m[0], m[1], m[2] };
    const double p = 0.3, lambda = 0.8;
    const uint64_t seed = 99;
    double md = 0.0;
    random_models(base, m, 3, 600);
    for (int i = 0; i < RN; i++) {
        double sum = 0.0;
        for (int k = 0; k < 3; k++)
            if (!(ml_rng_uniform(seed, ML_STREAM_DARE + (uint64_t)k, (uint64_t)i) < p))
                sum += ((double)m[k][i] - (double)base[i]) / (1.0 - p);
        ref[i] = (float)((double)base[i] + lambda * sum);
    }
    ML_ASSERT_EQ_INT(0, ml_merge_dare(out, &L, base, models, 3, p, seed, ML_DARE_TASK_ARITHMETIC, 1.0, lambda));
    ML_ASSERT_MSG(ml_t_close_enough(out, ref, RN, 1e-6, 1e-6, &md), "DARE+TA vs keyed reference: max diff %.3g", md);
    /* DARE+TIES: the same drop, then the naive TIES (many ties: quantised data) */
    quantised_models(base, m, 3);
    ML_ASSERT_EQ_INT(0, ml_merge_dare(out, &L, base, models, 3, p, seed, ML_DARE_TIES, 0.5, lambda));
    ML_ASSERT_EQ_INT(0, ties_naive(ref, &L, base, models, 3, 0.5, lambda, 1, p, seed));
    ML_ASSERT_MSG(ml_t_close_enough(out, ref, RN, 1e-6, 1e-6, &md), "DARE+TIES vs naive reference: max diff %.3g", md);
    ML_ASSERT_EQ_INT(0, ml_merge_dare(ref, &L, base, models, 3, p, seed + 1, ML_DARE_TIES, 0.5, lambda));
    ML_ASSERT_MSG(memcmp(out, ref, sizeof(out)) != 0, "seeds 99 and 100 gave the same DARE merge");
}

/* One model with tau = 1 everywhere, alone in slot 0 or 1 next to a copy of
 * the base: out is 0 (dropped) or 1/(1-p) (kept, exactly as float). Drop
 * rates within 5 sigma of p, and the two slots' masks independent (both
 * dropped within 5 sigma of p^2). */
static void test_merge__dare_drop_rate_and_independent_masks(void) {
    enum { N = 20000 };
    static float zero[N], one[N], out0[N], out1[N];
    ml_tensor_info t = { .name = "v", .ndim = 1, .shape = { N } };
    ml_layout L = layout_of(&t, 1);
    const double p = 0.3;
    const float kept = (float)(1.0 / (1.0 - p));
    for (int i = 0; i < N; i++) one[i] = 1.0f;
    const float *slot0[2] = { one, zero }, *slot1[2] = { zero, one };
    ML_ASSERT_EQ_INT(0, ml_merge_dare(out0, &L, zero, slot0, 2, p, 7, ML_DARE_TASK_ARITHMETIC, 1.0, 1.0));
    ML_ASSERT_EQ_INT(0, ml_merge_dare(out1, &L, zero, slot1, 2, p, 7, ML_DARE_TASK_ARITHMETIC, 1.0, 1.0));
    long d0 = 0, d1 = 0, both = 0;
    for (int i = 0; i < N; i++) {
        ML_ASSERT_MSG((out0[i] == 0.0f || out0[i] == kept) && (out1[i] == 0.0f || out1[i] == kept),
                      "entry %d: %.9g / %.9g is neither dropped nor tau/(1-p)", i, out0[i], out1[i]);
        d0 += out0[i] == 0.0f;
        d1 += out1[i] == 0.0f;
        both += out0[i] == 0.0f && out1[i] == 0.0f;
    }
    double s1 = 5.0 * sqrt(p * (1 - p) / N), s2 = 5.0 * sqrt(p * p * (1 - p * p) / N);
    ML_ASSERT_MSG(fabs((double)d0 / N - p) <= s1, "slot 0 dropped %.4f, want %g +- %.4f", (double)d0 / N, p, s1);
    ML_ASSERT_MSG(fabs((double)d1 / N - p) <= s1, "slot 1 dropped %.4f, want %g +- %.4f", (double)d1 / N, p, s1);
    ML_ASSERT_MSG(fabs((double)both / N - p * p) <= s2, "both dropped %.4f, want %g +- %.4f", (double)both / N,
                  p * p, s2);
}

typedef int (*dare_fn)(float *, const ml_layout *, const float *, const float *const *, int, double, uint64_t,
                       ml_dare_combine, double, double);

/* broken on purpose: drops like DARE but forgets the 1/(1-p) */
static int dare_no_rescale(float *out, const ml_layout *L, const float *base, const float *const *models, int nmodels,
                           double p, uint64_t seed, ml_dare_combine combine, double density, double lambda) {
    for (size_t i = 0; i < L->total; i++) {
        double sum = 0.0;
        for (int k = 0; k < nmodels; k++)
            if (!(ml_rng_uniform(seed, ML_STREAM_DARE + (uint64_t)k, i) < p))
                sum += (double)models[k][i] - (double)base[i];
        out[i] = (float)((double)base[i] + lambda * sum);
    }
    return 0;
}

/* The mean of DARE+TA over S seeds against task arithmetic. The rescaling
 * makes each tau'_k unbiased with variance tau_k^2 p/(1-p); here N = 2,
 * tau in [0.5, 1), p = 0.5, lambda = 1, so one merge's sd per parameter is
 * at most sqrt(2 * 1) and the mean's at most 1.414/sqrt(S) = 0.0224 for
 * S = 4000: DARE_MEAN_ATOL is 5 of those. Without the rescaling the mean is
 * off by p * sum tau >= 0.5, far outside. */
#define DARE_S 4000
#define DARE_MEAN_ATOL 0.112
static int dare_mean_ok(dare_fn f, double *md) {
    enum { N = 64 };
    static float base[N], a[N], b[N], out[N], ref[N], mean[N];
    static double acc[N];
    ml_tensor_info t = { .name = "v", .ndim = 1, .shape = { N } };
    ml_layout L = layout_of(&t, 1);
    const float *models[2] = { a, b };
    ml_t_fill_uniform(base, N, TEST_SEED, 700, -1.0f, 1.0f);
    ml_t_fill_uniform(a, N, TEST_SEED, 701, 0.5f, 1.0f);
    ml_t_fill_uniform(b, N, TEST_SEED, 702, 0.5f, 1.0f);
    for (int i = 0; i < N; i++) { a[i] += base[i]; b[i] += base[i]; acc[i] = 0.0; }
    *md = NAN;
    if (ml_merge_task_arithmetic(ref, &L, base, models, 2, 1.0) != 0) return 0;
    for (uint64_t s = 0; s < DARE_S; s++) {
        if (f(out, &L, base, models, 2, 0.5, 1000 + s, ML_DARE_TASK_ARITHMETIC, 1.0, 1.0) != 0) return 0;
        for (int i = 0; i < N; i++) acc[i] += out[i];
    }
    for (int i = 0; i < N; i++) mean[i] = (float)(acc[i] / DARE_S);
    return ml_t_close_enough(mean, ref, N, DARE_MEAN_ATOL, 0.0, md);
}

static void test_merge__dare_mean_over_seeds_is_task_arithmetic(void) {
    double md = 0.0;
    ML_ASSERT_MSG(dare_mean_ok(ml_merge_dare, &md), "mean of %d DARE merges: max diff %.3g > %g", DARE_S, md,
                  DARE_MEAN_ATOL);
}

static void test_merge__dare_checker_rejects_no_rescale(void) {
    double md = 0.0;
    ML_ASSERT_MSG(!dare_mean_ok(dare_no_rescale, &md), "DARE without rescaling passed (max diff %.3g)", md);
}

/* ---- SLERP ------------------------------------------------------------- */

typedef int (*slerp_fn)(float *, const ml_layout *, const float *const *, int, double, double);

/* broken on purpose: the two weights swapped */
static int slerp_swapped(float *out, const ml_layout *L, const float *const *models, int nmodels, double t,
                         double eps) {
    for (int ti = 0; ti < L->n; ti++) {
        const ml_tensor_info *T = &L->tensors[ti];
        const float *a = models[0] + T->offset, *b = models[1] + T->offset;
        double dot = 0, na = 0, nb = 0;
        for (size_t i = 0; i < T->numel; i++) { dot += a[i] * (double)b[i]; na += a[i] * (double)a[i]; nb += b[i] * (double)b[i]; }
        double c = dot / sqrt(na * nb), om = acos(c > 1 ? 1 : c < -1 ? -1 : c);
        double wa = sin(t * om) / sin(om), wb = sin((1 - t) * om) / sin(om);
        for (size_t i = 0; i < T->numel; i++) out[T->offset + i] = (float)(wa * a[i] + wb * b[i]);
    }
    return 0;
}

/* Two tensors of 2 with different angles, so a whole-vector SLERP fails:
 *   p: a = (1,0), b = (0,1), omega = pi/2: out = (cos(t pi/2), sin(t pi/2))
 *   q: a = (1,0), b = (1,1), omega = pi/4: out = wa a + wb b with
 *      wa = sin((1-t) pi/4)/sin(pi/4), wb = sin(t pi/4)/sin(pi/4). */
static int slerp_hand_ok(slerp_fn f, double t, double *md) {
    static const float a[4] = { 1.0f, 0.0f, 1.0f, 0.0f }, b[4] = { 0.0f, 1.0f, 1.0f, 1.0f };
    ml_tensor_info ti[2] = { { .name = "p", .ndim = 1, .shape = { 2 } }, { .name = "q", .ndim = 1, .shape = { 2 } } };
    ml_layout L = layout_of(ti, 2);
    const float *models[2] = { a, b };
    double wa = sin((1 - t) * M_PI / 4) / sin(M_PI / 4), wb = sin(t * M_PI / 4) / sin(M_PI / 4);
    float want[4] = { (float)cos(t * M_PI / 2), (float)sin(t * M_PI / 2), (float)(wa + wb), (float)wb }, out[4];
    *md = NAN;
    if (f(out, &L, models, 2, t, ML_MERGE_SLERP_EPS) != 0) return 0;
    return ml_t_close_enough(out, want, 4, 1e-6, 1e-6, md);
}

static void test_merge__slerp_hand_2d(void) {
    static const double ts[] = { 0.5, 0.25, 0.8 };
    double md = 0.0;
    for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++)
        ML_ASSERT_MSG(slerp_hand_ok(ml_merge_slerp, ts[i], &md), "t = %g: max diff %.3g", ts[i], md);
    /* the literal: (1,0), (0,1), t = 0.5 -> (1/sqrt2, 1/sqrt2) */
    static const float a[2] = { 1.0f, 0.0f }, b[2] = { 0.0f, 1.0f };
    const float want[2] = { (float)M_SQRT1_2, (float)M_SQRT1_2 };
    ml_tensor_info ti = { .name = "p", .ndim = 1, .shape = { 2 } };
    ml_layout L = layout_of(&ti, 1);
    const float *models[2] = { a, b };
    float out[2];
    ML_ASSERT_EQ_INT(0, ml_merge_slerp(out, &L, models, 2, 0.5, ML_MERGE_SLERP_EPS));
    ML_ASSERT_MSG(ml_t_close_enough(out, want, 2, 1e-7, 1e-7, &md), "(1,0)~(0,1) at 0.5: max diff %.3g", md);
}

static void test_merge__slerp_checker_rejects_swapped_weights(void) {
    double md = 0.0;
    ML_ASSERT_MSG(slerp_hand_ok(ml_merge_slerp, 0.25, &md), "the sound SLERP at t = 0.25: max diff %.3g", md);
    ML_ASSERT_MSG(!slerp_hand_ok(slerp_swapped, 0.25, &md), "swapped SLERP weights passed (max diff %.3g)", md);
}

static void test_merge__slerp_endpoints_exact(void) {
    ml_tensor_info t[3];
    ml_layout L = random_layout(t);
    static float base[RN], m[2][RN], out[RN];
    const float *models[2] = { m[0], m[1] };
    random_models(base, m, 2, 800);
    ML_ASSERT_EQ_INT(0, ml_merge_slerp(out, &L, models, 2, 0.0, ML_MERGE_SLERP_EPS));
    ML_ASSERT_MSG(memcmp(out, m[0], sizeof(out)) == 0, "t = 0 is not the first model bit for bit");
    ML_ASSERT_EQ_INT(0, ml_merge_slerp(out, &L, models, 2, 1.0, ML_MERGE_SLERP_EPS));
    ML_ASSERT_MSG(memcmp(out, m[1], sizeof(out)) == 0, "t = 1 is not the second model bit for bit");
}

static void test_merge__slerp_preserves_unit_norm(void) {
    enum { N = 16 };
    static const double ts[] = { 0.1, 0.37, 0.5, 0.9 };
    float a[N], b[N], out[N];
    double na = 0, nb = 0;
    ml_tensor_info ti = { .name = "u", .ndim = 1, .shape = { N } };
    ml_layout L = layout_of(&ti, 1);
    const float *models[2] = { a, b };
    ml_t_fill_uniform(a, N, TEST_SEED, 900, -1.0f, 1.0f);
    ml_t_fill_uniform(b, N, TEST_SEED, 901, -1.0f, 1.0f);
    for (int i = 0; i < N; i++) { na += (double)a[i] * a[i]; nb += (double)b[i] * b[i]; }
    for (int i = 0; i < N; i++) { a[i] = (float)(a[i] / sqrt(na)); b[i] = (float)(b[i] / sqrt(nb)); }
    for (size_t k = 0; k < sizeof(ts) / sizeof(ts[0]); k++) {
        double n2 = 0.0;
        ML_ASSERT_EQ_INT(0, ml_merge_slerp(out, &L, models, 2, ts[k], ML_MERGE_SLERP_EPS));
        for (int i = 0; i < N; i++) n2 += (double)out[i] * out[i];
        ML_ASSERT_NEAR(1.0, sqrt(n2), 1e-6, 0.0);
    }
}

/* b = 2a and b = -a: |cos| = 1, so out = (1-t) a + t b; and eps = 0.5 makes
 * a 45-degree pair "parallel" too: (1,0), (1,1) at 0.5 -> (1, 0.5). */
static void test_merge__slerp_parallel_falls_back_to_linear(void) {
    enum { N = 32 };
    float a[N], b[N], out[N], want[N];
    double md = 0.0;
    ml_tensor_info ti = { .name = "u", .ndim = 1, .shape = { N } };
    ml_layout L = layout_of(&ti, 1);
    const float *models[2] = { a, b };
    ml_t_fill_uniform(a, N, TEST_SEED, 950, -1.0f, 1.0f);
    for (int sign = 0; sign < 2; sign++) {
        double scale = sign ? -1.0 : 2.0;
        for (int i = 0; i < N; i++) {
            b[i] = (float)(scale * a[i]);
            want[i] = (float)(0.7 * a[i] + 0.3 * b[i]);
        }
        ML_ASSERT_EQ_INT(0, ml_merge_slerp(out, &L, models, 2, 0.3, ML_MERGE_SLERP_EPS));
        ML_ASSERT_MSG(ml_t_close_enough(out, want, N, 1e-7, 1e-6, &md), "b = %g a: max diff %.3g", scale, md);
    }
    static const float p[2] = { 1.0f, 0.0f }, q[2] = { 1.0f, 1.0f }, lin[2] = { 1.0f, 0.5f };
    ml_tensor_info t2 = { .name = "p", .ndim = 1, .shape = { 2 } };
    ml_layout L2 = layout_of(&t2, 1);
    const float *pq[2] = { p, q };
    ML_ASSERT_EQ_INT(0, ml_merge_slerp(out, &L2, pq, 2, 0.5, 0.5));
    ML_ASSERT_MSG(ml_t_close_enough(out, lin, 2, 1e-7, 0.0, &md), "eps 0.5, cos 0.707: max diff %.3g", md);
    ML_ASSERT_EQ_INT(0, ml_merge_slerp(out, &L2, pq, 2, 0.5, ML_MERGE_SLERP_EPS));
    ML_ASSERT_MSG(!ml_t_close_enough(out, lin, 2, 1e-3, 0.0, &md), "default eps fell back to linear at 45 degrees");
}

/* ---- Fisher ------------------------------------------------------------ */

typedef int (*fisher_fn)(float *, const ml_layout *, const float *const *, const float *const *, int, double);

/* broken on purpose: ignores the Fishers (plain average) */
static int fisher_ignored(float *out, const ml_layout *L, const float *const *models, const float *const *fishers,
                          int nmodels, double eps) {
    for (size_t i = 0; i < L->total; i++) {
        double s = 0.0;
        for (int k = 0; k < nmodels; k++) s += models[k][i];
        out[i] = (float)(s / nmodels);
    }
    return 0;
}

/* theta1 (0,2,4), theta2 (4,6,0), F1 (1,0,3), F2 (3,0,1):
 *   (1*0 + 3*4)/4 = 3;  no information -> plain average 4;  (3*4 + 1*0)/4 = 3.
 * eps = 1e-6 moves them by < 1e-6; the plain average is (2, 4, 2). */
static int fisher_hand_ok(fisher_fn f, double *md) {
    static const float t1[3] = { 0, 2, 4 }, t2[3] = { 4, 6, 0 }, F1[3] = { 1, 0, 3 }, F2[3] = { 3, 0, 1 };
    static const float want[3] = { 3.0f, 4.0f, 3.0f };
    ml_tensor_info ti = { .name = "f", .ndim = 1, .shape = { 3 } };
    ml_layout L = layout_of(&ti, 1);
    const float *models[2] = { t1, t2 }, *fishers[2] = { F1, F2 };
    float out[3];
    *md = NAN;
    if (f(out, &L, models, fishers, 2, ML_MERGE_FISHER_EPS) != 0) return 0;
    return ml_t_close_enough(out, want, 3, 2e-6, 1e-6, md);
}

static void test_merge__fisher_hand(void) {
    double md = 0.0;
    ML_ASSERT_MSG(fisher_hand_ok(ml_merge_fisher, &md), "max diff %.3g", md);
}

static void test_merge__fisher_checker_rejects_ignored_fisher(void) {
    double md = 0.0;
    ML_ASSERT_MSG(!fisher_hand_ok(fisher_ignored, &md), "a Fisher merge ignoring F passed (max diff %.3g)", md);
}

/* equal Fishers (or all zero) -> the plain average; one Fisher 1e6 times
 * the others -> that model, within 1e-6 |theta_k - theta_1| */
static void test_merge__fisher_limits(void) {
    ml_tensor_info t[3];
    ml_layout L = random_layout(t);
    static float base[RN], m[3][RN], F[3][RN], out[RN], ref[RN];
    const float *models[3] = { m[0], m[1], m[2] }, *fishers[3] = { F[0], F[0], F[0] };
    const double w[3] = { 1, 1, 1 };
    double md = 0.0;
    random_models(base, m, 3, 1000);
    ml_t_fill_uniform(F[0], RN, TEST_SEED, 1010, 0.0f, 3.0f);
    ML_ASSERT_EQ_INT(0, ml_merge_average(ref, models, w, 3, RN));
    ML_ASSERT_EQ_INT(0, ml_merge_fisher(out, &L, models, fishers, 3, ML_MERGE_FISHER_EPS));
    ML_ASSERT_MSG(ml_t_close_enough(out, ref, RN, 1e-6, 1e-6, &md), "equal Fishers vs average: max diff %.3g", md);
    memset(F[1], 0, sizeof(F[1]));
    const float *zeros[3] = { F[1], F[1], F[1] };
    ML_ASSERT_EQ_INT(0, ml_merge_fisher(out, &L, models, zeros, 3, ML_MERGE_FISHER_EPS));
    ML_ASSERT_MSG(ml_t_close_enough(out, ref, RN, 1e-6, 1e-6, &md), "zero Fishers vs average: max diff %.3g", md);
    ml_t_fill_uniform(F[1], RN, TEST_SEED, 1011, 0.5f, 1.0f);
    for (int i = 0; i < RN; i++) F[2][i] = 1e6f * F[1][i];
    const float *dominant[3] = { F[1], F[2], F[1] };
    ML_ASSERT_EQ_INT(0, ml_merge_fisher(out, &L, models, dominant, 3, ML_MERGE_FISHER_EPS));
    ML_ASSERT_MSG(ml_t_close_enough(out, m[1], RN, 1e-5, 0.0, &md), "dominant Fisher of model 1: max diff %.3g", md);
}

static void test_merge__fisher_accumulate_and_finish(void) {
    float F[3] = { 0, 0, 0 };
    static const float g1[3] = { 1.0f, -2.0f, 0.5f }, g2[3] = { 3.0f, 0.0f, -0.5f };
    static const float want[3] = { 5.0f, 2.0f, 0.25f };   /* (1+9)/2, (4+0)/2, (.25+.25)/2 */
    double md = 0.0;
    ml_fisher_accumulate(F, g1, 3);
    ml_fisher_accumulate(F, g2, 3);
    ML_ASSERT_EQ_INT(0, ml_fisher_finish(F, 3, 2));
    ML_ASSERT_MSG(ml_t_close_enough(F, want, 3, 0.0, 0.0, &md), "max diff %.3g", md);
    ASSERT_INVALID(ml_fisher_finish(F, 3, 0), "fisher: count must be >= 1, got 0");
    ML_ASSERT_MSG(ml_t_close_enough(F, want, 3, 0.0, 0.0, &md), "a rejected finish changed F");
}

/* ---- RegMean ----------------------------------------------------------- */

typedef int (*regmean_fn)(float *, const ml_layout *, const float *const *, int, const ml_regmean_layer *, int,
                          double);

/* broken on purpose: W^T = sum_k G'_k W_k^T, never multiplied by the
 * inverse of sum_k G'_k; unlisted tensors averaged */
static int regmean_no_inverse(float *out, const ml_layout *L, const float *const *models, int nmodels,
                              const ml_regmean_layer *layers, int nlayers, double alpha) {
    for (size_t i = 0; i < L->total; i++) {
        double s = 0.0;
        for (int k = 0; k < nmodels; k++) s += models[k][i];
        out[i] = (float)(s / nmodels);
    }
    for (int l = 0; l < nlayers; l++) {
        const ml_tensor_info *T = &L->tensors[layers[l].tensor];
        int OC = T->shape[0], C = T->shape[1];
        for (int o = 0; o < OC; o++)
            for (int c = 0; c < C; c++) {
                double s = 0.0;
                for (int k = 0; k < nmodels; k++)
                    for (int j = 0; j < C; j++)
                        s += layers[l].grams[k][c * C + j] * (c == j ? 1.0 : alpha) * models[k][T->offset + o * C + j];
                out[T->offset + o * C + c] = (float)s;
            }
    }
    return 0;
}

/* W (2,2) and a bias (2); G1 = [[2,1],[1,1]], G2 = [[1,0],[0,3]];
 * W1 = [[1,2],[0,1]], W2 = [[3,-1],[2,0]]; b1 = (1,2), b2 = (3,-2).
 * alpha 1: sum G = [[3,1],[1,4]], inverse [[4,-1],[-1,3]]/11;
 *   row 0: G1 (1,2) + G2 (3,-1) = (4,3) + (3,-3) = (7,0) -> (28,-7)/11
 *   row 1: G1 (0,1) + G2 (2,0)  = (1,1) + (2,0)  = (3,1) -> (11,0)/11
 * alpha 0.5: G1' = [[2,.5],[.5,1]], sum [[3,.5],[.5,4]], det 11.75,
 *   inverse [[4,-.5],[-.5,3]]/11.75;
 *   row 0: (3,2.5) + (3,-3) = (6,-.5)  -> (24.25,-4.5)/11.75
 *   row 1: (.5,1) + (2,0)   = (2.5,1)  -> (9.5,1.75)/11.75
 * bias: the plain average (2, 0). Without the inverse row 0 is (7, 0). */
static int regmean_hand_ok(regmean_fn f, double alpha, double *md) {
    static const float G1[4] = { 2, 1, 1, 1 }, G2[4] = { 1, 0, 0, 3 };
    static const float m1[6] = { 1, 2, 0, 1, 1, 2 }, m2[6] = { 3, -1, 2, 0, 3, -2 };
    ml_tensor_info ti[2] = { { .name = "fc.weight", .ndim = 2, .shape = { 2, 2 } },
                             { .name = "fc.bias", .ndim = 1, .shape = { 2 } } };
    ml_layout L = layout_of(ti, 2);
    const float *models[2] = { m1, m2 }, *grams[2] = { G1, G2 };
    const ml_regmean_layer layer = { 0, grams };
    float want[6], out[6];
    if (alpha == 1.0) {
        const float w[6] = { 28.0f / 11, -7.0f / 11, 1.0f, 0.0f, 2.0f, 0.0f };
        memcpy(want, w, sizeof(w));
    } else {
        const float w[6] = { 24.25f / 11.75f, -4.5f / 11.75f, 9.5f / 11.75f, 1.75f / 11.75f, 2.0f, 0.0f };
        memcpy(want, w, sizeof(w));
    }
    *md = NAN;
    if (f(out, &L, models, 2, &layer, 1, alpha) != 0) return 0;
    return ml_t_close_enough(out, want, 6, 1e-6, 1e-6, md);
}

static void test_merge__regmean_hand_2x2(void) {
    double md = 0.0;
    ML_ASSERT_MSG(regmean_hand_ok(ml_merge_regmean, 1.0, &md), "alpha 1: max diff %.3g", md);
    ML_ASSERT_MSG(regmean_hand_ok(ml_merge_regmean, 0.5, &md), "alpha 0.5: max diff %.3g", md);
}

static void test_merge__regmean_checker_rejects_no_inverse(void) {
    double md = 0.0;
    ML_ASSERT_MSG(!regmean_hand_ok(regmean_no_inverse, 1.0, &md), "RegMean without the inverse passed (%.3g)", md);
    ML_ASSERT_MSG(!regmean_hand_ok(regmean_no_inverse, 0.5, &md), "RegMean without the inverse passed (%.3g)", md);
}

/* G = X^T X for X (32, C) uniform in [-1,1) from stream s, times scale */
#define RC 6
#define ROC 5
static void gram(float *G, uint64_t s, float scale) {
    float X[32 * RC];
    ml_t_fill_uniform(X, 32 * RC, TEST_SEED, s, -1.0f, 1.0f);
    for (int i = 0; i < RC; i++)
        for (int j = 0; j < RC; j++) {
            double acc = 0.0;
            for (int r = 0; r < 32; r++) acc += (double)X[r * RC + i] * X[r * RC + j];
            G[i * RC + j] = (float)(scale * acc);
        }
}

/* identical Gram matrices: W = A^{-1} A mean(W) = the average (rounding of
 * a well-conditioned 6x6 solve only); one Gram matrix 1e6 times the others:
 * W = W1 + O(1e-6 cond) */
static void test_merge__regmean_limits(void) {
    ml_tensor_info ti[2] = { { .name = "w", .ndim = 2, .shape = { ROC, RC } },
                             { .name = "b", .ndim = 1, .shape = { ROC } } };
    ml_layout L = layout_of(ti, 2);
    enum { T = ROC * RC + ROC };
    static float m[3][T], G[3][RC * RC], out[T], ref[T];
    const float *models[3] = { m[0], m[1], m[2] };
    const double w[3] = { 1, 1, 1 };
    double md = 0.0;
    for (int k = 0; k < 3; k++) ml_t_fill_uniform(m[k], T, TEST_SEED, 1100 + (uint64_t)k, -1.0f, 1.0f);
    gram(G[0], 1110, 1.0f);
    const float *same[3] = { G[0], G[0], G[0] };
    ml_regmean_layer layer = { 0, same };
    ML_ASSERT_EQ_INT(0, ml_merge_average(ref, models, w, 3, T));
    ML_ASSERT_EQ_INT(0, ml_merge_regmean(out, &L, models, 3, &layer, 1, 1.0));
    ML_ASSERT_MSG(ml_t_close_enough(out, ref, T, 1e-5, 1e-5, &md), "identical Grams vs average: max diff %.3g", md);
    ML_ASSERT_EQ_INT(0, ml_merge_regmean(out, &L, models, 3, &layer, 1, 0.3));
    ML_ASSERT_MSG(ml_t_close_enough(out, ref, T, 1e-5, 1e-5, &md), "identical Grams, alpha 0.3: max diff %.3g", md);
    gram(G[1], 1111, 1e6f);
    gram(G[2], 1112, 1.0f);
    const float *dom[3] = { G[2], G[1], G[0] };
    layer.grams = dom;
    ML_ASSERT_EQ_INT(0, ml_merge_regmean(out, &L, models, 3, &layer, 1, 1.0));
    ML_ASSERT_MSG(ml_t_close_enough(out, m[1], ROC * RC, 1e-4, 0.0, &md), "dominant Gram of model 1: max diff %.3g", md);
    ML_ASSERT_MSG(ml_t_close_enough(out + ROC * RC, ref + ROC * RC, ROC, 1e-6, 1e-6, &md), "bias not averaged: %.3g", md);
}

/* An indefinite but invertible sum: Cholesky fails, LU solves it.
 * G1 = [[0,1],[1,0]], G2 = [[1,0],[0,-1]], W1 = (1,2), W2 = (3,4):
 * sum [[1,1],[1,-1]], inverse [[.5,.5],[.5,-.5]]; rhs (2,1) + (3,-4) = (5,-3)
 * -> (1, 4). A singular sum (collinear inputs) is ML_ERUN naming the layer. */
static void test_merge__regmean_fallback_and_singular(void) {
    static const float G1[4] = { 0, 1, 1, 0 }, G2[4] = { 1, 0, 0, -1 }, S[4] = { 1, 1, 1, 1 };
    static const float Z[4] = { 1, 0, 0, 0 };
    static const float w1[2] = { 1, 2 }, w2[2] = { 3, 4 }, want[2] = { 1, 4 };
    ml_tensor_info ti = { .name = "fc2.weight", .ndim = 2, .shape = { 1, 2 } };
    ml_layout L = layout_of(&ti, 1);
    const float *models[2] = { w1, w2 }, *grams[2] = { G1, G2 }, *singular[2] = { S, S }, *zero[2] = { Z, Z };
    ml_regmean_layer layer = { 0, grams };
    float out[2];
    double md = 0.0;
    ML_ASSERT_EQ_INT(0, ml_merge_regmean(out, &L, models, 2, &layer, 1, 1.0));
    ML_ASSERT_MSG(ml_t_close_enough(out, want, 2, 1e-6, 1e-6, &md), "LU fallback: max diff %.3g", md);
    layer.grams = singular;   /* the Cholesky pivot may come out as +-1e-16 rather than 0 */
    ML_ASSERT_EQ_INT(ML_ERUN, ml_merge_regmean(out, &L, models, 2, &layer, 1, 1.0));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "regmean: layer 'fc2.weight': sum of Gram matrices is singular");
    layer.grams = zero;       /* a dead input: exactly zero row and column */
    ML_ASSERT_EQ_INT(ML_ERUN, ml_merge_regmean(out, &L, models, 2, &layer, 1, 1.0));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "regmean: layer 'fc2.weight': sum of Gram matrices is singular");
}

/* ---- argument errors: exact messages, nothing written ------------------ */

static void test_merge__rejects_bad_arguments(void) {
    ml_tensor_info ti[2] = { { .name = "fc.weight", .ndim = 2, .shape = { 1, 2 } },
                             { .name = "fc.bias", .ndim = 1, .shape = { 1 } } };
    ml_layout L = layout_of(ti, 2);
    float base[3] = { 0, 0, 0 }, a[3] = { 1, 2, 3 }, b[3] = { 3, 2, 1 }, out[3] = { 9, 9, 9 };
    float F[3] = { 1, 1, 1 }, Fneg[3] = { 1, 1, -1 }, G[4] = { 1, 0, 0, 1 };
    const float *m3[3] = { a, b, a }, *m2[2] = { a, b }, *f2[2] = { F, Fneg }, *g2[2] = { G, G }, *g1[2] = { G, NULL };
    ml_regmean_layer ok = { 0, g2 }, bias = { 1, g2 }, out_of_range = { 5, g2 }, missing = { 0, g1 };
    ml_regmean_layer twice[2] = { { 0, g2 }, { 0, g2 } };

    ASSERT_INVALID(ml_merge_slerp(out, &L, m3, 3, 0.5, ML_MERGE_SLERP_EPS), "slerp: needs exactly 2 models, got 3");
    ASSERT_INVALID(ml_merge_slerp(out, &L, m2, 1, 0.5, ML_MERGE_SLERP_EPS), "slerp: needs exactly 2 models, got 1");
    ASSERT_INVALID(ml_merge_slerp(out, &L, m2, 2, 1.5, ML_MERGE_SLERP_EPS), "slerp: t must be in [0, 1], got 1.5");
    ASSERT_INVALID(ml_merge_slerp(out, &L, m2, 2, 0.5, 0.0), "slerp: eps must be in (0, 1), got 0");

    ASSERT_INVALID(ml_merge_task_arithmetic(out, &L, base, m2, 0, 1.0),
                   "task_arithmetic: need at least one model, got 0");
    ASSERT_INVALID(ml_merge_task_arithmetic(out, &L, base, m2, 2, INFINITY),
                   "task_arithmetic: lambda must be finite, got inf");

    ASSERT_INVALID(ml_merge_ties(out, &L, base, m2, 0, 0.5, 1.0), "ties: need at least one model, got 0");
    ASSERT_INVALID(ml_merge_ties(out, &L, base, m2, 2, 0.0, 1.0), "ties: density must be in (0, 1], got 0");
    ASSERT_INVALID(ml_merge_ties(out, &L, base, m2, 2, 1.5, 1.0), "ties: density must be in (0, 1], got 1.5");
    ASSERT_INVALID(ml_merge_ties(out, &L, base, m2, 2, 0.5, NAN), "ties: lambda must be finite, got nan");

    ASSERT_INVALID(ml_merge_dare(out, &L, base, m2, 0, 0.5, 1, ML_DARE_TASK_ARITHMETIC, 1.0, 1.0),
                   "dare: need at least one model, got 0");
    ASSERT_INVALID(ml_merge_dare(out, &L, base, m2, 2, 1.0, 1, ML_DARE_TASK_ARITHMETIC, 1.0, 1.0),
                   "dare: p must be in [0, 1), got 1");
    ASSERT_INVALID(ml_merge_dare(out, &L, base, m2, 2, -0.1, 1, ML_DARE_TASK_ARITHMETIC, 1.0, 1.0),
                   "dare: p must be in [0, 1), got -0.1");
    ASSERT_INVALID(ml_merge_dare(out, &L, base, m2, 2, 0.5, 1, (ml_dare_combine)7, 1.0, 1.0),
                   "dare: unknown combine method 7");
    ASSERT_INVALID(ml_merge_dare(out, &L, base, m2, 2, 0.5, 1, ML_DARE_TIES, 0.0, 1.0),
                   "dare: density must be in (0, 1], got 0");
    ASSERT_INVALID(ml_merge_dare(out, &L, base, m2, 2, 0.5, 1, ML_DARE_TASK_ARITHMETIC, 1.0, -INFINITY),
                   "dare: lambda must be finite, got -inf");

    ASSERT_INVALID(ml_merge_fisher(out, &L, m2, f2, 0, ML_MERGE_FISHER_EPS), "fisher: need at least one model, got 0");
    ASSERT_INVALID(ml_merge_fisher(out, &L, m2, f2, 2, 0.0), "fisher: eps must be finite and > 0, got 0");
    ASSERT_INVALID(ml_merge_fisher(out, &L, m2, f2, 2, ML_MERGE_FISHER_EPS),
                   "fisher: model 1 parameter 2: Fisher value -1 is negative or not finite");

    ASSERT_INVALID(ml_merge_regmean(out, &L, m2, 0, &ok, 1, 1.0), "regmean: need at least one model, got 0");
    ASSERT_INVALID(ml_merge_regmean(out, &L, m2, 2, &ok, 1, 0.0), "regmean: alpha must be in (0, 1], got 0");
    ASSERT_INVALID(ml_merge_regmean(out, &L, m2, 2, &ok, 1, 1.5), "regmean: alpha must be in (0, 1], got 1.5");
    ASSERT_INVALID(ml_merge_regmean(out, &L, m2, 2, &out_of_range, 1, 1.0),
                   "regmean: layer 0: tensor index 5 out of range (layout has 2)");
    ASSERT_INVALID(ml_merge_regmean(out, &L, m2, 2, &bias, 1, 1.0),
                   "regmean: layer 0: tensor 'fc.bias' is not 2-D (ndim 1)");
    ASSERT_INVALID(ml_merge_regmean(out, &L, m2, 2, twice, 2, 1.0),
                   "regmean: tensor 'fc.weight' is listed twice (layers 0 and 1)");
    ASSERT_INVALID(ml_merge_regmean(out, &L, m2, 2, &missing, 1, 1.0),
                   "regmean: layer 'fc.weight': model 1 has no Gram matrix");
    ML_ASSERT_MSG(all_equal_to(out, 3, 9.0f), "a rejected merge wrote its output");

    /* decided: lambda may be negative (task negation); density 0 is fine
     * when DARE combines by task arithmetic (it is not read) */
    ML_ASSERT_EQ_INT(0, ml_merge_task_arithmetic(out, &L, base, m2, 2, -0.5));
    ML_ASSERT_EQ_INT(0, ml_merge_dare(out, &L, base, m2, 2, 0.5, 1, ML_DARE_TASK_ARITHMETIC, 0.0, -1.0));
}

const ml_test ml_tests_merge[] = {
    { "merge__frozen_helper", test_merge__frozen_helper, "unit" },
    { "merge__frozen_tensors_copied_by_every_method", test_merge__frozen_tensors_copied_by_every_method, "unit" },
    { "merge__average_identical_models_exact", test_merge__average_identical_models_exact, "unit" },
    { "merge__task_arithmetic_hand", test_merge__task_arithmetic_hand, "unit" },
    { "merge__task_arithmetic_checker_rejects_sign_flip", test_merge__task_arithmetic_checker_rejects_sign_flip, "unit" },
    { "merge__task_arithmetic_lambda0_is_base", test_merge__task_arithmetic_lambda0_is_base, "unit" },
    { "merge__ties_hand_trim_and_sign_conflict", test_merge__ties_hand_trim_and_sign_conflict, "unit" },
    { "merge__ties_checker_rejects_no_disjoint_filter", test_merge__ties_checker_rejects_no_disjoint_filter, "unit" },
    { "merge__ties_keeps_round_density_n_lowest_index_first", test_merge__ties_keeps_round_density_n_lowest_index_first,
      "unit" },
    { "merge__ties_matches_naive_reference", test_merge__ties_matches_naive_reference, "unit" },
    { "merge__ties_density1_no_conflict_is_task_arithmetic", test_merge__ties_density1_no_conflict_is_task_arithmetic,
      "unit" },
    { "merge__dare_p0_is_its_base_method_exactly", test_merge__dare_p0_is_its_base_method_exactly, "unit" },
    { "merge__dare_matches_keyed_reference", test_merge__dare_matches_keyed_reference, "unit" },
    { "merge__dare_drop_rate_and_independent_masks", test_merge__dare_drop_rate_and_independent_masks, "unit" },
    { "merge__dare_mean_over_seeds_is_task_arithmetic", test_merge__dare_mean_over_seeds_is_task_arithmetic, "unit" },
    { "merge__dare_checker_rejects_no_rescale", test_merge__dare_checker_rejects_no_rescale, "unit" },
    { "merge__slerp_hand_2d", test_merge__slerp_hand_2d, "unit" },
    { "merge__slerp_checker_rejects_swapped_weights", test_merge__slerp_checker_rejects_swapped_weights, "unit" },
    { "merge__slerp_endpoints_exact", test_merge__slerp_endpoints_exact, "unit" },
    { "merge__slerp_preserves_unit_norm", test_merge__slerp_preserves_unit_norm, "unit" },
    { "merge__slerp_parallel_falls_back_to_linear", test_merge__slerp_parallel_falls_back_to_linear, "unit" },
    { "merge__fisher_hand", test_merge__fisher_hand, "unit" },
    { "merge__fisher_checker_rejects_ignored_fisher", test_merge__fisher_checker_rejects_ignored_fisher, "unit" },
    { "merge__fisher_limits", test_merge__fisher_limits, "unit" },
    { "merge__fisher_accumulate_and_finish", test_merge__fisher_accumulate_and_finish, "unit" },
    { "merge__regmean_hand_2x2", test_merge__regmean_hand_2x2, "unit" },
    { "merge__regmean_checker_rejects_no_inverse", test_merge__regmean_checker_rejects_no_inverse, "unit" },
    { "merge__regmean_limits", test_merge__regmean_limits, "unit" },
    { "merge__regmean_fallback_and_singular", test_merge__regmean_fallback_and_singular, "unit" },
    { "merge__rejects_bad_arguments", test_merge__rejects_bad_arguments, "unit" },
    { 0 },
};

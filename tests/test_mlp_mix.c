/*
 * tests/test_mlp_mix.c: feature interpolation on the MLP family.
 */
#include "tests/test.h"
#include "kernels/mlp.h"
#include "kernels/rng.h"

#include <stdlib.h>

enum { MN = 9, MD = 6, MV = 4 };

static void setup(ml_mlp **a, ml_mlp **b, ml_mlp **work, float *x, int32_t *y) {
    ml_mlp_config cfg = { MD, 2, { 5, 7 }, MV, ML_ACT_RELU };
    ml_mlp_new(a, &cfg, MN);
    ml_mlp_new(b, &cfg, MN);
    ml_mlp_new(work, &cfg, MN);
    ml_mlp_init(*a, 1);
    ml_mlp_init(*b, 2);
    for (int i = 0; i < MN * MD; i++) x[i] = ml_rng_normal(3, 1, (uint64_t)i);
    for (int i = 0; i < MN; i++) y[i] = i % MV;
}

static void test_mlp_mix__endpoints_are_the_models(void) {
    ml_mlp *a, *b, *w;
    float x[MN * MD], la[MN * MV], lb[MN * MV];
    int32_t y[MN];
    setup(&a, &b, &w, x, y);
    const ml_mlp *models[2] = { a, b };
    double wa[2] = { 1.0, 0.0 }, wb[2] = { 0.0, 1.0 };
    float loss_a = ml_mlp_forward(a, x, y, MN), loss_b = ml_mlp_forward(b, x, y, MN);
    memcpy(la, a->pre[2], sizeof(la));
    memcpy(lb, b->pre[2], sizeof(lb));
    float mix_a = ml_mlp_forward_mix(w, models, wa, 2, x, y, MN);
    int same_a = !memcmp(la, w->pre[2], sizeof(la));
    float mix_b = ml_mlp_forward_mix(w, models, wb, 2, x, y, MN);
    int same_b = !memcmp(lb, w->pre[2], sizeof(lb));
    ml_mlp_free(a); ml_mlp_free(b); ml_mlp_free(w);
    ML_ASSERT_MSG(same_a && same_b, "alpha at an endpoint must give that model's logits bit for bit");
    ML_ASSERT(loss_a == mix_a && loss_b == mix_b);
}

/* Two identical models mixed with any weights summing to 1 are that model
 * (within rounding), and feature interpolation differs from an output
 * ensemble (each model on its own stream) at alpha = 0.5: the checker that
 * accepts the first must reject the second. */
static void test_mlp_mix__identical_models_and_not_an_ensemble(void) {
    ml_mlp *a, *b, *w;
    float x[MN * MD], ref[MN * MV], ens[MN * MV];
    int32_t y[MN];
    setup(&a, &b, &w, x, y);
    ml_mlp_forward(a, x, NULL, MN);
    memcpy(ref, a->pre[2], sizeof(ref));
    const ml_mlp *same[2] = { a, a };
    double w37[2] = { 0.3, 0.7 };
    ml_mlp_forward_mix(w, same, w37, 2, x, NULL, MN);
    double maxd = 0.0;
    for (int i = 0; i < MN * MV; i++) maxd = fmax(maxd, fabs(w->pre[2][i] - ref[i]) / (1e-6 + 1e-5 * fabs(ref[i])));
    /* output ensemble of a and b at 0.5 vs feature interpolation at 0.5 */
    ml_mlp_forward(b, x, NULL, MN);
    for (int i = 0; i < MN * MV; i++) ens[i] = 0.5f * ref[i] + 0.5f * b->pre[2][i];
    const ml_mlp *ab[2] = { a, b };
    double half[2] = { 0.5, 0.5 };
    ml_mlp_forward_mix(w, ab, half, 2, x, NULL, MN);
    double maxe = 0.0;
    for (int i = 0; i < MN * MV; i++) maxe = fmax(maxe, fabs(w->pre[2][i] - ens[i]) / (1e-6 + 1e-5 * fabs(ens[i])));
    ml_mlp_free(a); ml_mlp_free(b); ml_mlp_free(w);
    ML_ASSERT_MSG(maxd <= 1.0, "identical models mixed differ: %g tolerances", maxd);
    ML_ASSERT_MSG(maxe > 1.0, "feature interpolation equals the output ensemble (%g): the stream is not shared", maxe);
}

const ml_test ml_tests_mlp_mix[] = {
    { "mlp_mix__endpoints_are_the_models", test_mlp_mix__endpoints_are_the_models, "unit" },
    { "mlp_mix__identical_models_and_not_an_ensemble", test_mlp_mix__identical_models_and_not_an_ensemble, "unit" },
    { 0 }
};

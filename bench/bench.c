/*
 * bench/bench.c: `make bench`. Speed targets are ratios against a reference
 * measured in the same process on the same machine, never absolute times:
 *   - OpenBLAS sgemm GFLOP/s at n = 1024 (the peak) and at the GPT's shapes;
 *   - a GPT training step's achieved GFLOP/s (the model's real FLOPs,
 *     forward + backward, from ml_gpt_step_flops) and its ratio to the peak.
 * Target (issue 4): a training step at d >= 128 reaches >= 60% of the peak.
 * Usage: mlbench [--threads N] [--steps N] [--step-only]. One line per figure.
 */
#include "kernels/adamw.h"
#include "kernels/gemm.h"
#include "kernels/gpt.h"
#include "kernels/rng.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Best GFLOP/s of C = A B^T at (M,N,K) over reps runs of at least 0.2 s. */
static double sgemm_gflops(int M, int N, int K) {
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * N * K), *C = malloc(sizeof(float) * M * N);
    for (long i = 0; i < (long)M * K; i++) A[i] = ml_rng_uniform(1, 1, (uint64_t)i) - 0.5f;
    for (long i = 0; i < (long)N * K; i++) B[i] = ml_rng_uniform(1, 2, (uint64_t)i) - 0.5f;
    ml_gemm_nt(M, N, K, A, B, 0.0f, C);   /* warm up */
    double best = 0.0, flops = 2.0 * M * N * K;
    for (int rep = 0; rep < 5; rep++) {
        int iters = 0;
        double t0 = now_s(), t;
        do { ml_gemm_nt(M, N, K, A, B, 0.0f, C); iters++; } while ((t = now_s() - t0) < 0.2);
        double g = flops * iters / t / 1e9;
        if (g > best) best = g;
    }
    free(A); free(B); free(C);
    return best;
}

int main(int argc, char **argv) {
    int threads = 2, steps = 20, gemms = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--step-only")) gemms = 0;   /* for profiling the step alone */
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
    }
    ml_blas_set_threads(threads);
    printf("mergelab bench: %s, %d BLAS threads (%s)\n", openblas_get_config(), ml_blas_threads(),
           openblas_get_corename());
    double peak = gemms ? sgemm_gflops(1024, 1024, 1024) : 0.0;
    printf("sgemm n=1024                      %8.1f GFLOP/s (peak reference)\n", peak);

    ml_gpt_config cfg = { 96, 128, 4, 4, 128 };
    int B = 16, T = 128, N = B * T, C = cfg.n_embd;
    struct { const char *what; int M, Nn, K; } shapes[] = {
        { "qkv   (BT x C) . (3C x C)^T", N, 3 * C, C }, { "fc    (BT x C) . (4C x C)^T", N, 4 * C, C },
        { "proj  (BT x 4C) . (C x 4C)^T", N, C, 4 * C }, { "head  (BT x C) . (V x C)^T", N, cfg.vocab_size, C },
    };
    for (size_t i = 0; gemms && i < sizeof(shapes) / sizeof(shapes[0]); i++)
        printf("sgemm %-28s %8.1f GFLOP/s\n", shapes[i].what, sgemm_gflops(shapes[i].M, shapes[i].Nn, shapes[i].K));

    ml_gpt *m = NULL;
    ml_adamw *o = NULL;
    ml_adamw_config oc = { 1e-3f, 0.9f, 0.99f, 1e-8f, 0.1f };
    if (ml_gpt_new(&m, &cfg, B, T) < 0 || ml_adamw_new(&o, &m->layout, &oc) < 0) return 3;
    ml_gpt_init(m, 1);
    int32_t *x = malloc(sizeof(int32_t) * N), *y = malloc(sizeof(int32_t) * N);
    for (int i = 0; i < N; i++) {
        x[i] = (int32_t)ml_rng_below(1, 9, (uint64_t)i, (uint64_t)cfg.vocab_size);
        y[i] = (int32_t)ml_rng_below(1, 10, (uint64_t)i, (uint64_t)cfg.vocab_size);
    }
    double tf = 0, tb = 0, to = 0;
    for (int s = -2; s < steps; s++) {   /* two warm-up steps */
        double t0 = now_s();
        ml_gpt_forward(m, x, y, B, T, -1, NULL);
        double t1 = now_s();
        memset(m->grads, 0, m->layout.total * sizeof(float));
        ml_gpt_backward(m, x, y, NULL);
        double t2 = now_s();
        ml_clip_grad_norm(m->grads, m->layout.total, 1.0);
        ml_adamw_step(o, m->params, m->grads, 1e-3f, NULL);
        double t3 = now_s();
        if (s >= 0) { tf += t1 - t0; tb += t2 - t1; to += t3 - t2; }
    }
    double step = (tf + tb + to) / steps, flops = ml_gpt_step_flops(&cfg, B, T);
    printf("gpt step d=%d L=%d NH=%d B=%d T=%d    %8.1f ms (forward %.1f, backward %.1f, optimizer %.1f)\n", C,
           cfg.n_layer, cfg.n_head, B, T, step * 1e3, tf / steps * 1e3, tb / steps * 1e3, to / steps * 1e3);
    double g = flops / step / 1e9;
    printf("gpt step achieved                 %8.1f GFLOP/s (%.2f GFLOP per step)\n", g, flops / 1e9);
    if (peak > 0)
        printf("ratio step / sgemm peak           %8.2f   (target >= 0.60: %s)\n", g / peak, g / peak >= 0.6 ? "met" : "NOT met");
    free(x); free(y);
    ml_adamw_free(o);
    ml_gpt_free(m);
    return 0;
}

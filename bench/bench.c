/*
 * bench/bench.c: `make bench` (and `mergelab bench`). Every target is a ratio
 * against a reference measured in the same run on the same machine, never an
 * absolute time:
 *   - PyTorch on the same model (bench/torch_gpt.py, Debian's python3-torch):
 *     its best of 1 or 2 threads, with OpenBLAS's own kernels for this CPU or
 *     with mergelab's pinned ones, in rounds that alternate with mergelab's;
 *   - OpenBLAS's sgemm peak (n = 1024, the better of its own threading and
 *     mergelab's row split), measured in each round;
 *   - for CKA, the two sgemms linear CKA cannot avoid.
 * Lines (issue 18), at d = 128 and d = 256 (4 layers, 4 heads, B = 16, T = 128):
 *   step vs PyTorch's best >= 2 (floor 1.6); 1 thread vs PyTorch on 1 thread
 *   >= 1.2; step / peak >= 0.65 (0.75 at d = 256); two-thread scaling >= 1.85;
 *   forward-only evaluation / peak >= 0.70; router step at k = 4, expert GEMM
 *   FLOPs over step time / peak >= 0.65; linear CKA within 2x of its sgemms.
 * Before racing, PyTorch loads mergelab's initial weights and batch (--dump)
 * and must give the same loss to 1e-5, the same gradients and the same
 * matmul FLOPs; a deliberately damaged dump must fail that check.
 * Usage: mlbench [--threads N] [--rounds N] [--steps N] [--gate] [--only WHAT]
 *   WHAT: step (mergelab's step alone, for profiling), torch, gpt, cka, router.
 * --gate: exit 1 when a line falls short of its target (2 bad usage, 3 failed).
 * --targets-times F: every target F times harder, so a test sees the gate
 * fail (F = 1000) and pass (F = 0.001).
 */
#include "kernels/cka.h"
#include "kernels/adamw.h"
#include "kernels/gemm.h"
#include "kernels/gpt.h"
#include "kernels/gpt_mix.h"
#include "kernels/parallel.h"
#include "kernels/rng.h"
#include "kernels/platform.h"
#include "core/error.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Best GFLOP/s of C = A B^T at (M,N,K) over 3 runs of at least 0.15 s,
 * through mergelab's wrapper (split over output rows on its workers) or,
 * with native set, one cblas_sgemm call threaded by OpenBLAS itself. */
static double sgemm_gflops_how(int M, int N, int K, int native) {
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * N * K), *C = malloc(sizeof(float) * M * N);
    for (long i = 0; i < (long)M * K; i++) A[i] = ml_rng_uniform(1, 1, (uint64_t)i) - 0.5f;
    for (long i = 0; i < (long)N * K; i++) B[i] = ml_rng_uniform(1, 2, (uint64_t)i) - 0.5f;
    int threads = ml_par_threads();
    if (native) openblas_set_num_threads(threads);
#define ONE_GEMM() (native ? cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N) \
                           : ml_gemm_nt(M, N, K, A, B, 0.0f, C))
    ONE_GEMM();   /* warm up */
    double best = 0.0, flops = 2.0 * M * N * K;
    for (int rep = 0; rep < 3; rep++) {
        int iters = 0;
        double t0 = now_s(), t;
        do { ONE_GEMM(); iters++; } while ((t = now_s() - t0) < 0.15);
        double g = flops * iters / t / 1e9;
        if (g > best) best = g;
    }
#undef ONE_GEMM
    if (native) openblas_set_num_threads(1);   /* back to mergelab's arrangement */
    free(A); free(B); free(C);
    return best;
}


/* The reference: the better of OpenBLAS's own threading and mergelab's split. */
static double sgemm_peak(void) {
    double own = sgemm_gflops_how(1024, 1024, 1024, 1), split = sgemm_gflops_how(1024, 1024, 1024, 0);
    return own > split ? own : split;
}

/* Lines that fall short of their target, for --gate. */
static int n_short;
/* --targets-times F makes every target F times harder (tests use it to see
 * the gate fail and pass) */
static double target_times = 1.0;

static const char *verdict(double value, double target, int at_least) {
    int met = at_least ? value >= target * target_times : value <= target / target_times;
    n_short += !met;
    return met ? "met" : "NOT met";
}

/* ---- CKA -------------------------------------------------------------------
 * Rounds alternate the reference (two ml_gemm_tn of (d x n)(n x d), the
 * products linear CKA cannot avoid) and the CKA calls, each timed as the
 * median of 3 calls; the verdict uses the median round's ratio. */
static double median_of(double *t, int k) {
    qsort(t, (size_t)k, sizeof(double), cmp_double);
    return t[k / 2];
}

static int bench_cka(void) {
    enum { ROUNDS = 5, REPS = 3 };
    const int n = 10000, d = 512;
    float *X = malloc(sizeof(float) * n * d), *Y = malloc(sizeof(float) * n * d), *C = malloc(sizeof(float) * d * d);
    if (!X || !Y || !C) { free(X); free(Y); free(C); return 3; }
    for (long i = 0; i < (long)n * d; i++) {
        X[i] = ml_rng_uniform(3, 1, (uint64_t)i) - 0.25f;
        Y[i] = 0.5f * X[i] + ml_rng_uniform(3, 2, (uint64_t)i);
    }
    double ref[ROUNDS], lin[ROUNDS], deb[ROUNDS], rl[ROUNDS], rd[ROUNDS], v = 0.0, vd = 0.0;
    ml_gemm_tn(d, d, n, X, X, 0.0f, C);   /* warm up */
    if (ml_cka_linear(&v, X, Y, n, d, d) < 0) return 3;
    for (int r = 0; r < ROUNDS; r++) {
        double t[3][REPS];
        for (int k = 0; k < REPS; k++) {
            double t0 = now_s();
            ml_gemm_tn(d, d, n, X, X, 0.0f, C);
            ml_gemm_tn(d, d, n, Y, X, 0.0f, C);
            double t1 = now_s();
            if (ml_cka_linear(&v, X, Y, n, d, d) < 0) return 3;
            double t2 = now_s();
            if (ml_cka_linear_debiased(&vd, X, Y, n, d, d) < 0) return 3;
            double t3 = now_s();
            t[0][k] = t1 - t0; t[1][k] = t2 - t1; t[2][k] = t3 - t2;
        }
        ref[r] = median_of(t[0], REPS); lin[r] = median_of(t[1], REPS); deb[r] = median_of(t[2], REPS);
        rl[r] = lin[r] / ref[r];
        rd[r] = deb[r] / ref[r];
    }
    double gref = median_of(ref, ROUNDS), glin = median_of(lin, ROUNDS), gdeb = median_of(deb, ROUNDS);
    double mrl = median_of(rl, ROUNDS), mrd = median_of(rd, ROUNDS);
    printf("cka reference: 2 sgemm (d x n)(n x d) n=%d d=%d %8.1f ms median (%.1f GFLOP/s)\n", n, d, gref * 1e3,
           4.0 * d * d * n / gref / 1e9);
    printf("cka linear (HSIC_0) n=%d d=%d          %8.1f ms median, value %.6f\n", n, d, glin * 1e3, v);
    printf("cka linear debiased (HSIC_1) n=%d d=%d %8.1f ms median, value %.6f\n", n, d, gdeb * 1e3, vd);
    printf("ratio cka linear / 2 sgemm        %8.2f   median of %d rounds (min %.2f, max %.2f); target <= 2.00 (within 2x): %s\n",
           mrl, ROUNDS, rl[0], rl[ROUNDS - 1], verdict(mrl, 2.0, 0));
    printf("ratio debiased / 2 sgemm          %8.2f   median of %d rounds (min %.2f, max %.2f); target <= 2.00 (within 2x): %s\n",
           mrd, ROUNDS, rd[0], rd[ROUNDS - 1], verdict(mrd, 2.0, 0));
    free(X); free(Y); free(C);
    return 0;
}


/* A router training step at suites/paper.json's shape: two "specialists" (the base
 * with other initialisations), the multi-layer pool at k = 4 (8 experts per layer),
 * forward, backward, AdamW on the router. Its FLOPs are counted in the expert MLPs
 * only (2 GEMMs per expert per layer forward, 2 more backward above block 0, where
 * nothing below needs a gradient), so the ratio says how much of the step is useful
 * GEMM work. */
static int bench_router(void) {
    ml_gpt_config cfg = { 96, 128, 4, 4, 128 };
    enum { K = 4, ROUNDS = 5, STEPS = 8 };
    int B = 16, T = 128, N = B * T, C = cfg.n_embd, L = cfg.n_layer, E = 2 * K, rc = 3;
    ml_gpt *base = NULL, *a = NULL, *b = NULL;
    ml_gpt_mix *mix = NULL;
    ml_adamw *o = NULL;
    ml_expert ex[4 * 2 * K];
    int32_t *x = malloc(sizeof(int32_t) * N), *y = malloc(sizeof(int32_t) * N);
    ml_mix_options mo = { ML_MIX_ROUTER, NULL, 0, 0 };
    ml_adamw_config oc = { 5e-3f, 0.9f, 0.99f, 1e-8f, 0.1f };
    if (!x || !y || ml_gpt_new(&base, &cfg, B, T) < 0 || ml_gpt_new(&a, &cfg, B, T) < 0 || ml_gpt_new(&b, &cfg, B, T) < 0)
        goto cleanup;
    ml_gpt_init(base, 1);
    ml_gpt_init(a, 2);
    ml_gpt_init(b, 3);
    if (ml_mix_pool_multilayer(ex, a->params, b->params, L, K) < 0 || ml_gpt_mix_new(&mix, base, ex, E, &mo, B, T) < 0 ||
        ml_adamw_new(&o, &mix->layout, &oc) < 0)
        goto cleanup;
    for (int i = 0; i < N; i++) {
        x[i] = (int32_t)ml_rng_below(1, 11, (uint64_t)i, (uint64_t)cfg.vocab_size);
        y[i] = (int32_t)ml_rng_below(1, 12, (uint64_t)i, (uint64_t)cfg.vocab_size);
    }
    double flops = (double)(2 * L - 1) * E * 2.0 * (2.0 * N * C * 4.0 * C);
    double ratio[ROUNDS], ms[ROUNDS], peaks[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        double times[STEPS];
        peaks[r] = sgemm_peak();
        for (int s = -1; s < STEPS; s++) {
            double t0 = now_s();
            ml_gpt_mix_forward(mix, x, y, B, T);
            ml_gpt_mix_zero_grad(mix);
            ml_gpt_mix_backward(mix, x, y);
            ml_adamw_step(o, mix->params, mix->grads, 5e-3f, NULL);
            if (s >= 0) times[s] = now_s() - t0;
        }
        qsort(times, STEPS, sizeof(double), cmp_double);
        ms[r] = times[STEPS / 2] * 1e3;
        ratio[r] = flops / times[STEPS / 2] / 1e9 / peaks[r];
    }
    qsort(ms, ROUNDS, sizeof(double), cmp_double);
    qsort(ratio, ROUNDS, sizeof(double), cmp_double);
    qsort(peaks, ROUNDS, sizeof(double), cmp_double);
    printf("router step k=%d d=%d L=%d B=%d T=%d %8.1f ms median (%.2f GFLOP in expert GEMMs)\n", K, C, L, B, T,
           ms[ROUNDS / 2], flops / 1e9);
    printf("router step expert GEMMs          %8.1f GFLOP/s (sgemm peak %.1f)\n", flops / (ms[ROUNDS / 2] / 1e3) / 1e9,
           peaks[ROUNDS / 2]);
    printf("ratio router step / sgemm peak    %8.2f   median of %d rounds (min %.2f, max %.2f); target >= 0.65: %s\n",
           ratio[ROUNDS / 2], ROUNDS, ratio[0], ratio[ROUNDS - 1], verdict(ratio[ROUNDS / 2], 0.65, 1));
    rc = 0;
cleanup:
    ml_adamw_free(o);
    ml_gpt_mix_free(mix);
    ml_gpt_free(a);
    ml_gpt_free(b);
    ml_gpt_free(base);
    free(x);
    free(y);
    return rc;
}

/* --split-bits: why results depend on the thread count. The same products
 * with the rows split into 1 and into 2 single-threaded OpenBLAS calls
 * (kernels/gemm.c), and how many outputs differ in their bits. */
static int split_bits(void) {
    static const int shapes[][3] = { { 128, 256, 784 }, { 128, 128, 256 }, { 2048, 384, 128 }, { 2048, 128, 512 } };
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = malloc(sizeof(float) * (size_t)M * K), *B = malloc(sizeof(float) * (size_t)N * K);
        float *C1 = malloc(sizeof(float) * (size_t)M * N), *C2 = malloc(sizeof(float) * (size_t)M * N);
        if (!A || !B || !C1 || !C2) return 3;
        for (long i = 0; i < (long)M * K; i++) A[i] = ml_rng_uniform(5, 1, (uint64_t)i) - 0.5f;
        for (long i = 0; i < (long)N * K; i++) B[i] = ml_rng_uniform(5, 2, (uint64_t)i) - 0.5f;
        ml_blas_set_threads(1);
        ml_gemm_nt(M, N, K, A, B, 0.0f, C1);
        ml_blas_set_threads(2);
        ml_gemm_nt(M, N, K, A, B, 0.0f, C2);
        long differ = 0;
        for (long i = 0; i < (long)M * N; i++) differ += memcmp(&C1[i], &C2[i], sizeof(float)) != 0;
        printf("(%d x %d) . (%d x %d)^T  1 vs 2 threads: %ld of %ld outputs differ in their bits\n", M, K, N, K,
               differ, (long)M * N);
        free(A); free(B); free(C1); free(C2);
    }
    return 0;
}

/* --peak-only: the sgemm peak alone, "<GFLOP/s> <kernel family>", for the
 * parent's pinned-against-native line. */
static int peak_only(void) {
    double p[5];
    for (int r = 0; r < 5; r++) p[r] = sgemm_peak();
    printf("%.3f %s\n", median_of(p, 5), openblas_get_corename());
    return 0;
}

/* This program's path into buf; 1, or 0 (buf "") when it cannot be read. */
static int self_path(char *buf, size_t size) {
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    buf[n > 0 ? n : 0] = '\0';
    return n > 0;
}

/* What the pin costs: the sgemm peak here (pinned, or as chosen) against
 * OpenBLAS's own choice for this CPU, measured in a child process because
 * OpenBLAS picks its kernels once, when it is loaded. */
static void pin_cost(int threads) {
    char cmd[4200], self[4096], line[128], core[64] = "?";
    double native = NAN, p[5];
    int n = self_path(self, sizeof(self));   /* in popen's shell /proc/self/exe would name sh */
    snprintf(cmd, sizeof(cmd), "'%s' --blas-core native --peak-only --threads %d", n ? self : "build/mlbench", threads);
    FILE *f = popen(cmd, "r");
    if (f && fgets(line, sizeof(line), f)) sscanf(line, "%lf %63s", &native, core);
    if (f) pclose(f);
    for (int r = 0; r < 5; r++) p[r] = sgemm_peak();
    double here = median_of(p, 5);
    printf("sgemm peak, this run (%s)         %8.1f GFLOP/s median of 5\n", openblas_get_corename(), here);
    printf("sgemm peak, native (%s)%*s%8.1f GFLOP/s median of 5, in a child process; this run / native = %.2f\n",
           core, (int)(14 - strlen(core) > 0 ? 14 - strlen(core) : 1), "", native, here / native);
}


/* ---- the GPT step against PyTorch --------------------------------------- */

typedef struct { int C, L, NH; } gpt_shape;
enum { GPT_V = 96, GPT_B = 16, GPT_T = 128 };

static ml_gpt_config shape_config(gpt_shape s) {
    ml_gpt_config c = { GPT_V, GPT_T, s.L, s.NH, s.C };
    return c;
}

/* one mergelab model with its optimizer and batch, kept across rounds */
typedef struct {
    ml_gpt *m;
    ml_adamw *o;
    int32_t *x, *y;
} gpt_rig;

static void rig_free(gpt_rig *r) {
    ml_adamw_free(r->o);
    ml_gpt_free(r->m);
    free(r->x);
    free(r->y);
    memset(r, 0, sizeof(*r));
}

static int rig_new(gpt_rig *r, gpt_shape s) {
    ml_gpt_config cfg = shape_config(s);
    ml_adamw_config oc = { 1e-3f, 0.9f, 0.99f, 1e-8f, 0.1f };
    int N = GPT_B * GPT_T;
    memset(r, 0, sizeof(*r));
    r->x = malloc(sizeof(int32_t) * N);
    r->y = malloc(sizeof(int32_t) * N);
    if (!r->x || !r->y || ml_gpt_new(&r->m, &cfg, GPT_B, GPT_T) < 0 || ml_adamw_new(&r->o, &r->m->layout, &oc) < 0) {
        rig_free(r);
        return -1;
    }
    ml_gpt_init(r->m, 1);
    for (int i = 0; i < N; i++) {
        r->x[i] = (int32_t)ml_rng_below(1, 9, (uint64_t)i, (uint64_t)GPT_V);
        r->y[i] = (int32_t)ml_rng_below(1, 10, (uint64_t)i, (uint64_t)GPT_V);
    }
    return 0;
}

/* Median ms of `steps` training steps (after 2 warm-ups), as a suite trains:
 * forward, zeroed gradients, backward, clipping, AdamW; forward_only times
 * the evaluation forward (with its loss) instead. */
static double rig_ms(gpt_rig *r, int threads, int steps, int forward_only) {
    double t[64];
    if (steps > 64) steps = 64;
    ml_blas_set_threads(threads);
    for (int s = -2; s < steps; s++) {
        double t0 = now_s();
        ml_gpt_forward(r->m, r->x, r->y, GPT_B, GPT_T, -1, NULL);
        if (!forward_only) {
            ml_par_zero(r->m->grads, (long)r->m->layout.total);
            ml_gpt_backward(r->m, r->x, r->y, NULL);
            ml_clip_grad_norm(r->m->grads, r->m->layout.total, 1.0);
            ml_adamw_step(r->o, r->m->params, r->m->grads, 1e-3f, NULL);
        }
        if (s >= 0) t[s] = now_s() - t0;
    }
    return median_of(t, steps) * 1e3;
}

/* bench/torch_gpt.py beside this binary's build folder, and the Python
 * that has Debian's python3-torch */
static void torch_paths(char *script, size_t n, const char **python) {
    char self[4096];
    int k = self_path(self, sizeof(self));
    char *slash = strrchr(self, '/');
    if (slash) *slash = '\0';
    snprintf(script, n, "%s/../bench/torch_gpt.py", k ? self : ".");
    *python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

/* A PyTorch process answering "step ..." lines (bench/torch_gpt.py serve).
 * core NULL: OpenBLAS picks its kernels for this CPU (what a PyTorch user
 * gets); else those kernels, as mergelab's pin. */
typedef struct { pid_t pid; FILE *to, *from; } torch_proc;

static int torch_start(torch_proc *t, const char *core) {
    char script[4200];
    const char *python;
    int in[2], out[2];
    torch_paths(script, sizeof(script), &python);
    memset(t, 0, sizeof(*t));
    /* close-on-exec, or the next PyTorch child would hold this one's stdin open */
    if (pipe2(in, O_CLOEXEC) < 0) return -1;
    if (pipe2(out, O_CLOEXEC) < 0) { close(in[0]); close(in[1]); return -1; }
    fflush(NULL);
    t->pid = fork();
    if (t->pid < 0) return -1;
    if (t->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]); close(in[1]); close(out[0]); close(out[1]);
        if (core) setenv("OPENBLAS_CORETYPE", core, 1);
        else unsetenv("OPENBLAS_CORETYPE");
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        execlp(python, python, script, "serve", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    t->to = fdopen(in[1], "w");
    t->from = fdopen(out[0], "r");
    return t->to && t->from ? 0 : -1;
}

static double torch_ms(torch_proc *t, gpt_shape s, int threads, int steps) {
    char line[128];
    if (!t->to) return NAN;
    fprintf(t->to, "step %d %d %d %d %d %d %d %d\n", threads, steps, GPT_V, GPT_T, s.L, s.NH, s.C, GPT_B);
    fflush(t->to);
    if (!fgets(line, sizeof(line), t->from)) return NAN;
    char *end;
    double ms = strtod(line, &end);
    return end == line ? NAN : ms;
}

static void torch_stop(torch_proc *t) {
    if (t->to) fclose(t->to);
    if (t->from) fclose(t->from);
    if (t->pid > 0) waitpid(t->pid, NULL, 0);
    memset(t, 0, sizeof(*t));
}

/* The dump bench/torch_gpt.py check reads: "MLGPTDMP", V maxT L NH C B T
 * total (int32), params, x, y, loss (f32), flops (f64), gradients. */
static int write_dump(const char *path, const gpt_rig *r, float loss, double flops, float grad_sign) {
    const ml_gpt_config *c = &r->m->cfg;
    int32_t head[8] = { c->vocab_size, c->max_T, c->n_layer, c->n_head, c->n_embd, GPT_B, GPT_T,
                        (int32_t)r->m->layout.total };
    size_t total = r->m->layout.total, N = (size_t)GPT_B * GPT_T;
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite("MLGPTDMP", 1, 8, f) == 8 && fwrite(head, sizeof(head), 1, f) == 1 &&
             fwrite(r->m->params, sizeof(float), total, f) == total && fwrite(r->x, sizeof(int32_t), N, f) == N &&
             fwrite(r->y, sizeof(int32_t), N, f) == N && fwrite(&loss, sizeof(float), 1, f) == 1 &&
             fwrite(&flops, sizeof(double), 1, f) == 1;
    for (size_t i = 0; ok && i < total; i++) {
        float g = grad_sign * r->m->grads[i];
        ok = fwrite(&g, sizeof(float), 1, f) == 1;
    }
    return fclose(f) == 0 && ok ? 0 : -1;
}

static int run_check(const char *dump, int quiet) {
    char script[4200], cmd[8600];
    const char *python;
    torch_paths(script, sizeof(script), &python);
    snprintf(cmd, sizeof(cmd), "'%s' '%s' check '%s'%s", python, script, dump, quiet ? " >/dev/null 2>&1" : "");
    fflush(NULL);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* PyTorch on mergelab's own initial weights and batch: the same loss to
 * 1e-5, the same gradients, the same matmul FLOPs. Then two damaged dumps
 * (the loss moved by 2e-5, every gradient's sign flipped) must fail it, so
 * the check is known to be able to fail. Returns 0 when all three hold. */
static int torch_check(gpt_shape s) {
    gpt_rig r;
    char path[] = "/tmp/mlbench-dump.XXXXXX";
    int fd = mkstemp(path), rc = 3;
    if (fd < 0 || rig_new(&r, s) < 0) { if (fd >= 0) { close(fd); unlink(path); } return 3; }
    close(fd);
    ml_blas_set_threads(1);
    ml_gpt_config cfg = shape_config(s);
    float loss = ml_gpt_forward(r.m, r.x, r.y, GPT_B, GPT_T, -1, NULL);
    ml_par_zero(r.m->grads, (long)r.m->layout.total);
    ml_gpt_backward(r.m, r.x, r.y, NULL);
    double flops = ml_gpt_step_flops(&cfg, GPT_B, GPT_T);
    printf("pytorch check, d=%d L=%d: mergelab's initial weights and batch in bench/torch_gpt.py\n", s.C, s.L);
    if (write_dump(path, &r, loss, flops, 1.0f) < 0) goto cleanup;
    int good = run_check(path, 0);
    if (good == 127 || good == 128) { printf("pytorch check: could not run (install python3-torch)\n"); goto cleanup; }
    int bad_loss = write_dump(path, &r, loss + 2e-5f, flops, 1.0f) < 0 ? -1 : run_check(path, 1);
    int bad_grad = write_dump(path, &r, loss, flops, -1.0f) < 0 ? -1 : run_check(path, 1);
    printf("pytorch check: negative controls (loss + 2e-5, gradients' signs flipped) rejected: %s, %s\n",
           bad_loss == 1 ? "yes" : "NO", bad_grad == 1 ? "yes" : "NO");
    rc = good == 0 && bad_loss == 1 && bad_grad == 1 ? 0 : 1;
cleanup:
    unlink(path);
    rig_free(&r);
    return rc;
}

static void ratio_line(const char *what, double value, const char *unit, double ref, const char *refwhat,
                       double ratio, double target, double floor_) {
    char tgt[48];
    if (floor_ > 0) snprintf(tgt, sizeof(tgt), ">= %.2f (floor %.2f)", target, floor_);
    else snprintf(tgt, sizeof(tgt), ">= %.2f", target);
    printf("%-40s %8.1f %-7s ref %8.1f %-26s ratio %5.2f  target %-20s %s\n", what, value, unit, ref, refwhat,
           ratio, tgt, isnan(ratio) ? (n_short++, "NOT measured") : verdict(ratio, target, 1));
}

/* One model size: rounds alternate PyTorch (2 kernel choices x 1 and N
 * threads), mergelab (N threads, 1 thread, forward only) and the sgemm
 * peak, so a slow spell of the shared machine hits every column; each
 * figure is the median of its rounds. */
static int bench_gpt(gpt_shape s, int threads, int rounds, int steps, double step_target, int use_torch) {
    enum { MAXR = 15 };
    gpt_rig r;
    torch_proc tp[2];
    const char *core = openblas_get_corename();
    double tt[2][2][MAXR], ml[MAXR], ml1[MAXR], fw[MAXR], pk[MAXR];
    if (rounds > MAXR) rounds = MAXR;
    if (rig_new(&r, s) < 0) return 3;
    ml_gpt_config cfg = shape_config(s);
    double flops = ml_gpt_step_flops(&cfg, GPT_B, GPT_T);
    for (int p = 0; p < 2; p++)
        if (!use_torch || torch_start(&tp[p], p ? core : NULL) < 0) memset(&tp[p], 0, sizeof(tp[p]));
    for (int k = 0; k < rounds; k++) {
        ml_blas_set_threads(threads);
        pk[k] = sgemm_peak();
        for (int p = 0; p < 2; p++)
            for (int th = 0; th < 2; th++) tt[p][th][k] = torch_ms(&tp[p], s, th ? threads : 1, steps);
        ml[k] = rig_ms(&r, threads, steps, 0);
        ml1[k] = rig_ms(&r, 1, steps, 0);
        fw[k] = rig_ms(&r, threads, steps, 1);
    }
    for (int p = 0; p < 2; p++) torch_stop(&tp[p]);
    ml_blas_set_threads(threads);
    double t[2][2], m = median_of(ml, rounds), m1 = median_of(ml1, rounds), f = median_of(fw, rounds);
    double peak = median_of(pk, rounds);
    for (int p = 0; p < 2; p++)
        for (int th = 0; th < 2; th++) t[p][th] = median_of(tt[p][th], rounds);
    printf("gpt d=%d L=%d NH=%d B=%d T=%d: %.2f GFLOP per step; medians of %d rounds of %d steps\n", s.C, s.L, s.NH,
           GPT_B, GPT_T, flops / 1e9, rounds, steps);
    printf("  pytorch, OpenBLAS's own kernels   1 thread %8.1f ms   %d threads %8.1f ms\n", t[0][0], threads, t[0][1]);
    printf("  pytorch, %-10s kernels        1 thread %8.1f ms   %d threads %8.1f ms\n", core, t[1][0], threads, t[1][1]);
    printf("  mergelab, %-10s kernels       1 thread %8.1f ms   %d threads %8.1f ms   forward only %8.1f ms\n",
           core, m1, threads, m, f);
    printf("  sgemm peak (%d threads)           %8.1f GFLOP/s\n", threads, peak);
    /* PyTorch's best: the fastest of its four configurations (NaN when absent) */
    int bp = 0, bt = 0;
    for (int p = 0; p < 2; p++)
        for (int th = 0; th < 2; th++)
            if (!isnan(t[p][th]) && (isnan(t[bp][bt]) || t[p][th] < t[bp][bt])) { bp = p; bt = th; }
    double best1 = isnan(t[0][0]) || t[1][0] < t[0][0] ? t[1][0] : t[0][0];
    char what[64], ref[48];
    snprintf(ref, sizeof(ref), "pytorch best (%s, %d thr)", bp ? core : "own", bt ? threads : 1);
    snprintf(what, sizeof(what), "d=%d step, %d threads, vs pytorch", s.C, threads);
    ratio_line(what, m, "ms", t[bp][bt], ref, t[bp][bt] / m, 2.0, 1.6);
    snprintf(what, sizeof(what), "d=%d step, 1 thread, vs pytorch", s.C);
    ratio_line(what, m1, "ms", best1, "pytorch best on 1 thread", best1 / m1, 1.2, 0);
    snprintf(what, sizeof(what), "d=%d step GFLOP/s / sgemm peak", s.C);
    ratio_line(what, flops / m / 1e6, "GFLOP/s", peak, "sgemm peak GFLOP/s", flops / m / 1e6 / peak, step_target, 0);
    snprintf(what, sizeof(what), "d=%d two-thread scaling", s.C);
    ratio_line(what, m, "ms", m1, "mergelab on 1 thread", m1 / m, 1.85, 0);
    snprintf(what, sizeof(what), "d=%d forward-only GFLOP/s / peak", s.C);
    ratio_line(what, flops / 3 / f / 1e6, "GFLOP/s", peak, "sgemm peak GFLOP/s", flops / 3 / f / 1e6 / peak, 0.70, 0);
    rig_free(&r);
    return 0;
}

/* --only step / forward: mergelab's training step or evaluation forward
 * alone, for perf record */
static int step_only(int threads, int steps, int forward_only) {
    gpt_rig r;
    gpt_shape s = { 128, 4, 4 };
    if (rig_new(&r, s) < 0) return 3;
    for (int k = 0; k < 5; k++)
        printf("gpt %s d=128, %d threads: %.1f ms\n", forward_only ? "forward" : "step", threads,
               rig_ms(&r, threads, steps, forward_only));
    rig_free(&r);
    return 0;
}

int main(int argc, char **argv) {
    if (ml_platform_init(&argc, argv) < 0) {
        fprintf(stderr, "mlbench: %s\n", ml_error_last()->message);
        return 2;
    }
    int threads = 2, steps = 10, rounds = 5, gate = 0, peak = 0;
    const char *only = "";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--peak-only")) peak = 1;
        else if (!strcmp(argv[i], "--split-bits")) return split_bits();
        else if (!strcmp(argv[i], "--gate")) gate = 1;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--targets-times") && i + 1 < argc) target_times = atof(argv[++i]);
        else {
            fprintf(stderr, "mlbench: unknown option '%s'\nusage: mlbench [--threads N] [--rounds N] [--steps N] "
                            "[--gate] [--targets-times F] [--only step|forward|torch|gpt|cka|router] [--split-bits] "
                            "[--peak-only]\n", argv[i]);
            return 2;
        }
    }
    if (threads < 1 || steps < 1 || rounds < 1 || !(target_times > 0)) {
        fprintf(stderr, "mlbench: --threads, --steps and --rounds want numbers >= 1, --targets-times one > 0\n");
        return 2;
    }
    static const char *const whats[] = { "", "step", "forward", "torch", "gpt", "cka", "router" };
    int known = 0;
    for (size_t i = 0; i < sizeof(whats) / sizeof(whats[0]); i++) known |= !strcmp(only, whats[i]);
    if (!known) {
        fprintf(stderr, "mlbench: --only '%s': want step, forward, torch, gpt, cka or router\n", only);
        return 2;
    }
    ml_blas_set_threads(threads);
    if (peak) return peak_only();
    if (!strcmp(only, "step") || !strcmp(only, "forward")) return step_only(threads, steps, !strcmp(only, "forward"));
    printf("mergelab bench: %s (%s), %d threads\n", openblas_get_config(), openblas_get_corename(), ml_blas_threads());
    int all = !*only, rc = 0, torch_ok = 0;
    if (all) pin_cost(threads);
    if (all || !strcmp(only, "torch") || !strcmp(only, "gpt")) {
        gpt_shape s128 = { 128, 4, 4 }, s256 = { 256, 4, 4 };
        int c = torch_check(s128);
        torch_ok = c == 0;
        if (c) { n_short++; printf("pytorch check: FAILED, so PyTorch is not raced\n"); }
        if (strcmp(only, "torch")) {
            if ((rc = bench_gpt(s128, threads, rounds, steps, 0.65, torch_ok))) return rc;
            if ((rc = bench_gpt(s256, threads, rounds, steps, 0.75, torch_ok))) return rc;
        }
    }
    if (all || !strcmp(only, "router")) rc = bench_router();
    if (!rc && (all || !strcmp(only, "cka"))) rc = bench_cka();
    if (rc) return rc;
    printf("%d line(s) short of target\n", n_short);
    return gate && n_short ? 1 : 0;
}

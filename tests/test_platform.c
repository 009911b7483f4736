/*
 * tests/test_platform.c: one numeric platform wherever mergelab runs.
 * - mergelab's own vectorised loops give the same bits in every ISA variant;
 * - the pin: the smoke suite is memcmp-identical whether the caller's
 *   OPENBLAS_CORETYPE is unset, Haswell or Sandybridge, and under taskset
 *   on one core (the suite's threads decide, not the machine's cores);
 * - with the pin off and another kernel family, the stored baseline still
 *   passes, flagged as another platform;
 * - `show` prints the platform; a bad --blas-core is exit 2;
 * - make deps installs a missing C compiler (a fake PATH without cc).
 */
#include "tests/test.h"
#include "tests/util.h"
#include "store/results.h"
#include "kernels/layers.h"
#include "kernels/platform.h"
#include "core/fs.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- ISA variants -------------------------------------------------------- */

enum { NORMAL = 40003 };   /* odd: every vector tail length is hit below */

static float edge_value(long i) {
    static const float edge[] = { 0.0f, -0.0f, 1e-40f, -1e-40f, FLT_MIN, -FLT_MIN, FLT_MAX, -FLT_MAX,
                                  1.0f / 0.0f, -1.0f / 0.0f, 88.0f, -87.0f, 88.5f, -87.5f, 1e4f, -1e4f,
                                  20.0f, -20.0f, 9.0f, -9.0f, 1e-7f, -1e-7f, 0.5f, -0.5f };
    return edge[i % (long)(sizeof(edge) / sizeof(edge[0]))];
}

/* x (n) <- ordinary values in [-8, 8), with the edge cases spliced in */
static void fill_inputs(float *x, float *dy, long n) {
    ml_t_fill_uniform(x, n, 14, 1, -8.0f, 8.0f);
    ml_t_fill_uniform(dy, n, 14, 2, -1.0f, 1.0f);
    for (long i = 0; i < n; i += 97) x[i] = edge_value(i / 97);
}

/* Every element-wise kernel of layers.c on x: 5 outputs of n each into out (5n). */
static void run_all(float *out, const float *x, const float *dy, long n) {
    float *y = out, *dx = out + n, *ys = out + 2 * n, *d = out + 3 * n, *m = out + 4 * n;
    ml_gelu_forward(y, x, n);
    for (long i = 0; i < n; i++) dx[i] = 0.25f;   /* backward accumulates */
    ml_gelu_backward(dx, dy, x, n);
    ml_gelu_forward_slope(ys, d, x, n);
    ml_mul_slope(m, dy, d, n);
}

static void test_platform__isa_variants_bit_identical(void) {
    long n = NORMAL;
    float *x = malloc(sizeof(float) * (size_t)n), *dy = malloc(sizeof(float) * (size_t)n);
    float *ref = malloc(sizeof(float) * 5 * (size_t)n), *got = malloc(sizeof(float) * 5 * (size_t)n);
    int tried = 0;
    ML_ASSERT(x && dy && ref && got);
    fill_inputs(x, dy, n);
    ML_ASSERT_EQ_INT(0, ml_isa_force(ML_ISA_BASELINE));
    run_all(ref, x, dy, n);
    for (int level = 0; level < ML_ISA_COUNT; level++) {
        if (!ml_isa_supported(level)) continue;
        ML_ASSERT_EQ_INT(0, ml_isa_force(level));
        ML_ASSERT_EQ_INT(level, ml_isa_level());
        run_all(got, x, dy, n);
        /* short lengths: each tail of an 8- and a 4-lane loop */
        for (long k = 1; k <= 17; k++) {
            float sref[5 * 17], sgot[5 * 17];
            ml_isa_force(ML_ISA_BASELINE);
            run_all(sref, x + 100, dy + 100, k);
            ml_isa_force(level);
            run_all(sgot, x + 100, dy + 100, k);
            ML_ASSERT_MSG(!memcmp(sref, sgot, sizeof(float) * 5 * (size_t)k), "%s differs at length %ld",
                          ml_isa_name(level), k);
        }
        for (long i = 0; i < 5 * n; i++)
            ML_ASSERT_MSG(!memcmp(&ref[i], &got[i], sizeof(float)), "%s: output %ld (kernel %ld, x = %.9g): %.9g vs %.9g",
                          ml_isa_name(level), i % n, i / n, x[i % n], ref[i], got[i]);
        tried++;
    }
    ml_isa_force(-1);
    /* the comparison must see a one-ulp change (negative test of the checker) */
    uint32_t u;
    memcpy(&u, &got[12345], sizeof(u));
    u ^= 1u;
    memcpy(&got[12345], &u, sizeof(u));
    ML_ASSERT(memcmp(ref, got, sizeof(float) * 5 * (size_t)n) != 0);
    fprintf(stderr, "    %d ISA variant%s compared bit for bit (%s in force here)\n", tried, tried == 1 ? "" : "s",
            ml_isa_name(ml_isa_level()));
    free(x); free(dy); free(ref); free(got);
}

/* attention's softmax loops are ISA variants too (kernels/attention.c):
 * forward and backward of odd shapes, with a large score in each row
 * (the max) and the causal tails, give the same bits under each variant */
static void attention_all(float *out, const float *qkv, const float *dy, int B, int T, int C, int NH) {
    long n = (long)B * T * C, a = (long)B * NH * T * T;
    float *y = out, *att = out + n, *dqkv = att + a, *datt = dqkv + 3 * n;
    memset(dqkv, 0, sizeof(float) * 3 * (size_t)n);   /* the backward accumulates */
    ml_attention_forward(y, att, qkv, B, T, C, NH);
    ml_attention_backward(dqkv, datt, dy, qkv, att, B, T, C, NH);
}

static void test_platform__isa_attention_bit_identical(void) {
    enum { B = 2, T = 37, C = 24, NH = 3 };
    long n = (long)B * T * C, a = (long)B * NH * T * T, tot = n + a + 3 * n + a;
    float *qkv = malloc(sizeof(float) * 3 * (size_t)n), *dy = malloc(sizeof(float) * (size_t)n);
    float *ref = malloc(sizeof(float) * (size_t)tot), *got = malloc(sizeof(float) * (size_t)tot);
    int tried = 0;
    ML_ASSERT(qkv && dy && ref && got);
    ml_t_fill_uniform(qkv, 3 * n, 15, 1, -3.0f, 3.0f);
    ml_t_fill_uniform(dy, n, 15, 2, -1.0f, 1.0f);
    for (long i = 0; i < 3 * n; i += 29) qkv[i] = 9.0f;   /* scores far above the rest: max and exp's range */
    ML_ASSERT_EQ_INT(0, ml_isa_force(ML_ISA_BASELINE));
    attention_all(ref, qkv, dy, B, T, C, NH);
    for (int level = 0; level < ML_ISA_COUNT; level++) {
        if (!ml_isa_supported(level)) continue;
        ML_ASSERT_EQ_INT(0, ml_isa_force(level));
        attention_all(got, qkv, dy, B, T, C, NH);
        for (long i = 0; i < tot; i++)
            ML_ASSERT_MSG(!memcmp(&ref[i], &got[i], sizeof(float)), "%s: attention output %ld: %.9g vs %.9g",
                          ml_isa_name(level), i, ref[i], got[i]);
        tried++;
    }
    ml_isa_force(-1);
    got[n + 5] = nextafterf(got[n + 5], 2.0f);   /* negative test: one ulp is seen */
    ML_ASSERT(memcmp(ref, got, sizeof(float) * (size_t)tot) != 0);
    fprintf(stderr, "    attention under %d ISA variant%s compared bit for bit\n", tried, tried == 1 ? "" : "s");
    free(qkv); free(dy); free(ref); free(got);
}

static void test_platform__isa_force_refuses_unknown(void) {
    ML_ASSERT(ml_isa_force(ML_ISA_COUNT) < 0);
    ML_ASSERT(ml_isa_force(-1) == 0);
}

/* ---- the pin, end to end ------------------------------------------------- */

/* The results' cells with the volatile keys (times) removed, as text. */
static char *cells_text(const char *path) {
    cJSON *doc = NULL;
    if (ml_results_load(&doc, path) < 0) return NULL;
    ml_results_strip_volatile(doc);
    char *s = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(doc, "cells"));
    cJSON_Delete(doc);
    return s;
}

static char *field(const char *path, const char *a, const char *b, const char *c) {
    cJSON *doc = NULL;
    char *out = NULL;
    if (ml_results_load(&doc, path) < 0) return NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(doc, a), b), c);
    if (cJSON_IsString(v)) out = strdup(v->valuestring);
    cJSON_Delete(doc);
    return out;
}

/* Runs the smoke suite with a shell prefix (environment, taskset) into dir. */
static int run_smoke(const char *dir, const char *prefix, char **out) {
    return ml_t_sh(out, "%s \"$ML_BIN\" run suites/smoke.json -o %s --quiet --no-cache", prefix, dir);
}

static void test_platform__pin_ignores_coretype(void) {
    const char *ref = ml_t_run_once("suites/smoke.json");   /* the test process's environment */
    char dir[256], a[300], b[300], *out = NULL;
    ML_ASSERT(ref != NULL);
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "pin"));
    snprintf(a, sizeof(a), "%s/unset", dir);
    snprintf(b, sizeof(b), "%s/sandy", dir);
    /* both at once: the suite's threads, not the load, decide the bits */
    int rc = ml_t_sh(&out, "env -u OPENBLAS_CORETYPE -u MERGELAB_BLAS_CORE \"$ML_BIN\" run suites/smoke.json -o %s "
                     "--quiet --no-cache & OPENBLAS_CORETYPE=Sandybridge env -u MERGELAB_BLAS_CORE \"$ML_BIN\" run "
                     "suites/smoke.json -o %s --quiet --no-cache; s=$?; wait $! && exit $s", a, b);
    ML_ASSERT_MSG(rc == 0, "%s", out);
    free(out);
    char ra[400], rb[400];
    snprintf(ra, sizeof(ra), "%s/smoke.json", a);
    snprintf(rb, sizeof(rb), "%s/smoke.json", b);
    char *t0 = cells_text(ref), *t1 = cells_text(ra), *t2 = cells_text(rb);
    char *core1 = field(ra, "provenance", "platform", "blas_core"), *core2 = field(rb, "provenance", "platform", "blas_core");
    ml_t_rmrf(dir);
    ML_ASSERT(t0 && t1 && t2);
    ML_ASSERT_MSG(core1 && !strcmp(core1, "Haswell") && core2 && !strcmp(core2, "Haswell") ,
                  "pinned runs ran on %s and %s", core1 ? core1 : "?", core2 ? core2 : "?");
    ML_ASSERT_MSG(!strcmp(t0, t1), "OPENBLAS_CORETYPE unset gave other results than the pinned reference");
    ML_ASSERT_MSG(!strcmp(t0, t2), "OPENBLAS_CORETYPE=Sandybridge gave other results than the pinned reference");
    free(t0); free(t1); free(t2); free(core1); free(core2);
}

/* the suite's threads decide the results, not the machine's cores */
static void test_platform__one_core_same_bits(void) {
    const char *ref = ml_t_run_once("suites/smoke.json");
    char dir[256], *out = NULL, res[400];
    ML_ASSERT(ref != NULL);
    if (ml_t_sh(NULL, "command -v taskset") != 0) ML_FAIL_("taskset (util-linux) is not installed");
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "taskset"));
    int rc = run_smoke(dir, "taskset -c 0", &out);
    ML_ASSERT_MSG(rc == 0, "%s", out);
    free(out);
    snprintf(res, sizeof(res), "%s/smoke.json", dir);
    char *t0 = cells_text(ref), *t1 = cells_text(res);
    ml_t_rmrf(dir);
    ML_ASSERT(t0 && t1);
    ML_ASSERT_MSG(!strcmp(t0, t1), "taskset -c 0 changed the results");
    free(t0); free(t1);
}

/* pin off, another kernel family: the stored baseline passes, and the check
 * says the platforms differ (it moved, within the measured tolerances) */
static void test_platform__pin_off_gate_across_platforms(void) {
    const char *ref = ml_t_run_once("suites/smoke.json");
    char dir[256], *out = NULL, res[400];
    ML_ASSERT(ref != NULL);
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "nopin"));
    int rc = ml_t_sh(&out, "\"$ML_BIN\" --blas-core Sandybridge run suites/smoke.json -o %s --quiet --no-cache", dir);
    ML_ASSERT_MSG(rc == 0, "%s", out);
    free(out);
    snprintf(res, sizeof(res), "%s/smoke.json", dir);
    char *core = field(res, "provenance", "platform", "blas_core");
    char *choice = field(res, "provenance", "platform", "blas_choice");
    char *t0 = cells_text(ref), *t1 = cells_text(res);
    rc = ml_t_cli(&out, "check %s --baseline fixtures/baselines/smoke.json", res);
    ml_t_rmrf(dir);
    ML_ASSERT_MSG(core && !strcmp(core, "Sandybridge"), "ran on %s", core ? core : "?");
    ML_ASSERT_MSG(choice && !strcmp(choice, "Sandybridge"), "choice recorded as %s", choice ? choice : "?");
    /* it did move: otherwise this test would prove nothing about tolerances */
    ML_ASSERT_MSG(t0 && t1 && strcmp(t0, t1), "Sandybridge gave the Haswell bits; pick a kernel family that differs");
    ML_ASSERT_MSG(rc == 0, "%s", out);
    ML_ASSERT_STR_HAS(out, "different numeric platforms: baseline OpenBLAS 0.3.21 Haswell, 2 threads, now OpenBLAS 0.3.21 Sandybridge");
    free(out); free(core); free(choice); free(t0); free(t1);
}

static void test_platform__show_prints_platform(void) {
    const char *ref = ml_t_run_once("suites/smoke.json");
    char *out = NULL;
    ML_ASSERT(ref != NULL);
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "show %s", ref));
    ML_ASSERT_STR_HAS(out, "  platform    OpenBLAS ");
    ML_ASSERT_STR_HAS(out, " (pinned), kernels ");
    ML_ASSERT_STR_HAS(out, ", glibc ");
    ML_ASSERT_STR_HAS(out, ", 2 threads");
    free(out);
}

static void test_platform__bad_choice_is_usage(void) {
    char *out = NULL;
    ML_ASSERT_EQ_INT(2, ml_t_cli(&out, "--blas-core NoSuchCore --version"));
    ML_ASSERT_STR_HAS(out, "--blas-core NoSuchCore: this OpenBLAS");
    free(out);
    ML_ASSERT_EQ_INT(2, ml_t_sh(&out, "MERGELAB_BLAS_CORE='../x' \"$ML_BIN\" --version"));
    ML_ASSERT_STR_HAS(out, "$MERGELAB_BLAS_CORE: '../x' is not pinned, native, env or a kernel name");
    free(out);
    ML_ASSERT_EQ_INT(2, ml_t_cli(&out, "--version --blas-core"));
    free(out);
    /* native and env are accepted choices */
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "--blas-core native --version"));
    free(out);
}

/* ---- make deps without a compiler ---------------------------------------- */

/* A PATH holding only what the deps recipe runs, minus cc/gcc; fake id and
 * apt-get record what would be installed. */
static int fake_path(char *dir, size_t size, int root) {
    static const char *const tools[] = { "bash", "sh", "make", "pkg-config", "git", "cat", "env", NULL };
    char path[512], *which = NULL;
    if (ml_t_tmpdir(dir, size, "nocc") < 0) return -1;
    for (int i = 0; tools[i]; i++) {
        if (ml_t_sh(&which, "command -v %s", tools[i]) != 0) { free(which); continue; }
        which[strcspn(which, "\n")] = '\0';
        snprintf(path, sizeof(path), "%s/%s", dir, tools[i]);
        if (symlink(which, path) < 0) { free(which); return -1; }
        free(which);
    }
    char script[256];
    snprintf(script, sizeof(script), "#!/bin/sh\necho %d\n", root ? 0 : 1000);
    if (ml_t_write(path, sizeof(path), dir, "id", script) < 0 || chmod(path, 0755) < 0) return -1;
    snprintf(script, sizeof(script), "#!/bin/sh\necho \"$@\" >> %s/apt.log\nexit 0\n", dir);
    if (ml_t_write(path, sizeof(path), dir, "apt-get", script) < 0 || chmod(path, 0755) < 0) return -1;
    return 0;
}

static void test_platform__deps_installs_compiler(void) {
    char dir[256], *out = NULL, log[400], *text = NULL;
    size_t len;
    /* not root: the exact line to run, exit 2 */
    ML_ASSERT_EQ_INT(0, fake_path(dir, sizeof(dir), 0));
    int rc = ml_t_sh(&out, "PATH=%s make -s --no-print-directory deps", dir);
    ML_ASSERT_MSG(rc == 2, "exit %d: %s", rc, out);
    ML_ASSERT_STR_HAS(out, "missing Debian packages: gcc libc6-dev");
    ML_ASSERT_STR_HAS(out, "run as root:  apt-get update && apt-get install -y gcc libc6-dev");
    free(out);
    ml_t_rmrf(dir);
    /* root: apt-get is asked for the compiler */
    ML_ASSERT_EQ_INT(0, fake_path(dir, sizeof(dir), 1));
    rc = ml_t_sh(&out, "PATH=%s make -s --no-print-directory deps", dir);
    snprintf(log, sizeof(log), "%s/apt.log", dir);
    int have = ml_fs_read_all(&text, &len, log) == 0;
    ml_t_rmrf(dir);
    ML_ASSERT_MSG(rc == 0, "exit %d: %s", rc, out);
    ML_ASSERT_MSG(have, "apt-get was not called: %s", out);
    ML_ASSERT_STR_HAS(text, "install -y -qq --no-install-recommends gcc libc6-dev");
    free(out);
    free(text);
    /* a compiler the user chose is reported, not replaced by gcc */
    ML_ASSERT_EQ_INT(0, fake_path(dir, sizeof(dir), 1));
    rc = ml_t_sh(&out, "PATH=%s make -s --no-print-directory deps CC=no-such-cc", dir);
    ml_t_rmrf(dir);
    ML_ASSERT_EQ_INT(2, rc);
    ML_ASSERT_STR_HAS(out, "the compiler CC=no-such-cc is not on PATH");
    free(out);
}

const ml_test ml_tests_platform[] = {
    { "platform__isa_variants_bit_identical", test_platform__isa_variants_bit_identical, "unit" },
    { "platform__isa_attention_bit_identical", test_platform__isa_attention_bit_identical, "unit" },
    { "platform__isa_force_refuses_unknown", test_platform__isa_force_refuses_unknown, "unit" },
    { "platform__bad_choice_is_usage", test_platform__bad_choice_is_usage, "e2e" },
    { "platform__deps_installs_compiler", test_platform__deps_installs_compiler, "e2e" },
    { "platform__show_prints_platform", test_platform__show_prints_platform, "e2e" },
    { "platform__pin_ignores_coretype", test_platform__pin_ignores_coretype, "e2e" },
    { "platform__one_core_same_bits", test_platform__one_core_same_bits, "e2e" },
    { "platform__pin_off_gate_across_platforms", test_platform__pin_off_gate_across_platforms, "e2e" },
    { NULL, NULL, NULL }
};

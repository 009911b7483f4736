/*
 * tests/main.c: runs every registered test and prints "N passed, N failed".
 * Usage: mltest [--tier unit|e2e|check] [--list] [SUBSTRING...]
 *   --tier unit   only the fast in-process tests (sanitizer builds use it)
 *   --tier scale  MPI and a real Slurm (make check-scale; they start their own)
 *   --tier check  the long ones (fault walks, kill trials), which only this
 *                 option runs: `make check` does
 *   SUBSTRING     only tests whose name contains one of them
 * Exit 0 when nothing failed, 1 otherwise. e2e tests find the CLI binary
 * in $ML_BIN (the Makefile sets it).
 */
#include "tests/test.h"
#include "core/error.h"
#include "kernels/platform.h"

#include <stdlib.h>
#include <time.h>

int ml_test_failed_now;

extern const ml_test ml_tests_core[], ml_tests_kernels[], ml_tests_cka[],
    ml_tests_data[], ml_tests_suite[], ml_tests_reports[], ml_tests_provenance[], ml_tests_checkpoint[],
    ml_tests_gpt[], ml_tests_text[], ml_tests_gpt_tasks[], ml_tests_mlp_mix[],
    ml_tests_merge[], ml_tests_gpt_mix[], ml_tests_parallel[], ml_tests_mlp_router[],
    ml_tests_e2e[], ml_tests_stats[], ml_tests_harness[], ml_tests_schema[], ml_tests_report_page[], ml_tests_figures[], ml_tests_browser[], ml_tests_findings[], ml_tests_gate_holes[], ml_tests_platform[], ml_tests_verdict[], ml_tests_layout[], ml_tests_graph[], ml_tests_jobs[], ml_tests_hostile[], ml_tests_faults[], ml_tests_scale[], ml_tests_bench[];

static const ml_test *const tables[] = {
    ml_tests_core, ml_tests_kernels, ml_tests_cka, ml_tests_data,
    ml_tests_suite, ml_tests_reports, ml_tests_provenance, ml_tests_checkpoint, ml_tests_gpt, ml_tests_text, ml_tests_mlp_mix, ml_tests_merge, ml_tests_gpt_mix, ml_tests_parallel, ml_tests_mlp_router, ml_tests_e2e, ml_tests_gpt_tasks, ml_tests_stats, ml_tests_harness, ml_tests_schema, ml_tests_report_page, ml_tests_figures, ml_tests_browser, ml_tests_findings, ml_tests_gate_holes, ml_tests_platform, ml_tests_verdict, ml_tests_layout, ml_tests_graph, ml_tests_jobs, ml_tests_hostile, ml_tests_faults, ml_tests_scale, ml_tests_bench,
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    /* the tests run on the same numeric platform as the CLI they spawn */
    if (ml_platform_init(&argc, argv) < 0) {
        fprintf(stderr, "mltest: %s\n", ml_error_last()->message);
        return 2;
    }
    const char *tier = NULL;
    int list = 0, nfilters = 0, passed = 0, failed = 0;
    char **filters = calloc((size_t)argc, sizeof(char *));
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tier") && i + 1 < argc) tier = argv[++i];
        else if (!strcmp(argv[i], "--list")) list = 1;
        else filters[nfilters++] = argv[i];
    }
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
        for (const ml_test *x = tables[t]; x->name; x++) {
            if (tier && strcmp(tier, x->tier)) continue;
            /* minutes long, or needing MPI and Slurm: make check and make check-scale run them */
            if (!tier && (!strcmp(x->tier, "check") || !strcmp(x->tier, "scale"))) continue;
            int keep = nfilters == 0;
            for (int f = 0; f < nfilters; f++) keep |= strstr(x->name, filters[f]) != NULL;
            if (!keep) continue;
            if (list) { printf("%s [%s]\n", x->name, x->tier); continue; }
            ml_test_failed_now = 0;
            double t0 = now_s();
            x->fn();
            double dt = now_s() - t0;
            printf("%s %s (%.2fs)\n", ml_test_failed_now ? "FAIL" : "ok  ", x->name, dt);
            fflush(stdout);
            if (ml_test_failed_now) failed++; else passed++;
        }
    }
    free(filters);
    if (!list) printf("%d passed, %d failed\n", passed, failed);
    fflush(stdout);   /* a sanitizer's exit report must not swallow the count */
    return failed ? 1 : 0;
}

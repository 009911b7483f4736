/*
 * tests/test_parallel.c: the worker pool. Chunks cover [0, n) exactly once
 * whatever the thread count; a forked child (tests fork to catch crashes)
 * can still use the pool; jobs handed out back to back (the workers still
 * polling) and after pauses (the workers asleep) each run exactly once.
 */
#include "tests/test.h"
#include "kernels/gemm.h"
#include "kernels/parallel.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void mark(void *ctx, long lo, long hi) {
    int *hits = ctx;
    for (long i = lo; i < hi; i++) hits[i]++;
}

static void test_parallel__chunks_cover_once(void) {
    enum { N = 100003 };
    int *hits = calloc(N, sizeof(int)), bad = 0, before = ml_par_threads();
    for (int t = 1; t <= 3; t++) {
        ml_par_set_threads(t);
        memset(hits, 0, N * sizeof(int));
        ml_par_for(N, 1, mark, hits);
        for (int i = 0; i < N; i++) bad += hits[i] != 1;
    }
    ml_par_set_threads(before);
    free(hits);
    ML_ASSERT_EQ_INT(0, bad);
}

static void count_each(void *ctx, long lo, long hi) {
    long *c = ctx;
    for (long i = lo; i < hi; i++) __atomic_add_fetch(&c[i], 1, __ATOMIC_RELAXED);
}

/* 4,000 jobs per thread count, most back to back (caught while polling),
 * every 200th after a 200 us pause (the workers have gone to sleep): a
 * lost wake-up would hang here, a job run twice or skipped miscounts. */
static void test_parallel__jobs_run_once_polling_or_asleep(void) {
    enum { JOBS = 4000 };
    long counts[4];
    int before = ml_par_threads(), bad = 0;
    for (int t = 2; t <= 4; t++) {
        ml_par_set_threads(t);
        memset(counts, 0, sizeof(counts));
        for (int k = 0; k < JOBS; k++) {
            ml_par_for(t, 1, count_each, counts);
            if (k % 200 == 0) usleep(200);
        }
        for (int i = 0; i < t; i++) bad += counts[i] != JOBS;
    }
    ml_par_set_threads(before);
    ML_ASSERT_EQ_INT(0, bad);
}

/* the same product with 1 and 2 threads: the row split must not change a bit */
static void test_parallel__gemm_split_is_exact(void) {
    enum { M = 67, N = 45, K = 129 };
    float A[M * K], B[N * K], C1[M * N], C2[M * N];
    int before = ml_par_threads();
    for (int i = 0; i < M * K; i++) A[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    for (int i = 0; i < N * K; i++) B[i] = (float)((i * 53) % 97) / 48.0f - 1.0f;
    ml_par_set_threads(1);
    ml_gemm_nt(M, N, K, A, B, 0.0f, C1);
    ml_par_set_threads(2);
    ml_gemm_nt(M, N, K, A, B, 0.0f, C2);
    ml_par_set_threads(before);
    ML_ASSERT(!memcmp(C1, C2, sizeof(C1)));
}

static void test_parallel__fork_child_can_use_pool(void) {
    int before = ml_par_threads();
    ml_par_set_threads(2);
    pid_t pid = fork();
    ML_ASSERT(pid >= 0);
    if (pid == 0) {
        int hits[1000] = { 0 };
        alarm(10);   /* a deadlock fails the test instead of hanging it */
        ml_par_for(1000, 1, mark, hits);
        for (int i = 0; i < 1000; i++) if (hits[i] != 1) _exit(1);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    ml_par_set_threads(before);
    ML_ASSERT_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status 0x%x", st);
}

const ml_test ml_tests_parallel[] = {
    { "parallel__chunks_cover_once", test_parallel__chunks_cover_once, "unit" },
    { "parallel__gemm_split_is_exact", test_parallel__gemm_split_is_exact, "unit" },
    { "parallel__fork_child_can_use_pool", test_parallel__fork_child_can_use_pool, "unit" },
    { "parallel__jobs_run_once_polling_or_asleep", test_parallel__jobs_run_once_polling_or_asleep, "unit" },
    { 0 }
};

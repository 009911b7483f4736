/*
 * tests/test_faults.c: failures injected into a whole run (core/fault.h),
 * walked over every place that allocates and every step of every atomic
 * write of a small suite. Each faulted run must end in a clean error: exit
 * 3 (a signal or a sanitizer's exit code fails it; under the ASan build
 * that `make check` uses, LeakSanitizer turns a leak into exit 23), a
 * message naming what failed, and a results file that is either absent or
 * whole and claims no cell it did not finish: every cell it calls ok holds
 * exactly the numbers of an unfaulted run. A rerun without the fault then
 * ends with the unfaulted results (nothing computed is lost).
 * Tier "check": minutes of runs, so `make check` runs them, not `make test`.
 */
#include "tests/test.h"
#include "tests/util.h"
#include "core/fs.h"
#include "store/results.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* suites/smoke.json made small: 20 + 20 steps, a 256-example probe, one
 * point at 10, routers of 10 steps; every merge method stays. */
static int small_suite(char *path, size_t size, const char *dir) {
    return ml_t_short_smoke(path, size, dir, "small", 20, 10, 10, 256, 1);
}

/* The metrics of each ok cell of DIR/small.json as text, "" when it has
 * none; NULL when the file is there but not whole (a strict load fails). */
static char *ok_cells(const char *dir) {
    char path[700];
    cJSON *doc = NULL;
    snprintf(path, sizeof(path), "%s/small.json", dir);
    if (!ml_fs_exists(path)) return strdup("");
    if (ml_results_load(&doc, path) < 0) return NULL;
    cJSON *keep = cJSON_CreateArray();
    for (const cJSON *c = cJSON_GetObjectItemCaseSensitive(doc, "cells")->child; c; c = c->next) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(c, "status");
        if (cJSON_IsString(st) && !strcmp(st->valuestring, "ok"))
            cJSON_AddItemToArray(keep, cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(c, "metrics"), 1));
    }
    char *text = cJSON_PrintUnformatted(keep);
    cJSON_Delete(keep);
    cJSON_Delete(doc);
    return text;
}

/* "allocs=A sites=S io=I" of an unfaulted run of suite into dir. */
static int counts(const char *suite, const char *dir, const char *cache, long *allocs, long *sites, long *io) {
    char log[700], *text = NULL, *out = NULL;
    snprintf(log, sizeof(log), "%s.counts", dir);
    int rc = ml_t_sh(&out, "MERGELAB_FAULT_LOG=%s \"$ML_BIN\" run %s -o %s --quiet %s", log, suite, dir, cache);
    free(out);
    if (rc != 0 || ml_fs_read_all(&text, NULL, log) < 0) return -1;
    int n = sscanf(text, "allocs=%ld sites=%ld io=%ld", allocs, sites, io);
    free(text);
    return n == 3 ? 0 : -1;
}

/* One faulted run into a fresh dir, checked; then, with rerun, the same
 * command without the fault must end with want. Returns 0 when it held. */
static int faulted(const char *fault, const char *suite, const char *base, const char *cache, const char *want,
                   const char *says, int rerun) {
    char dir[700], *out = NULL;
    snprintf(dir, sizeof(dir), "%s/f", base);
    ml_t_rmrf(dir);
    int rc = ml_t_sh(&out, "MERGELAB_FAULT=%s timeout 600 \"$ML_BIN\" run %s -o %s --quiet %s", fault, suite, dir, cache);
    int ok = 1;
    if (rc != 3 || !strstr(out, says)) {
        fprintf(stderr, "    %s: exit %d (want 3 and \"%s\"): %.300s\n", fault, rc, says, out);
        ok = 0;
    }
    free(out);
    char *cells = ok_cells(dir);
    /* no cell claimed ok with other numbers, and no torn file */
    if (!cells || (cells[0] && strcmp(cells, "[]") && strcmp(cells, want))) {
        fprintf(stderr, "    %s: the results file is %s\n", fault, cells ? "claiming a cell it did not finish" : "torn");
        ok = 0;
    }
    free(cells);
    if (rerun) {
        rc = ml_t_sh(&out, "timeout 600 \"$ML_BIN\" run %s -o %s --quiet %s", suite, dir, cache);
        free(out);
        cells = ok_cells(dir);
        if (rc != 0 || !cells || strcmp(cells, want)) {
            fprintf(stderr, "    %s: the rerun ended with exit %d and %s results\n", fault, rc,
                    cells && !strcmp(cells, want) ? "the right" : "other");
            ok = 0;
        }
        free(cells);
    }
    return ok ? 0 : -1;
}

/* Every call site that allocates fails once (its first call), then a
 * spread of the individual allocations (cJSON's, mostly: a few sites with
 * thousands of calls). */
static void test_faults__every_allocation_site(void) {
    char dir[256], suite[600], clean[700];
    long allocs = 0, sites = 0, io = 0;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "faults-alloc"));
    ML_ASSERT_EQ_INT(0, small_suite(suite, sizeof(suite), dir));
    snprintf(clean, sizeof(clean), "%s/clean", dir);
    ML_ASSERT_EQ_INT(0, counts(suite, clean, "--no-cache", &allocs, &sites, &io));
    char *want = ok_cells(clean);
    ML_ASSERT(want && strlen(want) > 100);
    ML_ASSERT_MSG(sites > 50 && allocs > sites, "the walk counted %ld sites and %ld allocations", sites, allocs);
    int bad = 0, runs = 0;
    char fault[64];
    /* ML_FAULT_STRIDE=N walks every Nth site (make check does it under ASan,
     * whose runs are slow, to see that the error paths leak nothing) */
    const char *st = getenv("ML_FAULT_STRIDE");
    long stride = st && atol(st) > 0 ? atol(st) : 1;
    for (long k = 1; k <= sites; k += stride, runs++) {
        snprintf(fault, sizeof(fault), "site=%ld", k);
        bad += faulted(fault, suite, dir, "--no-cache", want, "out of memory", (k / stride) % 16 == 0) < 0;
    }
    /* a spread over the allocations; the last few are left out: their count
     * varies by one or two between runs (cJSON grows its print buffer by
     * allocating, and a time's digits vary), so "the Nth" may not exist */
    for (int i = 1; i <= 40; i += (int)stride, runs++) {
        snprintf(fault, sizeof(fault), "alloc=%ld", 1 + (allocs - 20) * i / 40);
        bad += faulted(fault, suite, dir, "--no-cache", want, "out of memory", 0) < 0;
    }
    printf("    faults: %d allocation faults injected (%ld sites, %ld allocations in a run), %d not handled\n", runs,
           sites, allocs, bad);
    ML_ASSERT_EQ_INT(0, bad);
    free(want);
    ml_t_rmrf(dir);
}

/* Every write, fsync and rename of every atomic write (model cache
 * entries, part records, the cell file, the suite's results) fails once
 * with ENOSPC and once with EIO; each rerun resumes to the same results. */
static void test_faults__every_write(void) {
    char dir[256], suite[600], clean[700], cache[760];
    long allocs = 0, sites = 0, io = 0;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "faults-io"));
    ML_ASSERT_EQ_INT(0, small_suite(suite, sizeof(suite), dir));
    snprintf(clean, sizeof(clean), "%s/clean", dir);
    snprintf(cache, sizeof(cache), "--cache %s/f/cache", dir);
    ML_ASSERT_EQ_INT(0, counts(suite, clean, "", &allocs, &sites, &io));
    char *want = ok_cells(clean);
    ML_ASSERT(want && strlen(want) > 100);
    ML_ASSERT_MSG(io >= 12, "a run made only %ld write steps", io);
    int bad = 0, runs = 0;
    char fault[64];
    for (long n = 1; n <= io; n++)
        for (int e = 0; e < 2; e++, runs++) {
            snprintf(fault, sizeof(fault), "io=%ld:%s", n, e ? "EIO" : "ENOSPC");
            bad += faulted(fault, suite, dir, cache, want, e ? "Input/output error" : "No space left on device", 1) < 0;
        }
    printf("    faults: %d write faults injected (%ld write steps in a run), %d not handled\n", runs, io, bad);
    ML_ASSERT_EQ_INT(0, bad);
    free(want);
    ml_t_rmrf(dir);
}

/* ---- kill -9 at seeded moments ------------------------------------------- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Starts $ML_BIN argv... in its own process group, output discarded. */
static pid_t start(char *const *argv) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        const char *bin = getenv("ML_BIN");
        execv(bin ? bin : "build/mergelab", argv);
        _exit(127);
    }
    setpgid(pid, pid);
    return pid;
}

/* Kills pid (the parent alone, or with alone 0 its whole group) after
 * delay seconds, or lets it finish first; reaps it. */
static void kill_after(pid_t pid, double delay, int alone) {
    double t0 = now_s();
    int status;
    while (now_s() - t0 < delay)
        if (waitpid(pid, &status, WNOHANG) == pid) return;   /* it ended first */
        else usleep(2000);
    kill(alone ? pid : -pid, SIGKILL);
    waitpid(pid, &status, 0);
    if (!alone) return;
    for (int i = 0; i < 300 && kill(-pid, 0) == 0; i++) usleep(10000);   /* its workers die with it */
}

/* run, report and bless, each killed at 20 seeded moments of its length
 * (the parent alone in half of them): a rerun ends with the results of an
 * uninterrupted run; a report is the old one or the new one; a baseline is
 * the old file or the new one, whole. */
static void test_faults__kill_trials(void) {
    enum { TRIALS = 20 };
    char dir[256], suite[600], clean[700], out_dir[700], *out = NULL;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "faults-kill"));
    ML_ASSERT_EQ_INT(0, small_suite(suite, sizeof(suite), dir));
    snprintf(clean, sizeof(clean), "%s/clean", dir);
    double t0 = now_s();
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "run %s -o %s --quiet --jobs 2", suite, clean));
    free(out);
    double length = now_s() - t0;
    char *want = ok_cells(clean);
    ML_ASSERT(want && strlen(want) > 100);
    int lost = 0, parent_alone = 0, killed = 0;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int t = 0; t < TRIALS; t++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        double at = length * (0.05 + 0.9 * (double)(seed >> 11) / 9007199254740992.0);
        int alone = t % 2;
        snprintf(out_dir, sizeof(out_dir), "%s/k%d", dir, t);
        char *argv[] = { "mergelab", "run", suite, "-o", out_dir, "--quiet", "--jobs", "2", NULL };
        pid_t pid = start(argv);
        double k0 = now_s();
        kill_after(pid, at, alone);
        killed += now_s() - k0 < length;
        parent_alone += alone;
        int rc = ml_t_cli(&out, "run %s -o %s --quiet --jobs 2", suite, out_dir);
        char *got = ok_cells(out_dir);
        if (rc != 0 || !got || strcmp(got, want)) {
            fprintf(stderr, "    trial %d (kill at %.2f s, %s): rerun exit %d, %s\n", t, at, alone ? "parent" : "group",
                    rc, got && !strcmp(got, want) ? "same results" : "other results");
            lost++;
        }
        free(got);
        free(out);
        ml_t_rmrf(out_dir);
    }
    printf("    kills: %d trials of run (%d of the parent alone, %d before it ended), %d lost a result\n", TRIALS,
           parent_alone, killed, lost);
    ML_ASSERT_EQ_INT(0, lost);
    /* report: old or new, never a mix */
    char res[760], rep[700], list_old[4096] = "", *listing = NULL;
    snprintf(res, sizeof(res), "%s/small.json", clean);
    snprintf(rep, sizeof(rep), "%s/rep", dir);
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "report %s -o %s --formats svg", res, rep));
    free(out);
    t0 = now_s();
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "report %s -o %s --formats png", res, rep));
    free(out);
    double rlen = now_s() - t0;
    int mixed = 0;
    for (int t = 0; t < TRIALS; t++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        double at = rlen * (0.05 + 0.9 * (double)(seed >> 11) / 9007199254740992.0);
        const char *fmt = t % 2 ? "svg" : "png";
        ML_ASSERT_EQ_INT(0, ml_t_sh(&listing, "ls -A %s | sort | tr '\\n' ' '", rep));
        snprintf(list_old, sizeof(list_old), "%s", listing);
        free(listing);
        char *argv[] = { "mergelab", "report", res, "-o", rep, "--formats", (char *)fmt, NULL };
        kill_after(start(argv), at, t % 2);
        ML_ASSERT_EQ_INT(0, ml_t_sh(&listing, "ls -A %s | sort | tr '\\n' ' '", rep));
        int whole = !strcmp(listing, list_old) || !strstr(listing, t % 2 ? ".png" : ".svg");
        if (!whole) fprintf(stderr, "    report trial %d left a mix: %s\n", t, listing);
        mixed += !whole;
        free(listing);
    }
    printf("    kills: %d trials of report (%.2f s each), %d left a mix\n", TRIALS, rlen, mixed);
    ML_ASSERT_EQ_INT(0, mixed);
    /* bless: the baseline is the old file or the new one, whole */
    char base[700];
    snprintf(base, sizeof(base), "%s/base.json", dir);
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(base, "{\"old\": true}\n", 14));
    int torn = 0;
    for (int t = 0; t < TRIALS; t++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        char *argv[] = { "mergelab", "bless", res, "--baseline", base, NULL };
        kill_after(start(argv), 0.002 + 0.05 * (double)(seed >> 11) / 9007199254740992.0, t % 2);
        char *text = NULL;
        cJSON *doc = NULL;
        int whole = ml_fs_read_all(&text, NULL, base) == 0 && (doc = cJSON_Parse(text)) != NULL;
        if (whole && !cJSON_GetObjectItemCaseSensitive(doc, "old")) {   /* the new one: a loadable results file */
            cJSON *r = NULL;
            whole = ml_results_load(&r, base) == 0;
            cJSON_Delete(r);
        }
        torn += !whole;
        cJSON_Delete(doc);
        free(text);
    }
    printf("    kills: %d trials of bless, %d tore the baseline\n", TRIALS, torn);
    ML_ASSERT_EQ_INT(0, torn);
    free(want);
    ml_t_rmrf(dir);
}

const ml_test ml_tests_faults[] = {
    { "faults__kill_trials", test_faults__kill_trials, "check" },
    { "faults__every_allocation_site", test_faults__every_allocation_site, "check" },
    { "faults__every_write", test_faults__every_write, "check" },
    { NULL, NULL, NULL }
};

/*
 * tests/test_harness.c: the harness as a CI gate: matrix cells and their
 * identities, resume after kill -9 at random moments, the run lock, failed
 * cells, damaged files, the gate across seeds, and compare / history /
 * run --commits on a temporary git repository made here.
 * The runs use a tiny GPT suite on generated text (no data files, a
 * fraction of a second per run), so many interrupted runs fit in the time.
 */
#include "tests/test.h"
#include "tests/util.h"
#include "core/error.h"
#include "core/fs.h"
#include "suite/cells.h"
#include "analysis/gate.h"
#include "store/results.h"
#include "store/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *const TINY =
    "{\n"
    "  \"name\": \"tiny\",\n"
    "  \"seed\": 1,\n"
    "  \"threads\": 1,\n"
    "  \"data\": { \"dataset\": \"text\", \"train_docs\": 300, \"eval_docs\": 60 },\n"
    "  \"model\": { \"type\": \"gpt\", \"n_layer\": 1, \"n_head\": 1, \"n_embd\": 16, \"context\": 16 },\n"
    "  \"optimizer\": { \"name\": \"adamw\", \"lr\": 0.01, \"schedule\": \"cosine\", \"grad_clip\": 1.0 },\n"
    "  \"batch_size\": 8,\n"
    "  \"pretrain\": { \"data\": \"base\", \"steps\": 150 },\n"
    "  \"finetune\": { \"steps\": 60, \"lr\": 0.005, \"train\": [\"mlp\"] },\n"
    "  \"specialists\": [ { \"name\": \"math\", \"data\": \"math\" }, { \"name\": \"code\", \"data\": \"code\" } ],\n"
    "  \"target\": { \"data\": \"target\" },\n"
    "  \"merges\": [ { \"name\": \"average\", \"method\": \"average\" }, { \"name\": \"ensemble\", \"method\": \"ensemble\" } ],\n"
    "  \"cka\": { \"every\": 10, \"probe_size\": 8 },\n"
    "  \"eval\": { \"windows\": 16, \"exact_match\": 0 },\n"
    "  \"gate\": [ { \"match\": \"*/loss\", \"direction\": \"lower\", \"atol\": 0.02, \"rtol\": 0.02 } ],\n"
    "  \"matrix\": { \"seed\": [1, 2], \"finetune.steps\": [30, 60] }\n"
    "}\n";

/* The tiny suite with one edit written into dir; path receives its name. */
static int write_tiny(char *path, size_t size, const char *dir, const char *from, const char *to) {
    char *text = from ? ml_t_replace(TINY, from, to) : strdup(TINY);
    if (!text) return -1;
    int rc = ml_t_write(path, size, dir, "tiny.json", text);
    free(text);
    return rc;
}

/* The results file with the volatile keys removed, as text; NULL when it
 * cannot be read. */
static char *stable_text(const char *path) {
    cJSON *doc = NULL;
    if (ml_results_load(&doc, path) < 0) return NULL;
    ml_results_strip_volatile(doc);
    char *t = cJSON_Print(doc);
    cJSON_Delete(doc);
    return t;
}

/* Starts `mergelab run suite -o dir --quiet [--jobs N]` in its own process group. */
static pid_t start_run(const char *suite, const char *dir, int jobs) {
    const char *bin = getenv("ML_BIN");
    char j[16];
    snprintf(j, sizeof(j), "%d", jobs);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        /* stderr to DIR.log, so a failed resume can say why */
        char log[700];
        snprintf(log, sizeof(log), "%s.log", dir);
        int null = open("/dev/null", O_WRONLY), err = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(null, 1);
        dup2(err >= 0 ? err : null, 2);
        execl(bin ? bin : "build/mergelab", "mergelab", "run", suite, "-o", dir, "--quiet", "--jobs", j, (char *)NULL);
        _exit(127);
    }
    if (pid > 0) setpgid(pid, pid);
    return pid;
}

/* Waits (up to 10 s) until nothing holds dir/.lock (store/store.c's flock). */
static void wait_lock_free(const char *dir) {
    char lock[700];
    snprintf(lock, sizeof(lock), "%s/.lock", dir);
    int fd = open(lock, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    for (int i = 0; i < 10000 && flock(fd, LOCK_EX | LOCK_NB) < 0; i++) usleep(1000);
    close(fd);   /* releases ours */
}

static int count_files(const char *dir, const char *suffix) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d))) {
        size_t l = strlen(e->d_name), s = strlen(suffix);
        n += l >= s && !strcmp(e->d_name + l - s, suffix);
    }
    if (d) closedir(d);
    return n;
}

static int count_temps(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d))) n += strstr(e->d_name, ".tmp.") != NULL;
    if (d) closedir(d);
    return n;
}

/* ---- cells ------------------------------------------------------------- */

static void test_harness__matrix_cells(void) {
    char dir[256], path[512];
    ml_cellset *a = NULL, *b = NULL;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "cells"));
    ML_ASSERT_EQ_INT(0, write_tiny(path, sizeof(path), dir, NULL, NULL));
    int ra = ml_cells_load(&a, path, 0), rb = ml_cells_load(&b, path, 0);
    ml_t_rmrf(dir);
    ML_ASSERT_EQ_INT(0, ra);
    ML_ASSERT_EQ_INT(0, rb);
    ML_ASSERT_EQ_INT(4, a->n);
    static const char *const names[4] = { "seed=1,finetune.steps=30", "seed=1,finetune.steps=60",
                                          "seed=2,finetune.steps=30", "seed=2,finetune.steps=60" };
    for (int i = 0; i < 4; i++) {
        ML_ASSERT_MSG(!strcmp(a->cells[i].name, names[i]), "cell %d is %s", i, a->cells[i].name);
        ML_ASSERT(!strcmp(a->cells[i].id, b->cells[i].id));   /* identities are stable */
        for (int j = 0; j < i; j++) ML_ASSERT(strcmp(a->cells[i].id, a->cells[j].id) != 0);
    }
    ML_ASSERT(!strcmp(a->cells[1].group, "finetune.steps=60"));
    ML_ASSERT_EQ_INT(2, (int)a->cells[2].suite->seed);
    ML_ASSERT_EQ_INT(60, a->cells[3].suite->finetune.steps);
    ML_ASSERT_EQ_INT(60, a->cells[3].suite->cka_steps[a->cells[3].suite->ncka - 1]);
    /* one base per seed; specialists and direct differ with the length */
    ML_ASSERT(!strcmp(a->cells[0].key_base, a->cells[1].key_base));
    ML_ASSERT(strcmp(a->cells[0].key_base, a->cells[2].key_base) != 0);
    ML_ASSERT(strcmp(a->cells[0].key_specialists, a->cells[1].key_specialists) != 0);
    ML_ASSERT(strcmp(a->cells[0].key_direct, a->cells[1].key_direct) != 0);
    ml_cells_free(a);
    ml_cells_free(b);
}

static void test_harness__matrix_errors(void) {
    static const struct { const char *from, *to, *want; } cases[] = {
        { "[30, 60]", "[30, -1]", "tiny.json: cell seed=1,finetune.steps=-1 ($.matrix): " },
        { "\"finetune.steps\": [30, 60]", "\"finetune.stepz\": [30, 60]", "$.matrix.finetune.stepz: \"finetune.stepz\" names no number" },
        { "\"finetune.steps\": [30, 60]", "\"merge\": [\"average\", \"avg\"]", "$.matrix.merge[1]: \"avg\" is not a merge of this suite (allowed: average, ensemble)" },
        { "\"seed\": [1, 2]", "\"seed\": [1, 1]", "$.matrix.seed[1]: duplicate value 1" },
        { "\"seed\": [1, 2]", "\"seed\": []", "$.matrix.seed: expected 1..64 values, got 0" },
        { "\"seed\": [1, 2]", "\"seed\": 1", "$.matrix.seed: expected an array of values, got a number" },
        { "\"seed\": [1, 2]", "\"seed\": [1.5]", "$.matrix.seed[0]: expected an integer" },
    };
    char dir[256], path[512];
    int failures = 0;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "mxerr"));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ml_cellset *cs = NULL;
        if (write_tiny(path, sizeof(path), dir, cases[i].from, cases[i].to) < 0) { failures++; continue; }
        int rc = ml_cells_load(&cs, path, 0);
        const char *msg = ml_error_last()->message;
        if (rc != ML_EINVALID || cs || !strstr(msg, cases[i].want)) {
            fprintf(stderr, "    case %zu: rc %d, \"%s\", wanted \"%s\"\n", i, rc, msg, cases[i].want);
            failures++;
        }
        ml_cells_free(cs);
    }
    /* a merge axis keeps one merge per cell */
    ml_cellset *cs = NULL;
    ML_ASSERT_EQ_INT(0, write_tiny(path, sizeof(path), dir, "\"finetune.steps\": [30, 60]", "\"merge\": [\"ensemble\"]"));
    ML_ASSERT_EQ_INT(0, ml_cells_load(&cs, path, 0));
    ml_t_rmrf(dir);
    ML_ASSERT_EQ_INT(2, cs->n);
    ML_ASSERT_EQ_INT(1, cs->cells[0].suite->nmerges);
    ML_ASSERT(!strcmp(cs->cells[0].suite->merges[0].name, "ensemble"));
    ML_ASSERT(!strcmp(cs->cells[0].name, "seed=1,merge=ensemble"));
    ml_cells_free(cs);
    ML_ASSERT_EQ_INT(0, failures);
}

/* ---- running ----------------------------------------------------------- */

static char ref_dir[256], ref_suite[512], ref_path[512], *ref_text;

static void cleanup_reference(void) {
    if (ref_dir[0]) ml_t_rmrf(ref_dir);
    free(ref_text);
    ref_text = NULL;
    ref_dir[0] = '\0';
}

/* One uninterrupted run of the tiny suite, shared by the tests below. */
static const char *reference(void) {
    char *out = NULL;
    if (ref_text || ref_dir[0]) return ref_text;   /* made once; a failed attempt is not retried */
    atexit(cleanup_reference);
    if (ml_t_tmpdir(ref_dir, sizeof(ref_dir), "ref") < 0 || write_tiny(ref_suite, sizeof(ref_suite), ref_dir, NULL, NULL) < 0)
        return NULL;
    int rc = ml_t_cli(&out, "run %s -o %s/out --quiet", ref_suite, ref_dir);
    if (rc != 0) fprintf(stderr, "    reference run failed (%d): %s\n", rc, out);
    free(out);
    snprintf(ref_path, sizeof(ref_path), "%s/out/tiny.json", ref_dir);
    if (rc == 0) ref_text = stable_text(ref_path);
    return ref_text;
}

static void test_harness__run_list_show(void) {
    char *out = NULL;
    ML_ASSERT(reference() != NULL);
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "list %s -o %s/out", ref_suite, ref_dir));
    ML_ASSERT_STR_HAS(out, "tiny: 4 cells");
    ML_ASSERT_STR_HAS(out, "seed=2,finetune.steps=60");
    ML_ASSERT_STR_HAS(out, "done");
    free(out);
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "validate %s", ref_suite));
    ML_ASSERT_STR_HAS(out, "4 cells");
    free(out);
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "show %s", ref_path));
    ML_ASSERT_STR_HAS(out, "seeds       [1,2]");
    ML_ASSERT_STR_HAS(out, "cells: 4");
    ML_ASSERT_STR_HAS(out, "finetune.steps=60: direct/loss");
    ML_ASSERT_STR_HAS(out, "n=2");
    ML_ASSERT_STR_HAS(out, "blas ");
    free(out);
    /* a second run reuses every cell and writes the same results */
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "run %s -o %s/out", ref_suite, ref_dir));
    ML_ASSERT_STR_HAS(out, "4 cells: 0 ran, 4 reused, 0 failed");
    free(out);
    char *again = stable_text(ref_path);
    ML_ASSERT(again && !strcmp(again, ref_text));
    free(again);
    /* the cache holds one base per seed, and specialists and direct per cell */
    char cache[512];
    snprintf(cache, sizeof(cache), "%s/out/cache", ref_dir);
    ML_ASSERT_EQ_INT(2 + 4 + 4, count_files(cache, ".bin"));
}

/* Results do not depend on --jobs or on the model cache. */
static void test_harness__jobs_and_cache_do_not_change_results(void) {
    char dir[256], path[512], *out = NULL;
    ML_ASSERT(reference() != NULL);
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "jobs"));
    int r1 = ml_t_cli(&out, "run %s -o %s/j2 --quiet --jobs 2", ref_suite, dir);
    free(out);
    int r2 = ml_t_cli(&out, "run %s -o %s/nc --quiet --no-cache", ref_suite, dir);
    free(out);
    snprintf(path, sizeof(path), "%s/j2/tiny.json", dir);
    char *a = stable_text(path);
    snprintf(path, sizeof(path), "%s/nc/tiny.json", dir);
    char *b = stable_text(path);
    ml_t_rmrf(dir);
    ML_ASSERT_EQ_INT(0, r1);
    ML_ASSERT_EQ_INT(0, r2);
    ML_ASSERT_MSG(a && !strcmp(a, ref_text), "--jobs 2 changed the results");
    ML_ASSERT_MSG(b && !strcmp(b, ref_text), "running without the cache changed the results");
    free(a);
    free(b);
}

/* Killed with SIGKILL at a random moment (the whole process group, so
 * --jobs workers die too), the same command finishes the run with results
 * identical to an uninterrupted one. */
static void test_harness__resume_after_kill9(void) {
    enum { TRIALS = 24 };
    char dir[256], out_dir[512], path[600];
    ML_ASSERT(reference() != NULL);
    /* how long an uninterrupted run takes here, to spread the kills over it */
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "kill"));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    snprintf(out_dir, sizeof(out_dir), "%s/timing", dir);
    pid_t pid = start_run(ref_suite, out_dir, 1);
    int status;
    waitpid(pid, &status, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double full = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    uint64_t lcg = 0x2545F4914F6CDD1DULL;
    int interrupted = 0, partial = 0, mismatched = 0, leftovers = 0;
    for (int trial = 0; trial < TRIALS; trial++) {
        lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
        double at = full * (double)(lcg >> 11) / 9007199254740992.0;   /* uniform in [0, full) */
        int jobs = 1 + trial % 2;
        snprintf(out_dir, sizeof(out_dir), "%s/t%d", dir, trial);
        snprintf(path, sizeof(path), "%s/tiny.json", out_dir);
        pid = start_run(ref_suite, out_dir, jobs);
        struct timespec ts = { (time_t)at, (long)((at - (double)(time_t)at) * 1e9) };
        nanosleep(&ts, NULL);
        kill(-pid, SIGKILL);
        waitpid(pid, &status, 0);
        /* the --jobs workers die asynchronously after their leader: wait for
         * their hold on DIR's lock to go, or the resume rightly says "being
         * written by another mergelab run" (exit 2) */
        wait_lock_free(out_dir);
        interrupted += WIFSIGNALED(status) && !ml_fs_exists(path);
        char cells_at_kill[700];
        snprintf(cells_at_kill, sizeof(cells_at_kill), "%s/tiny.cells", out_dir);
        int done_at_kill = count_files(cells_at_kill, ".json");
        partial += done_at_kill >= 1 && done_at_kill <= 3;   /* killed between cells or inside a later one */
        /* resume: the same command, to the end */
        pid = start_run(ref_suite, out_dir, jobs);
        waitpid(pid, &status, 0);
        char *text = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? stable_text(path) : NULL;
        if (!text || strcmp(text, ref_text)) {
            char log[700], *why = NULL;
            size_t wlen;
            snprintf(log, sizeof(log), "%s.log", out_dir);
            ml_fs_read_all(&why, &wlen, log);
            fprintf(stderr, "    trial %d (kill at %.3f s, jobs %d): resumed results differ (exit %d): %s\n", trial, at, jobs,
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1, why ? why : "");
            free(why);
            mismatched++;
        }
        free(text);
        char cells[700];
        snprintf(cells, sizeof(cells), "%s/tiny.cells", out_dir);
        leftovers += count_temps(cells) + count_temps(out_dir);
    }
    ml_t_rmrf(dir);
    fprintf(stderr, "    %d trials over a %.2f s run: %d interrupted before the results file existed, %d with 1-3 of 4 "
            "cells done\n", TRIALS, full, interrupted, partial);
    ML_ASSERT_EQ_INT(0, mismatched);
    ML_ASSERT_EQ_INT(0, leftovers);
    ML_ASSERT_MSG(interrupted >= TRIALS / 3, "only %d kills interrupted a run: the test did not test resuming",
                  interrupted);
    ML_ASSERT_MSG(partial >= 3, "only %d kills left some cells done: resuming a partial run went untested", partial);
}

static void test_harness__lock(void) {
    char dir[256], suite[512], want[128], *out = NULL;
    int fd = -1;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "lock"));
    ML_ASSERT_EQ_INT(0, write_tiny(suite, sizeof(suite), dir, "\"seed\": [1, 2], ", ""));
    char out_dir[600];
    snprintf(out_dir, sizeof(out_dir), "%s/out", dir);
    ML_ASSERT_EQ_INT(0, ml_store_lock(&fd, out_dir));
    int rc = ml_t_cli(&out, "run %s -o %s --quiet", suite, out_dir);
    snprintf(want, sizeof(want), "is being written by another mergelab run (pid %ld on ", (long)getpid());
    int held = rc == 2 && out && strstr(out, want);
    if (!held) fprintf(stderr, "    rc %d: %s\n", rc, out);
    free(out);
    ml_store_unlock(fd);
    rc = ml_t_cli(&out, "run %s -o %s --quiet", suite, out_dir);
    free(out);
    ml_t_rmrf(dir);
    ML_ASSERT(held);
    ML_ASSERT_EQ_INT(0, rc);
}

/* A cell that diverges is recorded as failed with its reason, the other
 * cells finish, the exit code is 3; a rerun retries only the failed cell. */
static void test_harness__failed_cell(void) {
    char dir[256], suite[512], path[600], *out = NULL;
    cJSON *doc = NULL;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "fail"));
    char *a = ml_t_replace(TINY, "\"matrix\": { \"seed\": [1, 2], \"finetune.steps\": [30, 60] }",
                           "\"matrix\": { \"finetune.lr\": [0.005, 1e30] }");
    char *b = a ? ml_t_replace(a, "\"grad_clip\": 1.0", "\"grad_clip\": 0") : NULL;
    ML_ASSERT(b != NULL);
    ml_t_write(suite, sizeof(suite), dir, "tiny.json", b);
    free(a);
    free(b);
    int rc = ml_t_cli(&out, "run %s -o %s/out", suite, dir);
    snprintf(path, sizeof(path), "%s/out/tiny.json", dir);
    int loaded = ml_results_load(&doc, path);
    ML_ASSERT_EQ_INT(3, rc);
    ML_ASSERT_STR_HAS(out, "2 cells: 2 ran, 0 reused, 1 failed");
    ML_ASSERT_STR_HAS(out, "FAILED finetune.lr=1e+30");
    free(out);
    ML_ASSERT_EQ_INT(0, loaded);
    cJSON *cells = cJSON_GetObjectItemCaseSensitive(doc, "cells");
    ML_ASSERT_EQ_INT(2, cJSON_GetArraySize(cells));
    const cJSON *c0 = cJSON_GetArrayItem(cells, 0), *c1 = cJSON_GetArrayItem(cells, 1);
    ML_ASSERT(!strcmp(cJSON_GetObjectItemCaseSensitive(c0, "status")->valuestring, "ok"));
    ML_ASSERT(!strcmp(cJSON_GetObjectItemCaseSensitive(c1, "status")->valuestring, "failed"));
    ML_ASSERT_STR_HAS(cJSON_GetObjectItemCaseSensitive(c1, "error")->valuestring, "diverged: loss is");
    ML_ASSERT(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(doc, "complete")));
    cJSON_Delete(doc);
    /* the gate refuses results with a failed cell, and the same file as a
     * baseline is partial: exit 2 (a bad baseline outranks the results'
     * exit 3, which tests/test_gate_holes.c checks with a whole baseline) */
    rc = ml_t_cli(&out, "check %s --baseline %s", path, path);
    ML_ASSERT_EQ_INT(2, rc);
    ML_ASSERT_STR_HAS(out, "cell finetune.lr=1e+30 failed");
    ML_ASSERT_STR_HAS(out, "is partial (");
    free(out);
    rc = ml_t_cli(&out, "run %s -o %s/out", suite, dir);
    ml_t_rmrf(dir);
    ML_ASSERT_EQ_INT(3, rc);
    ML_ASSERT_STR_HAS(out, "2 cells: 1 ran, 1 reused, 1 failed");
    free(out);
}

/* A truncated cell file is not half-read: the cell runs again. A damaged
 * or unknown-schema results file is refused with exit 2. */
static void test_harness__damaged_files(void) {
    char dir[256], cell[700], path[600], *out = NULL, *text = NULL;
    size_t len;
    ML_ASSERT(reference() != NULL);
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "damage"));
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "run %s -o %s/out --quiet", ref_suite, dir));
    free(out);
    snprintf(cell, sizeof(cell), "%s/out/tiny.cells/seed=2,finetune.steps=30.json", dir);
    ML_ASSERT_EQ_INT(0, ml_fs_read_all(&text, &len, cell));
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(cell, text, len / 2));
    /* the store keeps a sealed copy of every finished cell: it replaces the damaged file */
    int rc = ml_t_cli(&out, "run %s -o %s/out", ref_suite, dir);
    ML_ASSERT_EQ_INT(0, rc);
    ML_ASSERT_STR_HAS(out, "not a mergelab results file (invalid or truncated JSON); the store's copy of the cell replaces it");
    ML_ASSERT_STR_HAS(out, "4 cells: 0 ran, 4 reused, 0 failed");
    free(out);
    snprintf(path, sizeof(path), "%s/out/tiny.json", dir);
    char *again = stable_text(path);
    ML_ASSERT(again && !strcmp(again, ref_text));
    free(again);
    /* with the store's copies damaged too, the cell runs again */
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(cell, text, len / 2));
    char *none = NULL;
    ML_ASSERT_EQ_INT(0, ml_t_sh(&none, "for f in %s/out/cache/jobs/*.json; do head -c 100 \"$f\" > \"$f.cut\" && mv \"$f.cut\" \"$f\"; done", dir));
    free(none);
    rc = ml_t_cli(&out, "run %s -o %s/out", ref_suite, dir);
    ML_ASSERT_EQ_INT(0, rc);
    ML_ASSERT_STR_HAS(out, "not a mergelab results file (invalid or truncated JSON); running the cell again");
    ML_ASSERT_STR_HAS(out, "4 cells: 1 ran, 3 reused, 0 failed");
    free(out);
    again = stable_text(path);
    ML_ASSERT(again && !strcmp(again, ref_text));
    free(again);
    free(text);
    ML_ASSERT_EQ_INT(0, ml_fs_read_all(&text, &len, path));
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(path, text, len - 40));
    rc = ml_t_cli(&out, "show %s", path);
    ML_ASSERT_EQ_INT(2, rc);
    ML_ASSERT_STR_HAS(out, "invalid or truncated JSON");
    free(out);
    rc = ml_t_cli(&out, "check %s --baseline %s", path, ref_path);
    ML_ASSERT_EQ_INT(2, rc);
    free(out);
    char *v99 = ml_t_replace(text, "\"schema_version\":\t2", "\"schema_version\":\t99");
    ML_ASSERT(v99 != NULL);
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(path, v99, strlen(v99)));
    rc = ml_t_cli(&out, "show %s", path);
    ml_t_rmrf(dir);
    ML_ASSERT_EQ_INT(2, rc);
    ML_ASSERT_STR_HAS(out, "$.schema_version: 99 is not supported by this build (it reads 1 and 2)");
    free(out);
    free(v99);
    free(text);
}

/* ---- the gate across seeds --------------------------------------------- */

static cJSON *seeds_doc(const double *v, int n) {
    cJSON *doc = cJSON_CreateObject(), *cells = cJSON_AddArrayToObject(doc, "cells");
    cJSON *gate = cJSON_AddArrayToObject(doc, "gate"), *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "match", "*/acc");
    cJSON_AddStringToObject(r, "direction", "higher");
    cJSON_AddNumberToObject(r, "atol", 0.001);
    cJSON_AddNumberToObject(r, "rtol", 0.0);
    cJSON_AddItemToArray(gate, r);
    for (int i = 0; i < n; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "name", "x");
        cJSON_AddStringToObject(c, "group", "default");
        cJSON_AddStringToObject(c, "status", "ok");
        cJSON_AddNumberToObject(cJSON_AddObjectToObject(c, "metrics"), "m/acc", v[i]);
        cJSON_AddItemToArray(cells, c);
    }
    return doc;
}

static void test_harness__gate_noise_across_seeds(void) {
    static const double base[3] = { 0.80, 0.82, 0.84 }, noisy[3] = { 0.79, 0.81, 0.83 }, real[3] = { 0.70, 0.71, 0.72 };
    ml_gate_summary sum;
    ml_gate_rows rows = { 0 };
    cJSON *b = seeds_doc(base, 3), *n1 = seeds_doc(noisy, 3), *n2 = seeds_doc(real, 3), *one = seeds_doc(noisy, 1);
    /* 0.01 below the baseline, beyond atol, but the seeds spread more than that */
    ML_ASSERT_EQ_INT(0, ml_gate_check(&sum, NULL, n1, b, &rows));
    ML_ASSERT_EQ_INT(0, sum.regressed);
    ML_ASSERT(!strcmp(rows.rows[0].verdict, "ok (within noise)"));
    ML_ASSERT(rows.rows[0].ci_lo < 0 && rows.rows[0].ci_hi > 0);
    ml_gate_rows_free(&rows);
    /* 0.11 below: beyond tolerance and beyond the noise */
    ML_ASSERT_EQ_INT(0, ml_gate_check(&sum, NULL, n2, b, &rows));
    ML_ASSERT_EQ_INT(1, sum.regressed);
    ML_ASSERT(!strcmp(rows.rows[0].verdict, "REGRESSED"));
    ML_ASSERT(rows.rows[0].ci_hi < 0);
    ml_gate_rows_free(&rows);
    /* one seed has no noise estimate: tolerance alone decides */
    ML_ASSERT_EQ_INT(0, ml_gate_check(&sum, NULL, one, b, &rows));
    ML_ASSERT_EQ_INT(1, sum.regressed);
    ml_gate_rows_free(&rows);
    cJSON_Delete(b);
    cJSON_Delete(n1);
    cJSON_Delete(n2);
    cJSON_Delete(one);
}

/* ---- across commits ---------------------------------------------------- */

/* Two real commits of a temporary repository: results stored per commit,
 * run --commits (worktree + build, here a build that copies this binary),
 * compare resolving HEAD~1 / HEAD / a short hash, and history. */
static void test_harness__compare_history_commits(void) {
    char repo[256], bin[4096], *out = NULL;
    const char *ml_bin = getenv("ML_BIN");
    ML_ASSERT(ml_bin != NULL && realpath(ml_bin, bin) != NULL);
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(repo, sizeof(repo), "repo"));
    char suite[512];
    ML_ASSERT_EQ_INT(0, write_tiny(suite, sizeof(suite), repo, "\"finetune.steps\": [30, 60]", "\"finetune.steps\": [30]"));
    const char *env = "MERGELAB_MACHINE=testbox MERGELAB_RESULTS=results";
    const char *git = "git -c user.name=t -c user.email=t@t -c init.defaultBranch=main";
    ML_ASSERT_EQ_INT(0, ml_t_sh(NULL, "cd %s && %s init -q && printf 'results/\\n' > .gitignore && %s add . && %s commit -qm one",
                               repo, git, git, git));
    ML_ASSERT_EQ_INT(0, ml_t_sh(&out, "cd %s && %s %s run tiny.json --quiet", repo, env, bin));
    free(out);
    /* commit two: a longer fine-tune, measured through run --commits */
    char *two = ml_t_replace(TINY, "\"finetune.steps\": [30, 60]", "\"finetune.steps\": [30]");
    char *two_b = two ? ml_t_replace(two, "\"steps\": 60, \"lr\": 0.005", "\"steps\": 60, \"lr\": 0.02") : NULL;
    ML_ASSERT(two_b != NULL);
    char path[600];
    ml_t_write(path, sizeof(path), repo, "tiny.json", two_b);
    free(two);
    free(two_b);
    ML_ASSERT_EQ_INT(0, ml_t_sh(NULL, "cd %s && %s commit -qam two", repo, git));
    char *c1 = NULL, *c2 = NULL;
    ML_ASSERT_EQ_INT(0, ml_t_sh(&c1, "cd %s && git rev-parse HEAD~1", repo));
    ML_ASSERT_EQ_INT(0, ml_t_sh(&c2, "cd %s && git rev-parse HEAD", repo));
    c1[strcspn(c1, "\n")] = '\0';
    c2[strcspn(c2, "\n")] = '\0';
    int rc = ml_t_sh(&out, "cd %s && %s %s run tiny.json --commits HEAD~1..HEAD --build 'mkdir -p build && cp %s build/mergelab'",
                     repo, env, bin, bin);
    ML_ASSERT_MSG(rc == 0, "run --commits exited %d: %s", rc, out);
    ML_ASSERT_STR_HAS(out, "1 commit: 1 measured, 0 already measured, 0 failed");
    free(out);
    char stored[1024];
    snprintf(stored, sizeof(stored), "%s/results/testbox/%s/tiny.json", repo, c2);
    ML_ASSERT(ml_fs_exists(stored));
    cJSON *doc = NULL;
    ML_ASSERT_EQ_INT(0, ml_results_load(&doc, stored));
    const cJSON *repo_prov = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "provenance"), "repository");
    int right_commit = !strcmp(cJSON_GetObjectItemCaseSensitive(repo_prov, "commit")->valuestring, c2) &&
                       cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(repo_prov, "dirty"));
    cJSON_Delete(doc);
    ML_ASSERT_MSG(right_commit, "the stored results do not say they ran on commit two, clean");
    /* measured commits are skipped; the worktree and its branch are gone */
    rc = ml_t_sh(&out, "cd %s && %s %s run tiny.json --commits HEAD~1..HEAD --build false", repo, env, bin);
    ML_ASSERT_EQ_INT(0, rc);
    ML_ASSERT_STR_HAS(out, "1 commit: 0 measured, 1 already measured, 0 failed");
    free(out);
    ML_ASSERT_EQ_INT(0, ml_t_sh(&out, "cd %s && git branch --list 'mergelab-wt-*' && git worktree list | wc -l", repo));
    ML_ASSERT_MSG(!strcmp(out, "1\n"), "left behind: %s", out);
    free(out);
    /* a build that fails is reported and counted, the exit says so */
    ML_ASSERT_EQ_INT(0, ml_t_sh(NULL, "cd %s && echo x >> tiny.json.note && %s add . && %s commit -qm three", repo, git, git));
    rc = ml_t_sh(&out, "cd %s && %s %s run tiny.json --commits HEAD~1..HEAD --build 'echo broken; exit 1'", repo, env, bin);
    ML_ASSERT_EQ_INT(3, rc);
    ML_ASSERT_STR_HAS(out, "build failed");
    ML_ASSERT_STR_HAS(out, "broken");
    free(out);

    rc = ml_t_sh(&out, "cd %s && %s %s compare HEAD~2 %.7s", repo, env, bin, c2);
    ML_ASSERT_MSG(rc == 0, "compare exited %d: %s", rc, out);
    ML_ASSERT_STR_HAS(out, "suite tiny:");
    ML_ASSERT_STR_HAS(out, "direct/loss");
    ML_ASSERT_STR_HAS(out, "95% CI of B - A");
    int verdicts = strstr(out, "better") || strstr(out, "WORSE");
    ML_ASSERT_MSG(verdicts, "a 4x learning rate changed no metric beyond tolerance:\n%s", out);
    ML_ASSERT_STR_HAS(out, "same numeric platform (OpenBLAS ");
    free(out);
    rc = ml_t_sh(&out, "cd %s && %s %s compare HEAD HEAD~2", repo, env, bin);
    ML_ASSERT_EQ_INT(2, rc);   /* HEAD (commit three) has no results */
    ML_ASSERT_STR_HAS(out, "no results for HEAD");
    free(out);
    rc = ml_t_sh(&out, "cd %s && %s %s history direct/loss --csv", repo, env, bin);
    ML_ASSERT_EQ_INT(0, rc);
    ML_ASSERT_STR_HAS(out, c1);
    ML_ASSERT_STR_HAS(out, c2);
    ML_ASSERT_STR_HAS(out, "commit,date,suite,group,metric,n,mean,lo,hi");
    const char *first = strstr(out, c1), *second = strstr(out, c2);
    ML_ASSERT_MSG(first < second, "history is not oldest first");
    free(out);
    rc = ml_t_sh(&out, "cd %s && %s %s history direct/loss --plot history.svg && xmllint --noout history.svg", repo, env, bin);
    ML_ASSERT_MSG(rc == 0, "history --plot: %s", out);
    ML_ASSERT_STR_HAS(out, "wrote history.svg");
    free(out);
    /* commit one's results as if from another kernel family: compare and
     * history say the platforms differ */
    char one[1024], *text = NULL;
    size_t tlen;
    snprintf(one, sizeof(one), "%s/results/testbox/%s/tiny.json", repo, c1);
    ML_ASSERT_EQ_INT(0, ml_fs_read_all(&text, &tlen, one));
    char *moved = ml_t_replace(text, "\"blas_core\":\t\"Haswell\"", "\"blas_core\":\t\"Sandybridge\"");
    free(text);
    ML_ASSERT_MSG(moved != NULL, "no blas_core Haswell in %s", one);
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(one, moved, strlen(moved)));
    free(moved);
    rc = ml_t_sh(&out, "cd %s && %s %s compare %.7s %.7s", repo, env, bin, c1, c2);
    ML_ASSERT_MSG(rc == 0, "compare exited %d: %s", rc, out);
    ML_ASSERT_STR_HAS(out, "different numeric platforms: A OpenBLAS 0.3.21 Sandybridge, 1 thread, B OpenBLAS 0.3.21 Haswell");
    free(out);
    rc = ml_t_sh(&out, "cd %s && %s %s history direct/loss", repo, env, bin);
    ML_ASSERT_MSG(rc == 0, "history exited %d: %s", rc, out);
    ML_ASSERT_STR_HAS(out, "numeric platform changed here: OpenBLAS 0.3.21 Sandybridge, 1 thread -> OpenBLAS 0.3.21 Haswell, 1 thread");
    free(out);
    free(c1);
    free(c2);
    ml_t_rmrf(repo);
}

/* A suite that asks for the findings: they are in the results, in `mergelab findings`
 * and on the report's page, and asking for them changes no cell's identity. */
static void test_harness__findings_in_results(void) {
    char dir[256], suite[512], plain[512], *out = NULL, *ids_plain = NULL;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "findings"));
    ML_ASSERT_EQ_INT(0, write_tiny(plain, sizeof(plain), dir, NULL, NULL));
    ML_ASSERT_EQ_INT(0, ml_t_cli(&ids_plain, "list %s", plain));
    char sub[300];
    snprintf(sub, sizeof(sub), "%s/f", dir);
    ML_ASSERT_EQ_INT(0, ml_fs_mkdir_p(sub));
    ML_ASSERT_EQ_INT(0, write_tiny(suite, sizeof(suite), sub, "\"gate\": [",
                                   "\"findings\": { \"check\": [\"F1\", \"F2\", \"F3\", \"F4\"] },\n  \"gate\": ["));
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "list %s", suite));
    int same_ids = !strcmp(out, ids_plain);
    free(out);
    free(ids_plain);
    ML_ASSERT_MSG(same_ids, "asking for findings changed the cells' identities");
    int rc = ml_t_cli(&out, "run %s -o %s/out --quiet --report %s/out/report", suite, dir, dir);
    ML_ASSERT_MSG(rc == 0, "run: %s", out);
    free(out);
    char res[600];
    snprintf(res, sizeof(res), "%s/out/tiny.json", dir);
    cJSON *doc = NULL;
    ML_ASSERT_EQ_INT(0, ml_results_load(&doc, res));
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(doc, "findings");
    int nrows = cJSON_GetArraySize(f), valid = 1, has_f4 = 0;
    for (const cJSON *r = f ? f->child : NULL; r; r = r->next) {
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "verdict"));
        valid &= v && (!strcmp(v, "held") || !strcmp(v, "not held") || !strcmp(v, "inconclusive"));
        has_f4 |= !strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "id")), "F4 weight averaging");
    }
    cJSON_Delete(doc);
    ML_ASSERT_MSG(nrows >= 5 && valid && has_f4, "findings in the results: %d rows", nrows);
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "findings %s", res));
    ML_ASSERT_STR_HAS(out, "F3b");
    ML_ASSERT_STR_HAS(out, "Direct fine-tuning beats every merge");
    free(out);
    char page[600], *html = NULL;
    snprintf(page, sizeof(page), "%s/out/report/index.html", dir);
    ML_ASSERT_EQ_INT(0, ml_fs_read_all(&html, NULL, page));
    int shown = strstr(html, "F4 weight averaging") != NULL && !strstr(html, "declares no findings");
    free(html);
    ML_ASSERT_MSG(shown, "the report does not show the findings");
    ML_ASSERT_EQ_INT(2, ml_t_cli(&out, "findings %s --check F9", res));
    free(out);
    ml_t_rmrf(dir);
}

/* finetune.points: every model at each kept state of one run; the end of the run is the
 * same as without points, bit for bit, and a point past the end is refused per cell. */
static void test_harness__points(void) {
    char dir[256], suite[512], *out = NULL;
    ML_ASSERT(reference() != NULL);
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "points"));
    char *a = ml_t_replace(TINY, "\"steps\": 60, \"lr\": 0.005,", "\"steps\": 60, \"lr\": 0.005, \"points\": [20, 40],");
    char *b = a ? ml_t_replace(a, "\"matrix\": { \"seed\": [1, 2], \"finetune.steps\": [30, 60] }", "\"matrix\": { \"seed\": [1] }") : NULL;
    ML_ASSERT(b != NULL);
    ml_t_write(suite, sizeof(suite), dir, "tiny.json", b);
    int rc = ml_t_cli(&out, "run %s -o %s/out --quiet", suite, dir);
    ML_ASSERT_MSG(rc == 0, "run: %s", out);
    free(out);
    char res[600];
    snprintf(res, sizeof(res), "%s/out/tiny.json", dir);
    cJSON *doc = NULL, *ref = NULL;
    ML_ASSERT_EQ_INT(0, ml_results_load(&doc, res));
    ML_ASSERT_EQ_INT(0, ml_results_load(&ref, ref_path));
    const cJSON *cell = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "cells"), 0), *rcell = NULL;
    for (const cJSON *c = cJSON_GetObjectItemCaseSensitive(ref, "cells")->child; c; c = c->next)
        if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name")), "seed=1,finetune.steps=60")) rcell = c;
    const cJSON *pts = cJSON_GetObjectItemCaseSensitive(cell, "points");
    int npts = cJSON_GetArraySize(pts);
    int steps_ok = npts == 3 && cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(pts, 0), "step")->valuedouble == 20 &&
                   cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(pts, 2), "step")->valuedouble == 60;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(cell, "metrics");
    int end_same = rcell && cJSON_Compare(m, cJSON_GetObjectItemCaseSensitive(rcell, "metrics"), 1);
    /* the last point holds the models' metrics of the end (CKA's are the cell's own) */
    const cJSON *ml = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(pts, 2), "metrics");
    int last_same = npts == 3 && cJSON_GetArraySize(ml) > 10;
    for (const cJSON *x = ml ? ml->child : NULL; last_same && x; x = x->next) {
        last_same = cJSON_Compare(x, cJSON_GetObjectItemCaseSensitive(m, x->string), 1);
        if (!last_same) fprintf(stderr, "    the last point's %s differs from the cell's\n", x->string);
    }
    /* CKA heatmaps at every step; the last one is the end's heatmap */
    const cJSON *cka = cJSON_GetObjectItemCaseSensitive(cell, "cka");
    const cJSON *hsv = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cka, "heatmap_steps"), "values");
    int heat_ok = cJSON_GetArraySize(hsv) == cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cka, "steps")) &&
                  cJSON_Compare(cJSON_GetArrayItem(hsv, cJSON_GetArraySize(hsv) - 1),
                                cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cka, "heatmap"), "values"), 1);
    const cJSON *m0 = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(pts, 0), "metrics");
    int early_differs = m0 && !cJSON_Compare(m, m0, 1) && cJSON_GetObjectItemCaseSensitive(m0, "average/loss");
    cJSON_Delete(doc);
    cJSON_Delete(ref);
    ML_ASSERT_MSG(steps_ok, "points: %d, want 20, 40, 60", npts);
    ML_ASSERT_MSG(end_same, "the end of a run with points differs from the same run without");
    ML_ASSERT_MSG(last_same, "the last point is not the top-level result");
    ML_ASSERT_MSG(early_differs, "the point at step 20 has no metrics of its own");
    ML_ASSERT_MSG(heat_ok, "cka.heatmap_steps does not end with the end's heatmap");
    /* the report draws merge quality against the points */
    rc = ml_t_cli(&out, "report %s -o %s/rep --formats svg", res, dir);
    ML_ASSERT_MSG(rc == 0, "report: %s", out);
    free(out);
    char csvp[700], *csv = NULL;
    snprintf(csvp, sizeof(csvp), "%s/rep/tiny_merge_vs_length.csv", dir);
    ML_ASSERT_EQ_INT(0, ml_fs_read_all(&csv, NULL, csvp));
    int rows = strstr(csv, "\n20,default,direct,direct,,loss,") && strstr(csv, "\n60,default,average,merge,weight averaging,loss,");
    free(csv);
    ML_ASSERT_MSG(rows, "merge_vs_length.csv lacks the points");
    /* a point beyond a cell's fine-tuning length */
    ml_t_write(suite, sizeof(suite), dir, "tiny.json", a);
    rc = ml_t_cli(&out, "validate %s", suite);
    ML_ASSERT_EQ_INT(2, rc);
    ML_ASSERT_STR_HAS(out, "cell seed=1,finetune.steps=30 ($.matrix): $.finetune.points[1]");
    free(out);
    free(a);
    free(b);
    ml_t_rmrf(dir);
}


/* An MLP cell with points runs in parts under --jobs 2 as a text cell does:
 * the protocol is one for both families, so the parts (base, training, each
 * point, results) give the results of one process, every number. */
static void test_harness__mlp_parts(void) {
    char dir[256], suite[512], path[700], *text = NULL, *out = NULL;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "mlp-parts"));
    ML_ASSERT_EQ_INT(0, ml_fs_read_all(&text, NULL, "suites/smoke.json"));
    cJSON *doc = cJSON_Parse(text);
    free(text);
    ML_ASSERT(doc != NULL);
    cJSON *ft = cJSON_GetObjectItemCaseSensitive(doc, "finetune"), *pre = cJSON_GetObjectItemCaseSensitive(doc, "pretrain");
    cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(pre, "steps"), 60);
    cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(ft, "steps"), 60);
    int points[1] = { 30 };
    cJSON_AddItemToObject(ft, "points", cJSON_CreateIntArray(points, 1));
    cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "cka"), "every"), 30);
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "findings");
    text = cJSON_Print(doc);
    cJSON_Delete(doc);
    ml_t_write(suite, sizeof(suite), dir, "smoke.json", text);
    free(text);
    int r1 = ml_t_cli(&out, "run %s -o %s/whole --quiet --jobs 1", suite, dir);
    free(out);
    int r2 = ml_t_cli(&out, "run %s -o %s/parts --quiet --jobs 2", suite, dir);
    ML_ASSERT_MSG(r1 == 0 && r2 == 0, "runs: %d %d %s", r1, r2, out);
    free(out);
    snprintf(path, sizeof(path), "%s/whole/smoke.json", dir);
    char *whole = stable_text(path);
    snprintf(path, sizeof(path), "%s/parts/smoke.json", dir);
    char *parts = stable_text(path);
    ML_ASSERT_EQ_INT(0, ml_results_load(&doc, path));
    const cJSON *timing = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "cells"), 0),
                                                           "timing");
    int in_parts = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(timing, "parts"),
                                                                       "point_seconds")) == 2;
    cJSON_Delete(doc);
    ML_ASSERT(whole && strstr(whole, "\"points\"") && strstr(whole, "\"router\""));
    ML_ASSERT_MSG(in_parts, "the MLP cell did not run in parts");
    ML_ASSERT_MSG(parts && !strcmp(whole, parts), "running an MLP cell in parts changed the results");
    free(whole);
    free(parts);
    ml_t_rmrf(dir);
}

/* A text cell with points runs in parts under --jobs 2 (a shared base, its
 * training, each point, its results): the results equal those of running
 * each cell whole (--jobs 1), pretrain.seed makes one base for both seeds
 * (trained on pretrain.threads = 2, taking both slots),
 * the store keeps each job's record by its hash (10 for 2 cells of 3
 * points), and a run killed at any moment resumes to the same results. */
static void test_harness__parts(void) {
    enum { TRIALS = 6 };
    char dir[256], suite[512], path[700], out_dir[600], *out = NULL;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "parts"));
    char *a = ml_t_replace(TINY, "\"steps\": 60, \"lr\": 0.005,", "\"steps\": 60, \"lr\": 0.005, \"points\": [20, 40],");
    char *b = a ? ml_t_replace(a, "\"finetune.steps\": [30, 60] }", "\"finetune.steps\": [60] }") : NULL;
    char *b2 = b ? ml_t_replace(b, "\"exact_match\": 0 }", "\"exact_match\": 0, \"merge_domain_losses\": false }") : NULL;
    char *c = b2 ? ml_t_replace(b2, "\"steps\": 150 }", "\"steps\": 150, \"seed\": 9, \"threads\": 2 }") : NULL;
    free(b2);
    ML_ASSERT(c != NULL);
    ml_t_write(suite, sizeof(suite), dir, "tiny.json", c);
    free(a);
    free(b);
    free(c);
    /* one base for both seeds: the same cache key, the cells still differ */
    ml_cellset *cs = NULL;
    ML_ASSERT_EQ_INT(0, ml_cells_load(&cs, suite, 0));
    int same_base = cs->n == 2 && !strcmp(cs->cells[0].key_base, cs->cells[1].key_base) &&
                    strcmp(cs->cells[0].id, cs->cells[1].id) && cs->cells[1].suite->pretrain_seed == 9;
    ml_cells_free(cs);
    ML_ASSERT_MSG(same_base, "pretrain.seed did not make one base for both seeds");
    int r1 = ml_t_cli(&out, "run %s -o %s/whole --quiet --jobs 1", suite, dir);
    free(out);
    int r2 = ml_t_cli(&out, "run %s -o %s/parts --quiet --jobs 2", suite, dir);
    ML_ASSERT_MSG(r1 == 0 && r2 == 0, "runs: %d %d %s", r1, r2, out);
    free(out);
    snprintf(path, sizeof(path), "%s/whole/tiny.json", dir);
    char *whole = stable_text(path);
    snprintf(path, sizeof(path), "%s/parts/tiny.json", dir);
    char *parts = stable_text(path);
    snprintf(path, sizeof(path), "%s/parts/cache", dir);
    int bins = count_files(path, ".bin");
    snprintf(path, sizeof(path), "%s/parts/cache/jobs", dir);
    int records = count_files(path, ".json");
    cJSON *doc = NULL;
    snprintf(path, sizeof(path), "%s/parts/tiny.json", dir);
    ML_ASSERT_EQ_INT(0, ml_results_load(&doc, path));
    const cJSON *timing = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "cells"), 0),
                                                           "timing");
    int has_parts = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(timing, "parts"),
                                                                        "point_seconds")) == 3;
    const cJSON *pthr = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "cells"), 0),
                                                         "pretrain_threads");
    has_parts &= cJSON_IsNumber(pthr) && pthr->valuedouble == 2;
    /* eval.merge_domain_losses false: the specialists' domains score the four reference models only */
    const cJSON *met = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "cells"), 0),
                                                        "metrics");
    int domains_ok = cJSON_GetObjectItemCaseSensitive(met, "math/math_loss") &&
                     cJSON_GetObjectItemCaseSensitive(met, "direct/code_loss") &&
                     !cJSON_GetObjectItemCaseSensitive(met, "average/math_loss") &&
                     cJSON_GetObjectItemCaseSensitive(met, "average/loss");
    cJSON_Delete(doc);
    ML_ASSERT(whole && strstr(whole, "\"points\""));
    ML_ASSERT_MSG(parts && !strcmp(whole, parts), "running in parts changed the results");
    ML_ASSERT_MSG(bins == 1 + 2 * 2, "cache holds %d entries, want one base and two per cell", bins);
    /* the store keeps every job's record by its hash: per cell its training, 3 points and the cell */
    ML_ASSERT_MSG(records == 2 * (1 + 3 + 1), "the store holds %d job records, want 10", records);
    ML_ASSERT_MSG(has_parts, "the cell's timing does not list its parts");
    ML_ASSERT_MSG(domains_ok, "eval.merge_domain_losses false: wrong domain losses");
    /* killed at moments spread over the run, resumed: the same results */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    snprintf(out_dir, sizeof(out_dir), "%s/timing", dir);
    int status;
    waitpid(start_run(suite, out_dir, 2), &status, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double full = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    int mismatched = 0, some_parts = 0;
    /* on a loaded machine every planned kill can miss the moments when a part
     * record exists: then more kills, at other fractions, until one lands */
    for (int trial = 0; trial < TRIALS || (some_parts == 0 && trial < 4 * TRIALS); trial++) {
        double frac = trial < TRIALS ? (trial + 0.5) / TRIALS : fmod(0.618034 * trial, 1.0);
        double at = full * frac;
        snprintf(out_dir, sizeof(out_dir), "%s/k%d", dir, trial);
        pid_t pid = start_run(suite, out_dir, 2);
        struct timespec ts = { (time_t)at, (long)((at - (double)(time_t)at) * 1e9) };
        nanosleep(&ts, NULL);
        kill(-pid, SIGKILL);
        waitpid(pid, &status, 0);
        snprintf(path, sizeof(path), "%s/cache/jobs", out_dir);
        some_parts += count_files(path, ".json") > 0;
        waitpid(start_run(suite, out_dir, 2), &status, 0);
        snprintf(path, sizeof(path), "%s/tiny.json", out_dir);
        char *text = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? stable_text(path) : NULL;
        if (!text || strcmp(text, whole)) {
            fprintf(stderr, "    kill at %.2f s of %.2f: resumed results differ\n", at, full);
            mismatched++;
        }
        free(text);
    }
    free(whole);
    free(parts);
    /* a part that fails (training diverges) fails its cell with the reason, and the run
     * exits 3 while the other cell ends */
    char *bad = NULL, *src = NULL, *bad2 = NULL;
    ML_ASSERT_EQ_INT(0, ml_fs_read_all(&src, NULL, suite));
    bad = ml_t_replace(src, "\"matrix\": { \"seed\": [1, 2], \"finetune.steps\": [60] }",
                       "\"matrix\": { \"finetune.lr\": [0.005, 1e30] }");
    bad2 = bad ? ml_t_replace(bad, "\"grad_clip\": 1.0", "\"grad_clip\": 0") : NULL;
    free(src);
    free(bad);
    ML_ASSERT(bad2 != NULL);
    ml_t_write(suite, sizeof(suite), dir, "bad.json", bad2);
    free(bad2);
    int rc = ml_t_cli(&out, "run %s -o %s/bad --jobs 2", suite, dir);
    int says = out && strstr(out, "FAILED finetune.lr=1e+30") && strstr(out, "diverged: loss is") &&
               strstr(out, "ok     finetune.lr=0.005");
    free(out);
    ml_t_rmrf(dir);
    ML_ASSERT_EQ_INT(0, mismatched);
    ML_ASSERT_MSG(some_parts >= 1, "no kill left a part record: resuming from parts went untested");
    ML_ASSERT_EQ_INT(3, rc);
    ML_ASSERT_MSG(says, "a failed part did not fail its cell with the reason");
}


/* finetune.points on the MLP: the states kept along one run are evaluated at each point,
 * the last point is the cell's own result, and keeping states does not change the run
 * (its end equals the same run without points). */
static void test_harness__mlp_points(void) {
    char dir[256], suite[512], *out = NULL, *text = NULL;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "mlppts"));
    ML_ASSERT_EQ_INT(0, ml_fs_read_all(&text, NULL, "suites/smoke.json"));
    char *a = ml_t_replace(text, "\"steps\": 300 }", "\"steps\": 60 }");
    char *b = a ? ml_t_replace(a, "\"finetune\": { \"steps\": 600,", "\"finetune\": { \"steps\": 80,") : NULL;
    char *c = b ? ml_t_replace(b, "\"steps\": 150, \"lr\": 0.005", "\"steps\": 10, \"lr\": 0.005") : NULL;
    char *d = c ? ml_t_replace(c, "\"finetune\": { \"steps\": 80,", "\"finetune\": { \"steps\": 80, \"points\": [20, 50],") : NULL;
    ML_ASSERT(d != NULL);
    ml_t_write(suite, sizeof(suite), dir, "plain.json", c);
    int r1 = ml_t_cli(&out, "run %s -o %s/plain --quiet --no-cache", suite, dir);
    free(out);
    ml_t_write(suite, sizeof(suite), dir, "pts.json", d);
    int r2 = ml_t_cli(&out, "run %s -o %s/pts --quiet --no-cache", suite, dir);
    ML_ASSERT_MSG(r1 == 0 && r2 == 0, "runs: %d %d: %s", r1, r2, out);
    free(out);
    cJSON *plain = NULL, *pts = NULL;
    char path[700];
    snprintf(path, sizeof(path), "%s/plain/smoke.json", dir);
    ML_ASSERT_EQ_INT(0, ml_results_load(&plain, path));
    snprintf(path, sizeof(path), "%s/pts/smoke.json", dir);
    ML_ASSERT_EQ_INT(0, ml_results_load(&pts, path));
    const cJSON *cp = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(plain, "cells"), 0);
    const cJSON *cq = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(pts, "cells"), 0);
    const cJSON *points = cJSON_GetObjectItemCaseSensitive(cq, "points");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(cq, "metrics");
    int n = cJSON_GetArraySize(points);
    const cJSON *last = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(points, n - 1), "metrics");
    const cJSON *first = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(points, 0), "metrics");
    int last_is_end = n == 3 && cJSON_GetArraySize(last) > 20;   /* the end adds CKA's metrics to the point's */
    for (const cJSON *x = last ? last->child : NULL; last_is_end && x; x = x->next)
        last_is_end = cJSON_Compare(x, cJSON_GetObjectItemCaseSensitive(m, x->string), 1);
    /* the end's merges equal the run without points (CKA metrics differ: more CKA steps) */
    int same_end = 1, compared = 0;
    for (const cJSON *x = last ? last->child : NULL; x; x = x->next, compared++)
        same_end &= cJSON_Compare(x, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cp, "metrics"), x->string), 1);
    const cJSON *a20 = cJSON_GetObjectItemCaseSensitive(first, "A/test_acc"), *a80 = cJSON_GetObjectItemCaseSensitive(last, "A/test_acc");
    int differs = cJSON_IsNumber(a20) && cJSON_IsNumber(a80) && a20->valuedouble != a80->valuedouble;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(points, 0), "step");
    int step_ok = cJSON_IsNumber(st) && st->valuedouble == 20;
    cJSON_Delete(plain);
    cJSON_Delete(pts);
    free(text);
    free(a);
    free(b);
    free(c);
    free(d);
    ml_t_rmrf(dir);
    ML_ASSERT_MSG(last_is_end, "%d points; the last is not the cell's own result", n);
    ML_ASSERT_MSG(same_end && compared > 20, "keeping states changed the end of the run (%d metrics compared)", compared);
    ML_ASSERT_MSG(differs && step_ok, "the point at step 20 is not its own evaluation");
}

const ml_test ml_tests_harness[] = {
    { "harness__mlp_points", test_harness__mlp_points, "e2e" },
    { "harness__parts", test_harness__parts, "e2e" },
    { "harness__mlp_parts", test_harness__mlp_parts, "e2e" },
    { "harness__points", test_harness__points, "e2e" },
    { "harness__findings_in_results", test_harness__findings_in_results, "e2e" },
    { "harness__matrix_cells", test_harness__matrix_cells, "unit" },
    { "harness__matrix_errors", test_harness__matrix_errors, "unit" },
    { "harness__gate_noise_across_seeds", test_harness__gate_noise_across_seeds, "unit" },
    { "harness__run_list_show", test_harness__run_list_show, "e2e" },
    { "harness__jobs_and_cache_do_not_change_results", test_harness__jobs_and_cache_do_not_change_results, "e2e" },
    { "harness__resume_after_kill9", test_harness__resume_after_kill9, "e2e" },
    { "harness__lock", test_harness__lock, "e2e" },
    { "harness__failed_cell", test_harness__failed_cell, "e2e" },
    { "harness__damaged_files", test_harness__damaged_files, "e2e" },
    { "harness__compare_history_commits", test_harness__compare_history_commits, "e2e" },
    { 0 }
};

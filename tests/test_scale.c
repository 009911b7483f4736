/*
 * tests/test_scale.c: one suite over many processes and hosts.
 * - leases (store/lease.h): one winner among racing claimers, a live
 *   holder keeps its lease, a lease not renewed for its ttl is taken over
 *   (a generation after it) and its old holder sees that it lost it, and a
 *   released lease can be claimed again;
 * - the shared store: two runs in different folders at once, one store,
 *   compute each job once and end bit-identical to a run alone; a run
 *   killed with its leases held is taken over once they lapse.
 */
#include "tests/test.h"
#include "tests/util.h"
#include "core/error.h"
#include "core/fs.h"
#include "store/lease.h"
#include "store/results.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void job_hash(char out[65], const char *suite, const char *kind, int nth);

#define HASH "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Sets path's modification time secs into the past (a holder gone quiet). */
static int age_file(const char *path, double secs) {
    struct stat st;
    if (stat(path, &st) < 0) return -1;
    struct timespec ts[2] = { st.st_atim, st.st_mtim };
    ts[1].tv_sec -= (time_t)secs;
    return utimensat(AT_FDCWD, path, ts, 0);
}

static void test_scale__lease_claims(void) {
    char dir[PATH_MAX], holder[256], path[PATH_MAX + 80];
    ml_lease a, b, c;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "lease"));
    ML_ASSERT_EQ_INT(1, ml_lease_claim(&a, dir, HASH, 5.0, holder, sizeof(holder)));
    /* a live holder keeps it, and is named */
    ML_ASSERT_EQ_INT(0, ml_lease_claim(&b, dir, HASH, 5.0, holder, sizeof(holder)));
    ML_ASSERT_STR_HAS(holder, " pid ");
    ML_ASSERT_EQ_INT(0, ml_lease_renew(&a, 0.0));
    /* quiet for longer than its ttl: the next claimer takes generation 1 */
    snprintf(path, sizeof(path), "%s/%s.0", dir, HASH);
    ML_ASSERT_EQ_INT(0, age_file(path, 10.0));
    ML_ASSERT_EQ_INT(1, ml_lease_claim(&b, dir, HASH, 5.0, holder, sizeof(holder)));
    ML_ASSERT_STR_HAS(b.path, ".1");
    /* the old holder learns it lost the lease; its release leaves b's alone */
    ML_ASSERT_EQ_INT(1, ml_lease_renew(&a, 0.0));
    ml_lease_release(&a);
    ML_ASSERT_EQ_INT(0, ml_lease_claim(&c, dir, HASH, 5.0, holder, sizeof(holder)));
    /* released: free again */
    ml_lease_release(&b);
    ml_lease_release(&b);   /* idempotent */
    ML_ASSERT_EQ_INT(1, ml_lease_claim(&c, dir, HASH, 5.0, holder, sizeof(holder)));
    ml_lease_release(&c);
    ML_ASSERT_MSG(!ml_fs_exists(path), "a released lease left %s", path);
    /* a holder on this host whose process is gone: taken over at once; the
     * same pid from another host: held until its lease lapses */
    pid_t dead = fork();
    if (dead == 0) _exit(0);
    waitpid(dead, NULL, 0);
    char host[64] = "", text[160];
    gethostname(host, sizeof(host) - 1);
    snprintf(text, sizeof(text), "%s pid %ld since now\n", host, (long)dead);
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(path, text, strlen(text)));
    ML_ASSERT_EQ_INT(1, ml_lease_claim(&c, dir, HASH, 60.0, holder, sizeof(holder)));
    ml_lease_release(&c);
    snprintf(text, sizeof(text), "another-host-%s pid %ld since now\n", host, (long)dead);
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(path, text, strlen(text)));
    ML_ASSERT_EQ_INT(0, ml_lease_claim(&c, dir, HASH, 60.0, holder, sizeof(holder)));
    ML_ASSERT_STR_HAS(holder, "another-host-");
    ML_ASSERT_EQ_INT(0, age_file(path, 120.0));
    ML_ASSERT_EQ_INT(1, ml_lease_claim(&c, dir, HASH, 60.0, holder, sizeof(holder)));
    ml_lease_release(&c);
    ml_t_rmrf(dir);
}

/* Sixteen processes claim one job at the same moment: exactly one wins.
 * They stay alive until all have claimed (a holder whose process is gone
 * would rightly be taken over). */
static void test_scale__lease_one_winner(void) {
    char dir[PATH_MAX];
    enum { N = 16 };
    pid_t pids[N];
    int go[2], said[2], hold[2];
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "lease-race"));
    ML_ASSERT_EQ_INT(0, pipe(go));
    ML_ASSERT_EQ_INT(0, pipe(said));
    ML_ASSERT_EQ_INT(0, pipe(hold));
    for (int k = 0; k < N; k++) {
        pids[k] = fork();
        if (pids[k] == 0) {
            char byte;
            close(go[1]);
            close(hold[1]);
            if (read(go[0], &byte, 1) < 0) _exit(9);   /* all start together when the pipe closes */
            ml_lease l;
            int got = ml_lease_claim(&l, dir, HASH, 60.0, NULL, 0);
            byte = got == 1 ? '1' : got == 0 ? '0' : 'e';
            if (write(said[1], &byte, 1) < 0) _exit(9);
            if (read(hold[0], &byte, 1) < 0) _exit(9);   /* until the parent has every answer */
            _exit(0);
        }
    }
    close(go[0]);
    close(go[1]);
    close(hold[0]);
    int winners = 0, errors = 0;
    for (int k = 0; k < N; k++) {
        char byte = 'e';
        if (read(said[0], &byte, 1) != 1) byte = 'e';
        winners += byte == '1';
        errors += byte == 'e';
    }
    close(hold[1]);
    for (int k = 0; k < N; k++) waitpid(pids[k], NULL, 0);
    close(said[0]);
    close(said[1]);
    ml_t_rmrf(dir);
    ML_ASSERT_EQ_INT(0, errors);
    ML_ASSERT_MSG(winners == 1, "%d of %d racing claimers won the lease, want 1", winners, N);
}

/* ---- the shared store --------------------------------------------------- */

#define SEEDS3 "{ \"seed\": [1, 2, 3] }"

/* dir/ref: the suite run alone, in one process: what every engine must equal. */
static int reference_run(const char *suite, const char *dir) {
    char *out = NULL;
    int rc = ml_t_cli(&out, "run %s -o %s/ref --quiet", suite, dir);
    if (rc) fprintf(stderr, "    the reference run failed (%d): %s", rc, out);
    free(out);
    return rc;
}

static int file_has(const char *path, const char *needle) {
    char *text = NULL;
    int has = ml_fs_read_all(&text, NULL, path) == 0 && strstr(text, needle);
    free(text);
    return has;
}

/* Two runs at once in two folders with one store: each job is made once
 * (one run waits for, or finds, what the other made), and both end
 * bit-identical to a run alone. */
static void test_scale__two_runs_one_store(void) {
    char dir[PATH_MAX], suite[PATH_MAX], la[PATH_MAX + 16], lb[PATH_MAX + 16], ra[PATH_MAX + 32], rb[PATH_MAX + 32],
        ref[PATH_MAX + 32];
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "two-runs"));
    ML_ASSERT_EQ_INT(0, ml_t_tiny_suite(suite, sizeof(suite), dir, SEEDS3, 0, 1));
    ML_ASSERT_EQ_INT(0, reference_run(suite, dir));
    snprintf(la, sizeof(la), "%s/a.log", dir);
    snprintf(lb, sizeof(lb), "%s/b.log", dir);
    pid_t a = ml_t_spawn(la, "run %s -o %s/a --cache %s/store --jobs 2", suite, dir, dir);
    pid_t b = ml_t_spawn(lb, "run %s -o %s/b --cache %s/store --jobs 2", suite, dir, dir);
    int rca = ml_t_wait(a), rcb = ml_t_wait(b);
    snprintf(ra, sizeof(ra), "%s/a/tiny.json", dir);
    snprintf(rb, sizeof(rb), "%s/b/tiny.json", dir);
    snprintf(ref, sizeof(ref), "%s/ref/tiny.json", dir);
    int shared = file_has(la, "waiting for it") || file_has(lb, "waiting for it") || file_has(la, "made elsewhere") ||
                 file_has(lb, "made elsewhere");
    ML_ASSERT_MSG(rca == 0 && rcb == 0, "the two runs exited %d and %d", rca, rcb);
    ML_ASSERT(ml_t_identical(ra, ref));
    ML_ASSERT(ml_t_identical(rb, ref));
    ML_ASSERT_MSG(shared, "neither run waited for or reused a job of the other (see %s, %s)", la, lb);
    ml_t_rmrf(dir);
}

/* The train hash of the cell of a one-cell suite, from `plan --json`. */
static int train_hash(char out[65], const char *suite) {
    char *text = NULL;
    out[0] = '\0';
    int rc = ml_t_cli(&text, "plan %s --json", suite);
    cJSON *plan = rc == 0 ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *j;
    cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(plan, "jobs"))
        if (!strcmp(cJSON_GetObjectItemCaseSensitive(j, "kind")->valuestring, "train"))
            snprintf(out, 65, "%s", cJSON_GetObjectItemCaseSensitive(j, "hash")->valuestring);
    cJSON_Delete(plan);
    return out[0] ? 0 : -1;
}

/* Two suites whose cells differ only in a merge share one training (one
 * train job hash). Suite A trains in parts (run-job), suite B then runs
 * whole on the same store, then A finishes: B finds the training done
 * instead of making it again, and A's results still find their training
 * record (once, B's run rewrote that record under its own cell and A's
 * results failed with "its training record is missing"). A ends identical
 * to a run of A alone. */
static void test_scale__training_shared_by_two_suites(void) {
    char dir[PATH_MAX], sa[PATH_MAX], sb[PATH_MAX], ha[65], hb[65], ra[PATH_MAX + 32], ref[PATH_MAX + 32];
    char *out = NULL, *text = NULL, *b1 = NULL, *b2 = NULL;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "shared-train"));
    ML_ASSERT_EQ_INT(0, ml_t_tiny_suite(sa, sizeof(sa), dir, "{ \"seed\": [1] }", 0, 1));
    ML_ASSERT_EQ_INT(0, ml_fs_read_all(&text, NULL, sa));
    b1 = ml_t_replace(text, "\"name\": \"tiny\"", "\"name\": \"tinyb\"");
    b2 = b1 ? ml_t_replace(b1, "\"method\": \"average\"", "\"method\": \"average\", \"weights\": [0.7, 0.3]") : NULL;
    free(text);
    free(b1);
    ML_ASSERT(b2 != NULL);
    int wrote = ml_t_write(sb, sizeof(sb), dir, "tinyb.json", b2);
    free(b2);
    ML_ASSERT_EQ_INT(0, wrote);
    ML_ASSERT_EQ_INT(0, train_hash(ha, sa));
    ML_ASSERT_EQ_INT(0, train_hash(hb, sb));
    ML_ASSERT_MSG(!strcmp(ha, hb), "the two suites do not share their training: %.12s, %.12s", ha, hb);
    ML_ASSERT_EQ_INT(0, reference_run(sa, dir));
    /* A: its base, then its training, alone */
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "plan %s --json", sa));
    cJSON *plan = cJSON_Parse(out);
    free(out);
    int rc = 0;
    const cJSON *j;
    cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(plan, "jobs")) {
        const char *kind = cJSON_GetObjectItemCaseSensitive(j, "kind")->valuestring;
        if (strcmp(kind, "base") && strcmp(kind, "train")) continue;
        rc |= ml_t_cli(&out, "run-job %s %s -o %s/a --cache %s/store --quiet", sa,
                       cJSON_GetObjectItemCaseSensitive(j, "hash")->valuestring, dir, dir);
        free(out);
    }
    cJSON_Delete(plan);
    ML_ASSERT_EQ_INT(0, rc);
    /* B whole, on the same store */
    rc = ml_t_cli(&out, "run %s -o %s/b --cache %s/store --jobs 2", sb, dir, dir);
    int retrained = out && strstr(out, ": train done") != NULL;
    ML_ASSERT_MSG(rc == 0, "suite B exited %d: %s", rc, out);
    ML_ASSERT_MSG(!retrained, "suite B ran the training A had made: %s", out);
    free(out);
    /* A's points and results */
    rc = ml_t_cli(&out, "run %s -o %s/a --cache %s/store --jobs 2", sa, dir, dir);
    ML_ASSERT_MSG(rc == 0, "suite A, finished after B, exited %d: %s", rc, out);
    free(out);
    snprintf(ra, sizeof(ra), "%s/a/tiny.json", dir);
    snprintf(ref, sizeof(ref), "%s/ref/tiny.json", dir);
    ML_ASSERT(ml_t_identical(ra, ref));
    ml_t_rmrf(dir);
}

/* A run killed while it holds leases: a run started at once on the same
 * host sees their holder is gone and takes them over without waiting for
 * them to lapse (30 s here), and ends identical. */
static void test_scale__killed_holder_taken_over(void) {
    char dir[PATH_MAX], suite[PATH_MAX], la[PATH_MAX + 16], lb[PATH_MAX + 16], rb[PATH_MAX + 32], ref[PATH_MAX + 32],
        leases[PATH_MAX + 32];
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "taken-over"));
    ML_ASSERT_EQ_INT(0, ml_t_tiny_suite(suite, sizeof(suite), dir, SEEDS3, 0, 1));
    ML_ASSERT_EQ_INT(0, reference_run(suite, dir));
    setenv("MERGELAB_LEASE_SECONDS", "30", 1);
    snprintf(la, sizeof(la), "%s/a.log", dir);
    snprintf(lb, sizeof(lb), "%s/b.log", dir);
    snprintf(leases, sizeof(leases), "%s/store/leases", dir);
    pid_t a = ml_t_spawn(la, "run %s -o %s/a --cache %s/store --jobs 2", suite, dir, dir);
    /* kill it once it holds a lease */
    int held = 0;
    for (int k = 0; k < 400 && !held; k++) {
        char *out = NULL;
        ml_t_sh(&out, "ls %s 2>/dev/null | grep -c '\\.[0-9]*$'", leases);
        held = out && atoi(out) > 0;
        free(out);
        if (!held) usleep(10000);
    }
    kill(-a, SIGKILL);
    ml_t_wait(a);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t b = ml_t_spawn(lb, "run %s -o %s/b --cache %s/store --jobs 2", suite, dir, dir);
    int rcb = ml_t_wait(b);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    unsetenv("MERGELAB_LEASE_SECONDS");
    snprintf(rb, sizeof(rb), "%s/b/tiny.json", dir);
    snprintf(ref, sizeof(ref), "%s/ref/tiny.json", dir);
    ML_ASSERT_MSG(held, "the first run never held a lease");
    ML_ASSERT_MSG(rcb == 0, "the second run exited %d (see %s)", rcb, lb);
    ML_ASSERT_MSG(took < 20.0, "the second run took %.1f s: it waited for the dead run's leases to lapse", took);
    ML_ASSERT(ml_t_identical(rb, ref));
    ml_t_rmrf(dir);
}

/* ---- shards and gather ------------------------------------------------- */

/* Three shards, each with its own store (a CI matrix: nothing shared), then
 * gather --from each: bit-identical to a run alone. And the same three at
 * once on one folder (GNU parallel on one machine), then gather. */
static void test_scale__shards_and_gather(void) {
    char dir[PATH_MAX], suite[PATH_MAX], res[PATH_MAX + 32], ref[PATH_MAX + 32], log[PATH_MAX + 32];
    char *out = NULL;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "shards"));
    ML_ASSERT_EQ_INT(0, ml_t_tiny_suite(suite, sizeof(suite), dir, SEEDS3, 0, 1));
    ML_ASSERT_EQ_INT(0, reference_run(suite, dir));
    snprintf(ref, sizeof(ref), "%s/ref/tiny.json", dir);
    int rc = 0;
    for (int k = 1; k <= 3; k++) {
        rc = rc * 10 + ml_t_cli(&out, "run %s --shard %d/3 -o %s/own%d", suite, k, dir, k);
        ML_ASSERT_STR_HAS(out, "of its own");
        free(out);
    }
    ML_ASSERT_EQ_INT(0, rc);
    /* one shard's outputs are not the suite's: gather says what is missing */
    rc = ml_t_cli(&out, "gather %s -o %s/partial --from %s/own1", suite, dir, dir);
    ML_ASSERT_EQ_INT(3, rc);
    ML_ASSERT_STR_HAS(out, "has no output");
    free(out);
    rc = ml_t_cli(&out, "gather %s -o %s/g --from %s/own1 --from %s/own2 --from %s/own3", suite, dir, dir, dir, dir);
    ML_ASSERT_MSG(rc == 0, "gather exited %d: %s", rc, out);
    free(out);
    snprintf(res, sizeof(res), "%s/g/tiny.json", dir);
    ML_ASSERT(ml_t_identical(res, ref));
    /* at once, one folder and store */
    pid_t p[3];
    for (int k = 0; k < 3; k++) {
        snprintf(log, sizeof(log), "%s/par%d.log", dir, k + 1);
        p[k] = ml_t_spawn(log, "run %s --shard %d/3 -o %s/par --quiet", suite, k + 1, dir);
    }
    for (int k = 0; k < 3; k++) rc = rc * 10 + ml_t_wait(p[k]);
    ML_ASSERT_EQ_INT(0, rc);
    rc = ml_t_cli(&out, "gather %s -o %s/par --quiet", suite, dir);
    ML_ASSERT_MSG(rc == 0, "gather exited %d: %s", rc, out);
    free(out);
    snprintf(res, sizeof(res), "%s/par/tiny.json", dir);
    ML_ASSERT(ml_t_identical(res, ref));
    ml_t_rmrf(dir);
}

/* A failed cell in a shard is recorded by gather as failed (exit 3 from the shard, 0 from gather with the
 * cell listed as failed), not taken for missing. */
static void test_scale__shard_failed_cell(void) {
    char dir[PATH_MAX], suite[PATH_MAX], res[PATH_MAX + 32];
    char *out = NULL;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "shard-fail"));
    ML_ASSERT_EQ_INT(0, ml_t_tiny_suite(suite, sizeof(suite), dir, "{ \"finetune.lr\": [0.005, 1e30] }", 1, 1));
    int r1 = ml_t_cli(&out, "run %s --shard 1/2 -o %s/s --quiet", suite, dir);
    free(out);
    int r2 = ml_t_cli(&out, "run %s --shard 2/2 -o %s/s --quiet", suite, dir);
    free(out);
    int rg = ml_t_cli(&out, "gather %s -o %s/s", suite, dir);
    snprintf(res, sizeof(res), "%s/s/tiny.json", dir);
    cJSON *doc = NULL;
    int loaded = ml_results_load(&doc, res) == 0;
    const cJSON *cells = cJSON_GetObjectItemCaseSensitive(doc, "cells");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cells, 1), "status");
    int failed_listed = loaded && cJSON_GetArraySize(cells) == 2 && cJSON_IsString(st) && !strcmp(st->valuestring, "failed");
    cJSON_Delete(doc);
    ML_ASSERT_MSG(r1 == 0 && r2 == 3, "the shards exited %d and %d, want 0 and 3 (the second's cell diverges)", r1, r2);
    ML_ASSERT_MSG(rg == 3, "gather exited %d, want 3 (a cell failed): %s", rg, out);
    ML_ASSERT_MSG(failed_listed, "gather's results do not list the diverged cell as failed: %s", out);
    free(out);
    ml_t_rmrf(dir);
}

/* run-job: a job whose inputs are not done exits 3 and names them; run
 * level by level (what Slurm's arrays do), the suite's results are
 * bit-identical to a run alone, and a report is written. */
static void test_scale__run_job_levels(void) {
    char dir[PATH_MAX], suite[PATH_MAX], res[PATH_MAX + 32], ref[PATH_MAX + 32], index[PATH_MAX + 32];
    char *out = NULL;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "run-job"));
    ML_ASSERT_EQ_INT(0, ml_t_tiny_suite(suite, sizeof(suite), dir, SEEDS3, 0, 1));
    ML_ASSERT_EQ_INT(0, reference_run(suite, dir));
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "plan %s --json", suite));
    cJSON *plan = cJSON_Parse(out);
    free(out);
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(plan, "jobs");
    int n = cJSON_GetArraySize(jobs), level[64] = { 0 }, top = 0, early = -1;
    ML_ASSERT(n > 0 && n <= 64);
    for (int j = 0; j < n; j++) {
        const cJSON *in;
        cJSON_ArrayForEach(in, cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(jobs, j), "inputs"))
            if (level[in->valueint] + 1 > level[j]) level[j] = level[in->valueint] + 1;
        if (level[j] > top) top = level[j];
    }
    /* a training before its base: refused */
    for (int j = 0; j < n && early < 0; j++) if (level[j] == 1) early = j;
    const char *h = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(jobs, early), "hash")->valuestring;
    int rc = ml_t_cli(&out, "run-job %s %.12s -o %s/rj", suite, h, dir);
    ML_ASSERT_MSG(rc == 3 && strstr(out, "which is not done"), "a job before its input: exit %d: %s", rc, out);
    free(out);
    rc = ml_t_cli(&out, "run-job %s 0000000 -o %s/rj", suite, dir);
    ML_ASSERT_MSG(rc == 2, "an unknown job: exit %d: %s", rc, out);
    free(out);
    int bad = 0;
    for (int l = 0; l <= top; l++)
        for (int j = 0; j < n; j++)
            if (level[j] == l) {
                h = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(jobs, j), "hash")->valuestring;
                rc = ml_t_cli(&out, "run-job %s %s -o %s/rj --report %s/rj/report --quiet", suite, h, dir, dir);
                if (rc) fprintf(stderr, "    run-job %.12s exited %d: %s", h, rc, out);
                bad += rc != 0;
                free(out);
            }
    cJSON_Delete(plan);
    snprintf(res, sizeof(res), "%s/rj/tiny.json", dir);
    snprintf(ref, sizeof(ref), "%s/ref/tiny.json", dir);
    snprintf(index, sizeof(index), "%s/rj/report/index.html", dir);
    ML_ASSERT_EQ_INT(0, bad);
    ML_ASSERT(ml_t_identical(res, ref));
    ML_ASSERT(ml_fs_exists(index));
    ml_t_rmrf(dir);
}

/* A worker killed by a signal (MERGELAB_FAULT=crash=HASH: SIGKILL, as the
 * OOM killer would) fails its cell with the reason; the other cells end ok,
 * and a rerun without the fault completes it, identical to a run alone. */
static void test_scale__killed_worker_fails_cell(void) {
    char dir[PATH_MAX], suite[PATH_MAX], hash[65], res[PATH_MAX + 32], ref[PATH_MAX + 32], env[128];
    char *out = NULL;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "killed-worker"));
    ML_ASSERT_EQ_INT(0, ml_t_tiny_suite(suite, sizeof(suite), dir, SEEDS3, 0, 1));
    ML_ASSERT_EQ_INT(0, reference_run(suite, dir));
    job_hash(hash, suite, "point", 2);
    ML_ASSERT(hash[0]);
    snprintf(env, sizeof(env), "crash=%.16s", hash);
    setenv("MERGELAB_FAULT", env, 1);
    int rc = ml_t_cli(&out, "run %s -o %s/k --jobs 2", suite, dir);
    unsetenv("MERGELAB_FAULT");
    int said = strstr(out, "killed by signal 9") != NULL;
    free(out);
    int rc2 = ml_t_cli(&out, "run %s -o %s/k --jobs 2 --quiet", suite, dir);
    free(out);
    snprintf(res, sizeof(res), "%s/k/tiny.json", dir);
    snprintf(ref, sizeof(ref), "%s/ref/tiny.json", dir);
    ML_ASSERT_MSG(rc == 3 && said, "a killed worker: exit %d, reason given %d (want 3, 1)", rc, said);
    ML_ASSERT_EQ_INT(0, rc2);
    ML_ASSERT(ml_t_identical(res, ref));
    ml_t_rmrf(dir);
}

/* Usage the engines refuse: --mpi in a build without MPI says how to get
 * it; --shard and --mpi with what they exclude; a bad K/N. All exit 2. */
static void test_scale__usage(void) {
    char *out = NULL;
    int rc = ml_t_cli(&out, "run suites/smoke.json --mpi -o /tmp/never");
    int said = strstr(out, "make MPI=1") != NULL;
    free(out);
    int r2 = ml_t_cli(&out, "run suites/smoke.json --shard 3/2");
    free(out);
    int r3 = ml_t_cli(&out, "run suites/smoke.json --shard 1/2 --report x");
    free(out);
    int r4 = ml_t_cli(&out, "run suites/smoke.json --mpi --jobs 2");
    free(out);
    int r5 = ml_t_cli(&out, "gather suites/smoke.json --from /nonexistent/store -o /tmp/mltest-never");
    int named = strstr(out, "/nonexistent/store") != NULL;
    free(out);
    ML_ASSERT_MSG(rc == 2 && said, "--mpi without MPI: exit %d, says how to build it: %d", rc, said);
    ML_ASSERT_MSG(r2 == 2 && r3 == 2 && r4 == 2, "bad --shard or --mpi combinations: exits %d %d %d", r2, r3, r4);
    ML_ASSERT_MSG(r5 == 2 && named, "gather --from a missing folder: exit %d", r5);
    ml_t_rmrf("/tmp/mltest-never");
}

/* ---- engines: Slurm and MPI (tier "scale": make check-scale) -------------- */

/* Tools a scale test needs: 1 when there; else 0 after a SKIP line (a
 * failure under CI=true: CI never passes without running them). */
static int have_tools(const char *what, const char *tools) {
    char *out = NULL;
    int rc = ml_t_sh(&out, "for t in %s; do command -v $t >/dev/null || [ -x /usr/sbin/$t ] || echo \"missing $t\"; done",
                     tools);
    int ok = rc == 0 && out && !strstr(out, "missing");
    const char *ci = getenv("CI");
    if (!ok && ci && !strcmp(ci, "true")) {
        printf("    %s: %s(CI=true: make check-scale installs them)\n", what, out ? out : "");
        ml_test_failed_now = 1;
    } else if (!ok) printf("    SKIP: %s: %s", what, out ? out : "");
    free(out);
    return ok;
}

/* The suite's Slurm scripts, submitted to a real single-node Slurm that
 * the test starts (tests/slurm.sh) and stops: bit-identical results and a
 * report. */
static void test_scale__slurm(void) {
    char dir[PATH_MAX], suite[PATH_MAX], res[PATH_MAX + 32], ref[PATH_MAX + 32], conf[PATH_MAX + 32], index[PATH_MAX + 32];
    char *out = NULL;
    if (!have_tools("Slurm", "munged slurmctld slurmd sbatch squeue scontrol sinfo")) return;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "slurm"));
    ML_ASSERT_EQ_INT(0, ml_t_tiny_suite(suite, sizeof(suite), dir, SEEDS3, 0, 1));
    ML_ASSERT_EQ_INT(0, reference_run(suite, dir));
    int rc = ml_t_sh(&out, "sh tests/slurm.sh start %s/cluster", dir);
    ML_ASSERT_MSG(rc == 0, "starting Slurm: %s", out);
    free(out);
    snprintf(conf, sizeof(conf), "%s/cluster/slurm.conf", dir);
    setenv("SLURM_CONF", conf, 1);
    rc = ml_t_cli(&out, "slurm %s -o %s/sl --report %s/sl/report", suite, dir, dir);
    int wrote = rc == 0 && strstr(out, "levels");
    fprintf(stderr, "%s", out);
    free(out);
    rc = wrote ? ml_t_sh(&out, "sh %s/sl/slurm/submit.sh", dir) : -1;
    int submitted = rc == 0 && out && strstr(out, "last:");
    if (!submitted) fprintf(stderr, "    submit.sh: %s", out ? out : "");
    free(out);
    int left = -1;
    for (int k = 0; submitted && k < 600; k++) {   /* up to 5 minutes */
        out = NULL;
        ml_t_sh(&out, "squeue -h | wc -l");
        left = out ? atoi(out) : -1;
        free(out);
        if (left == 0) break;
        usleep(500000);
    }
    ml_t_sh(&out, "sh tests/slurm.sh stop %s/cluster", dir);
    free(out);
    unsetenv("SLURM_CONF");
    snprintf(res, sizeof(res), "%s/sl/tiny.json", dir);
    snprintf(ref, sizeof(ref), "%s/ref/tiny.json", dir);
    snprintf(index, sizeof(index), "%s/sl/report/index.html", dir);
    ML_ASSERT_MSG(wrote && submitted, "mergelab slurm or submit.sh failed");
    ML_ASSERT_MSG(left == 0, "Slurm still had %d jobs after 5 minutes", left);
    ML_ASSERT_MSG(ml_fs_exists(res), "no results after Slurm ran every level (logs in %s/sl/slurm/logs)", dir);
    ML_ASSERT(ml_t_identical(res, ref));
    ML_ASSERT(ml_fs_exists(index));
    ml_t_rmrf(dir);
}

/* The hash of the first job of kind in the suite's plan ("" when none). */
static void job_hash(char out[65], const char *suite, const char *kind, int nth) {
    char *text = NULL;
    out[0] = '\0';
    if (ml_t_cli(&text, "plan %s --json", suite) != 0) {
        free(text);
        return;
    }
    cJSON *plan = cJSON_Parse(text);
    free(text);
    const cJSON *j;
    cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(plan, "jobs"))
        if (!strcmp(cJSON_GetObjectItemCaseSensitive(j, "kind")->valuestring, kind) && nth-- == 0) {
            snprintf(out, 65, "%s", cJSON_GetObjectItemCaseSensitive(j, "hash")->valuestring);
            break;
        }
    cJSON_Delete(plan);
}

/* mpirun -np 3 (oversubscribed on 2 cores): bit-identical to one process,
 * every rank's host and BLAS threads recorded; a job that dies on a rank
 * fails its cell with the reason and the rest goes on (exit 3); a run
 * killed as a whole resumes at once when run again. */
static void test_scale__mpi(void) {
    const char *mpi = getenv("ML_MPI_BIN");
    char dir[PATH_MAX], suite[PATH_MAX], res[PATH_MAX + 32], ref[PATH_MAX + 32], log[PATH_MAX + 32], hash[65];
    char *out = NULL;
    if (!have_tools("MPI", "mpirun")) return;
    if (!mpi || !ml_fs_exists(mpi)) {
        const char *ci = getenv("CI");
        printf("    %s: ML_MPI_BIN names no MPI build (make check-scale builds build-mpi/mergelab)\n",
               ci && !strcmp(ci, "true") ? "FAIL" : "SKIP");
        if (ci && !strcmp(ci, "true")) ml_test_failed_now = 1;
        return;
    }
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "mpi"));
    ML_ASSERT_EQ_INT(0, ml_t_tiny_suite(suite, sizeof(suite), dir, SEEDS3, 0, 1));
    ML_ASSERT_EQ_INT(0, reference_run(suite, dir));
    snprintf(ref, sizeof(ref), "%s/ref/tiny.json", dir);
    const char *mpirun = "OMPI_MCA_rmaps_base_oversubscribe=1 mpirun --allow-run-as-root --oversubscribe -np 3";
    int rc = ml_t_sh(&out, "%s %s run %s -o %s/mpi --mpi --quiet", mpirun, mpi, suite, dir);
    ML_ASSERT_MSG(rc == 0, "mpirun exited %d: %s", rc, out);
    free(out);
    snprintf(res, sizeof(res), "%s/mpi/tiny.json", dir);
    ML_ASSERT(ml_t_identical(res, ref));
    cJSON *doc = NULL;
    ML_ASSERT_EQ_INT(0, ml_results_load(&doc, res));
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "provenance"), "mpi");
    const cJSON *w = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "workers"), 1);
    int recorded = cJSON_GetObjectItemCaseSensitive(m, "ranks") && cJSON_GetObjectItemCaseSensitive(m, "ranks")->valueint == 3 &&
                   cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(w, "blas_threads")) &&
                   cJSON_IsString(cJSON_GetObjectItemCaseSensitive(w, "host"));
    cJSON_Delete(doc);
    ML_ASSERT_MSG(recorded, "the results do not record the ranks, their hosts and BLAS threads");
    /* a job that dies on its rank */
    job_hash(hash, suite, "train", 1);
    ML_ASSERT(hash[0]);
    rc = ml_t_sh(&out, "MERGELAB_FAULT=crash=%.16s %s -x MERGELAB_FAULT %s run %s -o %s/crash --mpi --quiet", hash, mpirun,
                 mpi, suite, dir);
    snprintf(res, sizeof(res), "%s/crash/tiny.json", dir);
    doc = NULL;
    int failed = 0, ok = 0;
    if (ml_results_load(&doc, res) == 0) {
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(doc, "cells")) {
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(c, "error");
            failed += cJSON_IsString(e) && strstr(e->valuestring, "killed by signal") != NULL;
            ok += !strcmp(cJSON_GetObjectItemCaseSensitive(c, "status")->valuestring, "ok");
        }
    }
    cJSON_Delete(doc);
    ML_ASSERT_MSG(rc == 3 && failed == 1 && ok == 2, "a job killed on a rank: exit %d, %d cells failed with the signal, "
                  "%d ok (want 3, 1, 2): %s", rc, failed, ok, out);
    free(out);
    /* the whole run killed (mpirun's own abort), then run again */
    snprintf(log, sizeof(log), "%s/killed.log", dir);
    char cmd[PATH_MAX * 3];
    snprintf(cmd, sizeof(cmd), "%s %s run %s -o %s/killed --mpi --quiet", mpirun, mpi, suite, dir);
    fflush(NULL);
    pid_t p = fork();
    if (p == 0) {
        setpgid(0, 0);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    setpgid(p, p);
    usleep(400000);
    kill(-p, SIGKILL);
    ml_t_wait(p);
    rc = ml_t_sh(&out, "%s", cmd);
    ML_ASSERT_MSG(rc == 0, "the run again after a kill exited %d: %s", rc, out);
    free(out);
    snprintf(res, sizeof(res), "%s/killed/tiny.json", dir);
    ML_ASSERT(ml_t_identical(res, ref));
    ml_t_rmrf(dir);
}

const ml_test ml_tests_scale[] = {
    { "scale__lease_claims", test_scale__lease_claims, "unit" },
    { "scale__lease_one_winner", test_scale__lease_one_winner, "unit" },
    { "scale__two_runs_one_store", test_scale__two_runs_one_store, "e2e" },
    { "scale__training_shared_by_two_suites", test_scale__training_shared_by_two_suites, "e2e" },
    { "scale__killed_holder_taken_over", test_scale__killed_holder_taken_over, "e2e" },
    { "scale__shards_and_gather", test_scale__shards_and_gather, "e2e" },
    { "scale__shard_failed_cell", test_scale__shard_failed_cell, "e2e" },
    { "scale__run_job_levels", test_scale__run_job_levels, "e2e" },
    { "scale__killed_worker_fails_cell", test_scale__killed_worker_fails_cell, "e2e" },
    { "scale__usage", test_scale__usage, "e2e" },
    { "scale__mpi", test_scale__mpi, "scale" },
    { "scale__slurm", test_scale__slurm, "scale" },
    { NULL, NULL, NULL }
};

/*
 * tests/test_jobs.c: the jobs of a run (sched/jobs.h) and the documents
 * they write (store/cellfile.h).
 * - a cell's file counts as done only for its own identity (and with
 *   want_ok only when it is ok); a damaged one does not, and says why;
 *   the suite's document lists failed and missing cells and is incomplete;
 * - after a cell fails, the suite job and the report job still run, as
 *   jobs of the graph, with one worker and with two: the suite's file
 *   records the failure, the report is written, the exit code is 3;
 * - `plan --report` says the report is done after `run --report`, and not
 *   once a later run has written the suite's file again;
 * - `plan -o` and `run` agree on what is done, a failed cell included.
 * The runs use a tiny GPT suite on generated text (a fraction of a second).
 */
#include "tests/test.h"
#include "tests/util.h"
#include "core/error.h"
#include "core/fs.h"
#include "suite/cells.h"
#include "store/cellfile.h"
#include "store/results.h"
#include "store/store.h"

#include <limits.h>
#include <stdlib.h>

/* Two seeds, both fine. */
#define SEEDS "{ \"seed\": [1, 2] }"
/* Two learning rates; the second diverges (no clipping), so its cell fails. */
#define LRS "{ \"finetune.lr\": [0.005, 1e30] }"

static int write_suite(char *path, size_t size, const char *dir, const char *matrix, int unclipped, int points) {
    return ml_t_tiny_suite(path, size, dir, matrix, unclipped, points);
}

/* ---- the documents ------------------------------------------------------- */

static void count_note(void *ctx, const char *why) {
    (void)why;
    (*(int *)ctx)++;
}

static void test_jobs__cellfile_identity(void) {
    char dir[256], suite[512], why[ML_ERROR_MSG_MAX], path[PATH_MAX], other[PATH_MAX], *text = NULL;
    size_t len;
    ml_cellset *cs = NULL;
    cJSON *got = NULL, *doc = NULL;
    int notes = 0;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "cellfile"));
    ML_ASSERT_EQ_INT(0, write_suite(suite, sizeof(suite), dir, "{ \"seed\": [1, 2, 3, 4] }", 0, 0));
    ML_ASSERT_EQ_INT(0, ml_cells_load(&cs, suite, 0));
    /* cell 0 ok, cell 1 failed, cell 2 holds cell 0's file, cell 3 a damaged file */
    cJSON *run = cJSON_CreateObject();
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(run, "metrics"), "average/loss", 1.5);
    int w0 = ml_cellfile_write(cs, 0, dir, ml_cellfile_doc(cs, 0, run, 0, "2025-01-01T00:00:00Z", 1.0, 1.0));
    ml_error_set(ML_ERUN, "fine-tuning diverged");
    int w1 = ml_cellfile_write(cs, 1, dir, ml_cellfile_doc(cs, 1, NULL, ML_ERUN, "2025-01-01T00:00:00Z", 1.0, 1.0));
    ml_store_cell_file(path, sizeof(path), dir, cs->suite->name, cs->cells[0].name);
    ml_store_cell_file(other, sizeof(other), dir, cs->suite->name, cs->cells[2].name);
    int copied = ml_fs_read_all(&text, &len, path) == 0 && ml_fs_write_atomic(other, text, len) == 0;
    ml_store_cell_file(other, sizeof(other), dir, cs->suite->name, cs->cells[3].name);
    int cut = copied && ml_fs_write_atomic(other, text, len / 2) == 0;
    free(text);

    int ok0 = ml_cellfile_load_done(&got, cs, 0, dir, 1, why, sizeof(why));
    int named = got && !strcmp(cJSON_GetObjectItemCaseSensitive(got, "name")->valuestring, cs->cells[0].name);
    cJSON_Delete(got);
    int failed_ok = ml_cellfile_load_done(NULL, cs, 1, dir, 1, why, sizeof(why));
    int failed_any = ml_cellfile_load_done(NULL, cs, 1, dir, 0, why, sizeof(why));
    int quiet_failed = why[0] == '\0';
    int wrong_id = ml_cellfile_load_done(NULL, cs, 2, dir, 0, why, sizeof(why));
    int quiet_id = why[0] == '\0';
    int damaged = ml_cellfile_load_done(NULL, cs, 3, dir, 0, why, sizeof(why));
    char damaged_why[sizeof(why)];
    snprintf(damaged_why, sizeof(damaged_why), "%s", why);
    /* the suite's document: 0 and 1 in it, 2 and 3 missing, one note (the damaged file) */
    int sdoc = ml_cellfile_suite(&doc, cs, cJSON_CreateObject(), dir, count_note, &notes);
    int ncells = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "cells"));
    int nmissing = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "missing"));
    int complete = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "complete"));
    cJSON_Delete(doc);
    ml_cells_free(cs);
    ml_t_rmrf(dir);
    ML_ASSERT_EQ_INT(0, w0);
    ML_ASSERT_EQ_INT(0, w1);
    ML_ASSERT(copied && cut);
    ML_ASSERT_EQ_INT(1, ok0);
    ML_ASSERT(named);
    ML_ASSERT_EQ_INT(0, failed_ok);    /* a failed cell is to run again */
    ML_ASSERT_EQ_INT(1, failed_any);   /* but it is there */
    ML_ASSERT(quiet_failed);
    ML_ASSERT_EQ_INT(0, wrong_id);     /* another cell's identity */
    ML_ASSERT(quiet_id);
    ML_ASSERT_EQ_INT(0, damaged);
    ML_ASSERT_STR_HAS(damaged_why, "invalid or truncated JSON");
    ML_ASSERT_EQ_INT(0, sdoc);
    ML_ASSERT_EQ_INT(2, ncells);
    ML_ASSERT_EQ_INT(2, nmissing);
    ML_ASSERT(!complete);
    ML_ASSERT_EQ_INT(1, notes);
}

/* ---- runs and plans ------------------------------------------------------ */

/* plan's JSON state of the jobs of kind in DIR: how many are done, to run, not requested. */
static int plan_states(const char *suite, const char *args, const char *kind, int *done, int *todo, int *none) {
    char *out = NULL;
    *done = *todo = *none = 0;
    int rc = ml_t_cli(&out, "plan %s --json %s", suite, args);
    cJSON *doc = rc == 0 ? cJSON_Parse(out) : NULL;
    if (rc != 0) fprintf(stderr, "    plan %s: exit %d: %s\n", args, rc, out);
    free(out);
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(doc, "jobs");
    for (const cJSON *j = jobs ? jobs->child : NULL; j; j = j->next) {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "kind"), *d = cJSON_GetObjectItemCaseSensitive(j, "done");
        if (!cJSON_IsString(k) || strcmp(k->valuestring, kind)) continue;
        *done += cJSON_IsTrue(d);
        *todo += cJSON_IsFalse(d);
        *none += cJSON_IsNull(d);
    }
    int parsed = doc != NULL;
    cJSON_Delete(doc);
    return parsed || rc != 0 ? rc : -1;
}

/* A cell fails: the suite's file and the report are still written, by their
 * jobs, on one worker (in this process) and on two; there the cells run in
 * parts, and the failed cell's training drops its points and results, the
 * suite job's input. */
static void test_jobs__suite_and_report_after_failed_cell(void) {
    char dir[256], suite[512], path[600], page[600], *out = NULL;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "jobsfail"));
    ML_ASSERT_EQ_INT(0, write_suite(suite, sizeof(suite), dir, LRS, 1, 1));
    for (int workers = 1; workers <= 2; workers++) {
        cJSON *doc = NULL;
        int rc = ml_t_cli(&out, "run %s -o %s/w%d --report %s/rep%d --jobs %d", suite, dir, workers, dir, workers, workers);
        snprintf(path, sizeof(path), "%s/w%d/tiny.json", dir, workers);
        snprintf(page, sizeof(page), "%s/rep%d/index.html", dir, workers);
        int loaded = ml_results_load(&doc, path);
        const cJSON *c1 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "cells"), 1);
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(c1, "status");
        int recorded = cJSON_IsString(st) && !strcmp(st->valuestring, "failed") &&
                       cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(doc, "complete"));
        cJSON_Delete(doc);
        int says = out && strstr(out, "2 cells: 2 ran, 0 reused, 1 failed; incomplete") && strstr(out, page) &&
                   strstr(out, "mergelab: 1 cell failed; their reasons are in");
        if (rc != 3 || !says) fprintf(stderr, "    --jobs %d: exit %d:\n%s\n", workers, rc, out);
        free(out);
        ML_ASSERT_EQ_INT(3, rc);
        ML_ASSERT_EQ_INT(0, loaded);
        ML_ASSERT_MSG(recorded, "--jobs %d: the suite's file does not record the failed cell", workers);
        ML_ASSERT_MSG(ml_fs_exists(page), "--jobs %d: no report after a failed cell", workers);
        ML_ASSERT_MSG(says, "--jobs %d: the summary lines are not the expected ones", workers);
    }
    ml_t_rmrf(dir);
}

/* The report is a job: plan --report says it is done after run --report,
 * not requested without --report, and to run once the suite's file is newer. */
static void test_jobs__report_job_then_plan(void) {
    char dir[256], suite[512], args[900], *out = NULL;
    int done, todo, none;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "jobsrep"));
    ML_ASSERT_EQ_INT(0, write_suite(suite, sizeof(suite), dir, SEEDS, 0, 0));
    snprintf(args, sizeof(args), "-o %s/out --report %s/rep", dir, dir);
    ML_ASSERT_EQ_INT(0, plan_states(suite, args, "report", &done, &todo, &none));
    int before = todo == 1 && done == 0;
    int rc = ml_t_cli(&out, "run %s %s", suite, args);
    int wrote = out && strstr(out, "/rep/index.html");
    free(out);
    ML_ASSERT_EQ_INT(0, rc);
    ML_ASSERT(wrote);
    ML_ASSERT_EQ_INT(0, plan_states(suite, args, "report", &done, &todo, &none));
    int after = done == 1;
    ML_ASSERT_EQ_INT(0, plan_states(suite, args, "suite", &done, &todo, &none));
    int suite_done = done == 1;
    snprintf(args, sizeof(args), "-o %s/out", dir);
    ML_ASSERT_EQ_INT(0, plan_states(suite, args, "report", &done, &todo, &none));
    int not_requested = none == 1;
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "plan %s %s", suite, args));
    ML_ASSERT_STR_HAS(out, "(not requested)");
    free(out);
    /* a run without --report writes the suite's file again: the report is behind it */
    rc = ml_t_cli(&out, "run %s -o %s/out", suite, dir);
    free(out);
    snprintf(args, sizeof(args), "-o %s/out --report %s/rep", dir, dir);
    ML_ASSERT_EQ_INT(0, plan_states(suite, args, "report", &done, &todo, &none));
    int stale = todo == 1;
    ml_t_rmrf(dir);
    ML_ASSERT_EQ_INT(0, rc);
    ML_ASSERT_MSG(before, "plan says a report that was never written is done");
    ML_ASSERT_MSG(after, "plan does not say the report is done after run --report");
    ML_ASSERT(suite_done);
    ML_ASSERT_MSG(not_requested, "without --report the report job is not 'not requested'");
    ML_ASSERT_MSG(stale, "plan says the report is done though the suite's file is newer");
}

/* "N to run, M already done" from run's first line; -1 when absent. */
static int run_counts(const char *out, int *torun, int *already) {
    const char *p = out ? strstr(out, " to run, ") : NULL;
    if (!p) return -1;
    while (p > out && p[-1] != ' ') p--;
    return sscanf(p, "%d to run, %d already done", torun, already) == 2 ? 0 : -1;
}

/* plan -o and run agree on what is done: after one cell, after a failed
 * cell (which both take as to run), after everything. */
static void test_jobs__plan_and_run_agree(void) {
    char dir[256], suite[512], args[600], *out = NULL;
    int done, todo, none, torun = -1, already = -1;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "jobsagree"));
    ML_ASSERT_EQ_INT(0, write_suite(suite, sizeof(suite), dir, LRS, 1, 0));
    snprintf(args, sizeof(args), "-o %s/out", dir);
    /* plan's graph is split, but a cell without points is one cell job, as in run's */
    ML_ASSERT_EQ_INT(0, plan_states(suite, args, "cell", &done, &todo, &none));
    ML_ASSERT_MSG(done == 0 && todo == 2, "before any run: plan says %d done, %d to run", done, todo);
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "run %s %s --only 'finetune.lr=0.005' --quiet", suite, args));
    free(out);
    ML_ASSERT_EQ_INT(0, plan_states(suite, args, "cell", &done, &todo, &none));
    int plan1 = done == 1 && todo == 1;
    int rc = ml_t_cli(&out, "run %s %s", suite, args);
    int counted = run_counts(out, &torun, &already) == 0;
    free(out);
    int run1 = counted && torun == 1 && already == 1;
    /* the second cell failed: both say it is to run */
    ML_ASSERT_EQ_INT(0, plan_states(suite, args, "cell", &done, &todo, &none));
    int plan2 = done == 1 && todo == 1;
    ML_ASSERT_EQ_INT(0, plan_states(suite, args, "suite", &done, &todo, &none));
    int suite_todo = todo == 1;
    rc = rc * 10 + ml_t_cli(&out, "run %s %s", suite, args);
    counted = run_counts(out, &torun, &already) == 0;
    free(out);
    int run2 = counted && torun == 1 && already == 1;
    ml_t_rmrf(dir);
    ML_ASSERT_EQ_INT(33, rc);   /* both runs: a failed cell */
    ML_ASSERT_MSG(plan1, "after --only: plan does not say one cell is done, one to run");
    ML_ASSERT_MSG(run1, "after --only: run says %d to run, %d done", torun, already);
    ML_ASSERT_MSG(plan2, "after a failed cell: plan does not say it is to run");
    ML_ASSERT_MSG(run2, "after a failed cell: run says %d to run, %d done", torun, already);
    ML_ASSERT_MSG(suite_todo, "plan says an incomplete suite is done");
}

const ml_test ml_tests_jobs[] = {
    { "jobs__cellfile_identity", test_jobs__cellfile_identity, "unit" },
    { "jobs__suite_and_report_after_failed_cell", test_jobs__suite_and_report_after_failed_cell, "e2e" },
    { "jobs__report_job_then_plan", test_jobs__report_job_then_plan, "e2e" },
    { "jobs__plan_and_run_agree", test_jobs__plan_and_run_agree, "e2e" },
    { NULL, NULL, NULL }
};

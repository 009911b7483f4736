/*
 * tests/test_graph.c: the job graph (sched/graph.h) and `mergelab plan`.
 * - suites/paper-quick.json (3 seeds, 6 points, one base shared by the seeds)
 *   expands into 1 base, 3 train, 18 point, 3 results, suite and report,
 *   with the edges the protocol needs, in an order where every input comes
 *   first (a checker that is shown to catch a bad order);
 * - unsplit, every cell is one job;
 * - the scheduler (sched/sched.h) on fake jobs: a failed training drops
 *   the rest of its cell, but the suite and report jobs still run, in the
 *   scheduler's own process, last, with one worker and with two; a local
 *   job waits until no worker runs; jobs done before the run do not count
 *   in its progress;
 * - `plan` prints it, as JSON too, and with -o DIR says what is done.
 */
#include "tests/test.h"
#include "tests/util.h"
#include "suite/cells.h"
#include "sched/graph.h"
#include "sched/sched.h"

#include <libgen.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 when every job's inputs come before it (so index order is a
 * topological order) and no two jobs share a hash. */
static int well_formed(const ml_graph *g, char *why, size_t size) {
    for (int i = 0; i < g->n; i++) {
        for (int k = 0; k < g->jobs[i].ninputs; k++)
            if (g->jobs[i].inputs[k] < 0 || g->jobs[i].inputs[k] >= i) {
                snprintf(why, size, "job %d needs job %d", i, g->jobs[i].inputs[k]);
                return 0;
            }
        for (int j = 0; j < i; j++)
            if (!strcmp(g->jobs[i].hash, g->jobs[j].hash)) {
                snprintf(why, size, "jobs %d and %d share a hash", j, i);
                return 0;
            }
    }
    return 1;
}

static int count(const ml_graph *g, ml_job_kind k) {
    int n = 0;
    for (int i = 0; i < g->n; i++) n += g->jobs[i].kind == k;
    return n;
}

static int needs(const ml_job *j, int input) {
    for (int k = 0; k < j->ninputs; k++)
        if (j->inputs[k] == input) return 1;
    return 0;
}

static void test_graph__paper_suite(void) {
    ml_cellset *cs = NULL;
    ml_graph g;
    char why[128] = "";
    ML_ASSERT_EQ_INT(0, ml_cells_load(&cs, "suites/paper-quick.json", 0));
    ML_ASSERT_EQ_INT(0, ml_graph_build(&g, cs, NULL, 0, 1, ML_GRAPH_SUITE | ML_GRAPH_REPORT));
    int ok = well_formed(&g, why, sizeof(why));
    int base = -1, nbase = count(&g, ML_JOB_BASE), ntrain = count(&g, ML_JOB_TRAIN), npoint = count(&g, ML_JOB_POINT),
        nres = count(&g, ML_JOB_RESULTS), nsuite = count(&g, ML_JOB_SUITE), nrep = count(&g, ML_JOB_REPORT);
    int edges_ok = 1;
    for (int i = 0; i < g.n; i++) {
        const ml_job *j = &g.jobs[i];
        if (j->kind == ML_JOB_BASE) base = i;
        if (j->kind == ML_JOB_TRAIN) edges_ok &= j->ninputs == 1 && j->inputs[0] == base;
        if (j->kind == ML_JOB_POINT) edges_ok &= j->ninputs == 1 && g.jobs[j->inputs[0]].kind == ML_JOB_TRAIN &&
                                                 g.jobs[j->inputs[0]].cell == j->cell;
        if (j->kind == ML_JOB_RESULTS) edges_ok &= j->ninputs == 1 + cs->cells[j->cell].suite->npoints &&
                                                   !strcmp(j->hash, cs->cells[j->cell].id);
        if (j->kind == ML_JOB_SUITE) {
            edges_ok &= j->ninputs == 3;
            for (int k = 0; k < j->ninputs; k++) edges_ok &= g.jobs[j->inputs[k]].kind == ML_JOB_RESULTS;
        }
        if (j->kind == ML_JOB_REPORT) edges_ok &= j->ninputs == 1 && g.jobs[j->inputs[0]].kind == ML_JOB_SUITE;
    }
    int base_weight = base >= 0 ? g.jobs[base].weight : 0;
    /* the order a scheduler prefers: results, base, train, cell, then points */
    int ranks = ml_job_rank(&g.jobs[base]) < ml_job_rank(&g.jobs[base + 2]) &&
                ml_job_rank(&g.jobs[base + 1]) < ml_job_rank(&g.jobs[base + 2]);
    ml_graph_free(&g);
    /* unsplit: a cell is one job */
    ML_ASSERT_EQ_INT(0, ml_graph_build(&g, cs, NULL, 0, 0, ML_GRAPH_SUITE | ML_GRAPH_REPORT));
    int whole = g.n == 3 + 2 && count(&g, ML_JOB_CELL) == 3 && needs(&g.jobs[3], 0) && needs(&g.jobs[3], 2);
    /* the checker must see a job that needs a later one */
    int swapped = g.jobs[3].inputs[0];
    g.jobs[3].inputs[0] = 4;
    int caught = !well_formed(&g, why + 64, 64);
    g.jobs[3].inputs[0] = swapped;
    ml_graph_free(&g);
    ml_cells_free(cs);
    ML_ASSERT_MSG(ok, "%s", why);
    ML_ASSERT_EQ_INT(1, nbase);   /* pretrain.seed: one base for the three seeds */
    ML_ASSERT_EQ_INT(3, ntrain);
    ML_ASSERT_EQ_INT(18, npoint);
    ML_ASSERT_EQ_INT(3, nres);
    ML_ASSERT_EQ_INT(1, nsuite);
    ML_ASSERT_EQ_INT(1, nrep);
    ML_ASSERT_MSG(edges_ok, "an edge of the paper suite's graph is wrong");
    ML_ASSERT_EQ_INT(2, base_weight);   /* pretrain.threads */
    ML_ASSERT(ranks);
    ML_ASSERT(whole);
    ML_ASSERT(caught);
}

/* suites/paper.json: bases as a matrix axis (pretrain.seed 1..3 x seed 1..3) give
 * 9 cells in one group, 3 base jobs, and each training needs its own base */
static void test_graph__bases_axis(void) {
    ml_cellset *cs = NULL;
    ml_graph g;
    ML_ASSERT_EQ_INT(0, ml_cells_load(&cs, "suites/paper.json", 0));
    int ncells = cs->n, one_group = 1, shared = 1;
    for (int i = 0; i < cs->n; i++) {
        one_group &= !strcmp(cs->cells[i].group, "default");
        for (int j = 0; j < cs->n; j++) {
            int same_base = cs->cells[i].suite->pretrain_seed == cs->cells[j].suite->pretrain_seed;
            shared &= same_base == !strcmp(cs->cells[i].key_base, cs->cells[j].key_base);
        }
    }
    ML_ASSERT_EQ_INT(0, ml_graph_build(&g, cs, NULL, 0, 1, ML_GRAPH_SUITE));
    int nbase = count(&g, ML_JOB_BASE), ntrain = count(&g, ML_JOB_TRAIN), edges = 1;
    for (int i = 0; i < g.n; i++) {
        const ml_job *j = &g.jobs[i];
        if (j->kind != ML_JOB_TRAIN) continue;
        const ml_job *b = &g.jobs[j->inputs[0]];
        edges &= b->kind == ML_JOB_BASE &&
                 cs->cells[b->cell].suite->pretrain_seed == cs->cells[j->cell].suite->pretrain_seed;
    }
    ml_graph_free(&g);
    ml_cells_free(cs);
    ML_ASSERT_EQ_INT(9, ncells);
    ML_ASSERT_MSG(one_group, "bases and seeds are replicates: one group");
    ML_ASSERT_MSG(shared, "cells share a base exactly when their pretrain.seed is the same");
    ML_ASSERT_EQ_INT(3, nbase);
    ML_ASSERT_EQ_INT(9, ntrain);
    ML_ASSERT_MSG(edges, "a training does not start from its own base");
}

/* ---- the scheduler on fake jobs ------------------------------------------ */

#define MAX_FAKE 64

typedef struct {
    const ml_graph *g;
    int fail_cell;              /* the cell whose training returns 1 */
    int slow;                   /* a worker's job sleeps this many ms */
    int here[MAX_FAKE];         /* ran in this process */
    int rc[MAX_FAKE];           /* as ended saw it; -1 never ended */
    int order[MAX_FAKE], n;     /* ended, in order */
    int ended_before[MAX_FAKE]; /* a local job: how many jobs had ended when it started */
    double first_fraction;      /* the progress fraction the first running call saw */
} fake;

static int fake_run(void *ctx, int j, int in_worker) {
    fake *f = ctx;
    const ml_job *job = &f->g->jobs[j];
    if (in_worker && f->slow) usleep((useconds_t)f->slow * 1000);
    if (!in_worker) {   /* a worker's memory is its own: only what runs here is seen */
        f->here[j] = 1;
        f->ended_before[j] = f->n;
    }
    return job->cell == f->fail_cell && job->kind == ML_JOB_TRAIN ? 1 : 0;
}

static void fake_ended(void *ctx, int j, int rc, double secs) {
    fake *f = ctx;
    (void)secs;
    f->rc[j] = rc;
    f->order[f->n++] = j;
}

static void fake_running(void *ctx, const int *jobs, int n, double done) {
    fake *f = ctx;
    (void)jobs;
    (void)n;
    if (f->first_fraction < 0) f->first_fraction = done;
}

static void fake_init(fake *f, const ml_graph *g, int fail_cell) {
    memset(f, 0, sizeof(*f));
    f->g = g;
    f->fail_cell = fail_cell;
    f->first_fraction = -1;
    for (int i = 0; i < MAX_FAKE; i++) f->rc[i] = -1;
}

/* The one-base paper suite in parts; cell 1's training fails. Whatever the workers,
 * cell 1's points and results never run, the other cells end, and the
 * suite and report jobs run here, last, in that order. */
static void test_graph__sched_suite_after_failed_cell(void) {
    ml_cellset *cs = NULL;
    ml_graph g;
    ML_ASSERT_EQ_INT(0, ml_cells_load(&cs, "suites/paper-quick.json", 0));
    ML_ASSERT_EQ_INT(0, ml_graph_build(&g, cs, NULL, 0, 1, ML_GRAPH_SUITE | ML_GRAPH_REPORT));
    ML_ASSERT(g.n <= MAX_FAKE);
    int suite = g.n - 2, report = g.n - 1;
    for (int workers = 1; workers <= 2; workers++) {
        fake f;
        fake_init(&f, &g, 1);
        ml_sched_ops ops = { fake_run, fake_ended, fake_running, NULL, NULL, NULL, NULL, &f };
        int failed = ml_sched_run(&g, NULL, workers, &ops);
        int dropped_ok = 1, others_ok = 1, in_workers = 1;
        for (int j = 0; j < suite; j++) {
            const ml_job *job = &g.jobs[j];
            if (job->cell == 1 && (job->kind == ML_JOB_POINT || job->kind == ML_JOB_RESULTS)) dropped_ok &= f.rc[j] == -1;
            else others_ok &= f.rc[j] == (job->cell == 1 && job->kind == ML_JOB_TRAIN ? 1 : 0);
            if (workers > 1) in_workers &= !f.here[j];
        }
        ML_ASSERT_EQ_INT(1, failed);
        ML_ASSERT_MSG(dropped_ok, "workers %d: the failed cell's points or results ran", workers);
        ML_ASSERT_MSG(others_ok, "workers %d: another job did not end as it should", workers);
        ML_ASSERT_MSG(in_workers, "workers %d: a cell's job ran in the scheduler's process", workers);
        ML_ASSERT_MSG(f.rc[suite] == 0 && f.rc[report] == 0, "workers %d: the suite or report job did not run after a failed cell",
                      workers);
        ML_ASSERT_MSG(f.here[suite] && f.here[report], "workers %d: the suite or report job ran in a worker", workers);
        ML_ASSERT_MSG(f.n >= 2 && f.order[f.n - 2] == suite && f.order[f.n - 1] == report,
                      "workers %d: suite and report did not end last", workers);
    }
    ml_graph_free(&g);
    ml_cells_free(cs);
}

/* A local job that is ready while a worker runs waits for it; a job done
 * before the run is not part of its progress. */
static void test_graph__sched_local_job_waits(void) {
    int in0[1] = { 0 };
    ml_job jobs[4] = {
        { .kind = ML_JOB_CELL, .cell = 0, .weight = 1 },     /* done before the run */
        { .kind = ML_JOB_CELL, .cell = 1, .weight = 1 },
        { .kind = ML_JOB_SUITE, .cell = -1, .weight = 1, .local = 1 },   /* needs nothing: ready at once */
        { .kind = ML_JOB_REPORT, .cell = -1, .weight = 1, .local = 1, .ninputs = 1, .inputs = in0 },
    };
    int done[4] = { 1, 0, 0, 0 };
    ml_graph g = { .n = 4, .jobs = jobs };
    fake f;
    fake_init(&f, &g, -1);
    f.slow = 200;
    ml_sched_ops ops = { fake_run, fake_ended, fake_running, NULL, NULL, NULL, NULL, &f };
    ML_ASSERT_EQ_INT(0, ml_sched_run(&g, done, 2, &ops));
    ML_ASSERT_EQ_INT(-1, f.rc[0]);   /* done: not run */
    ML_ASSERT(!f.here[1] && f.here[2] && f.here[3]);
    ML_ASSERT_MSG(f.ended_before[2] == 1 && f.order[0] == 1, "the local job started while a worker ran (%d ended before it)",
                  f.ended_before[2]);
    ML_ASSERT_NEAR(0.0, f.first_fraction, 0.0, 0.0);   /* job 0 was done before: not 1 of 4 */
}

static void test_graph__plan_command(void) {
    char *out = NULL;
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "plan suites/paper.json"));
    ML_ASSERT_STR_HAS(out, "suite paper: 77 jobs (0 cell, 3 base, 9 train, 54 point, 9 results, 1 suite, 1 report)");
    ML_ASSERT_STR_HAS(out, "point6");
    free(out);
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "plan suites/smoke.json --json"));
    cJSON *doc = cJSON_Parse(out);
    free(out);
    ML_ASSERT(doc != NULL);
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(doc, "jobs");
    int n = cJSON_GetArraySize(jobs);
    const cJSON *last = cJSON_GetArrayItem(jobs, n - 1);
    int ok = n == 3 && !strcmp(cJSON_GetObjectItemCaseSensitive(last, "kind")->valuestring, "report") &&
             strlen(cJSON_GetObjectItemCaseSensitive(last, "hash")->valuestring) == 64;
    /* each job names what it writes: the cell its cache entries, its file and
     * the store's copy of it (by its id), the suite its results */
    const cJSON *cell_out = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(jobs, 0), "outputs");
    const cJSON *suite_out = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(jobs, 1), "outputs");
    int outputs_ok = cJSON_GetArraySize(cell_out) == 5 &&
                     !strcmp(cJSON_GetArrayItem(cell_out, 3)->valuestring, "DIR/smoke.cells/default.json") &&
                     !strncmp(cJSON_GetArrayItem(cell_out, 4)->valuestring, "DIR/cache/jobs/", 15) &&
                     !strncmp(cJSON_GetArrayItem(cell_out, 0)->valuestring, "DIR/cache/", 10) &&
                     cJSON_GetArraySize(suite_out) == 1 && !strcmp(cJSON_GetArrayItem(suite_out, 0)->valuestring, "DIR/smoke.json");
    cJSON_Delete(doc);
    ML_ASSERT_MSG(ok, "plan --json of the smoke suite: want cell, suite, report");
    ML_ASSERT_MSG(outputs_ok, "plan --json does not name the jobs' outputs");
    /* after a run, -o DIR says the cell and the suite are done */
    const char *res = ml_t_run_once("suites/smoke.json");
    ML_ASSERT(res != NULL);
    char dir[512];
    snprintf(dir, sizeof(dir), "%s", res);
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "plan suites/smoke.json -o %s", dirname(dir)));
    ML_ASSERT_STR_HAS(out, "cell     default");
    ML_ASSERT_STR_HAS(out, "-  (done)");
    ML_ASSERT_STR_HAS(out, "(not requested)");
    free(out);
    ML_ASSERT_EQ_INT(2, ml_t_cli(&out, "plan /nonexistent/suite.json"));
    free(out);
}

const ml_test ml_tests_graph[] = {
    { "graph__paper_suite", test_graph__paper_suite, "unit" },
    { "graph__bases_axis", test_graph__bases_axis, "unit" },
    { "graph__sched_suite_after_failed_cell", test_graph__sched_suite_after_failed_cell, "unit" },
    { "graph__sched_local_job_waits", test_graph__sched_local_job_waits, "unit" },
    { "graph__plan_command", test_graph__plan_command, "e2e" },
    { NULL, NULL, NULL }
};

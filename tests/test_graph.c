/*
 * tests/test_graph.c: the job graph (sched/graph.h) and `mergelab plan`.
 * - suites/paper.json (3 seeds, 6 points, one base shared by the seeds)
 *   expands into 1 base, 3 train, 18 point, 3 results, suite and report,
 *   with the edges the protocol needs, in an order where every input comes
 *   first (a checker that is shown to catch a bad order);
 * - unsplit, every cell is one job;
 * - `plan` prints it, as JSON too, and with -o DIR says what is done.
 */
#include "tests/test.h"
#include "tests/util.h"
#include "suite/cells.h"
#include "sched/graph.h"

#include <libgen.h>
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
    ML_ASSERT_EQ_INT(0, ml_cells_load(&cs, "suites/paper.json", 0));
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

static void test_graph__plan_command(void) {
    char *out = NULL;
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "plan suites/paper.json"));
    ML_ASSERT_STR_HAS(out, "suite paper: 27 jobs (0 cell, 1 base, 3 train, 18 point, 3 results, 1 suite, 1 report)");
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
    cJSON_Delete(doc);
    ML_ASSERT_MSG(ok, "plan --json of the smoke suite: want cell, suite, report");
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
    { "graph__plan_command", test_graph__plan_command, "e2e" },
    { NULL, NULL, NULL }
};

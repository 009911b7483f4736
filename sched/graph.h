/*
 * sched/graph.h: a suite's work as an explicit graph of jobs.
 * Owns: which jobs a set of cells expands into, each job's identity (a
 *       content hash of what decides its output), its inputs (the jobs it
 *       needs first) and what it writes; the order a scheduler prefers
 *       among ready jobs; the text and JSON forms `mergelab plan` prints.
 * Not here: running a job (jobs.h), the workers (sched.h), what is
 *       already done (jobs.h's ml_jobs_done), the hashes of cells and cache
 *       keys themselves (cells.c).
 *
 * The jobs, from the data to the report:
 *   base    pretrain a base into the model cache; one per distinct base
 *           key, so cells that share a base (pretrain.seed) share the job
 *   train   fine-tune the specialists and the direct model of one cell,
 *           keeping their states at every finetune.points step (cache)
 *   point   evaluate every merge, router, ensemble and CKA at one point
 *   results the cell's file, from its training and point records
 *   cell    a whole cell in one call (base, training, the evaluation at
 *           its end, its file): the form of a cell with fewer than two
 *           points (either model family), or of any cell without --jobs
 *   suite   the suite's results file with its findings, from every cell
 *   report  the HTML report and figures, from the suite's results
 * Every job but suite and report is one call of the study protocol
 * (runner.h, ml_run_stage); the scheduler runs it in this process or in a
 * worker, as it chooses. Suite and report are local: they always run in
 * the scheduler's own process, after every worker has ended (the suite's
 * file records the run's provenance up to its end: the wall and CPU
 * seconds of that process, whose CPU clock a forked worker does not see;
 * both are cheap, and their errors stay in this process).
 */
#ifndef ML_SCHED_GRAPH_H
#define ML_SCHED_GRAPH_H

#include "suite/cells.h"

#include <cjson/cJSON.h>

typedef enum {
    ML_JOB_CELL = 0,
    ML_JOB_BASE,
    ML_JOB_TRAIN,
    ML_JOB_POINT,
    ML_JOB_RESULTS,
    ML_JOB_SUITE,
    ML_JOB_REPORT
} ml_job_kind;

typedef struct {
    ml_job_kind kind;
    int  cell;                  /* index into the cellset; -1 for suite and report */
    int  point;                 /* ML_JOB_POINT: index into finetune.points */
    char hash[65];              /* identity: equal hashes compute the same output */
    int  ninputs;
    int *inputs;                /* (ninputs) indices of the jobs it needs, in the graph's edge pool */
    int  weight;                /* cores it occupies: pretrain.threads for a base, else 1 */
    int  local;                 /* 1: runs in the scheduler's process, never in a worker (suite, report) */
} ml_job;

typedef struct {
    const ml_cellset *cs;
    int     n;
    ml_job *jobs;
    int    *edges;              /* every job's inputs, one pool */
    size_t  nedges, cap_edges;
} ml_graph;

/* What ml_graph_build adds after the cells' jobs (ends, OR-ed). */
enum {
    ML_GRAPH_SUITE = 1,         /* the suite job, needing the listed cells */
    ML_GRAPH_REPORT = 2         /* the report job, needing the suite job (implies ML_GRAPH_SUITE) */
};

/* The jobs of the cells listed in cells[0..ncells) (all of cs's when cells
 * is NULL). split: cells with two or more finetune.points (GPT) become
 * base -> train -> point... -> results, sharing bases; other cells are one
 * cell job; with split 0 every cell is one cell job. ends: 0, or the suite
 * job and with ML_GRAPH_REPORT the report job too. ML_ENOMEM. */
int ml_graph_build(ml_graph *out, const ml_cellset *cs, const int *cells, int ncells, int split, int ends);
void ml_graph_free(ml_graph *g);

/* level[j] for every job: 0 without inputs, else one more than its
 * highest input's (base 0, train 1, point 2, results 3, ...). Returns the
 * number of levels. A level's jobs need nothing of their own level, so
 * each level is one Slurm job array. */
int ml_graph_levels(const ml_graph *g, int *level);
/* Share k (0-based) of n disjoint shares of the work: mine[j] is 1 for the
 * jobs share k owns, 2 for those they need first (inputs, transitively;
 * found done or made once under leases when shares run at once on one
 * store, made again by each share that needs them when each has its own
 * store), 0 for the rest. Owned are the leaves: cell and point jobs, by
 * whole cells in turn when there are at least n cells, else point by
 * point in turn. Results, suite and report belong to no share: `mergelab
 * gather` makes them from the shares' records. */
void ml_graph_share(const ml_graph *g, int k, int n, int *mine);

/* The arithmetic job j does (suite/cost.c's estimate; 0 for suite and
 * report): for time limits and sizing a cluster. */
double ml_job_flops(const ml_graph *g, int j);

/* "base", "train", "point3" (1-based), "results", "cell", "suite", "report" */
const char *ml_job_name(const ml_job *j, char *buf, size_t size);
/* Lower runs first among ready jobs: jobs that unblock most work (a cell's
 * results, a base, a training) before evaluation points. */
int ml_job_rank(const ml_job *j);

/* The graph for people (one line per job: index, kind, cell, short hash,
 * inputs) and as JSON ({"suite", "jobs": [{"index", "kind", "name", "cell",
 * "point", "hash", "inputs", "weight", "flops", "done"}]}). done (may be NULL): per
 * job, 1 when its output already exists, 0 when not, -1 when it was not
 * asked for (a report without a folder: "not requested", JSON null); the
 * caller decides (jobs.h's ml_jobs_done). */
char *ml_graph_text(const ml_graph *g, const int *done);
cJSON *ml_graph_json(const ml_graph *g, const int *done);

#endif

/*
 * sched/jobs.h: what each job of the graph (graph.h) does, one function
 * call per job, and which jobs' outputs are already there.
 *   base, train, point   one call of the study protocol (runner.h) at that
 *                        stage; train and point leave their record in
 *                        the store by the job's hash (store/cellfile.h),
 *                        base its cache entry
 *   results              the cell's file from its parts' records (and its
 *                        copy in the store)
 *   cell                 a whole cell in one call, its file and the
 *                        store's copy
 *   suite                the suite's results file: every cell file on
 *                        disk, the run's provenance, the findings
 *                        (analysis/findings.h), written atomically
 *   report               the HTML report of the suite's file (reports/)
 * Owns: those bodies, their timing (wall and CPU seconds), the provenance
 *       the suite job completes at the end of the run, and the rule of
 *       what is done (ml_jobs_done), shared by `mergelab run` and `plan`.
 * Not here: the order and the workers (sched.h), printing (the caller's
 *       callbacks: nothing here prints), the documents' form (cellfile.h).
 */
#ifndef ML_SCHED_JOBS_H
#define ML_SCHED_JOBS_H

#include "sched/graph.h"

#include <cjson/cJSON.h>
#include <time.h>

/* The run as a whole, for the suite job's provenance: what is known only
 * at the end (finished, wall and CPU seconds) is measured then. */
typedef struct {
    const cJSON *prov;          /* ml_provenance_collect's; the suite job completes a copy (NULL: none) */
    const char *command;        /* the command line */
    const char *machine;        /* store.h's machine name */
    time_t started;             /* the run's start, wall clock */
    double wall0, cpu0;         /* the run's start on ml_jobs_wall and ml_jobs_cpu */
    int reused;                 /* cells whose files an earlier run left */
} ml_jobs_run;

typedef struct {
    const ml_cellset *cs;
    const ml_graph *g;
    const char *dir;            /* the run folder (store.h) */
    const char *cache;          /* the model cache; NULL: none */
    const char *report;         /* the report job's folder; NULL: no report asked for */
    int verbose;                /* the protocols' detail lines, to log */
    int adopt;                  /* ml_jobs_done copies a cell the store holds into dir (run; plan only counts it) */
    ml_jobs_run run;
    /* Callbacks, each may be NULL, all called with ctx. */
    /* a cell job's steps (runner.h's ml_progress_fn, with the job) */
    void (*progress)(void *ctx, int j, const char *phase, int step, int total, double loss);
    /* the protocols' --verbose lines (with "\n") */
    void (*log)(void *ctx, const char *line);
    /* what a job works around, one line without "\n": a damaged cell file
     * ("...; running the cell again"), a base that failed */
    void (*note)(void *ctx, const char *line);
    /* job j wrote path: the suite's results file (doc is the document) or
     * the report's index.html (doc NULL) */
    void (*wrote)(void *ctx, int j, const char *path, const cJSON *doc);
    void *ctx;
} ml_jobs_ctx;

/* Runs job j of x->g: 0 ok, 1 the job ended its cell as failed (the cell's
 * file says why), or a negative ML_E*: bad input (ML_EINVALID,
 * ML_ENOTFOUND, ML_EDATA), or an output that cannot be written. A base
 * that fails is a note and 0: each cell that needs it tries again and
 * records why it failed. */
int ml_job_exec(const ml_jobs_ctx *x, int j);

/* Records job j's cell as failed with why (a job that died where it ran:
 * a signal, a lost MPI rank), so the suite's results say so. */
int ml_jobs_fail(const ml_jobs_ctx *x, int j, const char *why);

/* done[j] for every job of x->g: 1 when its output is already in x->dir
 * (x->cache, x->report), 0 when it is to run, -1 for a report job without
 * x->report (not requested):
 *   cell, results  the cell's file holds an "ok" result of its identity (a
 *                  failed cell is to run: a rerun retries it), or the
 *                  store holds one (copied into dir with x->adopt)
 *   train, point   the cell is done, or the job's record is in the store
 *   base           its cache entry is there, or every cell that needs it
 *                  is done
 *   suite          every cell of the graph is done and DIR/<suite>.json
 *                  says complete
 *   report         the suite is done and x->report/index.html is not
 *                  older than DIR/<suite>.json
 * `mergelab run` runs the suite and report jobs whatever this says: they
 * record this run. A damaged cell file is noted once. ML_ENOMEM. */
int ml_jobs_done(const ml_jobs_ctx *x, int *done);
/* The paths job j writes (model cache entries, part records, a cell's
 * file, the suite's results, the report's page), as a JSON array of
 * strings; in x->dir, x->cache and x->report as given. */
cJSON *ml_jobs_outputs(const ml_jobs_ctx *x, int j);

/* Claims on jobs in the store (store/lease.h), for a scheduler whose
 * jobs other processes may be making too: another run sharing the store, a
 * shard, an MPI rank of another run, a Slurm task. Needs x->cache. */
typedef struct ml_jobs_claims ml_jobs_claims;
int ml_jobs_claims_new(ml_jobs_claims **out, const ml_jobs_ctx *x);
/* Releases every claim still held. NULL-safe. */
void ml_jobs_claims_free(ml_jobs_claims *c);
/* sched.h's claim for job j: ML_SCHED_DONE when its output is there now
 * (made by someone else since the run began), ML_SCHED_RUN when this
 * process now holds its lease, ML_SCHED_HELD when a live process holds it
 * (said once per job through x->note), or a negative error. */
int ml_jobs_claim(ml_jobs_claims *c, int j);
void ml_jobs_release(ml_jobs_claims *c, int j);
/* Renews the leases held (sched.h's tick); a lease taken over is noted. */
void ml_jobs_renew(ml_jobs_claims *c);
/* Whether job j's output is there now, by ml_jobs_done's rule for one job
 * (a base: its cache entry; the suite: its file, complete or not). */
int ml_jobs_done_one(const ml_jobs_ctx *x, int j);

/* The clocks a job's and a run's seconds are measured on: monotonic wall
 * time and this process's CPU time. */
double ml_jobs_wall(void);
double ml_jobs_cpu(void);

#endif

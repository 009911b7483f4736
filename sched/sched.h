/*
 * sched/sched.h: the one local scheduler. It runs a job graph (graph.h)
 * on N worker processes, or in this process when N is 1, starting among
 * the ready jobs the one the graph ranks first, and never more than N
 * cores' worth at once (a job's weight).
 * Owns: the fork/wait loop, readiness, the cores in use, what a failed job
 *       stops (the rest of its cell), stopping cleanly on a fatal error.
 * Not here: what a job does (the caller's run), what is printed (the
 *       caller's ended and running), what counts as already done (the
 *       caller's done[] at the start).
 * Why processes: a crash, a leak or a divergent cell stays in its worker,
 * and a kill -9 of the whole group loses only unfinished jobs (every
 * output is written atomically by the job that makes it).
 */
#ifndef ML_SCHED_SCHED_H
#define ML_SCHED_SCHED_H

#include "sched/graph.h"

typedef struct {
    /* Runs job j: 0 ok, 1 it ended its cell as failed (the cell's file
     * says why), or a negative ML_E* (bad input or a broken run, which
     * stops the scheduler). in_worker: 1 in a forked worker. */
    int (*run)(void *ctx, int j, int in_worker);
    /* Job j ended with rc (0, 1; or 2 bad input, 3 other, from a worker
     * that printed its error) after secs seconds. May be NULL. */
    void (*ended)(void *ctx, int j, int rc, double secs);
    /* The running jobs, whenever they change, with the fraction of the
     * graph done; for a status line. May be NULL. */
    void (*running)(void *ctx, const int *jobs, int n, double done);
    void *ctx;
} ml_sched_ops;

/* Runs every job of g that done[] (may be NULL) does not mark done, on
 * workers processes (1 = in this process, in order of readiness). A job
 * returning 1 drops the jobs of its cell that have not started (but not a
 * base, which other cells may share). Returns how many jobs returned 1, or
 * a negative error: ML_EINVALID when a job's input was bad, ML_ERROR or
 * ML_EOS otherwise, after the running jobs have ended. */
int ml_sched_run(const ml_graph *g, const int *done, int workers, const ml_sched_ops *ops);

#endif

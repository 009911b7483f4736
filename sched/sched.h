/*
 * sched/sched.h: the one local scheduler. It runs a job graph (graph.h)
 * on N worker processes, or in this process when N is 1, starting among
 * the ready jobs the one the graph ranks first, and never more than N
 * cores' worth at once (a job's weight).
 * Owns: the fork/wait loop, readiness, the cores in use, where a job runs
 *       (a local one, graph.h, in this process once no worker runs), what a
 *       failed job stops (the rest of its cell), stopping cleanly on a
 *       fatal error.
 * Not here: what a job does (the caller's run, jobs.h), what is printed
 *       (the caller's ended and running), what counts as already done (the
 *       caller's done[] at the start, jobs.h's ml_jobs_done).
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
     * jobs of this run that have ended (those done[] marks done at the
     * start do not count); for a status line. May be NULL. */
    void (*running)(void *ctx, const int *jobs, int n, double done);
    void *ctx;
} ml_sched_ops;

/* Runs every job of g that done[] (may be NULL) does not mark done (> 0),
 * on workers processes (1 = in this process, in order of readiness); a
 * local job always in this process, alone. A job is ready when each of its
 * inputs has ended, done or dropped. A job returning 1 drops the jobs of
 * its cell that have not started (but not a base, which other cells may
 * share); the jobs of no cell (suite, report) are never dropped, so they
 * run after failed cells too. Returns how many jobs returned 1, or a
 * negative error: a local job's own, ML_EINVALID when a worker's input was
 * bad, ML_ERROR or ML_EOS otherwise, after the running jobs have ended;
 * nothing starts after an error. */
int ml_sched_run(const ml_graph *g, const int *done, int workers, const ml_sched_ops *ops);

#endif

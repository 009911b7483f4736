/*
 * sched/sched.h: the one scheduler. It runs a job graph (graph.h) on an
 * executor: this process, N forked workers, or MPI ranks (sched/mpi.h),
 * starting among the ready jobs the one the graph ranks first, and never
 * more than the executor has room for at once (a job's weight in cores).
 * Owns: the loop, readiness, what a failed job stops (the rest of its
 *       cell), jobs another process is making (claimed elsewhere: asked
 *       again until their output appears or their claim lapses), where a
 *       local job runs (graph.h: in this process once nothing else runs),
 *       stopping cleanly on a fatal error; the fork executor and the
 *       in-process one.
 * Not here: what a job does (the caller's run, jobs.h), claims themselves
 *       (the caller's claim/release/tick, jobs.h's leases), what is printed
 *       (the caller's ended and running), what counts as already done (the
 *       caller's done[] at the start, jobs.h's ml_jobs_done).
 * Why processes: a crash, a leak or a divergent cell stays in its worker,
 * and a kill -9 of the whole group loses only unfinished jobs (every
 * output is written atomically by the job that makes it).
 */
#ifndef ML_SCHED_SCHED_H
#define ML_SCHED_SCHED_H

#include "sched/graph.h"

/* What claim says about a job about to start. */
enum {
    ML_SCHED_RUN = 1,           /* claimed: run it */
    ML_SCHED_DONE = 0,          /* its output appeared meanwhile: nothing to run */
    ML_SCHED_HELD = 2           /* another process is making it: ask again later */
};
/* The rc ended reports for a job another process made (claim said DONE). */
#define ML_SCHED_ELSEWHERE 5

typedef struct {
    /* Runs job j: 0 ok, 1 it ended its cell as failed (the cell's file
     * says why), or a negative ML_E* (bad input or a broken run, which
     * stops the scheduler). in_worker: 1 in a forked worker or a rank. */
    int (*run)(void *ctx, int j, int in_worker);
    /* Job j ended with rc (0, 1; 2 bad input, 3 other, from a worker that
     * printed its error; ML_SCHED_ELSEWHERE made by another process) after
     * secs seconds. May be NULL. */
    void (*ended)(void *ctx, int j, int rc, double secs);
    /* The running jobs, whenever they change, with the fraction of the
     * jobs of this run that have ended (those done[] marks done at the
     * start do not count); for a status line. May be NULL. */
    void (*running)(void *ctx, const int *jobs, int n, double done);
    /* Before a job that is not local starts: ML_SCHED_RUN, ML_SCHED_DONE,
     * ML_SCHED_HELD, or a negative error. NULL: always run. */
    int (*claim)(void *ctx, int j);
    /* After a claimed job ended (NULL-safe). */
    void (*release)(void *ctx, int j);
    /* Called every poll (a few times a second) while jobs run or wait:
     * claims are renewed here. May be NULL. */
    void (*tick)(void *ctx);
    /* Records that job j died where it ran (a worker or an MPI rank's
     * child killed by a signal): its cell fails with why (0), and the
     * scheduler goes on as for any failed cell. NULL: such a death stops
     * the run as a broken one. */
    int (*fail)(void *ctx, int j, const char *why);
    void *ctx;
} ml_sched_ops;

/* Where jobs run. start hands job j to the executor; poll waits at most
 * timeout seconds for one to end: 1 with *j, its exit code *rc (0, 1, 2,
 * 3 as for ended) and *secs, 0 when none did, or a negative error.
 * room: whether a job of that weight can start now (running counts the
 * jobs it has). */
typedef struct ml_sched_exec {
    int (*start)(struct ml_sched_exec *e, const ml_sched_ops *ops, int j, int weight);
    int (*poll)(struct ml_sched_exec *e, double timeout, int *j, int *rc, double *secs);
    int (*room)(const struct ml_sched_exec *e, int weight);
    int running;
    void *impl;
} ml_sched_exec;

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
/* The same on executor e (sched/mpi.c's ranks). */
int ml_sched_run_on(const ml_graph *g, const int *done, ml_sched_exec *e, const ml_sched_ops *ops);

/* A worker's exit code for a job's rc: 0, 1, 2 bad input, 3 anything else. */
int ml_sched_exit_code(int rc);

#endif

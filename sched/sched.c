/*
 * sched/sched.c: the local scheduler (sched.h). A worker is a forked
 * copy of this process that runs one job and ends with _exit and a code
 * the parent reads: 0 ok, 1 the cell failed, 2 bad input, 3 anything else
 * (the job's run has said why on the worker's stderr). A local job
 * (graph.h: suite, report) runs in this process instead, alone, once every
 * worker has ended. This file is the only library code that forks and ends
 * a process.
 */
#include "sched/sched.h"
#include "core/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* HAD: done before this run (done[]), so not part of its progress */
enum { TODO, RUNNING, DONE, DROPPED, HAD };
#define MAX_WORKERS 256

static double now_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int over(int state) { return state == DONE || state == DROPPED || state == HAD; }

/* Every input has ended, done or dropped: a job of no cell (the suite)
 * still runs after a cell failed, and records the failure. */
static int ready(const ml_graph *g, const int *state, int i) {
    const ml_job *j = &g->jobs[i];
    for (int k = 0; k < j->ninputs; k++)
        if (!over(state[j->inputs[k]])) return 0;
    return 1;
}

/* The ready job the graph ranks first (ml_job_rank), then the lowest index. */
static int next_job(const ml_graph *g, const int *state) {
    int best = -1;
    for (int i = 0; i < g->n; i++)
        if (state[i] == TODO && ready(g, state, i) && (best < 0 || ml_job_rank(&g->jobs[i]) < ml_job_rank(&g->jobs[best])))
            best = i;
    return best;
}

/* Job j failed its cell: what of the cell has not started is not needed. */
static void drop_cell(const ml_graph *g, int *state, int j) {
    int cell = g->jobs[j].cell;
    if (cell < 0) return;
    for (int i = 0; i < g->n; i++)
        if (state[i] == TODO && g->jobs[i].cell == cell && g->jobs[i].kind != ML_JOB_BASE) state[i] = DROPPED;
}

static int exit_code(int rc) {
    if (rc >= 0) return rc;
    return rc == ML_EINVALID || rc == ML_ENOTFOUND || rc == ML_EDATA ? 2 : 3;
}

/* The share of this run's jobs that have ended (jobs done before it do not count). */
static double fraction_done(const ml_graph *g, const int *state) {
    int n = 0, had = 0;
    for (int i = 0; i < g->n; i++) {
        n += state[i] == DONE || state[i] == DROPPED;
        had += state[i] == HAD;
    }
    return g->n > had ? (double)n / (g->n - had) : 1.0;
}

/* Runs job j in this process; its rc (a negative error stops the run). */
static int run_in_process(const ml_graph *g, int *state, const ml_sched_ops *ops, int j, int *failed) {
    double t0 = now_mono();
    if (ops->running) ops->running(ops->ctx, &j, 1, fraction_done(g, state));
    state[j] = RUNNING;
    int rc = ops->run(ops->ctx, j, 0);
    if (rc < 0) return rc;
    state[j] = DONE;
    if (ops->ended) ops->ended(ops->ctx, j, rc, now_mono() - t0);
    if (rc == 1) {
        (*failed)++;
        drop_cell(g, state, j);
    }
    return rc;
}

static int run_here(const ml_graph *g, int *state, const ml_sched_ops *ops) {
    int failed = 0, j, rc;
    while ((j = next_job(g, state)) >= 0)
        if ((rc = run_in_process(g, state, ops, j, &failed)) < 0) return rc;
    return failed;
}

static int run_workers(const ml_graph *g, int *state, int workers, const ml_sched_ops *ops) {
    pid_t pids[MAX_WORKERS];
    int jobof[MAX_WORKERS], running = 0, busy = 0, failed = 0, fatal = 0, error = 0, j;
    double started[MAX_WORKERS];
    if (workers > MAX_WORKERS) workers = MAX_WORKERS;
    for (;;) {
        /* a job of weight w takes w of the workers' cores; one always runs */
        while (!fatal && !error && busy < workers && (j = next_job(g, state)) >= 0 &&
               (busy == 0 || busy + g->jobs[j].weight <= workers)) {
            if (g->jobs[j].local) {   /* alone, here, once the workers have ended */
                if (running) break;
                int rc = run_in_process(g, state, ops, j, &failed);
                if (rc < 0) {
                    error = rc;
                    break;
                }
                continue;
            }
            fflush(NULL);   /* a worker must not write the parent's buffered output again */
            pid_t parent = getpid(), pid = fork();
            if (pid < 0) {
                error = ml_error_set(ML_EOS, "fork: %s", strerror(errno));
                break;
            }
            if (pid == 0) {
                /* a worker dies with its parent: after a kill -9 of the run
                 * alone no worker goes on holding the folder's lock */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                int rc = getppid() != parent ? ML_ERROR : ops->run(ops->ctx, j, 1);   /* it died before prctl */
                fflush(NULL);
                _exit(exit_code(rc));
            }
            state[j] = RUNNING;
            busy += g->jobs[j].weight;
            pids[running] = pid;
            jobof[running] = j;
            started[running] = now_mono();
            running++;
        }
        if (running == 0) break;
        if (ops->running) ops->running(ops->ctx, jobof, running, fraction_done(g, state));
        int status;
        pid_t w = waitpid(-1, &status, 0);
        if (w < 0) {
            if (errno == EINTR) continue;
            /* nothing left to wait for, though the table says otherwise */
            error = ml_error_set(ML_EOS, "waitpid: %s", strerror(errno));
            break;
        }
        int r = 0;
        while (r < running && pids[r] != w) r++;
        if (r == running) continue;   /* not one of ours */
        int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 3;
        j = jobof[r];
        double secs = now_mono() - started[r];
        busy -= g->jobs[j].weight;
        pids[r] = pids[running - 1];
        jobof[r] = jobof[running - 1];
        started[r] = started[running - 1];
        running--;
        state[j] = DONE;
        if (ops->ended) ops->ended(ops->ctx, j, rc, secs);
        if (rc == 1) {
            failed++;
            drop_cell(g, state, j);
        } else if (rc != 0 && !fatal) {
            fatal = rc == 2 ? ML_EINVALID : ML_ERROR;   /* the worker said why; let the others end */
        }
    }
    if (error) return error;
    if (fatal) return ml_error_set(fatal, "a cell could not run (see above)");
    return failed;
}

int ml_sched_run(const ml_graph *g, const int *done, int workers, const ml_sched_ops *ops) {
    int *state = NULL, error;
    if ((error = ml_calloc((void **)&state, (size_t)(g->n ? g->n : 1), sizeof(int))) < 0) return error;
    for (int i = 0; i < g->n; i++) state[i] = done && done[i] > 0 ? HAD : TODO;
    error = workers <= 1 ? run_here(g, state, ops) : run_workers(g, state, workers, ops);
    free(state);
    return error;
}

/*
 * sched/sched.c: the scheduler (sched.h) and its two local executors.
 * A fork worker is a copy of this process that runs one job and ends with
 * _exit and a code the parent reads: 0 ok, 1 the cell failed, 2 bad input,
 * 3 anything else (the job's run has said why on the worker's stderr). A
 * local job (graph.h: suite, report) runs in this process instead, alone,
 * once nothing else runs. This file and sched/mpi.c are the only library
 * code that forks and ends a process.
 */
#include "sched/sched.h"
#include "core/error.h"
#include "core/fault.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* WAITING: another process holds its claim; HAD: done before this run
 * (done[]), so not part of its progress */
enum { TODO, WAITING, RUNNING, DONE, DROPPED, HAD };
#define MAX_WORKERS 256
/* How often a job held elsewhere is asked about again, and the longest a
 * poll sleeps (claims are renewed between polls). */
#define HELD_RETRY 0.5
#define POLL_MAX 0.25

static double now_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_for(double s) {
    if (s <= 0) return;
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    nanosleep(&ts, NULL);
}

int ml_sched_exit_code(int rc) {
    if (rc >= 0) return rc;
    return rc == ML_EINVALID || rc == ML_ENOTFOUND || rc == ML_EDATA ? 2 : 3;
}

/* ---- the in-process executor: a job runs inside start ---------------- */

typedef struct {
    int j, rc;
    double secs;
} inproc;

static int inproc_start(ml_sched_exec *e, const ml_sched_ops *ops, int j, int weight) {
    inproc *p = e->impl;
    double t0 = now_mono();
    int rc = ops->run(ops->ctx, j, 0);
    if (rc < 0) return rc;   /* in this process an error is the run's: it stops */
    p->j = j;
    p->rc = rc;
    p->secs = now_mono() - t0;
    e->running = 1;
    return 0;
}

static int inproc_poll(ml_sched_exec *e, double timeout, int *j, int *rc, double *secs) {
    inproc *p = e->impl;
    if (!e->running) return 0;
    e->running = 0;
    *j = p->j;
    *rc = p->rc;
    *secs = p->secs;
    return 1;
}

static int inproc_room(const ml_sched_exec *e, int weight) { return e->running == 0; }

/* ---- the fork executor ------------------------------------------------- */

typedef struct {
    const ml_graph *g;
    int workers, busy;          /* cores: given, taken by running jobs */
    pid_t pids[MAX_WORKERS];
    int jobof[MAX_WORKERS], weight[MAX_WORKERS];
    double started[MAX_WORKERS];
} forks;

static int fork_start(ml_sched_exec *e, const ml_sched_ops *ops, int j, int weight) {
    forks *f = e->impl;
    fflush(NULL);   /* a worker must not write the parent's buffered output again */
    pid_t parent = getpid(), pid = fork();
    if (pid < 0) return ml_error_set(ML_EOS, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* a worker dies with its parent: after a kill -9 of the run alone
         * no worker goes on holding the folder's lock */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (ml_fault_crash(f->g->jobs[j].hash)) raise(SIGKILL);   /* tests: a job that dies */
        int rc = getppid() != parent ? ML_ERROR : ops->run(ops->ctx, j, 1);   /* it died before prctl */
        fflush(NULL);
        _exit(ml_sched_exit_code(rc));
    }
    int r = e->running++;
    f->pids[r] = pid;
    f->jobof[r] = j;
    f->weight[r] = weight;
    f->started[r] = now_mono();
    f->busy += weight;
    return 0;
}

static int fork_poll(ml_sched_exec *e, double timeout, int *j, int *rc, double *secs) {
    forks *f = e->impl;
    double until = now_mono() + timeout;
    while (e->running) {
        int status;
        pid_t w = waitpid(-1, &status, WNOHANG);
        if (w < 0 && errno != EINTR)   /* nothing left to wait for, though the table says otherwise */
            return ml_error_set(ML_EOS, "waitpid: %s", strerror(errno));
        int r = 0;
        while (w > 0 && r < e->running && f->pids[r] != w) r++;
        if (w > 0 && r < e->running) {
            *j = f->jobof[r];
            *rc = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 3;
            *secs = now_mono() - f->started[r];
            f->busy -= f->weight[r];
            e->running--;
            f->pids[r] = f->pids[e->running];
            f->jobof[r] = f->jobof[e->running];
            f->weight[r] = f->weight[e->running];
            f->started[r] = f->started[e->running];
            return 1;
        }
        if (w > 0) continue;   /* not one of ours */
        double left = until - now_mono();
        if (left <= 0) break;
        sleep_for(left < 0.01 ? left : 0.01);
    }
    return 0;
}

/* a job of weight w takes w of the workers' cores; one always runs */
static int fork_room(const ml_sched_exec *e, int weight) {
    const forks *f = e->impl;
    return e->running < MAX_WORKERS && f->busy < f->workers && (f->busy == 0 || f->busy + weight <= f->workers);
}

/* ---- the scheduler ------------------------------------------------------ */

typedef struct {
    const ml_graph *g;
    ml_sched_exec *e;
    const ml_sched_ops *ops;
    int *state;
    double *retry;              /* WAITING: when to ask again */
    int failed, fatal, error;
} loop;

static int over(int state) { return state == DONE || state == DROPPED || state == HAD; }

/* Every input has ended, done or dropped: a job of no cell (the suite)
 * still runs after a cell failed, and records the failure. */
static int ready(const ml_graph *g, const int *state, int i) {
    const ml_job *j = &g->jobs[i];
    for (int k = 0; k < j->ninputs; k++)
        if (!over(state[j->inputs[k]])) return 0;
    return 1;
}

/* The ready job the graph ranks first (ml_job_rank), then the lowest
 * index; a job held elsewhere only once its retry time has come. */
static int next_job(const loop *l, double now) {
    const ml_graph *g = l->g;
    int best = -1;
    for (int i = 0; i < g->n; i++) {
        int s = l->state[i];
        if ((s == TODO || (s == WAITING && l->retry[i] <= now)) && ready(g, l->state, i) &&
            (best < 0 || ml_job_rank(&g->jobs[i]) < ml_job_rank(&g->jobs[best])))
            best = i;
    }
    return best;
}

/* Job j failed its cell: what of the cell has not started is not needed. */
static void drop_cell(loop *l, int j) {
    int cell = l->g->jobs[j].cell;
    if (cell < 0) return;
    for (int i = 0; i < l->g->n; i++)
        if ((l->state[i] == TODO || l->state[i] == WAITING) && l->g->jobs[i].cell == cell &&
            l->g->jobs[i].kind != ML_JOB_BASE)
            l->state[i] = DROPPED;
}

/* The share of this run's jobs that have ended (jobs done before it do not count). */
static double fraction_done(const loop *l) {
    int n = 0, had = 0;
    for (int i = 0; i < l->g->n; i++) {
        n += l->state[i] == DONE || l->state[i] == DROPPED;
        had += l->state[i] == HAD;
    }
    return l->g->n > had ? (double)n / (l->g->n - had) : 1.0;
}

static void show_running(const loop *l) {
    int jobs[MAX_WORKERS], n = 0;
    if (!l->ops->running) return;
    for (int i = 0; i < l->g->n && n < MAX_WORKERS; i++)
        if (l->state[i] == RUNNING) jobs[n++] = i;
    if (n) l->ops->running(l->ops->ctx, jobs, n, fraction_done(l));
}

static void job_over(loop *l, int j, int rc, double secs, int claimed) {
    l->state[j] = DONE;
    if (claimed && l->ops->release) l->ops->release(l->ops->ctx, j);
    if (l->ops->ended) l->ops->ended(l->ops->ctx, j, rc, secs);
    if (rc == 1) {
        l->failed++;
        drop_cell(l, j);
    } else if (rc != 0 && rc != ML_SCHED_ELSEWHERE && !l->fatal) {
        l->fatal = rc == 2 ? ML_EINVALID : ML_ERROR;   /* the worker said why; let the others end */
    }
}

/* A worker killed by a signal (a crash, the OOM killer): its cell fails
 * with the reason, recorded by ops->fail, and the other cells go on; 3
 * (a broken run) when there is no cell to record it in. */
static int killed(loop *l, int j, int sig) {
    char why[160];
    snprintf(why, sizeof(why), "the job was killed by signal %d (%s) in its worker process", sig, strsignal(sig));
    if (l->g->jobs[j].cell >= 0 && l->ops->fail && l->ops->fail(l->ops->ctx, j, why) == 0) return 1;
    return 3;
}

/* A local job, in this process, now that nothing else runs. */
static int run_local(loop *l, int j) {
    double t0 = now_mono();
    l->state[j] = RUNNING;
    show_running(l);
    int rc = l->ops->run(l->ops->ctx, j, 0);
    if (rc < 0) return l->error = rc;
    job_over(l, j, rc, now_mono() - t0, 0);
    return 0;
}

/* Starts what can start now; 1 when a job waits for a local one's turn. */
static int start_ready(loop *l) {
    const ml_graph *g = l->g;
    int j;
    while (!l->fatal && !l->error && (j = next_job(l, now_mono())) >= 0) {
        const ml_job *job = &g->jobs[j];
        if (job->local) {
            if (l->e->running) return 1;
            if (run_local(l, j) < 0) return 0;
            continue;
        }
        if (!l->e->room(l->e, job->weight)) return 0;
        int c = l->ops->claim ? l->ops->claim(l->ops->ctx, j) : ML_SCHED_RUN;
        if (c < 0) {
            l->error = c;
            return 0;
        }
        if (c == ML_SCHED_DONE) {
            job_over(l, j, ML_SCHED_ELSEWHERE, 0.0, 0);
            continue;
        }
        if (c == ML_SCHED_HELD) {
            l->state[j] = WAITING;
            l->retry[j] = now_mono() + HELD_RETRY;
            continue;
        }
        l->state[j] = RUNNING;
        int error = l->e->start(l->e, l->ops, j, job->weight);
        if (error < 0) {
            if (l->ops->release) l->ops->release(l->ops->ctx, j);
            l->error = error;
            return 0;
        }
        show_running(l);
    }
    return 0;
}

/* The next moment a job held elsewhere is to be asked about (a large value when none waits). */
static double next_retry(const loop *l) {
    double t = 1e300;
    for (int i = 0; i < l->g->n; i++)
        if (l->state[i] == WAITING && ready(l->g, l->state, i) && l->retry[i] < t) t = l->retry[i];
    return t;
}

int ml_sched_run_on(const ml_graph *g, const int *done, ml_sched_exec *e, const ml_sched_ops *ops) {
    loop l = { .g = g, .e = e, .ops = ops };
    size_t n = (size_t)(g->n ? g->n : 1);
    if (ml_calloc((void **)&l.state, n, sizeof(int)) < 0 || ml_calloc((void **)&l.retry, n, sizeof(double)) < 0) {
        free(l.state);
        return ML_ENOMEM;
    }
    for (int i = 0; i < g->n; i++) l.state[i] = done && done[i] > 0 ? HAD : TODO;
    for (;;) {
        start_ready(&l);
        double wake = next_retry(&l);
        if (e->running == 0 && (l.error || l.fatal || wake > 1e299)) break;
        if (ops->tick) ops->tick(ops->ctx);
        double timeout = wake - now_mono();
        timeout = timeout < 0 ? 0 : timeout > POLL_MAX ? POLL_MAX : timeout;
        if (e->running == 0) {   /* only jobs held elsewhere: wait for them */
            sleep_for(timeout);
            continue;
        }
        int j, rc;
        double secs;
        int got = e->poll(e, timeout, &j, &rc, &secs);
        if (got < 0) {
            if (!l.error) l.error = got;
            break;
        }
        if (got && rc >= 128) rc = killed(&l, j, rc - 128);
        if (got) job_over(&l, j, rc, secs, ops->claim != NULL);
    }
    free(l.state);
    free(l.retry);
    if (l.error) return l.error;
    if (l.fatal) return ml_error_set(l.fatal, "a cell could not run (see above)");
    return l.failed;
}

int ml_sched_run(const ml_graph *g, const int *done, int workers, const ml_sched_ops *ops) {
    if (workers <= 1) {
        inproc p = { 0 };
        ml_sched_exec e = { inproc_start, inproc_poll, inproc_room, 0, &p };
        return ml_sched_run_on(g, done, &e, ops);
    }
    forks *f = NULL;
    int error;
    if ((error = ml_calloc((void **)&f, 1, sizeof(*f))) < 0) return error;
    f->workers = workers > MAX_WORKERS ? MAX_WORKERS : workers;
    f->g = g;
    ml_sched_exec e = { fork_start, fork_poll, fork_room, 0, f };
    error = ml_sched_run_on(g, done, &e, ops);
    free(f);
    return error;
}

/*
 * sched/mpi.c: the MPI executor and the ranks' loop (mpi.h). Compiled
 * with MPI only in `make MPI=1` (ML_MPI); the default build needs no MPI
 * and says how to get it.
 */
#include "sched/mpi.h"
#include "core/error.h"

#ifndef ML_MPI

int ml_mpi_available(void) { return 0; }

static int no_mpi(void) {
    return ml_error_set(ML_EINVALID, "this mergelab was built without MPI: build it with `make MPI=1` "
                        "(Debian: apt-get install openmpi-bin libopenmpi-dev) and run it as build-mpi/mergelab");
}

int ml_mpi_init(int *argc, char ***argv, int *rank, int *size) {
    *rank = 0;
    *size = 1;
    return no_mpi();
}

void ml_mpi_finalize(void) {}

int ml_mpi_share(char *buf, int size) { return no_mpi(); }

int ml_mpi_run(const ml_graph *g, const int *done, const ml_sched_ops *ops, cJSON *prov,
               void (*say)(void *ctx, const char *line)) {
    return no_mpi();
}

void ml_mpi_stop(void) {}

int ml_mpi_serve(const ml_graph *g, const ml_sched_ops *ops, int threads, void (*say)(void *ctx, const char *line)) {
    return no_mpi();
}

#else

#include "kernels/gemm.h"
#include "core/fault.h"

#include <mpi.h>

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { TAG_HELLO = 11, TAG_JOB = 12, TAG_DONE = 13 };

typedef struct {
    int j;                      /* -1: stop */
    char hash[65];              /* the job's identity, checked by the rank */
} job_msg;

typedef struct {
    int j, rc;
    double secs;
} done_msg;

typedef struct {
    char host[64];
    int threads;
    int cores;                  /* the CPUs the rank may run on (mpirun's binding) */
} hello_msg;

static double now_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int ml_mpi_available(void) { return 1; }

int ml_mpi_init(int *argc, char ***argv, int *rank, int *size) {
    /* the ranks fork a child per job, which never calls MPI: OpenMPI's
     * warning about fork is for children that do */
    setenv("OMPI_MCA_mpi_warn_on_fork", "0", 0);
    if (MPI_Init(argc, argv) != MPI_SUCCESS) return ml_error_set(ML_EOS, "MPI_Init failed");
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    return 0;
}

void ml_mpi_finalize(void) {
    int up = 0, down = 0;
    MPI_Initialized(&up);
    MPI_Finalized(&down);
    if (up && !down) MPI_Finalize();
}

/* ---- rank 0: the executor ------------------------------------------------ */

typedef struct {
    const ml_graph *g;
    int size;
    int *busy;                  /* per rank: its job, or -1 */
} ranks_exec;

static int mpi_start(ml_sched_exec *e, const ml_sched_ops *ops, int j, int weight) {
    ranks_exec *x = e->impl;
    job_msg m = { .j = j };
    int r = 1;
    while (r < x->size && x->busy[r] >= 0) r++;
    if (r == x->size) return ml_error_set(ML_ERROR, "no free rank for job %d", j);
    memcpy(m.hash, x->g->jobs[j].hash, sizeof(m.hash));
    if (MPI_Send(&m, (int)sizeof(m), MPI_BYTE, r, TAG_JOB, MPI_COMM_WORLD) != MPI_SUCCESS)
        return ml_error_set(ML_EOS, "MPI_Send of job %d to rank %d failed", j, r);
    x->busy[r] = j;
    e->running++;
    return 0;
}

static int mpi_poll(ml_sched_exec *e, double timeout, int *j, int *rc, double *secs) {
    ranks_exec *x = e->impl;
    double until = now_mono() + timeout;
    for (;;) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_DONE, MPI_COMM_WORLD, &flag, &st);
        if (flag) {
            done_msg d;
            MPI_Recv(&d, (int)sizeof(d), MPI_BYTE, st.MPI_SOURCE, TAG_DONE, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            if (x->busy[st.MPI_SOURCE] != d.j)
                return ml_error_set(ML_ERROR, "rank %d reported job %d, not the job %d it was given", st.MPI_SOURCE, d.j,
                                    x->busy[st.MPI_SOURCE]);
            x->busy[st.MPI_SOURCE] = -1;
            e->running--;
            *j = d.j;
            *rc = d.rc;
            *secs = d.secs;
            return 1;
        }
        double left = until - now_mono();
        if (left <= 0) return 0;
        struct timespec ts = { 0, (long)((left < 0.002 ? left : 0.002) * 1e9) };
        nanosleep(&ts, NULL);
    }
}

static int mpi_room(const ml_sched_exec *e, int weight) {
    const ranks_exec *x = e->impl;
    return e->running < x->size - 1;
}

int ml_mpi_share(char *buf, int size) {
    if (MPI_Bcast(buf, size, MPI_CHAR, 0, MPI_COMM_WORLD) != MPI_SUCCESS) return ml_error_set(ML_EOS, "MPI_Bcast failed");
    buf[size - 1] = '\0';
    return 0;
}

void ml_mpi_stop(void) {
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    for (int r = 1; r < size; r++) {
        job_msg m = { .j = -1 };
        MPI_Send(&m, (int)sizeof(m), MPI_BYTE, r, TAG_JOB, MPI_COMM_WORLD);
    }
}

int ml_mpi_run(const ml_graph *g, const int *done, const ml_sched_ops *ops, cJSON *prov,
               void (*say)(void *ctx, const char *line)) {
    ranks_exec x = { .g = g };
    int error = 0, squeezed = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &x.size);
    if ((error = ml_calloc((void **)&x.busy, (size_t)x.size, sizeof(int))) < 0) goto stop;
    for (int r = 0; r < x.size; r++) x.busy[r] = -1;
    /* every rank says where it runs and with how many BLAS threads */
    cJSON *doc = cJSON_CreateObject(), *workers = cJSON_AddArrayToObject(doc, "workers");
    cJSON_AddNumberToObject(doc, "ranks", x.size);
    for (int r = 1; r < x.size; r++) {
        hello_msg h;
        MPI_Recv(&h, (int)sizeof(h), MPI_BYTE, r, TAG_HELLO, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        h.host[sizeof(h.host) - 1] = '\0';
        cJSON *w = cJSON_CreateObject();
        cJSON_AddNumberToObject(w, "rank", r);
        cJSON_AddStringToObject(w, "host", h.host);
        cJSON_AddNumberToObject(w, "blas_threads", h.threads);
        cJSON_AddNumberToObject(w, "cores", h.cores);
        cJSON_AddItemToArray(workers, w);
        if (h.cores > 0 && h.cores < h.threads && !squeezed++ && say)
            say(ops->ctx, "an MPI rank may run on fewer cores than the suite's BLAS threads (mpirun binds ranks to "
                          "cores): its jobs run slower, with the same results; give each rank a job's cores with "
                          "mpirun --map-by slot:PE=THREADS, or --bind-to none");
    }
    if (prov) cJSON_AddItemToObject(prov, "mpi", doc);
    else cJSON_Delete(doc);
    ml_sched_exec e = { mpi_start, mpi_poll, mpi_room, 0, &x };
    error = ml_sched_run_on(g, done, &e, ops);
stop:
    ml_mpi_stop();
    free(x.busy);
    return error;
}

/* ---- ranks 1..: serving jobs ---------------------------------------------- */

/* Runs job j in a child; its exit code, or 1 after fail() recorded a crash. */
typedef struct {
    const ml_graph *g;
    const ml_sched_ops *ops;
    int rank;
    char host[64];
    void (*say)(void *ctx, const char *line);
} rank_ctx;

__attribute__((format(printf, 2, 3))) static void say(const rank_ctx *r, const char *fmt, ...) {
    char line[512];
    va_list ap;
    if (!r->say) return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    r->say(r->ops ? r->ops->ctx : NULL, line);
}

static int run_child(const rank_ctx *r, int j) {
    const ml_graph *g = r->g;
    const ml_sched_ops *ops = r->ops;
    fflush(NULL);
    pid_t parent = getpid(), pid = fork();
    if (pid < 0) {
        say(r, "rank %d: fork: %s", r->rank, strerror(errno));
        return 3;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (ml_fault_crash(g->jobs[j].hash)) raise(SIGKILL);   /* tests: a job that dies */
        int rc = getppid() != parent ? ML_ERROR : ops->run(ops->ctx, j, 1);
        fflush(NULL);
        _exit(ml_sched_exit_code(rc));
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return 3;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    char why[256];
    snprintf(why, sizeof(why), "the job was killed by signal %d (%s) on MPI rank %d (%s)", WTERMSIG(status),
             strsignal(WTERMSIG(status)), r->rank, r->host);
    say(r, "%s", why);
    if (g->jobs[j].cell >= 0 && ops->fail && ops->fail(ops->ctx, j, why) == 0) return 1;   /* its cell is recorded as failed */
    return 3;
}

int ml_mpi_serve(const ml_graph *g, const ml_sched_ops *ops, int threads, void (*say_fn)(void *ctx, const char *line)) {
    hello_msg h = { .threads = threads };
    rank_ctx r = { .g = g, .ops = ops, .say = say_fn };
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    r.rank = rank;
    gethostname(r.host, sizeof(r.host) - 1);
    if (!g) {   /* rank 0 could not start the run (its stop comes), or this rank cannot (it is told so) */
        for (;;) {
            job_msg m;
            MPI_Recv(&m, (int)sizeof(m), MPI_BYTE, 0, TAG_JOB, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            if (m.j < 0) return 0;
            done_msg d = { .j = m.j, .rc = 2 };
            say(&r, "rank %d could not load the suite or its arguments; it runs no job", rank);
            MPI_Send(&d, (int)sizeof(d), MPI_BYTE, 0, TAG_DONE, MPI_COMM_WORLD);
        }
    }
    ml_blas_set_threads(threads);   /* each job sets its own too: this is what the rank reports */
    h.threads = ml_blas_threads();
    cpu_set_t set;
    h.cores = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 0;
    gethostname(h.host, sizeof(h.host) - 1);
    MPI_Send(&h, (int)sizeof(h), MPI_BYTE, 0, TAG_HELLO, MPI_COMM_WORLD);
    for (;;) {
        job_msg m;
        MPI_Recv(&m, (int)sizeof(m), MPI_BYTE, 0, TAG_JOB, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (m.j < 0) return 0;
        double t0 = now_mono();
        done_msg d = { .j = m.j, .rc = 2 };
        m.hash[64] = '\0';
        if (m.j >= g->n || strcmp(m.hash, g->jobs[m.j].hash))
            say(&r, "rank %d: job %d is not the job rank 0 means (%.12s): the ranks' suites or arguments differ", rank,
                m.j, m.hash);
        else d.rc = run_child(&r, m.j);
        d.secs = now_mono() - t0;
        MPI_Send(&d, (int)sizeof(d), MPI_BYTE, 0, TAG_DONE, MPI_COMM_WORLD);
    }
}

#endif

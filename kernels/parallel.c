/*
 * kernels/parallel.c: a fixed pool of worker threads with a generation
 * counter: the caller publishes a job, bumps the generation and broadcasts;
 * each worker runs its chunk and counts down; the caller waits for zero.
 */
#include "kernels/parallel.h"

#include <cblas.h>
#include <pthread.h>
#include <string.h>

static struct {
    pthread_mutex_t mu;
    pthread_cond_t  go, done;
    pthread_t       tid[ML_PAR_MAX];
    unsigned long   born[ML_PAR_MAX];   /* generation at each worker's creation */
    int             nthreads;      /* including the caller */
    int             nworkers;      /* running worker threads */
    unsigned long   generation;
    int             pending;       /* workers still busy with this generation */
    int             quit;
    /* the current job */
    long            n;
    void          (*fn)(void *, long, long);
    void           *ctx;
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
           { 0 }, { 0 }, 1, 0, 0, 0, 0, 0, 0, 0 };

static void chunk(long n, int parts, int i, long *lo, long *hi) {
    long base = n / parts, extra = n % parts;
    *lo = i * base + (i < extra ? i : extra);
    *hi = *lo + base + (i < extra);
}

static void *worker(void *arg) {
    int id = (int)(long)arg;   /* 1 .. nworkers */
    pthread_mutex_lock(&pool.mu);
    /* the generation when this worker was created (not when it first runs:
     * a job may already be waiting), so it never reruns an older job */
    unsigned long seen = pool.born[id];
    for (;;) {
        while (!pool.quit && pool.generation == seen) pthread_cond_wait(&pool.go, &pool.mu);
        if (pool.quit) break;
        seen = pool.generation;
        long n = pool.n, lo, hi;
        int parts = pool.nthreads;
        void (*fn)(void *, long, long) = pool.fn;
        void *ctx = pool.ctx;
        pthread_mutex_unlock(&pool.mu);
        if (id < parts) {
            chunk(n, parts, id, &lo, &hi);
            if (hi > lo) fn(ctx, lo, hi);
        }
        pthread_mutex_lock(&pool.mu);
        if (--pool.pending == 0) pthread_cond_signal(&pool.done);
    }
    pthread_mutex_unlock(&pool.mu);
    return NULL;
}

static void stop_workers(void) {
    pthread_mutex_lock(&pool.mu);
    pool.quit = 1;
    pthread_cond_broadcast(&pool.go);
    pthread_mutex_unlock(&pool.mu);
    for (int i = 0; i < pool.nworkers; i++) pthread_join(pool.tid[i], NULL);
    pool.nworkers = 0;
    pool.quit = 0;
}

/* A forked child has none of the parent's workers: start it with one
 * thread, or its first ml_par_for would wait forever. */
static void child_after_fork(void) {
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    pool.mu = mu;
    pool.go = c;
    pool.done = c;
    pool.nthreads = 1;
    pool.nworkers = 0;
    pool.pending = 0;
    pool.quit = 0;
}

static void register_fork_handler(void) { pthread_atfork(NULL, NULL, child_after_fork); }

int ml_par_set_threads(int n) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_fork_handler);
    if (n < 1) n = 1;
    if (n > ML_PAR_MAX) n = ML_PAR_MAX;
    openblas_set_num_threads(1);
    if (n == pool.nthreads && pool.nworkers == n - 1) return n;
    stop_workers();
    pool.nthreads = 1;
    for (int i = 1; i < n; i++) {
        pool.born[i] = pool.generation;
        if (pthread_create(&pool.tid[pool.nworkers], NULL, worker, (void *)(long)i) != 0) break;
        pool.nworkers++;
    }
    pool.nthreads = pool.nworkers + 1;
    return pool.nthreads;
}

int ml_par_threads(void) { return pool.nthreads; }

void ml_par_for(long n, long grain, void (*fn)(void *ctx, long lo, long hi), void *ctx) {
    long lo, hi;
    if (n <= 0) return;
    if (pool.nthreads == 1 || n < 2 * (grain > 0 ? grain : 1)) {
        fn(ctx, 0, n);
        return;
    }
    pthread_mutex_lock(&pool.mu);
    pool.n = n;
    pool.fn = fn;
    pool.ctx = ctx;
    pool.pending = pool.nworkers;
    pool.generation++;
    pthread_cond_broadcast(&pool.go);
    pthread_mutex_unlock(&pool.mu);
    chunk(n, pool.nthreads, 0, &lo, &hi);
    if (hi > lo) fn(ctx, lo, hi);
    pthread_mutex_lock(&pool.mu);
    while (pool.pending > 0) pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
}

static void zero_range(void *ctx, long lo, long hi) { memset((float *)ctx + lo, 0, (size_t)(hi - lo) * sizeof(float)); }

void ml_par_zero(float *p, long n) { ml_par_for(n, 1L << 16, zero_range, p); }

/*
 * kernels/parallel.c: a fixed pool of worker threads with a generation
 * counter: the caller publishes a job, bumps the generation and broadcasts;
 * each worker runs its chunk and counts down; the caller waits for zero.
 * Both sides poll for a few tens of microseconds before they sleep.
 */
#include "kernels/parallel.h"

#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

static struct {
    pthread_mutex_t mu;
    pthread_cond_t  go, done;
    pthread_t       tid[ML_PAR_MAX];
    unsigned long   born[ML_PAR_MAX];   /* generation at each worker's creation */
    int             nthreads;      /* including the caller */
    int             nworkers;      /* running worker threads */
    _Atomic unsigned long generation;   /* bumped (under mu) to publish a job */
    _Atomic int     pending;       /* workers still busy with this generation */
    _Atomic int     quit;
    /* the current job: written before the generation is bumped, read by the
     * workers before they count themselves done */
    long            n;
    void          (*fn)(void *, long, long);
    void           *ctx;
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
           { 0 }, { 0 }, 1, 0, 0, 0, 0, 0, 0, 0 };

/* A training step hands out a job every few hundred microseconds. Waking a
 * sleeping thread costs tens of microseconds on a virtual machine, so both
 * sides poll briefly before they sleep. SPIN_NS stays short: when the
 * machine is oversubscribed (two runs of two threads on two cores) the
 * poller steals time from the thread doing the work. */
enum { SPIN_NS = 30000 };

static long elapsed_ns(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000000000L + (t.tv_nsec - t0->tv_nsec);
}

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Between polls: a pause, and every 32nd time the core, so an oversubscribed
 * machine runs another thread instead of this poll. */
static inline void relax_or_yield(int i) {
    relax();
    if ((i & 31) == 31) sched_yield();
}

/* Polls until the generation moves past seen (or quit), then sleeps. */
static unsigned long wait_for_job(unsigned long seen) {
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0;; i++) {
        unsigned long g = atomic_load_explicit(&pool.generation, memory_order_acquire);
        if (g != seen || atomic_load_explicit(&pool.quit, memory_order_relaxed)) return g;
        relax_or_yield(i);
        if ((i & 63) == 63 && elapsed_ns(&t0) > SPIN_NS) break;
    }
    pthread_mutex_lock(&pool.mu);
    while (!atomic_load(&pool.quit) && atomic_load(&pool.generation) == seen) pthread_cond_wait(&pool.go, &pool.mu);
    unsigned long g = atomic_load(&pool.generation);
    pthread_mutex_unlock(&pool.mu);
    return g;
}

static void chunk(long n, int parts, int i, long *lo, long *hi) {
    long base = n / parts, extra = n % parts;
    *lo = i * base + (i < extra ? i : extra);
    *hi = *lo + base + (i < extra);
}

static void *worker(void *arg) {
    int id = (int)(long)arg;   /* 1 .. nworkers */
    /* the generation when this worker was created (not when it first runs:
     * a job may already be waiting), so it never reruns an older job */
    unsigned long seen = pool.born[id];
    for (;;) {
        unsigned long g = wait_for_job(seen);
        if (atomic_load(&pool.quit)) break;
        seen = g;
        long n = pool.n, lo, hi;
        int parts = pool.nthreads;
        if (id < parts) {
            chunk(n, parts, id, &lo, &hi);
            if (hi > lo) pool.fn(pool.ctx, lo, hi);
        }
        if (atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool.mu);   /* the caller checks pending under mu before it sleeps */
            pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.mu);
        }
    }
    return NULL;
}

static void stop_workers(void) {
    pthread_mutex_lock(&pool.mu);
    atomic_store(&pool.quit, 1);
    pthread_cond_broadcast(&pool.go);
    pthread_mutex_unlock(&pool.mu);
    for (int i = 0; i < pool.nworkers; i++) pthread_join(pool.tid[i], NULL);
    pool.nworkers = 0;
    atomic_store(&pool.quit, 0);
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
    atomic_store(&pool.pending, 0);
    atomic_store(&pool.quit, 0);
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
    pool.n = n;
    pool.fn = fn;
    pool.ctx = ctx;
    atomic_store_explicit(&pool.pending, pool.nworkers, memory_order_relaxed);
    pthread_mutex_lock(&pool.mu);   /* a worker about to sleep re-checks the generation under mu */
    atomic_fetch_add_explicit(&pool.generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool.go);
    pthread_mutex_unlock(&pool.mu);
    chunk(n, pool.nthreads, 0, &lo, &hi);
    if (hi > lo) fn(ctx, lo, hi);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; atomic_load_explicit(&pool.pending, memory_order_acquire) > 0; i++) {
        relax_or_yield(i);
        if ((i & 63) == 63 && elapsed_ns(&t0) > SPIN_NS) {
            pthread_mutex_lock(&pool.mu);
            while (atomic_load(&pool.pending) > 0) pthread_cond_wait(&pool.done, &pool.mu);
            pthread_mutex_unlock(&pool.mu);
            break;
        }
    }
}

static void zero_range(void *ctx, long lo, long hi) { memset((float *)ctx + lo, 0, (size_t)(hi - lo) * sizeof(float)); }

void ml_par_zero(float *p, long n) { ml_par_for(n, 1L << 16, zero_range, p); }

/*
 * study/run_common.h: pieces the protocol (protocol.c) and the families
 * (family_*.c) share: the CKA track, checkpoint selection, cached phases,
 * progress and log lines (run_common.c).
 * Internal to study/ (ml_run__ prefix). Not here: the protocol, the JSON
 * keys (store/results_write.h).
 */
#ifndef ML_STUDY_RUN_COMMON_H
#define ML_STUDY_RUN_COMMON_H

#include "study/runner.h"
#include "store/results_write.h"

#include <cjson/cJSON.h>


double ml_run__now(void);
void ml_run__progress(const ml_run_options *opt, const char *phase, int step, int total, double loss);
/* A detail line (with its newline) to opt->log when opt->verbose: the
 * protocols never print themselves. */
void ml_run__log(const ml_run_options *opt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "mergelab: note: ..." to opt->log, verbose or not: something the user
 * should know once (a damaged cache entry that is computed again). */
void ml_run__note(const ml_run_options *opt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A cached phase: begin locks the key and loads the entry (hit = 1) or
 * leaves the buffers alone (hit = 0: train, then end stores them). end and
 * abort release the lock; abort is safe after end. */
typedef struct { int fd, hit; const char *key; } ml_run__phase;
int  ml_run__phase_begin(ml_run__phase *ph, const ml_run_options *opt, const char *key, float *params, size_t n,
                         double *extra, size_t nextra);
int  ml_run__phase_end(ml_run__phase *ph, const ml_run_options *opt, const float *params, size_t n,
                       const double *extra, size_t nextra);
void ml_run__phase_abort(ml_run__phase *ph);
/* The checkpoint selection of a trained merge (a router): validation loss
 * at a few steps, the parameters of the best one kept in `best`. */
typedef struct {
    float  *best;          /* (n) borrowed buffer */
    size_t  n;
    double  best_loss;
    int     best_step, nv;
    int     steps[64];
    double  loss[64];
} ml_run__selector;

void ml_run__select_init(ml_run__selector *sel, float *best, size_t n, const float *params, double loss0);
/* Records the validation loss at step; keeps params when it is the best. */
void ml_run__select_point(ml_run__selector *sel, int step, double loss, const float *params);
/* CKA between the two specialists (and each against the base) at the
 * suite's steps, on one kind of representation per layer. */

/* token: also the per-token curves (t->token) */
int  ml_run__cka_track_new(ml_cka_track *t, int L, int nck, int token, int nsweep);
void ml_run__cka_track_free(ml_cka_track *t);
/* One point: a[l], b[l], base[l] (n, dims[l]) are the layer-l representations
 * of A, B and the base on the same n probe examples. */
int ml_run__cka_point(ml_cka_track *t, int ck, float *const *a, float *const *b, float *const *base, const int *dims,
                      int n);
/* At the last point: the heatmaps (A vs B, each vs the base), the probe sweep
 * (A vs B on the first sweep[i] of the n examples, t->nsweep sizes) and the RBF CKA
 * with sigma = rbf_bandwidth x the median distance. */
int ml_run__cka_final(ml_cka_track *t, float *const *a, float *const *b, float *const *base, const int *dims, int n,
                      double rbf_bandwidth, const int *sweep);
/* Per-token linear CKA of A vs B at point ck: a[l], b[l] (rows, dims[l]). */
int ml_run__cka_token_point(ml_cka_track *t, int ck, float *const *a, float *const *b, const int *dims, int rows);

/* The CKA track's curves packed into one array for the cache (and back). */
size_t ml_run__track_size(const ml_cka_track *t);
void ml_run__track_pack(double *dst, const ml_cka_track *t);
void ml_run__track_unpack(ml_cka_track *t, const double *src);

#endif

/*
 * study/run_common.h: pieces both study protocols (runner_mlp.c,
 * runner_gpt.c) share when they turn a run into results JSON (defined in
 * run_common.c), and the protocols' entry points that runner.c dispatches to.
 * Internal to study/ (ml_run__ prefix). Not here: the protocols.
 */
#ifndef ML_STUDY_RUN_COMMON_H
#define ML_STUDY_RUN_COMMON_H

#include "study/runner.h"

#include <cjson/cJSON.h>

int ml_run__mlp(cJSON **out, const ml_suite *s, const ml_run_options *opt);
int ml_run__gpt(cJSON **out, const ml_suite *s, const ml_run_options *opt);

double ml_run__now(void);
void ml_run__progress(const ml_run_options *opt, const char *phase, int step, int total, double loss);
/* A detail line (with its newline) to opt->log when opt->verbose: the
 * protocols never print themselves. */
void ml_run__log(const ml_run_options *opt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A cached phase: begin locks the key and loads the entry (hit = 1) or
 * leaves the buffers alone (hit = 0: train, then end stores them). end and
 * abort release the lock; abort is safe after end. */
typedef struct { int fd, hit; const char *key; } ml_run__phase;
int  ml_run__phase_begin(ml_run__phase *ph, const ml_run_options *opt, const char *key, float *params, size_t n,
                         double *extra, size_t nextra);
int  ml_run__phase_end(ml_run__phase *ph, const ml_run_options *opt, const float *params, size_t n,
                       const double *extra, size_t nextra);
void ml_run__phase_abort(ml_run__phase *ph);
/* metrics["<model>/<what>"] = v */
void ml_run__add_metric(cJSON *metrics, const char *model, const char *what, double v);
/* res["timing"]: seconds of each phase from the phase boundaries t[0..4]
 * (start, pretrained, fine-tuned, direct done, evaluated) */
void ml_run__add_timing(cJSON *res, const double t[5]);
/* res["timing"]["cached"]: which phases (base, specialists, direct) the
 * model cache supplied; volatile like the rest of timing. */
/* timing.<phase>_ms_per_step: a phase's wall time over the optimizer steps it took (the
 * specialists' phase counts both models' steps); phases read from the cache get none. */
void ml_run__add_step_times(cJSON *res, const int cached[3], int pretrain_steps, int finetune_steps);
void ml_run__add_cached(cJSON *res, const int cached[3]);
/* res["cka"]: the pair's curve over steps and the layer x layer heatmap at
 * the last step. curve (L, nsteps), heat (L, L), layer_names (L). */
cJSON *ml_run__add_cka(cJSON *res, const char *a, const char *b, const char *const *layer_names, int L,
                       const int *steps, int nsteps, const double *curve, const double *heat);

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
/* info["router"]: the router's shape and its selection curve. */
void ml_run__router_info(cJSON *info, const ml_merge_spec *ms, int layers, int experts, int batch,
                         const ml_run__selector *sel);

/* CKA between the two specialists (and each against the base) at the
 * suite's steps, on one kind of representation per layer. */
typedef struct {
    int L, nck;
    double *linear;       /* (L, nck) linear CKA, biased HSIC (the paper's) */
    double *debiased;     /* (L, nck) linear CKA, unbiased HSIC_1 (Song et al. 2012) */
    double *vs_base[2];   /* (L, nck) linear CKA of each specialist against the base */
    double *rbf;          /* (L) RBF CKA (bandwidth = median distance) at the last point */
    double *heat;         /* (L, L) linear CKA of A's layer i vs B's layer j at the last point */
    double *heat_base[2]; /* (L, L) linear CKA of A's (B's) layer i vs the base's layer j there */
    double *heat_steps;   /* (nck, L, L) A's layer i vs B's layer j at every step: early and late heatmaps */
} ml_cka_track;

int  ml_run__cka_track_new(ml_cka_track *t, int L, int nck);
void ml_run__cka_track_free(ml_cka_track *t);
/* One point: a[l], b[l], base[l] (n, dims[l]) are the layer-l representations
 * of A, B and the base on the same n probe examples. */
int ml_run__cka_point(ml_cka_track *t, int ck, float *const *a, float *const *b, float *const *base, const int *dims,
                      int n);
/* At the last point: the heatmaps (A vs B, each vs the base) and the RBF CKA. */
int ml_run__cka_final(ml_cka_track *t, float *const *a, float *const *b, float *const *base, const int *dims, int n);
/* res["cka"] with every curve, and the final values as metrics
 * cka/<layer>, cka/<layer>_debiased, cka/<layer>_rbf, cka/<spec>_vs_base/<layer>. */
cJSON *ml_run__cka_report(cJSON *res, cJSON *metrics, const ml_cka_track *t, const char *a, const char *b,
                          const char *const *layer_names, const int *steps);

/* The CKA track's curves packed into one array for the cache (and back). */
size_t ml_run__track_size(const ml_cka_track *t);
void ml_run__track_pack(double *dst, const ml_cka_track *t);
void ml_run__track_unpack(ml_cka_track *t, const double *src);

#endif

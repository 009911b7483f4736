/*
 * store/results_write.h: the sections of a cell's result as the study
 * writes them. Together with results.h (the documents, strict reading)
 * this is the one owner of the results schema: the study computes numbers
 * and hands them here; it never names a JSON key itself.
 * Owns: a model entry {name, role} and its scores, metrics "<model>/<what>"
 *       (a non-finite value recorded as null), a merge's fields (method,
 *       weights, examples, space, an interpolation's sweep, a router's
 *       selection record), evaluation points, the fine-tuning groups, the
 *       timing section, the cka section and its metrics, the data entries
 *       (Fashion-MNIST files, generated corpora), seeds and threads.
 * Not here: computing CKA or training (study/), the cell file around a
 *       result (cellfile.c), reading results back (results.c).
 */
#ifndef ML_STORE_RESULTS_WRITE_H
#define ML_STORE_RESULTS_WRITE_H

#include "suite/suite.h"
#include "data/text.h"

#include <cjson/cJSON.h>
#include <stddef.h>

/* The values of a cell's cka section: CKA between the two specialists
 * (and each against the base) at the suite's cka steps. */
typedef struct {
    int L, nck;
    double *linear;       /* (L, nck) linear CKA, biased HSIC (the paper's) */
    double *debiased;     /* (L, nck) linear CKA, unbiased HSIC_1 (Song et al. 2012) */
    double *vs_base[2];   /* (L, nck) linear CKA of each specialist against the base */
    double *rbf;          /* (L) RBF CKA (sigma = cka.rbf_bandwidth x the median distance) at the last point */
    double *heat;         /* (L, L) linear CKA of A's layer i vs B's layer j at the last point */
    double *heat_base[2]; /* (L, L) linear CKA of A's (B's) layer i vs the base's layer j there */
    double *heat_steps;   /* (nck, L, L) A's layer i vs B's layer j at every step: early and late heatmaps */
    double *token;        /* (L, nck) per-token linear CKA beside pooled curves, or NULL */
    int nsweep;           /* cka.probe_sweep: A vs B at the last point on the first n probe examples */
    double *sweep_linear, *sweep_debiased;   /* (L, nsweep) biased and unbiased linear CKA, or NULL */
} ml_cka_track;

/* A new model entry: {"name", "role"} (role: base, specialist, direct, merge). */
cJSON *ml_results_model(const char *name, const char *role);
/* A model's score: entry[what] = v and, with metric, metrics["<model>/<what>"] = v. */
void ml_results_score(cJSON *entry, cJSON *metrics, const char *model, const char *what, double v, int metric);
/* A merge's own fields, gathered in info before they join its entry: the
 * method, the weights (average, Fisher, ensembles), how many examples its
 * statistics saw (Fisher, RegMean), the space of an ensemble
 * (probabilities, logits), an interpolation's sweep (test curves may be
 * NULL) with the alpha chosen on validation. */
void ml_results_merge_method(cJSON *info, const ml_merge_spec *ms);
void ml_results_merge_weights(cJSON *info, const ml_merge_spec *ms);
void ml_results_merge_examples(cJSON *info, int examples);
void ml_results_merge_space(cJSON *info, const ml_merge_spec *ms);
void ml_results_interpolation(cJSON *info, const ml_merge_spec *ms, int chosen, const char *alpha_of,
                              const double *val_loss, const double *test_loss, const double *test_acc);
/* Moves info's fields into the merge's entry; the chosen alpha is also the
 * metric "<name>/alpha". */
void ml_results_merge_entry(cJSON *entry, cJSON *info, cJSON *metrics, const char *name);
/* An evaluation point {"step", "models": [], "metrics": {}}; its arrays in
 * *models and *metrics. */
cJSON *ml_results_point(int step, cJSON **models, cJSON **metrics);
/* A point's models and metrics; ML_EDATA when it lacks them. */
int ml_results_point_parts(const cJSON *pt, const cJSON **models, const cJSON **metrics);
/* res["points"] (a new array), res["models"] and res["metrics"] (copies of
 * the last point's), res["metrics"] (NULL before), res["data"] (new). */
cJSON *ml_results_points(cJSON *res);
void ml_results_cell_models(cJSON *res, const cJSON *models, const cJSON *metrics);
cJSON *ml_results_metrics(cJSON *res);
cJSON *ml_results_data(cJSON *res);
/* res["finetune"]: the parameter groups trained, how many tensors stayed
 * frozen (checked identical to the base, else the run failed). */
void ml_results_finetune(cJSON *res, const ml_suite *s, int frozen);
/* metrics["<model>/<what>"] = v, or null when v is not finite (the gate
 * then sees the hole instead of a metric that silently went missing). */
void ml_results_metric(cJSON *metrics, const char *model, const char *what, double v);
/* res["timing"]: seconds of each phase from the boundaries t[0..4] (start,
 * pretrained, fine-tuned, direct done, evaluated); "cached": the phases
 * (base, specialists, direct) the model cache supplied; <phase>_ms_per_step
 * for the phases that trained (the specialists' counts both models). */
void ml_results_timing(cJSON *res, const double t[5], const int cached[3], int pretrain_steps, int finetune_steps);
/* res["cka"] with every curve of t and the final values as metrics cka/<layer>,
 * cka/<layer>_debiased, cka/<layer>_rbf, cka/<spec>_vs_base/<layer> (and
 * cka/<layer>_token with t->token). representation may be NULL; probe_size and
 * rbf_bandwidth (sigma over the median distance) are recorded beside the curves. */
cJSON *ml_results_cka(cJSON *res, cJSON *metrics, const ml_cka_track *t, const char *a, const char *b,
                      const char *const *layer_names, const int *steps, const char *representation, int probe_size,
                      double rbf_bandwidth, const int *sweep);
/* info["router"]: a trained router's shape and its selection on validation
 * loss: val_steps (nv), val_loss (nv), the step kept. */
void ml_results_router(cJSON *info, const ml_merge_spec *ms, int layers, int experts, int batch, int selected_step,
                       const int *val_steps, const double *val_loss, int nv);
/* Data entries: a file read (path, sha256, bytes) and a generated corpus. */
cJSON *ml_results_data_file(const char *path, const char *sha256, double bytes);
cJSON *ml_results_data_corpus(const ml_corpus *c);
/* res["seed"], ["pretrain_seed"], ["pretrain_threads"] (when set), ["threads"]. */
void ml_results_seeds(cJSON *res, const ml_suite *s, int threads);

#endif

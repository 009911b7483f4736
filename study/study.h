/*
 * study/study.h: the state of one study run and the small table of
 * operations a model family provides, so that the protocol (protocol.c)
 * and the merge dispatch (merge.c) are written once for every family.
 * Internal to study/ (ml_study__ prefix).
 * Owns: the study state (runs, kept states at the fine-tuning points, CKA
 *       probes and track, timing) and the family interface.
 * Not here: a family's models, data and scoring (family_mlp.c,
 *       family_gpt.c), the JSON keys (store/results_write.h).
 */
#ifndef ML_STUDY_STUDY_H
#define ML_STUDY_STUDY_H

#include "study/runner.h"
#include "store/results_write.h"
#include "kernels/params.h"
#include "kernels/merge.h"

#include <cjson/cJSON.h>
#include <stddef.h>

/* The four training runs of a cell; ML_RUN_SCRATCH names the family's
 * scratch model that merges are written into and models are scored in. */
enum { ML_RUN_BASE = 0, ML_RUN_A, ML_RUN_B, ML_RUN_DIRECT, ML_RUN_SCRATCH, ML_NRUNS = ML_RUN_SCRATCH };

/* What a merge produced, for the family to score. */
typedef enum {
    ML_STUDY_PARAMS = 0,    /* a parameter vector: a run's, or a weight-space merge in the scratch model */
    ML_STUDY_MIXTURE,       /* the family's current mixture (feature interpolation, router) */
    ML_STUDY_ENSEMBLE       /* the output-space ensemble of the two specialists */
} ml_study_kind;

typedef struct {
    ml_study_kind kind;
    const float *params;        /* PARAMS: (np) */
    const ml_merge_spec *ms;    /* ENSEMBLE: its weights and space */
} ml_study_model;

/* The statistics Fisher and RegMean need, computed by the family. */
typedef struct {
    const float *const *fishers;        /* (2) each (np), fisher */
    const ml_regmean_layer *layers;     /* regmean: the linear layers and their Gram matrices */
    int nlayers;
    int examples;                       /* how many examples they saw */
    void *buf;                          /* the family's allocation behind them (stats_free) */
} ml_merge_stats;

typedef struct ml_study ml_study;

typedef struct {
    const char *layer_fmt;        /* the name of layer l + 1 in the cka section: "hidden%d", "block%d" */
    const char *representation;   /* cka.representation, or NULL */
    /* data, probe inputs, evaluation sets and the scratch model; sets st->L,
     * st->dims, st->tokrows (0: no per-token representation) */
    int  (*open)(ml_study *st);
    void (*close)(ml_study *st);
    /* run r's trainer, from init (NULL: a fresh base); sets st->np on the base
     * and st->mask (trainable tensors, NULL for all) when the family freezes some */
    int  (*run_new)(ml_study *st, int r, const float *init);
    float *(*params)(ml_study *st, int r);
    const ml_layout *(*layout)(ml_study *st);
    /* one optimiser step of run r in phase ph (phase: its name in messages) */
    int  (*step)(ml_study *st, int r, const ml_phase *ph, int step, const char *phase, float *loss);
    /* run r's per-layer representations of the probe inputs: rep[l] (P, dims[l]),
     * tok[l] (tokrows, dims[l]) when the family has a per-token one */
    void (*probe)(ml_study *st, int r, float **rep, float **tok);
    /* Fisher or Gram statistics of both specialists for ms; stats_free after use */
    int  (*stats)(ml_study *st, const ml_merge_spec *ms, ml_merge_stats *out);
    void (*stats_free)(ml_study *st, ml_merge_stats *stats);
    /* a feature interpolation (alpha selected on validation) or a router
     * (trained, checkpoint selected on validation); choices go to info */
    int  (*mixture)(ml_study *st, int g, cJSON *info);
    /* scores m on the target's test split: fields to the entry me, metrics under name */
    int  (*score)(ml_study *st, const ml_study_model *m, int is_merge, const char *name, cJSON *me, cJSON *metrics);
    /* the data entries of the results */
    void (*describe)(ml_study *st, cJSON *data);
} ml_study_family;

extern const ml_study_family ml_study__mlp;
extern const ml_study_family ml_study__gpt;

struct ml_study {
    const ml_suite *s;
    const ml_run_options *opt;
    const ml_study_family *fam;
    void *impl;                  /* the family's own state */
    ml_run_stage stage;
    int threads;                 /* BLAS threads of everything but pretraining */
    size_t np;                   /* parameters of one model */
    int L;                       /* layers probed for CKA */
    int dims[64];                /* (L) width of each layer's representation */
    int tokrows;                 /* rows of the per-token representation, 0: none */
    unsigned char *mask;         /* (layout.n) 1 = trained in fine-tuning; NULL: all (owned by the family) */
    int npts;                    /* fine-tuning points kept (finetune.points, at least the end) */
    float *pack;                 /* (npts, 2, np) both specialists at every point */
    float *dpack;                /* (npts, np) the direct fine-tune at every point */
    ml_cka_track track;
    float *rep[3][64], *tok[3][64];   /* probes of A, B and the base; layer l: (P, dims[l]), (tokrows, dims[l]) */
    int cached[3];               /* base, specialists, direct came from the model cache */
    double t[5];                 /* phase boundaries: start, pretrained, fine-tuned, direct, evaluated */
    int frozen;                  /* tensors not trained in fine-tuning (and checked unchanged) */
};

/* Merge g of the suite at the current point: *m what to score, info the
 * merge's own fields (method, weights, choices). The one merge dispatch. */
int ml_study__merge(ml_study *st, int g, cJSON *info, ml_study_model *m);

#endif

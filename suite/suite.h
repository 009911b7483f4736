/*
 * suite/suite.h: a suite, the declared experiment, parsed from JSON.
 * Owns: the suite's in-memory form and its strict parser/validator: every
 * error names the file, the JSON path and the reason (and the allowed
 * values or a "did you mean"), before any work starts.
 * Not here: running it (runner.c), gating (gate.c).
 */
#ifndef ML_SUITE_SUITE_H
#define ML_SUITE_SUITE_H

#include "kernels/gpt.h"
#include "kernels/mlp.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define ML_SUITE_NAME_MAX 64
#define ML_MAX_SPECIALISTS 8
#define ML_MAX_MERGES 16
#define ML_MAX_GATE 32
#define ML_MAX_CKA_STEPS 256
#define ML_MAX_PROBE_SWEEP 16
#define ML_MAX_CLASSES 10
#define ML_MAX_AXES 8
#define ML_MAX_AXIS_VALUES 64
#define ML_MAX_CELLS 4096
#define ML_AXIS_PATH_MAX 64

/* Which model family, and so which data, a suite uses. */
typedef enum { ML_FAMILY_MLP = 0, ML_FAMILY_GPT = 1 } ml_family;

/* A slice of the data: Fashion-MNIST classes (MLP) or a text domain (GPT). */
typedef struct {
    char name[ML_SUITE_NAME_MAX];
    int  nclasses;
    int  classes[ML_MAX_CLASSES];
    int  domain;                 /* ml_domain for text, -1 for class splits */
} ml_split;

#define ML_MAX_TRAIN_GROUPS 5
#define ML_MAX_POINTS 16

typedef enum { ML_SCHED_CONSTANT = 0, ML_SCHED_COSINE = 1 } ml_schedule;

typedef struct {
    int    steps;
    double lr;
    int    warmup;   /* linear warmup steps (default: optimizer.warmup) */
} ml_phase;

typedef enum {
    ML_MERGE_AVERAGE = 0,      /* weight space */
    ML_MERGE_SLERP,
    ML_MERGE_TASK_ARITHMETIC,
    ML_MERGE_TIES,
    ML_MERGE_DARE,
    ML_MERGE_FISHER,
    ML_MERGE_REGMEAN,
    ML_MERGE_INTERPOLATE,      /* feature space: alpha sweep of the MLP outputs */
    ML_MERGE_ENSEMBLE,         /* output space */
    ML_MERGE_ROUTER,           /* learned routing between the specialists' MLPs */
    ML_MERGE_COUNT
} ml_merge_method;

#define ML_MAX_ALPHAS 64

typedef struct {
    char   name[ML_SUITE_NAME_MAX];
    ml_merge_method method;
    int    nmodels;                        /* = number of specialists */
    double weights[ML_MAX_SPECIALISTS];    /* average, fisher (prior weights), ensemble */
    double t;                              /* slerp: 0 = first specialist, 1 = second */
    double lambda;                         /* task arithmetic, ties, dare */
    double density;                        /* ties (and dare combined with ties) */
    double p;                              /* dare drop probability */
    int    combine_ties;                   /* dare: 0 task arithmetic, 1 ties */
    uint64_t seed;                         /* dare */
    int    examples;                       /* fisher, regmean: examples of each specialist's data */
    double alpha;                          /* regmean: off-diagonal scale */
    int    nalphas;                        /* interpolate: the sweep */
    double alphas[ML_MAX_ALPHAS];
    int    prob_ensemble;                  /* ensemble: 0 logits, 1 probabilities */
    int    k_layers;                       /* router: 1 single-layer, k multi-layer */
    int    top_k;                          /* router: experts kept per token (0 = all) */
    int    shared;                         /* router: one router at the first layer */
    int    base_expert;                    /* router: the base MLP as an extra expert */
    int    steps;                          /* router training */
    int    batch;                          /* router: windows (examples) per step, <= batch_size; 0 = batch_size */
    int    checkpoints;                    /* router: validation checks over training (the best is kept); 5 */
    int    kaiming_init;                   /* router: 0 starts at zero (every expert equal), 1 as PyTorch's Linear */
    double weight_decay;                   /* router: AdamW decay; the optimizer's when not given */
    double lr;
} ml_merge_spec;

#define ML_FINDINGS_MAX 8

/* The paper's findings a suite asks to check ("findings": {"metric": M,
 * "check": ["F1", ...]}); evaluated by analysis/findings.h. */
typedef struct {
    int  n;
    char ids[ML_FINDINGS_MAX][4];   /* "F1", "F2", "F3", "F4" */
    char metric[32];                /* "" = loss (GPT) or test_loss (MLP) */
} ml_findings_spec;

typedef enum { ML_DIR_HIGHER = 0, ML_DIR_LOWER = 1, ML_DIR_BOTH = 2 } ml_direction;

typedef struct {
    char   match[128];   /* fnmatch pattern over metric names */
    ml_direction direction;
    double atol, rtol;
    int    has_across;                 /* "across_platforms" given */
    double across_atol, across_rtol;   /* the tolerance between two numeric platforms (measured) */
    int    allow_missing;              /* a seed may lack a finite value */
} ml_gate_rule;

/* One axis of the suite's matrix: the cells are the cartesian product of
 * the axes, in the order the suite lists them. */
typedef enum { ML_AXIS_SEED = 0, ML_AXIS_MERGE = 1, ML_AXIS_PATH = 2 } ml_axis_kind;

typedef struct {
    char   path[ML_AXIS_PATH_MAX];            /* "seed", "merge" or a dotted path ("finetune.steps") */
    ml_axis_kind kind;
    int    nvalues;
    double values[ML_MAX_AXIS_VALUES];        /* seed and path axes */
    char   names[ML_MAX_AXIS_VALUES][ML_SUITE_NAME_MAX];   /* merge axis: each cell keeps only that merge */
} ml_axis;

typedef struct {
    char     file[512];             /* as given on the command line */
    char     sha256[65];            /* of the file's bytes */
    char     name[ML_SUITE_NAME_MAX];
    char     description[512];
    uint64_t seed;
    uint64_t pretrain_seed;         /* the base's initialisation and data order: pretrain.seed, else seed */
    int      pretrain_seed_shared;  /* pretrain.seed given: one base for every seed of the matrix */
    int      pretrain_threads;      /* pretrain.threads: BLAS threads for the base alone; 0 = as the cell */
    int      threads;
    ml_family family;
    char     dataset[32];           /* "fashion-mnist" (MLP) or "text" (GPT) */
    char     data_dir[512];         /* fashion-mnist */
    int      validation_size;       /* fashion-mnist: train images held out for selection (never trained on) */
    int      text_train_docs;       /* text: documents per domain in the train split */
    int      text_eval_docs;        /* text: documents per domain in validation and test */
    double   base_math_fraction, base_code_fraction;   /* text: mix of the base corpus */
    ml_mlp_config model;            /* MLP */
    ml_gpt_config gpt;              /* GPT */
    int      batch_size;
    double   beta1, beta2, eps, weight_decay, grad_clip, min_lr_ratio;
    ml_schedule schedule;
    int      warmup;                /* optimizer.warmup: each phase's default (ml_phase.warmup) */
    int      grad_accum;            /* micro-batches of batch_size per optimiser step (GPT) */
    ml_phase pretrain;
    ml_split pretrain_split;
    ml_phase finetune;              /* specialists and the direct fine-tune */
    int      npoints;               /* fine-tuning steps at which every model is evaluated (GPT: */
    int      points[ML_MAX_POINTS]; /* finetune.points, increasing, ending at finetune.steps) */
    int      ntrain_groups;         /* parameter groups fine-tuning updates ("all", "mlp", ...) */
    char     train_groups[ML_MAX_TRAIN_GROUPS][16];
    int      nspecialists;
    ml_split specialists[ML_MAX_SPECIALISTS];
    ml_split target;
    int      nmerges;
    ml_merge_spec merges[ML_MAX_MERGES];
    int      ncka;                  /* fine-tuning steps at which CKA is measured, increasing */
    int      cka_steps[ML_MAX_CKA_STEPS];
    int      probe_size;            /* examples (MLP) or sequences (GPT) in the fixed CKA probe set;
                                       default 4 * n_embd windows (GPT), 1000 examples (MLP) */
    double   rbf_bandwidth;         /* RBF CKA's sigma as a fraction of the median distance; 1 */
    int      nsweep;                /* cka.probe_sweep: CKA at the end on the first n probe examples, */
    int      sweep[ML_MAX_PROBE_SWEEP];   /* for each n (increasing, at most probe_size); 0 = none */
    int      eval_windows;          /* GPT: held-out target windows for the loss */
    int      exact_match;           /* GPT: target documents decoded greedily for exact match */
    int      merge_domain_losses;   /* GPT: merges also scored on each specialist's domain (1, the
                                       default) or only the base, specialists and direct (0) */
    int      ngate;
    ml_gate_rule gate[ML_MAX_GATE];
    /* the report's defaults (`mergelab report` options override them); 0 = the report's own */
    double   report_width_in;       /* figure width in inches */
    double   report_font_pt;        /* figure text size */
    unsigned report_formats;        /* bits: 1 png, 2 svg, 4 pdf */
    ml_findings_spec findings;      /* the paper's findings to check on the results (n = 0: none) */
    int      naxes;                 /* the matrix; 0 axes = one cell, the suite as written */
    ml_axis  axes[ML_MAX_AXES];
    int      ncells;                /* product of the axes' sizes */
} ml_suite;

/* Parses and validates src (len bytes) read from `file` (used in messages).
 * On error *out is NULL and the message reads "FILE: $.path: reason" (or
 * "FILE:LINE:COL: ..." for JSON syntax). Returns 0 or ML_EINVALID. */
int ml_suite_parse(ml_suite **out, const char *file, const char *src, size_t len);
/* The same on an already parsed document (root is not modified); sha256 is
 * recorded as the suite's hash (may be NULL). */
int ml_suite_parse_json(ml_suite **out, const char *file, const char *sha256, const cJSON *root);
/* 1 when name is a valid suite name: letters, digits, '-' and '_', 1..63
 * characters. It names files (results, baselines), so nothing else passes. */
int ml_suite_name_ok(const char *name);
/* cJSON parse that refuses trailing text and reports "FILE:LINE:COL: ..." */
int ml_json_parse_strict(cJSON **out, const char *file, const char *src, size_t len);
/* Reads and parses a file; ML_ENOTFOUND when it does not exist. */
int ml_suite_load(ml_suite **out, const char *path);
void ml_suite_free(ml_suite *s);

const char *ml_direction_name(ml_direction d);
const char *ml_merge_method_name(ml_merge_method m);
/* 1 when the runner of that model family implements the method. */
int ml_merge_available(ml_family family, ml_merge_method m);

/* Bytes one cell of s needs at its peak, estimated without allocating
 * (suite/memory.c), and the machine's physical memory (0 if unknown). */
size_t ml_suite_memory(const ml_suite *s);
/* The tensors alone in that estimate: no margin, no process overhead. */
size_t ml_suite_tensor_bytes(const ml_suite *s);

/* Floating-point operations of one cell's jobs (suite/cost.c): its base,
 * its training (both specialists and the direct model), one evaluation
 * point, its results, and a whole cell in one job. Lower bounds. */
typedef struct {
    double base, train, point, results, cell;
} ml_suite_cost;
void ml_suite_cost_of(const ml_suite *s, ml_suite_cost *out);
size_t ml_machine_memory(void);

#endif

/*
 * reports/report_data.h: one results file read and gathered across seeds, ready to draw
 *                        (internal to reports/).
 * Owns: ml_rep_suite (groups of cells, per-group means and 95% t intervals of every
 *       metric, CKA curve and heatmap, the method table) and reading it from a results
 *       file with errors that name the file and the JSON path.
 * Not here: drawing (fig_*.c), the page (html.c), which figures a report has (report.c).
 * A group is the cells that differ only by seed (the harness's "group" key). Means are
 * over the group's finished cells; an interval needs two or more of them (NaN otherwise).
 */
#ifndef ML_REPORTS_REPORT_DATA_H
#define ML_REPORTS_REPORT_DATA_H

#include "analysis/aggregate.h"
#include "reports/report.h"

#include <cjson/cJSON.h>

/* A quantity over a group's seeds. */
typedef struct {
    double mean, lo, hi;
    int n;
} ml_rep_stat;

/* One row of the method comparison: a model the suite evaluated. */
typedef struct {
    const char *name;
    ml_fig_point_kind kind;
    const char *family;          /* "weight averaging", "interpolation", "router", "ensemble", or NULL */
    ml_rep_stat value;           /* of the suite's headline metric */
    ml_rep_stat vs_base;         /* value - base, per seed */
    ml_rep_stat vs_direct;       /* value - direct, per seed */
} ml_rep_method;

/* A layer x layer CKA matrix, mean over seeds: rows of row_model vs columns of col_model. */
typedef struct {
    const char *row_model, *col_model;
    double step;
    ml_rep_stat *cells;          /* (L, L) */
} ml_rep_heat;

/* Curves of one quantity over x at each point a run kept (one row per point; a run
 * without points has one row, the end): the interpolation's validation loss over
 * alpha, or the routers' target metric over the layers k they route across. */
typedef struct {
    int nrows, nx;               /* nx == 0: nothing recorded */
    double *x;                   /* (nx) alpha, or k */
    double *row_step;            /* (nrows) the point's fine-tuning step */
    ml_rep_stat *y;              /* (nrows, nx) over the group's seeds */
    const char **names;          /* (nx) the router of each k; NULL for alpha */
} ml_rep_curves;

typedef struct {
    const char *name;            /* the group's name, "default" without a matrix */
    int *cells, ncells;          /* indices into ml_rep_suite.cells of the finished cells */
    int nfailed;
    double length;               /* its finetune.steps when a matrix axis sets it, else NaN */
    ml_rep_method *methods;      /* (nmethods) in the order of the first cell's models */
    int nmethods;
    /* finetune.points: the same table at each point a run kept (npoints 0: none) */
    int npoints;
    double *point_steps;         /* (npoints) */
    ml_rep_method *point_methods;   /* (npoints, nmethods) */
    /* CKA (nlayers == 0: none recorded) */
    const char *pair[2];
    const char **layers;         /* (nlayers) */
    int nlayers;
    double *steps;               /* (nsteps) */
    int nsteps;
    ml_rep_stat *over_steps;     /* (nlayers, nsteps) */
    ml_rep_heat heat;            /* A vs B; cells NULL when not recorded */
    ml_rep_heat heat_early;      /* A vs B at the first point (or first step after 0); NULL when not recorded */
    ml_rep_heat heat_base[2];    /* each specialist vs the base; cells NULL when not recorded */
    /* cka.probe_sweep: CKA (mean over layers) on the first n probe examples at the last
     * step, over the group's cells (nsweep == 0: not recorded) */
    int nsweep;
    double sweep_step;
    double *sweep_n;             /* (nsweep) */
    ml_rep_stat *sweep_linear, *sweep_debiased;   /* (nsweep) biased and unbiased HSIC */
    ml_rep_curves alpha;         /* the first interpolation's validation loss over alpha */
    ml_rep_curves router_k;      /* the headline metric of the routers over k */
} ml_rep_group;

typedef struct {
    const char *file;            /* the results path */
    cJSON *doc;                  /* as loaded (schema 1 upgraded to 2) */
    const char *name, *desc, *suite_file, *suite_sha256;
    char prefix[96];             /* the name made safe for file names */
    const char *commit, *finished;
    int dirty;
    char seeds[256];             /* "1, 2, 3" */
    const char *metric;          /* the method table's metric: "test_acc" or "loss" */
    int higher;                  /* 1 when higher is better for it */
    const cJSON **cells;         /* (ncells) every cell, in file order */
    int ncells, nok, nfailed;
    ml_rep_group *groups;        /* (ngroups) in first-seen order */
    int ngroups;
    ml_agg agg;                  /* every metric per group */
    const cJSON *findings;       /* the results' "findings" array, or NULL */
    double width_in, font_pt;    /* the suite's "report" settings; 0 = not given */
    unsigned formats;            /* ML_FIG_* bits from it; 0 = not given */
} ml_rep_suite;

/* Reads path into s (zeroed by the caller). Returns 0, ML_ENOTFOUND, ML_EDATA (naming the
 * file and the JSON path), ML_ENOMEM. Free with ml_rep_suite_free even on failure. */
int ml_rep_suite_read(ml_rep_suite *s, const char *path);
void ml_rep_suite_free(ml_rep_suite *s);

/* The summary of the finite values of x (n); lo/hi NaN below two values. */
ml_rep_stat ml_rep_stat_of(const double *x, int n);

#endif

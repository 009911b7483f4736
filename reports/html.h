/*
 * reports/html.h: the index.html page of a report (internal to reports/).
 * Owns: ml_rep_view, the already-validated content the page shows, and turning it into
 *       one self-contained HTML file (inline CSS and SVG, no external anything).
 * Not here: reading or validating the results JSON (report.c), drawing (fig_*.c).
 */
#ifndef ML_REPORTS_HTML_H
#define ML_REPORTS_HTML_H

#include <cjson/cJSON.h>

typedef struct {
    const char *name, *role, *method;   /* role/method may be NULL */
    double test_acc, test_loss;         /* NaN when absent or null */
} ml_rep_model;

typedef struct {
    const char *name;
    double value;                       /* NaN when null (the metric failed) */
} ml_rep_metric;

typedef struct {
    const char *suite_name, *suite_desc, *suite_file, *suite_sha256;   /* name non-NULL */
    const char *commit;                 /* provenance.repository.commit, or NULL */
    int dirty;                          /* provenance.repository.dirty */
    const ml_rep_model *models;   int nmodels;
    const ml_rep_metric *metrics; int nmetrics;
    int has_cka;
    const char *pair[2];
    const char *const *layers;    int nlayers;
    const double *steps;          int nsteps;
    const double *over_steps;           /* (nlayers, nsteps), NaN = not recorded */
    int has_heatmap;
    double hm_step;
    const char *hm_row_model, *hm_col_model;
    const char *const *hm_layers; int hm_n;
    const double *hm_values;            /* (hm_n, hm_n): CKA(row model layer i, col model layer j) */
    const char *svg_heatmap, *svg_steps;   /* the SVG files' text, inlined; NULL = none */
    const cJSON *provenance, *timing;   /* shown key by key; NULL when absent */
} ml_rep_view;

/* Writes the page to path atomically. Returns 0, ML_ENOMEM or ML_EOS. */
int ml_html__write(const char *path, const ml_rep_view *v);

#endif

/*
 * reports/html.h: the index.html page of a report (internal to reports/).
 * Owns: ml_rep_page, what the page shows (already read and drawn), and turning it into
 *       one HTML file that works opened from disk: inline CSS (light and dark), optional
 *       inline JavaScript (sortable tables, an image-load check), no external anything.
 * Not here: reading results (report_data.c), drawing (fig_*.c), which figures exist
 *           (report.c).
 */
#ifndef ML_REPORTS_HTML_H
#define ML_REPORTS_HTML_H

#include "reports/report.h"
#include "reports/report_data.h"

/* A figure written beside the page: stem.png/.svg/.pdf (those in the page's formats) and
 * stem.csv. */
typedef struct {
    char stem[200];
    char title[256];
    char caption[768];
    const char *group;        /* the group of cells it shows, or NULL for a figure across groups */
} ml_rep_fig;

typedef struct {
    const ml_rep_suite *suite;
    const ml_rep_fig *figs;
    int nfigs;
    int featured[2];          /* the groups whose method tables are shown */
    int nfeatured;
} ml_rep_section;

typedef struct {
    const ml_rep_section *sections;
    int nsections;
    const ml_report_opts *opts;   /* gate rows, baseline path, history (may be NULL) */
    const ml_rep_fig *history;    /* the history figure, or NULL */
    unsigned formats;             /* ML_FIG_* bits written */
} ml_rep_page;

/* Writes the page to path atomically. Returns 0, ML_ENOMEM or ML_EOS. */
int ml_html__write(const char *path, const ml_rep_page *p);

#endif

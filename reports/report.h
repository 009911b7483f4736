/*
 * reports/report.h: mergelab's figures and HTML report, the public face of reports/.
 * Owns: ml_report_write (results JSON files -> a folder of figures, CSVs and index.html)
 *       and the figure functions it is built from, callable on fixed data by tests.
 * Not here: producing results (study/, store/), deciding pass/fail (analysis/gate.c: the caller
 *           hands the gate's rows and the store's history in, already computed).
 * Errors: 0 or a negative ML_E*, reason in ml_error_last(). Every file is written
 *         atomically (core/fs.h), so a reader never sees half a figure.
 * Figures default to one paper column: 3.5 in = 252 pt wide, 8 pt text (9 pt titles),
 * like a matplotlib figure with SciencePlots. One drawing code path renders PNG (at
 * png_scale pixels per pt, with tEXt provenance), SVG (in pt, text as <text>) and PDF
 * (fonts embedded, Title/Author/Subject/Creator metadata).
 */
#ifndef ML_REPORTS_REPORT_H
#define ML_REPORTS_REPORT_H

#include <stddef.h>

typedef enum { ML_FIG_PNG = 1, ML_FIG_SVG = 2, ML_FIG_PDF = 4 } ml_fig_format;
#define ML_FIG_ALL (ML_FIG_PNG | ML_FIG_SVG | ML_FIG_PDF)

/* Where a figure's parts landed, in pt from the figure's top-left corner. Multiply by
 * png_scale for PNG pixels. For a figure with several panels, x/y/w/h is the first. */
typedef struct {
    double width, height;     /* the whole figure */
    double x, y, w, h;        /* the data area: the heatmap grid, or the (first) axes */
    int    png_scale;         /* PNG pixels per pt */
    int    no_data;           /* 1 when the figure shows the "no data" message instead */
} ml_fig_layout;

/* Optional settings; a NULL ml_fig_opts* or a zeroed one means the defaults. */
typedef struct {
    /* provenance: PNG tEXt chunks, SVG <desc>, PDF Subject/Keywords; NULL = not written */
    const char *source;        /* "Source": the commit the numbers came from */
    const char *suite;         /* "Suite": the suite name */
    const char *seed;          /* "Seed": e.g. "1,2,3" */
    const char *date;          /* "Creation Time" / PDF CreationDate, ISO 8601 UTC
                                  ("2026-11-22T23:08:36Z"); NULL = not written, so a
                                  figure is byte-identical from run to run */
    const char *author;        /* PDF Author; NULL = "mergelab" */
    double      width_pt;      /* 0 = 252 pt (3.5 in) */
    double      font_pt;       /* tick and label size; titles are +1 pt; 0 = 8 pt */
    int         png_scale;     /* PNG pixels per pt; 0 = 3 (216 dpi) */
    int         y_include_n;   /* lines: how many of y_include[] the y range must contain */
    double      y_include[2];  /* lines: e.g. {1.0} so CKA's ceiling is always visible */
    ml_fig_layout *layout;     /* if non-NULL, receives where things landed */
} ml_fig_opts;

/* Heatmap of values (rows, cols) row-major, coloured by viridis over [vmin, vmax] (values
 * outside are clamped), with a colour bar. NaN cells are drawn grey and hatched ("no
 * data"); grids up to 12x12 get each value written in its cell. rows == 0, cols == 0 or
 * all-NaN draws an explicit "no data" figure. row_names/col_names may be NULL (then
 * 0, 1, ... are shown). Returns 0, ML_EINVALID, ML_ENOMEM or ML_EOS. */
int ml_fig_heatmap(const char *path, ml_fig_format fmt, const char *title,
                   const char *row_label, const char *col_label,
                   const char *const *row_names, const char *const *col_names,
                   const double *values, int rows, int cols, double vmin, double vmax,
                   const ml_fig_opts *opts);

/* Line plot: series (nseries, npoints) row-major over the shared x (npoints). NaN points
 * (or NaN x) break the line. Each series gets its own colour-blind-safe colour and marker
 * and a legend entry below the axes. No points, no series or all-NaN draws "no data".
 * series_names may be NULL. Returns 0, ML_EINVALID, ML_ENOMEM or ML_EOS. */
int ml_fig_lines(const char *path, ml_fig_format fmt, const char *title,
                 const char *xlabel, const char *ylabel,
                 const double *x, int npoints, const char *const *series_names,
                 const double *series, int nseries, const ml_fig_opts *opts);

/* One line of a panel: the mean y (npoints) and, optionally, a shaded band [lo, hi]
 * (e.g. a 95% interval across seeds; NaN where there is none) and flagged points drawn
 * with a red ring (e.g. a regression). NaN y breaks the line. */
typedef struct {
    const char *name;
    const double *y;               /* (npoints) */
    const double *lo, *hi;         /* (npoints) or NULL: no band */
    const unsigned char *flag;     /* (npoints) 1 = flagged, or NULL */
} ml_fig_series;

/* One axes of a stacked figure; panels share the x axis. */
typedef struct {
    const char *ylabel;
    const ml_fig_series *series;   /* (nseries) */
    int nseries;
    int y_include_n;               /* values the y range must contain, e.g. {1.0} for CKA */
    double y_include[2];
    double ref_y;                  /* a dashed horizontal reference line; NaN = none */
    const char *ref_label;         /* its label, written at the line's right end */
} ml_fig_panel;

/* Stacked panels over one x (npoints): the first panel holds the title, the last the x
 * axis and x label; each panel gets its own legend below it when it has more than one
 * series. xtick_labels (npoints) or NULL: when given, x is categorical (a tick at every
 * x[i] labelled xtick_labels[i], rotated if they would overlap), e.g. commits. A panel
 * with no finite data shows "no data". Returns 0, ML_EINVALID, ML_ENOMEM or ML_EOS. */
int ml_fig_panels(const char *path, ml_fig_format fmt, const char *title, const char *xlabel,
                  const double *x, int npoints, const char *const *xtick_labels,
                  const ml_fig_panel *panels, int npanels, const ml_fig_opts *opts);

/* What a point of the method comparison is; each kind has its own marker and colour. */
typedef enum {
    ML_FIG_PT_MERGE = 0,       /* weight or feature merges */
    ML_FIG_PT_ROUTER,          /* routers */
    ML_FIG_PT_ENSEMBLE,        /* output ensembles */
    ML_FIG_PT_DIRECT,          /* direct fine-tuning (also drawn as the reference line) */
    ML_FIG_PT_BASE,
    ML_FIG_PT_SPECIALIST,
    ML_FIG_PT_KINDS
} ml_fig_point_kind;

typedef struct {
    const char *name;
    double mean;               /* NaN: drawn as "n/a" in its row */
    double lo, hi;             /* 95% interval; NaN = none (one seed) */
    ml_fig_point_kind kind;
} ml_fig_point;

/* Method comparison: one row per point, sorted best first (by mean: highest first when
 * higher_is_better, else lowest; NaN last), a dot with CI whiskers, names left of the
 * axes (cut with "…" when too long), a legend of the kinds present, and a dashed vertical
 * reference line at ref_x (NaN = none) labelled ref_label. n == 0 or no finite mean
 * draws "no data". Returns 0, ML_EINVALID, ML_ENOMEM or ML_EOS. */
int ml_fig_points(const char *path, ml_fig_format fmt, const char *title, const char *xlabel,
                  const ml_fig_point *points, int n, int higher_is_better, double ref_x,
                  const char *ref_label, const ml_fig_opts *opts);

/* ---- the report -------------------------------------------------------------------- */

/* One row of the regression table, computed by the caller (analysis/gate.c). */
typedef struct {
    const char *label;          /* "group: metric" */
    double baseline, value;     /* NaN = missing */
    double ci_lo, ci_hi;        /* 95% interval of value - baseline; NaN = none */
    const char *verdict;        /* "ok", "ok (within noise)", "REGRESSED", "improved", "missing" */
    int regressed;
} ml_report_gate_row;

/* One metric's history over commits (oldest first), from the results store. */
typedef struct {
    const char *metric;         /* "group: metric" */
    int n;
    const char *const *commits; /* (n) short hashes, the x tick labels */
    const double *mean, *lo, *hi;   /* (n); NaN = not measured there */
    const unsigned char *regressed; /* (n) 1 = worse than the commit before beyond noise */
} ml_report_history;

typedef struct {
    unsigned formats;                   /* ML_FIG_* bits; 0 = PNG | SVG | PDF */
    ml_fig_opts fig;                    /* width, font size, png scale; provenance is filled per suite */
    const char *baseline_path;          /* shown with the gate table; NULL = none given */
    const ml_report_gate_row *gate;     /* (ngate) rows, or NULL */
    int ngate;
    const char *gate_platform;          /* one line: do the two sides share a numeric platform, are they bit-identical */
    const ml_report_history *history;   /* (nhistory) series, or NULL */
    int nhistory;
} ml_report_opts;

/* Reads mergelab results files (schema_version 1 or 2; any number of cells and seeds) and
 * writes into out_dir (created if needed) index.html and, per results file (prefix = its
 * suite name), the figures in every requested format with a CSV of each figure's data:
 *   <suite>_cka_heatmap.*, <suite>_cka_vs_base_<model>.*, <suite>_cka_steps.*,
 *   <suite>_methods.*, <suite>_merge_vs_length.* (when a matrix axis varies the
 *   fine-tuning length), and history.* when opts->history is given.
 * Metrics are means over the cells of a group (the seeds), with 95% t intervals.
 * Returns 0, or ML_ENOTFOUND (no such file), ML_EDATA (malformed results: the message
 * names the file and the JSON path), ML_EINVALID (nresults < 1), ML_ENOMEM, ML_EOS. */
int ml_report_write_many(const char *const *results_paths, int nresults, const char *out_dir,
                         const ml_report_opts *opts);

/* ml_report_write_many with one file and the default options. */
int ml_report_write(const char *results_path, const char *out_dir);

#endif

/*
 * reports/report.h: mergelab's figures and HTML report, the public face of reports/.
 * Owns: ml_report_write (results JSON -> a folder of figures, CSVs and index.html) and
 *       the figure functions it is built from, callable on fixed data by tests.
 * Not here: producing results (harness/), deciding pass/fail (harness/gate.c).
 * Errors: 0 or a negative ML_E*, reason in ml_error_last(). Every file is written
 *         atomically (core/fs.h), so a reader never sees half a figure.
 * Figures are one paper column wide (3.5 in = 336 pt) in an 8-9 pt sans font; the SVG is
 * in pt, the PNG is the same drawing at png_scale pixels per pt.
 */
#ifndef ML_REPORTS_REPORT_H
#define ML_REPORTS_REPORT_H

typedef enum { ML_FIG_PNG, ML_FIG_SVG } ml_fig_format;

/* Where a figure's parts landed, in pt from the figure's top-left corner. Multiply by
 * png_scale for PNG pixels. */
typedef struct {
    double width, height;     /* the whole figure */
    double x, y, w, h;        /* the data area: the heatmap grid, or the line plot's axes */
    int    png_scale;         /* PNG pixels per pt */
    int    no_data;           /* 1 when the figure shows the "no data" message instead */
} ml_fig_layout;

/* Optional settings; a NULL ml_fig_opts* or a zeroed one means the defaults. */
typedef struct {
    const char *source;        /* PNG tEXt "Source" (the commit); NULL = not written */
    const char *suite;         /* PNG tEXt "Suite" (the suite name); NULL = not written */
    double      width_pt;      /* 0 = 336 pt, one 3.5 in paper column */
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

/* Reads a mergelab results JSON file (schema_version 1) and writes into out_dir (created
 * if needed): index.html, cka_heatmap.png, cka_heatmap.svg, cka_steps.png, cka_steps.svg,
 * cka_heatmap.csv, cka_steps.csv. Without a "cka" key the figures say "no data", the CSVs
 * hold only their header and the page says "no CKA recorded".
 * Returns 0, or ML_ENOTFOUND (no such file), ML_EDATA (malformed results: the message
 * names the file and the JSON path, e.g. "out/x/results.json: $.cka.over_steps[1]:
 * expected an array of 5 numbers"), ML_ENOMEM, ML_EOS. */
int ml_report_write(const char *results_path, const char *out_dir);

#endif

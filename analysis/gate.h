/*
 * analysis/gate.h: results against a stored baseline (mergelab check) and
 * making results the new baseline (mergelab bless).
 * Metrics are compared per group of cells (aggregate.h) as means over the
 * seeds. Nothing missing passes: a metric absent, null or non-finite in
 * any seed of either side fails (unless its rule says "allow_missing"), as
 * do incomplete results, failed cells and an empty baseline (unless
 * --allow-partial). The two sides' numeric platforms are compared: on the
 * same one, every value is also compared bit for bit; across two, a rule's
 * "across_platforms" tolerance applies. A metric regresses when its mean moves the wrong way by more than
 * atol + rtol*|baseline mean| AND, when both sides have at least two seeds,
 * the 95% Welch interval of the change lies entirely on the wrong side of
 * zero (so a move the seeds' own spread explains is "ok (within noise)").
 * The rule comes from the first "gate" entry of the current results whose
 * fnmatch pattern matches the metric's name (without its group).
 * Not here: comparing commits (cli_store.c).
 */
#ifndef ML_ANALYSIS_GATE_H
#define ML_ANALYSIS_GATE_H

#include <cjson/cJSON.h>
#include <stdio.h>

typedef struct {
    int total;       /* metrics in the baseline */
    int ok;
    int improved;
    int regressed;   /* includes metrics missing, null, NaN or infinite in any seed of the results */
    int untracked;   /* no gate rule matches: shown, never fail */
    int added;       /* in the results, not in the baseline */
    /* whole-document problems, each a failure unless --allow-partial */
    int incomplete;      /* cells of the baseline or of $.missing that the results lack */
    int failed_cells;    /* results cells whose status is "failed" */
    int baseline_holes;  /* baseline metrics missing or non-finite in some seed (bad input) */
    int baseline_partial;/* baseline cells failed, or the baseline marked incomplete */
    int baseline_empty;  /* the baseline has no "ok" cell with a finite metric */
    /* the numeric platform of each side (ml_results_platform) */
    int  same_platform;  /* 1 same, 0 not (or unknown on a side) */
    char platform_now[160], platform_base[160];
    int  compared;       /* same platform: metric values compared bit for bit, cell by cell */
    int  differing;      /* ... and how many differ */
    char first_diff[200];/* the first that differs: "cell: metric baseline -> now" */
} ml_gate_summary;

/* The first rule of a "gate" array whose fnmatch pattern matches metric
 * (NULL when none does), and its tolerance atol + rtol*|baseline| (NaN
 * without a rule). Across platforms (across != 0) a rule's
 * "across_platforms": {atol, rtol} replaces its own when it has one and it
 * is wider: how far two BLAS kernel families were measured to move the
 * metric. compare
 * and history use the same two. */
const cJSON *ml_gate_rule_for(const cJSON *gate, const char *metric);
double ml_gate_tolerance(const cJSON *rule, double baseline, int across);
/* The rule lets a metric lack a value in some seeds ("allow_missing": true). */
int ml_gate_allows_missing(const cJSON *rule);
/* One line on the two sides' platforms: "same numeric platform (...):
 * bit-identical ..." or "different numeric platforms: ...". */
void ml_gate_platform_line(char *buf, size_t size, const ml_gate_summary *sum);

/* One row of the check, as printed. */
typedef struct {
    char   metric[400];     /* label: metric, or "group: metric" */
    char   dir[8];          /* higher, lower, both, or - (no rule) */
    double baseline, now;   /* NaN when absent */
    double tol;             /* NaN when no rule */
    char   change[32];      /* "+1.23%", or n/a */
    char   verdict[32];     /* ok, ok (within noise), improved, REGRESSED, CHANGED, MISSING, untracked, new (no baseline) */
    int    n_baseline, n_now;   /* seeds behind each mean */
    double ci_lo, ci_hi;    /* 95% Welch interval of now - baseline; NaN with fewer than 2 seeds a side */
    char   ci[48];          /* "[lo, hi]" or n/a */
    int    failed;          /* counts as a regression */
} ml_gate_row;

typedef struct {
    ml_gate_row *rows;
    int n, cap;
} ml_gate_rows;

/* Prints the table to out (may be NULL), fills sum and, when rows is not
 * NULL, every row (the caller frees them with ml_gate_rows_free). The
 * whole-document counts in sum are facts; what they cost (exit 2 for a bad
 * baseline, 3 for incomplete results or failed cells, unless the CLI's
 * --allow-partial) is the caller's call. Returns 0 (the verdict is in sum)
 * or ML_EDATA / ML_ENOMEM. */
int ml_gate_check(ml_gate_summary *sum, FILE *out, const cJSON *results, const cJSON *baseline, ml_gate_rows *rows);
void ml_gate_rows_free(ml_gate_rows *rows);
/* JUnit XML for CI job pages: one testcase per gated metric, a <failure>
 * carrying the table row for each regression; written atomically. */
int ml_gate_write_junit(const char *path, const char *suite, const ml_gate_rows *rows, const ml_gate_summary *sum);
/* A Markdown summary table (metric, direction, baseline, now, change,
 * tolerance, verdict) with the counts; written atomically. */
int ml_gate_write_markdown(const char *path, const char *suite, const ml_gate_rows *rows, const ml_gate_summary *sum);
/* Writes results as the baseline at baseline_path (atomically), adding
 * "blessed": {"from": results_path, "commit": commit, "date": ISO time}.
 * Refuses (ML_EDATA, naming what is wrong) results that are incomplete,
 * have a failed cell, hold no metric, or hold a metric that is missing,
 * null or non-finite in some seed: a baseline must be whole. */
int ml_gate_bless(const char *baseline_path, const char *results_path, const char *commit);

#endif

/*
 * harness/gate.h: results against a stored baseline (mergelab check) and
 * making results the new baseline (mergelab bless).
 * A metric regresses when it moves the wrong way by more than
 * atol + rtol*|baseline|; the rule comes from the first "gate" entry of the
 * current results whose fnmatch pattern matches the metric's name.
 * Not here: statistics across seeds and commits (a later compare command).
 */
#ifndef ML_HARNESS_GATE_H
#define ML_HARNESS_GATE_H

#include <cjson/cJSON.h>
#include <stdio.h>

typedef struct {
    int total;       /* metrics in the baseline */
    int ok;
    int improved;
    int regressed;   /* includes metrics that vanished or became NaN */
    int untracked;   /* no gate rule matches: shown, never fail */
    int added;       /* in the results, not in the baseline */
} ml_gate_summary;

/* One row of the check, as printed. */
typedef struct {
    char   metric[128];
    char   dir[8];          /* higher, lower, both, or - (no rule) */
    double baseline, now;   /* NaN when absent */
    double tol;             /* NaN when no rule */
    char   change[32];      /* "+1.23%", or n/a */
    char   verdict[24];     /* ok, improved, REGRESSED, CHANGED, MISSING, untracked, new (no baseline) */
    int    failed;          /* counts as a regression */
} ml_gate_row;

typedef struct {
    ml_gate_row *rows;
    int n, cap;
} ml_gate_rows;

/* Prints the table to out (may be NULL), fills sum and, when rows is not
 * NULL, every row (the caller frees them with ml_gate_rows_free). Returns
 * 0 (the verdict is in sum) or ML_EDATA / ML_ENOMEM. */
int ml_gate_check(ml_gate_summary *sum, FILE *out, const cJSON *results, const cJSON *baseline, ml_gate_rows *rows);
void ml_gate_rows_free(ml_gate_rows *rows);
/* JUnit XML for CI job pages: one testcase per gated metric, a <failure>
 * carrying the table row for each regression; written atomically. */
int ml_gate_write_junit(const char *path, const char *suite, const ml_gate_rows *rows, const ml_gate_summary *sum);
/* A Markdown summary table (metric, direction, baseline, now, change,
 * tolerance, verdict) with the counts; written atomically. */
int ml_gate_write_markdown(const char *path, const char *suite, const ml_gate_rows *rows, const ml_gate_summary *sum);
/* Writes results as the baseline at baseline_path (atomically), adding
 * "blessed": {"from": results_path, "commit": commit, "date": ISO time}. */
int ml_gate_bless(const char *baseline_path, const char *results_path, const char *commit);

#endif

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

/* Prints the table to out (may be NULL) and fills sum. Returns 0 (the
 * verdict is in sum) or ML_EDATA when the documents are unusable. */
int ml_gate_check(ml_gate_summary *sum, FILE *out, const cJSON *results, const cJSON *baseline);
/* Writes results as the baseline at baseline_path (atomically), adding
 * "blessed": {"from": results_path, "commit": commit, "date": ISO time}. */
int ml_gate_bless(const char *baseline_path, const char *results_path, const char *commit);

#endif

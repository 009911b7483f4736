/*
 * analysis/verdict.h: the one rule for "is this change a regression?",
 * shared by check (gate.c), compare (cli_store.c) and history
 * (cli_history.c), so the three can never disagree on the same numbers.
 * Owns: the verdict on the change of one metric's mean from `before` to
 *       `after`: WORSE only when it moves the wrong way by more than the
 *       tolerance AND, with two or more seeds a side, beyond the seeds'
 *       noise (the 95% Welch interval of the change excludes zero on the
 *       wrong side). BETTER is the mirror image.
 * Not here: where the tolerance comes from (gate rules, gate.c), missing
 *       values (the callers say MISSING before asking), the statistics
 *       themselves (core/stats.h).
 */
#ifndef ML_ANALYSIS_VERDICT_H
#define ML_ANALYSIS_VERDICT_H

#include "core/stats.h"

typedef enum {
    ML_VERDICT_SAME = 0,      /* within tolerance */
    ML_VERDICT_NOISE,         /* beyond tolerance, but the seeds' spread covers it */
    ML_VERDICT_BETTER,
    ML_VERDICT_WORSE,         /* a regression */
    ML_VERDICT_CHANGED        /* direction "both": moved beyond tolerance and noise */
} ml_verdict_kind;

typedef struct {
    ml_verdict_kind kind;
    double diff;      /* after - before */
    double lo, hi;    /* 95% Welch interval of diff; NaN with fewer than 2 seeds a side */
} ml_verdict;

/* direction: "higher" (higher is better), "lower", or "both" (any move is
 * a change); NULL or anything else judges by size alone, like "both".
 * tol >= 0 is the tolerance on |diff|. */
void ml_verdict_judge(ml_verdict *out, const ml_summary *before, const ml_summary *after, const char *direction,
                      double tol);
/* "same", "within noise", "better", "WORSE", "CHANGED" */
const char *ml_verdict_name(ml_verdict_kind kind);

#endif

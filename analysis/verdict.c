/*
 * analysis/verdict.c: the regression rule (see verdict.h).
 */
#include "analysis/verdict.h"

#include <math.h>
#include <string.h>

void ml_verdict_judge(ml_verdict *out, const ml_summary *before, const ml_summary *after, const char *direction,
                      double tol) {
    int higher = direction && !strcmp(direction, "higher"), lower = direction && !strcmp(direction, "lower");
    out->diff = after->mean - before->mean;
    out->lo = out->hi = NAN;
    if (before->n >= 2 && after->n >= 2) {
        ml_diff d;
        if (ml_stats_welch(&d, before, after) == 0) {
            out->lo = d.lo;
            out->hi = d.hi;
        }
    }
    int have_ci = !isnan(out->lo) && !isnan(out->hi);
    /* beyond noise: the interval lies wholly on one side of zero (no
     * interval, one seed: only the tolerance can judge) */
    int up = !have_ci || out->lo > 0.0, down = !have_ci || out->hi < 0.0;
    int rose = out->diff > tol, fell = out->diff < -tol;
    if (!rose && !fell) { out->kind = ML_VERDICT_SAME; return; }
    if ((rose && !up) || (fell && !down)) { out->kind = ML_VERDICT_NOISE; return; }
    if (higher) out->kind = rose ? ML_VERDICT_BETTER : ML_VERDICT_WORSE;
    else if (lower) out->kind = fell ? ML_VERDICT_BETTER : ML_VERDICT_WORSE;
    else out->kind = ML_VERDICT_CHANGED;
}

const char *ml_verdict_name(ml_verdict_kind kind) {
    switch (kind) {
    case ML_VERDICT_SAME: return "same";
    case ML_VERDICT_NOISE: return "within noise";
    case ML_VERDICT_BETTER: return "better";
    case ML_VERDICT_WORSE: return "WORSE";
    case ML_VERDICT_CHANGED: return "CHANGED";
    }
    return "?";
}

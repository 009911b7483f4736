/*
 * harness/gate.c: the regression gate. Every verdict is printed with its
 * numbers (baseline, now, change, tolerance) so a red CI job explains
 * itself; a metric that disappears or turns NaN is a regression, never a
 * pass.
 */
#include "harness/gate.h"
#include "harness/provenance.h"
#include "harness/results.h"
#include "core/error.h"

#include <fnmatch.h>
#include <math.h>
#include <string.h>
#include <time.h>

static const cJSON *rule_for(const cJSON *gate, const char *metric) {
    for (const cJSON *r = gate ? gate->child : NULL; r; r = r->next) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "match");
        if (cJSON_IsString(m) && fnmatch(m->valuestring, metric, 0) == 0) return r;
    }
    return NULL;
}

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

int ml_gate_check(ml_gate_summary *sum, FILE *out, const cJSON *results, const cJSON *baseline) {
    const cJSON *now = cJSON_GetObjectItemCaseSensitive(results, "metrics");
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(baseline, "metrics");
    const cJSON *gate = cJSON_GetObjectItemCaseSensitive(results, "gate");
    memset(sum, 0, sizeof(*sum));
    if (!cJSON_IsObject(now) || !cJSON_IsObject(base))
        return ml_error_set(ML_EDATA, "check: results or baseline has no metrics object");
    if (out)
        fprintf(out, "%-28s %-6s %12s %12s %10s %10s  %s\n", "metric", "dir", "baseline", "now", "change", "tol",
                "verdict");
    for (const cJSON *b = base->child; b; b = b->next) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(now, b->string);
        const cJSON *r = rule_for(gate, b->string);
        const char *dir = r ? cJSON_GetObjectItemCaseSensitive(r, "direction")->valuestring : "-";
        const char *verdict;
        double bv = cJSON_IsNumber(b) ? b->valuedouble : NAN;
        double nv = cJSON_IsNumber(n) ? n->valuedouble : NAN;
        double tol = r ? num(r, "atol") + num(r, "rtol") * fabs(bv) : NAN;
        double delta = nv - bv;
        sum->total++;
        if (!n) {
            verdict = "MISSING";
            sum->regressed++;
        } else if (!r) {
            verdict = "untracked";
            sum->untracked++;
        } else if (isnan(nv) || isnan(bv)) {
            verdict = "REGRESSED (NaN)";
            sum->regressed++;
        } else {
            int worse, better;
            if (!strcmp(dir, "higher")) { worse = delta < -tol; better = delta > tol; }
            else if (!strcmp(dir, "lower")) { worse = delta > tol; better = delta < -tol; }
            else { worse = fabs(delta) > tol; better = 0; }
            verdict = worse ? (!strcmp(dir, "both") ? "CHANGED" : "REGRESSED") : better ? "improved" : "ok";
            if (worse) sum->regressed++;
            else if (better) sum->improved++;
            else sum->ok++;
        }
        if (out) {
            char change[32] = "n/a", tols[32] = "n/a";
            if (!isnan(delta)) {
                if (fabs(bv) > 1e-12) snprintf(change, sizeof(change), "%+.2f%%", 100.0 * delta / fabs(bv));
                else snprintf(change, sizeof(change), "%+.4g", delta);
            }
            if (!isnan(tol)) snprintf(tols, sizeof(tols), "%.4g", tol);
            fprintf(out, "%-28s %-6s %12.6g %12.6g %10s %10s  %s\n", b->string, dir, bv, nv, change, tols, verdict);
        }
    }
    for (const cJSON *n = now->child; n; n = n->next)
        if (!cJSON_GetObjectItemCaseSensitive(base, n->string)) {
            sum->added++;
            if (out) fprintf(out, "%-28s %-6s %12s %12.6g %10s %10s  %s\n", n->string, "-", "-",
                             cJSON_IsNumber(n) ? n->valuedouble : NAN, "-", "-", "new (no baseline)");
        }
    return 0;
}

int ml_gate_bless(const char *baseline_path, const char *results_path, const char *commit) {
    cJSON *doc = NULL;
    char when[32];
    int error;
    if ((error = ml_results_load(&doc, results_path)) < 0) return error;
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "blessed");
    cJSON *b = cJSON_AddObjectToObject(doc, "blessed");
    ml_time_iso8601(when, sizeof(when), time(NULL));
    cJSON_AddStringToObject(b, "from", results_path);
    if (commit) cJSON_AddStringToObject(b, "commit", commit);
    else cJSON_AddNullToObject(b, "commit");
    cJSON_AddStringToObject(b, "date", when);
    error = ml_results_write(baseline_path, doc);
    cJSON_Delete(doc);
    return error;
}

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

#include "core/fs.h"
#include "core/rbuf.h"

#include <fnmatch.h>
#include <stdlib.h>
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

static int push_row(ml_gate_rows *rows, const char *metric, const char *dir, double bv, double nv, double tol,
                    const char *change, const char *verdict, int failed) {
    if (!rows) return 0;
    if (rows->n == rows->cap) {
        int cap = rows->cap ? 2 * rows->cap : 64;
        ml_gate_row *grown = realloc(rows->rows, (size_t)cap * sizeof(*grown));
        if (!grown) return ml_error_set(ML_ENOMEM, "check: out of memory for the table");
        rows->rows = grown;
        rows->cap = cap;
    }
    ml_gate_row *r = &rows->rows[rows->n++];
    snprintf(r->metric, sizeof(r->metric), "%s", metric);
    snprintf(r->dir, sizeof(r->dir), "%s", dir);
    r->baseline = bv;
    r->now = nv;
    r->tol = tol;
    snprintf(r->change, sizeof(r->change), "%s", change);
    snprintf(r->verdict, sizeof(r->verdict), "%s", verdict);
    r->failed = failed;
    return 0;
}

void ml_gate_rows_free(ml_gate_rows *rows) {
    if (!rows) return;
    free(rows->rows);
    memset(rows, 0, sizeof(*rows));
}

int ml_gate_check(ml_gate_summary *sum, FILE *out, const cJSON *results, const cJSON *baseline, ml_gate_rows *rows) {
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
        int failed = 0;
        double bv = cJSON_IsNumber(b) ? b->valuedouble : NAN;
        double nv = cJSON_IsNumber(n) ? n->valuedouble : NAN;
        double tol = r ? num(r, "atol") + num(r, "rtol") * fabs(bv) : NAN;
        double delta = nv - bv;
        sum->total++;
        if (!n) {
            verdict = "MISSING";
            failed = 1;
            sum->regressed++;
        } else if (!r) {
            verdict = "untracked";
            sum->untracked++;
        } else if (isnan(nv) || isnan(bv)) {
            verdict = "REGRESSED (NaN)";
            failed = 1;
            sum->regressed++;
        } else {
            int worse, better;
            if (!strcmp(dir, "higher")) { worse = delta < -tol; better = delta > tol; }
            else if (!strcmp(dir, "lower")) { worse = delta > tol; better = delta < -tol; }
            else { worse = fabs(delta) > tol; better = 0; }
            verdict = worse ? (!strcmp(dir, "both") ? "CHANGED" : "REGRESSED") : better ? "improved" : "ok";
            failed = worse;
            if (worse) sum->regressed++;
            else if (better) sum->improved++;
            else sum->ok++;
        }
        char change[32] = "n/a", tols[32] = "n/a";
        if (!isnan(delta)) {
            if (fabs(bv) > 1e-12) snprintf(change, sizeof(change), "%+.2f%%", 100.0 * delta / fabs(bv));
            else snprintf(change, sizeof(change), "%+.4g", delta);
        }
        if (!isnan(tol)) snprintf(tols, sizeof(tols), "%.4g", tol);
        if (out) fprintf(out, "%-28s %-6s %12.6g %12.6g %10s %10s  %s\n", b->string, dir, bv, nv, change, tols, verdict);
        int error = push_row(rows, b->string, dir, bv, nv, tol, change, verdict, failed);
        if (error < 0) return error;
    }
    for (const cJSON *n = now->child; n; n = n->next)
        if (!cJSON_GetObjectItemCaseSensitive(base, n->string)) {
            double nv = cJSON_IsNumber(n) ? n->valuedouble : NAN;
            sum->added++;
            if (out) fprintf(out, "%-28s %-6s %12s %12.6g %10s %10s  %s\n", n->string, "-", "-", nv, "-", "-",
                             "new (no baseline)");
            int error = push_row(rows, n->string, "-", NAN, nv, NAN, "n/a", "new (no baseline)", 0);
            if (error < 0) return error;
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

static void put_num(ml_rbuf *b, double v) {
    if (isnan(v)) ml_rbuf_puts(b, "n/a");
    else ml_rbuf_printf(b, "%.6g", v);
}

static int write_buf(ml_rbuf *b, const char *path) {
    int error = ml_rbuf_check(b);
    if (error == 0) error = ml_fs_write_atomic(path, b->p ? b->p : "", b->len);
    ml_rbuf_free(b);
    return error;
}

int ml_gate_write_junit(const char *path, const char *suite, const ml_gate_rows *rows, const ml_gate_summary *sum) {
    ml_rbuf b = { 0 };
    int tests = 0;
    for (int i = 0; i < rows->n; i++) tests += strcmp(rows->rows[i].dir, "-") != 0 || rows->rows[i].failed;
    ml_rbuf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    ml_rbuf_printf(&b, "<testsuites name=\"mergelab check\" tests=\"%d\" failures=\"%d\">\n", tests, sum->regressed);
    ml_rbuf_puts(&b, "  <testsuite name=\"");
    ml_rbuf_html(&b, suite);
    ml_rbuf_printf(&b, "\" tests=\"%d\" failures=\"%d\" skipped=\"0\">\n", tests, sum->regressed);
    for (int i = 0; i < rows->n; i++) {
        const ml_gate_row *r = &rows->rows[i];
        if (!strcmp(r->dir, "-") && !r->failed) continue;   /* untracked and new metrics gate nothing */
        ml_rbuf_puts(&b, "    <testcase classname=\"");
        ml_rbuf_html(&b, suite);
        ml_rbuf_puts(&b, "\" name=\"");
        ml_rbuf_html(&b, r->metric);
        ml_rbuf_puts(&b, "\">");
        if (r->failed) {
            ml_rbuf_printf(&b, "\n      <failure message=\"%s\" type=\"%s\">", r->verdict, r->verdict);
            ml_rbuf_html(&b, r->metric);
            ml_rbuf_printf(&b, " %s baseline ", r->dir);
            put_num(&b, r->baseline);
            ml_rbuf_puts(&b, " now ");
            put_num(&b, r->now);
            ml_rbuf_printf(&b, " change %s tolerance ", r->change);
            put_num(&b, r->tol);
            ml_rbuf_puts(&b, "</failure>\n    ");
        }
        ml_rbuf_puts(&b, "</testcase>\n");
    }
    ml_rbuf_puts(&b, "  </testsuite>\n</testsuites>\n");
    return write_buf(&b, path);
}

int ml_gate_write_markdown(const char *path, const char *suite, const ml_gate_rows *rows, const ml_gate_summary *sum) {
    ml_rbuf b = { 0 };
    ml_rbuf_printf(&b, "### mergelab check: %s\n\n", suite);
    ml_rbuf_printf(&b, "%d metrics: **%d regressed**, %d ok, %d improved, %d untracked, %d new\n\n", sum->total,
                   sum->regressed, sum->ok, sum->improved, sum->untracked, sum->added);
    ml_rbuf_puts(&b, "| metric | dir | baseline | now | change | tol | verdict |\n|---|---|---:|---:|---:|---:|---|\n");
    for (int i = 0; i < rows->n; i++) {
        const ml_gate_row *r = &rows->rows[i];
        ml_rbuf_printf(&b, "| `%s` | %s | ", r->metric, r->dir);
        put_num(&b, r->baseline);
        ml_rbuf_puts(&b, " | ");
        put_num(&b, r->now);
        ml_rbuf_printf(&b, " | %s | ", r->change);
        put_num(&b, r->tol);
        ml_rbuf_printf(&b, " | %s%s%s |\n", r->failed ? "**" : "", r->verdict, r->failed ? "**" : "");
    }
    return write_buf(&b, path);
}

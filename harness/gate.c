/*
 * harness/gate.c: the regression gate. Every verdict is printed with its
 * numbers (baseline, now, change, tolerance) so a red CI job explains
 * itself; a metric that disappears or turns NaN is a regression, never a
 * pass.
 */
#include "harness/gate.h"
#include "harness/aggregate.h"
#include "harness/provenance.h"
#include "harness/results.h"
#include "core/error.h"

#include "core/fs.h"
#include "core/rbuf.h"

#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const cJSON *ml_gate_rule_for(const cJSON *gate, const char *metric) {
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

double ml_gate_tolerance(const cJSON *rule, double baseline) {
    return rule ? num(rule, "atol") + num(rule, "rtol") * fabs(baseline) : NAN;
}

static int push_row(ml_gate_rows *rows, const ml_gate_row *src) {
    if (!rows) return 0;
    if (rows->n == rows->cap) {
        int cap = rows->cap ? 2 * rows->cap : 64;
        ml_gate_row *grown = realloc(rows->rows, (size_t)cap * sizeof(*grown));
        if (!grown) return ml_error_set(ML_ENOMEM, "check: out of memory for the table");
        rows->rows = grown;
        rows->cap = cap;
    }
    rows->rows[rows->n++] = *src;
    return 0;
}

void ml_gate_rows_free(ml_gate_rows *rows) {
    if (!rows) return;
    free(rows->rows);
    memset(rows, 0, sizeof(*rows));
}

static void print_row(FILE *out, const ml_gate_row *r) {
    char tol[24] = "n/a";
    if (!isnan(r->tol)) snprintf(tol, sizeof(tol), "%.4g", r->tol);
    fprintf(out, "%-36s %-6s %12.6g %12.6g %10s %10s %-24s %s\n", r->metric, r->dir, r->baseline, r->now, r->change,
            tol, r->ci, r->verdict);
}

int ml_gate_check(ml_gate_summary *sum, FILE *out, const cJSON *results, const cJSON *baseline, ml_gate_rows *rows) {
    const cJSON *gate = cJSON_GetObjectItemCaseSensitive(results, "gate");
    ml_agg now = { 0 }, base = { 0 };
    int error;
    memset(sum, 0, sizeof(*sum));
    if ((error = ml_agg_build(&now, results)) < 0) return error;
    if ((error = ml_agg_build(&base, baseline)) < 0) { ml_agg_free(&now); return error; }
    if (out)
        fprintf(out, "%-36s %-6s %12s %12s %10s %10s %-24s %s\n", "metric", "dir", "baseline", "now", "change", "tol",
                "95% CI of change", "verdict");
    for (int i = 0; i < base.n; i++) {
        const ml_agg_row *b = &base.rows[i];
        const ml_agg_row *n = ml_agg_find(&now, b->group, b->metric);
        const cJSON *r = ml_gate_rule_for(gate, b->metric);
        ml_gate_row row;
        memset(&row, 0, sizeof(row));
        snprintf(row.metric, sizeof(row.metric), "%s", b->label);
        snprintf(row.dir, sizeof(row.dir), "%s", r ? cJSON_GetObjectItemCaseSensitive(r, "direction")->valuestring : "-");
        row.baseline = b->s.mean;
        row.now = n ? n->s.mean : NAN;
        row.n_baseline = b->n;
        row.n_now = n ? n->n : 0;
        row.tol = ml_gate_tolerance(r, row.baseline);
        row.ci_lo = row.ci_hi = NAN;
        snprintf(row.ci, sizeof(row.ci), "n/a");
        double delta = row.now - row.baseline;
        int noisy = 0;   /* the seeds' spread covers the change */
        if (n && b->n >= 2 && n->n >= 2) {
            ml_diff d;
            ml_stats_welch(&d, &b->s, &n->s);
            row.ci_lo = d.lo;
            row.ci_hi = d.hi;
            snprintf(row.ci, sizeof(row.ci), "[%+.4g, %+.4g]", d.lo, d.hi);
        }
        sum->total++;
        if (!n || n->n == 0) {
            snprintf(row.verdict, sizeof(row.verdict), "%s", n ? "REGRESSED (NaN)" : "MISSING");
            row.failed = 1;
            sum->regressed++;
        } else if (!r) {
            snprintf(row.verdict, sizeof(row.verdict), "untracked");
            sum->untracked++;
        } else if (b->n == 0) {
            snprintf(row.verdict, sizeof(row.verdict), "ok (no baseline value)");
            sum->ok++;
        } else {
            const char *dir = row.dir;
            int worse, better;
            if (!strcmp(dir, "higher")) {
                worse = delta < -row.tol; better = delta > row.tol;
                noisy = !isnan(row.ci_hi) && row.ci_hi >= 0.0;
            } else if (!strcmp(dir, "lower")) {
                worse = delta > row.tol; better = delta < -row.tol;
                noisy = !isnan(row.ci_lo) && row.ci_lo <= 0.0;
            } else {
                worse = fabs(delta) > row.tol; better = 0;
                noisy = !isnan(row.ci_lo) && row.ci_lo <= 0.0 && row.ci_hi >= 0.0;
            }
            if (worse && noisy) {
                snprintf(row.verdict, sizeof(row.verdict), "ok (within noise)");
                sum->ok++;
            } else {
                snprintf(row.verdict, sizeof(row.verdict), "%s",
                         worse ? (!strcmp(dir, "both") ? "CHANGED" : "REGRESSED") : better ? "improved" : "ok");
                row.failed = worse;
                if (worse) sum->regressed++;
                else if (better) sum->improved++;
                else sum->ok++;
            }
        }
        snprintf(row.change, sizeof(row.change), "n/a");
        if (!isnan(delta)) {
            if (fabs(row.baseline) > 1e-12) snprintf(row.change, sizeof(row.change), "%+.2f%%", 100.0 * delta / fabs(row.baseline));
            else snprintf(row.change, sizeof(row.change), "%+.4g", delta);
        }
        if (out) print_row(out, &row);
        if ((error = push_row(rows, &row)) < 0) goto cleanup;
    }
    for (int i = 0; i < now.n; i++) {
        const ml_agg_row *n = &now.rows[i];
        if (ml_agg_find(&base, n->group, n->metric)) continue;
        ml_gate_row row;
        memset(&row, 0, sizeof(row));
        snprintf(row.metric, sizeof(row.metric), "%s", n->label);
        snprintf(row.dir, sizeof(row.dir), "-");
        row.baseline = NAN;
        row.now = n->s.mean;
        row.tol = row.ci_lo = row.ci_hi = NAN;
        row.n_now = n->n;
        snprintf(row.change, sizeof(row.change), "n/a");
        snprintf(row.ci, sizeof(row.ci), "n/a");
        snprintf(row.verdict, sizeof(row.verdict), "new (no baseline)");
        sum->added++;
        if (out) print_row(out, &row);
        if ((error = push_row(rows, &row)) < 0) goto cleanup;
    }
cleanup:
    ml_agg_free(&now);
    ml_agg_free(&base);
    return error;
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
            ml_rbuf_printf(&b, " seeds %d/%d ci %s", r->n_baseline, r->n_now, r->ci);
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
    ml_rbuf_puts(&b, "| metric | dir | baseline | now | change | tol | 95% CI of change | verdict |\n"
                     "|---|---|---:|---:|---:|---:|---|---|\n");
    for (int i = 0; i < rows->n; i++) {
        const ml_gate_row *r = &rows->rows[i];
        ml_rbuf_printf(&b, "| `%s` | %s | ", r->metric, r->dir);
        put_num(&b, r->baseline);
        ml_rbuf_puts(&b, " | ");
        put_num(&b, r->now);
        ml_rbuf_printf(&b, " | %s | ", r->change);
        put_num(&b, r->tol);
        ml_rbuf_printf(&b, " | %s | %s%s%s |\n", r->ci, r->failed ? "**" : "", r->verdict, r->failed ? "**" : "");
    }
    return write_buf(&b, path);
}

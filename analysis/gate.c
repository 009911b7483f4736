/*
 * analysis/gate.c: the regression gate. Every verdict is printed with its
 * numbers (baseline, now, change, tolerance) so a red CI job explains
 * itself; a metric that disappears or turns NaN is a regression, never a
 * pass.
 */
#include "analysis/gate.h"
#include "analysis/aggregate.h"
#include "store/provenance.h"
#include "store/results.h"
#include "analysis/verdict.h"
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

double ml_gate_tolerance(const cJSON *rule, double baseline, int across) {
    if (!rule) return NAN;
    double own = num(rule, "atol") + num(rule, "rtol") * fabs(baseline);
    const cJSON *x = across ? cJSON_GetObjectItemCaseSensitive(rule, "across_platforms") : NULL;
    if (!cJSON_IsObject(x)) return own;
    /* never tighter than on one platform */
    double wide = num(x, "atol") + num(x, "rtol") * fabs(baseline);
    return wide > own ? wide : own;
}

int ml_gate_allows_missing(const cJSON *rule) {
    return rule && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rule, "allow_missing"));
}

static int push_row(ml_gate_rows *rows, const ml_gate_row *src) {
    if (!rows) return 0;
    if (rows->n == rows->cap) {
        int cap = rows->cap ? 2 * rows->cap : 64;
        void *grown = rows->rows;
        if (ml_realloc(&grown, (size_t)cap * sizeof(ml_gate_row)) < 0) return ML_ENOMEM;
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

static const char *cell_status(const cJSON *c) {
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(c, "status");
    return cJSON_IsString(st) ? st->valuestring : "";
}

static const cJSON *cell_named(const cJSON *doc, const char *name) {
    const cJSON *cells = cJSON_GetObjectItemCaseSensitive(doc, "cells");
    for (const cJSON *c = cells ? cells->child : NULL; c; c = c->next) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(c, "name");
        if (cJSON_IsString(n) && !strcmp(n->valuestring, name)) return c;
    }
    return NULL;
}

/* Whole-document facts: what is missing or failed on either side. */
static void check_documents(ml_gate_summary *sum, const cJSON *results, const cJSON *baseline, const ml_agg *base) {
    const cJSON *cells = cJSON_GetObjectItemCaseSensitive(results, "cells");
    const cJSON *missing = cJSON_GetObjectItemCaseSensitive(results, "missing");
    const cJSON *complete = cJSON_GetObjectItemCaseSensitive(results, "complete");
    for (const cJSON *c = cells ? cells->child : NULL; c; c = c->next)
        sum->failed_cells += strcmp(cell_status(c), "ok") != 0;
    sum->incomplete = cJSON_IsArray(missing) ? cJSON_GetArraySize(missing) : 0;
    if (cJSON_IsFalse(complete) && sum->incomplete == 0) sum->incomplete = 1;
    /* a baseline cell the results lack entirely (a seed not run) */
    const cJSON *bcells = cJSON_GetObjectItemCaseSensitive(baseline, "cells");
    for (const cJSON *c = bcells ? bcells->child : NULL; c; c = c->next) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(c, "name");
        if (!cJSON_IsString(n)) continue;
        if (!cell_named(results, n->valuestring)) {
            int listed = 0;
            for (const cJSON *m = cJSON_IsArray(missing) ? missing->child : NULL; m; m = m->next)
                listed |= cJSON_IsString(m) && !strcmp(m->valuestring, n->valuestring);
            sum->incomplete += !listed;
        }
        sum->baseline_partial += strcmp(cell_status(c), "ok") != 0;
    }
    const cJSON *bmissing = cJSON_GetObjectItemCaseSensitive(baseline, "missing");
    if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(baseline, "complete")) ||
        (cJSON_IsArray(bmissing) && cJSON_GetArraySize(bmissing) > 0))
        sum->baseline_partial++;
    int finite = 0;
    for (int i = 0; i < base->n; i++) finite += base->rows[i].n > 0;
    sum->baseline_empty = finite == 0;
}

/* Same platform: every metric of every baseline cell against the same
 * cell of the results, bit for bit (null equals null). */
static void compare_bits(ml_gate_summary *sum, const cJSON *results, const cJSON *baseline) {
    const cJSON *bcells = cJSON_GetObjectItemCaseSensitive(baseline, "cells");
    for (const cJSON *bc = bcells ? bcells->child : NULL; bc; bc = bc->next) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(bc, "name");
        const cJSON *rc = cJSON_IsString(n) ? cell_named(results, n->valuestring) : NULL;
        if (!rc) continue;   /* a cell not run is counted as incomplete, not as a difference */
        const cJSON *bm = cJSON_GetObjectItemCaseSensitive(bc, "metrics");
        const cJSON *rm = cJSON_GetObjectItemCaseSensitive(rc, "metrics");
        for (const cJSON *m = bm ? bm->child : NULL; m; m = m->next) {
            const cJSON *x = rm ? cJSON_GetObjectItemCaseSensitive(rm, m->string) : NULL;
            int same = x && ((cJSON_IsNull(m) && cJSON_IsNull(x)) ||
                             (cJSON_IsNumber(m) && cJSON_IsNumber(x) && !memcmp(&m->valuedouble, &x->valuedouble, sizeof(double))));
            sum->compared++;
            if (same) continue;
            if (!sum->differing++)
                snprintf(sum->first_diff, sizeof(sum->first_diff), "%.60s: %.80s %.9g -> %.9g", n->valuestring, m->string,
                         cJSON_IsNumber(m) ? m->valuedouble : NAN, x && cJSON_IsNumber(x) ? x->valuedouble : NAN);
        }
    }
}

void ml_gate_platform_line(char *buf, size_t size, const ml_gate_summary *sum) {
    if (!sum->same_platform)
        snprintf(buf, size, "different numeric platforms: baseline %s, now %s; compared within the rules' "
                 "across-platform tolerances and the seeds' noise, not bit for bit", sum->platform_base, sum->platform_now);
    else if (sum->differing == 0)
        snprintf(buf, size, "same numeric platform (%s): bit-identical to the baseline (%d values)", sum->platform_now,
                 sum->compared);
    else
        snprintf(buf, size, "same numeric platform (%s): NOT bit-identical, %d of %d values differ (first: %s); "
                 "on one platform that is a change in the code, the suite or the data, even within tolerance",
                 sum->platform_now, sum->differing, sum->compared, sum->first_diff);
}

/* The verdict of a metric with values on both sides (verdict.h's rule). */
static void judge(ml_gate_summary *sum, ml_gate_row *row, const ml_agg_row *b, const ml_agg_row *n) {
    ml_verdict v;
    ml_verdict_judge(&v, &b->s, &n->s, row->dir, row->tol);
    row->ci_lo = v.lo;
    row->ci_hi = v.hi;
    if (!isnan(v.lo)) snprintf(row->ci, sizeof(row->ci), "[%+.4g, %+.4g]", v.lo, v.hi);
    const char *name = v.kind == ML_VERDICT_NOISE ? "ok (within noise)" : v.kind == ML_VERDICT_WORSE ? "REGRESSED"
                     : v.kind == ML_VERDICT_CHANGED ? "CHANGED" : v.kind == ML_VERDICT_BETTER ? "improved" : "ok";
    snprintf(row->verdict, sizeof(row->verdict), "%s", name);
    row->failed = v.kind == ML_VERDICT_WORSE || v.kind == ML_VERDICT_CHANGED;
    if (row->failed) sum->regressed++;
    else if (v.kind == ML_VERDICT_BETTER) sum->improved++;
    else sum->ok++;
}

int ml_gate_check(ml_gate_summary *sum, FILE *out, const cJSON *results, const cJSON *baseline, ml_gate_rows *rows) {
    const cJSON *gate = cJSON_GetObjectItemCaseSensitive(results, "gate");
    ml_agg now = { 0 }, base = { 0 };
    int error;
    memset(sum, 0, sizeof(*sum));
    if ((error = ml_agg_build(&now, results)) < 0) return error;
    if ((error = ml_agg_build(&base, baseline)) < 0) { ml_agg_free(&now); return error; }
    check_documents(sum, results, baseline, &base);
    int known = ml_results_platform(sum->platform_now, sizeof(sum->platform_now), results, 0) &
                ml_results_platform(sum->platform_base, sizeof(sum->platform_base), baseline, 0);
    sum->same_platform = known && !strcmp(sum->platform_now, sum->platform_base);
    if (sum->same_platform) compare_bits(sum, results, baseline);
    if (out)
        fprintf(out, "%-36s %-6s %12s %12s %10s %10s %-24s %s\n", "metric", "dir", "baseline", "now", "change", "tol",
                "95% CI of change", "verdict");
    for (int i = 0; i < base.n; i++) {
        const ml_agg_row *b = &base.rows[i];
        const ml_agg_row *n = ml_agg_find(&now, b->group, b->metric);
        const cJSON *r = ml_gate_rule_for(gate, b->metric);
        int allow = ml_gate_allows_missing(r);
        int holes_now = n ? n->n_cells - n->n : 0, holes_base = b->n_cells - b->n;
        ml_gate_row row;
        memset(&row, 0, sizeof(row));
        snprintf(row.metric, sizeof(row.metric), "%s", b->label);
        snprintf(row.dir, sizeof(row.dir), "%s", r ? cJSON_GetObjectItemCaseSensitive(r, "direction")->valuestring : "-");
        row.baseline = b->s.mean;
        row.now = n ? n->s.mean : NAN;
        row.n_baseline = b->n;
        row.n_now = n ? n->n : 0;
        row.tol = ml_gate_tolerance(r, row.baseline, !sum->same_platform);
        row.ci_lo = row.ci_hi = NAN;
        snprintf(row.ci, sizeof(row.ci), "n/a");
        sum->total++;
        if (!n || n->n == 0 || (holes_now && !allow)) {
            /* nothing missing passes: a seed without a finite value is a failure */
            if (!n) snprintf(row.verdict, sizeof(row.verdict), "MISSING");
            else if (n->n_nonfinite) snprintf(row.verdict, sizeof(row.verdict), "REGRESSED (NaN %d/%d)", n->n_nonfinite, n->n_cells);
            else snprintf(row.verdict, sizeof(row.verdict), "MISSING (%d/%d seeds)", holes_now, n->n_cells);
            row.failed = 1;
            sum->regressed++;
        } else if (b->n == 0 || (holes_base && !allow)) {
            snprintf(row.verdict, sizeof(row.verdict), "BAD BASELINE (%d/%d)", holes_base, b->n_cells);
            row.failed = 1;
            sum->baseline_holes++;
        } else if (!r) {
            snprintf(row.verdict, sizeof(row.verdict), "untracked");
            sum->untracked++;
        } else {
            judge(sum, &row, b, n);
        }
        double delta = row.now - row.baseline;
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

/* Why doc cannot be a baseline (ML_EDATA naming it), or 0. */
static int bless_refusal(const cJSON *doc, const char *path) {
    const cJSON *cells = cJSON_GetObjectItemCaseSensitive(doc, "cells");
    const cJSON *missing = cJSON_GetObjectItemCaseSensitive(doc, "missing");
    const cJSON *gate = cJSON_GetObjectItemCaseSensitive(doc, "gate");
    ml_agg agg = { 0 };
    int error, i = 0;
    if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(doc, "complete")) ||
        (cJSON_IsArray(missing) && cJSON_GetArraySize(missing) > 0))
        return ml_error_set(ML_EDATA, "%s: incomplete results (%d cell%s not run, $.missing); finish the run before "
                            "blessing it", path, cJSON_GetArraySize(missing), cJSON_GetArraySize(missing) == 1 ? "" : "s");
    for (const cJSON *c = cells ? cells->child : NULL; c; c = c->next, i++)
        if (strcmp(cell_status(c), "ok")) {
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(c, "name");
            return ml_error_set(ML_EDATA, "%s: $.cells[%d] (%s) failed; a baseline with a failed cell gates nothing there",
                                path, i, cJSON_IsString(n) ? n->valuestring : "?");
        }
    if ((error = ml_agg_build(&agg, doc)) < 0) return error;
    error = 0;
    int finite = 0;
    for (int k = 0; k < agg.n && !error; k++) {
        const ml_agg_row *r = &agg.rows[k];
        finite += r->n > 0;
        if (r->n < r->n_cells && !ml_gate_allows_missing(ml_gate_rule_for(gate, r->metric)))
            error = ml_error_set(ML_EDATA, "%s: metric %s has no finite value in %d of %d cells (null, NaN, infinite or "
                                 "absent); a baseline must be whole", path, r->label, r->n_cells - r->n, r->n_cells);
    }
    if (!error && finite == 0)
        error = ml_error_set(ML_EDATA, "%s: no cell holds a finite metric; an empty baseline would pass anything", path);
    ml_agg_free(&agg);
    return error;
}

int ml_gate_bless(const char *baseline_path, const char *results_path, const char *commit) {
    cJSON *doc = NULL;
    char when[32];
    int error;
    if ((error = ml_results_load(&doc, results_path)) < 0) return error;
    if ((error = bless_refusal(doc, results_path)) < 0) { cJSON_Delete(doc); return error; }
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
    char platform[600];
    ml_gate_platform_line(platform, sizeof(platform), sum);
    ml_rbuf_puts(&b, "    <system-out>");
    ml_rbuf_html(&b, platform);
    ml_rbuf_puts(&b, "</system-out>\n");
    ml_rbuf_puts(&b, "  </testsuite>\n</testsuites>\n");
    return write_buf(&b, path);
}

int ml_gate_write_markdown(const char *path, const char *suite, const ml_gate_rows *rows, const ml_gate_summary *sum) {
    ml_rbuf b = { 0 };
    ml_rbuf_printf(&b, "### mergelab check: %s\n\n", suite);
    char platform[600];
    ml_gate_platform_line(platform, sizeof(platform), sum);
    ml_rbuf_printf(&b, "%d metrics: **%d regressed**, %d ok, %d improved, %d untracked, %d new\n\n%s\n\n", sum->total,
                   sum->regressed, sum->ok, sum->improved, sum->untracked, sum->added, platform);
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

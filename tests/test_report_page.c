/*
 * tests/test_report_page.c: the report (reports/report.c, report_data.c, html.c) and the
 * `report` / `history` commands.
 * Covers: means and 95% t intervals across seeds in every CSV against hand-computed
 *         values, one figure of each kind per group in every format, the page (escaping,
 *         groups, findings, failed cells, the gate table, no external references, the
 *         load marker and sortable tables), malformed results named by file and JSON
 *         path, a report of failed cells only, and the history's regression flags from a
 *         results store in a temporary git repository.
 * The browser checks of the page are in test_browser.c, the figures' pixels in
 * test_figures.c.
 */
#include "tests/test.h"
#include "tests/util.h"

#include "core/error.h"
#include "core/fs.h"
#include "reports/report.h"

#include <stdlib.h>
#include <unistd.h>

/* t(0.975, df = 2): the 95% interval of a mean of three */
#define T975_2 4.302652729749464

/* A schema-2 results document: `groups` groups (finetune.steps 100, 200, ...) of
 * `seeds` cells, each with base/direct/average/router/A/B test_acc and a 2-layer CKA
 * track; cell (g, k) has direct/test_acc = 0.80 + 0.01*k - 0.02*g, CKA hidden1 at the
 * last step 0.9 - 0.1*g + 0.01*k. */
static cJSON *make_results(const char *name, int groups, int seeds, int fail_last) {
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "schema_version", 2);
    cJSON *suite = cJSON_AddObjectToObject(doc, "suite");
    cJSON_AddStringToObject(suite, "name", name);
    cJSON_AddStringToObject(suite, "description", "Two specialists & <a> merge");
    cJSON_AddStringToObject(suite, "file", "suites/x.json");
    cJSON *prov = cJSON_AddObjectToObject(doc, "provenance");
    cJSON *repo = cJSON_AddObjectToObject(prov, "repository");
    cJSON_AddStringToObject(repo, "commit", "40c0ffee");
    cJSON_AddBoolToObject(repo, "dirty", 0);
    cJSON_AddStringToObject(prov, "finished", "2026-11-22T20:00:00Z");
    cJSON *sd = cJSON_AddArrayToObject(prov, "seeds");
    for (int k = 0; k < seeds; k++) cJSON_AddItemToArray(sd, cJSON_CreateNumber(k + 1));
    cJSON *gate = cJSON_AddArrayToObject(doc, "gate");
    cJSON *rule = cJSON_CreateObject();
    cJSON_AddStringToObject(rule, "match", "*/test_acc");
    cJSON_AddStringToObject(rule, "direction", "higher");
    cJSON_AddNumberToObject(rule, "atol", 0.01);
    cJSON_AddNumberToObject(rule, "rtol", 0);
    cJSON_AddItemToArray(gate, rule);
    cJSON *cells = cJSON_AddArrayToObject(doc, "cells");
    static const char *const models[][3] = {
        {"base", "base", NULL}, {"A", "specialist", NULL}, {"B", "specialist", NULL}, {"direct", "direct", NULL},
        {"average", "merge", "average"}, {"<i>&\"", "merge", "interpolate"}, {"router", "merge", "router"},
    };
    for (int g = 0; g < groups; g++)
        for (int k = 0; k < seeds; k++) {
            char nm[160], grp[64];
            snprintf(grp, sizeof(grp), "finetune.steps=%d", 100 * (g + 1));
            snprintf(nm, sizeof(nm), "seed=%d,%s", k + 1, grp);
            cJSON *c = cJSON_CreateObject();
            cJSON_AddStringToObject(c, "name", nm);
            cJSON_AddStringToObject(c, "group", grp);
            cJSON *params = cJSON_AddObjectToObject(c, "params");
            cJSON_AddNumberToObject(params, "seed", k + 1);
            cJSON_AddNumberToObject(params, "finetune.steps", 100 * (g + 1));
            cJSON_AddNumberToObject(c, "seed", k + 1);
            cJSON_AddNumberToObject(c, "wall_seconds", 1.5);
            int failed = fail_last && g == groups - 1 && k == seeds - 1;
            cJSON_AddStringToObject(c, "status", failed ? "failed" : "ok");
            cJSON *met = cJSON_AddObjectToObject(c, "metrics");
            if (failed) {
                cJSON_AddStringToObject(c, "error", "loss became NaN at step 7");
                cJSON_AddItemToArray(cells, c);
                continue;
            }
            cJSON *ms = cJSON_AddArrayToObject(c, "models");
            double direct = 0.80 + 0.01 * k - 0.02 * g;
            for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++) {
                cJSON *mo = cJSON_CreateObject();
                char key[64];
                cJSON_AddStringToObject(mo, "name", models[m][0]);
                cJSON_AddStringToObject(mo, "role", models[m][1]);
                if (models[m][2]) cJSON_AddStringToObject(mo, "method", models[m][2]);
                cJSON_AddItemToArray(ms, mo);
                snprintf(key, sizeof(key), "%s/test_acc", models[m][0]);
                cJSON_AddNumberToObject(met, key, direct - 0.05 * (double)m + (m == 3 ? 0 : 0.15));
            }
            cJSON_DeleteItemFromObject(met, "direct/test_acc");
            cJSON_AddNumberToObject(met, "direct/test_acc", direct);
            cJSON *cka = cJSON_AddObjectToObject(c, "cka");
            cJSON *pair = cJSON_AddArrayToObject(cka, "pair");
            cJSON_AddItemToArray(pair, cJSON_CreateString("A"));
            cJSON_AddItemToArray(pair, cJSON_CreateString("B"));
            const char *layers[2] = {"hidden1", "hidden2"};
            cJSON_AddItemToObject(cka, "layers", cJSON_CreateStringArray(layers, 2));
            double steps[3] = {0, 50, 100 * (g + 1)};
            cJSON_AddItemToObject(cka, "steps", cJSON_CreateDoubleArray(steps, 3));
            cJSON *over = cJSON_AddArrayToObject(cka, "over_steps");
            double last = 0.9 - 0.1 * g + 0.01 * k;
            double l1[3] = {1.0, 0.95, last}, l2[3] = {1.0, 0.9, last - 0.2};
            cJSON_AddItemToArray(over, cJSON_CreateDoubleArray(l1, 3));
            cJSON_AddItemToArray(over, cJSON_CreateDoubleArray(l2, 3));
            cJSON_AddNumberToObject(met, "cka/hidden1", last);
            cJSON *hm = cJSON_AddObjectToObject(cka, "heatmap");
            cJSON_AddNumberToObject(hm, "step", steps[2]);
            cJSON_AddStringToObject(hm, "row_model", "A");
            cJSON_AddStringToObject(hm, "col_model", "B");
            cJSON *vals = cJSON_AddArrayToObject(hm, "values");
            double r1[2] = {last, 0.3}, r2[2] = {0.35, last - 0.2};
            cJSON_AddItemToArray(vals, cJSON_CreateDoubleArray(r1, 2));
            cJSON_AddItemToArray(vals, cJSON_CreateDoubleArray(r2, 2));
            cJSON *hb = cJSON_AddObjectToObject(cka, "heatmap_vs_base");
            for (int s = 0; s < 2; s++) {
                cJSON *mat = cJSON_CreateArray();
                double b1[2] = {0.97 - 0.01 * s, 0.4}, b2[2] = {0.45, 0.93};
                cJSON_AddItemToArray(mat, cJSON_CreateDoubleArray(b1, 2));
                cJSON_AddItemToArray(mat, cJSON_CreateDoubleArray(b2, 2));
                cJSON_AddItemToObject(hb, s ? "B" : "A", mat);
            }
            cJSON *timing = cJSON_AddObjectToObject(c, "timing");
            cJSON_AddNumberToObject(timing, "finetune_ms_per_step", 2.0 + 0.1 * k);
            cJSON_AddItemToArray(cells, c);
        }
    return doc;
}

static int save(const cJSON *doc, const char *path) {
    char *txt = cJSON_Print(doc);
    int rc = txt ? ml_fs_write_atomic(path, txt, strlen(txt)) : -1;
    cJSON_free(txt);
    return rc;
}

static char *slurp(const char *dir, const char *name) {
    char path[1024], *txt = NULL;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (ml_fs_read_all(&txt, NULL, path) < 0) return NULL;
    return txt;
}

/* The line of dir/name (a CSV) starting with `prefix`, its numeric fields after the
 * prefix parsed into v. 0; -1 when the file cannot be read, -2 when no line matches. */
static int csv_row(const char *dir, const char *name, const char *prefix, double *v, int nv) {
    char *csv = slurp(dir, name);
    if (!csv) return -1;
    int rc = -2;
    for (const char *p = csv; p && *p;) {
        if (!strncmp(p, prefix, strlen(prefix))) {
            const char *q = p + strlen(prefix);
            for (int i = 0; i < nv; i++) {
                char *end;
                v[i] = *q == ',' || *q == '\n' ? NAN : strtod(q, &end);
                if (*q != ',' && *q != '\n') q = end;
                if (*q == ',') q++;
            }
            rc = 0;
            break;
        }
        p = strchr(p, '\n');
        if (p) p++;
    }
    free(csv);
    return rc;
}

/* A test's folder: doc saved in it as x.json, the report to go to rep. */
typedef struct {
    char dir[256];   /* a new /tmp/mltest-report-XXXXXX */
    char res[512];   /* dir/x.json */
    char out[512];   /* dir/rep, not made yet */
} report_dir;

/* Makes t's folder and saves doc (freed here, made or not) in it. 0 or -1. */
static int report_dir_make(report_dir *t, cJSON *doc) {
    int rc = ml_t_tmpdir(t->dir, sizeof(t->dir), "report");
    if (rc == 0) {
        snprintf(t->res, sizeof(t->res), "%s/x.json", t->dir);
        snprintf(t->out, sizeof(t->out), "%s/rep", t->dir);
        rc = save(doc, t->res);
    }
    cJSON_Delete(doc);
    return rc;
}

static void test_report_page__means_and_intervals(void) {
    report_dir t;
    ML_ASSERT_EQ_INT(0, report_dir_make(&t, make_results("x", 2, 3, 0)));
    int rc = ml_report_write(t.res, t.out);
    ML_ASSERT_MSG(rc == 0, "%s", ml_error_last()->message);
    /* every figure of both groups in every format, with its CSV */
    static const char *const stems[] = {"x_methods_g1", "x_cka_steps_g1", "x_cka_heatmap_g1", "x_cka_vs_base_A_g1",
                                        "x_cka_vs_base_B_g1", "x_methods_g2", "x_cka_steps_g2", "x_cka_heatmap_g2",
                                        "x_cka_vs_base_A_g2", "x_cka_vs_base_B_g2", "x_merge_vs_length"};
    static const char *const exts[] = {"png", "svg", "pdf", "csv"};
    for (size_t i = 0; i < sizeof(stems) / sizeof(stems[0]); i++)
        for (size_t e = 0; e < 4; e++) {
            char p[700];
            snprintf(p, sizeof(p), "%s/%s.%s", t.out, stems[i], exts[e]);
            ML_ASSERT_MSG(ml_fs_exists(p), "%s was not written", p);
        }
    /* direct/test_acc of group 1: 0.80, 0.81, 0.82 -> mean 0.81, sd 0.01 */
    double v[4], half = T975_2 * 0.01 / sqrt(3.0);
    ML_ASSERT_EQ_INT(0, csv_row(t.out, "x_methods_g1.csv", "finetune.steps=100,direct,direct,,test_acc,", v, 4));
    ML_ASSERT_NEAR(0.81, v[0], 1e-12, 0);
    ML_ASSERT_NEAR(0.81 - half, v[1], 1e-12, 0);
    ML_ASSERT_NEAR(0.81 + half, v[2], 1e-12, 0);
    ML_ASSERT_EQ_INT(3, (int)v[3]);
    /* CKA hidden1 at the last step of group 2: 0.80, 0.81, 0.82 */
    ML_ASSERT_EQ_INT(0, csv_row(t.out, "x_cka_steps_g2.csv", "finetune.steps=200,A,B,hidden1,200,", v, 4));
    ML_ASSERT_NEAR(0.81, v[0], 1e-12, 0);
    ML_ASSERT_NEAR(0.81 + half, v[2], 1e-12, 0);
    /* the heatmap's (hidden2, hidden1) cell is 0.35 in every seed: interval of width 0 */
    ML_ASSERT_EQ_INT(0, csv_row(t.out, "x_cka_heatmap_g1.csv", "finetune.steps=100,A,hidden2,B,hidden1,100,",
                                v, 4));
    ML_ASSERT_NEAR(0.35, v[0], 1e-12, 0);
    ML_ASSERT_NEAR(0.35, v[1], 1e-12, 0);
    /* across lengths: direct at 200 steps is 0.02 lower */
    ML_ASSERT_EQ_INT(0, csv_row(t.out, "x_merge_vs_length.csv", "200,finetune.steps=200,direct,direct,,test_acc,",
                                v, 4));
    ML_ASSERT_NEAR(0.79, v[0], 1e-12, 0);
    ml_t_rmrf(t.dir);
}

static void test_report_page__html(void) {
    report_dir t;
    char res2[512];
    cJSON *doc = make_results("x", 2, 3, 1);
    cJSON *f = cJSON_AddArrayToObject(doc, "findings");
    cJSON *f1 = cJSON_CreateObject();
    cJSON_AddStringToObject(f1, "id", "F1");
    cJSON_AddStringToObject(f1, "statement", "CKA falls with fine-tuning length");
    cJSON_AddStringToObject(f1, "verdict", "not held");
    cJSON_AddNumberToObject(f1, "effect", -0.0125);
    cJSON_AddNumberToObject(f1, "ci_lo", -0.03);
    cJSON_AddNumberToObject(f1, "ci_hi", 0.005);
    cJSON_AddItemToArray(f, f1);
    ML_ASSERT_EQ_INT(0, report_dir_make(&t, doc));
    snprintf(res2, sizeof(res2), "%s/y.json", t.dir);
    doc = make_results("y", 1, 1, 0);
    ML_ASSERT_EQ_INT(0, save(doc, res2));
    cJSON_Delete(doc);
    ml_report_gate_row gate[2] = {
        {.label = "direct/test_acc", .baseline = 0.9, .value = 0.8, .ci_lo = NAN, .ci_hi = NAN,
         .verdict = "REGRESSED", .regressed = 1},
        {.label = "base/test_acc", .baseline = 0.8, .value = 0.8, .ci_lo = NAN, .ci_hi = NAN, .verdict = "ok"},
    };
    const char *const paths[2] = {t.res, res2};
    ml_report_opts o = {.formats = ML_FIG_PNG, .baseline_path = "fixtures/<base>.json", .gate = gate, .ngate = 2,
                        .gate_platform = "different numeric platforms: baseline <A>, now B"};
    int rc = ml_report_write_many(paths, 2, t.out, &o);
    ML_ASSERT_MSG(rc == 0, "%s", ml_error_last()->message);
    char *html = slurp(t.out, "index.html");
    ML_ASSERT(html != NULL);
    int ok_groups = strstr(html, "Group <code>finetune.steps=100</code>") && strstr(html, "finetune.steps=200");
    int ok_both = strstr(html, "id=\"suite-x\"") && strstr(html, "id=\"suite-y\"");
    int ok_escape = strstr(html, "&lt;i&gt;&amp;&quot;") && !strstr(html, "<i>&\"") &&
                    strstr(html, "Two specialists &amp; &lt;a&gt; merge");
    int ok_finding = strstr(html, "CKA falls with fine-tuning length") && strstr(html, "v-bad\">not held");
    int ok_failed = strstr(html, "1 cell failed") && strstr(html, "loss became NaN at step 7");
    int ok_gate = strstr(html, "1 of 2 metrics regressed") && strstr(html, "fixtures/&lt;base&gt;.json") &&
                  strstr(html, "<tr class=\"regressed\">") &&
                  strstr(html, "<p class=\"platform\">different numeric platforms: baseline &lt;A&gt;, now B</p>");
    int ok_imgs = strstr(html, "<img class=\"ml-fig\" src=\"x_methods_g1.png\"") != NULL;
    int only_png = !strstr(html, ".pdf\"") && !strstr(html, ".svg\"");
    int ok_script = strstr(html, "data-ml-ready") && strstr(html, "table.sortable") && strstr(html, "data-v=\"");
    int ok_dark = strstr(html, "prefers-color-scheme:dark") != NULL;
    int external = strstr(html, "src=\"http") || strstr(html, "href=\"http") || strstr(html, "src=\"//") ||
                   strstr(html, "@import") || strstr(html, "url(") || strstr(html, "<link");
    /* the failed cell is out of every mean: group 2 has seeds 1 and 2 only */
    int ok_n = strstr(html, "mean over 2 seeds") != NULL;
    free(html);
    ML_ASSERT_MSG(ok_groups, "group headings");
    ML_ASSERT_MSG(ok_both, "a section per results file");
    ML_ASSERT_MSG(ok_escape, "escaping");
    ML_ASSERT_MSG(ok_finding, "findings with their verdict");
    ML_ASSERT_MSG(ok_failed, "the failed cell and its error");
    ML_ASSERT_MSG(ok_gate, "the regression table");
    ML_ASSERT_MSG(ok_imgs, "figures as <img>");
    ML_ASSERT_MSG(only_png, "links to formats that were not written");
    ML_ASSERT_MSG(ok_script, "sortable tables and the load marker");
    ML_ASSERT_MSG(ok_dark, "dark-mode stylesheet");
    ML_ASSERT_MSG(!external, "index.html refers to something outside the folder");
    ML_ASSERT_MSG(ok_n, "failed cell counted in a mean");
    /* the same suite twice is refused */
    const char *const twice[2] = {t.res, t.res};
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_report_write_many(twice, 2, t.out, NULL));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "are both results of suite 'x'");
    ml_t_rmrf(t.dir);
}

static void test_report_page__only_failed_cells(void) {
    report_dir t;
    ML_ASSERT_EQ_INT(0, report_dir_make(&t, make_results("x", 1, 1, 1)));
    int rc = ml_report_write(t.res, t.out);
    ML_ASSERT_MSG(rc == 0, "%s", ml_error_last()->message);
    char *html = slurp(t.out, "index.html");
    ML_ASSERT(html != NULL);
    int said = strstr(html, "No finished cell: nothing to draw") && strstr(html, "loss became NaN");
    free(html);
    ML_ASSERT_MSG(said, "a run whose cells all failed still gets a page saying why");
    ml_t_rmrf(t.dir);
}

/* The suite's "report" settings (carried in the results) choose the formats and the
 * width; the caller's options win over them. */
static void test_report_page__suite_settings(void) {
    report_dir t;
    char p[700];
    cJSON *doc = make_results("x", 1, 2, 0);
    cJSON *rep = cJSON_AddObjectToObject(doc, "report");
    cJSON_AddNumberToObject(rep, "width_in", 7);
    cJSON_AddItemToObject(rep, "formats", cJSON_CreateStringArray((const char *[]){"svg"}, 1));
    ML_ASSERT_EQ_INT(0, report_dir_make(&t, doc));
    int rc = ml_report_write(t.res, t.out);
    ML_ASSERT_MSG(rc == 0, "%s", ml_error_last()->message);
    snprintf(p, sizeof(p), "%s/x_methods.png", t.out);
    ML_ASSERT_MSG(!ml_fs_exists(p), "a PNG was written though the suite asks for SVG only");
    char *svg = slurp(t.out, "x_methods.svg");
    ML_ASSERT(svg != NULL);
    int wide = strstr(svg, "width=\"504pt\"") != NULL;   /* 7 in */
    free(svg);
    ML_ASSERT_MSG(wide, "the SVG is not 7 in (504 pt) wide");
    ml_report_opts o = {.formats = ML_FIG_PNG};
    const char *paths[1] = {t.res};
    ML_ASSERT_EQ_INT(0, ml_report_write_many(paths, 1, t.out, &o));
    ML_ASSERT_MSG(ml_fs_exists(p), "--formats png did not win over the suite's setting");
    ml_t_rmrf(t.dir);
}

/* Replaces the first `from` in the saved document text and expects ML_EDATA with `want`. */
static int expect_bad(const char *dir, const char *from, const char *to, const char *want, char *why, size_t n) {
    char res[512], out[512];
    snprintf(res, sizeof(res), "%s/x.json", dir);
    snprintf(out, sizeof(out), "%s/rep-bad", dir);
    cJSON *doc = make_results("x", 1, 2, 0);
    char *txt = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    char *bad = txt ? ml_t_replace(txt, from, to) : NULL;
    cJSON_free(txt);
    if (!bad) { snprintf(why, n, "'%s' not in the document", from); return -1; }
    ml_fs_write_atomic(res, bad, strlen(bad));
    free(bad);
    int rc = ml_report_write(res, out);
    if (rc != ML_EDATA || !strstr(ml_error_last()->message, want) || !strstr(ml_error_last()->message, res)) {
        snprintf(why, n, "rc %d, message \"%.400s\", want \"%.200s\"", rc, ml_error_last()->message, want);
        return -1;
    }
    return 0;
}

static void test_report_page__malformed(void) {
    char dir[256], why[1024];
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "report"));
    ML_ASSERT_MSG(expect_bad(dir, "\"over_steps\":[[1,0.95,0.9]", "\"over_steps\":[[1,0.95]", "$.cells[0].cka.over_steps[0]: expected an array of 3 numbers", why, sizeof(why)) == 0, "%s", why);
    ML_ASSERT_MSG(expect_bad(dir, "\"values\":[[0.9,0.3]", "\"values\":[[\"0.9\",0.3]", "$.cells[0].cka.heatmap.values[0]: expected an array of 2 numbers", why, sizeof(why)) == 0, "%s", why);
    ML_ASSERT_MSG(expect_bad(dir, "\"name\":\"x\"", "\"name\":7", "$.suite.name: expected a string, got a number", why, sizeof(why)) == 0, "%s", why);
    ML_ASSERT_MSG(expect_bad(dir, "\"gate\":[", "\"findings\":{},\"gate\":[", "$.findings: expected an array, got an object", why, sizeof(why)) == 0, "%s", why);
    /* cells of one group must record the same CKA points */
    char res[512], out[512];
    snprintf(res, sizeof(res), "%s/x.json", dir);
    snprintf(out, sizeof(out), "%s/rep-bad", dir);
    cJSON *doc = make_results("x", 1, 2, 0);
    cJSON *c1 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "cells"), 1);
    cJSON *cka = cJSON_GetObjectItemCaseSensitive(c1, "cka");
    double st[2] = {0, 100}, l[2] = {1, 0.9};
    cJSON_ReplaceItemInObject(cka, "steps", cJSON_CreateDoubleArray(st, 2));
    cJSON *ov = cJSON_CreateArray();
    cJSON_AddItemToArray(ov, cJSON_CreateDoubleArray(l, 2));
    cJSON_AddItemToArray(ov, cJSON_CreateDoubleArray(l, 2));
    cJSON_ReplaceItemInObject(cka, "over_steps", ov);
    ML_ASSERT_EQ_INT(0, save(doc, res));
    cJSON_Delete(doc);
    ML_ASSERT_EQ_INT(ML_EDATA, ml_report_write(res, out));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "$.cells[1].cka: 2 layers x 2 steps, but cell 0 of the same group has 2 x 3");
    ML_ASSERT(!ml_fs_exists(out));   /* nothing written before the data was known good */
    /* what ml_results_load refuses, the report refuses with its message */
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(res, "{\"schema_version\": 2,", 21));
    ML_ASSERT_EQ_INT(ML_EDATA, ml_report_write(res, out));
    ML_ASSERT_STR_HAS(ml_error_last()->message, res);
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(res, "{\"schema_version\": 99}", 22));
    ML_ASSERT_EQ_INT(ML_EDATA, ml_report_write(res, out));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "99 is not supported");
    snprintf(res, sizeof(res), "%s/missing.json", dir);
    ML_ASSERT_EQ_INT(ML_ENOTFOUND, ml_report_write(res, out));
    ml_t_rmrf(dir);
}

/* ---- the commands, on a results store in a temporary git repository ------------------ */

/* Three commits with direct/test_acc over 3 seeds: 0.80-0.82, then 0.70-0.72 (a
 * regression well beyond tolerance and noise), then 0.701-0.721 (the same within noise). */
static void test_report_page__history_flags(void) {
    char repo[256], bin[4096], *out = NULL;
    const char *ml_bin = getenv("ML_BIN");
    ML_ASSERT(ml_bin != NULL && realpath(ml_bin, bin) != NULL);
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(repo, sizeof(repo), "hist"));
    const char *git = "git -c user.name=t -c user.email=t@t -c init.defaultBranch=main";
    double shift[3] = {0.0, -0.10, -0.099};
    char hex[3][64];
    ML_ASSERT_EQ_INT(0, ml_t_sh(NULL, "cd %s && %s init -q && printf 'results/\\n' > .gitignore", repo, git));
    for (int c = 0; c < 3; c++) {
        char *h = NULL, path[1024];
        ML_ASSERT_EQ_INT(0, ml_t_sh(NULL, "cd %s && echo %d > f && %s add . && %s commit -qm c%d", repo, c, git, git, c));
        ML_ASSERT_EQ_INT(0, ml_t_sh(&h, "cd %s && git rev-parse HEAD", repo));
        snprintf(hex[c], sizeof(hex[c]), "%.40s", h);
        free(h);
        cJSON *doc = make_results("s", 1, 3, 0);
        for (cJSON *cell = cJSON_GetObjectItemCaseSensitive(doc, "cells")->child; cell; cell = cell->next) {
            cJSON *d = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cell, "metrics"), "direct/test_acc");
            cJSON_SetNumberValue(d, d->valuedouble + shift[c]);
        }
        snprintf(path, sizeof(path), "%s/results/box/%s", repo, hex[c]);
        ML_ASSERT_EQ_INT(0, ml_fs_mkdir_p(path));
        strncat(path, "/s.json", sizeof(path) - strlen(path) - 1);
        ML_ASSERT_EQ_INT(0, save(doc, path));
        cJSON_Delete(doc);
    }
    const char *env = "MERGELAB_MACHINE=box MERGELAB_RESULTS=results";
    int rc = ml_t_sh(&out, "cd %s && %s %s history direct/test_acc --csv", repo, env, bin);
    ML_ASSERT_MSG(rc == 0, "history: %s", out);
    ML_ASSERT_STR_HAS(out, "commit,date,suite,group,metric,n,mean,lo,hi,regressed");
    int flags[3] = {-1, -1, -1};
    for (int c = 0; c < 3; c++) {
        const char *line = strstr(out, hex[c]);
        const char *eol = line ? strchr(line, '\n') : NULL;
        if (eol) flags[c] = eol[-1] - '0';
    }
    free(out);
    ML_ASSERT_MSG(flags[0] == 0 && flags[1] == 1 && flags[2] == 0, "regression flags %d %d %d, want 0 1 0", flags[0],
                  flags[1], flags[2]);
    rc = ml_t_sh(&out, "cd %s && %s %s report results/box/%s/s.json -o rep --history --formats png,svg", repo, env, bin,
                 hex[2]);
    ML_ASSERT_MSG(rc == 0, "report --history: %s", out);
    free(out);
    char rep[512];
    snprintf(rep, sizeof(rep), "%s/rep", repo);
    char *csv = slurp(rep, "history.csv"), *html = slurp(rep, "index.html");
    int ok_csv = csv && strstr(csv, "direct/test_acc,") && strstr(csv, "time/finetune_ms_per_step,");
    char want[128];
    snprintf(want, sizeof(want), "direct/test_acc,%.7s,", hex[1]);
    const char *row = csv ? strstr(csv, want) : NULL;
    int flagged = row && strchr(row, '\n') && strchr(row, '\n')[-1] == '1';
    int ok_html = html && strstr(html, "id=\"history\"") && strstr(html, "src=\"history.png\"");
    free(csv);
    free(html);
    ML_ASSERT_MSG(ok_csv, "history.csv lacks the default metrics");
    ML_ASSERT_MSG(flagged, "history.csv does not flag commit two");
    ML_ASSERT_MSG(ok_html, "index.html lacks the history figure");
    rc = ml_t_sh(&out, "cd %s && %s %s report results/box/%s/s.json -o rep2 --formats png,tiff", repo, env, bin, hex[2]);
    ML_ASSERT_EQ_INT(2, rc);
    free(out);
    ml_t_rmrf(repo);
}


/* A text suite with two points (steps 10 and 40) over three seeds: the interpolation's
 * alpha curve, the routers' loss over k and the early CKA heatmap at each point, against
 * hand-computed means and intervals. Seed k (0..2) has val_loss at alpha 0.5 of
 * 1.5 + 0.1 k + 0.2 p at point p, router_k<j> loss 1.2 - 0.1 j + 0.05 k at point p,
 * and the CKA of block1 vs block2 at step 10 of 0.6 + 0.01 k. The third seed's alphas
 * differ from the first's, so its alpha curve counts as missing (n = 2). */
static cJSON *make_point_results(void) {
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "schema_version", 2);
    cJSON *suite = cJSON_AddObjectToObject(doc, "suite");
    cJSON_AddStringToObject(suite, "name", "pt");
    cJSON *gate = cJSON_AddArrayToObject(doc, "gate");
    cJSON *rule = cJSON_CreateObject();
    cJSON_AddStringToObject(rule, "match", "*/loss");
    cJSON_AddStringToObject(rule, "direction", "lower");
    cJSON_AddNumberToObject(rule, "atol", 0.02);
    cJSON_AddNumberToObject(rule, "rtol", 0);
    cJSON_AddItemToArray(gate, rule);
    cJSON *cells = cJSON_AddArrayToObject(doc, "cells");
    for (int k = 0; k < 3; k++) {
        char nm[32];
        snprintf(nm, sizeof(nm), "seed=%d", k + 1);
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "name", nm);
        cJSON_AddStringToObject(c, "group", "default");
        cJSON_AddNumberToObject(c, "seed", k + 1);
        cJSON_AddStringToObject(c, "status", "ok");
        cJSON *pts = cJSON_AddArrayToObject(c, "points");
        for (int p = 0; p < 2; p++) {
            cJSON *pt = cJSON_CreateObject(), *ms = cJSON_CreateArray(), *met = cJSON_CreateObject();
            cJSON_AddNumberToObject(pt, "step", p ? 40 : 10);
            cJSON_AddItemToObject(pt, "models", ms);
            cJSON_AddItemToObject(pt, "metrics", met);
            static const char *const names[] = {"base", "direct", "interp", "router_k1", "router_k2"};
            static const char *const roles[] = {"base", "direct", "merge", "merge", "merge"};
            for (int m = 0; m < 5; m++) {
                cJSON *mo = cJSON_CreateObject();
                char key[64];
                cJSON_AddStringToObject(mo, "name", names[m]);
                cJSON_AddStringToObject(mo, "role", roles[m]);
                double loss = m == 0 ? 2.0 : m == 1 ? 0.5 : 1.6;
                if (m == 2) {
                    cJSON_AddStringToObject(mo, "method", "interpolate");
                    double al[3] = {0, k == 2 ? 0.4 : 0.5, 1}, vl[3] = {2.0, 1.5 + 0.1 * k + 0.2 * p, 1.8};
                    cJSON_AddItemToObject(mo, "alphas", cJSON_CreateDoubleArray(al, 3));
                    cJSON_AddItemToObject(mo, "val_loss", cJSON_CreateDoubleArray(vl, 3));
                } else if (m >= 3) {
                    cJSON_AddStringToObject(mo, "method", "router");
                    cJSON_AddNumberToObject(cJSON_AddObjectToObject(mo, "router"), "layers", m - 2);
                    loss = 1.2 - 0.1 * (m - 2) + 0.05 * k;
                }
                cJSON_AddItemToArray(ms, mo);
                snprintf(key, sizeof(key), "%s/loss", names[m]);
                cJSON_AddNumberToObject(met, key, loss);
            }
            cJSON_AddItemToArray(pts, pt);
            if (p == 1) {
                cJSON_AddItemToObject(c, "models", cJSON_Duplicate(ms, 1));
                cJSON_AddItemToObject(c, "metrics", cJSON_Duplicate(met, 1));
            }
        }
        cJSON *cka = cJSON_AddObjectToObject(c, "cka");
        cJSON *pair = cJSON_AddArrayToObject(cka, "pair");
        cJSON_AddItemToArray(pair, cJSON_CreateString("A"));
        cJSON_AddItemToArray(pair, cJSON_CreateString("B"));
        const char *layers[2] = {"block1", "block2"};
        cJSON_AddItemToObject(cka, "layers", cJSON_CreateStringArray(layers, 2));
        double steps[3] = {0, 10, 40}, l1[3] = {1, 0.9, 0.8}, l2[3] = {1, 0.8, 0.7};
        cJSON_AddItemToObject(cka, "steps", cJSON_CreateDoubleArray(steps, 3));
        cJSON *over = cJSON_AddArrayToObject(cka, "over_steps");
        cJSON_AddItemToArray(over, cJSON_CreateDoubleArray(l1, 3));
        cJSON_AddItemToArray(over, cJSON_CreateDoubleArray(l2, 3));
        cJSON *hm = cJSON_AddObjectToObject(cka, "heatmap");
        cJSON_AddNumberToObject(hm, "step", 40);
        cJSON_AddStringToObject(hm, "row_model", "A");
        cJSON_AddStringToObject(hm, "col_model", "B");
        cJSON *hs = cJSON_AddObjectToObject(cka, "heatmap_steps");
        cJSON_AddItemToObject(hs, "steps", cJSON_CreateDoubleArray(steps, 3));
        cJSON *hv = cJSON_AddArrayToObject(hs, "values");
        for (int st = 0; st < 3; st++) {
            cJSON *mat = cJSON_CreateArray();
            double r1[2] = {l1[st], st == 1 ? 0.6 + 0.01 * k : 0.5}, r2[2] = {0.5, l2[st]};
            cJSON_AddItemToArray(mat, cJSON_CreateDoubleArray(r1, 2));
            cJSON_AddItemToArray(mat, cJSON_CreateDoubleArray(r2, 2));
            cJSON_AddItemToArray(hv, mat);
            if (st == 2) cJSON_AddItemToObject(hm, "values", cJSON_Duplicate(mat, 1));
        }
        cJSON_AddItemToArray(cells, c);
    }
    return doc;
}

static void test_report_page__point_curves(void) {
    report_dir t;
    ML_ASSERT_EQ_INT(0, report_dir_make(&t, make_point_results()));
    int rc = ml_report_write(t.res, t.out);
    ML_ASSERT_MSG(rc == 0, "%s", ml_error_last()->message);
    double v[4], half = T975_2 * 0.1 / sqrt(3.0);
    /* alpha 0.5 at step 40: seeds 0 and 1 only (1.7, 1.8); alpha 0 at step 10: 2.0 x 3 */
    ML_ASSERT_EQ_INT(0, csv_row(t.out, "pt_alpha.csv", "default,40,0.5,", v, 4));
    ML_ASSERT_NEAR(1.75, v[0], 1e-12, 0);
    ML_ASSERT_EQ_INT(2, (int)v[3]);
    ML_ASSERT_EQ_INT(0, csv_row(t.out, "pt_alpha.csv", "default,10,0,", v, 4));
    ML_ASSERT_NEAR(2.0, v[0], 1e-12, 0);
    ML_ASSERT_EQ_INT(3, (int)v[3]);
    /* router k = 2 at step 10: 1.0, 1.05, 1.1 -> 1.05 +- t * 0.05 / sqrt(3) */
    ML_ASSERT_EQ_INT(0, csv_row(t.out, "pt_router_k.csv", "default,10,2,router_k2,", v, 4));
    ML_ASSERT_NEAR(1.05, v[0], 1e-12, 0);
    ML_ASSERT_NEAR(1.05 + half / 2, v[2], 1e-12, 0);
    ML_ASSERT_EQ_INT(0, csv_row(t.out, "pt_router_k.csv", "default,40,1,router_k1,", v, 4));
    ML_ASSERT_NEAR(1.15, v[0], 1e-12, 0);
    /* the early heatmap is step 10 (the first point), not the end */
    ML_ASSERT_EQ_INT(0, csv_row(t.out, "pt_cka_heatmap_early.csv", "default,A,block1,B,block2,10,", v, 4));
    ML_ASSERT_NEAR(0.61, v[0], 1e-12, 0);
    ML_ASSERT_NEAR(0.61 + T975_2 * 0.01 / sqrt(3.0), v[2], 1e-12, 0);
    static const char *const files[] = {"pt_alpha.svg", "pt_router_k.pdf", "pt_cka_heatmap_early.png"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char p[700];
        snprintf(p, sizeof(p), "%s/%s", t.out, files[i]);
        ML_ASSERT_MSG(ml_fs_exists(p), "%s was not written", p);
    }
    char *html = slurp(t.out, "index.html");
    ML_ASSERT(html && strstr(html, "pt_router_k.png") && strstr(html, "pt_alpha.png"));
    free(html);
    ml_t_rmrf(t.dir);
}

const ml_test ml_tests_report_page[] = {
    { "report_page__point_curves", test_report_page__point_curves, "unit" },
    { "report_page__means_and_intervals", test_report_page__means_and_intervals, "unit" },
    { "report_page__html", test_report_page__html, "unit" },
    { "report_page__only_failed_cells", test_report_page__only_failed_cells, "unit" },
    { "report_page__malformed", test_report_page__malformed, "unit" },
    { "report_page__suite_settings", test_report_page__suite_settings, "unit" },
    { "report_page__history_flags", test_report_page__history_flags, "e2e" },
    { 0 }
};

/*
 * tests/test_e2e.c: the mergelab binary as a user and a CI job run it.
 * The smoke suite runs twice in all (the second run checks bit-for-bit
 * reproducibility); every other test reuses the first run's results.
 */
#include "tests/test.h"
#include "tests/util.h"
#include "core/error.h"
#include "core/fs.h"
#include "store/results.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

static const char *smoke_results(void) { return ml_t_run_once("suites/smoke.json"); }

static double metric(cJSON *doc, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ml_t_metrics(doc), name);
    return cJSON_IsNumber(v) ? v->valuedouble : -1.0;
}

static void test_e2e__smoke_runs_and_learns(void) {
    const char *path = smoke_results();
    cJSON *doc = NULL;
    ML_ASSERT(path != NULL);
    ML_ASSERT_EQ_INT(0, ml_results_load(&doc, path));
    double direct = metric(doc, "direct/test_acc"), base = metric(doc, "base/test_acc");
    double a = metric(doc, "A/test_acc"), avg = metric(doc, "average/test_acc");
    const cJSON *over = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ml_t_cell0(doc), "cka"), "over_steps");
    double first = cJSON_GetArrayItem(cJSON_GetArrayItem(over, 0), 0)->valuedouble;
    int nsteps = cJSON_GetArraySize(cJSON_GetArrayItem(over, 0));
    cJSON_Delete(doc);
    fprintf(stderr, "    direct %.4f base %.4f A %.4f average %.4f\n", direct, base, a, avg);
    ML_ASSERT_MSG(direct >= 0.84, "direct fine-tune reached %.4f test accuracy, need >= 0.84", direct);
    ML_ASSERT(base > 0.5 && a > 0.0 && avg > 0.0);
    ML_ASSERT_NEAR(1.0, first, 1e-6, 0);   /* the specialists start as the same base */
    ML_ASSERT(nsteps >= 3);
}

static void test_e2e__reproducible(void) {
    const char *first = smoke_results();
    ML_ASSERT(first != NULL);
    int r = ml_t_rerun_identical("suites/smoke.json", first, "A/test_loss");
    ML_ASSERT_MSG(r != -2, "a one-ulp change to A/test_loss went unnoticed: the comparison cannot fail");
    ML_ASSERT_MSG(r == 1, "two runs of suites/smoke.json differ beyond timestamps (%d)", r);
}

static void test_e2e__check_against_stored_baseline(void) {
    const char *path = smoke_results();
    char *out = NULL;
    ML_ASSERT(path != NULL);
    int rc = ml_t_cli(&out, "check %s --baseline fixtures/baselines/smoke.json", path);
    if (rc != 0) fprintf(stderr, "%s", out);
    ML_ASSERT_EQ_INT(0, rc);
    ML_ASSERT_STR_HAS(out, "0 regressed");
    free(out);
}

static void test_e2e__check_finds_regression(void) {
    const char *path = smoke_results();
    char dir[256], bpath[512], *src = NULL, *out = NULL;
    size_t len;
    ML_ASSERT(path != NULL);
    ML_ASSERT_EQ_INT(0, ml_fs_read_all(&src, &len, "fixtures/baselines/smoke.json"));
    cJSON *doc = cJSON_Parse(src);
    free(src);
    ML_ASSERT(doc != NULL);
    /* demand 5 points more accuracy of the direct fine-tune than was stored */
    cJSON *m = cJSON_GetObjectItemCaseSensitive(ml_t_metrics(doc), "direct/test_acc");
    ML_ASSERT(m != NULL);
    cJSON_SetNumberValue(m, m->valuedouble + 0.05);
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "gate"));
    snprintf(bpath, sizeof(bpath), "%s/baseline.json", dir);
    ML_ASSERT_EQ_INT(0, ml_results_write(bpath, doc));
    cJSON_Delete(doc);
    int rc = ml_t_cli(&out, "check %s --baseline %s", path, bpath);
    ml_t_rmrf(dir);
    ML_ASSERT_EQ_INT(1, rc);
    ML_ASSERT_STR_HAS(out, "REGRESSED");
    ML_ASSERT_STR_HAS(out, "direct/test_acc");
    ML_ASSERT_STR_HAS(out, "1 regressed");
    ML_ASSERT_STR_HAS(out, "-> exit 1");
    free(out);
}

/* --junit and --markdown: the XML parses (xmllint) and counts one testcase
 * per gated metric and one failure per regression; the Markdown has the
 * regressed row in bold. */
static void test_e2e__check_junit_markdown(void) {
    const char *path = smoke_results();
    char dir[256], bpath[512], jpath[512], mpath[512], *src = NULL, *out = NULL, *xml = NULL, *md = NULL;
    size_t len;
    ML_ASSERT(path != NULL);
    ML_ASSERT_EQ_INT(0, ml_fs_read_all(&src, &len, "fixtures/baselines/smoke.json"));
    cJSON *doc = cJSON_Parse(src);
    free(src);
    ML_ASSERT(doc != NULL);
    cJSON *metrics = ml_t_metrics(doc);
    cJSON *m = cJSON_GetObjectItemCaseSensitive(metrics, "direct/test_acc");
    cJSON_SetNumberValue(m, m->valuedouble + 0.05);
    m = cJSON_GetObjectItemCaseSensitive(metrics, "A/test_loss");
    cJSON_SetNumberValue(m, m->valuedouble * 0.5);
    int ngated = cJSON_GetArraySize(metrics);
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "junit"));
    snprintf(bpath, sizeof(bpath), "%s/b.json", dir);
    snprintf(jpath, sizeof(jpath), "%s/check.xml", dir);
    snprintf(mpath, sizeof(mpath), "%s/check.md", dir);
    ML_ASSERT_EQ_INT(0, ml_results_write(bpath, doc));
    cJSON_Delete(doc);
    int rc = ml_t_cli(&out, "check %s --baseline %s --junit %s --markdown %s", path, bpath, jpath, mpath);
    free(out);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "xmllint --noout %s", jpath);
    int xml_ok = system(cmd) == 0;
    ml_fs_read_all(&xml, &len, jpath);
    ml_fs_read_all(&md, &len, mpath);
    ml_t_rmrf(dir);
    int cases = 0, failures = 0;
    for (const char *p = xml; p && (p = strstr(p, "<testcase ")); p++) cases++;
    for (const char *p = xml; p && (p = strstr(p, "<failure ")); p++) failures++;
    ML_ASSERT_EQ_INT(1, rc);
    ML_ASSERT_MSG(xml_ok, "the JUnit file does not parse as XML");
    ML_ASSERT_EQ_INT(ngated, cases);
    ML_ASSERT_EQ_INT(2, failures);
    ML_ASSERT_STR_HAS(xml, "name=\"direct/test_acc\">\n      <failure message=\"REGRESSED\"");
    const char *row = md ? strstr(md, "| `direct/test_acc` | higher |") : NULL;
    const char *eol = row ? strchr(row, '\n') : NULL;
    const char *bold = row ? strstr(row, "| **REGRESSED** |") : NULL;
    ML_ASSERT_MSG(row && eol && bold && bold < eol, "the Markdown row of direct/test_acc is not marked REGRESSED");
    ML_ASSERT_STR_HAS(md, "**2 regressed**");
    /* both carry the platform line: the baseline was edited, so not bit-identical */
    ML_ASSERT_STR_HAS(md, "same numeric platform (OpenBLAS ");
    ML_ASSERT_STR_HAS(xml, "<system-out>same numeric platform (OpenBLAS ");
    ML_ASSERT_STR_HAS(xml, "NOT bit-identical, 2 of 41 values differ");
    free(xml);
    free(md);
}

static void test_e2e__check_no_baseline_and_corrupt(void) {
    const char *path = smoke_results();
    char dir[256], bad[512], *out = NULL;
    ML_ASSERT(path != NULL);
    int rc = ml_t_cli(&out, "check %s --baseline /nonexistent/b.json", path);
    ML_ASSERT_EQ_INT(2, rc);
    ML_ASSERT_STR_HAS(out, "no baseline");
    free(out);
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "corrupt"));
    ML_ASSERT_EQ_INT(0, ml_t_write(bad, sizeof(bad), dir, "b.json", "{\"schema_version\": 1, \"metrics\": {\"x\""));
    rc = ml_t_cli(&out, "check %s --baseline %s", path, bad);
    ML_ASSERT_EQ_INT(2, rc);
    ML_ASSERT_STR_HAS(out, "invalid or truncated JSON");
    free(out);
    ML_ASSERT_EQ_INT(0, ml_t_write(bad, sizeof(bad), dir, "c.json", "{\"schema_version\": 99, \"metrics\": {}, \"gate\": []}"));
    rc = ml_t_cli(&out, "check %s --baseline %s", path, bad);
    ml_t_rmrf(dir);
    ML_ASSERT_EQ_INT(2, rc);
    ML_ASSERT_STR_HAS(out, "$.schema_version: 99 is not supported");
    free(out);
}

static void test_e2e__bless_then_check(void) {
    const char *path = smoke_results();
    char dir[256], *out = NULL, *src = NULL;
    size_t len;
    ML_ASSERT(path != NULL);
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "bless"));
    int rc1 = ml_t_cli(&out, "bless %s --baseline %s/base.json", path, dir);
    free(out);
    int rc2 = ml_t_cli(&out, "check %s --baseline %s/base.json", path, dir);
    char b[512];
    snprintf(b, sizeof(b), "%s/base.json", dir);
    ml_fs_read_all(&src, &len, b);
    ml_t_rmrf(dir);
    ML_ASSERT_EQ_INT(0, rc1);
    ML_ASSERT_EQ_INT(0, rc2);
    ML_ASSERT_STR_HAS(out, "0 regressed");
    ML_ASSERT_STR_HAS(src, "\"blessed\"");
    free(out);
    free(src);
}

/* The real smoke results through `mergelab report`: every figure in the three formats,
 * the PDFs with their fonts embedded (pdffonts), the page naming the suite and models. */
static void test_e2e__report(void) {
    const char *path = smoke_results();
    char dir[256], f[512], *out = NULL, *html = NULL, *fonts = NULL;
    size_t len;
    static const char *const stems[] = { "smoke_methods", "smoke_cka_heatmap", "smoke_cka_vs_base_A",
                                         "smoke_cka_vs_base_B", "smoke_cka_steps" };
    static const char *const exts[] = { "png", "svg", "pdf", "csv" };
    ML_ASSERT(path != NULL);
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "report"));
    int rc = ml_t_cli(&out, "report %s -o %s", path, dir);
    int missing = 0;
    for (size_t i = 0; i < sizeof(stems) / sizeof(stems[0]); i++)
        for (size_t e = 0; e < 4; e++) {
            snprintf(f, sizeof(f), "%s/%s.%s", dir, stems[i], exts[e]);
            if (!ml_fs_exists(f)) { fprintf(stderr, "    missing %s\n", f); missing++; }
        }
    snprintf(f, sizeof(f), "%s/index.html", dir);
    ml_fs_read_all(&html, &len, f);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "pdffonts %s/smoke_methods.pdf", dir);
    FILE *p = popen(cmd, "r");
    char buf[4096];
    size_t n = p ? fread(buf, 1, sizeof(buf) - 1, p) : 0;
    buf[n] = '\0';
    int prc = p ? pclose(p) : -1;
    fonts = strdup(buf);
    ml_t_rmrf(dir);
    ML_ASSERT_MSG(rc == 0, "report exited %d: %s", rc, out);
    ML_ASSERT_EQ_INT(0, missing);
    ML_ASSERT_STR_HAS(html, "Suite smoke");
    ML_ASSERT_STR_HAS(html, "regmean");
    ML_ASSERT_STR_HAS(html, "src=\"smoke_cka_heatmap.png\"");
    ML_ASSERT_EQ_INT(0, prc);
    ML_ASSERT_STR_HAS(fonts, "DejaVuSans");
    ML_ASSERT_MSG(!strstr(fonts, " no "), "a font is not embedded:\n%s", fonts);
    free(out);
    free(html);
    free(fonts);
}

/* Each bad suite: exit 2, the exact reason, and no results file. */
static void test_e2e__bad_suites(void) {
    static const struct { const char *from, *to, *want; } cases[] = {
        { "\"seed\": 1,", "\"seed\": 1", "invalid JSON near" },
        { "\"method\": \"average\"", "\"method\": \"tiez\"",
          "$.merges[0].method: unknown method \"tiez\" (expected one of: average, slerp, task_arithmetic, ties, dare, fisher, regmean, interpolate, ensemble, router)" },
        { "\"batch_size\": 128", "\"batch_size\": [128]", "$.batch_size: expected an integer, got an array" },
        { "\"dir\": \"/usr/share/datasets/fashion-mnist\"", "\"dir\": \"/nonexistent/fm\"",
          "$.data.dir: missing data file '/nonexistent/fm/train-images-idx3-ubyte.gz'" },
        { "\"classes\": [5, 6, 7, 8, 9]", "\"classes\": [5, 6, 7, 8, 10]",
          "$.specialists[1].classes[4]: class 10 out of range 0..9" },
    };
    char dir[256], spath[512], rpath[512], *src = NULL;
    size_t len;
    ML_ASSERT_EQ_INT(0, ml_fs_read_all(&src, &len, "suites/smoke.json"));
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "bad"));
    int failures = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *bad = ml_t_replace(src, cases[i].from, cases[i].to), *out = NULL, name[32];
        snprintf(name, sizeof(name), "bad%zu.json", i);
        ml_t_write(spath, sizeof(spath), dir, name, bad ? bad : "");
        snprintf(rpath, sizeof(rpath), "%s/out%zu", dir, i);
        int rc = ml_t_cli(&out, "run %s -o %s", spath, rpath);
        strcat(rpath, "/smoke.json");
        int ok = bad && rc == 2 && strstr(out, cases[i].want) && strstr(out, spath) && !ml_fs_exists(rpath);
        if (!ok) {
            fprintf(stderr, "    case %zu: rc %d, output: %s    wanted: %s\n", i, rc, out, cases[i].want);
            failures++;
        }
        free(bad);
        free(out);
    }
    free(src);
    ml_t_rmrf(dir);
    ML_ASSERT_EQ_INT(0, failures);
}

/* A diverging cell is a failed cell: recorded with its reason in the
 * results file (which says it is incomplete), exit 3. */
static void test_e2e__nan_is_run_failure(void) {
    char dir[256], spath[512], rpath[512], *src = NULL, *out = NULL;
    size_t len;
    cJSON *doc = NULL;
    ML_ASSERT_EQ_INT(0, ml_fs_read_all(&src, &len, "suites/smoke.json"));
    char *a = ml_t_replace(src, "\"lr\": 0.001", "\"lr\": 1e30");
    char *b = a ? ml_t_replace(a, "\"grad_clip\": 1.0", "\"grad_clip\": 0") : NULL;
    char *c = b ? ml_t_replace(b, "\"steps\": 300", "\"steps\": 50") : NULL;
    free(src); free(a); free(b);
    ML_ASSERT(c != NULL);
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "nan"));
    ml_t_write(spath, sizeof(spath), dir, "nan.json", c);
    free(c);
    snprintf(rpath, sizeof(rpath), "%s/out", dir);
    int rc = ml_t_cli(&out, "run %s -o %s --quiet", spath, rpath);
    strcat(rpath, "/smoke.json");
    int loaded = ml_results_load(&doc, rpath);
    ml_t_rmrf(dir);
    ML_ASSERT_EQ_INT(3, rc);
    ML_ASSERT_STR_HAS(out, "1 failed");
    ML_ASSERT_EQ_INT(0, loaded);
    cJSON *cell = ml_t_cell0(doc);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(cell, "status"), *err = cJSON_GetObjectItemCaseSensitive(cell, "error");
    int complete = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "complete"));
    ML_ASSERT(cJSON_IsString(st) && !strcmp(st->valuestring, "failed"));
    ML_ASSERT_STR_HAS(cJSON_IsString(err) ? err->valuestring : NULL, "pretraining of 'base' diverged: loss is");
    ML_ASSERT(!complete);
    cJSON_Delete(doc);
    free(out);
}

static void test_e2e__cli_basics(void) {
    char *out = NULL;
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "--version"));
    ML_ASSERT_STR_HAS(out, "mergelab ");
    free(out);
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "--help"));
    ML_ASSERT_STR_HAS(out, "exit codes: 0 ok, 1 regression found, 2 bad input or usage, 3 a run failed");
    free(out);
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "run --help"));
    ML_ASSERT_STR_HAS(out, "usage: mergelab run SUITE");
    free(out);
    ML_ASSERT_EQ_INT(2, ml_t_cli(&out, "frobnicate"));
    ML_ASSERT_STR_HAS(out, "unknown command 'frobnicate'; see 'mergelab help'");
    free(out);
    ML_ASSERT_EQ_INT(2, ml_t_cli(&out, "run"));
    ML_ASSERT_STR_HAS(out, "missing SUITE");
    free(out);
    ML_ASSERT_EQ_INT(2, ml_t_cli(&out, "run /nonexistent/suite.json"));
    ML_ASSERT_STR_HAS(out, "cannot open '/nonexistent/suite.json'");
    free(out);
    ML_ASSERT_EQ_INT(0, ml_t_cli(&out, "validate suites/smoke.json"));
    free(out);
}

const ml_test ml_tests_e2e[] = {
    { "e2e__cli_basics", test_e2e__cli_basics, "e2e" },
    { "e2e__bad_suites", test_e2e__bad_suites, "e2e" },
    { "e2e__nan_is_run_failure", test_e2e__nan_is_run_failure, "e2e" },
    { "e2e__smoke_runs_and_learns", test_e2e__smoke_runs_and_learns, "e2e" },
    { "e2e__reproducible", test_e2e__reproducible, "e2e" },
    { "e2e__check_against_stored_baseline", test_e2e__check_against_stored_baseline, "e2e" },
    { "e2e__check_finds_regression", test_e2e__check_finds_regression, "e2e" },
    { "e2e__check_junit_markdown", test_e2e__check_junit_markdown, "e2e" },
    { "e2e__check_no_baseline_and_corrupt", test_e2e__check_no_baseline_and_corrupt, "e2e" },
    { "e2e__bless_then_check", test_e2e__bless_then_check, "e2e" },
    { "e2e__report", test_e2e__report, "e2e" },
    { 0 }
};

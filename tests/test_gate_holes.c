/*
 * tests/test_gate_holes.c: the gate never passes what is not there, and
 * knows which numeric platform each side ran on.
 * Each case is a small hand-written results/baseline pair run through the
 * CLI, so the exit code and the message a CI job would show are checked:
 * a repeated key, a metric NaN, infinite or missing in one seed, incomplete
 * results, a failed cell, an empty or NaN baseline, bless's refusals and its
 * derived path, and the platform line (bit-identical, one ulp off, another
 * platform with its across_platforms tolerance).
 */
#include "tests/test.h"
#include "tests/util.h"
#include "analysis/aggregate.h"
#include "analysis/gate.h"
#include "store/results.h"
#include "core/error.h"
#include "core/fs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Two seeds of one group; metric values given as JSON text so null and
 * 1e999 (infinite once parsed) can be written. platform: provenance blas_core. */
static char *doc_text(const char *platform, const char *m1, const char *m2, const char *extra) {
    static const char *fmt =
        "{\"schema_version\": 2, \"suite\": {\"name\": \"holes\"},\n"
        " \"provenance\": {\"threads\": 1, \"platform\": {\"blas\": \"OpenBLAS 0.3.21\", \"blas_core\": \"%s\"}},\n"
        " \"gate\": [{\"match\": \"*/acc\", \"direction\": \"higher\", \"atol\": 0.01, \"rtol\": 0,\n"
        "            \"across_platforms\": {\"atol\": 0.05, \"rtol\": 0}},\n"
        "          {\"match\": \"*/opt\", \"direction\": \"lower\", \"atol\": 0.01, \"rtol\": 0, \"allow_missing\": true}],\n"
        " \"complete\": true, \"missing\": []%s,\n"
        " \"cells\": [\n"
        "  {\"name\": \"seed=1\", \"group\": \"default\", \"status\": \"ok\", \"metrics\": {%s}},\n"
        "  {\"name\": \"seed=2\", \"group\": \"default\", \"status\": \"ok\", \"metrics\": {%s}}]}\n";
    size_t n = strlen(fmt) + strlen(platform) + strlen(m1) + strlen(m2) + strlen(extra) + 1;
    char *s = malloc(n);
    snprintf(s, n, fmt, platform, extra, m1, m2);
    return s;
}

#define GOOD1 "\"m/acc\": 0.80, \"m/opt\": 1.0"
#define GOOD2 "\"m/acc\": 0.82, \"m/opt\": 1.1"

typedef struct { char dir[256], res[512], base[512]; } pair;

static int write_pair(pair *p, char *res_text, char *base_text) {
    int ok = ml_t_tmpdir(p->dir, sizeof(p->dir), "holes") == 0 &&
             ml_t_write(p->res, sizeof(p->res), p->dir, "results.json", res_text) == 0 &&
             ml_t_write(p->base, sizeof(p->base), p->dir, "baseline.json", base_text) == 0;
    free(res_text);
    free(base_text);
    return ok;
}

/* check RESULTS --baseline BASE [opts]: exit code, output in *out */
static int check(pair *p, char **out, const char *opts) {
    return ml_t_cli(out, "check %s --baseline %s %s", p->res, p->base, opts);
}

/* Writes the pair (taking both texts), runs check with opts, removes it:
 * 1 when the exit is want_rc and the output holds want (else says why). */
static int check_case(char *res_text, char *base_text, const char *opts, int want_rc, const char *want) {
    pair p;
    char *out = NULL;
    if (!write_pair(&p, res_text, base_text)) return 0;
    int rc = check(&p, &out, opts);
    ml_t_rmrf(p.dir);
    int ok = rc == want_rc && out && strstr(out, want);
    if (!ok) fprintf(stderr, "    check %s: want exit %d and \"%s\", got exit %d:\n%s", opts, want_rc, want, rc, out ? out : "");
    free(out);
    return ok;
}

static void test_gate_holes__whole_pair_passes_bit_identical(void) {
    ML_ASSERT(check_case(doc_text("Haswell", GOOD1, GOOD2, ""), doc_text("Haswell", GOOD1, GOOD2, ""), "", 0,
                         "same numeric platform (OpenBLAS 0.3.21 Haswell, 1 thread): bit-identical to the baseline (4 values)"));
}

/* the bit-identity check must see one ulp, inside every tolerance */
static void test_gate_holes__one_ulp_is_not_bit_identical(void) {
    ML_ASSERT(check_case(doc_text("Haswell", "\"m/acc\": 0.80000000000000016, \"m/opt\": 1.0", GOOD2, ""),
                         doc_text("Haswell", GOOD1, GOOD2, ""), "", 0,
                         "NOT bit-identical, 1 of 4 values differ (first: seed=1: m/acc"));
}

/* another platform: the across_platforms tolerance (0.05) applies, not 0.01;
 * and the same drop on one platform is a regression */
static void test_gate_holes__across_platforms_tolerance(void) {
    pair p;
    char *out = NULL;
    /* seeds close together, so the drop of 0.03 is beyond noise */
    const char *b1 = "\"m/acc\": 0.800, \"m/opt\": 1.0", *b2 = "\"m/acc\": 0.801, \"m/opt\": 1.0";
    const char *drop1 = "\"m/acc\": 0.770, \"m/opt\": 1.0", *drop2 = "\"m/acc\": 0.771, \"m/opt\": 1.0";
    ML_ASSERT(write_pair(&p, doc_text("Sandybridge", drop1, drop2, ""), doc_text("Haswell", b1, b2, "")));
    int rc = check(&p, &out, "");
    ML_ASSERT_MSG(rc == 0, "%s", out);
    ML_ASSERT_STR_HAS(out, "different numeric platforms: baseline OpenBLAS 0.3.21 Haswell, 1 thread, now OpenBLAS 0.3.21 Sandybridge");
    free(out);
    ml_t_rmrf(p.dir);
    ML_ASSERT(write_pair(&p, doc_text("Haswell", drop1, drop2, ""), doc_text("Haswell", b1, b2, "")));
    rc = check(&p, &out, "");
    ml_t_rmrf(p.dir);
    ML_ASSERT_MSG(rc == 1, "%s", out);
    ML_ASSERT_STR_HAS(out, "REGRESSED");
    free(out);
}

static void test_gate_holes__nan_in_one_seed_fails(void) {
    ML_ASSERT(check_case(doc_text("Haswell", "\"m/acc\": null, \"m/opt\": 1.0", GOOD2, ""),
                         doc_text("Haswell", GOOD1, GOOD2, ""), "", 1,
                         "REGRESSED (NaN 1/2)"));
}

/* 1e999 parses as +inf: not a value either */
static void test_gate_holes__inf_in_one_seed_fails(void) {
    ML_ASSERT(check_case(doc_text("Haswell", GOOD1, "\"m/acc\": -1e999, \"m/opt\": 1.1", ""),
                         doc_text("Haswell", GOOD1, GOOD2, ""), "", 1,
                         "REGRESSED (NaN 1/2)"));
}

static void test_gate_holes__missing_in_one_seed_fails(void) {
    ML_ASSERT(check_case(doc_text("Haswell", GOOD1, "\"m/opt\": 1.1", ""), doc_text("Haswell", GOOD1, GOOD2, ""), "", 1,
                         "MISSING (1/2 seeds)"));
}

/* the rule may say otherwise: m/opt allows a missing seed */
static void test_gate_holes__rule_allows_missing(void) {
    ML_ASSERT(check_case(doc_text("Haswell", GOOD1, "\"m/acc\": 0.82, \"m/opt\": null", ""),
                         doc_text("Haswell", GOOD1, GOOD2, ""), "", 0,
                         "0 regressed"));
}

static void test_gate_holes__incomplete_results_fail(void) {
    pair p;
    char *out = NULL;
    /* seed 2 not run: `run --only 'seed=1'` leaves complete false and a missing list */
    char *res = doc_text("Haswell", GOOD1, GOOD2, "");
    char *cut = ml_t_replace(res, ",\n  {\"name\": \"seed=2\", \"group\": \"default\", \"status\": \"ok\", \"metrics\": {" GOOD2 "}}", "");
    char *cut2 = ml_t_replace(cut, "\"complete\": true, \"missing\": []", "\"complete\": false, \"missing\": [\"seed=2\"]");
    free(res);
    free(cut);
    ML_ASSERT(cut2 != NULL);
    /* the baseline's seeds agree, so seed 1 alone matches its mean */
    ML_ASSERT(write_pair(&p, cut2, doc_text("Haswell", GOOD1, GOOD1, "")));
    int rc = check(&p, &out, "");
    ML_ASSERT_MSG(rc == 3, "%s", out);
    ML_ASSERT_STR_HAS(out, "are incomplete: 1 cell of the suite or the baseline not run");
    ML_ASSERT_STR_HAS(out, "-> exit 3");
    free(out);
    rc = check(&p, &out, "--allow-partial");
    ml_t_rmrf(p.dir);
    ML_ASSERT_MSG(rc == 0, "%s", out);
    ML_ASSERT_STR_HAS(out, "warning (--allow-partial)");
    free(out);
}

/* a baseline seed the results lack, with nothing saying so, is incomplete too */
static void test_gate_holes__unlisted_missing_cell_fails(void) {
    pair p;
    char *out = NULL;
    char *res = doc_text("Haswell", GOOD1, GOOD2, "");
    char *cut = ml_t_replace(res, ",\n  {\"name\": \"seed=2\", \"group\": \"default\", \"status\": \"ok\", \"metrics\": {" GOOD2 "}}", "");
    free(res);
    ML_ASSERT(cut != NULL);
    ML_ASSERT(write_pair(&p, cut, doc_text("Haswell", GOOD1, GOOD2, "")));
    int rc = check(&p, &out, "");
    ml_t_rmrf(p.dir);
    ML_ASSERT_MSG(rc == 3, "%s", out);
    ML_ASSERT_STR_HAS(out, "incomplete");
    free(out);
}

static void test_gate_holes__failed_cell_fails(void) {
    pair p;
    char *out = NULL;
    char *res = doc_text("Haswell", GOOD1, GOOD2, "");
    char *f = ml_t_replace(res, "\"name\": \"seed=2\", \"group\": \"default\", \"status\": \"ok\"",
                           "\"name\": \"seed=2\", \"group\": \"default\", \"status\": \"failed\", \"error\": \"NaN loss at step 7\"");
    free(res);
    ML_ASSERT(write_pair(&p, f, doc_text("Haswell", GOOD1, GOOD2, "")));
    int rc = check(&p, &out, "");
    ml_t_rmrf(p.dir);
    ML_ASSERT_MSG(rc == 3, "%s", out);
    ML_ASSERT_STR_HAS(out, "cell seed=2 failed: NaN loss at step 7");
    free(out);
}

static void test_gate_holes__nan_baseline_fails(void) {
    pair p;
    char *out = NULL;
    ML_ASSERT(write_pair(&p, doc_text("Haswell", GOOD1, GOOD2, ""),
                         doc_text("Haswell", "\"m/acc\": null, \"m/opt\": 1.0", "\"m/acc\": null, \"m/opt\": 1.1", "")));
    int rc = check(&p, &out, "");
    ml_t_rmrf(p.dir);
    ML_ASSERT_MSG(rc == 2, "%s", out);
    ML_ASSERT_STR_HAS(out, "BAD BASELINE (2/2)");
    ML_ASSERT_STR_HAS(out, "lacks a finite value for 1 metric");
    free(out);
}

static void test_gate_holes__empty_baseline_fails(void) {
    pair p;
    char *out = NULL;
    char *empty = strdup("{\"schema_version\": 2, \"gate\": [], \"cells\": []}");
    ML_ASSERT(write_pair(&p, doc_text("Haswell", GOOD1, GOOD2, ""), empty));
    int rc = check(&p, &out, "");
    ml_t_rmrf(p.dir);
    ML_ASSERT_MSG(rc == 2, "%s", out);
    ML_ASSERT_STR_HAS(out, "is empty: no cell holds a finite metric");
    free(out);
}

/* the input: show, check (either side) and report refuse it, exit 2 */
static void test_gate_holes__repeated_key_refused(void) {
    pair p;
    char *out = NULL;
    static const char *dup = "{\"schema_version\":2,\"gate\":[],\"cells\":[{\"name\":\"a\",\"status\":\"ok\","
                             "\"metrics\":{\"m\":1,\"m\":2,\"m\":3,\"m\":4,\"m\":5}}]}";
    ML_ASSERT(write_pair(&p, strdup(dup), doc_text("Haswell", GOOD1, GOOD2, "")));
    const char *want = "results.json: $.cells[0] (\"a\").metrics: key \"m\" appears 5 times";
    ML_ASSERT_EQ_INT(2, ml_t_cli(&out, "show %s", p.res));
    ML_ASSERT_STR_HAS(out, want);
    free(out);
    ML_ASSERT_EQ_INT(2, check(&p, &out, ""));
    ML_ASSERT_STR_HAS(out, want);
    free(out);
    ML_ASSERT_EQ_INT(2, ml_t_cli(&out, "check %s --baseline %s", p.base, p.res));
    ML_ASSERT_STR_HAS(out, want);
    free(out);
    ML_ASSERT_EQ_INT(2, ml_t_cli(&out, "report %s -o %s/rep", p.res, p.dir));
    ML_ASSERT_STR_HAS(out, want);
    free(out);
    /* a repeated key outside the metrics too, e.g. in a cell */
    char *two = strdup("{\"schema_version\":2,\"gate\":[],\"cells\":[{\"name\":\"a\",\"status\":\"ok\",\"status\":\"failed\","
                       "\"metrics\":{}}]}");
    ML_ASSERT_EQ_INT(0, ml_t_write(p.res, sizeof(p.res), p.dir, "results.json", two));
    free(two);
    ML_ASSERT_EQ_INT(2, ml_t_cli(&out, "show %s", p.res));
    ml_t_rmrf(p.dir);
    ML_ASSERT_STR_HAS(out, "$.cells[0] (\"a\"): key \"status\" appears 2 times");
    free(out);
}

/* the library guard under ml_results_load: aggregate refuses a repeated
 * metric in a document built in memory (it overflowed a buffer before) */
static void test_gate_holes__aggregate_refuses_repeated_metric(void) {
    cJSON *doc = cJSON_Parse("{\"cells\":[{\"name\":\"a\",\"status\":\"ok\",\"metrics\":{\"m\":1,\"m\":2,\"m\":3}}]}");
    ml_agg agg;
    ML_ASSERT(doc != NULL);
    int rc = ml_agg_build(&agg, doc);
    cJSON_Delete(doc);
    ML_ASSERT_EQ_INT(ML_EDATA, rc);
    ML_ASSERT_STR_HAS(ml_error_last()->message, "metric \"m\" appears twice");
}

static void test_gate_holes__bless_refuses(void) {
    pair p;
    char *out = NULL, bpath[600];
    static const struct { const char *what, *from, *to, *msg; } cases[] = {
        { "incomplete", "\"complete\": true, \"missing\": []", "\"complete\": false, \"missing\": [\"seed=3\"]", "incomplete results" },
        { "failed", "\"status\": \"ok\", \"metrics\": {\"m/acc\": 0.82", "\"status\": \"failed\", \"metrics\": {\"m/acc\": 0.82", "failed" },
        { "nan", "\"m/acc\": 0.82", "\"m/acc\": null", "no finite value in 1 of 2 cells" },
        { "empty", "\"m/acc\": 0.80, \"m/opt\": 1.0", "", "no cell holds a finite metric" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *res = doc_text("Haswell", GOOD1, GOOD2, "");
        char *bad = ml_t_replace(res, cases[i].from, cases[i].to);
        free(res);
        ML_ASSERT_MSG(bad != NULL, "case %s", cases[i].what);
        if (!strcmp(cases[i].what, "empty")) {   /* no metric anywhere */
            char *b2 = ml_t_replace(bad, "\"m/acc\": 0.82, \"m/opt\": 1.1", "");
            free(bad);
            bad = b2;
        }
        ML_ASSERT(write_pair(&p, bad, strdup("{}")));
        snprintf(bpath, sizeof(bpath), "%s/blessed.json", p.dir);
        int rc = ml_t_cli(&out, "bless %s --baseline %s", p.res, bpath);
        int wrote = ml_fs_exists(bpath);
        ml_t_rmrf(p.dir);
        ML_ASSERT_MSG(rc == 2, "case %s: exit %d: %s", cases[i].what, rc, out);
        ML_ASSERT_MSG(!wrote, "case %s: a baseline was written", cases[i].what);
        ML_ASSERT_STR_HAS(out, cases[i].msg);
        free(out);
    }
    /* whole results bless */
    ML_ASSERT(write_pair(&p, doc_text("Haswell", GOOD1, GOOD2, ""), strdup("{}")));
    snprintf(bpath, sizeof(bpath), "%s/blessed.json", p.dir);
    int rc = ml_t_cli(&out, "bless %s --baseline %s", p.res, bpath);
    int wrote = ml_fs_exists(bpath);
    ml_t_rmrf(p.dir);
    ML_ASSERT_MSG(rc == 0, "%s", out);
    ML_ASSERT(wrote);
    free(out);
}

/* without --baseline, the path comes from $.suite.name: "../x" must not
 * write outside fixtures/baselines/ */
static void test_gate_holes__bless_checks_derived_name(void) {
    pair p;
    char *out = NULL;
    char *res = doc_text("Haswell", GOOD1, GOOD2, "");
    char *evil = ml_t_replace(res, "\"name\": \"holes\"", "\"name\": \"../../tmp/mergelab-escape\"");
    free(res);
    unlink("/tmp/mergelab-escape.json");
    ML_ASSERT(write_pair(&p, evil, strdup("{}")));
    int rc = ml_t_cli(&out, "bless %s", p.res);
    ml_t_rmrf(p.dir);
    ML_ASSERT_MSG(rc == 2, "%s", out);
    ML_ASSERT(!ml_fs_exists("/tmp/mergelab-escape.json"));
    ML_ASSERT(!ml_fs_exists("fixtures/baselines/../../tmp/mergelab-escape.json"));
    ML_ASSERT_STR_HAS(out, "is not a suite name");
    free(out);
}

const ml_test ml_tests_gate_holes[] = {
    { "gate_holes__whole_pair_passes_bit_identical", test_gate_holes__whole_pair_passes_bit_identical, "e2e" },
    { "gate_holes__one_ulp_is_not_bit_identical", test_gate_holes__one_ulp_is_not_bit_identical, "e2e" },
    { "gate_holes__across_platforms_tolerance", test_gate_holes__across_platforms_tolerance, "e2e" },
    { "gate_holes__nan_in_one_seed_fails", test_gate_holes__nan_in_one_seed_fails, "e2e" },
    { "gate_holes__inf_in_one_seed_fails", test_gate_holes__inf_in_one_seed_fails, "e2e" },
    { "gate_holes__missing_in_one_seed_fails", test_gate_holes__missing_in_one_seed_fails, "e2e" },
    { "gate_holes__rule_allows_missing", test_gate_holes__rule_allows_missing, "e2e" },
    { "gate_holes__incomplete_results_fail", test_gate_holes__incomplete_results_fail, "e2e" },
    { "gate_holes__unlisted_missing_cell_fails", test_gate_holes__unlisted_missing_cell_fails, "e2e" },
    { "gate_holes__failed_cell_fails", test_gate_holes__failed_cell_fails, "e2e" },
    { "gate_holes__nan_baseline_fails", test_gate_holes__nan_baseline_fails, "e2e" },
    { "gate_holes__empty_baseline_fails", test_gate_holes__empty_baseline_fails, "e2e" },
    { "gate_holes__repeated_key_refused", test_gate_holes__repeated_key_refused, "e2e" },
    { "gate_holes__aggregate_refuses_repeated_metric", test_gate_holes__aggregate_refuses_repeated_metric, "unit" },
    { "gate_holes__bless_refuses", test_gate_holes__bless_refuses, "e2e" },
    { "gate_holes__bless_checks_derived_name", test_gate_holes__bless_checks_derived_name, "e2e" },
    { NULL, NULL, NULL }
};

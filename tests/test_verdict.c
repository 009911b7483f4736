/*
 * tests/test_verdict.c: the one regression rule (analysis/verdict.h) that
 * check, compare and history share.
 * - hand-computed cases for each verdict and direction;
 * - the case the three used to disagree on: a tiny but certain drop (two
 *   seeds a side, beyond noise, within tolerance). compare said WORSE,
 *   check and history said ok; now all three say it is no regression, and
 *   a drop beyond both tolerance and noise is one in all three.
 */
#include "tests/test.h"
#include "tests/util.h"
#include "analysis/gate.h"
#include "analysis/verdict.h"
#include "core/stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ml_summary summ(const double *x, int n) {
    ml_summary s;
    ml_stats_summary(&s, x, n);
    return s;
}

static ml_verdict_kind kind(const double *a, int na, const double *b, int nb, const char *dir, double tol) {
    ml_summary sa = summ(a, na), sb = summ(b, nb);
    ml_verdict v;
    ml_verdict_judge(&v, &sa, &sb, dir, tol);
    return v.kind;
}

static void test_verdict__hand_computed(void) {
    static const double base[3] = { 0.80, 0.82, 0.84 };
    static const double noisy[3] = { 0.79, 0.81, 0.83 };    /* -0.01: the seeds' spread covers it */
    static const double real[3] = { 0.70, 0.71, 0.72 };     /* -0.11: beyond any noise */
    static const double tiny[3] = { 0.7999, 0.8199, 0.8399 };   /* -0.0001 with the same spread */
    /* higher is better */
    ML_ASSERT_EQ_INT(ML_VERDICT_NOISE, kind(base, 3, noisy, 3, "higher", 0.001));
    ML_ASSERT_EQ_INT(ML_VERDICT_WORSE, kind(base, 3, real, 3, "higher", 0.001));
    ML_ASSERT_EQ_INT(ML_VERDICT_BETTER, kind(real, 3, base, 3, "higher", 0.001));
    ML_ASSERT_EQ_INT(ML_VERDICT_SAME, kind(base, 3, real, 3, "higher", 0.2));   /* within tolerance */
    ML_ASSERT_EQ_INT(ML_VERDICT_SAME, kind(base, 3, tiny, 3, "higher", 0.001));
    /* lower is better: the same numbers judged the other way */
    ML_ASSERT_EQ_INT(ML_VERDICT_BETTER, kind(base, 3, real, 3, "lower", 0.001));
    ML_ASSERT_EQ_INT(ML_VERDICT_WORSE, kind(real, 3, base, 3, "lower", 0.001));
    /* both: a change beyond tolerance and noise, either way */
    ML_ASSERT_EQ_INT(ML_VERDICT_CHANGED, kind(base, 3, real, 3, "both", 0.001));
    ML_ASSERT_EQ_INT(ML_VERDICT_NOISE, kind(base, 3, noisy, 3, "both", 0.001));
    /* one seed a side: no interval, the tolerance alone decides */
    ML_ASSERT_EQ_INT(ML_VERDICT_WORSE, kind(base, 1, noisy, 1, "higher", 0.001));
    ML_ASSERT_EQ_INT(ML_VERDICT_SAME, kind(base, 1, noisy, 1, "higher", 0.02));
    /* the interval is the Welch interval of after - before */
    ml_summary a = summ(base, 3), b = summ(real, 3);
    ml_verdict v;
    ml_diff d;
    ml_verdict_judge(&v, &a, &b, "higher", 0.001);
    ml_stats_welch(&d, &a, &b);
    ML_ASSERT_NEAR(-0.11, v.diff, 1e-12, 0);
    ML_ASSERT(v.lo == d.lo && v.hi == d.hi && v.hi < 0);
    ML_ASSERT(!strcmp(ml_verdict_name(ML_VERDICT_WORSE), "WORSE"));
}

/* two seeds a side, a drop of 0.001 whose interval excludes 0, tolerance 0.01 */
static cJSON *doc(const char *platform, double s1, double s2) {
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"schema_version\": 2, \"suite\": {\"name\": \"v\"},"
             " \"provenance\": {\"threads\": 1, \"platform\": {\"blas\": \"OpenBLAS 0.3.21\", \"blas_core\": \"%s\"}},"
             " \"gate\": [{\"match\": \"*/acc\", \"direction\": \"higher\", \"atol\": 0.01, \"rtol\": 0}],"
             " \"complete\": true, \"missing\": [], \"cells\": ["
             "{\"name\": \"seed=1\", \"group\": \"default\", \"status\": \"ok\", \"metrics\": {\"m/acc\": %.17g}},"
             "{\"name\": \"seed=2\", \"group\": \"default\", \"status\": \"ok\", \"metrics\": {\"m/acc\": %.17g}}]}",
             platform, s1, s2);
    return cJSON_Parse(text);
}

static void test_verdict__check_and_compare_agree(void) {
    cJSON *before = doc("Haswell", 0.8000, 0.8002), *tiny = doc("Haswell", 0.7990, 0.7992),
          *big = doc("Haswell", 0.7700, 0.7702);
    ml_gate_summary sum;
    ml_gate_rows rows = { 0 };
    ML_ASSERT(before && tiny && big);
    /* check: the tiny drop is certain (interval below 0) but within tolerance */
    ML_ASSERT_EQ_INT(0, ml_gate_check(&sum, NULL, tiny, before, &rows));
    ML_ASSERT_EQ_INT(0, sum.regressed);
    ML_ASSERT_MSG(rows.rows[0].ci_hi < 0, "the tiny drop should be beyond noise: [%g, %g]", rows.rows[0].ci_lo,
                  rows.rows[0].ci_hi);
    ml_gate_rows_free(&rows);
    ML_ASSERT_EQ_INT(0, ml_gate_check(&sum, NULL, big, before, &rows));
    ML_ASSERT_EQ_INT(1, sum.regressed);
    ml_gate_rows_free(&rows);
    cJSON_Delete(before);
    cJSON_Delete(tiny);
    cJSON_Delete(big);
    /* compare, through the CLI on a results store of two commits */
    char repo[256], bin[4096], *out = NULL;
    const char *ml_bin = getenv("ML_BIN");
    ML_ASSERT(ml_bin != NULL && realpath(ml_bin, bin) != NULL);
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(repo, sizeof(repo), "verdict"));
    const char *git = "git -c user.name=t -c user.email=t@t -c init.defaultBranch=main";
    int rc = ml_t_sh(&out, "cd %s && %s init -q && %s commit -q --allow-empty -m a && %s commit -q --allow-empty -m b && "
                     "%s commit -q --allow-empty -m c", repo, git, git, git, git);
    ML_ASSERT_MSG(rc == 0, "%s", out);
    free(out);
    static const double vals[3][2] = { { 0.8000, 0.8002 }, { 0.7990, 0.7992 }, { 0.7700, 0.7702 } };
    static const char *const revs[3] = { "HEAD~2", "HEAD~1", "HEAD" };
    for (int k = 0; k < 3; k++) {
        char *hex = NULL, path[600];
        ML_ASSERT_EQ_INT(0, ml_t_sh(&hex, "cd %s && git rev-parse %s", repo, revs[k]));
        hex[strcspn(hex, "\n")] = '\0';
        snprintf(path, sizeof(path), "%s/results/box/%s/v.json", repo, hex);
        free(hex);
        cJSON *d = doc("Haswell", vals[k][0], vals[k][1]);
        char *text = cJSON_Print(d);
        cJSON_Delete(d);
        ML_ASSERT_EQ_INT(0, ml_t_sh(NULL, "mkdir -p $(dirname %s)", path));
        FILE *f = fopen(path, "w");
        ML_ASSERT(f != NULL);
        fputs(text, f);
        fclose(f);
        free(text);
    }
    const char *env = "MERGELAB_MACHINE=box MERGELAB_RESULTS=results";
    rc = ml_t_sh(&out, "cd %s && %s %s compare HEAD~2 HEAD~1", repo, env, bin);
    ML_ASSERT_MSG(rc == 0, "%s", out);
    ML_ASSERT_MSG(strstr(out, "same (within tolerance)") && !strstr(out, "WORSE"),
                  "compare calls a certain drop within tolerance a regression:\n%s", out);
    free(out);
    rc = ml_t_sh(&out, "cd %s && %s %s compare HEAD~2 HEAD", repo, env, bin);
    ML_ASSERT_MSG(rc == 0 && strstr(out, "WORSE"), "compare misses a drop beyond tolerance and noise:\n%s", out);
    free(out);
    /* history: HEAD~1 not flagged, HEAD flagged */
    rc = ml_t_sh(&out, "cd %s && %s %s history m/acc --csv", repo, env, bin);
    ml_t_rmrf(repo);
    ML_ASSERT_MSG(rc == 0, "%s", out);
    int flags = 0;
    for (const char *p = out; (p = strstr(p, ",1\n")); p++) flags++;
    ML_ASSERT_MSG(flags == 1, "history flagged %d commits, want 1 (the big drop):\n%s", flags, out);
    free(out);
}

const ml_test ml_tests_verdict[] = {
    { "verdict__hand_computed", test_verdict__hand_computed, "unit" },
    { "verdict__check_and_compare_agree", test_verdict__check_and_compare_agree, "e2e" },
    { NULL, NULL, NULL }
};

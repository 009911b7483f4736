/*
 * tests/test_findings.c: the F1-F4 evaluator (analysis/findings.c).
 * Covers: synthetic results over three lengths and three seeds where every finding holds,
 *         the same with every finding contradicted (each must then read "not held": a
 *         check that cannot fail is a defect), one seed (inconclusive throughout), a
 *         hand-computed effect and interval, the CKA correlation's sign, what is missing
 *         (no CKA, one length, one router size), an unknown id, and the suite key.
 */
#include "tests/test.h"
#include "tests/util.h"

#include "core/error.h"
#include "core/fs.h"
#include "analysis/findings.h"
#include "suite/suite.h"

#include <stdlib.h>

#define T975_2 4.302652729749464

enum { M_BASE, M_A, M_B, M_DIRECT, M_AVG, M_INTERP, M_R1, M_R2, NM };
static const char *const mname[NM] = { "base", "A", "B", "direct", "average", "interpolate", "router_k1", "router_k2" };
static const char *const mrole[NM] = { "base", "specialist", "specialist", "direct", "merge", "merge", "merge", "merge" };
static const char *const mmethod[NM] = { NULL, NULL, NULL, NULL, "average", "interpolate", "router", "router" };

/* A scenario: the target loss of model m at length index l for seed k, and the CKA of the
 * specialists at step s (0, 50, last) for length l and seed k. */
typedef struct {
    double (*loss)(int m, int l, int k);
    double (*cka)(int s, int l, int k);
    double (*valid)(int m, int l, int k);   /* the validation loss, or NULL: results without it */
} scenario;

static cJSON *make_doc(const scenario *sc, int nlen, int nseed) {
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "schema_version", 2);
    cJSON *gate = cJSON_AddArrayToObject(doc, "gate");
    cJSON *rule = cJSON_CreateObject();
    cJSON_AddStringToObject(rule, "match", "*/loss");
    cJSON_AddStringToObject(rule, "direction", "lower");
    cJSON_AddItemToArray(gate, rule);
    cJSON *cells = cJSON_AddArrayToObject(doc, "cells");
    for (int l = 0; l < nlen; l++)
        for (int k = 0; k < nseed; k++) {
            char grp[64], name[96];
            int len = 100 << l;
            snprintf(grp, sizeof(grp), "finetune.steps=%d", len);
            snprintf(name, sizeof(name), "seed=%d,%s", k + 1, grp);
            cJSON *c = cJSON_CreateObject();
            cJSON_AddStringToObject(c, "name", name);
            cJSON_AddStringToObject(c, "group", grp);
            cJSON_AddStringToObject(c, "status", "ok");
            cJSON_AddNumberToObject(c, "seed", k + 1);
            cJSON *params = cJSON_AddObjectToObject(c, "params");
            cJSON_AddNumberToObject(params, "finetune.steps", len);
            cJSON *models = cJSON_AddArrayToObject(c, "models"), *met = cJSON_AddObjectToObject(c, "metrics");
            for (int m = 0; m < NM; m++) {
                cJSON *mo = cJSON_CreateObject();
                char key[64];
                cJSON_AddStringToObject(mo, "name", mname[m]);
                cJSON_AddStringToObject(mo, "role", mrole[m]);
                if (mmethod[m]) cJSON_AddStringToObject(mo, "method", mmethod[m]);
                if (m == M_R1 || m == M_R2) {
                    cJSON *r = cJSON_AddObjectToObject(mo, "router");
                    cJSON_AddNumberToObject(r, "layers", m == M_R1 ? 1 : 2);
                }
                cJSON_AddItemToArray(models, mo);
                snprintf(key, sizeof(key), "%s/loss", mname[m]);
                cJSON_AddNumberToObject(met, key, sc->loss(m, l, k));
                if (sc->valid) {
                    snprintf(key, sizeof(key), "%s/valid_loss", mname[m]);
                    cJSON_AddNumberToObject(met, key, sc->valid(m, l, k));
                }
            }
            if (sc->cka) {
                cJSON *cka = cJSON_AddObjectToObject(c, "cka");
                double steps[3] = { 0, 50, len };
                cJSON_AddItemToObject(cka, "steps", cJSON_CreateDoubleArray(steps, 3));
                cJSON *over = cJSON_AddArrayToObject(cka, "over_steps");
                cJSON *deb = cJSON_AddArrayToObject(cka, "over_steps_debiased");   /* a little lower */
                for (int layer = 0; layer < 2; layer++) {
                    double row[3];
                    for (int s = 0; s < 3; s++) row[s] = sc->cka(s, l, k) - 0.05 * layer * (s > 0);
                    cJSON_AddItemToArray(over, cJSON_CreateDoubleArray(row, 3));
                    for (int s = 0; s < 3; s++) row[s] -= 0.01 * (s > 0);
                    cJSON_AddItemToArray(deb, cJSON_CreateDoubleArray(row, 3));
                }
            }
            cJSON_AddItemToArray(cells, c);
        }
    return doc;
}

/* The same numbers as one run per seed that kept its states at points 100, 200, 400
 * (finetune.points): one group, and per cell points[{step, metrics}] with a CKA track
 * measured at those steps. */
static cJSON *make_doc_points(const scenario *sc, int nlen, int nseed) {
    cJSON *doc = make_doc(sc, nlen, nseed), *cells = cJSON_CreateArray();
    cJSON *old = cJSON_DetachItemFromObjectCaseSensitive(doc, "cells");
    for (int k = 0; k < nseed; k++) {
        cJSON *c = cJSON_Duplicate(cJSON_GetArrayItem(old, (nlen - 1) * nseed + k), 1);   /* the longest */
        char name[32];
        snprintf(name, sizeof(name), "seed=%d", k + 1);
        cJSON_ReplaceItemInObject(c, "name", cJSON_CreateString(name));
        cJSON_ReplaceItemInObject(c, "group", cJSON_CreateString("default"));
        cJSON_ReplaceItemInObject(c, "params", cJSON_CreateObject());
        cJSON *pts = cJSON_AddArrayToObject(c, "points");
        double steps[8] = { 0 };
        cJSON *over = cJSON_CreateArray(), *rows[2] = { cJSON_CreateArray(), cJSON_CreateArray() };
        for (int layer = 0; layer < 2; layer++) cJSON_AddItemToArray(rows[layer], cJSON_CreateNumber(1.0));
        for (int l = 0; l < nlen; l++) {
            const cJSON *src = cJSON_GetArrayItem(old, l * nseed + k);
            cJSON *pt = cJSON_CreateObject();
            cJSON_AddNumberToObject(pt, "step", 100 << l);
            cJSON_AddItemToObject(pt, "metrics", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(src, "metrics"), 1));
            cJSON_AddItemToArray(pts, pt);
            steps[l + 1] = 100 << l;
            /* CKA at this point = what that length's cell had at its end */
            const cJSON *ov = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(src, "cka"), "over_steps");
            for (int layer = 0; layer < 2; layer++)
                cJSON_AddItemToArray(rows[layer], cJSON_CreateNumber(cJSON_GetArrayItem(cJSON_GetArrayItem(ov, layer), 2)->valuedouble));
        }
        for (int layer = 0; layer < 2; layer++) cJSON_AddItemToArray(over, rows[layer]);
        cJSON *cka = cJSON_GetObjectItemCaseSensitive(c, "cka");
        cJSON_ReplaceItemInObject(cka, "steps", cJSON_CreateDoubleArray(steps, nlen + 1));
        cJSON_ReplaceItemInObject(cka, "over_steps_debiased", cJSON_Duplicate(over, 1));
        cJSON_ReplaceItemInObject(cka, "over_steps", over);
        cJSON_AddItemToArray(cells, c);
    }
    cJSON_Delete(old);
    cJSON_AddItemToObject(doc, "cells", cells);
    return doc;
}

static const cJSON *row(const cJSON *rows, const char *id) {
    for (const cJSON *f = rows ? rows->child : NULL; f; f = f->next)
        if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "id")), id)) return f;
    return NULL;
}

static const char *verdict(const cJSON *rows, const char *id) {
    const cJSON *f = row(rows, id);
    return f ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "verdict")) : "(missing)";
}

static double field(const cJSON *rows, const char *id, const char *key) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(row(rows, id), key);
    return cJSON_IsNumber(j) ? j->valuedouble : NAN;
}

/* How many of the nine rows every test suite here produces do not read `want`
 * (each printed). */
static int count_other(const cJSON *rows, const char *want) {
    static const char *const ids[] = { "F1", "F1 debiased", "F2", "F3a", "F3b", "F4 weight averaging", "F4 interpolation",
                                       "F4 single-layer router", "F4 multi-layer router" };
    int bad = 0;
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        if (strcmp(verdict(rows, ids[i]), want)) {
            fprintf(stderr, "    %s: %s, want %s\n", ids[i], verdict(rows, ids[i]), want);
            bad++;
        }
    return bad;
}

static cJSON *eval_all(const scenario *sc, int nlen, int nseed) {
    ml_findings_spec spec = { .n = 4, .ids = { "F1", "F2", "F3", "F4" } };
    cJSON *doc = make_doc(sc, nlen, nseed), *rows = NULL;
    int rc = ml_findings_eval(&rows, doc, &spec);
    cJSON_Delete(doc);
    return rc == 0 ? rows : NULL;
}

/* ---- the paper's picture: every finding holds ---------------------------------------- */

/* seeds differ a little (0.01 k); longer specialists (l) make every merge worse and CKA lower */
static double good_loss(int m, int l, int k) {
    static const double at0[NM] = { 2.0, 2.6, 2.7, 1.0, 1.8, 1.7, 1.4, 1.3 };
    double drift = (m == M_AVG || m == M_INTERP || m == M_R1 || m == M_R2) ? 0.1 * l : 0.0;
    return at0[m] + drift + 0.01 * k;
}
static double good_cka(int s, int l, int k) { return s == 0 ? 1.0 : s == 1 ? 0.97 - 0.003 * k : 0.9 - 0.1 * l - 0.002 * k; }

static void test_findings__paper_picture_holds(void) {
    scenario sc = { good_loss, good_cka, NULL };
    cJSON *rows = eval_all(&sc, 3, 3);
    ML_ASSERT_MSG(rows != NULL, "%s", ml_error_last()->message);
    int bad = count_other(rows, "held");
    /* F2's effect is direct's margin over the closest merge (router_k2 at the shortest
     * length): 0.3 in every seed, so the interval has no width */
    double e = field(rows, "F2", "effect"), lo = field(rows, "F2", "ci_lo");
    const char *detail = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row(rows, "F4 interpolation"), "detail"));
    int corr = detail && strstr(detail, "r = 1.000") != NULL;   /* quality falls exactly with CKA here */
    char *d = detail ? strdup(detail) : NULL;
    cJSON_Delete(rows);
    ML_ASSERT_EQ_INT(0, bad);
    ML_ASSERT_NEAR(0.3, e, 1e-12, 0);
    ML_ASSERT_NEAR(0.3, lo, 1e-12, 0);
    ML_ASSERT_MSG(corr, "F4 detail lacks the CKA correlation r = 1.000: %s", d ? d : "(none)");
    free(d);
}

/* The same study from points kept inside one run per seed gives the same F2-F4 verdicts
 * and effects as one run per length. */
static void test_findings__points_inside_a_run(void) {
    scenario sc = { good_loss, good_cka, NULL };
    ml_findings_spec spec = { .n = 3, .ids = { "F2", "F3", "F4" } };
    cJSON *a = make_doc(&sc, 3, 3), *b = make_doc_points(&sc, 3, 3), *ra = NULL, *rb = NULL;
    ML_ASSERT_EQ_INT(0, ml_findings_eval(&ra, a, &spec));
    ML_ASSERT_EQ_INT(0, ml_findings_eval(&rb, b, &spec));
    cJSON_Delete(a);
    cJSON_Delete(b);
    int same = cJSON_GetArraySize(ra) == cJSON_GetArraySize(rb), n = 0;
    for (const cJSON *x = ra->child; same && x; x = x->next, n++) {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "id"));
        same &= !strcmp(verdict(ra, id), verdict(rb, id)) && !strcmp(verdict(rb, id), "held");
        same &= fabs(field(ra, id, "effect") - field(rb, id, "effect")) < 1e-12;
        if (!same) fprintf(stderr, "    %s: %s %g vs %s %g\n", id, verdict(ra, id), field(ra, id, "effect"),
                           verdict(rb, id), field(rb, id, "effect"));
    }
    const char *d = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row(rb, "F4 weight averaging"), "detail"));
    int corr = d && strstr(d, "r = 1.000") != NULL;
    cJSON_Delete(ra);
    cJSON_Delete(rb);
    ML_ASSERT_MSG(same && n >= 6, "points and groups disagree");
    ML_ASSERT_MSG(corr, "the CKA at each point was not used");
}

/* ---- the opposite: every finding contradicted ------------------------------------------ */

/* CKA rises, a weight average beats direct, interpolation beats the routers, k = 2 is worse
 * than k = 1, and merges improve with length */
static double bad_loss(int m, int l, int k) {
    static const double at0[NM] = { 2.0, 2.6, 2.7, 1.0, 0.9, 0.95, 1.4, 1.6 };
    double drift = (m == M_AVG || m == M_INTERP || m == M_R1 || m == M_R2) ? -0.02 * l : 0.0;
    return at0[m] + drift + 0.01 * k * (m == M_R2 ? 2 : 1);
}
static double bad_cka(int s, int l, int k) { return s == 0 ? 1.0 : s == 1 ? 0.8 - 0.004 * k : 0.9 + 0.01 * l - 0.001 * k; }

static void test_findings__contradicted_is_not_held(void) {
    scenario sc = { bad_loss, bad_cka, NULL };
    cJSON *rows = eval_all(&sc, 3, 3);
    ML_ASSERT_MSG(rows != NULL, "%s", ml_error_last()->message);
    int bad = count_other(rows, "not held");
    cJSON_Delete(rows);
    ML_ASSERT_EQ_INT(0, bad);
}

/* ---- one seed, noise, and a hand-computed interval ------------------------------------- */

static void test_findings__one_seed_is_inconclusive(void) {
    scenario sc = { good_loss, good_cka, NULL };
    cJSON *rows = eval_all(&sc, 3, 1);
    ML_ASSERT(rows != NULL);
    int bad = 0;
    for (const cJSON *f = rows->child; f; f = f->next)
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "verdict")), "inconclusive")) bad++;
    double e = field(rows, "F2", "effect"), lo = field(rows, "F2", "ci_lo");
    cJSON_Delete(rows);
    ML_ASSERT_EQ_INT(0, bad);
    ML_ASSERT_NEAR(0.3, e, 1e-12, 0);   /* the effect is still reported */
    ML_ASSERT(isnan(lo));                /* without an interval */
}

/* direct 1.00, 1.01, 1.02 against an average at 1.10, 1.13, 1.16 (one length): margins
 * 0.10, 0.12, 0.14: mean 0.12, sd 0.02 */
static double hand_loss(int m, int l, int k) {
    (void)l;
    if (m == M_DIRECT) return 1.0 + 0.01 * k;
    if (m == M_AVG) return 1.1 + 0.03 * k;
    return 5.0;   /* everything else far worse */
}

static void test_findings__hand_computed_interval(void) {
    scenario sc = { hand_loss, NULL, NULL };
    ml_findings_spec spec = { .n = 2, .ids = { "F2", "F1" } };
    cJSON *doc = make_doc(&sc, 1, 3), *rows = NULL;
    ML_ASSERT_EQ_INT(0, ml_findings_eval(&rows, doc, &spec));
    cJSON_Delete(doc);
    double e = field(rows, "F2", "effect"), lo = field(rows, "F2", "ci_lo"), hi = field(rows, "F2", "ci_hi");
    const char *v1 = verdict(rows, "F1");
    int f1_says = strstr(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row(rows, "F1"), "detail")), "no CKA") != NULL;
    int first_is_f2 = rows->child && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rows->child, "id")), "F2");
    double half = T975_2 * 0.02 / sqrt(3.0);
    ML_ASSERT_NEAR(0.12, e, 1e-12, 0);
    ML_ASSERT_NEAR(0.12 - half, lo, 1e-12, 0);
    ML_ASSERT_NEAR(0.12 + half, hi, 1e-12, 0);
    ML_ASSERT_MSG(!strcmp(v1, "inconclusive") && f1_says, "F1 without CKA: %s", v1);
    ML_ASSERT_MSG(first_is_f2, "findings not in the order asked");
    cJSON_Delete(rows);
    /* one length and one router size: F4 and F3b say what they need */
    sc.loss = good_loss;
    sc.cka = good_cka;
    spec = (ml_findings_spec){ .n = 2, .ids = { "F4", "F3" } };
    doc = make_doc(&sc, 1, 3);
    ML_ASSERT_EQ_INT(0, ml_findings_eval(&rows, doc, &spec));
    cJSON_Delete(doc);
    const char *d4 = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row(rows, "F4 interpolation"), "detail"));
    int needs = d4 && strstr(d4, "two or more fine-tuning lengths");
    int f4_inc = !strcmp(verdict(rows, "F4 interpolation"), "inconclusive");
    cJSON_Delete(rows);
    ML_ASSERT_MSG(needs && f4_inc, "F4 with one length: %s", d4 ? d4 : "(none)");
    /* an unknown id */
    spec = (ml_findings_spec){ .n = 1, .ids = { "F5" } };
    doc = make_doc(&sc, 1, 1);
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_findings_eval(&rows, doc, &spec));
    cJSON_Delete(doc);
    ML_ASSERT_STR_HAS(ml_error_last()->message, "unknown finding \"F5\"");
}

/* F2 rests on its least certain pair: an average whose margin over seeds (0.9, -0.3, 0.6)
 * straddles 0 makes F2 inconclusive even though interpolation (a steady 0.1) is closer on
 * average; the row must show the average, whose interval contains 0. */
static double spread_loss(int m, int l, int k) {
    (void)l;
    static const double avg[3] = { 1.9, 0.7, 1.6 };
    if (m == M_DIRECT) return 1.0;
    if (m == M_AVG) return avg[k];
    if (m == M_INTERP) return 1.1;
    return 5.0;
}

static void test_findings__row_agrees_with_verdict(void) {
    scenario sc = { spread_loss, NULL, NULL };
    ml_findings_spec spec = { .n = 1, .ids = { "F2" } };
    cJSON *doc = make_doc(&sc, 1, 3), *rows = NULL;
    ML_ASSERT_EQ_INT(0, ml_findings_eval(&rows, doc, &spec));
    cJSON_Delete(doc);
    char v[32];
    snprintf(v, sizeof(v), "%s", verdict(rows, "F2"));
    double lo = field(rows, "F2", "ci_lo"), hi = field(rows, "F2", "ci_hi"), e = field(rows, "F2", "effect");
    const char *d = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row(rows, "F2"), "detail"));
    int names_avg = d && strstr(d, "against average") != NULL;
    cJSON_Delete(rows);
    ML_ASSERT_MSG(!strcmp(v, "inconclusive"), "F2: %s", v);
    ML_ASSERT_MSG(lo < 0 && hi > 0, "the row's interval [%g, %g] does not contain 0", lo, hi);
    ML_ASSERT_NEAR(0.4, e, 1e-12, 0);
    ML_ASSERT(names_avg);
}

/* ---- the suite key ----------------------------------------------------------------------- */

/* ---- choices on the validation split ---------------------------------------------------- */

/* One length, where the validation and test orderings disagree: on test the best router is
 * router_k1 (1.3) and the best fixed merge interpolate (1.7); on validation they are
 * router_k2 and average. F3a must compare the validation choices on test:
 * 1.9 - 1.4 = 0.5 (the test choices would give 1.7 - 1.3 = 0.4). */
static double sel_test(int m, int l, int k) {
    static const double v[NM] = { 2.0, 2.6, 2.7, 1.0, 1.9, 1.7, 1.3, 1.4 };
    (void)l;
    return v[m] + 0.01 * k;
}
static double sel_valid(int m, int l, int k) {
    static const double v[NM] = { 2.0, 2.6, 2.7, 1.0, 1.75, 1.9, 1.5, 1.2 };
    (void)l;
    return v[m] + 0.01 * k;
}

static void test_findings__choices_on_validation(void) {
    ml_findings_spec spec = { .n = 1, .ids = { "F3" } };
    scenario sc = { sel_test, NULL, sel_valid };
    cJSON *doc = make_doc(&sc, 1, 3), *rows = NULL;
    ML_ASSERT_EQ_INT(0, ml_findings_eval(&rows, doc, &spec));
    cJSON_Delete(doc);
    double e = field(rows, "F3a", "effect");
    const cJSON *f = row(rows, "F3a");
    char *detail = strdup(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "detail")));
    char *on = strdup(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "selected_on")));
    cJSON_Delete(rows);
    /* negative control: the same results without validation losses choose on test, and say so */
    scenario old = { sel_test, NULL, NULL };
    doc = make_doc(&old, 1, 3);
    ML_ASSERT_EQ_INT(0, ml_findings_eval(&rows, doc, &spec));
    cJSON_Delete(doc);
    double e_test = field(rows, "F3a", "effect");
    char *on_test = strdup(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row(rows, "F3a"), "selected_on")));
    char *detail_test = strdup(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row(rows, "F3a"), "detail")));
    cJSON_Delete(rows);
    ML_ASSERT_NEAR(0.5, e, 1e-12, 0);
    ML_ASSERT_MSG(strstr(detail, "router_k2 over average") != NULL, "F3a compared %s", detail);
    ML_ASSERT_MSG(!strcmp(on, "validation") && strstr(detail, "validation split"), "selected on %s: %s", on, detail);
    ML_ASSERT_NEAR(0.4, e_test, 1e-12, 0);
    ML_ASSERT_MSG(!strcmp(on_test, "test") && strstr(detail_test, "TEST split"), "selected on %s: %s", on_test,
                  detail_test);
    free(detail); free(on); free(on_test); free(detail_test);
}

/* ---- several bases ---------------------------------------------------------------------- */

/* 3 bases x 2 seeds: direct 1.0, the average 1.1 + 0.1 b + 0.01 s (every other merge far
 * worse), so direct's margin per replicate is 0.1 + 0.1 b + 0.01 s. Per base: 0.215, 0.315,
 * 0.415; the interval is over those three means: 0.315 +- t(0.975, 2) 0.1 / sqrt(3), with
 * sd 0.1 between bases and sqrt(6 * 0.005^2 / 3) = 0.0070711 between seeds of a base. */
static double bases_loss(int m, int l, int k) {
    (void)l;
    if (m == M_DIRECT) return 1.0;
    if (m == M_AVG) return 1.1 + 0.1 * (k / 2 + 1) + 0.01 * (k % 2 + 1);
    return 3.0;
}

/* CKA that falls with the step, a little differently per cell */
static double bases_cka(int s, int l, int k) {
    (void)l;
    return 1.0 - 0.1 * s - 0.001 * k;
}

static void test_findings__bases_interval_covers_the_base(void) {
    ml_findings_spec spec = { .n = 2, .ids = { "F2", "F1" } };
    scenario sc = { bases_loss, bases_cka, NULL };
    cJSON *doc = make_doc(&sc, 1, 6), *rows = NULL;
    int k = 0;
    for (cJSON *c = cJSON_GetObjectItemCaseSensitive(doc, "cells")->child; c; c = c->next, k++) {
        cJSON_ReplaceItemInObject(c, "seed", cJSON_CreateNumber(k % 2 + 1));
        cJSON_AddNumberToObject(c, "pretrain_seed", k / 2 + 1);
    }
    ML_ASSERT_EQ_INT(0, ml_findings_eval(&rows, doc, &spec));
    double e = field(rows, "F2", "effect"), lo = field(rows, "F2", "ci_lo"), hi = field(rows, "F2", "ci_hi");
    double n = field(rows, "F2", "n"), nb = field(rows, "F2", "bases");
    double sdb = field(rows, "F2", "sd_between_bases"), sdw = field(rows, "F2", "sd_within_base");
    /* F1's detail counts what its interval is over: the bases, not the seeds */
    const char *d1 = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row(rows, "F1"), "detail"));
    int f1_counts_bases = d1 && strstr(d1, "; 3 bases;") && !strstr(d1, "seeds;");
    char *d1copy = d1 ? strdup(d1) : NULL;
    cJSON_Delete(rows);
    ML_ASSERT_MSG(f1_counts_bases, "F1's detail does not count the 3 bases: %s", d1copy ? d1copy : "(none)");
    free(d1copy);
    /* negative control: the same numbers as six independent seeds (no pretrain_seed) give
     * the narrower interval that ignores the base */
    for (cJSON *c = cJSON_GetObjectItemCaseSensitive(doc, "cells")->child; c; c = c->next)
        cJSON_DeleteItemFromObjectCaseSensitive(c, "pretrain_seed");
    k = 0;
    for (cJSON *c = cJSON_GetObjectItemCaseSensitive(doc, "cells")->child; c; c = c->next, k++)
        cJSON_ReplaceItemInObject(c, "seed", cJSON_CreateNumber(k + 1));
    ML_ASSERT_EQ_INT(0, ml_findings_eval(&rows, doc, &spec));
    double lo6 = field(rows, "F2", "ci_lo"), n6 = field(rows, "F2", "n"), nb6 = field(rows, "F2", "bases");
    cJSON_Delete(rows);
    /* cells without seeds (a damaged file): each is a replicate of its own, and the
     * evaluation ends (a base that is not a number once looped past the table) */
    for (cJSON *c = cJSON_GetObjectItemCaseSensitive(doc, "cells")->child; c; c = c->next)
        cJSON_DeleteItemFromObjectCaseSensitive(c, "seed");
    ML_ASSERT_EQ_INT(0, ml_findings_eval(&rows, doc, &spec));
    cJSON_Delete(rows);
    cJSON_Delete(doc);
    double half = T975_2 * 0.1 / sqrt(3.0);
    ML_ASSERT_NEAR(0.315, e, 1e-12, 1e-12);
    ML_ASSERT_NEAR(0.315 - half, lo, 1e-9, 1e-9);
    ML_ASSERT_NEAR(0.315 + half, hi, 1e-9, 1e-9);
    ML_ASSERT_NEAR(3, n, 0, 0);
    ML_ASSERT_NEAR(3, nb, 0, 0);
    ML_ASSERT_NEAR(0.1, sdb, 1e-9, 1e-9);
    ML_ASSERT_NEAR(0.0070710678, sdw, 1e-9, 1e-6);
    ML_ASSERT_NEAR(6, n6, 0, 0);
    ML_ASSERT(isnan(nb6));                   /* one base per seed: no spreads */
    ML_ASSERT(lo6 > lo + 0.1);
}

static void test_findings__suite_key(void) {
    char *src = NULL, dir[256], path[512];
    size_t len;
    ml_suite *s = NULL;
    ML_ASSERT_EQ_INT(0, ml_fs_read_all(&src, &len, "suites/smoke.json"));
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "findings"));
    static const struct { const char *to, *want; } cases[] = {
        { "\"findings\": {\"check\": [\"F1\", \"F4\"], \"metric\": \"test_loss\"},\n  \"gate\": [", NULL },
        { "\"findings\": {\"check\": [\"F5\"]},\n  \"gate\": [", "$.findings.check[0]" },
        { "\"findings\": {\"check\": [\"F1\", \"F1\"]},\n  \"gate\": [", "$.findings.check[1]: \"F1\" is listed twice" },
        { "\"findings\": {\"check\": []},\n  \"gate\": [", "$.findings.check: expected an array of 1..4" },
        { "\"findings\": {\"check\": [\"F2\"], \"metric\": \"direct/loss\"},\n  \"gate\": [", "$.findings.metric" },
        { "\"findings\": {\"checks\": [\"F2\"]},\n  \"gate\": [", "$.findings" },
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *edited = ml_t_replace(src, "\"gate\": [", cases[i].to);
        ml_t_write(path, sizeof(path), dir, "s.json", edited ? edited : "");
        free(edited);
        int rc = ml_suite_load(&s, path);
        if (!cases[i].want) {
            if (rc != 0 || s->findings.n != 2 || strcmp(s->findings.ids[1], "F4") || strcmp(s->findings.metric, "test_loss")) {
                fprintf(stderr, "    case %zu: rc %d %s\n", i, rc, ml_error_last()->message);
                bad++;
            }
        } else if (rc != ML_EINVALID || !strstr(ml_error_last()->message, cases[i].want)) {
            fprintf(stderr, "    case %zu: rc %d \"%s\", want \"%s\"\n", i, rc, ml_error_last()->message, cases[i].want);
            bad++;
        }
        ml_suite_free(s);
        s = NULL;
    }
    free(src);
    ml_t_rmrf(dir);
    ML_ASSERT_EQ_INT(0, bad);
}

const ml_test ml_tests_findings[] = {
    { "findings__paper_picture_holds", test_findings__paper_picture_holds, "unit" },
    { "findings__points_inside_a_run", test_findings__points_inside_a_run, "unit" },
    { "findings__contradicted_is_not_held", test_findings__contradicted_is_not_held, "unit" },
    { "findings__one_seed_is_inconclusive", test_findings__one_seed_is_inconclusive, "unit" },
    { "findings__hand_computed_interval", test_findings__hand_computed_interval, "unit" },
    { "findings__row_agrees_with_verdict", test_findings__row_agrees_with_verdict, "unit" },
    { "findings__choices_on_validation", test_findings__choices_on_validation, "unit" },
    { "findings__bases_interval_covers_the_base", test_findings__bases_interval_covers_the_base, "unit" },
    { "findings__suite_key", test_findings__suite_key, "unit" },
    { 0 }
};

/*
 * tests/test_gpt_tasks.c: the GPT on the text tasks: teacher-forced exact
 * match equals real greedy decoding, and the gpt-smoke suite end to end
 * (runs, learns, is reproducible, gates, keeps frozen groups at the base).
 */
#include "tests/test.h"
#include "tests/util.h"
#include "core/error.h"
#include "core/fs.h"
#include "data/text.h"
#include "store/results.h"
#include "kernels/adamw.h"
#include "kernels/gpt.h"
#include "kernels/layers.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A tiny GPT overfits 4 target documents; the teacher-forced check and
 * step-by-step greedy decoding must agree on every document, seen (they
 * match) and unseen (they do not). */
static void test_gpt_tasks__exact_match_equals_greedy(void) {
    ml_gpt_config cfg = { ML_VOCAB_SIZE, 128, 2, 2, 32 };
    ml_corpus c = { 0 };
    ml_gpt *m = NULL, *g = NULL;
    ml_adamw *o = NULL;
    ml_adamw_config oc = { 3e-3f, 0.9f, 0.99f, 1e-8f, 0.0f };
    enum { NB = 8, T = 128 };
    int32_t x[NB * T], y[NB * T], seq[T];
    int prompt[NB], len[NB], match[NB], agree = 0, matched = 0;
    ML_ASSERT_EQ_INT(0, ml_corpus_generate(&c, ML_DOMAIN_TARGET, 7, ML_SPLIT_TRAIN, NB));
    ML_ASSERT_EQ_INT(0, ml_gpt_new(&m, &cfg, NB, T));
    ML_ASSERT_EQ_INT(0, ml_gpt_new(&g, &cfg, 1, T));
    ML_ASSERT_EQ_INT(0, ml_adamw_new(&o, &m->layout, &oc));
    ml_gpt_init(m, 3);
    for (int b = 0; b < NB; b++) {
        len[b] = c.doc_len[b] + 1;
        prompt[b] = c.doc_prompt[b];
        for (int t = 0; t < T; t++) {
            x[b * T + t] = t < len[b] ? c.tokens[c.doc_start[b] + t] : 0;
            y[b * T + t] = t + 1 < len[b] ? c.tokens[c.doc_start[b] + t + 1] : ML_IGNORE;
        }
    }
    /* learn only the first half of the documents */
    for (int step = 0; step < 400; step++) {
        ml_gpt_forward(m, x, y, NB / 2, T, -1, NULL);
        memset(m->grads, 0, m->layout.total * sizeof(float));
        ML_ASSERT_EQ_INT(0, ml_gpt_backward(m, x, y, NULL));
        ml_adamw_step(o, m->params, m->grads, 3e-3f, NULL);
    }
    ml_gpt_answer_matches(m, x, prompt, len, NB, T, match);
    memcpy(g->params, m->params, m->layout.total * sizeof(float));
    for (int b = 0; b < NB; b++) {
        memcpy(seq, x + b * T, (size_t)prompt[b] * sizeof(int32_t));
        ml_gpt_greedy(g, seq, prompt[b], len[b] - prompt[b]);
        int greedy_ok = !memcmp(seq + prompt[b], x + b * T + prompt[b], (size_t)(len[b] - prompt[b]) * sizeof(int32_t));
        agree += greedy_ok == match[b];
        matched += match[b];
    }
    ml_adamw_free(o);
    ml_gpt_free(m);
    ml_gpt_free(g);
    ml_corpus_free(&c);
    fprintf(stderr, "    %d of %d documents match; the two methods agree on %d\n", matched, NB, agree);
    ML_ASSERT_EQ_INT(NB, agree);
    ML_ASSERT(matched >= 1 && matched < NB);   /* both outcomes were exercised */
}

/* Gradient accumulation as the runner does it: two micro-batches of B,
 * backward accumulating, scaled by 1/2, equal one batch of 2B. */
static void test_gpt_tasks__grad_accumulation(void) {
    ml_gpt_config cfg = { 17, 8, 2, 2, 8 };
    enum { B = 3, T = 8 };
    ml_gpt *m = NULL;
    int32_t x[2 * B * T], y[2 * B * T];
    float *full = NULL;
    double maxdiff = 0.0, maxg = 0.0;
    ML_ASSERT_EQ_INT(0, ml_gpt_new(&m, &cfg, 2 * B, T));
    ml_gpt_init(m, 5);
    for (int i = 0; i < 2 * B * T; i++) { x[i] = (i * 7 + 3) % 17; y[i] = (i * 5 + 1) % 17; }
    full = malloc(m->layout.total * sizeof(float));
    memset(m->grads, 0, m->layout.total * sizeof(float));
    ml_gpt_forward(m, x, y, 2 * B, T, -1, NULL);
    ML_ASSERT_EQ_INT(0, ml_gpt_backward(m, x, y, NULL));
    memcpy(full, m->grads, m->layout.total * sizeof(float));
    memset(m->grads, 0, m->layout.total * sizeof(float));
    for (int k = 0; k < 2; k++) {
        ml_gpt_forward(m, x + k * B * T, y + k * B * T, B, T, -1, NULL);
        ML_ASSERT_EQ_INT(0, ml_gpt_backward(m, x + k * B * T, y + k * B * T, NULL));
    }
    for (size_t i = 0; i < m->layout.total; i++) {
        double d = fabs(0.5 * m->grads[i] - full[i]);
        if (d > maxdiff) maxdiff = d;
        if (fabs(full[i]) > maxg) maxg = fabs(full[i]);
    }
    /* the negative side: forgetting the 1/2 is caught by the same bound */
    double unscaled = 0.0;
    for (size_t i = 0; i < m->layout.total; i++) {
        double d = fabs(m->grads[i] - full[i]);
        if (d > unscaled) unscaled = d;
    }
    free(full);
    ml_gpt_free(m);
    ML_ASSERT_MSG(maxdiff <= 1e-6 + 1e-4 * maxg, "accumulated grads differ by %g (max |g| %g)", maxdiff, maxg);
    ML_ASSERT(unscaled > 1e-6 + 1e-4 * maxg);
}

static const char *gpt_smoke(void) { return ml_t_run_once("suites/gpt-smoke.json"); }

static double metric(cJSON *doc, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ml_t_metrics(doc), name);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void test_gpt_tasks__smoke_runs_and_learns(void) {
    const char *path = gpt_smoke();
    cJSON *doc = NULL;
    ML_ASSERT(path != NULL);
    ML_ASSERT_EQ_INT(0, ml_results_load(&doc, path));
    double base = metric(doc, "base/loss"), direct = metric(doc, "direct/loss");
    double math_own = metric(doc, "math/math_loss"), base_math = metric(doc, "base/math_loss");
    double code_own = metric(doc, "code/code_loss"), base_code = metric(doc, "base/code_loss");
    const cJSON *cka = cJSON_GetObjectItemCaseSensitive(ml_t_cell0(doc), "cka");
    const cJSON *over = cJSON_GetObjectItemCaseSensitive(cka, "over_steps");
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(cka, "over_steps_token");
    double first = cJSON_GetArrayItem(cJSON_GetArrayItem(over, 0), 0)->valuedouble;
    double first_tok = cJSON_GetArrayItem(cJSON_GetArrayItem(tok, 0), 0)->valuedouble;
    const cJSON *ft = cJSON_GetObjectItemCaseSensitive(ml_t_cell0(doc), "finetune");
    int frozen = (int)cJSON_GetObjectItemCaseSensitive(ft, "frozen_tensors")->valuedouble;
    int identical = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ft, "frozen_identical_to_base"));
    int ndata = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "provenance"), "data"));
    cJSON_Delete(doc);
    fprintf(stderr, "    target loss base %.4f direct %.4f; math %.4f (base %.4f); code %.4f (base %.4f)\n", base,
            direct, math_own, base_math, code_own, base_code);
    ML_ASSERT(isfinite(base) && isfinite(direct));
    ML_ASSERT_MSG(direct < base, "direct fine-tuning did not lower the target loss");
    ML_ASSERT_MSG(math_own < base_math && code_own < base_code, "a specialist did not improve on its own domain");
    ML_ASSERT_NEAR(1.0, first, 1e-5, 0);       /* the specialists start as the same base */
    ML_ASSERT_NEAR(1.0, first_tok, 1e-5, 0);
    ML_ASSERT(ndata >= 5);                     /* every corpus is recorded with its hash */
    /* gpt-smoke trains ["mlp"]: of 28 tensors (wte, wpe, 2 x 12 per block, lnf.w/b) the 2 x 4
     * MLP tensors train and the other 20 stay at the base */
    ML_ASSERT_EQ_INT(20, frozen);
    ML_ASSERT(identical);
}

/* Every merge of gpt-smoke produced a finite loss, and the selected ones
 * say what they selected and on which split's curve. */
static void test_gpt_tasks__smoke_merges_complete(void) {
    const char *path = gpt_smoke();
    cJSON *doc = NULL;
    int nonfinite = 0, merges = 0, routers = 0, interp_ok = 0, chosen_ok = 0;
    ML_ASSERT(path != NULL);
    ML_ASSERT_EQ_INT(0, ml_results_load(&doc, path));
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(ml_t_cell0(doc), "models");
    for (const cJSON *m = models->child; m; m = m->next) {
        const cJSON *loss = cJSON_GetObjectItemCaseSensitive(m, "loss");
        if (!cJSON_IsNumber(loss) || !isfinite(loss->valuedouble)) nonfinite++;
        if (strcmp(cJSON_GetObjectItemCaseSensitive(m, "role")->valuestring, "merge")) continue;
        merges++;
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "router");
        if (r && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "val_loss")) >= 2 &&
            cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(r, "selected_step")))
            routers++;
        const cJSON *vl = cJSON_GetObjectItemCaseSensitive(m, "val_loss");
        if (cJSON_GetObjectItemCaseSensitive(m, "alpha") && cJSON_GetArraySize(vl) == 11) interp_ok++;
        /* a mixture's valid_loss is its curve's value at the choice: the alpha's, the checkpoint's */
        double got = cJSON_GetObjectItemCaseSensitive(m, "valid_loss")->valuedouble, want = NAN;
        if (r) {
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "val_steps");
            int sel = (int)cJSON_GetObjectItemCaseSensitive(r, "selected_step")->valuedouble;
            for (int i = 0; i < cJSON_GetArraySize(st); i++)
                if ((int)cJSON_GetArrayItem(st, i)->valuedouble == sel)
                    want = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "val_loss"), i)->valuedouble;
        } else if (cJSON_GetArraySize(vl) == 11) {
            for (int i = 0; i < 11; i++)
                if (!(cJSON_GetArrayItem(vl, i)->valuedouble >= want)) want = cJSON_GetArrayItem(vl, i)->valuedouble;
        } else {
            continue;
        }
        if (got == want) chosen_ok++;
        else fprintf(stderr, "    %s: valid_loss %.9g, its curve at the choice %.9g\n",
                     cJSON_GetObjectItemCaseSensitive(m, "name")->valuestring, got, want);
    }
    cJSON_Delete(doc);
    ML_ASSERT_EQ_INT(0, nonfinite);
    ML_ASSERT_EQ_INT(12, merges);   /* the 12 merges gpt-smoke declares */
    ML_ASSERT_EQ_INT(2, routers);
    ML_ASSERT_EQ_INT(1, interp_ok);
    ML_ASSERT_EQ_INT(3, chosen_ok);   /* the interpolation and both routers */
}

static void test_gpt_tasks__smoke_reproducible(void) {
    const char *first = gpt_smoke();
    ML_ASSERT(first != NULL);
    int r = ml_t_rerun_identical("suites/gpt-smoke.json", first, "math/loss");
    ML_ASSERT_MSG(r != -2, "a one-ulp change to math/loss went unnoticed: the comparison cannot fail");
    ML_ASSERT_MSG(r == 1, "two runs of suites/gpt-smoke.json differ beyond timestamps (%d)", r);
}

static void test_gpt_tasks__smoke_gates_against_baseline(void) {
    const char *path = gpt_smoke();
    char *out = NULL;
    ML_ASSERT(path != NULL);
    int rc = ml_t_cli(&out, "check %s --baseline fixtures/baselines/gpt-smoke.json", path);
    if (rc != 0) fprintf(stderr, "%s", out);
    ML_ASSERT_EQ_INT(0, rc);
    free(out);
}

/* cka.probe_sweep: on the whole probe (n = probe_size) the sweep's CKA is the track's at
 * the last step, biased and debiased, bit for bit; on fewer examples biased CKA differs */
static void test_gpt_tasks__probe_sweep_matches_track(void) {
    const char *path = gpt_smoke();
    cJSON *doc = NULL;
    ML_ASSERT(path != NULL);
    ML_ASSERT_EQ_INT(0, ml_results_load(&doc, path));
    const cJSON *cka = cJSON_GetObjectItemCaseSensitive(ml_t_cell0(doc), "cka");
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(cka, "probe_sweep");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(sw, "n");
    int N = cJSON_GetArraySize(n), L = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cka, "layers")), same = 1,
        moved = 0, probe = (int)cJSON_GetObjectItemCaseSensitive(cka, "probe_size")->valuedouble;
    for (int l = 0; l < L && N > 0; l++) {
        const cJSON *lin = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(sw, "linear"), l);
        const cJSON *deb = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(sw, "debiased"), l);
        const cJSON *ol = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cka, "over_steps"), l);
        const cJSON *od = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cka, "over_steps_debiased"), l);
        same &= cJSON_GetArrayItem(lin, N - 1)->valuedouble == cJSON_GetArrayItem(ol, cJSON_GetArraySize(ol) - 1)->valuedouble;
        same &= cJSON_GetArrayItem(deb, N - 1)->valuedouble == cJSON_GetArrayItem(od, cJSON_GetArraySize(od) - 1)->valuedouble;
        moved |= cJSON_GetArrayItem(lin, 0)->valuedouble != cJSON_GetArrayItem(lin, N - 1)->valuedouble;
    }
    int last_n = N > 0 ? (int)cJSON_GetArrayItem(n, N - 1)->valuedouble : -1;
    cJSON_Delete(doc);
    ML_ASSERT_EQ_INT(3, N);
    ML_ASSERT_EQ_INT(probe, last_n);
    ML_ASSERT_MSG(same, "the sweep at n = probe_size differs from the CKA track at the last step");
    ML_ASSERT_MSG(moved, "CKA on 8 examples equals CKA on 32: the sweep did not use fewer examples");
}

/* The cell of a results document named `name`, or NULL. */
static const cJSON *cell_named(const cJSON *doc, const char *name) {
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(doc, "cells")) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(c, "name");
        if (cJSON_IsString(n) && !strcmp(n->valuestring, name)) return c;
    }
    return NULL;
}
static double cell_metric(const cJSON *cell, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cell, "metrics"), name);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Writes text as the suite file, runs it into dir/tag and loads its results
 * into *doc; 0, or -1 after saying why. */
static int run_variant(cJSON **doc, const char *suite, const char *text, const char *dir, const char *tag) {
    char sub[300], path[600], *out = NULL;
    if (!text || ml_fs_write_atomic(suite, text, strlen(text)) < 0) return -1;
    int rc = ml_t_cli(&out, "run %s -o %s/%s --quiet", suite, dir, tag);
    if (rc) fprintf(stderr, "    %s: exit %d\n%s\n", tag, rc, out);
    free(out);
    snprintf(sub, sizeof(sub), "%s/%s", dir, tag);
    ml_t_results_path(path, sizeof(path), sub, suite);
    return rc == 0 && ml_results_load(doc, path) == 0 ? 0 : -1;
}

/* finetune.warmup is used by fine-tuning: warmup 0 equals the optimizer's
 * (0 in the tiny suite) bit for bit, 60 of 60 steps trains other
 * specialists; and a suite whose target is target_prefix runs, scoring
 * every merge on that domain. */
static void test_gpt_tasks__finetune_warmup_and_prefix_target(void) {
    char dir[256], suite[512], *text = NULL;
    cJSON *doc = NULL, *plain = NULL;
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "warmup"));
    ML_ASSERT_EQ_INT(0, ml_t_tiny_suite(suite, sizeof(suite), dir, "{ \"finetune.warmup\": [0, 60] }", 0, 0));
    ML_ASSERT_EQ_INT(0, ml_fs_read_all(&text, NULL, suite));
    char *prefix = ml_t_replace(text, "\"data\": \"target\"", "\"data\": \"target_prefix\"");
    /* an axis replaces a value the suite has */
    char *axis = prefix ? ml_t_replace(prefix, "\"finetune\": { \"steps\": 60,", "\"finetune\": { \"steps\": 60, \"warmup\": 0,") : NULL;
    /* the same suite without the axis: the optimizer's warmup */
    char *none = prefix ? ml_t_replace(prefix, "{ \"finetune.warmup\": [0, 60] }", "{ \"seed\": [1] }") : NULL;
    int ra = run_variant(&doc, suite, axis, dir, "a");
    int rb = run_variant(&plain, suite, none, dir, "b");
    free(text);
    free(prefix);
    free(axis);
    free(none);
    ml_t_rmrf(dir);
    if (ra || rb) {
        cJSON_Delete(doc);
        cJSON_Delete(plain);
    }
    ML_ASSERT_EQ_INT(0, ra);
    ML_ASSERT_EQ_INT(0, rb);
    const cJSON *w0 = cell_named(doc, "finetune.warmup=0"), *w60 = cell_named(doc, "finetune.warmup=60");
    const cJSON *def = cell_named(plain, "seed=1");
    ML_ASSERT(w0 && w60 && def);
    double m0 = cell_metric(w0, "math/math_loss"), m60 = cell_metric(w60, "math/math_loss");
    double md = cell_metric(def, "math/math_loss"), avg = cell_metric(w0, "average/loss");
    double base = cell_metric(w0, "base/loss");
    cJSON_Delete(doc);
    cJSON_Delete(plain);
    fprintf(stderr, "    math loss: warmup 0 %.6f, default %.6f, warmup 60 %.6f; target_prefix loss: base %.4f average %.4f\n",
            m0, md, m60, base, avg);
    ML_ASSERT(isfinite(m0) && isfinite(m60) && isfinite(avg) && isfinite(base));
    ML_ASSERT_MSG(m0 == md, "finetune.warmup 0 differs from the optimizer's warmup 0");
    ML_ASSERT_MSG(m0 != m60, "finetune.warmup 60 trained the same specialists as warmup 0: the key is not used");
}

static void test_gpt_tasks__report(void) {
    const char *path = gpt_smoke();
    char dir[256], *out = NULL, png[512];
    ML_ASSERT(path != NULL);
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "gptreport"));
    int rc = ml_t_cli(&out, "report %s -o %s", path, dir);
    snprintf(png, sizeof(png), "%s/gpt-smoke_cka_probe.png", dir);
    int sweep_fig = access(png, F_OK) == 0;
    ml_t_rmrf(dir);
    ML_ASSERT_EQ_INT(0, rc);
    ML_ASSERT_MSG(sweep_fig, "the report has no CKA-against-probe-size figure (%s)", png);
    free(out);
}

const ml_test ml_tests_gpt_tasks[] = {
    { "gpt_tasks__exact_match_equals_greedy", test_gpt_tasks__exact_match_equals_greedy, "unit" },
    { "gpt_tasks__grad_accumulation", test_gpt_tasks__grad_accumulation, "unit" },
    { "gpt_tasks__smoke_runs_and_learns", test_gpt_tasks__smoke_runs_and_learns, "e2e" },
    { "gpt_tasks__smoke_merges_complete", test_gpt_tasks__smoke_merges_complete, "e2e" },
    { "gpt_tasks__smoke_reproducible", test_gpt_tasks__smoke_reproducible, "e2e" },
    { "gpt_tasks__smoke_gates_against_baseline", test_gpt_tasks__smoke_gates_against_baseline, "e2e" },
    { "gpt_tasks__probe_sweep_matches_track", test_gpt_tasks__probe_sweep_matches_track, "e2e" },
    { "gpt_tasks__report", test_gpt_tasks__report, "e2e" },
    { "gpt_tasks__finetune_warmup_and_prefix_target", test_gpt_tasks__finetune_warmup_and_prefix_target, "e2e" },
    { 0 }
};

/*
 * tests/test_suite.c: the suite parser. Every bad suite is the smoke suite
 * with one edit, so the fixtures cannot drift from the real format, and the
 * exact message is part of the contract (libgit2/sqlite style).
 */
#include "tests/test.h"
#include "tests/util.h"
#include "core/error.h"
#include "core/fs.h"
#include "suite/suite.h"

#include <glob.h>
#include <stdlib.h>

static char *smoke_src(void) {
    char *src = NULL;
    size_t len;
    if (ml_fs_read_all(&src, &len, "suites/smoke.json") < 0) return NULL;
    return src;
}

static int quiet;   /* the negative test expects mismatches: keep them off stderr */

/* Parses smoke.json with `from` replaced by `to`; expects ML_EINVALID and
 * `want` in the message. Returns 1 when it held. */
static int rejects(const char *from, const char *to, const char *want) {
    char *src = smoke_src(), *bad = src ? ml_t_replace(src, from, to) : NULL;
    ml_suite *s = (ml_suite *)1;
    int ok = 0;
    if (!bad) {
        fprintf(stderr, "    edit not applicable: '%s'\n", from);
    } else {
        int rc = ml_suite_parse(&s, "t.json", bad, strlen(bad));
        const char *msg = ml_error_last()->message;
        if (rc == 0) ml_suite_free(s);
        ok = rc == ML_EINVALID && s == NULL && strstr(msg, want) != NULL;
        if (!ok && !quiet) fprintf(stderr, "    rc %d, message \"%s\", wanted \"%s\"\n", rc, msg, want);
    }
    free(src);
    free(bad);
    return ok;
}

static void test_suite__smoke_parses(void) {
    ml_suite *s = NULL;
    ML_ASSERT_EQ_INT(0, ml_suite_load(&s, "suites/smoke.json"));
    ML_ASSERT(s != NULL);
    ML_ASSERT(!strcmp(s->name, "smoke"));
    ML_ASSERT_EQ_INT(2, s->nspecialists);
    ML_ASSERT_EQ_INT(5, s->specialists[0].nclasses);
    ML_ASSERT_EQ_INT(ML_MERGE_AVERAGE, s->merges[0].method);
    ML_ASSERT_EQ_INT(64, (long long)strlen(s->sha256));
    ml_suite_free(s);
}

static void test_suite__every_suite_validates(void) {
    glob_t g;
    ML_ASSERT_EQ_INT(0, glob("suites/*.json", 0, NULL, &g));
    int bad = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        ml_suite *s = NULL;
        if (strstr(g.gl_pathv[i], "schema.json")) continue;   /* the JSON Schema of suites, not a suite */
        if (ml_suite_load(&s, g.gl_pathv[i]) < 0) {
            fprintf(stderr, "    %s: %s\n", g.gl_pathv[i], ml_error_last()->message);
            bad++;
        }
        ml_suite_free(s);
    }
    size_t n = g.gl_pathc;
    globfree(&g);
    ML_ASSERT(n >= 1);
    ML_ASSERT_EQ_INT(0, bad);
}

static void test_suite__unknown_method(void) {
    ML_ASSERT(rejects("\"method\": \"average\"", "\"method\": \"tiez\"",
                      "t.json: $.merges[0].method: unknown method \"tiez\" (expected one of: average, slerp, task_arithmetic, ties, dare, fisher, regmean, interpolate, ensemble, router)"));
}

static void test_suite__unknown_key_did_you_mean(void) {
    ML_ASSERT(rejects("\"batch_size\"", "\"batch_sise\"",
                      "t.json: $.batch_sise: unknown key \"batch_sise\" (did you mean \"batch_size\"?)"));
}

static void test_suite__unknown_key_lists_allowed(void) {
    ML_ASSERT(rejects("\"cka\": {", "\"cka\": { \"zzzzzz\": 1,",
                      "t.json: $.cka.zzzzzz: unknown key \"zzzzzz\" (allowed: every, steps, probe_size, rbf_bandwidth, probe_sweep)"));
}

static void test_suite__wrong_type(void) {
    ML_ASSERT(rejects("\"batch_size\": 128", "\"batch_size\": \"128\"",
                      "t.json: $.batch_size: expected an integer, got a string"));
    ML_ASSERT(rejects("\"steps\": 300", "\"steps\": 30.5", "t.json: $.pretrain.steps: expected an integer, got 30.5"));
    ML_ASSERT(rejects("\"steps\": 300", "\"steps\": 300, \"seed\": -3",
                      "t.json: $.pretrain.seed: -3 is out of range 0..2147483647"));
    ML_ASSERT(rejects("\"name\": \"router\", \"method\": \"router\",", "\"name\": \"router\", \"method\": \"router\", \"batch_size\": 129,",
                      "t.json: $.merges[10].batch_size: 129 is out of range 1..128"));
    ML_ASSERT(rejects("\"name\": \"router\", \"method\": \"router\",", "\"name\": \"router\", \"method\": \"router\", \"checkpoints\": 0,",
                      "t.json: $.merges[10].checkpoints: 0 is out of range 1..63"));
    ML_ASSERT(rejects("\"steps\": 300", "\"steps\": 300, \"seed\": \"one\"",
                      "t.json: $.pretrain.seed: expected an integer, got a string"));
    ML_ASSERT(rejects("\"hidden\": [256, 128]", "\"hidden\": 256",
                      "t.json: $.model.hidden: expected an array of layer widths, got a number"));
}

static void test_suite__missing_field(void) {
    ML_ASSERT(rejects("\"seed\": 1,", "", "t.json: $.seed: missing required key \"seed\""));
    ML_ASSERT(rejects("\"target\": { \"classes\": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] },", "",
                      "t.json: $.target: missing required key \"target\""));
}

static void test_suite__classes_out_of_range(void) {
    ML_ASSERT(rejects("\"classes\": [0, 1, 2, 3, 4] }", "\"classes\": [0, 1, 12, 3, 4] }",
                      "t.json: $.specialists[0].classes[2]: class 12 out of range 0..9"));
    ML_ASSERT(rejects("\"classes\": [5, 6, 7, 8, 9] }", "\"classes\": [5, 6, 6] }",
                      "t.json: $.specialists[1].classes[2]: class 6 listed twice"));
}

static void test_suite__missing_data(void) {
    ML_ASSERT(rejects("\"dir\": \"/usr/share/datasets/fashion-mnist\"", "\"dir\": \"/nonexistent/fm\"",
                      "t.json: $.data.dir: missing data file '/nonexistent/fm/train-images-idx3-ubyte.gz'"));
}

static void test_suite__bad_json_line_col(void) {
    /* a missing comma after "seed": 1 on line 4 */
    ML_ASSERT(rejects("\"seed\": 1,", "\"seed\": 1", "t.json:5:3: invalid JSON near \"\"threads\": 2,\""));
}

static void test_suite__trailing_garbage(void) {
    char *src = smoke_src();
    ML_ASSERT(src != NULL);
    size_t n = strlen(src);
    char *bad = malloc(n + 8);
    memcpy(bad, src, n);
    memcpy(bad + n, "\n}\n", 4);
    ml_suite *s = NULL;
    int rc = ml_suite_parse(&s, "t.json", bad, strlen(bad));
    free(src);
    free(bad);
    ML_ASSERT_EQ_INT(ML_EINVALID, rc);
    ML_ASSERT_STR_HAS(ml_error_last()->message, "unexpected text after the JSON document");
}

static void test_suite__names_and_weights(void) {
    ML_ASSERT(rejects("{ \"name\": \"B\"", "{ \"name\": \"A\"", "t.json: $.specialists[1].name: duplicate specialist name \"A\""));
    ML_ASSERT(rejects("{ \"name\": \"A\"", "{ \"name\": \"direct\"",
                      "t.json: $.specialists[0].name: \"direct\" is reserved"));
    ML_ASSERT(rejects("\"weights\": [0.5, 0.5]", "\"weights\": [0.5]",
                      "t.json: $.merges[0].weights: expected 2 weights (one per specialist), got 1"));
    ML_ASSERT(rejects("\"weights\": [0.5, 0.5]", "\"weights\": [-1, 2]",
                      "t.json: $.merges[0].weights[0]: -1 is out of range [0, 1e+06]"));
    ML_ASSERT(rejects("\"name\": \"smoke\"", "\"name\": \"a b\"",
                      "t.json: $.name: \"a b\" may use only letters, digits, '-' and '_'"));
}

static void test_suite__merge_keys_per_method(void) {
    /* a hyperparameter of another method is an error, never ignored */
    ML_ASSERT(rejects("\"method\": \"average\", \"weights\": [0.5, 0.5]", "\"method\": \"ties\", \"weights\": [0.5, 0.5]",
                      "t.json: $.merges[0].weights: unknown key \"weights\" (allowed: name, method, lambda, density)"));
    ML_ASSERT(rejects("\"method\": \"average\", \"weights\": [0.5, 0.5]", "\"method\": \"ties\", \"density\": 0",
                      "t.json: $.merges[0].density: 0 is out of range [1e-09, 1]"));
    ML_ASSERT(rejects("\"method\": \"average\", \"weights\": [0.5, 0.5]", "\"method\": \"dare\", \"combine\": \"max\"",
                      "t.json: $.merges[0].combine: unknown combination \"max\" (expected one of: task_arithmetic, ties)"));
    ML_ASSERT(rejects("\"method\": \"average\", \"weights\": [0.5, 0.5]", "\"method\": \"router\", \"shared\": 1",
                      "t.json: $.merges[0].shared: expected true or false, got a number"));
}

static void test_suite__cka_steps(void) {
    ml_suite *s = NULL;
    char *src = smoke_src(), *alt = ml_t_replace(src, "\"every\": 50", "\"steps\": [0, 10, 20, 100, 600]");
    int rc = ml_suite_parse(&s, "t.json", alt, strlen(alt));
    free(src);
    free(alt);
    ML_ASSERT_EQ_INT(0, rc);
    ML_ASSERT_EQ_INT(5, s->ncka);
    ML_ASSERT(s->cka_steps[0] == 0 && s->cka_steps[3] == 100 && s->cka_steps[4] == 600);
    ml_suite_free(s);
    /* "every" that does not divide the budget still ends at the last step */
    src = smoke_src();
    alt = ml_t_replace(src, "\"every\": 50", "\"every\": 250");
    rc = ml_suite_parse(&s, "t.json", alt, strlen(alt));
    free(src);
    free(alt);
    ML_ASSERT_EQ_INT(0, rc);
    ML_ASSERT_EQ_INT(4, s->ncka);   /* 0, 250, 500, 600 */
    ML_ASSERT_EQ_INT(600, s->cka_steps[3]);
    ml_suite_free(s);
    ML_ASSERT(rejects("\"every\": 50", "\"steps\": [0, 20, 10]", "t.json: $.cka.steps[2]: steps must increase (10 after 20)"));
    ML_ASSERT(rejects("\"every\": 50", "\"steps\": [0, 700]", "t.json: $.cka.steps[1]: 700 is out of range 0..600"));
    ML_ASSERT(rejects("\"every\": 50", "\"every\": 50, \"steps\": [0]",
                      "t.json: $.cka: give exactly one of \"every\" (a step interval) or \"steps\" (a list)"));
}

/* the protocol switches of issue 19: router initialisation and decay, the RBF bandwidth,
 * and the probe's default size */
static ml_suite *parse_edit(const char *from, const char *to) {
    ml_suite *s = NULL;
    char *src = smoke_src(), *alt = src ? ml_t_replace(src, from, to) : NULL;
    int rc = alt ? ml_suite_parse(&s, "t.json", alt, strlen(alt)) : -1;
    if (rc) fprintf(stderr, "    %s\n", ml_error_last()->message);
    free(src);
    free(alt);
    return rc ? NULL : s;
}

static void test_suite__protocol_switches(void) {
    ml_suite *s = parse_edit("\"method\": \"average\", \"weights\": [0.5, 0.5]",
                             "\"method\": \"router\", \"init\": \"kaiming\", \"weight_decay\": 0.25");
    ML_ASSERT(s != NULL);
    ML_ASSERT_EQ_INT(1, s->merges[0].kaiming_init);
    ML_ASSERT_NEAR(0.25, s->merges[0].weight_decay, 0, 0);
    ml_suite_free(s);
    /* the defaults: a zero router, the optimizer's decay */
    s = parse_edit("\"method\": \"average\", \"weights\": [0.5, 0.5]", "\"method\": \"router\"");
    ML_ASSERT(s != NULL);
    ML_ASSERT_EQ_INT(0, s->merges[0].kaiming_init);
    ML_ASSERT_NEAR(s->weight_decay, s->merges[0].weight_decay, 0, 0);
    ML_ASSERT_NEAR(1.0, s->rbf_bandwidth, 0, 0);
    ml_suite_free(s);
    ML_ASSERT(rejects("\"method\": \"average\", \"weights\": [0.5, 0.5]", "\"method\": \"router\", \"init\": \"normal\"",
                      "t.json: $.merges[0].init: unknown router initialisation \"normal\" (expected one of: zero, kaiming)"));
    ML_ASSERT(rejects("\"method\": \"average\", \"weights\": [0.5, 0.5]", "\"method\": \"router\", \"weight_decay\": -1",
                      "t.json: $.merges[0].weight_decay: -1 is out of range [0, 10]"));
    ML_ASSERT(rejects("\"method\": \"average\", \"weights\": [0.5, 0.5]", "\"method\": \"average\", \"init\": \"zero\"",
                      "t.json: $.merges[0].init: unknown key \"init\""));
    s = parse_edit("\"every\": 50", "\"every\": 50, \"rbf_bandwidth\": 0.5");
    ML_ASSERT(s != NULL);
    ML_ASSERT_NEAR(0.5, s->rbf_bandwidth, 0, 0);
    ml_suite_free(s);
    ML_ASSERT(rejects("\"every\": 50", "\"every\": 50, \"rbf_bandwidth\": 0", "t.json: $.cka.rbf_bandwidth: 0 is out of range"));
    /* probe_sweep: increasing sizes up to probe_size */
    s = parse_edit("\"every\": 50", "\"every\": 50, \"probe_sweep\": [10, 100, 1000]");
    ML_ASSERT(s != NULL);
    ML_ASSERT_EQ_INT(3, s->nsweep);
    ML_ASSERT_EQ_INT(1000, s->sweep[2]);
    ml_suite_free(s);
    ML_ASSERT(rejects("\"every\": 50", "\"every\": 50, \"probe_sweep\": [100, 10]",
                      "t.json: $.cka.probe_sweep[1]: sizes must increase (10 after 100)"));
    ML_ASSERT(rejects("\"every\": 50", "\"every\": 50, \"probe_sweep\": [2000]",
                      "t.json: $.cka.probe_sweep[0]: 2000 is out of range 4..1000"));
    ML_ASSERT(rejects("\"every\": 50", "\"every\": 50, \"probe_sweep\": []",
                      "t.json: $.cka.probe_sweep: expected an array of 1..16 probe sizes"));
    /* without probe_size: 1000 examples on the MLP, 4 d windows on the GPT */
    s = parse_edit("\"every\": 50, \"probe_size\": 1000", "\"every\": 50");
    ML_ASSERT(s != NULL);
    ML_ASSERT_EQ_INT(1000, s->probe_size);
    ml_suite_free(s);
    /* a phase's warmup: the optimizer's unless the phase sets its own */
    s = parse_edit("\"min_lr_ratio\": 0.1 },", "\"min_lr_ratio\": 0.1, \"warmup\": 7 },");
    ML_ASSERT(s != NULL);
    ML_ASSERT_EQ_INT(7, s->pretrain.warmup);
    ML_ASSERT_EQ_INT(7, s->finetune.warmup);
    ml_suite_free(s);
    s = parse_edit("\"finetune\": { \"steps\": 600,", "\"finetune\": { \"steps\": 600, \"warmup\": 5,");
    ML_ASSERT(s != NULL);
    ML_ASSERT_EQ_INT(5, s->finetune.warmup);
    ML_ASSERT_EQ_INT(0, s->pretrain.warmup);
    ml_suite_free(s);
    ML_ASSERT(rejects("\"finetune\": { \"steps\": 600,", "\"finetune\": { \"steps\": 600, \"warmup\": -3,",
                      "t.json: $.finetune.warmup: -3 is out of range"));
    char *src = NULL, *alt;
    size_t len;
    ML_ASSERT_EQ_INT(0, ml_fs_read_all(&src, &len, "suites/gpt-smoke.json"));
    alt = ml_t_replace(src, "\"every\": 20,\n    \"probe_size\": 32,", "\"every\": 20,");
    free(src);
    ML_ASSERT_MSG(alt != NULL, "suites/gpt-smoke.json's cka block changed: update this test");
    int rc = ml_suite_parse(&s, "t.json", alt, strlen(alt));
    free(alt);
    ML_ASSERT_EQ_INT(0, rc);
    ML_ASSERT_EQ_INT(4 * s->gpt.n_embd, s->probe_size);
    ml_suite_free(s);
}

static void test_suite__method_not_in_family(void) {
    /* an MLP's layers differ in width: a router across layers is refused */
    ML_ASSERT(rejects("\"method\": \"average\", \"weights\": [0.5, 0.5]", "\"method\": \"router\", \"layers\": 2",
                      "t.json: $.merges[0].layers: mlp suites route within a layer only (layers 1): their layers differ "
                      "in width"));
}

static void test_suite__gate_direction(void) {
    ML_ASSERT(rejects("\"direction\": \"higher\"", "\"direction\": \"up\"",
                      "t.json: $.gate[0].direction: unknown direction \"up\" (expected one of: higher, lower, both)"));
}

/* The checker above must be able to fail: a suite that IS valid is not
 * "rejected", and a wrong expected message is caught. */
static void test_suite__negative_rejects_checker(void) {
    quiet = 1;
    int valid_rejected = rejects("\"seed\": 1", "\"seed\": 2", "anything");
    int wrong_message = rejects("\"method\": \"average\"", "\"method\": \"tiez\"", "a message that is not produced");
    quiet = 0;
    ML_ASSERT(!valid_rejected);
    ML_ASSERT(!wrong_message);
}

const ml_test ml_tests_suite[] = {
    { "suite__smoke_parses", test_suite__smoke_parses, "unit" },
    { "suite__every_suite_validates", test_suite__every_suite_validates, "unit" },
    { "suite__unknown_method", test_suite__unknown_method, "unit" },
    { "suite__unknown_key_did_you_mean", test_suite__unknown_key_did_you_mean, "unit" },
    { "suite__unknown_key_lists_allowed", test_suite__unknown_key_lists_allowed, "unit" },
    { "suite__wrong_type", test_suite__wrong_type, "unit" },
    { "suite__missing_field", test_suite__missing_field, "unit" },
    { "suite__classes_out_of_range", test_suite__classes_out_of_range, "unit" },
    { "suite__missing_data", test_suite__missing_data, "unit" },
    { "suite__bad_json_line_col", test_suite__bad_json_line_col, "unit" },
    { "suite__trailing_garbage", test_suite__trailing_garbage, "unit" },
    { "suite__names_and_weights", test_suite__names_and_weights, "unit" },
    { "suite__gate_direction", test_suite__gate_direction, "unit" },
    { "suite__merge_keys_per_method", test_suite__merge_keys_per_method, "unit" },
    { "suite__cka_steps", test_suite__cka_steps, "unit" },
    { "suite__protocol_switches", test_suite__protocol_switches, "unit" },
    { "suite__method_not_in_family", test_suite__method_not_in_family, "unit" },
    { "suite__negative_rejects_checker", test_suite__negative_rejects_checker, "unit" },
    { 0 }
};

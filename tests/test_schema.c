/*
 * tests/test_schema.c: suites/schema.json and the suite parser agree.
 * Owns: the tests of the small validator (tests/jsonschema.c) on
 * hand-written schemas, so that it can fail; that every suite in suites/
 * passes both the schema and ml_suite_parse; that one-edit mutations of
 * the smoke suites are rejected by both (and good ones accepted by both);
 * that every numeric range is the same in both, to the last double; and
 * that the checks the schema leaves to the parser are the ones its
 * "$comment" lists. Bad suites are one textual edit of a real suite, as in
 * tests/test_suite.c, so the fixtures cannot drift from the format.
 */
#include "tests/test.h"
#include "tests/jsonschema.h"
#include "tests/util.h"
#include "core/error.h"
#include "core/fs.h"
#include "suite/suite.h"

#include <cjson/cJSON.h>
#include <glob.h>
#include <stdlib.h>

#define SCHEMA_FILE "suites/schema.json"
#define SMOKE "suites/smoke.json"
#define GPT "suites/gpt-smoke.json"

/* The parser did not know "matrix" when these tests were written: a suite
 * with any matrix was refused as an unknown key, which says nothing about
 * the matrix itself. Rows marked .matrix are therefore only checked
 * against the schema while this is 0. Set it to 1 once suite/suite.c
 * parses "matrix" (it does now): then the parser must reject every bad matrix row too
 * (at parser_path) and accept every good one. */
static const int parser_knows_matrix = 1;

static int quiet;   /* the negative tests expect mismatches: keep them off stderr */

static char *read_text(const char *path) {
    char *src = NULL;
    size_t len;
    if (ml_fs_read_all(&src, &len, path) < 0) return NULL;
    return src;
}

static cJSON *load_schema(void) {
    char *src = read_text(SCHEMA_FILE);
    cJSON *s = src ? cJSON_Parse(src) : NULL;
    free(src);
    return s;
}

/* ---- the validator on hand-written schemas ------------------------------ */

/* Validates instance text against schema text; want 0 (valid), 1
 * (invalid) or -1 (broken schema), and when want_msg is given, that text
 * in the message. Returns 1 when it held. */
static int check(const char *schema, const char *instance, int want, const char *want_msg) {
    cJSON *s = cJSON_Parse(schema), *v = cJSON_Parse(instance);
    char err[1024] = "";
    int rc = -2, ok = 0;
    if (!s || !v) {
        fprintf(stderr, "    test input is not JSON: %s / %s\n", schema, instance);
    } else {
        rc = ml_t_schema_validate(s, v, err, sizeof(err));
        ok = rc == want && (!want_msg || strstr(err, want_msg) != NULL);
        if (!ok && !quiet)
            fprintf(stderr, "    %s against %s: rc %d (wanted %d), \"%s\"%s%s\n", instance, schema, rc, want, err,
                    want_msg ? ", wanted " : "", want_msg ? want_msg : "");
    }
    cJSON_Delete(s);
    cJSON_Delete(v);
    return ok;
}

#define OK(schema, inst) ML_ASSERT(check((schema), (inst), 0, NULL))
#define BAD(schema, inst, msg) ML_ASSERT(check((schema), (inst), 1, (msg)))
#define BROKEN(schema, msg) ML_ASSERT(check((schema), "null", -1, (msg)))

static void test_schema__type(void) {
    OK("{\"type\": \"integer\"}", "3");
    OK("{\"type\": \"integer\"}", "3.0");      /* no fractional part */
    OK("{\"type\": \"integer\"}", "1e3");
    BAD("{\"type\": \"integer\"}", "3.5", "$: expected an integer, got 3.5");
    BAD("{\"type\": \"integer\"}", "\"3\"", "$: expected an integer, got a string");
    OK("{\"type\": \"number\"}", "3.5");
    BAD("{\"type\": \"number\"}", "true", "expected a number, got a boolean");
    OK("{\"type\": \"string\"}", "\"x\"");
    BAD("{\"type\": \"string\"}", "null", "expected a string, got null");
    OK("{\"type\": \"boolean\"}", "false");
    BAD("{\"type\": \"boolean\"}", "0", "expected a boolean, got a number");
    OK("{\"type\": \"null\"}", "null");
    OK("{\"type\": \"array\"}", "[]");
    BAD("{\"type\": \"array\"}", "{}", "expected an array, got an object");
    OK("{\"type\": \"object\"}", "{}");
    BAD("{\"type\": \"object\"}", "[]", "expected an object, got an array");
    OK("{\"type\": [\"string\", \"null\"]}", "null");
    BAD("{\"type\": [\"string\", \"null\"]}", "1", "expected one of the types string, null, got a number");
}

static void test_schema__enum_const(void) {
    OK("{\"enum\": [\"a\", 2, null]}", "\"a\"");
    OK("{\"enum\": [\"a\", 2, null]}", "2.0");   /* numbers compare by value */
    BAD("{\"enum\": [\"a\", 2, null]}", "\"b\"", "$: \"b\" is not one of [\"a\",2,null]");
    BAD("{\"enum\": [\"a\", 2, null]}", "\"A\"", "is not one of");   /* case matters */
    OK("{\"const\": {\"x\": [1, 2], \"y\": true}}", "{\"y\": true, \"x\": [1, 2]}");   /* key order does not */
    BAD("{\"const\": {\"x\": [1, 2]}}", "{\"x\": [2, 1]}", "$: expected {\"x\":[1,2]}");   /* item order does */
    BAD("{\"const\": 0}", "false", "expected 0, got false");
    BAD("{\"const\": 1}", "1.0000001", "expected 1");
}

static void test_schema__numbers(void) {
    OK("{\"minimum\": 1, \"maximum\": 2}", "1");
    OK("{\"minimum\": 1, \"maximum\": 2}", "2");
    BAD("{\"minimum\": 1, \"maximum\": 2}", "0.999", "$: 0.999 is below the minimum 1");
    BAD("{\"minimum\": 1, \"maximum\": 2}", "2.001", "$: 2.001 is above the maximum 2");
    OK("{\"minimum\": 1e-12}", "1e-12");
    BAD("{\"minimum\": 1e-12}", "0", "below the minimum");
    OK("{\"exclusiveMinimum\": 0, \"exclusiveMaximum\": 1}", "0.5");
    BAD("{\"exclusiveMinimum\": 0}", "0", "$: 0 is not above the exclusive minimum 0");
    BAD("{\"exclusiveMaximum\": 1}", "1", "$: 1 is not below the exclusive maximum 1");
    OK("{\"minimum\": 5}", "\"a string is not a number\"");   /* bounds apply to numbers only */
}

static void test_schema__strings(void) {
    OK("{\"minLength\": 2, \"maxLength\": 3}", "\"ab\"");
    BAD("{\"minLength\": 2}", "\"a\"", "$: string is shorter than 2 characters");
    BAD("{\"maxLength\": 3}", "\"abcd\"", "$: string is longer than 3 characters");
    OK("{\"maxLength\": 1}", "\"\\u00e9\"");   /* one character, two bytes */
    OK("{\"pattern\": \"b+\"}", "\"abbc\"");   /* not anchored */
    OK("{\"pattern\": \"^[A-Za-z0-9_-]+$\"}", "\"a-b_9\"");
    BAD("{\"pattern\": \"^[A-Za-z0-9_-]+$\"}", "\"a b\"", "$: \"a b\" does not match the pattern ^[A-Za-z0-9_-]+$");
    BAD("{\"pattern\": \"^x\"}", "\"yx\"", "does not match");
    OK("{\"pattern\": \"^x\", \"maxLength\": 0}", "5");   /* string keywords ignore other types */
}

static void test_schema__arrays(void) {
    OK("{\"items\": {\"type\": \"integer\"}, \"minItems\": 1, \"maxItems\": 2}", "[1, 2]");
    BAD("{\"items\": {\"type\": \"integer\"}}", "[1, \"2\"]", "$[1]: expected an integer, got a string");
    BAD("{\"minItems\": 1}", "[]", "$: expected at least 1 items, got 0");
    BAD("{\"maxItems\": 2}", "[1, 2, 3]", "$: expected at most 2 items, got 3");
    OK("{\"uniqueItems\": true}", "[1, \"1\", [1], {\"a\": 1}, {\"a\": 2}]");
    BAD("{\"uniqueItems\": true}", "[1, 2, 1.0]", "$[2]: 1 repeats item 0 (items must be unique)");
    BAD("{\"uniqueItems\": true}", "[{\"a\": 1, \"b\": 2}, {\"b\": 2, \"a\": 1}]", "$[1]: ");
    OK("{\"uniqueItems\": false}", "[1, 1]");
    OK("{\"items\": false}", "[]");
    BAD("{\"items\": false}", "[0]", "$[0]: no value is allowed here");
}

static void test_schema__objects(void) {
    const char *s = "{\"type\": \"object\", \"required\": [\"a\"], \"additionalProperties\": false,"
                    " \"properties\": {\"a\": {\"type\": \"integer\"}, \"b\": {\"type\": \"string\"}}}";
    OK(s, "{\"a\": 1}");
    OK(s, "{\"a\": 1, \"b\": \"x\"}");
    BAD(s, "{\"b\": \"x\"}", "$.a: missing required key \"a\"");
    BAD(s, "{\"a\": 1, \"c\": 0}", "$.c: unknown key \"c\"");
    BAD(s, "{\"a\": 1, \"b\": 2}", "$.b: expected a string, got a number");
    BAD("{\"properties\": {\"x\": {\"properties\": {\"y\": {\"items\": {\"const\": 1}}}}}}",
        "{\"x\": {\"y\": [1, 2]}}", "$.x.y[1]: expected 1, got 2");
    BAD("{\"additionalProperties\": {\"type\": \"number\"}}", "{\"a.b\": \"s\"}",
        "$[\"a.b\"]: expected a number, got a string");   /* a non-identifier key is bracketed */
    OK("{\"additionalProperties\": {\"type\": \"number\"}}", "{\"a\": 1}");
    OK("{\"patternProperties\": {\"^x_\": {\"type\": \"number\"}}, \"additionalProperties\": false}", "{\"x_1\": 1}");
    BAD("{\"patternProperties\": {\"^x_\": {\"type\": \"number\"}}}", "{\"x_1\": \"s\"}", "$.x_1: expected a number");
    BAD("{\"patternProperties\": {\"^x_\": true}, \"additionalProperties\": false}", "{\"y\": 1}", "$.y: unknown key \"y\"");
    OK("{\"propertyNames\": {\"enum\": [\"a\", \"b\"]}}", "{\"b\": 0}");
    BAD("{\"propertyNames\": {\"enum\": [\"a\", \"b\"]}}", "{\"a\": 0, \"c\": 0}",
        "$.c: key \"c\" is not allowed here (\"c\" is not one of [\"a\",\"b\"])");
    BAD("{\"propertyNames\": {\"pattern\": \"^[a-z]+$\"}}", "{\"A\": 0}", "$.A: key \"A\" is not allowed here");
    OK("{\"minProperties\": 1, \"maxProperties\": 2}", "{\"a\": 0}");
    BAD("{\"minProperties\": 1}", "{}", "$: expected at least 1 keys, got 0");
    BAD("{\"maxProperties\": 1}", "{\"a\": 0, \"b\": 0}", "$: expected at most 1 keys, got 2");
    OK("{\"required\": [\"a\"]}", "[]");   /* object keywords ignore other types */
}

static void test_schema__combinators(void) {
    const char *one = "{\"oneOf\": [{\"type\": \"integer\"}, {\"minimum\": 2}]}";
    OK(one, "1");
    OK(one, "2.5");
    BAD(one, "3", "$: matches both oneOf[0] and oneOf[1], but oneOf allows exactly one");
    BAD(one, "1.5", "$: matches none of the 2 alternatives of oneOf");
    BAD("{\"oneOf\": [{\"description\": \"A\", \"required\": [\"a\"]}, {\"description\": \"B\", \"required\": [\"b\"]}]}",
        "{\"a\": 1, \"b\": 2}", "$: matches both \"A\" and \"B\"");
    /* the closest branch is the one whose failure is deepest */
    BAD("{\"oneOf\": [{\"type\": \"string\"}, {\"properties\": {\"x\": {\"properties\": {\"y\": {\"const\": 1}}}}}]}",
        "{\"x\": {\"y\": 2}}", "(closest: $.x.y: expected 1, got 2)");
    const char *any = "{\"anyOf\": [{\"type\": \"integer\"}, {\"minimum\": 2}]}";
    OK(any, "3");
    OK(any, "1");
    BAD(any, "1.5", "$: matches none of the 2 alternatives of anyOf");
    const char *all = "{\"allOf\": [{\"type\": \"integer\"}, {\"minimum\": 2}]}";
    OK(all, "3");
    BAD(all, "1", "$: 1 is below the minimum 2");
    BAD(all, "2.5", "$: expected an integer, got 2.5");
    OK("{\"not\": {\"type\": \"string\"}}", "1");
    BAD("{\"not\": {\"type\": \"string\"}}", "\"s\"", "$: \"s\" matches the \"not\" schema");
    BAD("{\"not\": {\"description\": \"reserved\", \"enum\": [\"base\"]}}", "\"base\"", "$: \"base\" must not be reserved");
    const char *cond = "{\"if\": {\"properties\": {\"k\": {\"const\": \"a\"}}}, \"then\": {\"required\": [\"x\"]},"
                       " \"else\": {\"required\": [\"y\"]}}";
    OK(cond, "{\"k\": \"a\", \"x\": 1}");
    OK(cond, "{\"k\": \"b\", \"y\": 1}");
    BAD(cond, "{\"k\": \"a\", \"y\": 1}", "$.x: missing required key \"x\"");
    BAD(cond, "{\"k\": \"b\", \"x\": 1}", "$.y: missing required key \"y\"");
    OK("{\"if\": {\"type\": \"string\"}, \"then\": {\"minLength\": 2}}", "7");   /* no else: anything */
    BAD("{\"if\": {\"type\": \"string\"}, \"then\": {\"minLength\": 2}}", "\"a\"", "shorter than 2");
    OK("{\"then\": false}", "1");   /* then without if does nothing */
}

static void test_schema__refs_and_booleans(void) {
    const char *s = "{\"$defs\": {\"pos\": {\"type\": \"integer\", \"minimum\": 1},"
                    " \"list\": {\"type\": \"array\", \"items\": {\"$ref\": \"#/$defs/pos\"}}},"
                    " \"properties\": {\"a\": {\"$ref\": \"#/$defs/list\", \"maxItems\": 2}}}";
    OK(s, "{\"a\": [1, 2]}");
    BAD(s, "{\"a\": [1, 0]}", "$.a[1]: 0 is below the minimum 1");
    BAD(s, "{\"a\": [1, 2, 3]}", "$.a: expected at most 2 items, got 3");   /* siblings of $ref apply too */
    OK("true", "{\"anything\": [1]}");
    BAD("false", "1", "$: no value is allowed here");
    OK("{}", "[null]");
    /* a cycle that consumes no instance is a broken schema, not a crash */
    BROKEN("{\"$defs\": {\"a\": {\"$ref\": \"#/$defs/b\"}, \"b\": {\"$ref\": \"#/$defs/a\"}}, \"$ref\": \"#/$defs/a\"}",
           "a $ref cycle?");
}

static void test_schema__unsupported_keyword(void) {
    BROKEN("{\"type\": \"string\", \"format\": \"email\"}", "#: unsupported keyword \"format\"");
    /* found even in a branch no instance reaches */
    BROKEN("{\"properties\": {\"never\": {\"oneOf\": [{\"dependentRequired\": {}}]}}}",
           "#/properties/never/oneOf/0: unsupported keyword \"dependentRequired\"");
    BROKEN("{\"$defs\": {\"unused\": {\"prefixItems\": []}}}", "#/$defs/unused: unsupported keyword \"prefixItems\"");
    BROKEN("{\"items\": {\"$id\": \"x\"}}", "unsupported keyword \"$id\" (supported at the root only)");
    /* keywords of the right name but the wrong shape */
    BROKEN("{\"items\": [{\"type\": \"string\"}]}", "#/items: a schema is an object or a boolean");
    BROKEN("{\"type\": \"float\"}", "#/type: unknown type \"float\"");
    BROKEN("{\"$ref\": \"#/definitions/x\"}", "#/$ref: $ref must be \"#/$defs/NAME\"");
    BROKEN("{\"$ref\": \"#/$defs/missing\", \"$defs\": {}}", "$ref must be");
    BROKEN("{\"pattern\": \"(\"}", "#/pattern: pattern \"(\" is not a POSIX extended regex");
    BROKEN("{\"minItems\": -1}", "#/minItems: expected a non-negative integer");
    BROKEN("{\"anyOf\": []}", "#/anyOf: expected a non-empty array of schemas");
    /* annotations are fine anywhere */
    OK("{\"$comment\": \"c\", \"title\": \"t\", \"description\": \"d\", \"default\": 1, \"examples\": [{\"format\": 1}]}",
       "2");
}

/* The checker above must be able to fail. */
static void test_schema__negative_checker(void) {
    quiet = 1;
    int wrong_rc = check("{\"type\": \"integer\"}", "1", 1, NULL);
    int wrong_msg = check("{\"type\": \"integer\"}", "1.5", 1, "a message that is not produced");
    quiet = 0;
    ML_ASSERT(!wrong_rc);
    ML_ASSERT(!wrong_msg);
}

/* ---- suites/schema.json ------------------------------------------------- */

/* Every entry of every "properties" in the schema (outside the conditions
 * of "if") has a "description": the schema is the format's documentation.
 * Returns the count missing. */
static int undocumented(const cJSON *s, const char *where) {
    int missing = 0, i = 0;
    if (!cJSON_IsObject(s) && !cJSON_IsArray(s)) return 0;
    for (const cJSON *k = s->child; k; k = k->next, i++) {
        char w[512];
        if (k->string) snprintf(w, sizeof(w), "%s/%s", where, k->string);
        else snprintf(w, sizeof(w), "%s/%d", where, i);
        if (cJSON_IsObject(s) && k->string && !strcmp(k->string, "properties") && cJSON_IsObject(k)) {
            for (const cJSON *p = k->child; p; p = p->next)
                if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p, "description"))) {
                    fprintf(stderr, "    %s/%s has no description\n", w, p->string);
                    missing++;
                }
        }
        /* values, not schemas; and an "if" is a condition, not documentation */
        if (cJSON_IsObject(s) && k->string &&
            (!strcmp(k->string, "enum") || !strcmp(k->string, "const") || !strcmp(k->string, "examples") ||
             !strcmp(k->string, "default") || !strcmp(k->string, "if")))
            continue;
        missing += undocumented(k, w);
    }
    return missing;
}

static void test_schema__file_is_a_schema(void) {
    cJSON *s = load_schema();
    ML_ASSERT_MSG(s != NULL, "%s is not JSON", SCHEMA_FILE);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, "$schema");
    int ok = cJSON_IsString(v) && !strcmp(v->valuestring, "https://json-schema.org/draft/2020-12/schema");
    ok = ok && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(s, "$id")) &&
         cJSON_IsString(cJSON_GetObjectItemCaseSensitive(s, "title")) &&
         cJSON_IsString(cJSON_GetObjectItemCaseSensitive(s, "description")) &&
         cJSON_IsString(cJSON_GetObjectItemCaseSensitive(s, "$comment"));
    int missing = undocumented(s, "#");
    /* the validator understands all of it: an empty object fails on
     * "required", not on a keyword */
    cJSON *empty = cJSON_CreateObject();
    char err[1024];
    int rc = ml_t_schema_validate(s, empty, err, sizeof(err));
    cJSON_Delete(empty);
    cJSON_Delete(s);
    ML_ASSERT_MSG(ok, "$schema (2020-12), $id, title, description and $comment are required");
    ML_ASSERT_EQ_INT(0, missing);
    ML_ASSERT_EQ_INT(1, rc);
    ML_ASSERT_STR_HAS(err, "missing required key");
}

/* The schema's verdict on one suite text: 0 accepted, 1 rejected, -1 the
 * schema is broken; the message into err. */
static int schema_verdict(const cJSON *schema, const char *text, char *err, size_t size) {
    cJSON *doc = cJSON_Parse(text);
    if (!doc) {
        snprintf(err, size, "not JSON");
        return 1;
    }
    int rc = ml_t_schema_validate(schema, doc, err, size);
    cJSON_Delete(doc);
    return rc;
}

/* The parser's: 1 rejected (the message into msg), 0 accepted. */
static int parser_verdict(const char *text, char *msg, size_t size) {
    ml_suite *s = NULL;
    int rc = ml_suite_parse(&s, "t.json", text, strlen(text));
    snprintf(msg, size, "%s", rc < 0 ? ml_error_last()->message : "");
    ml_suite_free(s);
    return rc < 0;
}

static void test_schema__every_suite_passes_both(void) {
    cJSON *schema = load_schema();
    glob_t g;
    int bad = 0, n = 0;
    ML_ASSERT(schema != NULL);
    if (glob("suites/*.json", 0, NULL, &g) != 0) {
        cJSON_Delete(schema);
        ML_FAIL_("no suites/*.json");
    }
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *f = g.gl_pathv[i];
        char err[1024], msg[1024], *text;
        if (!strcmp(f, SCHEMA_FILE)) continue;   /* the schema is not a suite */
        n++;
        if (!(text = read_text(f))) {
            fprintf(stderr, "    %s: cannot read\n", f);
            bad++;
            continue;
        }
        int srej = schema_verdict(schema, text, err, sizeof(err)), prej = parser_verdict(text, msg, sizeof(msg));
        if (srej) fprintf(stderr, "    %s: the schema rejects it: %s\n", f, err);
        if (prej) fprintf(stderr, "    %s: the parser rejects it: %s\n", f, msg);
        bad += srej != 0 || prej;
        free(text);
    }
    globfree(&g);
    cJSON_Delete(schema);
    ML_ASSERT(n >= 3);
    ML_ASSERT_EQ_INT(0, bad);
}

/* ---- one-edit mutations ------------------------------------------------- */

typedef struct {
    const char *file;          /* SMOKE or GPT */
    const char *from, *to;     /* the one textual edit (first occurrence) */
    const char *path;          /* where the schema's message points */
    const char *parser_path;   /* where the parser's does, when not the same */
    int matrix;                /* a matrix edit: see parser_knows_matrix */
} edit;

static const edit BAD_EDITS[] = {
    /* unknown keys, at the root and nested */
    { SMOKE, "\"batch_size\"", "\"batch_sise\"", "$.batch_sise", NULL, 0 },
    { SMOKE, "\"cka\": {", "\"cka\": { \"zzzzzz\": 1,", "$.cka.zzzzzz", NULL, 0 },
    { SMOKE, "\"match\": \"*/test_acc\",", "\"match\": \"*/test_acc\", \"when\": 1,", "$.gate[0].when", NULL, 0 },
    { GPT, "\"exact_match\": 64\n  }", "\"exact_match\": 64,\n    \"docs\": 3\n  }", "$.eval.docs", NULL, 0 },
    /* wrong types */
    { SMOKE, "\"batch_size\": 128", "\"batch_size\": \"128\"", "$.batch_size", NULL, 0 },
    { SMOKE, "\"steps\": 300", "\"steps\": 30.5", "$.pretrain.steps", NULL, 0 },
    { SMOKE, "\"hidden\": [256, 128]", "\"hidden\": 256", "$.model.hidden", NULL, 0 },
    { SMOKE, "\"method\": \"router\", \"steps\": 150", "\"method\": \"router\", \"shared\": 1, \"steps\": 150",
      "$.merges[10].shared", NULL, 0 },
    { SMOKE, "\"data\": { \"dataset\": \"fashion-mnist\", \"dir\": \"/usr/share/datasets/fashion-mnist\", \"validation\": 5000 }",
      "\"data\": \"fashion-mnist\"", "$.data", NULL, 0 },
    /* out-of-range numbers */
    { SMOKE, "\"threads\": 2", "\"threads\": 257", "$.threads", NULL, 0 },
    { SMOKE, "\"seed\": 1", "\"seed\": 2147483648", "$.seed", NULL, 0 },
    { SMOKE, "\"beta2\": 0.99", "\"beta2\": 1.0", "$.optimizer.beta2", NULL, 0 },
    { SMOKE, "\"validation\": 5000", "\"validation\": 50", "$.data.validation", NULL, 0 },
    { SMOKE, "\"hidden\": [256, 128]", "\"hidden\": [256, 9000]", "$.model.hidden[1]", NULL, 0 },
    { SMOKE, "\"t\": 0.5", "\"t\": 1.5", "$.merges[2].t", NULL, 0 },
    { SMOKE, "\"alphas\": [0, 0.1", "\"alphas\": [-0.1, 0.1", "$.merges[1].alphas[0]", NULL, 0 },
    { SMOKE, "\"combine\": \"ties\",", "\"combine\": \"ties\", \"seed\": -1,", "$.merges[5].seed", NULL, 0 },
    { SMOKE, "\"probe_size\": 1000", "\"probe_size\": 4", "$.cka.probe_size", NULL, 0 },
    { SMOKE, "\"atol\": 0.01, \"rtol\": 0.0,", "\"atol\": -0.01, \"rtol\": 0.0,", "$.gate[0].atol", NULL, 0 },
    { SMOKE, "{ \"atol\": 0.04, \"rtol\": 0.0 }", "{ \"atol\": -0.04, \"rtol\": 0.0 }", "$.gate[0].across_platforms.atol", NULL, 0 },
    { SMOKE, "{ \"atol\": 0.04, \"rtol\": 0.0 }", "{ \"atol\": 0.04, \"rtol\": 0.0, \"zz\": 1 }",
      "$.gate[0].across_platforms.zz", NULL, 0 },
    { SMOKE, "\"match\": \"*/test_acc\",", "\"match\": \"*/test_acc\", \"allow_missing\": 1,", "$.gate[0].allow_missing", NULL, 0 },
    { SMOKE, "\"classes\": [0, 1, 2, 3, 4] }", "\"classes\": [0, 1, 12, 3, 4] }", "$.specialists[0].classes[2]", NULL, 0 },
    { GPT, "\"n_head\": 2,", "\"n_head\": 0,", "$.model.n_head", NULL, 0 },
    { GPT, "\"context\": 128", "\"context\": 1", "$.model.context", NULL, 0 },
    { GPT, "\"windows\": 64,", "\"windows\": 0,", "$.eval.windows", NULL, 0 },
    { GPT, "\"eval_docs\": 400", "\"eval_docs\": 400, \"base_math_fraction\": 0.6", "$.data.base_math_fraction", NULL, 0 },
    { GPT, "\"warmup\": 20", "\"warmup\": 20, \"grad_accum\": 5000", "$.optimizer.grad_accum", NULL, 0 },
    { GPT, "\"layers\": 1,", "\"layers\": 1, \"top_k\": 2000,", "$.merges[10].top_k", NULL, 0 },
    /* bad enum values */
    { SMOKE, "\"dataset\": \"fashion-mnist\"", "\"dataset\": \"mnist\"", "$.data.dataset", NULL, 0 },
    { SMOKE, "\"activation\": \"relu\"", "\"activation\": \"tanh\"", "$.model.activation", NULL, 0 },
    { SMOKE, "\"schedule\": \"cosine\"", "\"schedule\": \"linear\"", "$.optimizer.schedule", NULL, 0 },
    { SMOKE, "\"name\": \"adamw\"", "\"name\": \"sgd\"", "$.optimizer.name", NULL, 0 },
    { SMOKE, "\"method\": \"average\"", "\"method\": \"tiez\"", "$.merges[0].method", NULL, 0 },
    { SMOKE, "\"space\": \"logits\"", "\"space\": \"raw\"", "$.merges[8].space", NULL, 0 },
    { SMOKE, "\"combine\": \"ties\"", "\"combine\": \"max\"", "$.merges[5].combine", NULL, 0 },
    { SMOKE, "\"direction\": \"higher\"", "\"direction\": \"up\"", "$.gate[0].direction", NULL, 0 },
    { GPT, "\"data\": \"math\"", "\"data\": \"physics\"", "$.specialists[0].data", NULL, 0 },
    { GPT, "\"mlp\"\n    ]", "\"mlps\"\n    ]", "$.finetune.train[0]", NULL, 0 },
    /* missing required keys */
    { SMOKE, "\"seed\": 1,", "", "$.seed", NULL, 0 },
    { SMOKE, "\"target\": { \"classes\": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] },", "", "$.target", NULL, 0 },
    { SMOKE, "\"match\": \"*/test_acc\", \"direction\": \"higher\",", "\"match\": \"*/test_acc\",",
      "$.gate[0].direction", NULL, 0 },
    { SMOKE, "\"every\": 50, ", "", "$.cka", NULL, 0 },
    { GPT, "\"n_embd\": 64,", "", "$.model.n_embd", NULL, 0 },
    /* names, counts and sets */
    { SMOKE, "\"name\": \"smoke\"", "\"name\": \"\"", "$.name", NULL, 0 },
    { SMOKE, "\"name\": \"smoke\"", "\"name\": \"a b\"", "$.name", NULL, 0 },
    { SMOKE, "{ \"name\": \"A\"", "{ \"name\": \"direct\"", "$.specialists[0].name", NULL, 0 },
    { SMOKE, "\"name\": \"average\", \"method\"", "\"name\": \"base\", \"method\"", "$.merges[0].name", "$.merges[0]", 0 },
    { SMOKE, "},\n    { \"name\": \"B\", \"classes\": [5, 6, 7, 8, 9] }", "}", "$.specialists", NULL, 0 },
    { SMOKE, "\"classes\": [5, 6, 7, 8, 9] }", "\"classes\": [5, 6, 6] }", "$.specialists[1].classes[2]", NULL, 0 },
    { SMOKE, "\"hidden\": [256, 128]", "\"hidden\": []", "$.model.hidden", NULL, 0 },
    { SMOKE, "\"weights\": [0.5, 0.5]", "\"weights\": [0.5]", "$.merges[0].weights", NULL, 0 },
    { SMOKE, "\"weights\": [0.5, 0.5]", "\"weights\": [0, 0]", "$.merges[0].weights", NULL, 0 },
    { SMOKE, "\"weights\": [0.5, 0.5]", "\"weights\": [-1, 2]", "$.merges[0].weights[0]", NULL, 0 },
    { SMOKE, "\"every\": 50", "\"every\": 50, \"steps\": [0]", "$.cka", NULL, 0 },
    { SMOKE, "\"every\": 50", "\"steps\": [0, 10, 10]", "$.cka.steps[2]", NULL, 0 },
    /* a key of another merge method */
    { SMOKE, "\"method\": \"average\", \"weights\": [0.5, 0.5]", "\"method\": \"ties\", \"weights\": [0.5, 0.5]",
      "$.merges[0].weights", NULL, 0 },
    { SMOKE, "\"method\": \"slerp\", \"t\": 0.5", "\"method\": \"slerp\", \"t\": 0.5, \"lambda\": 1",
      "$.merges[2].lambda", NULL, 0 },
    { GPT, "\"method\": \"fisher\",", "\"method\": \"fisher\",\n      \"space\": \"logits\",", "$.merges[5].space", NULL, 0 },
    /* a key of the other model family */
    { GPT, "\"data\": \"base\",", "\"classes\": [0, 1],", "$.pretrain.classes", NULL, 0 },
    { GPT, "\"data\": \"math\"", "\"classes\": [0, 1]", "$.specialists[0].classes", NULL, 0 },
    { GPT, "\"data\": \"target\"", "\"classes\": [1]", "$.target.classes", NULL, 0 },
    { GPT, "\"eval_docs\": 400", "\"eval_docs\": 400, \"dir\": \"/tmp\"", "$.data.dir", NULL, 0 },
    { GPT, "\"context\": 128", "\"context\": 128, \"hidden\": [64]", "$.model.hidden", NULL, 0 },
    { SMOKE, "\"hidden\": [256, 128]", "\"hidden\": [256, 128], \"n_layer\": 2", "$.model.n_layer", NULL, 0 },
    { SMOKE, "\"validation\": 5000", "\"validation\": 5000, \"train_docs\": 100", "$.data.train_docs", NULL, 0 },
    { SMOKE, "\"type\": \"mlp\"", "\"type\": \"gpt\"", "$.model.type", NULL, 0 },
    { SMOKE, "\"gate\": [", "\"eval\": { \"windows\": 8 },\n  \"gate\": [", "$.eval", NULL, 0 },
    { SMOKE, "\"min_lr_ratio\": 0.1 }", "\"min_lr_ratio\": 0.1, \"grad_accum\": 2 }", "$.optimizer.grad_accum", NULL, 0 },
    { SMOKE, "\"lr\": 0.0005 }", "\"lr\": 0.0005, \"train\": [\"mlp\"] }", "$.finetune.train[0]", NULL, 0 },
    { SMOKE, "\"method\": \"router\", \"steps\": 150", "\"method\": \"router\", \"layers\": 2, \"steps\": 150",
      "$.merges[10].layers", NULL, 0 },
    /* matrix shapes (parser paths as suite/suite.c's parse_matrix words them) */
    { SMOKE, "\"gate\": [", "\"matrix\": {},\n  \"gate\": [", "$.matrix", NULL, 1 },
    { SMOKE, "\"gate\": [", "\"matrix\": [1],\n  \"gate\": [", "$.matrix", NULL, 1 },
    { SMOKE, "\"gate\": [", "\"matrix\": { \"seed\": 3 },\n  \"gate\": [", "$.matrix.seed", NULL, 1 },
    { SMOKE, "\"gate\": [", "\"matrix\": { \"seed\": [] },\n  \"gate\": [", "$.matrix.seed", NULL, 1 },
    { SMOKE, "\"gate\": [", "\"matrix\": { \"seed\": [1, 2, 2] },\n  \"gate\": [", "$.matrix.seed[2]", NULL, 1 },
    { SMOKE, "\"gate\": [", "\"matrix\": { \"seed\": [1.5] },\n  \"gate\": [", "$.matrix.seed[0]", NULL, 1 },
    { SMOKE, "\"gate\": [", "\"matrix\": { \"seed\": [-1] },\n  \"gate\": [", "$.matrix.seed[0]", NULL, 1 },
    { SMOKE, "\"gate\": [", "\"matrix\": { \"merge\": [\"average\", \"average\"] },\n  \"gate\": [", "$.matrix.merge[1]",
      NULL, 1 },
    { SMOKE, "\"gate\": [", "\"matrix\": { \"merge\": [1] },\n  \"gate\": [", "$.matrix.merge[0]", NULL, 1 },
    { SMOKE, "\"gate\": [", "\"matrix\": { \"finetune..steps\": [1] },\n  \"gate\": [", "$.matrix[\"finetune..steps\"]",
      "$.matrix.finetune..steps", 1 },
    { SMOKE, "\"gate\": [", "\"matrix\": { \"finetune.1steps\": [1] },\n  \"gate\": [", "$.matrix[\"finetune.1steps\"]",
      "$.matrix.finetune.1steps", 1 },
    { SMOKE, "\"gate\": [", "\"matrix\": { \"finetune.steps\": [\"100\"] },\n  \"gate\": [",
      "$.matrix[\"finetune.steps\"][0]", "$.matrix.finetune.steps[0]", 1 },
    { SMOKE, "\"gate\": [", "\"matrix\": { \"finetune.steps\": [100, 100] },\n  \"gate\": [",
      "$.matrix[\"finetune.steps\"][1]", "$.matrix.finetune.steps[1]", 1 },
    { GPT, "\"gate\": [", "\"matrix\": { \"optimizer.lr\": 0.1 },\n  \"gate\": [", "$.matrix[\"optimizer.lr\"]",
      "$.matrix.optimizer.lr", 1 },
    { SMOKE, "\"gate\": [",
      "\"matrix\": { \"seed\": [1], \"merge\": [\"average\"], \"finetune.steps\": [1], \"pretrain.steps\": [1],"
      " \"batch_size\": [1], \"threads\": [1], \"optimizer.lr\": [0.1], \"cka.every\": [10], \"cka.probe_size\": [100] },\n"
      "  \"gate\": [", "$.matrix", NULL, 1 },
    /* report: figure settings */
    { SMOKE, "\"gate\": [", "\"report\": { \"width_in\": 0.5 },\n  \"gate\": [", "$.report.width_in", NULL, 0 },
    { SMOKE, "\"gate\": [", "\"report\": { \"font_pt\": 30 },\n  \"gate\": [", "$.report.font_pt", NULL, 0 },
    { SMOKE, "\"gate\": [", "\"report\": { \"formats\": [\"png\", \"png\"] },\n  \"gate\": [",
      "$.report.formats[1]", NULL, 0 },
    { SMOKE, "\"gate\": [", "\"report\": { \"formats\": [\"tiff\"] },\n  \"gate\": [", "$.report.formats[0]", NULL, 0 },
    { SMOKE, "\"gate\": [", "\"report\": { \"formats\": [] },\n  \"gate\": [", "$.report.formats", NULL, 0 },
    { SMOKE, "\"gate\": [", "\"report\": { \"dpi\": 300 },\n  \"gate\": [", "$.report.dpi", NULL, 0 },
    { SMOKE, "\"gate\": [", "\"report\": 3,\n  \"gate\": [", "$.report", NULL, 0 },
    /* finetune.points */
    { GPT, "\"steps\": 120,", "\"steps\": 120, \"points\": [0],", "$.finetune.points[0]", NULL, 0 },
    { GPT, "\"steps\": 120,", "\"steps\": 120, \"points\": [],", "$.finetune.points", NULL, 0 },
    { GPT, "\"steps\": 120,", "\"steps\": 120, \"points\": [10, 10],", "$.finetune.points[1]", NULL, 0 },
    /* findings */
    { SMOKE, "\"gate\": [", "\"findings\": { \"check\": [\"F5\"] },\n  \"gate\": [", "$.findings.check[0]", NULL, 0 },
    { SMOKE, "\"gate\": [", "\"findings\": { \"check\": [\"F1\", \"F1\"] },\n  \"gate\": [", "$.findings.check[1]", NULL, 0 },
    { SMOKE, "\"gate\": [", "\"findings\": { \"metric\": \"loss\" },\n  \"gate\": [", "$.findings.check", NULL, 0 },
    { SMOKE, "\"gate\": [", "\"findings\": { \"check\": [\"F2\"], \"metric\": \"direct/loss\" },\n  \"gate\": [", "$.findings.metric", NULL, 0 },
};

static const edit GOOD_EDITS[] = {
    { GPT, "\"steps\": 120,", "\"steps\": 120, \"points\": [10, 40, 120],", NULL, NULL, 0 },
    { SMOKE, "\"gate\": [", "\"findings\": { \"check\": [\"F4\", \"F2\"], \"metric\": \"test_acc\" },\n  \"gate\": [", NULL, NULL, 0 },
    { SMOKE, "\"gate\": [", "\"report\": { \"width_in\": 7, \"font_pt\": 9.5, \"formats\": [\"pdf\", \"png\"] },\n  \"gate\": [",
      NULL, NULL, 0 },
    { SMOKE, "\"every\": 50", "\"steps\": [0, 10, 20, 100, 600]", NULL, NULL, 0 },
    { SMOKE, "\"threads\": 2,\n", "", NULL, NULL, 0 },
    { SMOKE, "\"match\": \"*/test_acc\",", "\"match\": \"*/test_acc\", \"allow_missing\": true,", NULL, NULL, 0 },
    { SMOKE, "\"activation\": \"relu\"", "\"activation\": \"gelu\"", NULL, NULL, 0 },
    { SMOKE, "\"weights\": [0.5, 0.5]", "\"weights\": [0, 1]", NULL, NULL, 0 },
    { SMOKE, "{ \"name\": \"average\", \"method\": \"average\"", "{ \"method\": \"average\"", NULL, NULL, 0 },
    { SMOKE, "{ \"name\": \"fisher\"",
      "{ \"name\": \"dare_ta\", \"method\": \"dare\", \"combine\": \"task_arithmetic\", \"seed\": 7, \"p\": 0.3 },\n"
      "    { \"name\": \"fisher\"", NULL, NULL, 0 },
    { GPT, "\"eval\": {\n    \"windows\": 64,\n    \"exact_match\": 64\n  },\n", "", NULL, NULL, 0 },
    { GPT, "\"layers\": 2,", "\"layers\": 2, \"top_k\": 1, \"shared\": true, \"base_expert\": true,", NULL, NULL, 0 },
    { GPT, "\"mlp\"\n    ]", "\"attn\", \"ln\", \"embed\"\n    ]", NULL, NULL, 0 },
    { GPT, "\"warmup\": 20", "\"warmup\": 20, \"grad_accum\": 4", NULL, NULL, 0 },
    { SMOKE, "\"gate\": [",
      "\"matrix\": { \"seed\": [1, 2, 3], \"merge\": [\"average\", \"router\"], \"finetune.steps\": [100, 200] },\n"
      "  \"gate\": [", NULL, NULL, 1 },
    { GPT, "\"gate\": [", "\"matrix\": { \"optimizer.lr\": [0.001, 0.003], \"seed\": [7] },\n  \"gate\": [", NULL, NULL, 1 },
};

/* smoke.json or gpt-smoke.json with the edit applied, or NULL when the
 * edit's `from` text is not there (the row has drifted from the file). */
static char *apply(const edit *e) {
    char *src = read_text(e->file), *out = src ? ml_t_replace(src, e->from, e->to) : NULL;
    if (!out && !quiet) fprintf(stderr, "    %s: edit not applicable: '%s'\n", e->file, e->from);
    free(src);
    return out;
}

static int parser_checked(const edit *e) { return !e->matrix || parser_knows_matrix; }

/* msg is "PATH: reason" (schema) or "t.json: PATH: reason" (parser) */
static int points_at(const char *msg, const char *prefix, const char *path) {
    if (!path) return 0;   /* a row that expects no rejection */
    size_t lp = strlen(prefix), n = strlen(path);
    return !strncmp(msg, prefix, lp) && !strncmp(msg + lp, path, n) && msg[lp + n] == ':';
}

/* 1 when the schema rejects the edited suite at e->path and (unless the
 * row is a matrix row the parser does not check yet) the parser rejects
 * it too, at e->parser_path or e->path. */
static int both_reject(const cJSON *schema, const edit *e) {
    char err[1024], msg[1024], *text = apply(e);
    const char *path = e->path ? e->path : "(no path)";
    if (!text) return 0;
    int srej = schema_verdict(schema, text, err, sizeof(err));
    int ok = srej == 1 && points_at(err, "", e->path);
    if (!ok && !quiet)
        fprintf(stderr, "    %s '%s' -> '%s': schema %s \"%s\", wanted a rejection at %s\n", e->file, e->from, e->to,
                srej == 0 ? "accepts" : srej < 0 ? "is broken:" : "rejects:", err, path);
    if (parser_checked(e)) {
        const char *pp = e->parser_path ? e->parser_path : path;
        int prej = parser_verdict(text, msg, sizeof(msg));
        int pok = prej && points_at(msg, "t.json: ", pp);
        if (!pok && !quiet)
            fprintf(stderr, "    %s '%s' -> '%s': parser %s \"%s\", wanted a rejection at %s\n", e->file, e->from,
                    e->to, prej ? "rejects:" : "accepts", msg, pp);
        ok = ok && pok;
    }
    free(text);
    return ok;
}

/* 1 when both accept the edited suite (the parser only when it checks the row). */
static int both_accept(const cJSON *schema, const edit *e) {
    char err[1024], msg[1024], *text = apply(e);
    if (!text) return 0;
    int srej = schema_verdict(schema, text, err, sizeof(err)), ok = srej == 0;
    if (!ok && !quiet) fprintf(stderr, "    %s '%s' -> '%s': the schema rejects it: %s\n", e->file, e->from, e->to, err);
    if (parser_checked(e) && parser_verdict(text, msg, sizeof(msg))) {
        if (!quiet) fprintf(stderr, "    %s '%s' -> '%s': the parser rejects it: %s\n", e->file, e->from, e->to, msg);
        ok = 0;
    }
    free(text);
    return ok;
}

static void test_schema__bad_suites_rejected_by_both(void) {
    cJSON *schema = load_schema();
    size_t n = sizeof(BAD_EDITS) / sizeof(BAD_EDITS[0]);
    int failed = 0, nmatrix = 0;
    ML_ASSERT(schema != NULL);
    for (size_t i = 0; i < n; i++) {
        failed += !both_reject(schema, &BAD_EDITS[i]);
        nmatrix += BAD_EDITS[i].matrix;
    }
    cJSON_Delete(schema);
    ML_ASSERT(n - (size_t)nmatrix >= 25);
    ML_ASSERT(nmatrix >= 10);
    ML_ASSERT_EQ_INT(0, failed);
}

static void test_schema__good_edits_accepted_by_both(void) {
    cJSON *schema = load_schema();
    int failed = 0;
    ML_ASSERT(schema != NULL);
    for (size_t i = 0; i < sizeof(GOOD_EDITS) / sizeof(GOOD_EDITS[0]); i++) failed += !both_accept(schema, &GOOD_EDITS[i]);
    cJSON_Delete(schema);
    ML_ASSERT_EQ_INT(0, failed);
}

/* What the schema leaves to the parser, each of these once: the parser
 * rejects, the schema accepts. When the schema learns one of them, move it
 * to BAD_EDITS and take it out of the schema's "$comment". */
static void test_schema__parser_only_checks(void) {
    static const edit ONLY_PARSER[] = {
        { GPT, "\"n_embd\": 64", "\"n_embd\": 63", NULL, "$.model.n_embd", 0 },
        { SMOKE, "{ \"name\": \"B\"", "{ \"name\": \"A\"", NULL, "$.specialists[1].name", 0 },
        { SMOKE, "{ \"name\": \"average\"", "{ \"name\": \"A\"", NULL, "$.merges[0]", 0 },
        { SMOKE, "{ \"name\": \"slerp\"", "{ \"name\": \"average\"", NULL, "$.merges[2]", 0 },
        { SMOKE, "\"every\": 50", "\"steps\": [0, 20, 10]", NULL, "$.cka.steps[2]", 0 },
        { SMOKE, "\"every\": 50", "\"steps\": [0, 700]", NULL, "$.cka.steps[1]", 0 },
        { SMOKE, "\"every\": 50", "\"every\": 2", NULL, "$.cka.every", 0 },
        { GPT, "\"layers\": 2,", "\"layers\": 3,", NULL, "$.merges[11].layers", 0 },
        { SMOKE, "\"dir\": \"/usr/share/datasets/fashion-mnist\"", "\"dir\": \"/nonexistent/fm\"", NULL, "$.data.dir", 0 },
        { SMOKE, "\"gate\": [", "\"matrix\": { \"merge\": [\"average\", \"nonexistent\"] },\n  \"gate\": [", NULL,
          "$.matrix.merge[1]", 1 },
        { SMOKE, "\"gate\": [", "\"matrix\": { \"finetune.nothing\": [1] },\n  \"gate\": [", NULL,
          "$.matrix.finetune.nothing", 1 },
        { SMOKE, "\"gate\": [", "\"matrix\": { \"name\": [1, 2] },\n  \"gate\": [", NULL, "$.matrix.name", 1 },
    };
    cJSON *schema = load_schema();
    int failed = 0;
    ML_ASSERT(schema != NULL);
    for (size_t i = 0; i < sizeof(ONLY_PARSER) / sizeof(ONLY_PARSER[0]); i++) {
        const edit *e = &ONLY_PARSER[i];
        char err[1024], msg[1024], *text = apply(e);
        if (!text) {
            failed++;
            continue;
        }
        int srej = schema_verdict(schema, text, err, sizeof(err));
        int prej = parser_verdict(text, msg, sizeof(msg));
        int parser_ok = !parser_checked(e) || (prej && points_at(msg, "t.json: ", e->parser_path));
        if (srej != 0 || !parser_ok) {
            fprintf(stderr, "    %s '%s' -> '%s': schema %d \"%s\", parser \"%s\" (wanted %s)\n", e->file, e->from, e->to,
                    srej, err, msg, e->parser_path);
            failed++;
        }
        free(text);
    }
    cJSON_Delete(schema);
    ML_ASSERT_EQ_INT(0, failed);
}

/* ---- every range, at and just past both ends ---------------------------- */

typedef struct {
    const char *file;
    const char *path;          /* dotted, array items by index: "merges.10.lr" */
    double lo, hi;             /* the parser's read_int/read_num bounds */
    int integer;
    const char *setup;         /* another value set first, so that a cross-field
                                * check of the parser stays out of the way */
    double setup_value;
} range;

static const range RANGES[] = {
    { SMOKE, "seed", 0, 2147483647, 1, NULL, 0 },
    { SMOKE, "threads", 0, 256, 1, NULL, 0 },
    { SMOKE, "batch_size", 1, 65536, 1, NULL, 0 },
    { SMOKE, "data.validation", 100, 30000, 1, NULL, 0 },
    { GPT, "data.train_docs", 10, 10000000, 1, NULL, 0 },
    { GPT, "data.eval_docs", 10, 1000000, 1, NULL, 0 },
    { GPT, "data.base_math_fraction", 0, 0.5, 0, NULL, 0 },
    { GPT, "data.base_code_fraction", 0, 0.5, 0, NULL, 0 },
    { SMOKE, "model.hidden.0", 1, 8192, 1, NULL, 0 },
    { GPT, "model.n_layer", 1, 64, 1, "merges.11.layers", 1 },
    { GPT, "model.n_head", 1, 64, 1, NULL, 0 },
    { GPT, "model.n_embd", 1, 4096, 1, "model.n_head", 1 },
    { GPT, "model.context", 2, 4096, 1, NULL, 0 },
    { SMOKE, "optimizer.lr", 1e-12, 1e30, 0, NULL, 0 },
    { SMOKE, "optimizer.beta1", 0, 0.999999, 0, NULL, 0 },
    { SMOKE, "optimizer.beta2", 0, 0.999999, 0, NULL, 0 },
    { SMOKE, "optimizer.eps", 1e-30, 1, 0, NULL, 0 },
    { SMOKE, "optimizer.weight_decay", 0, 10, 0, NULL, 0 },
    { SMOKE, "optimizer.grad_clip", 0, 1e9, 0, NULL, 0 },
    { SMOKE, "optimizer.min_lr_ratio", 0, 1, 0, NULL, 0 },
    { GPT, "optimizer.warmup", 0, 1000000, 1, NULL, 0 },
    { GPT, "optimizer.grad_accum", 1, 4096, 1, NULL, 0 },
    { SMOKE, "optimizer.grad_accum", 1, 1, 1, NULL, 0 },   /* MLP: no accumulation */
    { SMOKE, "pretrain.steps", 0, 1000000, 1, NULL, 0 },
    { GPT, "pretrain.lr", 1e-12, 1e30, 0, NULL, 0 },
    { SMOKE, "finetune.steps", 0, 1000000, 1, "cka.every", 1000000 },
    { SMOKE, "finetune.lr", 1e-12, 1e30, 0, NULL, 0 },
    { SMOKE, "specialists.0.classes.0", 0, 9, 1, NULL, 0 },
    { SMOKE, "merges.0.weights.0", 0, 1e6, 0, NULL, 0 },
    { SMOKE, "merges.1.alphas.0", 0, 1, 0, NULL, 0 },
    { SMOKE, "merges.2.t", 0, 1, 0, NULL, 0 },
    { SMOKE, "merges.3.lambda", -100, 100, 0, NULL, 0 },
    { SMOKE, "merges.4.density", 1e-9, 1, 0, NULL, 0 },
    { SMOKE, "merges.5.p", 0, 0.999999, 0, NULL, 0 },
    { SMOKE, "merges.5.seed", 0, 2147483647, 1, NULL, 0 },
    { SMOKE, "merges.6.examples", 1, 1000000, 1, NULL, 0 },
    { SMOKE, "merges.7.alpha", 1e-9, 1, 0, NULL, 0 },
    { SMOKE, "merges.10.layers", 1, 1, 1, NULL, 0 },       /* MLP: within a layer */
    { GPT, "merges.11.layers", 1, 64, 1, "model.n_layer", 64 },
    { SMOKE, "merges.10.top_k", 0, 1024, 1, NULL, 0 },
    { SMOKE, "merges.10.steps", 1, 10000000, 1, NULL, 0 },
    { SMOKE, "merges.10.lr", 1e-12, 10, 0, NULL, 0 },
    { SMOKE, "cka.every", 1, 1000000, 1, "finetune.steps", 0 },
    { SMOKE, "cka.probe_size", 8, 10000, 1, NULL, 0 },
    { GPT, "eval.windows", 1, 100000, 1, NULL, 0 },
    { GPT, "eval.exact_match", 0, 100000, 1, NULL, 0 },
    { SMOKE, "gate.0.atol", 0, 1e12, 0, NULL, 0 },
    { SMOKE, "gate.0.rtol", 0, 1e6, 0, NULL, 0 },
};

/* A number as raw JSON text in full precision: cJSON's own printing
 * rounds to 15 digits when that is "close enough", which would turn the
 * next double after a bound back into the bound. */
static cJSON *exact_number(double value) {
    char text[40];
    snprintf(text, sizeof(text), "%.17g", value);
    return cJSON_CreateRaw(text);
}

/* Sets the number at a dotted path of doc, adding the last key to an
 * existing object when it is absent. 0, or -1 when the path is not there. */
static int set_number(cJSON *doc, const char *path, double value) {
    char seg[64];
    cJSON *v = doc;
    for (const char *p = path; v; p += strlen(seg) + 1) {
        size_t n = strcspn(p, ".");
        if (n == 0 || n >= sizeof(seg)) return -1;
        memcpy(seg, p, n);
        seg[n] = '\0';
        int i = atoi(seg);
        if (p[n] == '.') {   /* not the last segment: descend */
            v = cJSON_IsArray(v) ? cJSON_GetArrayItem(v, i) : cJSON_GetObjectItemCaseSensitive(v, seg);
            continue;
        }
        cJSON *num = exact_number(value);
        cJSON_bool done = 0;
        if (num && cJSON_IsArray(v) && i >= 0 && i < cJSON_GetArraySize(v))
            done = cJSON_ReplaceItemInArray(v, i, num);
        else if (num && cJSON_IsObject(v))
            done = cJSON_GetObjectItemCaseSensitive(v, seg) ? cJSON_ReplaceItemInObjectCaseSensitive(v, seg, num)
                                                            : cJSON_AddItemToObject(v, seg, num);
        if (!done) cJSON_Delete(num);
        return done ? 0 : -1;
    }
    return -1;
}

/* The suite with r->path set to value (after r->setup), as text; NULL when
 * a path is not in the suite. */
static char *with_value(const range *r, double value) {
    char *src = read_text(r->file), *out = NULL;
    cJSON *doc = src ? cJSON_Parse(src) : NULL;
    if (doc && (!r->setup || set_number(doc, r->setup, r->setup_value) == 0) && set_number(doc, r->path, value) == 0)
        out = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    free(src);
    return out;
}

/* 1 when schema and parser both accept (want_reject 0) or both reject
 * (want_reject 1) the suite with r->path = value. */
static int range_agrees(const cJSON *schema, const range *r, double value, int want_reject) {
    char err[1024], msg[1024], *text = with_value(r, value);
    if (!text) {
        if (!quiet) fprintf(stderr, "    %s: no %s (or %s) to set\n", r->file, r->path, r->setup ? r->setup : "-");
        return 0;
    }
    int srej = schema_verdict(schema, text, err, sizeof(err)), prej = parser_verdict(text, msg, sizeof(msg));
    int ok = srej == want_reject && prej == want_reject;
    if (!ok && !quiet)
        fprintf(stderr, "    %s %s = %.17g: wanted both to %s; schema %s \"%s\", parser %s \"%s\"\n", r->file, r->path,
                value, want_reject ? "reject" : "accept", srej ? "rejects" : "accepts", err, prej ? "rejects" : "accepts",
                msg);
    free(text);
    return ok;
}

/* Each range of the parser is the schema's: both accept lo and hi, both
 * reject the nearest values outside (the next double, or the next
 * integer) and, for integers, a fraction inside. */
static void test_schema__ranges_match_parser(void) {
    cJSON *schema = load_schema();
    int failed = 0;
    ML_ASSERT(schema != NULL);
    for (size_t i = 0; i < sizeof(RANGES) / sizeof(RANGES[0]); i++) {
        const range *r = &RANGES[i];
        double below = r->integer ? r->lo - 1 : nextafter(r->lo, -INFINITY);
        double above = r->integer ? r->hi + 1 : nextafter(r->hi, INFINITY);
        failed += !range_agrees(schema, r, r->lo, 0) + !range_agrees(schema, r, r->hi, 0) +
                  !range_agrees(schema, r, below, 1) + !range_agrees(schema, r, above, 1);
        if (r->integer && r->hi > r->lo) failed += !range_agrees(schema, r, r->lo + 0.5, 1);
    }
    cJSON_Delete(schema);
    ML_ASSERT_EQ_INT(0, failed);
}

/* both_reject, both_accept and range_agrees must be able to fail: a good
 * edit is not a rejection, a bad one is not an acceptance, a rejection at
 * another path does not count, nor does one the parser alone makes, nor a
 * range that is off by one, nor a path that is not in the suite. */
static void test_schema__negative_agreement_checker(void) {
    static const edit wrong_path = { SMOKE, "\"threads\": 2", "\"threads\": 257", "$.seed", NULL, 0 };
    static const edit parser_only = { GPT, "\"n_embd\": 64", "\"n_embd\": 63", "$.model.n_embd", NULL, 0 };
    static const edit drifted = { SMOKE, "text that is not in the suite", "", "$", NULL, 0 };
    static const range off_by_one = { SMOKE, "threads", 0, 255, 1, NULL, 0 };
    static const range missing = { SMOKE, "no.such.key", 0, 1, 1, NULL, 0 };
    cJSON *schema = load_schema();
    ML_ASSERT(schema != NULL);
    quiet = 1;
    int r1 = both_reject(schema, &GOOD_EDITS[0]);
    int r2 = both_accept(schema, &BAD_EDITS[0]);
    int r3 = both_reject(schema, &wrong_path);
    int r4 = both_reject(schema, &parser_only);
    int r5 = both_reject(schema, &drifted);
    int r6 = range_agrees(schema, &off_by_one, 256, 1);   /* 256 is in range: neither rejects */
    int r7 = range_agrees(schema, &missing, 0, 0);
    quiet = 0;
    cJSON_Delete(schema);
    ML_ASSERT(!r1);
    ML_ASSERT(!r2);
    ML_ASSERT(!r3);
    ML_ASSERT(!r4);
    ML_ASSERT(!r5);
    ML_ASSERT(!r6);
    ML_ASSERT(!r7);
}

const ml_test ml_tests_schema[] = {
    { "schema/type", test_schema__type, "unit" },
    { "schema/enum_const", test_schema__enum_const, "unit" },
    { "schema/numbers", test_schema__numbers, "unit" },
    { "schema/strings", test_schema__strings, "unit" },
    { "schema/arrays", test_schema__arrays, "unit" },
    { "schema/objects", test_schema__objects, "unit" },
    { "schema/combinators", test_schema__combinators, "unit" },
    { "schema/refs_and_booleans", test_schema__refs_and_booleans, "unit" },
    { "schema/unsupported_keyword", test_schema__unsupported_keyword, "unit" },
    { "schema/negative_checker", test_schema__negative_checker, "unit" },
    { "schema/file_is_a_schema", test_schema__file_is_a_schema, "unit" },
    { "schema/every_suite_passes_both", test_schema__every_suite_passes_both, "unit" },
    { "schema/bad_suites_rejected_by_both", test_schema__bad_suites_rejected_by_both, "unit" },
    { "schema/good_edits_accepted_by_both", test_schema__good_edits_accepted_by_both, "unit" },
    { "schema/ranges_match_parser", test_schema__ranges_match_parser, "unit" },
    { "schema/parser_only_checks", test_schema__parser_only_checks, "unit" },
    { "schema/negative_agreement_checker", test_schema__negative_agreement_checker, "unit" },
    { 0 }
};

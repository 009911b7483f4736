/*
 * tests/jsonschema.c: the small JSON Schema validator of tests/jsonschema.h.
 * Owns: a pre-pass that walks the whole schema (every branch, whether an
 * instance reaches it or not) and refuses unsupported keywords and
 * malformed ones; then the validation proper, which reports the first
 * failure as "JSONPATH: reason" in the style of suite/suite.c. Branches
 * of oneOf/anyOf/if/not are tried silently; their errors only feed the
 * "closest" hint of a message.
 */
#include "tests/jsonschema.h"

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { V_OK = 0, V_FAIL = 1, V_BROKEN = -1 };

/* Deep enough for any real schema; a $ref cycle that consumes no instance
 * depth hits it instead of overflowing the stack. */
#define MAX_DEPTH 200
#define PATH_MAX_ 512
#define MSG_MAX 1024

typedef struct {
    const cJSON *root;        /* the whole schema: "#/$defs/..." resolves here */
    char *err;                /* where a failure goes; NULL while trying a branch silently */
    size_t errsize;
    char broken[MSG_MAX];     /* the first reason the schema is broken */
    int depth;
} vctx;

/* ---- messages ----------------------------------------------------------- */

/* "path: message" into dst, cut to fit (a cut message still points at the
 * right place). */
static void put(char *dst, size_t size, const char *path, const char *fmt, va_list ap) {
    int n = snprintf(dst, size, "%s: ", path);
    if (n < 0 || (size_t)n >= size) return;
    vsnprintf(dst + n, size - (size_t)n, fmt, ap);
}

__attribute__((format(printf, 3, 4)))
static int fail(vctx *c, const char *path, const char *fmt, ...) {
    va_list ap;
    if (!c->err || !c->errsize) return V_FAIL;
    va_start(ap, fmt);
    put(c->err, c->errsize, path, fmt, ap);
    va_end(ap);
    return V_FAIL;
}

/* Broken-schema reasons are kept apart from failures: they must reach the
 * caller even from inside a branch that is being tried silently. */
__attribute__((format(printf, 3, 4)))
static int broken(vctx *c, const char *where, const char *fmt, ...) {
    va_list ap;
    if (c->broken[0]) return V_BROKEN;
    va_start(ap, fmt);
    put(c->broken, sizeof(c->broken), where, fmt, ap);
    va_end(ap);
    return V_BROKEN;
}

static const char *kind_name(const cJSON *v) {
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "an invalid value";
}

/* A value printed compactly for a message, cut to fit dst. */
static void show(char *dst, size_t size, const cJSON *v) {
    char *s = cJSON_PrintUnformatted(v);
    snprintf(dst, size, "%s", s ? s : "?");
    if (s && strlen(s) >= size && size > 4) memcpy(dst + size - 4, "...", 4);
    free(s);
}

/* The reason part of a "PATH: reason" message. */
static const char *reason_of(const char *msg) {
    const char *r = strstr(msg, ": ");
    return r ? r + 2 : msg;
}

/* Length of the path part of a "PATH: reason" message: the deeper a
 * branch's failure, the closer that branch came to matching. */
static size_t path_len(const char *msg) {
    const char *r = strstr(msg, ": ");
    return r ? (size_t)(r - msg) : 0;
}

/* ---- paths -------------------------------------------------------------- */

static void path_key(char *dst, size_t size, const char *path, const char *key) {
    int plain = (*key >= 'A' && *key <= 'Z') || (*key >= 'a' && *key <= 'z') || *key == '_';
    for (const char *k = key; *k && plain; k++)
        plain = (*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '_';
    /* keys that are not identifiers ("finetune.steps") are bracketed so
     * the path stays unambiguous */
    int n = plain ? snprintf(dst, size, "%s.%s", path, key) : snprintf(dst, size, "%s[\"%s\"]", path, key);
    if (n >= (int)size) dst[size - 1] = '\0';
}

static void path_index(char *dst, size_t size, const char *path, int i) {
    if (snprintf(dst, size, "%s[%d]", path, i) >= (int)size) dst[size - 1] = '\0';
}

/* ---- values ------------------------------------------------------------- */

/* JSON equality: numbers by value (1 == 1.0), objects regardless of key
 * order. Exact, unlike cJSON_Compare's epsilon. */
static int json_equal(const cJSON *a, const cJSON *b) {
    if (cJSON_IsNumber(a) && cJSON_IsNumber(b)) return a->valuedouble == b->valuedouble;
    if (cJSON_IsBool(a) && cJSON_IsBool(b)) return cJSON_IsTrue(a) == cJSON_IsTrue(b);
    if (cJSON_IsNull(a) && cJSON_IsNull(b)) return 1;
    if (cJSON_IsString(a) && cJSON_IsString(b)) return !strcmp(a->valuestring, b->valuestring);
    if (cJSON_IsArray(a) && cJSON_IsArray(b)) {
        const cJSON *x = a->child, *y = b->child;
        for (; x && y; x = x->next, y = y->next)
            if (!json_equal(x, y)) return 0;
        return !x && !y;
    }
    if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
        if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b)) return 0;
        for (const cJSON *x = a->child; x; x = x->next) {
            const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
            if (!y || !json_equal(x, y)) return 0;
        }
        return 1;
    }
    return 0;
}

/* JSON Schema counts characters (code points), not bytes. */
static size_t utf8_length(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int is_integer(const cJSON *v) {
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble == floor(v->valuedouble);
}

static const char *const TYPES[] = { "null", "boolean", "object", "array", "number", "string", "integer", NULL };

static int known_type(const char *t) {
    for (int i = 0; TYPES[i]; i++)
        if (!strcmp(t, TYPES[i])) return 1;
    return 0;
}

static int has_type(const cJSON *v, const char *t) {
    if (!strcmp(t, "null")) return cJSON_IsNull(v);
    if (!strcmp(t, "boolean")) return cJSON_IsBool(v);
    if (!strcmp(t, "object")) return cJSON_IsObject(v);
    if (!strcmp(t, "array")) return cJSON_IsArray(v);
    if (!strcmp(t, "number")) return cJSON_IsNumber(v);
    if (!strcmp(t, "string")) return cJSON_IsString(v);
    if (!strcmp(t, "integer")) return is_integer(v);
    return 0;
}

/* 1 when the ERE matches somewhere in s (JSON Schema patterns are not
 * anchored), 0 when not, V_BROKEN when it does not compile. */
static int pattern_matches(vctx *c, const char *where, const char *pattern, const char *s) {
    regex_t re;
    int rc = regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB);
    if (rc) {
        char why[256];
        regerror(rc, &re, why, sizeof(why));
        return broken(c, where, "pattern \"%s\" is not a POSIX extended regex: %s", pattern, why);
    }
    rc = regexec(&re, s, 0, NULL, 0);
    regfree(&re);
    return rc == 0;
}

/* "#/$defs/NAME" in the root schema, or NULL. */
static const cJSON *resolve(const vctx *c, const char *ref) {
    static const char prefix[] = "#/$defs/";
    if (strncmp(ref, prefix, sizeof(prefix) - 1)) return NULL;
    const char *name = ref + sizeof(prefix) - 1;
    if (!*name || strchr(name, '/') || strchr(name, '~')) return NULL;   /* no nesting, no escapes */
    const cJSON *defs = cJSON_GetObjectItemCaseSensitive(c->root, "$defs");
    return cJSON_IsObject(defs) ? cJSON_GetObjectItemCaseSensitive(defs, name) : NULL;
}

/* ---- the pre-pass: is the schema one this validator fully understands? -- */

static int check_schema(vctx *c, const cJSON *s, const char *where, int at_root);

static int check_count(vctx *c, const cJSON *v, const char *where) {
    if (!is_integer(v) || v->valuedouble < 0) return broken(c, where, "expected a non-negative integer");
    return V_OK;
}

static int check_schema_map(vctx *c, const cJSON *v, const char *where, int patterns) {
    char w[PATH_MAX_];
    if (!cJSON_IsObject(v)) return broken(c, where, "expected an object of schemas");
    for (const cJSON *e = v->child; e; e = e->next) {
        int error;
        if (snprintf(w, sizeof(w), "%s/%s", where, e->string) >= (int)sizeof(w)) w[sizeof(w) - 1] = '\0';
        if (patterns && (error = pattern_matches(c, w, e->string, "")) < 0) return error;
        if ((error = check_schema(c, e, w, 0)) < 0) return error;
    }
    return V_OK;
}

static int check_schema_list(vctx *c, const cJSON *v, const char *where) {
    char w[PATH_MAX_];
    int i = 0, error;
    if (!cJSON_IsArray(v) || !v->child) return broken(c, where, "expected a non-empty array of schemas");
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        if (snprintf(w, sizeof(w), "%s/%d", where, i) >= (int)sizeof(w)) w[sizeof(w) - 1] = '\0';
        if ((error = check_schema(c, e, w, 0)) < 0) return error;
    }
    return V_OK;
}

static int is_one_of(const char *k, const char *const *set) {
    for (int i = 0; set[i]; i++)
        if (!strcmp(k, set[i])) return 1;
    return 0;
}

static int check_schema(vctx *c, const cJSON *s, const char *where, int at_root) {
    static const char *const ANNOTATIONS[] = { "$comment", "title", "description", "default", "examples", NULL };
    static const char *const SUBSCHEMA[] = { "additionalProperties", "propertyNames", "items", "not", "if", "then",
                                             "else", NULL };
    static const char *const COUNTS[] = { "minItems", "maxItems", "minProperties", "maxProperties", "minLength",
                                          "maxLength", NULL };
    static const char *const BOUNDS[] = { "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", NULL };
    static const char *const LISTS[] = { "oneOf", "anyOf", "allOf", NULL };
    char w[PATH_MAX_];
    int error = V_OK;

    if (cJSON_IsBool(s)) return V_OK;
    if (!cJSON_IsObject(s)) return broken(c, where, "a schema is an object or a boolean, not %s", kind_name(s));
    for (const cJSON *k = s->child; k && error == V_OK; k = k->next) {
        const char *kw = k->string;
        if (snprintf(w, sizeof(w), "%s/%s", where, kw) >= (int)sizeof(w)) w[sizeof(w) - 1] = '\0';
        if (is_one_of(kw, ANNOTATIONS)) continue;
        if (!strcmp(kw, "$schema") || !strcmp(kw, "$id") || !strcmp(kw, "$defs")) {
            /* elsewhere they would move the base URI or add unreachable
             * definitions: refuse rather than half-support */
            if (!at_root) error = broken(c, w, "unsupported keyword \"%s\" (supported at the root only)", kw);
            else if (!strcmp(kw, "$defs")) error = check_schema_map(c, k, w, 0);
        } else if (!strcmp(kw, "$ref")) {
            if (!cJSON_IsString(k) || !resolve(c, k->valuestring))
                error = broken(c, w, "$ref must be \"#/$defs/NAME\" naming a definition");
        } else if (!strcmp(kw, "type")) {
            if (cJSON_IsString(k)) {
                if (!known_type(k->valuestring)) error = broken(c, w, "unknown type \"%s\"", k->valuestring);
            } else if (cJSON_IsArray(k) && k->child) {
                for (const cJSON *t = k->child; t && error == V_OK; t = t->next)
                    if (!cJSON_IsString(t) || !known_type(t->valuestring)) error = broken(c, w, "unknown type in the list");
            } else {
                error = broken(c, w, "expected a type name or a non-empty array of them");
            }
        } else if (!strcmp(kw, "enum")) {
            if (!cJSON_IsArray(k) || !k->child) error = broken(c, w, "expected a non-empty array");
        } else if (!strcmp(kw, "const")) {
            /* any value */
        } else if (!strcmp(kw, "properties")) {
            error = check_schema_map(c, k, w, 0);
        } else if (!strcmp(kw, "patternProperties")) {
            error = check_schema_map(c, k, w, 1);
        } else if (!strcmp(kw, "required")) {
            if (!cJSON_IsArray(k)) error = broken(c, w, "expected an array of key names");
            for (const cJSON *r = k->child; r && error == V_OK; r = r->next)
                if (!cJSON_IsString(r)) error = broken(c, w, "expected an array of key names");
        } else if (is_one_of(kw, SUBSCHEMA)) {
            /* "items" as an array is the pre-2020 tuple form: refused */
            error = check_schema(c, k, w, 0);
        } else if (is_one_of(kw, COUNTS)) {
            error = check_count(c, k, w);
        } else if (is_one_of(kw, BOUNDS)) {
            if (!cJSON_IsNumber(k)) error = broken(c, w, "expected a number");
        } else if (!strcmp(kw, "uniqueItems")) {
            if (!cJSON_IsBool(k)) error = broken(c, w, "expected true or false");
        } else if (!strcmp(kw, "pattern")) {
            if (!cJSON_IsString(k)) error = broken(c, w, "expected a string");
            else if ((error = pattern_matches(c, w, k->valuestring, "")) > 0) error = V_OK;
        } else if (is_one_of(kw, LISTS)) {
            error = check_schema_list(c, k, w);
        } else {
            error = broken(c, where, "unsupported keyword \"%s\"", kw);
        }
    }
    return error < 0 ? error : V_OK;
}

/* ---- validation --------------------------------------------------------- */

static int validate(vctx *c, const cJSON *s, const cJSON *v, const char *path);

/* Validates into buf instead of the caller's message (a branch being tried). */
static int try_branch(vctx *c, const cJSON *s, const cJSON *v, const char *path, char *buf, size_t size) {
    char *err = c->err;
    size_t errsize = c->errsize;
    if (buf && size) buf[0] = '\0';
    c->err = buf;
    c->errsize = size;
    int rc = validate(c, s, v, path);
    c->err = err;
    c->errsize = errsize;
    return rc;
}

static int check_type(vctx *c, const cJSON *t, const cJSON *v, const char *path) {
    if (cJSON_IsString(t)) {
        if (has_type(v, t->valuestring)) return V_OK;
        if (!strcmp(t->valuestring, "integer") && cJSON_IsNumber(v))
            return fail(c, path, "expected an integer, got %.15g", v->valuedouble);
        return fail(c, path, "expected %s %s, got %s", strchr("aeiou", t->valuestring[0]) ? "an" : "a",
                    t->valuestring, kind_name(v));
    }
    char list[256] = "";
    size_t used = 0;
    for (const cJSON *e = t->child; e; e = e->next) {
        if (has_type(v, e->valuestring)) return V_OK;
        if (used < sizeof(list))
            used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", e == t->child ? "" : ", ", e->valuestring);
    }
    return fail(c, path, "expected one of the types %s, got %s", list, kind_name(v));
}

static int check_number(vctx *c, const cJSON *s, const cJSON *v, const char *path) {
    const cJSON *k;
    double d = v->valuedouble;
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "minimum")) && !(d >= k->valuedouble))
        return fail(c, path, "%.15g is below the minimum %.15g", d, k->valuedouble);
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "maximum")) && !(d <= k->valuedouble))
        return fail(c, path, "%.15g is above the maximum %.15g", d, k->valuedouble);
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "exclusiveMinimum")) && !(d > k->valuedouble))
        return fail(c, path, "%.15g is not above the exclusive minimum %.15g", d, k->valuedouble);
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "exclusiveMaximum")) && !(d < k->valuedouble))
        return fail(c, path, "%.15g is not below the exclusive maximum %.15g", d, k->valuedouble);
    return V_OK;
}

static int check_string(vctx *c, const cJSON *s, const cJSON *v, const char *path) {
    const cJSON *k;
    size_t n = utf8_length(v->valuestring);
    int rc;
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "minLength")) && n < (size_t)k->valuedouble)
        return fail(c, path, "string is shorter than %g characters", k->valuedouble);
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "maxLength")) && n > (size_t)k->valuedouble)
        return fail(c, path, "string is longer than %g characters", k->valuedouble);
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "pattern"))) {
        if ((rc = pattern_matches(c, path, k->valuestring, v->valuestring)) < 0) return rc;
        if (!rc) return fail(c, path, "\"%s\" does not match the pattern %s", v->valuestring, k->valuestring);
    }
    return V_OK;
}

static int check_array(vctx *c, const cJSON *s, const cJSON *v, const char *path) {
    const cJSON *k, *items = cJSON_GetObjectItemCaseSensitive(s, "items");
    char p[PATH_MAX_];
    int n = cJSON_GetArraySize(v), i = 0, rc;
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "minItems")) && n < k->valuedouble)
        return fail(c, path, "expected at least %g items, got %d", k->valuedouble, n);
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "maxItems")) && n > k->valuedouble)
        return fail(c, path, "expected at most %g items, got %d", k->valuedouble, n);
    for (const cJSON *e = v->child; e && items; e = e->next, i++) {
        path_index(p, sizeof(p), path, i);
        if ((rc = validate(c, items, e, p)) != V_OK) return rc;
    }
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "uniqueItems")) && cJSON_IsTrue(k)) {
        i = 0;
        for (const cJSON *e = v->child; e; e = e->next, i++) {
            int j = 0;
            for (const cJSON *f = v->child; f != e; f = f->next, j++)
                if (json_equal(e, f)) {
                    char shown[128];
                    path_index(p, sizeof(p), path, i);
                    show(shown, sizeof(shown), e);
                    return fail(c, p, "%s repeats item %d (items must be unique)", shown, j);
                }
        }
    }
    return V_OK;
}

static int check_object(vctx *c, const cJSON *s, const cJSON *v, const char *path) {
    const cJSON *k, *props = cJSON_GetObjectItemCaseSensitive(s, "properties"),
                   *pprops = cJSON_GetObjectItemCaseSensitive(s, "patternProperties"),
                   *extra = cJSON_GetObjectItemCaseSensitive(s, "additionalProperties"),
                   *names = cJSON_GetObjectItemCaseSensitive(s, "propertyNames");
    char p[PATH_MAX_];
    int n = cJSON_GetArraySize(v), rc;

    /* members in document order, the order a reader meets them */
    for (const cJSON *m = v->child; m; m = m->next) {
        int covered = 0;
        path_key(p, sizeof(p), path, m->string);
        if (names) {
            cJSON *key = cJSON_CreateString(m->string);
            char why[MSG_MAX];
            if (!key) return broken(c, path, "out of memory");
            rc = try_branch(c, names, key, p, why, sizeof(why));
            cJSON_Delete(key);
            if (rc == V_BROKEN) return rc;
            if (rc) return fail(c, p, "key \"%s\" is not allowed here (%s)", m->string, reason_of(why));
        }
        const cJSON *sub = props ? cJSON_GetObjectItemCaseSensitive(props, m->string) : NULL;
        if (sub) {
            covered = 1;
            if ((rc = validate(c, sub, m, p)) != V_OK) return rc;
        }
        for (const cJSON *pp = pprops ? pprops->child : NULL; pp; pp = pp->next) {
            if ((rc = pattern_matches(c, path, pp->string, m->string)) < 0) return rc;
            if (!rc) continue;
            covered = 1;
            if ((rc = validate(c, pp, m, p)) != V_OK) return rc;
        }
        if (!covered && extra) {
            /* "additionalProperties": false reads as the parser's message */
            if (cJSON_IsFalse(extra)) return fail(c, p, "unknown key \"%s\"", m->string);
            if ((rc = validate(c, extra, m, p)) != V_OK) return rc;
        }
    }
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "required")))
        for (const cJSON *r = k->child; r; r = r->next)
            if (!cJSON_GetObjectItemCaseSensitive(v, r->valuestring)) {
                path_key(p, sizeof(p), path, r->valuestring);
                return fail(c, p, "missing required key \"%s\"", r->valuestring);
            }
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "minProperties")) && n < k->valuedouble)
        return fail(c, path, "expected at least %g keys, got %d", k->valuedouble, n);
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "maxProperties")) && n > k->valuedouble)
        return fail(c, path, "expected at most %g keys, got %d", k->valuedouble, n);
    return V_OK;
}

/* A branch's own "description", when it has one, names it in messages. */
static const char *label(const cJSON *s, char *buf, size_t size, const char *kw, int i) {
    const cJSON *d = cJSON_IsObject(s) ? cJSON_GetObjectItemCaseSensitive(s, "description") : NULL;
    if (cJSON_IsString(d)) snprintf(buf, size, "\"%s\"", d->valuestring);
    else snprintf(buf, size, "%s[%d]", kw, i);
    return buf;
}

/* anyOf (want_one 0) and oneOf (want_one 1). */
static int check_alternatives(vctx *c, const cJSON *list, const cJSON *v, const char *path, int want_one) {
    const char *kw = want_one ? "oneOf" : "anyOf";
    char closest[MSG_MAX] = "", buf[MSG_MAX];
    int i = 0, matched = 0, first = -1;
    for (const cJSON *alt = list->child; alt; alt = alt->next, i++) {
        int rc = try_branch(c, alt, v, path, buf, sizeof(buf));
        if (rc == V_BROKEN) return rc;
        if (rc == V_OK) {
            if (!want_one) return V_OK;
            if (matched++) {
                char a[160], b[160];
                return fail(c, path, "matches both %s and %s, but oneOf allows exactly one",
                            label(cJSON_GetArrayItem(list, first), a, sizeof(a), kw, first),
                            label(alt, b, sizeof(b), kw, i));
            }
            first = i;
        } else if (!closest[0] || path_len(buf) > path_len(closest)) {
            memcpy(closest, buf, sizeof(closest));
        }
    }
    if (matched) return V_OK;
    return fail(c, path, "matches none of the %d alternatives of %s (closest: %s)", i, kw, closest);
}

static int validate(vctx *c, const cJSON *s, const cJSON *v, const char *path) {
    const cJSON *k;
    int rc = V_OK;
    if (cJSON_IsTrue(s)) return V_OK;
    if (cJSON_IsFalse(s)) return fail(c, path, "no value is allowed here");
    if (++c->depth > MAX_DEPTH) {
        rc = broken(c, path, "schema nesting deeper than %d (a $ref cycle?)", MAX_DEPTH);
        goto out;
    }
    /* the instance's own shape first, then what combinators add */
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "type")) && (rc = check_type(c, k, v, path)) != V_OK) goto out;
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "enum"))) {
        const cJSON *e;
        for (e = k->child; e && !json_equal(e, v); e = e->next) {}
        if (!e) {
            char got[128], all[512];
            show(got, sizeof(got), v);
            show(all, sizeof(all), k);
            rc = fail(c, path, "%s is not one of %s", got, all);
            goto out;
        }
    }
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "const")) && !json_equal(k, v)) {
        char got[128], want[128];
        show(got, sizeof(got), v);
        show(want, sizeof(want), k);
        rc = fail(c, path, "expected %s, got %s", want, got);
        goto out;
    }
    if (cJSON_IsNumber(v)) rc = check_number(c, s, v, path);
    else if (cJSON_IsString(v)) rc = check_string(c, s, v, path);
    else if (cJSON_IsArray(v)) rc = check_array(c, s, v, path);
    else if (cJSON_IsObject(v)) rc = check_object(c, s, v, path);
    if (rc != V_OK) goto out;

    if ((k = cJSON_GetObjectItemCaseSensitive(s, "$ref")) && (rc = validate(c, resolve(c, k->valuestring), v, path)) != V_OK)
        goto out;
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "allOf")))
        for (const cJSON *e = k->child; e; e = e->next)
            if ((rc = validate(c, e, v, path)) != V_OK) goto out;
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "if"))) {
        const cJSON *then = cJSON_GetObjectItemCaseSensitive(s, "then"),
                    *otherwise = cJSON_GetObjectItemCaseSensitive(s, "else");
        rc = try_branch(c, k, v, path, NULL, 0);
        if (rc == V_BROKEN) goto out;
        const cJSON *next = rc == V_OK ? then : otherwise;
        rc = next ? validate(c, next, v, path) : V_OK;
        if (rc != V_OK) goto out;
    }
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "anyOf")) && (rc = check_alternatives(c, k, v, path, 0)) != V_OK)
        goto out;
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "oneOf")) && (rc = check_alternatives(c, k, v, path, 1)) != V_OK)
        goto out;
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "not"))) {
        rc = try_branch(c, k, v, path, NULL, 0);
        if (rc == V_BROKEN) goto out;
        if (rc == V_OK) {
            const cJSON *d = cJSON_IsObject(k) ? cJSON_GetObjectItemCaseSensitive(k, "description") : NULL;
            char got[128];
            show(got, sizeof(got), v);
            rc = cJSON_IsString(d) ? fail(c, path, "%s must not be %s", got, d->valuestring)
                                   : fail(c, path, "%s matches the \"not\" schema", got);
            goto out;
        }
        rc = V_OK;
    }
out:
    c->depth--;
    return rc;
}

int ml_t_schema_validate(const cJSON *schema, const cJSON *instance, char *err, size_t errsize) {
    vctx c = { .root = schema, .err = err, .errsize = errsize };
    int rc;
    if (err && errsize) err[0] = '\0';
    if (!schema || !instance) {
        if (err && errsize) snprintf(err, errsize, "no schema or no instance");
        return -1;
    }
    rc = check_schema(&c, schema, "#", 1);
    if (rc == V_OK) rc = validate(&c, schema, instance, "$");
    if (rc == V_BROKEN) {
        if (err && errsize) snprintf(err, errsize, "%s", c.broken);
        return -1;
    }
    return rc == V_OK ? 0 : 1;
}

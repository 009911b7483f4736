/*
 * suite/suite.c: strict suite parser on cJSON.
 * A walker carries the JSON path ("$.merges[0].method") so each message
 * points at the offending value. Unknown keys are errors, with the closest
 * allowed key suggested: a typo in a suite must never silently fall back
 * to a default.
 */
#include "suite/suite.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/json.h"
#include "core/fs.h"
#include "core/sha256.h"
#include "data/fmnist.h"
#include "data/text.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *file;
} pctx;

#define FAIL(c, path, ...) fail_at((c), (path), __VA_ARGS__)

__attribute__((format(printf, 3, 4)))
static int fail_at(const pctx *c, const char *path, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return ml_error_set(ML_EINVALID, "%s: %s: %s", c->file, path, msg);
}

static const char *type_name(const cJSON *v) {
    if (!v) return "nothing";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "an invalid value";
}

/* A path deeper than the buffer is cut; messages stay readable. */
static void join(char *dst, size_t size, const char *path, const char *key) {
    if (snprintf(dst, size, "%s.%s", path, key) >= (int)size) dst[size - 1] = '\0';
}

static void join_index(char *dst, size_t size, const char *path, int i) {
    if (snprintf(dst, size, "%s[%d]", path, i) >= (int)size) dst[size - 1] = '\0';
}

static int edit_distance(const char *a, const char *b) {
    int la = (int)strlen(a), lb = (int)strlen(b), d[64][64];
    if (la > 63 || lb > 63) return 99;
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

static void list_allowed(char *buf, size_t size, const char *const *allowed) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; allowed[i] && used + 1 < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", allowed[i]);
}

/* Rejects keys of obj not in allowed (NULL-terminated). */
static int check_keys(const pctx *c, const cJSON *obj, const char *path, const char *const *allowed) {
    for (const cJSON *it = obj->child; it; it = it->next) {
        int ok = 0, best = -1, bestd = 99;
        for (int i = 0; allowed[i]; i++) {
            if (!strcmp(it->string, allowed[i])) { ok = 1; break; }
            int d = edit_distance(it->string, allowed[i]);
            if (d < bestd) { bestd = d; best = i; }
        }
        if (ok) continue;
        char p[256], all[512];
        join(p, sizeof(p), path, it->string);
        list_allowed(all, sizeof(all), allowed);
        if (best >= 0 && bestd <= 2)
            return FAIL(c, p, "unknown key \"%s\" (did you mean \"%s\"?)", it->string, allowed[best]);
        return FAIL(c, p, "unknown key \"%s\" (allowed: %s)", it->string, all);
    }
    return 0;
}

static int get(const pctx *c, const cJSON *obj, const char *path, const char *key, int required,
               const cJSON **out) {
    *out = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!*out && required) {
        char p[256];
        join(p, sizeof(p), path, key);
        return FAIL(c, p, "missing required key \"%s\"", key);
    }
    return 0;
}

static int want_object(const pctx *c, const cJSON *v, const char *path) {
    if (!cJSON_IsObject(v)) return FAIL(c, path, "expected an object, got %s", type_name(v));
    return 0;
}

static int read_int(const pctx *c, const cJSON *v, const char *path, int lo, int hi, int *out) {
    if (!cJSON_IsNumber(v)) return FAIL(c, path, "expected an integer, got %s", type_name(v));
    double d = v->valuedouble;
    if (d != floor(d)) return FAIL(c, path, "expected an integer, got %g", d);
    if (d < lo || d > hi) return FAIL(c, path, "%g is out of range %d..%d", d, lo, hi);
    *out = (int)d;
    return 0;
}

static int read_num(const pctx *c, const cJSON *v, const char *path, double lo, double hi, double *out) {
    if (!cJSON_IsNumber(v)) return FAIL(c, path, "expected a number, got %s", type_name(v));
    double d = v->valuedouble;
    if (!isfinite(d) || d < lo || d > hi) return FAIL(c, path, "%g is out of range [%g, %g]", d, lo, hi);
    *out = d;
    return 0;
}

static int read_str(const pctx *c, const cJSON *v, const char *path, char *dst, size_t size) {
    if (!cJSON_IsString(v)) return FAIL(c, path, "expected a string, got %s", type_name(v));
    if (strlen(v->valuestring) >= size)
        return FAIL(c, path, "string is longer than %zu characters", size - 1);
    memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
    return 0;
}

/* A string that must be one of allowed; returns its index in *out. */
static int read_enum(const pctx *c, const cJSON *v, const char *path, const char *what,
                     const char *const *allowed, int *out) {
    char all[512];
    if (!cJSON_IsString(v)) return FAIL(c, path, "expected a string, got %s", type_name(v));
    for (int i = 0; allowed[i]; i++)
        if (!strcmp(v->valuestring, allowed[i])) { *out = i; return 0; }
    list_allowed(all, sizeof(all), allowed);
    return FAIL(c, path, "unknown %s \"%s\" (expected one of: %s)", what, v->valuestring, all);
}

/* Optional-key helpers: leave *out unchanged when the key is absent. */
static int opt_int(const pctx *c, const cJSON *obj, const char *path, const char *key, int lo, int hi, int *out) {
    const cJSON *v;
    char p[256];
    get(c, obj, path, key, 0, &v);
    if (!v) return 0;
    join(p, sizeof(p), path, key);
    return read_int(c, v, p, lo, hi, out);
}

static int req_int(const pctx *c, const cJSON *obj, const char *path, const char *key, int lo, int hi, int *out) {
    const cJSON *v;
    int error = get(c, obj, path, key, 1, &v);
    if (error < 0) return error;
    return opt_int(c, obj, path, key, lo, hi, out);
}

static int opt_num(const pctx *c, const cJSON *obj, const char *path, const char *key, double lo, double hi, double *out) {
    const cJSON *v;
    char p[256];
    get(c, obj, path, key, 0, &v);
    if (!v) return 0;
    join(p, sizeof(p), path, key);
    return read_num(c, v, p, lo, hi, out);
}

static int req_num(const pctx *c, const cJSON *obj, const char *path, const char *key, double lo, double hi, double *out) {
    const cJSON *v;
    int error = get(c, obj, path, key, 1, &v);
    if (error < 0) return error;
    return opt_num(c, obj, path, key, lo, hi, out);
}

static int opt_str(const pctx *c, const cJSON *obj, const char *path, const char *key, char *dst, size_t size) {
    const cJSON *v;
    char p[256];
    get(c, obj, path, key, 0, &v);
    if (!v) return 0;
    join(p, sizeof(p), path, key);
    return read_str(c, v, p, dst, size);
}

static int parse_classes(const pctx *c, const cJSON *obj, const char *path, ml_split *s) {
    const cJSON *v;
    char p[256], q[256];
    int error;
    if ((error = get(c, obj, path, "classes", 1, &v)) < 0) return error;
    join(p, sizeof(p), path, "classes");
    if (!cJSON_IsArray(v)) return FAIL(c, p, "expected an array of class ids, got %s", type_name(v));
    int n = cJSON_GetArraySize(v);
    if (n < 1 || n > ML_MAX_CLASSES) return FAIL(c, p, "expected 1..%d classes, got %d", ML_MAX_CLASSES, n);
    int seen[ML_MAX_CLASSES] = { 0 };
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(v, i);
        int k;
        join_index(q, sizeof(q), p, i);
        if (cJSON_IsNumber(e) && e->valuedouble == floor(e->valuedouble) &&
            (e->valuedouble < 0 || e->valuedouble > ML_MAX_CLASSES - 1))
            return FAIL(c, q, "class %g out of range 0..%d", e->valuedouble, ML_MAX_CLASSES - 1);
        if ((error = read_int(c, e, q, 0, ML_MAX_CLASSES - 1, &k)) < 0) return error;
        if (seen[k]) return FAIL(c, q, "class %d listed twice", k);
        seen[k] = 1;
        s->classes[i] = k;
    }
    s->nclasses = n;
    return 0;
}

/* "classes": [...] for Fashion-MNIST suites, "data": "<domain>" for text. */
static int parse_split(const pctx *c, const cJSON *obj, const char *path, ml_split *s, ml_family fam) {
    const cJSON *v;
    char p[256];
    int error;
    s->domain = -1;
    if (fam == ML_FAMILY_MLP) return parse_classes(c, obj, path, s);
    if ((error = get(c, obj, path, "data", 1, &v)) < 0) return error;
    join(p, sizeof(p), path, "data");
    static const char *const DOMAINS[] = { "base", "math", "code", "target", "target_prefix", NULL };   /* ml_domain order */
    int k;
    if ((error = read_enum(c, v, p, "text domain", DOMAINS, &k)) < 0) return error;
    s->domain = k;
    return 0;
}

static int parse_phase(const pctx *c, const cJSON *root, const char *key, ml_phase *ph, double default_lr,
                       ml_split *split, ml_suite *s) {
    static const char *const pre_mlp[] = { "steps", "lr", "warmup", "seed", "threads", "classes", NULL };
    static const char *const pre_gpt[] = { "steps", "lr", "warmup", "seed", "threads", "data", NULL };
    static const char *const ft[] = { "steps", "lr", "warmup", "train", "points", NULL };
    const cJSON *obj, *v;
    char p[256], q[256];
    int error;
    join(p, sizeof(p), "$", key);
    if ((error = get(c, root, "$", key, 1, &obj)) < 0 || (error = want_object(c, obj, p)) < 0 ||
        (error = check_keys(c, obj, p, !split ? ft : s->family == ML_FAMILY_MLP ? pre_mlp : pre_gpt)) < 0)
        return error;
    ph->lr = default_lr;
    ph->warmup = s->warmup;   /* a phase may warm up differently (the paper's fine-tuning has none) */
    if ((error = req_int(c, obj, p, "steps", 0, 1000000, &ph->steps)) < 0 ||
        (error = opt_num(c, obj, p, "lr", 1e-12, 1e30, &ph->lr)) < 0 ||
        (error = opt_int(c, obj, p, "warmup", 0, 1000000, &ph->warmup)) < 0)
        return error;
    if (split) {
        /* pretrain.seed: the base no longer depends on the cell's seed, so every
         * seed of a matrix fine-tunes from one shared base (the paper's setting) */
        int seed = (int)(s->seed & 0x7fffffff);
        if ((error = get(c, obj, p, "seed", 0, &v)) < 0) return error;
        if ((error = opt_int(c, obj, p, "seed", 0, 2147483647, &seed)) < 0) return error;
        s->pretrain_seed = (uint64_t)seed;
        s->pretrain_seed_shared = v != NULL;
        /* pretrain.threads: a shared base is trained while nothing else can run, so it
         * may use every core; part of the base's identity, so reruns are bit-identical */
        s->pretrain_threads = 0;
        if ((error = opt_int(c, obj, p, "threads", 1, 256, &s->pretrain_threads)) < 0) return error;
        return parse_split(c, obj, p, split, s->family);
    }
    /* points: the specialists (and the direct fine-tune) are kept at these steps of one
     * run and every merge is evaluated at each, as the paper saves states along the way */
    s->npoints = 1;
    s->points[0] = ph->steps;
    if ((error = get(c, obj, p, "points", 0, &v)) < 0) return error;
    if (v) {
        join(q, sizeof(q), p, "points");
        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 || cJSON_GetArraySize(v) > ML_MAX_POINTS - 1)
            return FAIL(c, q, "expected an array of 1..%d fine-tuning steps", ML_MAX_POINTS - 1);
        s->npoints = 0;
        for (int i = 0; i < cJSON_GetArraySize(v); i++) {
            char r[256];
            join_index(r, sizeof(r), q, i);
            if ((error = read_int(c, cJSON_GetArrayItem(v, i), r, 1, ph->steps, &s->points[s->npoints])) < 0) return error;
            if (i > 0 && s->points[s->npoints] <= s->points[s->npoints - 1])
                return FAIL(c, r, "points must increase (%d after %d)", s->points[s->npoints], s->points[s->npoints - 1]);
            s->npoints++;
        }
        if (s->points[s->npoints - 1] != ph->steps) s->points[s->npoints++] = ph->steps;   /* the end is always one */
    }
    /* which parameter groups fine-tuning updates; the rest stay at the base */
    s->ntrain_groups = 1;
    snprintf(s->train_groups[0], sizeof(s->train_groups[0]), "all");
    if ((error = get(c, obj, p, "train", 0, &v)) < 0 || !v) return error;
    join(q, sizeof(q), p, "train");
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 || cJSON_GetArraySize(v) > ML_MAX_TRAIN_GROUPS)
        return FAIL(c, q, "expected an array of 1..%d parameter groups, got %s", ML_MAX_TRAIN_GROUPS, type_name(v));
    static const char *const GROUPS_GPT[] = { "all", "mlp", "attn", "ln", "embed", NULL };
    static const char *const GROUPS_MLP[] = { "all", NULL };
    s->ntrain_groups = cJSON_GetArraySize(v);
    for (int i = 0; i < s->ntrain_groups; i++) {
        char r[256];
        int k;
        join_index(r, sizeof(r), q, i);
        if ((error = read_enum(c, cJSON_GetArrayItem(v, i), r, "parameter group",
                               s->family == ML_FAMILY_GPT ? GROUPS_GPT : GROUPS_MLP, &k)) < 0)
            return error;
        snprintf(s->train_groups[i], sizeof(s->train_groups[i]), "%s", cJSON_GetArrayItem(v, i)->valuestring);
    }
    return 0;
}

static const char *const METHODS[] = { "average", "slerp", "task_arithmetic", "ties", "dare", "fisher",
                                       "regmean", "interpolate", "ensemble", "router", NULL };

/* Every method has its own keys; a key of another method is an error, so a
 * hyperparameter can never be silently ignored. */
static const char *const *merge_keys(ml_merge_method m) {
    static const char *const avg[] = { "name", "method", "weights", NULL };
    static const char *const slerp[] = { "name", "method", "t", NULL };
    static const char *const ta[] = { "name", "method", "lambda", NULL };
    static const char *const ties[] = { "name", "method", "lambda", "density", NULL };
    static const char *const dare[] = { "name", "method", "lambda", "p", "combine", "density", "seed", NULL };
    static const char *const fisher[] = { "name", "method", "weights", "examples", NULL };
    static const char *const regmean[] = { "name", "method", "alpha", "examples", NULL };
    static const char *const interp[] = { "name", "method", "alphas", NULL };
    static const char *const ens[] = { "name", "method", "weights", "space", NULL };
    static const char *const router[] = { "name", "method", "layers", "top_k", "shared", "base_expert", "steps", "lr",
                                          "batch_size", "checkpoints", "init", "weight_decay", NULL };
    static const char *const *const all[ML_MERGE_COUNT] = { avg, slerp, ta, ties, dare, fisher, regmean, interp, ens,
                                                            router };
    return all[m];
}

static int read_bool(const pctx *c, const cJSON *obj, const char *path, const char *key, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    char p[256];
    if (!v) return 0;
    join(p, sizeof(p), path, key);
    if (!cJSON_IsBool(v)) return FAIL(c, p, "expected true or false, got %s", type_name(v));
    *out = cJSON_IsTrue(v);
    return 0;
}

static int parse_merge(const pctx *c, const cJSON *e, const char *p, ml_merge_spec *m, const ml_suite *s) {
    const cJSON *v;
    char q[256];
    int error, k;
    if ((error = get(c, e, p, "method", 1, &v)) < 0) return error;
    join(q, sizeof(q), p, "method");
    if ((error = read_enum(c, v, q, "method", METHODS, &k)) < 0) return error;
    m->method = (ml_merge_method)k;
    if ((error = check_keys(c, e, p, merge_keys(m->method))) < 0) return error;
    snprintf(m->name, sizeof(m->name), "%s", METHODS[k]);
    if ((error = opt_str(c, e, p, "name", m->name, sizeof(m->name))) < 0) return error;
    /* defaults */
    m->nmodels = s->nspecialists;
    for (int j = 0; j < m->nmodels; j++) m->weights[j] = 1.0 / m->nmodels;
    m->t = 0.5;
    m->lambda = 1.0;
    m->density = 0.2;
    m->p = 0.9;
    m->seed = s->seed;
    m->examples = 256;
    m->alpha = 0.9;
    m->nalphas = 11;
    for (int a = 0; a < 11; a++) m->alphas[a] = a / 10.0;
    m->k_layers = 1;
    m->steps = 150;
    m->checkpoints = 5;
    m->weight_decay = s->weight_decay;
    m->lr = 5e-3;
    if ((error = get(c, e, p, "weights", 0, &v)) < 0) return error;
    if (v) {
        join(q, sizeof(q), p, "weights");
        if (!cJSON_IsArray(v)) return FAIL(c, q, "expected an array of %d numbers, got %s", m->nmodels, type_name(v));
        if (cJSON_GetArraySize(v) != m->nmodels)
            return FAIL(c, q, "expected %d weights (one per specialist), got %d", m->nmodels, cJSON_GetArraySize(v));
        double sum = 0.0;
        for (int j = 0; j < m->nmodels; j++) {
            char r[256];
            join_index(r, sizeof(r), q, j);
            if ((error = read_num(c, cJSON_GetArrayItem(v, j), r, 0.0, 1e6, &m->weights[j])) < 0) return error;
            sum += m->weights[j];
        }
        if (!(sum > 0.0)) return FAIL(c, q, "weights must not all be zero");
    }
    int seed = (int)(m->seed & 0x7fffffff);
    if ((error = opt_num(c, e, p, "t", 0.0, 1.0, &m->t)) < 0 ||
        (error = opt_num(c, e, p, "lambda", -100.0, 100.0, &m->lambda)) < 0 ||
        (error = opt_num(c, e, p, "density", 1e-9, 1.0, &m->density)) < 0 ||
        (error = opt_num(c, e, p, "p", 0.0, 0.999999, &m->p)) < 0 ||
        (error = opt_int(c, e, p, "seed", 0, 2147483647, &seed)) < 0 ||
        (error = opt_int(c, e, p, "examples", 1, 1000000, &m->examples)) < 0 ||
        (error = opt_num(c, e, p, "alpha", 1e-9, 1.0, &m->alpha)) < 0 ||
        (error = opt_int(c, e, p, "layers", 1, 64, &m->k_layers)) < 0 ||
        (error = opt_int(c, e, p, "top_k", 0, 1024, &m->top_k)) < 0 ||
        (error = read_bool(c, e, p, "shared", &m->shared)) < 0 ||
        (error = read_bool(c, e, p, "base_expert", &m->base_expert)) < 0 ||
        (error = opt_int(c, e, p, "steps", 1, 10000000, &m->steps)) < 0 ||
        (error = opt_int(c, e, p, "batch_size", 1, s->batch_size, &m->batch)) < 0 ||
        (error = opt_int(c, e, p, "checkpoints", 1, 63, &m->checkpoints)) < 0 ||
        (error = opt_num(c, e, p, "weight_decay", 0.0, 10.0, &m->weight_decay)) < 0 ||
        (error = opt_num(c, e, p, "lr", 1e-12, 10.0, &m->lr)) < 0)
        return error;
    if ((error = get(c, e, p, "init", 0, &v)) < 0) return error;
    if (v) {
        static const char *const INITS[] = { "zero", "kaiming", NULL };
        join(q, sizeof(q), p, "init");
        if ((error = read_enum(c, v, q, "router initialisation", INITS, &m->kaiming_init)) < 0) return error;
    }
    m->seed = (uint64_t)seed;
    if ((error = get(c, e, p, "combine", 0, &v)) < 0) return error;
    if (v) {
        static const char *const COMBINE[] = { "task_arithmetic", "ties", NULL };
        join(q, sizeof(q), p, "combine");
        if ((error = read_enum(c, v, q, "combination", COMBINE, &m->combine_ties)) < 0) return error;
    }
    if ((error = get(c, e, p, "space", 0, &v)) < 0) return error;
    if (v) {
        static const char *const SPACES[] = { "logits", "probabilities", NULL };
        join(q, sizeof(q), p, "space");
        if ((error = read_enum(c, v, q, "ensemble space", SPACES, &m->prob_ensemble)) < 0) return error;
    }
    if ((error = get(c, e, p, "alphas", 0, &v)) < 0) return error;
    if (v) {
        join(q, sizeof(q), p, "alphas");
        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 || cJSON_GetArraySize(v) > ML_MAX_ALPHAS)
            return FAIL(c, q, "expected an array of 1..%d numbers in [0, 1]", ML_MAX_ALPHAS);
        m->nalphas = cJSON_GetArraySize(v);
        for (int a = 0; a < m->nalphas; a++) {
            char r[256];
            join_index(r, sizeof(r), q, a);
            if ((error = read_num(c, cJSON_GetArrayItem(v, a), r, 0.0, 1.0, &m->alphas[a])) < 0) return error;
        }
    }
    if (!ml_merge_available(s->family, m->method)) {
        char avail[256] = "";
        size_t used = 0;
        for (int j = 0; j < ML_MERGE_COUNT; j++)
            if (ml_merge_available(s->family, (ml_merge_method)j))
                used += (size_t)snprintf(avail + used, sizeof(avail) - used, "%s%s", used ? ", " : "", METHODS[j]);
        join(q, sizeof(q), p, "method");
        return FAIL(c, q, "\"%s\" is not implemented for %s suites (available: %s)", METHODS[m->method],
                    s->family == ML_FAMILY_GPT ? "gpt" : "mlp", avail);
    }
    if (m->method == ML_MERGE_ROUTER && s->family == ML_FAMILY_MLP && m->k_layers != 1) {
        join(q, sizeof(q), p, "layers");
        return FAIL(c, q, "mlp suites route within a layer only (layers 1): their layers differ in width");
    }
    if (m->method == ML_MERGE_ROUTER && s->family == ML_FAMILY_GPT && m->k_layers > s->gpt.n_layer) {
        join(q, sizeof(q), p, "layers");
        return FAIL(c, q, "%d exceeds the model's %d blocks", m->k_layers, s->gpt.n_layer);
    }
    if (m->method == ML_MERGE_SLERP && s->nspecialists != 2)
        return FAIL(c, p, "slerp merges exactly 2 specialists, the suite has %d", s->nspecialists);
    return 0;
}

/* The number a dotted path ("finetune.steps") names in the suite, or NULL. */
static const cJSON *path_number(const cJSON *root, const char *path) {
    char seg[ML_AXIS_PATH_MAX];
    const cJSON *v = root;
    for (const char *p = path; v && *p;) {
        size_t n = strcspn(p, ".");
        if (n == 0 || n >= sizeof(seg)) return NULL;
        memcpy(seg, p, n);
        seg[n] = '\0';
        v = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, seg) : NULL;
        p += n + (p[n] == '.');
    }
    return cJSON_IsNumber(v) ? v : NULL;
}

static int axis_name_ok(const char *k) {
    int seg_start = 1;
    if (!*k) return 0;
    for (const char *ch = k; *ch; ch++) {
        int alpha = (*ch >= 'a' && *ch <= 'z') || (*ch >= 'A' && *ch <= 'Z') || *ch == '_';
        int digit = *ch >= '0' && *ch <= '9';
        if (*ch == '.') { if (seg_start) return 0; seg_start = 1; continue; }
        if (seg_start ? !alpha : !(alpha || digit)) return 0;
        seg_start = 0;
    }
    return !seg_start;
}

/* "matrix": {"seed": [..], "merge": [names], "<dotted.path>": [numbers]}:
 * the axes whose cartesian product are the suite's cells. Only the shape
 * is checked here; each cell's values are checked when the cell's own
 * suite is parsed (cells.c), so a bad value names the matrix entry. */
static int parse_matrix(const pctx *c, const cJSON *root, ml_suite *s) {
    const cJSON *m;
    char p[256], q[300];
    int error;
    s->naxes = 0;
    s->ncells = 1;
    if ((error = get(c, root, "$", "matrix", 0, &m)) < 0 || !m) return error;
    if ((error = want_object(c, m, "$.matrix")) < 0) return error;
    if (!m->child) return FAIL(c, "$.matrix", "expected at least one axis, e.g. \"seed\": [1, 2, 3]");
    for (const cJSON *ax = m->child; ax; ax = ax->next) {
        ml_axis *a = &s->axes[s->naxes];
        snprintf(p, sizeof(p), "$.matrix.%s", ax->string);
        if (s->naxes == ML_MAX_AXES) return FAIL(c, "$.matrix", "at most %d axes", ML_MAX_AXES);
        if (!axis_name_ok(ax->string) || strlen(ax->string) >= sizeof(a->path))
            return FAIL(c, p, "an axis is \"seed\", \"merge\" or a dotted path such as \"finetune.steps\"");
        for (int i = 0; i < s->naxes; i++)
            if (!strcmp(s->axes[i].path, ax->string)) return FAIL(c, p, "duplicate axis");
        snprintf(a->path, sizeof(a->path), "%s", ax->string);
        a->kind = !strcmp(ax->string, "seed") ? ML_AXIS_SEED : !strcmp(ax->string, "merge") ? ML_AXIS_MERGE : ML_AXIS_PATH;
        if (!cJSON_IsArray(ax)) return FAIL(c, p, "expected an array of values, got %s", type_name(ax));
        a->nvalues = cJSON_GetArraySize(ax);
        if (a->nvalues < 1 || a->nvalues > ML_MAX_AXIS_VALUES)
            return FAIL(c, p, "expected 1..%d values, got %d", ML_MAX_AXIS_VALUES, a->nvalues);
        if (a->kind == ML_AXIS_PATH && !path_number(root, a->path))
            return FAIL(c, p, "\"%s\" names no number in the suite (an axis replaces a value the suite already has)",
                        a->path);
        for (int i = 0; i < a->nvalues; i++) {
            const cJSON *v = cJSON_GetArrayItem(ax, i);
            join_index(q, sizeof(q), p, i);
            if (a->kind == ML_AXIS_MERGE) {
                int found = 0;
                if (!cJSON_IsString(v)) return FAIL(c, q, "expected a merge name, got %s", type_name(v));
                for (int g = 0; g < s->nmerges; g++) found |= !strcmp(s->merges[g].name, v->valuestring);
                if (!found) {
                    char allowed[512] = "";
                    size_t used = 0;
                    for (int g = 0; g < s->nmerges && used < sizeof(allowed); g++)
                        used += (size_t)snprintf(allowed + used, sizeof(allowed) - used, "%s%s", g ? ", " : "",
                                                 s->merges[g].name);
                    return FAIL(c, q, "\"%s\" is not a merge of this suite (allowed: %s)", v->valuestring, allowed);
                }
                snprintf(a->names[i], sizeof(a->names[i]), "%s", v->valuestring);
                for (int j = 0; j < i; j++)
                    if (!strcmp(a->names[j], a->names[i])) return FAIL(c, q, "duplicate value \"%s\"", a->names[i]);
            } else {
                if (a->kind == ML_AXIS_SEED) {
                    int seed;
                    if ((error = read_int(c, v, q, 0, 2147483647, &seed)) < 0) return error;
                    a->values[i] = seed;
                } else {
                    if (!cJSON_IsNumber(v)) return FAIL(c, q, "expected a number, got %s", type_name(v));
                    a->values[i] = v->valuedouble;
                }
                for (int j = 0; j < i; j++)
                    if (a->values[j] == a->values[i]) return FAIL(c, q, "duplicate value %g", a->values[i]);
            }
        }
        if ((long)s->ncells * a->nvalues > ML_MAX_CELLS)
            return FAIL(c, "$.matrix", "expands to more than %d cells", ML_MAX_CELLS);
        s->ncells *= a->nvalues;
        s->naxes++;
    }
    return 0;
}

static const char *const ROOT_KEYS[] = { "name", "description", "seed", "threads", "data", "model",
    "optimizer", "batch_size", "pretrain", "finetune", "specialists", "target", "merges", "cka", "eval", "gate", "report", "findings", "matrix", NULL };
static const char *const DIRECTIONS[] = { "higher", "lower", "both", NULL };

/* $: name, description, seed, threads */
static int parse_identity(const pctx *c, const cJSON *root, ml_suite *s) {
    const cJSON *v;
    int error;
    if ((error = want_object(c, root, "$")) < 0 || (error = check_keys(c, root, "$", ROOT_KEYS)) < 0) return error;
    if ((error = get(c, root, "$", "name", 1, &v)) < 0 || (error = read_str(c, v, "$.name", s->name, sizeof(s->name))) < 0)
        return error;
    if (!s->name[0]) return FAIL(c, "$.name", "must not be empty");
    if (!ml_suite_name_ok(s->name))
        return FAIL(c, "$.name", "\"%s\" may use only letters, digits, '-' and '_'", s->name);
    if ((error = opt_str(c, root, "$", "description", s->description, sizeof(s->description))) < 0) return error;
    int seed = 1;
    if ((error = req_int(c, root, "$", "seed", 0, 2147483647, &seed)) < 0) return error;
    s->seed = (uint64_t)seed;
    s->threads = 0;
    if ((error = opt_int(c, root, "$", "threads", 0, 256, &s->threads)) < 0) return error;
    return 0;
}

/* $: the dataset, which decides the model family */
static int parse_data(const pctx *c, const cJSON *root, ml_suite *s) {
    const cJSON *v, *o;
    int error, k;
    /* data: the dataset decides the model family */
    static const char *const DATASETS[] = { "fashion-mnist", "text", NULL };
    static const char *const DATA_MNIST[] = { "dataset", "dir", "validation", NULL };
    static const char *const DATA_TEXT[] = { "dataset", "train_docs", "eval_docs", "base_math_fraction",
                                             "base_code_fraction", NULL };
    if ((error = get(c, root, "$", "data", 1, &o)) < 0 || (error = want_object(c, o, "$.data")) < 0 ||
        (error = get(c, o, "$.data", "dataset", 1, &v)) < 0 ||
        (error = read_enum(c, v, "$.data.dataset", "dataset", DATASETS, &k)) < 0)
        return error;
    s->family = k == 0 ? ML_FAMILY_MLP : ML_FAMILY_GPT;
    snprintf(s->dataset, sizeof(s->dataset), "%s", DATASETS[k]);
    if ((error = check_keys(c, o, "$.data", s->family == ML_FAMILY_MLP ? DATA_MNIST : DATA_TEXT)) < 0) return error;
    if (s->family == ML_FAMILY_MLP) {
        snprintf(s->data_dir, sizeof(s->data_dir), "%s", ML_FMNIST_DIR);
        if ((error = opt_str(c, o, "$.data", "dir", s->data_dir, sizeof(s->data_dir))) < 0) return error;
        s->validation_size = 5000;
        if ((error = opt_int(c, o, "$.data", "validation", 100, 30000, &s->validation_size)) < 0) return error;
        static const char *const files[] = { "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz" };
        for (int i = 0; i < 4; i++) {
            char f[1024];
            snprintf(f, sizeof(f), "%s/%s", s->data_dir, files[i]);
            if (!ml_fs_exists(f))
                return FAIL(c, "$.data.dir", "missing data file '%s' (install Debian's dataset-fashion-mnist, "
                            "or point dir at a folder holding the four IDX files)", f);
        }
    } else {
        s->text_train_docs = 20000;
        s->text_eval_docs = 400;
        s->base_math_fraction = 0.04;
        s->base_code_fraction = 0.04;
        if ((error = opt_int(c, o, "$.data", "train_docs", 10, 10000000, &s->text_train_docs)) < 0 ||
            (error = opt_int(c, o, "$.data", "eval_docs", 10, 1000000, &s->text_eval_docs)) < 0 ||
            (error = opt_num(c, o, "$.data", "base_math_fraction", 0.0, 0.5, &s->base_math_fraction)) < 0 ||
            (error = opt_num(c, o, "$.data", "base_code_fraction", 0.0, 0.5, &s->base_code_fraction)) < 0)
            return error;
    }
    return 0;
}

/* $: the model */
static int parse_model(const pctx *c, const cJSON *root, ml_suite *s) {
    const cJSON *v, *o;
    char q[256];
    int error, k;
    static const char *const MODEL_MLP[] = { "type", "hidden", "activation", NULL };
    static const char *const MODEL_GPT[] = { "type", "n_layer", "n_head", "n_embd", "context", NULL };
    static const char *const TYPES[] = { "mlp", "gpt", NULL };
    static const char *const ACTS[] = { "relu", "gelu", NULL };
    if ((error = get(c, root, "$", "model", 1, &o)) < 0 || (error = want_object(c, o, "$.model")) < 0 ||
        (error = get(c, o, "$.model", "type", 1, &v)) < 0 ||
        (error = read_enum(c, v, "$.model.type", "model type", TYPES, &k)) < 0)
        return error;
    if (k != (int)s->family)
        return FAIL(c, "$.model.type", "model \"%s\" does not fit dataset \"%s\" (fashion-mnist takes mlp, text takes gpt)",
                    TYPES[k], s->dataset);
    if ((error = check_keys(c, o, "$.model", s->family == ML_FAMILY_MLP ? MODEL_MLP : MODEL_GPT)) < 0) return error;
    if (s->family == ML_FAMILY_GPT) {
        s->gpt.vocab_size = ML_VOCAB_SIZE;
        if ((error = req_int(c, o, "$.model", "n_layer", 1, 64, &s->gpt.n_layer)) < 0 ||
            (error = req_int(c, o, "$.model", "n_head", 1, 64, &s->gpt.n_head)) < 0 ||
            (error = req_int(c, o, "$.model", "n_embd", 1, 4096, &s->gpt.n_embd)) < 0 ||
            (error = req_int(c, o, "$.model", "context", 2, 4096, &s->gpt.max_T)) < 0)
            return error;
        if (s->gpt.n_embd % s->gpt.n_head)
            return FAIL(c, "$.model.n_embd", "%d is not divisible by n_head %d", s->gpt.n_embd, s->gpt.n_head);
    } else {
        if ((error = get(c, o, "$.model", "hidden", 1, &v)) < 0) return error;
        if (!cJSON_IsArray(v)) return FAIL(c, "$.model.hidden", "expected an array of layer widths, got %s", type_name(v));
        s->model.n_hidden = cJSON_GetArraySize(v);
        if (s->model.n_hidden < 1 || s->model.n_hidden > ML_MLP_MAX_HIDDEN)
            return FAIL(c, "$.model.hidden", "expected 1..%d hidden layers, got %d", ML_MLP_MAX_HIDDEN, s->model.n_hidden);
        for (int i = 0; i < s->model.n_hidden; i++) {
            join_index(q, sizeof(q), "$.model.hidden", i);
            if ((error = read_int(c, cJSON_GetArrayItem(v, i), q, 1, 8192, &s->model.hidden[i])) < 0) return error;
        }
        s->model.in_dim = 784;
        s->model.out_dim = ML_FMNIST_CLASSES;
        s->model.act = ML_ACT_RELU;
        if ((error = get(c, o, "$.model", "activation", 0, &v)) < 0) return error;
        if (v) {
            if ((error = read_enum(c, v, "$.model.activation", "activation", ACTS, &k)) < 0) return error;
            s->model.act = k == 0 ? ML_ACT_RELU : ML_ACT_GELU;
        }
    }
    return 0;
}

/* $: the optimizer and the batch size; *lr is the optimizer's rate, the phases' default */
static int parse_optimizer(const pctx *c, const cJSON *root, ml_suite *s, double *lr_out) {
    const cJSON *v, *o;
    int error, k;
    double lr = 1e-3;
    static const char *const OPT_KEYS[] = { "name", "lr", "beta1", "beta2", "eps", "weight_decay",
                                            "grad_clip", "schedule", "min_lr_ratio", "warmup", "grad_accum", NULL };
    static const char *const OPTS[] = { "adamw", NULL };
    static const char *const SCHEDS[] = { "constant", "cosine", NULL };
    s->beta1 = 0.9; s->beta2 = 0.999; s->eps = 1e-8; s->weight_decay = 0.0;
    s->grad_clip = 0.0; s->min_lr_ratio = 0.1; s->schedule = ML_SCHED_CONSTANT; s->grad_accum = 1;
    if ((error = get(c, root, "$", "optimizer", 1, &o)) < 0 || (error = want_object(c, o, "$.optimizer")) < 0 ||
        (error = check_keys(c, o, "$.optimizer", OPT_KEYS)) < 0 || (error = get(c, o, "$.optimizer", "name", 1, &v)) < 0 ||
        (error = read_enum(c, v, "$.optimizer.name", "optimizer", OPTS, &k)) < 0 ||
        (error = req_num(c, o, "$.optimizer", "lr", 1e-12, 1e30, &lr)) < 0 ||
        (error = opt_num(c, o, "$.optimizer", "beta1", 0.0, 0.999999, &s->beta1)) < 0 ||
        (error = opt_num(c, o, "$.optimizer", "beta2", 0.0, 0.999999, &s->beta2)) < 0 ||
        (error = opt_num(c, o, "$.optimizer", "eps", 1e-30, 1.0, &s->eps)) < 0 ||
        (error = opt_num(c, o, "$.optimizer", "weight_decay", 0.0, 10.0, &s->weight_decay)) < 0 ||
        (error = opt_num(c, o, "$.optimizer", "grad_clip", 0.0, 1e9, &s->grad_clip)) < 0 ||
        (error = opt_num(c, o, "$.optimizer", "min_lr_ratio", 0.0, 1.0, &s->min_lr_ratio)) < 0 ||
        (error = opt_int(c, o, "$.optimizer", "warmup", 0, 1000000, &s->warmup)) < 0 ||
        (error = opt_int(c, o, "$.optimizer", "grad_accum", 1, 4096, &s->grad_accum)) < 0 ||
        (error = get(c, o, "$.optimizer", "schedule", 0, &v)) < 0)
        return error;
    if (v) {
        if ((error = read_enum(c, v, "$.optimizer.schedule", "schedule", SCHEDS, &k)) < 0) return error;
        s->schedule = k == 1 ? ML_SCHED_COSINE : ML_SCHED_CONSTANT;
    }
    if (s->grad_accum > 1 && s->family != ML_FAMILY_GPT)
        return FAIL(c, "$.optimizer.grad_accum", "gradient accumulation is implemented for gpt suites only");
    if ((error = req_int(c, root, "$", "batch_size", 1, 65536, &s->batch_size)) < 0) return error;
    *lr_out = lr;
    return 0;
}

/* $: the two specialists */
static int parse_specialists(const pctx *c, const cJSON *root, ml_suite *s) {
    const cJSON *v, *o;
    char p[256], q[256];
    int error;
    static const char *const SPEC_MLP[] = { "name", "classes", NULL };
    static const char *const SPEC_GPT[] = { "name", "data", NULL };
    if ((error = get(c, root, "$", "specialists", 1, &o)) < 0) return error;
    if (!cJSON_IsArray(o)) return FAIL(c, "$.specialists", "expected an array, got %s", type_name(o));
    s->nspecialists = cJSON_GetArraySize(o);
    if (s->nspecialists != 2)
        return FAIL(c, "$.specialists", "expected exactly 2 specialists (the CKA pair), got %d", s->nspecialists);
    for (int i = 0; i < s->nspecialists; i++) {
        const cJSON *e = cJSON_GetArrayItem(o, i);
        join_index(p, sizeof(p), "$.specialists", i);
        if ((error = want_object(c, e, p)) < 0 ||
            (error = check_keys(c, e, p, s->family == ML_FAMILY_MLP ? SPEC_MLP : SPEC_GPT)) < 0 ||
            (error = get(c, e, p, "name", 1, &v)) < 0)
            return error;
        join(q, sizeof(q), p, "name");
        if ((error = read_str(c, v, q, s->specialists[i].name, sizeof(s->specialists[i].name))) < 0 ||
            (error = parse_split(c, e, p, &s->specialists[i], s->family)) < 0)
            return error;
        if (!s->specialists[i].name[0]) return FAIL(c, q, "must not be empty");
        if (!ml_suite_name_ok(s->specialists[i].name))   /* it names report files and metrics */
            return FAIL(c, q, "\"%s\": use 1-63 letters, digits, '-' or '_' (it names files and metrics)",
                        s->specialists[i].name);
        static const char *const reserved[] = { "base", "direct", NULL };
        for (int r = 0; reserved[r]; r++)
            if (!strcmp(s->specialists[i].name, reserved[r]))
                return FAIL(c, q, "\"%s\" is reserved for a model the suite always has", reserved[r]);
        for (int j = 0; j < i; j++)
            if (!strcmp(s->specialists[i].name, s->specialists[j].name))
                return FAIL(c, q, "duplicate specialist name \"%s\"", s->specialists[i].name);
    }
    return 0;
}

/* $: the target task */
static int parse_target(const pctx *c, const cJSON *root, ml_suite *s) {
    const cJSON *o;
    int error;
    static const char *const TARGET_MLP[] = { "classes", NULL };
    static const char *const TARGET_GPT[] = { "data", NULL };
    if ((error = get(c, root, "$", "target", 1, &o)) < 0 || (error = want_object(c, o, "$.target")) < 0 ||
        (error = check_keys(c, o, "$.target", s->family == ML_FAMILY_MLP ? TARGET_MLP : TARGET_GPT)) < 0 ||
        (error = parse_split(c, o, "$.target", &s->target, s->family)) < 0)
        return error;
    snprintf(s->target.name, sizeof(s->target.name), "target");
    return 0;
}

/* $: the merges */
static int parse_merges(const pctx *c, const cJSON *root, ml_suite *s) {
    const cJSON *o;
    char p[256];
    int error;
    if ((error = get(c, root, "$", "merges", 1, &o)) < 0) return error;
    if (!cJSON_IsArray(o)) return FAIL(c, "$.merges", "expected an array, got %s", type_name(o));
    s->nmerges = cJSON_GetArraySize(o);
    if (s->nmerges > ML_MAX_MERGES) return FAIL(c, "$.merges", "at most %d merges, got %d", ML_MAX_MERGES, s->nmerges);
    for (int i = 0; i < s->nmerges; i++) {
        ml_merge_spec *m = &s->merges[i];
        const cJSON *e = cJSON_GetArrayItem(o, i);
        join_index(p, sizeof(p), "$.merges", i);
        if ((error = want_object(c, e, p)) < 0 || (error = parse_merge(c, e, p, m, s)) < 0) return error;
        /* a merge's name becomes part of metric keys, cell names and report file names */
        if (!ml_suite_name_ok(m->name))
            return FAIL(c, p, "merge name \"%s\": use 1-63 letters, digits, '-' or '_' (it names files and metrics)",
                        m->name);
        for (int j = 0; j < s->nspecialists; j++)
            if (!strcmp(m->name, s->specialists[j].name))
                return FAIL(c, p, "merge name \"%s\" clashes with a specialist", m->name);
        if (!strcmp(m->name, "base") || !strcmp(m->name, "direct"))
            return FAIL(c, p, "merge name \"%s\" is reserved", m->name);
        for (int j = 0; j < i; j++)
            if (!strcmp(m->name, s->merges[j].name)) return FAIL(c, p, "duplicate merge name \"%s\"", m->name);
    }
    return 0;
}

/* $: when and how CKA is measured */
static int parse_cka(const pctx *c, const cJSON *root, ml_suite *s) {
    const cJSON *o;
    char q[256];
    int error;
    /* cka: "every": K (0, K, 2K, ... and the last step), or "steps": [...] */
    static const char *const CKA_KEYS[] = { "every", "steps", "probe_size", "rbf_bandwidth", "probe_sweep", NULL };
    const cJSON *every, *steps;
    /* biased CKA is inflated when the probe has few examples for the width
     * (n < d), so the default probe is 4 d windows (GPT) or 1000 examples */
    s->probe_size = s->family == ML_FAMILY_GPT ? 4 * s->gpt.n_embd : 1000;
    s->rbf_bandwidth = 1.0;
    if ((error = get(c, root, "$", "cka", 1, &o)) < 0 || (error = want_object(c, o, "$.cka")) < 0 ||
        (error = check_keys(c, o, "$.cka", CKA_KEYS)) < 0 ||
        (error = opt_int(c, o, "$.cka", "probe_size", 8, 10000, &s->probe_size)) < 0 ||
        (error = opt_num(c, o, "$.cka", "rbf_bandwidth", 1e-3, 1e3, &s->rbf_bandwidth)) < 0)
        return error;
    /* probe_sweep: how CKA depends on the probe's size, at the last step */
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(o, "probe_sweep");
    s->nsweep = 0;
    if (sw) {
        if (!cJSON_IsArray(sw) || cJSON_GetArraySize(sw) < 1 || cJSON_GetArraySize(sw) > ML_MAX_PROBE_SWEEP)
            return FAIL(c, "$.cka.probe_sweep", "expected an array of 1..%d probe sizes", ML_MAX_PROBE_SWEEP);
        s->nsweep = cJSON_GetArraySize(sw);
        for (int i = 0; i < s->nsweep; i++) {
            join_index(q, sizeof(q), "$.cka.probe_sweep", i);
            if ((error = read_int(c, cJSON_GetArrayItem(sw, i), q, 4, s->probe_size, &s->sweep[i])) < 0) return error;
            if (i > 0 && s->sweep[i] <= s->sweep[i - 1])
                return FAIL(c, q, "sizes must increase (%d after %d)", s->sweep[i], s->sweep[i - 1]);
        }
    }
    every = cJSON_GetObjectItemCaseSensitive(o, "every");
    steps = cJSON_GetObjectItemCaseSensitive(o, "steps");
    if (!every == !steps) return FAIL(c, "$.cka", "give exactly one of \"every\" (a step interval) or \"steps\" (a list)");
    if (every) {
        int K;
        if ((error = read_int(c, every, "$.cka.every", 1, 1000000, &K)) < 0) return error;
        s->ncka = 0;
        for (int st = 0; st <= s->finetune.steps && s->ncka < ML_MAX_CKA_STEPS; st += K) s->cka_steps[s->ncka++] = st;
        if (s->cka_steps[s->ncka - 1] != s->finetune.steps) {
            if (s->ncka == ML_MAX_CKA_STEPS)
                return FAIL(c, "$.cka.every", "%d gives more than %d CKA points over %d steps", K, ML_MAX_CKA_STEPS,
                            s->finetune.steps);
            s->cka_steps[s->ncka++] = s->finetune.steps;   /* the heatmap is at the end of fine-tuning */
        }
    } else {
        if (!cJSON_IsArray(steps) || cJSON_GetArraySize(steps) < 1 || cJSON_GetArraySize(steps) > ML_MAX_CKA_STEPS)
            return FAIL(c, "$.cka.steps", "expected an array of 1..%d fine-tuning steps", ML_MAX_CKA_STEPS);
        s->ncka = cJSON_GetArraySize(steps);
        for (int i = 0; i < s->ncka; i++) {
            join_index(q, sizeof(q), "$.cka.steps", i);
            if ((error = read_int(c, cJSON_GetArrayItem(steps, i), q, 0, s->finetune.steps, &s->cka_steps[i])) < 0)
                return error;
            if (i > 0 && s->cka_steps[i] <= s->cka_steps[i - 1])
                return FAIL(c, q, "steps must increase (%d after %d)", s->cka_steps[i], s->cka_steps[i - 1]);
        }
    }

    /* every evaluation point is a CKA point too, so merge quality can be set against CKA
     * there (a suite without finetune.points keeps its CKA steps as written) */
    for (int i = 0; s->npoints > 1 && i < s->npoints; i++) {
        int at = 0;
        while (at < s->ncka && s->cka_steps[at] < s->points[i]) at++;
        if (at < s->ncka && s->cka_steps[at] == s->points[i]) continue;
        if (s->ncka == ML_MAX_CKA_STEPS)
            return FAIL(c, "$.finetune.points", "with the CKA steps, more than %d points to measure CKA at", ML_MAX_CKA_STEPS);
        memmove(&s->cka_steps[at + 1], &s->cka_steps[at], (size_t)(s->ncka - at) * sizeof(int));
        s->cka_steps[at] = s->points[i];
        s->ncka++;
    }
    return 0;
}

/* $: the GPT's evaluation windows and exact match */
static int parse_eval(const pctx *c, const cJSON *root, ml_suite *s) {
    const cJSON *o;
    int error;
    /* eval (GPT): held-out loss windows and greedy exact match */
    static const char *const EVAL_KEYS[] = { "windows", "exact_match", "merge_domain_losses", NULL };
    s->eval_windows = 64;
    s->exact_match = 64;
    s->merge_domain_losses = 1;
    if ((error = get(c, root, "$", "eval", 0, &o)) < 0) return error;
    if (o) {
        if (s->family != ML_FAMILY_GPT) return FAIL(c, "$.eval", "only for text suites (model gpt)");
        if ((error = want_object(c, o, "$.eval")) < 0 || (error = check_keys(c, o, "$.eval", EVAL_KEYS)) < 0 ||
            (error = opt_int(c, o, "$.eval", "windows", 1, 100000, &s->eval_windows)) < 0 ||
            (error = opt_int(c, o, "$.eval", "exact_match", 0, 100000, &s->exact_match)) < 0 ||
            (error = read_bool(c, o, "$.eval", "merge_domain_losses", &s->merge_domain_losses)) < 0)
            return error;
    }
    return 0;
}

/* $: the regression gate's rules */
static int parse_gate(const pctx *c, const cJSON *root, ml_suite *s) {
    const cJSON *v, *o;
    char p[256], q[256];
    int error, k;
    static const char *const GATE_KEYS[] = { "match", "direction", "atol", "rtol", "across_platforms", "allow_missing", NULL };
    static const char *const TOL_KEYS[] = { "atol", "rtol", NULL };
    if ((error = get(c, root, "$", "gate", 1, &o)) < 0) return error;
    if (!cJSON_IsArray(o)) return FAIL(c, "$.gate", "expected an array of rules, got %s", type_name(o));
    s->ngate = cJSON_GetArraySize(o);
    if (s->ngate > ML_MAX_GATE) return FAIL(c, "$.gate", "at most %d rules, got %d", ML_MAX_GATE, s->ngate);
    for (int i = 0; i < s->ngate; i++) {
        ml_gate_rule *g = &s->gate[i];
        const cJSON *e = cJSON_GetArrayItem(o, i);
        join_index(p, sizeof(p), "$.gate", i);
        if ((error = want_object(c, e, p)) < 0 || (error = check_keys(c, e, p, GATE_KEYS)) < 0 ||
            (error = get(c, e, p, "match", 1, &v)) < 0)
            return error;
        join(q, sizeof(q), p, "match");
        if ((error = read_str(c, v, q, g->match, sizeof(g->match))) < 0 || (error = get(c, e, p, "direction", 1, &v)) < 0)
            return error;
        join(q, sizeof(q), p, "direction");
        if ((error = read_enum(c, v, q, "direction", DIRECTIONS, &k)) < 0) return error;
        g->direction = (ml_direction)k;
        g->atol = g->rtol = 0.0;
        if ((error = opt_num(c, e, p, "atol", 0.0, 1e12, &g->atol)) < 0 ||
            (error = opt_num(c, e, p, "rtol", 0.0, 1e6, &g->rtol)) < 0 ||
            (error = read_bool(c, e, p, "allow_missing", &g->allow_missing)) < 0 ||
            (error = get(c, e, p, "across_platforms", 0, &v)) < 0)
            return error;
        g->has_across = v != NULL;
        if (v) {
            join(q, sizeof(q), p, "across_platforms");
            g->across_atol = g->atol;
            g->across_rtol = g->rtol;
            if ((error = want_object(c, v, q)) < 0 || (error = check_keys(c, v, q, TOL_KEYS)) < 0 ||
                (error = opt_num(c, v, q, "atol", 0.0, 1e12, &g->across_atol)) < 0 ||
                (error = opt_num(c, v, q, "rtol", 0.0, 1e6, &g->across_rtol)) < 0)
                return error;
        }
    }
    return 0;
}

/* $: how the report draws the figures */
static int parse_report(const pctx *c, const cJSON *root, ml_suite *s) {
    const cJSON *v, *o;
    char q[256];
    int error, k;
    /* report: how its figures are drawn; nothing a result depends on */
    static const char *const REPORT_KEYS[] = { "width_in", "font_pt", "formats", NULL };
    static const char *const FORMATS[] = { "png", "svg", "pdf", NULL };
    s->report_width_in = s->report_font_pt = 0.0;
    s->report_formats = 0;
    if ((error = get(c, root, "$", "report", 0, &o)) < 0) return error;
    if (o) {
        if ((error = want_object(c, o, "$.report")) < 0 || (error = check_keys(c, o, "$.report", REPORT_KEYS)) < 0 ||
            (error = opt_num(c, o, "$.report", "width_in", 1.0, 20.0, &s->report_width_in)) < 0 ||
            (error = opt_num(c, o, "$.report", "font_pt", 5.0, 24.0, &s->report_font_pt)) < 0 ||
            (error = get(c, o, "$.report", "formats", 0, &v)) < 0)
            return error;
        if (v) {
            if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 || cJSON_GetArraySize(v) > 3)
                return FAIL(c, "$.report.formats", "expected an array of 1..3 of \"png\", \"svg\", \"pdf\"");
            for (int i = 0; i < cJSON_GetArraySize(v); i++) {
                join_index(q, sizeof(q), "$.report.formats", i);
                if ((error = read_enum(c, cJSON_GetArrayItem(v, i), q, "format", FORMATS, &k)) < 0) return error;
                if (s->report_formats & (1u << k)) return FAIL(c, q, "\"%s\" is listed twice", FORMATS[k]);
                s->report_formats |= 1u << k;
            }
        }
    }
    return 0;
}

/* $: the paper's findings to check */
static int parse_findings(const pctx *c, const cJSON *root, ml_suite *s) {
    const cJSON *v, *o;
    char q[256];
    int error, k;
    /* findings: which of the paper's findings to evaluate on the results, on which metric */
    static const char *const FINDINGS_KEYS[] = { "metric", "check", NULL };
    static const char *const FINDING_IDS[] = { "F1", "F2", "F3", "F4", NULL };
    memset(&s->findings, 0, sizeof(s->findings));
    if ((error = get(c, root, "$", "findings", 0, &o)) < 0) return error;
    if (o) {
        if ((error = want_object(c, o, "$.findings")) < 0 || (error = check_keys(c, o, "$.findings", FINDINGS_KEYS)) < 0 ||
            (error = get(c, o, "$.findings", "check", 1, &v)) < 0)
            return error;
        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 || cJSON_GetArraySize(v) > 4)
            return FAIL(c, "$.findings.check", "expected an array of 1..4 of \"F1\", \"F2\", \"F3\", \"F4\"");
        for (int i = 0; i < cJSON_GetArraySize(v); i++) {
            join_index(q, sizeof(q), "$.findings.check", i);
            if ((error = read_enum(c, cJSON_GetArrayItem(v, i), q, "finding", FINDING_IDS, &k)) < 0) return error;
            for (int j = 0; j < s->findings.n; j++)
                if (!strcmp(s->findings.ids[j], FINDING_IDS[k])) return FAIL(c, q, "\"%s\" is listed twice", FINDING_IDS[k]);
            snprintf(s->findings.ids[s->findings.n++], sizeof(s->findings.ids[0]), "%s", FINDING_IDS[k]);
        }
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "metric");
        if (m && (!cJSON_IsString(m) || !*m->valuestring || strlen(m->valuestring) >= sizeof(s->findings.metric) ||
                  strchr(m->valuestring, '/')))
            return FAIL(c, "$.findings.metric", "expected a metric name without its model, e.g. \"loss\" or \"test_acc\"");
        if (m) snprintf(s->findings.metric, sizeof(s->findings.metric), "%s", m->valuestring);
    }
    return 0;
}

/* The whole suite, section by section in the order the format lists them. */
static int parse_root(const pctx *c, const cJSON *root, ml_suite *s) {
    double lr = 1e-3;
    int error;
    if ((error = parse_identity(c, root, s)) < 0 || (error = parse_data(c, root, s)) < 0 ||
        (error = parse_model(c, root, s)) < 0 || (error = parse_optimizer(c, root, s, &lr)) < 0)
        return error;
    /* the phases default to the optimizer's rate */
    if ((error = parse_phase(c, root, "pretrain", &s->pretrain, lr, &s->pretrain_split, s)) < 0 ||
        (error = parse_phase(c, root, "finetune", &s->finetune, lr, NULL, s)) < 0)
        return error;

    if ((error = parse_specialists(c, root, s)) < 0 || (error = parse_target(c, root, s)) < 0 ||
        (error = parse_merges(c, root, s)) < 0 || (error = parse_cka(c, root, s)) < 0 ||
        (error = parse_eval(c, root, s)) < 0 || (error = parse_gate(c, root, s)) < 0 ||
        (error = parse_report(c, root, s)) < 0 || (error = parse_findings(c, root, s)) < 0)
        return error;
    return parse_matrix(c, root, s);
}

/* 1-based line and column of byte offset off in src. */
static void line_col(const char *src, size_t len, size_t off, int *line, int *col) {
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (src[i] == '\n') { (*line)++; *col = 1; }
        else (*col)++;
    }
}

int ml_suite_name_ok(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > 63) return 0;
    for (const char *ch = name; *ch; ch++)
        if (!((*ch >= 'a' && *ch <= 'z') || (*ch >= 'A' && *ch <= 'Z') || (*ch >= '0' && *ch <= '9') ||
              *ch == '-' || *ch == '_'))
            return 0;
    return 1;
}

int ml_json_parse_strict(cJSON **out, const char *file, const char *src, size_t len) {
    const char *end = NULL;
    cJSON *root;
    *out = NULL;
    long failed = ml_alloc_failures();
    root = cJSON_ParseWithLengthOpts(src, len, &end, 0);
    if (!root && ml_alloc_failures() > failed)   /* cJSON ran out of memory: the suite may be fine */
        return ml_error_set(ML_ENOMEM, "%s: out of memory parsing it", file);
    if (!root) {
        int line, col;
        size_t off = end ? (size_t)(end - src) : 0;
        line_col(src, len, off, &line, &col);
        /* a file that does not even start as a JSON object is not echoed:
         * its first bytes may be anything (a password file, binary data) */
        size_t first = 0;
        while (first < len && (src[first] == ' ' || src[first] == '\t' || src[first] == '\n' || src[first] == '\r')) first++;
        if (first >= len || src[first] != '{')
            return ml_error_set(ML_EINVALID, "%s: not JSON (a suite is a JSON object, starting with '{')", file);
        char near[24] = { 0 };
        for (size_t i = 0; i < sizeof(near) - 1 && off + i < len && src[off + i] != '\n'; i++)
            near[i] = src[off + i] >= 0x20 && src[off + i] < 0x7f ? src[off + i] : '?';   /* printable only */
        return ml_error_set(ML_EINVALID, "%s:%d:%d: invalid JSON near \"%s\"", file, line, col, near);
    }
    /* trailing garbage after the document is an error, not ignored */
    for (const char *p = end; p && p < src + len; p++)
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
            int line, col;
            line_col(src, len, (size_t)(p - src), &line, &col);
            cJSON_Delete(root);
            return ml_error_set(ML_EINVALID, "%s:%d:%d: unexpected text after the JSON document", file, line, col);
        }
    int error = ml_json_check_unique_keys(root, file, ML_EINVALID);
    if (error < 0) { cJSON_Delete(root); return error; }
    *out = root;
    return 0;
}

int ml_suite_parse_json(ml_suite **out, const char *file, const char *sha256, const cJSON *root) {
    ml_suite *s = NULL;
    pctx c = { file };
    int error;
    *out = NULL;
    if ((error = ml_calloc((void **)&s, 1, sizeof(*s))) < 0) return error;
    snprintf(s->file, sizeof(s->file), "%s", file);
    snprintf(s->sha256, sizeof(s->sha256), "%s", sha256 ? sha256 : "");
    if ((error = parse_root(&c, root, s)) < 0) {
        ml_suite_free(s);
        return error;
    }
    *out = s;
    return 0;
}

int ml_suite_parse(ml_suite **out, const char *file, const char *src, size_t len) {
    cJSON *root = NULL;
    char sha[65];
    int error;
    *out = NULL;
    if ((error = ml_json_parse_strict(&root, file, src, len)) < 0) return error;
    ml_sha256_hex(sha, src, len);
    error = ml_suite_parse_json(out, file, sha, root);
    cJSON_Delete(root);
    return error;
}

int ml_suite_load(ml_suite **out, const char *path) {
    char *src = NULL;
    size_t len;
    int error;
    *out = NULL;
    if ((error = ml_fs_read_all(&src, &len, path)) < 0) return error;
    error = ml_suite_parse(out, path, src, len);
    free(src);
    return error;
}

void ml_suite_free(ml_suite *s) { free(s); }

const char *ml_direction_name(ml_direction d) {
    return d == ML_DIR_HIGHER ? "higher" : d == ML_DIR_LOWER ? "lower" : "both";
}

const char *ml_merge_method_name(ml_merge_method m) { return METHODS[m]; }

int ml_merge_available(ml_family family, ml_merge_method m) {
    /* what each family's runner implements today; the parser refuses the rest */
    static const unsigned char avail[2][ML_MERGE_COUNT] = {
        /*            avg slerp ta ties dare fisher regmean interp ens router */
        /* mlp */   { 1,  1,    1, 1,   1,   1,     1,      1,     1,  1 },
        /* gpt */   { 1,  1,    1, 1,   1,   1,     1,      1,     1,  1 },
    };
    return avail[family][m];
}
